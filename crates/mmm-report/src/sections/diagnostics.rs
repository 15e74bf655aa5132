//! Model diagnostics: R-hat and ESS against the gates, rank plots from the draws, prior vs
//! posterior, the prior predictive check, PSIS-LOO's Pareto k, sign stability and the per-geo
//! parameter groups (diagnose/diagnostics.json, fit/draws.parquet).

use mmm_core::columns::{f64_column, i64_column};
use serde::Serialize;

use super::fit::Ppc;
use super::{Ctx, Figure, is_collapsed_parameter, number, value};
use crate::charts::{self, Band, Convergence, PriorPosterior, RankHistogram};
use crate::stage::ReportError;

/// Rank plots show this many parameters at most: those with the highest R-hat.
const RANK_PARAMETERS: usize = 6;
/// Bins of a rank histogram.
const RANK_BINS: usize = 20;

/// The parameters listed one by one (not level steps or per-geo values), from diagnostics.json.
fn listed(diag: &serde_json::Value, list: &str, key: &str) -> Vec<serde_json::Value> {
    value(diag, list)
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| {
            p.get(key)
                .and_then(|n| n.as_str())
                .is_some_and(|n| !is_collapsed_parameter(n))
        })
        .cloned()
        .collect()
}

/// A gate's threshold by name.
fn gate(diag: &serde_json::Value, name: &str) -> Option<f64> {
    value(diag, "gates")
        .as_array()?
        .iter()
        .find(|g| g.get("name").and_then(|n| n.as_str()) == Some(name))?
        .get("threshold")?
        .as_f64()
}

fn convergence(ctx: &Ctx) -> Result<Option<Figure>, ReportError> {
    let params = listed(&ctx.inputs.diag, "parameters", "name");
    let rows: Vec<Convergence> = params
        .iter()
        .map(|p| Convergence {
            name: p.get("name").and_then(|n| n.as_str()).unwrap_or(""),
            rhat: number(p, "rhat"),
            ess_bulk: number(p, "ess_bulk"),
            ess_tail: number(p, "ess_tail"),
        })
        .filter(|r| r.rhat.is_finite() && r.ess_bulk.is_finite() && r.ess_tail.is_finite())
        .collect();
    let diag = &ctx.inputs.diag;
    let (Some(max_rhat), Some(min_ess)) = (gate(diag, "max_rhat"), gate(diag, "min_bulk_ess"))
    else {
        return Ok(None);
    };
    if rows.is_empty() {
        return Ok(None);
    }
    let svg = charts::convergence_chart(
        "Convergence per parameter: R-hat and effective sample size against the gates",
        &rows,
        max_rhat,
        min_ess,
    )?;
    Ok(Some(Figure::new(
        "convergence",
        svg,
        format!(
            "Left: R-hat, which is near 1 when the chains agree (gate ≤ {}). Right: bulk (dots) and tail (squares) effective sample sizes, the number of independent draws the chains are worth (gate ≥ {}). Vermillion marks fail a gate.",
            crate::format::plain(max_rhat),
            crate::format::plain(min_ess)
        ),
    )))
}

/// `counts[chain][bin]` of the pooled ranks of `values` (chains numbered in `chain`).
pub(crate) fn rank_counts(values: &[f64], chain: &[i64], bins: usize) -> Vec<Vec<f64>> {
    let mut chains: Vec<i64> = chain.to_vec();
    chains.sort_unstable();
    chains.dedup();
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    let n = values.len().max(1);
    let mut counts = vec![vec![0.0; bins]; chains.len()];
    for (rank, &i) in order.iter().enumerate() {
        let c = chains.binary_search(&chain[i]).unwrap_or(0);
        counts[c][(rank * bins / n).min(bins - 1)] += 1.0;
    }
    counts
}

fn ranks(ctx: &Ctx) -> Result<Option<Figure>, ReportError> {
    let path = ctx.inputs.path("fit", "draws.parquet");
    let chain = i64_column(&ctx.inputs.draws, "chain", &path)?;
    let mut params = listed(&ctx.inputs.diag, "parameters", "name");
    params.sort_by(|a, b| number(b, "rhat").total_cmp(&number(a, "rhat")));
    let mut hists: Vec<(String, Vec<Vec<f64>>)> = Vec::new();
    for p in params.iter().take(RANK_PARAMETERS) {
        let name = p.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let Ok(values) = f64_column(&ctx.inputs.draws, name, &path) else {
            continue;
        };
        hists.push((name.to_owned(), rank_counts(&values, &chain, RANK_BINS)));
    }
    if hists.is_empty() {
        return Ok(None);
    }
    let list: Vec<RankHistogram> = hists
        .iter()
        .map(|(n, c)| RankHistogram { name: n, counts: c })
        .collect();
    let svg = charts::rank_chart(
        &format!(
            "Rank plots of the {} parameters with the highest R-hat (draws per rank bin and chain)",
            list.len()
        ),
        &list,
    )?;
    Ok(Some(Figure::new(
        "ranks",
        svg,
        "Every draw of a parameter is ranked among all chains' draws; each line counts one chain's draws per rank bin. Well-mixed chains give flat lines around the dashed uniform count; a chain high at one end and low at the other explored a different region.",
    )))
}

fn prior_posterior(ctx: &Ctx) -> Result<Option<Figure>, ReportError> {
    let rows = listed(&ctx.inputs.diag, "prior_posterior", "parameter");
    let list: Vec<PriorPosterior> = rows
        .iter()
        .map(|p| PriorPosterior {
            name: p.get("parameter").and_then(|n| n.as_str()).unwrap_or(""),
            prior_mean: number(p, "prior_mean"),
            prior_sd: number(p, "prior_sd"),
            posterior_mean: number(p, "posterior_mean"),
            posterior_sd: number(p, "posterior_sd"),
        })
        .filter(|p| {
            [p.prior_mean, p.prior_sd, p.posterior_mean, p.posterior_sd]
                .iter()
                .all(|v| v.is_finite())
                && p.prior_sd > 0.0
        })
        .collect();
    if list.is_empty() {
        return Ok(None);
    }
    let svg = charts::prior_posterior_chart(
        "Prior vs posterior per parameter, in prior standard deviations",
        &list,
    )?;
    Ok(Some(Figure::new(
        "prior-posterior-chart",
        svg,
        "Grey is each prior's mean ± 2 sd, blue the posterior's, on a scale where the prior runs from −2 to 2. A short blue bar means the data pinned the parameter down; a blue bar nearly as wide as the grey one means the prior, not the data, decided it.",
    )))
}

/// Clips `series` to a window ten times the observed range around the data (so that the data
/// stay visible under a band from very weak priors); true when anything was clipped.
fn clip_to_data(observed: &[f64], series: [&mut Vec<f64>; 3]) -> bool {
    let (lo, hi) = observed
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    let r = (hi - lo).max(hi.abs().max(1.0) * 1e-6);
    let (min, max) = (lo - 4.5 * r, hi + 4.5 * r);
    let mut clipped = false;
    for s in series {
        for v in s.iter_mut() {
            let c = v.clamp(min, max);
            clipped |= c != *v;
            *v = c;
        }
    }
    clipped
}

fn prior_predictive(ctx: &Ctx) -> Result<Option<Figure>, ReportError> {
    let Some(b) = &ctx.inputs.prior_predictive else {
        return Ok(None);
    };
    let path = ctx.inputs.path("diagnose", "prior_predictive.parquet");
    let days = mmm_core::columns::date_column(b, "date", &path)?;
    let f = |c: &str| f64_column(b, c, &path);
    let (observed, mut mean, mut lower, mut upper) = (
        f("observed")?,
        f("prior_mean")?,
        f("prior_lower")?,
        f("prior_upper")?,
    );
    let t = &ctx.target;
    let clipped = clip_to_data(&observed, [&mut mean, &mut lower, &mut upper]);
    let svg = charts::fit_chart(
        &format!(
            "Prior predictive: {t} drawn from the priors alone, mean and {}% interval",
            ctx.pct()
        ),
        &days,
        &observed,
        &Band {
            name: "prior predictive",
            mean: &mean,
            lower: &lower,
            upper: &upper,
        },
        None,
        t,
    )?;
    let note = if clipped {
        "The band is cut at ten times the data's range so that the data stay visible; it reaches further. "
    } else {
        ""
    };
    Ok(Some(Figure::new(
        "prior-predictive-chart",
        svg,
        format!(
            "{note}What the priors expected before seeing the data. The observed {t} should sit comfortably inside the band; a band far wider than the data means weak priors (harmless with enough data), one that misses the data means priors that rule out what happened."
        ),
    )))
}

fn pareto_k(ctx: &Ctx, ppc: &Ppc) -> Result<Result<Figure, String>, ReportError> {
    let loo = value(&ctx.inputs.diag, "loo");
    let Some(k) = loo.get("pareto_k").and_then(|k| k.as_array()) else {
        return Ok(Err(
            "diagnostics.json records no pointwise Pareto k".to_owned()
        ));
    };
    let k: Vec<f64> = k.iter().map(|v| v.as_f64().unwrap_or(f64::NAN)).collect();
    let days = ppc.train_days();
    if k.len() != days.len() || k.iter().any(|v| !v.is_finite()) {
        return Ok(Err(format!(
            "its {} values are per geo and period, not per period of the chart",
            k.len()
        )));
    }
    let threshold = loo
        .get("k_threshold")
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(0.7);
    let svg = charts::pareto_k_chart(
        "PSIS-LOO: Pareto k of each training period",
        &days,
        &k,
        threshold,
    )?;
    Ok(Ok(Figure::new(
        "pareto-k",
        svg,
        format!(
            "Each dot is one period's Pareto k from leave-one-out cross-validation. Periods above {} (vermillion) are ones the model predicts poorly or that pull the posterior on their own: look at them in the fit chart (outliers, unmodelled events) before trusting elpd_loo or comparing models with it.",
            crate::format::plain(threshold)
        ),
    )))
}

/// The diagnostics section's charts, and why the Pareto k chart is missing when it is.
pub(crate) fn figures(ctx: &Ctx, ppc: &Ppc) -> Result<(Vec<Figure>, Option<String>), ReportError> {
    let mut out: Vec<Figure> = convergence(ctx)?.into_iter().collect();
    out.extend(ranks(ctx)?);
    let k_note = match pareto_k(ctx, ppc)? {
        Ok(f) => {
            out.push(f);
            None
        }
        Err(why) if value(&ctx.inputs.diag, "loo").is_object() => Some(why),
        Err(_) => None,
    };
    Ok((out, k_note))
}

/// The prior-related charts (prior vs posterior, prior predictive).
pub(crate) fn prior_figures(ctx: &Ctx) -> Result<Vec<Figure>, ReportError> {
    let mut out: Vec<Figure> = prior_posterior(ctx)?.into_iter().collect();
    out.extend(prior_predictive(ctx)?);
    Ok(out)
}

/// A row of the sign-stability table: what sign was checked and where that sign comes from.
#[derive(Debug, Serialize)]
pub(crate) struct SignRow {
    coefficient: String,
    /// `positive (spec)`, `positive (sign of the full fit; the spec leaves it free)`.
    checked: String,
    share: f64,
    stable: bool,
}

/// diagnostics.json's sign-stability rows with the source of each checked sign in words.
pub(crate) fn sign_rows(ctx: &Ctx) -> Vec<SignRow> {
    let rows = value(value(&ctx.inputs.diag, "sign_stability"), "rows");
    rows.as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            let sign = value(r, "expected_sign").as_str().unwrap_or("");
            let constrained = value(r, "sign_constrained").as_bool() == Some(true);
            let checked = match value(r, "reference").as_str() {
                Some("full_fit") => {
                    format!("{sign} (the full fit's sign; the spec leaves it free)")
                }
                _ if constrained => format!("{sign} (spec; the prior allows only this sign)"),
                _ => format!("{sign} (spec)"),
            };
            SignRow {
                coefficient: value(r, "coefficient").as_str().unwrap_or("").to_owned(),
                checked,
                share: number(r, "share_expected_sign"),
                stable: value(r, "stable").as_bool().unwrap_or(false),
            }
        })
        .collect()
}
