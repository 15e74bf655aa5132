//! The geo hierarchy: one [`MmmModel`] per geo bound to the geo's design, tied together by
//! partial pooling.
//!
//! Every parameter of the national model is either shared by all geos or pooled. A pooled
//! parameter is non-centered, `u_g = mu + tau * z_g`, with:
//! - `mu` the shared mean (the national parameter, with the spec's prior);
//! - `tau ~` the spec's geo pooling prior, the spread across geos;
//! - `z_g ~ Normal(0, 1)`.
//!
//! The exception is the intercept, which is centered by default: `u_g ~ Normal(mu, tau)` is a
//! parameter itself.
//!
//! Pooling acts on the sampler's coordinate:
//! - ln beta for the positive channel coefficients (a geo's beta is the typical geo's times
//!   e^(tau z_g));
//! - the logit or log of bounded curve parameters;
//! - the value itself for Fourier coefficients;
//! - for the intercept, the geo's mean level with its media contributions in (see
//!   [`MmmModel::geo_member`]).
//!
//! The joint log density is the sum of the priors and every geo's likelihood. Each geo's
//! gradient w.r.t. its own coordinates is chained back through `d u_g / d mu = 1`,
//! `d u_g / d ln tau = tau z_g` and `d u_g / d z_g = tau`.
//!
//! Two more coordinates help the sampler:
//! - As in the national model, a positive channel's typical coefficient moves in a
//!   mean-contribution coordinate, `v = ln beta + ln m(curve)`, with m the mean training curve
//!   of the geos' average spend. The data pin down the contribution, while beta and a weak
//!   channel's saturation trade off along a curved ridge that this straightens.
//! - A non-centered pooled mean moves as the average geo's, `a = mu + tau mean(z)`.
//!
//! Both maps are triangular with a unit diagonal, so they add no Jacobian.
//!
//! A channel's `roas_prior` is a prior on the typical geo's training-window ROAS: the ROAS of a
//! geo of mean size whose size-adjusted spend is the geos' average, with the pooled mean of
//! every parameter, r = K exp(v - tau zbar) with K = n_train s_target / (training spend in
//! currency) of that geo. It replaces the typical beta's prior, as it does nationally.
//!
//! A lift test names the geo where the experiment ran (a term of that geo's likelihood) or,
//! for an experiment over several geos, the geos whose summed lift it measured: then each
//! geo's part is its own counterfactual lift over the window, L_g = s_g beta_g D_g (s_g the
//! geo's target scale), and the term is -((sum_g L_g - lift) / se)^2 / 2, its gradient
//! reaching every geo's parameters through the same chain as the geo's likelihood.

use mmm_core::Spec;
use mmm_core::spec::{GeoParameterization, GeoPooling, GeoSpec, LikelihoodSpec, Prior};
use mmm_core::summary;
use mmm_features::panel::GeoDesign;

use crate::lprior::{GroupBuilder, PriorGroup, PriorGroupKind};
use crate::prior::{Bijection, log_prior};
use crate::{INTERCEPT, MAX_CURVE_PARAMS, MmmModel, ModelError, NonFinite, ParamInfo, Scratch};

/// How one national parameter varies over geos.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// One value for every geo.
    Shared,
    /// `u_g = u_mean + tau z_g`: `sd` is the index of tau's (log) coordinate, `z` of geo 0's z.
    Pooled { sd: usize, z: usize },
    /// `u_g ~ Normal(u_mean, tau)` is itself a parameter, at `first + g`.
    Centered { sd: usize, first: usize },
}

/// The joint model of a geo panel.
#[derive(Debug, Clone)]
pub struct GeoModel {
    geos: Vec<String>,
    members: Vec<MmmModel>,
    /// Global parameters: the national ones (shared values or pooled means), then the pooling
    /// spreads, then the geo deviations.
    params: Vec<ParamInfo>,
    /// Per national parameter.
    slots: Vec<Slot>,
    /// The national model on the geos' average spend: the curve behind the mean-contribution
    /// coordinates.
    reference: MmmModel,
    /// Channels whose typical beta is sampled in the mean-contribution coordinate: (channel,
    /// index of its first curve parameter, number of curve parameters, index of beta).
    mean_coordinate: Vec<(usize, usize, usize, usize)>,
    /// Parameters whose prior is evaluated after the mean-contribution change of variables.
    deferred: Vec<bool>,
    /// Centered geo values (their prior is Normal(mean, spread), not their ParamInfo's).
    centered_value: Vec<bool>,
    /// Per mean-coordinate channel: its ROAS prior and ln K, when the spec gives one.
    roas: Vec<Option<(Prior, f64)>>,
    /// Lift tests over several geos.
    shared_lifts: Vec<SharedLift>,
    /// Number of lift tests in the spec (every one names its geo or geos).
    lift_test_count: usize,
}

/// A lift test over several geos: their summed lift, measured (target units).
#[derive(Debug, Clone)]
struct SharedLift {
    /// Index in the spec's `lift_tests`.
    spec_index: usize,
    lift: f64,
    standard_error: f64,
    /// (geo, index into the scratch's part buffers) of each part.
    parts: Vec<(usize, usize)>,
}

/// Reusable buffers of one chain.
#[derive(Debug, Clone)]
pub struct GeoScratch {
    member: Scratch,
    u_geo: Vec<f64>,
    grad_geo: Vec<f64>,
    /// Constrained global values and their derivatives d x / d u.
    tau: Vec<f64>,
    dtau: Vec<f64>,
    /// The global vector with each mean-contribution coordinate replaced by ln beta.
    u_natural: Vec<f64>,
    /// Per mean-coordinate channel: d ln m / d u for each curve parameter.
    chain: Vec<[f64; MAX_CURVE_PARAMS]>,
    /// Per national parameter: the mean of its geo deviations (pooled ones).
    zbar: Vec<f64>,
    /// Per mean-coordinate channel: ln of the typical geo's mean training contribution.
    ln_cbar: Vec<f64>,
    reference: Scratch,
    /// Per part of a lift test over several geos: its lift (the member's model scale) and
    /// its gradient w.r.t. the member's coordinates.
    part_value: Vec<f64>,
    part_grad: Vec<Vec<f64>>,
}

/// `stem[args]` -> `stem_SUFFIX[args]`, `stem` -> `stem_SUFFIX`.
fn suffixed(name: &str, suffix: &str) -> String {
    match name.split_once('[') {
        Some((stem, rest)) => format!("{stem}_{suffix}[{rest}"),
        None => format!("{name}_{suffix}"),
    }
}

/// `stem[args]` -> `stem_geo_z[geo=G,args]`, `stem` -> `stem_geo_z[geo=G]`.
fn geo_deviation_name(name: &str, geo: &str) -> String {
    match name.split_once('[') {
        Some((stem, rest)) => format!("{stem}_geo_z[geo={geo},{rest}"),
        None => format!("{name}_geo_z[geo={geo}]"),
    }
}

/// Name of geo g's value of a national parameter, as the decide stage reports it:
/// `beta[x1]` -> `beta[geo=NY,x1]`.
pub fn geo_param_name(name: &str, geo: &str) -> String {
    match name.split_once('[') {
        Some((stem, rest)) => format!("{stem}[geo={geo},{rest}"),
        None => format!("{name}[geo={geo}]"),
    }
}

/// The national model of the geos' average (scaled) spend, behind the mean-contribution
/// coordinates; its likelihood is never evaluated (Normal on the average target, so any
/// observation family's target is acceptable).
fn reference_model(spec: &Spec, panel: &GeoDesign) -> Result<MmmModel, ModelError> {
    let first = &panel.designs[0];
    let k = panel.designs.len() as f64;
    let average = |f: &dyn Fn(&mmm_features::Design) -> &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
        let mut out = f(first).clone();
        for d in &panel.designs[1..] {
            for (o, v) in out.iter_mut().zip(f(d)) {
                for (a, b) in o.iter_mut().zip(v) {
                    *a += b;
                }
            }
        }
        for o in &mut out {
            for a in o.iter_mut() {
                *a /= k;
            }
        }
        out
    };
    let mut design = first.clone();
    design.channels = average(&|d| &d.channels);
    if panel
        .designs
        .iter()
        .all(|d| d.carry_in.channels.len() == first.carry_in.channels.len())
    {
        design.carry_in.channels = average(&|d| &d.carry_in.channels);
    }
    design.target_scaled = vec![1.0; first.len()];
    let mut spec = spec.clone();
    spec.likelihood = LikelihoodSpec::default();
    spec.lift_tests.clear();
    for ch in &mut spec.channels {
        ch.roas_prior = None;
    }
    MmmModel::new(&spec, &design)
}

/// Per mean-coordinate channel: the spec's ROAS prior and ln K of the typical geo, K =
/// n_train s_target / (C sum_t x_ref,t) with x_ref the geos' average scaled spend and s_target,
/// C the scales of geo 0's design, whose geo size cancels out of K.
fn roas_priors(
    spec: &Spec,
    reference: &MmmModel,
    first: &mmm_features::Design,
    mean_coordinate: &[(usize, usize, usize, usize)],
) -> Result<Vec<Option<(Prior, f64)>>, ModelError> {
    for (c, ch) in spec.channels.iter().enumerate() {
        if ch.roas_prior.is_none() {
            continue;
        }
        if !spec.likelihood.is_additive() {
            return Err(ModelError::Mismatch(format!(
                "channel '{}' has a roas_prior, which needs an additive likelihood",
                ch.name
            )));
        }
        if !mean_coordinate.iter().any(|m| m.0 == c) {
            return Err(ModelError::Mismatch(format!(
                "channel '{}' has a roas_prior but no spend in the training window of any geo",
                ch.name
            )));
        }
    }
    let nt = reference.n_train;
    mean_coordinate
        .iter()
        .map(|&(c, ..)| {
            let ch = &spec.channels[c];
            let Some(prior) = ch.roas_prior else {
                return Ok(None);
            };
            let input = &reference.channels[c];
            let scaled: f64 = input.padded[input.l_max..input.l_max + nt].iter().sum();
            let scale = first.scales.channels.get(&ch.name).copied();
            let k = nt as f64 * first.scales.target / (scaled * scale.unwrap_or(f64::NAN));
            if k.is_finite() && k > 0.0 {
                Ok(Some((prior, k.ln())))
            } else {
                Err(ModelError::Mismatch(format!(
                    "channel '{}' has a roas_prior, but the typical geo's training spend in \
                     currency is not a positive number (no spend scale for the channel)",
                    ch.name
                )))
            }
        })
        .collect()
}

/// The spec's lift tests over several geos, each with its parts in the members, numbered in
/// the order [`GeoModel::logp`] visits them (geo by geo, each member's parts in spec order).
fn shared_lifts(
    spec: &Spec,
    geos: &[String],
    members: &[MmmModel],
) -> Result<Vec<SharedLift>, ModelError> {
    let mut numbering = Vec::new();
    for (g, member) in members.iter().enumerate() {
        for (k, part) in member.lift_parts.iter().enumerate() {
            numbering.push((part.spec_index, g, k));
        }
    }
    spec.lift_tests
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.geos.is_empty())
        .map(|(i, t)| {
            if let Some(geo) = t.geos.iter().find(|g| !geos.contains(g)) {
                return Err(ModelError::Mismatch(format!(
                    "lift_tests[{i}].geos: '{geo}' is not a geo of the data ({})",
                    geos.join(", ")
                )));
            }
            let ours = || (numbering.iter().enumerate()).filter(|(_, n)| n.0 == i);
            if !ours().any(|(_, &(_, g, k))| members[g].lift_parts[k].spent) {
                return Err(ModelError::Mismatch(format!(
                    "lift_tests[{i}]: channel '{}' has no spend from {} to {} in any of its geos \
                     ({}), so the test measures nothing",
                    t.channel,
                    t.start,
                    t.end,
                    t.geos.join(", ")
                )));
            }
            Ok(SharedLift {
                spec_index: i,
                lift: t.lift,
                standard_error: t.standard_error,
                parts: ours().map(|(p, &(_, g, _))| (g, p)).collect(),
            })
        })
        .collect()
}

/// `geo.intercept_parameterization = "auto"`: centered when the spread over geos of their mean
/// training level (on the intercept's sampler scale, ln for a positive intercept) exceeds three
/// standard errors of one geo's mean level. Then each geo's data pin its intercept down and
/// the levels differ, the case where the centered form samples best; otherwise the spread's
/// posterior reaches zero, where the centered form is a funnel (Betancourt & Girolami 2015)
/// and only the non-centered one samples without divergences. `size = "mean_target"` scales
/// every geo to one level, so it always gives non-centered intercepts. A geo's standard error
/// is sd(y_t - y_(t-1)) / sqrt(2 n), the noise of a level from week-to-week changes, robust to
/// the slow movements that media and seasonality add.
fn intercepts_centered(panel: &GeoDesign, log_scale: bool) -> bool {
    let mut levels = Vec::with_capacity(panel.len());
    let mut se2 = 0.0;
    for design in &panel.designs {
        let y = &design.target_scaled[..design.n_train.min(design.target_scaled.len())];
        let n = y.len() as f64;
        if y.len() < 3 {
            return false;
        }
        let mean = summary::mean(y);
        let diffs: Vec<f64> = y.windows(2).map(|w| w[1] - w[0]).collect();
        let se = summary::sample_sd(&diffs) / (2.0 * n).sqrt();
        let (level, se) = if log_scale {
            if mean.is_nan() || mean <= 0.0 {
                return false;
            }
            (mean.ln(), se / mean)
        } else {
            (mean, se)
        };
        levels.push(level);
        se2 += se * se;
    }
    let spread = summary::sample_sd(&levels);
    let se = (se2 / levels.len() as f64).sqrt();
    spread.is_finite() && se.is_finite() && spread > 3.0 * se
}

/// One national-form model per geo, after checking the panel: at least two geos, lift tests
/// naming geos of the data, and the same parameters in every geo.
fn geo_members(spec: &Spec, panel: &GeoDesign) -> Result<Vec<MmmModel>, ModelError> {
    if panel.len() < 2 {
        return Err(ModelError::Mismatch(format!(
            "a geo hierarchy needs at least two geos, got {}",
            panel.len()
        )));
    }
    for (i, t) in spec.lift_tests.iter().enumerate() {
        if let Some(geo) = &t.geo
            && !panel.geos.contains(geo)
        {
            return Err(ModelError::Mismatch(format!(
                "lift_tests[{i}].geo: '{geo}' is not a geo of the data ({})",
                panel.geos.join(", ")
            )));
        }
    }
    let members = panel
        .geos
        .iter()
        .zip(&panel.designs)
        .map(|(geo, d)| MmmModel::geo_member(spec, d, geo))
        .collect::<Result<Vec<_>, _>>()?;
    if members
        .iter()
        .any(|m| m.param_names() != members[0].param_names())
    {
        return Err(ModelError::Mismatch(
            "the geos' designs imply different parameters".into(),
        ));
    }
    Ok(members)
}

/// The national parameters followed by the spread of each pooled one, in parameter order
/// (Fourier coefficients share one spread), and the pairs (national index, spread index).
fn spreads(first: &MmmModel, geo: &GeoSpec) -> (Vec<ParamInfo>, Vec<(usize, usize)>) {
    let mut params: Vec<ParamInfo> = first.params.clone();
    let mut pooled: Vec<(usize, usize)> = Vec::new();
    let sd_param = |name: String, prior: Prior| ParamInfo {
        name,
        prior,
        bijection: Bijection::for_prior(&prior),
        sign: 1.0,
    };
    let mut seasonality_sd = None;
    for (j, p) in first.params.iter().enumerate() {
        let curve = first
            .channels
            .iter()
            .any(|ch| (ch.at..ch.beta_at()).contains(&j));
        let beta = first.channels.iter().any(|ch| ch.beta_at() == j);
        let fourier = p.name.starts_with("gamma_fourier[");
        let sd = if j == INTERCEPT {
            Some(sd_param(
                suffixed(&p.name, "geo_sd"),
                geo.intercept_sd_prior,
            ))
        } else if beta && geo.beta == GeoPooling::Pooled {
            Some(sd_param(suffixed(&p.name, "geo_sd"), geo.beta_sd_prior))
        } else if curve && geo.curves == GeoPooling::Pooled {
            Some(sd_param(suffixed(&p.name, "geo_sd"), geo.curve_sd_prior))
        } else if fourier && geo.seasonality == GeoPooling::Pooled {
            if let Some(at) = seasonality_sd {
                pooled.push((j, at));
            }
            seasonality_sd
                .is_none()
                .then(|| sd_param("seasonality_geo_sd".into(), geo.seasonality_sd_prior))
        } else {
            None
        };
        if let Some(sd) = sd {
            if sd.name == "seasonality_geo_sd" {
                seasonality_sd = Some(params.len());
            }
            pooled.push((j, params.len()));
            params.push(sd);
        }
    }
    (params, pooled)
}

/// Where each national parameter's geo values live, appending one coordinate per geo for each
/// pooled parameter: the geo values themselves (centered intercept, whose Normal(mean,
/// spread) prior `logp` applies) or standard-normal deviations (non-centered).
fn geo_slots(
    first: &MmmModel,
    pooled: &[(usize, usize)],
    centered_intercept: bool,
    geos: &[String],
    params: &mut Vec<ParamInfo>,
) -> Vec<Slot> {
    let std_normal = Prior::Normal {
        mu: 0.0,
        sigma: 1.0,
    };
    let mut slots = vec![Slot::Shared; first.params.len()];
    for &(j, sd) in pooled {
        let first_geo = params.len();
        let centered = j == INTERCEPT && centered_intercept;
        slots[j] = if centered {
            Slot::Centered {
                sd,
                first: first_geo,
            }
        } else {
            Slot::Pooled { sd, z: first_geo }
        };
        for g in geos {
            let national = &first.params[j].name;
            params.push(ParamInfo {
                name: if centered {
                    geo_param_name(national, g)
                } else {
                    geo_deviation_name(national, g)
                },
                prior: std_normal,
                bijection: Bijection::Identity,
                sign: 1.0,
            });
        }
    }
    slots
}

/// Channels sampled in mean-contribution coordinates (spent in the training window, with a
/// positive coefficient): (channel, first curve parameter, curve parameters, beta index).
fn mean_coordinate_channels(
    reference: &MmmModel,
    params: &[ParamInfo],
) -> Vec<(usize, usize, usize, usize)> {
    reference
        .channels
        .iter()
        .enumerate()
        .filter(|(_, ch)| {
            let spent = ch.padded[ch.l_max..ch.l_max + reference.n_train]
                .iter()
                .any(|v| *v > 0.0);
            spent && matches!(params[ch.beta_at()].bijection, Bijection::Lower(a) if a == 0.0)
        })
        .map(|(c, ch)| (c, ch.at, ch.curve_params(), ch.beta_at()))
        .collect()
}

impl GeoModel {
    /// Build the hierarchy from the spec and every geo's design.
    pub fn new(spec: &Spec, panel: &GeoDesign) -> Result<Self, ModelError> {
        let members = geo_members(spec, panel)?;
        let first = &members[0];
        let n_geo = members.len();
        let (mut params, pooled) = spreads(first, &spec.geo);
        let centered_intercept = match spec.geo.intercept_parameterization {
            GeoParameterization::Centered => true,
            GeoParameterization::NonCentered => false,
            GeoParameterization::Auto => {
                let log_scale = matches!(first.params[INTERCEPT].bijection, Bijection::Lower(_));
                intercepts_centered(panel, log_scale)
            }
        };
        let slots = geo_slots(first, &pooled, centered_intercept, &panel.geos, &mut params);
        debug_assert!(params.len() >= first.dim() + n_geo);
        let reference = reference_model(spec, panel)?;
        let mean_coordinate = mean_coordinate_channels(&reference, &params);
        let roas = roas_priors(spec, &reference, &panel.designs[0], &mean_coordinate)?;
        let shared_lifts = shared_lifts(spec, &panel.geos, &members)?;
        let mut deferred = vec![false; params.len()];
        for &(_, _, _, b) in &mean_coordinate {
            deferred[b] = true;
        }
        for (j, slot) in slots.iter().enumerate() {
            deferred[j] |= matches!(slot, Slot::Pooled { .. });
        }
        let mut centered_value = vec![false; params.len()];
        for slot in &slots {
            if let Slot::Centered { first, .. } = *slot {
                centered_value[first..first + n_geo].fill(true);
            }
        }
        Ok(Self {
            geos: panel.geos.clone(),
            members,
            params,
            slots,
            reference,
            mean_coordinate,
            deferred,
            centered_value,
            roas,
            shared_lifts,
            lift_test_count: spec.lift_tests.len(),
        })
    }

    /// Number of unconstrained coordinates.
    pub fn dim(&self) -> usize {
        self.params.len()
    }

    /// Global parameters in vector order.
    pub fn params(&self) -> &[ParamInfo] {
        &self.params
    }

    /// Global parameter names in vector order (the columns of draws.parquet).
    pub fn param_names(&self) -> Vec<String> {
        self.params.iter().map(|p| p.name.clone()).collect()
    }

    /// Geo names, sorted.
    pub fn geos(&self) -> &[String] {
        &self.geos
    }

    /// The model of geo g (its national parameters are [`Self::geo_theta`]'s).
    pub fn member(&self, g: usize) -> &MmmModel {
        &self.members[g]
    }

    /// Number of national parameters per geo.
    pub fn member_dim(&self) -> usize {
        self.slots.len()
    }

    /// True when national parameter j varies by geo.
    pub fn is_pooled(&self, j: usize) -> bool {
        !matches!(self.slots[j], Slot::Shared)
    }

    /// Number of geo parts over all lift tests over several geos.
    fn part_count(&self) -> usize {
        self.shared_lifts.iter().map(|l| l.parts.len()).sum()
    }

    /// Model lift of every lift test of the spec at constrained global `theta`, in target
    /// units and spec order: the named geo's counterfactual lift over the window, or the sum
    /// of the named geos'.
    pub fn lift_test_predictions(&self, theta: &[f64]) -> Vec<f64> {
        let mut out = vec![0.0; self.lift_test_count];
        for (g, member) in self.members.iter().enumerate() {
            if member.lift_tests.is_empty() && member.lift_parts.is_empty() {
                continue;
            }
            let geo_theta = self.geo_theta(theta, g);
            let scale = member.target_scale();
            let own = member
                .lift_tests
                .iter()
                .zip(member.lift_test_predictions(&geo_theta));
            let parts = (member.lift_parts.iter()).zip(member.lift_part_predictions(&geo_theta));
            for (test, lift) in own.chain(parts) {
                out[test.spec_index] += lift * scale;
            }
        }
        out
    }

    /// Add `weight` times geo g's gradient `member_grad` (w.r.t. the geo's own coordinates) to
    /// the global `grad` (w.r.t. natural coordinates), through each parameter's slot:
    /// `d u_g / d mu = 1`, `d u_g / d ln tau = tau z_g`, `d u_g / d z_g = tau`, and a centered
    /// geo value's own coordinate.
    fn add_member_gradient(
        &self,
        g: usize,
        member_grad: &[f64],
        weight: f64,
        (u, tau, dtau): (&[f64], &[f64], &[f64]),
        grad: &mut [f64],
    ) {
        for (j, slot) in self.slots.iter().enumerate() {
            let gj = weight * member_grad[j];
            match *slot {
                Slot::Shared => grad[j] += gj,
                Slot::Pooled { sd, z } => {
                    grad[j] += gj;
                    grad[sd] += gj * u[z + g] * dtau[sd];
                    grad[z + g] += gj * tau[sd];
                }
                // The geo's value is its own coordinate, not the mean's.
                Slot::Centered { first, .. } => grad[first + g] += gj,
            }
        }
    }

    /// Buffers for one chain.
    pub fn scratch(&self) -> GeoScratch {
        let d = self.member_dim();
        GeoScratch {
            member: self.members[0].scratch(),
            u_geo: vec![0.0; d],
            grad_geo: vec![0.0; d],
            tau: vec![0.0; self.dim()],
            dtau: vec![0.0; self.dim()],
            u_natural: vec![0.0; self.dim()],
            chain: vec![[0.0; MAX_CURVE_PARAMS]; self.mean_coordinate.len()],
            zbar: vec![0.0; self.member_dim()],
            ln_cbar: vec![0.0; self.mean_coordinate.len()],
            reference: self.reference.scratch(),
            part_value: vec![0.0; self.part_count()],
            part_grad: vec![vec![0.0; d]; self.part_count()],
        }
    }

    /// The sampler's coordinates -> natural ones (each parameter on its own bijection's scale)
    /// and constrained values, into the scratch. A pooled parameter's sampler coordinate is the
    /// average geo's, a = mu + tau zbar with zbar the mean of its geo deviations: the data pin
    /// down the average geo, while mu alone would move with every z. Its natural coordinate is
    /// the mean mu = a - tau zbar (unit Jacobian: triangular in a), and a positive channel's
    /// typical ln beta is further v - ln m(curve) (see the module docs).
    fn fill_natural(&self, u: &[f64], s: &mut GeoScratch) {
        s.u_natural.copy_from_slice(u);
        let forward = |i: usize, v: f64, s: &mut GeoScratch| {
            let p = &self.params[i];
            let (x, dx, _, _) = p.bijection.forward(v);
            s.tau[i] = p.sign * x;
            s.dtau[i] = p.sign * dx;
        };
        for (i, &v) in u.iter().enumerate() {
            if !self.deferred[i] {
                forward(i, v, s);
            }
        }
        let n_geo = self.members.len();
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Pooled { sd, z } = *slot {
                let zbar = u[z..z + n_geo].iter().sum::<f64>() / n_geo as f64;
                s.zbar[j] = zbar;
                s.u_natural[j] -= s.tau[sd] * zbar;
            }
        }
        for j in 0..self.slots.len() {
            if self.deferred[j] && !self.mean_coordinate.iter().any(|m| m.3 == j) {
                forward(j, s.u_natural[j], s);
            }
        }
        for (k, &(c, first, np, b)) in self.mean_coordinate.iter().enumerate() {
            let (ln_m, d) = self.reference.ln_mean_curve(&s.tau, c, &mut s.reference);
            for (j, dj) in d.iter().enumerate().take(np) {
                s.chain[k][j] = dj * s.dtau[first + j];
            }
            s.ln_cbar[k] = s.u_natural[b];
            s.u_natural[b] -= ln_m;
            forward(b, s.u_natural[b], s);
        }
    }

    /// True when global parameter `j` is a typical beta whose prior is a ROAS prior.
    fn has_roas_prior(&self, j: usize) -> bool {
        self.mean_coordinate
            .iter()
            .zip(&self.roas)
            .any(|(m, r)| m.3 == j && r.is_some())
    }

    /// Constrained values of the global parameters (pooled means and shared values on their
    /// national scale, spreads, deviations).
    pub fn constrain(&self, u: &[f64]) -> Vec<f64> {
        let mut s = self.scratch();
        self.fill_natural(u, &mut s);
        s.tau
    }

    /// Unconstrained vector (the sampler's coordinates) of global constrained values.
    pub fn unconstrain(&self, theta: &[f64]) -> Vec<f64> {
        let mut u = self.natural(theta);
        let n_geo = self.members.len();
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Pooled { sd, z } = *slot {
                let zbar = theta[z..z + n_geo].iter().sum::<f64>() / n_geo as f64;
                u[j] += theta[sd] * zbar;
            }
        }
        let mut s = self.reference.scratch();
        for &(c, _, _, b) in &self.mean_coordinate {
            u[b] += self.reference.ln_mean_curve(theta, c, &mut s).0;
        }
        u
    }

    /// Each parameter on its own bijection's scale (ln beta, not the mean-contribution
    /// coordinate).
    fn natural(&self, theta: &[f64]) -> Vec<f64> {
        self.params
            .iter()
            .zip(theta)
            .map(|(p, &t)| p.bijection.inverse(t * p.sign))
            .collect()
    }

    /// Geo g's unconstrained national vector at global unconstrained `u` (`x` the global
    /// constrained values).
    fn geo_unconstrained(&self, u: &[f64], x: &[f64], g: usize, out: &mut [f64]) {
        for (j, slot) in self.slots.iter().enumerate() {
            out[j] = match *slot {
                Slot::Shared => u[j],
                Slot::Pooled { sd, z } => u[j] + x[sd] * u[z + g],
                Slot::Centered { first, .. } => u[first + g],
            };
        }
    }

    /// Geo g's constrained national parameters (as [`MmmModel::constrain`] gives them) for a
    /// draw of global constrained values.
    pub fn geo_theta(&self, theta: &[f64], g: usize) -> Vec<f64> {
        let u = self.natural(theta);
        let mut ug = vec![0.0; self.member_dim()];
        self.geo_unconstrained(&u, theta, g, &mut ug);
        self.members[g].constrain(&ug)
    }

    /// Every geo's constrained national parameters for a draw of global constrained values:
    /// [`Self::geo_theta`] for each geo, with the natural coordinates computed once.
    pub fn geo_thetas(&self, theta: &[f64]) -> Vec<Vec<f64>> {
        self.geo_thetas_with(theta, MmmModel::constrain)
    }

    /// [`Self::geo_thetas`] without the intercepts' adjustment
    /// ([`MmmModel::constrain_except_intercept`]): every other value the same, for channel
    /// figures of an additive model, which do not read the intercept.
    pub fn geo_thetas_except_intercept(&self, theta: &[f64]) -> Vec<Vec<f64>> {
        self.geo_thetas_with(theta, MmmModel::constrain_except_intercept)
    }

    /// Every geo's unconstrained national vector, mapped by `constrain`.
    fn geo_thetas_with(
        &self,
        theta: &[f64],
        constrain: impl Fn(&MmmModel, &[f64]) -> Vec<f64>,
    ) -> Vec<Vec<f64>> {
        let u = self.natural(theta);
        let mut ug = vec![0.0; self.member_dim()];
        (self.members.iter().enumerate())
            .map(|(g, member)| {
                self.geo_unconstrained(&u, theta, g, &mut ug);
                constrain(member, &ug)
            })
            .collect()
    }

    /// A draw from the priors, as an unconstrained vector.
    pub fn sample_prior_unconstrained<R: crate::rand::Rng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Option<Vec<f64>> {
        let mut theta = self
            .params
            .iter()
            .map(|p| crate::prior::sample_prior(&p.prior, rng).map(|x| p.sign * x))
            .collect::<Option<Vec<f64>>>()?;
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Centered { sd, first } = *slot {
                let mean = self.params[j]
                    .bijection
                    .inverse(theta[j] * self.params[j].sign);
                for g in 0..self.members.len() {
                    // The standard-normal draw of the placeholder prior, scaled.
                    theta[first + g] = mean + theta[sd] * theta[first + g];
                }
            }
        }
        let mut s = self.reference.scratch();
        for (k, &(c, _, _, b)) in self.mean_coordinate.iter().enumerate() {
            if let Some((prior, ln_k)) = self.roas[k] {
                // The typical beta = cbar / m with cbar = r / K, r drawn from the ROAS prior.
                let r = crate::prior::sample_prior(&prior, rng)?;
                let ln_m = self.reference.ln_mean_curve(&theta, c, &mut s).0;
                theta[b] = (r.ln() - ln_k - ln_m).exp();
            }
        }
        Some(self.unconstrain(&theta))
    }

    /// Centered geo values that `point` drew from the prior: drawn again from
    /// Normal(mean, spread) at the point's own mean and spread.
    pub(crate) fn redraw_centered<R: crate::rand::Rng>(
        &self,
        point: &mut crate::simulate::NamedPoint,
        rng: &mut R,
    ) {
        use rand_distr::Distribution;
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Centered { sd, first } = *slot {
                let p = &self.params[j];
                let mean = p.bijection.inverse(point.theta[j] * p.sign);
                for g in 0..self.members.len() {
                    if point.from_prior.contains(&self.params[first + g].name) {
                        let e: f64 = rand_distr::StandardNormal.sample(rng);
                        point.theta[first + g] = mean + point.theta[sd] * e;
                    }
                }
            }
        }
    }

    /// Log posterior density (up to a constant, Jacobians included) at unconstrained `u`,
    /// with its gradient written into `grad`.
    pub fn logp(&self, u: &[f64], grad: &mut [f64], s: &mut GeoScratch) -> Result<f64, NonFinite> {
        self.fill_natural(u, s);
        let mut logp = 0.0;
        for (i, p) in self.params.iter().enumerate() {
            // A ROAS prior replaces the typical beta's; it is added below.
            if self.centered_value[i] || self.has_roas_prior(i) {
                grad[i] = 0.0;
                continue;
            }
            let (x, dx, logj, dlogj) = p.bijection.forward(s.u_natural[i]);
            let (lp, dlp) = log_prior(&p.prior, x);
            logp += lp + logj;
            grad[i] = dlp * dx + dlogj;
        }
        // Centered geo values: u_g ~ Normal(mean, tau) on the natural scale.
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Centered { sd, first } = *slot {
                let (mean, tau) = (s.u_natural[j], s.tau[sd]);
                let inv_var = 1.0 / (tau * tau);
                let mut ss = 0.0;
                for g in 0..self.members.len() {
                    let r = u[first + g] - mean;
                    ss += r * r;
                    grad[first + g] -= r * inv_var;
                    grad[j] += r * inv_var;
                }
                let n = self.members.len() as f64;
                logp += -n * tau.ln() - 0.5 * ss * inv_var;
                grad[sd] += (-n / tau + ss * inv_var / tau) * s.dtau[sd];
            }
        }
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }
        let mut part = 0;
        for (g, member) in self.members.iter().enumerate() {
            self.geo_unconstrained(&s.u_natural, &s.tau, g, &mut s.u_geo);
            logp += member.logp(&s.u_geo, &mut s.grad_geo, &mut s.member)?;
            self.add_member_gradient(g, &s.grad_geo, 1.0, (u, &s.tau, &s.dtau), grad);
            // Parts of lift tests over several geos, in the order `shared_lifts` numbers them.
            for k in 0..member.lift_parts.len() {
                s.part_value[part] = member.lift_part(k, &mut s.part_grad[part], &mut s.member);
                part += 1;
            }
        }
        for shared in &self.shared_lifts {
            let scale = |g: usize| self.members[g].target_scale();
            let total: f64 = (shared.parts.iter())
                .map(|&(g, p)| scale(g) * s.part_value[p])
                .sum();
            let z = (total - shared.lift) / shared.standard_error;
            logp -= 0.5 * z * z;
            for &(g, p) in &shared.parts {
                let weight = -z / shared.standard_error * scale(g);
                self.add_member_gradient(g, &s.part_grad[p], weight, (u, &s.tau, &s.dtau), grad);
            }
        }
        // grad[j] is now d log p / d (natural coordinate j). ln beta = v - ln m(curve):
        for (k, &(_, first, np, b)) in self.mean_coordinate.iter().enumerate() {
            let g_beta = grad[b];
            for j in 0..np {
                grad[first + j] -= g_beta * s.chain[k][j];
            }
        }
        // The ROAS prior is on r = K cbar of the typical geo; in the coordinate
        // ln cbar = u_b - tau zbar its density is p(r) r (constant ln K dropped), and it does not
        // depend on the curve, so it joins after the chain above and before the pooled mean's.
        for (k, &(_, _, _, b)) in self.mean_coordinate.iter().enumerate() {
            if let Some((prior, ln_k)) = self.roas[k] {
                let r = (ln_k + s.ln_cbar[k]).exp();
                let (lp, dlp) = log_prior(&prior, r);
                logp += lp + s.ln_cbar[k];
                grad[b] += dlp * r + 1.0;
            }
        }
        // A pooled mean mu = a - tau zbar: d/da = d/dmu, d/dtau -= zbar d/dmu,
        // d/dz_g -= tau / G d/dmu.
        let n_geo = self.members.len() as f64;
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Pooled { sd, z } = *slot {
                let total = grad[j];
                grad[sd] -= total * s.zbar[j] * s.dtau[sd];
                let per_geo = total * s.tau[sd] / n_geo;
                for gz in &mut grad[z..z + self.members.len()] {
                    *gz -= per_geo;
                }
            }
        }
        if !logp.is_finite() {
            return Err(NonFinite("likelihood"));
        }
        if grad.iter().any(|v| !v.is_finite()) {
            return Err(NonFinite("gradient"));
        }
        Ok(logp)
    }
}

impl GeoModel {
    /// Prior groups of the global parameters (see [`crate::lprior`]): the national ones
    /// (pooled means and shared values) grouped as [`MmmModel::prior_groups`] groups them,
    /// `geo_spread` for the pooling spreads and `geo_deviations` (latent) for every geo's
    /// deviation or centered value.
    pub fn prior_groups(&self) -> Vec<PriorGroup> {
        let mut b = GroupBuilder::default();
        let d = self.member_dim();
        self.members[0].add_target_groups(&mut b, 0..d);
        let spreads: Vec<usize> = (self.slots.iter())
            .filter_map(|slot| match *slot {
                Slot::Shared => None,
                Slot::Pooled { sd, .. } | Slot::Centered { sd, .. } => Some(sd),
            })
            .collect();
        for j in d..self.dim() {
            if spreads.contains(&j) {
                b.add("geo_spread".into(), PriorGroupKind::GeoSpread, None, j);
            } else {
                b.add("geo_deviations".into(), PriorGroupKind::Latent, None, j);
            }
        }
        b.finish()
    }

    /// Log prior density of each global parameter at constrained `theta`, without Jacobian,
    /// as [`Self::logp`] applies the priors: the spec prior of a shared value, pooled mean or
    /// spread; Normal(0, 1) of a geo deviation; Normal(mean, spread) of a centered geo value on
    /// its natural scale (ln(spread) + (u_g - mean)^2 / (2 spread^2) subtracted); the ROAS
    /// prior at the typical geo's ROAS r = K beta m(curve) in place of its beta's.
    fn parameter_log_priors(&self, theta: &[f64]) -> Vec<f64> {
        let mut lp: Vec<f64> = (self.params.iter().zip(theta))
            .map(|(p, &t)| log_prior(&p.prior, p.sign * t).0)
            .collect();
        for (j, slot) in self.slots.iter().enumerate() {
            if let Slot::Centered { sd, first } = *slot {
                let p = &self.params[j];
                let (mean, tau) = (p.bijection.inverse(p.sign * theta[j]), theta[sd]);
                for g in 0..self.members.len() {
                    let r = (theta[first + g] - mean) / tau;
                    lp[first + g] = -tau.ln() - 0.5 * r * r;
                }
            }
        }
        let mut s = self.reference.scratch();
        for (k, &(c, _, _, b)) in self.mean_coordinate.iter().enumerate() {
            if let Some((prior, ln_k)) = self.roas[k] {
                let ln_m = self.reference.ln_mean_curve(theta, c, &mut s).0;
                lp[b] = log_prior(&prior, (ln_k + theta[b].ln() + ln_m).exp()).0;
            }
        }
        lp
    }

    /// The log prior density of each of `groups` (this model's [`Self::prior_groups`]) at
    /// constrained global `theta`, written to `out`: the sum of its parameters' log priors.
    pub fn log_prior_groups(&self, groups: &[PriorGroup], theta: &[f64], out: &mut [f64]) {
        let lp = self.parameter_log_priors(theta);
        for (o, g) in out.iter_mut().zip(groups) {
            *o = g.parameters.iter().map(|&j| lp[j]).sum();
        }
    }

    /// The lift tests' log likelihood at constrained global `theta`: each geo's own tests
    /// ([`MmmModel::lift_test_log_likelihood`] at its parameters) plus, for each test over
    /// several geos, -((sum_g L_g - lift) / se)^2 / 2 in target units.
    pub fn lift_test_log_likelihood(&self, theta: &[f64]) -> f64 {
        let mut ll: f64 = (self.members.iter().enumerate())
            .filter(|(_, m)| !m.lift_tests.is_empty())
            .map(|(g, m)| m.lift_test_log_likelihood(&self.geo_theta(theta, g)))
            .sum();
        if !self.shared_lifts.is_empty() {
            let predicted = self.lift_test_predictions(theta);
            for shared in &self.shared_lifts {
                let z = (predicted[shared.spec_index] - shared.lift) / shared.standard_error;
                ll -= 0.5 * z * z;
            }
        }
        ll
    }
}
