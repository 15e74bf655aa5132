//! Parameter recovery: fit data simulated from known parameters and count how often the
//! posterior's central intervals cover the truth. When model and sampler are right, a level-q
//! interval covers the truth in a share q of simulations (parameters drawn from the prior), so
//! the observed share must lie within binomial error of q.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mmm_core::Spec;
use mmm_core::summary::central_interval;
use mmm_features::Design;
use mmm_model::MmmModel;

use crate::sbc::simulate_and_fit;
use crate::{FitError, NutsOptions};

/// Settings of a recovery run.
#[derive(Debug, Clone)]
pub struct RecoveryOptions {
    /// Simulated data sets.
    pub sims: usize,
    /// NUTS settings of each fit (seed, chains, tune, draws); each fit runs on one thread.
    pub nuts: NutsOptions,
    /// Fits run at once.
    pub workers: usize,
    /// Central interval levels to check, e.g. 0.5 and 0.9.
    pub levels: Vec<f64>,
    /// Known parameters (constrained, in the model's order) shared by every simulation, which
    /// then differ only in their noise; `None` draws each simulation's truth from the prior.
    pub truth: Option<Vec<f64>>,
}

/// What a recovery run found.
#[derive(Debug, Clone)]
pub struct RecoveryRun {
    /// Checked quantities: every parameter, then each channel's counterfactual contribution
    /// over the training window (`contribution[channel]`, response's model scale; ROAS is it
    /// times a constant), then each mediated channel's `direct[..]` and `mediated[..]` parts.
    pub quantities: Vec<String>,
    /// `covered[q][l]`: simulations whose level-`levels[l]` interval of quantity q held the truth.
    pub covered: Vec<Vec<usize>>,
    /// Mean over simulations of |posterior mean - truth| / posterior sd, per quantity.
    pub mean_z: Vec<f64>,
    /// Simulations whose fit finished.
    pub finished: usize,
    /// Simulations that failed (no finite simulated target, or the fit failed).
    pub failed: usize,
    /// Fits with at least one post-warm-up divergence.
    pub divergent_fits: usize,
    /// Wall-clock seconds.
    pub seconds: f64,
}

/// Truth and posterior draws of every checked quantity of one simulation.
struct Checked {
    truth: Vec<f64>,
    draws: Vec<Vec<f64>>,
    diverged: bool,
}

/// Channel contributions over the training window (response's model scale) at `theta`, then
/// for each channel acting through mediators its direct and its mediated part.
fn contributions(model: &MmmModel, theta: &[f64]) -> Vec<f64> {
    let window = 0..model.train_periods();
    let mut out = model.channel_contributions(theta, window.clone());
    let mediated = model.mediated_contributions(theta, window);
    for c in (0..out.len()).filter(|c| model.is_mediated(*c)) {
        out.push(out[c] - mediated[c]);
        out.push(mediated[c]);
    }
    out
}

/// Simulate `opts.sims` data sets from the prior of `spec` (or at `opts.truth`) on the
/// design's inputs, fit each,
/// and count interval coverage of parameters and channel contributions.
pub fn recover(
    spec: &Spec,
    design: &Design,
    opts: &RecoveryOptions,
) -> Result<RecoveryRun, FitError> {
    let base = MmmModel::new(spec, design)?;
    let mut quantities = base.param_names();
    let names = base.channel_names();
    quantities.extend(names.iter().map(|c| format!("contribution[{c}]")));
    for (c, name) in names.iter().enumerate() {
        if base.is_mediated(c) {
            quantities.push(format!("direct[{name}]"));
            quantities.push(format!("mediated[{name}]"));
        }
    }
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Checked>>> = Mutex::new((0..opts.sims).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..opts.workers.clamp(1, opts.sims.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= opts.sims {
                        break;
                    }
                    let checked =
                        simulate_and_fit(spec, design, &base, &opts.nuts, opts.truth.as_deref(), i)
                            .map(|sim| {
                                let with_contributions = |theta: &[f64]| {
                                    let mut v = theta.to_vec();
                                    v.extend(contributions(&sim.model, theta));
                                    v
                                };
                                Checked {
                                    truth: with_contributions(&sim.truth),
                                    draws: sim
                                        .draws
                                        .iter()
                                        .map(|d| with_contributions(d))
                                        .collect(),
                                    diverged: sim.diverged,
                                }
                            });
                    if let Ok(mut out) = results.lock() {
                        out[i] = checked;
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let done: Vec<Checked> = results.into_iter().flatten().collect();
    let mut covered = vec![vec![0; opts.levels.len()]; quantities.len()];
    let mut mean_z = vec![0.0; quantities.len()];
    for sim in &done {
        for (q, truth) in sim.truth.iter().enumerate() {
            let values: Vec<f64> = sim.draws.iter().map(|d| d[q]).collect();
            for (l, level) in opts.levels.iter().enumerate() {
                let (lo, hi) = central_interval(&values, *level);
                if lo <= *truth && *truth <= hi {
                    covered[q][l] += 1;
                }
            }
            let m = mmm_core::summary::mean(&values);
            let sd = (values.iter().map(|v| (v - m).powi(2)).sum::<f64>()
                / (values.len().max(2) - 1) as f64)
                .sqrt();
            mean_z[q] += (m - truth).abs() / sd.max(f64::MIN_POSITIVE) / done.len() as f64;
        }
    }
    Ok(RecoveryRun {
        quantities,
        covered,
        mean_z,
        finished: done.len(),
        failed: opts.sims - done.len(),
        divergent_fits: done.iter().filter(|s| s.diverged).count(),
        seconds: start.elapsed().as_secs_f64(),
    })
}
