//! Model weights against ArviZ golden values (scripts/arviz_stacking_reference.py): PSIS-LOO
//! from the stored pointwise log-likelihoods, then stacking, pseudo-BMA and pseudo-BMA+.
//!
//! Tolerances:
//! - stacking: 1e-4 absolute against `az.compare(method="stacking")`. ArviZ stops SLSQP at its
//!   default `ftol = 1e-6` on the objective, so its weights are within about 3e-5 of the optimum
//!   on these cases (the script records the optimum solved with `ftol = 1e-15` as
//!   `stacking_tight`); our solver stops at the optimality conditions to 1e-12 and must match
//!   that tight optimum to 1e-7.
//! - pseudo-BMA: 1e-12 (a softmax of the elpd totals, as ArviZ).
//! - pseudo-BMA+: a Monte Carlo estimate; ArviZ's reference uses 100,000 bootstrap replicates,
//!   ours 1000 with another random stream, so they agree within 5 Monte Carlo standard errors
//!   sd / sqrt(1000) (sd, the replicates' standard deviation, is in the golden file).

use mmm_diagnostics::loo::loo_waic;
use mmm_diagnostics::stacking::{
    BOOTSTRAP_DRAWS, BOOTSTRAP_SEED, KKT_TOLERANCE, WeightsError, model_weights,
    pseudo_bma_plus_weights, pseudo_bma_weights, stacking_weights,
};
use serde::Deserialize;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/arviz_stacking_golden.json"
);
const STACKING_TOL: f64 = 1e-4;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    /// [model][draw][obs], one chain.
    log_lik: Vec<Vec<Vec<f64>>>,
    values: Values,
}

#[derive(Deserialize)]
struct Values {
    stacking: Vec<f64>,
    stacking_tight: Vec<f64>,
    pseudo_bma: Vec<f64>,
    bb_pseudo_bma: Vec<f64>,
    bb_sd: Vec<f64>,
    loo_i: Vec<Vec<f64>>,
}

fn load() -> Golden {
    let text = std::fs::read_to_string(GOLDEN).expect("golden file");
    serde_json::from_str(&text).expect("golden json")
}

/// Pointwise elpd_loo of every model of a case, from its log-likelihood [draw][obs].
fn pointwise(case: &Case) -> Vec<Vec<f64>> {
    case.log_lik
        .iter()
        .map(|ll| {
            let n = ll[0].len();
            let by_obs: Vec<Vec<f64>> = (0..n).map(|i| ll.iter().map(|d| d[i]).collect()).collect();
            loo_waic(&by_obs, 1.0, 0.7).pointwise_elpd_loo
        })
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: number of models");
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}[{k}]: got {g}, want {w} (diff {:e}, tolerance {tol:e}); all {got:?} vs {want:?}",
            (g - w).abs()
        );
    }
}

#[test]
fn stacking_and_pseudo_bma_equal_arviz() {
    let golden = load();
    assert_eq!(golden.cases.len(), 5);
    let (mut worst, mut worst_tight): (f64, f64) = (0.0, 0.0);
    for case in &golden.cases {
        let (name, v) = (&case.name, &case.values);
        let elpd = pointwise(case);
        for (k, (got, want)) in elpd.iter().zip(&v.loo_i).enumerate() {
            assert_close(&format!("{name} loo_i of model {k}"), got, want, 1e-9);
        }
        let w = model_weights(&elpd).expect("weights");
        assert!(
            w.stacking_kkt < KKT_TOLERANCE,
            "{name}: kkt {}",
            w.stacking_kkt
        );
        assert_close(
            &format!("{name} stacking"),
            &w.stacking,
            &v.stacking,
            STACKING_TOL,
        );
        assert_close(
            &format!("{name} stacking (tight)"),
            &w.stacking,
            &v.stacking_tight,
            1e-7,
        );
        assert_close(
            &format!("{name} pseudo-BMA"),
            &w.pseudo_bma,
            &v.pseudo_bma,
            1e-12,
        );
        let mc: Vec<f64> = v
            .bb_sd
            .iter()
            .map(|sd| 5.0 * sd / (BOOTSTRAP_DRAWS as f64).sqrt() + 1e-9)
            .collect();
        for (k, ((g, want), tol)) in w
            .pseudo_bma_plus
            .iter()
            .zip(&v.bb_pseudo_bma)
            .zip(&mc)
            .enumerate()
        {
            assert!(
                (g - want).abs() <= *tol,
                "{name} pseudo-BMA+[{k}]: got {g}, ArviZ {want}, Monte Carlo bound {tol:e}"
            );
        }
        for ((g, want), tight) in w.stacking.iter().zip(&v.stacking).zip(&v.stacking_tight) {
            worst = worst.max((g - want).abs());
            worst_tight = worst_tight.max((g - tight).abs());
        }
        let sum: f64 = w.stacking.iter().sum();
        assert!((sum - 1.0).abs() < 1e-12, "{name}: weights sum to {sum}");
    }
    eprintln!(
        "largest |stacking - ArviZ| over the cases: {worst:e}; against the tight optimum: \
         {worst_tight:e}"
    );
}

#[test]
fn exact_ties_keep_equal_weights_and_a_dominant_model_takes_all() {
    let golden = load();
    let tie = golden
        .cases
        .iter()
        .find(|c| c.name == "exact_tie")
        .expect("case");
    let w = stacking_weights(&pointwise(tie)).expect("weights").weights;
    assert_eq!(w[0], w[1], "tied models: {w:?}");
    let dominant = golden
        .cases
        .iter()
        .find(|c| c.name == "dominant")
        .expect("case");
    let w = stacking_weights(&pointwise(dominant))
        .expect("weights")
        .weights;
    assert_eq!(w, vec![1.0, 0.0]);
}

/// Pseudo-BMA+ has a closed form when the models' pointwise elpd differ by a constant at every
/// observation: every bootstrap replicate then gives the pseudo-BMA weights, so the mean does
/// too. With zero replicates it is pseudo-BMA by definition.
#[test]
fn pseudo_bma_plus_equals_pseudo_bma_when_pointwise_differences_are_constant() {
    let base: Vec<f64> = (0..25).map(|i| -1.0 - 0.1 * (i as f64).sin()).collect();
    let elpd: Vec<Vec<f64>> = [0.0, -0.03, -0.1]
        .iter()
        .map(|shift| base.iter().map(|v| v + shift).collect())
        .collect();
    let plain = pseudo_bma_weights(&elpd).expect("weights");
    let plus = pseudo_bma_plus_weights(&elpd, BOOTSTRAP_DRAWS, BOOTSTRAP_SEED).expect("weights");
    assert_close("pseudo-BMA+ (constant differences)", &plus, &plain, 1e-12);
    let total: Vec<f64> = [0.0, -0.75, -2.5].iter().map(|d: &f64| d.exp()).collect();
    let z: f64 = total.iter().sum();
    let closed: Vec<f64> = total.iter().map(|t| t / z).collect();
    assert_close("pseudo-BMA closed form", &plain, &closed, 1e-12);
    let zero = pseudo_bma_plus_weights(&elpd, 0, 1).expect("weights");
    assert_close("pseudo-BMA+ with no replicates", &zero, &plain, 0.0);
}

/// Pseudo-BMA+ is reproducible (fixed seed) and shrinks towards equal weights compared with
/// pseudo-BMA when the pointwise differences are noisy (Yao et al. 2018, section 3.3).
#[test]
fn pseudo_bma_plus_is_reproducible_and_less_extreme_than_pseudo_bma() {
    let a: Vec<f64> = (0..40)
        .map(|i| -1.0 + 0.6 * ((i * 7 % 11) as f64 / 11.0 - 0.5))
        .collect();
    let b: Vec<f64> = a
        .iter()
        .enumerate()
        .map(|(i, v)| v - 0.05 + 0.4 * ((i % 3) as f64 - 1.0))
        .collect();
    let elpd = vec![a, b];
    let plain = pseudo_bma_weights(&elpd).expect("weights");
    let plus = model_weights(&elpd).expect("weights").pseudo_bma_plus;
    let again = model_weights(&elpd).expect("weights").pseudo_bma_plus;
    assert_eq!(plus, again);
    assert!(plus[0] < plain[0] && plus[0] > 0.5, "{plus:?} vs {plain:?}");
}

#[test]
fn single_models_and_bad_inputs() {
    let one = vec![vec![-1.0, -2.0]];
    let w = model_weights(&one).expect("weights");
    assert_eq!(
        (w.stacking, w.pseudo_bma, w.pseudo_bma_plus),
        (vec![1.0], vec![1.0], vec![1.0])
    );
    assert_eq!(
        stacking_weights(&[]).expect_err("no models"),
        WeightsError::NoModels
    );
    assert_eq!(
        stacking_weights(&[vec![], vec![]]).expect_err("no observations"),
        WeightsError::NoObservations
    );
    assert!(matches!(
        pseudo_bma_weights(&[vec![-1.0], vec![-1.0, -2.0]]),
        Err(WeightsError::Ragged {
            model: 1,
            len: 2,
            expected: 1
        })
    ));
    assert!(matches!(
        model_weights(&[vec![-1.0, f64::NAN]]),
        Err(WeightsError::NotFinite {
            model: 0,
            observation: 1,
            ..
        })
    ));
    // Densities far apart (exp underflows without the per-observation shift).
    let far = vec![vec![-2000.0, -1.0], vec![-1.0, -2000.0]];
    let w = stacking_weights(&far).expect("weights");
    assert_close("far apart", &w.weights, &[0.5, 0.5], 1e-12);
    assert!(w.log_score.is_finite());
}
