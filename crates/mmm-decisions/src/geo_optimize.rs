//! The optimize and scenario stages for a geo hierarchy: one budget split over geos x channels,
//! each cell with its own bounds, and spend plans per geo compared with the current one; every
//! geo's response from its own parameters per draw, national figures summed over geos per draw.

use std::path::Path;

use mmm_core::spec::{ChannelBounds, LoadedSpec, OptimizerSpec};
use mmm_core::{StageWriter, Upstream, schemas};
use mmm_features::Design;
use mmm_features::panel::GeoDesign;
use mmm_model::Posterior;
use mmm_model::geo::GeoModel;

use crate::DecideError;
use crate::optimize::{self, ChannelRange, GeoPlan, Problem};
use crate::plan::PlanModel;
use crate::review::{DecisionRecord, GeoPrediction};
use crate::stages::{
    AllocationRows, CURRENT_PLAN, ChannelLifts, OptimizeOptions, Optimized, PlanLifts, PlanWindow,
    ScenarioFile, checked_budget, current_plan, flat_plan, lift_summary, plans_error, prob_greater,
    problem, reference_spend, require_draws, spend_scales,
};

/// Every geo a bound names must be a geo of the data.
pub(crate) fn check_bound_geos(o: &OptimizerSpec, geos: &[String]) -> Result<(), DecideError> {
    for b in &o.bounds {
        if let Some(g) = &b.geo
            && !geos.contains(g)
        {
            return Err(DecideError::Input(format!(
                "decisions.optimizer.bounds: geo '{g}' (channel '{}') is not a geo of the data ({})",
                b.channel,
                geos.join(", ")
            )));
        }
    }
    Ok(())
}

/// The bound of channel `name` in `geo` with its label: the geo's own bound takes precedence
/// over the channel's bound for every geo.
fn cell_bound<'a>(
    o: &'a OptimizerSpec,
    name: &str,
    geo: &str,
) -> Option<(&'a ChannelBounds, String)> {
    o.bounds
        .iter()
        .find(|b| b.channel == name && b.geo.as_deref() == Some(geo))
        .map(|b| (b, format!("decisions.optimizer.bounds[{name}, geo {geo}]")))
        .or_else(|| {
            o.bounds
                .iter()
                .find(|b| b.channel == name && b.geo.is_none())
                .map(|b| (b, format!("decisions.optimizer.bounds[{name}] (every geo)")))
        })
}

/// A cell's label and its bound with the bound's label, when it has one.
type CellBound<'a> = (String, Option<(&'a ChannelBounds, String)>);

/// Every cell's current spend and its label and bound; cell g x nc + c is channel c in geo g.
fn geo_cells<'a>(
    o: &'a OptimizerSpec,
    panel: &GeoDesign,
    names: &[String],
    window: &PlanWindow,
) -> (Vec<f64>, Vec<CellBound<'a>>) {
    let mut current = Vec::new();
    let mut bounds = Vec::new();
    for (geo, gd) in panel.geos.iter().zip(&panel.designs) {
        for (c, name) in names.iter().enumerate() {
            current.push(reference_spend(gd, c, window));
            bounds.push((format!("{name} in {geo}"), cell_bound(o, name, geo)));
        }
    }
    (current, bounds)
}

/// The geo optimizer's problem over cells g x nc + c (channel c in geo g), and the current
/// plan it starts from (every cell's reference spend scaled to the horizon).
pub(crate) fn geo_problem(
    spec: &LoadedSpec,
    panel: &GeoDesign,
    names: &[String],
    window: &PlanWindow,
    opts: &OptimizeOptions,
) -> Result<(Vec<f64>, Problem), DecideError> {
    let o = &spec.spec.decisions.optimizer;
    let (current, bounds) = geo_cells(o, panel, names, window);
    let budget = checked_budget(opts, o, &current)?;
    // max_change is measured from each cell's share of the reference spend at this budget.
    let reference = optimize::reference_at_budget(&current, budget);
    let ranges: Vec<ChannelRange> = bounds
        .into_iter()
        .zip(&reference)
        .map(|((label, bound), r)| ChannelRange::new(label, *r, o.max_change, bound))
        .collect();
    Ok((current, problem(spec, window.objective, budget, ranges)))
}

/// The current and the optimized plan over geos, flat over the horizon, evaluated over all
/// draws.
pub(crate) struct GeoPlans {
    /// The current plan's lift, then the optimized one's.
    pub(crate) lifts: Vec<PlanLift>,
    /// The optimized plan, `weekly[g][c][week]`.
    pub(crate) optimized: Vec<Vec<Vec<f64>>>,
}

impl GeoPlans {
    /// Evaluate the current and the optimized plan of `opt` in every geo of `geos`: their
    /// rows, national and per geo, and their lifts.
    pub(crate) fn evaluate(
        plan: &GeoPlan,
        geos: &[String],
        names: &[String],
        opt: &Optimized,
        spec: &LoadedSpec,
    ) -> (PlanRows, Self) {
        let d = &spec.spec.decisions;
        let settings = (d.interval, d.optimizer.risk_level, d.margin);
        let ranges = Some(opt.problem.ranges.as_slice());
        let mut rows = PlanRows::default();
        let mut lifts = Vec::new();
        let mut weekly_plans = Vec::new();
        for (label, spend) in [
            ("current", &opt.current),
            ("optimized", &opt.solution.spend),
        ] {
            let weekly: Vec<Vec<Vec<f64>>> = spend
                .chunks(names.len())
                .map(|cells| flat_plan(cells, opt.window.horizon))
                .collect();
            lifts.push(rows.push(label, plan, geos, &weekly, names, ranges, settings));
            weekly_plans.push(weekly);
        }
        let optimized = weekly_plans.swap_remove(1);
        (rows, Self { lifts, optimized })
    }

    /// plan.json: the keys common to both optimizers, the geos and every cell's current and
    /// optimized spend by geo.
    pub(crate) fn plan_json(
        &self,
        opt: &Optimized,
        spec: &LoadedSpec,
        design: &Design,
        geos: &[String],
        draws: usize,
    ) -> serde_json::Value {
        let (current_lift, new_lift) = (&self.lifts[0].national, &self.lifts[1].national);
        let lifts = PlanLifts {
            current: current_lift,
            optimized: new_lift,
            p_better: prob_greater(new_lift, current_lift, draws),
            draws,
        };
        let names = &design.channel_names;
        let mut plan_json = opt.plan_json(spec, design, names, &lifts, GEO_METHOD);
        let nc = names.len();
        plan_json["geos"] = serde_json::json!(geos);
        plan_json["current_spend_by_geo"] = cells_by_geo(geos, nc, &opt.current);
        plan_json["optimized_spend_by_geo"] = cells_by_geo(geos, nc, &opt.solution.spend);
        plan_json
    }
}

/// Spend per cell (geo-major) as an object of each geo's spend per channel.
fn cells_by_geo(geos: &[String], nc: usize, spend: &[f64]) -> serde_json::Value {
    geos.iter()
        .enumerate()
        .map(|(g, geo)| (geo.clone(), serde_json::json!(spend[g * nc..(g + 1) * nc])))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// plan.json's `method` of the geo optimizer.
const GEO_METHOD: &str = "projected gradient ascent on {per geo and channel bounds, sum = budget} over all posterior draws, every geo's response from its own parameters per draw; weekly spend flat over the horizon; lift = response over the horizon and carry-out weeks minus the response to carry-in alone, summed over geos per draw";

/// A scenario's plan per geo: `plans[g][c][week]`, currency.
pub(crate) type GeoScenario = (String, Vec<Vec<Vec<f64>>>);

/// Each geo's spend per channel over a plan (`plans[g][c][week]`).
fn spend_by_geo(geos: &[String], plans: &[Vec<Vec<f64>>]) -> serde_json::Value {
    geos.iter()
        .zip(plans)
        .map(|(geo, p)| {
            let per_channel: Vec<f64> = p.iter().map(|w| w.iter().sum()).collect();
            (geo.clone(), serde_json::json!(per_channel))
        })
        .collect::<serde_json::Map<_, _>>()
        .into()
}

/// A plan's total spend over geos, channels and weeks.
fn total_spend(plans: &[Vec<Vec<f64>>]) -> f64 {
    plans.iter().flatten().flatten().sum()
}

/// comparison.json's row of one scenario: its spend (per geo too) and lift, and its gain over
/// the current plan per draw.
fn geo_scenario_row(
    (name, plans): &GeoScenario,
    geos: &[String],
    lift: &[f64],
    current_lift: &[f64],
    spec: &LoadedSpec,
) -> serde_json::Value {
    let d = &spec.spec.decisions;
    let (interval, risk) = (d.interval, d.optimizer.risk_level);
    let spend = total_spend(plans);
    let gain: Vec<f64> = lift.iter().zip(current_lift).map(|(a, b)| a - b).collect();
    serde_json::json!({
        "scenario": name,
        "spend": spend,
        "spend_by_geo": spend_by_geo(geos, plans),
        "lift": lift_summary(lift, interval, risk),
        "profit_mean": d.margin * mmm_core::summary::mean(lift) - spend,
        "lift_minus_current": lift_summary(&gain, interval, risk),
        "prob_beats_current": gain.iter().filter(|g| **g > 0.0).count() as f64 / gain.len().max(1) as f64,
    })
}

/// Every scenario and the current plan evaluated in every geo over all draws.
pub(crate) struct GeoComparison {
    pub(crate) rows: PlanRows,
    /// The first scenario's lift (the recorded one).
    pub(crate) first_lift: Option<PlanLift>,
    pub(crate) comparison: serde_json::Value,
}

impl GeoComparison {
    /// Evaluate the current plan (`current[g][c][week]`) and every scenario.
    pub(crate) fn evaluate(
        plan: &GeoPlan,
        geos: &[String],
        names: &[String],
        current: &[Vec<Vec<f64>>],
        scenarios: &[GeoScenario],
        dates: &[i32],
        spec: &LoadedSpec,
    ) -> Self {
        let d = &spec.spec.decisions;
        let (interval, risk) = (d.interval, d.optimizer.risk_level);
        let settings = (interval, risk, d.margin);
        let mut rows = PlanRows::default();
        let current_lift =
            (rows.push("current", plan, geos, current, names, None, settings)).national;
        let mut table = Vec::new();
        let mut first_lift = None;
        for scenario in scenarios {
            let (name, plans) = scenario;
            let by_geo = rows.push(name, plan, geos, plans, names, None, settings);
            let lift = by_geo.national.clone();
            first_lift.get_or_insert(by_geo);
            table.push(geo_scenario_row(scenario, geos, &lift, &current_lift, spec));
        }
        let comparison = serde_json::json!({
            "start": mmm_core::dates::iso(dates[0]),
            "horizon_weeks": dates.len(),
            "channels": names,
            "geos": geos,
            "current": {
                "definition": CURRENT_PLAN,
                "spend": total_spend(current),
                "spend_by_geo": spend_by_geo(geos, current),
                "lift": lift_summary(&current_lift, interval, risk),
            },
            "scenarios": table,
            "interval": interval,
            "method": "every geo's response from its own parameters per draw; lift = response over the horizon and carry-out weeks minus the response to carry-in alone, summed over geos per draw; a plan without a geo column is split over geos by each geo's share of the channel's spend in the current window",
        });
        Self {
            rows,
            first_lift,
            comparison,
        }
    }
}

/// Every geo's current plan ([`crate::stages::current_plan`]): `current[g][c][week]`.
pub(crate) fn geo_current(panel: &GeoDesign, window: &PlanWindow) -> Vec<Vec<Vec<f64>>> {
    panel
        .designs
        .iter()
        .map(|gd| current_plan(gd, window))
        .collect()
}

/// Each scenario of `file` as one plan per geo of `geos`. With a `geo` column every geo needs
/// its rows; without one, a national plan is split over geos by each geo's share of the
/// channel's spend in `current` (`current[g][c][week]`).
pub(crate) fn geo_scenarios(
    file: ScenarioFile,
    geos: &[String],
    names: &[String],
    current: &[Vec<Vec<f64>>],
    path: &Path,
) -> Result<Vec<GeoScenario>, DecideError> {
    if !file.has_geo {
        return file
            .plans
            .into_iter()
            .map(|(name, _, plan)| split_over_geos(name, &plan, geos.len(), names, current, path))
            .collect();
    }
    if let Some((name, geo, _)) = file.plans.iter().find(|p| !geos.contains(&p.1)) {
        return Err(plans_error(
            path,
            format!(
                "scenario '{name}': geo '{geo}' is not a geo of the data ({})",
                geos.join(", ")
            ),
        ));
    }
    let mut order: Vec<String> = Vec::new();
    for (name, _, _) in &file.plans {
        if !order.contains(name) {
            order.push(name.clone());
        }
    }
    order
        .into_iter()
        .map(|name| {
            let per_geo = geos
                .iter()
                .map(|geo| geo_plan(&file, &name, geo, geos, path))
                .collect::<Result<Vec<_>, _>>()?;
            Ok((name, per_geo))
        })
        .collect()
}

/// A national plan (`plan[c][week]`) split over the `n_geos` geos by each geo's share of the
/// channel's spend in `current`; a channel with spend planned but none current is refused.
fn split_over_geos(
    name: String,
    plan: &[Vec<f64>],
    n_geos: usize,
    names: &[String],
    current: &[Vec<Vec<f64>>],
    path: &Path,
) -> Result<GeoScenario, DecideError> {
    let mut per_geo = vec![Vec::with_capacity(names.len()); n_geos];
    for (c, weeks) in plan.iter().enumerate() {
        let by_geo: Vec<f64> = current.iter().map(|g| g[c].iter().sum()).collect();
        let all: f64 = by_geo.iter().sum();
        if all <= 0.0 && weeks.iter().any(|w| *w > 0.0) {
            return Err(plans_error(
                path,
                format!(
                    "scenario '{name}': channel '{}' had no spend in any geo in the {} \
                     weeks before the start, so its national plan cannot be split by \
                     geo; give one row per geo and week with a 'geo' column",
                    names[c],
                    weeks.len()
                ),
            ));
        }
        for (g, geo_plan) in per_geo.iter_mut().enumerate() {
            let share = if all > 0.0 { by_geo[g] / all } else { 0.0 };
            geo_plan.push(weeks.iter().map(|w| w * share).collect());
        }
    }
    Ok((name, per_geo))
}

/// Scenario `name`'s plan in `geo` from a file with a `geo` column; every geo needs its rows.
fn geo_plan(
    file: &ScenarioFile,
    name: &str,
    geo: &str,
    geos: &[String],
    path: &Path,
) -> Result<Vec<Vec<f64>>, DecideError> {
    file.plans
        .iter()
        .find(|p| p.0 == name && p.1 == geo)
        .map(|p| p.2.clone())
        .ok_or_else(|| {
            plans_error(
                path,
                format!(
                    "scenario '{name}': no rows for geo '{geo}' (with a 'geo' column \
                     every scenario needs every geo: {})",
                    geos.join(", ")
                ),
            )
        })
}

/// What the geo decision stages read: the national and per-geo designs, the hierarchy and
/// every geo's own parameters per posterior draw, with the input records for the manifest.
pub(crate) struct GeoInputs {
    pub(crate) design: Design,
    pub(crate) panel: GeoDesign,
    pub(crate) hierarchy: GeoModel,
    /// `thetas[g][draw]`: geo g's parameters in each draw.
    pub(crate) thetas: Vec<Vec<Vec<f64>>>,
    /// The global constrained parameters of each draw (draws.parquet's columns).
    pub(crate) global: Vec<Vec<f64>>,
    pub(crate) records: Vec<mmm_core::FileRecord>,
    /// The features and fit stages read.
    pub(crate) upstream: [Upstream; 2],
}

impl GeoInputs {
    /// Read the inputs of a geo decision stage.
    pub(crate) fn load(
        spec: &LoadedSpec,
        features_dir: &Path,
        fit_dir: &Path,
    ) -> Result<Self, DecideError> {
        let [features, fit] = mmm_core::open_chain(
            spec.into(),
            [(features_dir, mmm_features::STAGE), (fit_dir, "fit")],
        )?;
        let (design, mut records) = Design::load(&features, &spec.spec)?;
        let (panel, recs) = GeoDesign::load(&features, &spec.spec)?;
        records.extend(recs);
        let (draws, rec) = fit.parquet("draws.parquet")?;
        records.push(rec);
        let hierarchy = GeoModel::new(&spec.spec, &panel)?;
        let draws_path = fit_dir.join("draws.parquet");
        let posterior = require_draws(
            Posterior::from_columns(&draws, &hierarchy.param_names(), &draws_path)?,
            &draws_path,
        )?;
        let thetas = (0..hierarchy.geos().len())
            .map(|g| {
                posterior
                    .theta
                    .iter()
                    .map(|t| hierarchy.geo_theta(t, g))
                    .collect()
            })
            .collect();
        Ok(Self {
            design,
            panel,
            hierarchy,
            thetas,
            global: posterior.theta,
            records,
            upstream: [features, fit],
        })
    }

    /// The response of every geo to a plan of `horizon` weeks from period `start`.
    pub(crate) fn plan(&self, start: usize, horizon: usize) -> GeoPlan<'_> {
        // Each geo's carry-in is evaluated over every draw: geos are built in parallel.
        let designs = &self.panel.designs;
        GeoPlan {
            geos: mmm_core::parallel::map_indexed(designs.len(), 1, |g| {
                PlanModel::new(
                    self.hierarchy.member(g),
                    &self.thetas[g],
                    spend_scales(&designs[g]),
                    designs[g].scales.target,
                    start,
                    horizon,
                )
            }),
        }
    }
}

/// A plan's lift per draw: summed over geos, and per geo.
pub(crate) struct PlanLift {
    pub(crate) national: Vec<f64>,
    pub(crate) by_geo: Vec<Vec<f64>>,
}

/// The decision record of plan `name` (`weekly[g][c][week]`, currency) with its lift: every
/// geo's prediction from its own parameters, and their sums.
#[allow(clippy::too_many_arguments)]
pub(crate) fn geo_record(
    spec: &LoadedSpec,
    name: &str,
    plan: &GeoPlan,
    geos: &[String],
    names: &[String],
    dates: &[i32],
    weekly: &[Vec<Vec<f64>>],
    lift: &PlanLift,
) -> DecisionRecord {
    let interval = spec.spec.decisions.interval;
    let parts = geos
        .iter()
        .enumerate()
        .map(|(g, geo)| GeoPrediction {
            geo: geo.clone(),
            spend: weekly[g].clone(),
            lift_per_draw: lift.by_geo[g].clone(),
            total: plan.geos[g].total_prediction(&weekly[g]),
        })
        .collect();
    DecisionRecord::for_geos(spec, name, names, dates, parts, interval)
}

/// Rows of plans evaluated over geos: per geo and channel (geo_allocation.parquet and its
/// scenario twin), and nationally with each channel's lift summed over geos per draw.
#[derive(Default)]
pub(crate) struct PlanRows {
    national: AllocationRows,
    geos: AllocationRows,
}

impl PlanRows {
    /// Write the national rows and the per-geo rows as `files` (allocation tables).
    pub(crate) fn write(
        self,
        writer: &mut StageWriter,
        [national, geos]: [&str; 2],
    ) -> Result<(), DecideError> {
        writer.write_parquet(national, &self.national.build()?, &schemas::allocation())?;
        writer.write_parquet(geos, &self.geos.build()?, &schemas::geo_allocation())?;
        Ok(())
    }

    /// Add plan `label` (`weekly[g][c][week]`, currency) and return its total lift per draw,
    /// per geo and summed over geos. `ranges` (geo-major cells) are the optimizer's bounds,
    /// when any.
    #[allow(clippy::too_many_arguments)]
    fn push(
        &mut self,
        label: &str,
        plan: &GeoPlan,
        geos: &[String],
        weekly: &[Vec<Vec<f64>>],
        names: &[String],
        ranges: Option<&[ChannelRange]>,
        (interval, risk, margin): (f64, f64, f64),
    ) -> PlanLift {
        let nc = names.len();
        let draws = plan.geos.first().map_or(0, |p| p.draws());
        // Geos are independent: their lifts are computed in parallel, their rows pushed in order.
        let lifts = mmm_core::parallel::map_indexed(geos.len(), 1, |g| {
            ChannelLifts::of(&plan.geos[g], &weekly[g])
        });
        let mut channel_lift = vec![vec![0.0; draws]; nc];
        let mut channel_spend = vec![0.0; nc];
        let mut total = vec![0.0; draws];
        let mut by_geo = Vec::with_capacity(geos.len());
        for (g, (geo, geo_lifts)) in geos.iter().zip(lifts).enumerate() {
            self.geos.at_geo = Some(geo.clone());
            self.geos.push_lifts(
                label,
                &weekly[g],
                &geo_lifts,
                names,
                ranges.map(|r| &r[g * nc..(g + 1) * nc]),
                (interval, risk, margin),
            );
            for (t, v) in total.iter_mut().zip(&geo_lifts.total) {
                *t += v;
            }
            for (c, lift) in geo_lifts.channels.iter().enumerate() {
                for (a, v) in channel_lift[c].iter_mut().zip(lift) {
                    *a += v;
                }
                channel_spend[c] += weekly[g][c].iter().sum::<f64>();
            }
            by_geo.push(geo_lifts.total);
        }
        let national = NationalSums {
            spend: channel_spend,
            lift: channel_lift,
            total,
        };
        self.push_national(label, names, &national, (interval, risk, margin));
        PlanLift {
            national: national.total,
            by_geo,
        }
    }

    /// The national rows of plan `label`: each channel's spend and lift summed over geos, and
    /// the plan's total.
    fn push_national(
        &mut self,
        label: &str,
        names: &[String],
        sums: &NationalSums,
        (interval, risk, margin): (f64, f64, f64),
    ) {
        for (c, name) in names.iter().enumerate() {
            self.national.row(
                label,
                name,
                sums.spend[c],
                (f64::NAN, f64::NAN),
                &sums.lift[c],
                interval,
                risk,
                margin,
            );
        }
        self.national.row(
            label,
            "total",
            sums.spend.iter().sum(),
            (f64::NAN, f64::NAN),
            &sums.total,
            interval,
            risk,
            margin,
        );
    }
}

/// A plan's national figures: per channel its spend and lift per draw summed over geos, and
/// the plan's total lift per draw.
struct NationalSums {
    spend: Vec<f64>,
    lift: Vec<Vec<f64>>,
    total: Vec<f64>,
}
