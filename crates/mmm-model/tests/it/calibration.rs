//! ROAS priors and lift-test likelihood terms: exact gradients, the density against its
//! definition built from independent pieces, and prior draws whose implied ROAS follows the
//! ROAS prior.

use mmm_core::Spec;
use mmm_core::spec::{LiftTestSpec, Prior, SaturationSpec};
use mmm_features::Design;
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;

use crate::gradient::check_gradient;
use crate::{
    assert_log_density, fixture_spec, normal_log_likelihood, prior_terms, synthetic_design,
};

const ROAS_PRIOR: Prior = Prior::LogNormal {
    mu: 0.5,
    sigma: 0.4,
};

/// The fixture spec with channel x1 (fused geometric + logistic) under a ROAS prior, channel
/// x2 on a Hill curve (general path), a lift test on each, and a 60-week design in original
/// units (target scale 500, spend scales 40 and 70).
fn calibrated(n_train: usize) -> (Spec, Design) {
    let mut spec = fixture_spec();
    spec.channels[0].roas_prior = Some(ROAS_PRIOR);
    spec.channels[1].saturation = SaturationSpec::Hill {
        k_prior: Prior::Gamma {
            shape: 2.0,
            rate: 2.0,
        },
        s_prior: Prior::Gamma {
            shape: 3.0,
            rate: 2.0,
        },
        beta_prior: Prior::HalfNormal { sigma: 1.0 },
    };
    let mut design = synthetic_design(&spec, 60, n_train);
    // Weeks from 2016-07-18 (day 17000 since 1970-01-01).
    let week = |k: i64| {
        (chrono::NaiveDate::from_ymd_opt(2016, 7, 18).expect("date")
            + chrono::Duration::days(7 * k))
        .format("%Y-%m-%d")
        .to_string()
    };
    spec.lift_tests = vec![
        LiftTestSpec {
            channel: "x1".into(),
            start: week(10),
            end: week(15),
            lift: 120.0,
            standard_error: 30.0,
            spend_change: -1.0,
            geo: None,
            geos: Vec::new(),
        },
        LiftTestSpec {
            channel: "x2".into(),
            start: week(30),
            end: week(33),
            lift: 40.0,
            standard_error: 25.0,
            spend_change: 0.5,
            geo: None,
            geos: Vec::new(),
        },
    ];
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    design.scales.target = 500.0;
    design.scales.channels = [("x1".to_string(), 40.0), ("x2".to_string(), 70.0)].into();
    (spec, design)
}

#[test]
fn roas_prior_and_lift_tests_have_exact_gradients() {
    let (spec, design) = calibrated(50);
    let model = MmmModel::new(&spec, &design).expect("model");
    check_gradient(&model, 11);
}

/// Channel c's term over every period with spend `spend` (scaled), from a model of a design
/// whose channel c carries that spend: an evaluation that shares no code with the lift test's
/// counterfactual input.
fn term_with_spend(
    spec: &Spec,
    design: &Design,
    theta: &[f64],
    c: usize,
    spend: &[f64],
) -> Vec<f64> {
    let mut d = design.clone();
    d.channels[c] = spend.to_vec();
    let mut s = spec.clone();
    s.lift_tests.clear();
    let m = MmmModel::new(&s, &d).expect("model");
    let mut out = vec![0.0; d.len()];
    m.channel_term(theta, c, &mut out);
    out
}

#[test]
fn calibrated_log_density_equals_its_definition() {
    let (spec, design) = calibrated(55);
    let model = MmmModel::new(&spec, &design).expect("model");
    let nt = 55;
    let u: Vec<f64> = (0..model.dim())
        .map(|i| 0.7 * ((i * 3 + 2) as f64).cos())
        .collect();
    let theta = model.constrain(&u);
    let beta_x1 = model.channel_layout(0).beta;
    // Every parameter's own prior and log-Jacobian, except x1's beta, whose density is the
    // ROAS prior moved to ln(mean contribution): p_roas(r) r, up to the constant ln K.
    let mut expected = prior_terms(&model, &theta, &[beta_x1]);
    let mut term = vec![0.0; design.len()];
    model.channel_term(&theta, 0, &mut term);
    let contribution: f64 = term[..nt].iter().sum::<f64>() * design.scales.target;
    let spend: f64 = design.channels[0][..nt].iter().sum::<f64>() * 40.0;
    let roas = contribution / spend;
    let k = nt as f64 * design.scales.target / spend;
    expected += mmm_model::prior::log_prior(&ROAS_PRIOR, roas).0 + roas.ln() - k.ln();
    let mut mu = vec![0.0; design.len()];
    model.predict_mean(&theta, &[], &mut mu);
    let sigma = model.sigma(&theta).expect("normal");
    expected += normal_log_likelihood(&design.target_scaled[..nt], &mu[..nt], sigma);
    let predictions = model.lift_test_predictions(&theta);
    for (i, test) in spec.lift_tests.iter().enumerate() {
        let c = spec
            .channels
            .iter()
            .position(|ch| ch.name == test.channel)
            .expect("channel");
        let first = mmm_core::dates::parse_day(&test.start).expect("date") - 17000;
        let last = mmm_core::dates::parse_day(&test.end).expect("date") - 17000;
        let window = (first / 7) as usize..=(last / 7) as usize;
        // The other arm: the window's spend changed by the test's fraction (x1 switched off,
        // x2 raised by half); the lift is the arm with more spend over the one with less.
        let observed = term_with_spend(&spec, &design, &theta, c, &design.channels[c]);
        let mut changed = design.channels[c].clone();
        for x in &mut changed[window.clone()] {
            *x *= 1.0 + test.spend_change;
        }
        let other = term_with_spend(&spec, &design, &theta, c, &changed);
        let (more, less) = match test.spend_change < 0.0 {
            true => (&observed, &other),
            false => (&other, &observed),
        };
        let lift: f64 = window.map(|t| more[t] - less[t]).sum::<f64>() * design.scales.target;
        assert!(lift > 0.0, "lift test {i}: more spend lifts the target");
        assert!(
            (predictions[i] * design.scales.target - lift).abs() < 1e-9 * (1.0 + lift.abs()),
            "lift test {i}: {} vs {lift}",
            predictions[i] * design.scales.target
        );
        let z = (lift - test.lift) / test.standard_error;
        expected -= 0.5 * z * z;
    }
    assert_log_density(&model, &u, expected, "calibrated");
}

#[test]
fn prior_draws_follow_the_roas_prior() {
    let (spec, design) = calibrated(60);
    let model = MmmModel::new(&spec, &design).expect("model");
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(5);
    let spend: f64 = design.channels[0].iter().sum::<f64>() * 40.0;
    let draws = 4000;
    let mut log_roas = Vec::with_capacity(draws);
    for _ in 0..draws {
        let u = model
            .sample_prior_unconstrained(&mut rng)
            .expect("prior draw");
        let theta = model.constrain(&u);
        let mut term = vec![0.0; design.len()];
        model.channel_term(&theta, 0, &mut term);
        log_roas.push((term.iter().sum::<f64>() * design.scales.target / spend).ln());
    }
    // ln r ~ Normal(0.5, 0.4).
    crate::assert_normal_moments(&log_roas, 0.5, 0.4, "ln ROAS");
}

#[test]
fn lift_tests_outside_the_training_window_or_without_spend_are_refused() {
    let (mut spec, mut design) = calibrated(50);
    let holdout_week = spec.lift_tests[0].start.clone();
    spec.lift_tests[0].start = "2017-09-04".into(); // week 59: in the holdout
    spec.lift_tests[0].end = "2017-09-04".into();
    let err = MmmModel::new(&spec, &design)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("lift_tests[0]") && err.contains("training window"),
        "{err}"
    );
    spec.lift_tests[0].start = holdout_week.clone();
    spec.lift_tests[0].end = holdout_week;
    design.channels[0][10] = 0.0;
    let err = MmmModel::new(&spec, &design)
        .expect_err("refused")
        .to_string();
    assert!(err.contains("no spend"), "{err}");
    let mut poisson = spec.clone();
    poisson.likelihood = mmm_core::spec::LikelihoodSpec::Poisson;
    let problems = poisson.problems();
    assert!(
        problems.iter().any(|p| p.path == "channels[0].roas_prior")
            && problems.iter().any(|p| p.path == "lift_tests[0].channel"),
        "{problems:?}"
    );
    // A spend change is a fraction >= -1 other than 0.
    for bad in [0.0, -1.5, f64::NAN, f64::INFINITY] {
        let mut s = spec.clone();
        s.lift_tests[1].spend_change = bad;
        let problems = s.problems();
        assert!(
            problems
                .iter()
                .any(|p| p.path == "lift_tests[1].spend_change"),
            "{bad}: {problems:?}"
        );
    }
}
