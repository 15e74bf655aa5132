//! Decisions of a model with a mediator: a mediated channel's contribution, curve and plan lift
//! are its direct part plus gamma times its part in the mediator's equation, and the
//! decomposition still adds up to the prediction.

use std::collections::BTreeMap;

use mmm_core::Spec;
use mmm_decisions::decompose;
use mmm_decisions::plan::PlanModel;
use mmm_features::{Design, Scales};
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;

const SPEC: &str = r#"
[data]
date_column = "d"
target = "y"
[[channels]]
name = "c0"
[[channels]]
name = "c1"
[[controls]]
name = "z"
[[mediators]]
name = "m"
channels = ["c0"]
"#;

fn design(n: usize) -> Design {
    let spend = vec![
        (0..n).map(|t| 0.3 + 0.2 * ((t % 4) as f64)).collect(),
        (0..n).map(|t| if t % 3 == 0 { 0.0 } else { 0.8 }).collect(),
    ];
    let names = ["c0".to_string(), "c1".to_string()];
    Design {
        dates: (0..n as i32).map(|t| 17_000 + 7 * t).collect(),
        n_train: n,
        target_scaled: (0..n).map(|t| 0.5 + 0.1 * ((t * 7) % 5) as f64).collect(),
        channel_names: names.to_vec(),
        channels: spend,
        regressor_names: vec!["control[z]".into(), "mediator[m]".into()],
        regressors: vec![
            (0..n).map(|t| ((t as f64) * 0.9).sin()).collect(),
            (0..n)
                .map(|t| 0.7 + 0.05 * ((t as f64) * 0.4).cos())
                .collect(),
        ],
        scales: Scales {
            target: 40.0,
            channels: names.iter().map(|n| (n.clone(), 100.0)).collect(),
            controls: BTreeMap::from([("z".to_string(), 1.0), ("m".to_string(), 1.0)]),
            train_rows: n,
            holdout_rows: 0,
            method: "test".into(),
        },
        carry_in: Default::default(),
    }
}

/// The target equation alone (the mediator as a positive control) and the mediator's alone.
fn parts(spec: &Spec, d: &Design) -> (MmmModel, MmmModel) {
    let mut target = spec.clone();
    target.mediators.clear();
    target.controls.push(mmm_core::spec::ControlSpec {
        name: "m".into(),
        expected_sign: mmm_core::spec::ExpectedSign::Positive,
        prior: spec.mediators[0].effect_prior,
        scale: false,
        role: Default::default(),
    });
    let mut td = d.clone();
    td.regressor_names[1] = "control[m]".into();
    let sub = spec.mediator_spec(0).expect("mediator");
    let md = Design {
        target_scaled: d.regressors[1].clone(),
        channel_names: vec!["c0".into()],
        channels: vec![d.channels[0].clone()],
        regressor_names: Vec::new(),
        regressors: Vec::new(),
        ..d.clone()
    };
    (
        MmmModel::new(&target, &td).expect("target"),
        MmmModel::new(&sub, &md).expect("mediator"),
    )
}

fn draws(model: &MmmModel) -> Vec<Vec<f64>> {
    let mut rng = mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(3);
    (0..6)
        .map(|_| {
            let u = model.sample_prior_unconstrained(&mut rng).expect("prior");
            model.constrain(&u)
        })
        .collect()
}

#[test]
fn decomposition_adds_up_and_counts_the_mediated_effect_once() {
    let spec = Spec::from_toml_str(SPEC).expect("spec");
    let (n, d) = (24, design(24));
    let model = MmmModel::new(&spec, &d).expect("model");
    let th = draws(&model);
    let dec = decompose::decompose(&model, &d, &th).expect("adds up");
    let at = |name: &str| dec.names.iter().position(|c| c == name).expect(name);
    let (c0, m) = (at("c0"), at("mediator[m]"));
    let gamma_at = model
        .param_names()
        .iter()
        .position(|p| p == "gamma_mediator[m]")
        .expect("gamma");
    let (mut full, mut without, mut mediated) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
    for (k, theta) in th.iter().enumerate() {
        model.predict_mean(theta, &[], &mut full);
        model.predict_mean(theta, &[0], &mut without);
        model.mediated_term(theta, 0, &mut mediated);
        for t in 0..n {
            let total = (full[t] - without[t]) * 40.0;
            assert!((dec.series[c0][t][k] - total).abs() < 1e-9 * (1.0 + total.abs()));
            // The mediator's component is gamma times its part not driven by the channels.
            let rest = (theta[gamma_at] * d.regressors[1][t] - mediated[t]) * 40.0;
            assert!((dec.series[m][t][k] - rest).abs() < 1e-9 * (1.0 + rest.abs()));
        }
    }
}

#[test]
fn plan_lift_and_curves_are_direct_plus_gamma_times_the_mediator_s() {
    let spec = Spec::from_toml_str(SPEC).expect("spec");
    let d = design(24);
    let model = MmmModel::new(&spec, &d).expect("model");
    let (target, mediator) = parts(&spec, &d);
    let th = draws(&model);
    let p = target.dim();
    let gamma_at = target
        .param_names()
        .iter()
        .position(|n| n == "gamma_control[m]")
        .expect("gamma");
    let th_target: Vec<Vec<f64>> = th.iter().map(|t| t[..p].to_vec()).collect();
    let th_mediator: Vec<Vec<f64>> = th.iter().map(|t| t[p..].to_vec()).collect();
    let scales = vec![100.0; 2];
    let joint = PlanModel::new(&model, &th, scales.clone(), 1.0, 18, 4);
    let direct = PlanModel::new(&target, &th_target, scales, 1.0, 18, 4);
    let through = PlanModel::new(&mediator, &th_mediator, vec![100.0], 1.0, 18, 4);
    let plan = vec![vec![30.0, 10.0, 0.0, 50.0], vec![20.0; 4]];
    let (got, d_lift) = (joint.lift(&plan), direct.lift(&plan));
    let m_lift = through.lift(&plan[..1]);
    for k in 0..th.len() {
        let expected = d_lift[k] + th[k][gamma_at] * m_lift[k];
        assert!((got[k] - expected).abs() < 1e-9 * (1.0 + expected.abs()));
    }
    assert!(m_lift.iter().all(|v| *v > 0.0));
    let grid = mmm_decisions::curves::multipliers();
    let curve = mmm_decisions::curves::response_grid(&model, &th, 0, &grid, 1.0);
    let d_curve = mmm_decisions::curves::response_grid(&target, &th_target, 0, &grid, 1.0);
    let m_curve = mmm_decisions::curves::response_grid(&mediator, &th_mediator, 0, &grid, 1.0);
    for (i, _) in grid.iter().enumerate() {
        for k in 0..th.len() {
            let expected = d_curve[i][k] + th[k][gamma_at] * m_curve[i][k];
            assert!((curve[i][k] - expected).abs() < 1e-9 * (1.0 + expected.abs()));
        }
    }
}
