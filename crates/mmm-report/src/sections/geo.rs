//! A geo hierarchy's results per geo (decide/geo_roi.parquet, optimize/geo_allocation.parquet)
//! and the per-geo parameters of diagnostics.json, one row per stem.

use std::collections::HashMap;

use mmm_core::columns::{f64_column, string_column};
use serde::Serialize;

use super::channels::ChannelRow;
use super::plans::{allowed_range, with_limit_source};
use super::{Ctx, distinct, value};
use crate::charts;
use crate::format::{num, range};
use crate::stage::ReportError;

/// One channel in one geo, from decide/geo_roi.parquet.
#[derive(Debug, Serialize)]
struct GeoChannelRow {
    geo: String,
    channel: String,
    spend: String,
    contribution: String,
    contribution_interval: String,
    roas: String,
    roas_interval: String,
}

/// One channel (or `total`) in one geo: the current and the optimized plan, from
/// optimize/geo_allocation.parquet.
#[derive(Debug, Serialize)]
pub(crate) struct GeoAllocationRow {
    geo: String,
    channel: String,
    current: String,
    optimized: String,
    /// The cell's allowed spend, e.g. `≤ 5,000` or `any` (empty for totals).
    allowed: String,
    current_lift: String,
    current_interval: String,
    optimized_lift: String,
    optimized_interval: String,
}

/// The results of a geo hierarchy, per geo.
#[derive(Debug, Serialize)]
pub(crate) struct GeoSection {
    geos: Vec<String>,
    /// Mass of geo_roi.parquet's intervals, in percent.
    interval_pct: String,
    rows: Vec<GeoChannelRow>,
    /// One ROAS interval chart per channel, geos as rows.
    roas_svgs: Vec<String>,
    allocation: Option<Vec<GeoAllocationRow>>,
}

/// Per-geo summaries `[mean, lower, upper]` by (geo, channel, metric).
struct GeoRoi {
    geos: Vec<String>,
    at: HashMap<(String, String, String), [f64; 3]>,
    interval: f64,
}

fn read_geo_roi(ctx: &Ctx, batch: &arrow::array::RecordBatch) -> Result<GeoRoi, ReportError> {
    let path = ctx.inputs.path("decide", "geo_roi.parquet");
    let geo = string_column(batch, "geo", &path)?;
    let channel = string_column(batch, "channel", &path)?;
    let metric = string_column(batch, "metric", &path)?;
    let cols = ["mean", "lower", "upper"].map(|c| f64_column(batch, c, &path));
    let [mean, lower, upper] = cols;
    let (mean, lower, upper) = (mean?, lower?, upper?);
    let interval = f64_column(batch, "interval", &path)?
        .first()
        .copied()
        .ok_or(ReportError::Missing {
            path,
            what: "no rows",
        })?;
    let at = (0..geo.len())
        .map(|i| {
            (
                (geo[i].clone(), channel[i].clone(), metric[i].clone()),
                [mean[i], lower[i], upper[i]],
            )
        })
        .collect();
    Ok(GeoRoi {
        geos: distinct(&geo),
        at,
        interval,
    })
}

impl GeoRoi {
    fn get(&self, g: &str, c: &str, m: &str) -> [f64; 3] {
        self.at
            .get(&(g.to_owned(), c.to_owned(), m.to_owned()))
            .copied()
            .unwrap_or([f64::NAN; 3])
    }
}

/// A summary's interval, or why there is none.
fn interval_or(v: [f64; 3], why: &str) -> String {
    if v[1].is_finite() && v[2].is_finite() {
        range(v[1], v[2], num)
    } else {
        why.to_owned()
    }
}

/// Per-geo rows, charts and (when the optimizer ran) allocation of a geo hierarchy.
pub(crate) fn section(
    ctx: &Ctx,
    national: &[ChannelRow],
) -> Result<Option<GeoSection>, ReportError> {
    let Some(batch) = &ctx.inputs.geo_roi else {
        return Ok(None);
    };
    let roi = read_geo_roi(ctx, batch)?;
    let interval_pct = format!("{:.0}", 100.0 * roi.interval);
    let mut rows = Vec::new();
    for g in &roi.geos {
        for c in national {
            let (roas, contribution) = (
                roi.get(g, &c.channel, "roas"),
                roi.get(g, &c.channel, "contribution"),
            );
            let no_spend = "no spend in this geo";
            rows.push(GeoChannelRow {
                geo: g.clone(),
                channel: c.channel.clone(),
                spend: ctx.currency.money(roi.get(g, &c.channel, "spend")[0]),
                contribution: num(contribution[0]),
                contribution_interval: interval_or(contribution, "not computed"),
                roas: if roas[0].is_finite() {
                    num(roas[0])
                } else {
                    no_spend.to_owned()
                },
                roas_interval: interval_or(roas, no_spend),
            });
        }
    }
    Ok(Some(GeoSection {
        roas_svgs: roas_charts(ctx, &roi, national, &interval_pct)?,
        allocation: allocation(ctx)?,
        geos: roi.geos,
        interval_pct,
        rows,
    }))
}

/// One ROAS chart per channel with the geos as rows and the national ROAS as reference.
fn roas_charts(
    ctx: &Ctx,
    roi: &GeoRoi,
    national: &[ChannelRow],
    pct: &str,
) -> Result<Vec<String>, ReportError> {
    let mut out = Vec::new();
    for c in national {
        // A geo without spend on the channel has no ROAS: it stays in the table, in words.
        let items: Vec<(&str, f64, f64, f64)> = roi
            .geos
            .iter()
            .map(|g| (g.as_str(), roi.get(g, &c.channel, "roas")))
            .filter(|(_, r)| r.iter().all(|v| v.is_finite()))
            .map(|(g, r)| (g, r[0], r[1], r[2]))
            .collect();
        if items.is_empty() {
            continue;
        }
        let label = format!("national ROAS (all geos), mean {}", num(c.roas[0]));
        let options = charts::IntervalOptions {
            reference: c.roas[0].is_finite().then_some((label.as_str(), c.roas[0])),
            compact: items.len() > 12,
            zoom: false,
        };
        out.push(charts::interval_chart_with(
            &format!(
                "ROAS of {} per geo ({} per unit of spend), mean and {pct}% HDI",
                c.channel, ctx.target
            ),
            &items,
            "ROAS",
            &options,
        )?);
    }
    Ok(out)
}

/// The current and optimized plan of every geo and channel, side by side.
fn allocation(ctx: &Ctx) -> Result<Option<Vec<GeoAllocationRow>>, ReportError> {
    let Some(batch) = &ctx.inputs.geo_allocation else {
        return Ok(None);
    };
    let path = ctx.inputs.path("optimize", "geo_allocation.parquet");
    let s = |c: &str| string_column(batch, c, &path);
    let f = |c: &str| f64_column(batch, c, &path);
    let (geo, plan, channel) = (s("geo")?, s("plan")?, s("channel")?);
    let (spend, lo, hi) = (f("spend")?, f("lower_bound")?, f("upper_bound")?);
    let (m, l, u) = (f("lift_mean")?, f("lift_lower")?, f("lift_upper")?);
    let find = |g: &str, p: &str, c: &str| {
        (0..plan.len()).find(|&i| geo[i] == g && plan[i] == p && channel[i] == c)
    };
    let money = |v: f64| ctx.currency.money(v);
    let mut out = Vec::new();
    for i in (0..plan.len()).filter(|&i| plan[i] == "optimized") {
        let current = find(&geo[i], "current", &channel[i]);
        let cell = format!("{} in {}", channel[i], geo[i]);
        out.push(GeoAllocationRow {
            geo: geo[i].clone(),
            channel: channel[i].clone(),
            current: current
                .map_or_else(|| "not in the current plan".to_owned(), |j| money(spend[j])),
            optimized: money(spend[i]),
            allowed: with_limit_source(
                allowed_range(lo[i], hi[i], &ctx.currency),
                ctx.inputs.plan.as_ref(),
                &cell,
            ),
            current_lift: current
                .map_or_else(|| "not in the current plan".to_owned(), |j| num(m[j])),
            current_interval: current.map_or_else(String::new, |j| range(l[j], u[j], num)),
            optimized_lift: num(m[i]),
            optimized_interval: range(l[i], u[i], num),
        });
    }
    Ok(Some(out))
}

/// Per-geo parameters (`beta_geo_z[geo=g01,ch1]`, `intercept[geo=g01]`) are shown as one row
/// per stem, not one per geo.
const PER_GEO: &str = "[geo=";

/// Stems of per-geo standardized deviations (`beta_geo_z`, `adstock_alpha_geo_z`, …).
const DEVIATION_STEM: &str = "_geo_z";

/// One convergence-table row standing for every per-geo parameter of a stem.
#[derive(Debug, Serialize)]
pub(crate) struct ParameterGroup {
    stem: String,
    /// Standardized deviations (`…_geo_z`) rather than per-geo values.
    deviation: bool,
    count: usize,
    max_rhat: f64,
    min_ess_bulk: f64,
    min_ess_tail: f64,
}

/// One prior-vs-posterior row standing for every per-geo parameter of a stem.
#[derive(Debug, Serialize)]
pub(crate) struct PriorGroup {
    stem: String,
    deviation: bool,
    count: usize,
    /// Smallest and largest posterior mean over the geos.
    posterior_mean: [f64; 2],
    max_posterior_sd: f64,
    min_contraction: f64,
    max_shift: f64,
    prior_dominated: usize,
}

/// The per-geo entries of `rows` (an array of objects whose `key` holds a parameter name
/// containing `[geo=`), grouped by stem (the name up to `[`) in order of first appearance.
fn per_geo_groups<'a>(
    rows: &'a serde_json::Value,
    key: &str,
) -> Vec<(String, Vec<&'a serde_json::Value>)> {
    let mut groups: Vec<(String, Vec<&serde_json::Value>)> = Vec::new();
    for row in rows.as_array().into_iter().flatten() {
        let Some(name) = row.get(key).and_then(|n| n.as_str()) else {
            continue;
        };
        let Some(at) = name.find(PER_GEO) else {
            continue;
        };
        let stem = &name[..at];
        match groups.iter_mut().find(|(s, _)| s == stem) {
            Some((_, members)) => members.push(row),
            None => groups.push((stem.to_owned(), vec![row])),
        }
    }
    groups
}

/// `f` folded over the numbers under `key` (NaN where none is a number).
fn fold(rows: &[&serde_json::Value], key: &str, f: fn(f64, f64) -> f64) -> f64 {
    rows.iter()
        .filter_map(|r| value(r, key).as_f64())
        .reduce(f)
        .unwrap_or(f64::NAN)
}

/// The convergence rows of per-geo parameters, one per stem.
pub(crate) fn parameter_groups(diag: &serde_json::Value) -> Vec<ParameterGroup> {
    per_geo_groups(value(diag, "parameters"), "name")
        .into_iter()
        .map(|(stem, ps)| ParameterGroup {
            deviation: stem.ends_with(DEVIATION_STEM),
            count: ps.len(),
            max_rhat: fold(&ps, "rhat", f64::max),
            min_ess_bulk: fold(&ps, "ess_bulk", f64::min),
            min_ess_tail: fold(&ps, "ess_tail", f64::min),
            stem,
        })
        .collect()
}

/// The prior-vs-posterior rows of per-geo parameters, one per stem.
pub(crate) fn prior_groups(diag: &serde_json::Value) -> Vec<PriorGroup> {
    per_geo_groups(value(diag, "prior_posterior"), "parameter")
        .into_iter()
        .map(|(stem, ps)| PriorGroup {
            deviation: stem.ends_with(DEVIATION_STEM),
            count: ps.len(),
            posterior_mean: [
                fold(&ps, "posterior_mean", f64::min),
                fold(&ps, "posterior_mean", f64::max),
            ],
            max_posterior_sd: fold(&ps, "posterior_sd", f64::max),
            min_contraction: fold(&ps, "contraction", f64::min),
            max_shift: fold(&ps, "shift", f64::max),
            prior_dominated: ps
                .iter()
                .filter(|p| value(p, "prior_dominated").as_bool() == Some(true))
                .count(),
            stem,
        })
        .collect()
}
