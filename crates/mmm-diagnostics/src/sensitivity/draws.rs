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

/// Draws whose geo parameters are held at once (bounds memory at 50 geos).
const CHUNK: usize = 512;

/// One unit's (or the summed geos') channel totals per draw, in posterior order.
struct ChannelTotals {
    /// Per channel and draw: contribution over the training window (target units).
    contribution: Vec<Vec<f64>>,
    /// Per channel and draw: marginal ROAS times the channel's training spend.
    marginal_spend: Vec<Vec<f64>>,
    /// Per channel: training spend (currency).
    spend: Vec<f64>,
}

/// Each channel's contribution over the first `nt` periods at `theta` (model scale). For an
/// additive likelihood it is the sum of the channel's term, which equals the counterfactual
/// difference there and is what the decide stage's decomposition adds up: for a channel
/// without carry-in spend, [`MmmModel::channel_totals_for_multipliers`] at multiplier 1 (the
/// model's vectorized kernels), else the sum of [`MmmModel::channel_term`]. Otherwise
/// [`MmmModel::channel_contributions`]' counterfactual differences of expected responses.
fn contributions(model: &MmmModel, theta: &[f64], nt: usize) -> Vec<f64> {
    if !model.is_additive() {
        return model.channel_contributions(theta, 0..nt);
    }
    let mut term = Vec::new();
    (0..model.channel_names().len())
        .map(|c| {
            if model.channel_history(c).iter().all(|v| *v == 0.0) {
                let mut total = [0.0];
                let spend = &model.channel_spend(c)[..nt];
                model.channel_totals_for_multipliers(theta, c, spend, &[1.0], &mut total);
                return total[0];
            }
            term.resize(model.periods(), 0.0);
            model.channel_term(theta, c, &mut term);
            term[..nt].iter().sum()
        })
        .collect()
}

/// One unit's channel totals per draw: contributions times the target's scale, and the decide
/// stage's marginal ROAS ([`mmm_model::curves::marginal_roas`] at the current spend) times
/// the training spend.
fn unit_totals(model: &MmmModel, design: &Design, thetas: &[Vec<f64>]) -> ChannelTotals {
    let (nt, scale) = (design.n_train, design.scales.target);
    let per_draw = mmm_core::parallel::map_indexed(thetas.len(), BLOCK, |k| {
        contributions(model, &thetas[k], nt)
    });
    let channels = model.channel_names().len();
    let spend: Vec<f64> = (0..channels)
        .map(|c| design.spend(c)[..nt].iter().sum())
        .collect();
    let contribution = (0..channels)
        .map(|c| per_draw.iter().map(|v| v[c] * scale).collect())
        .collect();
    let marginal_spend = (0..channels)
        .map(|c| {
            if spend[c] <= 0.0 {
                return vec![0.0; thetas.len()];
            }
            let m = mmm_model::curves::marginal_roas(model, thetas, c, 1.0, scale, spend[c]);
            m.iter().map(|v| v * spend[c]).collect()
        })
        .collect();
    ChannelTotals {
        contribution,
        marginal_spend,
        spend,
    }
}

/// A hierarchy's national channel totals: every geo's, from its own parameters per draw,
/// summed per draw (as the decide stage rolls geos up); the geos' parameters are computed a
/// bounded chunk of draws at a time.
fn geo_totals(
    model: &mmm_model::geo::GeoModel,
    panel: &mmm_features::panel::GeoDesign,
    posterior: &Posterior,
) -> ChannelTotals {
    let channels = model.member(0).channel_names().len();
    let mut total = ChannelTotals {
        contribution: vec![Vec::with_capacity(posterior.len()); channels],
        marginal_spend: vec![Vec::with_capacity(posterior.len()); channels],
        spend: vec![0.0; channels],
    };
    for start in (0..posterior.len()).step_by(CHUNK) {
        let end = (start + CHUNK).min(posterior.len());
        let mut per_draw: Vec<Vec<Vec<f64>>> =
            mmm_core::parallel::map_indexed(end - start, 16, |i| {
                model.geo_thetas(&posterior.theta[start + i])
            });
        let mut chunk: Option<ChannelTotals> = None;
        for (g, design) in panel.designs.iter().enumerate() {
            let thetas: Vec<Vec<f64>> = per_draw
                .iter_mut()
                .map(|d| std::mem::take(&mut d[g]))
                .collect();
            let unit = unit_totals(model.member(g), design, &thetas);
            match &mut chunk {
                None => chunk = Some(unit),
                Some(acc) => {
                    for c in 0..channels {
                        add_into(&mut acc.contribution[c], &unit.contribution[c]);
                        add_into(&mut acc.marginal_spend[c], &unit.marginal_spend[c]);
                        acc.spend[c] += unit.spend[c];
                    }
                }
            }
        }
        if let Some(chunk) = chunk {
            for c in 0..channels {
                total.contribution[c].extend(&chunk.contribution[c]);
                total.marginal_spend[c].extend(&chunk.marginal_spend[c]);
                total.spend[c] = chunk.spend[c];
            }
        }
    }
    total
}

/// `acc += values`, element by element.
fn add_into(acc: &mut [f64], values: &[f64]) {
    for (a, v) in acc.iter_mut().zip(values) {
        *a += v;
    }
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
            unit_totals(model, design, &posterior.theta),
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
