//! driftlog's AWS sources, through the official AWS SDK for Rust: objects in S3 (Terraform
//! states and plans today; CloudTrail logs and digests next). The SDK is heavy, so it lives here
//! alone and the rest of the workspace builds without it.
//!
//! Credentials and endpoints follow the standard AWS chain (environment, profiles, SSO, web
//! identity), with `--profile`, `--region` and `--endpoint-url` (moto, LocalStack, MinIO) on
//! top. An endpoint URL turns on path-style addressing, which AWS-compatible stores need.

use aws_sdk_s3::config::Region;
use std::sync::OnceLock;

pub mod live;

/// How to reach AWS (the global options).
#[derive(Debug, Clone, Default)]
pub struct AwsOptions {
    pub profile: Option<String>,
    pub region: Option<String>,
    /// An AWS-compatible endpoint (`http://127.0.0.1:5000`), with no path.
    pub endpoint_url: Option<String>,
    /// Roles to assume, one per account, for live reads (`--role-arn`).
    pub role_arns: Vec<String>,
    /// A role to assume for S3 objects (a backend block's `role_arn`, for the state bucket).
    pub s3_role_arn: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("{0}: not an s3://BUCKET/KEY location")]
    NotS3(String),
    #[error("s3://{bucket}/{key}: {message}")]
    Get {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("writing s3://{bucket}/{key}: {message}")]
    Put {
        bucket: String,
        key: String,
        message: String,
    },
    #[error("starting the AWS client: {0}")]
    Runtime(String),
    #[error("reading AWS: {0}")]
    Live(String),
}

/// `s3://bucket/key` split, when it is one.
pub fn parse_s3(location: &str) -> Option<(&str, &str)> {
    let rest = location.strip_prefix("s3://")?;
    let (bucket, key) = rest.split_once('/')?;
    (!bucket.is_empty() && !key.is_empty()).then_some((bucket, key))
}

/// Whether `location` names an object in S3.
pub fn is_s3(location: &str) -> bool {
    location.starts_with("s3://")
}

/// One runtime for the SDK's calls, made on first use: the rest of driftlog is synchronous.
pub(crate) fn runtime() -> Result<&'static tokio::runtime::Runtime, AwsError> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| AwsError::Runtime(e.to_string()))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// The shared SDK configuration the options describe. `retries: false` turns the SDK's own
/// retries off, for callers that retry (and count) themselves.
pub(crate) async fn load_shared(options: &AwsOptions, retries: bool) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(p) = &options.profile {
        loader = loader.profile_name(p);
    }
    if let Some(r) = &options.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(e) = &options.endpoint_url {
        loader = loader.endpoint_url(e.trim_end_matches('/'));
    }
    if !retries {
        loader = loader.retry_config(aws_config::retry::RetryConfig::disabled());
    }
    let shared = loader.load().await;
    if shared.region().is_none() {
        let mut b = shared.to_builder();
        b.set_region(Some(Region::new("us-east-1")));
        return b.build();
    }
    shared
}

async fn s3_client(options: &AwsOptions) -> aws_sdk_s3::Client {
    let mut shared = load_shared(options, true).await;
    if let Some(role) = &options.s3_role_arn {
        let provider = aws_config::sts::AssumeRoleProvider::builder(role)
            .session_name("driftlog")
            .configure(&shared)
            .build()
            .await;
        let mut b = shared.to_builder();
        b.set_credentials_provider(Some(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        ));
        shared = b.build();
    }
    let mut config = aws_sdk_s3::config::Builder::from(&shared);
    if options.endpoint_url.is_some() {
        config = config.force_path_style(true);
    }
    aws_sdk_s3::Client::from_conf(config.build())
}

/// The bytes of `s3://bucket/key`.
pub fn get_object(location: &str, options: &AwsOptions) -> Result<Vec<u8>, AwsError> {
    let (bucket, key) = parse_s3(location).ok_or_else(|| AwsError::NotS3(location.to_owned()))?;
    match S3::connect(options)?.get(bucket, key)? {
        Some((bytes, _)) => Ok(bytes),
        None => Err(AwsError::Get {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            message: "NoSuchKey: there is no such object".into(),
        }),
    }
}

/// An S3 client for many calls (listing a trail, fetching its objects), safe to share between
/// threads.
#[derive(Clone)]
pub struct S3 {
    client: aws_sdk_s3::Client,
}

/// An object's bytes and its user metadata (`x-amz-meta-*`, without the prefix).
pub type ObjectWithMetadata = (Vec<u8>, std::collections::HashMap<String, String>);

impl S3 {
    pub fn connect(options: &AwsOptions) -> Result<Self, AwsError> {
        let client = runtime()?.block_on(s3_client(options));
        Ok(Self { client })
    }

    /// One object with its metadata; `Ok(None)` when it does not exist.
    pub fn get(&self, bucket: &str, key: &str) -> Result<Option<ObjectWithMetadata>, AwsError> {
        runtime()?
            .block_on(self.fetch(bucket, key))
            .map_err(|message| AwsError::Get {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                message,
            })
    }

    async fn fetch(&self, bucket: &str, key: &str) -> Result<Option<ObjectWithMetadata>, String> {
        let out = match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            Err(e) => return Err(aws_sdk_s3::error::DisplayErrorContext(e).to_string()),
        };
        let metadata = out.metadata().cloned().unwrap_or_default();
        let bytes = out.body.collect().await.map_err(|e| e.to_string())?;
        Ok(Some((bytes.into_bytes().to_vec(), metadata)))
    }
}

impl S3 {
    /// Write one object (replacing any at `key`).
    pub fn put(&self, bucket: &str, key: &str, bytes: Vec<u8>) -> Result<(), AwsError> {
        runtime()?
            .block_on(async {
                self.client
                    .put_object()
                    .bucket(bucket)
                    .key(key)
                    .body(aws_sdk_s3::primitives::ByteStream::from(bytes))
                    .send()
                    .await
            })
            .map(|_| ())
            .map_err(|e| AwsError::Put {
                bucket: bucket.to_owned(),
                key: key.to_owned(),
                message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
            })
    }
}

/// One listed object.
#[derive(Debug, Clone)]
pub struct Listed {
    pub key: String,
    pub size: u64,
    pub etag: String,
}

impl S3 {
    /// The "folders" directly under `prefix` (keys up to the next `/`).
    pub fn folders(&self, bucket: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
        let fail = |message: String| AwsError::Get {
            bucket: bucket.to_owned(),
            key: prefix.to_owned(),
            message,
        };
        runtime()?.block_on(async {
            let mut out = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .delimiter("/")
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
                out.extend(
                    page.common_prefixes()
                        .iter()
                        .filter_map(|p| p.prefix().map(str::to_owned)),
                );
            }
            Ok(out)
        })
    }

    /// Every object under `prefix`, with its size and ETag.
    pub fn objects(&self, bucket: &str, prefix: &str) -> Result<Vec<Listed>, AwsError> {
        let fail = |message: String| AwsError::Get {
            bucket: bucket.to_owned(),
            key: prefix.to_owned(),
            message,
        };
        runtime()?.block_on(async {
            let mut out = Vec::new();
            let mut pages = self
                .client
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(e).to_string()))?;
                out.extend(page.contents().iter().filter_map(|o| {
                    Some(Listed {
                        key: o.key()?.to_owned(),
                        size: o.size().unwrap_or(0).max(0) as u64,
                        etag: o.e_tag().unwrap_or("").trim_matches('"').to_owned(),
                    })
                }));
            }
            Ok(out)
        })
    }
}

type Fetched = Result<Vec<u8>, String>;

/// Fetched objects by location, each with the permit that lets the next one be fetched once it
/// is taken; and the signal that one arrived.
type Ready = (
    std::sync::Mutex<
        std::collections::HashMap<String, (Fetched, tokio::sync::OwnedSemaphorePermit)>,
    >,
    std::sync::Condvar,
);

/// Objects fetched ahead of their reader, in the order they will be read, at most `ahead` at a
/// time held in memory: the network waits overlap with the parsing instead of stalling it.
pub struct Prefetch {
    ready: std::sync::Arc<Ready>,
}

impl S3 {
    /// Start fetching `locations` (`s3://bucket/key`) in order, `ahead` in flight or waiting.
    pub fn prefetch(&self, locations: Vec<String>, ahead: usize) -> Result<Prefetch, AwsError> {
        let ready = std::sync::Arc::new((
            std::sync::Mutex::new(std::collections::HashMap::new()),
            std::sync::Condvar::new(),
        ));
        let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(ahead.max(1)));
        let client = self.clone();
        let shared = ready.clone();
        runtime()?.spawn(async move {
            for location in locations {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    return;
                };
                let client = client.clone();
                let shared = shared.clone();
                tokio::spawn(async move {
                    let result = match parse_s3(&location) {
                        None => Err(format!("{location}: not an S3 location")),
                        Some((bucket, key)) => client.get_async(bucket, key).await,
                    };
                    let (map, signal) = &*shared;
                    if let Ok(mut m) = map.lock() {
                        m.insert(location, (result, permit));
                    }
                    signal.notify_all();
                });
            }
        });
        Ok(Prefetch { ready })
    }

    async fn get_async(&self, bucket: &str, key: &str) -> Fetched {
        self.fetch(bucket, key)
            .await?
            .map(|(bytes, _)| bytes)
            .ok_or_else(|| "gone since it was listed".to_owned())
    }
}

impl Prefetch {
    /// The bytes of `location` (waiting for them if needed); each location is taken once.
    pub fn take(&self, location: &str) -> Fetched {
        let (map, signal) = &*self.ready;
        let mut m = map
            .lock()
            .map_err(|_| "prefetch lock poisoned".to_owned())?;
        loop {
            if let Some((result, _permit)) = m.remove(location) {
                // Dropping the permit lets the next object be fetched.
                return result;
            }
            m = signal
                .wait(m)
                .map_err(|_| "prefetch lock poisoned".to_owned())?;
        }
    }
}

/// One CloudTrail public key: its fingerprint and DER PKCS#1 bytes.
pub type PublicKey = (String, Vec<u8>);

/// CloudTrail's `ListPublicKeys` in `region` for the keys valid between `start` and `end`
/// (seconds since the epoch): what `aws cloudtrail validate-logs` asks for.
pub fn list_public_keys(
    options: &AwsOptions,
    region: &str,
    start: i64,
    end: i64,
) -> Result<Vec<PublicKey>, AwsError> {
    runtime()?.block_on(async {
        let mut shared = load_shared(options, true).await.to_builder();
        shared.set_region(Some(Region::new(region.to_owned())));
        let client = aws_sdk_cloudtrail::Client::new(&shared.build());
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = client
                .list_public_keys()
                .start_time(aws_smithy_types::DateTime::from_secs(start))
                .end_time(aws_smithy_types::DateTime::from_secs(end))
                .set_next_token(token.clone())
                .send()
                .await
                .map_err(|e| {
                    AwsError::Live(format!(
                        "CloudTrail ListPublicKeys in {region}: {}",
                        aws_sdk_cloudtrail::error::DisplayErrorContext(e)
                    ))
                })?;
            for k in page.public_key_list() {
                if let (Some(f), Some(v)) = (k.fingerprint(), k.value()) {
                    out.push((f.to_owned(), v.as_ref().to_vec()));
                }
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(out);
            }
        }
    })
}
