//! Long inputs (one row per period, geo, campaign and variable), campaign-to-channel mapping,
//! and the SQL pivot to one row per period and geo.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Float64Array, Int32Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use mmm_core::spec::LongLayout;

use crate::panel::{At, Findings, NATIONAL, Panel, Role};
use crate::read::unreadable;
use crate::sql::SqlError;
use crate::wide::{parse_date_cell, parse_number, require_columns};
use crate::{ContractError, RawTable, ReadError, TableError};

/// Campaign name to channel name, read from a two-column CSV (`campaign,channel`).
pub type CampaignMap = HashMap<String, String>;

/// Read a campaign mapping file; the header must name `campaign` and `channel` columns.
pub fn read_mapping(path: &Path) -> Result<CampaignMap, ContractError> {
    let raw = crate::read::read_table(path)?;
    let find = |want: &'static str| {
        raw.names
            .iter()
            .position(|n| n.eq_ignore_ascii_case(want))
            .ok_or_else(|| {
                unreadable(
                    path,
                    ReadError::MappingColumn {
                        want,
                        present: raw.names.join(", "),
                    },
                )
            })
    };
    let (c, ch) = (find("campaign")?, find("channel")?);
    let mut map = CampaignMap::new();
    for (i, (campaign, channel)) in raw.cells[c].iter().zip(raw.cells[ch].iter()).enumerate() {
        let (campaign, channel) = (
            campaign.unwrap_or_default().trim(),
            channel.unwrap_or_default().trim(),
        );
        if let Some(prev) = map.insert(campaign.to_string(), channel.to_string())
            && prev != channel
        {
            return Err(unreadable(
                path,
                ReadError::MappingConflict {
                    row: i + 1,
                    campaign: campaign.to_string(),
                    first: prev,
                    second: channel.to_string(),
                },
            ));
        }
    }
    Ok(map)
}

/// Turn a long raw table into a panel: row rules on the long rows, campaigns mapped to
/// channels, then a DataFusion pivot. `None` when the layout's columns are missing.
pub fn panel(
    raw: &RawTable,
    spec: &mmm_core::Spec,
    required: &[(String, Role)],
    mapping: Option<&CampaignMap>,
    findings: &mut Findings,
    engine: &crate::sql::SqlEngine,
) -> Result<Option<Panel>, TableError> {
    let layout = &spec.data.long;
    let Some(cells) = LongCells::find(raw, layout, findings) else {
        return Ok(None);
    };
    let mut names = ColumnNames::new(spec, mapping, &layout.spend_variable);
    let rows = long_rows(&cells, &mut names, required, &layout.period, findings);
    names.report_unmapped(&layout.campaign, findings);
    if !every_variable_present(required, &rows.cols, &layout.variable, findings) {
        return Ok(None);
    }
    let wide = pivot(rows.into_batch()?, required, engine)?;
    let mut p = from_batch(&wide, required)?;
    report_missing_values(&p, &wide, findings);
    p.source_rows = None;
    Ok(Some(p))
}

/// The cells of a long table's columns; the geo and campaign columns are optional.
struct LongCells<'a> {
    periods: &'a StringArray,
    variables: &'a StringArray,
    values: &'a StringArray,
    geos: Option<&'a StringArray>,
    campaigns: Option<&'a StringArray>,
    rows: usize,
}

impl<'a> LongCells<'a> {
    /// The layout's columns, or `None` (with a `missing_column` finding) when one is absent.
    fn find(raw: &'a RawTable, layout: &LongLayout, findings: &mut Findings) -> Option<Self> {
        let names = [&layout.period, &layout.variable, &layout.value].map(String::as_str);
        if !require_columns(raw, names, "long-format column", findings) {
            return None;
        }
        Some(Self {
            periods: raw.column(&layout.period)?,
            variables: raw.column(&layout.variable)?,
            values: raw.column(&layout.value)?,
            geos: raw.column(&layout.geo),
            campaigns: raw.column(&layout.campaign),
            rows: raw.rows,
        })
    }

    /// Geo of row `i`: [`NATIONAL`] when the cell is blank or the table has no geo column.
    fn geo(&self, i: usize) -> &'a str {
        self.geos
            .map(|g| g.value(i).trim())
            .filter(|g| !g.is_empty())
            .unwrap_or(NATIONAL)
    }

    /// Campaign of row `i` ("" when the table has no campaign column).
    fn campaign(&self, i: usize) -> &'a str {
        self.campaigns.map(|c| c.value(i).trim()).unwrap_or("")
    }

    /// What makes row `i` unique: its period, geo, campaign and variable as written (a blank
    /// geo stays blank here, so it is not confused with a geo named `national`).
    fn key(&self, i: usize, day: i32) -> (i32, &'a str, &'a str, &'a str) {
        (
            day,
            self.geos.map(|g| g.value(i).trim()).unwrap_or(""),
            self.campaign(i),
            self.variables.value(i).trim(),
        )
    }
}

/// Names the modeled column of a long row; campaign rows go through the mapping, and the
/// first row of each campaign it lacks is remembered for one `unmapped_campaign` finding.
struct ColumnNames<'a> {
    spend_column: HashMap<&'a str, &'a str>,
    mapping: Option<&'a CampaignMap>,
    spend_variable: &'a str,
    unmapped: BTreeMap<String, usize>,
}

impl<'a> ColumnNames<'a> {
    /// Names for `spec`'s channels (a channel's spend column may differ from its name).
    fn new(
        spec: &'a mmm_core::Spec,
        mapping: Option<&'a CampaignMap>,
        spend_variable: &'a str,
    ) -> Self {
        Self {
            spend_column: spec
                .channels
                .iter()
                .map(|c| (c.name.as_str(), c.spend_column()))
                .collect(),
            mapping,
            spend_variable,
            unmapped: BTreeMap::new(),
        }
    }

    /// The column of a row's variable: the variable itself without a campaign, the channel's
    /// spend column for its spend, `channel_variable` for its other variables. `None` for a
    /// campaign the mapping lacks.
    fn column(&mut self, campaign: &str, variable: &'a str, row: usize) -> Option<Cow<'a, str>> {
        if campaign.is_empty() {
            return Some(variable.into());
        }
        let Some(channel) = self.mapping.and_then(|m| m.get(campaign)) else {
            self.unmapped.entry(campaign.to_string()).or_insert(row);
            return None;
        };
        if variable.eq_ignore_ascii_case(self.spend_variable) {
            let base = self.spend_column.get(channel.as_str()).copied();
            Some(base.unwrap_or(channel.as_str()).into())
        } else {
            Some(format!("{channel}_{variable}").into())
        }
    }

    /// One `unmapped_campaign` error naming every campaign the mapping lacks.
    fn report_unmapped(&self, campaign_column: &str, findings: &mut Findings) {
        if self.unmapped.is_empty() {
            return;
        }
        findings.error(
            "unmapped_campaign",
            At {
                column: Some(campaign_column.to_string()),
                row: self.unmapped.values().min().copied(),
                ..At::default()
            },
            format!(
                "{} campaign(s) have no channel in the mapping file{}: {}",
                self.unmapped.len(),
                if self.mapping.is_none() {
                    " (none was given: --campaign-map)"
                } else {
                    ""
                },
                self.unmapped.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        );
    }
}

/// Parses period cells once per run of equal cells: campaign rows repeat each date many times.
struct PeriodParser<'a> {
    column: &'a str,
    last: Option<(&'a str, i32)>,
}

impl<'a> PeriodParser<'a> {
    /// The day of a period cell of 1-based `row`; `None` (with a finding) when it is no date.
    fn day(&mut self, cell: &'a str, row: usize, findings: &mut Findings) -> Option<i32> {
        if let Some((text, day)) = self.last
            && text == cell
        {
            return Some(day);
        }
        let at = || At {
            column: Some(self.column.to_string()),
            row: Some(row),
            ..At::default()
        };
        let day = parse_date_cell(cell, at, findings);
        self.last = day.map(|d| (cell, d));
        day
    }
}

/// Finds rows that repeat an earlier row's period, geo, campaign and variable.
struct Duplicates {
    /// First row (1-based) and day per key hash: a 64-bit hash keeps the map small, and a hit
    /// is confirmed against the stored row, so a collision cannot report a false duplicate.
    seen: HashMap<u64, (usize, i32)>,
    hasher: std::hash::RandomState,
}

impl Duplicates {
    /// Room for `rows` rows.
    fn with_capacity(rows: usize) -> Self {
        Self {
            seen: HashMap::with_capacity(rows),
            hasher: std::hash::RandomState::new(),
        }
    }

    /// The 1-based row that row `i` repeats, if any; otherwise row `i` is remembered.
    fn earlier_row(&mut self, cells: &LongCells, i: usize, day: i32) -> Option<usize> {
        let hash = self.hasher.hash_one(cells.key(i, day));
        if let Some(&(first, first_day)) = self.seen.get(&hash) {
            (cells.key(first - 1, first_day) == cells.key(i, day)).then_some(first)
        } else {
            self.seen.insert(hash, (i + 1, day));
            None
        }
    }
}

/// The long rows kept for the pivot, column by column: day, geo, column code, value.
struct LongRows<'a> {
    days: Vec<i32>,
    geos: Vec<&'a str>,
    cols: Vec<i32>,
    values: Vec<f64>,
}

impl<'a> LongRows<'a> {
    /// Room for `rows` rows.
    fn with_capacity(rows: usize) -> Self {
        Self {
            days: Vec::with_capacity(rows),
            geos: Vec::with_capacity(rows),
            cols: Vec::with_capacity(rows),
            values: Vec::with_capacity(rows),
        }
    }

    /// Keep one row.
    fn push(&mut self, day: i32, geo: &'a str, col: i32, value: f64) {
        self.days.push(day);
        self.geos.push(geo);
        self.cols.push(col);
        self.values.push(value);
    }

    /// The rows as a `day, geo, col, value` batch.
    fn into_batch(self) -> Result<RecordBatch, ArrowError> {
        RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("day", DataType::Int32, false),
                Field::new("geo", DataType::Utf8, false),
                Field::new("col", DataType::Int32, false),
                Field::new("value", DataType::Float64, false),
            ])),
            vec![
                Arc::new(Int32Array::from(self.days)) as ArrayRef,
                Arc::new(StringArray::from(self.geos)),
                Arc::new(Int32Array::from(self.cols)),
                Arc::new(Float64Array::from(self.values)),
            ],
        )
    }
}

/// The row rules on every long row (period, number, negative spend, duplicates), keeping the
/// rows of modeled variables with the index of their column in `required` as column code.
fn long_rows<'a>(
    cells: &LongCells<'a>,
    names: &mut ColumnNames<'a>,
    required: &[(String, Role)],
    period_column: &str,
    findings: &mut Findings,
) -> LongRows<'a> {
    let code_of: HashMap<&str, (i32, Role)> = required
        .iter()
        .enumerate()
        .map(|(k, (n, r))| (n.as_str(), (k as i32, *r)))
        .collect();
    let mut rows = LongRows::with_capacity(cells.rows);
    let mut periods = PeriodParser {
        column: period_column,
        last: None,
    };
    let mut duplicates = Duplicates::with_capacity(cells.rows);
    for i in 0..cells.rows {
        let row = i + 1;
        let geo = cells.geo(i);
        let variable = cells.variables.value(i).trim();
        let Some(column) = names.column(cells.campaign(i), variable, row) else {
            continue;
        };
        let Some((code, role)) = code_of.get(column.as_ref()).copied() else {
            continue; // a variable the spec does not model
        };
        let Some(day) = periods.day(cells.periods.value(i), row, findings) else {
            continue;
        };
        let at = || At {
            column: Some(column.to_string()),
            geo: (geo != NATIONAL).then(|| geo.to_string()),
            row: Some(row),
            period: Some(day),
            ..At::default()
        };
        let value = parse_number(cells.values.value(i), at, findings);
        if role == "channel" && value < 0.0 {
            findings.error("negative_spend", at(), format!("spend {value} is negative"));
        }
        if let Some(first) = duplicates.earlier_row(cells, i, day) {
            findings.error(
                "duplicate_period",
                at(),
                format!("the same period, geo, campaign and variable also appear in row {first}"),
            );
        }
        rows.push(day, geo, code, value);
    }
    rows
}

/// A `missing_column` error for each required variable no row carries; false if any.
fn every_variable_present(
    required: &[(String, Role)],
    cols: &[i32],
    variable_column: &str,
    findings: &mut Findings,
) -> bool {
    let present: BTreeSet<i32> = cols.iter().copied().collect();
    let mut all = true;
    for (k, (name, _)) in required.iter().enumerate() {
        if !present.contains(&(k as i32)) {
            all = false;
            findings.error(
                "missing_column",
                At::column(name),
                format!("no row of '{variable_column}' carries this variable"),
            );
        }
    }
    all
}

/// One row per day and geo, one column per required variable (null where no row carries it),
/// by the query engine.
fn pivot(
    long: RecordBatch,
    required: &[(String, Role)],
    engine: &crate::sql::SqlEngine,
) -> Result<RecordBatch, SqlError> {
    let query = crate::sql::Query::Pivot {
        names: required.iter().map(|(n, _)| n.clone()).collect(),
    };
    crate::sql::query(long, &query, engine)
}

/// A `missing_value` error for each period and geo where no row carries a variable (a null
/// of the pivot; a NaN that is not null came from an invalid cell, already reported).
fn report_missing_values(p: &Panel, wide: &RecordBatch, findings: &mut Findings) {
    for (name, _, col) in &p.columns {
        for (i, v) in col.iter().enumerate() {
            if v.is_nan() && wide.column_by_name(name).is_some_and(|c| c.is_null(i)) {
                findings.error(
                    "missing_value",
                    At {
                        column: Some(name.clone()),
                        geo: p.geo(i),
                        row: None,
                        period: p.dates[i],
                        ..At::default()
                    },
                    "no row carries this variable for this period and geo".into(),
                );
            }
        }
    }
}

/// Read a `day, geo, columns...` batch (nulls become NaN) into a panel.
pub fn from_batch(batch: &RecordBatch, required: &[(String, Role)]) -> Result<Panel, TableError> {
    let lost = |column: &str| TableError::PivotLost(column.to_string());
    let day = batch
        .column_by_name("day")
        .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
        .ok_or_else(|| lost("the day column"))?;
    let geo = batch
        .column_by_name("geo")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .ok_or_else(|| lost("the geo column"))?;
    let mut columns = Vec::new();
    for (name, role) in required {
        let arr = batch
            .column_by_name(name)
            .ok_or_else(|| lost(&format!("column {name}")))?;
        let cast = arrow::compute::cast(arr, &DataType::Float64)?;
        let a = cast
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or(TableError::NotFloat)?;
        columns.push((
            name.clone(),
            *role,
            (0..a.len())
                .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
                .collect(),
        ));
    }
    Ok(Panel {
        dates: day.iter().collect(),
        geos: geo
            .iter()
            .map(|g| g.unwrap_or(NATIONAL).to_string())
            .collect(),
        source_rows: None,
        columns,
    })
}
