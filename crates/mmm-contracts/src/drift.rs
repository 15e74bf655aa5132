//! Refresh drift: the new table against the previous run's table.parquet.

use std::collections::HashMap;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use mmm_core::columns::{date_column, f64_column, string_column};
use serde::Serialize;

use crate::ContractError;
use crate::panel::{At, Findings};

/// Drift of one column between refreshes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ColumnDrift {
    /// Column name.
    pub column: String,
    /// Population stability index of the new values against the previous table's deciles.
    pub psi: f64,
    /// Periods present in both tables whose value changed (relative difference > 1e-9).
    pub changed_periods: usize,
}

/// PSI = sum over bins of (q - p) ln(q / p), p and q the previous and new shares per bin; bins
/// are the previous values' deciles, shares floored at 1e-4 so empty bins stay finite.
pub fn psi(previous: &[f64], new: &[f64]) -> f64 {
    let mut sorted: Vec<f64> = previous.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let new: Vec<f64> = new.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() || new.is_empty() {
        return 0.0;
    }
    let mut edges: Vec<f64> = (1..10)
        .map(|k| sorted[(k * sorted.len() / 10).min(sorted.len() - 1)])
        .collect();
    edges.dedup();
    // Bin k holds values in [edge k-1, edge k): exact deciles put 10% in each bin.
    let bin = |v: f64| edges.partition_point(|e| *e <= v);
    let shares = |vals: &[f64]| {
        let mut counts = vec![0.0; edges.len() + 1];
        for v in vals {
            counts[bin(*v)] += 1.0;
        }
        counts
            .iter()
            .map(|c| (c / vals.len() as f64).max(1e-4))
            .collect::<Vec<f64>>()
    };
    let (p, q) = (shares(&sorted), shares(&new));
    p.iter().zip(&q).map(|(p, q)| (q - p) * (q / p).ln()).sum()
}

/// Compare `new` with the table at `previous`; schema changes are errors, PSI > 0.2 and
/// changed history warnings.
pub fn compare(
    previous: &Path,
    new: &RecordBatch,
    f: &mut Findings,
) -> Result<Vec<ColumnDrift>, ContractError> {
    let bytes = std::fs::read(previous).map_err(|e| crate::read::unreadable(previous, e.into()))?;
    // A corrupt previous table is unreadable input (exit 2), like a corrupt data file.
    let old = crate::read::decode_parquet(bytes, previous)?;
    let describe = |b: &RecordBatch| -> Vec<(String, DataType)> {
        b.schema()
            .fields()
            .iter()
            .map(|f| (f.name().clone(), f.data_type().clone()))
            .collect()
    };
    let (old_cols, new_cols) = (describe(&old), describe(new));
    if old_cols != new_cols {
        let show = |c: &[(String, DataType)]| {
            c.iter()
                .map(|(n, t)| format!("{n}:{t}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        f.error(
            "schema_change",
            At::default(),
            format!(
                "columns changed since {}: was [{}], now [{}]",
                previous.display(),
                show(&old_cols),
                show(&new_cols)
            ),
        );
        return Ok(Vec::new());
    }
    let here = Path::new("table.parquet");
    let keys = |b: &RecordBatch, p: &Path| -> Result<Vec<(i32, String)>, ContractError> {
        let d = date_column(b, "date", p)?;
        let g = string_column(b, "geo", p)?;
        Ok(d.into_iter().zip(g).collect())
    };
    let old_keys = keys(&old, previous)?;
    let new_keys = keys(new, here)?;
    let old_index: HashMap<&(i32, String), usize> =
        old_keys.iter().enumerate().map(|(i, k)| (k, i)).collect();
    let mut out = Vec::new();
    for (name, dtype) in &new_cols {
        if *dtype != DataType::Float64 {
            continue;
        }
        let (a, b) = (
            f64_column(&old, name, previous)?,
            f64_column(new, name, here)?,
        );
        let mut changed = Vec::new();
        for (j, key) in new_keys.iter().enumerate() {
            if let Some(&i) = old_index.get(key) {
                let scale = a[i].abs().max(b[j].abs()).max(1e-300);
                if (a[i] - b[j]).abs() / scale > 1e-9 {
                    changed.push((key, a[i], b[j]));
                }
            }
        }
        if let Some((key, was, now)) = changed.first() {
            f.warn(
                "changed_history",
                At {
                    column: Some(name.clone()),
                    geo: (key.1 != crate::panel::NATIONAL).then(|| key.1.clone()),
                    period: Some(key.0),
                    row: None,
                    ..At::default()
                },
                format!(
                    "{} past period(s) changed since the previous table; first: {was} -> {now}",
                    changed.len()
                ),
            );
        }
        let value = psi(&a, &b);
        if value > 0.2 {
            f.warn(
                "distribution_drift",
                At::column(name),
                format!("population stability index {value:.3} (> 0.2) against the previous table"),
            );
        }
        out.push(ColumnDrift {
            column: name.clone(),
            psi: value,
            changed_periods: changed.len(),
        });
    }
    Ok(out)
}

/// What changed between two modeling tables (`mmm diff`).
#[derive(Debug, Clone, Serialize)]
pub struct TableDiff {
    /// (date, geo) rows only in the new table.
    pub rows_added: usize,
    /// (date, geo) rows only in the previous table.
    pub rows_removed: usize,
    /// Periods (ISO dates) of the added rows, first and last.
    pub added_span: Option<(String, String)>,
    /// PSI and changed past periods per numeric column (empty when the schema changed).
    pub columns: Vec<ColumnDrift>,
    /// The drift findings the validate stage would report (schema_change, changed_history,
    /// distribution_drift).
    pub findings: Vec<crate::Finding>,
}

/// Compare two table.parquet files: rows added and removed, per-column drift and changed
/// history, schema changes.
pub fn diff_tables(previous: &Path, new: &Path) -> Result<TableDiff, ContractError> {
    let read = |p: &Path| -> Result<RecordBatch, ContractError> {
        let bytes = std::fs::read(p).map_err(|e| crate::read::unreadable(p, e.into()))?;
        Ok(mmm_core::read_parquet_bytes(bytes, p)?)
    };
    let (old, new_batch) = (read(previous)?, read(new)?);
    let mut findings = Findings::default();
    let columns = compare(previous, &new_batch, &mut findings)?;
    let keys = |b: &RecordBatch, p: &Path| -> Result<Vec<(i32, String)>, ContractError> {
        let d = date_column(b, "date", p)?;
        let g = string_column(b, "geo", p)?;
        Ok(d.into_iter().zip(g).collect())
    };
    let (old_keys, new_keys) = (keys(&old, previous)?, keys(&new_batch, new)?);
    let old_set: std::collections::HashSet<&(i32, String)> = old_keys.iter().collect();
    let new_set: std::collections::HashSet<&(i32, String)> = new_keys.iter().collect();
    let added: Vec<i32> = new_keys
        .iter()
        .filter(|k| !old_set.contains(k))
        .map(|k| k.0)
        .collect();
    let rows_removed = old_keys.iter().filter(|k| !new_set.contains(k)).count();
    let added_span = added
        .iter()
        .min()
        .zip(added.iter().max())
        .map(|(a, b)| (mmm_core::dates::iso(*a), mmm_core::dates::iso(*b)));
    Ok(TableDiff {
        rows_added: added.len(),
        rows_removed,
        added_span,
        columns,
        findings: findings.0,
    })
}
