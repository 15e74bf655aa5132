//! Long inputs (one row per period, geo, campaign and variable), campaign-to-channel mapping,
//! and the SQL pivot to one row per period and geo.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::panel::{At, Findings, NATIONAL, Panel, Role};
use crate::sql::ident;
use crate::wide::{parse_date_cell, parse_number, require_columns};
use crate::{ContractError, RawTable};

/// Campaign name to channel name, read from a two-column CSV (`campaign,channel`).
pub type CampaignMap = HashMap<String, String>;

/// Read a campaign mapping file; the header must name `campaign` and `channel` columns.
pub fn read_mapping(path: &Path) -> Result<CampaignMap, ContractError> {
    let raw = crate::read::read_table(path)?;
    let find = |want: &str| {
        raw.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(want))
            .ok_or_else(|| ContractError::Unreadable {
                path: path.to_path_buf(),
                message: format!(
                    "mapping file needs a '{want}' column (columns present: {})",
                    raw.names.join(", ")
                ),
            })
    };
    let (c, ch) = (find("campaign")?, find("channel")?);
    let mut map = CampaignMap::new();
    for (i, (campaign, channel)) in raw.cells[c].iter().zip(raw.cells[ch].iter()).enumerate() {
        let (campaign, channel) = (
            campaign.unwrap_or_default().trim(),
            channel.unwrap_or_default().trim(),
        );
        if let Some(prev) = map.insert(campaign.to_string(), channel.to_string())
            && prev != channel
        {
            return Err(ContractError::Unreadable {
                path: path.to_path_buf(),
                message: format!(
                    "row {}: campaign '{campaign}' is mapped to both '{prev}' and '{channel}'",
                    i + 1
                ),
            });
        }
    }
    Ok(map)
}

/// Turn a long raw table into a panel: row rules on the long rows, campaigns mapped to
/// channels, then a DataFusion pivot. `None` when the layout's columns are missing.
pub fn panel(
    raw: &RawTable,
    spec: &mmm_core::Spec,
    required: &[(String, Role)],
    mapping: Option<&CampaignMap>,
    findings: &mut Findings,
    engine: &crate::sql::SqlEngine,
) -> Result<Option<Panel>, String> {
    let layout = &spec.data.long;
    let names = [&layout.period, &layout.variable, &layout.value].map(String::as_str);
    if !require_columns(raw, names, "long-format column", findings) {
        return Ok(None);
    }
    let (Some(periods), Some(variables), Some(values)) = (
        raw.column(&layout.period),
        raw.column(&layout.variable),
        raw.column(&layout.value),
    ) else {
        return Ok(None);
    };
    let geos = raw.column(&layout.geo);
    let campaigns = raw.column(&layout.campaign);
    let spend_column: HashMap<&str, &str> = spec
        .channels
        .iter()
        .map(|c| (c.name.as_str(), c.spend_column()))
        .collect();
    let code_of: HashMap<&str, (i32, Role)> = required
        .iter()
        .enumerate()
        .map(|(k, (n, r))| (n.as_str(), (k as i32, *r)))
        .collect();

    let mut days = Vec::with_capacity(raw.rows);
    let mut geo_out: Vec<&str> = Vec::with_capacity(raw.rows);
    let mut col_out: Vec<i32> = Vec::with_capacity(raw.rows);
    let mut val_out = Vec::with_capacity(raw.rows);
    let mut unmapped: BTreeMap<String, usize> = BTreeMap::new();
    // Duplicate detection keyed by a 64-bit hash of (period, geo, campaign, variable); a hit is
    // confirmed against the stored row, so a hash collision cannot report a false duplicate.
    let mut seen: HashMap<u64, (usize, i32)> = HashMap::with_capacity(raw.rows);
    let hasher = std::hash::RandomState::new();
    let key = |i: usize, day: i32| {
        (
            day,
            geos.map(|g| g.value(i).trim()).unwrap_or(""),
            campaigns.map(|c| c.value(i).trim()).unwrap_or(""),
            variables.value(i).trim(),
        )
    };
    // Campaign rows repeat each date many times: parse a date once per run of equal cells.
    let mut last_date: Option<(&str, i32)> = None;
    for i in 0..raw.rows {
        let row = i + 1;
        let geo = geos
            .map(|g| g.value(i).trim())
            .filter(|g| !g.is_empty())
            .unwrap_or(NATIONAL);
        let variable = variables.value(i).trim();
        let campaign = campaigns.map(|c| c.value(i).trim()).unwrap_or("");
        let column: std::borrow::Cow<str> = if campaign.is_empty() {
            variable.into()
        } else {
            match mapping.and_then(|m| m.get(campaign)) {
                Some(channel) => {
                    let base = spend_column
                        .get(channel.as_str())
                        .copied()
                        .unwrap_or(channel.as_str());
                    if variable.eq_ignore_ascii_case(&layout.spend_variable) {
                        base.into()
                    } else {
                        format!("{channel}_{variable}").into()
                    }
                }
                None => {
                    unmapped.entry(campaign.to_string()).or_insert(row);
                    continue;
                }
            }
        };
        let Some((code, role)) = code_of.get(column.as_ref()).copied() else {
            continue; // a variable the spec does not model
        };
        let cell = periods.value(i);
        let day = match last_date {
            Some((text, day)) if text == cell => Some(day),
            _ => {
                let at = || At {
                    column: Some(layout.period.clone()),
                    row: Some(row),
                    ..At::default()
                };
                let day = parse_date_cell(cell, at, findings);
                last_date = day.map(|d| (cell, d));
                day
            }
        };
        let Some(day) = day else {
            continue;
        };
        let at = || At {
            column: Some(column.to_string()),
            geo: (geo != NATIONAL).then(|| geo.to_string()),
            row: Some(row),
            period: Some(day),
            ..At::default()
        };
        let value = parse_number(values.value(i), at, findings);
        if role == "channel" && value < 0.0 {
            findings.error("negative_spend", at(), format!("spend {value} is negative"));
        }
        let hash = std::hash::BuildHasher::hash_one(&hasher, key(i, day));
        if let Some(&(first, first_day)) = seen.get(&hash) {
            if key(first - 1, first_day) == key(i, day) {
                findings.error(
                    "duplicate_period",
                    at(),
                    format!(
                        "the same period, geo, campaign and variable also appear in row {first}"
                    ),
                );
            }
        } else {
            seen.insert(hash, (row, day));
        }
        days.push(day);
        geo_out.push(geo);
        col_out.push(code);
        val_out.push(value);
    }
    if !unmapped.is_empty() {
        let first_row = unmapped.values().min().copied();
        findings.error(
            "unmapped_campaign",
            At {
                column: Some(layout.campaign.clone()),
                row: first_row,
                ..At::default()
            },
            format!(
                "{} campaign(s) have no channel in the mapping file{}: {}",
                unmapped.len(),
                if mapping.is_none() {
                    " (none was given: --campaign-map)"
                } else {
                    ""
                },
                unmapped.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    }
    let present: BTreeSet<i32> = col_out.iter().copied().collect();
    let mut absent = false;
    for (k, (name, _)) in required.iter().enumerate() {
        if !present.contains(&(k as i32)) {
            absent = true;
            findings.error(
                "missing_column",
                At::column(name),
                format!("no row of '{}' carries this variable", layout.variable),
            );
        }
    }
    if absent {
        return Ok(None);
    }

    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(vec![
            Field::new("day", DataType::Int32, false),
            Field::new("geo", DataType::Utf8, false),
            Field::new("col", DataType::Int32, false),
            Field::new("value", DataType::Float64, false),
        ])),
        vec![
            Arc::new(Int32Array::from(days)) as ArrayRef,
            Arc::new(StringArray::from(geo_out)),
            Arc::new(Int32Array::from(col_out)),
            Arc::new(Float64Array::from(val_out)),
        ],
    )
    .map_err(|e| e.to_string())?;
    let pivots: Vec<String> = required
        .iter()
        .enumerate()
        .map(|(k, (n, _))| format!("SUM(CASE WHEN col = {k} THEN value END) AS {}", ident(n)))
        .collect();
    let query = format!(
        "SELECT day, geo, {} FROM t GROUP BY day, geo ORDER BY day, geo",
        pivots.join(", ")
    );
    let wide = crate::sql::query(batch, &query, engine)?;
    let mut p = from_batch(&wide, required)?;
    for (name, _, col) in &p.columns {
        for (i, v) in col.iter().enumerate() {
            if v.is_nan() && wide.column_by_name(name).is_some_and(|c| c.is_null(i)) {
                findings.error(
                    "missing_value",
                    At {
                        column: Some(name.clone()),
                        geo: p.geo(i),
                        row: None,
                        period: p.dates[i],
                        ..At::default()
                    },
                    "no row carries this variable for this period and geo".into(),
                );
            }
        }
    }
    p.source_rows = None;
    Ok(Some(p))
}

/// Read a `day, geo, columns...` batch (nulls become NaN) into a panel.
pub fn from_batch(batch: &RecordBatch, required: &[(String, Role)]) -> Result<Panel, String> {
    let day = batch
        .column_by_name("day")
        .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
        .ok_or("pivot lost the day column")?;
    let geo = batch
        .column_by_name("geo")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or("pivot lost the geo column")?;
    let mut columns = Vec::new();
    for (name, role) in required {
        let arr = batch
            .column_by_name(name)
            .ok_or_else(|| format!("pivot lost column {name}"))?;
        let cast = arrow::compute::cast(arr, &DataType::Float64).map_err(|e| e.to_string())?;
        let a = cast
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or("not float")?;
        columns.push((
            name.clone(),
            *role,
            (0..a.len())
                .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
                .collect(),
        ));
    }
    Ok(Panel {
        dates: day.iter().collect(),
        geos: geo
            .iter()
            .map(|g| g.unwrap_or(NATIONAL).to_string())
            .collect(),
        source_rows: None,
        columns,
    })
}
