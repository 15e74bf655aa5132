//! The fit stage: the nuts-rs adapter (parallel seeded chains, progress, draws to Arrow/Parquet).

pub mod nuts;
pub mod precondition;
pub mod recovery;
pub mod sbc;

use std::path::Path;
use std::sync::Arc;

use mmm_core::spec::LoadedSpec;
use mmm_core::{BatchBuilder, CoreError, Manifest, RunStatus, StageWriter, schemas};
use mmm_features::Design;
use mmm_model::MmmModel;

pub use nuts::{LogDensity, NonFinite, NutsOptions, SampleError, StartError, Trace, sample};
pub use precondition::Preconditioned;

/// Name of the stage.
pub const STAGE: &str = mmm_core::Stage::Fit.name();

/// Errors of the fit stage.
#[derive(Debug, thiserror::Error)]
pub enum FitError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// The model could not be built.
    #[error(transparent)]
    Model(#[from] mmm_model::ModelError),
    /// Sampling failed.
    #[error(transparent)]
    Sample(#[from] SampleError),
    /// `sampler.init_point` names unknown parameters or values outside their support.
    #[error("sampler.init_point: {0}")]
    InitPoint(#[source] mmm_model::ModelError),
    /// At `sampler.init_point` the log density cannot be evaluated.
    #[error("sampler.init_point: at the given start the log density or its gradient is not finite")]
    InitPointNotFinite(#[source] NonFinite),
    /// Building an output table failed.
    #[error("building {table}: {source}")]
    Table {
        /// The artifact.
        table: &'static str,
        /// Arrow's error.
        #[source]
        source: arrow::error::ArrowError,
    },
}

/// The wide draws table: `chain`, `draw`, then one column per parameter.
pub fn draws_batch(trace: &Trace) -> Result<arrow::array::RecordBatch, FitError> {
    let d = trace.names.len();
    let per = trace.draws_per_chain();
    let mut b = BatchBuilder::new()
        .i64(
            "chain",
            per.iter()
                .enumerate()
                .flat_map(|(c, &n)| std::iter::repeat_n(c as i64, n))
                .collect(),
        )
        .i64("draw", per.iter().flat_map(|&n| 0..n as i64).collect());
    for (j, name) in trace.names.iter().enumerate() {
        let col: Vec<f64> = trace
            .values
            .iter()
            .flat_map(|v| v.iter().skip(j).step_by(d).copied())
            .collect();
        b = b.f64(name, col);
    }
    b.build().map_err(|source| FitError::Table {
        table: "draws.parquet",
        source,
    })
}

/// The sample-stats table, one row per iteration of each chain.
pub fn stats_batch(trace: &Trace) -> Result<arrow::array::RecordBatch, FitError> {
    let cat = |f: &dyn Fn(&nuts::ChainStats) -> Vec<f64>| {
        trace.stats.iter().flat_map(f).collect::<Vec<f64>>()
    };
    let cati = |f: &dyn Fn(&nuts::ChainStats) -> Vec<i64>| {
        trace.stats.iter().flat_map(f).collect::<Vec<i64>>()
    };
    let catb = |f: &dyn Fn(&nuts::ChainStats) -> Vec<bool>| {
        trace.stats.iter().flat_map(f).collect::<Vec<bool>>()
    };
    BatchBuilder::new()
        .i64(
            "chain",
            trace
                .stats
                .iter()
                .enumerate()
                .flat_map(|(c, s)| std::iter::repeat_n(c as i64, s.warmup.len()))
                .collect(),
        )
        .i64(
            "draw",
            trace
                .stats
                .iter()
                .flat_map(|s| 0..s.warmup.len() as i64)
                .collect(),
        )
        .bool("warmup", catb(&|s| s.warmup.clone()))
        .f64("step_size", cat(&|s| s.step_size.clone()))
        .i64("tree_depth", cati(&|s| s.tree_depth.clone()))
        .i64("n_steps", cati(&|s| s.n_steps.clone()))
        .f64("energy", cat(&|s| s.energy.clone()))
        .bool("diverging", catb(&|s| s.diverging.clone()))
        .f64("logp", cat(&|s| s.logp.clone()))
        .f64("mean_tree_accept", cat(&|s| s.mean_tree_accept.clone()))
        .build()
        .map_err(|source| FitError::Table {
            table: "sample_stats.parquet",
            source,
        })
}

/// A model that can start from named parameter values: [`MmmModel`] and the geo hierarchy.
pub trait NamedStart: nuts::LogDensity {
    /// The unconstrained vector with the `named` constrained values and every other parameter
    /// drawn from its prior with `rng`.
    fn unconstrained_from_named(
        &self,
        named: &std::collections::BTreeMap<String, f64>,
        rng: &mut mmm_model::rand::rngs::StdRng,
    ) -> Result<Vec<f64>, mmm_model::ModelError>;
}

/// Both models name their parameters and draw the rest from the priors the same way.
macro_rules! named_start {
    ($model:ty) => {
        impl NamedStart for $model {
            fn unconstrained_from_named(
                &self,
                named: &std::collections::BTreeMap<String, f64>,
                rng: &mut mmm_model::rand::rngs::StdRng,
            ) -> Result<Vec<f64>, mmm_model::ModelError> {
                Ok(self.unconstrain(&self.theta_from_named(named, rng)?.theta))
            }
        }
    };
}
named_start!(MmmModel);
named_start!(mmm_model::geo::GeoModel);

/// The unconstrained start for `init = "point"`: the named values of `sampler.init_point`,
/// the other parameters from a prior draw seeded by the spec's seed (under the geo hierarchy,
/// unnamed geo deviations too).
pub fn start_point<M: NamedStart>(
    model: &M,
    sampler: &mmm_core::spec::SamplerSpec,
) -> Result<Vec<f64>, FitError> {
    use mmm_model::rand::SeedableRng;
    let mut rng = mmm_model::rand::rngs::StdRng::seed_from_u64(sampler.seed);
    let u = model
        .unconstrained_from_named(&sampler.init_point, &mut rng)
        .map_err(FitError::InitPoint)?;
    let mut grad = vec![0.0; u.len()];
    model
        .logp(&u, &mut grad, &mut model.scratch())
        .map_err(FitError::InitPointNotFinite)?;
    Ok(u)
}

/// Options of the fit stage beyond the spec.
#[derive(Debug, Clone, Default)]
pub struct FitOptions {
    /// Redo even when outputs are fresh.
    pub force: bool,
    /// Worker threads (0 = one per core).
    pub threads: usize,
    /// Override the spec's seed.
    pub seed: Option<u64>,
    /// Show progress on stderr.
    pub progress: bool,
    /// Set to stop sampling early (Ctrl-C); finished draws are written and the manifest says
    /// `incomplete`, which downstream stages refuse.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

/// The fit stage: sample the model on the features stage's design; write draws and stats.
pub fn run(
    spec: &LoadedSpec,
    features_dir: &Path,
    out_dir: &Path,
    opts: &FitOptions,
) -> Result<Option<Manifest>, FitError> {
    let [features] = mmm_core::open_chain(spec.into(), [(features_dir, mmm_features::STAGE)])?;
    let (design, mut inputs) = Design::load(&features, &spec.spec)?;
    let panel = if spec.spec.geo.is_hierarchical() {
        let (panel, records) = mmm_features::panel::GeoDesign::load(&features, &spec.spec)?;
        inputs.extend(records);
        Some(panel)
    } else {
        None
    };
    let mut nuts_opts = NutsOptions::from_spec(&spec.spec);
    nuts_opts.threads = opts.threads;
    nuts_opts.progress = opts.progress;
    nuts_opts.stop = opts.stop.clone();
    if let Some(seed) = opts.seed {
        nuts_opts.seed = seed;
    }
    // A seed override changes the outputs, so it is part of what makes them fresh.
    let stage_inputs = mmm_core::StageInputs::new(spec, &[&features], inputs)
        .with_options(serde_json::json!({ "seed": nuts_opts.seed }));
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        stage_inputs,
        opts.force,
    )?
    else {
        return Ok(None);
    };
    let (trace, names) = match panel {
        Some(panel) => {
            let model = Arc::new(mmm_model::geo::GeoModel::new(&spec.spec, &panel)?);
            if spec.spec.sampler.init == mmm_core::spec::InitStrategy::Point {
                nuts_opts.start = Some(start_point(model.as_ref(), &spec.spec.sampler)?);
            }
            tracing::info!(
                chains = nuts_opts.chains,
                geos = panel.len(),
                parameters = model.dim(),
                "sampling the geo hierarchy"
            );
            (sample(Arc::clone(&model), &nuts_opts)?, model.param_names())
        }
        None => {
            let model = Arc::new(MmmModel::new(&spec.spec, &design)?);
            if spec.spec.sampler.init == mmm_core::spec::InitStrategy::Point {
                nuts_opts.start = Some(start_point(model.as_ref(), &spec.spec.sampler)?);
            }
            tracing::info!(
                chains = nuts_opts.chains,
                tune = nuts_opts.tune,
                draws = nuts_opts.draws,
                parameters = model.dim(),
                "sampling"
            );
            (sample(Arc::clone(&model), &nuts_opts)?, model.param_names())
        }
    };
    writer.write_parquet("draws.parquet", &draws_batch(&trace)?, &schemas::draws())?;
    writer.write_parquet(
        "sample_stats.parquet",
        &stats_batch(&trace)?,
        &schemas::sample_stats(),
    )?;
    let settings = serde_json::json!({
        "sampler": "nuts-rs 0.19 NUTS",
        "options": nuts_opts,
        "parameters": names,
        "divergences": trace.divergences(),
        "gradient_evaluations": trace.gradient_evaluations(),
        "sampling_seconds": trace.sampling_seconds,
        "draws_per_chain": trace.draws_per_chain(),
    });
    let status = if trace.complete {
        RunStatus::Complete
    } else {
        tracing::warn!(
            "sampling was stopped early; the finished draws are kept and the fit is marked incomplete"
        );
        RunStatus::Incomplete
    };
    Ok(Some(writer.finish(
        Some(nuts_opts.seed),
        settings,
        status,
    )?))
}
