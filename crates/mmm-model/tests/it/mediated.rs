//! Mediators: the joint density is the target's plus the mediator equation's, its gradient is
//! exact, and switching a channel off removes its mediated effect too.

use mmm_core::Spec;
use mmm_core::spec::{ControlRole, ControlSpec, ExpectedSign, MediatorSpec, Prior};
use mmm_features::Design;
use mmm_model::MmmModel;

use crate::gradient::check_gradient;
use crate::{fixture_spec, synthetic_design};

/// The fixture with a mediator `awareness` that channel x1 moves.
fn mediated_spec() -> Spec {
    let mut spec = fixture_spec();
    spec.mediators.push(MediatorSpec {
        name: "awareness".into(),
        channels: vec!["x1".into()],
        effect_prior: Prior::HalfNormal { sigma: 2.0 },
        expected_sign: ExpectedSign::Positive,
        beta_prior: Prior::HalfNormal { sigma: 1.0 },
        intercept_prior: Prior::Normal {
            mu: 0.0,
            sigma: 2.0,
        },
        sigma_prior: Prior::HalfNormal { sigma: 2.0 },
    });
    assert!(spec.problems().is_empty(), "{:?}", spec.problems());
    spec
}

/// The design's regressor `mediator[awareness]` as the mediator's series.
fn mediator_index(design: &Design) -> usize {
    design
        .regressor_names
        .iter()
        .position(|n| n == "mediator[awareness]")
        .expect("mediator column")
}

/// The target equation alone: the mediator as a positive control with the effect prior.
fn target_only(spec: &Spec, design: &Design) -> MmmModel {
    let mut t = spec.clone();
    t.mediators.clear();
    t.controls.push(ControlSpec {
        name: "awareness".into(),
        expected_sign: ExpectedSign::Positive,
        prior: Prior::HalfNormal { sigma: 2.0 },
        scale: false,
        role: ControlRole::Unspecified,
    });
    let mut d = design.clone();
    let k = mediator_index(design);
    d.regressor_names[k] = "control[awareness]".into();
    MmmModel::new(&t, &d).expect("target model")
}

/// The mediator equation alone, its design written out by hand.
fn mediator_only(spec: &Spec, design: &Design) -> MmmModel {
    let sub = spec.mediator_spec(0).expect("mediator spec");
    let names = mmm_features::regressor_names(&sub);
    let column = |n: &String| {
        let i = design.regressor_names.iter().position(|r| r == n).expect(n);
        design.regressors[i].clone()
    };
    let d = Design {
        target_scaled: design.regressors[mediator_index(design)].clone(),
        channel_names: vec!["x1".into()],
        channels: vec![design.channels[0].clone()],
        regressors: names.iter().map(column).collect(),
        regressor_names: names,
        ..design.clone()
    };
    MmmModel::new(&sub, &d).expect("mediator model")
}

#[test]
fn joint_gradient_matches_finite_differences() {
    let spec = mediated_spec();
    let design = synthetic_design(&spec, 60, 50);
    let model = MmmModel::new(&spec, &design).expect("model");
    let names = model.param_names();
    assert!(names.contains(&"gamma_mediator[awareness]".to_string()));
    assert!(names.contains(&"mediator[awareness].beta[x1]".to_string()));
    assert!(!names.contains(&"mediator[awareness].beta[x2]".to_string()));
    check_gradient(&model, 17);
}

#[test]
fn joint_density_is_the_target_equation_plus_the_mediator_equation() {
    let spec = mediated_spec();
    let design = synthetic_design(&spec, 60, 50);
    let joint = MmmModel::new(&spec, &design).expect("model");
    let (target, mediator) = (target_only(&spec, &design), mediator_only(&spec, &design));
    assert_eq!(joint.dim(), target.dim() + mediator.dim());
    let p = target.dim();
    for seed in 0..5 {
        let u: Vec<f64> = (0..joint.dim())
            .map(|i| 0.8 * ((i * 13 + seed * 7) as f64).sin())
            .collect();
        let lp = |m: &MmmModel, u: &[f64]| {
            let mut g = vec![0.0; m.dim()];
            m.logp(u, &mut g, &mut m.scratch()).expect("finite")
        };
        let expected = lp(&target, &u[..p]) + lp(&mediator, &u[p..]);
        let got = lp(&joint, &u);
        assert!(
            (got - expected).abs() < 1e-9 * (1.0 + expected.abs()),
            "{got} vs {expected}"
        );
        let theta = joint.constrain(&u);
        let back = joint.unconstrain(&theta);
        assert!(u.iter().zip(&back).all(|(a, b)| (a - b).abs() < 1e-9));
    }
}

#[test]
fn switching_a_mediated_channel_off_removes_its_direct_and_mediated_effect() {
    let spec = mediated_spec();
    let design = synthetic_design(&spec, 50, 50);
    let joint = MmmModel::new(&spec, &design).expect("model");
    let mediator = mediator_only(&spec, &design);
    let p = joint.dim() - mediator.dim();
    let u: Vec<f64> = (0..joint.dim()).map(|i| 0.3 * (i as f64).cos()).collect();
    let theta = joint.constrain(&u);
    let gamma = theta[joint
        .param_names()
        .iter()
        .position(|n| n == "gamma_mediator[awareness]")
        .expect("gamma")];
    let n = 50;
    let (mut full, mut without, mut direct, mut through) =
        (vec![0.0; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    joint.predict_mean(&theta, &[], &mut full);
    joint.predict_mean(&theta, &[0], &mut without);
    joint.direct_term(&theta, 0, &mut direct);
    mediator.channel_term(&theta[p..], 0, &mut through);
    let mut total = vec![0.0; n];
    joint.channel_term(&theta, 0, &mut total);
    for t in 0..n {
        let expected = direct[t] + gamma * through[t];
        assert!(through[t] > 0.0);
        assert!((full[t] - without[t] - expected).abs() < 1e-12);
        assert!((total[t] - expected).abs() < 1e-12);
    }
    // x2 acts directly only: its total is its direct term.
    joint.predict_mean(&theta, &[1], &mut without);
    joint.direct_term(&theta, 1, &mut direct);
    for t in 0..n {
        assert!((full[t] - without[t] - direct[t]).abs() < 1e-12);
    }
    let mediated = joint.mediated_contributions(&theta, 0..n);
    assert!((mediated[0] - gamma * through.iter().sum::<f64>()).abs() < 1e-10);
    assert_eq!(mediated[1], 0.0);
}

#[test]
fn response_curves_add_the_mediated_curve() {
    let spec = mediated_spec();
    let design = synthetic_design(&spec, 40, 40);
    let joint = MmmModel::new(&spec, &design).expect("model");
    let (target, mediator) = (target_only(&spec, &design), mediator_only(&spec, &design));
    let p = target.dim();
    let u: Vec<f64> = (0..joint.dim())
        .map(|i| 0.2 * (i as f64 * 0.7).sin())
        .collect();
    let theta = joint.constrain(&u);
    let gamma = theta[joint
        .param_names()
        .iter()
        .position(|n| n == "gamma_mediator[awareness]")
        .expect("gamma")];
    let spend = joint.channel_spend(0)[..40].to_vec();
    let grid = [0.0, 0.5, 1.0, 1.5];
    let (mut total, mut direct, mut sub) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
    joint.response_totals_for_multipliers(&theta, 0, &spend, &grid, &mut total);
    target.response_totals_for_multipliers(&theta[..p], 0, &spend, &grid, &mut direct);
    mediator.response_totals_for_multipliers(&theta[p..], 0, &spend, &grid, &mut sub);
    for i in 0..grid.len() {
        let expected = direct[i] + gamma * sub[i];
        assert!(sub[i] >= 0.0);
        assert!(
            (total[i] - expected).abs() < 1e-10,
            "{} vs {expected}",
            total[i]
        );
    }
    assert!(sub[3] > sub[1]);
}
