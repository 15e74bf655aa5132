//! Artifact IO: atomic writes, byte-reproducible Parquet, verify-before-read, skip-when-fresh.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::array::RecordBatch;
use arrow::datatypes::Schema;
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::arrow::arrow_reader::{ArrowReaderOptions, ParquetRecordBatchReaderBuilder};
use parquet::basic::Compression;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::error::{CoreError, ParquetFailure};
use crate::hash::sha256_hex;
use crate::lineage::{SpecRef, check_chain};
use crate::lock::DirLock;
use crate::manifest::{
    FileRecord, MANIFEST_SCHEMA_VERSION, Manifest, OutputRecord, RunStatus, UpstreamRecord,
};
use crate::schemas::ArtifactSchema;

/// File name of every stage's manifest.
pub const MANIFEST_FILE: &str = "manifest.json";

/// Largest file an artifact reader accepts (a manifest, a JSON or Parquet artifact): 4 GiB.
pub const MAX_ARTIFACT_BYTES: u64 = 4 << 30;

/// Write `bytes` to `path` atomically: temp file in the same directory, fsync, rename.
///
/// A crash at any point leaves either the old file or the new one under `path`, never a part.
/// The temp file is created exclusively (never through a planted link) under an unpredictable
/// name, and removed on every error path and on Ctrl-C ([`crate::guard`]).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CoreError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let prefix = format!(".{file_name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| CoreError::io(dir, e))?;
    let tmp_path = tmp.path().to_path_buf();
    crate::guard::register_cleanup(&tmp_path);
    let written = tmp
        .as_file_mut()
        .write_all(bytes)
        .and_then(|()| tmp.as_file().sync_all());
    let result = written.and_then(|()| tmp.persist(path).map(drop).map_err(|e| e.error));
    crate::guard::unregister_cleanup(&tmp_path);
    result.map_err(|e| CoreError::io(path, e))?;
    // Persist the rename itself.
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Read a whole input file, refusing what is not a regular file (a FIFO would block forever,
/// a device never ends) and files over `max_bytes`, with an error naming the path.
pub fn read_regular_file(path: &Path, max_bytes: u64) -> Result<Vec<u8>, CoreError> {
    let meta = fs::metadata(path).map_err(|e| CoreError::io(path, e))?;
    let refuse = |why: String| {
        CoreError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, why),
        )
    };
    if !meta.is_file() {
        return Err(refuse(
            "not a regular file (a FIFO, device or directory cannot be read as an input)".into(),
        ));
    }
    if meta.len() > max_bytes {
        return Err(refuse(format!(
            "{} bytes, more than the {max_bytes} bytes an input may have",
            meta.len()
        )));
    }
    fs::read(path).map_err(|e| CoreError::io(path, e))
}

/// Encode a batch as Parquet bytes with fixed writer metadata (no timestamps, fixed `created_by`).
pub fn parquet_bytes(batch: &RecordBatch, path_for_errors: &Path) -> Result<Vec<u8>, CoreError> {
    let props = WriterProperties::builder()
        .set_created_by("mmm".to_string())
        .set_compression(Compression::SNAPPY)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(1 << 20))
        .build();
    let perr = |e: parquet::errors::ParquetError| CoreError::Parquet {
        path: path_for_errors.to_path_buf(),
        source: e.into(),
    };
    let mut buf = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut buf, batch.schema(), Some(props)).map_err(perr)?;
    writer.write(batch).map_err(perr)?;
    writer.close().map_err(perr)?;
    Ok(buf)
}

/// Decode Parquet bytes into one batch. Corrupt input gives an error naming `path`, never a
/// panic, even when the bytes match a manifest that was rehashed after tampering.
///
/// The Arrow schema that writers embed is skipped: it is an IPC message that arrow-ipc 59 can
/// panic on when corrupt (found by fuzzing), and the Parquet schema alone types every column we
/// write. A panic left inside the decoder is caught and reported as corruption.
pub fn read_parquet_bytes(bytes: Vec<u8>, path: &Path) -> Result<RecordBatch, CoreError> {
    let decode = move || -> Result<RecordBatch, ParquetFailure> {
        let options = ArrowReaderOptions::new().with_skip_arrow_metadata(true);
        let builder =
            ParquetRecordBatchReaderBuilder::try_new_with_options(Bytes::from(bytes), options)?;
        let schema: Arc<Schema> = builder.schema().clone();
        let batches = builder.build()?.collect::<Result<Vec<_>, _>>()?;
        Ok(arrow::compute::concat_batches(&schema, &batches)?)
    };
    let perr = |source: ParquetFailure| CoreError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    match crate::guard::catch_panic(decode) {
        Ok(result) => result.map_err(perr),
        Err(panic) => Err(perr(ParquetFailure::Panicked(panic))),
    }
}

/// A finished upstream stage whose files are checked against its manifest before use.
#[derive(Debug, Clone)]
pub struct Upstream {
    dir: PathBuf,
    manifest: Manifest,
    manifest_sha256: String,
}

impl Upstream {
    /// Open a stage directory and read its manifest; `stage` must match.
    pub fn open(dir: &Path, stage: &str) -> Result<Self, CoreError> {
        let path = dir.join(MANIFEST_FILE);
        let bytes =
            read_regular_file(&path, MAX_ARTIFACT_BYTES).map_err(|e| CoreError::Manifest {
                path: path.clone(),
                message: format!(
                    "cannot read the manifest of stage '{stage}' ({}); run `mmm {stage}` first",
                    io_reason(&e)
                ),
            })?;
        let manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| CoreError::Manifest {
                path: path.clone(),
                message: e.to_string(),
            })?;
        if manifest.stage != stage {
            return Err(CoreError::Manifest {
                path,
                message: format!("expected a '{stage}' stage, found '{}'", manifest.stage),
            });
        }
        if manifest.status != RunStatus::Complete {
            return Err(CoreError::Manifest {
                path,
                message: format!("stage '{stage}' did not complete; rerun it"),
            });
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest_sha256: manifest.digest(),
            manifest,
        })
    }

    /// The manifest's digest ([`Manifest::digest`]): what a downstream stage records as its link.
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }

    /// The link a downstream stage records for this upstream.
    pub fn record(&self) -> UpstreamRecord {
        UpstreamRecord {
            stage: self.manifest.stage.clone(),
            dir: self.dir.display().to_string(),
            manifest_sha256: self.manifest_sha256.clone(),
        }
    }

    /// The upstream manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Directory of the stage.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Read a file of the stage after checking its sha256 against the manifest.
    pub fn read_verified(&self, name: &str) -> Result<(Vec<u8>, FileRecord), CoreError> {
        let path = self.dir.join(name);
        let record = self
            .manifest
            .output(name)
            .ok_or_else(|| CoreError::Manifest {
                path: self.dir.join(MANIFEST_FILE),
                message: format!(
                    "stage '{}' did not record an output named '{name}'",
                    self.manifest.stage
                ),
            })?;
        let bytes = read_regular_file(&path, MAX_ARTIFACT_BYTES)?;
        let actual = sha256_hex(&bytes);
        if actual != record.sha256 {
            return Err(CoreError::HashMismatch {
                path,
                expected: record.sha256.clone(),
                actual,
            });
        }
        Ok((
            bytes,
            FileRecord {
                path: path.display().to_string(),
                sha256: actual,
            },
        ))
    }

    /// Read and decode a verified Parquet output.
    pub fn parquet(&self, name: &str) -> Result<(RecordBatch, FileRecord), CoreError> {
        let (bytes, rec) = self.read_verified(name)?;
        Ok((read_parquet_bytes(bytes, &self.dir.join(name))?, rec))
    }

    /// Read and decode a verified JSON output.
    pub fn json<T: serde::de::DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<(T, FileRecord), CoreError> {
        let (bytes, rec) = self.read_verified(name)?;
        let value = serde_json::from_slice(&bytes).map_err(|source| CoreError::Json {
            path: self.dir.join(name),
            source,
        })?;
        Ok((value, rec))
    }
}

/// Which stage, and which crate (name and version) implements it; see [`crate::stage_id!`].
#[derive(Debug, Clone, Copy)]
pub struct StageId {
    /// Stage name, e.g. `fit`.
    pub stage: &'static str,
    /// Crate that runs the stage.
    pub crate_name: &'static str,
    /// Its version.
    pub crate_version: &'static str,
}

/// The [`StageId`] of a stage implemented by the calling crate.
#[macro_export]
macro_rules! stage_id {
    ($stage:expr) => {
        $crate::artifact::StageId {
            stage: $stage,
            crate_name: env!("CARGO_PKG_NAME"),
            crate_version: env!("CARGO_PKG_VERSION"),
        }
    };
}

/// The reason inside an IO error (the path is named by the caller).
fn io_reason(e: &CoreError) -> String {
    match e {
        CoreError::Io { source, .. } => source.to_string(),
        other => other.to_string(),
    }
}

/// What a stage's outputs follow from: the spec, the upstream stages, the input files and
/// every option that changes the outputs. All of it is recorded in the manifest and all of it
/// decides freshness.
#[derive(Debug, Clone)]
pub struct StageInputs<'a> {
    /// The spec the stage runs with.
    pub spec: SpecRef<'a>,
    /// Upstream stages consumed (checked to chain with each other and the spec).
    pub upstream: Vec<&'a Upstream>,
    /// Input files with their sha256.
    pub files: Vec<FileRecord>,
    /// Options that change the outputs (`null` when there are none).
    pub options: serde_json::Value,
}

impl<'a> StageInputs<'a> {
    /// A stage's inputs without options.
    pub fn new(
        spec: impl Into<SpecRef<'a>>,
        upstream: &[&'a Upstream],
        files: Vec<FileRecord>,
    ) -> Self {
        Self {
            spec: spec.into(),
            upstream: upstream.to_vec(),
            files,
            options: serde_json::Value::Null,
        }
    }

    /// The same inputs with the options that change the outputs.
    pub fn with_options(mut self, options: serde_json::Value) -> Self {
        self.options = options;
        self
    }
}

/// Writes one stage's outputs and, last, its manifest.
#[derive(Debug)]
pub struct StageWriter {
    dir: PathBuf,
    stage: String,
    crate_name: String,
    crate_version: String,
    spec_sha256: String,
    spec_toml: String,
    upstream: Vec<UpstreamRecord>,
    options: serde_json::Value,
    inputs: Vec<FileRecord>,
    outputs: Vec<OutputRecord>,
    started: Instant,
    // Dropped before `created`, so that an abandoned directory can be removed.
    lock: Option<DirLock>,
    created: CreatedDir,
}

/// The directories `begin` created (the output directory and any missing parents, innermost
/// first): removed again if the stage ends without finishing and without writing anything, so
/// a refused stage leaves no empty directories behind.
#[derive(Debug)]
struct CreatedDir(Vec<PathBuf>);

impl CreatedDir {
    /// `dir` and those of its ancestors that do not exist yet, innermost first.
    fn missing(dir: &Path) -> Self {
        Self(
            dir.ancestors()
                .take_while(|d| !d.as_os_str().is_empty() && !d.exists())
                .map(Path::to_path_buf)
                .collect(),
        )
    }

    /// Keep the directories.
    fn keep(&mut self) {
        self.0.clear();
    }
}

impl Drop for CreatedDir {
    fn drop(&mut self) {
        for dir in &self.0 {
            // Only an empty directory is removed; outputs already written stay for inspection.
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
}

impl StageWriter {
    /// Prepare `dir` for a stage. The upstream stages must chain with each other and with the
    /// spec ([`check_chain`]). Returns `Ok(None)` when a complete manifest with the same stage,
    /// spec, upstream manifests, input hashes and options exists and every output still matches
    /// it (fresh: skip), unless `force` is set. Otherwise the directory is locked against other
    /// writers and the old manifest removed first, so a failure midway never leaves outputs that
    /// a manifest vouches for.
    pub fn begin(
        dir: &Path,
        id: &StageId,
        inputs: StageInputs<'_>,
        force: bool,
    ) -> Result<Option<Self>, CoreError> {
        let stage = id.stage;
        check_chain(inputs.spec, &inputs.upstream)?;
        let upstream: Vec<UpstreamRecord> = inputs.upstream.iter().map(|u| u.record()).collect();
        let manifest_path = dir.join(MANIFEST_FILE);
        let created = CreatedDir::missing(dir);
        let lock = DirLock::acquire(dir)?;
        if !force && is_fresh(dir, stage, &inputs, &upstream) {
            tracing::info!(stage, dir = %dir.display(), "outputs are fresh; skipping (use --force to redo)");
            drop(lock);
            drop(created);
            return Ok(None);
        }
        match fs::remove_file(&manifest_path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(CoreError::io(&manifest_path, e)),
        }
        remove_stale_temp_files(dir);
        Ok(Some(Self {
            dir: dir.to_path_buf(),
            stage: stage.to_string(),
            crate_name: id.crate_name.to_string(),
            crate_version: id.crate_version.to_string(),
            spec_sha256: inputs.spec.sha256.to_string(),
            spec_toml: inputs.spec.text.to_string(),
            upstream,
            options: inputs.options,
            inputs: inputs.files,
            outputs: Vec::new(),
            started: Instant::now(),
            lock: Some(lock),
            created,
        }))
    }

    /// Directory the stage writes to.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Add an input read after `begin` (it is recorded in the manifest; freshness compares the
    /// inputs given to `begin` with all recorded ones, so such a stage is always redone).
    pub fn add_input(&mut self, record: FileRecord) {
        self.inputs.push(record);
    }

    /// Write raw bytes atomically and record them.
    pub fn write_bytes(
        &mut self,
        name: &str,
        bytes: &[u8],
        rows: Option<u64>,
        schema: Option<&ArtifactSchema>,
    ) -> Result<(), CoreError> {
        let path = self.dir.join(name);
        write_atomic(&path, bytes)?;
        // Something is written: the directory stays whatever happens next.
        self.created.keep();
        self.outputs.retain(|o| o.path != name);
        self.outputs.push(OutputRecord {
            path: name.to_string(),
            sha256: sha256_hex(bytes),
            rows,
            schema: schema.map(|s| s.name.to_string()),
            schema_version: schema.map(|s| s.schema_version),
        });
        Ok(())
    }

    /// Check a batch against its documented schema, then write it as Parquet.
    pub fn write_parquet(
        &mut self,
        name: &str,
        batch: &RecordBatch,
        schema: &ArtifactSchema,
    ) -> Result<(), CoreError> {
        let path = self.dir.join(name);
        schema.check(batch, &path)?;
        let bytes = parquet_bytes(batch, &path)?;
        self.write_bytes(name, &bytes, Some(batch.num_rows() as u64), Some(schema))
    }

    /// Write a value as pretty JSON (keys in struct order, so output is deterministic).
    pub fn write_json<T: serde::Serialize>(
        &mut self,
        name: &str,
        value: &T,
        schema: Option<&ArtifactSchema>,
    ) -> Result<(), CoreError> {
        let path = self.dir.join(name);
        let mut bytes =
            serde_json::to_vec_pretty(value).map_err(|source| CoreError::Json { path, source })?;
        bytes.push(b'\n');
        self.write_bytes(name, &bytes, None, schema)
    }

    /// Write the manifest (the commit marker) and return it.
    pub fn finish(
        self,
        seed: Option<u64>,
        settings: serde_json::Value,
        status: RunStatus,
    ) -> Result<Manifest, CoreError> {
        let manifest = Manifest {
            manifest_version: MANIFEST_SCHEMA_VERSION,
            stage: self.stage,
            crate_name: self.crate_name,
            crate_version: self.crate_version,
            spec_sha256: self.spec_sha256,
            spec_toml: self.spec_toml,
            upstream: self.upstream,
            options: self.options,
            inputs: self.inputs,
            outputs: self.outputs,
            seed,
            settings,
            status,
            finished_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            wall_seconds: self.started.elapsed().as_secs_f64(),
        };
        let path = self.dir.join(MANIFEST_FILE);
        let mut bytes = serde_json::to_vec_pretty(&manifest).map_err(|source| CoreError::Json {
            path: path.clone(),
            source,
        })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes)?;
        let mut created = self.created;
        created.keep();
        drop(self.lock);
        Ok(manifest)
    }
}

/// Remove temp files that [`write_atomic`] left behind when a process was killed mid-write
/// (`.NAME.PID.tmp`); the stage is about to be redone, so nothing in them is wanted.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        // A link is removed itself, never followed.
        let is_file_or_link = entry
            .file_type()
            .is_ok_and(|t| t.is_file() || t.is_symlink());
        if name.starts_with('.') && name.ends_with(".tmp") && is_file_or_link {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A stage is fresh when its manifest is complete, was made from the same spec, upstream
/// manifests, inputs and options, and every output it lists is still there with the recorded
/// hash.
fn is_fresh(
    dir: &Path,
    stage: &str,
    inputs: &StageInputs<'_>,
    upstream: &[UpstreamRecord],
) -> bool {
    let Ok(up) = Upstream::open(dir, stage) else {
        return false;
    };
    let m = up.manifest();
    if m.spec_sha256 != inputs.spec.sha256 || m.options != inputs.options {
        return false;
    }
    // Linked by manifest hash: a directory moved since is still the same upstream.
    let links = |u: &[UpstreamRecord]| {
        let mut v: Vec<(String, String)> = u
            .iter()
            .map(|r| (r.stage.clone(), r.manifest_sha256.clone()))
            .collect();
        v.sort();
        v
    };
    if links(&m.upstream) != links(upstream) {
        return false;
    }
    let inputs = &inputs.files;
    // The inputs must match exactly: every one present with its hash, and none recorded that is
    // no longer given (an optional input dropped since, such as a calendar or a campaign map,
    // shaped the old outputs).
    if m.inputs.len() != inputs.len() || !inputs.iter().all(|i| m.inputs.contains(i)) {
        return false;
    }
    m.outputs.iter().all(|o| up.read_verified(&o.path).is_ok())
}

/// A record of an input file: its path and current sha256.
pub fn file_record(path: &Path) -> Result<FileRecord, CoreError> {
    Ok(FileRecord {
        path: path.display().to_string(),
        sha256: crate::hash::sha256_file(path)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn begin(dir: &Path) -> StageWriter {
        let id = StageId {
            stage: "test",
            crate_name: "mmm-core",
            crate_version: "0",
        };
        let spec = SpecRef {
            sha256: "spec",
            text: "",
            path: Path::new("spec.toml"),
        };
        StageWriter::begin(dir, &id, StageInputs::new(spec, &[], Vec::new()), true)
            .expect("begin")
            .expect("not fresh")
    }

    #[test]
    fn a_failed_atomic_write_leaves_no_temp_file_and_the_old_content() {
        let root = tempfile::tempdir().expect("tmp");
        // The final name is a directory: the rename fails after the temp file was written.
        let target = root.path().join("out.json");
        fs::create_dir(&target).expect("mkdir");
        assert!(write_atomic(&target, b"new").is_err());
        let names: Vec<String> = fs::read_dir(root.path())
            .expect("dir")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["out.json"], "the temp file was removed");
        let file = root.path().join("kept.txt");
        write_atomic(&file, b"old").expect("write");
        write_atomic(&file, b"new").expect("write");
        assert_eq!(fs::read(&file).expect("read"), b"new");
    }

    #[test]
    fn read_regular_file_refuses_directories_and_oversized_files() {
        let root = tempfile::tempdir().expect("tmp");
        assert!(read_regular_file(root.path(), 10).is_err());
        let file = root.path().join("f");
        fs::write(&file, b"0123456789").expect("write");
        assert_eq!(read_regular_file(&file, 10).expect("read").len(), 10);
        let err = read_regular_file(&file, 9)
            .expect_err("too big")
            .to_string();
        assert!(err.contains("more than the 9 bytes"), "{err}");
    }

    #[test]
    fn corrupt_parquet_is_an_error_naming_the_file() {
        let err = read_parquet_bytes(
            b"PAR1 not really PAR1".to_vec(),
            Path::new("x/draws.parquet"),
        )
        .expect_err("corrupt");
        assert!(
            err.to_string()
                .starts_with("x/draws.parquet: parquet: corrupt"),
            "{err}"
        );
    }

    #[test]
    fn a_stage_that_ends_before_writing_leaves_no_directory_it_created() {
        let root = tempfile::tempdir().expect("tmp");
        let new = root.path().join("a/stage");
        drop(begin(&new));
        assert!(
            !root.path().join("a").exists(),
            "an abandoned stage left its directories"
        );
        // A directory that existed before is kept, even empty.
        let existing = root.path().join("existing");
        fs::create_dir(&existing).expect("mkdir");
        drop(begin(&existing));
        assert!(existing.is_dir());
        // Once something is written, the directory stays, finished or not.
        let written = root.path().join("written");
        let mut w = begin(&written);
        w.write_bytes("x.txt", b"x", None, None).expect("write");
        drop(w);
        assert!(written.join("x.txt").is_file());
        let finished = root.path().join("finished");
        let manifest = begin(&finished)
            .finish(None, serde_json::Value::Null, RunStatus::Complete)
            .expect("finish");
        assert_eq!(manifest.stage, "test");
        assert!(finished.join(MANIFEST_FILE).is_file());
    }
}
