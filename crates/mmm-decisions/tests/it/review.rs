//! Decision records and their review: the geo roll-up of predictions, closed-form predictive
//! intervals, realized totals read per geo, and records or actuals that break a rule.

use std::path::Path;

use mmm_core::spec::LoadedSpec;
use mmm_decisions::review::{DecisionRecord, GeoPrediction, TotalPrediction, review};

/// Standard normal quantile at 0.95.
const Z95: f64 = 1.644_853_626_951_472_2;

/// The geo fixture's spec: date column `week`, target `sales`, geo column `region`.
fn geo_spec() -> LoadedSpec {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/geo/spec.toml");
    LoadedSpec::load(&path).expect("spec")
}

fn prediction(mean: &[f64], sd: &[f64]) -> TotalPrediction {
    TotalPrediction {
        mean_per_draw: mean.to_vec(),
        sd_per_draw: sd.to_vec(),
        noise: "test".into(),
    }
}

/// Two geos, two draws, two weeks, one channel.
fn geo_record() -> DecisionRecord {
    let days = [19_723, 19_730]; // 2024-01-01, 2024-01-08
    let geos = vec![
        GeoPrediction {
            geo: "north".into(),
            spend: vec![vec![10.0, 20.0]],
            lift_per_draw: vec![1.0, 2.0],
            total: Some(prediction(&[100.0, 110.0], &[3.0, 4.0])),
        },
        GeoPrediction {
            geo: "south".into(),
            spend: vec![vec![5.0, 5.0]],
            lift_per_draw: vec![0.5, 0.25],
            total: Some(prediction(&[50.0, 40.0], &[4.0, 3.0])),
        },
    ];
    DecisionRecord::for_geos(&geo_spec(), "plan", &["tv".into()], &days, geos, 0.9)
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_geo_record_sums_spend_lift_and_predictions_over_geos_per_draw() {
    let r = geo_record();
    assert_eq!(r.record_version, 2);
    assert_eq!(r.geo_column.as_deref(), Some("region"));
    assert_eq!(r.weeks, ["2024-01-01", "2024-01-08"]);
    assert_eq!(r.spend, [vec![15.0, 25.0]]);
    assert_eq!(r.lift_per_draw, [1.5, 2.25]);
    let total = r.total.as_ref().expect("total");
    assert_eq!(total.mean_per_draw, [150.0, 150.0]);
    // Independent geo noise given the parameters: variances add, 3^2 + 4^2 = 5^2.
    assert_eq!(total.sd_per_draw, [5.0, 5.0]);
    // A geo without a prediction (horizon past the data) leaves the national one out too.
    let mut parts = r.geos.clone();
    parts[1].total = None;
    let partial = DecisionRecord::for_geos(&geo_spec(), "p", &["tv".into()], &[0, 7], parts, 0.9);
    assert!(partial.total.is_none());
}

#[test]
fn a_geo_review_compares_every_geo_and_their_sum_with_closed_form_intervals() {
    let dir = tempfile::tempdir().expect("tmp");
    let record = geo_record();
    // Realized: north 104 + 11 = 115, south 22 + 8 = 30; rows of another geo and week ignored.
    let actuals = write(
        dir.path(),
        "actuals.csv",
        "week,region,sales\n2024-01-01,north,104\n2024-01-08,north,11\n2024-01-01,south,22\n\
         2024-01-08,south,8\n2024-01-01,west,999\n2024-01-15,north,999\n",
    );
    let r = review(&record, &actuals).expect("review");
    assert_eq!(r.geos.len(), 2);
    let national = &r.outcome;
    assert_eq!(national.actual_total, 145.0);
    // Both draws of the national total are Normal(150, 5): the interval is 150 -+ z 5.
    assert_eq!(national.predicted_mean, 150.0);
    assert!((national.predicted_lower - (150.0 - Z95 * 5.0)).abs() < 1e-6);
    assert!((national.predicted_upper - (150.0 + Z95 * 5.0)).abs() < 1e-6);
    assert!(national.inside_interval);
    // Phi(-5 / 5) = 0.158655253931457 (scipy.stats.norm.cdf(-1)).
    assert!((national.percentile - 0.158_655_253_931_457).abs() < 1e-14);
    assert_eq!(national.predicted_lift[0], 1.875);

    let north = &r.geos[0];
    assert_eq!(north.geo, "north");
    assert_eq!(north.outcome.actual_total, 115.0);
    assert_eq!(north.outcome.predicted_mean, 105.0);
    assert_eq!(north.outcome.error, 10.0);
    // An equal mixture of Normal(100, 3) and Normal(110, 4): its CDF in closed form.
    let phi = mmm_decisions::review::normal_cdf;
    let expected = 0.5 * (phi(15.0 / 3.0) + phi(5.0 / 4.0));
    assert!((north.outcome.percentile - expected).abs() < 1e-9);
    let south = &r.geos[1];
    // Mixture CDF at 30: (Phi(-5) + Phi(-10/3)) / 2 < 0.05.
    assert_eq!(south.outcome.actual_total, 30.0);
    assert!(!south.outcome.inside_interval);
    assert!(south.outcome.outside_by < 0.0);
    let text = serde_json::to_value(&r).expect("json");
    assert_eq!(text["actual_total"], 145.0);
    assert_eq!(text["geos"][1]["geo"], "south");
}

#[test]
fn actuals_that_miss_a_geo_week_or_repeat_one_are_refused_by_row_and_geo() {
    let dir = tempfile::tempdir().expect("tmp");
    let record = geo_record();
    let missing = write(
        dir.path(),
        "missing.csv",
        "week,region,sales\n2024-01-01,north,1\n2024-01-08,north,1\n2024-01-01,south,1\n",
    );
    let e = review(&record, &missing).expect_err("missing").to_string();
    assert!(
        e.contains("missing.csv") && e.contains("2024-01-08") && e.contains("region 'south'"),
        "{e}"
    );
    let twice = write(
        dir.path(),
        "twice.csv",
        "week,region,sales\n2024-01-01,north,1\n2024-01-01,north,2\n",
    );
    let e = review(&record, &twice).expect_err("twice").to_string();
    assert!(e.contains("row 3") && e.contains("region 'north'"), "{e}");
    let no_geo = write(dir.path(), "no_geo.csv", "week,sales\n2024-01-01,1\n");
    let e = review(&record, &no_geo).expect_err("no geo").to_string();
    assert!(e.contains("missing column 'region'"), "{e}");
}

/// A change made to a valid record's JSON.
type Edit = dyn Fn(&mut serde_json::Value);

#[test]
fn a_corrupt_record_is_refused_with_its_path_and_rule() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = serde_json::to_value(geo_record()).expect("json");
    let read = |name: &str, edit: &Edit| {
        let mut v = good.clone();
        edit(&mut v);
        let path = write(dir.path(), name, &v.to_string());
        DecisionRecord::read(&path)
            .map(|_| ())
            .map_err(|e| e.to_string())
    };
    assert_eq!(read("ok.json", &|_| {}), Ok(()));
    let cases: [(&str, &Edit, &str); 6] = [
        (
            "version.json",
            &|v| v["record_version"] = 3.into(),
            "record_version 3",
        ),
        (
            "lift.json",
            &|v| v["lift_per_draw"] = serde_json::json!([]),
            "lift_per_draw",
        ),
        (
            "sd.json",
            &|v| v["geos"][0]["total"]["sd_per_draw"] = serde_json::json!([1.0]),
            "geos[north].total",
        ),
        (
            "geo_twice.json",
            &|v| v["geos"][1]["geo"] = "north".into(),
            "'north' appears twice",
        ),
        (
            "interval.json",
            &|v| v["interval"] = 1.5.into(),
            "interval 1.5",
        ),
        (
            "weeks.json",
            &|v| v["weeks"][1] = "next week".into(),
            "'next week' is not a YYYY-MM-DD date",
        ),
    ];
    for (name, edit, rule) in cases {
        let e = read(name, edit).expect_err(name);
        assert!(e.contains(name) && e.contains(rule), "{name}: {e}");
    }
    let garbage = write(dir.path(), "garbage.json", "{ not json");
    let e = DecisionRecord::read(&garbage)
        .expect_err("garbage")
        .to_string();
    assert!(e.contains("garbage.json: not a decision record"), "{e}");
}

/// A national model fitted on panel data (geo.model = "national") records one national
/// prediction: its panel actuals are summed over every geo found in the horizon's weeks.
#[test]
fn a_national_record_sums_panel_actuals_over_geos() {
    let dir = tempfile::tempdir().expect("tmp");
    let record = DecisionRecord::new(
        &geo_spec(),
        "plan",
        &["tv".into()],
        &[19_723, 19_730],
        vec![vec![1.0, 1.0]],
        &[1.0, 2.0],
        Some(prediction(&[150.0], &[5.0])),
        0.9,
    );
    assert_eq!(record.geo_column.as_deref(), Some("region"));
    let panel = write(
        dir.path(),
        "panel.csv",
        "week,region,sales\n2024-01-01,north,70\n2024-01-01,south,10\n2024-01-08,north,60\n\
         2024-01-08,south,5\n",
    );
    let r = review(&record, &panel).expect("review");
    assert_eq!(r.outcome.actual_total, 145.0);
    assert!(r.geos.is_empty());
    // Without a geo column the file is one national row per week.
    let national = write(
        dir.path(),
        "national.csv",
        "week,sales\n2024-01-01,80\n2024-01-08,65\n",
    );
    assert_eq!(
        review(&record, &national)
            .expect("review")
            .outcome
            .actual_total,
        145.0
    );
    // A geo seen in the horizon needs every week.
    let gap = write(
        dir.path(),
        "gap.csv",
        "week,region,sales\n2024-01-01,north,70\n2024-01-01,south,10\n2024-01-08,north,60\n",
    );
    let e = review(&record, &gap).expect_err("gap").to_string();
    assert!(
        e.contains("week 2024-01-08") && e.contains("region 'south'"),
        "{e}"
    );
}
