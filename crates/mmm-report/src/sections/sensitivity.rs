//! Prior sensitivity: each channel's ROAS, contribution and marginal ROAS with its power-scaling
//! sensitivity to the prior and to the likelihood, priorsense's diagnosis and a reading in
//! words (diagnose/diagnostics.json `sensitivity`).

use serde::Serialize;
use serde_json::Value;

use super::{Ctx, number, value};
use crate::format::{num, plain};

/// One channel quantity's row.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    channel: String,
    quantity: &'static str,
    prior: String,
    likelihood: String,
    diagnosis: String,
    flagged: bool,
    reading: String,
}

/// The section: rows, the threshold, the parameters flagged, and the perturbations whose
/// importance weights are unreliable (Pareto k above the threshold).
#[derive(Debug, Serialize)]
pub(crate) struct Section {
    rows: Vec<Row>,
    threshold: String,
    flagged_rows: usize,
    flagged_parameters: Vec<String>,
    unreliable: Vec<String>,
    khat_threshold: String,
}

/// A quantity's label in the table.
fn quantity_label(kind: &str) -> Option<&'static str> {
    match kind {
        "roas" => Some("ROAS"),
        "contribution" => Some("Contribution"),
        "marginal_roas" => Some("Marginal ROAS"),
        _ => None,
    }
}

/// The prior group that moves the quantity most on its own, when one is over the threshold.
fn driver(q: &Value, threshold: f64) -> Option<String> {
    let groups = q.get("groups")?.as_array()?;
    let (name, s) = groups
        .iter()
        .map(|g| (value(g, "group").as_str().unwrap_or(""), number(g, "prior")))
        .filter(|(_, s)| s.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))?;
    (s > threshold).then(|| name.to_owned())
}

/// What a diagnosis means for the figure, in words.
fn reading(diagnosis: &str, prior: f64, likelihood: f64, driver: Option<&str>) -> String {
    let which = driver.map_or_else(
        || "the priors".to_owned(),
        |d| format!("the prior group {d}"),
    );
    match diagnosis {
        "prior-data conflict" => format!(
            "Prior and data pull apart: the figure sits between what {which} says and what the \
             data say, and moves when either gets more weight. Check that prior against the \
             data or a lift test before relying on the figure."
        ),
        "strong prior / weak likelihood" => format!(
            "The prior decides it: the data say little about it, so it mostly repeats {which}. \
             Treat it as an assumption, or add data that move it (a lift test, more spend \
             variation)."
        ),
        _ if likelihood >= prior => {
            "Learned from the data: giving the prior more or less weight barely moves it.".into()
        }
        _ => "Neither the prior nor the data's weight moves it much.".into(),
    }
}

/// A sensitivity for the table; absent when the perturbation's weights could not be computed.
fn cell(v: f64) -> String {
    if v.is_finite() {
        num(v)
    } else {
        "not computed".into()
    }
}

/// One channel quantity's row, or `None` for a parameter.
fn row(q: &Value, threshold: f64) -> Option<Row> {
    let quantity = quantity_label(value(q, "kind").as_str()?)?;
    let (prior, likelihood) = (number(q, "prior"), number(q, "likelihood"));
    let diagnosis = value(q, "diagnosis").as_str().unwrap_or("none");
    let driver = driver(q, threshold);
    Some(Row {
        channel: value(q, "channel").as_str().unwrap_or("").to_owned(),
        quantity,
        prior: cell(prior),
        likelihood: cell(likelihood),
        diagnosis: diagnosis.to_owned(),
        flagged: diagnosis != "none",
        reading: reading(diagnosis, prior, likelihood, driver.as_deref()),
    })
}

/// A perturbation in words with its larger Pareto k, when that k is above the threshold.
fn unreliable(p: &Value) -> Option<String> {
    let k = number(p, "khat_lower").max(number(p, "khat_upper"));
    if value(p, "reliable").as_bool() != Some(false) {
        return None;
    }
    let what = match value(p, "group").as_str() {
        Some(g) => format!("prior group {g}"),
        None => format!(
            "the {}",
            value(p, "component").as_str().unwrap_or("component")
        ),
    };
    Some(format!("{what} (k = {})", num(k)))
}

/// The section, when diagnostics.json has a `sensitivity` part.
pub(crate) fn section(ctx: &Ctx) -> Option<Section> {
    let s = value(&ctx.inputs.diag, "sensitivity");
    let quantities = s.get("quantities")?.as_array()?;
    let threshold = number(s, "threshold");
    let khat_threshold = number(s, "khat_threshold");
    let rows: Vec<Row> = quantities
        .iter()
        .filter_map(|q| row(q, threshold))
        .collect();
    let flagged_parameters = quantities
        .iter()
        .filter(|q| value(q, "kind").as_str() == Some("parameter"))
        .filter(|q| value(q, "diagnosis").as_str().is_some_and(|d| d != "none"))
        .map(|q| {
            format!(
                "{} ({})",
                value(q, "quantity").as_str().unwrap_or(""),
                value(q, "diagnosis").as_str().unwrap_or("")
            )
        })
        .collect();
    let unreliable = (value(s, "perturbations").as_array().into_iter().flatten())
        .filter_map(unreliable)
        .collect();
    Some(Section {
        flagged_rows: rows.iter().filter(|r| r.flagged).count(),
        rows,
        threshold: plain(threshold),
        flagged_parameters,
        unreliable,
        khat_threshold: plain(khat_threshold),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_name_the_driving_prior_group() {
        let r = reading("prior-data conflict", 0.2, 0.3, Some("media[tv]"));
        assert!(r.contains("the prior group media[tv]"), "{r}");
        let r = reading("strong prior / weak likelihood", 0.2, 0.01, None);
        assert!(r.starts_with("The prior decides it"), "{r}");
        assert!(reading("none", 0.01, 0.2, None).starts_with("Learned from the data"));
    }

    #[test]
    fn a_row_per_channel_quantity_only() {
        let q = serde_json::json!({"quantity": "roas[tv]", "kind": "roas", "channel": "tv",
            "prior": 0.1234, "likelihood": 0.0811, "diagnosis": "prior-data conflict",
            "groups": [{"group": "media[tv]", "prior": 0.2}, {"group": "noise", "prior": 0.01}]});
        let r = row(&q, 0.05).expect("row");
        assert_eq!((r.quantity, r.prior.as_str()), ("ROAS", "0.123"));
        assert!(r.flagged && r.reading.contains("media[tv]"));
        let p = serde_json::json!({"quantity": "sigma", "kind": "parameter"});
        assert!(row(&p, 0.05).is_none());
    }
}
