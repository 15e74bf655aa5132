//! The plan model of a finished run, loaded once and asked many questions: the scenario and
//! optimize computations of `mmm scenario` and `mmm optimize` without their files, so the
//! stages and the studio run the same code. A stage checks its request
//! ([`Planner::prepare_scenarios`], [`Planner::prepare_optimize`]), decides freshness, then
//! evaluates ([`Planner::evaluate`], [`Planner::solve`]); the studio calls
//! [`Planner::scenarios`] and [`Planner::optimize`], which do both.

use std::path::Path;

use mmm_core::spec::LoadedSpec;
use mmm_core::{FileRecord, StageWriter, Upstream, schemas};

use crate::DecideError;
use crate::geo_optimize::{
    GeoComparison, GeoInputs, GeoPlans, GeoScenario, PlanRows, check_bound_geos, geo_current,
    geo_problem, geo_record, geo_scenarios,
};
use crate::optimize::{self, Problem, Response};
use crate::plan::PlanModel;
use crate::review::DecisionRecord;
use crate::stages::{
    AllocationRows, Inputs, NationalPlans, OptimizeOptions, Optimized, PlanWindow, Scenario,
    ScenarioFile, compare_scenarios, current_plan, national_plans, national_problem,
    one_scenario_to_record, plan_window, refuse_geo_bounds, scenario_window,
};

/// The inputs of the decision stages of one run (national or a geo hierarchy), read and
/// verified once.
pub struct Planner {
    kind: Kind,
}

impl std::fmt::Debug for Planner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Planner")
            .field("channels", &self.channels())
            .field("geos", &self.geos())
            .finish()
    }
}

enum Kind {
    National(Box<Inputs>),
    Geo(Box<GeoInputs>),
}

/// A scenario request checked against the data: the window, the current plan and the plans.
pub struct PreparedScenarios {
    window: PlanWindow,
    plans: Plans,
}

enum Plans {
    /// `current[c][week]` and each scenario's `plan[c][week]`.
    National {
        current: Vec<Vec<f64>>,
        scenarios: Vec<Scenario>,
    },
    /// `current[g][c][week]` and each scenario's `plans[g][c][week]`.
    Geo {
        current: Vec<Vec<Vec<f64>>>,
        scenarios: Vec<GeoScenario>,
    },
}

/// The allocation tables of an evaluation: national rows, and per-geo rows for a hierarchy.
pub struct PlanTables(Tables);

enum Tables {
    National(Box<AllocationRows>),
    Geo(Box<PlanRows>),
}

impl PlanTables {
    /// Write the national table as `files[0]` and, for a geo hierarchy, the per-geo table as
    /// `files[1]`.
    pub fn write(self, writer: &mut StageWriter, files: [&str; 2]) -> Result<(), DecideError> {
        match self.0 {
            Tables::National(rows) => {
                writer.write_parquet(files[0], &rows.build()?, &schemas::allocation())?;
                Ok(())
            }
            Tables::Geo(rows) => rows.write(writer, files),
        }
    }
}

impl std::fmt::Debug for PlanTables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PlanTables")
    }
}

/// The scenarios evaluated over all draws against the current plan.
#[derive(Debug)]
pub struct ScenarioOutcome {
    /// comparison.json of `mmm scenario`.
    pub comparison: serde_json::Value,
    /// The first scenario's decision record, when asked for.
    pub record: Option<DecisionRecord>,
    /// scenarios.parquet (and geo_scenarios.parquet).
    pub tables: PlanTables,
    /// Dates of the plan's weeks.
    pub dates: Vec<i32>,
    /// Manifest settings beyond the common ones (geo counts).
    pub settings: serde_json::Value,
}

/// An optimize request checked against the data: the window, the problem and the current plan.
pub struct PreparedOptimize {
    window: PlanWindow,
    problem: Problem,
    current: Vec<f64>,
}

/// The optimizer's plan evaluated over all draws.
#[derive(Debug)]
pub struct OptimizeOutcome {
    /// plan.json of `mmm optimize`.
    pub plan_json: serde_json::Value,
    /// The optimized plan's decision record, when asked for.
    pub record: Option<DecisionRecord>,
    /// allocation.parquet (and geo_allocation.parquet).
    pub tables: PlanTables,
    /// The stage's manifest settings.
    pub settings: serde_json::Value,
}

/// The current plan of a window, as the planner's inputs start from.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CurrentPlan {
    /// First week of the plan (ISO date).
    pub start: String,
    /// Weeks in the horizon.
    pub horizon_weeks: usize,
    /// Each channel's total over the horizon (summed over geos).
    pub spend: Vec<f64>,
    /// For a geo hierarchy, each geo's total per channel.
    pub spend_by_geo: Option<Vec<Vec<f64>>>,
}

impl Planner {
    /// Read and verify the features and fit stages a plan needs (national or geo hierarchy).
    pub fn load(
        spec: &LoadedSpec,
        features_dir: &Path,
        fit_dir: &Path,
    ) -> Result<Self, DecideError> {
        let kind = if spec.spec.geo.is_hierarchical() {
            Kind::Geo(Box::new(GeoInputs::load(spec, features_dir, fit_dir)?))
        } else {
            Kind::National(Box::new(crate::stages::load(spec, features_dir, fit_dir)?))
        };
        Ok(Self { kind })
    }

    /// The model's channels, in spec order.
    pub fn channels(&self) -> &[String] {
        match &self.kind {
            Kind::National(i) => &i.design.channel_names,
            Kind::Geo(i) => &i.design.channel_names,
        }
    }

    /// The geos of a hierarchy (`None` for a national model).
    pub fn geos(&self) -> Option<&[String]> {
        match &self.kind {
            Kind::National(_) => None,
            Kind::Geo(i) => Some(&i.panel.geos),
        }
    }

    /// The data's period dates (day numbers).
    pub fn dates(&self) -> &[i32] {
        match &self.kind {
            Kind::National(i) => &i.design.dates,
            Kind::Geo(i) => &i.design.dates,
        }
    }

    /// The verified input records (for a stage's manifest).
    pub fn records(&self) -> &[FileRecord] {
        match &self.kind {
            Kind::National(i) => &i.records,
            Kind::Geo(i) => &i.records,
        }
    }

    /// The features and fit stages read.
    pub fn upstream(&self) -> &[Upstream; 2] {
        match &self.kind {
            Kind::National(i) => &i.upstream,
            Kind::Geo(i) => &i.upstream,
        }
    }

    /// The current plan over `horizon` weeks from `opts.start` (the definition `mmm scenario`
    /// compares with: [`crate::stages::CURRENT_PLAN`]).
    pub fn current(
        &self,
        spec: &LoadedSpec,
        opts: &OptimizeOptions,
        horizon: usize,
    ) -> Result<CurrentPlan, DecideError> {
        crate::stages::check_horizon(Some(horizon), "horizon")?;
        let total = |p: &[Vec<f64>]| p.iter().map(|w| w.iter().sum()).collect::<Vec<f64>>();
        let (window, spend, by_geo) = match &self.kind {
            Kind::National(i) => {
                let w = scenario_window(spec, &i.design, opts, horizon)?;
                let spend = total(&current_plan(&i.design, &w));
                (w, spend, None)
            }
            Kind::Geo(i) => {
                let w = scenario_window(spec, &i.design, opts, horizon)?;
                let by_geo: Vec<Vec<f64>> =
                    geo_current(&i.panel, &w).iter().map(|g| total(g)).collect();
                let spend = (0..self.channels().len())
                    .map(|c| by_geo.iter().map(|g| g[c]).sum())
                    .collect();
                (w, spend, Some(by_geo))
            }
        };
        Ok(CurrentPlan {
            start: mmm_core::dates::iso(window.dates[0]),
            horizon_weeks: horizon,
            spend,
            spend_by_geo: by_geo,
        })
    }

    /// Check a scenario request as `mmm scenario` does (`path` names the plans in messages):
    /// its window, and for a hierarchy each plan per geo (a national plan split over geos by
    /// their shares of the current spend).
    pub fn prepare_scenarios(
        &self,
        spec: &LoadedSpec,
        file: ScenarioFile,
        opts: &OptimizeOptions,
        path: &Path,
    ) -> Result<PreparedScenarios, DecideError> {
        if file.plans.is_empty() || self.channels().is_empty() {
            return Err(crate::stages::plans_error(path, "no rows".into()));
        }
        let horizon = file.plans[0].2[0].len();
        match &self.kind {
            Kind::National(i) => {
                let scenarios = national_plans(file, path)?;
                one_scenario_to_record(opts, scenarios.len(), path)?;
                let window = scenario_window(spec, &i.design, opts, horizon)?;
                let current = current_plan(&i.design, &window);
                Ok(PreparedScenarios {
                    window,
                    plans: Plans::National { current, scenarios },
                })
            }
            Kind::Geo(i) => {
                let window = scenario_window(spec, &i.design, opts, horizon)?;
                let current = geo_current(&i.panel, &window);
                let names = self.channels();
                let scenarios = geo_scenarios(file, &i.panel.geos, names, &current, path)?;
                one_scenario_to_record(opts, scenarios.len(), path)?;
                Ok(PreparedScenarios {
                    window,
                    plans: Plans::Geo { current, scenarios },
                })
            }
        }
    }

    /// Evaluate prepared scenarios over all draws: comparison.json, the allocation tables and,
    /// with `record`, the first scenario's decision record.
    pub fn evaluate(
        &self,
        spec: &LoadedSpec,
        prepared: &PreparedScenarios,
        record: bool,
    ) -> ScenarioOutcome {
        let w = &prepared.window;
        let names = self.channels();
        match (&self.kind, &prepared.plans) {
            (Kind::National(i), Plans::National { current, scenarios }) => {
                let pm = i.plan_model(w.start, w.horizon);
                let (rows, comparison) =
                    compare_scenarios(&pm, names, current, scenarios, &w.dates, spec);
                let record = record.then(|| {
                    let (name, plan) = &scenarios[0];
                    DecisionRecord::new(
                        spec,
                        name,
                        names,
                        &w.dates,
                        plan.clone(),
                        &pm.lift(plan),
                        pm.total_prediction(plan),
                        spec.spec.decisions.interval,
                    )
                });
                ScenarioOutcome {
                    comparison,
                    record,
                    tables: PlanTables(Tables::National(Box::new(rows))),
                    dates: w.dates.clone(),
                    settings: serde_json::json!({}),
                }
            }
            (Kind::Geo(i), Plans::Geo { current, scenarios }) => {
                let geos = &i.panel.geos;
                let plan = i.plan(w.start, w.horizon);
                let GeoComparison {
                    rows,
                    first_lift,
                    comparison,
                } = GeoComparison::evaluate(&plan, geos, names, current, scenarios, &w.dates, spec);
                let record = match (record, &first_lift) {
                    (true, Some(lift)) => {
                        let (name, weekly) = &scenarios[0];
                        Some(geo_record(
                            spec, name, &plan, geos, names, &w.dates, weekly, lift,
                        ))
                    }
                    _ => None,
                };
                ScenarioOutcome {
                    comparison,
                    record,
                    tables: PlanTables(Tables::Geo(Box::new(rows))),
                    dates: w.dates.clone(),
                    settings: serde_json::json!({
                        "geos": geos.len(),
                        "per_geo_plans": scenarios.len(),
                    }),
                }
            }
            _ => unreachable!("a prepared request comes from the same planner"),
        }
    }

    /// [`Self::prepare_scenarios`] then [`Self::evaluate`]: what `mmm scenario` computes.
    pub fn scenarios(
        &self,
        spec: &LoadedSpec,
        file: ScenarioFile,
        opts: &OptimizeOptions,
        path: &Path,
    ) -> Result<ScenarioOutcome, DecideError> {
        let prepared = self.prepare_scenarios(spec, file, opts, path)?;
        Ok(self.evaluate(spec, &prepared, opts.record))
    }

    /// Marginal ROAS of each channel in the first prepared scenario: the posterior mean of the
    /// plan's lift with the channel's spend scaled by 1.01 minus with it scaled by 0.99, over
    /// 2% of the channel's spend (the decide stage's central difference, carry-out counted;
    /// summed over geos for a hierarchy, the channel scaled in every geo). A channel without
    /// spend in the plan gets the forward difference of adding 1% of its current spend (NaN
    /// when it has none either). For an additive model only the channel's own lift is
    /// evaluated (the others cancel); (channel, geo) pairs run in parallel.
    pub fn marginal_roas(&self, prepared: &PreparedScenarios) -> Vec<f64> {
        let w = &prepared.window;
        let nc = self.channels().len();
        match (&self.kind, &prepared.plans) {
            (Kind::National(i), Plans::National { current, scenarios }) => {
                let pm = i.plan_model(w.start, w.horizon);
                let cells = [(&pm, scenarios[0].1.as_slice(), current.as_slice())];
                marginal_over_cells(&cells, nc)
            }
            (Kind::Geo(i), Plans::Geo { current, scenarios }) => {
                let plan = i.plan(w.start, w.horizon);
                let cells: Vec<Cell> = (plan.geos.iter())
                    .zip(&scenarios[0].1)
                    .zip(current)
                    .map(|((pm, p), k)| (pm, p.as_slice(), k.as_slice()))
                    .collect();
                marginal_over_cells(&cells, nc)
            }
            _ => unreachable!("a prepared request comes from the same planner"),
        }
    }

    /// Check an optimize request as `mmm optimize` does: the window, the budget, the bounds
    /// (the spec's `decisions.optimizer`) and that the problem is feasible.
    pub fn prepare_optimize(
        &self,
        spec: &LoadedSpec,
        opts: &OptimizeOptions,
    ) -> Result<PreparedOptimize, DecideError> {
        let (window, current, problem) = match &self.kind {
            Kind::National(i) => {
                refuse_geo_bounds(spec)?;
                let window = plan_window(spec, &i.design, opts)?;
                let (current, problem) = national_problem(spec, &i.design, &window, opts)?;
                (window, current, problem)
            }
            Kind::Geo(i) => {
                let window = plan_window(spec, &i.design, opts)?;
                check_bound_geos(&spec.spec.decisions.optimizer, &i.panel.geos)?;
                let names = &i.design.channel_names;
                let (current, problem) = geo_problem(spec, &i.panel, names, &window, opts)?;
                (window, current, problem)
            }
        };
        optimize::check_feasible(&problem)?;
        Ok(PreparedOptimize {
            window,
            problem,
            current,
        })
    }

    /// Search the prepared problem and evaluate the current and the optimized plan over all
    /// draws: plan.json, the allocation tables and, with `opts.record`, the decision record.
    pub fn solve(
        &self,
        spec: &LoadedSpec,
        prepared: PreparedOptimize,
        opts: &OptimizeOptions,
    ) -> Result<OptimizeOutcome, DecideError> {
        let PreparedOptimize {
            window,
            problem,
            current,
        } = prepared;
        match &self.kind {
            Kind::National(i) => {
                let pm = i.plan_model(window.start, window.horizon);
                // A Hill curve with slope > 1 is S-shaped, so the mean lift may have several
                // local optima: start from every corner too.
                let corners = current.len() <= 3 || !i.model_concave();
                let opt = Optimized::search(&pm, window, problem, current, corners)?;
                let names = &i.design.channel_names;
                let (rows, plans) = NationalPlans::evaluate(&pm, names, &opt, spec);
                let plan_json = plans.plan_json(&opt, spec, &i.design, pm.draws());
                let record = opts
                    .record
                    .then(|| plans.record(spec, names, &opt.window.dates, &pm));
                Ok(OptimizeOutcome {
                    plan_json,
                    record,
                    tables: PlanTables(Tables::National(Box::new(rows))),
                    settings: opt.settings(opts),
                })
            }
            Kind::Geo(i) => {
                let (design, panel) = (&i.design, &i.panel);
                let names = &design.channel_names;
                let plan = i.plan(window.start, window.horizon);
                let opt = Optimized::search(&plan, window, problem, current, false)?;
                let (rows, plans) = GeoPlans::evaluate(&plan, &panel.geos, names, &opt, spec);
                let draws = Response::draws(&plan);
                let plan_json = plans.plan_json(&opt, spec, design, &panel.geos, draws);
                let record = opts.record.then(|| {
                    let (dates, weekly, lift) =
                        (&opt.window.dates, &plans.optimized, &plans.lifts[1]);
                    geo_record(
                        spec,
                        "optimized",
                        &plan,
                        &panel.geos,
                        names,
                        dates,
                        weekly,
                        lift,
                    )
                });
                let mut settings = opt.settings(opts);
                settings["geos"] = serde_json::json!(panel.len());
                settings["cells"] = serde_json::json!(opt.current.len());
                Ok(OptimizeOutcome {
                    plan_json,
                    record,
                    tables: PlanTables(Tables::Geo(Box::new(rows))),
                    settings,
                })
            }
        }
    }

    /// [`Self::prepare_optimize`] then [`Self::solve`]: what `mmm optimize` computes.
    pub fn optimize(
        &self,
        spec: &LoadedSpec,
        opts: &OptimizeOptions,
    ) -> Result<OptimizeOutcome, DecideError> {
        let prepared = self.prepare_optimize(spec, opts)?;
        self.solve(spec, prepared, opts)
    }
}

/// One geo's (or the nation's) plan model, its plan and its current plan (`[c][week]`).
type Cell<'a, 'b> = (&'b PlanModel<'a>, &'b [Vec<f64>], &'b [Vec<f64>]);

/// How channel c's spend moves in the central difference of [`Planner::marginal_roas`].
#[derive(Clone, Copy)]
enum Move {
    /// Every week's planned spend times 1.01 and 0.99.
    Scale,
    /// 1% of the channel's current spend added, spread evenly over the horizon (the plan has
    /// none of its own).
    Add,
}

/// Channel c's move over `cells` and the spend step between its two sides (`None` when the
/// channel has spend neither in the plan nor now).
fn channel_move(cells: &[Cell], c: usize) -> Option<(Move, f64)> {
    let total = |rows: &[Vec<f64>]| rows[c].iter().sum::<f64>();
    let spend: f64 = cells.iter().map(|(_, p, _)| total(p)).sum();
    let now: f64 = cells.iter().map(|(_, _, k)| total(k)).sum();
    if spend > 0.0 {
        Some((Move::Scale, 0.02 * spend))
    } else if now > 0.0 {
        Some((Move::Add, 0.01 * now))
    } else {
        None
    }
}

/// Posterior mean of one cell's lift with channel c moved up minus moved down.
fn cell_gain((pm, plan, now): &Cell, c: usize, how: Move) -> f64 {
    let (up, down): (Vec<f64>, Vec<f64>) = match how {
        Move::Scale => (
            plan[c].iter().map(|v| v * 1.01).collect(),
            plan[c].iter().map(|v| v * 0.99).collect(),
        ),
        Move::Add => {
            let add = 0.01 * now[c].iter().sum::<f64>() / plan[c].len().max(1) as f64;
            (plan[c].iter().map(|v| v + add).collect(), plan[c].clone())
        }
    };
    let (a, b) = if pm.is_additive() {
        (pm.channel_lift(c, &up), pm.channel_lift(c, &down))
    } else {
        let with = |weekly: Vec<f64>| {
            let mut p = plan.to_vec();
            p[c] = weekly;
            pm.lift(&p)
        };
        (with(up), with(down))
    };
    let n = a.len().max(1) as f64;
    a.iter().zip(&b).map(|(x, y)| x - y).sum::<f64>() / n
}

/// Marginal ROAS of every one of `channels` over `cells` (see [`Planner::marginal_roas`]):
/// each (channel, cell) difference runs in parallel, then each channel's gains are summed over
/// its cells and divided by its spend step.
fn marginal_over_cells(cells: &[Cell], channels: usize) -> Vec<f64> {
    let moves: Vec<Option<(Move, f64)>> = (0..channels).map(|c| channel_move(cells, c)).collect();
    let ng = cells.len().max(1);
    let gains = mmm_core::parallel::map_indexed(channels * cells.len(), 1, |i| {
        let (c, g) = (i / ng, i % ng);
        moves[c].map_or(0.0, |(how, _)| cell_gain(&cells[g], c, how))
    });
    (moves.iter().enumerate())
        .map(|(c, m)| {
            m.map_or(f64::NAN, |(_, step)| {
                gains[c * ng..(c + 1) * ng].iter().sum::<f64>() / step
            })
        })
        .collect()
}
