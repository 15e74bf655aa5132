//! Cost of one log density + gradient evaluation of the fixture model (PyMC-Marketing's example:
//! 2 channels, 8-week adstock, 3 controls, 4 Fourier terms, 15 parameters, 179 weeks), and of a
//! 10-channel, 156-week model with Fourier terms, a piecewise-linear trend and controls.

use std::path::Path;

use criterion::{Criterion, criterion_group, criterion_main};
use mmm_core::Upstream;
use mmm_core::spec::LoadedSpec;
use mmm_features::Design;
use mmm_model::MmmModel;

fn fixture_model() -> MmmModel {
    model_for("pymc_example", "", |_| {})
}

/// The model of fixture `name`: its spec with `extra` TOML appended builds the design, then
/// `edit` changes the spec's transforms (which the design does not depend on).
fn model_for(name: &str, extra: &str, edit: impl FnOnce(&mut mmm_core::Spec)) -> MmmModel {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(name);
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root.join("spec.toml")).expect("fixture spec") + extra;
    std::fs::write(dir.path().join("spec.toml"), text).expect("write spec");
    let spec = LoadedSpec::load(&dir.path().join("spec.toml")).expect("spec");
    let (v, f) = (dir.path().join("validate"), dir.path().join("features"));
    mmm_contracts::run(&spec, &root.join("data.csv"), &v, true).expect("validate");
    mmm_features::run(&spec, &v, &f, true).expect("features");
    let up = Upstream::open(&f, "features").expect("features stage");
    let (design, _) = Design::load(&up, &spec.spec).expect("design");
    let mut spec = spec.spec;
    edit(&mut spec);
    MmmModel::new(&spec, &design).expect("model")
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

/// fixtures/bench_10ch (10 channels with 8-week adstock, 2 controls, 4 Fourier terms, 156 weeks)
/// plus a piecewise-linear trend with 6 changepoints: 44 parameters.
fn bench_logp_10ch(c: &mut Criterion) {
    use mmm_model::rand::SeedableRng;
    let model = model_for(
        "bench_10ch",
        "\n[trend]\nkind = \"piecewise_linear\"\n",
        |_| {},
    );
    let mut scratch = model.scratch();
    // A prior draw (fixed seed): the cost does not depend on where the density is evaluated.
    let mut rng = mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(1);
    let u = model
        .sample_prior_unconstrained(&mut rng)
        .expect("prior draw");
    let mut grad = vec![0.0; model.dim()];
    c.bench_function(
        "10-channel 156-week logp+gradient (trend, Fourier, controls)",
        |b| {
            b.iter(|| {
                model
                    .logp(std::hint::black_box(&u), &mut grad, &mut scratch)
                    .expect("finite")
            })
        },
    );
}

/// The general (not fused) channel path: channel x1 with Weibull-CDF adstock and Hill
/// saturation, channel x2 unchanged (fused).
fn bench_logp_general(c: &mut Criterion) {
    use mmm_core::spec::{AdstockSpec, Prior, SaturationSpec};
    let gamma = Prior::Gamma {
        shape: 2.0,
        rate: 1.0,
    };
    let model = model_for("pymc_example", "", |spec| {
        spec.channels[0].adstock = AdstockSpec::WeibullCdf {
            l_max: 8,
            normalize: true,
            shape_prior: gamma,
            scale_prior: gamma,
        };
        spec.channels[0].saturation = SaturationSpec::Hill {
            k_prior: gamma,
            s_prior: gamma,
            beta_prior: Prior::HalfNormal { sigma: 2.0 },
        };
    });
    let mut scratch = model.scratch();
    let theta = [
        0.35, 1.5, 2.0, 0.4, 1.5, 0.36, 0.19, 3.2, 0.27, 0.25, 0.33, 0.0006, 0.003, -0.057, 0.063,
        0.002, 0.03,
    ];
    let u = model.unconstrain(&theta);
    let mut grad = vec![0.0; model.dim()];
    c.bench_function("hill + weibull_cdf channel logp+gradient", |b| {
        b.iter(|| {
            model
                .logp(std::hint::black_box(&u), &mut grad, &mut scratch)
                .expect("finite")
        })
    });
}

criterion_group!(benches, bench_logp, bench_logp_general, bench_logp_10ch);
criterion_main!(benches);
