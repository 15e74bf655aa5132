//! Convergence diagnostics against ArviZ golden values, plus property checks.
//!
//! The golden file is produced by `scripts/arviz_reference.py` (see its header);
//! the draws it contains are the inputs, the values are ArviZ's outputs.

use mmm_diagnostics::convergence::{ess_bulk, ess_tail, mcse_mean, mcse_quantile, rhat, summarize};
use serde::Deserialize;
use std::collections::BTreeMap;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/arviz_golden.json");

/// Relative tolerance against ArviZ.
const REL_TOL: f64 = 1e-6;
/// Absolute tolerance, used only where ArviZ's value is exactly 0.
const ZERO_TOL: f64 = 1e-12;

#[derive(Debug, Deserialize)]
struct Golden {
    versions: BTreeMap<String, String>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    n_chains: usize,
    n_draws: usize,
    values: BTreeMap<String, Option<f64>>,
    draws: Vec<Vec<Option<f64>>>,
}

fn load() -> Golden {
    let text =
        std::fs::read_to_string(GOLDEN).unwrap_or_else(|e| panic!("cannot read {GOLDEN}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("cannot parse {GOLDEN}: {e}"))
}

/// Relative error of `got` against `want`; `None` when they disagree on NaN.
fn rel_err(got: f64, want: Option<f64>) -> Option<f64> {
    match want {
        None => got.is_nan().then_some(0.0),
        Some(_) if got.is_nan() => None,
        Some(0.0) => (got.abs() <= ZERO_TOL).then_some(0.0),
        Some(w) => Some((got - w).abs() / w.abs()),
    }
}

#[test]
fn matches_arviz_golden_values() {
    let golden = load();
    assert!(golden.versions.contains_key("arviz"));
    assert!(golden.cases.len() >= 7, "golden file has too few cases");

    let mut checked = 0_usize;
    let mut max_rel = 0.0_f64;
    let mut failures = Vec::new();
    for case in &golden.cases {
        assert_eq!(case.draws.len(), case.n_chains, "{}", case.name);
        let owned: Vec<Vec<f64>> = case
            .draws
            .iter()
            .map(|row| {
                assert_eq!(row.len(), case.n_draws, "{}", case.name);
                row.iter().map(|v| v.unwrap_or(f64::NAN)).collect()
            })
            .collect();
        let chains: Vec<&[f64]> = owned.iter().map(Vec::as_slice).collect();
        let summary = summarize(&chains);

        let computed: [(&str, f64); 8] = [
            ("rhat", rhat(&chains)),
            ("ess_bulk", ess_bulk(&chains)),
            ("ess_tail", ess_tail(&chains)),
            ("mcse_mean", mcse_mean(&chains)),
            ("mcse_quantile_0.05", mcse_quantile(&chains, 0.05)),
            ("mcse_quantile_0.5", mcse_quantile(&chains, 0.5)),
            ("mean", summary.mean),
            ("sd", summary.sd),
        ];
        for (key, got) in computed {
            let want = *case
                .values
                .get(key)
                .unwrap_or_else(|| panic!("{}: golden value {key} missing", case.name));
            checked += 1;
            match rel_err(got, want) {
                Some(e) if e <= REL_TOL => max_rel = max_rel.max(e),
                other => failures.push(format!(
                    "{} {key}: got {got:e}, ArviZ {want:?} (rel err {other:?})",
                    case.name
                )),
            }
        }
        // The summary must repeat the stand-alone functions bit for bit (NaN included).
        for (key, got) in [
            ("rhat", summary.rhat),
            ("ess_bulk", summary.ess_bulk),
            ("ess_tail", summary.ess_tail),
            ("mcse_mean", summary.mcse_mean),
        ] {
            let direct = computed
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| *v)
                .unwrap_or(f64::NAN);
            assert!(
                got.to_bits() == direct.to_bits() || (got.is_nan() && direct.is_nan()),
                "{}: summary.{key} {got} != {direct}",
                case.name
            );
        }
    }
    println!(
        "checked {checked} values from {} cases against ArviZ {}: max relative error {max_rel:e}",
        golden.cases.len(),
        golden
            .versions
            .get("arviz")
            .map(String::as_str)
            .unwrap_or("?")
    );
    assert!(failures.is_empty(), "mismatches:\n{}", failures.join("\n"));
}

/// Small deterministic PRNG (SplitMix64) so the property tests need no extra crates.
struct SplitMix(u64);

impl SplitMix {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform on (0, 1).
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1_u64 << 53) as f64
    }

    /// Standard normal by Box–Muller.
    fn normal(&mut self) -> f64 {
        let u1 = self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }
}

fn iid_chains(seed: u64, n_chains: usize, n_draws: usize) -> Vec<Vec<f64>> {
    let mut rng = SplitMix(seed);
    (0..n_chains)
        .map(|_| (0..n_draws).map(|_| rng.normal()).collect())
        .collect()
}

fn as_slices(owned: &[Vec<f64>]) -> Vec<&[f64]> {
    owned.iter().map(Vec::as_slice).collect()
}

#[test]
fn iid_normal_draws_look_converged() {
    for seed in 1..=5_u64 {
        let owned = iid_chains(seed, 4, 1000);
        let chains = as_slices(&owned);
        let n = 4000.0;
        let r = rhat(&chains);
        assert!((r - 1.0).abs() < 0.01, "seed {seed}: rhat {r}");
        let bulk = ess_bulk(&chains);
        assert!(
            bulk > 0.8 * n && bulk < 1.2 * n,
            "seed {seed}: ess_bulk {bulk}"
        );
        let tail = ess_tail(&chains);
        assert!(
            tail > 0.7 * n && tail < 1.3 * n,
            "seed {seed}: ess_tail {tail}"
        );
        // MCSE of the mean of iid N(0, 1) draws is about 1 / sqrt(n).
        let se = mcse_mean(&chains);
        assert!(
            (se * n.sqrt() - 1.0).abs() < 0.15,
            "seed {seed}: mcse_mean {se}"
        );
        let s = summarize(&chains);
        assert!(
            s.mean.abs() < 0.1 && (s.sd - 1.0).abs() < 0.05,
            "seed {seed}: {s:?}"
        );
    }
}

#[test]
fn shifted_chain_is_flagged() {
    let mut owned = iid_chains(42, 4, 500);
    for x in &mut owned[3] {
        *x += 10.0;
    }
    let chains = as_slices(&owned);
    let r = rhat(&chains);
    assert!(r > 1.1, "rhat {r}");
    assert!(ess_bulk(&chains) < 100.0);
}

#[test]
fn trending_chain_is_flagged_by_split() {
    // One chain drifting from -3 to 3: its two halves disagree even though every chain
    // has the same overall mean, which only the split R-hat can see.
    let mut owned = iid_chains(7, 4, 400);
    for chain in &mut owned {
        for (i, x) in chain.iter_mut().enumerate() {
            *x += -3.0 + 6.0 * i as f64 / 399.0;
        }
    }
    let chains = as_slices(&owned);
    assert!(rhat(&chains) > 1.1);
}

#[test]
fn invariant_to_monotone_transforms() {
    // Bulk ESS depends on the draws only through their ranks and tail ESS only through
    // quantile indicators, so any increasing transform leaves them unchanged; the folded
    // half of R-hat (|x - median|) is invariant only under increasing affine maps.
    let owned = iid_chains(11, 4, 300);
    let map = |f: &dyn Fn(f64) -> f64| -> Vec<Vec<f64>> {
        owned
            .iter()
            .map(|c| c.iter().map(|&x| f(x)).collect())
            .collect()
    };
    let exp = map(&|x| (2.0 * x).exp() + 5.0);
    let affine = map(&|x| 3.0 * x + 7.0);
    let a = as_slices(&owned);
    let b = as_slices(&exp);
    let c = as_slices(&affine);
    assert!((ess_bulk(&a) - ess_bulk(&b)).abs() < 1e-9);
    assert!((ess_tail(&a) - ess_tail(&b)).abs() < 1e-9);
    assert!((rhat(&a) - rhat(&c)).abs() < 1e-12);
    assert!((mcse_mean(&c) - 3.0 * mcse_mean(&a)).abs() < 1e-12);
}

#[test]
fn edge_cases_follow_arviz() {
    let constant = vec![vec![1.25; 50]; 3];
    let chains = as_slices(&constant);
    assert!(rhat(&chains).is_nan());
    assert_eq!(ess_bulk(&chains), 150.0);
    assert_eq!(ess_tail(&chains), 150.0);
    assert_eq!(mcse_mean(&chains), 0.0);
    assert_eq!(mcse_quantile(&chains, 0.5), 0.0);

    let mut with_nan = iid_chains(3, 2, 50);
    with_nan[1][10] = f64::NAN;
    let chains = as_slices(&with_nan);
    assert!(rhat(&chains).is_nan());
    assert!(ess_bulk(&chains).is_nan());
    assert!(ess_tail(&chains).is_nan());
    assert!(mcse_mean(&chains).is_nan());
    assert!(mcse_quantile(&chains, 0.05).is_nan());

    // A single chain: ESS and MCSE split it in halves; ArviZ's R-hat needs two chains.
    let single = iid_chains(5, 1, 1001);
    let chains = as_slices(&single);
    assert!(rhat(&chains).is_nan());
    let bulk = ess_bulk(&chains);
    assert!(bulk.is_finite() && bulk > 500.0, "ess_bulk {bulk}");
    assert!(mcse_mean(&chains).is_finite());

    // Fewer than four draws per chain.
    let short = iid_chains(9, 4, 3);
    let chains = as_slices(&short);
    assert!(rhat(&chains).is_nan() && ess_bulk(&chains).is_nan());
}
