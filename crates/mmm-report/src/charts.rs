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
//! - **Output** is a bare `<svg …>…</svg>` element (no XML prolog) whose first child is a `<title>`
//!   holding the chart title, ready to be inlined in HTML. The output is deterministic: the same
//!   input always gives a byte-identical string (no random ids, no clocks, no hash-map order).
//! - **Colours** come from the Okabe–Ito colour-blind-safe palette.
//! - **Numbers** on value axes are compact (`250`, `2.5k`, `1.2M`, `3B`); see [`format_compact`]
//!   for the value labels of [`interval_chart`].
//! - **Text** is emitted as SVG `<text>` elements. Without a font feature, `plotters` only
//!   estimates text extents (≈ 0.45 × font size per character); layout here leaves generous room
//!   and draws the title and legends itself rather than relying on measured glyphs.

use std::ops::Range;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

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
    #[error("drawing the chart failed: {0}")]
    Render(String),
}

// ---------------------------------------------------------------------------------------------
// Style
// ---------------------------------------------------------------------------------------------

/// Okabe–Ito palette, in the order components are coloured (black last: it is used for observed
/// data in [`fit_chart`]; yellow late: it is the weakest on white).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0xF0, 0xE4, 0x42), // yellow
    RGBColor(0x00, 0x00, 0x00), // black
];
const BLUE_OI: RGBColor = PALETTE[0];
const SKY_OI: RGBColor = PALETTE[5];
const VERMILLION_OI: RGBColor = PALETTE[3];
const INK: RGBColor = RGBColor(0x1A, 0x1A, 0x1A);
const MUTED: RGBColor = RGBColor(0x4D, 0x4D, 0x4D);
const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
const AXIS: RGBColor = RGBColor(0x80, 0x80, 0x80);

const WIDTH: u32 = 900;
const HEIGHT: u32 = 360;
const FONT: &str = "sans-serif";
/// `plotters` sizes; the SVG backend writes `font-size = size / 1.24` (px).
const TITLE_SIZE: f64 = 21.0;
const LABEL_SIZE: f64 = 16.0;
const NOTE_SIZE: f64 = 15.0;
/// Left/right page margin of title and legend.
const PAD: i32 = 14;
/// Height reserved for the title line.
const TITLE_H: i32 = 36;
/// Height of one legend row.
const LEGEND_ROW_H: i32 = 20;
/// Width of a legend swatch.
const SWATCH_W: i32 = 24;
/// Observed values are drawn as dots as well as a line up to this many points.
const MAX_DOTS: usize = 400;
/// Right margin of time charts: room for half a `YYYY-MM-DD` label centred on the last tick.
const TIME_MARGIN_RIGHT: i32 = 42;
/// Longest title drawn in full (the SVG `<title>` always holds the full text).
const MAX_TITLE_CHARS: usize = 84;
/// Longest name drawn in full; longer names are cut with an ellipsis.
const MAX_NAME_CHARS: usize = 40;

fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&INK)
}

fn title_font() -> TextStyle<'static> {
    TextStyle::from((FONT, TITLE_SIZE, FontStyle::Bold).into_font()).color(&INK)
}

/// A generous estimate of the rendered width of `text` in pixels (browsers' sans-serif
/// averages about 0.55 em per character; the SVG font size is `size / 1.24`).
fn text_width(size: f64, text: &str) -> i32 {
    (size / 1.24 * 0.6 * text.chars().count() as f64).ceil() as i32
}

fn truncate_name(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

fn render_err<E: std::fmt::Debug>(e: E) -> ChartError {
    ChartError::Render(format!("{e:?}"))
}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// Converts days since 1970-01-01 (Arrow `Date32`) to a proleptic-Gregorian `(year, month, day)`.
///
/// This is Howard Hinnant's `civil_from_days` algorithm
/// (<https://howardhinnant.github.io/date_algorithms.html#civil_from_days>): shift the epoch to
/// 0000-03-01 so that leap days fall at the end of the (March-based) year, split the day count
/// into 400-year eras of 146 097 days, then recover the year of era, the day of year and the
/// month from closed-form expressions. Exact for every `i32` input.
///
/// ```
/// use mmm_report::charts::civil_from_days;
/// assert_eq!(civil_from_days(0), (1970, 1, 1));
/// assert_eq!(civil_from_days(19_723), (2024, 1, 1));
/// assert_eq!(civil_from_days(-1), (1969, 12, 31));
/// ```
pub fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = i64::from(days) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // year of era, [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of (March-based) year, [0, 365]
    let mp = (5 * doy + 2) / 153; // March-based month, [0, 11]
    let d = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let m = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m as u32, d as u32)
}

/// The inverse of [`civil_from_days`] (Hinnant's `days_from_civil`): days since 1970-01-01 of a
/// proleptic-Gregorian date. `month` must be in `1..=12` and `day` in `1..=31`; the result is
/// `i64` because far-away years overflow `i32`.
///
/// ```
/// use mmm_report::charts::days_from_civil;
/// assert_eq!(days_from_civil(1970, 1, 1), 0);
/// assert_eq!(days_from_civil(2000, 2, 29), 11_016);
/// ```
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400); // [0, 399]
    let mp = if m > 2 { m - 3 } else { m + 9 }; // [0, 11]
    let doy = (153 * mp + 2) / 5 + d - 1; // [0, 365]
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; // [0, 146096]
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM` of a day number.
fn month_label(days: i32) -> String {
    let (y, m, _) = civil_from_days(days);
    format!("{y:04}-{m:02}")
}

/// `YYYY-MM-DD` of a day number.
fn day_label(days: i32) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

// ---------------------------------------------------------------------------------------------
// Number formatting
// ---------------------------------------------------------------------------------------------

/// Suffixes for compact numbers, smallest first.
const UNITS: [(f64, &str); 5] = [(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")];

/// Index into [`UNITS`] of the largest unit not exceeding `abs`.
fn unit_index(abs: f64) -> usize {
    UNITS.iter().rposition(|&(u, _)| abs >= u).unwrap_or(0)
}

fn unit_for(abs: f64) -> (f64, &'static str) {
    UNITS[unit_index(abs)]
}

fn trim_zeros(mut s: String) -> String {
    if s.contains('.') {
        while s.ends_with('0') {
            s.pop();
        }
        if s.ends_with('.') {
            s.pop();
        }
    }
    s
}

/// Formats a number compactly with about three significant digits and a k/M/B/T suffix:
/// `12345.0 → "12.3k"`, `1.2e6 → "1.2M"`, `0.853 → "0.853"`, `-2500.0 → "-2.5k"`,
/// `0.0 → "0"`. Magnitudes below 0.001 use scientific notation; non-finite values give `"n/a"`.
///
/// ```
/// use mmm_report::charts::format_compact;
/// assert_eq!(format_compact(12_345.0), "12.3k");
/// assert_eq!(format_compact(1_200_000.0), "1.2M");
/// assert_eq!(format_compact(1.0), "1");
/// ```
pub fn format_compact(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    if a < 1e-3 {
        return format!("{v:.2e}");
    }
    let sign = if v < 0.0 { "-" } else { "" };
    let mut idx = unit_index(a);
    loop {
        let (unit, suffix) = UNITS[idx];
        let x = a / unit;
        let decimals = (2 - x.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{x:.decimals$}");
        // Rounding may carry into the next unit (999.95 → "1000" → "1k").
        if s.parse::<f64>().is_ok_and(|r| r >= 1000.0) && idx + 1 < UNITS.len() {
            idx += 1;
            continue;
        }
        let s = trim_zeros(s);
        if s == "0" {
            return "0".to_owned();
        }
        return format!("{sign}{s}{suffix}");
    }
}

/// Formats the numbers of one table-like column with a shared precision: when every magnitude is
/// below 1000 they get the same number of decimals (2 below 10, 1 below 100, else 0), so that
/// `1.00`, `0.60` and `1.50` line up; larger magnitudes fall back to [`format_compact`].
fn column_formatter(max_abs: f64) -> impl Fn(f64) -> String {
    move |v: f64| {
        if max_abs >= 1000.0 || !v.is_finite() {
            return format_compact(v);
        }
        let decimals = if max_abs >= 100.0 {
            0
        } else if max_abs >= 10.0 {
            1
        } else {
            2
        };
        let s = format!("{v:.decimals$}");
        // No "-0.00" for tiny negatives.
        if s.starts_with('-') && s[1..].chars().all(|c| c == '0' || c == '.') {
            s[1..].to_owned()
        } else {
            s
        }
    }
}

/// Formats an axis tick so that neighbouring ticks (`step` apart) stay distinguishable: the
/// suffix is chosen per tick and the number of decimals from the step (`0, 250, 500, 750, 1k,
/// 1.25k`).
fn format_tick(v: f64, step: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    if v.abs() <= step.abs() * 1e-6 {
        return "0".to_owned();
    }
    if step < 1e-4 {
        return format!("{v:.2e}");
    }
    let (unit, suffix) = unit_for(v.abs());
    let rel = step / unit;
    let mut decimals = 0usize;
    while decimals < 6 {
        let scaled = rel * 10f64.powi(decimals as i32);
        if (scaled - scaled.round()).abs() <= 1e-6 * scaled.abs().max(1.0) {
            break;
        }
        decimals += 1;
    }
    let s = trim_zeros(format!("{:.*}", decimals, v / unit));
    format!("{s}{suffix}")
}

// ---------------------------------------------------------------------------------------------
// Ranges and ticks
// ---------------------------------------------------------------------------------------------

/// Minimum and maximum of several finite slices (callers validate finiteness first).
fn min_max<'a>(slices: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, f64)> {
    let mut acc: Option<(f64, f64)> = None;
    for s in slices {
        for &v in s {
            acc = Some(match acc {
                None => (v, v),
                Some((lo, hi)) => (lo.min(v), hi.max(v)),
            });
        }
    }
    acc
}

/// Pads a data range for display. A degenerate range (all values equal, up to rounding) is
/// widened by 10 % of the magnitude (or ±1 around zero); otherwise 5 % of the span is added on
/// each side. With `include_zero` the range is stretched to include 0 and not padded past it.
fn padded_range(lo: f64, hi: f64, include_zero: bool) -> Result<(f64, f64), ChartError> {
    let (mut lo, mut hi) = (lo, hi);
    if include_zero {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    let span = hi - lo;
    let scale = lo.abs().max(hi.abs());
    if !span.is_finite() {
        return Err(ChartError::Range);
    }
    if span <= scale * 1e-9 {
        let pad = if scale > 0.0 { scale * 0.1 } else { 1.0 };
        lo -= pad;
        hi += pad;
    } else {
        let pad = span * 0.05;
        if !(include_zero && lo == 0.0) {
            lo -= pad;
        }
        if !(include_zero && hi == 0.0) {
            hi += pad;
        }
    }
    if !(lo.is_finite() && hi.is_finite() && (hi - lo).is_finite() && hi > lo) {
        return Err(ChartError::Range);
    }
    Ok((lo, hi))
}

/// "Nice" tick values (multiples of 1, 2, 2.5 or 5 × 10^k) inside `[lo, hi]`, at most about
/// `target` of them, and the step between them. Returns no ticks if the range is unusable.
fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let span = hi - lo;
    let target = target.max(2) as f64;
    if !(span > 0.0 && span.is_finite()) {
        return (Vec::new(), 1.0);
    }
    let raw = span / target;
    let mag = 10f64.powf(raw.log10().floor());
    let mut step = 10.0 * mag;
    for m in [1.0, 2.0, 2.5, 5.0, 10.0] {
        if span / (m * mag) <= target {
            step = m * mag;
            break;
        }
    }
    if !(step > 0.0 && step.is_finite()) {
        return (Vec::new(), 1.0);
    }
    let k0 = (lo / step - 1e-9).ceil();
    let k1 = (hi / step + 1e-9).floor();
    if !(k0.is_finite() && k1.is_finite()) || k1 - k0 > 1000.0 || k1 < k0 {
        return (Vec::new(), step);
    }
    let n = (k1 - k0) as usize;
    let ticks = (0..=n).map(|i| (k0 + i as f64) * step).collect();
    (ticks, step)
}

/// Linear map of `v` from `[lo, hi]` onto the pixel interval `limit` (either orientation).
fn lerp_px(v: f64, lo: f64, hi: f64, limit: (i32, i32)) -> i32 {
    if hi <= lo {
        return (limit.0 + limit.1) / 2;
    }
    let frac = (v - lo) / (hi - lo);
    let px = f64::from(limit.0) + frac * f64::from(limit.1 - limit.0);
    // `as` saturates, so points far outside the range cannot overflow.
    px.round() as i32
}

/// A value axis with precomputed nice ticks and compact labels.
#[derive(Clone)]
struct ValueAxis {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
    step: f64,
}

impl ValueAxis {
    fn new(lo: f64, hi: f64, target: usize) -> Self {
        let (ticks, step) = nice_ticks(lo, hi, target);
        Self {
            lo,
            hi,
            ticks,
            step,
        }
    }

    fn labels(&self) -> impl Iterator<Item = String> + '_ {
        self.ticks.iter().map(|&v| format_tick(v, self.step))
    }
}

impl Ranged for ValueAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        lerp_px(*value, self.lo, self.hi, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        let max = hint.max_num_points();
        if max == 0 || self.ticks.is_empty() {
            return Vec::new();
        }
        let every = self.ticks.len().div_ceil(max);
        self.ticks.iter().copied().step_by(every.max(1)).collect()
    }

    fn range(&self) -> Range<f64> {
        self.lo..self.hi
    }
}

impl ValueFormatter<f64> for ValueAxis {
    fn format(value: &f64) -> String {
        format_compact(*value)
    }

    fn format_ext(&self, value: &f64) -> String {
        format_tick(*value, self.step)
    }
}

/// A time axis over day numbers, ticked at month starts (or at days for short spans).
#[derive(Clone)]
struct DayAxis {
    lo: i32,
    hi: i32,
    monthly: bool,
}

impl DayAxis {
    fn new(first: i32, last: i32) -> Self {
        let (lo, hi) = if first == last {
            (first.saturating_sub(15), first.saturating_add(15))
        } else {
            (first, last)
        };
        let monthly = i64::from(hi) - i64::from(lo) > 62;
        Self { lo, hi, monthly }
    }

    fn month_ticks(&self, max: usize) -> Vec<i32> {
        let (ly, lm, ld) = civil_from_days(self.lo);
        let (hy, hm, _) = civil_from_days(self.hi);
        let mut first = i64::from(ly) * 12 + i64::from(lm) - 1;
        if ld != 1 {
            first += 1;
        }
        let last = i64::from(hy) * 12 + i64::from(hm) - 1;
        if last < first {
            return Vec::new();
        }
        let count = |step: i64| {
            let start = first + (step - first.rem_euclid(step)) % step;
            if start > last {
                (start, 0)
            } else {
                (start, (last - start) / step + 1)
            }
        };
        let mut steps = vec![1i64, 2, 3, 6, 12, 24, 60];
        let mut step = 120i64;
        while step < 1_000_000_000 {
            steps.push(step);
            step *= 2;
        }
        for step in steps {
            let (start, n) = count(step);
            if n as usize <= max {
                return (0..n)
                    .map(|i| {
                        let mi = start + i * step;
                        let days =
                            days_from_civil(mi.div_euclid(12), (mi.rem_euclid(12) + 1) as u32, 1);
                        days.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
                    })
                    .collect();
            }
        }
        Vec::new()
    }

    fn day_ticks(&self, max: usize) -> Vec<i32> {
        let (lo, hi) = (i64::from(self.lo), i64::from(self.hi));
        for step in [1i64, 2, 7, 14, 28, 56] {
            // Weekly steps start on Mondays (1970-01-05 is day 4).
            let offset = if step % 7 == 0 { 4 } else { 0 };
            let start = lo + (step - (lo - offset).rem_euclid(step)) % step;
            let n = if start > hi {
                0
            } else {
                (hi - start) / step + 1
            };
            if n as usize <= max {
                return (0..n).map(|i| (start + i * step) as i32).collect();
            }
        }
        Vec::new()
    }
}

impl Ranged for DayAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = i32;

    fn map(&self, value: &i32, limit: (i32, i32)) -> i32 {
        lerp_px(
            f64::from(*value),
            f64::from(self.lo),
            f64::from(self.hi),
            limit,
        )
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<i32> {
        let max = hint.max_num_points();
        if max == 0 {
            return Vec::new();
        }
        if self.monthly {
            self.month_ticks(max)
        } else {
            self.day_ticks(max)
        }
    }

    fn range(&self) -> Range<i32> {
        self.lo..self.hi
    }
}

impl ValueFormatter<i32> for DayAxis {
    fn format(value: &i32) -> String {
        day_label(*value)
    }

    fn format_ext(&self, value: &i32) -> String {
        if self.monthly {
            month_label(*value)
        } else {
            day_label(*value)
        }
    }
}

/// A categorical axis: item `i` sits at value `i`, item 0 nearest the top of the chart.
#[derive(Clone)]
struct CategoryAxis {
    names: Vec<String>,
}

impl Ranged for CategoryAxis {
    type FormatOption = NoDefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        let n = self.names.len().max(1) as f64;
        let frac = (value + 0.5) / n;
        let top = limit.0.min(limit.1);
        let len = (limit.1 - limit.0).abs();
        (f64::from(top) + frac * f64::from(len)).round() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            return Vec::new();
        }
        (0..self.names.len()).map(|i| i as f64).collect()
    }

    fn range(&self) -> Range<f64> {
        -0.5..(self.names.len() as f64 - 0.5)
    }
}

impl ValueFormatter<f64> for CategoryAxis {
    fn format(value: &f64) -> String {
        format_compact(*value)
    }

    fn format_ext(&self, value: &f64) -> String {
        let i = value.round();
        if i >= 0.0 && (i as usize) < self.names.len() {
            self.names[i as usize].clone()
        } else {
            String::new()
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

fn check_days(days: &[i32]) -> Result<(), ChartError> {
    if days.is_empty() {
        return Err(ChartError::Empty {
            what: "days".to_owned(),
        });
    }
    if let Some(i) = days.windows(2).position(|w| w[1] <= w[0]) {
        return Err(ChartError::UnsortedDays { index: i + 1 });
    }
    Ok(())
}

fn check_series(what: &str, values: &[f64], expected: usize) -> Result<(), ChartError> {
    if values.len() != expected {
        return Err(ChartError::LengthMismatch {
            what: what.to_owned(),
            expected,
            found: values.len(),
        });
    }
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(ChartError::NonFinite {
            what: what.to_owned(),
            index,
        });
    }
    Ok(())
}

fn check_band(band: &Band, expected: usize) -> Result<(), ChartError> {
    check_series(&format!("{}.mean", band.name), band.mean, expected)?;
    check_series(&format!("{}.lower", band.name), band.lower, expected)?;
    check_series(&format!("{}.upper", band.name), band.upper, expected)
}

// ---------------------------------------------------------------------------------------------
// Page furniture: title and legend, drawn by hand for predictable layout
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum Swatch {
    /// A thin line with a dot: observed data.
    Points(RGBColor),
    /// A mean line over its interval band.
    LineBand(RGBColor, bool),
    /// A dashed vertical marker.
    Marker(RGBColor),
}

struct LegendItem {
    label: String,
    swatch: Swatch,
}

/// Lays legend items out left to right, wrapping at the page width; returns each item's
/// `(row, x)`.
fn legend_layout(items: &[LegendItem], width: i32) -> Vec<(i32, i32)> {
    let mut out = Vec::with_capacity(items.len());
    let (mut row, mut x) = (0, PAD);
    for item in items {
        let w = SWATCH_W + 6 + text_width(LABEL_SIZE, &item.label) + 18;
        if x > PAD && x + w > width - PAD {
            row += 1;
            x = PAD;
        }
        out.push((row, x));
        x += w;
    }
    out
}

fn legend_rows(items: &[LegendItem], width: i32) -> i32 {
    legend_layout(items, width)
        .last()
        .map_or(0, |&(row, _)| row + 1)
}

/// Height of the title and legend block above the plot.
fn header_height(items: &[LegendItem], width: i32) -> i32 {
    TITLE_H + legend_rows(items, width) * LEGEND_ROW_H + 4
}

fn draw_header(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    items: &[LegendItem],
    width: i32,
) -> Result<(), ChartError> {
    root.draw(&Text::new(
        truncate_name(title, MAX_TITLE_CHARS),
        (PAD, 10),
        title_font().pos(Pos::new(HPos::Left, VPos::Top)),
    ))
    .map_err(render_err)?;
    for (item, (row, x)) in items.iter().zip(legend_layout(items, width)) {
        let ym = TITLE_H + row * LEGEND_ROW_H + LEGEND_ROW_H / 2;
        match item.swatch {
            Swatch::Points(c) => {
                root.draw(&PathElement::new(
                    vec![(x, ym), (x + SWATCH_W, ym)],
                    MUTED.stroke_width(1),
                ))
                .map_err(render_err)?;
                root.draw(&Circle::new((x + SWATCH_W / 2, ym), 3, c.filled()))
                    .map_err(render_err)?;
            }
            Swatch::LineBand(c, dashed) => {
                root.draw(&Rectangle::new(
                    [(x, ym - 6), (x + SWATCH_W, ym + 6)],
                    c.mix(0.25).filled(),
                ))
                .map_err(render_err)?;
                if dashed {
                    for (a, b) in [(0, 8), (12, 20)] {
                        root.draw(&PathElement::new(
                            vec![(x + a, ym), (x + b, ym)],
                            c.stroke_width(2),
                        ))
                        .map_err(render_err)?;
                    }
                } else {
                    root.draw(&PathElement::new(
                        vec![(x, ym), (x + SWATCH_W, ym)],
                        c.stroke_width(2),
                    ))
                    .map_err(render_err)?;
                }
            }
            Swatch::Marker(c) => {
                for (a, b) in [(-8, -3), (1, 6)] {
                    root.draw(&PathElement::new(
                        vec![(x + SWATCH_W / 2, ym + a), (x + SWATCH_W / 2, ym + b)],
                        c.stroke_width(2),
                    ))
                    .map_err(render_err)?;
                }
            }
        }
        root.draw(&Text::new(
            item.label.clone(),
            (x + SWATCH_W + 6, ym),
            font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
        ))
        .map_err(render_err)?;
    }
    Ok(())
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The dated chart frame shared by the fit and components charts: margins, axes, grid and the
/// y-axis title, drawn on `body`.
fn time_chart<'a, 'b>(
    body: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_axis: &DayAxis,
    y_axis: &ValueAxis,
    y_area: i32,
    y_label: &str,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<DayAxis, ValueAxis>>, ChartError> {
    let mut chart = ChartBuilder::on(body)
        .margin_top(6)
        .margin_right(TIME_MARGIN_RIGHT)
        .margin_bottom(6)
        .margin_left(6)
        .x_label_area_size(34)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())
        .map_err(render_err)?;
    let plot_w = chart.plotting_area().get_pixel_range().0.len() as i32;
    let mut mesh = chart.configure_mesh();
    mesh.max_light_lines(0)
        .x_labels(x_label_budget(plot_w))
        .y_labels(12)
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .label_style(font(LABEL_SIZE))
        .axis_desc_style(font(LABEL_SIZE));
    if !y_label.is_empty() {
        mesh.y_desc(y_label);
    }
    mesh.draw().map_err(render_err)?;
    Ok(chart)
}

/// Renders with `draw` into a `width × height` SVG and tidies the result for inlining: no XML
/// prolog, a `<title>` first child, no trailing whitespace.
fn render_svg(
    title: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(render_err)?;
        draw(&root)?;
        root.present().map_err(render_err)?;
    }
    let mut svg = buf.trim();
    if svg.starts_with("<?xml") {
        svg = svg.find("?>").map_or(svg, |i| svg[i + 2..].trim_start());
    }
    let start = svg
        .find("<svg")
        .ok_or_else(|| ChartError::Render("backend produced no <svg> element".to_owned()))?;
    let svg = &svg[start..];
    let open_end = svg
        .find('>')
        .ok_or_else(|| ChartError::Render("unterminated <svg> tag".to_owned()))?;
    Ok(format!(
        "{}\n<title>{}</title>{}",
        &svg[..=open_end],
        xml_escape(title),
        &svg[open_end + 1..]
    ))
}

/// Width of the y label area: the widest tick label plus room for the axis description.
fn y_label_area(axis: &ValueAxis, y_label: &str) -> i32 {
    let widest = axis
        .labels()
        .map(|l| text_width(LABEL_SIZE, &l))
        .max()
        .unwrap_or(0);
    widest + 14 + if y_label.is_empty() { 0 } else { 24 }
}

/// Number of time-axis labels that fit a plot of the given pixel width.
fn x_label_budget(width: i32) -> usize {
    (width / 90).clamp(2, 14) as usize
}

// ---------------------------------------------------------------------------------------------
// Charts
// ---------------------------------------------------------------------------------------------

/// Observed series as points/line, posterior predictive mean as line, interval as shaded band;
/// optional vertical marker where the holdout starts.
///
/// `days` (days since 1970-01-01, strictly increasing), `observed` and the band's `mean`,
/// `lower` and `upper` must all have the same, non-zero length and hold finite values; otherwise
/// an error is returned. Observed values are drawn as a thin line, plus dots when there are at
/// most 400 of them. The holdout marker (with a light shading of the holdout period) is drawn only
/// when `holdout_start` lies within the plotted date range; otherwise it is omitted.
pub fn fit_chart(
    title: &str,
    days: &[i32],
    observed: &[f64],
    fit: &Band,
    holdout_start: Option<i32>,
    y_label: &str,
) -> Result<String, ChartError> {
    check_days(days)?;
    let n = days.len();
    check_series("observed", observed, n)?;
    check_band(fit, n)?;

    let (lo, hi) = min_max([observed, fit.mean, fit.lower, fit.upper]).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, false)?;
    let y_axis = ValueAxis::new(lo, hi, 6);
    let x_axis = DayAxis::new(days[0], days[n - 1]);
    let holdout = holdout_start.filter(|&h| h >= x_axis.lo && h <= x_axis.hi);

    let mut legend = vec![
        LegendItem {
            label: "observed".to_owned(),
            swatch: Swatch::Points(INK),
        },
        LegendItem {
            label: truncate_name(fit.name, MAX_NAME_CHARS),
            swatch: Swatch::LineBand(BLUE_OI, false),
        },
    ];
    if holdout.is_some() {
        legend.push(LegendItem {
            label: "holdout start".to_owned(),
            swatch: Swatch::Marker(VERMILLION_OI),
        });
    }
    let width = WIDTH as i32;
    let header = header_height(&legend, width);
    let height = HEIGHT as i32 + header - (TITLE_H + LEGEND_ROW_H + 4);
    let y_area = y_label_area(&y_axis, y_label);

    render_svg(title, WIDTH, height.max(1) as u32, |root| {
        draw_header(root, title, &legend, width)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = time_chart(&body, &x_axis, &y_axis, y_area, y_label)?;

        if let Some(h) = holdout {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(h, hi), (x_axis.hi, lo)],
                    RGBColor(0x80, 0x80, 0x80).mix(0.08).filled(),
                )))
                .map_err(render_err)?;
        }
        let band: Vec<(i32, f64)> = days
            .iter()
            .zip(fit.upper)
            .map(|(&d, &u)| (d, u))
            .chain(days.iter().zip(fit.lower).rev().map(|(&d, &l)| (d, l)))
            .collect();
        chart
            .draw_series(std::iter::once(Polygon::new(
                band,
                SKY_OI.mix(0.35).filled(),
            )))
            .map_err(render_err)?;
        chart
            .draw_series(LineSeries::new(
                days.iter().copied().zip(observed.iter().copied()),
                MUTED.stroke_width(1),
            ))
            .map_err(render_err)?;
        chart
            .draw_series(LineSeries::new(
                days.iter().copied().zip(fit.mean.iter().copied()),
                BLUE_OI.stroke_width(2),
            ))
            .map_err(render_err)?;
        if n <= MAX_DOTS {
            chart
                .draw_series(
                    days.iter()
                        .zip(observed)
                        .map(|(&d, &v)| Circle::new((d, v), 2, INK.filled())),
                )
                .map_err(render_err)?;
        }
        if let Some(h) = holdout {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(h, lo), (h, hi)],
                    6,
                    4,
                    VERMILLION_OI.stroke_width(2),
                )))
                .map_err(render_err)?;
            let (px, py) = chart.backend_coord(&(h, hi));
            // Label to the right of the marker, or to its left when it is near the right edge.
            let label = "holdout";
            let right_room = chart.backend_coord(&(x_axis.hi, hi)).0 - px;
            let (tx, anchor) = if right_room > text_width(NOTE_SIZE, label) + 10 {
                (px + 5, HPos::Left)
            } else {
                (px - 5, HPos::Right)
            };
            root.draw(&Text::new(
                label.to_owned(),
                (tx, py + 4),
                font(NOTE_SIZE)
                    .color(&VERMILLION_OI)
                    .pos(Pos::new(anchor, VPos::Top)),
            ))
            .map_err(render_err)?;
        }
        Ok(())
    })
}

/// Stacked-free overlay: each component's mean as a line with its interval as a translucent band,
/// distinct colours, legend.
///
/// Every component must match `days` in length and hold finite values; there must be at least one
/// component. The value axis always includes zero. Colours follow the Okabe–Ito palette in order;
/// past its eight colours they repeat with dashed lines.
pub fn components_chart(
    title: &str,
    days: &[i32],
    components: &[Band],
    y_label: &str,
) -> Result<String, ChartError> {
    check_days(days)?;
    if components.is_empty() {
        return Err(ChartError::Empty {
            what: "components".to_owned(),
        });
    }
    let n = days.len();
    for c in components {
        check_band(c, n)?;
    }
    let (lo, hi) = min_max(components.iter().flat_map(|c| [c.mean, c.lower, c.upper]))
        .ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let y_axis = ValueAxis::new(lo, hi, 6);
    let x_axis = DayAxis::new(days[0], days[n - 1]);

    let style_of = |i: usize| (PALETTE[i % PALETTE.len()], i >= PALETTE.len());
    let legend: Vec<LegendItem> = components
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let (colour, dashed) = style_of(i);
            LegendItem {
                label: truncate_name(c.name, MAX_NAME_CHARS),
                swatch: Swatch::LineBand(colour, dashed),
            }
        })
        .collect();
    let width = WIDTH as i32;
    let header = header_height(&legend, width);
    let height = HEIGHT as i32 + header - (TITLE_H + LEGEND_ROW_H + 4);
    let y_area = y_label_area(&y_axis, y_label);

    render_svg(title, WIDTH, height.max(1) as u32, |root| {
        draw_header(root, title, &legend, width)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = time_chart(&body, &x_axis, &y_axis, y_area, y_label)?;

        if lo < 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(x_axis.lo, 0.0), (x_axis.hi, 0.0)],
                    AXIS.stroke_width(1),
                )))
                .map_err(render_err)?;
        }
        for (i, c) in components.iter().enumerate() {
            let (colour, _) = style_of(i);
            let band: Vec<(i32, f64)> = days
                .iter()
                .zip(c.upper)
                .map(|(&d, &u)| (d, u))
                .chain(days.iter().zip(c.lower).rev().map(|(&d, &l)| (d, l)))
                .collect();
            chart
                .draw_series(std::iter::once(Polygon::new(
                    band,
                    colour.mix(0.15).filled(),
                )))
                .map_err(render_err)?;
        }
        for (i, c) in components.iter().enumerate() {
            let (colour, dashed) = style_of(i);
            let points = days.iter().copied().zip(c.mean.iter().copied());
            if dashed {
                chart
                    .draw_series(std::iter::once(DashedPathElement::new(
                        points,
                        8,
                        5,
                        colour.stroke_width(2),
                    )))
                    .map_err(render_err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                    .map_err(render_err)?;
            }
        }
        Ok(())
    })
}

/// Horizontal interval chart: for each item a point at mean and a bar from lower to upper (for
/// ROAS per channel), with value labels.
///
/// `items` are `(name, mean, lower, upper)`, drawn top to bottom in the given order; there must be
/// at least one and all numbers must be finite (bounds given in either order are accepted). The
/// value axis always includes zero. Each row is labelled on the right with
/// `mean [lower, upper]`: with a shared number of decimals when all magnitudes are below 1000
/// (`1.37 [0.80, 2.10]`), in compact form otherwise (`12k [9k, 15k]`). The chart height grows with the number of items.
pub fn interval_chart(
    title: &str,
    items: &[(&str, f64, f64, f64)],
    x_label: &str,
) -> Result<String, ChartError> {
    interval_chart_with(title, items, x_label, &IntervalOptions::default())
}

/// Extras of [`interval_chart_with`]; the default draws exactly what [`interval_chart`] draws.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntervalOptions<'a> {
    /// A dashed vertical line at a reference value (e.g. the national figure behind per-geo
    /// rows), with its legend label. It must be finite; the value axis is widened to include it.
    pub reference: Option<(&'a str, f64)>,
    /// Denser rows with smaller text, for long lists (dozens of geos).
    pub compact: bool,
}

/// [`interval_chart`] with a reference line and/or a compact layout (see [`IntervalOptions`]).
pub fn interval_chart_with(
    title: &str,
    items: &[(&str, f64, f64, f64)],
    x_label: &str,
    options: &IntervalOptions,
) -> Result<String, ChartError> {
    if items.is_empty() {
        return Err(ChartError::Empty {
            what: "items".to_owned(),
        });
    }
    for (i, &(name, mean, lower, upper)) in items.iter().enumerate() {
        for (part, v) in [("mean", mean), ("lower", lower), ("upper", upper)] {
            if !v.is_finite() {
                return Err(ChartError::NonFinite {
                    what: format!("{name}.{part}"),
                    index: i,
                });
            }
        }
    }
    if let Some((label, v)) = options.reference
        && !v.is_finite()
    {
        return Err(ChartError::NonFinite {
            what: format!("reference {label}"),
            index: 0,
        });
    }
    let values: Vec<f64> = items.iter().flat_map(|&(_, m, l, u)| [m, l, u]).collect();
    let reference: Vec<f64> = options.reference.iter().map(|&(_, v)| v).collect();
    let (lo, hi) = min_max([values.as_slice(), reference.as_slice()]).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let x_axis = ValueAxis::new(lo, hi, 8);
    let names: Vec<String> = items
        .iter()
        .map(|&(name, ..)| truncate_name(name, 32))
        .collect();
    let max_abs = values.iter().fold(0.0f64, |acc, v| acc.max(v.abs()));
    let fmt = column_formatter(max_abs);
    let value_labels: Vec<String> = items
        .iter()
        .map(|&(_, m, l, u)| format!("{} [{}, {}]", fmt(m), fmt(l.min(u)), fmt(l.max(u))))
        .collect();
    // Compact rows: smaller labels, markers and row pitch, so that 50 rows stay about 1100 px.
    let (label_size, row_h, radius, half) = if options.compact {
        (13.0, 22, 4, 0.24)
    } else {
        (LABEL_SIZE, 34, 5, 0.14)
    };
    let name_w = names
        .iter()
        .map(|s| text_width(label_size, s))
        .max()
        .unwrap_or(0)
        + 16;
    let value_w = value_labels
        .iter()
        .map(|s| text_width(label_size, s))
        .max()
        .unwrap_or(0)
        + 24;
    let x_area = if x_label.is_empty() { 34 } else { 52 };
    let n = items.len();
    let legend: Vec<LegendItem> = options
        .reference
        .iter()
        .map(|&(label, _)| LegendItem {
            label: label.to_owned(),
            swatch: Swatch::Marker(VERMILLION_OI),
        })
        .collect();
    let header = if legend.is_empty() {
        TITLE_H
    } else {
        header_height(&legend, WIDTH as i32)
    };
    let height = (header + 10 + x_area + row_h * n as i32).max(180);
    let cat_axis = CategoryAxis { names };

    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, &legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = ChartBuilder::on(&body)
            .margin_top(4)
            .margin_right(value_w)
            .margin_bottom(6)
            .margin_left(6)
            .x_label_area_size(x_area)
            .y_label_area_size(name_w)
            .build_cartesian_2d(x_axis.clone(), cat_axis.clone())
            .map_err(render_err)?;
        let mut mesh = chart.configure_mesh();
        mesh.max_light_lines(0)
            .x_labels(12)
            .y_labels(n.max(1))
            .bold_line_style(GRID.stroke_width(1))
            .axis_style(AXIS.stroke_width(1))
            .label_style(font(label_size))
            .axis_desc_style(font(LABEL_SIZE));
        if !x_label.is_empty() {
            mesh.x_desc(x_label);
        }
        mesh.draw().map_err(render_err)?;

        if lo < 0.0 {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(0.0, -0.5), (0.0, n as f64 - 0.5)],
                    AXIS.stroke_width(1),
                )))
                .map_err(render_err)?;
        }
        chart
            .draw_series(items.iter().enumerate().map(|(i, &(_, _, l, u))| {
                let y = i as f64;
                Rectangle::new(
                    [(l.min(u), y - half), (l.max(u), y + half)],
                    BLUE_OI.mix(0.45).filled(),
                )
            }))
            .map_err(render_err)?;
        if let Some((_, v)) = options.reference {
            chart
                .draw_series(std::iter::once(DashedPathElement::new(
                    vec![(v, -0.5), (v, n as f64 - 0.5)],
                    6,
                    4,
                    VERMILLION_OI.stroke_width(2),
                )))
                .map_err(render_err)?;
        }
        chart
            .draw_series(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, &(_, m, ..))| Circle::new((m, i as f64), radius, BLUE_OI.filled())),
            )
            .map_err(render_err)?;
        chart
            .draw_series(
                items.iter().enumerate().map(|(i, &(_, m, ..))| {
                    Circle::new((m, i as f64), radius, INK.stroke_width(1))
                }),
            )
            .map_err(render_err)?;
        let right = chart.plotting_area().get_pixel_range().0.end;
        for (i, label) in value_labels.iter().enumerate() {
            let (_, y) = chart.backend_coord(&(lo, i as f64));
            root.draw(&Text::new(
                label.clone(),
                (right + 10, y),
                font(label_size).pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(render_err)?;
        }
        Ok(())
    })
}

/// One channel's response curve: response (mean) against spend, with its 50% and wider bands.
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    /// Channel name.
    pub name: &'a str,
    /// Spend at each grid point (increasing).
    pub spend: &'a [f64],
    /// Posterior mean response.
    pub mean: &'a [f64],
    /// 50% interval.
    pub inner: (&'a [f64], &'a [f64]),
    /// Wide interval (decisions.interval).
    pub outer: (&'a [f64], &'a [f64]),
    /// Current spend, marked with a dot on the mean curve.
    pub current: f64,
}

/// Response curves of several channels on shared axes: mean line, 50% band (darker) and wide band
/// (lighter), a dot at the current spend. All inputs must be finite and of equal length.
pub fn response_chart(title: &str, curves: &[Curve], y_label: &str) -> Result<String, ChartError> {
    if curves.is_empty() {
        return Err(ChartError::Empty {
            what: "curves".to_owned(),
        });
    }
    for c in curves {
        let n = c.spend.len();
        if n < 2 {
            return Err(ChartError::Empty {
                what: format!("curve {}", c.name),
            });
        }
        for (what, s) in [
            ("mean", c.mean),
            ("inner lower", c.inner.0),
            ("inner upper", c.inner.1),
            ("outer lower", c.outer.0),
            ("outer upper", c.outer.1),
        ] {
            if s.len() != n {
                return Err(ChartError::LengthMismatch {
                    what: format!("{} {what}", c.name),
                    expected: n,
                    found: s.len(),
                });
            }
        }
    }
    let (xlo, xhi) = min_max(curves.iter().map(|c| c.spend)).ok_or(ChartError::Range)?;
    let (ylo, yhi) = min_max(curves.iter().flat_map(|c| [c.outer.0, c.outer.1, c.mean]))
        .ok_or(ChartError::Range)?;
    let (ylo, yhi) = padded_range(ylo, yhi, true)?;
    let xhi = if xhi > xlo { xhi } else { xlo + 1.0 };
    let legend: Vec<LegendItem> = curves
        .iter()
        .enumerate()
        .map(|(i, c)| LegendItem {
            label: truncate_name(c.name, MAX_NAME_CHARS),
            swatch: Swatch::LineBand(PALETTE[i % PALETTE.len()], i >= PALETTE.len()),
        })
        .collect();
    let width = WIDTH as i32;
    let header = header_height(&legend, width);
    let height = HEIGHT as i32 + header - (TITLE_H + LEGEND_ROW_H + 4);
    render_svg(title, WIDTH, height.max(1) as u32, |root| {
        draw_header(root, title, &legend, width)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = ChartBuilder::on(&body)
            .margin_right(TIME_MARGIN_RIGHT as u32)
            .margin_bottom(6)
            .x_label_area_size(44)
            .y_label_area_size(84)
            .build_cartesian_2d(xlo..xhi, ylo..yhi)
            .map_err(render_err)?;
        chart
            .configure_mesh()
            .light_line_style(GRID.mix(0.0))
            .bold_line_style(GRID)
            .axis_style(AXIS)
            .label_style(font(LABEL_SIZE))
            .x_desc("spend over the training window (currency)")
            .y_desc(y_label)
            .x_label_formatter(&|v| format_compact(*v))
            .y_label_formatter(&|v| format_compact(*v))
            .draw()
            .map_err(render_err)?;
        for (i, c) in curves.iter().enumerate() {
            let colour = PALETTE[i % PALETTE.len()];
            for ((lo, hi), alpha) in [(c.outer, 0.12), (c.inner, 0.25)] {
                let band: Vec<(f64, f64)> = c
                    .spend
                    .iter()
                    .zip(hi)
                    .map(|(&x, &y)| (x, y))
                    .chain(c.spend.iter().zip(lo).rev().map(|(&x, &y)| (x, y)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        band,
                        colour.mix(alpha).filled(),
                    )))
                    .map_err(render_err)?;
            }
            chart
                .draw_series(LineSeries::new(
                    c.spend.iter().copied().zip(c.mean.iter().copied()),
                    colour.stroke_width(2),
                ))
                .map_err(render_err)?;
            // Current spend: interpolate the mean curve there.
            let k = c
                .spend
                .partition_point(|s| *s < c.current)
                .clamp(1, c.spend.len() - 1);
            let (x0, x1) = (c.spend[k - 1], c.spend[k]);
            let t = if x1 > x0 {
                (c.current - x0) / (x1 - x0)
            } else {
                0.0
            };
            let y = c.mean[k - 1] + t * (c.mean[k] - c.mean[k - 1]);
            chart
                .draw_series(std::iter::once(Circle::new(
                    (c.current, y),
                    5,
                    colour.filled(),
                )))
                .map_err(render_err)?;
        }
        Ok(())
    })
}
