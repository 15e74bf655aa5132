//! Simulation-based calibration (Talts et al. 2018): uniformity of the ranks of prior draws
//! among posterior draws, by a chi-square test per parameter.

use serde::{Deserialize, Serialize};

use crate::convergence::ln_gamma;

/// Uniformity test of one parameter's SBC ranks.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RankTest {
    /// Parameter name.
    pub parameter: String,
    /// Rank counts per bin (bin b holds ranks b*(L+1)/bins .. (b+1)*(L+1)/bins - 1).
    pub counts: Vec<usize>,
    /// Pearson chi-square statistic against equal expected counts.
    pub chi_square: f64,
    /// Degrees of freedom (bins - 1).
    pub df: usize,
    /// Upper-tail p-value.
    pub p_value: f64,
    /// p_value >= alpha.
    pub uniform: bool,
}

/// Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a): series for x < a + 1, else the
/// continued fraction by the modified Lentz method (Numerical Recipes §6.2, `gammq`).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if a.is_nan() || a <= 0.0 || x.is_nan() || x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return 1.0;
    }
    let log_prefix = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // P(a, x) = e^{-x} x^a / Γ(a) * sum_n x^n / (a (a+1) ... (a+n)).
        let (mut ap, mut del) = (a, 1.0 / a);
        let mut sum = del;
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-16 {
                break;
            }
        }
        1.0 - sum * log_prefix.exp()
    } else {
        const TINY: f64 = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / TINY;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < TINY {
                d = TINY;
            }
            c = b + an / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-16 {
                break;
            }
        }
        log_prefix.exp() * h
    }
}

/// Upper tail of the chi-square distribution with `df` degrees of freedom: Q(df/2, x/2).
pub fn chi_square_sf(x: f64, df: usize) -> f64 {
    gamma_q(df as f64 / 2.0, x / 2.0)
}

/// Chi-square test that `ranks` (each in 0..=max_rank) are uniform, with the max_rank + 1
/// possible values grouped into `bins` equal bins (bins must divide max_rank + 1).
pub fn rank_uniformity(
    parameter: &str,
    ranks: &[usize],
    max_rank: usize,
    bins: usize,
    alpha: f64,
) -> RankTest {
    let values = max_rank + 1;
    let mut counts = vec![0usize; bins];
    for &r in ranks {
        counts[(r.min(max_rank) * bins) / values] += 1;
    }
    let expected = ranks.len() as f64 / bins as f64;
    let chi_square: f64 = counts
        .iter()
        .map(|&o| (o as f64 - expected).powi(2) / expected)
        .sum();
    let p_value = chi_square_sf(chi_square, bins - 1);
    RankTest {
        parameter: parameter.to_string(),
        counts,
        chi_square,
        df: bins - 1,
        p_value,
        uniform: p_value >= alpha,
    }
}

/// Interval coverage of one quantity at one level in a parameter-recovery run.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CoverageCheck {
    /// Parameter or derived quantity.
    pub quantity: String,
    /// Nominal level of the central posterior interval.
    pub level: f64,
    /// Simulations whose interval held the truth.
    pub covered: usize,
    /// Simulations.
    pub total: usize,
    /// covered / total.
    pub observed: f64,
    /// Lower end of the acceptance band around `level`.
    pub band_lower: f64,
    /// Upper end of the acceptance band.
    pub band_upper: f64,
    /// `observed` lies inside the band.
    pub within: bool,
}

/// Coverage `covered / total` of a level-`level` interval against its binomial sampling error:
/// accepted inside level ± z sqrt(level (1 - level) / total) (normal approximation), with
/// z = Φ⁻¹(1 - alpha / 2); pass alpha already divided by the number of checks (Bonferroni).
pub fn coverage_check(
    quantity: &str,
    level: f64,
    covered: usize,
    total: usize,
    alpha: f64,
) -> CoverageCheck {
    let z = crate::convergence::norm_ppf(1.0 - alpha / 2.0);
    let half = z * (level * (1.0 - level) / total.max(1) as f64).sqrt();
    let observed = covered as f64 / total.max(1) as f64;
    let (band_lower, band_upper) = (level - half, level + half);
    CoverageCheck {
        quantity: quantity.to_string(),
        level,
        covered,
        total,
        observed,
        band_lower,
        band_upper,
        within: total > 0 && (band_lower..=band_upper).contains(&observed),
    }
}
