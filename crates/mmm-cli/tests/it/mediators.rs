//! Mediators end to end: `mmm simulate` draws the mediator from its equation and reports the
//! mediated truth; the mediated spec recovers TV's and Video's total ROAS, the all-controls
//! spec (awareness as a control) visibly under-states them.

use std::path::Path;

use crate::{fixture, mmm_run_with, stderr};

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("json")
}

/// Pearson correlation.
fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let cov: f64 = a.iter().zip(b).map(|(x, y)| (x - ma) * (y - mb)).sum();
    let va: f64 = a.iter().map(|x| (x - ma).powi(2)).sum();
    let vb: f64 = b.iter().map(|y| (y - mb).powi(2)).sum();
    cov / (va * vb).sqrt()
}

#[test]
fn simulated_mediation_is_recovered_and_the_all_controls_spec_is_biased() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sim = dir.path().join("sim");
    let (spec, data) = (fixture("mediated/spec.toml"), fixture("mediated/data.csv"));
    let o = crate::mmm_simulate(
        &sim,
        &spec,
        &data,
        &fixture("mediated/truth.toml"),
        Some("1"),
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let truth = read_json(&sim.join("truth.json"))["channels"].clone();
    for c in ["tv", "video"] {
        let (total, through) = (
            truth[c]["contribution"].as_f64().expect("total"),
            truth[c]["mediated_contribution"]
                .as_f64()
                .expect("mediated"),
        );
        assert!(0.0 < through && through < total, "{c}: {}", truth[c]);
    }
    assert!(truth["search"].get("mediated_contribution").is_none());
    // The drawn awareness follows TV's adstocked spend (alpha 0.6), not the input's placeholder.
    let awareness = crate::csv_column(&sim.join("data.csv"), "awareness");
    assert_ne!(awareness, crate::csv_column(&data, "awareness"));
    let tv = crate::csv_column(&data, "tv");
    let tv_max = tv.iter().fold(0.0_f64, |m, v| m.max(*v));
    let scaled: Vec<f64> = tv.iter().map(|v| v / tv_max).collect();
    let adstock = mmm_features::transforms::geometric_adstock(&scaled, 0.6, 8, true);
    assert!(correlation(&awareness, &adstock) > 0.5);

    let roas = |run: &Path| -> serde_json::Value {
        let summary = read_json(&run.join("decide/summary.json"));
        summary["channels"]
            .as_array()
            .expect("channels")
            .iter()
            .map(|c| (c["channel"].as_str().unwrap_or("").to_string(), c.clone()))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let simulated = sim.join("data.csv");
    let mediated = dir.path().join("mediated");
    let o = mmm_run_with(&spec, &simulated, &mediated, &["--no-refits"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let fitted = roas(&mediated);
    let all = dir.path().join("all");
    let o = mmm_run_with(
        &fixture("mediated/spec_all_controls.toml"),
        &simulated,
        &all,
        &["--no-refits"],
    );
    // The misspecified fit may fail a gate; the exit code must say exactly that.
    let gated = read_json(&all.join("diagnose/diagnostics.json"))["not_for_decisions"] == true;
    let expected = if gated { 3 } else { 0 };
    assert_eq!(o.status.code(), Some(expected), "{}", stderr(&o));
    let biased = roas(&all);
    for c in ["tv", "video"] {
        let true_roas = truth[c]["roas"].as_f64().expect("roas");
        let got = &fitted[c];
        let (lo, hi) = (got["roas"]["lower"].as_f64(), got["roas"]["upper"].as_f64());
        assert!(
            lo <= Some(true_roas) && Some(true_roas) <= hi,
            "{c}: {got} vs {true_roas}"
        );
        let parts = got["roas_direct"]["mean"].as_f64().expect("direct")
            + got["roas_mediated"]["mean"].as_f64().expect("mediated");
        let total = got["roas"]["mean"].as_f64().expect("total");
        assert!(
            (parts - total).abs() < 1e-9 * total,
            "{c}: parts {parts} vs {total}"
        );
        // Controlling for awareness blocks the mediated part: well under the truth.
        let blocked = biased[c]["roas"]["mean"].as_f64().expect("biased");
        assert!(blocked < 0.75 * true_roas, "{c}: {blocked} vs {true_roas}");
        assert!(biased[c].get("roas_mediated").is_none());
    }
    // The mediated report splits the effects; the all-controls run names awareness as moving
    // with TV and Video spend.
    let html = std::fs::read_to_string(mediated.join("report/report.html")).expect("report");
    assert!(html.contains("id=\"mediation-table\""));
    let checks = read_json(&all.join("diagnose/causal_checks.json"));
    let flagged = checks["notes"]
        .as_array()
        .into_iter()
        .chain(checks["warnings"].as_array())
        .flatten()
        .filter_map(|n| n.as_str())
        .any(|n| n.contains("'awareness'") && n.contains("tv") && n.contains("video"));
    assert!(flagged, "{checks}");
}
