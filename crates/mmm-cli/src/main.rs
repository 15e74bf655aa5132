//! `mmm`: the command-line front of the pipeline, one subcommand per stage.
//!
//! Exit codes: 0 ok; 1 usage or internal error; 2 input rejected by the data contract;
//! 3 model fitted but a diagnostic gate failed (results are marked "not for decisions");
//! 4 `mmm inspect` found a gap in the run's chain; 5 `mmm batch`: at least one entity failed;
//! 130 interrupted by Ctrl-C (during sampling the finished draws are kept and the fit manifest
//! is marked incomplete; elsewhere nothing is half-written).

mod audit;
mod batch;
mod checks;
mod geo_recovery;
mod init;
mod interrupt;
mod plan_summary;
mod remote;
mod sbc;
mod schemas;
mod simulate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use mmm_core::Stage;
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
    /// Write a commented spec from a data file (roles detected, priors left to their defaults).
    ///
    /// The date column, frequency, geo column, target, channels and controls are detected or
    /// named with flags; every prior and transform is left to its documented default
    /// (docs/spec.md). The spec runs unchanged with `mmm run`.
    Init(init::InitArgs),
    /// Work with spec files.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// Write the JSON schemas of the spec, manifest and artifacts (or check them).
    Schemas(SchemasArgs),
    /// Stage 1: check the raw data against the contract; write table.parquet and contract.json.
    Validate(ValidateArgs),
    /// Stage 2: scale on the training window and build the design; write design.parquet, scales.json.
    Features(FeaturesArgs),
    /// Stage 3: sample the posterior with NUTS; write draws.parquet and sample_stats.parquet.
    Fit(FitArgs),
    /// Stage 4: convergence, predictive checks and gates; write diagnostics.json and ppc.parquet.
    Diagnose(DiagnoseArgs),
    /// Stage 5: counterfactual contributions, shares and ROAS; write contributions, decomposition, roi
    /// (with --ensemble RUN.., the same decisions and the optimizer from a stacked ensemble of runs).
    Decide(DecideArgs),
    /// Stage 6: render report.html and model_card.md from a run directory alone.
    Report(ReportArgs),
    /// Budget optimizer over all posterior draws; write allocation.parquet and plan.json.
    Optimize(OptimizeArgs),
    /// Outcome distributions of spend plans from a file (week x channel) vs the current plan.
    Scenario(ScenarioArgs),
    /// Compare a recorded decision's predicted outcome with realized outcomes.
    Review(ReviewArgs),
    /// Run every stage in order into a run directory.
    Run(RunArgs),
    /// Run every stage for many entities (brands, markets) listed in a file, with a bounded pool
    /// of worker processes; resumable (fresh stages are skipped); one failing entity never stops
    /// the others. Writes OUT/ENTITY/ per entity and OUT/batch_summary.parquet; exit code 5 when
    /// an entity failed, 3 when one failed a gate.
    Batch(batch::BatchArgs),
    /// Compare runs: ROI, shares, parameters, sign flips and prediction drift of each later run
    /// against the first (guardrail: exit code 3), and a PSIS-LOO ranking of runs on the same data.
    Compare(CompareArgs),
    /// Audit a run: print each stage's lineage (crate and version, spec hash, seed, inputs and
    /// outputs with their sha256) and verify every hash; exit code 4 when an output changed or
    /// is missing, an input changed since its stage ran, or a stage came from another spec.
    Inspect(InspectArgs),
    /// Export a finished run (after diagnose) for other tools as ArviZ InferenceData:
    /// posterior, sample_stats, log_likelihood, posterior_predictive, observed_data,
    /// constant_data, prior and prior_predictive. `--format zarr` (open it with
    /// `az.InferenceData.from_datatree(xarray.open_datatree(PATH, engine="zarr"))`) or
    /// `--format netcdf` (one NetCDF-4 file: `az.from_netcdf(PATH)`).
    Export(ExportArgs),
    /// Which lift test to run next: for each channel and candidate test (its length, spend
    /// change and standard error), the expected shrinkage of the channel's ROAS interval once
    /// the result is added to the model, from the run's posterior draws (preposterior analysis
    /// with the model's own lift term; no refits). Best first. A geo hierarchy gets a test per
    /// geo and channel, ranked by the shrinkage of the channel's national ROAS interval.
    DesignExperiment(DesignExperimentArgs),
    /// What changed between two runs: spec keys, data (rows added or removed, changed history,
    /// drift of the modeling table) and results per channel (ROAS, shares, sign flips).
    Diff(DiffArgs),
    /// Simulation-based calibration of model and sampler on a spec's inputs (developer check;
    /// `cargo xtask sbc` runs it on the fixture): writes sbc.json, ranks.csv and rank_histograms.svg.
    Sbc(SbcArgs),
    /// Parameter recovery (developer check; `cargo xtask recovery` runs it on the fixture): fit
    /// data simulated from prior draws with the spec's sampler settings and report how often
    /// the central intervals of every parameter and channel contribution cover the truth
    /// (recovery.json; exit code 3 when a coverage is outside its binomial band).
    Recovery(RecoveryArgs),
    /// Draw a data set from the model at known parameters: OUT/data.csv (the spec's data with
    /// the target replaced by one draw) and OUT/truth.json (the parameters and each channel's
    /// true contribution, share, ROAS and ROI over the training window), for recovery checks.
    Simulate(SimulateArgs),
    /// A local web app over the finished runs under a directory: the runs list (lineage
    /// verified as `mmm inspect` does), each run's report with interactive charts, a scenario
    /// planner (the code of `mmm scenario` and `mmm optimize` over all posterior draws), two
    /// runs side by side, and saved plans as decision records (docs/studio.md).
    Studio(StudioArgs),
}

/// Arguments of `mmm studio`.
#[derive(Args)]
struct StudioArgs {
    /// Directory whose subdirectories are run directories (`mmm run --out DIR/NAME`). The studio
    /// only reads them; a run that fails verification is shown with its problems and no numbers.
    #[arg(long)]
    runs: PathBuf,
    /// Port to listen on (0: any free port; the address is printed).
    #[arg(long, default_value_t = mmm_studio::DEFAULT_PORT)]
    port: u16,
    /// Address to bind. The default, 127.0.0.1, accepts connections from this machine only;
    /// the studio has no login, so bind another address only on a network you trust.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// Directory that saved plans are written into, one folder per plan (`RUN--NAME/`, what
    /// `mmm scenario --record` writes). Default: `plans` beside the runs directory
    /// (`RUNS/../plans`); never inside the runs directory.
    #[arg(long)]
    plans: Option<PathBuf>,
}

/// Arguments of `mmm schemas`.
#[derive(Args)]
struct SchemasArgs {
    /// Directory that holds the schema files.
    #[arg(long, default_value = "schemas")]
    dir: PathBuf,
    /// Do not write; fail when the files differ from what would be written.
    #[arg(long)]
    check: bool,
}

/// The data inputs of `mmm validate` and `mmm run`.
#[derive(Args)]
struct DataArgs {
    /// Raw data file (.csv or .parquet): wide (one row per period, or period and geo) or
    /// long (spec `data.layout`).
    #[arg(long)]
    data: PathBuf,
    /// Campaign-to-channel mapping (CSV or Parquet with `campaign` and `channel` columns)
    /// for long inputs with campaign rows.
    #[arg(long)]
    campaign_map: Option<PathBuf>,
    /// Holiday and event calendar (CSV or Parquet with columns `event` and `date`): each
    /// event declared in the spec's [[events]] takes the dates of its rows.
    #[arg(long)]
    calendar: Option<PathBuf>,
    /// The previous run's validate/table.parquet: report refresh drift against it.
    #[arg(long)]
    previous: Option<PathBuf>,
}

impl DataArgs {
    /// The contract stage's inputs, fetched through `io`; without `--previous` the refresh
    /// drift is measured against `previous_table` when there is one.
    fn contract_inputs(
        &self,
        io: &remote::Io,
        previous_table: Option<PathBuf>,
        sql_engine: mmm_contracts::SqlEngine,
    ) -> Result<mmm_contracts::Inputs> {
        Ok(mmm_contracts::Inputs {
            data: io.file(&self.data)?,
            campaign_map: io.opt_file(self.campaign_map.as_ref())?,
            calendar: io.opt_file(self.calendar.as_ref())?,
            previous: io.opt_file(self.previous.as_ref())?.or(previous_table),
            sql_engine,
        })
    }
}

/// Arguments of `mmm validate`.
#[derive(Args)]
struct ValidateArgs {
    #[command(flatten)]
    common: StageArgs,
    #[command(flatten)]
    inputs: DataArgs,
    /// Where the ingestion queries (long-format pivots, daily-to-weekly aggregation) run:
    /// `local` (the built-in engine), `datafusion` (Apache DataFusion in this process),
    /// `ballista` (a Ballista scheduler and executor started in this process) or a Ballista
    /// scheduler URL `df://HOST:PORT`. DataFusion and Ballista need a build with `--features
    /// datafusion` or `--features ballista`; every engine gives the same table (to the last bit of
    /// a sum over millions of rows, which DataFusion adds in partitions).
    #[arg(long, default_value = "local")]
    sql_engine: mmm_contracts::SqlEngine,
}

/// Arguments of `mmm features`.
#[derive(Args)]
struct FeaturesArgs {
    #[command(flatten)]
    common: StageArgs,
    /// Directory of a finished validate stage.
    #[arg(long)]
    validate: PathBuf,
}

/// Arguments of `mmm fit`.
#[derive(Args)]
struct FitArgs {
    #[command(flatten)]
    common: StageArgs,
    /// Directory of a finished features stage.
    #[arg(long)]
    features: PathBuf,
    #[command(flatten)]
    sampling: SamplingArgs,
}

/// Arguments of `mmm diagnose`.
#[derive(Args)]
struct DiagnoseArgs {
    #[command(flatten)]
    common: StageArgs,
    /// Directory of a finished features stage.
    #[arg(long)]
    features: PathBuf,
    /// Directory of a finished fit stage.
    #[arg(long)]
    fit: PathBuf,
    /// Skip the refit checks (bootstrap sign stability, rolling-origin cross-validation).
    #[arg(long)]
    no_refits: bool,
}

/// Arguments of `mmm decide`: one run's stages, or `--ensemble` runs.
#[derive(Args)]
struct DecideArgs {
    /// Model spec (TOML); its sha256 goes into the manifest. Not with --ensemble (the first
    /// run's spec.toml is used).
    #[arg(
        long,
        required_unless_present = "ensemble",
        conflicts_with = "ensemble"
    )]
    spec: Option<PathBuf>,
    /// Output directory of this stage (with --ensemble: of the ensemble; write it to
    /// RUN_A/ensemble to show it in the first run's report).
    #[arg(long)]
    out: PathBuf,
    /// Redo even when the outputs are fresh (same inputs and spec).
    #[arg(long)]
    force: bool,
    /// Directory of a finished features stage.
    #[arg(
        long,
        required_unless_present = "ensemble",
        conflicts_with = "ensemble"
    )]
    features: Option<PathBuf>,
    /// Directory of a finished fit stage.
    #[arg(
        long,
        required_unless_present = "ensemble",
        conflicts_with = "ensemble"
    )]
    fit: Option<PathBuf>,
    /// Directory of a finished diagnose stage.
    #[arg(
        long,
        required_unless_present = "ensemble",
        conflicts_with = "ensemble"
    )]
    diagnose: Option<PathBuf>,
    /// Decide from the stacked ensemble of these run directories (at least two, fitted on the
    /// same data and channels): contributions, ROAS, curves and the optimizer's plan from the
    /// mixture of their posteriors with LOO stacking weights; settings from the first run's
    /// spec. Writes ensemble.json, contributions, roi, curves and allocation (.parquet) and
    /// plan.json.
    #[arg(long, num_args = 2.., value_name = "RUN")]
    ensemble: Vec<PathBuf>,
}

/// Arguments of `mmm report`.
#[derive(Args)]
struct ReportArgs {
    /// Run directory holding the validate .. decide stage directories and spec.toml.
    #[arg(long)]
    run: PathBuf,
    /// Output directory (default: RUN/report).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Redo even when the outputs are fresh.
    #[arg(long)]
    force: bool,
}

/// Arguments of `mmm optimize`.
#[derive(Args)]
struct OptimizeArgs {
    #[command(flatten)]
    common: StageArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// Total budget over the horizon in currency (default: the spec's, else the reference spend).
    #[arg(long)]
    budget: Option<f64>,
    /// Objective (default: the spec's decisions.optimizer.objective).
    #[arg(long, value_parser = parse_objective)]
    objective: Option<mmm_core::spec::Objective>,
    /// Horizon in weeks (default: the spec's decisions.optimizer.horizon_weeks).
    #[arg(long)]
    weeks: Option<usize>,
}

/// Arguments of `mmm scenario`.
#[derive(Args)]
struct ScenarioArgs {
    #[command(flatten)]
    common: StageArgs,
    #[command(flatten)]
    plan: PlanArgs,
    /// CSV with columns `scenario` (optional), `week` (1..H) and one spend column per channel;
    /// for a geo hierarchy also `geo` (optional: without it a national plan is split over
    /// geos by their shares of each channel's current spend).
    #[arg(long)]
    plans: PathBuf,
}

/// Arguments of `mmm review`.
#[derive(Args)]
struct ReviewArgs {
    /// decision_record.json written by `mmm optimize --record` or `mmm scenario --record`.
    #[arg(long)]
    record: PathBuf,
    /// CSV with the data's date and target columns covering the plan's weeks (for a geo
    /// hierarchy's record, also its geo column, every week in every geo).
    #[arg(long)]
    actuals: PathBuf,
    /// Output directory (review.json).
    #[arg(long)]
    out: PathBuf,
}

/// Arguments of `mmm run`.
#[derive(Args)]
struct RunArgs {
    /// Model spec (TOML). Frozen into RUN/spec.toml.
    #[arg(long)]
    spec: PathBuf,
    #[command(flatten)]
    inputs: DataArgs,
    /// A previous run directory of this model (an earlier refresh): its table gives the
    /// refresh drift (unless --previous is given), and `mmm compare PREVIOUS OUT` is recorded
    /// in OUT/compare and shown in the report; a failed guardrail gives exit code 3.
    #[arg(long)]
    previous_run: Option<PathBuf>,
    /// Run directory to create or update.
    #[arg(long)]
    out: PathBuf,
    /// Redo every stage even when its outputs are fresh.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Skip the refit checks in the diagnose stage.
    #[arg(long)]
    no_refits: bool,
}

/// Arguments of `mmm compare`.
#[derive(Args)]
struct CompareArgs {
    /// Run directories (at least two); the first is the reference.
    #[arg(required = true, num_args = 2..)]
    runs: Vec<PathBuf>,
    /// Directory to write compare.json into.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `mmm inspect`.
#[derive(Args)]
struct InspectArgs {
    /// Run directory.
    run: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `mmm export`.
#[derive(Args)]
struct ExportArgs {
    /// Run directory (its features, fit and diagnose stages are read, never written).
    run: PathBuf,
    /// Output format: `zarr` (a Zarr v2 directory store) or `netcdf` (one NetCDF-4 file), each
    /// with the same ArviZ InferenceData groups.
    #[arg(long, value_enum, default_value = "zarr")]
    format: ExportFormat,
    /// Where to write the export (must not exist). Default: beside the run, `RUN.zarr` or
    /// `RUN.nc`.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// Arguments of `mmm design-experiment`.
#[derive(Args)]
struct DesignExperimentArgs {
    /// Run directory (its spec.toml, features and fit stages are read and verified, never
    /// written).
    run: PathBuf,
    /// Test lengths in weeks, comma-separated; each test covers the last weeks of the training
    /// window (the spend pattern the next weeks are expected to have).
    #[arg(long, value_delimiter = ',', default_value = "4,8")]
    weeks: Vec<usize>,
    /// Spend changes over the test window as fractions of the observed spend, comma-separated:
    /// -1 switches the channel off (a go-dark test), -0.5 halves it, 0.5 raises it by half.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "-1",
        allow_hyphen_values = true
    )]
    spend_change: Vec<f64>,
    /// The test's standard error in target units (from its power analysis). Default: sigma x
    /// sqrt(2 x weeks), sigma the posterior mean of the model's weekly noise.
    #[arg(long, allow_hyphen_values = true)]
    standard_error: Option<f64>,
    /// Simulated test outcomes per candidate (more: smaller Monte Carlo error).
    #[arg(long, default_value_t = 400)]
    outcomes: usize,
    /// Seed of the simulated outcomes.
    #[arg(long, default_value_t = 20_230_601)]
    seed: u64,
    /// Also write the result as JSON to this file.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

/// Formats of `mmm export`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum ExportFormat {
    /// ArviZ InferenceData as a Zarr v2 store (xarray's layout, uncompressed).
    Zarr,
    /// ArviZ InferenceData as one NetCDF-4 file (`az.from_netcdf`).
    Netcdf,
}

/// Arguments of `mmm diff`.
#[derive(Args)]
struct DiffArgs {
    /// Earlier run directory.
    run_a: PathBuf,
    /// Later run directory.
    run_b: PathBuf,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

/// Arguments of `mmm sbc`.
#[derive(Args)]
struct SbcArgs {
    /// Model spec (TOML).
    #[arg(long)]
    spec: PathBuf,
    /// Raw data file: its spend, controls and dates are the simulation inputs.
    #[arg(long)]
    data: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Simulations (N).
    #[arg(long, default_value_t = 200)]
    sims: usize,
    /// Thinned posterior draws per simulation (L); ranks are 0..=L.
    #[arg(long, default_value_t = 99)]
    ranks: usize,
    /// Histogram bins for the chi-square test; must divide L + 1.
    #[arg(long, default_value_t = 20)]
    bins: usize,
    /// Chains per fit.
    #[arg(long, default_value_t = 2)]
    chains: usize,
    /// Warm-up iterations per chain.
    #[arg(long, default_value_t = 500)]
    tune: u64,
    /// Kept draws per chain, thinned to L (2 x 1000 draws thinned to 99 keep every 20th, far
    /// enough apart that autocorrelation does not bend the rank histogram).
    #[arg(long, default_value_t = 1000)]
    draws: u64,
    /// Level of each parameter's uniformity test.
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,
    /// Fits run at once (0 = one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
}

/// Arguments of `mmm recovery`.
#[derive(Args)]
struct RecoveryArgs {
    /// Model spec (TOML).
    #[arg(long)]
    spec: PathBuf,
    /// Truth file (TOML, as for `mmm simulate`): every simulation uses these parameters
    /// (the rest drawn once from their priors) and differs only in its noise, instead of
    /// drawing each simulation's parameters from the prior.
    #[arg(long)]
    truth: Option<PathBuf>,
    /// Raw data file: its spend, controls and dates are the simulation inputs.
    #[arg(long)]
    data: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Simulated data sets.
    #[arg(long, default_value_t = 100)]
    sims: usize,
    /// Central interval levels to check (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "0.5,0.9")]
    levels: Vec<f64>,
    /// Family-wise level of the coverage checks (split over quantities x levels).
    #[arg(long, default_value_t = 0.01)]
    alpha: f64,
    /// Fits run at once (0 = one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Geo hierarchy: the smallest share of geo-channel pairs whose true ROAS must lie in
    /// its `decisions.interval` interval (exit code 3 below it).
    #[arg(long, default_value_t = 0.9)]
    min_coverage: f64,
}

/// Arguments of `mmm simulate`.
#[derive(Args)]
struct SimulateArgs {
    /// Model spec (TOML; wide, national data).
    #[arg(long)]
    spec: PathBuf,
    /// Raw data file whose dates, spend and controls are the simulation's inputs.
    #[arg(long)]
    data: PathBuf,
    /// Truth file (TOML): optional `seed`, and a `[parameters]` table of constrained values
    /// by name (`"beta[x1]" = 0.4`); parameters left out are drawn from their priors.
    #[arg(long)]
    truth: PathBuf,
    /// Output directory.
    #[arg(long)]
    out: PathBuf,
    /// Seed of the noise and prior draws (overrides the truth file's and the spec's).
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Args)]
struct PlanArgs {
    /// Directory of a finished features stage.
    #[arg(long)]
    features: PathBuf,
    /// Directory of a finished fit stage.
    #[arg(long)]
    fit: PathBuf,
    /// First week of the plan (YYYY-MM-DD): a period of the data (a backtest; its later spend
    /// is replaced by the plan) or the one right after it (default).
    #[arg(long)]
    start: Option<String>,
    /// Also write decision_record.json (the plan and its predicted outcome) for `mmm review`.
    #[arg(long)]
    record: bool,
}

fn parse_objective(s: &str) -> Result<mmm_core::spec::Objective, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| format!("'{s}': expected expected, quantile, cvar or profit"))
}

#[derive(Subcommand)]
enum SpecCommand {
    /// Parse and validate a spec; list every problem with its key path in one pass: unknown
    /// keys (with a "did you mean"), missing keys, wrong types and semantic problems.
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
    // A decoder's panic on a corrupt artifact is caught and reported as an error naming the
    // file, without the panic message; Ctrl-C exits 130 in every stage.
    mmm_core::guard::install_quiet_panic_hook();
    interrupt::install();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // clap exits 2 on a usage error, the code of rejected input: usage errors exit 1.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::from(e.use_stderr()));
        }
    };
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
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let code = e
                .downcast_ref::<Exit>()
                .map(|x| x.0)
                .unwrap_or_else(|| exit_code_of(&e));
            eprintln!("error: {}", error_chain(&e));
            ExitCode::from(code)
        }
    }
}

/// The error and its causes joined by ": ", skipping a cause whose text an outer error already
/// shows (typed errors keep their source and often print it too).
fn error_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Exit code 2 when the data input is refused: rejected by the contract, unreadable or
/// malformed (ragged CSV rows, invalid UTF-8, an unterminated quote, corrupt Parquet), or not a
/// regular file; 1 for usage and internal errors.
fn exit_code_of(e: &anyhow::Error) -> u8 {
    match e.downcast_ref::<mmm_contracts::ContractError>() {
        Some(c) if c.rejects_input() => 2,
        _ => 1,
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
        Command::Init(args) => init::run(&args, quiet),
        Command::Spec(SpecCommand::Check { file }) => spec_check(&file),
        Command::Schemas(args) => cmd_schemas(args),
        Command::Validate(args) => cmd_validate(args, quiet),
        Command::Features(args) => cmd_features(args, quiet),
        Command::Fit(args) => cmd_fit(args, quiet),
        Command::Diagnose(args) => cmd_diagnose(args, quiet),
        Command::Decide(args) => cmd_decide(args, quiet),
        Command::Report(args) => cmd_report(args, quiet),
        Command::Optimize(args) => cmd_optimize(args, quiet),
        Command::Scenario(args) => cmd_scenario(args, quiet),
        Command::Review(args) => cmd_review(args, quiet),
        Command::Run(args) => cmd_run(args, quiet),
        Command::Batch(args) => batch::run(&args, quiet),
        Command::Compare(args) => cmd_compare(args, quiet),
        Command::Inspect(args) => cmd_inspect(args),
        Command::Export(args) => cmd_export(args, quiet),
        Command::DesignExperiment(args) => cmd_design_experiment(args, quiet),
        Command::Diff(args) => cmd_diff(args),
        Command::Sbc(args) => cmd_sbc(args, quiet),
        Command::Simulate(args) => cmd_simulate(args),
        Command::Recovery(args) => cmd_recovery(args, quiet),
        Command::Studio(args) => cmd_studio(args),
    }
}

/// `mmm schemas`.
fn cmd_schemas(args: SchemasArgs) -> Result<u8> {
    let SchemasArgs { dir, check } = args;
    schemas::write_or_check(&dir, check)
}

/// `mmm validate`.
fn cmd_validate(args: ValidateArgs, quiet: bool) -> Result<u8> {
    let ValidateArgs {
        common,
        inputs,
        sql_engine,
    } = args;
    let io = remote::Io::default();
    let spec = load_spec(&io.file(&common.spec)?)?;
    let inputs = inputs.contract_inputs(&io, None, sql_engine)?;
    let out = io.stage(&common.out)?;
    let m = mmm_contracts::run_with(&spec, &inputs, &out, common.force)?;
    if let Some((_, report)) = &m {
        say(quiet, mmm_contracts::summary_text(report));
    }
    io.publish(&common.out)?;
    report_stage(quiet, "validate", &common.out, m.is_some());
    Ok(0)
}

/// `mmm features`.
fn cmd_features(args: FeaturesArgs, quiet: bool) -> Result<u8> {
    let FeaturesArgs { common, validate } = args;
    let io = remote::Io::default();
    let spec = load_spec(&io.file(&common.spec)?)?;
    let (validate, out) = (io.stage(&validate)?, io.stage(&common.out)?);
    let m = mmm_features::run(&spec, &validate, &out, common.force)?;
    io.publish(&common.out)?;
    report_stage(quiet, "features", &common.out, m.is_some());
    Ok(0)
}

/// `mmm fit`.
fn cmd_fit(args: FitArgs, quiet: bool) -> Result<u8> {
    let FitArgs {
        common,
        features,
        sampling,
    } = args;
    let io = remote::Io::default();
    let spec = load_spec(&io.file(&common.spec)?)?;
    let (features, out) = (io.stage(&features)?, io.stage(&common.out)?);
    let m = {
        let _graceful = interrupt::graceful();
        mmm_sampler::run(
            &spec,
            &features,
            &out,
            &fit_options(common.force, &sampling, quiet),
        )?
    };
    io.publish(&common.out)?;
    report_stage(quiet, "fit", &common.out, m.is_some());
    check_complete(m.as_ref(), &common.out)?;
    Ok(0)
}

/// `mmm diagnose`.
fn cmd_diagnose(args: DiagnoseArgs, quiet: bool) -> Result<u8> {
    let DiagnoseArgs {
        common,
        features,
        fit,
        no_refits,
    } = args;
    let io = remote::Io::default();
    let spec = load_spec(&io.file(&common.spec)?)?;
    let (features, fit, out) = (
        io.stage(&features)?,
        io.stage(&fit)?,
        io.stage(&common.out)?,
    );
    let refit = checks::refitter(&spec.spec);
    let (m, d) = mmm_diagnostics::run_with_refits(
        &spec,
        &features,
        &fit,
        &out,
        common.force,
        (!no_refits).then_some(&refit as mmm_diagnostics::refits::Refit<'_>),
    )?;
    io.publish(&common.out)?;
    report_stage(quiet, "diagnose", &common.out, m.is_some());
    Ok(gate_code(quiet, &d))
}

/// `mmm decide`.
fn cmd_decide(args: DecideArgs, quiet: bool) -> Result<u8> {
    if !args.ensemble.is_empty() {
        return cmd_decide_ensemble(&args.ensemble, &args.out, args.force, quiet);
    }
    let DecideArgs {
        spec,
        out,
        force,
        features,
        fit,
        diagnose,
        ..
    } = args;
    let missing = || anyhow::anyhow!("--spec, --features, --fit and --diagnose are required");
    let (spec, features, fit, diagnose) = (
        spec.ok_or_else(missing)?,
        features.ok_or_else(missing)?,
        fit.ok_or_else(missing)?,
        diagnose.ok_or_else(missing)?,
    );
    let io = remote::Io::default();
    let spec = load_spec(&io.file(&spec)?)?;
    let (features, fit, diagnose, local_out) = (
        io.stage(&features)?,
        io.stage(&fit)?,
        io.stage(&diagnose)?,
        io.stage(&out)?,
    );
    let m = mmm_decisions::run(&spec, &features, &fit, &diagnose, &local_out, force)?;
    io.publish(&out)?;
    report_stage(quiet, "decide", &out, m.is_some());
    Ok(0)
}

/// `mmm decide --ensemble`: the stacked ensemble's decisions; prints each run's weight.
fn cmd_decide_ensemble(runs: &[PathBuf], out: &Path, force: bool, quiet: bool) -> Result<u8> {
    let io = remote::Io::default();
    let local_runs = runs
        .iter()
        .map(|r| io.run_dir(r))
        .collect::<Result<Vec<_>>>()?;
    let local_out = io.stage(out)?;
    let result = mmm_decisions::ensemble::run(&local_runs, &local_out, force)?;
    io.publish(out)?;
    report_stage(quiet, "ensemble", out, result.is_some());
    if let Some((_, summary)) = result {
        for r in &summary.runs {
            say(
                quiet,
                format!(
                    "   {}: stacking weight {:.4} ({} of {} draws), pseudo-BMA+ {:.4}",
                    r.run, r.stacking_weight, r.draws, summary.draws, r.pseudo_bma_plus_weight
                ),
            );
        }
        if summary.not_for_decisions {
            say(
                quiet,
                "   warning: a run of the ensemble failed a diagnostic gate; the ensemble is \
                 marked not for decisions"
                    .into(),
            );
        }
    }
    Ok(0)
}

/// `mmm report`.
fn cmd_report(args: ReportArgs, quiet: bool) -> Result<u8> {
    let ReportArgs { run, out, force } = args;
    let io = remote::Io::default();
    let out_arg = out.unwrap_or_else(|| remote::Io::join(&run, "report"));
    let local_run = io.run_dir(&run)?;
    let local_out = io.stage(&out_arg)?;
    let m = mmm_report::run(&local_run, &local_out, force)?;
    io.publish(&out_arg)?;
    report_stage(quiet, "report", &out_arg, m.is_some());
    println!("{}", remote::Io::join(&out_arg, "report.html").display());
    Ok(0)
}

/// `mmm optimize`.
fn cmd_optimize(args: OptimizeArgs, quiet: bool) -> Result<u8> {
    let OptimizeArgs {
        common,
        plan,
        budget,
        objective,
        weeks,
    } = args;
    mmm_decisions::stages::check_horizon(weeks, "--weeks")?;
    let spec = load_spec(&common.spec)?;
    let opts = mmm_decisions::stages::OptimizeOptions {
        budget,
        horizon: weeks,
        objective,
        start: plan.start,
        record: plan.record,
        force: common.force,
    };
    let m =
        mmm_decisions::stages::run_optimize(&spec, &plan.features, &plan.fit, &common.out, &opts)?;
    report_stage(quiet, Stage::Optimize.name(), &common.out, m.is_some());
    print_summary(quiet, &common.out.join("plan.json"), plan_summary::optimize)?;
    Ok(0)
}

/// Print the summary `render` makes of the JSON file at `path` (unless quiet).
fn print_summary(quiet: bool, path: &Path, render: fn(&serde_json::Value) -> String) -> Result<()> {
    if quiet {
        return Ok(());
    }
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("parsing {}", path.display()))?;
    println!("{}", render(&value));
    Ok(())
}

/// `mmm scenario`.
fn cmd_scenario(args: ScenarioArgs, quiet: bool) -> Result<u8> {
    let ScenarioArgs {
        common,
        plan,
        plans,
    } = args;
    let spec = load_spec(&common.spec)?;
    let opts = mmm_decisions::stages::OptimizeOptions {
        start: plan.start,
        record: plan.record,
        force: common.force,
        ..Default::default()
    };
    let m = mmm_decisions::stages::run_scenario(
        &spec,
        &plan.features,
        &plan.fit,
        &plans,
        &common.out,
        &opts,
    )?;
    report_stage(quiet, Stage::Scenario.name(), &common.out, m.is_some());
    print_summary(
        quiet,
        &common.out.join("comparison.json"),
        plan_summary::scenario,
    )?;
    Ok(0)
}

/// `mmm review`.
fn cmd_review(args: ReviewArgs, quiet: bool) -> Result<u8> {
    let ReviewArgs {
        record,
        actuals,
        out,
    } = args;
    let rec = mmm_decisions::review::DecisionRecord::read(&record)?;
    let r = mmm_decisions::review::review(&rec, &actuals)?;
    let mut text = serde_json::to_vec_pretty(&r)?;
    text.push(b'\n');
    mmm_core::write_atomic(&out.join("review.json"), &text)?;
    let line = |what: &str, o: &mmm_decisions::review::Outcome| {
        format!(
            "   {what}: actual {:.2} vs predicted {:.2} [{:.2}, {:.2}]: {}",
            o.actual_total,
            o.predicted_mean,
            o.predicted_lower,
            o.predicted_upper,
            if o.inside_interval {
                "inside the interval"
            } else {
                "OUTSIDE the interval"
            }
        )
    };
    say(quiet, line("review", &r.outcome));
    for g in &r.geos {
        say(quiet, line(&format!("  geo {}", g.geo), &g.outcome));
    }
    Ok(0)
}

/// `mmm run`.
fn cmd_run(args: RunArgs, quiet: bool) -> Result<u8> {
    let RunArgs {
        spec,
        inputs,
        previous_run,
        out,
        force,
        sampling,
        no_refits,
    } = args;
    let io = remote::Io::default();
    let previous_run = previous_run.map(|r| io.run_dir(&r)).transpose()?;
    let previous_table = previous_run
        .as_ref()
        .map(|r| r.join("validate").join("table.parquet"));
    let inputs = inputs.contract_inputs(&io, previous_table, Default::default())?;
    let local_out = io.run_dir(&out)?;
    let publish = |stage: &str| io.publish(&remote::Io::join(&out, stage));
    let publish_spec = || io.publish_file(&out, "spec.toml");
    let options = RunOptions {
        force,
        quiet,
        no_refits,
        previous_run,
        publish: &publish,
        publish_spec: &publish_spec,
    };
    // For a remote run the report path printed is the mirror's, a file a browser opens.
    run_all(&io.file(&spec)?, &inputs, &local_out, &sampling, &options)
}

/// `mmm compare`.
fn cmd_compare(args: CompareArgs, quiet: bool) -> Result<u8> {
    let CompareArgs { runs, out } = args;
    checks::compare(&runs, out.as_deref(), quiet)
}

/// `mmm inspect`.
fn cmd_inspect(args: InspectArgs) -> Result<u8> {
    let InspectArgs { run, json } = args;
    match remote::Io::default().run_dir(&run) {
        Ok(local) => audit::inspect(&local, json),
        // A remote artifact whose bytes do not match its manifest: the same verdict as
        // a changed local output.
        #[cfg(feature = "s3")]
        Err(e)
            if matches!(
                e.downcast_ref::<mmm_store::StoreError>(),
                Some(mmm_store::StoreError::Corrupt { .. })
            ) =>
        {
            Err(Exit(4, error_chain(&e)).into())
        }
        Err(e) => Err(e),
    }
}

/// `mmm export`.
fn cmd_export(args: ExportArgs, quiet: bool) -> Result<u8> {
    use mmm_diagnostics::inference_data::{ExportFormat as Format, export};
    let ExportArgs { run, format, out } = args;
    let format = match format {
        ExportFormat::Zarr => Format::Zarr,
        ExportFormat::Netcdf => Format::Netcdf,
    };
    let out = out.unwrap_or_else(|| {
        let name = run
            .file_name()
            .map_or_else(|| "run".into(), |n| n.to_os_string());
        let mut file = name;
        file.push(".");
        file.push(format.extension());
        run.with_file_name(file)
    });
    let summary = export(&run, &out, format)?;
    if !quiet {
        println!(
            "InferenceData ({} chains x {} draws; groups: {}) written to {}",
            summary.chains,
            summary.draws,
            summary.groups.join(", "),
            summary.path.display()
        );
    }
    Ok(0)
}

/// `mmm design-experiment`.
fn cmd_design_experiment(args: DesignExperimentArgs, quiet: bool) -> Result<u8> {
    let spec = LoadedSpec::load(&args.run.join("spec.toml"))?;
    let opts = mmm_decisions::experiment::ExperimentOptions {
        weeks: args.weeks,
        spend_changes: args.spend_change,
        standard_error: args.standard_error,
        outcomes: args.outcomes,
        seed: args.seed,
    };
    let found = mmm_decisions::experiment::design_run(
        &spec,
        &args.run.join("features"),
        &args.run.join("fit"),
        &opts,
    )?;
    let json = serde_json::to_string_pretty(&found)?;
    if let Some(out) = &args.out {
        mmm_core::write_atomic(out, json.as_bytes())?;
    }
    if args.json {
        println!("{json}");
    } else if !quiet {
        print!("{}", plan_summary::experiments_table(&found));
    }
    Ok(0)
}

/// `mmm diff`.
fn cmd_diff(args: DiffArgs) -> Result<u8> {
    let DiffArgs { run_a, run_b, json } = args;
    audit::diff(&run_a, &run_b, json)
}

/// `mmm studio`.
fn cmd_studio(args: StudioArgs) -> Result<u8> {
    let StudioArgs {
        runs,
        port,
        bind,
        plans,
    } = args;
    let plans = plans.unwrap_or_else(|| mmm_studio::default_plans_dir(&runs));
    let config = mmm_studio::StudioConfig {
        runs,
        plans,
        bind,
        port,
    };
    let studio = mmm_studio::Studio::bind(&config)?;
    let addr = studio.local_addr()?;
    // Printed on stdout, even with --quiet: scripts read the address from it.
    println!("studio: http://{addr}/");
    studio.run()?;
    Ok(0)
}

/// `mmm sbc`.
fn cmd_sbc(args: SbcArgs, quiet: bool) -> Result<u8> {
    let SbcArgs {
        spec,
        data,
        out,
        sims,
        ranks,
        bins,
        chains,
        tune,
        draws,
        alpha,
        workers,
    } = args;
    let settings = sbc::SbcSettings {
        sims,
        ranks,
        bins,
        chains,
        tune,
        draws,
        alpha,
        workers,
    };
    sbc::run(&spec, &data, &out, &settings, quiet)
}

/// `mmm recovery`.
fn cmd_recovery(args: RecoveryArgs, quiet: bool) -> Result<u8> {
    let RecoveryArgs {
        spec,
        truth,
        data,
        out,
        sims,
        levels,
        alpha,
        workers,
        min_coverage,
    } = args;
    if load_spec(&spec)?.spec.geo.is_hierarchical() {
        let truth = truth
            .ok_or_else(|| anyhow::anyhow!("--truth is required for a geo hierarchy's recovery"))?;
        return geo_recovery::run(&spec, &data, &truth, &out, sims, min_coverage, quiet);
    }
    let settings = sbc::RecoverySettings {
        truth,
        sims,
        levels,
        alpha,
        workers,
    };
    sbc::recovery(&spec, &data, &out, &settings, quiet)
}

/// `mmm simulate`.
fn cmd_simulate(args: SimulateArgs) -> Result<u8> {
    let SimulateArgs {
        spec,
        data,
        truth,
        out,
        seed,
    } = args;
    let written = simulate::run(&spec, &data, &truth, &out, seed)?;
    println!("{}", written.display());
    Ok(0)
}

fn fit_options(force: bool, s: &SamplingArgs, quiet: bool) -> mmm_sampler::FitOptions {
    // Ctrl-C stops sampling but keeps the finished draws (the manifest says incomplete).
    mmm_sampler::FitOptions {
        force,
        threads: s.threads,
        seed: s.seed,
        progress: !quiet,
        stop: Some(interrupt::stop_flag()),
    }
}

/// Exit 130 between stages once Ctrl-C was pressed (during sampling, which stops gracefully).
fn stop_if_interrupted() -> Result<()> {
    if interrupt::requested() {
        return Err(Exit(
            interrupt::EXIT_INTERRUPTED,
            "interrupted: the stages written so far are complete; rerun to finish".into(),
        )
        .into());
    }
    Ok(())
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
    let bytes = mmm_core::read_regular_file(spec, mmm_core::spec::MAX_SPEC_BYTES)?;
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

/// Switches of `mmm run` beyond its inputs.
struct RunOptions<'a> {
    force: bool,
    quiet: bool,
    no_refits: bool,
    previous_run: Option<PathBuf>,
    /// Called after each stage (publishes it when the run lives in object storage).
    publish: &'a dyn Fn(&str) -> Result<()>,
    /// Called once the spec is frozen into the run directory.
    publish_spec: &'a dyn Fn() -> Result<()>,
}

fn run_all(
    spec: &Path,
    inputs: &mmm_contracts::Inputs,
    run: &Path,
    sampling: &SamplingArgs,
    options: &RunOptions<'_>,
) -> Result<u8> {
    let RunOptions {
        force,
        quiet,
        no_refits,
        ..
    } = *options;
    // Validate the spec before anything is written.
    load_spec(spec)?;
    std::fs::create_dir_all(run).with_context(|| format!("creating {}", run.display()))?;
    // One writer per run directory: a second `mmm run` into it is told who holds it.
    let _lock = mmm_core::DirLock::acquire(run)?;
    let frozen = freeze_spec(spec, run, force)?;
    (options.publish_spec)()?;
    let spec = load_spec(&frozen)?;
    let dir = |s: &str| run.join(s);
    let mut timings = Vec::new();
    let mut time =
        |name: &'static str, start: Instant| timings.push((name, start.elapsed().as_secs_f64()));
    let total = Instant::now();

    let t = Instant::now();
    let m = mmm_contracts::run_with(&spec, inputs, &dir("validate"), force)?;
    if let Some((_, report)) = &m {
        say(quiet, mmm_contracts::summary_text(report));
    }
    (options.publish)("validate")?;
    report_stage(quiet, "validate", &dir("validate"), m.is_some());
    time("validate", t);

    let t = Instant::now();
    let m = mmm_features::run(&spec, &dir("validate"), &dir("features"), force)?;
    (options.publish)("features")?;
    report_stage(quiet, "features", &dir("features"), m.is_some());
    time("features", t);

    let t = Instant::now();
    let m = {
        let _graceful = interrupt::graceful();
        mmm_sampler::run(
            &spec,
            &dir("features"),
            &dir("fit"),
            &fit_options(force, sampling, quiet),
        )?
    };
    (options.publish)("fit")?;
    report_stage(quiet, "fit", &dir("fit"), m.is_some());
    check_complete(m.as_ref(), &dir("fit"))?;
    stop_if_interrupted()?;
    time("fit", t);

    let t = Instant::now();
    let refit = checks::refitter(&spec.spec);
    let (m, diagnostics) = mmm_diagnostics::run_with_refits(
        &spec,
        &dir("features"),
        &dir("fit"),
        &dir("diagnose"),
        force,
        (!no_refits).then_some(&refit as mmm_diagnostics::refits::Refit<'_>),
    )?;
    (options.publish)("diagnose")?;
    report_stage(quiet, "diagnose", &dir("diagnose"), m.is_some());
    time("diagnose", t);
    let mut code = gate_code(quiet, &diagnostics);
    stop_if_interrupted()?;

    let t = Instant::now();
    let m = mmm_decisions::run(
        &spec,
        &dir("features"),
        &dir("fit"),
        &dir("diagnose"),
        &dir("decide"),
        force,
    )?;
    (options.publish)("decide")?;
    report_stage(quiet, "decide", &dir("decide"), m.is_some());
    time("decide", t);

    if let Some(previous) = &options.previous_run {
        let t = Instant::now();
        let runs = [previous.clone(), run.to_path_buf()];
        let comparison = checks::compare_and_record(&runs, Some(&dir("compare")))?;
        if !quiet {
            checks::print_comparison(&comparison, &mut std::io::stderr().lock(), quiet)?;
        }
        (options.publish)("compare")?;
        report_stage(quiet, "compare", &dir("compare"), true);
        if !comparison.passed {
            code = code.max(3);
        }
        time("compare", t);
    }

    let t = Instant::now();
    let m = mmm_report::run(run, &dir("report"), force)?;
    (options.publish)("report")?;
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
