//! Developer tasks. `cargo xtask <task>` (`cargo xtask help <task>` for its flags):
//!
//! - `pipeline`  build `mmm` in release and run every stage on the bundled fixture into
//!   runs/pymc_example (extra arguments are passed on to `mmm run`)
//! - `test`      run the whole test suite (release profile, nextest when installed), the Ballista
//!   equivalence test, the schema check, SBC and recovery on the fixture, the report check in
//!   headless Chromium, and the example Airflow DAG run in Airflow
//! - `doctor`    check the prerequisites (Rust, target CPU, Python with venv, disk; optional:
//!   the test virtualenv, Chromium, cargo-nextest), each with its fix; exit 1 when one is missing
//! - `schemas`   regenerate schemas/ (`--check` fails when they drift)
//! - `bench`     run a fixture's pipeline N times (`--runs N`, default 5; `--fixture NAME`, default
//!   pymc_example, or bench_10ch; `--no-refits` skips the refit checks) and write
//!   target/bench/NAME[_no_refits].json
//! - `studio`    the studio end to end in headless Chromium (scripts/studio_browser_test.sh) on
//!   two fixture runs; screenshots in target/studio-screenshots
//! - `bench-studio` latency of a planner evaluation on the fixture and the 8-geo panel
//!   (`--repeats N`, default 50): target/bench/studio.json
//! - `bench-batch` run `mmm batch` on N fixture-sized entities (`--entities N`, default 100;
//!   one of them deliberately broken; `--no-refits` as above) and write target/bench/batch*.json
//! - `sbc`       simulation-based calibration on the fixture spec (`mmm sbc`; default N = 200,
//!   L = 99, 20 bins, alpha 0.01; extra flags are passed on) into target/sbc
//! - `recovery`  parameter recovery on the fixture spec (`mmm recovery`; default 100 simulated
//!   data sets fitted with the spec's sampler settings, coverage of 50% and 90% intervals;
//!   extra flags are passed on) into target/recovery
//! - `recovery-sweep` recovery at known parameters for every case of
//!   fixtures/recovery/sweep.toml (`--sims N`, default 100; `--case NAME` runs one case): fails
//!   when a channel's 90% interval holds its truth less often than a calibrated posterior
//!   would; writes target/recovery-sweep/summary.json
//!
//! An unknown task or flag is an error (exit code 2); so is `cargo xtask` without a task, which
//! prints the help.

mod bench;
mod calibration;
mod checks;
mod cli;
mod doctor;
mod pipeline;
mod studio;
mod workspace;

use anyhow::Result;
use clap::Parser;

use crate::cli::{Cli, Task};

fn main() -> Result<()> {
    match Cli::parse().task {
        Task::Pipeline { args } => pipeline::pipeline(&args),
        Task::Test => checks::test(),
        Task::Doctor => doctor::doctor(),
        Task::Schemas { check } => checks::schemas(check),
        Task::Bench(args) => bench::bench(&args),
        Task::Studio => studio::studio_in_browser(),
        Task::BenchStudio { repeats } => studio::bench_studio(repeats),
        Task::BenchBatch(args) => bench::bench_batch(&args),
        Task::Sbc { args } => calibration::sbc(&args),
        Task::Recovery { args } => calibration::recovery(&args),
        Task::RecoverySweep(args) => calibration::recovery_sweep(&args),
    }
}
