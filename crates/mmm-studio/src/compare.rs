//! Two runs side by side: what `mmm compare` (ROAS and shares with intervals, sign flips,
//! prediction drift, the guardrail, a LOO ranking) and `mmm diff` (spec keys, data) say.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::error::{ApiError, chain};
use crate::http::Response;
use crate::state::State;

/// `GET /api/compare/A/B`: both runs must verify.
pub fn compare(state: &State, a: &str, b: &str) -> Result<Response, ApiError> {
    let (da, db) = (state.verified_dir(a)?, state.verified_dir(b)?);
    let comparison = mmm_diagnostics::compare::compare_runs(&[da.clone(), db.clone()])
        .map(|c| serde_json::to_value(c).unwrap_or(Value::Null))
        .map_err(|e| chain(&e));
    let data = data_diff(&da, &db);
    let (ka, kb) = (spec_keys(&da)?, spec_keys(&db)?);
    let mut keys: Vec<&String> = ka.keys().chain(kb.keys()).collect();
    keys.sort();
    keys.dedup();
    let spec_changes: Vec<Value> = keys
        .into_iter()
        .filter(|k| ka.get(*k) != kb.get(*k))
        .map(|k| json!({ "key": k, "a": ka.get(k), "b": kb.get(k) }))
        .collect();
    let mut value = json!({
        "a": a,
        "b": b,
        "spec_changes": spec_changes,
        "data": data.as_ref().ok(),
        "data_note": data.as_ref().err(),
        "compare": comparison.as_ref().ok(),
        "compare_note": comparison.as_ref().err(),
    });
    rename_runs(&mut value, &[(&da, a), (&db, b)]);
    Ok(Response::json(&value))
}

/// The spec's keys and values (`mmm diff`'s spec changes).
fn spec_keys(dir: &Path) -> Result<BTreeMap<String, String>, ApiError> {
    let text = std::fs::read_to_string(dir.join("spec.toml"))
        .map_err(|e| ApiError::internal(format!("reading a spec: {e}")))?;
    mmm_core::lineage::spec_keys(&text).ok_or_else(|| ApiError::internal("a spec is not TOML"))
}

/// The two modeling tables compared (`mmm diff`'s data changes), each verified first.
fn data_diff(a: &Path, b: &Path) -> Result<Value, String> {
    for run in [a, b] {
        mmm_core::Upstream::open(&run.join("validate"), "validate")
            .and_then(|u| u.read_verified("table.parquet"))
            .map_err(|e| chain(&e))?;
    }
    let table = |r: &Path| r.join("validate").join("table.parquet");
    mmm_contracts::drift::diff_tables(&table(a), &table(b))
        .map(|d| serde_json::to_value(d).unwrap_or(Value::Null))
        .map_err(|e| chain(&e))
}

/// Replace each run directory's path in every string of `v` by the run's name.
fn rename_runs(v: &mut Value, runs: &[(&Path, &str)]) {
    match v {
        Value::String(s) => {
            for (dir, name) in runs {
                *s = s.replace(&dir.display().to_string(), name);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_runs(x, runs)),
        Value::Object(o) => o.values_mut().for_each(|x| rename_runs(x, runs)),
        _ => {}
    }
}
