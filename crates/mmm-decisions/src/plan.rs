//! The response of the model to a spend plan, per posterior draw, in original units.
//!
//! A plan is spend per channel and week (currency) over a horizon of H weeks that starts at a
//! given period. The spend of the `carryover_periods - 1` weeks before the start is prepended
//! (carry-in: it keeps acting and pushes the channel up its saturation curve; before the data's
//! first period it is the model's carry-in history from `data.start`, else zero), and the
//! series is extended with zeros past the horizon so the plan's carry-out is counted.
//!
//! The *lift* of a plan is, per draw, the sum over the horizon and its carry-out weeks of every
//! channel's term with the plan minus the same with zero spend over the horizon (carry-in alone),
//! times the target scale: the incremental outcome the plan buys.
//!
//! For a model that is not additive on the response scale (LogNormal, Poisson, NB), channels
//! interact through the link, so the lift is computed jointly: per draw, the sum over the
//! horizon and the longest carry-out of the expected response E[y] with the plan minus the same
//! with zero spend over the horizon (carry-in alone), where the non-media part of the linear
//! predictor (intercept, controls, seasonality) is the model's own at those periods, held at the
//! last period's value past the data. A channel's lift within a plan is then the plan's lift
//! minus the lift of the plan with that channel at zero (see [`PlanModel::channel_lift_in`]).

use mmm_model::MmmModel;

use crate::review::TotalPrediction;

/// A model, its posterior draws, and the history a plan starts from.
#[derive(Debug, Clone)]
pub struct PlanModel<'a> {
    model: &'a MmmModel,
    thetas: &'a [Vec<f64>],
    /// Currency per scaled spend unit, per channel.
    spend_scale: Vec<f64>,
    /// Target units per model unit.
    target_scale: f64,
    /// Scaled spend of the weeks before the plan (carry-in), per channel.
    history: Vec<Vec<f64>>,
    /// Period of the model's data where the plan starts.
    start: usize,
    /// Lift-free response (carry-in alone) per channel and draw, over a horizon length.
    carry_in_only: Vec<Vec<f64>>,
    horizon: usize,
    /// Non-additive models: per draw, the non-media linear predictor over the horizon and the
    /// longest carry-out, and the expected total response with the carry-in alone.
    joint: Option<Joint>,
}

#[derive(Debug, Clone)]
struct Joint {
    base: Vec<Vec<f64>>,
    carry_in_total: Vec<f64>,
    span: usize,
}

impl<'a> PlanModel<'a> {
    /// A plan model over `horizon` weeks starting at period `start` (0..=periods) of the
    /// model's data; `spend_scale[c]` is channel c's currency per scaled unit.
    pub fn new(
        model: &'a MmmModel,
        thetas: &'a [Vec<f64>],
        spend_scale: Vec<f64>,
        target_scale: f64,
        start: usize,
        horizon: usize,
    ) -> Self {
        let channels = model.channel_names().len();
        let history = (0..channels)
            .map(|c| {
                let spend = model.channel_spend(c);
                let start = start.min(spend.len());
                let lags = model.carryover_periods(c).saturating_sub(1);
                let from = start.saturating_sub(lags);
                // Before period 0: the model's carry-in history (zeros without data.start).
                let before = model.channel_history(c);
                let mut h = before[before.len() - (lags - (start - from))..].to_vec();
                h.extend_from_slice(&spend[from..start]);
                h
            })
            .collect();
        let mut pm = Self {
            model,
            thetas,
            spend_scale,
            target_scale,
            history,
            start,
            carry_in_only: Vec::new(),
            horizon,
            joint: None,
        };
        let zeros = vec![0.0; horizon];
        if model.is_additive() {
            pm.carry_in_only = (0..channels)
                .map(|c| pm.channel_response_raw(c, &zeros))
                .collect();
        } else {
            let tail = (0..channels)
                .map(|c| model.carryover_periods(c).saturating_sub(1))
                .max()
                .unwrap_or(0);
            let span = horizon + tail;
            let all: Vec<usize> = (0..channels).collect();
            let n = model.periods();
            let mut eta = vec![0.0; n];
            let base = thetas
                .iter()
                .map(|theta| {
                    model.linear_predictor(theta, &all, &mut eta);
                    let last = eta.last().copied().unwrap_or(0.0);
                    (start..start + span)
                        .map(|p| eta.get(p).copied().unwrap_or(last))
                        .collect()
                })
                .collect();
            pm.joint = Some(Joint {
                base,
                carry_in_total: Vec::new(),
                span,
            });
            let zero_plan = vec![zeros; channels];
            let carry_in_total = pm.joint_totals(&zero_plan, span);
            if let Some(j) = pm.joint.as_mut() {
                j.carry_in_total = carry_in_total;
            }
        }
        pm
    }

    /// True when channel lifts add up to the plan's lift (an additive model).
    pub fn is_additive(&self) -> bool {
        self.joint.is_none()
    }

    /// Non-additive models: per draw, the sum over the first `weeks` weeks of the span of the
    /// expected response (target units) under `plan[c][week]` (currency, horizon weeks).
    fn joint_totals(&self, plan: &[Vec<f64>], weeks: usize) -> Vec<f64> {
        let Some(joint) = &self.joint else {
            return vec![0.0; self.draws()];
        };
        let span = joint.span;
        let series: Vec<Vec<f64>> = plan
            .iter()
            .enumerate()
            .map(|(c, weekly)| {
                let hist = &self.history[c];
                let mut s = Vec::with_capacity(hist.len() + span);
                s.extend_from_slice(hist);
                s.extend(weekly.iter().map(|v| v / self.spend_scale[c]));
                s.resize(hist.len() + span, 0.0);
                s
            })
            .collect();
        mmm_core::parallel::map_indexed(self.draws(), 16, |k| {
            let theta = &self.thetas[k];
            let mut eta = joint.base[k].clone();
            for (c, s) in series.iter().enumerate() {
                let mut term = vec![0.0; s.len()];
                self.model.channel_term_for_spend(theta, c, s, &mut term);
                for (e, v) in eta.iter_mut().zip(&term[self.history[c].len()..]) {
                    *e += v;
                }
            }
            eta[..weeks.min(span)]
                .iter()
                .map(|e| self.model.expected_at(theta, *e))
                .sum::<f64>()
                * self.target_scale
        })
    }

    /// Lift per draw of the whole plan `plan[c][week]` for a non-additive model.
    fn joint_lift(&self, plan: &[Vec<f64>]) -> Vec<f64> {
        let Some(joint) = &self.joint else {
            return vec![0.0; self.draws()];
        };
        self.joint_totals(plan, joint.span)
            .iter()
            .zip(&joint.carry_in_total)
            .map(|(a, b)| a - b)
            .collect()
    }

    /// Lift per draw of the plan spreading `totals[c]` (currency) evenly over the horizon.
    pub fn flat_lift(&self, totals: &[f64]) -> Vec<f64> {
        let plan: Vec<Vec<f64>> = totals
            .iter()
            .map(|t| vec![t / self.horizon as f64; self.horizon])
            .collect();
        self.lift(&plan)
    }

    /// Channel c's lift per draw within `plan`: its own lift for an additive model; for a
    /// non-additive one, the plan's lift minus the lift of the plan with channel c at zero.
    pub fn channel_lift_in(&self, plan: &[Vec<f64>], c: usize) -> Vec<f64> {
        if self.is_additive() {
            return self.channel_lift(c, &plan[c]);
        }
        let mut without = plan.to_vec();
        without[c] = vec![0.0; self.horizon];
        self.joint_lift(plan)
            .iter()
            .zip(self.joint_lift(&without))
            .map(|(a, b)| a - b)
            .collect()
    }

    /// Non-additive models: per draw, the expected total outcome over the horizon weeks
    /// (target units) under the plan, and the variance of the outcome's sum (independent
    /// weeks); `None` for an additive model.
    pub fn expected_outcome(&self, plan: &[Vec<f64>]) -> Option<(Vec<f64>, Vec<f64>)> {
        let joint = self.joint.as_ref()?;
        let h = self.horizon.min(joint.span);
        let mut means = Vec::with_capacity(self.draws());
        let mut vars = Vec::with_capacity(self.draws());
        for (k, theta) in self.thetas.iter().enumerate() {
            let mut eta = joint.base[k].clone();
            for (c, weekly) in plan.iter().enumerate() {
                let hist = &self.history[c];
                let mut s = hist.clone();
                s.extend(weekly.iter().map(|v| v / self.spend_scale[c]));
                let mut term = vec![0.0; s.len()];
                self.model.channel_term_for_spend(theta, c, &s, &mut term);
                for (e, v) in eta.iter_mut().zip(&term[hist.len()..]) {
                    *e += v;
                }
            }
            let (mut m, mut v) = (0.0, 0.0);
            for e in &eta[..h] {
                let ey = self.model.expected_at(theta, *e);
                m += ey;
                v += self.model.predictive_variance(theta, ey);
            }
            let s = self.target_scale;
            means.push(m * s);
            vars.push(v * s * s);
        }
        Some((means, vars))
    }

    /// The predictive distribution of the total outcome over the horizon under `plan`
    /// (currency, `plan[c][week]`), per draw: expected total (baseline + media, target units)
    /// and the sd of the sum's observation noise, weeks independent. `None` when the horizon
    /// runs past the data: the baseline of those weeks needs control values the model lacks.
    pub fn total_prediction(&self, plan: &[Vec<f64>]) -> Option<TotalPrediction> {
        let h = self.horizon;
        if self.start + h > self.model.periods() {
            return None;
        }
        if let Some((means, vars)) = self.expected_outcome(plan) {
            return Some(TotalPrediction {
                mean_per_draw: means,
                sd_per_draw: vars.iter().map(|v| v.sqrt()).collect(),
                noise: format!(
                    "the {} likelihood's variance per week around its expected response, weeks independent; the sum's sd is the root of the summed variances",
                    self.model.likelihood().name()
                ),
            });
        }
        let scale = self.target_scale;
        let all: Vec<usize> = (0..self.channels()).collect();
        let media = self.weekly_media(plan);
        let mut base = vec![0.0; self.model.periods()];
        let (mut means, mut sds) = (Vec::new(), Vec::new());
        for (theta, m) in self.thetas.iter().zip(&media) {
            self.model.predict_mean(theta, &all, &mut base);
            let b: f64 = base[self.start..self.start + h].iter().sum::<f64>() * scale;
            means.push(b + m.iter().sum::<f64>());
            // Independent noise per week: the sum's variance is H times a week's.
            sds.push(match self.model.sigma(theta) {
                Some(sigma) if self.model.likelihood() == mmm_model::Likelihood::Normal => {
                    sigma * scale * (h as f64).sqrt()
                }
                // Student-t: its variance sigma^2 nu / (nu - 2) per week (infinite for nu <= 2).
                _ => (self.model.predictive_variance(theta, 0.0) * h as f64).sqrt() * scale,
            });
        }
        Some(TotalPrediction {
            mean_per_draw: means,
            sd_per_draw: sds,
            noise:
                "Normal(0, sigma) per week, independent; the sum over the horizon has sd sigma sqrt(H)"
                    .into(),
        })
    }

    /// Number of channels.
    pub fn channels(&self) -> usize {
        self.spend_scale.len()
    }

    /// Number of posterior draws.
    pub fn draws(&self) -> usize {
        self.thetas.len()
    }

    /// Weeks in the horizon.
    pub fn horizon(&self) -> usize {
        self.horizon
    }

    /// Sum over the horizon and carry-out weeks of channel c's term with weekly spend
    /// `weekly` (currency, one value per horizon week), per draw, in target units.
    fn channel_response_raw(&self, c: usize, weekly: &[f64]) -> Vec<f64> {
        let hist = &self.history[c];
        let tail = self.model.carryover_periods(c).saturating_sub(1);
        let mut series = Vec::with_capacity(hist.len() + weekly.len() + tail);
        series.extend_from_slice(hist);
        series.extend(weekly.iter().map(|s| s / self.spend_scale[c]));
        series.extend(std::iter::repeat_n(0.0, tail));
        let mut out = vec![0.0; series.len()];
        self.thetas
            .iter()
            .map(|theta| {
                self.model
                    .channel_term_for_spend(theta, c, &series, &mut out);
                out[hist.len()..].iter().sum::<f64>() * self.target_scale
            })
            .collect()
    }

    /// Channel c's lift per draw for weekly spend `weekly` (currency, horizon weeks), the other
    /// channels at zero over the horizon (for a non-additive model, their carry-in still acts).
    pub fn channel_lift(&self, c: usize, weekly: &[f64]) -> Vec<f64> {
        if !self.is_additive() {
            let mut plan = vec![vec![0.0; self.horizon]; self.channels()];
            plan[c] = weekly.to_vec();
            return self.joint_lift(&plan);
        }
        let raw = self.channel_response_raw(c, weekly);
        raw.iter()
            .zip(&self.carry_in_only[c])
            .map(|(r, b)| r - b)
            .collect()
    }

    /// Channel c's lift per draw when `total` (currency) is spread evenly over the horizon.
    pub fn flat_channel_lift(&self, c: usize, total: f64) -> Vec<f64> {
        let weekly = vec![total / self.horizon as f64; self.horizon];
        self.channel_lift(c, &weekly)
    }

    /// Total lift per draw of a plan given as `plan[c][week]` (currency).
    pub fn lift(&self, plan: &[Vec<f64>]) -> Vec<f64> {
        if !self.is_additive() {
            return self.joint_lift(plan);
        }
        let mut total = vec![0.0; self.draws()];
        for (c, weekly) in plan.iter().enumerate() {
            for (t, v) in total.iter_mut().zip(self.channel_lift(c, weekly)) {
                *t += v;
            }
        }
        total
    }

    /// Expected media response in each horizon week (carry-in included, carry-out excluded),
    /// per draw: `out[k][week]`, target units. Used for predictions of the total outcome.
    pub fn weekly_media(&self, plan: &[Vec<f64>]) -> Vec<Vec<f64>> {
        let mut out = vec![vec![0.0; self.horizon]; self.draws()];
        for (c, weekly) in plan.iter().enumerate() {
            let hist = &self.history[c];
            let mut series = hist.clone();
            series.extend(weekly.iter().map(|s| s / self.spend_scale[c]));
            let mut term = vec![0.0; series.len()];
            for (k, theta) in self.thetas.iter().enumerate() {
                self.model
                    .channel_term_for_spend(theta, c, &series, &mut term);
                for (o, v) in out[k].iter_mut().zip(&term[hist.len()..]) {
                    *o += v * self.target_scale;
                }
            }
        }
        out
    }
}

/// A plan's lift per draw, whatever computes it: one model's [`PlanModel`], or the pooled
/// draws of several models ([`MixturePlan`]). The allocation rows and plan summaries of the
/// optimizer and scenarios read a plan's outcome through it.
pub trait PlanResponse {
    /// True when channel lifts add up to the plan's lift.
    fn is_additive(&self) -> bool;
    /// Number of draws.
    fn draws(&self) -> usize;
    /// Total lift per draw of `plan[c][week]` (currency).
    fn lift(&self, plan: &[Vec<f64>]) -> Vec<f64>;
    /// Channel c's lift per draw for weekly spend `weekly`, the other channels at zero.
    fn channel_lift(&self, c: usize, weekly: &[f64]) -> Vec<f64>;
    /// Channel c's lift per draw within `plan`.
    fn channel_lift_in(&self, plan: &[Vec<f64>], c: usize) -> Vec<f64>;
}

impl PlanResponse for PlanModel<'_> {
    fn is_additive(&self) -> bool {
        PlanModel::is_additive(self)
    }
    fn draws(&self) -> usize {
        PlanModel::draws(self)
    }
    fn lift(&self, plan: &[Vec<f64>]) -> Vec<f64> {
        PlanModel::lift(self, plan)
    }
    fn channel_lift(&self, c: usize, weekly: &[f64]) -> Vec<f64> {
        PlanModel::channel_lift(self, c, weekly)
    }
    fn channel_lift_in(&self, plan: &[Vec<f64>], c: usize) -> Vec<f64> {
        PlanModel::channel_lift_in(self, plan, c)
    }
}

/// Several models' responses to the same plan, their draws pooled member after member: a
/// mixture of their posteriors when each member holds a share of the draws equal to its
/// weight, so that means, quantiles and intervals over the pooled draws are the mixture's.
/// Every member has the same channels, in the same order, and the same plan window.
#[derive(Debug, Clone)]
pub struct MixturePlan<'a> {
    members: Vec<PlanModel<'a>>,
}

impl<'a> MixturePlan<'a> {
    /// The mixture of `members` (at least one).
    pub fn new(members: Vec<PlanModel<'a>>) -> Self {
        Self { members }
    }

    /// Number of channels (the first member's).
    pub fn channels(&self) -> usize {
        self.members.first().map_or(0, PlanModel::channels)
    }

    /// Weeks in the horizon (the first member's).
    pub fn horizon(&self) -> usize {
        self.members.first().map_or(0, PlanModel::horizon)
    }

    /// Each member's values per draw, one member after the other.
    fn pooled(&self, f: impl Fn(&PlanModel<'a>) -> Vec<f64>) -> Vec<f64> {
        self.members.iter().flat_map(f).collect()
    }
}

impl PlanResponse for MixturePlan<'_> {
    /// Additive when every member is; otherwise plans are evaluated jointly in every member
    /// (an additive member's joint lift is the sum of its channel lifts).
    fn is_additive(&self) -> bool {
        self.members.iter().all(PlanModel::is_additive)
    }
    fn draws(&self) -> usize {
        self.members.iter().map(PlanModel::draws).sum()
    }
    fn lift(&self, plan: &[Vec<f64>]) -> Vec<f64> {
        self.pooled(|m| m.lift(plan))
    }
    fn channel_lift(&self, c: usize, weekly: &[f64]) -> Vec<f64> {
        self.pooled(|m| m.channel_lift(c, weekly))
    }
    fn channel_lift_in(&self, plan: &[Vec<f64>], c: usize) -> Vec<f64> {
        self.pooled(|m| m.channel_lift_in(plan, c))
    }
}
