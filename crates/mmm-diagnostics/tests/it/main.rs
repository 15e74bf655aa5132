//! Integration tests of mmm-diagnostics (one test binary per crate).

mod convergence;
