//! Readers for what Terraform and OpenTofu write: raw state (format 4), `terraform show -json`
//! state and plan representations (any `format_version` 0.x/1.x), and HCP Terraform's redacted
//! plan JSON; plus [`runner`], which makes a refresh-only plan by running the tool.
//!
//! Files are read whole (memory-mapped where possible) and parsed once into borrowed, typed
//! structs: resource attributes stay raw JSON text slices of the input until the engine finds a
//! pair that differs. Every error names the file and, for JSON errors, the line and column.
//!
//! ```no_run
//! use driftlog_terraform::{input::Input, document::Document};
//! let input = Input::open("terraform.tfstate".as_ref())?;
//! let doc = Document::parse(&input)?;
//! # Ok::<(), driftlog_terraform::ReadError>(())
//! ```

pub mod backend;
pub mod codify;
pub mod document;
pub mod error;
pub mod imports;
pub mod input;
pub mod plan;
pub mod runner;
pub(crate) mod schema;

pub use error::ReadError;
