//! Budget optimizer over all posterior draws.
//!
//! Decision variables: each channel's total spend over the horizon, spent evenly week by week.
//! Feasible set: `lower_c <= x_c <= upper_c` and `sum_c x_c = budget` (`<= budget` for the
//! profit objective, through a slack coordinate that buys nothing). The objective is a
//! functional of the per-draw lift (see [`crate::plan`]): its mean, a low quantile, the CVaR
//! (mean of the draws at or below that quantile) or the mean profit.
//!
//! Method: projected gradient ascent with Armijo backtracking. The projection onto a box
//! intersected with a hyperplane is exact (bisection on the shift of a clamped sum), so every
//! iterate is feasible; gradients are forward differences of the exact per-draw response, and
//! for the quantile and CVaR objectives the (sub)gradient of the draws that define them. The
//! mean lift is concave in spend for every saturation curve but Hill (a sum of concave curves
//! of adstock, which is linear in spend, or of adstocks of concave curves), so the ascent
//! reaches the global optimum; for the risk objectives, and for models with an S-shaped Hill
//! channel (slope > 1), several starts (every corner among them) are run and the best kept. Well-kept Rust optimization crates were considered: argmin
//! has no constrained solvers, and derivative-free COBYLA ports meet the budget equality only
//! to a tolerance; the exact projection is 30 lines and keeps every plan feasible.

use mmm_core::spec::Objective;
use mmm_core::summary::{quantile_sorted, sorted};

use crate::plan::PlanModel;

/// A request the constraints cannot meet.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InfeasibleError {
    /// The channel minimums add up to more than the budget.
    #[error(
        "infeasible: the channel minimums add up to {minimum_total:.2}, more than the budget {budget:.2} (binding: {constraints})"
    )]
    MinimumsExceedBudget {
        /// Sum of the lower bounds.
        minimum_total: f64,
        /// The budget.
        budget: f64,
        /// Which constraints set the minimums.
        constraints: String,
    },
    /// The channel maximums add up to less than the budget that must be spent.
    #[error(
        "infeasible: the channel maximums add up to {maximum_total:.2}, less than the budget {budget:.2} that must be spent (binding: {constraints})"
    )]
    MaximumsBelowBudget {
        /// Sum of the upper bounds.
        maximum_total: f64,
        /// The budget.
        budget: f64,
        /// Which constraints set the maximums.
        constraints: String,
    },
    /// A channel's lower bound exceeds its upper bound.
    #[error(
        "infeasible: channel '{channel}' must spend at least {lower:.2} ({lower_rule}) but at most {upper:.2} ({upper_rule})"
    )]
    EmptyRange {
        /// Channel.
        channel: String,
        /// Lower bound.
        lower: f64,
        /// Rule that set it.
        lower_rule: String,
        /// Upper bound.
        upper: f64,
        /// Rule that set it.
        upper_rule: String,
    },
}

/// One channel's allowed total spend over the horizon, with the rules that set each end.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelRange {
    /// Channel name.
    pub channel: String,
    /// Smallest total spend.
    pub lower: f64,
    /// Rule that set `lower`.
    pub lower_rule: String,
    /// Which setting `lower` comes from.
    pub lower_source: BoundSource,
    /// Largest total spend (infinite: no cap).
    pub upper: f64,
    /// Rule that set `upper`.
    pub upper_rule: String,
    /// Which setting `upper` comes from.
    pub upper_source: BoundSource,
}

/// Which setting one end of a channel's range comes from (recorded in plan.json).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BoundSource {
    /// No limit: spend is at least zero and has no cap.
    None,
    /// The default `decisions.optimizer.max_change` (±30%,
    /// [`mmm_core::spec::DEFAULT_MAX_CHANGE`]).
    DefaultMaxChange,
    /// `decisions.optimizer.max_change` set to another value in the spec.
    MaxChange,
    /// A `decisions.optimizer.bounds` entry.
    Bounds,
}

impl BoundSource {
    /// The source of a `max_change` of `m`: the default when it equals
    /// [`mmm_core::spec::DEFAULT_MAX_CHANGE`] (written out or not; the value is the same).
    pub fn of_max_change(m: f64) -> Self {
        if m == mmm_core::spec::DEFAULT_MAX_CHANGE {
            Self::DefaultMaxChange
        } else {
            Self::MaxChange
        }
    }
}

/// What to optimize.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// Total budget over the horizon (currency).
    pub budget: f64,
    /// Objective.
    pub objective: Objective,
    /// Quantile level of the quantile and CVaR objectives.
    pub risk_level: f64,
    /// Currency per unit of target (profit objective).
    pub margin: f64,
    /// Per-channel ranges.
    pub ranges: Vec<ChannelRange>,
}

/// An optimized allocation.
#[derive(Debug, Clone)]
pub struct Solution {
    /// Total spend per channel over the horizon.
    pub spend: Vec<f64>,
    /// Objective value.
    pub objective: f64,
    /// Total lift per draw.
    pub lift: Vec<f64>,
    /// Gradient-ascent iterations over all starts.
    pub iterations: usize,
}

/// Objective value for per-draw lifts `lift` and total spend `spend`.
pub fn objective_value(problem: &Problem, lift: &[f64], spend: f64) -> f64 {
    let n = lift.len() as f64;
    match problem.objective {
        Objective::Expected => lift.iter().sum::<f64>() / n,
        Objective::Profit => problem.margin * lift.iter().sum::<f64>() / n - spend,
        Objective::Quantile => quantile_sorted(&sorted(lift), problem.risk_level),
        Objective::Cvar => {
            let s = sorted(lift);
            let m = tail_count(s.len(), problem.risk_level);
            s[..m].iter().sum::<f64>() / m as f64
        }
    }
}

/// Draws in the lower tail of level q: ceil(q n), at least one.
fn tail_count(n: usize, q: f64) -> usize {
    ((q * n as f64).ceil() as usize).clamp(1, n.max(1))
}

/// Weight of each draw in the objective's (sub)gradient: d objective / d lift_k.
fn draw_weights(problem: &Problem, lift: &[f64]) -> Vec<f64> {
    let n = lift.len();
    match problem.objective {
        Objective::Expected => vec![1.0 / n as f64; n],
        Objective::Profit => vec![problem.margin / n as f64; n],
        Objective::Quantile | Objective::Cvar => {
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| lift[a].total_cmp(&lift[b]));
            let mut w = vec![0.0; n];
            if problem.objective == Objective::Cvar {
                let m = tail_count(n, problem.risk_level);
                for &i in &order[..m] {
                    w[i] = 1.0 / m as f64;
                }
            } else {
                // Linear interpolation between order statistics, as `quantile_sorted`.
                let pos = problem.risk_level * (n - 1) as f64;
                let lo = pos.floor() as usize;
                let hi = pos.ceil() as usize;
                let frac = pos - lo as f64;
                w[order[lo]] += 1.0 - frac;
                w[order[hi]] += frac;
            }
            w
        }
    }
}

/// Check the ranges against the budget; the error names the violated constraint.
pub fn check_feasible(problem: &Problem) -> Result<(), InfeasibleError> {
    for r in &problem.ranges {
        if r.lower > r.upper + 1e-9 * r.upper.abs().max(1.0) {
            return Err(InfeasibleError::EmptyRange {
                channel: r.channel.clone(),
                lower: r.lower,
                lower_rule: r.lower_rule.clone(),
                upper: r.upper,
                upper_rule: r.upper_rule.clone(),
            });
        }
    }
    let tol = 1e-9 * problem.budget.abs().max(1.0);
    let lo: f64 = problem.ranges.iter().map(|r| r.lower).sum();
    if lo > problem.budget + tol {
        return Err(InfeasibleError::MinimumsExceedBudget {
            minimum_total: lo,
            budget: problem.budget,
            constraints: describe(problem, |r| r.lower > 0.0, |r| (r.lower, &r.lower_rule)),
        });
    }
    let hi: f64 = problem.ranges.iter().map(|r| r.upper).sum();
    if problem.objective != Objective::Profit && hi < problem.budget - tol {
        return Err(InfeasibleError::MaximumsBelowBudget {
            maximum_total: hi,
            budget: problem.budget,
            constraints: describe(
                problem,
                |r| r.upper.is_finite(),
                |r| (r.upper, &r.upper_rule),
            ),
        });
    }
    Ok(())
}

fn describe(
    problem: &Problem,
    keep: impl Fn(&ChannelRange) -> bool,
    value: impl Fn(&ChannelRange) -> (f64, &String),
) -> String {
    problem
        .ranges
        .iter()
        .filter(|r| keep(r))
        .map(|r| {
            let (v, rule) = value(r);
            format!("{} {v:.2} from {rule}", r.channel)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Euclidean projection of `y` onto `{lower <= x <= upper, sum x = total}`:
/// x_i = clamp(y_i - tau, lower_i, upper_i) with tau found by bisection.
pub fn project(y: &[f64], lower: &[f64], upper: &[f64], total: f64) -> Vec<f64> {
    let clamped_sum = |tau: f64| -> f64 {
        y.iter()
            .zip(lower.iter().zip(upper))
            .map(|(v, (l, u))| (v - tau).clamp(*l, *u))
            .sum()
    };
    let span = y
        .iter()
        .zip(lower.iter().zip(upper))
        .map(|(v, (l, u))| (v - l).abs().max((u - v).abs()))
        .fold(total.abs(), f64::max)
        + 1.0;
    let (mut a, mut b) = (-span, span);
    for _ in 0..200 {
        let mid = 0.5 * (a + b);
        if clamped_sum(mid) > total {
            a = mid;
        } else {
            b = mid;
        }
    }
    let tau = 0.5 * (a + b);
    y.iter()
        .zip(lower.iter().zip(upper))
        .map(|(v, (l, u))| (v - tau).clamp(*l, *u))
        .collect()
}

impl ChannelRange {
    /// A range with no limit: at least 0, no cap.
    pub fn unbounded(label: String) -> Self {
        ChannelRange {
            channel: label,
            lower: 0.0,
            lower_rule: "spend cannot be negative".into(),
            lower_source: BoundSource::None,
            upper: f64::INFINITY,
            upper_rule: "no limit".into(),
            upper_source: BoundSource::None,
        }
    }

    /// The range of one cell with reference spend `reference` (the cell's share of the
    /// reference period's spend, at the plan's budget): at least 0, within `max_change` of
    /// the reference when set and finite (an infinite `max_change` is no limit), and with the
    /// spec bound `bound` (named `which` in the rules) in place of the band's ends when given.
    pub fn new(
        label: String,
        reference: f64,
        max_change: Option<f64>,
        bound: Option<(&mmm_core::spec::ChannelBounds, String)>,
    ) -> Self {
        let mut r = Self::unbounded(label);
        if let Some(m) = max_change.filter(|m| m.is_finite() && *m >= 0.0)
            && reference.is_finite()
        {
            let source = BoundSource::of_max_change(m);
            let pct = format!("{:.4}", 100.0 * m);
            let pct = pct.trim_end_matches('0').trim_end_matches('.');
            let what = match source {
                BoundSource::DefaultMaxChange => {
                    format!("default decisions.optimizer.max_change = {m} (±{pct}%)")
                }
                _ => format!("decisions.optimizer.max_change = {m} (±{pct}%)"),
            };
            if m < 1.0 {
                r.lower = reference * (1.0 - m);
                r.lower_rule = format!("{what} below the reference spend {reference:.2}");
                r.lower_source = source;
            }
            r.upper = reference * (1.0 + m);
            r.upper_rule = format!("{what} above the reference spend {reference:.2}");
            r.upper_source = source;
        }
        // A spec bound overrides the max_change band end by end: its min and max always hold;
        // the band keeps the other end unless it contradicts the bound (a minimum above the
        // band's top, a maximum below its bottom), and then that end is released.
        if let Some((b, which)) = bound {
            if let Some(lo) = b.min {
                r.lower = lo.max(0.0);
                r.lower_rule = format!("{which}.min");
                r.lower_source = BoundSource::Bounds;
            }
            if let Some(hi) = b.max {
                r.upper = hi;
                r.upper_rule = format!("{which}.max");
                r.upper_source = BoundSource::Bounds;
            }
            if r.lower > r.upper {
                let free = Self::unbounded(r.channel.clone());
                if r.upper_source != BoundSource::Bounds {
                    r.upper = free.upper;
                    r.upper_rule = format!(
                        "no limit (the max_change band is released: {which}.min is above it)"
                    );
                    r.upper_source = BoundSource::None;
                } else if r.lower_source != BoundSource::Bounds {
                    r.lower = free.lower;
                    r.lower_rule = format!(
                        "spend cannot be negative (the max_change band is released: {which}.max is below it)"
                    );
                    r.lower_source = BoundSource::None;
                }
            }
        }
        r
    }

    /// The range as recorded in plan.json: `upper` is null when there is no cap.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "channel": self.channel,
            "lower": self.lower,
            "lower_rule": self.lower_rule,
            "lower_source": self.lower_source,
            "upper": self.upper.is_finite().then_some(self.upper),
            "upper_rule": self.upper_rule,
            "upper_source": self.upper_source,
        })
    }
}

/// The reference spend each cell's `max_change` is measured from: the reference period's mix
/// (`current`, already rescaled to the horizon) at the plan's `budget`, as Meridian's
/// `(1 ± c) * budget * share`. With the default budget (the reference total) it is `current`
/// itself; with another budget the ±c band moves with it, so any budget stays feasible. When
/// the reference period spent nothing there is no mix to keep: `current` (zeros) is returned.
pub fn reference_at_budget(current: &[f64], budget: f64) -> Vec<f64> {
    let total: f64 = current.iter().sum();
    if total > 0.0 && total.is_finite() && budget.is_finite() {
        current.iter().map(|c| c * budget / total).collect()
    } else {
        current.to_vec()
    }
}

/// The per-channel limits as plan.json records them: `max_change` (null when there is no
/// limit), whether it is the default, and each cell's range with the rule and source of each
/// end.
pub fn guardrails_json(max_change: Option<f64>, ranges: &[ChannelRange]) -> serde_json::Value {
    let m = max_change.filter(|m| m.is_finite());
    serde_json::json!({
        "max_change": m,
        "max_change_source": m.map_or(BoundSource::None, BoundSource::of_max_change),
        "default_max_change": mmm_core::spec::DEFAULT_MAX_CHANGE,
        "reference": "each cell's share of the reference period's spend, at the plan's budget",
        "override": "decisions.optimizer.max_change (a fraction; inf lifts the limit) or decisions.optimizer.bounds (per channel, min and max)",
        "ranges": ranges.iter().map(ChannelRange::to_json).collect::<Vec<_>>(),
    })
}

/// The ranges a solution sits on (within 1e-6 of the budget), as sentences naming the rule.
pub fn binding_constraints(ranges: &[ChannelRange], spend: &[f64], budget: f64) -> Vec<String> {
    let tol = 1e-6 * budget.max(1.0);
    ranges
        .iter()
        .zip(spend)
        .filter_map(|(r, x)| {
            if (x - r.lower).abs() <= tol && r.lower > 0.0 {
                Some(format!("{} at its minimum ({})", r.channel, r.lower_rule))
            } else if (x - r.upper).abs() <= tol {
                Some(format!("{} at its maximum ({})", r.channel, r.upper_rule))
            } else {
                None
            }
        })
        .collect()
}

/// What the optimizer needs of a response model: the per-draw lift of spending a total flat
/// over the horizon in one cell (a channel, or a geo's channel), and of a whole allocation.
pub trait Response {
    /// Number of cells the budget is split over.
    fn cells(&self) -> usize;
    /// Number of posterior draws.
    fn draws(&self) -> usize;
    /// True when cells add up (per-cell lifts sum to the allocation's).
    fn is_additive(&self) -> bool;
    /// Lift per draw of `total` spent in cell `i` (additive models).
    fn flat_cell_lift(&self, i: usize, total: f64) -> Vec<f64>;
    /// Lift per draw of the whole allocation `totals` (one total per cell).
    fn flat_lift(&self, totals: &[f64]) -> Vec<f64>;
}

impl Response for crate::plan::MixturePlan<'_> {
    fn cells(&self) -> usize {
        self.channels()
    }
    fn draws(&self) -> usize {
        crate::plan::PlanResponse::draws(self)
    }
    fn is_additive(&self) -> bool {
        crate::plan::PlanResponse::is_additive(self)
    }
    fn flat_cell_lift(&self, i: usize, total: f64) -> Vec<f64> {
        let weeks = self.horizon();
        let weekly = vec![total / weeks as f64; weeks];
        crate::plan::PlanResponse::channel_lift(self, i, &weekly)
    }
    fn flat_lift(&self, totals: &[f64]) -> Vec<f64> {
        let plan = crate::stages::flat_plan(totals, self.horizon());
        crate::plan::PlanResponse::lift(self, &plan)
    }
}

impl Response for PlanModel<'_> {
    fn cells(&self) -> usize {
        self.channels()
    }
    fn draws(&self) -> usize {
        PlanModel::draws(self)
    }
    fn is_additive(&self) -> bool {
        PlanModel::is_additive(self)
    }
    fn flat_cell_lift(&self, i: usize, total: f64) -> Vec<f64> {
        self.flat_channel_lift(i, total)
    }
    fn flat_lift(&self, totals: &[f64]) -> Vec<f64> {
        PlanModel::flat_lift(self, totals)
    }
}

/// Geos x channels: cell g x channels + c is channel c in geo g, each geo with its own plan
/// model (its parameters per draw, its spend history); lifts add over geos per draw.
pub struct GeoPlan<'a> {
    /// One plan model per geo, all over the same draws and horizon.
    pub geos: Vec<PlanModel<'a>>,
}

impl Response for GeoPlan<'_> {
    fn cells(&self) -> usize {
        self.geos.iter().map(PlanModel::channels).sum()
    }
    fn draws(&self) -> usize {
        self.geos.first().map_or(0, PlanModel::draws)
    }
    fn is_additive(&self) -> bool {
        self.geos.iter().all(PlanModel::is_additive)
    }
    fn flat_cell_lift(&self, i: usize, total: f64) -> Vec<f64> {
        let c = self.geos[0].channels();
        self.geos[i / c].flat_channel_lift(i % c, total)
    }
    fn flat_lift(&self, totals: &[f64]) -> Vec<f64> {
        let c = self.geos[0].channels();
        let mut sum = vec![0.0; Response::draws(self)];
        for (g, pm) in self.geos.iter().enumerate() {
            for (s, v) in sum
                .iter_mut()
                .zip(pm.flat_lift(&totals[g * c..(g + 1) * c]))
            {
                *s += v;
            }
        }
        sum
    }
}

/// Working state: the response model and the per-cell lifts of the current point.
struct Evaluator<'p> {
    pm: &'p dyn Response,
    problem: &'p Problem,
    channels: usize,
}

impl Evaluator<'_> {
    /// Per-channel lifts (additive model), or the plan's joint lift as the single entry (a
    /// non-additive model, whose channels interact through the link).
    fn lifts(&self, x: &[f64]) -> Vec<Vec<f64>> {
        if !self.pm.is_additive() {
            return vec![self.pm.flat_lift(&x[..self.channels])];
        }
        (0..self.channels)
            .map(|c| self.pm.flat_cell_lift(c, x[c]))
            .collect()
    }

    fn total(&self, lifts: &[Vec<f64>]) -> Vec<f64> {
        let mut t = vec![0.0; self.pm.draws()];
        for l in lifts {
            for (a, b) in t.iter_mut().zip(l) {
                *a += b;
            }
        }
        t
    }

    fn value(&self, x: &[f64], lifts: &[Vec<f64>]) -> f64 {
        let spend: f64 = x[..self.channels].iter().sum();
        objective_value(self.problem, &self.total(lifts), spend)
    }

    /// Gradient by forward differences of each channel's per-draw lift.
    fn gradient(&self, x: &[f64], lifts: &[Vec<f64>], scale: f64) -> Vec<f64> {
        let w = draw_weights(self.problem, &self.total(lifts));
        let mut g = vec![0.0; x.len()];
        for c in 0..self.channels {
            let h = 1e-6 * scale.max(1e-9);
            let (up, at) = if self.pm.is_additive() {
                (self.pm.flat_cell_lift(c, x[c] + h), &lifts[c])
            } else {
                let mut xh = x[..self.channels].to_vec();
                xh[c] += h;
                (self.pm.flat_lift(&xh), &lifts[0])
            };
            let d: f64 = up
                .iter()
                .zip(at)
                .zip(&w)
                .map(|((u, l), w)| w * (u - l) / h)
                .sum();
            g[c] = d - if self.problem.objective == Objective::Profit {
                1.0
            } else {
                0.0
            };
        }
        g
    }
}

/// Maximize the objective from each start; return the best plan.
pub fn optimize(
    pm: &dyn Response,
    problem: &Problem,
    starts: &[Vec<f64>],
) -> Result<Solution, InfeasibleError> {
    check_feasible(problem)?;
    let channels = pm.cells();
    let profit = problem.objective == Objective::Profit;
    // Profit may leave budget unspent: a slack coordinate in [0, budget] with no return.
    let mut lower: Vec<f64> = problem.ranges.iter().map(|r| r.lower).collect();
    let mut upper: Vec<f64> = problem
        .ranges
        .iter()
        .map(|r| r.upper.min(problem.budget))
        .collect();
    if profit {
        lower.push(0.0);
        upper.push(problem.budget);
    }
    let ev = Evaluator {
        pm,
        problem,
        channels,
    };
    let scale = problem.budget.max(1e-9);
    let equal_split = vec![problem.budget / channels.max(1) as f64; channels];
    let starts = if starts.is_empty() {
        std::slice::from_ref(&equal_split)
    } else {
        starts
    };
    let mut best = Solution {
        spend: Vec::new(),
        objective: f64::NEG_INFINITY,
        lift: Vec::new(),
        iterations: 0,
    };
    let mut iterations = 0;
    for start in starts {
        let mut y = start.clone();
        if profit {
            let spent: f64 = y.iter().sum();
            y.push(problem.budget - spent);
        }
        let mut x = project(&y, &lower, &upper, problem.budget);
        let mut lifts = ev.lifts(&x);
        let mut f = ev.value(&x, &lifts);
        let mut step = f64::NAN;
        for _ in 0..500 {
            iterations += 1;
            let g = ev.gradient(&x, &lifts, scale);
            let gnorm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            if gnorm == 0.0 || !gnorm.is_finite() {
                break;
            }
            if !step.is_finite() {
                step = 0.1 * scale / gnorm;
            }
            let mut moved = false;
            for _ in 0..60 {
                let trial: Vec<f64> = x.iter().zip(&g).map(|(a, b)| a + step * b).collect();
                let xn = project(&trial, &lower, &upper, problem.budget);
                let dir: f64 = xn
                    .iter()
                    .zip(&x)
                    .zip(&g)
                    .map(|((a, b), g)| (a - b) * g)
                    .sum();
                let ln = ev.lifts(&xn);
                let fnew = ev.value(&xn, &ln);
                if fnew >= f + 1e-4 * dir && dir > 0.0 {
                    let change = xn
                        .iter()
                        .zip(&x)
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max);
                    let gain = fnew - f;
                    x = xn;
                    lifts = ln;
                    f = fnew;
                    step *= 2.0;
                    moved = change > 1e-10 * scale && gain > 1e-12 * f.abs().max(1e-12);
                    break;
                }
                step *= 0.5;
            }
            if !moved {
                break;
            }
        }
        let total = ev.total(&lifts);
        if f > best.objective || best.spend.is_empty() {
            best = Solution {
                spend: x[..channels].to_vec(),
                objective: f,
                lift: total,
                iterations: 0,
            };
        }
    }
    best.iterations = iterations;
    Ok(best)
}
