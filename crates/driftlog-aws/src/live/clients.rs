//! SDK configurations per credentials scope and region, made once and shared by every request.
//!
//! A scope is the caller's own credentials or a role assumed in another account (`--role-arn`).
//! The SDK's retries are off: [`super::pace::Pacer`] retries, so it sees and counts every
//! attempt and can slow one service down without slowing the others.

use crate::AwsOptions;
use aws_config::SdkConfig;
use aws_sdk_s3::config::Region;
use std::collections::HashMap;
use tokio::sync::Mutex;

/// Where requests go and with which credentials.
pub struct Configs {
    options: AwsOptions,
    base: SdkConfig,
    made: Mutex<HashMap<(Option<String>, String), SdkConfig>>,
}

impl Configs {
    pub async fn load(options: &AwsOptions) -> Self {
        let base = crate::load_shared(options, false).await;
        Self {
            options: options.clone(),
            base,
            made: Mutex::new(HashMap::new()),
        }
    }

    /// The region requests go to when nothing names one.
    pub fn default_region(&self) -> String {
        self.base
            .region()
            .map_or_else(|| "us-east-1".to_owned(), |r| r.as_ref().to_owned())
    }

    /// The configuration for `role` (none: the caller's own credentials) in `region`.
    pub async fn get(&self, role: Option<&str>, region: &str) -> SdkConfig {
        let key = (role.map(str::to_owned), region.to_owned());
        let mut made = self.made.lock().await;
        if let Some(c) = made.get(&key) {
            return c.clone();
        }
        let mut builder = self.base.to_builder();
        builder.set_region(Some(Region::new(region.to_owned())));
        if let Some(role) = role {
            let provider = aws_config::sts::AssumeRoleProvider::builder(role)
                .session_name("driftlog")
                .configure(&self.base)
                .region(Region::new(region.to_owned()))
                .build()
                .await;
            builder.set_credentials_provider(Some(
                aws_credential_types::provider::SharedCredentialsProvider::new(provider),
            ));
        }
        let config = builder.build();
        made.insert(key, config.clone());
        config
    }

    pub fn s3(&self, config: &SdkConfig) -> aws_sdk_s3::Client {
        let mut b = aws_sdk_s3::config::Builder::from(config);
        if self.options.endpoint_url.is_some() {
            b = b.force_path_style(true);
        }
        aws_sdk_s3::Client::from_conf(b.build())
    }
}
