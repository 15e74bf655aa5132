//! `mmm schemas`: the JSON schemas of the spec, the manifest and every artifact.

use std::path::Path;

use anyhow::{Context, Result};

use crate::Exit;

/// Every schema file name with its content, in a fixed order.
pub fn all_schemas() -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut push_json = |name: &str, value: serde_json::Value| -> Result<()> {
        let mut text = serde_json::to_string_pretty(&value)?;
        text.push('\n');
        out.push((name.to_string(), text));
        Ok(())
    };
    push_json(
        "spec.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_core::Spec))?,
    )?;
    push_json(
        "manifest.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_core::Manifest))?,
    )?;
    push_json(
        "validate.contract.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_contracts::ContractReport))?,
    )?;
    push_json(
        "features.scales.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_features::Scales))?,
    )?;
    push_json(
        "features.geo_scales.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_features::panel::GeoScales))?,
    )?;
    push_json(
        "diagnose.diagnostics.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_diagnostics::Diagnostics))?,
    )?;
    push_json(
        "diagnose.causal_checks.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_diagnostics::causal::CausalChecks))?,
    )?;
    push_json(
        "compare.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_diagnostics::compare::Comparison))?,
    )?;
    push_json(
        "ensemble.schema.json",
        serde_json::to_value(schemars::schema_for!(
            mmm_decisions::ensemble::EnsembleSummary
        ))?,
    )?;
    push_json(
        "decision_record.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_decisions::review::DecisionRecord))?,
    )?;
    push_json(
        "review.schema.json",
        serde_json::to_value(schemars::schema_for!(mmm_decisions::review::Review))?,
    )?;
    for a in mmm_core::schemas::all() {
        let file = format!(
            "{}.schema.json",
            a.name.replace('/', ".").trim_end_matches(".parquet")
        );
        push_json(&file, serde_json::to_value(&a)?)?;
    }
    Ok(out)
}

/// Write the schemas into `dir`, or with `check` fail when any file differs.
pub fn write_or_check(dir: &Path, check: bool) -> Result<u8> {
    let schemas = all_schemas()?;
    let mut stale = Vec::new();
    for (name, text) in &schemas {
        let path = dir.join(name);
        let current = std::fs::read_to_string(&path).ok();
        if current.as_deref() == Some(text.as_str()) {
            continue;
        }
        if check {
            stale.push(name.clone());
        } else {
            mmm_core::write_atomic(&path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            eprintln!("wrote {}", path.display());
        }
    }
    if !stale.is_empty() {
        return Err(Exit(
            1,
            format!(
                "schemas in {} are stale: {} (run `cargo xtask schemas`)",
                dir.display(),
                stale.join(", ")
            ),
        )
        .into());
    }
    Ok(0)
}
