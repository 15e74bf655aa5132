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
