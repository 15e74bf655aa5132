//! Ingestion and data contracts: a raw CSV or Parquet export in, a validated weekly table out.
//!
//! All rules run in one pass and every finding is reported together, each with its rule id,
//! severity, column, row and period. Any error-severity finding rejects the input
//! ([`ContractError::Rejected`], exit code 2 at the CLI).

mod read;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use mmm_core::spec::LoadedSpec;
use mmm_core::{BatchBuilder, CoreError, Manifest, RunStatus, StageWriter, file_record, schemas};
use serde::Serialize;

pub use read::RawTable;

/// Name of the stage.
pub const STAGE: &str = "validate";

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// The input is rejected.
    Error,
    /// Reported, the input is still used.
    Warning,
}

/// One contract finding.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Finding {
    /// Stable rule id, e.g. `negative_spend`.
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Column concerned, if any.
    pub column: Option<String>,
    /// 1-based data row (the header is not counted), if any.
    pub row: Option<usize>,
    /// Period (ISO date) concerned, if any.
    pub period: Option<String>,
    /// Human-readable explanation.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}[{}]", self.rule)?;
        if let Some(c) = &self.column {
            write!(f, " column '{c}'")?;
        }
        if let Some(r) = self.row {
            write!(f, " row {r}")?;
        }
        if let Some(p) = &self.period {
            write!(f, " period {p}")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Summary statistics of one validated column.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ColumnSummary {
    /// Column name.
    pub name: String,
    /// Role in the model: target, channel, control.
    pub role: &'static str,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// Sum of values (total spend for channels).
    pub sum: f64,
    /// Number of zero values.
    pub zeros: usize,
}

/// contract.json: what was checked and found.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct ContractReport {
    /// The data file.
    pub source: String,
    /// sha256 of the data file.
    pub source_sha256: String,
    /// Data rows read.
    pub rows: usize,
    /// First period (ISO date).
    pub first_period: Option<String>,
    /// Last period (ISO date).
    pub last_period: Option<String>,
    /// Period length in days, from the spec.
    pub period_days: u32,
    /// Summary per modeled column.
    pub columns: Vec<ColumnSummary>,
    /// Every finding.
    pub findings: Vec<Finding>,
    /// True when no finding has error severity.
    pub passed: bool,
}

/// Errors of the validate stage.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The input broke the data contract; every finding is listed.
    #[error("{}: rejected by the data contract ({} error(s)):\n{}", path.display(), findings.iter().filter(|f| f.severity == Severity::Error).count(), findings.iter().map(|f| format!("  - {f}")).collect::<Vec<_>>().join("\n"))]
    Rejected {
        /// The data file.
        path: PathBuf,
        /// All findings, errors and warnings.
        findings: Vec<Finding>,
    },
    /// The file could not be read at all.
    #[error("{}: {message}", path.display())]
    Unreadable {
        /// The data file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// Validated columns in date order.
#[derive(Debug, Clone)]
struct ValidTable {
    dates: Vec<i32>,
    columns: Vec<(String, &'static str, Vec<f64>)>,
}

/// Columns the spec needs, with their roles, in a fixed order (target, channels, controls).
fn required_columns(spec: &mmm_core::Spec) -> Vec<(String, &'static str)> {
    let mut out: Vec<(String, &'static str)> = vec![(spec.data.target.clone(), "target")];
    for ch in &spec.channels {
        let c = ch.spend_column().to_string();
        if !out.iter().any(|(n, _)| *n == c) {
            out.push((c, "channel"));
        }
    }
    for c in &spec.controls {
        if !out.iter().any(|(n, _)| *n == c.name) {
            out.push((c.name.clone(), "control"));
        }
    }
    out
}

/// Days since 1970-01-01 of a date.
pub fn days_from_date(d: NaiveDate) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (d - epoch).num_days() as i32
}

/// ISO string of days since 1970-01-01.
pub fn date_from_days(days: i32) -> String {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    (epoch + chrono::Duration::days(days as i64))
        .format("%Y-%m-%d")
        .to_string()
}

/// Run every contract rule on a raw table; returns the valid table (if no errors) and all findings.
fn check(
    raw: &RawTable,
    spec: &mmm_core::Spec,
) -> (Option<ValidTable>, Vec<Finding>, Vec<ColumnSummary>) {
    let mut findings = Vec::new();
    let mut err = |rule: &'static str,
                   column: Option<&str>,
                   row: Option<usize>,
                   period: Option<String>,
                   message: String| {
        findings.push(Finding {
            rule,
            severity: Severity::Error,
            column: column.map(str::to_string),
            row,
            period,
            message,
        })
    };
    let required = required_columns(spec);
    let date_col = spec.data.date_column.as_str();
    let mut missing = false;
    for name in std::iter::once(date_col).chain(required.iter().map(|(n, _)| n.as_str())) {
        if raw.column(name).is_none() {
            missing = true;
            err(
                "missing_column",
                Some(name),
                None,
                None,
                format!(
                    "required column is absent (columns present: {})",
                    raw.names.join(", ")
                ),
            );
        }
    }
    if raw.rows == 0 {
        err(
            "empty_table",
            None,
            None,
            None,
            "the file has no data rows".into(),
        );
    }
    if missing || raw.rows == 0 {
        return (None, findings, Vec::new());
    }

    // Dates.
    let mut dates: Vec<Option<i32>> = Vec::with_capacity(raw.rows);
    if let Some(cells) = raw.column(date_col) {
        for (i, cell) in cells.iter().enumerate() {
            match parse_date(cell) {
                Some(d) => dates.push(Some(days_from_date(d))),
                None => {
                    err(
                        "unparseable_date",
                        Some(date_col),
                        Some(i + 1),
                        None,
                        format!("'{cell}' is not an ISO date (YYYY-MM-DD)"),
                    );
                    dates.push(None);
                }
            }
        }
    }

    // Numbers.
    let mut values: Vec<(String, &'static str, Vec<f64>)> = Vec::new();
    for (name, role) in &required {
        let cells = raw.column(name).unwrap_or_default();
        let mut col = Vec::with_capacity(raw.rows);
        for (i, cell) in cells.iter().enumerate() {
            let period = dates[i].map(date_from_days);
            let trimmed = cell.trim();
            match trimmed.parse::<f64>() {
                Ok(v) if !v.is_finite() => {
                    err(
                        "non_finite",
                        Some(name),
                        Some(i + 1),
                        period,
                        format!("value '{trimmed}' is NaN or infinite"),
                    );
                    col.push(f64::NAN);
                }
                Ok(v) => {
                    if *role == "channel" && v < 0.0 {
                        err(
                            "negative_spend",
                            Some(name),
                            Some(i + 1),
                            period,
                            format!("spend {v} is negative"),
                        );
                    }
                    col.push(v);
                }
                Err(_)
                    if trimmed.is_empty()
                        || trimmed.eq_ignore_ascii_case("null")
                        || trimmed.eq_ignore_ascii_case("na") =>
                {
                    err(
                        "missing_value",
                        Some(name),
                        Some(i + 1),
                        period,
                        "value is empty".into(),
                    );
                    col.push(f64::NAN);
                }
                Err(_) => {
                    err(
                        "wrong_type",
                        Some(name),
                        Some(i + 1),
                        period,
                        format!("'{trimmed}' is not a number"),
                    );
                    col.push(f64::NAN);
                }
            }
        }
        values.push((name.clone(), role, col));
    }

    // Period grid: sort, duplicates, gaps, off-grid.
    let mut order: Vec<usize> = (0..raw.rows).filter(|&i| dates[i].is_some()).collect();
    order.sort_by_key(|&i| dates[i]);
    let step = spec.data.period_days as i32;
    for w in order.windows(2) {
        let (a, b) = (dates[w[0]].unwrap_or(0), dates[w[1]].unwrap_or(0));
        let gap = b - a;
        if gap == 0 {
            err(
                "duplicate_period",
                Some(date_col),
                Some(w[1] + 1),
                Some(date_from_days(b)),
                format!("period also appears in row {}", w[0] + 1),
            );
        } else if gap % step != 0 {
            err(
                "off_grid_period",
                Some(date_col),
                Some(w[1] + 1),
                Some(date_from_days(b)),
                format!("{gap} days after the previous period; periods must be {step} days apart"),
            );
        } else if gap > step {
            let missing: Vec<String> = (1..gap / step)
                .map(|k| date_from_days(a + k * step))
                .collect();
            err(
                "missing_period",
                Some(date_col),
                Some(w[1] + 1),
                Some(missing[0].clone()),
                format!(
                    "{} period(s) missing before this row: {}",
                    missing.len(),
                    missing.join(", ")
                ),
            );
        }
    }

    // Column-level rules (on rows in date order).
    let mut summaries = Vec::new();
    for (name, role, col) in &values {
        let finite: Vec<f64> = col.iter().copied().filter(|v| v.is_finite()).collect();
        if finite.is_empty() {
            continue;
        }
        let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = finite.iter().sum();
        summaries.push(ColumnSummary {
            name: name.clone(),
            role,
            min,
            max,
            mean: sum / finite.len() as f64,
            sum,
            zeros: finite.iter().filter(|v| **v == 0.0).count(),
        });
        if *role == "channel" && max == 0.0 {
            err(
                "channel_all_zero",
                Some(name),
                None,
                None,
                "the channel has no spend at all; its effect cannot be estimated".into(),
            );
        } else if *role == "channel" && min == max {
            err(
                "channel_constant",
                Some(name),
                None,
                None,
                format!(
                    "spend is constant ({min}); its effect cannot be separated from the intercept"
                ),
            );
        }
        if *role == "target" && min == max {
            err(
                "target_constant",
                Some(name),
                None,
                None,
                format!("the target is constant ({min})"),
            );
        }
    }

    let params = spec.parameter_count();
    if raw.rows < params + 2 {
        err(
            "too_few_rows",
            None,
            None,
            None,
            format!("{} rows for {params} model parameters", raw.rows),
        );
    } else if raw.rows < 10 * params {
        findings.push(Finding {
            rule: "few_rows_per_parameter",
            severity: Severity::Warning,
            column: None,
            row: None,
            period: None,
            message: format!("{} rows for {params} parameters (fewer than 10 per parameter); priors will dominate", raw.rows),
        });
    }
    if spec.holdout.weeks > 0 && spec.holdout.weeks + params >= raw.rows {
        findings.push(Finding {
            rule: "holdout_too_long",
            severity: Severity::Error,
            column: None,
            row: None,
            period: None,
            message: format!(
                "holdout of {} periods leaves too few training rows",
                spec.holdout.weeks
            ),
        });
    }

    if findings.iter().any(|f| f.severity == Severity::Error) {
        return (None, findings, summaries);
    }
    let sorted_dates: Vec<i32> = order.iter().map(|&i| dates[i].unwrap_or(0)).collect();
    let columns = values
        .into_iter()
        .map(|(n, r, c)| (n, r, order.iter().map(|&i| c[i]).collect()))
        .collect();
    (
        Some(ValidTable {
            dates: sorted_dates,
            columns,
        }),
        findings,
        summaries,
    )
}

fn parse_date(cell: &str) -> Option<NaiveDate> {
    let s = cell.trim();
    // Accept a date-time whose time part is midnight-like; the period is the date.
    let date_part = s.split(['T', ' ']).next().unwrap_or(s);
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()
}

/// The validate stage: read `data`, check the contract, write table.parquet and contract.json.
///
/// Returns `Ok(None)` when the outputs are fresh and `force` is false.
pub fn run(
    spec: &LoadedSpec,
    data: &Path,
    out_dir: &Path,
    force: bool,
) -> Result<Option<Manifest>, ContractError> {
    let input = file_record(data)?;
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        &spec.sha256,
        vec![input.clone()],
        force,
    )?
    else {
        return Ok(None);
    };
    let raw = read::read_table(data)?;
    let (table, findings, summaries) = check(&raw, &spec.spec);
    for f in &findings {
        match f.severity {
            Severity::Error => tracing::error!("{f}"),
            Severity::Warning => tracing::warn!("{f}"),
        }
    }
    let report = ContractReport {
        source: data.display().to_string(),
        source_sha256: input.sha256.clone(),
        rows: raw.rows,
        first_period: table
            .as_ref()
            .and_then(|t| t.dates.first())
            .map(|d| date_from_days(*d)),
        last_period: table
            .as_ref()
            .and_then(|t| t.dates.last())
            .map(|d| date_from_days(*d)),
        period_days: spec.spec.data.period_days,
        columns: summaries,
        findings: findings.clone(),
        passed: table.is_some(),
    };
    // contract.json is written even on rejection so the findings can be read; no manifest then.
    writer.write_json("contract.json", &report, None)?;
    let Some(table) = table else {
        return Err(ContractError::Rejected {
            path: data.to_path_buf(),
            findings,
        });
    };
    let mut b = BatchBuilder::new().date("date", table.dates.clone());
    for (name, _, col) in table.columns {
        b = b.f64(&name, col);
    }
    let batch = b.build().map_err(|e| ContractError::Unreadable {
        path: data.to_path_buf(),
        message: e.to_string(),
    })?;
    writer.write_parquet("table.parquet", &batch, &schemas::table())?;
    let settings = serde_json::json!({
        "date_column": spec.spec.data.date_column,
        "period_days": spec.spec.data.period_days,
        "columns": required_columns(&spec.spec).into_iter().map(|(n, r)| serde_json::json!({"name": n, "role": r})).collect::<Vec<_>>(),
        "warnings": findings.len(),
    });
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}

/// Counts of findings per rule, for terminal summaries.
pub fn rule_counts(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.rule).or_insert(0) += 1;
    }
    m
}
