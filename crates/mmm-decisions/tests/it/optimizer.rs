//! The budget optimizer against brute force, carry-in, and risk objectives on models built by hand.

use std::collections::BTreeMap;

use mmm_core::Spec;
use mmm_core::spec::Objective;
use mmm_decisions::optimize::{self, ChannelRange, InfeasibleError, Problem};
use mmm_decisions::plan::PlanModel;
use mmm_features::{Design, Scales};
use mmm_model::MmmModel;

/// Channel parameters of one draw: (adstock alpha, saturation lam, beta).
pub(crate) type Params = (f64, f64, f64);

pub(crate) fn spec(channels: usize, l_max: usize) -> Spec {
    let mut text =
        String::from("[model]\nname = \"t\"\n[data]\ndate_column = \"d\"\ntarget = \"y\"\n");
    for c in 0..channels {
        text.push_str(&format!(
            "[[channels]]\nname = \"c{c}\"\nadstock = {{ kind = \"geometric\", l_max = {l_max}, normalize = true, alpha_prior = {{ family = \"beta\", alpha = 1.0, beta = 3.0 }} }}\nsaturation = {{ kind = \"logistic\", lam_prior = {{ family = \"gamma\", shape = 3.0, rate = 1.0 }}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}\n"
        ));
    }
    Spec::from_toml_str(&text).expect("spec")
}

/// A design whose channel c has scaled spend `spend[c]` per week; 1 currency unit = 0.01 scaled.
pub(crate) fn design(spend: Vec<Vec<f64>>) -> Design {
    let n = spend[0].len();
    let names: Vec<String> = (0..spend.len()).map(|c| format!("c{c}")).collect();
    Design {
        dates: (0..n as i32).map(|t| 17_000 + 7 * t).collect(),
        n_train: n,
        target_scaled: vec![0.0; n],
        channel_names: names.clone(),
        channels: spend,
        regressor_names: vec![],
        regressors: vec![],
        scales: Scales {
            target: 1000.0,
            channels: names
                .iter()
                .map(|n| (n.clone(), 100.0))
                .collect::<BTreeMap<_, _>>(),
            controls: BTreeMap::new(),
            train_rows: n,
            holdout_rows: 0,
            method: "test".into(),
        },
        carry_in: Default::default(),
    }
}

/// Constrained parameter vectors, one per draw, placed by parameter name.
pub(crate) fn thetas(model: &MmmModel, draws: &[Vec<Params>]) -> Vec<Vec<f64>> {
    let names = model.param_names();
    draws
        .iter()
        .map(|chs| {
            let mut th = vec![0.0; names.len()];
            for (i, n) in names.iter().enumerate() {
                if n == "sigma" {
                    th[i] = 0.1;
                }
            }
            for (c, (a, l, b)) in chs.iter().enumerate() {
                for (kind, v) in [("adstock_alpha", a), ("saturation_lam", l), ("beta", b)] {
                    let i = names
                        .iter()
                        .position(|n| n == &format!("{kind}[c{c}]"))
                        .expect("param");
                    th[i] = *v;
                }
            }
            th
        })
        .collect()
}

fn free_ranges(channels: usize) -> Vec<ChannelRange> {
    (0..channels)
        .map(|c| ChannelRange::unbounded(format!("c{c}")))
        .collect()
}

pub(crate) fn problem(budget: f64, objective: Objective, ranges: Vec<ChannelRange>) -> Problem {
    Problem {
        budget,
        objective,
        risk_level: 0.25,
        margin: 1.0,
        ranges,
    }
}

/// Three channels with different curves and draw-to-draw spread in beta.
pub(crate) fn three_channel_draws(k: usize) -> Vec<Vec<Params>> {
    (0..k)
        .map(|i| {
            let u = i as f64 / (k - 1) as f64;
            vec![
                (0.3, 2.0, 0.8 * (0.6 + 0.8 * u)),
                (0.5, 4.0, 0.5 * (1.3 - 0.6 * u)),
                (0.1, 1.0, 1.2 * (0.9 + 0.2 * u)),
            ]
        })
        .collect()
}

#[test]
fn optimizer_matches_brute_force_grid_on_three_channels() {
    let spec = spec(3, 4);
    let d = design(vec![vec![0.2; 10]; 3]);
    let model = MmmModel::new(&spec, &d).expect("model");
    let th = thetas(&model, &three_channel_draws(101));
    let pm = PlanModel::new(&model, &th, vec![100.0; 3], 1000.0, 10, 4);
    let budget = 200.0;
    let steps = 100;
    let grid: Vec<f64> = (0..=steps)
        .map(|i| budget * i as f64 / steps as f64)
        .collect();
    // Per-channel lifts on the grid; the lift is additive over channels draw by draw.
    let lifts: Vec<Vec<Vec<f64>>> = (0..3)
        .map(|c| grid.iter().map(|&x| pm.flat_channel_lift(c, x)).collect())
        .collect();
    for objective in [Objective::Expected, Objective::Cvar, Objective::Profit] {
        let p = problem(budget, objective, free_ranges(3));
        let (mut best, mut arg) = (f64::NEG_INFINITY, (0, 0, 0));
        for i in 0..=steps {
            for j in 0..=steps - i {
                // Profit may leave budget unspent: the third channel takes any share up to the rest.
                let ks: Vec<usize> = if objective == Objective::Profit {
                    (0..=steps - i - j).collect()
                } else {
                    vec![steps - i - j]
                };
                for k in ks {
                    let total: Vec<f64> = (0..th.len())
                        .map(|q| lifts[0][i][q] + lifts[1][j][q] + lifts[2][k][q])
                        .collect();
                    let v = optimize::objective_value(&p, &total, grid[i] + grid[j] + grid[k]);
                    if v > best {
                        best = v;
                        arg = (i, j, k);
                    }
                }
            }
        }
        let sol = optimize::optimize(&pm, &p, &[]).expect("feasible");
        let step = budget / steps as f64;
        assert!(
            sol.objective >= best - 1e-6 * best.abs(),
            "{objective:?}: optimizer {} < grid {best}",
            sol.objective
        );
        // The grid optimum is within one cell of the continuous one (objectives are concave here).
        for (x, g) in sol.spend.iter().zip([arg.0, arg.1, arg.2]) {
            assert!(
                (x - grid[g]).abs() <= 1.5 * step,
                "{objective:?}: {:?} vs grid {:?}",
                sol.spend,
                arg
            );
        }
        if objective != Objective::Profit {
            assert!((sol.spend.iter().sum::<f64>() - budget).abs() < 1e-6 * budget);
        }
    }
}

#[test]
fn bounds_bind_and_infeasible_requests_name_the_constraint() {
    let spec = spec(3, 4);
    let d = design(vec![vec![0.2; 10]; 3]);
    let model = MmmModel::new(&spec, &d).expect("model");
    let th = thetas(&model, &three_channel_draws(21));
    let pm = PlanModel::new(&model, &th, vec![100.0; 3], 1000.0, 10, 4);
    let free = optimize::optimize(
        &pm,
        &problem(200.0, Objective::Expected, free_ranges(3)),
        &[],
    )
    .expect("feasible");
    let mut ranges = free_ranges(3);
    let cap = 0.5 * free.spend[2];
    ranges[2].upper = cap;
    ranges[2].upper_rule = "decisions.optimizer.bounds[c2].max".into();
    let capped = optimize::optimize(
        &pm,
        &problem(200.0, Objective::Expected, ranges.clone()),
        &[],
    )
    .expect("feasible");
    assert!(
        (capped.spend[2] - cap).abs() < 1e-6 * 200.0,
        "{:?}",
        capped.spend
    );
    assert!(capped.objective < free.objective);

    ranges[0].lower = 150.0;
    ranges[0].lower_rule = "decisions.optimizer.bounds[c0].min".into();
    ranges[1].lower = 100.0;
    ranges[1].lower_rule = "decisions.optimizer.bounds[c1].min".into();
    let err = optimize::optimize(&pm, &problem(200.0, Objective::Expected, ranges), &[])
        .expect_err("minimums exceed the budget");
    assert!(matches!(err, InfeasibleError::MinimumsExceedBudget { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("bounds[c0].min") && msg.contains("bounds[c1].min"),
        "{msg}"
    );

    let mut tight = free_ranges(3);
    for r in &mut tight {
        r.upper = 10.0;
        r.upper_rule = format!("max_change on {}", r.channel);
    }
    let err = optimize::optimize(&pm, &problem(200.0, Objective::Expected, tight), &[])
        .expect_err("maximums below the budget");
    assert!(err.to_string().contains("max_change on c0"), "{err}");
}

#[test]
fn carry_in_from_recent_spend_moves_budget_to_the_other_channel() {
    // Two identical channels with long carry-over; only c0 spent heavily in the last weeks.
    let spec = spec(2, 8);
    let mut c0 = vec![0.0; 20];
    for v in &mut c0[14..] {
        *v = 1.5;
    }
    let d = design(vec![c0, vec![0.0; 20]]);
    let model = MmmModel::new(&spec, &d).expect("model");
    let th = thetas(&model, &vec![vec![(0.8, 3.0, 1.0), (0.8, 3.0, 1.0)]; 5]);
    let p = problem(400.0, Objective::Expected, free_ranges(2));
    // Without history (a plan at the start of the data) the two channels are interchangeable.
    let fresh = PlanModel::new(&model, &th, vec![100.0; 2], 1000.0, 0, 6);
    let even = optimize::optimize(&fresh, &p, &[vec![300.0, 100.0]]).expect("feasible");
    assert!((even.spend[0] - 200.0).abs() < 2.0, "{:?}", even.spend);
    // After c0's burst its carry-in already pushes it up the saturation curve.
    let after = PlanModel::new(&model, &th, vec![100.0; 2], 1000.0, 20, 6);
    let shifted = optimize::optimize(&after, &p, &[vec![200.0, 200.0]]).expect("feasible");
    assert!(
        shifted.spend[0] < 150.0,
        "carry-in ignored: {:?}",
        shifted.spend
    );
    // And the carry-out past a short horizon is counted: spend in the last week still pays.
    let last_week_only = after.channel_lift(1, &[0.0, 0.0, 0.0, 0.0, 0.0, 100.0]);
    let horizon_only: f64 = {
        let mut out = vec![0.0; 1];
        model.channel_term_for_spend(&th[0], 1, &[1.0], &mut out);
        out[0] * 1000.0
    };
    assert!(
        last_week_only[0] > 1.5 * horizon_only,
        "{} vs {horizon_only}",
        last_week_only[0]
    );
}

#[test]
fn risk_objectives_choose_the_certain_channel() {
    // c0: higher mean return but uncertain (beta 0.2 or 2.2); c1: a little lower, certain.
    let spec = spec(2, 2);
    let d = design(vec![vec![0.3; 10]; 2]);
    let model = MmmModel::new(&spec, &d).expect("model");
    let draws: Vec<Vec<Params>> = (0..200)
        .map(|i| {
            let b0 = if i % 2 == 0 { 0.2 } else { 2.2 };
            vec![(0.2, 2.0, b0), (0.2, 2.0, 1.0)]
        })
        .collect();
    let th = thetas(&model, &draws);
    let pm = PlanModel::new(&model, &th, vec![100.0; 2], 1000.0, 10, 4);
    let solve = |o| optimize::optimize(&pm, &problem(300.0, o, free_ranges(2)), &[]).expect("ok");
    let expected = solve(Objective::Expected);
    let quantile = solve(Objective::Quantile);
    let cvar = solve(Objective::Cvar);
    assert!(expected.spend[0] > 150.0, "{:?}", expected.spend);
    for (name, risky) in [("quantile", &quantile), ("cvar", &cvar)] {
        assert!(
            risky.spend[0] < expected.spend[0] - 60.0,
            "{name}: {:?} vs expected {:?}",
            risky.spend,
            expected.spend
        );
        // More conservative: a better low tail for a lower mean.
        let q = |l: &[f64]| mmm_core::summary::quantile_sorted(&mmm_core::summary::sorted(l), 0.25);
        let m = |l: &[f64]| l.iter().sum::<f64>() / l.len() as f64;
        assert!(q(&risky.lift) > q(&expected.lift), "{name}");
        assert!(m(&risky.lift) < m(&expected.lift), "{name}");
    }
}

#[test]
fn a_plan_at_the_first_period_starts_from_the_carry_in_history() {
    // c0 spent 1.5 a week in the 7 weeks before the data (data.start's carry-in history): a
    // plan starting at period 0 sees exactly what a plan right after the same 7 weeks of
    // spend inside the data sees.
    let spec = spec(2, 8);
    let mut hist = design(vec![vec![0.0; 20], vec![0.0; 20]]);
    hist.carry_in = mmm_features::CarryIn {
        dates: (1..=7).rev().map(|k| 17_000 - 7 * k).collect(),
        channels: vec![vec![1.5; 7], vec![]],
    };
    let mut c0 = vec![0.0; 20];
    c0[13..].fill(1.5);
    let inside = design(vec![c0, vec![0.0; 20]]);
    let (m_hist, m_inside) = (
        MmmModel::new(&spec, &hist).expect("model"),
        MmmModel::new(&spec, &inside).expect("model"),
    );
    let draws = vec![vec![(0.8, 3.0, 1.0), (0.8, 3.0, 1.0)]; 3];
    let (th_hist, th_inside) = (thetas(&m_hist, &draws), thetas(&m_inside, &draws));
    let at_start = PlanModel::new(&m_hist, &th_hist, vec![100.0; 2], 1000.0, 0, 6);
    let after = PlanModel::new(&m_inside, &th_inside, vec![100.0; 2], 1000.0, 20, 6);
    for c in 0..2 {
        for total in [0.0, 100.0, 400.0] {
            let (a, b) = (
                at_start.flat_channel_lift(c, total),
                after.flat_channel_lift(c, total),
            );
            for (x, y) in a.iter().zip(&b) {
                assert!(
                    (x - y).abs() < 1e-9 * (1.0 + y.abs()),
                    "c{c} {total}: {x} vs {y}"
                );
            }
        }
    }
    let media = at_start.weekly_media(&[vec![0.0; 6], vec![0.0; 6]]);
    assert!(
        media[0][0] > media[0][5] && media[0][5] > 0.0,
        "{:?}",
        media[0]
    );
    // So the optimizer moves budget away from the channel that is already up its curve.
    let p = problem(400.0, Objective::Expected, free_ranges(2));
    let shifted = optimize::optimize(&at_start, &p, &[vec![200.0, 200.0]]).expect("feasible");
    assert!(
        shifted.spend[0] < 150.0,
        "carry-in ignored: {:?}",
        shifted.spend
    );
}
