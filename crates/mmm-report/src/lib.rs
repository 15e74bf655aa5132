//! The HTML report and model card, rendered from a run directory alone.

pub mod causal;
pub mod charts;
pub mod markdown;
pub mod stage;

pub use stage::{STAGE, run};
