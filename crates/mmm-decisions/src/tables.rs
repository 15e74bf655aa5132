//! The decide stage's per-channel tables (contributions per draw, response curves, ROI
//! summaries) for the national unit, or for every geo with a leading `geo` column (for an
//! ensemble's members, a leading `run` column).

use arrow::array::RecordBatch;
use mmm_core::BatchBuilder;
use mmm_core::summary::{central_interval, hdi, mean, quantile_sorted, sorted};
use mmm_model::Posterior;

use crate::{DecideError, UnitResult, curves, summarize};

/// Rows of contributions.parquet, curves.parquet and roi.parquet, unit after unit.
#[derive(Default)]
pub(crate) struct Tables {
    /// The leading column naming each row's unit: `geo` for geo-level tables, `run` for an
    /// ensemble's members; none for national tables.
    lead: Option<&'static str>,
    contributions: Columns,
    curves: Columns,
    roi: Columns,
}

/// Column values of one table.
#[derive(Default)]
struct Columns {
    geo: Vec<String>,
    chain: Vec<i64>,
    draw: Vec<i64>,
    channel: Vec<String>,
    metric: Vec<String>,
    values: Vec<Vec<f64>>,
}

impl Columns {
    fn push_values(&mut self, values: &[f64]) {
        if self.values.is_empty() {
            self.values = vec![Vec::new(); values.len()];
        }
        for (col, v) in self.values.iter_mut().zip(values) {
            col.push(*v);
        }
    }

    fn builder(&self, lead: Option<&'static str>) -> BatchBuilder {
        let b = BatchBuilder::new();
        match lead {
            Some(name) => b.string(name, self.geo.clone()),
            None => b,
        }
    }

    fn column(&self, j: usize) -> Vec<f64> {
        self.values.get(j).cloned().unwrap_or_default()
    }
}

impl Tables {
    /// Tables of national rows (`with_geo` false) or of geo rows.
    pub(crate) fn new(with_geo: bool) -> Self {
        Self {
            lead: with_geo.then_some("geo"),
            ..Self::default()
        }
    }

    /// Tables whose rows lead with the unit's name in a column `lead` (e.g. `run`).
    pub(crate) fn with_lead(lead: &'static str) -> Self {
        Self {
            lead: Some(lead),
            ..Self::default()
        }
    }

    /// Add one unit's rows; returns each channel's spend at the hurdle per draw.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_unit(
        &mut self,
        geo: &str,
        unit: &UnitResult,
        posterior: &Posterior,
        grid: &[f64],
        interval: f64,
        margin: f64,
        hurdle: f64,
    ) -> Vec<Vec<f64>> {
        let nd = posterior.len();
        for c in &unit.channels {
            let t = &mut self.contributions;
            t.geo.extend(std::iter::repeat_n(geo.to_string(), nd));
            t.chain.extend(&posterior.chain);
            t.draw.extend(&posterior.draw);
            t.channel.extend(std::iter::repeat_n(c.channel.clone(), nd));
            for k in 0..nd {
                t.push_values(&[
                    c.contribution[k],
                    c.spend,
                    c.share[k],
                    c.roas[k],
                    c.roi[k],
                    c.marginal_roas[k],
                ]);
            }
        }
        let mut at_hurdle = Vec::new();
        for (ch, curve) in unit.channels.iter().zip(&unit.curves) {
            for (i, (m, values)) in grid.iter().zip(curve).enumerate() {
                let s = sorted(values);
                let (lo, hi) = hdi(values, interval);
                let (lo50, hi50) = hdi(values, 0.5);
                // Marginal ROI of the mean curve by central differences on the grid.
                let (a, b) = (i.saturating_sub(1), (i + 1).min(grid.len() - 1));
                let slope = (mean(&curve[b]) - mean(&curve[a])) / ((grid[b] - grid[a]) * ch.spend);
                let t = &mut self.curves;
                t.geo.push(geo.to_string());
                t.channel.push(ch.channel.clone());
                t.push_values(&[
                    *m,
                    m * ch.spend,
                    mean(values),
                    quantile_sorted(&s, 0.5),
                    lo50,
                    hi50,
                    lo,
                    hi,
                    margin * slope - 1.0,
                ]);
            }
            at_hurdle.push(curves::spend_at_hurdle(
                curve, grid, ch.spend, margin, hurdle,
            ));
        }
        for (c, hurdle_spend) in unit.channels.iter().zip(&at_hurdle) {
            let cost: Vec<f64> = c.contribution.iter().map(|x| c.spend / x).collect();
            let profit: Vec<f64> = c
                .contribution
                .iter()
                .map(|x| margin * x - c.spend)
                .collect();
            let mroi: Vec<f64> = c.marginal_roas.iter().map(|m| margin * m - 1.0).collect();
            let p_above = c.roi.iter().filter(|r| **r > hurdle).count() as f64 / nd.max(1) as f64;
            let s = sorted(hurdle_spend);
            let (h_lo, h_hi) = central_interval(hurdle_spend, interval);
            let rows: [(&str, [f64; 4]); 11] = [
                ("contribution", summarize(&c.contribution, interval)),
                ("share", summarize(&c.share, interval)),
                ("roas", summarize(&c.roas, interval)),
                ("spend", [c.spend; 4]),
                ("roi", summarize(&c.roi, interval)),
                ("marginal_roas", summarize(&c.marginal_roas, interval)),
                ("marginal_roi", summarize(&mroi, interval)),
                ("cost_per_outcome", summarize(&cost, interval)),
                ("profit", summarize(&profit, interval)),
                ("prob_roi_above_hurdle", [p_above; 4]),
                (
                    "spend_at_hurdle",
                    [mean(hurdle_spend), quantile_sorted(&s, 0.5), h_lo, h_hi],
                ),
            ];
            let paths = c
                .mediated
                .as_deref()
                .map(|m| crate::mediation::rows(c, m, interval));
            for (metric, v) in rows.into_iter().chain(paths.into_iter().flatten()) {
                let t = &mut self.roi;
                t.geo.push(geo.to_string());
                t.channel.push(c.channel.clone());
                t.metric.push(metric.to_string());
                t.push_values(&[v[0], v[1], v[2], v[3], interval]);
            }
        }
        at_hurdle
    }

    /// contributions.parquet (or geo_contributions.parquet).
    pub(crate) fn contributions(&self) -> Result<RecordBatch, DecideError> {
        let t = &self.contributions;
        let mut b = t
            .builder(self.lead)
            .i64("chain", t.chain.clone())
            .i64("draw", t.draw.clone())
            .string("channel", t.channel.clone());
        for (j, name) in [
            "contribution",
            "spend",
            "share",
            "roas",
            "roi",
            "marginal_roas",
        ]
        .iter()
        .enumerate()
        {
            b = b.f64(name, t.column(j));
        }
        b.build().map_err(output)
    }

    /// curves.parquet (or geo_curves.parquet).
    pub(crate) fn curves(&self) -> Result<RecordBatch, DecideError> {
        let t = &self.curves;
        let mut b = t.builder(self.lead).string("channel", t.channel.clone());
        for (j, name) in [
            "multiplier",
            "spend",
            "mean",
            "median",
            "lower_50",
            "upper_50",
            "lower",
            "upper",
            "marginal_roi",
        ]
        .iter()
        .enumerate()
        {
            b = b.f64(name, t.column(j));
        }
        b.build().map_err(output)
    }

    /// roi.parquet (or geo_roi.parquet).
    pub(crate) fn roi(&self) -> Result<RecordBatch, DecideError> {
        let t = &self.roi;
        let mut b = t
            .builder(self.lead)
            .string("channel", t.channel.clone())
            .string("metric", t.metric.clone());
        for (j, name) in ["mean", "median", "lower", "upper", "interval"]
            .iter()
            .enumerate()
        {
            b = b.f64(name, t.column(j));
        }
        b.build().map_err(output)
    }
}

fn output(e: arrow::error::ArrowError) -> DecideError {
    DecideError::from(e)
}
