//! The optimize and scenario stages for a geo hierarchy: one budget split over geos x channels,
//! each cell with its own bounds, and spend plans per geo compared with the current one; every
//! geo's response from its own parameters per draw, national figures summed over geos per draw.

use std::path::Path;

use mmm_core::spec::{LoadedSpec, Objective};
use mmm_core::{Manifest, RunStatus, StageWriter, Upstream, schemas};
use mmm_features::Design;
use mmm_features::panel::GeoDesign;
use mmm_model::Posterior;
use mmm_model::geo::GeoModel;

use crate::DecideError;
use crate::optimize::{self, ChannelRange, GeoPlan, Problem};
use crate::plan::PlanModel;
use crate::review::{DecisionRecord, GeoPrediction};
use crate::stages::{
    AllocationRows, OptimizeOptions, PlanWindow, RECORD_FILE, ScenarioFile, flat_plan,
    lift_summary, one_scenario_to_record, plan_start, plan_window, read_scenario_file,
    require_draws, spend_scales,
};

/// Run `mmm optimize` on a geo hierarchy: writes allocation.parquet (national: geos summed
/// per draw), geo_allocation.parquet and plan.json.
pub(crate) fn run(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    out_dir: &Path,
    opts: &OptimizeOptions,
) -> Result<Option<Manifest>, DecideError> {
    let inputs = GeoInputs::load(spec, features_dir, fit_dir)?;
    let (design, panel) = (&inputs.design, &inputs.panel);
    let d = &spec.spec.decisions;
    let o = &d.optimizer;
    let PlanWindow {
        horizon,
        objective,
        start,
        dates,
        ref_weeks,
    } = plan_window(spec, design, opts)?;
    for b in &o.bounds {
        if let Some(g) = &b.geo
            && !panel.geos.contains(g)
        {
            return Err(DecideError::Input(format!(
                "decisions.optimizer.bounds: geo '{g}' (channel '{}') is not a geo of the data ({})",
                b.channel,
                panel.geos.join(", ")
            )));
        }
    }
    let names = design.channel_names.clone();
    let nc = names.len();
    // Cell g x nc + c: channel c in geo g.
    let mut current = Vec::new();
    let mut bounds = Vec::new();
    for (geo, gd) in panel.geos.iter().zip(&panel.designs) {
        for (c, name) in names.iter().enumerate() {
            let cur = gd.spend(c)[start - ref_weeks..start].iter().sum::<f64>() * horizon as f64
                / ref_weeks as f64;
            current.push(cur);
            // A geo's own bound takes precedence over the channel's bound for every geo.
            let bound = o
                .bounds
                .iter()
                .find(|b| &b.channel == name && b.geo.as_ref() == Some(geo))
                .map(|b| (b, format!("decisions.optimizer.bounds[{name}, geo {geo}]")))
                .or_else(|| {
                    o.bounds
                        .iter()
                        .find(|b| &b.channel == name && b.geo.is_none())
                        .map(|b| (b, format!("decisions.optimizer.bounds[{name}] (every geo)")))
                });
            bounds.push((format!("{name} in {geo}"), bound));
        }
    }
    let budget = opts.budget.or(o.budget).unwrap_or(current.iter().sum());
    if !(budget.is_finite() && budget >= 0.0) {
        return Err(DecideError::Input(format!(
            "budget must be a number >= 0, got {budget}"
        )));
    }
    // max_change is measured from each cell's share of the reference spend at this budget.
    let reference = optimize::reference_at_budget(&current, budget);
    let ranges: Vec<ChannelRange> = bounds
        .into_iter()
        .zip(&reference)
        .map(|((label, bound), r)| ChannelRange::new(label, *r, o.max_change, bound))
        .collect();
    let problem = Problem {
        budget,
        objective,
        risk_level: o.risk_level,
        margin: d.margin,
        ranges,
    };
    optimize::check_feasible(&problem)?;
    let [features, fit] = &inputs.upstream;
    let stage_inputs = mmm_core::StageInputs::new(spec, &[features, fit], inputs.records.clone())
        .with_options(opts.freshness_key());
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(crate::stages::OPTIMIZE_STAGE),
        stage_inputs,
        opts.force,
    )?
    else {
        return Ok(None);
    };
    let plan = inputs.plan(start, horizon);
    let cells = current.len();
    let mut starts = vec![current.clone(), vec![budget / cells.max(1) as f64; cells]];
    if objective != Objective::Expected && objective != Objective::Profit {
        let expected = Problem {
            objective: Objective::Expected,
            ..problem.clone()
        };
        starts.push(optimize::optimize(&plan, &expected, &starts)?.spend);
    }
    let timer = std::time::Instant::now();
    let solution = optimize::optimize(&plan, &problem, &starts)?;
    let seconds = timer.elapsed().as_secs_f64();
    let (interval, risk) = (d.interval, o.risk_level);
    let draws = optimize::Response::draws(&plan);

    let mut rows = PlanRows::default();
    let mut lifts = Vec::new();
    let mut weekly_plans = Vec::new();
    for (label, spend) in [("current", &current), ("optimized", &solution.spend)] {
        let weekly: Vec<Vec<Vec<f64>>> = spend
            .chunks(nc)
            .map(|cells| flat_plan(cells, horizon))
            .collect();
        lifts.push(rows.push(
            label,
            &plan,
            &panel.geos,
            &weekly,
            &names,
            Some(&problem.ranges),
            (interval, risk, d.margin),
        ));
        weekly_plans.push(weekly);
    }
    let PlanRows {
        national,
        geos: geo_rows,
    } = rows;
    let (current_lift, new_lift) = (&lifts[0].national, &lifts[1].national);
    let p_better = new_lift
        .iter()
        .zip(current_lift)
        .filter(|(a, b)| a > b)
        .count() as f64
        / draws as f64;
    let binding = optimize::binding_constraints(&problem.ranges, &solution.spend, budget);
    let by_geo = |spend: &[f64]| -> serde_json::Value {
        panel
            .geos
            .iter()
            .enumerate()
            .map(|(g, geo)| (geo.clone(), serde_json::json!(spend[g * nc..(g + 1) * nc])))
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let plan_json = serde_json::json!({
        "objective": objective,
        "risk_level": risk,
        "budget": budget,
        "horizon_weeks": horizon,
        "start": mmm_core::dates::iso(dates[0]),
        "reference_weeks": ref_weeks,
        "reference": format!("{} .. {}", mmm_core::dates::iso(design.dates[start - ref_weeks]), mmm_core::dates::iso(design.dates[start - 1])),
        "channels": names,
        "geos": panel.geos,
        "current_spend_by_geo": by_geo(&current),
        "optimized_spend_by_geo": by_geo(&solution.spend),
        "objective_current": optimize::objective_value(&problem, current_lift, current.iter().sum()),
        "objective_optimized": solution.objective,
        "current_lift": lift_summary(current_lift, interval, risk),
        "optimized_lift": lift_summary(new_lift, interval, risk),
        "prob_optimized_beats_current": p_better,
        "binding_constraints": binding,
        "guardrails": optimize::guardrails_json(o.max_change, &problem.ranges),
        "iterations": solution.iterations,
        "optimizer_seconds": seconds,
        "draws": draws,
        "method": "projected gradient ascent on {per geo and channel bounds, sum = budget} over all posterior draws, every geo's response from its own parameters per draw; weekly spend flat over the horizon; lift = response over the horizon and carry-out weeks minus the response to carry-in alone, summed over geos per draw",
    });
    writer.write_parquet(
        "allocation.parquet",
        &national.build()?,
        &schemas::allocation(),
    )?;
    writer.write_parquet(
        "geo_allocation.parquet",
        &geo_rows.build()?,
        &schemas::geo_allocation(),
    )?;
    writer.write_json("plan.json", &plan_json, None)?;
    if opts.record {
        let record = geo_record(
            spec,
            "optimized",
            &plan,
            &panel.geos,
            &names,
            &dates,
            &weekly_plans[1],
            &lifts[1],
            interval,
        );
        writer.write_json(RECORD_FILE, &record, None)?;
    }
    let settings = serde_json::json!({
        "objective": objective, "budget": budget, "horizon_weeks": horizon,
        "start": mmm_core::dates::iso(dates[0]), "geos": panel.len(), "cells": cells,
        "record": opts.record,
    });
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}

/// A scenario's plan per geo: `plans[g][c][week]`, currency.
type GeoScenario = (String, Vec<Vec<Vec<f64>>>);

/// Run `mmm scenario` on a geo hierarchy: each plan of `plans_file` against the current one
/// (every geo's actual spend in the horizon-length window before the start). Writes
/// scenarios.parquet (national: geos summed per draw), geo_scenarios.parquet and
/// comparison.json.
pub(crate) fn run_scenario(
    spec: &LoadedSpec,
    features_dir: &Path,
    fit_dir: &Path,
    plans_file: &Path,
    out_dir: &Path,
    opts: &OptimizeOptions,
) -> Result<Option<Manifest>, DecideError> {
    let inputs = GeoInputs::load(spec, features_dir, fit_dir)?;
    let (design, panel) = (&inputs.design, &inputs.panel);
    let names = design.channel_names.clone();
    let nc = names.len();
    let file = read_scenario_file(plans_file, &names)?;
    let horizon = file.plans[0].2[0].len();
    let d = &spec.spec.decisions;
    let period_days = spec.spec.data.period_days as i32;
    let (start, dates) = plan_start(design, period_days, opts.start.as_deref(), horizon)?;
    if start < horizon {
        return Err(DecideError::Input(format!(
            "the current plan repeats the {horizon} weeks before the start; the data has only {start}"
        )));
    }
    let current: Vec<Vec<Vec<f64>>> = panel
        .designs
        .iter()
        .map(|gd| {
            (0..nc)
                .map(|c| gd.spend(c)[start - horizon..start].to_vec())
                .collect()
        })
        .collect();
    let scenarios = geo_scenarios(file, &panel.geos, &names, &current, plans_file)?;
    one_scenario_to_record(opts, scenarios.len(), plans_file)?;
    let mut records = inputs.records.clone();
    records.push(mmm_core::file_record(plans_file)?);
    let [features, fit] = &inputs.upstream;
    let stage_inputs = mmm_core::StageInputs::new(spec, &[features, fit], records)
        .with_options(opts.freshness_key());
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(crate::stages::SCENARIO_STAGE),
        stage_inputs,
        opts.force,
    )?
    else {
        return Ok(None);
    };
    let plan = inputs.plan(start, horizon);
    let (interval, risk) = (d.interval, d.optimizer.risk_level);
    let settings = (interval, risk, d.margin);
    let mut rows = PlanRows::default();
    let current_lift = rows
        .push(
            "current",
            &plan,
            &panel.geos,
            &current,
            &names,
            None,
            settings,
        )
        .national;
    let spend_by_geo = |plans: &[Vec<Vec<f64>>]| -> serde_json::Value {
        panel
            .geos
            .iter()
            .zip(plans)
            .map(|(geo, p)| {
                let per_channel: Vec<f64> = p.iter().map(|w| w.iter().sum()).collect();
                (geo.clone(), serde_json::json!(per_channel))
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    };
    let total_spend = |plans: &[Vec<Vec<f64>>]| -> f64 { plans.iter().flatten().flatten().sum() };
    let mut table = Vec::new();
    let mut first_lift = None;
    for (name, plans) in &scenarios {
        let by_geo = rows.push(name, &plan, &panel.geos, plans, &names, None, settings);
        let lift = by_geo.national.clone();
        first_lift.get_or_insert(by_geo);
        let spend = total_spend(plans);
        let gain: Vec<f64> = lift.iter().zip(&current_lift).map(|(a, b)| a - b).collect();
        table.push(serde_json::json!({
            "scenario": name,
            "spend": spend,
            "spend_by_geo": spend_by_geo(plans),
            "lift": lift_summary(&lift, interval, risk),
            "profit_mean": d.margin * mmm_core::summary::mean(&lift) - spend,
            "lift_minus_current": lift_summary(&gain, interval, risk),
            "prob_beats_current": gain.iter().filter(|g| **g > 0.0).count() as f64 / gain.len().max(1) as f64,
        }));
    }
    let comparison = serde_json::json!({
        "start": mmm_core::dates::iso(dates[0]),
        "horizon_weeks": horizon,
        "channels": names,
        "geos": panel.geos,
        "current": {
            "definition": "each geo's actual spend of the horizon-length window right before the start, week by week",
            "spend": total_spend(&current),
            "spend_by_geo": spend_by_geo(&current),
            "lift": lift_summary(&current_lift, interval, risk),
        },
        "scenarios": table,
        "interval": interval,
        "method": "every geo's response from its own parameters per draw; lift = response over the horizon and carry-out weeks minus the response to carry-in alone, summed over geos per draw; a plan without a geo column is split over geos by each geo's share of the channel's spend in the current window",
    });
    let PlanRows { national, geos } = rows;
    writer.write_parquet(
        "scenarios.parquet",
        &national.build()?,
        &schemas::allocation(),
    )?;
    writer.write_parquet(
        "geo_scenarios.parquet",
        &geos.build()?,
        &schemas::geo_allocation(),
    )?;
    writer.write_json("comparison.json", &comparison, None)?;
    if let (true, Some(lift)) = (opts.record, &first_lift) {
        let (name, weekly) = &scenarios[0];
        let record = geo_record(
            spec,
            name,
            &plan,
            &panel.geos,
            &names,
            &dates,
            weekly,
            lift,
            interval,
        );
        writer.write_json(RECORD_FILE, &record, None)?;
    }
    let settings = serde_json::json!({
        "plans": plans_file.display().to_string(),
        "start": mmm_core::dates::iso(dates[0]),
        "geos": panel.len(),
        "per_geo_plans": scenarios.len(),
        "record": opts.record,
    });
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}

/// Each scenario of `file` as one plan per geo of `geos`. With a `geo` column every geo needs
/// its rows; without one, a national plan is split over geos by each geo's share of the
/// channel's spend in `current` (`current[g][c][week]`).
fn geo_scenarios(
    file: ScenarioFile,
    geos: &[String],
    names: &[String],
    current: &[Vec<Vec<f64>>],
    path: &Path,
) -> Result<Vec<GeoScenario>, DecideError> {
    let err = |m: String| DecideError::Input(format!("{}: {m}", path.display()));
    if !file.has_geo {
        return file
            .plans
            .into_iter()
            .map(|(name, _, plan)| {
                let mut per_geo = vec![Vec::with_capacity(names.len()); geos.len()];
                for (c, weeks) in plan.iter().enumerate() {
                    let by_geo: Vec<f64> = current.iter().map(|g| g[c].iter().sum()).collect();
                    let all: f64 = by_geo.iter().sum();
                    if all <= 0.0 && weeks.iter().any(|w| *w > 0.0) {
                        return Err(err(format!(
                            "scenario '{name}': channel '{}' had no spend in any geo in the {} \
                             weeks before the start, so its national plan cannot be split by \
                             geo; give one row per geo and week with a 'geo' column",
                            names[c],
                            weeks.len()
                        )));
                    }
                    for (g, geo_plan) in per_geo.iter_mut().enumerate() {
                        let share = if all > 0.0 { by_geo[g] / all } else { 0.0 };
                        geo_plan.push(weeks.iter().map(|w| w * share).collect());
                    }
                }
                Ok((name, per_geo))
            })
            .collect();
    }
    if let Some((name, geo, _)) = file.plans.iter().find(|p| !geos.contains(&p.1)) {
        return Err(err(format!(
            "scenario '{name}': geo '{geo}' is not a geo of the data ({})",
            geos.join(", ")
        )));
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
                .map(|geo| {
                    file.plans
                        .iter()
                        .find(|p| p.0 == name && &p.1 == geo)
                        .map(|p| p.2.clone())
                        .ok_or_else(|| {
                            err(format!(
                                "scenario '{name}': no rows for geo '{geo}' (with a 'geo' column \
                                 every scenario needs every geo: {})",
                                geos.join(", ")
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok((name, per_geo))
        })
        .collect()
}

/// What the geo decision stages read: the national and per-geo designs, the hierarchy and
/// every geo's own parameters per posterior draw, with the input records for the manifest.
struct GeoInputs {
    design: Design,
    panel: GeoDesign,
    hierarchy: GeoModel,
    /// `thetas[g][draw]`: geo g's parameters in each draw.
    thetas: Vec<Vec<Vec<f64>>>,
    records: Vec<mmm_core::FileRecord>,
    /// The features and fit stages read.
    upstream: [Upstream; 2],
}

impl GeoInputs {
    /// Read the inputs of a geo decision stage.
    fn load(spec: &LoadedSpec, features_dir: &Path, fit_dir: &Path) -> Result<Self, DecideError> {
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
            records,
            upstream: [features, fit],
        })
    }

    /// The response of every geo to a plan of `horizon` weeks from period `start`.
    fn plan(&self, start: usize, horizon: usize) -> GeoPlan<'_> {
        GeoPlan {
            geos: self
                .panel
                .designs
                .iter()
                .enumerate()
                .map(|(g, gd)| {
                    PlanModel::new(
                        self.hierarchy.member(g),
                        &self.thetas[g],
                        spend_scales(gd),
                        gd.scales.target,
                        start,
                        horizon,
                    )
                })
                .collect(),
        }
    }
}

/// A plan's lift per draw: summed over geos, and per geo.
struct PlanLift {
    national: Vec<f64>,
    by_geo: Vec<Vec<f64>>,
}

/// The decision record of plan `name` (`weekly[g][c][week]`, currency) with its lift: every
/// geo's prediction from its own parameters, and their sums.
#[allow(clippy::too_many_arguments)]
fn geo_record(
    spec: &LoadedSpec,
    name: &str,
    plan: &GeoPlan,
    geos: &[String],
    names: &[String],
    dates: &[i32],
    weekly: &[Vec<Vec<f64>>],
    lift: &PlanLift,
    interval: f64,
) -> DecisionRecord {
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
struct PlanRows {
    national: AllocationRows,
    geos: AllocationRows,
}

impl PlanRows {
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
        let mut channel_lift = vec![vec![0.0; draws]; nc];
        let mut channel_spend = vec![0.0; nc];
        let mut total = vec![0.0; draws];
        let mut by_geo = Vec::with_capacity(geos.len());
        for (g, geo) in geos.iter().enumerate() {
            self.geos.at_geo = Some(geo.clone());
            let geo_total = self.geos.push_plan(
                label,
                &plan.geos[g],
                &weekly[g],
                names,
                ranges.map(|r| &r[g * nc..(g + 1) * nc]),
                interval,
                risk,
                margin,
            );
            for (t, v) in total.iter_mut().zip(&geo_total) {
                *t += v;
            }
            by_geo.push(geo_total);
            for c in 0..nc {
                let lift = if plan.geos[g].is_additive() {
                    plan.geos[g].channel_lift(c, &weekly[g][c])
                } else {
                    plan.geos[g].channel_lift_in(&weekly[g], c)
                };
                for (a, v) in channel_lift[c].iter_mut().zip(&lift) {
                    *a += v;
                }
                channel_spend[c] += weekly[g][c].iter().sum::<f64>();
            }
        }
        for c in 0..nc {
            self.national.row(
                label,
                &names[c],
                channel_spend[c],
                (f64::NAN, f64::NAN),
                &channel_lift[c],
                interval,
                risk,
                margin,
            );
        }
        self.national.row(
            label,
            "total",
            channel_spend.iter().sum(),
            (f64::NAN, f64::NAN),
            &total,
            interval,
            risk,
            margin,
        );
        PlanLift {
            national: total,
            by_geo,
        }
    }
}
