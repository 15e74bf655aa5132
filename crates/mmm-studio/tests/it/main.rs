//! HTTP-level tests of the studio: a server on an ephemeral port over small fixture runs made
//! by the workspace's `mmm` binary (one test binary for the crate).

mod api;
mod security;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The `mmm` binary of the same build as this test (`target/release/mmm` next to `deps/`).
pub fn mmm() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("mmm"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (cargo build --release --workspace)",
        bin.display()
    );
    bin
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name)
}

/// `mmm ARGS`, which must exit 0 (or 3: a gate failed, the run still completes).
#[track_caller]
pub fn mmm_ok(args: &[&std::ffi::OsStr]) {
    let o = Command::new(mmm()).args(args).output().expect("run mmm");
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "mmm {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// A small fit (seed `seed`) of the fixture `name` (`pymc_example` or `geo`) into `run`.
fn small_run(dir: &Path, name: &str, run: &Path, seed: u64) {
    let text = std::fs::read_to_string(fixture(name).join("spec.toml")).expect("spec");
    let text = text
        .replace("tune = 1000", "tune = 150")
        .replace("draws = 1000", "draws = 100")
        .replace("seed = 42", &format!("seed = {seed}"))
        .replace("seed = 11", &format!("seed = {seed}"));
    // No refit checks: the geo fixture has its own [diagnose] table, the other none.
    let text = match text.contains("[diagnose]") {
        true => text
            .replace("bootstrap_replicates = 20", "bootstrap_replicates = 0")
            .replace("cv_folds = 3", "cv_folds = 0"),
        false => text + "\n[diagnose]\nbootstrap_replicates = 0\ncv_folds = 0\n",
    };
    let spec = dir.join(format!("spec-{name}-{seed}.toml"));
    std::fs::write(&spec, text).expect("write spec");
    let os = std::ffi::OsStr::new;
    let data = match name {
        "geo" => fixture(name).join("panel.csv"),
        _ => fixture(name).join("data.csv"),
    };
    mmm_ok(&[
        os("run"),
        os("--quiet"),
        os("--spec"),
        spec.as_os_str(),
        os("--data"),
        data.as_os_str(),
        os("--out"),
        run.as_os_str(),
        os("--no-refits"),
    ]);
}

/// Copy a directory tree.
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// The shared world: a temp directory with `runs/` (`fixture`, `fixture-b` with another
/// seed, `broken`: a copy whose roi.parquet changed, `linked`: a copy with a symlink out of the
/// runs directory, `escape`: a symlink to a run outside it), `plans/`, and a studio serving
/// them.
pub struct World {
    pub dir: tempfile::TempDir,
    pub addr: SocketAddr,
}

impl World {
    pub fn runs(&self) -> PathBuf {
        self.dir.path().join("runs")
    }
    pub fn plans(&self) -> PathBuf {
        self.dir.path().join("plans")
    }
    pub fn run(&self, name: &str) -> PathBuf {
        self.runs().join(name)
    }
    /// The 8-geo hierarchy's run `geo` (fitted on first use: only its tests pay for it).
    pub fn geo_run(&self) -> PathBuf {
        static GEO: OnceLock<PathBuf> = OnceLock::new();
        GEO.get_or_init(|| {
            let run = self.run("geo");
            small_run(self.dir.path(), "geo", &run, 13);
            run
        })
        .clone()
    }
}

pub fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tmp");
        let runs = dir.path().join("runs");
        small_run(dir.path(), "pymc_example", &runs.join("fixture"), 11);
        small_run(dir.path(), "pymc_example", &runs.join("fixture-b"), 12);
        copy_dir(&runs.join("fixture"), &runs.join("broken"));
        let roi = runs.join("broken/decide/roi.parquet");
        let mut bytes = std::fs::read(&roi).expect("roi");
        bytes.push(0);
        std::fs::write(&roi, bytes).expect("tamper");
        copy_dir(&runs.join("fixture"), &runs.join("linked"));
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(&outside).expect("mkdir");
        std::fs::write(outside.join("secret.html"), "<p>secret</p>").expect("write");
        std::os::unix::fs::symlink(
            outside.join("secret.html"),
            runs.join("linked/report/secret.html"),
        )
        .expect("symlink");
        copy_dir(&runs.join("fixture"), &outside.join("run"));
        std::os::unix::fs::symlink(outside.join("run"), runs.join("escape")).expect("symlink");
        let mut config = mmm_studio::StudioConfig::new(runs);
        config.plans = dir.path().join("plans");
        config.port = 0;
        let addr = mmm_studio::Studio::bind(&config)
            .expect("bind")
            .spawn()
            .expect("serve");
        World { dir, addr }
    })
}

/// A response: status, headers (lower-case names) and body.
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Send `method raw_path` (sent as written: nothing normalized) with an optional JSON body.
pub fn request(method: &str, raw_path: &str, body: Option<&serde_json::Value>) -> Reply {
    let addr = world().addr;
    let mut s = TcpStream::connect(addr).expect("connect");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let head = format!(
        "{method} {raw_path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send");
    s.write_all(body.as_bytes()).expect("send");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    Reply {
        status,
        headers: head.to_lowercase(),
        body: raw[split + 4..].to_vec(),
    }
}

pub fn get(path: &str) -> Reply {
    request("GET", path, None)
}

pub fn post(path: &str, body: &serde_json::Value) -> Reply {
    request("POST", path, Some(body))
}
