//! Typed access to named columns of a record batch, with errors that name the file and column.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow::datatypes::{DataType, Field, Schema};

use crate::error::CoreError;

fn column<'a>(batch: &'a RecordBatch, name: &str, path: &Path) -> Result<&'a ArrayRef, CoreError> {
    batch.column_by_name(name).ok_or_else(|| CoreError::Schema {
        path: path.to_path_buf(),
        schema: "(expected layout)".into(),
        message: format!("missing column '{name}'"),
    })
}

fn wrong_type(path: &Path, name: &str, expected: &str, found: &DataType) -> CoreError {
    CoreError::Schema {
        path: path.to_path_buf(),
        schema: "(expected layout)".into(),
        message: format!("column '{name}' has type {found}, expected {expected}"),
    }
}

fn no_nulls(arr: &dyn Array, path: &Path, name: &str) -> Result<(), CoreError> {
    if arr.null_count() > 0 {
        return Err(CoreError::Schema {
            path: path.to_path_buf(),
            schema: "(expected layout)".into(),
            message: format!("column '{name}' has {} null values", arr.null_count()),
        });
    }
    Ok(())
}

/// A float64 column as a vector.
pub fn f64_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<f64>, CoreError> {
    let arr = column(batch, name, path)?;
    let a = arr
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| wrong_type(path, name, "float64", arr.data_type()))?;
    no_nulls(a, path, name)?;
    Ok(a.values().to_vec())
}

/// An int64 column as a vector.
pub fn i64_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<i64>, CoreError> {
    let arr = column(batch, name, path)?;
    let a = arr
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| wrong_type(path, name, "int64", arr.data_type()))?;
    no_nulls(a, path, name)?;
    Ok(a.values().to_vec())
}

/// A date32 column as days since 1970-01-01.
pub fn date_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<i32>, CoreError> {
    let arr = column(batch, name, path)?;
    let a = arr
        .as_any()
        .downcast_ref::<Date32Array>()
        .ok_or_else(|| wrong_type(path, name, "date32", arr.data_type()))?;
    no_nulls(a, path, name)?;
    Ok(a.values().to_vec())
}

/// A boolean column.
pub fn bool_column(batch: &RecordBatch, name: &str, path: &Path) -> Result<Vec<bool>, CoreError> {
    let arr = column(batch, name, path)?;
    let a = arr
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| wrong_type(path, name, "boolean", arr.data_type()))?;
    no_nulls(a, path, name)?;
    Ok(a.iter().map(|v| v.unwrap_or(false)).collect())
}

/// A utf8 column.
pub fn string_column(
    batch: &RecordBatch,
    name: &str,
    path: &Path,
) -> Result<Vec<String>, CoreError> {
    let arr = column(batch, name, path)?;
    let a = arr
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| wrong_type(path, name, "utf8", arr.data_type()))?;
    no_nulls(a, path, name)?;
    Ok(a.iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// Builds a record batch column by column, in a fixed order.
#[derive(Debug, Default)]
pub struct BatchBuilder {
    fields: Vec<Field>,
    arrays: Vec<ArrayRef>,
}

impl BatchBuilder {
    /// Start an empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &str, arr: ArrayRef) -> Self {
        self.fields
            .push(Field::new(name, arr.data_type().clone(), false));
        self.arrays.push(arr);
        self
    }

    /// Append a float64 column.
    pub fn f64(self, name: &str, values: Vec<f64>) -> Self {
        self.push(name, Arc::new(Float64Array::from(values)))
    }

    /// Append an int64 column.
    pub fn i64(self, name: &str, values: Vec<i64>) -> Self {
        self.push(name, Arc::new(Int64Array::from(values)))
    }

    /// Append a date32 column (days since 1970-01-01).
    pub fn date(self, name: &str, values: Vec<i32>) -> Self {
        self.push(name, Arc::new(Date32Array::from(values)))
    }

    /// Append a boolean column.
    pub fn bool(self, name: &str, values: Vec<bool>) -> Self {
        self.push(name, Arc::new(BooleanArray::from(values)))
    }

    /// Append a utf8 column.
    pub fn string(self, name: &str, values: Vec<String>) -> Self {
        self.push(name, Arc::new(StringArray::from(values)))
    }

    /// Finish; all columns must have the same length.
    pub fn build(self) -> Result<RecordBatch, arrow::error::ArrowError> {
        RecordBatch::try_new(Arc::new(Schema::new(self.fields)), self.arrays)
    }
}
