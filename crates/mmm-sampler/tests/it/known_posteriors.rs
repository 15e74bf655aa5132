//! NUTS through our adapter recovers known posteriors within Monte Carlo error, and shows the
//! textbook divergence behaviour on the eight-schools pair.

use std::sync::Arc;

use mmm_core::spec::InitStrategy;
use mmm_diagnostics::convergence::{ess_bulk, mcse_mean, rhat};
use mmm_sampler::{LogDensity, NutsOptions, Trace, sample};

fn options(seed: u64, tune: u64, draws: u64) -> NutsOptions {
    crate::test_options(4, tune, draws, seed, 0.8, 10)
}

/// Gaussian with mean `mu` and precision matrix `prec` (dense), logp = -(x-mu)' P (x-mu) / 2.
struct Gaussian {
    mu: Vec<f64>,
    prec: Vec<Vec<f64>>,
}

impl LogDensity for Gaussian {
    type Scratch = ();
    fn dim(&self) -> usize {
        self.mu.len()
    }
    fn param_names(&self) -> Vec<String> {
        (0..self.mu.len()).map(|i| format!("x[{i}]")).collect()
    }
    fn scratch(&self) {}
    fn logp(&self, u: &[f64], grad: &mut [f64], _: &mut ()) -> Result<f64, mmm_sampler::NonFinite> {
        let d: Vec<f64> = u.iter().zip(&self.mu).map(|(a, b)| a - b).collect();
        let mut lp = 0.0;
        for i in 0..d.len() {
            let pd: f64 = (0..d.len()).map(|j| self.prec[i][j] * d[j]).sum();
            grad[i] = -pd;
            lp -= 0.5 * d[i] * pd;
        }
        Ok(lp)
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        u.to_vec()
    }
}

fn chains_of(trace: &Trace, j: usize) -> Vec<Vec<f64>> {
    trace.param_chains(j)
}

/// Mean of each coordinate within `z` Monte Carlo standard errors of the truth, and variance
/// within `z` standard errors (the variance's MCSE is estimated as the MCSE of the mean of the
/// squared centred draws).
fn check_moments(trace: &Trace, mean: &[f64], var: &[f64], z: f64) -> Result<(), String> {
    for j in 0..mean.len() {
        let chains = chains_of(trace, j);
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        let all: Vec<f64> = chains.concat();
        let m = all.iter().sum::<f64>() / all.len() as f64;
        let se = mcse_mean(&refs);
        if (m - mean[j]).abs() > z * se {
            return Err(format!("x[{j}] mean {m} vs {} (mcse {se})", mean[j]));
        }
        let sq: Vec<Vec<f64>> = chains
            .iter()
            .map(|c| c.iter().map(|x| (x - mean[j]).powi(2)).collect())
            .collect();
        let sq_refs: Vec<&[f64]> = sq.iter().map(Vec::as_slice).collect();
        let v = sq.concat().iter().sum::<f64>() / all.len() as f64;
        let se_v = mcse_mean(&sq_refs);
        if (v - var[j]).abs() > z * se_v {
            return Err(format!("x[{j}] variance {v} vs {} (mcse {se_v})", var[j]));
        }
        if rhat(&refs) > 1.01 {
            return Err(format!("x[{j}] R-hat {}", rhat(&refs)));
        }
    }
    Ok(())
}

/// Over 10 seeds, a 4-sigma miss of any of 2d moments should essentially never happen
/// (P ~ 6e-5 each); allow at most one seed to fail to absorb MCSE-estimate noise.
fn across_seeds(density: Arc<Gaussian>, mean: &[f64], var: &[f64]) {
    let failures: Vec<String> = (0..10)
        .filter_map(|seed| {
            let trace = sample(Arc::clone(&density), &options(seed, 500, 1000)).expect("sampling");
            assert_eq!(trace.divergences(), 0, "seed {seed}");
            check_moments(&trace, mean, var, 4.0)
                .err()
                .map(|e| format!("seed {seed}: {e}"))
        })
        .collect();
    assert!(failures.len() <= 1, "{failures:#?}");
}

#[test]
fn standard_normal_moments_within_monte_carlo_error() {
    let d = 5;
    let prec = (0..d)
        .map(|i| (0..d).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    across_seeds(
        Arc::new(Gaussian {
            mu: vec![0.0; d],
            prec,
        }),
        &vec![0.0; d],
        &vec![1.0; d],
    );
}

#[test]
fn correlated_normal_with_different_scales() {
    // Covariance [[1, 0.9*1*10], [0.9*10, 100]]; mean (1, -3).
    let (s1, s2, rho) = (1.0_f64, 10.0_f64, 0.9_f64);
    let det = s1 * s1 * s2 * s2 * (1.0 - rho * rho);
    let prec = vec![
        vec![s2 * s2 / det, -rho * s1 * s2 / det],
        vec![-rho * s1 * s2 / det, s1 * s1 / det],
    ];
    across_seeds(
        Arc::new(Gaussian {
            mu: vec![1.0, -3.0],
            prec,
        }),
        &[1.0, -3.0],
        &[1.0, 100.0],
    );
}

/// y_i ~ Normal(mu, sigma) with known sigma, mu ~ Normal(m0, s0): the posterior of mu is
/// Normal with precision 1/s0^2 + n/sigma^2 and mean (m0/s0^2 + sum y/sigma^2) / precision.
struct ConjugateNormal {
    y: Vec<f64>,
    sigma: f64,
    m0: f64,
    s0: f64,
}

impl LogDensity for ConjugateNormal {
    type Scratch = ();
    fn dim(&self) -> usize {
        1
    }
    fn param_names(&self) -> Vec<String> {
        vec!["mu".into()]
    }
    fn scratch(&self) {}
    fn logp(&self, u: &[f64], grad: &mut [f64], _: &mut ()) -> Result<f64, mmm_sampler::NonFinite> {
        let mu = u[0];
        let prior = -0.5 * ((mu - self.m0) / self.s0).powi(2);
        let lik: f64 = self
            .y
            .iter()
            .map(|y| -0.5 * ((y - mu) / self.sigma).powi(2))
            .sum();
        grad[0] = -(mu - self.m0) / self.s0.powi(2)
            + self
                .y
                .iter()
                .map(|y| (y - mu) / self.sigma.powi(2))
                .sum::<f64>();
        Ok(prior + lik)
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        u.to_vec()
    }
}

#[test]
fn conjugate_normal_matches_the_closed_form_posterior() {
    let y: Vec<f64> = (0..20)
        .map(|i| 2.0 + ((i * 37 % 11) as f64 - 5.0) / 4.0)
        .collect();
    let model = ConjugateNormal {
        y: y.clone(),
        sigma: 1.5,
        m0: 0.0,
        s0: 3.0,
    };
    let precision = 1.0 / model.s0.powi(2) + y.len() as f64 / model.sigma.powi(2);
    let mean =
        (model.m0 / model.s0.powi(2) + y.iter().sum::<f64>() / model.sigma.powi(2)) / precision;
    let trace = sample(Arc::new(model), &options(11, 500, 2000)).expect("sampling");
    check_moments(&trace, &[mean], &[1.0 / precision], 4.0).expect("closed form");
}

/// Eight schools (Rubin 1981): y_j ~ N(theta_j, sigma_j), theta_j = mu + tau * eta_j,
/// mu ~ N(0, 5), tau ~ HalfCauchy(5) (sampled as log tau, Jacobian included).
struct EightSchools {
    centered: bool,
}

const Y: [f64; 8] = [28.0, 8.0, -3.0, 7.0, -1.0, 1.0, 18.0, 12.0];
const SIGMA: [f64; 8] = [15.0, 10.0, 16.0, 11.0, 9.0, 11.0, 10.0, 18.0];

impl LogDensity for EightSchools {
    type Scratch = ();
    fn dim(&self) -> usize {
        10
    }
    fn param_names(&self) -> Vec<String> {
        let mut n = vec!["mu".to_string(), "log_tau".to_string()];
        n.extend((0..8).map(|j| format!("theta_or_eta[{j}]")));
        n
    }
    fn scratch(&self) {}
    fn logp(&self, u: &[f64], grad: &mut [f64], _: &mut ()) -> Result<f64, mmm_sampler::NonFinite> {
        let (mu, log_tau) = (u[0], u[1]);
        let tau = log_tau.exp();
        // mu ~ N(0, 5); tau ~ HalfCauchy(5): -ln(1 + (tau/5)^2), plus Jacobian log tau.
        let mut lp = -0.5 * (mu / 5.0).powi(2) - (1.0 + (tau / 5.0).powi(2)).ln() + log_tau;
        grad[0] = -mu / 25.0;
        grad[1] = -2.0 * (tau / 5.0).powi(2) / (1.0 + (tau / 5.0).powi(2)) + 1.0;
        for j in 0..8 {
            let v = u[2 + j];
            if self.centered {
                // theta_j ~ N(mu, tau): -ln tau - (theta - mu)^2 / (2 tau^2)
                let z = (v - mu) / tau;
                lp += -log_tau - 0.5 * z * z;
                grad[0] += z / tau;
                grad[1] += -1.0 + z * z;
                let r = (Y[j] - v) / SIGMA[j];
                lp += -0.5 * r * r;
                grad[2 + j] = -z / tau + r / SIGMA[j];
            } else {
                // eta_j ~ N(0, 1), theta_j = mu + tau eta_j
                let theta = mu + tau * v;
                let r = (Y[j] - theta) / SIGMA[j];
                lp += -0.5 * v * v - 0.5 * r * r;
                let dtheta = r / SIGMA[j];
                grad[0] += dtheta;
                grad[1] += dtheta * tau * v;
                grad[2 + j] = -v + dtheta * tau;
            }
        }
        if lp.is_finite() {
            Ok(lp)
        } else {
            Err(mmm_sampler::NonFinite("eight schools"))
        }
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        u.to_vec()
    }
}

#[test]
fn eight_schools_centered_diverges_and_non_centered_does_not() {
    for seed in 0..5 {
        let mut opts = options(seed, 1000, 1000);
        opts.target_accept = 0.95;
        let centered = sample(Arc::new(EightSchools { centered: true }), &opts).expect("sampling");
        let non_centered =
            sample(Arc::new(EightSchools { centered: false }), &opts).expect("sampling");
        assert!(
            centered.divergences() > 0,
            "seed {seed}: the centered funnel should produce divergences"
        );
        assert_eq!(non_centered.divergences(), 0, "seed {seed}: non-centered");
        let chains = non_centered.param_chains(0);
        let refs: Vec<&[f64]> = chains.iter().map(Vec::as_slice).collect();
        assert!(rhat(&refs) < 1.01 && ess_bulk(&refs) > 400.0, "seed {seed}");
        // Posterior mean of mu is about 4.4 (Gelman et al., BDA3).
        let m = chains.concat().iter().sum::<f64>() / 4000.0;
        assert!(
            (m - 4.4).abs() < 4.0 * mcse_mean(&refs) + 0.3,
            "seed {seed}: mu mean {m}"
        );
    }
}

#[test]
fn gradient_of_the_test_densities_matches_finite_differences() {
    type Density = Box<dyn Fn(&[f64], &mut [f64]) -> f64>;
    let densities: Vec<Density> = vec![
        Box::new(|u, g| {
            EightSchools { centered: true }
                .logp(u, g, &mut ())
                .unwrap_or(f64::NAN)
        }),
        Box::new(|u, g| {
            EightSchools { centered: false }
                .logp(u, g, &mut ())
                .unwrap_or(f64::NAN)
        }),
    ];
    let u: Vec<f64> = (0..10).map(|i| ((i * 13) as f64).sin()).collect();
    for f in &densities {
        let mut g = vec![0.0; 10];
        f(&u, &mut g);
        let mut scratch = vec![0.0; 10];
        for i in 0..10 {
            let (mut up, mut um) = (u.clone(), u.clone());
            up[i] += 1e-6;
            um[i] -= 1e-6;
            let fd = (f(&up, &mut scratch) - f(&um, &mut scratch)) / 2e-6;
            assert!(
                (fd - g[i]).abs() < 1e-5 * (1.0 + g[i].abs()),
                "coordinate {i}: {fd} vs {}",
                g[i]
            );
        }
    }
}

#[test]
fn prior_initialization_needs_a_density_with_a_prior() {
    let mut opts = options(0, 10, 10);
    opts.init = InitStrategy::Prior;
    let density = Arc::new(Gaussian {
        mu: vec![0.0],
        prec: vec![vec![1.0]],
    });
    let err = sample(density, &opts).expect_err("a bare Gaussian has no prior to start from");
    assert!(format!("{err}").contains("prior"), "{err}");
}

/// N(12, 1) x N(0, 1) whose density is finite only where u0 > 10: Stan's Uniform(-2, 2) start
/// box never reaches it.
struct FarAway;

impl LogDensity for FarAway {
    type Scratch = ();
    fn dim(&self) -> usize {
        2
    }
    fn param_names(&self) -> Vec<String> {
        vec!["a".into(), "b".into()]
    }
    fn scratch(&self) {}
    fn logp(&self, u: &[f64], grad: &mut [f64], _: &mut ()) -> Result<f64, mmm_sampler::NonFinite> {
        if u[0] <= 10.0 {
            return Err(mmm_sampler::NonFinite("u[0] <= 10"));
        }
        grad[0] = -(u[0] - 12.0);
        grad[1] = -u[1];
        Ok(-0.5 * (u[0] - 12.0).powi(2) - 0.5 * u[1] * u[1])
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        u.to_vec()
    }
}

#[test]
fn chains_start_from_a_given_point_and_retry_jittered_starts_that_fail() {
    let uniform = sample(Arc::new(FarAway), &options(3, 200, 200));
    assert!(uniform.is_err(), "no uniform start has a finite density");
    let mut opts = options(3, 200, 200);
    opts.init = InitStrategy::Point;
    // Half of the jittered starts around 10.0 land where the density is not finite; those are
    // redrawn, so every chain starts and samples.
    opts.start = Some(vec![10.0, 0.0]);
    opts.jitter = 0.5;
    let trace = sample(Arc::new(FarAway), &opts).expect("point start");
    assert_eq!(trace.draws_per_chain(), vec![200; 4]);
    let a: Vec<f64> = chains_of(&trace, 0).concat();
    assert!(a.iter().all(|v| *v > 10.0));
    let mean = a.iter().sum::<f64>() / a.len() as f64;
    // Truncation at 2 sd moves the mean to 12.055; 800 draws give a Monte Carlo SE near 0.05.
    assert!((mean - 12.055).abs() < 0.3, "mean {mean}");
    opts.start = Some(vec![10.0]);
    assert!(
        sample(Arc::new(FarAway), &opts).is_err(),
        "start of the wrong length"
    );
}
