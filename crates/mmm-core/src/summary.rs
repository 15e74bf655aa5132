//! Summaries of posterior draws: mean, quantiles, highest-density intervals.

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Quantile of sorted values by linear interpolation between order statistics (numpy's default,
/// position p (n - 1)).
pub fn quantile_sorted(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let pos = p.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Sorted copy with NaN removed.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    // Elements equal under total_cmp are bit-identical, so an unstable sort gives the same result.
    v.sort_unstable_by(f64::total_cmp);
    v
}

/// Highest-density interval of mass `prob`: the shortest interval [x_i, x_{i+k}] with
/// k = floor(prob n) over the sorted draws (ArviZ's `hdi` for unimodal draws).
pub fn hdi(values: &[f64], prob: f64) -> (f64, f64) {
    let s = sorted(values);
    let n = s.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let k = ((prob * n as f64).floor() as usize).min(n - 1);
    let mut best = (s[0], s[k]);
    for i in 0..n - k {
        if s[i + k] - s[i] < best.1 - best.0 {
            best = (s[i], s[i + k]);
        }
    }
    best
}

/// Central (equal-tailed) interval of mass `prob`.
pub fn central_interval(values: &[f64], prob: f64) -> (f64, f64) {
    let s = sorted(values);
    let tail = (1.0 - prob) / 2.0;
    (quantile_sorted(&s, tail), quantile_sorted(&s, 1.0 - tail))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hdi_of_uniform_grid_has_the_right_mass_and_is_shortest() {
        let v: Vec<f64> = (0..100).map(|i| i as f64).collect();
        let (lo, hi) = hdi(&v, 0.9);
        assert_eq!(hi - lo, 90.0);
        // Skewed: the HDI hugs the dense end.
        let skew: Vec<f64> = (0..1000)
            .map(|i| ((i as f64 + 0.5) / 1000.0).powi(3))
            .collect();
        let (lo, hi) = hdi(&skew, 0.5);
        assert!(lo < 1e-6 && hi < 0.2, "{lo} {hi}");
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert_eq!(quantile_sorted(&s, 0.25), 1.75);
        assert_eq!(central_interval(&[3.0, 1.0, 2.0, 4.0], 0.5), (1.75, 3.25));
    }
}
