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
use crate::labelled::{ArrayValues, LabelledStore, shape_error};

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
        if dims.len() != shape.len() || values.len() != shape.iter().product::<usize>() {
            return Err(shape_error(self.path.join(path), dims, shape, &values));
        }
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

/// A JSON object's entries as NetCDF attributes: strings as text, numbers as doubles (or
/// 64-bit integers), anything else as its JSON text.
fn attributes(attrs: &Value) -> Vec<(String, NcAttrValue)> {
    let Some(map) = attrs.as_object() else {
        return Vec::new();
    };
    map.iter()
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
