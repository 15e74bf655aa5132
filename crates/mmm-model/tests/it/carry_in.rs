//! Spend before the modeling window (`data.start`) carried in through adstock: the closed form
//! of a single pre-window pulse, predictions against zero padding, the log density and its
//! gradient with carry-in, and the response curves.

use mmm_core::Spec;
use mmm_core::spec::{AdstockSpec, LikelihoodSpec, Prior, TransformOrder};
use mmm_features::transforms::{convolve, logistic_saturation};
use mmm_features::{CarryIn, Design};
use mmm_model::MmmModel;

use crate::gradient::check_gradient;
use crate::transforms::{adstocks, saturations, spec_with};
use crate::{fixture_spec, synthetic_design};

/// `design` with `history[c]` (scaled spend, oldest first) before its first period.
fn with_carry_in(mut design: Design, history: Vec<Vec<f64>>) -> Design {
    let k = history.iter().map(Vec::len).max().unwrap_or(0) as i32;
    design.carry_in = CarryIn {
        dates: (1..=k).rev().map(|j| design.dates[0] - 7 * j).collect(),
        channels: history,
    };
    design
}

/// The fixture spec with channel 0's geometric weights normalized or not.
fn fixture_with_normalize(normalize: bool) -> Spec {
    let mut spec = fixture_spec();
    let AdstockSpec::Geometric { normalize: nz, .. } = &mut spec.channels[0].adstock else {
        panic!("the fixture's adstock is geometric")
    };
    *nz = normalize;
    spec
}

fn point(model: &MmmModel, phase: usize) -> Vec<f64> {
    let u: Vec<f64> = (0..model.dim())
        .map(|i| 0.7 * ((i * 5 + phase) as f64).sin())
        .collect();
    model.constrain(&u)
}

#[test]
fn a_single_pre_window_pulse_decays_geometrically_into_the_first_weeks() {
    const P: f64 = 0.6;
    for normalize in [false, true] {
        let spec = fixture_with_normalize(normalize);
        let mut design = synthetic_design(&spec, 40, 40);
        // No window spend on channel 0 until period 8, so its first weeks are carry-in alone.
        design.channels[0][..8].fill(0.0);
        // A pulse in the last period before the window (t = -1), and one 10 periods back, which
        // l_max = 8 cannot reach.
        let mut history = vec![0.0; 10];
        history[9] = P;
        history[0] = 5.0;
        let design = with_carry_in(design, vec![history, vec![]]);
        let model = MmmModel::new(&spec, &design).expect("model");
        assert_eq!(
            model.channel_history(0),
            [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, P],
            "the last l_max - 1 periods"
        );
        assert_eq!(model.channel_history(1), [0.0; 7], "no history: zeros");
        let theta = point(&model, 1);
        let (alpha, lam, beta) = (theta[1], theta[2], theta[3]);
        let total: f64 = if normalize {
            (0..8).map(|l| alpha.powi(l)).sum()
        } else {
            1.0
        };
        let mut term = vec![0.0; 40];
        model.channel_term(&theta, 0, &mut term);
        let (mut full, mut without) = (vec![0.0; 40], vec![0.0; 40]);
        model.predict_mean(&theta, &[], &mut full);
        model.predict_mean(&theta, &[0], &mut without);
        for t in 0..8 {
            // adstock_t = w_(t+1) P = alpha^(t+1) P / total for t + 1 <= l_max - 1, else 0.
            let carried = if t < 7 {
                alpha.powi(t as i32 + 1) * P / total
            } else {
                0.0
            };
            let expected = beta * logistic_saturation(carried, lam);
            assert!(
                (term[t] - expected).abs() < 1e-14,
                "t = {t}: {} vs {expected}",
                term[t]
            );
            assert!((full[t] - without[t] - expected).abs() < 1e-12, "t = {t}");
        }
        assert!(term[0] > term[1] && term[6] > 0.0 && term[7] == 0.0);
    }
}

#[test]
fn predictions_differ_from_zero_padding_by_exactly_the_carried_in_term() {
    let spec = fixture_spec();
    let n = 50;
    let plain = synthetic_design(&spec, n, 45);
    let history = vec![
        vec![0.3, 0.0, 0.9, 0.2, 0.5, 0.1, 0.7],
        vec![0.4, 0.6], // shorter than l_max - 1: zeros before it
    ];
    let carried = with_carry_in(plain.clone(), history);
    let without = MmmModel::new(&spec, &plain).expect("model");
    let with = MmmModel::new(&spec, &carried).expect("model");
    assert_eq!(with.channel_history(1), [0.0, 0.0, 0.0, 0.0, 0.0, 0.4, 0.6]);
    for phase in 0..3 {
        let theta = point(&without, phase);
        let (mut a, mut b) = (vec![0.0; n], vec![0.0; n]);
        with.predict_mean(&theta, &[], &mut a);
        without.predict_mean(&theta, &[], &mut b);
        let mut carried_in = vec![0.0; n];
        for c in 0..2 {
            let (mut tw, mut to) = (vec![0.0; n], vec![0.0; n]);
            with.channel_term(&theta, c, &mut tw);
            without.channel_term(&theta, c, &mut to);
            for t in 0..n {
                carried_in[t] += tw[t] - to[t];
            }
        }
        for t in 0..n {
            assert!(
                (a[t] - b[t] - carried_in[t]).abs() < 1e-13,
                "t = {t}: {} vs {}",
                a[t] - b[t],
                carried_in[t]
            );
        }
        // Carry-in raises the first l_max - 1 weeks only; later weeks are bit-identical.
        assert!((0..7).all(|t| a[t] > b[t]));
        assert_eq!(a[7..], b[7..]);
        // Switching the channels off removes their history too: the baseline is unchanged.
        with.predict_mean(&theta, &[0, 1], &mut a);
        without.predict_mean(&theta, &[0, 1], &mut b);
        assert_eq!(a, b);
    }
}

/// Channel c's curve (beta = 1) over `series` from mmm-features' pure functions.
fn curve_from_definition(model: &MmmModel, theta: &[f64], c: usize, series: &[f64]) -> Vec<f64> {
    let layout = model.channel_layout(c);
    let l_max = model.carryover_periods(c);
    let na = layout.adstock_params;
    let ap = &theta[layout.first..layout.first + na];
    let sp = &theta[layout.first + na..layout.beta];
    let (mut w, mut d0, mut d1) = (vec![0.0; l_max], vec![0.0; l_max], vec![0.0; l_max]);
    layout.adstock.weights(ap, &mut w, &mut d0, &mut d1);
    let mut out = vec![0.0; series.len()];
    if layout.saturation_first {
        let sx: Vec<f64> = series
            .iter()
            .map(|x| layout.saturation.value(*x, sp))
            .collect();
        convolve(&sx, &w, &mut out);
    } else {
        convolve(series, &w, &mut out);
        for v in out.iter_mut() {
            *v = layout.saturation.value(*v, sp);
        }
    }
    out
}

/// Models with carry-in on both channels: the fixture (fused path) and general channel-0
/// combinations, adstock first and saturation first.
fn carry_in_models() -> Vec<(String, Spec, Design)> {
    let mut specs = vec![("fixture".to_string(), fixture_spec())];
    let sats = saturations(Prior::HalfNormal { sigma: 2.0 });
    for (k, (a, s, order)) in [
        (1, 1, TransformOrder::AdstockFirst),
        (2, 3, TransformOrder::SaturationFirst),
        (3, 4, TransformOrder::AdstockFirst),
    ]
    .into_iter()
    .enumerate()
    {
        let spec = spec_with(adstocks(k % 2 == 0)[a].clone(), sats[s].clone(), order);
        specs.push((format!("{a}x{s} {order:?}"), spec));
    }
    specs
        .into_iter()
        .map(|(label, spec)| {
            let design = synthetic_design(&spec, 60, 50);
            let history = (0..2)
                .map(|c| {
                    (0..9)
                        .map(|j| 0.1 + 0.08 * ((j + 3 * c) % 5) as f64)
                        .collect()
                })
                .collect();
            (label, spec, with_carry_in(design, history))
        })
        .collect()
}

#[test]
fn log_density_with_carry_in_equals_its_definition_and_has_an_exact_gradient() {
    for (i, (label, spec, design)) in carry_in_models().into_iter().enumerate() {
        let model = MmmModel::new(&spec, &design).expect("model");
        let u: Vec<f64> = (0..model.dim())
            .map(|i| 0.8 * ((i * 5 + 1) as f64).sin())
            .collect();
        let theta = model.constrain(&u);
        for (a, b) in u.iter().zip(model.unconstrain(&theta)) {
            assert!((a - b).abs() < 1e-9, "{label}: round trip");
        }
        let mut expected = 0.0;
        for (p, &t) in model.params().iter().zip(&theta) {
            let x = t * p.sign;
            let (_, _, logj, _) = p.bijection.forward(p.bijection.inverse(x));
            expected += mmm_model::prior::log_prior(&p.prior, x).0 + logj;
        }
        // The mean: everything but the channels from the model, each channel's term from the
        // definition over its carry-in history followed by the window's spend.
        let n = design.len();
        let mut mu = vec![0.0; n];
        model.linear_predictor(&theta, &[0, 1], &mut mu);
        for c in 0..2 {
            // Lags reach l_max - 1 periods back: only that much of the history acts.
            let lags = model.carryover_periods(c) - 1;
            let history = &design.carry_in.channels[c];
            let kept = &history[history.len() - lags..];
            let series: Vec<f64> = kept.iter().chain(&design.channels[c]).copied().collect();
            let v = curve_from_definition(&model, &theta, c, &series);
            let beta = theta[model.channel_layout(c).beta];
            for t in 0..n {
                mu[t] += beta * v[t + lags];
            }
        }
        let sigma = model.sigma(&theta).expect("normal");
        for (y, m) in design.target_scaled.iter().zip(&mu).take(design.n_train) {
            let r = y - m;
            expected += -sigma.ln() - 0.5 * r * r / (sigma * sigma);
        }
        let mut grad = vec![0.0; model.dim()];
        let got = model
            .logp(&u, &mut grad, &mut model.scratch())
            .expect("finite");
        assert!(
            (got - expected).abs() < 1e-9 * (1.0 + expected.abs()),
            "{label}: {got} vs {expected}"
        );
        check_gradient(&model, 4000 + i as u64);
    }
}

#[test]
fn response_curves_vary_the_window_spend_with_the_carry_in_as_observed() {
    for (label, spec, design) in carry_in_models() {
        let model = MmmModel::new(&spec, &design).expect("model");
        let theta = point(&model, 2);
        let spend = &model.channel_spend(0)[..50];
        let mults = [0.0, 0.5, 1.0, 1.7];
        let mut totals = vec![0.0; mults.len()];
        model.response_totals_for_multipliers(&theta, 0, spend, &mults, &mut totals);
        let history = model.channel_history(0).to_vec();
        let beta = theta[model.channel_layout(0).beta];
        let total = |m: f64| -> f64 {
            let series: Vec<f64> = history
                .iter()
                .copied()
                .chain(spend.iter().map(|x| m * x))
                .collect();
            curve_from_definition(&model, &theta, 0, &series)[history.len()..]
                .iter()
                .sum::<f64>()
                * beta
        };
        assert_eq!(totals[0], 0.0, "{label}");
        for (m, got) in mults.iter().zip(&totals) {
            let expected = total(*m) - total(0.0);
            assert!(
                (got - expected).abs() < 1e-9 * (1.0 + expected.abs()),
                "{label} m = {m}: {got} vs {expected}"
            );
        }
    }
    // Under a log link the curve is a difference of expected responses; it still starts at 0.
    let mut spec = fixture_spec();
    spec.likelihood = LikelihoodSpec::LogNormal {
        sigma_prior: Prior::HalfNormal { sigma: 1.0 },
    };
    let (_, _, design) = carry_in_models().remove(0);
    let model = MmmModel::new(&spec, &design).expect("model");
    let theta = point(&model, 3);
    let mut totals = vec![0.0; 3];
    let spend = model.channel_spend(1)[..50].to_vec();
    model.response_totals_for_multipliers(&theta, 1, &spend, &[0.0, 1.0, 2.0], &mut totals);
    assert_eq!(totals[0], 0.0);
    assert!(totals[1] > 0.0 && totals[2] > totals[1]);
}

#[test]
fn zero_carry_in_is_bit_identical_to_zero_padding() {
    // A start whose history has no spend (or no history at all) must change nothing: the same
    // code paths, the same bits (the fixture's draws stay byte-identical without `data.start`).
    for (label, spec, design) in carry_in_models() {
        let mut plain = design.clone();
        plain.carry_in = CarryIn::default();
        let mut zeros = design.clone();
        for h in &mut zeros.carry_in.channels {
            h.fill(0.0);
        }
        let a = MmmModel::new(&spec, &plain).expect("model");
        let b = MmmModel::new(&spec, &zeros).expect("model");
        let u: Vec<f64> = (0..a.dim()).map(|i| 0.6 * ((i * 3) as f64).cos()).collect();
        let (mut ga, mut gb) = (vec![0.0; a.dim()], vec![0.0; b.dim()]);
        let la = a.logp(&u, &mut ga, &mut a.scratch()).expect("finite");
        let lb = b.logp(&u, &mut gb, &mut b.scratch()).expect("finite");
        assert_eq!(la.to_bits(), lb.to_bits(), "{label}");
        assert_eq!(ga, gb, "{label}");
        let theta = a.constrain(&u);
        assert_eq!(theta, b.constrain(&u), "{label}");
        let n = design.len();
        let (mut pa, mut pb) = (vec![0.0; n], vec![0.0; n]);
        a.predict_mean(&theta, &[], &mut pa);
        b.predict_mean(&theta, &[], &mut pb);
        assert_eq!(pa, pb, "{label}");
        let spend = a.channel_spend(0)[..50].to_vec();
        let (mut ra, mut rb) = (vec![0.0; 3], vec![0.0; 3]);
        a.response_totals_for_multipliers(&theta, 0, &spend, &[0.5, 1.0, 2.0], &mut ra);
        b.response_totals_for_multipliers(&theta, 0, &spend, &[0.5, 1.0, 2.0], &mut rb);
        assert_eq!(ra, rb, "{label}");
    }
}
