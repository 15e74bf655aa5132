//! `mmm simulate`: data drawn at known parameters, the truth it reports checked against an
//! independent computation, reproducibility, count targets, and refusals by name.

use std::path::{Path, PathBuf};

use mmm_features::transforms::{geometric_adstock, logistic_saturation};

use crate::{fixture, mmm_os, stderr};

fn simulate(
    dir: &Path,
    spec: &Path,
    data: &Path,
    truth: &Path,
    seed: &str,
) -> std::process::Output {
    crate::mmm_simulate(dir, spec, data, truth, Some(seed))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("json")
}

#[test]
fn simulated_truth_matches_an_independent_computation_and_refits() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (spec, data) = (
        fixture("pymc_example/spec.toml"),
        fixture("pymc_example/data.csv"),
    );
    let truth = fixture("recovery/truth_normal.toml");
    let out_a = dir.path().join("a");
    let o = simulate(&out_a, &spec, &data, &truth, "3");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = read_json(&out_a.join("truth.json"));
    assert_eq!(report["likelihood"], "normal");
    assert_eq!(report["drawn_from_prior"].as_array().map(Vec::len), Some(0));
    assert_eq!(report["parameters"]["beta[x1]"], 0.36);

    // Independent ROAS: beta * sum_t logistic(lam * adstock(x / x_scale)) * y_scale / spend over
    // the training window (the whole data: the fixture spec has no holdout).
    let x_all = |c: &str| crate::csv_column(&data, c);
    let y_scale = crate::csv_column(&data, "y")
        .iter()
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    assert_eq!(report["target_scale"].as_f64(), Some(y_scale));
    for (c, alpha, lam, beta) in [("x1", 0.4, 4.0, 0.36), ("x2", 0.2, 3.0, 0.27)] {
        let x = x_all(c);
        let x_scale = x.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        let scaled: Vec<f64> = x.iter().map(|v| v / x_scale).collect();
        let adstock = geometric_adstock(&scaled, alpha, 8, true);
        let contribution: f64 = adstock
            .iter()
            .map(|a| beta * logistic_saturation(*a, lam))
            .sum::<f64>()
            * y_scale;
        let spend: f64 = x.iter().sum();
        let got = &report["channels"][c];
        let rel = |a: f64, b: f64| (a - b).abs() / b.abs();
        assert!(
            rel(
                got["contribution"].as_f64().expect("contribution"),
                contribution
            ) < 1e-9,
            "{c}: {got}"
        );
        assert!(
            rel(got["roas"].as_f64().expect("roas"), contribution / spend) < 1e-9,
            "{c}: {got}"
        );
    }

    let y: Vec<f64> = crate::csv_column(&out_a.join("data.csv"), "y");
    let y_obs = crate::csv_column(&data, "y");
    assert_eq!(y.len(), y_obs.len());
    assert_ne!(y, y_obs);

    // Same seed: byte-identical; another seed: another draw.
    let out_b = dir.path().join("b");
    let o = simulate(&out_b, &spec, &data, &truth, "3");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let bytes = |p: PathBuf| std::fs::read(p).expect("read");
    assert_eq!(bytes(out_a.join("data.csv")), bytes(out_b.join("data.csv")));
    let out_c = dir.path().join("c");
    let o = simulate(&out_c, &spec, &data, &truth, "4");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_ne!(bytes(out_a.join("data.csv")), bytes(out_c.join("data.csv")));

    // The simulated data set passes the contract and the spec validates against it.
    let o = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        out_a.join("data.csv").as_os_str(),
        "--out".as_ref(),
        dir.path().join("v").as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn count_likelihoods_simulate_integer_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("nb");
    let o = simulate(
        &out,
        &fixture("likelihoods/spec_negative_binomial.toml"),
        &fixture("likelihoods/counts.csv"),
        &fixture("recovery/truth_negative_binomial.toml"),
        "9",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let y = crate::csv_column(&out.join("data.csv"), "y");
    assert!(y.iter().all(|v| *v >= 0.0 && v.fract() == 0.0));
    let report = read_json(&out.join("truth.json"));
    assert_eq!(report["likelihood"], "negative_binomial");
    for c in ["x1", "x2"] {
        let roas = report["channels"][c]["roas"].as_f64().expect("roas");
        assert!(roas.is_finite() && roas > 0.0, "{c}: {roas}");
    }
}

#[test]
fn bad_truth_files_are_refused_by_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        ("[parameters]\n\"beta[x9]\" = 0.3\n", "beta[x9]"),
        (
            "[parameters]\n\"adstock_alpha[x1]\" = 1.5\n",
            "adstock_alpha[x1]",
        ),
        ("[parameters]\n\"beta[x1]\" = -0.2\n", "beta[x1]"),
        ("[parameters]\nsigma = \"big\"\n", "truth.toml"),
        ("[parametres]\nsigma = 0.1\n", "parametres"),
    ];
    for (k, (text, needle)) in cases.iter().enumerate() {
        let truth = dir.path().join("truth.toml");
        std::fs::write(&truth, text).expect("write");
        let out = dir.path().join(format!("out{k}"));
        let o = simulate(
            &out,
            &fixture("pymc_example/spec.toml"),
            &fixture("pymc_example/data.csv"),
            &truth,
            "1",
        );
        assert_eq!(o.status.code(), Some(1), "{text}");
        assert!(stderr(&o).contains(needle), "{text}: {}", stderr(&o));
        assert!(!out.join("data.csv").exists() && !out.join("truth.json").exists());
    }
}

/// The fixture spec with the `t` control replaced by a piecewise-linear trend, one event and a
/// level shift; a short sampler.
fn baseline_spec(dir: &Path) -> PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml")).expect("spec");
    let control_t =
        "[[controls]]\nname = \"t\"\nprior = { family = \"normal\", mu = 0.0, sigma = 2.0 }\n";
    assert!(text.contains(control_t));
    let text = text
        .replace(control_t, "")
        .replace("tune = 1000", "tune = 500")
        .replace("draws = 1000", "draws = 500")
        + "\n[trend]\nkind = \"piecewise_linear\"\nchangepoints = 2\n\
           \n[[events]]\nname = \"black_friday\"\n\
           dates = [\"2018-11-23\", \"2019-11-29\", \"2020-11-27\"]\nlag = 1\n\
           \n[[level_shifts]]\ndate = \"2020-03-16\"\n\
           \n[diagnose]\nbootstrap_replicates = 0\ncv_folds = 0\n";
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

#[test]
fn trend_events_and_level_shifts_are_recovered_from_simulated_data() {
    use mmm_core::columns::f64_column;
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = baseline_spec(dir.path());
    let truth_text = std::fs::read_to_string(fixture("recovery/truth_normal.toml"))
        .expect("truth")
        .replace("\"gamma_control[t]\" = 0.0006\n", "")
        + "\"gamma_trend[linear]\" = 0.12\n\"gamma_trend[cp_1]\" = -0.2\n\
           \"gamma_trend[cp_2]\" = 0.1\n\"gamma_event[black_friday]\" = 0.15\n\
           \"gamma_level_shift[2020-03-16]\" = -0.1\n";
    let truth = dir.path().join("truth.toml");
    std::fs::write(&truth, &truth_text).expect("write truth");
    let sim = dir.path().join("sim");
    let o = simulate(&sim, &spec, &fixture("pymc_example/data.csv"), &truth, "11");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = read_json(&sim.join("truth.json"));
    assert_eq!(report["drawn_from_prior"].as_array().map(Vec::len), Some(0));

    let run = dir.path().join("run");
    let o = crate::mmm_run(&spec, &sim.join("data.csv"), &run);
    crate::assert_exit(&o, 0);
    let path = run.join("fit/draws.parquet");
    let draws =
        mmm_core::read_parquet_bytes(std::fs::read(&path).expect("draws"), &path).expect("parquet");
    // Each coefficient's posterior mean lies within 4 posterior sds of the truth (a fixed-seed
    // check; a calibrated posterior misses by more than 4 sd with probability 6e-5).
    for (name, value) in [
        ("gamma_trend[linear]", 0.12),
        ("gamma_trend[cp_1]", -0.2),
        ("gamma_trend[cp_2]", 0.1),
        ("gamma_event[black_friday]", 0.15),
        ("gamma_level_shift[2020-03-16]", -0.1),
    ] {
        let v = f64_column(&draws, name, &path).expect(name);
        let (z, mean, sd) = crate::posterior_z(&v, value);
        assert!(
            z < 4.0,
            "{name}: posterior {mean:.4} +- {sd:.4}, truth {value}"
        );
    }
    // The decomposition shows the trend, the event and the shift as components.
    let dpath = run.join("decide/decomposition.parquet");
    let dec =
        mmm_core::read_parquet_bytes(std::fs::read(&dpath).expect("dec"), &dpath).expect("parquet");
    let comp = mmm_core::columns::string_column(&dec, "component", &dpath).expect("component");
    for c in [
        "trend",
        "event[black_friday]",
        "level_shift[2020-03-16]",
        "seasonality",
    ] {
        assert!(comp.iter().any(|x| x == c), "{c} missing");
    }
}

#[test]
fn a_local_level_is_recovered_from_simulated_data() {
    use mmm_core::columns::f64_column;
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(baseline_spec(dir.path())).expect("spec");
    let piecewise = "[trend]\nkind = \"piecewise_linear\"\nchangepoints = 2\n";
    assert!(text.contains(piecewise));
    let spec = dir.path().join("spec.toml");
    // The non-centered walk has a funnel where a step's data pin down sigma z_t; small
    // leapfrog steps (target_accept 0.99) cross it without divergences.
    let accept = "target_accept = 0.8 ";
    assert!(text.contains(accept));
    std::fs::write(
        &spec,
        text.replace(
            piecewise,
            "[trend]\nkind = \"local_level\"\n\
             level_sigma_prior = { family = \"half_normal\", sigma = 0.03 }\n",
        )
        .replace(accept, "target_accept = 0.99 ")
        // The full 4 x (1000 + 1000): the ESS gate needs it with 178 level steps.
        .replace("tune = 500", "tune = 1000")
        .replace("draws = 500", "draws = 1000"),
    )
    .expect("write spec");
    // The steps z_t are drawn from their standard-normal prior with the truth's seed.
    let truth_text = std::fs::read_to_string(fixture("recovery/truth_normal.toml"))
        .expect("truth")
        .replace("\"gamma_control[t]\" = 0.0006\n", "")
        + "\"gamma_event[black_friday]\" = 0.15\n\
           \"gamma_level_shift[2020-03-16]\" = -0.1\n\"level_sigma\" = 0.02\n";
    let truth = dir.path().join("truth.toml");
    std::fs::write(&truth, &truth_text).expect("write truth");
    let sim = dir.path().join("sim");
    let o = simulate(&sim, &spec, &fixture("pymc_example/data.csv"), &truth, "4");
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let report = read_json(&sim.join("truth.json"));
    let params = report["parameters"].as_object().expect("parameters");
    let value = |name: &str| params[name].as_f64().expect(name);
    let steps: Vec<String> = params
        .keys()
        .filter(|k| k.starts_with("level_step["))
        .cloned()
        .collect();
    let nt = report["train_periods"].as_u64().expect("train_periods") as usize;
    assert_eq!(steps.len(), nt - 1);

    let run = dir.path().join("run");
    let o = crate::mmm_run(&spec, &sim.join("data.csv"), &run);
    // Every gate passes: no divergences, R-hat and ESS within the spec's thresholds.
    let gates = read_json(&run.join("diagnose/diagnostics.json"))["gates"].clone();
    assert_eq!(o.status.code(), Some(0), "{gates:#}");
    let path = run.join("fit/draws.parquet");
    let draws =
        mmm_core::read_parquet_bytes(std::fs::read(&path).expect("draws"), &path).expect("parquet");
    let column = |name: &str| f64_column(&draws, name, &path).expect(name);
    let sigma = column("level_sigma");
    let icpt = column("intercept");
    let z: Vec<Vec<f64>> = steps.iter().map(|s| column(s)).collect();
    let within = crate::posterior_z;
    let (k, mean, sd) = within(&sigma, 0.02);
    assert!(
        k < 4.0,
        "level_sigma: posterior {mean:.4} +- {sd:.4}, truth 0.02"
    );
    // The level the intercept starts, period by period (steps are in date order): the
    // posterior of intercept + level_t holds the truth within 4 posterior sds in every period.
    let (mut walk, mut true_walk) = (vec![0.0; sigma.len()], 0.0);
    let mut worst = 0.0f64;
    for t in 0..nt {
        if t > 0 {
            true_walk += value(&steps[t - 1]);
            for (w, zt) in walk.iter_mut().zip(&z[t - 1]) {
                *w += zt;
            }
        }
        let level: Vec<f64> = (0..sigma.len())
            .map(|d| icpt[d] + sigma[d] * walk[d])
            .collect();
        let truth = value("intercept") + 0.02 * true_walk;
        let (k, mean, sd) = within(&level, truth);
        assert!(
            k < 4.0,
            "period {t}: level {mean:.4} +- {sd:.4}, truth {truth:.4}"
        );
        worst = worst.max(k);
    }
    eprintln!("largest standardized level error over {nt} periods: {worst:.2}");
    let dpath = run.join("decide/decomposition.parquet");
    let dec =
        mmm_core::read_parquet_bytes(std::fs::read(&dpath).expect("dec"), &dpath).expect("parquet");
    let comp = mmm_core::columns::string_column(&dec, "component", &dpath).expect("component");
    assert!(comp.iter().any(|x| x == "local_level"));
    // The report sums the steps up in one row instead of 178.
    let report = std::fs::read_to_string(run.join("report/report.html")).expect("report");
    assert!(report.contains("id=\"level-steps\"") && report.contains("178 random-walk steps"));
    assert_eq!(report.matches("level_step[").count(), 1);
}
