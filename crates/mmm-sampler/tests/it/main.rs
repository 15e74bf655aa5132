//! Sampler correctness on densities with known answers, independent of the MMM model.

mod gates;
mod known_posteriors;
mod recovery_likelihoods;
mod recovery_transforms;

use mmm_core::spec::{InitStrategy, MassMatrix};
use mmm_sampler::NutsOptions;

/// Quiet sampler settings for tests: diagonal mass matrix, Uniform(-2, 2) starts, two threads.
pub fn test_options(
    chains: usize,
    tune: u64,
    draws: u64,
    seed: u64,
    target_accept: f64,
    max_tree_depth: u64,
) -> NutsOptions {
    NutsOptions {
        chains,
        tune,
        draws,
        seed,
        target_accept,
        max_tree_depth,
        mass_matrix: MassMatrix::Diag,
        init: InitStrategy::Uniform,
        start: None,
        jitter: 0.1,
        threads: 2,
        progress: false,
        stop: None,
    }
}
