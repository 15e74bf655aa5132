//! The local-level (random-walk) baseline: exact gradients under several likelihoods, the
//! density against its definition, the level held flat past the training window, and
//! predictive draws whose holdout variance grows with the walk.

use mmm_core::Spec;
use mmm_core::spec::{LikelihoodSpec, Prior, TrendKind};
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;

use crate::gradient::check_gradient_within;
use crate::{
    assert_log_density, fixture_spec, normal_log_likelihood, prior_terms, synthetic_design,
};

fn local_level_spec(likelihood: LikelihoodSpec) -> Spec {
    let mut spec = fixture_spec();
    spec.trend.kind = TrendKind::LocalLevel;
    spec.trend.level_sigma_prior = Prior::HalfNormal { sigma: 0.05 };
    spec.likelihood = likelihood;
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    spec
}

#[test]
fn local_level_has_named_steps_and_exact_gradients() {
    let families = [
        LikelihoodSpec::Normal {
            sigma_prior: Prior::HalfNormal { sigma: 1.0 },
        },
        LikelihoodSpec::StudentT {
            sigma_prior: Prior::HalfNormal { sigma: 1.0 },
            nu_prior: Prior::Gamma {
                shape: 2.0,
                rate: 0.1,
            },
        },
        LikelihoodSpec::Poisson,
    ];
    for lik in families {
        let spec = local_level_spec(lik);
        let mut design = synthetic_design(&spec, 40, 32);
        if !spec.likelihood.is_additive() {
            design.scales.target = 200.0;
            for y in &mut design.target_scaled {
                *y = (*y * 200.0).round() / 200.0;
            }
        }
        let model = MmmModel::new(&spec, &design).expect("model");
        // One sigma plus a step per training period after the first, named by its date.
        assert_eq!(model.dim(), spec.parameter_count() + 31);
        let names = model.param_names();
        let at = names
            .iter()
            .position(|n| n == "level_sigma")
            .expect("level_sigma");
        assert_eq!(names[at + 1], "level_step[2016-07-25]");
        assert_eq!(names[at + 31], "level_step[2017-02-20]");
        // A log link turns a wild walk (sigma e^1.5 over 31 steps) into rates of e^50, where
        // finite differences lose their digits; count models are checked nearer the prior.
        let half_width = if spec.likelihood.is_additive() {
            1.5
        } else {
            0.5
        };
        check_gradient_within(&model, 3, half_width);
    }
}

#[test]
fn local_level_density_equals_its_definition_and_holds_flat_after_training() {
    let spec = local_level_spec(LikelihoodSpec::Normal {
        sigma_prior: Prior::HalfNormal { sigma: 1.0 },
    });
    let (n, nt) = (40, 32);
    let design = synthetic_design(&spec, n, nt);
    let model = MmmModel::new(&spec, &design).expect("model");
    let u: Vec<f64> = (0..model.dim())
        .map(|i| 0.6 * ((i * 7 + 3) as f64).sin())
        .collect();
    let theta = model.constrain(&u);
    let at = model
        .param_names()
        .iter()
        .position(|n| n == "level_sigma")
        .expect("level_sigma");
    // The level from its definition: sigma times the running sum of the steps, 0 at the first
    // period, its last training value after the window.
    let mut level = vec![0.0; n];
    let mut walk = 0.0;
    for t in 0..n {
        if (1..nt).contains(&t) {
            walk += theta[at + t];
        }
        level[t] = theta[at] * walk;
    }
    let mut got = vec![0.0; n];
    assert!(model.local_level(&theta, &mut got));
    for t in 0..n {
        assert!((got[t] - level[t]).abs() < 1e-12, "period {t}");
    }
    // The mean is the model without the level (sigma = 0) plus the level.
    let mut flat = theta.clone();
    flat[at] = 0.0;
    let (mut without, mut mu) = (vec![0.0; n], vec![0.0; n]);
    model.predict_mean(&flat, &[], &mut without);
    model.predict_mean(&theta, &[], &mut mu);
    for t in 0..n {
        assert!((mu[t] - without[t] - level[t]).abs() < 1e-12, "period {t}");
    }
    let sigma = model.sigma(&theta).expect("normal");
    let expected = prior_terms(&model, &theta, &[])
        + normal_log_likelihood(&design.target_scaled[..nt], &mu[..nt], sigma);
    assert_log_density(&model, &u, expected, "local level");
}

#[test]
fn holdout_predictive_variance_grows_with_the_walk() {
    let spec = local_level_spec(LikelihoodSpec::Normal {
        sigma_prior: Prior::HalfNormal { sigma: 1.0 },
    });
    let (n, nt) = (40, 32);
    let design = synthetic_design(&spec, n, nt);
    let model = MmmModel::new(&spec, &design).expect("model");
    let names = model.param_names();
    let at = names
        .iter()
        .position(|n| n == "level_sigma")
        .expect("sigma");
    let noise = names.iter().position(|n| n == "sigma").expect("noise");
    let mut u: Vec<f64> = (0..model.dim()).map(|i| 0.3 * (i as f64).cos()).collect();
    u[at] = 0.2f64.ln();
    u[noise] = 0.1f64.ln();
    let theta = model.constrain(&u);
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(8);
    let reps = 40_000;
    let (mut mean, mut out) = (vec![0.0; n], vec![0.0; n]);
    let (mut sum, mut sum2) = (vec![0.0; n], vec![0.0; n]);
    for _ in 0..reps {
        model.predictive_draw(&theta, &mut rng, &mut mean, &mut out);
        for t in 0..n {
            sum[t] += out[t];
            sum2[t] += out[t] * out[t];
        }
    }
    let mut expected = vec![0.0; n];
    model.predict_mean(&theta, &[], &mut expected);
    assert_eq!(
        expected, mean,
        "the expected target uses the flat forecast level"
    );
    for t in 0..n {
        let m = sum[t] / reps as f64;
        let v = sum2[t] / reps as f64 - m * m;
        // Var = sigma^2 + h sigma_level^2 for the h-th period after the training window.
        let h = t.saturating_sub(nt - 1) as f64;
        let var = 0.01 + h * 0.04;
        let se = (var / reps as f64).sqrt();
        assert!(
            (m - expected[t]).abs() < 5.0 * se,
            "t={t}: mean {m} vs {}",
            expected[t]
        );
        // The sample variance's relative standard error is sqrt(2 / reps) = 0.7%.
        assert!((v / var - 1.0).abs() < 0.05, "t={t}: variance {v} vs {var}");
    }
}
