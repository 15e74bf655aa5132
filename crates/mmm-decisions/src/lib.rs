//! Decisions: the decide stage (per-draw decomposition, contributions, ROI, response curves)
//! and the budget optimizer, scenarios and decision log ([`stages`]), in original units.
//!
//! A channel's contribution is computed per posterior draw as the prediction minus the
//! prediction with that channel's spend set to zero (adstock recomputed), multiplied back to
//! target units. Summaries are over draws: mean, median and the highest-density interval of
//! the spec's `decisions.interval` mass.

use std::path::Path;

pub use mmm_model::curves;
pub mod decompose;
pub mod ensemble;
pub mod experiment;
mod geo_optimize;
mod mediation;
pub mod optimize;
pub mod plan;
pub mod planner;
pub mod review;
pub mod stages;
mod tables;

use arrow::array::RecordBatch;
use mmm_core::spec::LoadedSpec;
use mmm_core::summary::{hdi, mean, quantile_sorted, sorted};
use mmm_core::{
    BatchBuilder, CoreError, FileRecord, Manifest, RunStatus, StageWriter, Upstream, schemas,
};

use crate::decompose::{GeoDecomposition, decomposition_rows};
use mmm_features::Design;
use mmm_features::panel::GeoDesign;
use mmm_model::geo::GeoModel;
use mmm_model::{MmmModel, Posterior};

/// Name of the stage.
pub const STAGE: &str = mmm_core::Stage::Decide.name();

/// Errors of the decide stage.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The model could not be rebuilt.
    #[error(transparent)]
    Model(#[from] mmm_model::ModelError),
    /// The model lacks a parameter or design column the decomposition reads.
    #[error("the model has no {what} '{name}' to decompose")]
    MissingTerm {
        /// `parameter` or `mediator column`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// The components of the decomposition do not add up to the model's prediction.
    #[error(
        "decomposition does not add up to the model's prediction at period {period} \
         ({sum} vs {prediction}); the model form is not additive"
    )]
    NotAdditive {
        /// The period.
        period: usize,
        /// Sum of the components.
        sum: f64,
        /// The model's mean prediction.
        prediction: f64,
    },
    /// An output table could not be assembled.
    #[error("building an output table: {0}")]
    Table(#[from] arrow::error::ArrowError),
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
    /// For a channel acting through a mediator: the part of `contribution` that passes
    /// through the mediators per draw (target units; the direct part is the rest).
    pub mediated: Option<Vec<f64>>,
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
            let mediated = model.is_mediated(c).then(|| {
                let scale = design.scales.target;
                let total = |theta: &Vec<f64>| model.mediated_total(theta, c, 0..nt) * scale;
                thetas.iter().map(total).collect()
            });
            ChannelDraws {
                mediated,
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

/// Everything the decide stage computes for one unit (the national model, or one geo), per
/// draw, in the unit's original units.
pub(crate) struct UnitResult {
    channels: Vec<ChannelDraws>,
    dec: decompose::Decomposition,
    /// Per channel, per spend multiplier of the grid, per draw: the response.
    curves: Vec<Vec<Vec<f64>>>,
}

/// One unit's decomposition, channel totals and response curves over all draws.
fn unit_result(
    model: &MmmModel,
    design: &Design,
    thetas: &[Vec<f64>],
    margin: f64,
    grid: &[f64],
) -> Result<UnitResult, DecideError> {
    let dec = decompose::decompose(model, design, thetas)?;
    let channels = channel_totals(design, &dec, model, thetas, margin);
    let curves = (0..channels.len())
        .map(|c| curves::response_grid(model, thetas, c, grid, design.scales.target))
        .collect();
    Ok(UnitResult {
        channels,
        dec,
        curves,
    })
}

/// Geos summed per draw into national values.
#[derive(Default)]
struct Rollup {
    units: usize,
    total: Option<UnitResult>,
    /// Per channel and draw: sum over geos of marginal ROAS x spend.
    marginal_spend: Vec<Vec<f64>>,
}

impl Rollup {
    fn add(&mut self, unit: UnitResult) {
        self.units += 1;
        let weighted: Vec<Vec<f64>> = unit
            .channels
            .iter()
            .map(|c| c.marginal_roas.iter().map(|m| m * c.spend).collect())
            .collect();
        let Some(total) = &mut self.total else {
            self.marginal_spend = weighted;
            self.total = Some(unit);
            return;
        };
        for (acc, w) in self.marginal_spend.iter_mut().zip(&weighted) {
            add_into(acc, w);
        }
        for (t, u) in total.channels.iter_mut().zip(&unit.channels) {
            add_into(&mut t.contribution, &u.contribution);
            t.spend += u.spend;
        }
        for (t, u) in total.dec.series.iter_mut().zip(&unit.dec.series) {
            for (tw, uw) in t.iter_mut().zip(u) {
                add_into(tw, uw);
            }
        }
        for (t, u) in total.curves.iter_mut().zip(&unit.curves) {
            for (tm, um) in t.iter_mut().zip(u) {
                add_into(tm, um);
            }
        }
    }

    /// The national unit: contributions, decomposition and curves summed per draw; shares,
    /// ROAS, ROI and marginal ROAS recomputed from the sums.
    fn finish(self, margin: f64) -> UnitResult {
        let Some(mut total) = self.total else {
            unreachable!("a geo hierarchy has at least two geos");
        };
        let draws = total.channels.first().map_or(0, |c| c.contribution.len());
        let sums: Vec<f64> = (0..draws)
            .map(|k| total.channels.iter().map(|c| c.contribution[k]).sum())
            .collect();
        for (c, marginal) in total.channels.iter_mut().zip(&self.marginal_spend) {
            let spend = c.spend;
            c.share = c
                .contribution
                .iter()
                .zip(&sums)
                .map(|(x, t)| x / t)
                .collect();
            c.roas = c.contribution.iter().map(|x| x / spend).collect();
            c.roi = c
                .contribution
                .iter()
                .map(|x| (margin * x - spend) / spend)
                .collect();
            c.marginal_roas = marginal.iter().map(|m| m / spend).collect();
        }
        total
    }
}

/// `acc += values`, element by element.
fn add_into(acc: &mut [f64], values: &[f64]) {
    for (a, v) in acc.iter_mut().zip(values) {
        *a += v;
    }
}

/// Summary row values: mean, median, HDI.
fn summarize(values: &[f64], interval: f64) -> [f64; 4] {
    let (lo, hi) = hdi(values, interval);
    [mean(values), quantile_sorted(&sorted(values), 0.5), lo, hi]
}

/// The decide stage's settings: the spec's interval, margin and hurdle, and the spend
/// multipliers of the response curves.
struct DecideSettings {
    interval: f64,
    margin: f64,
    hurdle: f64,
    grid: Vec<f64>,
}

impl DecideSettings {
    /// The spec's `decisions` settings and the curves' grid.
    fn new(spec: &LoadedSpec) -> Self {
        let d = &spec.spec.decisions;
        Self {
            interval: d.interval,
            margin: d.margin,
            hurdle: d.hurdle,
            grid: curves::multipliers(),
        }
    }
}

/// What the decide stage reads: the national design (and every geo's under a hierarchy), the
/// draws and the diagnose stage's verdict, with the upstream stages and the input records for
/// the manifest.
struct DecideInputs {
    /// The features, fit and diagnose stages read.
    upstream: [Upstream; 3],
    design: Design,
    /// Every geo's design, under a geo hierarchy.
    panel: Option<GeoDesign>,
    draws: RecordBatch,
    diagnostics: serde_json::Value,
    records: Vec<FileRecord>,
}

impl DecideInputs {
    /// Open the features, fit and diagnose stages as one chain and read their artifacts.
    fn load(
        spec: &LoadedSpec,
        features_dir: &Path,
        fit_dir: &Path,
        diagnose_dir: &Path,
    ) -> Result<Self, DecideError> {
        let upstream = mmm_core::open_chain(
            spec.into(),
            [
                (features_dir, mmm_features::STAGE),
                (fit_dir, "fit"),
                (diagnose_dir, "diagnose"),
            ],
        )?;
        let [features, fit, diagnose] = &upstream;
        let (design, mut records) = Design::load(features, &spec.spec)?;
        let panel = if spec.spec.geo.is_hierarchical() {
            let (panel, geo_records) = GeoDesign::load(features, &spec.spec)?;
            records.extend(geo_records);
            Some(panel)
        } else {
            None
        };
        let (draws, draws_record) = fit.parquet("draws.parquet")?;
        let (diagnostics, diagnostics_record) = diagnose.json("diagnostics.json")?;
        records.extend([draws_record, diagnostics_record]);
        Ok(Self {
            upstream,
            design,
            panel,
            draws,
            diagnostics,
            records,
        })
    }
}

/// The diagnose stage's verdict; a missing one counts as not for decisions.
fn not_for_decisions(diagnostics: &serde_json::Value) -> bool {
    diagnostics
        .get("not_for_decisions")
        .and_then(|v| v.as_bool())
        .unwrap_or(true)
}

/// The posterior evaluated per draw: the national unit (under a hierarchy the geos' per-draw
/// sums) and, under a hierarchy, every geo's rows.
struct Evaluation {
    posterior: Posterior,
    national: UnitResult,
    /// Per lift test (each names its geo or geos), the hierarchy's lift per draw in target
    /// units; `None` where the national model binds the test.
    geo_lift: Vec<Option<Vec<f64>>>,
    geo: Option<GeoOutputs>,
}

/// The national model's results per draw.
fn evaluate_national(
    spec: &LoadedSpec,
    model: &MmmModel,
    design: &Design,
    draws: &RecordBatch,
    draws_path: &Path,
    s: &DecideSettings,
) -> Result<Evaluation, DecideError> {
    let posterior = Posterior::from_batch(draws, model, draws_path)?;
    let national = unit_result(model, design, &posterior.theta, s.margin, &s.grid)?;
    Ok(Evaluation {
        posterior,
        national,
        geo_lift: vec![None; spec.spec.lift_tests.len()],
        geo: None,
    })
}

/// Every geo's results from its own parameters per draw, and the national unit as their
/// per-draw sums.
fn evaluate_geos(
    spec: &LoadedSpec,
    panel: &GeoDesign,
    draws: &RecordBatch,
    draws_path: &Path,
    s: &DecideSettings,
) -> Result<Evaluation, DecideError> {
    let hierarchy = GeoModel::new(&spec.spec, panel)?;
    let posterior = Posterior::from_columns(draws, &hierarchy.param_names(), draws_path)?;
    let mut rollup = Rollup::default();
    let mut geo = GeoOutputs {
        tables: tables::Tables::new(true),
        decomposition: GeoDecomposition::default(),
    };
    for (g, (name, d)) in panel.geos.iter().zip(&panel.designs).enumerate() {
        let thetas: Vec<Vec<f64>> = posterior
            .theta
            .iter()
            .map(|t| hierarchy.geo_theta(t, g))
            .collect();
        let unit = unit_result(hierarchy.member(g), d, &thetas, s.margin, &s.grid)?;
        geo.tables.push_unit(
            name, &unit, &posterior, &s.grid, s.interval, s.margin, s.hurdle,
        );
        geo.decomposition
            .push(name, decomposition_rows(&unit.dec, &d.dates, s.interval));
        rollup.add(unit);
    }
    let geo_lift = geo_lift_tests(spec, &hierarchy, &posterior);
    Ok(Evaluation {
        posterior,
        national: rollup.finish(s.margin),
        geo_lift,
        geo: Some(geo),
    })
}

/// Per lift test (each names its geo or geos), the hierarchy's lift per draw in target units.
fn geo_lift_tests(
    spec: &LoadedSpec,
    hierarchy: &GeoModel,
    posterior: &Posterior,
) -> Vec<Option<Vec<f64>>> {
    let mut geo_lift: Vec<Option<Vec<f64>>> = vec![None; spec.spec.lift_tests.len()];
    if !spec.spec.lift_tests.is_empty() {
        let per_draw: Vec<Vec<f64>> = (posterior.theta.iter())
            .map(|t| hierarchy.lift_test_predictions(t))
            .collect();
        for (i, lift) in geo_lift.iter_mut().enumerate() {
            *lift = Some(per_draw.iter().map(|l| l[i]).collect());
        }
    }
    geo_lift
}

/// The baseline check; a negative baseline in some weeks is logged as a warning.
fn checked_baseline(dec: &decompose::Decomposition, dates: &[i32]) -> decompose::BaselineCheck {
    let baseline_check = decompose::baseline_check(dec, dates);
    if !baseline_check.passed {
        tracing::warn!(
            weeks = baseline_check.weeks_negative_mean,
            "the baseline (every channel at zero) is negative in some weeks"
        );
    }
    baseline_check
}

/// Each component's total over the first `nt` periods (the training window), summarized over
/// the `nd` draws.
fn component_totals(
    dec: &decompose::Decomposition,
    nt: usize,
    nd: usize,
    interval: f64,
) -> Vec<serde_json::Value> {
    dec.names
        .iter()
        .zip(&dec.series)
        .map(|(name, s)| {
            let per_draw: Vec<f64> = (0..nd).map(|k| s[..nt].iter().map(|w| w[k]).sum()).collect();
            let [m, med, lo, hi] = summarize(&per_draw, interval);
            serde_json::json!({"component": name, "mean": m, "median": med, "lower": lo, "upper": hi})
        })
        .collect()
}

/// Each lift test beside the model's lift for its window, per draw: the hierarchy's from
/// `geo_lift` where it binds the test, else the national model's.
fn lift_test_rows(
    spec: &LoadedSpec,
    model: &MmmModel,
    design: &Design,
    thetas: &[Vec<f64>],
    mut geo_lift: Vec<Option<Vec<f64>>>,
    interval: f64,
) -> Vec<serde_json::Value> {
    if spec.spec.lift_tests.is_empty() {
        return Vec::new();
    }
    // The national model binds the tests without a geo, in spec order.
    let per_draw: Vec<Vec<f64>> = thetas
        .iter()
        .map(|theta| model.lift_test_predictions(theta))
        .collect();
    let mut national_index = 0;
    spec.spec
        .lift_tests
        .iter()
        .enumerate()
        .map(|(i, test)| {
            let lift: Vec<f64> = match geo_lift[i].take() {
                Some(lift) => lift,
                None => {
                    let k = national_index;
                    national_index += 1;
                    per_draw
                        .iter()
                        .map(|l| l.get(k).copied().unwrap_or(f64::NAN) * design.scales.target)
                        .collect()
                }
            };
            lift_test_row(test, &lift, interval)
        })
        .collect()
}

/// One lift test's row of summary.json: the measurement and the model's lift summarized.
fn lift_test_row(
    test: &mmm_core::spec::LiftTestSpec,
    lift: &[f64],
    interval: f64,
) -> serde_json::Value {
    let [m, med, lo, hi] = summarize(lift, interval);
    let mut row = serde_json::json!({
        "channel": test.channel,
        "start": test.start,
        "end": test.end,
        "measured": test.lift,
        "standard_error": test.standard_error,
        "model": {"mean": m, "median": med, "lower": lo, "upper": hi},
        "z": (m - test.lift) / test.standard_error,
    });
    if let Some(geo) = &test.geo {
        row["geo"] = serde_json::json!(geo);
    }
    if !test.geos.is_empty() {
        row["geos"] = serde_json::json!(test.geos);
    }
    row
}

/// The national outputs, all built before any is written.
struct NationalOutputs {
    contributions: RecordBatch,
    decomposition: RecordBatch,
    roi: RecordBatch,
    curves: RecordBatch,
    summary: serde_json::Value,
}

impl NationalOutputs {
    /// contributions.parquet (draw x channel), curves.parquet (channel x spend multiplier),
    /// roi.parquet (channel x metric), decomposition.parquet (period x component) and
    /// summary.json from the national unit.
    fn build(
        spec: &LoadedSpec,
        model: &MmmModel,
        design: &Design,
        evaluation: Evaluation,
        not_for_decisions: bool,
        s: &DecideSettings,
    ) -> Result<(Self, Option<GeoOutputs>), DecideError> {
        let Evaluation {
            posterior,
            national,
            geo_lift,
            geo,
        } = evaluation;
        let UnitResult {
            channels,
            dec,
            curves: unit_curves,
        } = national;
        let baseline_check = checked_baseline(&dec, &design.dates);
        let channel_summary = mediation::summary(&channels, &spec.spec, s.interval);
        let mut tables = tables::Tables::new(false);
        let unit = UnitResult {
            channels,
            dec: decompose::Decomposition::default(),
            curves: unit_curves,
        };
        let (interval, margin, hurdle) = (s.interval, s.margin, s.hurdle);
        tables.push_unit("", &unit, &posterior, &s.grid, interval, margin, hurdle);
        let (contributions, curves, roi) =
            (tables.contributions()?, tables.curves()?, tables.roi()?);
        let decomposition =
            decomposition_rows(&dec, &design.dates, interval).into_batch(BatchBuilder::new())?;
        let component_totals = component_totals(&dec, design.n_train, posterior.len(), interval);
        let thetas = &posterior.theta;
        let lift_tests = lift_test_rows(spec, model, design, thetas, geo_lift, interval);
        let mut summary = serde_json::json!({
            "baseline_check": baseline_check,
            "lift_tests": lift_tests,
            "component_totals_training_window": component_totals,
            "margin": margin,
            "hurdle": hurdle,
            "interval": interval,
            "not_for_decisions": not_for_decisions,
        });
        summary["channels"] = serde_json::json!(channel_summary);
        let outputs = Self {
            contributions,
            decomposition,
            roi,
            curves,
            summary,
        };
        Ok((outputs, geo))
    }

    /// Write the national tables and summary.json.
    fn write(self, writer: &mut StageWriter) -> Result<(), DecideError> {
        writer.write_parquet(
            "contributions.parquet",
            &self.contributions,
            &schemas::contributions(),
        )?;
        writer.write_parquet(
            "decomposition.parquet",
            &self.decomposition,
            &schemas::decomposition(),
        )?;
        writer.write_parquet("roi.parquet", &self.roi, &schemas::roi())?;
        writer.write_parquet("curves.parquet", &self.curves, &schemas::curves())?;
        writer.write_json("summary.json", &self.summary, None)?;
        Ok(())
    }
}

/// Every geo's rows under a hierarchy: contributions, ROI and curves, and decomposition.
struct GeoOutputs {
    tables: tables::Tables,
    decomposition: GeoDecomposition,
}

impl GeoOutputs {
    /// Write geo_contributions, geo_roi, geo_curves and geo_decomposition (.parquet).
    fn write(self, writer: &mut StageWriter) -> Result<(), DecideError> {
        let GeoOutputs {
            tables,
            decomposition,
        } = self;
        writer.write_parquet(
            "geo_contributions.parquet",
            &tables.contributions()?,
            &schemas::geo_contributions(),
        )?;
        writer.write_parquet("geo_roi.parquet", &tables.roi()?, &schemas::geo_roi())?;
        writer.write_parquet(
            "geo_curves.parquet",
            &tables.curves()?,
            &schemas::geo_curves(),
        )?;
        let geo_rows = decomposition.rows.len();
        writer.write_parquet(
            "geo_decomposition.parquet",
            &decomposition
                .rows
                .into_batch(BatchBuilder::new().string("geo", decomposition.geo))?,
            &schemas::geo_decomposition(),
        )?;
        tracing::debug!(rows = geo_rows, "wrote geo_decomposition.parquet");
        Ok(())
    }
}

/// The decide stage's settings for the manifest: every definition behind its outputs.
fn decide_settings(
    spec: &LoadedSpec,
    s: &DecideSettings,
    not_for_decisions: bool,
    hierarchical: bool,
) -> serde_json::Value {
    let (interval, margin, hurdle) = (s.interval, s.margin, s.hurdle);
    let mut settings = serde_json::json!({
        "interval": interval,
        "interval_kind": "highest-density interval over posterior draws (spend_at_hurdle: central interval)",
        "window": "training window",
        "contribution": "prediction minus prediction with the channel's spend set to zero, adstock recomputed, times scales.target",
        "roi": "(margin x contribution - spend) / spend",
        "lift_tests": "model lift = expected target with more spend minus expected target with less: the channel's spend as observed and changed by the test's spend_change (-1: switched off) inside the test window only, summed over the window; under a geo hierarchy, the named geo's lift from its own parameters, or for a test over several geos the sum of theirs; calibrated fits include each test as lift ~ Normal(model lift, standard_error)",
        "marginal_roas": "central difference of the channel's response (training window plus carry-out) at 0.99x and 1.01x its spend",
        "curves": "response to m x the training spend (weekly pattern kept), m = 0..2 step 0.05, training window plus carry-out",
        "margin": margin,
        "hurdle": hurdle,
        "experiments": experiment::METHOD,
        "not_for_decisions": not_for_decisions,
    });
    if hierarchical {
        settings["geo"] = "geo hierarchy: every geo's outputs from its own parameters per draw \
            (geo_contributions, geo_roi, geo_curves, geo_decomposition); contributions, roi, curves and \
            decomposition are national: the geos' values summed per draw, then summarized; \
            national marginal ROAS is the spend-weighted sum of the geos' (every geo's spend \
            scaled together)"
            .into();
    }
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
    settings
}

/// experiments.json: the lift tests that would most shrink each channel's ROAS interval
/// ([`experiment::design`] with its default candidates), or why there are none.
fn experiments_json(
    spec: &LoadedSpec,
    model: &MmmModel,
    design: &Design,
    thetas: &[Vec<f64>],
) -> Result<serde_json::Value, DecideError> {
    if !model.is_additive() {
        return Ok(serde_json::json!({
            "available": false,
            "reason": "experiment design uses the model's lift term, which needs an additive likelihood (normal or student_t)",
        }));
    }
    let found = experiment::design(spec, design, model, thetas, &Default::default())?;
    let mut json = serde_json::to_value(found).map_err(|e| DecideError::Input(e.to_string()))?;
    json["available"] = true.into();
    Ok(json)
}

/// The decide stage: writes contributions.parquet, decomposition.parquet, roi.parquet,
/// curves.parquet, summary.json and experiments.json, and under a geo hierarchy every geo's
/// tables too.
pub fn run(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    diagnose_dir: &Path,
    out_dir: &Path,
    force: bool,
) -> Result<Option<Manifest>, DecideError> {
    let DecideInputs {
        upstream: [features, fit, diagnose],
        design,
        panel,
        draws,
        diagnostics,
        records,
    } = DecideInputs::load(spec, features_dir, fit_dir, diagnose_dir)?;
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        mmm_core::StageInputs::new(spec, &[&features, &fit, &diagnose], records),
        force,
    )?
    else {
        return Ok(None);
    };
    let not_for_decisions = not_for_decisions(&diagnostics);
    let model = MmmModel::new(&spec.spec, &design)?;
    let s = DecideSettings::new(spec);
    let draws_path = fit_dir.join("draws.parquet");
    let evaluation = match &panel {
        None => evaluate_national(spec, &model, &design, &draws, &draws_path, &s)?,
        Some(panel) => evaluate_geos(spec, panel, &draws, &draws_path, &s)?,
    };
    let experiments = match &panel {
        None => experiments_json(spec, &model, &design, &evaluation.posterior.theta)?,
        Some(_) => serde_json::json!({
            "available": false,
            "reason": "a geo hierarchy has a candidate test per geo and channel: run `mmm design-experiment RUN` (seconds to minutes with many geos) rather than on every decide",
        }),
    };
    let (national, geo) =
        NationalOutputs::build(spec, &model, &design, evaluation, not_for_decisions, &s)?;
    national.write(&mut writer)?;
    writer.write_json("experiments.json", &experiments, None)?;
    if let Some(geo) = geo {
        geo.write(&mut writer)?;
    }
    let settings = decide_settings(spec, &s, not_for_decisions, panel.is_some());
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}
