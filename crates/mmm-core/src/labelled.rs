//! Hierarchies of groups of labelled arrays: xarray's data model, the shape of an ArviZ
//! InferenceData export. One trait, two formats: Zarr v2 (`zarr.rs`, a directory) and NetCDF-4
//! (`netcdf.rs`, one HDF5 file), so the export code writes each group once for both.

use serde_json::Value;

use crate::CoreError;

/// Values of one array, in C order.
#[derive(Debug, Clone)]
pub enum ArrayValues<'a> {
    /// 64-bit floats.
    F64(&'a [f64]),
    /// 64-bit integers.
    I64(&'a [i64]),
    /// Booleans.
    Bool(&'a [bool]),
    /// Strings (coordinate labels).
    Str(&'a [String]),
}

impl ArrayValues<'_> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            Self::F64(v) => v.len(),
            Self::I64(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Str(v) => v.len(),
        }
    }

    /// True when there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A store of groups of named arrays over named dimensions (`path` is `group/name`).
pub trait LabelledStore {
    /// A group at `path` (parents first) with attributes `attrs` (a JSON object of strings
    /// and numbers).
    fn group(&mut self, path: &str, attrs: Value) -> Result<(), CoreError>;

    /// An array at `path` inside an existing group, over dimensions `dims` of sizes `shape`.
    /// An array named like its only dimension is that dimension's coordinate.
    fn array(
        &mut self,
        path: &str,
        dims: &[&str],
        shape: &[usize],
        values: ArrayValues<'_>,
    ) -> Result<(), CoreError>;
}

/// Refuses an array whose dimensions and sizes differ in number or whose values do not fill
/// its shape (the one check every `LabelledStore` makes before writing).
pub(crate) fn check_shape(
    path: impl FnOnce() -> std::path::PathBuf,
    dims: &[&str],
    shape: &[usize],
    values: &ArrayValues<'_>,
) -> Result<(), CoreError> {
    if dims.len() == shape.len() && values.len() == shape.iter().product::<usize>() {
        return Ok(());
    }
    Err(CoreError::Schema {
        path: path(),
        schema: "labelled array".into(),
        message: format!(
            "array of {} values cannot have shape {shape:?} over dimensions {dims:?}",
            values.len()
        ),
    })
}
