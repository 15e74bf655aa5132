//! Decisions: the decide stage (per-draw decomposition, contributions, ROI, response curves)
//! and the budget optimizer, scenarios and decision log ([`stages`]), in original units.
//!
//! A channel's contribution is computed per posterior draw as the prediction minus the
//! prediction with that channel's spend set to zero (adstock recomputed), multiplied back to
//! target units. Summaries are over draws: mean, median and the highest-density interval of
//! the spec's `decisions.interval` mass.

use std::path::Path;

pub mod curves;
pub mod decompose;
pub mod optimize;
pub mod plan;
pub mod review;
pub mod stages;

use mmm_core::spec::LoadedSpec;
use mmm_core::summary::{central_interval, hdi, mean, quantile_sorted, sorted};
use mmm_core::{BatchBuilder, CoreError, Manifest, RunStatus, StageWriter, Upstream, schemas};
use mmm_features::Design;
use mmm_model::{MmmModel, Posterior};

/// Name of the stage.
pub const STAGE: &str = "decide";

/// Errors of the decide stage.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The model could not be rebuilt.
    #[error(transparent)]
    Model(#[from] mmm_model::ModelError),
    /// Building an output failed.
    #[error("{0}")]
    Output(String),
    /// The optimizer's constraints cannot all hold.
    #[error(transparent)]
    Infeasible(#[from] optimize::InfeasibleError),
    /// A user-supplied file or option is not usable; the message names file, row, column and rule.
    #[error("{0}")]
    Input(String),
}

/// Per-draw, per-channel metrics over the training window.
#[derive(Debug, Clone)]
pub struct ChannelDraws {
    /// Channel name.
    pub channel: String,
    /// Contribution per draw (target units).
    pub contribution: Vec<f64>,
    /// Share of all channels' contribution per draw.
    pub share: Vec<f64>,
    /// Contribution / spend per draw.
    pub roas: Vec<f64>,
    /// (margin x contribution - spend) / spend per draw.
    pub roi: Vec<f64>,
    /// d contribution / d spend at the current spend per draw.
    pub marginal_roas: Vec<f64>,
    /// Spend over the window (currency).
    pub spend: f64,
}

/// Channel totals over the first `n_train` periods, per draw.
fn channel_totals(
    design: &Design,
    dec: &decompose::Decomposition,
    model: &MmmModel,
    thetas: &[Vec<f64>],
    margin: f64,
) -> Vec<ChannelDraws> {
    let nt = design.n_train;
    let draws = thetas.len();
    let contributions: Vec<Vec<f64>> = dec.series
        [dec.first_channel..dec.first_channel + dec.channels]
        .iter()
        .map(|wc| {
            (0..draws)
                .map(|k| wc[..nt].iter().map(|w| w[k]).sum())
                .collect()
        })
        .collect();
    let totals: Vec<f64> = (0..draws)
        .map(|k| contributions.iter().map(|c| c[k]).sum())
        .collect();
    design
        .channel_names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let spend: f64 = design.spend(c)[..nt].iter().sum();
            let contribution = contributions[c].clone();
            ChannelDraws {
                channel: name.clone(),
                share: contribution
                    .iter()
                    .zip(&totals)
                    .map(|(x, t)| x / t)
                    .collect(),
                roas: contribution.iter().map(|x| x / spend).collect(),
                roi: contribution
                    .iter()
                    .map(|x| (margin * x - spend) / spend)
                    .collect(),
                marginal_roas: curves::marginal_roas(
                    model,
                    thetas,
                    c,
                    1.0,
                    design.scales.target,
                    spend,
                ),
                contribution,
                spend,
            }
        })
        .collect()
}

/// Summary row values: mean, median, HDI.
fn summarize(values: &[f64], interval: f64) -> [f64; 4] {
    let (lo, hi) = hdi(values, interval);
    [mean(values), quantile_sorted(&sorted(values), 0.5), lo, hi]
}

/// The decide stage: writes contributions.parquet, decomposition.parquet, roi.parquet,
/// curves.parquet and summary.json.
pub fn run(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    diagnose_dir: &Path,
    out_dir: &Path,
    force: bool,
) -> Result<Option<Manifest>, DecideError> {
    let features = Upstream::open(features_dir, mmm_features::STAGE)?;
    let fit = Upstream::open(fit_dir, "fit")?;
    let diagnose = Upstream::open(diagnose_dir, "diagnose")?;
    let (design, mut inputs) = Design::load(&features, &spec.spec)?;
    let (draws, rec_d) = fit.parquet("draws.parquet")?;
    let (diag, rec_g): (serde_json::Value, _) = diagnose.json("diagnostics.json")?;
    inputs.extend([rec_d, rec_g]);
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        &spec.sha256,
        inputs,
        force,
    )?
    else {
        return Ok(None);
    };
    let not_for_decisions = diag
        .get("not_for_decisions")
        .and_then(|v| v.as_bool())
        .unwrap_or(true);
    let model = MmmModel::new(&spec.spec, &design)?;
    let posterior = Posterior::from_batch(&draws, &model, &fit_dir.join("draws.parquet"))?;
    let thetas = &posterior.theta;
    let settings_d = &spec.spec.decisions;
    let (interval, margin, hurdle) = (settings_d.interval, settings_d.margin, settings_d.hurdle);
    let dec = decompose::decompose(&model, &design, thetas)?;
    let baseline_check = decompose::baseline_check(&dec, &design.dates);
    if !baseline_check.passed {
        tracing::warn!(
            weeks = baseline_check.weeks_negative_mean,
            "the baseline (every channel at zero) is negative in some weeks"
        );
    }
    let channels = channel_totals(&design, &dec, &model, thetas, margin);
    let out = |e: arrow::error::ArrowError| DecideError::Output(e.to_string());

    // contributions.parquet: draw x channel.
    let nd = posterior.len();
    let per_draw = |f: &dyn Fn(&ChannelDraws) -> Vec<f64>| -> Vec<f64> {
        channels.iter().flat_map(f).collect()
    };
    let contributions = BatchBuilder::new()
        .i64(
            "chain",
            channels
                .iter()
                .flat_map(|_| posterior.chain.iter().copied())
                .collect(),
        )
        .i64(
            "draw",
            channels
                .iter()
                .flat_map(|_| posterior.draw.iter().copied())
                .collect(),
        )
        .string(
            "channel",
            channels
                .iter()
                .flat_map(|c| std::iter::repeat_n(c.channel.clone(), nd))
                .collect(),
        )
        .f64("contribution", per_draw(&|c| c.contribution.clone()))
        .f64("spend", per_draw(&|c| vec![c.spend; nd]))
        .f64("share", per_draw(&|c| c.share.clone()))
        .f64("roas", per_draw(&|c| c.roas.clone()))
        .f64("roi", per_draw(&|c| c.roi.clone()))
        .f64("marginal_roas", per_draw(&|c| c.marginal_roas.clone()))
        .build()
        .map_err(out)?;

    // decomposition.parquet: period x component.
    let n = design.len();
    let rows: Vec<[f64; 4]> = mmm_core::parallel::map_indexed(n * dec.names.len(), 16, |i| {
        let values = &dec.series[i % dec.names.len()][i / dec.names.len()];
        let (lo, hi) = hdi(values, interval);
        let negative = values.iter().filter(|v| **v < 0.0).count() as f64 / nd.max(1) as f64;
        [mean(values), lo, hi, negative]
    });
    let d_date: Vec<i32> = (0..rows.len())
        .map(|i| design.dates[i / dec.names.len()])
        .collect();
    let d_comp: Vec<String> = (0..rows.len())
        .map(|i| dec.names[i % dec.names.len()].clone())
        .collect();
    let column = |j: usize| rows.iter().map(|r| r[j]).collect::<Vec<f64>>();
    let (d_mean, d_lo, d_hi, d_neg) = (column(0), column(1), column(2), column(3));
    let decomposition = BatchBuilder::new()
        .date("date", d_date)
        .string("component", d_comp)
        .f64("mean", d_mean)
        .f64("lower", d_lo)
        .f64("upper", d_hi)
        .f64("share_negative", d_neg)
        .build()
        .map_err(out)?;

    // curves.parquet: channel x spend multiplier, and the spend where marginal ROI meets the hurdle.
    let grid = curves::multipliers();
    let (mut cv_ch, mut cv_m, mut cv_s) = (vec![], vec![], vec![]);
    let mut cv_cols: [Vec<f64>; 7] = Default::default();
    let mut at_hurdle = Vec::new();
    for (c, ch) in channels.iter().enumerate() {
        let curve = curves::response_grid(&model, thetas, c, &grid, design.scales.target);
        for (i, (m, values)) in grid.iter().zip(&curve).enumerate() {
            let s = sorted(values);
            let (lo, hi) = hdi(values, interval);
            let (lo50, hi50) = hdi(values, 0.5);
            // Marginal ROI of the mean curve by central differences on the grid.
            let (a, b) = (i.saturating_sub(1), (i + 1).min(grid.len() - 1));
            let slope = (mean(&curve[b]) - mean(&curve[a])) / ((grid[b] - grid[a]) * ch.spend);
            cv_ch.push(ch.channel.clone());
            cv_m.push(*m);
            cv_s.push(m * ch.spend);
            for (col, v) in cv_cols.iter_mut().zip([
                mean(values),
                quantile_sorted(&s, 0.5),
                lo50,
                hi50,
                lo,
                hi,
                margin * slope - 1.0,
            ]) {
                col.push(v);
            }
        }
        at_hurdle.push(curves::spend_at_hurdle(
            &curve, &grid, ch.spend, margin, hurdle,
        ));
    }
    let [cv_mean, cv_med, cv_lo50, cv_hi50, cv_lo, cv_hi, cv_mroi] = cv_cols;
    let curves_batch = BatchBuilder::new()
        .string("channel", cv_ch)
        .f64("multiplier", cv_m)
        .f64("spend", cv_s)
        .f64("mean", cv_mean)
        .f64("median", cv_med)
        .f64("lower_50", cv_lo50)
        .f64("upper_50", cv_hi50)
        .f64("lower", cv_lo)
        .f64("upper", cv_hi)
        .f64("marginal_roi", cv_mroi)
        .build()
        .map_err(out)?;

    // roi.parquet: channel x metric.
    let (mut r_ch, mut r_metric, mut r_vals) = (vec![], vec![], Vec::<[f64; 4]>::new());
    for (c, hurdle_spend) in channels.iter().zip(&at_hurdle) {
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
        for (metric, v) in rows {
            r_ch.push(c.channel.clone());
            r_metric.push(metric.to_string());
            r_vals.push(v);
        }
    }
    let rows = r_ch.len();
    let col = |i: usize| r_vals.iter().map(|v| v[i]).collect::<Vec<f64>>();
    let roi = BatchBuilder::new()
        .string("channel", r_ch)
        .string("metric", r_metric)
        .f64("mean", col(0))
        .f64("median", col(1))
        .f64("lower", col(2))
        .f64("upper", col(3))
        .f64("interval", vec![interval; rows])
        .build()
        .map_err(out)?;

    // Component totals over the training window.
    let nt = design.n_train;
    let component_totals: Vec<serde_json::Value> = dec
        .names
        .iter()
        .zip(&dec.series)
        .map(|(name, s)| {
            let per_draw: Vec<f64> = (0..nd).map(|k| s[..nt].iter().map(|w| w[k]).sum()).collect();
            let [m, med, lo, hi] = summarize(&per_draw, interval);
            serde_json::json!({"component": name, "mean": m, "median": med, "lower": lo, "upper": hi})
        })
        .collect();
    // Each lift test beside the model's lift for its window, per draw.
    let lift_tests: Vec<serde_json::Value> = if spec.spec.lift_tests.is_empty() {
        Vec::new()
    } else {
        let per_draw: Vec<Vec<f64>> = thetas
            .iter()
            .map(|theta| model.lift_test_predictions(theta))
            .collect();
        spec.spec
            .lift_tests
            .iter()
            .enumerate()
            .map(|(i, test)| {
                let lift: Vec<f64> = per_draw
                    .iter()
                    .map(|l| l[i] * design.scales.target)
                    .collect();
                let [m, med, lo, hi] = summarize(&lift, interval);
                serde_json::json!({
                    "channel": test.channel,
                    "start": test.start,
                    "end": test.end,
                    "measured": test.lift,
                    "standard_error": test.standard_error,
                    "model": {"mean": m, "median": med, "lower": lo, "upper": hi},
                    "z": (m - test.lift) / test.standard_error,
                })
            })
            .collect()
    };
    let summary = serde_json::json!({
        "baseline_check": baseline_check,
        "lift_tests": lift_tests,
        "component_totals_training_window": component_totals,
        "margin": margin,
        "hurdle": hurdle,
        "interval": interval,
        "not_for_decisions": not_for_decisions,
    });

    writer.write_parquet(
        "contributions.parquet",
        &contributions,
        &schemas::contributions(),
    )?;
    writer.write_parquet(
        "decomposition.parquet",
        &decomposition,
        &schemas::decomposition(),
    )?;
    writer.write_parquet("roi.parquet", &roi, &schemas::roi())?;
    writer.write_parquet("curves.parquet", &curves_batch, &schemas::curves())?;
    writer.write_json("summary.json", &summary, None)?;
    let mut settings = serde_json::json!({
        "interval": interval,
        "interval_kind": "highest-density interval over posterior draws (spend_at_hurdle: central interval)",
        "window": "training window",
        "contribution": "prediction minus prediction with the channel's spend set to zero, adstock recomputed, times scales.target",
        "roi": "(margin x contribution - spend) / spend",
        "lift_tests": "model lift = expected target minus expected target with the channel's spend at zero inside the test window only, summed over the window; calibrated fits include each test as lift ~ Normal(model lift, standard_error)",
        "marginal_roas": "central difference of the channel's response (training window plus carry-out) at 0.99x and 1.01x its spend",
        "curves": "response to m x the training spend (weekly pattern kept), m = 0..2 step 0.05, training window plus carry-out",
        "margin": margin,
        "hurdle": hurdle,
        "not_for_decisions": not_for_decisions,
    });
    if let Some(start) = &spec.spec.data.start {
        settings["carry_in"] = format!(
            "spend before data.start = {start} carries into the first periods through adstock; \
             a channel's counterfactual zeroes that spend too, so its contribution includes the \
             carry-in and the decomposition adds up, while spend (the ROAS and ROI denominator) \
             is the training window's only; curves and marginal ROAS keep the carry-in as \
             observed and vary the window's spend"
        )
        .into();
    }
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}
