//! Holidays from a calendar file (`--calendar`) and spend before the window (`data.start`),
//! end to end through the `mmm` binary.

use std::path::{Path, PathBuf};

use mmm_core::columns::{date_column, f64_column};
use mmm_features::transforms::{geometric_adstock, logistic_saturation};

use crate::{fixture, mmm_os, parquet, stderr, validate_and_features};

/// The fixture spec with `data_extra` in `[data]`, `extra` appended and a short sampler.
fn spec(dir: &Path, name: &str, data_extra: &str, extra: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml"))
        .expect("spec")
        .replace(
            "period_days = 7\n",
            &format!("period_days = 7\n{data_extra}\n"),
        )
        .replace("tune = 1000", "tune = 300")
        .replace("draws = 1000", "draws = 300")
        + "\n[diagnose]\nbootstrap_replicates = 0\ncv_folds = 0\n"
        + extra;
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write spec");
    path
}

fn stage(args: &[&std::ffi::OsStr]) -> std::process::Output {
    mmm_os(args.iter().copied().chain(["--quiet".as_ref()]))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("json")
}

#[test]
fn calendar_events_give_the_same_design_as_their_dates_inline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = fixture("pymc_example/data.csv");
    // promo: every date inline vs every date from the calendar; sale: two dates inline vs one
    // inline and one from the calendar (their union).
    let inline = spec(
        dir.path(),
        "inline.toml",
        "",
        "[[events]]\nname = \"promo\"\ndates = [\"2018-11-23\", \"2019-11-29\", \"2020-11-27\"]\nlead = 1\nlag = 2\n\
         [[events]]\nname = \"sale\"\ndates = [\"2019-07-15\", \"2020-07-13\"]\n",
    );
    let from_calendar = spec(
        dir.path(),
        "calendar.toml",
        "",
        "[[events]]\nname = \"promo\"\nlead = 1\nlag = 2\n\
         [[events]]\nname = \"sale\"\ndates = [\"2019-07-15\"]\n",
    );
    let calendar = dir.path().join("holidays.csv");
    std::fs::write(
        &calendar,
        "event,date\n\
         promo,2020-11-27\n\
         easter,2019-04-21\n\
         promo,2018-11-23\n\
         sale,2020-07-13\n\
         promo,2019-11-29\n\
         easter,2020-04-12\n",
    )
    .expect("write calendar");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let o = validate_and_features(&inline, &data, None, &a);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = validate_and_features(&from_calendar, &data, Some(&calendar), &b);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let design = |run: &Path| std::fs::read(run.join("features/design.parquet")).expect("design");
    assert_eq!(design(&a), design(&b), "the same design, byte for byte");
    let path = b.join("features/design.parquet");
    let promo = f64_column(&parquet(&path), "event[promo]", &path).expect("event[promo]");
    assert_eq!(promo.iter().filter(|v| **v == 1.0).count(), 3 * 4);

    // The undeclared event is recorded for an auditor, and the features stage verified and
    // recorded the calendar it read.
    let contract = read_json(&b.join("validate/contract.json"));
    assert_eq!(contract["calendar"]["undeclared_events"][0], "easter");
    assert!(
        contract["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .any(|f| f["rule"] == "undeclared_event"
                && f["severity"] == "warning"
                && f["file"] == "holidays.csv"
                && f["row"] == 2)
    );
    let manifest = read_json(&b.join("features/manifest.json"));
    assert!(
        manifest["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .any(|i| i["path"]
                .as_str()
                .is_some_and(|p| p.ends_with("calendar.parquet")))
    );
    // The validated calendar is hash-checked like every upstream file.
    let cal = b.join("validate/calendar.parquet");
    let mut bytes = std::fs::read(&cal).expect("calendar.parquet");
    let last = bytes.len() - 9;
    bytes[last] ^= 1;
    std::fs::write(&cal, bytes).expect("tamper");
    let o = stage(&[
        "features".as_ref(),
        "--spec".as_ref(),
        from_calendar.as_os_str(),
        "--validate".as_ref(),
        b.join("validate").as_os_str(),
        "--out".as_ref(),
        b.join("features2").as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("calendar.parquet"), "{}", stderr(&o));

    // Without the calendar, promo has no dates: the contract refuses it (exit 2) by name.
    let o = validate_and_features(&from_calendar, &data, None, &dir.path().join("c"));
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("event_without_dates")
            && err.contains("'promo'")
            && err.contains("--calendar"),
        "{err}"
    );
}

#[test]
fn a_broken_calendar_is_rejected_naming_its_file_column_and_row() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec(
        dir.path(),
        "spec.toml",
        "",
        "[[events]]\nname = \"promo\"\n",
    );
    let calendar = dir.path().join("holidays.csv");
    std::fs::write(
        &calendar,
        "event,date\npromo,2018-11-23\npromo,29/11/2019\npromo,2018-11-23\n",
    )
    .expect("write");
    let o = validate_and_features(
        &spec,
        &fixture("pymc_example/data.csv"),
        Some(&calendar),
        dir.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for needle in [
        "holidays.csv: rejected by the data contract (2 error(s))",
        "error[unparseable_date] file 'holidays.csv' column 'date' row 2",
        "error[duplicate_event_date] file 'holidays.csv' column 'date' row 3",
    ] {
        assert!(err.contains(needle), "{needle} not in {err}");
    }
}

/// The fixture's spend columns, raw.
fn raw_column(name: &str) -> Vec<f64> {
    crate::csv_column(&fixture("pymc_example/data.csv"), name)
}

#[test]
fn pre_window_spend_carries_in_and_simulate_round_trips_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The first 12 weeks are history: l_max = 8 keeps the last 7 of them.
    let spec = spec(dir.path(), "spec.toml", "start = \"2018-06-25\"", "");
    let truth = fixture("recovery/truth_normal.toml");
    let sim = dir.path().join("sim");
    let o = crate::mmm_simulate(
        &sim,
        &spec,
        &fixture("pymc_example/data.csv"),
        &truth,
        Some("5"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // features/carry_in.parquet: the 7 weeks before the window, spend / the window's scale.
    let carry = sim.join("inputs/features/carry_in.parquet");
    let batch = parquet(&carry);
    let scales = read_json(&sim.join("inputs/features/scales.json"));
    let dates = date_column(&batch, "date", &carry).expect("dates");
    assert_eq!(dates.len(), 7);
    let first = date_column(
        &parquet(&sim.join("inputs/features/design.parquet")),
        "date",
        &sim.join("inputs/features/design.parquet"),
    )
    .expect("design dates")[0];
    assert_eq!(dates[6] + 7, first);
    for c in ["x1", "x2"] {
        let raw = raw_column(c);
        let scale = scales["channels"][c].as_f64().expect("scale");
        let window_max = raw[12..].iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        assert_eq!(scale, window_max, "{c}: scaled on the window only");
        let got = f64_column(&batch, &format!("channel[{c}]"), &carry).expect("column");
        let expected: Vec<f64> = raw[5..12].iter().map(|v| v / scale).collect();
        assert_eq!(got, expected, "{c}");
    }

    // The truth's contributions include the carry-in: recomputed from the transforms over
    // the history followed by the window.
    let report = read_json(&sim.join("truth.json"));
    let y_scale = report["target_scale"].as_f64().expect("scale");
    for (c, alpha, lam, beta) in [("x1", 0.4, 4.0, 0.36), ("x2", 0.2, 3.0, 0.27)] {
        let raw = raw_column(c);
        let scale = scales["channels"][c].as_f64().expect("scale");
        let series: Vec<f64> = raw[5..].iter().map(|v| v / scale).collect();
        let adstock = geometric_adstock(&series, alpha, 8, true);
        let with: f64 = adstock[7..]
            .iter()
            .map(|a| beta * logistic_saturation(*a, lam))
            .sum::<f64>()
            * y_scale;
        let zero_padded = geometric_adstock(&series[7..], alpha, 8, true);
        let without: f64 = zero_padded
            .iter()
            .map(|a| beta * logistic_saturation(*a, lam))
            .sum::<f64>()
            * y_scale;
        let got = report["channels"][c]["contribution"]
            .as_f64()
            .expect("contribution");
        assert!((got - with).abs() < 1e-9 * with, "{c}: {got} vs {with}");
        assert!(with > without, "{c}: carry-in adds to the contribution");
        let spend: f64 = raw[12..].iter().sum();
        assert!((report["channels"][c]["spend"].as_f64().expect("spend") - spend).abs() < 1e-9);
    }

    // data.csv: the history rows first (spend only), then the window with the simulated
    // target; validating and building features on it reproduces the carry-in exactly.
    let text = std::fs::read_to_string(sim.join("data.csv")).expect("data.csv");
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 1 + 7 + 167);
    assert!(rows[1].starts_with("2018-05-07,,"), "{}", rows[1]);
    let again = dir.path().join("again");
    let o = validate_and_features(&spec, &sim.join("data.csv"), None, &again);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = |p: PathBuf| std::fs::read(p).expect("read");
    assert_eq!(
        bytes(again.join("features/carry_in.parquet")),
        bytes(carry.clone())
    );

    // The whole pipeline on the simulated data: fit, decisions and the report.
    let run = dir.path().join("run");
    let o = mmm_os([
        "run".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        sim.join("data.csv").as_os_str(),
        "--out".as_ref(),
        run.as_os_str(),
        "--quiet".as_ref(),
    ]);
    crate::assert_exit(&o, 3);
    let up = mmm_core::Upstream::open(&run.join("features"), "features").expect("features");
    assert_eq!(
        up.manifest()
            .output("carry_in.parquet")
            .and_then(|o| o.schema.as_deref()),
        Some("features/carry_in.parquet")
    );
    let decide = read_json(&run.join("decide/manifest.json"));
    assert!(
        decide["settings"]["carry_in"]
            .as_str()
            .is_some_and(|s| s.contains("2018-06-25"))
    );
    let html = std::fs::read_to_string(run.join("report/report.html")).expect("report");
    assert!(html.contains("carries into the first weeks through adstock"));
    // Recovery at a fixed seed: each channel's coefficient within 4 posterior sds of the truth.
    let path = run.join("fit/draws.parquet");
    let draws = parquet(&path);
    for (name, value) in [("beta[x1]", 0.36), ("beta[x2]", 0.27)] {
        let v = f64_column(&draws, name, &path).expect(name);
        let (z, mean, sd) = crate::posterior_z(&v, value);
        assert!(
            z < 4.0,
            "{name}: posterior {mean:.4} +- {sd:.4}, truth {value}"
        );
    }
}
