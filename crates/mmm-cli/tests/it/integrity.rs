//! The audit chain cannot be fooled and no artifact crashes a stage: tampered, mixed and
//! stale runs (docs/reliability.md lists each case with its test).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use crate::{copy_dir, decision_stage, fixture, mmm_os, mmm_run, spec_with, stderr};

/// One small fitted fixture run shared by the tests (each tampers with its own copy).
fn base_run() -> &'static Path {
    static BASE: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &BASE
        .get_or_init(|| {
            let dir = tempfile::tempdir().expect("tmp");
            let spec = spec_with(dir.path(), 150, 100, 11);
            let run = dir.path().join("run");
            let o = mmm_run(&spec, &fixture("pymc_example/data.csv"), &run);
            crate::assert_exit(&o, 3);
            (dir, run)
        })
        .1
}

/// A fresh copy of the base run under `dir`.
fn copy_of_base(dir: &Path, name: &str) -> PathBuf {
    let run = dir.join(name);
    copy_dir(base_run(), &run);
    run
}

/// `mmm COMMAND --spec SPEC` then `--FLAG RUN/FLAG` for each upstream stage, `--out OUT`,
/// and `extra` (a stage command run by hand on a run's directories).
fn stage_on(
    command: &str,
    spec: &Path,
    run: &Path,
    upstream: &[&str],
    out: &Path,
    extra: &[&str],
) -> Output {
    let mut args: Vec<std::ffi::OsString> = vec![command.into(), "--spec".into(), spec.into()];
    for stage in upstream {
        args.push(format!("--{stage}").into());
        args.push(run.join(stage).into());
    }
    args.extend(["--out".into(), out.into()]);
    args.extend(extra.iter().map(std::ffi::OsString::from));
    mmm_os(args)
}

fn inspect(run: &Path) -> Output {
    mmm_os(["inspect".as_ref(), run.as_os_str()])
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Exit `code`, and no panic anywhere in the output.
fn assert_exit(o: &Output, code: i32) {
    let err = stderr(o);
    assert_eq!(
        o.status.code(),
        Some(code),
        "stderr: {err}\nstdout: {}",
        stdout(o)
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// Recompute a stage's manifest entry for `file` after it was changed (the attacker's move).
fn rehash(stage_dir: &Path, file: &str) {
    let manifest_path = stage_dir.join("manifest.json");
    let mut m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).expect("manifest")).expect("json");
    let sha = sha256_of(&stage_dir.join(file));
    for o in m["outputs"].as_array_mut().expect("outputs") {
        if o["path"] == file {
            o["sha256"] = sha.clone().into();
        }
    }
    std::fs::write(&manifest_path, serde_json::to_vec_pretty(&m).expect("ser")).expect("write");
}

fn sha256_of(path: &Path) -> String {
    let o = std::process::Command::new("sha256sum")
        .arg(path)
        .output()
        .expect("sha256sum");
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .expect("hash")
        .to_string()
}

#[test]
fn the_base_run_verifies_and_links_every_stage() {
    let o = inspect(base_run());
    assert_exit(&o, 0);
    assert!(stdout(&o).contains("every output and input hash verified"));
    let o = mmm_os([
        "inspect".as_ref(),
        base_run().as_os_str(),
        "--json".as_ref(),
    ]);
    let l: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let stage = |name: &str| {
        l["stages"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["stage"] == name))
            .cloned()
            .expect(name)
    };
    let decide = stage("decide");
    let linked: Vec<&str> = decide["upstream"]
        .as_array()
        .expect("links")
        .iter()
        .filter(|u| u["linked"] == true)
        .filter_map(|u| u["stage"].as_str())
        .collect();
    assert_eq!(linked, ["features", "fit", "diagnose"]);
    assert_eq!(stage("fit")["options"]["seed"], 11);
    assert!(
        !base_run().join(".mmm.lock").exists(),
        "the run lock is released"
    );
}

#[test]
fn a_deleted_manifest_and_a_replaced_report_fail_inspect() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    std::fs::remove_file(run.join("report/manifest.json")).expect("rm");
    std::fs::write(
        run.join("report/report.html"),
        "<p>all channels pay off</p>",
    )
    .expect("w");
    let o = inspect(&run);
    assert_exit(&o, 4);
    assert!(
        stdout(&o).contains("report: no usable manifest"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn deleted_upstream_stages_fail_inspect() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    std::fs::remove_dir_all(run.join("validate")).expect("rm");
    std::fs::remove_dir_all(run.join("features")).expect("rm");
    let o = inspect(&run);
    assert_exit(&o, 4);
    let text = stdout(&o);
    assert!(text.contains("the run has no validate stage"), "{text}");
    assert!(text.contains("the run has no features stage"), "{text}");
    assert!(text.contains("was made from the features stage"), "{text}");
}

#[test]
fn a_corrupt_manifest_fails_inspect_with_exit_4() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    std::fs::write(run.join("fit/manifest.json"), "{ not json").expect("w");
    let o = inspect(&run);
    assert_exit(&o, 4);
    assert!(
        stdout(&o).contains("not a readable stage manifest"),
        "{}",
        stdout(&o)
    );
    // A file added to a stage is named too.
    let run = copy_of_base(dir.path(), "added");
    std::fs::write(run.join("decide/extra.parquet"), "x").expect("w");
    let o = inspect(&run);
    assert_exit(&o, 4);
    assert!(
        stdout(&o).contains("extra.parquet is not among"),
        "{}",
        stdout(&o)
    );
    // A run directory that does not exist is a gap too.
    assert_exit(&inspect(&dir.path().join("nothing")), 4);
}

/// The fixture data with the first week's target changed: another data set.
fn other_data(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/data.csv")).expect("data");
    let changed = text.replacen("3984.662237343649", "4100.0", 1);
    assert_ne!(changed, text);
    let path = dir.join("other.csv");
    std::fs::write(&path, changed).expect("w");
    path
}

#[test]
fn a_fit_copied_from_a_run_on_other_data_is_refused() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    let other = dir.path().join("other");
    let o = mmm_run(&run.join("spec.toml"), &other_data(dir.path()), &other);
    crate::assert_exit(&o, 3);
    std::fs::remove_dir_all(run.join("fit")).expect("rm");
    copy_dir(&other.join("fit"), &run.join("fit"));
    // Diagnose, decide and report each refuse it, naming both runs' stages.
    let diagnose = stage_on(
        "diagnose",
        &run.join("spec.toml"),
        &run,
        &["features", "fit"],
        &run.join("diagnose2"),
        &["--no-refits"],
    );
    assert_exit(&diagnose, 1);
    let err = stderr(&diagnose);
    assert!(err.contains("different runs"), "{err}");
    assert!(
        err.contains(&other.join("features").display().to_string()),
        "{err}"
    );
    assert!(
        !run.join("diagnose2").exists(),
        "a refused stage writes nothing"
    );
    let report = mmm_os([
        "report".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "--force".as_ref(),
    ]);
    assert_exit(&report, 1);
    assert_exit(
        &decision_stage("optimize", &run, &["--weeks", "4"], &dir.path().join("o")),
        1,
    );
    let o = inspect(&run);
    assert_exit(&o, 4);
    assert!(
        stdout(&o).contains("come from different runs"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn decide_with_another_spec_is_refused_naming_the_changed_keys() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    let spec = std::fs::read_to_string(run.join("spec.toml")).expect("spec");
    let other = dir.path().join("other.toml");
    std::fs::write(&other, spec.replacen("l_max = 8", "l_max = 3", 1)).expect("w");
    let o = stage_on(
        "decide",
        &other,
        &run,
        &["features", "fit", "diagnose"],
        &dir.path().join("decide"),
        &[],
    );
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(err.contains("l_max: 8 -> 3"), "{err}");
    assert!(err.contains("another spec"), "{err}");
    assert!(!dir.path().join("decide").exists());
}

fn plan_budget(out: &Path) -> f64 {
    let plan: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("plan.json")).expect("plan")).expect("j");
    plan["budget"].as_f64().expect("budget")
}

#[test]
fn an_option_change_is_never_fresh() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = base_run();
    let out = dir.path().join("optimize");
    let first = decision_stage("optimize", run, &["--budget", "100", "--weeks", "4"], &out);
    assert_exit(&first, 0);
    assert_eq!(plan_budget(&out), 100.0);
    let again = decision_stage("optimize", run, &["--budget", "100", "--weeks", "4"], &out);
    assert_exit(&again, 0);
    assert!(
        stderr(&again).contains("fresh, skipped"),
        "{}",
        stderr(&again)
    );
    for options in [
        ["--budget", "5000", "--weeks", "4"],
        ["--budget", "5000", "--weeks", "6"],
    ] {
        let o = decision_stage("optimize", run, &options, &out);
        assert_exit(&o, 0);
        assert!(stderr(&o).contains("wrote"), "{options:?}: {}", stderr(&o));
        assert_eq!(plan_budget(&out), 5000.0);
    }
    let o = decision_stage(
        "optimize",
        run,
        &["--budget", "5000", "--weeks", "6", "--record"],
        &out,
    );
    assert_exit(&o, 0);
    assert!(stderr(&o).contains("wrote"), "{}", stderr(&o));
    assert!(out.join("decision_record.json").is_file());
}

/// Corrupt the middle of a Parquet artifact (its footer stays readable).
fn corrupt(path: &Path) {
    let mut bytes = std::fs::read(path).expect("read");
    let n = bytes.len();
    for b in &mut bytes[n / 4..n / 2] {
        *b = 0xff;
    }
    std::fs::write(path, bytes).expect("write");
}

#[test]
fn a_corrupt_artifact_whose_manifest_was_rehashed_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    corrupt(&run.join("fit/draws.parquet"));
    rehash(&run.join("fit"), "draws.parquet");
    let o = stage_on(
        "diagnose",
        &run.join("spec.toml"),
        &run,
        &["features", "fit"],
        &run.join("diagnose"),
        &["--no-refits", "--force"],
    );
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("draws.parquet"), "{}", stderr(&o));
}

#[test]
fn corrupt_tables_given_to_previous_and_diff_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    let table = run.join("validate/table.parquet");
    corrupt(&table);
    let previous = dir.path().join("previous.parquet");
    std::fs::copy(&table, &previous).expect("copy");
    rehash(&run.join("validate"), "table.parquet");
    // mmm diff: decoding the corrupt (rehashed) table fails cleanly.
    let o = mmm_os(["diff".as_ref(), base_run().as_os_str(), run.as_os_str()]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("table.parquet"), "{}", stderr(&o));
    // --previous and --previous-run: unreadable input, exit 2.
    let spec = base_run().join("spec.toml");
    let data = fixture("pymc_example/data.csv");
    let o = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--previous".as_ref(),
        previous.as_os_str(),
        "--out".as_ref(),
        dir.path().join("v").as_os_str(),
    ]);
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("previous.parquet"), "{}", stderr(&o));
    let o = crate::mmm_run_with(
        &spec,
        &data,
        &dir.path().join("refresh"),
        &["--previous-run", run.to_str().expect("utf-8")],
    );
    assert_exit(&o, 2);
    assert!(stderr(&o).contains("table.parquet"), "{}", stderr(&o));
}

#[test]
fn links_planted_at_temp_names_are_never_followed() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, "keep me").expect("w");
    // The names the old writer used (`.NAME.PID.tmp`) for the next few process ids, and the
    // lock file's name.
    let report = run.join("report");
    let next_pid = std::process::id();
    for pid in next_pid..next_pid + 400 {
        for name in ["report.html", "model_card.md", "manifest.json"] {
            let link = report.join(format!(".{name}.{pid}.tmp"));
            std::os::unix::fs::symlink(&victim, link).expect("symlink");
        }
    }
    let o = mmm_os([
        "report".as_ref(),
        "--run".as_ref(),
        run.as_os_str(),
        "--force".as_ref(),
    ]);
    assert_exit(&o, 0);
    assert_eq!(std::fs::read_to_string(&victim).expect("victim"), "keep me");
    let leftovers = std::fs::read_dir(&report)
        .expect("dir")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count();
    assert_eq!(
        leftovers, 0,
        "stale temp names are cleared, the victim untouched"
    );
    assert_exit(&inspect(&run), 0);
}

#[test]
fn a_second_writer_is_refused_naming_the_holder() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    // Hold the run's lock as another process would (flock(1) takes the same flock(2) lock).
    let lock = run.join(".mmm.lock");
    std::fs::write(&lock, "pid 4242 (mmm run)").expect("w");
    let mut holder = std::process::Command::new("flock")
        .arg(&lock)
        .args(["sleep", "30"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("flock");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let o = mmm_run(
        &run.join("spec.toml"),
        &fixture("pymc_example/data.csv"),
        &run,
    );
    let _ = holder.kill();
    let _ = holder.wait();
    assert_exit(&o, 1);
    let err = stderr(&o);
    assert!(
        err.contains("locked by another writer (pid 4242 (mmm run))"),
        "{err}"
    );
}

#[test]
fn ctrl_c_after_the_fit_exits_130_and_leaves_nothing_half_written() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = spec_with(dir.path(), 150, 100, 11);
    // Refit checks make the diagnose stage long enough to interrupt.
    let text = std::fs::read_to_string(&spec).expect("spec").replace(
        "bootstrap_replicates = 0\ncv_folds = 0",
        "bootstrap_replicates = 400\ncv_folds = 0",
    );
    std::fs::write(&spec, text).expect("w");
    let run = dir.path().join("run");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_mmm"))
        .args(["run", "--quiet", "--spec"])
        .arg(&spec)
        .arg("--data")
        .arg(fixture("pymc_example/data.csv"))
        .arg("--out")
        .arg(&run)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mmm run");
    let started = std::time::Instant::now();
    while !run.join("fit/manifest.json").exists() {
        assert!(started.elapsed().as_secs() < 300, "the fit did not finish");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let kill = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let o = child.wait_with_output().expect("wait");
    assert_exit(&o, 130);
    assert!(
        !run.join("diagnose/manifest.json").exists(),
        "diagnose must not look finished"
    );
    for stage in ["diagnose", "fit", "features", "validate"] {
        let temps = std::fs::read_dir(run.join(stage))
            .map(|d| {
                d.flatten()
                    .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
                    .count()
            })
            .unwrap_or(0);
        assert_eq!(temps, 0, "{stage} holds temp or lock files");
    }
    assert!(
        !run.join(".mmm.lock").exists(),
        "the run's lock is released"
    );
}

#[test]
fn a_stale_diagnose_after_a_refit_is_refused_and_fails_inspect() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = copy_of_base(dir.path(), "run");
    let fit = stage_on(
        "fit",
        &run.join("spec.toml"),
        &run,
        &["features"],
        &run.join("fit"),
        &["--seed", "99", "--quiet"],
    );
    assert_exit(&fit, 0);
    // diagnose was made from the old fit: decide refuses the pair, inspect names the link.
    let o = stage_on(
        "decide",
        &run.join("spec.toml"),
        &run,
        &["features", "fit", "diagnose"],
        &run.join("decide"),
        &[],
    );
    assert_exit(&o, 1);
    assert!(
        stderr(&o).contains("was made from the fit stage"),
        "{}",
        stderr(&o)
    );
    let o = inspect(&run);
    assert_exit(&o, 4);
    assert!(
        stdout(&o).contains("diagnose: was made from the fit stage"),
        "{}",
        stdout(&o)
    );
}
