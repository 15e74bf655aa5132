//! The runs list and a run's page data: what `mmm inspect` says of each run, and for a
//! verified run its tables (ROAS and contributions per channel, the weekly decomposition).

use std::path::Path;

use mmm_core::Upstream;
use mmm_core::columns::{date_column, f64_column, string_column};
use serde_json::{Value, json};

use crate::error::{ApiError, chain};
use crate::http::Response;
use crate::paths::{check_run_name, redact};
use crate::state::State;

/// `GET /api/runs`: every run directory under the runs directory, sorted by name.
pub fn list(state: &State) -> Result<Response, ApiError> {
    let entries = std::fs::read_dir(&state.root)
        .map_err(|e| ApiError::internal(format!("cannot read the runs directory: {e}")))?;
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| check_run_name(n).is_ok())
        .filter(|n| state.root.join(n).join("spec.toml").is_file())
        .collect();
    names.sort();
    let runs: Vec<Value> = names.iter().map(|n| summary_row(state, n)).collect();
    Ok(Response::json(&json!({ "runs": runs })))
}

/// One row of the runs list; an unverified run shows its model name and no numbers.
fn summary_row(state: &State, name: &str) -> Value {
    let Ok((dir, lineage)) = state.verify(name) else {
        return json!({ "name": name, "verified": false, "problems": 1 });
    };
    let mut row = json!({
        "name": name,
        "model": model_name(&dir),
        "verified": lineage.verified,
        "problems": lineage.problems.len(),
    });
    if lineage.verified {
        let facts = facts(&dir);
        for (k, v) in facts.as_object().into_iter().flatten() {
            row[k] = v.clone();
        }
    }
    row
}

/// The model's name from the run's spec.toml (`[model] name`), else the run's name.
fn model_name(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("spec.toml")).ok()?;
    let spec: toml::Table = text.parse().ok()?;
    let model = spec.get("model")?.as_table()?;
    model.get("name")?.as_str().map(str::to_owned)
}

/// A verified JSON output of a run's stage, or `None`.
fn stage_json(dir: &Path, stage: &str, file: &str) -> Option<Value> {
    let up = Upstream::open(&dir.join(stage), stage).ok()?;
    up.json::<Value>(file).ok().map(|(v, _)| v)
}

/// Data period, gate, created (when the validate stage finished) and geos of a verified run.
fn facts(dir: &Path) -> Value {
    let contract = stage_json(dir, "validate", "contract.json").unwrap_or(Value::Null);
    let diagnostics = stage_json(dir, "diagnose", "diagnostics.json").unwrap_or(Value::Null);
    let created = std::fs::read(dir.join("validate").join("manifest.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|m| m.get("finished_at").cloned())
        .unwrap_or(Value::Null);
    let gate = match (
        diagnostics.get("passed").and_then(Value::as_bool),
        diagnostics
            .get("not_for_decisions")
            .and_then(Value::as_bool),
    ) {
        (Some(true), _) => "passed",
        (_, Some(true)) => "failed: not for decisions",
        (Some(false), _) => "failed",
        _ => "unknown",
    };
    json!({
        "period": [contract.get("first_period"), contract.get("last_period")],
        "geos": contract.get("geos"),
        "gate": gate,
        "created": created,
    })
}

/// `GET /api/runs/NAME`: the lineage verdict; for a verified run also its facts and tables.
/// An unverified run gets its problems (paths shortened) and no numbers.
pub fn page(state: &State, name: &str) -> Result<Response, ApiError> {
    let (dir, lineage) = state.verify(name)?;
    if !lineage.verified {
        let problems: Vec<String> = lineage.problems.iter().map(|p| redact(p)).collect();
        return Ok(Response::json(&json!({
            "name": name,
            "model": model_name(&dir),
            "verified": false,
            "problems": problems,
        })));
    }
    let mut page = json!({
        "name": name,
        "model": model_name(&dir),
        "verified": true,
        "stages": lineage.stages.iter().map(|s| &s.stage).collect::<Vec<_>>(),
        "report": dir.join("report").join("report.html").is_file(),
    });
    for (k, v) in facts(&dir).as_object().into_iter().flatten() {
        page[k] = v.clone();
    }
    let decide =
        Upstream::open(&dir.join("decide"), "decide").map_err(|e| ApiError::internal(chain(&e)))?;
    page["channels"] = roi_table(&decide)?;
    page["decomposition"] = decomposition(&decide)?;
    Ok(Response::json(&page))
}

/// roi.parquet as `{channel: {metric: [mean, lower, upper]}}` (channels in file order under
/// `order`).
fn roi_table(decide: &Upstream) -> Result<Value, ApiError> {
    let path = Path::new("roi.parquet");
    let (batch, _) = decide
        .parquet("roi.parquet")
        .map_err(|e| ApiError::internal(chain(&e)))?;
    let err = |e: mmm_core::CoreError| ApiError::internal(chain(&e));
    let channel = string_column(&batch, "channel", path).map_err(err)?;
    let metric = string_column(&batch, "metric", path).map_err(err)?;
    let mean = f64_column(&batch, "mean", path).map_err(err)?;
    let lower = f64_column(&batch, "lower", path).map_err(err)?;
    let upper = f64_column(&batch, "upper", path).map_err(err)?;
    let mut order: Vec<String> = Vec::new();
    let mut table = serde_json::Map::new();
    for i in 0..channel.len() {
        if !order.contains(&channel[i]) {
            order.push(channel[i].clone());
        }
        let row = table.entry(channel[i].clone()).or_insert_with(|| json!({}));
        row[&metric[i]] = json!([mean[i], lower[i], upper[i]]);
    }
    Ok(json!({ "order": order, "metrics": table }))
}

/// decomposition.parquet as `{dates, components: {name: [mean per period]}}`.
fn decomposition(decide: &Upstream) -> Result<Value, ApiError> {
    let path = Path::new("decomposition.parquet");
    let (batch, _) = decide
        .parquet("decomposition.parquet")
        .map_err(|e| ApiError::internal(chain(&e)))?;
    let err = |e: mmm_core::CoreError| ApiError::internal(chain(&e));
    let dates = date_column(&batch, "date", path).map_err(err)?;
    let component = string_column(&batch, "component", path).map_err(err)?;
    let mean = f64_column(&batch, "mean", path).map_err(err)?;
    let mut days: Vec<i32> = dates.clone();
    days.sort_unstable();
    days.dedup();
    let mut order: Vec<String> = Vec::new();
    let mut series = serde_json::Map::new();
    for i in 0..dates.len() {
        if !order.contains(&component[i]) {
            order.push(component[i].clone());
        }
        let t = days.binary_search(&dates[i]).unwrap_or(0);
        let s = series
            .entry(component[i].clone())
            .or_insert_with(|| json!(vec![Value::Null; days.len()]));
        s[t] = json!(mean[i]);
    }
    let iso: Vec<String> = days.iter().map(|d| mmm_core::dates::iso(*d)).collect();
    Ok(json!({ "dates": iso, "order": order, "series": series }))
}

/// `GET /runs/NAME/files/PATH`: a file of a verified run (its report, charts, tables), never
/// a manifest or other JSON (they record absolute paths).
pub fn file(state: &State, name: &str, rest: &[String]) -> Result<Response, ApiError> {
    let dir = state.run_dir(name)?;
    let path = crate::paths::resolve_under(&dir, rest)?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    let content_type = match ext {
        "html" => "text/html; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "md" | "txt" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "parquet" => "application/octet-stream",
        _ => {
            return Err(ApiError::new(
                403,
                "the studio serves a run's reports, charts and tables, not this kind of file",
            ));
        }
    };
    state.verified_dir(name)?;
    let bytes = std::fs::read(&path).map_err(|_| ApiError::not_found("no such file"))?;
    Ok(Response::bytes(content_type, bytes).with_header(
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'",
    ))
}
