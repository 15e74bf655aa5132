//! Geo panels under a national model: the validated table keeps one row per period and geo;
//! until the model has a geo hierarchy, the features stage fits national totals.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use mmm_core::columns::{date_column, f64_column, string_column};
use mmm_core::spec::Aggregation;
use mmm_core::{BatchBuilder, CoreError, Spec};

/// Collapse a geo panel (columns `date`, `geo`, values) to one row per date.
///
/// The target, spend and every non-control column are summed over geos; a control is summed
/// when the spec aggregates it by `sum`, otherwise averaged over the geos reporting it. A table
/// without a `geo` column, or with a single geo, is returned without the geo column.
pub fn national_totals(
    table: &RecordBatch,
    spec: &Spec,
    path: &Path,
) -> Result<RecordBatch, CoreError> {
    let dates = date_column(table, "date", path)?;
    let has_geo = table.schema().field_with_name("geo").is_ok();
    let geos = if has_geo {
        string_column(table, "geo", path)?
    } else {
        vec![String::new(); dates.len()]
    };
    let out_dates: Vec<i32> = dates
        .iter()
        .copied()
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let slot: BTreeMap<i32, usize> = out_dates.iter().enumerate().map(|(i, d)| (*d, i)).collect();
    let n_geos = geos.iter().collect::<std::collections::BTreeSet<_>>().len();
    if n_geos > 1 {
        tracing::info!("geo panel with {n_geos} geos: fitting national totals");
    }
    let mut b = BatchBuilder::new().date("date", out_dates.clone());
    for field in table.schema().fields() {
        if field.name() == "date"
            || field.name() == "geo"
            || *field.data_type() != DataType::Float64
        {
            continue;
        }
        let name = field.name();
        let values = f64_column(table, name, path)?;
        let is_control = spec.controls.iter().any(|c| &c.name == name);
        let sum = !is_control
            || spec.data.control_aggregation.get(name.as_str()) == Some(&Aggregation::Sum);
        let mut total = vec![0.0; out_dates.len()];
        let mut count = vec![0usize; out_dates.len()];
        for (d, v) in dates.iter().zip(&values) {
            let i = slot[d];
            total[i] += v;
            count[i] += 1;
        }
        if !sum {
            for (t, c) in total.iter_mut().zip(&count) {
                *t /= (*c).max(1) as f64;
            }
        }
        b = b.f64(name, total);
    }
    b.build().map_err(|source| CoreError::Arrow {
        path: path.to_path_buf(),
        source,
    })
}
