//! The analytic gradient of every term against central finite differences at random points.

use mmm_core::spec::{ExpectedSign, Prior};
use mmm_model::MmmModel;

use crate::{
    assert_log_density, fixture_spec, normal_log_likelihood, prior_terms, synthetic_design,
};

pub fn check_gradient(model: &MmmModel, seed: u64) {
    check_gradient_within(model, seed, 1.5);
}

/// The gradient check at 20 points drawn uniformly from [-half_width, half_width]^d.
pub fn check_gradient_within(model: &MmmModel, seed: u64, half_width: f64) {
    let mut scratch = model.scratch();
    let names = model.param_names();
    check_density_gradient(
        &names,
        |u, grad| model.logp(u, grad, &mut scratch).expect("finite"),
        seed,
        half_width,
    );
}

/// Central finite differences (h = 1e-5) of `logp` agree with its analytic gradient to 1e-5
/// relative at 20 points drawn uniformly from [-half_width, half_width]^d.
pub fn check_density_gradient(
    names: &[String],
    mut logp: impl FnMut(&[f64], &mut [f64]) -> f64,
    seed: u64,
    half_width: f64,
) {
    let mut state = seed;
    let mut next = move || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64) / ((1u64 << 53) as f64)
    };
    let d = names.len();
    for _ in 0..20 {
        let u: Vec<f64> = (0..d).map(|_| half_width * (2.0 * next() - 1.0)).collect();
        let mut grad = vec![0.0; d];
        let lp = logp(&u, &mut grad);
        assert!(lp.is_finite());
        let mut g2 = vec![0.0; d];
        for i in 0..d {
            let h = 1e-5;
            let mut up = u.clone();
            up[i] += h;
            let mut um = u.clone();
            um[i] -= h;
            let fd = (logp(&up, &mut g2) - logp(&um, &mut g2)) / (2.0 * h);
            let tol = 1e-5 * (1.0 + grad[i].abs());
            assert!(
                (fd - grad[i]).abs() < tol,
                "{}: analytic {} vs finite difference {fd}",
                names[i],
                grad[i]
            );
        }
    }
}

#[test]
fn fixture_model_gradient_matches_finite_differences() {
    let spec = fixture_spec();
    let design = synthetic_design(&spec, 60, 50);
    let model = MmmModel::new(&spec, &design).expect("model");
    assert_eq!(model.dim(), spec.parameter_count());
    check_gradient(&model, 7);
}

#[test]
fn every_prior_family_and_sign_constraint_has_a_correct_gradient() {
    let mut spec = fixture_spec();
    // Exercise each family on a parameter whose support it fits.
    spec.controls[0].prior = Prior::StudentT {
        nu: 4.0,
        mu: 0.1,
        sigma: 1.5,
    };
    spec.controls[1].expected_sign = ExpectedSign::Negative;
    spec.controls[1].prior = Prior::Exponential { rate: 2.0 };
    spec.controls[2].expected_sign = ExpectedSign::Positive;
    spec.controls[2].prior = Prior::LogNormal {
        mu: 0.0,
        sigma: 1.0,
    };
    spec.intercept.prior = Prior::TruncatedNormal {
        mu: 0.0,
        sigma: 1.0,
        lower: -2.0,
        upper: 3.0,
    };
    spec.likelihood = mmm_core::spec::LikelihoodSpec::Normal {
        sigma_prior: Prior::Gamma {
            shape: 2.0,
            rate: 4.0,
        },
    };
    let mmm_core::spec::AdstockSpec::Geometric { normalize, .. } = &mut spec.channels[1].adstock
    else {
        panic!("the fixture's adstock is geometric")
    };
    *normalize = false;
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    let design = synthetic_design(&spec, 40, 40);
    let model = MmmModel::new(&spec, &design).expect("model");
    check_gradient(&model, 99);
}

#[test]
fn constrain_and_unconstrain_are_inverse_and_respect_signs() {
    let mut spec = fixture_spec();
    spec.controls[1].expected_sign = ExpectedSign::Negative;
    spec.controls[1].prior = Prior::HalfNormal { sigma: 1.0 };
    let design = synthetic_design(&spec, 30, 30);
    let model = MmmModel::new(&spec, &design).expect("model");
    let u: Vec<f64> = (0..model.dim()).map(|i| (i as f64 * 0.37).sin()).collect();
    let theta = model.constrain(&u);
    let names = model.param_names();
    let neg = names
        .iter()
        .position(|n| n == "gamma_control[event_2]")
        .expect("name");
    assert!(theta[neg] < 0.0);
    let back = model.unconstrain(&theta);
    for (a, b) in u.iter().zip(&back) {
        assert!((a - b).abs() < 1e-10);
    }
}

#[test]
fn counterfactual_difference_equals_the_channel_term_for_the_additive_model() {
    let spec = fixture_spec();
    let design = synthetic_design(&spec, 50, 50);
    let model = MmmModel::new(&spec, &design).expect("model");
    let u: Vec<f64> = (0..model.dim())
        .map(|i| 0.3 * ((i * 7) as f64).cos())
        .collect();
    let theta = model.constrain(&u);
    let mut full = vec![0.0; 50];
    let mut without = vec![0.0; 50];
    model.predict_mean(&theta, &[], &mut full);
    model.predict_mean(&theta, &[0], &mut without);
    // Channel 0: beta * tanh(lam/2 * adstock(x))
    let (alpha, lam, beta) = (theta[1], theta[2], theta[3]);
    let ad = mmm_features::transforms::geometric_adstock(&design.channels[0], alpha, 8, true);
    for t in 0..50 {
        let expected = beta * mmm_features::transforms::logistic_saturation(ad[t], lam);
        assert!((full[t] - without[t] - expected).abs() < 1e-12);
    }
}

#[test]
fn log_density_equals_its_definition() {
    // Independent evaluation: priors + Jacobians + Normal likelihood of predict_mean's direct
    // convolution, against the fused recursive implementation.
    let spec = fixture_spec();
    for (normalize, n_train) in [(true, 45), (false, 60)] {
        let mut spec = spec.clone();
        let mmm_core::spec::AdstockSpec::Geometric { normalize: nz, .. } =
            &mut spec.channels[0].adstock
        else {
            panic!("the fixture's adstock is geometric")
        };
        *nz = normalize;
        let design = synthetic_design(&spec, 60, n_train);
        let model = MmmModel::new(&spec, &design).expect("model");
        let u: Vec<f64> = (0..model.dim())
            .map(|i| 0.8 * ((i * 5 + 1) as f64).sin())
            .collect();
        let theta = model.constrain(&u);
        let mut mu = vec![0.0; 60];
        model.predict_mean(&theta, &[], &mut mu);
        let sigma = model.sigma(&theta).expect("normal has sigma");
        let expected = prior_terms(&model, &theta, &[])
            + normal_log_likelihood(&design.target_scaled[..n_train], &mu[..n_train], sigma);
        assert_log_density(&model, &u, expected, "fixture");
    }
}
