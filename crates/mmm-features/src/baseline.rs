//! Baseline regressors beyond controls and seasonality: the trend (linear or piecewise linear
//! with changepoints), holidays and events with lead/lag windows, and level shifts. Each is a
//! column of the design with its own coefficient; everything that depends on the data
//! (changepoint positions, the time scale) uses the training window only.
//!
//! An event's dates are its inline `dates` in the spec together with the rows of the validated
//! calendar (`validate/calendar.parquet`) that carry its name: their union.

use mmm_core::Spec;
use mmm_core::spec::Prior;

use crate::FeatureError;

/// Names of the baseline regressors in design order: `trend[linear]`, `trend[cp_K]`
/// (K = 1..), `event[NAME]`, `level_shift[DATE]`.
pub fn names(spec: &Spec) -> Vec<String> {
    let mut out = Vec::new();
    if spec.trend.kind.has_regressors() {
        out.push("trend[linear]".to_string());
        out.extend((1..=spec.trend.changepoint_count()).map(|k| format!("trend[cp_{k}]")));
    }
    out.extend(spec.events.iter().map(|e| format!("event[{}]", e.name)));
    out.extend(
        spec.level_shifts
            .iter()
            .map(|l| format!("level_shift[{}]", l.date)),
    );
    out
}

/// Priors of the baseline regressors' coefficients, in the order of [`names`].
pub fn priors(spec: &Spec) -> Vec<Prior> {
    let mut out = Vec::new();
    if spec.trend.kind.has_regressors() {
        out.push(spec.trend.slope_prior);
        out.extend(std::iter::repeat_n(
            spec.trend.changepoint_prior,
            spec.trend.changepoint_count(),
        ));
    }
    out.extend(spec.events.iter().map(|e| e.prior));
    out.extend(spec.level_shifts.iter().map(|l| l.prior));
    out
}

/// Index of the period holding day `day` (periods start at `dates[p]` and last
/// `period_days`), if any.
pub fn period_of(dates: &[i32], period_days: i32, day: i32) -> Option<usize> {
    let p = dates.partition_point(|d| *d <= day);
    (p > 0 && day < dates[p - 1] + period_days).then(|| p - 1)
}

/// Changepoint period indices: the explicit dates' periods, or `count` points spread evenly
/// over the training window, c_k = round(k n_train / (count + 1)).
fn changepoints(
    spec: &Spec,
    dates: &[i32],
    period_days: i32,
    n_train: usize,
) -> Result<Vec<usize>, FeatureError> {
    let invalid = |message: String| FeatureError::Invalid {
        column: "trend.changepoint_dates".into(),
        message,
    };
    if spec.trend.changepoint_dates.is_empty() {
        let k = spec.trend.changepoint_count();
        return Ok((1..=k)
            .map(|i| ((i * n_train) as f64 / (k + 1) as f64).round() as usize)
            .collect());
    }
    spec.trend
        .changepoint_dates
        .iter()
        .map(|d| {
            let p = mmm_core::dates::parse_day(d)
                .and_then(|day| period_of(dates, period_days, day))
                .ok_or_else(|| invalid(format!("{d} is not inside the data")))?;
            if p == 0 || p + 1 >= n_train {
                return Err(invalid(format!(
                    "{d} must fall strictly inside the training window (after its first and \
                     before its last period), or the slope change cannot be estimated"
                )));
            }
            Ok(p)
        })
        .collect()
}

/// The days (since 1970-01-01, sorted, distinct) of each spec event in order: its inline
/// `dates` and the `calendar` rows `(event, day)` with its name. An event with none is refused
/// by name.
pub fn event_days(spec: &Spec, calendar: &[(String, i32)]) -> Result<Vec<Vec<i32>>, FeatureError> {
    spec.events
        .iter()
        .map(|e| {
            let all: std::collections::BTreeSet<i32> = e
                .dates
                .iter()
                .filter_map(|d| mmm_core::dates::parse_day(d))
                .chain(
                    calendar
                        .iter()
                        .filter(|(name, _)| *name == e.name)
                        .map(|(_, d)| *d),
                )
                .collect();
            if all.is_empty() {
                return Err(FeatureError::Invalid {
                    column: format!("events.{}", e.name),
                    message: "no dates: the spec gives no `dates` and the calendar \
                              (validate --calendar) has no row with this event name"
                        .into(),
                });
            }
            Ok(all.into_iter().collect())
        })
        .collect()
}

/// The baseline regressors' columns over every period, in the order of [`names`]; `dates` are
/// period starts (days since 1970-01-01), the first `n_train` the training window; `calendar`
/// holds the validated calendar's `(event, day)` rows (empty without one).
pub fn columns(
    spec: &Spec,
    dates: &[i32],
    n_train: usize,
    calendar: &[(String, i32)],
) -> Result<Vec<Vec<f64>>, FeatureError> {
    let n = dates.len();
    let period_days = spec.data.period_days as i32;
    let scale = n_train.max(1) as f64;
    let mut out = Vec::new();
    if spec.trend.kind.has_regressors() {
        out.push((0..n).map(|t| t as f64 / scale).collect());
        for c in changepoints(spec, dates, period_days, n_train)? {
            out.push(
                (0..n)
                    .map(|t| (t as f64 - c as f64).max(0.0) / scale)
                    .collect(),
            );
        }
    }
    for (e, event_days) in spec.events.iter().zip(event_days(spec, calendar)?) {
        let mut column = vec![0.0; n];
        for day in event_days {
            let Some(p) = period_of(dates, period_days, day) else {
                continue;
            };
            let last = (p + e.lag).min(n.saturating_sub(1));
            column[p.saturating_sub(e.lead)..=last].fill(1.0);
        }
        if column[..n_train].iter().all(|v| *v == 0.0) {
            return Err(FeatureError::Invalid {
                column: format!("events.{}", e.name),
                message: "no occurrence falls in the training window, so its effect cannot be \
                          estimated; drop the event or move the holdout"
                    .into(),
            });
        }
        if column[..n_train].iter().all(|v| *v == 1.0) {
            return Err(FeatureError::Invalid {
                column: format!("events.{}", e.name),
                message: "marks every training period, so it cannot be told from the intercept"
                    .into(),
            });
        }
        out.push(column);
    }
    for l in &spec.level_shifts {
        let p = mmm_core::dates::parse_day(&l.date)
            .and_then(|day| period_of(dates, period_days, day))
            .filter(|p| *p > 0 && *p < n_train)
            .ok_or_else(|| FeatureError::Invalid {
                column: format!("level_shifts.{}", l.date),
                message: "must fall inside the training window after its first period, or the \
                          shift cannot be told from the intercept"
                    .into(),
            })?;
        out.push((0..n).map(|t| if t >= p { 1.0 } else { 0.0 }).collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[model]
name = "t"
[data]
date_column = "date"
target = "y"
[[channels]]
name = "x1"
adstock = { kind = "geometric", l_max = 4, alpha_prior = { family = "beta", alpha = 1.0, beta = 3.0 } }
saturation = { kind = "logistic", lam_prior = { family = "gamma", shape = 3.0, rate = 1.0 }, beta_prior = { family = "half_normal", sigma = 2.0 } }
"#;

    fn spec(extra: &str) -> Spec {
        Spec::from_toml_str(&format!("{BASE}{extra}")).expect("spec parses")
    }

    /// 20 weekly periods from Monday 2024-01-01 (day 19723).
    fn weeks() -> Vec<i32> {
        (0..20).map(|k| 19723 + 7 * k).collect()
    }

    #[test]
    fn piecewise_trend_is_a_scaled_index_plus_hinges_at_even_changepoints() {
        let s = spec("[trend]\nkind = \"piecewise_linear\"\nchangepoints = 3\n");
        assert!(s.problems().is_empty(), "{:?}", s.problems());
        assert_eq!(
            names(&s),
            ["trend[linear]", "trend[cp_1]", "trend[cp_2]", "trend[cp_3]"]
        );
        let cols = columns(&s, &weeks(), 16, &[]).expect("columns");
        assert_eq!(cols.len(), 4);
        for (t, v) in cols[0].iter().enumerate() {
            assert_eq!(*v, t as f64 / 16.0);
        }
        // c_k = round(k * 16 / 4) = 4, 8, 12.
        for (col, c) in cols[1..].iter().zip([4.0, 8.0, 12.0]) {
            for (t, v) in col.iter().enumerate() {
                assert_eq!(*v, (t as f64 - c).max(0.0) / 16.0);
            }
        }
        assert_eq!(priors(&s).len(), 4);
    }

    #[test]
    fn explicit_changepoints_must_lie_inside_the_training_window() {
        let s =
            spec("[trend]\nkind = \"piecewise_linear\"\nchangepoint_dates = [\"2024-02-14\"]\n");
        // 2024-02-14 is a Wednesday in the week starting 2024-02-12 (period 6).
        let cols = columns(&s, &weeks(), 16, &[]).expect("columns");
        assert_eq!(cols[1][6], 0.0);
        assert_eq!(cols[1][7], 1.0 / 16.0);
        let late =
            spec("[trend]\nkind = \"piecewise_linear\"\nchangepoint_dates = [\"2024-05-01\"]\n");
        let err = columns(&late, &weeks(), 16, &[]).expect_err("after training");
        assert!(err.to_string().contains("2024-05-01"), "{err}");
    }

    #[test]
    fn events_mark_their_periods_with_lead_and_lag() {
        let s = spec(
            "[[events]]\nname = \"black_friday\"\ndates = [\"2024-01-26\", \"2024-03-29\", \"2031-11-28\"]\nlead = 1\nlag = 2\n",
        );
        assert_eq!(names(&s), ["event[black_friday]"]);
        let cols = columns(&s, &weeks(), 16, &[]).expect("columns");
        // 2024-01-26 is in period 3, 2024-03-29 in period 12; 2031 is outside the data.
        let marked: Vec<usize> = (0..20).filter(|t| cols[0][*t] == 1.0).collect();
        assert_eq!(marked, [2, 3, 4, 5, 11, 12, 13, 14]);
    }

    #[test]
    fn calendar_dates_join_the_inline_ones_and_an_event_needs_some() {
        let s = spec(
            "[[events]]\nname = \"promo\"\ndates = [\"2024-01-26\"]\n\
             [[events]]\nname = \"sale\"\n",
        );
        assert!(
            s.problems().is_empty(),
            "dates are optional: {:?}",
            s.problems()
        );
        let day = |d: &str| mmm_core::dates::parse_day(d).expect("date");
        let calendar = vec![
            ("promo".to_string(), day("2024-03-29")),
            ("promo".to_string(), day("2024-01-26")),
            ("sale".to_string(), day("2024-02-14")),
            ("other".to_string(), day("2024-02-20")),
        ];
        assert_eq!(
            event_days(&s, &calendar).expect("days"),
            [
                vec![day("2024-01-26"), day("2024-03-29")],
                vec![day("2024-02-14")]
            ]
        );
        let cols = columns(&s, &weeks(), 16, &calendar).expect("columns");
        let marked = |c: &[f64]| (0..20).filter(|t| c[*t] == 1.0).collect::<Vec<usize>>();
        assert_eq!(marked(&cols[0]), [3, 12]);
        assert_eq!(marked(&cols[1]), [6]);
        let err = columns(&s, &weeks(), 16, &[]).expect_err("sale has no dates");
        assert!(err.to_string().contains("events.sale"), "{err}");
    }

    #[test]
    fn events_and_shifts_that_cannot_be_estimated_are_refused_by_name() {
        let outside = spec("[[events]]\nname = \"later\"\ndates = [\"2024-05-10\"]\n");
        let err = columns(&outside, &weeks(), 16, &[]).expect_err("only in holdout");
        assert!(err.to_string().contains("events.later"), "{err}");
        let first = spec("[[level_shifts]]\ndate = \"2024-01-02\"\n");
        let err = columns(&first, &weeks(), 16, &[]).expect_err("first period");
        assert!(err.to_string().contains("level_shifts.2024-01-02"), "{err}");
        let ok = spec("[[level_shifts]]\ndate = \"2024-03-04\"\n");
        let cols = columns(&ok, &weeks(), 16, &[]).expect("columns");
        let step: Vec<f64> = (0..20).map(|t| if t >= 9 { 1.0 } else { 0.0 }).collect();
        assert_eq!(cols[0], step);
        assert_eq!(names(&ok), ["level_shift[2024-03-04]"]);
    }

    #[test]
    fn bad_baseline_specs_name_the_key() {
        let s = spec(
            "[trend]\nkind = \"linear\"\nchangepoint_dates = [\"2024-02-01\"]\n\
             [[events]]\nname = \"a b\"\ndates = [\"2024-13-01\"]\n\
             [[level_shifts]]\ndate = \"soon\"\n",
        );
        let paths: Vec<String> = s.problems().into_iter().map(|p| p.path).collect();
        for key in [
            "trend.changepoint_dates",
            "events[0].name",
            "events[0].dates[0]",
            "level_shifts[0].date",
        ] {
            assert!(paths.iter().any(|p| p == key), "{key} not in {paths:?}");
        }
    }
}
