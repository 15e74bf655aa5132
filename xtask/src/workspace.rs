//! The workspace the tasks run in: its root and target directory, cargo, the release `mmm`
//! binary, and small helpers the tasks share.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

pub const FIXTURE_SPEC: &str = "fixtures/pymc_example/spec.toml";
pub const FIXTURE_DATA: &str = "fixtures/pymc_example/data.csv";

/// The workspace root. Read at run time (cargo sets CARGO_MANIFEST_DIR for `cargo run`), not
/// baked in at compile time: a target directory shared between clones may hold an xtask binary
/// built from another checkout.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."))
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"))
}

/// Package variables that `cargo run` sets for xtask itself, besides `CARGO_PKG_*`.
const XTASK_PACKAGE_VARS: [&str; 7] = [
    "CARGO_MANIFEST_DIR",
    "CARGO_MANIFEST_PATH",
    "CARGO_MANIFEST_LINKS",
    "CARGO_CRATE_NAME",
    "CARGO_BIN_NAME",
    "CARGO_PRIMARY_PACKAGE",
    "OUT_DIR",
];

pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    // `cargo run` gives xtask the package variables of xtask itself (CARGO_MANIFEST_DIR,
    // CARGO_PKG_NAME, ...). Some build scripts (ring's, through cc) rerun when those change,
    // which would rebuild ring, rustls, object_store and DataFusion whenever the builds below
    // alternate with plain `cargo` invocations or run from another clone; so drop them.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_") || XTASK_PACKAGE_VARS.contains(&key) {
            c.env_remove(key);
        }
    }
    c
}

/// Run a command; an error unless it exits 0.
pub fn run(mut cmd: Command) -> Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// Build `mmm` in release and return the path of the binary.
pub fn build_mmm() -> Result<PathBuf> {
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

pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// Write `value` as pretty JSON with a final newline.
pub fn write_json(path: &Path, value: &serde_json::Value) -> Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(value)? + "\n")?;
    Ok(())
}

/// The CPU model and core count, recorded with every benchmark.
pub fn machine() -> String {
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
