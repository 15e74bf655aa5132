//! `mmm sbc`: simulation-based calibration of model + sampler on a spec's data inputs, with
//! per-parameter chi-square uniformity tests and rank histograms (SVG).

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use mmm_core::spec::LoadedSpec;
use mmm_diagnostics::calibration::{CoverageCheck, RankTest, coverage_check, rank_uniformity};
use mmm_model::rand::SeedableRng;
use plotters::prelude::*;
use serde::Serialize;

/// Settings of `mmm sbc` (see the subcommand's flags).
#[derive(Debug, Clone, Serialize)]
pub struct SbcSettings {
    pub sims: usize,
    pub ranks: usize,
    pub bins: usize,
    pub chains: usize,
    pub tune: u64,
    pub draws: u64,
    pub alpha: f64,
    pub workers: usize,
}

#[derive(Serialize)]
struct SbcReport<'a> {
    spec: String,
    settings: &'a SbcSettings,
    simulations_finished: usize,
    simulations_failed: usize,
    fits_with_divergences: usize,
    seconds: f64,
    all_uniform: bool,
    parameters: &'a [RankTest],
    method: &'static str,
}

/// Run SBC; write sbc.json and rank_histograms.svg into `out`. Exit code 0 when every
/// parameter passes the uniformity test, 3 otherwise.
pub fn run(spec_path: &Path, data: &Path, out: &Path, s: &SbcSettings, quiet: bool) -> Result<u8> {
    let spec = LoadedSpec::load(spec_path)?;
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    mmm_contracts::run(&spec, data, &out.join("validate"), false)?;
    mmm_features::run(&spec, &out.join("validate"), &out.join("features"), false)?;
    let features = mmm_core::Upstream::open(&out.join("features"), mmm_features::STAGE)?;
    let (design, _) = mmm_features::Design::load(&features, &spec.spec)?;
    if s.sims == 0 || s.ranks == 0 || s.chains == 0 || s.draws == 0 {
        return Err(anyhow!(
            "--sims, --ranks, --chains and --draws must be >= 1"
        ));
    }
    if s.bins < 2 || !(s.ranks + 1).is_multiple_of(s.bins) {
        return Err(anyhow!(
            "--bins ({}) must be >= 2 and divide --ranks + 1 ({}) so every bin holds as many rank values",
            s.bins,
            s.ranks + 1
        ));
    }
    let mut nuts = mmm_sampler::NutsOptions::from_spec(&spec.spec);
    nuts.chains = s.chains;
    nuts.tune = s.tune;
    nuts.draws = s.draws;
    let workers = if s.workers == 0 {
        std::thread::available_parallelism().map_or(1, |p| p.get())
    } else {
        s.workers
    };
    let opts = mmm_sampler::sbc::SbcOptions {
        sims: s.sims,
        ranks: s.ranks,
        nuts,
        workers,
    };
    let run = mmm_sampler::sbc::simulate_and_rank(&spec.spec, &design, &opts)?;
    let tests: Vec<RankTest> = run
        .parameters
        .iter()
        .enumerate()
        .map(|(j, name)| {
            let ranks: Vec<usize> = run.ranks.iter().map(|r| r[j]).collect();
            rank_uniformity(name, &ranks, s.ranks, s.bins, s.alpha)
        })
        .collect();
    let all_uniform = tests.iter().all(|t| t.uniform) && !run.ranks.is_empty();
    let report = SbcReport {
        spec: spec_path.display().to_string(),
        settings: s,
        simulations_finished: run.ranks.len(),
        simulations_failed: run.failed,
        fits_with_divergences: run.divergent_fits,
        seconds: run.seconds,
        all_uniform,
        parameters: &tests,
        method: "Talts et al. (2018): theta ~ prior (the model's own prior sampler), y ~ model \
                 given theta on the spec's inputs, NUTS refit (chains x draws after tune), rank \
                 of theta among L evenly thinned posterior draws; Pearson chi-square over equal \
                 bins against uniform, per parameter, at level alpha",
    };
    mmm_core::write_atomic(&out.join("sbc.json"), &serde_json::to_vec_pretty(&report)?)?;
    // Every simulation's ranks, for re-analysis (for example without the divergent fits).
    let mut csv = format!("simulation,diverged,{}\n", run.parameters.join(","));
    for (ranks, (i, diverged)) in run.ranks.iter().zip(&run.finished) {
        let r: Vec<String> = ranks.iter().map(usize::to_string).collect();
        csv.push_str(&format!("{i},{diverged},{}\n", r.join(",")));
    }
    mmm_core::write_atomic(&out.join("ranks.csv"), csv.as_bytes())?;
    let svg = histograms_svg(&tests, run.ranks.len(), s.bins)?;
    mmm_core::write_atomic(&out.join("rank_histograms.svg"), svg.as_bytes())?;
    if !quiet {
        eprintln!(
            "SBC: {} simulations ({} failed, {} with divergences) in {:.1} s",
            run.ranks.len(),
            run.failed,
            run.divergent_fits,
            run.seconds
        );
    }
    for t in &tests {
        println!(
            "{:<28} chi2 {:>7.2} (df {})  p {:.4}  {}",
            t.parameter,
            t.chi_square,
            t.df,
            t.p_value,
            if t.uniform { "uniform" } else { "NOT UNIFORM" }
        );
    }
    Ok(if all_uniform { 0 } else { 3 })
}

/// One histogram per parameter with the expected count and its pointwise 99% band
/// (normal approximation of Binomial(N, 1/bins)).
fn histograms_svg(tests: &[RankTest], n: usize, bins: usize) -> Result<String> {
    let cols = 4;
    let rows = tests.len().div_ceil(cols).max(1);
    let (w, h) = (300 * cols as u32, 200 * rows as u32);
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| anyhow!("{e}"))?;
        let p = 1.0 / bins as f64;
        let expected = n as f64 * p;
        let half = 2.576 * (n as f64 * p * (1.0 - p)).sqrt();
        let top = tests
            .iter()
            .flat_map(|t| t.counts.iter().copied())
            .max()
            .unwrap_or(1) as f64;
        let y_max = top.max(expected + half) * 1.1;
        for (area, t) in root.split_evenly((rows, cols)).iter().zip(tests) {
            let mut chart = ChartBuilder::on(area)
                .caption(
                    format!("{} (p = {:.3})", t.parameter, t.p_value),
                    ("sans-serif", 13),
                )
                .margin(6)
                .x_label_area_size(18)
                .y_label_area_size(28)
                .build_cartesian_2d(0.0..bins as f64, 0.0..y_max)
                .map_err(|e| anyhow!("{e}"))?;
            chart
                .configure_mesh()
                .disable_mesh()
                .x_labels(3)
                .y_labels(4)
                .draw()
                .map_err(|e| anyhow!("{e}"))?;
            let band = RGBColor(200, 200, 200).mix(0.6);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (0.0, (expected - half).max(0.0)),
                        (bins as f64, expected + half),
                    ],
                    band.filled(),
                )))
                .map_err(|e| anyhow!("{e}"))?;
            let colour = if t.uniform {
                RGBColor(70, 110, 170)
            } else {
                RGBColor(200, 60, 50)
            };
            chart
                .draw_series(t.counts.iter().enumerate().map(|(b, &c)| {
                    Rectangle::new(
                        [(b as f64 + 0.1, 0.0), (b as f64 + 0.9, c as f64)],
                        colour.filled(),
                    )
                }))
                .map_err(|e| anyhow!("{e}"))?;
            chart
                .draw_series(LineSeries::new(
                    [(0.0, expected), (bins as f64, expected)],
                    BLACK.stroke_width(1),
                ))
                .map_err(|e| anyhow!("{e}"))?;
        }
        root.present().map_err(|e| anyhow!("{e}"))?;
    }
    Ok(buf)
}

/// Settings of `mmm recovery` (see the subcommand's flags).
#[derive(Debug, Clone, Serialize)]
pub struct RecoverySettings {
    pub truth: Option<std::path::PathBuf>,
    pub sims: usize,
    pub levels: Vec<f64>,
    pub alpha: f64,
    pub workers: usize,
}

#[derive(Serialize)]
struct RecoveryReport<'a> {
    spec: String,
    settings: &'a RecoverySettings,
    sampler: serde_json::Value,
    simulations_finished: usize,
    simulations_failed: usize,
    fits_with_divergences: usize,
    seconds: f64,
    all_within: bool,
    coverage: &'a [CoverageCheck],
    mean_abs_z: Vec<(String, f64)>,
    method: &'static str,
}

/// Parameter recovery: fit data simulated from prior draws with the spec's own sampler
/// settings, and check central-interval coverage of every parameter and channel contribution.
/// Writes recovery.json; exit code 3 when a coverage falls outside its band.
pub fn recovery(
    spec_path: &Path,
    data: &Path,
    out: &Path,
    s: &RecoverySettings,
    quiet: bool,
) -> Result<u8> {
    let spec = LoadedSpec::load(spec_path)?;
    if s.sims == 0 || s.levels.iter().any(|l| !(*l > 0.0 && *l < 1.0)) {
        return Err(anyhow!(
            "--sims must be >= 1 and every --levels value inside (0, 1)"
        ));
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    mmm_contracts::run(&spec, data, &out.join("validate"), false)?;
    mmm_features::run(&spec, &out.join("validate"), &out.join("features"), false)?;
    let features = mmm_core::Upstream::open(&out.join("features"), mmm_features::STAGE)?;
    let (design, _) = mmm_features::Design::load(&features, &spec.spec)?;
    let nuts = mmm_sampler::NutsOptions::from_spec(&spec.spec);
    let workers = if s.workers == 0 {
        std::thread::available_parallelism().map_or(1, |p| p.get())
    } else {
        s.workers
    };
    let truth = match &s.truth {
        Some(path) => {
            let file = crate::simulate::TruthFile::load(path)?;
            let model = mmm_model::MmmModel::new(&spec.spec, &design)?;
            let mut rng =
                mmm_model::rand::rngs::ChaCha8Rng::seed_from_u64(file.seed.unwrap_or(nuts.seed));
            let point = model
                .theta_from_named(&file.parameters, &mut rng)
                .with_context(|| path.display().to_string())?;
            Some(point.theta)
        }
        None => None,
    };
    let opts = mmm_sampler::recovery::RecoveryOptions {
        sims: s.sims,
        nuts: nuts.clone(),
        workers,
        levels: s.levels.clone(),
        truth,
    };
    let run = mmm_sampler::recovery::recover(&spec.spec, &design, &opts)?;
    let checks = run.quantities.len() * s.levels.len();
    let coverage: Vec<CoverageCheck> = run
        .quantities
        .iter()
        .zip(&run.covered)
        .flat_map(|(q, counts)| {
            s.levels.iter().zip(counts).map(|(level, covered)| {
                coverage_check(q, *level, *covered, run.finished, s.alpha / checks as f64)
            })
        })
        .collect();
    let all_within = coverage.iter().all(|c| c.within);
    let report = RecoveryReport {
        spec: spec_path.display().to_string(),
        settings: s,
        sampler: serde_json::json!({
            "chains": nuts.chains, "tune": nuts.tune, "draws": nuts.draws, "seed": nuts.seed,
        }),
        simulations_finished: run.finished,
        simulations_failed: run.failed,
        fits_with_divergences: run.divergent_fits,
        seconds: run.seconds,
        all_within,
        coverage: &coverage,
        mean_abs_z: run
            .quantities
            .iter()
            .cloned()
            .zip(run.mean_z.iter().copied())
            .collect(),
        method: "Truth theta ~ prior, or the --truth file's parameters in every simulation \
                 (simulation i uses ChaCha8 stream i of the spec's seed), y ~ model \
                 given theta on the spec's spend, controls and dates, NUTS refit with the spec's \
                 sampler settings; coverage = share of simulations whose central posterior \
                 interval holds the truth, accepted within the binomial band \
                 level +- z sqrt(level (1 - level) / N), z for alpha / (quantities x levels) \
                 (Bonferroni). contribution[c] = sum over the training window of E[y] minus \
                 E[y] with channel c's spend at zero (model scale; ROAS is it times a \
                 constant). mean_abs_z = mean over \
                 simulations of |posterior mean - truth| / posterior sd.",
    };
    mmm_core::write_atomic(
        &out.join("recovery.json"),
        &serde_json::to_vec_pretty(&report)?,
    )?;
    if !quiet {
        eprintln!(
            "recovery: {} simulations ({} failed, {} with divergences) in {:.1} s",
            run.finished, run.failed, run.divergent_fits, run.seconds
        );
    }
    for (q, z) in run.quantities.iter().zip(&run.mean_z) {
        let row: Vec<String> = coverage
            .iter()
            .filter(|c| &c.quantity == q)
            .map(|c| {
                format!(
                    "{:.0}%: {:.1}%{}",
                    100.0 * c.level,
                    100.0 * c.observed,
                    if c.within { "" } else { " OUTSIDE BAND" }
                )
            })
            .collect();
        println!("{q:<28} {}  mean |z| {z:.2}", row.join("  "));
    }
    Ok(if all_within { 0 } else { 3 })
}
