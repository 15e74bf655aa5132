//! Contract rules on a panel: the period grid, frequencies, dates, value domains, and
//! statistical warnings (collinearity, spikes).

use mmm_core::spec::TargetDomain;

use crate::ColumnSummary;
use crate::panel::{At, Findings, Panel};

/// Largest magnitude of a numeric cell (target, spend, controls); larger values are
/// `value_out_of_range` errors. Sums of a few thousand such values and of their squares
/// (1e30 each) stay far inside f64, so scaling, means and variances stay finite; a value of
/// 1e308 passed before and turned every result into NaN.
pub const MAX_ABS_VALUE: f64 = 1e15;

/// `value_out_of_range`: the cell `text` parsed to a finite number whose magnitude exceeds
/// [`MAX_ABS_VALUE`].
pub fn out_of_range(text: &str, at: At, f: &mut Findings) {
    f.error(
        "value_out_of_range",
        at,
        format!("value {text} exceeds the allowed magnitude {MAX_ABS_VALUE:e}"),
    );
}

/// Periods must be `step` days apart within each geo: duplicates, off-grid dates and gaps.
/// Geos in `skip` (mixed frequency) are not checked.
pub fn grid(p: &Panel, step: i32, date_col: &str, skip: &[String], f: &mut Findings) {
    for (geo, rows) in p.by_geo() {
        if skip.contains(&geo) {
            continue;
        }
        for w in rows.windows(2) {
            let (a, b) = (p.dates[w[0]].unwrap_or(0), p.dates[w[1]].unwrap_or(0));
            let gap = b - a;
            let at = At::cell(p, date_col, w[1]);
            if gap == 0 {
                let other = p
                    .row(w[0])
                    .map(|r| format!("row {r}"))
                    .unwrap_or("another row".into());
                f.error(
                    "duplicate_period",
                    at,
                    format!("period also appears in {other}"),
                );
            } else if gap % step != 0 {
                f.error(
                    "off_grid_period",
                    at,
                    format!(
                        "{gap} days after the previous period; periods must be {step} days apart"
                    ),
                );
            } else if gap > step {
                let missing: Vec<String> = (1..gap / step)
                    .map(|k| mmm_core::dates::iso(a + k * step))
                    .collect();
                let mut at = at;
                at.period = Some(a + step);
                f.error(
                    "missing_period",
                    at,
                    format!(
                        "{} period(s) missing before this row: {}",
                        missing.len(),
                        missing.join(", ")
                    ),
                );
            }
        }
    }
}

/// Daily-like and weekly-like spacing in one series; returns the geos that mix them.
pub fn mixed_frequency(p: &Panel, date_col: &str, f: &mut Findings) -> Vec<String> {
    let mut mixed = Vec::new();
    for (geo, rows) in p.by_geo() {
        let gaps: Vec<(usize, i32)> = rows
            .windows(2)
            .map(|w| {
                (
                    w[1],
                    p.dates[w[1]].unwrap_or(0) - p.dates[w[0]].unwrap_or(0),
                )
            })
            .filter(|(_, g)| *g > 0)
            .collect();
        let daily = gaps.iter().filter(|(_, g)| *g == 1).count();
        let weekly = gaps.iter().filter(|(_, g)| *g % 7 == 0).count();
        if daily >= 2 && weekly >= 2 {
            let first_kind = gaps[0].1 == 1;
            let switch = gaps
                .iter()
                .find(|(_, g)| (*g == 1) != first_kind)
                .map(|(i, _)| *i);
            let i = switch.unwrap_or(rows[0]);
            f.error(
                "mixed_frequency",
                At::cell(p, date_col, i),
                format!("{daily} daily and {weekly} weekly steps in one series; the spacing changes here"),
            );
            mixed.push(geo);
        }
    }
    mixed
}

/// Periods after `as_of` (days) are errors.
pub fn future(p: &Panel, as_of: i32, date_col: &str, f: &mut Findings) {
    for i in 0..p.len() {
        if let Some(d) = p.dates[i].filter(|d| *d > as_of) {
            f.error(
                "future_period",
                At::cell(p, date_col, i),
                format!(
                    "{} is after the as-of date {}",
                    mmm_core::dates::iso(d),
                    mmm_core::dates::iso(as_of)
                ),
            );
        }
    }
}

/// All-zero or constant channels, constant target, and the likelihood's
/// target domain; returns per-column summaries.
pub fn columns(p: &Panel, domain: TargetDomain, f: &mut Findings) -> Vec<ColumnSummary> {
    let mut summaries = Vec::new();
    for (name, role, col) in &p.columns {
        for (i, &v) in col.iter().enumerate() {
            if !v.is_finite() {
                continue;
            }
            if *role == "target" {
                match domain {
                    TargetDomain::Positive if v <= 0.0 => f.error(
                        "target_not_positive",
                        At::cell(p, name, i),
                        format!("target {v} <= 0; the likelihood needs positive values"),
                    ),
                    TargetDomain::Count if v < 0.0 || v.fract() != 0.0 => f.error(
                        "target_not_count",
                        At::cell(p, name, i),
                        format!(
                            "target {v} is not a non-negative integer; the likelihood models counts"
                        ),
                    ),
                    _ => {}
                }
            }
        }
        let finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            continue;
        }
        let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = finite.iter().sum();
        summaries.push(ColumnSummary {
            name: name.clone(),
            role,
            min,
            max,
            mean: sum / finite.len() as f64,
            sum,
            zeros: finite.iter().filter(|v| **v == 0.0).count(),
        });
        if *role == "channel" && max == 0.0 {
            f.error(
                "channel_all_zero",
                At::column(name),
                "the channel has no spend at all; its effect cannot be estimated".into(),
            );
        } else if *role == "channel" && min == max {
            f.error(
                "channel_constant",
                At::column(name),
                format!(
                    "spend is constant ({min}); its effect cannot be separated from the intercept"
                ),
            );
        }
        if *role == "target" && min == max {
            f.error(
                "target_constant",
                At::column(name),
                format!("the target is constant ({min})"),
            );
        }
    }
    summaries
}

/// Pearson correlation of two equally long series.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma) * (x - ma);
        sbb += (y - mb) * (y - mb);
    }
    sab / (saa * sbb).sqrt()
}

/// Diagonal of the inverse of a symmetric positive-definite matrix (Gauss-Jordan with partial
/// pivoting); `None` when it is numerically singular.
fn inverse_diagonal(mut m: Vec<Vec<f64>>) -> Option<Vec<f64>> {
    let k = m.len();
    let mut inv: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| f64::from(u8::from(i == j))).collect())
        .collect();
    for c in 0..k {
        let pivot = (c..k).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        if m[pivot][c].abs() < 1e-12 {
            return None;
        }
        m.swap(c, pivot);
        inv.swap(c, pivot);
        let d = m[c][c];
        for j in 0..k {
            m[c][j] /= d;
            inv[c][j] /= d;
        }
        for r in 0..k {
            if r != c {
                let factor = m[r][c];
                for j in 0..k {
                    m[r][j] -= factor * m[c][j];
                    inv[r][j] -= factor * inv[c][j];
                }
            }
        }
    }
    Some((0..k).map(|i| inv[i][i]).collect())
}

/// Near-collinear regressors (channels and controls), per geo: |r| > 0.999 is an error,
/// |r| > 0.95 or a variance inflation factor VIF_j = [R^-1]_jj > 10 a warning.
pub fn collinearity(p: &Panel, f: &mut Findings) {
    for (geo, rows) in p.by_geo() {
        let geo = (geo != crate::panel::NATIONAL).then_some(geo);
        let at = |c: &str| At {
            column: Some(c.to_string()),
            geo: geo.clone(),
            ..At::default()
        };
        let rows: Vec<usize> = rows
            .into_iter()
            .filter(|&i| p.columns.iter().all(|(_, _, c)| c[i].is_finite()))
            .collect();
        let regressors: Vec<(&str, Vec<f64>)> = p
            .columns
            .iter()
            .filter(|(_, role, _)| *role != "target")
            .map(|(n, _, c)| (n.as_str(), rows.iter().map(|&i| c[i]).collect::<Vec<f64>>()))
            .filter(|(_, v)| v.len() > 2 && v.iter().any(|x| *x != v[0]))
            .collect();
        let k = regressors.len();
        if k < 2 {
            continue;
        }
        let mut r = vec![vec![1.0; k]; k];
        for a in 0..k {
            for b in a + 1..k {
                let c = correlation(&regressors[a].1, &regressors[b].1);
                r[a][b] = c;
                r[b][a] = c;
                let (na, nb) = (regressors[a].0, regressors[b].0);
                let msg = format!(
                    "'{na}' and '{nb}' have correlation {c:.4}; their effects cannot be told apart"
                );
                if c.abs() > 0.999 {
                    f.error("collinear", at(nb), msg);
                } else if c.abs() > 0.95 {
                    f.warn("collinear", at(nb), msg);
                }
            }
        }
        match inverse_diagonal(r) {
            Some(vif) => {
                for (j, v) in vif.iter().enumerate() {
                    if *v > 10.0 {
                        f.warn(
                            "high_vif",
                            at(regressors[j].0),
                            format!("variance inflation factor {v:.1} (> 10): mostly explained by the other regressors"),
                        );
                    }
                }
            }
            None => f.warn(
                "high_vif",
                At {
                    geo: geo.clone(),
                    ..At::default()
                },
                "the regressors are linearly dependent (singular correlation matrix)".into(),
            ),
        }
    }
}

/// Robust z-score above which a target value is a `spike`: |x - median| / (1.4826 MAD).
pub const TARGET_SPIKE_Z: f64 = 5.0;

/// Standard deviations (log scale, against the other weeks with spend) above which a week's
/// spend is a `spike`.
pub const SPEND_SPIKE_Z: f64 = 4.5;

/// Smallest multiple of the median week with spend that a spend `spike` must reach.
pub const SPEND_SPIKE_RATIO: f64 = 3.0;

/// Fewest weeks with spend (or target values) a series needs before spikes are looked for.
const SPIKE_MIN_VALUES: usize = 8;

/// One spend spike: a week far above the rest of the series.
#[derive(Debug, Clone, PartialEq)]
pub struct SpendSpike {
    /// Index into the series.
    pub index: usize,
    /// The value.
    pub value: f64,
    /// Median of the weeks with spend (values > 0).
    pub median: f64,
    /// `value` over `median`.
    pub ratio: f64,
    /// ln(value) in standard deviations above the mean ln-spend of the weeks with spend that
    /// are below it.
    pub z: f64,
}

/// Spikes of one spend series (one channel in one geo, in date order).
///
/// Media spend is bursty by design: flights switch a channel on and off, and the weeks on
/// air spread over orders of magnitude (spend is roughly log-normal). A rule on the raw
/// values (median and MAD) fires on most heavy weeks of such a series. So:
/// - weeks with no spend (off-flight) are left out: on/off flighting is normal;
/// - the rest are compared on the log scale, where heavy-tailed spend is roughly normal;
/// - the test is a generalized extreme-studentized-deviate procedure (Rosner 1983), upper
///   side only, with a fixed threshold: the k largest weeks (k at most 5% of the weeks with
///   spend) are spikes when the k-th of them lies more than [`SPEND_SPIKE_Z`] standard
///   deviations above the mean of the weeks below it (on the log scale), and is at least
///   [`SPEND_SPIKE_RATIO`] times the median week with spend. A regime of heavy weeks (bursts
///   in a pulsing plan, more than 5% of the weeks) widens the spread and does not fire; one
///   week of 100 times the usual spend (a unit or decimal-point error) does.
///
/// Calibration (simulated 104-week series, docs/data-contracts.md): log-normal spend with
/// log-sd 0.5 to 1.4, flighted or not, fires in about 1 series in 1,000; one week entered 100
/// times too large is found in 99.7% of series with log-sd 0.6 and 89% with log-sd 0.8.
pub fn spend_spikes(values: &[f64]) -> Vec<SpendSpike> {
    let on: Vec<(usize, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite() && **v > 0.0)
        .map(|(i, v)| (i, *v))
        .collect();
    let n = on.len();
    if n < SPIKE_MIN_VALUES {
        return Vec::new();
    }
    let median = mmm_core::summary::median(&on.iter().map(|(_, v)| *v).collect::<Vec<_>>());
    let ln_median = median.ln();
    // Logs centred on the median (better-conditioned running sums), largest first.
    let mut order: Vec<(usize, f64, f64)> = on
        .iter()
        .map(|&(i, v)| (i, v, v.ln() - ln_median))
        .collect();
    order.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)));
    let candidates = n.div_ceil(20).max(1);
    let (mut sum, mut sum_sq) = order
        .iter()
        .fold((0.0, 0.0), |(s, q), &(_, _, d)| (s + d, q + d * d));
    let mut zs = Vec::with_capacity(candidates);
    let mut spikes = 0;
    for (k, &(_, v, d)) in order.iter().take(candidates).enumerate() {
        // The weeks below the k-th largest: every week but it and the ones above it.
        sum -= d;
        sum_sq -= d * d;
        let rest = (n - k - 1) as f64;
        let mean = sum / rest;
        let var = ((sum_sq - rest * mean * mean) / (rest - 1.0)).max(0.0);
        let sd = var.sqrt();
        let z = if sd > 1e-12 {
            (d - mean) / sd
        } else if d > mean + 1e-12 {
            f64::INFINITY
        } else {
            0.0
        };
        zs.push(z);
        if z > SPEND_SPIKE_Z && v >= SPEND_SPIKE_RATIO * median {
            spikes = k + 1;
        }
    }
    let mut out: Vec<SpendSpike> = order[..spikes]
        .iter()
        .zip(zs)
        .map(|(&(index, value, _), z)| SpendSpike {
            index,
            value,
            median,
            ratio: value / median,
            z,
        })
        .collect();
    out.sort_by_key(|s| s.index);
    out
}

/// Spikes in the target and in spend, per geo.
///
/// - Target: robust z-score |x - median| / (1.4826 MAD) > [`TARGET_SPIKE_Z`], either side.
/// - Spend (channels): [`spend_spikes`]; weeks without spend and heavy-tailed spend do not
///   fire.
pub fn spikes(p: &Panel, f: &mut Findings) {
    for (_, rows) in p.by_geo() {
        for (name, role, col) in &p.columns {
            match *role {
                "target" => target_spikes(p, name, col, &rows, f),
                "channel" => {
                    let series: Vec<f64> = rows.iter().map(|&i| col[i]).collect();
                    for s in spend_spikes(&series) {
                        f.warn(
                            "spike",
                            At::cell(p, name, rows[s.index]),
                            format!(
                                "spend {} is {:.1} times the median week with spend ({}) and \
                                 {} standard deviations above the other weeks on the log \
                                 scale (weeks without spend are not counted)",
                                short_num(s.value),
                                s.ratio,
                                short_num(s.median),
                                if s.z.is_finite() {
                                    format!("{:.1}", s.z)
                                } else {
                                    "infinitely many".to_owned()
                                }
                            ),
                        );
                    }
                }
                _ => {}
            }
        }
    }
}

fn target_spikes(p: &Panel, name: &str, col: &[f64], rows: &[usize], f: &mut Findings) {
    let values: Vec<f64> = rows
        .iter()
        .map(|&i| col[i])
        .filter(|v| v.is_finite())
        .collect();
    if values.len() < SPIKE_MIN_VALUES {
        return;
    }
    let med = mmm_core::summary::median(&values);
    let mad =
        mmm_core::summary::median(&values.iter().map(|v| (v - med).abs()).collect::<Vec<_>>());
    if mad <= 0.0 {
        return;
    }
    for &i in rows {
        let z = (col[i] - med) / (1.4826 * mad);
        if z.abs() > TARGET_SPIKE_Z {
            f.warn(
                "spike",
                At::cell(p, name, i),
                format!(
                    "value {} has robust z-score {z:.1} (median {}, MAD {})",
                    short_num(col[i]),
                    short_num(med),
                    short_num(mad)
                ),
            );
        }
    }
}

/// A value with at most 6 significant digits and no trailing zeros (sums of a weekly
/// aggregation print as 7404.02, not 7404.0199999999995).
fn short_num(v: f64) -> String {
    if !v.is_finite() || v == 0.0 {
        return format!("{v}");
    }
    let digits = (5 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    let s = format!("{v:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}
