//! Integration tests of mmm-diagnostics (one test binary per crate).

mod checks;
mod convergence;
mod loo;
