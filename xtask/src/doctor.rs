//! `cargo xtask doctor`: the prerequisites of the README's two commands, each checked with the
//! fix printed beside it. Exit 1 when a required one is missing; optional ones only warn.

use std::process::Command;

use anyhow::{Result, bail};

use crate::workspace::{root, target_dir};

/// Free disk space a cold build and the test suite need under the target directory (GiB).
const MIN_FREE_GIB: u64 = 15;

/// The oldest Rust the workspace builds with (`rust-version` in Cargo.toml).
const MIN_RUST: (u64, u64) = (1, 95);

/// One prerequisite's verdict.
struct Check {
    name: &'static str,
    required: bool,
    /// `Ok(what was found)` or `Err((what is wrong, how to fix it))`.
    result: Result<String, (String, String)>,
}

/// Run every check, print one line each, and fail when a required one failed.
pub fn doctor() -> Result<()> {
    let checks = [
        rust(),
        target_cpu(),
        python(),
        test_venv(),
        chromium(),
        disk(),
        nextest(),
    ];
    let mut failed = 0;
    for c in &checks {
        match &c.result {
            Ok(found) => println!("ok    {}: {found}", c.name),
            Err((problem, fix)) => {
                let tag = if c.required { "FAIL" } else { "warn" };
                failed += usize::from(c.required);
                println!("{tag}  {}: {problem}\n      fix: {fix}", c.name);
            }
        }
    }
    if failed > 0 {
        bail!("{failed} required prerequisite(s) missing");
    }
    println!("every required prerequisite is present");
    Ok(())
}

/// stdout of a command, trimmed, when it ran and succeeded.
fn output(program: &str, args: &[&str]) -> Option<String> {
    let o = Command::new(program).args(args).output().ok()?;
    o.status
        .success()
        .then(|| String::from_utf8_lossy(&o.stdout).trim().to_string())
}

fn rust() -> Check {
    let found = output("rustc", &["--version"]);
    let version = found.as_deref().and_then(|v| {
        let mut parts = v.split_whitespace().nth(1)?.split('.');
        Some((
            parts.next()?.parse::<u64>().ok()?,
            parts.next()?.parse::<u64>().ok()?,
        ))
    });
    let fix = "install Rust with rustup (https://rustup.rs), then `rustup update stable`".into();
    Check {
        name: "rust",
        required: true,
        result: match (found, version) {
            (Some(v), Some(ver)) if ver >= MIN_RUST => Ok(v),
            (Some(v), _) => Err((format!("{v}; the workspace needs 1.95 or newer"), fix)),
            (None, _) => Err(("rustc not found".into(), fix)),
        },
    }
}

/// The default build runs on any CPU; the log-density kernels use AVX2 + FMA where the CPU has
/// them (checked at run time), so a CPU without them is slower, not unsupported.
fn target_cpu() -> Check {
    let result = if cfg!(target_arch = "x86_64") {
        let flags = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let has = |f: &str| flags.split_whitespace().any(|w| w == f);
        if has("avx2") && has("fma") {
            Ok("AVX2 and FMA present: the log-density kernels use them".into())
        } else {
            Err((
                "no AVX2/FMA: the portable kernels run instead (about 1.6x slower log density)"
                    .into(),
                "nothing to do; the default build runs on any x86-64".into(),
            ))
        }
    } else {
        Ok("not x86-64: portable kernels".into())
    };
    Check {
        name: "cpu",
        required: false,
        result,
    }
}

fn python() -> Check {
    let version = output("python3", &["--version"]);
    let venv = output("python3", &["-c", "import venv, ensurepip"]).is_some();
    Check {
        name: "python3 + venv",
        required: true,
        result: match version {
            Some(v) if venv => Ok(v),
            Some(v) => Err((
                format!("{v} without its venv module"),
                "apt install python3-venv".into(),
            )),
            None => Err((
                "python3 not found".into(),
                "apt install python3 python3-venv".into(),
            )),
        },
    }
}

/// The project's test virtualenv (scripts/install_test_services.sh; `cargo xtask test` makes it).
fn test_venv() -> Check {
    let works = |venv: &str, imports: &str| {
        let python = root().join(venv).join("bin/python");
        python.exists() && output(&python.to_string_lossy(), &["-c", imports]).is_some()
    };
    let ok =
        works(".venv", "import arviz, zarr, h5netcdf") && works(".venv-s3", "import moto, boto3");
    Check {
        name: "test virtualenvs (.venv, .venv-s3)",
        required: false,
        result: if ok {
            Ok("arviz, zarr and h5netcdf in .venv, moto and boto3 in .venv-s3".into())
        } else {
            Err((
                "not installed yet".into(),
                "bash scripts/install_test_services.sh (cargo xtask test runs it)".into(),
            ))
        },
    }
}

fn chromium() -> Check {
    Check {
        name: "chromium (report and studio checks)",
        required: false,
        result: match output("chromium", &["--version"]) {
            Some(v) => Ok(v),
            None => Err((
                "not found; cargo xtask test installs it with apt-get when run as root".into(),
                "apt install chromium".into(),
            )),
        },
    }
}

fn disk() -> Check {
    let dir = target_dir();
    let probe = std::iter::successors(Some(dir.as_path()), |p| p.parent())
        .find(|p| p.exists())
        .unwrap_or(dir.as_path())
        .to_path_buf();
    let free_kib = output("df", &["-Pk", &probe.to_string_lossy()]).and_then(|out| {
        let line = out.lines().nth(1)?.to_string();
        line.split_whitespace().nth(3)?.parse::<u64>().ok()
    });
    let fix = format!(
        "free space there, or point CARGO_TARGET_DIR at a disk with {MIN_FREE_GIB} GiB free"
    );
    Check {
        name: "disk",
        required: true,
        result: match free_kib {
            Some(kib) if kib / (1024 * 1024) >= MIN_FREE_GIB => Ok(format!(
                "{} GiB free at {}",
                kib / (1024 * 1024),
                probe.display()
            )),
            Some(kib) => Err((
                format!("{} GiB free at {}", kib / (1024 * 1024), probe.display()),
                fix,
            )),
            None => Err(("could not read free space (df)".into(), fix)),
        },
    }
}

fn nextest() -> Check {
    Check {
        name: "cargo-nextest",
        required: false,
        result: match output("cargo-nextest", &["--version"]) {
            Some(v) => Ok(v),
            None => Err((
                "not installed; cargo xtask test falls back to cargo test".into(),
                "cargo install cargo-nextest --locked".into(),
            )),
        },
    }
}
