//! The template context of report.html and model_card.md: every section's rows, sentences and
//! charts, assembled from the run's artifacts.

use serde::Serialize;
use serde_json::{Value, json};

use crate::format::{Currency, plain, tidy_text};
use crate::inputs::{Inputs, SpecFile};
use crate::sections::{
    self, Ctx, channels, curves, decomposition, diagnostics, ensemble, experiments, fit, geo,
    plans, refresh, sensitivity, summary,
};
use crate::stage::ReportError;

/// One stage of the run and the sha256 of each of its outputs, for the provenance table.
#[derive(Debug, Serialize)]
struct StageRow {
    stage: String,
    status: String,
    outputs: Vec<(String, String)>,
}

fn stage_rows(inputs: &Inputs) -> Vec<StageRow> {
    inputs
        .upstream()
        .into_iter()
        .map(|u| StageRow {
            stage: u.manifest().stage.clone(),
            status: format!("{:?}", u.manifest().status).to_lowercase(),
            outputs: u
                .manifest()
                .outputs
                .iter()
                .map(|o| (o.path.clone(), o.sha256.clone()))
                .collect(),
        })
        .collect()
}

/// The contract's findings with float noise removed from their messages.
fn findings(contract: &Value) -> Value {
    let mut f = sections::value(contract, "findings").clone();
    for item in f.as_array_mut().into_iter().flatten() {
        if let Some(m) = item.get("message").and_then(|m| m.as_str()).map(tidy_text) {
            item["message"] = m.into();
        }
    }
    f
}

/// What the page says about the run itself: model, data, provenance.
fn header(ctx: &Ctx) -> Value {
    let (spec, inputs) = (ctx.spec, ctx.inputs);
    let contract = &inputs.contract;
    let v = |k: &str| sections::value(contract, k).clone();
    json!({
        "model_name": spec.str_at("model", "name").unwrap_or("model"),
        "description": spec.str_at("model", "description").unwrap_or(""),
        "target": ctx.target,
        "currency": ctx.currency.code,
        "currency_unit": ctx.currency.unit(),
        "spec_sha": spec.sha256,
        "data_source": v("source"),
        "data_sha": v("source_sha256"),
        "first_period": v("first_period"),
        "last_period": v("last_period"),
        "rows": v("rows"),
        "findings": findings(contract),
        "finding_rules": v("rules"),
        "scales": inputs.scales,
        "diag": inputs.diag,
        "interval_pct": ctx.pct(),
        "carry_in_start": spec.str_at("data", "start"),
        "decisions": spec.table.get("decisions").cloned().map(|d| serde_json::to_value(d).unwrap_or(Value::Null)),
        "margin": plain(ctx.margin()),
        "hurdle": plain(ctx.hurdle()),
        "sampler": sections::value(&inputs.fit.manifest().settings, "options"),
        "seed": inputs.fit.manifest().seed,
        "stages": stage_rows(inputs),
        "version": env!("CARGO_PKG_VERSION"),
    })
}

/// The failed gates, for the table above the summary.
fn failed_gates(diag: &Value) -> Vec<Value> {
    sections::value(diag, "gates")
        .as_array()
        .into_iter()
        .flatten()
        .filter(|g| !g.get("passed").and_then(|p| p.as_bool()).unwrap_or(true))
        .cloned()
        .collect()
}

/// Where an absent figure or section would come from, in words.
fn adstock_note(result: &Result<sections::Figure, String>) -> Option<&str> {
    result.as_ref().err().map(String::as_str)
}

/// The sections' rows, sentences and charts.
fn body(ctx: &Ctx) -> Result<Value, ReportError> {
    let rows = channels::rows(ctx)?;
    let ppc = fit::Ppc::read(ctx)?;
    let status = summary::status(ctx);
    let (response, curve_rows) = curves::response(ctx, &rows)?;
    let adstock = curves::adstock(ctx)?;
    let (diag_figs, k_note) = diagnostics::figures(ctx, &ppc)?;
    let diag = &ctx.inputs.diag;
    Ok(json!({
        "summary_text": summary::plain_summary(ctx, &rows, &status),
        "tiles": summary::tiles(ctx, &rows),
        "status": status,
        "failed_gates": failed_gates(diag),
        "fit_figs": fit::figures(ctx, &ppc)?,
        "decomposition_figs": decomposition::figures(ctx, &ppc)?,
        "component_totals": decomposition::totals(ctx),
        "channel_figs": channels::figures(ctx, &rows)?,
        "response_fig": response,
        "curve_rows": curve_rows,
        "adstock_note": adstock_note(&adstock),
        "adstock_fig": adstock.ok(),
        "optimizer": plans::optimizer(ctx)?,
        "scenarios": plans::scenarios(ctx)?,
        "guardrails": plans::guardrails(ctx.inputs.plan.as_ref()),
        "plan": ctx.inputs.plan,
        "refresh_figs": refresh::figures(ctx)?,
        "comparison": ctx.inputs.comparison,
        "ensemble": ensemble::note(ctx)?,
        "geo": geo::section(ctx, &rows)?,
        "geo_parameters": geo::parameter_groups(diag),
        "geo_priors": geo::prior_groups(diag),
        "prior_figs": diagnostics::prior_figures(ctx)?,
        "sensitivity": sensitivity::section(ctx),
        "experiments": ctx.inputs.experiments.as_ref().and_then(experiments::section),
        "diagnostic_figs": diag_figs,
        "pareto_note": k_note,
        "sign_rows": diagnostics::sign_rows(ctx),
        "decide_summary": ctx.inputs.decide_summary,
        "causal": ctx.inputs.causal.as_ref().map(crate::causal::section),
        "channels": rows,
    }))
}

/// The template context of report.html and model_card.md.
pub(crate) fn build(spec: &SpecFile, inputs: &Inputs) -> Result<Value, ReportError> {
    let diag = &inputs.diag;
    let ctx = Ctx {
        inputs,
        spec,
        target: spec.str_at("data", "target").unwrap_or("target").to_owned(),
        interval: sections::number(sections::value(diag, "train"), "interval"),
        currency: Currency::from_spec(&spec.table),
    };
    let ctx = Ctx {
        interval: if ctx.interval.is_finite() {
            ctx.interval
        } else {
            0.94
        },
        ..ctx
    };
    let mut out = header(&ctx);
    if let (Some(o), Value::Object(b)) = (out.as_object_mut(), body(&ctx)?) {
        o.extend(b);
    }
    Ok(out)
}
