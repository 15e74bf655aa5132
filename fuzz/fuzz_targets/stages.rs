//! Arbitrary bytes as one upstream artifact of a whole downstream stage: the diagnose and decide
//! stages run end to end (into a scratch directory) on a run of the pymc_example fixture in
//! which one file was replaced and its manifest rehashed, the manifests of later stages relinked
//! (the hash chain holds, as an attacker who rewrites every manifest can make it hold). Every
//! stage must finish or return an error, never panic. Slower than `artifacts` (a stage per
//! input), so kept apart from it.
//!
//! The first byte (mod [`SELECTORS`]) picks the file; the rest is its content:
//!
//! | byte | file replaced                 | stage run |
//! |------|-------------------------------|-----------|
//! | 0    | fit/draws.parquet             | diagnose  |
//! | 1    | fit/sample_stats.parquet      | diagnose  |
//! | 2    | features/design.parquet       | diagnose  |
//! | 3    | fit/draws.parquet             | decide    |
//! | 4    | diagnose/diagnostics.json     | decide    |
//! | 5    | features/scales.json          | decide    |
#![no_main]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mmm_core::spec::LoadedSpec;
use mmm_core::{Manifest, OutputRecord, Spec, Upstream, sha256_hex};

const SELECTORS: u8 = 6;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../fixtures/artifacts/", $path)).as_slice()
    };
}

const SPEC: &str = include_str!("../fixtures/artifacts/spec.toml");
const FEATURES_MANIFEST: &[u8] = fixture!("features/manifest.json");
const DESIGN: &[u8] = fixture!("features/design.parquet");
const SCALES: &[u8] = fixture!("features/scales.json");
const FIT_MANIFEST: &[u8] = fixture!("fit/manifest.json");
const DRAWS: &[u8] = fixture!("fit/draws.parquet");
const SAMPLE_STATS: &[u8] = fixture!("fit/sample_stats.parquet");
const DIAGNOSE_MANIFEST: &[u8] = fixture!("diagnose/manifest.json");
const DIAGNOSTICS: &[u8] = fixture!("diagnose/diagnostics.json");

struct Fixture {
    spec: LoadedSpec,
    features: Manifest,
    fit: Manifest,
    diagnose: Manifest,
    root: PathBuf,
}

fn manifest(bytes: &[u8]) -> Manifest {
    serde_json::from_slice(bytes).expect("fixture manifest parses")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let root = common::scratch_dir("stages");
        let spec = LoadedSpec {
            spec: Spec::from_file_text(Path::new("spec.toml"), SPEC).expect("fixture spec"),
            path: root.join("spec.toml"),
            sha256: sha256_hex(SPEC.as_bytes()),
            text: SPEC.to_string(),
        };
        Fixture {
            spec,
            features: manifest(FEATURES_MANIFEST),
            fit: manifest(FIT_MANIFEST),
            diagnose: manifest(DIAGNOSE_MANIFEST),
            root,
        }
    })
}

/// Write `files` and a manifest: `base` with each file's output record rehashed and each
/// upstream link in `links` (stage, link) rewritten; returns this stage's link as a downstream
/// stage records it (`Upstream::manifest_sha256`, whatever the chain hashes), or "" when the
/// stage does not open.
fn write_stage(
    dir: &Path,
    stage: &str,
    base: &Manifest,
    files: &[(&str, &[u8])],
    links: &[(&str, &str)],
) -> String {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir).expect("stage directory");
    let mut m = base.clone();
    for (name, bytes) in files {
        fs::write(dir.join(name), bytes).expect("write artifact");
        let sha256 = sha256_hex(bytes);
        match m.outputs.iter_mut().find(|o| o.path == *name) {
            Some(o) => o.sha256 = sha256,
            None => m.outputs.push(OutputRecord {
                path: (*name).to_string(),
                sha256,
                rows: None,
                schema: None,
                schema_version: None,
            }),
        }
    }
    for (upstream, link) in links {
        for u in m.upstream.iter_mut().filter(|u| u.stage == *upstream) {
            u.manifest_sha256 = (*link).to_string();
        }
    }
    let bytes = serde_json::to_vec_pretty(&m).expect("manifest serializes");
    fs::write(dir.join("manifest.json"), &bytes).expect("write manifest");
    Upstream::open(dir, stage)
        .map(|u| u.manifest_sha256().to_string())
        .unwrap_or_default()
}

fn run(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let selector = selector % SELECTORS;
    let pick = |which: u8, fixture: &'static [u8]| if selector == which { bytes } else { fixture };
    let (features_dir, fit_dir, diagnose_dir, out_dir) = (
        f.root.join("features"),
        f.root.join("fit"),
        f.root.join("diagnose"),
        f.root.join("out"),
    );
    let features_link = write_stage(
        &features_dir,
        "features",
        &f.features,
        &[("design.parquet", pick(2, DESIGN)), ("scales.json", pick(5, SCALES))],
        &[],
    );
    let draws = if selector == 0 || selector == 3 { bytes } else { DRAWS };
    let fit_link = write_stage(
        &fit_dir,
        "fit",
        &f.fit,
        &[("draws.parquet", draws), ("sample_stats.parquet", pick(1, SAMPLE_STATS))],
        &[("features", &features_link)],
    );
    let _ = fs::remove_dir_all(&out_dir);
    if selector < 3 {
        let result = mmm_diagnostics::run(&f.spec, &features_dir, &fit_dir, &out_dir, true);
        let _ = common::trace("diagnose stage", result);
    } else {
        write_stage(
            &diagnose_dir,
            "diagnose",
            &f.diagnose,
            &[("diagnostics.json", pick(4, DIAGNOSTICS))],
            &[("features", &features_link), ("fit", &fit_link)],
        );
        let result =
            mmm_decisions::run(&f.spec, &features_dir, &fit_dir, &diagnose_dir, &out_dir, true);
        let _ = common::trace("decide stage", result);
    }
}

fuzz_target!(|data: &[u8]| {
    common::install();
    let before = common::panics();
    run(data);
    common::report_caught("stages", before, data);
});
