//! The `optimize` and `scenario` stages: spend plans over a horizon, their incremental outcome
//! over all posterior draws, and optionally a decision record for a later `review`.

use std::path::Path;

use mmm_core::spec::{LoadedSpec, Objective, OptimizerSpec};
use mmm_core::summary::{hdi, mean, quantile_sorted, sorted};
use mmm_core::{BatchBuilder, FileRecord, Manifest, RunStatus, StageWriter, Upstream};
use mmm_features::Design;
use mmm_model::{MmmModel, Posterior};

use crate::DecideError;
use crate::optimize::{self, ChannelRange, Problem, Response, Solution};
use crate::plan::{PlanModel, PlanResponse};
use crate::planner::Planner;
use crate::review::DecisionRecord;

/// Name of the optimize stage.
pub const OPTIMIZE_STAGE: &str = "optimize";
/// Name of the scenario stage.
pub const SCENARIO_STAGE: &str = "scenario";
/// File name of a decision record.
pub const RECORD_FILE: &str = "decision_record.json";

/// Command-line overrides of the spec's optimizer settings.
#[derive(Debug, Clone, Default)]
pub struct OptimizeOptions {
    /// Total budget over the horizon (currency).
    pub budget: Option<f64>,
    /// Horizon in weeks.
    pub horizon: Option<usize>,
    /// Objective.
    pub objective: Option<Objective>,
    /// First week of the plan (`YYYY-MM-DD`, a period of the data or the one after the last);
    /// default: right after the data.
    pub start: Option<String>,
    /// Write a decision record with the predicted outcome distribution.
    pub record: bool,
    /// Redo even when fresh.
    pub force: bool,
}

impl OptimizeOptions {
    /// Every option that changes a plan's outputs (all but `force`): part of freshness.
    pub fn freshness_key(&self) -> serde_json::Value {
        serde_json::json!({
            "budget": self.budget,
            "horizon": self.horizon,
            "objective": self.objective.map(|o| format!("{o:?}")),
            "start": self.start,
            "record": self.record,
        })
    }
}

/// What the national decision stages read: the design, the model and its draws, with the
/// input records for the manifest.
pub(crate) struct Inputs {
    pub(crate) design: Design,
    pub(crate) model: MmmModel,
    pub(crate) posterior: Posterior,
    pub(crate) records: Vec<FileRecord>,
    /// The features and fit stages read.
    pub(crate) upstream: [Upstream; 2],
}

impl Inputs {
    /// Whether the model's mean response is concave in spend.
    pub(crate) fn model_concave(&self) -> bool {
        self.model.concave_in_spend()
    }

    /// The response to a plan of `horizon` weeks from period `start`, over all draws.
    pub(crate) fn plan_model(&self, start: usize, horizon: usize) -> PlanModel<'_> {
        PlanModel::new(
            &self.model,
            &self.posterior.theta,
            spend_scales(&self.design),
            self.design.scales.target,
            start,
            horizon,
        )
    }
}

/// Read the inputs of a national decision stage; a geo hierarchy's fit is refused.
pub(crate) fn load(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
) -> Result<Inputs, DecideError> {
    if spec.spec.geo.is_hierarchical() {
        return Err(DecideError::Input(
            "the national decision stages cannot read a geo hierarchy's fit (geo.model = \
             \"hierarchical\" plans over geos x channels)"
                .into(),
        ));
    }
    let [features, fit] = mmm_core::open_chain(
        spec.into(),
        [(features_dir, mmm_features::STAGE), (fit_dir, "fit")],
    )?;
    let (design, mut records) = Design::load(&features, &spec.spec)?;
    let (draws, rec) = fit.parquet("draws.parquet")?;
    records.push(rec);
    let model = MmmModel::new(&spec.spec, &design)?;
    let draws_path = fit_dir.join("draws.parquet");
    let posterior = require_draws(
        Posterior::from_batch(&draws, &model, &draws_path)?,
        &draws_path,
    )?;
    Ok(Inputs {
        design,
        model,
        posterior,
        records,
        upstream: [features, fit],
    })
}

/// With `--record`, the plans file must hold exactly one scenario: the plan being decided.
pub(crate) fn one_scenario_to_record(
    opts: &OptimizeOptions,
    scenarios: usize,
    plans_file: &Path,
) -> Result<(), DecideError> {
    if opts.record && scenarios != 1 {
        return Err(DecideError::Input(format!(
            "{}: --record needs exactly one scenario, the file has {scenarios}",
            plans_file.display(),
        )));
    }
    Ok(())
}

/// `posterior`, or an error naming `draws_path` when it holds no draws.
pub(crate) fn require_draws(
    posterior: Posterior,
    draws_path: &Path,
) -> Result<Posterior, DecideError> {
    if posterior.is_empty() {
        return Err(DecideError::Input(format!(
            "{}: no posterior draws",
            draws_path.display()
        )));
    }
    Ok(posterior)
}

/// Period index where a plan starts, and the dates of its weeks.
pub(crate) fn plan_start(
    design: &Design,
    period_days: i32,
    start: Option<&str>,
    horizon: usize,
) -> Result<(usize, Vec<i32>), DecideError> {
    let n = design.len();
    let last = design.dates.last().copied().unwrap_or(0);
    let idx = match start {
        None => n,
        Some(s) => {
            let day = mmm_core::dates::parse_day(s).ok_or_else(|| {
                DecideError::Input(format!("--start '{s}': not a date of the form YYYY-MM-DD"))
            })?;
            if day == last + period_days {
                n
            } else {
                design.dates.iter().position(|d| *d == day).ok_or_else(|| {
                    DecideError::Input(format!(
                        "--start {s}: not a period of the data ({} .. {}) nor the period right after it",
                        mmm_core::dates::iso(design.dates[0]),
                        mmm_core::dates::iso(last)
                    ))
                })?
            }
        }
    };
    let first = if idx < n {
        design.dates[idx]
    } else {
        last + period_days
    };
    let dates = (0..horizon)
        .map(|w| first + w as i32 * period_days)
        .collect();
    Ok((idx, dates))
}

/// Each channel's spend scale from the features stage (1 where the design has none).
pub(crate) fn spend_scales(design: &Design) -> Vec<f64> {
    design
        .channel_names
        .iter()
        .map(|n| design.scales.channels.get(n).copied().unwrap_or(1.0))
        .collect()
}

/// Summary of one plan's lift draws.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LiftSummary {
    /// Posterior mean.
    pub mean: f64,
    /// Posterior median.
    pub median: f64,
    /// HDI lower end.
    pub lower: f64,
    /// HDI upper end.
    pub upper: f64,
    /// Risk-level quantile.
    pub q_risk: f64,
}

/// Mean, median, HDI of `interval` mass and the `risk` quantile of a plan's lift draws.
pub(crate) fn lift_summary(lift: &[f64], interval: f64, risk: f64) -> LiftSummary {
    let s = sorted(lift);
    let (lower, upper) = hdi(lift, interval);
    LiftSummary {
        mean: mean(lift),
        median: quantile_sorted(&s, 0.5),
        lower,
        upper,
        q_risk: quantile_sorted(&s, risk),
    }
}

/// The weeks an optimized plan covers and the reference weeks its current spend comes from.
pub(crate) struct PlanWindow {
    pub(crate) horizon: usize,
    pub(crate) objective: Objective,
    /// Period index of the plan's first week.
    pub(crate) start: usize,
    /// Dates of the plan's weeks.
    pub(crate) dates: Vec<i32>,
    /// Weeks before the start whose spend, scaled to the horizon, is the current plan.
    pub(crate) ref_weeks: usize,
}

/// A plan horizon (`what`: the flag or key that set it) must be 1 to
/// [`MAX_HORIZON_WEEKS`](mmm_core::spec::MAX_HORIZON_WEEKS) weeks: `--weeks
/// 18446744073709551615` aborted on allocating the plan's weeks.
pub fn check_horizon(weeks: Option<usize>, what: &str) -> Result<(), DecideError> {
    let max = mmm_core::spec::MAX_HORIZON_WEEKS;
    match weeks {
        Some(w) if w == 0 || w > max => Err(DecideError::Input(format!(
            "{what} {w}: a plan covers 1 to {max} weeks (10 years)"
        ))),
        _ => Ok(()),
    }
}

/// The plan window of `mmm optimize` from the spec and the command-line overrides.
pub(crate) fn plan_window(
    spec: &LoadedSpec,
    design: &Design,
    opts: &OptimizeOptions,
) -> Result<PlanWindow, DecideError> {
    let o = &spec.spec.decisions.optimizer;
    check_horizon(opts.horizon, "--weeks")?;
    let horizon = opts.horizon.unwrap_or(o.horizon_weeks);
    check_horizon(Some(horizon), "decisions.optimizer.horizon_weeks")?;
    let period_days = spec.spec.data.period_days as i32;
    let (start, dates) = plan_start(design, period_days, opts.start.as_deref(), horizon)?;
    let ref_weeks = reference_weeks(spec, start, horizon)?;
    Ok(PlanWindow {
        horizon,
        objective: opts.objective.unwrap_or(o.objective),
        start,
        dates,
        ref_weeks,
    })
}

/// Rows of allocation.parquet (or, with a geo column, geo_allocation.parquet).
#[derive(Default)]
pub(crate) struct AllocationRows {
    /// Geo of each row (geo_allocation.parquet only).
    geo: Vec<String>,
    /// Geo given to the rows pushed next.
    pub(crate) at_geo: Option<String>,
    plan: Vec<String>,
    channel: Vec<String>,
    spend: Vec<f64>,
    lower_bound: Vec<f64>,
    upper_bound: Vec<f64>,
    lift: Vec<LiftSummary>,
    profit: Vec<f64>,
}

/// A plan's lift per draw: each channel's, and the plan's total.
pub(crate) struct ChannelLifts {
    pub(crate) channels: Vec<Vec<f64>>,
    pub(crate) total: Vec<f64>,
}

impl ChannelLifts {
    /// The lifts of `plan` (`plan[c][week]`, currency) under `pm`. For an additive model the
    /// total is the sum of the channels' lifts; otherwise channels interact through the link:
    /// the total is the plan's joint lift and each channel's lift its counterfactual share (the
    /// channels need not add up).
    pub(crate) fn of(pm: &dyn PlanResponse, plan: &[Vec<f64>]) -> Self {
        if !pm.is_additive() {
            return Self {
                channels: (0..plan.len())
                    .map(|c| pm.channel_lift_in(plan, c))
                    .collect(),
                total: pm.lift(plan),
            };
        }
        let channels: Vec<Vec<f64>> = (plan.iter().enumerate())
            .map(|(c, weekly)| pm.channel_lift(c, weekly))
            .collect();
        let mut total = vec![0.0; pm.draws()];
        for lift in &channels {
            for (t, v) in total.iter_mut().zip(lift) {
                *t += v;
            }
        }
        Self { channels, total }
    }
}

impl AllocationRows {
    /// Rows of plan `name` (each channel's and the total) under `pm`; returns the total lift.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn push_plan(
        &mut self,
        name: &str,
        pm: &dyn PlanResponse,
        plan: &[Vec<f64>],
        names: &[String],
        ranges: Option<&[ChannelRange]>,
        interval: f64,
        risk: f64,
        margin: f64,
    ) -> Vec<f64> {
        let lifts = ChannelLifts::of(pm, plan);
        self.push_lifts(name, plan, &lifts, names, ranges, (interval, risk, margin));
        lifts.total
    }

    /// Rows of plan `name` whose lifts are already computed.
    pub(crate) fn push_lifts(
        &mut self,
        name: &str,
        plan: &[Vec<f64>],
        lifts: &ChannelLifts,
        names: &[String],
        ranges: Option<&[ChannelRange]>,
        (interval, risk, margin): (f64, f64, f64),
    ) {
        let mut total_spend = 0.0;
        for (c, (weekly, lift)) in plan.iter().zip(&lifts.channels).enumerate() {
            let spend: f64 = weekly.iter().sum();
            total_spend += spend;
            self.row(
                name,
                &names[c],
                spend,
                ranges.map_or((f64::NAN, f64::NAN), |r| (r[c].lower, r[c].upper)),
                lift,
                interval,
                risk,
                margin,
            );
        }
        self.row(
            name,
            "total",
            total_spend,
            (f64::NAN, f64::NAN),
            &lifts.total,
            interval,
            risk,
            margin,
        );
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn row(
        &mut self,
        plan: &str,
        channel: &str,
        spend: f64,
        bounds: (f64, f64),
        lift: &[f64],
        interval: f64,
        risk: f64,
        margin: f64,
    ) {
        if let Some(geo) = &self.at_geo {
            self.geo.push(geo.clone());
        }
        self.plan.push(plan.to_string());
        self.channel.push(channel.to_string());
        self.spend.push(spend);
        self.lower_bound.push(bounds.0);
        self.upper_bound.push(bounds.1);
        let s = lift_summary(lift, interval, risk);
        self.profit.push(margin * s.mean - spend);
        self.lift.push(s);
    }

    pub(crate) fn build(self) -> Result<arrow::array::RecordBatch, DecideError> {
        let col = |f: fn(&LiftSummary) -> f64| self.lift.iter().map(f).collect::<Vec<f64>>();
        let b = if self.geo.is_empty() {
            BatchBuilder::new()
        } else {
            BatchBuilder::new().string("geo", self.geo.clone())
        };
        b.string("plan", self.plan.clone())
            .string("channel", self.channel.clone())
            .f64("spend", self.spend.clone())
            .f64("lower_bound", self.lower_bound.clone())
            .f64("upper_bound", self.upper_bound.clone())
            .f64("lift_mean", col(|s| s.mean))
            .f64("lift_median", col(|s| s.median))
            .f64("lift_lower", col(|s| s.lower))
            .f64("lift_upper", col(|s| s.upper))
            .f64("lift_q_risk", col(|s| s.q_risk))
            .f64("profit_mean", self.profit.clone())
            .build()
            .map_err(DecideError::from)
    }
}

/// Each channel's total spread evenly over the `horizon` weeks: `plan[c][week]`.
pub(crate) fn flat_plan(totals: &[f64], horizon: usize) -> Vec<Vec<f64>> {
    totals
        .iter()
        .map(|t| vec![t / horizon as f64; horizon])
        .collect()
}

/// A national model has no geos: a bound that names one is refused.
pub(crate) fn refuse_geo_bounds(spec: &LoadedSpec) -> Result<(), DecideError> {
    let bounds = &spec.spec.decisions.optimizer.bounds;
    if let Some(b) = bounds.iter().find(|b| b.geo.is_some()) {
        return Err(DecideError::Input(format!(
            "decisions.optimizer.bounds: the bound of '{}' names a geo, but the model is national \
             (geo.model = \"hierarchical\" optimizes geos x channels)",
            b.channel
        )));
    }
    Ok(())
}

/// The number of reference weeks before `start` that define the current plan
/// (`decisions.optimizer.reference_weeks`, default the horizon), checked against the data.
fn reference_weeks(spec: &LoadedSpec, start: usize, horizon: usize) -> Result<usize, DecideError> {
    let ref_weeks = spec
        .spec
        .decisions
        .optimizer
        .reference_weeks
        .unwrap_or(horizon);
    if ref_weeks == 0 || ref_weeks > start {
        return Err(DecideError::Input(format!(
            "decisions.optimizer.reference_weeks: {ref_weeks} weeks before the plan's start are needed, the data has {start}"
        )));
    }
    Ok(ref_weeks)
}

/// What "current plan" means, as plan.json and comparison.json state it.
pub const CURRENT_PLAN: &str = "each channel's spend over the reference weeks before the start \
    (decisions.optimizer.reference_weeks, default the horizon length), rescaled to the horizon \
    and spread evenly over its weeks; the same in optimize, scenario and the report";

/// The current plan, one definition for `optimize`, `scenario` and the report: each channel's
/// spend over the reference weeks before the start, rescaled to the horizon and spread evenly
/// over its weeks (`plan[c][week]`).
pub(crate) fn current_plan(design: &Design, w: &PlanWindow) -> Vec<Vec<f64>> {
    let totals: Vec<f64> = (0..design.channel_names.len())
        .map(|c| reference_spend(design, c, w))
        .collect();
    flat_plan(&totals, w.horizon)
}

/// Channel `c`'s spend in the window's reference weeks before the start, scaled to the
/// horizon: its total in the current plan.
pub(crate) fn reference_spend(design: &Design, c: usize, w: &PlanWindow) -> f64 {
    design.spend(c)[w.start - w.ref_weeks..w.start]
        .iter()
        .sum::<f64>()
        * w.horizon as f64
        / w.ref_weeks as f64
}

/// The budget: `--budget`, else the spec's, else the current plan's total; a finite number >= 0.
pub(crate) fn checked_budget(
    opts: &OptimizeOptions,
    o: &OptimizerSpec,
    current: &[f64],
) -> Result<f64, DecideError> {
    let budget = opts.budget.or(o.budget).unwrap_or(current.iter().sum());
    if !(budget.is_finite() && budget >= 0.0) {
        return Err(DecideError::Input(format!(
            "budget must be a number >= 0, got {budget}"
        )));
    }
    Ok(budget)
}

/// The optimizer's problem: `budget` split over the cells of `ranges` for `objective`, with
/// the spec's risk level and margin.
pub(crate) fn problem(
    spec: &LoadedSpec,
    objective: Objective,
    budget: f64,
    ranges: Vec<ChannelRange>,
) -> Problem {
    let d = &spec.spec.decisions;
    Problem {
        budget,
        objective,
        risk_level: d.optimizer.risk_level,
        margin: d.margin,
        ranges,
    }
}

/// Each channel's allowed range around its share of `budget` in the reference mix `current`,
/// and its bound from the spec.
fn national_ranges(
    o: &OptimizerSpec,
    names: &[String],
    current: &[f64],
    budget: f64,
) -> Vec<ChannelRange> {
    // max_change is measured from the reference mix at this budget (Meridian's convention).
    let reference = optimize::reference_at_budget(current, budget);
    names
        .iter()
        .zip(&reference)
        .map(|(name, r)| {
            let bound = o.bounds.iter().find(|b| &b.channel == name);
            ChannelRange::new(
                name.clone(),
                *r,
                o.max_change,
                bound.map(|b| (b, format!("decisions.optimizer.bounds[{name}]"))),
            )
        })
        .collect()
}

/// Start a decision stage's output directory (`stage`, read from the features and fit stages
/// in `upstream` and the files in `records`); `None` when its outputs are fresh.
pub(crate) fn begin_stage(
    spec: &LoadedSpec,
    upstream: &[Upstream; 2],
    records: Vec<FileRecord>,
    opts: &OptimizeOptions,
    stage: &'static str,
    out_dir: &Path,
) -> Result<Option<StageWriter>, DecideError> {
    let [features, fit] = upstream;
    let stage_inputs = mmm_core::StageInputs::new(spec, &[features, fit], records)
        .with_options(opts.freshness_key());
    let writer = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(stage),
        stage_inputs,
        opts.force,
    )?;
    Ok(writer)
}

/// Search the allocation from the current plan, an even split and, for a risk objective,
/// the expected-lift optimum (and with `corners` from every cell's corner); returns the
/// solution and the search's wall time in seconds.
fn search(
    response: &dyn Response,
    problem: &Problem,
    current: &[f64],
    corners: bool,
) -> Result<(Solution, f64), DecideError> {
    let (budget, n) = (problem.budget, current.len());
    let mut starts = vec![current.to_vec(), vec![budget / n.max(1) as f64; n]];
    if problem.objective != Objective::Expected && problem.objective != Objective::Profit {
        let expected = Problem {
            objective: Objective::Expected,
            ..problem.clone()
        };
        starts.push(optimize::optimize(response, &expected, &starts)?.spend);
    }
    if corners {
        for c in 0..n {
            let mut corner = vec![0.0; n];
            corner[c] = budget;
            starts.push(corner);
        }
    }
    let timer = std::time::Instant::now();
    let solution = optimize::optimize(response, problem, &starts)?;
    Ok((solution, timer.elapsed().as_secs_f64()))
}

/// Share of draws where `a` beats `b`, over `n` draws.
pub(crate) fn prob_greater(a: &[f64], b: &[f64], n: usize) -> f64 {
    a.iter().zip(b).filter(|(x, y)| x > y).count() as f64 / n as f64
}

/// An optimizer run: the plan window, the problem, the current plan it improves on and the
/// solution found.
pub(crate) struct Optimized {
    pub(crate) window: PlanWindow,
    pub(crate) problem: Problem,
    /// Current spend per cell over the horizon.
    pub(crate) current: Vec<f64>,
    pub(crate) solution: Solution,
    /// Wall time of the search.
    pub(crate) seconds: f64,
}

/// The current and the optimized plan's total lift per draw, as plan.json reports them.
pub(crate) struct PlanLifts<'a> {
    pub(crate) current: &'a [f64],
    pub(crate) optimized: &'a [f64],
    /// Share of draws where the optimized plan beats the current one.
    pub(crate) p_better: f64,
    /// Posterior draws evaluated.
    pub(crate) draws: usize,
}

impl Optimized {
    /// The optimizer run of `problem` over `window` from the `current` plan (see [`search`]).
    pub(crate) fn search(
        response: &dyn Response,
        window: PlanWindow,
        problem: Problem,
        current: Vec<f64>,
        corners: bool,
    ) -> Result<Self, DecideError> {
        let (solution, seconds) = search(response, &problem, &current, corners)?;
        Ok(Self {
            window,
            problem,
            current,
            solution,
            seconds,
        })
    }

    /// plan.json's keys common to the national and the geo optimizer (`method`: how the plan
    /// was searched and its lift computed); each adds its spend per cell.
    pub(crate) fn plan_json(
        &self,
        spec: &LoadedSpec,
        design: &Design,
        names: &[String],
        lifts: &PlanLifts,
        method: &str,
    ) -> serde_json::Value {
        let (d, w) = (&spec.spec.decisions, &self.window);
        let (interval, risk) = (d.interval, d.optimizer.risk_level);
        let iso = mmm_core::dates::iso;
        let reference_dates = (
            design.dates[w.start - w.ref_weeks],
            design.dates[w.start - 1],
        );
        let current_total: f64 = self.current.iter().sum();
        serde_json::json!({
            "objective": w.objective,
            "risk_level": risk,
            "budget": self.problem.budget,
            "horizon_weeks": w.horizon,
            "start": iso(w.dates[0]),
            "reference_weeks": w.ref_weeks,
            "reference": format!("{} .. {}", iso(reference_dates.0), iso(reference_dates.1)),
            "current_plan": CURRENT_PLAN,
            "channels": names,
            "objective_current": optimize::objective_value(&self.problem, lifts.current, current_total),
            "objective_optimized": self.solution.objective,
            "current_lift": lift_summary(lifts.current, interval, risk),
            "optimized_lift": lift_summary(lifts.optimized, interval, risk),
            "prob_optimized_beats_current": lifts.p_better,
            "binding_constraints": optimize::binding_constraints(&self.problem.ranges, &self.solution.spend, self.problem.budget),
            "guardrails": optimize::guardrails_json(d.optimizer.max_change, &self.problem.ranges),
            "iterations": self.solution.iterations,
            "optimizer_seconds": self.seconds,
            "draws": lifts.draws,
            "method": method,
        })
    }

    /// The manifest settings common to the national and the geo optimizer.
    pub(crate) fn settings(&self, opts: &OptimizeOptions) -> serde_json::Value {
        let w = &self.window;
        serde_json::json!({
            "objective": w.objective, "budget": self.problem.budget, "horizon_weeks": w.horizon,
            "start": mmm_core::dates::iso(w.dates[0]), "record": opts.record,
        })
    }
}

/// The national optimizer's problem, and the current plan it starts from (each channel's
/// reference spend scaled to the horizon).
pub(crate) fn national_problem(
    spec: &LoadedSpec,
    design: &Design,
    window: &PlanWindow,
    opts: &OptimizeOptions,
) -> Result<(Vec<f64>, Problem), DecideError> {
    let o = &spec.spec.decisions.optimizer;
    let names = &design.channel_names;
    let current: Vec<f64> = (0..names.len())
        .map(|c| reference_spend(design, c, window))
        .collect();
    let budget = checked_budget(opts, o, &current)?;
    let ranges = national_ranges(o, names, &current, budget);
    Ok((current, problem(spec, window.objective, budget, ranges)))
}

/// The national current and optimized plans, flat over the horizon, evaluated over all draws.
pub(crate) struct NationalPlans {
    current_lift: Vec<f64>,
    new_lift: Vec<f64>,
    new_plan: Vec<Vec<f64>>,
}

impl NationalPlans {
    /// Evaluate the current and the optimized plan: their allocation rows, and total lift per
    /// draw.
    pub(crate) fn evaluate(
        pm: &dyn PlanResponse,
        names: &[String],
        opt: &Optimized,
        spec: &LoadedSpec,
    ) -> (AllocationRows, Self) {
        let d = &spec.spec.decisions;
        let (interval, risk) = (d.interval, d.optimizer.risk_level);
        let ranges = Some(opt.problem.ranges.as_slice());
        let mut rows = AllocationRows::default();
        let current_plan = flat_plan(&opt.current, opt.window.horizon);
        let new_plan = flat_plan(&opt.solution.spend, opt.window.horizon);
        let current_lift = rows.push_plan(
            "current",
            pm,
            &current_plan,
            names,
            ranges,
            interval,
            risk,
            d.margin,
        );
        let new_lift = rows.push_plan(
            "optimized",
            pm,
            &new_plan,
            names,
            ranges,
            interval,
            risk,
            d.margin,
        );
        let plans = Self {
            current_lift,
            new_lift,
            new_plan,
        };
        (rows, plans)
    }

    /// plan.json: the keys common to both optimizers and each channel's current and optimized
    /// spend.
    pub(crate) fn plan_json(
        &self,
        opt: &Optimized,
        spec: &LoadedSpec,
        design: &Design,
        draws: usize,
    ) -> serde_json::Value {
        let lifts = PlanLifts {
            current: &self.current_lift,
            optimized: &self.new_lift,
            p_better: prob_greater(&self.new_lift, &self.current_lift, self.new_lift.len()),
            draws,
        };
        let names = &design.channel_names;
        let mut plan_json = opt.plan_json(spec, design, names, &lifts, NATIONAL_METHOD);
        plan_json["current_spend"] = serde_json::json!(opt.current);
        plan_json["optimized_spend"] = serde_json::json!(opt.solution.spend);
        plan_json
    }

    /// The decision record of the optimized plan.
    pub(crate) fn record(
        &self,
        spec: &LoadedSpec,
        names: &[String],
        dates: &[i32],
        pm: &PlanModel,
    ) -> DecisionRecord {
        DecisionRecord::new(
            spec,
            "optimized",
            names,
            dates,
            self.new_plan.clone(),
            &self.new_lift,
            pm.total_prediction(&self.new_plan),
            spec.spec.decisions.interval,
        )
    }
}

/// plan.json's `method` of the national optimizer.
const NATIONAL_METHOD: &str = "projected gradient ascent on {bounds, sum = budget} over all posterior draws; weekly spend flat over the horizon; lift = response over the horizon and carry-out weeks minus the response to carry-in alone";

/// The optimize stage: writes allocation.parquet, plan.json and, with `record`, a decision record.
/// The search and the evaluation are [`Planner::optimize`]'s (the studio calls the same).
pub fn run_optimize(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    out_dir: &Path,
    opts: &OptimizeOptions,
) -> Result<Option<Manifest>, DecideError> {
    let planner = Planner::load(spec, features_dir, fit_dir)?;
    // Fail on an infeasible request before anything is written.
    let prepared = planner.prepare_optimize(spec, opts)?;
    let records = planner.records().to_vec();
    let Some(mut writer) = begin_stage(
        spec,
        planner.upstream(),
        records,
        opts,
        OPTIMIZE_STAGE,
        out_dir,
    )?
    else {
        return Ok(None);
    };
    let outcome = planner.solve(spec, prepared, opts)?;
    outcome.tables.write(
        &mut writer,
        ["allocation.parquet", "geo_allocation.parquet"],
    )?;
    writer.write_json("plan.json", &outcome.plan_json, None)?;
    if let Some(record) = &outcome.record {
        writer.write_json(RECORD_FILE, record, None)?;
    }
    Ok(Some(writer.finish(
        None,
        outcome.settings,
        RunStatus::Complete,
    )?))
}

/// A named spend plan: `plan[channel][week]` in currency.
pub type Scenario = (String, Vec<Vec<f64>>);

/// A scenario file's plans, one per scenario and geo (`geo` is empty when the file has no
/// `geo` column).
pub struct ScenarioFile {
    /// Whether the file has a `geo` column.
    pub has_geo: bool,
    /// (scenario, geo, plan[c][week]) in file order.
    pub plans: Vec<(String, String, Vec<Vec<f64>>)>,
}

/// Parse a scenario file: CSV with an optional `scenario` column, a `week` column (1..H) and
/// one spend column per channel (currency). Returns (name, plan[c][week]) per scenario.
pub fn read_scenarios(path: &Path, channels: &[String]) -> Result<Vec<Scenario>, DecideError> {
    national_plans(read_scenario_file(path, channels)?, path)
}

/// A scenario file's plans for a national model (a `geo` column is refused, naming `path`).
pub(crate) fn national_plans(
    file: ScenarioFile,
    path: &Path,
) -> Result<Vec<Scenario>, DecideError> {
    if file.has_geo {
        return Err(DecideError::Input(format!(
            "{}: column 'geo' names geos, but the model is national (a geo hierarchy reads \
             per-geo scenarios)",
            path.display()
        )));
    }
    Ok(file
        .plans
        .into_iter()
        .map(|(name, _, plan)| (name, plan))
        .collect())
}

/// An error in the plans file at `path`, the message naming row and column where it can.
pub(crate) fn plans_error(path: &Path, message: String) -> DecideError {
    DecideError::Input(format!("{}: {message}", path.display()))
}

/// Where a scenario file's columns are: `week` and one spend column per channel, and the
/// optional `scenario` and `geo`.
struct ScenarioColumns {
    week: usize,
    scenario: Option<usize>,
    geo: Option<usize>,
    /// The spend column of each channel, in channel order.
    spend: Vec<usize>,
}

/// One row of a scenario file.
struct PlanRow {
    scenario: String,
    /// Empty without a `geo` column.
    geo: String,
    /// 1..=[`MAX_HORIZON_WEEKS`](mmm_core::spec::MAX_HORIZON_WEEKS).
    week: usize,
    /// Spend per channel (currency).
    spend: Vec<f64>,
}

/// Per scenario and geo, in file order: its rows as (week, spend per channel).
type PlanGroups = Vec<(String, String, Vec<(usize, Vec<f64>)>)>;

impl ScenarioColumns {
    /// Find the columns among `headers` (names trimmed); `week` and every channel are required.
    fn find(
        headers: &csv::StringRecord,
        channels: &[String],
        path: &Path,
    ) -> Result<Self, DecideError> {
        let find = |name: &str| headers.iter().position(|h| h.trim() == name);
        let week = find("week").ok_or_else(|| plans_error(path, "missing column 'week'".into()))?;
        let (scenario, geo) = (find("scenario"), find("geo"));
        let spend = channels
            .iter()
            .map(|c| {
                find(c).ok_or_else(|| {
                    plans_error(
                        path,
                        format!("missing spend column '{c}' (one per channel)"),
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            week,
            scenario,
            geo,
            spend,
        })
    }

    /// Read every row and group them by scenario and geo.
    fn group_rows(
        &self,
        rdr: &mut csv::Reader<&[u8]>,
        channels: &[String],
        path: &Path,
    ) -> Result<PlanGroups, DecideError> {
        let mut groups: PlanGroups = Vec::new();
        for (i, rec) in rdr.records().enumerate() {
            let row = i + 2;
            let rec = rec.map_err(|e| plans_error(path, format!("row {row}: {e}")))?;
            let r = self.parse(&rec, row, channels, path)?;
            match groups
                .iter_mut()
                .find(|s| s.0 == r.scenario && s.1 == r.geo)
            {
                Some(s) => s.2.push((r.week, r.spend)),
                None => groups.push((r.scenario, r.geo, vec![(r.week, r.spend)])),
            }
        }
        Ok(groups)
    }

    /// Parse data row `row` (the header is row 1): scenario name (default `plan`, never
    /// `current`), geo, week and every channel's spend.
    fn parse(
        &self,
        rec: &csv::StringRecord,
        row: usize,
        channels: &[String],
        path: &Path,
    ) -> Result<PlanRow, DecideError> {
        let err = |m: String| plans_error(path, m);
        let field = |col: Option<usize>| col.and_then(|c| rec.get(c)).map(|s| s.trim().to_string());
        let scenario = field(self.scenario).unwrap_or_else(|| "plan".into());
        if scenario.is_empty() || scenario == "current" {
            return Err(err(format!(
                "row {row}, column 'scenario': a scenario needs a name other than 'current'"
            )));
        }
        let geo = field(self.geo).unwrap_or_default();
        if self.geo.is_some() && geo.is_empty() {
            return Err(err(format!("row {row}, column 'geo': empty")));
        }
        let max = mmm_core::spec::MAX_HORIZON_WEEKS;
        let week: usize = rec
            .get(self.week)
            .and_then(|w| w.trim().parse().ok())
            .filter(|w| (1..=max).contains(w))
            .ok_or_else(|| {
                err(format!(
                    "row {row}, column 'week': must be an integer from 1 to {max} (10 years)"
                ))
            })?;
        let spend = (self.spend.iter().zip(channels))
            .map(|(&col, ch)| {
                rec.get(col)
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .ok_or_else(|| {
                        err(format!(
                            "row {row}, column '{ch}': spend must be a number >= 0"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PlanRow {
            scenario,
            geo,
            week,
            spend,
        })
    }
}

/// One scenario's (and geo's) rows as `plan[channel][week]` over weeks 1..=`horizon`, each
/// week given exactly once.
fn assemble_plan(
    (name, geo, weeks): (String, String, Vec<(usize, Vec<f64>)>),
    horizon: usize,
    channels: usize,
    path: &Path,
) -> Result<(String, String, Vec<Vec<f64>>), DecideError> {
    let label = if geo.is_empty() {
        format!("scenario '{name}'")
    } else {
        format!("scenario '{name}', geo '{geo}'")
    };
    let mut plan = vec![vec![f64::NAN; horizon]; channels];
    for (w, spend) in weeks {
        if !plan[0][w - 1].is_nan() {
            return Err(plans_error(
                path,
                format!("{label}: week {w} appears twice"),
            ));
        }
        for (c, v) in spend.into_iter().enumerate() {
            plan[c][w - 1] = v;
        }
    }
    if let Some(w) = (0..horizon).find(|&w| plan[0][w].is_nan()) {
        return Err(plans_error(
            path,
            format!(
                "{label}: week {} is missing (every scenario needs weeks 1..{horizon})",
                w + 1
            ),
        ));
    }
    Ok((name, geo, plan))
}

/// Parse a scenario file as [`read_scenarios`] does, with an optional `geo` column: each
/// scenario then has one plan per geo, each with every week 1..H once.
pub(crate) fn read_scenario_file(
    path: &Path,
    channels: &[String],
) -> Result<ScenarioFile, DecideError> {
    // Read through the regular-file check: a FIFO or device given as `--plans` would block.
    let bytes = mmm_core::read_regular_file(path, mmm_core::artifact::MAX_ARTIFACT_BYTES)?;
    let mut rdr = csv::Reader::from_reader(bytes.as_slice());
    let headers = rdr
        .headers()
        .map_err(|e| plans_error(path, e.to_string()))?
        .clone();
    let columns = ScenarioColumns::find(&headers, channels, path)?;
    let groups = columns.group_rows(&mut rdr, channels, path)?;
    if groups.is_empty() {
        return Err(plans_error(path, "no rows".into()));
    }
    let horizon = groups
        .iter()
        .flat_map(|s| s.2.iter().map(|w| w.0))
        .max()
        .unwrap_or(0);
    let plans = groups
        .into_iter()
        .map(|group| assemble_plan(group, horizon, channels.len(), path))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(ScenarioFile {
        has_geo: columns.geo.is_some(),
        plans,
    })
}

/// Period index where the scenarios start and the dates of their weeks; the current plan
/// repeats the `horizon` weeks before the start, so the data must have them.
pub(crate) fn scenario_window(
    spec: &LoadedSpec,
    design: &Design,
    opts: &OptimizeOptions,
    horizon: usize,
) -> Result<PlanWindow, DecideError> {
    let period_days = spec.spec.data.period_days as i32;
    let (start, dates) = plan_start(design, period_days, opts.start.as_deref(), horizon)?;
    let ref_weeks = reference_weeks(spec, start, horizon)?;
    Ok(PlanWindow {
        horizon,
        objective: spec.spec.decisions.optimizer.objective,
        start,
        dates,
        ref_weeks,
    })
}

/// The stage's input records with the plans file's added.
pub(crate) fn with_plans_record(
    records: &[FileRecord],
    plans_file: &Path,
) -> Result<Vec<FileRecord>, DecideError> {
    let mut records = records.to_vec();
    records.push(mmm_core::file_record(plans_file)?);
    Ok(records)
}

/// The manifest settings common to the national and the geo scenario stage.
pub(crate) fn scenario_settings(
    plans_file: &Path,
    dates: &[i32],
    opts: &OptimizeOptions,
) -> serde_json::Value {
    serde_json::json!({
        "plans": plans_file.display().to_string(),
        "start": mmm_core::dates::iso(dates[0]),
        "record": opts.record,
    })
}

/// comparison.json's row of one scenario: its spend and lift, and its gain over the current
/// plan per draw.
fn scenario_row(
    name: &str,
    plan: &[Vec<f64>],
    lift: &[f64],
    current_lift: &[f64],
    spec: &LoadedSpec,
) -> serde_json::Value {
    let d = &spec.spec.decisions;
    let (interval, risk) = (d.interval, d.optimizer.risk_level);
    let spend: f64 = plan.iter().flatten().sum();
    let gain: Vec<f64> = lift.iter().zip(current_lift).map(|(a, b)| a - b).collect();
    serde_json::json!({
        "scenario": name,
        "spend": spend,
        "lift": lift_summary(lift, interval, risk),
        "profit_mean": d.margin * mean(lift) - spend,
        "lift_minus_current": lift_summary(&gain, interval, risk),
        "prob_beats_current": prob_greater(lift, current_lift, lift.len()),
    })
}

/// Every scenario and the current plan evaluated over all draws: the rows of
/// scenarios.parquet and comparison.json.
pub(crate) fn compare_scenarios(
    pm: &PlanModel,
    names: &[String],
    current: &[Vec<f64>],
    scenarios: &[Scenario],
    dates: &[i32],
    spec: &LoadedSpec,
) -> (AllocationRows, serde_json::Value) {
    let d = &spec.spec.decisions;
    let (interval, risk) = (d.interval, d.optimizer.risk_level);
    let mut rows = AllocationRows::default();
    let current_lift = rows.push_plan(
        "current", pm, current, names, None, interval, risk, d.margin,
    );
    let mut table = Vec::new();
    for (name, plan) in scenarios {
        let lift = rows.push_plan(name, pm, plan, names, None, interval, risk, d.margin);
        table.push(scenario_row(name, plan, &lift, &current_lift, spec));
    }
    let comparison = serde_json::json!({
        "start": mmm_core::dates::iso(dates[0]),
        "horizon_weeks": dates.len(),
        "current": {
            "definition": CURRENT_PLAN,
            "spend": current.iter().flatten().sum::<f64>(),
            "lift": lift_summary(&current_lift, interval, risk),
        },
        "scenarios": table,
        "interval": interval,
    });
    (rows, comparison)
}

/// The scenario stage: outcome distributions of plans from a file vs the current plan;
/// writes scenarios.parquet, comparison.json and, with `record` (one scenario), a decision record.
/// The evaluation is [`Planner::scenarios`]'s (the studio calls the same).
pub fn run_scenario(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    plans_file: &Path,
    out_dir: &Path,
    opts: &OptimizeOptions,
) -> Result<Option<Manifest>, DecideError> {
    let planner = Planner::load(spec, features_dir, fit_dir)?;
    let file = read_scenario_file(plans_file, planner.channels())?;
    let prepared = planner.prepare_scenarios(spec, file, opts, plans_file)?;
    let records = with_plans_record(planner.records(), plans_file)?;
    let Some(mut writer) = begin_stage(
        spec,
        planner.upstream(),
        records,
        opts,
        SCENARIO_STAGE,
        out_dir,
    )?
    else {
        return Ok(None);
    };
    let outcome = planner.evaluate(spec, &prepared, opts.record);
    outcome
        .tables
        .write(&mut writer, ["scenarios.parquet", "geo_scenarios.parquet"])?;
    writer.write_json("comparison.json", &outcome.comparison, None)?;
    if let Some(record) = &outcome.record {
        writer.write_json(RECORD_FILE, record, None)?;
    }
    let mut settings = scenario_settings(plans_file, &outcome.dates, opts);
    if let Some(extra) = outcome.settings.as_object() {
        for (k, v) in extra {
            settings[k] = v.clone();
        }
    }
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}
