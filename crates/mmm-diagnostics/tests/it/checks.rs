//! Predictive metrics, prior-vs-posterior, bootstrap blocks, the leakage gate and the
//! training-window rebuild, each against closed forms or hand-computed values.

use std::collections::BTreeMap;

use mmm_core::spec::{GateSpec, Spec};
use mmm_diagnostics::predictive::{coverage, point_metrics, predictive_checks};
use mmm_diagnostics::prior_posterior::{contraction_shift, prior_posterior};
use mmm_diagnostics::refits::{block_indices, default_block_length};
use mmm_diagnostics::stage::{GateInputs, evaluate_gates, training_scale_deviation};
use mmm_features::{Design, Scales};
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;

#[test]
fn point_metrics_match_hand_computed_values() {
    let obs = [100.0, 200.0, 300.0, 400.0];
    let pred = [110.0, 190.0, 330.0, 400.0];
    let m = point_metrics("train", &obs, &pred);
    // errors 10, -10, 30, 0: SSE = 1100, SST = 50000.
    assert!((m.rmse - (1100.0_f64 / 4.0).sqrt()).abs() < 1e-12);
    assert!((m.mape - 100.0 * (0.1 + 0.05 + 0.1 + 0.0) / 4.0).abs() < 1e-12);
    let smape = 100.0 * (20.0 / 210.0 + 20.0 / 390.0 + 60.0 / 630.0 + 0.0) / 4.0;
    assert!((m.smape - smape).abs() < 1e-12);
    assert!((m.wape - 100.0 * 50.0 / 1000.0).abs() < 1e-12);
    assert!((m.r2 - (1.0 - 1100.0 / 50000.0)).abs() < 1e-12);
}

#[test]
fn coverage_of_exact_predictive_draws_is_nominal() {
    // Observations drawn from the same distribution as the predictive draws: coverage of a
    // central p interval is Binomial(n, p) / n; n = 4000 gives sd <= 0.008, we allow 4 sd.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    use mmm_model::rand_distr::{Distribution, StandardNormal};
    let n = 4000;
    let draws: Vec<Vec<f64>> = (0..n)
        .map(|_| (0..400).map(|_| StandardNormal.sample(&mut rng)).collect())
        .collect();
    let obs: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
    for p in [0.5, 0.8, 0.95] {
        let c = coverage(&obs, &draws, p);
        let sd = (p * (1.0 - p) / n as f64).sqrt();
        // The 400-draw interval ends are themselves noisy (about 0.01 in probability).
        assert!((c - p).abs() < 4.0 * sd + 0.015, "coverage {c} at {p}");
    }
    let pred_mean = vec![0.0; n];
    let checks = predictive_checks(&obs, &pred_mean, &draws, 3000);
    assert_eq!(checks.coverage.len(), 6);
    assert_eq!(checks.metrics.len(), 2);
    assert_eq!(checks.coverage[3].window, "holdout");
    assert_eq!(checks.coverage[3].periods, 1000);
}

#[test]
fn contraction_and_shift_closed_form() {
    // Prior N(0, 2), posterior N(1, 1): contraction 1 - 1/4, shift 1/2.
    let (c, s) = contraction_shift((0.0, 2.0), (1.0, 1.0));
    assert!((c - 0.75).abs() < 1e-12 && (s - 0.5).abs() < 1e-12);
}

#[test]
fn block_indices_are_consecutive_blocks() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let idx = block_indices(50, 4, &mut rng);
    assert_eq!(idx.len(), 50);
    assert!(idx.iter().all(|&i| i < 50));
    for chunk in idx.chunks(4) {
        assert!(chunk.windows(2).all(|w| w[1] == w[0] + 1), "{chunk:?}");
    }
    assert_eq!(default_block_length(179), 6);
}

/// A small design: 30 weeks, one channel, target y = 10 + spend + noise, with the largest
/// target and spend in the last 6 weeks (the holdout).
fn design(spec: &Spec, holdout: usize, leaky: bool) -> Design {
    let n = 30;
    let spend: Vec<f64> = (0..n)
        .map(|t| 1.0 + (t % 5) as f64 + if t >= 24 { 10.0 } else { 0.0 })
        .collect();
    let target: Vec<f64> = spend
        .iter()
        .enumerate()
        .map(|(t, s)| 10.0 + s + 0.1 * (t % 3) as f64)
        .collect();
    let nt = n - holdout;
    let window = if leaky { n } else { nt };
    let max_abs = |v: &[f64]| v[..window].iter().fold(0.0_f64, |m, x| m.max(x.abs()));
    let (ts, ss) = (max_abs(&target), max_abs(&spend));
    Design {
        dates: (0..n as i32).map(|t| 19000 + 7 * t).collect(),
        n_train: nt,
        target_scaled: target.iter().map(|v| v / ts).collect(),
        channel_names: vec![spec.channels[0].name.clone()],
        channels: vec![spend.iter().map(|v| v / ss).collect()],
        regressor_names: vec![],
        regressors: vec![],
        scales: Scales {
            target: ts,
            channels: BTreeMap::from([(spec.channels[0].name.clone(), ss)]),
            controls: BTreeMap::new(),
            train_rows: nt,
            holdout_rows: holdout,
            method: "max-abs over the training window (test)".into(),
        },
        carry_in: Default::default(),
    }
}

fn one_channel_spec() -> Spec {
    Spec::from_toml_str(
        r#"
[model]
name = "t"
[data]
date_column = "d"
target = "y"
[[channels]]
name = "tv"
adstock = { kind = "geometric", l_max = 3, alpha_prior = { family = "beta", alpha = 1.0, beta = 3.0 } }
saturation = { kind = "logistic", lam_prior = { family = "gamma", shape = 3.0, rate = 1.0 }, beta_prior = { family = "half_normal", sigma = 2.0 } }
"#,
    )
    .expect("spec")
}

fn gate_inputs(scale_deviation: Option<f64>) -> GateInputs {
    GateInputs {
        max_rhat: 1.001,
        min_ess_bulk: 1000.0,
        divergences: 0,
        min_ebfmi: 1.0,
        holdout_mape: None,
        scale_deviation,
    }
}

#[test]
fn leaky_scaling_fails_the_leakage_gate() {
    let spec = one_channel_spec();
    let clean = design(&spec, 6, false);
    let leaky = design(&spec, 6, true);
    assert_eq!(training_scale_deviation(&clean), Some(0.0));
    let dev = training_scale_deviation(&leaky).expect("max-abs design");
    assert!(dev > 0.1, "leaky scaling went unnoticed ({dev})");
    let gates = evaluate_gates(&GateSpec::default(), &gate_inputs(Some(dev)));
    let leak = gates
        .iter()
        .find(|g| g.name == "holdout_leakage")
        .expect("gate");
    assert!(!leak.passed);
    let ok = evaluate_gates(&GateSpec::default(), &gate_inputs(Some(0.0)));
    assert!(ok.iter().all(|g| g.passed));
    // Another scaling method: the max-abs check does not apply and no leakage gate is judged.
    let mut other = leaky.clone();
    other.scales.method = "mean over the training window".into();
    assert_eq!(training_scale_deviation(&other), None);
    let gates = evaluate_gates(&GateSpec::default(), &gate_inputs(None));
    assert!(gates.iter().all(|g| g.name != "holdout_leakage"));
}

#[test]
fn nan_diagnostics_fail_their_gates() {
    let mut m = gate_inputs(Some(0.0));
    m.max_rhat = f64::NAN;
    m.min_ebfmi = f64::NAN;
    let gates = evaluate_gates(&GateSpec::default(), &m);
    for name in ["max_rhat", "min_ebfmi"] {
        assert!(
            !gates.iter().find(|g| g.name == name).expect("gate").passed,
            "{name}"
        );
    }
}

#[test]
fn training_window_rebuild_rescales_on_the_new_window_only() {
    let spec = one_channel_spec();
    let full = design(&spec, 0, false);
    let short = full.with_training_window(&spec, 20).expect("window");
    assert_eq!(short.n_train, 20);
    assert_eq!(training_scale_deviation(&short), Some(0.0));
    // Original units are unchanged.
    let back: Vec<f64> = short.target();
    for (a, b) in back.iter().zip(full.target()) {
        assert!((a - b).abs() < 1e-9 * b.abs());
    }
    assert!(full.with_training_window(&spec, 0).is_none());
    assert!(full.with_training_window(&spec, 31).is_none());
}

#[test]
fn prior_posterior_flags_a_parameter_the_data_do_not_move() {
    // "Posterior" = draws from the prior itself: contraction near 0, everything prior-dominated.
    let spec = one_channel_spec();
    let d = design(&spec, 0, false);
    let model = MmmModel::new(&spec, &d).expect("model");
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let post: Vec<Vec<f64>> = (0..4000)
        .filter_map(|_| {
            model
                .sample_prior_unconstrained(&mut rng)
                .map(|u| model.constrain(&u))
        })
        .collect();
    let rows = prior_posterior(&model, &post, 4000, 99, 0.1);
    assert_eq!(rows.len(), model.dim());
    for r in &rows {
        // Two independent 4000-draw variance estimates differ by a few percent (sd of a
        // variance ratio ~ sqrt(2 (kurtosis-1) / 4000)); 0.1 is the flag threshold.
        assert!(
            r.contraction.abs() < 0.1,
            "{}: contraction {}",
            r.parameter,
            r.contraction
        );
        assert!(r.prior_dominated, "{}", r.parameter);
    }
    // A posterior concentrated at one point has contraction 1.
    let point = vec![post[0].clone(); 100];
    let rows = prior_posterior(&model, &point, 4000, 99, 0.1);
    assert!(
        rows.iter()
            .all(|r| (r.contraction - 1.0).abs() < 1e-12 && !r.prior_dominated)
    );
}

#[test]
fn chi_square_tail_matches_tables() {
    use mmm_diagnostics::calibration::{chi_square_sf, rank_uniformity};
    // scipy.stats.chi2.sf: (30.14352720564616, 19) -> 0.05, (36.19086912927004, 19) -> 0.01,
    // (2.0, 2) -> e^-1, (0.5, 1) -> 0.4795001221869535, (100.0, 19) -> 5.355560750435117e-13.
    assert!((chi_square_sf(30.14352720564616, 19) - 0.05).abs() < 1e-10);
    assert!((chi_square_sf(36.19086912927004, 19) - 0.01).abs() < 1e-10);
    assert!((chi_square_sf(2.0, 2) - (-1.0_f64).exp()).abs() < 1e-12);
    assert!((chi_square_sf(0.5, 1) - 0.4795001221869535).abs() < 1e-10);
    assert!((chi_square_sf(100.0, 19) / 5.355560750435117e-13 - 1.0).abs() < 1e-8);
    // Perfectly even ranks: statistic 0, p = 1; all ranks in one bin: rejected.
    let even: Vec<usize> = (0..200).map(|i| i % 100).collect();
    let t = rank_uniformity("x", &even, 99, 20, 0.01);
    assert_eq!(t.counts, vec![10; 20]);
    assert!(t.chi_square == 0.0 && (t.p_value - 1.0).abs() < 1e-12 && t.uniform);
    let piled = vec![0usize; 200];
    assert!(!rank_uniformity("x", &piled, 99, 20, 0.01).uniform);
}

#[test]
fn compare_guardrail_fails_a_flipped_channel_and_passes_a_small_move() {
    use mmm_diagnostics::compare::{Interval, RoiTable, channel_changes};
    let iv = |mean: f64| Interval {
        mean,
        lower: mean - 0.1,
        upper: mean + 0.1,
    };
    let table = |tv: f64, radio: f64| -> RoiTable {
        [("tv", tv), ("radio", radio)]
            .into_iter()
            .flat_map(|(c, roas)| {
                [
                    ((c.to_string(), "roas".to_string()), iv(roas)),
                    ((c.to_string(), "share".to_string()), iv(0.5)),
                ]
            })
            .collect()
    };
    // radio moves +10% (inside 25%), tv flips sign.
    let (rows, reasons) = channel_changes(&table(2.0, 1.0), &table(-0.5, 1.1), 0.25);
    let tv = rows.iter().find(|r| r.channel == "tv").expect("tv");
    assert!(tv.sign_flip && tv.exceeds_threshold);
    let radio = rows.iter().find(|r| r.channel == "radio").expect("radio");
    assert!(!radio.sign_flip && !radio.exceeds_threshold);
    assert!((radio.roas_relative_change - 0.1).abs() < 1e-12);
    assert!(
        reasons
            .iter()
            .any(|r| r.starts_with("channel tv: ROAS changed sign"))
    );
    assert!(!reasons.iter().any(|r| r.contains("radio")));
    // The same tables pass; a channel dropped from the later run fails.
    assert!(
        channel_changes(&table(2.0, 1.0), &table(2.0, 1.0), 0.25)
            .1
            .is_empty()
    );
    let mut missing = table(2.0, 1.0);
    missing.retain(|k, _| k.0 != "radio");
    let (_, reasons) = channel_changes(&table(2.0, 1.0), &missing, 0.25);
    assert_eq!(reasons, ["channel radio is missing from the later run"]);
}

#[test]
fn coverage_band_is_the_binomial_error_of_the_nominal_level() {
    use mmm_diagnostics::calibration::coverage_check;
    // z(0.995) = 2.5758; sd of a 90% coverage over 100 simulations = 0.03.
    let c = coverage_check("beta", 0.9, 85, 100, 0.01);
    assert!((c.band_lower - (0.9 - 2.5758 * 0.03)).abs() < 1e-4, "{c:?}");
    assert!((c.band_upper - (0.9 + 2.5758 * 0.03)).abs() < 1e-4, "{c:?}");
    assert!(c.within && (c.observed - 0.85).abs() < 1e-12);
    // 80 of 100 is 3.3 sd below 90%: outside.
    assert!(!coverage_check("beta", 0.9, 80, 100, 0.01).within);
    // Bonferroni over 34 checks widens the band (z(1 - 0.01/68) = 3.62).
    assert!(coverage_check("beta", 0.9, 80, 100, 0.01 / 34.0).within);
    assert!(!coverage_check("beta", 0.9, 0, 0, 0.01).within);
}

#[test]
fn prior_predictive_bands_cover_data_drawn_from_the_prior_at_their_levels() {
    use mmm_diagnostics::prior_predictive::prior_predictive;
    let spec = one_channel_spec();
    let d = design(&spec, 5, false);
    let model = MmmModel::new(&spec, &d).expect("model");
    let scale = model.target_scale();
    let n = d.len();
    // Data sets drawn from the prior predictive distribution are covered by its central
    // intervals at their nominal rates on average. Each data set's share has variance at most
    // p (1 - p) (periods share their parameters), so over 200 sets the mean is within
    // 4 sqrt(p (1 - p) / 200) of p, plus a little for the bands' own Monte Carlo error.
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (mut mean_buf, mut y) = (vec![0.0; n], vec![0.0; n]);
    let (mut inside_50, mut inside_94, mut sets) = (0.0, 0.0, 0.0);
    for _ in 0..200 {
        let theta = model.constrain(&model.sample_prior_unconstrained(&mut rng).expect("draw"));
        model.predictive_draw(&theta, &mut rng, &mut mean_buf, &mut y);
        let observed: Vec<f64> = y.iter().map(|v| v * scale).collect();
        let (check, _) = prior_predictive(&model, &observed, d.n_train, 1000, 17, 0.94);
        assert_eq!(check.draws, 1000);
        inside_50 += check.inside_50;
        inside_94 += check.inside;
        sets += 1.0;
    }
    let (m50, m94) = (inside_50 / sets, inside_94 / sets);
    assert!(
        (m50 - 0.5).abs() < 4.0 * (0.25_f64 / 200.0).sqrt() + 0.02,
        "50%: {m50}"
    );
    assert!(
        (m94 - 0.94).abs() < 4.0 * (0.0564_f64 / 200.0).sqrt() + 0.02,
        "94%: {m94}"
    );

    // A prior that puts the level far above the data: every observation falls below.
    let mut far = one_channel_spec();
    far.intercept.prior = mmm_core::spec::Prior::Normal {
        mu: 30.0,
        sigma: 0.1,
    };
    let model = MmmModel::new(&far, &d).expect("model");
    let (check, bands) = prior_predictive(&model, &d.target(), d.n_train, 500, 3, 0.94);
    assert_eq!(check.below, 1.0);
    assert_eq!(check.inside, 0.0);
    assert_eq!(bands.lower.len(), n);
    assert!(bands.lower.iter().zip(&bands.upper).all(|(l, u)| l <= u));
}
