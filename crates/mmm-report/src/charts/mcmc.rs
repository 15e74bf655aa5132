//! Sampler diagnostics: R-hat and ESS against the gates, rank histograms per chain.

use super::prelude::*;

/// One parameter's convergence summary, as diagnostics.json's `parameters` holds it.
#[derive(Debug, Clone, Copy)]
pub struct Convergence<'a> {
    /// Parameter name.
    pub name: &'a str,
    /// Rank-normalized split R-hat.
    pub rhat: f64,
    /// Bulk effective sample size.
    pub ess_bulk: f64,
    /// Tail effective sample size.
    pub ess_tail: f64,
}

/// Colour of a value against its gate: blue when it passes, vermillion when it fails.
fn gate_colour(pass: bool) -> RGBColor {
    if pass { BLUE_OI } else { VERMILLION_OI }
}

/// R-hat (left) and bulk and tail ESS (right) of every parameter, one row each, with the gates
/// as dashed vermillion lines (`max_rhat`, `min_ess`); values that fail a gate are vermillion.
/// R-hat near 1 means the chains agree; an ESS far above the gate means the summaries are
/// precise.
pub fn convergence_chart(
    title: &str,
    rows: &[Convergence],
    max_rhat: f64,
    min_ess: f64,
) -> Result<String, ChartError> {
    if rows.is_empty() {
        return Err(ChartError::Empty {
            what: "parameters".to_owned(),
        });
    }
    for (i, r) in rows.iter().enumerate() {
        for v in [r.rhat, r.ess_bulk, r.ess_tail, max_rhat, min_ess] {
            check_finite(r.name, i, v)?;
        }
    }
    let rhat: Vec<f64> = rows.iter().map(|r| r.rhat).collect();
    let ess: Vec<f64> = rows.iter().flat_map(|r| [r.ess_bulk, r.ess_tail]).collect();
    let (rlo, rhi) = min_max([rhat.as_slice(), &[1.0, max_rhat][..]]).ok_or(ChartError::Range)?;
    let (rlo, rhi) = padded_range(rlo, rhi, false)?;
    let (elo, ehi) = min_max([ess.as_slice(), &[min_ess][..]]).ok_or(ChartError::Range)?;
    let (elo, ehi) = padded_range(elo, ehi, true)?;
    let legend = vec![
        LegendItem::new("R-hat / bulk ESS", Swatch::Dot(BLUE_OI)),
        LegendItem::new("tail ESS", Swatch::Square(BLUE_OI)),
        LegendItem::new("fails its gate", Swatch::Dot(VERMILLION_OI)),
        LegendItem::new("gate", Swatch::Marker(VERMILLION_OI)),
    ];
    let names: Vec<String> = rows.iter().map(|r| truncate_name(r.name, 32)).collect();
    let compact = rows.len() > 16;
    let (label_size, row_h) = if compact {
        (13.0, 22)
    } else {
        (LABEL_SIZE, 30)
    };
    let left = RowLayout::new(&names, &[], label_size, "R-hat");
    let header = header_height(&legend, WIDTH as i32);
    let height = (header + 10 + left.x_area + row_h * rows.len() as i32).max(180);
    let split = (WIDTH as i32 + left.name_w) / 2;
    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, &legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        let (a, b) = body.split_horizontally(split);
        let cats = CategoryAxis { names };
        let x = ValueAxis::new(rlo, rhi, 5);
        let mut chart = row_chart(&a, &x, &cats, &left, "R-hat")?;
        vline(&mut chart, max_rhat, VERMILLION_OI.stroke_width(2), true)?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            Circle::new(
                (r.rhat, i as f64),
                5,
                gate_colour(r.rhat <= max_rhat).filled(),
            )
        }))?;
        let blank = CategoryAxis {
            names: vec![String::new(); rows.len()],
        };
        let right = RowLayout::new(&[], &[], label_size, "effective sample size");
        let x = ValueAxis::new(elo, ehi, 5);
        let mut chart = row_chart(&b, &x, &blank, &right, "effective sample size")?;
        vline(&mut chart, min_ess, VERMILLION_OI.stroke_width(2), true)?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            Circle::new(
                (r.ess_bulk, i as f64),
                5,
                gate_colour(r.ess_bulk >= min_ess).filled(),
            )
        }))?;
        chart.draw_series(rows.iter().enumerate().map(|(i, r)| {
            let c = gate_colour(r.ess_tail >= min_ess);
            EmptyElement::at((r.ess_tail, i as f64))
                + Rectangle::new([(-4, -4), (4, 4)], c.filled())
        }))?;
        Ok(())
    })
}

/// One parameter's rank histogram: for each chain, how many of its draws fall in each bin of
/// the ranks of all chains' draws pooled.
#[derive(Debug, Clone, Copy)]
pub struct RankHistogram<'a> {
    /// Parameter name.
    pub name: &'a str,
    /// `counts[chain][bin]`; every chain has the same number of bins.
    pub counts: &'a [Vec<f64>],
}

/// Height of one rank panel.
const RANK_PANEL_H: i32 = 190;

/// Rank plots (Vehtari et al. 2021) as small multiples, three per row: per parameter, each
/// chain's histogram of pooled ranks as a step line (one colour per chain) and the count a
/// uniform histogram would have (dashed). Chains that sample the same distribution give flat,
/// overlapping lines; a chain above the others at one end sits in a different region.
pub fn rank_chart(title: &str, params: &[RankHistogram]) -> Result<String, ChartError> {
    if params.is_empty() {
        return Err(ChartError::Empty {
            what: "parameters".to_owned(),
        });
    }
    let chains = params[0].counts.len();
    for p in params {
        let bins = p.counts.first().map_or(0, Vec::len);
        if p.counts.len() != chains || bins == 0 {
            return Err(ChartError::LengthMismatch {
                what: p.name.to_owned(),
                expected: chains,
                found: p.counts.len(),
            });
        }
        for c in p.counts {
            check_series(p.name, c, bins)?;
        }
    }
    let legend: Vec<LegendItem> = (0..chains)
        .map(|c| {
            LegendItem::new(
                &format!("chain {}", c + 1),
                Swatch::LineBand(chain_colour(c), false),
            )
        })
        .chain(std::iter::once(LegendItem::new(
            "uniform",
            Swatch::Marker(MUTED),
        )))
        .collect();
    let cols = params.len().min(3);
    let rows = params.len().div_ceil(cols);
    let header = header_height(&legend, WIDTH as i32);
    let height = header + RANK_PANEL_H * rows as i32;
    render_svg(title, WIDTH, height as u32, |root| {
        draw_header(root, title, &legend, WIDTH as i32)?;
        let (_, body) = root.split_vertically(header);
        for (p, panel) in params.iter().zip(body.split_evenly((rows, cols)).iter()) {
            draw_rank_panel(panel, p)?;
        }
        Ok(())
    })
}

/// Colour of chain `c`.
fn chain_colour(c: usize) -> RGBColor {
    PALETTE[c % (PALETTE.len() - 1)]
}

/// One parameter's panel of [`rank_chart`].
fn draw_rank_panel(
    panel: &DrawingArea<SVGBackend, Shift>,
    p: &RankHistogram,
) -> Result<(), ChartError> {
    panel.draw(&Text::new(
        truncate_name(p.name, 30),
        (PAD, 4),
        font(14.0).pos(Pos::new(HPos::Left, VPos::Top)),
    ))?;
    let (_, plot) = panel.split_vertically(22);
    let bins = p.counts[0].len();
    let total: f64 = p.counts.iter().flatten().sum();
    let expected = total / (bins * p.counts.len()) as f64;
    let (_, hi) = min_max(p.counts.iter().map(Vec::as_slice)).ok_or(ChartError::Range)?;
    let (lo, hi) = padded_range(0.0, hi.max(expected), true)?;
    let x = ValueAxis::new(0.0, bins as f64, 4);
    let y = ValueAxis::new(lo, hi, 4);
    let mut chart = xy_chart(&plot, &x, &y, ("", ""), 12.0)?;
    hline(&mut chart, expected, MUTED.stroke_width(1), true)?;
    for (c, counts) in p.counts.iter().enumerate() {
        let steps = counts
            .iter()
            .enumerate()
            .flat_map(|(b, &v)| [(b as f64, v), (b as f64 + 1.0, v)]);
        chart.draw_series(LineSeries::new(steps, chain_colour(c).stroke_width(2)))?;
    }
    Ok(())
}
