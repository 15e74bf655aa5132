//! The calendar input (`--calendar`) and carry-in history (`data.start`) of the validate stage:
//! each rule with its file, column and row; the report sections; the artifacts.

use std::path::{Path, PathBuf};

use mmm_contracts::{ContractError, ContractReport, Finding, Inputs, Severity};
use mmm_core::spec::LoadedSpec;

use crate::repo;

/// The fixture spec with `data_extra` appended to `[data]` and `extra` at the end.
fn spec(dir: &Path, data_extra: &str, extra: &str) -> LoadedSpec {
    let text = std::fs::read_to_string(repo().join("fixtures/pymc_example/spec.toml"))
        .expect("fixture spec")
        .replace(
            "period_days = 7\n",
            &format!("period_days = 7\n{data_extra}\n"),
        );
    let path = dir.join("spec.toml");
    std::fs::write(&path, format!("{text}\n{extra}")).expect("write spec");
    LoadedSpec::load(&path).expect("spec loads")
}

fn fixture_data() -> PathBuf {
    repo().join("fixtures/pymc_example/data.csv")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

type Outcome = Result<Option<(mmm_core::Manifest, ContractReport)>, ContractError>;

fn validate(spec: &LoadedSpec, data: &Path, calendar: Option<&Path>, out: &Path) -> Outcome {
    let inputs = Inputs {
        data: data.to_path_buf(),
        calendar: calendar.map(Path::to_path_buf),
        ..Inputs::default()
    };
    mmm_contracts::run_with(spec, &inputs, out, true)
}

/// The findings of a rejected run, with the path the error names.
fn rejected(outcome: Outcome) -> (PathBuf, Vec<Finding>, String) {
    match outcome {
        Err(e @ ContractError::Rejected { .. }) => {
            let text = e.to_string();
            let ContractError::Rejected { path, findings, .. } = e else {
                unreachable!()
            };
            (path, findings, text)
        }
        Err(e) => panic!("expected a rejection, got {e}"),
        Ok(_) => panic!("expected a rejection, the input passed"),
    }
}

fn passed(outcome: Outcome) -> ContractReport {
    match outcome {
        Ok(Some((_, report))) => report,
        Ok(None) => panic!("forced run skipped"),
        Err(e) => panic!("expected to pass: {e}"),
    }
}

/// An error (or warning) with `rule` at file, column and row.
fn find<'a>(
    findings: &'a [Finding],
    rule: &str,
    file: Option<&str>,
    column: Option<&str>,
    row: Option<usize>,
) -> Option<&'a Finding> {
    findings.iter().find(|f| {
        f.rule == rule && f.file.as_deref() == file && f.column.as_deref() == column && f.row == row
    })
}

const EVENTS: &str = "[[events]]\nname = \"black_friday\"\nlag = 1\n";

#[test]
fn each_calendar_rule_names_file_column_and_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path(), "", EVENTS);
    let calendar = write(
        dir.path(),
        "holidays.csv",
        "event,date\n\
         black_friday,2018-11-23\n\
         black_friday,2018-11-23\n\
         ,2019-11-29\n\
         black friday,2019-11-29\n\
         black_friday,2019-13-01\n\
         black_friday,2020-11-27\n",
    );
    let out = dir.path().join("validate");
    let (path, findings, text) = rejected(validate(&spec, &fixture_data(), Some(&calendar), &out));
    let file = Some("holidays.csv");
    for (rule, column, row) in [
        ("duplicate_event_date", "date", 2),
        ("empty_event_name", "event", 3),
        ("invalid_event_name", "event", 4),
        ("unparseable_date", "date", 5),
    ] {
        let f = find(&findings, rule, file, Some(column), Some(row))
            .unwrap_or_else(|| panic!("{rule} at {column} row {row}: {findings:#?}"));
        assert_eq!(f.severity, Severity::Error);
        assert!(
            text.contains(&format!(
                "error[{rule}] file 'holidays.csv' column '{column}' row {row}"
            )),
            "{text}"
        );
    }
    assert!(
        find(
            &findings,
            "duplicate_event_date",
            file,
            Some("date"),
            Some(2)
        )
        .is_some_and(|f| f.message.contains("row 1")),
        "the duplicate names the first row"
    );
    assert_eq!(
        findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count(),
        4
    );
    // Every error is in the calendar, so the rejection names it; contract.json has them all.
    assert_eq!(path, calendar);
    assert!(!out.join("table.parquet").exists() && !out.join("manifest.json").exists());
    let contract: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("contract.json")).expect("contract"))
            .expect("json");
    assert!(!contract["passed"].as_bool().expect("passed"));
    assert_eq!(contract["calendar"]["source"], "holidays.csv");
    let rows: Vec<&serde_json::Value> = contract["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["file"] == "holidays.csv")
        .collect();
    assert_eq!(rows.len(), 4);
}

#[test]
fn calendar_columns_are_event_and_date_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path(), "", EVENTS);
    let out = dir.path().join("validate");
    let missing = write(
        dir.path(),
        "missing.csv",
        "event,day\nblack_friday,2018-11-23\n",
    );
    let (_, findings, _) = rejected(validate(&spec, &fixture_data(), Some(&missing), &out));
    assert!(
        find(
            &findings,
            "missing_column",
            Some("missing.csv"),
            Some("date"),
            None
        )
        .is_some()
    );
    assert!(
        find(
            &findings,
            "unexpected_column",
            Some("missing.csv"),
            Some("day"),
            None
        )
        .is_some()
    );
    let extra = write(
        dir.path(),
        "extra.csv",
        "event,date,lag\nblack_friday,2018-11-23,2\n",
    );
    let (_, findings, text) = rejected(validate(&spec, &fixture_data(), Some(&extra), &out));
    let f = find(
        &findings,
        "unexpected_column",
        Some("extra.csv"),
        Some("lag"),
        None,
    )
    .expect("unexpected column");
    assert!(f.message.contains("[[events]]"), "{text}");
    assert_eq!(findings.len(), 1, "{findings:#?}");
}

#[test]
fn undeclared_calendar_events_are_recorded_and_not_modeled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path(), "", EVENTS);
    let calendar = write(
        dir.path(),
        "holidays.csv",
        "event,date\n\
         easter,2019-04-21\n\
         black_friday,2019-11-29\n\
         black_friday,2018-11-23\n\
         easter,2020-04-12\n",
    );
    let out = dir.path().join("validate");
    let report = passed(validate(&spec, &fixture_data(), Some(&calendar), &out));
    let cal = report.calendar.as_ref().expect("calendar section");
    assert_eq!(cal.undeclared_events, ["easter"]);
    assert_eq!(cal.rows, 4);
    assert_eq!(cal.declared_events.len(), 1);
    assert_eq!(
        (
            cal.declared_events[0].inline_dates,
            cal.declared_events[0].calendar_dates
        ),
        (0, 2)
    );
    let warning = find(
        &report.findings,
        "undeclared_event",
        Some("holidays.csv"),
        Some("event"),
        Some(1),
    )
    .expect("undeclared warning at easter's first row");
    assert_eq!(warning.severity, Severity::Warning);
    assert!(warning.message.contains("easter") && warning.message.contains("not modeled"));
    // calendar.parquet: every row, sorted by event then date, in the manifest with its schema.
    let up = mmm_core::Upstream::open(&out, "validate").expect("manifest");
    let rec = up.manifest().output("calendar.parquet").expect("listed");
    assert_eq!(rec.schema.as_deref(), Some("validate/calendar.parquet"));
    assert_eq!(rec.rows, Some(4));
    let (batch, _) = up.parquet("calendar.parquet").expect("calendar.parquet");
    let path = out.join("calendar.parquet");
    let events = mmm_core::columns::string_column(&batch, "event", &path).expect("event");
    let dates = mmm_core::columns::date_column(&batch, "date", &path).expect("date");
    assert_eq!(events, ["black_friday", "black_friday", "easter", "easter"]);
    assert!(dates[0] < dates[1] && dates[2] < dates[3]);
    assert!(
        up.manifest()
            .inputs
            .iter()
            .any(|i| i.path == calendar.display().to_string()),
        "the calendar is hashed into the manifest"
    );
    assert_eq!(up.manifest().settings["undeclared_events"][0], "easter");
}

#[test]
fn a_parquet_calendar_reads_like_a_csv_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path(), "", EVENTS);
    let day = |s: &str| {
        mmm_core::dates::day_number(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date"))
    };
    let batch = mmm_core::BatchBuilder::new()
        .string("event", vec!["black_friday".into(), "black_friday".into()])
        .date("date", vec![day("2019-11-29"), day("2018-11-23")])
        .build()
        .expect("batch");
    let path = dir.path().join("holidays.parquet");
    std::fs::write(
        &path,
        mmm_core::artifact::parquet_bytes(&batch, &path).expect("parquet"),
    )
    .expect("write");
    let csv = write(
        dir.path(),
        "holidays.csv",
        "event,date\nblack_friday,2019-11-29\nblack_friday,2018-11-23\n",
    );
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    passed(validate(&spec, &fixture_data(), Some(&path), &a));
    passed(validate(&spec, &fixture_data(), Some(&csv), &b));
    let bytes = |d: &Path| std::fs::read(d.join("calendar.parquet")).expect("read");
    assert_eq!(bytes(&a), bytes(&b));
}

#[test]
fn a_declared_event_without_dates_anywhere_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(
        dir.path(),
        "",
        &format!("{EVENTS}[[events]]\nname = \"easter\"\n"),
    );
    let calendar = write(
        dir.path(),
        "holidays.csv",
        "event,date\nblack_friday,2018-11-23\n",
    );
    let out = dir.path().join("validate");
    let (_, findings, text) = rejected(validate(&spec, &fixture_data(), Some(&calendar), &out));
    let f = find(
        &findings,
        "event_without_dates",
        Some("holidays.csv"),
        Some("event"),
        None,
    )
    .expect("easter has no dates");
    assert!(f.message.contains("events[1] 'easter'"), "{text}");
    // Without a calendar every dateless event is refused, the message pointing at --calendar.
    let (path, findings, _) = rejected(validate(&spec, &fixture_data(), None, &out));
    assert_eq!(path, fixture_data());
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.rule == "event_without_dates")
        .collect();
    assert_eq!(errors.len(), 2);
    assert!(errors.iter().all(|f| f.message.contains("--calendar")));
}

/// The fixture data with the target and a control blanked in the first `blank` rows.
fn data_with_blank_history(dir: &Path, blank: usize) -> PathBuf {
    let text = std::fs::read_to_string(fixture_data()).expect("data");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for line in lines.iter_mut().skip(1).take(blank) {
        let mut cells: Vec<&str> = line.split(',').collect();
        cells[1] = ""; // y
        cells[4] = "n/a"; // event_1
        *line = cells.join(",");
    }
    write(dir, "data.csv", &(lines.join("\n") + "\n"))
}

#[test]
fn rows_before_start_are_carry_in_history_with_only_their_spend_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 2018-04-02 .. 2018-05-28 are nine weeks before the window; l_max = 8 needs seven.
    let spec = spec(dir.path(), "start = \"2018-06-04\"", "");
    let data = data_with_blank_history(dir.path(), 9);
    let out = dir.path().join("validate");
    let report = passed(validate(&spec, &data, None, &out));
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.severity != Severity::Error),
        "{:#?}",
        report.findings
    );
    assert_eq!(report.first_period.as_deref(), Some("2018-06-04"));
    assert_eq!(report.table_rows, 179 - 9);
    let h = report.history.as_ref().expect("history section");
    assert_eq!(
        (h.periods_before_start, h.periods_needed, h.periods_kept),
        (9, 7, 7)
    );
    assert_eq!(h.first_kept.as_deref(), Some("2018-04-16"));
    assert_eq!(h.last_kept.as_deref(), Some("2018-05-28"));
    let up = mmm_core::Upstream::open(&out, "validate").expect("manifest");
    let (batch, _) = up.parquet("history.parquet").expect("history.parquet");
    assert_eq!(
        up.manifest()
            .output("history.parquet")
            .and_then(|o| o.schema.as_deref()),
        Some("validate/history.parquet")
    );
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    assert_eq!(names, ["date", "geo", "x1", "x2"]);
    let x1 = mmm_core::columns::f64_column(&batch, "x1", &out.join("history.parquet")).expect("x1");
    let raw: Vec<f64> = std::fs::read_to_string(fixture_data())
        .expect("data")
        .lines()
        .skip(3)
        .take(7)
        .map(|l| l.split(',').nth(2).expect("x1").parse().expect("number"))
        .collect();
    assert_eq!(x1, raw);
}

#[test]
fn a_short_history_is_a_warning_and_history_spend_is_still_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(dir.path(), "start = \"2018-04-16\"", "");
    let data = data_with_blank_history(dir.path(), 2);
    let out = dir.path().join("validate");
    let report = passed(validate(&spec, &data, None, &out));
    let f = find(&report.findings, "short_history", None, None, None).expect("short history");
    assert_eq!(f.severity, Severity::Warning);
    assert!(f.message.starts_with("2 of the 7 periods"), "{}", f.message);
    assert_eq!(report.history.as_ref().map(|h| h.periods_kept), Some(2));

    // Spend in a history row must still parse and be non-negative.
    let text = std::fs::read_to_string(&data).expect("data");
    let broken = text.replacen(",0.3185800179359486,", ",-0.3,", 1);
    let data = write(dir.path(), "broken.csv", &broken);
    let (_, findings, _) = rejected(validate(&spec, &data, None, &out));
    assert!(find(&findings, "negative_spend", None, Some("x1"), Some(1)).is_some());
}

#[test]
fn start_must_be_the_first_day_of_a_period_inside_the_data() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("validate");
    let mid_week = spec(dir.path(), "start = \"2018-06-06\"", "");
    let (_, findings, _) = rejected(validate(&mid_week, &fixture_data(), None, &out));
    let f = find(&findings, "start_not_a_period", None, None, None).expect("off the grid");
    assert!(f.message.contains("2018-06-04"), "{}", f.message);
    let late = spec(dir.path(), "start = \"2030-01-07\"", "");
    let (_, findings, _) = rejected(validate(&late, &fixture_data(), None, &out));
    assert!(find(&findings, "start_after_data", None, None, None).is_some());
    // A start before the data: nothing to carry in, said as a warning.
    let early = spec(dir.path(), "start = \"2018-01-01\"", "");
    let report = passed(validate(&early, &fixture_data(), None, &out));
    let f = find(&report.findings, "short_history", None, None, None).expect("no history");
    assert!(f.message.starts_with("0 of the 7"), "{}", f.message);
}
