//! Value, time and category axes with nice ticks.

use std::ops::Range;

use plotters::coord::ranged1d::{KeyPointHint, NoDefaultFormatting, Ranged, ValueFormatter};

use super::ChartError;
use super::dates::{civil_from_days, day_label, days_from_civil, month_label};
use super::numbers::{format_compact, format_tick};

/// Minimum and maximum of several finite slices (callers validate finiteness first).
pub(crate) fn min_max<'a>(slices: impl IntoIterator<Item = &'a [f64]>) -> Option<(f64, f64)> {
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
pub(crate) fn padded_range(lo: f64, hi: f64, include_zero: bool) -> Result<(f64, f64), ChartError> {
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
pub(crate) fn nice_ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
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
pub(crate) fn lerp_px(v: f64, lo: f64, hi: f64, limit: (i32, i32)) -> i32 {
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
pub(crate) struct ValueAxis {
    pub(crate) lo: f64,
    pub(crate) hi: f64,
    pub(crate) ticks: Vec<f64>,
    pub(crate) step: f64,
}

impl ValueAxis {
    pub(crate) fn new(lo: f64, hi: f64, target: usize) -> Self {
        let (ticks, step) = nice_ticks(lo, hi, target);
        Self {
            lo,
            hi,
            ticks,
            step,
        }
    }

    /// An axis of whole numbers (lags, weeks): nice ticks, but never between two integers.
    pub(crate) fn integers(lo: f64, hi: f64, target: usize) -> Self {
        let mut axis = Self::new(lo, hi, target);
        if axis.step < 1.0 {
            axis.step = 1.0;
            axis.ticks = (lo.ceil() as i64..=hi.floor() as i64)
                .map(|v| v as f64)
                .collect();
        }
        axis
    }

    pub(crate) fn labels(&self) -> impl Iterator<Item = String> + '_ {
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
pub(crate) struct DayAxis {
    pub(crate) lo: i32,
    pub(crate) hi: i32,
    pub(crate) monthly: bool,
}

impl DayAxis {
    pub(crate) fn new(first: i32, last: i32) -> Self {
        let (lo, hi) = if first == last {
            (first.saturating_sub(15), first.saturating_add(15))
        } else {
            (first, last)
        };
        let monthly = i64::from(hi) - i64::from(lo) > 62;
        Self { lo, hi, monthly }
    }

    pub(crate) fn month_ticks(&self, max: usize) -> Vec<i32> {
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

    pub(crate) fn day_ticks(&self, max: usize) -> Vec<i32> {
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
pub(crate) struct CategoryAxis {
    pub(crate) names: Vec<String>,
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
