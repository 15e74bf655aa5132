//! `cargo xtask studio` (the studio in headless Chromium, part of `cargo xtask test`) and
//! `cargo xtask bench-studio` (latency of a planner evaluation on the fixture and the 8-geo
//! panel, target/bench/studio.json).

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace::{build_mmm, cargo, machine, root, run, target_dir, write_json};

/// `mmm run` of `spec` on `data` into `out` (exit 0 or 3: a failed gate still completes).
fn fit(mmm: &Path, spec: &Path, data: &Path, out: &Path) -> Result<()> {
    let status = Command::new(mmm)
        .current_dir(root())
        .args(["run", "--quiet", "--no-refits", "--spec"])
        .arg(spec)
        .arg("--data")
        .arg(data)
        .arg("--out")
        .arg(out)
        .status()?;
    if !matches!(status.code(), Some(0) | Some(3)) {
        bail!("mmm run {} failed with {status}", out.display());
    }
    Ok(())
}

/// The fixture spec with fewer draws and another seed (a second run to compare with).
fn second_spec(dir: &Path) -> Result<std::path::PathBuf> {
    let text = std::fs::read_to_string(root().join("fixtures/pymc_example/spec.toml"))?;
    let text = text
        .replace("tune = 1000", "tune = 300")
        .replace("draws = 1000", "draws = 250")
        .replace("seed = 42", "seed = 7");
    let path = dir.join("spec-b.toml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Two fixture runs under target/studio-check/runs (`fixture`, `fixture-b`), then
/// scripts/studio_browser_test.sh with screenshots in target/studio-screenshots.
pub fn studio_in_browser() -> Result<()> {
    let mmm = build_mmm()?;
    let dir = target_dir().join("studio-check");
    let runs = dir.join("runs");
    std::fs::create_dir_all(&runs)?;
    let data = root().join("fixtures/pymc_example/data.csv");
    fit(
        &mmm,
        &root().join("fixtures/pymc_example/spec.toml"),
        &data,
        &runs.join("fixture"),
    )?;
    fit(&mmm, &second_spec(&dir)?, &data, &runs.join("fixture-b"))?;
    let mut check = Command::new("bash");
    check
        .current_dir(root())
        .arg("scripts/studio_browser_test.sh")
        .arg(&mmm)
        .arg(&runs)
        .arg(target_dir().join("studio-screenshots"));
    run(check)
}

/// Fit the fixture and the 8-geo panel (fixtures/geo), then time planner evaluations with
/// the `scenario_latency` example; writes target/bench/studio.json.
pub fn bench_studio(repeats: usize) -> Result<()> {
    let mmm = build_mmm()?;
    let mut build = cargo();
    build.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "mmm-studio",
        "--example",
        "scenario_latency",
    ]);
    run(build)?;
    let bench = target_dir().join("release/examples/scenario_latency");
    let runs = target_dir().join("bench/studio-runs");
    std::fs::create_dir_all(&runs)?;
    let cases = [
        (
            "fixture",
            "fixtures/pymc_example/spec.toml",
            "fixtures/pymc_example/data.csv",
        ),
        ("geo8", "fixtures/geo/spec.toml", "fixtures/geo/panel.csv"),
    ];
    let mut results = Vec::new();
    for (name, spec, data) in cases {
        fit(
            &mmm,
            &root().join(spec),
            &root().join(data),
            &runs.join(name),
        )?;
        let out = Command::new(&bench)
            .arg(&runs)
            .arg(name)
            .arg(repeats.to_string())
            .output()?;
        if !out.status.success() {
            bail!(
                "scenario_latency {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let value: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("scenario_latency output")?;
        println!("{}", serde_json::to_string_pretty(&value)?);
        results.push(value);
    }
    let summary = serde_json::json!({
        "machine": machine(),
        "command": format!("cargo xtask bench-studio --repeats {repeats}"),
        "cases": results,
    });
    write_json(&target_dir().join("bench/studio.json"), &summary)
}
