//! Adstock (carry-over) weights w_l, l = 0..l_max-1, with their derivatives w.r.t. each
//! parameter; the spec side (keys, priors, descriptor) is `mmm_core::spec::AdstockSpec` and
//! `mmm_core::spec::AdstockFamily`.

use mmm_core::spec::AdstockFamily;

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

    /// The family's descriptor (its kind and parameters).
    pub fn family(self) -> &'static AdstockFamily {
        match self {
            Self::Geometric { .. } => &AdstockFamily::GEOMETRIC,
            Self::DelayedGeometric { .. } => &AdstockFamily::DELAYED_GEOMETRIC,
            Self::WeibullCdf { .. } => &AdstockFamily::WEIBULL_CDF,
            Self::WeibullPdf => &AdstockFamily::WEIBULL_PDF,
        }
    }

    /// Number of parameters (1 or 2), from the family's descriptor.
    pub fn parameter_count(self) -> usize {
        self.family().parameters.len()
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
    fn every_family_maps_to_its_descriptor() {
        for family in AdstockFamily::ALL {
            let spec = family.default_spec();
            let adstock = Adstock::from_spec(&spec);
            assert_eq!(adstock.family(), *family);
            assert_eq!(adstock.parameter_count(), spec.parameters().len());
        }
    }
}
