//! The HTML report and model card of a geo hierarchy: a Geos section with every geo's ROAS,
//! predictive fit and optimized plan, per-geo deviation parameters collapsed in the diagnostics
//! tables; and no trace of any of it in a national model's report.

use std::path::{Path, PathBuf};

use mmm_core::columns::string_column;

use crate::{fixture, mmm_os, mmm_run, parquet, spec_with, stderr};

/// The geo fixture's spec with a shorter sampler (the report needs draws, not precision).
fn geo_spec(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("geo/spec.toml")).expect("spec");
    let text = text
        .replace("tune = 1000", "tune = 300")
        .replace("draws = 1000", "draws = 300");
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Distinct values of a string column, in order of first appearance.
fn distinct(path: &Path, column: &str) -> Vec<String> {
    let batch = parquet(path);
    let mut out: Vec<String> = Vec::new();
    for v in string_column(&batch, column, path).expect("column") {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

/// The input paths recorded in the report stage's manifest.
fn report_inputs(run: &Path) -> Vec<String> {
    let manifest: serde_json::Value =
        serde_json::from_str(&read(&run.join("report/manifest.json"))).expect("manifest");
    manifest["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .filter_map(|i| i["path"].as_str().map(str::to_owned))
        .collect()
}

/// The `<table id="ID">` element of `html`.
fn table<'a>(html: &'a str, id: &str) -> &'a str {
    let start = html
        .find(&format!("<table id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no table {id}"));
    let len = html[start..].find("</table>").expect("table end");
    &html[start..start + len]
}

/// The text of every cell of every body row of a table.
fn rows(table: &str) -> Vec<Vec<String>> {
    let body = &table[table.find("<tbody>").expect("tbody")..];
    body.split("<tr")
        .skip(1)
        .map(|row| {
            row.split("</td>")
                .filter_map(|cell| cell.rfind('>').map(|at| cell[at + 1..].trim().to_owned()))
                .collect::<Vec<_>>()
        })
        .map(|mut cells| {
            cells.pop(); // what follows the last cell
            cells
        })
        .collect()
}

/// The row of `table` that starts with `geo` and `channel`.
fn row_of(table: &[Vec<String>], geo: &str, channel: &str) -> Option<Vec<String>> {
    table
        .iter()
        .find(|r| r.len() >= 2 && r[0] == geo && r[1] == channel)
        .cloned()
}

#[test]
fn geo_report_shows_every_geo_and_collapses_the_deviation_parameters() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = geo_spec(dir.path());
    let sim = crate::geo::simulate_geo_with(dir.path(), &spec);
    let run = dir.path().join("run");
    let o = mmm_run(&spec, &sim.join("data.csv"), &run);
    crate::assert_exit(&o, 3);
    let geos = distinct(&run.join("decide/geo_roi.parquet"), "geo");
    let channels = distinct(&run.join("decide/roi.parquet"), "channel");
    assert_eq!(geos.len(), 8, "{geos:?}");

    let html = read(&run.join("report/report.html"));
    assert!(html.contains("<h2 id=\"geos\">Geos</h2>"));
    assert!(html.contains("geo hierarchy of 8 geos"));
    assert!(html.contains("summed per posterior draw and then summarized"));
    // ROAS, contribution and spend of every geo and channel, with intervals.
    assert!(table(&html, "geo-roas-table").contains("% HDI</th>"));
    let roas = rows(table(&html, "geo-roas-table"));
    assert_eq!(roas.len(), geos.len() * channels.len(), "{roas:?}");
    for g in &geos {
        for c in &channels {
            let row = row_of(&roas, g, c).unwrap_or_else(|| panic!("no ROAS row {g} {c}"));
            // Spend, contribution mean and HDI, ROAS mean and HDI.
            assert_eq!(row.len(), 7, "{row:?}");
            assert!(row[4].contains(" – ") && row[6].contains(" – "), "{row:?}");
        }
    }
    // One ROAS chart per channel with every geo as a row and the national value as reference.
    for c in &channels {
        assert!(html.contains(&format!("<title>ROAS of {c} per geo")), "{c}");
    }
    assert!(html.contains("national ROAS (all geos), mean"));
    // Predictive fit per geo, holdout included (the fixture holds out 8 weeks).
    let fit = table(&html, "geo-fit");
    assert!(fit.contains("Holdout MAPE"));
    for g in &geos {
        assert!(
            fit.contains(&format!("<tr><td>{g}</td>")),
            "no fit row for {g}"
        );
    }
    // Per-geo parameters (deviations such as `beta_geo_z[geo=g01,ch1]`, and per-geo values
    // such as a centered `intercept[geo=g01]`): one convergence row per stem, no single rows.
    let diag: serde_json::Value =
        serde_json::from_str(&read(&run.join("diagnose/diagnostics.json"))).expect("json");
    let mut stems: Vec<(String, usize)> = Vec::new();
    for p in diag["parameters"].as_array().expect("parameters") {
        let name = p["name"].as_str().expect("name");
        if let Some(at) = name.find("[geo=") {
            match stems.iter_mut().find(|(s, _)| s == &name[..at]) {
                Some((_, n)) => *n += 1,
                None => stems.push((name[..at].to_owned(), 1)),
            }
        }
    }
    let n = geos.len() * channels.len();
    assert!(stems.contains(&("beta_geo_z".to_owned(), n)), "{stems:?}");
    let params = table(&html, "parameters");
    for (stem, count) in &stems {
        let row = format!("<tr class=\"geo-parameters\"><td>{stem}[…] ({count} per-geo");
        assert!(params.contains(&row), "no row {row} in {params}");
    }
    assert!(params.contains(&format!(
        "beta_geo_z[…] ({n} per-geo standardized deviations"
    )));
    assert!(params.contains("<td>beta_geo_sd[ch1]</td>"), "spreads stay");
    assert!(
        !html.contains("[geo="),
        "no single per-geo parameter row anywhere"
    );
    // Prior vs posterior leaves the deviations out, and says so.
    let priors = table(&html, "prior-posterior");
    assert!(!priors.contains("beta_geo_z"));
    let note = &html[html
        .find("per-geo standardized deviations (<code>")
        .expect("note")..];
    let note = &note[..note.find("</p>").expect("note end")];
    assert!(note.contains("<code>beta_geo_z[…]</code>") && note.contains("are left out"));
    // The model card names the hierarchy and where the per-geo results are.
    let card = read(&run.join("report/model_card.md"));
    assert!(card.contains("Geo hierarchy of 8 geos"), "{card}");
    assert!(card.contains("decide/geo_roi.parquet"));
    let inputs = report_inputs(&run);
    assert!(inputs.iter().any(|p| p.ends_with("decide/geo_roi.parquet")));
    assert!(!html.contains("id=\"geo-allocation\""), "no optimizer yet");
    // The refit checks ran on the panel (the fixture asks for 20 bootstrap refits, 3 folds).
    let signs = rows(table(&html, "sign-stability"));
    assert_eq!(signs.len(), 4, "three channels and price: {signs:?}");
    assert!(html.contains("id=\"sign-stability-geo\""));
    assert_eq!(rows(table(&html, "cross-validation")).len(), 3);
    assert!(html.contains("scored on the national total"));

    // After the geos x channels optimizer, the report (rerun: its inputs changed) shows the
    // current and optimized spend per geo and channel next to the national plan.
    crate::assert_optimize_runs_with(&run, &run.join("optimize"), &[], 0);
    let o = mmm_os(["report".as_ref(), "--run".as_ref(), run.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "report: {}", stderr(&o));
    let html = read(&run.join("report/report.html"));
    let national = table(&html, "allocation");
    assert!(national.contains("per geo (below)"));
    let alloc = rows(table(&html, "geo-allocation"));
    for g in &geos {
        for c in channels.iter().map(String::as_str).chain(["total"]) {
            assert!(row_of(&alloc, g, c).is_some(), "no allocation row {g} {c}");
        }
    }
    // The spec caps ch1 in g02 at 5,000 and leaves the default ±30% band on every other end:
    // geo, channel, current, optimized, allowed, ….
    let plan: serde_json::Value =
        serde_json::from_str(&read(&run.join("optimize/plan.json"))).expect("plan.json");
    let cell = plan["guardrails"]["ranges"]
        .as_array()
        .expect("guardrails")
        .iter()
        .find(|r| r["channel"] == "ch1 in g02")
        .expect("ch1 in g02");
    assert_eq!(
        (&cell["upper"], &cell["upper_source"]),
        (&serde_json::json!(5000.0), &serde_json::json!("bounds"))
    );
    let g02 = row_of(&alloc, "g02", "ch1").expect("g02 ch1");
    match cell["lower_source"].as_str() {
        // The cap is below the band: the band's floor is released.
        Some("none") => assert_eq!(g02[4], "≤ 5,000 (bounds max)", "{g02:?}"),
        Some("default_max_change") => assert!(
            g02[4].ends_with(" – 5,000 (default ±30% min; bounds max)"),
            "{g02:?}"
        ),
        other => panic!("lower_source {other:?}"),
    }
    let g01 = row_of(&alloc, "g01", "ch1").expect("g01 ch1");
    assert!(g01[4].ends_with(" (default ±30%)"), "{g01:?}");
    assert!(html.contains("id=\"optimizer-guardrails\""));
    assert!(html.contains(
        "<b>Default guardrails:</b> each channel in each geo may move at most <b>±30%</b>"
    ));
    let inputs = report_inputs(&run);
    assert!(
        inputs
            .iter()
            .any(|p| p.ends_with("optimize/geo_allocation.parquet"))
    );
}

#[test]
fn national_report_has_no_geo_section() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = spec_with(dir.path(), 200, 200, 3);
    let run = dir.path().join("run");
    let o = mmm_run(&spec, &fixture("pymc_example/data.csv"), &run);
    crate::assert_exit(&o, 3);
    let html = read(&run.join("report/report.html"));
    assert!(html.contains("id=\"roas-table\""));
    for needle in [
        "id=\"geos\"",
        "Geos",
        "geo-roas-table",
        "geo-fit",
        "geo-deviations",
        "per geo",
    ] {
        assert!(!html.contains(needle), "national report shows {needle}");
    }
    let card = read(&run.join("report/model_card.md"));
    assert!(!card.contains("Geo hierarchy"));
    assert!(!report_inputs(&run).iter().any(|p| p.contains("geo_")));
}
