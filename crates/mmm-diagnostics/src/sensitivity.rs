//! Power-scaling prior and likelihood sensitivity (Kallioinen, Paananen, Bürkner & Vehtari
//! 2023, "Detecting and diagnosing prior and likelihood sensitivity with power-scaling",
//! Statistics and Computing 34:57), computed from the existing draws as the R package
//! `priorsense` 1.x does (github.com/n-kall/priorsense, `R/powerscale_sensitivity.R`,
//! `R/powerscale_gradients.R`, `R/cjs.R`), with the Pareto smoothing of the R package
//! `posterior` (`R/pareto_smooth.R`, `R/gpd.R`) that priorsense calls.
//!
//! Power-scaling a component (the prior, a group of priors, or the likelihood) by alpha turns
//! the posterior p(theta | y) into one proportional to p(theta | y) p_c(theta)^(alpha - 1).
//! Each draw s gets the importance ratio w_s = p_c(theta_s)^(alpha - 1), Pareto-smoothed
//! (with its Pareto k as the reliability check). A quantity's sensitivity is the cumulative
//! Jensen-Shannon distance between its posterior ECDF and the weighted one, at alpha = 0.99
//! and 1.01, per unit of log2(alpha):
//! `(CJS(1.01) / log2(1.01) + CJS(0.99) / -log2(0.99)) / 2`.
//! Above 0.05 it is flagged: sensitive to both the prior and the likelihood means prior-data
//! conflict, to the prior only a strong prior or a weak likelihood.

use serde::{Deserialize, Serialize};

use crate::convergence::ess_tail;
use crate::loo::{gp_inv, gpd_fit, logsumexp};

mod draws;
pub use draws::sensitivity_inputs;

/// Lower power-scaling factor (priorsense's `lower_alpha`).
pub const LOWER_ALPHA: f64 = 0.99;
/// Upper power-scaling factor (priorsense's `upper_alpha`).
pub const UPPER_ALPHA: f64 = 1.01;
/// Sensitivity above which a quantity is flagged (priorsense's `sensitivity_threshold`).
pub const THRESHOLD: f64 = 0.05;

/// Pareto-smoothed log importance weights (not normalized) and the Pareto shape k of their
/// right tail; `khat` is `None` where `posterior::pareto_smooth` returns NA (non-finite or
/// constant ratios, a constant tail, too short a tail, or a tail too far from a generalized
/// Pareto distribution to fit), the ratios then left as they are.
#[derive(Debug, Clone)]
pub struct Smoothed {
    /// Log weights, shifted by the largest ratio when smoothed.
    pub log_weights: Vec<f64>,
    /// Pareto k of the right tail.
    pub khat: Option<f64>,
}

/// True when `x` is constant to within machine epsilon (posterior's `is_constant`).
fn is_constant(x: &[f64]) -> bool {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = x.iter().copied().fold(f64::INFINITY, f64::min);
    (max - min).abs() < f64::EPSILON
}

/// Draws in the smoothed tail: floor(3 sqrt(S / r_eff)) when S r_eff > 225, else floor(S / 5),
/// at least 5 (posterior's `ps_tail_length`); `None` when r_eff is not a number.
pub fn tail_length(draws: usize, r_eff: f64) -> Option<usize> {
    let s = draws as f64;
    let n = if s * r_eff > 225.0 {
        3.0 * (s / r_eff).sqrt()
    } else if r_eff.is_nan() {
        return None;
    } else {
        s / 5.0
    };
    Some((n.floor() as usize).max(5))
}

/// Pareto smoothing of log importance ratios as `posterior::pareto_smooth(x, r_eff = NULL,
/// are_log_weights = TRUE)` does it on priorsense's ratios: r_eff = ESS_tail / S with the
/// draws taken as one chain (priorsense passes a draws array, which `as.matrix` flattens
/// chain after chain), the tail length of [`tail_length`], then [`smooth_right_tail`].
pub fn pareto_smooth_log_weights(log_ratios: &[f64]) -> Smoothed {
    let r_eff = ess_tail(&[log_ratios]) / log_ratios.len() as f64;
    pareto_smooth_with_r_eff(log_ratios, r_eff)
}

/// [`pareto_smooth_log_weights`] with r_eff given. Power-scaling's ratios are (alpha - 1)
/// times one log density, and the tail ESS of c x is that of x for c > 0 (the quantiles scale
/// with x), so [`perturb`] computes it from the log density ([`tail_r_eff`]).
pub fn pareto_smooth_with_r_eff(log_ratios: &[f64], r_eff: f64) -> Smoothed {
    let s = log_ratios.len();
    let unsmoothed = Smoothed {
        log_weights: log_ratios.to_vec(),
        khat: None,
    };
    if log_ratios.iter().any(|v| !v.is_finite()) || is_constant(log_ratios) {
        return unsmoothed;
    }
    match tail_length(s, r_eff) {
        Some(tail) if tail < s => {
            let max = log_ratios.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut x: Vec<f64> = log_ratios.iter().map(|v| v - max).collect();
            let khat = smooth_right_tail(&mut x, tail);
            Smoothed {
                log_weights: x,
                khat,
            }
        }
        _ => unsmoothed,
    }
}

/// posterior's `ps_tail` on the right tail of log weights `x` (shifted so their maximum is 0):
/// the `tail` largest, as exceedances exp(x) - exp(cutoff) over the next largest value, get a
/// generalized Pareto fit ([`gpd_fit`], Zhang & Stephens 2009 with the weakly informative prior
/// on k) and are replaced by its quantiles at (i - 1/2) / tail, capped at the largest raw value.
/// Returns k; `None` for a constant tail or when the tail's first quartile is not above its
/// minimum (posterior's `gpdfit` returns NA there), when nothing is smoothed.
fn smooth_right_tail(x: &mut [f64], tail: usize) -> Option<f64> {
    let s = x.len();
    // The tail and the value below it in the order of a stable sort (R's sort.int with
    // index.return = TRUE: ties keep their draw order), by selection and a sort of the top.
    let mut pairs: Vec<(f64, usize)> = x.iter().copied().zip(0..s).collect();
    let by_value = |a: &(f64, usize), b: &(f64, usize)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    let first = s - tail;
    pairs.select_nth_unstable_by(first - 1, by_value);
    pairs[first - 1..].sort_unstable_by(by_value);
    let order: Vec<usize> = pairs[first - 1..].iter().map(|p| p.1).collect();
    let (below, order) = (order[0], &order[1..]);
    let values: Vec<f64> = order.iter().map(|&i| x[i]).collect();
    if is_constant(&values) {
        return None;
    }
    let mut cutoff = x[below];
    if cutoff == values[0] {
        cutoff -= f64::EPSILON;
    }
    let max_tail = values[tail - 1];
    let exp_cut = cutoff.exp();
    let exceed: Vec<f64> = values.iter().map(|v| v.exp() - exp_cut).collect();
    if exceed[(tail as f64 / 4.0 + 0.5) as usize - 1] <= exceed[0] {
        return None;
    }
    let (k, sigma) = gpd_fit(&exceed);
    let k = if k.is_nan() { f64::INFINITY } else { k };
    if k.is_finite() {
        for (r, &i) in order.iter().enumerate() {
            let p = (r as f64 + 0.5) / tail as f64;
            let smoothed = (exp_cut + gp_inv(p, k, sigma)).ln();
            x[i] = if smoothed > max_tail {
                max_tail
            } else {
                smoothed
            };
        }
    }
    Some(k)
}

/// Self-normalized weights exp(lw_s - logsumexp(lw)) (posterior's `weights(normalize = TRUE)`).
pub fn normalized_weights(log_weights: &[f64]) -> Vec<f64> {
    let norm = logsumexp(log_weights);
    log_weights.iter().map(|v| (v - norm).exp()).collect()
}

/// A quantity's draws sorted once for every distance: the sort order and the gaps between
/// consecutive sorted values.
#[derive(Debug, Clone)]
pub struct SortedDraws {
    order: Vec<usize>,
    widths: Vec<f64>,
}

impl SortedDraws {
    /// Sort `draws` (stable, as R's `order`).
    pub fn new(draws: &[f64]) -> Self {
        let mut order: Vec<usize> = (0..draws.len()).collect();
        order.sort_by(|&a, &b| draws[a].total_cmp(&draws[b]));
        let widths = order
            .windows(2)
            .map(|w| draws[w[1]] - draws[w[0]])
            .collect();
        Self { order, widths }
    }
}

/// P ln(P / M) + Q ln(Q / M) with M = (P + Q) / 2, a term being 0 where its P (or Q) is 0
/// (R drops the NaN of 0 ln 0 with `na.rm = TRUE`).
fn cjs_term(p: f64, q: f64) -> f64 {
    let m = 0.5 * (p + q);
    let part = |a: f64| if a > 0.0 { a * (a / m).ln() } else { 0.0 };
    part(p) + part(q)
}

/// One direction of priorsense's `.cjs_dist` for a weighted copy of the same draws: with P, Q
/// the ECDFs of the base and weighted draws at each sorted draw but the last and w the gap to
/// the next, (sum w [P log2(P/M) + Q log2(Q/M)]) / (sum w P + sum w Q); the two
/// `(Q_int - P_int) / (2 ln 2)` terms of CJS(P||Q) and CJS(Q||P) cancel.
fn cjs_pass(cum: impl Iterator<Item = (f64, f64, f64)>) -> f64 {
    let (mut num, mut bound) = (0.0, 0.0);
    for (w, p, q) in cum {
        num += w * cjs_term(p, q);
        bound += w * (p + q);
    }
    num / std::f64::consts::LN_2 / bound
}

/// Cumulative Jensen-Shannon distance between a quantity's posterior (uniform weights) and
/// its `weights`-weighted copy, priorsense's `cjs_dist(x, x, NULL, weights)` (Nguyen &
/// Vreeken 2015): sqrt of the normalized symmetric CJS, the larger of its values on x and on -x
/// (`unsigned = TRUE`). A constant quantity has distance 0 (priorsense gives NaN: 0 / 0).
pub fn cjs_distance(sorted: &SortedDraws, weights: &[f64]) -> f64 {
    let s = sorted.order.len();
    if s < 2 || sorted.widths.iter().all(|w| *w == 0.0) {
        return 0.0;
    }
    let total: f64 = weights.iter().sum();
    let base = 1.0 / s as f64;
    let (mut p, mut q) = (0.0, 0.0);
    let up: Vec<(f64, f64)> = sorted.order[..s - 1]
        .iter()
        .map(|&i| {
            p += base;
            q += weights[i] / total;
            (p, q)
        })
        .collect();
    let (mut p, mut q) = (0.0, 0.0);
    let mut down: Vec<(f64, f64)> = sorted.order[1..]
        .iter()
        .rev()
        .map(|&i| {
            p += base;
            q += weights[i] / total;
            (p, q)
        })
        .collect();
    down.reverse();
    let ascending = cjs_pass(sorted.widths.iter().zip(&up).map(|(w, c)| (*w, c.0, c.1)));
    let descending = cjs_pass(sorted.widths.iter().zip(&down).map(|(w, c)| (*w, c.0, c.1)));
    ascending.max(descending).sqrt()
}

/// priorsense's sensitivity from the distances at [`LOWER_ALPHA`] and [`UPPER_ALPHA`]: the
/// mean of the two one-sided derivatives of the distance w.r.t. log2(alpha),
/// (d_upper / log2(1.01) + d_lower / -log2(0.99)) / 2 (`powerscale_divergence_gradients`).
pub fn sensitivity_from_distances(lower: f64, upper: f64) -> f64 {
    (upper / UPPER_ALPHA.log2() - lower / LOWER_ALPHA.log2()) / 2.0
}

/// priorsense's diagnosis of a quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Diagnosis {
    /// Neither sensitivity calls for a diagnosis.
    #[serde(rename = "none")]
    None,
    /// Prior and likelihood sensitivity both at or above the threshold (priorsense: "potential
    /// prior-likelihood conflict").
    #[serde(rename = "prior-data conflict")]
    PriorDataConflict,
    /// Prior sensitivity above the threshold, likelihood sensitivity below (priorsense:
    /// "potential strong prior / weak likelihood").
    #[serde(rename = "strong prior / weak likelihood")]
    StrongPriorWeakLikelihood,
}

impl Diagnosis {
    /// priorsense's rule: prior >= t and likelihood >= t is a conflict; prior > t and
    /// likelihood < t a strong prior or weak likelihood; anything else none.
    pub fn of(prior: f64, likelihood: f64, threshold: f64) -> Self {
        if prior >= threshold && likelihood >= threshold {
            Self::PriorDataConflict
        } else if prior > threshold && likelihood < threshold {
            Self::StrongPriorWeakLikelihood
        } else {
            Self::None
        }
    }

    /// The label, as in diagnostics.json.
    pub fn label(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::PriorDataConflict => "prior-data conflict",
            Self::StrongPriorWeakLikelihood => "strong prior / weak likelihood",
        }
    }
}

/// A component's power-scaled weights at both alphas, normalized, with their Pareto k;
/// `None` weights where the log density is not finite at every draw.
#[derive(Debug, Clone)]
pub struct Perturbation {
    /// Weights at [`LOWER_ALPHA`] and [`UPPER_ALPHA`].
    pub weights: Option<[Vec<f64>; 2]>,
    /// Pareto k of the weights at each alpha.
    pub khat: [Option<f64>; 2],
}

/// r_eff = tail ESS / S of the log ratios c x at c < 0 and c > 0 (x the log density): ESS_tail(x)
/// for c > 0; for c < 0 the same number when [`quantiles_between_draws`] holds (the indicators
/// of -x's 5% and 95% quantiles are then the complements of x's 95% and 5% ones, and a
/// complement has the same autocorrelation), else ESS_tail(-x).
fn tail_r_eff(x: &[f64]) -> [f64; 2] {
    let s = x.len() as f64;
    let upper = ess_tail(&[x]) / s;
    if quantiles_between_draws(x) {
        return [upper, upper];
    }
    let negated: Vec<f64> = x.iter().map(|v| -v).collect();
    [ess_tail(&[&negated]) / s, upper]
}

/// True when the type-7 5% and 95% quantiles of `x` each fall strictly inside the gap between
/// the two distinct draws they interpolate (interpolation weight in (1e-9, 1 - 1e-9), gap above
/// 1e-9 of their magnitude), so that no draw sits on a quantile.
fn quantiles_between_draws(x: &[f64]) -> bool {
    let n = x.len();
    if n < 2 {
        return false;
    }
    let mut sorted = x.to_vec();
    sorted.sort_by(f64::total_cmp);
    [0.05, 0.95].iter().all(|&p| {
        let h = (n - 1) as f64 * p;
        let k = (h.floor() as usize).min(n - 2);
        let frac = h - k as f64;
        let (a, b) = (sorted[k], sorted[k + 1]);
        let scale = a.abs().max(b.abs()).max(f64::MIN_POSITIVE);
        frac > 1e-9 && frac < 1.0 - 1e-9 && b - a > 1e-9 * scale
    })
}

/// Power-scale the component with per-draw log density `log_density` (draws in chain-major
/// order): log ratios (alpha - 1) log p_c(theta_s) (priorsense's `scaled_log_ratio`),
/// Pareto-smoothed and normalized, at both alphas.
pub fn perturb(log_density: &[f64]) -> Perturbation {
    if log_density.iter().any(|v| !v.is_finite()) {
        return Perturbation {
            weights: None,
            khat: [None, None],
        };
    }
    let [r_lower, r_upper] = tail_r_eff(log_density);
    let at = |alpha: f64| {
        let ratios: Vec<f64> = log_density.iter().map(|v| v * (alpha - 1.0)).collect();
        let r_eff = if alpha < 1.0 { r_lower } else { r_upper };
        let smoothed = pareto_smooth_with_r_eff(&ratios, r_eff);
        (normalized_weights(&smoothed.log_weights), smoothed.khat)
    };
    let (lower, k_lower) = at(LOWER_ALPHA);
    let (upper, k_upper) = at(UPPER_ALPHA);
    Perturbation {
        weights: Some([lower, upper]),
        khat: [k_lower, k_upper],
    }
}

/// Sensitivity of a quantity to a perturbation: [`sensitivity_from_distances`] of the CJS
/// distances at both alphas; `None` without weights.
pub fn quantity_sensitivity(sorted: &SortedDraws, perturbation: &Perturbation) -> Option<f64> {
    let [lower, upper] = perturbation.weights.as_ref()?;
    Some(sensitivity_from_distances(
        cjs_distance(sorted, lower),
        cjs_distance(sorted, upper),
    ))
}

/// What a quantity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuantityKind {
    /// A model parameter (a draws.parquet column).
    Parameter,
    /// A channel's training-window ROAS (contribution / spend).
    Roas,
    /// A channel's training-window contribution (target units).
    Contribution,
    /// A channel's marginal ROAS at its current spend.
    MarginalRoas,
}

/// Which component a perturbation scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The joint prior, or one prior group.
    Prior,
    /// The likelihood.
    Likelihood,
}

/// One perturbation's Pareto k diagnostics.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PerturbationCheck {
    /// The scaled component.
    pub component: Component,
    /// The prior group scaled alone; absent for the joint prior and the likelihood.
    pub group: Option<String>,
    /// Whether the joint prior perturbation includes this group (false for latent
    /// standard-normal coordinates: local-level steps and geo deviations).
    pub in_joint_prior: bool,
    /// Pareto k of the weights at alpha = 0.99 (null where not estimable).
    pub khat_lower: Option<f64>,
    /// Pareto k of the weights at alpha = 1.01 (null where not estimable).
    pub khat_upper: Option<f64>,
    /// True when both k are at most `khat_threshold` (an unestimable k counts as reliable:
    /// no tail to smooth).
    pub reliable: bool,
    /// False when the component's log density was not finite at some draw (no weights).
    pub computed: bool,
}

/// A quantity's sensitivity to one prior group alone.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GroupSensitivity {
    /// The prior group.
    pub group: String,
    /// Sensitivity to power-scaling that group.
    pub prior: Option<f64>,
}

/// A quantity's sensitivity.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct QuantitySensitivity {
    /// Name: the parameter, or `roas[CH]`, `contribution[CH]`, `marginal_roas[CH]`.
    pub quantity: String,
    /// What it is.
    pub kind: QuantityKind,
    /// The channel of a channel quantity.
    pub channel: Option<String>,
    /// Sensitivity to power-scaling the joint prior.
    pub prior: Option<f64>,
    /// Sensitivity to power-scaling the likelihood.
    pub likelihood: Option<f64>,
    /// priorsense's diagnosis at the threshold.
    pub diagnosis: Diagnosis,
    /// Channel quantities: the sensitivity to each prior group alone, in group order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupSensitivity>,
}

/// The `sensitivity` section of diagnostics.json.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PriorSensitivity {
    /// How the numbers were computed.
    pub method: String,
    /// Lower power-scaling factor.
    pub lower_alpha: f64,
    /// Upper power-scaling factor.
    pub upper_alpha: f64,
    /// Sensitivity above which a quantity is flagged.
    pub threshold: f64,
    /// Posterior draws used.
    pub draws: usize,
    /// Largest Pareto k for reliable weights: min(1 - 1 / log10(S), 0.7).
    pub khat_threshold: f64,
    /// The perturbations: the joint prior, the likelihood, then each prior group.
    pub perturbations: Vec<PerturbationCheck>,
    /// Per quantity: channel quantities first (ROAS, contribution, marginal ROAS per channel),
    /// then parameters.
    pub quantities: Vec<QuantitySensitivity>,
    /// Quantities with a diagnosis other than none.
    pub flagged: Vec<String>,
}

/// A component's per-draw log density.
#[derive(Debug, Clone)]
pub struct LogComponent {
    /// The prior group's name.
    pub group: String,
    /// Whether the joint prior includes it.
    pub in_joint_prior: bool,
    /// Log density per draw.
    pub values: Vec<f64>,
}

/// A quantity's draws.
#[derive(Debug, Clone)]
pub struct Quantity {
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: QuantityKind,
    /// The channel of a channel quantity.
    pub channel: Option<String>,
    /// One value per draw.
    pub draws: Vec<f64>,
    /// Index (in the same list) of a quantity of which this one is a positive multiple per
    /// draw (a channel's contribution is its ROAS times its spend): the CJS distance does not
    /// change under positive scaling, so the sensitivities are copied from it.
    pub multiple_of: Option<usize>,
}

/// Everything the analysis reads, every vector with one value per draw in chain-major order.
#[derive(Debug, Clone)]
pub struct SensitivityInputs {
    /// Log prior density of each prior group.
    pub prior_groups: Vec<LogComponent>,
    /// Log likelihood.
    pub log_likelihood: Vec<f64>,
    /// The quantities.
    pub quantities: Vec<Quantity>,
}

/// The Pareto k check of one perturbation.
fn check(
    component: Component,
    group: Option<&LogComponent>,
    p: &Perturbation,
    threshold: f64,
) -> PerturbationCheck {
    let ok = |k: Option<f64>| k.is_none_or(|k| k <= threshold);
    PerturbationCheck {
        component,
        group: group.map(|g| g.group.clone()),
        in_joint_prior: group.is_none_or(|g| g.in_joint_prior),
        khat_lower: p.khat[0],
        khat_upper: p.khat[1],
        reliable: ok(p.khat[0]) && ok(p.khat[1]),
        computed: p.weights.is_some(),
    }
}

/// The joint prior's log density per draw: the sum of the groups it includes.
fn joint_prior(groups: &[LogComponent], draws: usize) -> Vec<f64> {
    let mut total = vec![0.0; draws];
    for g in groups.iter().filter(|g| g.in_joint_prior) {
        for (t, v) in total.iter_mut().zip(&g.values) {
            *t += v;
        }
    }
    total
}

/// One quantity's row from its sensitivities: to the joint prior, the likelihood and, for a
/// channel quantity, each group (`groups` in group order), with its diagnosis.
fn quantity_row(
    q: &Quantity,
    [prior, likelihood]: [Option<f64>; 2],
    groups: Vec<GroupSensitivity>,
) -> QuantitySensitivity {
    QuantitySensitivity {
        quantity: q.name.clone(),
        kind: q.kind,
        channel: q.channel.clone(),
        prior,
        likelihood,
        diagnosis: Diagnosis::of(prior.unwrap_or(0.0), likelihood.unwrap_or(0.0), THRESHOLD),
        groups,
    }
}

/// Every quantity's row: each quantity's draws sorted once, then every (quantity,
/// perturbation) sensitivity as a task of its own, the tasks in parallel. A channel quantity
/// has a task per group besides the joint prior's and the likelihood's, so one task per
/// quantity would leave one core with the channel quantities. `None` for a quantity whose
/// sensitivities are copied from another (`multiple_of`).
fn quantity_rows(
    quantities: &[Quantity],
    [prior, likelihood]: [&Perturbation; 2],
    groups: &[(String, Perturbation)],
) -> Vec<Option<QuantitySensitivity>> {
    let own = |q: &Quantity| q.multiple_of.is_none();
    let sorted: Vec<Option<SortedDraws>> =
        mmm_core::parallel::map_indexed(quantities.len(), 1, |i| {
            own(&quantities[i]).then(|| SortedDraws::new(&quantities[i].draws))
        });
    // Per task: the quantity and the perturbation (0 joint prior, 1 likelihood, 2 + group).
    let tasks: Vec<(usize, usize)> = (quantities.iter().enumerate())
        .filter(|(_, q)| own(q))
        .flat_map(|(i, q)| {
            let n = if q.kind == QuantityKind::Parameter {
                2
            } else {
                2 + groups.len()
            };
            (0..n).map(move |p| (i, p))
        })
        .collect();
    let perturbation = |p: usize| match p {
        0 => prior,
        1 => likelihood,
        g => &groups[g - 2].1,
    };
    let values = mmm_core::parallel::map_indexed(tasks.len(), 1, |t| {
        let (i, p) = tasks[t];
        sorted[i]
            .as_ref()
            .and_then(|s| quantity_sensitivity(s, perturbation(p)))
    });
    let mut rows: Vec<Option<QuantitySensitivity>> = vec![None; quantities.len()];
    let mut at = 0;
    for (i, q) in quantities.iter().enumerate().filter(|(_, q)| own(q)) {
        let n = tasks[at..].iter().take_while(|t| t.0 == i).count();
        let v = &values[at..at + n];
        let group_rows = (groups.iter().zip(v.iter().skip(2)))
            .map(|((name, _), prior)| GroupSensitivity {
                group: name.clone(),
                prior: *prior,
            })
            .collect();
        let at_most = |k: usize| v.get(k).copied().flatten();
        rows[i] = Some(quantity_row(q, [at_most(0), at_most(1)], group_rows));
        at += n;
    }
    rows
}

/// Power-scaling sensitivity of every quantity to the joint prior and the likelihood, and of
/// every channel quantity to each prior group alone (priorsense's `powerscale_sensitivity`
/// with its defaults: alpha 0.99 and 1.01, CJS distance, threshold 0.05, no moment matching).
pub fn power_scaling(inputs: &SensitivityInputs) -> PriorSensitivity {
    let s = inputs.log_likelihood.len();
    let khat_threshold = (1.0 - 1.0 / (s as f64).log10()).min(0.7);
    let joint = joint_prior(&inputs.prior_groups, s);
    // The joint prior, the likelihood, then each group, in parallel.
    let mut all = mmm_core::parallel::map_indexed(inputs.prior_groups.len() + 2, 1, |i| match i {
        0 => perturb(&joint),
        1 => perturb(&inputs.log_likelihood),
        g => perturb(&inputs.prior_groups[g - 2].values),
    });
    let rest = all.split_off(2);
    let (likelihood, prior) = (all.pop(), all.pop());
    let (Some(prior), Some(likelihood)) = (prior, likelihood) else {
        unreachable!("two perturbations were computed first");
    };
    let groups: Vec<(String, Perturbation)> = (inputs.prior_groups.iter())
        .map(|g| g.group.clone())
        .zip(rest)
        .collect();
    let mut perturbations = vec![
        check(Component::Prior, None, &prior, khat_threshold),
        check(Component::Likelihood, None, &likelihood, khat_threshold),
    ];
    for (g, (_, p)) in inputs.prior_groups.iter().zip(&groups) {
        perturbations.push(check(Component::Prior, Some(g), p, khat_threshold));
    }
    let computed = quantity_rows(&inputs.quantities, [&prior, &likelihood], &groups);
    let quantities = (inputs.quantities.iter().zip(&computed))
        .filter_map(|(q, row)| match (row, q.multiple_of) {
            (Some(row), _) => Some(row.clone()),
            (None, Some(j)) => computed
                .get(j)
                .cloned()
                .flatten()
                .map(|base| QuantitySensitivity {
                    quantity: q.name.clone(),
                    kind: q.kind,
                    channel: q.channel.clone(),
                    ..base
                }),
            (None, None) => None,
        })
        .collect::<Vec<_>>();
    let flagged = (quantities.iter())
        .filter(|q| q.diagnosis != Diagnosis::None)
        .map(|q| q.quantity.clone())
        .collect();
    PriorSensitivity {
        method: METHOD.into(),
        lower_alpha: LOWER_ALPHA,
        upper_alpha: UPPER_ALPHA,
        threshold: THRESHOLD,
        draws: s,
        khat_threshold,
        perturbations,
        quantities,
        flagged,
    }
}

/// How the numbers are computed, as written into diagnostics.json.
const METHOD: &str = "power-scaling sensitivity (Kallioinen et al. 2023) as priorsense 1.x \
    computes it: each draw reweighted by p_c(theta)^(alpha - 1) for alpha = 0.99 and 1.01, the \
    weights Pareto-smoothed as posterior::pareto_smooth does (r_eff = tail ESS / draws), the \
    cumulative Jensen-Shannon distance between each quantity's posterior and reweighted ECDF \
    per unit of log2(alpha), averaged over both alphas; the prior is the log prior density of \
    the constrained parameters without Jacobians (latent standard-normal coordinates left out), \
    the likelihood the training periods' log likelihood plus the lift tests'";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnosis_follows_priorsense_rule() {
        assert_eq!(
            Diagnosis::of(0.06, 0.06, 0.05),
            Diagnosis::PriorDataConflict
        );
        assert_eq!(
            Diagnosis::of(0.05, 0.05, 0.05),
            Diagnosis::PriorDataConflict
        );
        assert_eq!(
            Diagnosis::of(0.06, 0.01, 0.05),
            Diagnosis::StrongPriorWeakLikelihood
        );
        assert_eq!(Diagnosis::of(0.05, 0.01, 0.05), Diagnosis::None);
        assert_eq!(Diagnosis::of(0.01, 0.2, 0.05), Diagnosis::None);
    }

    #[test]
    fn uniform_weights_give_zero_distance_and_constant_quantities_zero() {
        let x: Vec<f64> = (0..100).map(|i| (i as f64 * 0.37).sin()).collect();
        let sorted = SortedDraws::new(&x);
        assert!(cjs_distance(&sorted, &[0.01; 100]) < 1e-7);
        let constant = SortedDraws::new(&[2.0; 50]);
        assert_eq!(cjs_distance(&constant, &[0.02; 50]), 0.0);
    }

    #[test]
    fn tail_length_follows_posterior() {
        assert_eq!(tail_length(4000, 1.0), Some(189));
        assert_eq!(tail_length(1000, 0.2), Some(200));
        assert_eq!(tail_length(20, 1.0), Some(5));
        assert_eq!(tail_length(4000, f64::NAN), None);
    }

    #[test]
    fn non_finite_log_density_gives_no_weights() {
        let p = perturb(&[0.0, f64::NEG_INFINITY, 1.0]);
        assert!(p.weights.is_none());
    }
}
