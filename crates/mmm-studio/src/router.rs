//! Which handler answers which request.

use crate::error::ApiError;
use crate::http::{Request, Response};
use crate::state::State;
use crate::{assets, compare, plans, runs, scenario};

/// Route `req`: the app (`/`, `/assets/...`), the JSON API (`/api/...`) and a verified run's
/// files (`/runs/NAME/files/PATH`).
pub fn route(req: &Request, state: &State) -> Response {
    let seg: Vec<&str> = req.segments.iter().map(String::as_str).collect();
    let result = match (req.method.as_str(), seg.as_slice()) {
        ("GET", []) => Ok(assets::index()),
        ("GET", ["assets", name]) => assets::asset(name),
        ("GET", ["api", "runs"]) => runs::list(state),
        ("GET", ["api", "runs", name]) => runs::page(state, name),
        ("POST", ["api", "runs", name, "current"]) => scenario::current(state, name, req),
        ("POST", ["api", "runs", name, "scenario"]) => scenario::scenario(state, name, req),
        ("POST", ["api", "runs", name, "optimize"]) => scenario::optimize(state, name, req),
        ("POST", ["api", "runs", name, "plans"]) => plans::save(state, name, req),
        ("GET", ["api", "compare", a, b]) => compare::compare(state, a, b),
        ("GET", ["runs", name, "files", ..]) => runs::file(state, name, &req.segments[3..]),
        ("GET" | "POST", _) => Err(ApiError::not_found(format!(
            "nothing at {}",
            crate::paths::redact(&req.raw_path)
        ))),
        _ => Err(ApiError::new(405, "only GET and POST are served")),
    };
    result.unwrap_or_else(Response::from)
}
