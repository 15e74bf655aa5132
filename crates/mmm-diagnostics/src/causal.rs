//! Causal-structure checks (issue 25): controls that follow the on/off schedules of flighted
//! channels or that earlier media spend predicts (likely post-treatment: controlling for a
//! mediator blocks part of the channels' effect), controls that move with spend in the same
//! periods (a mediator or a confounder: the user must say which), channels whose spend follows
//! the target's seasonality while no control is declared a confounder, and what each control
//! role means for interpretation.
//!
//! Pure functions over the design (no IO); the diagnose stage writes [`CausalChecks`] to
//! `causal_checks.json`. The reasoning and the simulations behind the thresholds are in
//! docs/diagnostics.md ("Causal structure") and docs/benchmarks.md.

use chrono::Datelike;
use mmm_core::Spec;
use mmm_core::spec::ControlRole;
use mmm_features::Design;
use mmm_features::transforms::{fourier_terms, geometric_adstock};
use mmm_model::rand::rngs::ChaCha8Rng;
use mmm_model::rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

/// The diagnose stage's output file of these checks.
pub const FILE: &str = "causal_checks.json";

/// Settings of the checks; [`CausalSettings::default`] holds the documented values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CausalSettings {
    /// Geometric adstock rates tried per channel (the best one is chosen inside the statistic).
    pub alphas: Vec<f64>,
    /// Adstock window in periods; the first `l_max` periods (less any carry-in) are left out of
    /// the regressions, so that no adstock is still warming up from zero.
    pub l_max: usize,
    /// Lags of the control itself in the lagged (post-treatment) test.
    pub own_lags: usize,
    /// Family-wise error rate over the tested controls (Bonferroni: each control is judged at
    /// `family_alpha / controls tested`).
    pub family_alpha: f64,
    /// Smallest adjusted partial R^2 of the spend terms for a finding (materiality).
    pub min_partial_r2: f64,
    /// Smallest circular shift of a channel's series in a permutation, in periods.
    pub min_shift: usize,
    /// Fewest permutations; more when the Bonferroni threshold needs them.
    pub min_permutations: usize,
    /// Permutations stop once this many reach the observed statistic (Besag & Clifford 1991).
    pub stop_after_exceedances: usize,
    /// Smallest |correlation| of a channel's spend with the target's seasonal shape for the
    /// missing-confounder note.
    pub seasonal_correlation: f64,
    /// Seed of the permutation streams (the spec's sampler seed in the stage).
    pub seed: u64,
    /// Smallest share of a channel's log-spend variance between its off and on groups (Otsu
    /// 1979) for the channel to count as flighted (an on/off schedule).
    #[serde(default = "default_flight_separation")]
    pub flight_separation: f64,
    /// Smallest share of periods in each of the off and on groups of a flighted channel.
    #[serde(default = "default_min_flight_share")]
    pub min_flight_share: f64,
    /// Lags of the control itself in the flight test's restricted regression.
    #[serde(default = "default_flight_own_lags")]
    pub flight_own_lags: usize,
}

fn default_flight_separation() -> f64 {
    0.85
}

fn default_min_flight_share() -> f64 {
    0.1
}

fn default_flight_own_lags() -> usize {
    2
}

impl Default for CausalSettings {
    fn default() -> Self {
        Self {
            alphas: vec![0.3, 0.6, 0.8],
            l_max: 8,
            own_lags: 2,
            family_alpha: 0.01,
            min_partial_r2: 0.10,
            min_shift: 8,
            min_permutations: 199,
            stop_after_exceedances: 10,
            seasonal_correlation: 0.5,
            seed: 0,
            flight_separation: default_flight_separation(),
            min_flight_share: default_min_flight_share(),
            flight_own_lags: default_flight_own_lags(),
        }
    }
}

/// What one control's role means for interpretation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ControlRoleRow {
    /// The control.
    pub control: String,
    /// Its declared role (`[[controls]] role`).
    pub role: ControlRole,
    /// What the role means for the channel effects.
    pub meaning: String,
}

/// One channel's share in a spend test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChannelSignal {
    /// The channel.
    pub channel: String,
    /// Adstock rate chosen for it (largest single-channel partial R^2).
    pub alpha: f64,
    /// Partial R^2 of this channel's adstock alone, beyond the restricted regression.
    pub partial_r2: f64,
    /// Drop in the joint partial R^2 when this channel is left out.
    pub unique_r2: f64,
    /// Permutation p-value of its unique contribution: only this channel's series is shifted,
    /// the others stay as observed.
    pub p_value: f64,
    /// Named in the messages: p-value below 0.05 after Holm's correction over channels (the
    /// largest `partial_r2` when none is).
    pub named: bool,
}

/// One regression test of a control on adstocked spend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SpendTest {
    /// Periods in the regressions.
    pub periods: usize,
    /// Columns of the restricted regression after dropping collinear ones.
    pub restricted_columns: usize,
    /// Partial R^2 of all channels' adstock: (RSS_restricted - RSS_full) / RSS_restricted.
    pub partial_r2: f64,
    /// Partial R^2 adjusted for the channel columns: 1 - (1 - R^2) df_r / df_f.
    pub partial_r2_adjusted: f64,
    /// Permutation p-value of `partial_r2`.
    pub p_value: f64,
    /// Permutations drawn (fewer than planned when they stopped early).
    pub permutations: usize,
    /// The p-value below which it counts (family_alpha / controls tested).
    pub threshold: f64,
    /// p_value < threshold and partial_r2_adjusted >= min_partial_r2.
    pub significant: bool,
    /// Per channel, largest single-channel partial R^2 first.
    pub channels: Vec<ChannelSignal>,
}

/// The spend tests of one control.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PostTreatment {
    /// The control.
    pub control: String,
    /// Its declared role.
    pub role: ControlRole,
    /// False when the tests could not run (`skipped` says why).
    pub tested: bool,
    /// Why the tests did not run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    /// The post-treatment test: each channel's adstock at t-1 beyond the control's own lags and
    /// the baseline.
    pub lagged: Option<SpendTest>,
    /// The association test: each channel's adstock at t (this period's spend included) beyond
    /// the baseline.
    pub contemporaneous: Option<SpendTest>,
    /// The flight test: the adstocked on/off schedules of the flighted channels at t beyond the
    /// control's own lags and the baseline (None when no channel is flighted).
    #[serde(default)]
    pub flight: Option<SpendTest>,
    /// What the flight test rests on: the flighted channels, and the channels it cannot see.
    #[serde(default)]
    pub flight_basis: String,
    /// The lagged or the flight test is significant: likely post-treatment.
    pub flagged: bool,
    /// The warning, when flagged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The association test is significant.
    pub moves_with_spend: bool,
    /// Asks for a role when the control moves with spend but is not flagged (and is not a
    /// declared confounder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// One channel's on/off schedule, the basis of the flight test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChannelSchedule {
    /// The channel.
    pub channel: String,
    /// Off and on groups separate clearly: the channel has flights.
    pub flighted: bool,
    /// Training periods in the off group (spend at or below `threshold`).
    pub off_periods: usize,
    /// Training periods in the on group.
    pub on_periods: usize,
    /// Spend (as in the design, scaled) at or below which a period is off; None without a
    /// split.
    pub threshold: Option<f64>,
    /// Share of the log-spend variance between the two groups (Otsu's criterion, 0 to 1).
    pub separation: f64,
}

/// One channel's spend against the target's seasonal shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SeasonalSpend {
    /// The channel.
    pub channel: String,
    /// Pearson correlation over the training window (None without a seasonal basis or with
    /// constant spend).
    pub correlation: Option<f64>,
    /// |correlation| >= the setting.
    pub follows_seasonality: bool,
    /// The missing-confounder note (when it follows and no control is a confounder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// causal_checks.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CausalChecks {
    /// How every number was computed.
    pub method: String,
    /// The settings used.
    pub settings: CausalSettings,
    /// Seasonal columns of the regressions: `design` (the spec's Fourier terms),
    /// `yearly order 2` (built from the dates when the spec has none) or `none`.
    pub seasonal_basis: String,
    /// Each control with its role and what the role means.
    pub roles: Vec<ControlRoleRow>,
    /// Declared mediators (modelled, so not tested).
    pub mediators: Vec<String>,
    /// The spend tests of each control, in spec order.
    pub post_treatment: Vec<PostTreatment>,
    /// Each channel's spend against the target's seasonality.
    pub seasonal_spend: Vec<SeasonalSpend>,
    /// Each channel's on/off schedule (the flight test's basis).
    #[serde(default)]
    pub schedules: Vec<ChannelSchedule>,
    /// Whether any control is declared `role = "confounder"`.
    pub confounder_declared: bool,
    /// Messages of the flagged controls (warnings, not gate failures).
    pub warnings: Vec<String>,
    /// Controls that move with spend and need a role, then missing-confounder notes.
    pub notes: Vec<String>,
}

/// Dot product.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Orthonormal basis of a span of columns, built by modified Gram-Schmidt with each column
/// orthogonalized twice ("twice is enough", Giraud et al. 2005). A column whose remaining
/// norm is below 1e-9 of its own (collinear with earlier ones, or zero) is dropped.
#[derive(Debug, Clone, Default)]
pub struct Basis {
    q: Vec<Vec<f64>>,
}

impl Basis {
    /// The basis of `cols`.
    pub fn new<'a>(cols: impl IntoIterator<Item = &'a [f64]>) -> Self {
        let mut b = Self::default();
        for c in cols {
            b.push(c);
        }
        b
    }

    /// Add a column; false when it was dropped as collinear.
    pub fn push(&mut self, col: &[f64]) -> bool {
        let norm0 = dot(col, col).sqrt();
        if !(norm0 > 0.0 && norm0.is_finite()) {
            return false;
        }
        let v = self.residual(col);
        let norm = dot(&v, &v).sqrt();
        if norm <= 1e-9 * norm0 {
            return false;
        }
        self.q.push(v.iter().map(|x| x / norm).collect());
        true
    }

    /// Columns kept.
    pub fn rank(&self) -> usize {
        self.q.len()
    }

    /// v - Q Q'v: the residual of regressing v on the span.
    pub fn residual(&self, v: &[f64]) -> Vec<f64> {
        let mut r = v.to_vec();
        for _ in 0..2 {
            for q in &self.q {
                let c = dot(q, &r);
                r.iter_mut().zip(q).for_each(|(x, qi)| *x -= c * qi);
            }
        }
        r
    }

    /// Share of `y`'s sum of squares in the span, ||Q'y||^2 / ||y||^2: an R^2 when y is
    /// residualized on the restricted regression (Frisch-Waugh-Lovell).
    pub fn explained(&self, y: &[f64]) -> f64 {
        let yy = dot(y, y);
        if yy <= 0.0 {
            return 0.0;
        }
        self.q.iter().map(|q| dot(q, y).powi(2)).sum::<f64>() / yy
    }
}

/// Pearson correlation; None when either series is constant.
pub fn correlation(a: &[f64], b: &[f64]) -> Option<f64> {
    let n = a.len().min(b.len()) as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        sab += (x - ma) * (y - mb);
        saa += (x - ma).powi(2);
        sbb += (y - mb).powi(2);
    }
    (saa > 0.0 && sbb > 0.0).then(|| sab / (saa * sbb).sqrt())
}

/// Geometric adstock A_t = sum_{l < l_max} alpha^l x_{t-l} of `carry_in` followed by `x`
/// (`mmm_features::transforms::geometric_adstock`, unnormalized: an R^2 does not depend on
/// scale), lagged `lag` periods, at `rows` of `x`: element i is A_{rows.start + i - lag}
/// (0 before the first period).
pub fn adstock_at(
    x: &[f64],
    carry_in: &[f64],
    alpha: f64,
    l_max: usize,
    lag: usize,
    rows: std::ops::Range<usize>,
) -> Vec<f64> {
    let full: Vec<f64> = carry_in.iter().chain(x).copied().collect();
    let a = geometric_adstock(&full, alpha, l_max, false);
    let off = carry_in.len();
    rows.map(|t| (t + off).checked_sub(lag).map_or(0.0, |i| a[i]))
        .collect()
}

/// One test's regressions: the control residualized on the restricted columns, and each
/// channel's candidate columns (one per alpha), all over the same rows, with the inner
/// products of every circular shift of the candidates precomputed ([`Shifted`]).
pub struct Problem {
    basis: Basis,
    y: Vec<f64>,
    yy: f64,
    candidates: Vec<Vec<Vec<f64>>>,
    shifted: Shifted,
}

/// Inner products of every circular shift of every candidate column, so that a permutation's
/// partial R^2 costs O(channels^2 x restricted columns) instead of a regression. With
/// z_s[t] = z[(t + s) mod n] and the restricted basis q_1..q_k (y orthogonal to it):
/// the residual r = z_s - sum_k (q_k . z_s) q_k has r . y = z_s . y and
/// r_i . r_j = z_{i,s_i} . z_{j,s_j} - sum_k (q_k . z_{i,s_i})(q_k . z_{j,s_j}), where
/// z_{i,s_i} . z_{j,s_j} = sum_u z_i[u] z_j[(u + s_j - s_i) mod n].
struct Shifted {
    /// Candidates flattened: index = channel x alphas + alpha.
    alphas: usize,
    rank: usize,
    n: usize,
    /// proj[i][s * rank + k] = q_k . z_{i,s}.
    proj: Vec<Vec<f64>>,
    /// zy[i][s] = z_{i,s} . y.
    zy: Vec<Vec<f64>>,
    /// cross[i * m + j][d] = sum_u z_i[u] z_j[(u + d) mod n] (m candidates), for i < j of
    /// different channels (the others are never needed).
    cross: Vec<Vec<f64>>,
    /// zz[i] = z_i . z_i.
    zz: Vec<f64>,
}

impl Shifted {
    fn new(basis: &Basis, y: &[f64], candidates: &[Vec<Vec<f64>>]) -> Self {
        let n = y.len();
        let flat: Vec<&Vec<f64>> = candidates.iter().flatten().collect();
        let circ =
            |a: &[f64], b: &[f64], d: usize| -> f64 { (0..n).map(|u| a[u] * b[(u + d) % n]).sum() };
        let proj = flat
            .iter()
            .map(|z| {
                (0..n)
                    .flat_map(|s| basis.q.iter().map(move |q| circ(q, z, s)))
                    .collect()
            })
            .collect();
        let zy = flat
            .iter()
            .map(|z| (0..n).map(|s| circ(y, z, s)).collect())
            .collect();
        let alphas = candidates.first().map_or(1, Vec::len);
        let m = flat.len();
        let cross = (0..m * m)
            .map(|k| {
                let (i, j) = (k / m, k % m);
                if i < j && i / alphas != j / alphas {
                    (0..n).map(|d| circ(flat[i], flat[j], d)).collect()
                } else {
                    Vec::new()
                }
            })
            .collect();
        Self {
            zz: flat.iter().map(|z| dot(z, z)).collect(),
            alphas,
            rank: basis.rank(),
            n,
            proj,
            zy,
            cross,
        }
    }

    /// q . z_{i,s} for every basis vector.
    fn proj(&self, i: usize, s: usize) -> &[f64] {
        &self.proj[i][s * self.rank..(s + 1) * self.rank]
    }

    /// (r . y, r . r) of candidate i shifted by s.
    fn moments(&self, i: usize, s: usize) -> (f64, f64) {
        let zz = self.zz[i];
        let rr = zz - self.proj(i, s).iter().map(|p| p * p).sum::<f64>();
        (self.zy[i][s], if rr > 1e-12 * zz { rr } else { 0.0 })
    }

    /// r_i . r_j of candidates i, j (of different channels, or i = j) shifted by s_i, s_j.
    fn gram(&self, (i, si): (usize, usize), (j, sj): (usize, usize)) -> f64 {
        let zz = match i.cmp(&j) {
            std::cmp::Ordering::Equal => return self.moments(i, si).1,
            std::cmp::Ordering::Less => {
                self.cross[i * self.zz.len() + j][(sj + self.n - si) % self.n]
            }
            std::cmp::Ordering::Greater => {
                self.cross[j * self.zz.len() + i][(si + self.n - sj) % self.n]
            }
        };
        zz - dot(self.proj(i, si), self.proj(j, sj))
    }
}

/// The statistic: per channel the alpha with the largest single-channel partial R^2, then the
/// joint partial R^2 of the chosen columns.
#[derive(Debug, Clone)]
struct Statistic {
    joint: f64,
    single: Vec<f64>,
    chosen: Vec<usize>,
}

/// Residual degrees of freedom the full regression must keep.
const MIN_RESIDUAL_DF: usize = 20;

/// b' G^+ b by Cholesky, leaving out columns whose pivot falls below 1e-12 of their diagonal
/// (collinear with earlier ones), as [`Basis`] drops them.
fn explained_by_gram(g: &[Vec<f64>], b: &[f64]) -> f64 {
    let m = b.len();
    let mut l = vec![vec![0.0; m]; m];
    let mut w = vec![0.0; m];
    let mut total = 0.0;
    for j in 0..m {
        let d = g[j][j] - (0..j).map(|k| l[j][k] * l[j][k]).sum::<f64>();
        if d.is_nan() || d <= 1e-12 * g[j][j] {
            continue;
        }
        let ljj = d.sqrt();
        l[j][j] = ljj;
        for i in j + 1..m {
            l[i][j] = (g[i][j] - (0..j).map(|k| l[i][k] * l[j][k]).sum::<f64>()) / ljj;
        }
        w[j] = (b[j] - (0..j).map(|k| l[j][k] * w[k]).sum::<f64>()) / ljj;
        total += w[j] * w[j];
    }
    total
}

impl Problem {
    /// `y` regressed on `restricted` (an intercept is added) and candidates
    /// `candidates[channel][alpha]`; Err when too few rows remain or the restricted columns
    /// explain `y` exactly.
    pub fn new(
        y: &[f64],
        restricted: &[Vec<f64>],
        candidates: Vec<Vec<Vec<f64>>>,
    ) -> Result<Self, String> {
        let ones = vec![1.0; y.len()];
        let basis = Basis::new(
            std::iter::once(ones.as_slice()).chain(restricted.iter().map(Vec::as_slice)),
        );
        let needed = basis.rank() + candidates.len() + MIN_RESIDUAL_DF;
        if y.len() < needed {
            return Err(format!(
                "too few periods: {} rows for {} restricted and {} channel columns (needs \
                 {MIN_RESIDUAL_DF} residual degrees of freedom)",
                y.len(),
                basis.rank(),
                candidates.len()
            ));
        }
        let r = basis.residual(y);
        let yy = dot(&r, &r);
        if yy <= 1e-12 * dot(y, y).max(f64::MIN_POSITIVE) {
            return Err(
                "its own lags and the baseline explain it exactly: a deterministic \
                        series such as a trend, which spend cannot move"
                    .into(),
            );
        }
        let shifted = Shifted::new(&basis, &r, &candidates);
        Ok(Self {
            basis,
            y: r,
            yy,
            candidates,
            shifted,
        })
    }

    /// [`Statistic`] with each channel's candidates shifted circularly by `shifts[channel]`.
    fn statistic(&self, shifts: &[usize]) -> Statistic {
        let (mut single, mut chosen) = (Vec::new(), Vec::new());
        for (c, &s) in shifts.iter().enumerate() {
            let (a, r2) = self.best_alpha(c, s);
            single.push(r2);
            chosen.push(a);
        }
        let at: Vec<(usize, usize)> = shifts
            .iter()
            .enumerate()
            .map(|(c, &s)| (c * self.shifted.alphas + chosen[c], s))
            .collect();
        Statistic {
            joint: self.joint(&at),
            single,
            chosen,
        }
    }

    /// Channel `c`'s alpha (index) with the largest single-channel partial R^2 at shift `s`,
    /// and that R^2.
    fn best_alpha(&self, c: usize, s: usize) -> (usize, f64) {
        let sh = &self.shifted;
        let mut best = (0, f64::NEG_INFINITY);
        for a in 0..sh.alphas {
            let (zy, rr) = sh.moments(c * sh.alphas + a, s);
            let r2 = if rr > 0.0 {
                zy * zy / (rr * self.yy)
            } else {
                0.0
            };
            if r2 > best.1 {
                best = (a, r2);
            }
        }
        best
    }

    /// Joint partial R^2 of candidates `at` = (candidate, shift).
    fn joint(&self, at: &[(usize, usize)]) -> f64 {
        let sh = &self.shifted;
        let g: Vec<Vec<f64>> = at
            .iter()
            .map(|&i| at.iter().map(|&j| sh.gram(i, j)).collect())
            .collect();
        let b: Vec<f64> = at.iter().map(|&(i, s)| sh.zy[i][s]).collect();
        explained_by_gram(&g, &b) / self.yy
    }

    /// Joint partial R^2 with channel `c` shifted by `s` (its alpha chosen again) and every
    /// other channel unshifted at its `chosen` alpha.
    fn joint_with(&self, chosen: &[usize], c: usize, s: usize) -> f64 {
        let alphas = self.shifted.alphas;
        let at: Vec<(usize, usize)> = chosen
            .iter()
            .enumerate()
            .map(|(k, &a)| match k == c {
                true => (k * alphas + self.best_alpha(c, s).0, s),
                false => (k * alphas + a, 0),
            })
            .collect();
        self.joint(&at)
    }

    /// The chosen candidates (unshifted) residualized on the restricted columns.
    fn columns(&self, chosen: &[usize]) -> Vec<Vec<f64>> {
        self.candidates
            .iter()
            .zip(chosen)
            .map(|(cands, &a)| self.basis.residual(&cands[a]))
            .collect()
    }

    /// Partial R^2 of the chosen candidates (unshifted) by direct regression, and the drop in
    /// it when each channel is left out.
    fn unique_r2(&self, chosen: &[usize]) -> (f64, Vec<f64>) {
        let columns = self.columns(chosen);
        let joint = Basis::new(columns.iter().map(Vec::as_slice)).explained(&self.y);
        let unique = (0..columns.len())
            .map(|c| {
                let rest = Basis::new(
                    columns
                        .iter()
                        .enumerate()
                        .filter(|(k, _)| *k != c)
                        .map(|(_, v)| v.as_slice()),
                );
                (joint - rest.explained(&self.y)).max(0.0)
            })
            .collect();
        (joint, unique)
    }
}

/// The numbers of one permutation test.
#[derive(Debug, Clone)]
pub struct TestResult {
    /// Rows of the regressions.
    pub periods: usize,
    /// Restricted columns kept (intercept included).
    pub restricted_columns: usize,
    /// Joint partial R^2 of the spend terms.
    pub partial_r2: f64,
    /// Adjusted partial R^2: 1 - (1 - R^2) df_r / df_f.
    pub partial_r2_adjusted: f64,
    /// Permutation p-value.
    pub p_value: f64,
    /// Permutations drawn.
    pub permutations: usize,
    /// Per channel: chosen alpha index, single partial R^2, unique R^2, p-value.
    pub chosen: Vec<usize>,
    /// Per channel single-channel partial R^2.
    pub single: Vec<f64>,
    /// Per channel drop in joint partial R^2 when left out.
    pub unique: Vec<f64>,
    /// Per channel permutation p-value of its unique contribution.
    pub channel_p: Vec<f64>,
}

/// Permutations planned for a per-control threshold: at least `min`, and enough that the
/// smallest attainable p-value 1 / (B + 1) is at most half the threshold.
pub fn planned_permutations(threshold: f64, min: usize) -> usize {
    let needed = (2.0 / threshold).ceil() as usize;
    needed.saturating_sub(1).max(min)
}

/// Permutation test of a [`Problem`]: each channel's candidate columns are shifted circularly
/// by an independent uniform shift in [min_shift, n - min_shift] (ChaCha8 of `settings.seed`,
/// stream `stream`), which keeps each series' autocorrelation and breaks its alignment with
/// the control; the alpha choice is redone in every permutation. Stops after
/// `stop_after_exceedances` permutations reach the observed statistic (Besag & Clifford 1991:
/// p = h / L), otherwise p = (g + 1) / (B + 1). Each channel's own p-value tests its unique
/// contribution: only its series is shifted, the others stay as observed.
pub fn permutation_test(
    problem: &Problem,
    threshold: f64,
    settings: &CausalSettings,
    stream: u64,
) -> TestResult {
    let channels = problem.candidates.len();
    let n = problem.y.len();
    let observed = problem.statistic(&vec![0; channels]);
    let planned = planned_permutations(threshold, settings.min_permutations);
    let mut rng = ChaCha8Rng::seed_from_u64(settings.seed);
    rng.set_stream(stream);
    let lo = settings.min_shift.clamp(1, n / 2);
    let p_value = sequential_p(planned, settings.stop_after_exceedances, || {
        let shifts: Vec<usize> = (0..channels)
            .map(|_| rng.random_range(lo..=n - lo))
            .collect();
        problem.statistic(&shifts).joint >= observed.joint
    });
    let channel_p: Vec<f64> = (0..channels)
        .map(|c| {
            let stop = settings.stop_after_exceedances;
            sequential_p(settings.min_permutations, stop, || {
                let s = rng.random_range(lo..=n - lo);
                problem.joint_with(&observed.chosen, c, s) >= observed.joint
            })
            .0
        })
        .collect();
    let rank = problem.basis.rank();
    let (df_r, df_f) = (n - rank, n - rank - channels);
    TestResult {
        periods: n,
        restricted_columns: rank,
        partial_r2: observed.joint,
        partial_r2_adjusted: 1.0 - (1.0 - observed.joint) * df_r as f64 / df_f as f64,
        p_value: p_value.0,
        permutations: p_value.1,
        unique: problem.unique_r2(&observed.chosen).1,
        channel_p,
        chosen: observed.chosen,
        single: observed.single,
    }
}

/// Sequential Monte Carlo p-value (Besag & Clifford 1991) of up to `planned` draws of
/// `exceeds` (a permutation statistic at least the observed one): p = h / L when the h-th
/// exceedance comes at draw L, otherwise (g + 1) / (planned + 1). Returns (p, draws).
fn sequential_p(planned: usize, h: usize, mut exceeds: impl FnMut() -> bool) -> (f64, usize) {
    let (mut g, mut drawn) = (0, 0);
    while drawn < planned && g < h {
        g += usize::from(exceeds());
        drawn += 1;
    }
    if g >= h {
        (g as f64 / drawn as f64, drawn)
    } else {
        ((g + 1) as f64 / (drawn + 1) as f64, drawn)
    }
}

/// Holm's step-down correction: which p-values are below `level`.
fn holm(p: &[f64], level: f64) -> Vec<bool> {
    let mut order: Vec<usize> = (0..p.len()).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut out = vec![false; p.len()];
    for (rank, &i) in order.iter().enumerate() {
        if p[i] >= level / (p.len() - rank) as f64 {
            break;
        }
        out[i] = true;
    }
    out
}

/// A [`TestResult`] as it is reported.
fn spend_test(
    r: &TestResult,
    channel_names: &[String],
    threshold: f64,
    settings: &CausalSettings,
) -> SpendTest {
    let named = holm(&r.channel_p, 0.05);
    let top = (0..r.single.len()).max_by(|&a, &b| r.single[a].total_cmp(&r.single[b]));
    let mut channels: Vec<ChannelSignal> = (0..r.single.len())
        .map(|c| ChannelSignal {
            channel: channel_names[c].clone(),
            alpha: settings.alphas[r.chosen[c]],
            partial_r2: r.single[c],
            unique_r2: r.unique[c],
            p_value: r.channel_p[c],
            named: named[c] || (!named.contains(&true) && Some(c) == top),
        })
        .collect();
    channels.sort_by(|a, b| b.partial_r2.total_cmp(&a.partial_r2));
    SpendTest {
        periods: r.periods,
        restricted_columns: r.restricted_columns,
        partial_r2: r.partial_r2,
        partial_r2_adjusted: r.partial_r2_adjusted,
        p_value: r.p_value,
        permutations: r.permutations,
        threshold,
        significant: r.p_value < threshold && r.partial_r2_adjusted >= settings.min_partial_r2,
        channels,
    }
}

/// One control's series and what its tests regress it on (training window).
pub struct ControlInput<'a> {
    /// The control.
    pub control: &'a [f64],
    /// Baseline columns: seasonal, trend, events, level shifts.
    pub baseline: &'a [Vec<f64>],
    /// Channel spend, spec order.
    pub spend: &'a [Vec<f64>],
    /// Pre-window spend per channel (may be empty).
    pub carry_in: &'a [Vec<f64>],
}

/// Candidate columns: per channel, its adstock at each alpha, lagged `lag`, at `rows`.
fn candidates(
    input: &ControlInput<'_>,
    settings: &CausalSettings,
    lag: usize,
    rows: std::ops::Range<usize>,
) -> Vec<Vec<Vec<f64>>> {
    (0..input.spend.len())
        .map(|c| {
            let carry = input.carry_in.get(c).map_or(&[][..], Vec::as_slice);
            settings
                .alphas
                .iter()
                .map(|&a| adstock_at(&input.spend[c], carry, a, settings.l_max, lag, rows.clone()))
                .collect()
        })
        .collect()
}

/// First row of the regressions: the adstock of every row has its whole window (carry-in
/// counts), so a ramp from zero at the start cannot line up with a trending control.
fn first_row(input: &ControlInput<'_>, settings: &CausalSettings) -> usize {
    let carry = input.carry_in.iter().map(Vec::len).min().unwrap_or(0);
    settings.l_max.saturating_sub(carry)
}

/// Regressions of control_t on [1, control_{t-1}, ..., control_{t-lags}, baseline_t]
/// (restricted), plus each of `input.spend`'s adstock lagged `lag` periods (full).
fn own_lag_problem(
    input: &ControlInput<'_>,
    settings: &CausalSettings,
    lags: usize,
    lag: usize,
) -> Result<Problem, String> {
    let n = input.control.len();
    let first = first_row(input, settings).max(lags);
    if n <= first {
        return Err("too few periods".into());
    }
    let restricted: Vec<Vec<f64>> = (1..=lags)
        .map(|l| (first..n).map(|t| input.control[t - l]).collect())
        .chain(input.baseline.iter().map(|b| b[first..n].to_vec()))
        .collect();
    Problem::new(
        &input.control[first..],
        &restricted,
        candidates(input, settings, lag, first..n),
    )
}

/// The post-treatment (lagged, Granger 1969) test's regressions: control_t on [1, control_{t-1},
/// ..., control_{t-L}, baseline_t] (restricted), plus each channel's adstock_{t-1} (full). A
/// series that drives spend is not predicted by past spend beyond its own past; a mediator
/// keeps responding to past spend through carry-over.
pub fn lagged_problem(
    input: &ControlInput<'_>,
    settings: &CausalSettings,
) -> Result<Problem, String> {
    own_lag_problem(input, settings, settings.own_lags, 1)
}

/// The flight test's regressions: control_t on [1, control_{t-1}, ..., control_{t-L},
/// baseline_t] (restricted, L = `flight_own_lags`), plus the adstock at t of each flighted
/// channel's on/off indicator (full); `input.spend` holds the indicators ([`on_off_split`]).
/// When a flight starts a mediator jumps beyond what its own past predicts, and after it ends
/// it decays with the channel's carry-over. A series that drives spend levels does not follow
/// the flight calendar once seasonality is removed, unless flights are timed by it.
pub fn flight_problem(
    input: &ControlInput<'_>,
    settings: &CausalSettings,
) -> Result<Problem, String> {
    own_lag_problem(input, settings, settings.flight_own_lags, 0)
}

/// A channel's split into off and on periods by Otsu's (1979) criterion on log spend: of the
/// splits of the sorted values of log(x + 0.001 max x) that leave at least `min_share` of the
/// periods on each side (ties never split), the one with the largest between-group variance
/// w_off w_on (mean_on - mean_off)^2. Returns (threshold, separation): the largest off spend
/// and the between-group share of the log-spend variance (about 2 / pi = 0.64 for log-normal
/// spend without flights, near 1 for clear flights). None for spend that never varies.
pub fn on_off_split(x: &[f64], min_share: f64) -> Option<(f64, f64)> {
    let max = x.iter().fold(0.0_f64, |m, v| m.max(*v));
    if !(max > 0.0 && max.is_finite()) {
        return None;
    }
    let mut v: Vec<(f64, f64)> = x
        .iter()
        .map(|&xi| ((xi.max(0.0) + 1e-3 * max).ln(), xi))
        .collect();
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = v.len();
    let total: f64 = v.iter().map(|p| p.0).sum();
    let mean = total / n as f64;
    let tss = v.iter().map(|p| (p.0 - mean).powi(2)).sum::<f64>() / n as f64;
    let min_k = ((min_share * n as f64).ceil() as usize).max(1);
    let (mut best, mut cum) = (None::<(f64, f64)>, 0.0);
    for k in 1..n {
        cum += v[k - 1].0;
        if k < min_k || n - k < min_k || v[k].0 <= v[k - 1].0 {
            continue;
        }
        let (w0, w1) = (k as f64 / n as f64, (n - k) as f64 / n as f64);
        let gap = (total - cum) / (n - k) as f64 - cum / k as f64;
        let between = w0 * w1 * gap * gap;
        if best.is_none_or(|(b, _)| between > b) {
            best = Some((between, v[k - 1].1));
        }
    }
    best.filter(|_| tss > 0.0).map(|(b, t)| (t, b / tss))
}

/// Each channel's [`ChannelSchedule`] over the training spend.
pub fn schedules(
    names: &[String],
    spend: &[Vec<f64>],
    settings: &CausalSettings,
) -> Vec<ChannelSchedule> {
    names
        .iter()
        .zip(spend)
        .map(|(name, x)| {
            let split = on_off_split(x, settings.min_flight_share);
            let threshold = split.map(|s| s.0);
            let off = threshold.map_or(0, |t| x.iter().filter(|v| **v <= t).count());
            let separation = split.map_or(0.0, |s| s.1);
            ChannelSchedule {
                channel: name.clone(),
                flighted: split.is_some() && separation >= settings.flight_separation,
                off_periods: off,
                on_periods: x.len() - off,
                threshold,
                separation,
            }
        })
        .collect()
}

/// The on/off indicator (1 when spend is above the schedule's threshold) of a flighted channel.
fn indicator(x: &[f64], s: &ChannelSchedule) -> Vec<f64> {
    let t = s.threshold.unwrap_or(f64::INFINITY);
    x.iter().map(|v| f64::from(u8::from(*v > t))).collect()
}

/// The `flight_basis` text.
fn flight_basis(schedules: &[ChannelSchedule]) -> String {
    let list = |on: bool| -> String {
        let names: Vec<&str> = schedules
            .iter()
            .filter(|s| s.flighted == on)
            .map(|s| s.channel.as_str())
            .collect();
        names.join(", ")
    };
    let (flighted, always) = (list(true), list(false));
    if flighted.is_empty() {
        "no channel has off periods (spend clearly below its flights in at least a tenth of \
         the periods): the flight test did not run, and only the lagged test can flag a control"
            .into()
    } else if always.is_empty() {
        format!("on/off schedules of {flighted}")
    } else {
        format!(
            "on/off schedules of {flighted}; {always} have no off periods, carry no schedule \
             information and are seen by the lagged and contemporaneous tests only"
        )
    }
}

/// The association test's regressions: control_t on [1, baseline_t] (restricted), plus each
/// channel's adstock_t, this period's spend included (full).
pub fn contemporaneous_problem(
    input: &ControlInput<'_>,
    settings: &CausalSettings,
) -> Result<Problem, String> {
    let n = input.control.len();
    let first = first_row(input, settings);
    if n <= first {
        return Err("too few periods".into());
    }
    let restricted: Vec<Vec<f64>> = input
        .baseline
        .iter()
        .map(|b| b[first..n].to_vec())
        .collect();
    Problem::new(
        &input.control[first..],
        &restricted,
        candidates(input, settings, 0, first..n),
    )
}

/// What a role means for the channel effects.
pub fn role_meaning(role: ControlRole) -> &'static str {
    match role {
        ControlRole::Confounder => {
            "confounder: a common cause of spend and the target (a demand proxy, competitor \
             activity). It must stay in the model; channel effects are estimated conditional \
             on it, so they exclude the demand it stands for."
        }
        ControlRole::Precision => {
            "precision: explains the target but not spend (weather, a holiday planners ignore). \
             It narrows intervals; it is not needed for unbiased channel effects, so dropping it \
             costs precision, not bias."
        }
        ControlRole::Unspecified => {
            "unspecified: declare role = \"confounder\" if it drives spend and the target (it \
             must then stay) or role = \"precision\" if it explains the target only; if spend \
             moves it, it is a mediator and belongs under [[mediators]] (docs/causal.md)."
        }
    }
}

/// A p-value for people: two decimals, or two significant digits below 0.01.
pub fn fmt_p(p: f64) -> String {
    if p >= 0.01 {
        format!("{p:.2}")
    } else {
        let digits = (-p.log10()).floor() as usize + 2;
        let s = format!("{p:.digits$}");
        s.trim_end_matches('0').to_owned()
    }
}

/// `[[mediators]]` with the channels, as the messages suggest it.
fn mediator_fix(channels: &[&str]) -> String {
    let quoted: Vec<String> = channels.iter().map(|c| format!("\"{c}\"")).collect();
    format!(
        "[[mediators]] with channels = [{}] (docs/causal.md)",
        quoted.join(", ")
    )
}

/// The warning of a control that earlier spend predicts.
pub fn post_treatment_message(
    control: &str,
    role: ControlRole,
    channels: &[&str],
    partial_r2: f64,
    p: f64,
) -> String {
    let list = channels.join(", ");
    let fix = mediator_fix(channels);
    let stats = format!("partial R^2 {partial_r2:.2}, p = {}", fmt_p(p));
    match role {
        ControlRole::Confounder => format!(
            "control '{control}' is declared role = \"confounder\" but is predicted by earlier \
             spend on {list} ({stats}): a confounder drives spend and should not respond to it. \
             If spend moves it, it is a mediator and controlling for it blocks part of those \
             channels' effect: declare it under {fix}; keep it as a confounder only if spend \
             anticipates it (planners act on forecasts of it)."
        ),
        _ => format!(
            "control '{control}' is predicted by earlier spend on {list} ({stats}): it may be \
             a mediator; controlling for it blocks part of those channels' effect. Declare it \
             under {fix} or drop it."
        ),
    }
}

/// The warning of a control that follows the flight schedules ([`flight_problem`]), naming the
/// channels the flight test names.
pub fn flight_message(control: &str, role: ControlRole, test: &SpendTest) -> String {
    let names = named_channels(test);
    let channels: Vec<&str> = names.iter().map(String::as_str).collect();
    let list = channels.join(", ");
    let fix = mediator_fix(&channels);
    let stats = format!(
        "partial R^2 {:.2}, p = {}",
        test.partial_r2,
        fmt_p(test.p_value)
    );
    match role {
        ControlRole::Confounder => format!(
            "control '{control}' is declared role = \"confounder\" but follows the flight \
             schedule of {list}: it rises when their flights start and falls back after they \
             end ({stats}). If spend moves it, it is a mediator and controlling for it blocks \
             part of those channels' effect: declare it under {fix}; keep it as a confounder \
             only if the flights are timed by it."
        ),
        _ => format!(
            "control '{control}' follows the flight schedule of {list}: it rises when their \
             flights start and falls back after they end ({stats}), which a series that only \
             drives spend does not do. It may be a mediator; controlling for it blocks part of \
             those channels' effect. Declare it under {fix} or drop it."
        ),
    }
}

/// The note of a control that moves with spend in the same periods but is not flagged; None
/// for a declared confounder (expected of one).
pub fn role_note(
    control: &str,
    role: ControlRole,
    channels: &[&str],
    partial_r2: f64,
    p: f64,
) -> Option<String> {
    let list = channels.join(", ");
    let fix = mediator_fix(channels);
    let stats = format!("partial R^2 {partial_r2:.2}, p = {}", fmt_p(p));
    match role {
        ControlRole::Confounder => None,
        ControlRole::Precision => Some(format!(
            "control '{control}' is declared role = \"precision\" but moves with spend on {list} \
             in the same periods ({stats}): a precision control explains the target only. If it \
             drives spend it is a confounder (role = \"confounder\"); if spend moves it, a \
             mediator ({fix})."
        )),
        ControlRole::Unspecified => Some(format!(
            "control '{control}' moves with spend on {list} in the same periods ({stats}), but \
             earlier spend does not predict it beyond its own past: either it drives spend (a \
             demand proxy: declare role = \"confounder\" and keep it) or spend moves it within \
             the period (a mediator: declare it under {fix}). The timing in these data cannot \
             tell which."
        )),
    }
}

/// The missing-confounder note of a channel.
pub fn confounder_note(channel: &str, r: f64) -> String {
    format!(
        "spend on {channel} follows the target's seasonality (r = {r:.2}) and no control is \
         marked role = \"confounder\": if a demand proxy exists (search trends, category \
         sales), add it with role = \"confounder\"; otherwise this channel's effect may include \
         demand it chases."
    )
}

/// Seasonal columns over all periods: the design's `fourier[..]` columns, or yearly Fourier
/// terms of order 2 from the dates when the design has none and the training window covers a
/// year (`fourier_terms(day of year, 365.25, 2)`, as the features stage builds them).
pub fn seasonal_columns(design: &Design, period_days: u32) -> (Vec<Vec<f64>>, &'static str) {
    let own: Vec<Vec<f64>> = design
        .regressor_names
        .iter()
        .zip(&design.regressors)
        .filter(|(n, _)| n.starts_with("fourier["))
        .map(|(_, v)| v.clone())
        .collect();
    if !own.is_empty() {
        return (own, "design");
    }
    if (design.n_train as f64) * (period_days as f64) < 365.0 {
        return (Vec::new(), "none");
    }
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    let terms: Vec<Vec<f64>> = design
        .dates
        .iter()
        .map(|d| {
            let date = epoch + chrono::Duration::days(*d as i64);
            fourier_terms(date.ordinal() as f64, 365.25, 2)
        })
        .collect();
    let cols = (0..4)
        .map(|k| terms.iter().map(|t| t[k]).collect())
        .collect();
    (cols, "yearly order 2")
}

/// Design columns of the trend, events and level shifts.
fn trend_columns(design: &Design) -> Vec<Vec<f64>> {
    design
        .regressor_names
        .iter()
        .zip(&design.regressors)
        .filter(|(n, _)| {
            ["trend[", "event[", "level_shift["]
                .iter()
                .any(|p| n.starts_with(p))
        })
        .map(|(_, v)| v.clone())
        .collect()
}

/// The target's seasonal shape over the training window: the seasonal part of regressing the
/// scaled target on [1, trend, seasonal], computed as the residual after [1, trend] minus the
/// residual after [1, trend, seasonal] (Frisch-Waugh-Lovell: the seasonal fit net of the
/// trend).
pub fn seasonal_shape(target: &[f64], trend: &[Vec<f64>], seasonal: &[Vec<f64>]) -> Vec<f64> {
    let ones = vec![1.0; target.len()];
    let mut basis =
        Basis::new(std::iter::once(ones.as_slice()).chain(trend.iter().map(Vec::as_slice)));
    let without = basis.residual(target);
    for s in seasonal {
        basis.push(s);
    }
    let with = basis.residual(target);
    without.iter().zip(&with).map(|(a, b)| a - b).collect()
}

/// What the tests of every control share.
struct Shared<'a> {
    /// All channels, spec order.
    channel_names: &'a [String],
    /// The flighted channels, spec order.
    flighted: Vec<String>,
    /// Their on/off indicators over the training window, and over the carry-in.
    indicators: Vec<Vec<f64>>,
    indicator_carry: Vec<Vec<f64>>,
    /// The `flight_basis` text.
    basis: String,
    /// Per-control p-value threshold.
    threshold: f64,
    settings: &'a CausalSettings,
}

impl<'a> Shared<'a> {
    /// The flighted channels' indicators (training window and carry-in) from `schedules`.
    fn new(
        channel_names: &'a [String],
        schedules: &[ChannelSchedule],
        spend: &[Vec<f64>],
        carry: &[Vec<f64>],
        settings: &'a CausalSettings,
    ) -> Self {
        let on: Vec<usize> = (0..schedules.len())
            .filter(|&c| schedules[c].flighted)
            .collect();
        let empty = Vec::new();
        Self {
            channel_names,
            flighted: on.iter().map(|&c| channel_names[c].clone()).collect(),
            indicators: on
                .iter()
                .map(|&c| indicator(&spend[c], &schedules[c]))
                .collect(),
            indicator_carry: on
                .iter()
                .map(|&c| indicator(carry.get(c).unwrap_or(&empty), &schedules[c]))
                .collect(),
            basis: flight_basis(schedules),
            threshold: settings.family_alpha,
            settings,
        }
    }

    fn with_threshold(self, threshold: f64) -> Self {
        Self { threshold, ..self }
    }
}

/// The channels a significant test names.
fn named_channels(t: &SpendTest) -> Vec<String> {
    t.channels
        .iter()
        .filter(|c| c.named)
        .map(|c| c.channel.clone())
        .collect()
}

/// The flight test of one control (None without flighted channels or when it cannot run).
fn run_flight(input: &ControlInput<'_>, sh: &Shared<'_>, stream: u64) -> Option<SpendTest> {
    if sh.flighted.is_empty() {
        return None;
    }
    let on_off = ControlInput {
        spend: &sh.indicators,
        carry_in: &sh.indicator_carry,
        ..*input
    };
    let problem = flight_problem(&on_off, sh.settings).ok()?;
    let r = permutation_test(&problem, sh.threshold, sh.settings, stream);
    Some(spend_test(&r, &sh.flighted, sh.threshold, sh.settings))
}

/// The spend tests of one control (index `i` picks the permutation streams), with its
/// messages.
fn test_control(
    control: &str,
    role: ControlRole,
    input: Option<&ControlInput<'_>>,
    sh: &Shared<'_>,
    i: u64,
) -> PostTreatment {
    let mut row = PostTreatment {
        control: control.into(),
        role,
        tested: false,
        skipped: None,
        lagged: None,
        contemporaneous: None,
        flight: None,
        flight_basis: sh.basis.clone(),
        flagged: false,
        message: None,
        moves_with_spend: false,
        note: None,
    };
    let Some(input) = input else {
        row.skipped = Some("not a column of the design".into());
        return row;
    };
    let problems = lagged_problem(input, sh.settings)
        .and_then(|l| Ok((l, contemporaneous_problem(input, sh.settings)?)));
    let (lagged, same) = match problems {
        Ok(p) => p,
        Err(why) => {
            row.skipped = Some(why);
            return row;
        }
    };
    let run = |p: &Problem, s: u64| {
        let r = permutation_test(p, sh.threshold, sh.settings, s);
        spend_test(&r, sh.channel_names, sh.threshold, sh.settings)
    };
    let stream = 5_000_000 + 2 * i;
    let (lagged, same) = (run(&lagged, stream), run(&same, stream + 1));
    let flight = run_flight(input, sh, 6_000_000 + i);
    let by_flight = flight.as_ref().is_some_and(|f| f.significant);
    row.tested = true;
    row.flagged = lagged.significant || by_flight;
    row.moves_with_spend = same.significant;
    row.message = match (&flight, lagged.significant) {
        (Some(f), _) if f.significant => Some(flight_message(control, role, f)),
        // The same-period test names the channels more sharply when it counts too.
        (_, true) => {
            let n = named_channels(if same.significant { &same } else { &lagged });
            let n: Vec<&str> = n.iter().map(String::as_str).collect();
            let (r2, p) = (lagged.partial_r2, lagged.p_value);
            Some(post_treatment_message(control, role, &n, r2, p))
        }
        _ => None,
    };
    if !row.flagged && row.moves_with_spend {
        let n = named_channels(&same);
        let n: Vec<&str> = n.iter().map(String::as_str).collect();
        row.note = role_note(control, role, &n, same.partial_r2, same.p_value);
    }
    row.lagged = Some(lagged);
    row.contemporaneous = Some(same);
    row.flight = flight;
    row
}

/// Every check on a design: each control's spend tests (declared mediators are not controls
/// and are not tested), each channel's correlation with the target's seasonal shape with the
/// missing-confounder note, and the control roles.
pub fn check(spec: &Spec, design: &Design, settings: &CausalSettings) -> CausalChecks {
    let nt = design.n_train;
    let train = |v: &[f64]| v[..nt.min(v.len())].to_vec();
    let (seasonal_all, seasonal_basis) = seasonal_columns(design, spec.data.period_days);
    let seasonal: Vec<Vec<f64>> = seasonal_all.iter().map(|v| train(v)).collect();
    let trend: Vec<Vec<f64>> = trend_columns(design).iter().map(|v| train(v)).collect();
    let baseline: Vec<Vec<f64>> = seasonal.iter().chain(&trend).cloned().collect();
    let spend: Vec<Vec<f64>> = design.channels.iter().map(|v| train(v)).collect();
    let carry: Vec<Vec<f64>> = (0..spend.len())
        .map(|c| design.carry_in.channel(c).to_vec())
        .collect();
    let columns: Vec<Option<Vec<f64>>> = spec
        .controls
        .iter()
        .map(|c| {
            let name = format!("control[{}]", c.name);
            design
                .regressor_names
                .iter()
                .position(|n| *n == name)
                .map(|k| train(&design.regressors[k]))
        })
        .collect();
    let tested = columns.iter().filter(|c| c.is_some()).count().max(1);
    let schedules = schedules(&design.channel_names, &spend, settings);
    let shared = Shared::new(&design.channel_names, &schedules, &spend, &carry, settings)
        .with_threshold(settings.family_alpha / tested as f64);
    let post_treatment: Vec<PostTreatment> =
        mmm_core::parallel::map_indexed(columns.len(), 1, |i| {
            let c = &spec.controls[i];
            let input = columns[i].as_ref().map(|control| ControlInput {
                control,
                baseline: &baseline,
                spend: &spend,
                carry_in: &carry,
            });
            test_control(&c.name, c.role, input.as_ref(), &shared, i as u64)
        });
    let confounder_declared = spec
        .controls
        .iter()
        .any(|c| c.role == ControlRole::Confounder);
    let shape = seasonal_shape(&train(&design.target_scaled), &trend, &seasonal);
    let seasonal_spend = seasonal_spend(
        &design.channel_names,
        &spend,
        (!seasonal.is_empty()).then_some(shape.as_slice()),
        confounder_declared,
        settings,
    );
    CausalChecks {
        method: method(settings, seasonal_basis),
        settings: settings.clone(),
        seasonal_basis: seasonal_basis.into(),
        roles: spec
            .controls
            .iter()
            .map(|c| ControlRoleRow {
                control: c.name.clone(),
                role: c.role,
                meaning: role_meaning(c.role).into(),
            })
            .collect(),
        mediators: spec.mediators.iter().map(|m| m.name.clone()).collect(),
        warnings: post_treatment
            .iter()
            .filter_map(|p| p.message.clone())
            .collect(),
        notes: post_treatment
            .iter()
            .filter_map(|p| p.note.clone())
            .chain(seasonal_spend.iter().filter_map(|s| s.note.clone()))
            .collect(),
        post_treatment,
        seasonal_spend,
        schedules,
        confounder_declared,
    }
}

/// Each channel's spend against the target's seasonal `shape` (None without seasonal terms),
/// with the missing-confounder note.
fn seasonal_spend(
    names: &[String],
    spend: &[Vec<f64>],
    shape: Option<&[f64]>,
    confounder_declared: bool,
    settings: &CausalSettings,
) -> Vec<SeasonalSpend> {
    names
        .iter()
        .zip(spend)
        .map(|(name, x)| {
            let r = shape.and_then(|shape| correlation(x, shape));
            let follows = r.is_some_and(|r| r.abs() >= settings.seasonal_correlation);
            SeasonalSpend {
                channel: name.clone(),
                correlation: r,
                follows_seasonality: follows,
                note: r
                    .filter(|_| follows && !confounder_declared)
                    .map(|r| confounder_note(name, r)),
            }
        })
        .collect()
}

/// The `method` text.
fn method(s: &CausalSettings, seasonal_basis: &str) -> String {
    let alphas = s
        .alphas
        .iter()
        .map(|a| format!("{a}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "Three least-squares tests per control over the training window. Flight \
         (post-treatment) test: channels whose spend splits into off and on periods (Otsu's \
         criterion on log(spend + 0.001 max): the between-group share of the log-spend variance \
         >= {sep}, each group >= {share} of the periods) are flighted; control_t regressed on \
         [1, its own lags 1..{flags}, the baseline columns below] (restricted) and on the same \
         plus the adstock at t of each flighted channel's on/off indicator (full). A mediator \
         jumps when a flight starts and decays after it ends; a series that drives spend levels \
         does not follow the flight calendar once seasonality is removed, unless flights are \
         timed by it. Channels without off periods carry no schedule information \
         (flight_basis). Lagged (post-treatment) test: control_t regressed on [1, its own lags \
         1..{lags}, seasonal terms ({seasonal_basis}), trend, event and level-shift columns] \
         (restricted) and on the same plus each channel's geometric adstock at t-1 (full); a \
         series that drives spend is not predicted by past spend beyond its own past, while a \
         mediator keeps responding to past spend through carry-over. Contemporaneous \
         (association) test: control_t on [1, the same baseline columns] and on the same plus \
         each channel's adstock at t, this period's spend included; it fires on mediators and \
         on series that drive spend alike. In all: adstock sum_(l<{l_max}) alpha^l x_(t-l) with \
         alpha per channel the one of {{{alphas}}} with the largest single-channel partial R^2; \
         statistic partial R^2 = (RSS_r - RSS_f) / RSS_r, adjusted = 1 - (1 - R^2) df_r / \
         df_f; p-value from permutations that shift each channel's adstock (or indicator \
         adstock) series circularly by an independent uniform shift in [{shift}, n - {shift}] \
         periods, the alpha choice redone (ChaCha8 of the seed, streams 5,000,000 + 2 x \
         control index and + 1, 6,000,000 + control index for the flight test), at least \
         {min_b} and up to 2 / threshold permutations, stopped after {h} reach the observed \
         statistic (Besag & Clifford 1991). A test counts when p < {fa} / controls tested \
         (Bonferroni) and adjusted partial R^2 >= {r2}; a control is flagged on the flight or \
         the lagged test, and asked for a role when only the contemporaneous test counts. \
         Channels named: the p-value of a channel's unique contribution (only its series \
         shifted, the others as observed, up to {min_b} shifts) < 0.05 after Holm's correction \
         (the strongest when none), from the flight test when it flags, else the \
         contemporaneous test when it counts, else the lagged one. Seasonal spend: Pearson r \
         over the training window between each channel's spend and the target's seasonal shape \
         (the seasonal part of the scaled target regressed on [1, trend, seasonal terms]); a \
         note when |r| >= {rs} and no control has role = \"confounder\".",
        lags = s.own_lags,
        l_max = s.l_max,
        shift = s.min_shift,
        min_b = s.min_permutations,
        h = s.stop_after_exceedances,
        fa = s.family_alpha,
        r2 = s.min_partial_r2,
        rs = s.seasonal_correlation,
        sep = s.flight_separation,
        share = s.min_flight_share,
        flags = s.flight_own_lags,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Partial R^2 of one column: (z'y)^2 / (z'z y'y), z and y residualized on the same
    /// restricted regression.
    fn single_r2(z: &[f64], y: &[f64]) -> f64 {
        let (zz, yy) = (dot(z, z), dot(y, y));
        if zz <= 0.0 || yy <= 0.0 {
            return 0.0;
        }
        dot(z, y).powi(2) / (zz * yy)
    }

    /// Row i of `col` shifted circularly by `s`: col[(i + s) mod n].
    fn shifted(col: &[f64], s: usize) -> Vec<f64> {
        (0..col.len()).map(|i| col[(i + s) % col.len()]).collect()
    }

    /// The precomputed shift algebra equals regressing on the shifted columns directly.
    #[test]
    fn shifted_statistic_equals_direct_regression() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let n = 60;
        let mut draw = || {
            (0..n)
                .map(|_| rng.random_range(-1.0..1.0))
                .collect::<Vec<f64>>()
        };
        let y = draw();
        let restricted = vec![draw(), draw()];
        let candidates: Vec<Vec<Vec<f64>>> = (0..3).map(|_| vec![draw(), draw()]).collect();
        let problem = Problem::new(&y, &restricted, candidates.clone()).expect("problem");
        for shifts in [[0, 0, 0], [7, 30, 52], [13, 13, 1]] {
            let fast = problem.statistic(&shifts);
            let cols: Vec<Vec<f64>> = candidates
                .iter()
                .zip(&shifts)
                .zip(&fast.chosen)
                .map(|((c, &s), &a)| problem.basis.residual(&shifted(&c[a], s)))
                .collect();
            for ((c, &s), single) in candidates.iter().zip(&shifts).zip(&fast.single) {
                let best = c
                    .iter()
                    .map(|z| single_r2(&problem.basis.residual(&shifted(z, s)), &problem.y))
                    .fold(f64::NEG_INFINITY, f64::max);
                assert!((best - single).abs() < 1e-10, "{best} vs {single}");
            }
            let joint = Basis::new(cols.iter().map(Vec::as_slice)).explained(&problem.y);
            assert!(
                (joint - fast.joint).abs() < 1e-10,
                "{joint} vs {}",
                fast.joint
            );
        }
    }

    /// Flights (zeros or a low floor between bursts) split at the floor; log-normal spend
    /// without flights and constant spend do not count as flighted.
    #[test]
    fn on_off_split_finds_flights_only() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        let settings = CausalSettings::default();
        let mut normal = || -> f64 { (0..12).map(|_| rng.random_range(-0.5..0.5)).sum() };
        let bursts: Vec<f64> = (0..104)
            .map(|t| match (t / 5) % 3 {
                0 => 2.0,
                _ => 40.0 * (0.3 * normal()).exp(),
            })
            .collect();
        let (threshold, separation) = on_off_split(&bursts, 0.1).expect("split");
        assert_eq!(threshold, 2.0);
        assert!(separation >= settings.flight_separation, "{separation}");
        let zeros: Vec<f64> = bursts
            .iter()
            .map(|v| if *v == 2.0 { 0.0 } else { *v })
            .collect();
        assert_eq!(on_off_split(&zeros, 0.1).expect("split").0, 0.0);
        let always_on: Vec<f64> = (0..104).map(|_| 20.0 * (0.5 * normal()).exp()).collect();
        let separation = on_off_split(&always_on, 0.1).expect("split").1;
        assert!(separation < settings.flight_separation, "{separation}");
        assert!(on_off_split(&[3.0; 20], 0.1).is_none());
        let names: Vec<String> = ["bursts", "always"].map(String::from).to_vec();
        let s = schedules(&names, &[bursts, always_on], &settings);
        assert!(s[0].flighted && !s[1].flighted);
        assert_eq!(s[0].off_periods + s[0].on_periods, 104);
        assert_eq!(s[0].off_periods, 35);
        let basis = flight_basis(&s);
        assert!(
            basis.starts_with("on/off schedules of bursts; always have no off"),
            "{basis}"
        );
    }
}
