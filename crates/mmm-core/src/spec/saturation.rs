//! `channels[].saturation`: the diminishing-returns curve s(x) of a channel and its coefficient
//! beta; the channel's term is beta * s(.).
//!
//! Each curve is one variant of [`SaturationSpec`] (its spec keys and defaults) and one static
//! [`SaturationFamily`] descriptor (its kind, formula, parameters and shape); everything else
//! (validation, the draws schema's text, the model's parameter names, the optimizer's
//! concavity check) derives from these two. The curve's math is
//! `mmm_features::transforms::Saturation`. CONTRIBUTING.md, "Add a saturation curve", lists the
//! steps with the power curve as the worked example.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::family::{FamilyParameter, with_priors};
use super::{Prior, Support};

/// How a saturation curve bends in its input, which decides whether a channel's expected
/// lift is concave in spend (so the budget optimizer's ascent reaches the global optimum).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CurveShape {
    /// Concave and bounded: s rises to an upper bound (1).
    Concave,
    /// Concave without an upper bound: s keeps growing, ever more slowly.
    UnboundedConcave,
    /// S-shaped (convex, then concave) for some parameter values: the expected lift may have
    /// several local optima.
    SShaped,
}

impl CurveShape {
    /// True when every curve of this shape is concave in its input for every parameter value.
    pub const fn is_concave(self) -> bool {
        !matches!(self, Self::SShaped)
    }
}

/// A saturation family: the spec's `kind`, its curve, its parameters in vector order (beta
/// excluded) and its shape.
#[derive(Debug, PartialEq, Eq)]
pub struct SaturationFamily {
    /// The spec's `saturation.kind`.
    pub kind: &'static str,
    /// The curve s(x) as the docs write it.
    pub curve: &'static str,
    /// The curve's parameters in the order the model's parameter vector holds them.
    pub parameters: &'static [FamilyParameter],
    /// How the curve bends.
    pub shape: CurveShape,
}

/// The logistic, exponential and log1p rate (or steepness) lam > 0.
const LAM: FamilyParameter = FamilyParameter::new(
    "saturation_lam",
    "lam_prior",
    "saturation lam",
    Support::Positive,
);
/// The half-saturation point K > 0 of the Hill and Michaelis-Menten curves.
const K: FamilyParameter = FamilyParameter::new(
    "saturation_k",
    "k_prior",
    "the half-saturation point K",
    Support::Positive,
);

impl SaturationFamily {
    /// (1 - e^(-lam x)) / (1 + e^(-lam x)).
    pub const LOGISTIC: Self = Self {
        kind: "logistic",
        curve: "(1 - e^(-lam x)) / (1 + e^(-lam x))",
        parameters: &[LAM],
        shape: CurveShape::Concave,
    };
    /// x^s / (x^s + K^s): S-shaped for a slope s above 1.
    pub const HILL: Self = Self {
        kind: "hill",
        curve: "x^s / (x^s + K^s)",
        parameters: &[
            K,
            FamilyParameter::new(
                "saturation_s",
                "s_prior",
                "the Hill slope s",
                Support::Positive,
            ),
        ],
        shape: CurveShape::SShaped,
    };
    /// 1 - e^(-lam x).
    pub const EXPONENTIAL: Self = Self {
        kind: "exponential",
        curve: "1 - e^(-lam x)",
        parameters: &[LAM],
        shape: CurveShape::Concave,
    };
    /// x / (K + x).
    pub const MICHAELIS_MENTEN: Self = Self {
        kind: "michaelis_menten",
        curve: "x / (K + x)",
        parameters: &[K],
        shape: CurveShape::Concave,
    };
    /// tanh(x / c).
    pub const TANH: Self = Self {
        kind: "tanh",
        curve: "tanh(x / c)",
        parameters: &[FamilyParameter::new(
            "saturation_c",
            "c_prior",
            "the tanh scale c",
            Support::Positive,
        )],
        shape: CurveShape::Concave,
    };
    /// ln(1 + lam x), unbounded.
    pub const LOG1P: Self = Self {
        kind: "log1p",
        curve: "ln(1 + lam x)",
        parameters: &[LAM],
        shape: CurveShape::UnboundedConcave,
    };
    /// x^p with 0 < p < 1: constant elasticity p, unbounded.
    pub const POWER: Self = Self {
        kind: "power",
        curve: "x^p",
        parameters: &[FamilyParameter::new(
            "saturation_p",
            "p_prior",
            "the power-curve exponent p",
            Support::UnitInterval,
        )],
        shape: CurveShape::UnboundedConcave,
    };

    /// Every family, in the order of [`SaturationSpec`]'s variants.
    pub const ALL: &'static [&'static Self] = &[
        &Self::LOGISTIC,
        &Self::HILL,
        &Self::EXPONENTIAL,
        &Self::MICHAELIS_MENTEN,
        &Self::TANH,
        &Self::LOG1P,
        &Self::POWER,
    ];

    /// The spec of this family with every default: the table `{ kind = "<kind>" }`.
    pub fn default_spec(&self) -> SaturationSpec {
        let table = serde_json::json!({ "kind": self.kind });
        SaturationSpec::deserialize(table).expect("every family's keys but kind have defaults")
    }
}

/// Saturation transform s(x) plus the channel coefficient: the channel's term is beta * s(.).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SaturationSpec {
    /// Logistic saturation (1 - e^(-lam x)) / (1 + e^(-lam x)) times beta
    /// (`saturation_lam[CH]`).
    Logistic {
        /// Prior of the steepness lam > 0 (default Gamma(3, 1), PyMC-Marketing's, on spend
        /// scaled by its training max-abs).
        #[serde(default = "default_lam_prior")]
        lam_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
    /// Hill curve x^s / (x^s + K^s) times beta (`saturation_k[CH]`, `saturation_s[CH]`).
    Hill {
        /// Prior of the half-saturation point K > 0 (scaled spend units; default
        /// HalfNormal(1.5), PyMC-Marketing's `kappa`).
        #[serde(default = "default_hill_prior")]
        k_prior: Prior,
        /// Prior of the slope s > 0 (default HalfNormal(1.5), PyMC-Marketing's `slope`).
        #[serde(default = "default_hill_prior")]
        s_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
    /// Exponential saturation 1 - e^(-lam x) times beta (`saturation_lam[CH]`).
    Exponential {
        /// Prior of the rate lam > 0 (default Gamma(3, 1), as the logistic's: the same role,
        /// a rate on spend scaled by its training max-abs).
        #[serde(default = "default_lam_prior")]
        lam_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
    /// Michaelis-Menten x / (K + x) times beta (`saturation_k[CH]`).
    MichaelisMenten {
        /// Prior of the half-saturation point K > 0 (scaled spend units; default
        /// HalfNormal(1), PyMC-Marketing's `lam`).
        #[serde(default = "default_unit_half_normal")]
        k_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
    /// tanh(x / c) times beta (`saturation_c[CH]`).
    Tanh {
        /// Prior of the scale c > 0 (scaled spend units; default HalfNormal(1),
        /// PyMC-Marketing's).
        #[serde(default = "default_unit_half_normal")]
        c_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
    /// ln(1 + lam x) times beta, without an upper bound (`saturation_lam[CH]`).
    Log1p {
        /// Prior of the rate lam > 0 (default Gamma(3, 1), as the logistic's).
        #[serde(default = "default_lam_prior")]
        lam_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
    /// Power curve x^p times beta with 0 < p < 1, without an upper bound: the channel's
    /// contribution has constant elasticity p to its input (d ln s / d ln x = p, a straight
    /// line on log-log axes) (`saturation_p[CH]`).
    Power {
        /// Prior of the exponent p in (0, 1) (default Beta(2, 2): mean 1/2, vanishing at
        /// p -> 0, where the curve becomes a step the intercept absorbs, and at p -> 1, where
        /// it stops diminishing).
        #[serde(default = "default_power_prior")]
        p_prior: Prior,
        /// Prior of the channel coefficient beta (scaled target units; default
        /// HalfNormal(2), PyMC-Marketing's). Not used when the channel has a `roas_prior`.
        #[serde(default = "default_beta_prior")]
        beta_prior: Prior,
    },
}

/// HalfNormal(2): PyMC-Marketing's channel coefficient prior on the max-abs-scaled target.
fn default_beta_prior() -> Prior {
    Prior::HalfNormal { sigma: 2.0 }
}

/// Gamma(3, 1): PyMC-Marketing's logistic `lam` (mean 3 on max-abs-scaled spend: the curve is
/// about 90% saturated at the largest training spend, and flatter or steeper curves stay
/// plausible).
fn default_lam_prior() -> Prior {
    Prior::Gamma {
        shape: 3.0,
        rate: 1.0,
    }
}

/// HalfNormal(1.5): PyMC-Marketing's Hill `kappa` and `slope`.
fn default_hill_prior() -> Prior {
    Prior::HalfNormal { sigma: 1.5 }
}

/// HalfNormal(1): PyMC-Marketing's Michaelis-Menten `lam` and tanh `c`.
fn default_unit_half_normal() -> Prior {
    Prior::HalfNormal { sigma: 1.0 }
}

/// Beta(2, 2) for the power curve's exponent p (mean 1/2, the square-root curve; 95% of its
/// mass in (0.09, 0.91)). Its density vanishes at both ends, where the curve degenerates: as
/// p -> 0, x^p tends to a step (1 for any positive spend) that the intercept absorbs, and as
/// p -> 1 to a line without diminishing returns. PyMC-Marketing's `RootSaturation` prior of
/// the same exponent, Beta(1, 2), was considered: it has its largest density at p = 0, the
/// unidentified end, and in the power recovery test (crates/mmm-sampler/tests/it/
/// recovery_transforms.rs) it left the channel's 90% contribution interval a third wider
/// ([0.32, 0.88] against [0.31, 0.73] with Beta(2, 2), truth 0.43).
fn default_power_prior() -> Prior {
    Prior::Beta {
        alpha: 2.0,
        beta: 2.0,
    }
}

/// Default saturation: logistic with PyMC-Marketing's priors (lam ~ Gamma(3, 1),
/// beta ~ HalfNormal(2)), the curve of its classic MMM.
impl Default for SaturationSpec {
    fn default() -> Self {
        Self::Logistic {
            lam_prior: default_lam_prior(),
            beta_prior: default_beta_prior(),
        }
    }
}

impl SaturationSpec {
    /// The descriptor of this curve's family.
    pub fn family(&self) -> &'static SaturationFamily {
        self.parts().0
    }

    /// The spec's name of the kind.
    pub fn kind(&self) -> &'static str {
        self.family().kind
    }

    /// The curve's parameters (without beta) in vector order, each with its prior.
    pub fn parameter_priors(&self) -> Vec<(&'static FamilyParameter, &Prior)> {
        let (family, priors, _) = self.parts();
        with_priors(family.parameters, priors)
    }

    /// The curve's parameters (without beta) in vector order: (parameter name stem, spec key
    /// of its prior, prior).
    pub fn parameters(&self) -> Vec<(&'static str, &'static str, &Prior)> {
        self.parameter_priors()
            .into_iter()
            .map(|(p, prior)| (p.stem, p.prior_key, prior))
            .collect()
    }

    /// Prior of the channel coefficient beta.
    pub fn beta_prior(&self) -> &Prior {
        self.parts().2
    }

    /// Replace the prior of the channel coefficient beta.
    pub fn set_beta_prior(&mut self, prior: Prior) {
        match self {
            Self::Logistic { beta_prior, .. }
            | Self::Hill { beta_prior, .. }
            | Self::Exponential { beta_prior, .. }
            | Self::MichaelisMenten { beta_prior, .. }
            | Self::Tanh { beta_prior, .. }
            | Self::Log1p { beta_prior, .. }
            | Self::Power { beta_prior, .. } => *beta_prior = prior,
        }
    }

    /// (family, the curve parameters' priors in the family's order, beta's prior): the one
    /// place that maps a variant to its descriptor.
    fn parts(&self) -> (&'static SaturationFamily, Vec<&Prior>, &Prior) {
        use SaturationFamily as F;
        match self {
            Self::Logistic {
                lam_prior,
                beta_prior,
            } => (&F::LOGISTIC, vec![lam_prior], beta_prior),
            Self::Hill {
                k_prior,
                s_prior,
                beta_prior,
            } => (&F::HILL, vec![k_prior, s_prior], beta_prior),
            Self::Exponential {
                lam_prior,
                beta_prior,
            } => (&F::EXPONENTIAL, vec![lam_prior], beta_prior),
            Self::MichaelisMenten {
                k_prior,
                beta_prior,
            } => (&F::MICHAELIS_MENTEN, vec![k_prior], beta_prior),
            Self::Tanh {
                c_prior,
                beta_prior,
            } => (&F::TANH, vec![c_prior], beta_prior),
            Self::Log1p {
                lam_prior,
                beta_prior,
            } => (&F::LOG1P, vec![lam_prior], beta_prior),
            Self::Power {
                p_prior,
                beta_prior,
            } => (&F::POWER, vec![p_prior], beta_prior),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::family::ParameterSupport;

    #[test]
    fn every_family_parses_with_its_defaults_and_describes_itself() {
        for family in SaturationFamily::ALL {
            let spec = family.default_spec();
            assert_eq!(spec.family(), *family);
            assert_eq!(spec.kind(), family.kind);
            assert_eq!(spec.parameters().len(), family.parameters.len());
            for (p, prior) in spec.parameter_priors() {
                assert_eq!(
                    ParameterSupport::Prior(prior.support()),
                    p.support,
                    "{} {}: the default prior must fit the parameter",
                    family.kind,
                    p.stem
                );
            }
            let text = toml::to_string(&spec).expect("serialize");
            assert_eq!(toml::from_str::<SaturationSpec>(&text).expect("read"), spec);
        }
    }

    #[test]
    fn the_family_list_covers_every_variant_of_the_schema() {
        let schema = serde_json::to_value(schemars::schema_for!(SaturationSpec)).expect("json");
        let kinds: Vec<String> = schema["oneOf"]
            .as_array()
            .expect("a tagged enum")
            .iter()
            .map(|v| {
                v["properties"]["kind"]["const"]
                    .as_str()
                    .expect("kind")
                    .into()
            })
            .collect();
        let listed: Vec<String> = SaturationFamily::ALL
            .iter()
            .map(|f| f.kind.into())
            .collect();
        assert_eq!(kinds, listed, "SaturationFamily::ALL in variant order");
    }

    #[test]
    fn the_power_curve_defaults_to_a_beta_2_2_exponent() {
        let spec = SaturationFamily::POWER.default_spec();
        assert_eq!(
            spec.parameters(),
            vec![(
                "saturation_p",
                "p_prior",
                &Prior::Beta {
                    alpha: 2.0,
                    beta: 2.0
                }
            )]
        );
        assert_eq!(spec.beta_prior(), &Prior::HalfNormal { sigma: 2.0 });
        assert!(spec.family().shape.is_concave());
        assert!(!SaturationFamily::HILL.shape.is_concave());
    }
}
