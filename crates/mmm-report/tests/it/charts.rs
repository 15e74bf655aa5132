//! Properties of the SVG charts: well-formed inline SVG, titles and legends present, byte-for-byte
//! determinism, input validation without panics, and layout that scales with the input.

use mmm_report::charts::{
    Band, ChartError, IntervalOptions, Layer, LayerKind, civil_from_days, days_from_civil,
    fit_chart, format_compact, interval_chart, interval_chart_with,
};

/// 2023-01-02 (a Monday) as days since 1970-01-01.
const START: i32 = 19_359;

fn weekly_days(n: usize) -> Vec<i32> {
    (0..n).map(|i| START + 7 * i as i32).collect()
}

/// A smooth deterministic pseudo-series around `level`.
fn wave(n: usize, level: f64, amp: f64, phase: f64) -> Vec<f64> {
    (0..n)
        .map(|i| level + amp * ((i as f64) * 0.35 + phase).sin())
        .collect()
}

struct Owned {
    name: String,
    mean: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl Owned {
    fn new(name: &str, mean: Vec<f64>, half_width: f64) -> Self {
        Self {
            name: name.to_owned(),
            lower: mean.iter().map(|m| m - half_width).collect(),
            upper: mean.iter().map(|m| m + half_width).collect(),
            mean,
        }
    }

    fn band(&self) -> Band<'_> {
        Band {
            name: &self.name,
            mean: &self.mean,
            lower: &self.lower,
            upper: &self.upper,
        }
    }
}

/// The stacked decomposition of `bands`' means, every band a channel.
fn components_chart(
    title: &str,
    days: &[i32],
    bands: &[Band],
    y_label: &str,
) -> Result<String, ChartError> {
    let layers: Vec<Layer> = bands
        .iter()
        .map(|b| Layer {
            name: b.name,
            values: b.mean,
            kind: LayerKind::Media,
        })
        .collect();
    mmm_report::charts::stacked_area_chart(title, days, &layers, None, y_label)
}

fn components(n: usize, k: usize) -> Vec<Owned> {
    (0..k)
        .map(|j| {
            Owned::new(
                &format!("channel_{j}"),
                wave(n, 10_000.0 * (j + 1) as f64, 3_000.0, j as f64),
                1_500.0,
            )
        })
        .collect()
}

fn example_fit() -> String {
    let n = 104;
    let days = weekly_days(n);
    let observed = wave(n, 150_000.0, 40_000.0, 0.3);
    let fit = Owned::new(
        "posterior predictive",
        wave(n, 150_000.0, 36_000.0, 0.25),
        12_000.0,
    );
    fit_chart(
        "Revenue: fit & holdout",
        &days,
        &observed,
        &fit.band(),
        Some(days[90]),
        "revenue",
    )
    .expect("fit chart renders")
}

fn example_components(k: usize) -> String {
    let n = 104;
    let days = weekly_days(n);
    let comps = components(n, k);
    let bands: Vec<Band> = comps.iter().map(Owned::band).collect();
    components_chart("Contributions", &days, &bands, "contribution").expect("components render")
}

fn example_interval(k: usize) -> String {
    let items: Vec<(String, f64, f64, f64)> = (0..k)
        .map(|j| {
            (
                format!("channel_{j}"),
                1.0 + 0.37 * j as f64,
                0.6 + 0.2 * j as f64,
                1.5 + 0.6 * j as f64,
            )
        })
        .collect();
    let refs: Vec<(&str, f64, f64, f64)> = items
        .iter()
        .map(|(n, m, l, u)| (n.as_str(), *m, *l, *u))
        .collect();
    interval_chart("ROAS by channel", &refs, "ROAS").expect("interval chart renders")
}

/// The trimmed contents of every `<text>` element.
fn texts(svg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</text>") else {
            break;
        };
        out.push(rest[open_end + 1..close].trim().to_owned());
        rest = &rest[close + 7..];
    }
    out
}

fn count(svg: &str, needle: &str) -> usize {
    svg.matches(needle).count()
}

fn shapes(svg: &str) -> usize {
    count(svg, "<path") + count(svg, "<polyline") + count(svg, "<polygon") + count(svg, "<rect")
}

/// The value of the root element's `height` attribute.
fn svg_height(svg: &str) -> u32 {
    let open = &svg[..svg.find('>').expect("svg tag")];
    let at = open.find("height=\"").expect("height attribute") + 8;
    let len = open[at..].find('"').expect("closing quote");
    open[at..at + len].parse().expect("numeric height")
}

fn assert_inline_svg(svg: &str) {
    assert!(
        svg.starts_with("<svg"),
        "must start with <svg: {:?}",
        &svg[..svg.len().min(60)]
    );
    assert!(svg.ends_with("</svg>"), "must end with </svg>");
    assert!(!svg.contains("<?xml"), "no XML prolog when inlined");
    assert_eq!(count(svg, "<svg"), 1);
    assert_eq!(count(svg, "<text"), count(svg, "</text>"));
}

// --- rendering -------------------------------------------------------------------------------

#[test]
fn fit_chart_is_inline_svg_with_title_legend_and_axes() {
    let svg = example_fit();
    assert_inline_svg(&svg);
    assert!(svg.contains(r#"width="900""#));
    assert_eq!(svg_height(&svg), 360);
    // Title is escaped both in <title> and in the visible heading.
    assert!(svg.contains("<title>Revenue: fit &amp; holdout</title>"));
    let t = texts(&svg);
    assert!(t.iter().any(|s| s == "Revenue: fit &amp; holdout"), "{t:?}");
    for legend in [
        "observed",
        "posterior predictive",
        "holdout start",
        "holdout",
        "revenue",
    ] {
        assert!(
            t.iter().any(|s| s == legend),
            "missing text {legend:?} in {t:?}"
        );
    }
    // Month-start date labels over two years of weekly data.
    assert!(t.iter().any(|s| s == "2023-07"), "{t:?}");
    assert!(t.iter().any(|s| s == "2024-01"), "{t:?}");
    // Compact y ticks: around 150k, never raw digits.
    assert!(
        t.iter()
            .any(|s| s.ends_with('k') && s[..s.len() - 1].parse::<f64>().is_ok()),
        "{t:?}"
    );
    assert!(
        !t.iter().any(|s| s.len() >= 5 && s.parse::<f64>().is_ok()),
        "{t:?}"
    );
    // The band is a polygon, the mean and observed series are polylines, dots are circles.
    assert!(count(&svg, "<polygon") >= 1);
    assert!(count(&svg, "<polyline") >= 2);
    assert!(count(&svg, "<circle") >= 104);
}

#[test]
fn fit_chart_colours_are_okabe_ito() {
    let svg = example_fit();
    assert!(svg.contains("#0072B2"), "mean line in Okabe-Ito blue");
    assert!(svg.contains("#56B4E9"), "band in Okabe-Ito sky blue");
    assert!(
        svg.contains("#D55E00"),
        "holdout marker in Okabe-Ito vermillion"
    );
}

#[test]
fn fit_chart_without_holdout_or_with_holdout_outside_range_has_no_marker() {
    let n = 30;
    let days = weekly_days(n);
    let obs = wave(n, 5.0, 1.0, 0.0);
    let fit = Owned::new("fit", wave(n, 5.0, 1.0, 0.1), 0.5);
    for holdout in [None, Some(days[0] - 100), Some(days[n - 1] + 1)] {
        let svg = fit_chart("t", &days, &obs, &fit.band(), holdout, "y").expect("renders");
        assert_inline_svg(&svg);
        assert!(!texts(&svg).iter().any(|s| s.starts_with("holdout")));
    }
}

#[test]
fn components_chart_has_legend_and_distinct_colours() {
    let svg = example_components(3);
    assert_inline_svg(&svg);
    assert!(svg.contains("<title>Contributions</title>"));
    let t = texts(&svg);
    for name in ["channel_0", "channel_1", "channel_2", "contribution"] {
        assert!(t.iter().any(|s| s == name), "missing {name:?} in {t:?}");
    }
    for colour in ["#0072B2", "#E69F00", "#009E73"] {
        assert!(svg.contains(colour), "missing colour {colour}");
    }
    // The value axis includes zero for contributions.
    assert!(t.iter().any(|s| s == "0"), "{t:?}");
}

#[test]
fn components_chart_element_count_grows_with_components() {
    let counts: Vec<usize> = [1, 2, 4, 8]
        .iter()
        .map(|&k| shapes(&example_components(k)))
        .collect();
    assert!(counts.windows(2).all(|w| w[1] > w[0]), "{counts:?}");
    let polygons: Vec<usize> = [1, 2, 4]
        .iter()
        .map(|&k| count(&example_components(k), "<polygon"))
        .collect();
    assert_eq!(polygons, vec![1, 2, 4], "one band per component");
}

#[test]
fn many_components_wrap_the_legend_and_grow_the_chart() {
    let few = example_components(2);
    let many = example_components(12);
    assert_inline_svg(&many);
    assert!(
        svg_height(&many) > svg_height(&few),
        "legend rows add height"
    );
    let t = texts(&many);
    for j in 0..12 {
        assert!(t.iter().any(|s| *s == format!("channel_{j}")));
    }
}

#[test]
fn interval_chart_labels_items_and_values() {
    let svg = example_interval(3);
    assert_inline_svg(&svg);
    assert!(svg.contains("<title>ROAS by channel</title>"));
    let t = texts(&svg);
    for s in [
        "channel_0",
        "channel_1",
        "channel_2",
        "ROAS",
        "1.00 [0.60, 1.50]",
        "1.37 [0.80, 2.10]",
    ] {
        assert!(t.iter().any(|x| x == s), "missing {s:?} in {t:?}");
    }
    assert_eq!(
        count(&svg, "<circle"),
        6,
        "filled and outlined mean marker per item"
    );
    // Bars: one rect per item plus the page background.
    assert!(count(&svg, "<rect") >= 4);
}

#[test]
fn interval_chart_height_scales_with_items() {
    let heights: Vec<u32> = [1, 4, 10, 20]
        .iter()
        .map(|&k| svg_height(&example_interval(k)))
        .collect();
    assert!(heights.windows(2).all(|w| w[1] >= w[0]), "{heights:?}");
    assert!(heights[3] > heights[1], "{heights:?}");
    assert!(heights[3] > 600, "{heights:?}");
}

#[test]
fn interval_chart_accepts_negative_and_swapped_bounds() {
    let svg = interval_chart("lift", &[("a", -0.5, -1.0, 0.2), ("b", 2.0, 3.0, 1.0)], "")
        .expect("renders");
    assert_inline_svg(&svg);
    let t = texts(&svg);
    assert!(t.iter().any(|s| s == "-0.50 [-1.00, 0.20]"), "{t:?}");
    assert!(t.iter().any(|s| s == "2.00 [1.00, 3.00]"), "{t:?}");
    // Large magnitudes switch the whole column to compact numbers.
    let svg = interval_chart(
        "spend",
        &[("a", 12_000.0, 9_000.0, 15_000.0), ("b", 0.5, 0.0, 1.0)],
        "",
    )
    .expect("renders");
    let t = texts(&svg);
    assert!(t.iter().any(|s| s == "12k [9k, 15k]"), "{t:?}");
    assert!(t.iter().any(|s| s == "0.5 [0, 1]"), "{t:?}");
}

// --- determinism -----------------------------------------------------------------------------

#[test]
fn renders_are_byte_identical() {
    assert_eq!(example_fit(), example_fit());
    assert_eq!(example_components(5), example_components(5));
    assert_eq!(example_interval(6), example_interval(6));
}

// --- validation ------------------------------------------------------------------------------

#[test]
fn mismatched_lengths_are_errors() {
    let days = weekly_days(10);
    let obs = wave(10, 1.0, 0.5, 0.0);
    let good = Owned::new("fit", wave(10, 1.0, 0.5, 0.0), 0.1);
    let short = Owned::new("fit", wave(9, 1.0, 0.5, 0.0), 0.1);
    assert!(matches!(
        fit_chart("t", &days, &obs[..9], &good.band(), None, "y"),
        Err(ChartError::LengthMismatch {
            expected: 10,
            found: 9,
            ..
        })
    ));
    assert!(matches!(
        fit_chart("t", &days, &obs, &short.band(), None, "y"),
        Err(ChartError::LengthMismatch { .. })
    ));
    let mut ragged = Owned::new("fit", wave(10, 1.0, 0.5, 0.0), 0.1);
    ragged.upper.pop();
    assert!(matches!(
        fit_chart("t", &days, &obs, &ragged.band(), None, "y"),
        Err(ChartError::LengthMismatch { .. })
    ));
    assert!(matches!(
        components_chart("t", &days, &[good.band(), short.band()], "y"),
        Err(ChartError::LengthMismatch { .. })
    ));
}

#[test]
fn empty_inputs_are_errors() {
    let empty = Owned::new("fit", vec![], 0.1);
    assert!(matches!(
        fit_chart("t", &[], &[], &empty.band(), None, "y"),
        Err(ChartError::Empty { .. })
    ));
    assert!(matches!(
        components_chart("t", &[], &[], "y"),
        Err(ChartError::Empty { .. })
    ));
    assert!(matches!(
        components_chart("t", &weekly_days(3), &[], "y"),
        Err(ChartError::Empty { .. })
    ));
    assert!(matches!(
        interval_chart("t", &[], "x"),
        Err(ChartError::Empty { .. })
    ));
}

#[test]
fn non_finite_values_are_errors() {
    let days = weekly_days(5);
    let fit = Owned::new("fit", vec![1.0; 5], 0.1);
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut obs = vec![1.0; 5];
        obs[3] = bad;
        assert!(matches!(
            fit_chart("t", &days, &obs, &fit.band(), None, "y"),
            Err(ChartError::NonFinite { index: 3, .. })
        ));
        let mut comp = Owned::new("c", vec![1.0; 5], 0.1);
        comp.mean[2] = bad;
        assert!(matches!(
            components_chart("t", &days, &[comp.band()], "y"),
            Err(ChartError::NonFinite { index: 2, .. })
        ));
        assert!(matches!(
            interval_chart("t", &[("a", 1.0, 0.5, 1.5), ("b", 1.0, bad, 1.5)], "x"),
            Err(ChartError::NonFinite { index: 1, .. })
        ));
    }
}

#[test]
fn unsorted_or_duplicate_days_are_errors() {
    let fit = Owned::new("fit", vec![1.0; 3], 0.1);
    for days in [[3, 2, 5], [1, 1, 2]] {
        assert!(matches!(
            fit_chart("t", &days, &[1.0; 3], &fit.band(), None, "y"),
            Err(ChartError::UnsortedDays { index: 1 })
        ));
    }
}

#[test]
fn values_too_wide_to_draw_are_an_error_not_a_panic() {
    let days = [0, 1];
    let fit = Owned::new("fit", vec![f64::MAX, -f64::MAX], 0.0);
    assert!(matches!(
        fit_chart("t", &days, &[0.0, 0.0], &fit.band(), None, "y"),
        Err(ChartError::Range)
    ));
}

// --- degenerate but valid inputs -------------------------------------------------------------

#[test]
fn constant_series_render() {
    let n = 20;
    let days = weekly_days(n);
    for level in [0.0, 7.0, -3.0, 1e9] {
        let fit = Owned::new("fit", vec![level; n], 0.0);
        let svg =
            fit_chart("flat", &days, &vec![level; n], &fit.band(), None, "y").expect("renders");
        assert_inline_svg(&svg);
        let svg = components_chart("flat", &days, &[fit.band()], "y").expect("renders");
        assert_inline_svg(&svg);
        let svg = interval_chart("flat", &[("a", level, level, level)], "x").expect("renders");
        assert_inline_svg(&svg);
    }
}

#[test]
fn single_point_and_short_spans_render() {
    let fit = Owned::new("fit", vec![3.0], 1.0);
    let svg = fit_chart("one", &[START], &[3.0], &fit.band(), Some(START), "y").expect("renders");
    assert_inline_svg(&svg);
    // Two weeks of daily data: day-level labels.
    let days: Vec<i32> = (0..14).map(|i| START + i).collect();
    let fit = Owned::new("fit", wave(14, 100.0, 10.0, 0.0), 5.0);
    let svg = fit_chart(
        "daily",
        &days,
        &wave(14, 100.0, 12.0, 0.0),
        &fit.band(),
        None,
        "",
    )
    .expect("renders");
    let t = texts(&svg);
    assert!(
        t.iter()
            .filter(|s| s.len() == 10 && s.starts_with("2023-01-"))
            .count()
            >= 3,
        "{t:?}"
    );
}

#[test]
fn long_daily_series_omit_dots_but_keep_lines() {
    let n = 3 * 365;
    let days: Vec<i32> = (0..n as i32).map(|i| START + i).collect();
    let fit = Owned::new("fit", wave(n, 100.0, 10.0, 0.0), 5.0);
    let svg = fit_chart(
        "daily",
        &days,
        &wave(n, 100.0, 12.0, 0.0),
        &fit.band(),
        None,
        "y",
    )
    .expect("renders");
    assert_eq!(count(&svg, "<circle"), 1, "only the legend swatch's dot");
    assert!(count(&svg, "<polyline") >= 2);
}

// --- helpers ---------------------------------------------------------------------------------

#[test]
fn civil_dates_round_trip() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(-1), (1969, 12, 31));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    assert_eq!(civil_from_days(START), (2023, 1, 2));
    for d in (-800_000..800_000).step_by(97) {
        let (y, m, day) = civil_from_days(d);
        assert_eq!(days_from_civil(i64::from(y), m, day), i64::from(d));
    }
    // Extremes do not panic.
    let _ = civil_from_days(i32::MIN);
    let _ = civil_from_days(i32::MAX);
}

#[test]
fn compact_numbers() {
    let cases = [
        (0.0, "0"),
        (1.0, "1"),
        (0.853, "0.853"),
        (12.0, "12"),
        (999.0, "999"),
        (1_500.0, "1.5k"),
        (12_345.0, "12.3k"),
        (-2_500.0, "-2.5k"),
        (999_950.0, "1M"),
        (1_200_000.0, "1.2M"),
        (3.4e9, "3.4B"),
        (2e12, "2T"),
    ];
    for (v, want) in cases {
        assert_eq!(format_compact(v), want, "{v}");
    }
    assert_eq!(format_compact(f64::NAN), "n/a");
}

#[test]
fn example_svgs_can_be_saved_and_read_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let charts = [
        ("fit.svg", example_fit()),
        ("components.svg", example_components(4)),
        ("roas.svg", example_interval(5)),
    ];
    for (name, svg) in &charts {
        let path = dir.path().join(name);
        std::fs::write(&path, svg).expect("write");
        assert_eq!(&std::fs::read_to_string(&path).expect("read"), svg);
    }
}

#[test]
fn long_titles_and_names_are_cut_visibly_but_kept_in_svg_title() {
    let title = "T".repeat(200);
    let long_name = "n".repeat(100);
    let svg = interval_chart(&title, &[(&long_name, 1.0, 0.5, 1.5)], "x").expect("renders");
    assert!(svg.contains(&format!("<title>{title}</title>")));
    let t = texts(&svg);
    assert!(t.iter().all(|s| s.chars().count() <= 84), "{t:?}");
    assert!(t.iter().any(|s| s.ends_with('…')), "{t:?}");
}

#[test]
fn extreme_day_numbers_do_not_panic() {
    let days = [i32::MIN, -1, 0, i32::MAX];
    let fit = Owned::new("fit", vec![1.0, 2.0, 3.0, 4.0], 0.5);
    let svg = fit_chart(
        "far",
        &days,
        &[1.0, 2.0, 3.0, 4.0],
        &fit.band(),
        Some(0),
        "y",
    )
    .expect("renders");
    assert_inline_svg(&svg);
    let svg = fit_chart(
        "far",
        &[i32::MAX],
        &[1.0],
        &Owned::new("f", vec![1.0], 0.0).band(),
        None,
        "y",
    )
    .expect("renders");
    assert_inline_svg(&svg);
}

// --- interval charts with options (per-geo ROAS) ---------------------------------------------

fn geo_items(k: usize) -> Vec<(String, f64, f64, f64)> {
    (0..k)
        .map(|j| {
            let m = 2.0 + (j as f64 * 0.7).sin();
            (format!("g{:02}", j + 1), m, m - 0.6, m + 0.9)
        })
        .collect()
}

fn geo_chart(k: usize, options: &IntervalOptions) -> String {
    let items = geo_items(k);
    let refs: Vec<(&str, f64, f64, f64)> = items
        .iter()
        .map(|(n, m, l, u)| (n.as_str(), *m, *l, *u))
        .collect();
    interval_chart_with("ROAS of tv per geo", &refs, "ROAS", options).expect("renders")
}

#[test]
fn interval_chart_with_default_options_is_interval_chart() {
    let items = geo_items(6);
    let refs: Vec<(&str, f64, f64, f64)> = items
        .iter()
        .map(|(n, m, l, u)| (n.as_str(), *m, *l, *u))
        .collect();
    assert_eq!(
        interval_chart_with("t", &refs, "ROAS", &IntervalOptions::default()).expect("renders"),
        interval_chart("t", &refs, "ROAS").expect("renders")
    );
}

#[test]
fn interval_chart_reference_line_has_a_legend_and_widens_the_axis() {
    let plain = geo_chart(5, &IntervalOptions::default());
    let svg = geo_chart(
        5,
        &IntervalOptions {
            reference: Some(("national ROAS, mean 9.00", 9.0)),
            compact: false,
            zoom: false,
        },
    );
    assert_inline_svg(&svg);
    let t = texts(&svg);
    assert!(t.iter().any(|s| s == "national ROAS, mean 9.00"), "{t:?}");
    // The axis reaches the reference value (far right of every item).
    assert!(t.iter().any(|s| s == "8"), "{t:?}");
    assert!(!texts(&plain).iter().any(|s| s == "8"));
    // The dashed line adds paths; the legend row adds height.
    assert!(shapes(&svg) > shapes(&plain));
    assert!(svg_height(&svg) > svg_height(&plain));
    assert!(matches!(
        interval_chart_with(
            "t",
            &[("a", 1.0, 0.5, 1.5)],
            "x",
            &IntervalOptions {
                reference: Some(("national", f64::NAN)),
                compact: false,
                zoom: false,
            },
        ),
        Err(ChartError::NonFinite { .. })
    ));
}

#[test]
fn compact_interval_chart_keeps_fifty_geos_readable() {
    let compact = geo_chart(
        50,
        &IntervalOptions {
            reference: Some(("national ROAS, mean 2.00", 2.0)),
            compact: true,
            zoom: false,
        },
    );
    let roomy = geo_chart(50, &IntervalOptions::default());
    assert_inline_svg(&compact);
    let t = texts(&compact);
    for j in 1..=50 {
        assert!(
            t.iter().any(|s| *s == format!("g{j:02}")),
            "g{j:02} in {t:?}"
        );
    }
    assert_eq!(count(&compact, "<circle"), 100);
    let (h, roomy_h) = (svg_height(&compact), svg_height(&roomy));
    assert!(h < roomy_h, "{h} vs {roomy_h}");
    // At least 20 px per row, and well under two screens.
    assert!((1000..1400).contains(&h), "{h}");
}
