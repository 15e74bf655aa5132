//! The validate stage on broken inputs: exact rule ids and locations, exit code 2.

use crate::{fixture, mmm_os, stderr};

/// Run validate on a bad fixture; returns (exit code, contract.json findings).
fn validate(file: &str) -> (Option<i32>, Vec<serde_json::Value>, String) {
    validate_with("spec.toml", file, &[])
}

/// Run validate with a spec from fixtures/bad and extra arguments.
fn validate_with(
    spec: &str,
    file: &str,
    extra: &[&std::ffi::OsStr],
) -> (Option<i32>, Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_dir = dir.path().join("validate");
    let mut args: Vec<std::ffi::OsString> = vec![
        "validate".into(),
        "--spec".into(),
        fixture(&format!("bad/{spec}")).into(),
        "--data".into(),
        fixture(&format!("bad/{file}")).into(),
        "--out".into(),
        out_dir.clone().into(),
    ];
    args.extend(extra.iter().map(|a| a.to_os_string()));
    let out = mmm_os(args);
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
    let cases: [(&str, &str, Option<&str>, Option<u64>); 12] = [
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
        ("channel_constant.csv", "channel_constant", Some("x1"), None),
        ("target_constant.csv", "target_constant", Some("y"), None),
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
    // Unreadable or malformed data is rejected input: exit 2, as a contract error.
    let (code, _, err) = validate("malformed.csv");
    assert_eq!(code, Some(2));
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
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("corrupt.parquet"), "{}", stderr(&out));
}

fn has_warning(
    findings: &[serde_json::Value],
    rule: &str,
    column: Option<&str>,
    row: Option<u64>,
) -> bool {
    findings.iter().any(|f| {
        f["rule"] == rule
            && f["severity"] == "warning"
            && column.is_none_or(|c| f["column"] == c)
            && row.is_none_or(|r| f["row"] == r)
    })
}

#[test]
fn new_rules_report_their_id_and_location() {
    // (spec, file, rule, column, row, period)
    // (spec, file, rule, column, row, period)
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a str,
        Option<&'a str>,
        Option<u64>,
        Option<&'a str>,
    );
    let cases: [Case; 6] = [
        (
            "spec_lognormal.toml",
            "target_not_positive.csv",
            "target_not_positive",
            Some("y"),
            Some(4),
            Some("2021-01-25"),
        ),
        (
            "spec_poisson.toml",
            "target_not_count.csv",
            "target_not_count",
            Some("y"),
            Some(6),
            Some("2021-02-08"),
        ),
        (
            "spec.toml",
            "too_few_rows.csv",
            "too_few_rows",
            None,
            None,
            None,
        ),
        (
            "spec.toml",
            "collinear.csv",
            "collinear",
            Some("event_1"),
            None,
            None,
        ),
        (
            "spec.toml",
            "future_period.csv",
            "future_period",
            Some("date_week"),
            Some(12),
            Some("2021-03-29"),
        ),
        (
            "spec.toml",
            "mixed_frequency.csv",
            "mixed_frequency",
            Some("date_week"),
            Some(9),
            Some("2021-02-23"),
        ),
    ];
    for (spec, file, rule, column, row, period) in cases {
        let (code, findings, err) = validate_with(spec, file, &[]);
        assert_eq!(code, Some(2), "{file}: {err}");
        assert!(
            findings.iter().any(|f| f["rule"] == rule
                && f["severity"] == "error"
                && column.is_none_or(|c| f["column"] == c)
                && row.is_none_or(|r| f["row"] == r)
                && period.is_none_or(|p| f["period"] == p)),
            "{file}: expected {rule} at {column:?} row {row:?} period {period:?}, got {findings:#?}"
        );
        assert!(err.contains(rule) && err.contains(file), "{file}: {err}");
    }
    // The good file under the other likelihoods passes: the domain rules are not over-eager.
    for spec in ["spec_lognormal.toml", "spec_poisson.toml"] {
        let (code, _, err) = validate_with(spec, "good.csv", &[]);
        assert_eq!(code, Some(0), "{spec}: {err}");
    }
}

#[test]
fn warnings_do_not_reject() {
    let (code, findings, err) = validate("good.csv");
    assert_eq!(code, Some(0), "{err}");
    // 12 periods for 6 parameters (intercept, sigma, 3 for x1, event_1).
    assert!(
        has_warning(&findings, "few_rows_per_parameter", None, None),
        "{findings:#?}"
    );

    let (code, findings, err) = validate("spike.csv");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        has_warning(&findings, "spike", Some("y"), Some(7)),
        "{findings:#?}"
    );
    assert_eq!(
        findings.iter().filter(|f| f["rule"] == "spike").count(),
        1,
        "{findings:#?}"
    );

    // event_1 = x1 + small noise: r ~ 0.99, VIF ~ 50.
    let (code, findings, err) = validate("collinear_warning.csv");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        has_warning(&findings, "collinear", Some("event_1"), None),
        "{findings:#?}"
    );
    assert!(
        has_warning(&findings, "high_vif", Some("x1"), None),
        "{findings:#?}"
    );
}

#[test]
fn unmapped_campaigns_are_listed() {
    let map = fixture("bad/long_map.csv");
    let (code, findings, err) = validate_with(
        "spec_long.toml",
        "unmapped_campaign.csv",
        &["--campaign-map".as_ref(), map.as_os_str()],
    );
    assert_eq!(code, Some(2), "{err}");
    let f = findings
        .iter()
        .find(|f| f["rule"] == "unmapped_campaign")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(f["column"], "Campaign");
    assert_eq!(f["row"], 10);
    let msg = f["message"].as_str().unwrap_or_default();
    assert!(
        msg.contains("Mystery") && msg.contains("Unknown_B"),
        "{msg}"
    );
}

#[test]
fn several_new_problems_are_all_reported_in_one_run() {
    let (code, findings, _) = validate("several_new_problems.csv");
    assert_eq!(code, Some(2));
    assert!(
        has(&findings, "negative_spend", Some("x1"), Some(2)),
        "{findings:#?}"
    );
    assert!(
        has(&findings, "wrong_type", Some("event_1"), Some(8)),
        "{findings:#?}"
    );
    assert!(
        has(&findings, "future_period", Some("date_week"), Some(12)),
        "{findings:#?}"
    );
    assert!(
        has(&findings, "missing_period", Some("date_week"), Some(12)),
        "{findings:#?}"
    );
    assert!(
        has_warning(&findings, "spike", Some("y"), Some(5)),
        "{findings:#?}"
    );
}

#[test]
fn refresh_drift_against_the_previous_table() {
    let dir = tempfile::tempdir().expect("tempdir");
    let first = dir.path().join("first");
    let out = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        fixture("bad/spec.toml").as_os_str(),
        "--data".as_ref(),
        fixture("bad/good.csv").as_os_str(),
        "--out".as_ref(),
        first.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let previous = first.join("table.parquet");

    // Same data: no drift at all.
    let (code, findings, err) = validate_with(
        "spec.toml",
        "good.csv",
        &["--previous".as_ref(), previous.as_os_str()],
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !findings.iter().any(
            |f| ["changed_history", "distribution_drift", "schema_change"]
                .contains(&f["rule"].as_str().unwrap_or_default())
        ),
        "{findings:#?}"
    );

    // Every y scaled by 1.5: history changed from the first period on, and y's distribution moved.
    let (code, findings, err) = validate_with(
        "spec.toml",
        "refresh_drift.csv",
        &["--previous".as_ref(), previous.as_os_str()],
    );
    assert_eq!(code, Some(0), "{err}");
    let changed = findings
        .iter()
        .find(|f| f["rule"] == "changed_history" && f["column"] == "y")
        .unwrap_or_else(|| panic!("{findings:#?}"));
    assert_eq!(changed["period"], "2021-01-04");
    assert!(
        changed["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("12 past period(s)")
    );
    assert!(
        has_warning(&findings, "distribution_drift", Some("y"), None),
        "{findings:#?}"
    );
    assert!(
        !findings
            .iter()
            .any(|f| f["rule"] == "changed_history" && f["column"] == "x1")
    );

    // A table with other columns: schema change, rejected.
    let other = dir.path().join("other");
    let out = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        fixture("pymc_example/spec.toml").as_os_str(),
        "--data".as_ref(),
        fixture("pymc_example/data.csv").as_os_str(),
        "--out".as_ref(),
        other.as_os_str(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let other_table = other.join("table.parquet");
    let (code, findings, err) = validate_with(
        "spec.toml",
        "good.csv",
        &["--previous".as_ref(), other_table.as_os_str()],
    );
    assert_eq!(code, Some(2), "{err}");
    assert!(has(&findings, "schema_change", None, None), "{findings:#?}");
}

/// 104 weeks for fixtures/bad/spec.toml (`y`, spend `x1`, `event_1`): x1 is flighted,
/// heavy-tailed spend (log-normal, log-sd 1.0, 3-6 weeks on air then 2-5 off). With `spike`,
/// the week at that index is entered 100 times too large. Returns the file and the date of
/// `spike`'s week.
fn heavy_tailed_export(
    dir: &std::path::Path,
    spike: Option<usize>,
) -> (std::path::PathBuf, String) {
    let mut state: u64 = 2024;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut on = Vec::new();
    let mut air = true;
    while on.len() < 104 {
        let k = if air { 3 } else { 2 } + (next() * 4.0) as usize;
        on.extend(std::iter::repeat_n(air, k));
        air = !air;
    }
    // 2019-01-07, a Monday, in days since 1970-01-01.
    let start = 17_903;
    assert_eq!(mmm_core::dates::iso(start), "2019-01-07");
    let mut csv = String::from("date_week,y,x1,event_1\n");
    let mut spike_date = String::new();
    for (t, on) in on.into_iter().take(104).enumerate() {
        let (u, v) = (next().max(1e-12), next());
        let normal = (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos();
        let mut x1 = if on {
            (5000.0 * normal.exp() * 100.0).round() / 100.0
        } else {
            0.0
        };
        let date = mmm_core::dates::iso(start + 7 * t as i32);
        if spike == Some(t) {
            assert!(on, "the spike week must be on air");
            x1 *= 100.0;
            spike_date = date.clone();
        }
        // Sales saturate in spend (and a mistyped spend week leaves them as they are).
        let clean = if spike == Some(t) { x1 / 100.0 } else { x1 };
        let y = 50_000.0 + 8_000.0 * (1.0 - (-clean / 5_000.0).exp()) + 500.0 * (t % 7) as f64;
        csv.push_str(&format!("{date},{y:.2},{x1},{}\n", u8::from(t % 26 == 0)));
    }
    let path = dir.join(if spike.is_some() {
        "spiked.csv"
    } else {
        "clean.csv"
    });
    std::fs::write(&path, csv).expect("write data");
    (path, spike_date)
}

fn validate_file(data: &std::path::Path, out: &std::path::Path) -> std::process::Output {
    mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        fixture("bad/spec.toml").as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
}

#[test]
fn heavy_tailed_flighted_spend_gives_no_spike_and_a_100x_week_one_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (clean, _) = heavy_tailed_export(dir.path(), None);
    let o = validate_file(&clean, &dir.path().join("clean"));
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.contains("0 error(s), 0 warning(s)\n"), "{err}");
    assert!(!err.contains("warning["), "{err}");
    // PASSED, table, column header, 3 columns, counts, a blank line, `validate: wrote`.
    assert_eq!(err.lines().count(), 9, "{err}");

    // The first week on air, entered 100 times too large.
    let (spiked, date) = heavy_tailed_export(dir.path(), Some(0));
    let o = validate_file(&spiked, &dir.path().join("spiked"));
    assert_eq!(
        o.status.code(),
        Some(0),
        "a warning does not reject: {}",
        stderr(&o)
    );
    let err = stderr(&o);
    assert!(err.contains("0 error(s), 1 warning(s)\n"), "{err}");
    let line = format!("  warning[spike] column 'x1' row 1 period {date}: spend ");
    assert_eq!(err.matches(&line).count(), 1, "{line} in:\n{err}");
    assert_eq!(err.matches("warning[").count(), 1, "{err}");
    assert_eq!(err.lines().count(), 10, "{err}");
    let c: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("spiked/contract.json")).expect("contract.json"),
    )
    .expect("json");
    assert_eq!(
        c["rules"],
        serde_json::json!([{ "rule": "spike", "severity": "warning", "count": 1, "omitted": 0,
            "columns": [{ "column": "x1", "count": 1 }] }])
    );
}

#[test]
fn run_prints_each_validation_warning_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spiked, date) = heavy_tailed_export(dir.path(), Some(0));
    let spec = dir.path().join("spec.toml");
    let text = std::fs::read_to_string(fixture("bad/spec.toml")).expect("spec")
        + "\n[sampler]\nchains = 2\ntune = 200\ndraws = 200\nseed = 1\n";
    std::fs::write(&spec, text).expect("write spec");
    let o = mmm_os([
        "run".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        spiked.as_os_str(),
        "--no-refits".as_ref(),
        "--out".as_ref(),
        dir.path().join("run").as_os_str(),
    ]);
    crate::assert_exit(&o, 3);
    let err = stderr(&o);
    let line = format!("warning[spike] column 'x1' row 1 period {date}: ");
    assert_eq!(err.matches(&line).count(), 1, "{line} in:\n{err}");
    assert_eq!(err.matches("warning[").count(), 1, "{err}");
}
