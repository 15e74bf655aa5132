//! Compact number formatting for axis ticks and value labels.

/// Suffixes for compact numbers, smallest first.
pub(crate) const UNITS: [(f64, &str); 5] =
    [(1.0, ""), (1e3, "k"), (1e6, "M"), (1e9, "B"), (1e12, "T")];

/// Index into [`UNITS`] of the largest unit not exceeding `abs`.
pub(crate) fn unit_index(abs: f64) -> usize {
    UNITS.iter().rposition(|&(u, _)| abs >= u).unwrap_or(0)
}

pub(crate) fn unit_for(abs: f64) -> (f64, &'static str) {
    UNITS[unit_index(abs)]
}

pub(crate) fn trim_zeros(mut s: String) -> String {
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
pub(crate) fn column_formatter(max_abs: f64) -> impl Fn(f64) -> String {
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
pub(crate) fn format_tick(v: f64, step: f64) -> String {
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
