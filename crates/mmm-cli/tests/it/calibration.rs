//! A ROAS prior and a lift test run through every stage: the decide stage reports each test
//! beside the model's lift for its window, and the report shows them.

use crate::{fixture, spec_with};

#[test]
fn roas_prior_and_lift_test_run_end_to_end_and_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = spec_with(dir.path(), 300, 200, 9);
    let text = std::fs::read_to_string(&spec).expect("spec");
    let text = text.replacen(
        "name = \"x1\"\n",
        "name = \"x1\"\nroas_prior = { family = \"log_normal\", mu = 0.0, sigma = 0.5 }\n",
        1,
    ) + "\n[[lift_tests]]\nchannel = \"x2\"\nstart = \"2019-06-03\"\nend = \"2019-08-26\"\n\
          lift = 2500.0\nstandard_error = 600.0\n";
    std::fs::write(&spec, text).expect("write spec");
    let run = dir.path().join("run");
    let out = crate::mmm_run(&spec, &fixture("pymc_example/data.csv"), &run);
    crate::assert_exit(&out, 3);
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("decide/summary.json")).expect("summary"))
            .expect("json");
    let tests = summary["lift_tests"].as_array().expect("lift_tests");
    assert_eq!(tests.len(), 1);
    let t = &tests[0];
    assert_eq!(t["channel"], "x2");
    assert_eq!(t["measured"], 2500.0);
    let (lo, m, hi) = (
        t["model"]["lower"].as_f64().expect("lower"),
        t["model"]["mean"].as_f64().expect("mean"),
        t["model"]["upper"].as_f64().expect("upper"),
    );
    assert!(0.0 < lo && lo <= m && m <= hi, "{t}");
    let report = std::fs::read_to_string(run.join("report/report.html")).expect("report");
    assert!(report.contains("id=\"lift-test-table\""));
    assert!(report.contains("2019-06-03"));
}
