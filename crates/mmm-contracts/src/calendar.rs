//! The holiday and event calendar (`mmm validate --calendar FILE`): a CSV or Parquet file with
//! one row per occurrence, columns `event` (a name) and `date` (ISO `YYYY-MM-DD`).
//!
//! The spec stays the pre-registration: only events declared in `[[events]]` (name, lead, lag,
//! prior) are modeled, and a declared event takes its dates from the calendar rows of its name,
//! together with any inline `dates` (their union). Calendar events the spec does not declare
//! are reported (`undeclared_event` warning, `calendar.undeclared_events` in contract.json) and
//! not modeled; a declared event without a date anywhere is an error.

use std::collections::{BTreeMap, BTreeSet};

use mmm_core::Spec;
use mmm_core::spec::is_event_name;
use serde::Serialize;

use crate::panel::{At, Findings};
use crate::{RawTable, parse_date};

/// The two columns a calendar has; any other column is refused, since it would be silently
/// ignored (lead, lag and priors are set per event in the spec).
pub const COLUMNS: [&str; 2] = ["event", "date"];

/// One event of the calendar, as contract.json reports it.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CalendarEvent {
    /// Event name.
    pub name: String,
    /// Rows (dates) of this event in the calendar.
    pub rows: usize,
    /// First date (ISO).
    pub first_date: String,
    /// Last date (ISO).
    pub last_date: String,
    /// True when the spec declares it in `[[events]]` (only declared events are modeled).
    pub declared: bool,
}

/// Where a declared event's dates come from.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct DeclaredEvent {
    /// Event name (spec `events[i].name`).
    pub name: String,
    /// Dates given inline in the spec (`events[i].dates`).
    pub inline_dates: usize,
    /// Rows of the calendar with this name.
    pub calendar_dates: usize,
    /// Distinct dates the event uses: the union of both.
    pub dates: usize,
}

/// The calendar section of contract.json.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct CalendarReport {
    /// The calendar file's name (the full path is in the manifest).
    pub source: String,
    /// sha256 of the calendar file.
    pub source_sha256: String,
    /// Data rows read from the file.
    pub rows: usize,
    /// Every event of the calendar with its row count and date range.
    pub events: Vec<CalendarEvent>,
    /// Calendar events the spec does not declare: not modeled.
    pub undeclared_events: Vec<String>,
    /// Each event the spec declares, with the origin of its dates.
    pub declared_events: Vec<DeclaredEvent>,
    /// How inline dates and calendar rows combine.
    pub rule: String,
}

/// A checked calendar: (event, day) rows sorted by event then day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Calendar {
    /// (event name, days since 1970-01-01), sorted, no duplicates.
    pub rows: Vec<(String, i32)>,
}

impl Calendar {
    /// The days of one event, sorted.
    pub fn days(&self, event: &str) -> Vec<i32> {
        self.rows
            .iter()
            .filter(|(e, _)| e == event)
            .map(|(_, d)| *d)
            .collect()
    }
}

/// Check a calendar file read as `raw` (named `file` in findings) against the rules: both
/// columns present and no other, every row with a valid event name and an ISO date, no
/// (event, date) row twice. Returns the valid rows (also when some rows are rejected, so the
/// report can summarize them) and records findings.
pub fn check(raw: &RawTable, file: &str, f: &mut Findings) -> Calendar {
    let at = |column: Option<&str>, row: Option<usize>| At {
        file: Some(file.to_string()),
        column: column.map(str::to_string),
        row,
        ..At::default()
    };
    let find = |want: &str| raw.names.iter().position(|n| n.eq_ignore_ascii_case(want));
    let (event_col, date_col) = (find("event"), find("date"));
    for (want, found) in COLUMNS.iter().zip([event_col, date_col]) {
        if found.is_none() {
            f.error(
                "missing_column",
                at(Some(want), None),
                format!(
                    "the calendar needs columns `event` and `date` (columns present: {})",
                    raw.names.join(", ")
                ),
            );
        }
    }
    for name in &raw.names {
        if !COLUMNS.iter().any(|c| c.eq_ignore_ascii_case(name)) {
            f.error(
                "unexpected_column",
                at(Some(name), None),
                "a calendar has only the columns `event` and `date`; lead, lag and the prior \
                 of an event are set in the spec's [[events]], so this column would be ignored"
                    .into(),
            );
        }
    }
    let (Some(ec), Some(dc)) = (event_col, date_col) else {
        return Calendar::default();
    };
    let (names, dates) = (&raw.cells[ec], &raw.cells[dc]);
    let (event_name, date_name) = (raw.names[ec].as_str(), raw.names[dc].as_str());
    if raw.rows == 0 {
        f.warn(
            "empty_calendar",
            at(None, None),
            "the calendar has no rows".into(),
        );
    }
    let mut first_row: BTreeMap<(String, i32), usize> = BTreeMap::new();
    for i in 0..raw.rows {
        let row = i + 1;
        let name = names.value(i).trim();
        let valid_name = if name.is_empty() {
            f.error(
                "empty_event_name",
                at(Some(event_name), Some(row)),
                "the event name is empty".into(),
            );
            false
        } else if !is_event_name(name) {
            f.error(
                "invalid_event_name",
                at(Some(event_name), Some(row)),
                format!(
                    "'{name}' is not an event name: use letters, digits, '_' and '-' (it \
                     becomes the regressor event[{name}])"
                ),
            );
            false
        } else {
            true
        };
        let cell = dates.value(i).trim();
        let day = match parse_date(cell) {
            Some(d) => Some(mmm_core::dates::day_number(d)),
            None => {
                f.error(
                    "unparseable_date",
                    at(Some(date_name), Some(row)),
                    format!("'{cell}' is not an ISO date (YYYY-MM-DD)"),
                );
                None
            }
        };
        let (true, Some(day)) = (valid_name, day) else {
            continue;
        };
        match first_row.get(&(name.to_string(), day)) {
            Some(first) => f.error(
                "duplicate_event_date",
                at(Some(date_name), Some(row)),
                format!(
                    "event '{name}' on {} is also in row {first}",
                    mmm_core::dates::iso(day)
                ),
            ),
            None => {
                first_row.insert((name.to_string(), day), row);
            }
        }
    }
    Calendar {
        rows: first_row.into_keys().collect(),
    }
}

/// Days since 1970-01-01 of the inline dates of every spec event (the spec's validation has
/// checked that they parse).
fn inline_days(spec: &Spec) -> Vec<BTreeSet<i32>> {
    spec.events
        .iter()
        .map(|e| {
            e.dates
                .iter()
                .filter_map(|d| mmm_core::dates::parse_iso(d))
                .map(mmm_core::dates::day_number)
                .collect()
        })
        .collect()
}

/// Cross-check the spec's events with the calendar (or with no calendar): an error for each
/// declared event with no date anywhere, a warning for each calendar event the spec does not
/// declare (the stage logs every finding). `calendar` is the checked calendar with its file
/// name; `first_rows` locates the first row of each event name. Returns the report's event
/// lists: every calendar event, the undeclared ones, and the origin of each declared event's
/// dates.
pub fn check_events(
    spec: &Spec,
    calendar: Option<(&Calendar, &str)>,
    first_rows: &BTreeMap<String, usize>,
    f: &mut Findings,
) -> (Vec<CalendarEvent>, Vec<String>, Vec<DeclaredEvent>) {
    let declared: BTreeSet<&str> = spec.events.iter().map(|e| e.name.as_str()).collect();
    let empty = Calendar::default();
    let cal = calendar.map_or(&empty, |(c, _)| c);
    let file = calendar.map(|(_, file)| file.to_string());
    let mut declared_events = Vec::new();
    for ((i, e), inline) in spec.events.iter().enumerate().zip(inline_days(spec)) {
        let from_calendar = cal.days(&e.name);
        let all: BTreeSet<i32> = inline
            .iter()
            .copied()
            .chain(from_calendar.clone())
            .collect();
        if all.is_empty() {
            let where_ = match &file {
                Some(file) => format!(
                    "and the calendar {file} has no row with event = '{}'",
                    e.name
                ),
                None => "and no calendar was given (--calendar)".to_string(),
            };
            f.error(
                "event_without_dates",
                At {
                    file: file.clone(),
                    column: calendar.map(|_| "event".to_string()),
                    ..At::default()
                },
                format!(
                    "events[{i}] '{}' has no dates: the spec gives no `dates` {where_}",
                    e.name
                ),
            );
        }
        declared_events.push(DeclaredEvent {
            name: e.name.clone(),
            inline_dates: inline.len(),
            calendar_dates: from_calendar.len(),
            dates: all.len(),
        });
    }
    let mut events: Vec<CalendarEvent> = Vec::new();
    for (name, day) in &cal.rows {
        match events.last_mut() {
            Some(e) if &e.name == name => {
                e.rows += 1;
                e.last_date = mmm_core::dates::iso(*day);
            }
            _ => events.push(CalendarEvent {
                name: name.clone(),
                rows: 1,
                first_date: mmm_core::dates::iso(*day),
                last_date: mmm_core::dates::iso(*day),
                declared: declared.contains(name.as_str()),
            }),
        }
    }
    let undeclared: Vec<String> = events
        .iter()
        .filter(|e| !e.declared)
        .map(|e| e.name.clone())
        .collect();
    for e in events.iter().filter(|e| !e.declared) {
        f.warn(
            "undeclared_event",
            At {
                file: file.clone(),
                column: Some("event".into()),
                row: first_rows.get(&e.name).copied(),
                ..At::default()
            },
            format!(
                "event '{}' ({} row(s), {} .. {}) is not declared in the spec's [[events]], so it \
                 is not modeled; declare it (name, lead, lag, prior) to use it",
                e.name, e.rows, e.first_date, e.last_date
            ),
        );
    }
    (events, undeclared, declared_events)
}

/// 1-based row of the first occurrence of each event name in the file.
pub fn first_rows(raw: &RawTable) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    if let Some(c) = raw
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case("event"))
    {
        for (i, name) in raw.cells[c].iter().enumerate() {
            out.entry(name.unwrap_or_default().trim().to_string())
                .or_insert(i + 1);
        }
    }
    out
}
