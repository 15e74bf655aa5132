//! `mmm simulate`: a data set drawn from the model at known parameters, with the truth it
//! implies (parameters, contributions, ROAS and ROI per channel), for recovery checks and demos.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use mmm_core::spec::{DataLayout, LoadedSpec};
use mmm_model::MmmModel;
use mmm_model::rand::SeedableRng;
use serde::{Deserialize, Serialize};

/// A truth file: known parameter values by name (`beta[x1]`, `adstock_alpha[x2]`, ...) and an
/// optional seed for the noise; parameters it leaves out are drawn from their priors.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TruthFile {
    /// Seed of the noise and of the prior draws (default: the spec's sampler seed).
    pub seed: Option<u64>,
    /// Constrained parameter values by name.
    #[serde(default)]
    pub parameters: BTreeMap<String, f64>,
}

impl TruthFile {
    /// Read a truth file (TOML).
    pub fn load(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{}: not a valid truth file", path.display()))
    }
}

/// One channel's truth over the training window, in original units.
#[derive(Debug, Clone, Serialize)]
struct ChannelTruth {
    spend: f64,
    contribution: f64,
    share: f64,
    roas: f64,
    roi: f64,
    /// For a channel acting through mediators: its contribution and ROAS through them (the
    /// direct parts are the rest).
    #[serde(skip_serializing_if = "Option::is_none")]
    mediated_contribution: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mediated_roas: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Truth<'a> {
    spec: String,
    spec_sha256: &'a str,
    likelihood: &'static str,
    seed: u64,
    target_column: &'a str,
    target_scale: f64,
    train_periods: usize,
    parameters: BTreeMap<String, f64>,
    drawn_from_prior: Vec<String>,
    channels: BTreeMap<String, ChannelTruth>,
    /// The true lift of each of the spec's lift tests (the model's lift term at the truth, in
    /// target units, without measurement noise): what a simulated experiment would measure on
    /// average.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    lift_tests: Vec<LiftTestTruth>,
    method: &'static str,
}

/// A lift test of the spec and its true lift.
#[derive(Debug, Serialize)]
struct LiftTestTruth {
    channel: String,
    start: String,
    end: String,
    spend_change: f64,
    lift: f64,
}

/// Run `mmm simulate`: the spec's validate and features stages on `data` (under OUT/inputs),
/// the model at the truth's parameters, one draw of the target; writes OUT/data.csv (the
/// validated table with the target replaced) and OUT/truth.json.
pub fn run(
    spec_path: &Path,
    data: &Path,
    truth_path: &Path,
    out: &Path,
    seed: Option<u64>,
) -> Result<PathBuf> {
    let spec = LoadedSpec::load(spec_path)?;
    if spec.spec.geo.is_hierarchical() {
        return run_geo(&spec, spec_path, data, truth_path, out, seed);
    }
    if spec.spec.data.layout != DataLayout::Wide || spec.spec.data.geo_column.is_some() {
        bail!(
            "{}: mmm simulate writes one national wide table; use a spec with data.layout = \"wide\" and no geo_column",
            spec_path.display()
        );
    }
    let (truth, inputs) = prepare(&spec, data, truth_path, out)?;
    let features = mmm_core::Upstream::open(&inputs.join("features"), mmm_features::STAGE)?;
    let (design, _) = mmm_features::Design::load(&features, &spec.spec)?;
    let model = MmmModel::new(&spec.spec, &design)?;
    let seed = seed.or(truth.seed).unwrap_or(spec.spec.sampler.seed);
    let mut rng = mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let point = model
        .theta_from_named(&truth.parameters, &mut rng)
        .with_context(|| format!("{}", truth_path.display()))?;
    let Some(drawn) = model.draw_design(&spec.spec, &design, &point.theta, &mut rng)? else {
        bail!(
            "the parameters give a non-finite target or mediator; choose values with a finite mean"
        );
    };
    let scale = design.scales.target;
    let target: Vec<f64> = drawn.target_scaled.iter().map(|v| v * scale).collect();
    // Mediators are drawn from their own equations first, in original units.
    let mediators: Vec<(String, Vec<f64>)> = spec
        .spec
        .mediators
        .iter()
        .enumerate()
        .map(|(k, m)| {
            let s = design.scales.controls.get(&m.name).copied().unwrap_or(1.0);
            let values = &drawn.regressors[spec.spec.controls.len() + k];
            (m.name.clone(), values.iter().map(|v| v * s).collect())
        })
        .collect();
    let count = matches!(
        model.likelihood(),
        mmm_model::Likelihood::Poisson | mmm_model::Likelihood::NegativeBinomial
    );

    let validate = mmm_core::Upstream::open(&inputs.join("validate"), mmm_contracts::STAGE)?;
    let (table, _) = validate.parquet("table.parquet")?;
    let history = carry_in_history(&spec, &validate)?;
    let mut drawn = vec![(spec.spec.data.target.clone(), target_cells(&target, count))];
    drawn.extend(mediators.iter().map(|(name, values)| {
        (
            name.clone(),
            values.iter().map(|v| format!("{v}")).collect(),
        )
    }));
    let csv = table_csv(
        &table,
        history.as_ref(),
        &spec.spec.data.date_column,
        None,
        &drawn,
    )?;
    mmm_core::write_atomic(&out.join("data.csv"), csv.as_bytes())?;

    let channels = channel_truths(&model, &point.theta, &design, spec.spec.decisions.margin);
    let nt = design.n_train;
    let names = model.param_names();
    let report = Truth {
        spec: spec_path.display().to_string(),
        spec_sha256: &spec.sha256,
        likelihood: model.likelihood().name(),
        seed,
        target_column: &spec.spec.data.target,
        target_scale: scale,
        train_periods: nt,
        parameters: names
            .iter()
            .cloned()
            .zip(point.theta.iter().copied())
            .collect(),
        drawn_from_prior: point.from_prior,
        channels,
        lift_tests: (spec.spec.lift_tests.iter())
            .zip(model.lift_test_predictions(&point.theta))
            .map(|(t, lift)| LiftTestTruth {
                channel: t.channel.clone(),
                start: t.start.clone(),
                end: t.end.clone(),
                spend_change: t.spend_change,
                lift: lift * scale,
            })
            .collect(),
        method: "parameters: the truth file's values, the rest drawn from their priors \
                 (ChaCha8 seeded by `seed`); target: one draw from the likelihood at those \
                 parameters on the data's spend, controls and dates, in original units \
                 (model-scale parameters are relative to target_scale, the data's training \
                 max-abs); contribution: sum over the training window of E[y] minus E[y] with \
                 the channel's spend at zero, in target units; share of the channels' total; \
                 roas = contribution / spend; roi = (margin x contribution - spend) / spend",
    };
    mmm_core::write_atomic(
        &out.join("truth.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    Ok(out.join("data.csv"))
}

/// Read the truth file and run the spec's validate and features stages on `data` under
/// OUT/inputs; returns the truth and that directory.
fn prepare(
    spec: &LoadedSpec,
    data: &Path,
    truth_path: &Path,
    out: &Path,
) -> Result<(TruthFile, PathBuf)> {
    let truth = TruthFile::load(truth_path)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let inputs = out.join("inputs");
    mmm_contracts::run(spec, data, &inputs.join("validate"), false)?;
    mmm_features::run(
        spec,
        &inputs.join("validate"),
        &inputs.join("features"),
        false,
    )?;
    Ok((truth, inputs))
}

/// Each channel's truth over the training window in original units: counterfactual
/// contribution, share, ROAS and ROI.
fn channel_truths(
    model: &MmmModel,
    theta: &[f64],
    design: &mmm_features::Design,
    margin: f64,
) -> BTreeMap<String, ChannelTruth> {
    let nt = design.n_train;
    let contributions = model.channel_contributions(theta, 0..nt);
    let mediated = model.mediated_contributions(theta, 0..nt);
    let total: f64 = contributions.iter().sum();
    design
        .channel_names
        .iter()
        .enumerate()
        .map(|(c, name)| {
            let spend: f64 = design.spend(c)[..nt].iter().sum();
            let contribution = contributions[c] * design.scales.target;
            let through = model
                .is_mediated(c)
                .then(|| mediated[c] * design.scales.target);
            let truth = ChannelTruth {
                mediated_contribution: through,
                mediated_roas: through.map(|m| m / spend),
                spend,
                contribution,
                share: contributions[c] / total,
                roas: contribution / spend,
                roi: (margin * contribution - spend) / spend,
            };
            (name.clone(), truth)
        })
        .collect()
}

#[derive(Debug, Serialize)]
struct GeoTruth<'a> {
    spec: String,
    spec_sha256: &'a str,
    likelihood: &'static str,
    seed: u64,
    target_column: &'a str,
    train_periods: usize,
    /// Global parameters (pooled means, spreads, deviations).
    parameters: BTreeMap<String, f64>,
    drawn_from_prior: Vec<String>,
    /// Each geo's own value of every pooled national parameter (`beta[geo=G,x1]`).
    geo_parameters: BTreeMap<String, f64>,
    /// Per geo and channel.
    geos: BTreeMap<String, BTreeMap<String, ChannelTruth>>,
    /// Summed over geos (ROAS and ROI of the sums).
    channels: BTreeMap<String, ChannelTruth>,
    method: &'static str,
}

/// `mmm simulate` for a geo hierarchy: the global truth (given values, the rest and every geo
/// deviation drawn from the priors, so true effects differ by geo), one target draw per geo
/// from its own parameters; data.csv is the validated panel with the target replaced.
fn run_geo(
    spec: &LoadedSpec,
    spec_path: &Path,
    data: &Path,
    truth_path: &Path,
    out: &Path,
    seed: Option<u64>,
) -> Result<PathBuf> {
    use mmm_model::geo::{GeoModel, geo_param_name};
    if spec.spec.data.layout != DataLayout::Wide || spec.spec.data.geo_column.is_none() {
        bail!(
            "{}: mmm simulate writes a wide geo panel; use data.layout = \"wide\" with a geo_column",
            spec_path.display()
        );
    }
    let (truth, inputs) = prepare(spec, data, truth_path, out)?;
    let features = mmm_core::Upstream::open(&inputs.join("features"), mmm_features::STAGE)?;
    let (panel, _) = mmm_features::panel::GeoDesign::load(&features, &spec.spec)?;
    let model = GeoModel::new(&spec.spec, &panel)?;
    let seed = seed.or(truth.seed).unwrap_or(spec.spec.sampler.seed);
    let mut rng = mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(seed);
    let point = model
        .theta_from_named(&truth.parameters, &mut rng)
        .with_context(|| format!("{}", truth_path.display()))?;
    let margin = spec.spec.decisions.margin;
    let national_names = model.member(0).param_names();
    let mut targets: BTreeMap<(String, i32), f64> = BTreeMap::new();
    let mut geos = BTreeMap::new();
    let mut geo_parameters = BTreeMap::new();
    let mut likelihood = "";
    for (g, (geo, design)) in panel.geos.iter().zip(&panel.designs).enumerate() {
        let member = model.member(g);
        likelihood = member.likelihood().name();
        let theta = model.geo_theta(&point.theta, g);
        let n = design.len();
        let (mut mean, mut y) = (vec![0.0; n], vec![0.0; n]);
        member.predictive_draw(&theta, &mut rng, &mut mean, &mut y);
        if let Some(t) = y.iter().position(|v| !v.is_finite()) {
            bail!("geo '{geo}': the parameters give a non-finite target at period {t}");
        }
        for (d, v) in design.dates.iter().zip(&y) {
            targets.insert((geo.clone(), *d), v * design.scales.target);
        }
        for (j, name) in national_names.iter().enumerate() {
            if model.is_pooled(j) {
                geo_parameters.insert(geo_param_name(name, geo), theta[j]);
            }
        }
        geos.insert(geo.clone(), channel_truths(member, &theta, design, margin));
    }
    let mut channels = BTreeMap::new();
    for name in &panel.designs[0].channel_names {
        let spend: f64 = geos.values().map(|c| c[name].spend).sum();
        let contribution: f64 = geos.values().map(|c| c[name].contribution).sum();
        channels.insert(
            name.clone(),
            ChannelTruth {
                spend,
                contribution,
                share: 0.0,
                roas: contribution / spend,
                roi: (margin * contribution - spend) / spend,
                mediated_contribution: None,
                mediated_roas: None,
            },
        );
    }
    let total: f64 = channels.values().map(|c| c.contribution).sum();
    for c in channels.values_mut() {
        c.share = c.contribution / total;
    }
    let validate = mmm_core::Upstream::open(&inputs.join("validate"), mmm_contracts::STAGE)?;
    let (table, _) = validate.parquet("table.parquet")?;
    let history = carry_in_history(spec, &validate)?;
    let path = inputs.join("validate/table.parquet");
    let row_geos = mmm_core::columns::string_column(&table, "geo", &path)?;
    let row_dates = mmm_core::columns::date_column(&table, "date", &path)?;
    let target: Vec<f64> = row_geos
        .iter()
        .zip(&row_dates)
        .map(|(g, d)| targets.get(&(g.clone(), *d)).copied().unwrap_or(f64::NAN))
        .collect();
    let count = matches!(likelihood, "poisson" | "negative_binomial");
    let drawn = [(spec.spec.data.target.clone(), target_cells(&target, count))];
    let csv = table_csv(
        &table,
        history.as_ref(),
        &spec.spec.data.date_column,
        spec.spec.data.geo_column.as_deref(),
        &drawn,
    )?;
    mmm_core::write_atomic(&out.join("data.csv"), csv.as_bytes())?;
    let report = GeoTruth {
        spec: spec_path.display().to_string(),
        spec_sha256: &spec.sha256,
        likelihood,
        seed,
        target_column: &spec.spec.data.target,
        train_periods: panel.designs[0].n_train,
        parameters: model
            .param_names()
            .into_iter()
            .zip(point.theta.iter().copied())
            .collect(),
        drawn_from_prior: point.from_prior,
        geo_parameters,
        geos,
        channels,
        method: "global parameters: the truth file's values, the rest (and every geo \
                 deviation) drawn from their priors (ChaCha8 seeded by `seed`): a geo's \
                 intercept (its mean level with media in) from Normal(intercept, \
                 intercept_geo_sd), its other pooled parameters mu + tau z_g with z_g ~ \
                 Normal(0, 1) on the sampler's scale (ln beta); target: one \
                 draw per geo from the likelihood at its parameters on its own spend, in \
                 original units (scaled values x geo size x the pooled factor of \
                 geo_scales.json); contribution: sum over the training window of E[y] minus \
                 E[y] with the channel's spend at zero; national: sums over geos",
    };
    mmm_core::write_atomic(
        &out.join("truth.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    Ok(out.join("data.csv"))
}

/// With data.start, the validated carry-in history (spend of the periods before it): its rows
/// come first in data.csv, target and controls empty, so the simulated data reproduces the
/// same carry-in.
fn carry_in_history(
    spec: &LoadedSpec,
    validate: &mmm_core::Upstream,
) -> Result<Option<arrow::array::RecordBatch>> {
    Ok(match spec.spec.data.start {
        Some(_) => Some(validate.parquet("history.parquet")?.0),
        None => None,
    })
}

/// The validated wide table as CSV (dates as YYYY-MM-DD; the geo column named `geo_column`,
/// or dropped when that is `None` and the table is national), with the target column's values
/// replaced by `target`, after the rows of `history` (carry-in spend before data.start; other
/// cells empty).
/// CSV cells of a drawn target: whole numbers for a count likelihood.
fn target_cells(target: &[f64], count: bool) -> Vec<String> {
    target
        .iter()
        .map(|v| {
            if count {
                format!("{}", v.round() as i64)
            } else {
                format!("{v}")
            }
        })
        .collect()
}

/// The validated table (after its history rows) as CSV, with the `drawn` columns (the target,
/// mediators) replaced by their drawn cells.
fn table_csv(
    table: &arrow::array::RecordBatch,
    history: Option<&arrow::array::RecordBatch>,
    date_column: &str,
    geo_column: Option<&str>,
    drawn: &[(String, Vec<String>)],
) -> Result<String> {
    use arrow::array::{Array, Date32Array, Float64Array};
    let schema = table.schema();
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    let dates_of = |array: &dyn Array| -> Result<Vec<String>> {
        let dates = array
            .as_any()
            .downcast_ref::<Date32Array>()
            .ok_or_else(|| anyhow!("validate: column date is not a date"))?;
        Ok((0..dates.len())
            .map(|i| mmm_core::dates::iso(dates.value(i)))
            .collect())
    };
    let numbers_of = |array: &dyn Array, name: &str| -> Result<Vec<String>> {
        let values = array
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| anyhow!("validate: column {name} is not float64"))?;
        Ok((0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    String::new()
                } else {
                    format!("{}", values.value(i))
                }
            })
            .collect())
    };
    let history_rows = history.map_or(0, |h| h.num_rows());
    for (field, array) in schema.fields().iter().zip(table.columns()) {
        let name = field.name().as_str();
        if name == "geo" {
            if let Some(header) = geo_column {
                let mut geos = match history {
                    Some(h) => mmm_core::columns::string_column(h, "geo", Path::new("history"))?,
                    None => Vec::new(),
                };
                geos.extend(mmm_core::columns::string_column(
                    table,
                    "geo",
                    Path::new("table"),
                )?);
                columns.push((header.to_string(), geos));
            }
            continue;
        }
        let mut values: Vec<String> = match history.and_then(|h| h.column_by_name(name)) {
            Some(h) if name == "date" => dates_of(h.as_ref())?,
            Some(h) => numbers_of(h.as_ref(), name)?,
            None => vec![String::new(); history_rows],
        };
        values.extend(if name == "date" {
            dates_of(array.as_ref())?
        } else if let Some((_, cells)) = drawn.iter().find(|(n, _)| n == name) {
            cells.clone()
        } else {
            numbers_of(array.as_ref(), name)?
        });
        let header = if name == "date" { date_column } else { name };
        columns.push((header.to_string(), values));
    }
    // The drawn columns have one cell per design period.
    let rows = drawn
        .first()
        .map_or(table.num_rows(), |(_, cells)| cells.len());
    if columns.iter().any(|(_, v)| v.len() != history_rows + rows) {
        bail!(
            "validate/table.parquet has {} rows; the design has {rows}",
            table.num_rows()
        );
    }
    let mut csv = String::new();
    let quote = |s: &str| {
        if s.contains([',', '"', '\n']) {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.to_string()
        }
    };
    let header: Vec<String> = columns.iter().map(|(h, _)| quote(h)).collect();
    let _ = writeln!(csv, "{}", header.join(","));
    for row in 0..history_rows + rows {
        let cells: Vec<&str> = columns.iter().map(|(_, v)| v[row].as_str()).collect();
        let _ = writeln!(csv, "{}", cells.join(","));
    }
    Ok(csv)
}
