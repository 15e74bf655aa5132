//! `mmm`: the command-line front of the pipeline, one subcommand per stage.
//!
//! Exit codes: 0 ok; 1 usage or internal error; 2 input rejected by the data contract;
//! 3 model fitted but a diagnostic gate failed (results are marked "not for decisions");
//! 130 sampling interrupted by Ctrl-C (finished draws kept, fit manifest marked incomplete).

mod schemas;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use mmm_core::spec::LoadedSpec;

#[derive(Parser)]
#[command(name = "mmm", version, about = "Bayesian marketing-mix modeling, one stage per command", long_about = None)]
struct Cli {
    /// Log more (repeat for debug output).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    /// Only print errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with spec files.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Write the JSON schemas of the spec, manifest and artifacts (or check them).
    Schemas {
        /// Directory that holds the schema files.
        #[arg(long, default_value = "schemas")]
        dir: PathBuf,
        /// Do not write; fail when the files differ from what would be written.
        #[arg(long)]
        check: bool,
    },
    /// Stage 1: check the raw data against the contract; write table.parquet and contract.json.
    Validate {
        #[command(flatten)]
        common: StageArgs,
        /// Raw data file (.csv or .parquet): wide (one row per period, or period and geo) or
        /// long (spec `data.layout`).
        #[arg(long)]
        data: PathBuf,
        /// Campaign-to-channel mapping (CSV or Parquet with `campaign` and `channel` columns)
        /// for long inputs with campaign rows.
        #[arg(long)]
        campaign_map: Option<PathBuf>,
        /// The previous run's validate/table.parquet: report refresh drift against it.
        #[arg(long)]
        previous: Option<PathBuf>,
    },
    /// Stage 2: scale on the training window and build the design; write design.parquet, scales.json.
    Features {
        #[command(flatten)]
        common: StageArgs,
        /// Directory of a finished validate stage.
        #[arg(long)]
        validate: PathBuf,
    },
    /// Stage 3: sample the posterior with NUTS; write draws.parquet and sample_stats.parquet.
    Fit {
        #[command(flatten)]
        common: StageArgs,
        /// Directory of a finished features stage.
        #[arg(long)]
        features: PathBuf,
        #[command(flatten)]
        sampling: SamplingArgs,
    },
    /// Stage 4: convergence, predictive checks and gates; write diagnostics.json and ppc.parquet.
    Diagnose {
        #[command(flatten)]
        common: StageArgs,
        /// Directory of a finished features stage.
        #[arg(long)]
        features: PathBuf,
        /// Directory of a finished fit stage.
        #[arg(long)]
        fit: PathBuf,
    },
    /// Stage 5: counterfactual contributions, shares and ROAS; write contributions, decomposition, roi.
    Decide {
        #[command(flatten)]
        common: StageArgs,
        /// Directory of a finished features stage.
        #[arg(long)]
        features: PathBuf,
        /// Directory of a finished fit stage.
        #[arg(long)]
        fit: PathBuf,
        /// Directory of a finished diagnose stage.
        #[arg(long)]
        diagnose: PathBuf,
    },
    /// Stage 6: render report.html and model_card.md from a run directory alone.
    Report {
        /// Run directory holding the validate .. decide stage directories and spec.toml.
        #[arg(long)]
        run: PathBuf,
        /// Output directory (default: RUN/report).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Redo even when the outputs are fresh.
        #[arg(long)]
        force: bool,
    },
    /// Run every stage in order into a run directory.
    Run {
        /// Model spec (TOML). Frozen into RUN/spec.toml.
        #[arg(long)]
        spec: PathBuf,
        /// Raw data file (.csv or .parquet).
        #[arg(long)]
        data: PathBuf,
        /// Run directory to create or update.
        #[arg(long)]
        out: PathBuf,
        /// Redo every stage even when its outputs are fresh.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        sampling: SamplingArgs,
    },
}

#[derive(Subcommand)]
enum SpecCommand {
    /// Parse and validate a spec; list every problem with its key path.
    Check {
        /// The spec file.
        file: PathBuf,
    },
}

#[derive(Args)]
struct StageArgs {
    /// Model spec (TOML); its sha256 goes into the manifest.
    #[arg(long)]
    spec: PathBuf,
    /// Output directory of this stage.
    #[arg(long)]
    out: PathBuf,
    /// Redo even when the outputs are fresh (same inputs and spec).
    #[arg(long)]
    force: bool,
}

#[derive(Args, Clone, Default)]
struct SamplingArgs {
    /// Override the spec's seed (chain c uses stream c+1 of it).
    #[arg(long)]
    seed: Option<u64>,
    /// Worker threads for the chains (default: one per core). Draws do not depend on it.
    #[arg(long, default_value_t = 0)]
    threads: usize,
}

/// An error with the exit code it maps to.
#[derive(Debug, thiserror::Error)]
#[error("{1}")]
struct Exit(u8, String);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = if cli.quiet {
        tracing::Level::ERROR
    } else {
        match cli.verbose {
            0 => tracing::Level::WARN,
            1 => tracing::Level::INFO,
            _ => tracing::Level::DEBUG,
        }
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_target(false)
        .init();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e
                .downcast_ref::<Exit>()
                .map(|x| x.0)
                .unwrap_or_else(|| exit_code_of(&e));
            eprintln!("error: {e:#}");
            ExitCode::from(code)
        }
    }
}

fn exit_code_of(e: &anyhow::Error) -> u8 {
    if let Some(mmm_contracts::ContractError::Rejected { .. }) =
        e.downcast_ref::<mmm_contracts::ContractError>()
    {
        2
    } else {
        1
    }
}

fn load_spec(path: &Path) -> Result<LoadedSpec> {
    LoadedSpec::load(path).map_err(anyhow::Error::from)
}

fn say(quiet: bool, msg: String) {
    if !quiet {
        eprintln!("{msg}");
    }
}

fn dispatch(cli: Cli) -> Result<u8> {
    let quiet = cli.quiet;
    match cli.command {
        Command::Spec(SpecCommand::Check { file }) => spec_check(&file),
        Command::Schemas { dir, check } => schemas::write_or_check(&dir, check),
        Command::Validate {
            common,
            data,
            campaign_map,
            previous,
        } => {
            let spec = load_spec(&common.spec)?;
            let inputs = mmm_contracts::Inputs {
                data,
                campaign_map,
                previous,
            };
            let m = mmm_contracts::run_with(&spec, &inputs, &common.out, common.force)?;
            if let Some((_, report)) = &m {
                say(quiet, mmm_contracts::summary_text(report));
            }
            report_stage(quiet, "validate", &common.out, m.is_some());
            Ok(0)
        }
        Command::Features { common, validate } => {
            let spec = load_spec(&common.spec)?;
            let m = mmm_features::run(&spec, &validate, &common.out, common.force)?;
            report_stage(quiet, "features", &common.out, m.is_some());
            Ok(0)
        }
        Command::Fit {
            common,
            features,
            sampling,
        } => {
            let spec = load_spec(&common.spec)?;
            let m = mmm_sampler::run(
                &spec,
                &features,
                &common.out,
                &fit_options(common.force, &sampling, quiet),
            )?;
            report_stage(quiet, "fit", &common.out, m.is_some());
            check_complete(m.as_ref(), &common.out)?;
            Ok(0)
        }
        Command::Diagnose {
            common,
            features,
            fit,
        } => {
            let spec = load_spec(&common.spec)?;
            let (m, d) = mmm_diagnostics::run(&spec, &features, &fit, &common.out, common.force)?;
            report_stage(quiet, "diagnose", &common.out, m.is_some());
            Ok(gate_code(quiet, &d))
        }
        Command::Decide {
            common,
            features,
            fit,
            diagnose,
        } => {
            let spec = load_spec(&common.spec)?;
            let m =
                mmm_decisions::run(&spec, &features, &fit, &diagnose, &common.out, common.force)?;
            report_stage(quiet, "decide", &common.out, m.is_some());
            Ok(0)
        }
        Command::Report { run, out, force } => {
            let out = out.unwrap_or_else(|| run.join("report"));
            let m = mmm_report::run(&run, &out, force)?;
            report_stage(quiet, "report", &out, m.is_some());
            println!("{}", out.join("report.html").display());
            Ok(0)
        }
        Command::Run {
            spec,
            data,
            out,
            force,
            sampling,
        } => run_all(&spec, &data, &out, force, &sampling, quiet),
    }
}

fn fit_options(force: bool, s: &SamplingArgs, quiet: bool) -> mmm_sampler::FitOptions {
    // Ctrl-C stops sampling but keeps the finished draws (the manifest says incomplete).
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGINT, Arc::clone(&stop)) {
        tracing::warn!("cannot install the Ctrl-C handler: {e}");
    }
    mmm_sampler::FitOptions {
        force,
        threads: s.threads,
        seed: s.seed,
        progress: !quiet,
        stop: Some(stop),
    }
}

/// Fail when the fit was stopped early: its outputs are kept but must not feed later stages.
fn check_complete(fit: Option<&mmm_core::Manifest>, dir: &Path) -> Result<()> {
    match fit {
        Some(m) if m.status == mmm_core::RunStatus::Incomplete => Err(Exit(
            130,
            format!(
                "interrupted: the finished draws are in {} and its manifest is marked incomplete; rerun to finish",
                dir.display()
            ),
        )
        .into()),
        _ => Ok(()),
    }
}

fn report_stage(quiet: bool, stage: &str, dir: &Path, ran: bool) {
    let what = if ran { "wrote" } else { "fresh, skipped" };
    say(quiet, format!("{stage:>9}: {what} {}", dir.display()));
}

fn gate_code(quiet: bool, d: &mmm_diagnostics::Diagnostics) -> u8 {
    for g in &d.gates {
        let mark = if g.passed { "pass" } else { "FAIL" };
        say(
            quiet,
            format!(
                "     gate: {mark} {} = {:.4} (threshold {})",
                g.name, g.value, g.threshold
            ),
        );
    }
    if d.passed {
        0
    } else {
        eprintln!("a diagnostic gate failed: results are marked \"not for decisions\"");
        3
    }
}

fn spec_check(file: &Path) -> Result<u8> {
    match mmm_core::Spec::load(file) {
        Ok(spec) => {
            println!(
                "{}: ok ({} channels, {} controls, {} parameters)",
                file.display(),
                spec.channels.len(),
                spec.controls.len(),
                spec.parameter_count()
            );
            Ok(0)
        }
        Err(mmm_core::CoreError::SpecInvalid { problems, .. }) => {
            for p in &problems {
                println!("{}: {p}", file.display());
            }
            Err(Exit(
                1,
                format!("{}: {} problem(s)", file.display(), problems.len()),
            )
            .into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Freeze the spec into the run directory; refuse to silently replace a different one.
fn freeze_spec(spec: &Path, run: &Path, force: bool) -> Result<PathBuf> {
    let frozen = run.join("spec.toml");
    let bytes = std::fs::read(spec).with_context(|| format!("reading {}", spec.display()))?;
    if let Ok(existing) = std::fs::read(&frozen) {
        if existing != bytes && !force {
            return Err(Exit(
                1,
                format!(
                    "{} holds a different spec; a run directory is one pre-registered model (use a new --out, or --force to replace it)",
                    frozen.display()
                ),
            )
            .into());
        }
        if existing == bytes {
            return Ok(frozen);
        }
    }
    mmm_core::write_atomic(&frozen, &bytes)?;
    Ok(frozen)
}

fn run_all(
    spec: &Path,
    data: &Path,
    run: &Path,
    force: bool,
    sampling: &SamplingArgs,
    quiet: bool,
) -> Result<u8> {
    // Validate the spec before anything is written.
    load_spec(spec)?;
    std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
    let frozen = freeze_spec(spec, run, force)?;
    let spec = load_spec(&frozen)?;
    let dir = |s: &str| run.join(s);
    let mut timings = Vec::new();
    let mut time =
        |name: &'static str, start: Instant| timings.push((name, start.elapsed().as_secs_f64()));
    let total = Instant::now();

    let t = Instant::now();
    let m = mmm_contracts::run(&spec, data, &dir("validate"), force)?;
    report_stage(quiet, "validate", &dir("validate"), m.is_some());
    time("validate", t);

    let t = Instant::now();
    let m = mmm_features::run(&spec, &dir("validate"), &dir("features"), force)?;
    report_stage(quiet, "features", &dir("features"), m.is_some());
    time("features", t);

    let t = Instant::now();
    let m = mmm_sampler::run(
        &spec,
        &dir("features"),
        &dir("fit"),
        &fit_options(force, sampling, quiet),
    )?;
    report_stage(quiet, "fit", &dir("fit"), m.is_some());
    check_complete(m.as_ref(), &dir("fit"))?;
    time("fit", t);

    let t = Instant::now();
    let (m, diagnostics) = mmm_diagnostics::run(
        &spec,
        &dir("features"),
        &dir("fit"),
        &dir("diagnose"),
        force,
    )?;
    report_stage(quiet, "diagnose", &dir("diagnose"), m.is_some());
    time("diagnose", t);
    let code = gate_code(quiet, &diagnostics);

    let t = Instant::now();
    let m = mmm_decisions::run(
        &spec,
        &dir("features"),
        &dir("fit"),
        &dir("diagnose"),
        &dir("decide"),
        force,
    )?;
    report_stage(quiet, "decide", &dir("decide"), m.is_some());
    time("decide", t);

    let t = Instant::now();
    let m = mmm_report::run(run, &dir("report"), force)?;
    report_stage(quiet, "report", &dir("report"), m.is_some());
    time("report", t);

    let per_stage: Vec<String> = timings
        .iter()
        .map(|(n, s)| format!("{n} {s:.3}s"))
        .collect();
    say(
        quiet,
        format!(
            "     time: {} (total {:.3}s)",
            per_stage.join(", "),
            total.elapsed().as_secs_f64()
        ),
    );
    if let (Some(_), Some(mb)) = (std::env::var_os("MMM_REPORT_PEAK_MEMORY"), peak_rss_mb()) {
        eprintln!("peak_rss_mb={mb:.1}");
    }
    println!("{}", dir("report").join("report.html").display());
    Ok(code)
}

/// Peak resident memory of this process (VmHWM), in MB, on Linux.
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}
