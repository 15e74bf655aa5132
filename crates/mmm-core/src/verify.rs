//! Verification of a whole run directory (`mmm inspect`, the studio): every stage's lineage
//! with every hash checked. Moved here from the CLI so that every reader of finished runs uses
//! one check.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::Stage;
use crate::artifact::MANIFEST_FILE;
use crate::{Manifest, sha256_file, sha256_hex};

/// The state of one recorded file now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FileState {
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
pub struct FileCheck {
    pub path: String,
    pub sha256: String,
    pub state: FileState,
}

#[derive(Debug, Serialize)]
pub struct LinkCheck {
    pub stage: String,
    pub recorded_dir: String,
    pub manifest_sha256: String,
    /// The run's own stage of that name has exactly this manifest.
    pub linked: bool,
}

#[derive(Debug, Serialize)]
pub struct StageLineage {
    pub directory: String,
    pub stage: String,
    pub crate_name: String,
    pub crate_version: String,
    pub manifest_sha256: String,
    pub status: String,
    pub finished_at: String,
    pub wall_seconds: f64,
    pub seed: Option<u64>,
    pub options: serde_json::Value,
    pub spec_matches: bool,
    pub upstream: Vec<LinkCheck>,
    pub inputs: Vec<FileCheck>,
    pub outputs: Vec<FileCheck>,
}

#[derive(Debug, Serialize)]
pub struct Lineage {
    pub run: String,
    pub spec_sha256: Option<String>,
    pub stages: Vec<StageLineage>,
    /// True only when every check passed: no entry in `problems`.
    pub verified: bool,
    pub problems: Vec<String>,
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
    let bytes = crate::read_regular_file(&path, crate::artifact::MAX_ARTIFACT_BYTES)
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
    if m.status != crate::RunStatus::Complete {
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
        .filter(|n| n != MANIFEST_FILE && n != crate::lock::LOCK_FILE)
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

/// Verify a run directory as `mmm inspect` does: every required stage present, each manifest
/// readable, made from the run's spec.toml and complete, linked to the run's own upstream
/// stages, every output and upstream input with its recorded sha256, nothing unlisted. The
/// run is `verified` only when `problems` is empty.
pub fn verify_run(run: &Path) -> Lineage {
    let mut problems = Vec::new();
    let spec_path = run.join("spec.toml");
    let spec_sha = match crate::read_regular_file(&spec_path, crate::spec::MAX_SPEC_BYTES) {
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

/// The first 12 hex digits of a sha256.
pub fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}
