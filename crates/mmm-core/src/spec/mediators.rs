//! `[[mediators]]`: a series (brand awareness, site visits) through which some channels act.
//!
//! A mediator is modelled jointly with the target: its own baseline (intercept, the target's
//! seasonality and trend), its own noise and the adstocked, saturated effect of the channels
//! listed for it; the target gets the observed mediator with coefficient `gamma_mediator[NAME]`.
//! A channel's total effect is its direct effect plus `gamma` times its effect on the mediator
//! (docs/causal.md).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ExpectedSign, LikelihoodSpec, Prior, Problems, Spec, Support};

/// One mediator of the target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MediatorSpec {
    /// Column of the mediator series in the data.
    pub name: String,
    /// Channels that move the mediator (each keeps its direct effect on the target too).
    pub channels: Vec<String>,
    /// Prior of the mediator's coefficient on the target, per unit of the mediator scaled by
    /// its training-window max-abs (default HalfNormal(2), the magnitude of the default
    /// control prior Normal(0, 2)).
    #[serde(default = "default_effect_prior")]
    pub effect_prior: Prior,
    /// Expected sign of the mediator's effect on the target (default `positive`).
    #[serde(default = "positive")]
    pub expected_sign: ExpectedSign,
    /// Prior of each listed channel's coefficient on the scaled mediator (default
    /// HalfNormal(1)); the channel's adstock and saturation families and priors are its own,
    /// with parameters of their own for the mediator path.
    #[serde(default = "default_mediator_beta_prior")]
    pub beta_prior: Prior,
    /// Prior of the mediator's intercept on its scaled units (default Normal(0, 2)).
    #[serde(default = "default_mediator_intercept_prior")]
    pub intercept_prior: Prior,
    /// Prior of the mediator's noise standard deviation (Normal likelihood; default
    /// HalfNormal(2), the target's default).
    #[serde(default = "default_mediator_sigma_prior")]
    pub sigma_prior: Prior,
}

fn positive() -> ExpectedSign {
    ExpectedSign::Positive
}

fn default_effect_prior() -> Prior {
    Prior::HalfNormal { sigma: 2.0 }
}

fn default_mediator_beta_prior() -> Prior {
    Prior::HalfNormal { sigma: 1.0 }
}

fn default_mediator_intercept_prior() -> Prior {
    Prior::Normal {
        mu: 0.0,
        sigma: 2.0,
    }
}

fn default_mediator_sigma_prior() -> Prior {
    Prior::HalfNormal { sigma: 2.0 }
}

impl Spec {
    /// The spec of mediator `k`'s own equation: the listed channels (their transforms, the
    /// mediator's beta prior, no ROAS prior), no controls, the target's seasonality and trend,
    /// no events, level shifts or lift tests, a Normal likelihood; None for an unknown `k`.
    pub fn mediator_spec(&self, k: usize) -> Option<Spec> {
        let m = self.mediators.get(k)?;
        let mut sub = self.clone();
        sub.data.target = m.name.clone();
        sub.channels = self
            .channels
            .iter()
            .filter(|c| m.channels.contains(&c.name))
            .cloned()
            .map(|mut c| {
                c.roas_prior = None;
                c.saturation.set_beta_prior(m.beta_prior);
                c
            })
            .collect();
        sub.controls.clear();
        sub.events.clear();
        sub.level_shifts.clear();
        sub.lift_tests.clear();
        sub.mediators.clear();
        sub.intercept.prior = m.intercept_prior;
        sub.likelihood = LikelihoodSpec::Normal {
            sigma_prior: m.sigma_prior,
        };
        Some(sub)
    }

    /// Problems of the `[[mediators]]` blocks.
    pub(super) fn mediator_problems(&self, problems: &mut Problems) {
        for (i, m) in self.mediators.iter().enumerate() {
            let key = |k: &str| format!("mediators[{i}].{k}");
            if m.name.trim().is_empty() {
                problems.push(key("name"), "must not be empty".into());
            }
            let clash = self.channels.iter().any(|c| c.spend_column() == m.name)
                || m.name == self.data.target
                || m.name == self.data.date_column
                || self.mediators[..i].iter().any(|o| o.name == m.name);
            if clash {
                problems.push(
                    key("name"),
                    format!(
                        "column '{}' is already the target, the date, a channel's spend or \
                         another mediator",
                        m.name
                    ),
                );
            }
            if self.controls.iter().any(|c| c.name == m.name) {
                problems.push(
                    key("name"),
                    format!(
                        "'{}' is also a control: a mediator enters the target through its \
                         [[mediators]] block only (as a control it would block the effect of \
                         the channels that act through it; docs/causal.md)",
                        m.name
                    ),
                );
            }
            if !self.likelihood.is_additive() {
                problems.push(
                    key("name"),
                    "mediators need an additive likelihood (normal or student_t): the mediated \
                     effect gamma x (effect on the mediator) is then a channel's contribution \
                     on its own"
                        .into(),
                );
            }
            if self.data.geo_column.is_some() {
                problems.push(
                    key("name"),
                    "mediators are modelled for national data only (no data.geo_column)".into(),
                );
            }
            self.mediator_channel_problems(i, problems);
            let support = match m.expected_sign {
                ExpectedSign::Unconstrained => Support::Real,
                _ => Support::Positive,
            };
            problems.prior(
                key("effect_prior"),
                &m.effect_prior,
                support,
                "the mediator's effect",
            );
            problems.prior(
                key("beta_prior"),
                &m.beta_prior,
                Support::Positive,
                "a channel's positive effect on the mediator",
            );
            problems.prior(
                key("intercept_prior"),
                &m.intercept_prior,
                Support::Real,
                "the mediator's intercept",
            );
            problems.prior(
                key("sigma_prior"),
                &m.sigma_prior,
                Support::Positive,
                "the mediator's noise",
            );
        }
    }

    /// Problems of mediator `i`'s channel list.
    fn mediator_channel_problems(&self, i: usize, problems: &mut Problems) {
        let m = &self.mediators[i];
        let key = format!("mediators[{i}].channels");
        if m.channels.is_empty() {
            problems.push(key.clone(), "at least one channel is required".into());
        }
        for (j, name) in m.channels.iter().enumerate() {
            let Some(ch) = self.channels.iter().find(|c| &c.name == name) else {
                let names = self.channels.iter().map(|c| c.name.as_str());
                let hint = super::check::suggest(name, names)
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                problems.push(
                    key.clone(),
                    format!("'{name}' is not a channel of the spec{hint}"),
                );
                continue;
            };
            if m.channels[..j].contains(name) {
                problems.push(key.clone(), format!("channel '{name}' appears twice"));
            }
            if ch.roas_prior.is_some() {
                problems.push(
                    key.clone(),
                    format!(
                        "channel '{name}' has a roas_prior, which sets its direct effect alone; \
                         a mediated channel's ROAS includes its mediated part (drop one)"
                    ),
                );
            }
            if self.lift_tests.iter().any(|t| &t.channel == name) {
                problems.push(
                    key.clone(),
                    format!(
                        "channel '{name}' has a lift test: an experiment measures the total \
                         effect, which for a mediated channel the model does not calibrate yet"
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::error::CoreError;
    use crate::spec::ControlRole;

    const BASE: &str = "[data]\ndate_column = \"week\"\ntarget = \"sales\"\n\
                        [[channels]]\nname = \"tv\"\n[[channels]]\nname = \"search\"\n\
                        [[controls]]\nname = \"demand\"\nrole = \"confounder\"\n";

    fn problems(extra: &str) -> Vec<(String, String)> {
        match Spec::from_file_text(Path::new("s.toml"), &format!("{BASE}{extra}")) {
            Ok(_) => Vec::new(),
            Err(CoreError::SpecInvalid { problems, .. }) => {
                problems.into_iter().map(|p| (p.path, p.message)).collect()
            }
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn a_mediator_takes_documented_defaults_and_its_own_equation() {
        let text = format!("{BASE}[[mediators]]\nname = \"awareness\"\nchannels = [\"tv\"]\n");
        let spec = Spec::from_file_text(Path::new("s.toml"), &text).expect("valid");
        assert_eq!(spec.controls[0].role, ControlRole::Confounder);
        let m = &spec.mediators[0];
        assert_eq!(m.effect_prior, Prior::HalfNormal { sigma: 2.0 });
        assert_eq!(m.expected_sign, ExpectedSign::Positive);
        assert_eq!(m.channels, ["tv"]);
        let sub = spec.mediator_spec(0).expect("sub-spec");
        assert_eq!(sub.data.target, "awareness");
        assert_eq!(sub.channels.len(), 1);
        assert_eq!(sub.channels[0].saturation.beta_prior(), &m.beta_prior);
        assert!(sub.controls.is_empty() && sub.mediators.is_empty());
        assert!(spec.mediator_spec(1).is_none());
    }

    #[test]
    fn mediator_problems_are_named_with_their_fix() {
        let found = problems(
            "[[mediators]]\nname = \"demand\"\nchannels = [\"tvv\", \"search\", \"search\"]\n",
        );
        let paths: Vec<&str> = found.iter().map(|(p, _)| p.as_str()).collect();
        assert!(paths.contains(&"mediators[0].name"), "{found:?}");
        let messages: Vec<&str> = found.iter().map(|(_, m)| m.as_str()).collect();
        assert!(
            messages.iter().any(|m| m.contains("also a control")),
            "{found:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("did you mean 'tv'")),
            "{found:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("appears twice")),
            "{found:?}"
        );
        let empty = problems("[[mediators]]\nname = \"awareness\"\nchannels = []\n");
        assert_eq!(empty.len(), 1, "{empty:?}");
        assert_eq!(empty[0].0, "mediators[0].channels");
    }

    #[test]
    fn mediators_need_an_additive_national_model() {
        let found = problems(
            "[[mediators]]\nname = \"awareness\"\nchannels = [\"tv\"]\n\
             [likelihood]\nfamily = \"poisson\"\n",
        );
        assert!(
            found.iter().any(|(_, m)| m.contains("additive likelihood")),
            "{found:?}"
        );
        let roles = problems("[[controls]]\nname = \"price\"\nrole = \"confunder\"\n");
        assert!(
            roles.iter().any(|(p, _)| p == "controls[1].role"),
            "{roles:?}"
        );
    }
}
