//! The fitted model as the checks see it: a national model, or a geo hierarchy whose national
//! target is the sum of its geos'. Predictive draws and pointwise likelihoods come per unit
//! (the national model is one unit, a hierarchy one per geo), in original target units.

use crate::geo::GeoModel;
use crate::lprior::PriorGroup;
use crate::{Likelihood, MmmModel};

/// What the diagnostics need of a fitted model.
pub trait Fitted: Sync {
    /// Parameter names (the columns of draws.parquet), in vector order.
    fn param_names(&self) -> Vec<String>;
    /// Number of parameters.
    fn dim(&self) -> usize;
    /// Names of the units: `national`, or the geos.
    fn unit_names(&self) -> Vec<String>;
    /// Periods of every unit.
    fn periods(&self) -> usize;
    /// Training periods of every unit.
    fn train_periods(&self) -> usize;
    /// The likelihood family.
    fn likelihood(&self) -> Likelihood;
    /// A draw from the priors, constrained.
    fn prior_draw(&self, rng: &mut dyn crate::rand::Rng) -> Option<Vec<f64>>;
    /// One posterior predictive draw per unit and period in original units, unit-major
    /// (`mean` gets the expected target, `out` the draw; each holds units x periods values).
    fn predictive_draw_units(
        &self,
        theta: &[f64],
        rng: &mut dyn crate::rand::Rng,
        mean: &mut [f64],
        out: &mut [f64],
    ) {
        self.linear_predictor_units(theta, mean);
        self.predictive_draw_from_linear_units(theta, rng, mean, out);
    }
    /// The deterministic part of [`Self::predictive_draw_units`]: every unit's linear predictor
    /// on its model scale, unit-major.
    fn linear_predictor_units(&self, theta: &[f64], eta: &mut [f64]);
    /// The random part of [`Self::predictive_draw_units`], with `mean` holding
    /// [`Self::linear_predictor_units`] of `theta` on entry and the expected target on return.
    fn predictive_draw_from_linear_units(
        &self,
        theta: &[f64],
        rng: &mut dyn crate::rand::Rng,
        mean: &mut [f64],
        out: &mut [f64],
    );
    /// Pointwise log likelihood of every unit's training observations (unit-major, units x
    /// train periods), as densities of the original-unit target.
    fn pointwise_log_likelihood_units(&self, theta: &[f64], out: &mut [f64]);
    /// The prior groups of the parameters ([`crate::lprior`]).
    fn prior_groups(&self) -> Vec<PriorGroup>;
    /// The log prior density of each of `groups` (from [`Self::prior_groups`]) at constrained
    /// `theta`, without Jacobians (priorsense's `lprior` per partition).
    fn log_prior_groups(&self, groups: &[PriorGroup], theta: &[f64], out: &mut [f64]);
    /// The lift tests' log likelihood at constrained `theta` (0 without lift tests).
    fn lift_test_log_likelihood(&self, theta: &[f64]) -> f64;
}

/// Unit u's predictive draw from its linear predictor (in `mean`) on the unit's model scale,
/// taken to original units.
fn scaled_draw(
    model: &MmmModel,
    theta: &[f64],
    rng: &mut dyn crate::rand::Rng,
    mean: &mut [f64],
    out: &mut [f64],
) {
    model.predictive_draw_from_linear(theta, rng, mean, out);
    let s = model.target_scale();
    for v in mean.iter_mut().chain(out.iter_mut()) {
        *v *= s;
    }
}

/// Training rows of the pointwise log likelihood as densities of the original-unit target
/// (the model-scale density less ln of the scale).
fn original_log_likelihood(model: &MmmModel, theta: &[f64], out: &mut [f64]) {
    let n = model.periods();
    let (mut mean, mut ll) = (vec![0.0; n], vec![0.0; n]);
    model.pointwise_log_likelihood(theta, &mut mean, &mut ll);
    let ln_scale = model.target_scale().ln();
    for (o, v) in out.iter_mut().zip(&ll[..model.train_periods()]) {
        *o = v - ln_scale;
    }
}

impl Fitted for MmmModel {
    fn param_names(&self) -> Vec<String> {
        MmmModel::param_names(self)
    }
    fn dim(&self) -> usize {
        MmmModel::dim(self)
    }
    fn unit_names(&self) -> Vec<String> {
        vec!["national".into()]
    }
    fn periods(&self) -> usize {
        MmmModel::periods(self)
    }
    fn train_periods(&self) -> usize {
        MmmModel::train_periods(self)
    }
    fn likelihood(&self) -> Likelihood {
        MmmModel::likelihood(self)
    }
    fn prior_draw(&self, rng: &mut dyn crate::rand::Rng) -> Option<Vec<f64>> {
        self.sample_prior_unconstrained(rng)
            .map(|u| self.constrain(&u))
    }
    fn linear_predictor_units(&self, theta: &[f64], eta: &mut [f64]) {
        let n = self.periods();
        self.linear_predictor(theta, &[], &mut eta[..n]);
    }
    fn predictive_draw_from_linear_units(
        &self,
        theta: &[f64],
        rng: &mut dyn crate::rand::Rng,
        mean: &mut [f64],
        out: &mut [f64],
    ) {
        scaled_draw(self, theta, rng, mean, out);
    }
    fn pointwise_log_likelihood_units(&self, theta: &[f64], out: &mut [f64]) {
        original_log_likelihood(self, theta, out);
    }
    fn prior_groups(&self) -> Vec<PriorGroup> {
        MmmModel::prior_groups(self)
    }
    fn log_prior_groups(&self, groups: &[PriorGroup], theta: &[f64], out: &mut [f64]) {
        MmmModel::log_prior_groups(self, groups, theta, out);
    }
    fn lift_test_log_likelihood(&self, theta: &[f64]) -> f64 {
        MmmModel::lift_test_log_likelihood(self, theta)
    }
}

impl Fitted for GeoModel {
    fn param_names(&self) -> Vec<String> {
        GeoModel::param_names(self)
    }
    fn dim(&self) -> usize {
        GeoModel::dim(self)
    }
    fn unit_names(&self) -> Vec<String> {
        self.geos().to_vec()
    }
    fn periods(&self) -> usize {
        self.member(0).periods()
    }
    fn train_periods(&self) -> usize {
        self.member(0).train_periods()
    }
    fn likelihood(&self) -> Likelihood {
        self.member(0).likelihood()
    }
    fn prior_draw(&self, rng: &mut dyn crate::rand::Rng) -> Option<Vec<f64>> {
        self.sample_prior_unconstrained(rng)
            .map(|u| self.constrain(&u))
    }
    fn linear_predictor_units(&self, theta: &[f64], eta: &mut [f64]) {
        let n = Fitted::periods(self);
        for g in 0..self.geos().len() {
            let theta_g = self.geo_theta(theta, g);
            self.member(g)
                .linear_predictor(&theta_g, &[], &mut eta[g * n..(g + 1) * n]);
        }
    }
    fn predictive_draw_from_linear_units(
        &self,
        theta: &[f64],
        rng: &mut dyn crate::rand::Rng,
        mean: &mut [f64],
        out: &mut [f64],
    ) {
        let n = Fitted::periods(self);
        for g in 0..self.geos().len() {
            let theta_g = self.geo_theta(theta, g);
            let rows = g * n..(g + 1) * n;
            scaled_draw(
                self.member(g),
                &theta_g,
                rng,
                &mut mean[rows.clone()],
                &mut out[rows],
            );
        }
    }
    fn pointwise_log_likelihood_units(&self, theta: &[f64], out: &mut [f64]) {
        let nt = Fitted::train_periods(self);
        for g in 0..self.geos().len() {
            let theta_g = self.geo_theta(theta, g);
            original_log_likelihood(self.member(g), &theta_g, &mut out[g * nt..(g + 1) * nt]);
        }
    }
    fn prior_groups(&self) -> Vec<PriorGroup> {
        GeoModel::prior_groups(self)
    }
    fn log_prior_groups(&self, groups: &[PriorGroup], theta: &[f64], out: &mut [f64]) {
        GeoModel::log_prior_groups(self, groups, theta, out);
    }
    fn lift_test_log_likelihood(&self, theta: &[f64]) -> f64 {
        GeoModel::lift_test_log_likelihood(self, theta)
    }
}
