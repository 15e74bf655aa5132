//! The geo hierarchy's log density: its definition and its gradient.

use std::collections::BTreeMap;

use mmm_core::Spec;
use mmm_core::spec::{GeoModelKind, GeoParameterization, GeoPooling, LikelihoodSpec};
use mmm_features::panel::{GeoDesign, GeoScales};
use mmm_model::MmmModel;
use mmm_model::geo::GeoModel;

use crate::gradient::check_density_gradient;
use crate::{fixture_spec, normal_log_likelihood, synthetic_design_seeded};

fn hierarchical(mut spec: Spec, curves: GeoPooling, seasonality: GeoPooling) -> Spec {
    spec.geo.model = GeoModelKind::Hierarchical;
    spec.geo.curves = curves;
    spec.geo.seasonality = seasonality;
    spec
}

/// Three geos with different synthetic data.
fn panel(spec: &Spec, n: usize, n_train: usize) -> GeoDesign {
    let geos: Vec<String> = ["east", "north", "west"].map(String::from).to_vec();
    let designs = (0..geos.len())
        .map(|g| synthetic_design_seeded(spec, n, n_train, 777 + 1000 * g as u64))
        .collect();
    GeoDesign {
        geos: geos.clone(),
        designs,
        scales: GeoScales {
            size: "none".into(),
            sizes: geos.iter().map(|g| (g.clone(), 1.0)).collect(),
            target: 1.0,
            channels: BTreeMap::new(),
            controls: BTreeMap::new(),
            method: "test".into(),
        },
    }
}

/// The hierarchy's gradient against finite differences at seeded points drawn uniformly from
/// [-half_width, half_width]^d.
fn check_geo_gradient(model: &GeoModel, seed: u64, half_width: f64) {
    let mut scratch = model.scratch();
    check_density_gradient(
        &model.param_names(),
        |u, grad| model.logp(u, grad, &mut scratch).expect("finite"),
        seed,
        half_width,
    );
}

/// `model`'s log density at `u` is `plain`'s plus exactly one lift-test term -z^2 / 2.
fn assert_adds_lift_term(model: &GeoModel, plain: &GeoModel, u: &[f64], z: f64) {
    let mut grad = vec![0.0; model.dim()];
    let got = model
        .logp(u, &mut grad, &mut model.scratch())
        .expect("finite");
    let base = plain
        .logp(u, &mut grad, &mut plain.scratch())
        .expect("finite");
    assert!(
        (got - base + 0.5 * z * z).abs() < 1e-9 * (1.0 + got.abs()),
        "{got} - {base} vs {}",
        -0.5 * z * z
    );
}

fn random_point(dim: usize, seed: u64) -> Vec<f64> {
    let mut state = seed;
    (0..dim)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 11) as f64) / ((1u64 << 53) as f64) * 1.6 - 0.8
        })
        .collect()
}

#[test]
fn geo_parameters_are_named_per_geo_and_pooled_as_the_spec_says() {
    let mut spec = hierarchical(fixture_spec(), GeoPooling::Shared, GeoPooling::Shared);
    spec.geo.intercept_parameterization = GeoParameterization::Centered;
    let model = GeoModel::new(&spec, &panel(&spec, 40, 30)).expect("model");
    let names = model.param_names();
    let national = MmmModel::new(&spec, &panel(&spec, 40, 30).designs[0])
        .expect("model")
        .param_names();
    assert_eq!(names[..national.len()], national[..]);
    for expected in [
        "intercept_geo_sd",
        "beta_geo_sd[x1]",
        "intercept[geo=east]",
        "beta_geo_z[geo=west,x2]",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    // Shared curves: no per-geo adstock; 1 intercept (centered: the geo values themselves)
    // + 2 betas (non-centered deviations) pooled over 3 geos.
    assert!(!names.iter().any(|n| n.starts_with("adstock_alpha_geo")));
    assert_eq!(model.dim(), national.len() + 3 + 3 * 3);

    let pooled = hierarchical(fixture_spec(), GeoPooling::Pooled, GeoPooling::Pooled);
    let model = GeoModel::new(&pooled, &panel(&pooled, 40, 30)).expect("model");
    let names = model.param_names();
    assert!(
        names
            .iter()
            .any(|n| n == "adstock_alpha_geo_z[geo=north,x1]")
    );
    // One spread for all Fourier coefficients.
    assert_eq!(
        names
            .iter()
            .filter(|n| n.as_str() == "seasonality_geo_sd")
            .count(),
        1
    );
    let fourier = national
        .iter()
        .filter(|n| n.starts_with("gamma_fourier"))
        .count();
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("gamma_fourier_geo_z"))
            .count(),
        3 * fourier
    );
}

/// log p(u) = sum of every global parameter's prior and log-Jacobian (a centered geo
/// intercept's prior being Normal(intercept, intercept_geo_sd)) + sum over geos of the Normal
/// likelihood at the geo's own parameters (u_g = mu + tau z_g for non-centered ones), computed
/// here from the geo's predicted mean.
#[test]
fn geo_log_density_equals_its_definition() {
    for parameterization in [
        GeoParameterization::Centered,
        GeoParameterization::NonCentered,
    ] {
        let mut spec = hierarchical(fixture_spec(), GeoPooling::Pooled, GeoPooling::Pooled);
        spec.geo.intercept_parameterization = parameterization;
        log_density_equals_its_definition(&spec);
    }
}

fn log_density_equals_its_definition(spec: &Spec) {
    let panel = panel(spec, 40, 30);
    let model = GeoModel::new(spec, &panel).expect("model");
    let names = model.param_names();
    let at = |name: &str| names.iter().position(|n| n == name).expect(name);
    for seed in [1, 2, 3] {
        let u = random_point(model.dim(), seed);
        let theta = model.constrain(&u);
        let mut expected = 0.0;
        for ((p, &t), name) in model.params().iter().zip(&theta).zip(&names) {
            if name.starts_with("intercept[geo=") {
                let (mean, sd) = (theta[at("intercept")], theta[at("intercept_geo_sd")]);
                expected += -sd.ln() - 0.5 * ((t - mean) / sd).powi(2);
                continue;
            }
            let x = t * p.sign;
            let (_, _, logj, _) = p.bijection.forward(p.bijection.inverse(x));
            expected += mmm_model::prior::log_prior(&p.prior, x).0 + logj;
        }
        let sigma_at = model
            .param_names()
            .iter()
            .position(|n| n == "sigma")
            .expect("sigma");
        for (g, design) in panel.designs.iter().enumerate() {
            let theta_g = model.geo_theta(&theta, g);
            let member = model.member(g);
            let mut mean = vec![0.0; design.len()];
            member.predict_mean(&theta_g, &[], &mut mean);
            let nt = design.n_train;
            expected +=
                normal_log_likelihood(&design.target_scaled[..nt], &mean[..nt], theta[sigma_at]);
            // The geo's parameters: the shared ones equal the global values, the pooled ones
            // are mu + tau z_g on the sampler's scale.
            let beta_at = model
                .param_names()
                .iter()
                .position(|n| n == "beta[x1]")
                .expect("beta");
            let tau = theta[model
                .param_names()
                .iter()
                .position(|n| n == "beta_geo_sd[x1]")
                .expect("sd")];
            let z = theta[model
                .param_names()
                .iter()
                .position(|n| *n == format!("beta_geo_z[geo={},x1]", panel.geos[g]))
                .expect("z")];
            let want = theta[beta_at] * (tau * z).exp();
            assert!(
                (theta_g[beta_at] - want).abs() < 1e-12 * want.abs().max(1.0),
                "geo beta {} vs {want}",
                theta_g[beta_at]
            );
            assert_eq!(theta_g[sigma_at], theta[sigma_at]);
        }
        let mut grad = vec![0.0; model.dim()];
        let got = model
            .logp(&u, &mut grad, &mut model.scratch())
            .expect("finite");
        assert!(
            (got - expected).abs() < 1e-9 * (1.0 + expected.abs()),
            "{got} vs {expected}"
        );
    }
}

#[test]
fn geo_gradient_matches_finite_differences() {
    for (curves, seasonality, intercept) in [
        (
            GeoPooling::Shared,
            GeoPooling::Shared,
            GeoParameterization::Centered,
        ),
        (
            GeoPooling::Pooled,
            GeoPooling::Pooled,
            GeoParameterization::Centered,
        ),
        (
            GeoPooling::Pooled,
            GeoPooling::Shared,
            GeoParameterization::NonCentered,
        ),
    ] {
        let mut spec = hierarchical(fixture_spec(), curves, seasonality);
        spec.geo.intercept_parameterization = intercept;
        let model = GeoModel::new(&spec, &panel(&spec, 30, 24)).expect("model");
        check_geo_gradient(&model, 11, 0.8);
    }
    // A log link: the geo's likelihood and its chain rule are the national model's.
    let mut spec = hierarchical(fixture_spec(), GeoPooling::Pooled, GeoPooling::Shared);
    spec.likelihood = LikelihoodSpec::Poisson;
    let mut panel = panel(&spec, 30, 24);
    for d in &mut panel.designs {
        d.scales.target = 50.0;
        for y in &mut d.target_scaled {
            *y = (*y * 50.0).round() / 50.0;
        }
    }
    let model = GeoModel::new(&spec, &panel).expect("model");
    check_geo_gradient(&model, 12, 0.5);
}

#[test]
fn geo_hierarchy_refuses_a_single_geo() {
    let spec = hierarchical(fixture_spec(), GeoPooling::Shared, GeoPooling::Shared);
    let mut one = panel(&spec, 30, 24);
    one.geos.truncate(1);
    one.designs.truncate(1);
    let err = GeoModel::new(&spec, &one).expect_err("one geo");
    assert!(err.to_string().contains("at least two geos"), "{err}");
}

/// A lift test naming a geo is a term of that geo's likelihood: the hierarchy's log density
/// rises by exactly -z^2 / 2 with z = (model lift in the geo - measured) / se, and its
/// gradient (through pooled curves and the geo's channel effect) matches finite differences.
#[test]
fn a_geo_lift_test_is_a_term_of_its_geos_likelihood() {
    let spec = hierarchical(fixture_spec(), GeoPooling::Pooled, GeoPooling::Shared);
    let panel = panel(&spec, 30, 24);
    let dates = &panel.designs[1].dates;
    let scale = panel.designs[1].scales.target;
    let mut with_test = spec.clone();
    with_test.lift_tests = vec![mmm_core::spec::LiftTestSpec {
        channel: "x1".into(),
        start: mmm_core::dates::iso(dates[6]),
        end: mmm_core::dates::iso(dates[11]),
        lift: 0.4 * scale,
        standard_error: 0.05 * scale,
        spend_change: -1.0,
        geo: Some("north".into()),
        geos: Vec::new(),
    }];
    let plain = GeoModel::new(&spec, &panel).expect("model");
    let model = GeoModel::new(&with_test, &panel).expect("model");
    assert_eq!(model.param_names(), plain.param_names());
    for seed in [4, 5] {
        let u = random_point(model.dim(), seed);
        let theta = model.constrain(&u);
        let lift = model
            .member(1)
            .lift_test_predictions(&model.geo_theta(&theta, 1));
        assert_eq!(lift.len(), 1, "the test belongs to north only");
        assert!(
            model
                .member(0)
                .lift_test_predictions(&model.geo_theta(&theta, 0))
                .is_empty()
        );
        let z = (lift[0] - 0.4) / 0.05;
        assert_adds_lift_term(&model, &plain, &u, z);
    }
    check_geo_gradient(&model, 13, 0.8);
    // A geo the data lacks is refused, naming it.
    let mut unknown = with_test.clone();
    unknown.lift_tests[0].geo = Some("south".into());
    let err = GeoModel::new(&unknown, &panel).expect_err("unknown geo");
    assert!(err.to_string().contains("'south' is not a geo"), "{err}");
}

/// A lift test over several geos is one likelihood term on their summed lift: the log
/// density rises by exactly -z^2 / 2 with z = (sum over the named geos of each geo's lift in
/// target units - measured) / se, each geo's lift computed apart (as a one-geo test), and the
/// gradient through every named geo's parameters matches finite differences.
#[test]
fn a_lift_test_over_several_geos_is_one_term_on_their_summed_lift() {
    let spec = hierarchical(fixture_spec(), GeoPooling::Shared, GeoPooling::Shared);
    let mut panel = panel(&spec, 30, 24);
    // Different target scales, so the geos' lifts add in target units, not model units.
    for (d, scale) in panel.designs.iter_mut().zip([100.0, 250.0, 400.0]) {
        d.scales.target = scale;
    }
    let dates = &panel.designs[0].dates;
    let test = mmm_core::spec::LiftTestSpec {
        channel: "x1".into(),
        start: mmm_core::dates::iso(dates[6]),
        end: mmm_core::dates::iso(dates[11]),
        lift: 150.0,
        standard_error: 20.0,
        spend_change: -1.0,
        geo: None,
        geos: vec!["east".into(), "west".into()],
    };
    let mut with_test = spec.clone();
    with_test.lift_tests = vec![test.clone()];
    assert!(
        with_test.problems().is_empty(),
        "{:?}",
        with_test.problems()
    );
    // The same window as a one-geo test in each geo, for each geo's lift on its own.
    let mut one_geo = spec.clone();
    one_geo.lift_tests = ["east", "west"]
        .map(|g| mmm_core::spec::LiftTestSpec {
            geo: Some(g.into()),
            geos: Vec::new(),
            ..test.clone()
        })
        .to_vec();
    let plain = GeoModel::new(&spec, &panel).expect("model");
    let model = GeoModel::new(&with_test, &panel).expect("model");
    let apart = GeoModel::new(&one_geo, &panel).expect("model");
    assert_eq!(model.param_names(), plain.param_names());
    for seed in [6, 7] {
        let u = random_point(model.dim(), seed);
        let theta = model.constrain(&u);
        let lift_in = |g: usize, scale: f64| {
            let lifts = apart
                .member(g)
                .lift_test_predictions(&apart.geo_theta(&theta, g));
            assert_eq!(lifts.len(), 1);
            lifts[0] * scale
        };
        let total = lift_in(0, 100.0) + lift_in(2, 400.0);
        assert!(total.abs() > 1e-6, "the window has spend");
        let predicted = model.lift_test_predictions(&theta);
        assert_eq!(predicted.len(), 1);
        assert!((predicted[0] - total).abs() < 1e-9 * total.abs().max(1.0));
        let z = (total - 150.0) / 20.0;
        assert_adds_lift_term(&model, &plain, &u, z);
    }
    check_geo_gradient(&model, 14, 0.8);
    // Pooled curves: the parts' gradients also reach every geo's curve deviations.
    let pooled = hierarchical(with_test.clone(), GeoPooling::Pooled, GeoPooling::Pooled);
    let model = GeoModel::new(&pooled, &panel).expect("model");
    check_geo_gradient(&model, 15, 0.8);

    // A geo the data lacks is refused, naming it; so is a window without spend in any geo.
    let mut unknown = with_test.clone();
    unknown.lift_tests[0].geos = vec!["east".into(), "south".into()];
    let err = GeoModel::new(&unknown, &panel).expect_err("unknown geo");
    assert!(
        err.to_string()
            .contains("lift_tests[0].geos: 'south' is not a geo"),
        "{err}"
    );
    let mut unspent = with_test.clone();
    let mut bare = panel.clone();
    for d in &mut bare.designs {
        d.channels[0][6..=11].fill(0.0);
    }
    unspent.lift_tests[0].lift = 1.0;
    let err = GeoModel::new(&unspent, &bare).expect_err("no spend");
    assert!(
        err.to_string().contains("no spend") && err.to_string().contains("east, west"),
        "{err}"
    );
}

/// Under a hierarchy every lift test names its geo or geos; a national model takes neither.
#[test]
fn lift_tests_name_a_geo_exactly_under_a_hierarchy() {
    let test = mmm_core::spec::LiftTestSpec {
        channel: "x1".into(),
        start: "2019-03-04".into(),
        end: "2019-03-25".into(),
        lift: 100.0,
        standard_error: 10.0,
        spend_change: -1.0,
        geo: None,
        geos: Vec::new(),
    };
    let mut spec = hierarchical(fixture_spec(), GeoPooling::Shared, GeoPooling::Shared);
    spec.lift_tests = vec![test.clone()];
    let problems = format!("{:?}", spec.problems());
    assert!(
        problems.contains("lift_tests[0].geo") && problems.contains("names the geo"),
        "{problems}"
    );
    let mut national = fixture_spec();
    national.lift_tests = vec![mmm_core::spec::LiftTestSpec {
        geo: Some("north".into()),
        ..test
    }];
    let problems = format!("{:?}", national.problems());
    assert!(
        problems.contains("lift_tests[0].geo") && problems.contains("the model is national"),
        "{problems}"
    );
    national.lift_tests[0].geo = None;
    national.lift_tests[0].geos = vec!["north".into(), "west".into()];
    let problems = format!("{:?}", national.problems());
    assert!(
        problems.contains("lift_tests[0].geos") && problems.contains("the model is national"),
        "{problems}"
    );
    // Under a hierarchy: one geo or several, not both; no geo twice.
    spec.lift_tests[0].geo = Some("north".into());
    spec.lift_tests[0].geos = vec!["north".into(), "north".into()];
    let problems = format!("{:?}", spec.problems());
    assert!(
        problems.contains("not both") && problems.contains("'north' appears twice"),
        "{problems}"
    );
}

/// The geo fixture panel with x1 under a ROAS prior on the typical geo, each geo's design in
/// original units (target scale 500, spend scales 40 and 70, sizes 1).
fn roas_panel(prior: mmm_core::spec::Prior, curves: GeoPooling) -> (Spec, GeoDesign) {
    let mut spec = hierarchical(fixture_spec(), curves, GeoPooling::Shared);
    spec.channels[0].roas_prior = Some(prior);
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    let mut panel = panel(&spec, 30, 24);
    for d in &mut panel.designs {
        d.scales.target = 500.0;
        d.scales.channels = [("x1".to_string(), 40.0), ("x2".to_string(), 70.0)].into();
    }
    (spec, panel)
}

/// The typical geo's training ROAS of channel c, computed apart from the hierarchy: a national
/// model on the geos' average spend, at the pooled means (the national part of `theta`).
fn typical_roas(spec: &Spec, panel: &GeoDesign, model: &GeoModel, theta: &[f64], c: usize) -> f64 {
    let mut plain = spec.clone();
    for ch in &mut plain.channels {
        ch.roas_prior = None;
    }
    let mut average = panel.designs[0].clone();
    let k = panel.designs.len() as f64;
    for (i, channel) in average.channels.iter_mut().enumerate() {
        for (t, v) in channel.iter_mut().enumerate() {
            *v = panel.designs.iter().map(|d| d.channels[i][t]).sum::<f64>() / k;
        }
    }
    let national = MmmModel::new(&plain, &average).expect("national");
    let mut term = vec![0.0; average.len()];
    national.channel_term(&theta[..model.member_dim()], c, &mut term);
    let nt = average.n_train;
    let name = &average.channel_names[c];
    term[..nt].iter().sum::<f64>() * average.scales.target
        / (average.channels[c][..nt].iter().sum::<f64>() * average.scales.channels[name])
}

/// A ROAS prior under the hierarchy replaces the typical beta's prior by the prior of the
/// typical geo's ROAS (computed apart, on the geos' average spend) with its Jacobian: the log
/// density moves by exactly log p(r) + ln r - (log p(beta) + ln beta); the gradient, through
/// the pooled mean, its spread and deviations and the curve, matches finite differences.
#[test]
fn a_geo_roas_prior_is_a_prior_on_the_typical_geos_roas() {
    use mmm_core::spec::Prior;
    let gamma = Prior::Gamma {
        shape: 4.0,
        rate: 2.0,
    };
    let log_normal = Prior::LogNormal {
        mu: 0.3,
        sigma: 0.5,
    };
    for (prior, curves) in [
        (log_normal, GeoPooling::Shared),
        (gamma, GeoPooling::Pooled),
    ] {
        let (spec, panel) = roas_panel(prior, curves);
        let mut plain_spec = spec.clone();
        plain_spec.channels[0].roas_prior = None;
        let model = GeoModel::new(&spec, &panel).expect("model");
        let plain = GeoModel::new(&plain_spec, &panel).expect("model");
        assert_eq!(model.param_names(), plain.param_names());
        let b = model
            .param_names()
            .iter()
            .position(|n| n == "beta[x1]")
            .expect("beta");
        for seed in [6, 7, 8] {
            let u = random_point(model.dim(), seed);
            let theta = model.constrain(&u);
            assert_eq!(theta, plain.constrain(&u), "same coordinates");
            let r = typical_roas(&spec, &panel, &model, &theta, 0);
            let beta = theta[b];
            let beta_prior = plain.params()[b].prior;
            let want = mmm_model::prior::log_prior(&prior, r).0 + r.ln()
                - mmm_model::prior::log_prior(&beta_prior, beta).0
                - beta.ln();
            let mut grad = vec![0.0; model.dim()];
            let got = model
                .logp(&u, &mut grad, &mut model.scratch())
                .expect("finite")
                - plain
                    .logp(&u, &mut grad, &mut plain.scratch())
                    .expect("finite");
            // Up to the dropped constant ln K, the same at every point.
            let ln_k = (r / (beta * typical_mean_curve(&spec, &panel, &model, &theta))).ln();
            assert!(
                (got - (want - ln_k)).abs() < 1e-9 * (1.0 + want.abs()),
                "{got} vs {want} - {ln_k}"
            );
        }
        check_geo_gradient(&model, 14, 0.8);
    }
}

/// The typical geo's mean training curve (the contribution per unit beta, model scale).
fn typical_mean_curve(spec: &Spec, panel: &GeoDesign, model: &GeoModel, theta: &[f64]) -> f64 {
    let b = model
        .param_names()
        .iter()
        .position(|n| n == "beta[x1]")
        .expect("beta");
    let d = &panel.designs[0];
    let nt = d.n_train as f64;
    // ROAS = beta m nt s_target / spend, so m = ROAS spend / (beta nt s_target).
    let spend: f64 = (0..d.n_train)
        .map(|t| panel.designs.iter().map(|g| g.channels[0][t]).sum::<f64>())
        .sum::<f64>()
        / panel.designs.len() as f64
        * d.scales.channels["x1"];
    typical_roas(spec, panel, model, theta, 0) * spend / (theta[b] * nt * d.scales.target)
}

/// Prior draws of the hierarchy put the typical geo's ROAS on its prior: ln r of 4000 draws
/// has the LogNormal prior's mean and variance within 4 Monte Carlo standard errors.
#[test]
fn geo_prior_draws_follow_the_roas_prior() {
    use mmm_model::rand::SeedableRng;
    let prior = mmm_core::spec::Prior::LogNormal {
        mu: 0.3,
        sigma: 0.5,
    };
    let (spec, panel) = roas_panel(prior, GeoPooling::Pooled);
    let model = GeoModel::new(&spec, &panel).expect("model");
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(9);
    let draws = 4000;
    let log_roas: Vec<f64> = (0..draws)
        .map(|_| {
            let u = model.sample_prior_unconstrained(&mut rng).expect("draw");
            typical_roas(&spec, &panel, &model, &model.constrain(&u), 0).ln()
        })
        .collect();
    crate::assert_normal_moments(&log_roas, 0.3, 0.5, "ln ROAS");
}

/// A geo ROAS prior needs an additive likelihood, as the national one does.
#[test]
fn a_geo_roas_prior_under_a_log_link_is_refused() {
    let (mut spec, mut panel) = roas_panel(
        mmm_core::spec::Prior::LogNormal {
            mu: 0.0,
            sigma: 1.0,
        },
        GeoPooling::Shared,
    );
    spec.likelihood = LikelihoodSpec::Poisson;
    for d in &mut panel.designs {
        for y in &mut d.target_scaled {
            *y = (*y * 500.0).round() / 500.0;
        }
    }
    let err = GeoModel::new(&spec, &panel)
        .expect_err("refused")
        .to_string();
    assert!(
        err.contains("roas_prior") && err.contains("additive"),
        "{err}"
    );
}

/// A start from named values (`init = "point"`) under the hierarchy: the named global values,
/// a pooled mean's and a geo deviation's included, survive the trip to the sampler's
/// coordinates and back exactly; the others come from the prior.
#[test]
fn a_named_start_keeps_its_values_through_the_sampler_coordinates() {
    use mmm_model::rand::SeedableRng;
    let spec = hierarchical(fixture_spec(), GeoPooling::Pooled, GeoPooling::Shared);
    let model = GeoModel::new(&spec, &panel(&spec, 30, 24)).expect("model");
    let named: BTreeMap<String, f64> = [
        ("beta[x1]".to_string(), 0.4),
        ("beta_geo_sd[x1]".to_string(), 0.3),
        ("beta_geo_z[geo=north,x1]".to_string(), -1.2),
        ("adstock_alpha[x2]".to_string(), 0.2),
    ]
    .into();
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(3);
    let point = model.theta_from_named(&named, &mut rng).expect("point");
    let theta = model.constrain(&model.unconstrain(&point.theta));
    let names = model.param_names();
    for (name, value) in &named {
        let j = names.iter().position(|n| n == name).expect(name);
        assert!(
            (theta[j] - value).abs() < 1e-12,
            "{name}: {} vs {value}",
            theta[j]
        );
    }
    assert!(theta.iter().all(|v| v.is_finite()));
    let mut grad = vec![0.0; model.dim()];
    assert!(
        model
            .logp(&model.unconstrain(&theta), &mut grad, &mut model.scratch())
            .is_ok()
    );
    let unknown: BTreeMap<String, f64> = [("beta_geo_z[geo=south,x1]".to_string(), 0.1)].into();
    let err = model
        .theta_from_named(&unknown, &mut rng)
        .expect_err("unknown")
        .to_string();
    assert!(err.contains("no parameter named"), "{err}");
}

/// `intercept_parameterization = "auto"`: geos at one level (as `size = "mean_target"` makes
/// them) get non-centered intercepts; geos whose levels differ by far more than the noise of a
/// level get centered ones; the explicit choices are kept whatever the data.
#[test]
fn auto_intercepts_are_centered_only_when_the_geo_levels_differ() {
    let spec = hierarchical(fixture_spec(), GeoPooling::Shared, GeoPooling::Shared);
    assert_eq!(
        spec.geo.intercept_parameterization,
        GeoParameterization::Auto
    );
    let centered_name = "intercept[geo=east]";
    let names =
        |spec: &Spec, panel: &GeoDesign| GeoModel::new(spec, panel).expect("model").param_names();
    // One level: every geo's training target rescaled to the same mean.
    let mut same = panel(&spec, 60, 52);
    for d in &mut same.designs {
        let m = d.target_scaled[..d.n_train].iter().sum::<f64>() / d.n_train as f64;
        d.target_scaled.iter_mut().for_each(|v| *v *= 0.5 / m);
    }
    assert!(!names(&spec, &same).iter().any(|n| n == centered_name));
    assert!(
        names(&spec, &same)
            .iter()
            .any(|n| n == "intercept_geo_z[geo=east]")
    );
    // Levels 0.3, 0.6 and 0.9 times the same series: far apart against the weekly noise.
    let mut apart = same.clone();
    for (g, d) in apart.designs.iter_mut().enumerate() {
        d.target_scaled
            .iter_mut()
            .for_each(|v| *v *= 0.6 * (g + 1) as f64);
    }
    assert!(names(&spec, &apart).iter().any(|n| n == centered_name));
    let mut forced = spec.clone();
    forced.geo.intercept_parameterization = GeoParameterization::NonCentered;
    assert!(!names(&forced, &apart).iter().any(|n| n == centered_name));
    forced.geo.intercept_parameterization = GeoParameterization::Centered;
    assert!(names(&forced, &same).iter().any(|n| n == centered_name));
}
