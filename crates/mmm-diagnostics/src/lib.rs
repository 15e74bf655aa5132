//! Diagnostics that decide whether a fitted model may be used (the diagnose stage).

pub mod convergence;
pub mod stage;

pub use stage::{Diagnostics, STAGE, run};
