//! `mmm compare` weights and `mmm decide --ensemble` on data simulated from a known model:
//! the well-specified spec (fixtures/ensemble/right.toml) against one that leaves out the event
//! controls (no_events.toml). One seed here; the multi-seed study (weights and ROAS coverage)
//! is scripts/ensemble_study.py, its figures in docs/decisions.md.

use std::path::Path;

use crate::{assert_exit, fixture, mmm_os, mmm_run_with, mmm_simulate, stderr};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("json")
}

/// Simulated data (seed 7) with its truth, and the right and the misspecified fits.
fn simulate_and_fit(dir: &Path) {
    let o = mmm_simulate(
        &dir.join("sim"),
        &fixture("ensemble/right.toml"),
        &fixture("pymc_example/data.csv"),
        &fixture("recovery/truth_normal.toml"),
        Some("7"),
    );
    assert_exit(&o, 0);
    let data = dir.join("sim").join("data.csv");
    for (name, spec) in [
        ("right", "ensemble/right.toml"),
        ("wrong", "ensemble/no_events.toml"),
    ] {
        let o = mmm_run_with(&fixture(spec), &data, &dir.join(name), &["--no-refits"]);
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{name}: {}",
            stderr(&o)
        );
    }
}

fn decide_ensemble(out: &Path, runs: &[&Path]) -> std::process::Output {
    let mut args: Vec<&std::ffi::OsStr> = vec!["decide".as_ref(), "--ensemble".as_ref()];
    args.extend(runs.iter().map(|r| r.as_os_str()));
    args.extend(["--out".as_ref(), out.as_os_str()]);
    mmm_os(args)
}

#[test]
fn ensemble_of_a_right_and_a_misspecified_spec_weighs_the_right_one() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    simulate_and_fit(dir);
    let (right, wrong) = (dir.join("right"), dir.join("wrong"));

    // compare: the weights next to the LOO ranking, in the terminal and in compare.json.
    let cmp = dir.join("cmp");
    let o = mmm_os([
        "compare".as_ref(),
        wrong.as_os_str(),
        right.as_os_str(),
        "--out".as_ref(),
        cmp.as_os_str(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("model weights (stacking"), "{text}");
    let c = read_json(&cmp.join("compare.json"));
    let rows = c["ranking"].as_array().expect("ranking");
    assert_eq!(rows[0]["model"], "right", "{c}");
    let w: f64 = rows
        .iter()
        .map(|r| r["stacking_weight"].as_f64().expect("w"))
        .sum();
    assert!((w - 1.0).abs() < 1e-12);
    assert!(
        rows[0]["stacking_weight"].as_f64().expect("w") >= 0.9,
        "{c}"
    );
    assert!(
        c["weights_method"]
            .as_str()
            .expect("method")
            .contains("stacking")
    );

    // decide --ensemble into the right run: exit 0, weights stated, decisions written.
    let out = right.join("ensemble");
    let o = decide_ensemble(&out, &[&right, &wrong]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("stacking weight"), "{}", stderr(&o));
    let e = read_json(&out.join("ensemble.json"));
    let weight = e["runs"][0]["stacking_weight"].as_f64().expect("weight");
    assert!(weight >= 0.9, "weight on the right spec {weight}: {e}");
    let draws: u64 = e["runs"]
        .as_array()
        .expect("runs")
        .iter()
        .map(|r| r["draws"].as_u64().expect("n"))
        .sum();
    assert_eq!(draws, e["draws"].as_u64().expect("draws"));
    assert_eq!(e["draws"], 2000);
    let truth = read_json(&dir.join("sim").join("truth.json"));
    for ch in e["channels"].as_array().expect("channels") {
        let name = ch["channel"].as_str().expect("name");
        let (lo, hi) = (
            ch["roas_lower"].as_f64().expect("lo"),
            ch["roas_upper"].as_f64().expect("hi"),
        );
        let true_roas = truth["channels"][name]["roas"].as_f64().expect("truth");
        assert!(lo < hi && lo > 0.0, "{name}: [{lo}, {hi}]");
        eprintln!("{name}: true ROAS {true_roas}, ensemble HDI [{lo}, {hi}]");
    }
    for f in [
        "contributions.parquet",
        "roi.parquet",
        "curves.parquet",
        "allocation.parquet",
        "plan.json",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let plan = read_json(&out.join("plan.json"));
    assert!(
        plan["method"]
            .as_str()
            .expect("method")
            .contains("stacked mixture")
    );

    // Rerun: fresh, skipped, still exit 0; the report of the right run shows the ensemble.
    let o = decide_ensemble(&out, &[&right, &wrong]);
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("fresh, skipped"), "{}", stderr(&o));
    let o = mmm_os([
        "report".as_ref(),
        "--run".as_ref(),
        right.as_os_str(),
        "--force".as_ref(),
    ]);
    assert_exit(&o, 0);
    let html = std::fs::read_to_string(right.join("report").join("report.html")).expect("html");
    assert!(html.contains("id=\"ensemble\"") && html.contains("id=\"ensemble-roas\""));
    assert!(html.contains("id=\"ensemble-plan\""));
    let card = std::fs::read_to_string(right.join("report").join("model_card.md")).expect("card");
    assert!(card.contains("LOO stacking weights"), "{card}");
    let o = mmm_os(["inspect".as_ref(), right.as_os_str()]);
    assert_exit(&o, 0);
}

#[test]
fn ensemble_of_runs_with_other_channels_or_one_run_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    // A spec with x1 only, fitted on the same data.
    let text = std::fs::read_to_string(fixture("ensemble/right.toml")).expect("spec");
    let start = text.find("[[channels]]\nname = \"x2\"").expect("x2 block");
    let end = start + text[start..].find("\n\n").expect("end of block") + 2;
    let one_channel = dir.join("x1_only.toml");
    std::fs::write(&one_channel, format!("{}{}", &text[..start], &text[end..])).expect("write");
    let data = fixture("pymc_example/data.csv");
    for (name, spec) in [
        ("both", fixture("ensemble/right.toml")),
        ("x1", one_channel),
    ] {
        let o = mmm_run_with(&spec, &data, &dir.join(name), &["--no-refits"]);
        assert!(
            matches!(o.status.code(), Some(0 | 3)),
            "{name}: {}",
            stderr(&o)
        );
    }
    let out = dir.join("ens");
    let o = decide_ensemble(&out, &[&dir.join("both"), &dir.join("x1")]);
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("channels [x1] differ from [x1, x2]"), "{err}");
    assert!(!out.join("manifest.json").exists());

    // One run is a usage error (clap: at least two values).
    let o = decide_ensemble(&out, &[&dir.join("both")]);
    assert_exit(&o, 1);
    // --ensemble with --spec is refused.
    let o = mmm_os([
        "decide".as_ref(),
        "--ensemble".as_ref(),
        dir.join("both").as_os_str(),
        dir.join("x1").as_os_str(),
        "--spec".as_ref(),
        fixture("ensemble/right.toml").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_exit(&o, 1);
}
