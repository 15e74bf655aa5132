//! The geo hierarchy: one [`MmmModel`] per geo bound to the geo's design, tied together by
//! non-centered partial pooling.
//!
//! Every parameter of the national model is either shared by all geos or pooled: geo g's
//! unconstrained value is `u_g = mu + tau * z_g` with `mu` the shared mean (the national
//! parameter, with the spec's prior), `tau ~ the spec's geo pooling prior` the spread across
//! geos and `z_g ~ Normal(0, 1)`. Pooling acts on the sampler's coordinate: ln beta for the
//! positive channel coefficients (a geo's beta is the typical geo's times e^(tau z_g)), the
//! logit or log of bounded curve parameters, and the value itself for the intercept and Fourier
//! coefficients. The joint log density is the sum of the priors and every geo's likelihood;
//! each geo's gradient w.r.t. its own coordinates is chained back through
//! `d u_g / d mu = 1`, `d u_g / d ln tau = tau z_g` and `d u_g / d z_g = tau`.

use mmm_core::Spec;
use mmm_core::spec::{GeoPooling, Prior};
use mmm_features::panel::GeoDesign;

use crate::prior::{Bijection, log_prior};
use crate::{INTERCEPT, MmmModel, ModelError, NonFinite, ParamInfo, Scratch};

/// How one national parameter varies over geos.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    /// One value for every geo.
    Shared,
    /// `u_g = u_mean + tau z_g`: `sd` is the index of tau's (log) coordinate, `z` of geo 0's z.
    Pooled { sd: usize, z: usize },
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

impl GeoModel {
    /// Build the hierarchy from the spec and every geo's design.
    pub fn new(spec: &Spec, panel: &GeoDesign) -> Result<Self, ModelError> {
        if panel.len() < 2 {
            return Err(ModelError::Mismatch(format!(
                "a geo hierarchy needs at least two geos, got {}",
                panel.len()
            )));
        }
        let members = panel
            .designs
            .iter()
            .map(|d| MmmModel::geo_member(spec, d))
            .collect::<Result<Vec<_>, _>>()?;
        let first = &members[0];
        if members
            .iter()
            .any(|m| m.param_names() != first.param_names())
        {
            return Err(ModelError::Mismatch(
                "the geos' designs imply different parameters".into(),
            ));
        }
        let geo = &spec.geo;
        let n_geo = members.len();
        let mut params: Vec<ParamInfo> = first.params.clone();
        let mut slots = vec![Slot::Shared; params.len()];
        let mut pooled: Vec<(usize, usize)> = Vec::new(); // (national index, sd index)
        let sd_param = |name: String, prior: Prior| ParamInfo {
            name,
            prior,
            bijection: Bijection::for_prior(&prior),
            sign: 1.0,
        };
        // Spreads, in parameter order; Fourier coefficients share one.
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
            } else if beta {
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
        let std_normal = Prior::Normal {
            mu: 0.0,
            sigma: 1.0,
        };
        for &(j, sd) in &pooled {
            slots[j] = Slot::Pooled {
                sd,
                z: params.len(),
            };
            for g in &panel.geos {
                params.push(ParamInfo {
                    name: geo_deviation_name(&first.params[j].name, g),
                    prior: std_normal,
                    bijection: Bijection::Identity,
                    sign: 1.0,
                });
            }
        }
        debug_assert!(params.len() >= first.dim() + n_geo);
        Ok(Self {
            geos: panel.geos.clone(),
            members,
            params,
            slots,
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
        matches!(self.slots[j], Slot::Pooled { .. })
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
        }
    }

    /// Constrained values of the global parameters (pooled means and shared values on their
    /// national scale, spreads, deviations).
    pub fn constrain(&self, u: &[f64]) -> Vec<f64> {
        self.params
            .iter()
            .zip(u)
            .map(|(p, &u)| p.sign * p.bijection.forward(u).0)
            .collect()
    }

    /// Unconstrained vector of global constrained values.
    pub fn unconstrain(&self, theta: &[f64]) -> Vec<f64> {
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
            };
        }
    }

    /// Geo g's constrained national parameters (as [`MmmModel::constrain`] gives them) for a
    /// draw of global constrained values.
    pub fn geo_theta(&self, theta: &[f64], g: usize) -> Vec<f64> {
        let u = self.unconstrain(theta);
        let x = self.constrain(&u);
        let mut ug = vec![0.0; self.member_dim()];
        self.geo_unconstrained(&u, &x, g, &mut ug);
        self.members[g].constrain(&ug)
    }

    /// A draw from the priors, as an unconstrained vector.
    pub fn sample_prior_unconstrained<R: crate::rand::Rng + ?Sized>(
        &self,
        rng: &mut R,
    ) -> Option<Vec<f64>> {
        let theta = self
            .params
            .iter()
            .map(|p| crate::prior::sample_prior(&p.prior, rng).map(|x| p.sign * x))
            .collect::<Option<Vec<f64>>>()?;
        Some(self.unconstrain(&theta))
    }

    /// Log posterior density (up to a constant, Jacobians included) at unconstrained `u`,
    /// with its gradient written into `grad`.
    pub fn logp(&self, u: &[f64], grad: &mut [f64], s: &mut GeoScratch) -> Result<f64, NonFinite> {
        let mut logp = 0.0;
        for (i, p) in self.params.iter().enumerate() {
            let (x, dx, logj, dlogj) = p.bijection.forward(u[i]);
            let (lp, dlp) = log_prior(&p.prior, x);
            logp += lp + logj;
            grad[i] = dlp * dx + dlogj;
            s.tau[i] = x;
            s.dtau[i] = dx;
        }
        if !logp.is_finite() {
            return Err(NonFinite("prior"));
        }
        for (g, member) in self.members.iter().enumerate() {
            self.geo_unconstrained(u, &s.tau, g, &mut s.u_geo);
            logp += member.logp(&s.u_geo, &mut s.grad_geo, &mut s.member)?;
            for (j, slot) in self.slots.iter().enumerate() {
                let gj = s.grad_geo[j];
                grad[j] += gj;
                if let Slot::Pooled { sd, z } = *slot {
                    grad[sd] += gj * u[z + g] * s.dtau[sd];
                    grad[z + g] += gj * s.tau[sd];
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
