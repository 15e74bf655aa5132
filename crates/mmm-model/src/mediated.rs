//! Mediators (spec `[[mediators]]`): a series such as brand awareness through which some
//! channels act, modelled jointly with the target.
//!
//! Structural equations (scaled units; m is the mediator over its training max-abs):
//! - mediator: `m_t = a + sum_(c in M) b_c v'_c(x_c)_t + baseline_t + e_t`, `e_t ~ Normal(0, s)`,
//!   each channel with adstock and saturation parameters of its own for this path;
//! - target: `y_t = ... + sum_c beta_c v_c(x_c)_t + gamma m_t + ...` with the observed m.
//!
//! The joint density p(y | m, theta_y) p(m | theta_m) has no parameter in common between the
//! two factors, so each is the log density of an ordinary [`MmmModel`] and the gradients are
//! theirs. Switching channel c off changes the mediator by `-b_c v'_c` and so the target by
//! `-gamma b_c v'_c` on top of its direct term: the total effect is direct plus mediated.

use mmm_core::Spec;
use mmm_features::Design;

use crate::{MmmModel, ModelError, ParamInfo};

/// One mediator's equation inside the target's model.
#[derive(Debug, Clone)]
pub(crate) struct Mediator {
    /// Its column name.
    pub(crate) name: String,
    /// The mediator's equation: a model whose target is the scaled mediator.
    pub(crate) model: MmmModel,
    /// Its first coordinate in the joint vector.
    pub(crate) at: usize,
    /// Index of the target's `gamma_mediator[NAME]`.
    pub(crate) gamma_at: usize,
    /// For each target channel, its index among the mediator's channels (None when the channel
    /// does not act through this mediator).
    pub(crate) channel_of: Vec<Option<usize>>,
}

impl Mediator {
    /// The mediator equation's part of a joint constrained or unconstrained vector.
    pub(crate) fn part<'a>(&self, joint: &'a [f64]) -> &'a [f64] {
        &joint[self.range()]
    }

    /// The range of its coordinates in the joint vector.
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        self.at..self.at + self.model.dim()
    }

    /// Its parameters named `mediator[NAME].PARAM` for the joint vector.
    pub(crate) fn joint_params(&self) -> Vec<ParamInfo> {
        self.model
            .params()
            .iter()
            .map(|p| ParamInfo {
                name: format!("mediator[{}].{}", self.name, p.name),
                ..p.clone()
            })
            .collect()
    }
}

/// Build every mediator's equation of `spec` on `design`; the first starts at coordinate
/// `first`, and `gamma_first` is the target's coefficient of the first mediator regressor.
pub(crate) fn build(
    spec: &Spec,
    design: &Design,
    first: usize,
    gamma_first: usize,
) -> Result<Vec<Mediator>, ModelError> {
    let mut at = first;
    let mut out = Vec::with_capacity(spec.mediators.len());
    for (k, m) in spec.mediators.iter().enumerate() {
        let sub = spec
            .mediator_spec(k)
            .ok_or_else(|| ModelError::Mismatch(format!("no mediator {k}")))?;
        let sub_design = mediator_design(&sub, design, spec.controls.len() + k)?;
        let model = MmmModel::new(&sub, &sub_design)?;
        let channel_of = spec
            .channels
            .iter()
            .map(|c| sub.channels.iter().position(|s| s.name == c.name))
            .collect();
        let mediator = Mediator {
            name: m.name.clone(),
            at,
            gamma_at: gamma_first + k,
            channel_of,
            model,
        };
        at += mediator.model.dim();
        out.push(mediator);
    }
    Ok(out)
}

/// The design of a mediator's equation (spec `sub` from [`Spec::mediator_spec`]): its target
/// is the target design's regressor `regressor` (the scaled mediator), its channels and
/// regressors are the design's columns of the same names.
fn mediator_design(sub: &Spec, design: &Design, regressor: usize) -> Result<Design, ModelError> {
    let column = |name: &str| {
        design
            .regressor_names
            .iter()
            .position(|n| n == name)
            .map(|i| design.regressors[i].clone())
            .ok_or_else(|| ModelError::Mismatch(format!("the design has no column '{name}'")))
    };
    let target_scaled = design
        .regressors
        .get(regressor)
        .cloned()
        .ok_or_else(|| ModelError::Mismatch(format!("no mediator regressor {regressor}")))?;
    let channel_at: Vec<usize> = sub
        .channels
        .iter()
        .map(|c| {
            design
                .channel_names
                .iter()
                .position(|n| *n == c.name)
                .ok_or_else(|| ModelError::Mismatch(format!("no channel '{}'", c.name)))
        })
        .collect::<Result<_, _>>()?;
    let regressor_names = mmm_features::regressor_names(sub);
    let regressors = regressor_names
        .iter()
        .map(|n| column(n))
        .collect::<Result<Vec<_>, _>>()?;
    let mut scales = design.scales.clone();
    scales.target = design
        .scales
        .controls
        .get(&sub.data.target)
        .copied()
        .unwrap_or(1.0);
    scales
        .channels
        .retain(|name, _| sub.channels.iter().any(|c| c.name == *name));
    scales.controls.clear();
    let mut carry_in = design.carry_in.clone();
    if !carry_in.channels.is_empty() {
        carry_in.channels = channel_at
            .iter()
            .map(|&c| design.carry_in.channel(c).to_vec())
            .collect();
    }
    Ok(Design {
        dates: design.dates.clone(),
        n_train: design.n_train,
        target_scaled,
        channel_names: sub.channels.iter().map(|c| c.name.clone()).collect(),
        channels: channel_at
            .iter()
            .map(|&c| design.channels[c].clone())
            .collect(),
        regressor_names,
        regressors,
        scales,
        carry_in,
    })
}

impl MmmModel {
    /// The mediators' names, in spec order.
    pub fn mediator_names(&self) -> Vec<String> {
        self.mediators.iter().map(|m| m.name.clone()).collect()
    }

    /// True when channel c acts through at least one mediator.
    pub fn is_mediated(&self, c: usize) -> bool {
        self.mediators
            .iter()
            .any(|m| m.channel_of.get(c).copied().flatten().is_some())
    }

    /// Channel c's mediated term for every period at joint constrained `theta`:
    /// sum over its mediators of gamma times its term in the mediator's equation (zero when it
    /// acts through none).
    pub fn mediated_term(&self, theta: &[f64], c: usize, out: &mut [f64]) {
        let n = self.n;
        out[..n].fill(0.0);
        let mut term = vec![0.0; n];
        for m in &self.mediators {
            if let Some(j) = m.channel_of[c] {
                m.model.channel_term(m.part(theta), j, &mut term);
                let gamma = theta[m.gamma_at];
                for (o, v) in out[..n].iter_mut().zip(&term) {
                    *o += gamma * v;
                }
            }
        }
    }

    /// [`Self::mediated_term`] summed over `periods` (clipped to the model's periods).
    pub fn mediated_total(&self, theta: &[f64], c: usize, periods: std::ops::Range<usize>) -> f64 {
        let n = self.n;
        let mut term = vec![0.0; n];
        self.mediated_term(theta, c, &mut term);
        term[periods.start.min(n)..periods.end.min(n)].iter().sum()
    }

    /// [`Self::mediated_term`] for a scaled spend series `spend` (a plan), one value per
    /// period of `spend`, added to `out`.
    pub(crate) fn add_mediated_for_spend(
        &self,
        theta: &[f64],
        c: usize,
        spend: &[f64],
        out: &mut [f64],
    ) {
        let n = spend.len().min(out.len());
        let mut term = vec![0.0; n];
        for m in &self.mediators {
            if let Some(j) = m.channel_of[c] {
                m.model
                    .channel_term_for_spend(m.part(theta), j, &spend[..n], &mut term);
                let gamma = theta[m.gamma_at];
                for (o, v) in out[..n].iter_mut().zip(&term) {
                    *o += gamma * v;
                }
            }
        }
    }

    /// For each multiplier, gamma times channel c's response total in each of its mediators'
    /// equations (`totals` picks the mediator model's curve: channel totals or counterfactual
    /// response totals), added to `out`.
    pub(crate) fn add_mediated_totals(
        &self,
        theta: &[f64],
        c: usize,
        multipliers: &[f64],
        out: &mut [f64],
        totals: impl Fn(&MmmModel, &[f64], usize, &mut [f64]),
    ) {
        let mut part = vec![0.0; multipliers.len()];
        for m in &self.mediators {
            if let Some(j) = m.channel_of[c] {
                totals(&m.model, m.part(theta), j, &mut part);
                let gamma = theta[m.gamma_at];
                for (o, v) in out.iter_mut().zip(&part) {
                    *o += gamma * v;
                }
            }
        }
    }

    /// Each mediator's expected value (scaled) at joint `theta` with the channels in `zeroed`
    /// switched off, minus its value with none off: the counterfactual change of the mediator,
    /// per mediator and period (`[mediator][period]`).
    pub fn mediator_shift(&self, theta: &[f64], zeroed: &[usize]) -> Vec<Vec<f64>> {
        let n = self.n;
        let mut term = vec![0.0; n];
        self.mediators
            .iter()
            .map(|m| {
                let mut shift = vec![0.0; n];
                for &c in zeroed {
                    if let Some(j) = m.channel_of.get(c).copied().flatten() {
                        m.model.channel_term(m.part(theta), j, &mut term);
                        for (s, v) in shift.iter_mut().zip(&term) {
                            *s -= v;
                        }
                    }
                }
                shift
            })
            .collect()
    }
}
