//! Finer-than-period rows (daily) aggregated to periods (weeks) by the query engine.

use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use mmm_core::spec::Aggregation;

use crate::TableError;
use crate::panel::{At, Findings, Panel, Role};

/// First day of the period holding `day`: periods of `period_days` aligned so that one starts
/// on 1970-01-05 (a Monday) plus `offset` days.
pub fn period_start(day: i32, period_days: i32, offset: i32) -> i32 {
    let anchor = 4 + offset;
    day - (day - anchor).rem_euclid(period_days)
}

/// Aggregate a panel of `input_days`-long rows to periods of the spec's `period_days`.
///
/// Target, spend and other non-control columns are summed; controls follow
/// `data.control_aggregation` (mean by default). Periods at either end of a geo's series that
/// are not fully covered are dropped with a `partial_period` warning.
pub fn to_periods(
    p: &Panel,
    spec: &mmm_core::Spec,
    input_days: u32,
    findings: &mut Findings,
    engine: &crate::sql::SqlEngine,
) -> Result<Panel, TableError> {
    let period_days = spec.data.period_days as i32;
    let (batch, columns) = period_batch(p, spec)?;
    let query = crate::sql::Query::Periods { columns };
    let out = crate::sql::query(batch, &query, engine)?;
    let required: Vec<(String, Role)> = p.columns.iter().map(|(n, r, _)| (n.clone(), *r)).collect();
    let mut weekly = crate::long::from_batch(&out, &required)?;
    let counts = arrow::compute::cast(
        out.column_by_name("n_inputs")
            .ok_or(TableError::LostCounts)?,
        &DataType::Int64,
    )?;
    let counts = counts
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or(TableError::CountsNotIntegers)?;
    let full = (period_days / input_days.max(1) as i32) as i64;
    drop_partial_periods(&mut weekly, counts, full, findings);
    Ok(weekly)
}

/// The dated rows of `p` as a `period, day, geo, c0, c1...` batch, with each column's name and
/// aggregation.
fn period_batch(
    p: &Panel,
    spec: &mmm_core::Spec,
) -> Result<(RecordBatch, Vec<(String, Aggregation)>), ArrowError> {
    let period_days = spec.data.period_days as i32;
    let offset = spec.data.week_start.days_from_monday() as i32;
    let keep: Vec<usize> = (0..p.len()).filter(|&i| p.dates[i].is_some()).collect();
    let days: Vec<i32> = keep.iter().map(|&i| p.dates[i].unwrap_or(0)).collect();
    let weeks: Vec<i32> = days
        .iter()
        .map(|&d| period_start(d, period_days, offset))
        .collect();
    let mut fields = vec![
        Field::new("period", DataType::Int32, false),
        Field::new("day", DataType::Int32, false),
        Field::new("geo", DataType::Utf8, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![
        Arc::new(Int32Array::from(weeks)),
        Arc::new(Int32Array::from(days)),
        Arc::new(StringArray::from(
            keep.iter().map(|&i| p.geos[i].as_str()).collect::<Vec<_>>(),
        )),
    ];
    let mut selects = Vec::new();
    for (k, (name, role, values)) in p.columns.iter().enumerate() {
        let c = format!("c{k}");
        fields.push(Field::new(&c, DataType::Float64, false));
        arrays.push(Arc::new(Float64Array::from(
            keep.iter().map(|&i| values[i]).collect::<Vec<_>>(),
        )));
        // A mediator (brand awareness) is a level like a control, not a flow like spend.
        let how = if *role == "control" || *role == "mediator" {
            spec.data
                .control_aggregation
                .get(name)
                .copied()
                .unwrap_or_default()
        } else {
            Aggregation::Sum
        };
        selects.push((name.clone(), how));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?;
    Ok((batch, selects))
}

/// Drop the periods at each geo's ends that hold fewer than `full` input periods (`counts`
/// per row), each with a `partial_period` warning; gaps inside are `missing_period` errors
/// already.
fn drop_partial_periods(
    weekly: &mut Panel,
    counts: &Int64Array,
    full: i64,
    findings: &mut Findings,
) {
    let mut drop = vec![false; weekly.len()];
    for (geo, rows) in weekly.by_geo() {
        let ends = [rows.first().copied(), rows.last().copied()];
        for i in ends.into_iter().flatten() {
            if counts.value(i) < full && !drop[i] {
                drop[i] = true;
                findings.warn(
                    "partial_period",
                    At {
                        geo: weekly.geo(i),
                        period: weekly.dates[i],
                        ..At::default()
                    },
                    format!(
                        "only {} of {full} input periods in this period{}; it is left out",
                        counts.value(i),
                        if geo == crate::panel::NATIONAL {
                            String::new()
                        } else {
                            format!(" for geo {geo}")
                        }
                    ),
                );
            }
        }
    }
    let kept: Vec<usize> = (0..weekly.len()).filter(|&i| !drop[i]).collect();
    weekly.dates = kept.iter().map(|&i| weekly.dates[i]).collect();
    weekly.geos = kept.iter().map(|&i| weekly.geos[i].clone()).collect();
    for (_, _, col) in &mut weekly.columns {
        *col = kept.iter().map(|&i| col[i]).collect();
    }
}
