//! Numbers for people: significant digits, separators, currency, no float noise.

use mmm_report::format::{Currency, num, pct, plain, range, tidy_text};

#[test]
fn numbers_have_three_significant_digits_below_a_thousand() {
    for (v, want) in [
        (0.0, "0"),
        (0.000199, "0.000199"),
        (0.0123456, "0.0123"),
        (0.952, "0.952"),
        (5.0253, "5.03"),
        (9.996, "10.0"),
        (55.3256, "55.3"),
        (237.9669, "238"),
        (999.7, "1,000"),
        (-7127.886, "−7,128"),
        (278_026.508, "278,027"),
        (1_235_000.0, "1.24M"),
        (999_999.9, "1.00M"),
        (3.2e9, "3.20B"),
        (0.0000123, "1.23 × 10⁻⁵"),
        (2.5e14, "250T"),
        (1e15, "1.00 × 10¹⁵"),
        (-1e308, "−1.00 × 10³⁰⁸"),
    ] {
        assert_eq!(num(v), want, "{v}");
    }
}

#[test]
fn not_a_number_is_a_dash_never_nan_or_inf() {
    for v in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        assert_eq!(num(v), "—");
        assert_eq!(pct(v), "—");
    }
}

#[test]
fn percentages_use_the_same_digits() {
    assert_eq!(pct(0.80251), "80.3%");
    assert_eq!(pct(1.0), "100%");
    assert_eq!(pct(0.0037), "0.370%");
    assert_eq!(pct(5024.277), "502,428%");
    assert_eq!(pct(-0.5), "−50.0%");
}

#[test]
fn money_follows_the_spec_currency() {
    let none = Currency::default();
    assert_eq!(none.money(5000.0), "5,000");
    assert_eq!(none.unit(), "currency units");
    let dollar = Currency {
        code: Some("$".into()),
    };
    assert_eq!(dollar.money(-1234.5), "−$1,235");
    let euro = Currency {
        code: Some("EUR".into()),
    };
    assert_eq!(euro.money(55.3256), "55.3 EUR");
    let us = Currency {
        code: Some("US$".into()),
    };
    assert_eq!(us.money(1200.0), "US$1,200");
    let spec: toml::Table = "[decisions]\ncurrency = \" € \"\n".parse().expect("toml");
    assert_eq!(Currency::from_spec(&spec).money(2.0), "€2.00");
}

#[test]
fn configuration_values_are_plain() {
    assert_eq!(plain(1.0), "1");
    assert_eq!(plain(0.3), "0.3");
    assert_eq!(plain(1.01), "1.01");
    assert_eq!(plain(400.0), "400");
    assert_eq!(plain(1e-12), "1.00 × 10⁻¹²");
    assert_eq!(plain(f64::INFINITY), "unlimited");
}

#[test]
fn float_noise_is_removed_from_free_text() {
    assert_eq!(
        tidy_text("value 8312.407 has robust z-score 3.1 (median 5186.030000000001, MAD 12.5)"),
        "value 8312 has robust z-score 3.1 (median 5186, MAD 12.5)"
    );
    assert_eq!(
        tidy_text("reference spend 1.7722071974034062 in x1"),
        "reference spend 1.772 in x1"
    );
    assert_eq!(
        tidy_text("2021-06-14 .. 2021-08-30"),
        "2021-06-14 .. 2021-08-30"
    );
}

#[test]
fn ranges_are_ordered() {
    assert_eq!(range(5.0, 2.0, num), "2.00 – 5.00");
}
