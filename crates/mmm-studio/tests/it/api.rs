//! The API against the CLI: runs list, run page, unverified run, scenario numbers equal to
//! `mmm scenario`, the optimizer equal to `mmm optimize`, plans saved outside the runs.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::json;

use crate::{get, mmm_ok, post, world};

/// `mmm COMMAND --spec RUN/spec.toml --features RUN/features --fit RUN/fit EXTRA --out OUT`.
fn decision(command: &str, run: &Path, extra: &[&str], out: &Path) {
    let os = std::ffi::OsStr::new;
    let (spec, features, fit) = (run.join("spec.toml"), run.join("features"), run.join("fit"));
    let mut args = vec![
        os(command),
        os("--quiet"),
        os("--spec"),
        spec.as_os_str(),
        os("--features"),
        features.as_os_str(),
        os("--fit"),
        fit.as_os_str(),
        os("--out"),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| os(a)));
    mmm_ok(&args);
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// Every file under `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<String, (u64, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let m = e.metadata().expect("metadata");
            if m.is_dir() {
                stack.push(e.path());
            } else {
                let key = e.path().display().to_string();
                out.insert(key, (m.len(), m.modified().expect("mtime")));
            }
        }
    }
    out
}

/// The current plan of `run` over `horizon` weeks, each channel's total scaled by `factors`.
fn plan_of(run: &str, horizon: usize, factors: &[f64]) -> serde_json::Value {
    let r = post(
        &format!("/api/runs/{run}/current"),
        &json!({ "horizon": horizon }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let setup = r.json();
    let channels = setup["channels"].as_array().expect("channels").clone();
    let spend: serde_json::Map<String, serde_json::Value> = channels
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let now = setup["current"]["spend"][i].as_f64().expect("spend");
            (
                c.as_str().expect("name").to_string(),
                json!(now * factors[i]),
            )
        })
        .collect();
    json!({ "horizon": horizon, "spend": spend })
}

#[test]
fn runs_list_shows_each_run_with_its_verdict() {
    let r = get("/api/runs");
    assert_eq!(r.status, 200);
    let runs = r.json()["runs"].as_array().expect("runs").clone();
    let row = |name: &str| {
        runs.iter()
            .find(|x| x["name"] == name)
            .unwrap_or_else(|| panic!("{name} listed"))
            .clone()
    };
    let fx = row("fixture");
    assert_eq!(fx["verified"], true);
    assert_eq!(fx["model"], "pymc_example");
    assert_eq!(fx["period"], json!(["2018-04-02", "2021-08-30"]));
    assert!(fx["gate"].as_str().is_some_and(|g| !g.is_empty()));
    assert!(fx["created"].as_str().is_some_and(|c| c.starts_with("20")));
    let broken = row("broken");
    assert_eq!(broken["verified"], false);
    assert!(broken["problems"].as_u64().is_some_and(|n| n >= 1));
    assert!(broken.get("period").is_none() && broken.get("gate").is_none());
    // The symlinked run is not a run under the directory: it shows as unverifiable.
    assert_eq!(row("escape")["verified"], false);
}

#[test]
fn run_page_has_the_tables_of_a_verified_run() {
    let r = get("/api/runs/fixture");
    assert_eq!(r.status, 200);
    let p = r.json();
    assert_eq!(p["verified"], true);
    assert_eq!(p["report"], true);
    assert_eq!(p["channels"]["order"], json!(["x1", "x2"]));
    let roas = &p["channels"]["metrics"]["x1"]["roas"];
    assert!(roas[0].as_f64().is_some_and(f64::is_finite));
    let d = &p["decomposition"];
    assert_eq!(d["dates"].as_array().map(Vec::len), Some(179));
    assert!(
        d["order"]
            .as_array()
            .is_some_and(|o| o.contains(&json!("x1")))
    );
}

#[test]
fn an_unverified_run_gets_its_problems_and_no_numbers() {
    let r = get("/api/runs/broken");
    assert_eq!(r.status, 200);
    let p = r.json();
    assert_eq!(p["verified"], false);
    let problems = p["problems"].as_array().expect("problems");
    assert!(
        problems
            .iter()
            .any(|x| x.as_str().is_some_and(|s| s.contains("roi.parquet"))),
        "{problems:?}"
    );
    for key in ["channels", "decomposition", "period", "gate"] {
        assert!(p.get(key).is_none(), "{key} shown for an unverified run");
    }
    let plan = json!({ "horizon": 4, "spend": { "x1": 1.0, "x2": 1.0 } });
    for r in [
        post("/api/runs/broken/scenario", &plan),
        post("/api/runs/broken/current", &json!({})),
        get("/runs/broken/files/report/report.html"),
        get("/api/compare/fixture/broken"),
    ] {
        assert_eq!(r.status, 409, "{}", r.text());
        assert!(r.text().contains("fails verification"));
    }
}

#[test]
fn scenario_endpoint_equals_mmm_scenario_on_the_same_plan() {
    let w = world();
    let plan = plan_of("fixture", 8, &[1.25, 0.8]);
    let r = post("/api/runs/fixture/scenario", &plan);
    assert_eq!(r.status, 200, "{}", r.text());
    let studio = r.json();
    assert_eq!(studio["draws"], 400);
    let csv = studio["plan_csv"].as_str().expect("plan csv");
    let dir = tempfile::tempdir().expect("tmp");
    let plans = dir.path().join("plan.csv");
    std::fs::write(&plans, csv).expect("write");
    let out = dir.path().join("scenario");
    decision(
        "scenario",
        &w.run("fixture"),
        &["--plans", plans.to_str().expect("utf8")],
        &out,
    );
    let cli = read_json(&out.join("comparison.json"));
    assert_eq!(
        studio["comparison"], cli,
        "studio and `mmm scenario` differ"
    );
    // Marginal ROAS: finite and positive for both channels of the fixture.
    for c in ["x1", "x2"] {
        assert!(studio["marginal_roas"][c].as_f64().is_some_and(|m| m > 0.0));
    }
    let counts = studio["histogram"]["counts"].as_array().expect("counts");
    assert_eq!(counts.iter().filter_map(|c| c.as_u64()).sum::<u64>(), 400);
    // A bad request names the problem.
    let bad = post(
        "/api/runs/fixture/scenario",
        &json!({ "horizon": 8, "spend": { "x1": 1.0 } }),
    );
    assert_eq!(bad.status, 400);
    assert!(bad.text().contains("x2"));
    let bad = post(
        "/api/runs/fixture/scenario",
        &json!({ "horizon": 8, "spend": { "x1": -1.0, "x2": 1.0 } }),
    );
    assert_eq!(bad.status, 400);
    let late = post(
        "/api/runs/fixture/scenario",
        &json!({ "horizon": 8, "start": "1999-01-04", "spend": { "x1": 1.0, "x2": 1.0 } }),
    );
    assert_eq!(late.status, 422, "{}", late.text());
}

/// A geo hierarchy's plan given per geo (each geo's current spend scaled per channel) and the
/// same plan given nationally (split over geos by current shares): both equal `mmm scenario` on
/// the plans file the studio writes, and the per-geo split is what was asked.
#[test]
fn geo_scenario_endpoint_equals_mmm_scenario_per_geo_and_split() {
    let run = world().geo_run();
    let r = post("/api/runs/geo/current", &json!({ "horizon": 6 }));
    assert_eq!(r.status, 200, "{}", r.text());
    let setup = r.json();
    let channels: Vec<String> =
        serde_json::from_value(setup["channels"].clone()).expect("channels");
    let geos: Vec<String> = serde_json::from_value(setup["geos"].clone()).expect("geos");
    assert_eq!((channels.len(), geos.len()), (3, 8));
    let by_geo = &setup["current"]["spend_by_geo"];
    let factors = [1.3, 0.7, 1.0];
    let spend_by_geo: serde_json::Map<String, serde_json::Value> = (geos.iter().enumerate())
        .map(|(g, geo)| {
            let row: serde_json::Map<String, serde_json::Value> = (channels.iter().enumerate())
                .map(|(c, ch)| {
                    let now = by_geo[g][c].as_f64().expect("geo spend");
                    // Geo 0 moves its whole budget; the others scale per channel.
                    let f = if g == 0 { 2.0 } else { factors[c] };
                    (ch.clone(), json!(now * f))
                })
                .collect();
            (geo.clone(), json!(row))
        })
        .collect();
    let national: serde_json::Map<String, serde_json::Value> = (channels.iter().enumerate())
        .map(|(c, ch)| {
            let now = setup["current"]["spend"][c].as_f64().expect("spend");
            (ch.clone(), json!(now * factors[c]))
        })
        .collect();
    let plans = [
        json!({ "horizon": 6, "spend_by_geo": spend_by_geo }),
        json!({ "horizon": 6, "spend": national }),
    ];
    for plan in plans {
        let r = post("/api/runs/geo/scenario", &plan);
        assert_eq!(r.status, 200, "{}", r.text());
        let studio = r.json();
        assert_eq!(studio["draws"], 400);
        let dir = tempfile::tempdir().expect("tmp");
        let file = dir.path().join("plan.csv");
        std::fs::write(&file, studio["plan_csv"].as_str().expect("plan csv")).expect("write");
        let out = dir.path().join("scenario");
        let extra = ["--plans", file.to_str().expect("utf8")];
        decision("scenario", &run, &extra, &out);
        let cli = read_json(&out.join("comparison.json"));
        assert_eq!(
            studio["comparison"], cli,
            "studio and `mmm scenario` differ"
        );
        let scenario = &cli["scenarios"][0];
        for (c, ch) in channels.iter().enumerate() {
            let m = studio["marginal_roas"][ch].as_f64();
            assert!(m.is_some_and(f64::is_finite), "{ch}: marginal ROAS {m:?}");
            let cell = |g: &String| scenario["spend_by_geo"][g][c].as_f64().expect("cell");
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1.0);
            if let Some(sbg) = plan.get("spend_by_geo") {
                for g in &geos {
                    let asked = sbg[g][ch].as_f64().expect("asked");
                    assert!(close(cell(g), asked), "{g} {ch}: {} vs {asked}", cell(g));
                }
            }
            let asked: f64 = match plan.get("spend_by_geo") {
                Some(sbg) => geos
                    .iter()
                    .map(|g| sbg[g][ch].as_f64().expect("asked"))
                    .sum(),
                None => plan["spend"][ch].as_f64().expect("asked"),
            };
            let got: f64 = geos.iter().map(cell).sum();
            assert!(close(got, asked), "{ch}: {got} vs {asked}");
        }
    }
}

#[test]
fn optimize_endpoint_equals_mmm_optimize() {
    let w = world();
    let r = post(
        "/api/runs/fixture/optimize",
        &json!({ "horizon": 8, "budget": 5000.0 }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let studio = r.json()["plan"].clone();
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("optimize");
    decision(
        "optimize",
        &w.run("fixture"),
        &["--weeks", "8", "--budget", "5000"],
        &out,
    );
    let cli = read_json(&out.join("plan.json"));
    for key in [
        "optimized_spend",
        "current_spend",
        "optimized_lift",
        "prob_optimized_beats_current",
        "guardrails",
    ] {
        assert_eq!(studio[key], cli[key], "{key}");
    }
    // A bound from the request holds.
    let r = post(
        "/api/runs/fixture/optimize",
        &json!({ "horizon": 8, "budget": 5000.0, "unlimited": true,
                 "bounds": [{ "channel": "x1", "max": 1000.0 }] }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let x1 = r.json()["plan"]["optimized_spend"][0].as_f64().expect("x1");
    assert!(x1 <= 1000.0 + 1e-6, "{x1}");
    // An impossible request is refused with the binding constraint named.
    let r = post(
        "/api/runs/fixture/optimize",
        &json!({ "horizon": 8, "budget": 5000.0, "unlimited": true,
                 "bounds": [{ "channel": "x1", "max": 10.0 }, { "channel": "x2", "max": 10.0 }] }),
    );
    assert_eq!(r.status, 422, "{}", r.text());
}

#[test]
fn saving_a_plan_writes_the_record_of_mmm_scenario_record_into_the_plans_dir_only() {
    let w = world();
    let before = snapshot(&w.runs());
    let mut plan = plan_of("fixture", 6, &[1.1, 0.9]);
    plan["name"] = json!("q3");
    let r = post("/api/runs/fixture/plans", &plan);
    assert_eq!(r.status, 200, "{}", r.text());
    let saved = r.json();
    assert_eq!(saved["saved"], "fixture--q3/decision_record.json");
    let folder = w.plans().join("fixture--q3");
    let record = read_json(&folder.join("decision_record.json"));
    // The same record as `mmm scenario --record` on the same plan file.
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("scenario");
    let plans = folder.join("plan.csv");
    decision(
        "scenario",
        &w.run("fixture"),
        &["--plans", plans.to_str().expect("utf8"), "--record"],
        &out,
    );
    assert_eq!(record, read_json(&out.join("decision_record.json")));
    assert_eq!(record["plan_name"], "q3");
    assert_eq!(record["weeks"].as_array().map(Vec::len), Some(6));
    // Nothing changed under the runs directory.
    assert_eq!(before, snapshot(&w.runs()));
    // The same name again: 409; a name with a path in it: 400.
    assert_eq!(post("/api/runs/fixture/plans", &plan).status, 409);
    plan["name"] = json!("../x");
    assert_eq!(post("/api/runs/fixture/plans", &plan).status, 400);
    plan["name"] = json!("current");
    assert_eq!(post("/api/runs/fixture/plans", &plan).status, 400);
}

#[test]
fn compare_shows_what_mmm_compare_and_diff_say() {
    let r = get("/api/compare/fixture/fixture-b");
    assert_eq!(r.status, 200, "{}", r.text());
    let c = r.json();
    let refresh = &c["compare"]["refreshes"][0];
    assert_eq!(refresh["run_a"], "fixture");
    assert_eq!(refresh["run_b"], "fixture-b");
    assert_eq!(refresh["channels"].as_array().map(Vec::len), Some(2));
    assert!(c["spec_changes"].as_array().is_some_and(|s| {
        s.iter()
            .any(|x| x["key"].as_str().is_some_and(|k| k.contains("seed")))
    }));
    assert_eq!(c["data"]["rows_added"], 0);
}
