//! Plan files (`mmm scenario --plans`) and horizons: sizes beyond the documented maximum of
//! 520 weeks are refused by file, row and column instead of aborting on allocation.

use mmm_decisions::DecideError;
use mmm_decisions::stages::{check_horizon, read_scenarios};

fn plans(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plans.csv");
    std::fs::write(&path, text).expect("write");
    (dir, path)
}

fn channels() -> Vec<String> {
    vec!["x1".into(), "x2".into()]
}

#[test]
fn plan_weeks_beyond_520_are_refused_by_row_and_column() {
    for week in ["18446744073709551615", "1000000000000", "1e12", "521", "0"] {
        let (_dir, path) = plans(&format!("week,x1,x2\n1,10,20\n{week},10,20\n"));
        match read_scenarios(&path, &channels()) {
            Err(DecideError::Input(m)) => assert!(
                m.contains("plans.csv")
                    && m.contains("row 3, column 'week': must be an integer from 1 to 520"),
                "{week}: {m}"
            ),
            other => panic!("{week}: expected an input error, got {other:?}"),
        }
    }
    // 520 weeks is the limit, and allowed.
    let rows: String = (1..=520).map(|w| format!("{w},1,2\n")).collect();
    let (_dir, path) = plans(&format!("week,x1,x2\n{rows}"));
    let read = read_scenarios(&path, &channels()).expect("520 weeks");
    assert_eq!(read.len(), 1);
    assert_eq!(read[0].1[0].len(), 520);
}

#[test]
fn horizons_are_checked_against_the_maximum() {
    assert!(check_horizon(None, "--weeks").is_ok());
    assert!(check_horizon(Some(520), "--weeks").is_ok());
    for w in [0, 521, usize::MAX] {
        let e = check_horizon(Some(w), "--weeks").expect_err("refused");
        assert_eq!(
            e.to_string(),
            format!("--weeks {w}: a plan covers 1 to 520 weeks (10 years)")
        );
    }
}
