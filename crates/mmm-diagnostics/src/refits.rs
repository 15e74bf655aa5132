//! Checks that need refits of the model: coefficient sign stability under a moving-block
//! bootstrap, and rolling-origin cross-validation, for the national model and the geo
//! hierarchy alike. The fitting itself is passed in as a [`Refit`] function (the CLI passes the
//! NUTS sampler), so this crate depends on the model only.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use mmm_core::Spec;
use mmm_core::spec::ExpectedSign;
use mmm_core::summary::{mean, quantile_sorted, sorted};
use mmm_features::Design;
use mmm_features::panel::GeoDesign;
use mmm_model::geo::GeoModel;
use mmm_model::joint::Fitted;
use mmm_model::rand::rngs::ChaCha8Rng;
use mmm_model::rand::{RngExt, SeedableRng};
use mmm_model::{Likelihood, MmmModel};
use serde::{Deserialize, Serialize};

use crate::predictive::coverage;

/// Fits `model` with the given seed, starting from `warm` when given, and returns its
/// constrained posterior draws (one vector per draw, parameter order of the model), or why it
/// failed.
pub type Refit<'a> =
    &'a (dyn Fn(&RefitModel, Option<&WarmStart>, u64) -> Result<Vec<Vec<f64>>, String> + Sync);

/// Where refits start: the full fit's posterior. A refit of resampled or shortened data has a
/// posterior close to the full one, so sampling it in coordinates standardized by the full
/// posterior (x = (u - center) / scale) starting near x = 0 with the full fit's step size
/// needs only a short warm-up instead of a cold adaptation from the identity mass matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct WarmStart {
    /// Posterior mean of each unconstrained coordinate.
    pub center: Vec<f64>,
    /// Posterior standard deviation of each unconstrained coordinate (floored at 1e-6).
    pub scale: Vec<f64>,
    /// Median post-warm-up step size of the full fit: the step in standardized coordinates,
    /// since its adapted mass matrix is the posterior variance.
    pub step_size: f64,
}

impl WarmStart {
    /// From the full fit's constrained draws, mapped to the sampler's coordinates by the
    /// subject's model; `None` without draws or with a non-finite coordinate.
    pub fn from_posterior(
        subject: RefitSubject<'_>,
        posterior: &[Vec<f64>],
        step_size: f64,
    ) -> Option<Self> {
        let u: Vec<Vec<f64>> = posterior.iter().map(|t| subject.unconstrain(t)).collect();
        let d = u.first()?.len();
        let n = u.len() as f64;
        let center: Vec<f64> = (0..d)
            .map(|j| u.iter().map(|v| v[j]).sum::<f64>() / n)
            .collect();
        let scale: Vec<f64> = (0..d)
            .map(|j| {
                let var = u.iter().map(|v| (v[j] - center[j]).powi(2)).sum::<f64>() / n;
                var.sqrt().max(1e-6)
            })
            .collect();
        let finite = center.iter().chain(&scale).all(|v| v.is_finite());
        (finite && step_size.is_finite() && step_size > 0.0).then_some(Self {
            center,
            scale,
            step_size,
        })
    }
}

/// A model to refit: the national model or the geo hierarchy.
#[derive(Debug, Clone)]
pub enum RefitModel {
    /// One national series.
    National(Box<MmmModel>),
    /// A panel under the geo hierarchy.
    Geo(Box<GeoModel>),
}

impl RefitModel {
    fn fitted(&self) -> &dyn Fitted {
        match self {
            Self::National(m) => m.as_ref(),
            Self::Geo(m) => m.as_ref(),
        }
    }
}

/// The fitted model and its data, whose refits the checks run.
#[derive(Debug, Clone, Copy)]
pub enum RefitSubject<'a> {
    /// The national model on its design.
    National {
        /// The design the model was fitted on.
        design: &'a Design,
        /// The model.
        model: &'a MmmModel,
    },
    /// The geo hierarchy on its panel.
    Geo {
        /// Every geo's design.
        panel: &'a GeoDesign,
        /// The hierarchy.
        model: &'a GeoModel,
    },
}

impl RefitSubject<'_> {
    /// Each unit's design: the national one, or one per geo.
    fn designs(&self) -> Vec<&Design> {
        match self {
            Self::National { design, .. } => vec![design],
            Self::Geo { panel, .. } => panel.designs.iter().collect(),
        }
    }

    fn fitted(&self) -> &dyn Fitted {
        match self {
            Self::National { model, .. } => *model,
            Self::Geo { model, .. } => *model,
        }
    }

    /// The sampler's coordinates of constrained values `theta`.
    fn unconstrain(&self, theta: &[f64]) -> Vec<f64> {
        match self {
            Self::National { model, .. } => model.unconstrain(theta),
            Self::Geo { model, .. } => model.unconstrain(theta),
        }
    }

    /// Unit u's posterior-mean fitted training values of the model scale: the linear predictor
    /// under LogNormal (the model is additive on the log scale), the expected target otherwise.
    fn mean_fit(&self, posterior: &[Vec<f64>], u: usize, log_scale: bool) -> Vec<f64> {
        let (model, design) = match self {
            Self::National { design, model } => (*model, *design),
            Self::Geo { panel, model } => (model.member(u), &panel.designs[u]),
        };
        let mut fitted = vec![0.0; design.n_train];
        let mut buf = vec![0.0; design.len()];
        for theta in posterior {
            let theta_u;
            let theta = match self {
                Self::National { .. } => theta.as_slice(),
                Self::Geo { model, .. } => {
                    theta_u = model.geo_theta(theta, u);
                    theta_u.as_slice()
                }
            };
            if log_scale {
                model.linear_predictor(theta, &[], &mut buf);
            } else {
                model.predict_mean(theta, &[], &mut buf);
            }
            for (f, b) in fitted.iter_mut().zip(&buf) {
                *f += b / posterior.len() as f64;
            }
        }
        fitted
    }

    /// The same kind of model on new unit designs (same units, same order).
    fn rebuilt(&self, spec: &Spec, designs: Vec<Design>) -> Option<RefitModel> {
        match self {
            Self::National { .. } => {
                let design = designs.into_iter().next()?;
                MmmModel::new(spec, &design)
                    .ok()
                    .map(|m| RefitModel::National(Box::new(m)))
            }
            Self::Geo { panel, .. } => {
                let panel = GeoDesign {
                    geos: panel.geos.clone(),
                    designs,
                    scales: panel.scales.clone(),
                };
                GeoModel::new(spec, &panel)
                    .ok()
                    .map(|m| RefitModel::Geo(Box::new(m)))
            }
        }
    }

    /// The model rebuilt on the first `n_train` periods as training window, rescaled on that
    /// window alone, with its unit designs.
    fn with_training_window(
        &self,
        spec: &Spec,
        n_train: usize,
    ) -> Option<(RefitModel, Vec<Design>)> {
        match self {
            Self::National { design, .. } => {
                let d = design.with_training_window(spec, n_train)?;
                let m = MmmModel::new(spec, &d).ok()?;
                Some((RefitModel::National(Box::new(m)), vec![d]))
            }
            Self::Geo { panel, .. } => {
                let p = panel.with_training_window(spec, n_train)?;
                let m = GeoModel::new(spec, &p).ok()?;
                Some((RefitModel::Geo(Box::new(m)), p.designs))
            }
        }
    }
}

/// Sign stability of one coefficient over the bootstrap refits.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignRow {
    /// Parameter name (`beta[x1]`, `gamma_control[price]`).
    pub coefficient: String,
    /// `positive` or `negative`.
    pub expected_sign: String,
    /// `spec` when the spec fixes the sign, `full_fit` when it is the sign of the full fit's
    /// posterior median (controls declared `unconstrained`).
    pub reference: String,
    /// True when the prior constrains the sign: the share is then 1 by construction and the
    /// row only confirms it.
    pub sign_constrained: bool,
    /// Share of refits whose posterior median has the expected sign.
    pub share_expected_sign: f64,
    /// `share_expected_sign >= diagnose.min_sign_share`.
    pub stable: bool,
}

/// The sign-stability table.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SignStability {
    /// Bootstrap refits run (B): fewer than `diagnose.bootstrap_replicates` when every sign
    /// was decided early.
    pub replicates: usize,
    /// Refits that finished (the shares are over these).
    pub completed: usize,
    /// Block length in weeks.
    pub block_length: usize,
    /// One row per channel and control coefficient.
    pub rows: Vec<SignRow>,
    /// How it was computed.
    pub method: String,
}

/// One rolling-origin fold.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CvRow {
    /// Fold number, 1 = earliest origin.
    pub fold: usize,
    /// Last training week (ISO date).
    pub train_end_date: String,
    /// Training weeks of the fold.
    pub train_weeks: usize,
    /// Weeks predicted.
    pub test_weeks: usize,
    /// RMSE of the posterior predictive mean on the test weeks (target units).
    pub rmse: f64,
    /// MAPE on the test weeks (percent).
    pub mape: f64,
    /// Share of test weeks inside the central 80% predictive interval.
    pub coverage_80: f64,
}

/// Summary over folds.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CvSummary {
    /// Mean MAPE over folds (percent).
    pub mean_mape: f64,
    /// Standard deviation of MAPE over folds.
    pub sd_mape: f64,
    /// Mean RMSE over folds (target units).
    pub mean_rmse: f64,
    /// Mean 80% coverage over folds.
    pub mean_coverage_80: f64,
}

/// Rolling-origin cross-validation.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CrossValidation {
    /// Number of folds (k) that finished.
    pub folds: usize,
    /// Weeks predicted per fold.
    pub horizon: usize,
    /// Per fold.
    pub rows: Vec<CvRow>,
    /// Over folds.
    pub summary: CvSummary,
    /// How it was computed.
    pub method: String,
}

/// Errors of the refit checks.
#[derive(Debug, thiserror::Error)]
pub enum RefitError {
    /// The data are too short for the requested folds.
    #[error(
        "rolling-origin cross-validation: {folds} folds of {horizon} weeks leave less than half \
         of the {weeks} training weeks for the first fold; lower diagnose.cv_folds or \
         diagnose.cv_horizon"
    )]
    Folds {
        /// Folds asked for.
        folds: usize,
        /// Weeks per fold.
        horizon: usize,
        /// Training weeks.
        weeks: usize,
    },
    /// A fold's design could not be rebuilt.
    #[error(transparent)]
    Model(#[from] mmm_model::ModelError),
}

/// Run `f(0..n)` on a pool of worker threads; results in index order whatever the scheduling.
fn parallel_map<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let workers = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .min(n.max(1));
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<T>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let r = f(i);
                    if let Ok(mut o) = out.lock() {
                        o[i] = Some(r);
                    }
                }
            });
        }
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

/// Bootstrap replicates run between two looks at the sign shares.
pub const BOOTSTRAP_BATCH: usize = 10;

/// Error rates of each coefficient's sequential test: `SPRT_ERROR` of calling a coefficient
/// stable whose share is [`SPRT_BELOW`] under `diagnose.min_sign_share`, and of calling it
/// unstable when it is [`SPRT_ABOVE`] over.
const SPRT_ERROR: f64 = 0.05;
/// Lower edge of the indifference zone of the sequential test, below the threshold.
const SPRT_BELOW: f64 = 0.05;
/// Upper edge of the indifference zone of the sequential test, above the threshold.
const SPRT_ABOVE: f64 = 0.04;

/// Whether every coefficient's sign stability is decided after the replicates `done`. A
/// coefficient whose prior fixes its sign keeps it in every refit by construction (decided).
/// Another is decided by Wald's sequential probability ratio test of share p0 =
/// min_share - 0.05 against p1 = min_share + 0.04 (Wald 1945): log LR = k ln(p1/p0) +
/// (n - k) ln((1 - p1)/(1 - p0)) beyond +-ln((1 - a)/a), a = 0.05. At 0.95 a share that keeps
/// every sign is decided stable after 31 refits (at the look after 40), two lost signs among
/// the first ten decide it unstable.
fn signs_decided(
    coefs: &[(usize, String, f64, &'static str, bool)],
    done: &[&Vec<f64>],
    min_share: f64,
) -> bool {
    let n = done.len();
    coefs
        .iter()
        .enumerate()
        .all(|(k, (_, _, sign, _, constrained))| {
            let kept = done.iter().filter(|m| m[k] * sign > 0.0).count();
            *constrained || sprt_decided(kept, n, min_share)
        })
}

/// Wald's test of one share (see `signs_decided`): true once the log likelihood ratio of
/// `kept` of `n` leaves the continuation band.
fn sprt_decided(kept: usize, n: usize, min_share: f64) -> bool {
    let p0 = (min_share - SPRT_BELOW).clamp(0.001, 0.99);
    let p1 = (min_share + SPRT_ABOVE).clamp(p0 + 0.001, 0.999);
    let llr = kept as f64 * (p1 / p0).ln() + (n - kept) as f64 * ((1.0 - p1) / (1.0 - p0)).ln();
    let bound = ((1.0 - SPRT_ERROR) / SPRT_ERROR).ln();
    n > 0 && llr.abs() >= bound
}

/// Median of one parameter over draws.
fn median_of(draws: &[Vec<f64>], j: usize) -> f64 {
    let v: Vec<f64> = draws.iter().map(|t| t[j]).collect();
    quantile_sorted(&sorted(&v), 0.5)
}

/// Default block length ceil(n^(1/3)) (Hall, Horowitz & Jing 1995 rate for variance estimation).
pub fn default_block_length(n: usize) -> usize {
    ((n as f64).cbrt().ceil() as usize).max(1)
}

/// Moving-block bootstrap index series of length `n`: blocks of `block` consecutive indices
/// with uniform random starts in 0..=n-block, concatenated and cut to `n` (Künsch 1989).
pub fn block_indices(n: usize, block: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let block = block.clamp(1, n.max(1));
    let mut idx = Vec::with_capacity(n + block);
    while idx.len() < n {
        let start = rng.random_range(0..=n - block);
        idx.extend(start..start + block);
    }
    idx.truncate(n);
    idx
}

/// Coefficients checked for sign stability: (parameter index, name, expected sign, reference,
/// sign constrained).
fn coefficients(
    spec: &Spec,
    names: &[String],
    posterior: &[Vec<f64>],
) -> Vec<(usize, String, f64, &'static str, bool)> {
    let find = |n: &str| names.iter().position(|p| p == n);
    let mut out = Vec::new();
    for ch in &spec.channels {
        let name = format!("beta[{}]", ch.name);
        if let Some(j) = find(&name) {
            out.push((j, name, 1.0, "spec", true));
        }
    }
    for c in &spec.controls {
        let name = format!("gamma_control[{}]", c.name);
        let Some(j) = find(&name) else { continue };
        let (sign, reference, constrained) = match c.expected_sign {
            ExpectedSign::Positive => (1.0, "spec", true),
            ExpectedSign::Negative => (-1.0, "spec", true),
            ExpectedSign::Unconstrained => {
                let m = median_of(posterior, j);
                (if m < 0.0 { -1.0 } else { 1.0 }, "full_fit", false)
            }
        };
        out.push((j, name, sign, reference, constrained));
    }
    out
}

/// Sign stability by a moving-block residual bootstrap: y*_t = mu_hat_t + e_(i_t) over the
/// training weeks, with mu_hat the posterior-mean fitted curve, e the centered residuals and
/// i a moving-block index series; each of `replicates` refits gets seed `seed + 1 + b`.
/// LogNormal resamples on the log scale (ln y* = eta_hat + e); Poisson and NB round y* to a
/// count, floored at zero. Under the geo hierarchy every geo keeps its own fitted curve and
/// residuals, and all geos share one index series, so shocks common to the geos in a week stay
/// together; the coefficients checked are the national ones (the typical geo's).
///
/// Replicates run in batches of [`BOOTSTRAP_BATCH`] and stop once every row is decided (see
/// `signs_decided`), at most `replicates` in all; replicate b always uses the same seed and
/// resampled weeks, so an early stop changes how many rows the shares average, not which.
#[allow(clippy::too_many_arguments)]
pub fn sign_stability(
    spec: &Spec,
    subject: RefitSubject<'_>,
    posterior: &[Vec<f64>],
    refit: Refit<'_>,
    warm: Option<&WarmStart>,
    replicates: usize,
    block_length: Option<usize>,
    seed: u64,
) -> Result<SignStability, RefitError> {
    let designs = subject.designs();
    let nt = designs[0].n_train;
    let likelihood = subject.fitted().likelihood();
    // LogNormal residuals live on the log scale (the model is multiplicative there).
    let log_scale = likelihood == Likelihood::LogNormal;
    let counts = matches!(
        likelihood,
        Likelihood::Poisson | Likelihood::NegativeBinomial
    );
    // Per unit: posterior-mean fit and centered residuals over the training weeks.
    let units: Vec<(Vec<f64>, Vec<f64>)> = designs
        .iter()
        .enumerate()
        .map(|(u, design)| {
            let fitted = subject.mean_fit(posterior, u, log_scale);
            let observed = |t: usize| {
                if log_scale {
                    design.target_scaled[t].ln()
                } else {
                    design.target_scaled[t]
                }
            };
            let resid: Vec<f64> = (0..nt).map(|t| observed(t) - fitted[t]).collect();
            let rbar = mean(&resid);
            (fitted, resid.iter().map(|r| r - rbar).collect())
        })
        .collect();
    let block = block_length
        .unwrap_or_else(|| default_block_length(nt))
        .min(nt);
    let coefs = coefficients(spec, &subject.fitted().param_names(), posterior);
    let replicate = |b: usize| -> Option<Vec<f64>> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(1_000_000 + b as u64);
        let idx = block_indices(nt, block, &mut rng);
        let resampled = designs
            .iter()
            .zip(&units)
            .map(|(design, (fitted, resid))| {
                let mut d = (*design).clone();
                let scale = design.scales.target;
                for t in 0..nt {
                    let v = fitted[t] + resid[idx[t]];
                    d.target_scaled[t] = if log_scale {
                        v.exp()
                    } else if counts {
                        // Counts stay counts: the resampled value rounded, floored at zero.
                        (v * scale).round().max(0.0) / scale
                    } else {
                        v
                    };
                }
                d
            })
            .collect();
        let m = subject.rebuilt(spec, resampled)?;
        let draws = refit(&m, warm, seed.wrapping_add(1 + b as u64)).ok()?;
        (!draws.is_empty()).then(|| coefs.iter().map(|c| median_of(&draws, c.0)).collect())
    };
    // Every sign fixed by the prior: no refit can change one, so none is run.
    let replicates = if spec.diagnose.bootstrap_stop_early && coefs.iter().all(|c| c.4) {
        0
    } else {
        replicates
    };
    let mut results: Vec<Option<Vec<f64>>> = Vec::with_capacity(replicates);
    while results.len() < replicates {
        let from = results.len();
        let batch = BOOTSTRAP_BATCH.min(replicates - from);
        results.extend(parallel_map(batch, |i| replicate(from + i)));
        let done: Vec<&Vec<f64>> = results.iter().flatten().collect();
        if spec.diagnose.bootstrap_stop_early
            && signs_decided(&coefs, &done, spec.diagnose.min_sign_share)
        {
            break;
        }
    }
    let replicates_run = results.len();
    let done: Vec<&Vec<f64>> = results.iter().flatten().collect();
    let completed = done.len();
    let rows = coefs
        .iter()
        .enumerate()
        .map(|(k, (_, name, sign, reference, constrained))| {
            let kept = done.iter().filter(|m| m[k] * sign > 0.0).count();
            // A prior-fixed sign is kept by construction, refitted or not.
            let share = if *constrained && completed == 0 {
                1.0
            } else {
                kept as f64 / completed.max(1) as f64
            };
            SignRow {
                coefficient: name.clone(),
                expected_sign: if *sign > 0.0 { "positive" } else { "negative" }.into(),
                reference: (*reference).into(),
                sign_constrained: *constrained,
                share_expected_sign: share,
                stable: (*constrained && completed == 0)
                    || (completed > 0 && share >= spec.diagnose.min_sign_share),
            }
        })
        .collect();
    Ok(SignStability {
        replicates: replicates_run,
        completed,
        block_length: block,
        rows,
        method: "moving-block residual bootstrap over the training weeks (Kuensch 1989): \
                 refit on the posterior-mean fitted curve plus centered residuals resampled in \
                 blocks of consecutive weeks, so spend, carry-over and controls stay intact (a \
                 geo hierarchy resamples every geo's own residuals with one block series for all \
                 geos, and checks the typical geo's coefficients); a refit keeps the sign when its \
                 posterior median has the expected sign; refits use diagnose.refit_chains x \
                 (refit_tune + refit_draws) NUTS iterations, warm-started from the full fit's \
                 posterior (standardized coordinates, its step size); replicates run in batches \
                 of 10 until Wald's sequential test decides every coefficient the prior does \
                 not sign (share min_sign_share - 0.05 against + 0.04, error rates 0.05), at \
                 most diagnose.bootstrap_replicates; when the prior signs every coefficient, \
                 no refit can change a sign and none is run"
            .into(),
    })
}

/// Rolling-origin cross-validation: fold i (1..=k) trains on the weeks before
/// n_train - (k - i + 1) h, rescaled on that window alone, and predicts the next h weeks; the
/// last fold ends at the end of the training window (the holdout is never touched). Under the
/// geo hierarchy a fold refits the whole panel and is scored on the national total, each
/// predictive draw summed over geos.
pub fn rolling_origin(
    spec: &Spec,
    subject: RefitSubject<'_>,
    refit: Refit<'_>,
    warm: Option<&WarmStart>,
    folds: usize,
    horizon: Option<usize>,
    seed: u64,
) -> Result<CrossValidation, RefitError> {
    let nt = subject.designs()[0].n_train;
    let h = horizon.unwrap_or_else(|| (nt / (4 * (folds + 1))).max(4));
    let first = nt
        .checked_sub(folds * h)
        .filter(|&f| f >= nt / 2 && f > 0)
        .ok_or(RefitError::Folds {
            folds,
            horizon: h,
            weeks: nt,
        })?;
    let rows = parallel_map(folds, |i| -> Option<CvRow> {
        let start = first + i * h;
        let (m, designs) = subject.with_training_window(spec, start)?;
        let draws = refit(&m, warm, seed.wrapping_add(10_000 + i as u64)).ok()?;
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(2_000_000 + i as u64);
        let fitted = m.fitted();
        let n = fitted.periods();
        let units = designs.len();
        let (mut mu, mut y) = (vec![0.0; units * n], vec![0.0; units * n]);
        let mut per_week = vec![Vec::with_capacity(draws.len()); h];
        for theta in &draws {
            fitted.predictive_draw_units(theta, &mut rng, &mut mu, &mut y);
            for (w, p) in per_week.iter_mut().enumerate() {
                p.push((0..units).map(|u| y[u * n + start + w]).sum());
            }
        }
        let observed: Vec<f64> = (start..start + h)
            .map(|t| {
                designs
                    .iter()
                    .map(|d| d.target_scaled[t] * d.scales.target)
                    .sum()
            })
            .collect();
        let pred: Vec<f64> = per_week.iter().map(|p| mean(p)).collect();
        let metrics = crate::predictive::point_metrics("cv", &observed, &pred);
        Some(CvRow {
            fold: i + 1,
            train_end_date: mmm_core::dates::iso(designs[0].dates[start - 1]),
            train_weeks: start,
            test_weeks: h,
            rmse: metrics.rmse,
            mape: metrics.mape,
            coverage_80: coverage(&observed, &per_week, 0.8),
        })
    });
    let rows: Vec<CvRow> = rows.into_iter().flatten().collect();
    let mapes: Vec<f64> = rows.iter().map(|r| r.mape).collect();
    let mean_mape = mean(&mapes);
    let sd_mape = (mapes.iter().map(|m| (m - mean_mape).powi(2)).sum::<f64>()
        / (mapes.len().max(2) - 1) as f64)
        .sqrt();
    let summary = CvSummary {
        mean_mape,
        sd_mape,
        mean_rmse: mean(&rows.iter().map(|r| r.rmse).collect::<Vec<_>>()),
        mean_coverage_80: mean(&rows.iter().map(|r| r.coverage_80).collect::<Vec<_>>()),
    };
    Ok(CrossValidation {
        folds: rows.len(),
        horizon: h,
        rows,
        summary,
        method: "rolling origin: each fold rescales and refits on the weeks before its origin \
                 (training window only, holdout untouched) and predicts the next horizon weeks; \
                 metrics of the posterior predictive mean in original target units (a geo \
                 hierarchy refits the panel and is scored on the national total, each \
                 predictive draw summed over geos)"
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Wald's boundaries at threshold 0.95 (p0 = 0.90, p1 = 0.99, a = 0.05): log LR per kept
    /// sign ln(1.1) = 0.0953, per lost sign ln(0.1) = -2.303, bounds +-ln(19) = +-2.944.
    #[test]
    fn the_sequential_test_stops_where_walds_boundaries_say() {
        // 31 kept signs: 2.955 >= 2.944; 30: 2.859, not yet.
        assert!(sprt_decided(31, 31, 0.95));
        assert!(!sprt_decided(30, 30, 0.95));
        // Two lost among ten: 8 x 0.0953 - 2 x 2.303 = -3.84: decided (unstable).
        assert!(sprt_decided(8, 10, 0.95));
        // One lost among ten: 0.858 - 2.303 = -1.445: not decided.
        assert!(!sprt_decided(9, 10, 0.95));
        assert!(!sprt_decided(0, 0, 0.95));
    }

    #[test]
    fn sign_fixed_coefficients_never_need_refits() {
        let coefs = vec![
            (0, "beta[x1]".to_string(), 1.0, "spec", true),
            (1, "gamma_control[t]".to_string(), 1.0, "full_fit", false),
        ];
        let kept = vec![1.0, 1.0];
        let lost = vec![1.0, -1.0];
        // The unconstrained coefficient decides: 31 kept signs, or two lost among ten.
        assert!(signs_decided(&coefs, &vec![&kept; 31], 0.95));
        assert!(!signs_decided(&coefs, &vec![&kept; 30], 0.95));
        let mut mixed = vec![&kept; 8];
        mixed.extend([&lost, &lost]);
        assert!(signs_decided(&coefs, &mixed, 0.95));
        // Constrained only: decided with no refit at all.
        assert!(signs_decided(&coefs[..1], &[], 0.95));
    }
}
