//! Model checks through the binary: refit checks and LOO in diagnostics.json, and the
//! `mmm compare` guardrail failing on a flipped coefficient and a moved ROI.

use std::path::{Path, PathBuf};

use crate::{assert_exit, copy_dir, fixture, mmm_os, mmm_run, spec_with, stderr};

fn json(path: &Path) -> serde_json::Value {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&bytes).expect("json")
}

#[test]
fn diagnostics_hold_coverage_loo_prior_posterior_sign_stability_and_cv() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = spec_with(dir.path(), 400, 400, 3);
    let text = std::fs::read_to_string(&spec).expect("spec").replace(
        "bootstrap_replicates = 0\ncv_folds = 0",
        "bootstrap_replicates = 12\ncv_folds = 3\nrefit_tune = 200\nrefit_draws = 200",
    );
    std::fs::write(&spec, text).expect("spec");
    let out = dir.path().join("run");
    assert_exit(&mmm_run(&spec, &fixture("pymc_example/data.csv"), &out), 0);
    let d = json(&out.join("diagnose/diagnostics.json"));
    let coverage = d["predictive"]["coverage"].as_array().expect("coverage");
    assert_eq!(coverage.len(), 3, "train only: the fixture has no holdout");
    for row in coverage {
        let nominal = row["nominal"].as_f64().expect("nominal");
        let observed = row["observed"].as_f64().expect("observed");
        // 179 weeks: binomial sd <= 0.037; a well-specified model is within 4 sd.
        assert!(
            (observed - nominal).abs() < 0.15,
            "coverage {observed} at {nominal}"
        );
    }
    let loo = &d["loo"];
    for key in [
        "elpd_loo",
        "se",
        "p_loo",
        "pareto_k_max",
        "elpd_waic",
        "waic_se",
        "p_waic",
    ] {
        assert!(
            loo[key].as_f64().is_some_and(f64::is_finite),
            "loo.{key}: {}",
            loo[key]
        );
    }
    // p_loo is near the number of parameters (15) for a well-identified regression.
    let p_loo = loo["p_loo"].as_f64().expect("p_loo");
    assert!(p_loo > 5.0 && p_loo < 30.0, "p_loo {p_loo}");
    assert_eq!(d["prior_posterior"].as_array().expect("pp").len(), 15);
    let signs = &d["sign_stability"];
    assert_eq!(signs["replicates"], 12);
    assert_eq!(signs["completed"], 12);
    let rows = signs["rows"].as_array().expect("rows");
    let names: Vec<&str> = rows
        .iter()
        .filter_map(|r| r["coefficient"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "beta[x1]",
            "beta[x2]",
            "gamma_control[event_1]",
            "gamma_control[event_2]",
            "gamma_control[t]"
        ]
    );
    let cv = &d["cross_validation"];
    assert_eq!(cv["folds"], 3);
    assert_eq!(cv["rows"].as_array().expect("cv rows").len(), 3);
    let mape = cv["summary"]["mean_mape"].as_f64().expect("mape");
    assert!(mape > 0.0 && mape < 50.0, "cv mape {mape}");
}

/// The fixture data with event_1 negated (its coefficient must flip) and x1's spend doubled
/// (same scaled design, so the same contribution over twice the spend: ROAS halves).
fn flipped_data(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/data.csv")).expect("data");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let cols: Vec<&str> = header.split(',').collect();
    let x1 = cols.iter().position(|c| *c == "x1").expect("x1");
    let ev = cols.iter().position(|c| *c == "event_1").expect("event_1");
    let mut out = vec![header.to_string()];
    for line in lines {
        let mut f: Vec<String> = line.split(',').map(String::from).collect();
        f[x1] = format!("{}", 2.0 * f[x1].parse::<f64>().expect("x1 value"));
        f[ev] = format!("{}", -f[ev].parse::<f64>().expect("event value"));
        out.push(f.join(","));
    }
    let path = dir.join("flipped.csv");
    std::fs::write(&path, out.join("\n") + "\n").expect("write");
    path
}

#[test]
fn compare_passes_a_rerun_and_fails_a_flipped_coefficient_and_moved_roi() {
    let dir = tempfile::tempdir().expect("tmp");
    let spec = spec_with(dir.path(), 400, 400, 4);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert_exit(&mmm_run(&spec, &fixture("pymc_example/data.csv"), &a), 0);
    assert_exit(&mmm_run(&spec, &flipped_data(dir.path()), &b), 3);

    let same = mmm_os(["compare".as_ref(), a.as_os_str(), a.as_os_str()]);
    assert_eq!(same.status.code(), Some(0), "{}", stderr(&same));

    let out = dir.path().join("cmp");
    let o = mmm_os([
        "compare".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let c = json(&out.join("compare.json"));
    let r = &c["refreshes"][0];
    let reasons: Vec<&str> = r["guardrail"]["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        reasons
            .iter()
            .any(|s| s.starts_with("gamma_control[event_1]: sign flipped")),
        "{reasons:?}"
    );
    assert!(
        reasons
            .iter()
            .any(|s| s.starts_with("channel x1: mean ROAS moved")),
        "{reasons:?}"
    );
    assert!(
        !reasons.iter().any(|s| s.contains("x2")),
        "x2 did not change: {reasons:?}"
    );
    let x1 = r["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .find(|c| c["channel"] == "x1")
        .expect("x1");
    // Same model on the same scaled design: ROAS halves up to Monte Carlo error of two fits.
    let change = x1["roas_relative_change"].as_f64().expect("change");
    assert!((change + 0.5).abs() < 0.05, "x1 ROAS change {change}");
    // Both runs explain the same target: ranked by LOO, with a paired SE.
    let ranking = c["ranking"].as_array().expect("ranking");
    assert_eq!(ranking.len(), 2);
    assert_eq!(ranking[0]["elpd_diff"], 0.0);
    assert!(ranking[1]["se_diff"].as_f64().expect("se_diff") >= 0.0);
    assert!(r["drift"]["overlapping_weeks"] == 179);

    // The same refresh through `mmm run --previous-run`: recorded as b/compare, refresh drift
    // of the table reported by validate, exit code 3, and shown on top of b's report.
    let o = mmm_os([
        "run".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        flipped_data(dir.path()).as_os_str(),
        "--out".as_ref(),
        b.as_os_str(),
        "--previous-run".as_ref(),
        a.as_os_str(),
        "-q".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(3), "{}", stderr(&o));
    let recorded = json(&b.join("compare/compare.json"));
    assert_eq!(recorded["refreshes"], c["refreshes"]);
    let manifest = json(&b.join("compare/manifest.json"));
    assert_eq!(manifest["stage"], "compare");
    let contract = json(&b.join("validate/contract.json"));
    let rules: Vec<&str> = contract["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["rule"].as_str())
        .collect();
    assert!(rules.contains(&"changed_history"), "{rules:?}");
    let html = std::fs::read_to_string(b.join("report/report.html")).expect("report");
    let banner = html
        .find("id=\"refresh-status\"")
        .expect("guardrail banner");
    let section = html.find("id=\"refresh\"").expect("refresh section");
    assert!(banner < html.find("id=\"summary\"").expect("summary") && banner < section);
    assert!(html[section..].contains("gamma_control[event_1]"));

    // Audit: every hash of run a verifies; a changed output is named and gives exit code 4.
    let o = mmm_os(["inspect".as_ref(), a.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("every output and input hash verified"),
        "{text}"
    );
    assert!(text.contains("seed 4"), "the fit's seed is shown: {text}");
    let tampered = dir.path().join("tampered");
    copy_dir(&a, &tampered);
    let roi = tampered.join("decide/roi.parquet");
    let mut bytes = std::fs::read(&roi).expect("roi");
    bytes.push(0);
    std::fs::write(&roi, bytes).expect("write");
    let o = mmm_os(["inspect".as_ref(), tampered.as_os_str()]);
    assert_eq!(o.status.code(), Some(4), "{}", stderr(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("output roi.parquet is Changed"), "{text}");
    std::fs::remove_dir_all(&tampered).expect("clean");

    // One flipped bit in any artifact of the run, or in its frozen spec, is caught.
    copy_dir(&a, &tampered);
    let mut artifacts = Vec::new();
    for stage in std::fs::read_dir(&tampered).expect("run").flatten() {
        if stage.path().is_dir() {
            for f in std::fs::read_dir(stage.path()).expect("stage").flatten() {
                if f.file_name() != "manifest.json" {
                    artifacts.push(f.path());
                }
            }
        } else {
            artifacts.push(stage.path());
        }
    }
    assert!(artifacts.len() >= 15, "{artifacts:?}");
    for path in &artifacts {
        let original = std::fs::read(path).expect("read");
        let mut flipped = original.clone();
        let mid = flipped.len() / 2;
        flipped[mid] ^= 0x01;
        std::fs::write(path, &flipped).expect("write");
        let o = mmm_os(["inspect".as_ref(), tampered.as_os_str()]);
        assert_eq!(
            o.status.code(),
            Some(4),
            "a flipped bit in {} went unnoticed: {}",
            path.display(),
            String::from_utf8_lossy(&o.stdout)
        );
        std::fs::write(path, &original).expect("restore");
    }
    let o = mmm_os(["inspect".as_ref(), tampered.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "restored run verifies again");

    // Diff a -> b: same spec, every week's x1 and event_1 changed, results as compare.
    let o = mmm_os([
        "diff".as_ref(),
        a.as_os_str(),
        b.as_os_str(),
        "--json".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let d: serde_json::Value = serde_json::from_slice(&o.stdout).expect("diff json");
    assert_eq!(d["spec_changes"].as_array().map(Vec::len), Some(0), "{d}");
    assert_eq!(d["data"]["rows_added"], 0);
    let changed = |col: &str| {
        d["data"]["columns"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["column"] == col))
            .and_then(|c| c["changed_periods"].as_u64())
    };
    assert_eq!(changed("x1"), Some(179));
    assert_eq!(changed("y"), Some(0));
    assert_eq!(d["results"]["channels"], c["refreshes"][0]["channels"]);
}
