//! Panic accounting shared by the fuzz targets.
//!
//! libfuzzer-sys installs a panic hook that aborts (a crash libFuzzer records). But
//! `mmm_core::read_parquet_bytes` runs the Parquet decoder under `mmm_core::guard::catch_panic`,
//! whose quiet hook skips the hook below it for the panics it catches: left alone, a fuzz target
//! would never see those decoder panics. So [`install`] stacks a counting hook *above* the quiet
//! one: every panic passes through it first. An uncaught panic still reaches libFuzzer's aborting
//! hook (a crash with a reproducer); a caught one is counted and, by [`report_caught`], printed to
//! stderr once per source location (and saved, see below).
//!
//! Environment:
//! - `MMM_FUZZ_STRICT=1`: every panic aborts, caught or not (libFuzzer then saves and minimizes
//!   the input like any crash: `cargo fuzz tmin` works on guard catches too).
//! - `MMM_FUZZ_CAUGHT_DIR=DIR`: write the first input that makes the guard catch a panic at a
//!   new source location to `DIR/caught-<location hash>`.
//! - `MMM_FUZZ_TRACE=1`: print how far each input got (which reader returned what), to check
//!   that the seeds reach the code behind the readers (`-runs=0` runs just the seeds).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};

static PANICS: AtomicU64 = AtomicU64::new(0);
static LAST: Mutex<Option<(String, String)>> = Mutex::new(None);
static SEEN: Mutex<BTreeMap<String, u64>> = Mutex::new(BTreeMap::new());
static CAUGHT_TOTAL: AtomicU64 = AtomicU64::new(0);
static INSTALL: Once = Once::new();

/// True when `MMM_FUZZ_TRACE` is set: [`trace`] then prints.
pub fn tracing() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("MMM_FUZZ_TRACE").is_some_and(|v| v != "0"))
}

/// Print `what` and the outcome of `result` when tracing; pass the result on.
pub fn trace<T, E: std::fmt::Display>(what: &str, result: Result<T, E>) -> Result<T, E> {
    if tracing() {
        match &result {
            Ok(_) => eprintln!("[mmm-fuzz trace] {what}: ok"),
            Err(e) => {
                let text = e.to_string();
                let short: String = text.chars().take(300).collect();
                eprintln!("[mmm-fuzz trace] {what}: error: {short}");
            }
        }
    }
    result
}

/// A scratch directory for this process (under /dev/shm when there is one), emptied; the ones
/// that processes no longer running left behind (libFuzzer exits without running destructors)
/// are removed first.
pub fn scratch_dir(target: &str) -> std::path::PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        std::path::PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let prefix = format!("mmm-fuzz-{target}-");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = name
                .strip_prefix(&prefix)
                .and_then(|pid| pid.parse::<u32>().ok())
                .is_some_and(|pid| !std::path::Path::new(&format!("/proc/{pid}")).exists());
            if stale {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let root = base.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("scratch directory");
    root
}

fn payload_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(non-string panic payload)".into())
}

unsafe extern "C" {
    fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
}

/// At exit (libFuzzer ends a `-max_total_time` or `-runs` run with `exit`): the guard's catches
/// in total and per source location.
extern "C" fn print_summary() {
    let total = CAUGHT_TOTAL.load(Ordering::SeqCst);
    eprintln!("[mmm-fuzz] panics caught by a guard in this process: {total}");
    if let Ok(seen) = SEEN.lock() {
        for (location, count) in seen.iter() {
            eprintln!("[mmm-fuzz]   {count} input(s) at {location}");
        }
    }
}

/// Install the counting hook above mmm-core's quiet hook (idempotent).
pub fn install() {
    INSTALL.call_once(|| {
        // SAFETY: registers a plain function with no arguments, as atexit(3) expects.
        unsafe {
            atexit(print_summary);
        }
        // `catch_panic` installs the quiet hook on its first use anyway; installing it here
        // first puts it *below* the counting hook, so no panic can bypass the count.
        mmm_core::guard::install_quiet_panic_hook();
        let below = std::panic::take_hook();
        let strict = std::env::var_os("MMM_FUZZ_STRICT").is_some_and(|v| v != "0");
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                .unwrap_or_else(|| "(unknown location)".into());
            let message = payload_text(info.payload());
            PANICS.fetch_add(1, Ordering::SeqCst);
            if let Ok(mut last) = LAST.lock() {
                *last = Some((location.clone(), message.clone()));
            }
            if strict {
                eprintln!(
                    "[mmm-fuzz] panic at {location}: {message} (MMM_FUZZ_STRICT: aborting even if a guard would catch it)\n{}",
                    std::backtrace::Backtrace::force_capture()
                );
                std::process::abort();
            }
            below(info);
        }));
    });
}

/// Panics seen so far (caught or not; an uncaught one never returns here).
pub fn panics() -> u64 {
    PANICS.load(Ordering::SeqCst)
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// After one input: if panics happened since `before` (and were caught, since we are still
/// running), print the location when it is new, save `input` (see `MMM_FUZZ_CAUGHT_DIR`), and
/// print the running totals at 1, 2, 4, 8, ... catches.
pub fn report_caught(target: &str, before: u64, input: &[u8]) {
    let now = panics();
    if now == before {
        return;
    }
    let total = CAUGHT_TOTAL.fetch_add(now - before, Ordering::SeqCst) + (now - before);
    let (location, message) = LAST
        .lock()
        .ok()
        .and_then(|l| l.clone())
        .unwrap_or_else(|| ("(unknown location)".into(), String::new()));
    let (is_new, locations) = match SEEN.lock() {
        Ok(mut seen) => {
            let count = seen.entry(location.clone()).or_insert(0);
            *count += 1;
            (*count == 1, seen.len())
        }
        Err(_) => (false, 0),
    };
    if is_new {
        let first_line = message.lines().next().unwrap_or("");
        eprintln!(
            "[mmm-fuzz {target}] a guard caught a panic at a new location #{locations}: {location}: {first_line}"
        );
        if let Some(dir) = std::env::var_os("MMM_FUZZ_CAUGHT_DIR") {
            let dir = std::path::PathBuf::from(dir);
            let file = dir.join(format!("caught-{:016x}", fnv1a(&location)));
            let saved = std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&file, input));
            match saved {
                Ok(()) => eprintln!("[mmm-fuzz {target}]   input saved to {}", file.display()),
                Err(e) => eprintln!("[mmm-fuzz {target}]   cannot save the input: {e}"),
            }
        }
    }
    if total.is_power_of_two() || is_new {
        eprintln!(
            "[mmm-fuzz {target}] guard catches so far: {total} at {locations} location(s)"
        );
    }
}
