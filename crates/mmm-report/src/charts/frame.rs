//! Input validation and the furniture every chart shares: title, legend, axes frame and the
//! SVG document itself.

use super::prelude::*;

pub(crate) fn check_days(days: &[i32]) -> Result<(), ChartError> {
    if days.is_empty() {
        return Err(ChartError::Empty {
            what: "days".to_owned(),
        });
    }
    if let Some(i) = days.windows(2).position(|w| w[1] <= w[0]) {
        return Err(ChartError::UnsortedDays { index: i + 1 });
    }
    Ok(())
}

pub(crate) fn check_series(what: &str, values: &[f64], expected: usize) -> Result<(), ChartError> {
    if values.len() != expected {
        return Err(ChartError::LengthMismatch {
            what: what.to_owned(),
            expected,
            found: values.len(),
        });
    }
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        return Err(ChartError::NonFinite {
            what: what.to_owned(),
            index,
        });
    }
    Ok(())
}

pub(crate) fn check_band(band: &Band, expected: usize) -> Result<(), ChartError> {
    check_series(&format!("{}.mean", band.name), band.mean, expected)?;
    check_series(&format!("{}.lower", band.name), band.lower, expected)?;
    check_series(&format!("{}.upper", band.name), band.upper, expected)
}

/// A legend entry's symbol.
#[derive(Clone, Copy)]
pub(crate) enum Swatch {
    /// A thin line with a dot: observed data.
    Points(RGBColor),
    /// A mean line over its interval band (dashed when `true`).
    LineBand(RGBColor, bool),
    /// A dashed vertical marker.
    Marker(RGBColor),
    /// A filled block: a bar or a stacked area.
    Block(RGBColor),
    /// A filled dot: a point estimate.
    Dot(RGBColor),
    /// A filled square: a second kind of point (the recommended spend, tail ESS).
    Square(RGBColor),
}

/// One legend entry: a swatch and its label.
pub(crate) struct LegendItem {
    pub(crate) label: String,
    pub(crate) swatch: Swatch,
}

impl LegendItem {
    /// An entry labelled with the chart's own words.
    pub(crate) fn new(label: &str, swatch: Swatch) -> Self {
        Self {
            label: label.to_owned(),
            swatch,
        }
    }

    /// An entry labelled with a name from the data (a channel, a series), cut to
    /// [`MAX_NAME_CHARS`].
    pub(crate) fn name(name: &str, swatch: Swatch) -> Self {
        Self {
            label: truncate_name(name, MAX_NAME_CHARS),
            swatch,
        }
    }
}

/// Lays legend items out left to right, wrapping at the page width; returns each item's
/// `(row, x)`.
pub(crate) fn legend_layout(items: &[LegendItem], width: i32) -> Vec<(i32, i32)> {
    let mut out = Vec::with_capacity(items.len());
    let (mut row, mut x) = (0, PAD);
    for item in items {
        let w = SWATCH_W + 6 + text_width(LABEL_SIZE, &item.label) + 18;
        if x > PAD && x + w > width - PAD {
            row += 1;
            x = PAD;
        }
        out.push((row, x));
        x += w;
    }
    out
}

pub(crate) fn legend_rows(items: &[LegendItem], width: i32) -> i32 {
    legend_layout(items, width)
        .last()
        .map_or(0, |&(row, _)| row + 1)
}

/// Height of the title and legend block above the plot.
pub(crate) fn header_height(items: &[LegendItem], width: i32) -> i32 {
    TITLE_H + legend_rows(items, width) * LEGEND_ROW_H + 4
}

/// Height of a chart whose plot is `HEIGHT` minus a one-row header, with its actual header.
pub(crate) fn chart_height(items: &[LegendItem]) -> (i32, i32) {
    let header = header_height(items, WIDTH as i32);
    (
        header,
        (HEIGHT as i32 + header - (TITLE_H + LEGEND_ROW_H + 4)).max(1),
    )
}

/// The title (cut to [`MAX_TITLE_CHARS`]) and the legend, wrapped at `width`.
pub(crate) fn draw_header(
    root: &DrawingArea<SVGBackend, Shift>,
    title: &str,
    items: &[LegendItem],
    width: i32,
) -> Result<(), ChartError> {
    root.draw(&Text::new(
        truncate_name(title, MAX_TITLE_CHARS),
        (PAD, 10),
        title_font().pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    for (item, (row, x)) in items.iter().zip(legend_layout(items, width)) {
        let ym = TITLE_H + row * LEGEND_ROW_H + LEGEND_ROW_H / 2;
        draw_swatch(root, item.swatch, x, ym)?;
        root.draw(&Text::new(
            item.label.clone(),
            (x + SWATCH_W + 6, ym),
            font(LABEL_SIZE).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// One legend swatch, `SWATCH_W` wide, centred vertically on `ym`.
fn draw_swatch(
    root: &DrawingArea<SVGBackend, Shift>,
    swatch: Swatch,
    x: i32,
    ym: i32,
) -> Result<(), ChartError> {
    let line = |a: i32, b: i32, c: RGBColor| {
        PathElement::new(vec![(x + a, ym), (x + b, ym)], c.stroke_width(2))
    };
    let mid = x + SWATCH_W / 2;
    match swatch {
        Swatch::Points(c) => {
            root.draw(&PathElement::new(
                vec![(x, ym), (x + SWATCH_W, ym)],
                MUTED.stroke_width(1),
            ))?;
            root.draw(&Circle::new((mid, ym), 3, c.filled()))?;
        }
        Swatch::LineBand(c, dashed) => {
            root.draw(&Rectangle::new(
                [(x, ym - 6), (x + SWATCH_W, ym + 6)],
                c.mix(0.25).filled(),
            ))?;
            if dashed {
                root.draw(&line(0, 8, c))?;
                root.draw(&line(12, 20, c))?;
            } else {
                root.draw(&line(0, SWATCH_W, c))?;
            }
        }
        Swatch::Marker(c) => {
            for (a, b) in [(-8, -3), (1, 6)] {
                root.draw(&PathElement::new(
                    vec![(mid, ym + a), (mid, ym + b)],
                    c.stroke_width(2),
                ))?;
            }
        }
        Swatch::Block(c) => {
            root.draw(&Rectangle::new(
                [(x + 2, ym - 6), (x + SWATCH_W - 2, ym + 6)],
                c.filled(),
            ))?;
        }
        Swatch::Dot(c) => root.draw(&Circle::new((mid, ym), 5, c.filled()))?,
        Swatch::Square(c) => root.draw(&Rectangle::new(
            [(mid - 5, ym - 5), (mid + 5, ym + 5)],
            c.filled(),
        ))?,
    }
    Ok(())
}

pub(crate) fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The dated chart frame shared by the fit and components charts: margins, axes, grid and the
/// y-axis title, drawn on `body`.
pub(crate) fn time_chart<'a, 'b>(
    body: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_axis: &DayAxis,
    y_axis: &ValueAxis,
    y_area: i32,
    y_label: &str,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<DayAxis, ValueAxis>>, ChartError> {
    let mut chart = ChartBuilder::on(body)
        .margin_top(6)
        .margin_right(TIME_MARGIN_RIGHT)
        .margin_bottom(6)
        .margin_left(6)
        .x_label_area_size(34)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
    let plot_w = chart.plotting_area().get_pixel_range().0.len() as i32;
    let mut mesh = chart.configure_mesh();
    mesh.max_light_lines(0)
        .x_labels(x_label_budget(plot_w))
        .y_labels(12)
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .label_style(font(LABEL_SIZE))
        .axis_desc_style(font(LABEL_SIZE));
    if !y_label.is_empty() {
        mesh.y_desc(y_label);
    }
    mesh.draw()?;
    Ok(chart)
}

/// Renders with `draw` into a `width × height` SVG and tidies the result for inlining: no XML
/// prolog, a `<title>` first child, no trailing whitespace.
pub(crate) fn render_svg(
    title: &str,
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend, Shift>) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (width, height)).into_drawing_area();
        root.fill(&WHITE)?;
        draw(&root)?;
        root.present()?;
    }
    let mut svg = buf.trim();
    if svg.starts_with("<?xml") {
        svg = svg.find("?>").map_or(svg, |i| svg[i + 2..].trim_start());
    }
    let start = svg
        .find("<svg")
        .ok_or_else(|| ChartError::Malformed("no <svg> element"))?;
    let svg = &svg[start..];
    let open_end = svg
        .find('>')
        .ok_or_else(|| ChartError::Malformed("an unterminated <svg> tag"))?;
    Ok(format!(
        "{}\n<title>{}</title>{}",
        &svg[..=open_end],
        xml_escape(title),
        &svg[open_end + 1..]
    ))
}

/// Width of the y label area: the widest tick label plus room for the axis description.
pub(crate) fn y_label_area(axis: &ValueAxis, y_label: &str) -> i32 {
    let widest = axis
        .labels()
        .map(|l| text_width(LABEL_SIZE, &l))
        .max()
        .unwrap_or(0);
    widest + 14 + if y_label.is_empty() { 0 } else { 24 }
}

/// Number of time-axis labels that fit a plot of the given pixel width.
pub(crate) fn x_label_budget(width: i32) -> usize {
    (width / 90).clamp(2, 14) as usize
}

/// A numeric x-y frame (lags, spend, weeks since spend): margins, axes, grid and axis titles.
pub(crate) fn xy_chart<'a, 'b>(
    body: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_axis: &ValueAxis,
    y_axis: &ValueAxis,
    labels: (&str, &str),
    label_size: f64,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<ValueAxis, ValueAxis>>, ChartError> {
    let (x_label, y_label) = labels;
    let widest = y_axis
        .labels()
        .map(|l| text_width(label_size, &l))
        .max()
        .unwrap_or(0);
    let y_area = widest + 14 + if y_label.is_empty() { 0 } else { 24 };
    let x_area = if x_label.is_empty() { 30 } else { 50 };
    let mut chart = ChartBuilder::on(body)
        .margin_top(6)
        .margin_right(TIME_MARGIN_RIGHT / 2)
        .margin_bottom(4)
        .margin_left(6)
        .x_label_area_size(x_area)
        .y_label_area_size(y_area)
        .build_cartesian_2d(x_axis.clone(), y_axis.clone())?;
    let mut mesh = chart.configure_mesh();
    mesh.max_light_lines(0)
        .x_labels(12)
        .y_labels(8)
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .label_style(font(label_size))
        .axis_desc_style(font(label_size));
    if !x_label.is_empty() {
        mesh.x_desc(x_label);
    }
    if !y_label.is_empty() {
        mesh.y_desc(y_label);
    }
    mesh.draw()?;
    Ok(chart)
}

/// Layout of a chart with one labelled row per item (interval, waterfall, bar charts).
pub(crate) struct RowLayout {
    /// Font size of the row names and value labels.
    pub(crate) label_size: f64,
    /// Width of the names' area at the left.
    pub(crate) name_w: i32,
    /// Width kept free at the right for value labels.
    pub(crate) value_w: i32,
    /// Height of the x-axis area.
    pub(crate) x_area: i32,
}

impl RowLayout {
    /// Room for `names` at the left and `values` at the right, in `label_size` text.
    pub(crate) fn new(names: &[String], values: &[String], label_size: f64, x_label: &str) -> Self {
        let widest = |v: &[String]| {
            v.iter()
                .map(|s| text_width(label_size, s))
                .max()
                .unwrap_or(0)
        };
        Self {
            label_size,
            name_w: widest(names) + 16,
            value_w: widest(values) + 24,
            x_area: if x_label.is_empty() { 34 } else { 52 },
        }
    }
}

/// The frame of a row chart: a value axis along x and one category per row along y.
pub(crate) fn row_chart<'a, 'b>(
    body: &'a DrawingArea<SVGBackend<'b>, Shift>,
    x_axis: &ValueAxis,
    rows: &CategoryAxis,
    layout: &RowLayout,
    x_label: &str,
) -> Result<ChartContext<'a, SVGBackend<'b>, Cartesian2d<ValueAxis, CategoryAxis>>, ChartError> {
    let mut chart = ChartBuilder::on(body)
        .margin_top(4)
        .margin_right(layout.value_w)
        .margin_bottom(6)
        .margin_left(6)
        .x_label_area_size(layout.x_area)
        .y_label_area_size(layout.name_w)
        .build_cartesian_2d(x_axis.clone(), rows.clone())?;
    let mut mesh = chart.configure_mesh();
    mesh.max_light_lines(0)
        .x_labels(12)
        .y_labels(rows.names.len().max(1))
        .bold_line_style(GRID.stroke_width(1))
        .axis_style(AXIS.stroke_width(1))
        .label_style(font(layout.label_size))
        .axis_desc_style(font(LABEL_SIZE));
    if !x_label.is_empty() {
        mesh.x_desc(x_label);
    }
    mesh.draw()?;
    Ok(chart)
}

/// Value labels at the right of a row chart's plot, one per row.
pub(crate) fn draw_row_labels(
    root: &DrawingArea<SVGBackend, Shift>,
    chart: &ChartContext<'_, SVGBackend<'_>, Cartesian2d<ValueAxis, CategoryAxis>>,
    labels: &[String],
    label_size: f64,
) -> Result<(), ChartError> {
    let right = chart.plotting_area().get_pixel_range().0.end;
    let lo = chart.x_range().start;
    for (i, label) in labels.iter().enumerate() {
        let (_, y) = chart.backend_coord(&(lo, i as f64));
        root.draw(&Text::new(
            label.clone(),
            (right + 10, y),
            font(label_size).pos(Pos::new(HPos::Left, VPos::Center)),
        ))?;
    }
    Ok(())
}

/// The closed outline of a band between `lower` and `upper` over `xs`, for a filled polygon.
pub(crate) fn band_outline<X: Copy>(xs: &[X], lower: &[f64], upper: &[f64]) -> Vec<(X, f64)> {
    xs.iter()
        .zip(upper)
        .map(|(&x, &u)| (x, u))
        .chain(xs.iter().zip(lower).rev().map(|(&x, &l)| (x, l)))
        .collect()
}

/// A horizontal line at `y` across a value-by-value frame (zero lines, thresholds).
pub(crate) fn hline(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<ValueAxis, ValueAxis>>,
    y: f64,
    style: ShapeStyle,
    dashed: bool,
) -> Result<(), ChartError> {
    let (lo, hi) = (chart.x_range().start, chart.x_range().end);
    let points = vec![(lo, y), (hi, y)];
    if dashed {
        chart.draw_series(std::iter::once(DashedPathElement::new(points, 6, 4, style)))?;
    } else {
        chart.draw_series(std::iter::once(PathElement::new(points, style)))?;
    }
    Ok(())
}

/// What a row chart draws around its rows: legend, names, value labels and the x axis.
pub(crate) struct Rows<'a> {
    pub(crate) title: &'a str,
    pub(crate) legend: Vec<LegendItem>,
    /// Row names, top to bottom.
    pub(crate) names: Vec<String>,
    /// One label per row, written right of the plot.
    pub(crate) values: Vec<String>,
    pub(crate) x_axis: ValueAxis,
    pub(crate) x_label: &'a str,
    /// Denser rows with smaller text, for long lists.
    pub(crate) compact: bool,
    /// Row height in pixels and the half height of a bar in row units, instead of the
    /// defaults (34 and 0.14; compact 22 and 0.24).
    pub(crate) pitch: Option<(i32, f64)>,
}

type RowContext<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<ValueAxis, CategoryAxis>>;

/// Renders a row chart: header, frame, `draw` (given the half height of a row's bar in row
/// units), then the value labels. The height grows with the rows.
pub(crate) fn render_rows(
    rows: Rows,
    draw: impl FnOnce(&mut RowContext, f64) -> Result<(), ChartError>,
) -> Result<String, ChartError> {
    let names: Vec<String> = rows.names.iter().map(|n| truncate_name(n, 32)).collect();
    // Compact rows: smaller labels and row pitch, so that 50 rows stay about 1100 px.
    let (label_size, row_h, half) = match (rows.compact, rows.pitch) {
        (true, p) => (13.0, p.map_or(22, |p| p.0), p.map_or(0.24, |p| p.1)),
        (false, p) => (LABEL_SIZE, p.map_or(34, |p| p.0), p.map_or(0.14, |p| p.1)),
    };
    let layout = RowLayout::new(&names, &rows.values, label_size, rows.x_label);
    let header = if rows.legend.is_empty() {
        TITLE_H
    } else {
        header_height(&rows.legend, WIDTH as i32)
    };
    let height = (header + 10 + layout.x_area + row_h * names.len() as i32).max(180);
    let cat_axis = CategoryAxis { names };
    render_svg(rows.title, WIDTH, height as u32, |root| {
        draw_header(root, rows.title, &rows.legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let mut chart = row_chart(&body, &rows.x_axis, &cat_axis, &layout, rows.x_label)?;
        draw(&mut chart, half)?;
        draw_row_labels(root, &chart, &rows.values, label_size)
    })
}

/// A vertical line at `x` across every row (zero, a reference value, a threshold).
pub(crate) fn vline(
    chart: &mut RowContext,
    x: f64,
    style: ShapeStyle,
    dashed: bool,
) -> Result<(), ChartError> {
    let n = chart.y_range().end + 0.5;
    let points = vec![(x, -0.5), (x, n - 0.5)];
    if dashed {
        chart.draw_series(std::iter::once(DashedPathElement::new(points, 6, 4, style)))?;
    } else {
        chart.draw_series(std::iter::once(PathElement::new(points, style)))?;
    }
    Ok(())
}

/// Rejects a non-finite value of row `index` (`what` names it in the error).
pub(crate) fn check_finite(what: &str, index: usize, v: f64) -> Result<(), ChartError> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(ChartError::NonFinite {
            what: what.to_owned(),
            index,
        })
    }
}
