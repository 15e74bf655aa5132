//! The model spec: the pre-registration of one marketing-mix model.
//!
//! A spec is one TOML file. Everything that shapes the fit (data roles, channels and their
//! expected signs, transforms, priors, likelihood, holdout, gates, sampler settings and seed) is
//! fixed here before any data is fitted, and its sha256 is written into every manifest.
//!
//! Every key but the data roles (`data.date_column`, `data.target`) and the channel names has a
//! documented default (docs/spec.md lists them with their sources), so a spec can be as short as
//! its data section and channel names; a default is the same value the full spec would write out.
//! [`Spec::from_file_text`] reports every problem of a file in one pass (see [`check`]).
//!
//! The adstock, saturation and likelihood families live in modules of their own
//! (`spec/adstock.rs`, `spec/saturation.rs`, `spec/likelihood.rs`), each family with a static
//! descriptor ([`AdstockFamily`], [`SaturationFamily`], [`LikelihoodFamily`]) from which
//! validation, the draws schema's text and the model's parameter names derive.

mod adstock;
pub mod check;
mod family;
mod likelihood;
mod mediators;
mod saturation;

pub use adstock::{AdstockFamily, AdstockSpec, AdstockToml, DEFAULT_L_MAX, default_theta_prior};
pub use family::{FamilyParameter, ParameterSupport};
pub use likelihood::{LikelihoodFamily, LikelihoodSpec, TargetDomain};
pub use mediators::MediatorSpec;
pub use saturation::{CurveShape, SaturationFamily, SaturationSpec};

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::CoreError;

/// Longest plan horizon in weeks (10 years): `decisions.optimizer.horizon_weeks`,
/// `mmm optimize --weeks`, the weeks of a `mmm scenario --plans` file, and week counts such as
/// `holdout.weeks` and `diagnose.cv_horizon`. A horizon of 2^64 - 1 aborted on allocation.
pub const MAX_HORIZON_WEEKS: usize = 520;

/// Most warm-up or kept iterations per chain (`sampler.tune`, `sampler.draws`, the refits'
/// and the prior-predictive draws).
pub const MAX_ITERATIONS: u64 = 1_000_000;

/// Most memory the posterior draws may take: chains x draws x parameters x 8 bytes. A spec with
/// `draws = 10000000000` passed `mmm spec check` and then aborted on allocation.
pub const MAX_DRAWS_BYTES: u64 = 8 << 30;

/// Largest Fourier order of the seasonality (sine/cosine pairs).
pub const MAX_FOURIER_ORDER: usize = 100;

/// Largest spec file read (1 MiB: a real spec is a few kilobytes).
pub const MAX_SPEC_BYTES: u64 = 1 << 20;

/// Most bootstrap refits and cross-validation folds of the diagnose stage.
pub const MAX_REFITS: usize = 10_000;

/// A whole model spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name and free-text description of the model (default name `model`, the name the report shows for a spec without one).
    #[serde(default)]
    pub model: ModelInfo,
    /// Which columns of the input table play which role.
    pub data: DataRoles,
    /// Media channels, each with its transforms and priors.
    pub channels: Vec<ChannelSpec>,
    /// Control variables (events, trend, prices, ...) that enter linearly.
    #[serde(default)]
    pub controls: Vec<ControlSpec>,
    /// Mediators: series through which some channels act (brand awareness), each modelled
    /// jointly with the target (docs/causal.md).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mediators: Vec<MediatorSpec>,
    /// The intercept (baseline level on the scaled target).
    #[serde(default)]
    pub intercept: InterceptSpec,
    /// Fourier seasonality.
    #[serde(default)]
    pub seasonality: SeasonalitySpec,
    /// Trend of the baseline: none, linear, or piecewise linear with changepoints.
    #[serde(default)]
    pub trend: TrendSpec,
    /// Holidays and events (a calendar): each an indicator over its dates' periods, widened by
    /// lead and lag periods, with its own coefficient.
    #[serde(default)]
    pub events: Vec<EventSpec>,
    /// Permanent level shifts of the baseline from a given date on (a step regressor each).
    #[serde(default)]
    pub level_shifts: Vec<LevelShiftSpec>,
    /// Lift-test (experiment) results that calibrate channel effects: each enters the
    /// likelihood as a measurement of the model's counterfactual lift over its window.
    #[serde(default)]
    pub lift_tests: Vec<LiftTestSpec>,
    /// Observation model.
    #[serde(default)]
    pub likelihood: LikelihoodSpec,
    /// Chronological holdout at the end of the data.
    #[serde(default)]
    pub holdout: HoldoutSpec,
    /// Diagnostic gates that decide whether results may be used for decisions.
    #[serde(default)]
    pub gates: GateSpec,
    /// NUTS settings and the seed.
    #[serde(default)]
    pub sampler: SamplerSpec,
    /// Settings for the decision outputs.
    #[serde(default)]
    pub decisions: DecisionSpec,
    /// Settings of the model checks (LOO, prior vs posterior, refits, refresh guardrail).
    #[serde(default)]
    pub diagnose: DiagnoseSpec,
    /// How a geo panel is modeled: national totals (the default) or a hierarchy over geos.
    #[serde(default, skip_serializing_if = "GeoSpec::is_national")]
    pub geo: GeoSpec,
}

/// Model name and description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// Short identifier, used in report titles (default `model`).
    #[serde(default = "default_model_name")]
    pub name: String,
    /// What this model is for and where its data come from.
    #[serde(default)]
    pub description: String,
}

fn default_model_name() -> String {
    "model".into()
}

impl Default for ModelInfo {
    fn default() -> Self {
        Self {
            name: default_model_name(),
            description: String::new(),
        }
    }
}

/// Column roles in the input table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DataRoles {
    /// Column holding the period start date (ISO `YYYY-MM-DD`).
    pub date_column: String,
    /// Column holding the outcome being explained (sales, conversions, ...).
    pub target: String,
    /// Length of one period in days (7 for weekly data).
    #[serde(default = "default_period_days")]
    pub period_days: u32,
    /// Layout of the input file: `wide` (one row per period, or per period and geo) or `long`
    /// (one row per period, geo, campaign and variable; see `long`).
    #[serde(default)]
    pub layout: DataLayout,
    /// Column naming the geography of each row, for a geo panel (wide layout).
    #[serde(default)]
    pub geo_column: Option<String>,
    /// Period length of the input rows in days when finer than `period_days` (1 = daily rows,
    /// aggregated to periods of `period_days` starting on `week_start`).
    #[serde(default)]
    pub input_period_days: Option<u32>,
    /// First day of an aggregated week (used when `input_period_days` = 1 and `period_days` = 7).
    #[serde(default)]
    pub week_start: WeekStart,
    /// How each control is aggregated over days and over geos: `mean` (the default), `sum` or
    /// `last`. Spend, impressions and the target are always summed.
    #[serde(default)]
    pub control_aggregation: std::collections::BTreeMap<String, Aggregation>,
    /// Column names of a long-format input.
    #[serde(default)]
    pub long: LongLayout,
    /// Last date the data may contain (ISO); later periods are `future_period` errors.
    /// Defaults to the day the stage runs.
    #[serde(default)]
    pub as_of: Option<String>,
    /// First period of the modeling window (ISO `YYYY-MM-DD`, the first day of a period).
    /// Rows before it are carry-in history: only their channel spend is used, so spend from
    /// before the window carries into its first periods through adstock (the longest l_max - 1
    /// periods before it are kept); their target and controls may be empty. Without it every
    /// row is modeled and adstock starts from zero spend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
}

fn default_period_days() -> u32 {
    7
}

/// Expected sign of an effect; the sampler only explores that sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedSign {
    /// The effect is constrained to be >= 0.
    #[default]
    Positive,
    /// The effect is constrained to be <= 0.
    Negative,
    /// No constraint.
    Unconstrained,
}

/// One media channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSpec {
    /// Channel name, used in parameter names such as `beta[NAME]`.
    pub name: String,
    /// Spend column in the data; defaults to the channel name.
    #[serde(default)]
    pub spend_column: Option<String>,
    /// Expected sign of the channel's effect. Media is positive unless said otherwise.
    #[serde(default)]
    pub expected_sign: ExpectedSign,
    /// Carry-over transform (default: geometric, l_max 8, alpha ~ Beta(1, 3), normalized).
    #[serde(default)]
    pub adstock: AdstockSpec,
    /// Diminishing-returns transform and the channel coefficient (default: logistic,
    /// lam ~ Gamma(3, 1), beta ~ HalfNormal(2)).
    #[serde(default)]
    pub saturation: SaturationSpec,
    /// Which transform acts first: adstock then saturation (default) or saturation of each
    /// period's spend, then adstock of the saturated series.
    #[serde(default)]
    pub order: TransformOrder,
    /// Prior on the channel's ROAS over the training window (its contribution in target units
    /// summed over the window, divided by its spend there in currency; Meridian calls this the
    /// ROI prior). When set it replaces the saturation's `beta_prior` as the density: beta is
    /// implied by the ROAS and the curve parameters. Needs a positive-support family and an
    /// additive likelihood (normal or student_t). Under the geo hierarchy it is the ROAS of the
    /// typical geo (mean size, the geos' average size-adjusted spend, pooled mean parameters).
    #[serde(default)]
    pub roas_prior: Option<Prior>,
}

/// Order of a channel's two transforms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TransformOrder {
    /// beta * s(adstock(x)): carry-over of spend, then diminishing returns (PyMC-Marketing's
    /// default).
    #[default]
    AdstockFirst,
    /// beta * adstock(s(x)): diminishing returns within each period's spend, then carry-over.
    SaturationFirst,
}

impl ChannelSpec {
    /// The data column holding this channel's spend.
    pub fn spend_column(&self) -> &str {
        self.spend_column.as_deref().unwrap_or(&self.name)
    }

    /// Number of model parameters of this channel: adstock, saturation, then beta.
    pub fn parameter_count(&self) -> usize {
        self.adstock.parameters().len() + self.saturation.parameters().len() + 1
    }
}

fn default_true() -> bool {
    true
}

/// A control variable: a column that enters the linear predictor with its own coefficient.
///
/// With only `name` written, the coefficient gets a weakly informative Normal(0, 2) prior on
/// the control scaled by its training-window max-abs; a spec that writes its own `prior` keeps
/// the raw column unless it says `scale = true` (docs/spec.md).
// Read from and written as `ControlToml`: the default of `scale` depends on whether `prior` is
// written, which a serde field default cannot see.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(from = "ControlToml", into = "ControlToml")]
pub struct ControlSpec {
    /// Column name in the data.
    pub name: String,
    /// Expected sign of the effect.
    pub expected_sign: ExpectedSign,
    /// Prior of the coefficient.
    pub prior: Prior,
    /// Scale the column by its training-window max-abs.
    pub scale: bool,
    /// What the control is there for (docs/causal.md).
    pub role: ControlRole,
}

/// Why a control is in the model; the report says what each means for interpretation
/// (docs/causal.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ControlRole {
    /// Not stated: the report asks whether the control is a confounder or a precision control.
    #[default]
    Unspecified,
    /// A common cause of spend and outcome (a demand proxy, competitor activity): it must stay
    /// in the model, because leaving it out biases the channels whose spend follows it.
    Confounder,
    /// Explains the outcome but not spend (weather, a holiday the planners ignore): it narrows
    /// intervals; leaving it out costs precision, not bias.
    Precision,
}

impl ControlRole {
    /// True for the default, which is left out of a written spec.
    pub fn is_unspecified(&self) -> bool {
        *self == Self::Unspecified
    }

    /// The role's name as written in a spec.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::Confounder => "confounder",
            Self::Precision => "precision",
        }
    }
}

/// How [`ControlSpec`] is written in a spec file (its JSON Schema is `ControlSpec`'s).
///
/// With only `name` written, the coefficient gets a weakly informative Normal(0, 2) prior (the
/// prior PyMC-Marketing gives controls) on the control scaled by its training-window max-abs,
/// so the prior means the same for a price in cents and a temperature in degrees (Meridian
/// likewise puts controls on a standardized scale). A spec that writes its own `prior` keeps
/// the column unscaled unless it says `scale = true`: such specs were written before controls
/// had defaults, always on the raw column, and a pre-registered spec must keep its meaning.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ControlToml {
    /// Column name in the data.
    pub name: String,
    /// Expected sign of the effect (default `unconstrained`).
    #[serde(default = "unconstrained")]
    pub expected_sign: ExpectedSign,
    /// Prior of the coefficient (default Normal(0, 2), on the max-abs-scaled control).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prior: Option<Prior>,
    /// Scale the column by its training-window max-abs (default: true when `prior` is left
    /// out, false when it is written, as before defaults existed; PyMC-Marketing leaves
    /// controls unscaled).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<bool>,
    /// What the control is there for: `confounder` (a common cause of spend and outcome, must
    /// stay) or `precision` (explains the outcome only); default `unspecified`.
    #[serde(default, skip_serializing_if = "ControlRole::is_unspecified")]
    pub role: ControlRole,
}

/// Normal(0, 2): PyMC-Marketing's default control coefficient prior, weakly informative on a
/// max-abs-scaled control and the scaled target (an effect up to about 4 target scales).
pub fn default_control_prior() -> Prior {
    Prior::Normal {
        mu: 0.0,
        sigma: 2.0,
    }
}

impl From<ControlToml> for ControlSpec {
    fn from(t: ControlToml) -> Self {
        Self {
            scale: t.scale.unwrap_or(t.prior.is_none()),
            prior: t.prior.unwrap_or_else(default_control_prior),
            name: t.name,
            expected_sign: t.expected_sign,
            role: t.role,
        }
    }
}

impl From<ControlSpec> for ControlToml {
    fn from(c: ControlSpec) -> Self {
        Self {
            name: c.name,
            expected_sign: c.expected_sign,
            prior: Some(c.prior),
            scale: Some(c.scale),
            role: c.role,
        }
    }
}

fn unconstrained() -> ExpectedSign {
    ExpectedSign::Unconstrained
}

/// The intercept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct InterceptSpec {
    /// Prior of the intercept on the scaled target (default Normal(0, 2), PyMC-Marketing's).
    pub prior: Prior,
}

impl Default for InterceptSpec {
    fn default() -> Self {
        Self {
            prior: Prior::Normal {
                mu: 0.0,
                sigma: 2.0,
            },
        }
    }
}

/// Fourier seasonality. Every key has a default, so `fourier_order = 2` alone turns on yearly
/// seasonality with PyMC-Marketing's Laplace(0, 1) coefficient prior.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SeasonalitySpec {
    /// Number of sine/cosine pairs; 0 (the default) turns seasonality off.
    pub fourier_order: usize,
    /// Period in days (default 365.25: yearly seasonality).
    pub period_days: f64,
    /// Prior of every Fourier coefficient (default Laplace(0, 1), PyMC-Marketing's
    /// `gamma_fourier`).
    pub prior: Prior,
}

/// Shape of the baseline trend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrendKind {
    /// No trend regressor.
    #[default]
    None,
    /// `trend[linear]` = t / n_train (t the period index, n_train the training length).
    Linear,
    /// The linear term plus hinges `trend[cp_k]` = max(0, t - c_k) / n_train at changepoints
    /// c_k: a slope change at each, with a sparse (Laplace) prior by default.
    PiecewiseLinear,
    /// A local level (random walk, non-centered): level_t = sigma (z_1 + ... + z_t) with
    /// z ~ Normal(0, 1) per training period after the first (`level_step[DATE]`) and sigma
    /// (`level_sigma`) from `level_sigma_prior`; level_0 = 0, so the intercept is the level at
    /// the start. Past the training window the level stays at its last value (forecast mean).
    /// Its posterior has a funnel where the data pin down sigma z_t: use
    /// `sampler.target_accept = 0.99` (on the PyMC example, 0.8 gives about 300 divergences,
    /// 0.95 five and 0.99 none).
    LocalLevel,
}

impl TrendKind {
    /// True for the trends built from design regressors (linear and piecewise linear).
    pub fn has_regressors(self) -> bool {
        matches!(self, Self::Linear | Self::PiecewiseLinear)
    }
}

/// Baseline trend. The time index is scaled by the training length, so a slope of 0.1 means
/// the scaled target rises by 0.1 over the training window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrendSpec {
    /// `none`, `linear`, `piecewise_linear` or `local_level`.
    #[serde(default)]
    pub kind: TrendKind,
    /// Prior of the overall slope (scaled target per training window).
    #[serde(default = "default_slope_prior")]
    pub slope_prior: Prior,
    /// Piecewise: number of changepoints spread evenly over the training window (ignored when
    /// `changepoint_dates` is given).
    #[serde(default = "default_changepoints")]
    pub changepoints: usize,
    /// Piecewise: explicit changepoint dates (ISO), inside the training window.
    #[serde(default)]
    pub changepoint_dates: Vec<String>,
    /// Piecewise: prior of each slope change; a Laplace prior keeps most changes near zero.
    #[serde(default = "default_changepoint_prior")]
    pub changepoint_prior: Prior,
    /// Local level: prior of the standard deviation of the level's per-period steps (scaled
    /// target; the default HalfNormal(0.02) lets the level wander about 0.2 over 100 periods).
    #[serde(default = "default_level_sigma_prior")]
    pub level_sigma_prior: Prior,
}

fn default_level_sigma_prior() -> Prior {
    Prior::HalfNormal { sigma: 0.02 }
}

fn default_slope_prior() -> Prior {
    Prior::Normal {
        mu: 0.0,
        sigma: 0.5,
    }
}

fn default_changepoints() -> usize {
    6
}

fn default_changepoint_prior() -> Prior {
    Prior::Laplace { mu: 0.0, b: 0.1 }
}

impl Default for TrendSpec {
    fn default() -> Self {
        Self {
            kind: TrendKind::None,
            slope_prior: default_slope_prior(),
            changepoints: default_changepoints(),
            changepoint_dates: Vec::new(),
            changepoint_prior: default_changepoint_prior(),
            level_sigma_prior: default_level_sigma_prior(),
        }
    }
}

impl TrendSpec {
    /// Number of changepoint hinges the trend has.
    pub fn changepoint_count(&self) -> usize {
        match self.kind {
            TrendKind::PiecewiseLinear if !self.changepoint_dates.is_empty() => {
                self.changepoint_dates.len()
            }
            TrendKind::PiecewiseLinear => self.changepoints,
            _ => 0,
        }
    }
}

/// A holiday or event: the periods holding any of its dates are 1 in its regressor
/// `event[NAME]`, and so are `lead` periods before and `lag` periods after each.
///
/// Its dates are the inline `dates`, the rows of the calendar file (`mmm validate --calendar`)
/// whose `event` is its name, or both (their union). An event with no date in either is
/// refused by the validate stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EventSpec {
    /// Name (letters, digits, `_` and `-`); calendar rows with this `event` are its dates.
    pub name: String,
    /// Dates of its occurrences (ISO `YYYY-MM-DD`); dates outside the data are ignored.
    /// Optional when the calendar file lists the event.
    #[serde(default)]
    pub dates: Vec<String>,
    /// Periods before each occurrence that are also marked (anticipation).
    #[serde(default)]
    pub lead: usize,
    /// Periods after each occurrence that are also marked (after-effect).
    #[serde(default)]
    pub lag: usize,
    /// Prior of its coefficient (scaled target).
    #[serde(default = "default_event_prior")]
    pub prior: Prior,
}

fn default_event_prior() -> Prior {
    Prior::Normal {
        mu: 0.0,
        sigma: 0.5,
    }
}

/// A permanent shift of the baseline: regressor `level_shift[DATE]` is 1 from the period
/// holding `date` on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelShiftSpec {
    /// First day of the new level (ISO `YYYY-MM-DD`), inside the training window.
    pub date: String,
    /// Prior of the shift (scaled target).
    #[serde(default = "default_event_prior")]
    pub prior: Prior,
}

/// True when `name` is a valid event name: non-empty ASCII letters, digits, `_` and `-` (it
/// becomes part of the regressor name `event[NAME]` and the parameter `gamma_event[NAME]`).
pub fn is_event_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A lift test: over the periods from `start` to `end` the channel's spend was changed by
/// `spend_change` (a fraction of the observed spend; -1, the default, switches it off), and the
/// experiment measured the incremental target over those periods of the arm with more spend
/// over the arm with less. The model's counterpart is the expected target with the larger spend
/// minus the expected target with the smaller, the window's spend changed in those periods only
/// (spend before the window still carries in), summed over the window, in target units. It
/// enters the likelihood as lift ~ Normal(model lift, standard_error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LiftTestSpec {
    /// Channel tested (a name from `channels`).
    pub channel: String,
    /// First day of the test window (ISO `YYYY-MM-DD`), inside the training window.
    pub start: String,
    /// Last day of the test window (ISO `YYYY-MM-DD`), inside the training window.
    pub end: String,
    /// Measured incremental target over the window (target units).
    pub lift: f64,
    /// Standard error of the measured lift (target units, > 0).
    pub standard_error: f64,
    /// The test's change of the channel's spend over the window, as a fraction of the observed
    /// spend: -1 (the default) switched it off, -0.5 halved it, 0.5 raised it by half. Not 0,
    /// at least -1.
    #[serde(
        default = "default_spend_change",
        skip_serializing_if = "is_default_spend_change"
    )]
    pub spend_change: f64,
    /// Geo hierarchy only: the geo where the experiment ran (its lift is that geo's target).
    /// Every lift test of a hierarchy names its geo here or its geos in `geos`; a national
    /// model takes neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<String>,
    /// Geo hierarchy only: the geos of an experiment that ran in several geos at once and
    /// measured their summed lift (target units, like `lift`); each geo's part is its own
    /// counterfactual lift over the window, from its own parameters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub geos: Vec<String>,
}

/// A lift test switches the channel off unless it says otherwise.
fn default_spend_change() -> f64 {
    -1.0
}

fn is_default_spend_change(v: &f64) -> bool {
    *v == -1.0
}

impl Default for SeasonalitySpec {
    fn default() -> Self {
        Self {
            fourier_order: 0,
            period_days: 365.25,
            prior: Prior::Laplace { mu: 0.0, b: 1.0 },
        }
    }
}

/// Chronological holdout.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HoldoutSpec {
    /// Number of final periods kept out of fitting and out of every data-derived choice.
    #[serde(default)]
    pub weeks: usize,
}

/// Diagnostic gates.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GateSpec {
    /// Largest rank-normalized split R-hat allowed over all parameters.
    #[serde(default = "default_max_rhat")]
    pub max_rhat: f64,
    /// Smallest bulk effective sample size allowed over all parameters.
    #[serde(default = "default_min_ess")]
    pub min_bulk_ess: f64,
    /// Largest number of post-warmup divergent transitions allowed.
    #[serde(default)]
    pub max_divergences: u64,
    /// Smallest energy Bayesian fraction of missing information allowed in any chain.
    #[serde(default = "default_min_ebfmi")]
    pub min_ebfmi: f64,
    /// Largest mean absolute percentage error (percent) allowed on the holdout; no gate when
    /// absent or when there is no holdout.
    #[serde(default)]
    pub max_holdout_mape: Option<f64>,
}

fn default_min_ebfmi() -> f64 {
    0.3
}

fn default_max_rhat() -> f64 {
    1.01
}
fn default_min_ess() -> f64 {
    400.0
}

impl Default for GateSpec {
    fn default() -> Self {
        Self {
            max_rhat: 1.01,
            min_bulk_ess: 400.0,
            max_divergences: 0,
            min_ebfmi: 0.3,
            max_holdout_mape: None,
        }
    }
}

/// Mass-matrix adaptation of NUTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum MassMatrix {
    /// Diagonal mass matrix (nuts-rs default, as nutpie).
    #[default]
    Diag,
    /// Diagonal plus low-rank correction from draws and gradients (nutpie's `low_rank_modified_mass_matrix`).
    LowRank,
}

/// NUTS settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SamplerSpec {
    /// Number of independent chains (1 to 256).
    #[serde(default = "default_chains")]
    pub chains: usize,
    /// Warm-up (tuning) iterations per chain; discarded. At most 1,000,000.
    #[serde(default = "default_thousand")]
    pub tune: u64,
    /// Kept draws per chain: 1 to 1,000,000, and chains x draws x parameters x 8 bytes at
    /// most 8 GiB.
    #[serde(default = "default_thousand")]
    pub draws: u64,
    /// Master seed; chain c uses the ChaCha stream c+1 of this seed.
    #[serde(default)]
    pub seed: u64,
    /// Target acceptance rate of step-size adaptation; default 0.8 (as PyMC and Stan), and 0.99
    /// under a geo hierarchy, whose spread parameters give the posterior regions of high
    /// curvature that 0.8 crosses with divergences (see [`Spec::target_accept`]).
    #[serde(default)]
    pub target_accept: Option<f64>,
    /// Largest tree depth (at most 2^depth leapfrog steps per draw).
    #[serde(default = "default_depth")]
    pub max_tree_depth: u64,
    /// Mass-matrix adaptation.
    #[serde(default)]
    pub mass_matrix: MassMatrix,
    /// Where chains start; a start with a non-finite log density is redrawn (up to 500 times).
    #[serde(default)]
    pub init: InitStrategy,
    /// Starting values for `init = "point"`, on the parameters' own scale and keyed by the
    /// names in draws.parquet (e.g. `"beta[tv]" = 0.3`); parameters not named start from a
    /// seeded prior draw.
    #[serde(default)]
    pub init_point: BTreeMap<String, f64>,
    /// Half-width of the uniform jitter added to a given start, in unconstrained space, so
    /// chains start apart (as R-hat needs); a jittered start with a non-finite log density
    /// is redrawn.
    #[serde(default = "default_init_jitter")]
    pub init_jitter: f64,
}

fn default_init_jitter() -> f64 {
    0.1
}

/// Initial points of the chains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum InitStrategy {
    /// Uniform(-2, 2) on every unconstrained coordinate (as Stan).
    #[default]
    Uniform,
    /// A draw from the priors, mapped to the unconstrained space.
    Prior,
    /// The values in `init_point` (e.g. a previous fit's posterior means), jittered.
    Point,
}

fn default_chains() -> usize {
    4
}
fn default_thousand() -> u64 {
    1000
}
/// Default target acceptance of a national model.
pub const DEFAULT_TARGET_ACCEPT: f64 = 0.8;

/// Default target acceptance under a geo hierarchy (on simulated 8-geo panels, 0.8 left
/// divergences in most fits, 0.95 in 3 of 20, 0.99 in none: docs/geo.md).
pub const DEFAULT_GEO_TARGET_ACCEPT: f64 = 0.99;
fn default_depth() -> u64 {
    10
}

impl Default for SamplerSpec {
    fn default() -> Self {
        Self {
            chains: 4,
            tune: 1000,
            draws: 1000,
            seed: 0,
            target_accept: None,
            max_tree_depth: 10,
            mass_matrix: MassMatrix::Diag,
            init: InitStrategy::Uniform,
            init_point: BTreeMap::new(),
            init_jitter: default_init_jitter(),
        }
    }
}

/// Decision-output settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionSpec {
    /// Probability mass of the reported highest-density intervals.
    #[serde(default = "default_interval")]
    pub interval: f64,
    /// Currency value of one unit of target after variable costs (1 when the target is
    /// already gross profit in currency); profit = margin x incremental outcome - spend.
    #[serde(default = "default_margin")]
    pub margin: f64,
    /// ROI hurdle: ROI = (margin x contribution - spend) / spend must exceed it; also the
    /// marginal-ROI level where response curves mark the end of profitable spend.
    #[serde(default)]
    pub hurdle: f64,
    /// How the report writes money: a symbol (`$`, `€`, written before the number) or an ISO
    /// code (`EUR`, written after it). Without it amounts are plain numbers in the data's
    /// spend units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    /// Budget optimizer settings.
    #[serde(default)]
    pub optimizer: OptimizerSpec,
}

fn default_margin() -> f64 {
    1.0
}

/// What the budget optimizer maximizes over posterior draws of the plan's incremental outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Objective {
    /// Posterior mean of the incremental outcome.
    #[default]
    Expected,
    /// The `risk_level` quantile of the incremental outcome (risk-averse).
    Quantile,
    /// Mean of the draws at or below the `risk_level` quantile (conditional value at risk).
    Cvar,
    /// Posterior mean of margin x incremental outcome - spend; the budget is an upper limit.
    Profit,
}

/// Per-channel spend limits of the optimizer (currency over the whole horizon).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelBounds {
    /// Channel name.
    pub channel: String,
    /// Geo hierarchy: the geo whose channel this bounds. Without it the bound applies to the
    /// channel in every geo (a geo's own bound takes precedence); a national model refuses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub geo: Option<String>,
    /// Smallest total spend over the horizon.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest total spend over the horizon.
    #[serde(default)]
    pub max: Option<f64>,
}

/// Budget optimizer settings; command-line flags override them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OptimizerSpec {
    /// Weeks (periods) the plan covers: 1 to 520 (10 years).
    #[serde(default = "default_horizon")]
    pub horizon_weeks: usize,
    /// Total budget over the horizon (currency); default: the reference period's spend
    /// rescaled to the horizon.
    #[serde(default)]
    pub budget: Option<f64>,
    /// Objective.
    #[serde(default)]
    pub objective: Objective,
    /// Quantile level of the `quantile` and `cvar` objectives.
    #[serde(default = "default_risk_level")]
    pub risk_level: f64,
    /// Reference period: the last this-many weeks of data; default: the horizon length.
    #[serde(default)]
    pub reference_weeks: Option<usize>,
    /// Each channel may move at most this fraction (0.3 = +-30%, the default, as Meridian's
    /// users expect) from its share of the plan's budget in the reference mix, (1 +- c) x
    /// budget x share (Meridian's rule, so any budget stays feasible); `inf` lifts the limit.
    #[serde(default = "default_max_change")]
    pub max_change: Option<f64>,
    /// Per-channel limits.
    #[serde(default)]
    pub bounds: Vec<ChannelBounds>,
}

fn default_horizon() -> usize {
    12
}

fn default_risk_level() -> f64 {
    0.25
}

/// Default guardrail of the optimizer: +-30% per channel.
pub const DEFAULT_MAX_CHANGE: f64 = 0.3;

fn default_max_change() -> Option<f64> {
    Some(DEFAULT_MAX_CHANGE)
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        Self {
            horizon_weeks: 12,
            budget: None,
            objective: Objective::Expected,
            risk_level: 0.25,
            reference_weeks: None,
            max_change: default_max_change(),
            bounds: Vec::new(),
        }
    }
}

fn default_interval() -> f64 {
    0.94
}

impl Default for DecisionSpec {
    fn default() -> Self {
        Self {
            interval: 0.94,
            margin: 1.0,
            hurdle: 0.0,
            currency: None,
            optimizer: OptimizerSpec::default(),
        }
    }
}

/// A prior distribution. Every family is written with its natural parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "family", rename_all = "snake_case", deny_unknown_fields)]
pub enum Prior {
    /// Normal(mu, sigma).
    Normal { mu: f64, sigma: f64 },
    /// |Normal(0, sigma)|, support x >= 0.
    HalfNormal { sigma: f64 },
    /// exp(Normal(mu, sigma)), support x > 0.
    LogNormal { mu: f64, sigma: f64 },
    /// Gamma with shape k and rate r, density ∝ x^(k-1) e^(-r x), x > 0.
    Gamma { shape: f64, rate: f64 },
    /// Beta(alpha, beta), support (0, 1).
    Beta { alpha: f64, beta: f64 },
    /// Exponential with rate r, support x >= 0.
    Exponential { rate: f64 },
    /// Student-t with nu degrees of freedom, location mu, scale sigma.
    StudentT { nu: f64, mu: f64, sigma: f64 },
    /// Laplace(mu, b), density ∝ e^(-|x - mu| / b).
    Laplace { mu: f64, b: f64 },
    /// Normal(mu, sigma) truncated to [lower, upper].
    TruncatedNormal {
        mu: f64,
        sigma: f64,
        lower: f64,
        upper: f64,
    },
}

/// Where a parameter lives; decides which prior families make sense for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Support {
    /// The whole real line.
    Real,
    /// x > 0.
    Positive,
    /// 0 < x < 1.
    UnitInterval,
}

impl Prior {
    /// Support of the distribution, or `None` for a bounded truncated normal.
    pub fn support(&self) -> Support {
        match self {
            Prior::Normal { .. } | Prior::StudentT { .. } | Prior::Laplace { .. } => Support::Real,
            Prior::HalfNormal { .. }
            | Prior::LogNormal { .. }
            | Prior::Gamma { .. }
            | Prior::Exponential { .. } => Support::Positive,
            Prior::Beta { .. } => Support::UnitInterval,
            Prior::TruncatedNormal { lower, upper, .. } => {
                if *lower == 0.0 && upper.is_infinite() {
                    Support::Positive
                } else if *lower == 0.0 && *upper == 1.0 {
                    Support::UnitInterval
                } else {
                    Support::Real
                }
            }
        }
    }

    /// Every problem with the prior's own parameters, as (sub-key, message).
    fn problems(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        let mut positive = |key: &'static str, v: f64| {
            if !(v.is_finite() && v > 0.0) {
                out.push((key, format!("must be a finite number > 0, got {v}")));
            }
        };
        match *self {
            Prior::Normal { sigma, .. } | Prior::LogNormal { sigma, .. } => {
                positive("sigma", sigma)
            }
            Prior::HalfNormal { sigma } => positive("sigma", sigma),
            Prior::Gamma { shape, rate } => {
                positive("shape", shape);
                positive("rate", rate);
            }
            Prior::Beta { alpha, beta } => {
                positive("alpha", alpha);
                positive("beta", beta);
            }
            Prior::Exponential { rate } => positive("rate", rate),
            Prior::StudentT { nu, sigma, .. } => {
                positive("nu", nu);
                positive("sigma", sigma);
            }
            Prior::Laplace { b, .. } => positive("b", b),
            Prior::TruncatedNormal {
                sigma,
                lower,
                upper,
                ..
            } => {
                positive("sigma", sigma);
                if lower.is_nan() || upper.is_nan() || lower >= upper {
                    out.push((
                        "lower",
                        format!("lower ({lower}) must be below upper ({upper})"),
                    ));
                }
            }
        }
        let mut finite = |key: &'static str, v: f64| {
            if !v.is_finite() {
                out.push((key, format!("must be finite, got {v}")));
            }
        };
        match *self {
            Prior::Normal { mu, .. }
            | Prior::LogNormal { mu, .. }
            | Prior::StudentT { mu, .. }
            | Prior::Laplace { mu, .. }
            | Prior::TruncatedNormal { mu, .. } => finite("mu", mu),
            _ => {}
        }
        out
    }
}

/// One problem found in a spec, located by its key path (`channels[0].adstock.l_max`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SpecProblem {
    /// Dotted key path inside the TOML file.
    pub path: String,
    /// What is wrong and what is allowed.
    pub message: String,
}

impl std::fmt::Display for SpecProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl Spec {
    /// The sampler's target acceptance: `sampler.target_accept` when given, else
    /// [`DEFAULT_GEO_TARGET_ACCEPT`] under a geo hierarchy and [`DEFAULT_TARGET_ACCEPT`]
    /// otherwise.
    pub fn target_accept(&self) -> f64 {
        self.sampler
            .target_accept
            .unwrap_or(if self.geo.is_hierarchical() {
                DEFAULT_GEO_TARGET_ACCEPT
            } else {
                DEFAULT_TARGET_ACCEPT
            })
    }

    /// Parse a spec from TOML text without semantic checks.
    pub fn from_toml_str(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Read, parse and validate a spec file; every problem is reported at once.
    pub fn load(path: &Path) -> Result<Self, CoreError> {
        let bytes = crate::read_regular_file(path, MAX_SPEC_BYTES)?;
        let text = String::from_utf8(bytes).map_err(|e| CoreError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        Self::from_file_text(path, &text)
    }

    /// Parse and validate `text`, the content of the spec file at `path` (named in errors).
    /// Every problem is reported at once: unknown keys (with a "did you mean"), missing keys
    /// and wrong types from [`check::walk`], then the semantic [`Spec::problems`] of what
    /// parses once the unknown keys are set aside.
    pub fn from_file_text(path: &Path, text: &str) -> Result<Self, CoreError> {
        let (spec, mut problems) = match Self::from_toml_str(text) {
            Ok(spec) => (Some(spec), Vec::new()),
            Err(e) => Self::structural_problems(text, &e),
        };
        if let Some(s) = &spec {
            problems.extend(s.problems());
        }
        match spec {
            Some(spec) if problems.is_empty() => Ok(spec),
            _ => Err(CoreError::SpecInvalid {
                path: path.to_path_buf(),
                problems,
            }),
        }
    }

    /// Every structural problem of a file serde refused (`e`), and the spec that remains
    /// when the only problems were unknown keys (so its semantic problems can be listed too).
    /// serde stays the authority: when the walk finds nothing, its error is the problem.
    fn structural_problems(text: &str, e: &toml::de::Error) -> (Option<Self>, Vec<SpecProblem>) {
        let Ok(mut table) = toml::de::DeTable::parse(text) else {
            return (None, vec![toml_problem(text, e)]);
        };
        let found = check::walk(text, &mut table);
        if found.problems.is_empty() {
            return (None, vec![toml_problem(text, e)]);
        }
        let mut problems: Vec<SpecProblem> = found.problems.into_iter().map(|(_, p)| p).collect();
        if !found.only_unknown_keys {
            return (None, problems);
        }
        match Self::deserialize(toml::de::Deserializer::from(table)) {
            Ok(rest) => (Some(rest), problems),
            Err(e) => {
                problems.push(toml_problem(text, &e));
                (None, problems)
            }
        }
    }

    /// Every semantic problem, each with its key path. Empty means the spec is usable.
    pub fn problems(&self) -> Vec<SpecProblem> {
        let mut problems = Problems::default();
        if self.channels.is_empty() {
            problems.push("channels".into(), "at least one channel is required".into());
        }
        let (names, columns) = self.channel_problems(&mut problems);
        self.control_problems(&mut problems, names, &columns);
        self.data_problems(&mut problems, &columns);
        problems.prior(
            "intercept.prior".into(),
            &self.intercept.prior,
            Support::Real,
            "the intercept",
        );
        if self.seasonality.fourier_order > MAX_FOURIER_ORDER {
            problems.push(
                "seasonality.fourier_order".into(),
                format!(
                    "must be 0..={MAX_FOURIER_ORDER}, got {}",
                    self.seasonality.fourier_order
                ),
            );
        }
        if self.holdout.weeks > MAX_HORIZON_WEEKS {
            problems.push(
                "holdout.weeks".into(),
                format!(
                    "must be 0..={MAX_HORIZON_WEEKS} (10 years), got {}",
                    self.holdout.weeks
                ),
            );
        }
        if self.seasonality.fourier_order > 0 {
            problems.prior(
                "seasonality.prior".into(),
                &self.seasonality.prior,
                Support::Real,
                "a Fourier coefficient",
            );
            if !(self.seasonality.period_days.is_finite() && self.seasonality.period_days > 1.0) {
                problems.push(
                    "seasonality.period_days".into(),
                    "must be a finite number > 1".into(),
                );
            }
        }
        self.baseline_problems(&mut problems);
        self.geo_problems(&mut problems);
        self.likelihood_problems(&mut problems);
        self.sampler_problems(&mut problems);
        self.gate_problems(&mut problems);
        self.lift_test_problems(&mut problems);
        self.mediator_problems(&mut problems);
        problems.0.extend(self.diagnose.problems());
        problems.0.extend(self.decisions.problems(&self.channels));
        problems.0
    }

    /// Problems of the channels; returns the names and spend columns they claim.
    fn channel_problems(&self, problems: &mut Problems) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut names = BTreeSet::new();
        let mut columns = BTreeSet::new();
        for (i, ch) in self.channels.iter().enumerate() {
            let p = format!("channels[{i}]");
            if ch.name.trim().is_empty() {
                problems.push(format!("{p}.name"), "must not be empty".into());
            }
            if !names.insert(ch.name.clone()) {
                problems.push(format!("{p}.name"), format!("duplicate name '{}'", ch.name));
            }
            columns.insert(ch.spend_column().to_string());
            if ch.expected_sign != ExpectedSign::Positive {
                problems.push(
                    format!("{p}.expected_sign"),
                    "media channels with saturation are modelled as positive effects; \
                     only 'positive' is supported"
                        .into(),
                );
            }
            let l_max = ch.adstock.l_max();
            if l_max == 0 || l_max > 104 {
                problems.push(
                    format!("{p}.adstock.l_max"),
                    format!("must be 1..=104, got {l_max}"),
                );
            }
            for (param, prior) in ch.adstock.parameter_priors() {
                problems.parameter(&format!("{p}.adstock"), param, prior, l_max);
            }
            for (param, prior) in ch.saturation.parameter_priors() {
                problems.parameter(&format!("{p}.saturation"), param, prior, l_max);
            }
            problems.prior(
                format!("{p}.saturation.beta_prior"),
                ch.saturation.beta_prior(),
                Support::Positive,
                "a positive channel coefficient",
            );
            if let Some(roas) = &ch.roas_prior {
                let path = format!("{p}.roas_prior");
                problems.prior(path.clone(), roas, Support::Positive, "a channel's ROAS");
                if !self.likelihood.is_additive() {
                    problems.push(
                        path,
                        "needs an additive likelihood (normal or student_t): under a log link \
                         a channel's ROAS depends on every other term of the model"
                            .into(),
                    );
                }
            }
        }
        (names, columns)
    }

    /// Problems of the controls (their names must not repeat a channel's or a spend column).
    fn control_problems(
        &self,
        problems: &mut Problems,
        mut names: BTreeSet<String>,
        columns: &BTreeSet<String>,
    ) {
        for (i, c) in self.controls.iter().enumerate() {
            let p = format!("controls[{i}]");
            if !names.insert(c.name.clone()) {
                problems.push(format!("{p}.name"), format!("duplicate name '{}'", c.name));
            }
            if columns.contains(&c.name) {
                problems.push(
                    format!("{p}.name"),
                    format!("column '{}' is already a channel's spend", c.name),
                );
            }
            let support = match c.expected_sign {
                ExpectedSign::Unconstrained => Support::Real,
                ExpectedSign::Positive | ExpectedSign::Negative => Support::Positive,
            };
            let what = match c.expected_sign {
                ExpectedSign::Unconstrained => "an unconstrained control coefficient",
                _ => "a sign-constrained coefficient (its magnitude)",
            };
            problems.prior(format!("{p}.prior"), &c.prior, support, what);
        }
    }

    /// Problems of the data roles.
    fn data_problems(&self, problems: &mut Problems, columns: &BTreeSet<String>) {
        if [&self.data.target, &self.data.date_column]
            .iter()
            .any(|c| columns.contains(*c))
        {
            problems.push(
                "data".into(),
                "the target or date column is also used as a channel".into(),
            );
        }
        if self.data.period_days == 0 {
            problems.push("data.period_days".into(), "must be >= 1".into());
        }
        if let Some(start) = &self.data.start
            && crate::dates::parse_iso(start).is_none()
        {
            problems.push(
                "data.start".into(),
                format!("{start:?} is not an ISO date (YYYY-MM-DD)"),
            );
        }
    }

    /// Problems of the likelihood's priors.
    fn likelihood_problems(&self, problems: &mut Problems) {
        for (param, prior) in self.likelihood.parameter_priors() {
            problems.parameter("likelihood", param, prior, 0);
        }
    }

    /// Problems of the sampler settings.
    fn sampler_problems(&self, problems: &mut Problems) {
        let s = &self.sampler;
        if s.chains == 0 || s.chains > 256 {
            problems.push(
                "sampler.chains".into(),
                format!("must be 1..=256, got {}", s.chains),
            );
        }
        if s.draws == 0 || s.draws > MAX_ITERATIONS {
            problems.push(
                "sampler.draws".into(),
                format!("must be 1..={MAX_ITERATIONS}, got {}", s.draws),
            );
        }
        if s.tune > MAX_ITERATIONS {
            problems.push(
                "sampler.tune".into(),
                format!("must be 0..={MAX_ITERATIONS}, got {}", s.tune),
            );
        }
        self.draws_memory_problem(problems);
        if let Some(t) = s.target_accept
            && !(t > 0.0 && t < 1.0)
        {
            problems.push(
                "sampler.target_accept".into(),
                format!("must be in (0, 1), got {t}"),
            );
        }
        if s.init == InitStrategy::Point && s.init_point.is_empty() {
            problems.push(
                "sampler.init_point".into(),
                "init = \"point\" needs at least one starting value".into(),
            );
        }
        for (name, v) in &s.init_point {
            if !v.is_finite() {
                problems.push(
                    format!("sampler.init_point.{name}"),
                    format!("must be a finite number, got {v}"),
                );
            }
        }
        if !(s.init_jitter.is_finite() && s.init_jitter >= 0.0) {
            problems.push(
                "sampler.init_jitter".into(),
                format!("must be a finite number >= 0, got {}", s.init_jitter),
            );
        }
        if s.max_tree_depth == 0 || s.max_tree_depth > 20 {
            problems.push(
                "sampler.max_tree_depth".into(),
                format!("must be 1..=20, got {}", s.max_tree_depth),
            );
        }
    }

    /// Problems of the gates and the decisions' interval.
    fn gate_problems(&self, problems: &mut Problems) {
        let g = &self.gates;
        if !(g.max_rhat.is_finite() && g.max_rhat >= 1.0) {
            problems.push(
                "gates.max_rhat".into(),
                format!("must be >= 1, got {}", g.max_rhat),
            );
        }
        if !(g.min_bulk_ess.is_finite() && g.min_bulk_ess >= 0.0) {
            problems.push(
                "gates.min_bulk_ess".into(),
                format!("must be >= 0, got {}", g.min_bulk_ess),
            );
        }
        if !(g.min_ebfmi.is_finite() && g.min_ebfmi >= 0.0) {
            problems.push(
                "gates.min_ebfmi".into(),
                format!("must be >= 0, got {}", g.min_ebfmi),
            );
        }
        if let Some(m) = g.max_holdout_mape
            && !(m.is_finite() && m > 0.0)
        {
            problems.push(
                "gates.max_holdout_mape".into(),
                format!("must be > 0 (percent), got {m}"),
            );
        }
        let iv = self.decisions.interval;
        if !(iv > 0.0 && iv < 1.0) {
            problems.push(
                "decisions.interval".into(),
                format!("must be in (0, 1), got {iv}"),
            );
        }
    }

    /// Problems of the geo hierarchy settings.
    fn geo_problems(&self, problems: &mut Problems) {
        let g = &self.geo;
        for (key, prior) in [
            ("beta_sd_prior", &g.beta_sd_prior),
            ("intercept_sd_prior", &g.intercept_sd_prior),
            ("curve_sd_prior", &g.curve_sd_prior),
            ("seasonality_sd_prior", &g.seasonality_sd_prior),
        ] {
            problems.prior(
                format!("geo.{key}"),
                prior,
                Support::Positive,
                "a geo pooling standard deviation",
            );
        }
        for (geo, pop) in &g.population {
            if !(pop.is_finite() && *pop > 0.0) {
                problems.push(
                    format!("geo.population.{geo}"),
                    format!("must be a finite number > 0, got {pop}"),
                );
            }
        }
        if g.size == GeoSize::Population && g.population.is_empty() {
            problems.push(
                "geo.population".into(),
                "size = \"population\" needs the population of every geo".into(),
            );
        }
        if g.model != GeoModelKind::Hierarchical {
            for (i, t) in self.lift_tests.iter().enumerate() {
                let named = match (&t.geo, t.geos.is_empty()) {
                    (Some(geo), _) => Some(("geo", format!("geo '{geo}'"))),
                    (None, false) => Some(("geos", format!("geos {}", t.geos.join(", ")))),
                    (None, true) => None,
                };
                if let Some((key, what)) = named {
                    problems.push(
                        format!("lift_tests[{i}].{key}"),
                        format!(
                            "names {what}, but the model is national (geo.model = \
                             \"hierarchical\" fits geo-level lift tests)"
                        ),
                    );
                }
            }
            return;
        }
        for (i, t) in self.lift_tests.iter().enumerate() {
            if t.geo.is_none() && t.geos.is_empty() {
                problems.push(
                    format!("lift_tests[{i}].geo"),
                    "a lift test under the geo hierarchy names the geo where the experiment ran \
                     (geo = \"...\"), or the geos whose summed lift it measured \
                     (geos = [\"...\", ...])"
                        .into(),
                );
            }
            if t.geo.is_some() && !t.geos.is_empty() {
                problems.push(
                    format!("lift_tests[{i}].geos"),
                    "give either geo (one geo) or geos (several), not both".into(),
                );
            }
            for (k, geo) in t.geos.iter().enumerate() {
                if t.geos[..k].contains(geo) {
                    problems.push(
                        format!("lift_tests[{i}].geos"),
                        format!("geo '{geo}' appears twice"),
                    );
                }
            }
        }
    }

    /// Problems of the lift tests (their windows are checked against the data by the model).
    fn lift_test_problems(&self, problems: &mut Problems) {
        for (i, t) in self.lift_tests.iter().enumerate() {
            let key = |k: &str| format!("lift_tests[{i}].{k}");
            if !self.channels.iter().any(|c| c.name == t.channel) {
                problems.push(
                    key("channel"),
                    format!("'{}' is not a channel of the spec", t.channel),
                );
            }
            let start = crate::dates::parse_iso(&t.start);
            let end = crate::dates::parse_iso(&t.end);
            if start.is_none() {
                problems.push(
                    key("start"),
                    format!("'{}' is not a YYYY-MM-DD date", t.start),
                );
            }
            if end.is_none() {
                problems.push(key("end"), format!("'{}' is not a YYYY-MM-DD date", t.end));
            }
            if let (Some(s), Some(e)) = (start, end)
                && e < s
            {
                problems.push(key("end"), format!("{} is before start {}", t.end, t.start));
            }
            if !t.lift.is_finite() {
                problems.push(key("lift"), format!("must be finite, got {}", t.lift));
            }
            if !(t.standard_error.is_finite() && t.standard_error > 0.0) {
                problems.push(
                    key("standard_error"),
                    format!("must be a finite number > 0, got {}", t.standard_error),
                );
            }
            if !(t.spend_change.is_finite() && t.spend_change >= -1.0 && t.spend_change != 0.0) {
                problems.push(
                    key("spend_change"),
                    format!(
                        "must be a fraction >= -1 other than 0 (-1 switches the channel off), got {}",
                        t.spend_change
                    ),
                );
            }
            if !self.likelihood.is_additive() {
                problems.push(
                    key("channel"),
                    "lift tests need an additive likelihood (normal or student_t)".into(),
                );
            }
        }
    }

    /// Problems of the trend, events and level shifts.
    fn baseline_problems(&self, problems: &mut Problems) {
        let t = &self.trend;
        if t.kind == TrendKind::LocalLevel {
            problems.prior(
                "trend.level_sigma_prior".into(),
                &t.level_sigma_prior,
                Support::Positive,
                "the local level's step standard deviation",
            );
        }
        if t.kind.has_regressors() {
            problems.prior(
                "trend.slope_prior".into(),
                &t.slope_prior,
                Support::Real,
                "the trend slope",
            );
        }
        if t.kind == TrendKind::PiecewiseLinear {
            problems.prior(
                "trend.changepoint_prior".into(),
                &t.changepoint_prior,
                Support::Real,
                "a slope change",
            );
            if t.changepoint_count() == 0 {
                problems.push(
                    "trend.changepoints".into(),
                    "a piecewise_linear trend needs at least one changepoint".into(),
                );
            } else if t.changepoints > MAX_HORIZON_WEEKS {
                problems.push(
                    "trend.changepoints".into(),
                    format!("must be 1..={MAX_HORIZON_WEEKS}, got {}", t.changepoints),
                );
            }
            let mut seen = BTreeSet::new();
            for (i, d) in t.changepoint_dates.iter().enumerate() {
                if crate::dates::parse_iso(d).is_none() {
                    problems.push(
                        format!("trend.changepoint_dates[{i}]"),
                        format!("{d:?} is not an ISO date (YYYY-MM-DD)"),
                    );
                } else if !seen.insert(d.as_str()) {
                    problems.push(
                        format!("trend.changepoint_dates[{i}]"),
                        format!("{d} is listed twice"),
                    );
                }
            }
        } else if !t.changepoint_dates.is_empty() {
            problems.push(
                "trend.changepoint_dates".into(),
                "changepoints need kind = \"piecewise_linear\"".into(),
            );
        }
        let mut names = BTreeSet::new();
        for (i, e) in self.events.iter().enumerate() {
            let key = |k: &str| format!("events[{i}].{k}");
            if !is_event_name(&e.name) {
                problems.push(
                    key("name"),
                    format!("{:?} must be non-empty letters, digits, '_' or '-'", e.name),
                );
            } else if !names.insert(e.name.as_str()) {
                problems.push(key("name"), format!("event {} is listed twice", e.name));
            }
            // An event without inline dates takes them from the calendar file; whether it has
            // any is checked by the validate stage, which sees the calendar.
            for (j, d) in e.dates.iter().enumerate() {
                if crate::dates::parse_iso(d).is_none() {
                    problems.push(
                        format!("events[{i}].dates[{j}]"),
                        format!("{d:?} is not an ISO date (YYYY-MM-DD)"),
                    );
                }
            }
            if e.lead > 52 || e.lag > 52 {
                problems.push(
                    key("lead"),
                    "lead and lag are periods around each date; at most 52 each".into(),
                );
            }
            problems.prior(key("prior"), &e.prior, Support::Real, "an event effect");
        }
        let mut dates = BTreeSet::new();
        for (i, l) in self.level_shifts.iter().enumerate() {
            if crate::dates::parse_iso(&l.date).is_none() {
                problems.push(
                    format!("level_shifts[{i}].date"),
                    format!("{:?} is not an ISO date (YYYY-MM-DD)", l.date),
                );
            } else if !dates.insert(l.date.as_str()) {
                problems.push(
                    format!("level_shifts[{i}].date"),
                    format!("{} is listed twice", l.date),
                );
            }
            problems.prior(
                format!("level_shifts[{i}].prior"),
                &l.prior,
                Support::Real,
                "a level shift",
            );
        }
    }

    /// Number of baseline regressors from the trend, events and level shifts.
    pub fn baseline_regressor_count(&self) -> usize {
        let trend = if self.trend.kind.has_regressors() {
            1 + self.trend.changepoint_count()
        } else {
            0
        };
        trend + self.events.len() + self.level_shifts.len()
    }

    /// Number of periods before the modeling window whose spend can still act inside it: the
    /// longest adstock's l_max - 1 (spend at t acts at t .. t + l_max - 1).
    pub fn carry_in_periods(&self) -> usize {
        self.channels
            .iter()
            .map(|c| c.adstock.l_max())
            .max()
            .unwrap_or(1)
            .saturating_sub(1)
    }

    /// Bytes the posterior draws need, chains x draws x parameters x 8 (a lower bound for a
    /// geo hierarchy, whose per-geo parameters depend on the data); `None` while the Fourier
    /// order or the changepoint count is out of range (the parameter count is then
    /// meaningless).
    pub fn draws_bytes(&self) -> Option<u128> {
        if self.seasonality.fourier_order > MAX_FOURIER_ORDER
            || self.trend.changepoints > MAX_HORIZON_WEEKS
        {
            return None;
        }
        let s = &self.sampler;
        Some(s.chains as u128 * u128::from(s.draws) * self.parameter_count() as u128 * 8)
    }

    /// `sampler.draws` when the draws would need more than [`MAX_DRAWS_BYTES`]; the message
    /// names the estimate.
    fn draws_memory_problem(&self, problems: &mut Problems) {
        let Some(bytes) = self
            .draws_bytes()
            .filter(|b| *b > u128::from(MAX_DRAWS_BYTES))
        else {
            return;
        };
        let gib = |b: u128| b as f64 / f64::from(1u32 << 30);
        let s = &self.sampler;
        problems.push(
            "sampler.draws".into(),
            format!(
                "the posterior draws would need about {:.1} GiB ({} chains x {} draws x {} \
                 parameters x 8 bytes); at most {:.0} GiB is allowed",
                gib(bytes),
                s.chains,
                s.draws,
                self.parameter_count(),
                gib(u128::from(MAX_DRAWS_BYTES))
            ),
        );
    }

    /// Number of free model parameters the spec implies. A local level counts as one (its
    /// sigma): its per-period steps (one per training period after the first) are shrunk by
    /// their standard-normal prior and depend on the data's length.
    pub fn parameter_count(&self) -> usize {
        // intercept + noise parameters + per channel (adstock, saturation, beta) + controls
        // + 2 per Fourier order
        let noise = self.likelihood.family().parameters.len();
        1 + noise
            + self
                .channels
                .iter()
                .map(ChannelSpec::parameter_count)
                .sum::<usize>()
            + self.controls.len()
            + 2 * self.seasonality.fourier_order
            + self.baseline_regressor_count()
            + usize::from(self.trend.kind == TrendKind::LocalLevel)
    }
}

fn support_name(s: Support) -> &'static str {
    match s {
        Support::Real => "the real line",
        Support::Positive => "x > 0",
        Support::UnitInterval => "(0, 1)",
    }
}

/// Turn a TOML/serde error into a located problem.
fn toml_problem(text: &str, e: &toml::de::Error) -> SpecProblem {
    let path = match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}")
        }
        None => "(file)".to_string(),
    };
    SpecProblem {
        path,
        message: e.message().to_string(),
    }
}

/// Collects spec problems with their key paths.
#[derive(Default)]
struct Problems(Vec<SpecProblem>);

impl Problems {
    fn push(&mut self, path: String, message: String) {
        self.0.push(SpecProblem { path, message });
    }

    /// Check the prior of a family's parameter in the table at `table` (its key is the
    /// parameter's `prior_key`) against the parameter's support; `l_max` bounds a peak lag.
    fn parameter(&mut self, table: &str, param: &FamilyParameter, prior: &Prior, l_max: usize) {
        let path = format!("{table}.{}", param.prior_key);
        match param.support {
            ParameterSupport::Prior(support) => self.prior(path, prior, support, param.label),
            ParameterSupport::PeakLag => self.peak_lag(path, prior, l_max),
        }
    }

    /// The delayed-geometric peak lag theta lives on [0, l_max - 1]: its prior must be a
    /// truncated normal bounded inside that interval (so the sampler's map covers it).
    fn peak_lag(&mut self, path: String, prior: &Prior, l_max: usize) {
        for (key, msg) in prior.problems() {
            self.push(format!("{path}.{key}"), msg);
        }
        let top = l_max.saturating_sub(1) as f64;
        match *prior {
            Prior::TruncatedNormal { lower, upper, .. } => {
                if l_max < 2 {
                    self.push(
                        path.replace("theta_prior", "l_max"),
                        format!("a delayed_geometric adstock needs l_max >= 2, got {l_max}"),
                    );
                } else if !(lower >= 0.0 && upper <= top) {
                    self.push(
                        path,
                        format!(
                            "the peak lag theta lives on [0, l_max - 1] = [0, {top}]; the \
                             truncated_normal bounds [{lower}, {upper}] must lie inside it"
                        ),
                    );
                }
            }
            _ => self.push(
                format!("{path}.family"),
                format!(
                    "the peak lag theta lives on [0, l_max - 1] = [0, {top}]: use a \
                     truncated_normal with lower >= 0 and upper <= {top}"
                ),
            ),
        }
    }

    /// Check a prior's parameters and that its support fits the parameter.
    fn prior(&mut self, path: String, prior: &Prior, support: Support, what: &str) {
        for (key, msg) in prior.problems() {
            self.push(format!("{path}.{key}"), msg);
        }
        if prior.support() != support {
            self.push(
                format!("{path}.family"),
                format!(
                    "{what} lives on {}, but this prior's support is {}",
                    support_name(support),
                    support_name(prior.support())
                ),
            );
        }
    }
}

/// A loaded, validated spec with the sha256 of its file's bytes.
#[derive(Debug, Clone)]
pub struct LoadedSpec {
    /// The spec.
    pub spec: Spec,
    /// Where it was read from.
    pub path: std::path::PathBuf,
    /// sha256 of the file's bytes; recorded in every manifest.
    pub sha256: String,
    /// The file's text (recorded in every manifest, so a chain of stages made from two specs
    /// can be told apart key by key).
    pub text: String,
}

impl LoadedSpec {
    /// Read, hash, parse and validate a spec file.
    pub fn load(path: &Path) -> Result<Self, CoreError> {
        // Through the regular-file check: a FIFO or device given as `--spec` would block.
        let bytes = crate::read_regular_file(path, MAX_SPEC_BYTES)?;
        // One read: the hash, the text and the parsed spec all describe the same bytes.
        let text = String::from_utf8(bytes).map_err(|e| CoreError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
        let spec = Spec::from_file_text(path, &text)?;
        Ok(Self {
            spec,
            path: path.to_path_buf(),
            sha256: crate::hash::sha256_hex(text.as_bytes()),
            text,
        })
    }
}

/// Settings of the model checks beyond the convergence gates (`[diagnose]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DiagnoseSpec {
    /// Pareto k above which a PSIS-LOO importance ratio is flagged as unreliable.
    #[serde(default = "default_pareto_k")]
    pub pareto_k_threshold: f64,
    /// A parameter whose posterior variance shrank by less than this share of the prior
    /// variance (contraction = 1 - post_var / prior_var) is flagged as prior-dominated.
    #[serde(default = "default_min_contraction")]
    pub min_contraction: f64,
    /// Prior draws used for the prior moments.
    #[serde(default = "default_prior_draws")]
    pub prior_draws: usize,
    /// Bootstrap refits for coefficient sign stability (B); 0 turns the check off.
    #[serde(default = "default_bootstrap")]
    pub bootstrap_replicates: usize,
    /// Block length in weeks of the moving-block bootstrap; default ceil(n_train^(1/3)).
    #[serde(default)]
    pub bootstrap_block_length: Option<usize>,
    /// A coefficient is sign-stable when at least this share of refits keeps its sign.
    #[serde(default = "default_sign_share")]
    pub min_sign_share: f64,
    /// Rolling-origin cross-validation folds (k); 0 turns it off.
    #[serde(default = "default_cv_folds")]
    pub cv_folds: usize,
    /// Weeks predicted by each fold; default max(4, n_train / (4 (k + 1))).
    #[serde(default)]
    pub cv_horizon: Option<usize>,
    /// Chains of each refit (bootstrap and cross-validation).
    #[serde(default = "default_refit_chains")]
    pub refit_chains: usize,
    /// Warm-up iterations per chain of each refit.
    #[serde(default = "default_refit_iters")]
    pub refit_tune: u64,
    /// Kept draws per chain of each refit.
    #[serde(default = "default_refit_iters")]
    pub refit_draws: u64,
    /// Start every refit from the full fit's posterior (standardized coordinates and its step
    /// size), so the short refit chains need little warm-up; `false` adapts each refit from
    /// scratch, as a fit does (docs/diagnostics.md compares the two).
    #[serde(default = "default_true")]
    pub refit_warm_start: bool,
    /// Stop the bootstrap once Wald's sequential test decides every coefficient whose sign the
    /// prior does not fix (docs/diagnostics.md); `false` runs all `bootstrap_replicates`.
    #[serde(default = "default_true")]
    pub bootstrap_stop_early: bool,
    /// `mmm compare` guardrail: largest allowed relative change of a channel's mean ROAS
    /// (0.25 = 25%); any sign flip fails too.
    #[serde(default = "default_max_roi_change")]
    pub max_roi_change: f64,
    /// Power-scaling prior and likelihood sensitivity of every parameter and of each channel's
    /// ROAS, contribution and marginal ROAS (Kallioinen et al. 2023, as the R package
    /// priorsense computes it; docs/diagnostics.md), from the existing draws without refits.
    #[serde(default = "default_true")]
    pub prior_sensitivity: bool,
}

fn default_pareto_k() -> f64 {
    0.7
}
fn default_min_contraction() -> f64 {
    0.1
}
fn default_prior_draws() -> usize {
    4000
}
fn default_bootstrap() -> usize {
    100
}
fn default_sign_share() -> f64 {
    0.95
}
fn default_cv_folds() -> usize {
    4
}
fn default_refit_chains() -> usize {
    2
}
fn default_refit_iters() -> u64 {
    300
}
fn default_max_roi_change() -> f64 {
    0.25
}

impl Default for DiagnoseSpec {
    fn default() -> Self {
        Self {
            pareto_k_threshold: default_pareto_k(),
            min_contraction: default_min_contraction(),
            prior_draws: default_prior_draws(),
            bootstrap_replicates: default_bootstrap(),
            bootstrap_block_length: None,
            min_sign_share: default_sign_share(),
            cv_folds: default_cv_folds(),
            cv_horizon: None,
            refit_chains: default_refit_chains(),
            refit_tune: default_refit_iters(),
            refit_draws: default_refit_iters(),
            refit_warm_start: true,
            bootstrap_stop_early: true,
            max_roi_change: default_max_roi_change(),
            prior_sensitivity: true,
        }
    }
}

impl DiagnoseSpec {
    fn problems(&self) -> Vec<SpecProblem> {
        let mut out = Vec::new();
        let mut push = |key: &str, message: String| {
            out.push(SpecProblem {
                path: format!("diagnose.{key}"),
                message,
            })
        };
        let unit = |v: f64| v.is_finite() && (0.0..=1.0).contains(&v);
        if !(self.pareto_k_threshold.is_finite() && self.pareto_k_threshold > 0.0) {
            push(
                "pareto_k_threshold",
                format!("must be > 0, got {}", self.pareto_k_threshold),
            );
        }
        if !unit(self.min_contraction) {
            push(
                "min_contraction",
                format!("must be in [0, 1], got {}", self.min_contraction),
            );
        }
        if !unit(self.min_sign_share) {
            push(
                "min_sign_share",
                format!("must be in [0, 1], got {}", self.min_sign_share),
            );
        }
        if self.prior_draws < 100 || self.prior_draws as u64 > MAX_ITERATIONS {
            push(
                "prior_draws",
                format!("must be 100..={MAX_ITERATIONS}, got {}", self.prior_draws),
            );
        }
        for (key, n) in [
            ("bootstrap_replicates", self.bootstrap_replicates),
            ("cv_folds", self.cv_folds),
        ] {
            if n > MAX_REFITS {
                push(key, format!("must be 0..={MAX_REFITS}, got {n}"));
            }
        }
        for (key, weeks) in [
            ("bootstrap_block_length", self.bootstrap_block_length),
            ("cv_horizon", self.cv_horizon),
        ] {
            if let Some(w) = weeks.filter(|w| *w == 0 || *w > MAX_HORIZON_WEEKS) {
                push(
                    key,
                    format!("must be 1..={MAX_HORIZON_WEEKS} weeks, got {w}"),
                );
            }
        }
        if self.refit_tune > MAX_ITERATIONS {
            push(
                "refit_tune",
                format!("must be 0..={MAX_ITERATIONS}, got {}", self.refit_tune),
            );
        }
        if self.refit_chains == 0 || self.refit_chains > 64 {
            push(
                "refit_chains",
                format!("must be 1..=64, got {}", self.refit_chains),
            );
        }
        if self.refit_draws < 10 || self.refit_draws > MAX_ITERATIONS {
            push(
                "refit_draws",
                format!("must be 10..={MAX_ITERATIONS}, got {}", self.refit_draws),
            );
        }
        if !(self.max_roi_change.is_finite() && self.max_roi_change > 0.0) {
            push(
                "max_roi_change",
                format!("must be > 0, got {}", self.max_roi_change),
            );
        }
        out
    }
}

/// Longest `decisions.currency` (a symbol or an ISO code; `CHF`, `US$`).
const MAX_CURRENCY_CHARS: usize = 8;

impl DecisionSpec {
    /// Problems of the decision settings, with their key paths.
    fn problems(&self, channels: &[ChannelSpec]) -> Vec<SpecProblem> {
        let mut p = Problems::default();
        if !(self.margin.is_finite() && self.margin > 0.0) {
            p.push(
                "decisions.margin".into(),
                format!("must be > 0, got {}", self.margin),
            );
        }
        if !(self.hurdle.is_finite() && self.hurdle > -1.0) {
            p.push(
                "decisions.hurdle".into(),
                format!("must be > -1, got {}", self.hurdle),
            );
        }
        if let Some(c) = &self.currency {
            let c = c.trim();
            if c.is_empty()
                || c.chars().count() > MAX_CURRENCY_CHARS
                || c.chars().any(char::is_control)
            {
                p.push(
                    "decisions.currency".into(),
                    format!(
                        "must be a symbol or code of 1 to {MAX_CURRENCY_CHARS} printable characters \
                         (`$`, `EUR`), got {c:?}"
                    ),
                );
            }
        }
        let o = &self.optimizer;
        if o.horizon_weeks == 0 || o.horizon_weeks > MAX_HORIZON_WEEKS {
            p.push(
                "decisions.optimizer.horizon_weeks".into(),
                format!(
                    "must be 1..={MAX_HORIZON_WEEKS} (10 years), got {}",
                    o.horizon_weeks
                ),
            );
        }
        if !(o.risk_level > 0.0 && o.risk_level < 1.0) {
            p.push(
                "decisions.optimizer.risk_level".into(),
                format!("must be in (0, 1), got {}", o.risk_level),
            );
        }
        if let Some(b) = o.budget
            && !(b.is_finite() && b >= 0.0)
        {
            p.push(
                "decisions.optimizer.budget".into(),
                format!("must be >= 0, got {b}"),
            );
        }
        if let Some(m) = o.max_change
            && (m.is_nan() || m < 0.0)
        {
            p.push(
                "decisions.optimizer.max_change".into(),
                format!("must be >= 0 (or inf for no limit), got {m}"),
            );
        }
        for (i, b) in o.bounds.iter().enumerate() {
            let key = format!("decisions.optimizer.bounds[{i}]");
            if !channels.iter().any(|c| c.name == b.channel) {
                p.push(
                    format!("{key}.channel"),
                    format!("'{}' is not a channel", b.channel),
                );
            }
            for (name, v) in [("min", b.min), ("max", b.max)] {
                if let Some(v) = v
                    && !(v.is_finite() && v >= 0.0)
                {
                    p.push(format!("{key}.{name}"), format!("must be >= 0, got {v}"));
                }
            }
            if let (Some(lo), Some(hi)) = (b.min, b.max)
                && lo > hi
            {
                p.push(key.to_string(), format!("min {lo} exceeds max {hi}"));
            }
        }
        p.0
    }
}
/// Layout of the input table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum DataLayout {
    /// One row per period (or period and geo), one column per variable.
    #[default]
    Wide,
    /// One row per period, geo, campaign and variable, pivoted to wide.
    Long,
}

/// First day of an aggregated week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)]
pub enum WeekStart {
    #[default]
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl WeekStart {
    /// Days after Monday (Monday = 0).
    pub fn days_from_monday(self) -> u32 {
        self as u32
    }
}

/// How a geo panel is modeled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GeoSpec {
    /// `national` sums the panel over geos and fits one national model; `hierarchical` fits
    /// every geo at once with channel effects and intercepts partially pooled across geos
    /// (non-centered), and reports every output per geo and summed nationally per draw.
    #[serde(default)]
    pub model: GeoModelKind,
    /// Size scaling of each geo before pooling: target and spend are divided by the geo's
    /// size so that one coefficient means the same in a large and a small geo.
    /// `mean_target` (the geo's mean training target), `population` (from `population`)
    /// or `none`.
    #[serde(default)]
    pub size: GeoSize,
    /// Population (or any size measure) of every geo, for `size = "population"`.
    #[serde(default)]
    pub population: std::collections::BTreeMap<String, f64>,
    /// Channel coefficients: `pooled` (the default: one beta per geo and channel, partially
    /// pooled around the typical geo's) or `shared` (one beta per channel for every geo: the
    /// completely pooled model, for comparison).
    #[serde(default = "default_pooled")]
    pub beta: GeoPooling,
    /// How the geo intercepts are pooled: `auto` (the default: chosen from the data, see
    /// docs/geo.md), `centered` (each geo's intercept is a parameter drawn from
    /// Normal(mean, spread): the better geometry when the data pin each geo's level down and
    /// the levels differ) or `non_centered` (intercept = mean + spread x z_geo: the better
    /// geometry when the spread may be near zero, as after `size = "mean_target"`, which
    /// scales every geo to one level). Channel effects are always non-centered.
    #[serde(default)]
    pub intercept_parameterization: GeoParameterization,
    /// Adstock and saturation parameters: `shared` by all geos (the default) or `pooled`
    /// (one per geo, partially pooled around a shared mean on the sampler's log/logit scale).
    #[serde(default)]
    pub curves: GeoPooling,
    /// Fourier seasonality: `shared` by all geos (the default) or `pooled` (geo-level
    /// coefficients partially pooled around the shared ones).
    #[serde(default)]
    pub seasonality: GeoPooling,
    /// Prior of the across-geo standard deviation of ln beta, per channel (0.5: geo effects
    /// within about x/2.7 of the typical geo's, 90% of the time).
    #[serde(default = "default_beta_sd_prior")]
    pub beta_sd_prior: Prior,
    /// Prior of the across-geo standard deviation of the intercept (scaled target, or ln of
    /// it for a positive intercept prior).
    #[serde(default = "default_intercept_sd_prior")]
    pub intercept_sd_prior: Prior,
    /// Prior of the across-geo standard deviation of each pooled curve parameter (on its
    /// log or logit scale).
    #[serde(default = "default_curve_sd_prior")]
    pub curve_sd_prior: Prior,
    /// Prior of the across-geo standard deviation of the pooled Fourier coefficients.
    #[serde(default = "default_seasonality_sd_prior")]
    pub seasonality_sd_prior: Prior,
}

impl Default for GeoSpec {
    fn default() -> Self {
        Self {
            model: GeoModelKind::National,
            size: GeoSize::MeanTarget,
            population: Default::default(),
            beta: GeoPooling::Pooled,
            intercept_parameterization: GeoParameterization::Auto,
            curves: GeoPooling::Shared,
            seasonality: GeoPooling::Shared,
            beta_sd_prior: default_beta_sd_prior(),
            intercept_sd_prior: default_intercept_sd_prior(),
            curve_sd_prior: default_curve_sd_prior(),
            seasonality_sd_prior: default_seasonality_sd_prior(),
        }
    }
}

impl GeoSpec {
    /// True for the default national model (nothing to serialize).
    pub fn is_national(&self) -> bool {
        *self == Self::default()
    }

    /// True when geos are modeled jointly with a hierarchy.
    pub fn is_hierarchical(&self) -> bool {
        self.model == GeoModelKind::Hierarchical
    }
}

fn default_pooled() -> GeoPooling {
    GeoPooling::Pooled
}

fn default_beta_sd_prior() -> Prior {
    Prior::HalfNormal { sigma: 0.5 }
}

fn default_intercept_sd_prior() -> Prior {
    Prior::HalfNormal { sigma: 0.2 }
}

fn default_curve_sd_prior() -> Prior {
    Prior::HalfNormal { sigma: 0.5 }
}

fn default_seasonality_sd_prior() -> Prior {
    Prior::HalfNormal { sigma: 0.05 }
}

/// National totals or a geo hierarchy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum GeoModelKind {
    /// Sum the panel over geos and fit one national model.
    #[default]
    National,
    /// One joint model over geos with partial pooling.
    Hierarchical,
}

/// How each geo's size is measured for scaling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum GeoSize {
    /// The geo's mean target over the training window.
    #[default]
    MeanTarget,
    /// `geo.population`.
    Population,
    /// No size scaling.
    None,
}

/// Centered or non-centered partial pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum GeoParameterization {
    /// Centered when the spread of the geos' mean training levels exceeds three standard
    /// errors of a geo's mean level, non-centered otherwise.
    #[default]
    Auto,
    /// Geo values are parameters with a Normal(mean, spread) prior.
    Centered,
    /// Geo value = mean + spread x z, z ~ Normal(0, 1).
    NonCentered,
}

/// Whether a parameter group is shared by all geos or partially pooled per geo.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum GeoPooling {
    /// One value for all geos.
    #[default]
    Shared,
    /// One value per geo, partially pooled (non-centered) around a shared mean.
    Pooled,
}

/// How a control is aggregated over days or geos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema, Default)]
#[serde(rename_all = "snake_case")]
pub enum Aggregation {
    /// Arithmetic mean (prices, indices, temperatures).
    #[default]
    Mean,
    /// Sum (counts of events).
    Sum,
    /// The last value of the period (stock levels); over geos, the mean.
    Last,
}

/// Column names of a long-format input; campaign rows are mapped to channels by a mapping file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct LongLayout {
    /// Period start date column.
    pub period: String,
    /// Geography column (optional in the file: absent means national).
    pub geo: String,
    /// Campaign column (optional in the file); rows with a campaign are mapped to a channel.
    pub campaign: String,
    /// Variable-name column.
    pub variable: String,
    /// Value column.
    pub value: String,
    /// Variable name of a campaign's spend; it becomes the channel's spend column. Other
    /// campaign variables become `<channel>_<variable>` (e.g. `tv_impressions`).
    pub spend_variable: String,
}

impl Default for LongLayout {
    fn default() -> Self {
        Self {
            period: "Period".into(),
            geo: "Geography".into(),
            campaign: "Campaign".into(),
            variable: "VariableName".into(),
            value: "VariableValue".into(),
            spend_variable: "spend".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The smallest useful spec: the data section and the channel names.
    const MINIMAL: &str = "[data]\ndate_column = \"date_week\"\ntarget = \"y\"\n\n\
                           [[channels]]\nname = \"x1\"\n[[channels]]\nname = \"x2\"\n";

    fn parse(text: &str) -> Spec {
        Spec::from_file_text(Path::new("spec.toml"), text).expect("valid spec")
    }

    #[test]
    fn the_minimal_spec_takes_the_documented_defaults() {
        let spec = parse(MINIMAL);
        assert_eq!(spec.model.name, "model");
        for ch in &spec.channels {
            assert_eq!(ch.adstock, AdstockSpec::default());
            assert_eq!(ch.adstock.l_max(), 8);
            assert_eq!(ch.saturation, SaturationSpec::default());
            assert_eq!(
                ch.saturation.parameters()[0].2,
                &Prior::Gamma {
                    shape: 3.0,
                    rate: 1.0
                }
            );
            assert_eq!(
                ch.saturation.beta_prior(),
                &Prior::HalfNormal { sigma: 2.0 }
            );
        }
        assert_eq!(spec.likelihood, LikelihoodSpec::default());
        assert_eq!(spec.seasonality, SeasonalitySpec::default());
        assert_eq!(spec.intercept, InterceptSpec::default());
    }

    #[test]
    fn a_serialized_spec_writes_every_default_out_and_reads_back_equal() {
        let text = format!(
            "{MINIMAL}\n[[controls]]\nname = \"t\"\n\n[seasonality]\nfourier_order = 2\n\n\
             [[channels]]\nname = \"x3\"\nadstock = {{ kind = \"delayed_geometric\", l_max = 4 }}\n\
             saturation = {{ kind = \"hill\" }}\n\n[likelihood]\nfamily = \"student_t\"\n"
        );
        let spec = parse(&text);
        let written = toml::to_string(&spec).expect("serializes");
        assert_eq!(parse(&written), spec, "{written}");
        for key in [
            "l_max = 8",
            "alpha_prior",
            "lam_prior",
            "scale = true",
            "nu_prior",
        ] {
            assert!(written.contains(key), "{key} not written out:\n{written}");
        }
    }

    #[test]
    fn fourier_order_alone_turns_on_seasonality_with_the_default_prior() {
        let spec = parse(&format!("{MINIMAL}[seasonality]\nfourier_order = 2\n"));
        assert_eq!(spec.seasonality.fourier_order, 2);
        assert_eq!(spec.seasonality.prior, Prior::Laplace { mu: 0.0, b: 1.0 });
        assert_eq!(spec.seasonality.period_days, 365.25);
    }

    #[test]
    fn the_default_peak_lag_prior_follows_the_tables_l_max() {
        let text = format!(
            "{MINIMAL}[[channels]]\nname = \"x3\"\n\
             adstock = {{ kind = \"delayed_geometric\", l_max = 5 }}\n"
        );
        let spec = parse(&text);
        let theta = spec.channels[2].adstock.parameters()[1].2;
        assert_eq!(theta, &default_theta_prior(5));
        assert_eq!(
            theta,
            &Prior::TruncatedNormal {
                mu: 0.0,
                sigma: 1.0,
                lower: 0.0,
                upper: 4.0
            }
        );
    }

    #[test]
    fn a_control_is_scaled_by_default_unless_it_writes_its_own_prior() {
        let text = format!(
            "{MINIMAL}[[controls]]\nname = \"a\"\n\
             [[controls]]\nname = \"b\"\nprior = {{ family = \"normal\", mu = 0.0, sigma = 2.0 }}\n\
             [[controls]]\nname = \"c\"\nscale = false\n"
        );
        let spec = parse(&text);
        let scaled: Vec<bool> = spec.controls.iter().map(|c| c.scale).collect();
        assert_eq!(scaled, [true, false, false]);
        assert!(
            spec.controls
                .iter()
                .all(|c| c.prior == default_control_prior())
        );
        assert!(
            spec.controls
                .iter()
                .all(|c| c.expected_sign == ExpectedSign::Unconstrained)
        );
    }

    #[test]
    fn a_currency_is_a_short_printable_symbol_or_code() {
        for good in ["$", "€", "EUR", "US$"] {
            let spec = parse(&format!("{MINIMAL}[decisions]\ncurrency = \"{good}\"\n"));
            assert_eq!(spec.decisions.currency.as_deref(), Some(good));
        }
        assert_eq!(parse(MINIMAL).decisions.currency, None);
        for bad in ["", "   ", "Swiss francs", "E\\tUR"] {
            let text = format!("{MINIMAL}[decisions]\ncurrency = \"{bad}\"\n");
            let Err(CoreError::SpecInvalid { problems, .. }) =
                Spec::from_file_text(Path::new("s.toml"), &text)
            else {
                panic!("currency {bad:?} accepted");
            };
            assert!(
                problems.iter().any(|p| p.path == "decisions.currency"),
                "{bad:?}: {problems:#?}"
            );
        }
    }

    #[test]
    fn every_problem_is_reported_in_one_pass() {
        let text = "[data]\ndate_column = \"d\"\n\n[[channels]]\nname = \"tv\"\n\
                    adstock = { kind = \"geometric\", l_maxx = 4 }\n\n\
                    [[controls]]\nprior = { family = \"normal\", mu = 0.0, sigma = 2.0 }\n";
        let Err(CoreError::SpecInvalid { problems, .. }) =
            Spec::from_file_text(Path::new("s.toml"), text)
        else {
            panic!("invalid spec accepted");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        for want in [
            "data.target",
            "channels[0].adstock.l_maxx",
            "controls[0].name",
        ] {
            assert!(paths.contains(&want), "{want} missing: {problems:#?}");
        }
        assert!(
            problems
                .iter()
                .any(|p| p.message.contains("did you mean `l_max`")),
            "{problems:#?}"
        );
    }

    #[test]
    fn semantic_problems_are_listed_beside_unknown_keys() {
        let text = format!("{MINIMAL}[sampler]\nchainz = 2\nchains = 0\n");
        let Err(CoreError::SpecInvalid { problems, .. }) =
            Spec::from_file_text(Path::new("s.toml"), &text)
        else {
            panic!("invalid spec accepted");
        };
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(paths, ["sampler.chainz", "sampler.chains"], "{problems:#?}");
    }
}
