//! The report stage: report.html (self-contained, inline SVG) and model_card.md, built from the
//! artifacts of a run directory alone — nothing is refitted or recomputed from the model.

use std::path::{Path, PathBuf};

use minijinja::Environment;
use mmm_core::{CoreError, Manifest, RunStatus, StageWriter};

use crate::charts::ChartError;
use crate::format::{Currency, num, num4, pct, plain, range, tidy_text};
use crate::inputs::{Inputs, SpecFile};

/// Name of the stage.
pub const STAGE: &str = "report";

/// Errors of the report stage.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Artifact IO failed.
    #[error(transparent)]
    Core(#[from] CoreError),
    /// A chart could not be drawn.
    #[error("a chart of the report could not be drawn")]
    Chart(#[from] ChartError),
    /// The template failed.
    #[error("the report template failed to render")]
    Template(#[from] minijinja::Error),
    /// The run's spec.toml is not TOML.
    #[error("{}: the spec does not parse", path.display())]
    Spec {
        /// The spec file.
        path: PathBuf,
        /// What the TOML parser found.
        #[source]
        source: toml::de::Error,
    },
    /// An artifact lacks a value the report needs.
    #[error("{}: {what}", path.display())]
    Missing {
        /// The artifact.
        path: PathBuf,
        /// What is missing.
        what: &'static str,
    },
}

const TEMPLATE: &str = include_str!("report.html.j2");
const CARD_TEMPLATE: &str = include_str!("model_card.md.j2");

/// Three numbers `[mean, lower, upper]` from the template (NaN arrives as none).
fn triple(v: &[Option<f64>]) -> [f64; 3] {
    std::array::from_fn(|i| v.get(i).copied().flatten().unwrap_or(f64::NAN))
}

/// The templates with their filters: `num`, `num4`, `pct`, `money`, `plain` and `tidy` format one
/// value ([`crate::format`]); `hdi`, `pct_hdi` and `money_hdi` write the interval of a
/// `[mean, lower, upper]` triple. Values printed into model_card.md are escaped as Markdown
/// ([`crate::markdown`]); report.html is HTML-escaped by minijinja (its name).
fn environment(currency: Currency) -> Result<Environment<'static>, ReportError> {
    let mut env = Environment::new();
    let (c1, c2) = (currency.clone(), currency);
    env.add_filter("num", |v: Option<f64>| num(v.unwrap_or(f64::NAN)));
    env.add_filter("num4", |v: Option<f64>| num4(v.unwrap_or(f64::NAN)));
    env.add_filter("pct", |v: Option<f64>| pct(v.unwrap_or(f64::NAN)));
    env.add_filter("plain", |v: Option<f64>| plain(v.unwrap_or(f64::NAN)));
    env.add_filter("money", move |v: Option<f64>| {
        c1.money(v.unwrap_or(f64::NAN))
    });
    env.add_filter("tidy", |v: String| tidy_text(&v));
    env.add_filter("hdi", |v: Vec<Option<f64>>| {
        let [_, l, u] = triple(&v);
        range(l, u, num)
    });
    env.add_filter("pct_hdi", |v: Vec<Option<f64>>| {
        let [_, l, u] = triple(&v);
        range(l, u, pct)
    });
    env.add_filter("money_hdi", move |v: Vec<Option<f64>>| {
        let [_, l, u] = triple(&v);
        range(l, u, |x| c2.money(x))
    });
    env.add_filter("code", crate::markdown::code_filter);
    env.add_test("containing", |v: &str, needle: &str| v.contains(needle));
    env.set_auto_escape_callback(crate::markdown::auto_escape);
    env.set_formatter(crate::markdown::formatter);
    env.add_template("report.html", TEMPLATE)?;
    env.add_template("model_card.md", CARD_TEMPLATE)?;
    Ok(env)
}

/// The currency a template context names (`currency`, set by [`run`]).
fn currency_of(ctx: &serde_json::Value) -> Currency {
    Currency {
        code: ctx
            .get("currency")
            .and_then(|c| c.as_str())
            .map(str::to_owned),
    }
}

/// model_card.md rendered from a template context (the one [`run`] builds; tests give a
/// small one).
pub fn render_model_card(ctx: &serde_json::Value) -> Result<String, ReportError> {
    Ok(environment(currency_of(ctx))?
        .get_template("model_card.md")?
        .render(minijinja::value::Serde(ctx))?)
}

/// report.html rendered from a template context (the one [`run`] builds; tests give a small
/// one).
pub fn render_report(ctx: &serde_json::Value) -> Result<String, ReportError> {
    Ok(environment(currency_of(ctx))?
        .get_template("report.html")?
        .render(minijinja::value::Serde(ctx))?)
}

/// The report stage: render `run`'s artifacts into `out_dir`.
pub fn run(run: &Path, out_dir: &Path, force: bool) -> Result<Option<Manifest>, ReportError> {
    let spec = SpecFile::read(run)?;
    let inputs = Inputs::open(run, spec.spec_ref())?;
    let upstream = inputs.upstream();
    let Some(mut writer) = StageWriter::begin(
        out_dir,
        &mmm_core::stage_id!(STAGE),
        mmm_core::StageInputs::new(spec.spec_ref(), &upstream, inputs.records.clone()),
        force,
    )?
    else {
        return Ok(None);
    };
    let ctx = crate::context::build(&spec, &inputs)?;
    let html = render_report(&ctx)?;
    let card = render_model_card(&ctx)?;
    writer.write_bytes("report.html", html.as_bytes(), None, None)?;
    writer.write_bytes("model_card.md", card.as_bytes(), None, None)?;
    Ok(Some(writer.finish(
        None,
        serde_json::json!({ "run": run.display().to_string() }),
        RunStatus::Complete,
    )?))
}
