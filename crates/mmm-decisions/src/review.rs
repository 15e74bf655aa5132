//! The decision log: a record of a chosen plan with its predicted outcome distribution, and
//! the later review of what actually happened against it.

use std::path::Path;

use mmm_core::spec::LoadedSpec;
use mmm_core::summary::{hdi, mean};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::DecideError;

/// Predicted total target over the horizon: a mixture over draws of Normal(mean_k, sd_k).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TotalPrediction {
    /// Expected total per draw (baseline + media, target units).
    pub mean_per_draw: Vec<f64>,
    /// Observation-noise sd of the total per draw.
    pub sd_per_draw: Vec<f64>,
    /// How the noise was modelled.
    pub noise: String,
}

/// A chosen plan and what the model predicted for it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DecisionRecord {
    /// Record format version (1: national; 2: with per-geo predictions).
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
    /// Spend per channel and week (currency); for a geo hierarchy, summed over geos.
    pub spend: Vec<Vec<f64>>,
    /// Incremental outcome per draw (target units); for a geo hierarchy, summed over geos.
    pub lift_per_draw: Vec<f64>,
    /// Interval mass used in the review.
    pub interval: f64,
    /// Predicted total target over the horizon; absent when the horizon runs past the data
    /// (the baseline of those weeks needs control values the run does not have). For a geo
    /// hierarchy, the sum over geos per draw.
    pub total: Option<TotalPrediction>,
    /// Geo column of the data, when it has one: a geo hierarchy's actuals hold one row per
    /// geo and week; a national record's panel actuals are summed over geos per week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo_column: Option<String>,
    /// A geo hierarchy's plan and prediction per geo.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geos: Vec<GeoPrediction>,
}

/// One geo's plan and what the hierarchy predicted for it, from the geo's own parameters.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GeoPrediction {
    /// Geo name.
    pub geo: String,
    /// Spend per channel and week (currency).
    pub spend: Vec<Vec<f64>>,
    /// Incremental outcome per draw (target units).
    pub lift_per_draw: Vec<f64>,
    /// Predicted total target of the geo over the horizon (absent past the data).
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
            weeks: days.iter().map(|d| mmm_core::dates::iso(*d)).collect(),
            channels: channels.to_vec(),
            spend,
            lift_per_draw: lift.to_vec(),
            interval,
            total,
            geo_column: spec.spec.data.geo_column.clone(),
            geos: Vec::new(),
        }
    }

    /// Build a geo hierarchy's record from its per-geo predictions: the national spend, lift
    /// and total are the geos' sums (lift and total per draw; the total's noise variance adds
    /// over geos, independent given the parameters).
    pub fn for_geos(
        spec: &LoadedSpec,
        plan_name: &str,
        channels: &[String],
        days: &[i32],
        geos: Vec<GeoPrediction>,
        interval: f64,
    ) -> Self {
        let weeks = days.len();
        let mut spend = vec![vec![0.0; weeks]; channels.len()];
        let draws = geos.first().map_or(0, |g| g.lift_per_draw.len());
        let mut lift = vec![0.0; draws];
        for g in &geos {
            for (total, part) in spend.iter_mut().zip(&g.spend) {
                for (t, v) in total.iter_mut().zip(part) {
                    *t += v;
                }
            }
            for (t, v) in lift.iter_mut().zip(&g.lift_per_draw) {
                *t += v;
            }
        }
        let totals: Option<Vec<&TotalPrediction>> = geos.iter().map(|g| g.total.as_ref()).collect();
        let total = totals.and_then(|parts| {
            let first = parts.first()?;
            let mut mean = vec![0.0; first.mean_per_draw.len()];
            let mut var = vec![0.0; first.sd_per_draw.len()];
            for p in &parts {
                for (m, v) in mean.iter_mut().zip(&p.mean_per_draw) {
                    *m += v;
                }
                for (s, v) in var.iter_mut().zip(&p.sd_per_draw) {
                    *s += v * v;
                }
            }
            Some(TotalPrediction {
                mean_per_draw: mean,
                sd_per_draw: var.iter().map(|v| v.sqrt()).collect(),
                noise: format!(
                    "per draw, the sum over geos of each geo's expected total, with the geos' noise independent given the parameters (variances add); each geo's noise: {}",
                    first.noise
                ),
            })
        });
        Self {
            record_version: 2,
            geo_column: spec.spec.data.geo_column.clone(),
            geos,
            ..Self::new(
                spec, plan_name, channels, days, spend, &lift, total, interval,
            )
        }
    }

    /// Read and check a record written by `mmm optimize --record` or `mmm scenario --record`.
    pub fn read(path: &Path) -> Result<Self, DecideError> {
        let err = |m: String| DecideError::Input(format!("{}: {m}", path.display()));
        let bytes = mmm_core::read_regular_file(path, mmm_core::artifact::MAX_ARTIFACT_BYTES)?;
        let record: Self = serde_json::from_slice(&bytes)
            .map_err(|e| err(format!("not a decision record: {e}")))?;
        record.check().map_err(err)?;
        Ok(record)
    }

    /// The rules a review relies on: a known version, dated weeks, draws in every prediction,
    /// one sd per expected total, finite numbers, and per-geo parts that name distinct geos.
    fn check(&self) -> Result<(), String> {
        if !(1..=2).contains(&self.record_version) {
            return Err(format!(
                "record_version {} is not one this version reads (1 or 2)",
                self.record_version
            ));
        }
        if !(self.interval > 0.0 && self.interval < 1.0) {
            return Err(format!("interval {} must lie in (0, 1)", self.interval));
        }
        if self.weeks.is_empty() {
            return Err("weeks: empty".into());
        }
        if let Some(w) = self
            .weeks
            .iter()
            .find(|w| mmm_core::dates::parse_day(w).is_none())
        {
            return Err(format!("weeks: '{w}' is not a YYYY-MM-DD date"));
        }
        check_prediction("", &self.lift_per_draw, self.total.as_ref())?;
        if !self.geos.is_empty() && self.geo_column.is_none() {
            return Err("geos: per-geo predictions need geo_column".into());
        }
        for (i, g) in self.geos.iter().enumerate() {
            if self.geos[..i].iter().any(|o| o.geo == g.geo) {
                return Err(format!("geos: geo '{}' appears twice", g.geo));
            }
            check_prediction(
                &format!("geos[{}].", g.geo),
                &g.lift_per_draw,
                g.total.as_ref(),
            )?;
        }
        Ok(())
    }
}

/// A prediction's rules: finite lifts, one per draw; a total's mean and sd per draw, finite
/// (sd >= 0). `what` prefixes the field names in the message.
fn check_prediction(
    what: &str,
    lift: &[f64],
    total: Option<&TotalPrediction>,
) -> Result<(), String> {
    if lift.is_empty() || lift.iter().any(|v| !v.is_finite()) {
        return Err(format!(
            "{what}lift_per_draw: needs finite values, one per draw"
        ));
    }
    let bad_total = total.is_some_and(|t| {
        t.mean_per_draw.is_empty()
            || t.mean_per_draw.len() != t.sd_per_draw.len()
            || t.mean_per_draw.iter().any(|v| !v.is_finite())
            || t.sd_per_draw.iter().any(|v| !(v.is_finite() && *v >= 0.0))
    });
    if bad_total {
        return Err(format!(
            "{what}total: mean_per_draw and sd_per_draw need one finite value per draw (sd >= 0)"
        ));
    }
    Ok(())
}

pub use mmm_model::special::normal_cdf;

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

/// Realized against predicted for one total (national, or one geo's).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Outcome {
    /// Realized total target over the horizon.
    pub actual_total: f64,
    /// Predicted mean of the total.
    pub predicted_mean: f64,
    /// Central predictive interval of the total.
    pub predicted_lower: f64,
    /// Upper end.
    pub predicted_upper: f64,
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
}

impl Outcome {
    /// Compare the realized total `actual` with its predictive distribution.
    fn new(total: &TotalPrediction, lift: &[f64], actual: f64, interval: f64) -> Self {
        let tail = (1.0 - interval) / 2.0;
        let lo = mixture_quantile(total, tail);
        let hi = mixture_quantile(total, 1.0 - tail);
        let m = mean(&total.mean_per_draw);
        let (llo, lhi) = hdi(lift, interval);
        Self {
            actual_total: actual,
            predicted_mean: m,
            predicted_lower: lo,
            predicted_upper: hi,
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
            predicted_lift: [mean(lift), llo, lhi],
        }
    }
}

/// The review of a decision: realized vs predicted.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct Review {
    /// The plan reviewed.
    pub plan_name: String,
    /// First and last week.
    pub weeks: (String, String),
    /// The total over the horizon (for a geo hierarchy, summed over geos).
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Interval mass.
    pub interval: f64,
    /// How the comparison was made.
    pub method: String,
    /// A geo hierarchy's review per geo.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geos: Vec<GeoReview>,
}

/// One geo's realized total against the hierarchy's prediction for it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct GeoReview {
    /// Geo name.
    pub geo: String,
    /// Realized against predicted.
    #[serde(flatten)]
    pub outcome: Outcome,
}

const REVIEW_METHOD: &str = "predictive distribution of the horizon's total = equal mixture over posterior draws of Normal(expected total, sd of the summed weekly noise); central interval by bisection on its CDF";

/// Compare a record with realized outcomes from a CSV file holding the record's date and
/// target columns (and, for a geo hierarchy's record, its geo column); every week of the
/// horizon (in every geo of the record) must be present once. Other rows are ignored.
pub fn review(record: &DecisionRecord, actuals: &Path) -> Result<Review, DecideError> {
    let total = record.total.as_ref().ok_or_else(|| {
        DecideError::Input(
            "the decision record has no total-outcome prediction (its horizon runs past the data the model saw); it can only be reviewed after a refit that covers those weeks".into(),
        )
    })?;
    let geo_names: Vec<&str> = record.geos.iter().map(|g| g.geo.as_str()).collect();
    let realized = read_actuals(record, &geo_names, actuals)?;
    let sum = |weeks: &[f64]| weeks.iter().sum::<f64>();
    let national: f64 = realized.iter().map(|w| sum(w)).sum();
    let geos = record
        .geos
        .iter()
        .zip(&realized)
        .map(|(g, weeks)| {
            let total = g.total.as_ref().ok_or_else(|| {
                DecideError::Input(format!(
                    "the decision record has no total-outcome prediction for geo '{}'",
                    g.geo
                ))
            })?;
            Ok(GeoReview {
                geo: g.geo.clone(),
                outcome: Outcome::new(total, &g.lift_per_draw, sum(weeks), record.interval),
            })
        })
        .collect::<Result<Vec<_>, DecideError>>()?;
    Ok(Review {
        plan_name: record.plan_name.clone(),
        weeks: (
            record.weeks.first().cloned().unwrap_or_default(),
            record.weeks.last().cloned().unwrap_or_default(),
        ),
        outcome: Outcome::new(total, &record.lift_per_draw, national, record.interval),
        interval: record.interval,
        method: if record.geos.is_empty() {
            REVIEW_METHOD.to_string()
        } else {
            format!(
                "{REVIEW_METHOD}; national: realized and predicted totals summed over geos (per draw for the prediction); per geo: each geo's own prediction from its own parameters"
            )
        },
        geos,
    })
}

/// Realized target per part and horizon week, from the actuals CSV: one part per geo of
/// `geos` (a geo hierarchy's record), else one national part. A national record on panel
/// actuals (the record's geo column present in the file) sums every geo found in the horizon's
/// weeks, each of which must then have every week once.
fn read_actuals(
    record: &DecisionRecord,
    geos: &[&str],
    actuals: &Path,
) -> Result<Vec<Vec<f64>>, DecideError> {
    let err = |m: String| DecideError::Input(format!("{}: {m}", actuals.display()));
    // Read through the regular-file check: a FIFO or device given as `--actuals` would block.
    let bytes = mmm_core::read_regular_file(actuals, mmm_core::artifact::MAX_ARTIFACT_BYTES)?;
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    let headers = rdr.headers().map_err(|e| err(e.to_string()))?.clone();
    let position = |n: &str| headers.iter().position(|h| h.trim() == n);
    let find = |n: &str| position(n).ok_or_else(|| err(format!("missing column '{n}'")));
    let (dc, tc) = (find(&record.date_column)?, find(&record.target)?);
    let gc = match &record.geo_column {
        Some(g) if !geos.is_empty() => Some((g.as_str(), find(g)?)),
        Some(g) => position(g).map(|c| (g.as_str(), c)),
        None => None,
    };
    let wanted: Vec<i32> = record
        .weeks
        .iter()
        .map(|w| {
            mmm_core::dates::parse_day(w)
                .ok_or_else(|| DecideError::Input(format!("record week '{w}'")))
        })
        .collect::<Result<_, _>>()?;
    // (row number, geo, horizon week, target) of every row inside the horizon.
    let mut rows: Vec<(usize, String, usize, f64)> = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let row = i + 2;
        let rec = rec.map_err(|e| err(format!("row {row}: {e}")))?;
        let date = rec.get(dc).unwrap_or("");
        let day = mmm_core::dates::parse_day(date).ok_or_else(|| {
            err(format!(
                "row {row}, column '{}': '{date}' is not a YYYY-MM-DD date",
                record.date_column
            ))
        })?;
        let Some(w) = wanted.iter().position(|d| *d == day) else {
            continue;
        };
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
        let geo = gc.map_or("", |(_, c)| rec.get(c).unwrap_or("").trim());
        rows.push((row, geo.to_string(), w, v));
    }
    let sum_over_geos = geos.is_empty() && gc.is_some();
    let mut found_geos: Vec<&str> = Vec::new();
    if sum_over_geos {
        for (_, geo, ..) in &rows {
            if !found_geos.contains(&geo.as_str()) {
                found_geos.push(geo);
            }
        }
    }
    let parts: &[&str] = if sum_over_geos { &found_geos } else { geos };
    let mut found = vec![vec![None; wanted.len()]; parts.len().max(1)];
    for (row, geo, w, v) in &rows {
        let part = if parts.is_empty() {
            0
        } else {
            match parts.iter().position(|g| g == geo) {
                Some(p) => p,
                None => continue,
            }
        };
        if found[part][*w].replace(*v).is_some() {
            let at = gc.map_or(String::new(), |(name, _)| format!(" of {name} '{geo}'"));
            return Err(err(format!(
                "row {row}: week {}{at} appears twice",
                record.weeks[*w]
            )));
        }
    }
    let by_part = found
        .into_iter()
        .enumerate()
        .map(|(p, weeks)| {
            weeks
                .iter()
                .enumerate()
                .map(|(w, v)| {
                    v.ok_or_else(|| {
                        let at = match (gc, parts.get(p)) {
                            (Some((name, _)), Some(geo)) => format!(" for {name} '{geo}'"),
                            _ => String::new(),
                        };
                        err(format!(
                            "week {} of the plan's horizon is missing{at}",
                            record.weeks[w]
                        ))
                    })
                })
                .collect::<Result<Vec<f64>, _>>()
        })
        .collect::<Result<Vec<_>, _>>()?;
    if sum_over_geos {
        let total = (0..wanted.len())
            .map(|w| by_part.iter().map(|p| p[w]).sum())
            .collect();
        return Ok(vec![total]);
    }
    Ok(by_part)
}
