//! The marketing-mix model: parameters, priors, likelihood, the log density with its analytic
//! gradient, and predictions (including counterfactuals with a channel switched off).
//!
//! Model (on the max-abs scaled target, PyMC-Marketing's MMM):
//! `mu_t = intercept + sum_c beta_c * logistic(lam_c * adstock(x_c, alpha_c)_t) + sum_k gamma_k z_kt`,
//! `y_t ~ Normal(mu_t, sigma)` over the training window.
//! The sampler sees an unconstrained vector; every bounded parameter goes through a
//! [`prior::Bijection`] whose log-Jacobian is added to the density.

mod kernels;
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
    /// Scaled spend over all periods after l_max leading zeros (x_(t-l_max) sits at index t).
    padded: Vec<f64>,
    l_max: usize,
    normalize: bool,
    /// The sampler moves ln(mean training contribution) instead of ln(beta) (see `logp`).
    mean_coordinate: bool,
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
    /// Per channel: d ln m / d alpha and d ln m / d lam for mean-contribution coordinates.
    chain: Vec<[f64; 2]>,
    /// Per channel: beta_c m_c, the mean training contribution.
    level: Vec<f64>,
    /// Adstock weights and their alpha-derivatives (longest l_max).
    weights: Vec<f64>,
    dweights: Vec<f64>,
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
    /// Training-window part of each regressor, centered on its training mean when
    /// `centered` (the sampler's intercept is then the level at average regressors).
    regressors_train: Vec<Vec<f64>>,
    regressor_means: Vec<f64>,
    centered: bool,
    /// Parameters whose prior and Jacobian are evaluated after the channel pass (the
    /// coefficients of channels sampled in mean-contribution coordinates).
    deferred_prior: Vec<bool>,
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
            let mut padded = vec![0.0; *l_max];
            padded.extend_from_slice(x);
            // Spend in the training window is needed for a positive mean contribution.
            let trained = x[..design.n_train.min(x.len())].iter().any(|v| *v > 0.0);
            channels.push(ChannelInput {
                padded,
                l_max: *l_max,
                normalize: *normalize,
                mean_coordinate: trained
                    && matches!(Bijection::for_prior(beta_prior), Bijection::Lower(a) if a == 0.0),
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
        // Regressors far from zero mean (a price index near 1, a trend) are nearly collinear
        // with the intercept; sampling the intercept at the regressors' means removes that
        // ridge without changing the posterior. Only an intercept on the whole real line can
        // be shifted this way.
        let centered = matches!(params[INTERCEPT].bijection, Bijection::Identity);
        let nt = design.n_train;
        let regressor_means: Vec<f64> = design
            .regressors
            .iter()
            .map(|z| {
                if centered {
                    z[..nt].iter().sum::<f64>() / nt as f64
                } else {
                    0.0
                }
            })
            .collect();
        let mut deferred_prior = vec![false; params.len()];
        for (c, ch) in channels.iter().enumerate() {
            deferred_prior[Self::channel_index(c) + 2] = ch.mean_coordinate;
        }
        let regressors_train = design
            .regressors
            .iter()
            .zip(&regressor_means)
            .map(|(z, m)| z[..nt].iter().map(|v| v - m).collect())
            .collect();
        Ok(Self {
            n,
            n_train: design.n_train,
            y: design.target_scaled[..design.n_train].to_vec(),
            y_all: design.target_scaled.clone(),
            channels,
            regressors: design.regressors.clone(),
            regressors_train,
            regressor_means,
            centered,
            deferred_prior,
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

    fn max_l_max(&self) -> usize {
        self.channels.iter().map(|c| c.l_max).max().unwrap_or(0)
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
            chain: vec![[0.0; 2]; self.channels.len()],
            level: vec![0.0; self.channels.len()],
            weights: vec![0.0; self.max_l_max()],
            dweights: vec![0.0; self.max_l_max()],
        }
    }

    /// Constrained parameter values for an unconstrained vector.
    pub fn constrain(&self, u: &[f64]) -> Vec<f64> {
        let mut theta: Vec<f64> = self
            .params
            .iter()
            .zip(u)
            .map(|(p, &u)| p.sign * p.bijection.forward(u).0)
            .collect();
        for c in 0..self.channels.len() {
            if self.channels[c].mean_coordinate {
                let b = Self::channel_index(c) + 2;
                // u holds ln(mean contribution) = ln|beta| + ln(mean saturation).
                if self.centered {
                    theta[INTERCEPT] -= theta[b];
                }
                theta[b] /= self.mean_saturation(&theta, c);
            }
        }
        theta[INTERCEPT] -= self.regressor_offset(&theta);
        theta
    }

    /// Mean over the training window of channel c's saturation curve (beta = 1) at `theta`.
    fn mean_saturation(&self, theta: &[f64], c: usize) -> f64 {
        let ch = &self.channels[c];
        let base = Self::channel_index(c);
        let (mut w, mut dw) = (vec![0.0; ch.l_max], vec![0.0; ch.l_max]);
        geometric_weights(theta[base], ch.normalize, &mut w, &mut dw);
        kernels::logistic_adstock_sum(&ch.padded, &w, theta[base + 1], self.n_train)
            / self.n_train as f64
    }

    /// sum_k gamma_k zbar_k: the centered intercept minus the original one (0 if uncentered).
    fn regressor_offset(&self, theta: &[f64]) -> f64 {
        self.regressor_means
            .iter()
            .enumerate()
            .map(|(k, zbar)| theta[self.regressor_index(k)] * zbar)
            .sum()
    }

    /// A draw from the priors, as an unconstrained vector.
    pub fn sample_prior_unconstrained<R: rand::Rng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Option<Vec<f64>> {
        let theta = self
            .params
            .iter()
            .map(|p| prior::sample_prior(&p.prior, rng).map(|x| p.sign * x))
            .collect::<Option<Vec<f64>>>()?;
        Some(self.unconstrain(&theta))
    }

    /// Unconstrained vector for constrained parameter values.
    pub fn unconstrain(&self, theta: &[f64]) -> Vec<f64> {
        let mut shifted = theta.to_vec();
        shifted[INTERCEPT] += self.regressor_offset(theta);
        for c in 0..self.channels.len() {
            if self.channels[c].mean_coordinate {
                let b = Self::channel_index(c) + 2;
                shifted[b] *= self.mean_saturation(theta, c);
                if self.centered {
                    shifted[INTERCEPT] += shifted[b];
                }
            }
        }
        self.params
            .iter()
            .zip(&shifted)
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
            if self.deferred_prior[i] {
                continue;
            }
            let (x, dx, logj, dlogj) = p.bijection.forward(u[i]);
            logp += logj;
            grad[i] = dlogj;
            s.theta[i] = p.sign * x;
            s.dtheta[i] = p.sign * dx;
            if (i != INTERCEPT || !self.centered) && !self.deferred_prior[i] {
                let (lp, dlp) = log_prior(&p.prior, x);
                logp += lp;
                grad[i] += dlp * dx;
            }
        }
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }

        // Mean without the intercept: regressors + channels; the intercept is added with the
        // residuals once it is known.
        s.mu.fill(0.0);
        for (k, z) in self.regressors_train.iter().enumerate() {
            let g = s.theta[self.regressor_index(k)];
            for (m, zt) in s.mu.iter_mut().zip(z) {
                *m += g * zt;
            }
        }
        for (c, ch) in self.channels.iter().enumerate() {
            let base = Self::channel_index(c);
            let (alpha, lam, beta) = (s.theta[base], s.theta[base + 1], s.theta[base + 2]);
            let l_max = ch.l_max;
            let (w, dw) = (&mut s.weights[..l_max], &mut s.dweights[..l_max]);
            geometric_weights(alpha, ch.normalize, w, dw);
            let off = c * nt;
            let sat = &mut s.sat[off..off + nt];
            let dsl = &mut s.dsat_lam[off..off + nt];
            let dsa = &mut s.dsat_alpha[off..off + nt];
            // Pass 1: adstock a_t = sum_l w_l x_(t-l) into `sat` and da_t/dalpha into `dsa`.
            kernels::convolve_with_derivative(&ch.padded, w, dw, sat, dsa);
            // Pass 2: the logistic curve and its derivatives, with their training sums.
            let sums = kernels::logistic_with_derivatives(lam, sat, dsl, dsa);
            let beta = if ch.mean_coordinate {
                // The sampler's coordinate is ln of the mean training contribution,
                // ln cbar = ln|beta| + ln m(alpha, lam) with m the mean saturation; data pin
                // cbar down while a weak channel's lam and beta trade off along a curved ridge.
                // (u_alpha, u_lam, ln cbar) -> (u_alpha, u_lam, ln|beta|) is triangular with a
                // unit diagonal, so the density needs no extra Jacobian term.
                let inv_nt = 1.0 / nt as f64;
                let m = sums[0] * inv_nt;
                let b = base + 2;
                let p = &self.params[b];
                let u_beta = u[b] - m.ln();
                let (x, dx, logj, dlogj) = p.bijection.forward(u_beta);
                let (lp, dlp) = log_prior(&p.prior, x);
                logp += lp + logj;
                grad[b] = dlp * dx + dlogj;
                s.theta[b] = p.sign * x;
                s.dtheta[b] = p.sign * dx;
                s.chain[c] = [sums[2] * inv_nt / m, sums[1] * inv_nt / m];
                s.level[c] = s.theta[b] * m;
                s.theta[b]
            } else {
                beta
            };
            for (m, v) in s.mu.iter_mut().zip(sat.iter()) {
                *m += beta * v;
            }
        }
        if self.centered {
            // The sampler's intercept coordinate is the mean level of the expected target over
            // the training window: the intercept at the regressors' training means plus the
            // mean contributions of the channels sampled in those coordinates. Then
            // icpt' = u0 - sum_c beta_c m_c and icpt = icpt' - sum_k gamma_k zbar_k, a shift
            // with unit Jacobian; the prior applies to the original intercept icpt.
            let mut centered_icpt = s.theta[INTERCEPT];
            for (c, ch) in self.channels.iter().enumerate() {
                if ch.mean_coordinate {
                    centered_icpt -= s.level[c];
                }
            }
            s.theta[INTERCEPT] = centered_icpt;
            let mut icpt = centered_icpt;
            for (k, zbar) in self.regressor_means.iter().enumerate() {
                icpt -= s.theta[self.regressor_index(k)] * zbar;
            }
            let (lp, dlp) = log_prior(&self.params[INTERCEPT].prior, icpt);
            logp += lp;
            grad[INTERCEPT] += dlp;
            for (k, zbar) in self.regressor_means.iter().enumerate() {
                let i = self.regressor_index(k);
                grad[i] -= dlp * zbar * s.dtheta[i];
            }
        }
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }
        let theta = &s.theta;

        // Normal likelihood: -n ln sigma - sum r^2 / (2 sigma^2).
        let si = self.sigma_index();
        let sigma = theta[si];
        let inv_var = 1.0 / (sigma * sigma);
        let icpt = theta[INTERCEPT];
        for (m, y) in s.mu.iter_mut().zip(&self.y) {
            *m = y - icpt - *m;
        }
        let ss = kernels::dot(&s.mu, &s.mu);
        for m in s.mu.iter_mut() {
            *m *= inv_var; // mu now holds d loglik / d mu_t
        }
        let loglik = -(nt as f64) * sigma.ln() - 0.5 * ss * inv_var;
        logp += loglik;
        if !logp.is_finite() {
            return Err(NonFinite("likelihood"));
        }
        let g = &s.mu;
        grad[si] += (-(nt as f64) / sigma + ss * inv_var / sigma) * s.dtheta[si];
        grad[INTERCEPT] += kernels::sum(g) * s.dtheta[INTERCEPT];
        for (k, z) in self.regressors_train.iter().enumerate() {
            let i = self.regressor_index(k);
            grad[i] += kernels::dot(g, z) * s.dtheta[i];
        }
        for c in 0..self.channels.len() {
            let base = Self::channel_index(c);
            let beta = theta[base + 2];
            let off = c * nt;
            grad[base] += beta * kernels::dot(g, &s.dsat_alpha[off..off + nt]) * s.dtheta[base];
            grad[base + 1] +=
                beta * kernels::dot(g, &s.dsat_lam[off..off + nt]) * s.dtheta[base + 1];
            grad[base + 2] += kernels::dot(g, &s.sat[off..off + nt]) * s.dtheta[base + 2];
            if self.channels[c].mean_coordinate {
                // u_beta = u_cbar - ln m(alpha(u_alpha), lam(u_lam)).
                let g_beta = grad[base + 2];
                grad[base] -= g_beta * s.chain[c][0] * s.dtheta[base];
                grad[base + 1] -= g_beta * s.chain[c][1] * s.dtheta[base + 1];
                if self.centered {
                    // d icpt' / d u_cbar = -beta_c m_c.
                    grad[base + 2] -= grad[INTERCEPT] * s.level[c];
                }
            }
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
        self.channel_term_for_spend(theta, c, &ch.padded[ch.l_max..], &mut out[..self.n]);
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

    /// For each multiplier m, sum over the periods of `spend` (scaled, zero before its first
    /// period) of channel c's term when that spend is multiplied by m, written to `out`.
    /// Adstock is linear in spend, so it is computed once for all multipliers: a response curve.
    pub fn channel_totals_for_multipliers(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        multipliers: &[f64],
        out: &mut [f64],
    ) {
        let ch = &self.channels[c];
        let base = Self::channel_index(c);
        let (alpha, lam, beta) = (theta[base], theta[base + 1], theta[base + 2]);
        let (mut w, mut dw) = (vec![0.0; ch.l_max], vec![0.0; ch.l_max]);
        geometric_weights(alpha, ch.normalize, &mut w, &mut dw);
        let adstock: Vec<f64> = (0..spend.len())
            .map(|t| (0..ch.l_max.min(t + 1)).map(|l| w[l] * spend[t - l]).sum())
            .collect();
        for (o, m) in out.iter_mut().zip(multipliers) {
            *o = beta * kernels::logistic_sum(lam * m, &adstock);
        }
    }

    /// Channel c's scaled spend over every period (the model's input, training and holdout).
    pub fn channel_spend(&self, c: usize) -> &[f64] {
        let ch = &self.channels[c];
        &ch.padded[ch.l_max..]
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
