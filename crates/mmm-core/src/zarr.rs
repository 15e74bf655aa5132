//! A minimal Zarr v2 writer of `LabelledStore`s (uncompressed, one chunk per array, consolidated metadata), enough
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
use crate::labelled::{ArrayValues, LabelledStore, check_shape};

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
        writer.group_documents("", attrs)?;
        Ok(writer)
    }

    /// A group at `path` (`""` for the root; parents first) with attributes `attrs`.
    fn group_documents(&mut self, path: &str, attrs: Value) -> Result<(), CoreError> {
        let dir = self.root.join(path);
        std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        self.document(path, ".zgroup", json!({ "zarr_format": 2 }))?;
        self.document(path, ".zattrs", attrs)
    }

    /// Write `.zmetadata` (consolidated metadata) and return the root.
    pub fn finish(self) -> Result<PathBuf, CoreError> {
        let doc = json!({ "zarr_consolidated_format": 1, "metadata": self.metadata });
        write_json(&self.root.join(".zmetadata"), &doc)?;
        Ok(self.root)
    }

    fn document(&mut self, path: &str, name: &str, doc: Value) -> Result<(), CoreError> {
        write_json(&self.root.join(path).join(name), &doc)?;
        let key = if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}/{name}")
        };
        self.metadata.insert(key, doc);
        Ok(())
    }
}

impl LabelledStore for ZarrWriter {
    fn group(&mut self, path: &str, attrs: Value) -> Result<(), CoreError> {
        self.group_documents(path, attrs)
    }

    /// An array directory: `.zarray`, `.zattrs` with xarray's `_ARRAY_DIMENSIONS`, one chunk.
    fn array(
        &mut self,
        path: &str,
        dims: &[&str],
        shape: &[usize],
        values: ArrayValues<'_>,
    ) -> Result<(), CoreError> {
        let dir = self.root.join(path);
        check_shape(|| dir.clone(), dims, shape, &values)?;
        std::fs::create_dir_all(&dir).map_err(|source| io(&dir, source))?;
        let (dtype, bytes) = encode(&values);
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
}

/// numpy's dtype string of `values` and their bytes in one chunk (little-endian; strings
/// fixed-width as numpy's `<U`: UTF-32LE, NUL-padded).
fn encode(values: &ArrayValues<'_>) -> (String, Vec<u8>) {
    match values {
        ArrayValues::F64(v) => (
            "<f8".into(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        ArrayValues::I64(v) => (
            "<i8".into(),
            v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        ),
        ArrayValues::Bool(v) => ("|b1".into(), v.iter().map(|&b| u8::from(b)).collect()),
        ArrayValues::Str(v) => {
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

/// One metadata document as pretty JSON.
fn write_json(file: &Path, doc: &Value) -> Result<(), CoreError> {
    let text = serde_json::to_string_pretty(doc).map_err(|e| CoreError::Schema {
        path: file.to_path_buf(),
        schema: "zarr metadata".into(),
        message: e.to_string(),
    })?;
    std::fs::write(file, text).map_err(|source| io(file, source))
}

fn io(path: &Path, source: std::io::Error) -> CoreError {
    CoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}
