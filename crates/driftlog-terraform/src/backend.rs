//! Where a configuration keeps its state, read from its `backend "s3"` block without running
//! Terraform: `scan --terraform DIR --live aws` fetches that state straight from S3.
//!
//! Only literal values are used, as Terraform itself requires of backend blocks; the workspace
//! is `TF_WORKSPACE`, else the one `terraform workspace select` wrote to
//! `.terraform/environment`, else `default`.

use hcl_edit::expr::Expression;
use hcl_edit::structure::Body;
use std::path::Path;

/// An S3 backend's settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct S3Backend {
    pub bucket: String,
    pub key: String,
    pub region: Option<String>,
    /// Default `env:`.
    pub workspace_key_prefix: Option<String>,
    pub profile: Option<String>,
    pub role_arn: Option<String>,
    /// `endpoints { s3 = … }` (or the older `endpoint`).
    pub endpoint: Option<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BackendError {
    #[error("{0}: no `backend \"s3\"` block in any .tf file (only an S3 backend can be read without running Terraform)")]
    NotFound(String),
    #[error("{file}: the s3 backend has no literal `{field}`")]
    Missing { file: String, field: &'static str },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
    #[error("{dir}: {message}")]
    Io { dir: String, message: String },
}

fn literal(body: &Body, name: &str) -> Option<String> {
    match body.get_attribute(name).map(|a| &a.value) {
        Some(Expression::String(s)) => Some(s.value().to_string()),
        _ => None,
    }
}

/// The S3 backend of the configuration in `dir`.
pub fn s3_backend(dir: &Path) -> Result<S3Backend, BackendError> {
    let io = |e: std::io::Error| BackendError::Io {
        dir: dir.display().to_string(),
        message: e.to_string(),
    };
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(io)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "tf"))
        .collect();
    files.sort();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(io)?;
        if let Some(backend) = parse_s3_backend(&file.display().to_string(), &text)? {
            return Ok(backend);
        }
    }
    Err(BackendError::NotFound(dir.display().to_string()))
}

/// The S3 backend one `.tf` file declares, if it declares one.
pub fn parse_s3_backend(name: &str, text: &str) -> Result<Option<S3Backend>, BackendError> {
    let body = hcl_edit::parser::parse_body(text).map_err(|e| BackendError::Syntax {
        file: name.to_owned(),
        message: e.to_string(),
    })?;
    for terraform in body.get_blocks("terraform") {
        for backend in terraform.body.get_blocks("backend") {
            if backend.labels.first().map(|l| l.as_str()) != Some("s3") {
                continue;
            }
            let b = &backend.body;
            let required = |field: &'static str| {
                literal(b, field).ok_or(BackendError::Missing {
                    file: name.to_owned(),
                    field,
                })
            };
            return Ok(Some(S3Backend {
                bucket: required("bucket")?,
                key: required("key")?,
                region: literal(b, "region"),
                workspace_key_prefix: literal(b, "workspace_key_prefix"),
                profile: literal(b, "profile"),
                role_arn: literal(b, "role_arn").or_else(|| nested(b, "assume_role", "role_arn")),
                endpoint: nested(b, "endpoints", "s3").or_else(|| literal(b, "endpoint")),
            }));
        }
    }
    Ok(None)
}

/// `NAME { FIELD = "…" }` or `NAME = { FIELD = "…" }`: backend settings Terraform accepts
/// either way (`endpoints`, `assume_role`).
fn nested(b: &Body, name: &str, field: &str) -> Option<String> {
    b.get_blocks(name)
        .next()
        .and_then(|e| literal(&e.body, field))
        .or_else(|| {
            b.get_attribute(name).and_then(|a| match &a.value {
                Expression::Object(o) => o.iter().find_map(|(k, v)| {
                    let key = match k {
                        hcl_edit::expr::ObjectKey::Ident(i) => i.as_str().to_owned(),
                        hcl_edit::expr::ObjectKey::Expression(Expression::String(s)) => {
                            s.value().to_string()
                        }
                        _ => return None,
                    };
                    match v.expr() {
                        Expression::String(s) if key == field => Some(s.value().to_string()),
                        _ => None,
                    }
                }),
                _ => None,
            })
        })
}

/// The workspace Terraform would use in `dir`.
pub fn workspace(dir: &Path) -> String {
    if let Ok(w) = std::env::var("TF_WORKSPACE") {
        if !w.is_empty() {
            return w;
        }
    }
    std::fs::read_to_string(dir.join(".terraform/environment"))
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".to_owned())
}

impl S3Backend {
    /// The state's location for `workspace`: `s3://bucket/key`, or under
    /// `<workspace_key_prefix>/<workspace>/` for any other workspace than `default`.
    pub fn state_location(&self, workspace: &str) -> String {
        if workspace == "default" {
            format!("s3://{}/{}", self.bucket, self.key)
        } else {
            let prefix = self.workspace_key_prefix.as_deref().unwrap_or("env:");
            format!("s3://{}/{}/{}/{}", self.bucket, prefix, workspace, self.key)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backend_block_and_workspace_keys() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("main.tf"),
            "resource \"aws_sqs_queue\" \"q\" {}\n",
        )
        .unwrap();
        assert!(matches!(
            s3_backend(dir.path()),
            Err(BackendError::NotFound(_))
        ));
        std::fs::write(
            dir.path().join("backend.tf"),
            r#"terraform {
  required_version = ">= 1.5"
  backend "s3" {
    bucket               = "tf-state"
    key                  = "app/terraform.tfstate"
    region               = "eu-west-1"
    workspace_key_prefix = "workspaces"
    assume_role {
      role_arn = "arn:aws:iam::111111111111:role/state"
    }
    endpoints = {
      s3 = "http://127.0.0.1:5000"
    }
  }
}
"#,
        )
        .unwrap();
        let b = s3_backend(dir.path()).unwrap();
        assert_eq!(b.bucket, "tf-state");
        assert_eq!(b.region.as_deref(), Some("eu-west-1"));
        assert_eq!(
            b.role_arn.as_deref(),
            Some("arn:aws:iam::111111111111:role/state")
        );
        assert_eq!(b.endpoint.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(
            b.state_location("default"),
            "s3://tf-state/app/terraform.tfstate"
        );
        assert_eq!(
            b.state_location("prod"),
            "s3://tf-state/workspaces/prod/app/terraform.tfstate"
        );
        let plain = S3Backend {
            bucket: "b".into(),
            key: "k".into(),
            ..S3Backend::default()
        };
        assert_eq!(plain.state_location("dev"), "s3://b/env:/dev/k");
        std::fs::create_dir(dir.path().join(".terraform")).unwrap();
        std::fs::write(dir.path().join(".terraform/environment"), "staging\n").unwrap();
        if std::env::var("TF_WORKSPACE").is_err() {
            assert_eq!(workspace(dir.path()), "staging");
        }
        std::fs::write(
            dir.path().join("a_bad.tf"),
            "terraform { backend \"s3\" {\n",
        )
        .unwrap();
        assert!(matches!(
            s3_backend(dir.path()),
            Err(BackendError::Syntax { .. })
        ));
    }
}
