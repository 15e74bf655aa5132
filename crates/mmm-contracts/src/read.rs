//! Readers for raw input files. They never panic: a corrupt or truncated file gives an error
//! naming the file (and the line, for CSV).

use std::path::Path;

use arrow::array::{Array, StringArray, StringBuilder};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use crate::{ContractError, ReadError};

/// A raw table: column names and every cell as text, column-major (Arrow string arrays keep
/// millions of cells compact).
#[derive(Debug, Clone, Default)]
pub struct RawTable {
    /// Column names in file order.
    pub names: Vec<String>,
    /// Cells, one array per column (no nulls: an empty cell is "").
    pub cells: Vec<StringArray>,
    /// Number of data rows.
    pub rows: usize,
}

impl RawTable {
    /// The cells of a column by name.
    pub fn column(&self, name: &str) -> Option<&StringArray> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.cells[i])
    }
}

/// [`ContractError::Unreadable`] for `path`.
pub(crate) fn unreadable(path: &Path, reason: ReadError) -> ContractError {
    ContractError::Unreadable {
        path: path.to_path_buf(),
        reason,
    }
}

/// Refuse a path that exists but is not a regular file (a named pipe, a device, a socket, a
/// directory) before anything opens it: reading a FIFO or a character device blocks forever
/// or never ends. A path that does not exist is left to the caller's own open.
pub fn require_regular_file(path: &Path) -> Result<(), ContractError> {
    let Ok(meta) = std::fs::metadata(path) else {
        return Ok(());
    };
    if meta.is_file() {
        return Ok(());
    }
    Err(ContractError::NotAFile {
        path: path.to_path_buf(),
        kind: file_kind(&meta.file_type()),
    })
}

/// A readable name for a file type that is not a regular file.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a named pipe (FIFO)";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
        if t.is_socket() {
            return "a socket";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Read a CSV (`.csv`) or Parquet (`.parquet`, `.pq`) file by extension.
pub fn read_table(path: &Path) -> Result<RawTable, ContractError> {
    require_regular_file(path)?;
    let bytes = std::fs::read(path).map_err(|e| unreadable(path, e.into()))?;
    read_table_bytes(bytes, path)
}

/// Parse the bytes of a CSV or Parquet file; `path` gives the format (by extension) and names
/// the file in errors. Never panics, whatever the bytes.
pub fn read_table_bytes(bytes: Vec<u8>, path: &Path) -> Result<RawTable, ContractError> {
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    match ext.as_str() {
        "csv" | "txt" => read_csv(&bytes, path),
        "parquet" | "pq" => read_parquet(bytes, path),
        other => Err(unreadable(path, ReadError::Extension(other.to_string()))),
    }
}

fn read_csv(bytes: &[u8], path: &Path) -> Result<RawTable, ContractError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(bytes);
    let headers = reader
        .headers()
        .map_err(|e| unreadable(path, ReadError::CsvHeader(e)))?
        .clone();
    let names: Vec<String> = headers
        .iter()
        .map(|h| h.trim().trim_start_matches('\u{feff}').to_string())
        .collect();
    let mut seen = std::collections::HashSet::new();
    for n in &names {
        if !seen.insert(n) {
            return Err(unreadable(path, ReadError::DuplicateColumn(n.clone())));
        }
    }
    let mut builders: Vec<StringBuilder> = names.iter().map(|_| StringBuilder::new()).collect();
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|source| {
            let line = source.position().map(|p| p.line());
            unreadable(path, ReadError::MalformedCsv { line, source })
        })?;
        for (b, cell) in builders.iter_mut().zip(record.iter()) {
            b.append_value(cell);
        }
        rows += 1;
    }
    let cells = builders.iter_mut().map(|b| b.finish()).collect();
    Ok(RawTable { names, cells, rows })
}

/// Decode a whole Parquet file through the one hardened reader ([`mmm_core::read_parquet_bytes`]:
/// no panic on corrupt bytes, an error naming the file). Corrupt bytes are unreadable input.
pub(crate) fn decode_parquet(
    bytes: Vec<u8>,
    path: &Path,
) -> Result<arrow::array::RecordBatch, ContractError> {
    mmm_core::read_parquet_bytes(bytes, path).map_err(|e| match e {
        mmm_core::CoreError::Parquet { source, .. } => unreadable(path, ReadError::Parquet(source)),
        other => ContractError::from(other),
    })
}

fn read_parquet(bytes: Vec<u8>, path: &Path) -> Result<RawTable, ContractError> {
    let batch = decode_parquet(bytes, path)?;
    let opts = FormatOptions::default().with_null("");
    let mut names = Vec::new();
    let mut cells = Vec::new();
    for (field, arr) in batch.schema().fields().iter().zip(batch.columns()) {
        let fmt = ArrayFormatter::try_new(arr.as_ref(), &opts).map_err(|source| {
            let column = field.name().clone();
            unreadable(path, ReadError::Format { column, source })
        })?;
        names.push(field.name().clone());
        let mut b = StringBuilder::new();
        for i in 0..arr.len() {
            b.append_value(fmt.value(i).to_string());
        }
        cells.push(b.finish());
    }
    Ok(RawTable {
        names,
        cells,
        rows: batch.num_rows(),
    })
}
