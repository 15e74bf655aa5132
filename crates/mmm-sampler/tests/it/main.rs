//! Sampler correctness on densities with known answers, independent of the MMM model.

mod calibration;
mod gates;
mod known_posteriors;
mod recovery_likelihoods;
mod recovery_transforms;

use std::collections::BTreeMap;

use mmm_core::spec::{InitStrategy, MassMatrix};
use mmm_features::{Design, Scales};
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
        initial_step: None,
        threads: 2,
        progress: false,
        stop: None,
    }
}

/// 160 weeks of pseudo-random spend (a quarter of the weeks dark) for channels c0 and c1 and a
/// control z, from a linear congruential stream seeded by `seed`; the target (scale `scale`) is
/// filled in by simulation.
pub fn random_design(seed: u64, scale: f64) -> Design {
    let n = 160;
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let channels: Vec<Vec<f64>> = (0..2)
        .map(|_| {
            (0..n)
                .map(|_| if next() < 0.25 { 0.0 } else { next() })
                .collect()
        })
        .collect();
    let z: Vec<f64> = (0..n).map(|_| next() - 0.5).collect();
    Design {
        dates: (0..n as i32).map(|t| 17_000 + 7 * t).collect(),
        n_train: n,
        target_scaled: vec![1.0; n],
        channel_names: vec!["c0".into(), "c1".into()],
        channels,
        regressor_names: vec!["control[z]".into()],
        regressors: vec![z],
        scales: Scales {
            target: scale,
            channels: BTreeMap::new(),
            controls: BTreeMap::new(),
            train_rows: n,
            holdout_rows: 0,
            method: "test".into(),
        },
        carry_in: Default::default(),
    }
}
