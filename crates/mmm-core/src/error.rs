//! Typed errors of the core crate.

use std::path::PathBuf;

use crate::spec::SpecProblem;

/// Everything that can go wrong reading or writing artifacts and specs.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A filesystem operation failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A spec file has problems; all are listed.
    #[error("{}: invalid spec:\n{}", path.display(), problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    SpecInvalid {
        /// The spec file.
        path: PathBuf,
        /// Every problem found.
        problems: Vec<SpecProblem>,
    },
    /// A file's content no longer matches the sha256 its producer recorded.
    #[error("{}: sha256 mismatch: the manifest recorded {expected}, the file has {actual}; the file changed after its stage wrote it (rerun that stage)", path.display())]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// Recorded sha256.
        expected: String,
        /// Actual sha256.
        actual: String,
    },
    /// An upstream stage directory is missing its manifest or the manifest is not usable.
    #[error("{}: {message}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Upstream stages that do not chain: made from another spec, or one consumed a stage
    /// other than the one given beside it.
    #[error("{message}")]
    ChainBroken {
        /// Both stages (or both specs) and what differs.
        message: String,
    },
    /// Another process is writing to the same directory.
    #[error("{}: locked by another writer ({holder}); wait for it to finish or remove the stale lock file if no such process runs", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// Who holds it (process id and command, as it recorded them).
        holder: String,
    },
    /// An Arrow table read from a file could not be reshaped or rebuilt.
    #[error("{}: {source}", path.display())]
    Arrow {
        /// The file.
        path: PathBuf,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A Parquet file could not be read or written.
    #[error("{}: parquet: {source}", path.display())]
    Parquet {
        /// The file.
        path: PathBuf,
        /// What went wrong, with the decoder's or encoder's own error.
        #[source]
        source: ParquetFailure,
    },
    /// A JSON file could not be read or written.
    #[error("{}: json: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: serde_json::Error,
    },
    /// An artifact does not have the columns or types its schema documents.
    #[error("{}: does not match schema {schema}: {message}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// Schema name.
        schema: String,
        /// The mismatch.
        message: String,
    },
}

impl CoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}

/// Why a Parquet file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum ParquetFailure {
    /// The Parquet codec refused the bytes or the batch.
    #[error("corrupt or not a Parquet file: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Arrow could not assemble the decoded columns.
    #[error("corrupt or not a Parquet file: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// The decoder panicked on corrupt bytes (caught; the message is the panic's).
    #[error("corrupt or not a Parquet file: the decoder panicked: {0}")]
    Panicked(String),
}
