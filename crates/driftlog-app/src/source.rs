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
