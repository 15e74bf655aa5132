//! Charts for the HTML report, rendered to inline SVG strings with `plotters`' SVG backend.
//!
//! Conventions shared by every chart in this module:
//!
//! - **Dates** are `i32` days since 1970-01-01 (the Arrow `Date32` representation). Time axes are
//!   labelled `YYYY-MM` at month starts (or `YYYY-MM-DD` when the series spans two months or less);
//!   the calendar conversion is [`civil_from_days`], so no date library is needed.
//! - **Validation**: empty inputs, length mismatches, non-finite values (NaN, ±∞) and day columns
//!   that are not strictly increasing are *rejected* with a [`ChartError`]; nothing is silently
//!   skipped and nothing panics. A constant series (degenerate value range) is fine: the axis range
//!   is padded around the value.
//! - **Output** is a bare `<svg …>…</svg>` element (no XML prolog) with a `viewBox` (so CSS can
//!   scale it to any width) whose first child is a `<title>` holding the chart title, ready to be
//!   inlined in HTML. The output is deterministic: the same input always gives a byte-identical
//!   string (no random ids, no clocks, no hash-map order); `tests/golden/*.svg` pin every chart.
//! - **Colours** come from the Okabe–Ito colour-blind-safe palette; baseline parts of the
//!   decomposition use muted tints so that the channels stand out.
//! - **Numbers** on value axes are compact (`250`, `2.5k`, `1.2M`, `3B`); see [`format_compact`]
//!   for the value labels of [`interval_chart`].
//! - **Text** is emitted as SVG `<text>` elements. Without a font feature, `plotters` only
//!   estimates text extents (≈ 0.45 × font size per character); layout here leaves generous room
//!   and draws the title and legends itself rather than relying on measured glyphs.
//!
//! The charts, by what they show:
//!
//! | function | shows |
//! | --- | --- |
//! | [`fit_chart`] | observed series against a posterior (or prior) predictive band over time |
//! | [`residual_chart`] | observed minus predicted over time, inside the predictive interval |
//! | [`acf_chart`] | autocorrelation of the residuals by lag, with the white-noise band |
//! | [`stacked_area_chart`] | the decomposition of the prediction into stacked parts over time |
//! | [`waterfall_chart`] | how component totals add up to the total outcome |
//! | [`grouped_bar_chart`] | two or more values per row side by side (shares, plans, runs) |
//! | [`interval_chart`] | a posterior mean and interval per row (ROAS, outcomes) |
//! | [`response_chart`] | response curves per channel with current, recommended and saturation spend |
//! | [`decay_chart`] | adstock weights by weeks since spend, per channel |
//! | [`prior_posterior_chart`] | each parameter's posterior against its prior, in prior sds |
//! | [`convergence_chart`] | R-hat and effective sample sizes per parameter against the gates |
//! | [`rank_chart`] | rank histograms per chain (well-mixed chains are flat) |
//! | [`pareto_k_chart`] | PSIS-LOO Pareto k per observation over time |

mod axes;
mod bars;
mod curves;
mod dates;
mod frame;
mod interval;
mod mcmc;
mod numbers;
mod style;
mod time;

pub use bars::{BarSeries, ValueStyle, acf_chart, grouped_bar_chart, waterfall_chart};
pub use curves::{Curve, Decay, decay_chart, response_chart};
pub use dates::{civil_from_days, days_from_civil};
pub use interval::{
    IntervalOptions, PriorPosterior, interval_chart, interval_chart_with, prior_posterior_chart,
};
pub use mcmc::{Convergence, RankHistogram, convergence_chart, rank_chart};
pub use numbers::format_compact;
pub use time::{Layer, LayerKind, fit_chart, pareto_k_chart, residual_chart, stacked_area_chart};

/// What every chart module uses.
mod prelude {
    pub(crate) use super::axes::*;
    pub(crate) use super::frame::*;
    pub(crate) use super::numbers::*;
    pub(crate) use super::style::*;
    pub(crate) use super::{Band, ChartError};
    pub(crate) use plotters::coord::Shift;
    pub(crate) use plotters::element::DashedPathElement;
    pub(crate) use plotters::prelude::*;
    pub(crate) use plotters::style::text_anchor::{HPos, Pos, VPos};
}

/// A posterior summary of one series: the mean and an interval (e.g. the 5 %–95 % quantiles),
/// all aligned with the chart's `days`.
#[derive(Debug, Clone, Copy)]
pub struct Band<'a> {
    /// Legend name of the series.
    pub name: &'a str,
    /// Posterior mean (or median) per day.
    pub mean: &'a [f64],
    /// Lower bound of the interval per day.
    pub lower: &'a [f64],
    /// Upper bound of the interval per day.
    pub upper: &'a [f64],
}

/// Why a chart could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum ChartError {
    /// An input that must have at least one element is empty.
    #[error("chart input `{what}` is empty")]
    Empty {
        /// Which input.
        what: String,
    },
    /// An input does not have the same length as the day column (or its siblings).
    #[error("chart input `{what}` has length {found}, expected {expected}")]
    LengthMismatch {
        /// Which input.
        what: String,
        /// The required length.
        expected: usize,
        /// The length found.
        found: usize,
    },
    /// An input holds NaN or an infinity. Non-finite values are rejected, never skipped.
    #[error("chart input `{what}` has a non-finite value at index {index}")]
    NonFinite {
        /// Which input.
        what: String,
        /// Position of the first offending value.
        index: usize,
    },
    /// The day column is not strictly increasing.
    #[error("chart days are not strictly increasing at index {index}")]
    UnsortedDays {
        /// Position of the first day that is not after its predecessor.
        index: usize,
    },
    /// The values span a range that cannot be represented (its width overflows `f64`).
    #[error("chart values span a range too wide to draw")]
    Range,
    /// The drawing backend reported an error.
    #[error("drawing the chart failed")]
    Render(#[from] plotters::drawing::DrawingAreaErrorKind<std::io::Error>),
    /// The backend's output is not the `<svg>` element expected.
    #[error("the SVG backend wrote {0}")]
    Malformed(&'static str),
}
