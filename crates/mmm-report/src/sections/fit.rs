//! Fit vs actual: the posterior predictive band over the observed series, the residuals over
//! time and their autocorrelation (diagnose/ppc.parquet).

use mmm_core::columns::{bool_column, date_column, f64_column};

use super::{Ctx, Figure};
use crate::charts::{self, Band};
use crate::stage::ReportError;

/// diagnose/ppc.parquet's columns.
pub(crate) struct Ppc {
    pub(crate) days: Vec<i32>,
    pub(crate) is_train: Vec<bool>,
    pub(crate) observed: Vec<f64>,
    pub(crate) mean: Vec<f64>,
    pub(crate) lower: Vec<f64>,
    pub(crate) upper: Vec<f64>,
}

impl Ppc {
    pub(crate) fn read(ctx: &Ctx) -> Result<Self, ReportError> {
        let (b, path) = (&ctx.inputs.ppc, ctx.inputs.path("diagnose", "ppc.parquet"));
        Ok(Self {
            days: date_column(b, "date", &path)?,
            is_train: bool_column(b, "is_train", &path)?,
            observed: f64_column(b, "observed", &path)?,
            mean: f64_column(b, "pred_mean", &path)?,
            lower: f64_column(b, "pred_lower", &path)?,
            upper: f64_column(b, "pred_upper", &path)?,
        })
    }

    /// The first holdout period, if any.
    pub(crate) fn holdout_start(&self) -> Option<i32> {
        self.is_train.iter().position(|t| !*t).map(|i| self.days[i])
    }

    /// Days of the training window.
    pub(crate) fn train_days(&self) -> Vec<i32> {
        self.days
            .iter()
            .zip(&self.is_train)
            .filter(|(_, t)| **t)
            .map(|(d, _)| *d)
            .collect()
    }
}

/// Autocorrelation of `x` at lags 1..=`max_lag` (the biased estimator, as ArviZ and
/// statsmodels compute it).
pub(crate) fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let n = x.len();
    let mean = x.iter().sum::<f64>() / n.max(1) as f64;
    let d: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let c0: f64 = d.iter().map(|v| v * v).sum();
    (1..=max_lag.min(n.saturating_sub(1)))
        .map(|k| {
            let ck: f64 = d[k..].iter().zip(&d).map(|(a, b)| a * b).sum();
            if c0 > 0.0 { ck / c0 } else { 0.0 }
        })
        .collect()
}

/// Fit, residuals and residual autocorrelation.
pub(crate) fn figures(ctx: &Ctx, ppc: &Ppc) -> Result<Vec<Figure>, ReportError> {
    let (t, p) = (&ctx.target, ctx.pct());
    let fit = charts::fit_chart(
        &format!("Fit vs actual: {t} per period, posterior predictive mean and {p}% interval"),
        &ppc.days,
        &ppc.observed,
        &Band {
            name: "posterior predictive",
            mean: &ppc.mean,
            lower: &ppc.lower,
            upper: &ppc.upper,
        },
        ppc.holdout_start(),
        t,
    )?;
    let residuals: Vec<f64> = ppc
        .observed
        .iter()
        .zip(&ppc.mean)
        .map(|(o, m)| o - m)
        .collect();
    let lower: Vec<f64> = ppc
        .lower
        .iter()
        .zip(&ppc.mean)
        .map(|(l, m)| l - m)
        .collect();
    let upper: Vec<f64> = ppc
        .upper
        .iter()
        .zip(&ppc.mean)
        .map(|(u, m)| u - m)
        .collect();
    let band_name = format!("{p}% predictive interval");
    let residual = charts::residual_chart(
        &format!("Residuals over time: observed − predicted {t}"),
        &ppc.days,
        &residuals,
        (&band_name, &lower, &upper),
        &format!("residual ({t})"),
    )?;
    let train: Vec<f64> = residuals
        .iter()
        .zip(&ppc.is_train)
        .filter(|(_, t)| **t)
        .map(|(r, _)| *r)
        .collect();
    let mut out = vec![
        Figure::new(
            "fit",
            fit,
            format!(
                "Dots are the observed {t}; the line and band are what the model predicts for each period, noise included. About {p}% of the dots should fall inside the band; long runs outside it mean the model misses something."
            ),
        ),
        Figure::new(
            "residuals",
            residual,
            format!(
                "What the model leaves unexplained. Residuals should scatter around zero with no trend, season or level shift; vermillion dots fall outside the {p}% predictive interval."
            ),
        ),
    ];
    let acf = autocorrelation(&train, (train.len() / 4).clamp(1, 26));
    if !acf.is_empty() {
        let svg = charts::acf_chart(
            "Autocorrelation of the training residuals, by lag",
            &acf,
            train.len(),
        )?;
        out.push(Figure::new("residual-acf", svg, "Bars outside the shaded band mean a period's residual predicts the next ones: the model misses a slow pattern, and its intervals are then too narrow. A few bars just outside are expected by chance."));
    }
    Ok(out)
}
