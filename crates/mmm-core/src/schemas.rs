//! Documented layouts of every tabular artifact (written to `schemas/`), and checks against them.

use std::path::Path;
use std::sync::LazyLock;

use arrow::array::RecordBatch;
use arrow::datatypes::DataType;
use serde::Serialize;

use crate::error::CoreError;

/// One documented column.
#[derive(Debug, Clone, Serialize)]
pub struct ColumnSchema {
    /// Column name.
    pub name: &'static str,
    /// Arrow type name: `float64`, `int64`, `utf8`, `date32`, `boolean`.
    #[serde(rename = "type")]
    pub data_type: &'static str,
    /// Unit of the values.
    pub unit: &'static str,
    /// Meaning.
    pub description: &'static str,
}

/// Columns whose names come from the spec (one per channel, parameter, ...).
#[derive(Debug, Clone, Serialize)]
pub struct DynamicColumns {
    /// How the names are formed.
    pub pattern: &'static str,
    /// Arrow type name of every such column.
    #[serde(rename = "type")]
    pub data_type: &'static str,
    /// Unit of the values.
    pub unit: &'static str,
    /// Meaning.
    pub description: &'static str,
}

/// The documented layout of one Parquet artifact.
#[derive(Debug, Clone, Serialize)]
pub struct ArtifactSchema {
    /// `stage/file`, e.g. `fit/draws.parquet`.
    pub name: &'static str,
    /// Bumped on any incompatible change.
    pub schema_version: u32,
    /// What one row is.
    pub row: &'static str,
    /// Fixed leading columns, in order.
    pub columns: Vec<ColumnSchema>,
    /// Spec-dependent columns after the fixed ones, if any.
    pub dynamic_columns: Option<DynamicColumns>,
}

fn type_name(dt: &DataType) -> &'static str {
    match dt {
        DataType::Float64 => "float64",
        DataType::Int64 => "int64",
        DataType::Utf8 => "utf8",
        DataType::Date32 => "date32",
        DataType::Boolean => "boolean",
        _ => "other",
    }
}

impl ArtifactSchema {
    /// Check that `batch` has exactly the documented columns, in order, with their types.
    pub fn check(&self, batch: &RecordBatch, path: &Path) -> Result<(), CoreError> {
        let err = |message: String| CoreError::Schema {
            path: path.to_path_buf(),
            schema: self.name.to_string(),
            message,
        };
        let schema = batch.schema();
        let fields = schema.fields();
        if fields.len() < self.columns.len() {
            return Err(err(format!(
                "{} columns, expected at least {}",
                fields.len(),
                self.columns.len()
            )));
        }
        for (field, col) in fields.iter().zip(&self.columns) {
            if field.name() != col.name || type_name(field.data_type()) != col.data_type {
                return Err(err(format!(
                    "column '{}' ({}) where '{}' ({}) is documented",
                    field.name(),
                    field.data_type(),
                    col.name,
                    col.data_type
                )));
            }
        }
        let extra = &fields[self.columns.len()..];
        match &self.dynamic_columns {
            None if !extra.is_empty() => {
                Err(err(format!("undocumented column '{}'", extra[0].name())))
            }
            None => Ok(()),
            Some(d) => match extra
                .iter()
                .find(|f| type_name(f.data_type()) != d.data_type)
            {
                Some(f) => Err(err(format!(
                    "column '{}' has type {}, documented {}",
                    f.name(),
                    f.data_type(),
                    d.data_type
                ))),
                None => Ok(()),
            },
        }
    }
}

const fn col(
    name: &'static str,
    data_type: &'static str,
    unit: &'static str,
    description: &'static str,
) -> ColumnSchema {
    ColumnSchema {
        name,
        data_type,
        unit,
        description,
    }
}

/// `validate/table.parquet`.
pub fn table() -> ArtifactSchema {
    ArtifactSchema {
        name: "validate/table.parquet",
        schema_version: 2,
        row: "one period (week) and geo, sorted by date then geo; no gaps or duplicates per geo",
        columns: vec![
            col("date", "date32", "day", "first day of the period"),
            col(
                "geo",
                "utf8",
                "",
                "geography of the row; `national` when the input has no geo column",
            ),
        ],
        dynamic_columns: Some(DynamicColumns {
            pattern: "the target, then each channel's spend column, then each control, in spec order, named as in the spec",
            data_type: "float64",
            unit: "as in the source data (currency for spend, the outcome's unit for the target)",
            description: "validated values, unchanged",
        }),
    }
}

/// `validate/history.parquet` (only with `data.start`).
pub fn history() -> ArtifactSchema {
    ArtifactSchema {
        name: "validate/history.parquet",
        schema_version: 1,
        row: "one period before `data.start` (carry-in history) and geo, sorted by date then geo; \
              at most the longest adstock's l_max - 1 periods just before the window, fewer when \
              the data has fewer (contract.json says how many)",
        columns: vec![
            col("date", "date32", "day", "first day of the period"),
            col(
                "geo",
                "utf8",
                "",
                "geography of the row; `national` when the input has no geo column",
            ),
        ],
        dynamic_columns: Some(DynamicColumns {
            pattern: "each channel's spend column, in spec order, named as in the spec (the target and controls of history rows are not used and not kept)",
            data_type: "float64",
            unit: "currency, as in the source data",
            description: "validated spend, unchanged",
        }),
    }
}

/// `validate/calendar.parquet` (only with `--calendar`).
pub fn calendar() -> ArtifactSchema {
    ArtifactSchema {
        name: "validate/calendar.parquet",
        schema_version: 1,
        row: "one occurrence of a holiday or event, sorted by event then date; every row of the \
              calendar file, declared in the spec's [[events]] or not (contract.json lists the \
              undeclared ones, which are not modeled)",
        columns: vec![
            col(
                "event",
                "utf8",
                "",
                "event name (letters, digits, `_`, `-`); the spec event of that name takes the date",
            ),
            col(
                "date",
                "date32",
                "day",
                "a day of the occurrence; the period holding it is marked in `event[NAME]`",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `features/carry_in.parquet` (only with `data.start`).
pub fn carry_in() -> ArtifactSchema {
    ArtifactSchema {
        name: "features/carry_in.parquet",
        schema_version: 1,
        row: "one period just before the modeling window (national totals), in date order, the \
              last one right before design.parquet's first period; at most the longest \
              adstock's l_max - 1 periods",
        columns: vec![col("date", "date32", "day", "first day of the period")],
        dynamic_columns: Some(DynamicColumns {
            pattern: "`channel[NAME]` per channel in spec order: spend / the channel's training max-abs (the same factor as design.parquet's `channel[NAME]`, from the training window only)",
            data_type: "float64",
            unit: "dimensionless; multiply by scales.json's channel factor for currency",
            description: "pre-window spend that carries into the first periods through adstock",
        }),
    }
}

/// `features/design.parquet`.
pub fn design() -> ArtifactSchema {
    ArtifactSchema {
        name: "features/design.parquet",
        schema_version: 1,
        row: "one period, in date order",
        columns: vec![
            col("date", "date32", "day", "first day of the period"),
            col(
                "is_train",
                "boolean",
                "",
                "true in the training window, false in the holdout",
            ),
            col(
                "target_scaled",
                "float64",
                "target / scales.target",
                "target divided by its training-window max-abs",
            ),
        ],
        dynamic_columns: Some(DynamicColumns {
            pattern: "`channel[NAME]` (spend / its training max-abs), `control[NAME]` (raw, or / its training max-abs when the spec says scale), `mediator[NAME]` (the mediator series / its training max-abs), `fourier[sin_K]` and `fourier[cos_K]` (sin/cos(2 pi K day_of_year / period_days)), `trend[linear]` (t / n_train), `trend[cp_K]` (max(0, t - c_K) / n_train at changepoint period c_K), `event[NAME]` (1 in the periods holding the event's dates, widened by its lead and lag), `level_shift[DATE]` (1 from the period holding DATE on)",
            data_type: "float64",
            unit: "dimensionless; multiply by the factor in scales.json for original units",
            description: "model inputs",
        }),
    }
}

/// `features/geo_design.parquet` (geo hierarchy only).
pub fn geo_design() -> ArtifactSchema {
    ArtifactSchema {
        dynamic_columns: Some(DynamicColumns {
            pattern: "as design.parquet's, except that the target and each channel are divided by \
                      the geo's size and then by the pooled factor in geo_scales.json, so \
                      scaled values are comparable across geos: `target_scaled` = target / \
                      (size x geo_scales.target), `channel[NAME]` = spend / (size x \
                      geo_scales.channels[NAME]); controls are divided by geo_scales.controls",
            data_type: "float64",
            unit: "dimensionless; multiply by the geo's size and the factor in geo_scales.json",
            description: "model inputs of each geo",
        }),
        ..with_geo_column(
            design(),
            "features/geo_design.parquet",
            "one period of one geo; geos in sorted order, each a block of every period in date \
             order (the same periods as design.parquet)",
        )
    }
}

/// `features/geo_carry_in.parquet` (geo hierarchy with `data.start`).
pub fn geo_carry_in() -> ArtifactSchema {
    ArtifactSchema {
        dynamic_columns: Some(DynamicColumns {
            pattern: "`channel[NAME]` per channel: spend / (the geo's size x geo_scales.channels[NAME])",
            data_type: "float64",
            unit: "dimensionless; multiply by the geo's size and the factor in geo_scales.json",
            description: "pre-window spend of each geo",
        }),
        ..with_geo_column(
            carry_in(),
            "features/geo_carry_in.parquet",
            "one period before the modeling window of one geo; geos in sorted order, each a \
             block in date order",
        )
    }
}

/// The draws' parameter columns, each family's from its descriptor
/// ([`crate::spec::AdstockFamily`], [`crate::spec::SaturationFamily`],
/// [`crate::spec::LikelihoodFamily`]), so a new family documents its own columns.
fn draws_pattern() -> &'static str {
    use crate::spec::{AdstockFamily, LikelihoodFamily, SaturationFamily};
    static PATTERN: LazyLock<String> = LazyLock::new(|| {
        let adstock = per_kind(AdstockFamily::ALL.iter().map(|f| (f.kind, f.parameters)));
        let saturation = per_kind(SaturationFamily::ALL.iter().map(|f| (f.kind, f.parameters)));
        let mut noise: Vec<String> = Vec::new();
        for p in LikelihoodFamily::ALL.iter().flat_map(|f| f.parameters) {
            let name = format!("`{}`", p.stem);
            if !noise.contains(&name) {
                noise.push(name);
            }
        }
        format!(
            "one column per scalar parameter on its constrained scale: `intercept`; per channel \
             CH its adstock parameters ({adstock}), its saturation parameters ({saturation}) and \
             `beta[CH]`; `gamma_control[NAME]`, `gamma_mediator[NAME]`, \
             `gamma_fourier[sin_K|cos_K]`, `gamma_trend[linear|cp_K]`, `gamma_event[NAME]`, \
             `gamma_level_shift[DATE]`; the likelihood's {}",
            join_words(&noise, "or")
        )
    });
    PATTERN.as_str()
}

/// "`a[CH]` for k1, k2 and k3; `b[CH]`, `c[CH]` for k4": each distinct parameter list once,
/// in order of first appearance, with the kinds that have it.
fn per_kind<'a>(
    families: impl Iterator<Item = (&'a str, &'a [crate::spec::FamilyParameter])>,
) -> String {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for (kind, parameters) in families {
        let names: Vec<String> = parameters
            .iter()
            .map(|p| format!("`{}[CH]`", p.stem))
            .collect();
        let names = names.join(", ");
        match groups.iter_mut().find(|(n, _)| *n == names) {
            Some((_, kinds)) => kinds.push(kind.to_string()),
            None => groups.push((names, vec![kind.to_string()])),
        }
    }
    groups
        .iter()
        .map(|(names, kinds)| format!("{names} for {}", join_words(kinds, "and")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// "a", "a and b", "a, b and c" (with `last` for "and").
fn join_words(items: &[String], last: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., end] => format!("{} {last} {end}", rest.join(", ")),
    }
}

/// `fit/draws.parquet`.
pub fn draws() -> ArtifactSchema {
    ArtifactSchema {
        name: "fit/draws.parquet",
        schema_version: 1,
        row: "one posterior draw of one chain (warm-up draws are not stored)",
        columns: vec![
            col("chain", "int64", "", "chain index, 0-based"),
            col(
                "draw",
                "int64",
                "",
                "draw index within the chain after warm-up, 0-based",
            ),
        ],
        dynamic_columns: Some(DynamicColumns {
            pattern: draws_pattern(),
            data_type: "float64",
            unit: "model scale: target / scales.target, channel spend / scales.channels[CH]",
            description: "posterior draws",
        }),
    }
}

/// `fit/sample_stats.parquet`.
pub fn sample_stats() -> ArtifactSchema {
    ArtifactSchema {
        name: "fit/sample_stats.parquet",
        schema_version: 1,
        row: "one NUTS transition of one chain, warm-up included",
        columns: vec![
            col("chain", "int64", "", "chain index, 0-based"),
            col(
                "draw",
                "int64",
                "",
                "iteration index within the chain, warm-up first, 0-based",
            ),
            col("warmup", "boolean", "", "true during tuning"),
            col("step_size", "float64", "", "leapfrog step size used"),
            col("tree_depth", "int64", "", "depth of the NUTS tree"),
            col(
                "n_steps",
                "int64",
                "",
                "leapfrog steps (gradient evaluations) of the transition",
            ),
            col("energy", "float64", "", "Hamiltonian at the accepted point"),
            col("diverging", "boolean", "", "the trajectory diverged"),
            col(
                "logp",
                "float64",
                "",
                "unnormalized log density (with Jacobian) of the draw",
            ),
            col(
                "mean_tree_accept",
                "float64",
                "",
                "mean acceptance probability over the tree",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `diagnose/ppc.parquet`.
pub fn ppc() -> ArtifactSchema {
    ArtifactSchema {
        name: "diagnose/ppc.parquet",
        schema_version: 1,
        row: "one period: observed target and the posterior predictive distribution",
        columns: vec![
            col("date", "date32", "day", "first day of the period"),
            col("is_train", "boolean", "", "training window or holdout"),
            col("observed", "float64", "target unit", "observed target"),
            col(
                "mu_mean",
                "float64",
                "target unit",
                "posterior mean of the expected target",
            ),
            col(
                "pred_mean",
                "float64",
                "target unit",
                "mean of the posterior predictive draws",
            ),
            col(
                "pred_lower",
                "float64",
                "target unit",
                "lower end of the central posterior predictive interval (decisions.interval)",
            ),
            col(
                "pred_upper",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `diagnose/prior_predictive.parquet`.
pub fn prior_predictive() -> ArtifactSchema {
    ArtifactSchema {
        name: "diagnose/prior_predictive.parquet",
        schema_version: 1,
        row: "one period: observed target and the prior predictive distribution (parameters from their priors, then the likelihood)",
        columns: vec![
            col("date", "date32", "day", "first day of the period"),
            col("is_train", "boolean", "", "training window or holdout"),
            col("observed", "float64", "target unit", "observed target"),
            col(
                "prior_mean",
                "float64",
                "target unit",
                "mean of the prior predictive draws",
            ),
            col(
                "prior_lower_50",
                "float64",
                "target unit",
                "lower end of the central 50% prior predictive interval",
            ),
            col(
                "prior_upper_50",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
            col(
                "prior_lower",
                "float64",
                "target unit",
                "lower end of the central prior predictive interval (decisions.interval)",
            ),
            col(
                "prior_upper",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `decide/contributions.parquet`.
pub fn contributions() -> ArtifactSchema {
    ArtifactSchema {
        name: "decide/contributions.parquet",
        schema_version: 2,
        row: "one posterior draw x one channel, totals over the training window",
        columns: vec![
            col("chain", "int64", "", "chain index"),
            col("draw", "int64", "", "draw index"),
            col("channel", "utf8", "", "channel name"),
            col(
                "contribution",
                "float64",
                "target unit",
                "sum over weeks of prediction minus prediction with this channel's spend set to zero (adstock recomputed)",
            ),
            col(
                "spend",
                "float64",
                "currency",
                "channel spend over the same weeks",
            ),
            col(
                "share",
                "float64",
                "fraction",
                "contribution / sum of all channels' contributions of the same draw",
            ),
            col(
                "roas",
                "float64",
                "target unit per currency unit",
                "contribution / spend",
            ),
            col(
                "roi",
                "float64",
                "fraction",
                "(decisions.margin x contribution - spend) / spend",
            ),
            col(
                "marginal_roas",
                "float64",
                "target unit per currency unit",
                "d response / d spend at the current spend (central difference at 0.99x and 1.01x, carry-out counted)",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `decide/decomposition.parquet`.
pub fn decomposition() -> ArtifactSchema {
    ArtifactSchema {
        name: "decide/decomposition.parquet",
        schema_version: 2,
        row: "one period x one component, summarized over posterior draws",
        columns: vec![
            col("date", "date32", "day", "first day of the period"),
            col(
                "component",
                "utf8",
                "",
                "`intercept`, `control[NAME]`, `seasonality`, `baseline` (their sum: every channel's spend at zero) or a channel name; for a model that is not additive on the response scale (log_normal, poisson, negative_binomial): `baseline` (E[y] with every channel's spend at zero), a channel (E[y] minus E[y] with that channel's spend at zero) or `interaction` (the remainder, so the components add up to E[y])",
            ),
            col(
                "mean",
                "float64",
                "target unit",
                "posterior mean of the component",
            ),
            col(
                "lower",
                "float64",
                "target unit",
                "lower end of the highest-density interval (decisions.interval)",
            ),
            col(
                "upper",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
            col(
                "share_negative",
                "float64",
                "fraction",
                "share of posterior draws in which the component is below zero",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `decide/roi.parquet`.
pub fn roi() -> ArtifactSchema {
    ArtifactSchema {
        name: "decide/roi.parquet",
        schema_version: 2,
        row: "one channel x one metric, summarized over posterior draws",
        columns: vec![
            col("channel", "utf8", "", "channel name"),
            col(
                "metric",
                "utf8",
                "",
                "`contribution` (target unit), `share` (fraction), `roas` (target unit per currency unit), `spend` (currency), `roi` (fraction), `marginal_roas`, `marginal_roi` (margin x marginal_roas - 1), `cost_per_outcome` (currency per target unit), `profit` (currency), `prob_roi_above_hurdle` (probability), `spend_at_hurdle` (currency where marginal ROI falls below decisions.hurdle; central interval; inf when above it up to 2x)",
            ),
            col("mean", "float64", "metric unit", "posterior mean"),
            col("median", "float64", "metric unit", "posterior median"),
            col(
                "lower",
                "float64",
                "metric unit",
                "lower end of the highest-density interval",
            ),
            col(
                "upper",
                "float64",
                "metric unit",
                "upper end of that interval",
            ),
            col(
                "interval",
                "float64",
                "probability",
                "mass of the interval (decisions.interval)",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `decide/curves.parquet`.
pub fn curves() -> ArtifactSchema {
    ArtifactSchema {
        name: "decide/curves.parquet",
        schema_version: 1,
        row: "one channel x one spend multiplier (0 to 2 step 0.05 of the training-window spend)",
        columns: vec![
            col("channel", "utf8", "", "channel name"),
            col("multiplier", "float64", "ratio", "spend multiplier m"),
            col(
                "spend",
                "float64",
                "currency",
                "m x the channel's training-window spend",
            ),
            col(
                "mean",
                "float64",
                "target unit",
                "posterior mean response: channel term summed over the training window and carry-out weeks with m x spend",
            ),
            col(
                "median",
                "float64",
                "target unit",
                "posterior median response",
            ),
            col(
                "lower_50",
                "float64",
                "target unit",
                "lower end of the 50% HDI",
            ),
            col(
                "upper_50",
                "float64",
                "target unit",
                "upper end of the 50% HDI",
            ),
            col(
                "lower",
                "float64",
                "target unit",
                "lower end of the decisions.interval HDI",
            ),
            col(
                "upper",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
            col(
                "marginal_roi",
                "float64",
                "fraction",
                "margin x slope of the mean curve (central difference on the grid) - 1",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `optimize/allocation.parquet` (also written by `mmm scenario` as `scenarios.parquet`).
pub fn allocation() -> ArtifactSchema {
    ArtifactSchema {
        name: "optimize/allocation.parquet",
        schema_version: 1,
        row: "one plan x one channel (or `total`): spend over the horizon and its incremental outcome over posterior draws",
        columns: vec![
            col(
                "plan",
                "utf8",
                "",
                "`current` (reference spend rescaled to the horizon), `optimized`, or a scenario name",
            ),
            col("channel", "utf8", "", "channel name or `total`"),
            col("spend", "float64", "currency", "spend over the horizon"),
            col(
                "lower_bound",
                "float64",
                "currency",
                "smallest allowed spend (NaN for scenarios and totals)",
            ),
            col(
                "upper_bound",
                "float64",
                "currency",
                "largest allowed spend (NaN for scenarios and totals)",
            ),
            col(
                "lift_mean",
                "float64",
                "target unit",
                "posterior mean incremental outcome: response over the horizon and carry-out weeks minus the response to carry-in alone",
            ),
            col("lift_median", "float64", "target unit", "posterior median"),
            col(
                "lift_lower",
                "float64",
                "target unit",
                "lower end of the decisions.interval HDI",
            ),
            col(
                "lift_upper",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
            col(
                "lift_q_risk",
                "float64",
                "target unit",
                "the decisions.optimizer.risk_level quantile",
            ),
            col(
                "profit_mean",
                "float64",
                "currency",
                "posterior mean of margin x lift - spend",
            ),
        ],
        dynamic_columns: None,
    }
}

/// `diagnose/geo_ppc.parquet` (geo hierarchy only).
pub fn geo_ppc() -> ArtifactSchema {
    ArtifactSchema {
        name: "diagnose/geo_ppc.parquet",
        schema_version: 1,
        row: "one period of one geo (geos sorted, periods in date order): the geo's observed \
              target and its posterior predictive distribution",
        columns: vec![
            col("geo", "utf8", "", "the geo"),
            col("date", "date32", "day", "first day of the period"),
            col("is_train", "boolean", "", "training window or holdout"),
            col(
                "observed",
                "float64",
                "target unit",
                "the geo's observed target",
            ),
            col(
                "pred_mean",
                "float64",
                "target unit",
                "mean of the geo's posterior predictive draws",
            ),
            col(
                "pred_lower",
                "float64",
                "target unit",
                "lower end of the central posterior predictive interval (decisions.interval), \
                 from at most 1000 evenly spaced posterior draws",
            ),
            col(
                "pred_upper",
                "float64",
                "target unit",
                "upper end of that interval",
            ),
        ],
        dynamic_columns: None,
    }
}

/// A national artifact's schema with a leading `geo` column, for its geo-level twin.
fn with_geo_column(base: ArtifactSchema, name: &'static str, row: &'static str) -> ArtifactSchema {
    renamed(
        base,
        name,
        row,
        Some(col("geo", "utf8", "", "the geo of the row")),
    )
}

/// `decide/geo_contributions.parquet` (geo hierarchy only).
pub fn geo_contributions() -> ArtifactSchema {
    with_geo_column(
        contributions(),
        "decide/geo_contributions.parquet",
        "one posterior draw of one channel in one geo, from the geo's own parameters; \
         contributions.parquet is the sum over geos per draw",
    )
}

/// `decide/geo_roi.parquet` (geo hierarchy only).
pub fn geo_roi() -> ArtifactSchema {
    with_geo_column(
        roi(),
        "decide/geo_roi.parquet",
        "one metric of one channel in one geo, summarized over posterior draws",
    )
}

/// `decide/geo_curves.parquet` (geo hierarchy only).
pub fn geo_curves() -> ArtifactSchema {
    with_geo_column(
        curves(),
        "decide/geo_curves.parquet",
        "one spend multiplier of one channel in one geo (the geo's own training spend pattern \
         scaled); curves.parquet scales every geo's spend together and sums",
    )
}

/// `decide/geo_decomposition.parquet` (geo hierarchy only).
pub fn geo_decomposition() -> ArtifactSchema {
    with_geo_column(
        decomposition(),
        "decide/geo_decomposition.parquet",
        "one period x one component in one geo, from the geo's own parameters, summarized over \
         posterior draws; decomposition.parquet sums the geos per draw",
    )
}

/// `optimize/geo_allocation.parquet` (geo hierarchy only).
pub fn geo_allocation() -> ArtifactSchema {
    with_geo_column(
        allocation(),
        "optimize/geo_allocation.parquet",
        "one channel of one plan in one geo, plus a `total` row per plan and geo; \
         allocation.parquet sums the geos per draw",
    )
}

/// Every tabular artifact schema, in pipeline order.
/// `base`'s columns under another artifact name and row description, with a leading `lead`
/// column when given (e.g. the run of an ensemble member's draw).
fn renamed(
    base: ArtifactSchema,
    name: &'static str,
    row: &'static str,
    lead: Option<ColumnSchema>,
) -> ArtifactSchema {
    let mut columns: Vec<ColumnSchema> = lead.into_iter().collect();
    columns.extend(base.columns);
    ArtifactSchema {
        name,
        schema_version: 1,
        row,
        columns,
        dynamic_columns: base.dynamic_columns,
    }
}

/// `ensemble/contributions.parquet` (`mmm decide --ensemble`).
pub fn ensemble_contributions() -> ArtifactSchema {
    renamed(
        contributions(),
        "ensemble/contributions.parquet",
        "one draw of the stacked mixture x one channel, totals over the training window: each \
         run contributes a share of draws equal to its stacking weight, evaluated with its own \
         model; chain and draw are the draw's in that run's draws.parquet",
        Some(col(
            "run",
            "utf8",
            "",
            "the run directory whose posterior and model gave the draw",
        )),
    )
}

/// `ensemble/roi.parquet` (`mmm decide --ensemble`).
pub fn ensemble_roi() -> ArtifactSchema {
    renamed(
        roi(),
        "ensemble/roi.parquet",
        "one channel x one metric, summarized over the stacked mixture's draws",
        None,
    )
}

/// `ensemble/curves.parquet` (`mmm decide --ensemble`).
pub fn ensemble_curves() -> ArtifactSchema {
    renamed(
        curves(),
        "ensemble/curves.parquet",
        "one channel x one spend multiplier, summarized over the stacked mixture's draws",
        None,
    )
}

/// `ensemble/allocation.parquet` (`mmm decide --ensemble`).
pub fn ensemble_allocation() -> ArtifactSchema {
    renamed(
        allocation(),
        "ensemble/allocation.parquet",
        "one plan (`current` or `optimized`) x one channel (or `total`): spend over the \
         horizon and its incremental outcome over the stacked mixture's draws",
        None,
    )
}

pub fn all() -> Vec<ArtifactSchema> {
    vec![
        table(),
        history(),
        calendar(),
        design(),
        carry_in(),
        geo_design(),
        geo_carry_in(),
        draws(),
        sample_stats(),
        ppc(),
        geo_ppc(),
        prior_predictive(),
        contributions(),
        decomposition(),
        roi(),
        curves(),
        geo_contributions(),
        geo_roi(),
        geo_curves(),
        geo_decomposition(),
        allocation(),
        geo_allocation(),
        ensemble_contributions(),
        ensemble_roi(),
        ensemble_curves(),
        ensemble_allocation(),
    ]
}
