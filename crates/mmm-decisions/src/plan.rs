//! The response of the model to a spend plan, per posterior draw, in original units.
//!
//! A plan is spend per channel and week (currency) over a horizon of H weeks that starts at a
//! given period. The spend of the `carryover_periods - 1` weeks before the start is prepended
//! (carry-in: it keeps acting and pushes the channel up its saturation curve), and the series is
//! extended with zeros past the horizon so the plan's carry-out is counted.
//!
//! The *lift* of a plan is, per draw, the sum over the horizon and its carry-out weeks of every
//! channel's term with the plan minus the same with zero spend over the horizon (carry-in alone),
//! times the target scale: the incremental outcome the plan buys.

use mmm_model::MmmModel;

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
    /// Lift-free response (carry-in alone) per channel and draw, over a horizon length.
    carry_in_only: Vec<Vec<f64>>,
    horizon: usize,
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
                let mut h = vec![0.0; lags - (start - from)];
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
            carry_in_only: Vec::new(),
            horizon,
        };
        let zeros = vec![0.0; horizon];
        pm.carry_in_only = (0..channels)
            .map(|c| pm.channel_response_raw(c, &zeros))
            .collect();
        pm
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

    /// Channel c's lift per draw for weekly spend `weekly` (currency, horizon weeks).
    pub fn channel_lift(&self, c: usize, weekly: &[f64]) -> Vec<f64> {
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
