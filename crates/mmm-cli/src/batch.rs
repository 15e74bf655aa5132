//! `mmm batch`: run the whole pipeline for many entities (brands, markets, products) listed in
//! a file, with a bounded pool of worker processes.
//!
//! Each entity is one `mmm run` in its own process, so a crash or a bad input in one entity
//! cannot take the others down, and a rerun resumes: stages whose outputs are fresh are skipped
//! by `mmm run` itself. Everything an entity reads must lie inside the declared input root and
//! everything it writes inside the output root; rows that point elsewhere are refused.

use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use arrow::array::StringArray;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mmm_contracts::RawTable;
use mmm_core::columns::BatchBuilder;

/// Exit code of `mmm batch` when at least one entity failed (the others still ran).
pub const EXIT_ENTITY_FAILED: u8 = 5;

/// Where a batch reads and writes, and how it runs (the flags of `mmm batch`).
#[derive(clap::Args)]
pub struct BatchArgs {
    /// Entities file (CSV or Parquet): columns `entity` (a name: letters, digits, - _ .),
    /// `data` (a file relative to the input root) or `filter` (`column=value; ...` on
    /// --table), and optionally `spec` (relative to the input root), `calendar` (a holiday and
    /// event calendar relative to the input root, as `mmm run --calendar`) and `overrides`
    /// (`key.path=TOML value; ...`, e.g. `sampler.seed=7; channels.0.adstock.l_max=4`).
    #[arg(long)]
    pub entities: PathBuf,
    /// Output root: one run directory per entity, plus `_batch/` and `batch_summary.*`.
    #[arg(long)]
    pub out: PathBuf,
    /// Input root: every path in the entities file is relative to it and must stay inside
    /// it (default: the entities file's directory).
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Spec for rows without a `spec`.
    #[arg(long)]
    pub spec: Option<PathBuf>,
    /// Shared raw table (CSV or Parquet) that `filter` rows select from; the filter
    /// columns are dropped from each entity's data.
    #[arg(long)]
    pub table: Option<PathBuf>,
    /// Entities run at once (0 = one per core); each fit gets the cores left over.
    #[arg(long, default_value_t = 0)]
    pub workers: usize,
    /// Skip the refit checks in each entity's diagnose stage.
    #[arg(long)]
    pub no_refits: bool,
    /// Redo every stage of every entity.
    #[arg(long)]
    pub force: bool,
}

/// Where an entity's raw data comes from.
#[derive(Debug, Clone)]
enum Source {
    /// A file of its own, inside the input root.
    File(PathBuf),
    /// Rows of the shared table where each column equals its value.
    Filter(Vec<(String, String)>),
}

/// The resolved inputs of one entity.
#[derive(Debug, Clone)]
struct Plan {
    source: Source,
    spec: PathBuf,
    calendar: Option<PathBuf>,
    overrides: Vec<(String, toml::Value)>,
}

/// One row of the entities file, resolved.
#[derive(Debug, Clone)]
struct Entity {
    name: String,
    /// Resolved inputs, or why the row cannot run (the entity is then refused, the others run).
    plan: Result<Plan, String>,
}

/// How one entity ended.
#[derive(Debug, Clone)]
struct Outcome {
    status: &'static str,
    exit_code: i64,
    gates: &'static str,
    message: String,
    seconds: f64,
    /// channel -> (mean, lower, upper) ROAS.
    roas: Vec<(String, [f64; 3])>,
}

/// Run every entity; write `OUT/batch_summary.parquet` (and `.json`), print the summary, return the exit code
/// (0 all passed, 3 some entity failed a gate, [`EXIT_ENTITY_FAILED`] some entity failed).
pub fn run(settings: &BatchArgs, quiet: bool) -> Result<u8> {
    let entities_file = &settings.entities;
    let root = match &settings.root {
        Some(r) => r.clone(),
        None => entities_file
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default(),
    };
    let root = if root.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        root
    };
    let root = root
        .canonicalize()
        .with_context(|| format!("input root {}", root.display()))?;
    let table = mmm_contracts::read_table(entities_file)?;
    let entities = parse_entities(&table, entities_file, &root, settings)?;
    let shared = match &settings.table {
        Some(t) => Some(mmm_contracts::read_table(t)?),
        None => None,
    };

    std::fs::create_dir_all(settings.out.join("_batch"))
        .with_context(|| format!("creating {}", settings.out.display()))?;
    let out = settings
        .out
        .canonicalize()
        .with_context(|| format!("output root {}", settings.out.display()))?;
    let workers = if settings.workers == 0 {
        cores()
    } else {
        settings.workers
    }
    .min(entities.len())
    .max(1);
    // Chains of one fit share the cores left to its worker; draws do not depend on it.
    let threads = (cores() / workers).max(1);

    let bar = progress_bar(entities.len() as u64, quiet);
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; entities.len()]);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(entity) = entities.get(i) else { break };
                    bar.set_message(entity.name.clone());
                    let outcome = run_entity(entity, shared.as_ref(), &out, threads, settings);
                    if let Ok(mut all) = outcomes.lock() {
                        all[i] = Some(outcome);
                    }
                    bar.inc(1);
                }
            });
        }
    });
    bar.finish_and_clear();
    let outcomes: Vec<Outcome> = outcomes
        .into_inner()
        .map_err(|_| anyhow::anyhow!("a batch worker panicked"))?
        .into_iter()
        .map(|o| o.expect("every entity index was taken by a worker"))
        .collect();

    let summary = summary_batch(&entities, &outcomes)?;
    let summary_path = out.join("batch_summary.parquet");
    mmm_core::write_atomic(
        &summary_path,
        &mmm_core::artifact::parquet_bytes(&summary, &summary_path)?,
    )?;
    // The same table as JSON, for orchestrators and shell tools (`jq`).
    let json: Vec<serde_json::Value> = entities
        .iter()
        .zip(&outcomes)
        .map(|(e, o)| {
            let roas: serde_json::Map<String, serde_json::Value> = o
                .roas
                .iter()
                .map(|(c, v)| {
                    (
                        c.clone(),
                        serde_json::json!({"mean": v[0], "lower": v[1], "upper": v[2]}),
                    )
                })
                .collect();
            serde_json::json!({
                "entity": e.name,
                "status": o.status,
                "exit_code": o.exit_code,
                "gates": o.gates,
                "message": o.message,
                "seconds": o.seconds,
                "roas": roas,
            })
        })
        .collect();
    let mut text = serde_json::to_vec_pretty(&json)?;
    text.push(b'\n');
    mmm_core::write_atomic(&out.join("batch_summary.json"), &text)?;
    print_summary(&entities, &outcomes);
    println!("{}", summary_path.display());

    let failed = outcomes
        .iter()
        .filter(|o| !matches!(o.status, "ok" | "gates_failed"))
        .count();
    let gated = outcomes
        .iter()
        .filter(|o| o.status == "gates_failed")
        .count();
    if failed > 0 {
        eprintln!(
            "{failed} of {} entities failed; their logs are in {}",
            outcomes.len(),
            out.join("_batch").join("logs").display()
        );
        Ok(EXIT_ENTITY_FAILED)
    } else if gated > 0 {
        Ok(3)
    } else {
        Ok(0)
    }
}

fn cores() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

fn progress_bar(len: u64, quiet: bool) -> ProgressBar {
    let target = if quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("entities {bar:30} {pos}/{len} {msg}") {
        bar.set_style(style);
    }
    bar
}

/// Names the batch itself writes in the output root, beside the entity directories
/// (`_batch/` is covered by the rule on a leading `_`).
const BATCH_OUTPUTS: [&str; 2] = ["batch_summary.parquet", "batch_summary.json"];

/// An entity name is a directory name under the output root: letters, digits, `-`, `_`, `.`,
/// not starting with `.` or `_` (reserved for the batch's own files), and not a name of the
/// batch's outputs, compared case-insensitively (case-insensitive file systems): an entity
/// named `batch_summary.parquet` had its run directory replace the summary.
fn check_entity_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 100 {
        return Err("must have 1 to 100 characters".into());
    }
    if name.starts_with('.') || name.starts_with('_') {
        return Err("must not start with '.' or '_'".into());
    }
    if name.to_ascii_lowercase().starts_with("batch_summary") {
        return Err(format!(
            "is reserved: the batch writes {} in the output root",
            BATCH_OUTPUTS.join(" and ")
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "character {c:?} is not allowed (letters, digits, '-', '_', '.')"
        ));
    }
    Ok(())
}

/// `rel` joined to `root`, refused when it is absolute, climbs with `..`, or (through a link)
/// resolves outside `root`.
fn resolve_inside(root: &Path, rel: &str, what: &str) -> Result<PathBuf, String> {
    let path = Path::new(rel);
    for c in path.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!("{what} '{rel}' climbs out with '..'"));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "{what} '{rel}' is absolute; give it relative to the input root {}",
                    root.display()
                ));
            }
        }
    }
    let joined = root.join(path);
    let real = joined
        .canonicalize()
        .map_err(|e| format!("{what} {}: {e}", joined.display()))?;
    if !real.starts_with(root) {
        return Err(format!(
            "{what} '{rel}' resolves to {} outside the input root {}",
            real.display(),
            root.display()
        ));
    }
    Ok(real)
}

/// `key.path=value; ...` with TOML values (`sampler.seed=7; model.name="a"`); array elements
/// by index (`channels.0.adstock.l_max=4`).
fn parse_overrides(text: &str) -> Result<Vec<(String, toml::Value)>, String> {
    let mut out = Vec::new();
    for part in text.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!("override '{part}' is not key=value"));
        };
        let key = key.trim();
        if key.is_empty() || key.split('.').any(str::is_empty) {
            return Err(format!("override '{part}': empty key segment"));
        }
        let doc: toml::Table = toml::from_str(&format!("v = {}", value.trim())).map_err(|_| {
            format!(
                "override '{part}': '{}' is not a TOML value (quote strings)",
                value.trim()
            )
        })?;
        let value = doc.get("v").cloned().unwrap_or(toml::Value::Boolean(false));
        out.push((key.to_string(), value));
    }
    Ok(out)
}

fn cell(col: Option<&StringArray>, row: usize) -> &str {
    col.map(|c| c.value(row).trim()).unwrap_or("")
}

/// Read and check the entities file. Problems that make the batch ambiguous (a missing
/// `entity` column, a bad or repeated name) refuse the whole batch, listed together; problems
/// of one row (a path outside the root, a bad override) refuse only that entity.
fn parse_entities(
    table: &RawTable,
    file: &Path,
    root: &Path,
    settings: &BatchArgs,
) -> Result<Vec<Entity>> {
    let Some(names) = table.column("entity") else {
        bail!(
            "{}: column 'entity' is missing (columns: entity, data or filter, spec, calendar, overrides)",
            file.display()
        );
    };
    let known = ["entity", "data", "filter", "spec", "calendar", "overrides"];
    let unknown: Vec<&String> = table
        .names
        .iter()
        .filter(|n| !known.contains(&n.as_str()))
        .collect();
    if !unknown.is_empty() {
        bail!(
            "{}: unknown column(s) {unknown:?}; expected {known:?}",
            file.display()
        );
    }
    let (data, filter, spec, calendar, overrides) = (
        table.column("data"),
        table.column("filter"),
        table.column("spec"),
        table.column("calendar"),
        table.column("overrides"),
    );
    let mut problems = Vec::new();
    let mut seen = BTreeSet::new();
    let mut entities = Vec::new();
    for row in 0..table.rows {
        // Rows are counted from 1 after the header, as the data contract counts them.
        let at = format!("{}: row {}, column entity", file.display(), row + 1);
        let name = names.value(row).trim().to_string();
        if let Err(e) = check_entity_name(&name) {
            problems.push(format!("{at}: entity name '{name}' {e}"));
            continue;
        }
        // Case-insensitively: `Acme` and `acme` are one directory on macOS and Windows.
        if !seen.insert(name.to_ascii_lowercase()) {
            problems.push(format!(
                "{at}: entity '{name}' appears twice (names are compared ignoring case)"
            ));
            continue;
        }
        let plan = (|| {
            let source = match (cell(data, row), cell(filter, row)) {
                ("", "") => return Err("neither 'data' nor 'filter' is given".to_string()),
                (d, "") => Source::File(resolve_inside(root, d, "data")?),
                ("", f) => {
                    if settings.table.is_none() {
                        return Err("'filter' needs a shared table (--table)".to_string());
                    }
                    Source::Filter(parse_filter(f)?)
                }
                _ => return Err("give either 'data' or 'filter', not both".to_string()),
            };
            let spec = match (cell(spec, row), &settings.spec) {
                ("", Some(s)) => s.clone(),
                ("", None) => return Err("no 'spec' and no --spec".to_string()),
                (s, _) => resolve_inside(root, s, "spec")?,
            };
            let calendar = match cell(calendar, row) {
                "" => None,
                c => Some(resolve_inside(root, c, "calendar")?),
            };
            let overrides = parse_overrides(cell(overrides, row))?;
            Ok(Plan {
                source,
                spec,
                calendar,
                overrides,
            })
        })();
        entities.push(Entity {
            name,
            plan: plan.map_err(|e| format!("{}: row {}: {e}", file.display(), row + 1)),
        });
    }
    if !problems.is_empty() {
        bail!("{}", problems.join("\n"));
    }
    if entities.is_empty() {
        bail!("{}: no entities", file.display());
    }
    Ok(entities)
}

/// `column=value; ...`: rows of the shared table where every column equals its value.
fn parse_filter(text: &str) -> Result<Vec<(String, String)>, String> {
    text.split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.split_once('=')
                .map(|(c, v)| (c.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("filter '{p}' is not column=value"))
        })
        .collect()
}

/// Apply dotted-key overrides to a spec document.
fn apply_overrides(
    doc: toml::Table,
    overrides: &[(String, toml::Value)],
) -> Result<toml::Table, String> {
    // Walked as a value so that tables and arrays share one descent.
    let mut root = toml::Value::Table(doc);
    for (key, value) in overrides {
        let segments: Vec<&str> = key.split('.').collect();
        let (last, parents) = segments.split_last().ok_or("empty key")?;
        let mut node = &mut root;
        for seg in parents {
            node = match node {
                toml::Value::Table(t) => t
                    .entry(seg.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new())),
                toml::Value::Array(a) => {
                    let i: usize = seg
                        .parse()
                        .map_err(|_| format!("override {key}: '{seg}' indexes an array"))?;
                    let len = a.len();
                    a.get_mut(i).ok_or_else(|| {
                        format!("override {key}: index {i} is past the array's {len} elements")
                    })?
                }
                _ => return Err(format!("override {key}: '{seg}' is not a table")),
            };
        }
        match node {
            toml::Value::Table(t) => {
                t.insert(last.to_string(), value.clone());
            }
            toml::Value::Array(a) => {
                let i: usize = last
                    .parse()
                    .map_err(|_| format!("override {key}: '{last}' indexes an array"))?;
                let len = a.len();
                *a.get_mut(i).ok_or_else(|| {
                    format!("override {key}: index {i} is past the array's {len} elements")
                })? = value.clone();
            }
            _ => return Err(format!("override {key}: its parent is not a table")),
        }
    }
    match root {
        toml::Value::Table(t) => Ok(t),
        _ => Err("the spec is not a table".into()),
    }
}

/// Write `bytes` unless the file already holds exactly them (keeps reruns quiet and atomic).
fn write_if_changed(path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    Ok(mmm_core::write_atomic(path, bytes)?)
}

/// The rows of `shared` selected by `filter`, without the filter columns, as CSV.
fn filtered_csv(shared: &RawTable, filter: &[(String, String)]) -> Result<Vec<u8>> {
    let mut keep = vec![true; shared.rows];
    for (col, value) in filter {
        let cells = shared
            .column(col)
            .with_context(|| format!("filter column '{col}' is not in the shared table"))?;
        for (row, k) in keep.iter_mut().enumerate() {
            *k &= cells.value(row).trim() == value;
        }
    }
    let rows: Vec<usize> = (0..shared.rows).filter(|&r| keep[r]).collect();
    if rows.is_empty() {
        bail!("the filter selects no rows of the shared table");
    }
    let columns: Vec<usize> = (0..shared.names.len())
        .filter(|&c| !filter.iter().any(|(f, _)| *f == shared.names[c]))
        .collect();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(columns.iter().map(|&c| shared.names[c].as_str()))?;
    for &r in &rows {
        w.write_record(columns.iter().map(|&c| shared.cells[c].value(r)))?;
    }
    Ok(w.into_inner()?)
}

/// The entity's spec (with its overrides applied) and data file, written under `inputs` when
/// they differ from the given files.
fn prepare_inputs(
    entity: &Entity,
    plan: &Plan,
    shared: Option<&RawTable>,
    inputs: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let spec = &plan.spec;
    let spec_text =
        std::fs::read_to_string(spec).with_context(|| format!("spec {}", spec.display()))?;
    let spec_path = if plan.overrides.is_empty() {
        spec.clone()
    } else {
        let doc: toml::Table =
            toml::from_str(&spec_text).with_context(|| format!("spec {}", spec.display()))?;
        let doc = apply_overrides(doc, &plan.overrides).map_err(anyhow::Error::msg)?;
        let text = toml::to_string(&doc)?;
        let path = inputs.join(format!("{}.spec.toml", entity.name));
        write_if_changed(&path, text.as_bytes())?;
        path
    };
    let data_path = match &plan.source {
        Source::File(p) => p.clone(),
        Source::Filter(filter) => {
            let shared = shared.context("a filter needs --table")?;
            let path = inputs.join(format!("{}.csv", entity.name));
            write_if_changed(&path, &filtered_csv(shared, filter)?)?;
            path
        }
    };
    Ok((spec_path, data_path))
}

/// `mmm run` of one entity in its own process, its output into `log_path`.
fn run_process(
    plan: &Plan,
    (spec_path, data_path): (&Path, &Path),
    run_dir: &Path,
    log_path: &Path,
    threads: usize,
    settings: &BatchArgs,
) -> Result<std::process::ExitStatus> {
    let log =
        std::fs::File::create(log_path).with_context(|| format!("log {}", log_path.display()))?;
    let log2 = log.try_clone()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.arg("run")
        .arg("--spec")
        .arg(spec_path)
        .arg("--data")
        .arg(data_path)
        .arg("--out")
        .arg(run_dir)
        .args(["--threads", &threads.to_string()])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2);
    if let Some(calendar) = &plan.calendar {
        cmd.arg("--calendar").arg(calendar);
    }
    if settings.no_refits {
        cmd.arg("--no-refits");
    }
    if settings.force {
        cmd.arg("--force");
    }
    Ok(cmd.status()?)
}

fn run_entity(
    entity: &Entity,
    shared: Option<&RawTable>,
    out: &Path,
    threads: usize,
    settings: &BatchArgs,
) -> Outcome {
    let start = Instant::now();
    let refused = |message: String| Outcome {
        status: "refused",
        exit_code: -1,
        gates: "n/a",
        message,
        seconds: start.elapsed().as_secs_f64(),
        roas: Vec::new(),
    };
    let plan = match &entity.plan {
        Ok(p) => p,
        Err(e) => return refused(e.clone()),
    };
    let inputs = out.join("_batch").join("inputs");
    let logs = out.join("_batch").join("logs");
    let prepared = std::fs::create_dir_all(&inputs)
        .and_then(|()| std::fs::create_dir_all(&logs))
        .map_err(anyhow::Error::from)
        .and_then(|()| prepare_inputs(entity, plan, shared, &inputs));
    let (spec_path, data_path) = match prepared {
        Ok(p) => p,
        Err(e) => return refused(format!("{}: {e:#}", entity.name)),
    };
    let log_path = logs.join(format!("{}.log", entity.name));
    let run_dir = out.join(&entity.name);
    let paths = (spec_path.as_path(), data_path.as_path());
    let status = run_process(plan, paths, &run_dir, &log_path, threads, settings);
    let seconds = start.elapsed().as_secs_f64();
    let code = match status {
        Ok(s) => s.code().map_or(-1, i64::from),
        Err(e) => return refused(format!("{}: cannot start mmm run: {e:#}", entity.name)),
    };
    finished_outcome(code, &run_dir, &log_path, seconds)
}

/// The outcome of a finished `mmm run` from its exit code, log and run directory.
fn finished_outcome(code: i64, run_dir: &Path, log_path: &Path, seconds: f64) -> Outcome {
    let status = match code {
        0 => "ok",
        3 => "gates_failed",
        2 => "rejected",
        _ => "failed",
    };
    let message = if matches!(status, "ok") {
        String::new()
    } else {
        last_error(log_path)
    };
    let gates = std::fs::read(run_dir.join("diagnose").join("diagnostics.json"))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("passed").and_then(serde_json::Value::as_bool))
        .map_or("n/a", |p| if p { "pass" } else { "fail" });
    let roas = if matches!(status, "ok" | "gates_failed") {
        mmm_diagnostics::compare::read_roi_table(&run_dir.join("decide"))
            .map(|t| {
                t.into_iter()
                    .filter(|((_, metric), _)| metric == "roas")
                    .map(|((ch, _), i)| (ch, [i.mean, i.lower, i.upper]))
                    .collect()
            })
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    Outcome {
        status,
        exit_code: code,
        gates,
        message,
        seconds,
        roas,
    }
}

/// What `mmm run` said when it stopped: its last `error:` line with the listed errors under it,
/// or the gate failure.
fn last_error(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let Some(at) = lines
        .iter()
        .rposition(|l| l.starts_with("error:") || l.contains("gate failed"))
    else {
        return String::new();
    };
    let mut parts = vec![lines[at].trim().to_string()];
    parts.extend(
        lines[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("  - "))
            .filter(|l| l.starts_with("  - error"))
            .map(|l| l.trim_start_matches("  - ").trim().to_string()),
    );
    parts.join(" ")
}

fn channels_of(outcomes: &[Outcome]) -> Vec<String> {
    let set: BTreeSet<&String> = outcomes
        .iter()
        .flat_map(|o| o.roas.iter().map(|(c, _)| c))
        .collect();
    set.into_iter().cloned().collect()
}

fn summary_batch(
    entities: &[Entity],
    outcomes: &[Outcome],
) -> Result<arrow::record_batch::RecordBatch> {
    let mut b = BatchBuilder::new()
        .string("entity", entities.iter().map(|e| e.name.clone()).collect())
        .string(
            "status",
            outcomes.iter().map(|o| o.status.to_string()).collect(),
        )
        .i64("exit_code", outcomes.iter().map(|o| o.exit_code).collect())
        .string(
            "gates",
            outcomes.iter().map(|o| o.gates.to_string()).collect(),
        )
        .string(
            "message",
            outcomes.iter().map(|o| o.message.clone()).collect(),
        )
        .f64("seconds", outcomes.iter().map(|o| o.seconds).collect());
    for ch in channels_of(outcomes) {
        for (k, what) in ["mean", "lower", "upper"].iter().enumerate() {
            let values = outcomes
                .iter()
                .map(|o| {
                    o.roas
                        .iter()
                        .find(|(c, _)| *c == ch)
                        .map_or(f64::NAN, |(_, v)| v[k])
                })
                .collect();
            b = b.f64(&format!("roas_{what}[{ch}]"), values);
        }
    }
    Ok(b.build()?)
}

fn print_summary(entities: &[Entity], outcomes: &[Outcome]) {
    let channels = channels_of(outcomes);
    let width = entities
        .iter()
        .map(|e| e.name.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut header = format!(
        "{:width$}  {:12}  {:5}  {:>7}",
        "entity", "status", "gates", "seconds"
    );
    for ch in &channels {
        header.push_str(&format!("  {:>24}", format!("ROAS {ch} [94% HDI]")));
    }
    println!("{header}");
    for (e, o) in entities.iter().zip(outcomes) {
        let mut line = format!(
            "{:width$}  {:12}  {:5}  {:>7.2}",
            e.name, o.status, o.gates, o.seconds
        );
        for ch in &channels {
            let cell = o
                .roas
                .iter()
                .find(|(c, _)| c == ch)
                .map_or_else(String::new, |(_, v)| {
                    format!("{:.3} [{:.3}, {:.3}]", v[0], v[1], v[2])
                });
            line.push_str(&format!("  {cell:>24}"));
        }
        println!("{line}");
        if !o.message.is_empty() {
            println!("{:width$}  {}", "", o.message);
        }
    }
}
