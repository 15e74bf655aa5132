//! Next experiment: the lift tests ranked by the expected shrinkage of the tested channel's ROAS
//! interval (decide/experiments.json, a preposterior analysis on the posterior draws).

use serde::Serialize;
use serde_json::Value;

use super::{number, value};
use crate::format::{num, pct};

/// One candidate test's row, formatted.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    channel: String,
    weeks: String,
    change: String,
    se: String,
    lift: String,
    roas: String,
    width_today: String,
    width_after: String,
    shrinkage: String,
}

/// The section: rows best first, the recommendation in words, and notes on unreliable rows
/// and skipped channels.
#[derive(Debug, Serialize)]
pub(crate) struct Section {
    rows: Vec<Row>,
    best: Option<String>,
    notes: Vec<String>,
    outcomes: u64,
    level: String,
}

/// `mean [lower, upper]` of an interval object.
fn interval(v: &Value) -> String {
    format!(
        "{} [{}, {}]",
        num(number(v, "mean")),
        num(number(v, "lower")),
        num(number(v, "upper"))
    )
}

/// A spend change in words: "off" for -100%, else a signed percentage.
fn change(v: f64) -> String {
    if v == -1.0 {
        "off (-100%)".to_owned()
    } else if v > 0.0 {
        format!("+{}", pct(v))
    } else {
        pct(v)
    }
}

fn row(c: &Value) -> Row {
    let roas = value(c, "roas");
    let channel = value(c, "channel").as_str().unwrap_or("");
    Row {
        channel: match value(c, "geo").as_str() {
            Some(geo) => format!("{channel} in {geo}"),
            None => channel.to_owned(),
        },
        weeks: format!("{}", number(c, "weeks") as u64),
        change: change(number(c, "spend_change")),
        se: num(number(c, "standard_error")),
        lift: interval(value(c, "lift")),
        roas: interval(roas),
        width_today: num(number(roas, "upper") - number(roas, "lower")),
        width_after: format!(
            "{} ({} to {})",
            num(number(c, "expected_width")),
            num(number(c, "width_10")),
            num(number(c, "width_90"))
        ),
        shrinkage: pct(number(c, "expected_shrinkage")),
    }
}

/// The section when experiments.json has candidates (`None` otherwise).
pub(crate) fn section(json: &Value) -> Option<Section> {
    let candidates = value(json, "candidates").as_array()?;
    let first = candidates.first()?;
    let rows: Vec<Row> = candidates.iter().map(row).collect();
    let best = Some(format!(
        "The most informative test: {} {} for {} weeks, measured with a standard error of {}. \
         It is expected to narrow {}'s ROAS interval by {} (from {} to about {} wide).",
        rows[0].channel,
        if number(first, "spend_change") == -1.0 {
            "switched off".to_owned()
        } else {
            format!(
                "with spend changed by {}",
                change(number(first, "spend_change"))
            )
        },
        rows[0].weeks,
        rows[0].se,
        rows[0].channel,
        rows[0].shrinkage,
        rows[0].width_today,
        num(number(first, "expected_width")),
    ));
    let mut notes: Vec<String> = candidates
        .iter()
        .filter(|c| number(c, "share_low_ess") > 0.0)
        .map(|c| {
            format!(
                "{}, {} weeks: in {} of the simulated results fewer than 100 posterior draws carry the reweighted posterior: the draws cannot show all the test would teach, so its expected shrinkage is rough and likely a lower bound.",
                value(c, "channel").as_str().unwrap_or(""),
                number(c, "weeks") as u64,
                pct(number(c, "share_low_ess"))
            )
        })
        .collect();
    if let Some(skipped) = value(json, "skipped").as_array() {
        notes.extend(skipped.iter().filter_map(|s| {
            let pair = s.as_array()?;
            Some(format!(
                "{}: not designed ({}).",
                pair.first()?.as_str()?,
                pair.get(1)?.as_str()?
            ))
        }));
    }
    Some(Section {
        rows,
        best,
        notes,
        outcomes: number(json, "outcomes") as u64,
        level: pct(number(json, "interval")),
    })
}
