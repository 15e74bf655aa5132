//! Power-scaling sensitivity against the priorsense reference (scripts/priorsense_reference.py,
//! which implements priorsense's and posterior's formulas in numpy).
//!
//! Tolerance: absolute 1e-6 on every Pareto k, weighted mean, CJS distance and sensitivity
//! (the bar); the diagnosis labels must be equal. The Rust code follows the reference
//! operation by operation except for summation order, the Pareto fit's weight normalization
//! (1 / sum exp(l_j - l_i) here, exp(l_i - logsumexp l) there) and logs of ratios instead of
//! differences of logs in the distance, all at the 1e-15 level; any change of formula (tail
//! length, r_eff, the unsigned distance, the alpha scaling) moves values by far more than
//! 1e-6.

use mmm_diagnostics::sensitivity::{
    Diagnosis, LogComponent, Quantity, QuantityKind, SensitivityInputs, SortedDraws, cjs_distance,
    perturb, power_scaling, quantity_sensitivity,
};
use serde::Deserialize;
use std::collections::BTreeMap;

const GOLDEN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/data/priorsense_golden.json"
);
const TOL: f64 = 1e-6;

#[derive(Deserialize)]
struct Golden {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    log_prior: BTreeMap<String, Vec<f64>>,
    log_lik: Vec<f64>,
    quantities: BTreeMap<String, Vec<f64>>,
    expected: Expected,
}

#[derive(Deserialize)]
struct Expected {
    perturbations: BTreeMap<String, Expectation>,
    diagnosis: BTreeMap<String, String>,
}

#[derive(Deserialize)]
struct Expectation {
    khat: [Option<f64>; 2],
    weighted_mean: BTreeMap<String, [f64; 2]>,
    cjs: BTreeMap<String, [f64; 2]>,
    sensitivity: BTreeMap<String, f64>,
}

fn load() -> Golden {
    let text = std::fs::read_to_string(GOLDEN).expect("golden file");
    serde_json::from_str(&text).expect("golden json")
}

/// The largest absolute difference seen, for the report of how close the match is.
fn close(worst: &mut f64, what: &str, got: f64, want: f64) {
    let err = (got - want).abs();
    *worst = worst.max(err);
    assert!(
        err <= TOL,
        "{what}: got {got}, want {want} (|diff| {err:e})"
    );
}

/// The log density a perturbation key of the reference scales.
fn component(case: &Case, key: &str) -> Vec<f64> {
    match key {
        "likelihood" => case.log_lik.clone(),
        "prior" => {
            let mut joint = vec![0.0; case.log_lik.len()];
            for values in case.log_prior.values() {
                for (j, v) in joint.iter_mut().zip(values) {
                    *j += v;
                }
            }
            joint
        }
        group => case.log_prior[group.trim_start_matches("prior:")].clone(),
    }
}

/// One perturbation: Pareto k, weighted means and CJS distances at both alphas, sensitivity.
fn check_perturbation(case: &Case, key: &str, want: &Expectation, worst: &mut f64) {
    let p = perturb(&component(case, key));
    for (side, (got, want)) in p.khat.iter().zip(&want.khat).enumerate() {
        let what = format!("{} {key} khat[{side}]", case.name);
        match (got, want) {
            (Some(g), Some(w)) => close(worst, &what, *g, *w),
            (None, None) => {}
            _ => panic!("{what}: got {got:?}, want {want:?}"),
        }
    }
    let weights = p.weights.as_ref().expect("finite log density");
    for (q, draws) in &case.quantities {
        let sorted = SortedDraws::new(draws);
        for (side, w) in weights.iter().enumerate() {
            let mean: f64 = w.iter().zip(draws).map(|(w, x)| w * x).sum();
            let what = format!("{} {key} {q}", case.name);
            close(
                worst,
                &format!("{what} mean[{side}]"),
                mean,
                want.weighted_mean[q][side],
            );
            let d = cjs_distance(&sorted, w);
            close(worst, &format!("{what} cjs[{side}]"), d, want.cjs[q][side]);
        }
        let s = quantity_sensitivity(&sorted, &p).expect("weights");
        close(
            worst,
            &format!("{} {key} {q} sensitivity", case.name),
            s,
            want.sensitivity[q],
        );
    }
}

/// The whole analysis on the case: joint prior and likelihood sensitivity and the diagnosis.
fn check_analysis(case: &Case, worst: &mut f64) {
    let inputs = SensitivityInputs {
        prior_groups: (case.log_prior.iter())
            .map(|(g, v)| LogComponent {
                group: g.clone(),
                in_joint_prior: true,
                values: v.clone(),
            })
            .collect(),
        log_likelihood: case.log_lik.clone(),
        quantities: (case.quantities.iter())
            .map(|(q, v)| Quantity {
                name: q.clone(),
                kind: QuantityKind::Roas,
                channel: None,
                draws: v.clone(),
                multiple_of: None,
            })
            .collect(),
    };
    let result = power_scaling(&inputs);
    let p = &case.expected.perturbations;
    for row in &result.quantities {
        let q = &row.quantity;
        let what = format!("{} {q}", case.name);
        let prior = row.prior.expect("prior");
        let lik = row.likelihood.expect("likelihood");
        close(
            worst,
            &format!("{what} prior"),
            prior,
            p["prior"].sensitivity[q],
        );
        close(
            worst,
            &format!("{what} likelihood"),
            lik,
            p["likelihood"].sensitivity[q],
        );
        assert_eq!(row.diagnosis.label(), case.expected.diagnosis[q], "{what}");
        for g in &row.groups {
            let want = p[&format!("prior:{}", g.group)].sensitivity[q];
            close(
                worst,
                &format!("{what} group {}", g.group),
                g.prior.expect("group"),
                want,
            );
        }
    }
}

#[test]
fn power_scaling_matches_priorsense_reference() {
    let golden = load();
    let mut worst = 0.0_f64;
    for case in &golden.cases {
        for (key, want) in &case.expected.perturbations {
            check_perturbation(case, key, want, &mut worst);
        }
        check_analysis(case, &mut worst);
    }
    eprintln!("largest absolute difference from the reference: {worst:e}");
}

#[test]
fn golden_cases_cover_every_diagnosis() {
    let golden = load();
    let labels: Vec<&str> = (golden.cases.iter())
        .flat_map(|c| c.expected.diagnosis.values().map(String::as_str))
        .collect();
    for d in [
        Diagnosis::None,
        Diagnosis::PriorDataConflict,
        Diagnosis::StrongPriorWeakLikelihood,
    ] {
        assert!(labels.contains(&d.label()), "no case with {}", d.label());
    }
}
