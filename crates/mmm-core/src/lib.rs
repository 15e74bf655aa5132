//! Core of the MMM pipeline: the model spec, artifact IO, manifests and hashing.
//!
//! Every stage crate writes its outputs through [`StageWriter`] (atomic, hashed, manifest last)
//! and reads its inputs through [`Upstream`] (sha256 verified against the producing stage's
//! manifest before anything is parsed).

pub mod artifact;
pub mod columns;
pub mod dates;
pub mod error;
pub mod guard;
pub mod hash;
pub mod labelled;
pub mod lineage;
pub mod lock;
pub mod manifest;
pub mod netcdf;
pub mod parallel;
pub mod schemas;
pub mod spec;
pub mod stage;
pub mod summary;
pub mod verify;
pub mod zarr;

pub use artifact::{
    StageId, StageInputs, StageWriter, Upstream, file_record, read_parquet_bytes,
    read_regular_file, write_atomic,
};
pub use columns::BatchBuilder;
pub use error::CoreError;
pub use hash::{sha256_file, sha256_hex};
pub use lineage::{SpecRef, open_chain};
pub use lock::DirLock;
pub use manifest::{FileRecord, Manifest, OutputRecord, RunStatus, UpstreamRecord};
pub use spec::{LoadedSpec, Spec};
pub use stage::Stage;
