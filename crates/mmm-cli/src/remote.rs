//! `s3://` arguments: stages run on a local mirror of the bucket (mmm-store), and each finished
//! stage is published with its manifest last.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
use mmm_store::{Mirror, RemoteUrl};

/// Resolves path arguments that may be `s3://` locations.
#[derive(Default)]
pub struct Io {
    mirror: OnceLock<Mirror>,
}

fn remote(p: &Path) -> Result<Option<RemoteUrl>> {
    match p.to_str().and_then(RemoteUrl::parse) {
        Some(r) => Ok(Some(r?)),
        None => Ok(None),
    }
}

impl Io {
    fn mirror(&self) -> Result<&Mirror> {
        if self.mirror.get().is_none() {
            let _ = self.mirror.set(Mirror::new(&Mirror::default_root())?);
        }
        self.mirror
            .get()
            .ok_or_else(|| anyhow!("object storage mirror unavailable"))
    }

    /// A file argument: a local path as given, or the object downloaded into the mirror.
    pub fn file(&self, p: &Path) -> Result<PathBuf> {
        match remote(p)? {
            None => Ok(p.to_path_buf()),
            Some(url) => Ok(self.mirror()?.pull_file(&url)?),
        }
    }

    /// An optional file argument.
    pub fn opt_file(&self, p: Option<&PathBuf>) -> Result<Option<PathBuf>> {
        p.map(|p| self.file(p)).transpose()
    }

    /// A stage directory (read or about to be written): as given when local; for a remote one
    /// its mirror, holding the finished remote stage when there is one (so an upstream stage
    /// can be verified and an output stage found fresh).
    pub fn stage(&self, p: &Path) -> Result<PathBuf> {
        match remote(p)? {
            None => Ok(p.to_path_buf()),
            Some(url) => {
                let m = self.mirror()?;
                m.pull_stage(&url)?;
                Ok(m.local(&url))
            }
        }
    }

    /// Publish a stage directory that `stage` mapped to the mirror (no-op when local).
    pub fn publish(&self, p: &Path) -> Result<()> {
        if let Some(url) = remote(p)? {
            self.mirror()?
                .push_stage(&url)
                .with_context(|| format!("publishing {}", url.url()))?;
        }
        Ok(())
    }

    /// A run directory: as given when local; for a remote one its mirror, with the frozen
    /// spec and every finished stage pulled.
    pub fn run_dir(&self, p: &Path) -> Result<PathBuf> {
        match remote(p)? {
            None => Ok(p.to_path_buf()),
            Some(url) => {
                let m = self.mirror()?;
                if m.get(&url.join("spec.toml"))?.is_some() {
                    m.pull_file(&url.join("spec.toml"))?;
                }
                for stage in mmm_core::Stage::ALL.iter().filter(|s| s.made_by_run()) {
                    m.pull_stage(&url.join(stage.name()))?;
                }
                Ok(m.local(&url))
            }
        }
    }

    /// Publish a file of a remote run directory (the frozen spec).
    pub fn publish_file(&self, run: &Path, name: &str) -> Result<()> {
        if let Some(url) = remote(run)? {
            self.mirror()?.push_file(&url.join(name))?;
        }
        Ok(())
    }

    /// A sub-location of a path argument (`RUN/validate`), for local and remote alike.
    pub fn join(p: &Path, name: &str) -> PathBuf {
        match p.to_str() {
            Some(s) if s.starts_with("s3://") => {
                PathBuf::from(format!("{}/{name}", s.trim_end_matches('/')))
            }
            _ => p.join(name),
        }
    }
}
