//! Bounds on what an input may hold: cell magnitudes (`value_out_of_range`), findings listed
//! per rule (`cap_findings`), and paths that are not regular files.

use std::path::Path;

use mmm_contracts::{
    ContractError, FINDINGS_PER_RULE, Finding, MAX_ABS_VALUE, Severity, cap_findings, check_table,
    read_table_bytes,
};

use crate::{bad_spec, repo};

/// fixtures/bad/good.csv with cell (`row`, `column`) replaced by `value`; rows from 1.
fn good_with(cells: &[(usize, &str, &str)]) -> mmm_contracts::RawTable {
    let text = std::fs::read_to_string(repo().join("fixtures/bad/good.csv")).expect("good.csv");
    let mut lines: Vec<Vec<String>> = text
        .lines()
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect();
    for (row, column, value) in cells {
        let j = lines[0].iter().position(|h| h == column).expect("column");
        lines[*row][j] = value.to_string();
    }
    let csv: String = lines.iter().map(|l| l.join(",") + "\n").collect();
    read_table_bytes(csv.into_bytes(), Path::new("good.csv")).expect("csv")
}

fn out_of_range(findings: &[Finding]) -> Vec<(String, usize)> {
    findings
        .iter()
        .filter(|f| f.rule == "value_out_of_range")
        .map(|f| {
            assert_eq!(f.severity, Severity::Error);
            (f.column.clone().expect("column"), f.row.expect("row"))
        })
        .collect()
}

#[test]
fn cells_beyond_the_documented_magnitude_are_errors_with_column_and_row() {
    assert_eq!(MAX_ABS_VALUE, 1e15);
    // 1e308 used to pass and turn every result into NaN; target, spend and controls alike.
    let raw = good_with(&[
        (3, "y", "1e308"),
        (5, "x1", "-2e15"),
        (7, "event_1", "1.5e15"),
    ]);
    let findings = check_table(&raw, &bad_spec("spec.toml"), None, i32::MAX).expect("checked");
    assert_eq!(
        out_of_range(&findings),
        vec![("y".into(), 3), ("x1".into(), 5), ("event_1".into(), 7)],
        "{findings:#?}"
    );
    // The bad cells are not also reported as negative spend.
    assert!(!findings.iter().any(|f| f.rule == "negative_spend"));

    // The bound itself is allowed.
    let raw = good_with(&[(3, "y", "1e15"), (5, "event_1", "-1e15")]);
    let findings = check_table(&raw, &bad_spec("spec.toml"), None, i32::MAX).expect("checked");
    assert!(out_of_range(&findings).is_empty(), "{findings:#?}");
}

fn finding(rule: &'static str, severity: Severity, row: usize) -> Finding {
    Finding {
        rule,
        severity,
        file: None,
        column: Some("date_week".into()),
        geo: None,
        row: Some(row),
        period: None,
        message: "m".into(),
    }
}

#[test]
fn cap_findings_keeps_the_first_of_each_rule_and_counts_the_rest() {
    let mut all: Vec<Finding> = (1..=5000)
        .map(|r| finding("duplicate_period", Severity::Error, r))
        .collect();
    all.extend((1..=3).map(|r| finding("spike", Severity::Warning, r)));
    all.push(finding("collinear", Severity::Error, 1));
    all.push(finding("collinear", Severity::Warning, 2));
    let (kept, rules) = cap_findings(all);
    let dup: Vec<usize> = kept
        .iter()
        .filter(|f| f.rule == "duplicate_period")
        .filter_map(|f| f.row)
        .collect();
    assert_eq!(dup, (1..=FINDINGS_PER_RULE).collect::<Vec<_>>());
    assert_eq!(kept.len(), FINDINGS_PER_RULE + 3 + 2);
    let counts: Vec<(&str, Severity, usize, usize)> = rules
        .iter()
        .map(|r| (r.rule, r.severity, r.count, r.omitted))
        .collect();
    assert_eq!(
        counts,
        vec![
            ("collinear", Severity::Error, 1, 0),
            ("collinear", Severity::Warning, 1, 0),
            (
                "duplicate_period",
                Severity::Error,
                5000,
                5000 - FINDINGS_PER_RULE
            ),
            ("spike", Severity::Warning, 3, 0),
        ]
    );
    assert_eq!(
        mmm_contracts::omitted_lines(&rules),
        vec!["... and 4,980 more duplicate_period finding(s) (the first 20 are listed)"]
    );
}

/// Runs `f` on another thread; fails instead of hanging when it takes longer than 20 s.
#[cfg(unix)]
fn within_20s<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(std::time::Duration::from_secs(20))
        .expect("the reader blocked on a FIFO")
}

#[cfg(unix)]
#[test]
fn a_fifo_or_a_device_is_refused_before_it_is_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = dir.path().join("data.csv");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    for (path, kind) in [
        (fifo, "a named pipe (FIFO)"),
        (Path::new("/dev/zero").to_path_buf(), "a device"),
        (dir.path().to_path_buf(), "a directory"),
    ] {
        let p = path.clone();
        let result = within_20s(move || mmm_contracts::read_table(&p));
        match result {
            Err(e @ ContractError::NotAFile { .. }) => {
                assert!(e.rejects_input());
                let text = e.to_string();
                assert!(text.contains(&path.display().to_string()), "{text}");
                assert!(text.contains(kind), "{text}");
            }
            other => panic!("{}: expected NotAFile, got {other:?}", path.display()),
        }
    }
}
