//! The command line of `cargo xtask`: one subcommand per task, parsed with clap.

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

/// Developer tasks for the mmm workspace (each builds `mmm` in release first).
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    // `cargo xtask` alone prints the help to stderr and exits 2 (clap's usage error): no task is
    // a mistake, not a request for help (`cargo xtask help` and `--help` exit 0).
    arg_required_else_help = true,
    subcommand_required = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub task: Task,
}

#[derive(Debug, Subcommand)]
pub enum Task {
    /// Run every stage on the bundled fixture (fixtures/pymc_example) into runs/pymc_example
    /// and print the report's path; a changed fixture spec redoes every stage (`--force`).
    Pipeline {
        /// Extra arguments passed on to `mmm run` (for example `--force`, `--calendar FILE`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "MMM_RUN_ARGS"
        )]
        args: Vec<String>,
    },
    /// Run the whole test suite (release profile, nextest when installed), the Ballista
    /// equivalence test, the schema check, SBC and recovery on the fixture, the report check in
    /// headless Chromium, and the example Airflow DAG in Airflow.
    Test,
    /// Check the prerequisites of `pipeline` and `test` (Rust version, target CPU, Python with
    /// venv, free disk; optional: the test virtualenv, Chromium, cargo-nextest) and print each
    /// one's fix; exit 1 when a required one is missing.
    Doctor,
    /// Regenerate schemas/ from the artifact types.
    Schemas {
        /// Write nothing; fail when schemas/ differs from what would be generated.
        #[arg(long)]
        check: bool,
    },
    /// Time a fixture's whole pipeline N times and write target/bench/NAME[_no_refits].json.
    Bench(BenchArgs),
    /// The studio end to end in headless Chromium on two fixture runs (part of `test`):
    /// screenshots in target/studio-screenshots.
    Studio,
    /// Latency of a studio planner evaluation (4,000 draws) on the fixture and the 8-geo
    /// panel, in-process and over HTTP: target/bench/studio.json.
    BenchStudio {
        /// Timed evaluations per run; the summary reports median and 95th percentile.
        #[arg(long, default_value_t = 50)]
        repeats: usize,
    },
    /// Time `mmm batch` on N fixture-sized entities (one deliberately broken, which must be
    /// rejected while the others finish) and write target/bench/batch[_no_refits].json.
    BenchBatch(BenchBatchArgs),
    /// Simulation-based calibration on the fixture spec (`mmm sbc`: by default N = 200
    /// simulations, L = 99 draws, 20 bins, alpha 0.01) into target/sbc.
    Sbc {
        /// Extra arguments passed on to `mmm sbc` (for example `--sims 50`, `--quiet`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "MMM_SBC_ARGS"
        )]
        args: Vec<String>,
    },
    /// Parameter recovery on the fixture spec (`mmm recovery`: by default 100 simulated data
    /// sets fitted with the spec's sampler settings, coverage of 50% and 90% intervals) into
    /// target/recovery.
    Recovery {
        /// Extra arguments passed on to `mmm recovery` (for example `--sims 20`, `--quiet`).
        #[arg(
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_name = "MMM_RECOVERY_ARGS"
        )]
        args: Vec<String>,
    },
    /// Recovery at known parameters for every case of fixtures/recovery/sweep.toml: checks that
    /// each channel's 90% contribution interval holds the truth as often as a calibrated
    /// posterior would; writes target/recovery-sweep/summary.json.
    RecoverySweep(SweepArgs),
}

#[derive(Debug, Args, PartialEq, Eq)]
pub struct BenchArgs {
    /// Timed runs of the pipeline; the summary reports their medians.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub runs: usize,
    /// Fixture to run: fixtures/NAME/spec.toml on fixtures/NAME/data.csv (for example
    /// pymc_example, bench_10ch, geo_bench).
    #[arg(long, value_name = "NAME", default_value = "pymc_example")]
    pub fixture: String,
    /// Skip the refit checks (bootstrap sign stability, rolling-origin CV), which refit the
    /// model many times: measures the pipeline with one fit, as the sampler targets define it.
    #[arg(long)]
    pub no_refits: bool,
}

#[derive(Debug, Args, PartialEq, Eq)]
pub struct BenchBatchArgs {
    /// Entities in the batch: N - 1 copies of the fixture data under different seeds plus one
    /// with a negative spend.
    #[arg(long, value_name = "N", default_value_t = 100,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub entities: usize,
    /// Skip the refit checks of every entity (see `bench --no-refits`).
    #[arg(long)]
    pub no_refits: bool,
}

#[derive(Debug, Args, PartialEq, Eq)]
pub struct SweepArgs {
    /// Simulated data sets (noise seeds) per case.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub sims: usize,
    /// Run only the case with this name (as in fixtures/recovery/sweep.toml); default: all.
    #[arg(long, value_name = "NAME")]
    pub case: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn try_parse(args: &[&str]) -> Result<Task, clap::Error> {
        Cli::try_parse_from(std::iter::once("cargo xtask").chain(args.iter().copied()))
            .map(|cli| cli.task)
    }

    fn parse(args: &[&str]) -> Task {
        try_parse(args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    fn parse_err(args: &[&str]) -> clap::Error {
        match try_parse(args) {
            Ok(task) => panic!("{args:?} parsed to {task:?}"),
            Err(e) => e,
        }
    }

    fn forwarded(task: Task) -> Vec<String> {
        match task {
            Task::Pipeline { args } | Task::Sbc { args } | Task::Recovery { args } => args,
            other => panic!("{other:?} forwards nothing"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn an_unknown_task_is_an_error_with_a_suggestion() {
        let err = parse_err(&["frobnicate"]);
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        assert_eq!(err.exit_code(), 2);
        let err = parse_err(&["benhc"]);
        assert_eq!(err.kind(), ErrorKind::InvalidSubcommand);
        assert!(err.to_string().contains("bench"), "{err}");
    }

    #[test]
    fn an_unknown_flag_is_an_error() {
        for args in [
            &["bench", "--frobnicate"][..],
            &["test", "--runs", "3"],
            &["schemas", "--chekc"],
            &["recovery-sweep", "--runs", "3"],
        ] {
            let err = parse_err(args);
            assert_eq!(err.kind(), ErrorKind::UnknownArgument, "{args:?}");
            assert_eq!(err.exit_code(), 2);
        }
        assert!(try_parse(&["bench", "--runs", "three"]).is_err());
        assert!(try_parse(&["bench-batch", "--entities", "0"]).is_err());
    }

    #[test]
    fn no_task_prints_help_and_exits_2() {
        let err = parse_err(&[]);
        assert_eq!(
            err.kind(),
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
        );
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("recovery-sweep"), "{err}");
    }

    #[test]
    fn help_exits_0() {
        for args in [
            &["--help"][..],
            &["help"],
            &["bench", "--help"],
            &["sbc", "--help"],
        ] {
            let err = parse_err(args);
            assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{args:?}");
            assert_eq!(err.exit_code(), 0);
        }
    }

    #[test]
    fn bench_flags_parse() {
        let Task::Bench(args) = parse(&[
            "bench",
            "--runs",
            "3",
            "--fixture",
            "bench_10ch",
            "--no-refits",
        ]) else {
            panic!("not bench")
        };
        assert_eq!(
            args,
            BenchArgs {
                runs: 3,
                fixture: "bench_10ch".into(),
                no_refits: true
            }
        );
    }

    #[test]
    fn defaults_are_as_documented() {
        let Task::Bench(bench) = parse(&["bench"]) else {
            panic!("not bench")
        };
        assert_eq!(
            bench,
            BenchArgs {
                runs: 5,
                fixture: "pymc_example".into(),
                no_refits: false
            }
        );
        let Task::BenchBatch(batch) = parse(&["bench-batch"]) else {
            panic!("not bench-batch")
        };
        assert_eq!(
            batch,
            BenchBatchArgs {
                entities: 100,
                no_refits: false
            }
        );
        let Task::RecoverySweep(sweep) = parse(&["recovery-sweep"]) else {
            panic!("not recovery-sweep")
        };
        assert_eq!(
            sweep,
            SweepArgs {
                sims: 100,
                case: None
            }
        );
        assert!(matches!(
            parse(&["schemas"]),
            Task::Schemas { check: false }
        ));
        assert!(matches!(
            parse(&["schemas", "--check"]),
            Task::Schemas { check: true }
        ));
        assert!(matches!(parse(&["test"]), Task::Test));
        for task in ["pipeline", "sbc", "recovery"] {
            assert!(forwarded(parse(&[task])).is_empty(), "{task}");
        }
    }

    #[test]
    fn sweep_flags_parse() {
        let Task::RecoverySweep(sweep) =
            parse(&["recovery-sweep", "--sims", "10", "--case", "poisson"])
        else {
            panic!("not recovery-sweep")
        };
        assert_eq!(
            sweep,
            SweepArgs {
                sims: 10,
                case: Some("poisson".into())
            }
        );
    }

    #[test]
    fn extra_arguments_are_forwarded_verbatim() {
        assert_eq!(forwarded(parse(&["sbc", "--sims", "50"])), ["--sims", "50"]);
        assert_eq!(
            forwarded(parse(&["recovery", "--quiet", "--sims", "20"])),
            ["--quiet", "--sims", "20"]
        );
        assert_eq!(
            forwarded(parse(&["pipeline", "--calendar", "cal.csv", "--force"])),
            ["--calendar", "cal.csv", "--force"]
        );
    }
}
