//! Errors: [`StudioError`] when the studio cannot start, [`ApiError`] for one request.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the studio could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StudioError {
    /// The runs directory does not exist or is not a directory.
    #[error("{}: the runs directory does not exist or is not a directory", path.display())]
    RunsDir {
        /// The directory given.
        path: PathBuf,
    },
    /// The plans directory is inside the runs directory (runs are read-only).
    #[error(
        "{}: the plans directory must be outside the runs directory {} (runs are read-only to the studio)",
        plans.display(), runs.display()
    )]
    PlansInsideRuns {
        /// The plans directory.
        plans: PathBuf,
        /// The runs directory.
        runs: PathBuf,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Other IO.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A request that failed: the HTTP status and a message without absolute paths.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// An error with `status` and `message` (absolute paths in it are shortened).
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: crate::paths::redact(&message.into()),
        }
    }

    /// 400: the request is malformed.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, message)
    }

    /// 404: nothing there.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, message)
    }

    /// 422: the request is well-formed but the model refuses it (an infeasible plan).
    pub fn unprocessable(message: impl std::fmt::Display) -> Self {
        Self::new(422, message.to_string())
    }

    /// 500.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        Self::new(500, message.to_string())
    }
}

/// The error chain of `e`, one cause after another.
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

impl From<mmm_decisions::DecideError> for ApiError {
    fn from(e: mmm_decisions::DecideError) -> Self {
        match e {
            mmm_decisions::DecideError::Input(_) | mmm_decisions::DecideError::Infeasible(_) => {
                Self::unprocessable(chain(&e))
            }
            _ => Self::internal(chain(&e)),
        }
    }
}
