//! Every artifact the report reads, opened and verified against the run's hash chain.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use mmm_core::{CoreError, FileRecord, SpecRef, Upstream, sha256_hex};

use crate::stage::ReportError;

/// The run's frozen spec: its bytes' sha256, its text, the raw table and the typed spec.
pub(crate) struct SpecFile {
    pub(crate) path: PathBuf,
    pub(crate) sha256: String,
    pub(crate) text: String,
    pub(crate) table: toml::Table,
    /// The typed spec (for transforms and signs); `None` when it no longer parses with this
    /// version's spec types (the report then leaves out what needs it, and says so).
    pub(crate) typed: Option<mmm_core::spec::Spec>,
}

impl SpecFile {
    /// Reads `RUN/spec.toml`.
    pub(crate) fn read(run: &Path) -> Result<Self, ReportError> {
        let path = run.join("spec.toml");
        let bytes = std::fs::read(&path).map_err(|source| CoreError::Io {
            path: path.clone(),
            source,
        })?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let table: toml::Table = text.parse().map_err(|source| ReportError::Spec {
            path: path.clone(),
            source,
        })?;
        Ok(Self {
            sha256: sha256_hex(&bytes),
            typed: mmm_core::spec::Spec::from_toml_str(&text).ok(),
            path,
            text,
            table,
        })
    }

    pub(crate) fn spec_ref(&self) -> SpecRef<'_> {
        SpecRef {
            sha256: &self.sha256,
            text: &self.text,
            path: &self.path,
        }
    }

    /// A string under `[section] key`.
    pub(crate) fn str_at(&self, section: &str, key: &str) -> Option<&str> {
        self.table.get(section)?.get(key)?.as_str()
    }
}

/// The stages of a run and what the report reads from them. Optional artifacts are `None`
/// when the stage that writes them did not run (or wrote an older version).
pub(crate) struct Inputs {
    pub(crate) run: PathBuf,
    pub(crate) validate: Upstream,
    pub(crate) features: Upstream,
    pub(crate) fit: Upstream,
    pub(crate) diagnose: Upstream,
    pub(crate) decide: Upstream,
    /// `mmm optimize --out RUN/optimize`, made from this run's spec, features and fit.
    pub(crate) optimize: Option<Upstream>,
    /// `mmm scenario --out RUN/scenario`, made from this run's spec, features and fit.
    pub(crate) scenario: Option<Upstream>,
    /// `mmm run --previous-run` or `mmm compare … --out RUN/compare`.
    pub(crate) compare: Option<Upstream>,
    /// `mmm decide --ensemble RUN … --out RUN/ensemble`, made from this run's spec.
    pub(crate) ensemble: Option<Upstream>,
    pub(crate) contract: serde_json::Value,
    pub(crate) scales: serde_json::Value,
    pub(crate) diag: serde_json::Value,
    pub(crate) ppc: RecordBatch,
    pub(crate) decomposition: RecordBatch,
    pub(crate) roi: RecordBatch,
    pub(crate) draws: RecordBatch,
    pub(crate) prior_predictive: Option<RecordBatch>,
    pub(crate) curves: Option<RecordBatch>,
    pub(crate) decide_summary: Option<serde_json::Value>,
    /// decide/experiments.json: the lift tests ranked by expected ROAS interval shrinkage.
    pub(crate) experiments: Option<serde_json::Value>,
    pub(crate) causal: Option<serde_json::Value>,
    pub(crate) allocation: Option<RecordBatch>,
    pub(crate) plan: Option<serde_json::Value>,
    pub(crate) scenario_comparison: Option<serde_json::Value>,
    pub(crate) geo_roi: Option<RecordBatch>,
    pub(crate) geo_allocation: Option<RecordBatch>,
    pub(crate) comparison: Option<serde_json::Value>,
    pub(crate) ensemble_summary: Option<serde_json::Value>,
    pub(crate) ensemble_roi: Option<RecordBatch>,
    pub(crate) ensemble_plan: Option<serde_json::Value>,
    /// Every file read, for the manifest.
    pub(crate) records: Vec<FileRecord>,
}

/// An optional stage: opened when its manifest exists and it chains with the spec and `with`.
fn optional_stage(
    run: &Path,
    name: &str,
    spec: SpecRef<'_>,
    with: &[&Upstream],
) -> Option<Upstream> {
    let up = Upstream::open(&run.join(name), name).ok()?;
    let mut chain = with.to_vec();
    chain.push(&up);
    mmm_core::lineage::check_chain(spec, &chain).ok()?;
    Some(up)
}

/// `name` of `up` when its manifest lists it.
fn optional_parquet(
    up: Option<&Upstream>,
    name: &str,
    records: &mut Vec<FileRecord>,
) -> Result<Option<RecordBatch>, ReportError> {
    let Some(up) = up.filter(|u| u.manifest().output(name).is_some()) else {
        return Ok(None);
    };
    let (batch, rec) = up.parquet(name)?;
    records.push(rec);
    Ok(Some(batch))
}

/// `name` of `up` when its manifest lists it.
fn optional_json(
    up: Option<&Upstream>,
    name: &str,
    records: &mut Vec<FileRecord>,
) -> Result<Option<serde_json::Value>, ReportError> {
    let Some(up) = up.filter(|u| u.manifest().output(name).is_some()) else {
        return Ok(None);
    };
    let (v, rec) = up.json(name)?;
    records.push(rec);
    Ok(Some(v))
}

/// A required parquet output of `up`.
fn parquet(
    up: &Upstream,
    name: &str,
    records: &mut Vec<FileRecord>,
) -> Result<RecordBatch, ReportError> {
    let (batch, rec) = up.parquet(name)?;
    records.push(rec);
    Ok(batch)
}

/// A required JSON output of `up`.
fn json(
    up: &Upstream,
    name: &str,
    records: &mut Vec<FileRecord>,
) -> Result<serde_json::Value, ReportError> {
    let (v, rec) = up.json(name)?;
    records.push(rec);
    Ok(v)
}

impl Inputs {
    /// Opens every stage of `run` (the required ones must chain with `spec`) and reads what
    /// the report shows.
    pub(crate) fn open(run: &Path, spec: SpecRef<'_>) -> Result<Self, ReportError> {
        let [validate, features, fit, diagnose, decide] = mmm_core::open_chain(
            spec,
            [
                (&run.join("validate"), "validate"),
                (&run.join("features"), "features"),
                (&run.join("fit"), "fit"),
                (&run.join("diagnose"), "diagnose"),
                (&run.join("decide"), "decide"),
            ],
        )?;
        let optimize = optional_stage(run, "optimize", spec, &[&features, &fit]);
        let scenario = optional_stage(run, "scenario", spec, &[&features, &fit]);
        let compare = optional_stage(run, "compare", spec, &[]);
        let ensemble = optional_stage(run, "ensemble", spec, &[]);
        let mut r = Vec::new();
        let geo_roi = optional_parquet(Some(&decide), "geo_roi.parquet", &mut r)?;
        let with_geo = optimize.as_ref().filter(|_| geo_roi.is_some());
        Ok(Self {
            contract: json(&validate, "contract.json", &mut r)?,
            scales: json(&features, "scales.json", &mut r)?,
            diag: json(&diagnose, "diagnostics.json", &mut r)?,
            ppc: parquet(&diagnose, "ppc.parquet", &mut r)?,
            decomposition: parquet(&decide, "decomposition.parquet", &mut r)?,
            roi: parquet(&decide, "roi.parquet", &mut r)?,
            draws: parquet(&fit, "draws.parquet", &mut r)?,
            prior_predictive: optional_parquet(
                Some(&diagnose),
                "prior_predictive.parquet",
                &mut r,
            )?,
            curves: optional_parquet(Some(&decide), "curves.parquet", &mut r)?,
            decide_summary: optional_json(Some(&decide), "summary.json", &mut r)?,
            experiments: optional_json(Some(&decide), "experiments.json", &mut r)?,
            causal: optional_json(Some(&diagnose), "causal_checks.json", &mut r)?,
            allocation: optional_parquet(optimize.as_ref(), "allocation.parquet", &mut r)?,
            plan: optional_json(optimize.as_ref(), "plan.json", &mut r)?,
            scenario_comparison: optional_json(scenario.as_ref(), "comparison.json", &mut r)?,
            geo_allocation: optional_parquet(with_geo, "geo_allocation.parquet", &mut r)?,
            comparison: optional_json(compare.as_ref(), "compare.json", &mut r)?,
            ensemble_summary: optional_json(ensemble.as_ref(), "ensemble.json", &mut r)?,
            ensemble_roi: optional_parquet(ensemble.as_ref(), "roi.parquet", &mut r)?,
            ensemble_plan: optional_json(ensemble.as_ref(), "plan.json", &mut r)?,
            geo_roi,
            records: r,
            run: run.to_path_buf(),
            validate,
            features,
            fit,
            diagnose,
            decide,
            optimize,
            scenario,
            compare,
            ensemble,
        })
    }

    /// Every stage read, in pipeline order.
    pub(crate) fn upstream(&self) -> Vec<&Upstream> {
        let mut all = vec![
            &self.validate,
            &self.features,
            &self.fit,
            &self.diagnose,
            &self.decide,
        ];
        all.extend(self.optimize.as_ref());
        all.extend(self.scenario.as_ref());
        all.extend(self.compare.as_ref());
        all.extend(self.ensemble.as_ref());
        all
    }

    /// The path of `stage/name` in the run, for errors.
    pub(crate) fn path(&self, stage: &str, name: &str) -> PathBuf {
        self.run.join(stage).join(name)
    }
}
