//! `mmm init`: the spec it writes from a data file runs unchanged on the PyMC example, the
//! long-format national export and the daily geo panel.

use std::path::Path;

use crate::{fixture, mmm_os, mmm_run_with, stderr};

/// `mmm init --data DATA --out OUT EXTRA...`.
fn init(data: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "init".as_ref(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| std::ffi::OsStr::new(*a)));
    mmm_os(args)
}

fn check(spec: &Path) -> std::process::Output {
    mmm_os(["spec".as_ref(), "check".as_ref(), spec.as_os_str()])
}

/// init, spec check, then `mmm run --no-refits` with the spec as written; the spec's text.
fn init_check_run(data: &Path, init_extra: &[&str], run_extra: &[&str], code: i32) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.toml");
    let o = init(data, &spec, init_extra);
    assert_eq!(o.status.code(), Some(0), "init: {}", stderr(&o));
    let text = std::fs::read_to_string(&spec).expect("spec written");
    let o = check(&spec);
    assert_eq!(o.status.code(), Some(0), "check: {}\n{text}", stderr(&o));
    let mut extra = vec!["--no-refits"];
    extra.extend_from_slice(run_extra);
    let o = mmm_run_with(&spec, data, &dir.path().join("run"), &extra);
    assert_eq!(o.status.code(), Some(code), "run: {}\n{text}", stderr(&o));
    assert!(dir.path().join("run/report/report.html").exists());
    text
}

#[test]
fn init_output_runs_on_the_pymc_example() {
    let text = init_check_run(&fixture("pymc_example/data.csv"), &[], &[], 0);
    for line in [
        "date_column = \"date_week\"",
        "target = \"y\"",
        "period_days = 7",
        "name = \"x1\"",
        "name = \"x2\"",
        "name = \"event_1\"",
        "name = \"t\"",
        "fourier_order = 2",
        "# left out: dayofyear (a calendar index",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    assert!(!text.contains("name = \"dayofyear\""), "{text}");
    assert!(
        !text.contains("adstock ="),
        "priors are left to the defaults:\n{text}"
    );
    assert!(text.contains("target_accept = 0.95"), "{text}");
}

#[test]
fn init_output_runs_on_the_long_national_export() {
    let map = fixture("ingest/campaign_map.csv");
    let map = map.to_str().expect("utf8");
    let text = init_check_run(
        &fixture("ingest/national_long.csv"),
        &["--campaign-map", map],
        &["--campaign-map", map],
        0,
    );
    for line in [
        "layout = \"long\"",
        "date_column = \"Period\"",
        "target = \"sales\"",
        "name = \"tv\"",
        "name = \"ooh\"",
        "name = \"price\"",
        "name = \"temperature\"",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
}

#[test]
fn init_output_runs_on_the_daily_geo_panel() {
    let text = init_check_run(&fixture("ingest/geo_daily.csv"), &[], &[], 0);
    for line in [
        "geo_column = \"geo\"",
        "input_period_days = 1",
        "period_days = 7",
        "name = \"tv\"",
        "name = \"search\"",
        "name = \"price\"",
        "\"promo\" = \"sum\"",
        "# price varies by 4% around its mean",
    ] {
        assert!(text.contains(line), "{line:?} missing:\n{text}");
    }
    let channels = text.matches("[[channels]]").count();
    assert_eq!(channels, 2, "price and promo are controls:\n{text}");
}

#[test]
fn init_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, "# mine\n").expect("write");
    let data = fixture("pymc_example/data.csv");
    let o = init(&data, &spec, &[]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--force"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(&spec).expect("read"), "# mine\n");
    let o = init(&data, &spec, &["--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        std::fs::read_to_string(&spec)
            .expect("read")
            .contains("[[channels]]")
    );
}

#[test]
fn init_names_what_it_cannot_find() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = dir.path().join("spec.toml");
    let data = fixture("pymc_example/data.csv");
    // A mistyped target is named with the closest column.
    let o = init(&data, &spec, &["--target", "yy"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("did you mean 'y'"), "{}", stderr(&o));
    // Named channels and controls replace the guesses.
    let o = init(&data, &spec, &["--channels", "x1", "--controls", "t"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = std::fs::read_to_string(&spec).expect("read");
    assert_eq!(text.matches("[[channels]]").count(), 1, "{text}");
    assert_eq!(text.matches("[[controls]]").count(), 1, "{text}");
    // A long export with campaign rows needs the campaign map.
    let o = init(
        &fixture("ingest/national_long.csv"),
        &dir.path().join("l.toml"),
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--campaign-map"), "{}", stderr(&o));
    assert!(!dir.path().join("l.toml").exists());
    // Unreadable data is rejected input (exit 2), naming the file.
    let missing = dir.path().join("missing.csv");
    let o = init(&missing, &dir.path().join("m.toml"), &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("missing.csv"), "{}", stderr(&o));
}
