//! Where inputs come from: a file, standard input (`-`), or an object in S3 (`s3://bucket/key`).

use crate::AppError;
use driftlog_aws::AwsOptions;
use driftlog_terraform::input::Input;
use std::path::Path;

/// Open one Terraform input wherever it is.
pub fn open_input(path: &Path, aws: &AwsOptions) -> Result<Input, AppError> {
    let text = path.to_string_lossy();
    if driftlog_aws::is_s3(&text) {
        let bytes =
            driftlog_aws::get_object(&text, aws).map_err(|e| AppError::Input(e.to_string()))?;
        return Ok(Input::from_bytes(path, bytes));
    }
    Ok(Input::open(path)?)
}

/// Inputs with `s3://BUCKET/PATTERN` globs expanded into the objects they match (`*` and `?`
/// as everywhere in driftlog; `**/` also matches no folder at all), sorted; other inputs as
/// given. A pattern that matches nothing is an error.
pub fn expand(
    paths: &[std::path::PathBuf],
    aws: &AwsOptions,
) -> Result<Vec<std::path::PathBuf>, AppError> {
    let mut out = Vec::new();
    for path in paths {
        let text = path.to_string_lossy();
        let Some((bucket, key)) = driftlog_aws::parse_s3(&text) else {
            out.push(path.clone());
            continue;
        };
        if !driftlog_core::glob::Glob::is_pattern(key) {
            out.push(path.clone());
            continue;
        }
        let prefix = &key[..key.find(['*', '?']).unwrap_or(key.len())];
        let patterns = [
            driftlog_core::glob::Glob::new(key),
            driftlog_core::glob::Glob::new(&key.replace("**/", "")),
        ];
        let listed = driftlog_aws::S3::connect(aws)
            .and_then(|s3| s3.objects(bucket, prefix))
            .map_err(|e| AppError::Input(e.to_string()))?;
        let mut matched: Vec<String> = listed
            .into_iter()
            .map(|o| o.key)
            .filter(|k| patterns.iter().any(|p| p.matches(k)))
            .collect();
        matched.sort();
        if matched.is_empty() {
            return Err(AppError::Input(format!("{text}: no object matches")));
        }
        out.extend(
            matched
                .into_iter()
                .map(|k| std::path::PathBuf::from(format!("s3://{bucket}/{k}"))),
        );
    }
    Ok(out)
}
