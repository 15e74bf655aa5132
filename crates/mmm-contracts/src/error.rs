//! The causes under [`crate::ContractError`]: why an input file could not be read
//! ([`ReadError`]) and why the validated table could not be built from its rows
//! ([`TableError`]). Each keeps the underlying library error as its source; where the message
//! shows that error's text too, the CLI prints it once.

use arrow::error::ArrowError;
use mmm_core::error::ParquetFailure;

use crate::sql::SqlError;

/// Why an input file (the data, a campaign mapping, a calendar, a previous table) could not
/// be read or parsed: the cause of [`crate::ContractError::Unreadable`].
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The CSV header could not be parsed.
    #[error("header: {0}")]
    CsvHeader(#[source] csv::Error),
    /// A CSV record could not be parsed (ragged row, invalid UTF-8, unterminated quote).
    #[error("malformed CSV{}: {source}", at_line(*line))]
    MalformedCsv {
        /// The line of the record, when the parser knows it.
        line: Option<u64>,
        /// The parser's error.
        #[source]
        source: csv::Error,
    },
    /// A column name appears twice in the CSV header.
    #[error("column '{0}' appears twice in the header")]
    DuplicateColumn(String),
    /// The file's extension names no supported format.
    #[error("unsupported file extension '{0}': use .csv or .parquet")]
    Extension(String),
    /// The Parquet file is corrupt or not Parquet.
    #[error("{0}")]
    Parquet(#[source] ParquetFailure),
    /// A Parquet column could not be shown as text.
    #[error("column '{column}': {source}")]
    Format {
        /// The column.
        column: String,
        /// Arrow's error.
        #[source]
        source: ArrowError,
    },
    /// A campaign mapping lacks one of its two columns.
    #[error("mapping file needs a '{want}' column (columns present: {present})")]
    MappingColumn {
        /// The column it needs (`campaign` or `channel`).
        want: &'static str,
        /// The columns it has, comma-separated.
        present: String,
    },
    /// A campaign mapping maps one campaign to two channels.
    #[error("row {row}: campaign '{campaign}' is mapped to both '{first}' and '{second}'")]
    MappingConflict {
        /// 1-based data row of the second mapping.
        row: usize,
        /// The campaign.
        campaign: String,
        /// The channel of its first row.
        first: String,
        /// The other channel.
        second: String,
    },
}

/// ` at line N`, or nothing when the line is unknown.
fn at_line(line: Option<u64>) -> String {
    line.map(|l| format!(" at line {l}")).unwrap_or_default()
}

/// Why the table could not be built from the input's rows (the long pivot, the aggregation
/// to periods, the output batches): the cause of [`crate::ContractError::Internal`].
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// An ingestion query failed.
    #[error("{0}")]
    Sql(#[from] SqlError),
    /// Arrow could not assemble or cast a batch.
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    /// A pivot result lacks a column it selects (`the day column`, `column x`).
    #[error("pivot lost {0}")]
    PivotLost(String),
    /// A pivot column did not cast to floats.
    #[error("not float")]
    NotFloat,
    /// The aggregation result lacks its per-period input counts.
    #[error("aggregation lost its counts")]
    LostCounts,
    /// The per-period input counts did not cast to integers.
    #[error("counts are not integers")]
    CountsNotIntegers,
}
