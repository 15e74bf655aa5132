//! A minimal Zarr v2 writer (uncompressed, one chunk per array, consolidated metadata), enough
//! for xarray and ArviZ to open a hierarchy of groups of labelled arrays.
//!
//! Format: <https://zarr-specs.readthedocs.io/en/latest/v2/v2.0.html>. Each array is a
//! directory holding `.zarray` (shape, dtype, one chunk), `.zattrs` (xarray's
//! `_ARRAY_DIMENSIONS`) and the chunk file `0.0...0` with the values in C order, little-endian.
//! Every group has `.zgroup` and `.zattrs`; the root also gets `.zmetadata`, every metadata
//! document in one file, which xarray reads instead of walking the tree.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use crate::CoreError;

/// Values of one array.
#[derive(Debug, Clone)]
pub enum ZarrValues<'a> {
    /// 64-bit floats (`<f8`).
    F64(&'a [f64]),
    /// 64-bit integers (`<i8`).
    I64(&'a [i64]),
    /// Booleans (`|b1`).
    Bool(&'a [bool]),
    /// Strings, stored fixed-width as numpy's `<U` (UTF-32LE, NUL-padded).
    Str(&'a [String]),
}

impl ZarrValues<'_> {
    fn len(&self) -> usize {
        match self {
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Str(v) => v.len(),
        }
    }

    /// numpy dtype string and the chunk's bytes.
    fn encode(&self) -> (String, Vec<u8>) {
        match self {
            Self::F64(v) => (
                "<f8".into(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Self::I64(v) => (
                "<i8".into(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Self::Bool(v) => ("|b1".into(), v.iter().map(|&b| u8::from(b)).collect()),
            Self::Str(v) => {
                let width = v
                    .iter()
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
                    .max(1);
                let mut bytes = Vec::with_capacity(v.len() * width * 4);
                for s in v.iter() {
                    let mut n = 0;
                    for c in s.chars() {
                        bytes.extend_from_slice(&(c as u32).to_le_bytes());
                        n += 1;
                    }
                    bytes.resize(bytes.len() + (width - n) * 4, 0);
                }
                (format!("<U{width}"), bytes)
            }
        }
    }
}

/// A Zarr v2 hierarchy being written under one root directory.
#[derive(Debug)]
pub struct ZarrWriter {
    root: PathBuf,
    /// Every metadata document by its key relative to the root, for `.zmetadata`.
    metadata: BTreeMap<String, Value>,
}

impl ZarrWriter {
    /// Start a hierarchy at `root` (created; must not exist yet) with root attributes `attrs`.
    pub fn create(root: &Path, attrs: Value) -> Result<Self, CoreError> {
        std::fs::create_dir(root).map_err(|source| io(root, source))?;
        let mut writer = Self {
            root: root.to_path_buf(),
            metadata: BTreeMap::new(),
        };
        writer.group("", attrs)?;
        Ok(writer)
    }

    /// A group at `path` (`""` for the root; parents first) with attributes `attrs`.
    pub fn group(&mut self, path: &str, attrs: Value) -> Result<(), CoreError> {
        let dir = self.root.join(path);
        std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        self.document(path, ".zgroup", json!({ "zarr_format": 2 }))?;
        self.document(path, ".zattrs", attrs)
    }

    /// An array at `path` (inside an existing group) with named dimensions `dims` of sizes
    /// `shape`, holding `values` in C order.
    pub fn array(
        &mut self,
        path: &str,
        dims: &[&str],
        shape: &[usize],
        values: ZarrValues<'_>,
    ) -> Result<(), CoreError> {
        let dir = self.root.join(path);
        let expected: usize = shape.iter().product();
        if dims.len() != shape.len() || values.len() != expected {
            return Err(CoreError::Schema {
                path: dir,
                schema: "zarr array".into(),
                message: format!(
                    "array of {} values cannot have shape {shape:?} over dimensions {dims:?}",
                    values.len()
                ),
            });
        }
        std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        let (dtype, bytes) = values.encode();
        let fill = if dtype == "<f8" {
            json!("NaN")
        } else {
            Value::Null
        };
        let chunks: Vec<usize> = shape.iter().map(|&n| n.max(1)).collect();
        let zarray = json!({
            "zarr_format": 2, "shape": shape, "chunks": chunks, "dtype": dtype,
            "compressor": null, "fill_value": fill, "filters": null, "order": "C",
            "dimension_separator": ".",
        });
        self.document(path, ".zarray", zarray)?;
        self.document(path, ".zattrs", json!({ "_ARRAY_DIMENSIONS": dims }))?;
        let key = if shape.is_empty() {
            "0".to_string()
        } else {
            vec!["0"; shape.len()].join(".")
        };
        let chunk = dir.join(key);
        std::fs::write(&chunk, bytes).map_err(|source| io(&chunk, source))
    }

    /// Write `.zmetadata` (consolidated metadata) and return the root.
    pub fn finish(self) -> Result<PathBuf, CoreError> {
        let doc = json!({ "zarr_consolidated_format": 1, "metadata": self.metadata });
        let path = self.root.join(".zmetadata");
        let text = serde_json::to_string_pretty(&doc).map_err(|e| CoreError::Schema {
            path: path.clone(),
            schema: "zarr metadata".into(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(|source| io(&path, source))?;
        Ok(self.root)
    }

    fn document(&mut self, path: &str, name: &str, doc: Value) -> Result<(), CoreError> {
        let file = self.root.join(path).join(name);
        let text = serde_json::to_string_pretty(&doc).map_err(|e| CoreError::Schema {
            path: file.clone(),
            schema: "zarr metadata".into(),
            message: e.to_string(),
        })?;
        std::fs::write(&file, text).map_err(|source| io(&file, source))?;
        let key = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}/{name}")
        };
        self.metadata.insert(key, doc);
        Ok(())
    }
}

fn io(path: &Path, source: std::io::Error) -> CoreError {
    CoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
