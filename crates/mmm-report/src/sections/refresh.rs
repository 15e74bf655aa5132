//! Refresh comparison: this run's ROAS per channel against an earlier run's
//! (compare/compare.json).

use super::{Ctx, Figure, number, value};
use crate::charts::{self, BarSeries, ValueStyle};
use crate::stage::ReportError;

/// One grouped-bar chart of ROAS per channel for each refresh in compare.json.
pub(crate) fn figures(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let Some(c) = &ctx.inputs.comparison else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for r in value(c, "refreshes").as_array().into_iter().flatten() {
        let channels = value(r, "channels").as_array().cloned().unwrap_or_default();
        let names: Vec<String> = channels
            .iter()
            .map(|ch| value(ch, "channel").as_str().unwrap_or("").to_owned())
            .collect();
        let col = |key: &str, part: &str| -> Vec<f64> {
            channels
                .iter()
                .map(|ch| number(value(ch, key), part))
                .collect()
        };
        let (a, b) = (
            [
                col("roas_a", "mean"),
                col("roas_a", "lower"),
                col("roas_a", "upper"),
            ],
            [
                col("roas_b", "mean"),
                col("roas_b", "lower"),
                col("roas_b", "upper"),
            ],
        );
        if names.is_empty() || a.iter().chain(&b).flatten().any(|v| !v.is_finite()) {
            continue;
        }
        let rows: Vec<&str> = names.iter().map(String::as_str).collect();
        let t = &ctx.target;
        let svg = charts::grouped_bar_chart(
            &format!("Refresh: ROAS per channel, earlier run vs this run ({t} per unit of spend)"),
            &rows,
            &[
                BarSeries {
                    name: "earlier run (mean, interval)",
                    values: &a[0],
                    interval: Some((&a[1], &a[2])),
                },
                BarSeries {
                    name: "this run (mean, interval)",
                    values: &b[0],
                    interval: Some((&b[1], &b[2])),
                },
            ],
            "ROAS",
            ValueStyle::Number,
        )?;
        out.push(Figure::new("refresh-roas", svg, "Grey is the earlier run's ROAS, blue this run's, each with its interval. A channel whose bars moved by more than the guardrail (table below), or whose interval no longer overlaps, changed its story between refreshes: check the new data before acting on it."));
    }
    Ok(out)
}
