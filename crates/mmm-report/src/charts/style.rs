//! Palette, sizes and text helpers shared by every chart.

use plotters::prelude::*;
use plotters::style::FontStyle;

/// Okabe–Ito palette, in the order components are coloured (black last: it is used for observed
/// data in [`fit_chart`]; yellow late: it is the weakest on white).
pub(crate) const PALETTE: [RGBColor; 8] = [
    RGBColor(0x00, 0x72, 0xB2), // blue
    RGBColor(0xE6, 0x9F, 0x00), // orange
    RGBColor(0x00, 0x9E, 0x73), // bluish green
    RGBColor(0xD5, 0x5E, 0x00), // vermillion
    RGBColor(0xCC, 0x79, 0xA7), // reddish purple
    RGBColor(0x56, 0xB4, 0xE9), // sky blue
    RGBColor(0xF0, 0xE4, 0x42), // yellow
    RGBColor(0x00, 0x00, 0x00), // black
];
pub(crate) const BLUE_OI: RGBColor = PALETTE[0];
pub(crate) const SKY_OI: RGBColor = PALETTE[5];
pub(crate) const VERMILLION_OI: RGBColor = PALETTE[3];
pub(crate) const INK: RGBColor = RGBColor(0x1A, 0x1A, 0x1A);
pub(crate) const MUTED: RGBColor = RGBColor(0x4D, 0x4D, 0x4D);
pub(crate) const GRID: RGBColor = RGBColor(0xE3, 0xE3, 0xE3);
pub(crate) const AXIS: RGBColor = RGBColor(0x80, 0x80, 0x80);

pub(crate) const WIDTH: u32 = 900;
pub(crate) const HEIGHT: u32 = 360;
pub(crate) const FONT: &str = "sans-serif";
/// `plotters` sizes; the SVG backend writes `font-size = size / 1.24` (px).
pub(crate) const TITLE_SIZE: f64 = 21.0;
pub(crate) const LABEL_SIZE: f64 = 16.0;
pub(crate) const NOTE_SIZE: f64 = 15.0;
/// Left/right page margin of title and legend.
pub(crate) const PAD: i32 = 14;
/// Height reserved for the title line.
pub(crate) const TITLE_H: i32 = 36;
/// Height of one legend row.
pub(crate) const LEGEND_ROW_H: i32 = 20;
/// Width of a legend swatch.
pub(crate) const SWATCH_W: i32 = 24;
/// Observed values are drawn as dots as well as a line up to this many points.
pub(crate) const MAX_DOTS: usize = 400;
/// Right margin of time charts: room for half a `YYYY-MM-DD` label centred on the last tick.
pub(crate) const TIME_MARGIN_RIGHT: i32 = 42;
/// Longest title drawn in full (the SVG `<title>` always holds the full text).
pub(crate) const MAX_TITLE_CHARS: usize = 84;
/// Longest name drawn in full; longer names are cut with an ellipsis.
pub(crate) const MAX_NAME_CHARS: usize = 40;

pub(crate) fn font(size: f64) -> TextStyle<'static> {
    TextStyle::from((FONT, size).into_font()).color(&INK)
}

pub(crate) fn title_font() -> TextStyle<'static> {
    TextStyle::from((FONT, TITLE_SIZE, FontStyle::Bold).into_font()).color(&INK)
}

/// A generous estimate of the rendered width of `text` in pixels (browsers' sans-serif
/// averages about 0.55 em per character; the SVG font size is `size / 1.24`).
pub(crate) fn text_width(size: f64, text: &str) -> i32 {
    (size / 1.24 * 0.6 * text.chars().count() as f64).ceil() as i32
}

pub(crate) fn truncate_name(name: &str, max: usize) -> String {
    if name.chars().count() <= max {
        name.to_owned()
    } else {
        let mut s: String = name.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// `c` blended with white at opacity `alpha`: the colour a translucent fill shows on the page.
pub(crate) fn tint(c: RGBColor, alpha: f64) -> RGBColor {
    let mix = |v: u8| (255.0 - alpha * (255.0 - f64::from(v))).round() as u8;
    RGBColor(mix(c.0), mix(c.1), mix(c.2))
}
