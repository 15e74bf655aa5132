//! `mmm export`: a finished run as ArviZ InferenceData, in a Zarr v2 store (`--format zarr`) or
//! one NetCDF-4 file (`--format netcdf`, ArviZ's own `to_netcdf` format), so `az.summary`,
//! `az.loo` and ArviZ's plots work on it directly. Both formats get the same groups, arrays and
//! coordinates from one code path (`mmm_core::labelled::LabelledStore`).
//!
//! Groups (ArviZ's schema, <https://python.arviz.org/en/stable/schema/schema.html>):
//! - `posterior`: every sampled parameter, one variable per name stem (`beta[tv]` and
//!   `beta[radio]` become `beta` over `channel`; `beta_geo_z[geo=g1,tv]` is over `geo` and
//!   `channel`), dims `(chain, draw, ...)`; only sampled parameters, so ArviZ's relative ESS for
//!   LOO is the diagnose stage's.
//! - `sample_stats`: post-warm-up rows only, under ArviZ's names (`lp`, `acceptance_rate`,
//!   `diverging`, `energy`, `step_size`, `tree_depth`, `n_steps`).
//! - `log_likelihood`: the pointwise log density of each training observation of the
//!   original-unit target, as the diagnose stage's PSIS-LOO uses it.
//! - `posterior_predictive`, `observed_data`: the target over every period (and geo).
//! - `constant_data`: spend per channel in currency.
//! - `prior`, `prior_predictive`: drawn at export from the model's priors (the diagnose
//!   stage keeps only their summaries), `diagnose.prior_draws` draws with the spec's seed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mmm_core::columns::{bool_column, f64_column, i64_column};
use mmm_core::labelled::{ArrayValues, LabelledStore};
use mmm_core::netcdf::NetcdfWriter;
use mmm_core::zarr::ZarrWriter;
use mmm_core::{CoreError, LoadedSpec};
use mmm_features::Design;
use mmm_model::geo::GeoModel;
use mmm_model::joint::Fitted;
use mmm_model::rand::SeedableRng;
use mmm_model::rand::rngs::ChaCha8Rng;
use mmm_model::{MmmModel, Posterior};
use serde::Serialize;

use crate::stage::DiagnoseError;

/// What an export wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    /// The store's root directory.
    pub path: PathBuf,
    /// Groups written, in order.
    pub groups: Vec<String>,
    /// Chains and draws per chain of the posterior.
    pub chains: usize,
    /// Draws per chain.
    pub draws: usize,
}

/// One labelled array of a group: its name, dimensions and sizes (after chain and draw).
struct Variable {
    name: String,
    dims: Vec<String>,
    shape: Vec<usize>,
    /// Parameter index of each element, in C order over `dims`.
    columns: Vec<usize>,
}

/// The run's model, draws and data.
struct Loaded {
    spec: LoadedSpec,
    design: Design,
    panel: Option<mmm_features::panel::GeoDesign>,
    draws: arrow::array::RecordBatch,
    stats: arrow::array::RecordBatch,
    run: PathBuf,
}

/// The file formats of an export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// A Zarr v2 directory store (xarray's layout, uncompressed, consolidated metadata).
    Zarr,
    /// One NetCDF-4 (HDF5) file with a group per InferenceData group.
    Netcdf,
}

impl ExportFormat {
    /// The file extension of the format's default output name.
    pub fn extension(self) -> &'static str {
        match self {
            Self::Zarr => "zarr",
            Self::Netcdf => "nc",
        }
    }
}

/// Write run `run` (a run directory after diagnose) as InferenceData at `out`, which must not
/// exist. A Zarr store is built in a sibling temporary directory and renamed into place; a
/// NetCDF file is assembled in memory and written through a temporary file: a failed export
/// leaves nothing behind either way.
pub fn export(
    run: &Path,
    out: &Path,
    format: ExportFormat,
) -> Result<ExportSummary, DiagnoseError> {
    if out.exists() {
        return Err(CoreError::Io {
            path: out.to_path_buf(),
            source: std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                "the export's output exists; remove it or choose another path",
            ),
        }
        .into());
    }
    let loaded = load(run)?;
    let national = MmmModel::new(&loaded.spec.spec, &loaded.design)?;
    let hierarchy = match &loaded.panel {
        Some(panel) => Some(GeoModel::new(&loaded.spec.spec, panel)?),
        None => None,
    };
    let model: &dyn Fitted = match &hierarchy {
        Some(h) => h,
        None => &national,
    };
    let draws_path = loaded.run.join("fit").join("draws.parquet");
    let posterior = Posterior::from_columns(&loaded.draws, &model.param_names(), &draws_path)?;
    let attrs = serde_json::json!({
        "created_by": format!("mmm export {}", env!("CARGO_PKG_VERSION")),
        "inference_library": "nuts-rs",
        "model": loaded.spec.spec.model.name,
    });
    match format {
        ExportFormat::Netcdf => {
            let mut store = NetcdfWriter::create(out, attrs)?;
            let mut summary = write_groups(&mut store, &loaded, model, &posterior)?;
            summary.path = store.finish()?;
            Ok(summary)
        }
        ExportFormat::Zarr => write_zarr(out, attrs, &loaded, model, &posterior),
    }
}

/// The Zarr store built in `out`'s sibling `*.zarr.tmp` and renamed into place, so a failed
/// export leaves nothing behind.
fn write_zarr(
    out: &Path,
    attrs: serde_json::Value,
    loaded: &Loaded,
    model: &dyn Fitted,
    posterior: &Posterior,
) -> Result<ExportSummary, DiagnoseError> {
    let tmp = out.with_extension("zarr.tmp");
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|source| CoreError::Io {
            path: tmp.clone(),
            source,
        })?;
    }
    let result = ZarrWriter::create(&tmp, attrs)
        .map_err(DiagnoseError::from)
        .and_then(|mut store| {
            let summary = write_groups(&mut store, loaded, model, posterior)?;
            store.finish()?;
            Ok(summary)
        });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    let mut summary = result?;
    std::fs::rename(&tmp, out).map_err(|source| CoreError::Io {
        path: out.to_path_buf(),
        source,
    })?;
    summary.path = out.to_path_buf();
    Ok(summary)
}

/// The run's spec and the features, fit and diagnose stages, checked to chain.
fn load(run: &Path) -> Result<Loaded, DiagnoseError> {
    let spec = LoadedSpec::load(&run.join("spec.toml"))?;
    let [features, fit, _diagnose] = mmm_core::open_chain(
        (&spec).into(),
        [
            (&run.join("features"), mmm_features::STAGE),
            (&run.join("fit"), "fit"),
            (&run.join("diagnose"), crate::stage::STAGE),
        ],
    )?;
    let (design, _) = Design::load(&features, &spec.spec)?;
    let panel = if spec.spec.geo.is_hierarchical() {
        Some(mmm_features::panel::GeoDesign::load(&features, &spec.spec)?.0)
    } else {
        None
    };
    let (draws, _) = fit.parquet("draws.parquet")?;
    let (stats, _) = fit.parquet("sample_stats.parquet")?;
    Ok(Loaded {
        spec,
        design,
        panel,
        draws,
        stats,
        run: run.to_path_buf(),
    })
}

/// Every group into `z`.
fn write_groups(
    z: &mut impl LabelledStore,
    loaded: &Loaded,
    model: &dyn Fitted,
    posterior: &Posterior,
) -> Result<ExportSummary, DiagnoseError> {
    let order = chain_draw_grid(posterior, &loaded.run.join("fit").join("draws.parquet"))?;
    let (n_chain, n_draw) = (order.len(), order.first().map_or(0, Vec::len));
    let flat: Vec<usize> = order.iter().flatten().copied().collect();
    let channels = &loaded.design.channel_names;
    let units = model.unit_names();
    let geo = loaded.panel.is_some();
    let (variables, coords) = variables(&model.param_names(), channels);
    let thetas: Vec<&[f64]> = flat
        .iter()
        .map(|&k| posterior.theta[k].as_slice())
        .collect();
    write_parameters(
        z,
        "posterior",
        &variables,
        &coords,
        &thetas,
        (n_chain, n_draw),
    )?;
    write_sample_stats(z, loaded, (n_chain, n_draw))?;
    let target = loaded.spec.spec.data.target.clone();
    let dates = date_labels(&loaded.design.dates);
    let n_train = model.train_periods();
    let geos = geo.then_some(units.as_slice());
    let draws = [("chain", n_chain), ("draw", n_draw)];
    // Log likelihood over the training window.
    let rows = units.len() * n_train;
    let mut log_lik = vec![0.0; thetas.len() * rows];
    for (i, theta) in thetas.iter().enumerate() {
        model.pointwise_log_likelihood_units(theta, &mut log_lik[i * rows..(i + 1) * rows]);
    }
    let (dims, shape, axes) = series_axes(&draws, geos, &dates[..n_train]);
    write_group(
        z,
        "log_likelihood",
        &[(&target, &dims, &shape, &log_lik)],
        &axes,
        (n_chain, n_draw),
    )?;
    // Posterior predictive over every period, seeded like the diagnose stage's.
    let periods = model.periods();
    let seed = loaded.spec.spec.sampler.seed;
    let predictive = predictive(model, &thetas, units.len() * periods, seed);
    let (dims, shape, axes) = series_axes(&draws, geos, &dates);
    write_group(
        z,
        "posterior_predictive",
        &[(&target, &dims, &shape, &predictive)],
        &axes,
        (n_chain, n_draw),
    )?;
    write_observed_and_spend(z, loaded, &target, &dates, &units)?;
    write_prior(z, loaded, model, &variables, &coords, &target)?;
    let groups = [
        "posterior",
        "sample_stats",
        "log_likelihood",
        "posterior_predictive",
        "observed_data",
        "constant_data",
        "prior",
        "prior_predictive",
    ];
    Ok(ExportSummary {
        path: PathBuf::new(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        chains: n_chain,
        draws: n_draw,
    })
}

/// Draw indices as a chain x draw grid, each chain's draws in order; every chain must have as
/// many draws as the first (ArviZ's rectangular layout).
fn chain_draw_grid(posterior: &Posterior, path: &Path) -> Result<Vec<Vec<usize>>, CoreError> {
    let mut by_chain: BTreeMap<i64, Vec<usize>> = BTreeMap::new();
    for k in 0..posterior.len() {
        by_chain.entry(posterior.chain[k]).or_default().push(k);
    }
    let mut grid: Vec<Vec<usize>> = by_chain.into_values().collect();
    for chain in &mut grid {
        chain.sort_by_key(|&k| posterior.draw[k]);
    }
    if grid.iter().any(|c| c.len() != grid[0].len()) {
        return Err(CoreError::Schema {
            path: path.to_path_buf(),
            schema: "draws".into(),
            message: "chains have different numbers of draws; InferenceData needs a \
                      chain x draw grid"
                .into(),
        });
    }
    Ok(grid)
}

/// Dates as ISO strings (the coordinate of the time dimension).
fn date_labels(days: &[i32]) -> Vec<String> {
    days.iter()
        .map(|&d| mmm_core::dates::date_of(d).map_or_else(|| d.to_string(), |x| x.to_string()))
        .collect()
}

/// A parameter name as (stem, [(dimension, label)]): `beta[tv]` -> ("beta", [("channel",
/// "tv")]), `beta_geo_z[geo=g1,tv]` -> ("beta_geo_z", [("geo", "g1"), ("channel", "tv")]).
fn parse_name(name: &str, channels: &[String]) -> (String, Vec<(String, String)>) {
    let Some((stem, rest)) = name.split_once('[') else {
        return (name.to_string(), Vec::new());
    };
    let inside = rest.strip_suffix(']').unwrap_or(rest);
    let args = inside
        .split(',')
        .enumerate()
        .map(|(i, arg)| match arg.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None if channels.iter().any(|c| c == arg) => ("channel".into(), arg.to_string()),
            None if stem == "gamma_control" => ("control".into(), arg.to_string()),
            None if stem == "gamma_fourier" => ("fourier".into(), arg.to_string()),
            None => (format!("{stem}_dim_{i}"), arg.to_string()),
        })
        .collect();
    (stem.to_string(), args)
}

/// One parameter of a stem: its index and its (dimension, label) pairs.
type Member = (usize, Vec<(String, String)>);

/// The posterior's variables (one per name stem whose names fill a grid of labels; any other
/// name its own scalar) and each dimension's labels.
fn variables(
    names: &[String],
    channels: &[String],
) -> (Vec<Variable>, BTreeMap<String, Vec<String>>) {
    let mut stems: Vec<(String, Vec<Member>)> = Vec::new();
    for (j, name) in names.iter().enumerate() {
        let (stem, args) = parse_name(name, channels);
        match stems.iter_mut().find(|(s, _)| *s == stem) {
            Some((_, members)) => members.push((j, args)),
            None => stems.push((stem, vec![(j, args)])),
        }
    }
    let mut coords: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut out = Vec::new();
    for (stem, members) in stems {
        match grid_variable(&stem, &members, &mut coords) {
            Some(v) => out.push(v),
            None => out.extend(members.iter().map(|(j, _)| Variable {
                name: names[*j].clone(),
                dims: Vec::new(),
                shape: Vec::new(),
                columns: vec![*j],
            })),
        }
    }
    (out, coords)
}

/// `members` of one stem as one array over its dimensions, when they fill the grid of their
/// labels exactly; a dimension whose labels differ from the same name's elsewhere is renamed
/// `stem_dim`.
fn grid_variable(
    stem: &str,
    members: &[Member],
    coords: &mut BTreeMap<String, Vec<String>>,
) -> Option<Variable> {
    let rank = members[0].1.len();
    if members.iter().any(|(_, a)| a.len() != rank) {
        return None;
    }
    let mut labels: Vec<Vec<String>> = vec![Vec::new(); rank];
    for (_, args) in members {
        for (p, (_, label)) in args.iter().enumerate() {
            if !labels[p].contains(label) {
                labels[p].push(label.clone());
            }
        }
    }
    let shape: Vec<usize> = labels.iter().map(Vec::len).collect();
    if shape.iter().product::<usize>() != members.len() {
        return None;
    }
    let mut columns = vec![usize::MAX; members.len()];
    for (j, args) in members {
        let mut flat = 0;
        for (p, (_, label)) in args.iter().enumerate() {
            flat = flat * shape[p] + labels[p].iter().position(|l| l == label)?;
        }
        columns[flat] = *j;
    }
    if columns.contains(&usize::MAX) {
        return None;
    }
    let mut dims = Vec::with_capacity(rank);
    for (p, (dim, _)) in members[0].1.iter().enumerate() {
        let name = match coords.get(dim) {
            Some(existing) if *existing != labels[p] => format!("{stem}_{dim}"),
            _ => dim.clone(),
        };
        coords.insert(name.clone(), labels[p].clone());
        dims.push(name);
    }
    Some(Variable {
        name: stem.to_string(),
        dims,
        shape,
        columns,
    })
}

/// A group of parameter arrays (posterior or prior) over `thetas` (chain-major draws).
fn write_parameters(
    z: &mut impl LabelledStore,
    group: &str,
    variables: &[Variable],
    coords: &BTreeMap<String, Vec<String>>,
    thetas: &[&[f64]],
    (n_chain, n_draw): (usize, usize),
) -> Result<(), CoreError> {
    z.group(group, group_attrs())?;
    write_chain_draw(z, group, n_chain, n_draw)?;
    for v in variables {
        let values: Vec<f64> = thetas
            .iter()
            .flat_map(|theta| v.columns.iter().map(move |&j| theta[j]))
            .collect();
        let mut dims = vec!["chain", "draw"];
        dims.extend(v.dims.iter().map(String::as_str));
        let mut shape = vec![n_chain, n_draw];
        shape.extend(&v.shape);
        z.array(
            &format!("{group}/{}", v.name),
            &dims,
            &shape,
            ArrayValues::F64(&values),
        )?;
    }
    let used: Vec<&String> = variables.iter().flat_map(|v| &v.dims).collect();
    write_coordinates(z, group, coords.iter().filter(|(d, _)| used.contains(d)))
}

/// Each dimension's labels as a coordinate array of `group`.
fn write_coordinates<'a>(
    z: &mut impl LabelledStore,
    group: &str,
    coords: impl IntoIterator<Item = (&'a String, &'a Vec<String>)>,
) -> Result<(), CoreError> {
    for (dim, labels) in coords {
        z.array(
            &format!("{group}/{dim}"),
            &[dim],
            &[labels.len()],
            ArrayValues::Str(labels),
        )?;
    }
    Ok(())
}

/// The `chain` and `draw` coordinates of a group.
fn write_chain_draw(
    z: &mut impl LabelledStore,
    group: &str,
    n_chain: usize,
    n_draw: usize,
) -> Result<(), CoreError> {
    let chain: Vec<i64> = (0..n_chain as i64).collect();
    let draw: Vec<i64> = (0..n_draw as i64).collect();
    z.array(
        &format!("{group}/chain"),
        &["chain"],
        &[n_chain],
        ArrayValues::I64(&chain),
    )?;
    z.array(
        &format!("{group}/draw"),
        &["draw"],
        &[n_draw],
        ArrayValues::I64(&draw),
    )
}

/// A group of whole arrays `(name, dims, shape, values)` with its coordinates.
type Array<'a> = (&'a str, &'a [String], &'a [usize], &'a [f64]);

fn write_group(
    z: &mut impl LabelledStore,
    group: &str,
    arrays: &[Array<'_>],
    coords: &[Coordinate],
    (n_chain, n_draw): (usize, usize),
) -> Result<(), CoreError> {
    z.group(group, group_attrs())?;
    let with_chains = arrays
        .iter()
        .any(|(_, d, _, _)| d.first().is_some_and(|d| d == "chain"));
    if with_chains {
        write_chain_draw(z, group, n_chain, n_draw)?;
    }
    for (name, dims, shape, values) in arrays {
        let dims: Vec<&str> = dims.iter().map(String::as_str).collect();
        z.array(
            &format!("{group}/{name}"),
            &dims,
            shape,
            ArrayValues::F64(values),
        )?;
    }
    write_coordinates(z, group, coords.iter().map(|(d, l)| (d, l)))
}

fn group_attrs() -> serde_json::Value {
    serde_json::json!({ "created_by": format!("mmm export {}", env!("CARGO_PKG_VERSION")) })
}

/// Post-warm-up sampler statistics under ArviZ's names, as a chain x draw grid.
fn write_sample_stats(
    z: &mut impl LabelledStore,
    loaded: &Loaded,
    (n_chain, n_draw): (usize, usize),
) -> Result<(), CoreError> {
    let path = loaded.run.join("fit").join("sample_stats.parquet");
    let b = &loaded.stats;
    let warmup = bool_column(b, "warmup", &path)?;
    let (chain, draw) = (
        i64_column(b, "chain", &path)?,
        i64_column(b, "draw", &path)?,
    );
    let mut kept: Vec<usize> = (0..warmup.len()).filter(|&i| !warmup[i]).collect();
    kept.sort_by_key(|&i| (chain[i], draw[i]));
    if kept.len() != n_chain * n_draw {
        return Err(CoreError::Schema {
            path,
            schema: "sample_stats".into(),
            message: format!(
                "{} post-warm-up rows for {n_chain} chains x {n_draw} draws",
                kept.len()
            ),
        });
    }
    z.group("sample_stats", group_attrs())?;
    write_chain_draw(z, "sample_stats", n_chain, n_draw)?;
    let shape = [n_chain, n_draw];
    let dims = ["chain", "draw"];
    for (ours, arviz) in [
        ("logp", "lp"),
        ("mean_tree_accept", "acceptance_rate"),
        ("energy", "energy"),
        ("step_size", "step_size"),
    ] {
        let all = f64_column(b, ours, &path)?;
        let v: Vec<f64> = kept.iter().map(|&i| all[i]).collect();
        z.array(
            &format!("sample_stats/{arviz}"),
            &dims,
            &shape,
            ArrayValues::F64(&v),
        )?;
    }
    for name in ["tree_depth", "n_steps"] {
        let all = i64_column(b, name, &path)?;
        let v: Vec<i64> = kept.iter().map(|&i| all[i]).collect();
        z.array(
            &format!("sample_stats/{name}"),
            &dims,
            &shape,
            ArrayValues::I64(&v),
        )?;
    }
    let all = bool_column(b, "diverging", &path)?;
    let v: Vec<bool> = kept.iter().map(|&i| all[i]).collect();
    z.array(
        "sample_stats/diverging",
        &dims,
        &shape,
        ArrayValues::Bool(&v),
    )
}

/// One predictive draw per theta (units x periods each, unit-major), seeded.
fn predictive(model: &dyn Fitted, thetas: &[&[f64]], size: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ EXPORT_STREAM);
    let mut out = vec![0.0; thetas.len() * size];
    let mut mean = vec![0.0; size];
    for (i, theta) in thetas.iter().enumerate() {
        model.predictive_draw_units(
            theta,
            &mut rng,
            &mut mean,
            &mut out[i * size..(i + 1) * size],
        );
    }
    out
}

/// Separates the export's random streams from the sampler's and the diagnose stage's.
const EXPORT_STREAM: u64 = 0x4558_504f_5254;

/// `observed_data` (the target) and `constant_data` (spend in currency), per geo under a
/// hierarchy.
fn write_observed_and_spend(
    z: &mut impl LabelledStore,
    loaded: &Loaded,
    target: &str,
    dates: &[String],
    units: &[String],
) -> Result<(), CoreError> {
    let designs: Vec<&Design> = match &loaded.panel {
        Some(panel) => panel.designs.iter().collect(),
        None => vec![&loaded.design],
    };
    let geo = loaded.panel.is_some();
    let n = dates.len();
    let mut observed = Vec::with_capacity(designs.len() * n);
    let channels = &loaded.design.channel_names;
    let mut spend = Vec::with_capacity(designs.len() * n * channels.len());
    for d in &designs {
        observed.extend(d.target_scaled.iter().map(|y| y * d.scales.target));
        for t in 0..n {
            for (c, name) in channels.iter().enumerate() {
                let scale = d.scales.channels.get(name).copied().unwrap_or(1.0);
                spend.push(d.channels[c][t] * scale);
            }
        }
    }
    let (obs_dims, obs_shape, mut coords) = series_axes(&[], geo.then_some(units), dates);
    write_group(
        z,
        "observed_data",
        &[(target, &obs_dims, &obs_shape, &observed)],
        &coords,
        (0, 0),
    )?;
    let mut spend_dims = obs_dims.clone();
    spend_dims.push("channel".into());
    let mut spend_shape = obs_shape.clone();
    spend_shape.push(channels.len());
    coords.push(("channel".into(), channels.clone()));
    write_group(
        z,
        "constant_data",
        &[("spend", &spend_dims, &spend_shape, &spend)],
        &coords,
        (0, 0),
    )
}

/// `prior` and `prior_predictive`: `diagnose.prior_draws` draws from the priors (one chain).
fn write_prior(
    z: &mut impl LabelledStore,
    loaded: &Loaded,
    model: &dyn Fitted,
    variables: &[Variable],
    coords: &BTreeMap<String, Vec<String>>,
    target: &str,
) -> Result<(), CoreError> {
    let n = loaded.spec.spec.diagnose.prior_draws.max(1);
    let mut rng = ChaCha8Rng::seed_from_u64(loaded.spec.spec.sampler.seed ^ PRIOR_STREAM);
    let mut thetas = Vec::with_capacity(n);
    // A draw the priors cannot give (an improper prior) is skipped, as the diagnose stage does.
    for _ in 0..n * 4 {
        if thetas.len() == n {
            break;
        }
        if let Some(theta) = model.prior_draw(&mut rng) {
            thetas.push(theta);
        }
    }
    let refs: Vec<&[f64]> = thetas.iter().map(Vec::as_slice).collect();
    write_parameters(z, "prior", variables, coords, &refs, (1, refs.len()))?;
    let units = model.unit_names();
    let periods = model.periods();
    let values = predictive(
        model,
        &refs,
        units.len() * periods,
        loaded.spec.spec.sampler.seed,
    );
    let geos = loaded.panel.is_some().then_some(units.as_slice());
    let dates = date_labels(&loaded.design.dates);
    let (dims, shape, time) = series_axes(&[("chain", 1), ("draw", refs.len())], geos, &dates);
    write_group(
        z,
        "prior_predictive",
        &[(target, &dims, &shape, &values)],
        &time,
        (1, refs.len()),
    )
}

/// A dimension's name and labels.
type Coordinate = (String, Vec<String>);

/// Dimensions, sizes and coordinates of a series over (geo,) date after the leading `lead`
/// dimensions (chain and draw, or none).
fn series_axes(
    lead: &[(&str, usize)],
    geos: Option<&[String]>,
    dates: &[String],
) -> (Vec<String>, Vec<usize>, Vec<Coordinate>) {
    let mut dims: Vec<String> = lead.iter().map(|(d, _)| d.to_string()).collect();
    let mut shape: Vec<usize> = lead.iter().map(|(_, n)| *n).collect();
    let mut coords = vec![("date".to_string(), dates.to_vec())];
    if let Some(geos) = geos {
        dims.push("geo".into());
        shape.push(geos.len());
        coords.push(("geo".into(), geos.to_vec()));
    }
    dims.push("date".into());
    shape.push(dates.len());
    (dims, shape, coords)
}

/// Separates the export's prior draws from its predictive draws.
const PRIOR_STREAM: u64 = 0x0050_5249_4f52;
