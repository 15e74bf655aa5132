//! `mmm run` with non-default transforms on the PyMC example, and `mmm spec check` on them.

use std::path::Path;

use mmm_core::columns::{f64_column, string_column};

use crate::{fixture, mmm_os, stderr};

const GEOMETRIC_X: &str = "adstock = { kind = \"geometric\", l_max = 8, normalize = true, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }\nsaturation = { kind = \"logistic\", lam_prior = { family = \"gamma\", shape = 3.0, rate = 1.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }";

/// The fixture spec with channel x1 on Weibull-CDF adstock + Hill saturation and channel x2 on
/// geometric adstock + tanh saturation applied first; smaller sampler settings.
fn transforms_spec(dir: &Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml")).expect("spec");
    assert_eq!(
        text.matches(GEOMETRIC_X).count(),
        2,
        "fixture channels changed"
    );
    let x1 = "adstock = { kind = \"weibull_cdf\", l_max = 8, shape_prior = { family = \"gamma\", shape = 2.0, rate = 1.0 }, scale_prior = { family = \"gamma\", shape = 2.0, rate = 1.0 } }\nsaturation = { kind = \"hill\", k_prior = { family = \"gamma\", shape = 3.0, rate = 6.0 }, s_prior = { family = \"gamma\", shape = 3.0, rate = 2.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }";
    let x2 = "order = \"saturation_first\"\nadstock = { kind = \"geometric\", l_max = 8, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }\nsaturation = { kind = \"tanh\", c_prior = { family = \"gamma\", shape = 2.0, rate = 2.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }";
    let text = text
        .replacen(GEOMETRIC_X, x1, 1)
        .replacen(GEOMETRIC_X, x2, 1)
        + "\n[diagnose]\nbootstrap_replicates = 0\ncv_folds = 0\n";
    let text = text
        .replace("chains = 4", "chains = 2")
        .replace("tune = 1000", "tune = 400")
        .replace("draws = 1000", "draws = 300")
        .replace("seed = 42", "seed = 8");
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    path
}

#[test]
fn hill_weibull_and_saturation_first_run_end_to_end_on_the_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = transforms_spec(dir.path());
    let out = mmm_os(["spec".as_ref(), "check".as_ref(), spec.as_os_str()]);
    assert!(out.status.success(), "{}", stderr(&out));
    // 15 fixture parameters + a second adstock and a second saturation parameter on x1.
    assert!(String::from_utf8_lossy(&out.stdout).contains("17 parameters"));
    let run = dir.path().join("run");
    let out = crate::mmm_run(&spec, &fixture("pymc_example/data.csv"), &run);
    crate::assert_exit(&out, 3);
    let draws_path = run.join("fit/draws.parquet");
    let bytes = std::fs::read(&draws_path).expect("draws");
    let draws = mmm_core::read_parquet_bytes(bytes, &draws_path).expect("parquet");
    for name in [
        "adstock_shape[x1]",
        "adstock_scale[x1]",
        "saturation_k[x1]",
        "saturation_s[x1]",
        "beta[x1]",
        "adstock_alpha[x2]",
        "saturation_c[x2]",
        "beta[x2]",
    ] {
        let col = f64_column(&draws, name, &draws_path).expect(name);
        assert!(col.iter().all(|v| v.is_finite() && *v > 0.0), "{name}");
    }
    for file in [
        "decide/contributions.parquet",
        "decide/roi.parquet",
        "decide/curves.parquet",
    ] {
        let path = run.join(file);
        let bytes = std::fs::read(&path).expect(file);
        let batch = mmm_core::read_parquet_bytes(bytes, &path).expect("parquet");
        assert!(batch.num_rows() > 0, "{file}");
    }
    let roi_path = run.join("decide/roi.parquet");
    let roi = mmm_core::read_parquet_bytes(std::fs::read(&roi_path).expect("roi"), &roi_path)
        .expect("parquet");
    let metric = string_column(&roi, "metric", &roi_path).expect("metric");
    let mean = f64_column(&roi, "mean", &roi_path).expect("mean");
    let contributions: Vec<f64> = metric
        .iter()
        .zip(&mean)
        .filter(|(m, _)| m.as_str() == "contribution")
        .map(|(_, v)| *v)
        .collect();
    assert_eq!(contributions.len(), 2);
    assert!(
        contributions.iter().all(|m| m.is_finite() && *m > 0.0),
        "{contributions:?}"
    );
    assert!(run.join("report/report.html").exists());
    // The optimizer handles the S-shaped Hill curve (corner starts).
    crate::assert_optimize_runs(&run, &dir.path().join("optimize"), 0);
}

#[test]
fn spec_check_reports_transform_problems_with_key_paths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(fixture("pymc_example/spec.toml")).expect("spec");
    let x1 = "adstock = { kind = \"delayed_geometric\", l_max = 8, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 }, theta_prior = { family = \"half_normal\", sigma = 2.0 } }\nsaturation = { kind = \"hill\", k_prior = { family = \"beta\", alpha = 2.0, beta = 2.0 }, s_prior = { family = \"gamma\", shape = -1.0, rate = 1.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }";
    let x2 = "adstock = { kind = \"delayed_geometric\", l_max = 4, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 }, theta_prior = { family = \"truncated_normal\", mu = 1.0, sigma = 1.0, lower = 0.0, upper = 6.0 } }\nsaturation = { kind = \"tanh\", c_prior = { family = \"normal\", mu = 0.0, sigma = 1.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }";
    let text = text
        .replacen(GEOMETRIC_X, x1, 1)
        .replacen(GEOMETRIC_X, x2, 1);
    std::fs::write(&path, text).expect("write");
    let out = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for key in [
        "channels[0].adstock.theta_prior.family",
        "channels[0].saturation.k_prior.family",
        "channels[0].saturation.s_prior.shape",
        "channels[1].adstock.theta_prior:",
        "channels[1].saturation.c_prior.family",
    ] {
        assert!(stdout.contains(key), "missing {key} in:\n{stdout}");
    }
    assert_eq!(stdout.lines().count(), 5, "{stdout}");
    // An unknown kind or order is a parse error located in the file.
    for (from, to) in [
        ("kind = \"logistic\"", "kind = \"sigmoid\""),
        ("name = \"x1\"\n", "name = \"x1\"\norder = \"sideways\"\n"),
    ] {
        let text = std::fs::read_to_string(fixture("pymc_example/spec.toml"))
            .expect("spec")
            .replacen(from, to, 1);
        std::fs::write(&path, text).expect("write");
        let out = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
        assert_eq!(out.status.code(), Some(1), "{to}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        let bad = if to.contains("sigmoid") {
            "sigmoid"
        } else {
            "sideways"
        };
        assert!(
            stdout.contains("line ") && stdout.contains(bad),
            "{to}: {stdout}"
        );
    }
}
