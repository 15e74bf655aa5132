//! Model weights from pointwise PSIS-LOO: stacking of predictive distributions (Yao, Vehtari,
//! Simpson & Gelman 2018, "Using stacking to average Bayesian predictive distributions",
//! Bayesian Analysis 13(3)), pseudo-BMA and pseudo-BMA+ (the same paper, section 3.3).
//!
//! The input is `elpd[k][i]`, the leave-one-out log predictive density of observation i under
//! model k (`LooSummary::pointwise_elpd_loo`), every model on the same observations. ArviZ's
//! `az.compare` computes the same three weightings (`method="stacking"`, `"pseudo-BMA"`,
//! `"BB-pseudo-BMA"`); stacking equals ArviZ's to its optimizer's tolerance (the golden test
//! `crates/mmm-diagnostics/tests/it/stacking.rs`), pseudo-BMA exactly.

use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;
use mmm_model::rand_distr::{Distribution, Exp1};
use serde::{Deserialize, Serialize};

/// Bayesian-bootstrap replicates of pseudo-BMA+ (ArviZ's default `b_samples`).
pub const BOOTSTRAP_DRAWS: usize = 1000;
/// Seed of the Bayesian bootstrap's random stream (ChaCha8), fixed so weights are reproducible.
pub const BOOTSTRAP_SEED: u64 = 20_180_601;
/// The stacking solver stops when the optimality conditions hold to this relative tolerance.
pub const KKT_TOLERANCE: f64 = 1e-12;
/// The most Newton iterations of the stacking solver.
const MAX_ITERATIONS: usize = 500;

/// Errors of the weight computations: the input cannot be weighted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WeightsError {
    /// No model was given.
    #[error("model weights need at least one model")]
    NoModels,
    /// The models have no observations.
    #[error("model weights need at least one observation")]
    NoObservations,
    /// A model has another number of observations than the first.
    #[error("model {model} has {len} pointwise elpd values, model 0 has {expected}")]
    Ragged {
        /// Index of the model.
        model: usize,
        /// Its number of values.
        len: usize,
        /// The first model's.
        expected: usize,
    },
    /// A pointwise elpd is NaN or infinite.
    #[error("model {model}, observation {observation}: pointwise elpd is {value}, not finite")]
    NotFinite {
        /// Index of the model.
        model: usize,
        /// Index of the observation.
        observation: usize,
        /// The value.
        value: f64,
    },
}

/// The three weightings of a set of models, each summing to 1, in the input's model order.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ModelWeights {
    /// Stacking weights: argmax over the simplex of sum_i log sum_k w_k exp(elpd_loo_{i,k}).
    pub stacking: Vec<f64>,
    /// Pseudo-BMA: w_k proportional to exp(elpd_loo_k).
    pub pseudo_bma: Vec<f64>,
    /// Pseudo-BMA+: pseudo-BMA averaged over Bayesian-bootstrap replicates of the observations.
    pub pseudo_bma_plus: Vec<f64>,
    /// Newton iterations the stacking solver took.
    pub stacking_iterations: usize,
    /// Largest violation of the stacking optimum's conditions, relative to the number of
    /// observations (|g_k / n - 1| for a model with weight, max(g_k / n - 1, 0) for one
    /// without, g the objective's gradient); below [`KKT_TOLERANCE`] when converged.
    pub stacking_kkt: f64,
    /// How the weights were computed.
    pub method: String,
}

/// Every weighting of the models whose pointwise elpd_loo are `elpd[k][i]`.
pub fn model_weights(elpd: &[Vec<f64>]) -> Result<ModelWeights, WeightsError> {
    let stacked = stacking_weights(elpd)?;
    Ok(ModelWeights {
        stacking: stacked.weights,
        pseudo_bma: pseudo_bma_weights(elpd)?,
        pseudo_bma_plus: pseudo_bma_plus_weights(elpd, BOOTSTRAP_DRAWS, BOOTSTRAP_SEED)?,
        stacking_iterations: stacked.iterations,
        stacking_kkt: stacked.kkt,
        method: format!(
            "from each run's pointwise PSIS-LOO elpd (Yao, Vehtari, Simpson & Gelman 2018): \
             stacking maximizes sum_i log sum_k w_k exp(elpd_loo_ik) over the simplex (Newton \
             with an active set, optimality conditions to {KKT_TOLERANCE:e} relative; equals \
             az.compare(method=\"stacking\") to its SLSQP tolerance); pseudo-BMA w_k \
             proportional to exp(elpd_loo_k) (az.compare method=\"pseudo-BMA\"); pseudo-BMA+ \
             the mean of pseudo-BMA weights of n sum_i u_i elpd_loo_ik over {BOOTSTRAP_DRAWS} \
             Bayesian-bootstrap draws u ~ Dirichlet(1, ..., 1) (ChaCha8, seed {BOOTSTRAP_SEED}; \
             az.compare method=\"BB-pseudo-BMA\" with its defaults up to Monte Carlo error)"
        ),
    })
}

/// Check that `elpd` is a non-empty, rectangular matrix of finite values; returns the number
/// of observations.
fn check(elpd: &[Vec<f64>]) -> Result<usize, WeightsError> {
    let n = elpd.first().ok_or(WeightsError::NoModels)?.len();
    if n == 0 {
        return Err(WeightsError::NoObservations);
    }
    for (model, row) in elpd.iter().enumerate() {
        if row.len() != n {
            return Err(WeightsError::Ragged {
                model,
                len: row.len(),
                expected: n,
            });
        }
        if let Some((observation, &value)) = row.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(WeightsError::NotFinite {
                model,
                observation,
                value,
            });
        }
    }
    Ok(n)
}

/// exp(x_k - max x) / sum_j exp(x_j - max x).
fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let total: f64 = e.iter().sum();
    e.iter().map(|v| v / total).collect()
}

/// Pseudo-BMA weights w_k = exp(elpd_k - max_j elpd_j) / sum_j exp(elpd_j - max elpd), with
/// elpd_k = sum_i elpd[k][i] (Yao et al. 2018 eq. 3.2 with the LOO estimate; ArviZ
/// `compare(method="pseudo-BMA")`, not recommended alone: it ignores the uncertainty of elpd).
pub fn pseudo_bma_weights(elpd: &[Vec<f64>]) -> Result<Vec<f64>, WeightsError> {
    check(elpd)?;
    let totals: Vec<f64> = elpd.iter().map(|row| row.iter().sum()).collect();
    Ok(softmax(&totals))
}

/// Pseudo-BMA+ weights (Yao et al. 2018 section 3.3, ArviZ `BB-pseudo-BMA`): for each of
/// `draws` Bayesian-bootstrap replicates u ~ Dirichlet(1, ..., 1) over the n observations,
/// z_k = n sum_i u_i elpd[k][i] and the softmax of z; the weights are the mean over replicates.
/// The Dirichlet draw is n independent Exp(1) variables over their sum, from ChaCha8 seeded
/// with `seed`. When every model's pointwise elpd differs from another's by the same constant
/// at every observation, z_k - z_j = elpd_k - elpd_j in every replicate, so the result equals
/// pseudo-BMA exactly; with `draws = 0` it is pseudo-BMA.
pub fn pseudo_bma_plus_weights(
    elpd: &[Vec<f64>],
    draws: usize,
    seed: u64,
) -> Result<Vec<f64>, WeightsError> {
    let n = check(elpd)?;
    if draws == 0 {
        return pseudo_bma_weights(elpd);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut sum = vec![0.0; elpd.len()];
    let mut u = vec![0.0; n];
    for _ in 0..draws {
        for v in u.iter_mut() {
            *v = Exp1.sample(&mut rng);
        }
        let total: f64 = u.iter().sum();
        let z: Vec<f64> = elpd
            .iter()
            .map(|row| n as f64 * row.iter().zip(&u).map(|(e, w)| e * w).sum::<f64>() / total)
            .collect();
        for (s, w) in sum.iter_mut().zip(softmax(&z)) {
            *s += w;
        }
    }
    Ok(sum.iter().map(|s| s / draws as f64).collect())
}

/// The stacking optimum found.
#[derive(Debug, Clone)]
pub struct Stacked {
    /// Weights, summing to 1, in the input's model order.
    pub weights: Vec<f64>,
    /// Newton iterations taken.
    pub iterations: usize,
    /// Largest relative violation of the optimality conditions (see [`ModelWeights`]).
    pub kkt: f64,
    /// The objective sum_i log sum_k w_k exp(elpd[k][i]) at the weights (log score).
    pub log_score: f64,
}

/// The stacking problem with each observation's densities divided by their largest:
/// e[i][k] = exp(elpd[k][i] - max_j elpd[j][i]) in (0, 1], so no row underflows.
struct Problem {
    e: Vec<Vec<f64>>,
    /// sum_i max_j elpd[j][i], added back to report the log score.
    offset: f64,
    models: usize,
}

impl Problem {
    fn new(elpd: &[Vec<f64>], n: usize) -> Self {
        let mut offset = 0.0;
        let e = (0..n)
            .map(|i| {
                let max = elpd.iter().map(|r| r[i]).fold(f64::NEG_INFINITY, f64::max);
                offset += max;
                elpd.iter().map(|r| (r[i] - max).exp()).collect()
            })
            .collect();
        Self {
            e,
            offset,
            models: elpd.len(),
        }
    }

    /// f(w) = sum_i ln(sum_k w_k e_ik) (minus the offset); -inf where a mixture density is 0.
    fn objective(&self, w: &[f64]) -> f64 {
        self.e.iter().map(|row| dot(row, w).ln()).sum()
    }

    /// Gradient g_k = sum_i e_ik / m_i and Hessian H_kl = -sum_i e_ik e_il / m_i^2 of f, with
    /// m_i = sum_k w_k e_ik.
    fn derivatives(&self, w: &[f64]) -> (Vec<f64>, Vec<Vec<f64>>) {
        let k = self.models;
        let mut g = vec![0.0; k];
        let mut h = vec![vec![0.0; k]; k];
        for row in &self.e {
            let m = dot(row, w);
            for a in 0..k {
                let ra = row[a] / m;
                g[a] += ra;
                for b in 0..=a {
                    h[a][b] -= ra * row[b] / m;
                }
            }
        }
        // Mirror the lower triangle: h[b][a] = h[a][b] for b < a.
        for a in 1..k {
            let (upper, lower) = h.split_at_mut(a);
            for (b, row_b) in upper.iter_mut().enumerate() {
                row_b[a] = lower[0][b];
            }
        }
        (g, h)
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Largest relative violation of the optimality conditions of max f over the simplex at `w`:
/// since sum_k w_k g_k = n at every w, the optimum has g_k = n where w_k > 0 and g_k <= n
/// where w_k = 0 (f is concave, so these conditions are also sufficient).
fn kkt_violation(w: &[f64], g: &[f64], n: usize) -> f64 {
    let n = n as f64;
    w.iter()
        .zip(g)
        .map(|(&wk, &gk)| {
            if wk > 0.0 {
                (gk / n - 1.0).abs()
            } else {
                (gk / n - 1.0).max(0.0)
            }
        })
        .fold(0.0, f64::max)
}

/// Stacking weights: the w on the simplex maximizing sum_i log sum_k w_k exp(elpd[k][i])
/// (Yao et al. 2018 eq. 4.1 with LOO densities; ArviZ `compare(method="stacking")`).
///
/// The objective is concave. It is maximized by Newton's method restricted to the models with
/// weight (the free set), each step solving the equality-constrained quadratic model
/// [-H_FF 1; 1' 0] [d; nu] = [g_F; 0] (a ridge of 1e-12 of the largest diagonal keeps it
/// solvable when two models predict alike), with a backtracking line search that stops at the
/// simplex's boundary, where the model that reaches 0 leaves the free set; a model without
/// weight whose gradient exceeds n rejoins it. Models with identical pointwise elpd are solved
/// as one and share its weight equally (the objective depends only on their sum; ArviZ's SLSQP,
/// started from equal weights, keeps them equal too). Stops when [`kkt_violation`] is below
/// [`KKT_TOLERANCE`] or after 500 iterations.
pub fn stacking_weights(elpd: &[Vec<f64>]) -> Result<Stacked, WeightsError> {
    let n = check(elpd)?;
    // Models with identical pointwise elpd enter the objective only through the sum of their
    // weights: solve over the distinct ones and split each one's weight equally.
    let (distinct, group) = distinct_models(elpd);
    let rows: Vec<Vec<f64>> = distinct.iter().map(|&k| elpd[k].clone()).collect();
    let p = Problem::new(&rows, n);
    let k = p.models;
    let mut w = vec![1.0 / k as f64; k];
    let mut iterations = 0;
    let mut kkt = f64::INFINITY;
    while iterations < MAX_ITERATIONS {
        let (g, h) = p.derivatives(&w);
        kkt = kkt_violation(&w, &g, n);
        if kkt < KKT_TOLERANCE {
            break;
        }
        iterations += 1;
        if !newton_step(&p, &mut w, &g, &h, n) {
            break;
        }
    }
    let sizes: Vec<usize> = (0..k)
        .map(|d| group.iter().filter(|&&g| g == d).count())
        .collect();
    Ok(Stacked {
        log_score: p.objective(&w) + p.offset,
        weights: group.iter().map(|&d| w[d] / sizes[d] as f64).collect(),
        iterations,
        kkt,
    })
}

/// The first model of each set of models with bitwise-identical pointwise elpd, and for every
/// model the index of its set in that list.
fn distinct_models(elpd: &[Vec<f64>]) -> (Vec<usize>, Vec<usize>) {
    let mut distinct: Vec<usize> = Vec::new();
    let group = elpd
        .iter()
        .enumerate()
        .map(
            |(k, row)| match distinct.iter().position(|&d| elpd[d] == *row) {
                Some(g) => g,
                None => {
                    distinct.push(k);
                    distinct.len() - 1
                }
            },
        )
        .collect();
    (distinct, group)
}

/// One iteration on `w`: release the model without weight whose gradient most exceeds n,
/// take the Newton direction on the free set (without the released model when the direction
/// would lower its weight) and a line search along it, else along the projected gradient;
/// false when no step improves the objective (the optimum within floating-point precision).
fn newton_step(p: &Problem, w: &mut [f64], g: &[f64], h: &[Vec<f64>], n: usize) -> bool {
    let free: Vec<usize> = (0..w.len()).filter(|&j| w[j] > 0.0).collect();
    let released = (0..w.len())
        .filter(|&j| w[j] == 0.0 && g[j] > n as f64 * (1.0 + KKT_TOLERANCE))
        .max_by(|&a, &b| g[a].total_cmp(&g[b]));
    if let Some(j) = released {
        let mut with = free.clone();
        with.push(j);
        with.sort_unstable();
        if let Some(d) = direction(&with, g, h).filter(|d| d[j] > 0.0) {
            return line_search(p, w, &d, g);
        }
    }
    if let Some(d) = direction(&free, g, h)
        && line_search(p, w, &d, g)
    {
        return true;
    }
    // Projected gradient on the free set: g_F minus its mean (sums to 0).
    let mean = free.iter().map(|&j| g[j]).sum::<f64>() / free.len().max(1) as f64;
    let mut d = vec![0.0; w.len()];
    for &j in &free {
        d[j] = g[j] - mean;
    }
    line_search(p, w, &d, g)
}

/// The Newton direction on `free`, zero elsewhere.
fn direction(free: &[usize], g: &[f64], h: &[Vec<f64>]) -> Option<Vec<f64>> {
    let d_free = newton_direction(free, g, h)?;
    let mut d = vec![0.0; g.len()];
    for (&j, &dj) in free.iter().zip(&d_free) {
        d[j] = dj;
    }
    Some(d)
}

/// The Newton direction restricted to `free`: the solution d of the quadratic model's
/// equality-constrained maximum, or `None` when the system is singular even with the ridge.
fn newton_direction(free: &[usize], g: &[f64], h: &[Vec<f64>]) -> Option<Vec<f64>> {
    let m = free.len();
    let scale = free.iter().map(|&j| -h[j][j]).fold(0.0, f64::max).max(1.0);
    let mut a = vec![vec![0.0; m + 1]; m + 1];
    let mut b = vec![0.0; m + 1];
    for (r, &jr) in free.iter().enumerate() {
        for (c, &jc) in free.iter().enumerate() {
            a[r][c] = -h[jr][jc];
        }
        a[r][r] += 1e-12 * scale;
        a[r][m] = 1.0;
        a[m][r] = 1.0;
        b[r] = g[jr];
    }
    let x = solve(a, b)?;
    Some(x[..m].to_vec())
}

/// Solve `a x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < f64::MIN_POSITIVE || !a[pivot][col].is_finite() {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let (top, rest) = a.split_at_mut(col + 1);
        let pivot_row = &top[col];
        for (r, row) in rest.iter_mut().enumerate() {
            let f = row[col] / pivot_row[col];
            for (x, p) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *x -= f * p;
            }
            b[col + 1 + r] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for r in (0..n).rev() {
        let s: f64 = (r + 1..n).map(|c| a[r][c] * x[c]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

/// Backtracking (Armijo) line search from `w` along `d` (which sums to 0), at most up to the
/// simplex's boundary, where weights that reach 0 are set to exactly 0; false when no step
/// increases the objective. The first (full) step is also taken when the objective does not
/// change within rounding, so Newton's last steps to the tolerance are not refused for an
/// increase smaller than the objective's precision.
fn line_search(p: &Problem, w: &mut [f64], d: &[f64], g: &[f64]) -> bool {
    let slope = dot(g, d);
    // Not an ascent direction (or NaN).
    if slope.is_nan() || slope <= 0.0 {
        return false;
    }
    let to_boundary = w
        .iter()
        .zip(d)
        .filter(|(_, dj)| **dj < 0.0)
        .map(|(wj, dj)| -wj / dj)
        .fold(f64::INFINITY, f64::min);
    let f0 = p.objective(w);
    let rounding = 64.0 * f64::EPSILON * f0.abs().max(1.0);
    let mut alpha = to_boundary.min(1.0);
    for attempt in 0..60 {
        let trial = step(w, d, alpha, to_boundary);
        let f = p.objective(&trial);
        let armijo = f >= f0 + 1e-4 * alpha * slope;
        if armijo || (attempt == 0 && f >= f0 - rounding && trial.as_slice() != &*w) {
            w.copy_from_slice(&trial);
            return true;
        }
        alpha *= 0.5;
    }
    false
}

/// `w + alpha d`, with the weights that reach 0 at the boundary (`alpha == to_boundary`) set
/// to exactly 0, and renormalized to sum 1.
fn step(w: &[f64], d: &[f64], alpha: f64, to_boundary: f64) -> Vec<f64> {
    let mut trial: Vec<f64> = w
        .iter()
        .zip(d)
        .map(|(wj, dj)| {
            let hits = *dj < 0.0 && -wj / dj <= to_boundary;
            if alpha == to_boundary && hits {
                0.0
            } else {
                (wj + alpha * dj).max(0.0)
            }
        })
        .collect();
    let total: f64 = trial.iter().sum();
    trial.iter_mut().for_each(|t| *t /= total);
    trial
}
