//! Descriptors of the spec's families: each adstock, saturation curve and likelihood states
//! once, in a static descriptor, what its parameters are called in the draws (`stem[CH]`),
//! which spec key holds each prior, what the parameter means (the validation messages' words)
//! and where it lives (the support its prior must have).
//!
//! Everything that used to repeat this knowledge reads the descriptors: [`super::Spec::problems`]
//! (labels and supports), the draws schema's column text (`mmm_core::schemas::draws`), the
//! model's parameter names (`parameters()` of each spec type) and the optimizer's concavity
//! check ([`super::SaturationFamily::shape`]). CONTRIBUTING.md lists the steps to add a family.

use super::Support;

/// Where a family parameter lives, which decides which priors validation accepts for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParameterSupport {
    /// The prior's support must be this one (checked by [`super::Prior::support`]).
    Prior(Support),
    /// The delayed-geometric peak lag theta on [0, l_max - 1]: its prior must be a
    /// `truncated_normal` bounded inside that interval (the table's own `l_max`).
    PeakLag,
}

/// One parameter of a family, as the draws, the spec and the validation messages name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FamilyParameter {
    /// Name stem in the draws: the column is `{stem}[CH]` for a channel's parameter and
    /// `{stem}` for a likelihood's.
    pub stem: &'static str,
    /// Key of its prior inside the family's spec table (`lam_prior`).
    pub prior_key: &'static str,
    /// What the parameter is, as a validation message names it ("the Hill slope s").
    pub label: &'static str,
    /// Where the parameter lives.
    pub support: ParameterSupport,
}

impl FamilyParameter {
    /// A parameter whose prior must have support `support`.
    pub const fn new(
        stem: &'static str,
        prior_key: &'static str,
        label: &'static str,
        support: Support,
    ) -> Self {
        Self {
            stem,
            prior_key,
            label,
            support: ParameterSupport::Prior(support),
        }
    }
}

/// Pair a family's parameter descriptors with a spec's priors of them (same order).
pub(crate) fn with_priors<'a>(
    parameters: &'static [FamilyParameter],
    priors: Vec<&'a super::Prior>,
) -> Vec<(&'static FamilyParameter, &'a super::Prior)> {
    debug_assert_eq!(
        parameters.len(),
        priors.len(),
        "descriptor and spec disagree"
    );
    parameters.iter().zip(priors).collect()
}
