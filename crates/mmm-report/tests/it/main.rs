//! Integration tests for `mmm-report`, one module per source module.

mod charts;
mod markdown;
