//! Contract rules on a panel: the period grid, frequencies, dates, value domains, and
//! statistical warnings (collinearity, spikes).

use mmm_core::spec::TargetDomain;

use crate::panel::{At, Findings, Panel};
use crate::{ColumnSummary, date_from_days};

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
                    .map(|k| date_from_days(a + k * step))
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
                    date_from_days(d),
                    date_from_days(as_of)
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

/// Robust z-score spikes in the target and spend, per geo: |x - median| / (1.4826 MAD) > 5.
pub fn spikes(p: &Panel, f: &mut Findings) {
    for (_, rows) in p.by_geo() {
        for (name, role, col) in &p.columns {
            if *role == "control" {
                continue;
            }
            let values: Vec<f64> = rows
                .iter()
                .map(|&i| col[i])
                .filter(|v| v.is_finite())
                .collect();
            if values.len() < 8 {
                continue;
            }
            let med = median(values.clone());
            let mad = median(values.iter().map(|v| (v - med).abs()).collect());
            if mad <= 0.0 {
                continue;
            }
            for &i in &rows {
                let z = (col[i] - med) / (1.4826 * mad);
                if z.abs() > 5.0 {
                    f.warn(
                        "spike",
                        At::cell(p, name, i),
                        format!(
                            "value {} has robust z-score {z:.1} (median {med}, MAD {mad})",
                            col[i]
                        ),
                    );
                }
            }
        }
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}
