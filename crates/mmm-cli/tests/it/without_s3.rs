//! The default build has no object storage (the `s3` feature): an `s3://` argument is refused
//! with exit 1, the location and the build command that adds it, before anything is written.
//! `cargo xtask test` runs the S3 round trip (storage.rs) in a build with the feature.

use crate::{assert_exit, fixture, mmm_os, stderr};

#[test]
fn s3_locations_are_refused_naming_the_feature_and_nothing_is_written() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("run");
    let spec = fixture("pymc_example/spec.toml");
    let data = fixture("pymc_example/data.csv");
    let cases: Vec<Vec<std::ffi::OsString>> = vec![
        // A remote input.
        vec![
            "run".into(),
            "--spec".into(),
            spec.clone().into(),
            "--data".into(),
            "s3://bucket/exports/data.csv".into(),
            "--out".into(),
            out.clone().into(),
        ],
        // A remote output.
        vec![
            "run".into(),
            "--spec".into(),
            spec.into(),
            "--data".into(),
            data.into(),
            "--out".into(),
            "s3://bucket/runs/one".into(),
        ],
        // A remote run to audit.
        vec!["inspect".into(), "s3://bucket/runs/one".into()],
    ];
    for args in cases {
        let o = mmm_os(&args);
        assert_exit(&o, 1);
        let err = stderr(&o);
        assert!(err.contains("s3://bucket/"), "{args:?}: {err}");
        assert!(
            err.contains("built without object storage") && err.contains("--features s3"),
            "{args:?}: {err}"
        );
        assert!(!out.exists(), "{args:?} wrote {}", out.display());
    }
}
