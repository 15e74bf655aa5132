//! Log densities of prior families with their derivatives, and bijections to the real line.

use mmm_core::spec::Prior;

/// Log density of `prior` at x up to an additive constant, and its derivative d/dx.
/// Outside the support the log density is -inf.
pub fn log_prior(prior: &Prior, x: f64) -> (f64, f64) {
    match *prior {
        // -(x - mu)^2 / (2 sigma^2)
        Prior::Normal { mu, sigma } => {
            let z = (x - mu) / sigma;
            (-0.5 * z * z, -z / sigma)
        }
        // -x^2 / (2 sigma^2), x >= 0
        Prior::HalfNormal { sigma } => {
            if x < 0.0 {
                return (f64::NEG_INFINITY, 0.0);
            }
            let z = x / sigma;
            (-0.5 * z * z, -z / sigma)
        }
        // -ln x - (ln x - mu)^2 / (2 sigma^2), x > 0
        Prior::LogNormal { mu, sigma } => {
            if x <= 0.0 {
                return (f64::NEG_INFINITY, 0.0);
            }
            let lx = x.ln();
            let z = (lx - mu) / sigma;
            (-lx - 0.5 * z * z, (-1.0 - z / sigma) / x)
        }
        // (k - 1) ln x - r x, x > 0
        Prior::Gamma { shape, rate } => {
            if x <= 0.0 {
                return (f64::NEG_INFINITY, 0.0);
            }
            ((shape - 1.0) * x.ln() - rate * x, (shape - 1.0) / x - rate)
        }
        // (a - 1) ln x + (b - 1) ln(1 - x), 0 < x < 1
        Prior::Beta { alpha, beta } => {
            if x <= 0.0 || x >= 1.0 {
                return (f64::NEG_INFINITY, 0.0);
            }
            (
                (alpha - 1.0) * x.ln() + (beta - 1.0) * (-x).ln_1p(),
                (alpha - 1.0) / x - (beta - 1.0) / (1.0 - x),
            )
        }
        // -r x, x >= 0
        Prior::Exponential { rate } => {
            if x < 0.0 {
                return (f64::NEG_INFINITY, 0.0);
            }
            (-rate * x, -rate)
        }
        // -(nu + 1)/2 ln(1 + z^2 / nu), z = (x - mu) / sigma
        Prior::StudentT { nu, mu, sigma } => {
            let z = (x - mu) / sigma;
            (
                -0.5 * (nu + 1.0) * (z * z / nu).ln_1p(),
                -(nu + 1.0) * z / (sigma * (nu + z * z)),
            )
        }
        // -|x - mu| / b
        Prior::Laplace { mu, b } => {
            let d = x - mu;
            (
                -d.abs() / b,
                -d.signum() / b * if d == 0.0 { 0.0 } else { 1.0 },
            )
        }
        // Normal(mu, sigma) on [lower, upper]; the normalizing constant does not depend on x.
        Prior::TruncatedNormal {
            mu,
            sigma,
            lower,
            upper,
        } => {
            if x < lower || x > upper {
                return (f64::NEG_INFINITY, 0.0);
            }
            let z = (x - mu) / sigma;
            (-0.5 * z * z, -z / sigma)
        }
    }
}

/// A smooth bijection from the real line onto a parameter's support.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bijection {
    /// x = u.
    Identity,
    /// x = lower + e^u.
    Lower(f64),
    /// x = upper - e^u.
    Upper(f64),
    /// x = lower + (upper - lower) / (1 + e^-u).
    Interval(f64, f64),
}

impl Bijection {
    /// The bijection onto the support of `prior`, or onto (0, inf) / (0, 1) for `positive` /
    /// `unit` parameters whose prior does not bound them further.
    pub fn for_prior(prior: &Prior) -> Self {
        match *prior {
            Prior::Normal { .. } | Prior::StudentT { .. } | Prior::Laplace { .. } => {
                Bijection::Identity
            }
            Prior::HalfNormal { .. }
            | Prior::LogNormal { .. }
            | Prior::Gamma { .. }
            | Prior::Exponential { .. } => Bijection::Lower(0.0),
            Prior::Beta { .. } => Bijection::Interval(0.0, 1.0),
            Prior::TruncatedNormal { lower, upper, .. } => {
                match (lower.is_finite(), upper.is_finite()) {
                    (true, true) => Bijection::Interval(lower, upper),
                    (true, false) => Bijection::Lower(lower),
                    (false, true) => Bijection::Upper(upper),
                    (false, false) => Bijection::Identity,
                }
            }
        }
    }

    /// Constrained value x(u), dx/du, log |dx/du| and d log|dx/du| / du.
    pub fn forward(&self, u: f64) -> (f64, f64, f64, f64) {
        match *self {
            Bijection::Identity => (u, 1.0, 0.0, 0.0),
            Bijection::Lower(a) => {
                let e = u.exp();
                (a + e, e, u, 1.0)
            }
            Bijection::Upper(b) => {
                let e = u.exp();
                (b - e, -e, u, 1.0)
            }
            Bijection::Interval(a, b) => {
                // One exponential: with e = e^(-|u|), p = 1 / (1 + e) or e / (1 + e), and
                // ln(p (1 - p)) = -softplus(u) - softplus(-u) = -|u| - 2 ln(1 + e).
                let e = (-u.abs()).exp();
                let inv = 1.0 / (1.0 + e);
                let p = if u >= 0.0 { inv } else { e * inv };
                let w = b - a;
                let ln_w = if w == 1.0 { 0.0 } else { w.ln() };
                (
                    a + w * p,
                    w * p * (1.0 - p),
                    ln_w - u.abs() - 2.0 * e.ln_1p(),
                    1.0 - 2.0 * p,
                )
            }
        }
    }

    /// Unconstrained u for a constrained value x (inverse of `forward`).
    pub fn inverse(&self, x: f64) -> f64 {
        match *self {
            Bijection::Identity => x,
            Bijection::Lower(a) => (x - a).ln(),
            Bijection::Upper(b) => (b - x).ln(),
            Bijection::Interval(a, b) => {
                let p = (x - a) / (b - a);
                (p / (1.0 - p)).ln()
            }
        }
    }
}

/// One draw from `prior` (parameters already validated by the spec); `None` if the family's
/// parameters are rejected by the sampler library.
pub fn sample_prior<R: nuts_rs::rand::Rng + ?Sized>(prior: &Prior, rng: &mut R) -> Option<f64> {
    use rand_distr::{Beta, Distribution, Exp, Gamma, LogNormal, Normal, StandardNormal, StudentT};
    let uniform = |rng: &mut R| -> f64 { nuts_rs::rand::RngExt::random::<f64>(rng) };
    Some(match *prior {
        Prior::Normal { mu, sigma } => Normal::new(mu, sigma).ok()?.sample(rng),
        Prior::HalfNormal { sigma } => {
            let z: f64 = StandardNormal.sample(rng);
            (sigma * z).abs()
        }
        Prior::LogNormal { mu, sigma } => LogNormal::new(mu, sigma).ok()?.sample(rng),
        // rand_distr's Gamma takes a scale: 1 / rate.
        Prior::Gamma { shape, rate } => Gamma::new(shape, 1.0 / rate).ok()?.sample(rng),
        Prior::Beta { alpha, beta } => Beta::new(alpha, beta).ok()?.sample(rng),
        Prior::Exponential { rate } => Exp::new(rate).ok()?.sample(rng),
        Prior::StudentT { nu, mu, sigma } => mu + sigma * StudentT::new(nu).ok()?.sample(rng),
        // Inverse CDF: mu - b sign(u) ln(1 - 2|u|), u ~ Uniform(-1/2, 1/2).
        Prior::Laplace { mu, b } => {
            let u = uniform(rng) - 0.5;
            mu - b * u.signum() * (1.0 - 2.0 * u.abs()).ln()
        }
        // Rejection from the untruncated normal; bounded tries, then the nearest bound's
        // interior midpoint keeps the draw inside the support.
        Prior::TruncatedNormal {
            mu,
            sigma,
            lower,
            upper,
        } => {
            let normal = Normal::new(mu, sigma).ok()?;
            (0..10_000)
                .map(|_| normal.sample(rng))
                .find(|x| *x > lower && *x < upper)
                .unwrap_or_else(|| {
                    if upper.is_finite() && lower.is_finite() {
                        0.5 * (lower + upper)
                    } else if lower.is_finite() {
                        lower + sigma
                    } else {
                        upper - sigma
                    }
                })
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_priors() -> Vec<(Prior, f64)> {
        vec![
            (
                Prior::Normal {
                    mu: 0.5,
                    sigma: 2.0,
                },
                -0.7,
            ),
            (Prior::HalfNormal { sigma: 2.0 }, 0.9),
            (
                Prior::LogNormal {
                    mu: 0.1,
                    sigma: 0.8,
                },
                1.7,
            ),
            (
                Prior::Gamma {
                    shape: 3.0,
                    rate: 1.5,
                },
                0.6,
            ),
            (
                Prior::Beta {
                    alpha: 2.0,
                    beta: 3.0,
                },
                0.3,
            ),
            (Prior::Exponential { rate: 2.0 }, 0.4),
            (
                Prior::StudentT {
                    nu: 3.0,
                    mu: 1.0,
                    sigma: 0.5,
                },
                2.2,
            ),
            (Prior::Laplace { mu: 0.0, b: 1.0 }, -0.4),
            (
                Prior::TruncatedNormal {
                    mu: 0.0,
                    sigma: 1.0,
                    lower: -1.0,
                    upper: 2.0,
                },
                0.8,
            ),
        ]
    }

    #[test]
    fn prior_derivatives_match_finite_differences() {
        for (prior, x) in all_priors() {
            let (_, d) = log_prior(&prior, x);
            let h = 1e-6;
            let fd = (log_prior(&prior, x + h).0 - log_prior(&prior, x - h).0) / (2.0 * h);
            assert!(
                (fd - d).abs() < 1e-6 * (1.0 + d.abs()),
                "{prior:?}: {fd} vs {d}"
            );
        }
    }

    #[test]
    fn prior_draws_have_the_closed_form_means() {
        use nuts_rs::rand::SeedableRng;
        let mut rng = nuts_rs::rand::rngs::ChaCha8Rng::seed_from_u64(3);
        let half_normal_mean = 2.0 * (2.0 / std::f64::consts::PI).sqrt();
        // (prior, mean, sd) from the families' closed forms.
        let cases = [
            (
                Prior::Normal {
                    mu: 0.5,
                    sigma: 2.0,
                },
                0.5,
                2.0,
            ),
            (
                Prior::HalfNormal { sigma: 2.0 },
                half_normal_mean,
                (4.0 - half_normal_mean.powi(2)).sqrt(),
            ),
            (
                Prior::LogNormal {
                    mu: 0.1,
                    sigma: 0.5,
                },
                (0.1_f64 + 0.125).exp(),
                ((0.25_f64.exp() - 1.0) * (0.2_f64 + 0.25).exp()).sqrt(),
            ),
            (
                Prior::Gamma {
                    shape: 3.0,
                    rate: 1.5,
                },
                2.0,
                3.0_f64.sqrt() / 1.5,
            ),
            (
                Prior::Beta {
                    alpha: 1.0,
                    beta: 3.0,
                },
                0.25,
                (3.0_f64 / (16.0 * 5.0)).sqrt(),
            ),
            (Prior::Exponential { rate: 2.0 }, 0.5, 0.5),
            (
                Prior::StudentT {
                    nu: 5.0,
                    mu: 1.0,
                    sigma: 0.5,
                },
                1.0,
                0.5 * (5.0_f64 / 3.0).sqrt(),
            ),
            (
                Prior::Laplace { mu: -1.0, b: 2.0 },
                -1.0,
                2.0 * 2.0_f64.sqrt(),
            ),
        ];
        let n = 40_000;
        for (prior, mean, sd) in cases {
            let draws: Vec<f64> = (0..n)
                .map(|_| sample_prior(&prior, &mut rng).expect("draw"))
                .collect();
            let m = draws.iter().sum::<f64>() / n as f64;
            // 5 standard errors of the mean.
            assert!(
                (m - mean).abs() < 5.0 * sd / (n as f64).sqrt(),
                "{prior:?}: mean {m} vs {mean}"
            );
            assert!(
                draws.iter().all(|x| log_prior(&prior, *x).0.is_finite()),
                "{prior:?}: draw outside the support"
            );
        }
        let tn = Prior::TruncatedNormal {
            mu: 0.0,
            sigma: 1.0,
            lower: 0.5,
            upper: 1.0,
        };
        assert!((0..1000).all(|_| {
            let x = sample_prior(&tn, &mut rng).expect("draw");
            (0.5..=1.0).contains(&x)
        }));
    }

    #[test]
    fn bijections_invert_and_carry_their_jacobian() {
        let cases = [
            Bijection::Identity,
            Bijection::Lower(0.0),
            Bijection::Lower(-2.0),
            Bijection::Upper(3.0),
            Bijection::Interval(0.0, 1.0),
            Bijection::Interval(-1.0, 2.0),
        ];
        for b in cases {
            for &u in &[-3.0, -0.2, 0.0, 1.1, 4.0] {
                let (x, dx, logj, dlogj) = b.forward(u);
                assert!((b.inverse(x) - u).abs() < 1e-9, "{b:?} u={u}");
                let h = 1e-6;
                let fd = (b.forward(u + h).0 - b.forward(u - h).0) / (2.0 * h);
                assert!((fd - dx).abs() < 1e-6 * (1.0 + dx.abs()));
                assert!((logj - dx.abs().ln()).abs() < 1e-9);
                let fdl = (b.forward(u + h).2 - b.forward(u - h).2) / (2.0 * h);
                assert!((fdl - dlogj).abs() < 1e-6);
            }
        }
    }
}
