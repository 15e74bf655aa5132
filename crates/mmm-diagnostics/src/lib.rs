//! Diagnostics that decide whether a fitted model may be used (the diagnose stage).

pub mod convergence;
