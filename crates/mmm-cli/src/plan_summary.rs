//! The terminal's summary of `mmm optimize` (plan.json) and `mmm scenario` (comparison.json):
//! the same numbers as the files, formatted for people.

use mmm_report::format::{num, pct};
use serde_json::Value;

/// `mean [lower, upper]` of a lift summary (`mean`, `lower`, `upper`).
fn interval(v: &Value) -> String {
    let f = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
    format!(
        "{} [{}, {}]",
        num(f("mean")),
        num(f("lower")),
        num(f("upper"))
    )
}

/// Per channel: the spend of a plan, national (`key`) or summed over the geos of
/// `{key}_by_geo`.
fn spend(plan: &Value, key: &str, channels: usize) -> Vec<f64> {
    if let Some(values) = plan[key].as_array() {
        return values
            .iter()
            .map(|v| v.as_f64().unwrap_or(f64::NAN))
            .collect();
    }
    let mut total = vec![0.0; channels];
    if let Some(geos) = plan[format!("{key}_by_geo")].as_object() {
        for cells in geos.values().filter_map(Value::as_array) {
            for (t, v) in total.iter_mut().zip(cells) {
                *t += v.as_f64().unwrap_or(f64::NAN);
            }
        }
    }
    total
}

/// The optimized plan against the current one: spend per channel, the total lift of each with
/// its interval, and the probability that the optimized plan does better.
pub fn optimize(plan: &Value) -> String {
    let names: Vec<&str> = plan["channels"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let current = spend(plan, "current_spend", names.len());
    let optimized = spend(plan, "optimized_spend", names.len());
    let width = names.iter().map(|n| n.len()).max().unwrap_or(7).max(7);
    let mut lines = vec![format!(
        "plan over {} weeks from {}\n  current plan: {}",
        plan["horizon_weeks"],
        plan["start"].as_str().unwrap_or("?"),
        plan["current_plan"]
            .as_str()
            .unwrap_or("the reference weeks' spend"),
    )];
    lines.push(format!(
        "  {:width$}  {:>12}  {:>12}  {:>8}",
        "channel", "current", "optimized", "change"
    ));
    for ((name, c), o) in names.iter().zip(&current).zip(&optimized) {
        let change = if *c > 0.0 {
            pct(o / c - 1.0)
        } else {
            "new".into()
        };
        lines.push(format!(
            "  {name:width$}  {:>12}  {:>12}  {change:>8}",
            num(*c),
            num(*o)
        ));
    }
    lines.push(format!(
        "  lift: current {}, optimized {}; P(optimized beats current) {}",
        interval(&plan["current_lift"]),
        interval(&plan["optimized_lift"]),
        pct(plan["prob_optimized_beats_current"]
            .as_f64()
            .unwrap_or(f64::NAN)),
    ));
    lines.join("\n")
}

/// Each scenario against the current plan: spend, lift and gain with intervals, and the
/// probability of beating the current plan.
pub fn scenario(comparison: &Value) -> String {
    let current = &comparison["current"];
    let mut lines = vec![
        format!(
            "scenarios over {} weeks from {}\n  current plan: {}",
            comparison["horizon_weeks"],
            comparison["start"].as_str().unwrap_or("?"),
            current["definition"].as_str().unwrap_or("?"),
        ),
        format!(
            "  current: spend {}, lift {}",
            num(current["spend"].as_f64().unwrap_or(f64::NAN)),
            interval(&current["lift"])
        ),
    ];
    for s in comparison["scenarios"].as_array().into_iter().flatten() {
        lines.push(format!(
            "  {}: spend {}, lift {}, vs current {}, P(beats current) {}",
            s["scenario"].as_str().unwrap_or("?"),
            num(s["spend"].as_f64().unwrap_or(f64::NAN)),
            interval(&s["lift"]),
            interval(&s["lift_minus_current"]),
            pct(s["prob_beats_current"].as_f64().unwrap_or(f64::NAN)),
        ));
    }
    lines.join("\n")
}

/// `mmm design-experiment`'s table: every candidate test, best first, with today's ROAS
/// interval and the width expected after the test.
pub fn experiments_table(found: &mmm_decisions::experiment::ExperimentDesign) -> String {
    let level = pct(found.interval);
    let mut out = format!(
        "Lift tests ranked by the expected shrinkage of the channel's {level} ROAS interval \
         (national ROAS for a test in one geo; {} simulated outcomes each over {} posterior \
         draws; no refits):\n",
        found.outcomes, found.draws
    );
    out += &format!(
        "{:<14} {:>5} {:>8} {:>10} {:>26} {:>22} {:>10}\n",
        "channel",
        "weeks",
        "change",
        "std error",
        "ROAS today",
        "width today -> after",
        "shrinkage"
    );
    for c in &found.candidates {
        let today = format!(
            "{} [{}, {}]",
            num(c.roas.mean),
            num(c.roas.lower),
            num(c.roas.upper)
        );
        let widths = format!("{} -> {}", num(c.roas.width()), num(c.expected_width));
        let channel = match &c.geo {
            Some(geo) => format!("{} in {geo}", c.channel),
            None => c.channel.clone(),
        };
        out += &format!(
            "{:<14} {:>5} {:>8} {:>10} {:>26} {:>22} {:>10}\n",
            channel,
            c.weeks,
            pct(c.spend_change),
            num(c.standard_error),
            today,
            widths,
            pct(c.expected_shrinkage)
        );
        if let (Some(roas), Some(shrinkage)) = (c.geo_roas, c.geo_expected_shrinkage) {
            out += &format!(
                "  the geo's own ROAS {} [{}, {}]: expected shrinkage {}\n",
                num(roas.mean),
                num(roas.lower),
                num(roas.upper),
                pct(shrinkage)
            );
        }
        if c.share_low_ess > 0.0 {
            out += &format!(
                "  note: in {} of the outcomes fewer than 100 draws carry the reweighted posterior: the shrinkage is rough, likely a lower bound\n",
                pct(c.share_low_ess)
            );
        }
    }
    for (channel, why) in &found.skipped {
        out += &format!("{channel}: not designed ({why})\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimize_summary_sums_geo_cells_and_formats_numbers() {
        let plan = serde_json::json!({
            "channels": ["tv", "search"],
            "horizon_weeks": 8,
            "start": "2024-01-01",
            "current_plan": "flat",
            "current_spend_by_geo": {"a": [1000.0, 500.0], "b": [3000.0, 0.0]},
            "optimized_spend_by_geo": {"a": [1200.0, 600.0], "b": [2600.0, 100.0]},
            "current_lift": {"mean": 12345.678, "lower": 10000.0, "upper": 15000.0},
            "optimized_lift": {"mean": 13000.0, "lower": 10500.0, "upper": 15500.0},
            "prob_optimized_beats_current": 0.8125,
        });
        let text = optimize(&plan);
        assert!(text.contains("4,000") && text.contains("3,800"), "{text}");
        assert!(text.contains("−5"), "{text}");
        assert!(text.contains("12,346 [10,000, 15,000]"), "{text}");
        assert!(text.contains("81.2%"), "{text}");
    }
}
