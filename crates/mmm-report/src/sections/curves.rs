//! Response curves (decide/curves.parquet) with the current, recommended and saturation spend,
//! and adstock decay per channel from the posterior adstock parameters (fit/draws.parquet).

use std::collections::HashMap;

use mmm_core::columns::{f64_column, string_column};
use mmm_features::transforms::Adstock;
use serde::Serialize;

use super::channels::ChannelRow;
use super::plans::planned_spend;
use super::{Ctx, Figure};
use crate::charts::{self, Curve, Decay};
use crate::stage::ReportError;

/// One channel's grid from curves.parquet: spend, mean, 50% and wide bands.
struct Grid {
    channel: String,
    cols: [Vec<f64>; 6],
}

fn grids(ctx: &Ctx, rows: &[ChannelRow]) -> Result<Vec<Grid>, ReportError> {
    let Some(batch) = &ctx.inputs.curves else {
        return Ok(Vec::new());
    };
    let path = ctx.inputs.path("decide", "curves.parquet");
    let ch = string_column(batch, "channel", &path)?;
    let cols = ["spend", "mean", "lower_50", "upper_50", "lower", "upper"]
        .map(|c| f64_column(batch, c, &path))
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows
        .iter()
        .map(|r| {
            let idx: Vec<usize> = (0..ch.len()).filter(|&i| ch[i] == r.channel).collect();
            Grid {
                channel: r.channel.clone(),
                cols: std::array::from_fn(|k| idx.iter().map(|&i| cols[k][i]).collect()),
            }
        })
        .filter(|g| g.cols[0].len() >= 2 && g.cols.iter().flatten().all(|v| v.is_finite()))
        .collect())
}

/// The saturation point of a mean response curve: the first spend, past the steepest part of
/// the curve, where the marginal response (the curve's slope between grid points) has fallen
/// to half of its steepest; `None` when it stays above half on the whole grid.
pub(crate) fn saturation_point(spend: &[f64], mean: &[f64]) -> Option<f64> {
    let slopes: Vec<(f64, f64)> = spend
        .windows(2)
        .zip(mean.windows(2))
        .filter(|(s, _)| s[1] > s[0])
        .map(|(s, m)| ((s[0] + s[1]) / 2.0, (m[1] - m[0]) / (s[1] - s[0])))
        .collect();
    let (peak_at, peak) = slopes
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.1.total_cmp(&b.1.1))
        .map(|(i, s)| (i, s.1))?;
    if peak.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater) {
        return None;
    }
    slopes[peak_at..]
        .iter()
        .find(|(_, s)| *s <= peak / 2.0)
        .map(|(x, _)| *x)
}

/// Per channel: the table row of the response-curve section.
#[derive(Debug, Serialize)]
pub(crate) struct CurveRow {
    pub(crate) channel: String,
    pub(crate) current: String,
    pub(crate) recommended: String,
    pub(crate) saturation: String,
    pub(crate) hurdle: String,
    pub(crate) hurdle_interval: String,
}

/// The response-curve figure and its table.
pub(crate) fn response(
    ctx: &Ctx,
    rows: &[ChannelRow],
) -> Result<(Option<Figure>, Vec<CurveRow>), ReportError> {
    let grids = grids(ctx, rows)?;
    if grids.is_empty() {
        return Ok((None, Vec::new()));
    }
    let planned = planned_spend(ctx)?;
    let by_name: HashMap<&str, &ChannelRow> =
        rows.iter().map(|r| (r.channel.as_str(), r)).collect();
    let mut curves = Vec::new();
    let mut table = Vec::new();
    for g in &grids {
        let r = by_name[g.channel.as_str()];
        let saturation = saturation_point(&g.cols[0], &g.cols[1]);
        let recommended = planned
            .get(&g.channel)
            .map(|(cur, opt)| r.spend * opt / cur)
            .filter(|v| v.is_finite());
        let hurdle = Some(r.spend_at_hurdle[0]).filter(|v| v.is_finite());
        table.push(curve_row(ctx, r, recommended, saturation, &g.cols[0]));
        curves.push(Curve {
            name: &g.channel,
            spend: &g.cols[0],
            mean: &g.cols[1],
            inner: (&g.cols[2], &g.cols[3]),
            outer: (&g.cols[4], &g.cols[5]),
            current: r.spend,
            recommended,
            saturation,
            hurdle,
        });
    }
    let (t, p, cur) = (&ctx.target, ctx.pct(), ctx.currency.unit());
    let svg = charts::response_chart(
        &format!(
            "Response curves: total {t} against training-window spend (mean, 50% and {p}% HDI)"
        ),
        &curves,
        (&format!("spend over the training window ({cur})"), t),
    )?;
    let guide = format!(
        "Each panel is one channel's total {t} if its whole training-window spend were scaled from 0 to 2×. The dot is today's spend; the square the optimizer's recommendation scaled to the same window; the grey dashed line is where the curve flattens to half its steepest slope (saturation)."
    );
    Ok((Some(Figure::new("response-curves", svg, guide)), table))
}

fn curve_row(
    ctx: &Ctx,
    r: &ChannelRow,
    recommended: Option<f64>,
    saturation: Option<f64>,
    grid: &[f64],
) -> CurveRow {
    let m = |v: f64| ctx.currency.money(v);
    let top = grid.last().copied().unwrap_or(f64::NAN);
    CurveRow {
        channel: r.channel.clone(),
        current: m(r.spend),
        recommended: recommended.map_or_else(|| "no optimizer run in this report".to_owned(), m),
        saturation: saturation.map_or_else(
            || {
                format!(
                    "above {} (2× current): the curve has not flattened to half its steepest slope",
                    m(top)
                )
            },
            m,
        ),
        hurdle: r.hurdle_text.clone(),
        hurdle_interval: r.hurdle_interval_text.clone(),
    }
}

/// A column of draws.parquet by name, `None` when absent.
fn draw_column(ctx: &Ctx, name: &str) -> Option<Vec<f64>> {
    f64_column(
        &ctx.inputs.draws,
        name,
        &ctx.inputs.path("fit", "draws.parquet"),
    )
    .ok()
}

/// Mean and central interval of adstock weights per lag over the posterior draws.
fn decay_summary(kind: Adstock, l_max: usize, params: &[Vec<f64>], interval: f64) -> [Vec<f64>; 3] {
    let draws = params.first().map_or(0, Vec::len);
    let mut by_lag = vec![Vec::with_capacity(draws); l_max];
    let (mut w, mut d0, mut d1) = (vec![0.0; l_max], vec![0.0; l_max], vec![0.0; l_max]);
    for k in 0..draws {
        let theta: Vec<f64> = params.iter().map(|p| p[k]).collect();
        kind.weights(&theta, &mut w, &mut d0, &mut d1);
        for (lag, v) in w.iter().enumerate() {
            by_lag[lag].push(*v);
        }
    }
    let tail = (1.0 - interval) / 2.0;
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        let at = (p * (v.len().max(1) - 1) as f64).round() as usize;
        v.get(at).copied().unwrap_or(f64::NAN)
    };
    let mean = by_lag
        .iter()
        .map(|v| v.iter().sum::<f64>() / v.len().max(1) as f64)
        .collect();
    let lower = by_lag.iter_mut().map(|v| q(v, tail)).collect();
    let upper = by_lag.iter_mut().map(|v| q(v, 1.0 - tail)).collect();
    [mean, lower, upper]
}

/// Adstock decay per channel, or why it cannot be drawn.
pub(crate) fn adstock(ctx: &Ctx) -> Result<Result<Figure, String>, ReportError> {
    let Some(spec) = &ctx.spec.typed else {
        return Ok(Err(
            "the run's spec does not parse with this version of mmm".to_owned(),
        ));
    };
    let mut decays: Vec<(String, [Vec<f64>; 3])> = Vec::new();
    let mut normalized = true;
    for ch in &spec.channels {
        let names: Vec<String> = ch
            .adstock
            .parameters()
            .iter()
            .map(|(stem, ..)| format!("{stem}[{}]", ch.name))
            .collect();
        let Some(params) = names
            .iter()
            .map(|n| draw_column(ctx, n))
            .collect::<Option<Vec<_>>>()
        else {
            continue;
        };
        normalized &= ch.adstock.normalize();
        let kind = Adstock::from_spec(&ch.adstock);
        decays.push((
            ch.name.clone(),
            decay_summary(kind, ch.adstock.l_max(), &params, ctx.interval),
        ));
    }
    if decays.is_empty() {
        return Ok(Err(
            "fit/draws.parquet has no pooled adstock parameter per channel".to_owned(),
        ));
    }
    let list: Vec<Decay> = decays
        .iter()
        .map(|(name, [m, l, u])| Decay {
            name,
            mean: m,
            lower: l,
            upper: u,
        })
        .collect();
    let p = ctx.pct();
    let y = if normalized {
        "share of the spend's effect"
    } else {
        "weight (spend week = 1)"
    };
    let svg = charts::decay_chart(
        &format!("Adstock decay: weight of a unit of spend by week (mean, {p}% interval)"),
        &list,
        y,
    )?;
    Ok(Ok(Figure::new(
        "adstock",
        svg,
        format!(
            "How long a unit of spend keeps working: the weight in the week it is spent (week 0) and in each later week, from every posterior draw of the channel's adstock parameters (central {p}% interval). Slow decay means today's spend still pays out weeks later."
        ),
    )))
}
