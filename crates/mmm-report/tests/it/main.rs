//! Integration tests for `mmm-report`, one module per source module.

mod causal;
mod charts;
mod fixture;
mod format;
mod golden;
mod markdown;
