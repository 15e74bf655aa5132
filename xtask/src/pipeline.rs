//! `cargo xtask pipeline`: every stage on the bundled fixture into runs/pymc_example.

use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::workspace::{FIXTURE_DATA, FIXTURE_SPEC, build_mmm, root};

/// `mmm run` on the fixture into runs/pymc_example, with `extra` passed on. Exit code 3 (a
/// diagnostic gate failed) is a note, not an error: the report is still written.
pub fn pipeline(extra: &[String]) -> Result<()> {
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
        .args(extra);
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
