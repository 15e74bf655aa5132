//! What the studio holds: the runs and plans directories, and each verified run's plan
//! model, loaded once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use mmm_core::spec::LoadedSpec;
use mmm_core::verify::{Lineage, verify_run};
use mmm_decisions::planner::Planner;

use crate::error::{ApiError, StudioError, chain};
use crate::paths::check_run_name;

/// A verified run's spec and plan model.
#[derive(Debug)]
pub struct LoadedRun {
    /// The run's frozen spec.
    pub spec: LoadedSpec,
    /// Its features and fit, read and verified.
    pub planner: Planner,
    /// When the fit's manifest was written (a rerun invalidates the cache).
    stamp: Option<SystemTime>,
}

/// The studio's state, shared by every connection.
#[derive(Debug)]
pub struct State {
    /// The runs directory, canonical.
    pub root: PathBuf,
    /// The plans directory, canonical.
    pub plans: PathBuf,
    loaded: Mutex<HashMap<String, Arc<LoadedRun>>>,
}

impl State {
    /// Check the runs directory and create the plans directory outside it.
    pub fn new(runs: &Path, plans: &Path) -> Result<Self, StudioError> {
        let root = runs
            .canonicalize()
            .ok()
            .filter(|p| p.is_dir())
            .ok_or_else(|| StudioError::RunsDir {
                path: runs.to_path_buf(),
            })?;
        let inside = |p: &Path| p.starts_with(&root);
        let lexical = std::path::absolute(plans)?;
        if inside(&lexical) {
            return Err(StudioError::PlansInsideRuns {
                plans: plans.to_path_buf(),
                runs: runs.to_path_buf(),
            });
        }
        std::fs::create_dir_all(plans)?;
        let plans_real = plans.canonicalize()?;
        if inside(&plans_real) {
            return Err(StudioError::PlansInsideRuns {
                plans: plans.to_path_buf(),
                runs: runs.to_path_buf(),
            });
        }
        Ok(Self {
            root,
            plans: plans_real,
            loaded: Mutex::new(HashMap::new()),
        })
    }

    /// The directory of run `name`: a directory directly under the runs directory with a
    /// spec.toml, which a symlink may not move outside it.
    pub fn run_dir(&self, name: &str) -> Result<PathBuf, ApiError> {
        check_run_name(name)?;
        let real = self
            .root
            .join(name)
            .canonicalize()
            .map_err(|_| ApiError::not_found(format!("no run named '{name}'")))?;
        if !real.starts_with(&self.root) {
            return Err(ApiError::new(
                403,
                format!("run '{name}' is a link out of the runs directory; refused"),
            ));
        }
        if !real.is_dir() || !real.join("spec.toml").is_file() {
            return Err(ApiError::not_found(format!("no run named '{name}'")));
        }
        Ok(real)
    }

    /// Run `name` verified as `mmm inspect` verifies it.
    pub fn verify(&self, name: &str) -> Result<(PathBuf, Lineage), ApiError> {
        let dir = self.run_dir(name)?;
        let lineage = verify_run(&dir);
        Ok((dir, lineage))
    }

    /// Run `name`'s directory, refused (409) when it fails verification.
    pub fn verified_dir(&self, name: &str) -> Result<PathBuf, ApiError> {
        let (dir, lineage) = self.verify(name)?;
        if !lineage.verified {
            return Err(unverified(name, &lineage));
        }
        Ok(dir)
    }

    /// Run `name`'s plan model: verified and loaded on first use, then kept until its fit
    /// changes.
    pub fn loaded(&self, name: &str) -> Result<Arc<LoadedRun>, ApiError> {
        let dir = self.run_dir(name)?;
        let stamp = std::fs::metadata(dir.join("fit").join("manifest.json"))
            .and_then(|m| m.modified())
            .ok();
        if let Some(run) = self.cache().get(name)
            && run.stamp == stamp
        {
            return Ok(Arc::clone(run));
        }
        let dir = self.verified_dir(name)?;
        let spec =
            LoadedSpec::load(&dir.join("spec.toml")).map_err(|e| ApiError::internal(chain(&e)))?;
        let planner = Planner::load(&spec, &dir.join("features"), &dir.join("fit"))?;
        let run = Arc::new(LoadedRun {
            spec,
            planner,
            stamp,
        });
        self.cache().insert(name.to_string(), Arc::clone(&run));
        Ok(run)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedRun>>> {
        self.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// 409: the run fails verification (how many problems; the run page lists them).
pub fn unverified(name: &str, lineage: &Lineage) -> ApiError {
    ApiError::new(
        409,
        format!(
            "run '{name}' fails verification ({} problem(s), as `mmm inspect` reports): the studio \
             shows no numbers from it",
            lineage.problems.len()
        ),
    )
}
