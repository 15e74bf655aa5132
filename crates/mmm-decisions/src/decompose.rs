//! Per-draw, per-week decomposition of the expected target into the intercept, each control,
//! seasonality and each channel's counterfactual contribution, in target units.
//!
//! For a model that is not additive on the response scale (LogNormal, Poisson, NB: the
//! expected response is exp of the linear predictor), a channel's contribution is the
//! counterfactual difference E[y | all] - E[y | that channel's spend at zero], the baseline is
//! E[y | every channel at zero], and the remainder E[y | all] - baseline - sum of contributions
//! (the channels' interaction through the link) is its own component, `interaction`, so the
//! components still add up to E[y].

use mmm_features::Design;
use mmm_model::MmmModel;

use crate::DecideError;

/// `series[component][week][draw]` with the component names; `baseline` is the sum of the
/// non-media components (the prediction with every channel's spend at zero).
#[derive(Debug, Clone, Default)]
pub struct Decomposition {
    /// Component names: `intercept`, each `control[..]`, each `mediator[..]` (its part not
    /// driven by the channels), `seasonality` (when present), the
    /// trend, events and level shifts, `local_level` (when present), `baseline`, then the
    /// channels.
    pub names: Vec<String>,
    /// Values per component, week and draw (target units).
    pub series: Vec<Vec<Vec<f64>>>,
    /// Index of `baseline` in `names`.
    pub baseline: usize,
    /// Index of the first channel in `names` (the channels are consecutive).
    pub first_channel: usize,
    /// Number of channels.
    pub channels: usize,
}

/// Decompose every draw. The linear pieces are gamma_k z_kt for each regressor; the sum of all
/// pieces is checked against the model's own prediction so a model change cannot silently
/// break the decomposition.
pub fn decompose(
    model: &MmmModel,
    design: &Design,
    thetas: &[Vec<f64>],
) -> Result<Decomposition, DecideError> {
    if !model.is_additive() {
        return Ok(decompose_counterfactual(model, design, thetas));
    }
    let n = model.periods();
    let scale = design.scales.target;
    let names = model.param_names();
    let index = |name: &str| {
        names
            .iter()
            .position(|p| p == name)
            .ok_or_else(|| DecideError::MissingTerm {
                what: "parameter",
                name: name.to_string(),
            })
    };
    let intercept = index("intercept")?;
    // Regressors grouped into components: each control, event and level shift alone; the
    // Fourier terms together as `seasonality`, the trend terms together as `trend`.
    let mut groups: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    for (r, name) in design.regressor_names.iter().enumerate() {
        let component = if name.starts_with("fourier[") {
            "seasonality".to_string()
        } else if name.starts_with("trend[") {
            "trend".to_string()
        } else {
            name.clone()
        };
        let p = index(&format!("gamma_{name}"))?;
        match groups.iter_mut().find(|(g, _)| *g == component) {
            Some((_, members)) => members.push((r, p)),
            None => groups.push((component, vec![(r, p)])),
        }
    }
    // A mediator's component is its part not driven by the channels: the channels' effect on
    // it belongs to their total contributions (mmm_model's module `mediated`).
    let mediator_groups: Vec<(usize, usize, usize)> = model
        .mediator_names()
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let name = mmm_features::mediator_column(m);
            let j = groups.iter().position(|(g, _)| *g == name).ok_or_else(|| {
                DecideError::MissingTerm {
                    what: "mediator column",
                    name: name.clone(),
                }
            })?;
            Ok((j, k, index(&format!("gamma_{name}"))?))
        })
        .collect::<Result<_, DecideError>>()?;
    let all_channels: Vec<usize> = (0..model.channel_names().len()).collect();
    let mut comp_names = vec!["intercept".to_string()];
    comp_names.extend(groups.iter().map(|g| g.0.clone()));
    // The random-walk baseline, when the trend is a local level.
    let level = model.has_local_level().then(|| {
        comp_names.push("local_level".into());
        comp_names.len() - 1
    });
    let baseline = comp_names.len();
    comp_names.push("baseline".into());
    let first_channel = comp_names.len();
    comp_names.extend(model.channel_names().iter().cloned());
    // Each block of draws fills its own [component][week][draw-in-block] arrays on its own
    // thread; the blocks are then joined along the draw axis.
    let n_comp = comp_names.len();
    let n_channels = model.channel_names().len();
    let blocks = mmm_core::parallel::map_blocks(thetas.len(), 64, |range| {
        let width = range.len();
        let mut series = vec![vec![vec![0.0; width]; n]; n_comp];
        let mut term = vec![0.0; n];
        let mut full = vec![0.0; n];
        let mut walk = vec![0.0; n];
        for (k, theta) in thetas[range.clone()].iter().enumerate() {
            let mut sum = vec![theta[intercept]; n];
            for week in series[0].iter_mut() {
                week[k] = theta[intercept] * scale;
            }
            for (j, (_, members)) in groups.iter().enumerate() {
                for t in 0..n {
                    let v: f64 = members
                        .iter()
                        .map(|(r, p)| theta[*p] * design.regressors[*r][t])
                        .sum();
                    series[1 + j][t][k] = v * scale;
                    sum[t] += v;
                }
            }
            if !mediator_groups.is_empty() {
                let shifts = model.mediator_shift(theta, &all_channels);
                for &(j, m, p) in &mediator_groups {
                    for t in 0..n {
                        let v = theta[p] * shifts[m][t];
                        series[1 + j][t][k] += v * scale;
                        sum[t] += v;
                    }
                }
            }
            if let Some(j) = level {
                model.local_level(theta, &mut walk);
                for t in 0..n {
                    series[j][t][k] = walk[t] * scale;
                    sum[t] += walk[t];
                }
            }
            for t in 0..n {
                series[baseline][t][k] = sum[t] * scale;
            }
            // A channel's counterfactual: its spend at zero zeroes its additive term, so the
            // prediction without it differs from the full one by exactly that term.
            for c in 0..n_channels {
                model.channel_term(theta, c, &mut term);
                for t in 0..n {
                    series[first_channel + c][t][k] = term[t] * scale;
                    sum[t] += term[t];
                }
            }
            model.predict_mean(theta, &[], &mut full);
            for t in 0..n {
                if (full[t] - sum[t]).abs() > 1e-9 * (1.0 + full[t].abs()) {
                    return vec![Err(DecideError::NotAdditive {
                        period: t,
                        sum: sum[t],
                        prediction: full[t],
                    })];
                }
            }
        }
        vec![Ok(series)]
    });
    let blocks: Vec<Vec<Vec<Vec<f64>>>> = blocks.into_iter().collect::<Result<_, _>>()?;
    Ok(Decomposition {
        names: comp_names,
        series: join_blocks(&blocks, n_comp, n),
        baseline,
        first_channel,
        channels: n_channels,
    })
}

/// Join per-block `[component][week][draw-in-block]` arrays along the draw axis.
fn join_blocks(blocks: &[Vec<Vec<Vec<f64>>>], n_comp: usize, n: usize) -> Vec<Vec<Vec<f64>>> {
    (0..n_comp)
        .map(|c| {
            (0..n)
                .map(|t| {
                    blocks
                        .iter()
                        .flat_map(|b| b[c][t].iter().copied())
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// The decomposition of a non-additive model on the response scale: `baseline`, the channels'
/// counterfactual contributions, then `interaction` (see the module documentation).
fn decompose_counterfactual(
    model: &MmmModel,
    design: &Design,
    thetas: &[Vec<f64>],
) -> Decomposition {
    let n = model.periods();
    let scale = design.scales.target;
    let n_channels = model.channel_names().len();
    let mut names = vec!["baseline".to_string()];
    names.extend(model.channel_names().iter().cloned());
    names.push("interaction".into());
    let n_comp = names.len();
    let all: Vec<usize> = (0..n_channels).collect();
    let blocks = mmm_core::parallel::map_blocks(thetas.len(), 64, |range| {
        let width = range.len();
        let mut series = vec![vec![vec![0.0; width]; n]; n_comp];
        let (mut full, mut without) = (vec![0.0; n], vec![0.0; n]);
        for (k, theta) in thetas[range.clone()].iter().enumerate() {
            model.predict_mean(theta, &[], &mut full);
            model.predict_mean(theta, &all, &mut without);
            let mut rest: Vec<f64> = full.iter().zip(&without).map(|(f, b)| f - b).collect();
            for t in 0..n {
                series[0][t][k] = without[t] * scale;
            }
            for c in 0..n_channels {
                model.predict_mean(theta, &[c], &mut without);
                for t in 0..n {
                    let v = full[t] - without[t];
                    series[1 + c][t][k] = v * scale;
                    rest[t] -= v;
                }
            }
            for t in 0..n {
                series[n_comp - 1][t][k] = rest[t] * scale;
            }
        }
        vec![series]
    });
    Decomposition {
        names,
        series: join_blocks(&blocks, n_comp, n),
        baseline: 0,
        first_channel: 1,
        channels: n_channels,
    }
}

/// The check that the baseline never goes negative.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BaselineCheck {
    /// True when no week's posterior-mean baseline is negative.
    pub passed: bool,
    /// Weeks whose posterior-mean baseline is below zero.
    pub weeks_negative_mean: usize,
    /// Weeks where more than 5% of draws have a negative baseline.
    pub weeks_negative_over_5pct_of_draws: usize,
    /// Smallest posterior-mean baseline over weeks (target units).
    pub min_mean: f64,
    /// Date (days since 1970-01-01) of that week.
    pub min_mean_day: i32,
    /// How it was computed.
    pub method: &'static str,
}

/// Check the baseline component of `dec` week by week.
pub fn baseline_check(dec: &Decomposition, dates: &[i32]) -> BaselineCheck {
    let b = &dec.series[dec.baseline];
    let means: Vec<f64> = b.iter().map(|w| mmm_core::summary::mean(w)).collect();
    let (mut min_mean, mut min_day) = (f64::INFINITY, dates.first().copied().unwrap_or(0));
    for (m, d) in means.iter().zip(dates) {
        if *m < min_mean {
            min_mean = *m;
            min_day = *d;
        }
    }
    let weeks_negative_mean = means.iter().filter(|m| **m < 0.0).count();
    let weeks_negative_over_5pct_of_draws = b
        .iter()
        .filter(|w| w.iter().filter(|v| **v < 0.0).count() as f64 > 0.05 * w.len() as f64)
        .count();
    BaselineCheck {
        passed: weeks_negative_mean == 0,
        weeks_negative_mean,
        weeks_negative_over_5pct_of_draws,
        min_mean,
        min_mean_day: min_day,
        method: "baseline = intercept + controls + seasonality per draw and week (every channel's spend at zero); failed when a week's posterior mean is below zero",
    }
}

/// A decomposition summarized per period and component (the rows of decomposition.parquet):
/// posterior mean, the `interval` HDI and the share of draws below zero.
#[derive(Debug, Default)]
pub(crate) struct DecompositionRows {
    date: Vec<i32>,
    component: Vec<String>,
    mean: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    share_negative: Vec<f64>,
}

impl DecompositionRows {
    /// Number of rows.
    pub(crate) fn len(&self) -> usize {
        self.date.len()
    }

    /// Append `other`'s rows.
    fn extend(&mut self, other: DecompositionRows) {
        self.date.extend(other.date);
        self.component.extend(other.component);
        self.mean.extend(other.mean);
        self.lower.extend(other.lower);
        self.upper.extend(other.upper);
        self.share_negative.extend(other.share_negative);
    }

    /// The rows as columns after whatever `leading` already holds (e.g. a `geo` column).
    pub(crate) fn into_batch(
        self,
        leading: mmm_core::BatchBuilder,
    ) -> Result<arrow::array::RecordBatch, arrow::error::ArrowError> {
        leading
            .date("date", self.date)
            .string("component", self.component)
            .f64("mean", self.mean)
            .f64("lower", self.lower)
            .f64("upper", self.upper)
            .f64("share_negative", self.share_negative)
            .build()
    }
}

/// Summarize `dec` per period (`dates`) and component, periods outermost.
pub(crate) fn decomposition_rows(
    dec: &Decomposition,
    dates: &[i32],
    interval: f64,
) -> DecompositionRows {
    let nc = dec.names.len();
    let n = dates.len();
    let summaries: Vec<[f64; 4]> = mmm_core::parallel::map_indexed(n * nc, 16, |i| {
        let values = &dec.series[i % nc][i / nc];
        let (lo, hi) = mmm_core::summary::hdi(values, interval);
        let negative =
            values.iter().filter(|v| **v < 0.0).count() as f64 / values.len().max(1) as f64;
        [mmm_core::summary::mean(values), lo, hi, negative]
    });
    let column = |j: usize| summaries.iter().map(|r| r[j]).collect::<Vec<f64>>();
    DecompositionRows {
        date: (0..n * nc).map(|i| dates[i / nc]).collect(),
        component: (0..n * nc).map(|i| dec.names[i % nc].clone()).collect(),
        mean: column(0),
        lower: column(1),
        upper: column(2),
        share_negative: column(3),
    }
}

/// Every geo's decomposition rows, geo by geo (geo_decomposition.parquet).
#[derive(Debug, Default)]
pub(crate) struct GeoDecomposition {
    pub(crate) geo: Vec<String>,
    pub(crate) rows: DecompositionRows,
}

impl GeoDecomposition {
    /// Append one geo's rows.
    pub(crate) fn push(&mut self, geo: &str, rows: DecompositionRows) {
        self.geo
            .extend(std::iter::repeat_n(geo.to_string(), rows.len()));
        self.rows.extend(rows);
    }
}
