//! PSIS-LOO and WAIC from pointwise log-likelihoods, computed exactly as ArviZ 0.23 does
//! (`az.loo`, `az.psislw`, `az.waic`; Vehtari, Gelman & Gabry 2017; Vehtari et al. 2024).

use serde::{Deserialize, Serialize};

/// PSIS-LOO and WAIC of one fit, on the log score (higher is better).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LooSummary {
    /// Expected log pointwise predictive density, leave-one-out, summed over observations.
    pub elpd_loo: f64,
    /// Standard error of `elpd_loo`: sqrt(n var(elpd_loo_i)).
    pub se: f64,
    /// Effective number of parameters: lppd - elpd_loo.
    pub p_loo: f64,
    /// Largest Pareto shape estimate over observations.
    pub pareto_k_max: f64,
    /// Observations with Pareto k above `k_threshold`.
    pub n_bad_k: usize,
    /// The k threshold used for `n_bad_k` (spec `diagnose.pareto_k_threshold`).
    pub k_threshold: f64,
    /// ArviZ's sample-size dependent threshold min(1 - 1/log10(S), 0.7).
    pub good_k: f64,
    /// True when some k exceeds `good_k` (ArviZ's warning: PSIS-LOO is unreliable there).
    pub warning: bool,
    /// WAIC on the log score: sum(lppd_i - var_s(log p_is)).
    pub elpd_waic: f64,
    /// Standard error of `elpd_waic`.
    pub waic_se: f64,
    /// Effective number of parameters of WAIC: sum var_s(log p_is).
    pub p_waic: f64,
    /// True when some var_s(log p_is) > 0.4 (ArviZ's WAIC warning).
    pub waic_warning: bool,
    /// Relative efficiency used for the tail length: mean ESS(mean) / S over parameters.
    pub r_eff: f64,
    /// Observations (training periods).
    pub n_data_points: usize,
    /// Posterior draws.
    pub n_samples: usize,
    /// elpd_loo_i per observation, in training order (for paired comparisons of fits).
    pub pointwise_elpd_loo: Vec<f64>,
    /// Pareto k per observation.
    pub pareto_k: Vec<f64>,
    /// How the numbers were computed.
    pub method: String,
}

/// log(sum exp(x)) with the maximum factored out (ArviZ `_logsumexp`).
pub fn logsumexp(x: &[f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !max.is_finite() {
        return max;
    }
    max + x.iter().map(|v| (v - max).exp()).sum::<f64>().ln()
}

/// Empirical-Bayes fit of a generalized Pareto distribution to sorted exceedances
/// (Zhang & Stephens 2009 with the weak prior of Vehtari et al.; ArviZ `_gpdfit`): (k, sigma).
pub fn gpd_fit(sorted: &[f64]) -> (f64, f64) {
    const PRIOR_BS: f64 = 3.0;
    const PRIOR_K: f64 = 10.0;
    let n = sorted.len();
    let m_est = 30 + (n as f64).sqrt() as usize;
    let quartile = sorted[((n as f64) / 4.0 + 0.5) as usize - 1];
    let last = sorted[n - 1];
    let mut b: Vec<f64> = (1..=m_est)
        .map(|j| {
            (1.0 - (m_est as f64 / (j as f64 - 0.5)).sqrt()) / (PRIOR_BS * quartile) + 1.0 / last
        })
        .collect();
    let k_of = |bj: f64| sorted.iter().map(|x| (-bj * x).ln_1p()).sum::<f64>() / n as f64;
    let len_scale: Vec<f64> = b
        .iter()
        .map(|&bj| {
            let k = k_of(bj);
            n as f64 * ((-(bj / k)).ln() - k - 1.0)
        })
        .collect();
    let mut w: Vec<f64> = len_scale
        .iter()
        .map(|li| 1.0 / len_scale.iter().map(|lj| (lj - li).exp()).sum::<f64>())
        .collect();
    // Drop negligible weights, as ArviZ does before normalizing.
    let keep: Vec<bool> = w.iter().map(|&x| x >= 10.0 * f64::EPSILON).collect();
    if keep.iter().any(|k| !k) {
        let mut it = keep.iter();
        w.retain(|_| *it.next().unwrap_or(&false));
        let mut it = keep.iter();
        b.retain(|_| *it.next().unwrap_or(&false));
    }
    let total: f64 = w.iter().sum();
    let b_post: f64 = b.iter().zip(&w).map(|(bj, wj)| bj * wj / total).sum();
    let k_post = k_of(b_post);
    let sigma = -k_post / b_post;
    let k_post = (n as f64 * k_post + PRIOR_K * 0.5) / (n as f64 + PRIOR_K);
    (k_post, sigma)
}

/// Quantile function of the generalized Pareto distribution, sigma ((1 - p)^(-k) - 1) / k.
pub(crate) fn gp_inv(p: f64, k: f64, sigma: f64) -> f64 {
    if sigma <= 0.0 {
        return f64::NAN;
    }
    if k.abs() < f64::EPSILON {
        -(-p).ln_1p() * sigma
    } else {
        (-k * (-p).ln_1p()).exp_m1() / k * sigma
    }
}

/// Pareto-smoothed, normalized log importance weights of one observation and the Pareto shape
/// k (ArviZ `psislw` on `log_ratios` = -log p(y_i | theta_s); tail length
/// ceil(min(S/5, 3 sqrt(S / r_eff)))).
pub fn psis(log_ratios: &[f64], r_eff: f64) -> (Vec<f64>, f64) {
    let s = log_ratios.len();
    let tail_n = (s as f64 / 5.0).min(3.0 * (s as f64 / r_eff).sqrt()).ceil() as usize;
    let max = log_ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mut x: Vec<f64> = log_ratios.iter().map(|v| v - max).collect();
    let mut order: Vec<usize> = (0..s).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let cut_pos = s.saturating_sub(tail_n + 1);
    let xcutoff = x[order[cut_pos]].max(f64::MIN_POSITIVE.ln());
    let exp_cut = xcutoff.exp();
    let mut tail: Vec<usize> = (0..s).filter(|&i| x[i] > xcutoff).collect();
    let k = if tail.len() <= 4 {
        f64::INFINITY
    } else {
        tail.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
        let exceed: Vec<f64> = tail.iter().map(|&i| x[i].exp() - exp_cut).collect();
        let (k, sigma) = gpd_fit(&exceed);
        if k.is_finite() {
            let m = tail.len() as f64;
            for (r, &i) in tail.iter().enumerate() {
                let p = (r as f64 + 0.5) / m;
                x[i] = (gp_inv(p, k, sigma) + exp_cut).ln();
            }
            for v in x.iter_mut() {
                if *v > 0.0 {
                    *v = 0.0;
                }
            }
        }
        k
    };
    let norm = logsumexp(&x);
    x.iter_mut().for_each(|v| *v -= norm);
    (x, k)
}

fn var_ddof0(x: &[f64]) -> f64 {
    let m = x.iter().sum::<f64>() / x.len() as f64;
    x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64
}

/// PSIS-LOO and WAIC. `log_lik[i][s]` is log p(y_i | theta_s), draws in chain-major order;
/// `r_eff` is the relative efficiency (1 for a single chain).
pub fn loo_waic(log_lik: &[Vec<f64>], r_eff: f64, k_threshold: f64) -> LooSummary {
    let n = log_lik.len();
    let s = log_lik.first().map_or(0, Vec::len);
    let ln_s = (s as f64).ln();
    // Per observation (independent, so in parallel): elpd_loo_i, k, lppd_i and var(log lik).
    let per_obs: Vec<[f64; 4]> = mmm_core::parallel::map_indexed(n, 16, |i| {
        let ll = &log_lik[i];
        let neg: Vec<f64> = ll.iter().map(|v| -v).collect();
        let (lw, k) = psis(&neg, r_eff);
        let weighted: Vec<f64> = lw.iter().zip(ll).map(|(w, l)| w + l).collect();
        [logsumexp(&weighted), k, logsumexp(ll) - ln_s, var_ddof0(ll)]
    });
    let elpd_i: Vec<f64> = per_obs.iter().map(|r| r[0]).collect();
    let ks: Vec<f64> = per_obs.iter().map(|r| r[1]).collect();
    let lppd: f64 = per_obs.iter().map(|r| r[2]).sum();
    let p_waic: f64 = per_obs.iter().map(|r| r[3]).sum();
    let waic_warning = per_obs.iter().any(|r| r[3] > 0.4);
    let waic_i: Vec<f64> = per_obs.iter().map(|r| r[2] - r[3]).collect();
    let elpd_loo: f64 = elpd_i.iter().sum();
    let good_k = (1.0 - 1.0 / (s as f64).log10()).min(0.7);
    let pareto_k_max = ks.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    LooSummary {
        elpd_loo,
        se: (n as f64 * var_ddof0(&elpd_i)).sqrt(),
        p_loo: lppd - elpd_loo,
        pareto_k_max,
        n_bad_k: ks.iter().filter(|k| **k > k_threshold).count(),
        k_threshold,
        good_k,
        warning: ks.iter().any(|k| *k > good_k),
        elpd_waic: waic_i.iter().sum(),
        waic_se: (n as f64 * var_ddof0(&waic_i)).sqrt(),
        p_waic,
        waic_warning,
        r_eff,
        n_data_points: n,
        n_samples: s,
        pointwise_elpd_loo: elpd_i,
        pareto_k: ks,
        method: "PSIS-LOO and WAIC as ArviZ 0.23 computes them (az.loo / az.waic, log scale), \
                 from the pointwise log-likelihood of each training period under every posterior \
                 draw; r_eff = mean over parameters of ESS(mean) / draws; densities are of the \
                 target in original units (the log of the target scale is subtracted per period)"
            .into(),
    }
}

/// Difference of two fits on the same observations: (elpd_a - elpd_b, its standard error
/// sqrt(n var(elpd_a_i - elpd_b_i))).
pub fn elpd_difference(a: &[f64], b: &[f64]) -> (f64, f64) {
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    (d.iter().sum(), (d.len() as f64 * var_ddof0(&d)).sqrt())
}
