//! The report stage: report.html (self-contained, inline SVG) and model_card.md, built from the
//! artifacts of a run directory alone — nothing is refitted or recomputed from the model.

use std::collections::HashMap;
use std::path::Path;

use minijinja::Environment;
use mmm_core::columns::{bool_column, date_column, f64_column, string_column};
use mmm_core::{CoreError, Manifest, RunStatus, StageWriter, Upstream, sha256_hex};
use serde::Serialize;

use crate::charts::{self, Band};

/// Name of the stage.
pub const STAGE: &str = "report";

/// Errors of the report stage.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A chart could not be drawn.
    #[error("chart: {0}")]
    Chart(#[from] charts::ChartError),
    /// The template failed.
    #[error("template: {0}")]
    Template(#[from] minijinja::Error),
    /// An artifact lacks a value the report needs.
    #[error("{0}")]
    Missing(String),
}

#[derive(Debug, Serialize)]
struct ChannelRow {
    channel: String,
    spend: f64,
    contribution: [f64; 3],
    share: [f64; 3],
    roas: [f64; 3],
    roi: [f64; 3],
    marginal_roi: [f64; 3],
    cost_per_outcome: [f64; 3],
    profit: [f64; 3],
    prob_roi_above_hurdle: f64,
    spend_at_hurdle: [f64; 3],
}

#[derive(Debug, Serialize)]
struct AllocationRow {
    plan: String,
    channel: String,
    spend: f64,
    lower_bound: f64,
    upper_bound: f64,
    /// The allowed spend as text with where it comes from, e.g. `700 – 1,300 (default ±30%)`.
    allowed: String,
    lift: [f64; 3],
    profit: f64,
}

/// One channel in one geo, from decide/geo_roi.parquet.
#[derive(Debug, Serialize)]
struct GeoChannelRow {
    geo: String,
    channel: String,
    spend: f64,
    contribution: [f64; 3],
    roas: [f64; 3],
}

/// One channel (or `total`) in one geo: the current and the optimized plan, from
/// optimize/geo_allocation.parquet.
#[derive(Debug, Serialize)]
struct GeoAllocationRow {
    geo: String,
    channel: String,
    current: f64,
    optimized: f64,
    /// The cell's allowed spend, e.g. `≤ 5,000` or `any` (empty for totals).
    allowed: String,
    current_lift: [f64; 3],
    optimized_lift: [f64; 3],
}

/// The results of a geo hierarchy, per geo.
#[derive(Debug, Serialize)]
struct GeoSection {
    geos: Vec<String>,
    /// Mass of geo_roi.parquet's intervals, in percent.
    interval_pct: String,
    rows: Vec<GeoChannelRow>,
    /// One ROAS interval chart per channel, geos as rows.
    roas_svgs: Vec<String>,
    allocation: Option<Vec<GeoAllocationRow>>,
}

/// Per-geo parameters of a geo hierarchy (`beta_geo_z[geo=g01,ch1]`, `intercept[geo=g01]`) are
/// shown as one row per stem, not one per geo.
const PER_GEO: &str = "[geo=";

/// Stems of per-geo standardized deviations (`beta_geo_z`, `adstock_alpha_geo_z`, …).
const DEVIATION_STEM: &str = "_geo_z";

/// One convergence-table row standing for every per-geo parameter of a stem.
#[derive(Debug, Serialize)]
struct ParameterGroup {
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
struct PriorGroup {
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

#[derive(Debug, Serialize)]
struct StageRow {
    stage: String,
    status: String,
    outputs: Vec<(String, String)>,
}

const TEMPLATE: &str = include_str!("report.html.j2");
const CARD_TEMPLATE: &str = include_str!("model_card.md.j2");

/// Compact number formatting for tables: 3 significant digits with thousands separators.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".into();
    }
    let a = v.abs();
    let s = if a >= 1000.0 {
        let digits = format!("{:.0}", a);
        let mut out = String::new();
        for (i, ch) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else if a >= 10.0 {
        format!("{a:.1}")
    } else if a >= 1.0 {
        format!("{a:.2}")
    } else {
        format!("{a:.3}")
    };
    if v < 0.0 { format!("-{s}") } else { s }
}

fn fmt_pct(v: f64) -> String {
    if v.is_finite() {
        format!("{:.1}%", 100.0 * v)
    } else {
        "n/a".into()
    }
}

fn value<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v.get(key).unwrap_or(&serde_json::Value::Null)
}

/// The templates with their filters. Values printed into model_card.md are escaped as
/// Markdown ([`crate::markdown`]); report.html is HTML-escaped by minijinja (its name).
fn environment() -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    env.add_filter("num", |v: Option<f64>| fmt_num(v.unwrap_or(f64::NAN)));
    env.add_filter("pct", |v: Option<f64>| fmt_pct(v.unwrap_or(f64::NAN)));
    env.add_filter("code", crate::markdown::code_filter);
    env.add_test("containing", |v: &str, needle: &str| v.contains(needle));
    env.set_auto_escape_callback(crate::markdown::auto_escape);
    env.set_formatter(crate::markdown::formatter);
    env.add_template("report.html", TEMPLATE)?;
    env.add_template("model_card.md", CARD_TEMPLATE)?;
    Ok(env)
}

fn render_card(env: &Environment<'_>, ctx: &serde_json::Value) -> Result<String, ReportError> {
    Ok(env
        .get_template("model_card.md")?
        .render(minijinja::value::Serde(ctx))?)
}

/// model_card.md rendered from a template context (the one [`run`] builds; tests give a
/// small one).
pub fn render_model_card(ctx: &serde_json::Value) -> Result<String, ReportError> {
    render_card(&environment()?, ctx)
}

/// report.html rendered from a template context (the one [`run`] builds; tests give a small
/// one).
pub fn render_report(ctx: &serde_json::Value) -> Result<String, ReportError> {
    Ok(environment()?
        .get_template("report.html")?
        .render(minijinja::value::Serde(ctx))?)
}

/// The report stage: render `run`'s artifacts into `out_dir`.
pub fn run(run: &Path, out_dir: &Path, force: bool) -> Result<Option<Manifest>, ReportError> {
    let spec_path = run.join("spec.toml");
    let spec_bytes = std::fs::read(&spec_path).map_err(|e| CoreError::Io {
        path: spec_path.clone(),
        source: e,
    })?;
    let spec_sha = sha256_hex(&spec_bytes);
    let spec: toml::Table =
        String::from_utf8_lossy(&spec_bytes)
            .parse()
            .map_err(|e: toml::de::Error| {
                ReportError::Missing(format!("{}: {e}", spec_path.display()))
            })?;

    let spec_text = String::from_utf8_lossy(&spec_bytes).into_owned();
    let spec_ref = mmm_core::SpecRef {
        sha256: &spec_sha,
        text: &spec_text,
        path: &spec_path,
    };
    // Every stage of the run, made from the frozen spec and chained to each other.
    let [validate, features, fit, diagnose, decide] = mmm_core::open_chain(
        spec_ref,
        [
            (&run.join("validate"), "validate"),
            (&run.join("features"), "features"),
            (&run.join("fit"), "fit"),
            (&run.join("diagnose"), "diagnose"),
            (&run.join("decide"), "decide"),
        ],
    )?;
    let (contract, r1): (serde_json::Value, _) = validate.json("contract.json")?;
    let (scales, r2): (serde_json::Value, _) = features.json("scales.json")?;
    let (diag, r3): (serde_json::Value, _) = diagnose.json("diagnostics.json")?;
    let (ppc, r4) = diagnose.parquet("ppc.parquet")?;
    let (decomp, r5) = decide.parquet("decomposition.parquet")?;
    let (roi, r6) = decide.parquet("roi.parquet")?;
    let mut inputs = vec![r1, r2, r3, r4, r5, r6];
    // Outputs of newer decide stages and of the optional optimize stage: shown when present.
    let curves = optional_parquet(&decide, "curves.parquet", &mut inputs)?;
    let decide_summary = optional_json(&decide, "summary.json", &mut inputs)?;
    // The causal-structure checks of newer diagnose stages: shown when present.
    let causal = optional_json(&diagnose, "causal_checks.json", &mut inputs)?;
    // Shown only when made from this run's spec, features and fit (a stale plan is left out).
    let optimize = Upstream::open(&run.join("optimize"), "optimize")
        .ok()
        .filter(|up| mmm_core::lineage::check_chain(spec_ref, &[&features, &fit, up]).is_ok());
    let allocation = match &optimize {
        Some(up) => optional_parquet(up, "allocation.parquet", &mut inputs)?,
        None => None,
    };
    let plan = match &optimize {
        Some(up) => optional_json(up, "plan.json", &mut inputs)?,
        None => None,
    };
    // A geo hierarchy's per-geo results: shown when present.
    let geo_roi = optional_parquet(&decide, "geo_roi.parquet", &mut inputs)?;
    let geo_allocation = match (&optimize, &geo_roi) {
        (Some(up), Some(_)) => optional_parquet(up, "geo_allocation.parquet", &mut inputs)?,
        _ => None,
    };
    // A refresh comparison against an earlier run (`mmm run --previous-run`, or
    // `mmm compare EARLIER RUN --out RUN/compare`): shown when present.
    let compare = Upstream::open(&run.join("compare"), "compare")
        .ok()
        .filter(|up| mmm_core::lineage::check_chain(spec_ref, &[up]).is_ok());
    let comparison = match &compare {
        Some(up) => optional_json(up, "compare.json", &mut inputs)?,
        None => None,
    };
    let mut upstream = vec![&validate, &features, &fit, &diagnose, &decide];
    upstream.extend(optimize.as_ref());
    upstream.extend(compare.as_ref());
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        mmm_core::StageInputs::new(spec_ref, &upstream, inputs),
        force,
    )?
    else {
        return Ok(None);
    };

    let target_name = spec
        .get("data")
        .and_then(|d| d.get("target"))
        .and_then(|t| t.as_str())
        .unwrap_or("target")
        .to_string();
    let model_name = spec
        .get("model")
        .and_then(|d| d.get("name"))
        .and_then(|t| t.as_str())
        .unwrap_or("model")
        .to_string();

    // Fit vs actual.
    let ppc_path = run.join("diagnose/ppc.parquet");
    let days = date_column(&ppc, "date", &ppc_path)?;
    let is_train = bool_column(&ppc, "is_train", &ppc_path)?;
    let observed = f64_column(&ppc, "observed", &ppc_path)?;
    let pred_mean = f64_column(&ppc, "pred_mean", &ppc_path)?;
    let pred_lower = f64_column(&ppc, "pred_lower", &ppc_path)?;
    let pred_upper = f64_column(&ppc, "pred_upper", &ppc_path)?;
    let holdout_start = is_train.iter().position(|t| !*t).map(|i| days[i]);
    let interval = value(value(&diag, "train"), "interval")
        .as_f64()
        .unwrap_or(0.94);
    let fit_svg = charts::fit_chart(
        &format!(
            "Fit vs actual: posterior predictive mean and {:.0}% interval",
            100.0 * interval
        ),
        &days,
        &observed,
        &Band {
            name: "posterior predictive",
            mean: &pred_mean,
            lower: &pred_lower,
            upper: &pred_upper,
        },
        holdout_start,
        &target_name,
    )?;

    // Contributions over time.
    let dpath = run.join("decide/decomposition.parquet");
    let d_dates = date_column(&decomp, "date", &dpath)?;
    let d_comp = string_column(&decomp, "component", &dpath)?;
    let d_mean = f64_column(&decomp, "mean", &dpath)?;
    let d_lo = f64_column(&decomp, "lower", &dpath)?;
    let d_hi = f64_column(&decomp, "upper", &dpath)?;
    let mut names: Vec<String> = Vec::new();
    for c in &d_comp {
        if !names.contains(c) {
            names.push(c.clone());
        }
    }
    let series: Vec<(Vec<f64>, Vec<f64>, Vec<f64>)> = names
        .iter()
        .map(|n| {
            let idx: Vec<usize> = (0..d_comp.len()).filter(|&i| &d_comp[i] == n).collect();
            (
                idx.iter().map(|&i| d_mean[i]).collect(),
                idx.iter().map(|&i| d_lo[i]).collect(),
                idx.iter().map(|&i| d_hi[i]).collect(),
            )
        })
        .collect();
    let first = names
        .first()
        .ok_or_else(|| ReportError::Missing(format!("{}: no rows", dpath.display())))?;
    let comp_days: Vec<i32> = (0..d_comp.len())
        .filter(|&i| &d_comp[i] == first)
        .map(|i| d_dates[i])
        .collect();
    let bands: Vec<Band> = names
        .iter()
        .zip(&series)
        .map(|(n, s)| Band {
            name: n.as_str(),
            mean: &s.0,
            lower: &s.1,
            upper: &s.2,
        })
        .collect();
    let contrib_svg = charts::components_chart(
        &format!(
            "Contributions over time (counterfactual, mean and {:.0}% HDI)",
            100.0 * interval
        ),
        &comp_days,
        &bands,
        &target_name,
    )?;

    // ROAS table and chart.
    let rpath = run.join("decide/roi.parquet");
    let r_ch = string_column(&roi, "channel", &rpath)?;
    let r_metric = string_column(&roi, "metric", &rpath)?;
    let r_mean = f64_column(&roi, "mean", &rpath)?;
    let r_lo = f64_column(&roi, "lower", &rpath)?;
    let r_hi = f64_column(&roi, "upper", &rpath)?;
    let mut channel_names: Vec<String> = Vec::new();
    for c in &r_ch {
        if !channel_names.contains(c) {
            channel_names.push(c.clone());
        }
    }
    let get = |ch: &str, m: &str| -> [f64; 3] {
        (0..r_ch.len())
            .find(|&i| r_ch[i] == ch && r_metric[i] == m)
            .map(|i| [r_mean[i], r_lo[i], r_hi[i]])
            .unwrap_or([f64::NAN; 3])
    };
    let rows: Vec<ChannelRow> = channel_names
        .iter()
        .map(|c| ChannelRow {
            channel: c.clone(),
            spend: get(c, "spend")[0],
            contribution: get(c, "contribution"),
            share: get(c, "share"),
            roas: get(c, "roas"),
            roi: get(c, "roi"),
            marginal_roi: get(c, "marginal_roi"),
            cost_per_outcome: get(c, "cost_per_outcome"),
            profit: get(c, "profit"),
            prob_roi_above_hurdle: get(c, "prob_roi_above_hurdle")[0],
            spend_at_hurdle: get(c, "spend_at_hurdle"),
        })
        .collect();
    let roas_items: Vec<(&str, f64, f64, f64)> = rows
        .iter()
        .map(|r| (r.channel.as_str(), r.roas[0], r.roas[1], r.roas[2]))
        .collect();
    let roas_svg = charts::interval_chart(
        &format!(
            "ROAS per channel ({} per unit of spend), mean and {:.0}% HDI",
            target_name,
            100.0 * interval
        ),
        &roas_items,
        "ROAS",
    )?;

    let curves_svg = match &curves {
        Some(batch) => Some(response_svg(
            batch,
            &run.join("decide/curves.parquet"),
            &rows,
            &target_name,
            interval,
        )?),
        None => None,
    };
    let allocation_rows = match &allocation {
        Some(batch) => Some(allocation_table(
            batch,
            &run.join("optimize/allocation.parquet"),
            plan.as_ref(),
        )?),
        None => None,
    };
    let geo = match &geo_roi {
        Some(batch) => {
            let allocation = match &geo_allocation {
                Some(b) => Some(geo_allocation_table(
                    b,
                    &run.join("optimize/geo_allocation.parquet"),
                    plan.as_ref(),
                )?),
                None => None,
            };
            Some(geo_section(
                batch,
                &run.join("decide/geo_roi.parquet"),
                &rows,
                &target_name,
                allocation,
            )?)
        }
        None => None,
    };
    let geo_parameters: Vec<ParameterGroup> = per_geo_groups(value(&diag, "parameters"), "name")
        .into_iter()
        .map(|(stem, ps)| ParameterGroup {
            deviation: stem.ends_with(DEVIATION_STEM),
            count: ps.len(),
            max_rhat: fold(&ps, "rhat", f64::max),
            min_ess_bulk: fold(&ps, "ess_bulk", f64::min),
            min_ess_tail: fold(&ps, "ess_tail", f64::min),
            stem,
        })
        .collect();
    let geo_priors: Vec<PriorGroup> = per_geo_groups(value(&diag, "prior_posterior"), "parameter")
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
        .collect();
    let failed_gates: Vec<&serde_json::Value> = value(&diag, "gates")
        .as_array()
        .map(|g| {
            g.iter()
                .filter(|g| !g.get("passed").and_then(|p| p.as_bool()).unwrap_or(true))
                .collect()
        })
        .unwrap_or_default();
    let summary_text = plain_summary(&rows, &diag, &target_name, interval);

    let stages: Vec<StageRow> = [&validate, &features, &fit, &diagnose, &decide]
        .into_iter()
        .chain(optimize.as_ref())
        .chain(compare.as_ref())
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
        .collect();

    let env = environment()?;
    let fit_settings = &fit.manifest().settings;
    let ctx = serde_json::json!({
        "model_name": model_name,
        "description": spec.get("model").and_then(|d| d.get("description")).and_then(|t| t.as_str()).unwrap_or(""),
        "target": target_name,
        "spec_sha": spec_sha,
        "data_source": value(&contract, "source"),
        "data_sha": value(&contract, "source_sha256"),
        "first_period": value(&contract, "first_period"),
        "last_period": value(&contract, "last_period"),
        "rows": value(&contract, "rows"),
        "findings": value(&contract, "findings"),
        "finding_rules": value(&contract, "rules"),
        "scales": scales,
        "diag": diag,
        "interval_pct": format!("{:.0}", 100.0 * interval),
        "channels": rows,
        "fit_svg": fit_svg,
        "contrib_svg": contrib_svg,
        "roas_svg": roas_svg,
        "curves_svg": curves_svg,
        "decide_summary": decide_summary,
        "allocation": allocation_rows,
        "plan": plan,
        "guardrails": guardrails(plan.as_ref()),
        "comparison": comparison,
        "geo": geo,
        "geo_parameters": geo_parameters,
        "geo_priors": geo_priors,
        "failed_gates": failed_gates,
        "causal": causal.as_ref().map(crate::causal::section),
        "summary_text": summary_text,
        "decisions": spec.get("decisions").cloned().map(toml_to_json),
        "carry_in_start": spec.get("data").and_then(|d| d.get("start")).and_then(|t| t.as_str()),
        "sampler": value(fit_settings, "options"),
        "seed": fit.manifest().seed,
        "stages": stages,
        "version": env!("CARGO_PKG_VERSION"),
    });
    let html = env
        .get_template("report.html")?
        .render(minijinja::value::Serde(&ctx))?;
    let card = render_card(&env, &ctx)?;
    writer.write_bytes("report.html", html.as_bytes(), None, None)?;
    writer.write_bytes("model_card.md", card.as_bytes(), None, None)?;
    Ok(Some(writer.finish(
        None,
        serde_json::json!({ "run": run.display().to_string() }),
        RunStatus::Complete,
    )?))
}

fn optional_parquet(
    up: &Upstream,
    name: &str,
    inputs: &mut Vec<mmm_core::FileRecord>,
) -> Result<Option<arrow::array::RecordBatch>, ReportError> {
    if up.manifest().output(name).is_none() {
        return Ok(None);
    }
    let (batch, rec) = up.parquet(name)?;
    inputs.push(rec);
    Ok(Some(batch))
}

fn optional_json(
    up: &Upstream,
    name: &str,
    inputs: &mut Vec<mmm_core::FileRecord>,
) -> Result<Option<serde_json::Value>, ReportError> {
    if up.manifest().output(name).is_none() {
        return Ok(None);
    }
    let (v, rec) = up.json(name)?;
    inputs.push(rec);
    Ok(Some(v))
}

fn toml_to_json(v: toml::Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

/// Response curves of every channel from curves.parquet.
fn response_svg(
    batch: &arrow::array::RecordBatch,
    path: &Path,
    rows: &[ChannelRow],
    target: &str,
    interval: f64,
) -> Result<String, ReportError> {
    let ch = string_column(batch, "channel", path)?;
    let cols = ["spend", "mean", "lower_50", "upper_50", "lower", "upper"]
        .iter()
        .map(|c| f64_column(batch, c, path))
        .collect::<Result<Vec<_>, _>>()?;
    let per_channel: Vec<(String, Vec<Vec<f64>>)> = rows
        .iter()
        .map(|r| {
            let idx: Vec<usize> = (0..ch.len()).filter(|&i| ch[i] == r.channel).collect();
            let v = cols
                .iter()
                .map(|c| idx.iter().map(|&i| c[i]).collect())
                .collect();
            (r.channel.clone(), v)
        })
        .collect();
    let curves: Vec<charts::Curve> = per_channel
        .iter()
        .zip(rows)
        .filter(|((_, v), _)| v[0].len() >= 2)
        .map(|((name, v), r)| charts::Curve {
            name,
            spend: &v[0],
            mean: &v[1],
            inner: (&v[2], &v[3]),
            outer: (&v[4], &v[5]),
            current: r.spend,
        })
        .collect();
    Ok(charts::response_chart(
        &format!(
            "Response curves: {target} vs spend (mean, 50% and {:.0}% HDI; dot = current spend)",
            100.0 * interval
        ),
        &curves,
        target,
    )?)
}

/// Rows of allocation.parquet for the report.
fn allocation_table(
    batch: &arrow::array::RecordBatch,
    path: &Path,
    plan_json: Option<&serde_json::Value>,
) -> Result<Vec<AllocationRow>, ReportError> {
    let plan = string_column(batch, "plan", path)?;
    let channel = string_column(batch, "channel", path)?;
    let f = |c: &str| f64_column(batch, c, path);
    let (spend, lo, hi, m, l, u, p) = (
        f("spend")?,
        f("lower_bound")?,
        f("upper_bound")?,
        f("lift_mean")?,
        f("lift_lower")?,
        f("lift_upper")?,
        f("profit_mean")?,
    );
    Ok((0..plan.len())
        .map(|i| AllocationRow {
            plan: plan[i].clone(),
            channel: channel[i].clone(),
            spend: spend[i],
            lower_bound: lo[i],
            upper_bound: hi[i],
            allowed: with_limit_source(allowed_range(lo[i], hi[i]), plan_json, &channel[i]),
            lift: [m[i], l[i], u[i]],
            profit: p[i],
        })
        .collect())
}

/// Per-geo rows, charts and (when the optimizer ran) allocation of a geo hierarchy.
fn geo_section(
    batch: &arrow::array::RecordBatch,
    path: &Path,
    national: &[ChannelRow],
    target: &str,
    allocation: Option<Vec<GeoAllocationRow>>,
) -> Result<GeoSection, ReportError> {
    let geo = string_column(batch, "geo", path)?;
    let channel = string_column(batch, "channel", path)?;
    let metric = string_column(batch, "metric", path)?;
    let (mean, lower, upper) = (
        f64_column(batch, "mean", path)?,
        f64_column(batch, "lower", path)?,
        f64_column(batch, "upper", path)?,
    );
    let interval = f64_column(batch, "interval", path)?
        .first()
        .copied()
        .ok_or_else(|| ReportError::Missing(format!("{}: no rows", path.display())))?;
    let mut geos: Vec<String> = Vec::new();
    let mut at: HashMap<(&str, &str, &str), usize> = HashMap::new();
    for i in 0..geo.len() {
        if !geos.contains(&geo[i]) {
            geos.push(geo[i].clone());
        }
        at.insert((&geo[i], &channel[i], &metric[i]), i);
    }
    let get = |g: &str, c: &str, m: &str| -> [f64; 3] {
        at.get(&(g, c, m))
            .map_or([f64::NAN; 3], |&i| [mean[i], lower[i], upper[i]])
    };
    let rows: Vec<GeoChannelRow> = geos
        .iter()
        .flat_map(|g| {
            national.iter().map(|c| GeoChannelRow {
                geo: g.clone(),
                channel: c.channel.clone(),
                spend: get(g, &c.channel, "spend")[0],
                contribution: get(g, &c.channel, "contribution"),
                roas: get(g, &c.channel, "roas"),
            })
        })
        .collect();
    let interval_pct = format!("{:.0}", 100.0 * interval);
    let mut roas_svgs = Vec::new();
    for c in national {
        // A geo without spend on the channel has no ROAS: it stays in the table as n/a.
        let items: Vec<(&str, f64, f64, f64)> = rows
            .iter()
            .filter(|r| r.channel == c.channel && r.roas.iter().all(|v| v.is_finite()))
            .map(|r| (r.geo.as_str(), r.roas[0], r.roas[1], r.roas[2]))
            .collect();
        if items.is_empty() {
            continue;
        }
        let label = format!("national ROAS (all geos), mean {}", fmt_num(c.roas[0]));
        let options = charts::IntervalOptions {
            reference: c.roas[0].is_finite().then_some((label.as_str(), c.roas[0])),
            compact: items.len() > 12,
        };
        roas_svgs.push(charts::interval_chart_with(
            &format!(
                "ROAS of {} per geo ({target} per unit of spend), mean and {interval_pct}% HDI",
                c.channel
            ),
            &items,
            "ROAS",
            &options,
        )?);
    }
    Ok(GeoSection {
        geos,
        interval_pct,
        rows,
        roas_svgs,
        allocation,
    })
}

/// The current and optimized plan of every geo and channel, side by side.
fn geo_allocation_table(
    batch: &arrow::array::RecordBatch,
    path: &Path,
    plan_json: Option<&serde_json::Value>,
) -> Result<Vec<GeoAllocationRow>, ReportError> {
    let geo = string_column(batch, "geo", path)?;
    let plan = string_column(batch, "plan", path)?;
    let channel = string_column(batch, "channel", path)?;
    let f = |c: &str| f64_column(batch, c, path);
    let (spend, lo, hi, m, l, u) = (
        f("spend")?,
        f("lower_bound")?,
        f("upper_bound")?,
        f("lift_mean")?,
        f("lift_lower")?,
        f("lift_upper")?,
    );
    let find = |g: &str, p: &str, c: &str| {
        (0..plan.len()).find(|&i| geo[i] == g && plan[i] == p && channel[i] == c)
    };
    let mut out = Vec::new();
    for i in (0..plan.len()).filter(|&i| plan[i] == "optimized") {
        let current = find(&geo[i], "current", &channel[i]);
        out.push(GeoAllocationRow {
            geo: geo[i].clone(),
            channel: channel[i].clone(),
            current: current.map_or(f64::NAN, |j| spend[j]),
            optimized: spend[i],
            allowed: with_limit_source(
                allowed_range(lo[i], hi[i]),
                plan_json,
                &format!("{} in {}", channel[i], geo[i]),
            ),
            current_lift: current.map_or([f64::NAN; 3], |j| [m[j], l[j], u[j]]),
            optimized_lift: [m[i], l[i], u[i]],
        });
    }
    Ok(out)
}

/// An optimizer cell's bounds as text: `1,000 – 5,000`, `≤ 5,000` (from zero), `≥ 1,000` (no
/// cap) or `any`; empty without bounds (a total row).
fn allowed_range(lower: f64, upper: f64) -> String {
    let (from_zero, uncapped) = (lower == 0.0, upper == f64::INFINITY);
    if lower.is_nan() && upper.is_nan() {
        String::new()
    } else if from_zero && uncapped {
        "any".to_owned()
    } else if from_zero {
        format!("≤ {}", fmt_num(upper))
    } else if uncapped {
        format!("≥ {}", fmt_num(lower))
    } else {
        format!("{} – {}", fmt_num(lower), fmt_num(upper))
    }
}

/// The optimizer's per-channel limits, for the paragraph under the optimized plan (from
/// plan.json's `guardrails`; absent in plans written before it was recorded).
#[derive(Debug, Serialize)]
struct Guardrails {
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

fn guardrails(plan: Option<&serde_json::Value>) -> Option<Guardrails> {
    let g = plan?.get("guardrails")?;
    let m = g.get("max_change").and_then(serde_json::Value::as_f64);
    let kind = match (m, g.get("max_change_source").and_then(|s| s.as_str())) {
        (None, _) => "none",
        (Some(_), Some("default_max_change")) => "default",
        (Some(_), _) => "spec",
    };
    let bounded = g
        .get("ranges")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter(|r| {
            ["lower_source", "upper_source"]
                .iter()
                .any(|k| r.get(*k).and_then(|s| s.as_str()) == Some("bounds"))
        })
        .filter_map(|r| r.get("channel").and_then(|c| c.as_str()).map(str::to_owned))
        .collect();
    let default = g
        .get("default_max_change")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN);
    Some(Guardrails {
        kind,
        pct: m.map(|m| fmt_fraction(100.0 * m)).unwrap_or_default(),
        max_change: m.map(fmt_fraction).unwrap_or_default(),
        default_max_change: fmt_fraction(default),
        default_pct: fmt_fraction(100.0 * default),
        bounded,
    })
}

/// A fraction or percentage without trailing zeros: `0.3`, `30`, `12.5`.
fn fmt_fraction(v: f64) -> String {
    let s = format!("{v:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// `allowed` followed by where the limits of `cell` come from (plan.json's guardrails), e.g.
/// `700 – 1,300 (default ±30%)`, `≥ 1 (bounds min; default ±30% max)`; `allowed` alone when
/// the plan records none or the cell has no limit.
fn with_limit_source(allowed: String, plan: Option<&serde_json::Value>, cell: &str) -> String {
    let Some(g) = plan.and_then(|p| p.get("guardrails")) else {
        return allowed;
    };
    let Some(range) = g.get("ranges").and_then(|r| r.as_array()).and_then(|r| {
        r.iter()
            .find(|r| r.get("channel").and_then(|c| c.as_str()) == Some(cell))
    }) else {
        return allowed;
    };
    let pct = g
        .get("max_change")
        .and_then(serde_json::Value::as_f64)
        .map(|m| fmt_fraction(100.0 * m))
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

/// A few plain sentences for a marketer: what returned most, how sure, and whether to trust it.
fn plain_summary(
    rows: &[ChannelRow],
    diag: &serde_json::Value,
    target: &str,
    interval: f64,
) -> Vec<String> {
    let mut out = Vec::new();
    let passed = diag
        .get("passed")
        .and_then(|p| p.as_bool())
        .unwrap_or(false);
    out.push(if passed {
        "The model passed every diagnostic gate, so its numbers can inform budget decisions.".to_string()
    } else {
        "At least one diagnostic gate failed: treat every number below as provisional, not as a basis for budget decisions.".to_string()
    });
    let mut ranked: Vec<&ChannelRow> = rows.iter().filter(|r| r.roas[0].is_finite()).collect();
    ranked.sort_by(|a, b| b.roas[0].total_cmp(&a.roas[0]));
    if let Some(best) = ranked.first() {
        out.push(format!(
            "{} returned the most per unit of spend: about {} {target} per unit (a {:.0}% interval of {} to {}).",
            best.channel,
            fmt_num(best.roas[0]),
            100.0 * interval,
            fmt_num(best.roas[1]),
            fmt_num(best.roas[2])
        ));
    }
    for r in rows {
        if r.prob_roi_above_hurdle.is_finite() {
            out.push(format!(
                "{}: {} of {target} from {} of spend; the chance that it cleared the ROI hurdle is {}.",
                r.channel,
                fmt_num(r.contribution[0]),
                fmt_num(r.spend),
                fmt_pct(r.prob_roi_above_hurdle)
            ));
        }
    }
    out
}
