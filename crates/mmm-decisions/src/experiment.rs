//! Experiment design by preposterior analysis: for each channel and candidate lift test (its
//! length, spend change and standard error), how much the channel's ROAS interval is expected
//! to shrink once the test's result is added to the model, computed from the existing posterior
//! draws with the model's own lift term (no refits).
//!
//! For a candidate test T with model lift L_i = L(theta_i) at each posterior draw, an outcome
//! is simulated from the posterior predictive (a draw j, y = L_j + se z), the posterior given y
//! is the current one reweighted by the test's likelihood, w_i ∝ exp(-(y - L_i)^2 / (2 se^2))
//! (self-normalized; the ratios are likelihoods, bounded by 1, so their variance is finite
//! and no tail smoothing is needed), and the weighted interval of the channel's ROAS is
//! read off. The expected width over outcomes against today's width is the expected shrinkage.

use mmm_core::spec::{LiftTestSpec, LoadedSpec};
use mmm_features::Design;
use mmm_features::panel::GeoDesign;
use mmm_model::MmmModel;
use mmm_model::geo::GeoModel;
use mmm_model::rand::{RngExt, SeedableRng};
use mmm_model::rand_distr::{Distribution, StandardNormal};
use serde::Serialize;

use crate::DecideError;

/// What to evaluate: every channel with spend, crossed with these test lengths and spend changes.
#[derive(Debug, Clone)]
pub struct ExperimentOptions {
    /// Test lengths in weeks (each the last weeks of the training window).
    pub weeks: Vec<usize>,
    /// Spend changes over the window, as fractions of the observed spend (-1 switches off).
    pub spend_changes: Vec<f64>,
    /// The test's standard error in target units; `None`: sigma sqrt(2 weeks), sigma the
    /// posterior mean of the model's weekly noise (a test arm and a control arm each as noisy
    /// as one week of the target per week).
    pub standard_error: Option<f64>,
    /// Simulated outcomes per candidate.
    pub outcomes: usize,
    /// Seed of the simulated outcomes.
    pub seed: u64,
}

impl Default for ExperimentOptions {
    fn default() -> Self {
        Self {
            weeks: vec![4, 8],
            spend_changes: vec![-1.0],
            standard_error: None,
            outcomes: 400,
            seed: 20_230_601,
        }
    }
}

/// A posterior interval: mean, bounds and width.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Interval {
    pub mean: f64,
    pub lower: f64,
    pub upper: f64,
}

impl Interval {
    pub fn width(&self) -> f64 {
        self.upper - self.lower
    }
}

/// One candidate test and what it is expected to teach.
#[derive(Debug, Clone, Serialize)]
pub struct Candidate {
    pub channel: String,
    /// Geo hierarchy: the geo where the test runs (its ROAS is then the channel's national
    /// ROAS, summed over geos, and `geo_roas` the geo's own).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo: Option<String>,
    pub weeks: usize,
    pub spend_change: f64,
    /// The test window (ISO dates of its first and last period).
    pub start: String,
    pub end: String,
    pub standard_error: f64,
    /// The model's lift of the test today (target units).
    pub lift: Interval,
    /// The channel's ROAS today.
    pub roas: Interval,
    /// Expected ROAS interval width after the test, and its 10% and 90% quantiles over
    /// the simulated outcomes.
    pub expected_width: f64,
    pub width_10: f64,
    pub width_90: f64,
    /// 1 - expected width / today's width.
    pub expected_shrinkage: f64,
    /// Smallest effective sample size of the reweighted draws over the outcomes.
    pub min_ess: f64,
    /// Geo hierarchy: the tested geo's own ROAS today and its expected shrinkage.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo_roas: Option<Interval>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub geo_expected_shrinkage: Option<f64>,
    /// Share of outcomes whose reweighted draws have an effective sample size under
    /// [`MIN_ESS`] (the reweighting is then unreliable:
    /// the test would teach more than the draws can show; refit with it to know).
    pub share_low_ess: f64,
}

/// The ranked candidates and how they were computed.
#[derive(Debug, Clone, Serialize)]
pub struct ExperimentDesign {
    pub interval: f64,
    pub outcomes: usize,
    pub draws: usize,
    /// Best first: largest expected shrinkage of the tested channel's ROAS interval.
    pub candidates: Vec<Candidate>,
    /// Channels left out, with the reason.
    pub skipped: Vec<(String, String)>,
    pub method: &'static str,
}

impl ExperimentDesign {
    /// The candidates best first (largest expected shrinkage), with how they were computed.
    fn ranked(
        mut candidates: Vec<Candidate>,
        skipped: Vec<(String, String)>,
        level: f64,
        opts: &ExperimentOptions,
        draws: usize,
    ) -> Self {
        candidates.sort_by(|a, b| b.expected_shrinkage.total_cmp(&a.expected_shrinkage));
        Self {
            interval: level,
            outcomes: opts.outcomes,
            draws,
            candidates,
            skipped,
            method: METHOD,
        }
    }
}

/// Bounds on the simulated outcomes per candidate.
const MIN_OUTCOMES: usize = 20;
const MAX_OUTCOMES: usize = 100_000;

/// Effective sample size below which a reweighted interval is flagged as unreliable.
pub const MIN_ESS: f64 = 100.0;

pub const METHOD: &str = "preposterior analysis on the posterior draws: for each candidate lift \
    test (the channel's spend changed by the given fraction over the last weeks of the \
    training window) the model's own lift term L_i per draw; 'outcomes' results y = L_j + se z \
    from the posterior predictive (j a uniform draw, z standard normal); for each, the draws \
    reweighted by Normal(y; L_i, se) (self-normalized importance weights) and the weighted \
    central interval of the channel's training-window ROAS; expected_shrinkage = 1 - \
    mean width / today's width. No refits.";

/// Evaluate every candidate test on a national model's posterior (`thetas`, constrained).
pub fn design(
    spec: &LoadedSpec,
    design: &Design,
    model: &MmmModel,
    thetas: &[Vec<f64>],
    opts: &ExperimentOptions,
) -> Result<ExperimentDesign, DecideError> {
    check_options(spec, opts)?;
    let level = spec.spec.decisions.interval;
    let se_default = noise_sd(model, thetas).map(|s| s * design.scales.target);
    let mut skipped = Vec::new();
    let mut jobs = Vec::new();
    for (c, name) in design.channel_names.iter().enumerate() {
        let roas = roas_draws(model, design, thetas, c);
        let Some(roas) = roas else {
            skipped.push((name.clone(), "no spend in the training window".into()));
            continue;
        };
        for &weeks in &opts.weeks {
            if !has_spend(design, c, weeks) {
                skipped.push((name.clone(), format!("no spend in the last {weeks} weeks")));
                continue;
            }
            for &change in &opts.spend_changes {
                let se = match (opts.standard_error, se_default) {
                    (Some(se), _) => se,
                    (None, Some(sigma)) => sigma * (2.0 * weeks as f64).sqrt(),
                    (None, None) => {
                        return Err(DecideError::Input(
                            "the likelihood has no noise scale: give --standard-error".into(),
                        ));
                    }
                };
                jobs.push((c, weeks, change, se, roas.clone()));
            }
        }
    }
    let candidates = mmm_core::parallel::map_indexed(jobs.len(), 1, |k| {
        let (c, weeks, change, se, roas) = &jobs[k];
        candidate(
            spec,
            design,
            thetas,
            (*c, *weeks, *change, *se),
            roas,
            opts,
            level,
        )
    });
    let candidates = candidates.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(ExperimentDesign::ranked(
        candidates,
        skipped,
        level,
        opts,
        thetas.len(),
    ))
}

/// Options a user can get wrong, checked before any work.
fn check_options(spec: &LoadedSpec, opts: &ExperimentOptions) -> Result<(), DecideError> {
    let bad = |m: String| Err(DecideError::Input(m));
    if !spec.spec.likelihood.is_additive() {
        return bad("experiment design uses the model's lift term, which needs an additive likelihood (normal or student_t)".into());
    }
    if opts.weeks.is_empty() || opts.spend_changes.is_empty() {
        return bad("give at least one test length and one spend change".into());
    }
    if let Some(w) = opts.weeks.iter().find(|w| **w == 0) {
        return bad(format!("a test length must be at least one week, got {w}"));
    }
    if let Some(d) =
        (opts.spend_changes.iter()).find(|d| !(d.is_finite() && **d >= -1.0 && **d != 0.0))
    {
        return bad(format!(
            "a spend change must be a fraction >= -1 other than 0 (-1 switches the channel off), got {d}"
        ));
    }
    if let Some(se) = opts
        .standard_error
        .filter(|se| !(se.is_finite() && *se > 0.0))
    {
        return bad(format!(
            "the standard error must be a finite number > 0, got {se}"
        ));
    }
    if !(MIN_OUTCOMES..=MAX_OUTCOMES).contains(&opts.outcomes) {
        return bad(format!(
            "simulate between {MIN_OUTCOMES} and {MAX_OUTCOMES} outcomes per test (at least {MIN_OUTCOMES}; beyond {MAX_OUTCOMES} the Monte Carlo error is negligible and the time and memory are not), got {}",
            opts.outcomes
        ));
    }
    Ok(())
}

/// Posterior mean of the model's noise scale (model scale), if it has one.
fn noise_sd(model: &MmmModel, thetas: &[Vec<f64>]) -> Option<f64> {
    let sds: Option<Vec<f64>> = thetas.iter().map(|t| model.sigma(t)).collect();
    sds.map(|s| mmm_core::summary::mean(&s))
}

/// Whether channel c spent anything in the last `weeks` training weeks.
fn has_spend(design: &Design, c: usize, weeks: usize) -> bool {
    let nt = design.n_train;
    weeks <= nt && design.spend(c)[nt - weeks..nt].iter().any(|v| *v > 0.0)
}

/// Channel c's training-window ROAS per draw: the sum of its term over the training weeks (the
/// decomposition's contribution, target units) over its training spend (`None` without spend).
fn roas_draws(
    model: &MmmModel,
    design: &Design,
    thetas: &[Vec<f64>],
    c: usize,
) -> Option<Vec<f64>> {
    let nt = design.n_train;
    let spend: f64 = design.spend(c)[..nt].iter().sum();
    if spend <= 0.0 {
        return None;
    }
    let scale = design.scales.target;
    Some(mmm_core::parallel::map_blocks(thetas.len(), 64, |range| {
        let mut term = vec![0.0; model.periods()];
        range
            .map(|k| {
                model.channel_term(&thetas[k], c, &mut term);
                term[..nt].iter().sum::<f64>() * scale / spend
            })
            .collect()
    }))
}

/// The lift test a candidate stands for (its measured lift is unknown: 0 here).
fn test_spec(
    spec: &LoadedSpec,
    design: &Design,
    c: usize,
    weeks: usize,
    change: f64,
    se: f64,
) -> LiftTestSpec {
    let nt = design.n_train;
    LiftTestSpec {
        channel: spec.spec.channels[c].name.clone(),
        start: mmm_core::dates::iso(design.dates[nt - weeks]),
        end: mmm_core::dates::iso(design.dates[nt - 1]),
        lift: 0.0,
        standard_error: se,
        spend_change: change,
        geo: None,
        geos: Vec::new(),
    }
}

/// One candidate: the model's lift of the test per draw, then the preposterior widths.
fn candidate(
    spec: &LoadedSpec,
    design: &Design,
    thetas: &[Vec<f64>],
    (c, weeks, change, se): (usize, usize, f64, f64),
    roas: &[f64],
    opts: &ExperimentOptions,
    level: f64,
) -> Result<Candidate, DecideError> {
    let test = test_spec(spec, design, c, weeks, change, se);
    let mut with_test = spec.spec.clone();
    with_test.lift_tests = vec![test.clone()];
    let model = MmmModel::new(&with_test, design)?;
    let scale = design.scales.target;
    let lifts: Vec<f64> = thetas
        .iter()
        .map(|t| model.lift_test_predictions(t)[0] * scale)
        .collect();
    let seed = opts.seed + c as u64;
    let outcomes = preposterior(&lifts, &[roas], se, level, opts.outcomes, seed);
    Ok(summarize(
        test,
        weeks,
        se,
        &lifts,
        &[roas],
        &outcomes,
        level,
    ))
}

/// A candidate's figures from its lift draws, its quantities (the channel's ROAS, then for a
/// geo test the geo's) and the preposterior outcomes.
fn summarize(
    test: LiftTestSpec,
    weeks: usize,
    se: f64,
    lifts: &[f64],
    quantities: &[&[f64]],
    outcomes: &[Outcomes],
    level: f64,
) -> Candidate {
    let shrink = |q: usize| {
        let today = interval(quantities[q], level);
        let mut w: Vec<f64> = outcomes.iter().map(|o| o.widths[q]).collect();
        w.sort_by(f64::total_cmp);
        let expected = mmm_core::summary::mean(&w);
        (today, w, expected, 1.0 - expected / today.width())
    };
    let (roas, w, expected, shrinkage) = shrink(0);
    let geo = (quantities.len() > 1).then(|| shrink(1));
    let n = outcomes.len().max(1) as f64;
    Candidate {
        channel: test.channel,
        geo: test.geo,
        weeks,
        spend_change: test.spend_change,
        start: test.start,
        end: test.end,
        standard_error: se,
        lift: interval(lifts, level),
        roas,
        expected_width: expected,
        width_10: mmm_core::summary::quantile_sorted(&w, 0.1),
        width_90: mmm_core::summary::quantile_sorted(&w, 0.9),
        expected_shrinkage: shrinkage,
        geo_roas: geo.as_ref().map(|g| g.0),
        geo_expected_shrinkage: geo.as_ref().map(|g| g.3),
        min_ess: outcomes.iter().map(|o| o.ess).fold(f64::INFINITY, f64::min),
        share_low_ess: outcomes.iter().filter(|o| o.ess < MIN_ESS).count() as f64 / n,
    }
}

/// The reweighted posterior's interval width for one simulated outcome, and how reliable it is.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub width: f64,
    pub ess: f64,
}

/// One simulated outcome: the reweighted interval width of each quantity, and the weights'
/// effective sample size.
#[derive(Debug, Clone)]
struct Outcomes {
    widths: Vec<f64>,
    ess: f64,
}

/// For `outcomes` results y = lifts[j] + se z (j uniform, z standard normal, seeded), the
/// central `level` interval width of `quantity` under the draws reweighted by Normal(y;
/// lifts[i], se).
pub fn preposterior_widths(
    lifts: &[f64],
    quantity: &[f64],
    se: f64,
    level: f64,
    outcomes: usize,
    seed: u64,
) -> Vec<Outcome> {
    (preposterior(lifts, &[quantity], se, level, outcomes, seed).iter())
        .map(|o| Outcome {
            width: o.widths[0],
            ess: o.ess,
        })
        .collect()
}

/// [`preposterior_widths`] for several quantities under the same outcomes and weights.
fn preposterior(
    lifts: &[f64],
    quantities: &[&[f64]],
    se: f64,
    level: f64,
    outcomes: usize,
    seed: u64,
) -> Vec<Outcomes> {
    let mut rng = mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    // Each outcome y = lifts[j] + se z as its (j, z): the standardized residual
    // (y - l) / se = z + (lifts[j] - l) / se cannot overflow for any finite se.
    let draws: Vec<(usize, f64)> = (0..outcomes)
        .map(|_| {
            let j = rng.random_range(0..lifts.len());
            (j, StandardNormal.sample(&mut rng))
        })
        .collect();
    let orders: Vec<Vec<usize>> = quantities.iter().map(|q| sorted_order(q)).collect();
    draws
        .iter()
        .map(|&(j, z)| {
            let log_ratios: Vec<f64> = lifts
                .iter()
                .map(|l| -0.5 * (z + (lifts[j] - l) / se).powi(2))
                .collect();
            let weights = mmm_diagnostics::sensitivity::normalized_weights(&log_ratios);
            Outcomes {
                widths: (quantities.iter().zip(&orders))
                    .map(|(q, order)| weighted_interval(q, &weights, order, level).width())
                    .collect(),
                ess: 1.0 / weights.iter().map(|w| w * w).sum::<f64>(),
            }
        })
        .collect()
}

/// Indices of `x` in ascending order of value.
pub fn sorted_order(x: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|a, b| x[*a].total_cmp(&x[*b]));
    order
}

/// The central `level` interval and mean of `x` with equal weights.
fn interval(x: &[f64], level: f64) -> Interval {
    let w = vec![1.0 / x.len().max(1) as f64; x.len()];
    weighted_interval(x, &w, &sorted_order(x), level)
}

/// The central `level` interval and mean of `x` weighted by `w` (normalized; `order` is the
/// ascending order of `x`): the lower bound is the smallest value whose cumulative weight
/// reaches (1 - level) / 2, the upper the smallest reaching (1 + level) / 2.
pub fn weighted_interval(x: &[f64], w: &[f64], order: &[usize], level: f64) -> Interval {
    let (lo, hi) = ((1.0 - level) / 2.0, (1.0 + level) / 2.0);
    let (mut cum, mut lower, mut upper) = (0.0, f64::NAN, f64::NAN);
    for &i in order {
        cum += w[i];
        if lower.is_nan() && cum >= lo {
            lower = x[i];
        }
        if cum >= hi {
            upper = x[i];
            break;
        }
    }
    // Rounding can leave the total weight a hair under `hi`: the largest value then.
    if upper.is_nan() {
        upper = order.last().map_or(f64::NAN, |i| x[*i]);
    }
    Interval {
        mean: x.iter().zip(w).map(|(v, w)| v * w).sum(),
        lower,
        upper,
    }
}

/// [`design`] on a finished run's features and fit stages (read and verified): a national
/// model, or a geo hierarchy through [`design_geo`].
pub fn design_run(
    spec: &LoadedSpec,
    features_dir: &std::path::Path,
    fit_dir: &std::path::Path,
    opts: &ExperimentOptions,
) -> Result<ExperimentDesign, DecideError> {
    if spec.spec.geo.is_hierarchical() {
        let inputs = crate::geo_optimize::GeoInputs::load(spec, features_dir, fit_dir)?;
        let draws = GeoDraws {
            global: &inputs.global,
            by_geo: &inputs.thetas,
        };
        return design_geo(spec, &inputs.panel, &inputs.hierarchy, draws, opts);
    }
    let inputs = crate::stages::load(spec, features_dir, fit_dir)?;
    design(
        spec,
        &inputs.design,
        &inputs.model,
        &inputs.posterior.theta,
        opts,
    )
}

/// Per geo and channel: the channel's training-window contribution per draw (target units)
/// and its training spend.
struct GeoChannels {
    contribution: Vec<Vec<Vec<f64>>>,
    spend: Vec<Vec<f64>>,
}

/// A hierarchy's posterior draws: the global constrained parameters (draws.parquet's columns)
/// and each geo's own national parameters, `by_geo[g][draw]`.
#[derive(Clone, Copy)]
pub struct GeoDraws<'a> {
    pub global: &'a [Vec<f64>],
    pub by_geo: &'a [Vec<Vec<f64>>],
}

/// Every geo's channel contributions per draw from its own parameters.
fn geo_channels(panel: &GeoDesign, hierarchy: &GeoModel, draws: GeoDraws) -> GeoChannels {
    let contribution = (panel.designs.iter().enumerate())
        .map(|(g, d)| {
            let member = hierarchy.member(g);
            let per_draw = mmm_core::parallel::map_blocks(draws.by_geo[g].len(), 64, |range| {
                let mut term = vec![0.0; member.periods()];
                range
                    .map(|k| {
                        (0..d.channel_names.len())
                            .map(|c| {
                                member.channel_term(&draws.by_geo[g][k], c, &mut term);
                                term[..d.n_train].iter().sum::<f64>() * d.scales.target
                            })
                            .collect::<Vec<f64>>()
                    })
                    .collect()
            });
            (0..d.channel_names.len())
                .map(|c| per_draw.iter().map(|v| v[c]).collect())
                .collect()
        })
        .collect();
    let spend = (panel.designs.iter())
        .map(|d| {
            (0..d.channel_names.len())
                .map(|c| d.spend(c)[..d.n_train].iter().sum())
                .collect()
        })
        .collect();
    GeoChannels {
        contribution,
        spend,
    }
}

/// A geo candidate before it is evaluated: the test, its length, its channel and geo.
struct GeoCandidate {
    test: LiftTestSpec,
    weeks: usize,
    channel: usize,
    geo: usize,
}

/// Every (channel, geo, length, spend change) test the options ask for, and what was skipped
/// and why. `noise[g]` is geo g's weekly noise (target units) for the default standard error.
fn geo_candidates(
    spec: &LoadedSpec,
    panel: &GeoDesign,
    totals: &GeoChannels,
    noise: &[Option<f64>],
    opts: &ExperimentOptions,
) -> (Vec<GeoCandidate>, Vec<(String, String)>) {
    let (mut candidates, mut skipped) = (Vec::new(), Vec::new());
    for (c, name) in spec.spec.channels.iter().map(|c| &c.name).enumerate() {
        if totals.spend.iter().map(|s| s[c]).sum::<f64>() <= 0.0 {
            skipped.push((name.clone(), "no spend in the training window".into()));
            continue;
        }
        for (g, geo) in panel.geos.iter().enumerate() {
            let d = &panel.designs[g];
            for &weeks in &opts.weeks {
                if !has_spend(d, c, weeks) {
                    let why = format!("no spend in the last {weeks} weeks");
                    skipped.push((format!("{name} in {geo}"), why));
                    continue;
                }
                for &change in &opts.spend_changes {
                    let se = opts.standard_error.unwrap_or_else(|| {
                        noise[g].unwrap_or(f64::NAN) * (2.0 * weeks as f64).sqrt()
                    });
                    let mut test = test_spec(spec, d, c, weeks, change, se);
                    test.geo = Some(geo.clone());
                    candidates.push(GeoCandidate {
                        test,
                        weeks,
                        channel: c,
                        geo: g,
                    });
                }
            }
        }
    }
    (candidates, skipped)
}

impl GeoChannels {
    /// Channel c's national ROAS per draw: the geos' contributions summed over their spend.
    fn national_roas(&self, c: usize, draws: usize) -> Vec<f64> {
        let spend: f64 = self.spend.iter().map(|s| s[c]).sum();
        (0..draws)
            .map(|k| self.contribution.iter().map(|g| g[c][k]).sum::<f64>() / spend)
            .collect()
    }

    /// Geo g's own ROAS of channel c per draw.
    fn geo_roas(&self, g: usize, c: usize) -> Vec<f64> {
        let spend = self.spend[g][c].max(f64::MIN_POSITIVE);
        self.contribution[g][c].iter().map(|v| v / spend).collect()
    }
}

/// Every (channel, geo) test on a geo hierarchy's posterior: each test runs in one geo, and
/// its worth is the shrinkage of the channel's national ROAS interval (the geos'
/// contributions summed per draw over their summed spend); the geo's own ROAS shrinkage is
/// reported beside it. All candidates' lifts come from one hierarchy that holds every
/// candidate as a lift test, evaluated at the global draws.
pub fn design_geo(
    spec: &LoadedSpec,
    panel: &GeoDesign,
    hierarchy: &GeoModel,
    draws: GeoDraws,
    opts: &ExperimentOptions,
) -> Result<ExperimentDesign, DecideError> {
    check_options(spec, opts)?;
    let (level, thetas) = (spec.spec.decisions.interval, draws.global);
    let totals = geo_channels(panel, hierarchy, draws);
    let noise: Vec<Option<f64>> = match opts.standard_error {
        Some(_) => vec![None; panel.geos.len()],
        None => (0..panel.geos.len())
            .map(|g| geo_noise(hierarchy.member(g), &draws.by_geo[g], &panel.designs[g]))
            .collect::<Result<_, _>>()?,
    };
    let (candidates, skipped) = geo_candidates(spec, panel, &totals, &noise, opts);
    let mut with_tests = spec.spec.clone();
    with_tests.lift_tests = candidates.iter().map(|c| c.test.clone()).collect();
    let model = GeoModel::new(&with_tests, panel)?;
    let predictions: Vec<Vec<f64>> = mmm_core::parallel::map_indexed(thetas.len(), 16, |k| {
        model.lift_test_predictions(&thetas[k])
    });
    let national: Vec<Vec<f64>> = (0..spec.spec.channels.len())
        .map(|c| totals.national_roas(c, thetas.len()))
        .collect();
    let evaluated = mmm_core::parallel::map_indexed(candidates.len(), 1, |i| {
        let cand = &candidates[i];
        let lifts: Vec<f64> = predictions.iter().map(|p| p[i]).collect();
        let own = totals.geo_roas(cand.geo, cand.channel);
        let quantities = [national[cand.channel].as_slice(), own.as_slice()];
        let se = cand.test.standard_error;
        let seed = opts.seed + i as u64;
        let outcomes = preposterior(&lifts, &quantities, se, level, opts.outcomes, seed);
        let test = cand.test.clone();
        summarize(test, cand.weeks, se, &lifts, &quantities, &outcomes, level)
    });
    Ok(ExperimentDesign::ranked(
        evaluated,
        skipped,
        level,
        opts,
        thetas.len(),
    ))
}

/// Geo g's weekly noise in target units: the posterior mean of its noise scale.
fn geo_noise(
    member: &MmmModel,
    thetas: &[Vec<f64>],
    d: &Design,
) -> Result<Option<f64>, DecideError> {
    let sd = noise_sd(member, thetas).map(|s| s * d.scales.target);
    sd.map(Some).ok_or_else(|| {
        DecideError::Input("the likelihood has no noise scale: give --standard-error".into())
    })
}
