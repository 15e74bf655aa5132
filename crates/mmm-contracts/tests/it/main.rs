//! Library-level tests of mmm-contracts (one integration-test binary for the crate).

mod bounds;
mod calendar;
mod engines;
mod errors;
mod mutation;
mod spikes;
mod units;

use std::path::{Path, PathBuf};

/// Repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A spec from fixtures/bad.
pub fn bad_spec(name: &str) -> mmm_core::Spec {
    let path = repo().join("fixtures/bad").join(name);
    mmm_core::spec::LoadedSpec::load(&path)
        .expect("fixture spec")
        .spec
}
