//! What each channel returned: contribution, share, ROAS, marginal ROAS, ROI and profit per
//! channel (decide/roi.parquet), with the share, ROAS and marginal ROAS charts.

use std::collections::HashMap;

use mmm_core::columns::{f64_column, string_column};
use serde::Serialize;

use super::{Ctx, Figure, distinct};
use crate::charts::{self, BarSeries, IntervalOptions, ValueStyle};
use crate::format::{num, pct};
use crate::stage::ReportError;

/// One channel's summaries: `[mean, lower, upper]` of each metric over the posterior draws.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ChannelRow {
    pub(crate) channel: String,
    pub(crate) spend: f64,
    pub(crate) contribution: [f64; 3],
    pub(crate) share: [f64; 3],
    pub(crate) roas: [f64; 3],
    pub(crate) marginal_roas: [f64; 3],
    pub(crate) roi: [f64; 3],
    pub(crate) marginal_roi: [f64; 3],
    /// Median cost per incremental unit of the target.
    pub(crate) cost_per_outcome: f64,
    pub(crate) profit: [f64; 3],
    pub(crate) prob_roi_above_hurdle: f64,
    /// Median and interval of the spend where marginal ROI falls to the hurdle (inf: not
    /// within twice the current spend).
    pub(crate) spend_at_hurdle: [f64; 3],
    /// `spend_at_hurdle` in words for the curves table.
    pub(crate) hurdle_text: String,
    pub(crate) hurdle_interval_text: String,
}

/// The rows of decide/roi.parquet by channel, in the file's order.
pub(crate) fn rows(ctx: &Ctx) -> Result<Vec<ChannelRow>, ReportError> {
    let batch = &ctx.inputs.roi;
    let path = ctx.inputs.path("decide", "roi.parquet");
    let ch = string_column(batch, "channel", &path)?;
    let metric = string_column(batch, "metric", &path)?;
    let cols = ["mean", "lower", "upper", "median"]
        .map(|c| f64_column(batch, c, &path))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    let at: HashMap<(&str, &str), usize> = (0..ch.len())
        .map(|i| ((ch[i].as_str(), metric[i].as_str()), i))
        .collect();
    let get = |c: &str, m: &str, col: usize| at.get(&(c, m)).map_or(f64::NAN, |&i| cols[col][i]);
    let three = |c: &str, m: &str| [get(c, m, 0), get(c, m, 1), get(c, m, 2)];
    Ok(distinct(&ch)
        .into_iter()
        .map(|c| {
            let hurdle = [
                get(&c, "spend_at_hurdle", 3),
                get(&c, "spend_at_hurdle", 1),
                get(&c, "spend_at_hurdle", 2),
            ];
            let spend = get(&c, "spend", 0);
            ChannelRow {
                spend,
                contribution: three(&c, "contribution"),
                share: three(&c, "share"),
                roas: three(&c, "roas"),
                marginal_roas: three(&c, "marginal_roas"),
                roi: three(&c, "roi"),
                marginal_roi: three(&c, "marginal_roi"),
                cost_per_outcome: get(&c, "cost_per_outcome", 3),
                profit: three(&c, "profit"),
                prob_roi_above_hurdle: get(&c, "prob_roi_above_hurdle", 0),
                hurdle_text: hurdle_text(hurdle[0], spend, ctx),
                hurdle_interval_text: hurdle_interval_text(hurdle, spend, ctx),
                spend_at_hurdle: hurdle,
                channel: c,
            }
        })
        .collect())
}

/// The median spend where marginal ROI falls to the hurdle, in words when it is not a number.
fn hurdle_text(median: f64, spend: f64, ctx: &Ctx) -> String {
    if median.is_finite() {
        ctx.currency.money(median)
    } else {
        format!(
            "above {} (2× current): marginal ROI stays above the hurdle",
            ctx.currency.money(2.0 * spend)
        )
    }
}

/// The interval of that spend, with an open end where the draws reach past twice the spend.
fn hurdle_interval_text(h: [f64; 3], spend: f64, ctx: &Ctx) -> String {
    let m = |v: f64| ctx.currency.money(v);
    match (h[1].is_finite(), h[2].is_finite()) {
        (true, true) => format!("{} – {}", m(h[1]), m(h[2])),
        (true, false) => format!("{} to above {} (2× current)", m(h[1]), m(2.0 * spend)),
        _ => format!("above {} (2× current) in most draws", m(2.0 * spend)),
    }
}

/// Items of an interval chart: `(channel, mean, lower, upper)` of the metric `of`, rows whose
/// summary is not finite left out.
fn items(rows: &[ChannelRow], of: fn(&ChannelRow) -> [f64; 3]) -> Vec<(&str, f64, f64, f64)> {
    rows.iter()
        .map(|r| {
            let [m, l, u] = of(r);
            (r.channel.as_str(), m, l, u)
        })
        .filter(|(_, m, l, u)| m.is_finite() && l.is_finite() && u.is_finite())
        .collect()
}

/// Spend share against effect share per channel.
fn share_figure(ctx: &Ctx, rows: &[ChannelRow]) -> Result<Option<Figure>, ReportError> {
    let total: f64 = rows.iter().map(|r| r.spend).sum();
    let ok = |r: &&ChannelRow| r.share.iter().all(|v| v.is_finite()) && r.spend.is_finite();
    let rows: Vec<&ChannelRow> = rows.iter().filter(ok).collect();
    if rows.is_empty() || total.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return Ok(None);
    }
    let names: Vec<&str> = rows.iter().map(|r| r.channel.as_str()).collect();
    let spend: Vec<f64> = rows.iter().map(|r| 100.0 * r.spend / total).collect();
    let [effect, lower, upper] = [0, 1, 2].map(|k| {
        rows.iter()
            .map(|r| 100.0 * r.share[k])
            .collect::<Vec<f64>>()
    });
    let svg = charts::grouped_bar_chart(
        "Share of media spend vs share of media effect, per channel (%)",
        &names,
        &[
            BarSeries {
                name: "share of spend",
                values: &spend,
                interval: None,
            },
            BarSeries {
                name: &format!("share of effect (mean, {}% HDI)", ctx.pct()),
                values: &effect,
                interval: Some((&lower, &upper)),
            },
        ],
        "% of all channels",
        ValueStyle::Percent,
    )?;
    Ok(Some(Figure::new(
        "share",
        svg,
        format!(
            "A channel whose effect share (coloured) exceeds its spend share (grey) returns more {} per unit of spend than the media average; the whisker is the effect share's {}% HDI.",
            ctx.target,
            ctx.pct()
        ),
    )))
}

/// ROAS and marginal ROAS per channel.
fn roas_figures(ctx: &Ctx, rows: &[ChannelRow]) -> Result<Vec<Figure>, ReportError> {
    let (t, p, cur) = (&ctx.target, ctx.pct(), ctx.currency.unit());
    let mut out = Vec::new();
    let roas = items(rows, |r| r.roas);
    if !roas.is_empty() {
        let svg = charts::interval_chart(
            &format!("ROAS per channel: {t} per unit of spend, mean and {p}% HDI"),
            &roas,
            &format!("ROAS ({t} per {cur})"),
        )?;
        out.push(Figure::new("roas", svg, format!("Average return of the channel's whole training-window spend: the dot is the posterior mean, the bar holds {p}% of the posterior; bars that do not overlap are channels that clearly differ.")));
    }
    let marginal = items(rows, |r| r.marginal_roas);
    if !marginal.is_empty() {
        let break_even = (1.0 + ctx.hurdle()) / ctx.margin();
        let label = format!("break-even: marginal ROI = hurdle ({})", num(break_even));
        let svg = charts::interval_chart_with(
            &format!("Marginal ROAS at current spend: {t} from one more unit, mean and {p}% HDI"),
            &marginal,
            &format!("marginal ROAS ({t} per {cur})"),
            &IntervalOptions {
                reference: break_even
                    .is_finite()
                    .then_some((label.as_str(), break_even)),
                compact: false,
                zoom: false,
            },
        )?;
        out.push(Figure::new("marginal-roas", svg, "What the next unit of spend returns at today's level: a channel right of the dashed break-even line would still pay back more spend; left of it, less spend is better. Marginal ROAS is below ROAS when the channel saturates."));
    }
    Ok(out)
}

/// The charts of the channel section.
pub(crate) fn figures(ctx: &Ctx, rows: &[ChannelRow]) -> Result<Vec<Figure>, ReportError> {
    let mut out: Vec<Figure> = share_figure(ctx, rows)?.into_iter().collect();
    out.extend(roas_figures(ctx, rows)?);
    Ok(out)
}

/// Why a channel's probability of clearing the hurdle is what it is, for the plain summary.
pub(crate) fn prob_text(p: f64) -> String {
    if p >= 0.9995 {
        "above 99.9%".to_owned()
    } else if p <= 0.0005 {
        "below 0.1%".to_owned()
    } else {
        pct(p)
    }
}
