//! Object storage: a whole run into and out of a real S3-compatible server (moto, started on
//! loopback), manifests as commit markers, verification of remote bytes, and no credential in
//! any artifact, log or output.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{fixture, repo, spec_with, stderr};

const KEY_ID: &str = "AKIAMMMTESTKEY7F3A";
const SECRET: &str = "mmm-test-secret-9c1e2b7d5a";

/// moto's S3 server on a free loopback port; killed on drop.
struct S3Server {
    child: Child,
    endpoint: String,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server() -> Option<S3Server> {
    let exe = std::env::var("MMM_MOTO_SERVER").unwrap_or_else(|_| "moto_server".into());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let child = match Command::new(&exe)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => c,
        Err(e) => {
            assert!(
                std::env::var_os("MMM_REQUIRE_S3").is_none(),
                "{exe} cannot start ({e}); run scripts/install_test_services.sh"
            );
            eprintln!("skipped: {exe} not found (scripts/install_test_services.sh installs it)");
            return None;
        }
    };
    let server = S3Server {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(server)
}

/// Credentials and endpoint only through the standard environment variables.
fn with_env(c: &mut Command, server: &S3Server, cache: &Path) {
    c.env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT", &server.endpoint)
        .env("AWS_ALLOW_HTTP", "true")
        .env("MMM_CACHE_DIR", cache);
}

fn mmm(server: &S3Server, cache: &Path, args: &[&str], log: &mut String) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmm"));
    c.args(args);
    with_env(&mut c, server, cache);
    let out = c.output().expect("mmm starts");
    log.push_str(&String::from_utf8_lossy(&out.stdout));
    log.push_str(&String::from_utf8_lossy(&out.stderr));
    out
}

fn bucket(server: &S3Server, args: &[&str]) {
    // The project's .venv-s3 when `cargo xtask test` names it (boto3 lives there).
    let mut c = Command::new(std::env::var("MMM_S3_PYTHON").unwrap_or_else(|_| "python3".into()));
    c.arg(repo().join("scripts/s3_objects.py")).args(args);
    with_env(&mut c, server, Path::new("/nonexistent"));
    let out = c.output().expect("python3 starts");
    assert!(
        out.status.success(),
        "s3_objects.py {args:?}: {}",
        stderr(&out)
    );
}

/// Every file under `dir`, by path relative to it.
fn files(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(dir).expect("inside").display().to_string();
                out.push((rel, p));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn a_run_round_trips_through_s3_verified_committed_last_and_without_secrets() {
    let Some(server) = start_server() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 300, 300, 5);
    let mut log = String::new();
    bucket(&server, &["mb", "mmm"]);
    bucket(
        &server,
        &[
            "put",
            "mmm",
            "inputs/spec.toml",
            spec.to_str().expect("utf8"),
        ],
    );
    let data = fixture("pymc_example/data.csv");
    bucket(
        &server,
        &[
            "put",
            "mmm",
            "inputs/data.csv",
            data.to_str().expect("utf8"),
        ],
    );

    // The whole pipeline from and into the bucket.
    let cache = dir.path().join("cache");
    let remote_run = [
        "run",
        "--spec",
        "s3://mmm/inputs/spec.toml",
        "--data",
        "s3://mmm/inputs/data.csv",
        "--out",
        "s3://mmm/runs/r1",
        "--no-refits",
    ];
    let out = mmm(&server, &cache, &remote_run, &mut log);
    crate::assert_exit(&out, 0);

    // The same run on local disk: every artifact in the bucket is byte-identical to it.
    let local = dir.path().join("local");
    let o = crate::mmm_os([
        "run".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        local.as_os_str(),
        "--no-refits".as_ref(),
    ]);
    assert_eq!(o.status.code(), out.status.code(), "{}", stderr(&o));
    let downloaded = dir.path().join("bucket");
    bucket(
        &server,
        &["download", "mmm", downloaded.to_str().expect("utf8")],
    );
    let remote_files = files(&downloaded.join("runs/r1"));
    let local_files = files(&local);
    assert_eq!(
        remote_files.iter().map(|f| &f.0).collect::<Vec<_>>(),
        local_files.iter().map(|f| &f.0).collect::<Vec<_>>(),
        "the bucket holds the run's files"
    );
    for ((name, r), (_, l)) in remote_files.iter().zip(&local_files) {
        if name.ends_with("manifest.json") {
            let m: serde_json::Value =
                serde_json::from_slice(&std::fs::read(r).expect("read")).expect("json");
            let lm: serde_json::Value =
                serde_json::from_slice(&std::fs::read(l).expect("read")).expect("json");
            assert_eq!(m["outputs"], lm["outputs"], "{name}");
            // Inputs in a remote manifest name the bucket, never a machine's cache directory.
            for input in m["inputs"].as_array().expect("inputs") {
                let p = input["path"].as_str().expect("path");
                // "(seed)"-style entries record settings, not files.
                assert!(
                    p.starts_with("s3://mmm/") || p.starts_with('('),
                    "{name}: input {p}"
                );
            }
        } else {
            assert!(
                std::fs::read(r).expect("r") == std::fs::read(l).expect("l"),
                "{name} differs between the bucket and a local run"
            );
        }
    }

    // Another machine (an empty cache) finds every stage fresh: pulled, verified, skipped.
    let cache2 = dir.path().join("cache2");
    let again = mmm(&server, &cache2, &remote_run, &mut log);
    assert_eq!(again.status.code(), out.status.code(), "{}", stderr(&again));
    let err = stderr(&again);
    for stage in [
        "validate", "features", "fit", "diagnose", "decide", "report",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(stage) && l.contains("fresh, skipped")),
            "{stage} was not fresh from the bucket:\n{err}"
        );
    }

    // A single stage from remote inputs to a remote output.
    let o = mmm(
        &server,
        &cache2,
        &[
            "features",
            "--spec",
            "s3://mmm/runs/r1/spec.toml",
            "--validate",
            "s3://mmm/runs/r1/validate",
            "--out",
            "s3://mmm/runs/r2/features",
        ],
        &mut log,
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let cache3 = dir.path().join("cache3");
    let inspect = mmm(&server, &cache3, &["inspect", "s3://mmm/runs/r1"], &mut log);
    assert!(inspect.status.success(), "{}", stderr(&inspect));

    // A stage directory without its manifest (an upload cut short) is not a stage.
    let table = downloaded.join("runs/r1/validate/table.parquet");
    bucket(
        &server,
        &[
            "put",
            "mmm",
            "runs/half/validate/table.parquet",
            table.to_str().expect("utf8"),
        ],
    );
    let o = mmm(
        &server,
        &cache3,
        &[
            "features",
            "--spec",
            "s3://mmm/runs/r1/spec.toml",
            "--validate",
            "s3://mmm/runs/half/validate",
            "--out",
            "s3://mmm/runs/half/features",
        ],
        &mut log,
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("manifest"), "{}", stderr(&o));

    // A flipped byte in a remote artifact is caught before anything reads it.
    let draws = downloaded.join("runs/r1/fit/draws.parquet");
    let mut bytes = std::fs::read(&draws).expect("draws");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    let tampered = dir.path().join("tampered.parquet");
    std::fs::write(&tampered, &bytes).expect("write");
    bucket(
        &server,
        &[
            "put",
            "mmm",
            "runs/r1/fit/draws.parquet",
            tampered.to_str().expect("utf8"),
        ],
    );
    let o = mmm(
        &server,
        &dir.path().join("cache4"),
        &["inspect", "s3://mmm/runs/r1"],
        &mut log,
    );
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("s3://mmm/runs/r1/fit/draws.parquet") && stderr(&o).contains("sha256"),
        "{}",
        stderr(&o)
    );

    // No credential anywhere: not in the bucket, the caches, or anything printed.
    bucket(
        &server,
        &["download", "mmm", downloaded.to_str().expect("utf8")],
    );
    let mut scanned = 0;
    for root in [&downloaded, &cache, &cache2, &cache3] {
        for (name, path) in files(root) {
            let text = String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
            assert!(
                !text.contains(SECRET) && !text.contains(KEY_ID),
                "{name} holds a credential"
            );
            scanned += 1;
        }
    }
    assert!(scanned > 40, "scanned {scanned} files");
    assert!(!log.is_empty());
    assert!(
        !log.contains(SECRET) && !log.contains(KEY_ID),
        "a credential was printed"
    );
}
