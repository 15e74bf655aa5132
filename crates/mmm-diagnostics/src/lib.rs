//! Diagnostics that decide whether a fitted model may be used (the diagnose stage).

pub mod calibration;
pub mod causal;
pub mod compare;
pub mod convergence;
pub mod inference_data;
pub mod loo;
pub mod predictive;
pub mod prior_posterior;
pub mod prior_predictive;
pub mod refits;
pub mod sensitivity;
pub mod stacking;
pub mod stage;

pub use stage::{Diagnostics, STAGE, run, run_with_refits};
