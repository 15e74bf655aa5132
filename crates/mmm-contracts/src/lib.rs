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

use chrono::NaiveDate;
use mmm_core::spec::{DataLayout, LoadedSpec};
use mmm_core::{BatchBuilder, CoreError, Manifest, RunStatus, StageWriter, file_record, schemas};
use panel::Panel;
use serde::Serialize;

pub use aggregate::period_start;
pub use calendar::{Calendar, CalendarReport};
pub use drift::{ColumnDrift, psi};
pub use history::HistoryReport;
pub use long::{CampaignMap, read_mapping};
pub use read::{RawTable, read_table, read_table_bytes, require_regular_file};
pub use rules::{MAX_ABS_VALUE, SpendSpike, spend_spikes};
pub use sql::SqlEngine;
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
    #[error("{}: {message}", path.display())]
    Unreadable {
        /// The input file.
        path: PathBuf,
        /// What went wrong.
        message: String,
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
    /// Building the table or running the ingestion SQL failed.
    #[error("{}: {message}", path.display())]
    Internal {
        /// The data file being processed.
        path: PathBuf,
        /// What went wrong.
        message: String,
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
) -> Result<Checked, String> {
    let mut f = panel::Findings::default();
    let required = required_columns(spec);
    let data = &spec.data;
    let date_col = match data.layout {
        DataLayout::Wide => data.date_column.clone(),
        DataLayout::Long => data.long.period.clone(),
    };
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

    // Rules on the input rows, at the input's own frequency.
    let input_days = data.input_period_days.unwrap_or(data.period_days).max(1);
    rules::future(&panel, as_of, &date_col, &mut f);
    let mixed = rules::mixed_frequency(&panel, &date_col, &mut f);
    rules::grid(&panel, input_days as i32, &date_col, &mixed, &mut f);
    // Long rows were checked for negative spend one by one; wide cells are checked here.
    for (name, role, col) in &panel.columns {
        if *role == "channel" && data.layout == DataLayout::Wide {
            for (i, v) in col.iter().enumerate() {
                if *v < 0.0 {
                    f.error(
                        "negative_spend",
                        panel::At::cell(&panel, name, i),
                        format!("spend {v} is negative"),
                    );
                }
            }
        }
    }
    if input_days < data.period_days {
        panel = aggregate::to_periods(&panel, spec, input_days, &mut f, engine)?;
    }
    // Rows before data.start are carry-in history: split off before the rules on the modeled
    // periods, which see the window only.
    let history = spec
        .data
        .start
        .as_deref()
        .and_then(parse_date)
        .map(|start| {
            let not_spend: BTreeSet<String> = required
                .iter()
                .filter(|(_, role)| *role != "channel")
                .map(|(n, _)| n.clone())
                .collect();
            history::split(
                &mut panel,
                mmm_core::dates::day_number(start),
                spec.carry_in_periods(),
                &not_spend,
                &mut f,
            )
        });

    // Rules on the modeling periods.
    let summaries = rules::columns(&panel, spec.likelihood.target_domain(), &mut f);
    rules::collinearity(&panel, &mut f);
    rules::spikes(&panel, &mut f);
    let periods = panel.dates.iter().flatten().collect::<BTreeSet<_>>().len();
    let params = spec.parameter_count();
    if spec.geo.is_hierarchical() {
        // Shared parameters learn from every geo: count geo-periods against the national
        // parameters plus each geo's own intercept and channel coefficients.
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
) -> Result<Vec<Finding>, String> {
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
    /// Where the ingestion SQL runs (this process, or Ballista). Results are identical.
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
    // Hashing below opens every input: refuse a FIFO or a device first, or it blocks forever.
    for path in std::iter::once(data)
        .chain(inputs.campaign_map.as_deref())
        .chain(inputs.calendar.as_deref())
        .chain(inputs.previous.as_deref())
    {
        require_regular_file(path)?;
    }
    let input = file_record(data)?;
    let mut records = vec![input.clone()];
    for p in inputs.campaign_map.iter().chain(&inputs.previous) {
        records.push(file_record(p)?);
    }
    let calendar_record = inputs.calendar.as_deref().map(file_record).transpose()?;
    records.extend(calendar_record.clone());
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        mmm_core::StageInputs::new(spec, &[], records),
        force,
    )?
    else {
        return Ok(None);
    };
    let mapping = inputs
        .campaign_map
        .as_deref()
        .map(long::read_mapping)
        .transpose()?;
    let raw = read::read_table(data)?;
    let as_of = as_of_day(&spec.spec)?;
    let unreadable = |message: String| ContractError::Internal {
        path: data.to_path_buf(),
        message,
    };
    let Checked {
        table,
        mut findings,
        summaries,
        history,
    } = check(
        &raw,
        &spec.spec,
        mapping.as_ref(),
        as_of,
        &inputs.sql_engine,
    )
    .map_err(unreadable)?;
    // The calendar: its own rules, then the spec's events against it (also without one: an
    // event with no inline dates needs it).
    let mut f = panel::Findings::default();
    let calendar = match (&inputs.calendar, &calendar_record) {
        (Some(path), Some(record)) => {
            let raw = read::read_table(path)?;
            let name = file_name(path);
            let cal = calendar::check(&raw, &name, &mut f);
            let first_rows = calendar::first_rows(&raw);
            let (events, undeclared, declared) =
                calendar::check_events(&spec.spec, Some((&cal, &name)), &first_rows, &mut f);
            let report = CalendarReport {
                source: name,
                source_sha256: record.sha256.clone(),
                rows: raw.rows,
                events,
                undeclared_events: undeclared,
                declared_events: declared,
                rule: "a declared event's dates are the union of its inline `dates` and the \
                       calendar rows with its name; calendar events the spec does not declare \
                       are not modeled"
                    .into(),
            };
            Some((path.clone(), cal, report))
        }
        _ => {
            calendar::check_events(&spec.spec, None, &BTreeMap::new(), &mut f);
            None
        }
    };
    findings.extend(f.0);
    let batch = match &table {
        Some(table) => {
            let mut b = BatchBuilder::new()
                .date("date", table.dates.clone())
                .string("geo", table.geos.clone());
            for (name, _, col) in &table.columns {
                b = b.f64(name, col.clone());
            }
            Some(b.build().map_err(|e| unreadable(e.to_string()))?)
        }
        None => None,
    };
    let mut drift = Vec::new();
    if let (Some(previous), Some(batch)) = (&inputs.previous, &batch) {
        let mut f = panel::Findings::default();
        drift = drift::compare(previous, batch, &mut f)?;
        findings.extend(f.0);
    }
    let passed = batch.is_some() && !findings.iter().any(|f| f.severity == Severity::Error);
    // Findings are shown once: by the caller's summary, or in the rejection error. (They were
    // also logged one by one here, so every finding was printed twice.)
    let calendar_source = calendar.as_ref().map(|(_, _, r)| r.source.as_str());
    let all_in_calendar = calendar_source.is_some()
        && findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .all(|f| f.file.as_deref() == calendar_source);
    let warnings = findings.len();
    let (findings, rules) = cap_findings(findings);
    let report = ContractReport {
        source: file_name(data),
        source_sha256: input.sha256.clone(),
        rows: raw.rows,
        layout: format!("{:?}", spec.spec.data.layout).to_lowercase(),
        table_rows: table.as_ref().map_or(0, |t| t.dates.len()),
        geos: table
            .as_ref()
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
            .as_ref()
            .and_then(|t| t.dates.first())
            .map(|d| mmm_core::dates::iso(*d)),
        last_period: table
            .as_ref()
            .and_then(|t| t.dates.last())
            .map(|d| mmm_core::dates::iso(*d)),
        period_days: spec.spec.data.period_days,
        columns: summaries,
        findings: findings.clone(),
        rules: rules.clone(),
        drift,
        history: history.as_ref().map(|(_, r)| r.clone()),
        calendar: calendar.as_ref().map(|(_, _, r)| r.clone()),
        passed,
    };
    // contract.json is written even on rejection so the findings can be read; no manifest then.
    writer.write_json("contract.json", &report, None)?;
    let (Some(batch), true) = (batch, passed) else {
        // Name the calendar when every error is in it.
        let path = match &calendar {
            Some((path, _, _)) if all_in_calendar => path.clone(),
            _ => data.to_path_buf(),
        };
        return Err(ContractError::Rejected {
            path,
            findings,
            rules,
        });
    };
    writer.write_parquet("table.parquet", &batch, &schemas::table())?;
    if let Some((h, _)) = &history {
        let mut b = BatchBuilder::new()
            .date("date", h.dates.clone())
            .string("geo", h.geos.clone());
        for (name, _, col) in &h.columns {
            b = b.f64(name, col.clone());
        }
        let batch = b.build().map_err(|e| unreadable(e.to_string()))?;
        writer.write_parquet("history.parquet", &batch, &schemas::history())?;
    }
    if let Some((_, cal, _)) = &calendar {
        let batch = BatchBuilder::new()
            .string("event", cal.rows.iter().map(|(e, _)| e.clone()).collect())
            .date("date", cal.rows.iter().map(|(_, d)| *d).collect())
            .build()
            .map_err(|e| unreadable(e.to_string()))?;
        writer.write_parquet("calendar.parquet", &batch, &schemas::calendar())?;
    }
    let mut settings = serde_json::json!({
        "layout": report.layout,
        "date_column": spec.spec.data.date_column,
        "period_days": spec.spec.data.period_days,
        "input_period_days": spec.spec.data.input_period_days,
        "as_of": mmm_core::dates::iso(as_of),
        "columns": required_columns(&spec.spec).into_iter().map(|(n, r)| serde_json::json!({"name": n, "role": r})).collect::<Vec<_>>(),
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
    Ok(Some((
        writer.finish(None, settings, RunStatus::Complete)?,
        report,
    )))
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
