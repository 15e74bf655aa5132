//! Saturation curves s(x) with their derivatives w.r.t. the input and each parameter; the
//! spec side (keys, priors, descriptor) is `mmm_core::spec::SaturationSpec` and
//! `mmm_core::spec::SaturationFamily`.

use mmm_core::spec::{SaturationFamily, SaturationSpec};

/// Logistic saturation s(x) = (1 - e^(-lam x)) / (1 + e^(-lam x)) = tanh(lam x / 2).
pub fn logistic_saturation(x: f64, lam: f64) -> f64 {
    (0.5 * lam * x).tanh()
}

/// Logistic saturation with derivatives: (s, ds/dlam, ds/dx), using ds = (1 - s^2) / 2 d(lam x).
pub fn logistic_saturation_grad(x: f64, lam: f64) -> (f64, f64, f64) {
    let s = (0.5 * lam * x).tanh();
    let d = 0.5 * (1.0 - s * s);
    (s, d * x, d * lam)
}

/// Hill saturation x^s / (x^s + K^s) = 1 / (1 + e^(-z)), z = s (ln x - ln K), with its
/// derivatives: (value, d/dx, d/dK, d/ds). At x <= 0 every value is 0 (the x-derivative's
/// limit for s > 1, taken as 0 for every s since zero spend has zero adstock derivative too).
pub fn hill_saturation_grad(x: f64, k: f64, s: f64) -> (f64, f64, f64, f64) {
    if x <= 0.0 {
        return (0.0, 0.0, 0.0, 0.0);
    }
    let r = x.ln() - k.ln();
    let z = s * r;
    let h = 1.0 / (1.0 + (-z).exp());
    let q = h / (1.0 + z.exp()); // h (1 - h) without cancellation
    (h, q * s / x, -q * s / k, q * r)
}

/// Exponential saturation 1 - e^(-lam x), with (value, d/dx, d/dlam).
pub fn exponential_saturation_grad(x: f64, lam: f64) -> (f64, f64, f64) {
    let e = (-lam * x).exp();
    (-(-lam * x).exp_m1(), lam * e, x * e)
}

/// Michaelis-Menten saturation x / (K + x), with (value, d/dx, d/dK).
pub fn michaelis_menten_grad(x: f64, k: f64) -> (f64, f64, f64) {
    let inv = 1.0 / (k + x);
    (x * inv, k * inv * inv, -x * inv * inv)
}

/// Tanh saturation tanh(x / c), with (value, d/dx, d/dc).
pub fn tanh_saturation_grad(x: f64, c: f64) -> (f64, f64, f64) {
    let t = (x / c).tanh();
    let d = 1.0 - t * t;
    (t, d / c, -d * x / (c * c))
}

/// Logarithmic saturation ln(1 + lam x) (unbounded), with (value, d/dx, d/dlam).
pub fn log1p_saturation_grad(x: f64, lam: f64) -> (f64, f64, f64) {
    let inv = 1.0 / (1.0 + lam * x);
    ((lam * x).ln_1p(), lam * inv, x * inv)
}

/// Power curve s(x) = x^p (0 < p < 1 in a spec: constant elasticity p, concave, unbounded),
/// with (value, d/dx, d/dp): ds/dx = p x^(p-1) and ds/dp = x^p ln x.
///
/// At x <= 0 every value is 0: s(0) = 0 and x^p ln x -> 0 as x -> 0+, but ds/dx = p x^(p-1)
/// grows without bound there, so 0 is returned for it too. That is the right finite value:
/// the model uses ds/dx only adstock first, times the derivative of the adstocked input
/// a_t = sum_l w_l x_(t-l) w.r.t. an adstock parameter; the weights are positive, so a_t = 0
/// means every spend in the window is 0 and that derivative, sum_l (dw_l/dtheta) x_(t-l), is 0
/// too, and the product 0 (an infinite ds/dx would make it NaN). Saturation first uses only
/// s and ds/dp, and the decisions differentiate curves by finite differences of s. For x > 0
/// ds/dx is capped at f64::MAX, so a subnormal input with a small p cannot overflow to +inf.
pub fn power_saturation_grad(x: f64, p: f64) -> (f64, f64, f64) {
    if x <= 0.0 {
        return (0.0, 0.0, 0.0);
    }
    let ln_x = x.ln();
    let v = (p * ln_x).exp();
    let dx = (p * ((p - 1.0) * ln_x).exp()).min(f64::MAX);
    (v, dx, v * ln_x)
}

/// A saturation curve (the spec's `saturation.kind`); its parameters come in a slice in the
/// order of [`mmm_core::spec::SaturationSpec::parameters`] (beta excluded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Saturation {
    /// tanh(lam x / 2), parameter [lam].
    Logistic,
    /// x^s / (x^s + K^s), parameters [K, s].
    Hill,
    /// 1 - e^(-lam x), parameter [lam].
    Exponential,
    /// x / (K + x), parameter [K].
    MichaelisMenten,
    /// tanh(x / c), parameter [c].
    Tanh,
    /// ln(1 + lam x), parameter [lam].
    Log1p,
    /// x^p, parameter [p].
    Power,
}

impl Saturation {
    /// The curve a spec asks for.
    pub fn from_spec(spec: &SaturationSpec) -> Self {
        use SaturationSpec as S;
        match spec {
            S::Logistic { .. } => Self::Logistic,
            S::Hill { .. } => Self::Hill,
            S::Exponential { .. } => Self::Exponential,
            S::MichaelisMenten { .. } => Self::MichaelisMenten,
            S::Tanh { .. } => Self::Tanh,
            S::Log1p { .. } => Self::Log1p,
            S::Power { .. } => Self::Power,
        }
    }

    /// The curve's descriptor (its kind, parameters and shape).
    pub fn family(self) -> &'static SaturationFamily {
        use SaturationFamily as F;
        match self {
            Self::Logistic => &F::LOGISTIC,
            Self::Hill => &F::HILL,
            Self::Exponential => &F::EXPONENTIAL,
            Self::MichaelisMenten => &F::MICHAELIS_MENTEN,
            Self::Tanh => &F::TANH,
            Self::Log1p => &F::LOG1P,
            Self::Power => &F::POWER,
        }
    }

    /// Number of curve parameters (1 or 2), from the descriptor.
    pub fn parameter_count(self) -> usize {
        self.family().parameters.len()
    }

    /// True when s is concave in its input for every parameter value (the descriptor's
    /// shape: every curve but Hill, S-shaped for a slope above 1), so that beta * s(adstock(x))
    /// and beta * adstock(s(x)) are concave in spend.
    pub fn is_concave(self) -> bool {
        self.family().shape.is_concave()
    }

    /// s(x) at `params` (the value [`Self::grad`] returns, to the bit).
    pub fn value(self, x: f64, params: &[f64]) -> f64 {
        self.grad(x, params).0
    }

    /// (s(x), ds/dx, [ds/dparam_0, ds/dparam_1]) at `params` (the second derivative slot is 0
    /// for one-parameter curves).
    pub fn grad(self, x: f64, params: &[f64]) -> (f64, f64, [f64; 2]) {
        let one = |(v, dx, dp): (f64, f64, f64)| (v, dx, [dp, 0.0]);
        match self {
            Self::Logistic => {
                let (v, dl, dx) = logistic_saturation_grad(x, params[0]);
                (v, dx, [dl, 0.0])
            }
            Self::Hill => {
                let (v, dx, dk, ds) = hill_saturation_grad(x, params[0], params[1]);
                (v, dx, [dk, ds])
            }
            Self::Exponential => one(exponential_saturation_grad(x, params[0])),
            Self::MichaelisMenten => one(michaelis_menten_grad(x, params[0])),
            Self::Tanh => one(tanh_saturation_grad(x, params[0])),
            Self::Log1p => one(log1p_saturation_grad(x, params[0])),
            Self::Power => one(power_saturation_grad(x, params[0])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturation_curves_match_closed_forms() {
        let k = 0.7;
        assert!((hill_saturation_grad(k, k, 2.5).0 - 0.5).abs() < 1e-15);
        assert!((michaelis_menten_grad(k, k).0 - 0.5).abs() < 1e-15);
        // Hill with s = 1 is Michaelis-Menten.
        let x = 0.31;
        assert!((hill_saturation_grad(x, k, 1.0).0 - michaelis_menten_grad(x, k).0).abs() < 1e-15);
        assert!(
            (hill_saturation_grad(x, k, 3.0).0 - x.powi(3) / (x.powi(3) + k.powi(3))).abs() < 1e-15
        );
        assert!((exponential_saturation_grad(2.0_f64.ln(), 1.0).0 - 0.5).abs() < 1e-15);
        assert!((tanh_saturation_grad(0.5f64.atanh() * 2.0, 2.0).0 - 0.5).abs() < 1e-15);
        assert!((log1p_saturation_grad(1.0, std::f64::consts::E - 1.0).0 - 1.0).abs() < 1e-15);
        assert!((power_saturation_grad(0.25, 0.5).0 - 0.5).abs() < 1e-15);
        for curve in [
            Saturation::Logistic,
            Saturation::Hill,
            Saturation::Exponential,
            Saturation::MichaelisMenten,
            Saturation::Tanh,
            Saturation::Log1p,
            Saturation::Power,
        ] {
            assert_eq!(
                curve.value(0.0, &[0.8, 1.7]),
                0.0,
                "{curve:?} at zero spend"
            );
            assert_eq!(curve.grad(0.0, &[0.8, 1.7]).0, 0.0);
        }
    }

    #[test]
    fn saturation_derivatives_match_finite_differences() {
        let h = 1e-6;
        for curve in [
            Saturation::Logistic,
            Saturation::Hill,
            Saturation::Exponential,
            Saturation::MichaelisMenten,
            Saturation::Tanh,
            Saturation::Log1p,
            Saturation::Power,
        ] {
            for (x, p) in [
                (0.3, [4.0, 0.5]),
                (1.0, [0.5, 2.0]),
                (2.5, [3.0, 1.3]),
                (0.05, [0.2, 3.0]),
            ] {
                let (v, dx, dp) = curve.grad(x, &p);
                assert_eq!(v, curve.value(x, &p), "{curve:?}");
                let fdx = (curve.value(x + h, &p) - curve.value(x - h, &p)) / (2.0 * h);
                assert!(
                    (fdx - dx).abs() < 1e-7 * (1.0 + dx.abs()),
                    "{curve:?} d/dx {fdx} vs {dx}"
                );
                for j in 0..curve.parameter_count() {
                    let (mut up, mut dn) = (p, p);
                    up[j] += h;
                    dn[j] -= h;
                    let fd = (curve.value(x, &up) - curve.value(x, &dn)) / (2.0 * h);
                    assert!(
                        (fd - dp[j]).abs() < 1e-7 * (1.0 + dp[j].abs()),
                        "{curve:?} param {j}: {fd} vs {}",
                        dp[j]
                    );
                }
            }
        }
    }

    #[test]
    fn power_curve_matches_its_definition_and_stays_finite_at_zero() {
        let h = 1e-7;
        for p in [0.05, 0.3, 0.5, 0.9] {
            for x in [1e-6, 0.01, 0.2, 1.0, 1.7] {
                let (v, dx, dp) = power_saturation_grad(x, p);
                assert!(
                    (v - f64::powf(x, p)).abs() < 1e-14 * (1.0 + v),
                    "x {x} p {p}"
                );
                assert!(
                    (dx - p * f64::powf(x, p - 1.0)).abs() < 1e-12 * dx,
                    "x {x} p {p}"
                );
                let fd = (power_saturation_grad(x, p + h).0 - power_saturation_grad(x, p - h).0)
                    / (2.0 * h);
                assert!((fd - dp).abs() < 1e-6 * (1.0 + dp.abs()), "{fd} vs {dp}");
                // Constant elasticity: d ln s / d ln x = p.
                assert!((dx * x / v - p).abs() < 1e-12);
            }
            // Zero spend: value, slope and parameter derivative all finite (and 0), so a zero
            // adstock derivative times the slope stays 0 instead of NaN.
            assert_eq!(power_saturation_grad(0.0, p), (0.0, 0.0, 0.0));
            let tiny = power_saturation_grad(f64::from_bits(1), p);
            assert!(tiny.0.is_finite() && tiny.1.is_finite() && tiny.2.is_finite());
            assert_eq!(0.0 * power_saturation_grad(0.0, p).1, 0.0);
        }
        assert!(Saturation::Power.is_concave() && !Saturation::Hill.is_concave());
    }

    #[test]
    fn every_family_maps_to_its_descriptor() {
        for family in SaturationFamily::ALL {
            let spec = family.default_spec();
            let curve = Saturation::from_spec(&spec);
            assert_eq!(curve.family(), *family);
            assert_eq!(curve.parameter_count(), spec.parameters().len());
        }
    }

    #[test]
    fn logistic_matches_its_definition_and_derivatives() {
        for &(x, lam) in &[(0.3_f64, 4.0_f64), (1.0, 0.5), (0.0, 2.0), (2.5, 3.0)] {
            let def = (1.0 - (-lam * x).exp()) / (1.0 + (-lam * x).exp());
            let (s, dl, dx) = logistic_saturation_grad(x, lam);
            assert!((s - def).abs() < 1e-14);
            let h = 1e-6;
            let fdl =
                (logistic_saturation(x, lam + h) - logistic_saturation(x, lam - h)) / (2.0 * h);
            let fdx =
                (logistic_saturation(x + h, lam) - logistic_saturation(x - h, lam)) / (2.0 * h);
            assert!((fdl - dl).abs() < 1e-8 && (fdx - dx).abs() < 1e-8);
        }
    }
}
