//! Feature engineering: transforms with derivatives and the design matrix (the features stage).
//!
//! Every data-derived choice (the max-abs scaling factors) is computed on the training window
//! only, so the holdout cannot leak into the fit.

pub mod baseline;
pub mod geo;
pub mod panel;
pub mod transforms;
mod window;

use std::collections::BTreeMap;
use std::path::Path;

use chrono::Datelike;
use mmm_core::columns::{bool_column, date_column, f64_column, string_column};
use mmm_core::spec::LoadedSpec;
use mmm_core::{
    BatchBuilder, CoreError, Manifest, RunStatus, Spec, StageWriter, Upstream, schemas,
};
use serde::{Deserialize, Serialize};

/// Name of the stage.
pub const STAGE: &str = mmm_core::Stage::Features.name();

/// scales.json: the factors that take model-scale numbers back to original units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Scales {
    /// Max-abs of the target over the training window.
    pub target: f64,
    /// Max-abs of each channel's spend over the training window.
    pub channels: BTreeMap<String, f64>,
    /// Divisor of each control (1 when the spec leaves it unscaled) and of each mediator (its
    /// training-window max-abs).
    pub controls: BTreeMap<String, f64>,
    /// Periods in the training window (the first ones).
    pub train_rows: usize,
    /// Periods in the holdout (the last ones).
    pub holdout_rows: usize,
    /// How the factors were computed.
    pub method: String,
}

/// Errors of the features stage.
#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// An output table could not be assembled.
    #[error("building {table}: {source}")]
    Table {
        /// The artifact.
        table: &'static str,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// The data cannot be scaled as the spec asks.
    #[error("{column}: {message}")]
    Invalid {
        /// Column concerned.
        column: String,
        /// What is wrong.
        message: String,
    },
}

/// Spend of the periods just before the modeling window (`data.start`), which carries into its
/// first periods through adstock.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CarryIn {
    /// Period starts (days since 1970-01-01), oldest first; the last is the period right before
    /// the design's first.
    pub dates: Vec<i32>,
    /// Scaled spend per channel (spec order; the design's channel scale), one value per date.
    /// Empty without `data.start`: adstock then starts from zero spend.
    pub channels: Vec<Vec<f64>>,
}

impl CarryIn {
    /// Channel c's carry-in spend (scaled, oldest first); empty when there is none.
    pub fn channel(&self, c: usize) -> &[f64] {
        self.channels.get(c).map_or(&[], Vec::as_slice)
    }
}

/// The model inputs, as the fit, diagnose and decide stages read them.
#[derive(Debug, Clone)]
pub struct Design {
    /// Period start, days since 1970-01-01.
    pub dates: Vec<i32>,
    /// Number of training periods (the first `n_train`).
    pub n_train: usize,
    /// Target divided by `scales.target`.
    pub target_scaled: Vec<f64>,
    /// Channel names in spec order.
    pub channel_names: Vec<String>,
    /// Scaled spend per channel.
    pub channels: Vec<Vec<f64>>,
    /// Control and Fourier regressor names (`control[..]`, `fourier[..]`), in column order.
    pub regressor_names: Vec<String>,
    /// Control and Fourier regressors, one vector per regressor.
    pub regressors: Vec<Vec<f64>>,
    /// Scaling factors.
    pub scales: Scales,
    /// Pre-window spend (features/carry_in.parquet, with `data.start`); empty otherwise.
    pub carry_in: CarryIn,
}

impl Design {
    /// Number of periods.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// True when there are no periods.
    pub fn is_empty(&self) -> bool {
        self.dates.is_empty()
    }

    /// Read design.parquet and scales.json from a verified features stage.
    pub fn load(
        features: &Upstream,
        spec: &Spec,
    ) -> Result<(Self, Vec<mmm_core::FileRecord>), CoreError> {
        let (batch, rec_d) = features.parquet("design.parquet")?;
        let (scales, rec_s): (Scales, _) = features.json("scales.json")?;
        let path = features.dir().join("design.parquet");
        let mut records = vec![rec_d, rec_s];
        let carry_in = if spec.data.start.is_some() {
            let (batch, rec) = features.parquet(CARRY_IN_FILE)?;
            records.push(rec);
            Some(batch)
        } else {
            None
        };
        let carry_path = features.dir().join(CARRY_IN_FILE);
        let design = Self::from_batches(
            &batch,
            &path,
            spec,
            scales,
            carry_in.as_ref().map(|b| (b, carry_path.as_path())),
        )?;
        Ok((design, records))
    }

    /// A design from its design.parquet rows (one per period, in date order), its scales and
    /// its carry-in rows.
    pub(crate) fn from_batches(
        batch: &arrow::array::RecordBatch,
        path: &Path,
        spec: &Spec,
        scales: Scales,
        carry_in_batch: Option<(&arrow::array::RecordBatch, &Path)>,
    ) -> Result<Self, CoreError> {
        let dates = date_column(batch, "date", path)?;
        let is_train = bool_column(batch, "is_train", path)?;
        let n_train = is_train.iter().take_while(|b| **b).count();
        let target_scaled = f64_column(batch, "target_scaled", path)?;
        let channel_names: Vec<String> = spec.channels.iter().map(|c| c.name.clone()).collect();
        let channels = channel_names
            .iter()
            .map(|n| f64_column(batch, &format!("channel[{n}]"), path))
            .collect::<Result<Vec<_>, _>>()?;
        let regressor_names = regressor_names(spec);
        let regressors = regressor_names
            .iter()
            .map(|n| f64_column(batch, n, path))
            .collect::<Result<Vec<_>, _>>()?;
        let mut carry_in = CarryIn::default();
        if let Some((batch, path)) = carry_in_batch {
            carry_in.dates = date_column(batch, "date", path)?;
            carry_in.channels = channel_names
                .iter()
                .map(|n| f64_column(batch, &format!("channel[{n}]"), path))
                .collect::<Result<Vec<_>, _>>()?;
        }
        Ok(Self {
            dates,
            n_train,
            target_scaled,
            channel_names,
            channels,
            regressor_names,
            regressors,
            scales,
            carry_in,
        })
    }

    /// Target in original units.
    pub fn target(&self) -> Vec<f64> {
        self.target_scaled
            .iter()
            .map(|v| v * self.scales.target)
            .collect()
    }

    /// Spend of channel `c` in original units.
    pub fn spend(&self, c: usize) -> Vec<f64> {
        let s = self
            .scales
            .channels
            .get(&self.channel_names[c])
            .copied()
            .unwrap_or(1.0);
        self.channels[c].iter().map(|v| v * s).collect()
    }
}

/// Design column of a mediator (its series / its training-window max-abs).
pub fn mediator_column(name: &str) -> String {
    format!("mediator[{name}]")
}

/// The carry-in file of the features stage (with `data.start`).
pub const CARRY_IN_FILE: &str = "carry_in.parquet";

/// Column names of the control, mediator, Fourier and baseline (trend, event, level-shift)
/// regressors the spec implies, in design order.
pub fn regressor_names(spec: &Spec) -> Vec<String> {
    spec.controls
        .iter()
        .map(|c| format!("control[{}]", c.name))
        .chain(spec.mediators.iter().map(|m| mediator_column(&m.name)))
        .chain(
            transforms::fourier_names(spec.seasonality.fourier_order)
                .into_iter()
                .map(|n| format!("fourier[{n}]")),
        )
        .chain(baseline::names(spec))
        .collect()
}

/// features/carry_in.parquet from the validated history (national totals): its last
/// `carry_in_periods` periods, which must end right before the window's first period, each
/// channel divided by its window scale.
pub(crate) fn carry_in_batch(
    spec: &Spec,
    history: &arrow::array::RecordBatch,
    path: &Path,
    window: &[i32],
    scales: &BTreeMap<String, f64>,
) -> Result<arrow::array::RecordBatch, FeatureError> {
    let invalid = |message: String| FeatureError::Invalid {
        column: "validate/history.parquet".into(),
        message,
    };
    let dates = date_column(history, "date", path)?;
    let keep = dates.len() - dates.len().min(spec.carry_in_periods());
    let step = spec.data.period_days as i32;
    let first = window.first().copied().unwrap_or(0);
    for (k, d) in dates[keep..].iter().rev().enumerate() {
        if *d != first - (k as i32 + 1) * step {
            return Err(invalid(format!(
                "history period {} is not {} period(s) before the window's first period {}; \
                 the history must end right before data.start without gaps (rerun validate)",
                iso(*d),
                k + 1,
                iso(first)
            )));
        }
    }
    let mut b = BatchBuilder::new().date("date", dates[keep..].to_vec());
    for ch in &spec.channels {
        let spend = f64_column(history, ch.spend_column(), path)?;
        let s = scales.get(&ch.name).copied().unwrap_or(1.0);
        b = b.f64(
            &format!("channel[{}]", ch.name),
            spend[keep..].iter().map(|v| v / s).collect(),
        );
    }
    b.build().map_err(|source| FeatureError::Table {
        table: "carry_in.parquet",
        source,
    })
}

/// ISO date of days since 1970-01-01.
pub(crate) fn iso(day: i32) -> String {
    (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()
        + chrono::Duration::days(day as i64))
    .format("%Y-%m-%d")
    .to_string()
}

/// Scaling factors of one table: max-abs over the training window of the target and each
/// channel divided by `size`, and of each control the spec scales.
pub(crate) struct ScaleSet {
    pub target: f64,
    pub channels: BTreeMap<String, f64>,
    pub controls: BTreeMap<String, f64>,
}

/// The training-window scales of `table` (values divided by `size` first for the target and
/// spend; controls unscaled by size).
pub(crate) fn training_scales(
    spec: &Spec,
    table: &arrow::array::RecordBatch,
    table_path: &Path,
    n_train: usize,
    size: f64,
) -> Result<ScaleSet, FeatureError> {
    let train = |v: &[f64]| max_abs(&v[..n_train]) / size;
    let target = f64_column(table, &spec.data.target, table_path)?;
    let target_scale = train(&target);
    if target_scale.is_nan() || target_scale <= 0.0 {
        return Err(FeatureError::Invalid {
            column: spec.data.target.clone(),
            message: "target is zero throughout the training window; cannot scale".into(),
        });
    }
    let mut channels = BTreeMap::new();
    for ch in &spec.channels {
        let spend = f64_column(table, ch.spend_column(), table_path)?;
        let s = train(&spend);
        if s.is_nan() || s <= 0.0 {
            return Err(FeatureError::Invalid {
                column: ch.spend_column().to_string(),
                message: "no spend in the training window; the channel cannot be fitted".into(),
            });
        }
        channels.insert(ch.name.clone(), s);
    }
    let mut controls = BTreeMap::new();
    for c in &spec.controls {
        let values = f64_column(table, &c.name, table_path)?;
        let s = if c.scale {
            max_abs(&values[..n_train])
        } else {
            1.0
        };
        controls.insert(c.name.clone(), if s > 0.0 { s } else { 1.0 });
    }
    for m in &spec.mediators {
        let values = f64_column(table, &m.name, table_path)?;
        let s = max_abs(&values[..n_train]);
        if !(s.is_finite() && s > 0.0) {
            return Err(FeatureError::Invalid {
                column: m.name.clone(),
                message: "mediator is zero throughout the training window; cannot scale".into(),
            });
        }
        controls.insert(m.name.clone(), s);
    }
    Ok(ScaleSet {
        target: target_scale,
        channels,
        controls,
    })
}

/// The design columns of one table (one row per period, in date order) with the given
/// scales: date, is_train, target_scaled, channels, controls, Fourier and baseline terms.
pub(crate) fn design_columns(
    spec: &Spec,
    table: &arrow::array::RecordBatch,
    table_path: &Path,
    n_train: usize,
    scales: &ScaleSet,
    calendar: &[(String, i32)],
) -> Result<BatchBuilder, FeatureError> {
    let dates = date_column(table, "date", table_path)?;
    let n = dates.len();
    let target = f64_column(table, &spec.data.target, table_path)?;
    let mut batch = BatchBuilder::new()
        .date("date", dates.clone())
        .bool("is_train", (0..n).map(|i| i < n_train).collect())
        .f64(
            "target_scaled",
            target.iter().map(|v| v / scales.target).collect(),
        );
    for ch in &spec.channels {
        let spend = f64_column(table, ch.spend_column(), table_path)?;
        let s = scales.channels[&ch.name];
        batch = batch.f64(
            &format!("channel[{}]", ch.name),
            spend.iter().map(|v| v / s).collect(),
        );
    }
    for c in &spec.controls {
        let values = f64_column(table, &c.name, table_path)?;
        let s = scales.controls[&c.name];
        batch = batch.f64(
            &format!("control[{}]", c.name),
            values.iter().map(|v| v / s).collect(),
        );
    }
    for m in &spec.mediators {
        let values = f64_column(table, &m.name, table_path)?;
        let s = scales.controls[&m.name];
        batch = batch.f64(
            &mediator_column(&m.name),
            values.iter().map(|v| v / s).collect(),
        );
    }
    let order = spec.seasonality.fourier_order;
    if order > 0 {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        let terms: Vec<Vec<f64>> = dates
            .iter()
            .map(|d| {
                let date = epoch + chrono::Duration::days(*d as i64);
                transforms::fourier_terms(
                    date.ordinal() as f64,
                    spec.seasonality.period_days,
                    order,
                )
            })
            .collect();
        for (k, name) in transforms::fourier_names(order).iter().enumerate() {
            batch = batch.f64(
                &format!("fourier[{name}]"),
                terms.iter().map(|t| t[k]).collect(),
            );
        }
    }
    let baseline_columns = baseline::columns(spec, &dates, n_train, calendar)?;
    for (name, column) in baseline::names(spec).iter().zip(baseline_columns) {
        batch = batch.f64(name, column);
    }
    Ok(batch)
}

pub(crate) fn max_abs(values: &[f64]) -> f64 {
    values.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// The features stage: read the validated table, scale on the training window, add Fourier
/// terms, write design.parquet and scales.json.
pub fn run(
    spec: &LoadedSpec,
    validate_dir: &Path,
    out_dir: &Path,
    force: bool,
) -> Result<Option<Manifest>, FeatureError> {
    let [upstream] = mmm_core::open_chain(spec.into(), [(validate_dir, "validate")])?;
    let (table_bytes, table_rec) = upstream.read_verified("table.parquet")?;
    let mut records = vec![table_rec];
    // The validated calendar, when validate had one; the history, when the spec has a start.
    let calendar = match upstream.manifest().output("calendar.parquet") {
        Some(_) => {
            let (bytes, rec) = upstream.read_verified("calendar.parquet")?;
            records.push(rec);
            Some(bytes)
        }
        None => None,
    };
    let history = match spec.spec.data.start {
        Some(_) => {
            let (bytes, rec) = upstream.read_verified("history.parquet")?;
            records.push(rec);
            Some(bytes)
        }
        None => None,
    };
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        mmm_core::StageInputs::new(spec, &[&upstream], records),
        force,
    )?
    else {
        return Ok(None);
    };
    let spec = &spec.spec;
    let calendar = match calendar {
        Some(bytes) => {
            let path = validate_dir.join("calendar.parquet");
            let batch = mmm_core::read_parquet_bytes(bytes, &path)?;
            let events = string_column(&batch, "event", &path)?;
            let days = date_column(&batch, "date", &path)?;
            events.into_iter().zip(days).collect()
        }
        None => Vec::new(),
    };
    let table_path = validate_dir.join("table.parquet");
    let panel = mmm_core::read_parquet_bytes(table_bytes, &table_path)?;
    let table = geo::national_totals(&panel, spec, &table_path)?;
    let dates = date_column(&table, "date", &table_path)?;
    let n = dates.len();
    let holdout = spec.holdout.weeks.min(n);
    let n_train = n - holdout;
    let scale_set = training_scales(spec, &table, &table_path, n_train, 1.0)?;
    let (target_scale, channel_scales, control_scales) = (
        scale_set.target,
        scale_set.channels.clone(),
        scale_set.controls.clone(),
    );
    let order = spec.seasonality.fourier_order;
    let batch = design_columns(spec, &table, &table_path, n_train, &scale_set, &calendar)?
        .build()
        .map_err(|source| FeatureError::Table {
            table: "design.parquet",
            source,
        })?;
    // Everything is computed before the first file is written, so a rejected panel leaves
    // nothing behind.
    let history = match history {
        Some(bytes) => {
            let path = validate_dir.join("history.parquet");
            Some((mmm_core::read_parquet_bytes(bytes, &path)?, path))
        }
        None => None,
    };
    let carry_in = match &history {
        Some((table, path)) => {
            let table = geo::national_totals(table, spec, path)?;
            Some(carry_in_batch(spec, &table, path, &dates, &channel_scales)?)
        }
        None => None,
    };
    let geo_panel = if spec.geo.is_hierarchical() {
        Some(panel::build(
            spec,
            &panel,
            &table_path,
            history.as_ref().map(|(b, p)| (b, p.as_path())),
            n_train,
            &calendar,
        )?)
    } else {
        None
    };
    writer.write_parquet("design.parquet", &batch, &schemas::design())?;
    if let Some(batch) = &carry_in {
        writer.write_parquet(CARRY_IN_FILE, batch, &schemas::carry_in())?;
    }
    let settings_geo = match geo_panel {
        Some(p) => Some(p.write(&mut writer)?),
        None => None,
    };
    let carry_in = carry_in.map(|b| b.num_rows());
    let scales = Scales {
        target: target_scale,
        channels: channel_scales,
        controls: control_scales,
        train_rows: n_train,
        holdout_rows: holdout,
        method: "max-abs over the training window (first train_rows periods)".into(),
    };
    writer.write_json("scales.json", &scales, None)?;
    let mut settings = serde_json::json!({
        "scaling": "max_abs_train_window",
        "fourier_order": order,
        "fourier_period_days": spec.seasonality.period_days,
        "holdout_periods": holdout,
    });
    if let Some(geo) = settings_geo {
        settings["geo"] = geo;
    }
    if let Some(rows) = carry_in {
        settings["carry_in_periods"] = rows.into();
        settings["carry_in_needed"] = spec.carry_in_periods().into();
    }
    Ok(Some(writer.finish(None, settings, RunStatus::Complete)?))
}
