//! Contributions over time: the prediction stacked into baseline parts and channels
//! (decide/decomposition.parquet), and the waterfall of the training window's totals.

use std::collections::HashMap;

use mmm_core::columns::{date_column, f64_column, string_column};
use serde::Serialize;

use super::fit::Ppc;
use super::{Ctx, Figure, distinct, number};
use crate::charts::{self, Layer, LayerKind};
use crate::format::{num, range};
use crate::stage::ReportError;

/// The decomposition's mean per component and period, components in file order.
struct Series {
    days: Vec<i32>,
    names: Vec<String>,
    means: Vec<Vec<f64>>,
}

fn read(ctx: &Ctx) -> Result<Series, ReportError> {
    let b = &ctx.inputs.decomposition;
    let path = ctx.inputs.path("decide", "decomposition.parquet");
    let dates = date_column(b, "date", &path)?;
    let comp = string_column(b, "component", &path)?;
    let mean = f64_column(b, "mean", &path)?;
    let names = distinct(&comp);
    let first = names.first().ok_or_else(|| ReportError::Missing {
        path: path.clone(),
        what: "no rows",
    })?;
    let days: Vec<i32> = (0..comp.len())
        .filter(|&i| &comp[i] == first)
        .map(|i| dates[i])
        .collect();
    let means = names
        .iter()
        .map(|n| {
            (0..comp.len())
                .filter(|&i| &comp[i] == n)
                .map(|i| mean[i])
                .collect()
        })
        .collect();
    Ok(Series { days, names, means })
}

/// The layers that add up to the prediction: the baseline's parts (the components listed
/// before `baseline`, their sum) when there are any, else `baseline` itself; then the
/// channels and, for a non-additive model, `interaction`. `baseline` is never stacked on its
/// own parts.
fn layers(s: &Series) -> Vec<(usize, LayerKind)> {
    let at = s.names.iter().position(|n| n == "baseline");
    match at {
        Some(b) if b > 0 => (0..s.names.len())
            .filter(|&i| i != b)
            .map(|i| {
                (
                    i,
                    if i < b {
                        LayerKind::Baseline
                    } else {
                        LayerKind::Media
                    },
                )
            })
            .collect(),
        _ => (0..s.names.len())
            .map(|i| {
                let base = s.names[i] == "baseline";
                (
                    i,
                    if base {
                        LayerKind::Baseline
                    } else {
                        LayerKind::Media
                    },
                )
            })
            .collect(),
    }
}

/// The observed target on the decomposition's days, when ppc.parquet has every one of them.
fn observed_on(days: &[i32], ppc: &Ppc) -> Option<Vec<f64>> {
    let by_day: HashMap<i32, f64> = ppc
        .days
        .iter()
        .copied()
        .zip(ppc.observed.iter().copied())
        .collect();
    days.iter().map(|d| by_day.get(d).copied()).collect()
}

/// One row of the training window's component totals.
#[derive(Debug, Serialize)]
pub(crate) struct TotalRow {
    pub(crate) component: String,
    pub(crate) mean: String,
    pub(crate) interval: String,
}

/// summary.json's `component_totals_training_window`, formatted.
pub(crate) fn totals(ctx: &Ctx) -> Vec<TotalRow> {
    let Some(rows) = ctx
        .inputs
        .decide_summary
        .as_ref()
        .and_then(|s| s.get("component_totals_training_window"))
        .and_then(|r| r.as_array())
    else {
        return Vec::new();
    };
    rows.iter()
        .map(|r| TotalRow {
            component: r
                .get("component")
                .and_then(|c| c.as_str())
                .unwrap_or("")
                .to_owned(),
            mean: num(number(r, "mean")),
            interval: range(number(r, "lower"), number(r, "upper"), num),
        })
        .collect()
}

/// The waterfall's steps: each stacked component's training-window total (summary.json when
/// present, else the decomposition's means summed over the training weeks).
fn steps(ctx: &Ctx, s: &Series, stacked: &[(usize, LayerKind)], ppc: &Ppc) -> Vec<(String, f64)> {
    let from_summary: HashMap<String, f64> = ctx
        .inputs
        .decide_summary
        .as_ref()
        .and_then(|v| v.get("component_totals_training_window"))
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| {
            Some((
                r.get("component")?.as_str()?.to_owned(),
                r.get("mean")?.as_f64()?,
            ))
        })
        .collect();
    let train: std::collections::HashSet<i32> = ppc.train_days().into_iter().collect();
    stacked
        .iter()
        .map(|&(i, _)| {
            let name = &s.names[i];
            let total = from_summary.get(name).copied().unwrap_or_else(|| {
                s.days
                    .iter()
                    .zip(&s.means[i])
                    .filter(|(d, _)| train.contains(d))
                    .map(|(_, v)| v)
                    .sum()
            });
            (name.clone(), total)
        })
        .collect()
}

/// The stacked decomposition and the waterfall of totals.
pub(crate) fn figures(ctx: &Ctx, ppc: &Ppc) -> Result<Vec<Figure>, ReportError> {
    let s = read(ctx)?;
    let stacked = layers(&s);
    let layer_list: Vec<Layer> = stacked
        .iter()
        .map(|&(i, kind)| Layer {
            name: &s.names[i],
            values: &s.means[i],
            kind,
        })
        .collect();
    let observed = observed_on(&s.days, ppc);
    let t = &ctx.target;
    let area = charts::stacked_area_chart(
        &format!("Contributions over time: predicted {t} stacked by component (posterior means)"),
        &s.days,
        &layer_list,
        observed.as_deref(),
        t,
    )?;
    let steps = steps(ctx, &s, &stacked, ppc);
    let refs: Vec<(&str, f64)> = steps.iter().map(|(n, v)| (n.as_str(), *v)).collect();
    let waterfall = charts::waterfall_chart(
        &format!("From components to the predicted total: {t} over the training window"),
        &refs,
        "predicted total",
        &format!("{t}, training-window total"),
    )?;
    Ok(vec![
        Figure::new(
            "decomposition",
            area,
            format!(
                "Each period's predicted {t} split into the baseline's parts (muted colours: intercept, controls, seasonality, trend) and the channels (bright colours); parts below zero stack downwards. The black line is the observed {t}."
            ),
        ),
        Figure::new(
            "waterfall",
            waterfall,
            format!(
                "Read top to bottom: each component adds (green) or subtracts (vermillion) its training-window total; the grey bar is their sum, the predicted total {t}."
            ),
        ),
    ])
}
