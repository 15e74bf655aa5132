//! Audit tools: `mmm inspect RUN` (lineage of every stage, every hash verified) and
//! `mmm diff RUN_A RUN_B` (spec, data and result changes between two runs).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use mmm_core::Stage;
use mmm_core::artifact::MANIFEST_FILE;
use mmm_core::{Manifest, sha256_file, sha256_hex};
use serde::Serialize;

/// The state of one recorded file now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum FileState {
    /// Present with the recorded sha256 (for an upstream output: listed with that sha256 in
    /// the upstream stage's manifest, whose own file was verified).
    Verified,
    /// Present with another sha256.
    Changed,
    /// Not found (an external input's relative path resolves against the working directory).
    Missing,
    /// Not a regular file.
    NotAFile,
}

#[derive(Debug, Serialize)]
struct FileCheck {
    path: String,
    sha256: String,
    state: FileState,
}

#[derive(Debug, Serialize)]
struct LinkCheck {
    stage: String,
    recorded_dir: String,
    manifest_sha256: String,
    /// The run's own stage of that name has exactly this manifest.
    linked: bool,
}

#[derive(Debug, Serialize)]
struct StageLineage {
    directory: String,
    stage: String,
    crate_name: String,
    crate_version: String,
    manifest_sha256: String,
    status: String,
    finished_at: String,
    wall_seconds: f64,
    seed: Option<u64>,
    options: serde_json::Value,
    spec_matches: bool,
    upstream: Vec<LinkCheck>,
    inputs: Vec<FileCheck>,
    outputs: Vec<FileCheck>,
}

#[derive(Debug, Serialize)]
struct Lineage {
    run: String,
    spec_sha256: Option<String>,
    stages: Vec<StageLineage>,
    /// True only when every check passed: no entry in `problems`.
    verified: bool,
    problems: Vec<String>,
}

/// The state of the file at `path` against the recorded sha256.
fn check(path: &Path, sha: &str) -> FileState {
    match std::fs::metadata(path) {
        Err(_) => FileState::Missing,
        Ok(m) if !m.is_file() => FileState::NotAFile,
        Ok(_) => match sha256_file(path) {
            Ok(h) if h == sha => FileState::Verified,
            Ok(_) => FileState::Changed,
            Err(_) => FileState::Missing,
        },
    }
}

/// A stage directory's manifest, parsed, with its digest (what downstream links record).
fn read_manifest(dir: &Path) -> Result<(Manifest, String), String> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = mmm_core::read_regular_file(&path, mmm_core::artifact::MAX_ARTIFACT_BYTES)
        .map_err(|e| format!("{e}"))?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{}: not a readable stage manifest ({e})", path.display()))?;
    let digest = m.digest();
    Ok((m, digest))
}

/// Directories of `run` that hold a stage or should: every pipeline stage that exists, and
/// any other directory with a manifest, in pipeline order.
fn stage_dirs(run: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(run)
        .map_err(|e| format!("{}: cannot read the run directory ({e})", run.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let known = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| Stage::from_name(n).is_some());
            p.is_dir() && (known || p.join(MANIFEST_FILE).exists())
        })
        .collect();
    let rank = |p: &PathBuf| {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let order = Stage::from_name(name).map_or(Stage::ALL.len(), |s| s as usize);
        (order, name.to_string())
    };
    dirs.sort_by_key(rank);
    Ok(dirs)
}

/// Every check of one stage directory; problems are appended to `problems`.
fn check_stage(
    dir: &Path,
    run: &Path,
    spec_sha: Option<&str>,
    problems: &mut Vec<String>,
) -> Option<StageLineage> {
    let (m, manifest_sha) = match read_manifest(dir) {
        Ok(x) => x,
        Err(e) => {
            problems.push(format!(
                "{}: no usable manifest, so nothing in it can be verified: {e}",
                dir.display()
            ));
            return None;
        }
    };
    let spec_matches = spec_sha.is_some_and(|s| s == m.spec_sha256);
    if !spec_matches {
        problems.push(format!(
            "{}: made from another spec (sha256 {}) than the run's spec.toml",
            dir.display(),
            short(&m.spec_sha256)
        ));
    }
    if m.status != mmm_core::RunStatus::Complete {
        problems.push(format!(
            "{}: the stage did not complete (status {:?}); rerun it",
            dir.display(),
            m.status
        ));
    }
    let reads_upstream = Stage::from_name(&m.stage).is_none_or(Stage::reads_upstream);
    if m.upstream.is_empty() && reads_upstream {
        problems.push(format!(
            "{}: the manifest records no upstream stages (manifest version {}), so its chain \
             cannot be verified; rerun it",
            dir.display(),
            m.manifest_version
        ));
    }
    let upstream = check_links(&m, dir, run, problems);
    let outputs = check_outputs(&m, dir, problems);
    let inputs = check_inputs(&m, dir, run, problems);
    Some(StageLineage {
        directory: dir.display().to_string(),
        stage: m.stage,
        crate_name: m.crate_name,
        crate_version: m.crate_version,
        manifest_sha256: manifest_sha,
        status: format!("{:?}", m.status).to_lowercase(),
        finished_at: m.finished_at,
        wall_seconds: m.wall_seconds,
        seed: m.seed,
        options: m.options,
        spec_matches,
        upstream,
        inputs,
        outputs,
    })
}

/// Each recorded upstream link must point at the run's own stage of that name, unchanged.
fn check_links(m: &Manifest, dir: &Path, run: &Path, problems: &mut Vec<String>) -> Vec<LinkCheck> {
    m.upstream
        .iter()
        .map(|link| {
            let sibling = run.join(&link.stage);
            let actual = read_manifest(&sibling).ok().map(|(_, sha)| sha);
            let linked = actual.as_deref() == Some(link.manifest_sha256.as_str());
            if !linked {
                problems.push(match actual {
                    None => format!(
                        "{}: was made from the {} stage at {}, which this run lacks (no usable {})",
                        dir.display(),
                        link.stage,
                        link.dir,
                        sibling.join(MANIFEST_FILE).display()
                    ),
                    Some(sha) => format!(
                        "{}: was made from the {} stage with manifest sha256 {} (at {}), but {} \
                         has sha256 {}: the stages come from different runs or {} was redone",
                        dir.display(),
                        link.stage,
                        short(&link.manifest_sha256),
                        link.dir,
                        sibling.display(),
                        short(&sha),
                        link.stage
                    ),
                });
            }
            LinkCheck {
                stage: link.stage.clone(),
                recorded_dir: link.dir.clone(),
                manifest_sha256: link.manifest_sha256.clone(),
                linked,
            }
        })
        .collect()
}

/// Every listed output exists with its sha256, and the directory holds nothing unlisted.
fn check_outputs(m: &Manifest, dir: &Path, problems: &mut Vec<String>) -> Vec<FileCheck> {
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
            short(&o.sha256)
        ));
    }
    for name in unlisted_files(dir, m) {
        problems.push(format!(
            "{}: {name} is not among the stage's recorded outputs",
            dir.display()
        ));
    }
    outputs
}

/// Files in a stage directory that its manifest does not list (the lock and a killed
/// writer's temp files aside).
fn unlisted_files(dir: &Path, m: &Manifest) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != MANIFEST_FILE && n != mmm_core::lock::LOCK_FILE)
        .filter(|n| !(n.starts_with('.') && n.ends_with(".tmp")))
        .filter(|n| m.output(n).is_none())
        .collect();
    names.sort();
    names
}

/// An input read from an upstream stage (its path is in the directory a link records) is
/// verified through the chain: the run's stage of that name must list a file of that name with
/// that sha256. Other inputs (the data, a calendar) are hashed where they are.
fn check_inputs(
    m: &Manifest,
    dir: &Path,
    run: &Path,
    problems: &mut Vec<String>,
) -> Vec<FileCheck> {
    m.inputs
        .iter()
        .map(|i| {
            let path = Path::new(&i.path);
            let link = m
                .upstream
                .iter()
                .find(|l| path.parent() == Some(Path::new(&l.dir)));
            let state = match link {
                Some(l) => upstream_output_state(run, &l.stage, path, &i.sha256),
                None => check(path, &i.sha256),
            };
            let problem = match (link, state) {
                (_, FileState::Verified) => None,
                (Some(l), _) => Some(format!(
                    "{}: input {} (sha256 {}) is not among the outputs of the run's {} stage",
                    dir.display(),
                    i.path,
                    short(&i.sha256),
                    l.stage
                )),
                // The result no longer follows from the input as it is now: stale.
                (None, FileState::Changed) => Some(format!(
                    "{}: input {} changed since the stage ran",
                    dir.display(),
                    i.path
                )),
                // An external input moved or deleted since (the data file of an old run).
                (None, _) => None,
            };
            problems.extend(problem);
            FileCheck {
                path: i.path.clone(),
                sha256: i.sha256.clone(),
                state,
            }
        })
        .collect()
}

/// Whether the run's `stage` lists the file name of `path` with `sha256`.
fn upstream_output_state(run: &Path, stage: &str, path: &Path, sha256: &str) -> FileState {
    let Ok((um, _)) = read_manifest(&run.join(stage)) else {
        return FileState::Missing;
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    match name.and_then(|n| um.output(&n).cloned()) {
        Some(o) if o.sha256 == sha256 => FileState::Verified,
        Some(_) => FileState::Changed,
        None => FileState::Missing,
    }
}

fn lineage(run: &Path) -> Lineage {
    let mut problems = Vec::new();
    let spec_path = run.join("spec.toml");
    let spec_sha = match mmm_core::read_regular_file(&spec_path, mmm_core::spec::MAX_SPEC_BYTES) {
        Ok(bytes) => Some(sha256_hex(&bytes)),
        Err(e) => {
            problems.push(format!(
                "the run's frozen spec is missing or unreadable: {e}"
            ));
            None
        }
    };
    let dirs = match stage_dirs(run) {
        Ok(d) => d,
        Err(e) => {
            problems.push(e);
            Vec::new()
        }
    };
    let stages: Vec<StageLineage> = dirs
        .iter()
        .filter_map(|d| check_stage(d, run, spec_sha.as_deref(), &mut problems))
        .collect();
    for required in Stage::required_stages() {
        if !dirs
            .iter()
            .any(|d| d.file_name() == Some(std::ffi::OsStr::new(required.name())))
        {
            let every: Vec<&str> = Stage::required_stages().map(Stage::name).collect();
            problems.push(format!(
                "{}: the run has no {required} stage (every run has {})",
                run.display(),
                every.join(", ")
            ));
        }
    }
    Lineage {
        run: run.display().to_string(),
        spec_sha256: spec_sha,
        verified: problems.is_empty(),
        stages,
        problems,
    }
}

/// `mmm inspect RUN`: print the lineage and verify the whole chain. Exit code 4 on any gap:
/// a required stage missing, a manifest missing or unreadable, an output changed, missing or
/// unlisted, an upstream link broken, an input that differs from its upstream output or
/// changed since, a stage made from another spec, an incomplete stage.
pub fn inspect(run: &Path, json: bool) -> Result<u8> {
    let l = lineage(run);
    if json {
        println!("{}", serde_json::to_string_pretty(&l)?);
    } else {
        print_lineage(&l);
    }
    Ok(if l.verified { 0 } else { 4 })
}

fn print_lineage(l: &Lineage) {
    println!(
        "run {}  spec sha256 {}",
        l.run,
        l.spec_sha256.as_deref().unwrap_or("(missing)")
    );
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
        for u in &s.upstream {
            let state = if u.linked { "Linked" } else { "BROKEN" };
            println!("  up  {state}  {}  {}", short(&u.manifest_sha256), u.stage);
        }
        for i in &s.inputs {
            println!("  in  {:?}  {}  {}", i.state, short(&i.sha256), i.path);
        }
        for o in &s.outputs {
            println!("  out {:?}  {}  {}", o.state, short(&o.sha256), o.path);
        }
    }
    if l.verified {
        println!(
            "verified: every stage present, chained to its upstream stages and made from the \
             run's spec; every output and input hash verified"
        );
    } else {
        for p in &l.problems {
            println!("PROBLEM: {p}");
        }
        println!("NOT verified: {} problem(s)", l.problems.len());
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

fn spec_keys(run: &Path) -> Result<BTreeMap<String, String>> {
    let path = run.join("spec.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    mmm_core::lineage::spec_keys(&text).with_context(|| format!("{}: not TOML", path.display()))
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
    // Each table is checked against its validate manifest before it is decoded.
    for run in [a, b] {
        mmm_core::Upstream::open(&run.join("validate"), "validate")?
            .read_verified("table.parquet")?;
    }
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
                println!("  {ch}");
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
