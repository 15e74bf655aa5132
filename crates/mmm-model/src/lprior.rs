//! The log prior density of a posterior draw split into prior groups, and the lift tests' log
//! likelihood: what power-scaling sensitivity (Kallioinen et al. 2023, the `priorsense` R
//! package) perturbs.
//!
//! As priorsense's `lprior`, each group's value is the sum of the prior log densities of its
//! parameters at their constrained values, without the Jacobians of the sampler's bijections:
//! power-scaling the prior p(theta)^alpha is a statement about the prior on the parameters as
//! the spec writes them. Additive constants are dropped ([`crate::prior::log_prior`]); they
//! cancel in the self-normalized importance weights. A channel with a `roas_prior` has that
//! prior, on its training-window ROAS r(theta), in place of its coefficient's.
//!
//! Latent standard-normal coordinates (the local level's steps, a hierarchy's geo deviations
//! and its centered geo values' Normal(mean, spread) density) form a group of their own that
//! the joint prior perturbation leaves out, as `brms` keeps them out of `lprior`: they are part
//! of the model's structure rather than a prior choice.

use crate::prior::log_prior;
use crate::{Likelihood, MmmModel};

/// What a group of priors holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorGroupKind {
    /// A channel's coefficient (its `beta_prior`) or its ROAS prior.
    Media,
    /// A channel's adstock parameters.
    Adstock,
    /// A channel's saturation parameters (beta excluded).
    Saturation,
    /// Intercept, controls, mediator coefficients, seasonality, trend, events, level shifts and
    /// the local level's spread.
    Baseline,
    /// The observation noise (sigma, nu, phi).
    Noise,
    /// A mediator's own equation.
    Mediator,
    /// A geo hierarchy's pooling spreads (the `*_geo_sd` parameters).
    GeoSpread,
    /// Latent standard-normal coordinates: local-level steps, geo deviations, centered geo
    /// values. Not part of the joint prior perturbation.
    Latent,
}

/// One group of priors that power-scaling perturbs together.
#[derive(Debug, Clone, PartialEq)]
pub struct PriorGroup {
    /// Name, e.g. `media[x1]`, `adstock[x1]`, `baseline`, `noise`, `geo_spread`.
    pub name: String,
    /// What it holds.
    pub kind: PriorGroupKind,
    /// The channel, for media, adstock and saturation groups.
    pub channel: Option<String>,
    /// Indices of its parameters in the draw vector.
    pub parameters: Vec<usize>,
}

impl PriorGroup {
    /// True when the joint prior perturbation includes the group (all but latent ones).
    pub fn in_joint_prior(&self) -> bool {
        self.kind != PriorGroupKind::Latent
    }
}

/// Groups in a fixed order, created on first use.
#[derive(Default)]
pub(crate) struct GroupBuilder {
    groups: Vec<PriorGroup>,
}

impl GroupBuilder {
    /// Add parameter j to the group `name`, creating it (with `kind`, `channel`) when new.
    pub(crate) fn add(
        &mut self,
        name: String,
        kind: PriorGroupKind,
        channel: Option<&str>,
        j: usize,
    ) {
        if let Some(g) = self.groups.iter_mut().find(|g| g.name == name) {
            g.parameters.push(j);
            return;
        }
        self.groups.push(PriorGroup {
            name,
            kind,
            channel: channel.map(str::to_string),
            parameters: vec![j],
        });
    }

    /// The groups, empty ones never created.
    pub(crate) fn finish(self) -> Vec<PriorGroup> {
        self.groups
    }
}

/// Number of noise parameters of a likelihood family.
fn noise_count(likelihood: Likelihood) -> usize {
    match likelihood {
        Likelihood::Normal | Likelihood::LogNormal | Likelihood::NegativeBinomial => 1,
        Likelihood::StudentT => 2,
        Likelihood::Poisson => 0,
    }
}

impl MmmModel {
    /// The prior groups of the model's parameters (its own, then each mediator's equation),
    /// every parameter in exactly one group: per channel `adstock[CH]`, `saturation[CH]`,
    /// `media[CH]`; then `baseline`, `noise`, `level_steps` (latent) and `mediator[NAME]`.
    pub fn prior_groups(&self) -> Vec<PriorGroup> {
        let mut b = GroupBuilder::default();
        self.add_target_groups(&mut b, 0..self.params.len());
        for m in &self.mediators {
            for j in m.range() {
                b.add(
                    format!("mediator[{}]", m.name),
                    PriorGroupKind::Mediator,
                    None,
                    j,
                );
            }
        }
        b.finish()
    }

    /// The target equation's parameters in `range` (indices of its own vector) into `b`.
    pub(crate) fn add_target_groups(&self, b: &mut GroupBuilder, range: std::ops::Range<usize>) {
        let noise = self.noise_at..self.noise_at + noise_count(self.likelihood);
        for j in range {
            let channel = self.channels.iter().enumerate().find_map(|(c, ch)| {
                let na = ch.adstock.parameter_count();
                let kind = if j == ch.beta_at() {
                    PriorGroupKind::Media
                } else if (ch.at..ch.at + na).contains(&j) {
                    PriorGroupKind::Adstock
                } else if (ch.at + na..ch.beta_at()).contains(&j) {
                    PriorGroupKind::Saturation
                } else {
                    return None;
                };
                Some((c, kind))
            });
            match channel {
                Some((c, kind)) => {
                    let name = &self.channel_names[c];
                    let stem = match kind {
                        PriorGroupKind::Media => "media",
                        PriorGroupKind::Adstock => "adstock",
                        _ => "saturation",
                    };
                    b.add(format!("{stem}[{name}]"), kind, Some(name.as_str()), j);
                }
                None if noise.contains(&j) => b.add("noise".into(), PriorGroupKind::Noise, None, j),
                None if self.local_level_at.is_some_and(|at| j > at) => {
                    b.add("level_steps".into(), PriorGroupKind::Latent, None, j)
                }
                None => b.add("baseline".into(), PriorGroupKind::Baseline, None, j),
            }
        }
    }

    /// Log prior density of constrained parameter j of the target equation at `theta`
    /// (without Jacobian): its spec prior at |theta_j| for a sign-constrained coefficient, or,
    /// for a channel coefficient with a ROAS prior, that prior at the channel's training ROAS
    /// r = K beta m(theta) (m the mean training curve, K = n_train s_target / spend).
    pub(crate) fn log_prior_of(&self, theta: &[f64], j: usize) -> f64 {
        let p = &self.params[j];
        if let Some((c, ch)) = (self.channels.iter().enumerate()).find(|(_, ch)| ch.beta_at() == j)
            && let Some(roas) = ch.roas
        {
            let r = (roas.ln_k).exp() * theta[j] * self.mean_saturation(theta, c);
            return log_prior(&roas.prior, r).0;
        }
        log_prior(&p.prior, p.sign * theta[j]).0
    }

    /// The log prior density of each of `groups` (this model's [`Self::prior_groups`]) at
    /// constrained `theta` (the full draw vector), written to `out`: sum over the group's
    /// parameters of ln p_j(theta_j), priorsense's `lprior` per partition.
    pub fn log_prior_groups(&self, groups: &[PriorGroup], theta: &[f64], out: &mut [f64]) {
        let own = self.params.len();
        for (o, g) in out.iter_mut().zip(groups) {
            *o = g
                .parameters
                .iter()
                .map(|&j| {
                    if j < own {
                        self.log_prior_of(theta, j)
                    } else {
                        self.mediator_log_prior(theta, j)
                    }
                })
                .sum();
        }
    }

    /// Log prior density of joint parameter j of a mediator's equation.
    fn mediator_log_prior(&self, theta: &[f64], j: usize) -> f64 {
        self.mediators
            .iter()
            .find(|m| m.range().contains(&j))
            .map_or(0.0, |m| m.model.log_prior_of(m.part(theta), j - m.at))
    }

    /// The lift tests' log likelihood at constrained `theta`: sum over the tests bound to this
    /// model of -(beta D - lift)^2 / (2 se^2) (model scale, as in the log density).
    pub fn lift_test_log_likelihood(&self, theta: &[f64]) -> f64 {
        self.lift_tests
            .iter()
            .map(|test| {
                let z = (self.window_lift(test, theta) - test.lift) / test.standard_error;
                -0.5 * z * z
            })
            .sum()
    }
}
