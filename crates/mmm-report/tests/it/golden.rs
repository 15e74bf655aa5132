//! Golden files: every chart function rendered on fixed synthetic inputs must match its SVG
//! under `tests/golden/` byte for byte. After an intended change of a chart, regenerate them
//! with `UPDATE_GOLDEN=1 cargo nextest run --release --workspace -E 'test(/golden/)'`, look at
//! the new files (they open in any browser) and commit them.

use std::path::PathBuf;

use mmm_report::charts::{
    self, Band, BarSeries, Convergence, Curve, Decay, IntervalOptions, Layer, LayerKind,
    PriorPosterior, RankHistogram, ValueStyle,
};

/// 2023-01-02 (a Monday) as days since 1970-01-01.
const START: i32 = 19_359;

fn days(n: usize) -> Vec<i32> {
    (0..n).map(|i| START + 7 * i as i32).collect()
}

/// A smooth deterministic series around `level`.
fn wave(n: usize, level: f64, amp: f64, phase: f64) -> Vec<f64> {
    (0..n)
        .map(|i| level + amp * ((i as f64) * 0.35 + phase).sin())
        .collect()
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(format!("{name}.svg"))
}

/// The first line where `a` and `b` differ, with its neighbours, for the failure message.
fn first_difference(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let at = (0..e.len().max(a.len()))
        .find(|&i| e.get(i) != a.get(i))
        .unwrap_or(0);
    let show = |v: &[&str]| {
        v.get(at.saturating_sub(1)..(at + 2).min(v.len()))
            .map(|l| l.join("\n    "))
            .unwrap_or_default()
    };
    format!(
        "first difference at line {}:\n  expected:\n    {}\n  actual:\n    {}",
        at + 1,
        show(&e),
        show(&a)
    )
}

/// Compares `svg` with `tests/golden/NAME.svg`, or writes it there with `UPDATE_GOLDEN=1`.
fn check(name: &str, svg: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().expect("dir")).expect("golden dir");
        std::fs::write(&path, svg).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; create it with UPDATE_GOLDEN=1 (see tests/it/golden.rs)",
            path.display()
        )
    });
    assert!(
        expected == svg,
        "chart `{name}` no longer matches {} ({} bytes expected, {} rendered); {}\nIf the change is intended, regenerate with UPDATE_GOLDEN=1 and review the SVG.",
        path.display(),
        expected.len(),
        svg.len(),
        first_difference(&expected, svg)
    );
}

#[test]
fn golden_fit_chart() {
    let n = 60;
    let (d, observed, mean) = (
        days(n),
        wave(n, 5_000.0, 900.0, 0.3),
        wave(n, 5_000.0, 800.0, 0.25),
    );
    let lower: Vec<f64> = mean.iter().map(|m| m - 400.0).collect();
    let upper: Vec<f64> = mean.iter().map(|m| m + 400.0).collect();
    let band = Band {
        name: "posterior predictive",
        mean: &mean,
        lower: &lower,
        upper: &upper,
    };
    let svg = charts::fit_chart("Fit vs actual", &d, &observed, &band, Some(d[50]), "sales")
        .expect("fit");
    check("fit", &svg);
}

#[test]
fn golden_residual_chart() {
    let n = 60;
    let residuals = wave(n, 0.0, 300.0, 1.0);
    let lower = vec![-400.0; n];
    let upper = vec![400.0; n];
    let svg = charts::residual_chart(
        "Residuals",
        &days(n),
        &residuals,
        ("94% predictive interval", &lower, &upper),
        "residual (sales)",
    )
    .expect("residuals");
    check("residuals", &svg);
}

#[test]
fn golden_acf_chart() {
    let acf: Vec<f64> = (1..=12).map(|k| 0.6f64.powi(k) - 0.05).collect();
    check(
        "acf",
        &charts::acf_chart("Autocorrelation", &acf, 100).expect("acf"),
    );
}

#[test]
fn golden_stacked_area_chart() {
    let n = 52;
    let (intercept, season) = (vec![3_000.0; n], wave(n, 0.0, 400.0, 0.0));
    let (tv, search) = (wave(n, 900.0, 300.0, 1.0), wave(n, 500.0, 200.0, 2.0));
    let observed: Vec<f64> = (0..n)
        .map(|i| intercept[i] + season[i] + tv[i] + search[i] + 120.0 * ((i as f64) * 1.7).sin())
        .collect();
    let layers = [
        Layer {
            name: "intercept",
            values: &intercept,
            kind: LayerKind::Baseline,
        },
        Layer {
            name: "seasonality",
            values: &season,
            kind: LayerKind::Baseline,
        },
        Layer {
            name: "tv",
            values: &tv,
            kind: LayerKind::Media,
        },
        Layer {
            name: "search",
            values: &search,
            kind: LayerKind::Media,
        },
    ];
    let svg =
        charts::stacked_area_chart("Contributions", &days(n), &layers, Some(&observed), "sales")
            .expect("stack");
    check("stacked_area", &svg);
}

#[test]
fn golden_waterfall_chart() {
    let steps = [
        ("intercept", 520_000.0),
        ("control[t]", 81_000.0),
        ("seasonality", -7_100.0),
        ("tv", 278_000.0),
        ("search", 68_000.0),
    ];
    let svg = charts::waterfall_chart("Waterfall", &steps, "predicted total", "sales")
        .expect("waterfall");
    check("waterfall", &svg);
}

#[test]
fn golden_grouped_bar_chart() {
    let (spend, effect, lo, hi) = ([62.5, 37.5], [80.3, 19.7], [78.0, 17.4], [82.6, 22.0]);
    let series = [
        BarSeries {
            name: "share of spend",
            values: &spend,
            interval: None,
        },
        BarSeries {
            name: "share of effect",
            values: &effect,
            interval: Some((&lo, &hi)),
        },
    ];
    let svg = charts::grouped_bar_chart(
        "Shares",
        &["tv", "search"],
        &series,
        "% of all channels",
        ValueStyle::Percent,
    )
    .expect("bars");
    check("grouped_bars", &svg);
}

#[test]
fn golden_interval_charts() {
    let items = [
        ("tv", 5_025.0, 4_460.0, 5_583.0),
        ("search", 2_355.0, 2_168.0, 2_570.0),
    ];
    check(
        "interval",
        &charts::interval_chart("ROAS", &items, "ROAS").expect("interval"),
    );
    let options = IntervalOptions {
        reference: Some(("break-even", 1.0)),
        ..Default::default()
    };
    let small = [("tv", 1.4, 0.9, 2.0), ("search", 0.7, 0.4, 1.1)];
    let svg = charts::interval_chart_with("Marginal ROAS", &small, "marginal ROAS", &options)
        .expect("interval with reference");
    check("interval_reference", &svg);
}

#[test]
fn golden_response_chart() {
    let spend: Vec<f64> = (0..=20).map(|i| 5.0 * i as f64).collect();
    let curve = |top: f64, k: f64| -> Vec<f64> {
        spend.iter().map(|s| top * (1.0 - (-s / k).exp())).collect()
    };
    let (a, b) = (curve(400.0, 60.0), curve(150.0, 25.0));
    let scale = |v: &[f64], f: f64| -> Vec<f64> { v.iter().map(|x| x * f).collect() };
    let (a50, a50u, a94, a94u) = (
        scale(&a, 0.95),
        scale(&a, 1.05),
        scale(&a, 0.85),
        scale(&a, 1.15),
    );
    let (b50, b50u, b94, b94u) = (
        scale(&b, 0.95),
        scale(&b, 1.05),
        scale(&b, 0.85),
        scale(&b, 1.15),
    );
    let curves = [
        Curve {
            name: "tv",
            spend: &spend,
            mean: &a,
            inner: (&a50, &a50u),
            outer: (&a94, &a94u),
            current: 50.0,
            recommended: Some(60.0),
            saturation: Some(42.0),
            hurdle: None,
        },
        Curve {
            name: "search",
            spend: &spend,
            mean: &b,
            inner: (&b50, &b50u),
            outer: (&b94, &b94u),
            current: 30.0,
            recommended: Some(24.0),
            saturation: Some(17.5),
            hurdle: Some(80.0),
        },
    ];
    let svg =
        charts::response_chart("Response curves", &curves, ("spend", "sales")).expect("curves");
    check("response", &svg);
}

#[test]
fn golden_decay_chart() {
    let geo = |a: f64| -> Vec<f64> {
        let w: Vec<f64> = (0..8).map(|l| a.powi(l)).collect();
        let s: f64 = w.iter().sum();
        w.iter().map(|v| v / s).collect()
    };
    let (m1, l1, u1) = (geo(0.4), geo(0.35), geo(0.45));
    let (m2, l2, u2) = (geo(0.2), geo(0.1), geo(0.3));
    let decays = [
        Decay {
            name: "tv",
            mean: &m1,
            lower: &l1,
            upper: &u1,
        },
        Decay {
            name: "search",
            mean: &m2,
            lower: &l2,
            upper: &u2,
        },
    ];
    check(
        "decay",
        &charts::decay_chart("Adstock decay", &decays, "share of the effect").expect("decay"),
    );
}

#[test]
fn golden_prior_posterior_chart() {
    let rows = [
        PriorPosterior {
            name: "intercept",
            prior_mean: 0.0,
            prior_sd: 2.0,
            posterior_mean: 0.35,
            posterior_sd: 0.013,
        },
        PriorPosterior {
            name: "adstock_alpha[tv]",
            prior_mean: 0.25,
            prior_sd: 0.19,
            posterior_mean: 0.4,
            posterior_sd: 0.03,
        },
        PriorPosterior {
            name: "beta[search]",
            prior_mean: 1.6,
            prior_sd: 1.2,
            posterior_mean: 1.4,
            posterior_sd: 1.0,
        },
    ];
    check(
        "prior_posterior",
        &charts::prior_posterior_chart("Prior vs posterior", &rows).expect("priors"),
    );
}

#[test]
fn golden_convergence_chart() {
    let rows = [
        Convergence {
            name: "intercept",
            rhat: 1.001,
            ess_bulk: 2_143.0,
            ess_tail: 2_632.0,
        },
        Convergence {
            name: "beta[tv]",
            rhat: 1.004,
            ess_bulk: 1_336.0,
            ess_tail: 1_980.0,
        },
        Convergence {
            name: "sigma",
            rhat: 1.012,
            ess_bulk: 350.0,
            ess_tail: 900.0,
        },
    ];
    check(
        "convergence",
        &charts::convergence_chart("Convergence", &rows, 1.01, 400.0).expect("convergence"),
    );
}

#[test]
fn golden_rank_chart() {
    let counts: Vec<Vec<f64>> = (0..4)
        .map(|c| {
            (0..20)
                .map(|b| 50.0 + 8.0 * (((b * 7 + c * 3) % 5) as f64 - 2.0))
                .collect()
        })
        .collect();
    let params = [
        RankHistogram {
            name: "intercept",
            counts: &counts,
        },
        RankHistogram {
            name: "beta[tv]",
            counts: &counts,
        },
    ];
    check(
        "rank",
        &charts::rank_chart("Rank plots", &params).expect("ranks"),
    );
}

#[test]
fn golden_pareto_k_chart() {
    let n = 60;
    let k: Vec<f64> = (0..n)
        .map(|i| 0.3 + 0.25 * ((i as f64) * 0.9).sin() + if i == 17 { 0.6 } else { 0.0 })
        .collect();
    check(
        "pareto_k",
        &charts::pareto_k_chart("Pareto k", &days(n), &k, 0.7).expect("pareto"),
    );
}
