//! The HTML report and model card, rendered from a run directory alone.

pub mod causal;
pub mod charts;
mod context;
pub mod format;
mod inputs;
pub mod markdown;
mod sections;
pub mod stage;

pub use stage::{STAGE, run};
