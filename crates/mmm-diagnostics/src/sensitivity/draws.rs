//! The per-draw inputs of the power-scaling analysis from a fitted model: each prior group's
//! log density (`mmm_model::lprior`), and each channel's training-window contribution, ROAS and
//! marginal ROAS as the decide stage defines them (a hierarchy's summed over its geos).

use mmm_features::Design;
use mmm_model::joint::Fitted;
use mmm_model::{MmmModel, Posterior};

use super::{LogComponent, Quantity, QuantityKind, SensitivityInputs};
use crate::refits::RefitSubject;

/// Draws per parallel block of the per-draw loops.
const BLOCK: usize = 64;

/// One unit's (or the summed geos') channel totals per draw, in posterior order.
struct ChannelTotals {
    /// Per channel and draw: contribution over the training window (target units).
    contribution: Vec<Vec<f64>>,
    /// Per channel and draw: marginal ROAS times the channel's training spend.
    marginal_spend: Vec<Vec<f64>>,
    /// Per channel: training spend (currency).
    spend: Vec<f64>,
}

/// What every draw's channel figures of one unit (the national model, or one geo) read.
struct Unit<'a> {
    model: &'a MmmModel,
    /// Training periods of the contributions (the design's).
    nt: usize,
    /// The target's scale (model scale to target units).
    scale: f64,
    /// Per channel: training spend (currency).
    spend: Vec<f64>,
    /// Per channel: the scaled training spend followed by the carry-out periods at zero, the
    /// series of [`mmm_model::curves::response_grid`].
    series: Vec<Vec<f64>>,
}

impl<'a> Unit<'a> {
    fn new(model: &'a MmmModel, design: &Design) -> Self {
        let nt = design.n_train;
        let channels = model.channel_names().len();
        let series = (0..channels)
            .map(|c| {
                let tail = model.carryover_periods(c).saturating_sub(1);
                let mut series = model.channel_spend(c)[..model.train_periods()].to_vec();
                series.extend(std::iter::repeat_n(0.0, tail));
                series
            })
            .collect();
        Self {
            model,
            nt,
            scale: design.scales.target,
            spend: (0..channels)
                .map(|c| design.spend(c)[..nt].iter().sum())
                .collect(),
            series,
        }
    }

    /// Channel c's contribution over the training window and, when it has training spend, the
    /// slope of its response curve at the current spend (d/dm of the response to m times the
    /// training spend with its carry-out, at m = 1; model scale) at `theta`; `contributions`
    /// are the counterfactual ones of a model that is not additive. The contribution is the
    /// decide stage's: an additive model's is the sum of the channel's term, by
    /// [`MmmModel::channel_totals_for_multipliers`] at multiplier 1 without carry-in spend
    /// (else the sum of [`MmmModel::channel_term`]). The slope is exact where
    /// [`MmmModel::window_total_and_slope`] applies (both from one adstock pass, one
    /// exponential per week), else the decide stage's central difference of
    /// [`MmmModel::response_totals_for_multipliers`] at the two
    /// [`mmm_model::curves::marginal_multipliers`]; the two agree to O(h^2), h = 0.01.
    fn channel(
        &self,
        theta: &[f64],
        c: usize,
        contributions: &[f64],
        buf: &mut Vec<f64>,
    ) -> (f64, Option<f64>) {
        let model = self.model;
        let no_history = model.channel_history(c).iter().all(|v| *v == 0.0);
        let with_spend = self.spend[c] > 0.0;
        if no_history && with_spend && self.nt <= model.train_periods() {
            let series = &self.series[c];
            if let Some((total, slope)) =
                model.window_total_and_slope(theta, c, series, self.nt, buf)
            {
                return (total, Some(slope));
            }
        }
        let contribution = if !model.is_additive() {
            contributions[c]
        } else if no_history {
            let mut total = [0.0];
            let spend = &model.channel_spend(c)[..self.nt];
            model.channel_totals_for_multipliers(theta, c, spend, &[1.0], &mut total);
            total[0]
        } else {
            buf.clear();
            buf.resize(model.periods(), 0.0);
            model.channel_term(theta, c, buf);
            buf[..self.nt].iter().sum()
        };
        if !with_spend {
            return (contribution, None);
        }
        let grid = mmm_model::curves::marginal_multipliers(1.0);
        let mut responses = [0.0; 2];
        model.response_totals_for_multipliers(theta, c, &self.series[c], &grid, &mut responses);
        let slope = (responses[1] - responses[0]) / (grid[1] - grid[0]);
        (contribution, Some(slope))
    }

    /// Per channel at `theta`: [contribution (target units), marginal ROAS x training spend
    /// (0 without training spend)]: the contribution as the decide stage computes it, the
    /// marginal ROAS as the slope of the response curve at the current spend (the decide
    /// stage's [`mmm_model::curves::marginal_roas`] is its ±1% central difference).
    fn figures(&self, theta: &[f64], buf: &mut Vec<f64>) -> Vec<[f64; 2]> {
        let model = self.model;
        let contributions = if model.is_additive() {
            Vec::new()
        } else {
            model.channel_contributions(theta, 0..self.nt)
        };
        (0..model.channel_names().len())
            .map(|c| {
                let (contribution, slope) = self.channel(theta, c, &contributions, buf);
                // Marginal ROAS x training spend = the slope in target units.
                let marginal = slope.map_or(0.0, |s| s * self.scale);
                [contribution * self.scale, marginal]
            })
            .collect()
    }
}

/// Per draw (`thetas_of(k)` the units' parameters at draw k, in unit order), the units'
/// figures summed in unit order, as the decide stage rolls geos up; the draws in parallel.
fn summed_totals(
    units: &[Unit<'_>],
    draws: usize,
    thetas_of: impl Fn(usize) -> Vec<Vec<f64>> + Sync,
) -> ChannelTotals {
    let channels = units.first().map_or(0, |u| u.spend.len());
    let per_draw: Vec<Vec<[f64; 2]>> = mmm_core::parallel::map_blocks(draws, BLOCK, |range| {
        let mut buf = Vec::new();
        range
            .map(|k| {
                let mut total = vec![[0.0; 2]; channels];
                for (g, (unit, theta)) in units.iter().zip(thetas_of(k)).enumerate() {
                    for (t, v) in total.iter_mut().zip(unit.figures(&theta, &mut buf)) {
                        // The first unit's figures as they are (no 0 + x), then the sum.
                        *t = if g == 0 {
                            v
                        } else {
                            [t[0] + v[0], t[1] + v[1]]
                        };
                    }
                }
                total
            })
            .collect()
    });
    let column = |c: usize, i: usize| per_draw.iter().map(|d| d[c][i]).collect();
    let mut spend = vec![0.0; channels];
    for (g, unit) in units.iter().enumerate() {
        for (s, v) in spend.iter_mut().zip(&unit.spend) {
            *s = if g == 0 { *v } else { *s + v };
        }
    }
    ChannelTotals {
        contribution: (0..channels).map(|c| column(c, 0)).collect(),
        marginal_spend: (0..channels).map(|c| column(c, 1)).collect(),
        spend,
    }
}

/// The national model's channel totals per draw.
fn unit_totals(model: &MmmModel, design: &Design, posterior: &Posterior) -> ChannelTotals {
    let unit = Unit::new(model, design);
    summed_totals(std::slice::from_ref(&unit), posterior.len(), |k| {
        vec![posterior.theta[k].clone()]
    })
}

/// A hierarchy's national channel totals: every geo's, from its own parameters per draw,
/// summed per draw (as the decide stage rolls geos up). An additive model's channel figures
/// do not read the intercept, so its geos' parameters skip the intercepts' offsets (one
/// saturation pass per channel and geo, as costly as a channel's contribution).
fn geo_totals(
    model: &mmm_model::geo::GeoModel,
    panel: &mmm_features::panel::GeoDesign,
    posterior: &Posterior,
) -> ChannelTotals {
    let units: Vec<Unit<'_>> = (panel.designs.iter().enumerate())
        .map(|(g, design)| Unit::new(model.member(g), design))
        .collect();
    let additive = units.iter().all(|u| u.model.is_additive());
    summed_totals(&units, posterior.len(), |k| {
        let theta = &posterior.theta[k];
        if additive {
            model.geo_thetas_except_intercept(theta)
        } else {
            model.geo_thetas(theta)
        }
    })
}

/// `values` (posterior order) in the draw order `order`.
fn reordered(values: &[f64], order: &[usize]) -> Vec<f64> {
    order.iter().map(|&k| values[k]).collect()
}

/// Each channel's contribution, ROAS and marginal ROAS per draw, in `order`; a quantity with a
/// non-finite draw (a channel without training spend) is left out.
fn channel_quantities(totals: &ChannelTotals, names: &[String], order: &[usize]) -> Vec<Quantity> {
    let mut out: Vec<Quantity> = Vec::new();
    for (c, name) in names.iter().enumerate() {
        let spend = totals.spend[c];
        let contribution = &totals.contribution[c];
        let roas: Vec<f64> = contribution.iter().map(|x| x / spend).collect();
        let marginal: Vec<f64> = totals.marginal_spend[c].iter().map(|m| m / spend).collect();
        let roas_at = out.len();
        for (kind, stem, values) in [
            (QuantityKind::Roas, "roas", &roas),
            (QuantityKind::Contribution, "contribution", contribution),
            (QuantityKind::MarginalRoas, "marginal_roas", &marginal),
        ] {
            if values.iter().all(|v| v.is_finite()) {
                // Contribution = ROAS x spend, a positive multiple when spend > 0.
                let multiple_of = (kind == QuantityKind::Contribution
                    && spend > 0.0
                    && out
                        .get(roas_at)
                        .is_some_and(|q| q.kind == QuantityKind::Roas))
                .then_some(roas_at);
                out.push(Quantity {
                    name: format!("{stem}[{name}]"),
                    kind,
                    channel: Some(name.clone()),
                    draws: reordered(values, order),
                    multiple_of,
                });
            }
        }
    }
    out
}

/// Every prior group's log density per draw, in `order`.
fn prior_components(
    model: &dyn Fitted,
    posterior: &Posterior,
    order: &[usize],
) -> Vec<LogComponent> {
    let groups = model.prior_groups();
    let per_draw = mmm_core::parallel::map_indexed(order.len(), BLOCK, |i| {
        let mut out = vec![0.0; groups.len()];
        model.log_prior_groups(&groups, &posterior.theta[order[i]], &mut out);
        out
    });
    groups
        .iter()
        .enumerate()
        .map(|(j, g)| LogComponent {
            group: g.name.clone(),
            in_joint_prior: g.in_joint_prior(),
            values: per_draw.iter().map(|v| v[j]).collect(),
        })
        .collect()
}

/// The parameters as quantities, in `order`, without latent coordinates (local-level steps,
/// geo deviations), whose sensitivity is not a statement about a prior choice.
fn parameter_quantities(
    model: &dyn Fitted,
    posterior: &Posterior,
    order: &[usize],
) -> Vec<Quantity> {
    let latent: Vec<usize> = (model.prior_groups().into_iter())
        .filter(|g| !g.in_joint_prior())
        .flat_map(|g| g.parameters)
        .collect();
    (model.param_names().into_iter().enumerate())
        .filter(|(j, _)| !latent.contains(j))
        .map(|(j, name)| Quantity {
            name,
            kind: QuantityKind::Parameter,
            channel: None,
            draws: order.iter().map(|&k| posterior.theta[k][j]).collect(),
            multiple_of: None,
        })
        .collect()
}

/// The analysis' inputs from the fitted `subject`: prior groups, the likelihood (the training
/// periods' total `log_likelihood` per draw, already in `order`, plus the lift tests') and the
/// quantities, all in the draw order `order` (chain-major).
pub fn sensitivity_inputs(
    subject: RefitSubject<'_>,
    posterior: &Posterior,
    order: &[usize],
    mut log_likelihood: Vec<f64>,
) -> SensitivityInputs {
    let (fitted, totals, names): (&dyn Fitted, ChannelTotals, Vec<String>) = match subject {
        RefitSubject::National { design, model } => (
            model,
            unit_totals(model, design, posterior),
            design.channel_names.clone(),
        ),
        RefitSubject::Geo { panel, model } => (
            model,
            geo_totals(model, panel, posterior),
            model.member(0).channel_names().to_vec(),
        ),
    };
    for (ll, &k) in log_likelihood.iter_mut().zip(order) {
        *ll += fitted.lift_test_log_likelihood(&posterior.theta[k]);
    }
    let mut quantities = channel_quantities(&totals, &names, order);
    quantities.extend(parameter_quantities(fitted, posterior, order));
    SensitivityInputs {
        prior_groups: prior_components(fitted, posterior, order),
        log_likelihood,
        quantities,
    }
}
