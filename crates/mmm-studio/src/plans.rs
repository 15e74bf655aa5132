//! Saving a plan: `mmm scenario --record` on the plan, into its own directory under the plans
//! directory (never into a run): plan.csv (the plan as `--plans` reads it), comparison.json,
//! scenarios.parquet, decision_record.json and the stage's manifest.

use mmm_decisions::stages::{RECORD_FILE, run_scenario};
use serde_json::json;

use crate::error::{ApiError, chain};
use crate::http::{Request, Response};
use crate::paths::check_run_name;
use crate::scenario::{PlanRequest, body};
use crate::state::State;

/// `POST /api/runs/NAME/plans` with a [`PlanRequest`] whose `name` names the plan: writes
/// `PLANS/RUN--NAME/` (409 when it exists) and answers the record's place (relative to the
/// plans directory) and its predicted lift.
pub fn save(state: &State, run_name: &str, req: &Request) -> Result<Response, ApiError> {
    let plan: PlanRequest = body(req)?;
    let plan_name = plan
        .name
        .clone()
        .ok_or_else(|| ApiError::bad_request("a saved plan needs a name"))?;
    check_run_name(&plan_name)
        .map_err(|_| ApiError::bad_request("a plan name is letters, digits, '.', '_' and '-'"))?;
    if plan_name == "current" {
        return Err(ApiError::bad_request(
            "a plan needs a name other than 'current'",
        ));
    }
    let run = state.loaded(run_name)?;
    let run_dir = state.verified_dir(run_name)?;
    let folder = format!("{run_name}--{plan_name}");
    let out = state.plans.join(&folder);
    if out.exists() {
        return Err(ApiError::new(
            409,
            format!("a plan '{folder}' is already saved; choose another name"),
        ));
    }
    std::fs::create_dir_all(&out)
        .map_err(|e| ApiError::internal(format!("creating the plan: {e}")))?;
    let csv = plan.to_csv(run.planner.channels())?;
    let plans_file = out.join("plan.csv");
    mmm_core::write_atomic(&plans_file, csv.as_bytes())
        .map_err(|e| ApiError::internal(chain(&e)))?;
    let written = run_scenario(
        &run.spec,
        &run_dir.join("features"),
        &run_dir.join("fit"),
        &plans_file,
        &out,
        &plan.options(true),
    );
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&out);
        return Err(e.into());
    }
    let record_path = out.join(RECORD_FILE);
    let record = mmm_decisions::review::DecisionRecord::read(&record_path)?;
    let mean = record.lift_per_draw.iter().sum::<f64>() / record.lift_per_draw.len().max(1) as f64;
    Ok(Response::json(&json!({
        "saved": format!("{folder}/{RECORD_FILE}"),
        "folder": folder,
        "files": ["plan.csv", "comparison.json", "scenarios.parquet", RECORD_FILE, "manifest.json"],
        "plan_name": record.plan_name,
        "weeks": record.weeks,
        "lift_mean": mean,
        "review": format!(
            "mmm review --record {folder}/{RECORD_FILE} --actuals ACTUALS.csv --out DIR (from the plans directory)"
        ),
    })))
}
