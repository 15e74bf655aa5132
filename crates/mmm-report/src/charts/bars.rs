//! Bar charts: residual autocorrelation, the waterfall of totals and grouped bars per row.

use super::prelude::*;

/// Autocorrelation of the residuals at lags 1, 2, … (`acf[0]` is lag 1) of a series of `n`
/// observations, as bars, with the band ±1.96/√n in which about 95% of the bars of
/// uncorrelated residuals fall. Bars well outside the band at short lags mean the model misses
/// a slow-moving pattern (a trend, a season, carry-over), which makes its intervals too narrow.
pub fn acf_chart(title: &str, acf: &[f64], n: usize) -> Result<String, ChartError> {
    if acf.is_empty() || n == 0 {
        return Err(ChartError::Empty {
            what: "autocorrelations".to_owned(),
        });
    }
    check_series("autocorrelations", acf, acf.len())?;
    let band = 1.96 / (n as f64).sqrt();
    let (lo, hi) = min_max([acf, &[band, -band][..]]).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let x = ValueAxis::integers(0.5, acf.len() as f64 + 0.5, acf.len().min(12));
    let y = ValueAxis::new(lo, hi, 6);
    let legend = [
        LegendItem::new("autocorrelation at the lag", Swatch::Block(BLUE_OI)),
        LegendItem::new(
            "±1.96/√n: 95% band of uncorrelated residuals",
            Swatch::Block(tint(SKY_OI, 0.3)),
        ),
    ];
    let (header, height) = chart_height(&legend);
    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, &legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = xy_chart(
            &body,
            &x,
            &y,
            ("lag (periods)", "autocorrelation"),
            LABEL_SIZE,
        )?;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x.lo, band), (x.hi, -band)],
            tint(SKY_OI, 0.3).filled(),
        )))?;
        hline(&mut chart, 0.0, AXIS.stroke_width(1), false)?;
        chart.draw_series(acf.iter().enumerate().map(|(i, &v)| {
            let lag = i as f64 + 1.0;
            Rectangle::new(
                [(lag - 0.3, v.max(0.0)), (lag + 0.3, v.min(0.0))],
                BLUE_OI.filled(),
            )
        }))?;
        Ok(())
    })
}

/// Colour of a waterfall step: increases green, decreases vermillion.
fn step_colour(v: f64) -> RGBColor {
    if v >= 0.0 { PALETTE[2] } else { VERMILLION_OI }
}

/// A signed compact label: `+278k`, `−7.13k`.
fn signed(v: f64) -> String {
    let s = format_compact(v.abs());
    if v < 0.0 {
        format!("−{s}")
    } else {
        format!("+{s}")
    }
}

/// How component totals add up to a total: one row per step `(name, value)`, each a bar that
/// starts where the previous one ended (green when it adds, vermillion when it subtracts),
/// then a grey `total` bar from zero to the sum. Read it top to bottom.
pub fn waterfall_chart(
    title: &str,
    steps: &[(&str, f64)],
    total: &str,
    x_label: &str,
) -> Result<String, ChartError> {
    if steps.is_empty() {
        return Err(ChartError::Empty {
            what: "steps".to_owned(),
        });
    }
    for (i, &(name, v)) in steps.iter().enumerate() {
        check_finite(name, i, v)?;
    }
    let mut ends = vec![0.0];
    for &(_, v) in steps {
        ends.push(ends[ends.len() - 1] + v);
    }
    let sum = ends[ends.len() - 1];
    let (lo, hi) = min_max([ends.as_slice()]).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let mut names: Vec<String> = steps.iter().map(|&(n, _)| n.to_owned()).collect();
    names.push(total.to_owned());
    let mut values: Vec<String> = steps.iter().map(|&(_, v)| signed(v)).collect();
    values.push(format_compact(sum));
    let rows = Rows {
        title,
        legend: vec![
            LegendItem::new("adds", Swatch::Block(PALETTE[2])),
            LegendItem::new("subtracts", Swatch::Block(VERMILLION_OI)),
            LegendItem::new(total, Swatch::Block(MUTED)),
        ],
        names,
        values,
        x_axis: ValueAxis::new(lo, hi, 8),
        x_label,
        compact: steps.len() > 16,
        pitch: None,
    };
    render_rows(rows, |chart, half| {
        let half = 2.0 * half;
        chart.draw_series(steps.iter().enumerate().map(|(i, &(_, v))| {
            let y = i as f64;
            Rectangle::new(
                [(ends[i], y - half), (ends[i + 1], y + half)],
                step_colour(v).filled(),
            )
        }))?;
        let y = steps.len() as f64;
        chart.draw_series(std::iter::once(Rectangle::new(
            [(0.0, y - half), (sum, y + half)],
            MUTED.filled(),
        )))?;
        // Thin connectors from each bar's end to the next bar.
        chart.draw_series((1..=steps.len()).map(|i| {
            let y = i as f64;
            PathElement::new(
                vec![(ends[i], y - 1.0 + half), (ends[i], y - half)],
                AXIS.stroke_width(1),
            )
        }))?;
        if lo < 0.0 {
            vline(chart, 0.0, AXIS.stroke_width(1), false)?;
        }
        Ok(())
    })
}

/// One series of a [`grouped_bar_chart`]: a value per row, optionally with an interval.
#[derive(Debug, Clone, Copy)]
pub struct BarSeries<'a> {
    /// Legend name.
    pub name: &'a str,
    /// One value per row.
    pub values: &'a [f64],
    /// Lower and upper end per row, drawn as a whisker.
    pub interval: Option<(&'a [f64], &'a [f64])>,
}

/// How a [`grouped_bar_chart`] writes its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueStyle {
    /// Percentages (the values are already × 100): `62.5%`.
    Percent,
    /// Plain numbers, compact: `1.2k`.
    Number,
}

impl ValueStyle {
    fn label(self, v: f64) -> String {
        match self {
            Self::Percent => format!("{}%", format_compact(v)),
            Self::Number => format_compact(v),
        }
    }
}

/// Validates the series of a grouped bar chart against `rows` rows.
fn check_bars(rows: usize, series: &[BarSeries]) -> Result<(), ChartError> {
    if rows == 0 || series.is_empty() {
        return Err(ChartError::Empty {
            what: if rows == 0 { "rows" } else { "series" }.to_owned(),
        });
    }
    for s in series {
        check_series(s.name, s.values, rows)?;
        if let Some((l, u)) = s.interval {
            check_series(&format!("{} lower", s.name), l, rows)?;
            check_series(&format!("{} upper", s.name), u, rows)?;
        }
    }
    Ok(())
}

/// Two or more values per row side by side as horizontal bars from zero, one colour per series
/// (in legend order, top to bottom within a row), with whiskers where a series has intervals.
/// The label right of each row lists the series' values in legend order, separated by ` | `.
/// Used for spend share against effect share, the current against the optimized plan and an
/// earlier run against this one.
pub fn grouped_bar_chart(
    title: &str,
    rows: &[&str],
    series: &[BarSeries],
    x_label: &str,
    style: ValueStyle,
) -> Result<String, ChartError> {
    check_bars(rows.len(), series)?;
    let mut all: Vec<&[f64]> = series.iter().map(|s| s.values).collect();
    for (l, u) in series.iter().filter_map(|s| s.interval) {
        all.extend([l, u]);
    }
    let (lo, hi) = min_max(all).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let values = (0..rows.len())
        .map(|i| {
            let parts: Vec<String> = series.iter().map(|s| style.label(s.values[i])).collect();
            parts.join(" | ")
        })
        .collect();
    let spec = Rows {
        title,
        legend: series
            .iter()
            .enumerate()
            .map(|(k, s)| LegendItem::name(s.name, Swatch::Block(series_colour(k))))
            .collect(),
        names: rows.iter().map(|r| (*r).to_owned()).collect(),
        values,
        x_axis: ValueAxis::new(lo, hi, 8),
        x_label,
        compact: rows.len() > 16,
        pitch: Some((14 + 20 * series.len() as i32, 0.2)),
    };
    let k = series.len() as f64;
    render_rows(spec, |chart, half| {
        let slot = 4.0 * half / k;
        for (j, s) in series.iter().enumerate() {
            let top = |i: usize| i as f64 - 2.0 * half + j as f64 * slot;
            chart.draw_series(s.values.iter().enumerate().map(|(i, &v)| {
                Rectangle::new(
                    [(0.0, top(i) + 0.1 * slot), (v, top(i) + 0.9 * slot)],
                    series_colour(j).filled(),
                )
            }))?;
            if let Some((l, u)) = s.interval {
                chart.draw_series((0..rows.len()).map(|i| {
                    let y = top(i) + 0.5 * slot;
                    PathElement::new(vec![(l[i], y), (u[i], y)], INK.stroke_width(2))
                }))?;
            }
        }
        if lo < 0.0 {
            vline(chart, 0.0, AXIS.stroke_width(1), false)?;
        }
        Ok(())
    })
}

/// Colour of series `k` of a grouped bar chart: grey first (the reference: spend, the current
/// plan, the earlier run), then the palette.
fn series_colour(k: usize) -> RGBColor {
    if k == 0 {
        RGBColor(0xA0, 0xA0, 0xA0)
    } else {
        PALETTE[(k - 1) % (PALETTE.len() - 1)]
    }
}
