//! Wide inputs: one row per period (or period and geo), one column per variable.

use crate::panel::{At, Findings, NATIONAL, Panel, Role};
use crate::{RawTable, parse_date};

/// Parse one numeric cell; on failure record the rule (`non_finite`, `value_out_of_range`,
/// `missing_value`, `wrong_type`) at `at()` and return NaN. The location is built only on
/// failure.
pub fn parse_number(cell: &str, at: impl FnOnce() -> At, findings: &mut Findings) -> f64 {
    let trimmed = cell.trim();
    match trimmed.parse::<f64>() {
        Ok(v) if !v.is_finite() => {
            findings.error(
                "non_finite",
                at(),
                format!("value '{trimmed}' is NaN or infinite"),
            );
            f64::NAN
        }
        Ok(v) if v.abs() > crate::rules::MAX_ABS_VALUE => {
            crate::rules::out_of_range(trimmed, at(), findings);
            f64::NAN
        }
        Ok(v) => v,
        Err(_)
            if trimmed.is_empty()
                || trimmed.eq_ignore_ascii_case("null")
                || trimmed.eq_ignore_ascii_case("na") =>
        {
            findings.error("missing_value", at(), "value is empty".into());
            f64::NAN
        }
        Err(_) => {
            findings.error("wrong_type", at(), format!("'{trimmed}' is not a number"));
            f64::NAN
        }
    }
}

/// Parse one date cell, recording `unparseable_date` on failure.
pub fn parse_date_cell(
    cell: &str,
    at: impl FnOnce() -> At,
    findings: &mut Findings,
) -> Option<i32> {
    match parse_date(cell) {
        Some(d) => Some(mmm_core::dates::day_number(d)),
        None => {
            findings.error(
                "unparseable_date",
                at(),
                format!("'{}' is not an ISO date (YYYY-MM-DD)", cell.trim()),
            );
            None
        }
    }
}

/// Turn a wide raw table into a panel; `None` when required columns are missing.
pub fn panel(
    raw: &RawTable,
    spec: &mmm_core::Spec,
    required: &[(String, Role)],
    findings: &mut Findings,
) -> Option<Panel> {
    let date_col = spec.data.date_column.as_str();
    let geo_col = spec.data.geo_column.as_deref();
    let names = std::iter::once(date_col)
        .chain(geo_col)
        .chain(required.iter().map(|(n, _)| n.as_str()));
    if !require_columns(raw, names, "required column", findings) {
        return None;
    }
    let mut dates = Vec::with_capacity(raw.rows);
    if let Some(cells) = raw.column(date_col) {
        for (i, cell) in cells.iter().enumerate() {
            let at = || At {
                column: Some(date_col.to_string()),
                row: Some(i + 1),
                ..At::default()
            };
            dates.push(parse_date_cell(cell.unwrap_or_default(), at, findings));
        }
    }
    let geos: Vec<String> = match geo_col.and_then(|g| raw.column(g)) {
        Some(cells) => cells
            .iter()
            .map(|c| {
                let t = c.unwrap_or_default().trim();
                if t.is_empty() {
                    NATIONAL.to_string()
                } else {
                    t.to_string()
                }
            })
            .collect(),
        None => vec![NATIONAL.to_string(); raw.rows],
    };
    let mut p = Panel {
        dates,
        geos,
        source_rows: Some((1..=raw.rows).collect()),
        columns: Vec::new(),
    };
    for (name, role) in required {
        let Some(cells) = raw.column(name) else {
            continue;
        };
        let col: Vec<f64> = cells
            .iter()
            .enumerate()
            .map(|(i, cell)| {
                parse_number(cell.unwrap_or_default(), || At::cell(&p, name, i), findings)
            })
            .collect();
        p.columns.push((name.clone(), role, col));
    }
    Some(p)
}

/// A `missing_column` error for each of `names` absent from `raw` (`what` names the kind of
/// column in the message); true when all are present.
pub(crate) fn require_columns<'a>(
    raw: &RawTable,
    names: impl IntoIterator<Item = &'a str>,
    what: &str,
    findings: &mut Findings,
) -> bool {
    let mut all = true;
    for name in names {
        if raw.column(name).is_none() {
            all = false;
            findings.error(
                "missing_column",
                At::column(name),
                format!(
                    "{what} is absent (columns present: {})",
                    raw.names.join(", ")
                ),
            );
        }
    }
    all
}
