//! Cost of one log density + gradient evaluation of the fixture model (PyMC-Marketing's example:
//! 2 channels, 8-week adstock, 3 controls, 4 Fourier terms, 15 parameters, 179 weeks).

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mmm_core::Upstream;
use mmm_core::spec::LoadedSpec;
use mmm_features::Design;
use mmm_model::MmmModel;

fn fixture_model() -> MmmModel {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/pymc_example");
    let spec = LoadedSpec::load(&root.join("spec.toml")).expect("fixture spec");
    let dir = tempfile::tempdir().expect("tempdir");
    let (v, f) = (dir.path().join("validate"), dir.path().join("features"));
    mmm_contracts::run(&spec, &root.join("data.csv"), &v, true).expect("validate");
    mmm_features::run(&spec, &v, &f, true).expect("features");
    let up = Upstream::open(&f, "features").expect("features stage");
    let (design, _) = Design::load(&up, &spec.spec).expect("design");
    MmmModel::new(&spec.spec, &design).expect("model")
}

fn bench_logp(c: &mut Criterion) {
    let model = fixture_model();
    let mut scratch = model.scratch();
    // A point near the posterior mode (constrained values from a fixture fit).
    let theta = [
        0.35, 0.40, 4.1, 0.36, 0.19, 3.2, 0.27, 0.25, 0.33, 0.0006, 0.003, -0.057, 0.063, 0.002,
        0.03,
    ];
    let u = model.unconstrain(&theta);
    let mut grad = vec![0.0; model.dim()];
    c.bench_function("fixture logp+gradient", |b| {
        b.iter(|| {
            model
                .logp(std::hint::black_box(&u), &mut grad, &mut scratch)
                .expect("finite")
        })
    });
}

criterion_group!(benches, bench_logp);
criterion_main!(benches);
