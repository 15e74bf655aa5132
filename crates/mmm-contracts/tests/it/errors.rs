//! Typed errors keep their source: an unreadable input's reader error and a failed table
//! build's SQL or Arrow error stay reachable through `source()`, and the messages read as
//! before.

use std::error::Error;
use std::path::Path;

use mmm_contracts::{ContractError, ReadError, read_mapping, read_table, read_table_bytes};

use crate::repo;

/// The error's causes, outermost first (the error itself not included).
fn causes<'a>(e: &'a (dyn Error + 'static)) -> Vec<&'a (dyn Error + 'static)> {
    let mut out = Vec::new();
    let mut next = e.source();
    while let Some(c) = next {
        out.push(c);
        next = c.source();
    }
    out
}

#[test]
fn a_malformed_csv_keeps_the_parsers_error() {
    let path = repo().join("fixtures/bad/malformed.csv");
    let err = read_table(&path).expect_err("ragged row");
    let text = err.to_string();
    assert!(
        text.starts_with(&format!("{}: malformed CSV at line 3: ", path.display())),
        "{text}"
    );
    assert!(err.rejects_input());
    let ContractError::Unreadable {
        reason: ReadError::MalformedCsv { line, .. },
        ..
    } = &err
    else {
        panic!("not a malformed CSV: {err:?}");
    };
    assert_eq!(*line, Some(3));
    let chain = causes(&err);
    assert!(chain.iter().any(|c| c.is::<csv::Error>()), "{err:?}");
}

#[test]
fn a_corrupt_parquet_file_keeps_the_decoders_error() {
    let err = read_table_bytes(b"PAR1 this is not parquet".to_vec(), Path::new("x.parquet"))
        .expect_err("corrupt");
    let text = err.to_string();
    assert!(
        text.starts_with("x.parquet: corrupt or not a Parquet file"),
        "{text}"
    );
    assert!(err.rejects_input());
    let chain = causes(&err);
    assert!(
        chain
            .iter()
            .any(|c| c.is::<mmm_core::error::ParquetFailure>()),
        "{err:?}"
    );
}

#[test]
fn a_missing_file_keeps_the_io_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("missing.csv");
    let err = read_table(&path).expect_err("missing");
    assert!(err.rejects_input());
    let io = causes(&err)
        .into_iter()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .expect("io error in the chain");
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    assert_eq!(err.to_string(), format!("{}: {io}", path.display()));
}

#[test]
fn mapping_errors_read_as_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("map.csv");
    std::fs::write(&path, "campaign,channel\na,tv\nb,radio\na,search\n").expect("write");
    let err = read_mapping(&path).expect_err("conflict");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: row 3: campaign 'a' is mapped to both 'tv' and 'search'",
            path.display()
        )
    );
    assert!(err.rejects_input());

    std::fs::write(&path, "campaign,medium\na,tv\n").expect("write");
    let err = read_mapping(&path).expect_err("no channel column");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: mapping file needs a 'channel' column (columns present: campaign, medium)",
            path.display()
        )
    );
}

#[cfg(not(feature = "ballista"))]
#[test]
fn a_failed_table_build_is_internal_and_keeps_the_sql_error() {
    use mmm_contracts::{Inputs, SqlEngine, SqlError, TableError};

    let dir = tempfile::tempdir().expect("tempdir");
    let spec =
        mmm_core::spec::LoadedSpec::load(&repo().join("fixtures/ingest/national_long.spec.toml"))
            .expect("spec");
    let data = repo().join("fixtures/ingest/national_long.csv");
    let inputs = Inputs {
        data: data.clone(),
        campaign_map: Some(repo().join("fixtures/ingest/campaign_map.csv")),
        sql_engine: SqlEngine::BallistaStandalone,
        ..Inputs::default()
    };
    let err = mmm_contracts::run_with(&spec, &inputs, dir.path(), true).expect_err("no Ballista");
    assert!(
        !err.rejects_input(),
        "an internal error, not rejected input"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "{}: this build has no Ballista support (build mmm with `--features ballista`)",
            data.display()
        )
    );
    assert!(
        matches!(
            &err,
            ContractError::Internal {
                source: TableError::Sql(SqlError::NoBallista),
                ..
            }
        ),
        "{err:?}"
    );
    assert!(causes(&err).iter().any(|c| c.is::<SqlError>()), "{err:?}");
}
