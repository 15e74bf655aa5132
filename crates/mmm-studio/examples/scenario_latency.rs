//! Latency of one planner evaluation (what `POST /api/runs/NAME/scenario` computes: the
//! comparison of `mmm scenario`, the decision record's lift draws and every channel's
//! marginal ROAS) on a finished run, in-process and over HTTP through the studio.
//!
//! Usage: `scenario_latency RUNS_DIR RUN [REPEATS]` (`cargo xtask bench-studio` runs it on the
//! fixture and the 8-geo panel). Prints one JSON object.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Instant;

use mmm_core::spec::LoadedSpec;
use mmm_decisions::planner::Planner;
use mmm_decisions::stages::{OptimizeOptions, ScenarioFile};

fn percentile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn post(addr: std::net::SocketAddr, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (runs, name) = (PathBuf::from(&args[1]), args[2].clone());
    let repeats: usize = args.get(3).and_then(|r| r.parse().ok()).unwrap_or(50);
    let run = runs.join(&name);
    let spec = LoadedSpec::load(&run.join("spec.toml")).expect("spec");
    let timer = Instant::now();
    let planner = Planner::load(&spec, &run.join("features"), &run.join("fit")).expect("load");
    let load_s = timer.elapsed().as_secs_f64();
    let horizon = spec.spec.decisions.optimizer.horizon_weeks;
    let opts = OptimizeOptions {
        record: true,
        ..Default::default()
    };
    let current = planner.current(&spec, &opts, horizon).expect("current");
    // The current plan with every channel's spend up 10%, spent evenly.
    let plan: Vec<Vec<f64>> = current
        .spend
        .iter()
        .map(|t| vec![t * 1.1 / horizon as f64; horizon])
        .collect();
    let mut inproc = Vec::new();
    let mut draws = 0;
    for _ in 0..repeats {
        let file = ScenarioFile {
            has_geo: false,
            plans: vec![("plan".into(), String::new(), plan.clone())],
        };
        let t = Instant::now();
        let prepared = planner
            .prepare_scenarios(&spec, file, &opts, std::path::Path::new("plan"))
            .expect("prepare");
        let outcome = planner.evaluate(&spec, &prepared, true);
        let marginal = planner.marginal_roas(&prepared);
        inproc.push(t.elapsed().as_secs_f64() * 1000.0);
        draws = outcome.record.map_or(0, |r| r.lift_per_draw.len());
        assert_eq!(marginal.len(), planner.channels().len());
    }
    // Over HTTP: the studio on an ephemeral port, the first request loads the run.
    let plans = tempdir();
    let config = mmm_studio::StudioConfig {
        runs: runs.clone(),
        plans: plans.clone(),
        bind: std::net::Ipv4Addr::LOCALHOST.into(),
        port: 0,
    };
    let addr = mmm_studio::Studio::bind(&config)
        .expect("bind")
        .spawn()
        .expect("serve");
    let spend: serde_json::Map<String, serde_json::Value> = planner
        .channels()
        .iter()
        .zip(&current.spend)
        .map(|(c, t)| (c.clone(), serde_json::json!(t * 1.1)))
        .collect();
    let body = serde_json::json!({ "horizon": horizon, "spend": spend }).to_string();
    let path = format!("/api/runs/{name}/scenario");
    let t = Instant::now();
    post(addr, &path, &body);
    let first_ms = t.elapsed().as_secs_f64() * 1000.0;
    let mut http = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        post(addr, &path, &body);
        http.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = std::fs::remove_dir_all(&plans);
    let summary = serde_json::json!({
        "run": name,
        "draws": draws,
        "channels": planner.channels().len(),
        "geos": planner.geos().map_or(0, <[String]>::len),
        "horizon_weeks": horizon,
        "repeats": repeats,
        "load_seconds": load_s,
        "evaluation_ms": { "median": percentile(&mut inproc, 0.5), "p95": percentile(&mut inproc, 0.95), "min": percentile(&mut inproc, 0.0) },
        "http_ms": { "first_request_with_load": first_ms, "median": percentile(&mut http, 0.5), "p95": percentile(&mut http, 0.95) },
    });
    println!("{}", serde_json::to_string_pretty(&summary).expect("json"));
}

/// A fresh directory for the studio's plans (nothing is saved by this benchmark).
fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mmm-studio-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("mkdir");
    dir
}
