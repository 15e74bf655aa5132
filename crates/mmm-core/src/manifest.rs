//! The per-stage manifest: what a stage read, what it wrote, and with which spec and seed.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Version of the manifest format itself.
pub const MANIFEST_SCHEMA_VERSION: u32 = 1;

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
    /// The output record of a file name, if the stage wrote it.
    pub fn output(&self, name: &str) -> Option<&OutputRecord> {
        self.outputs.iter().find(|o| o.path == name)
    }
}
