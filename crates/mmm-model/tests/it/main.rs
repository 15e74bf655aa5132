//! Integration tests of mmm-model.

mod calibration;
mod carry_in;
mod geo;
mod gradient;
mod likelihoods;
mod local_level;
mod mediated;
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
    synthetic_design_seeded(spec, n, n_train, 12345)
}

/// [`synthetic_design`] with its pseudo-random stream started at `seed`.
pub fn synthetic_design_seeded(spec: &Spec, n: usize, n_train: usize, seed: u64) -> Design {
    let mut state = seed;
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
        carry_in: Default::default(),
    }
}

/// Each parameter's prior at its constrained value plus the log-Jacobian of its own map from the
/// real line, summed, leaving out the parameters in `skip`. The model may sample other
/// coordinates (the intercept at the regressors' means, a channel's mean contribution instead
/// of its coefficient), but those changes of variables have unit Jacobian, so this is the prior
/// part of the log density.
pub fn prior_terms(model: &mmm_model::MmmModel, theta: &[f64], skip: &[usize]) -> f64 {
    let mut total = 0.0;
    for (j, (p, &t)) in model.params().iter().zip(theta).enumerate() {
        if skip.contains(&j) {
            continue;
        }
        let x = t * p.sign;
        let (_, _, logj, _) = p.bijection.forward(p.bijection.inverse(x));
        total += mmm_model::prior::log_prior(&p.prior, x).0 + logj;
    }
    total
}

/// sum_t -ln sigma - (y_t - mu_t)^2 / (2 sigma^2): the Normal log likelihood without its
/// constant.
pub fn normal_log_likelihood(y: &[f64], mu: &[f64], sigma: f64) -> f64 {
    y.iter()
        .zip(mu)
        .map(|(y, m)| -sigma.ln() - 0.5 * (y - m) * (y - m) / (sigma * sigma))
        .sum()
}

/// The model's log density at `u` equals `expected` to 1e-9 relative.
pub fn assert_log_density(model: &mmm_model::MmmModel, u: &[f64], expected: f64, label: &str) {
    let mut grad = vec![0.0; model.dim()];
    let got = model
        .logp(u, &mut grad, &mut model.scratch())
        .expect("finite");
    assert!(
        (got - expected).abs() < 1e-9 * (1.0 + expected.abs()),
        "{label}: {got} vs {expected}"
    );
}

/// Draws of a Normal(mu, sigma) quantity: their mean and variance lie within 4 Monte Carlo
/// standard errors of mu and sigma^2 (sd of the variance: sigma^2 sqrt(2 / (n - 1))).
pub fn assert_normal_moments(draws: &[f64], mu: f64, sigma: f64, what: &str) {
    let n = draws.len() as f64;
    let m = draws.iter().sum::<f64>() / n;
    let v = draws.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    assert!(
        (m - mu).abs() < 4.0 * sigma / n.sqrt(),
        "mean of {what} {m}"
    );
    let var = sigma * sigma;
    let se_var = var * (2.0 / (n - 1.0)).sqrt();
    assert!((v - var).abs() < 4.0 * se_var, "variance of {what} {v}");
}
