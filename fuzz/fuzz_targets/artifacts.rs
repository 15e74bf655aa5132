//! Arbitrary bytes as an artifact that a stage reads from an upstream stage directory: every
//! reader must return a value or an error, never panic. The bytes are written into a stage
//! directory whose manifest records their sha256 (what an attacker who rehashes the manifest
//! can do), and the real reader runs on it, followed by the first computation the reading stage
//! does with the result.
//!
//! The first byte (mod [`SELECTORS`]) picks the artifact; the rest is its content:
//!
//! | byte | file                              | reader                                          |
//! |------|-----------------------------------|-------------------------------------------------|
//! | 0    | features/manifest.json            | `open_chain` (features + fit), `Design::load`   |
//! | 1    | features/design.parquet           | `Design::load`, `MmmModel::new`, log density    |
//! | 2    | features/scales.json              | `Design::load`, `MmmModel::new`, log density    |
//! | 3    | features/carry_in.parquet         | `Design::load` (spec with `data.start`), model  |
//! | 4    | fit/draws.parquet                 | `Posterior::from_batch`, chains, convergence    |
//! | 5    | diagnose/diagnostics.json         | `Upstream::json::<Diagnostics>` and as a value  |
//! | 6    | decision_record.json              | `DecisionRecord::read`, `review`                |
//! | 7    | any Parquet file                  | `read_parquet_bytes`, every typed column reader |
//! | 8    | features/geo_design.parquet       | `GeoDesign::load`, `GeoModel::new`              |
//! | 9    | features/geo_scales.json          | `GeoDesign::load`, `GeoModel::new`              |
//!
//! The other files of each stage directory are real artifacts of the pymc_example fixture
//! (`fuzz/fixtures/artifacts/`, made by `fuzz/make_artifact_seeds.sh`, which also writes
//! the seeds `fuzz/seeds/artifacts/`). Panics that `read_parquet_bytes` catches are counted and
//! printed (see `common`); the seeds named `caught_*` are minimized inputs that make the Parquet
//! decoder panic inside that guard (an error, not a crash, unless `MMM_FUZZ_STRICT=1`).
#![no_main]

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use mmm_core::{Manifest, OutputRecord, Spec, Upstream, sha256_hex};
use mmm_features::Design;
use mmm_features::panel::GeoDesign;
use mmm_model::joint::Fitted;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;
use mmm_model::{MmmModel, Posterior};

const SELECTORS: u8 = 10;

macro_rules! fixture {
    ($path:literal) => {
        include_bytes!(concat!("../fixtures/artifacts/", $path)).as_slice()
    };
}

const SPEC: &str = include_str!("../fixtures/artifacts/spec.toml");
const GEO_SPEC: &str = include_str!("../fixtures/artifacts/geo/spec.toml");
const FEATURES_MANIFEST: &[u8] = fixture!("features/manifest.json");
const DESIGN: &[u8] = fixture!("features/design.parquet");
const SCALES: &[u8] = fixture!("features/scales.json");
const FIT_MANIFEST: &[u8] = fixture!("fit/manifest.json");
const DRAWS: &[u8] = fixture!("fit/draws.parquet");
const DIAGNOSE_MANIFEST: &[u8] = fixture!("diagnose/manifest.json");
const GEO_MANIFEST: &[u8] = fixture!("geo/features/manifest.json");
const GEO_DESIGN: &[u8] = fixture!("geo/features/geo_design.parquet");
const GEO_SCALES: &[u8] = fixture!("geo/features/geo_scales.json");

struct Fixture {
    spec: Spec,
    spec_sha256: String,
    /// The spec with `data.start`: the features stage then also has carry_in.parquet.
    spec_start: Spec,
    geo_spec: Spec,
    features: Manifest,
    fit: Manifest,
    diagnose: Manifest,
    geo: Manifest,
    /// The national model of the fixture design (draws.parquet holds its parameters).
    model: MmmModel,
    /// Scratch directory (one per process): stage directories are rewritten for each input.
    root: PathBuf,
}

fn manifest(bytes: &[u8]) -> Manifest {
    serde_json::from_slice(bytes).expect("fixture manifest parses")
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let spec = Spec::from_toml_str(SPEC).expect("fixture spec parses");
        let start = SPEC.replacen("[data]\n", "[data]\nstart = \"2018-06-04\"\n", 1);
        let spec_start = Spec::from_toml_str(&start).expect("fixture spec with start parses");
        assert!(spec_start.data.start.is_some(), "data.start set");
        let geo_spec = Spec::from_toml_str(GEO_SPEC).expect("geo fixture spec parses");
        let root = common::scratch_dir("artifacts");
        let features = manifest(FEATURES_MANIFEST);
        let (design, _) = load_design(&root.join("init"), &features, &spec, &[], None)
            .expect("fixture design loads");
        let model = MmmModel::new(&spec, &design).expect("fixture model builds");
        Fixture {
            spec_sha256: sha256_hex(SPEC.as_bytes()),
            spec,
            spec_start,
            geo_spec,
            features,
            fit: manifest(FIT_MANIFEST),
            diagnose: manifest(DIAGNOSE_MANIFEST),
            geo: manifest(GEO_MANIFEST),
            model,
            root,
        }
    })
}

/// Write `files` into `dir` and a manifest (`base` with each file's output record rehashed or
/// added) whose bytes are `raw_manifest` when given; returns the manifest's sha256.
fn write_stage(
    dir: &Path,
    base: &Manifest,
    files: &[(&str, &[u8])],
    raw_manifest: Option<&[u8]>,
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
    let bytes = match raw_manifest {
        Some(raw) => raw.to_vec(),
        None => serde_json::to_vec_pretty(&m).expect("manifest serializes"),
    };
    fs::write(dir.join("manifest.json"), &bytes).expect("write manifest");
    sha256_hex(&bytes)
}

/// A features stage with `design` (+ `extra` files) and the fixture scales unless `scales` is
/// given, opened and read by `Design::load`.
fn load_design(
    dir: &Path,
    base: &Manifest,
    spec: &Spec,
    extra: &[(&str, &[u8])],
    files: Option<(&[u8], &[u8])>,
) -> Result<(Design, Upstream), String> {
    let (design, scales) = files.unwrap_or((DESIGN, SCALES));
    let mut all = vec![("design.parquet", design), ("scales.json", scales)];
    all.extend_from_slice(extra);
    write_stage(dir, base, &all, None);
    let up = common::trace("Upstream::open(features)", Upstream::open(dir, "features"))
        .map_err(|e| e.to_string())?;
    let (design, _) =
        common::trace("Design::load", Design::load(&up, spec)).map_err(|e| e.to_string())?;
    Ok((design, up))
}

/// What fit, diagnose and decide do first with a model: a log density and gradient at the
/// origin, the predictor and the pointwise log likelihood at the constrained origin.
fn exercise(model: &dyn Fitted, logp: impl Fn(&[f64], &mut [f64])) {
    let dim = model.dim();
    let u = vec![0.0; dim];
    let mut grad = vec![0.0; dim];
    logp(&u, &mut grad);
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let theta = model.prior_draw(&mut rng).unwrap_or_else(|| vec![0.5; dim]);
    let units = model.unit_names().len();
    let mut mean = vec![0.0; units * model.periods()];
    let mut out = vec![0.0; units * model.periods()];
    model.predictive_draw_units(&theta, &mut rng, &mut mean, &mut out);
    let mut ll = vec![0.0; units * model.train_periods()];
    model.pointwise_log_likelihood_units(&theta, &mut ll);
}

fn national(spec: &Spec, design: &Design) {
    let _ = design.target();
    for c in 0..design.channels.len() {
        let _ = design.spend(c);
    }
    if let Ok(model) = common::trace("MmmModel::new", MmmModel::new(spec, design)) {
        exercise(&model, |u, g| {
            let _ = model.logp(u, g, &mut model.scratch());
        });
    }
}

fn geo(f: &Fixture, dir: &Path, design: &[u8], scales: &[u8]) {
    write_stage(
        dir,
        &f.geo,
        &[("geo_design.parquet", design), ("geo_scales.json", scales)],
        None,
    );
    let Ok(up) = common::trace("Upstream::open(geo features)", Upstream::open(dir, "features"))
    else {
        return;
    };
    let Ok((panel, _)) = common::trace("GeoDesign::load", GeoDesign::load(&up, &f.geo_spec))
    else {
        return;
    };
    let model = mmm_model::geo::GeoModel::new(&f.geo_spec, &panel);
    if let Ok(model) = common::trace("GeoModel::new", model) {
        exercise(&model, |u, g| {
            let _ = model.logp(u, g, &mut model.scratch());
        });
    }
}

fn draws(f: &Fixture, bytes: &[u8]) {
    let dir = f.root.join("fit");
    write_stage(&dir, &f.fit, &[("draws.parquet", bytes)], None);
    let Ok(up) = common::trace("Upstream::open(fit)", Upstream::open(&dir, "fit")) else {
        return;
    };
    let Ok((batch, _)) = common::trace("read draws.parquet", up.parquet("draws.parquet")) else {
        return;
    };
    let posterior = Posterior::from_batch(&batch, &f.model, &dir.join("draws.parquet"));
    let Ok(posterior) = common::trace("Posterior::from_batch", posterior) else {
        return;
    };
    let mut mean = vec![0.0; f.model.periods()];
    let mut out = vec![0.0; f.model.periods()];
    for j in 0..f.model.dim() {
        let chains = posterior.param_chains(j);
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let _ = mmm_diagnostics::convergence::summarize(&refs);
    }
    for theta in posterior.theta.iter().take(4) {
        f.model.predict_mean(theta, &[], &mut mean);
        f.model.pointwise_log_likelihood(theta, &mut mean, &mut out);
        let _ = f.model.sigma(theta);
    }
}

fn diagnostics(f: &Fixture, bytes: &[u8]) {
    let dir = f.root.join("diagnose");
    write_stage(&dir, &f.diagnose, &[("diagnostics.json", bytes)], None);
    let Ok(up) = common::trace("Upstream::open(diagnose)", Upstream::open(&dir, "diagnose"))
    else {
        return;
    };
    let _ = common::trace(
        "json::<Diagnostics>",
        up.json::<mmm_diagnostics::Diagnostics>("diagnostics.json"),
    );
    // decide and compare read it as a value.
    if let Ok((value, _)) = up.json::<serde_json::Value>("diagnostics.json") {
        let _ = value.get("not_for_decisions").and_then(serde_json::Value::as_bool);
    }
}

/// A CSV field, quoted.
fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn decision_record(f: &Fixture, bytes: &[u8]) {
    let dir = f.root.join("review");
    let _ = fs::create_dir_all(&dir);
    let path = dir.join("decision_record.json");
    fs::write(&path, bytes).expect("write record");
    let record = mmm_decisions::review::DecisionRecord::read(&path);
    let Ok(record) = common::trace("DecisionRecord::read", record) else {
        return;
    };
    // Actuals that cover every week (and geo) of the record, so that the review computes.
    let geos: Vec<&str> = record.geos.iter().map(|g| g.geo.as_str()).collect();
    if record.weeks.len() * geos.len().max(1) > 20_000 {
        return;
    }
    let mut csv = format!("{},{}", quoted(&record.date_column), quoted(&record.target));
    if let Some(g) = &record.geo_column {
        csv.push(',');
        csv.push_str(&quoted(g));
    }
    csv.push('\n');
    for (i, w) in record.weeks.iter().enumerate() {
        for g in if geos.is_empty() { vec![""] } else { geos.clone() } {
            csv.push_str(&format!("{},{}", quoted(w), 1000.0 + i as f64));
            if record.geo_column.is_some() {
                csv.push(',');
                csv.push_str(&quoted(g));
            }
            csv.push('\n');
        }
    }
    let actuals = dir.join("actuals.csv");
    fs::write(&actuals, csv).expect("write actuals");
    let _ = common::trace("review", mmm_decisions::review::review(&record, &actuals));
}

fn any_parquet(bytes: &[u8]) {
    let path = Path::new("fuzz.parquet");
    let batch = mmm_core::read_parquet_bytes(bytes.to_vec(), path);
    let Ok(batch) = common::trace("read_parquet_bytes", batch) else {
        return;
    };
    use mmm_core::columns::{bool_column, date_column, f64_column, i64_column, string_column};
    for field in batch.schema().fields() {
        let name = field.name();
        let _ = f64_column(&batch, name, path);
        let _ = i64_column(&batch, name, path);
        let _ = date_column(&batch, name, path);
        let _ = bool_column(&batch, name, path);
        let _ = string_column(&batch, name, path);
    }
}

fn run(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let f = fixture();
    let features_dir = f.root.join("features");
    match selector % SELECTORS {
        0 => {
            // A tampered features manifest with the real design and scales beside it.
            write_stage(
                &features_dir,
                &f.features,
                &[("design.parquet", DESIGN), ("scales.json", SCALES)],
                Some(bytes),
            );
            let fit_dir = f.root.join("fit");
            write_stage(&fit_dir, &f.fit, &[("draws.parquet", DRAWS)], None);
            let spec_ref = mmm_core::SpecRef {
                sha256: &f.spec_sha256,
                text: SPEC,
                path: Path::new("spec.toml"),
            };
            let chain = mmm_core::open_chain(
                spec_ref,
                [(features_dir.as_path(), "features"), (fit_dir.as_path(), "fit")],
            );
            let _ = common::trace("open_chain", chain);
            if let Ok(up) = Upstream::open(&features_dir, "features") {
                let _ = up.record();
                if let Ok((design, _)) = Design::load(&up, &f.spec) {
                    national(&f.spec, &design);
                }
            }
        }
        1 => {
            if let Ok((design, _)) =
                load_design(&features_dir, &f.features, &f.spec, &[], Some((bytes, SCALES)))
            {
                national(&f.spec, &design);
            }
        }
        2 => {
            if let Ok((design, _)) =
                load_design(&features_dir, &f.features, &f.spec, &[], Some((DESIGN, bytes)))
            {
                national(&f.spec, &design);
            }
        }
        3 => {
            let extra = [(mmm_features::CARRY_IN_FILE, bytes)];
            if let Ok((design, _)) =
                load_design(&features_dir, &f.features, &f.spec_start, &extra, None)
            {
                national(&f.spec_start, &design);
            }
        }
        4 => draws(f, bytes),
        5 => diagnostics(f, bytes),
        6 => decision_record(f, bytes),
        7 => any_parquet(bytes),
        8 => geo(f, &f.root.join("geo"), bytes, GEO_SCALES),
        _ => geo(f, &f.root.join("geo"), GEO_DESIGN, bytes),
    }
}

fuzz_target!(|data: &[u8]| {
    common::install();
    let before = common::panics();
    run(data);
    common::report_caught("artifacts", before, data);
});
