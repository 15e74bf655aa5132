//! The decision log: a record of a chosen plan with its predicted outcome distribution, and
//! the later review of what actually happened against it.

use std::path::Path;

use mmm_core::spec::LoadedSpec;
use mmm_core::summary::{hdi, mean};
use serde::{Deserialize, Serialize};

use crate::DecideError;
use crate::stages::{format_day, parse_day};

/// Predicted total target over the horizon: a mixture over draws of Normal(mean_k, sd_k).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TotalPrediction {
    /// Expected total per draw (baseline + media, target units).
    pub mean_per_draw: Vec<f64>,
    /// Observation-noise sd of the total per draw.
    pub sd_per_draw: Vec<f64>,
    /// How the noise was modelled.
    pub noise: String,
}

/// A chosen plan and what the model predicted for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DecisionRecord {
    /// Record format version.
    pub record_version: u32,
    /// Which plan (`optimized` or a scenario name).
    pub plan_name: String,
    /// Spec sha256 of the model that made the prediction.
    pub spec_sha256: String,
    /// Date column of the data (the actuals file uses the same).
    pub date_column: String,
    /// Target column.
    pub target: String,
    /// Week start dates of the horizon.
    pub weeks: Vec<String>,
    /// Channel names.
    pub channels: Vec<String>,
    /// Spend per channel and week (currency).
    pub spend: Vec<Vec<f64>>,
    /// Incremental outcome per draw (target units).
    pub lift_per_draw: Vec<f64>,
    /// Interval mass used in the review.
    pub interval: f64,
    /// Predicted total target over the horizon; absent when the horizon runs past the data
    /// (the baseline of those weeks needs control values the run does not have).
    pub total: Option<TotalPrediction>,
}

impl DecisionRecord {
    /// Build a record.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &LoadedSpec,
        plan_name: &str,
        channels: &[String],
        days: &[i32],
        spend: Vec<Vec<f64>>,
        lift: &[f64],
        total: Option<TotalPrediction>,
        interval: f64,
    ) -> Self {
        Self {
            record_version: 1,
            plan_name: plan_name.to_string(),
            spec_sha256: spec.sha256.clone(),
            date_column: spec.spec.data.date_column.clone(),
            target: spec.spec.data.target.clone(),
            weeks: days.iter().map(|d| format_day(*d)).collect(),
            channels: channels.to_vec(),
            spend,
            lift_per_draw: lift.to_vec(),
            interval,
            total,
        }
    }
}

/// erfc(x) with fractional error below 1.2e-7 (Numerical Recipes' Chebyshev fit `erfcc`).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// Standard normal CDF: Phi(z) = erfc(-z / sqrt 2) / 2.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// CDF of the mixture of Normal(mean_k, sd_k) with equal weights at y.
pub fn mixture_cdf(p: &TotalPrediction, y: f64) -> f64 {
    p.mean_per_draw
        .iter()
        .zip(&p.sd_per_draw)
        .map(|(m, s)| {
            if *s > 0.0 {
                normal_cdf((y - m) / s)
            } else if y >= *m {
                1.0
            } else {
                0.0
            }
        })
        .sum::<f64>()
        / p.mean_per_draw.len().max(1) as f64
}

/// Quantile q of the mixture by bisection on its CDF.
pub fn mixture_quantile(p: &TotalPrediction, q: f64) -> f64 {
    let lo0 = p
        .mean_per_draw
        .iter()
        .zip(&p.sd_per_draw)
        .map(|(m, s)| m - 10.0 * s)
        .fold(f64::INFINITY, f64::min);
    let hi0 = p
        .mean_per_draw
        .iter()
        .zip(&p.sd_per_draw)
        .map(|(m, s)| m + 10.0 * s)
        .fold(f64::NEG_INFINITY, f64::max);
    let (mut lo, mut hi) = (lo0, hi0);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mixture_cdf(p, mid) < q {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// The review of a decision: realized vs predicted.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Review {
    /// The plan reviewed.
    pub plan_name: String,
    /// First and last week.
    pub weeks: (String, String),
    /// Realized total target over the horizon.
    pub actual_total: f64,
    /// Predicted mean of the total.
    pub predicted_mean: f64,
    /// Central predictive interval of the total.
    pub predicted_lower: f64,
    /// Upper end.
    pub predicted_upper: f64,
    /// Interval mass.
    pub interval: f64,
    /// Whether the realized total lies inside the interval.
    pub inside_interval: bool,
    /// Realized minus predicted mean.
    pub error: f64,
    /// (Realized - predicted mean) / predicted mean.
    pub relative_error: f64,
    /// Distance outside the interval (0 when inside).
    pub outside_by: f64,
    /// Predictive CDF at the realized value (0.5 = exactly as expected; near 0 or 1 = surprise).
    pub percentile: f64,
    /// Predicted incremental outcome of the plan (mean, HDI).
    pub predicted_lift: [f64; 3],
    /// How the comparison was made.
    pub method: String,
}

/// Compare a record with realized outcomes from a CSV file holding the record's date and
/// target columns; every week of the horizon must be present once.
pub fn review(record: &DecisionRecord, actuals: &Path) -> Result<Review, DecideError> {
    let err = |m: String| DecideError::Input(format!("{}: {m}", actuals.display()));
    let total = record.total.as_ref().ok_or_else(|| {
        DecideError::Input(
            "the decision record has no total-outcome prediction (its horizon runs past the data the model saw); it can only be reviewed after a refit that covers those weeks".into(),
        )
    })?;
    let mut rdr = csv::Reader::from_path(actuals).map_err(|e| err(e.to_string()))?;
    let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
    let find = |n: &str| {
        headers
            .iter()
            .position(|h| h.trim() == n)
            .ok_or_else(|| err(format!("missing column '{n}'")))
    };
    let (dc, tc) = (find(&record.date_column)?, find(&record.target)?);
    let wanted: Vec<i32> = record
        .weeks
        .iter()
        .map(|w| parse_day(w).ok_or_else(|| DecideError::Input(format!("record week '{w}'"))))
        .collect::<Result<_, _>>()?;
    let mut found = vec![None; wanted.len()];
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| err(format!("row {row}: {e}")))?;
        let date = rec.get(dc).unwrap_or("");
        let day = parse_day(date).ok_or_else(|| {
            err(format!(
                "row {row}, column '{}': '{date}' is not a YYYY-MM-DD date",
                record.date_column
            ))
        })?;
        if let Some(w) = wanted.iter().position(|d| *d == day) {
            let v: f64 = rec
                .get(tc)
                .and_then(|v| v.trim().parse().ok())
                .filter(|v: &f64| v.is_finite())
                .ok_or_else(|| {
                    err(format!(
                        "row {row}, column '{}': must be a number",
                        record.target
                    ))
                })?;
            if found[w].replace(v).is_some() {
                return Err(err(format!("row {row}: week {date} appears twice")));
            }
        }
    }
    if let Some(w) = found.iter().position(Option::is_none) {
        return Err(err(format!(
            "week {} of the plan's horizon is missing",
            record.weeks[w]
        )));
    }
    let actual: f64 = found.iter().flatten().sum();
    let tail = (1.0 - record.interval) / 2.0;
    let lo = mixture_quantile(total, tail);
    let hi = mixture_quantile(total, 1.0 - tail);
    let m = mean(&total.mean_per_draw);
    let (llo, lhi) = hdi(&record.lift_per_draw, record.interval);
    Ok(Review {
        plan_name: record.plan_name.clone(),
        weeks: (
            record.weeks.first().cloned().unwrap_or_default(),
            record.weeks.last().cloned().unwrap_or_default(),
        ),
        actual_total: actual,
        predicted_mean: m,
        predicted_lower: lo,
        predicted_upper: hi,
        interval: record.interval,
        inside_interval: (lo..=hi).contains(&actual),
        error: actual - m,
        relative_error: (actual - m) / m,
        outside_by: if actual < lo {
            actual - lo
        } else if actual > hi {
            actual - hi
        } else {
            0.0
        },
        percentile: mixture_cdf(total, actual),
        predicted_lift: [mean(&record.lift_per_draw), llo, lhi],
        method: "predictive distribution of the horizon's total = equal mixture over posterior draws of Normal(expected total, sigma sqrt(H)); central interval by bisection on its CDF".into(),
    })
}
