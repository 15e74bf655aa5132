//! Long-format and geo-panel inputs become the modeling table the generator's wide truth
//! describes (scripts/make_ingest_data.py), and the fit runs on them.

use std::collections::BTreeMap;
use std::path::Path;

use arrow::array::RecordBatch;
use mmm_core::columns::{date_column, f64_column, string_column};

use crate::{fixture, mmm_os, stderr};

/// Rows of a truth CSV keyed by (date, geo), values by column name.
/// Truth rows: (date, geo) -> values in column order.
type Truth = BTreeMap<(String, String), Vec<f64>>;

fn truth(file: &str) -> (Vec<String>, Truth) {
    let text = std::fs::read_to_string(fixture(&format!("ingest/{file}"))).expect("truth");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(str::to_string)
        .collect();
    let rows = lines
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let values = cells[2..]
                .iter()
                .map(|c| c.parse::<f64>().expect("number"))
                .collect();
            ((cells[0].to_string(), cells[1].to_string()), values)
        })
        .collect();
    (header[2..].to_vec(), rows)
}

fn table(dir: &Path) -> (Vec<(String, String)>, RecordBatch) {
    let path = dir.join("table.parquet");
    let batch =
        mmm_core::read_parquet_bytes(std::fs::read(&path).expect("table"), &path).expect("parquet");
    let dates = date_column(&batch, "date", &path).expect("date");
    let geos = string_column(&batch, "geo", &path).expect("geo");
    let keys = dates
        .into_iter()
        .map(mmm_core::dates::iso)
        .zip(geos)
        .collect();
    (keys, batch)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

fn stage(args: &[&std::ffi::OsStr]) -> std::process::Output {
    mmm_os(args.iter().copied())
}

/// `mmm STAGE --spec SPEC --INPUT_FLAG INPUT --out OUT`, which must succeed.
fn stage_ok(name: &str, spec: &Path, input_flag: &str, input: &Path, out: &Path) {
    let output = stage(&[
        name.as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        input_flag.as_ref(),
        input.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{name}: {}", stderr(&output));
}

/// features + a short fit on a validated directory; both must succeed.
fn features_and_fit(spec: &Path, validate: &Path, root: &Path) -> RecordBatch {
    let features = root.join("features");
    stage_ok("features", spec, "--validate", validate, &features);
    let fit = root.join("fit");
    stage_ok("fit", spec, "--features", &features, &fit);
    let draws = fit.join("draws.parquet");
    let batch =
        mmm_core::read_parquet_bytes(std::fs::read(&draws).expect("draws"), &draws).expect("draws");
    assert_eq!(batch.num_rows(), 2 * 300, "2 chains x 300 draws");
    let design = features.join("design.parquet");
    mmm_core::read_parquet_bytes(std::fs::read(&design).expect("design"), &design).expect("design")
}

#[test]
fn long_national_export_becomes_the_wide_truth_and_fits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = fixture("ingest/national_long.spec.toml");
    let validate = dir.path().join("validate");
    let out = stage(&[
        "validate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        fixture("ingest/national_long.csv").as_os_str(),
        "--campaign-map".as_ref(),
        fixture("ingest/campaign_map.csv").as_os_str(),
        "--out".as_ref(),
        validate.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("PASSED"),
        "terminal summary: {}",
        stderr(&out)
    );
    let (columns, want) = truth("national_truth.csv");
    let (keys, batch) = table(&validate);
    assert_eq!(
        keys,
        want.keys().cloned().collect::<Vec<_>>(),
        "one row per week, in order"
    );
    let path = validate.join("table.parquet");
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(
        names,
        [
            "date", "geo", "sales", "tv", "radio", "search", "social", "price", "promo"
        ]
    );
    for (c, name) in columns.iter().enumerate() {
        let got = f64_column(&batch, name, &path).expect("column");
        for (k, (key, values)) in want.iter().enumerate() {
            assert!(
                close(got[k], values[c]),
                "{name} at {key:?}: {} vs truth {}",
                got[k],
                values[c]
            );
        }
    }
    let design = features_and_fit(&spec, &validate, dir.path());
    assert_eq!(design.num_rows(), 156);
}

#[test]
fn daily_geo_panel_becomes_weekly_per_geo_and_fits_national_totals() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = fixture("ingest/geo_daily.spec.toml");
    let validate = dir.path().join("validate");
    let out = stage(&[
        "validate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        fixture("ingest/geo_daily.csv").as_os_str(),
        "--out".as_ref(),
        validate.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let contract: serde_json::Value =
        serde_json::from_slice(&std::fs::read(validate.join("contract.json")).expect("contract"))
            .expect("json");
    // The data start on a Wednesday and end on a Tuesday: both edge weeks are partial.
    let partial = contract["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "partial_period")
        .count();
    assert_eq!(partial, 2 * 4, "{contract:#}");
    let (columns, want) = truth("geo_truth.csv");
    let (keys, batch) = table(&validate);
    let mut sorted = want.keys().cloned().collect::<Vec<_>>();
    sorted.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(
        keys, sorted,
        "one row per complete week and geo, sorted by date then geo"
    );
    let path = validate.join("table.parquet");
    for (c, name) in columns.iter().enumerate() {
        let got = f64_column(&batch, name, &path).expect("column");
        for (k, key) in keys.iter().enumerate() {
            assert!(
                close(got[k], want[key][c]),
                "{name} at {key:?}: {} vs truth {}",
                got[k],
                want[key][c]
            );
        }
    }
    // The national fit sees spend and target summed over geos, price averaged, promo summed.
    let design = features_and_fit(&spec, &validate, dir.path());
    let weeks: Vec<String> = keys
        .iter()
        .map(|k| k.0.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(design.num_rows(), weeks.len());
    let scales: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("features/scales.json")).expect("scales"),
    )
    .expect("json");
    let dpath = dir.path().join("features/design.parquet");
    let national = |col: usize, mean: bool| -> Vec<f64> {
        weeks
            .iter()
            .map(|w| {
                let v: Vec<f64> = want
                    .iter()
                    .filter(|(k, _)| &k.0 == w)
                    .map(|(_, v)| v[col])
                    .collect();
                v.iter().sum::<f64>() / if mean { v.len() as f64 } else { 1.0 }
            })
            .collect()
    };
    let tv = f64_column(&design, "channel[tv]", &dpath).expect("tv");
    let tv_scale = scales["channels"]["tv"].as_f64().expect("scale");
    for (got, want) in tv.iter().zip(national(1, false)) {
        assert!(close(got * tv_scale, want), "{} vs {want}", got * tv_scale);
    }
    let price = f64_column(&design, "control[price]", &dpath).expect("price");
    let price_scale = scales["controls"]["price"].as_f64().expect("scale");
    for (got, want) in price.iter().zip(national(3, true)) {
        assert!(
            close(got * price_scale, want),
            "{} vs {want}",
            got * price_scale
        );
    }
    let y = f64_column(&design, "target_scaled", &dpath).expect("y");
    let y_scale = scales["target"].as_f64().expect("scale");
    for (got, want) in y.iter().zip(national(0, false)) {
        assert!(close(got * y_scale, want), "{} vs {want}", got * y_scale);
    }
}
