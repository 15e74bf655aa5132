//! Developer tasks. `cargo xtask <task>`:
//!
//! - `pipeline`  build `mmm` in release and run every stage on the bundled fixture into runs/
//! - `test`      run the whole test suite (release profile, nextest when installed), the schema
//!   check, SBC and recovery on the fixture, the report check in headless Chromium, and the
//!   example Airflow DAG run in Airflow
//! - `schemas`   regenerate schemas/ (`--check` fails when they drift)
//! - `bench`     run a fixture's pipeline N times (`--runs N`, default 5; `--fixture NAME`, default
//!   pymc_example, or bench_10ch; `--no-refits` skips the refit checks) and write
//!   target/bench/NAME[_no_refits].json
//! - `bench-batch` run `mmm batch` on N fixture-sized entities (`--entities N`, default 100;
//!   one of them deliberately broken; `--no-refits` as above) and write target/bench/batch*.json
//! - `sbc`       simulation-based calibration on the fixture spec (`mmm sbc`; default N = 200,
//!   L = 99, 20 bins, alpha 0.01; extra flags are passed on) into target/sbc
//! - `recovery`  parameter recovery on the fixture spec (`mmm recovery`; default 100 simulated
//!   data sets fitted with the spec's sampler settings, coverage of 50% and 90% intervals)
//!   into target/recovery

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};

const FIXTURE_SPEC: &str = "fixtures/pymc_example/spec.toml";
const FIXTURE_DATA: &str = "fixtures/pymc_example/data.csv";

/// The workspace root. Read at run time (cargo sets CARGO_MANIFEST_DIR for `cargo run`), not
/// baked in at compile time: a target directory shared between clones may hold an xtask binary
/// built from another checkout.
fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    // `cargo run` gives xtask the package variables of xtask itself (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, ...). Some build scripts (ring's, through cc) rerun when those change,
    // which would rebuild ring, rustls, object_store and DataFusion whenever the builds below
    // alternate with plain `cargo` invocations or run from another clone; so drop them.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || matches!(
                key,
                "CARGO_MANIFEST_DIR"
                    | "CARGO_MANIFEST_PATH"
                    | "CARGO_MANIFEST_LINKS"
                    | "CARGO_CRATE_NAME"
                    | "CARGO_BIN_NAME"
                    | "CARGO_PRIMARY_PACKAGE"
                    | "OUT_DIR"
            )
        {
            c.env_remove(key);
        }
    }
    c
}

fn run(mut cmd: Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

fn build_mmm() -> Result<PathBuf> {
    let mut c = cargo();
    c.args([
        "build",
        "--release",
        "--quiet",
        "-p",
        "mmm-cli",
        "--bin",
        "mmm",
    ]);
    run(c)?;
    Ok(target_dir().join("release").join("mmm"))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let task = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[1.min(args.len())..];
    match task {
        "pipeline" => pipeline(rest),
        "test" => test(),
        "schemas" => schemas(rest.iter().any(|a| a == "--check")),
        "bench" => bench(rest),
        "bench-batch" => bench_batch(rest),
        "sbc" => calibration("sbc", "sbc.json", rest),
        "recovery" => calibration("recovery", "recovery.json", rest),
        "recovery-sweep" => recovery_sweep(rest),
        _ => {
            eprintln!(
                "usage: cargo xtask <pipeline|test|schemas [--check]|bench [--runs N]|sbc [--sims N]|recovery [--sims N]|recovery-sweep [--sims N] [--case NAME]>"
            );
            Ok(())
        }
    }
}

fn pipeline(rest: &[String]) -> Result<()> {
    let mmm = build_mmm()?;
    let out = root().join("runs").join("pymc_example");
    // The run directory freezes its spec; when the fixture spec changed, start the run afresh.
    let frozen = std::fs::read(out.join("spec.toml")).ok();
    let changed = frozen.is_some_and(|f| std::fs::read(root().join(FIXTURE_SPEC)).ok() != Some(f));
    let mut c = Command::new(&mmm);
    c.current_dir(root())
        .args([
            "run",
            "--spec",
            FIXTURE_SPEC,
            "--data",
            FIXTURE_DATA,
            "--out",
        ])
        .arg(&out)
        .args(rest);
    if changed {
        eprintln!("the fixture spec changed since the last run: redoing every stage");
        c.arg("--force");
    }
    let status = c.status().context("starting mmm")?;
    match status.code() {
        Some(0) => {}
        Some(3) => {
            eprintln!("note: a diagnostic gate failed; the report is marked \"not for decisions\"")
        }
        _ => bail!("mmm run failed with {status}"),
    }
    println!(
        "report: {}",
        out.join("report").join("report.html").display()
    );
    Ok(())
}

fn test() -> Result<()> {
    let has_nextest = Command::new("cargo-nextest")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    // The object-storage test needs a local S3-compatible server (moto, from PyPI).
    let mut services = Command::new("bash");
    services
        .current_dir(root())
        .arg("scripts/install_test_services.sh");
    run(services)?;
    let mut c = cargo();
    c.env("MMM_REQUIRE_S3", "1");
    if has_nextest {
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
    run(c)?;
    // Ballista equivalence: the contracts crate with its `ballista` feature starts a scheduler
    // and an executor in-process and must give the single-node tables byte for byte. A build of
    // its own (DataFusion's default features, tonic, Ballista), so it runs as a separate step.
    let mut b = cargo();
    if has_nextest {
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
    ]);
    run(b)?;
    schemas(true)?;
    // Calibration of model and sampler on the fixture (seeded, so deterministic; about 25 s).
    calibration("sbc", "sbc.json", &["--quiet".to_string()])?;
    calibration("recovery", "recovery.json", &["--quiet".to_string()])?;
    report_in_browser()?;
    airflow_dag()
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
    let spec = root().join(FIXTURE_SPEC);
    let s = |p: &Path| p.as_os_str().to_owned();
    let status = Command::new(&mmm)
        .current_dir(root())
        .args(["run", "--quiet", "--spec"])
        .arg(&spec)
        .args(["--data", FIXTURE_DATA, "--out"])
        .arg(&run_dir)
        .status()?;
    if !matches!(status.code(), Some(0) | Some(3)) {
        bail!("mmm run failed with {status}");
    }
    let mut opt = Command::new(&mmm);
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
    let mut rep = Command::new(&mmm);
    rep.args(["report", "--quiet", "--force", "--run"])
        .arg(&run_dir);
    run(rep)?;
    let mut check = Command::new("bash");
    check
        .current_dir(root())
        .arg("scripts/report_browser_test.sh")
        .arg(&run_dir)
        .arg(target_dir().join("report-screenshots"));
    run(check)
}

fn schemas(check: bool) -> Result<()> {
    let mmm = build_mmm()?;
    let mut c = Command::new(mmm);
    c.current_dir(root()).args(["schemas", "--dir", "schemas"]);
    if check {
        c.arg("--check");
    }
    run(c)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        0.5 * (v[m - 1] + v[m])
    }
}

fn bench(rest: &[String]) -> Result<()> {
    let fixture = rest
        .windows(2)
        .find(|w| w[0] == "--fixture")
        .map(|w| w[1].clone())
        .unwrap_or_else(|| "pymc_example".to_string());
    let spec = format!("fixtures/{fixture}/spec.toml");
    let data = format!("fixtures/{fixture}/data.csv");
    let runs: usize = rest
        .windows(2)
        .find(|w| w[0] == "--runs")
        .map(|w| w[1].parse())
        .transpose()
        .context("--runs N")?
        .unwrap_or(5);
    // The refit checks (bootstrap sign stability, rolling-origin CV) refit the model many
    // times; `--no-refits` measures the pipeline with one fit, as the sampler targets define it.
    let no_refits = rest.iter().any(|a| a == "--no-refits");
    let mmm = build_mmm()?;
    let bench_dir = target_dir().join("bench");
    std::fs::create_dir_all(&bench_dir)?;
    let run_dir = bench_dir.join("run");
    let mut records = Vec::new();
    for i in 0..runs {
        let _ = std::fs::remove_dir_all(&run_dir);
        let start = Instant::now();
        let output = Command::new(&mmm)
            .current_dir(root())
            .args(["run", "--quiet", "--spec", &spec, "--data", &data, "--out"])
            .arg(&run_dir)
            .args(no_refits.then_some("--no-refits"))
            .env("MMM_REPORT_PEAK_MEMORY", "1")
            .output()
            .context("starting mmm")?;
        let wall = start.elapsed().as_secs_f64();
        if !matches!(output.status.code(), Some(0) | Some(3)) {
            bail!(
                "mmm run failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let peak_mb = String::from_utf8_lossy(&output.stderr)
            .lines()
            .find_map(|l| l.strip_prefix("peak_rss_mb="))
            .and_then(|v| v.trim().parse::<f64>().ok());
        let mut stages = serde_json::Map::new();
        for s in [
            "validate", "features", "fit", "diagnose", "decide", "report",
        ] {
            let m = read_json(&run_dir.join(s).join("manifest.json"))?;
            stages.insert(s.into(), m["wall_seconds"].clone());
        }
        let fit = read_json(&run_dir.join("fit/manifest.json"))?;
        let diag = read_json(&run_dir.join("diagnose/diagnostics.json"))?;
        let sampling = fit["settings"]["sampling_seconds"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let grads = fit["settings"]["gradient_evaluations"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let min_ess = diag["min_ess_bulk"].as_f64().unwrap_or(f64::NAN);
        let rec = serde_json::json!({
            "run": i,
            "process_wall_seconds": wall,
            "stage_wall_seconds": stages,
            "sampling_seconds": sampling,
            "gradient_evaluations": grads,
            "min_bulk_ess": min_ess,
            "max_rhat": diag["max_rhat"],
            "divergences": diag["sampler"]["divergences"],
            "ess_per_second_sampling": min_ess / sampling,
            "ess_per_second_wall": min_ess / wall,
            "peak_rss_mb": peak_mb,
        });
        eprintln!("run {i}: {wall:.3}s wall, {sampling:.3}s sampling, min ESS {min_ess:.0}");
        records.push(rec);
    }
    let col = |k: &str| {
        records
            .iter()
            .filter_map(|r| r[k].as_f64())
            .collect::<Vec<f64>>()
    };
    let summary = serde_json::json!({
        "command": format!("cargo xtask bench --runs {runs} --fixture {fixture}{}", if no_refits { " --no-refits" } else { "" }),
        "refit_checks": !no_refits,
        "fixture": data,
        "machine": machine(),
        "median_process_wall_seconds": median(col("process_wall_seconds")),
        "median_sampling_seconds": median(col("sampling_seconds")),
        "median_min_bulk_ess": median(col("min_bulk_ess")),
        "median_ess_per_second_sampling": median(col("ess_per_second_sampling")),
        "median_peak_rss_mb": median(col("peak_rss_mb")),
        "runs": records,
    });
    let suffix = if no_refits { "_no_refits" } else { "" };
    let path = bench_dir.join(format!("{fixture}{suffix}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")?;
    println!(
        "{}",
        serde_json::to_string_pretty(&summary["median_process_wall_seconds"])?
    );
    println!("wrote {}", path.display());
    Ok(())
}

/// `mmm batch` over N entities: the fixture data under N-1 seeds, plus one entity whose data
/// breaks the contract; all must finish and exactly the broken one fail.
fn bench_batch(rest: &[String]) -> Result<()> {
    let n: usize = rest
        .windows(2)
        .find(|w| w[0] == "--entities")
        .map(|w| w[1].parse())
        .transpose()
        .context("--entities N")?
        .unwrap_or(100);
    let no_refits = rest.iter().any(|a| a == "--no-refits");
    let mmm = build_mmm()?;
    let bench_dir = target_dir().join("bench");
    let input = bench_dir.join("batch_input");
    let out = bench_dir.join("batch_run");
    let _ = std::fs::remove_dir_all(&input);
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&input)?;
    std::fs::copy(root().join(FIXTURE_SPEC), input.join("spec.toml"))?;
    let data = std::fs::read_to_string(root().join(FIXTURE_DATA))?;
    std::fs::write(input.join("data.csv"), &data)?;
    // The broken entity: a negative spend in the first data row.
    let mut lines: Vec<String> = data.lines().map(str::to_string).collect();
    let x1 = lines[0]
        .split(',')
        .position(|c| c == "x1")
        .context("fixture has x1")?;
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    cells[x1] = "-1".into();
    lines[1] = cells.join(",");
    std::fs::write(input.join("broken.csv"), lines.join("\n") + "\n")?;
    let mut entities = String::from("entity,data,overrides\n");
    for i in 1..n {
        entities.push_str(&format!("brand_{i:03},data.csv,sampler.seed={i}\n"));
    }
    entities.push_str("broken,broken.csv,\n");
    std::fs::write(input.join("entities.csv"), entities)?;

    let start = Instant::now();
    let output = Command::new(&mmm)
        .current_dir(root())
        .args(["batch", "--quiet", "--spec"])
        .arg(input.join("spec.toml"))
        .arg("--entities")
        .arg(input.join("entities.csv"))
        .arg("--out")
        .arg(&out)
        .args(no_refits.then_some("--no-refits"))
        .output()
        .context("starting mmm batch")?;
    let wall = start.elapsed().as_secs_f64();
    let summary = read_json(&out.join("batch_summary.json"))?;
    let rows = summary.as_array().context("batch_summary.json is a list")?;
    let count = |status: &str| rows.iter().filter(|r| r["status"] == status).count();
    let record = serde_json::json!({
        "command": format!("cargo xtask bench-batch --entities {n}{}", if no_refits { " --no-refits" } else { "" }),
        "refit_checks": !no_refits,
        "machine": machine(),
        "entities": n,
        "wall_seconds": wall,
        "exit_code": output.status.code(),
        "ok": count("ok"),
        "gates_failed": count("gates_failed"),
        "rejected": count("rejected"),
        "failed": count("failed") + count("refused"),
        "broken_entity_status": rows.iter().find(|r| r["entity"] == "broken").map(|r| r["status"].clone()),
    });
    let suffix = if no_refits { "_no_refits" } else { "" };
    let path = bench_dir.join(format!("batch{suffix}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(&record)? + "\n")?;
    println!("{}", serde_json::to_string_pretty(&record)?);
    println!("wrote {}", path.display());
    if record["broken_entity_status"] != "rejected" || count("ok") + count("gates_failed") != n - 1
    {
        bail!(
            "expected {} entities to finish and the broken one to be rejected",
            n - 1
        );
    }
    Ok(())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    format!("{cpu}, {cores} cores")
}

/// `mmm sbc` or `mmm recovery` on the fixture spec into target/NAME; extra flags passed on.
/// The recovery sweep of fixtures/recovery/sweep.toml: per case (a likelihood or transform
/// family), `mmm recovery --truth` with N noise seeds at known parameters, counting the fits
/// whose 90% interval of each channel's contribution (equivalently its ROAS and ROI) holds the
/// truth. A channel fails when that count is below the binomial band of a calibrated
/// posterior, 0.9 N - 2.576 sqrt(0.09 N) (one-sided, 0.5% per channel); with N = 10 it also
/// reports the stricter ">= 9 of 10" count. Writes target/recovery-sweep/summary.json.
fn recovery_sweep(rest: &[String]) -> Result<()> {
    let mut sims = 100usize;
    let mut only: Option<String> = None;
    let mut args = rest.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--sims" => sims = args.next().context("--sims needs a value")?.parse()?,
            "--case" => only = Some(args.next().context("--case needs a value")?.clone()),
            other => bail!("unknown argument {other}; use --sims N and --case NAME"),
        }
    }
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
        let field = |k: &str| -> Result<String> {
            Ok(case
                .get(k)
                .and_then(toml::Value::as_str)
                .with_context(|| format!("a sweep case has no {k}"))?
                .to_string())
        };
        let name = field("name")?;
        if only.as_ref().is_some_and(|o| o != &name) {
            continue;
        }
        let out = out_root.join(&name);
        let _ = std::fs::remove_dir_all(&out);
        let case_start = Instant::now();
        let status = Command::new(&mmm)
            .current_dir(root())
            .args(["recovery", "--quiet", "--levels", "0.9", "--sims"])
            .arg(sims.to_string())
            .args(["--spec", &field("spec")?, "--data", &field("data")?])
            .args(["--truth", &field("truth")?, "--out"])
            .arg(&out)
            .status()
            .context("starting mmm")?;
        if !matches!(status.code(), Some(0 | 3)) {
            bail!("mmm recovery failed for case {name} with {status}");
        }
        let report = read_json(&out.join("recovery.json"))?;
        let finished = report["simulations_finished"].as_u64().unwrap_or(0);
        let mut channels = serde_json::Map::new();
        for c in report["coverage"].as_array().into_iter().flatten() {
            let q = c["quantity"].as_str().unwrap_or_default();
            let Some(channel) = q
                .strip_prefix("contribution[")
                .and_then(|r| r.strip_suffix(']'))
            else {
                continue;
            };
            let covered = (c["observed"].as_f64().unwrap_or(0.0) * finished as f64).round() as u64;
            let n = sims as f64;
            let lower = 0.9 * n - 2.576 * (0.09 * n).sqrt();
            let pass = finished == sims as u64 && covered as f64 >= lower;
            let nine_of_ten = covered * 10 >= 9 * sims as u64;
            all_pass &= pass;
            println!(
                "{name:<20} {channel:<6} 90% interval holds the true ROI in {covered}/{finished} fits \
                 (calibrated: >= {lower:.1}){}{}",
                if pass { "" } else { "  FAIL" },
                if nine_of_ten { "" } else { "  (below 90%)" }
            );
            channels.insert(
                channel.to_string(),
                serde_json::json!({
                    "covered": covered,
                    "calibrated_lower_bound": lower,
                    "pass": pass,
                    "at_least_90_percent": nine_of_ten,
                }),
            );
        }
        rows.push(serde_json::json!({
            "case": name,
            "simulations": sims,
            "finished": finished,
            "fits_with_divergences": report["fits_with_divergences"],
            "seconds": case_start.elapsed().as_secs_f64(),
            "channels": channels,
            "mean_abs_z": report["mean_abs_z"],
        }));
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
    std::fs::write(&path, serde_json::to_string_pretty(&summary)? + "\n")?;
    println!("results: {}", path.display());
    if !all_pass {
        bail!(
            "recovery sweep: a channel's 90% interval covered its truth less often than a calibrated posterior would"
        );
    }
    Ok(())
}

fn calibration(command: &str, result: &str, rest: &[String]) -> Result<()> {
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
        .args(rest);
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
