//! Audit tools: `mmm inspect RUN` (lineage of every stage, every hash verified) and
//! `mmm diff RUN_A RUN_B` (spec, data and result changes between two runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mmm_core::artifact::MANIFEST_FILE;
use mmm_core::{Manifest, sha256_file, sha256_hex};
use serde::Serialize;

/// Stages in pipeline order; other directories holding a manifest follow, sorted by name.
const STAGE_ORDER: [&str; 9] = [
    "validate", "features", "fit", "diagnose", "decide", "optimize", "scenario", "compare",
    "report",
];

/// The state of one recorded file now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum FileState {
    /// Present with the recorded sha256.
    Verified,
    /// Present with another sha256.
    Changed,
    /// Not found (relative input paths resolve against the working directory).
    Missing,
    /// Not a file (the seed, recorded among the inputs as a pseudo-input).
    NotAFile,
}

#[derive(Debug, Serialize)]
struct FileCheck {
    path: String,
    sha256: String,
    state: FileState,
}

#[derive(Debug, Serialize)]
struct StageLineage {
    directory: String,
    stage: String,
    crate_name: String,
    crate_version: String,
    status: String,
    finished_at: String,
    wall_seconds: f64,
    seed: Option<u64>,
    spec_matches: bool,
    inputs: Vec<FileCheck>,
    outputs: Vec<FileCheck>,
}

#[derive(Debug, Serialize)]
struct Lineage {
    run: String,
    spec_sha256: String,
    stages: Vec<StageLineage>,
    /// Outputs changed or missing, or stages made from another spec.
    verified: bool,
    problems: Vec<String>,
}

fn check(path: &Path, sha: &str) -> FileState {
    if path.to_str().is_some_and(|p| p.starts_with('(')) {
        return FileState::NotAFile;
    }
    if !path.exists() {
        return FileState::Missing;
    }
    if !path.is_file() {
        return FileState::NotAFile;
    }
    match sha256_file(path) {
        Ok(h) if h == sha => FileState::Verified,
        Ok(_) => FileState::Changed,
        Err(_) => FileState::Missing,
    }
}

/// Stage directories of `run` with a manifest, in pipeline order.
fn stage_dirs(run: &Path) -> Result<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(run)
        .with_context(|| format!("reading run directory {}", run.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(MANIFEST_FILE).is_file())
        .collect();
    let rank = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        (
            STAGE_ORDER
                .iter()
                .position(|s| *s == name)
                .unwrap_or(STAGE_ORDER.len()),
            name.to_string(),
        )
    };
    dirs.sort_by_key(rank);
    Ok(dirs)
}

fn lineage(run: &Path) -> Result<Lineage> {
    let spec_path = run.join("spec.toml");
    let spec_sha = sha256_hex(
        &std::fs::read(&spec_path).with_context(|| format!("reading {}", spec_path.display()))?,
    );
    let mut problems = Vec::new();
    let mut stages = Vec::new();
    for dir in stage_dirs(run)? {
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = std::fs::read_to_string(&manifest_path)
            .with_context(|| format!("reading {}", manifest_path.display()))?;
        let m: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a stage manifest", manifest_path.display()))?;
        let spec_matches = m.spec_sha256 == spec_sha;
        if !spec_matches {
            problems.push(format!(
                "{}: made from another spec (sha256 {}) than {}",
                dir.display(),
                m.spec_sha256,
                spec_path.display()
            ));
        }
        let outputs: Vec<FileCheck> = m
            .outputs
            .iter()
            .map(|o| FileCheck {
                path: o.path.clone(),
                sha256: o.sha256.clone(),
                state: check(&dir.join(&o.path), &o.sha256),
            })
            .collect();
        for o in outputs.iter().filter(|o| o.state != FileState::Verified) {
            problems.push(format!(
                "{}: output {} is {:?} (recorded sha256 {})",
                dir.display(),
                o.path,
                o.state,
                o.sha256
            ));
        }
        let inputs: Vec<FileCheck> = m
            .inputs
            .iter()
            .map(|i| FileCheck {
                path: i.path.clone(),
                sha256: i.sha256.clone(),
                state: check(Path::new(&i.path), &i.sha256),
            })
            .collect();
        // An input that changed after the stage ran means the stage is stale, not corrupt;
        // it is shown, and counted, because the recorded result no longer follows from it.
        for i in inputs.iter().filter(|i| i.state == FileState::Changed) {
            problems.push(format!(
                "{}: input {} changed since the stage ran",
                dir.display(),
                i.path
            ));
        }
        stages.push(StageLineage {
            directory: dir.display().to_string(),
            stage: m.stage,
            crate_name: m.crate_name,
            crate_version: m.crate_version,
            status: format!("{:?}", m.status).to_lowercase(),
            finished_at: m.finished_at,
            wall_seconds: m.wall_seconds,
            seed: m.seed,
            spec_matches,
            inputs,
            outputs,
        });
    }
    if stages.is_empty() {
        problems.push(format!("{}: no stage manifests", run.display()));
    }
    Ok(Lineage {
        run: run.display().to_string(),
        spec_sha256: spec_sha,
        verified: problems.is_empty(),
        stages,
        problems,
    })
}

/// `mmm inspect RUN`: print the lineage and verify every hash. Exit code 4 when an output
/// changed or is missing, an input changed, or a stage was made from another spec.
pub fn inspect(run: &Path, json: bool) -> Result<u8> {
    let l = lineage(run)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&l)?);
    } else {
        println!("run {}  spec sha256 {}", l.run, l.spec_sha256);
        for s in &l.stages {
            println!(
                "{:<9} {} {} ({}), {}, finished {}, {:.3} s{}{}",
                s.stage,
                s.crate_name,
                s.crate_version,
                s.directory,
                s.status,
                s.finished_at,
                s.wall_seconds,
                s.seed.map(|v| format!(", seed {v}")).unwrap_or_default(),
                if s.spec_matches { "" } else { ", OTHER SPEC" }
            );
            for i in &s.inputs {
                println!("  in  {:?}  {}  {}", i.state, short(&i.sha256), i.path);
            }
            for o in &s.outputs {
                println!("  out {:?}  {}  {}", o.state, short(&o.sha256), o.path);
            }
        }
        if l.verified {
            println!("every output and input hash verified");
        } else {
            for p in &l.problems {
                println!("PROBLEM: {p}");
            }
        }
    }
    Ok(if l.verified { 0 } else { 4 })
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Spec keys (dotted paths) to their values, for diffing.
fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::Array(items) if items.iter().any(toml::Value::is_table) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn spec_keys(run: &Path) -> Result<BTreeMap<String, String>> {
    let path = run.join("spec.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let value: toml::Value =
        toml::from_str(&text).with_context(|| format!("{}: not TOML", path.display()))?;
    let mut out = BTreeMap::new();
    flatten("", &value, &mut out);
    Ok(out)
}

#[derive(Debug, Serialize)]
struct SpecChange {
    key: String,
    a: Option<String>,
    b: Option<String>,
}

#[derive(Debug, Serialize)]
struct RunDiff {
    run_a: String,
    run_b: String,
    spec_changes: Vec<SpecChange>,
    data: mmm_contracts::drift::TableDiff,
    results: Option<mmm_diagnostics::compare::Refresh>,
    results_note: Option<String>,
}

/// `mmm diff RUN_A RUN_B`: spec changes, data changes (rows added or removed, history changed,
/// drift) and result changes per channel (as `mmm compare`).
pub fn diff(a: &Path, b: &Path, json: bool) -> Result<u8> {
    let (ka, kb) = (spec_keys(a)?, spec_keys(b)?);
    let mut keys: Vec<&String> = ka.keys().chain(kb.keys()).collect();
    keys.sort();
    keys.dedup();
    let spec_changes: Vec<SpecChange> = keys
        .into_iter()
        .filter(|k| ka.get(*k) != kb.get(*k))
        .map(|k| SpecChange {
            key: k.clone(),
            a: ka.get(k).cloned(),
            b: kb.get(k).cloned(),
        })
        .collect();
    let table = |r: &Path| r.join("validate").join("table.parquet");
    let data = mmm_contracts::drift::diff_tables(&table(a), &table(b))?;
    let (results, results_note) =
        match mmm_diagnostics::compare::compare_runs(&[a.to_path_buf(), b.to_path_buf()]) {
            Ok(mut c) => (c.refreshes.pop(), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let d = RunDiff {
        run_a: a.display().to_string(),
        run_b: b.display().to_string(),
        spec_changes,
        data,
        results,
        results_note,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(0);
    }
    println!("{} -> {}", d.run_a, d.run_b);
    println!("spec: {} change(s)", d.spec_changes.len());
    for c in &d.spec_changes {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        println!("  {}: {} -> {}", c.key, show(&c.a), show(&c.b));
    }
    println!(
        "data: {} row(s) added{}, {} removed",
        d.data.rows_added,
        d.data
            .added_span
            .as_ref()
            .map(|(f, l)| format!(" ({f} .. {l})"))
            .unwrap_or_default(),
        d.data.rows_removed
    );
    for c in &d.data.columns {
        if c.changed_periods > 0 || c.psi > 0.2 {
            println!(
                "  {}: {} past period(s) changed, PSI {:.3}",
                c.column, c.changed_periods, c.psi
            );
        }
    }
    for f in &d.data.findings {
        println!("  {f}");
    }
    match (&d.results, &d.results_note) {
        (Some(r), _) => {
            println!("results per channel (ROAS mean [interval], media share):");
            for ch in &r.channels {
                println!(
                    "  {}: {:.4} [{:.4}, {:.4}] -> {:.4} [{:.4}, {:.4}] ({:+.1}%), share {:.3} -> {:.3}{}",
                    ch.channel,
                    ch.roas_a.mean,
                    ch.roas_a.lower,
                    ch.roas_a.upper,
                    ch.roas_b.mean,
                    ch.roas_b.lower,
                    ch.roas_b.upper,
                    100.0 * ch.roas_relative_change,
                    ch.share_a.mean,
                    ch.share_b.mean,
                    if ch.sign_flip { "  SIGN FLIP" } else { "" }
                );
            }
            for p in r.parameters.iter().filter(|p| p.sign_flip) {
                println!("  parameter {} flipped sign", p.parameter);
            }
        }
        (None, Some(note)) => println!("results: not compared ({note})"),
        (None, None) => {}
    }
    Ok(0)
}
