//! Decisions on the response scale for models that are not additive (LogNormal, Poisson, NB):
//! counterfactual contributions with an interaction component, response curves and plans
//! against brute-force recomputation with the spend changed in the data.

use std::collections::BTreeMap;

use mmm_core::Spec;
use mmm_core::spec::{LikelihoodSpec, Objective, Prior};
use mmm_decisions::optimize::{self, ChannelRange, Problem};
use mmm_decisions::plan::PlanModel;
use mmm_decisions::{curves, decompose};
use mmm_features::{Design, Scales};
use mmm_model::MmmModel;

fn spec(likelihood: LikelihoodSpec, l_max: usize) -> Spec {
    let mut text = String::from(
        "[model]\nname = \"t\"\n[data]\ndate_column = \"d\"\ntarget = \"y\"\n\
         [[controls]]\nname = \"z\"\nprior = { family = \"normal\", mu = 0.0, sigma = 1.0 }\n",
    );
    for c in 0..2 {
        text.push_str(&format!(
            "[[channels]]\nname = \"c{c}\"\nadstock = {{ kind = \"geometric\", l_max = {l_max}, normalize = true, alpha_prior = {{ family = \"beta\", alpha = 1.0, beta = 3.0 }} }}\nsaturation = {{ kind = \"logistic\", lam_prior = {{ family = \"gamma\", shape = 3.0, rate = 1.0 }}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}\n"
        ));
    }
    let mut spec = Spec::from_toml_str(&text).expect("spec");
    spec.likelihood = likelihood;
    spec
}

fn families() -> Vec<LikelihoodSpec> {
    let half = Prior::HalfNormal { sigma: 1.0 };
    vec![
        LikelihoodSpec::LogNormal { sigma_prior: half },
        LikelihoodSpec::Poisson,
        LikelihoodSpec::NegativeBinomial { phi_prior: half },
    ]
}

/// Counts of 0..=40 over the scale 40; spend per channel; one control.
fn design(spend: Vec<Vec<f64>>, n_train: usize) -> Design {
    let n = spend[0].len();
    let names: Vec<String> = (0..spend.len()).map(|c| format!("c{c}")).collect();
    Design {
        dates: (0..n as i32).map(|t| 17_000 + 7 * t).collect(),
        n_train,
        target_scaled: (0..n).map(|t| (10 + (t * 7) % 30) as f64 / 40.0).collect(),
        channel_names: names.clone(),
        channels: spend,
        regressor_names: vec!["control[z]".into()],
        regressors: vec![(0..n).map(|t| ((t as f64) * 0.9).sin()).collect()],
        scales: Scales {
            target: 40.0,
            channels: names.iter().map(|n| (n.clone(), 100.0)).collect(),
            controls: BTreeMap::new(),
            train_rows: n_train,
            holdout_rows: n - n_train,
            method: "test".into(),
        },
        carry_in: Default::default(),
    }
}

fn spend(n: usize) -> Vec<Vec<f64>> {
    vec![
        (0..n).map(|t| 0.3 + 0.2 * ((t % 4) as f64)).collect(),
        (0..n).map(|t| if t % 3 == 0 { 0.0 } else { 0.8 }).collect(),
    ]
}

/// A few posterior-like draws with noise parameters where the family has them.
fn draws(model: &MmmModel) -> Vec<Vec<f64>> {
    let names = model.param_names();
    (0..5)
        .map(|k| {
            let u = k as f64 / 4.0;
            names
                .iter()
                .map(|n| match n.as_str() {
                    "intercept" => -0.4 + 0.1 * u,
                    "gamma_control[z]" => 0.1,
                    "adstock_alpha[c0]" => 0.3,
                    "adstock_alpha[c1]" => 0.5,
                    "saturation_lam[c0]" => 2.0 + u,
                    "saturation_lam[c1]" => 1.0,
                    "beta[c0]" => 0.4 + 0.2 * u,
                    "beta[c1]" => 0.3,
                    "sigma" => 0.2 + 0.1 * u,
                    "phi" => 5.0 + u,
                    other => panic!("unexpected parameter {other}"),
                })
                .collect()
        })
        .collect()
}

#[test]
fn contributions_are_counterfactual_differences_and_components_add_up() {
    for lik in families() {
        let spec = spec(lik.clone(), 3);
        let n = 20;
        let d = design(spend(n), n);
        let model = MmmModel::new(&spec, &d).expect("model");
        assert!(!model.is_additive());
        let th = draws(&model);
        let dec = decompose::decompose(&model, &d, &th).expect("decomposition");
        assert_eq!(dec.names, ["baseline", "c0", "c1", "interaction"]);
        let s = d.scales.target;
        for (k, theta) in th.iter().enumerate() {
            let sigma2 = match lik {
                LikelihoodSpec::LogNormal { .. } => theta[theta.len() - 1].powi(2),
                _ => 0.0,
            };
            // E[y] from the linear predictor by hand: exp(eta + sigma^2 / 2).
            let expect = |zeroed: &[usize]| {
                let mut eta = vec![0.0; n];
                model.linear_predictor(theta, zeroed, &mut eta);
                eta.iter()
                    .map(|e| (e + 0.5 * sigma2).exp() * s)
                    .collect::<Vec<f64>>()
            };
            let (all, none) = (expect(&[]), expect(&[0, 1]));
            let (no0, no1) = (expect(&[0]), expect(&[1]));
            for t in 0..n {
                let c0 = all[t] - no0[t];
                let c1 = all[t] - no1[t];
                let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * (1.0 + b.abs());
                assert!(close(dec.series[0][t][k], none[t]));
                assert!(close(dec.series[1][t][k], c0));
                assert!(close(dec.series[2][t][k], c1));
                let sum: f64 = (0..4).map(|c| dec.series[c][t][k]).sum();
                assert!(close(sum, all[t]), "{lik:?}: {sum} vs {}", all[t]);
                // With E = exp(a + t0 + t1), the interaction is -e^a (e^t0 - 1)(e^t1 - 1) <= 0.
                assert!(dec.series[3][t][k] <= 1e-12 * all[t]);
            }
        }
    }
}

#[test]
fn response_curves_are_counterfactual_sums_over_the_window() {
    for lik in families() {
        let spec = spec(lik.clone(), 3);
        // Training 16 weeks, 4 holdout weeks in which channel 0 does not spend, so the curve's
        // carry-out weeks (2) lie inside the data.
        let (n, nt) = (20, 16);
        let mut sp = spend(n);
        for v in &mut sp[0][nt..] {
            *v = 0.0;
        }
        let d = design(sp.clone(), nt);
        let model = MmmModel::new(&spec, &d).expect("model");
        let th = draws(&model);
        let grid = [0.0, 0.5, 1.0, 1.7];
        let curve = curves::response_grid(&model, &th, 0, &grid, d.scales.target);
        for (i, m) in grid.iter().enumerate() {
            // Brute force: rebuild the model with channel 0's spend times m, and at zero.
            let with_spend = |f: f64| {
                let mut s2 = sp.clone();
                for v in &mut s2[0] {
                    *v *= f;
                }
                MmmModel::new(&spec, &design(s2, nt)).expect("model")
            };
            let (mm, m0) = (with_spend(*m), with_spend(0.0));
            for (k, theta) in th.iter().enumerate() {
                let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
                mm.predict_mean(theta, &[], &mut a);
                m0.predict_mean(theta, &[], &mut b);
                let want: f64 = (0..nt + 2).map(|t| a[t] - b[t]).sum::<f64>() * d.scales.target;
                let got = curve[i][k];
                assert!(
                    (got - want).abs() < 1e-9 * (1.0 + want.abs()),
                    "{lik:?} m={m}: {got} vs {want}"
                );
            }
        }
    }
}

#[test]
fn plan_lift_is_the_joint_counterfactual_and_the_optimizer_finds_the_grid_optimum() {
    let spec = spec(LikelihoodSpec::Poisson, 3);
    let n = 20;
    let d = design(spend(n), n);
    let model = MmmModel::new(&spec, &d).expect("model");
    let th = draws(&model);
    let (start, horizon) = (12, 4);
    let pm = PlanModel::new(&model, &th, vec![100.0; 2], 40.0, start, horizon);
    assert!(!pm.is_additive());
    // Brute force: a plan replaces the spend of weeks start..start+horizon (and the data after
    // it by zeros, counting the carry-out), the model's other inputs unchanged.
    let lift_by_hand = |plan: &[Vec<f64>]| -> Vec<f64> {
        let rebuild = |p: Option<&[Vec<f64>]>| {
            let mut sp = spend(n);
            for (c, s) in sp.iter_mut().enumerate() {
                for t in start..n {
                    s[t] = match p {
                        Some(p) if t < start + horizon => p[c][t - start] / 100.0,
                        _ => 0.0,
                    };
                }
            }
            MmmModel::new(&spec, &design(sp, n)).expect("model")
        };
        let (with, without) = (rebuild(Some(plan)), rebuild(None));
        th.iter()
            .map(|theta| {
                let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
                with.predict_mean(theta, &[], &mut a);
                without.predict_mean(theta, &[], &mut b);
                (start..start + horizon + 2)
                    .map(|t| a[t] - b[t])
                    .sum::<f64>()
                    * 40.0
            })
            .collect()
    };
    let plan = vec![vec![30.0, 10.0, 0.0, 50.0], vec![20.0; 4]];
    let got = pm.lift(&plan);
    for (a, b) in got.iter().zip(lift_by_hand(&plan)) {
        assert!((a - b).abs() < 1e-9 * (1.0 + b.abs()), "{a} vs {b}");
    }
    // A channel's lift within the plan: the plan's minus the plan without that channel.
    let c1 = pm.channel_lift_in(&plan, 1);
    let without1 = lift_by_hand(&[plan[0].clone(), vec![0.0; 4]]);
    for ((a, g), w) in c1.iter().zip(&got).zip(&without1) {
        assert!((a - (g - w)).abs() < 1e-9 * (1.0 + g.abs()));
    }

    // The optimizer against a grid over the split of the budget.
    let budget = 120.0;
    let ranges: Vec<ChannelRange> = (0..2)
        .map(|c| ChannelRange::unbounded(format!("c{c}")))
        .collect();
    let p = Problem {
        budget,
        objective: Objective::Expected,
        risk_level: 0.25,
        margin: 1.0,
        ranges,
    };
    let steps = 240;
    let best = (0..=steps)
        .map(|i| {
            let x = budget * i as f64 / steps as f64;
            optimize::objective_value(&p, &pm.flat_lift(&[x, budget - x]), budget)
        })
        .fold(f64::NEG_INFINITY, f64::max);
    let sol = optimize::optimize(&pm, &p, &[]).expect("feasible");
    assert!(
        sol.objective >= best - 1e-6 * best.abs(),
        "optimizer {} < grid {best}",
        sol.objective
    );
    assert!((sol.spend.iter().sum::<f64>() - budget).abs() < 1e-6 * budget);
}
