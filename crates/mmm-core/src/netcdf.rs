//! A NetCDF-4 writer of `LabelledStore`s (one HDF5 file, groups as NetCDF-4 groups), on the
//! pure-Rust `netcdf-writer` crate (no C library), for tools that want one `.nc` file
//! (`az.from_netcdf`, xarray's `open_datatree(engine="h5netcdf")`).
//!
//! Mapping (the NetCDF User Guide's data model, and xarray's encoding): each group's
//! dimensions are declared in that group, an array named like its one dimension is the
//! dimension's coordinate variable, strings are `NC_STRING`, booleans `NC_BYTE` with the
//! attribute `dtype = "bool"` (which xarray decodes back to booleans), JSON attributes as
//! text or numbers. The whole file is assembled in memory and written once, through a
//! temporary file renamed into place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use netcdf_writer::{DimensionId, NcAttrValue, NcFileBuilder, NcWriteFormat, NcWriteOptions};
use serde_json::Value;

use crate::CoreError;
use crate::labelled::{ArrayValues, LabelledStore, check_shape};

/// A NetCDF-4 file being assembled.
#[derive(Debug)]
pub struct NetcdfWriter {
    path: PathBuf,
    builder: NcFileBuilder,
    /// Declared dimensions by `group/name`, with their sizes.
    dims: BTreeMap<String, (DimensionId, usize)>,
}

impl NetcdfWriter {
    /// Start a file to be written at `path` (must not exist) with root attributes `attrs`.
    pub fn create(path: &Path, attrs: Value) -> Result<Self, CoreError> {
        if path.exists() {
            return Err(CoreError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "exists"),
            });
        }
        let mut builder = NcFileBuilder::new();
        for (name, value) in attributes(&attrs) {
            builder
                .add_attribute(name, value)
                .map_err(|e| netcdf(path, &e))?;
        }
        Ok(Self {
            path: path.to_path_buf(),
            builder,
            dims: BTreeMap::new(),
        })
    }

    /// Encode the file and write it (through a temporary sibling renamed into place).
    pub fn finish(self) -> Result<PathBuf, CoreError> {
        let options = NcWriteOptions {
            format: NcWriteFormat::Nc4,
        };
        let (_, bytes) = self
            .builder
            .to_vec(options)
            .map_err(|e| netcdf(&self.path, &e))?;
        crate::artifact::write_atomic(&self.path, &bytes)?;
        Ok(self.path)
    }

    /// The dimension `group/name` of size `size`, declared on first use.
    fn dimension(
        &mut self,
        group: &str,
        name: &str,
        size: usize,
    ) -> Result<DimensionId, CoreError> {
        let key = format!("{group}/{name}");
        match self.dims.get(&key) {
            Some(&(id, n)) if n == size => Ok(id),
            Some(&(_, n)) => Err(CoreError::Schema {
                path: self.path.clone(),
                schema: "netcdf".into(),
                message: format!("dimension {key} has size {n}; an array asks for {size}"),
            }),
            None => {
                let id = self
                    .builder
                    .add_dimension_path(&key, size as u64)
                    .map_err(|e| netcdf(&self.path, &e))?;
                self.dims.insert(key, (id, size));
                Ok(id)
            }
        }
    }
}

impl LabelledStore for NetcdfWriter {
    fn group(&mut self, path: &str, attrs: Value) -> Result<(), CoreError> {
        for (name, value) in attributes(&attrs) {
            self.builder
                .add_group_attribute(path, name, value)
                .map_err(|e| netcdf(&self.path, &e))?;
        }
        Ok(())
    }

    fn array(
        &mut self,
        path: &str,
        dims: &[&str],
        shape: &[usize],
        values: ArrayValues<'_>,
    ) -> Result<(), CoreError> {
        check_shape(|| self.path.join(path), dims, shape, &values)?;
        let group = path.rsplit_once('/').map_or("", |(g, _)| g);
        let ids = dims
            .iter()
            .zip(shape)
            .map(|(d, &n)| self.dimension(group, d, n))
            .collect::<Result<Vec<_>, _>>()?;
        let file = self.path.clone();
        let fail = |e: netcdf_writer::Error| netcdf(&file, &e);
        let b = &mut self.builder;
        match values {
            ArrayValues::F64(v) => {
                let id = b.add_variable_path::<f64>(path, &ids).map_err(fail)?;
                b.write_variable(id, v).map_err(fail)
            }
            ArrayValues::I64(v) => {
                let id = b.add_variable_path::<i64>(path, &ids).map_err(fail)?;
                b.write_variable(id, v).map_err(fail)
            }
            ArrayValues::Bool(v) => {
                let id = b.add_variable_path::<i8>(path, &ids).map_err(fail)?;
                b.add_variable_attribute(id, "dtype", NcAttrValue::Chars("bool".into()))
                    .map_err(fail)?;
                let bytes: Vec<i8> = v.iter().map(|&x| i8::from(x)).collect();
                b.write_variable(id, &bytes).map_err(fail)
            }
            ArrayValues::Str(v) => {
                let id = b.add_string_variable_path(path, &ids).map_err(fail)?;
                b.write_string_variable(id, v).map_err(fail)
            }
        }
    }
}

/// A JSON object's entries as NetCDF attributes: strings as text, numbers as 64-bit integers
/// or doubles, nulls left out (NetCDF has no null), anything else as its JSON text.
fn attributes(attrs: &Value) -> Vec<(String, NcAttrValue)> {
    let Some(map) = attrs.as_object() else {
        return Vec::new();
    };
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => NcAttrValue::Chars(s.clone()),
                Value::Number(n) => match n.as_i64() {
                    Some(i) => NcAttrValue::Int64s(vec![i]),
                    None => NcAttrValue::Doubles(vec![n.as_f64().unwrap_or(f64::NAN)]),
                },
                other => NcAttrValue::Chars(other.to_string()),
            };
            (k.clone(), value)
        })
        .collect()
}

fn netcdf(path: &Path, e: &netcdf_writer::Error) -> CoreError {
    CoreError::Schema {
        path: path.to_path_buf(),
        schema: "netcdf".into(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dimension_keeps_one_size_per_group_and_values_must_fill_the_shape() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("x.nc");
        let mut w =
            NetcdfWriter::create(&path, serde_json::json!({"a": 1, "b": null})).expect("create");
        w.group("g", serde_json::json!({"name": "g"}))
            .expect("group");
        w.array("g/u", &["x"], &[2], ArrayValues::F64(&[1.0, 2.0]))
            .expect("first array declares x");
        let err = w
            .array("g/v", &["x"], &[3], ArrayValues::F64(&[1.0, 2.0, 3.0]))
            .expect_err("x is 2 in g");
        assert!(err.to_string().contains("g/x has size 2"), "{err}");
        // Another group declares its own x.
        w.array("h/v", &["x"], &[3], ArrayValues::I64(&[1, 2, 3]))
            .expect("h/x is separate");
        let err = w
            .array("g/w", &["x"], &[2], ArrayValues::Bool(&[true]))
            .expect_err("one value for two");
        assert!(err.to_string().contains("cannot have shape"), "{err}");
        w.array(
            "g/x",
            &["x"],
            &[2],
            ArrayValues::Str(&["p".into(), "q".into()]),
        )
        .expect("coordinate");
        let written = w.finish().expect("finish");
        let bytes = std::fs::read(written).expect("file");
        assert_eq!(&bytes[..8], b"\x89HDF\r\n\x1a\n");
        // An existing file is refused.
        assert!(NetcdfWriter::create(&path, Value::Null).is_err());
    }
}
