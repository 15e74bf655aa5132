//! Media and time transforms as pure functions, each with its derivatives: the adstock
//! weights (module `adstock`) and saturation curves (module `saturation`), both re-exported
//! here, the causal convolution and the Fourier terms.

pub mod adstock;
pub mod saturation;

pub use adstock::*;
pub use saturation::*;

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
}
