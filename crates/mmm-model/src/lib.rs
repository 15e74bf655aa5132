//! The marketing-mix model: parameters, priors, likelihood, the log density with its analytic
//! gradient, and predictions (including counterfactuals with a channel switched off).
//!
//! Linear predictor (on the max-abs scaled target, PyMC-Marketing's MMM):
//! `eta_t = intercept + sum_c beta_c * v_c(x_c)_t + sum_k gamma_k z_kt`, where a channel's
//! curve v is `s(adstock(x))_t` (adstock first, the default) or `adstock(s(x))_t` (saturation
//! first), with any adstock family and saturation curve of [`mmm_features::transforms`];
//! geometric adstock + logistic saturation, adstock first, runs a fused kernel,
//! and, over the training window, with `y_t` the target divided by its scale `s`:
//! - Normal: `y_t ~ Normal(eta_t, sigma)`;
//! - StudentT: `y_t ~ Student-t(nu, eta_t, sigma)`;
//! - LogNormal: `ln y_t ~ Normal(eta_t, sigma)`, so the model is multiplicative on y
//!   (`E[y_t] = exp(eta_t + sigma^2 / 2)`);
//! - Poisson: the count `s y_t ~ Poisson(s exp(eta_t))` (log link on the original count scale;
//!   eta is the log of the expected count divided by s, so the priors keep their meaning);
//! - NegativeBinomial: the count `s y_t ~ NB(mean m_t = s exp(eta_t), dispersion phi)`,
//!   variance `m_t + m_t^2 / phi`.
//!
//! The sampler sees an unconstrained vector; every bounded parameter goes through a
//! [`prior::Bijection`] whose log-Jacobian is added to the density.

mod build;
pub mod curves;
pub mod geo;
pub mod joint;
mod kernels;
pub mod lprior;
mod mediated;
pub mod prior;
pub mod simulate;
pub mod special;

use mmm_core::Spec;
use mmm_core::spec::Prior;
use mmm_features::Design;
use mmm_features::transforms::{Adstock, Saturation, geometric_weights};
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
    /// Named parameter values (a truth file, a start point) that do not fit the model.
    #[error("parameter values: {0}")]
    Parameters(String),
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
    /// Scaled spend over all periods after l_max leading values (x_(t-l_max) sits at index t):
    /// the carry-in spend of the periods before the window (`data.start`), zeros where there
    /// is none.
    padded: Vec<f64>,
    /// True when some carry-in spend before period 0 is not zero.
    carry_in: bool,
    l_max: usize,
    normalize: bool,
    adstock: Adstock,
    saturation: Saturation,
    saturation_first: bool,
    /// Geometric adstock + logistic saturation, adstock first: the fused kernels.
    fast: bool,
    /// Index of the channel's first parameter: adstock parameters, saturation parameters,
    /// then beta.
    at: usize,
    /// Index of the channel's first derivative row in [`Scratch`] (one row per curve parameter).
    row_at: usize,
    /// The sampler moves ln(mean training contribution) instead of ln(beta) (see `logp`).
    mean_coordinate: bool,
    /// ROAS prior in place of the beta prior (needs `mean_coordinate`).
    roas: Option<RoasPrior>,
}

/// A lift test bound to the data: the experiment's measured lift over periods
/// `first..=last` of channel `channel`, on the model scale (target / scales.target).
#[derive(Debug, Clone)]
struct LiftTest {
    /// Index in the spec's `lift_tests`.
    spec_index: usize,
    /// Whether the channel had spend in the window (a geo's part of an experiment over
    /// several geos may have none).
    spent: bool,
    channel: usize,
    first: usize,
    last: usize,
    lift: f64,
    standard_error: f64,
    /// +1 when the test lowered the spend (the lift is observed minus changed), -1 when it
    /// raised it (changed minus observed): the measured lift is always more spend over less.
    sign: f64,
    /// The channel with its spend changed over the window (the experiment's other arm),
    /// evaluated by the general path.
    counterfactual: ChannelInput,
}

/// A prior on a channel's training-window ROAS, r = K cbar with cbar its mean training
/// contribution (model scale) and K = n_train s_target / (training spend in currency).
#[derive(Debug, Clone, Copy)]
struct RoasPrior {
    prior: Prior,
    ln_k: f64,
}

impl ChannelInput {
    /// Number of curve parameters (adstock and saturation, beta excluded).
    fn curve_params(&self) -> usize {
        self.adstock.parameter_count() + self.saturation.parameter_count()
    }

    /// Index of beta in the parameter vector.
    fn beta_at(&self) -> usize {
        self.at + self.curve_params()
    }
}

/// Work buffers of the general (not fused) channel path.
#[derive(Debug, Clone)]
struct CurveBuffers {
    /// Adstock weights and their derivatives w.r.t. the first and second adstock parameter.
    w: Vec<f64>,
    d0: Vec<f64>,
    d1: Vec<f64>,
    /// Saturation-first: s(x) over the padded spend and its derivatives w.r.t. the first and
    /// second saturation parameter.
    sx: Vec<f64>,
    ds0: Vec<f64>,
    ds1: Vec<f64>,
}

impl CurveBuffers {
    fn new(l_max: usize, padded: usize) -> Self {
        Self {
            w: vec![0.0; l_max],
            d0: vec![0.0; l_max],
            d1: vec![0.0; l_max],
            sx: vec![0.0; padded],
            ds0: vec![0.0; padded],
            ds1: vec![0.0; padded],
        }
    }
}

/// Reusable buffers for one chain's log-density evaluations (no allocation per call).
#[derive(Debug, Clone)]
pub struct Scratch {
    theta: Vec<f64>,
    dtheta: Vec<f64>,
    mu: Vec<f64>,
    /// Per channel: the curve v_t (beta = 1) over the training window.
    sat: Vec<f64>,
    /// Per channel and curve parameter p: dv_t / dp over the training window (channel c's rows
    /// start at row `row_at`; the fused path stores alpha then lam).
    rows: Vec<f64>,
    /// Per channel: d ln m / d p for each curve parameter, for mean-contribution coordinates.
    chain: Vec<[f64; MAX_CURVE_PARAMS]>,
    /// Per channel: beta_c m_c, the mean training contribution.
    level: Vec<f64>,
    /// Per channel: m_c, the mean training curve (geo members' level intercept).
    mean_curve: Vec<f64>,
    /// Per channel with a ROAS prior: d log prior / d u_cbar.
    roas_grad: Vec<f64>,
    /// Adstock weights and their alpha-derivatives (longest l_max).
    weights: Vec<f64>,
    dweights: Vec<f64>,
    /// Buffers of the general channel path.
    curve: CurveBuffers,
    /// Local level: the steps' running sums S_t = z_1 + ... + z_t over the training window.
    walk: Vec<f64>,
    /// A lift test's counterfactual curve and its derivative rows.
    lift_sat: Vec<f64>,
    lift_rows: Vec<f64>,
    /// Each mediator equation's buffers.
    mediators: Vec<Scratch>,
}

/// Where a channel's parameters sit in the vector and which transforms it uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelLayout {
    /// Index of the first adstock parameter.
    pub first: usize,
    /// Number of adstock parameters (they come first).
    pub adstock_params: usize,
    /// Number of saturation parameters (after the adstock ones).
    pub saturation_params: usize,
    /// Index of beta (after the saturation parameters).
    pub beta: usize,
    /// The adstock family.
    pub adstock: Adstock,
    /// The saturation curve.
    pub saturation: Saturation,
    /// Saturation of each period's spend before the adstock.
    pub saturation_first: bool,
    /// Evaluated by the fused geometric + logistic kernels.
    pub fused: bool,
    /// The sampler moves ln(mean training contribution) instead of ln(beta).
    pub mean_coordinate: bool,
}

/// The observation model (the spec's likelihood family).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Likelihood {
    /// y ~ Normal(eta, sigma) on the scaled target.
    Normal,
    /// y ~ Student-t(nu, eta, sigma) on the scaled target.
    StudentT,
    /// ln y ~ Normal(eta, sigma) on the scaled target (multiplicative on y).
    LogNormal,
    /// count ~ Poisson(s exp(eta)), log link on the original count scale.
    Poisson,
    /// count ~ NegativeBinomial(mean s exp(eta), dispersion phi), log link.
    NegativeBinomial,
}

impl Likelihood {
    /// True when the expected response is the linear predictor itself, so channel terms add
    /// up to the prediction (Normal and Student-t); false for log links and LogNormal.
    pub fn is_additive(self) -> bool {
        matches!(self, Self::Normal | Self::StudentT)
    }

    /// The spec's name of the family.
    pub fn name(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::StudentT => "student_t",
            Self::LogNormal => "log_normal",
            Self::Poisson => "poisson",
            Self::NegativeBinomial => "negative_binomial",
        }
    }
}

/// The model bound to its data.
#[derive(Debug, Clone)]
pub struct MmmModel {
    n: usize,
    n_train: usize,
    likelihood: Likelihood,
    /// Divisor of the target (scales.target): the model scale is target / target_scale.
    target_scale: f64,
    ln_scale: f64,
    /// Training-window observations on the likelihood's scale: the scaled target (Normal,
    /// Student-t), its logarithm (LogNormal) or the integer counts (Poisson, NB).
    y: Vec<f64>,
    /// The same over every period (training and holdout), for pointwise likelihoods.
    y_all: Vec<f64>,
    /// Index of the first noise parameter (sigma; phi for NB; nothing after it for Poisson).
    noise_at: usize,
    channels: Vec<ChannelInput>,
    regressors: Vec<Vec<f64>>,
    /// Training-window part of each regressor, centered on its training mean when
    /// `centered` (the sampler's intercept is then the level at average regressors).
    regressors_train: Vec<Vec<f64>>,
    regressor_means: Vec<f64>,
    centered: bool,
    /// Index of the first regressor coefficient.
    regressors_at: usize,
    /// Parameters whose prior and Jacobian are evaluated after the channel pass (the
    /// coefficients of channels sampled in mean-contribution coordinates).
    deferred_prior: Vec<bool>,
    params: Vec<ParamInfo>,
    channel_names: Vec<String>,
    lift_tests: Vec<LiftTest>,
    /// A geo member's parts of the lift tests over several geos that include its geo: the
    /// hierarchy adds their lifts over geos before its likelihood term.
    lift_parts: Vec<LiftTest>,
    /// Index of `level_sigma` when the trend is a local level; its steps z_1..z_(n_train-1)
    /// follow it.
    local_level_at: Option<usize>,
    /// A geo of the hierarchy ([`geo::GeoModel`]): `logp` is the likelihood alone (no priors,
    /// no Jacobians), as a function of the unconstrained vector.
    likelihood_only: bool,
    /// A geo whose intercept coordinate is its mean level over the training window (at the
    /// regressors' means, with every channel's mean contribution in), so the geo's intercept
    /// and channel coefficients are not traded off along a ridge.
    level_intercept: bool,
    /// The mediators' equations, whose coordinates follow the target's (`[[mediators]]`).
    mediators: Vec<mediated::Mediator>,
    /// With mediators: the target's parameters then each mediator's, as `params()` lists them.
    joint_params: Vec<ParamInfo>,
}

/// Index of the intercept in the parameter vector.
pub const INTERCEPT: usize = 0;

/// Most curve parameters of one channel: two adstock (delayed geometric, Weibull) plus two
/// saturation (Hill) parameters.
pub(crate) const MAX_CURVE_PARAMS: usize = 4;

/// Training sums of a channel's curve: sum v, then sum dv/dp per curve parameter.
const CURVE_SUMS: usize = MAX_CURVE_PARAMS + 1;

impl MmmModel {
    /// One geo of a geo hierarchy: the model of the geo's design whose `logp` is its
    /// likelihood alone (priors and Jacobians belong to the hierarchy), with every coefficient
    /// on its own bijection's scale (no mean-contribution coordinates).
    /// Its lift tests are the spec's tests that name `geo`: their likelihood terms are part of
    /// the member's `logp`, so the hierarchy's chain rule carries their gradient too.
    pub fn geo_member(spec: &Spec, design: &Design, geo: &str) -> Result<Self, ModelError> {
        if !spec.mediators.is_empty() {
            return Err(ModelError::Unsupported(
                "mediators in a geo hierarchy (model them on national data)".into(),
            ));
        }
        // Its own tests become national for it; the others keep their geo and are not bound
        // (so errors keep the spec's indices).
        let mut own = spec.clone();
        for t in &mut own.lift_tests {
            if t.geo.as_deref() == Some(geo) {
                t.geo = None;
            }
        }
        // A ROAS prior is on the typical geo's ROAS, evaluated by the hierarchy: a geo needs
        // no spend of its own for it, only beta's positive support.
        let roas_channels: Vec<bool> = own
            .channels
            .iter_mut()
            .map(|ch| ch.roas_prior.take().is_some())
            .collect();
        let mut model = Self::new(&own, design)?;
        for (ch, roas) in model.channels.iter().zip(roas_channels) {
            if roas {
                model.params[ch.beta_at()].bijection = Bijection::Lower(0.0);
            }
        }
        for ch in &mut model.channels {
            ch.mean_coordinate = false;
        }
        let parts = spec
            .lift_tests
            .iter()
            .enumerate()
            .filter(|(_, t)| t.geos.iter().any(|g| g == geo));
        model.lift_parts = bind_lift_tests(spec, design, &model.channels, parts, true)?;
        model.deferred_prior.fill(false);
        model.likelihood_only = true;
        model.level_intercept = model.centered;
        Ok(model)
    }

    /// Number of unconstrained coordinates.
    pub fn dim(&self) -> usize {
        self.params.len() + self.mediators.iter().map(|m| m.model.dim()).sum::<usize>()
    }

    /// Parameters in vector order (the target's, then each mediator's).
    pub fn params(&self) -> &[ParamInfo] {
        if self.mediators.is_empty() {
            &self.params
        } else {
            &self.joint_params
        }
    }

    /// Parameter names in vector order (the draws.parquet column names).
    pub fn param_names(&self) -> Vec<String> {
        self.params().iter().map(|p| p.name.clone()).collect()
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

    /// Index of channel c's first parameter and the names of its transforms: (first
    /// parameter, number of curve parameters, adstock kind, saturation kind, saturation first).
    /// Channel c's parameters are its adstock parameters, its saturation parameters, then beta.
    pub fn channel_layout(&self, c: usize) -> ChannelLayout {
        let ch = &self.channels[c];
        ChannelLayout {
            first: ch.at,
            adstock_params: ch.adstock.parameter_count(),
            saturation_params: ch.saturation.parameter_count(),
            beta: ch.beta_at(),
            adstock: ch.adstock,
            saturation: ch.saturation,
            saturation_first: ch.saturation_first,
            fused: ch.fast,
            mean_coordinate: ch.mean_coordinate,
        }
    }

    /// True when every channel's curve is concave in its spend (each saturation family's
    /// descriptor says so: [`Saturation::is_concave`]; all but Hill, which is S-shaped for a
    /// slope above 1), so a channel's expected lift is too.
    pub fn concave_in_spend(&self) -> bool {
        self.channels.iter().all(|c| c.saturation.is_concave())
            && self.mediators.iter().all(|m| m.model.concave_in_spend())
    }

    /// Number of control and Fourier regressors.
    pub fn regressor_count(&self) -> usize {
        self.regressors.len()
    }

    fn regressor_index(&self, k: usize) -> usize {
        self.regressors_at + k
    }

    /// The observation model.
    pub fn likelihood(&self) -> Likelihood {
        self.likelihood
    }

    /// True when channel terms add up to the expected response (see [`Likelihood::is_additive`]).
    pub fn is_additive(&self) -> bool {
        self.likelihood.is_additive()
    }

    /// The target's divisor (scales.target): model-scale numbers times it are original units.
    pub fn target_scale(&self) -> f64 {
        self.target_scale
    }

    fn max_l_max(&self) -> usize {
        self.channels.iter().map(|c| c.l_max).max().unwrap_or(0)
    }

    /// Fresh buffers sized for this model.
    pub fn scratch(&self) -> Scratch {
        let cn = self.channels.len() * self.n_train;
        let rows: usize = self.channels.iter().map(ChannelInput::curve_params).sum();
        Scratch {
            theta: vec![0.0; self.dim()],
            dtheta: vec![0.0; self.dim()],
            mu: vec![0.0; self.n_train],
            sat: vec![0.0; cn],
            rows: vec![0.0; rows * self.n_train],
            chain: vec![[0.0; MAX_CURVE_PARAMS]; self.channels.len()],
            level: vec![0.0; self.channels.len()],
            mean_curve: vec![0.0; self.channels.len()],
            roas_grad: vec![0.0; self.channels.len()],
            weights: vec![0.0; self.max_l_max()],
            dweights: vec![0.0; self.max_l_max()],
            curve: CurveBuffers::new(self.max_l_max(), self.max_l_max() + self.n_train),
            walk: vec![0.0; self.n_train],
            lift_sat: vec![0.0; self.n_train],
            lift_rows: vec![0.0; MAX_CURVE_PARAMS * self.n_train],
            mediators: self.mediators.iter().map(|m| m.model.scratch()).collect(),
        }
    }

    /// Constrained parameter values for an unconstrained vector.
    pub fn constrain(&self, u: &[f64]) -> Vec<f64> {
        self.constrain_with(u, true)
    }

    /// [`Self::constrain`] with the intercept left as sampled: the level parametrization's
    /// offsets (each channel's mean curve over the training window, one saturation pass per
    /// channel) and the regressors' centering offset are not subtracted. Every other value is
    /// the same; for figures that do not read the intercept (an additive model's channel
    /// terms and response curves).
    pub fn constrain_except_intercept(&self, u: &[f64]) -> Vec<f64> {
        self.constrain_with(u, false)
    }

    /// [`Self::constrain`], the intercept's offsets only when `intercept`.
    fn constrain_with(&self, u: &[f64], intercept: bool) -> Vec<f64> {
        let mut theta: Vec<f64> = self
            .params
            .iter()
            .zip(u)
            .map(|(p, &u)| p.sign * p.bijection.forward(u).0)
            .collect();
        for c in 0..self.channels.len() {
            if self.channels[c].mean_coordinate {
                let b = self.channels[c].beta_at();
                // u holds ln(mean contribution) = ln|beta| + ln(mean saturation).
                if self.centered {
                    theta[INTERCEPT] -= theta[b];
                }
                theta[b] /= self.mean_saturation(&theta, c);
            } else if self.level_intercept && intercept {
                let b = self.channels[c].beta_at();
                theta[INTERCEPT] -= theta[b] * self.mean_saturation(&theta, c);
            }
        }
        if intercept {
            theta[INTERCEPT] -= self.regressor_offset(&theta);
        }
        for m in &self.mediators {
            theta.extend(m.model.constrain(m.part(u)));
        }
        theta
    }

    /// Mean over the training window of channel c's saturation curve (beta = 1) at `theta`.
    fn mean_saturation(&self, theta: &[f64], c: usize) -> f64 {
        let ch = &self.channels[c];
        let base = ch.at;
        if ch.fast {
            let (mut w, mut dw) = (vec![0.0; ch.l_max], vec![0.0; ch.l_max]);
            geometric_weights(theta[base], ch.normalize, &mut w, &mut dw);
            return kernels::logistic_adstock_sum(&ch.padded, &w, theta[base + 1], self.n_train)
                / self.n_train as f64;
        }
        let mut v = vec![0.0; self.n_train];
        self.unit_curve_after(
            theta,
            c,
            self.carry_in_of(c),
            &self.channel_spend(c)[..self.n_train],
            &mut v,
        );
        kernels::sum(&v) / self.n_train as f64
    }

    /// ln m and d ln m / d p for each of channel c's curve parameters p (constrained), with m
    /// the mean over the training window of the channel's curve (beta = 1) at `theta`: the
    /// same passes as `logp`'s channel loop.
    pub(crate) fn ln_mean_curve(
        &self,
        theta: &[f64],
        c: usize,
        s: &mut Scratch,
    ) -> (f64, [f64; MAX_CURVE_PARAMS]) {
        let nt = self.n_train;
        let ch = &self.channels[c];
        let (base, b, l_max) = (ch.at, ch.beta_at(), ch.l_max);
        let sat = &mut s.sat[c * nt..(c + 1) * nt];
        let rows = &mut s.rows[ch.row_at * nt..(ch.row_at + ch.curve_params()) * nt];
        let mut sums = [0.0f64; CURVE_SUMS];
        if ch.fast {
            let (w, dw) = (&mut s.weights[..l_max], &mut s.dweights[..l_max]);
            geometric_weights(theta[base], ch.normalize, w, dw);
            let (dsa, dsl) = rows.split_at_mut(nt);
            kernels::convolve_with_derivative(&ch.padded, w, dw, sat, dsa);
            let k = kernels::logistic_with_derivatives(theta[base + 1], sat, dsl, dsa);
            sums[..3].copy_from_slice(&[k[0], k[2], k[1]]);
        } else {
            general_curve(ch, &theta[base..b], &mut s.curve, sat, rows);
            sums[0] = kernels::sum(sat);
            for (j, row) in rows.chunks_exact(nt).enumerate() {
                sums[1 + j] = kernels::sum(row);
            }
        }
        let m = sums[0] / nt as f64;
        let mut d = [0.0; MAX_CURVE_PARAMS];
        for j in 0..ch.curve_params() {
            d[j] = sums[1 + j] / nt as f64 / m;
        }
        (m.ln(), d)
    }

    /// Channel c's carry-in spend before period 0 when it has any (the last l_max - 1
    /// periods), else nothing.
    fn carry_in_of(&self, c: usize) -> &[f64] {
        let ch = &self.channels[c];
        if ch.carry_in {
            &ch.padded[1..ch.l_max]
        } else {
            &[]
        }
    }

    /// [`Self::unit_curve`] (multiplier 1) of `spend` preceded by `history`: the curve of the
    /// series history ++ spend, written for the periods of `spend` only.
    fn unit_curve_after(
        &self,
        theta: &[f64],
        c: usize,
        history: &[f64],
        spend: &[f64],
        out: &mut [f64],
    ) {
        if history.is_empty() {
            return self.unit_curve(theta, c, spend, 1.0, out);
        }
        let series: Vec<f64> = history.iter().chain(spend).copied().collect();
        let mut full = vec![0.0; series.len()];
        self.unit_curve(theta, c, &series, 1.0, &mut full);
        let n = spend.len().min(out.len());
        out[..n].copy_from_slice(&full[history.len()..history.len() + n]);
    }

    /// Channel c's curve with beta = 1 for the scaled spend series `spend` times `mult` (zero
    /// before its first period), one value per period of `spend` into `out`: s(adstock(x))
    /// or adstock(s(x)), by direct convolution.
    fn unit_curve(&self, theta: &[f64], c: usize, spend: &[f64], mult: f64, out: &mut [f64]) {
        let ch = &self.channels[c];
        let na = ch.adstock.parameter_count();
        let (ap, sp) = (&theta[ch.at..ch.at + na], &theta[ch.at + na..ch.beta_at()]);
        let l_max = ch.l_max;
        let (mut w, mut d0, mut d1) = (vec![0.0; l_max], vec![0.0; l_max], vec![0.0; l_max]);
        ch.adstock.weights(ap, &mut w, &mut d0, &mut d1);
        let n = spend.len().min(out.len());
        if ch.saturation_first {
            let sx: Vec<f64> = spend[..n]
                .iter()
                .map(|x| ch.saturation.value(mult * x, sp))
                .collect();
            for (t, o) in out[..n].iter_mut().enumerate() {
                *o = (0..l_max.min(t + 1)).map(|l| w[l] * sx[t - l]).sum();
            }
        } else {
            for (t, o) in out[..n].iter_mut().enumerate() {
                let a: f64 = (0..l_max.min(t + 1)).map(|l| w[l] * spend[t - l]).sum();
                *o = ch.saturation.value(mult * a, sp);
            }
        }
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
        let mut theta = self
            .params
            .iter()
            .map(|p| prior::sample_prior(&p.prior, rng).map(|x| p.sign * x))
            .collect::<Option<Vec<f64>>>()?;
        for (c, ch) in self.channels.iter().enumerate() {
            if let Some(roas) = ch.roas {
                // beta = cbar / m with cbar = r / K, r drawn from the ROAS prior.
                let r = prior::sample_prior(&roas.prior, rng)?;
                theta[ch.beta_at()] = r * (-roas.ln_k).exp() / self.mean_saturation(&theta, c);
            }
        }
        let mut u = self.unconstrain_target(&theta);
        for m in &self.mediators {
            u.extend(m.model.sample_prior_unconstrained(rng)?);
        }
        Some(u)
    }

    /// Unconstrained vector for constrained parameter values.
    pub fn unconstrain(&self, theta: &[f64]) -> Vec<f64> {
        let mut u = self.unconstrain_target(theta);
        for m in &self.mediators {
            u.extend(m.model.unconstrain(m.part(theta)));
        }
        u
    }

    /// [`Self::unconstrain`] of the target's own parameters (the first `params.len()`).
    fn unconstrain_target(&self, theta: &[f64]) -> Vec<f64> {
        let mut shifted = theta.to_vec();
        shifted[INTERCEPT] += self.regressor_offset(theta);
        for c in 0..self.channels.len() {
            if self.channels[c].mean_coordinate {
                let b = self.channels[c].beta_at();
                shifted[b] *= self.mean_saturation(theta, c);
                if self.centered {
                    shifted[INTERCEPT] += shifted[b];
                }
            } else if self.level_intercept {
                let b = self.channels[c].beta_at();
                shifted[INTERCEPT] += theta[b] * self.mean_saturation(theta, c);
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
        let p = self.params.len();
        let mut logp = self.logp_target(&u[..p], &mut grad[..p], s)?;
        // The mediators' equations share no parameter with the target's (module `mediated`).
        for (m, scratch) in self.mediators.iter().zip(&mut s.mediators) {
            let r = m.range();
            logp += m.model.logp(&u[r.clone()], &mut grad[r], scratch)?;
        }
        Ok(logp)
    }

    /// The target equation's log density and gradient (its own coordinates only).
    #[inline]
    fn logp_target(&self, u: &[f64], grad: &mut [f64], s: &mut Scratch) -> Result<f64, NonFinite> {
        // The parts run in this order and add to `logp` in this order, so the density is the
        // same number to the last bit whatever the split.
        let mut logp = self.prior_terms(u, grad, s);
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }
        self.regressor_pass(s);
        for c in 0..self.channels.len() {
            logp += self.channel_forward(c, u, grad, s);
        }
        logp += self.lift_test_terms(grad, s);
        if self.level_intercept {
            s.theta[INTERCEPT] -= s.level.iter().sum::<f64>();
        }
        if self.centered && !self.likelihood_only {
            logp += self.centered_intercept_prior(grad, s);
        }
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }
        logp += self.likelihood_terms(grad, s);
        if !logp.is_finite() {
            return Err(NonFinite("likelihood"));
        }
        self.back_propagate(grad, s);
        if grad.iter().any(|v| !v.is_finite()) {
            return Err(NonFinite("gradient"));
        }
        Ok(logp)
    }

    /// Priors and log-Jacobians of every parameter not deferred to the channel pass, with
    /// their gradients written to `grad`; `s.theta` gets the signed constrained values and
    /// `s.dtheta` d theta / d u.
    #[inline]
    fn prior_terms(&self, u: &[f64], grad: &mut [f64], s: &mut Scratch) -> f64 {
        let mut logp = 0.0;
        for (i, p) in self.params.iter().enumerate() {
            if self.deferred_prior[i] {
                continue;
            }
            let (x, dx, logj, dlogj) = p.bijection.forward(u[i]);
            s.theta[i] = p.sign * x;
            s.dtheta[i] = p.sign * dx;
            if self.likelihood_only {
                grad[i] = 0.0;
                continue;
            }
            logp += logj;
            grad[i] = dlogj;
            if i != INTERCEPT || !self.centered {
                let (lp, dlp) = log_prior(&p.prior, x);
                logp += lp;
                grad[i] += dlp * dx;
            }
        }
        logp
    }

    /// `s.mu` = the linear predictor's regressor and local-level parts over the training window
    /// (the intercept joins with the residuals once it is known).
    #[inline]
    fn regressor_pass(&self, s: &mut Scratch) {
        let nt = self.n_train;
        s.mu.fill(0.0);
        for (k, z) in self.regressors_train.iter().enumerate() {
            let g = s.theta[self.regressor_index(k)];
            for (m, zt) in s.mu.iter_mut().zip(z) {
                *m += g * zt;
            }
        }
        if let Some(at) = self.local_level_at {
            // level_t = sigma S_t, S_t = z_1 + ... + z_t, S_0 = 0 (non-centered random walk).
            let sigma = s.theta[at];
            let mut walk = 0.0;
            s.walk[0] = 0.0;
            for t in 1..nt {
                walk += s.theta[at + t];
                s.walk[t] = walk;
                s.mu[t] += sigma * walk;
            }
        }
    }

    /// Channel c's curve and its derivative rows into `s.sat` and `s.rows`, its term added to
    /// `s.mu`; returns its prior terms when it is sampled in mean-contribution coordinates.
    #[inline]
    fn channel_forward(&self, c: usize, u: &[f64], grad: &mut [f64], s: &mut Scratch) -> f64 {
        let sums = self.channel_curve(c, s);
        let ch = &self.channels[c];
        let b = ch.beta_at();
        let mut logp = 0.0;
        let beta = if ch.mean_coordinate {
            logp += self.mean_coordinate_beta(c, &sums, u, grad, s);
            s.theta[b]
        } else {
            if self.level_intercept {
                // A geo's intercept coordinate is its mean level with the channels' mean
                // contributions in: icpt = u0 - sum_c beta_c m_c (d m / d p in `chain`).
                let inv_nt = 1.0 / self.n_train as f64;
                for j in 0..ch.curve_params() {
                    s.chain[c][j] = sums[1 + j] * inv_nt;
                }
                s.mean_curve[c] = sums[0] * inv_nt;
                s.level[c] = s.theta[b] * s.mean_curve[c];
            }
            s.theta[b]
        };
        let nt = self.n_train;
        let sat = &s.sat[c * nt..(c + 1) * nt];
        for (m, v) in s.mu.iter_mut().zip(sat.iter()) {
            *m += beta * v;
        }
        logp
    }

    /// Channel c's curve v_t (beta = 1) over the training window into `s.sat` and dv_t/dp for
    /// each curve parameter p into `s.rows`; returns the training sums [sum v, sum dv/dp...]
    /// (the derivative sums only where a mean coordinate or a level intercept needs them).
    #[inline]
    fn channel_curve(&self, c: usize, s: &mut Scratch) -> [f64; CURVE_SUMS] {
        let nt = self.n_train;
        let ch = &self.channels[c];
        let (base, b, l_max) = (ch.at, ch.beta_at(), ch.l_max);
        let sat = &mut s.sat[c * nt..(c + 1) * nt];
        let rows = &mut s.rows[ch.row_at * nt..(ch.row_at + ch.curve_params()) * nt];
        let mut sums = [0.0f64; CURVE_SUMS];
        if ch.fast {
            let (alpha, lam) = (s.theta[base], s.theta[base + 1]);
            let (w, dw) = (&mut s.weights[..l_max], &mut s.dweights[..l_max]);
            geometric_weights(alpha, ch.normalize, w, dw);
            let (dsa, dsl) = rows.split_at_mut(nt);
            // Pass 1: adstock a_t = sum_l w_l x_(t-l) into `sat` and da_t/dalpha into `dsa`.
            kernels::convolve_with_derivative(&ch.padded, w, dw, sat, dsa);
            // Pass 2: the logistic curve and its derivatives, with their training sums.
            let k = kernels::logistic_with_derivatives(lam, sat, dsl, dsa);
            sums[..3].copy_from_slice(&[k[0], k[2], k[1]]);
        } else {
            let params = &s.theta[base..b];
            general_curve(ch, params, &mut s.curve, sat, rows);
            if ch.mean_coordinate || self.level_intercept {
                sums[0] = kernels::sum(sat);
                for (j, row) in rows.chunks_exact(nt).enumerate() {
                    sums[1 + j] = kernels::sum(row);
                }
            }
        }
        sums
    }

    /// Beta of channel c sampled as ln of its mean training contribution: its prior (or the
    /// ROAS prior) and Jacobian; sets `s.theta`, `s.dtheta`, `s.chain` and `s.level` for it.
    ///
    /// The sampler's coordinate is ln cbar = ln|beta| + ln m(curve parameters) with m the mean
    /// of v; data pin cbar down while a weak channel's curve parameters and beta trade off
    /// along a curved ridge. (u_curve, ln cbar) -> (u_curve, ln|beta|) is triangular with a
    /// unit diagonal, so the density needs no extra Jacobian term, and
    /// d ln m / dp = (sum_t dv_t/dp) / (n m) for every curve family.
    #[inline]
    fn mean_coordinate_beta(
        &self,
        c: usize,
        sums: &[f64; CURVE_SUMS],
        u: &[f64],
        grad: &mut [f64],
        s: &mut Scratch,
    ) -> f64 {
        let ch = &self.channels[c];
        let b = ch.beta_at();
        let inv_nt = 1.0 / self.n_train as f64;
        let m = sums[0] * inv_nt;
        let p = &self.params[b];
        let u_beta = u[b] - m.ln();
        let (x, dx, logj, dlogj) = p.bijection.forward(u_beta);
        let logp = if let Some(roas) = ch.roas {
            // The prior is on r = K cbar; in the coordinate u = ln cbar its density is
            // p(r) r (constant ln K dropped). It does not depend on u_beta, so its
            // gradient joins after the likelihood's is chained to the curve.
            let r = (roas.ln_k + u[b]).exp();
            let (lp, dlp) = log_prior(&roas.prior, r);
            s.roas_grad[c] = dlp * r + 1.0;
            grad[b] = 0.0;
            lp + u[b]
        } else {
            let (lp, dlp) = log_prior(&p.prior, x);
            grad[b] = dlp * dx + dlogj;
            lp + logj
        };
        s.theta[b] = p.sign * x;
        s.dtheta[b] = p.sign * dx;
        for j in 0..ch.curve_params() {
            s.chain[c][j] = sums[1 + j] * inv_nt / m;
        }
        s.level[c] = s.theta[b] * m;
        logp
    }

    /// The prior of the original intercept when the sampler's intercept coordinate is the
    /// mean level of the expected target over the training window: the intercept at the
    /// regressors' training means plus the mean contributions of the channels sampled in
    /// those coordinates. Then icpt' = u0 - sum_c beta_c m_c and
    /// icpt = icpt' - sum_k gamma_k zbar_k, a shift with unit Jacobian.
    #[inline]
    fn centered_intercept_prior(&self, grad: &mut [f64], s: &mut Scratch) -> f64 {
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
        grad[INTERCEPT] += dlp;
        for (k, zbar) in self.regressor_means.iter().enumerate() {
            let i = self.regressor_index(k);
            grad[i] -= dlp * zbar * s.dtheta[i];
        }
        lp
    }

    /// The log likelihood of the training window. Each branch turns `s.mu` (the linear
    /// predictor less the intercept) into d loglik / d eta_t and adds the noise parameters'
    /// gradients.
    #[inline]
    fn likelihood_terms(&self, grad: &mut [f64], s: &mut Scratch) -> f64 {
        let nt = self.n_train;
        let theta = &s.theta;
        let icpt = theta[INTERCEPT];
        let si = self.noise_at;
        match self.likelihood {
            Likelihood::Normal | Likelihood::LogNormal => {
                // -n ln sigma - sum r^2 / (2 sigma^2), on y (Normal) or ln y (LogNormal; the
                // -sum ln y of the change of variables is a constant).
                let sigma = theta[si];
                let inv_var = 1.0 / (sigma * sigma);
                for (m, y) in s.mu.iter_mut().zip(&self.y) {
                    *m = y - icpt - *m;
                }
                let ss = kernels::dot(&s.mu, &s.mu);
                for m in s.mu.iter_mut() {
                    *m *= inv_var; // mu now holds d loglik / d mu_t
                }
                grad[si] += (-(nt as f64) / sigma + ss * inv_var / sigma) * s.dtheta[si];
                -(nt as f64) * sigma.ln() - 0.5 * ss * inv_var
            }
            Likelihood::StudentT => {
                let (sigma, nu) = (theta[si], theta[si + 1]);
                let (ll, d_sigma, d_nu) = student_t_loglik(&self.y, &mut s.mu, icpt, sigma, nu);
                grad[si] += d_sigma * s.dtheta[si];
                grad[si + 1] += d_nu * s.dtheta[si + 1];
                ll
            }
            Likelihood::Poisson => {
                // sum y eta - s e^eta (dropping -ln y! and y ln s).
                let mut ll = 0.0;
                for (m, y) in s.mu.iter_mut().zip(&self.y) {
                    let eta = icpt + *m;
                    let rate = self.target_scale * eta.exp();
                    ll += y * eta - rate;
                    *m = y - rate;
                }
                ll
            }
            Likelihood::NegativeBinomial => {
                let phi = theta[si];
                let (ll, d_phi) =
                    neg_binomial_loglik(&self.y, &mut s.mu, icpt + self.ln_scale, phi);
                grad[si] += d_phi * s.dtheta[si];
                ll
            }
        }
    }

    /// Chain d loglik / d eta_t (in `s.mu`) back to the intercept, the local level, the
    /// regressors and every channel's coefficient and curve parameters.
    #[inline]
    fn back_propagate(&self, grad: &mut [f64], s: &Scratch) {
        let nt = self.n_train;
        let g = &s.mu;
        grad[INTERCEPT] += kernels::sum(g) * s.dtheta[INTERCEPT];
        if let Some(at) = self.local_level_at {
            // d/d sigma = sum_t g_t S_t; d/d z_s = sigma sum_(t >= s) g_t.
            let sigma = s.theta[at];
            grad[at] += kernels::dot(g, &s.walk) * s.dtheta[at];
            let mut tail = 0.0;
            for t in (1..nt).rev() {
                tail += g[t];
                grad[at + t] += sigma * tail * s.dtheta[at + t];
            }
        }
        for (k, z) in self.regressors_train.iter().enumerate() {
            let i = self.regressor_index(k);
            grad[i] += kernels::dot(g, z) * s.dtheta[i];
        }
        for c in 0..self.channels.len() {
            self.channel_backward(c, grad, s);
        }
    }

    /// Channel c's part of [`Self::back_propagate`]: its coefficient and curve parameters,
    /// through the mean-contribution coordinate or the geo level intercept where they apply.
    #[inline]
    fn channel_backward(&self, c: usize, grad: &mut [f64], s: &Scratch) {
        let nt = self.n_train;
        let ch = &self.channels[c];
        let g = &s.mu;
        let (base, b) = (ch.at, ch.beta_at());
        let beta = s.theta[b];
        let np = ch.curve_params();
        let rows = &s.rows[ch.row_at * nt..(ch.row_at + np) * nt];
        for (j, row) in rows.chunks_exact(nt).enumerate() {
            grad[base + j] += beta * kernels::dot(g, row) * s.dtheta[base + j];
        }
        grad[b] += kernels::dot(g, &s.sat[c * nt..(c + 1) * nt]) * s.dtheta[b];
        if ch.mean_coordinate {
            // u_beta = u_cbar - ln m(p(u_p) for each curve parameter p).
            let g_beta = grad[b];
            for j in 0..np {
                grad[base + j] -= g_beta * s.chain[c][j] * s.dtheta[base + j];
            }
            if self.centered {
                // d icpt' / d u_cbar = -beta_c m_c.
                grad[b] -= grad[INTERCEPT] * s.level[c];
            }
            if ch.roas.is_some() {
                grad[b] += s.roas_grad[c];
            }
        } else if self.level_intercept {
            // d icpt / d beta_c = -m_c, d icpt / d p = -beta_c d m_c / d p.
            let g_icpt = grad[INTERCEPT];
            grad[b] -= g_icpt * s.mean_curve[c] * s.dtheta[b];
            for j in 0..np {
                grad[base + j] -= g_icpt * beta * s.chain[c][j] * s.dtheta[base + j];
            }
        }
    }
    /// [`Self::lift_window`], adding its gradient w.r.t. beta and the curve parameters to
    /// `grad` (before the mean-coordinate chain rule, like the likelihood's).
    #[inline]
    fn lift_test_terms(&self, grad: &mut [f64], s: &mut Scratch) -> f64 {
        let mut logp = 0.0;
        for test in &self.lift_tests {
            let ch = &self.channels[test.channel];
            let (base, b) = (ch.at, ch.beta_at());
            let (d, dd) = self.lift_window(test, s);
            let beta = s.theta[b];
            let z = (beta * d - test.lift) / test.standard_error;
            logp -= 0.5 * z * z;
            let d_lift = -z / test.standard_error;
            grad[b] += d_lift * d * s.dtheta[b];
            for (j, dj) in dd.iter().enumerate().take(ch.curve_params()) {
                grad[base + j] += d_lift * beta * dj * s.dtheta[base + j];
            }
        }
        logp
    }

    /// D = sign * sum over the test's window of v_t - v'_t, with v the channel's curve and v'
    /// the same with the window's spend changed (more spend over less), and dD/dp for each
    /// curve parameter p; from the curves of the last [`Self::logp`] call.
    fn lift_window(&self, test: &LiftTest, s: &mut Scratch) -> (f64, [f64; MAX_CURVE_PARAMS]) {
        let nt = self.n_train;
        let ch = &self.channels[test.channel];
        let (base, b, np) = (ch.at, ch.beta_at(), ch.curve_params());
        let len = test.last + 1;
        let (cf_sat, cf_rows) = (&mut s.lift_sat[..len], &mut s.lift_rows[..np * len]);
        general_curve(
            &test.counterfactual,
            &s.theta[base..b],
            &mut s.curve,
            cf_sat,
            cf_rows,
        );
        let sat = &s.sat[test.channel * nt..(test.channel + 1) * nt];
        let rows = &s.rows[ch.row_at * nt..(ch.row_at + np) * nt];
        let window = test.first..=test.last;
        let d = test.sign * window.clone().map(|t| sat[t] - cf_sat[t]).sum::<f64>();
        let mut dd = [0.0; MAX_CURVE_PARAMS];
        for (j, dj) in dd.iter_mut().enumerate().take(np) {
            *dj = test.sign
                * window
                    .clone()
                    .map(|t| rows[j * nt + t] - cf_rows[j * len + t])
                    .sum::<f64>();
        }
        (d, dd)
    }

    /// A geo member's part `k` of a lift test over several geos: its lift beta D (model
    /// scale), with d(beta D)/du written into `grad` (every coordinate), from the state of
    /// the last [`Self::logp`] call.
    pub(crate) fn lift_part(&self, k: usize, grad: &mut [f64], s: &mut Scratch) -> f64 {
        let test = &self.lift_parts[k];
        let ch = &self.channels[test.channel];
        let (base, b) = (ch.at, ch.beta_at());
        let (d, dd) = self.lift_window(test, s);
        let beta = s.theta[b];
        grad.fill(0.0);
        grad[b] = d * s.dtheta[b];
        for (j, dj) in dd.iter().enumerate().take(ch.curve_params()) {
            grad[base + j] = beta * dj * s.dtheta[base + j];
        }
        beta * d
    }

    /// Model lift of each lift test at constrained `theta` (model scale), in spec order: the
    /// channel's term summed over the window with more spend minus with less.
    pub fn lift_test_predictions(&self, theta: &[f64]) -> Vec<f64> {
        self.lift_tests
            .iter()
            .map(|test| self.window_lift(test, theta))
            .collect()
    }

    /// The lift of a geo member's parts of lift tests over several geos at `theta` (model
    /// scale), in spec order.
    pub(crate) fn lift_part_predictions(&self, theta: &[f64]) -> Vec<f64> {
        self.lift_parts
            .iter()
            .map(|test| self.window_lift(test, theta))
            .collect()
    }

    /// The channel's term summed over the test's window minus the same with the window's spend
    /// changed (more spend over less), at constrained `theta` (model scale).
    fn window_lift(&self, test: &LiftTest, theta: &[f64]) -> f64 {
        let c = test.channel;
        let ch = &self.channels[c];
        // From the first history period (zeros without carry-in), so spend before the window
        // carries in as in the log density.
        let end = ch.l_max + test.last + 1;
        let (factual, counterfactual) = (&ch.padded[1..end], &test.counterfactual.padded[1..end]);
        let mut with = vec![0.0; factual.len()];
        let mut without = vec![0.0; factual.len()];
        self.direct_term_for_spend(theta, c, factual, &mut with);
        self.direct_term_for_spend(theta, c, counterfactual, &mut without);
        let at = ch.l_max - 1;
        test.sign
            * (test.first..=test.last)
                .map(|t| with[at + t] - without[at + t])
                .sum::<f64>()
    }

    /// Expected target (model scale: target / scales.target) for every period at constrained
    /// `theta`; the channels in `zeroed` have their spend set to zero before adstock (a
    /// counterfactual). This is the linear predictor for Normal and Student-t models,
    /// exp(eta + sigma^2 / 2) for LogNormal and exp(eta) for Poisson and NB.
    pub fn predict_mean(&self, theta: &[f64], zeroed: &[usize], out: &mut [f64]) {
        self.linear_predictor(theta, zeroed, out);
        self.expected_from_linear(theta, &mut out[..self.n]);
    }

    /// Turn linear-predictor values into expected responses (model scale) in place.
    pub fn expected_from_linear(&self, theta: &[f64], eta: &mut [f64]) {
        match self.likelihood {
            Likelihood::Normal | Likelihood::StudentT => {}
            Likelihood::LogNormal => {
                let sigma = theta[self.noise_at];
                let half_var = 0.5 * sigma * sigma;
                for e in eta.iter_mut() {
                    *e = (*e + half_var).exp();
                }
            }
            Likelihood::Poisson | Likelihood::NegativeBinomial => {
                for e in eta.iter_mut() {
                    *e = e.exp();
                }
            }
        }
    }

    /// Variance of one period's response (model scale) around its expectation `expected`
    /// (from [`Self::predict_mean`]) at constrained `theta`: sigma^2 (Normal),
    /// sigma^2 nu / (nu - 2) (Student-t, infinite for nu <= 2), (e^(sigma^2) - 1) E^2
    /// (LogNormal), E / s (Poisson) and E / s + E^2 / phi (NB), with s the target scale.
    pub fn predictive_variance(&self, theta: &[f64], expected: f64) -> f64 {
        match self.likelihood {
            Likelihood::Normal => {
                let sigma = theta[self.noise_at];
                sigma * sigma
            }
            Likelihood::StudentT => {
                let (sigma, nu) = (theta[self.noise_at], theta[self.noise_at + 1]);
                if nu > 2.0 {
                    sigma * sigma * nu / (nu - 2.0)
                } else {
                    f64::INFINITY
                }
            }
            Likelihood::LogNormal => {
                let sigma = theta[self.noise_at];
                (sigma * sigma).exp_m1() * expected * expected
            }
            Likelihood::Poisson => expected / self.target_scale,
            Likelihood::NegativeBinomial => {
                expected / self.target_scale + expected * expected / theta[self.noise_at]
            }
        }
    }

    /// The linear predictor eta (model scale) for every period at constrained `theta`, with the
    /// channels in `zeroed` switched off: intercept + regressors + channel terms.
    pub fn linear_predictor(&self, theta: &[f64], zeroed: &[usize], out: &mut [f64]) {
        let n = self.n;
        out[..n].fill(theta[INTERCEPT]);
        for (k, z) in self.regressors.iter().enumerate() {
            let g = theta[self.regressor_index(k)];
            for (o, zt) in out.iter_mut().zip(z) {
                *o += g * zt;
            }
        }
        if self.has_local_level() {
            let mut level = vec![0.0; n];
            self.local_level(theta, &mut level);
            for (o, l) in out[..n].iter_mut().zip(&level) {
                *o += l;
            }
        }
        let mut term = vec![0.0; n];
        for c in 0..self.channels.len() {
            if zeroed.contains(&c) {
                // The observed mediators include this channel's effect on them: remove it.
                if self.is_mediated(c) {
                    self.mediated_term(theta, c, &mut term);
                    for (o, v) in out.iter_mut().zip(&term) {
                        *o -= v;
                    }
                }
                continue;
            }
            self.direct_term(theta, c, &mut term);
            for (o, v) in out.iter_mut().zip(&term) {
                *o += v;
            }
        }
    }

    /// True when the baseline has a local level (random walk).
    pub fn has_local_level(&self) -> bool {
        self.local_level_at.is_some()
    }

    /// The local level sigma (z_1 + ... + z_t) at constrained `theta` for every period into
    /// `out` (model scale; 0 at the first period, held at its last training value after the
    /// training window: the random walk's forecast mean). Returns false, leaving `out` alone,
    /// when the model has no local level.
    pub fn local_level(&self, theta: &[f64], out: &mut [f64]) -> bool {
        let Some(at) = self.local_level_at else {
            return false;
        };
        let sigma = theta[at];
        let mut walk = 0.0;
        for (t, o) in out.iter_mut().enumerate().take(self.n) {
            if (1..self.n_train).contains(&t) {
                walk += theta[at + t];
            }
            *o = sigma * walk;
        }
        true
    }

    /// Channel c's total additive term of the expected target for every period: its direct
    /// term ([`Self::direct_term`]) plus its mediated term ([`Self::mediated_term`]).
    pub fn channel_term(&self, theta: &[f64], c: usize, out: &mut [f64]) {
        self.direct_term(theta, c, out);
        if self.is_mediated(c) {
            let mut mediated = vec![0.0; self.n];
            self.mediated_term(theta, c, &mut mediated);
            for (o, v) in out[..self.n].iter_mut().zip(&mediated) {
                *o += v;
            }
        }
    }

    /// Channel c's direct additive term of the expected target for every period,
    /// beta_c * v_c(x_c)_t (e.g. beta_c * logistic(lam_c * adstock(x_c, alpha_c)_t)), by direct
    /// convolution; the adstock includes the carry-in spend before period 0, if any.
    pub fn direct_term(&self, theta: &[f64], c: usize, out: &mut [f64]) {
        let ch = &self.channels[c];
        if ch.carry_in {
            let series = &ch.padded[1..];
            let mut full = vec![0.0; series.len()];
            self.direct_term_for_spend(theta, c, series, &mut full);
            out[..self.n].copy_from_slice(&full[ch.l_max - 1..]);
            return;
        }
        self.direct_term_for_spend(theta, c, &ch.padded[ch.l_max..], &mut out[..self.n]);
    }

    /// Channel c's total additive term (direct plus mediated) for any scaled spend series
    /// `spend` (zero before its first period), one value per period of `spend` written to
    /// `out`: the response to a plan. Spend before a plan's horizon carries in when the caller
    /// prepends it to `spend`.
    pub fn channel_term_for_spend(&self, theta: &[f64], c: usize, spend: &[f64], out: &mut [f64]) {
        self.direct_term_for_spend(theta, c, spend, out);
        if self.is_mediated(c) {
            self.add_mediated_for_spend(theta, c, spend, out);
        }
    }

    /// Channel c's direct term for the scaled spend series `spend` (see
    /// [`Self::channel_term_for_spend`]).
    fn direct_term_for_spend(&self, theta: &[f64], c: usize, spend: &[f64], out: &mut [f64]) {
        let ch = &self.channels[c];
        if !ch.fast {
            let n = spend.len().min(out.len());
            self.unit_curve(theta, c, &spend[..n], 1.0, &mut out[..n]);
            let beta = theta[ch.beta_at()];
            for o in &mut out[..n] {
                *o *= beta;
            }
            return;
        }
        let base = ch.at;
        let (alpha, lam, beta) = (theta[base], theta[base + 1], theta[base + 2]);
        let n = spend.len().min(out.len());
        // Plans and curves call this once per draw on short series: the weights live on the
        // stack for the usual lag windows, so a call allocates nothing.
        const ON_STACK: usize = 64;
        if ch.l_max <= ON_STACK {
            let (mut w, mut dw) = ([0.0; ON_STACK], [0.0; ON_STACK]);
            let (w, dw) = (&mut w[..ch.l_max], &mut dw[..ch.l_max]);
            geometric_weights(alpha, ch.normalize, w, dw);
            kernels::convolve_from_zero(&spend[..n], w, &mut out[..n]);
        } else {
            let (mut w, mut dw) = (vec![0.0; ch.l_max], vec![0.0; ch.l_max]);
            geometric_weights(alpha, ch.normalize, &mut w, &mut dw);
            kernels::convolve_from_zero(&spend[..n], &w, &mut out[..n]);
        }
        kernels::scaled_logistic_in_place(lam, beta, &mut out[..n]);
    }

    /// For each multiplier m, sum over the periods of `spend` (scaled, zero before its first
    /// period) of channel c's term when that spend is multiplied by m, written to `out`.
    /// Adstock is linear in spend, so it is computed once for all multipliers: a response curve.
    /// A mediated channel's totals include its mediated part.
    pub fn channel_totals_for_multipliers(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        multipliers: &[f64],
        out: &mut [f64],
    ) {
        self.direct_totals_for_multipliers(theta, c, spend, multipliers, out);
        if self.is_mediated(c) {
            self.add_mediated_totals(theta, c, multipliers, out, |m, th, j, o| {
                m.channel_totals_for_multipliers(th, j, spend, multipliers, o)
            });
        }
    }

    /// [`Self::channel_totals_for_multipliers`] of channel c's direct term alone.
    fn direct_totals_for_multipliers(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        multipliers: &[f64],
        out: &mut [f64],
    ) {
        let ch = &self.channels[c];
        if !ch.fast {
            let beta = theta[ch.beta_at()];
            let mut v = vec![0.0; spend.len()];
            for (o, m) in out.iter_mut().zip(multipliers) {
                self.unit_curve(theta, c, spend, *m, &mut v);
                *o = beta * kernels::sum(&v);
            }
            return;
        }
        let base = ch.at;
        let (alpha, lam, beta) = (theta[base], theta[base + 1], theta[base + 2]);
        let (mut w, mut dw) = (vec![0.0; ch.l_max], vec![0.0; ch.l_max]);
        geometric_weights(alpha, ch.normalize, &mut w, &mut dw);
        let mut padded = vec![0.0; ch.l_max + spend.len()];
        padded[ch.l_max..].copy_from_slice(spend);
        let mut adstock = vec![0.0; spend.len()];
        kernels::convolve(&padded, &w, &mut adstock);
        let n = multipliers.len().min(out.len());
        if let Some(step) = evenly_spaced_from_zero(&multipliers[..n]) {
            kernels::logistic_sums_on_grid(lam, step, &adstock, &mut out[..n]);
            for o in &mut out[..n] {
                *o *= beta;
            }
            return;
        }
        for (o, m) in out.iter_mut().zip(multipliers) {
            *o = beta * kernels::logistic_sum(lam * m, &adstock);
        }
    }

    /// For a channel whose totals need no counterfactual (an additive model, no carry-in
    /// spend, no mediators) with the vectorized kernels (geometric adstock, logistic
    /// saturation): its term summed over the first `window` periods of `spend` (the
    /// contribution, [`Self::channel_totals_for_multipliers`] of `spend[..window]` at 1), and
    /// d/dm of its term summed over all of `spend` at m times the spend, at m = 1 (the slope of
    /// the response curve with its carry-out: beta sum_t lam a_t (1 - v_t^2) / 2). One adstock
    /// pass and one exponential per week; `buf` is reused between calls. `None` for any other
    /// channel.
    pub fn window_total_and_slope(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        window: usize,
        buf: &mut Vec<f64>,
    ) -> Option<(f64, f64)> {
        let ch = &self.channels[c];
        if !ch.fast || ch.carry_in || !self.is_additive() || self.is_mediated(c) {
            return None;
        }
        if window > spend.len() {
            return None;
        }
        let (l_max, n) = (ch.l_max, spend.len());
        buf.clear();
        buf.resize(2 * l_max + n, 0.0);
        let (w, rest) = buf.split_at_mut(l_max);
        let (dw, adstock) = rest.split_at_mut(l_max);
        let base = ch.at;
        let (alpha, lam, beta) = (theta[base], theta[base + 1], theta[base + 2]);
        geometric_weights(alpha, ch.normalize, w, dw);
        kernels::convolve_from_zero(spend, w, adstock);
        let (total, slope) = kernels::logistic_sum_and_slope(lam, adstock, window);
        Some((beta * total, beta * slope))
    }

    /// Expected response (model scale) at one linear-predictor value `eta`; see
    /// [`Self::predict_mean`].
    pub fn expected_at(&self, theta: &[f64], eta: f64) -> f64 {
        match self.likelihood {
            Likelihood::Normal | Likelihood::StudentT => eta,
            Likelihood::LogNormal => {
                let sigma = theta[self.noise_at];
                (eta + 0.5 * sigma * sigma).exp()
            }
            Likelihood::Poisson | Likelihood::NegativeBinomial => eta.exp(),
        }
    }

    /// For each multiplier m, the sum over the periods of `spend` (scaled, aligned with the
    /// model's periods from the first one; before it the channel's carry-in spend, zero
    /// without) of the expected response with channel c's spend replaced by m times `spend`
    /// minus the expected response with it at zero, every other input as observed (the
    /// carry-in too: it is not multiplied): the counterfactual response curve, on the model
    /// scale, written to `out`. Without carry-in and for an additive model this is
    /// [`Self::channel_totals_for_multipliers`] exactly. Otherwise the rest of the linear
    /// predictor at periods past the data is held at its value in the last period.
    /// A mediated channel's curve adds gamma times its curve in each mediator's equation
    /// (mediators need an additive likelihood, so the parts add up).
    pub fn response_totals_for_multipliers(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        multipliers: &[f64],
        out: &mut [f64],
    ) {
        self.direct_response_totals(theta, c, spend, multipliers, out);
        if self.is_mediated(c) {
            self.add_mediated_totals(theta, c, multipliers, out, |m, th, j, o| {
                m.response_totals_for_multipliers(th, j, spend, multipliers, o)
            });
        }
    }

    /// [`Self::response_totals_for_multipliers`] of channel c's direct term alone.
    fn direct_response_totals(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        multipliers: &[f64],
        out: &mut [f64],
    ) {
        if self.channels[c].carry_in {
            return self.response_totals_after_carry_in(theta, c, spend, multipliers, out);
        }
        if self.is_additive() {
            return self.direct_totals_for_multipliers(theta, c, spend, multipliers, out);
        }
        let ch = &self.channels[c];
        let beta = theta[ch.beta_at()];
        let mut others = vec![0.0; self.n];
        self.linear_predictor(theta, &[c], &mut others);
        let last = others.last().copied().unwrap_or(theta[INTERCEPT]);
        let other = |t: usize| others.get(t).copied().unwrap_or(last);
        let zero: f64 = (0..spend.len())
            .map(|t| self.expected_at(theta, other(t)))
            .sum();
        let mut v = vec![0.0; spend.len()];
        for (o, m) in out.iter_mut().zip(multipliers) {
            self.unit_curve(theta, c, spend, *m, &mut v);
            let with: f64 = v
                .iter()
                .enumerate()
                .map(|(t, v)| self.expected_at(theta, other(t) + beta * v))
                .sum();
            *o = with - zero;
        }
    }

    /// [`Self::response_totals_for_multipliers`] for a channel with carry-in spend: the curve
    /// with the carry-in as observed and m times `spend` after it, minus the curve with the
    /// carry-in alone.
    fn response_totals_after_carry_in(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        multipliers: &[f64],
        out: &mut [f64],
    ) {
        let history = self.carry_in_of(c);
        let beta = theta[self.channels[c].beta_at()];
        let n = spend.len();
        let mut v0 = vec![0.0; n];
        self.unit_curve_after(theta, c, history, &vec![0.0; n], &mut v0);
        let mut others = Vec::new();
        if !self.is_additive() {
            others = vec![0.0; self.n];
            self.linear_predictor(theta, &[c], &mut others);
        }
        let last = others.last().copied().unwrap_or(theta[INTERCEPT]);
        let other = |t: usize| others.get(t).copied().unwrap_or(last);
        let total = |v: &[f64]| -> f64 {
            if self.is_additive() {
                beta * kernels::sum(v)
            } else {
                v.iter()
                    .enumerate()
                    .map(|(t, v)| self.expected_at(theta, other(t) + beta * v))
                    .sum()
            }
        };
        let zero = total(&v0);
        let mut v = vec![0.0; n];
        for (o, m) in out.iter_mut().zip(multipliers) {
            let scaled: Vec<f64> = spend.iter().map(|x| m * x).collect();
            self.unit_curve_after(theta, c, history, &scaled, &mut v);
            *o = total(&v) - zero;
        }
    }

    /// Channel c's scaled spend over every period (the model's input, training and holdout).
    pub fn channel_spend(&self, c: usize) -> &[f64] {
        let ch = &self.channels[c];
        &ch.padded[ch.l_max..]
    }

    /// Channel c's scaled carry-in spend of the `carryover_periods(c) - 1` periods before
    /// period 0, oldest first (zeros where the data had none; all zeros without `data.start`).
    /// Its adstock reaches into the first periods: [`Self::channel_term`], the log density and
    /// predictions include it, and switching the channel off (`zeroed`) removes it too.
    pub fn channel_history(&self, c: usize) -> &[f64] {
        let ch = &self.channels[c];
        &ch.padded[1..ch.l_max]
    }

    /// Longest carry-over of channel c in periods (spend at t still acts at t + l_max - 1).
    pub fn carryover_periods(&self, c: usize) -> usize {
        self.channels[c].l_max
    }

    /// Log likelihood of each period's observed (scaled) target at constrained `theta`, over
    /// every period (training then holdout), written to `out`; `mean` is a work buffer.
    /// Pointwise values are what PSIS-LOO and WAIC need.
    ///
    /// Continuous likelihoods give the density of the scaled target (LogNormal includes the
    /// -ln y of the change of variables, so Normal, Student-t and LogNormal fits compare by
    /// LOO); Poisson and NB give the probability of the observed count.
    pub fn pointwise_log_likelihood(&self, theta: &[f64], mean: &mut [f64], out: &mut [f64]) {
        use special::ln_gamma;
        self.linear_predictor(theta, &[], mean);
        let half_ln_2pi = 0.5 * (2.0 * std::f64::consts::PI).ln();
        let rows = out.iter_mut().zip(mean.iter()).zip(&self.y_all);
        match self.likelihood {
            Likelihood::Normal | Likelihood::LogNormal => {
                let sigma = theta[self.noise_at];
                let log_norm = -sigma.ln() - half_ln_2pi;
                let log_normal = self.likelihood == Likelihood::LogNormal;
                for ((o, m), y) in rows {
                    let z = (y - m) / sigma;
                    *o = log_norm - 0.5 * z * z;
                    if log_normal {
                        *o -= y; // y holds ln(target / s)
                    }
                }
            }
            Likelihood::StudentT => {
                let (sigma, nu) = (theta[self.noise_at], theta[self.noise_at + 1]);
                let c = ln_gamma(0.5 * (nu + 1.0))
                    - ln_gamma(0.5 * nu)
                    - 0.5 * (nu * std::f64::consts::PI).ln()
                    - sigma.ln();
                for ((o, m), y) in rows {
                    let z = (y - m) / sigma;
                    *o = c - 0.5 * (nu + 1.0) * (z * z / nu).ln_1p();
                }
            }
            Likelihood::Poisson => {
                for ((o, eta), y) in rows {
                    let lm = eta + self.ln_scale;
                    let xlogm = if *y == 0.0 { 0.0 } else { y * lm };
                    *o = xlogm - lm.exp() - ln_gamma(y + 1.0);
                }
            }
            Likelihood::NegativeBinomial => {
                let phi = theta[self.noise_at];
                let lphi = phi.ln();
                let lg_phi = ln_gamma(phi);
                for ((o, eta), y) in rows {
                    let a = eta + self.ln_scale - lphi;
                    let sp = special::softplus(a);
                    *o = ln_gamma(y + phi) - lg_phi - ln_gamma(y + 1.0) - phi * sp + y * (a - sp);
                }
            }
        }
    }

    /// Observation noise scale sigma (model scale; log scale for LogNormal) at constrained
    /// `theta`; `None` for the count likelihoods, which have no sigma.
    pub fn sigma(&self, theta: &[f64]) -> Option<f64> {
        match self.likelihood {
            Likelihood::Normal | Likelihood::StudentT | Likelihood::LogNormal => {
                Some(theta[self.noise_at])
            }
            Likelihood::Poisson | Likelihood::NegativeBinomial => None,
        }
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
        Self::from_columns(batch, &model.param_names(), path)
    }

    /// Read a draws table's columns `names`, in that order.
    pub fn from_columns(
        batch: &arrow::array::RecordBatch,
        names: &[String],
        path: &std::path::Path,
    ) -> Result<Self, mmm_core::CoreError> {
        use mmm_core::columns::{f64_column, i64_column};
        let chain = i64_column(batch, "chain", path)?;
        let draw = i64_column(batch, "draw", path)?;
        let cols = names
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

/// The step h when `grid` is 0, h, 2h, ... (each within 1e-12 relative of k h), as response
/// curves use; `None` otherwise.
fn evenly_spaced_from_zero(grid: &[f64]) -> Option<f64> {
    let step = *grid.get(1)?;
    let on_grid = |(k, m): (usize, &f64)| (m - k as f64 * step).abs() <= 1e-12 * (k as f64 * step);
    (step > 0.0 && grid[0] == 0.0 && grid.iter().enumerate().all(on_grid)).then_some(step)
}

impl MmmModel {
    /// One posterior predictive draw per period on the response's model scale (target /
    /// scales.target): the expected target is written to `mean` and the draw to `out`
    /// (Normal: mean + Normal(0, sigma) noise; Student-t: mean + sigma t_nu; LogNormal:
    /// exp(eta + sigma z); Poisson and NB: a count drawn on the original scale, divided by s).
    pub fn predictive_draw<R: rand::Rng + ?Sized>(
        &self,
        theta: &[f64],
        rng: &mut R,
        mean: &mut [f64],
        out: &mut [f64],
    ) {
        let n = self.n.min(mean.len());
        self.linear_predictor(theta, &[], &mut mean[..n]);
        self.predictive_draw_from_linear(theta, rng, mean, out);
    }

    /// [`Self::predictive_draw`] with `mean` already holding the linear predictor of `theta`
    /// ([`Self::linear_predictor`]): the noise draws only, so the deterministic part can run
    /// apart (in parallel over draws) while the random stream stays in draw order.
    pub fn predictive_draw_from_linear<R: rand::Rng + ?Sized>(
        &self,
        theta: &[f64],
        rng: &mut R,
        mean: &mut [f64],
        out: &mut [f64],
    ) {
        use rand_distr::Distribution;
        let n = self.n.min(mean.len()).min(out.len());
        let (mean, out) = (&mut mean[..n], &mut out[..n]);
        // Past the training window the local level keeps walking: one path per draw, added to
        // the linear predictor the noise is drawn around (`mean` keeps the flat forecast).
        let walked: Option<Vec<f64>> = self.local_level_at.map(|at| {
            let mut eta = mean.to_vec();
            let mut w = 0.0;
            for e in &mut eta[self.n_train..] {
                let z: f64 = rand_distr::StandardNormal.sample(rng);
                w += theta[at] * z;
                *e += w;
            }
            eta
        });
        let eta: &[f64] = walked.as_deref().unwrap_or(mean);
        let s = self.target_scale;
        match self.likelihood {
            Likelihood::Normal => {
                let sigma = theta[self.noise_at];
                for (o, m) in out.iter_mut().zip(eta.iter()) {
                    let z: f64 = rand_distr::StandardNormal.sample(rng);
                    *o = m + sigma * z;
                }
            }
            Likelihood::StudentT => {
                let (sigma, nu) = (theta[self.noise_at], theta[self.noise_at + 1]);
                let t = rand_distr::StudentT::new(nu).ok();
                for (o, m) in out.iter_mut().zip(eta.iter()) {
                    *o = match &t {
                        Some(t) => m + sigma * t.sample(rng),
                        None => f64::NAN,
                    };
                }
            }
            Likelihood::LogNormal => {
                let sigma = theta[self.noise_at];
                for (o, m) in out.iter_mut().zip(eta.iter()) {
                    let z: f64 = rand_distr::StandardNormal.sample(rng);
                    *o = (m + sigma * z).exp();
                }
            }
            Likelihood::Poisson => {
                for (o, m) in out.iter_mut().zip(eta.iter()) {
                    *o = poisson_draw(s * m.exp(), rng) / s;
                }
            }
            Likelihood::NegativeBinomial => {
                // Gamma-Poisson mixture: rate ~ Gamma(shape phi, scale m / phi).
                let phi = theta[self.noise_at];
                for (o, m) in out.iter_mut().zip(eta.iter()) {
                    let count = s * m.exp();
                    let rate = match rand_distr::Gamma::new(phi, count / phi) {
                        Ok(g) => g.sample(rng),
                        Err(_) => f64::NAN,
                    };
                    *o = poisson_draw(rate, rng) / s;
                }
            }
        }
        self.expected_from_linear(theta, mean);
    }
}

/// The general (not fused) channel path of the log density: channel `ch`'s curve v_t
/// (beta = 1) over the training window into `sat` (its length), and dv_t/dp for each curve
/// parameter p (adstock parameters, then saturation parameters) into consecutive rows of
/// `rows`, each `sat.len()` long. `params` holds the curve parameters in that order.
///
/// Adstock first: a = w * x, v = s(a), dv/dp_adstock = s'(a) (dw/dp * x),
/// dv/dp_saturation = ds/dp(a). Saturation first: v = w * s(x), dv/dp_adstock = dw/dp * s(x),
/// dv/dp_saturation = w * ds/dp(x) (`*` the causal convolution).
fn general_curve(
    ch: &ChannelInput,
    params: &[f64],
    buf: &mut CurveBuffers,
    sat: &mut [f64],
    rows: &mut [f64],
) {
    let nt = sat.len();
    let l_max = ch.l_max;
    let na = ch.adstock.parameter_count();
    let ns = ch.saturation.parameter_count();
    let (ap, sp) = params.split_at(na);
    let (w, d0, d1) = (
        &mut buf.w[..l_max],
        &mut buf.d0[..l_max],
        &mut buf.d1[..l_max],
    );
    ch.adstock.weights(ap, w, d0, d1);
    let (row_a0, rest) = rows.split_at_mut(nt);
    if ch.saturation_first {
        let len = l_max + nt;
        let (sx, ds0, ds1) = (&mut buf.sx[..len], &mut buf.ds0[..len], &mut buf.ds1[..len]);
        for (i, x) in ch.padded[..len].iter().enumerate() {
            let (v, _, dp) = ch.saturation.grad(*x, sp);
            sx[i] = v;
            ds0[i] = dp[0];
            ds1[i] = dp[1];
        }
        kernels::convolve_with_derivative(sx, w, d0, sat, row_a0);
        let mut rest = rest.chunks_exact_mut(nt);
        if na == 2
            && let Some(row) = rest.next()
        {
            kernels::convolve(sx, d1, row);
        }
        for ds in [&*ds0, &*ds1].into_iter().take(ns) {
            if let Some(row) = rest.next() {
                kernels::convolve(ds, w, row);
            }
        }
    } else {
        kernels::convolve_with_derivative(&ch.padded, w, d0, sat, row_a0);
        let (mut row_a1, row_s) = if na == 2 {
            let (a1, s) = rest.split_at_mut(nt);
            kernels::convolve(&ch.padded, d1, a1);
            (Some(a1), s)
        } else {
            (None, rest)
        };
        let (row_s0, row_s1) = row_s.split_at_mut(nt);
        for t in 0..nt {
            let (v, dx, dp) = ch.saturation.grad(sat[t], sp);
            sat[t] = v;
            row_a0[t] *= dx;
            if let Some(a1) = row_a1.as_deref_mut() {
                a1[t] *= dx;
            }
            row_s0[t] = dp[0];
            if ns == 2 {
                row_s1[t] = dp[1];
            }
        }
    }
}

/// Observations on the likelihood's scale from the scaled target: the scaled target itself
/// (Normal, Student-t), its logarithm (LogNormal, which needs y > 0) or the integer counts
/// `round(y s)` (Poisson, NB, which need y s to be a non-negative integer up to rounding error).
fn likelihood_observations(
    likelihood: Likelihood,
    target_scaled: &[f64],
    scale: f64,
) -> Result<Vec<f64>, ModelError> {
    target_scaled
        .iter()
        .enumerate()
        .map(|(t, &v)| match likelihood {
            Likelihood::Normal | Likelihood::StudentT => Ok(v),
            Likelihood::LogNormal => {
                if v > 0.0 && v.is_finite() {
                    Ok(v.ln())
                } else {
                    Err(ModelError::Mismatch(format!(
                        "the log_normal likelihood needs a positive target; period {t} has {}",
                        v * scale
                    )))
                }
            }
            Likelihood::Poisson | Likelihood::NegativeBinomial => {
                let c = v * scale;
                let k = c.round();
                if c.is_finite() && k >= 0.0 && (c - k).abs() <= 1e-6 * k.max(1.0) {
                    Ok(k)
                } else {
                    Err(ModelError::Mismatch(format!(
                        "the {} likelihood needs a non-negative integer target; period {t} has {c}",
                        likelihood.name()
                    )))
                }
            }
        })
        .collect()
}

/// Student-t log likelihood of `y` at locations `icpt + mu_t` (without the constant
/// -n ln(pi) / 2), with d/d sigma and d/d nu; `mu` is overwritten by d loglik / d eta_t.
fn student_t_loglik(y: &[f64], mu: &mut [f64], icpt: f64, sigma: f64, nu: f64) -> (f64, f64, f64) {
    // ln p = lnG((nu+1)/2) - lnG(nu/2) - ln(nu)/2 - ln sigma - (nu+1)/2 ln(1 + r^2 / (nu sigma^2))
    let nu_s2 = nu * sigma * sigma;
    let inv_nu_s2 = 1.0 / nu_s2;
    let (mut sum_log, mut sum_w) = (0.0, 0.0);
    for (m, y) in mu.iter_mut().zip(y) {
        let r = y - icpt - *m;
        let q = r * r;
        let d = nu_s2 + q;
        sum_log += (q * inv_nu_s2).ln_1p();
        sum_w += q / d; // r^2 / (nu sigma^2 + r^2)
        *m = (nu + 1.0) * r / d;
    }
    let n = y.len() as f64;
    let half = 0.5 * (nu + 1.0);
    let ll = n
        * (special::ln_gamma(half) - special::ln_gamma(0.5 * nu) - 0.5 * nu.ln() - sigma.ln())
        - half * sum_log;
    let d_sigma = (-n + (nu + 1.0) * sum_w) / sigma;
    let d_nu = n * 0.5 * (special::digamma(half) - special::digamma(0.5 * nu) - 1.0 / nu)
        - 0.5 * sum_log
        + half / nu * sum_w;
    (ll, d_sigma, d_nu)
}

/// Negative-binomial log likelihood of counts `y` with means m_t = exp(lm0 + mu_t) and
/// dispersion phi (without the constant -sum ln y!), with d/d phi; `mu` is overwritten by
/// d loglik / d eta_t = y - (y + phi) m / (m + phi).
fn neg_binomial_loglik(y: &[f64], mu: &mut [f64], lm0: f64, phi: f64) -> (f64, f64) {
    // ln p = lnG(y+phi) - lnG(phi) + phi ln(phi/(m+phi)) + y ln(m/(m+phi)); with
    // a = ln m - ln phi and sp = ln(1 + e^a) = ln(m+phi) - ln phi, the last two terms are
    // -phi sp + y (a - sp).
    let lphi = phi.ln();
    let (lg_phi, psi_phi) = (special::ln_gamma(phi), special::digamma(phi));
    let (mut ll, mut d_phi) = (0.0, 0.0);
    for (m, &y) in mu.iter_mut().zip(y) {
        let a = lm0 + *m - lphi;
        let sp = special::softplus(a);
        let p = special::logistic(a); // m / (m + phi)
        ll += special::ln_gamma(y + phi) - lg_phi - phi * sp + y * (a - sp);
        d_phi += special::digamma(y + phi) - psi_phi - sp + 1.0 - (y + phi) * (1.0 - p) / phi;
        *m = y - (y + phi) * p;
    }
    (ll, d_phi)
}

/// One Poisson draw with mean `rate` (0 for a zero rate, NaN for a negative or NaN one; a
/// rounded normal approximation beyond rand_distr's largest rate).
fn poisson_draw<R: rand::Rng + ?Sized>(rate: f64, rng: &mut R) -> f64 {
    use rand_distr::Distribution;
    if rate == 0.0 {
        return 0.0;
    }
    if rate.is_nan() || rate < 0.0 || rate == f64::INFINITY {
        return f64::NAN;
    }
    match rand_distr::Poisson::new(rate) {
        Ok(p) => p.sample(rng),
        Err(_) => {
            let z: f64 = rand_distr::StandardNormal.sample(rng);
            (rate + rate.sqrt() * z).round().max(0.0)
        }
    }
}

/// Bind lift tests (with their spec indices) to the design's periods (each window inside the
/// training window) and to a counterfactual channel input. Without `allow_unspent`, the
/// channel needs spend in the window; a geo's part of a test over several geos may have none.
fn bind_lift_tests<'a>(
    spec: &Spec,
    design: &Design,
    channels: &[ChannelInput],
    tests: impl Iterator<Item = (usize, &'a mmm_core::spec::LiftTestSpec)>,
    allow_unspent: bool,
) -> Result<Vec<LiftTest>, ModelError> {
    let period_days = spec.data.period_days as i32;
    let scale = design.scales.target;
    tests
        .map(|(i, test)| {
            let problem =
                |message: String| ModelError::Mismatch(format!("lift_tests[{i}]: {message}"));
            let c = spec
                .channels
                .iter()
                .position(|ch| ch.name == test.channel)
                .ok_or_else(|| problem(format!("'{}' is not a channel", test.channel)))?;
            let period = |text: &str| {
                mmm_core::dates::parse_day(text)
                    .and_then(|day| {
                        mmm_features::baseline::period_of(&design.dates, period_days, day)
                    })
                    .ok_or_else(|| problem(format!("{text} is not inside the data")))
            };
            let (first, last) = (period(&test.start)?, period(&test.end)?);
            if last >= design.n_train {
                return Err(problem(format!(
                    "the window must lie inside the training window, which ends before period {}",
                    design.n_train
                )));
            }
            let ch = &channels[c];
            let mut counterfactual = ch.clone();
            counterfactual.fast = false;
            let spend = &mut counterfactual.padded[ch.l_max..];
            let spent = spend[first..=last].iter().any(|x| *x != 0.0);
            if !spent && !allow_unspent {
                return Err(problem(format!(
                    "channel '{}' has no spend from {} to {}, so the test measures nothing",
                    test.channel, test.start, test.end
                )));
            }
            for x in &mut spend[first..=last] {
                *x *= 1.0 + test.spend_change;
            }
            Ok(LiftTest {
                spec_index: i,
                spent,
                channel: c,
                first,
                last,
                lift: test.lift / scale,
                standard_error: test.standard_error / scale,
                sign: if test.spend_change < 0.0 { 1.0 } else { -1.0 },
                counterfactual,
            })
        })
        .collect()
}
