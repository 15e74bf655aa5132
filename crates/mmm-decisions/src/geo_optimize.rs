//! The optimize stage for a geo hierarchy: one budget split over geos x channels, each cell
//! with its own bounds, every geo's response from its own parameters per draw.

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
use crate::stages::{
    AllocationRows, OptimizeOptions, PlanWindow, flat_plan, format_day, lift_summary, plan_window,
    spend_scales,
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
    if opts.record {
        return Err(DecideError::Input(
            "--record (decision records) is not supported for the geo hierarchy yet".into(),
        ));
    }
    let features = Upstream::open(features_dir, mmm_features::STAGE)?;
    let fit = Upstream::open(fit_dir, "fit")?;
    let (design, mut records) = Design::load(&features, &spec.spec)?;
    let (panel, recs) = GeoDesign::load(&features, &spec.spec)?;
    records.extend(recs);
    let (draws, rec) = fit.parquet("draws.parquet")?;
    records.push(rec);
    let hierarchy = GeoModel::new(&spec.spec, &panel)?;
    let posterior = Posterior::from_columns(
        &draws,
        &hierarchy.param_names(),
        &fit_dir.join("draws.parquet"),
    )?;
    if posterior.is_empty() {
        return Err(DecideError::Input(format!(
            "{}: no posterior draws",
            fit_dir.join("draws.parquet").display()
        )));
    }
    let d = &spec.spec.decisions;
    let o = &d.optimizer;
    let PlanWindow {
        horizon,
        objective,
        start,
        dates,
        ref_weeks,
    } = plan_window(spec, &design, opts)?;
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
    let mut ranges = Vec::new();
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
            let r = ChannelRange::new(format!("{name} in {geo}"), cur, o.max_change, bound);
            ranges.push(r);
        }
    }
    let budget = opts.budget.or(o.budget).unwrap_or(current.iter().sum());
    if !(budget.is_finite() && budget >= 0.0) {
        return Err(DecideError::Input(format!(
            "budget must be a number >= 0, got {budget}"
        )));
    }
    let problem = Problem {
        budget,
        objective,
        risk_level: o.risk_level,
        margin: d.margin,
        ranges,
    };
    optimize::check_feasible(&problem)?;
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(crate::stages::OPTIMIZE_STAGE),
        &spec.sha256,
        records,
        opts.force,
    )?
    else {
        return Ok(None);
    };
    let thetas: Vec<Vec<Vec<f64>>> = (0..panel.len())
        .map(|g| {
            posterior
                .theta
                .iter()
                .map(|t| hierarchy.geo_theta(t, g))
                .collect()
        })
        .collect();
    let plan = GeoPlan {
        geos: panel
            .designs
            .iter()
            .enumerate()
            .map(|(g, gd)| {
                PlanModel::new(
                    hierarchy.member(g),
                    &thetas[g],
                    spend_scales(gd),
                    gd.scales.target,
                    start,
                    horizon,
                )
            })
            .collect(),
    };
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

    // Per geo: each plan's rows; nationally: each channel's lift summed over geos per draw.
    let mut geo_rows = AllocationRows::default();
    let draws = posterior.len();
    let mut national = AllocationRows::default();
    let mut plan_totals = Vec::new();
    for (label, spend) in [("current", &current), ("optimized", &solution.spend)] {
        let mut channel_lift = vec![vec![0.0; draws]; nc];
        let mut channel_spend = vec![0.0; nc];
        let mut total = vec![0.0; draws];
        for (g, geo) in panel.geos.iter().enumerate() {
            let cells = &spend[g * nc..(g + 1) * nc];
            let weekly = flat_plan(cells, horizon);
            geo_rows.at_geo = Some(geo.clone());
            let geo_total = geo_rows.push_plan(
                label,
                &plan.geos[g],
                &weekly,
                &names,
                Some(&problem.ranges[g * nc..(g + 1) * nc]),
                interval,
                risk,
                d.margin,
            );
            for (t, v) in total.iter_mut().zip(&geo_total) {
                *t += v;
            }
            for c in 0..nc {
                let lift = if plan.geos[g].is_additive() {
                    plan.geos[g].channel_lift(c, &weekly[c])
                } else {
                    plan.geos[g].channel_lift_in(&weekly, c)
                };
                for (a, v) in channel_lift[c].iter_mut().zip(&lift) {
                    *a += v;
                }
                channel_spend[c] += cells[c];
            }
        }
        for c in 0..nc {
            national.row(
                label,
                &names[c],
                channel_spend[c],
                (f64::NAN, f64::NAN),
                &channel_lift[c],
                interval,
                risk,
                d.margin,
            );
        }
        national.row(
            label,
            "total",
            spend.iter().sum(),
            (f64::NAN, f64::NAN),
            &total,
            interval,
            risk,
            d.margin,
        );
        plan_totals.push(total);
    }
    let (current_lift, new_lift) = (&plan_totals[0], &plan_totals[1]);
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
        "start": format_day(dates[0]),
        "reference_weeks": ref_weeks,
        "reference": format!("{} .. {}", format_day(design.dates[start - ref_weeks]), format_day(design.dates[start - 1])),
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
    let settings = serde_json::json!({
        "objective": objective, "budget": budget, "horizon_weeks": horizon,
        "start": format_day(dates[0]), "geos": panel.len(), "cells": cells,
    });
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}
