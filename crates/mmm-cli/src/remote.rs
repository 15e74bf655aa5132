//! `s3://` arguments: stages run on a local mirror of the bucket (mmm-store), and each finished
//! stage is published with its manifest last. Object storage is the `s3` feature: a build
//! without it refuses `s3://` arguments with the command that adds it.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, Result, anyhow};
#[cfg(feature = "s3")]
use mmm_store::{Mirror, RemoteUrl};
#[cfg(not(feature = "s3"))]
use without_object_storage::{Mirror, RemoteUrl};

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

// Without the `s3` feature `RemoteUrl` is uninhabited, so the remote arms are unreachable.
#[cfg_attr(not(feature = "s3"), allow(unreachable_code))]
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

/// The build without the `s3` feature: an `s3://` argument is an error, so no `Mirror` or
/// `RemoteUrl` value can exist (both are uninhabited) and `Io` keeps one code path.
#[cfg(not(feature = "s3"))]
mod without_object_storage {
    use std::path::PathBuf;

    /// Why an `s3://` argument was refused.
    #[derive(Debug, thiserror::Error)]
    #[error(
        "{url}: this mmm was built without object storage; build it with \
         `cargo install --path crates/mmm-cli --locked --features s3` (or \
         `cargo build --release -p mmm-cli --features s3`) to read and write s3:// locations"
    )]
    pub struct NoObjectStorage {
        url: String,
    }

    #[derive(Debug)]
    pub enum RemoteUrl {}

    impl RemoteUrl {
        pub fn parse(text: &str) -> Option<Result<Self, NoObjectStorage>> {
            text.starts_with("s3://").then(|| {
                Err(NoObjectStorage {
                    url: text.to_string(),
                })
            })
        }
        pub fn url(&self) -> String {
            match *self {}
        }
        pub fn join(&self, _: &str) -> Self {
            match *self {}
        }
    }

    #[derive(Debug)]
    pub enum Mirror {}

    impl Mirror {
        pub fn new(_: &std::path::Path) -> Result<Self, NoObjectStorage> {
            Err(NoObjectStorage {
                url: "s3://".into(),
            })
        }
        pub fn default_root() -> PathBuf {
            PathBuf::new()
        }
        pub fn local(&self, _: &RemoteUrl) -> PathBuf {
            match *self {}
        }
        pub fn get(&self, _: &RemoteUrl) -> Result<Option<Vec<u8>>, NoObjectStorage> {
            match *self {}
        }
        pub fn pull_file(&self, _: &RemoteUrl) -> Result<PathBuf, NoObjectStorage> {
            match *self {}
        }
        pub fn push_file(&self, _: &RemoteUrl) -> Result<(), NoObjectStorage> {
            match *self {}
        }
        pub fn pull_stage(&self, _: &RemoteUrl) -> Result<bool, NoObjectStorage> {
            match *self {}
        }
        pub fn push_stage(&self, _: &RemoteUrl) -> Result<(), NoObjectStorage> {
            match *self {}
        }
    }
}
