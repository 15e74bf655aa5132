//! A mediated channel's effect split into its direct and mediated parts (spec
//! `[[mediators]]`, docs/causal.md): roi.parquet rows and the `mediation` block of summary.json.

use crate::{ChannelDraws, summarize};

/// Per-draw summaries [mean, median, lower, upper] of a channel acting through mediators: its
/// direct and mediated contributions and ROAS, and the mediated share of its total.
pub(crate) fn rows(
    c: &ChannelDraws,
    mediated: &[f64],
    interval: f64,
) -> [(&'static str, [f64; 4]); 5] {
    let direct: Vec<f64> = c
        .contribution
        .iter()
        .zip(mediated)
        .map(|(t, m)| t - m)
        .collect();
    let per_spend = |v: &[f64]| v.iter().map(|x| x / c.spend).collect::<Vec<_>>();
    let share: Vec<f64> = mediated
        .iter()
        .zip(&c.contribution)
        .map(|(m, t)| m / t)
        .collect();
    [
        ("contribution_direct", summarize(&direct, interval)),
        ("contribution_mediated", summarize(mediated, interval)),
        ("roas_direct", summarize(&per_spend(&direct), interval)),
        ("roas_mediated", summarize(&per_spend(mediated), interval)),
        ("mediated_share", summarize(&share, interval)),
    ]
}

/// summary.json's `channels` block: per channel its spend, contribution and ROAS over the
/// training window, and for a channel acting through mediators the mediators and each part.
pub(crate) fn summary(
    channels: &[ChannelDraws],
    spec: &mmm_core::Spec,
    interval: f64,
) -> Vec<serde_json::Value> {
    let stat = |v: [f64; 4]| serde_json::json!({"mean": v[0], "median": v[1], "lower": v[2], "upper": v[3]});
    channels
        .iter()
        .map(|c| {
            let through: Vec<&str> = spec
                .mediators
                .iter()
                .filter(|m| m.channels.contains(&c.channel))
                .map(|m| m.name.as_str())
                .collect();
            let mut row = serde_json::json!({
                "channel": c.channel,
                "spend": c.spend,
                "roas": stat(summarize(&c.roas, interval)),
                "contribution": stat(summarize(&c.contribution, interval)),
            });
            if let Some(mediated) = c.mediated.as_deref() {
                row["mediators"] = serde_json::json!(through);
                for (name, v) in rows(c, mediated, interval) {
                    row[name] = stat(v);
                }
            }
            row
        })
        .collect()
}
