//! Prior predictive check: data sets drawn from the priors alone (parameters from their priors,
//! then the likelihood), summarized per period and compared with the observed target. Priors
//! that cannot produce data like the observed ones, or that put most of their mass on
//! impossible values, show up here before anyone reads the posterior.

use mmm_core::summary::{central_interval, mean};
use mmm_model::joint::Fitted;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Summary of the prior predictive check over the training window (diagnostics.json).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PriorPredictiveCheck {
    /// Prior predictive data sets drawn.
    pub draws: usize,
    /// Share of training observations inside the central 50% prior predictive interval.
    pub inside_50: f64,
    /// Share of training observations inside the central `interval` prior predictive interval.
    pub inside: f64,
    /// Mass of that interval (decisions.interval).
    pub interval: f64,
    /// Share of training observations below that interval.
    pub below: f64,
    /// Share of training observations above that interval.
    pub above: f64,
    /// Median over periods of the interval's width divided by the observed target's range over
    /// the training window: far above 1 means the priors allow wildly larger swings than the data.
    pub relative_width: f64,
    /// How it was computed.
    pub method: String,
}

/// Per-period prior predictive bands in original target units.
#[derive(Debug, Clone, Default)]
pub struct PriorPredictiveBands {
    /// Mean of the prior predictive draws.
    pub mean: Vec<f64>,
    /// Central 50% interval.
    pub lower_50: Vec<f64>,
    /// Upper end of the central 50% interval.
    pub upper_50: Vec<f64>,
    /// Central `interval` interval.
    pub lower: Vec<f64>,
    /// Upper end of the central `interval` interval.
    pub upper: Vec<f64>,
}

/// First ChaCha8 stream of `seed` used here: data set k draws from stream
/// `PRIOR_PREDICTIVE_STREAM + k`, so the data sets are drawn in parallel and do not depend on
/// the thread count (the refit checks use streams from 1,000,000 and 2,000,000).
const PRIOR_PREDICTIVE_STREAM: u64 = 3_000_000;

/// Draw `draws` data sets from the prior predictive distribution (data set k from its own
/// ChaCha8 stream of `seed`; data sets that are not finite are dropped) and compare them with
/// `observed` (original units) over the first `n_train` periods.
pub fn prior_predictive(
    model: &dyn Fitted,
    observed: &[f64],
    n_train: usize,
    draws: usize,
    seed: u64,
    interval: f64,
) -> (PriorPredictiveCheck, PriorPredictiveBands) {
    let n = model.periods();
    let units = model.unit_names().len();
    // Each data set as the national target per period: the sum over units.
    let data_sets: Vec<Option<Vec<f64>>> = mmm_core::parallel::map_indexed(draws, 64, |k| {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(PRIOR_PREDICTIVE_STREAM + k as u64);
        let theta = model.prior_draw(&mut rng)?;
        let (mut mean, mut y) = (vec![0.0; n * units], vec![0.0; n * units]);
        model.predictive_draw_units(&theta, &mut rng, &mut mean, &mut y);
        y.iter().all(|v| v.is_finite()).then(|| {
            (0..n)
                .map(|t| (0..units).map(|u| y[u * n + t]).sum())
                .collect()
        })
    });
    let mut per_period: Vec<Vec<f64>> = vec![Vec::with_capacity(draws); n];
    for data in data_sets.iter().flatten() {
        for (p, v) in per_period.iter_mut().zip(data) {
            p.push(*v);
        }
    }
    let kept = per_period.first().map_or(0, Vec::len);
    let mut bands = PriorPredictiveBands::default();
    for values in &per_period {
        let (l50, u50) = central_interval(values, 0.5);
        let (l, u) = central_interval(values, interval);
        bands.mean.push(mean(values));
        bands.lower_50.push(l50);
        bands.upper_50.push(u50);
        bands.lower.push(l);
        bands.upper.push(u);
    }
    let nt = n_train.min(n).min(observed.len());
    let share =
        |f: &dyn Fn(usize) -> bool| (0..nt).filter(|t| f(*t)).count() as f64 / nt.max(1) as f64;
    let obs = &observed[..nt];
    let range = obs.iter().cloned().fold(f64::NEG_INFINITY, f64::max)
        - obs.iter().cloned().fold(f64::INFINITY, f64::min);
    let mut widths: Vec<f64> = (0..nt)
        .map(|t| (bands.upper[t] - bands.lower[t]) / range.max(f64::MIN_POSITIVE))
        .collect();
    widths.sort_by(f64::total_cmp);
    let check = PriorPredictiveCheck {
        draws: kept,
        inside_50: share(&|t| bands.lower_50[t] <= obs[t] && obs[t] <= bands.upper_50[t]),
        inside: share(&|t| bands.lower[t] <= obs[t] && obs[t] <= bands.upper[t]),
        interval,
        below: share(&|t| obs[t] < bands.lower[t]),
        above: share(&|t| obs[t] > bands.upper[t]),
        relative_width: widths.get(widths.len() / 2).copied().unwrap_or(f64::NAN),
        method: format!(
            "{kept} data sets: parameters from their priors (the model's own prior sampler), then \
             one draw of the target from the likelihood on the data's spend, controls and dates, \
             in original units; per period the central 50% and {:.0}% intervals of those draws; \
             shares over the training window",
            100.0 * interval
        ),
    };
    (check, bands)
}
