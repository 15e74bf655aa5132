//! The nuts-rs adapter: any [`LogDensity`] sampled with NUTS on parallel, seeded chains.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, LargeListArray, RecordBatch, UInt64Array,
};
use arrow::compute::cast;
use arrow::datatypes::DataType;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mmm_core::spec::{InitStrategy, MassMatrix};
use nuts_rs::rand::{Rng, RngExt};
use nuts_rs::{
    ArrowConfig, ArrowTrace, ChainProgress, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings,
    EuclideanAdaptOptions, HasDims, InitPositionError, ItemType, LogpError, LowRankNutsSettings,
    Model, NutsSettings, ProgressCallback, Sampler, SamplerWaitResult, Settings, Storable, Value,
};

/// A log density on R^d with its gradient, the only thing the sampler needs from a model.
pub trait LogDensity: Send + Sync + 'static {
    /// Per-chain reusable buffers.
    type Scratch: Send + Sync + Clone + 'static;
    /// Number of unconstrained coordinates.
    fn dim(&self) -> usize;
    /// Names of the stored (constrained) values, one per coordinate.
    fn param_names(&self) -> Vec<String>;
    /// Fresh buffers.
    fn scratch(&self) -> Self::Scratch;
    /// Log density at `u` with the gradient written to `grad`; `None` when not finite.
    fn logp(&self, u: &[f64], grad: &mut [f64], scratch: &mut Self::Scratch) -> Option<f64>;
    /// Constrained values stored for a draw at `u`.
    fn constrain(&self, u: &[f64]) -> Vec<f64>;
    /// An unconstrained point drawn from the prior, when the density has one.
    fn prior_point(&self, _rng: &mut dyn nuts_rs::rand::Rng) -> Option<Vec<f64>> {
        None
    }
}

impl LogDensity for mmm_model::MmmModel {
    type Scratch = mmm_model::Scratch;
    fn dim(&self) -> usize {
        mmm_model::MmmModel::dim(self)
    }
    fn param_names(&self) -> Vec<String> {
        mmm_model::MmmModel::param_names(self)
    }
    fn scratch(&self) -> Self::Scratch {
        mmm_model::MmmModel::scratch(self)
    }
    fn logp(&self, u: &[f64], grad: &mut [f64], scratch: &mut Self::Scratch) -> Option<f64> {
        mmm_model::MmmModel::logp(self, u, grad, scratch).ok()
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        mmm_model::MmmModel::constrain(self, u)
    }
    fn prior_point(&self, rng: &mut dyn nuts_rs::rand::Rng) -> Option<Vec<f64>> {
        self.sample_prior_unconstrained(rng)
    }
}

impl LogDensity for mmm_model::geo::GeoModel {
    type Scratch = mmm_model::geo::GeoScratch;
    fn dim(&self) -> usize {
        mmm_model::geo::GeoModel::dim(self)
    }
    fn param_names(&self) -> Vec<String> {
        mmm_model::geo::GeoModel::param_names(self)
    }
    fn scratch(&self) -> Self::Scratch {
        mmm_model::geo::GeoModel::scratch(self)
    }
    fn logp(&self, u: &[f64], grad: &mut [f64], scratch: &mut Self::Scratch) -> Option<f64> {
        mmm_model::geo::GeoModel::logp(self, u, grad, scratch).ok()
    }
    fn constrain(&self, u: &[f64]) -> Vec<f64> {
        mmm_model::geo::GeoModel::constrain(self, u)
    }
    fn prior_point(&self, rng: &mut dyn nuts_rs::rand::Rng) -> Option<Vec<f64>> {
        self.sample_prior_unconstrained(rng)
    }
}

/// NUTS settings, from the spec's `[sampler]` table.
#[derive(Debug, Clone, serde::Serialize)]
pub struct NutsOptions {
    /// Number of chains.
    pub chains: usize,
    /// Warm-up iterations per chain.
    pub tune: u64,
    /// Kept draws per chain.
    pub draws: u64,
    /// Master seed; chain c uses ChaCha8 stream c + 1 of it (nuts-rs), so draws do not depend on
    /// how many threads run the chains.
    pub seed: u64,
    /// Target acceptance of step-size adaptation.
    pub target_accept: f64,
    /// Maximum tree depth.
    pub max_tree_depth: u64,
    /// Mass-matrix adaptation.
    pub mass_matrix: MassMatrix,
    /// Where chains start.
    pub init: InitStrategy,
    /// The unconstrained start for `InitStrategy::Point`.
    pub start: Option<Vec<f64>>,
    /// Half-width of the uniform jitter around `start`.
    pub jitter: f64,
    /// Worker threads (0 = one per available core).
    pub threads: usize,
    /// Show a progress bar on stderr when it is a terminal.
    pub progress: bool,
    /// When set (e.g. by a Ctrl-C handler), sampling stops and the finished draws are kept.
    #[serde(skip)]
    pub stop: Option<Arc<AtomicBool>>,
}

impl NutsOptions {
    /// Options from a spec's sampler table.
    pub fn from_spec(s: &mmm_core::spec::SamplerSpec) -> Self {
        Self {
            chains: s.chains,
            tune: s.tune,
            draws: s.draws,
            seed: s.seed,
            target_accept: s.target_accept,
            max_tree_depth: s.max_tree_depth,
            mass_matrix: s.mass_matrix,
            init: s.init,
            start: None,
            jitter: s.init_jitter,
            threads: 0,
            progress: true,
            stop: None,
        }
    }
}

/// Errors of the sampler.
#[derive(Debug, thiserror::Error)]
pub enum SampleError {
    /// nuts-rs reported an error.
    #[error("sampler: {0:#}")]
    Nuts(anyhow::Error),
    /// The trace did not have the expected layout.
    #[error("sampler trace: {0}")]
    Trace(String),
}

/// Draws and sampler statistics of all chains.
#[derive(Debug, Clone)]
pub struct Trace {
    /// Names of the stored values.
    pub names: Vec<String>,
    /// Per chain, per kept draw, the constrained values (draw-major: `values[chain][draw * d + j]`).
    pub values: Vec<Vec<f64>>,
    /// Per chain statistics of every iteration (warm-up first).
    pub stats: Vec<ChainStats>,
    /// Seconds spent sampling (threads started to last draw).
    pub sampling_seconds: f64,
    /// False when sampling was stopped early; `values` then holds the draws finished so far.
    pub complete: bool,
}

/// Statistics of one chain, one entry per iteration.
#[derive(Debug, Clone, Default)]
pub struct ChainStats {
    /// True during warm-up.
    pub warmup: Vec<bool>,
    /// Step size.
    pub step_size: Vec<f64>,
    /// Tree depth.
    pub tree_depth: Vec<i64>,
    /// Leapfrog steps.
    pub n_steps: Vec<i64>,
    /// Hamiltonian energy.
    pub energy: Vec<f64>,
    /// Divergent transition.
    pub diverging: Vec<bool>,
    /// Log density.
    pub logp: Vec<f64>,
    /// Mean acceptance probability of the tree.
    pub mean_tree_accept: Vec<f64>,
}

impl Trace {
    /// Number of kept draws of each chain (equal unless sampling was stopped early).
    pub fn draws_per_chain(&self) -> Vec<usize> {
        self.values
            .iter()
            .map(|v| v.len() / self.names.len().max(1))
            .collect()
    }

    /// Values of parameter `j` split by chain.
    pub fn param_chains(&self, j: usize) -> Vec<Vec<f64>> {
        let d = self.names.len();
        self.values
            .iter()
            .map(|v| v.iter().skip(j).step_by(d).copied().collect())
            .collect()
    }

    /// Post-warm-up divergent transitions over all chains.
    pub fn divergences(&self) -> usize {
        self.stats
            .iter()
            .map(|s| {
                s.diverging
                    .iter()
                    .zip(&s.warmup)
                    .filter(|(d, w)| **d && !**w)
                    .count()
            })
            .sum()
    }

    /// Total leapfrog steps (gradient evaluations) over all chains, warm-up included.
    pub fn gradient_evaluations(&self) -> u64 {
        self.stats
            .iter()
            .map(|s| s.n_steps.iter().sum::<i64>() as u64)
            .sum()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("log density not finite")]
struct NotFinite;

impl LogpError for NotFinite {
    fn is_recoverable(&self) -> bool {
        true
    }
}

struct Density<D: LogDensity> {
    inner: Arc<D>,
    scratch: D::Scratch,
    names: Vec<String>,
}

impl<D: LogDensity> Clone for Density<D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            scratch: self.scratch.clone(),
            names: self.names.clone(),
        }
    }
}

impl<D: LogDensity> HasDims for Density<D> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([
            (
                "unconstrained_parameter".to_string(),
                self.inner.dim() as u64,
            ),
            (PARAMETER_DIM.to_string(), self.names.len() as u64),
        ])
    }
}

/// Column of the nuts-rs trace that holds each draw's constrained values, and its dimension.
const DRAW_ITEM: &str = "theta";
const PARAMETER_DIM: &str = "parameter";

/// The constrained values of one draw, stored as one vector item (one append per draw in the
/// sampler's storage instead of one per parameter); `convert` splits it into named columns.
struct Draw(Vec<f64>);

impl<D: LogDensity> Storable<Density<D>> for Draw {
    fn names(_parent: &Density<D>) -> Vec<&str> {
        vec![DRAW_ITEM]
    }
    fn item_type(_parent: &Density<D>, _item: &str) -> ItemType {
        ItemType::F64
    }
    fn dims<'a>(_parent: &'a Density<D>, _item: &str) -> Vec<&'a str> {
        vec![PARAMETER_DIM]
    }
    fn get_all<'a>(&'a mut self, _parent: &'a Density<D>) -> Vec<(&'a str, Option<Value>)> {
        vec![(DRAW_ITEM, Some(Value::F64(std::mem::take(&mut self.0))))]
    }
}

impl<D: LogDensity> CpuLogpFunc for Density<D> {
    type LogpError = NotFinite;
    type FlowParameters = ();
    type ExpandedVector = Draw;

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn logp(&mut self, position: &[f64], gradient: &mut [f64]) -> Result<f64, NotFinite> {
        self.inner
            .logp(position, gradient, &mut self.scratch)
            .ok_or(NotFinite)
    }

    fn expand_vector<R: Rng + ?Sized>(
        &mut self,
        _rng: &mut R,
        array: &[f64],
    ) -> Result<Draw, CpuMathError> {
        Ok(Draw(self.inner.constrain(array)))
    }
}

struct NutsModel<D: LogDensity> {
    density: Density<D>,
    init: InitStrategy,
    start: Option<Vec<f64>>,
    jitter: f64,
}

impl<D: LogDensity> Model for NutsModel<D> {
    type Math = CpuMath<Density<D>>;

    fn math<R: Rng + ?Sized>(self: Arc<Self>, _rng: &mut R) -> anyhow::Result<Self::Math> {
        Ok(CpuMath::new(self.density.clone()))
    }

    /// Uniform(-2, 2) in unconstrained space (as Stan), a prior draw, or a given point with
    /// uniform jitter; nuts-rs retries points whose log density is not finite.
    fn init_position<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        _chain_id: u64,
        position: &mut [f64],
    ) -> Result<(), InitPositionError> {
        match self.init {
            InitStrategy::Uniform => {
                for p in position.iter_mut() {
                    *p = rng.random_range(-2.0..2.0);
                }
            }
            InitStrategy::Point => {
                let start = self.start.as_ref().ok_or_else(|| {
                    InitPositionError::Fatal(anyhow::anyhow!("init = point without a start"))
                })?;
                for (p, s) in position.iter_mut().zip(start) {
                    *p = if self.jitter > 0.0 {
                        s + rng.random_range(-self.jitter..self.jitter)
                    } else {
                        *s
                    };
                }
            }
            InitStrategy::Prior => {
                let mut rng_dyn: &mut R = rng;
                let point = self
                    .density
                    .inner
                    .prior_point(&mut rng_dyn)
                    .ok_or_else(|| {
                        InitPositionError::Fatal(anyhow::anyhow!(
                            "this density cannot draw from its prior"
                        ))
                    })?;
                position.copy_from_slice(&point);
            }
        }
        let mut grad = vec![0.0; position.len()];
        let mut scratch = self.density.scratch.clone();
        match self.density.inner.logp(position, &mut grad, &mut scratch) {
            Some(_) => Ok(()),
            None => Err(InitPositionError::Retry(anyhow::anyhow!(
                "non-finite log density at the initial point"
            ))),
        }
    }
}

/// Sample `density` with NUTS.
pub fn sample<D: LogDensity>(density: Arc<D>, opts: &NutsOptions) -> Result<Trace, SampleError> {
    let names = density.param_names();
    if let Some(start) = &opts.start
        && start.len() != density.dim()
    {
        return Err(SampleError::Trace(format!(
            "start has {} coordinates, the density {}",
            start.len(),
            density.dim()
        )));
    }
    let model = NutsModel {
        init: opts.init,
        start: opts.start.clone(),
        jitter: opts.jitter,
        density: Density {
            scratch: density.scratch(),
            inner: density,
            names: names.clone(),
        },
    };
    match opts.mass_matrix {
        MassMatrix::Diag => run(
            model,
            configure(DiagNutsSettings::default(), opts),
            opts,
            names,
        ),
        MassMatrix::LowRank => run(
            model,
            configure(LowRankNutsSettings::default(), opts),
            opts,
            names,
        ),
    }
}

/// Apply the spec's sampler settings to either mass-matrix variant of nuts-rs's NUTS settings.
fn configure<M>(
    settings: NutsSettings<EuclideanAdaptOptions<M>>,
    opts: &NutsOptions,
) -> NutsSettings<EuclideanAdaptOptions<M>>
where
    M: std::fmt::Debug + Default + Copy + serde::Serialize,
    EuclideanAdaptOptions<M>: std::fmt::Debug + Default + Copy + serde::Serialize,
{
    let mut adapt_options = settings.adapt_options;
    adapt_options.step_size_settings.target_accept = opts.target_accept;
    NutsSettings {
        num_chains: opts.chains,
        num_tune: opts.tune,
        num_draws: opts.draws,
        seed: opts.seed,
        maxdepth: opts.max_tree_depth,
        adapt_options,
        ..settings
    }
}

/// One progress bar per chain on stderr (hidden when not a terminal or when disabled).
fn progress_bars(opts: &NutsOptions) -> (MultiProgress, Vec<ProgressBar>) {
    let target = if opts.progress {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let multi = MultiProgress::with_draw_target(target);
    let style = ProgressStyle::with_template("chain {prefix} {bar:30} {pos}/{len} {msg}").ok();
    let bars = (0..opts.chains)
        .map(|c| {
            let bar = multi.add(ProgressBar::new(opts.tune + opts.draws));
            if let Some(style) = &style {
                bar.set_style(style.clone());
            }
            bar.set_prefix(c.to_string());
            bar
        })
        .collect();
    (multi, bars)
}

fn run<D: LogDensity, S: Settings>(
    model: NutsModel<D>,
    settings: S,
    opts: &NutsOptions,
    names: Vec<String>,
) -> Result<Trace, SampleError> {
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    };
    let (_multi, bars) = progress_bars(opts);
    let cb_bars = bars.clone();
    let callback = ProgressCallback {
        callback: Box::new(move |_elapsed: Duration, chains: Box<[ChainProgress]>| {
            for (bar, c) in cb_bars.iter().zip(chains.iter()) {
                bar.set_position(c.finished_draws as u64);
                let phase = if c.tuning { "warm-up" } else { "sampling" };
                bar.set_message(format!(
                    "{phase}, {} divergences, step size {:.3}",
                    c.divergences, c.step_size
                ));
            }
        }),
        rate: Duration::from_millis(100),
    };
    let start = Instant::now();
    let mut sampler = Sampler::new(
        Arc::new(model),
        settings,
        ArrowConfig::new().store_warmup(true),
        threads,
        Some(callback),
    )
    .map_err(SampleError::Nuts)?;
    let mut complete = true;
    let traces: Vec<ArrowTrace> = loop {
        match sampler.wait_timeout(Duration::from_millis(20)) {
            SamplerWaitResult::Trace(t) => break t,
            SamplerWaitResult::Timeout(s) => {
                if opts
                    .stop
                    .as_ref()
                    .is_some_and(|f| f.load(Ordering::Relaxed))
                {
                    complete = false;
                    let (err, t) = s.abort().map_err(SampleError::Nuts)?;
                    if let Some(e) = err {
                        return Err(SampleError::Nuts(e));
                    }
                    break t;
                }
                sampler = s;
            }
            SamplerWaitResult::Err(e, _) => return Err(SampleError::Nuts(e)),
        }
    };
    let sampling_seconds = start.elapsed().as_secs_f64();
    for bar in &bars {
        bar.finish_and_clear();
    }
    convert(traces, names, opts, sampling_seconds, complete)
}

fn f64_col(batch: &RecordBatch, name: &str) -> Result<Vec<f64>, SampleError> {
    let arr = batch
        .column_by_name(name)
        .ok_or_else(|| SampleError::Trace(format!("no column '{name}'")))?;
    let arr = cast(arr, &DataType::Float64).map_err(|e| SampleError::Trace(e.to_string()))?;
    let a = arr
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| SampleError::Trace(format!("column '{name}' is not numeric")))?;
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { f64::NAN } else { a.value(i) })
        .collect())
}

/// The `theta` column (one list of constrained values per iteration) as one row-major vector.
fn draw_values(batch: &RecordBatch, dim: usize) -> Result<Vec<f64>, SampleError> {
    let column = batch
        .column_by_name(DRAW_ITEM)
        .ok_or_else(|| SampleError::Trace(format!("no column '{DRAW_ITEM}'")))?;
    let list = column
        .as_any()
        .downcast_ref::<LargeListArray>()
        .ok_or_else(|| SampleError::Trace(format!("column '{DRAW_ITEM}' is not a list")))?;
    let offsets = list.value_offsets();
    let (first, last) = (offsets[0] as usize, offsets[list.len()] as usize);
    if list.null_count() > 0 || last - first != list.len() * dim {
        return Err(SampleError::Trace(format!(
            "column '{DRAW_ITEM}' does not hold {dim} values per iteration"
        )));
    }
    let offset = first;
    let values = list
        .values()
        .as_any()
        .downcast_ref::<Float64Array>()
        .ok_or_else(|| SampleError::Trace(format!("column '{DRAW_ITEM}' is not f64")))?;
    Ok(values.values()[offset..offset + list.len() * dim].to_vec())
}

fn bool_col(batch: &RecordBatch, name: &str) -> Result<Vec<bool>, SampleError> {
    let arr: &ArrayRef = batch
        .column_by_name(name)
        .ok_or_else(|| SampleError::Trace(format!("no column '{name}'")))?;
    let a = arr
        .as_any()
        .downcast_ref::<BooleanArray>()
        .ok_or_else(|| SampleError::Trace(format!("column '{name}' is not boolean")))?;
    Ok((0..a.len()).map(|i| !a.is_null(i) && a.value(i)).collect())
}

fn int_col(batch: &RecordBatch, name: &str) -> Result<Vec<i64>, SampleError> {
    let arr = batch
        .column_by_name(name)
        .ok_or_else(|| SampleError::Trace(format!("no column '{name}'")))?;
    let arr = cast(arr, &DataType::UInt64).map_err(|e| SampleError::Trace(e.to_string()))?;
    let a = arr
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| SampleError::Trace(format!("column '{name}' is not an integer")))?;
    Ok((0..a.len())
        .map(|i| if a.is_null(i) { 0 } else { a.value(i) as i64 })
        .collect())
}

fn convert(
    traces: Vec<ArrowTrace>,
    names: Vec<String>,
    opts: &NutsOptions,
    sampling_seconds: f64,
    complete: bool,
) -> Result<Trace, SampleError> {
    let tune = opts.tune as usize;
    let mut values = Vec::with_capacity(traces.len());
    let mut stats = Vec::with_capacity(traces.len());
    for t in &traces {
        let rows = t.posterior.num_rows();
        if rows < tune && complete {
            return Err(SampleError::Trace(format!(
                "chain has {rows} iterations, fewer than {tune} warm-up"
            )));
        }
        let flat = draw_values(&t.posterior, names.len())?;
        values.push(flat[tune.min(rows) * names.len()..].to_vec());
        let ss = &t.sample_stats;
        let n = ss.num_rows();
        stats.push(ChainStats {
            warmup: (0..n).map(|i| i < tune).collect(),
            step_size: f64_col(ss, "step_size")?,
            tree_depth: int_col(ss, "depth")?,
            n_steps: int_col(ss, "n_steps")?,
            energy: f64_col(ss, "energy")?,
            diverging: bool_col(ss, "diverging")?,
            logp: f64_col(ss, "logp")?,
            mean_tree_accept: f64_col(ss, "mean_tree_accept")?,
        });
    }
    Ok(Trace {
        names,
        values,
        stats,
        sampling_seconds,
        complete,
    })
}
