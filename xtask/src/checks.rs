//! `cargo xtask test` and `cargo xtask schemas`: the test suite and the checks around it.

use std::path::Path;
use std::process::Command;

use anyhow::{Result, bail};

use crate::calibration;
use crate::workspace::{FIXTURE_DATA, FIXTURE_SPEC, build_mmm, cargo, root, run, target_dir};

/// Every test: the workspace suite, the Ballista equivalence test, the schema check, SBC and
/// recovery on the fixture, the report in headless Chromium and the Airflow DAG in Airflow.
pub fn test() -> Result<()> {
    let nextest = has_nextest();
    // The object-storage test needs a local S3-compatible server (moto, from PyPI) and the
    // export test ArviZ: both go into project-local virtualenvs.
    let mut services = Command::new("bash");
    services
        .current_dir(root())
        .arg("scripts/install_test_services.sh");
    run(services)?;
    workspace_tests(nextest)?;
    s3_tests(nextest)?;
    ballista_tests(nextest)?;
    schemas(true)?;
    // Calibration of model and sampler on the fixture (seeded, so deterministic; about 25 s).
    calibration::sbc(&["--quiet".to_string()])?;
    calibration::recovery(&["--quiet".to_string()])?;
    report_in_browser()?;
    crate::studio::studio_in_browser()?;
    airflow_dag()
}

fn has_nextest() -> bool {
    Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// `cargo test` (or nextest) over the workspace in release, with the ArviZ test required.
fn workspace_tests(nextest: bool) -> Result<()> {
    let mut c = cargo();
    // The services of scripts/install_test_services.sh, from the project's virtualenv.
    let arviz = root().join(".venv").join("bin");
    c.env("MMM_REQUIRE_ARVIZ", "1")
        .env("MMM_PYTHON", arviz.join("python"));
    if nextest {
        c.args([
            "nextest",
            "run",
            "--release",
            "--workspace",
            "--no-fail-fast",
        ]);
    } else {
        c.args(["test", "--release", "--workspace", "--no-fail-fast"]);
    }
    run(c)
}

/// Object storage: a run round trip through a local S3 server (moto, from the project's
/// .venv-s3), in a build of `mmm` with the `s3` feature (off by default: its HTTP and TLS stacks
/// are a fifth of a cold build), so a separate step like the engines'.
fn s3_tests(nextest: bool) -> Result<()> {
    let mut c = cargo();
    let s3 = root().join(".venv-s3").join("bin");
    c.env("MMM_REQUIRE_S3", "1")
        .env("MMM_MOTO_SERVER", s3.join("moto_server"))
        .env("MMM_S3_PYTHON", s3.join("python"));
    if nextest {
        c.args(["nextest", "run", "--release"]);
    } else {
        c.args(["test", "--release"]);
    }
    c.args(["-p", "mmm-cli", "--features", "s3", "--", "storage"]);
    run(c)
}

/// Engine equivalence: the contracts crate with its `ballista` feature (DataFusion included)
/// must give the built-in engine's tables byte for byte, on DataFusion in this process and on a
/// Ballista scheduler and executor started in-process. A build of its own (DataFusion, tonic,
/// Ballista: none of them in the default build), so it runs as a separate step.
fn ballista_tests(nextest: bool) -> Result<()> {
    let mut b = cargo();
    if nextest {
        b.args(["nextest", "run", "--release"]);
    } else {
        b.args(["test", "--release"]);
    }
    b.args([
        "-p",
        "mmm-contracts",
        "--features",
        "ballista",
        "--",
        "ballista",
        "builtin_equals_datafusion",
    ]);
    run(b)
}

/// Regenerate schemas/ (`check`: fail when they drift instead).
pub fn schemas(check: bool) -> Result<()> {
    let mmm = build_mmm()?;
    let mut c = Command::new(mmm);
    c.current_dir(root()).args(["schemas", "--dir", "schemas"]);
    if check {
        c.arg("--check");
    }
    run(c)
}

/// Run the example Airflow DAG in a real Airflow on the fixture (scripts/airflow_dag_test.sh).
fn airflow_dag() -> Result<()> {
    let mmm = build_mmm()?;
    let mut c = Command::new("bash");
    c.current_dir(root())
        .arg("scripts/airflow_dag_test.sh")
        .arg(&mmm)
        .arg(target_dir().join("airflow-check"));
    run(c)
}

/// Render the fixture's report (with an optimizer result) in headless Chromium and keep the
/// screenshots under target/report-screenshots (scripts/report_browser_test.sh).
fn report_in_browser() -> Result<()> {
    let mmm = build_mmm()?;
    let run_dir = target_dir().join("report-check");
    run_with_optimizer(&mmm, &run_dir)?;
    let mut check = Command::new("bash");
    check
        .current_dir(root())
        .arg("scripts/report_browser_test.sh")
        .arg(&run_dir)
        .arg(target_dir().join("report-screenshots"));
    run(check)
}

/// The fixture's pipeline into `run_dir`, then `mmm optimize` and the report again with it.
fn run_with_optimizer(mmm: &Path, run_dir: &Path) -> Result<()> {
    let spec = root().join(FIXTURE_SPEC);
    let s = |p: &Path| p.as_os_str().to_owned();
    let status = Command::new(mmm)
        .current_dir(root())
        .args(["run", "--quiet", "--spec"])
        .arg(&spec)
        .args(["--data", FIXTURE_DATA, "--out"])
        .arg(run_dir)
        .status()?;
    if !matches!(status.code(), Some(0) | Some(3)) {
        bail!("mmm run failed with {status}");
    }
    let mut opt = Command::new(mmm);
    opt.current_dir(root())
        .args(["optimize", "--quiet", "--spec"])
        .arg(s(&run_dir.join("spec.toml")))
        .arg("--features")
        .arg(s(&run_dir.join("features")))
        .arg("--fit")
        .arg(s(&run_dir.join("fit")))
        .arg("--out")
        .arg(s(&run_dir.join("optimize")));
    run(opt)?;
    let mut rep = Command::new(mmm);
    rep.args(["report", "--quiet", "--force", "--run"])
        .arg(run_dir);
    run(rep)
}
