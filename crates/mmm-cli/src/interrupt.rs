//! Ctrl-C (SIGINT) and SIGTERM in every stage: exit 130 with nothing half-written.
//!
//! A signal thread owns the signals. While sampling runs (a [`graceful`] scope) the first
//! signal only raises the stop flag: the sampler finishes its current draw, the fit is written
//! and marked incomplete, and the command exits 130 at the next stage boundary
//! ([`requested`]). Anywhere else, and on a second signal, the temp files being written are
//! removed and the process exits 130 at once: every artifact is written to a temp file and
//! renamed, and the manifest is written last, so no stage is left looking finished.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Exit code of an interrupted command.
pub const EXIT_INTERRUPTED: u8 = 130;

static STOP: OnceLock<Arc<AtomicBool>> = OnceLock::new();
/// How many graceful scopes are open.
static GRACEFUL: AtomicUsize = AtomicUsize::new(0);

/// The stop flag the sampler polls.
pub fn stop_flag() -> Arc<AtomicBool> {
    Arc::clone(STOP.get_or_init(|| Arc::new(AtomicBool::new(false))))
}

/// Start the signal thread (once, at program start).
pub fn install() {
    let stop = stop_flag();
    let signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ]);
    let mut signals = match signals {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!("cannot install the Ctrl-C handler: {e}");
            return;
        }
    };
    let spawned = std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for _ in signals.forever() {
                let first = !stop.swap(true, Ordering::SeqCst);
                if first && GRACEFUL.load(Ordering::SeqCst) > 0 {
                    eprintln!(
                        "interrupted: stopping after the current draws (Ctrl-C again to quit now)"
                    );
                    continue;
                }
                mmm_core::guard::remove_temp_files_in_flight();
                eprintln!("interrupted: nothing was half-written; rerun to finish");
                std::process::exit(i32::from(EXIT_INTERRUPTED));
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot start the signal thread: {e}");
    }
}

/// While the returned guard lives, a first Ctrl-C asks the sampler to stop instead of exiting.
pub fn graceful() -> GracefulScope {
    GRACEFUL.fetch_add(1, Ordering::SeqCst);
    GracefulScope(())
}

/// See [`graceful`].
#[derive(Debug)]
pub struct GracefulScope(());

impl Drop for GracefulScope {
    fn drop(&mut self) {
        GRACEFUL.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Whether Ctrl-C was pressed (checked between stages).
pub fn requested() -> bool {
    STOP.get().is_some_and(|s| s.load(Ordering::SeqCst))
}
