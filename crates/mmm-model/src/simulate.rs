//! Known parameters: named values (a truth file, a start point) turned into a parameter vector,
//! and the quantities a user checks a fit against (each channel's counterfactual contribution
//! on the response scale). `mmm simulate`, recovery tests and SBC build on these.

use std::collections::BTreeMap;
use std::ops::Range;

use crate::geo::GeoModel;
use crate::{MmmModel, ModelError};

/// A parameter vector assembled from named values.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedPoint {
    /// Constrained values in the model's parameter order.
    pub theta: Vec<f64>,
    /// Names of the parameters that were not given and were drawn from their priors.
    pub from_prior: Vec<String>,
}

/// What [`named_point`] needs of a model.
trait Parameterized {
    fn names(&self) -> Vec<String>;
    fn params(&self) -> &[crate::ParamInfo];
    fn prior_draw(&self, rng: &mut dyn crate::rand::Rng) -> Option<Vec<f64>>;
    fn to_constrained(&self, u: &[f64]) -> Vec<f64>;
    fn to_unconstrained(&self, theta: &[f64]) -> Vec<f64>;
}

impl Parameterized for MmmModel {
    fn names(&self) -> Vec<String> {
        self.param_names()
    }
    fn params(&self) -> &[crate::ParamInfo] {
        MmmModel::params(self)
    }
    fn prior_draw(&self, rng: &mut dyn crate::rand::Rng) -> Option<Vec<f64>> {
        self.sample_prior_unconstrained(rng)
    }
    fn to_constrained(&self, u: &[f64]) -> Vec<f64> {
        self.constrain(u)
    }
    fn to_unconstrained(&self, theta: &[f64]) -> Vec<f64> {
        self.unconstrain(theta)
    }
}

impl Parameterized for GeoModel {
    fn names(&self) -> Vec<String> {
        self.param_names()
    }
    fn params(&self) -> &[crate::ParamInfo] {
        GeoModel::params(self)
    }
    fn prior_draw(&self, rng: &mut dyn crate::rand::Rng) -> Option<Vec<f64>> {
        self.sample_prior_unconstrained(rng)
    }
    fn to_constrained(&self, u: &[f64]) -> Vec<f64> {
        self.constrain(u)
    }
    fn to_unconstrained(&self, theta: &[f64]) -> Vec<f64> {
        self.unconstrain(theta)
    }
}

/// Constrained parameters with the `named` values and every other parameter drawn from its
/// prior; see [`MmmModel::theta_from_named`].
fn named_point(
    model: &dyn Parameterized,
    named: &BTreeMap<String, f64>,
    rng: &mut dyn crate::rand::Rng,
) -> Result<NamedPoint, ModelError> {
    let names = model.names();
    let base = model.prior_draw(rng).ok_or_else(|| {
        ModelError::Parameters("cannot draw the unnamed parameters from their priors".into())
    })?;
    let mut theta = model.to_constrained(&base);
    let mut given = vec![false; names.len()];
    for (name, value) in named {
        let j = names.iter().position(|n| n == name).ok_or_else(|| {
            ModelError::Parameters(format!(
                "no parameter named {name:?}; the parameters are {}",
                names.join(", ")
            ))
        })?;
        if !value.is_finite() {
            return Err(ModelError::Parameters(format!(
                "{name} = {value} is not a finite number"
            )));
        }
        theta[j] = *value;
        given[j] = true;
    }
    let u = model.to_unconstrained(&theta);
    if let Some(j) = u.iter().position(|v| !v.is_finite()) {
        return Err(ModelError::Parameters(format!(
            "{} = {} is outside the parameter's support (prior {:?})",
            names[j],
            theta[j],
            model.params()[j].prior
        )));
    }
    let from_prior = names
        .into_iter()
        .zip(given)
        .filter_map(|(n, g)| (!g).then_some(n))
        .collect();
    Ok(NamedPoint { theta, from_prior })
}

impl GeoModel {
    /// Global constrained parameters with the `named` values (keyed by
    /// [`GeoModel::param_names`]) and every other one drawn from its prior (the geo deviations
    /// from Normal(0, 1), which makes the geos' true effects differ).
    pub fn theta_from_named<R: crate::rand::Rng>(
        &self,
        named: &BTreeMap<String, f64>,
        rng: &mut R,
    ) -> Result<NamedPoint, ModelError> {
        let mut point = named_point(self, named, rng)?;
        // Centered geo values left unnamed were drawn around the prior's mean and spread;
        // draw them again around the (possibly named) ones.
        self.redraw_centered(&mut point, rng);
        Ok(point)
    }
}

impl MmmModel {
    /// Constrained parameters with the `named` values (keyed by [`MmmModel::param_names`]) and
    /// every other parameter drawn from its prior with `rng`. Unknown names, non-finite values
    /// and values outside a parameter's support (including the wrong sign for a
    /// sign-constrained coefficient) are refused by name.
    pub fn theta_from_named<R: crate::rand::Rng>(
        &self,
        named: &BTreeMap<String, f64>,
        rng: &mut R,
    ) -> Result<NamedPoint, ModelError> {
        named_point(self, named, rng)
    }

    /// Each channel's counterfactual contribution summed over `periods`, on the response's
    /// model scale: sum_t E[y_t | theta] - E[y_t | theta, that channel's spend at zero].
    /// For additive models this is the channel's term; under log links it is the difference of
    /// expected responses, as the decide stage reports it.
    pub fn channel_contributions(&self, theta: &[f64], periods: Range<usize>) -> Vec<f64> {
        let n = self.periods();
        let periods = periods.start.min(n)..periods.end.min(n);
        let (mut full, mut without) = (vec![0.0; n], vec![0.0; n]);
        self.predict_mean(theta, &[], &mut full);
        (0..self.channel_names().len())
            .map(|c| {
                self.predict_mean(theta, &[c], &mut without);
                periods.clone().map(|t| full[t] - without[t]).sum()
            })
            .collect()
    }
}

impl MmmModel {
    /// A data set drawn from the model at joint constrained `theta` on `design`'s inputs (spend,
    /// controls, dates): each mediator first from its own equation (its design column replaced,
    /// its scale kept), then the target given the drawn mediators. `Ok(None)` when a drawn value
    /// is not finite; `spec` and `design` must be the ones the model was built from.
    pub fn draw_design<R: crate::rand::Rng + ?Sized>(
        &self,
        spec: &mmm_core::Spec,
        design: &mmm_features::Design,
        theta: &[f64],
        rng: &mut R,
    ) -> Result<Option<mmm_features::Design>, ModelError> {
        let n = design.len();
        let (mut mean, mut draw) = (vec![0.0; n], vec![0.0; n]);
        let mut d = design.clone();
        for (k, m) in self.mediators.iter().enumerate() {
            m.model
                .predictive_draw(m.part(theta), rng, &mut mean, &mut draw);
            if draw.iter().any(|v| !v.is_finite()) {
                return Ok(None);
            }
            d.regressors[spec.controls.len() + k].clone_from(&draw);
        }
        let rebuilt;
        let target_model = if self.mediators.is_empty() {
            self
        } else {
            rebuilt = MmmModel::new(spec, &d)?;
            &rebuilt
        };
        target_model.predictive_draw(theta, rng, &mut mean, &mut draw);
        if draw.iter().any(|v| !v.is_finite()) {
            return Ok(None);
        }
        d.target_scaled = draw;
        Ok(Some(d))
    }

    /// Each mediated channel's part of its contribution that passes through the mediators,
    /// summed over `periods` (model scale; 0 for a channel that acts directly only).
    pub fn mediated_contributions(&self, theta: &[f64], periods: Range<usize>) -> Vec<f64> {
        (0..self.channel_names().len())
            .map(|c| self.mediated_total(theta, c, periods.clone()))
            .collect()
    }
}
