//! The diagnose stage: convergence, sampler health, predictive checks, and the gates.

use std::path::Path;

use mmm_core::columns::{bool_column, f64_column, i64_column};
use mmm_core::spec::LoadedSpec;
use mmm_core::summary::{central_interval, mean};
use mmm_core::{BatchBuilder, CoreError, Manifest, RunStatus, StageWriter, Upstream, schemas};
use mmm_features::Design;
use mmm_model::geo::GeoModel;
use mmm_model::joint::Fitted;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;
use mmm_model::{MmmModel, Posterior};
use serde::{Deserialize, Serialize};

use crate::convergence::{ParamSummary, ess_mean, summarize};
use crate::loo::{LooSummary, loo_waic};
use crate::predictive::{Predictive, predictive_checks};
use crate::prior_posterior::{PriorPosteriorRow, prior_posterior};
use crate::prior_predictive::{PriorPredictiveCheck, prior_predictive};
use crate::refits::{
    CrossValidation, Refit, RefitSubject, SignStability, WarmStart, rolling_origin, sign_stability,
};
use crate::sensitivity::{PriorSensitivity, power_scaling, sensitivity_inputs};
use mmm_core::summary::{quantile_sorted, sorted};

/// Name of the stage.
pub const STAGE: &str = "diagnose";

/// One gate: a rule from the spec, the measured value, pass or fail.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Gate {
    /// Gate id, e.g. `max_rhat`.
    pub name: String,
    /// The rule in words.
    pub rule: String,
    /// Threshold from the spec.
    pub threshold: f64,
    /// Measured value.
    pub value: f64,
    /// Whether the rule holds.
    pub passed: bool,
}

/// Convergence summary of one parameter.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ParamDiagnostics {
    /// Parameter name (draws.parquet column).
    pub name: String,
    /// Mean, sd (model scale), R-hat, bulk/tail ESS, MCSE of the mean.
    #[serde(flatten)]
    pub summary: ParamSummary,
}

/// Sampler health.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SamplerHealth {
    /// Number of chains.
    pub chains: usize,
    /// Kept draws per chain.
    pub draws_per_chain: usize,
    /// Post-warm-up divergent transitions.
    pub divergences: usize,
    /// Post-warm-up transitions that hit the maximum tree depth.
    pub max_depth_hits: usize,
    /// Energy Bayesian fraction of missing information per chain.
    pub ebfmi: Vec<f64>,
}

/// Fit quality on one window, in original units.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FitMetrics {
    /// Periods in the window.
    pub periods: usize,
    /// Root mean squared error of the posterior predictive mean.
    pub rmse: f64,
    /// Mean absolute percentage error (percent).
    pub mape: f64,
    /// 1 - SSE / SST of the posterior predictive mean.
    pub r2: f64,
    /// Share of observations inside the central predictive interval.
    pub coverage: f64,
    /// Mass of that interval.
    pub interval: f64,
}

/// diagnostics.json.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Diagnostics {
    /// True when every gate passed.
    pub passed: bool,
    /// True when any gate failed: every downstream result is marked "not for decisions".
    pub not_for_decisions: bool,
    /// The gates.
    pub gates: Vec<Gate>,
    /// Largest R-hat over parameters.
    pub max_rhat: f64,
    /// Smallest bulk ESS over parameters.
    pub min_ess_bulk: f64,
    /// Sampler health.
    pub sampler: SamplerHealth,
    /// Per-parameter convergence.
    pub parameters: Vec<ParamDiagnostics>,
    /// Fit on the training window.
    pub train: FitMetrics,
    /// Fit on the holdout, when there is one.
    pub holdout: Option<FitMetrics>,
    /// How the numbers were computed.
    pub method: String,
    /// Coverage at 50/80/95% and RMSE/MAPE/sMAPE/WAPE/R^2 per window.
    pub predictive: Predictive,
    /// PSIS-LOO and WAIC over the training window.
    pub loo: LooSummary,
    /// Prior versus posterior per parameter.
    pub prior_posterior: Vec<PriorPosteriorRow>,
    /// Channels with a prior-dominated parameter: their response is not learned from data.
    pub prior_dominated_channels: Vec<String>,
    /// Prior predictive check against the observed target (absent in older runs).
    #[serde(default)]
    pub prior_predictive: Option<PriorPredictiveCheck>,
    /// Geo hierarchy: each geo's fit (training window and holdout), in geo order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geos: Vec<GeoFit>,
    /// Coefficient sign stability over bootstrap refits (absent when not run).
    pub sign_stability: Option<SignStability>,
    /// Rolling-origin cross-validation (absent when not run).
    pub cross_validation: Option<CrossValidation>,
    /// Power-scaling prior and likelihood sensitivity (absent when
    /// `diagnose.prior_sensitivity = false`, and in older runs).
    #[serde(default)]
    pub sensitivity: Option<PriorSensitivity>,
}

/// One geo's predictive fit.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeoFit {
    /// The geo.
    pub geo: String,
    /// Training-window fit.
    pub train: FitMetrics,
    /// Holdout fit, when there is a holdout.
    pub holdout: Option<FitMetrics>,
}

/// Draws computed in parallel at a time by the per-draw loops (bounds their memory at 50 geos).
const PARALLEL_CHUNK: usize = 512;

/// Draws behind each geo's predictive bands (evenly spaced over the posterior).
const GEO_BAND_DRAWS: usize = 1000;

/// The measured values the gates judge.
#[derive(Debug, Clone, Copy)]
pub struct GateInputs {
    /// Largest R-hat.
    pub max_rhat: f64,
    /// Smallest bulk ESS.
    pub min_ess_bulk: f64,
    /// Post-warm-up divergences.
    pub divergences: usize,
    /// Smallest E-BFMI over chains.
    pub min_ebfmi: f64,
    /// Holdout MAPE (percent), when there is a holdout.
    pub holdout_mape: Option<f64>,
    /// See [`training_scale_deviation`]; no leakage gate when `None`.
    pub scale_deviation: Option<f64>,
}

/// Largest |max_abs(x[..n_train]) - 1| over the scaled target and channels. Zero when every
/// scale came from the training window alone (max-abs scaling makes the window's maximum
/// exactly 1); a scale computed over the holdout too shows up here whenever it changed anything.
/// `None` when the design was not max-abs scaled (the check then does not apply).
pub fn training_scale_deviation(design: &Design) -> Option<f64> {
    if !design.scales.method.starts_with("max-abs") {
        return None;
    }
    let nt = design.n_train;
    let dev = |v: &[f64]| (v[..nt].iter().fold(0.0_f64, |m, x| m.max(x.abs())) - 1.0).abs();
    Some(
        design
            .channels
            .iter()
            .map(|c| dev(c))
            .fold(dev(&design.target_scaled), f64::max),
    )
}

/// Every gate of the spec judged on `m`.
pub fn evaluate_gates(g: &mmm_core::spec::GateSpec, m: &GateInputs) -> Vec<Gate> {
    let mut gates = vec![
        Gate {
            name: "max_rhat".into(),
            rule: "largest rank-normalized split R-hat <= threshold".into(),
            threshold: g.max_rhat,
            value: m.max_rhat,
            passed: m.max_rhat <= g.max_rhat,
        },
        Gate {
            name: "min_bulk_ess".into(),
            rule: "smallest bulk ESS >= threshold".into(),
            threshold: g.min_bulk_ess,
            value: m.min_ess_bulk,
            passed: m.min_ess_bulk >= g.min_bulk_ess,
        },
        Gate {
            name: "max_divergences".into(),
            rule: "post-warm-up divergent transitions <= threshold".into(),
            threshold: g.max_divergences as f64,
            value: m.divergences as f64,
            passed: m.divergences as u64 <= g.max_divergences,
        },
        Gate {
            name: "min_ebfmi".into(),
            rule: "smallest E-BFMI over chains >= threshold".into(),
            threshold: g.min_ebfmi,
            value: m.min_ebfmi,
            passed: m.min_ebfmi >= g.min_ebfmi,
        },
    ];
    if let Some(dev) = m.scale_deviation {
        gates.push(Gate {
            name: "holdout_leakage".into(),
            rule: "scaling uses the training window only: largest |max-abs of the scaled \
                   training target or spend - 1| <= threshold"
                .into(),
            threshold: SCALE_TOLERANCE,
            value: dev,
            passed: dev <= SCALE_TOLERANCE,
        });
    }
    if let (Some(max_mape), Some(h)) = (g.max_holdout_mape, m.holdout_mape) {
        gates.push(Gate {
            name: "max_holdout_mape".into(),
            rule: "holdout MAPE (percent) of the posterior predictive mean <= threshold".into(),
            threshold: max_mape,
            value: h,
            passed: h <= max_mape,
        });
    }
    gates
}

/// Round-off allowed in [`training_scale_deviation`] (x / max|x| is exactly 1 in IEEE arithmetic;
/// the slack covers a design read back from text).
const SCALE_TOLERANCE: f64 = 1e-12;

/// Errors of the diagnose stage.
#[derive(Debug, thiserror::Error)]
pub enum DiagnoseError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The model could not be rebuilt.
    #[error(transparent)]
    Model(#[from] mmm_model::ModelError),
    /// An output table could not be assembled.
    #[error("building {table}: {source}")]
    Table {
        /// The artifact.
        table: &'static str,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// A refit check could not run.
    #[error(transparent)]
    Refit(#[from] crate::refits::RefitError),
}

/// Largest value, or NaN when any value is NaN: a NaN diagnostic (e.g. a stuck chain) must fail
/// its gate rather than be skipped.
fn nan_max(values: impl Iterator<Item = f64>) -> f64 {
    values.fold(f64::NEG_INFINITY, |a, b| {
        if a.is_nan() || b.is_nan() {
            f64::NAN
        } else {
            a.max(b)
        }
    })
}

/// Series a refit fits: 1 nationally, the number of geos under the hierarchy.
fn subject_units(subject: &RefitSubject<'_>) -> usize {
    match subject {
        RefitSubject::National { .. } => 1,
        RefitSubject::Geo { panel, .. } => panel.len(),
    }
}

/// E-BFMI = sum (E_t - E_{t-1})^2 / sum (E_t - mean E)^2 over a chain's kept draws.
pub fn ebfmi(energy: &[f64]) -> f64 {
    if energy.len() < 2 {
        return f64::NAN;
    }
    let m = mean(energy);
    let num: f64 = energy.windows(2).map(|w| (w[1] - w[0]).powi(2)).sum();
    let den: f64 = energy.iter().map(|e| (e - m).powi(2)).sum();
    num / den
}

fn metrics(
    obs: &[f64],
    pred_mean: &[f64],
    lower: &[f64],
    upper: &[f64],
    interval: f64,
) -> FitMetrics {
    let n = obs.len();
    let m = mean(obs);
    let sse: f64 = obs
        .iter()
        .zip(pred_mean)
        .map(|(o, p)| (o - p).powi(2))
        .sum();
    let sst: f64 = obs.iter().map(|o| (o - m).powi(2)).sum();
    let mape = 100.0
        * obs
            .iter()
            .zip(pred_mean)
            .filter(|(o, _)| **o != 0.0)
            .map(|(o, p)| ((o - p) / o).abs())
            .sum::<f64>()
        / obs.iter().filter(|o| **o != 0.0).count().max(1) as f64;
    let inside = (0..n)
        .filter(|&i| obs[i] >= lower[i] && obs[i] <= upper[i])
        .count();
    FitMetrics {
        periods: n,
        rmse: (sse / n as f64).sqrt(),
        mape,
        r2: 1.0 - sse / sst,
        coverage: inside as f64 / n as f64,
        interval,
    }
}

/// The diagnose stage without refits (no sign stability or cross-validation).
pub fn run(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    out_dir: &Path,
    force: bool,
) -> Result<(Option<Manifest>, Diagnostics), DiagnoseError> {
    run_with_refits(spec, features_dir, fit_dir, out_dir, force, None)
}

/// The diagnose stage. With `refit`, also the bootstrap sign stability and rolling-origin
/// cross-validation of `spec.diagnose`. Returns the manifest (None when the outputs were fresh)
/// and the result.
pub fn run_with_refits(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    out_dir: &Path,
    force: bool,
    refit: Option<Refit<'_>>,
) -> Result<(Option<Manifest>, Diagnostics), DiagnoseError> {
    let [features, fit] = mmm_core::open_chain(
        spec.into(),
        [(features_dir, mmm_features::STAGE), (fit_dir, "fit")],
    )?;
    let (design, mut inputs) = Design::load(&features, &spec.spec)?;
    let panel = if spec.spec.geo.is_hierarchical() {
        let (panel, records) = mmm_features::panel::GeoDesign::load(&features, &spec.spec)?;
        inputs.extend(records);
        Some(panel)
    } else {
        None
    };
    let (draws, rec_d) = fit.parquet("draws.parquet")?;
    let (stats, rec_s) = fit.parquet("sample_stats.parquet")?;
    inputs.extend([rec_d, rec_s]);
    // Whether refits ran changes the output, so it is part of what makes it fresh.
    let stage_inputs = mmm_core::StageInputs::new(spec, &[&features, &fit], inputs)
        .with_options(serde_json::json!({ "refits": refit.is_some() }));
    let Some(mut writer) =
        StageWriter::begin(out_dir, &mmm_core::stage_id!(STAGE), stage_inputs, force)?
    else {
        // Fresh: report the existing result without rewriting anything.
        let (d, _) = Upstream::open(out_dir, STAGE)?.json::<Diagnostics>("diagnostics.json")?;
        return Ok((None, d));
    };
    let national = MmmModel::new(&spec.spec, &design)?;
    let hierarchy = match &panel {
        Some(panel) => Some(GeoModel::new(&spec.spec, panel)?),
        None => None,
    };
    let model: &dyn Fitted = match &hierarchy {
        Some(h) => h,
        None => &national,
    };
    let posterior =
        Posterior::from_columns(&draws, &model.param_names(), &fit_dir.join("draws.parquet"))?;
    let subject = match (&panel, &hierarchy) {
        (Some(panel), Some(model)) => RefitSubject::Geo { panel, model },
        _ => RefitSubject::National {
            design: &design,
            model: &national,
        },
    };
    let context = Context {
        spec,
        design: &design,
        panel: panel.as_ref(),
        model,
        subject,
        posterior: &posterior,
    };
    let stats_path = fit_dir.join("sample_stats.parquet");
    let (mut diagnostics, outputs, kept_steps) = diagnose(&context, &stats, &stats_path)?;
    (diagnostics.sign_stability, diagnostics.cross_validation) =
        refit_checks(&context, subject, refit, &kept_steps)?;
    write_outputs(&mut writer, &context, &diagnostics, &outputs)?;
    let settings = serde_json::json!({
        "gates": &spec.spec.gates,
        "interval": spec.spec.decisions.interval,
        "diagnose": &spec.spec.diagnose,
        "refits": refit.is_some(),
    });
    let manifest = writer.finish(Some(spec.spec.sampler.seed), settings, RunStatus::Complete)?;
    Ok((Some(manifest), diagnostics))
}

/// What every check of the stage reads.
struct Context<'a> {
    spec: &'a LoadedSpec,
    design: &'a Design,
    panel: Option<&'a mmm_features::panel::GeoDesign>,
    model: &'a dyn Fitted,
    subject: RefitSubject<'a>,
    posterior: &'a Posterior,
}

/// The stage's tables, written after diagnostics.json is assembled.
struct Outputs {
    ppc: arrow::array::RecordBatch,
    geo_ppc: Option<arrow::array::RecordBatch>,
    prior_predictive: arrow::array::RecordBatch,
}

/// Every check but the refits: the diagnostics (without sign stability and cross-validation),
/// the tables, and the post-warm-up step sizes (the refits' warm start reads them).
fn diagnose(
    cx: &Context<'_>,
    stats: &arrow::array::RecordBatch,
    stats_path: &Path,
) -> Result<(Diagnostics, Outputs, Vec<f64>), DiagnoseError> {
    let (parameters, max_rhat, min_ess) = convergence(cx.model, cx.posterior);
    let (sampler, kept_steps) = sampler_health(stats, stats_path, cx)?;
    let interval = cx.spec.spec.decisions.interval;
    let draws = predictive_draws(cx);
    let observed = cx.design.target();
    let pred_mean: Vec<f64> = draws.preds.iter().map(|p| mean(p)).collect();
    let bounds: Vec<(f64, f64)> = mmm_core::parallel::map_indexed(cx.design.len(), 16, |t| {
        central_interval(&draws.preds[t], interval)
    });
    let lower: Vec<f64> = bounds.iter().map(|b| b.0).collect();
    let upper: Vec<f64> = bounds.iter().map(|b| b.1).collect();
    let nt = cx.design.n_train;
    let (train, holdout) = train_and_holdout(&observed, &pred_mean, &lower, &upper, nt, interval);
    let predictive = predictive_checks(&observed, &pred_mean, &draws.preds, nt);
    let ppc = ppc_table(cx.design, &observed, draws.mus, &pred_mean, lower, upper)?;
    let (geos, geo_ppc) = match cx.panel {
        Some(panel) => {
            let (fits, table) = geo_fits(panel, &draws.geo_preds, cx.design.len(), nt, interval)?;
            (fits, Some(table))
        }
        None => (Vec::new(), None),
    };
    let min_ebfmi = -nan_max(sampler.ebfmi.iter().map(|e| -e));
    let gates = evaluate_gates(
        &cx.spec.spec.gates,
        &GateInputs {
            max_rhat,
            min_ess_bulk: min_ess,
            divergences: sampler.divergences,
            min_ebfmi,
            holdout_mape: holdout.as_ref().map(|h| h.mape),
            scale_deviation: training_scale_deviation(cx.design),
        },
    );
    let (loo, draw_log_lik) = loo(cx);
    let sensitivity = cx
        .spec
        .spec
        .diagnose
        .prior_sensitivity
        .then(|| prior_sensitivity(cx, draw_log_lik));
    let (prior_check, prior_predictive_table, prior_posterior, prior_dominated_channels) =
        prior_checks(cx, &observed)?;
    let passed = gates.iter().all(|g| g.passed);
    let diagnostics = Diagnostics {
        passed,
        not_for_decisions: !passed,
        gates,
        max_rhat,
        min_ess_bulk: min_ess,
        sampler,
        parameters,
        train,
        holdout,
        method: method_note(cx.model.likelihood()),
        predictive,
        loo,
        prior_posterior,
        prior_dominated_channels,
        prior_predictive: Some(prior_check),
        geos,
        sign_stability: None,
        cross_validation: None,
        sensitivity,
    };
    let outputs = Outputs {
        ppc,
        geo_ppc,
        prior_predictive: prior_predictive_table,
    };
    Ok((diagnostics, outputs, kept_steps))
}

/// How the diagnostics were computed, naming the likelihood of the predictive draws.
fn method_note(likelihood: mmm_model::Likelihood) -> String {
    format!(
        "R-hat, bulk/tail ESS and MCSE per Vehtari et al. (2021) as ArviZ computes them; \
         E-BFMI per chain from post-warm-up energies; predictive intervals are central \
         intervals of one posterior predictive draw per posterior draw ({} noise, \
         seeded), in original target units",
        match likelihood {
            mmm_model::Likelihood::Normal => "Normal",
            mmm_model::Likelihood::StudentT => "Student-t",
            mmm_model::Likelihood::LogNormal => "LogNormal",
            mmm_model::Likelihood::Poisson => "Poisson",
            mmm_model::Likelihood::NegativeBinomial => "negative-binomial",
        }
    )
}

/// Convergence per parameter, with the largest R-hat and the smallest bulk ESS.
fn convergence(model: &dyn Fitted, posterior: &Posterior) -> (Vec<ParamDiagnostics>, f64, f64) {
    let names = model.param_names();
    let parameters: Vec<ParamDiagnostics> = mmm_core::parallel::map_indexed(names.len(), 2, |j| {
        let chains = posterior.param_chains(j);
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        ParamDiagnostics {
            name: names[j].clone(),
            summary: summarize(&refs),
        }
    });
    let max_rhat = nan_max(parameters.iter().map(|p| p.summary.rhat));
    let min_ess = -nan_max(parameters.iter().map(|p| -p.summary.ess_bulk));
    (parameters, max_rhat, min_ess)
}

/// Sampler health from sample_stats (post-warm-up rows), and the post-warm-up step sizes.
fn sampler_health(
    stats: &arrow::array::RecordBatch,
    stats_path: &Path,
    cx: &Context<'_>,
) -> Result<(SamplerHealth, Vec<f64>), DiagnoseError> {
    let chain = i64_column(stats, "chain", stats_path)?;
    let warmup = bool_column(stats, "warmup", stats_path)?;
    let diverging = bool_column(stats, "diverging", stats_path)?;
    let depth = i64_column(stats, "tree_depth", stats_path)?;
    let energy = f64_column(stats, "energy", stats_path)?;
    let step_size = f64_column(stats, "step_size", stats_path)?;
    let n_chains = cx.spec.spec.sampler.chains;
    let max_depth = cx.spec.spec.sampler.max_tree_depth as i64;
    let kept: Vec<usize> = (0..chain.len()).filter(|&i| !warmup[i]).collect();
    let ebfmi: Vec<f64> = (0..n_chains as i64)
        .map(|c| {
            ebfmi(
                &kept
                    .iter()
                    .filter(|&&i| chain[i] == c)
                    .map(|&i| energy[i])
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let health = SamplerHealth {
        chains: n_chains,
        draws_per_chain: cx.posterior.len() / n_chains.max(1),
        divergences: kept.iter().filter(|&&i| diverging[i]).count(),
        max_depth_hits: kept.iter().filter(|&&i| depth[i] >= max_depth).count(),
        ebfmi,
    };
    Ok((health, kept.iter().map(|&i| step_size[i]).collect()))
}

/// Posterior predictive draws in original units.
struct PredictiveDraws {
    /// Per period, one draw of the (national) target per posterior draw.
    preds: Vec<Vec<f64>>,
    /// Per period, the mean of the expected target over the draws.
    mus: Vec<f64>,
    /// Per geo and period (geo-major), the draws of every `stride`-th posterior draw; empty
    /// nationally.
    geo_preds: Vec<Vec<f64>>,
}

/// Posterior predictive draws, in original units, with a seeded noise stream; a hierarchy's
/// national prediction is the sum of its geos' draws.
fn predictive_draws(cx: &Context<'_>) -> PredictiveDraws {
    let (model, posterior) = (cx.model, cx.posterior);
    let n = cx.design.len();
    let nu = model.unit_names().len();
    let mut rng = ChaCha8Rng::seed_from_u64(cx.spec.spec.sampler.seed);
    rng.set_stream(u64::MAX);
    let mut preds = vec![vec![0.0; posterior.len()]; n];
    let mut mus = vec![0.0; n];
    let mut buf = vec![0.0; nu * n];
    let mut mu_buf = vec![0.0; nu * n];
    // Geo bands from at most GEO_BAND_DRAWS evenly spaced draws, to bound memory at 50 geos.
    let stride = posterior.len().div_ceil(GEO_BAND_DRAWS).max(1);
    let mut geo_preds: Vec<Vec<f64>> = vec![Vec::new(); if nu > 1 { nu * n } else { 0 }];
    // The linear predictors in parallel, a bounded chunk of draws at a time; the noise in draw
    // order from the one seeded stream, so the draws do not depend on the thread count.
    let mut etas: Vec<Vec<f64>> = Vec::new();
    for (k, theta) in posterior.theta.iter().enumerate() {
        if k % PARALLEL_CHUNK == 0 {
            let chunk = k..(k + PARALLEL_CHUNK).min(posterior.len());
            etas = mmm_core::parallel::map_indexed(chunk.len(), 64, |i| {
                let mut eta = vec![0.0; nu * n];
                model.linear_predictor_units(&posterior.theta[chunk.start + i], &mut eta);
                eta
            });
        }
        mu_buf.copy_from_slice(&etas[k % PARALLEL_CHUNK]);
        model.predictive_draw_from_linear_units(theta, &mut rng, &mut mu_buf, &mut buf);
        for t in 0..n {
            preds[t][k] = (0..nu).map(|u| buf[u * n + t]).sum();
            mus[t] += (0..nu).map(|u| mu_buf[u * n + t]).sum::<f64>() / posterior.len() as f64;
        }
        if nu > 1 && k % stride == 0 {
            for (p, v) in geo_preds.iter_mut().zip(&buf) {
                p.push(*v);
            }
        }
    }
    PredictiveDraws {
        preds,
        mus,
        geo_preds,
    }
}

/// Fit metrics of the training window and, when there is one, of the holdout.
fn train_and_holdout(
    observed: &[f64],
    pred_mean: &[f64],
    lower: &[f64],
    upper: &[f64],
    nt: usize,
    interval: f64,
) -> (FitMetrics, Option<FitMetrics>) {
    let train = metrics(
        &observed[..nt],
        &pred_mean[..nt],
        &lower[..nt],
        &upper[..nt],
        interval,
    );
    let holdout = (nt < observed.len()).then(|| {
        metrics(
            &observed[nt..],
            &pred_mean[nt..],
            &lower[nt..],
            &upper[nt..],
            interval,
        )
    });
    (train, holdout)
}

/// ppc.parquet: observed, mean prediction and the predictive band per period.
fn ppc_table(
    design: &Design,
    observed: &[f64],
    mus: Vec<f64>,
    pred_mean: &[f64],
    lower: Vec<f64>,
    upper: Vec<f64>,
) -> Result<arrow::array::RecordBatch, DiagnoseError> {
    let (n, nt) = (design.len(), design.n_train);
    BatchBuilder::new()
        .date("date", design.dates.clone())
        .bool("is_train", (0..n).map(|t| t < nt).collect())
        .f64("observed", observed.to_vec())
        .f64("mu_mean", mus)
        .f64("pred_mean", pred_mean.to_vec())
        .f64("pred_lower", lower)
        .f64("pred_upper", upper)
        .build()
        .map_err(|source| DiagnoseError::Table {
            table: "ppc.parquet",
            source,
        })
}

/// Each geo's bands and fit from its thinned draws, and geo_ppc.parquet.
fn geo_fits(
    panel: &mmm_features::panel::GeoDesign,
    geo_preds: &[Vec<f64>],
    n: usize,
    nt: usize,
    interval: f64,
) -> Result<(Vec<GeoFit>, arrow::array::RecordBatch), DiagnoseError> {
    let mut fits = Vec::new();
    let mut cols: (Vec<String>, Vec<i32>, Vec<bool>) = Default::default();
    let mut vals: [Vec<f64>; 4] = Default::default();
    for (g, (geo, d)) in panel.geos.iter().zip(&panel.designs).enumerate() {
        let obs = d.target();
        let draws = &geo_preds[g * n..(g + 1) * n];
        let m: Vec<f64> = draws.iter().map(|p| mean(p)).collect();
        let b: Vec<(f64, f64)> = draws
            .iter()
            .map(|p| central_interval(p, interval))
            .collect();
        let lo: Vec<f64> = b.iter().map(|x| x.0).collect();
        let hi: Vec<f64> = b.iter().map(|x| x.1).collect();
        let (train, holdout) = train_and_holdout(&obs, &m, &lo, &hi, nt, interval);
        fits.push(GeoFit {
            geo: geo.clone(),
            train,
            holdout,
        });
        cols.0.extend(std::iter::repeat_n(geo.clone(), n));
        cols.1.extend(&d.dates);
        cols.2.extend((0..n).map(|t| t < nt));
        for (v, x) in vals.iter_mut().zip([obs, m, lo, hi]) {
            v.extend(x);
        }
    }
    let [obs, m, lo, hi] = vals;
    let table = BatchBuilder::new()
        .string("geo", cols.0)
        .date("date", cols.1)
        .bool("is_train", cols.2)
        .f64("observed", obs)
        .f64("pred_mean", m)
        .f64("pred_lower", lo)
        .f64("pred_upper", hi)
        .build()
        .map_err(|source| DiagnoseError::Table {
            table: "geo_ppc.parquet",
            source,
        })?;
    Ok((fits, table))
}

/// PSIS-LOO and WAIC over the training window, densities of the original-unit target: one row
/// per training observation (per period, or per geo and period); with each draw's total log
/// likelihood over those rows, in chain-major order.
fn loo(cx: &Context<'_>) -> (LooSummary, Vec<f64>) {
    let (model, posterior) = (cx.model, cx.posterior);
    let n_chains = cx.spec.spec.sampler.chains;
    let r_eff = if n_chains <= 1 {
        1.0
    } else {
        let e: Vec<f64> = (0..model.dim())
            .map(|j| {
                let chains = posterior.param_chains(j);
                let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
                ess_mean(&refs)
            })
            .collect();
        mean(&e) / posterior.len() as f64
    };
    let rows = model.unit_names().len() * cx.design.n_train;
    let order = chain_major_order(posterior);
    // Draws in parallel, a bounded chunk at a time so a panel's rows are not held twice.
    let mut log_lik = vec![vec![0.0; posterior.len()]; rows];
    for chunk_start in (0..order.len()).step_by(PARALLEL_CHUNK) {
        let chunk = chunk_start..(chunk_start + PARALLEL_CHUNK).min(order.len());
        let per_draw: Vec<Vec<f64>> = mmm_core::parallel::map_blocks(chunk.len(), 64, |range| {
            range
                .map(|i| {
                    let mut ll = vec![0.0; rows];
                    let k = order[chunk.start + i];
                    model.pointwise_log_likelihood_units(&posterior.theta[k], &mut ll);
                    ll
                })
                .collect()
        });
        for (i, ll) in per_draw.iter().enumerate() {
            for (row, v) in log_lik.iter_mut().zip(ll) {
                row[chunk.start + i] = *v;
            }
        }
    }
    let mut totals = vec![0.0; order.len()];
    for row in &log_lik {
        for (t, v) in totals.iter_mut().zip(row) {
            *t += v;
        }
    }
    let summary = loo_waic(&log_lik, r_eff, cx.spec.spec.diagnose.pareto_k_threshold);
    (summary, totals)
}

/// Power-scaling sensitivity of the parameters and the channel quantities, from the draws in
/// chain-major order and their total log likelihood `log_lik` (see [`crate::sensitivity`]).
fn prior_sensitivity(cx: &Context<'_>, log_lik: Vec<f64>) -> PriorSensitivity {
    let started = std::time::Instant::now();
    let order = chain_major_order(cx.posterior);
    let inputs = sensitivity_inputs(cx.subject, cx.posterior, &order, log_lik);
    let result = power_scaling(&inputs);
    tracing::info!(
        seconds = started.elapsed().as_secs_f64(),
        flagged = result.flagged.len(),
        "prior sensitivity (diagnose.prior_sensitivity = false skips it)"
    );
    result
}

/// The prior predictive check and its table, prior-vs-posterior contraction, and the channels
/// whose parameters the prior dominates.
fn prior_checks(
    cx: &Context<'_>,
    observed: &[f64],
) -> Result<
    (
        PriorPredictiveCheck,
        arrow::array::RecordBatch,
        Vec<PriorPosteriorRow>,
        Vec<String>,
    ),
    DiagnoseError,
> {
    let ds = &cx.spec.spec.diagnose;
    let seed = cx.spec.spec.sampler.seed;
    let (n, nt) = (cx.design.len(), cx.design.n_train);
    let interval = cx.spec.spec.decisions.interval;
    let (check, bands) = prior_predictive(cx.model, observed, nt, ds.prior_draws, seed, interval);
    let table = BatchBuilder::new()
        .date("date", cx.design.dates.clone())
        .bool("is_train", (0..n).map(|t| t < nt).collect())
        .f64("observed", observed.to_vec())
        .f64("prior_mean", bands.mean)
        .f64("prior_lower_50", bands.lower_50)
        .f64("prior_upper_50", bands.upper_50)
        .f64("prior_lower", bands.lower)
        .f64("prior_upper", bands.upper)
        .build()
        .map_err(|source| DiagnoseError::Table {
            table: "prior_predictive.parquet",
            source,
        })?;
    let rows = prior_posterior(
        cx.model,
        &cx.posterior.theta,
        ds.prior_draws,
        seed,
        ds.min_contraction,
    );
    let dominated = cx
        .spec
        .spec
        .channels
        .iter()
        .filter(|c| {
            rows.iter()
                .any(|r| r.prior_dominated && r.parameter.ends_with(&format!("[{}]", c.name)))
        })
        .map(|c| c.name.clone())
        .collect();
    Ok((check, table, rows, dominated))
}

/// Bootstrap sign stability and rolling-origin cross-validation, when `refit` is given.
fn refit_checks(
    cx: &Context<'_>,
    subject: RefitSubject<'_>,
    refit: Option<Refit<'_>>,
    kept_steps: &[f64],
) -> Result<(Option<SignStability>, Option<CrossValidation>), DiagnoseError> {
    let Some(refit) = refit else {
        return Ok((None, None));
    };
    let (spec, ds) = (&cx.spec.spec, &cx.spec.spec.diagnose);
    let warm = ds
        .refit_warm_start
        .then(|| {
            let step = quantile_sorted(&sorted(kept_steps), 0.5);
            WarmStart::from_posterior(subject, &cx.posterior.theta, step)
        })
        .flatten();
    // Each refit is a fit of the whole model, so on a large panel they dominate the stage.
    tracing::info!(
        bootstrap_refits = ds.bootstrap_replicates,
        cv_folds = ds.cv_folds,
        units = subject_units(&subject),
        "refit checks ([diagnose] bootstrap_replicates and cv_folds set their number; \
         --no-refits skips them)"
    );
    let signs = (ds.bootstrap_replicates > 0)
        .then(|| {
            sign_stability(
                spec,
                subject,
                &cx.posterior.theta,
                refit,
                warm.as_ref(),
                ds.bootstrap_replicates,
                ds.bootstrap_block_length,
                spec.sampler.seed,
            )
        })
        .transpose()?;
    let cv = (ds.cv_folds > 0)
        .then(|| {
            rolling_origin(
                spec,
                subject,
                refit,
                warm.as_ref(),
                ds.cv_folds,
                ds.cv_horizon,
                spec.sampler.seed,
            )
        })
        .transpose()?;
    Ok((signs, cv))
}

/// Write the tables, diagnostics.json and the causal-structure checks (warnings and notes
/// only, never a gate).
fn write_outputs(
    writer: &mut StageWriter,
    cx: &Context<'_>,
    diagnostics: &Diagnostics,
    outputs: &Outputs,
) -> Result<(), DiagnoseError> {
    writer.write_parquet("ppc.parquet", &outputs.ppc, &schemas::ppc())?;
    if let Some(batch) = &outputs.geo_ppc {
        writer.write_parquet("geo_ppc.parquet", batch, &schemas::geo_ppc())?;
    }
    writer.write_parquet(
        "prior_predictive.parquet",
        &outputs.prior_predictive,
        &schemas::prior_predictive(),
    )?;
    writer.write_json("diagnostics.json", diagnostics, None)?;
    let causal = crate::causal::check(
        &cx.spec.spec,
        cx.design,
        &crate::causal::CausalSettings {
            seed: cx.spec.spec.sampler.seed,
            ..Default::default()
        },
    );
    for message in causal.warnings.iter().chain(&causal.notes) {
        tracing::warn!("{message}");
    }
    writer.write_json(crate::causal::FILE, &causal, None)?;
    Ok(())
}

/// Draw indices sorted by (chain, draw): the sample order ArviZ stacks for LOO.
fn chain_major_order(posterior: &Posterior) -> Vec<usize> {
    let mut order: Vec<usize> = (0..posterior.len()).collect();
    order.sort_by_key(|&k| (posterior.chain[k], posterior.draw[k]));
    order
}
