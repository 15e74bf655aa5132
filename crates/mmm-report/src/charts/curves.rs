//! Response curves and adstock decay per channel.

use super::prelude::*;

/// One channel's response curve: response (mean) against spend, with its 50% and wider bands
/// and the spends marked on it.
#[derive(Debug, Clone, Copy)]
pub struct Curve<'a> {
    /// Channel name.
    pub name: &'a str,
    /// Spend at each grid point (increasing).
    pub spend: &'a [f64],
    /// Posterior mean response.
    pub mean: &'a [f64],
    /// 50% interval.
    pub inner: (&'a [f64], &'a [f64]),
    /// Wide interval (decisions.interval).
    pub outer: (&'a [f64], &'a [f64]),
    /// Current spend, marked with a dot on the mean curve.
    pub current: f64,
    /// The optimizer's recommended spend on the same scale, marked with a square.
    pub recommended: Option<f64>,
    /// Where the curve saturates (see the report for the definition), a dashed grey line.
    pub saturation: Option<f64>,
    /// Where marginal ROI falls to the hurdle, a dashed vermillion line.
    pub hurdle: Option<f64>,
}

impl Curve<'_> {
    /// Every series must match `spend` in length and hold finite values; marks must be finite.
    fn check(&self) -> Result<(), ChartError> {
        let n = self.spend.len();
        if n < 2 {
            return Err(ChartError::Empty {
                what: format!("curve {}", self.name),
            });
        }
        for (what, s) in [
            ("spend", self.spend),
            ("mean", self.mean),
            ("inner lower", self.inner.0),
            ("inner upper", self.inner.1),
            ("outer lower", self.outer.0),
            ("outer upper", self.outer.1),
        ] {
            check_series(&format!("{} {what}", self.name), s, n)?;
        }
        let marks = [
            Some(self.current),
            self.recommended,
            self.saturation,
            self.hurdle,
        ];
        for (i, v) in marks.into_iter().flatten().enumerate() {
            check_finite(&format!("{} marks", self.name), i, v)?;
        }
        Ok(())
    }

    /// The mean response at spend `x`, interpolated on the grid (`None` outside it).
    fn at(&self, x: f64) -> Option<f64> {
        let (first, last) = (self.spend[0], self.spend[self.spend.len() - 1]);
        if x < first || x > last {
            return None;
        }
        let k = self
            .spend
            .partition_point(|s| *s < x)
            .clamp(1, self.spend.len() - 1);
        let (x0, x1) = (self.spend[k - 1], self.spend[k]);
        let t = if x1 > x0 { (x - x0) / (x1 - x0) } else { 0.0 };
        Some(self.mean[k - 1] + t * (self.mean[k] - self.mean[k - 1]))
    }
}

/// Height of one response-curve panel.
const PANEL_H: i32 = 300;

/// The shared legend of the response panels: only the marks some curve has.
fn response_legend(curves: &[Curve]) -> Vec<LegendItem> {
    let mut legend = vec![
        LegendItem::new(
            "mean response, 50% and wide interval",
            Swatch::LineBand(BLUE_OI, false),
        ),
        LegendItem::new("current spend", Swatch::Dot(INK)),
    ];
    if curves.iter().any(|c| c.recommended.is_some()) {
        legend.push(LegendItem::new(
            "recommended spend",
            Swatch::Square(VERMILLION_OI),
        ));
    }
    if curves.iter().any(|c| c.saturation.is_some()) {
        legend.push(LegendItem::new("saturation point", Swatch::Marker(MUTED)));
    }
    if curves.iter().any(|c| c.hurdle.is_some()) {
        legend.push(LegendItem::new(
            "marginal ROI = hurdle",
            Swatch::Marker(PALETTE[4]),
        ));
    }
    legend
}

/// Response curves as small multiples, one panel per channel with its own axes (two columns):
/// mean line, 50% band (darker) and wide band (lighter); a dot at the current spend, a square at
/// the recommended spend, dashed lines at the saturation point and where marginal ROI falls to
/// the hurdle. All inputs must be finite and of equal length per curve.
pub fn response_chart(
    title: &str,
    curves: &[Curve],
    labels: (&str, &str),
) -> Result<String, ChartError> {
    if curves.is_empty() {
        return Err(ChartError::Empty {
            what: "curves".to_owned(),
        });
    }
    for c in curves {
        c.check()?;
    }
    let legend = response_legend(curves);
    let cols = if curves.len() > 1 { 2 } else { 1 };
    let rows = curves.len().div_ceil(cols);
    let header = header_height(&legend, WIDTH as i32);
    let height = header + PANEL_H * rows as i32;
    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, &legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let panels = body.split_evenly((rows, cols));
        for (i, (c, panel)) in curves.iter().zip(&panels).enumerate() {
            draw_response_panel(panel, c, PALETTE[i % (PALETTE.len() - 1)], labels)?;
        }
        Ok(())
    })
}

/// One channel's panel of [`response_chart`].
fn draw_response_panel(
    panel: &DrawingArea<SVGBackend, Shift>,
    c: &Curve,
    colour: RGBColor,
    labels: (&str, &str),
) -> Result<(), ChartError> {
    panel.draw(&Text::new(
        truncate_name(c.name, MAX_NAME_CHARS),
        (PAD, 6),
        font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    let (_, plot) = panel.split_vertically(26);
    let (xlo, xhi) = min_max([c.spend]).ok_or(ChartError::Range)?;
    let (ylo, yhi) = min_max([c.outer.0, c.outer.1, c.mean]).ok_or(ChartError::Range)?;
    let (xlo, xhi) = padded_range(xlo, xhi, true)?;
    let (ylo, yhi) = padded_range(ylo, yhi, true)?;
    let x = ValueAxis::new(xlo, xhi, 5);
    let y = ValueAxis::new(ylo, yhi, 5);
    let mut chart = xy_chart(&plot, &x, &y, labels, 14.0)?;
    for ((lo, hi), alpha) in [(c.outer, 0.12), (c.inner, 0.25)] {
        chart.draw_series(std::iter::once(Polygon::new(
            band_outline(c.spend, lo, hi),
            colour.mix(alpha).filled(),
        )))?;
    }
    chart.draw_series(LineSeries::new(
        c.spend.iter().copied().zip(c.mean.iter().copied()),
        colour.stroke_width(2),
    ))?;
    for (mark, style) in [(c.saturation, MUTED), (c.hurdle, PALETTE[4])] {
        if let Some(s) = mark.filter(|s| *s >= xlo && *s <= xhi) {
            chart.draw_series(std::iter::once(DashedPathElement::new(
                vec![(s, ylo), (s, yhi)],
                6,
                4,
                style.stroke_width(2),
            )))?;
        }
    }
    if let Some(v) = c.at(c.current) {
        chart.draw_series(std::iter::once(Circle::new(
            (c.current, v),
            6,
            INK.filled(),
        )))?;
    }
    if let Some((r, v)) = c.recommended.and_then(|r| c.at(r).map(|v| (r, v))) {
        chart.draw_series(std::iter::once(
            EmptyElement::at((r, v)) + Rectangle::new([(-5, -5), (5, 5)], VERMILLION_OI.filled()),
        ))?;
    }
    Ok(())
}

/// One channel's adstock weights by weeks since spend: posterior mean and an interval per lag.
#[derive(Debug, Clone, Copy)]
pub struct Decay<'a> {
    /// Channel name.
    pub name: &'a str,
    /// Mean weight at lag 0, 1, … (weeks since the spend).
    pub mean: &'a [f64],
    /// Lower end of the interval per lag.
    pub lower: &'a [f64],
    /// Upper end of the interval per lag.
    pub upper: &'a [f64],
}

/// Adstock decay of every channel on shared axes: the weight of a unit of spend in the week it
/// is spent (lag 0) and in each later week, posterior mean (line with dots) and interval (band).
/// A curve that falls fast means short carry-over; one that peaks later, a delayed effect.
pub fn decay_chart(title: &str, decays: &[Decay], y_label: &str) -> Result<String, ChartError> {
    if decays.is_empty() {
        return Err(ChartError::Empty {
            what: "decays".to_owned(),
        });
    }
    for d in decays {
        let n = d.mean.len();
        if n == 0 {
            return Err(ChartError::Empty {
                what: d.name.to_owned(),
            });
        }
        check_series(&format!("{} mean", d.name), d.mean, n)?;
        check_series(&format!("{} lower", d.name), d.lower, n)?;
        check_series(&format!("{} upper", d.name), d.upper, n)?;
    }
    let lags = decays.iter().map(|d| d.mean.len()).max().unwrap_or(1);
    let (lo, hi) =
        min_max(decays.iter().flat_map(|d| [d.lower, d.upper, d.mean])).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(lo, hi, true)?;
    let x = ValueAxis::integers(-0.5, lags as f64 - 0.5, lags.min(14));
    let y = ValueAxis::new(lo, hi, 6);
    let colour = |i: usize| PALETTE[i % (PALETTE.len() - 1)];
    let legend: Vec<LegendItem> = decays
        .iter()
        .enumerate()
        .map(|(i, d)| LegendItem::name(d.name, Swatch::LineBand(colour(i), false)))
        .collect();
    let (header, height) = chart_height(&legend);
    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, &legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = xy_chart(
            &body,
            &x,
            &y,
            ("weeks since the spend", y_label),
            LABEL_SIZE,
        )?;
        for (i, d) in decays.iter().enumerate() {
            let xs: Vec<f64> = (0..d.mean.len()).map(|l| l as f64).collect();
            chart.draw_series(std::iter::once(Polygon::new(
                band_outline(&xs, d.lower, d.upper),
                colour(i).mix(0.18).filled(),
            )))?;
            let points = xs.iter().copied().zip(d.mean.iter().copied());
            chart.draw_series(LineSeries::new(points.clone(), colour(i).stroke_width(2)))?;
            chart.draw_series(points.map(|p| Circle::new(p, 4, colour(i).filled())))?;
        }
        Ok(())
    })
}
