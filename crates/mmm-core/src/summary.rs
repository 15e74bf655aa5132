//! Summaries of posterior draws: mean, quantiles, highest-density intervals.

/// Arithmetic mean; NaN for an empty slice.
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation sqrt(sum (x - mean)^2 / (n - 1)); NaN for fewer than two values.
pub fn sample_sd(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m).powi(2)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
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

/// Type-7 sample quantile as `scipy.stats.mstats.mquantiles(alphap=1, betap=1)`: `(1−γ)·x[k−1] + γ·x[k]`, `k = ⌊clip(n·p + 1 − p, 1, n−1)⌋` (Hyndman & Fan 1996).
pub fn quantile_type7(sorted: &[f64], p: f64) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        1 => sorted[0],
        _ => {
            // scipy: m = alphap + p * (1 - alphap - betap) = 1 + p * (-1), bit-identical to 1 - p.
            let m = 1.0 - p;
            let aleph = n as f64 * p + m;
            let k = aleph.clamp(1.0, (n - 1) as f64).floor();
            let gamma = (aleph - k).clamp(0.0, 1.0);
            let k = k as usize;
            (1.0 - gamma) * sorted[k - 1] + gamma * sorted[k]
        }
    }
}

/// Median as `np.median`: middle value, or the mean of the two middle values for even length.
pub fn median(values: &[f64]) -> f64 {
    let n = values.len();
    if n == 0 {
        return f64::NAN;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    }
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
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let n = v.len();
    if n == 0 {
        return (f64::NAN, f64::NAN);
    }
    let k = ((prob * n as f64).floor() as usize).min(n - 1);
    let m = n - k;
    if k > 0 && m <= k {
        // Only the m lowest and the m highest order statistics can bound the interval: select
        // them (linear time) and sort those two short runs instead of all n draws. Positions
        // 0..m and k..n then hold exactly what a full sort would put there.
        v.select_nth_unstable_by(m, f64::total_cmp);
        v[..m].sort_unstable_by(f64::total_cmp);
        if k > m {
            v[m..].select_nth_unstable_by(k - m, f64::total_cmp);
        }
        v[k..].sort_unstable_by(f64::total_cmp);
    } else {
        v.sort_unstable_by(f64::total_cmp);
    }
    let mut best = (v[0], v[k]);
    for i in 0..m {
        if v[i + k] - v[i] < best.1 - best.0 {
            best = (v[i], v[i + k]);
        }
    }
    best
}

/// Central (equal-tailed) interval of mass `prob`.
pub fn central_interval(values: &[f64], prob: f64) -> (f64, f64) {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    let tail = (1.0 - prob) / 2.0;
    (
        quantile_select(&mut v, tail),
        quantile_select(&mut v, 1.0 - tail),
    )
}

/// [`quantile_sorted`] of `values` without sorting them: the two order statistics around the
/// position are found by selection (linear time); `values` is reordered and must hold no NaN.
pub fn quantile_select(values: &mut [f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let pos = p.clamp(0.0, 1.0) * (values.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let (_, &mut a, rest) = values.select_nth_unstable_by(lo, f64::total_cmp);
    if pos == lo as f64 {
        return a;
    }
    // The next order statistic is the smallest value above position lo.
    let b = rest.iter().copied().fold(f64::INFINITY, f64::min);
    a + (b - a) * (pos - lo as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32, sd sqrt(32 / 7).
    #[test]
    fn sample_sd_divides_by_n_minus_one() {
        let sd = sample_sd(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!((sd - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        assert!(sample_sd(&[1.0]).is_nan());
    }

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
    fn hdi_by_selection_equals_hdi_of_the_fully_sorted_draws() {
        // Reference: the same window search over a full sort.
        let reference = |values: &[f64], prob: f64| {
            let s = sorted(values);
            let k = ((prob * s.len() as f64).floor() as usize).min(s.len() - 1);
            let mut best = (s[0], s[k]);
            for i in 0..s.len() - k {
                if s[i + k] - s[i] < best.1 - best.0 {
                    best = (s[i], s[i + k]);
                }
            }
            best
        };
        let mut state = 12345_u64;
        for n in [1_usize, 2, 3, 10, 99, 1000, 4001] {
            let values: Vec<f64> = (0..n)
                .map(|_| {
                    state = state
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let u = (state >> 11) as f64 / (1u64 << 53) as f64;
                    // Skewed with ties, so the shortest window is not in the middle.
                    (u * u * 50.0).round() / 5.0
                })
                .collect();
            for prob in [0.0, 0.3, 0.5, 0.5000001, 0.8, 0.94, 0.999, 1.0] {
                assert_eq!(
                    hdi(&values, prob),
                    reference(&values, prob),
                    "n {n} prob {prob}"
                );
            }
        }
        assert!(hdi(&[f64::NAN], 0.9).0.is_nan());
    }

    #[test]
    fn quantiles_match_numpy_linear() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile_sorted(&s, 0.5), 2.5);
        assert_eq!(quantile_sorted(&s, 0.25), 1.75);
        assert_eq!(central_interval(&[3.0, 1.0, 2.0, 4.0], 0.5), (1.75, 3.25));
        // Selection gives exactly the interpolated order statistics of a full sort.
        let mut state = 99_u64;
        let values: Vec<f64> = (0..4001)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((state >> 11) as f64 / (1u64 << 53) as f64 * 40.0).round()
            })
            .collect();
        let s = sorted(&values);
        for p in [0.0, 0.03, 0.25, 0.5, 0.97, 1.0] {
            assert_eq!(
                quantile_select(&mut values.clone(), p),
                quantile_sorted(&s, p)
            );
        }
    }
}
