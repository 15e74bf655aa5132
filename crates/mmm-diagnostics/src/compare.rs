//! `mmm compare`: refresh stability between runs (ROI, shares, parameters, sign flips,
//! prediction drift, with a guardrail) and a ranking of runs on the same data by PSIS-LOO, with
//! their LOO stacking, pseudo-BMA and pseudo-BMA+ weights (`crate::stacking`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mmm_core::columns::{bool_column, date_column, f64_column, i64_column, string_column};
use mmm_core::summary::{central_interval, quantile_sorted, sorted};
use mmm_core::{CoreError, Spec, Upstream};
use serde::{Deserialize, Serialize};

use crate::loo::{LooSummary, elpd_difference};
use crate::stacking::{ModelWeights, model_weights};

/// Posterior mean and central interval of one quantity.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Interval {
    /// Posterior mean.
    pub mean: f64,
    /// Lower end of the interval.
    pub lower: f64,
    /// Upper end of the interval.
    pub upper: f64,
}

/// Change of one channel between two runs (original units).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChannelChange {
    /// Channel name.
    pub channel: String,
    /// ROAS (contribution per unit of spend) in the earlier run, from its roi.parquet.
    pub roas_a: Interval,
    /// ROAS in the later run.
    pub roas_b: Interval,
    /// (mean ROAS b - mean ROAS a) / |mean ROAS a|.
    pub roas_relative_change: f64,
    /// Share of media contribution in the earlier run.
    pub share_a: Interval,
    /// Share of media contribution in the later run.
    pub share_b: Interval,
    /// Mean share b - mean share a.
    pub share_change: f64,
    /// Mean ROAS changed sign.
    pub sign_flip: bool,
    /// |roas_relative_change| above the guardrail threshold.
    pub exceeds_threshold: bool,
}

impl std::fmt::Display for ChannelChange {
    /// `channel: ROAS a [interval] -> ROAS b [interval] (change), share a -> b`, and
    /// `SIGN FLIP` when the mean ROAS changed sign.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (a, b) = (&self.roas_a, &self.roas_b);
        write!(
            f,
            "{}: {:.4} [{:.4}, {:.4}] -> {:.4} [{:.4}, {:.4}] ({:+.1}%), share {:.3} -> {:.3}{}",
            self.channel,
            a.mean,
            a.lower,
            a.upper,
            b.mean,
            b.lower,
            b.upper,
            100.0 * self.roas_relative_change,
            self.share_a.mean,
            self.share_b.mean,
            if self.sign_flip { "  SIGN FLIP" } else { "" }
        )
    }
}

/// Change of one parameter between two runs (model scale, as in draws.parquet).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ParamChange {
    /// Parameter name.
    pub parameter: String,
    /// Earlier run.
    pub a: Interval,
    /// Later run.
    pub b: Interval,
    /// A coefficient whose posterior medians have opposite signs while at least one run's
    /// interval excludes zero.
    pub sign_flip: bool,
}

/// Difference of the posterior predictive means on the weeks both runs cover.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Drift {
    /// Weeks present in both runs.
    pub overlapping_weeks: usize,
    /// Mean |pred_mean b - pred_mean a| (target units).
    pub mean_abs_diff: f64,
    /// Largest |pred_mean b - pred_mean a| (target units).
    pub max_abs_diff: f64,
    /// mean_abs_diff / mean |observed| on those weeks (percent).
    pub mean_abs_diff_pct: f64,
}

/// The guardrail verdict of one refresh.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Guardrail {
    /// Largest allowed relative ROAS change (later run's `diagnose.max_roi_change`).
    pub max_roi_change: f64,
    /// No sign flip and no ROAS change above the threshold.
    pub passed: bool,
    /// Why it failed, one line per finding.
    pub reasons: Vec<String>,
}

/// Run B against run A.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Refresh {
    /// Earlier run directory.
    pub run_a: String,
    /// Later run directory.
    pub run_b: String,
    /// Per channel.
    pub channels: Vec<ChannelChange>,
    /// Per parameter present in both runs.
    pub parameters: Vec<ParamChange>,
    /// Prediction drift.
    pub drift: Drift,
    /// Verdict.
    pub guardrail: Guardrail,
}

/// One run in the LOO ranking.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RankRow {
    /// 1 = highest elpd_loo.
    pub rank: usize,
    /// Run directory.
    pub run: String,
    /// Model name from the run's spec.
    pub model: String,
    /// elpd_loo of the run.
    pub elpd_loo: f64,
    /// Its standard error.
    pub se: f64,
    /// elpd_loo of the best run minus this run's (0 for the best).
    pub elpd_diff: f64,
    /// Standard error of that paired difference, sqrt(n var(elpd_best_i - elpd_i)).
    pub se_diff: f64,
    /// Effective number of parameters.
    pub p_loo: f64,
    /// Largest Pareto k.
    pub pareto_k_max: f64,
    /// Observations with k above the threshold.
    pub n_bad_k: usize,
    /// LOO stacking weight of the run among the compared runs (Yao et al. 2018; as
    /// az.compare(method="stacking")).
    #[serde(default)]
    pub stacking_weight: f64,
    /// Pseudo-BMA weight: proportional to exp(elpd_loo) (az.compare method="pseudo-BMA").
    #[serde(default)]
    pub pseudo_bma_weight: f64,
    /// Pseudo-BMA+ weight: pseudo-BMA stabilized by the Bayesian bootstrap (1000 replicates,
    /// fixed seed; az.compare method="BB-pseudo-BMA").
    #[serde(default)]
    pub pseudo_bma_plus_weight: f64,
}

/// compare.json.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// Every later run against the first.
    pub refreshes: Vec<Refresh>,
    /// Runs ranked by PSIS-LOO, when all were fitted on the same training data.
    pub ranking: Option<Vec<RankRow>>,
    /// Why there is no ranking, when there is none.
    pub ranking_note: Option<String>,
    /// How the ranking's model weights were computed (with the ranking).
    #[serde(default)]
    pub weights_method: Option<String>,
    /// True when every guardrail passed.
    pub passed: bool,
    /// How the numbers were computed.
    pub method: String,
}

/// Errors of `mmm compare`.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// Reading a run failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A run is missing something compare needs.
    #[error("{path}: {message}")]
    Run {
        /// The file or directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

struct RunData {
    dir: PathBuf,
    spec: Spec,
    /// (channel, metric) -> (mean, lower, upper).
    roi: BTreeMap<(String, String), Interval>,
    /// Parameter -> draws.
    draws: BTreeMap<String, Vec<f64>>,
    ppc_dates: Vec<i32>,
    ppc_train: Vec<bool>,
    observed: Vec<f64>,
    pred_mean: Vec<f64>,
    loo: Option<LooSummary>,
}

/// The ROI table of a finished decide stage (`DIR/roi.parquet`), its hash verified.
pub fn read_roi_table(decide_dir: &Path) -> Result<RoiTable, CompareError> {
    let decide = Upstream::open(decide_dir, "decide")?;
    let (roi_batch, _) = decide.parquet("roi.parquet")?;
    let roi_path = decide_dir.join("roi.parquet");
    let ch = string_column(&roi_batch, "channel", &roi_path)?;
    let metric = string_column(&roi_batch, "metric", &roi_path)?;
    let m = f64_column(&roi_batch, "mean", &roi_path)?;
    let lo = f64_column(&roi_batch, "lower", &roi_path)?;
    let hi = f64_column(&roi_batch, "upper", &roi_path)?;
    Ok((0..ch.len())
        .map(|i| {
            (
                (ch[i].clone(), metric[i].clone()),
                Interval {
                    mean: m[i],
                    lower: lo[i],
                    upper: hi[i],
                },
            )
        })
        .collect())
}

fn load_run(dir: &Path) -> Result<RunData, CompareError> {
    let spec = Spec::load(&dir.join("spec.toml"))?;
    let roi = read_roi_table(&dir.join("decide"))?;
    let fit = Upstream::open(&dir.join("fit"), "fit")?;
    let (draws_batch, _) = fit.parquet("draws.parquet")?;
    let draws_path = dir.join("fit").join("draws.parquet");
    i64_column(&draws_batch, "chain", &draws_path)?;
    let mut draws = BTreeMap::new();
    for field in draws_batch.schema().fields() {
        let name = field.name();
        if name != "chain" && name != "draw" {
            draws.insert(name.clone(), f64_column(&draws_batch, name, &draws_path)?);
        }
    }
    let diagnose = Upstream::open(&dir.join("diagnose"), "diagnose")?;
    let (ppc, _) = diagnose.parquet("ppc.parquet")?;
    let ppc_path = dir.join("diagnose").join("ppc.parquet");
    let (diag, _): (serde_json::Value, _) = diagnose.json("diagnostics.json")?;
    let loo = diag
        .get("loo")
        .and_then(|v| serde_json::from_value::<LooSummary>(v.clone()).ok());
    Ok(RunData {
        dir: dir.to_path_buf(),
        roi,
        draws,
        ppc_dates: date_column(&ppc, "date", &ppc_path)?,
        ppc_train: bool_column(&ppc, "is_train", &ppc_path)?,
        observed: f64_column(&ppc, "observed", &ppc_path)?,
        pred_mean: f64_column(&ppc, "pred_mean", &ppc_path)?,
        loo,
        spec,
    })
}

fn summarize(values: &[f64], mass: f64) -> Interval {
    let (lower, upper) = central_interval(values, mass);
    Interval {
        mean: mmm_core::summary::mean(values),
        lower,
        upper,
    }
}

fn is_coefficient(name: &str) -> bool {
    name.starts_with("beta[") || name.starts_with("gamma_")
}

/// ROI table of a run: (channel, metric) -> mean and interval, as in decide/roi.parquet.
pub type RoiTable = BTreeMap<(String, String), Interval>;

/// Per-channel ROAS and share changes from `a` to `b`, and the guardrail findings: a ROAS that
/// changed sign, moved by more than `threshold` (relative), or a channel missing from `b`.
pub fn channel_changes(
    a: &RoiTable,
    b: &RoiTable,
    threshold: f64,
) -> (Vec<ChannelChange>, Vec<String>) {
    let mut reasons = Vec::new();
    let channels_b: Vec<&String> = b.keys().map(|k| &k.0).collect();
    let mut names: Vec<&String> = a.keys().map(|k| &k.0).collect();
    names.dedup();
    let mut channels = Vec::new();
    for name in names {
        if !channels_b.contains(&name) {
            reasons.push(format!("channel {name} is missing from the later run"));
            continue;
        }
        let get = |r: &RoiTable, metric: &str| {
            r.get(&(name.clone(), metric.to_string()))
                .copied()
                .unwrap_or(Interval {
                    mean: f64::NAN,
                    lower: f64::NAN,
                    upper: f64::NAN,
                })
        };
        let (ra, rb) = (get(a, "roas"), get(b, "roas"));
        let (sa, sb) = (get(a, "share"), get(b, "share"));
        let change = (rb.mean - ra.mean) / ra.mean.abs();
        let sign_flip = ra.mean * rb.mean < 0.0;
        // NaN (a zero or missing ROAS in the earlier run) counts as exceeding.
        let exceeds = change.is_nan() || change.abs() > threshold;
        if sign_flip {
            reasons.push(format!(
                "channel {name}: ROAS changed sign ({:.4} -> {:.4})",
                ra.mean, rb.mean
            ));
        }
        if exceeds {
            reasons.push(format!(
                "channel {name}: mean ROAS moved {:+.1}% ({:.4} -> {:.4}), more than {:.1}%",
                100.0 * change,
                ra.mean,
                rb.mean,
                100.0 * threshold
            ));
        }
        channels.push(ChannelChange {
            channel: name.clone(),
            roas_a: ra,
            roas_b: rb,
            roas_relative_change: change,
            share_a: sa,
            share_b: sb,
            share_change: sb.mean - sa.mean,
            sign_flip,
            exceeds_threshold: exceeds,
        });
    }
    (channels, reasons)
}

fn refresh(a: &RunData, b: &RunData) -> Refresh {
    let threshold = b.spec.diagnose.max_roi_change;
    let mass = b.spec.decisions.interval;
    let (channels, mut reasons) = channel_changes(&a.roi, &b.roi, threshold);
    let mut parameters = Vec::new();
    for (name, va) in &a.draws {
        let Some(vb) = b.draws.get(name) else {
            continue;
        };
        let (ia, ib) = (summarize(va, mass), summarize(vb, mass));
        let med = |v: &[f64]| quantile_sorted(&sorted(v), 0.5);
        let excludes_zero = |i: &Interval| i.lower > 0.0 || i.upper < 0.0;
        let sign_flip = is_coefficient(name)
            && med(va) * med(vb) < 0.0
            && (excludes_zero(&ia) || excludes_zero(&ib));
        if sign_flip {
            reasons.push(format!(
                "{name}: sign flipped (median {:.4} -> {:.4})",
                med(va),
                med(vb)
            ));
        }
        parameters.push(ParamChange {
            parameter: name.clone(),
            a: ia,
            b: ib,
            sign_flip,
        });
    }
    let index_a: BTreeMap<i32, usize> = a
        .ppc_dates
        .iter()
        .enumerate()
        .map(|(i, d)| (*d, i))
        .collect();
    let pairs: Vec<(usize, usize)> = b
        .ppc_dates
        .iter()
        .enumerate()
        .filter_map(|(j, d)| index_a.get(d).map(|&i| (i, j)))
        .collect();
    let diffs: Vec<f64> = pairs
        .iter()
        .map(|&(i, j)| (b.pred_mean[j] - a.pred_mean[i]).abs())
        .collect();
    let mean_abs_obs =
        pairs.iter().map(|&(i, _)| a.observed[i].abs()).sum::<f64>() / pairs.len().max(1) as f64;
    let mean_abs_diff = diffs.iter().sum::<f64>() / diffs.len().max(1) as f64;
    let drift = Drift {
        overlapping_weeks: pairs.len(),
        mean_abs_diff,
        max_abs_diff: diffs.iter().copied().fold(0.0, f64::max),
        mean_abs_diff_pct: 100.0 * mean_abs_diff / mean_abs_obs,
    };
    Refresh {
        run_a: a.dir.display().to_string(),
        run_b: b.dir.display().to_string(),
        channels,
        parameters,
        drift,
        guardrail: Guardrail {
            max_roi_change: threshold,
            passed: reasons.is_empty(),
            reasons,
        },
    }
}

/// The training observations of a run, to decide whether runs share their data.
fn training_data(r: &RunData) -> Vec<(i32, u64)> {
    (0..r.ppc_dates.len())
        .filter(|&i| r.ppc_train[i])
        .map(|i| (r.ppc_dates[i], r.observed[i].to_bits()))
        .collect()
}

/// The runs ranked by elpd_loo, with their model weights; an error note when the runs do not
/// share their training data, one lacks LOO or the weights cannot be computed.
fn ranking(runs: &[RunData]) -> Result<(Vec<RankRow>, String), String> {
    let first = training_data(&runs[0]);
    if let Some(r) = runs[1..].iter().find(|r| training_data(r) != first) {
        return Err(format!(
            "{} was not fitted on the same training data as {}; LOO is only comparable on the \
             same observations",
            r.dir.display(),
            runs[0].dir.display()
        ));
    }
    let loos: Vec<&LooSummary> = runs
        .iter()
        .map(|r| {
            r.loo.as_ref().ok_or_else(|| {
                format!(
                    "{} has no LOO in diagnostics.json (rerun `mmm diagnose --force`)",
                    r.dir.display()
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let pointwise: Vec<Vec<f64>> = loos.iter().map(|l| l.pointwise_elpd_loo.clone()).collect();
    let weights: ModelWeights =
        model_weights(&pointwise).map_err(|e| format!("model weights: {e}"))?;
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&i, &j| loos[j].elpd_loo.total_cmp(&loos[i].elpd_loo));
    let best = loos[order[0]];
    let rows = order
        .iter()
        .enumerate()
        .map(|(rank, &i)| {
            let (diff, se_diff) =
                elpd_difference(&best.pointwise_elpd_loo, &loos[i].pointwise_elpd_loo);
            RankRow {
                rank: rank + 1,
                run: runs[i].dir.display().to_string(),
                model: runs[i].spec.model.name.clone(),
                elpd_loo: loos[i].elpd_loo,
                se: loos[i].se,
                elpd_diff: diff,
                se_diff,
                p_loo: loos[i].p_loo,
                pareto_k_max: loos[i].pareto_k_max,
                n_bad_k: loos[i].n_bad_k,
                stacking_weight: weights.stacking[i],
                pseudo_bma_weight: weights.pseudo_bma[i],
                pseudo_bma_plus_weight: weights.pseudo_bma_plus[i],
            }
        })
        .collect();
    Ok((rows, weights.method))
}

/// Compare runs: each later run against the first (refresh guardrail), and all runs ranked by
/// PSIS-LOO when they share their training data.
pub fn compare_runs(runs: &[PathBuf]) -> Result<Comparison, CompareError> {
    if runs.len() < 2 {
        return Err(CompareError::Run {
            path: runs.first().cloned().unwrap_or_default(),
            message: "compare needs at least two run directories".into(),
        });
    }
    let data = runs
        .iter()
        .map(|r| load_run(r))
        .collect::<Result<Vec<_>, _>>()?;
    let refreshes: Vec<Refresh> = data[1..].iter().map(|b| refresh(&data[0], b)).collect();
    let (ranking, ranking_note, weights_method) = match ranking(&data) {
        Ok((rows, method)) => (Some(rows), None, Some(method)),
        Err(note) => (None, Some(note), None),
    };
    Ok(Comparison {
        passed: refreshes.iter().all(|r| r.guardrail.passed),
        refreshes,
        ranking,
        ranking_note,
        weights_method,
        method: "ROAS and media shares with their intervals from each run's decide/roi.parquet; \
                 parameters as posterior mean and central interval (later run's \
                 decisions.interval) over draws.parquet; drift from the pred_mean column of \
                 ppc.parquet on dates both runs cover; ranking by elpd_loo with the paired \
                 standard error of the pointwise differences (as az.compare)"
            .into(),
    })
}
