//! `mmm export --format zarr|netcdf`: the store's layout, and ArviZ opening it with the run's
//! own R-hat, ESS and PSIS-LOO (scripts/check_export_arviz.py, in the project's virtualenv).

use std::path::Path;
use std::process::Command;

use crate::{assert_exit, fixture, mmm_os, mmm_run_with, stderr};

/// The Python with ArviZ and zarr: `MMM_PYTHON` (set by `cargo xtask test` to the project's
/// .venv), else the repository's .venv when it has them.
fn arviz_python() -> Option<std::path::PathBuf> {
    let candidate = std::env::var_os("MMM_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| crate::repo().join(".venv/bin/python"));
    let ok = Command::new(&candidate)
        .args(["-c", "import arviz, zarr, xarray, h5netcdf"])
        .output()
        .is_ok_and(|o| o.status.success());
    ok.then_some(candidate)
}

/// The fixture run without refit checks into `dir/run`.
fn fixture_run(dir: &Path) -> std::path::PathBuf {
    let run = dir.join("run");
    let o = mmm_run_with(
        &fixture("pymc_example/spec.toml"),
        &fixture("pymc_example/data.csv"),
        &run,
        &["--no-refits"],
    );
    assert_exit(&o, 0);
    run
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("read")).expect("json")
}

#[test]
fn zarr_export_opens_in_arviz_and_matches_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = fixture_run(dir.path());
    let store = dir.path().join("idata.zarr");
    let o = mmm_os([
        "export".as_ref(),
        run.as_os_str(),
        "--out".as_ref(),
        store.as_os_str(),
    ]);
    assert_exit(&o, 0);

    // Layout: consolidated metadata naming every group, the posterior's beta over channels,
    // sample_stats only after warm-up (the fixture keeps 4 x 1000 of 4 x 2000 rows).
    let meta = json(&store.join(".zmetadata"));
    let keys = meta["metadata"].as_object().expect("metadata");
    for group in [
        "posterior",
        "sample_stats",
        "log_likelihood",
        "posterior_predictive",
        "observed_data",
        "constant_data",
        "prior",
        "prior_predictive",
    ] {
        assert!(keys.contains_key(&format!("{group}/.zgroup")), "{group}");
    }
    let beta = json(&store.join("posterior/beta/.zarray"));
    assert_eq!(beta["shape"], serde_json::json!([4, 1000, 2]));
    let dims = json(&store.join("posterior/beta/.zattrs"));
    assert_eq!(
        dims["_ARRAY_DIMENSIONS"],
        serde_json::json!(["chain", "draw", "channel"])
    );
    let chunk = std::fs::metadata(store.join("posterior/beta/0.0.0")).expect("chunk");
    assert_eq!(chunk.len(), 4 * 1000 * 2 * 8);
    let lp = json(&store.join("sample_stats/lp/.zarray"));
    assert_eq!(lp["shape"], serde_json::json!([4, 1000]));

    // An existing output is refused and left as it was.
    let o = mmm_os([
        "export".as_ref(),
        run.as_os_str(),
        "--out".as_ref(),
        store.as_os_str(),
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("idata.zarr"), "{}", stderr(&o));
    assert!(store.join(".zmetadata").exists());

    arviz_check(&store, &run);
}

/// scripts/check_export_arviz.py on `store` against `run`: required under `cargo xtask test`
/// (MMM_REQUIRE_ARVIZ), skipped with a note elsewhere when no such Python exists.
fn arviz_check(store: &Path, run: &Path) {
    match arviz_python() {
        Some(python) => {
            let check = Command::new(python)
                .arg(crate::repo().join("scripts/check_export_arviz.py"))
                .arg(store)
                .arg(run)
                .output()
                .expect("python starts");
            assert!(
                check.status.success(),
                "ArviZ check failed:\n{}{}",
                String::from_utf8_lossy(&check.stdout),
                stderr(&check)
            );
        }
        None => assert!(
            std::env::var_os("MMM_REQUIRE_ARVIZ").is_none(),
            "MMM_REQUIRE_ARVIZ is set but no Python with arviz, zarr and h5netcdf was found \
             (run scripts/install_test_services.sh)"
        ),
    }
}

#[test]
fn netcdf_export_opens_in_arviz_and_matches_the_run() {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = fixture_run(dir.path());
    // The default output is RUN.nc beside the run: one HDF5 file (its 8-byte signature).
    let o = mmm_os([
        "export".as_ref(),
        run.as_os_str(),
        "--format".as_ref(),
        "netcdf".as_ref(),
    ]);
    assert_exit(&o, 0);
    let file = dir.path().join("run.nc");
    let bytes = std::fs::read(&file).expect("run.nc written");
    assert_eq!(&bytes[..8], b"\x89HDF\r\n\x1a\n");
    // The posterior's 4 x 1000 x 2 betas are in it, uncompressed, at least.
    assert!(bytes.len() > 4 * 1000 * 2 * 8, "{} bytes", bytes.len());

    // An existing output is refused and left as it was.
    let o = mmm_os([
        "export".as_ref(),
        run.as_os_str(),
        "--format".as_ref(),
        "netcdf".as_ref(),
    ]);
    assert_exit(&o, 1);
    assert!(stderr(&o).contains("run.nc"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&file).expect("kept"), bytes);

    arviz_check(&file, &run);
}

#[test]
fn geo_export_carries_geo_coordinates_into_arviz() {
    // The geo fixture's raw panel under the hierarchy (it misses an ESS gate in this short
    // test fit, exit 3; the export reads any diagnosed run).
    let dir = tempfile::tempdir().expect("tempdir");
    let run = dir.path().join("run");
    let o = mmm_run_with(
        &fixture("geo/spec.toml"),
        &fixture("geo/panel.csv"),
        &run,
        &["--no-refits"],
    );
    assert_exit(&o, 3);
    let file = dir.path().join("geo.nc");
    let o = mmm_os([
        "export".as_ref(),
        run.as_os_str(),
        "--format".as_ref(),
        "netcdf".as_ref(),
        "--out".as_ref(),
        file.as_os_str(),
    ]);
    assert_exit(&o, 0);
    // check_export_arviz.py also requires the geo coordinate in the posterior of a panel.
    arviz_check(&file, &run);
}
