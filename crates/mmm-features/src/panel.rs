//! Geo panels under the geo hierarchy (`geo.model = "hierarchical"`): one design per geo.
//!
//! Each geo's target and spend are divided by the geo's size and then by a factor pooled over
//! geos (the largest size-adjusted training value), so one coefficient means the same in a
//! large and a small geo and the hierarchy can pool it. The factors come from the training
//! window only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringArray, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use mmm_core::columns::{date_column, f64_column, string_column};
use mmm_core::spec::GeoSize;
use mmm_core::{CoreError, FileRecord, Spec, StageWriter, Upstream, schemas};
use serde::{Deserialize, Serialize};

use crate::{Design, FeatureError, ScaleSet, Scales, max_abs};

/// The panel design of a geo hierarchy.
pub const GEO_DESIGN_FILE: &str = "geo_design.parquet";
/// The pooled factors and geo sizes.
pub const GEO_SCALES_FILE: &str = "geo_scales.json";
/// The panel's pre-window spend (with `data.start`).
pub const GEO_CARRY_IN_FILE: &str = "geo_carry_in.parquet";

/// geo_scales.json: each geo's size and the pooled factors that take a geo's scaled values
/// back to original units (value x size x factor).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GeoScales {
    /// How sizes were measured (`mean_target`, `population` or `none`).
    pub size: String,
    /// Each geo's size, divided by the mean size over geos (so the mean is 1).
    pub sizes: BTreeMap<String, f64>,
    /// Max over geos of the training max-abs of target / size.
    pub target: f64,
    /// Max over geos of each channel's training max-abs of spend / size.
    pub channels: BTreeMap<String, f64>,
    /// Divisor of each control over the whole panel (1 when the spec leaves it unscaled).
    pub controls: BTreeMap<String, f64>,
    /// How the factors were computed.
    pub method: String,
}

/// Every geo's design, in sorted geo order.
#[derive(Debug, Clone)]
pub struct GeoDesign {
    /// Geo names, sorted.
    pub geos: Vec<String>,
    /// One design per geo; its `scales` fold the geo's size in (`target` = size x pooled
    /// factor), so every national computation on it is in the geo's original units.
    pub designs: Vec<Design>,
    /// The pooled factors and sizes.
    pub scales: GeoScales,
}

impl GeoDesign {
    /// Read geo_design.parquet, geo_scales.json and (with `data.start`) geo_carry_in.parquet
    /// from a verified features stage.
    pub fn load(features: &Upstream, spec: &Spec) -> Result<(Self, Vec<FileRecord>), CoreError> {
        let (batch, rec_d) = features.parquet(GEO_DESIGN_FILE)?;
        let (scales, rec_s): (GeoScales, _) = features.json(GEO_SCALES_FILE)?;
        let path = features.dir().join(GEO_DESIGN_FILE);
        let mut records = vec![rec_d, rec_s];
        let carry = if spec.data.start.is_some() {
            let (batch, rec) = features.parquet(GEO_CARRY_IN_FILE)?;
            records.push(rec);
            Some(batch)
        } else {
            None
        };
        let carry_path = features.dir().join(GEO_CARRY_IN_FILE);
        let blocks = blocks_by_geo(&batch, &path)?;
        let carry_blocks = match &carry {
            Some(b) => Some(blocks_by_geo(b, &carry_path)?),
            None => None,
        };
        let mut geos = Vec::new();
        let mut designs = Vec::new();
        for (geo, block) in blocks {
            let size = *scales.sizes.get(&geo).ok_or_else(|| CoreError::Schema {
                path: features.dir().join(GEO_SCALES_FILE),
                schema: GEO_SCALES_FILE.into(),
                message: format!("no size for geo '{geo}'"),
            })?;
            let carry_block = carry_blocks
                .as_ref()
                .and_then(|b| b.iter().find(|(g, _)| *g == geo).map(|(_, b)| b));
            let design = Design::from_batches(
                &block,
                &path,
                spec,
                geo_scales(&scales, size, scales_rows(&block)),
                carry_block.map(|b| (b, carry_path.as_path())),
            )?;
            geos.push(geo);
            designs.push(design);
        }
        Ok((
            Self {
                geos,
                designs,
                scales,
            },
            records,
        ))
    }

    /// Number of geos.
    pub fn len(&self) -> usize {
        self.geos.len()
    }

    /// True when there is no geo.
    pub fn is_empty(&self) -> bool {
        self.geos.is_empty()
    }
}

fn scales_rows(block: &RecordBatch) -> (usize, usize) {
    let path = Path::new(GEO_DESIGN_FILE);
    let train = mmm_core::columns::bool_column(block, "is_train", path)
        .map(|v| v.iter().take_while(|b| **b).count())
        .unwrap_or(0);
    (train, block.num_rows() - train)
}

/// A geo's national-style scales: the pooled factors times its size.
fn geo_scales(g: &GeoScales, size: f64, (train_rows, holdout_rows): (usize, usize)) -> Scales {
    Scales {
        target: g.target * size,
        channels: g
            .channels
            .iter()
            .map(|(k, v)| (k.clone(), v * size))
            .collect(),
        controls: g.controls.clone(),
        train_rows,
        holdout_rows,
        method: format!("{} x geo size {size}", g.method),
    }
}

/// Rows of `table` split by its `geo` column, each geo's rows in date order, geos sorted.
fn split_geos(table: &RecordBatch, path: &Path) -> Result<Vec<(String, RecordBatch)>, CoreError> {
    let geos = string_column(table, "geo", path)?;
    let dates = date_column(table, "date", path)?;
    let mut rows: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    for (i, g) in geos.iter().enumerate() {
        rows.entry(g.as_str()).or_default().push(i as u32);
    }
    let schema = table.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != "geo")
        .collect();
    let projected = table.project(&keep).map_err(|e| arrow_error(path, e))?;
    rows.into_iter()
        .map(|(geo, mut idx)| {
            idx.sort_by_key(|&i| dates[i as usize]);
            let take = UInt32Array::from(idx);
            let block = arrow::compute::take_record_batch(&projected, &take)
                .map_err(|e| arrow_error(path, e))?;
            Ok((geo.to_string(), block))
        })
        .collect()
}

/// Contiguous blocks of a panel artifact by its `geo` column (geo column dropped).
fn blocks_by_geo(
    batch: &RecordBatch,
    path: &Path,
) -> Result<Vec<(String, RecordBatch)>, CoreError> {
    let geos = string_column(batch, "geo", path)?;
    let schema = batch.schema();
    let keep: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| schema.field(i).name() != "geo")
        .collect();
    let projected = batch.project(&keep).map_err(|e| arrow_error(path, e))?;
    let mut out: Vec<(String, RecordBatch)> = Vec::new();
    let mut start = 0;
    for i in 1..=geos.len() {
        if i == geos.len() || geos[i] != geos[start] {
            if out.iter().any(|(g, _)| *g == geos[start]) {
                return Err(CoreError::Schema {
                    path: path.to_path_buf(),
                    schema: path.display().to_string(),
                    message: format!("geo '{}' is not one contiguous block of rows", geos[start]),
                });
            }
            out.push((geos[start].clone(), projected.slice(start, i - start)));
            start = i;
        }
    }
    Ok(out)
}

fn arrow_error(path: &Path, source: arrow::error::ArrowError) -> CoreError {
    CoreError::Arrow {
        path: path.to_path_buf(),
        source,
    }
}

/// `batch` with a first column `geo` holding `geo` on every row.
fn with_geo(batch: &RecordBatch, geo: &str) -> Result<RecordBatch, arrow::error::ArrowError> {
    let mut fields = vec![Arc::new(Field::new("geo", DataType::Utf8, false))];
    fields.extend(batch.schema().fields().iter().cloned());
    let mut columns: Vec<ArrayRef> = vec![Arc::new(StringArray::from(vec![geo; batch.num_rows()]))];
    columns.extend(batch.columns().iter().cloned());
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
}

/// The panel outputs of the features stage, built before anything is written.
pub(crate) struct PanelOutputs {
    design: RecordBatch,
    carry_in: Option<RecordBatch>,
    scales: GeoScales,
    settings: serde_json::Value,
}

impl PanelOutputs {
    /// Write geo_design.parquet, geo_carry_in.parquet (with a history) and geo_scales.json;
    /// returns the manifest settings of the panel.
    pub(crate) fn write(self, writer: &mut StageWriter) -> Result<serde_json::Value, FeatureError> {
        writer.write_parquet(GEO_DESIGN_FILE, &self.design, &schemas::geo_design())?;
        if let Some(batch) = &self.carry_in {
            writer.write_parquet(GEO_CARRY_IN_FILE, batch, &schemas::geo_carry_in())?;
        }
        writer.write_json(GEO_SCALES_FILE, &self.scales, None)?;
        Ok(self.settings)
    }
}

/// Every geo's design (and carry-in) of the validated panel, with the pooled scales; the
/// panel's problems (too few geos, geos covering different periods, a non-positive size)
/// are errors naming the geo.
pub(crate) fn build(
    spec: &Spec,
    panel: &RecordBatch,
    path: &Path,
    history: Option<(&RecordBatch, &Path)>,
    n_train: usize,
    calendar: &[(String, i32)],
) -> Result<PanelOutputs, FeatureError> {
    let geos = GeoBlocks::split(panel, path)?;
    let sizes = geo_sizes(spec, &geos, n_train)?;
    let pooled = pooled_factors(spec, &geos, &sizes, n_train)?;
    let (design, carry_in) = geo_designs(spec, &geos, &sizes, &pooled, history, n_train, calendar)?;
    let size_name = match spec.geo.size {
        GeoSize::MeanTarget => "mean_target",
        GeoSize::Population => "population",
        GeoSize::None => "none",
    };
    let settings = serde_json::json!({
        "geos": geos.blocks.len(),
        "size": size_name,
        "pooled_scaling": "max over geos of the size-adjusted training max-abs",
    });
    let scales = GeoScales {
        size: size_name.into(),
        sizes: geos.blocks.into_iter().map(|(g, _)| g).zip(sizes).collect(),
        target: pooled.target,
        channels: pooled.channels,
        controls: pooled.controls,
        method: "target and spend / geo size, then / the max over geos of the training-window \
                 max-abs of that (first train_rows periods); controls / their panel max-abs"
            .into(),
    };
    Ok(PanelOutputs {
        design,
        carry_in,
        scales,
        settings,
    })
}

/// A [`FeatureError::Invalid`] about `column`.
fn invalid(column: &str, message: String) -> FeatureError {
    FeatureError::Invalid {
        column: column.to_string(),
        message,
    }
}

/// The validated panel split by geo: at least two geos, all covering the same periods.
struct GeoBlocks<'a> {
    /// Each geo's rows (geo column dropped) in date order, geos sorted.
    blocks: Vec<(String, RecordBatch)>,
    /// The periods every geo covers.
    dates: Vec<i32>,
    /// table.parquet, for errors.
    path: &'a Path,
}

impl<'a> GeoBlocks<'a> {
    /// Split `panel` by its geo column; a table without one, a single geo or geos covering
    /// different periods are errors.
    fn split(panel: &RecordBatch, path: &'a Path) -> Result<Self, FeatureError> {
        if panel.schema().field_with_name("geo").is_err() {
            return Err(invalid(
                "geo",
                format!(
                    "{}: geo.model = \"hierarchical\" needs a geo panel (data.geo_column, or a \
                     long layout with geos)",
                    path.display()
                ),
            ));
        }
        let blocks = split_geos(panel, path)?;
        if blocks.len() < 2 {
            return Err(invalid(
                "geo",
                format!(
                    "{}: geo.model = \"hierarchical\" needs at least two geos, found {}",
                    path.display(),
                    blocks.len()
                ),
            ));
        }
        let dates = same_periods(&blocks, path)?;
        Ok(Self {
            blocks,
            dates,
            path,
        })
    }
}

/// The periods of the first geo, when every geo covers the same ones: the hierarchy shares
/// dates, seasonality and trend.
fn same_periods(geos: &[(String, RecordBatch)], path: &Path) -> Result<Vec<i32>, FeatureError> {
    let dates = date_column(&geos[0].1, "date", path)?;
    for (geo, block) in &geos[1..] {
        let d = date_column(block, "date", path)?;
        if d != dates {
            let first: BTreeSet<i32> = dates.iter().copied().collect();
            let other: BTreeSet<i32> = d.iter().copied().collect();
            let missing = first
                .symmetric_difference(&other)
                .next()
                .map(|day| crate::iso(*day))
                .unwrap_or_default();
            return Err(invalid(
                "date",
                format!(
                    "{}: geo '{geo}' does not cover the same periods as geo '{}' (first \
                     difference: {missing}); every geo needs a row for every period",
                    path.display(),
                    geos[0].0
                ),
            ));
        }
    }
    Ok(dates)
}

/// Each geo's size (`geo.size`: its mean training target, its population, or 1) divided by
/// the mean size over geos; a size that is not positive is an error naming the geo.
fn geo_sizes(spec: &Spec, geos: &GeoBlocks, n_train: usize) -> Result<Vec<f64>, FeatureError> {
    let (target, path) = (&spec.data.target, geos.path);
    let raw_sizes: Vec<f64> = geos
        .blocks
        .iter()
        .map(|(geo, block)| match spec.geo.size {
            GeoSize::MeanTarget => {
                let y = f64_column(block, target, path)?;
                Ok(y[..n_train].iter().sum::<f64>() / n_train.max(1) as f64)
            }
            GeoSize::Population => spec.geo.population.get(geo).copied().ok_or_else(|| {
                invalid(
                    "geo",
                    format!(
                        "geo.population has no entry for geo '{geo}' of {}",
                        path.display()
                    ),
                )
            }),
            GeoSize::None => Ok(1.0),
        })
        .collect::<Result<_, FeatureError>>()?;
    for ((geo, _), s) in geos.blocks.iter().zip(&raw_sizes) {
        if !(s.is_finite() && *s > 0.0) {
            return Err(invalid(
                target,
                format!(
                    "geo '{geo}' has size {s} (geo.size = {:?}); sizes must be positive",
                    spec.geo.size
                ),
            ));
        }
    }
    let mean_size = raw_sizes.iter().sum::<f64>() / raw_sizes.len() as f64;
    Ok(raw_sizes.iter().map(|s| s / mean_size).collect())
}

/// The pooled factors: for the target and each channel's spend the largest size-adjusted
/// training max-abs over geos, for each scaled control its largest training max-abs (1 for
/// an unscaled or all-zero control). A target or a channel that is zero throughout is an error.
fn pooled_factors(
    spec: &Spec,
    geos: &GeoBlocks,
    sizes: &[f64],
    n_train: usize,
) -> Result<ScaleSet, FeatureError> {
    let pooled = |column: &str, by_size: bool| -> Result<f64, FeatureError> {
        let mut m = 0.0_f64;
        for ((_, block), s) in geos.blocks.iter().zip(sizes) {
            let v = f64_column(block, column, geos.path)?;
            m = m.max(max_abs(&v[..n_train]) / if by_size { *s } else { 1.0 });
        }
        Ok(m)
    };
    let target = &spec.data.target;
    let target_factor = pooled(target, true)?;
    if target_factor.is_nan() || target_factor <= 0.0 {
        return Err(invalid(
            target,
            "target is zero throughout the training window in every geo; cannot scale".into(),
        ));
    }
    let mut channels = BTreeMap::new();
    for ch in &spec.channels {
        let s = pooled(ch.spend_column(), true)?;
        if s.is_nan() || s <= 0.0 {
            return Err(invalid(
                ch.spend_column(),
                "no spend in the training window of any geo; the channel cannot be fitted".into(),
            ));
        }
        channels.insert(ch.name.clone(), s);
    }
    let mut controls = BTreeMap::new();
    for c in &spec.controls {
        let s = if c.scale {
            pooled(&c.name, false)?
        } else {
            1.0
        };
        controls.insert(c.name.clone(), if s > 0.0 { s } else { 1.0 });
    }
    Ok(ScaleSet {
        target: target_factor,
        channels,
        controls,
    })
}

/// Every geo's design under its scales (the pooled factors times its size), concatenated
/// with a `geo` column, and with a history the geos' carry-in spend likewise.
fn geo_designs(
    spec: &Spec,
    geos: &GeoBlocks,
    sizes: &[f64],
    pooled: &ScaleSet,
    history: Option<(&RecordBatch, &Path)>,
    n_train: usize,
    calendar: &[(String, i32)],
) -> Result<(RecordBatch, Option<RecordBatch>), FeatureError> {
    let mut blocks = Vec::new();
    let mut carry_blocks = Vec::new();
    let history_geos = match history {
        Some((h, hp)) => Some(split_geos(h, hp)?),
        None => None,
    };
    for ((geo, block), size) in geos.blocks.iter().zip(sizes) {
        let set = ScaleSet {
            target: pooled.target * size,
            channels: pooled
                .channels
                .iter()
                .map(|(k, v)| (k.clone(), v * size))
                .collect(),
            controls: pooled.controls.clone(),
        };
        let design = crate::design_columns(spec, block, geos.path, n_train, &set, calendar)?
            .build()
            .map_err(|source| FeatureError::Table {
                table: "geo_design.parquet",
                source,
            })?;
        blocks.push(
            with_geo(&design, geo).map_err(|source| FeatureError::Table {
                table: "geo_design.parquet",
                source,
            })?,
        );
        if let (Some(hist), Some((_, hp))) = (&history_geos, history) {
            let h = hist.iter().find(|(g, _)| g == geo).ok_or_else(|| {
                invalid(
                    "geo",
                    format!("{}: no history rows for geo '{geo}'", hp.display()),
                )
            })?;
            let batch = crate::carry_in_batch(spec, &h.1, hp, &geos.dates, &set.channels)?;
            carry_blocks.push(with_geo(&batch, geo).map_err(|source| FeatureError::Table {
                table: "geo_carry_in.parquet",
                source,
            })?);
        }
    }
    let concat = |parts: &[RecordBatch]| -> Result<RecordBatch, FeatureError> {
        arrow::compute::concat_batches(&parts[0].schema(), parts).map_err(|source| {
            FeatureError::Table {
                table: "geo_design.parquet",
                source,
            }
        })
    };
    let design = concat(&blocks)?;
    let carry_in = if carry_blocks.is_empty() {
        None
    } else {
        Some(concat(&carry_blocks)?)
    };
    Ok((design, carry_in))
}
