//! The refit function handed to the diagnose stage, and `mmm compare`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use mmm_core::Spec;
use mmm_diagnostics::compare::Comparison;
use mmm_diagnostics::refits::{RefitModel, WarmStart};

/// Fits a model (national or geo hierarchy) with NUTS using the spec's sampler settings and
/// `[diagnose]` refit sizes, one thread per refit (the diagnose stage runs refits in parallel).
/// With a warm start the chains sample the standardized coordinates of the full posterior,
/// start within one posterior sd of its mean and adapt from the full fit's step size.
pub fn refitter(
    spec: &Spec,
) -> impl Fn(&RefitModel, Option<&WarmStart>, u64) -> Result<Vec<Vec<f64>>, String> + Sync {
    let mut opts = mmm_sampler::NutsOptions::from_spec(spec);
    opts.chains = spec.diagnose.refit_chains;
    opts.tune = spec.diagnose.refit_tune;
    opts.draws = spec.diagnose.refit_draws;
    opts.threads = 1;
    opts.progress = false;
    move |model: &RefitModel, warm: Option<&WarmStart>, seed: u64| {
        let mut o = opts.clone();
        o.seed = seed;
        let trace = match model {
            RefitModel::National(m) => sample_from(Arc::new(m.as_ref().clone()), warm, o),
            RefitModel::Geo(m) => sample_from(Arc::new(m.as_ref().clone()), warm, o),
        }
        .map_err(|e| e.to_string())?;
        let d = trace.names.len().max(1);
        Ok(trace
            .values
            .iter()
            .flat_map(|chain| chain.chunks(d).map(<[f64]>::to_vec))
            .collect())
    }
}

/// Sample `density`, through the warm start's standardized coordinates when one is given.
fn sample_from<D: mmm_sampler::LogDensity>(
    density: Arc<D>,
    warm: Option<&WarmStart>,
    mut opts: mmm_sampler::NutsOptions,
) -> Result<mmm_sampler::Trace, mmm_sampler::SampleError> {
    let Some(w) = warm else {
        return mmm_sampler::sample(density, &opts);
    };
    let Some(standardized) =
        mmm_sampler::Preconditioned::new(density.clone(), w.center.clone(), w.scale.clone())
    else {
        // A warm start of another dimension (cannot happen for refits of the same model):
        // sample cold rather than fail the check.
        return mmm_sampler::sample(density, &opts);
    };
    opts.init = mmm_core::spec::InitStrategy::Point;
    opts.start = Some(vec![0.0; w.center.len()]);
    // Uniform(-1, 1) posterior sds around the mean: chains start apart, inside the bulk.
    opts.jitter = 1.0;
    opts.initial_step = Some(w.step_size);
    mmm_sampler::sample(Arc::new(standardized), &opts)
}

/// `mmm compare`: print the comparison, write compare.json when asked; exit code 3 when a
/// guardrail fails.
///
/// With `out`, the directory becomes a `compare` stage: compare.json plus a manifest that
/// records the last run's spec hash and the manifests of every compared stage, so that
/// `RUN/compare` (written by `mmm run --previous-run`, or by hand) shows in RUN's report.
pub fn compare(runs: &[PathBuf], out: Option<&Path>, quiet: bool) -> Result<u8> {
    let c = compare_and_record(runs, out)?;
    print_comparison(&c, &mut std::io::stdout().lock(), quiet)?;
    Ok(if c.passed { 0 } else { 3 })
}

/// Compare `runs` and, with `out`, record the result there as a `compare` stage.
pub fn compare_and_record(runs: &[PathBuf], out: Option<&Path>) -> Result<Comparison> {
    let c = mmm_diagnostics::compare::compare_runs(runs)?;
    if let Some(dir) = out {
        let last = runs.last().context("no runs to compare")?;
        let spec_path = last.join("spec.toml");
        let spec_text = std::fs::read_to_string(&spec_path)
            .with_context(|| format!("reading {}", spec_path.display()))?;
        let spec_sha = mmm_core::sha256_hex(spec_text.as_bytes());
        let spec = mmm_core::SpecRef {
            sha256: &spec_sha,
            text: &spec_text,
            path: &spec_path,
        };
        let mut inputs = Vec::new();
        for run in runs {
            for stage in ["fit", "diagnose", "decide"] {
                inputs.push(mmm_core::file_record(
                    &run.join(stage).join(mmm_core::artifact::MANIFEST_FILE),
                )?);
            }
        }
        if let Some(mut writer) = mmm_core::StageWriter::begin(
            dir,
            &mmm_core::stage_id!(mmm_core::Stage::Compare.name()),
            mmm_core::StageInputs::new(spec, &[], inputs),
            true,
        )? {
            writer.write_json("compare.json", &c, None)?;
            writer.finish(
                None,
                serde_json::json!({ "runs": runs }),
                mmm_core::RunStatus::Complete,
            )?;
        }
    }
    Ok(c)
}

/// The comparison as text; `quiet` drops the note about a missing LOO ranking.
pub fn print_comparison(c: &Comparison, w: &mut dyn Write, quiet: bool) -> std::io::Result<()> {
    for r in &c.refreshes {
        writeln!(w, "{} -> {}", r.run_a, r.run_b)?;
        writeln!(
            w,
            "  channel: ROAS a [interval] -> ROAS b [interval] (change), share a -> b"
        )?;
        for ch in &r.channels {
            writeln!(w, "  {ch}")?;
        }
        writeln!(
            w,
            "  prediction drift on {} overlapping weeks: mean |diff| {:.4} ({:.2}% of mean |observed|), max {:.4}",
            r.drift.overlapping_weeks,
            r.drift.mean_abs_diff,
            r.drift.mean_abs_diff_pct,
            r.drift.max_abs_diff
        )?;
        if r.guardrail.passed {
            writeln!(w, "  guardrail: passed")?;
        } else {
            writeln!(w, "  guardrail: FAILED")?;
            for reason in &r.guardrail.reasons {
                writeln!(w, "    - {reason}")?;
            }
        }
    }
    match (&c.ranking, &c.ranking_note) {
        (Some(rows), _) => {
            writeln!(
                w,
                "ranking by PSIS-LOO (elpd_diff and its SE relative to the best):"
            )?;
            for r in rows {
                writeln!(
                    w,
                    "  {}. {} ({}): elpd_loo {:.2} (SE {:.2}), elpd_diff {:.2} (SE {:.2}), p_loo {:.2}, max k {:.2}",
                    r.rank,
                    r.run,
                    r.model,
                    r.elpd_loo,
                    r.se,
                    r.elpd_diff,
                    r.se_diff,
                    r.p_loo,
                    r.pareto_k_max
                )?;
            }
            writeln!(
                w,
                "model weights (stacking: for averaging predictions; pseudo-BMA+: \
                 bootstrap-stabilized relative evidence):"
            )?;
            for r in rows {
                writeln!(
                    w,
                    "  {}. {}: stacking {:.4}, pseudo-BMA+ {:.4}, pseudo-BMA {:.4}",
                    r.rank, r.run, r.stacking_weight, r.pseudo_bma_plus_weight, r.pseudo_bma_weight
                )?;
            }
        }
        (None, Some(note)) if !quiet => writeln!(w, "no LOO ranking: {note}")?,
        _ => {}
    }
    Ok(())
}
