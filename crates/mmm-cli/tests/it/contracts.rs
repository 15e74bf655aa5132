//! The validate stage on broken inputs: exact rule ids and locations, exit code 2.

use crate::{fixture, mmm_os, stderr};

/// Run validate on a bad fixture; returns (exit code, contract.json findings).
fn validate(file: &str) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("validate");
    let out = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        fixture("bad/spec.toml").as_os_str(),
        "--data".as_ref(),
        fixture(&format!("bad/{file}")).as_os_str(),
        "--out".as_ref(),
        out_dir.as_os_str(),
    ]);
    let findings = std::fs::read(out_dir.join("contract.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v["findings"].as_array().cloned())
        .unwrap_or_default();
    if out.status.code() == Some(2) {
        assert!(
            !out_dir.join("table.parquet").exists(),
            "a rejected input must not produce a table"
        );
        assert!(
            !out_dir.join("manifest.json").exists(),
            "a rejected input must not produce a manifest"
        );
    }
    (out.status.code(), findings, stderr(&out))
}

fn has(findings: &[serde_json::Value], rule: &str, column: Option<&str>, row: Option<u64>) -> bool {
    findings.iter().any(|f| {
        f["rule"] == rule
            && f["severity"] == "error"
            && column.is_none_or(|c| f["column"] == c)
            && row.is_none_or(|r| f["row"] == r)
    })
}

#[test]
fn good_file_passes() {
    let (code, findings, err) = validate("good.csv");
    assert_eq!(code, Some(0), "{err}");
    assert!(findings.iter().all(|f| f["severity"] != "error"));
}

#[test]
fn each_rule_reports_its_id_and_location() {
    let cases: [(&str, &str, Option<&str>, Option<u64>); 10] = [
        (
            "missing_column.csv",
            "missing_column",
            Some("event_1"),
            None,
        ),
        ("wrong_type.csv", "wrong_type", Some("x1"), Some(5)),
        (
            "unparseable_date.csv",
            "unparseable_date",
            Some("date_week"),
            Some(3),
        ),
        ("non_finite.csv", "non_finite", Some("y"), Some(6)),
        (
            "duplicate_period.csv",
            "duplicate_period",
            Some("date_week"),
            Some(7),
        ),
        (
            "missing_period.csv",
            "missing_period",
            Some("date_week"),
            Some(8),
        ),
        ("negative_spend.csv", "negative_spend", Some("x1"), Some(9)),
        ("missing_value.csv", "missing_value", Some("y"), Some(10)),
        ("channel_all_zero.csv", "channel_all_zero", Some("x1"), None),
        (
            "off_grid_period.csv",
            "off_grid_period",
            Some("date_week"),
            Some(11),
        ),
    ];
    for (file, rule, column, row) in cases {
        let (code, findings, err) = validate(file);
        assert_eq!(code, Some(2), "{file}: {err}");
        assert!(
            has(&findings, rule, column, row),
            "{file}: expected {rule} at {column:?} row {row:?}, got {findings:#?}"
        );
        assert!(
            err.contains(rule) && err.contains(file),
            "{file}: the error names the file and rule: {err}"
        );
    }
}

#[test]
fn several_problems_are_all_reported_in_one_run() {
    let (code, findings, _) = validate("several_problems.csv");
    assert_eq!(code, Some(2));
    assert!(has(&findings, "negative_spend", Some("x1"), Some(2)));
    assert!(has(&findings, "non_finite", Some("y"), Some(4)));
    assert!(has(
        &findings,
        "unparseable_date",
        Some("date_week"),
        Some(6)
    ));
    assert!(has(&findings, "missing_period", Some("date_week"), None));
}

#[test]
fn malformed_and_corrupt_files_name_the_file() {
    let (code, _, err) = validate("malformed.csv");
    assert_eq!(code, Some(1));
    assert!(
        err.contains("malformed.csv") && err.contains("line 3"),
        "{err}"
    );

    let dir = tempfile::tempdir().expect("tempdir");
    let bogus = dir.path().join("corrupt.parquet");
    std::fs::write(&bogus, b"PAR1 this is not parquet").expect("write");
    let out = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        fixture("bad/spec.toml").as_os_str(),
        "--data".as_ref(),
        bogus.as_os_str(),
        "--out".as_ref(),
        dir.path().join("v").as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("corrupt.parquet"), "{}", stderr(&out));
}
