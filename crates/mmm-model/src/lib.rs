//! The marketing-mix model: parameters, priors, likelihood, the log density with its analytic
//! gradient, and predictions (including counterfactuals with a channel switched off).
//!
//! Model (on the max-abs scaled target, PyMC-Marketing's MMM):
//! `mu_t = intercept + sum_c beta_c * logistic(lam_c * adstock(x_c, alpha_c)_t) + sum_k gamma_k z_kt`,
//! `y_t ~ Normal(mu_t, sigma)` over the training window.
//! The sampler sees an unconstrained vector; every bounded parameter goes through a
//! [`prior::Bijection`] whose log-Jacobian is added to the density.

pub mod prior;

use mmm_core::Spec;
use mmm_core::spec::{AdstockSpec, ExpectedSign, LikelihoodSpec, Prior, SaturationSpec};
use mmm_features::Design;
use mmm_features::transforms::geometric_weights;
use prior::{Bijection, log_prior};

/// Errors building the model.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The design does not fit the spec.
    #[error("design does not match the spec: {0}")]
    Mismatch(String),
    /// The spec asks for something this build of the model does not implement yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
}

/// The log density could not be evaluated at a point (the sampler rejects the point).
#[derive(Debug, Clone, thiserror::Error)]
#[error("log density is not finite at this point ({0})")]
pub struct NonFinite(pub &'static str);

/// One scalar parameter: its stable name, prior and map from the real line.
#[derive(Debug, Clone)]
pub struct ParamInfo {
    /// Stable human-readable name, e.g. `beta[x1]`.
    pub name: String,
    /// Prior on the constrained value (on the magnitude for negative-signed coefficients).
    pub prior: Prior,
    /// Map from the unconstrained coordinate.
    pub bijection: Bijection,
    /// -1 for coefficients constrained negative (value = -magnitude), else +1.
    pub sign: f64,
}

#[derive(Debug, Clone)]
struct ChannelInput {
    /// Scaled spend over all periods, with l_max - 1 leading zeros.
    padded: Vec<f64>,
    l_max: usize,
    normalize: bool,
}

/// Reusable buffers for one chain's log-density evaluations (no allocation per call).
#[derive(Debug, Clone)]
pub struct Scratch {
    theta: Vec<f64>,
    dtheta: Vec<f64>,
    mu: Vec<f64>,
    sat: Vec<f64>,
    dsat_lam: Vec<f64>,
    dsat_alpha: Vec<f64>,
}

/// The model bound to its data.
#[derive(Debug, Clone)]
pub struct MmmModel {
    n: usize,
    n_train: usize,
    y: Vec<f64>,
    /// Scaled target over every period (training and holdout), for pointwise likelihoods.
    y_all: Vec<f64>,
    channels: Vec<ChannelInput>,
    regressors: Vec<Vec<f64>>,
    params: Vec<ParamInfo>,
    channel_names: Vec<String>,
}

/// Index of the intercept in the parameter vector.
pub const INTERCEPT: usize = 0;

impl MmmModel {
    /// Build the model from a spec and its design.
    pub fn new(spec: &Spec, design: &Design) -> Result<Self, ModelError> {
        if design.channels.len() != spec.channels.len() {
            return Err(ModelError::Mismatch("channel count differs".into()));
        }
        let n = design.len();
        if design.n_train == 0 || design.n_train > n {
            return Err(ModelError::Mismatch(format!(
                "training window of {} periods",
                design.n_train
            )));
        }
        let mut params = vec![ParamInfo {
            name: "intercept".into(),
            prior: spec.intercept.prior,
            bijection: Bijection::for_prior(&spec.intercept.prior),
            sign: 1.0,
        }];
        let mut channels = Vec::new();
        for (ch, x) in spec.channels.iter().zip(&design.channels) {
            let AdstockSpec::Geometric {
                l_max,
                normalize,
                alpha_prior,
            } = &ch.adstock;
            let SaturationSpec::Logistic {
                lam_prior,
                beta_prior,
            } = &ch.saturation;
            let mut padded = vec![0.0; l_max - 1];
            padded.extend_from_slice(x);
            channels.push(ChannelInput {
                padded,
                l_max: *l_max,
                normalize: *normalize,
            });
            for (kind, prior) in [
                ("adstock_alpha", alpha_prior),
                ("saturation_lam", lam_prior),
                ("beta", beta_prior),
            ] {
                params.push(ParamInfo {
                    name: format!("{kind}[{}]", ch.name),
                    prior: *prior,
                    bijection: Bijection::for_prior(prior),
                    sign: 1.0,
                });
            }
        }
        let control_priors = spec.controls.iter().map(|c| (c.prior, c.expected_sign));
        let fourier = std::iter::repeat_n(
            (spec.seasonality.prior, ExpectedSign::Unconstrained),
            2 * spec.seasonality.fourier_order,
        );
        for (name, (prior, sign)) in design
            .regressor_names
            .iter()
            .zip(control_priors.chain(fourier))
        {
            params.push(ParamInfo {
                name: format!("gamma_{}", name),
                prior,
                bijection: Bijection::for_prior(&prior),
                sign: if sign == ExpectedSign::Negative {
                    -1.0
                } else {
                    1.0
                },
            });
        }
        let LikelihoodSpec::Normal { sigma_prior } = &spec.likelihood else {
            return Err(ModelError::Unsupported(
                "only the Normal likelihood is implemented so far".into(),
            ));
        };
        params.push(ParamInfo {
            name: "sigma".into(),
            prior: *sigma_prior,
            bijection: Bijection::for_prior(sigma_prior),
            sign: 1.0,
        });
        if design.regressors.len() != design.regressor_names.len() {
            return Err(ModelError::Mismatch(
                "regressor names and columns differ".into(),
            ));
        }
        Ok(Self {
            n,
            n_train: design.n_train,
            y: design.target_scaled[..design.n_train].to_vec(),
            y_all: design.target_scaled.clone(),
            channels,
            regressors: design.regressors.clone(),
            params,
            channel_names: design.channel_names.clone(),
        })
    }

    /// Number of unconstrained coordinates.
    pub fn dim(&self) -> usize {
        self.params.len()
    }

    /// Parameters in vector order.
    pub fn params(&self) -> &[ParamInfo] {
        &self.params
    }

    /// Parameter names in vector order (the draws.parquet column names).
    pub fn param_names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    /// Channel names.
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }

    /// Number of periods (training and holdout).
    pub fn periods(&self) -> usize {
        self.n
    }

    /// Number of training periods.
    pub fn train_periods(&self) -> usize {
        self.n_train
    }

    fn channel_index(c: usize) -> usize {
        1 + 3 * c
    }

    fn regressor_index(&self, k: usize) -> usize {
        1 + 3 * self.channels.len() + k
    }

    fn sigma_index(&self) -> usize {
        self.params.len() - 1
    }

    /// Fresh buffers sized for this model.
    pub fn scratch(&self) -> Scratch {
        let cn = self.channels.len() * self.n_train;
        Scratch {
            theta: vec![0.0; self.dim()],
            dtheta: vec![0.0; self.dim()],
            mu: vec![0.0; self.n_train],
            sat: vec![0.0; cn],
            dsat_lam: vec![0.0; cn],
            dsat_alpha: vec![0.0; cn],
        }
    }

    /// Constrained parameter values for an unconstrained vector.
    pub fn constrain(&self, u: &[f64]) -> Vec<f64> {
        self.params
            .iter()
            .zip(u)
            .map(|(p, &u)| p.sign * p.bijection.forward(u).0)
            .collect()
    }

    /// A draw from the priors, as an unconstrained vector.
    pub fn sample_prior_unconstrained<R: rand::Rng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Option<Vec<f64>> {
        self.params
            .iter()
            .map(|p| prior::sample_prior(&p.prior, rng).map(|x| p.bijection.inverse(x)))
            .collect()
    }

    /// Unconstrained vector for constrained parameter values.
    pub fn unconstrain(&self, theta: &[f64]) -> Vec<f64> {
        self.params
            .iter()
            .zip(theta)
            .map(|(p, &t)| p.bijection.inverse(t * p.sign))
            .collect()
    }

    /// Log posterior density (up to a constant, Jacobians included) at unconstrained `u`,
    /// with its gradient written into `grad`.
    pub fn logp(&self, u: &[f64], grad: &mut [f64], s: &mut Scratch) -> Result<f64, NonFinite> {
        let nt = self.n_train;
        let mut logp = 0.0;
        // Priors and Jacobians; theta holds signed values, dtheta d theta / du.
        for (i, p) in self.params.iter().enumerate() {
            let (x, dx, logj, dlogj) = p.bijection.forward(u[i]);
            let (lp, dlp) = log_prior(&p.prior, x);
            logp += lp + logj;
            grad[i] = dlp * dx + dlogj;
            s.theta[i] = p.sign * x;
            s.dtheta[i] = p.sign * dx;
        }
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }

        // Mean: intercept + regressors + channels.
        let theta = &s.theta;
        s.mu.fill(theta[INTERCEPT]);
        for (k, z) in self.regressors.iter().enumerate() {
            let g = theta[self.regressor_index(k)];
            for (m, zt) in s.mu.iter_mut().zip(&z[..nt]) {
                *m += g * zt;
            }
        }
        for (c, ch) in self.channels.iter().enumerate() {
            let base = Self::channel_index(c);
            let (alpha, lam, beta) = (theta[base], theta[base + 1], theta[base + 2]);
            let l_max = ch.l_max;
            // Truncated geometric adstock by recursion, O(1) per period instead of O(l_max):
            // r_t = alpha r_(t-1) + x_t - alpha^L x_(t-L),
            // dr_t = r_(t-1) + alpha dr_(t-1) - L alpha^(L-1) x_(t-L),
            // then a_t = r_t / S and da_t = (dr_t - a_t dS) / S with S = sum_(l<L) alpha^l.
            let pow_lm1 = alpha.powi(l_max as i32 - 1);
            let pow_l = pow_lm1 * alpha;
            let (norm, dnorm) = if ch.normalize {
                let (mut sum, mut dsum, mut p) = (0.0, 0.0, 1.0);
                for l in 0..l_max {
                    sum += p;
                    if l + 1 < l_max {
                        dsum += (l + 1) as f64 * p;
                    }
                    p *= alpha;
                }
                (sum, dsum)
            } else {
                (1.0, 0.0)
            };
            let inv_norm = 1.0 / norm;
            let off = c * nt;
            let sat = &mut s.sat[off..off + nt];
            let dsl = &mut s.dsat_lam[off..off + nt];
            let dsa = &mut s.dsat_alpha[off..off + nt];
            let x = &ch.padded[l_max - 1..];
            let (mut r, mut dr) = (0.0, 0.0);
            for t in 0..nt {
                let x_out = if t == 0 { 0.0 } else { ch.padded[t - 1] };
                dr = r + alpha * dr - l_max as f64 * pow_lm1 * x_out;
                r = alpha * r + x[t] - pow_l * x_out;
                let a = r * inv_norm;
                let da = (dr - a * dnorm) * inv_norm;
                // (1 - e^(-lam a)) / (1 + e^(-lam a)); one exp is much cheaper than tanh, and
                // a >= 0 with lam > 0 keeps e in (0, 1].
                let e = (-lam * a).exp();
                let st = (1.0 - e) / (1.0 + e);
                let d = 0.5 * (1.0 - st * st);
                sat[t] = st;
                dsl[t] = d * a;
                dsa[t] = d * lam * da;
                s.mu[t] += beta * st;
            }
        }

        // Normal likelihood: -n ln sigma - sum r^2 / (2 sigma^2).
        let si = self.sigma_index();
        let sigma = theta[si];
        let inv_var = 1.0 / (sigma * sigma);
        let mut ss = 0.0;
        for (m, y) in s.mu.iter_mut().zip(&self.y) {
            let r = y - *m;
            ss += r * r;
            *m = r * inv_var; // mu now holds d loglik / d mu_t
        }
        let loglik = -(nt as f64) * sigma.ln() - 0.5 * ss * inv_var;
        logp += loglik;
        if !logp.is_finite() {
            return Err(NonFinite("likelihood"));
        }
        let g = &s.mu;
        grad[si] += (-(nt as f64) / sigma + ss * inv_var / sigma) * s.dtheta[si];
        grad[INTERCEPT] += g.iter().sum::<f64>() * s.dtheta[INTERCEPT];
        for (k, z) in self.regressors.iter().enumerate() {
            let i = self.regressor_index(k);
            grad[i] += dot(g, &z[..nt]) * s.dtheta[i];
        }
        for c in 0..self.channels.len() {
            let base = Self::channel_index(c);
            let beta = theta[base + 2];
            let off = c * nt;
            grad[base] += beta * dot(g, &s.dsat_alpha[off..off + nt]) * s.dtheta[base];
            grad[base + 1] += beta * dot(g, &s.dsat_lam[off..off + nt]) * s.dtheta[base + 1];
            grad[base + 2] += dot(g, &s.sat[off..off + nt]) * s.dtheta[base + 2];
        }
        if grad.iter().any(|v| !v.is_finite()) {
            return Err(NonFinite("gradient"));
        }
        Ok(logp)
    }

    /// Expected target (model scale) for every period at constrained `theta`; the channels in
    /// `zeroed` have their spend set to zero before adstock (a counterfactual).
    pub fn predict_mean(&self, theta: &[f64], zeroed: &[usize], out: &mut [f64]) {
        let n = self.n;
        out[..n].fill(theta[INTERCEPT]);
        for (k, z) in self.regressors.iter().enumerate() {
            let g = theta[self.regressor_index(k)];
            for (o, zt) in out.iter_mut().zip(z) {
                *o += g * zt;
            }
        }
        let mut term = vec![0.0; n];
        for c in 0..self.channels.len() {
            if zeroed.contains(&c) {
                continue;
            }
            self.channel_term(theta, c, &mut term);
            for (o, v) in out.iter_mut().zip(&term) {
                *o += v;
            }
        }
    }

    /// Channel c's additive term of the expected target for every period,
    /// beta_c * logistic(lam_c * adstock(x_c, alpha_c)_t), by direct convolution.
    pub fn channel_term(&self, theta: &[f64], c: usize, out: &mut [f64]) {
        let ch = &self.channels[c];
        self.channel_term_for_spend(theta, c, &ch.padded[ch.l_max - 1..], &mut out[..self.n]);
    }

    /// Channel c's additive term for any scaled spend series `spend` (zero before its first
    /// period), one value per period of `spend` written to `out`: the response to a plan.
    /// Spend before a plan's horizon carries in when the caller prepends it to `spend`.
    pub fn channel_term_for_spend(&self, theta: &[f64], c: usize, spend: &[f64], out: &mut [f64]) {
        let ch = &self.channels[c];
        let base = Self::channel_index(c);
        let (alpha, lam, beta) = (theta[base], theta[base + 1], theta[base + 2]);
        let mut w = vec![0.0; ch.l_max];
        let mut dw = vec![0.0; ch.l_max];
        geometric_weights(alpha, ch.normalize, &mut w, &mut dw);
        for (t, o) in out.iter_mut().enumerate().take(spend.len()) {
            let a: f64 = (0..ch.l_max.min(t + 1)).map(|l| w[l] * spend[t - l]).sum();
            *o = beta * (0.5 * lam * a).tanh();
        }
    }

    /// Channel c's scaled spend over every period (the model's input, training and holdout).
    pub fn channel_spend(&self, c: usize) -> &[f64] {
        let ch = &self.channels[c];
        &ch.padded[ch.l_max - 1..]
    }

    /// Longest carry-over of channel c in periods (spend at t still acts at t + l_max - 1).
    pub fn carryover_periods(&self, c: usize) -> usize {
        self.channels[c].l_max
    }

    /// Log likelihood of each period's observed (scaled) target at constrained `theta`, over
    /// every period (training then holdout), written to `out`; `mean` is a work buffer.
    /// Pointwise values are what PSIS-LOO and WAIC need.
    pub fn pointwise_log_likelihood(&self, theta: &[f64], mean: &mut [f64], out: &mut [f64]) {
        self.predict_mean(theta, &[], mean);
        let sigma = self.sigma(theta);
        let log_norm = -sigma.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln();
        for ((o, m), y) in out.iter_mut().zip(mean.iter()).zip(&self.y_all) {
            let z = (y - m) / sigma;
            *o = log_norm - 0.5 * z * z;
        }
    }

    /// Observation noise scale (model scale) at constrained `theta`.
    pub fn sigma(&self, theta: &[f64]) -> f64 {
        theta[self.sigma_index()]
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

pub use nuts_rs::rand;
pub use rand_distr;

/// Posterior draws read back from draws.parquet, in the model's parameter order.
#[derive(Debug, Clone)]
pub struct Posterior {
    /// Chain of each draw.
    pub chain: Vec<i64>,
    /// Index of each draw within its chain.
    pub draw: Vec<i64>,
    /// Constrained parameter values of each draw.
    pub theta: Vec<Vec<f64>>,
}

impl Posterior {
    /// Read a draws table; every parameter of `model` must be a column.
    pub fn from_batch(
        batch: &arrow::array::RecordBatch,
        model: &MmmModel,
        path: &std::path::Path,
    ) -> Result<Self, mmm_core::CoreError> {
        use mmm_core::columns::{f64_column, i64_column};
        let chain = i64_column(batch, "chain", path)?;
        let draw = i64_column(batch, "draw", path)?;
        let cols = model
            .param_names()
            .iter()
            .map(|n| f64_column(batch, n, path))
            .collect::<Result<Vec<_>, _>>()?;
        let theta = (0..chain.len())
            .map(|i| cols.iter().map(|c| c[i]).collect())
            .collect();
        Ok(Self { chain, draw, theta })
    }

    /// Number of draws over all chains.
    pub fn len(&self) -> usize {
        self.theta.len()
    }

    /// True when there are no draws.
    pub fn is_empty(&self) -> bool {
        self.theta.is_empty()
    }

    /// Values of parameter `j` split by chain (chains in order of first appearance).
    pub fn param_chains(&self, j: usize) -> Vec<Vec<f64>> {
        let mut chains: Vec<(i64, Vec<f64>)> = Vec::new();
        for (c, th) in self.chain.iter().zip(&self.theta) {
            match chains.iter_mut().find(|(k, _)| k == c) {
                Some((_, v)) => v.push(th[j]),
                None => chains.push((*c, vec![th[j]])),
            }
        }
        chains.into_iter().map(|(_, v)| v).collect()
    }
}

impl MmmModel {
    /// One posterior predictive draw per period (model scale): the expected target, written to
    /// `mean`, plus Normal(0, sigma) noise, written to `out`.
    pub fn predictive_draw<R: rand::Rng + ?Sized>(
        &self,
        theta: &[f64],
        rng: &mut R,
        mean: &mut [f64],
        out: &mut [f64],
    ) {
        use rand_distr::Distribution;
        self.predict_mean(theta, &[], mean);
        let sigma = self.sigma(theta);
        for (o, m) in out.iter_mut().zip(mean.iter()) {
            let z: f64 = rand_distr::StandardNormal.sample(rng);
            *o = m + sigma * z;
        }
    }
}
