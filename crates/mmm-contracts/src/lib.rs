//! Ingestion and data contracts: a raw CSV or Parquet export in, a validated weekly table out.
//!
//! All rules run in one pass and every finding is reported together, each with its rule id,
//! severity, column, row and period. Any error-severity finding rejects the input
//! ([`ContractError::Rejected`], exit code 2 at the CLI), as does an input that cannot be read
//! or parsed ([`ContractError::rejects_input`]). contract.json and the terminal list the first
//! [`FINDINGS_PER_RULE`] findings of each rule and count the rest ([`cap_findings`]).

mod aggregate;
pub mod calendar;
pub mod drift;
mod error;
mod history;
mod long;
mod panel;
mod read;
mod rules;
mod sql;
mod summary;
mod wide;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use chrono::NaiveDate;
use mmm_core::spec::{DataLayout, LoadedSpec};
use mmm_core::{
    BatchBuilder, CoreError, FileRecord, Manifest, RunStatus, StageWriter, file_record, schemas,
};
use panel::Panel;
use serde::Serialize;

pub use aggregate::period_start;
pub use calendar::{Calendar, CalendarReport};
pub use drift::{ColumnDrift, psi};
pub use error::{ReadError, TableError};
pub use history::HistoryReport;
pub use long::{CampaignMap, read_mapping};
pub use read::{RawTable, read_table, read_table_bytes, require_regular_file};
pub use rules::{MAX_ABS_VALUE, SpendSpike, spend_spikes};
pub use sql::{SqlEngine, SqlError};
pub use summary::{summary_text, warning_lines};

/// Name of the stage.
pub const STAGE: &str = mmm_core::Stage::Validate.name();

/// Findings listed per rule (and severity) in contract.json, on the terminal and in
/// [`ContractError::Rejected`]; the rest are only counted ([`RuleCount::omitted`]). A 200 MB
/// file of repeated weeks gave 3 million findings and a 684 MB contract.json before the cap.
pub const FINDINGS_PER_RULE: usize = 20;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
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
    /// Input file concerned when it is not the data file (the calendar file's name).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Column concerned, if any.
    pub column: Option<String>,
    /// Geography concerned, if any (panels only).
    pub geo: Option<String>,
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
        if let Some(file) = &self.file {
            write!(f, " file '{file}'")?;
        }
        if let Some(c) = &self.column {
            write!(f, " column '{c}'")?;
        }
        if let Some(g) = &self.geo {
            write!(f, " geo '{g}'")?;
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

/// How many findings one rule (at one severity) produced, and how many of them are left out
/// of the listed findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct RuleCount {
    /// Rule id.
    pub rule: &'static str,
    /// Error or warning.
    pub severity: Severity,
    /// Findings of the rule in all.
    pub count: usize,
    /// Findings beyond the first [`FINDINGS_PER_RULE`] (and the first of each column): counted
    /// here, not listed.
    pub omitted: usize,
    /// The findings per column, in order of first appearance (`column` null: findings that
    /// name no column).
    pub columns: Vec<ColumnCount>,
}

/// How many findings of one rule name one column.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ColumnCount {
    /// Column, or null for findings that name none.
    pub column: Option<String>,
    /// Findings of the rule in this column, listed or not.
    pub count: usize,
}

/// Keep the first [`FINDINGS_PER_RULE`] findings of each rule and severity, and the first of
/// each column, in their order, and count every rule's findings per column (sorted by rule,
/// then severity). Bounds contract.json and the terminal output whatever the input's size.
pub fn cap_findings(findings: Vec<Finding>) -> (Vec<Finding>, Vec<RuleCount>) {
    let mut counts: BTreeMap<(&'static str, Severity), (usize, usize, Vec<ColumnCount>)> =
        BTreeMap::new();
    let kept = findings
        .into_iter()
        .filter(|f| {
            let (n, listed, columns) = counts.entry((f.rule, f.severity)).or_default();
            *n += 1;
            let first_of_column = match columns.iter_mut().find(|c| c.column == f.column) {
                Some(c) => {
                    c.count += 1;
                    false
                }
                None => {
                    columns.push(ColumnCount {
                        column: f.column.clone(),
                        count: 1,
                    });
                    true
                }
            };
            let keep = *n <= FINDINGS_PER_RULE || first_of_column;
            *listed += usize::from(keep);
            keep
        })
        .collect();
    let rules = counts
        .into_iter()
        .map(|((rule, severity), (count, listed, columns))| RuleCount {
            rule,
            severity,
            count,
            omitted: count - listed,
            columns,
        })
        .collect();
    (kept, rules)
}

/// `n` with thousands separators (`2,999,980`).
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// One line per rule whose findings were cut: `... and 2,999,980 more duplicate_period
/// finding(s)`.
pub fn omitted_lines(rules: &[RuleCount]) -> Vec<String> {
    rules
        .iter()
        .filter(|r| r.omitted > 0)
        .map(|r| {
            format!(
                "... and {} more {} finding(s) (the first {FINDINGS_PER_RULE} are listed)",
                thousands(r.omitted),
                r.rule
            )
        })
        .collect()
}

/// The message of [`ContractError::Rejected`]: the error count, the listed findings and a
/// count of those left out.
fn rejected_message(path: &Path, findings: &[Finding], rules: &[RuleCount]) -> String {
    let errors: usize = rules
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .map(|r| r.count)
        .sum();
    let mut lines = vec![format!(
        "{}: rejected by the data contract ({} error(s)):",
        path.display(),
        thousands(errors)
    )];
    // Errors one by one, warnings one line per rule and column: each finding once.
    lines.extend(
        findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .map(|f| format!("  - {f}")),
    );
    let error_rules: Vec<RuleCount> = rules
        .iter()
        .filter(|r| r.severity == Severity::Error)
        .cloned()
        .collect();
    lines.extend(
        omitted_lines(&error_rules)
            .into_iter()
            .map(|l| format!("  {l}")),
    );
    lines.extend(
        warning_lines(findings, rules)
            .into_iter()
            .map(|l| format!("  {l}")),
    );
    lines.join("\n")
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
    /// The data file's name. Only the name: the same data gives the same contract.json wherever
    /// it lies (a local folder, an object-store mirror); the full path is in the manifest.
    pub source: String,
    /// sha256 of the data file.
    pub source_sha256: String,
    /// Data rows read from the file.
    pub rows: usize,
    /// Layout of the input (`wide` or `long`).
    pub layout: String,
    /// Rows in table.parquet (periods times geos).
    pub table_rows: usize,
    /// Geos in the table (`national` when the input has none).
    pub geos: Vec<String>,
    /// First period (ISO date).
    pub first_period: Option<String>,
    /// Last period (ISO date).
    pub last_period: Option<String>,
    /// Period length in days, from the spec.
    pub period_days: u32,
    /// Summary per modeled column.
    pub columns: Vec<ColumnSummary>,
    /// The first [`FINDINGS_PER_RULE`] findings of each rule and severity, in the order the
    /// checks found them.
    pub findings: Vec<Finding>,
    /// Every rule with findings: how many, and how many `findings` leaves out.
    pub rules: Vec<RuleCount>,
    /// Drift per column against the previous table, when one was given.
    pub drift: Vec<ColumnDrift>,
    /// Carry-in history before `data.start` (only when the spec sets it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryReport>,
    /// The holiday and event calendar (only with `--calendar`): its events, the undeclared
    /// ones (not modeled) and where each declared event's dates come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar: Option<CalendarReport>,
    /// True when no finding has error severity.
    pub passed: bool,
}

/// Errors of the validate stage.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The input broke the data contract; the first findings of each rule are listed.
    #[error("{}", rejected_message(path, findings, rules))]
    Rejected {
        /// The data file.
        path: PathBuf,
        /// Errors and warnings: the first [`FINDINGS_PER_RULE`] of each rule.
        findings: Vec<Finding>,
        /// Every rule with findings, with its count and how many are not listed.
        rules: Vec<RuleCount>,
    },
    /// An input file could not be read or parsed (malformed CSV, invalid UTF-8, corrupt
    /// Parquet, an unusable mapping or previous table): rejected input, exit code 2.
    #[error("{}: {reason}", path.display())]
    Unreadable {
        /// The input file.
        path: PathBuf,
        /// What went wrong, with the reader's own error as its source.
        #[source]
        reason: ReadError,
    },
    /// An input path names a named pipe, a device, a socket or a directory: refused before it
    /// is opened, since reading a FIFO or a device blocks forever.
    #[error("{}: is {kind}, not a regular file (give a CSV or Parquet file)", path.display())]
    NotAFile {
        /// The input path.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },
    /// A spec setting the stage needs is not usable (`data.as_of`).
    #[error("spec: {key}: {message}")]
    Setting {
        /// Key path in the spec.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// Building the table or running the ingestion queries failed.
    #[error("{}: {source}", path.display())]
    Internal {
        /// The data file being processed.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: TableError,
    },
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl ContractError {
    /// True when the input itself is refused (the contract rejected it, or it cannot be read
    /// or parsed, or it is not a regular file): exit code 2 at the CLI, not 1 (usage or
    /// internal error).
    pub fn rejects_input(&self) -> bool {
        matches!(
            self,
            Self::Rejected { .. } | Self::Unreadable { .. } | Self::NotAFile { .. }
        )
    }
}

/// The validated table: rows sorted by date then geo.
#[derive(Debug, Clone)]
struct ValidTable {
    dates: Vec<i32>,
    geos: Vec<String>,
    columns: Vec<(String, &'static str, Vec<f64>)>,
}

/// Columns the spec needs, with their roles, in a fixed order (target, channels, controls,
/// mediators).
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
    for m in &spec.mediators {
        if !out.iter().any(|(n, _)| *n == m.name) {
            out.push((m.name.clone(), "mediator"));
        }
    }
    out
}

/// What `check` produced.
struct Checked {
    table: Option<ValidTable>,
    findings: Vec<Finding>,
    summaries: Vec<ColumnSummary>,
    /// With `data.start`: the kept history rows (channel columns only) and their report.
    history: Option<(ValidTable, HistoryReport)>,
}

impl Checked {
    fn rejected(findings: Vec<Finding>, summaries: Vec<ColumnSummary>) -> Self {
        Self {
            table: None,
            findings,
            summaries,
            history: None,
        }
    }
}

/// Rows of a panel sorted by date then geo, as a table.
fn sorted_table(panel: Panel) -> ValidTable {
    let mut order: Vec<usize> = (0..panel.len()).collect();
    order.sort_by(|&a, &b| (panel.dates[a], &panel.geos[a]).cmp(&(panel.dates[b], &panel.geos[b])));
    ValidTable {
        dates: order.iter().map(|&i| panel.dates[i].unwrap_or(0)).collect(),
        geos: order.iter().map(|&i| panel.geos[i].clone()).collect(),
        columns: panel
            .columns
            .into_iter()
            .map(|(n, r, c)| (n, r, order.iter().map(|&i| c[i]).collect()))
            .collect(),
    }
}

/// Run every contract rule on a raw table (any layout); returns the valid table (if no errors)
/// and all findings.
fn check(
    raw: &RawTable,
    spec: &mmm_core::Spec,
    mapping: Option<&long::CampaignMap>,
    as_of: i32,
    engine: &SqlEngine,
) -> Result<Checked, TableError> {
    let mut f = panel::Findings::default();
    let required = required_columns(spec);
    let data = &spec.data;
    if raw.rows == 0 {
        f.error(
            "empty_table",
            panel::At::default(),
            "the file has no data rows".into(),
        );
        return Ok(Checked::rejected(f.0, Vec::new()));
    }
    let panel = match data.layout {
        DataLayout::Wide => wide::panel(raw, spec, &required, &mut f),
        DataLayout::Long => long::panel(raw, spec, &required, mapping, &mut f, engine)?,
    };
    let Some(mut panel) = panel else {
        return Ok(Checked::rejected(f.0, Vec::new()));
    };
    let input_days = data.input_period_days.unwrap_or(data.period_days).max(1);
    input_rules(&panel, spec, as_of, input_days, &mut f);
    if input_days < data.period_days {
        panel = aggregate::to_periods(&panel, spec, input_days, &mut f, engine)?;
    }
    // Rows before data.start are carry-in history: split off before the rules on the modeled
    // periods, which see the window only.
    let history = split_history(&mut panel, spec, &required, &mut f);
    let summaries = rules::columns(&panel, spec.likelihood.target_domain(), &mut f);
    rules::collinearity(&panel, &mut f);
    rules::spikes(&panel, &mut f);
    parameter_rules(&panel, spec, &mut f);
    if f.has_errors() {
        return Ok(Checked::rejected(f.0, summaries));
    }
    Ok(Checked {
        table: Some(sorted_table(panel)),
        findings: f.0,
        summaries,
        history: history.map(|(h, report)| (sorted_table(h), report)),
    })
}

/// Rules on the input rows, at the input's own frequency (`input_days`), before any
/// aggregation to periods: future periods, mixed frequencies, the period grid, negative spend.
fn input_rules(
    panel: &Panel,
    spec: &mmm_core::Spec,
    as_of: i32,
    input_days: u32,
    f: &mut panel::Findings,
) {
    let data = &spec.data;
    let date_col = match data.layout {
        DataLayout::Wide => data.date_column.clone(),
        DataLayout::Long => data.long.period.clone(),
    };
    rules::future(panel, as_of, &date_col, f);
    let mixed = rules::mixed_frequency(panel, &date_col, f);
    rules::grid(panel, input_days as i32, &date_col, &mixed, f);
    // Long rows were checked for negative spend one by one; wide cells are checked here.
    if data.layout == DataLayout::Wide {
        negative_spend(panel, f);
    }
}

/// A `negative_spend` error for each negative cell of a channel column.
fn negative_spend(panel: &Panel, f: &mut panel::Findings) {
    for (name, role, col) in &panel.columns {
        if *role == "channel" {
            for (i, v) in col.iter().enumerate() {
                if *v < 0.0 {
                    f.error(
                        "negative_spend",
                        panel::At::cell(panel, name, i),
                        format!("spend {v} is negative"),
                    );
                }
            }
        }
    }
}

/// With `data.start`, move the rows before it out of `panel`: the carry-in history adstock
/// needs (its channel spend only) and its report.
fn split_history(
    panel: &mut Panel,
    spec: &mmm_core::Spec,
    required: &[(String, &'static str)],
    f: &mut panel::Findings,
) -> Option<(Panel, HistoryReport)> {
    let start = spec.data.start.as_deref().and_then(parse_date)?;
    let not_spend: BTreeSet<String> = required
        .iter()
        .filter(|(_, role)| *role != "channel")
        .map(|(n, _)| n.clone())
        .collect();
    Some(history::split(
        panel,
        mmm_core::dates::day_number(start),
        spec.carry_in_periods(),
        &not_spend,
        f,
    ))
}

/// Rules on the modeling periods against the parameters to learn: enough rows per parameter,
/// and a holdout that leaves enough training rows.
fn parameter_rules(panel: &Panel, spec: &mmm_core::Spec, f: &mut panel::Findings) {
    let periods = panel.dates.iter().flatten().collect::<BTreeSet<_>>().len();
    let params = spec.parameter_count();
    if spec.geo.is_hierarchical() {
        geo_rows_per_parameter(panel, spec, periods, params, f);
    } else if periods < params + 2 {
        f.error(
            "too_few_rows",
            panel::At::default(),
            format!("{periods} periods for {params} model parameters"),
        );
    } else if periods < 10 * params {
        f.warn(
            "few_rows_per_parameter",
            panel::At::default(),
            format!("{periods} periods for {params} parameters (fewer than 10 per parameter); priors will dominate"),
        );
    }
    if spec.holdout.weeks > 0 && spec.holdout.weeks + params >= periods {
        f.error(
            "holdout_too_long",
            panel::At::default(),
            format!(
                "holdout of {} periods leaves too few training rows",
                spec.holdout.weeks
            ),
        );
    }
}

/// Rows per parameter of a hierarchical geo model. Shared parameters learn from every geo:
/// count geo-periods against the national parameters plus each geo's own intercept and
/// channel coefficients.
fn geo_rows_per_parameter(
    panel: &Panel,
    spec: &mmm_core::Spec,
    periods: usize,
    params: usize,
    f: &mut panel::Findings,
) {
    let rows = panel.dates.iter().flatten().count();
    let geos = rows / periods.max(1);
    let per_geo = 1 + spec.channels.len();
    let total = params + geos * per_geo;
    if rows < 10 * total {
        f.warn(
            "few_rows_per_parameter",
            panel::At::default(),
            format!(
                "{rows} geo-periods for about {total} parameters (fewer than 10 per \
                 parameter); priors will dominate"
            ),
        );
    }
}

/// The date of an ISO date cell (`YYYY-MM-DD`, or a date-time: its date).
pub(crate) fn parse_date(cell: &str) -> Option<NaiveDate> {
    let s = cell.trim();
    // Accept a date-time whose time part is midnight-like; the period is the date.
    let date_part = s.split(['T', ' ']).next().unwrap_or(s);
    NaiveDate::parse_from_str(date_part, "%Y-%m-%d").ok()
}

/// Run every contract rule on a table already read (fuzzing and embedding use this); returns
/// all findings. `as_of` is the last allowed period start (days since 1970-01-01).
pub fn check_table(
    raw: &RawTable,
    spec: &mmm_core::Spec,
    mapping: Option<&CampaignMap>,
    as_of: i32,
) -> Result<Vec<Finding>, TableError> {
    check(raw, spec, mapping, as_of, &SqlEngine::Local).map(|c| c.findings)
}

/// Input files of the validate stage.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The raw data file (.csv or .parquet).
    pub data: PathBuf,
    /// Campaign-to-channel mapping (CSV or Parquet with `campaign` and `channel` columns).
    pub campaign_map: Option<PathBuf>,
    /// Holiday and event calendar (CSV or Parquet with `event` and `date` columns).
    pub calendar: Option<PathBuf>,
    /// The previous run's table.parquet, for refresh drift.
    pub previous: Option<PathBuf>,
    /// Where the ingestion queries run (built in, DataFusion, or Ballista). Results are identical.
    pub sql_engine: SqlEngine,
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
    let inputs = Inputs {
        data: data.to_path_buf(),
        ..Inputs::default()
    };
    run_with(spec, &inputs, out_dir, force).map(|r| r.map(|(m, _)| m))
}

fn as_of_day(spec: &mmm_core::Spec) -> Result<i32, ContractError> {
    match &spec.data.as_of {
        Some(text) => parse_date(text)
            .map(mmm_core::dates::day_number)
            .ok_or_else(|| ContractError::Setting {
                key: "data.as_of",
                message: format!("'{text}' is not an ISO date"),
            }),
        None => {
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            Ok((secs / 86_400) as i32)
        }
    }
}

/// The validate stage with all its inputs; returns the manifest and the contract report.
pub fn run_with(
    spec: &LoadedSpec,
    inputs: &Inputs,
    out_dir: &Path,
    force: bool,
) -> Result<Option<(Manifest, ContractReport)>, ContractError> {
    let data = inputs.data.as_path();
    refuse_special_files(inputs)?;
    let records = InputRecords::hash(inputs)?;
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        mmm_core::StageInputs::new(spec, &[], records.all),
        force,
    )?
    else {
        return Ok(None);
    };
    let mut v = validate(&spec.spec, inputs, records.calendar_sha256.as_deref())?;
    let passed = v.batch.is_some() && !v.findings.iter().any(|f| f.severity == Severity::Error);
    let rejected_path = v.rejected_path(data);
    let warnings = v.findings.len();
    let capped = cap_findings(std::mem::take(&mut v.findings));
    let report = contract_report(&spec.spec, data, &records.data_sha256, &v, capped, passed);
    // contract.json is written even on rejection so the findings can be read; no manifest then.
    writer.write_json("contract.json", &report, None)?;
    let (Some(batch), true) = (&v.batch, passed) else {
        return Err(ContractError::Rejected {
            path: rejected_path,
            findings: report.findings,
            rules: report.rules,
        });
    };
    write_tables(&mut writer, batch, &v, data)?;
    let settings = manifest_settings(&spec.spec, &report, v.as_of, warnings);
    Ok(Some((
        writer.finish(None, settings, RunStatus::Complete)?,
        report,
    )))
}

/// Refuse a named pipe or a device among the inputs: hashing opens every input, and reading
/// one of those blocks forever.
fn refuse_special_files(inputs: &Inputs) -> Result<(), ContractError> {
    for path in std::iter::once(inputs.data.as_path())
        .chain(inputs.campaign_map.as_deref())
        .chain(inputs.calendar.as_deref())
        .chain(inputs.previous.as_deref())
    {
        require_regular_file(path)?;
    }
    Ok(())
}

/// The input files with their hashes, as the manifest lists them.
struct InputRecords {
    /// Data file, campaign mapping, previous table, calendar (those given, in this order).
    all: Vec<FileRecord>,
    /// sha256 of the data file.
    data_sha256: String,
    /// sha256 of the calendar, when one was given.
    calendar_sha256: Option<String>,
}

impl InputRecords {
    /// Hash every input file.
    fn hash(inputs: &Inputs) -> Result<Self, ContractError> {
        let data = file_record(&inputs.data)?;
        let data_sha256 = data.sha256.clone();
        let mut all = vec![data];
        for p in inputs.campaign_map.iter().chain(&inputs.previous) {
            all.push(file_record(p)?);
        }
        let calendar = inputs.calendar.as_deref().map(file_record).transpose()?;
        let calendar_sha256 = calendar.as_ref().map(|r| r.sha256.clone());
        all.extend(calendar);
        Ok(Self {
            all,
            data_sha256,
            calendar_sha256,
        })
    }
}

/// A checked calendar file: its rows (for calendar.parquet) and its report.
struct CheckedCalendar {
    path: PathBuf,
    calendar: Calendar,
    report: CalendarReport,
}

/// Everything the stage found in its inputs, before anything is written.
struct Validated {
    /// The last allowed period start (days since 1970-01-01).
    as_of: i32,
    /// Data rows read from the file.
    rows: usize,
    table: Option<ValidTable>,
    /// `table` as table.parquet's batch.
    batch: Option<RecordBatch>,
    /// Every finding of the data, the calendar and the drift check, uncapped.
    findings: Vec<Finding>,
    summaries: Vec<ColumnSummary>,
    history: Option<(ValidTable, HistoryReport)>,
    calendar: Option<CheckedCalendar>,
    drift: Vec<ColumnDrift>,
}

impl Validated {
    /// The file a rejection names: the calendar when every error is in it, else the data.
    fn rejected_path(&self, data: &Path) -> PathBuf {
        match &self.calendar {
            Some(c)
                if self
                    .findings
                    .iter()
                    .filter(|f| f.severity == Severity::Error)
                    .all(|f| f.file.as_deref() == Some(c.report.source.as_str())) =>
            {
                c.path.clone()
            }
            _ => data.to_path_buf(),
        }
    }
}

/// Read the data and run the contract on it, then the calendar's rules and the drift against
/// the previous table (when given).
fn validate(
    spec: &mmm_core::Spec,
    inputs: &Inputs,
    calendar_sha256: Option<&str>,
) -> Result<Validated, ContractError> {
    let data = inputs.data.as_path();
    let mapping = inputs
        .campaign_map
        .as_deref()
        .map(long::read_mapping)
        .transpose()?;
    let raw = read::read_table(data)?;
    let as_of = as_of_day(spec)?;
    let Checked {
        table,
        mut findings,
        summaries,
        history,
    } = check(&raw, spec, mapping.as_ref(), as_of, &inputs.sql_engine)
        .map_err(|e| internal(data, e))?;
    let mut f = panel::Findings::default();
    let calendar = check_calendar(
        spec,
        inputs.calendar.as_deref().zip(calendar_sha256),
        &mut f,
    )?;
    findings.extend(f.0);
    let batch = table
        .as_ref()
        .map(table_batch)
        .transpose()
        .map_err(|e| internal(data, e.into()))?;
    let mut drift = Vec::new();
    if let (Some(previous), Some(batch)) = (&inputs.previous, &batch) {
        let mut f = panel::Findings::default();
        drift = drift::compare(previous, batch, &mut f)?;
        findings.extend(f.0);
    }
    Ok(Validated {
        as_of,
        rows: raw.rows,
        table,
        batch,
        findings,
        summaries,
        history,
        calendar,
        drift,
    })
}

/// The calendar file's own rules, then the spec's events against it (also without one: an
/// event with no inline dates needs it). `file` is the calendar's path and sha256.
fn check_calendar(
    spec: &mmm_core::Spec,
    file: Option<(&Path, &str)>,
    f: &mut panel::Findings,
) -> Result<Option<CheckedCalendar>, ContractError> {
    let Some((path, sha256)) = file else {
        calendar::check_events(spec, None, &BTreeMap::new(), f);
        return Ok(None);
    };
    let raw = read::read_table(path)?;
    let name = file_name(path);
    let cal = calendar::check(&raw, &name, f);
    let first_rows = calendar::first_rows(&raw);
    let (events, undeclared, declared) =
        calendar::check_events(spec, Some((&cal, &name)), &first_rows, f);
    let report = CalendarReport {
        source: name,
        source_sha256: sha256.to_string(),
        rows: raw.rows,
        events,
        undeclared_events: undeclared,
        declared_events: declared,
        rule: "a declared event's dates are the union of its inline `dates` and the calendar \
               rows with its name; calendar events the spec does not declare are not modeled"
            .into(),
    };
    Ok(Some(CheckedCalendar {
        path: path.to_path_buf(),
        calendar: cal,
        report,
    }))
}

/// contract.json's content; `capped` is the findings and rule counts from [`cap_findings`].
fn contract_report(
    spec: &mmm_core::Spec,
    data: &Path,
    data_sha256: &str,
    v: &Validated,
    (findings, rules): (Vec<Finding>, Vec<RuleCount>),
    passed: bool,
) -> ContractReport {
    let table = v.table.as_ref();
    ContractReport {
        source: file_name(data),
        source_sha256: data_sha256.to_string(),
        rows: v.rows,
        layout: format!("{:?}", spec.data.layout).to_lowercase(),
        table_rows: table.map_or(0, |t| t.dates.len()),
        geos: table
            .map(|t| {
                t.geos
                    .iter()
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect()
            })
            .unwrap_or_default(),
        first_period: table
            .and_then(|t| t.dates.first())
            .map(|d| mmm_core::dates::iso(*d)),
        last_period: table
            .and_then(|t| t.dates.last())
            .map(|d| mmm_core::dates::iso(*d)),
        period_days: spec.data.period_days,
        columns: v.summaries.clone(),
        findings,
        rules,
        drift: v.drift.clone(),
        history: v.history.as_ref().map(|(_, r)| r.clone()),
        calendar: v.calendar.as_ref().map(|c| c.report.clone()),
        passed,
    }
}

/// A validated table (or its history) as a `date, geo, columns...` batch.
fn table_batch(table: &ValidTable) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut b = BatchBuilder::new()
        .date("date", table.dates.clone())
        .string("geo", table.geos.clone());
    for (name, _, col) in &table.columns {
        b = b.f64(name, col.clone());
    }
    b.build()
}

/// Write table.parquet, and history.parquet and calendar.parquet when the spec and inputs
/// give them.
fn write_tables(
    writer: &mut StageWriter,
    table: &RecordBatch,
    v: &Validated,
    data: &Path,
) -> Result<(), ContractError> {
    writer.write_parquet("table.parquet", table, &schemas::table())?;
    if let Some((h, _)) = &v.history {
        let batch = table_batch(h).map_err(|e| internal(data, e.into()))?;
        writer.write_parquet("history.parquet", &batch, &schemas::history())?;
    }
    if let Some(c) = &v.calendar {
        let rows = &c.calendar.rows;
        let batch = BatchBuilder::new()
            .string("event", rows.iter().map(|(e, _)| e.clone()).collect())
            .date("date", rows.iter().map(|(_, d)| *d).collect())
            .build()
            .map_err(|e| internal(data, e.into()))?;
        writer.write_parquet("calendar.parquet", &batch, &schemas::calendar())?;
    }
    Ok(())
}

/// The manifest's settings: how the input was read, what was modeled, the history and the
/// calendar used, and how many findings there were.
fn manifest_settings(
    spec: &mmm_core::Spec,
    report: &ContractReport,
    as_of: i32,
    warnings: usize,
) -> serde_json::Value {
    let mut settings = serde_json::json!({
        "layout": report.layout,
        "date_column": spec.data.date_column,
        "period_days": spec.data.period_days,
        "input_period_days": spec.data.input_period_days,
        "as_of": mmm_core::dates::iso(as_of),
        "columns": required_columns(spec).into_iter().map(|(n, r)| serde_json::json!({"name": n, "role": r})).collect::<Vec<_>>(),
        "warnings": warnings,
    });
    if let Some(h) = &report.history {
        settings["start"] = h.start.clone().into();
        settings["carry_in_periods"] = h.periods_kept.into();
    }
    if let Some(c) = &report.calendar {
        settings["calendar"] = c.source.clone().into();
        settings["undeclared_events"] = c.undeclared_events.clone().into();
    }
    settings
}

/// An internal failure while processing the data file (building a batch, running SQL).
fn internal(data: &Path, source: TableError) -> ContractError {
    ContractError::Internal {
        path: data.to_path_buf(),
        source,
    }
}

/// The file name of a path (the whole path when it has none).
fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Counts of findings per rule, for terminal summaries.
pub fn rule_counts(findings: &[Finding]) -> BTreeMap<&'static str, usize> {
    let mut m = BTreeMap::new();
    for f in findings {
        *m.entry(f.rule).or_insert(0) += 1;
    }
    m
}
