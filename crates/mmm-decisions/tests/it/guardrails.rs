//! The optimizer's default guardrails: ±30% per channel unless the spec says otherwise,
//! `max_change = inf` lifts them, spec bounds override them end by end; each range records
//! where its ends come from.

use mmm_core::spec::{ChannelBounds, DEFAULT_MAX_CHANGE, LoadedSpec, Objective};
use mmm_decisions::optimize::{self, BoundSource, ChannelRange};
use mmm_decisions::plan::PlanModel;
use mmm_model::MmmModel;

use crate::optimizer::{design, problem, spec, thetas, three_channel_draws};

/// Reference spend per channel over the horizon (the current plan).
const CURRENT: [f64; 3] = [100.0, 60.0, 40.0];

/// The ranges the optimize stage builds: max_change around the reference mix at `budget`,
/// bounds by channel name.
fn ranges(max_change: Option<f64>, bounds: &[ChannelBounds], budget: f64) -> Vec<ChannelRange> {
    optimize::reference_at_budget(&CURRENT, budget)
        .into_iter()
        .enumerate()
        .map(|(c, r)| {
            let name = format!("c{c}");
            let bound = bounds
                .iter()
                .find(|b| b.channel == name)
                .map(|b| (b, format!("decisions.optimizer.bounds[{name}]")));
            ChannelRange::new(name, r, max_change, bound)
        })
        .collect()
}

fn bound(channel: &str, min: Option<f64>, max: Option<f64>) -> ChannelBounds {
    ChannelBounds {
        channel: channel.into(),
        geo: None,
        min,
        max,
    }
}

/// The optimizer section of a spec as loaded (and validated) from a file.
fn optimizer_of(section: &str) -> mmm_core::spec::OptimizerSpec {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("spec.toml");
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../fixtures/pymc_example/spec.toml"),
    )
    .expect("fixture spec")
        + section;
    std::fs::write(&path, text).expect("write");
    LoadedSpec::load(&path)
        .expect("valid spec")
        .spec
        .decisions
        .optimizer
}

/// Solve the 3-channel hand-built problem (the brute-force test's curves) at `budget`.
fn solve(ranges: Vec<ChannelRange>, budget: f64) -> optimize::Solution {
    let spec = spec(3, 4);
    let d = design(vec![vec![0.2; 10]; 3]);
    let model = MmmModel::new(&spec, &d).expect("model");
    let th = thetas(&model, &three_channel_draws(21));
    let pm = PlanModel::new(&model, &th, vec![100.0; 3], 1000.0, 10, 4);
    let p = problem(budget, Objective::Expected, ranges);
    optimize::optimize(&pm, &p, &[CURRENT.to_vec()]).expect("feasible")
}

#[test]
fn a_spec_without_limits_gets_the_default_max_change_and_inf_lifts_it() {
    assert_eq!(DEFAULT_MAX_CHANGE, 0.3);
    assert_eq!(optimizer_of("").max_change, Some(DEFAULT_MAX_CHANGE));
    let lifted = optimizer_of("\n[decisions.optimizer]\nmax_change = inf\n").max_change;
    assert_eq!(lifted, Some(f64::INFINITY));
    let wider = optimizer_of("\n[decisions.optimizer]\nmax_change = 0.5\n").max_change;
    assert_eq!(wider, Some(0.5));
}

#[test]
fn default_limits_keep_every_channel_within_30_percent_of_its_reference() {
    let budget: f64 = CURRENT.iter().sum();
    let free = solve(ranges(Some(f64::INFINITY), &[], budget), budget);
    // Without limits the optimum moves some channel by more than 30%: the default matters.
    let moved = free
        .spend
        .iter()
        .zip(CURRENT)
        .map(|(x, c)| (x - c).abs() / c)
        .fold(0.0, f64::max);
    assert!(moved > 0.3 + 1e-3, "free optimum {:?}", free.spend);

    let r = ranges(Some(DEFAULT_MAX_CHANGE), &[], budget);
    for (range, c) in r.iter().zip(CURRENT) {
        assert_eq!(range.lower_source, BoundSource::DefaultMaxChange);
        assert_eq!(range.upper_source, BoundSource::DefaultMaxChange);
        assert!((range.lower - 0.7 * c).abs() < 1e-9, "{range:?}");
        assert!((range.upper - 1.3 * c).abs() < 1e-9, "{range:?}");
        assert!(
            range
                .upper_rule
                .starts_with("default decisions.optimizer.max_change = 0.3 (±30%) above"),
            "{}",
            range.upper_rule
        );
    }
    let limited = solve(r.clone(), budget);
    for (x, c) in limited.spend.iter().zip(CURRENT) {
        assert!(
            *x >= 0.7 * c - 1e-6 && *x <= 1.3 * c + 1e-6,
            "{:?} outside ±30% of {CURRENT:?}",
            limited.spend
        );
    }
    assert!((limited.spend.iter().sum::<f64>() - budget).abs() < 1e-6);
    assert!(limited.objective <= free.objective + 1e-9);
    // The binding limit is named as the default.
    let binding = optimize::binding_constraints(&r, &limited.spend, budget);
    assert!(!binding.is_empty(), "{:?}", limited.spend);
    assert!(
        binding
            .iter()
            .all(|b| b.contains("default decisions.optimizer.max_change = 0.3 (±30%)")),
        "{binding:?}"
    );
    // plan.json records the default as such.
    let g = optimize::guardrails_json(Some(DEFAULT_MAX_CHANGE), &r);
    assert_eq!(g["max_change"], 0.3);
    assert_eq!(g["max_change_source"], "default_max_change");
    assert_eq!(g["ranges"].as_array().expect("ranges").len(), 3);
    assert_eq!(g["ranges"][0]["upper_source"], "default_max_change");
    assert_eq!(g["ranges"][0]["upper"], 130.0);
}

#[test]
fn another_max_change_is_labelled_as_the_spec_s() {
    let r = ranges(Some(0.125), &[], 200.0);
    assert_eq!(r[0].lower_source, BoundSource::MaxChange);
    assert!((r[0].lower - 87.5).abs() < 1e-9);
    assert!(
        r[0].lower_rule
            .starts_with("decisions.optimizer.max_change = 0.125 (±12.5%) below"),
        "{}",
        r[0].lower_rule
    );
    let g = optimize::guardrails_json(Some(0.125), &r);
    assert_eq!(g["max_change_source"], "max_change");
    // max_change >= 1 leaves only the non-negativity floor below.
    let wide = ranges(Some(1.5), &[], 200.0);
    assert_eq!(wide[0].lower, 0.0);
    assert_eq!(wide[0].lower_source, BoundSource::None);
    assert!((wide[0].upper - 250.0).abs() < 1e-9);
}

#[test]
fn an_infinite_max_change_is_no_limit_without_inf_arithmetic() {
    // A channel with no reference spend: 0 x inf would be NaN.
    let bound_free = ChannelRange::new("c".into(), 0.0, Some(f64::INFINITY), None);
    assert_eq!(bound_free, ChannelRange::unbounded("c".into()));
    let r = ranges(Some(f64::INFINITY), &[], 200.0);
    for range in &r {
        assert_eq!(range.lower, 0.0);
        assert_eq!(range.upper, f64::INFINITY);
        assert_eq!(
            (range.lower_source, range.upper_source),
            (BoundSource::None, BoundSource::None)
        );
        assert_eq!(range.upper_rule, "no limit");
    }
    // Nothing infinite or NaN reaches plan.json: no cap is null.
    let g = optimize::guardrails_json(Some(f64::INFINITY), &r);
    assert!(g["max_change"].is_null(), "{g}");
    assert_eq!(g["max_change_source"], "none");
    for range in g["ranges"].as_array().expect("ranges") {
        assert!(range["upper"].is_null(), "{range}");
        assert_eq!(range["lower"], 0.0);
    }
    // The plan matches the one with no max_change at all.
    let (lifted, none) = (solve(r, 200.0), solve(ranges(None, &[], 200.0), 200.0));
    for (a, b) in lifted.spend.iter().zip(&none.spend) {
        assert!(
            (a - b).abs() < 1e-9,
            "{:?} vs {:?}",
            lifted.spend,
            none.spend
        );
    }
    assert!(lifted.spend.iter().all(|x| x.is_finite()));
}

#[test]
fn spec_bounds_override_the_default_end_by_end() {
    let bounds = [
        // A cap below the band (70 .. 130): the band's floor is released.
        bound("c0", None, Some(50.0)),
        // A minimum above the band (42 .. 78): the band's cap is released.
        bound("c1", Some(100.0), None),
        // Both ends inside the band: the bound holds at both.
        bound("c2", Some(30.0), Some(45.0)),
    ];
    let r = ranges(Some(DEFAULT_MAX_CHANGE), &bounds, 200.0);
    let ends: Vec<(f64, BoundSource, f64, BoundSource)> = r
        .iter()
        .map(|r| (r.lower, r.lower_source, r.upper, r.upper_source))
        .collect();
    assert_eq!(
        ends,
        vec![
            (0.0, BoundSource::None, 50.0, BoundSource::Bounds),
            (100.0, BoundSource::Bounds, f64::INFINITY, BoundSource::None),
            (30.0, BoundSource::Bounds, 45.0, BoundSource::Bounds),
        ]
    );
    assert_eq!(r[0].upper_rule, "decisions.optimizer.bounds[c0].max");
    assert!(
        r[0].lower_rule.contains("bounds[c0].max is below it"),
        "{}",
        r[0].lower_rule
    );
    assert!(
        r[1].upper_rule.contains("bounds[c1].min is above it"),
        "{}",
        r[1].upper_rule
    );
    let sol = solve(r.clone(), 200.0);
    assert!(sol.spend[0] <= 50.0 + 1e-6, "{:?}", sol.spend);
    assert!(sol.spend[1] >= 100.0 - 1e-6, "{:?}", sol.spend);
    assert!(
        (30.0 - 1e-6..=45.0 + 1e-6).contains(&sol.spend[2]),
        "{:?}",
        sol.spend
    );
    // A bound on one end keeps the default band at the other.
    let one = ranges(
        Some(DEFAULT_MAX_CHANGE),
        &[bound("c0", None, Some(120.0))],
        200.0,
    );
    assert_eq!(
        (
            one[0].lower,
            one[0].lower_source,
            one[0].upper,
            one[0].upper_source
        ),
        (
            70.0,
            BoundSource::DefaultMaxChange,
            120.0,
            BoundSource::Bounds
        )
    );
}

#[test]
fn the_default_band_follows_the_budget_so_any_budget_is_feasible() {
    // Twice the reference budget: each channel's band is ±30% of its share of 400.
    let r = ranges(Some(DEFAULT_MAX_CHANGE), &[], 400.0);
    for (range, c) in r.iter().zip(CURRENT) {
        assert!((range.lower - 1.4 * c).abs() < 1e-9, "{range:?}");
        assert!((range.upper - 2.6 * c).abs() < 1e-9, "{range:?}");
    }
    let sol = solve(r, 400.0);
    for (x, c) in sol.spend.iter().zip(CURRENT) {
        assert!(
            *x >= 1.4 * c - 1e-6 && *x <= 2.6 * c + 1e-6,
            "{:?}",
            sol.spend
        );
    }
    // A tenth of it works too.
    let small = ranges(Some(DEFAULT_MAX_CHANGE), &[], 20.0);
    assert!(optimize::check_feasible(&problem(20.0, Objective::Expected, small)).is_ok());
    // No reference spend: no mix to keep, the band is empty at zero.
    assert_eq!(
        optimize::reference_at_budget(&[0.0, 0.0], 50.0),
        vec![0.0, 0.0]
    );
}
