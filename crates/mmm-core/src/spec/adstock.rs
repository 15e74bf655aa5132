//! `channels[].adstock`: the carry-over of a channel's spend, weights w_l over lags
//! l = 0..l_max-1 and adstock(x)_t = sum_l w_l x_(t-l).
//!
//! Each family is one variant of [`AdstockSpec`] and of [`AdstockToml`] (how it is written,
//! with its defaults) and one static [`AdstockFamily`] descriptor (its kind, weights and
//! parameters); validation, the draws schema's text and the model's parameter names derive
//! from these. The weights' math is `mmm_features::transforms::Adstock`. CONTRIBUTING.md,
//! "Add an adstock", lists the steps.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::family::{FamilyParameter, ParameterSupport, with_priors};
use super::{Prior, Support, default_true};

/// An adstock family: the spec's `kind`, its weights and its parameters in vector order.
#[derive(Debug, PartialEq, Eq)]
pub struct AdstockFamily {
    /// The spec's `adstock.kind`.
    pub kind: &'static str,
    /// The weights w_l as the docs write them.
    pub weights: &'static str,
    /// The parameters in the order the model's parameter vector holds them.
    pub parameters: &'static [FamilyParameter],
}

/// The geometric and delayed-geometric decay (retention) rate alpha in (0, 1).
const ALPHA: FamilyParameter = FamilyParameter::new(
    "adstock_alpha",
    "alpha_prior",
    "adstock alpha",
    Support::UnitInterval,
);
/// The Weibull shape k > 0 and scale lam > 0 (weeks).
const WEIBULL: [FamilyParameter; 2] = [
    FamilyParameter::new(
        "adstock_shape",
        "shape_prior",
        "the Weibull shape",
        Support::Positive,
    ),
    FamilyParameter::new(
        "adstock_scale",
        "scale_prior",
        "the Weibull scale",
        Support::Positive,
    ),
];

impl AdstockFamily {
    /// alpha^l.
    pub const GEOMETRIC: Self = Self {
        kind: "geometric",
        weights: "alpha^l",
        parameters: &[ALPHA],
    };
    /// alpha^((l - theta)^2), peaking at lag theta (Jin et al. 2017).
    pub const DELAYED_GEOMETRIC: Self = Self {
        kind: "delayed_geometric",
        weights: "alpha^((l - theta)^2)",
        parameters: &[
            ALPHA,
            FamilyParameter {
                stem: "adstock_theta",
                prior_key: "theta_prior",
                label: "the peak lag theta",
                support: ParameterSupport::PeakLag,
            },
        ],
    };
    /// The Weibull survival product.
    pub const WEIBULL_CDF: Self = Self {
        kind: "weibull_cdf",
        weights: "w_0 = 1, w_l = prod_(i=1..l) (1 - F(i)), F the Weibull(k, lam) CDF",
        parameters: &WEIBULL,
    };
    /// The normalized Weibull density.
    pub const WEIBULL_PDF: Self = Self {
        kind: "weibull_pdf",
        weights: "f(l + 1) / sum_j f(j + 1), f the Weibull(k, lam) density",
        parameters: &WEIBULL,
    };

    /// Every family, in the order of [`AdstockSpec`]'s variants.
    pub const ALL: &'static [&'static Self] = &[
        &Self::GEOMETRIC,
        &Self::DELAYED_GEOMETRIC,
        &Self::WEIBULL_CDF,
        &Self::WEIBULL_PDF,
    ];

    /// The spec of this family with every default: the table `{ kind = "<kind>" }`.
    pub fn default_spec(&self) -> AdstockSpec {
        let table = serde_json::json!({ "kind": self.kind });
        AdstockSpec::deserialize(table).expect("every family's keys but kind have defaults")
    }
}

/// Carry-over (adstock) transform: weights w_l for lags l = 0..l_max-1, and
/// adstock(x)_t = sum_l w_l x_(t-l). `kind` is required when the table is written; every other
/// key has a default (l_max 8, PyMC-Marketing's priors; docs/spec.md).
// Read from and written as `AdstockToml`: the delayed geometric's default peak-lag prior
// depends on the table's own `l_max`, which a serde field default cannot see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "AdstockToml", into = "AdstockToml")]
pub enum AdstockSpec {
    /// Geometric decay: weight alpha^l (parameter `adstock_alpha[CH]`).
    Geometric {
        /// Number of weeks an impulse lasts (lags 0..l_max-1).
        l_max: usize,
        /// Divide the weights by their sum so total carry-over is 1.
        normalize: bool,
        /// Prior of the decay rate alpha in (0, 1).
        alpha_prior: Prior,
    },
    /// Delayed geometric decay (Jin et al. 2017): weight alpha^((l - theta)^2), peaking at
    /// lag theta (parameters `adstock_alpha[CH]`, `adstock_theta[CH]`).
    DelayedGeometric {
        /// Number of weeks an impulse lasts (lags 0..l_max-1); at least 2.
        l_max: usize,
        /// Divide the weights by their sum so total carry-over is 1.
        normalize: bool,
        /// Prior of the retention rate alpha in (0, 1).
        alpha_prior: Prior,
        /// Prior of the peak lag theta: a `truncated_normal` with bounds inside [0, l_max - 1].
        theta_prior: Prior,
    },
    /// Weibull survival weights (PyMC-Marketing's `WeibullType.CDF`, Robyn's
    /// `weibull_cdf`): w_0 = 1 and w_l = prod_(i=1..l) (1 - F(i; shape, scale)), F the Weibull
    /// CDF (parameters `adstock_shape[CH]`, `adstock_scale[CH]`).
    WeibullCdf {
        /// Number of weeks an impulse lasts (lags 0..l_max-1).
        l_max: usize,
        /// Divide the weights by their sum so total carry-over is 1.
        normalize: bool,
        /// Prior of the Weibull shape k > 0.
        shape_prior: Prior,
        /// Prior of the Weibull scale lam > 0, in weeks.
        scale_prior: Prior,
    },
    /// Weibull density weights: w_l = f(l + 1; shape, scale) / sum_j f(j + 1; shape, scale),
    /// f the Weibull pdf; always normalized (parameters `adstock_shape[CH]`,
    /// `adstock_scale[CH]`).
    WeibullPdf {
        /// Number of weeks an impulse lasts (lags 0..l_max-1).
        l_max: usize,
        /// Prior of the Weibull shape k > 0.
        shape_prior: Prior,
        /// Prior of the Weibull scale lam > 0, in weeks.
        scale_prior: Prior,
    },
}

/// Default adstock: geometric over 8 weeks with alpha ~ Beta(1, 3), normalized. Eight weekly
/// lags are PyMC-Marketing's example `l_max` and Meridian's default `max_lag`; Beta(1, 3) is
/// PyMC-Marketing's default decay prior (mean 0.25: most carry-over within a few weeks,
/// longer decays still reachable).
impl Default for AdstockSpec {
    fn default() -> Self {
        Self::Geometric {
            l_max: DEFAULT_L_MAX,
            normalize: true,
            alpha_prior: default_alpha_prior(),
        }
    }
}

/// Default number of adstock lags (weeks): PyMC-Marketing's example and Meridian's `max_lag`.
pub const DEFAULT_L_MAX: usize = 8;

fn default_l_max() -> usize {
    DEFAULT_L_MAX
}

/// Beta(1, 3), PyMC-Marketing's default prior of the geometric and delayed decay rate.
fn default_alpha_prior() -> Prior {
    Prior::Beta {
        alpha: 1.0,
        beta: 3.0,
    }
}

/// The delayed geometric's peak lag: PyMC-Marketing's HalfNormal(1), truncated to the lags
/// that exist ([0, l_max - 1]) as the sampler's bounded map needs. An `l_max` below 2 keeps a
/// valid interval so that only the `l_max` problem itself is reported.
pub fn default_theta_prior(l_max: usize) -> Prior {
    Prior::TruncatedNormal {
        mu: 0.0,
        sigma: 1.0,
        lower: 0.0,
        upper: l_max.saturating_sub(1).max(1) as f64,
    }
}

/// Weibull shape k ~ Gamma(9, 3) (mean 3, sd 1): PyMC-Marketing's `Gamma(mu=3, sigma=1)`.
fn default_weibull_shape_prior() -> Prior {
    Prior::Gamma {
        shape: 9.0,
        rate: 3.0,
    }
}

/// Weibull scale lam ~ Gamma(4, 2) (mean 2 weeks, sd 1): PyMC-Marketing's
/// `Gamma(mu=2, sigma=1)`.
fn default_weibull_scale_prior() -> Prior {
    Prior::Gamma {
        shape: 4.0,
        rate: 2.0,
    }
}

/// How [`AdstockSpec`] is written in a spec file: the same variants with every key but `kind`
/// optional (its JSON Schema is `AdstockSpec`'s).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum AdstockToml {
    /// Geometric decay: weight alpha^l (parameter `adstock_alpha[CH]`).
    Geometric {
        /// Number of weeks an impulse lasts (lags 0..l_max-1).
        #[serde(default = "default_l_max")]
        l_max: usize,
        /// Divide the weights by their sum so total carry-over is 1.
        #[serde(default = "default_true")]
        normalize: bool,
        /// Prior of the decay rate alpha in (0, 1) (default Beta(1, 3), PyMC-Marketing's).
        #[serde(default = "default_alpha_prior")]
        alpha_prior: Prior,
    },
    /// Delayed geometric decay (Jin et al. 2017): weight alpha^((l - theta)^2), peaking at
    /// lag theta (parameters `adstock_alpha[CH]`, `adstock_theta[CH]`).
    DelayedGeometric {
        /// Number of weeks an impulse lasts (lags 0..l_max-1); at least 2.
        #[serde(default = "default_l_max")]
        l_max: usize,
        /// Divide the weights by their sum so total carry-over is 1.
        #[serde(default = "default_true")]
        normalize: bool,
        /// Prior of the retention rate alpha in (0, 1) (default Beta(1, 3), PyMC-Marketing's).
        #[serde(default = "default_alpha_prior")]
        alpha_prior: Prior,
        /// Prior of the peak lag theta: a `truncated_normal` with bounds inside [0, l_max - 1]
        /// (default: mu 0, sigma 1, lower 0, upper l_max - 1: PyMC-Marketing's HalfNormal(1)
        /// truncated to the lags that exist).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        theta_prior: Option<Prior>,
    },
    /// Weibull survival weights (PyMC-Marketing's `WeibullType.CDF`, Robyn's
    /// `weibull_cdf`): w_0 = 1 and w_l = prod_(i=1..l) (1 - F(i; shape, scale)), F the Weibull
    /// CDF (parameters `adstock_shape[CH]`, `adstock_scale[CH]`).
    WeibullCdf {
        /// Number of weeks an impulse lasts (lags 0..l_max-1).
        #[serde(default = "default_l_max")]
        l_max: usize,
        /// Divide the weights by their sum so total carry-over is 1.
        #[serde(default = "default_true")]
        normalize: bool,
        /// Prior of the Weibull shape k > 0 (default Gamma(9, 3): mean 3, sd 1, PyMC-Marketing's).
        #[serde(default = "default_weibull_shape_prior")]
        shape_prior: Prior,
        /// Prior of the Weibull scale lam > 0, in weeks (default Gamma(4, 2): mean 2, sd 1,
        /// PyMC-Marketing's).
        #[serde(default = "default_weibull_scale_prior")]
        scale_prior: Prior,
    },
    /// Weibull density weights: w_l = f(l + 1; shape, scale) / sum_j f(j + 1; shape, scale),
    /// f the Weibull pdf; always normalized (parameters `adstock_shape[CH]`,
    /// `adstock_scale[CH]`).
    WeibullPdf {
        /// Number of weeks an impulse lasts (lags 0..l_max-1).
        #[serde(default = "default_l_max")]
        l_max: usize,
        /// Prior of the Weibull shape k > 0 (default Gamma(9, 3): mean 3, sd 1, PyMC-Marketing's).
        #[serde(default = "default_weibull_shape_prior")]
        shape_prior: Prior,
        /// Prior of the Weibull scale lam > 0, in weeks (default Gamma(4, 2): mean 2, sd 1,
        /// PyMC-Marketing's).
        #[serde(default = "default_weibull_scale_prior")]
        scale_prior: Prior,
    },
}

impl From<AdstockToml> for AdstockSpec {
    fn from(t: AdstockToml) -> Self {
        match t {
            AdstockToml::Geometric {
                l_max,
                normalize,
                alpha_prior,
            } => Self::Geometric {
                l_max,
                normalize,
                alpha_prior,
            },
            AdstockToml::DelayedGeometric {
                l_max,
                normalize,
                alpha_prior,
                theta_prior,
            } => Self::DelayedGeometric {
                l_max,
                normalize,
                alpha_prior,
                theta_prior: theta_prior.unwrap_or_else(|| default_theta_prior(l_max)),
            },
            AdstockToml::WeibullCdf {
                l_max,
                normalize,
                shape_prior,
                scale_prior,
            } => Self::WeibullCdf {
                l_max,
                normalize,
                shape_prior,
                scale_prior,
            },
            AdstockToml::WeibullPdf {
                l_max,
                shape_prior,
                scale_prior,
            } => Self::WeibullPdf {
                l_max,
                shape_prior,
                scale_prior,
            },
        }
    }
}

impl From<AdstockSpec> for AdstockToml {
    fn from(a: AdstockSpec) -> Self {
        match a {
            AdstockSpec::Geometric {
                l_max,
                normalize,
                alpha_prior,
            } => Self::Geometric {
                l_max,
                normalize,
                alpha_prior,
            },
            AdstockSpec::DelayedGeometric {
                l_max,
                normalize,
                alpha_prior,
                theta_prior,
            } => Self::DelayedGeometric {
                l_max,
                normalize,
                alpha_prior,
                theta_prior: Some(theta_prior),
            },
            AdstockSpec::WeibullCdf {
                l_max,
                normalize,
                shape_prior,
                scale_prior,
            } => Self::WeibullCdf {
                l_max,
                normalize,
                shape_prior,
                scale_prior,
            },
            AdstockSpec::WeibullPdf {
                l_max,
                shape_prior,
                scale_prior,
            } => Self::WeibullPdf {
                l_max,
                shape_prior,
                scale_prior,
            },
        }
    }
}

impl AdstockSpec {
    /// Number of lags l_max.
    pub fn l_max(&self) -> usize {
        match self {
            Self::Geometric { l_max, .. }
            | Self::DelayedGeometric { l_max, .. }
            | Self::WeibullCdf { l_max, .. }
            | Self::WeibullPdf { l_max, .. } => *l_max,
        }
    }

    /// True when the weights are divided by their sum.
    pub fn normalize(&self) -> bool {
        match self {
            Self::Geometric { normalize, .. }
            | Self::DelayedGeometric { normalize, .. }
            | Self::WeibullCdf { normalize, .. } => *normalize,
            Self::WeibullPdf { .. } => true,
        }
    }

    /// The descriptor of this transform's family.
    pub fn family(&self) -> &'static AdstockFamily {
        self.parts().0
    }

    /// The spec's name of the kind.
    pub fn kind(&self) -> &'static str {
        self.family().kind
    }

    /// The transform's parameters in vector order, each with its prior.
    pub fn parameter_priors(&self) -> Vec<(&'static FamilyParameter, &Prior)> {
        let (family, priors) = self.parts();
        with_priors(family.parameters, priors)
    }

    /// The transform's parameters in vector order: (parameter name stem, spec key of its
    /// prior, prior).
    pub fn parameters(&self) -> Vec<(&'static str, &'static str, &Prior)> {
        self.parameter_priors()
            .into_iter()
            .map(|(p, prior)| (p.stem, p.prior_key, prior))
            .collect()
    }

    /// (family, the parameters' priors in the family's order): the one place that maps a
    /// variant to its descriptor.
    fn parts(&self) -> (&'static AdstockFamily, Vec<&Prior>) {
        use AdstockFamily as F;
        match self {
            Self::Geometric { alpha_prior, .. } => (&F::GEOMETRIC, vec![alpha_prior]),
            Self::DelayedGeometric {
                alpha_prior,
                theta_prior,
                ..
            } => (&F::DELAYED_GEOMETRIC, vec![alpha_prior, theta_prior]),
            Self::WeibullCdf {
                shape_prior,
                scale_prior,
                ..
            } => (&F::WEIBULL_CDF, vec![shape_prior, scale_prior]),
            Self::WeibullPdf {
                shape_prior,
                scale_prior,
                ..
            } => (&F::WEIBULL_PDF, vec![shape_prior, scale_prior]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_family_parses_with_its_defaults_and_describes_itself() {
        for family in AdstockFamily::ALL {
            let spec = family.default_spec();
            assert_eq!(spec.family(), *family);
            assert_eq!(spec.l_max(), DEFAULT_L_MAX);
            assert_eq!(spec.parameters().len(), family.parameters.len());
            let text = toml::to_string(&spec).expect("serialize");
            assert_eq!(toml::from_str::<AdstockSpec>(&text).expect("read"), spec);
        }
        let kinds: Vec<&str> = AdstockFamily::ALL.iter().map(|f| f.kind).collect();
        let schema = serde_json::to_value(schemars::schema_for!(AdstockToml)).expect("json");
        let listed: Vec<&str> = schema["oneOf"]
            .as_array()
            .expect("a tagged enum")
            .iter()
            .map(|v| v["properties"]["kind"]["const"].as_str().expect("kind"))
            .collect();
        assert_eq!(kinds, listed, "AdstockFamily::ALL in variant order");
    }
}
