//! Every likelihood family: exact gradients, log densities against independent closed forms,
//! limits between families, predictive draws and the maps to and from the real line.

use mmm_core::Spec;
use mmm_core::spec::{LikelihoodSpec, Prior};
use mmm_features::Design;
use mmm_model::rand::SeedableRng;
use mmm_model::special::{digamma, erfc, ln_gamma};
use mmm_model::{Likelihood, MmmModel, ModelError};

use crate::gradient::check_gradient;
use crate::{fixture_spec, synthetic_design};

const GAMMA: Prior = Prior::Gamma {
    shape: 2.0,
    rate: 0.2,
};
const HALF: Prior = Prior::HalfNormal { sigma: 1.0 };

/// Every family, with priors on its extra parameters.
fn families() -> Vec<LikelihoodSpec> {
    vec![
        LikelihoodSpec::Normal { sigma_prior: HALF },
        LikelihoodSpec::StudentT {
            sigma_prior: HALF,
            nu_prior: GAMMA,
        },
        LikelihoodSpec::LogNormal { sigma_prior: HALF },
        LikelihoodSpec::Poisson,
        LikelihoodSpec::NegativeBinomial { phi_prior: GAMMA },
    ]
}

fn with_likelihood(likelihood: LikelihoodSpec) -> Spec {
    let mut spec = fixture_spec();
    spec.likelihood = likelihood;
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    spec
}

/// A synthetic design whose target fits `spec`'s likelihood: positive reals for the continuous
/// families, counts divided by their training max-abs (as the features stage scales them).
fn design_for(spec: &Spec, n: usize, n_train: usize) -> Design {
    let mut d = synthetic_design(spec, n, n_train);
    if matches!(
        spec.likelihood,
        LikelihoodSpec::Poisson | LikelihoodSpec::NegativeBinomial { .. }
    ) {
        let counts: Vec<f64> = d
            .target_scaled
            .iter()
            .enumerate()
            .map(|(t, v)| ((v * 40.0).round() + (t % 3) as f64).max(0.0))
            .collect();
        let s = counts[..n_train].iter().fold(0.0_f64, |m, c| m.max(*c));
        d.target_scaled = counts.iter().map(|c| c / s).collect();
        d.scales.target = s;
    }
    d
}

fn point(model: &MmmModel, k: usize) -> Vec<f64> {
    (0..model.dim())
        .map(|i| 0.7 * ((i * 5 + k * 3 + 1) as f64).sin())
        .collect()
}

#[test]
fn special_functions_match_known_values() {
    let pi = std::f64::consts::PI;
    assert!(ln_gamma(1.0).abs() < 1e-14);
    assert!(ln_gamma(2.0).abs() < 1e-14);
    assert!((ln_gamma(0.5) - 0.5 * pi.ln()).abs() < 1e-14);
    let fact9: f64 = (1..10).map(|k| (k as f64).ln()).sum();
    assert!((ln_gamma(10.0) - fact9).abs() < 1e-13);
    let fact170: f64 = (1..171).map(|k| (k as f64).ln()).sum();
    assert!((ln_gamma(171.0) - fact170).abs() < 1e-10 * fact170);
    // Recurrence lnG(x + 1) = lnG(x) + ln x at small and large arguments.
    for x in [1e-6, 0.013, 0.3, 0.77, 3.3, 47.5, 1e4, 1e7] {
        let lhs = ln_gamma(x + 1.0);
        let rhs = ln_gamma(x) + f64::ln(x);
        assert!((lhs - rhs).abs() < 1e-12 * (1.0 + lhs.abs()), "{x}");
    }
    let euler = 0.577_215_664_901_532_9;
    assert!((digamma(1.0) + euler).abs() < 1e-14);
    assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-14);
    // psi is the derivative of lnG.
    for x in [0.05, 0.9, 2.5, 9.99, 10.01, 123.4] {
        let h = 1e-5 * x;
        let fd = (ln_gamma(x + h) - ln_gamma(x - h)) / (2.0 * h);
        assert!((fd - digamma(x)).abs() < 1e-7 * (1.0 + fd.abs()), "{x}");
    }
    assert!(ln_gamma(-1.0).is_nan() && digamma(0.0).is_nan());
}

#[test]
fn every_likelihood_has_its_parameters_and_count() {
    for lik in families() {
        let spec = with_likelihood(lik);
        let model = MmmModel::new(&spec, &design_for(&spec, 40, 32)).expect("model");
        assert_eq!(model.dim(), spec.parameter_count());
        let names = model.param_names();
        let tail: Vec<&str> = names[names.len() - 2..]
            .iter()
            .map(String::as_str)
            .collect();
        match model.likelihood() {
            Likelihood::Normal | Likelihood::LogNormal => assert_eq!(tail[1], "sigma"),
            Likelihood::StudentT => assert_eq!(tail, ["sigma", "nu"]),
            Likelihood::Poisson => assert!(tail.iter().all(|n| n.starts_with("gamma_"))),
            Likelihood::NegativeBinomial => assert_eq!(tail[1], "phi"),
        }
    }
}

#[test]
fn every_likelihood_gradient_matches_finite_differences() {
    for (k, lik) in families().into_iter().enumerate() {
        let spec = with_likelihood(lik);
        let model = MmmModel::new(&spec, &design_for(&spec, 60, 50)).expect("model");
        check_gradient(&model, 17 + k as u64);
        // And without the centered intercept (an intercept prior bounded below).
        let mut spec = spec.clone();
        spec.intercept.prior = Prior::TruncatedNormal {
            mu: 0.0,
            sigma: 1.0,
            lower: -3.0,
            upper: f64::INFINITY,
        };
        let model = MmmModel::new(&spec, &design_for(&spec, 60, 50)).expect("model");
        check_gradient(&model, 31 + k as u64);
    }
}

/// The log pmf / density of one observation by independent closed forms: factorials and the
/// gamma-function ratio as products, the Student-t kernel with its normalizing constant.
fn independent_log_density(lik: &LikelihoodSpec, y: f64, eta: f64, s: f64, extra: &[f64]) -> f64 {
    let ln_fact = |k: f64| (1..=k as u64).map(|j| (j as f64).ln()).sum::<f64>();
    let pi = std::f64::consts::PI;
    match lik {
        LikelihoodSpec::Normal { .. } => {
            let sigma = extra[0];
            let z = (y - eta) / sigma;
            -(sigma * (2.0 * pi).sqrt()).ln() - 0.5 * z * z
        }
        LikelihoodSpec::StudentT { .. } => {
            let (sigma, nu) = (extra[0], extra[1]);
            let z = (y - eta) / sigma;
            ln_gamma(0.5 * (nu + 1.0))
                - ln_gamma(0.5 * nu)
                - 0.5 * (nu * pi).ln()
                - sigma.ln()
                - 0.5 * (nu + 1.0) * (1.0 + z * z / nu).ln()
        }
        LikelihoodSpec::LogNormal { .. } => {
            let sigma = extra[0];
            let z = (y.ln() - eta) / sigma;
            -(y * sigma * (2.0 * pi).sqrt()).ln() - 0.5 * z * z
        }
        LikelihoodSpec::Poisson => {
            let k = (y * s).round();
            let m = s * eta.exp();
            k * m.ln() - m - ln_fact(k)
        }
        LikelihoodSpec::NegativeBinomial { .. } => {
            let phi = extra[0];
            let k = (y * s).round();
            let m = s * eta.exp();
            // Gamma(k + phi) / Gamma(phi) = prod_{j<k} (phi + j)
            let ratio: f64 = (0..k as u64).map(|j| (phi + j as f64).ln()).sum();
            ratio - ln_fact(k) + phi * (phi / (m + phi)).ln() + k * (m / (m + phi)).ln()
        }
    }
}

#[test]
fn log_density_equals_its_definition_for_every_likelihood() {
    for lik in families() {
        let spec = with_likelihood(lik.clone());
        let (n, n_train) = (60, 48);
        let design = design_for(&spec, n, n_train);
        let model = MmmModel::new(&spec, &design).expect("model");
        let d = model.dim();
        let s = design.scales.target;
        let mut eta = vec![0.0; n];
        let mut definition = |u: &[f64], pointwise: &mut Vec<f64>| -> f64 {
            let theta = model.constrain(u);
            let mut lp = crate::prior_terms(&model, &theta, &[]);
            model.linear_predictor(&theta, &[], &mut eta);
            let extra = &theta[3 * spec.channels.len() + 1 + model.regressor_count()..];
            pointwise.clear();
            for (t, (y, e)) in design.target_scaled.iter().zip(&eta).enumerate().take(n) {
                let v = independent_log_density(&lik, *y, *e, s, extra);
                pointwise.push(v);
                if t < n_train {
                    lp += v;
                }
            }
            lp
        };
        let (u1, u2) = (point(&model, 1), point(&model, 2));
        let mut grad = vec![0.0; d];
        let mut scratch = model.scratch();
        let got = model.logp(&u1, &mut grad, &mut scratch).expect("finite")
            - model.logp(&u2, &mut grad, &mut scratch).expect("finite");
        let mut pw = Vec::new();
        let want = definition(&u1, &mut pw) - definition(&u2, &mut pw);
        assert!(
            (got - want).abs() < 1e-8 * (1.0 + want.abs()),
            "{lik:?}: {got} vs {want}"
        );
        // Pointwise log likelihoods are the full, normalized densities.
        let theta = model.constrain(&u2);
        let (mut buf, mut out) = (vec![0.0; n], vec![0.0; n]);
        model.pointwise_log_likelihood(&theta, &mut buf, &mut out);
        for (a, b) in out.iter().zip(&pw) {
            assert!(
                (a - b).abs() < 1e-9 * (1.0 + b.abs()),
                "{lik:?}: {a} vs {b}"
            );
        }
    }
}

fn pointwise(spec: &Spec, design: &Design, theta: &[f64]) -> Vec<f64> {
    let model = MmmModel::new(spec, design).expect("model");
    let n = design.len();
    let (mut buf, mut out) = (vec![0.0; n], vec![0.0; n]);
    model.pointwise_log_likelihood(theta, &mut buf, &mut out);
    out
}

#[test]
fn student_t_with_many_degrees_of_freedom_is_normal_and_one_is_cauchy() {
    let normal = with_likelihood(LikelihoodSpec::Normal { sigma_prior: HALF });
    let t = with_likelihood(LikelihoodSpec::StudentT {
        sigma_prior: HALF,
        nu_prior: GAMMA,
    });
    let design = design_for(&normal, 30, 30);
    let model_n = MmmModel::new(&normal, &design).expect("model");
    let theta_n = model_n.constrain(&point(&model_n, 3));
    let base = pointwise(&normal, &design, &theta_n);
    let with_nu = |nu: f64| {
        let mut th = theta_n.clone();
        th.push(nu);
        pointwise(&t, &design, &th)
    };
    let big = with_nu(1e9);
    for (a, b) in big.iter().zip(&base) {
        assert!((a - b).abs() < 2e-5, "{a} vs {b}");
    }
    // nu = 1: the Cauchy density 1 / (pi sigma (1 + z^2)).
    let sigma = model_n.sigma(&theta_n).expect("sigma");
    let mut mu = vec![0.0; 30];
    model_n.predict_mean(&theta_n, &[], &mut mu);
    for ((got, y), m) in with_nu(1.0).iter().zip(&design.target_scaled).zip(&mu) {
        let z = (y - m) / sigma;
        let want = -(std::f64::consts::PI * sigma * (1.0 + z * z)).ln();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }
}

#[test]
fn negative_binomial_with_large_dispersion_is_poisson() {
    let poisson = with_likelihood(LikelihoodSpec::Poisson);
    let nb = with_likelihood(LikelihoodSpec::NegativeBinomial { phi_prior: GAMMA });
    let design = design_for(&poisson, 30, 30);
    let mp = MmmModel::new(&poisson, &design).expect("model");
    let theta = mp.constrain(&point(&mp, 4));
    let base = pointwise(&poisson, &design, &theta);
    let mut th = theta.clone();
    th.push(1e8);
    let close = pointwise(&nb, &design, &th);
    for (a, b) in close.iter().zip(&base) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    // Their probabilities over all counts sum to one (here at a mean of 3.7 counts).
    let y: Vec<f64> = (0..200).map(f64::from).collect();
    for phi in [0.5, 3.0, 1e6] {
        let total: f64 = y
            .iter()
            .map(|&k| {
                independent_log_density(
                    &LikelihoodSpec::NegativeBinomial { phi_prior: GAMMA },
                    k,
                    3.7f64.ln(),
                    1.0,
                    &[phi],
                )
                .exp()
            })
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "phi {phi}: {total}");
    }
}

#[test]
fn predictive_draws_have_the_model_mean_and_variance() {
    for lik in families() {
        let spec = with_likelihood(lik.clone());
        let n = 12;
        let design = design_for(&spec, n, n);
        let model = MmmModel::new(&spec, &design).expect("model");
        let mut u = point(&model, 5);
        // Moderate noise, and nu > 4 so the sample variance converges.
        let d = model.dim();
        match lik {
            LikelihoodSpec::StudentT { .. } => {
                u[d - 2] = 0.3f64.ln();
                u[d - 1] = 2.5;
            }
            LikelihoodSpec::Normal { .. } | LikelihoodSpec::LogNormal { .. } => {
                u[d - 1] = 0.3f64.ln();
            }
            _ => {}
        }
        let theta = model.constrain(&u);
        let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(5);
        let reps = 40_000;
        let (mut mean, mut out) = (vec![0.0; n], vec![0.0; n]);
        let (mut sum, mut sum2) = (vec![0.0; n], vec![0.0; n]);
        for _ in 0..reps {
            model.predictive_draw(&theta, &mut rng, &mut mean, &mut out);
            for t in 0..n {
                sum[t] += out[t];
                sum2[t] += out[t] * out[t];
                if matches!(
                    lik,
                    LikelihoodSpec::Poisson | LikelihoodSpec::NegativeBinomial { .. }
                ) {
                    let k = out[t] * design.scales.target;
                    assert!((k - k.round()).abs() < 1e-9, "count {k}");
                }
            }
        }
        let mut expected = vec![0.0; n];
        model.predict_mean(&theta, &[], &mut expected);
        for t in 0..n {
            assert_eq!(expected[t], mean[t]);
            let m = sum[t] / reps as f64;
            let v = sum2[t] / reps as f64 - m * m;
            let var = model.predictive_variance(&theta, expected[t]);
            // Five standard errors of the mean; the variance within 10 percent.
            let se = (var / reps as f64).sqrt();
            assert!(
                (m - expected[t]).abs() < 5.0 * se,
                "{lik:?} t={t}: mean {m} vs {}",
                expected[t]
            );
            assert!(
                (v / var - 1.0).abs() < 0.1,
                "{lik:?}: variance {v} vs {var}"
            );
        }
    }
}

#[test]
fn constrain_and_unconstrain_are_inverse_for_every_likelihood() {
    for lik in families() {
        let spec = with_likelihood(lik.clone());
        let model = MmmModel::new(&spec, &design_for(&spec, 30, 30)).expect("model");
        let u = point(&model, 6);
        let back = model.unconstrain(&model.constrain(&u));
        for (a, b) in u.iter().zip(&back) {
            assert!((a - b).abs() < 1e-10, "{lik:?}");
        }
        let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(9);
        for _ in 0..20 {
            let u = model
                .sample_prior_unconstrained(&mut rng)
                .expect("prior draw");
            let mut grad = vec![0.0; model.dim()];
            let theta = model.constrain(&u);
            let noise = &theta[model.dim() - 1];
            assert!(*noise > 0.0 || matches!(lik, LikelihoodSpec::Poisson));
            // A prior draw is a point where the density is finite or cleanly rejected.
            let _ = model.logp(&u, &mut grad, &mut model.scratch());
        }
    }
}

#[test]
fn targets_outside_a_likelihoods_domain_are_typed_errors() {
    let spec = with_likelihood(LikelihoodSpec::LogNormal { sigma_prior: HALF });
    let mut design = design_for(&spec, 20, 20);
    design.target_scaled[3] = 0.0;
    assert!(matches!(
        MmmModel::new(&spec, &design),
        Err(ModelError::Mismatch(m)) if m.contains("positive")
    ));
    let spec = with_likelihood(LikelihoodSpec::Poisson);
    let mut design = design_for(&spec, 20, 20);
    design.target_scaled[2] += 0.3 / design.scales.target;
    assert!(matches!(
        MmmModel::new(&spec, &design),
        Err(ModelError::Mismatch(m)) if m.contains("integer")
    ));
    design.target_scaled[2] = -1.0 / design.scales.target;
    assert!(MmmModel::new(&spec, &design).is_err());
}

#[test]
fn erfc_matches_the_c_library_to_1e_14_relative() {
    // Python's math.erfc (the C library's), from the tail to the far tail.
    let reference = [
        (-3.0, 1.999_977_909_503_001_5),
        (-1.0, 1.842_700_792_949_715),
        (-0.2, 1.222_702_589_210_478_6),
        (0.0, 1.0),
        (0.1, 0.887_537_083_981_715_2),
        (0.5, 0.479_500_122_186_953_5),
        (1.0, 0.157_299_207_050_285_13),
        (1.2, 0.089_686_021_770_364_65),
        (1.3, 0.065_992_055_059_347_55),
        (2.0, 0.004_677_734_981_047_265),
        (3.0, 2.209_049_699_858_543_8e-5),
        (5.0, 1.537_459_794_428_035_1e-12),
        (10.0, 2.088_487_583_762_545e-45),
        (26.0, 5.663_192_408_856_143e-296),
    ];
    for (x, want) in reference {
        let got = erfc(x);
        assert!(
            (got - want).abs() <= 1e-14 * want,
            "erfc({x}) = {got}, want {want}"
        );
    }
    assert!(erfc(f64::NAN).is_nan());
    assert_eq!(erfc(f64::INFINITY), 0.0);
    assert_eq!(erfc(f64::NEG_INFINITY), 2.0);
}
