//! Documented defaults: a spec of the data section and channel names fits the fixture to the
//! same posterior, draw for draw, as the full spec with those defaults written out; and
//! `mmm spec check` lists every problem of a file in one pass.

use std::path::Path;

use crate::{fixture, mmm_os, stderr, validate_and_features};

/// The data section and the channel names: everything else takes its default.
const MINIMAL: &str = "\
[data]
date_column = \"date_week\"
target = \"y\"
[[channels]]
name = \"x1\"
[[channels]]
name = \"x2\"
";

/// The same model with every default that shapes the fit written out (docs/spec.md).
const FULL: &str = r#"
[model]
name = "model"
description = ""

[data]
date_column = "date_week"
target = "y"
period_days = 7
layout = "wide"

[[channels]]
name = "x1"
expected_sign = "positive"
order = "adstock_first"
adstock = { kind = "geometric", l_max = 8, normalize = true, alpha_prior = { family = "beta", alpha = 1.0, beta = 3.0 } }
saturation = { kind = "logistic", lam_prior = { family = "gamma", shape = 3.0, rate = 1.0 }, beta_prior = { family = "half_normal", sigma = 2.0 } }

[[channels]]
name = "x2"
expected_sign = "positive"
order = "adstock_first"
adstock = { kind = "geometric", l_max = 8, normalize = true, alpha_prior = { family = "beta", alpha = 1.0, beta = 3.0 } }
saturation = { kind = "logistic", lam_prior = { family = "gamma", shape = 3.0, rate = 1.0 }, beta_prior = { family = "half_normal", sigma = 2.0 } }

[intercept]
prior = { family = "normal", mu = 0.0, sigma = 2.0 }

[seasonality]
fourier_order = 0
period_days = 365.25
prior = { family = "laplace", mu = 0.0, b = 1.0 }

[trend]
kind = "none"

[likelihood]
family = "normal"
sigma_prior = { family = "half_normal", sigma = 2.0 }

[holdout]
weeks = 0

[sampler]
chains = 4
tune = 1000
draws = 1000
seed = 0
target_accept = 0.8
max_tree_depth = 10
mass_matrix = "diag"
init = "uniform"
init_jitter = 0.1
"#;

/// validate, features and fit `text` on the fixture's data into `dir`; the draws' bytes.
fn fit_draws(dir: &Path, text: &str) -> Vec<u8> {
    let spec = dir.join("spec.toml");
    std::fs::write(&spec, text).expect("write spec");
    let data = fixture("pymc_example/data.csv");
    let o = validate_and_features(&spec, &data, None, dir);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let o = mmm_os([
        "fit".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--features".as_ref(),
        dir.join("features").as_os_str(),
        "--out".as_ref(),
        dir.join("fit").as_os_str(),
        "--quiet".as_ref(),
    ] as [&std::ffi::OsStr; 8]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::read(dir.join("fit/draws.parquet")).expect("draws")
}

#[test]
fn a_spec_of_data_and_channel_names_fits_like_the_full_spec() {
    assert!(MINIMAL.lines().count() <= 8, "the minimal spec grew");
    let dir = tempfile::tempdir().expect("tempdir");
    let (a, b) = (dir.path().join("minimal"), dir.path().join("full"));
    for d in [&a, &b] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let minimal = fit_draws(&a, MINIMAL);
    let full = fit_draws(&b, FULL);
    assert!(
        minimal == full,
        "the minimal and the full spec gave different draws ({} vs {} bytes)",
        minimal.len(),
        full.len()
    );
    let batch = crate::parquet(&a.join("fit/draws.parquet"));
    assert_eq!(batch.num_rows(), 4000, "4 chains x 1000 draws by default");
    let names: Vec<String> = batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    for p in [
        "adstock_alpha[x1]",
        "saturation_lam[x2]",
        "beta[x1]",
        "intercept",
    ] {
        assert!(names.iter().any(|n| n == p), "{p} missing from {names:?}");
    }
}

#[test]
fn the_minimal_spec_checks_clean() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spec.toml");
    std::fs::write(&path, MINIMAL).expect("write");
    let o = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    // intercept, sigma, and per channel alpha, lam, beta.
    assert!(
        stdout.contains("2 channels, 0 controls, 8 parameters"),
        "{stdout}"
    );
    // A control and seasonality by name or order alone take their default priors.
    let text = format!("{MINIMAL}[[controls]]\nname = \"t\"\n[seasonality]\nfourier_order = 2\n");
    std::fs::write(&path, text).expect("write");
    let o = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("1 controls, 13 parameters"), "{stdout}");
}

#[test]
fn spec_check_lists_missing_unknown_and_wrong_keys_in_one_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    let text = "\
[data]
date_column = \"date_week\"

[[channels]]
name = \"x1\"
adstock = { kind = \"geometrc\", l_max = 8 }

[[channels]]
nme = \"x2\"

[sampler]
chains = \"4\"
max_treedepth = 10
";
    std::fs::write(&path, text).expect("write");
    let o = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for want in [
        "data.target: missing required key",
        "channels[0].adstock.kind: unknown kind \"geometrc\"; did you mean `geometric`? (line 6)",
        "channels[1].nme: unknown key; did you mean `name`? (line 9)",
        "channels[1].name: missing required key",
        "sampler.chains: expected an integer, found string (line 12)",
        "sampler.max_treedepth: unknown key; did you mean `max_tree_depth`? (line 13)",
    ] {
        assert!(stdout.contains(want), "missing {want:?} in:\n{stdout}");
    }
    assert_eq!(stdout.lines().count(), 6, "{stdout}");
    assert!(stderr(&o).contains("6 problem(s)"), "{}", stderr(&o));
    // Every line names the file.
    let name = path.display().to_string();
    assert!(stdout.lines().all(|l| l.starts_with(&name)), "{stdout}");
}

#[test]
fn unknown_keys_do_not_hide_semantic_problems() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    let text = format!("{MINIMAL}[sampler]\nchainz = 2\nchains = 0\n");
    std::fs::write(&path, text).expect("write");
    let o = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(o.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("sampler.chainz: unknown key; did you mean `chains`?"),
        "{stdout}"
    );
    assert!(stdout.contains("sampler.chains: must be"), "{stdout}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

#[test]
fn clap_suggests_the_subcommand_meant() {
    let o = mmm_os(["spec", "chek"]);
    assert_eq!(o.status.code(), Some(1), "usage errors exit 1");
    let err = stderr(&o);
    assert!(err.contains("similar") && err.contains("check"), "{err}");
    let o = mmm_os(["init", "--dta", "x.csv"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--data"), "{}", stderr(&o));
}
