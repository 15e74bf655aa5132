//! Ensemble decisions (`mmm decide --ensemble RUN_A RUN_B ...`): contributions, ROAS, response
//! curves and the optimizer's plan from the stacked mixture of several runs' posteriors.
//!
//! The runs are candidate specs fitted on the same data (same periods, training window,
//! target and channel spend; controls, transforms and priors may differ). Their LOO stacking
//! weights w_k (`mmm_diagnostics::stacking`, Yao et al. 2018) define the mixture
//! p(theta | y) = sum_k w_k p_k(theta_k | y). It is represented by pooled draws: of a total of
//! S = min_k S_k draws (S_k the draws of run k), run k contributes round(w_k S) of its own
//! (largest-remainder rounding, evenly spaced over its chain-major draws), and each draw is
//! evaluated with its own run's model. Every summary over the pooled draws (means, HDIs,
//! quantiles, the probability that a plan beats another) is then the mixture's, and the
//! optimizer, which maximizes an objective of the pooled lift draws, maximizes the mixture's
//! expected outcome (or its risk-adjusted objective).
//!
//! Settings (interval, margin, hurdle, optimizer budget, horizon, bounds, objective) come from
//! the first run's spec, the reference; the stage's manifest records that spec, so the
//! directory shows in the first run's report when written to `RUN_A/ensemble`.
//!
//! Not covered: the additive decomposition (components differ between specs), lift-test
//! summaries, geo hierarchies and `mmm scenario` plans; see docs/decisions.md.

use std::path::{Path, PathBuf};

use mmm_core::spec::LoadedSpec;
use mmm_core::{CoreError, FileRecord, Manifest, RunStatus, StageWriter, schemas};
use mmm_diagnostics::loo::LooSummary;
use mmm_diagnostics::stacking::{ModelWeights, WeightsError, model_weights};
use mmm_features::Design;
use mmm_model::{MmmModel, Posterior};
use serde::{Deserialize, Serialize};

use crate::optimize;
use crate::plan::{MixturePlan, PlanModel, PlanResponse};
use crate::stages::{
    NationalPlans, OptimizeOptions, Optimized, PlanWindow, national_problem, plan_window,
    refuse_geo_bounds, require_draws, spend_scales,
};
use crate::tables::Tables;
use crate::{DecideError, DecideInputs, DecideSettings, UnitResult, unit_result};

/// Name of the stage (its directory and the manifest's `stage`).
pub const ENSEMBLE_STAGE: &str = mmm_core::Stage::Ensemble.name();
/// The ensemble's summary file.
pub const ENSEMBLE_FILE: &str = "ensemble.json";

/// Errors of `mmm decide --ensemble`.
#[derive(Debug, thiserror::Error)]
pub enum EnsembleError {
    /// Fewer than two runs.
    #[error("an ensemble needs at least two runs, got {0}")]
    TooFewRuns(usize),
    /// A run models other channels (or the same in another order) than the first.
    #[error(
        "{run}: channels [{found}] differ from [{expected}] of {reference}; an ensemble \
         averages runs of the same channels"
    )]
    DifferentChannels {
        /// The run that differs.
        run: PathBuf,
        /// Its channels, comma separated.
        found: String,
        /// The first run.
        reference: PathBuf,
        /// The first run's channels, comma separated.
        expected: String,
    },
    /// A run was fitted on other data than the first.
    #[error(
        "{run}: {what} differs from {reference}'s; an ensemble's runs must be fitted on the \
         same data"
    )]
    DifferentData {
        /// The run that differs.
        run: PathBuf,
        /// The first run.
        reference: PathBuf,
        /// What differs.
        what: &'static str,
    },
    /// A run is a geo hierarchy.
    #[error("{0}: a geo hierarchy cannot join an ensemble (national runs only)")]
    Hierarchical(PathBuf),
    /// A run's diagnostics lack the pointwise LOO the weights need.
    #[error("{0}: diagnostics.json has no pointwise PSIS-LOO (rerun `mmm diagnose --force`)")]
    NoLoo(PathBuf),
    /// Reading or evaluating a run failed.
    #[error("{run}: {source}")]
    Run {
        /// The run.
        run: PathBuf,
        /// What failed.
        #[source]
        source: DecideError,
    },
    /// The weights could not be computed.
    #[error("model weights: {0}")]
    Weights(#[from] WeightsError),
    /// Evaluating the mixture or writing the outputs failed.
    #[error(transparent)]
    Decide(#[from] DecideError),
}

impl From<CoreError> for EnsembleError {
    fn from(e: CoreError) -> Self {
        Self::Decide(e.into())
    }
}

/// One run of the ensemble in ensemble.json.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnsembleRun {
    /// Run directory.
    pub run: String,
    /// Model name from the run's spec.
    pub model: String,
    /// The run's elpd_loo.
    pub elpd_loo: f64,
    /// LOO stacking weight: the run's share of the mixture.
    pub stacking_weight: f64,
    /// Pseudo-BMA weight (for reference; not used for the mixture).
    pub pseudo_bma_weight: f64,
    /// Pseudo-BMA+ weight (for reference; not used for the mixture).
    pub pseudo_bma_plus_weight: f64,
    /// Draws of the mixture taken from this run.
    pub draws: usize,
    /// Posterior draws the run has.
    pub draws_available: usize,
    /// The run's diagnose stage marked it not for decisions.
    pub not_for_decisions: bool,
}

/// One channel's ROAS over the mixture's draws in ensemble.json (as in roi.parquet).
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnsembleChannel {
    /// Channel name.
    pub channel: String,
    /// Mean ROAS over the mixture's draws (target units per currency unit).
    pub roas_mean: f64,
    /// Lower end of the HDI of `interval` mass.
    pub roas_lower: f64,
    /// Upper end of the HDI.
    pub roas_upper: f64,
}

/// ensemble.json: which runs, their weights and how the mixture was built.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EnsembleSummary {
    /// Every run, in the order given.
    pub runs: Vec<EnsembleRun>,
    /// Draws of the mixture (the fewest any run has).
    pub draws: usize,
    /// Channels in model order, with the mixture's ROAS (every metric: roi.parquet).
    pub channels: Vec<EnsembleChannel>,
    /// The first run, whose spec gave the settings (interval, margin, hurdle, optimizer).
    pub reference_run: String,
    /// Mass of the HDIs (reference spec's decisions.interval).
    pub interval: f64,
    /// True when some run was marked not for decisions.
    pub not_for_decisions: bool,
    /// How the weights were computed.
    pub weights_method: String,
    /// How the mixture was built and evaluated.
    pub method: String,
    /// What the ensemble does not compute.
    pub not_covered: String,
}

/// How the mixture is built, as ensemble.json states it.
const MIXTURE_METHOD: &str = "stacked mixture sum_k w_k p_k(theta | y) with the LOO stacking \
    weights: of S draws (the fewest any run has), run k contributes round(w_k S) (largest \
    remainder) of its posterior draws, evenly spaced over its chain-major draws, each evaluated \
    with its own run's model and design; contributions, ROAS, marginal ROAS and response \
    curves are summarized over the pooled draws (HDIs of the mixture); the optimizer \
    maximizes the reference spec's objective of the pooled lift draws (for `expected`, the \
    mixture's expected lift) with the reference spec's budget, horizon and bounds";

/// What the ensemble leaves out, as ensemble.json states it.
const NOT_COVERED: &str = "no decomposition (the runs' components differ), no lift-test \
    summaries, no scenarios and no geo hierarchies; each run's own decide stage has those";

/// One run, read through its verified chain.
struct Member {
    dir: PathBuf,
    spec: LoadedSpec,
    design: Design,
    model: MmmModel,
    posterior: Posterior,
    loo: LooSummary,
    not_for_decisions: bool,
}

/// Read run `dir`: its spec, features, fit and diagnose stages (hashes verified, chain
/// checked), appending the files read and the stages' manifests to `records`.
fn load_member(dir: &Path, records: &mut Vec<FileRecord>) -> Result<Member, EnsembleError> {
    let wrap = |source: DecideError| EnsembleError::Run {
        run: dir.to_path_buf(),
        source,
    };
    let spec = LoadedSpec::load(&dir.join("spec.toml")).map_err(|e| wrap(e.into()))?;
    let (features, fit, diagnose) = (dir.join("features"), dir.join("fit"), dir.join("diagnose"));
    let inp = DecideInputs::load(&spec, &features, &fit, &diagnose).map_err(wrap)?;
    if inp.panel.is_some() {
        return Err(EnsembleError::Hierarchical(dir.to_path_buf()));
    }
    let model = MmmModel::new(&spec.spec, &inp.design).map_err(|e| wrap(e.into()))?;
    let draws_path = fit.join("draws.parquet");
    let posterior = Posterior::from_batch(&inp.draws, &model, &draws_path)
        .map_err(|e| wrap(e.into()))
        .and_then(|p| require_draws(p, &draws_path).map_err(wrap))?;
    let loo = inp
        .diagnostics
        .get("loo")
        .and_then(|v| serde_json::from_value::<LooSummary>(v.clone()).ok())
        .ok_or_else(|| EnsembleError::NoLoo(dir.to_path_buf()))?;
    records.extend(inp.records);
    for stage in [&features, &fit, &diagnose] {
        let manifest = stage.join(mmm_core::artifact::MANIFEST_FILE);
        records.push(mmm_core::file_record(&manifest).map_err(|e| wrap(e.into()))?);
    }
    Ok(Member {
        dir: dir.to_path_buf(),
        not_for_decisions: crate::not_for_decisions(&inp.diagnostics),
        spec,
        design: inp.design,
        model,
        posterior,
        loo,
    })
}

/// Refuse a run whose channels or data differ from the reference's: channels (names and
/// order), periods, training window, target, channel spend and carry-in history must be equal.
fn check_same_data(reference: &Member, m: &Member) -> Result<(), EnsembleError> {
    let (r, d) = (&reference.design, &m.design);
    if d.channel_names != r.channel_names {
        return Err(EnsembleError::DifferentChannels {
            run: m.dir.clone(),
            found: d.channel_names.join(", "),
            reference: reference.dir.clone(),
            expected: r.channel_names.join(", "),
        });
    }
    let checks: [(&'static str, bool); 5] = [
        ("the modeled periods", d.dates == r.dates),
        ("the training window (holdout)", d.n_train == r.n_train),
        (
            "the target",
            d.target_scaled == r.target_scaled && d.scales.target == r.scales.target,
        ),
        (
            "the channel spend",
            d.channels == r.channels && d.scales.channels == r.scales.channels,
        ),
        (
            "the carry-in history (data.start)",
            d.carry_in == r.carry_in,
        ),
    ];
    match checks.iter().find(|(_, same)| !same) {
        Some((what, _)) => Err(EnsembleError::DifferentData {
            run: m.dir.clone(),
            reference: reference.dir.clone(),
            what,
        }),
        None => Ok(()),
    }
}

/// Draws of a mixture of `total` draws per member: w_k total rounded to integers by largest
/// remainder (floors first, then one more to the largest fractional parts, the earlier member
/// first on ties), so the counts sum to `total`.
pub fn draw_counts(weights: &[f64], total: usize) -> Vec<usize> {
    let exact: Vec<f64> = weights.iter().map(|w| w.max(0.0) * total as f64).collect();
    let mut counts: Vec<usize> = exact.iter().map(|x| x.floor() as usize).collect();
    let assigned: usize = counts.iter().sum();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (exact[a] - exact[a].floor(), exact[b] - exact[b].floor());
        fb.total_cmp(&fa).then(a.cmp(&b))
    });
    for &k in order.iter().take(total.saturating_sub(assigned)) {
        counts[k] += 1;
    }
    counts
}

/// `count` indices spread evenly over `0..available`: floor((j + 1/2) available / count).
pub fn spread(available: usize, count: usize) -> Vec<usize> {
    (0..count)
        .map(|j| ((2 * j + 1) * available / (2 * count)).min(available.saturating_sub(1)))
        .collect()
}

/// A member's share of the mixture: the selected draws (chain, draw and parameters).
struct Share<'a> {
    member: &'a Member,
    posterior: Posterior,
}

/// The members' draws of the mixture (members with no draw left out).
fn shares<'a>(members: &'a [Member], counts: &[usize]) -> Vec<Share<'a>> {
    members
        .iter()
        .zip(counts)
        .filter(|(_, count)| **count > 0)
        .map(|(member, &count)| {
            let p = &member.posterior;
            let idx = spread(p.len(), count);
            Share {
                member,
                posterior: Posterior {
                    chain: idx.iter().map(|&i| p.chain[i]).collect(),
                    draw: idx.iter().map(|&i| p.draw[i]).collect(),
                    theta: idx.iter().map(|&i| p.theta[i].clone()).collect(),
                },
            }
        })
        .collect()
}

/// `unit`'s draws appended to `total`'s, channel by channel and curve point by curve point.
fn append(total: &mut UnitResult, unit: UnitResult) {
    for (t, c) in total.channels.iter_mut().zip(unit.channels) {
        t.contribution.extend(c.contribution);
        t.share.extend(c.share);
        t.roas.extend(c.roas);
        t.roi.extend(c.roi);
        t.marginal_roas.extend(c.marginal_roas);
        // Mediated paths only when every member has them.
        t.mediated = match (t.mediated.take(), c.mediated) {
            (Some(mut a), Some(b)) => {
                a.extend(b);
                Some(a)
            }
            _ => None,
        };
    }
    for (t, u) in total.curves.iter_mut().zip(unit.curves) {
        for (tm, um) in t.iter_mut().zip(u) {
            tm.extend(um);
        }
    }
}

/// The mixture's tables: contributions per draw with the run of each draw, and roi and curves
/// summarized over the pooled draws; with each channel's ROAS summary for ensemble.json.
fn mixture_tables(
    shares: &[Share],
    s: &DecideSettings,
) -> Result<([Tables; 2], Vec<EnsembleChannel>), DecideError> {
    let mut per_run = Tables::with_lead("run");
    let mut pooled_unit: Option<UnitResult> = None;
    let mut pooled = Posterior {
        chain: Vec::new(),
        draw: Vec::new(),
        theta: Vec::new(),
    };
    for sh in shares {
        let (m, p) = (sh.member, &sh.posterior);
        let unit = unit_result(&m.model, &m.design, &p.theta, s.margin, &s.grid)?;
        let run = m.dir.display().to_string();
        per_run.push_unit(&run, &unit, p, &s.grid, s.interval, s.margin, s.hurdle);
        pooled.chain.extend(&p.chain);
        pooled.draw.extend(&p.draw);
        pooled.theta.extend(p.theta.iter().cloned());
        match pooled_unit.as_mut() {
            None => pooled_unit = Some(unit),
            Some(total) => append(total, unit),
        }
    }
    let mut national = Tables::new(false);
    let mut channels = Vec::new();
    if let Some(unit) = &pooled_unit {
        national.push_unit("", unit, &pooled, &s.grid, s.interval, s.margin, s.hurdle);
        channels = unit
            .channels
            .iter()
            .map(|c| {
                let (roas_lower, roas_upper) = mmm_core::summary::hdi(&c.roas, s.interval);
                EnsembleChannel {
                    channel: c.channel.clone(),
                    roas_mean: mmm_core::summary::mean(&c.roas),
                    roas_lower,
                    roas_upper,
                }
            })
            .collect();
    }
    Ok(([per_run, national], channels))
}

/// The optimizer's window and problem from the reference spec (no command-line overrides),
/// checked feasible before anything is written.
struct PlanSetup {
    window: PlanWindow,
    current: Vec<f64>,
    problem: optimize::Problem,
}

impl PlanSetup {
    fn new(reference: &Member) -> Result<Self, DecideError> {
        let (spec, design) = (&reference.spec, &reference.design);
        refuse_geo_bounds(spec)?;
        let opts = OptimizeOptions::default();
        let window = plan_window(spec, design, &opts)?;
        let (current, problem) = national_problem(spec, design, &window, &opts)?;
        optimize::check_feasible(&problem)?;
        Ok(Self {
            window,
            current,
            problem,
        })
    }
}

/// The optimizer over the mixture with the reference spec's settings: allocation rows and
/// plan.json.
fn optimize_mixture(
    reference: &Member,
    shares: &[Share],
    setup: PlanSetup,
) -> Result<(crate::stages::AllocationRows, serde_json::Value), DecideError> {
    let (spec, design) = (&reference.spec, &reference.design);
    let PlanSetup {
        window,
        current,
        problem,
    } = setup;
    let members: Vec<PlanModel> = shares
        .iter()
        .map(|sh| {
            let m = sh.member;
            PlanModel::new(
                &m.model,
                &sh.posterior.theta,
                spend_scales(&m.design),
                m.design.scales.target,
                window.start,
                window.horizon,
            )
        })
        .collect();
    let mixture = MixturePlan::new(members);
    let concave = shares.iter().all(|sh| sh.member.model.concave_in_spend());
    let corners = current.len() <= 3 || !concave;
    let opt = Optimized::search(&mixture, window, problem, current, corners)?;
    let names = &design.channel_names;
    let (rows, plans) = NationalPlans::evaluate(&mixture, names, &opt, spec);
    let mut plan_json = plans.plan_json(&opt, spec, design, PlanResponse::draws(&mixture));
    plan_json["method"] = format!(
        "projected gradient ascent on {{bounds, sum = budget}} over the pooled draws of the \
         stacked mixture (ensemble.json); weekly spend flat over the horizon; each draw's lift \
         from its own run's model: response over the horizon and carry-out weeks minus the \
         response to carry-in alone; settings from {}'s spec",
        reference.dir.display()
    )
    .into();
    Ok((rows, plan_json))
}

/// ensemble.json.
fn summary(
    members: &[Member],
    w: &ModelWeights,
    counts: &[usize],
    channels: Vec<EnsembleChannel>,
) -> EnsembleSummary {
    let reference = &members[0];
    let runs: Vec<EnsembleRun> = members
        .iter()
        .enumerate()
        .map(|(k, m)| EnsembleRun {
            run: m.dir.display().to_string(),
            model: m.spec.spec.model.name.clone(),
            elpd_loo: m.loo.elpd_loo,
            stacking_weight: w.stacking[k],
            pseudo_bma_weight: w.pseudo_bma[k],
            pseudo_bma_plus_weight: w.pseudo_bma_plus[k],
            draws: counts[k],
            draws_available: m.posterior.len(),
            not_for_decisions: m.not_for_decisions,
        })
        .collect();
    EnsembleSummary {
        not_for_decisions: runs.iter().any(|r| r.not_for_decisions),
        runs,
        draws: counts.iter().sum(),
        channels,
        reference_run: reference.dir.display().to_string(),
        interval: reference.spec.spec.decisions.interval,
        weights_method: w.method.clone(),
        method: MIXTURE_METHOD.into(),
        not_covered: NOT_COVERED.into(),
    }
}

/// The runs read and checked, their weights, the mixture's draws per run and the files read.
struct Prepared {
    members: Vec<Member>,
    weights: ModelWeights,
    counts: Vec<usize>,
    records: Vec<FileRecord>,
}

/// Read every run, check they share data and channels, and compute their weights and the
/// mixture's draw counts.
fn prepare(runs: &[PathBuf]) -> Result<Prepared, EnsembleError> {
    if runs.len() < 2 {
        return Err(EnsembleError::TooFewRuns(runs.len()));
    }
    let mut records = Vec::new();
    let members = runs
        .iter()
        .map(|r| load_member(r, &mut records))
        .collect::<Result<Vec<_>, _>>()?;
    for m in &members[1..] {
        check_same_data(&members[0], m)?;
    }
    let pointwise: Vec<Vec<f64>> = members
        .iter()
        .map(|m| m.loo.pointwise_elpd_loo.clone())
        .collect();
    let weights = model_weights(&pointwise)?;
    let total = members.iter().map(|m| m.posterior.len()).min().unwrap_or(0);
    let counts = draw_counts(&weights.stacking, total);
    Ok(Prepared {
        members,
        weights,
        counts,
        records,
    })
}

/// The ensemble stage: reads the runs, weighs them by LOO stacking and writes ensemble.json,
/// contributions.parquet (per mixture draw, with its run), roi.parquet, curves.parquet,
/// allocation.parquet and plan.json into `out_dir`; `None` when the outputs are fresh. The
/// manifest records the first run's spec and every file read from every run.
pub fn run(
    runs: &[PathBuf],
    out_dir: &Path,
    force: bool,
) -> Result<Option<(Manifest, EnsembleSummary)>, EnsembleError> {
    let Prepared {
        members,
        weights,
        counts,
        records,
    } = prepare(runs)?;
    let reference = &members[0];
    // Fail on an infeasible plan before anything is written.
    let setup = PlanSetup::new(reference)?;
    let inputs = mmm_core::StageInputs::new(&reference.spec, &[], records)
        .with_options(serde_json::json!({ "runs": runs }));
    let Some(mut writer) =
        StageWriter::begin(out_dir, &mmm_core::stage_id!(ENSEMBLE_STAGE), inputs, force)?
    else {
        return Ok(None);
    };
    let shares = shares(&members, &counts);
    let s = DecideSettings::new(&reference.spec);
    let (rows, plan_json) = optimize_mixture(reference, &shares, setup)?;
    let ([per_run, national], channels) = mixture_tables(&shares, &s)?;
    let summary = summary(&members, &weights, &counts, channels);
    writer.write_json(ENSEMBLE_FILE, &summary, None)?;
    let contributions = per_run.contributions()?;
    let contributions_schema = schemas::ensemble_contributions();
    writer.write_parquet(
        "contributions.parquet",
        &contributions,
        &contributions_schema,
    )?;
    writer.write_parquet("roi.parquet", &national.roi()?, &schemas::ensemble_roi())?;
    writer.write_parquet(
        "curves.parquet",
        &national.curves()?,
        &schemas::ensemble_curves(),
    )?;
    let allocation = rows.build()?;
    writer.write_parquet(
        "allocation.parquet",
        &allocation,
        &schemas::ensemble_allocation(),
    )?;
    writer.write_json("plan.json", &plan_json, None)?;
    let settings = serde_json::json!({
        "runs": runs,
        "weights": "LOO stacking",
        "draws": summary.draws,
        "reference_run": summary.reference_run,
        "not_for_decisions": summary.not_for_decisions,
    });
    let manifest = writer.finish(None, settings, RunStatus::Complete)?;
    Ok(Some((manifest, summary)))
}
