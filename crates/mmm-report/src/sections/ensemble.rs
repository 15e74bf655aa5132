//! The "Ensemble" note of the channels and optimizer sections: when `mmm decide --ensemble`
//! wrote RUN/ensemble (made from this run's spec, the ensemble's first run), which runs, their
//! LOO stacking weights and how they were computed, the ensemble's ROAS per channel and its
//! optimized plan's gain.

use serde_json::{Value, json};

use mmm_core::columns::{f64_column, string_column};

use super::{Ctx, number, value};
use crate::format::{num, pct, range};
use crate::stage::ReportError;

/// The note's context, or `None` without an ensemble stage.
pub(crate) fn note(ctx: &Ctx) -> Result<Option<Value>, ReportError> {
    let Some(summary) = &ctx.inputs.ensemble_summary else {
        return Ok(None);
    };
    let runs: Vec<Value> = value(summary, "runs")
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            json!({
                "run": value(r, "run"),
                "model": value(r, "model"),
                "weight": pct(number(r, "stacking_weight")),
                "pseudo_bma_plus": pct(number(r, "pseudo_bma_plus_weight")),
                "draws": value(r, "draws"),
            })
        })
        .collect();
    Ok(Some(json!({
        "runs": runs,
        "draws": value(summary, "draws"),
        "not_for_decisions": value(summary, "not_for_decisions"),
        "roas": roas_rows(ctx)?,
        "plan": plan(ctx),
    })))
}

/// The ensemble's ROAS per channel: mean and HDI from ensemble/roi.parquet.
fn roas_rows(ctx: &Ctx) -> Result<Vec<Value>, ReportError> {
    let Some(batch) = &ctx.inputs.ensemble_roi else {
        return Ok(Vec::new());
    };
    let path = ctx.inputs.path("ensemble", "roi.parquet");
    let ch = string_column(batch, "channel", &path)?;
    let metric = string_column(batch, "metric", &path)?;
    let [mean, lower, upper] =
        ["mean", "lower", "upper"].map(|c| f64_column(batch, c, &path).unwrap_or_default());
    Ok((0..ch.len())
        .filter(|&i| metric[i] == "roas" && i < mean.len().min(lower.len()).min(upper.len()))
        .map(|i| {
            json!({
                "channel": ch[i],
                "roas": num(mean[i]),
                "interval": range(lower[i], upper[i], num),
            })
        })
        .collect())
}

/// The ensemble optimizer's expected gain over the current plan and the probability that the
/// optimized plan beats it, from ensemble/plan.json.
fn plan(ctx: &Ctx) -> Option<Value> {
    let plan = ctx.inputs.ensemble_plan.as_ref()?;
    let gain =
        number(value(plan, "optimized_lift"), "mean") - number(value(plan, "current_lift"), "mean");
    Some(json!({
        "gain": num(gain),
        "prob_better": pct(number(plan, "prob_optimized_beats_current")),
        "channels": value(plan, "channels"),
        "optimized_spend": value(plan, "optimized_spend").as_array().into_iter().flatten()
            .map(|v| ctx.currency.money(v.as_f64().unwrap_or(f64::NAN))).collect::<Vec<_>>(),
    }))
}
