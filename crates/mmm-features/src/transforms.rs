//! Media and time transforms as pure functions, each with its derivatives.

/// Geometric adstock weights w_l = alpha^l / S (S = sum_{j<l_max} alpha^j when normalized, else 1)
/// and their derivatives dw_l/dalpha, written into `w` and `dw` (both of length l_max).
pub fn geometric_weights(alpha: f64, normalize: bool, w: &mut [f64], dw: &mut [f64]) {
    let l_max = w.len();
    debug_assert_eq!(dw.len(), l_max);
    // raw_l = alpha^l, draw_l = l alpha^(l-1)
    let mut pow = 1.0;
    let mut sum = 0.0;
    let mut dsum = 0.0;
    for l in 0..l_max {
        let dpow = if l == 0 {
            0.0
        } else {
            l as f64 * alpha.powi(l as i32 - 1)
        };
        w[l] = pow;
        dw[l] = dpow;
        sum += pow;
        dsum += dpow;
        pow *= alpha;
    }
    if normalize {
        // d(raw_l / S) = (draw_l - w_l dS) / S
        let inv = 1.0 / sum;
        for l in 0..l_max {
            w[l] *= inv;
            dw[l] = (dw[l] - w[l] * dsum) * inv;
        }
    }
}

/// Turn log-weights `lw` (with their derivatives `d0`, `d1` w.r.t. two parameters) into
/// weights in place: w_l = e^(lw_l) and dw_l = w_l dlw_l, or, normalized, w_l = e^(lw_l) / S
/// and dw_l = w_l (dlw_l - sum_j w_j dlw_j). The normalized form subtracts max lw first, so
/// weights far below 1 neither underflow to a 0/0 nor overflow.
fn weights_from_logs(normalize: bool, lw: &mut [f64], d0: &mut [f64], d1: &mut [f64]) {
    if normalize {
        let top = lw.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mut sum = 0.0;
        for v in lw.iter_mut() {
            *v = (*v - top).exp();
            sum += *v;
        }
        let inv = 1.0 / sum;
        let (mut m0, mut m1) = (0.0, 0.0);
        for l in 0..lw.len() {
            lw[l] *= inv;
            m0 += lw[l] * d0[l];
            m1 += lw[l] * d1[l];
        }
        for l in 0..lw.len() {
            d0[l] = lw[l] * (d0[l] - m0);
            d1[l] = lw[l] * (d1[l] - m1);
        }
    } else {
        for l in 0..lw.len() {
            lw[l] = lw[l].exp();
            d0[l] *= lw[l];
            d1[l] *= lw[l];
        }
    }
}

/// Delayed geometric adstock weights w_l = alpha^((l - theta)^2) / S (Jin et al. 2017;
/// PyMC-Marketing's `delayed_adstock`; S = sum_j alpha^((j - theta)^2) when normalized, else
/// 1) with dw_l/dalpha into `d_alpha` and dw_l/dtheta into `d_theta` (all of length l_max).
pub fn delayed_geometric_weights(
    alpha: f64,
    theta: f64,
    normalize: bool,
    w: &mut [f64],
    d_alpha: &mut [f64],
    d_theta: &mut [f64],
) {
    // ln w_l = (l - theta)^2 ln alpha
    let ln_alpha = alpha.ln();
    for l in 0..w.len() {
        let d = l as f64 - theta;
        w[l] = d * d * ln_alpha;
        d_alpha[l] = d * d / alpha;
        d_theta[l] = -2.0 * d * ln_alpha;
    }
    weights_from_logs(normalize, w, d_alpha, d_theta);
}

/// Weibull-CDF (survival) adstock weights, as PyMC-Marketing's
/// `weibull_adstock(type=WeibullType.CDF)` defines them (`pymc_marketing/mmm/transformers.py`:
/// `w = cumprod([1, 1 - F(1), 1 - F(2), ...])`, F the Weibull(k, lam) CDF evaluated at
/// t = 1, 2, ..., and `w / sum(w)` when normalized; Robyn's `weibull_cdf` is the same
/// cumulative product of survival values): w_0 = 1 and
/// w_l = prod_(i=1..l) (1 - F(i)) = exp(-sum_(i=1..l) (i / lam)^k) for l = 1..l_max-1,
/// divided by their sum when `normalize`, with dw/dk into `d_shape` and dw/dlam into `d_scale`.
pub fn weibull_cdf_weights(
    shape: f64,
    scale: f64,
    normalize: bool,
    w: &mut [f64],
    d_shape: &mut [f64],
    d_scale: &mut [f64],
) {
    // ln w_l = -sum_(i<=l) (i/lam)^k; d/dk (i/lam)^k = (i/lam)^k ln(i/lam),
    // d/dlam (i/lam)^k = -(k/lam) (i/lam)^k.
    let (mut lw, mut dk, mut dlam) = (0.0, 0.0, 0.0);
    let ln_scale = scale.ln();
    for l in 0..w.len() {
        if l > 0 {
            let r = (l as f64).ln() - ln_scale;
            let p = (shape * r).exp();
            lw -= p;
            dk -= p * r;
            dlam += shape / scale * p;
        }
        w[l] = lw;
        d_shape[l] = dk;
        d_scale[l] = dlam;
    }
    weights_from_logs(normalize, w, d_shape, d_scale);
}

/// Weibull-PDF adstock weights w_l = f(l + 1) / sum_(j<l_max) f(j + 1), f the Weibull(k, lam)
/// density f(t) = (k / lam) (t / lam)^(k-1) e^(-(t/lam)^k) at t = lag + 1 as in
/// PyMC-Marketing's `weibull_adstock(type=WeibullType.PDF)`, but normalized to sum 1 (PyMC-
/// Marketing rescales to [0, 1] by min and max, which is not differentiable), with dw/dk into
/// `d_shape` and dw/dlam into `d_scale`.
pub fn weibull_pdf_weights(
    shape: f64,
    scale: f64,
    w: &mut [f64],
    d_shape: &mut [f64],
    d_scale: &mut [f64],
) {
    // ln f = ln k - ln lam + (k - 1) ln(t/lam) - (t/lam)^k;
    // d/dk = 1/k + ln(t/lam) (1 - (t/lam)^k); d/dlam = (k/lam) ((t/lam)^k - 1).
    let ln_scale = scale.ln();
    for l in 0..w.len() {
        let r = ((l + 1) as f64).ln() - ln_scale;
        let p = (shape * r).exp();
        w[l] = shape.ln() - ln_scale + (shape - 1.0) * r - p;
        d_shape[l] = 1.0 / shape + r * (1.0 - p);
        d_scale[l] = shape / scale * (p - 1.0);
    }
    weights_from_logs(true, w, d_shape, d_scale);
}

/// An adstock family with its settings (the spec's `adstock.kind`); its parameters come in a
/// slice in the order of [`mmm_core::spec::AdstockSpec::parameters`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adstock {
    /// alpha^l, parameter [alpha].
    Geometric {
        /// Weights divided by their sum.
        normalize: bool,
    },
    /// alpha^((l - theta)^2), parameters [alpha, theta].
    DelayedGeometric {
        /// Weights divided by their sum.
        normalize: bool,
    },
    /// Weibull survival product, parameters [shape, scale].
    WeibullCdf {
        /// Weights divided by their sum.
        normalize: bool,
    },
    /// Normalized Weibull density, parameters [shape, scale].
    WeibullPdf,
}

impl Adstock {
    /// The family a spec asks for.
    pub fn from_spec(spec: &mmm_core::spec::AdstockSpec) -> Self {
        use mmm_core::spec::AdstockSpec as A;
        match spec {
            A::Geometric { normalize, .. } => Self::Geometric {
                normalize: *normalize,
            },
            A::DelayedGeometric { normalize, .. } => Self::DelayedGeometric {
                normalize: *normalize,
            },
            A::WeibullCdf { normalize, .. } => Self::WeibullCdf {
                normalize: *normalize,
            },
            A::WeibullPdf { .. } => Self::WeibullPdf,
        }
    }

    /// Number of parameters (1 or 2).
    pub fn parameter_count(self) -> usize {
        match self {
            Self::Geometric { .. } => 1,
            _ => 2,
        }
    }

    /// Weights for `params` into `w` (length l_max) and their derivatives w.r.t. the first
    /// and (for two-parameter families) second parameter into `d0` and `d1`; `d1` is zeroed
    /// for one-parameter families.
    pub fn weights(self, params: &[f64], w: &mut [f64], d0: &mut [f64], d1: &mut [f64]) {
        match self {
            Self::Geometric { normalize } => {
                geometric_weights(params[0], normalize, w, d0);
                d1.fill(0.0);
            }
            Self::DelayedGeometric { normalize } => {
                delayed_geometric_weights(params[0], params[1], normalize, w, d0, d1)
            }
            Self::WeibullCdf { normalize } => {
                weibull_cdf_weights(params[0], params[1], normalize, w, d0, d1)
            }
            Self::WeibullPdf => weibull_pdf_weights(params[0], params[1], w, d0, d1),
        }
    }
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
}

impl Saturation {
    /// The curve a spec asks for.
    pub fn from_spec(spec: &mmm_core::spec::SaturationSpec) -> Self {
        use mmm_core::spec::SaturationSpec as S;
        match spec {
            S::Logistic { .. } => Self::Logistic,
            S::Hill { .. } => Self::Hill,
            S::Exponential { .. } => Self::Exponential,
            S::MichaelisMenten { .. } => Self::MichaelisMenten,
            S::Tanh { .. } => Self::Tanh,
            S::Log1p { .. } => Self::Log1p,
        }
    }

    /// Number of curve parameters (1 or 2).
    pub fn parameter_count(self) -> usize {
        match self {
            Self::Hill => 2,
            _ => 1,
        }
    }

    /// s(x) at `params` (the value [`Self::grad`] returns, to the bit).
    pub fn value(self, x: f64, params: &[f64]) -> f64 {
        self.grad(x, params).0
    }

    /// (s(x), ds/dx, [ds/dparam_0, ds/dparam_1]) at `params` (the second derivative slot is 0
    /// for one-parameter curves).
    pub fn grad(self, x: f64, params: &[f64]) -> (f64, f64, [f64; 2]) {
        match self {
            Self::Logistic => {
                let (v, dl, dx) = logistic_saturation_grad(x, params[0]);
                (v, dx, [dl, 0.0])
            }
            Self::Hill => {
                let (v, dx, dk, ds) = hill_saturation_grad(x, params[0], params[1]);
                (v, dx, [dk, ds])
            }
            Self::Exponential => {
                let (v, dx, dp) = exponential_saturation_grad(x, params[0]);
                (v, dx, [dp, 0.0])
            }
            Self::MichaelisMenten => {
                let (v, dx, dp) = michaelis_menten_grad(x, params[0]);
                (v, dx, [dp, 0.0])
            }
            Self::Tanh => {
                let (v, dx, dp) = tanh_saturation_grad(x, params[0]);
                (v, dx, [dp, 0.0])
            }
            Self::Log1p => {
                let (v, dx, dp) = log1p_saturation_grad(x, params[0]);
                (v, dx, [dp, 0.0])
            }
        }
    }
}

/// Causal convolution out_t = sum_{l=0}^{min(t, L-1)} w_l x_{t-l} (spend before the data is zero).
pub fn convolve(x: &[f64], w: &[f64], out: &mut [f64]) {
    for t in 0..x.len() {
        let mut acc = 0.0;
        for (l, wl) in w.iter().enumerate().take(t + 1) {
            acc += wl * x[t - l];
        }
        out[t] = acc;
    }
}

/// Geometric adstock of a series: convolve(x, geometric weights(alpha)).
pub fn geometric_adstock(x: &[f64], alpha: f64, l_max: usize, normalize: bool) -> Vec<f64> {
    let mut w = vec![0.0; l_max];
    let mut dw = vec![0.0; l_max];
    geometric_weights(alpha, normalize, &mut w, &mut dw);
    let mut out = vec![0.0; x.len()];
    convolve(x, &w, &mut out);
    out
}

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

/// Fourier terms sin(2 pi k d / P) for k = 1..=order then cos(...), d = day of year.
pub fn fourier_terms(day_of_year: f64, period_days: f64, order: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(2 * order);
    for k in 1..=order {
        out.push((2.0 * std::f64::consts::PI * k as f64 * day_of_year / period_days).sin());
    }
    for k in 1..=order {
        out.push((2.0 * std::f64::consts::PI * k as f64 * day_of_year / period_days).cos());
    }
    out
}

/// Names of the Fourier terms in the order [`fourier_terms`] returns them.
pub fn fourier_names(order: usize) -> Vec<String> {
    (1..=order)
        .map(|k| format!("sin_{k}"))
        .chain((1..=order).map(|k| format!("cos_{k}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_sum_to_one_and_derivative_matches_finite_difference() {
        for &alpha in &[0.05, 0.3, 0.7, 0.95] {
            for &normalize in &[true, false] {
                let mut w = vec![0.0; 8];
                let mut dw = vec![0.0; 8];
                geometric_weights(alpha, normalize, &mut w, &mut dw);
                if normalize {
                    assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                }
                let h = 1e-6;
                let (mut wp, mut wm, mut scratch) = (vec![0.0; 8], vec![0.0; 8], vec![0.0; 8]);
                geometric_weights(alpha + h, normalize, &mut wp, &mut scratch);
                geometric_weights(alpha - h, normalize, &mut wm, &mut scratch);
                for l in 0..8 {
                    let fd = (wp[l] - wm[l]) / (2.0 * h);
                    assert!(
                        (fd - dw[l]).abs() < 1e-7,
                        "alpha {alpha} l {l}: {fd} vs {}",
                        dw[l]
                    );
                }
            }
        }
    }

    /// Central finite differences of the weights of `adstock` at `params` against d0, d1.
    fn check_weight_derivatives(adstock: Adstock, params: [f64; 2], l_max: usize) {
        let (mut w, mut d0, mut d1) = (vec![0.0; l_max], vec![0.0; l_max], vec![0.0; l_max]);
        adstock.weights(&params, &mut w, &mut d0, &mut d1);
        let h = 1e-6;
        for (j, d) in [&d0, &d1]
            .into_iter()
            .enumerate()
            .take(adstock.parameter_count())
        {
            let (mut up, mut dn) = (params, params);
            up[j] += h;
            dn[j] -= h;
            let (mut wp, mut wm, mut s0, mut s1) = (
                vec![0.0; l_max],
                vec![0.0; l_max],
                vec![0.0; l_max],
                vec![0.0; l_max],
            );
            adstock.weights(&up, &mut wp, &mut s0, &mut s1);
            adstock.weights(&dn, &mut wm, &mut s0, &mut s1);
            for l in 0..l_max {
                let fd = (wp[l] - wm[l]) / (2.0 * h);
                assert!(
                    (fd - d[l]).abs() < 1e-6 * (1.0 + d[l].abs()),
                    "{adstock:?} {params:?} param {j} lag {l}: {fd} vs {}",
                    d[l]
                );
            }
        }
    }

    #[test]
    fn every_adstock_family_has_exact_weight_derivatives() {
        for normalize in [true, false] {
            for params in [[0.3, 1.2], [0.7, 3.6], [0.9, 0.0]] {
                check_weight_derivatives(Adstock::DelayedGeometric { normalize }, params, 8);
            }
            for params in [[0.6, 1.5], [1.0, 3.0], [2.5, 4.0], [4.0, 0.8]] {
                check_weight_derivatives(Adstock::WeibullCdf { normalize }, params, 10);
            }
            check_weight_derivatives(Adstock::Geometric { normalize }, [0.4, 0.0], 6);
        }
        for params in [[0.6, 1.5], [1.0, 3.0], [2.5, 4.0], [4.0, 0.8]] {
            check_weight_derivatives(Adstock::WeibullPdf, params, 10);
        }
    }

    #[test]
    fn delayed_geometric_weights_match_a_hand_computation() {
        let (mut w, mut a, mut b) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
        delayed_geometric_weights(0.5, 1.0, false, &mut w, &mut a, &mut b);
        // 0.5^1, 0.5^0, 0.5^1, 0.5^4
        let expected = [0.5, 1.0, 0.5, 0.0625];
        for (x, e) in w.iter().zip(expected) {
            assert!((x - e).abs() < 1e-15, "{w:?}");
        }
        delayed_geometric_weights(0.5, 1.0, true, &mut w, &mut a, &mut b);
        for (x, e) in w.iter().zip(expected) {
            assert!((x - e / 2.0625).abs() < 1e-15, "{w:?}");
        }
        // Normalized weights sum to 1 at every theta, so their theta-derivatives sum to 0.
        assert!(b.iter().sum::<f64>().abs() < 1e-14, "{b:?}");
    }

    #[test]
    fn weibull_weights_match_a_hand_computation() {
        // k = 2, lam = 2: survival S(t) = exp(-(t/2)^2): S(1) = e^-0.25, S(2) = e^-1, S(3) = e^-2.25.
        let (mut w, mut a, mut b) = (vec![0.0; 4], vec![0.0; 4], vec![0.0; 4]);
        weibull_cdf_weights(2.0, 2.0, false, &mut w, &mut a, &mut b);
        let expected = [1.0, (-0.25f64).exp(), (-1.25f64).exp(), (-3.5f64).exp()];
        for (x, e) in w.iter().zip(expected) {
            assert!((x - e).abs() < 1e-15, "{w:?} vs {expected:?}");
        }
        weibull_cdf_weights(2.0, 2.0, true, &mut w, &mut a, &mut b);
        let total: f64 = expected.iter().sum();
        for (x, e) in w.iter().zip(expected) {
            assert!((x - e / total).abs() < 1e-15);
        }
        // k = 1: sum_(i<=l) i / lam = l (l + 1) / (2 lam).
        weibull_cdf_weights(1.0, 3.0, false, &mut w, &mut a, &mut b);
        for (l, x) in w.iter().enumerate() {
            let e = (-((l * (l + 1)) as f64) / 6.0).exp();
            assert!((x - e).abs() < 1e-15);
        }
        // pdf, k = 2, lam = 2 at t = 1..4: f(t) = (t/2) e^(-(t/2)^2).
        weibull_pdf_weights(2.0, 2.0, &mut w, &mut a, &mut b);
        let f: Vec<f64> = (1..=4)
            .map(|t| {
                let t = t as f64;
                0.5 * t * (-(t * t) / 4.0).exp()
            })
            .collect();
        let total: f64 = f.iter().sum();
        for (x, e) in w.iter().zip(&f) {
            assert!((x - e / total).abs() < 1e-15, "{w:?}");
        }
        // Far-out scales do not underflow into 0/0 when normalized.
        weibull_pdf_weights(8.0, 0.05, &mut w, &mut a, &mut b);
        assert!(w.iter().all(|v| v.is_finite()) && (w.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

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
        for curve in [
            Saturation::Logistic,
            Saturation::Hill,
            Saturation::Exponential,
            Saturation::MichaelisMenten,
            Saturation::Tanh,
            Saturation::Log1p,
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
    fn adstock_of_impulse_is_the_weights() {
        let mut x = vec![0.0; 12];
        x[2] = 1.0;
        let y = geometric_adstock(&x, 0.5, 4, false);
        assert_eq!(
            y,
            vec![
                0.0, 0.0, 1.0, 0.5, 0.25, 0.125, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
            ]
        );
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
