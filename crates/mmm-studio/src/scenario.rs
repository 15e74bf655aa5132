//! The planner's endpoints: the current plan of a window, a plan evaluated over all posterior
//! draws (the code of `mmm scenario`: [`Planner::scenarios`]) and the optimizer of
//! `mmm optimize` ([`Planner::optimize`]).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use mmm_core::spec::{ChannelBounds, LoadedSpec, Objective};
use mmm_decisions::planner::Planner;
use mmm_decisions::stages::{OptimizeOptions, ScenarioFile};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::state::State;

/// A plan as the studio sends it: each channel's total over the horizon, spent evenly week by
/// week (like the optimizer's plans); for a geo hierarchy optionally each geo's totals.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// Scenario name (default `plan`).
    #[serde(default)]
    pub name: Option<String>,
    /// First week (`YYYY-MM-DD`); default the week after the data.
    #[serde(default)]
    pub start: Option<String>,
    /// Weeks in the horizon.
    pub horizon: usize,
    /// Total spend per channel over the horizon (national plans; a hierarchy splits it over
    /// geos by their shares of the current spend, as `mmm scenario` does without a `geo`
    /// column).
    #[serde(default)]
    pub spend: BTreeMap<String, f64>,
    /// Geo hierarchy: total spend per geo and channel (then `spend` is ignored).
    #[serde(default)]
    pub spend_by_geo: Option<BTreeMap<String, BTreeMap<String, f64>>>,
}

/// Parse a JSON body.
pub fn body<T: serde::de::DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("request body: {e}")))
}

impl PlanRequest {
    /// The options of `mmm scenario` for this plan.
    pub fn options(&self, record: bool) -> OptimizeOptions {
        OptimizeOptions {
            start: self.start.clone(),
            record,
            ..Default::default()
        }
    }

    fn name(&self) -> String {
        self.name.clone().unwrap_or_else(|| "plan".into())
    }

    /// The spend of `channel` in `totals`, which must be a finite number >= 0.
    fn total(totals: &BTreeMap<String, f64>, channel: &str) -> Result<f64, ApiError> {
        let v = totals.get(channel).copied().ok_or_else(|| {
            ApiError::bad_request(format!("no spend given for channel '{channel}'"))
        })?;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(ApiError::bad_request(format!(
                "spend of '{channel}' must be a number >= 0"
            )))
        }
    }

    /// The plan as the rows of a plans file, `plan[c][week] = total / horizon`.
    pub fn to_file(&self, channels: &[String]) -> Result<ScenarioFile, ApiError> {
        let h = self.horizon;
        if h == 0 || h > mmm_core::spec::MAX_HORIZON_WEEKS {
            return Err(ApiError::bad_request(format!(
                "horizon {h}: a plan covers 1 to {} weeks",
                mmm_core::spec::MAX_HORIZON_WEEKS
            )));
        }
        let weekly = |totals: &BTreeMap<String, f64>| -> Result<Vec<Vec<f64>>, ApiError> {
            if let Some(k) = totals.keys().find(|k| !channels.contains(k)) {
                return Err(ApiError::bad_request(format!("'{k}' is not a channel")));
            }
            channels
                .iter()
                .map(|c| Ok(vec![Self::total(totals, c)? / h as f64; h]))
                .collect()
        };
        let name = self.name();
        Ok(match &self.spend_by_geo {
            None => ScenarioFile {
                has_geo: false,
                plans: vec![(name, String::new(), weekly(&self.spend)?)],
            },
            Some(by_geo) => ScenarioFile {
                has_geo: true,
                plans: by_geo
                    .iter()
                    .map(|(geo, totals)| Ok((name.clone(), geo.clone(), weekly(totals)?)))
                    .collect::<Result<_, ApiError>>()?,
            },
        })
    }

    /// The plan as `mmm scenario --plans` reads it (same numbers, shortest round-trip text).
    pub fn to_csv(&self, channels: &[String]) -> Result<String, ApiError> {
        let file = self.to_file(channels)?;
        let mut csv = String::from("scenario,week,");
        if file.has_geo {
            csv.push_str("geo,");
        }
        csv.push_str(&channels.join(","));
        csv.push('\n');
        for (name, geo, plan) in &file.plans {
            for w in 0..self.horizon {
                csv.push_str(&format!("{name},{}", w + 1));
                if file.has_geo {
                    csv.push_str(&format!(",{geo}"));
                }
                for weeks in plan {
                    csv.push_str(&format!(",{}", weeks[w]));
                }
                csv.push('\n');
            }
        }
        Ok(csv)
    }
}

/// `POST /api/runs/NAME/current` `{start?, horizon?}`: the current plan of that window, the
/// channels and geos, and the data's dates.
pub fn current(state: &State, name: &str, req: &Request) -> Result<Response, ApiError> {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Window {
        #[serde(default)]
        start: Option<String>,
        #[serde(default)]
        horizon: Option<usize>,
    }
    let w: Window = body(req)?;
    let run = state.loaded(name)?;
    let (spec, planner) = (&run.spec, &run.planner);
    let o = &spec.spec.decisions.optimizer;
    let horizon = w.horizon.unwrap_or(o.horizon_weeks);
    let opts = OptimizeOptions {
        start: w.start,
        ..Default::default()
    };
    let current = planner.current(spec, &opts, horizon)?;
    let dates = planner.dates();
    let iso = |d: Option<&i32>| d.map(|d| mmm_core::dates::iso(*d));
    Ok(Response::json(&json!({
        "channels": planner.channels(),
        "geos": planner.geos(),
        "current": current,
        "data": {
            "first": iso(dates.first()),
            "last": iso(dates.last()),
            "period_days": spec.spec.data.period_days,
        },
        "defaults": {
            "horizon_weeks": o.horizon_weeks,
            "objective": o.objective,
            "max_change": o.max_change,
            "interval": spec.spec.decisions.interval,
        },
        "currency": spec.spec.decisions.currency,
    })))
}

/// Evaluate `plan` on a loaded run: comparison.json of `mmm scenario`, each channel's
/// marginal ROAS, a histogram of the plan's lift draws and the time taken.
pub fn evaluate(
    spec: &LoadedSpec,
    planner: &Planner,
    plan: &PlanRequest,
) -> Result<Value, ApiError> {
    let timer = Instant::now();
    let channels = planner.channels();
    let file = plan.to_file(channels)?;
    let opts = plan.options(true);
    let prepared = planner.prepare_scenarios(spec, file, &opts, Path::new("plan"))?;
    let outcome = planner.evaluate(spec, &prepared, true);
    let marginal = planner.marginal_roas(&prepared);
    let seconds = timer.elapsed().as_secs_f64();
    let lift = outcome
        .record
        .as_ref()
        .map(|r| r.lift_per_draw.as_slice())
        .unwrap_or(&[]);
    let marginal: serde_json::Map<String, Value> = channels
        .iter()
        .zip(&marginal)
        .map(|(c, m)| (c.clone(), json!(m.is_finite().then_some(*m))))
        .collect();
    Ok(json!({
        "comparison": outcome.comparison,
        "marginal_roas": marginal,
        "histogram": histogram(lift, 30),
        "draws": lift.len(),
        "seconds": seconds,
        "plan_csv": plan.to_csv(channels)?,
    }))
}

/// `POST /api/runs/NAME/scenario` with a [`PlanRequest`].
pub fn scenario(state: &State, name: &str, req: &Request) -> Result<Response, ApiError> {
    let plan: PlanRequest = body(req)?;
    let run = state.loaded(name)?;
    Ok(Response::json(&evaluate(&run.spec, &run.planner, &plan)?))
}

/// Equal-width bins of `values`: `{edges, counts}` (empty without values).
fn histogram(values: &[f64], bins: usize) -> Value {
    let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    let (lo, hi) = finite
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(*v), b.max(*v))
        });
    if finite.is_empty() {
        return json!({ "edges": [], "counts": [] });
    }
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    let mut counts = vec![0u64; bins];
    for v in &finite {
        let b = (((v - lo) / width) as usize).min(bins - 1);
        counts[b] += 1;
    }
    let edges: Vec<f64> = (0..=bins).map(|i| lo + width * i as f64).collect();
    json!({ "edges": edges, "counts": counts })
}

/// What "optimize" takes: the window, budget, objective, the ± band and per-channel bounds.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OptimizeRequest {
    #[serde(default)]
    start: Option<String>,
    horizon: usize,
    #[serde(default)]
    budget: Option<f64>,
    #[serde(default)]
    objective: Option<Objective>,
    /// The ± fraction each cell may move from its reference spend (`null`: the spec's).
    #[serde(default)]
    max_change: Option<f64>,
    /// No band at all (`max_change = inf`).
    #[serde(default)]
    unlimited: bool,
    /// Bounds (currency over the horizon) that replace the spec's for the same channel/geo.
    #[serde(default)]
    bounds: Vec<ChannelBounds>,
}

/// `POST /api/runs/NAME/optimize`: `mmm optimize` with the request's budget, objective and
/// bounds put into the spec's `decisions.optimizer` (nothing written).
pub fn optimize(state: &State, name: &str, req: &Request) -> Result<Response, ApiError> {
    let r: OptimizeRequest = body(req)?;
    let run = state.loaded(name)?;
    let mut spec = run.spec.clone();
    let o = &mut spec.spec.decisions.optimizer;
    if r.unlimited {
        o.max_change = None;
    } else if let Some(m) = r.max_change {
        if !(m.is_finite() && m >= 0.0) {
            return Err(ApiError::bad_request("max_change must be a number >= 0"));
        }
        o.max_change = Some(m);
    }
    for b in r.bounds {
        o.bounds
            .retain(|x| !(x.channel == b.channel && x.geo == b.geo));
        o.bounds.push(b);
    }
    let opts = OptimizeOptions {
        budget: r.budget,
        horizon: Some(r.horizon),
        objective: r.objective,
        start: r.start,
        ..Default::default()
    };
    let timer = Instant::now();
    let outcome = run.planner.optimize(&spec, &opts)?;
    Ok(Response::json(&json!({
        "plan": outcome.plan_json,
        "seconds": timer.elapsed().as_secs_f64(),
    })))
}
