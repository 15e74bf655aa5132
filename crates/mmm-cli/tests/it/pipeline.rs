//! The whole pipeline through the `mmm` binary: artifacts, reproducibility, integrity, recovery.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use mmm_core::columns::{f64_column, string_column};

use crate::{assert_exit, fixture, mmm_os, spec_with, stderr};

fn run_pipeline(spec: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--spec".into(),
        spec.into(),
        "--data".into(),
        fixture("pymc_example/data.csv").into(),
        "--out".into(),
        out.into(),
    ];
    args.extend(extra.iter().map(|s| s.into()));
    mmm_os(args)
}

/// The model was fitted: exit 0, or 3 when a gate failed (short test runs may not converge).
fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&read(path)).expect("json")
}

const STAGES: [&str; 6] = [
    "validate", "features", "fit", "diagnose", "decide", "report",
];

#[test]
fn fixture_fit_converges_and_covers_the_true_values() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let out = run_pipeline(&fixture("pymc_example/spec.toml"), &run, &["--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    // Every manifest's output hashes match the files.
    for stage in STAGES {
        let m = json(&run.join(stage).join("manifest.json"));
        for o in m["outputs"].as_array().expect("outputs") {
            let path = run.join(stage).join(o["path"].as_str().expect("path"));
            assert_eq!(
                mmm_core::sha256_hex(&read(&path)),
                o["sha256"].as_str().expect("sha"),
                "{}",
                path.display()
            );
        }
    }

    let diag = json(&run.join("diagnose/diagnostics.json"));
    assert!(
        diag["max_rhat"].as_f64().expect("rhat") <= 1.01,
        "{}",
        diag["max_rhat"]
    );
    assert!(
        diag["min_ess_bulk"].as_f64().expect("ess") >= 400.0,
        "{}",
        diag["min_ess_bulk"]
    );
    assert_eq!(diag["sampler"]["divergences"], 0);

    // True values from the data's generating process (shared/data/README.md).
    let roi_path = run.join("decide/roi.parquet");
    let roi = mmm_core::read_parquet_bytes(read(&roi_path), &roi_path).expect("roi");
    let ch = string_column(&roi, "channel", &roi_path).expect("channel");
    let metric = string_column(&roi, "metric", &roi_path).expect("metric");
    let lo = f64_column(&roi, "lower", &roi_path).expect("lower");
    let hi = f64_column(&roi, "upper", &roi_path).expect("upper");
    for (channel, m, truth) in [
        ("x1", "share", 0.807),
        ("x1", "roas", 4968.0),
        ("x2", "roas", 2275.0),
    ] {
        let i = (0..ch.len())
            .find(|&i| ch[i] == channel && metric[i] == m)
            .expect("row");
        assert!(
            lo[i] <= truth && truth <= hi[i],
            "{channel} {m}: truth {truth} outside [{}, {}]",
            lo[i],
            hi[i]
        );
    }

    let html = String::from_utf8(read(&run.join("report/report.html"))).expect("utf8");
    for needle in [
        "All diagnostic gates passed",
        "<svg",
        "Fit vs actual",
        "Contributions over time",
        "roas-table",
        "x1",
        "x2",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    // Self-contained: nothing is fetched from the network.
    for bad in [
        "<script src",
        "<link ",
        "src=\"http",
        "href=\"http",
        "@import",
    ] {
        assert!(
            !html.contains(bad),
            "report references an external resource: {bad}"
        );
    }
}

#[test]
fn same_seed_gives_identical_bytes_and_another_seed_changes_draws() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 150, 100, 7);
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    for run in [&a, &b] {
        let out = run_pipeline(&spec, run, &["--quiet"]);
        assert_exit(&out, 3);
    }
    // Thread count must not matter either.
    let out = run_pipeline(&spec, &c, &["--quiet", "--threads", "1"]);
    assert_exit(&out, 3);
    for file in [
        "fit/draws.parquet",
        "fit/sample_stats.parquet",
        "decide/contributions.parquet",
        "decide/roi.parquet",
        "decide/curves.parquet",
        "diagnose/ppc.parquet",
        "diagnose/prior_predictive.parquet",
    ] {
        assert_eq!(
            read(&a.join(file)),
            read(&b.join(file)),
            "{file} differs between identical runs"
        );
        assert_eq!(
            read(&a.join(file)),
            read(&c.join(file)),
            "{file} depends on the thread count"
        );
    }
    let d = dir.path().join("d");
    let out = run_pipeline(&spec, &d, &["--quiet", "--seed", "8"]);
    assert_exit(&out, 3);
    assert_ne!(
        read(&a.join("fit/draws.parquet")),
        read(&d.join("fit/draws.parquet"))
    );
    assert_eq!(json(&d.join("fit/manifest.json"))["seed"], 8);
}

fn stage(args: &[&Path]) -> std::process::Output {
    mmm_os(args.iter().map(|p| p.as_os_str()))
}

#[test]
fn stages_run_alone_skip_when_fresh_and_refuse_tampered_inputs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 100, 100, 3);
    let run = dir.path().join("run");
    let p = |s: &str| run.join(s);
    let data = fixture("pymc_example/data.csv");
    let a = |s: &'static str| Path::new(s);
    let steps: Vec<Vec<&Path>> = vec![
        vec![
            a("validate"),
            a("--spec"),
            &spec,
            a("--data"),
            &data,
            a("--out"),
        ],
        vec![a("features"), a("--spec"), &spec, a("--validate")],
        vec![a("fit"), a("--spec"), &spec, a("--features")],
    ];
    let (v, f, fit, dg, dc) = (
        p("validate"),
        p("features"),
        p("fit"),
        p("diagnose"),
        p("decide"),
    );
    let outs: [Vec<&Path>; 3] = [
        vec![&v],
        vec![&v, a("--out"), &f],
        vec![&f, a("--out"), &fit],
    ];
    for (step, tail) in steps.iter().zip(outs.iter()) {
        let mut args = step.clone();
        args.extend(tail.iter().copied());
        let out = stage(&args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    let out = stage(&[
        a("diagnose"),
        a("--spec"),
        &spec,
        a("--features"),
        &f,
        a("--fit"),
        &fit,
        a("--out"),
        &dg,
    ]);
    assert_exit(&out, 3);
    let out = stage(&[
        a("decide"),
        a("--spec"),
        &spec,
        a("--features"),
        &f,
        a("--fit"),
        &fit,
        a("--diagnose"),
        &dg,
        a("--out"),
        &dc,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Fresh: a rerun skips and leaves the manifest untouched; --force redoes it.
    let refit = [
        a("fit"),
        a("--spec"),
        &spec,
        a("--features"),
        &f,
        a("--out"),
        &fit,
        a("--force"),
    ];
    let before = read(&fit.join("manifest.json"));
    let out = stage(&[
        a("fit"),
        a("--spec"),
        &spec,
        a("--features"),
        &f,
        a("--out"),
        &fit,
    ]);
    assert!(
        out.status.success() && stderr(&out).contains("fresh, skipped"),
        "{}",
        stderr(&out)
    );
    assert_eq!(before, read(&fit.join("manifest.json")));
    let out = stage(&refit);
    assert!(
        out.status.success() && stderr(&out).contains("wrote"),
        "{}",
        stderr(&out)
    );

    // One byte changed in an upstream artifact: refused, naming the file.
    let design = f.join("design.parquet");
    let mut bytes = read(&design);
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&design, bytes).expect("write");
    let out = stage(&refit);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("design.parquet") && err.contains("sha256 mismatch"),
        "{err}"
    );
}

/// A finished quick run (for its features stage) and a spec whose fit takes minutes.
fn quick_run_and_slow_spec(dir: &Path, tune: u64) -> (std::path::PathBuf, std::path::PathBuf) {
    let quick = spec_with(dir, 50, 50, 1);
    let run = dir.join("run");
    let out = run_pipeline(&quick, &run, &["--quiet"]);
    assert_exit(&out, 3);
    let slow_dir = dir.join("slow");
    std::fs::create_dir_all(&slow_dir).expect("mkdir");
    let slow = spec_with(&slow_dir, tune, 200_000, 1);
    // A stage only chains with upstream stages made from its own spec: validate and features
    // are redone with the slow spec (the quick fit stays, to be redone by the tests).
    let o = crate::validate_and_features(&slow, &fixture("pymc_example/data.csv"), None, &run);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    (run, slow)
}

/// Start `mmm fit --force`, let it sample, then stop it with `signal` (`-KILL` or `-INT`).
fn interrupt_fit(spec: &Path, features: &Path, out: &Path, signal: &str) -> std::process::Output {
    let child = Command::new(env!("CARGO_BIN_EXE_mmm"))
        .args(["fit", "--quiet", "--force", "--spec"])
        .arg(spec)
        .arg("--features")
        .arg(features)
        .arg("--out")
        .arg(out)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(1500));
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    child.wait_with_output().expect("wait")
}

/// `mmm diagnose` on a fit directory; must be refused with `needle` in the error.
fn assert_diagnose_refuses(spec: &Path, run: &Path, fit: &Path, needle: &str) {
    let out = mmm_os([
        "diagnose".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--features".as_ref(),
        run.join("features").as_os_str(),
        "--fit".as_ref(),
        fit.as_os_str(),
        "--out".as_ref(),
        run.join("diag_of_interrupted").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(needle), "{}", stderr(&out));
}

#[test]
fn an_interrupted_stage_leaves_no_file_under_a_final_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, slow) = quick_run_and_slow_spec(dir.path(), 1000);
    // A long fit into a fresh directory, killed midway.
    let fit = dir.path().join("fit_killed");
    interrupt_fit(&slow, &run.join("features"), &fit, "-KILL");
    for name in ["draws.parquet", "sample_stats.parquet", "manifest.json"] {
        assert!(
            !fit.join(name).exists(),
            "{name} exists after an interrupted fit"
        );
    }
    assert_diagnose_refuses(&slow, &run, &fit, "manifest");

    // Redoing a finished stage removes its manifest first, so a kill midway cannot leave
    // old outputs vouched for by a manifest of the new run.
    interrupt_fit(&slow, &run.join("features"), &run.join("fit"), "-KILL");
    assert!(!run.join("fit/manifest.json").exists());
}

#[test]
fn ctrl_c_keeps_finished_draws_and_marks_the_fit_incomplete() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (run, slow) = quick_run_and_slow_spec(dir.path(), 200);
    let fit = dir.path().join("fit_interrupted");
    let output = interrupt_fit(&slow, &run.join("features"), &fit, "-INT");
    assert_eq!(
        output.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("interrupted: the finished draws are in"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(json(&fit.join("manifest.json"))["status"], "incomplete");
    let draws_path = fit.join("draws.parquet");
    let draws = mmm_core::read_parquet_bytes(read(&draws_path), &draws_path).expect("draws");
    assert!(
        draws.num_rows() > 0 && draws.num_rows() < 4 * 200_000,
        "{} rows",
        draws.num_rows()
    );
    assert_diagnose_refuses(&slow, &run, &fit, "did not complete");
}

#[test]
fn holdout_cannot_leak_and_a_failed_gate_marks_results_not_for_decisions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 150, 100, 5);
    let text = std::fs::read_to_string(&spec).expect("spec");
    let text = text
        .replace("[holdout]\nweeks = 0", "[holdout]\nweeks = 20")
        .replace(
            "max_divergences = 0",
            "max_divergences = 0\nmax_holdout_mape = 0.001",
        );
    std::fs::write(&spec, text).expect("write");

    // Same data except the holdout's target, doubled.
    let original = std::fs::read_to_string(fixture("pymc_example/data.csv")).expect("data");
    let lines: Vec<&str> = original.lines().collect();
    let n = lines.len() - 1;
    let changed: Vec<String> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i > n - 20 {
                let mut cells: Vec<String> = l.split(',').map(str::to_string).collect();
                let y: f64 = cells[1].parse().expect("y");
                cells[1] = format!("{}", 2.0 * y);
                cells.join(",")
            } else {
                l.to_string()
            }
        })
        .collect();
    let changed_path = dir.path().join("holdout_changed.csv");
    std::fs::write(&changed_path, changed.join("\n") + "\n").expect("write");

    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let out_a = run_pipeline(&spec, &a, &["--quiet"]);
    let mut args: Vec<std::ffi::OsString> = vec![
        "run".into(),
        "--quiet".into(),
        "--spec".into(),
        spec.clone().into(),
    ];
    args.extend([
        "--data".into(),
        changed_path.into(),
        "--out".into(),
        b.clone().into(),
    ]);
    let out_b = mmm_os(args);
    // The holdout MAPE gate (0.001%) cannot pass: exit code 3, results marked.
    assert_eq!(out_a.status.code(), Some(3), "{}", stderr(&out_a));
    assert_eq!(out_b.status.code(), Some(3), "{}", stderr(&out_b));
    let diag = json(&a.join("diagnose/diagnostics.json"));
    assert_eq!(diag["not_for_decisions"], true);
    assert_eq!(diag["holdout"]["periods"], 20);
    // Coverage at 50/80/95% on both windows; the leakage gate holds (scales from training only).
    let coverage = diag["predictive"]["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), 6);
    assert!(
        coverage[3..]
            .iter()
            .all(|c| c["window"] == "holdout" && c["periods"] == 20)
    );
    assert!(
        diag["gates"]
            .as_array()
            .expect("gates")
            .iter()
            .any(|g| g["name"] == "holdout_leakage" && g["passed"] == true)
    );
    assert!(
        diag["gates"]
            .as_array()
            .expect("gates")
            .iter()
            .any(|g| g["name"] == "max_holdout_mape" && g["passed"] == false)
    );
    assert_eq!(
        json(&a.join("decide/manifest.json"))["settings"]["not_for_decisions"],
        true
    );
    let html = String::from_utf8(read(&a.join("report/report.html"))).expect("utf8");
    assert!(html.contains("NOT FOR DECISIONS"));

    // Leakage-safe by construction: scaling and the fit see the training window only.
    assert_eq!(
        read(&a.join("features/scales.json")),
        read(&b.join("features/scales.json"))
    );
    assert_eq!(
        read(&a.join("fit/draws.parquet")),
        read(&b.join("fit/draws.parquet"))
    );
    let diag_b = json(&b.join("diagnose/diagnostics.json"));
    assert_eq!(diag["train"], diag_b["train"]);
    assert_ne!(diag["holdout"], diag_b["holdout"]);
}

#[test]
fn chains_can_start_from_prior_draws_or_a_given_point() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 300, 200, 9);
    let uniform = dir.path().join("uniform");
    let out = run_pipeline(&spec, &uniform, &["--quiet"]);
    assert_exit(&out, 3);
    let text = std::fs::read_to_string(&spec).expect("spec").replace(
        "mass_matrix = \"diag\"",
        "mass_matrix = \"diag\"\ninit = \"prior\"",
    );
    std::fs::write(&spec, text).expect("write");
    let prior = dir.path().join("prior");
    let out = run_pipeline(&spec, &prior, &["--quiet"]);
    assert_exit(&out, 3);
    assert_ne!(
        read(&uniform.join("fit/draws.parquet")),
        read(&prior.join("fit/draws.parquet"))
    );
    // Both starts reach the same posterior: the x1 ROAS means agree within a few percent.
    let roas = |run: &Path| {
        let path = run.join("decide/roi.parquet");
        let roi = mmm_core::read_parquet_bytes(read(&path), &path).expect("roi");
        let ch = string_column(&roi, "channel", &path).expect("channel");
        let metric = string_column(&roi, "metric", &path).expect("metric");
        let mean = f64_column(&roi, "mean", &path).expect("mean");
        (0..ch.len())
            .find(|&i| ch[i] == "x1" && metric[i] == "roas")
            .map(|i| mean[i])
            .expect("row")
    };
    let (a, b) = (roas(&uniform), roas(&prior));
    assert!((a - b).abs() / a < 0.05, "{a} vs {b}");

    // A given start (named values; the others from a seeded prior draw) reaches it too.
    let base = std::fs::read_to_string(&spec).expect("spec");
    let with_point = |extra: &str| {
        let text = base.replace(
            "init = \"prior\"",
            &format!("init = \"point\"\ninit_point = {{ {extra} }}"),
        );
        std::fs::write(&spec, text).expect("write");
    };
    with_point("\"beta[x1]\" = 0.4, \"adstock_alpha[x2]\" = 0.2, intercept = 0.3");
    let point = dir.path().join("point");
    let out = run_pipeline(&spec, &point, &["--quiet"]);
    assert_exit(&out, 3);
    let c = roas(&point);
    assert!((a - c).abs() / a < 0.05, "{a} vs {c}");
    // Unknown names and values outside a parameter's support are refused by name.
    with_point("\"beta[tv]\" = 0.4");
    let out = run_pipeline(&spec, &dir.path().join("bad_name"), &["--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no parameter named \"beta[tv]\""),
        "{}",
        stderr(&out)
    );
    with_point("\"adstock_alpha[x1]\" = 1.5");
    let out = run_pipeline(&spec, &dir.path().join("bad_value"), &["--quiet"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("adstock_alpha[x1] = 1.5 is outside the parameter's support"),
        "{}",
        stderr(&out)
    );
}

/// Every file of a run directory except the manifests (which hold wall-clock times), by path.
fn artifacts(run: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut out = std::collections::BTreeMap::new();
    for stage in STAGES {
        for entry in std::fs::read_dir(run.join(stage))
            .expect("stage dir")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().to_string();
            if name != "manifest.json" {
                out.insert(format!("{stage}/{name}"), read(&entry.path()));
            }
        }
    }
    out
}

/// Every artifact of `other` is byte-identical to `clean`'s, and every manifest lists the same
/// outputs with the same hashes.
fn assert_same_artifacts(clean: &Path, other: &Path) {
    let (a, b) = (artifacts(clean), artifacts(other));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same files"
    );
    for (name, bytes) in &a {
        assert!(
            bytes == &b[name],
            "{name} differs from the uninterrupted run"
        );
    }
    for stage in STAGES {
        let outputs = |run: &Path| json(&run.join(stage).join("manifest.json"))["outputs"].clone();
        assert_eq!(outputs(clean), outputs(other), "{stage} manifest outputs");
    }
}

#[test]
fn a_run_killed_in_several_stages_and_rerun_ends_byte_identical_to_an_uninterrupted_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 300, 300, 5);
    let (clean, resumed) = (dir.path().join("clean"), dir.path().join("resumed"));
    assert_exit(&run_pipeline(&spec, &clean, &["--quiet", "--no-refits"]), 0);
    // As an orchestrator retrying a failed task: the same command, killed (SIGKILL) at growing
    // delays so that different stages die midway, then run to completion.
    for delay_ms in [10, 40, 80, 150, 250, 400] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_mmm"))
            .arg("run")
            .arg("--spec")
            .arg(&spec)
            .arg("--data")
            .arg(fixture("pymc_example/data.csv"))
            .arg("--out")
            .arg(&resumed)
            .args(["--quiet", "--no-refits"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_exit(
        &run_pipeline(&spec, &resumed, &["--quiet", "--no-refits"]),
        0,
    );
    assert_same_artifacts(&clean, &resumed);
}

/// One task of examples/orchestration/stage.sh, as the Airflow DAG and Argo Workflow run it,
/// in its own process group so that a kill takes the task's `mmm` child down with it (as a
/// lost pod or a killed worker does).
fn stage_task(run: &Path, spec: &Path, stage: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut c = Command::new("bash");
    c.arg(crate::repo().join("examples/orchestration/stage.sh"))
        .arg(stage)
        .env("RUN", run)
        .env("SPEC", spec)
        .env("DATA", fixture("pymc_example/data.csv"))
        .env("MMM", env!("CARGO_BIN_EXE_mmm"))
        .env("NO_REFITS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    c
}

const TASKS: [&str; 8] = [
    "prepare", "validate", "features", "fit", "diagnose", "decide", "report", "gate",
];

/// Run the chain of tasks; the gate task may fail with 3 (short runs may miss a gate).
fn run_chain(run: &Path, spec: &Path) -> Option<i32> {
    let mut gate = None;
    for stage in TASKS {
        let out = stage_task(run, spec, stage).output().expect("bash starts");
        if stage == "gate" {
            gate = out.status.code();
            assert_exit(&out, 0);
        } else {
            assert!(out.status.success(), "{stage}: {}", stderr(&out));
        }
    }
    gate
}

#[test]
fn a_chain_of_stage_tasks_killed_midway_and_retried_ends_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Long enough sampling that a kill 80 ms in lands in the middle of the fit.
    let spec = spec_with(dir.path(), 2000, 2000, 5);
    let (clean, retried) = (dir.path().join("clean"), dir.path().join("retried"));
    let clean_gate = run_chain(&clean, &spec);

    let mut killed_midway = Vec::new();
    for stage in TASKS {
        // First attempt: killed (SIGKILL to the task's process group) after a delay; the
        // orchestrator's retry then runs the same task again.
        let delay = if matches!(stage, "fit" | "diagnose") {
            80
        } else {
            5
        };
        let mut child = stage_task(&retried, &spec, stage).spawn().expect("spawn");
        std::thread::sleep(Duration::from_millis(delay));
        let finished = child.try_wait().expect("try_wait").is_some();
        let _ = Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{}", child.id())])
            .status();
        let _ = child.wait();
        let manifest = retried.join(stage).join("manifest.json");
        if !finished && !manifest.exists() && STAGES.contains(&stage) {
            killed_midway.push(stage);
        }
        let retry = stage_task(&retried, &spec, stage).output().expect("retry");
        if stage == "gate" {
            assert_eq!(retry.status.code(), clean_gate, "{}", stderr(&retry));
        } else {
            assert!(retry.status.success(), "{stage} retry: {}", stderr(&retry));
        }
    }
    assert!(
        killed_midway.contains(&"fit"),
        "the fit task must have been killed before it finished: {killed_midway:?}"
    );
    assert_same_artifacts(&clean, &retried);
}
