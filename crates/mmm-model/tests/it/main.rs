//! Integration tests of mmm-model.

mod calibration;
mod gradient;
mod likelihoods;
mod local_level;
mod transforms;

use std::collections::BTreeMap;

use mmm_core::Spec;
use mmm_features::{Design, Scales};

/// The fixture spec shipped with the repository.
pub fn fixture_spec() -> Spec {
    let text = include_str!("../../../../fixtures/pymc_example/spec.toml");
    Spec::from_toml_str(text).expect("fixture spec parses")
}

/// A small synthetic design matching `spec` (deterministic pseudo-random spend).
pub fn synthetic_design(spec: &Spec, n: usize, n_train: usize) -> Design {
    let mut state = 12345u64;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let channels: Vec<Vec<f64>> = spec
        .channels
        .iter()
        .map(|_| (0..n).map(|_| next()).collect())
        .collect();
    let regressor_names = mmm_features::regressor_names(spec);
    let regressors: Vec<Vec<f64>> = regressor_names
        .iter()
        .map(|_| (0..n).map(|_| next() - 0.5).collect())
        .collect();
    Design {
        dates: (0..n as i32).map(|i| 17000 + 7 * i).collect(),
        n_train,
        target_scaled: (0..n).map(|_| 0.3 + 0.5 * next()).collect(),
        channel_names: spec.channels.iter().map(|c| c.name.clone()).collect(),
        channels,
        regressor_names,
        regressors,
        scales: Scales {
            target: 1.0,
            channels: BTreeMap::new(),
            controls: BTreeMap::new(),
            train_rows: n_train,
            holdout_rows: n - n_train,
            method: "test".into(),
        },
    }
}
