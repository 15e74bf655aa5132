//! A lift test calibrates its channel: on data simulated with known parameters, adding an
//! experiment on channel c0 narrows c0's ROAS interval and moves the model's lift for the
//! experiment's window toward the measured value.

use std::sync::Arc;

use mmm_core::Spec;
use mmm_core::spec::LiftTestSpec;
use mmm_core::summary::{quantile_sorted, sorted};
use mmm_diagnostics::convergence::{mcse_mean, rhat};
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;
use mmm_sampler::sample;

use crate::{random_design, test_options};

fn spec() -> Spec {
    let text = "[model]\nname = \"lift\"\n[data]\ndate_column = \"d\"\ntarget = \"y\"\n\
         [[controls]]\nname = \"z\"\nprior = { family = \"normal\", mu = 0.0, sigma = 1.0 }\n\
         [intercept]\nprior = { family = \"normal\", mu = 0.0, sigma = 2.0 }\n\
         [likelihood]\nfamily = \"normal\"\nsigma_prior = { family = \"half_normal\", sigma = 1.0 }\n\
         [[channels]]\nname = \"c0\"\nadstock = { kind = \"geometric\", l_max = 4, normalize = true, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }\nsaturation = { kind = \"logistic\", lam_prior = { family = \"gamma\", shape = 3.0, rate = 1.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }\n\
         [[channels]]\nname = \"c1\"\nadstock = { kind = \"geometric\", l_max = 4, normalize = true, alpha_prior = { family = \"beta\", alpha = 1.0, beta = 3.0 } }\nsaturation = { kind = \"logistic\", lam_prior = { family = \"gamma\", shape = 3.0, rate = 1.0 }, beta_prior = { family = \"half_normal\", sigma = 2.0 } }\n";
    Spec::from_toml_str(text).expect("spec")
}

/// Per-draw ROAS of channel 0 over the training window and the model's lift for the first
/// lift test (target units), by chain.
struct Fit {
    roas: Vec<Vec<f64>>,
    lift: Vec<Vec<f64>>,
}

fn fit(spec: &Spec, design: &mmm_features::Design, window_spec: &Spec) -> Fit {
    let model = Arc::new(MmmModel::new(spec, design).expect("model"));
    // The lift for the window is evaluated by a model that knows the test, fitted or not.
    let window_model = MmmModel::new(window_spec, design).expect("window model");
    let trace = sample(model.clone(), &test_options(2, 600, 800, 3, 0.9, 10)).expect("sampling");
    let d = trace.names.len();
    for j in 0..d {
        let chains = trace.param_chains(j);
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        assert!(
            rhat(&refs) < 1.05,
            "{}: R-hat {}",
            trace.names[j],
            rhat(&refs)
        );
    }
    let s = design.scales.target;
    let spend: f64 = design.channels[0].iter().sum::<f64>() * 10.0;
    let mut term = vec![0.0; design.len()];
    let (mut roas, mut lift) = (Vec::new(), Vec::new());
    for values in &trace.values {
        let (mut r, mut l) = (Vec::new(), Vec::new());
        for theta in values.chunks_exact(d) {
            model.channel_term(theta, 0, &mut term);
            r.push(term.iter().sum::<f64>() * s / spend);
            l.push(window_model.lift_test_predictions(theta)[0] * s);
        }
        roas.push(r);
        lift.push(l);
    }
    Fit { roas, lift }
}

fn mean(chains: &[Vec<f64>]) -> f64 {
    let all = chains.concat();
    all.iter().sum::<f64>() / all.len() as f64
}

fn mcse(chains: &[Vec<f64>]) -> f64 {
    let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
    mcse_mean(&refs)
}

fn width90(chains: &[Vec<f64>]) -> f64 {
    let all = sorted(&chains.concat());
    quantile_sorted(&all, 0.95) - quantile_sorted(&all, 0.05)
}

#[test]
fn a_lift_test_narrows_its_channels_roas_and_pulls_it_toward_the_experiment() {
    let mut design = random_design(99, 1000.0);
    design.scales.channels = [("c0".to_string(), 10.0), ("c1".to_string(), 10.0)].into();
    let base = spec();
    let names = MmmModel::new(&base, &design).expect("model").param_names();
    let truth: Vec<f64> = names
        .iter()
        .map(|n| match n.as_str() {
            "intercept" => 0.2,
            "gamma_control[z]" => 0.3,
            "adstock_alpha[c0]" | "adstock_alpha[c1]" => 0.5,
            "saturation_lam[c0]" | "saturation_lam[c1]" => 1.5,
            "beta[c0]" => 0.3,
            "beta[c1]" => 0.3,
            "sigma" => 0.15,
            other => panic!("no truth for {other}"),
        })
        .collect();
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(17);
    let n = design.len();
    let (mut mean_y, mut y) = (vec![0.0; n], vec![0.0; n]);
    MmmModel::new(&base, &design)
        .expect("model")
        .predictive_draw(&truth, &mut rng, &mut mean_y, &mut y);
    design.target_scaled = y;

    // Weeks 40..=79 from 2016-07-18 (day 17000): a 40-week go-dark test on c0.
    let mut calibrated = base.clone();
    calibrated.lift_tests = vec![LiftTestSpec {
        channel: "c0".into(),
        start: "2017-04-24".into(),
        end: "2018-01-22".into(),
        lift: 0.0,
        standard_error: 1.0,
        spend_change: -1.0,
        geo: None,
        geos: Vec::new(),
    }];
    let true_lift = MmmModel::new(&calibrated, &design)
        .expect("model")
        .lift_test_predictions(&truth)[0]
        * design.scales.target;
    // The experiment reads 30% above the true lift with a 5% standard error: the fit must move
    // toward it, away from what the observational data alone say.
    calibrated.lift_tests[0].lift = 1.3 * true_lift;
    calibrated.lift_tests[0].standard_error = 0.05 * true_lift;
    let experiment = calibrated.lift_tests[0].lift;

    let without = fit(&base, &design, &calibrated);
    let with = fit(&calibrated, &design, &calibrated);
    let (w0, w1) = (width90(&without.roas), width90(&with.roas));
    let (r0, r1) = (mean(&without.roas), mean(&with.roas));
    let (l0, l1) = (mean(&without.lift), mean(&with.lift));
    eprintln!(
        "ROAS c0: without {r0:.3} (90% width {w0:.3}), with {r1:.3} (width {w1:.3}); \
         window lift: without {l0:.1}, with {l1:.1}, experiment {experiment:.1}, truth {true_lift:.1}"
    );
    assert!(w1 < 0.8 * w0, "interval width {w1} not below 0.8 x {w0}");
    let mc = 4.0 * (mcse(&without.lift) + mcse(&with.lift));
    assert!(
        (l1 - experiment).abs() + mc < (l0 - experiment).abs(),
        "window lift did not move toward the experiment: {l0} -> {l1} (experiment {experiment})"
    );
    let mc_roas = 4.0 * (mcse(&without.roas) + mcse(&with.roas));
    assert!(
        r1 > r0 + mc_roas,
        "ROAS did not rise toward the experiment: {r0} -> {r1}"
    );
}
