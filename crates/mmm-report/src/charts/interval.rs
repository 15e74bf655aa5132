//! Horizontal interval (forest) charts: a mean and an interval per row.

use super::prelude::*;

/// Horizontal interval chart: for each item a point at mean and a bar from lower to upper (for
/// ROAS per channel), with value labels.
///
/// `items` are `(name, mean, lower, upper)`, drawn top to bottom in the given order; there must be
/// at least one and all numbers must be finite (bounds given in either order are accepted). The
/// value axis always includes zero. Each row is labelled on the right with
/// `mean [lower, upper]`: with a shared number of decimals when all magnitudes are below 1000
/// (`1.37 [0.80, 2.10]`), in compact form otherwise (`12k [9k, 15k]`). The chart height grows
/// with the number of items.
pub fn interval_chart(
    title: &str,
    items: &[(&str, f64, f64, f64)],
    x_label: &str,
) -> Result<String, ChartError> {
    interval_chart_with(title, items, x_label, &IntervalOptions::default())
}

/// Extras of [`interval_chart_with`]; the default draws exactly what [`interval_chart`] draws.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntervalOptions<'a> {
    /// A dashed vertical line at a reference value (e.g. the national figure behind per-geo
    /// rows), with its legend label. It must be finite; the value axis is widened to include it.
    pub reference: Option<(&'a str, f64)>,
    /// Denser rows with smaller text, for long lists (dozens of geos).
    pub compact: bool,
    /// Fit the value axis to the intervals instead of stretching it to zero (for outcomes far
    /// from zero, whose differences would otherwise be invisible).
    pub zoom: bool,
}

/// Every number of every item (and the reference) must be finite.
fn check_items(
    items: &[(&str, f64, f64, f64)],
    reference: Option<(&str, f64)>,
) -> Result<(), ChartError> {
    if items.is_empty() {
        return Err(ChartError::Empty {
            what: "items".to_owned(),
        });
    }
    for (i, &(name, mean, lower, upper)) in items.iter().enumerate() {
        for (part, v) in [("mean", mean), ("lower", lower), ("upper", upper)] {
            check_finite(&format!("{name}.{part}"), i, v)?;
        }
    }
    match reference {
        Some((label, v)) => check_finite(&format!("reference {label}"), 0, v),
        None => Ok(()),
    }
}

/// `mean [lower, upper]` of every item, with one precision for the whole column.
fn interval_labels(items: &[(&str, f64, f64, f64)]) -> Vec<String> {
    let max_abs = items
        .iter()
        .flat_map(|&(_, m, l, u)| [m, l, u])
        .fold(0.0f64, |acc, v| acc.max(v.abs()));
    let fmt = column_formatter(max_abs);
    items
        .iter()
        .map(|&(_, m, l, u)| format!("{} [{}, {}]", fmt(m), fmt(l.min(u)), fmt(l.max(u))))
        .collect()
}

/// [`interval_chart`] with a reference line and/or a compact layout (see [`IntervalOptions`]).
pub fn interval_chart_with(
    title: &str,
    items: &[(&str, f64, f64, f64)],
    x_label: &str,
    options: &IntervalOptions,
) -> Result<String, ChartError> {
    check_items(items, options.reference)?;
    let values: Vec<f64> = items.iter().flat_map(|&(_, m, l, u)| [m, l, u]).collect();
    let reference: Vec<f64> = options.reference.iter().map(|&(_, v)| v).collect();
    let (lo, hi) = min_max([values.as_slice(), reference.as_slice()]).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, !options.zoom)?;
    let rows = Rows {
        title,
        legend: options
            .reference
            .iter()
            .map(|&(label, _)| LegendItem::new(label, Swatch::Marker(VERMILLION_OI)))
            .collect(),
        names: items.iter().map(|&(name, ..)| name.to_owned()).collect(),
        values: interval_labels(items),
        x_axis: ValueAxis::new(lo, hi, 8),
        x_label,
        compact: options.compact,
        pitch: None,
    };
    let radius = if options.compact { 4 } else { 5 };
    render_rows(rows, |chart, half| {
        if lo < 0.0 {
            vline(chart, 0.0, AXIS.stroke_width(1), false)?;
        }
        chart.draw_series(items.iter().enumerate().map(|(i, &(_, _, l, u))| {
            let y = i as f64;
            Rectangle::new(
                [(l.min(u), y - half), (l.max(u), y + half)],
                BLUE_OI.mix(0.45).filled(),
            )
        }))?;
        if let Some((_, v)) = options.reference {
            vline(chart, v, VERMILLION_OI.stroke_width(2), true)?;
        }
        draw_means(chart, items.iter().map(|&(_, m, ..)| m), radius)
    })
}

/// A blue dot with a dark outline at each row's mean.
fn draw_means(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<ValueAxis, CategoryAxis>>,
    means: impl Iterator<Item = f64> + Clone,
    radius: i32,
) -> Result<(), ChartError> {
    chart.draw_series(
        means
            .clone()
            .enumerate()
            .map(|(i, m)| Circle::new((m, i as f64), radius, BLUE_OI.filled())),
    )?;
    chart.draw_series(
        means
            .enumerate()
            .map(|(i, m)| Circle::new((m, i as f64), radius, INK.stroke_width(1))),
    )?;
    Ok(())
}

/// One parameter's prior and posterior moments, as diagnose/diagnostics.json's
/// `prior_posterior` holds them (model scale).
#[derive(Debug, Clone, Copy)]
pub struct PriorPosterior<'a> {
    /// Parameter name.
    pub name: &'a str,
    /// Mean of the prior.
    pub prior_mean: f64,
    /// Standard deviation of the prior (positive).
    pub prior_sd: f64,
    /// Posterior mean.
    pub posterior_mean: f64,
    /// Posterior standard deviation.
    pub posterior_sd: f64,
}

impl PriorPosterior<'_> {
    /// The posterior mean in prior sds from the prior mean, and the posterior sd in prior sds.
    fn standardized(&self) -> (f64, f64) {
        (
            (self.posterior_mean - self.prior_mean) / self.prior_sd,
            self.posterior_sd / self.prior_sd,
        )
    }
}

/// Every parameter's posterior against its prior on one standardized axis: the value minus the
/// prior mean, in prior standard deviations. The grey bar is the prior's mean ± 2 sd (always
/// −2 to 2), the blue bar and dot the posterior's mean ± 2 sd. A short blue bar means the data
/// narrowed the parameter (contraction near 100%); a blue dot far from 0 means the data moved it
/// (shift); a blue bar as wide as the grey one means the prior decided the value. Each row is
/// labelled with its shift and contraction. Prior sds must be positive and every value finite.
pub fn prior_posterior_chart(title: &str, rows: &[PriorPosterior]) -> Result<String, ChartError> {
    if rows.is_empty() {
        return Err(ChartError::Empty {
            what: "parameters".to_owned(),
        });
    }
    let mut ends = vec![-2.0, 2.0];
    for (i, r) in rows.iter().enumerate() {
        let values = [r.prior_mean, r.prior_sd, r.posterior_mean, r.posterior_sd];
        for v in values {
            check_finite(r.name, i, v)?;
        }
        if r.prior_sd <= 0.0 {
            return Err(ChartError::Range);
        }
        let (z, s) = r.standardized();
        check_finite(r.name, i, z)?;
        ends.extend([z - 2.0 * s, z + 2.0 * s]);
    }
    let (lo, hi) = min_max([ends.as_slice()]).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let values = rows
        .iter()
        .map(|r| {
            let (z, s) = r.standardized();
            let contraction = 100.0 * (1.0 - s * s);
            format!(
                "shift {}, contraction {}%",
                format_compact(z.abs()),
                contraction_label(contraction)
            )
        })
        .collect();
    let spec = Rows {
        title,
        legend: vec![
            LegendItem::new("prior: mean ± 2 sd", Swatch::Block(tint(MUTED, 0.3))),
            LegendItem::new("posterior: mean ± 2 sd", Swatch::LineBand(BLUE_OI, false)),
        ],
        names: rows.iter().map(|r| r.name.to_owned()).collect(),
        values,
        x_axis: ValueAxis::new(lo, hi, 8),
        x_label: "value − prior mean, in prior standard deviations",
        compact: rows.len() > 16,
        pitch: None,
    };
    render_rows(spec, |chart, half| {
        chart.draw_series((0..rows.len()).map(|i| {
            let y = i as f64;
            Rectangle::new(
                [(-2.0, y - 2.0 * half), (2.0, y + 2.0 * half)],
                tint(MUTED, 0.3).filled(),
            )
        }))?;
        vline(chart, 0.0, AXIS.stroke_width(1), true)?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let (z, s) = r.standardized();
            let y = i as f64;
            Rectangle::new(
                [(z - 2.0 * s, y - half / 2.0), (z + 2.0 * s, y + half / 2.0)],
                BLUE_OI.filled(),
            )
        }))?;
        draw_means(chart, rows.iter().map(|r| r.standardized().0), 4)
    })
}

/// A contraction in percent for a label: one decimal, `>99.9` when it rounds to 100.
fn contraction_label(pct: f64) -> String {
    if pct >= 99.95 {
        ">99.9".to_owned()
    } else {
        format!("{pct:.1}")
    }
}
