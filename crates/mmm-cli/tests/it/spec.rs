//! `mmm spec check` and the schema files.

use crate::{mmm, mmm_os, repo, stderr};

#[test]
fn fixture_spec_is_valid() {
    let out = mmm_os([
        "spec".as_ref(),
        "check".as_ref(),
        crate::fixture("pymc_example/spec.toml").as_os_str(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("15 parameters"));
}

#[test]
fn spec_check_lists_every_problem_with_its_key_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("bad.toml");
    let text = std::fs::read_to_string(crate::fixture("pymc_example/spec.toml"))
        .expect("spec")
        .replacen("l_max = 8", "l_max = 0", 1)
        .replacen("alpha = 1.0, beta = 3.0", "alpha = -1.0, beta = 3.0", 1)
        .replace("chains = 4", "chains = 0")
        .replacen(
            "family = \"half_normal\", sigma = 2.0 } }",
            "family = \"normal\", mu = 0.0, sigma = 2.0 } }",
            1,
        );
    std::fs::write(&path, text).expect("write");
    let out = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    for key in [
        "channels[0].adstock.l_max",
        "channels[0].adstock.alpha_prior.alpha",
        "channels[0].saturation.beta_prior.family",
        "sampler.chains",
    ] {
        assert!(stdout.contains(key), "missing {key} in:\n{stdout}");
    }
    assert_eq!(stdout.lines().count(), 4, "{stdout}");
    assert!(stderr(&out).contains("4 problem(s)"), "{}", stderr(&out));
}

#[test]
fn unknown_keys_and_syntax_errors_are_reported_with_a_location() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("typo.toml");
    let text = std::fs::read_to_string(crate::fixture("pymc_example/spec.toml"))
        .expect("spec")
        .replace("max_tree_depth", "max_treedepth");
    std::fs::write(&path, text).expect("write");
    let out = mmm_os(["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("line ") && stdout.contains("max_treedepth"),
        "{stdout}"
    );
}

#[test]
fn checked_in_schemas_are_current() {
    let dir = repo().join("schemas");
    let out = mmm(&["schemas", "--check", "--dir", dir.to_str().expect("utf8")]);
    assert!(
        out.status.success(),
        "schemas are stale; run `cargo xtask schemas`: {}",
        stderr(&out)
    );
}
