//! End-to-end tests of the `mmm` binary (one test binary for the crate).

mod batch;
mod bounds;
mod calendar;
mod calibration;
mod checks;
mod contracts;
mod decisions;
mod defaults;
mod ensemble;
mod experiments;
mod export;
mod geo;
mod geo_report;
mod ingest;
mod init;
mod integrity;
mod likelihoods;
mod mediators;
mod pipeline;
mod simulate;
mod spec;
#[cfg(feature = "s3")]
mod storage;
mod transforms;
#[cfg(not(feature = "s3"))]
mod without_s3;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Path of a fixture file.
pub fn fixture(rel: &str) -> PathBuf {
    repo().join("fixtures").join(rel)
}

/// Run `mmm` with arguments.
pub fn mmm(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmm"))
        .args(args)
        .output()
        .expect("mmm starts")
}

/// Run `mmm` with path arguments.
pub fn mmm_os<I: IntoIterator<Item = S>, S: AsRef<std::ffi::OsStr>>(args: I) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mmm"))
        .args(args)
        .output()
        .expect("mmm starts")
}

/// Copy a directory tree (a run, to tamper with).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Stderr as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `mmm run --spec SPEC --data DATA --out RUN --quiet`.
pub fn mmm_run(spec: &Path, data: &Path, run: &Path) -> Output {
    mmm_run_with(spec, data, run, &[])
}

/// `mmm run --spec SPEC --data DATA --out RUN --quiet EXTRA...`.
pub fn mmm_run_with(spec: &Path, data: &Path, run: &Path, extra: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "run".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        run.as_os_str(),
        "--quiet".as_ref(),
    ];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    mmm_os(args)
}

/// The run exited with exactly `expected`: 0 when every stage ran and every gate passed, 3 when
/// every stage ran but a diagnostic gate failed (results marked "not for decisions"; the short
/// test fits miss the ESS gate), 1 or 2 for refused input. Seeds are fixed, so the code is too.
#[track_caller]
pub fn assert_exit(o: &Output, expected: i32) {
    assert_eq!(
        o.status.code(),
        Some(expected),
        "expected exit {expected}; stderr:\n{}",
        stderr(o)
    );
}

/// `mmm simulate --spec SPEC --data DATA --truth TRUTH --out OUT [--seed SEED] --quiet`.
pub fn mmm_simulate(
    out: &Path,
    spec: &Path,
    data: &Path,
    truth: &Path,
    seed: Option<&str>,
) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "simulate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--truth".as_ref(),
        truth.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
        "--quiet".as_ref(),
    ];
    if let Some(seed) = seed {
        args.push("--seed".as_ref());
        args.push(seed.as_ref());
    }
    mmm_os(args)
}

/// The fixture spec with sampler settings replaced (smaller runs for fast tests).
pub fn spec_with(dir: &Path, tune: u64, draws: u64, seed: u64) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml")).expect("spec");
    let text = text
        .replace("tune = 1000", &format!("tune = {tune}"))
        .replace("draws = 1000", &format!("draws = {draws}"))
        .replace("seed = 42", &format!("seed = {seed}"))
        // Refit checks off in quick runs; tests/it/checks.rs turns them on.
        + "\n[diagnose]\nbootstrap_replicates = 0\ncv_folds = 0\n";
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

/// `mmm optimize` over 8 weeks on a finished run exits with `expected` (0, or 3 when the run
/// failed a gate) and writes its allocation into `out`.
#[track_caller]
pub fn assert_optimize_runs(run: &Path, out: &Path, expected: i32) {
    assert_optimize_runs_with(run, out, &["--weeks", "8"], expected);
}

/// `mmm optimize` with `options` on a finished run exits with `expected` (0, or 3 when the run
/// failed a gate) and writes its allocation into `out`.
#[track_caller]
pub fn assert_optimize_runs_with(run: &Path, out: &Path, options: &[&str], expected: i32) {
    let o = decision_stage("optimize", run, options, out);
    assert_exit(&o, expected);
    assert!(out.join("allocation.parquet").exists());
}

/// `mmm COMMAND --spec RUN/spec.toml --features RUN/features --fit RUN/fit OPTIONS... --out OUT`
/// (a decision stage on a finished run).
pub fn decision_stage(command: &str, run: &Path, options: &[&str], out: &Path) -> Output {
    let mut args: Vec<std::ffi::OsString> = vec![command.into()];
    for (flag, dir) in [
        ("--spec", "spec.toml"),
        ("--features", "features"),
        ("--fit", "fit"),
    ] {
        args.push(flag.into());
        args.push(run.join(dir).into());
    }
    args.extend(options.iter().map(std::ffi::OsString::from));
    args.push("--out".into());
    args.push(out.into());
    mmm_os(args)
}

/// `mmm validate` (with an optional calendar) then `mmm features` into `run`.
pub fn validate_and_features(
    spec: &Path,
    data: &Path,
    calendar: Option<&Path>,
    run: &Path,
) -> std::process::Output {
    let (v, f) = (run.join("validate"), run.join("features"));
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "validate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        v.as_os_str(),
    ];
    if let Some(c) = calendar {
        args.extend(["--calendar".as_ref(), c.as_os_str()]);
    }
    let o = mmm_os(args.iter().copied().chain(["--quiet".as_ref()]));
    if o.status.code() != Some(0) {
        return o;
    }
    mmm_os([
        "features".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--validate".as_ref(),
        v.as_os_str(),
        "--out".as_ref(),
        f.as_os_str(),
        "--quiet".as_ref(),
    ] as [&std::ffi::OsStr; 8])
}

/// Column `name` of a plain CSV file (no quoting), as numbers.
pub fn csv_column(path: &Path, name: &str) -> Vec<f64> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split(',').collect();
    let j = header.iter().position(|h| *h == name).expect("column");
    lines
        .map(|l| l.split(',').nth(j).expect("cell").parse().expect("number"))
        .collect()
}

/// |posterior mean - truth| in posterior sds, with the mean and sd of `draws`.
pub fn posterior_z(draws: &[f64], truth: f64) -> (f64, f64, f64) {
    let n = draws.len() as f64;
    let mean = draws.iter().sum::<f64>() / n;
    let sd = (draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    ((mean - truth).abs() / sd, mean, sd)
}

/// A Parquet file's rows.
pub fn parquet(path: &Path) -> arrow::array::RecordBatch {
    mmm_core::read_parquet_bytes(std::fs::read(path).expect("read"), path).expect("parquet")
}
