//! Each sampler-side gate of the diagnose stage fails on a case built to break it: a density
//! whose gradient has the wrong sign, and chains too short for the ESS threshold. The same
//! fits with a correct density and enough draws pass, so the failures come from the breakage.

use std::sync::Arc;

use mmm_core::spec::GateSpec;
use mmm_diagnostics::convergence::{ess_bulk, rhat};
use mmm_diagnostics::stage::{GateInputs, ebfmi, evaluate_gates};
use mmm_sampler::{LogDensity, NutsOptions, Trace, sample};

/// Independent normals N(i, 1 + i/2) in 4 dimensions; `flip` negates the gradient only (the
/// log density stays right), the classic sign bug of a hand-written gradient.
struct Normals {
    flip: bool,
}

impl LogDensity for Normals {
    type Scratch = ();
    fn dim(&self) -> usize {
        4
    }
    fn param_names(&self) -> Vec<String> {
        (0..4).map(|i| format!("x[{i}]")).collect()
    }
    fn scratch(&self) {}
    fn logp(&self, u: &[f64], grad: &mut [f64], _: &mut ()) -> Result<f64, mmm_sampler::NonFinite> {
        let mut lp = 0.0;
        for (i, (x, g)) in u.iter().zip(grad.iter_mut()).enumerate() {
            let s = 1.0 + i as f64 / 2.0;
            let z = (x - i as f64) / s;
            lp -= 0.5 * z * z;
            *g = -z / s * if self.flip { -1.0 } else { 1.0 };
        }
        Ok(lp)
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        u.to_vec()
    }
}

fn options(draws: u64) -> NutsOptions {
    crate::test_options(4, 300, draws, 5, 0.8, 6)
}

/// The gate inputs the diagnose stage would compute from this trace.
fn gate_inputs(trace: &Trace) -> GateInputs {
    let d = trace.names.len();
    let mut max_rhat = f64::NEG_INFINITY;
    let mut min_ess = f64::INFINITY;
    for j in 0..d {
        let chains = trace.param_chains(j);
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let r = rhat(&refs);
        let e = ess_bulk(&refs);
        max_rhat = if r.is_nan() {
            f64::NAN
        } else {
            max_rhat.max(r)
        };
        min_ess = if e.is_nan() { f64::NAN } else { min_ess.min(e) };
    }
    let min_ebfmi = trace
        .stats
        .iter()
        .map(|s| {
            let e: Vec<f64> = s
                .energy
                .iter()
                .zip(&s.warmup)
                .filter(|(_, w)| !**w)
                .map(|(e, _)| *e)
                .collect();
            ebfmi(&e)
        })
        .fold(f64::INFINITY, f64::min);
    GateInputs {
        max_rhat,
        min_ess_bulk: min_ess,
        divergences: trace.divergences(),
        min_ebfmi,
        holdout_mape: None,
        scale_deviation: None,
    }
}

fn failed(trace: &Trace) -> Vec<String> {
    evaluate_gates(&GateSpec::default(), &gate_inputs(trace))
        .into_iter()
        .filter(|g| !g.passed)
        .map(|g| g.name)
        .collect()
}

#[test]
fn correct_density_with_enough_draws_passes_every_gate() {
    let trace = sample(Arc::new(Normals { flip: false }), &options(600)).expect("sample");
    assert!(failed(&trace).is_empty(), "failed: {:?}", failed(&trace));
}

#[test]
fn wrong_gradient_sign_fails_the_convergence_gates() {
    let trace = sample(Arc::new(Normals { flip: true }), &options(600)).expect("sample");
    let f = failed(&trace);
    // Hamiltonian dynamics pushed the wrong way: step sizes collapse and chains do not mix.
    assert!(f.contains(&"max_rhat".to_string()), "failed only {f:?}");
    assert!(f.contains(&"min_bulk_ess".to_string()), "failed only {f:?}");
}

#[test]
fn chains_too_short_fail_the_ess_gate() {
    // 4 x 40 draws cannot reach a bulk ESS of 400.
    let trace = sample(Arc::new(Normals { flip: false }), &options(40)).expect("sample");
    assert!(failed(&trace).contains(&"min_bulk_ess".to_string()));
}
