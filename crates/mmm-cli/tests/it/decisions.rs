//! Decisions through the binary: optimizer, scenarios, the decision-log round trip on held-back
//! weeks, and the report's optional sections.

use std::path::{Path, PathBuf};

use mmm_core::columns::{bool_column, f64_column};

use crate::{fixture, mmm_os, stderr};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

/// The fixture spec with 12 held-back weeks, a short sampler run and an x1 minimum.
fn holdout_spec(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml"))
        .expect("spec")
        .replace("weeks = 0", "weeks = 12")
        .replace("tune = 1000", "tune = 400")
        .replace("draws = 1000", "draws = 250")
        + "\n[decisions.optimizer]\nbounds = [{ channel = \"x1\", min = 1.0 }]\n";
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

/// Run `mmm` with `args`; it must exit with `expected`.
#[track_caller]
fn run_ok(args: &[&std::ffi::OsStr], expected: i32) -> std::process::Output {
    let out = mmm_os(args);
    crate::assert_exit(&out, expected);
    out
}

/// Data rows of the fixture's held-back weeks: (date, x1, x2).
fn holdout_rows() -> Vec<(String, f64, f64)> {
    let text = std::fs::read_to_string(fixture("pymc_example/data.csv")).expect("data");
    let rows: Vec<(String, f64, f64)> = text
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (
                f[0].to_string(),
                f[2].parse().expect("x1"),
                f[3].parse().expect("x2"),
            )
        })
        .collect();
    rows[rows.len() - 12..].to_vec()
}

#[test]
fn decision_log_round_trip_on_held_back_weeks_and_report_sections() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = holdout_spec(dir.path());
    let run = dir.path().join("run");
    let os = |s: &str| std::ffi::OsString::from(s);
    run_ok(
        &[
            &os("run"),
            &os("--quiet"),
            &os("--spec"),
            spec.as_os_str(),
            &os("--data"),
            fixture("pymc_example/data.csv").as_os_str(),
            &os("--out"),
            run.as_os_str(),
        ],
        3,
    );
    let frozen = run.join("spec.toml");
    let held = holdout_rows();
    let start = held[0].0.clone();

    // The plan actually executed in the held-back weeks, recorded as a scenario.
    let plans = dir.path().join("plans.csv");
    let mut csv = String::from("scenario,week,x1,x2\n");
    for (w, (_, x1, x2)) in held.iter().enumerate() {
        csv.push_str(&format!("actual,{},{x1},{x2}\n", w + 1));
    }
    std::fs::write(&plans, csv).expect("plans");
    let scen = dir.path().join("scenario");
    let (features, fit) = (run.join("features"), run.join("fit"));
    run_ok(
        &[
            &os("scenario"),
            &os("--spec"),
            frozen.as_os_str(),
            &os("--features"),
            features.as_os_str(),
            &os("--fit"),
            fit.as_os_str(),
            &os("--plans"),
            plans.as_os_str(),
            &os("--start"),
            &os(&start),
            &os("--record"),
            &os("--out"),
            scen.as_os_str(),
        ],
        0,
    );
    let comparison = json(&scen.join("comparison.json"));
    assert_eq!(comparison["scenarios"][0]["scenario"], "actual");
    let review_dir = dir.path().join("review");
    run_ok(
        &[
            &os("review"),
            &os("--record"),
            scen.join("decision_record.json").as_os_str(),
            &os("--actuals"),
            fixture("pymc_example/data.csv").as_os_str(),
            &os("--out"),
            review_dir.as_os_str(),
        ],
        0,
    );
    let review = json(&review_dir.join("review.json"));
    // The actual outcome of the held-back weeks, from the data file.
    let ppc_bytes = std::fs::read(run.join("diagnose/ppc.parquet")).expect("ppc");
    let ppc = mmm_core::read_parquet_bytes(ppc_bytes, Path::new("ppc.parquet")).expect("ppc");
    let is_train = bool_column(&ppc, "is_train", Path::new("ppc")).expect("col");
    let observed = f64_column(&ppc, "observed", Path::new("ppc")).expect("col");
    let pred_mean = f64_column(&ppc, "pred_mean", Path::new("ppc")).expect("col");
    let hold: Vec<usize> = (0..is_train.len()).filter(|&i| !is_train[i]).collect();
    let actual: f64 = hold.iter().map(|&i| observed[i]).sum();
    let ppc_mean: f64 = hold.iter().map(|&i| pred_mean[i]).sum();
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
    assert!(rel(review["actual_total"].as_f64().expect("actual"), actual) < 1e-9);
    // Replaying the executed plan reproduces the diagnose stage's holdout prediction (its mean
    // of predictive draws has Monte Carlo error ~ sigma sqrt(12 / draws)).
    assert!(
        rel(review["predicted_mean"].as_f64().expect("mean"), ppc_mean) < 0.01,
        "{} vs {ppc_mean}",
        review["predicted_mean"]
    );
    let (lo, hi) = (
        review["predicted_lower"].as_f64().expect("lo"),
        review["predicted_upper"].as_f64().expect("hi"),
    );
    assert_eq!(review["inside_interval"], (lo..=hi).contains(&actual));
    assert!(
        review["inside_interval"].as_bool().expect("bool"),
        "{review}"
    );

    // The optimizer's plan for the same weeks is recorded and reviewable too.
    let opt = run.join("optimize");
    run_ok(
        &[
            &os("optimize"),
            &os("--spec"),
            frozen.as_os_str(),
            &os("--features"),
            features.as_os_str(),
            &os("--fit"),
            fit.as_os_str(),
            &os("--start"),
            &os(&start),
            &os("--weeks"),
            &os("12"),
            &os("--record"),
            &os("--out"),
            opt.as_os_str(),
        ],
        0,
    );
    let plan = json(&opt.join("plan.json"));
    assert!(plan["optimized_spend"][0].as_f64().expect("x1") >= 1.0 - 1e-9);
    // No max_change in the spec: the default ±30% around the reference spend holds, except
    // where x1's own minimum replaces the band's floor.
    let g = &plan["guardrails"];
    assert_eq!(g["max_change"], 0.3, "{g}");
    assert_eq!(g["max_change_source"], "default_max_change");
    let sources = |c: usize| {
        let r = &g["ranges"][c];
        (r["lower_source"].clone(), r["upper_source"].clone())
    };
    assert_eq!(sources(0), ("bounds".into(), "default_max_change".into()));
    assert_eq!(
        sources(1),
        ("default_max_change".into(), "default_max_change".into())
    );
    assert_eq!(g["ranges"][0]["lower"], 1.0);
    for c in 0..2 {
        let (x, r) = (
            plan["optimized_spend"][c].as_f64().expect("x"),
            &g["ranges"][c],
        );
        let current = plan["current_spend"][c].as_f64().expect("current");
        let (lo, hi) = (
            r["lower"].as_f64().expect("lo"),
            r["upper"].as_f64().expect("hi"),
        );
        assert!((hi - 1.3 * current).abs() <= 1e-9 * current, "{r}");
        assert!(x >= lo - 1e-6 && x <= hi + 1e-6, "x{c} = {x} outside {r}");
    }
    assert!(
        (g["ranges"][1]["lower"].as_f64().expect("lo")
            - 0.7 * plan["current_spend"][1].as_f64().expect("c"))
        .abs()
            < 1e-9
    );
    assert!(
        plan["objective_optimized"].as_f64().expect("o")
            >= plan["objective_current"].as_f64().expect("c")
    );
    run_ok(
        &[
            &os("review"),
            &os("--record"),
            opt.join("decision_record.json").as_os_str(),
            &os("--actuals"),
            fixture("pymc_example/data.csv").as_os_str(),
            &os("--out"),
            dir.path().join("review2").as_os_str(),
        ],
        0,
    );

    // An infeasible request names the violated constraint and writes nothing.
    let bad = mmm_os([
        os("optimize"),
        os("--spec"),
        frozen.clone().into(),
        os("--features"),
        features.clone().into(),
        os("--fit"),
        fit.clone().into(),
        os("--budget"),
        os("0.5"),
        os("--out"),
        dir.path().join("bad").into(),
    ]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(stderr(&bad).contains("bounds[x1].min"), "{}", stderr(&bad));
    assert!(!dir.path().join("bad/manifest.json").exists());

    // The report shows the optimizer and curves, and the diagnostics sections only when present.
    without_diagnostics_keys(&run);
    let html = render_report(&run);
    assert!(
        html.contains("<b>Default guardrails:</b> each channel may move at most <b>±30%</b>"),
        "the default limits are named as such"
    );
    assert!(html.contains("<code>max_change = inf</code>"));
    assert!(
        html.contains("(bounds min; default ±30% max)"),
        "x1's allowed range"
    );
    for id in [
        "id=\"optimizer\"",
        "id=\"optimizer-guardrails\"",
        "id=\"curves\"",
        "id=\"roi-table\"",
        "id=\"components\"",
    ] {
        assert!(html.contains(id), "{id} missing");
    }
    for id in [
        "id=\"prior-posterior\"",
        "id=\"loo\"",
        "id=\"sign-stability\"",
        "id=\"coverage\"",
    ] {
        assert!(!html.contains(id), "{id} shown without its diagnostics key");
    }
    with_diagnostics_keys(&run);
    let html = render_report(&run);
    for id in [
        "id=\"prior-posterior\"",
        "id=\"loo\"",
        "id=\"sign-stability\"",
        "id=\"coverage\"",
        "id=\"metrics\"",
        "id=\"cross-validation\"",
    ] {
        assert!(html.contains(id), "{id} missing");
    }
    let failed = html
        .find("id=\"failed-gates\"")
        .expect("failed gates shown");
    assert!(failed < html.find("id=\"summary\"").expect("summary"));
    assert!(html.contains("NOT FOR DECISIONS"));
}

#[test]
fn max_change_inf_lifts_the_default_guardrails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.toml");
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml"))
        .expect("spec")
        .replace("tune = 1000", "tune = 400")
        .replace("draws = 1000", "draws = 250")
        + "\n[decisions.optimizer]\nmax_change = inf\n";
    std::fs::write(&spec, text).expect("write spec");
    let run = dir.path().join("run");
    let os = std::ffi::OsStr::new;
    run_ok(
        &[
            os("run"),
            os("--spec"),
            spec.as_os_str(),
            os("--data"),
            fixture("pymc_example/data.csv").as_os_str(),
            os("--no-refits"),
            os("--quiet"),
            os("--out"),
            run.as_os_str(),
        ],
        3,
    );
    crate::assert_optimize_runs_with(&run, &run.join("optimize"), &[], 0);
    let plan = json(&run.join("optimize/plan.json"));
    let g = &plan["guardrails"];
    assert!(g["max_change"].is_null(), "{g}");
    assert_eq!(g["max_change_source"], "none");
    for r in g["ranges"].as_array().expect("ranges") {
        assert_eq!(r["lower"], 0.0, "{r}");
        assert!(r["upper"].is_null(), "{r}");
        assert_eq!(
            (&r["lower_source"], &r["upper_source"]),
            (&"none".into(), &"none".into())
        );
    }
    assert_eq!(plan["binding_constraints"], serde_json::json!([]));
    // Unbounded, the fixture's optimum moves a channel by more than the default 30%.
    let moved = (0..2)
        .map(|c| {
            let x = plan["optimized_spend"][c].as_f64().expect("x");
            let cur = plan["current_spend"][c].as_f64().expect("current");
            (x - cur).abs() / cur
        })
        .fold(0.0, f64::max);
    assert!(moved > 0.3, "{plan}");
    let html = render_report(&run);
    assert!(
        html.contains("No per-channel change limit: the spec sets <code>decisions.optimizer.max_change = inf</code>"),
        "the report says the default is lifted"
    );
    assert!(!html.contains("Default guardrails"));
}

/// Add the diagnostics keys agreed with the diagnostics stage (hand-made values), fail a gate,
/// and re-seal the diagnose manifest so the report trusts the file.
/// Render RUN's report again and return its HTML.
fn render_report(run: &Path) -> String {
    let os = std::ffi::OsStr::new;
    run_ok(
        &[
            os("report"),
            os("--quiet"),
            os("--run"),
            run.as_os_str(),
            os("--force"),
        ],
        0,
    );
    std::fs::read_to_string(run.join("report/report.html")).expect("html")
}

/// Rewrite RUN/diagnose/diagnostics.json with `edit`, keeping its manifest hash valid.
fn rewrite_diagnostics(run: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = run.join("diagnose/diagnostics.json");
    let mut d = json(&path);
    edit(&mut d);
    let bytes = serde_json::to_vec_pretty(&d).expect("json");
    std::fs::write(&path, &bytes).expect("write");
    let mpath = run.join("diagnose/manifest.json");
    let mut m = json(&mpath);
    for o in m["outputs"].as_array_mut().expect("outputs") {
        if o["path"] == "diagnostics.json" {
            o["sha256"] = mmm_core::sha256_hex(&bytes).into();
        }
    }
    std::fs::write(&mpath, serde_json::to_vec_pretty(&m).expect("json")).expect("write");
    // Re-link decide to the re-sealed diagnose stage, as the report checks the whole chain.
    let sealed: mmm_core::Manifest = serde_json::from_value(m).expect("manifest");
    let dpath = run.join("decide/manifest.json");
    let mut decide = json(&dpath);
    for link in decide["upstream"].as_array_mut().expect("upstream") {
        if link["stage"] == "diagnose" {
            link["manifest_sha256"] = sealed.digest().into();
        }
    }
    std::fs::write(&dpath, serde_json::to_vec_pretty(&decide).expect("json")).expect("write");
}

/// Drop the optional diagnostics sections, as a run without those checks would have them.
pub fn without_diagnostics_keys(run: &Path) {
    rewrite_diagnostics(run, |d| {
        let obj = d.as_object_mut().expect("object");
        for key in [
            "predictive",
            "cross_validation",
            "prior_posterior",
            "sign_stability",
            "loo",
        ] {
            obj.remove(key);
        }
    });
}

pub fn with_diagnostics_keys(run: &Path) {
    rewrite_diagnostics(run, fill_diagnostics_keys);
}

fn fill_diagnostics_keys(d: &mut serde_json::Value) {
    d["passed"] = false.into();
    d["gates"][0]["passed"] = false.into();
    d["predictive"] = serde_json::json!({
        "coverage": [{"window": "train", "nominal": 0.8, "observed": 0.83}, {"window": "holdout", "nominal": 0.8, "observed": 0.75}],
        "metrics": [{"window": "holdout", "rmse": 410.0, "mape": 0.061, "smape": 0.06, "wape": 0.059, "r2": 0.71}]
    });
    d["cross_validation"] = serde_json::json!({"folds": 2, "rows": [
        {"fold": 1, "train_end_date": "2020-06-01", "test_weeks": 8, "rmse": 380.0, "mape": 0.05, "coverage_80": 0.875},
        {"fold": 2, "train_end_date": "2020-08-01", "test_weeks": 8, "rmse": 420.0, "mape": 0.07, "coverage_80": 0.75}],
        "summary": {"mean_mape": 0.06, "sd_mape": 0.014}});
    d["prior_posterior"] = serde_json::json!([{"parameter": "beta[x1]", "prior_mean": 1.6, "prior_sd": 1.2, "posterior_mean": 0.36, "posterior_sd": 0.05, "contraction": 0.998, "shift": 1.03, "prior_dominated": false}]);
    d["sign_stability"] = serde_json::json!({"replicates": 20, "block_length": 8, "rows": [{"coefficient": "beta[x1]", "expected_sign": "positive", "share_expected_sign": 1.0, "stable": true}]});
    d["loo"] = serde_json::json!({"elpd_loo": -1234.5, "se": 10.2, "p_loo": 12.1, "pareto_k_max": 0.41, "n_bad_k": 0, "elpd_waic": -1234.0, "waic_se": 10.1, "p_waic": 11.9});
}
