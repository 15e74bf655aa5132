//! Closed-form properties of the helpers behind the rules.

use mmm_contracts::{period_start, psi};

fn day(s: &str) -> i32 {
    mmm_core::dates::day_number(chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date"))
}

#[test]
fn weeks_start_on_the_configured_weekday() {
    // 2024-01-10 is a Wednesday.
    assert_eq!(period_start(day("2024-01-10"), 7, 0), day("2024-01-08")); // Monday weeks
    assert_eq!(period_start(day("2024-01-10"), 7, 6), day("2024-01-07")); // Sunday weeks
    assert_eq!(period_start(day("2024-01-10"), 7, 2), day("2024-01-10")); // Wednesday weeks
    assert_eq!(period_start(day("1969-12-31"), 7, 0), day("1969-12-29")); // before the epoch
}

#[test]
fn psi_is_zero_for_equal_samples_and_matches_a_hand_computation() {
    let a: Vec<f64> = (0..100).map(f64::from).collect();
    assert!(psi(&a, &a).abs() < 1e-12);
    // Everything moved above the previous maximum: the top bin gets all new mass.
    // p = 0.1 for each of 10 bins; q = 1 in the top bin, 1e-4 (floor) elsewhere.
    let b: Vec<f64> = (0..100).map(|v| f64::from(v) + 1000.0).collect();
    let want = 9.0 * (1e-4 - 0.1) * (1e-4f64 / 0.1).ln() + (1.0 - 0.1) * (1.0f64 / 0.1).ln();
    assert!(
        (psi(&a, &b) - want).abs() < 1e-9,
        "{} vs {want}",
        psi(&a, &b)
    );
}
