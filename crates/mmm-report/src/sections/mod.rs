//! The report's sections: each module turns artifacts into the rows, sentences and charts of
//! one section of report.html (and the model card), as serializable template context.

pub(crate) mod channels;
pub(crate) mod curves;
pub(crate) mod decomposition;
pub(crate) mod diagnostics;
pub(crate) mod ensemble;
pub(crate) mod experiments;
pub(crate) mod fit;
pub(crate) mod geo;
pub(crate) mod plans;
pub(crate) mod refresh;
pub(crate) mod sensitivity;
pub(crate) mod summary;

use serde::Serialize;

use crate::format::Currency;
use crate::inputs::{Inputs, SpecFile};

/// One chart of the page: its anchor, the inline SVG and a one-line reading guide shown under
/// it.
#[derive(Debug, Serialize)]
pub(crate) struct Figure {
    pub(crate) id: &'static str,
    pub(crate) svg: String,
    pub(crate) guide: String,
}

impl Figure {
    pub(crate) fn new(id: &'static str, svg: String, guide: impl Into<String>) -> Self {
        Self {
            id,
            svg,
            guide: guide.into(),
        }
    }
}

/// What every section needs besides its own artifacts.
pub(crate) struct Ctx<'a> {
    pub(crate) inputs: &'a Inputs,
    pub(crate) spec: &'a SpecFile,
    /// Name of the target (the outcome's unit).
    pub(crate) target: String,
    /// Mass of the report's intervals (`decisions.interval`, from diagnostics.json).
    pub(crate) interval: f64,
    pub(crate) currency: Currency,
}

impl Ctx<'_> {
    /// The interval's mass in percent, e.g. `94`.
    pub(crate) fn pct(&self) -> String {
        format!("{:.0}", 100.0 * self.interval)
    }

    /// `decisions.margin` as the decide stage used it (summary.json), else the spec's, else 1.
    pub(crate) fn margin(&self) -> f64 {
        self.decision_value("margin", 1.0)
    }

    /// `decisions.hurdle` as the decide stage used it (summary.json), else the spec's, else 0.
    pub(crate) fn hurdle(&self) -> f64 {
        self.decision_value("hurdle", 0.0)
    }

    fn decision_value(&self, key: &str, default: f64) -> f64 {
        let from_summary = self
            .inputs
            .decide_summary
            .as_ref()
            .and_then(|s| s.get(key))
            .and_then(serde_json::Value::as_f64);
        let from_spec = self
            .spec
            .table
            .get("decisions")
            .and_then(|d| d.get(key))
            .and_then(|v| v.as_float().or_else(|| v.as_integer().map(|i| i as f64)));
        from_summary.or(from_spec).unwrap_or(default)
    }
}

/// `v[key]`, or null.
pub(crate) fn value<'a>(v: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    v.get(key).unwrap_or(&serde_json::Value::Null)
}

/// `v[key]` as a number, NaN when absent.
pub(crate) fn number(v: &serde_json::Value, key: &str) -> f64 {
    v.get(key)
        .and_then(serde_json::Value::as_f64)
        .unwrap_or(f64::NAN)
}

/// Names in order of first appearance.
pub(crate) fn distinct(names: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for n in names {
        if !out.contains(n) {
            out.push(n.clone());
        }
    }
    out
}

/// A parameter the report does not list one by one: a local level's random-walk steps and
/// per-geo values (they are summarized per stem).
pub(crate) fn is_collapsed_parameter(name: &str) -> bool {
    name.starts_with("level_step[") || name.contains("[geo=") || name.contains("_geo_z")
}
