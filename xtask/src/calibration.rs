//! `cargo xtask sbc`, `recovery` and `recovery-sweep`: calibration of model and sampler.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::SweepArgs;
use crate::workspace::{
    FIXTURE_DATA, FIXTURE_SPEC, build_mmm, machine, read_json, root, target_dir, write_json,
};

/// `mmm sbc` on the fixture spec into target/sbc; `extra` passed on.
pub fn sbc(extra: &[String]) -> Result<()> {
    calibration("sbc", "sbc.json", extra)
}

/// `mmm recovery` on the fixture spec into target/recovery; `extra` passed on.
pub fn recovery(extra: &[String]) -> Result<()> {
    calibration("recovery", "recovery.json", extra)
}

/// `mmm COMMAND` on the fixture spec into target/COMMAND; exit code 3 (a failed calibration
/// test) is an error here.
fn calibration(command: &str, result: &str, extra: &[String]) -> Result<()> {
    let mmm = build_mmm()?;
    let out = target_dir().join(command);
    let mut c = Command::new(&mmm);
    c.current_dir(root())
        .args([
            command,
            "--spec",
            FIXTURE_SPEC,
            "--data",
            FIXTURE_DATA,
            "--out",
        ])
        .arg(&out)
        .args(extra);
    let status = c.status().context("starting mmm")?;
    println!("results: {}", out.join(result).display());
    if command == "sbc" {
        println!(
            "rank histograms: {}",
            out.join("rank_histograms.svg").display()
        );
    }
    match status.code() {
        Some(0) => Ok(()),
        Some(3) if command == "sbc" => bail!("SBC: a parameter failed the rank uniformity test"),
        Some(3) => bail!("recovery: a coverage fell outside its binomial band"),
        _ => bail!("mmm {command} failed with {status}"),
    }
}

/// The recovery sweep of fixtures/recovery/sweep.toml: per case (a likelihood or transform
/// family), `mmm recovery --truth` with N noise seeds at known parameters, counting the fits
/// whose 90% interval of each channel's contribution (equivalently its ROAS and ROI) holds the
/// truth. A channel fails when that count is below the binomial band of a calibrated
/// posterior, 0.9 N - 2.576 sqrt(0.09 N) (one-sided, 0.5% per channel); with N = 10 it also
/// reports the stricter ">= 9 of 10" count. Writes target/recovery-sweep/summary.json.
pub fn recovery_sweep(args: &SweepArgs) -> Result<()> {
    let sims = args.sims;
    let mmm = build_mmm()?;
    let sweep_path = root().join("fixtures/recovery/sweep.toml");
    let sweep: toml::Table = std::fs::read_to_string(&sweep_path)?.parse()?;
    let cases = sweep
        .get("case")
        .and_then(toml::Value::as_array)
        .context("fixtures/recovery/sweep.toml has no [[case]] entries")?;
    let out_root = target_dir().join("recovery-sweep");
    let start = Instant::now();
    let mut rows = Vec::new();
    let mut all_pass = true;
    for case in cases {
        let name = case_field(case, "name")?;
        if args.case.as_ref().is_some_and(|o| o != &name) {
            continue;
        }
        let (row, pass) = sweep_case(&mmm, case, &name, sims, &out_root.join(&name))?;
        rows.push(row);
        all_pass &= pass;
    }
    let summary = serde_json::json!({
        "cases": rows,
        "all_pass": all_pass,
        "seconds": start.elapsed().as_secs_f64(),
        "machine": machine(),
        "command": format!("cargo xtask recovery-sweep --sims {sims}"),
        "method": "per case: data simulated at the truth file's parameters with `sims` noise \
                   seeds (ChaCha8 streams of the spec's seed), NUTS refit with the spec's \
                   sampler settings; covered = fits whose central 90% interval of the channel's \
                   counterfactual contribution over the training window holds the true one; \
                   pass: covered >= 0.9 N - 2.576 sqrt(0.09 N)",
    });
    std::fs::create_dir_all(&out_root)?;
    let path = out_root.join("summary.json");
    write_json(&path, &summary)?;
    println!("results: {}", path.display());
    if !all_pass {
        bail!(
            "recovery sweep: a channel's 90% interval covered its truth less often than a calibrated posterior would"
        );
    }
    Ok(())
}

/// A string field of a sweep case.
fn case_field(case: &toml::Value, key: &str) -> Result<String> {
    Ok(case
        .get(key)
        .and_then(toml::Value::as_str)
        .with_context(|| format!("a sweep case has no {key}"))?
        .to_string())
}

/// Run one sweep case into `out`; its summary row and whether every channel passed.
fn sweep_case(
    mmm: &Path,
    case: &toml::Value,
    name: &str,
    sims: usize,
    out: &Path,
) -> Result<(Value, bool)> {
    let field = |k: &str| case_field(case, k);
    let _ = std::fs::remove_dir_all(out);
    let case_start = Instant::now();
    let status = Command::new(mmm)
        .current_dir(root())
        .args(["recovery", "--quiet", "--levels", "0.9", "--sims"])
        .arg(sims.to_string())
        .args(["--spec", &field("spec")?, "--data", &field("data")?])
        .args(["--truth", &field("truth")?, "--out"])
        .arg(out)
        .status()
        .context("starting mmm")?;
    if !matches!(status.code(), Some(0 | 3)) {
        bail!("mmm recovery failed for case {name} with {status}");
    }
    let report = read_json(&out.join("recovery.json"))?;
    let finished = report["simulations_finished"].as_u64().unwrap_or(0);
    let mut channels = serde_json::Map::new();
    let mut all_pass = true;
    for c in report["coverage"].as_array().into_iter().flatten() {
        let Some((channel, coverage, pass)) = channel_coverage(name, c, finished, sims) else {
            continue;
        };
        all_pass &= pass;
        channels.insert(channel, coverage);
    }
    let row = serde_json::json!({
        "case": name,
        "simulations": sims,
        "finished": finished,
        "fits_with_divergences": report["fits_with_divergences"],
        "seconds": case_start.elapsed().as_secs_f64(),
        "channels": channels,
        "mean_abs_z": report["mean_abs_z"],
    });
    Ok((row, all_pass))
}

/// One coverage entry of recovery.json, if it is a channel's contribution: the channel, its
/// summary and whether it passed; prints a line for it.
fn channel_coverage(
    name: &str,
    c: &Value,
    finished: u64,
    sims: usize,
) -> Option<(String, Value, bool)> {
    let q = c["quantity"].as_str().unwrap_or_default();
    let channel = q
        .strip_prefix("contribution[")
        .and_then(|r| r.strip_suffix(']'))?;
    let covered = (c["observed"].as_f64().unwrap_or(0.0) * finished as f64).round() as u64;
    let n = sims as f64;
    let lower = 0.9 * n - 2.576 * (0.09 * n).sqrt();
    let pass = finished == sims as u64 && covered as f64 >= lower;
    let nine_of_ten = covered * 10 >= 9 * sims as u64;
    println!(
        "{name:<20} {channel:<6} 90% interval holds the true ROI in {covered}/{finished} fits \
         (calibrated: >= {lower:.1}){}{}",
        if pass { "" } else { "  FAIL" },
        if nine_of_ten { "" } else { "  (below 90%)" }
    );
    let coverage = serde_json::json!({
        "covered": covered,
        "calibrated_lower_bound": lower,
        "pass": pass,
        "at_least_90_percent": nine_of_ten,
    });
    Some((channel.to_string(), coverage, pass))
}
