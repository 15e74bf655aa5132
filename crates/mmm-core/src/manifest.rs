//! The per-stage manifest: what a stage read, what it wrote, and with which spec and seed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the manifest format itself.
pub const MANIFEST_SCHEMA_VERSION: u32 = 2;

/// An input file with the hash it had when the stage read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FileRecord {
    /// Path as given to the stage.
    pub path: String,
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
}

/// An output file of the stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputRecord {
    /// File name, relative to the stage directory.
    pub path: String,
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
    /// Number of rows for tables; absent for JSON and HTML.
    pub rows: Option<u64>,
    /// Name of the schema in `schemas/` that documents the file.
    pub schema: Option<String>,
    /// Version of that schema.
    pub schema_version: Option<u32>,
}

/// An upstream stage a stage consumed: the link of the run's hash chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpstreamRecord {
    /// Stage name of the upstream (`features`, `fit`, ...).
    pub stage: String,
    /// Its directory, as given to the stage.
    pub dir: String,
    /// The upstream manifest's digest ([`Manifest::digest`]) when the stage read it.
    pub manifest_sha256: String,
}

/// Whether a stage finished all its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// All work done.
    Complete,
    /// Stopped early (for example Ctrl-C during sampling); outputs hold what was finished.
    Incomplete,
}

/// manifest.json of one stage. Written last: a directory without it holds no valid outputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// Version of this manifest format.
    pub manifest_version: u32,
    /// Stage name: validate, features, fit, diagnose, decide, report.
    pub stage: String,
    /// Crate that ran the stage.
    pub crate_name: String,
    /// Its version.
    pub crate_version: String,
    /// sha256 of the spec file's bytes.
    pub spec_sha256: String,
    /// The spec file's text, so that a stage made from another spec can be told apart by key.
    #[serde(default)]
    pub spec_toml: String,
    /// Every upstream stage consumed, with the sha256 of its manifest (the hash chain).
    #[serde(default)]
    pub upstream: Vec<UpstreamRecord>,
    /// Every option that changes the outputs (seed, budget, horizon, ...): part of freshness.
    #[serde(default)]
    pub options: serde_json::Value,
    /// Every input with its sha256.
    pub inputs: Vec<FileRecord>,
    /// Every output with sha256, rows and schema.
    pub outputs: Vec<OutputRecord>,
    /// Seed used, for stages that draw random numbers.
    pub seed: Option<u64>,
    /// Stage settings that shaped the outputs.
    pub settings: serde_json::Value,
    /// Whether the stage finished.
    pub status: RunStatus,
    /// UTC time the stage finished (RFC 3339). Only here, never inside an artifact.
    pub finished_at: String,
    /// Wall-clock seconds the stage took.
    pub wall_seconds: f64,
}

impl Manifest {
    /// sha256 of what the manifest vouches for: stage, spec, options, seed, status, upstream
    /// links, and the sha256 of every input and output (with output names). Paths of inputs
    /// and upstream directories and wall-clock times are left out, so a run keeps its chain
    /// when it is moved or mirrored to object storage (which rewrites input paths), while a
    /// stage from another run, spec or data set never matches.
    pub fn digest(&self) -> String {
        let canonical = serde_json::json!({
            "stage": self.stage,
            "spec_sha256": self.spec_sha256,
            "options": self.options,
            "seed": self.seed,
            "status": self.status,
            "upstream": self.upstream.iter().map(|u| (&u.stage, &u.manifest_sha256)).collect::<Vec<_>>(),
            "inputs": self.inputs.iter().map(|i| &i.sha256).collect::<Vec<_>>(),
            "outputs": self.outputs.iter().map(|o| (&o.path, &o.sha256)).collect::<Vec<_>>(),
        });
        crate::hash::sha256_hex(canonical.to_string().as_bytes())
    }

    /// The output record of a file name, if the stage wrote it.
    pub fn output(&self, name: &str) -> Option<&OutputRecord> {
        self.outputs.iter().find(|o| o.path == name)
    }
}
