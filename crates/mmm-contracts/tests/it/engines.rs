//! The ingestion queries give the same validated table on every engine: the built-in one and
//! Ballista (a scheduler and an executor started in this process). Without the `ballista`
//! feature, asking for Ballista is a clear error.

use mmm_contracts::{Inputs, SqlEngine};
use mmm_core::spec::LoadedSpec;

use crate::repo;

/// Validate `data` under `spec` on `engine` into `out`; the table and the contract report.
#[cfg(feature = "ballista")]
fn validate(
    spec: &str,
    data: &str,
    engine: SqlEngine,
    out: &std::path::Path,
) -> (Vec<u8>, Vec<u8>) {
    let spec = LoadedSpec::load(&repo().join("fixtures/ingest").join(spec)).expect("spec");
    let inputs = Inputs {
        data: repo().join("fixtures/ingest").join(data),
        campaign_map: Some(repo().join("fixtures/ingest/campaign_map.csv")),
        sql_engine: engine,
        ..Inputs::default()
    };
    mmm_contracts::run_with(&spec, &inputs, out, true).expect("validate");
    (
        std::fs::read(out.join("table.parquet")).expect("table"),
        std::fs::read(out.join("contract.json")).expect("contract"),
    )
}

#[test]
fn engine_names_parse() {
    assert_eq!("local".parse(), Ok(SqlEngine::Local));
    assert_eq!("ballista".parse(), Ok(SqlEngine::BallistaStandalone));
    assert_eq!(
        "df://scheduler:50050".parse(),
        Ok(SqlEngine::BallistaRemote("df://scheduler:50050".into()))
    );
    assert!("spark".parse::<SqlEngine>().is_err());
}

#[cfg(not(feature = "ballista"))]
#[test]
fn ballista_without_the_feature_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec =
        LoadedSpec::load(&repo().join("fixtures/ingest/national_long.spec.toml")).expect("spec");
    let inputs = Inputs {
        data: repo().join("fixtures/ingest/national_long.csv"),
        campaign_map: Some(repo().join("fixtures/ingest/campaign_map.csv")),
        sql_engine: SqlEngine::BallistaStandalone,
        ..Inputs::default()
    };
    let err = mmm_contracts::run_with(&spec, &inputs, dir.path(), true)
        .expect_err("no Ballista in this build")
        .to_string();
    assert!(err.contains("--features ballista"), "{err}");
    assert!(!dir.path().join("table.parquet").exists());
}

#[cfg(feature = "ballista")]
#[test]
fn ballista_gives_the_single_node_tables_byte_for_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A long export (SQL pivot to wide) and a daily geo panel (SQL aggregation to weeks).
    for (spec, data) in [
        ("national_long.spec.toml", "national_long.csv"),
        ("geo_daily.spec.toml", "geo_daily.csv"),
    ] {
        let local = validate(spec, data, SqlEngine::Local, &dir.path().join("local"));
        let distributed = validate(
            spec,
            data,
            SqlEngine::BallistaStandalone,
            &dir.path().join("ballista"),
        );
        assert!(!local.0.is_empty());
        assert!(local.0 == distributed.0, "{data}: table.parquet differs");
        assert!(local.1 == distributed.1, "{data}: contract.json differs");
    }
}
