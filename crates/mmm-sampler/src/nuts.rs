//! The nuts-rs adapter: any [`LogDensity`] sampled with NUTS on parallel, seeded chains.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use mmm_core::spec::{InitStrategy, MassMatrix};
pub use mmm_model::NonFinite;
use nuts_rs::rand::rngs::ChaCha8Rng;
use nuts_rs::rand::{Rng, RngExt, SeedableRng};
use nuts_rs::{
    Chain, CpuLogpFunc, CpuMath, CpuMathError, DiagNutsSettings, EuclideanAdaptOptions, HasDims,
    ItemType, LogpError, LowRankNutsSettings, Math, NutsSettings, SamplerStats, Settings, Storable,
    Value,
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
    /// Log density at `u` with the gradient written to `grad`; an error (the sampler rejects
    /// the point) when it is not finite.
    fn logp(
        &self,
        u: &[f64],
        grad: &mut [f64],
        scratch: &mut Self::Scratch,
    ) -> Result<f64, NonFinite>;
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
    fn logp(
        &self,
        u: &[f64],
        grad: &mut [f64],
        scratch: &mut Self::Scratch,
    ) -> Result<f64, NonFinite> {
        mmm_model::MmmModel::logp(self, u, grad, scratch)
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
    fn logp(
        &self,
        u: &[f64],
        grad: &mut [f64],
        scratch: &mut Self::Scratch,
    ) -> Result<f64, NonFinite> {
        mmm_model::geo::GeoModel::logp(self, u, grad, scratch)
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
    /// Step size the adaptation starts from (a warm start's previous step size); nuts-rs's
    /// default when `None`.
    pub initial_step: Option<f64>,
    /// Worker threads (0 = one per available core).
    pub threads: usize,
    /// Show a progress bar on stderr when it is a terminal.
    pub progress: bool,
    /// When set (e.g. by a Ctrl-C handler), sampling stops and the finished draws are kept.
    #[serde(skip)]
    pub stop: Option<Arc<AtomicBool>>,
}

impl NutsOptions {
    /// Options from a spec's sampler table (the target acceptance's default depends on the
    /// model: [`mmm_core::Spec::target_accept`]).
    pub fn from_spec(spec: &mmm_core::Spec) -> Self {
        let s = &spec.sampler;
        Self {
            chains: s.chains,
            tune: s.tune,
            draws: s.draws,
            seed: s.seed,
            target_accept: spec.target_accept(),
            max_tree_depth: s.max_tree_depth,
            mass_matrix: s.mass_matrix,
            init: s.init,
            start: None,
            jitter: s.init_jitter,
            initial_step: None,
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
    /// The given start has another number of coordinates than the density.
    #[error("the start has {given} coordinates, the density {dim}")]
    StartLength {
        /// Coordinates of the start.
        given: usize,
        /// Coordinates of the density.
        dim: usize,
    },
    /// A chain's thread ended without returning its draws (it panicked).
    #[error("chain {chain} did not finish")]
    ChainLost {
        /// The chain.
        chain: usize,
    },
    /// A chain found no start with a finite log density.
    #[error("chain {chain}: no valid initial position: {reason}")]
    NoStart {
        /// The chain.
        chain: u64,
        /// Why.
        #[source]
        reason: StartError,
    },
}

/// Why a chain has no start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// `init = "point"` without a start point.
    #[error("init = point without a start")]
    PointWithoutStart,
    /// `init = "prior"` on a density without a prior.
    #[error("this density cannot draw from its prior")]
    NoPrior,
    /// Every tried point failed; the source is the last failure.
    #[error("all {tries} initialization points failed: {last}")]
    AllFailed {
        /// Points tried.
        tries: usize,
        /// The last point's failure.
        #[source]
        last: Box<dyn std::error::Error + Send + Sync>,
    },
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
struct NotFinite(#[source] NonFinite);

impl LogpError for NotFinite {
    fn is_recoverable(&self) -> bool {
        true
    }
}

struct Density<D: LogDensity> {
    inner: Arc<D>,
    scratch: D::Scratch,
}

impl<D: LogDensity> Clone for Density<D> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            scratch: self.scratch.clone(),
        }
    }
}

impl<D: LogDensity> HasDims for Density<D> {
    fn dim_sizes(&self) -> HashMap<String, u64> {
        HashMap::from([(
            "unconstrained_parameter".to_string(),
            self.inner.dim() as u64,
        )])
    }
}

/// nuts-rs hands every draw to `expand_vector`; the driver constrains the kept draws itself, so
/// warm-up iterations cost no `constrain` and nothing per draw goes through named storage.
struct NoExpansion;

impl<D: LogDensity> Storable<Density<D>> for NoExpansion {
    fn names(_parent: &Density<D>) -> Vec<&str> {
        Vec::new()
    }
    fn item_type(_parent: &Density<D>, _item: &str) -> ItemType {
        ItemType::F64
    }
    fn dims<'a>(_parent: &'a Density<D>, _item: &str) -> Vec<&'a str> {
        Vec::new()
    }
    fn get_all<'a>(&'a mut self, _parent: &'a Density<D>) -> Vec<(&'a str, Option<Value>)> {
        Vec::new()
    }
}

impl<D: LogDensity> CpuLogpFunc for Density<D> {
    type LogpError = NotFinite;
    type FlowParameters = ();
    type ExpandedVector = NoExpansion;

    fn dim(&self) -> usize {
        self.inner.dim()
    }

    fn logp(&mut self, position: &[f64], gradient: &mut [f64]) -> Result<f64, NotFinite> {
        self.inner
            .logp(position, gradient, &mut self.scratch)
            .map_err(NotFinite)
    }

    fn expand_vector<R: Rng + ?Sized>(
        &mut self,
        _rng: &mut R,
        _array: &[f64],
    ) -> Result<NoExpansion, CpuMathError> {
        Ok(NoExpansion)
    }
}

/// The density with where its chains start.
struct NutsModel<D: LogDensity> {
    density: Density<D>,
    init: InitStrategy,
    start: Option<Vec<f64>>,
    jitter: f64,
}

/// Why no start could be used.
enum InitError {
    /// Trying again with another random point cannot help.
    Fatal(StartError),
    /// The point had a non-finite log density; another may not.
    Retry(NonFinite),
}

impl<D: LogDensity> NutsModel<D> {
    /// Uniform(-2, 2) in unconstrained space (as Stan), a prior draw, or a given point with
    /// uniform jitter.
    fn initial_position<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        position: &mut [f64],
    ) -> Result<(), InitError> {
        match self.init {
            InitStrategy::Uniform => {
                for p in position.iter_mut() {
                    *p = rng.random_range(-2.0..2.0);
                }
            }
            InitStrategy::Point => {
                let start = self
                    .start
                    .as_ref()
                    .ok_or(InitError::Fatal(StartError::PointWithoutStart))?;
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
                    .ok_or(InitError::Fatal(StartError::NoPrior))?;
                position.copy_from_slice(&point);
            }
        }
        let mut grad = vec![0.0; position.len()];
        let mut scratch = self.density.scratch.clone();
        self.density
            .inner
            .logp(position, &mut grad, &mut scratch)
            .map(|_| ())
            .map_err(InitError::Retry)
    }
}

/// Starting points tried per chain before giving up (as nuts-rs's own driver).
const INIT_TRIES: usize = 500;

/// Sample `density` with NUTS.
pub fn sample<D: LogDensity>(density: Arc<D>, opts: &NutsOptions) -> Result<Trace, SampleError> {
    let names = density.param_names();
    if let Some(start) = &opts.start
        && start.len() != density.dim()
    {
        return Err(SampleError::StartLength {
            given: start.len(),
            dim: density.dim(),
        });
    }
    let model = NutsModel {
        init: opts.init,
        start: opts.start.clone(),
        jitter: opts.jitter,
        density: Density {
            scratch: density.scratch(),
            inner: density,
        },
    };
    // The stats are read field by field from nuts-rs's typed per-iteration statistics; the
    // closure is written once here because the two mass-matrix variants have different types.
    macro_rules! iteration_stats {
        () => {
            |s| IterationStats {
                step_size: s.hamiltonian.step_size,
                depth: s.depth,
                n_steps: s.adapt.step_size.n_steps,
                energy: s.point.energy,
                diverging: s.divergence.diverging,
                logp: s.point.logp,
                mean_tree_accept: s.adapt.step_size.mean_tree_accept,
            }
        };
    }
    match opts.mass_matrix {
        MassMatrix::Diag => run(
            &model,
            &configure(DiagNutsSettings::default(), opts),
            opts,
            names,
            iteration_stats!(),
        ),
        MassMatrix::LowRank => run(
            &model,
            &configure(LowRankNutsSettings::default(), opts),
            opts,
            names,
            iteration_stats!(),
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
    if let Some(step) = opts.initial_step.filter(|s| s.is_finite() && *s > 0.0) {
        adapt_options.step_size_settings.initial_step = step;
    }
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

/// The statistics kept of one NUTS iteration.
struct IterationStats {
    step_size: f64,
    depth: u64,
    n_steps: u64,
    energy: f64,
    diverging: bool,
    logp: f64,
    mean_tree_accept: f64,
}

/// What one chain produced: its kept draws (constrained, draw-major) and per-iteration stats.
struct ChainOutput {
    values: Vec<f64>,
    stats: ChainStats,
    complete: bool,
}

/// The chain type nuts-rs builds for settings `S` on our density.
type ChainOf<S, D> = <S as Settings>::Chain<CpuMath<Density<D>>>;
/// Its typed per-iteration statistics.
type StatsOf<S, D> = <ChainOf<S, D> as SamplerStats<CpuMath<Density<D>>>>::Stats;

/// Run the chains on `opts.threads` worker threads, each taking whole chains from a shared
/// counter. Every chain owns its RNG stream, so draws do not depend on the thread count.
fn run<D, S, F>(
    model: &NutsModel<D>,
    settings: &S,
    opts: &NutsOptions,
    names: Vec<String>,
    read_stats: F,
) -> Result<Trace, SampleError>
where
    D: LogDensity,
    S: Settings + Sync,
    F: Fn(&StatsOf<S, D>) -> IterationStats + Sync,
{
    let threads = if opts.threads == 0 {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    } else {
        opts.threads
    }
    .clamp(1, opts.chains.max(1));
    let (_multi, bars) = progress_bars(opts);
    let next_chain = AtomicUsize::new(0);
    let outputs: Vec<Mutex<Option<Result<ChainOutput, SampleError>>>> =
        (0..opts.chains).map(|_| Mutex::new(None)).collect();
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                loop {
                    let chain = next_chain.fetch_add(1, Ordering::Relaxed);
                    if chain >= opts.chains {
                        break;
                    }
                    let output = run_chain(
                        model,
                        settings,
                        chain as u64,
                        opts,
                        &read_stats,
                        &bars[chain],
                    );
                    if let Ok(mut slot) = outputs[chain].lock() {
                        *slot = Some(output);
                    }
                }
            });
        }
    });
    let sampling_seconds = start.elapsed().as_secs_f64();
    for bar in &bars {
        bar.finish_and_clear();
    }
    let mut values = Vec::with_capacity(opts.chains);
    let mut stats = Vec::with_capacity(opts.chains);
    let mut complete = true;
    for (chain, slot) in outputs.into_iter().enumerate() {
        let output = slot
            .into_inner()
            .ok()
            .flatten()
            .ok_or(SampleError::ChainLost { chain })??;
        complete &= output.complete;
        values.push(output.values);
        stats.push(output.stats);
    }
    Ok(Trace {
        names,
        values,
        stats,
        sampling_seconds,
        complete,
    })
}

/// One chain from its seeded start to its last draw, or until the stop flag is set.
///
/// Seeding, start retries and the RNG stream (ChaCha8 stream `chain + 1` of the seed) follow
/// nuts-rs's own driver, so the draws equal what its `Sampler` gives.
fn run_chain<D, S, F>(
    model: &NutsModel<D>,
    settings: &S,
    chain_id: u64,
    opts: &NutsOptions,
    read_stats: &F,
    bar: &ProgressBar,
) -> Result<ChainOutput, SampleError>
where
    D: LogDensity,
    S: Settings,
    F: Fn(&StatsOf<S, D>) -> IterationStats,
{
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    rng.set_stream(chain_id + 1);
    let math = CpuMath::new(model.density.clone());
    let dim = math.dim();
    let mut chain: ChainOf<S, D> = settings
        .new_chain(chain_id, math, &mut rng)
        .map_err(SampleError::Nuts)?;
    let mut position = vec![0.0; dim];
    let mut last_error: Option<Box<dyn std::error::Error + Send + Sync>> = None;
    let mut started = false;
    for _ in 0..INIT_TRIES {
        match model.initial_position(&mut rng, &mut position) {
            Err(InitError::Fatal(reason)) => {
                return Err(SampleError::NoStart {
                    chain: chain_id,
                    reason,
                });
            }
            Err(InitError::Retry(e)) => {
                last_error = Some(Box::new(e));
                continue;
            }
            Ok(()) => {}
        }
        match chain.set_position(&position) {
            Ok(()) => {
                started = true;
                break;
            }
            Err(e) => last_error = Some(e.into()),
        }
    }
    if !started {
        return Err(SampleError::NoStart {
            chain: chain_id,
            reason: StartError::AllFailed {
                tries: INIT_TRIES,
                last: last_error.unwrap_or_else(|| "no start was tried".into()),
            },
        });
    }

    let tune = opts.tune as usize;
    let total = tune + opts.draws as usize;
    let mut stats = ChainStats::with_capacity(total);
    let mut values = Vec::with_capacity(opts.draws as usize * model.density.inner.dim());
    let mut divergences = 0usize;
    let mut complete = true;
    for iteration in 0..total {
        if opts
            .stop
            .as_ref()
            .is_some_and(|f| f.load(Ordering::Relaxed))
        {
            complete = false;
            break;
        }
        let (draw, _, iteration_stats, _) = chain.expanded_draw().map_err(SampleError::Nuts)?;
        let row = read_stats(&iteration_stats);
        divergences += usize::from(row.diverging);
        stats.push(iteration < tune, &row);
        if iteration >= tune {
            values.extend(model.density.inner.constrain(&draw));
        }
        if iteration % PROGRESS_EVERY == PROGRESS_EVERY - 1 || iteration + 1 == total {
            bar.set_position(iteration as u64 + 1);
            let phase = if iteration < tune {
                "warm-up"
            } else {
                "sampling"
            };
            bar.set_message(format!(
                "{phase}, {divergences} divergences, step size {:.3}",
                row.step_size
            ));
        }
    }
    Ok(ChainOutput {
        values,
        stats,
        complete,
    })
}

/// Iterations between progress-bar updates.
const PROGRESS_EVERY: usize = 50;

impl ChainStats {
    fn with_capacity(n: usize) -> Self {
        Self {
            warmup: Vec::with_capacity(n),
            step_size: Vec::with_capacity(n),
            tree_depth: Vec::with_capacity(n),
            n_steps: Vec::with_capacity(n),
            energy: Vec::with_capacity(n),
            diverging: Vec::with_capacity(n),
            logp: Vec::with_capacity(n),
            mean_tree_accept: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, warmup: bool, row: &IterationStats) {
        self.warmup.push(warmup);
        self.step_size.push(row.step_size);
        self.tree_depth.push(row.depth as i64);
        self.n_steps.push(row.n_steps as i64);
        self.energy.push(row.energy);
        self.diverging.push(row.diverging);
        self.logp.push(row.logp);
        self.mean_tree_accept.push(row.mean_tree_accept);
    }
}
