//! `[likelihood]`: the observation model of the target.
//!
//! Each family is one variant of [`LikelihoodSpec`] (its spec keys and defaults) and one static
//! [`LikelihoodFamily`] descriptor (its name, the target values it needs, whether channel terms
//! add up, its noise parameters); validation, the contracts' target check and the draws
//! schema's text derive from these. The density itself is the model's (`mmm_model::Likelihood`
//! and its log density in crates/mmm-model/src/lib.rs); CONTRIBUTING.md, "Add a likelihood",
//! lists every file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::family::{FamilyParameter, with_priors};
use super::{Prior, Support};

/// A likelihood family: the spec's `family`, the target values it needs, whether channel
/// terms add up to the expected target, and its noise parameters in vector order.
#[derive(Debug, PartialEq, Eq)]
pub struct LikelihoodFamily {
    /// The spec's `likelihood.family`.
    pub family: &'static str,
    /// The values the target must take.
    pub target: TargetDomain,
    /// True when channel terms add up to the expected target (an identity link).
    pub additive: bool,
    /// The noise parameters in the order the model's parameter vector holds them.
    pub parameters: &'static [FamilyParameter],
}

/// The noise scale sigma > 0 (on the scaled target, or on its log for `log_normal`).
const SIGMA: FamilyParameter =
    FamilyParameter::new("sigma", "sigma_prior", "the noise scale", Support::Positive);

impl LikelihoodFamily {
    /// y ~ Normal(mu, sigma).
    pub const NORMAL: Self = Self {
        family: "normal",
        target: TargetDomain::Real,
        additive: true,
        parameters: &[SIGMA],
    };
    /// y ~ Student-t(nu, mu, sigma).
    pub const STUDENT_T: Self = Self {
        family: "student_t",
        target: TargetDomain::Real,
        additive: true,
        parameters: &[
            SIGMA,
            FamilyParameter::new(
                "nu",
                "nu_prior",
                "the degrees of freedom",
                Support::Positive,
            ),
        ],
    };
    /// ln y ~ Normal(eta, sigma).
    pub const LOG_NORMAL: Self = Self {
        family: "log_normal",
        target: TargetDomain::Positive,
        additive: false,
        parameters: &[SIGMA],
    };
    /// y ~ Poisson(exp(eta)).
    pub const POISSON: Self = Self {
        family: "poisson",
        target: TargetDomain::Count,
        additive: false,
        parameters: &[],
    };
    /// y ~ NegativeBinomial(exp(eta), phi).
    pub const NEGATIVE_BINOMIAL: Self = Self {
        family: "negative_binomial",
        target: TargetDomain::Count,
        additive: false,
        parameters: &[FamilyParameter::new(
            "phi",
            "phi_prior",
            "the dispersion",
            Support::Positive,
        )],
    };

    /// Every family, in the order of [`LikelihoodSpec`]'s variants.
    pub const ALL: &'static [&'static Self] = &[
        &Self::NORMAL,
        &Self::STUDENT_T,
        &Self::LOG_NORMAL,
        &Self::POISSON,
        &Self::NEGATIVE_BINOMIAL,
    ];
}

/// Observation model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum LikelihoodSpec {
    /// y ~ Normal(mu, sigma) on the scaled target.
    Normal {
        /// Prior of the noise scale sigma > 0 (default HalfNormal(2), PyMC-Marketing's).
        #[serde(default = "default_sigma_prior")]
        sigma_prior: Prior,
    },
    /// y ~ Student-t(nu, mu, sigma) on the scaled target: robust to outlier weeks.
    StudentT {
        /// Prior of the noise scale sigma > 0 (default HalfNormal(2)).
        #[serde(default = "default_sigma_prior")]
        sigma_prior: Prior,
        /// Prior of the degrees of freedom nu > 0 (default Gamma(2, 0.1): Juarez and Steel
        /// 2010, the Stan prior-choice recommendation; mean 20, heavy tails still plausible).
        #[serde(default = "default_nu_prior")]
        nu_prior: Prior,
    },
    /// ln y ~ Normal(eta, sigma) with eta the linear predictor: a multiplicative model,
    /// E[y] = exp(eta + sigma^2 / 2); needs y > 0.
    LogNormal {
        /// Prior of the log-scale noise sigma > 0 (default HalfNormal(2)).
        #[serde(default = "default_sigma_prior")]
        sigma_prior: Prior,
    },
    /// y ~ Poisson(exp(eta)) with a log link on the original count scale; needs non-negative
    /// integer counts.
    Poisson,
    /// y ~ NegativeBinomial(mean exp(eta), dispersion phi) with a log link; needs counts.
    NegativeBinomial {
        /// Prior of the dispersion phi > 0 (variance = mean + mean^2 / phi; default
        /// Gamma(2, 0.05): mean 40, from near-Poisson to strongly overdispersed counts, the prior
        /// of the count-likelihood recovery fixture, fixtures/likelihoods).
        #[serde(default = "default_phi_prior")]
        phi_prior: Prior,
    },
}

/// Values the target may take under a likelihood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetDomain {
    /// Any real number.
    Real,
    /// Strictly positive reals.
    Positive,
    /// Non-negative integers.
    Count,
}

impl LikelihoodSpec {
    /// The descriptor of this family.
    pub fn family(&self) -> &'static LikelihoodFamily {
        self.parts().0
    }

    /// True when channel terms add up to the expected target (normal and student_t).
    pub fn is_additive(&self) -> bool {
        self.family().additive
    }

    /// The values the target must take for this likelihood to apply.
    pub fn target_domain(&self) -> TargetDomain {
        self.family().target
    }

    /// The noise parameters in vector order, each with its prior.
    pub fn parameter_priors(&self) -> Vec<(&'static FamilyParameter, &Prior)> {
        let (family, priors) = self.parts();
        with_priors(family.parameters, priors)
    }

    /// (family, the noise parameters' priors in the family's order): the one place that maps
    /// a variant to its descriptor.
    fn parts(&self) -> (&'static LikelihoodFamily, Vec<&Prior>) {
        use LikelihoodFamily as F;
        match self {
            Self::Normal { sigma_prior } => (&F::NORMAL, vec![sigma_prior]),
            Self::StudentT {
                sigma_prior,
                nu_prior,
            } => (&F::STUDENT_T, vec![sigma_prior, nu_prior]),
            Self::LogNormal { sigma_prior } => (&F::LOG_NORMAL, vec![sigma_prior]),
            Self::Poisson => (&F::POISSON, vec![]),
            Self::NegativeBinomial { phi_prior } => (&F::NEGATIVE_BINOMIAL, vec![phi_prior]),
        }
    }
}

impl Default for LikelihoodSpec {
    fn default() -> Self {
        Self::Normal {
            sigma_prior: default_sigma_prior(),
        }
    }
}

/// HalfNormal(2): PyMC-Marketing's likelihood sigma on the max-abs-scaled target.
fn default_sigma_prior() -> Prior {
    Prior::HalfNormal { sigma: 2.0 }
}

fn default_nu_prior() -> Prior {
    Prior::Gamma {
        shape: 2.0,
        rate: 0.1,
    }
}

fn default_phi_prior() -> Prior {
    Prior::Gamma {
        shape: 2.0,
        rate: 0.05,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_parses_with_its_defaults_and_describes_itself() {
        for family in LikelihoodFamily::ALL {
            let spec: LikelihoodSpec =
                serde_json::from_value(serde_json::json!({ "family": family.family }))
                    .expect("every key but family has a default");
            assert_eq!(spec.family(), *family);
            assert_eq!(spec.parameter_priors().len(), family.parameters.len());
        }
        let schema = serde_json::to_value(schemars::schema_for!(LikelihoodSpec)).expect("json");
        let listed: Vec<&str> = schema["oneOf"]
            .as_array()
            .expect("a tagged enum")
            .iter()
            .map(|v| v["properties"]["family"]["const"].as_str().expect("family"))
            .collect();
        let families: Vec<&str> = LikelihoodFamily::ALL.iter().map(|f| f.family).collect();
        assert_eq!(families, listed, "LikelihoodFamily::ALL in variant order");
    }
}
