//! Prior versus posterior per parameter: how much the data moved and narrowed each one.

use mmm_core::summary::mean;
use mmm_model::joint::Fitted;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// One parameter's prior and posterior moments (model scale, as in draws.parquet).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PriorPosteriorRow {
    /// Parameter name.
    pub parameter: String,
    /// Mean of the prior draws.
    pub prior_mean: f64,
    /// Standard deviation of the prior draws.
    pub prior_sd: f64,
    /// Posterior mean.
    pub posterior_mean: f64,
    /// Posterior standard deviation.
    pub posterior_sd: f64,
    /// 1 - posterior variance / prior variance (1: fully learned, 0: nothing learned).
    pub contraction: f64,
    /// |posterior mean - prior mean| / prior sd.
    pub shift: f64,
    /// Contraction below the spec's `diagnose.min_contraction`: the data barely inform it.
    pub prior_dominated: bool,
}

fn mean_sd(x: &[f64]) -> (f64, f64) {
    let m = mean(x);
    let v = x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (x.len().max(2) - 1) as f64;
    (m, v.sqrt())
}

/// Contraction 1 - s_post^2 / s_prior^2 and shift |m_post - m_prior| / s_prior (Betancourt 2018).
pub fn contraction_shift(prior: (f64, f64), posterior: (f64, f64)) -> (f64, f64) {
    let contraction = 1.0 - (posterior.1 / prior.1).powi(2);
    let shift = (posterior.0 - prior.0).abs() / prior.1;
    (contraction, shift)
}

/// First ChaCha8 stream of the seed used for the prior draws (draw k uses this + k).
const PRIOR_MOMENTS_STREAM: u64 = 4_000_000;

/// Prior moments from `prior_draws` draws of the model's priors (through the model's own
/// `sample_prior_unconstrained` and `constrain`, so they are the priors the sampler used),
/// posterior moments from `posterior` (constrained draws, parameter order of the model).
pub fn prior_posterior(
    model: &dyn Fitted,
    posterior: &[Vec<f64>],
    prior_draws: usize,
    seed: u64,
    min_contraction: f64,
) -> Vec<PriorPosteriorRow> {
    // Draw k from its own ChaCha8 stream, so the draws run in parallel and do not depend on
    // the thread count.
    let prior: Vec<Vec<f64>> = mmm_core::parallel::map_indexed(prior_draws, 64, |k| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(PRIOR_MOMENTS_STREAM + k as u64);
        model.prior_draw(&mut rng)
    })
    .into_iter()
    .flatten()
    .filter(|t| t.iter().all(|v| v.is_finite()))
    .collect();
    model
        .param_names()
        .into_iter()
        .enumerate()
        .map(|(j, parameter)| {
            let pr: Vec<f64> = prior.iter().map(|t| t[j]).collect();
            let po: Vec<f64> = posterior.iter().map(|t| t[j]).collect();
            let (pm, ps) = mean_sd(&pr);
            let (qm, qs) = mean_sd(&po);
            let (contraction, shift) = contraction_shift((pm, ps), (qm, qs));
            PriorPosteriorRow {
                parameter,
                prior_mean: pm,
                prior_sd: ps,
                posterior_mean: qm,
                posterior_sd: qs,
                contraction,
                shift,
                prior_dominated: contraction.is_nan() || contraction < min_contraction,
            }
        })
        .collect()
}
