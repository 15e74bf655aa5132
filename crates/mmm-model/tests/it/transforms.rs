//! Every adstock family x saturation curve x order: exact gradients, the log density against
//! its definition from mmm-features' pure functions, and the model's public channel functions.

use mmm_core::Spec;
use mmm_core::spec::{AdstockSpec, LikelihoodSpec, Prior, SaturationSpec, TransformOrder};
use mmm_features::transforms::{Adstock, Saturation, convolve};
use mmm_model::MmmModel;

use crate::gradient::check_gradient;
use crate::{
    assert_log_density, fixture_spec, normal_log_likelihood, prior_terms, synthetic_design,
};

const L_MAX: usize = 6;

fn beta_prior() -> Prior {
    Prior::HalfNormal { sigma: 2.0 }
}

fn positive() -> Prior {
    Prior::Gamma {
        shape: 2.0,
        rate: 1.0,
    }
}

/// Beta(2, 2), a prior on (0, 1) (the power curve's exponent).
fn unit() -> Prior {
    Prior::Beta {
        alpha: 2.0,
        beta: 2.0,
    }
}

/// Every adstock family (with `normalize` where it has the choice).
pub fn adstocks(normalize: bool) -> Vec<AdstockSpec> {
    let alpha_prior = Prior::Beta {
        alpha: 1.0,
        beta: 3.0,
    };
    vec![
        AdstockSpec::Geometric {
            l_max: L_MAX,
            normalize,
            alpha_prior,
        },
        AdstockSpec::DelayedGeometric {
            l_max: L_MAX,
            normalize,
            alpha_prior,
            theta_prior: Prior::TruncatedNormal {
                mu: 1.0,
                sigma: 1.5,
                lower: 0.0,
                upper: (L_MAX - 1) as f64,
            },
        },
        AdstockSpec::WeibullCdf {
            l_max: L_MAX,
            normalize,
            shape_prior: positive(),
            scale_prior: positive(),
        },
        AdstockSpec::WeibullPdf {
            l_max: L_MAX,
            shape_prior: positive(),
            scale_prior: positive(),
        },
    ]
}

/// Every saturation curve with the coefficient prior `beta`.
pub fn saturations(beta: Prior) -> Vec<SaturationSpec> {
    vec![
        SaturationSpec::Logistic {
            lam_prior: positive(),
            beta_prior: beta,
        },
        SaturationSpec::Hill {
            k_prior: positive(),
            s_prior: positive(),
            beta_prior: beta,
        },
        SaturationSpec::Exponential {
            lam_prior: positive(),
            beta_prior: beta,
        },
        SaturationSpec::MichaelisMenten {
            k_prior: positive(),
            beta_prior: beta,
        },
        SaturationSpec::Tanh {
            c_prior: positive(),
            beta_prior: beta,
        },
        SaturationSpec::Log1p {
            lam_prior: positive(),
            beta_prior: beta,
        },
        SaturationSpec::Power {
            p_prior: unit(),
            beta_prior: beta,
        },
    ]
}

/// The fixture spec with channel 0 replaced by the given transforms (channel 1 stays on the
/// fused geometric + logistic path).
pub fn spec_with(adstock: AdstockSpec, saturation: SaturationSpec, order: TransformOrder) -> Spec {
    let spec = unchecked_spec_with(adstock, saturation, order);
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    spec
}

/// [`spec_with`] without validation (the model must still evaluate it).
fn unchecked_spec_with(
    adstock: AdstockSpec,
    saturation: SaturationSpec,
    order: TransformOrder,
) -> Spec {
    let mut spec = fixture_spec();
    spec.channels[0].adstock = adstock;
    spec.channels[0].saturation = saturation;
    spec.channels[0].order = order;
    spec
}

/// Every combination: (adstock, saturation, order), normalize alternating.
fn combinations(beta: Prior) -> Vec<(AdstockSpec, SaturationSpec, TransformOrder)> {
    let mut out = Vec::new();
    let mut k = 0;
    for order in [
        TransformOrder::AdstockFirst,
        TransformOrder::SaturationFirst,
    ] {
        for sat in saturations(beta) {
            for ad in adstocks(k % 2 == 0) {
                out.push((ad, sat.clone(), order));
                k += 1;
            }
        }
    }
    out
}

#[test]
fn every_combination_has_an_exact_gradient() {
    let combos = combinations(beta_prior());
    assert_eq!(combos.len(), 2 * 7 * 4);
    for (i, (ad, sat, order)) in combos.into_iter().enumerate() {
        let label = format!("{} + {} ({order:?})", ad.kind(), sat.kind());
        let spec = spec_with(ad, sat, order);
        let design = synthetic_design(&spec, 40, 34);
        let model = MmmModel::new(&spec, &design).expect("model");
        assert_eq!(model.dim(), spec.parameter_count(), "{label}");
        assert!(model.channel_layout(0).mean_coordinate, "{label}");
        assert_eq!(
            model.channel_layout(0).fused,
            label == "geometric + logistic (AdstockFirst)"
        );
        check_gradient(&model, 1000 + i as u64);
    }
}

/// The power curve x^p on spend with zero stretches: adstock first, the adstocked input is
/// exactly 0 there, where ds/dx = p x^(p-1) is unbounded (the curve returns a finite slope,
/// and the adstock derivative it multiplies is 0 there too). The log density and its gradient
/// stay finite and the gradient exact, for every adstock family and both orders.
#[test]
fn power_channel_with_zero_spend_has_a_finite_exact_gradient() {
    let power = SaturationSpec::Power {
        p_prior: unit(),
        beta_prior: beta_prior(),
    };
    let families = adstocks(true).into_iter().chain(adstocks(false));
    for (i, ad) in families.enumerate() {
        for order in [
            TransformOrder::AdstockFirst,
            TransformOrder::SaturationFirst,
        ] {
            let spec = spec_with(ad.clone(), power.clone(), order);
            let mut design = synthetic_design(&spec, 40, 34);
            for t in (0..8).chain(18..28) {
                design.channels[0][t] = 0.0;
            }
            let model = MmmModel::new(&spec, &design).expect("model");
            let (mut grad, mut scratch) = (vec![0.0; model.dim()], model.scratch());
            for u0 in [-3.0, 0.0, 2.0] {
                let u = vec![u0; model.dim()];
                let lp = model.logp(&u, &mut grad, &mut scratch).expect("finite");
                let label = format!("{} ({order:?}) at {u0}", ad.kind());
                assert!(lp.is_finite(), "{label}");
                assert!(grad.iter().all(|g| g.is_finite()), "{label}: {grad:?}");
            }
            check_gradient(&model, 900 + i as u64);
        }
    }
}

#[test]
fn plain_coordinates_and_count_likelihoods_have_exact_gradients() {
    // A bounded coefficient prior (which validation refuses: media coefficients live on
    // x > 0, so valid specs always use the mean-contribution coordinate when the channel has
    // training spend): beta is sampled on its own, the model's plain-coordinate path.
    let bounded = Prior::TruncatedNormal {
        mu: 0.5,
        sigma: 1.0,
        lower: 0.0,
        upper: 5.0,
    };
    for (i, (ad, sat, order)) in combinations(bounded).into_iter().enumerate().step_by(5) {
        let spec = unchecked_spec_with(ad, sat, order);
        let design = synthetic_design(&spec, 36, 36);
        let model = MmmModel::new(&spec, &design).expect("model");
        assert!(!model.channel_layout(0).mean_coordinate);
        check_gradient(&model, 77 + i as u64);
    }
    for (i, (ad, sat, order)) in combinations(beta_prior())
        .into_iter()
        .enumerate()
        .step_by(7)
    {
        let mut spec = spec_with(ad, sat, order);
        spec.likelihood = LikelihoodSpec::NegativeBinomial {
            phi_prior: positive(),
        };
        let mut design = synthetic_design(&spec, 36, 30);
        let counts: Vec<f64> = design
            .target_scaled
            .iter()
            .map(|v| (v * 30.0).round())
            .collect();
        design.scales.target = 30.0;
        design.target_scaled = counts.iter().map(|c| c / 30.0).collect();
        let model = MmmModel::new(&spec, &design).expect("model");
        check_gradient(&model, 500 + i as u64);
    }
}

/// Channel 0's curve (beta = 1) from mmm-features' pure functions, written independently of
/// the model: weights, convolution, saturation, in the channel's order.
fn curve_from_definition(model: &MmmModel, theta: &[f64], spend: &[f64]) -> Vec<f64> {
    let layout = model.channel_layout(0);
    let na = layout.adstock_params;
    let ap = &theta[layout.first..layout.first + na];
    let sp = &theta[layout.first + na..layout.beta];
    let (mut w, mut d0, mut d1) = (vec![0.0; L_MAX], vec![0.0; L_MAX], vec![0.0; L_MAX]);
    layout.adstock.weights(ap, &mut w, &mut d0, &mut d1);
    let mut out = vec![0.0; spend.len()];
    if layout.saturation_first {
        let sx: Vec<f64> = spend
            .iter()
            .map(|x| layout.saturation.value(*x, sp))
            .collect();
        convolve(&sx, &w, &mut out);
    } else {
        convolve(spend, &w, &mut out);
        for v in out.iter_mut() {
            *v = layout.saturation.value(*v, sp);
        }
    }
    out
}

#[test]
fn log_density_equals_its_definition_for_every_combination() {
    for (i, (ad, sat, order)) in combinations(beta_prior()).into_iter().enumerate() {
        let spec = spec_with(ad, sat, order);
        let (n, n_train) = (50, 42);
        let design = synthetic_design(&spec, n, n_train);
        let model = MmmModel::new(&spec, &design).expect("model");
        let u: Vec<f64> = (0..model.dim())
            .map(|j| 0.8 * ((j * 5 + i + 1) as f64).sin())
            .collect();
        let theta = model.constrain(&u);
        // Linear predictor from its parts: channel 0 from the pure functions, the rest
        // (intercept, regressors, the fused channel 1) from the model with channel 0 switched
        // off.
        let mut rest = vec![0.0; n];
        model.linear_predictor(&theta, &[0], &mut rest);
        let v = curve_from_definition(&model, &theta, &design.channels[0]);
        let beta = theta[model.channel_layout(0).beta];
        let sigma = model.sigma(&theta).expect("normal");
        let mu: Vec<f64> = (0..n_train).map(|t| rest[t] + beta * v[t]).collect();
        let expected = prior_terms(&model, &theta, &[])
            + normal_log_likelihood(&design.target_scaled[..n_train], &mu, sigma);
        assert_log_density(&model, &u, expected, &format!("combination {i}"));
    }
}

#[test]
fn public_channel_functions_agree_with_the_definition() {
    for (i, (ad, sat, order)) in combinations(beta_prior()).into_iter().enumerate() {
        let spec = spec_with(ad, sat, order);
        let n = 30;
        let design = synthetic_design(&spec, n, 25);
        let model = MmmModel::new(&spec, &design).expect("model");
        let u: Vec<f64> = (0..model.dim())
            .map(|j| 0.6 * ((j * 3 + i) as f64).cos())
            .collect();
        let theta = model.constrain(&u);
        // constrain and unconstrain are inverse (the mean-contribution coordinate included).
        for (a, b) in u.iter().zip(model.unconstrain(&theta)) {
            assert!((a - b).abs() < 1e-9, "combination {i}: {a} vs {b}");
        }
        let beta = theta[model.channel_layout(0).beta];
        let v = curve_from_definition(&model, &theta, &design.channels[0]);
        let mut term = vec![0.0; n];
        model.channel_term(&theta, 0, &mut term);
        for t in 0..n {
            assert!(
                (term[t] - beta * v[t]).abs() < 1e-12,
                "combination {i} t {t}"
            );
        }
        // Counterfactual: switching channel 0 off removes exactly its term (additive model).
        let (mut full, mut without) = (vec![0.0; n], vec![0.0; n]);
        model.predict_mean(&theta, &[], &mut full);
        model.predict_mean(&theta, &[0], &mut without);
        for t in 0..n {
            assert!((full[t] - without[t] - term[t]).abs() < 1e-12);
        }
        // Response curve: totals for multiplied spend equal the definition at m * spend.
        let spend: Vec<f64> = design.channels[0][..12].to_vec();
        let mults = [0.0, 0.5, 1.0, 2.5];
        let mut totals = [0.0; 4];
        model.channel_totals_for_multipliers(&theta, 0, &spend, &mults, &mut totals);
        let mut resp = [0.0; 4];
        model.response_totals_for_multipliers(&theta, 0, &spend, &mults, &mut resp);
        for (k, m) in mults.iter().enumerate() {
            let scaled: Vec<f64> = spend.iter().map(|x| m * x).collect();
            let want: f64 = beta
                * curve_from_definition(&model, &theta, &scaled)
                    .iter()
                    .sum::<f64>();
            assert!((totals[k] - want).abs() < 1e-11, "combination {i} m {m}");
            assert!((resp[k] - want).abs() < 1e-11);
            let mut plan = vec![0.0; scaled.len()];
            model.channel_term_for_spend(&theta, 0, &scaled, &mut plan);
            assert!((plan.iter().sum::<f64>() - want).abs() < 1e-11);
        }
        assert_eq!(model.carryover_periods(0), L_MAX);
    }
}

#[test]
fn parameter_names_follow_the_transforms() {
    let spec = spec_with(
        adstocks(true).remove(2),
        saturations(beta_prior()).remove(1),
        TransformOrder::SaturationFirst,
    );
    let design = synthetic_design(&spec, 20, 20);
    let model = MmmModel::new(&spec, &design).expect("model");
    let names = model.param_names();
    assert_eq!(
        &names[1..9],
        [
            "adstock_shape[x1]",
            "adstock_scale[x1]",
            "saturation_k[x1]",
            "saturation_s[x1]",
            "beta[x1]",
            "adstock_alpha[x2]",
            "saturation_lam[x2]",
            "beta[x2]",
        ]
    );
    assert_eq!(names[9], "gamma_control[event_1]");
    let layout = model.channel_layout(0);
    assert_eq!(layout.adstock, Adstock::WeibullCdf { normalize: true });
    assert_eq!(layout.saturation, Saturation::Hill);
    assert!(layout.saturation_first && !layout.fused);
    // Prior draws land inside every support and map back and forth.
    let mut rng = <mmm_model::rand::rngs::StdRng as mmm_model::rand::SeedableRng>::seed_from_u64(3);
    for _ in 0..50 {
        let u = model
            .sample_prior_unconstrained(&mut rng)
            .expect("prior draw");
        let theta = model.constrain(&u);
        assert!(theta.iter().all(|v| v.is_finite()));
        assert!(theta[1] > 0.0 && theta[2] > 0.0 && theta[3] > 0.0 && theta[4] > 0.0);
    }
}
