//! `mmm design-experiment` and the decide stage's experiments.json: the lift tests ranked by the
//! expected shrinkage of the channel's ROAS interval, with every bad option refused by name.

use std::path::Path;

use crate::{assert_exit, fixture, mmm_os, mmm_run, spec_with, stderr};

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn decide_ranks_lift_tests_and_the_command_takes_other_designs() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = spec_with(dir.path(), 150, 100, 5);
    let run = dir.path().join("run");
    assert_exit(&mmm_run(&spec, &fixture("pymc_example/data.csv"), &run), 3);

    // The decide stage's default design: both channels x 4 and 8 weeks, switched off.
    let found = json(&run.join("decide/experiments.json"));
    assert_eq!(found["available"], true);
    let candidates = found["candidates"].as_array().expect("candidates");
    assert_eq!(candidates.len(), 4);
    let shrinkage: Vec<f64> = (candidates.iter())
        .map(|c| c["expected_shrinkage"].as_f64().expect("shrinkage"))
        .collect();
    assert!(
        shrinkage.windows(2).all(|w| w[0] >= w[1]),
        "ranked best first: {shrinkage:?}"
    );
    for c in candidates {
        let (today, after) = (
            c["roas"]["upper"].as_f64().expect("present")
                - c["roas"]["lower"].as_f64().expect("present"),
            c["expected_width"].as_f64().expect("present"),
        );
        // A test can only add information: the expected width is at most today's, up to the
        // reweighting's Monte Carlo error.
        assert!(after > 0.0 && after <= today * 1.02, "{c}");
    }
    let html = std::fs::read_to_string(run.join("report/report.html")).expect("report");
    assert!(html.contains("id=\"s-experiments\"") && html.contains("The most informative test"));

    // A sharper test teaches more than a vaguer one of the same design.
    let design = |se: &str| {
        let out = dir.path().join(format!("design-{se}.json"));
        let args = [
            "design-experiment".as_ref(),
            run.as_os_str(),
            "--weeks".as_ref(),
            "8".as_ref(),
            "--spend-change".as_ref(),
            "-1,0.5".as_ref(),
            "--standard-error".as_ref(),
            se.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        let o = mmm_os(args);
        assert_exit(&o, 0);
        assert!(String::from_utf8_lossy(&o.stdout).contains("shrinkage"));
        json(&out)
    };
    let (sharp, vague) = (design("50"), design("500"));
    let x1_off = |d: &serde_json::Value| {
        (d["candidates"].as_array().expect("present").iter())
            .find(|c| c["channel"] == "x1" && c["spend_change"] == -1.0)
            .map(|c| c["expected_shrinkage"].as_f64().expect("present"))
            .expect("x1 switched off")
    };
    assert!(
        x1_off(&sharp) > x1_off(&vague) + 0.05,
        "{} vs {}",
        x1_off(&sharp),
        x1_off(&vague)
    );
    assert_eq!(sharp["candidates"].as_array().expect("present").len(), 4);

    // Bad options: exit 1 and the rule in the message; nothing written.
    for (flag, value, says) in [
        ("--weeks", "0", "at least one week"),
        ("--spend-change", "0", "spend change"),
        ("--spend-change", "-1.5", "spend change"),
        ("--standard-error", "-3", "standard error"),
        ("--outcomes", "3", "between 20 and 100000 outcomes"),
        ("--outcomes", "100000000", "between 20 and 100000 outcomes"),
        ("--weeks", "500", "no spend in the last 500 weeks"),
    ] {
        let out = dir.path().join("bad.json");
        let args = [
            "design-experiment".as_ref(),
            run.as_os_str(),
            flag.as_ref(),
            value.as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        let o = mmm_os(args);
        if says.starts_with("no spend") {
            // Too long a test for the data: every channel is skipped with the reason.
            assert_exit(&o, 0);
            let d = json(&out);
            assert!(d["candidates"].as_array().expect("present").is_empty());
            assert!(d["skipped"].to_string().contains(says), "{d}");
            continue;
        }
        assert_exit(&o, 1);
        assert!(stderr(&o).contains(says), "{flag} {value}: {}", stderr(&o));
        assert!(!out.exists());
    }
}

/// `mmm design-experiment` on a geo hierarchy: a candidate per geo and channel, each with the
/// channel's national ROAS and the geo's own; the model's lift of switching a channel off in
/// a geo is positive; a sharper test shrinks both intervals more; the decide stage points to
/// the command instead of designing on every run.
pub fn geo_tests_are_designed_per_geo_and_channel(run: &Path, geos: usize) {
    let found = json(&run.join("decide/experiments.json"));
    assert_eq!(found["available"], false);
    assert!(
        found["reason"]
            .as_str()
            .expect("present")
            .contains("mmm design-experiment")
    );
    let design = |se: &str| {
        let out = run
            .parent()
            .expect("present")
            .join(format!("geo-design-{se}.json"));
        let args = [
            "design-experiment".as_ref(),
            run.as_os_str(),
            "--weeks".as_ref(),
            "8".as_ref(),
            "--standard-error".as_ref(),
            se.as_ref(),
            "--outcomes".as_ref(),
            "100".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
        ];
        assert_exit(&mmm_os(args), 0);
        json(&out)
    };
    let (sharp, vague) = (design("2000"), design("200000"));
    let cells = |d: &serde_json::Value| {
        let mut v: Vec<(String, String, f64, f64, f64)> =
            (d["candidates"].as_array().expect("present").iter())
                .map(|c| {
                    (
                        c["channel"].as_str().expect("present").to_owned(),
                        c["geo"].as_str().expect("a geo per candidate").to_owned(),
                        c["expected_shrinkage"].as_f64().expect("present"),
                        c["geo_expected_shrinkage"].as_f64().expect("present"),
                        c["lift"]["mean"].as_f64().expect("present"),
                    )
                })
                .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    };
    let (sharp, vague) = (cells(&sharp), cells(&vague));
    assert_eq!(sharp.len(), geos * 3, "{sharp:?}");
    for (s, v) in sharp.iter().zip(&vague) {
        assert_eq!((&s.0, &s.1), (&v.0, &v.1));
        assert!(s.4 > 0.0, "{s:?}: switching a channel off loses sales");
        assert!(s.3 > v.3 && s.2 > v.2 - 0.01, "{s:?} vs {v:?}");
    }
}
