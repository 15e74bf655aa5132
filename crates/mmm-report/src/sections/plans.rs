//! Budget plans: the optimizer's current and optimized plan (optimize/allocation.parquet,
//! plan.json) and scenarios against the current plan (scenario/comparison.json), with what
//! "current plan" means in each.

use std::collections::HashMap;

use mmm_core::columns::{f64_column, string_column};
use serde::Serialize;

use super::{Ctx, Figure, number, value};
use crate::charts::{self, BarSeries, IntervalOptions, ValueStyle};
use crate::format::{Currency, num, pct, plain, range, tidy_text};
use crate::stage::ReportError;

/// One row of allocation.parquet, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct AllocationRow {
    pub(crate) plan: String,
    pub(crate) channel: String,
    pub(crate) spend: String,
    /// Bounds are absent (NaN) on totals and for cells bounded per geo.
    pub(crate) bounded: bool,
    /// The allowed spend as text with where it comes from, e.g. `700 – 1,300 (default ±30%)`.
    pub(crate) allowed: String,
    pub(crate) lift: String,
    pub(crate) lift_interval: String,
    pub(crate) profit: String,
}

/// allocation.parquet's raw columns.
struct Allocation {
    plan: Vec<String>,
    channel: Vec<String>,
    spend: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    lift: [Vec<f64>; 3],
    profit: Vec<f64>,
}

fn read_allocation(ctx: &Ctx) -> Result<Option<Allocation>, ReportError> {
    let Some(b) = &ctx.inputs.allocation else {
        return Ok(None);
    };
    let path = ctx.inputs.path("optimize", "allocation.parquet");
    let f = |c: &str| f64_column(b, c, &path);
    Ok(Some(Allocation {
        plan: string_column(b, "plan", &path)?,
        channel: string_column(b, "channel", &path)?,
        spend: f("spend")?,
        lower: f("lower_bound")?,
        upper: f("upper_bound")?,
        lift: [f("lift_mean")?, f("lift_lower")?, f("lift_upper")?],
        profit: f("profit_mean")?,
    }))
}

/// Per channel, the current and the optimized plan's spend over the horizon.
pub(crate) fn planned_spend(ctx: &Ctx) -> Result<HashMap<String, (f64, f64)>, ReportError> {
    let Some(a) = read_allocation(ctx)? else {
        return Ok(HashMap::new());
    };
    let mut out: HashMap<String, (f64, f64)> = HashMap::new();
    for i in (0..a.plan.len()).filter(|&i| a.channel[i] != "total") {
        let e = out
            .entry(a.channel[i].clone())
            .or_insert((f64::NAN, f64::NAN));
        match a.plan[i].as_str() {
            "current" => e.0 = a.spend[i],
            "optimized" => e.1 = a.spend[i],
            _ => {}
        }
    }
    Ok(out)
}

/// An optimizer cell's bounds as text: `1,000 – 5,000`, `≤ 5,000` (from zero), `≥ 1,000` (no
/// cap) or `any`; empty without bounds (a total row).
pub(crate) fn allowed_range(lower: f64, upper: f64, money: &Currency) -> String {
    let (from_zero, uncapped) = (lower == 0.0 || lower.is_nan(), !upper.is_finite());
    if lower.is_nan() && upper.is_nan() {
        String::new()
    } else if from_zero && uncapped {
        "any".to_owned()
    } else if from_zero {
        format!("≤ {}", money.money(upper))
    } else if uncapped {
        format!("≥ {}", money.money(lower))
    } else {
        format!("{} – {}", money.money(lower), money.money(upper))
    }
}

fn allocation_rows(ctx: &Ctx, a: &Allocation) -> Vec<AllocationRow> {
    let m = |v: f64| ctx.currency.money(v);
    (0..a.plan.len())
        .map(|i| AllocationRow {
            plan: a.plan[i].clone(),
            channel: a.channel[i].clone(),
            spend: m(a.spend[i]),
            bounded: !a.lower[i].is_nan(),
            allowed: with_limit_source(
                allowed_range(a.lower[i], a.upper[i], &ctx.currency),
                ctx.inputs.plan.as_ref(),
                &a.channel[i],
            ),
            lift: num(a.lift[0][i]),
            lift_interval: range(a.lift[1][i], a.lift[2][i], num),
            profit: m(a.profit[i]),
        })
        .collect()
}

/// The optimizer's per-channel limits, for the paragraph under the optimized plan (from
/// plan.json's `guardrails`; absent in plans written before it was recorded).
#[derive(Debug, Serialize)]
pub(crate) struct Guardrails {
    /// `default` (the default max_change), `spec` (max_change set in the spec) or `none` (no
    /// max_change: `inf`).
    kind: &'static str,
    /// max_change as a percentage, e.g. `30`.
    pct: String,
    /// max_change as a fraction, e.g. `0.3`.
    max_change: String,
    /// The default max_change as a fraction.
    default_max_change: String,
    /// The default max_change as a percentage.
    default_pct: String,
    /// Cells with an end from `decisions.optimizer.bounds`.
    bounded: Vec<String>,
}

pub(crate) fn guardrails(plan: Option<&serde_json::Value>) -> Option<Guardrails> {
    let g = plan?.get("guardrails")?;
    let m = g.get("max_change").and_then(serde_json::Value::as_f64);
    let kind = match (m, g.get("max_change_source").and_then(|s| s.as_str())) {
        (None, _) => "none",
        (Some(_), Some("default_max_change")) => "default",
        (Some(_), _) => "spec",
    };
    let bounded = value(g, "ranges")
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            ["lower_source", "upper_source"]
                .iter()
                .any(|k| r.get(*k).and_then(|s| s.as_str()) == Some("bounds"))
        })
        .filter_map(|r| r.get("channel").and_then(|c| c.as_str()).map(str::to_owned))
        .collect();
    let default = number(g, "default_max_change");
    Some(Guardrails {
        kind,
        pct: m.map(|m| plain(100.0 * m)).unwrap_or_default(),
        max_change: m.map(plain).unwrap_or_default(),
        default_max_change: plain(default),
        default_pct: plain(100.0 * default),
        bounded,
    })
}

/// `allowed` followed by where the limits of `cell` come from (plan.json's guardrails), e.g.
/// `700 – 1,300 (default ±30%)`, `≥ 1 (bounds min; default ±30% max)`; `allowed` alone when
/// the plan records none or the cell has no limit.
pub(crate) fn with_limit_source(
    allowed: String,
    plan: Option<&serde_json::Value>,
    cell: &str,
) -> String {
    let Some(g) = plan.and_then(|p| p.get("guardrails")) else {
        return allowed;
    };
    let Some(range) = value(g, "ranges").as_array().and_then(|r| {
        r.iter()
            .find(|r| r.get("channel").and_then(|c| c.as_str()) == Some(cell))
    }) else {
        return allowed;
    };
    let pct = g
        .get("max_change")
        .and_then(serde_json::Value::as_f64)
        .map(|m| plain(100.0 * m))
        .unwrap_or_default();
    let name = |key: &str| -> Option<String> {
        match range.get(key).and_then(|s| s.as_str())? {
            "default_max_change" => Some(format!("default ±{pct}%")),
            "max_change" => Some(format!("max_change ±{pct}%")),
            "bounds" => Some("bounds".to_owned()),
            _ => None,
        }
    };
    let source = match (name("lower_source"), name("upper_source")) {
        (None, None) => return allowed,
        (Some(a), Some(b)) if a == b => a,
        (Some(a), Some(b)) => format!("{a} min; {b} max"),
        (Some(a), None) => format!("{a} min"),
        (None, Some(b)) => format!("{b} max"),
    };
    format!("{allowed} ({source})")
}

/// The optimizer section's context.
#[derive(Debug, Serialize)]
pub(crate) struct Optimizer {
    rows: Vec<AllocationRow>,
    figures: Vec<Figure>,
    budget: String,
    prob_better: String,
    binding: Vec<String>,
    /// Expected gain of the optimized plan over the current one, in words.
    gain: String,
}

/// The current-vs-optimized spend chart.
fn spend_figure(ctx: &Ctx, a: &Allocation, weeks: &str) -> Result<Option<Figure>, ReportError> {
    let planned = planned_spend(ctx)?;
    let names: Vec<String> = super::distinct(&a.channel)
        .into_iter()
        .filter(|c| c != "total" && planned.contains_key(c))
        .collect();
    let channels: Vec<&str> = names.iter().map(String::as_str).collect();
    if channels.is_empty() {
        return Ok(None);
    }
    let cur: Vec<f64> = channels.iter().map(|c| planned[*c].0).collect();
    let opt: Vec<f64> = channels.iter().map(|c| planned[*c].1).collect();
    if cur.iter().chain(&opt).any(|v| !v.is_finite()) {
        return Ok(None);
    }
    let unit = ctx.currency.unit();
    let svg = charts::grouped_bar_chart(
        &format!("Budget allocation: spend per channel over the {weeks}-week plan ({unit})"),
        &channels,
        &[
            BarSeries {
                name: "current plan",
                values: &cur,
                interval: None,
            },
            BarSeries {
                name: "optimized plan",
                values: &opt,
                interval: None,
            },
        ],
        &format!("spend over the horizon ({unit})"),
        ValueStyle::Number,
    )?;
    Ok(Some(Figure::new(
        "allocation-chart",
        svg,
        "Grey is what the current plan spends on each channel over the horizon, blue what the optimizer recommends for the same budget within the guardrails below.",
    )))
}

/// The outcome distributions of the current and the optimized plan.
fn outcome_figure(
    ctx: &Ctx,
    plan: &serde_json::Value,
    weeks: &str,
) -> Result<Option<Figure>, ReportError> {
    let summary = |key: &str| {
        let v = value(plan, key);
        [number(v, "mean"), number(v, "lower"), number(v, "upper")]
    };
    let (c, o) = (summary("current_lift"), summary("optimized_lift"));
    if c.iter().chain(&o).any(|v| !v.is_finite()) {
        return Ok(None);
    }
    let items = [
        ("current plan", c[0], c[1], c[2]),
        ("optimized plan", o[0], o[1], o[2]),
    ];
    let t = &ctx.target;
    let label = format!("current plan's mean, {}", num(c[0]));
    let svg = charts::interval_chart_with(
        &format!(
            "Outcome distribution: incremental {t} of each plan, mean and {}% HDI",
            ctx.pct()
        ),
        &items,
        &format!("incremental {t} over {weeks} weeks and carry-out"),
        &IntervalOptions {
            reference: Some((&label, c[0])),
            compact: false,
            zoom: true,
        },
    )?;
    let p = pct(number(plan, "prob_optimized_beats_current"));
    Ok(Some(Figure::new(
        "outcome-chart",
        svg,
        format!(
            "Where each plan's incremental {t} lands over the posterior draws. The optimized plan beats the current one in {p} of the draws; overlapping bars mean the gain is small against the uncertainty."
        ),
    )))
}

/// The optimizer section, when optimize ran with this run's fit.
pub(crate) fn optimizer(ctx: &Ctx) -> Result<Option<Optimizer>, ReportError> {
    let (Some(a), Some(plan)) = (read_allocation(ctx)?, ctx.inputs.plan.as_ref()) else {
        return Ok(None);
    };
    let weeks = value(plan, "horizon_weeks").to_string();
    let mut figures: Vec<Figure> = spend_figure(ctx, &a, &weeks)?.into_iter().collect();
    figures.extend(outcome_figure(ctx, plan, &weeks)?);
    let gain =
        number(value(plan, "optimized_lift"), "mean") - number(value(plan, "current_lift"), "mean");
    Ok(Some(Optimizer {
        rows: allocation_rows(ctx, &a),
        figures,
        budget: ctx.currency.money(number(plan, "budget")),
        prob_better: pct(number(plan, "prob_optimized_beats_current")),
        binding: value(plan, "binding_constraints")
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|b| b.as_str().map(tidy_text))
            .collect(),
        gain: num(gain),
    }))
}

/// One scenario (or the current plan) of scenario/comparison.json, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct ScenarioRow {
    name: String,
    spend: String,
    lift: String,
    lift_interval: String,
    gain: String,
    gain_interval: String,
    prob_better: String,
    profit: String,
}

/// The scenario section's context.
#[derive(Debug, Serialize)]
pub(crate) struct Scenarios {
    start: String,
    weeks: String,
    current_definition: String,
    rows: Vec<ScenarioRow>,
    figures: Vec<Figure>,
}

fn scenario_row(ctx: &Ctx, s: &serde_json::Value) -> ScenarioRow {
    let (lift, gain) = (value(s, "lift"), value(s, "lift_minus_current"));
    let m = |v: f64| ctx.currency.money(v);
    ScenarioRow {
        name: value(s, "scenario").as_str().unwrap_or("").to_owned(),
        spend: m(number(s, "spend")),
        lift: num(number(lift, "mean")),
        lift_interval: range(number(lift, "lower"), number(lift, "upper"), num),
        gain: num(number(gain, "mean")),
        gain_interval: range(number(gain, "lower"), number(gain, "upper"), num),
        prob_better: pct(number(s, "prob_beats_current")),
        profit: m(number(s, "profit_mean")),
    }
}

/// The outcome and gain charts of the scenarios.
fn scenario_figures(
    ctx: &Ctx,
    c: &serde_json::Value,
    weeks: &str,
) -> Result<Vec<Figure>, ReportError> {
    let list = value(c, "scenarios")
        .as_array()
        .cloned()
        .unwrap_or_default();
    let three = |v: &serde_json::Value| [number(v, "mean"), number(v, "lower"), number(v, "upper")];
    let cur = three(value(value(c, "current"), "lift"));
    let names: Vec<String> = list
        .iter()
        .map(|s| value(s, "scenario").as_str().unwrap_or("").to_owned())
        .collect();
    let mut lift = vec![("current plan", cur[0], cur[1], cur[2])];
    let mut gain = Vec::new();
    for (s, name) in list.iter().zip(&names) {
        let [m, l, u] = three(value(s, "lift"));
        lift.push((name.as_str(), m, l, u));
        let [m, l, u] = three(value(s, "lift_minus_current"));
        gain.push((name.as_str(), m, l, u));
    }
    let (t, p) = (&ctx.target, ctx.pct());
    let finite = |v: &[(&str, f64, f64, f64)]| {
        v.iter()
            .all(|r| r.1.is_finite() && r.2.is_finite() && r.3.is_finite())
    };
    let mut out = Vec::new();
    if finite(&lift) {
        let svg = charts::interval_chart(
            &format!("Scenarios: incremental {t} of each plan, mean and {p}% HDI"),
            &lift,
            &format!("incremental {t} over {weeks} weeks and carry-out"),
        )?;
        out.push(Figure::new("scenario-outcomes", svg, format!("Each scenario's incremental {t} over the posterior draws, next to the current plan (defined above).")));
    }
    if !gain.is_empty() && finite(&gain) {
        let svg = charts::interval_chart_with(
            &format!("Scenarios: gain over the current plan in {t}, mean and {p}% HDI"),
            &gain,
            &format!("{t} minus the current plan's, per draw"),
            &IntervalOptions {
                reference: Some(("no change", 0.0)),
                ..Default::default()
            },
        )?;
        out.push(Figure::new("scenario-gains", svg, "The gain is computed per posterior draw, so it is more certain than the difference of the two bars above: a bar entirely right of the dashed line is a scenario that beats the current plan in almost every draw."));
    }
    Ok(out)
}

/// The scenario section, when a scenario stage ran with this run's fit.
pub(crate) fn scenarios(ctx: &Ctx) -> Result<Option<Scenarios>, ReportError> {
    let Some(c) = &ctx.inputs.scenario_comparison else {
        return Ok(None);
    };
    let weeks = value(c, "horizon_weeks").to_string();
    let current = value(c, "current");
    let mut rows = vec![ScenarioRow {
        name: "current plan".to_owned(),
        spend: ctx.currency.money(number(current, "spend")),
        lift: num(number(value(current, "lift"), "mean")),
        lift_interval: range(
            number(value(current, "lift"), "lower"),
            number(value(current, "lift"), "upper"),
            num,
        ),
        gain: "0 (the reference)".to_owned(),
        gain_interval: "the reference".to_owned(),
        prob_better: "the reference".to_owned(),
        profit: ctx.currency.money(
            ctx.margin() * number(value(current, "lift"), "mean") - number(current, "spend"),
        ),
    }];
    rows.extend(
        value(c, "scenarios")
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| scenario_row(ctx, s)),
    );
    Ok(Some(Scenarios {
        start: value(c, "start").as_str().unwrap_or("").to_owned(),
        current_definition: value(current, "definition")
            .as_str()
            .unwrap_or("")
            .to_owned(),
        figures: scenario_figures(ctx, c, &weeks)?,
        weeks,
        rows,
    }))
}
