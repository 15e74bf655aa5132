//! Building the model from a spec and its design: the parameter vector (intercept, each
//! channel's curve and coefficient, regressors, noise, local level), the channels' padded
//! spend, the intercept's centering and the lift tests.

use mmm_core::Spec;
use mmm_core::spec::{ChannelSpec, ExpectedSign, LikelihoodSpec, Prior, TransformOrder, TrendKind};
use mmm_features::Design;
use mmm_features::transforms::{Adstock, Saturation};

use crate::prior::Bijection;
use crate::{
    ChannelInput, INTERCEPT, Likelihood, MmmModel, ModelError, ParamInfo, RoasPrior,
    bind_lift_tests, likelihood_observations, mediated,
};

fn mismatch(message: String) -> ModelError {
    ModelError::Mismatch(message)
}

/// A parameter with its prior's bijection and a positive sign.
fn param(name: impl Into<String>, prior: Prior) -> ParamInfo {
    ParamInfo {
        name: name.into(),
        prior,
        bijection: Bijection::for_prior(&prior),
        sign: 1.0,
    }
}

impl MmmModel {
    /// Build the model from a spec and its design.
    pub fn new(spec: &Spec, design: &Design) -> Result<Self, ModelError> {
        check_shape(spec, design)?;
        let mut params = vec![param("intercept", spec.intercept.prior)];
        let mut channels = Vec::new();
        let mut row_at = 0;
        for (c, ch) in spec.channels.iter().enumerate() {
            let input = channel_input(spec, design, c, params.len(), row_at)?;
            row_at += input.curve_params();
            channels.push(input);
            params.extend(channel_params(ch));
        }
        let regressors_at = params.len();
        params.extend(regressor_params(spec, design)?);
        let (likelihood, noise) = noise_params(&spec.likelihood);
        let noise_at = params.len();
        params.extend(noise);
        let local_level_at = (spec.trend.kind == TrendKind::LocalLevel).then_some(params.len());
        if local_level_at.is_some() {
            params.extend(local_level_params(spec, design)?);
        }
        let target_scale = checked_target_scale(design)?;
        let y_all = likelihood_observations(likelihood, &design.target_scaled, target_scale)?;
        let centering = Centering::of(&params, design);
        let mut deferred_prior = vec![false; params.len()];
        for ch in &channels {
            deferred_prior[ch.beta_at()] = ch.mean_coordinate;
        }
        // A test naming a geo belongs to that geo's member of a hierarchy (`geo_member`).
        let national_tests = spec
            .lift_tests
            .iter()
            .enumerate()
            .filter(|(_, t)| t.geo.is_none() && t.geos.is_empty());
        let lift_tests = bind_lift_tests(spec, design, &channels, national_tests, false)?;
        let mut model = Self {
            n: design.len(),
            n_train: design.n_train,
            likelihood,
            target_scale,
            ln_scale: target_scale.ln(),
            y: y_all[..design.n_train].to_vec(),
            y_all,
            noise_at,
            channels,
            regressors: design.regressors.clone(),
            regressors_train: centering.train,
            regressor_means: centering.means,
            centered: centering.centered,
            regressors_at,
            deferred_prior,
            params,
            channel_names: design.channel_names.clone(),
            lift_tests,
            lift_parts: Vec::new(),
            local_level_at,
            likelihood_only: false,
            level_intercept: false,
            mediators: Vec::new(),
            joint_params: Vec::new(),
        };
        model.add_mediators(spec, design)?;
        Ok(model)
    }

    /// The mediators' equations after the target's parameters (module `mediated`).
    fn add_mediators(&mut self, spec: &Spec, design: &Design) -> Result<(), ModelError> {
        if spec.mediators.is_empty() {
            return Ok(());
        }
        let gamma_first = self.regressors_at + spec.controls.len();
        self.mediators = mediated::build(spec, design, self.params.len(), gamma_first)?;
        self.joint_params = self.params.clone();
        for m in &self.mediators {
            self.joint_params.extend(m.joint_params());
        }
        Ok(())
    }
}

/// The design has the spec's channels and a training window inside its periods.
fn check_shape(spec: &Spec, design: &Design) -> Result<(), ModelError> {
    if design.channels.len() != spec.channels.len() {
        return Err(mismatch("channel count differs".into()));
    }
    if design.n_train == 0 || design.n_train > design.len() {
        return Err(mismatch(format!(
            "training window of {} periods",
            design.n_train
        )));
    }
    Ok(())
}

/// Channel c's spend padded with its carry-in (the last l_max - 1 pre-window periods, zeros
/// where there are none), its transforms and the coordinates it is sampled in.
fn channel_input(
    spec: &Spec,
    design: &Design,
    c: usize,
    at: usize,
    row_at: usize,
) -> Result<ChannelInput, ModelError> {
    let (ch, x) = (&spec.channels[c], &design.channels[c]);
    let n = design.len();
    if x.len() != n {
        return Err(mismatch(format!(
            "channel '{}' has {} periods, the design {n}",
            ch.name,
            x.len()
        )));
    }
    let l_max = ch.adstock.l_max();
    if l_max == 0 {
        return Err(mismatch(format!(
            "channel '{}' has an adstock with l_max = 0",
            ch.name
        )));
    }
    let (padded, carry_in) = padded_spend(ch, design.carry_in.channel(c), x, l_max)?;
    let adstock = Adstock::from_spec(&ch.adstock);
    let saturation = Saturation::from_spec(&ch.saturation);
    let saturation_first = ch.order == TransformOrder::SaturationFirst;
    // Spend in the training window is needed for a positive mean contribution.
    let trained = x[..design.n_train.min(x.len())].iter().any(|v| *v > 0.0);
    let roas = roas_prior(spec, design, ch, x, trained)?;
    let positive_beta = matches!(
        Bijection::for_prior(ch.saturation.beta_prior()),
        Bijection::Lower(a) if a == 0.0
    );
    Ok(ChannelInput {
        padded,
        carry_in,
        l_max,
        normalize: ch.adstock.normalize(),
        adstock,
        saturation,
        saturation_first,
        fast: matches!(adstock, Adstock::Geometric { .. })
            && saturation == Saturation::Logistic
            && !saturation_first,
        at,
        row_at,
        mean_coordinate: roas.is_some() || trained && positive_beta,
        roas,
    })
}

/// l_max leading values (zeros, then the last carry-in spend that lags reach: l_max - 1
/// periods back) followed by the spend `x`; and whether any carry-in is non-zero.
fn padded_spend(
    ch: &ChannelSpec,
    history: &[f64],
    x: &[f64],
    l_max: usize,
) -> Result<(Vec<f64>, bool), ModelError> {
    if history.iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
        return Err(mismatch(format!(
            "channel '{}' has carry-in spend that is negative or not a number",
            ch.name
        )));
    }
    let kept = history.len().min(l_max - 1);
    let mut padded = vec![0.0; l_max];
    padded[l_max - kept..].copy_from_slice(&history[history.len() - kept..]);
    let carry_in = padded.iter().any(|v| *v != 0.0);
    padded.extend_from_slice(x);
    Ok((padded, carry_in))
}

/// A channel's ROAS prior with ln K, K = n_train x target scale / training spend (so that
/// ROAS = K x mean contribution); it needs training spend and an additive likelihood.
fn roas_prior(
    spec: &Spec,
    design: &Design,
    ch: &ChannelSpec,
    x: &[f64],
    trained: bool,
) -> Result<Option<RoasPrior>, ModelError> {
    let Some(prior) = &ch.roas_prior else {
        return Ok(None);
    };
    let scaled: f64 = x[..design.n_train.min(x.len())].iter().sum();
    let scale = design.scales.channels.get(&ch.name).copied();
    let spend = scaled * scale.unwrap_or(f64::NAN);
    let k = design.n_train as f64 * design.scales.target / spend;
    if !(trained && k.is_finite() && k > 0.0) {
        return Err(mismatch(format!(
            "channel '{}' has a roas_prior but no spend in the training window",
            ch.name
        )));
    }
    if !spec.likelihood.is_additive() {
        return Err(mismatch(format!(
            "channel '{}' has a roas_prior, which needs an additive likelihood",
            ch.name
        )));
    }
    Ok(Some(RoasPrior {
        prior: *prior,
        ln_k: k.ln(),
    }))
}

/// A channel's parameters: its adstock's, its saturation's, then beta (positive through
/// `Lower(0)` when a ROAS prior sets it).
fn channel_params(ch: &ChannelSpec) -> Vec<ParamInfo> {
    let curve = ch
        .adstock
        .parameters()
        .into_iter()
        .chain(ch.saturation.parameters())
        .map(|(stem, _, prior)| (stem, prior));
    curve
        .chain([("beta", ch.saturation.beta_prior())])
        .map(|(stem, prior)| {
            let bijection = if stem == "beta" && ch.roas_prior.is_some() {
                Bijection::Lower(0.0)
            } else {
                Bijection::for_prior(prior)
            };
            ParamInfo {
                name: format!("{stem}[{}]", ch.name),
                prior: *prior,
                bijection,
                sign: 1.0,
            }
        })
        .collect()
}

/// One coefficient `gamma_NAME` per design regressor: controls, mediators, Fourier terms,
/// then the baseline terms, each with its prior and sign.
fn regressor_params(spec: &Spec, design: &Design) -> Result<Vec<ParamInfo>, ModelError> {
    let control_priors = spec
        .controls
        .iter()
        .map(|c| (c.prior, c.expected_sign))
        .chain(
            spec.mediators
                .iter()
                .map(|m| (m.effect_prior, m.expected_sign)),
        );
    let fourier = std::iter::repeat_n(
        (spec.seasonality.prior, ExpectedSign::Unconstrained),
        2 * spec.seasonality.fourier_order,
    );
    let baseline = mmm_features::baseline::priors(spec)
        .into_iter()
        .map(|p| (p, ExpectedSign::Unconstrained));
    let priors: Vec<_> = control_priors.chain(fourier).chain(baseline).collect();
    if priors.len() != design.regressor_names.len() {
        return Err(mismatch(format!(
            "the spec implies {} regressors, the design has {}",
            priors.len(),
            design.regressor_names.len()
        )));
    }
    Ok(design
        .regressor_names
        .iter()
        .zip(priors)
        .map(|(name, (prior, sign))| ParamInfo {
            sign: if sign == ExpectedSign::Negative {
                -1.0
            } else {
                1.0
            },
            ..param(format!("gamma_{name}"), prior)
        })
        .collect())
}

/// The likelihood family and its noise parameters (sigma; sigma and nu; phi; none).
fn noise_params(spec: &LikelihoodSpec) -> (Likelihood, Vec<ParamInfo>) {
    let (likelihood, noise): (Likelihood, Vec<(&str, Prior)>) = match spec {
        LikelihoodSpec::Normal { sigma_prior } => {
            (Likelihood::Normal, vec![("sigma", *sigma_prior)])
        }
        LikelihoodSpec::StudentT {
            sigma_prior,
            nu_prior,
        } => (
            Likelihood::StudentT,
            vec![("sigma", *sigma_prior), ("nu", *nu_prior)],
        ),
        LikelihoodSpec::LogNormal { sigma_prior } => {
            (Likelihood::LogNormal, vec![("sigma", *sigma_prior)])
        }
        LikelihoodSpec::Poisson => (Likelihood::Poisson, vec![]),
        LikelihoodSpec::NegativeBinomial { phi_prior } => {
            (Likelihood::NegativeBinomial, vec![("phi", *phi_prior)])
        }
    };
    let params = noise.into_iter().map(|(n, p)| param(n, p)).collect();
    (likelihood, params)
}

/// The local level's `level_sigma` and its standard-normal steps z_1..z_(n_train - 1).
fn local_level_params(spec: &Spec, design: &Design) -> Result<Vec<ParamInfo>, ModelError> {
    if design.n_train < 2 {
        return Err(mismatch(
            "a local level needs at least two training periods".into(),
        ));
    }
    let step = Prior::Normal {
        mu: 0.0,
        sigma: 1.0,
    };
    let steps = design.dates[1..design.n_train].iter().map(|day| ParamInfo {
        bijection: Bijection::Identity,
        ..param(format!("level_step[{}]", mmm_core::dates::iso(*day)), step)
    });
    Ok(
        std::iter::once(param("level_sigma", spec.trend.level_sigma_prior))
            .chain(steps)
            .collect(),
    )
}

/// The target's scale, positive and finite, with a target value per period and a column per
/// regressor name.
fn checked_target_scale(design: &Design) -> Result<f64, ModelError> {
    let target_scale = design.scales.target;
    if !(target_scale.is_finite() && target_scale > 0.0) {
        return Err(mismatch(format!(
            "target scale {target_scale} is not a positive number"
        )));
    }
    if design.target_scaled.len() != design.len() {
        return Err(mismatch("target and dates have different lengths".into()));
    }
    if design.regressors.len() != design.regressor_names.len() {
        return Err(mismatch("regressor names and columns differ".into()));
    }
    Ok(target_scale)
}

/// The intercept sampled at the regressors' training means.
///
/// Regressors far from zero mean (a price index near 1, a trend) are nearly collinear with the
/// intercept; sampling the intercept at the regressors' means removes that ridge without
/// changing the posterior. Only an intercept on the whole real line can be shifted this way.
struct Centering {
    centered: bool,
    /// Each regressor's training mean (0 when not centered).
    means: Vec<f64>,
    /// Each regressor's training window minus its mean.
    train: Vec<Vec<f64>>,
}

impl Centering {
    fn of(params: &[ParamInfo], design: &Design) -> Self {
        let centered = matches!(params[INTERCEPT].bijection, Bijection::Identity);
        let nt = design.n_train;
        let means: Vec<f64> = design
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
        let train = design
            .regressors
            .iter()
            .zip(&means)
            .map(|(z, m)| z[..nt].iter().map(|v| v - m).collect())
            .collect();
        Self {
            centered,
            means,
            train,
        }
    }
}
