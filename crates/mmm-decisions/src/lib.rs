//! The decide stage: per-draw counterfactual contributions, shares and ROAS, in original units.
//!
//! A channel's contribution is computed per posterior draw as the prediction minus the
//! prediction with that channel's spend set to zero (adstock recomputed), multiplied back to
//! target units. Summaries are over draws: mean, median and the highest-density interval of
//! the spec's `decisions.interval` mass.

use std::path::Path;

use mmm_core::spec::LoadedSpec;
use mmm_core::summary::{hdi, mean, quantile_sorted, sorted};
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
}

/// Per-draw, per-channel totals over the training window.
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
    /// Spend over the window (currency).
    pub spend: f64,
}

/// Weekly counterfactual decomposition per draw: `weekly[c][t][k]` is the contribution of
/// channel c in period t for draw k; `baseline[t][k]` the prediction with every channel at zero.
struct Decomposition {
    baseline: Vec<Vec<f64>>,
    weekly: Vec<Vec<Vec<f64>>>,
}

fn decompose(model: &MmmModel, posterior: &Posterior, scale: f64) -> Decomposition {
    let n = model.periods();
    let channels = model.channel_names().len();
    let draws = posterior.len();
    let all: Vec<usize> = (0..channels).collect();
    let mut baseline = vec![vec![0.0; draws]; n];
    let mut weekly = vec![vec![vec![0.0; draws]; n]; channels];
    let mut without_all = vec![0.0; n];
    let mut terms = vec![vec![0.0; n]; channels];
    let mut full = vec![0.0; n];
    for (k, theta) in posterior.theta.iter().enumerate() {
        // Every channel's spend at zero: the baseline (adstock of zero spend is zero).
        model.predict_mean(theta, &all, &mut without_all);
        full.copy_from_slice(&without_all);
        for (c, term) in terms.iter_mut().enumerate() {
            model.channel_term(theta, c, term);
            for (f, v) in full.iter_mut().zip(term.iter()) {
                *f += v;
            }
        }
        for t in 0..n {
            baseline[t][k] = without_all[t] * scale;
        }
        // Counterfactual for channel c: its spend at zero zeroes its term, so the prediction
        // without it is full - term_c; the contribution is the difference on the response scale.
        for (wc, term) in weekly.iter_mut().zip(&terms) {
            for t in 0..n {
                let counterfactual = full[t] - term[t];
                wc[t][k] = (full[t] - counterfactual) * scale;
            }
        }
    }
    Decomposition { baseline, weekly }
}

/// Channel totals over the first `n_train` periods, per draw.
fn channel_totals(design: &Design, dec: &Decomposition, draws: usize) -> Vec<ChannelDraws> {
    let nt = design.n_train;
    let contributions: Vec<Vec<f64>> = dec
        .weekly
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
                contribution,
                spend,
            }
        })
        .collect()
}

/// The decide stage: writes contributions.parquet, decomposition.parquet and roi.parquet.
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
    let dec = decompose(&model, &posterior, design.scales.target);
    let channels = channel_totals(&design, &dec, posterior.len());
    let interval = spec.spec.decisions.interval;
    let out = |e: arrow::error::ArrowError| DecideError::Output(e.to_string());

    // contributions.parquet: draw x channel.
    let nd = posterior.len();
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
        .f64(
            "contribution",
            channels
                .iter()
                .flat_map(|c| c.contribution.iter().copied())
                .collect(),
        )
        .f64(
            "spend",
            channels
                .iter()
                .flat_map(|c| std::iter::repeat_n(c.spend, nd))
                .collect(),
        )
        .f64(
            "share",
            channels
                .iter()
                .flat_map(|c| c.share.iter().copied())
                .collect(),
        )
        .f64(
            "roas",
            channels
                .iter()
                .flat_map(|c| c.roas.iter().copied())
                .collect(),
        )
        .build()
        .map_err(out)?;

    // decomposition.parquet: period x component.
    let n = design.len();
    let mut comp_names = vec!["baseline".to_string()];
    comp_names.extend(design.channel_names.iter().cloned());
    let series: Vec<&Vec<Vec<f64>>> = std::iter::once(&dec.baseline)
        .chain(dec.weekly.iter())
        .collect();
    let (mut d_date, mut d_comp, mut d_mean, mut d_lo, mut d_hi) =
        (vec![], vec![], vec![], vec![], vec![]);
    for t in 0..n {
        for (name, s) in comp_names.iter().zip(&series) {
            let (lo, hi) = hdi(&s[t], interval);
            d_date.push(design.dates[t]);
            d_comp.push(name.clone());
            d_mean.push(mean(&s[t]));
            d_lo.push(lo);
            d_hi.push(hi);
        }
    }
    let decomposition = BatchBuilder::new()
        .date("date", d_date)
        .string("component", d_comp)
        .f64("mean", d_mean)
        .f64("lower", d_lo)
        .f64("upper", d_hi)
        .build()
        .map_err(out)?;

    // roi.parquet: channel x metric.
    let (mut r_ch, mut r_metric, mut r_mean, mut r_med, mut r_lo, mut r_hi) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for c in &channels {
        let spend = vec![c.spend];
        for (metric, values) in [
            ("contribution", &c.contribution),
            ("share", &c.share),
            ("roas", &c.roas),
            ("spend", &spend),
        ] {
            let (lo, hi) = hdi(values, interval);
            r_ch.push(c.channel.clone());
            r_metric.push(metric.to_string());
            r_mean.push(mean(values));
            r_med.push(quantile_sorted(&sorted(values), 0.5));
            r_lo.push(lo);
            r_hi.push(hi);
        }
    }
    let rows = r_ch.len();
    let roi = BatchBuilder::new()
        .string("channel", r_ch)
        .string("metric", r_metric)
        .f64("mean", r_mean)
        .f64("median", r_med)
        .f64("lower", r_lo)
        .f64("upper", r_hi)
        .f64("interval", vec![interval; rows])
        .build()
        .map_err(out)?;

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
    let settings = serde_json::json!({
        "interval": interval,
        "interval_kind": "highest-density interval over posterior draws",
        "window": "training window",
        "contribution": "prediction minus prediction with the channel's spend set to zero, adstock recomputed, times scales.target",
        "not_for_decisions": not_for_decisions,
    });
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}
