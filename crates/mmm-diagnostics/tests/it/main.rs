//! Integration tests of mmm-diagnostics (one test binary per crate).

mod causal;
mod checks;
mod convergence;
mod loo;
mod sensitivity;
mod sensitivity_simulation;
mod stacking;
