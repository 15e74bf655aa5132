//! `cargo xtask bench` and `cargo xtask bench-batch`: timed pipeline and batch runs, written to
//! target/bench.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::cli::{BenchArgs, BenchBatchArgs};
use crate::workspace::{
    FIXTURE_DATA, FIXTURE_SPEC, build_mmm, machine, read_json, root, target_dir, write_json,
};

/// The stages whose manifests' wall times a bench run records, in pipeline order.
const STAGES: [&str; 6] = [
    "validate", "features", "fit", "diagnose", "decide", "report",
];

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

fn no_refits_flag(no_refits: bool) -> &'static str {
    if no_refits { " --no-refits" } else { "" }
}

fn no_refits_suffix(no_refits: bool) -> &'static str {
    if no_refits { "_no_refits" } else { "" }
}

/// One fixture's pipeline, run repeatedly into the same directory.
struct BenchRun {
    mmm: PathBuf,
    run_dir: PathBuf,
    spec: String,
    data: String,
    no_refits: bool,
}

impl BenchRun {
    /// Run the pipeline afresh and return run `i`'s record.
    fn once(&self, i: usize) -> Result<Value> {
        let _ = std::fs::remove_dir_all(&self.run_dir);
        let start = Instant::now();
        let output = Command::new(&self.mmm)
            .current_dir(root())
            .args(["run", "--quiet", "--spec", &self.spec, "--data", &self.data])
            .arg("--out")
            .arg(&self.run_dir)
            .args(self.no_refits.then_some("--no-refits"))
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
        self.record(i, wall, peak_rss_mb(&output))
    }

    /// The record of a finished run: wall times, sampler figures and diagnostics.
    fn record(&self, i: usize, wall: f64, peak_mb: Option<f64>) -> Result<Value> {
        let mut stages = serde_json::Map::new();
        for s in STAGES {
            let m = read_json(&self.run_dir.join(s).join("manifest.json"))?;
            stages.insert(s.into(), m["wall_seconds"].clone());
        }
        let fit = read_json(&self.run_dir.join("fit/manifest.json"))?;
        let diag = read_json(&self.run_dir.join("diagnose/diagnostics.json"))?;
        let sampling = fit["settings"]["sampling_seconds"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let grads = fit["settings"]["gradient_evaluations"]
            .as_f64()
            .unwrap_or(f64::NAN);
        let min_ess = diag["min_ess_bulk"].as_f64().unwrap_or(f64::NAN);
        eprintln!("run {i}: {wall:.3}s wall, {sampling:.3}s sampling, min ESS {min_ess:.0}");
        Ok(serde_json::json!({
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
        }))
    }
}

/// The peak memory `mmm` reports on stderr under MMM_REPORT_PEAK_MEMORY.
fn peak_rss_mb(output: &Output) -> Option<f64> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("peak_rss_mb="))
        .and_then(|v| v.trim().parse::<f64>().ok())
}

/// `cargo xtask bench`: the fixture's pipeline `runs` times; writes
/// target/bench/FIXTURE[_no_refits].json with the runs and their medians.
pub fn bench(args: &BenchArgs) -> Result<()> {
    let BenchArgs {
        runs,
        ref fixture,
        no_refits,
    } = *args;
    let bench_dir = target_dir().join("bench");
    let run = BenchRun {
        mmm: build_mmm()?,
        run_dir: bench_dir.join("run"),
        spec: format!("fixtures/{fixture}/spec.toml"),
        data: format!("fixtures/{fixture}/data.csv"),
        no_refits,
    };
    std::fs::create_dir_all(&bench_dir)?;
    let records = (0..runs).map(|i| run.once(i)).collect::<Result<Vec<_>>>()?;
    let summary = bench_summary(args, &run.data, records);
    let path = bench_dir.join(format!("{fixture}{}.json", no_refits_suffix(no_refits)));
    write_json(&path, &summary)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&summary["median_process_wall_seconds"])?
    );
    println!("wrote {}", path.display());
    Ok(())
}

fn bench_summary(args: &BenchArgs, data: &str, records: Vec<Value>) -> Value {
    let col = |k: &str| {
        records
            .iter()
            .filter_map(|r| r[k].as_f64())
            .collect::<Vec<f64>>()
    };
    serde_json::json!({
        "command": format!(
            "cargo xtask bench --runs {} --fixture {}{}",
            args.runs,
            args.fixture,
            no_refits_flag(args.no_refits)
        ),
        "refit_checks": !args.no_refits,
        "fixture": data,
        "machine": machine(),
        "median_process_wall_seconds": median(col("process_wall_seconds")),
        "median_sampling_seconds": median(col("sampling_seconds")),
        "median_min_bulk_ess": median(col("min_bulk_ess")),
        "median_ess_per_second_sampling": median(col("ess_per_second_sampling")),
        "median_peak_rss_mb": median(col("peak_rss_mb")),
        "runs": records,
    })
}

/// `cargo xtask bench-batch`: `mmm batch` over N entities, the fixture data under N-1 seeds
/// plus one entity whose data breaks the contract; all must finish and exactly the broken one
/// fail. Writes target/bench/batch[_no_refits].json.
pub fn bench_batch(args: &BenchBatchArgs) -> Result<()> {
    let BenchBatchArgs {
        entities: n,
        no_refits,
    } = *args;
    let mmm = build_mmm()?;
    let bench_dir = target_dir().join("bench");
    let input = bench_dir.join("batch_input");
    let out = bench_dir.join("batch_run");
    let _ = std::fs::remove_dir_all(&input);
    let _ = std::fs::remove_dir_all(&out);
    write_batch_input(&input, n)?;

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
    let record = batch_record(args, wall, output.status.code(), rows);
    let path = bench_dir.join(format!("batch{}.json", no_refits_suffix(no_refits)));
    write_json(&path, &record)?;
    println!("{}", serde_json::to_string_pretty(&record)?);
    println!("wrote {}", path.display());
    let finished =
        record["ok"].as_u64().unwrap_or(0) + record["gates_failed"].as_u64().unwrap_or(0);
    if record["broken_entity_status"] != "rejected" || finished != n as u64 - 1 {
        bail!(
            "expected {} entities to finish and the broken one to be rejected",
            n - 1
        );
    }
    Ok(())
}

/// The batch's input directory: the fixture spec and data, a copy of the data with a negative
/// spend in its first row (broken.csv), and entities.csv with `n - 1` seeded copies of the
/// fixture and the broken entity.
fn write_batch_input(input: &Path, n: usize) -> Result<()> {
    std::fs::create_dir_all(input)?;
    std::fs::copy(root().join(FIXTURE_SPEC), input.join("spec.toml"))?;
    let data = std::fs::read_to_string(root().join(FIXTURE_DATA))?;
    std::fs::write(input.join("data.csv"), &data)?;
    std::fs::write(input.join("broken.csv"), with_negative_spend(&data)? + "\n")?;
    let mut entities = String::from("entity,data,overrides\n");
    for i in 1..n {
        entities.push_str(&format!("brand_{i:03},data.csv,sampler.seed={i}\n"));
    }
    entities.push_str("broken,broken.csv,\n");
    std::fs::write(input.join("entities.csv"), entities)?;
    Ok(())
}

/// The fixture CSV with the first data row's x1 spend set to -1 (no final newline).
fn with_negative_spend(data: &str) -> Result<String> {
    let mut lines: Vec<String> = data.lines().map(str::to_string).collect();
    let x1 = lines[0]
        .split(',')
        .position(|c| c == "x1")
        .context("fixture has x1")?;
    let mut cells: Vec<String> = lines[1].split(',').map(str::to_string).collect();
    cells[x1] = "-1".into();
    lines[1] = cells.join(",");
    Ok(lines.join("\n"))
}

fn batch_record(args: &BenchBatchArgs, wall: f64, exit_code: Option<i32>, rows: &[Value]) -> Value {
    let count = |status: &str| rows.iter().filter(|r| r["status"] == status).count();
    serde_json::json!({
        "command": format!(
            "cargo xtask bench-batch --entities {}{}",
            args.entities,
            no_refits_flag(args.no_refits)
        ),
        "refit_checks": !args.no_refits,
        "machine": machine(),
        "entities": args.entities,
        "wall_seconds": wall,
        "exit_code": exit_code,
        "ok": count("ok"),
        "gates_failed": count("gates_failed"),
        "rejected": count("rejected"),
        "failed": count("failed") + count("refused"),
        "broken_entity_status": rows.iter().find(|r| r["entity"] == "broken").map(|r| r["status"].clone()),
    })
}
