//! Object storage for run directories: `s3://bucket/prefix` locations behind a local mirror.
//!
//! Stages read and write local files (atomic writes, hashes, manifests; see `mmm-core`). For a
//! remote location the stage runs on a local mirror of it, and this crate moves whole stages
//! between the mirror and the bucket with the same commit rule as on disk:
//!
//! - **push**: delete the remote `manifest.json`, upload every output the local manifest lists,
//!   then upload the manifest last. A reader that finds no manifest ignores the directory, so a
//!   half-uploaded stage is never taken for a finished one.
//! - **pull**: download the remote manifest, then each listed output, and check every output's
//!   sha256 against the manifest before the stage is trusted. A remote directory without a
//!   manifest is treated as absent (and a stale local copy is dropped).
//!
//! Input paths inside manifests name the bucket (`s3://...`) remotely and the mirror locally, so
//! a manifest in the bucket never names a machine's cache directory, and freshness checks work
//! on any machine that pulls the run.
//!
//! Credentials come only from the standard `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT`,
//! `AWS_ALLOW_HTTP`, ...), read by `object_store`; this crate never formats them into a
//! message, a log line or a file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mmm_core::{Manifest, sha256_hex};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// The manifest file of a stage directory (its commit marker).
const MANIFEST: &str = "manifest.json";

/// Errors of object storage access.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A location that is not `s3://bucket/path`.
    #[error("{url}: {message}")]
    Url {
        /// The location as given.
        url: String,
        /// What is wrong with it.
        message: String,
    },
    /// The object store refused or failed a request.
    #[error("{url}: {source}")]
    Remote {
        /// The object.
        url: String,
        /// The error from object_store (it names the object, never credentials).
        source: object_store::Error,
    },
    /// A local file of the mirror.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A manifest or output that does not check out.
    #[error("{url}: {message}")]
    Corrupt {
        /// The object.
        url: String,
        /// What does not match.
        message: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(std::io::Error),
    /// A manifest that cannot be written back.
    #[error(transparent)]
    Core(#[from] mmm_core::CoreError),
}

/// A parsed `s3://bucket/key` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteUrl {
    /// Bucket name.
    pub bucket: String,
    /// Key (or key prefix for a directory), without leading or trailing `/`.
    pub key: String,
}

impl RemoteUrl {
    /// Parse `s3://bucket/key`; `None` for anything else (a local path).
    pub fn parse(text: &str) -> Option<Result<Self, StoreError>> {
        let rest = text.strip_prefix("s3://")?;
        let bad = |message: &str| {
            Some(Err(StoreError::Url {
                url: text.to_string(),
                message: message.to_string(),
            }))
        };
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return bad("no bucket name");
        }
        let key = key.trim_matches('/');
        // A key segment of `..` or `.` would let a mirror path climb out of its bucket folder.
        if key
            .split('/')
            .any(|s| s == ".." || s == "." || (s.is_empty() && !key.is_empty()))
        {
            return bad("key segments '.', '..' and empty ones are not allowed");
        }
        Some(Ok(Self {
            bucket: bucket.to_string(),
            key: key.to_string(),
        }))
    }

    /// `s3://bucket/key`.
    pub fn url(&self) -> String {
        if self.key.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{}", self.bucket, self.key)
        }
    }

    /// The location of `name` under this one.
    pub fn join(&self, name: &str) -> Self {
        let key = if self.key.is_empty() {
            name.trim_matches('/').to_string()
        } else {
            format!("{}/{}", self.key, name.trim_matches('/'))
        };
        Self {
            bucket: self.bucket.clone(),
            key,
        }
    }
}

/// Object storage behind a local mirror directory (`MIRROR/<bucket>/<key>`).
pub struct Mirror {
    root: PathBuf,
    runtime: tokio::runtime::Runtime,
    stores: std::sync::Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").field("root", &self.root).finish()
    }
}

impl Mirror {
    /// A mirror rooted at `root` (created when first written).
    pub fn new(root: &Path) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::Runtime)?;
        Ok(Self {
            root: root.to_path_buf(),
            runtime,
            stores: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// The default mirror root: `$MMM_CACHE_DIR`, else `$XDG_CACHE_HOME/mmm/objects`, else
    /// `$HOME/.cache/mmm/objects`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("MMM_CACHE_DIR") {
            return PathBuf::from(dir);
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        cache.join("mmm").join("objects")
    }

    /// The local path that mirrors `url`.
    pub fn local(&self, url: &RemoteUrl) -> PathBuf {
        let mut p = self.root.join(&url.bucket);
        for seg in url.key.split('/').filter(|s| !s.is_empty()) {
            p.push(seg);
        }
        p
    }

    /// The remote location a mirror path stands for, if it lies inside the mirror.
    fn remote_of(&self, local: &str) -> Option<String> {
        let rest = Path::new(local).strip_prefix(&self.root).ok()?;
        let text: Vec<String> = rest
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        Some(format!("s3://{}", text.join("/")))
    }

    fn store(&self, bucket: &str) -> Result<Arc<dyn ObjectStore>, StoreError> {
        let mut stores = self.stores.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = stores.get(bucket) {
            return Ok(Arc::clone(s));
        }
        let store: Arc<dyn ObjectStore> = Arc::new(
            AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .build()
                .map_err(|source| StoreError::Remote {
                    url: format!("s3://{bucket}"),
                    source,
                })?,
        );
        stores.insert(bucket.to_string(), Arc::clone(&store));
        Ok(store)
    }

    /// The bytes of an object; `None` when it does not exist.
    pub fn get(&self, url: &RemoteUrl) -> Result<Option<Vec<u8>>, StoreError> {
        let store = self.store(&url.bucket)?;
        let path = ObjectPath::from(url.key.as_str());
        let result = self.runtime.block_on(async {
            match store.get(&path).await {
                Ok(r) => r.bytes().await.map(Some),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e),
            }
        });
        result
            .map(|b| b.map(|b| b.to_vec()))
            .map_err(|source| StoreError::Remote {
                url: url.url(),
                source,
            })
    }

    /// Write an object (a single PUT: the object appears whole or not at all).
    pub fn put(&self, url: &RemoteUrl, bytes: Vec<u8>) -> Result<(), StoreError> {
        let store = self.store(&url.bucket)?;
        let path = ObjectPath::from(url.key.as_str());
        self.runtime
            .block_on(store.put(&path, PutPayload::from(bytes)))
            .map(|_| ())
            .map_err(|source| StoreError::Remote {
                url: url.url(),
                source,
            })
    }

    fn delete(&self, url: &RemoteUrl) -> Result<(), StoreError> {
        let store = self.store(&url.bucket)?;
        let path = ObjectPath::from(url.key.as_str());
        match self.runtime.block_on(store.delete(&path)) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StoreError::Remote {
                url: url.url(),
                source,
            }),
        }
    }

    /// Download a single file (a data file, a spec) into the mirror; its local path.
    pub fn pull_file(&self, url: &RemoteUrl) -> Result<PathBuf, StoreError> {
        let bytes = self.get(url)?.ok_or_else(|| StoreError::Corrupt {
            url: url.url(),
            message: "no such object".into(),
        })?;
        let local = self.local(url);
        write_local(&local, &bytes)?;
        Ok(local)
    }

    /// Upload a single file of the mirror (when it differs from the remote copy).
    pub fn push_file(&self, url: &RemoteUrl) -> Result<(), StoreError> {
        let local = self.local(url);
        let bytes = read_local(&local)?;
        if self.get(url)?.as_deref() != Some(&bytes[..]) {
            self.put(url, bytes)?;
        }
        Ok(())
    }

    /// Bring a remote stage directory into the mirror: its manifest and every listed output,
    /// each checked against its sha256. Returns false (and clears the local manifest) when
    /// the remote directory has no manifest, i.e. holds no finished stage.
    pub fn pull_stage(&self, url: &RemoteUrl) -> Result<bool, StoreError> {
        let dir = self.local(url);
        let local_manifest = dir.join(MANIFEST);
        let Some(bytes) = self.get(&url.join(MANIFEST))? else {
            match std::fs::remove_file(&local_manifest) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(StoreError::Io {
                        path: local_manifest,
                        source,
                    });
                }
            }
            return Ok(false);
        };
        let manifest_url = url.join(MANIFEST).url();
        let mut manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                url: manifest_url.clone(),
                message: format!("not a stage manifest: {e}"),
            })?;
        for output in &manifest.outputs {
            let local = dir.join(&output.path);
            // Skip the download when the mirror already holds the right bytes.
            if std::fs::read(&local).is_ok_and(|b| sha256_hex(&b) == output.sha256) {
                continue;
            }
            let object = url.join(&output.path);
            let bytes = self.get(&object)?.ok_or_else(|| StoreError::Corrupt {
                url: object.url(),
                message: format!("listed in {manifest_url} but missing"),
            })?;
            let got = sha256_hex(&bytes);
            if got != output.sha256 {
                return Err(StoreError::Corrupt {
                    url: object.url(),
                    message: format!(
                        "sha256 {got} does not match {} recorded in the manifest",
                        output.sha256
                    ),
                });
            }
            write_local(&local, &bytes)?;
        }
        for input in &mut manifest.inputs {
            if let Some(rest) = input.path.strip_prefix("s3://") {
                let mut p = self.root.clone();
                p.extend(rest.split('/').filter(|s| !s.is_empty()));
                input.path = p.display().to_string();
            }
        }
        write_local(&local_manifest, &manifest_bytes(&manifest, &manifest_url)?)?;
        Ok(true)
    }

    /// Publish a finished stage of the mirror: the remote manifest is deleted first, the
    /// outputs uploaded, and the manifest last, so the remote stage is never half visible.
    /// Does nothing when the remote stage already holds the same outputs and inputs.
    pub fn push_stage(&self, url: &RemoteUrl) -> Result<(), StoreError> {
        let dir = self.local(url);
        let local_manifest = dir.join(MANIFEST);
        let manifest_url = url.join(MANIFEST);
        let bytes = read_local(&local_manifest)?;
        let mut manifest: Manifest =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                url: local_manifest.display().to_string(),
                message: format!("not a stage manifest: {e}"),
            })?;
        for input in &mut manifest.inputs {
            if let Some(remote) = self.remote_of(&input.path) {
                input.path = remote;
            }
        }
        let remote_bytes = manifest_bytes(&manifest, &manifest_url.url())?;
        if self.get(&manifest_url)?.as_deref() == Some(&remote_bytes[..]) {
            return Ok(());
        }
        self.delete(&manifest_url)?;
        for output in &manifest.outputs {
            let bytes = read_local(&dir.join(&output.path))?;
            self.put(&url.join(&output.path), bytes)?;
        }
        self.put(&manifest_url, remote_bytes)?;
        tracing::info!("uploaded {}", url.url());
        Ok(())
    }
}

fn manifest_bytes(manifest: &Manifest, url: &str) -> Result<Vec<u8>, StoreError> {
    let mut bytes = serde_json::to_vec_pretty(manifest).map_err(|e| StoreError::Corrupt {
        url: url.to_string(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

fn read_local(path: &Path) -> Result<Vec<u8>, StoreError> {
    std::fs::read(path).map_err(|source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn write_local(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| StoreError::Io {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    mmm_core::write_atomic(path, bytes).map_err(StoreError::Core)
}
