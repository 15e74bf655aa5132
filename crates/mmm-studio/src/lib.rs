//! The studio: a local web app over the finished runs under one directory (`mmm studio`).
//!
//! - the runs list (model, data period, gate, created, lineage verified as `mmm inspect` does);
//! - a run page: its report (the run's own report.html) and interactive charts of its tables;
//!   a run that fails verification gets a page that says why and shows no numbers;
//! - the scenario planner: spend per channel (and geo) over a horizon, evaluated over all
//!   posterior draws by [`mmm_decisions::planner::Planner`], the code of `mmm scenario`, and
//!   "optimize" through the optimizer of `mmm optimize`;
//! - two runs side by side (`mmm compare` and `mmm diff`);
//! - saving a plan: `mmm scenario --record` into the plans directory, never into a run.
//!
//! Runs are read-only to the studio. It binds to 127.0.0.1 by default, serves only files
//! under the runs directory, and puts no absolute path in a response (docs/studio.md).

mod assets;
mod compare;
mod error;
mod http;
mod paths;
mod plans;
mod router;
mod runs;
mod scenario;
mod state;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

pub use error::StudioError;

/// Where the studio reads runs from, writes plans to, and listens.
#[derive(Debug, Clone)]
pub struct StudioConfig {
    /// Directory whose subdirectories are run directories (read-only).
    pub runs: PathBuf,
    /// Directory that saved plans are written into (created when missing); must not be
    /// inside `runs`.
    pub plans: PathBuf,
    /// Address to bind (default 127.0.0.1: only this machine can connect).
    pub bind: IpAddr,
    /// Port (0: any free port).
    pub port: u16,
}

impl StudioConfig {
    /// The defaults: bind 127.0.0.1 on port 8765, plans in `runs/../plans`.
    pub fn new(runs: PathBuf) -> Self {
        let plans = default_plans_dir(&runs);
        Self {
            runs,
            plans,
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: DEFAULT_PORT,
        }
    }
}

/// Default port of `mmm studio`.
pub const DEFAULT_PORT: u16 = 8765;

/// Most connections served at once; more wait in the listen queue.
const MAX_CONNECTIONS: usize = 32;

/// The default plans directory: `plans` beside the runs directory (outside every run).
pub fn default_plans_dir(runs: &std::path::Path) -> PathBuf {
    let abs = std::path::absolute(runs).unwrap_or_else(|_| runs.to_path_buf());
    abs.parent()
        .map_or_else(|| PathBuf::from("plans"), |p| p.join("plans"))
}

/// A bound studio, ready to serve.
#[derive(Debug)]
pub struct Studio {
    listener: TcpListener,
    state: Arc<state::State>,
}

impl Studio {
    /// Check the directories and bind the address.
    pub fn bind(config: &StudioConfig) -> Result<Self, StudioError> {
        let state = state::State::new(&config.runs, &config.plans)?;
        let addr = SocketAddr::new(config.bind, config.port);
        let listener =
            TcpListener::bind(addr).map_err(|source| StudioError::Bind { addr, source })?;
        Ok(Self {
            listener,
            state: Arc::new(state),
        })
    }

    /// The address the studio listens on.
    pub fn local_addr(&self) -> Result<SocketAddr, StudioError> {
        self.listener.local_addr().map_err(StudioError::Io)
    }

    /// Serve until the process ends: one thread per connection, at most 32 at once.
    pub fn run(self) -> Result<(), StudioError> {
        let active = Arc::new(AtomicUsize::new(0));
        for stream in self.listener.incoming() {
            let Ok(stream) = stream else { continue };
            while active.load(Ordering::Acquire) >= MAX_CONNECTIONS {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            active.fetch_add(1, Ordering::AcqRel);
            let (state, active) = (Arc::clone(&self.state), Arc::clone(&active));
            std::thread::spawn(move || {
                http::serve_connection(stream, &state, router::route);
                active.fetch_sub(1, Ordering::AcqRel);
            });
        }
        Ok(())
    }

    /// Serve on a background thread (tests, benchmarks); returns the address.
    pub fn spawn(self) -> Result<SocketAddr, StudioError> {
        let addr = self.local_addr()?;
        std::thread::spawn(move || self.run());
        Ok(addr)
    }
}

/// Bind and serve until the process ends (`mmm studio`).
pub fn serve(config: &StudioConfig) -> Result<(), StudioError> {
    Studio::bind(config)?.run()
}
