//! Simulation-based calibration runs (Talts et al. 2018): draw parameters from the prior,
//! simulate a target from the model, refit with NUTS and record the rank of each true value
//! among thinned posterior draws. Uniform ranks mean model + sampler are calibrated.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use mmm_core::Spec;
use mmm_features::Design;
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;

use crate::{FitError, NutsOptions, sample};

/// Settings of an SBC run.
#[derive(Debug, Clone)]
pub struct SbcOptions {
    /// Simulations (N).
    pub sims: usize,
    /// Thinned posterior draws per simulation (L); ranks take values 0..=L.
    pub ranks: usize,
    /// NUTS settings of each fit (seed, chains, tune, draws); `threads` is ignored (one per fit).
    pub nuts: NutsOptions,
    /// Fits run at once.
    pub workers: usize,
}

/// Ranks of every simulation.
#[derive(Debug, Clone)]
pub struct SbcRun {
    /// Parameter names.
    pub parameters: Vec<String>,
    /// ranks[sim][param] in 0..=L, for the simulations whose fit finished.
    pub ranks: Vec<Vec<usize>>,
    /// Simulations whose fit failed (excluded from the ranks).
    pub failed: usize,
    /// Fits with at least one post-warm-up divergence.
    pub divergent_fits: usize,
    /// Per finished simulation (same order as `ranks`): its index and whether its fit had a
    /// post-warm-up divergence.
    pub finished: Vec<(usize, bool)>,
    /// Wall-clock seconds of the whole run.
    pub seconds: f64,
}

/// Run `opts.sims` simulations from the prior of `spec` on the design's inputs (spend,
/// controls, dates); simulation i uses ChaCha8 stream i of `nuts.seed` for the prior draw and
/// noise and seed `nuts.seed + 1 + i` for its fit.
pub fn simulate_and_rank(
    spec: &Spec,
    design: &Design,
    opts: &SbcOptions,
) -> Result<SbcRun, FitError> {
    let base = MmmModel::new(spec, design)?;
    let parameters = base.param_names();
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<SimResult>>> = Mutex::new(vec![None; opts.sims]);
    std::thread::scope(|s| {
        for _ in 0..opts.workers.clamp(1, opts.sims.max(1)) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= opts.sims {
                        break;
                    }
                    let r = one_simulation(spec, design, &base, opts, i);
                    if let Ok(mut out) = results.lock() {
                        out[i] = r;
                    }
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_default();
    let failed = results.iter().filter(|r| r.is_none()).count();
    let done: Vec<(usize, SimResult)> = results
        .into_iter()
        .enumerate()
        .filter_map(|(i, r)| r.map(|r| (i, r)))
        .collect();
    Ok(SbcRun {
        parameters,
        divergent_fits: done.iter().filter(|(_, r)| r.1).count(),
        finished: done.iter().map(|(i, r)| (*i, r.1)).collect(),
        ranks: done.into_iter().map(|(_, r)| r.0).collect(),
        failed,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Ranks of one simulation and whether its fit diverged.
type SimResult = (Vec<usize>, bool);

fn one_simulation(
    spec: &Spec,
    design: &Design,
    base: &MmmModel,
    opts: &SbcOptions,
    i: usize,
) -> Option<SimResult> {
    let sim = simulate_and_fit(spec, design, base, &opts.nuts, None, i)?;
    let dim = sim.truth.len();
    let total = sim.draws.len();
    if total < opts.ranks {
        return None;
    }
    // L draws evenly spaced over the run (thinning lowers autocorrelation, which would
    // otherwise bend the rank histogram even for a correct sampler).
    let thinned: Vec<&[f64]> = (0..opts.ranks)
        .map(|k| sim.draws[k * total / opts.ranks].as_slice())
        .collect();
    let ranks = (0..dim)
        .map(|j| thinned.iter().filter(|t| t[j] < sim.truth[j]).count())
        .collect();
    Some((ranks, sim.diverged))
}

/// One simulated data set and its fit.
pub(crate) struct Simulation {
    /// The model on the simulated target.
    pub model: MmmModel,
    /// True (constrained) parameters, in the model's order.
    pub truth: Vec<f64>,
    /// Posterior draws (constrained), all chains.
    pub draws: Vec<Vec<f64>>,
    /// The fit had a post-warm-up divergence.
    pub diverged: bool,
}

/// Simulation i: parameters `truth` (constrained), or from the prior when `None` (ChaCha8
/// stream i of `nuts.seed`), a target drawn from the model given them on the design's inputs,
/// and a NUTS fit with seed `nuts.seed + 1 + i` on one thread. `None` when no draw in 100
/// gives a finite target or the fit fails.
pub(crate) fn simulate_and_fit(
    spec: &Spec,
    design: &Design,
    base: &MmmModel,
    nuts: &NutsOptions,
    truth: Option<&[f64]>,
    i: usize,
) -> Option<Simulation> {
    let mut rng = ChaCha8Rng::seed_from_u64(nuts.seed);
    rng.set_stream(i as u64);
    // A prior draw whose simulated data are not finite is redrawn (same stream, so seeded).
    // Mediators are drawn from their equations first, then the target given them.
    let (truth, d) = (0..100).find_map(|_| {
        let theta = match truth {
            Some(t) => t.to_vec(),
            None => base.constrain(&base.sample_prior_unconstrained(&mut rng)?),
        };
        let d = base.draw_design(spec, design, &theta, &mut rng).ok()??;
        Some((theta, d))
    })?;
    let model = MmmModel::new(spec, &d).ok()?;
    let mut nuts = nuts.clone();
    nuts.seed = nuts.seed.wrapping_add(1 + i as u64);
    nuts.threads = 1;
    nuts.progress = false;
    nuts.stop = None;
    let trace = sample(Arc::new(model.clone()), &nuts).ok()?;
    let dim = trace.names.len();
    let draws = trace
        .values
        .iter()
        .flat_map(|c| c.chunks(dim).map(<[f64]>::to_vec))
        .collect();
    Some(Simulation {
        model,
        truth,
        draws,
        diverged: trace.divergences() > 0,
    })
}
