//! Charts over dated periods: fit, residuals, the stacked decomposition and Pareto k.

use super::prelude::*;

/// The axes of a dated chart.
struct TimeFrame {
    x: DayAxis,
    y: ValueAxis,
}

impl TimeFrame {
    /// Axes over `days` and the value range `lo..hi` (padded; stretched to zero when asked).
    fn new(days: &[i32], lo: f64, hi: f64, include_zero: bool) -> Result<Self, ChartError> {
        let (lo, hi) = padded_range(lo, hi, include_zero)?;
        Ok(Self {
            x: DayAxis::new(days[0], days[days.len() - 1]),
            y: ValueAxis::new(lo, hi, 6),
        })
    }
}

type TimeContext<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<DayAxis, ValueAxis>>;

/// Renders a dated chart: header with `legend`, the frame, then `draw` on the plot.
fn render_time(
    title: &str,
    legend: &[LegendItem],
    frame: &TimeFrame,
    y_label: &str,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>, &mut TimeContext) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let (header, height) = chart_height(legend);
    let y_area = y_label_area(&frame.y, y_label);
    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = time_chart(&body, &frame.x, &frame.y, y_area, y_label)?;
        draw(root, &mut chart)
    })
}

/// A line through `(days, values)`.
fn line(
    chart: &mut TimeContext,
    days: &[i32],
    values: &[f64],
    style: ShapeStyle,
) -> Result<(), ChartError> {
    chart.draw_series(LineSeries::new(
        days.iter().copied().zip(values.iter().copied()),
        style,
    ))?;
    Ok(())
}

/// A filled band between `lower` and `upper`.
fn band(
    chart: &mut TimeContext,
    days: &[i32],
    lower: &[f64],
    upper: &[f64],
    style: ShapeStyle,
) -> Result<(), ChartError> {
    chart.draw_series(std::iter::once(Polygon::new(
        band_outline(days, lower, upper),
        style,
    )))?;
    Ok(())
}

/// A horizontal line at `y` over the whole time range.
fn level(
    chart: &mut TimeContext,
    x: &DayAxis,
    y: f64,
    style: ShapeStyle,
) -> Result<(), ChartError> {
    chart.draw_series(std::iter::once(DashedPathElement::new(
        vec![(x.lo, y), (x.hi, y)],
        6,
        4,
        style,
    )))?;
    Ok(())
}

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
    let frame = TimeFrame::new(days, lo, hi, false)?;
    let holdout = holdout_start.filter(|&h| h >= frame.x.lo && h <= frame.x.hi);
    let mut legend = vec![
        LegendItem::new("observed", Swatch::Points(INK)),
        LegendItem::name(fit.name, Swatch::LineBand(BLUE_OI, false)),
    ];
    if holdout.is_some() {
        legend.push(LegendItem::new(
            "holdout start",
            Swatch::Marker(VERMILLION_OI),
        ));
    }
    render_time(title, &legend, &frame, y_label, |root, chart| {
        if let Some(h) = holdout {
            chart.draw_series(std::iter::once(Rectangle::new(
                [(h, frame.y.hi), (frame.x.hi, frame.y.lo)],
                RGBColor(0x80, 0x80, 0x80).mix(0.08).filled(),
            )))?;
        }
        band(chart, days, fit.lower, fit.upper, SKY_OI.mix(0.35).filled())?;
        line(chart, days, observed, MUTED.stroke_width(1))?;
        line(chart, days, fit.mean, BLUE_OI.stroke_width(2))?;
        if n <= MAX_DOTS {
            chart.draw_series(
                days.iter()
                    .zip(observed)
                    .map(|(&d, &v)| Circle::new((d, v), 2, INK.filled())),
            )?;
        }
        match holdout {
            Some(h) => draw_holdout_marker(root, chart, &frame, h),
            None => Ok(()),
        }
    })
}

/// The dashed line where the holdout starts, labelled `holdout` on the side with room.
fn draw_holdout_marker(
    root: &DrawingArea<SVGBackend, Shift>,
    chart: &mut TimeContext,
    frame: &TimeFrame,
    h: i32,
) -> Result<(), ChartError> {
    let (lo, hi) = (frame.y.lo, frame.y.hi);
    chart.draw_series(std::iter::once(DashedPathElement::new(
        vec![(h, lo), (h, hi)],
        6,
        4,
        VERMILLION_OI.stroke_width(2),
    )))?;
    let (px, py) = chart.backend_coord(&(h, hi));
    let label = "holdout";
    let right_room = chart.backend_coord(&(frame.x.hi, hi)).0 - px;
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
    ))?;
    Ok(())
}

/// Residuals (observed minus predicted mean) over time inside the predictive interval centred
/// on zero, `interval = (legend name, lower − mean, upper − mean)`; residuals outside it are
/// drawn larger and in vermillion. A good fit leaves no pattern over time and about the nominal
/// share of periods outside the band.
pub fn residual_chart(
    title: &str,
    days: &[i32],
    residuals: &[f64],
    interval: (&str, &[f64], &[f64]),
    y_label: &str,
) -> Result<String, ChartError> {
    check_days(days)?;
    let n = days.len();
    let (name, lower, upper) = interval;
    check_series("residuals", residuals, n)?;
    check_series("interval lower", lower, n)?;
    check_series("interval upper", upper, n)?;
    let (lo, hi) = min_max([residuals, lower, upper]).ok_or(ChartError::Range)?;
    let frame = TimeFrame::new(days, lo, hi, true)?;
    let legend = [
        LegendItem::new("residual", Swatch::Points(INK)),
        LegendItem::new(name, Swatch::Block(tint(SKY_OI, 0.35))),
        LegendItem::new("outside the interval", Swatch::Dot(VERMILLION_OI)),
    ];
    let outside = |i: usize| residuals[i] < lower[i] || residuals[i] > upper[i];
    render_time(title, &legend, &frame, y_label, |_, chart| {
        band(chart, days, lower, upper, SKY_OI.mix(0.35).filled())?;
        level(chart, &frame.x, 0.0, AXIS.stroke_width(1))?;
        line(chart, days, residuals, MUTED.stroke_width(1))?;
        chart.draw_series((0..n).map(|i| {
            let (r, c) = if outside(i) {
                (4, VERMILLION_OI)
            } else {
                (2, INK)
            };
            Circle::new((days[i], residuals[i]), r, c.filled())
        }))?;
        Ok(())
    })
}

/// Whether a layer of [`stacked_area_chart`] is part of the baseline or a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerKind {
    /// A part of the baseline (intercept, a control, seasonality, trend, …): a muted tint.
    Baseline,
    /// A channel (or the interaction of a non-additive model): an Okabe–Ito colour.
    Media,
}

/// One stacked layer: its name, its value per day and its kind.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// Legend name.
    pub name: &'a str,
    /// Posterior mean per day.
    pub values: &'a [f64],
    /// Baseline part or channel.
    pub kind: LayerKind,
}

/// Muted tints for baseline parts, in order.
const BASE_TINTS: [RGBColor; 6] = [
    RGBColor(0xC8, 0xC8, 0xC8),
    RGBColor(0xE3, 0xD7, 0xB8),
    RGBColor(0xA9, 0xB7, 0xC6),
    RGBColor(0xD9, 0xC2, 0xCF),
    RGBColor(0xB8, 0xCC, 0xB0),
    RGBColor(0x9E, 0x9E, 0x9E),
];

/// Each layer's colour: baseline parts take tints, channels the palette, each in order.
fn layer_colours(layers: &[Layer]) -> Vec<RGBColor> {
    let (mut b, mut m) = (0, 0);
    layers
        .iter()
        .map(|l| match l.kind {
            LayerKind::Baseline => {
                b += 1;
                BASE_TINTS[(b - 1) % BASE_TINTS.len()]
            }
            LayerKind::Media => {
                m += 1;
                PALETTE[(m - 1) % (PALETTE.len() - 1)]
            }
        })
        .collect()
}

/// The lower and upper edge of every layer: per day, positive values stack up from zero and
/// negative values stack down from it, in layer order.
fn stack(layers: &[Layer], n: usize) -> Vec<(Vec<f64>, Vec<f64>)> {
    let (mut up, mut down) = (vec![0.0; n], vec![0.0; n]);
    layers
        .iter()
        .map(|l| {
            let (mut lower, mut upper) = (vec![0.0; n], vec![0.0; n]);
            for t in 0..n {
                let v = l.values[t];
                let acc = if v >= 0.0 { &mut up[t] } else { &mut down[t] };
                (lower[t], upper[t]) = if v >= 0.0 {
                    (*acc, *acc + v)
                } else {
                    (*acc + v, *acc)
                };
                *acc += v;
            }
            (lower, upper)
        })
        .collect()
}

/// The prediction decomposed into stacked areas over time: baseline parts (muted tints) at the
/// bottom, channels (Okabe–Ito colours) on top, negative parts stacked below zero; the layers
/// of a week add up to the predicted mean. `observed`, when given, is drawn as a black line
/// with dots over the stack, so the gap between the stack's top and the line is the residual.
pub fn stacked_area_chart(
    title: &str,
    days: &[i32],
    layers: &[Layer],
    observed: Option<&[f64]>,
    y_label: &str,
) -> Result<String, ChartError> {
    check_days(days)?;
    if layers.is_empty() {
        return Err(ChartError::Empty {
            what: "layers".to_owned(),
        });
    }
    let n = days.len();
    for l in layers {
        check_series(l.name, l.values, n)?;
    }
    if let Some(o) = observed {
        check_series("observed", o, n)?;
    }
    let edges = stack(layers, n);
    let flat: Vec<&[f64]> = edges
        .iter()
        .flat_map(|(l, u)| [l.as_slice(), u.as_slice()])
        .chain(observed)
        .collect();
    let (lo, hi) = min_max(flat).ok_or(ChartError::Range)?;
    let frame = TimeFrame::new(days, lo, hi, true)?;
    let colours = layer_colours(layers);
    let mut legend: Vec<LegendItem> = layers
        .iter()
        .zip(&colours)
        .map(|(l, &c)| LegendItem::name(l.name, Swatch::Block(c)))
        .collect();
    if observed.is_some() {
        legend.push(LegendItem::new("observed", Swatch::Points(INK)));
    }
    render_time(title, &legend, &frame, y_label, |_, chart| {
        for ((lower, upper), c) in edges.iter().zip(&colours) {
            band(chart, days, lower, upper, c.mix(0.9).filled())?;
        }
        level(chart, &frame.x, 0.0, AXIS.stroke_width(1))?;
        if let Some(o) = observed {
            line(chart, days, o, INK.stroke_width(1))?;
            if n <= MAX_DOTS {
                chart.draw_series(
                    days.iter()
                        .zip(o)
                        .map(|(&d, &v)| Circle::new((d, v), 2, INK.filled())),
                )?;
            }
        }
        Ok(())
    })
}

/// PSIS-LOO Pareto k per observation over time, with a dashed line at `threshold` (0.7):
/// observations above it (vermillion) have an unreliable leave-one-out estimate, usually
/// because the model fits them badly or they sway the posterior on their own.
pub fn pareto_k_chart(
    title: &str,
    days: &[i32],
    k: &[f64],
    threshold: f64,
) -> Result<String, ChartError> {
    check_days(days)?;
    check_series("pareto k", k, days.len())?;
    check_series("threshold", &[threshold], 1)?;
    let (lo, hi) = min_max([k, &[threshold, 0.0][..]]).ok_or(ChartError::Range)?;
    let frame = TimeFrame::new(days, lo, hi, true)?;
    let label = format!(
        "k = {}: above, the period's estimate is unreliable",
        format_compact(threshold)
    );
    let legend = [
        LegendItem::new("Pareto k of a period", Swatch::Dot(INK)),
        LegendItem::new(&label, Swatch::Marker(VERMILLION_OI)),
    ];
    render_time(title, &legend, &frame, "Pareto k", |_, chart| {
        level(chart, &frame.x, threshold, VERMILLION_OI.stroke_width(2))?;
        chart.draw_series(days.iter().zip(k).map(|(&d, &v)| {
            let (r, c) = if v > threshold {
                (5, VERMILLION_OI)
            } else {
                (3, INK)
            };
            Circle::new((d, v), r, c.filled())
        }))?;
        Ok(())
    })
}
