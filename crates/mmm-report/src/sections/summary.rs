//! The top of the page: the status banner (gates and warnings), headline numbers and a few
//! plain sentences.

use serde::Serialize;

use super::channels::{ChannelRow, prob_text};
use super::{Ctx, number, value};
use crate::format::{num, pct, plain};

/// The status banner: `ok` (green), `warn` (amber) or `bad` (red), its sentence and the
/// warnings behind an amber one.
#[derive(Debug, Serialize)]
pub(crate) struct Status {
    class: &'static str,
    text: String,
    warnings: Vec<String>,
}

/// Warnings that do not fail a gate but must be read before acting on the numbers.
fn warnings(ctx: &Ctx) -> Vec<String> {
    let diag = &ctx.inputs.diag;
    let mut out = Vec::new();
    let loo = value(diag, "loo");
    let k_max = number(loo, "pareto_k_max");
    let threshold = loo
        .get("k_threshold")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.7);
    if value(loo, "warning").as_bool() == Some(true) || k_max > threshold {
        out.push(format!(
            "PSIS-LOO is unreliable: the largest Pareto k is {} (above {}) for {} training period(s), so elpd_loo and model comparisons based on it should not be trusted (see Pareto k under Diagnostics)",
            num(k_max),
            plain(threshold),
            value(loo, "n_bad_k").as_u64().unwrap_or(0)
        ));
    }
    if let Some(rows) = value(value(diag, "sign_stability"), "rows").as_array() {
        let unstable: Vec<&str> = rows
            .iter()
            .filter(|r| value(r, "stable").as_bool() == Some(false))
            .filter_map(|r| r.get("coefficient").and_then(|c| c.as_str()))
            .collect();
        if !unstable.is_empty() {
            out.push(format!(
                "sign unstable under bootstrap refits: {}",
                unstable.join(", ")
            ));
        }
    }
    let dominated: Vec<&str> = value(diag, "prior_dominated_channels")
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c.as_str())
        .collect();
    if !dominated.is_empty() {
        out.push(format!(
            "the prior, not the data, decides the effect of: {}",
            dominated.join(", ")
        ));
    }
    let baseline = ctx
        .inputs
        .decide_summary
        .as_ref()
        .map(|s| value(s, "baseline_check"));
    if baseline.is_some_and(|b| value(b, "passed").as_bool() == Some(false)) {
        out.push("the baseline (every channel at zero) is negative in some weeks, so channel contributions are likely overstated".to_owned());
    }
    let causal = ctx.inputs.causal.as_ref().map(|c| value(c, "warnings"));
    if let Some(n) = causal
        .and_then(|w| w.as_array())
        .map(Vec::len)
        .filter(|n| *n > 0)
    {
        out.push(format!(
            "{n} control(s) may be mediators (see Causal structure)"
        ));
    }
    out
}

/// The banner: red when a gate failed, amber when a check warns, green otherwise.
pub(crate) fn status(ctx: &Ctx) -> Status {
    let warnings = warnings(ctx);
    let passed = value(&ctx.inputs.diag, "passed").as_bool().unwrap_or(false);
    let (class, text) = if !passed {
        ("bad", "NOT FOR DECISIONS: at least one diagnostic gate failed (see Diagnostics). The numbers below are shown for inspection only.".to_owned())
    } else if warnings.is_empty() {
        ("ok", "All diagnostic gates passed and no check raised a warning: the results below may be used for decisions.".to_owned())
    } else {
        (
            "warn",
            format!(
                "All diagnostic gates passed, but {} warning(s) below need a look before these results are used for decisions.",
                warnings.len()
            ),
        )
    };
    Status {
        class,
        text,
        warnings,
    }
}

/// A headline number with its label and a short note.
#[derive(Debug, Serialize)]
pub(crate) struct Tile {
    label: String,
    value: String,
    note: String,
}

/// Headline numbers: fit, the media's share of the outcome, the best channel and (when the
/// optimizer ran) the plan's gain.
pub(crate) fn tiles(ctx: &Ctx, rows: &[ChannelRow]) -> Vec<Tile> {
    let train = value(&ctx.inputs.diag, "train");
    let mut out = vec![Tile {
        label: "Fit (training R²)".to_owned(),
        value: num(number(train, "r2")),
        note: format!("MAPE {}%", num(number(train, "mape"))),
    }];
    let media: f64 = rows.iter().map(|r| r.contribution[0]).sum();
    let totals = ctx
        .inputs
        .decide_summary
        .as_ref()
        .map(|s| value(s, "component_totals_training_window"));
    let baseline = totals
        .and_then(|t| t.as_array())
        .and_then(|t| {
            t.iter()
                .find(|r| value(r, "component").as_str() == Some("baseline"))
        })
        .map(|r| number(r, "mean"));
    if let Some(b) = baseline.filter(|b| b.is_finite() && b + media != 0.0) {
        out.push(Tile {
            label: format!("Media share of predicted {}", ctx.target),
            value: pct(media / (b + media)),
            note: format!("{} of {}", num(media), num(b + media)),
        });
    }
    let mut ranked: Vec<&ChannelRow> = rows.iter().filter(|r| r.roas[0].is_finite()).collect();
    ranked.sort_by(|a, b| b.roas[0].total_cmp(&a.roas[0]));
    if let Some(best) = ranked.first() {
        out.push(Tile {
            label: "Highest ROAS".to_owned(),
            value: format!("{}: {}", best.channel, num(best.roas[0])),
            note: format!("{} per unit of spend", ctx.target),
        });
    }
    if let Some(plan) = &ctx.inputs.plan {
        let gain = number(value(plan, "optimized_lift"), "mean")
            - number(value(plan, "current_lift"), "mean");
        out.push(Tile {
            label: "Optimized plan's gain".to_owned(),
            value: format!("+{}", num(gain)),
            note: format!(
                "{} over {} weeks; better in {} of draws",
                ctx.target,
                value(plan, "horizon_weeks"),
                pct(number(plan, "prob_optimized_beats_current"))
            ),
        });
    }
    out
}

/// A few plain sentences for a marketer: what returned most, how sure, and whether to trust it.
pub(crate) fn plain_summary(ctx: &Ctx, rows: &[ChannelRow], status: &Status) -> Vec<String> {
    let t = &ctx.target;
    let mut out = vec![match status.class {
        "ok" => "The model passed every diagnostic gate and no check raised a warning, so its numbers can inform budget decisions.".to_owned(),
        "warn" => "The model passed every diagnostic gate, but some checks raised warnings (listed at the top): read them before basing budget decisions on these numbers.".to_owned(),
        _ => "At least one diagnostic gate failed: treat every number below as provisional, not as a basis for budget decisions.".to_owned(),
    }];
    let mut ranked: Vec<&ChannelRow> = rows.iter().filter(|r| r.roas[0].is_finite()).collect();
    ranked.sort_by(|a, b| b.roas[0].total_cmp(&a.roas[0]));
    if let Some(best) = ranked.first() {
        out.push(format!(
            "{} returned the most per unit of spend: about {} {t} per unit (a {}% interval of {} to {}).",
            best.channel,
            num(best.roas[0]),
            ctx.pct(),
            num(best.roas[1]),
            num(best.roas[2])
        ));
    }
    for r in rows.iter().filter(|r| r.prob_roi_above_hurdle.is_finite()) {
        out.push(format!(
            "{}: {} {t} from {} of spend; the chance that it cleared the ROI hurdle is {}.",
            r.channel,
            num(r.contribution[0]),
            ctx.currency.money(r.spend),
            prob_text(r.prob_roi_above_hurdle)
        ));
    }
    out
}
