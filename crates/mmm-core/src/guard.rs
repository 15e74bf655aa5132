//! Last-resort guards: a panic inside a third-party decoder becomes an error, quietly; temp
//! files still being written are removed when the process is interrupted.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};

thread_local! {
    /// Set while [`catch_panic`] runs: its panics are reported as errors, not printed.
    static QUIET: Cell<bool> = const { Cell::new(false) };
}

static HOOK: Once = Once::new();

/// Install (once) a panic hook that stays silent for panics caught by [`catch_panic`] and
/// defers to the previous hook otherwise.
pub fn install_quiet_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

/// Run `f`; a panic inside it (a decoder's bug on corrupt bytes) becomes `Err(message)`.
pub fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    install_quiet_panic_hook();
    let was = QUIET.with(|q| q.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(was));
    result.map_err(|payload| {
        payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "the decoder failed".into())
    })
}

/// Temp files being written now (see [`crate::write_atomic`]) and lock files held.
static IN_FLIGHT: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());

pub(crate) fn register_cleanup(path: &Path) {
    if let Ok(mut set) = IN_FLIGHT.lock() {
        set.insert(path.to_path_buf());
    }
}

pub(crate) fn unregister_cleanup(path: &Path) {
    if let Ok(mut set) = IN_FLIGHT.lock() {
        set.remove(path);
    }
}

/// Remove every temp file still being written and every lock held: called on Ctrl-C before
/// the process exits, so an interrupted stage leaves neither a partial file under a final name
/// nor a stray temp or lock.
pub fn remove_temp_files_in_flight() {
    let paths: Vec<PathBuf> = match IN_FLIGHT.lock() {
        Ok(set) => set.iter().cloned().collect(),
        Err(poisoned) => poisoned.into_inner().iter().cloned().collect(),
    };
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caught_panic_is_an_error_with_its_message() {
        assert_eq!(catch_panic(|| 3), Ok(3));
        let err = catch_panic(|| -> u8 { panic!("bad bit width") }).expect_err("caught");
        assert_eq!(err, "bad bit width");
    }
}
