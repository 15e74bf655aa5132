//! Core of the MMM pipeline: the model spec, artifact IO, manifests and hashing.
//!
//! Every stage crate writes its outputs through [`StageWriter`] (atomic, hashed, manifest last)
//! and reads its inputs through [`Upstream`] (sha256 verified against the producing stage's
//! manifest before anything is parsed).

pub mod artifact;
pub mod columns;
pub mod error;
pub mod hash;
pub mod manifest;
pub mod parallel;
pub mod schemas;
pub mod spec;
pub mod summary;

pub use artifact::{StageId, StageWriter, Upstream, file_record, read_parquet_bytes, write_atomic};
pub use columns::BatchBuilder;
pub use error::CoreError;
pub use hash::{sha256_file, sha256_hex};
pub use manifest::{FileRecord, Manifest, OutputRecord, RunStatus};
pub use spec::{LoadedSpec, Spec};
