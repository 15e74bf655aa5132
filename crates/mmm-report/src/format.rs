//! Numbers formatted for people: three significant digits below a thousand, whole numbers
//! with thousands separators up to a million, `1.24M` above; percentages the same way; money
//! with the spec's currency; no float noise in free text.
//!
//! ```
//! use mmm_report::format::{num, pct, tidy_text};
//! assert_eq!(num(5186.030000000001), "5,186");
//! assert_eq!(num(0.000199), "0.000199");
//! assert_eq!(num(55.3256), "55.3");
//! assert_eq!(pct(0.80251), "80.3%");
//! assert_eq!(tidy_text("median 5186.030000000001, MAD 12.5"), "median 5186, MAD 12.5");
//! ```

/// The typographic minus sign.
const MINUS: char = '−';

/// `digits` significant digits of `a` (positive, finite), without exponent for `a >= 1e-4`.
fn sig(a: f64, digits: i32) -> String {
    if a < 1e-4 {
        return scientific(a, digits);
    }
    let magnitude = a.log10().floor() as i32;
    let decimals = (digits - 1 - magnitude).max(0) as usize;
    let s = format!("{a:.decimals$}");
    // Rounding may carry into the next power of ten (9.996 → "10.00"): one decimal fewer.
    let carried = s
        .parse::<f64>()
        .is_ok_and(|r| r >= 10f64.powi(magnitude + 1));
    if carried && decimals > 0 {
        format!("{a:.prec$}", prec = decimals - 1)
    } else {
        s
    }
}

/// `1.99 × 10⁻⁵`.
fn scientific(a: f64, digits: i32) -> String {
    let s = format!("{a:.prec$e}", prec = (digits - 1).max(0) as usize);
    let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
    let sup: String = exponent
        .chars()
        .map(|c| match c {
            '-' => '⁻',
            '0' => '⁰',
            '1' => '¹',
            '2' => '²',
            '3' => '³',
            '4' => '⁴',
            '5' => '⁵',
            '6' => '⁶',
            '7' => '⁷',
            '8' => '⁸',
            '9' => '⁹',
            c => c,
        })
        .collect();
    format!("{mantissa} × 10{sup}")
}

/// A whole number with thousands separators: `946,006`.
fn grouped(a: f64) -> String {
    let digits = format!("{:.0}", a.round());
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Magnitude of `a` (positive) for people: see [`num`].
fn magnitude(a: f64) -> String {
    const BIG: [(f64, &str); 3] = [(1e12, "T"), (1e9, "B"), (1e6, "M")];
    // Past a thousand trillion a suffix stops helping: a power of ten, like the tiny values.
    if a >= 999.5e12 {
        return scientific(a, 3);
    }
    for (unit, suffix) in BIG {
        if a >= unit * 0.9995 {
            return format!("{}{suffix}", sig(a / unit, 3));
        }
    }
    if a >= 999.5 { grouped(a) } else { sig(a, 3) }
}

fn signed(v: f64, body: String) -> String {
    if v < 0.0 && body.chars().any(|c| c.is_ascii_digit() && c != '0') {
        format!("{MINUS}{body}")
    } else {
        body
    }
}

/// A number for a table or a sentence: `0` for zero; three significant digits below 1,000
/// (`0.000199`, `5.03`, `55.3`, `238`); a whole number with thousands separators below a
/// million (`278,027`); three significant digits and `M`, `B` or `T` above (`1.24M`). Values
/// below 0.0001 use `× 10⁻ⁿ`, values from 10¹⁵ `× 10ⁿ`. A value that is not a number gives `—`: callers say why in words
/// wherever one can occur.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    signed(v, magnitude(v.abs()))
}

/// Like [`num`] with four significant digits below 1,000, for diagnostics whose third
/// decimal matters (R-hat `1.003`, E-BFMI `0.9216`).
pub fn num4(v: f64) -> String {
    if v.is_finite() && v.fract() != 0.0 && v.abs() < 999.95 {
        signed(v, sig(v.abs(), 4))
    } else {
        num(v)
    }
}

/// A fraction as a percentage with [`num`]'s digits: `0.80251` → `80.3%`, `5024.3` →
/// `502,430%`.
pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        return "—".to_owned();
    }
    format!("{}%", num(100.0 * v))
}

/// How money is written: the spec's `decisions.currency` (a code of letters such as `EUR` goes
/// after the number, anything else such as `$` or `US$` before it), or plain numbers when the
/// spec names none.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Currency {
    /// The symbol or code, if the spec gives one.
    pub code: Option<String>,
}

impl Currency {
    /// `decisions.currency` of a spec table, trimmed; none when absent or empty.
    pub fn from_spec(spec: &toml::Table) -> Self {
        let code = spec
            .get("decisions")
            .and_then(|d| d.get("currency"))
            .and_then(|c| c.as_str())
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        Self { code }
    }

    /// The unit for column headers and axis titles: the code, or `currency units`.
    pub fn unit(&self) -> String {
        self.code
            .clone()
            .unwrap_or_else(|| "currency units".to_owned())
    }

    /// `v` as money: `$1,234`, `1,234 EUR` or `1,234`.
    pub fn money(&self, v: f64) -> String {
        let body = num(v.abs());
        let body = match self.code.as_deref() {
            None => body,
            Some(c) if c.chars().all(char::is_alphabetic) => format!("{body} {c}"),
            Some(c) => format!("{c}{body}"),
        };
        if v.is_finite() {
            signed(v, body)
        } else {
            num(v)
        }
    }
}

/// A value from a configuration (a margin, a threshold, a fraction): up to six significant
/// digits without trailing zeros (`1`, `0.3`, `1.01`, `1 × 10⁻¹²`).
pub fn plain(v: f64) -> String {
    if !v.is_finite() {
        return if v.is_nan() { "—" } else { "unlimited" }.to_owned();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let a = v.abs();
    let body = if (1e-4..1e15).contains(&a) {
        let s = sig(a, 6);
        let s = if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            s
        };
        if a >= 1e4 {
            grouped(s.parse().unwrap_or(a))
        } else {
            s
        }
    } else {
        scientific(a, 3)
    };
    signed(v, body)
}

/// Significant digits of a decimal literal (`0.00120` → 3, `5186.030000000001` → 16).
fn significant_digits(literal: &str) -> usize {
    let digits: String = literal.chars().filter(char::is_ascii_digit).collect();
    let trimmed = digits.trim_start_matches('0');
    if literal.contains('.') {
        trimmed.len()
    } else {
        trimmed.trim_end_matches('0').len()
    }
}

/// Free text (a finding, a rule, a method) with every decimal literal of more than six
/// significant digits rounded to four: `median 5186.030000000001` → `median 5186`.
pub fn tidy_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let starts = chars[i].is_ascii_digit() && (i == 0 || !chars[i - 1].is_alphanumeric());
        if !starts {
            out.push(chars[i]);
            i += 1;
            continue;
        }
        let mut j = i;
        while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
            j += 1;
        }
        let literal: String = chars[i..j].iter().collect();
        let literal = literal.trim_end_matches('.');
        let end = i + literal.chars().count();
        match literal.parse::<f64>() {
            Ok(v) if literal.contains('.') && significant_digits(literal) > 6 => {
                let s = sig(v, 4);
                out.push_str(if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.')
                } else {
                    &s
                });
            }
            _ => out.push_str(literal),
        }
        i = end;
    }
    out
}

/// An interval as `lower – upper` with `f` for each end.
pub fn range(lower: f64, upper: f64, f: impl Fn(f64) -> String) -> String {
    format!("{} – {}", f(lower.min(upper)), f(lower.max(upper)))
}
