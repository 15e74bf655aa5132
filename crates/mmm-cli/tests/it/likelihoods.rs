//! `mmm run` and `mmm optimize` with the non-Normal likelihoods: Poisson and negative-binomial
//! on a count target (fixtures/likelihoods/counts.csv, from generate.py), LogNormal on the
//! positive target of the PyMC example.

use std::path::Path;

use mmm_core::columns::{f64_column, string_column};

use crate::fixture;

fn quick_spec(dir: &Path, spec: &str) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture(spec)).expect("spec")
        + "\n[sampler]\nchains = 2\ntune = 300\ndraws = 200\nseed = 5\n\
           [diagnose]\nbootstrap_replicates = 0\ncv_folds = 0\n";
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

fn parquet(path: &Path) -> arrow::array::RecordBatch {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    mmm_core::read_parquet_bytes(bytes, path).expect("parquet")
}

fn run_family(spec: &str, data: &str, additive: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = quick_spec(dir.path(), spec);
    let run = dir.path().join("run");
    let out = crate::mmm_run(&spec, &fixture(data), &run);
    crate::assert_exit(&out, 3);
    for file in [
        "fit/draws.parquet",
        "diagnose/ppc.parquet",
        "decide/contributions.parquet",
        "decide/curves.parquet",
        "decide/roi.parquet",
        "report/report.html",
    ] {
        assert!(run.join(file).exists(), "{file}");
    }
    // Non-additive models report the channels' interaction as its own component.
    let dpath = run.join("decide/decomposition.parquet");
    let dec = parquet(&dpath);
    let comp = string_column(&dec, "component", &dpath).expect("component");
    let mean = f64_column(&dec, "mean", &dpath).expect("mean");
    assert_eq!(comp.iter().any(|c| c == "interaction"), !additive);
    assert!(comp.iter().any(|c| c == "baseline"));
    assert!(mean.iter().all(|m| m.is_finite()));
    let contrib = parquet(&run.join("decide/contributions.parquet"));
    let c = f64_column(
        &contrib,
        "contribution",
        &run.join("decide/contributions.parquet"),
    )
    .expect("contribution");
    assert!(c.iter().all(|v| v.is_finite()));
    // The optimizer runs on response-scale lifts.
    crate::assert_optimize_runs(&run, &dir.path().join("optimize"), 0);
}

#[test]
fn poisson_runs_end_to_end_on_counts() {
    run_family(
        "likelihoods/spec_poisson.toml",
        "likelihoods/counts.csv",
        false,
    );
}

#[test]
fn negative_binomial_runs_end_to_end_on_counts() {
    run_family(
        "likelihoods/spec_negative_binomial.toml",
        "likelihoods/counts.csv",
        false,
    );
}

#[test]
fn log_normal_runs_end_to_end_on_a_positive_target() {
    run_family(
        "likelihoods/spec_lognormal.toml",
        "pymc_example/data.csv",
        false,
    );
}
