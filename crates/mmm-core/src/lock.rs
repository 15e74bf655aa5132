//! An advisory lock per output directory, so that two writers never interleave in one run.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::error::CoreError;

/// Name of the lock file inside a locked directory.
pub const LOCK_FILE: &str = ".mmm.lock";

/// An exclusive advisory lock on a directory (`DIR/.mmm.lock`), held until dropped. The file
/// says who holds it (process id, command line, start time), so a second writer's error can
/// name the holder.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    path: PathBuf,
}

impl DirLock {
    /// Take the lock of `dir` (created if missing) or fail at once naming the holder. The lock
    /// file is removed again on drop, so a finished run holds no trace of it.
    pub fn acquire(dir: &Path) -> Result<Self, CoreError> {
        fs::create_dir_all(dir).map_err(|e| CoreError::io(dir, e))?;
        let path = dir.join(LOCK_FILE);
        // A holder may remove the file between our open and our lock: then we locked an
        // unlinked file and try again on the new one.
        for _ in 0..16 {
            let file = open_lock_file(&path)?;
            if still_linked(&file, &path) {
                crate::guard::register_cleanup(&path);
                return Self::record_holder(file, path);
            }
        }
        Err(CoreError::Locked {
            path,
            holder: "the lock file keeps being replaced".into(),
        })
    }

    fn record_holder(mut file: File, path: PathBuf) -> Result<Self, CoreError> {
        let who = format!(
            "pid {} ({}), since {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" "),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
        let written = file
            .set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| file.write_all(who.as_bytes()));
        written.map_err(|e| CoreError::io(&path, e))?;
        Ok(Self { file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock; a waiter that opened the old file sees it
        // unlinked after locking it and retries (see `acquire`).
        let _ = fs::remove_file(&self.path);
        crate::guard::unregister_cleanup(&self.path);
        let _ = self.file.unlock();
    }
}

/// Open `path` (never through a link planted at its name) and lock it, or name the holder.
fn open_lock_file(path: &Path) -> Result<File, CoreError> {
    if fs::symlink_metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(CoreError::io(
            path,
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "the lock file's name is taken by a link or a directory; remove it",
            ),
        ));
    }
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| CoreError::io(path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            Err(CoreError::Locked {
                path: path.to_path_buf(),
                holder: holder.trim().to_string(),
            })
        }
        Err(std::fs::TryLockError::Error(e)) => Err(CoreError::io(path, e)),
    }
}

/// Whether `path` still names the file we hold open (not removed or replaced meanwhile).
#[cfg(unix)]
fn still_linked(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn still_linked(_file: &File, path: &Path) -> bool {
    path.exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = DirLock::acquire(dir.path()).expect("first lock");
        let err = DirLock::acquire(dir.path()).expect_err("second writer");
        let text = err.to_string();
        assert!(matches!(err, CoreError::Locked { .. }), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        assert!(
            !dir.path().join(LOCK_FILE).exists(),
            "the lock file is removed on release"
        );
        DirLock::acquire(dir.path()).expect("free again");
    }
}
