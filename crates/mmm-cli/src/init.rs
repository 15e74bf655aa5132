//! `mmm init`: write a commented spec from a data file.
//!
//! The spec it writes is the short form (data section, channel and control names) and relies
//! on the documented defaults (docs/spec.md) for every transform and prior, so it runs
//! unchanged and stays readable. What it detects: the layout (long when the file has the long
//! layout's `Period`, `VariableName` and `VariableValue` columns), the date column and the data
//! frequency (daily rows are aggregated to Monday weeks), a geo column, the target (a
//! conventional outcome name), the channels (spend-like names, else the non-negative columns
//! that are neither indicators nor a time index) and the controls (every other numeric column
//! but calendar indices, which the Fourier seasonality replaces). Any guess can be overridden
//! with a flag.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use arrow::array::{Array, StringArray};
use mmm_contracts::RawTable;
use mmm_core::spec::{LongLayout, check::suggest};

use crate::Exit;

/// `mmm init` arguments.
#[derive(clap::Args)]
pub struct InitArgs {
    /// Data file (.csv or .parquet), wide or long.
    #[arg(long)]
    data: PathBuf,
    /// Target (outcome) column; default: the one named like sales, revenue, conversions, y...
    #[arg(long)]
    target: Option<String>,
    /// Date column (wide layout); default: the column whose cells are all ISO dates.
    #[arg(long)]
    date: Option<String>,
    /// Layout of the data file; default: long when it has the long layout's columns.
    #[arg(long, value_enum)]
    layout: Option<Layout>,
    /// Channel names (comma-separated): wide columns of spend, or channels of the campaign map.
    #[arg(long, value_delimiter = ',')]
    channels: Vec<String>,
    /// Control columns (comma-separated); default: every other numeric column.
    #[arg(long, value_delimiter = ',')]
    controls: Option<Vec<String>>,
    /// Campaign-to-channel mapping (`campaign`, `channel` columns) of a long file with campaign
    /// rows: its channels become the spec's channels. Pass the same file to `mmm run`.
    #[arg(long)]
    campaign_map: Option<PathBuf>,
    /// Spec file to write.
    #[arg(long, default_value = "spec.toml")]
    out: PathBuf,
    /// Replace an existing file.
    #[arg(long)]
    force: bool,
}

/// Layout of the data file.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// One row per period (or period and geo), one column per variable.
    Wide,
    /// One row per period, geo, campaign and variable.
    Long,
}

/// Outcome names tried, in order, when no `--target` is given.
const TARGET_NAMES: &[&str] = &[
    "y",
    "sales",
    "revenue",
    "target",
    "kpi",
    "conversions",
    "orders",
    "units",
    "volume",
    "outcome",
    "response",
    "gmv",
    "bookings",
    "signups",
    "leads",
    "installs",
    "transactions",
];

/// Name parts that mark a column as spend (or another media-volume measure).
const SPEND_PARTS: &[&str] = &[
    "spend",
    "cost",
    "costs",
    "impressions",
    "impression",
    "imps",
    "clicks",
    "grp",
    "grps",
    "trp",
    "trps",
    "budget",
    "media",
    "investment",
    "views",
    "reach",
];

/// Name parts of common media channels.
const MEDIA_PARTS: &[&str] = &[
    "tv",
    "ctv",
    "radio",
    "search",
    "sem",
    "social",
    "display",
    "ooh",
    "dooh",
    "print",
    "video",
    "youtube",
    "facebook",
    "meta",
    "instagram",
    "tiktok",
    "google",
    "podcast",
    "affiliate",
    "email",
    "digital",
    "programmatic",
    "online",
    "cinema",
    "snapchat",
    "pinterest",
    "linkedin",
    "bing",
    "amazon",
    "mail",
];

/// Name parts that mark a column as a control, whatever its values.
const CONTROL_PARTS: &[&str] = &[
    "price",
    "promo",
    "promotion",
    "discount",
    "temperature",
    "temp",
    "weather",
    "holiday",
    "event",
    "competitor",
    "competition",
    "index",
    "rate",
    "cpi",
    "gdp",
    "unemployment",
    "covid",
    "stock",
    "distribution",
    "trend",
    "t",
];

/// Calendar indices: left out, the Fourier seasonality models the time of year.
const CALENDAR_NAMES: &[&str] = &[
    "dayofyear",
    "day_of_year",
    "doy",
    "weekofyear",
    "week_of_year",
    "week",
    "month",
    "year",
    "quarter",
    "dayofweek",
    "day_of_week",
    "weekday",
    "day",
];

/// Names of a geo column.
const GEO_NAMES: &[&str] = &[
    "geo",
    "region",
    "market",
    "dma",
    "state",
    "country",
    "city",
    "area",
    "territory",
];

/// Everything `mmm init` found in the data.
struct Found {
    layout: Layout,
    date_column: String,
    geo: Option<Geo>,
    /// Sorted distinct period days (days since 1970-01-01).
    days: Vec<i32>,
    /// Days between periods (the most common gap), if there are two dates.
    step: Option<i32>,
    target: String,
    channels: Vec<String>,
    controls: Vec<Variable>,
    /// Columns left out, with the reason.
    skipped: Vec<(String, &'static str)>,
}

struct Geo {
    column: String,
    count: usize,
}

/// A numeric variable of the data: a wide column or a long variable.
struct Variable {
    name: String,
    values: Vec<f64>,
}

impl Variable {
    fn is_indicator(&self) -> bool {
        self.values.iter().all(|v| *v == 0.0 || *v == 1.0)
    }
    fn non_negative(&self) -> bool {
        self.values.iter().all(|v| *v >= 0.0)
    }
    fn is_constant(&self) -> bool {
        self.values.windows(2).all(|w| w[0] == w[1])
    }
    /// Coefficient of variation (sd / |mean|), if the mean is not zero.
    fn variation(&self) -> Option<f64> {
        let n = self.values.len() as f64;
        let mean = self.values.iter().sum::<f64>() / n;
        let var = self.values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
        (mean != 0.0).then(|| var.sqrt() / mean.abs())
    }
    /// Strictly increasing (a time index such as `t`).
    fn is_increasing(&self) -> bool {
        self.values.len() > 2 && self.values.windows(2).all(|w| w[1] > w[0])
    }
}

/// `mmm init`: detect, render, check and write the spec.
pub fn run(args: &InitArgs, quiet: bool) -> Result<u8> {
    if args.out.exists() && !args.force {
        return Err(Exit(
            1,
            format!(
                "{} exists; pass --force to replace it, or --out another file",
                args.out.display()
            ),
        )
        .into());
    }
    let raw = mmm_contracts::read_table(&args.data)?;
    let layout = args.layout.unwrap_or_else(|| detect_layout(&raw));
    let found = match layout {
        Layout::Wide => wide(&raw, args)?,
        Layout::Long => long(&raw, args)?,
    };
    if let Some(step) = found.step.filter(|s| (28..=31).contains(s)) {
        return Err(usage(format!(
            "dates are {step} days apart (monthly data?): mmm models periods of a fixed number \
             of days; aggregate to weeks first"
        )));
    }
    let text = render(&found, &args.data);
    // What is written must be a valid spec: a detection bug is an error here, not at run time.
    mmm_core::Spec::from_file_text(&args.out, &text)
        .context("mmm init wrote a spec that does not check; please report this")?;
    mmm_core::write_atomic(&args.out, text.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    if !quiet {
        eprintln!("{}", summary(&found, &args.out));
    }
    Ok(0)
}

fn usage(message: String) -> anyhow::Error {
    Exit(1, message).into()
}

fn detect_layout(raw: &RawTable) -> Layout {
    let l = LongLayout::default();
    let has = |c: &String| raw.names.contains(c);
    if has(&l.period) && has(&l.variable) && has(&l.value) {
        Layout::Long
    } else {
        Layout::Wide
    }
}

/// Lowercase name parts split at anything but letters and digits (`TV_Spend` -> tv, spend).
fn parts(name: &str) -> Vec<String> {
    name.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(str::to_ascii_lowercase)
        .collect()
}

fn named_like(name: &str, list: &[&str]) -> bool {
    parts(name).iter().any(|p| list.contains(&p.as_str()))
}

/// An ISO date (a date-time counts by its date, as the validate stage reads it), in days
/// since 1970-01-01.
fn cell_day(cell: &str) -> Option<i32> {
    let s = cell.trim();
    let date = s.split(['T', ' ']).next().unwrap_or(s);
    mmm_core::dates::parse_iso(date).map(mmm_core::dates::day_number)
}

/// Every non-empty cell, or `None` when there is none.
fn cells(col: &StringArray) -> Option<Vec<&str>> {
    let v: Vec<&str> = (0..col.len())
        .map(|i| col.value(i).trim())
        .filter(|c| !c.is_empty())
        .collect();
    (!v.is_empty()).then_some(v)
}

fn numbers(col: &StringArray) -> Option<Vec<f64>> {
    cells(col)?
        .iter()
        .map(|c| c.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect()
}

fn dates(col: &StringArray) -> Option<Vec<i32>> {
    cells(col)?.iter().map(|c| cell_day(c)).collect()
}

/// Check a named column exists; the error suggests the closest name.
fn require(name: &str, names: &[String], what: &str) -> Result<()> {
    if names.iter().any(|n| n == name) {
        return Ok(());
    }
    let hint = suggest(name, names.iter().map(String::as_str))
        .map(|s| format!("; did you mean '{s}'?"))
        .unwrap_or_else(|| format!(" (present: {})", names.join(", ")));
    Err(usage(format!("{what} '{name}' is not in the data{hint}")))
}

fn wide(raw: &RawTable, args: &InitArgs) -> Result<Found> {
    let date_column = wide_date_column(raw, args.date.as_deref())?;
    let mut days = raw.column(&date_column).and_then(dates).unwrap_or_default();
    days.sort_unstable();
    days.dedup();
    let (mut numeric, text_columns, unusable) = classify(raw, &date_column);
    let geo = wide_geo(raw, &text_columns);
    let mut skipped: Vec<(String, &'static str)> = text_columns
        .iter()
        .filter(|c| geo.as_ref().is_none_or(|g| g.column != **c))
        .map(|c| (c.clone(), "not numeric"))
        .chain(unusable)
        .collect();
    let target = pick_target(args.target.as_deref(), &numeric)?;
    numeric.retain(|v| v.name != target);
    let (channels, controls) = roles(
        numeric,
        &args.channels,
        args.controls.as_deref(),
        &mut skipped,
    )?;
    Ok(Found {
        layout: Layout::Wide,
        date_column,
        geo,
        step: step_days(&days),
        days,
        target,
        channels,
        controls,
        skipped,
    })
}

/// Numeric columns, text columns and unusable names (empty or repeated), date column aside.
type Columns = (Vec<Variable>, Vec<String>, Vec<(String, &'static str)>);

fn classify(raw: &RawTable, date_column: &str) -> Columns {
    let (mut numeric, mut text, mut unusable) = (Vec::new(), Vec::new(), Vec::new());
    let mut seen = BTreeSet::new();
    for (name, cells) in raw.names.iter().zip(&raw.cells) {
        if name == date_column {
            continue;
        }
        if name.trim().is_empty() || !seen.insert(name.as_str()) {
            unusable.push((name.clone(), "an empty or repeated column name"));
            continue;
        }
        match numbers(cells) {
            Some(values) => numeric.push(Variable {
                name: name.clone(),
                values,
            }),
            None => text.push(name.clone()),
        }
    }
    (numeric, text, unusable)
}

/// The named date column, else the first whose cells are all ISO dates.
fn wide_date_column(raw: &RawTable, named: Option<&str>) -> Result<String> {
    if let Some(n) = named {
        require(n, &raw.names, "date column")?;
        return match raw.column(n).and_then(dates) {
            Some(_) => Ok(n.to_string()),
            None => Err(usage(format!(
                "date column '{n}' holds cells that are not ISO dates (YYYY-MM-DD)"
            ))),
        };
    }
    raw.names
        .iter()
        .zip(&raw.cells)
        .find(|(_, c)| dates(c).is_some())
        .map(|(n, _)| n.clone())
        .ok_or_else(|| {
            usage("no column holds ISO dates (YYYY-MM-DD) only; name it with --date".into())
        })
}

/// A text column that repeats a few values (a geo name per row), preferring geo-like names.
fn wide_geo(raw: &RawTable, text_columns: &[String]) -> Option<Geo> {
    let distinct = |name: &str| {
        let col = raw.column(name)?;
        let set: BTreeSet<&str> = (0..col.len()).map(|i| col.value(i).trim()).collect();
        (set.len() > 1 && set.len() * 2 <= col.len()).then_some(set.len())
    };
    let mut candidates: Vec<(bool, &String, usize)> = text_columns
        .iter()
        .filter_map(|c| distinct(c).map(|n| (named_like(c, GEO_NAMES), c, n)))
        .collect();
    candidates.sort_by_key(|(geo_name, _, _)| !geo_name);
    candidates.first().map(|(_, c, n)| Geo {
        column: (*c).clone(),
        count: *n,
    })
}

/// The named target, else the one numeric variable with an outcome name.
fn pick_target(named: Option<&str>, numeric: &[Variable]) -> Result<String> {
    let names: Vec<String> = numeric.iter().map(|v| v.name.clone()).collect();
    if let Some(n) = named {
        require(n, &names, "target")?;
        return Ok(n.to_string());
    }
    for want in TARGET_NAMES {
        if let Some(v) = numeric.iter().find(|v| v.name.eq_ignore_ascii_case(want)) {
            return Ok(v.name.clone());
        }
    }
    let partial: Vec<&str> = numeric
        .iter()
        .filter(|v| named_like(&v.name, TARGET_NAMES))
        .map(|v| v.name.as_str())
        .collect();
    match partial.as_slice() {
        [one] => Ok((*one).to_string()),
        _ => Err(usage(format!(
            "cannot tell which column is the target; name it with --target (numeric columns: {})",
            names.join(", ")
        ))),
    }
}

/// Split the numeric variables (target removed) into channels and controls.
fn roles(
    numeric: Vec<Variable>,
    named_channels: &[String],
    named_controls: Option<&[String]>,
    skipped: &mut Vec<(String, &'static str)>,
) -> Result<(Vec<String>, Vec<Variable>)> {
    let names: Vec<String> = numeric.iter().map(|v| v.name.clone()).collect();
    for n in named_channels
        .iter()
        .chain(named_controls.into_iter().flatten())
    {
        require(n, &names, "column")?;
    }
    let channels = if named_channels.is_empty() {
        infer_channels(&numeric)
    } else {
        named_channels.to_vec()
    };
    if channels.is_empty() {
        return Err(usage(format!(
            "no spend-like column found; name the channels with --channels (numeric columns: {})",
            names.join(", ")
        )));
    }
    let rest = numeric.into_iter().filter(|v| !channels.contains(&v.name));
    let controls = controls_of(rest, named_controls, skipped);
    Ok((channels, controls))
}

/// The controls among `rest`: the named ones, else all but calendar indices and constants.
fn controls_of(
    rest: impl IntoIterator<Item = Variable>,
    named_controls: Option<&[String]>,
    skipped: &mut Vec<(String, &'static str)>,
) -> Vec<Variable> {
    let mut controls = Vec::new();
    for v in rest {
        match named_controls {
            Some(list) if list.contains(&v.name) => controls.push(v),
            Some(_) => skipped.push((v.name, "not named in --controls")),
            None => match control_skip_reason(&v) {
                Some(reason) => skipped.push((v.name, reason)),
                None => controls.push(v),
            },
        }
    }
    controls
}

/// Channels by name (spend or media words, non-negative); failing that, every non-negative
/// column that is not an indicator, a time index, a constant or control-like by name.
fn infer_channels(numeric: &[Variable]) -> Vec<String> {
    let usable = |v: &&Variable| {
        v.non_negative()
            && !v.is_constant()
            && !named_like(&v.name, CONTROL_PARTS)
            && !is_calendar(&v.name)
    };
    let by_name: Vec<String> = numeric
        .iter()
        .filter(usable)
        .filter(|v| named_like(&v.name, SPEND_PARTS) || named_like(&v.name, MEDIA_PARTS))
        .map(|v| v.name.clone())
        .collect();
    if !by_name.is_empty() {
        return by_name;
    }
    numeric
        .iter()
        .filter(usable)
        .filter(|v| !v.is_indicator() && !v.is_increasing())
        .map(|v| v.name.clone())
        .collect()
}

fn is_calendar(name: &str) -> bool {
    CALENDAR_NAMES.contains(&name.to_ascii_lowercase().as_str())
}

fn control_skip_reason(v: &Variable) -> Option<&'static str> {
    if is_calendar(&v.name) {
        Some("a calendar index: the Fourier seasonality models the time of year")
    } else if v.is_constant() {
        Some("constant: indistinguishable from the intercept")
    } else {
        None
    }
}

fn long(raw: &RawTable, args: &InitArgs) -> Result<Found> {
    let l = LongLayout::default();
    let (days, numeric, has_campaigns) = long_rows(raw, &l)?;
    let target = pick_target(args.target.as_deref(), &numeric)?;
    let numeric: Vec<Variable> = numeric.into_iter().filter(|v| v.name != target).collect();
    let channels = long_channels(args, has_campaigns)?;
    let mut skipped = Vec::new();
    let (channels, controls) = long_roles(numeric, channels, args, &mut skipped)?;
    Ok(Found {
        layout: Layout::Long,
        date_column: l.period.clone(),
        geo: long_geo(raw, &l),
        step: step_days(&days),
        days,
        target,
        channels,
        controls,
        skipped,
    })
}

/// The sorted distinct days, the numeric series of the variables without a campaign, and
/// whether any row has a campaign.
fn long_rows(raw: &RawTable, l: &LongLayout) -> Result<(Vec<i32>, Vec<Variable>, bool)> {
    for c in [&l.period, &l.variable, &l.value] {
        require(c, &raw.names, "long-layout column")?;
    }
    let get = |n: &str| raw.column(n);
    let (Some(period), Some(variable), Some(value)) =
        (get(&l.period), get(&l.variable), get(&l.value))
    else {
        return Err(usage("long-layout columns missing".into()));
    };
    let campaign = get(&l.campaign);
    let mut days = Vec::with_capacity(raw.rows);
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut has_campaigns = false;
    for i in 0..raw.rows {
        days.extend(cell_day(period.value(i)));
        if campaign.is_some_and(|c| !c.value(i).trim().is_empty()) {
            has_campaigns = true;
            continue;
        }
        let x = value.value(i).trim().parse::<f64>().ok();
        series
            .entry(variable.value(i).trim().to_string())
            .or_default()
            .extend(x.filter(|x| x.is_finite()));
    }
    days.sort_unstable();
    days.dedup();
    let numeric = series
        .into_iter()
        .filter(|(n, v)| !n.is_empty() && !v.is_empty())
        .map(|(name, values)| Variable { name, values })
        .collect();
    Ok((days, numeric, has_campaigns))
}

/// Channels of a long file: the campaign map's (in file order), or the named ones.
fn long_channels(args: &InitArgs, has_campaigns: bool) -> Result<Vec<String>> {
    let Some(map) = &args.campaign_map else {
        if has_campaigns {
            return Err(usage(
                "the long file has campaign rows: pass --campaign-map (campaign,channel) to name their channels"
                    .into(),
            ));
        }
        return Ok(args.channels.clone());
    };
    mmm_contracts::read_mapping(map)?;
    let table = mmm_contracts::read_table(map)?;
    let col = table
        .names
        .iter()
        .position(|n| n.eq_ignore_ascii_case("channel"))
        .and_then(|i| table.cells.get(i))
        .context("campaign map without a channel column")?;
    let mut out: Vec<String> = Vec::new();
    for c in cells(col).unwrap_or_default() {
        if !out.iter().any(|o| o == c) {
            out.push(c.to_string());
        }
    }
    if !args.channels.is_empty() {
        for n in &args.channels {
            require(n, &out, "channel of the campaign map")?;
        }
        return Ok(args.channels.clone());
    }
    Ok(out)
}

/// Long files: channels come from the map, so every non-campaign variable is a control
/// candidate; without a map (no campaign rows) the roles are inferred as for a wide file.
fn long_roles(
    numeric: Vec<Variable>,
    channels: Vec<String>,
    args: &InitArgs,
    skipped: &mut Vec<(String, &'static str)>,
) -> Result<(Vec<String>, Vec<Variable>)> {
    if channels.is_empty() {
        return roles(numeric, &[], args.controls.as_deref(), skipped);
    }
    let rest: Vec<Variable> = numeric
        .into_iter()
        .filter(|v| !channels.contains(&v.name))
        .collect();
    let names: Vec<String> = rest.iter().map(|v| v.name.clone()).collect();
    for n in args.controls.iter().flatten() {
        require(n, &names, "control")?;
    }
    let controls = controls_of(rest, args.controls.as_deref(), skipped);
    Ok((channels, controls))
}

fn long_geo(raw: &RawTable, l: &LongLayout) -> Option<Geo> {
    let col = raw.column(&l.geo)?;
    let set: BTreeSet<&str> = (0..col.len())
        .map(|i| col.value(i).trim())
        .filter(|g| !g.is_empty())
        .collect();
    (set.len() > 1).then(|| Geo {
        column: l.geo.clone(),
        count: set.len(),
    })
}

/// The most common gap between consecutive distinct dates, in days.
fn step_days(days: &[i32]) -> Option<i32> {
    let mut counts: BTreeMap<i32, usize> = BTreeMap::new();
    for w in days.windows(2) {
        *counts.entry(w[1] - w[0]).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by_key(|(gap, n)| (*n, -gap))
        .map(|(gap, _)| gap)
}

/// A TOML string literal.
fn quoted(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn render(f: &Found, data: &Path) -> String {
    let mut t = String::new();
    header(&mut t, f, data);
    data_section(&mut t, f);
    for ch in &f.channels {
        let _ = writeln!(t, "[[channels]]\nname = {}\n", quoted(ch));
    }
    for c in &f.controls {
        if let Some(cv) = c.variation().filter(|cv| *cv < LOW_VARIATION) {
            let _ = writeln!(
                t,
                "# {} varies by {:.0}% around its mean: its effect is hard to tell from the \
                 intercept's,\n# expect a wide interval (and drop it if it is not needed).",
                c.name,
                100.0 * cv
            );
        }
        let _ = writeln!(t, "[[controls]]\nname = {}\n", quoted(&c.name));
    }
    seasonality(&mut t, f);
    t.push_str(SAMPLER);
    t.push_str(FOOTER);
    t
}

fn header(t: &mut String, f: &Found, data: &Path) {
    let name = data.file_stem().and_then(|s| s.to_str()).unwrap_or("data");
    let _ = writeln!(
        t,
        "# Model spec written by `mmm init` from {}.",
        data.display()
    );
    t.push_str(
        "# Every transform and prior not written here takes its documented default (docs/spec.md):\n\
         # channels: geometric adstock over 8 weeks, alpha ~ Beta(1, 3); logistic saturation,\n\
         # lam ~ Gamma(3, 1), beta ~ HalfNormal(2) (PyMC-Marketing's defaults).\n\
         # controls: coefficient ~ Normal(0, 2) on the control scaled by its training max-abs.\n\
         # Review the roles below, then `mmm spec check` this file and `mmm run` it.\n",
    );
    for (col, why) in &f.skipped {
        let _ = writeln!(t, "# left out: {col} ({why})");
    }
    let _ = writeln!(t, "\n[model]\nname = {}\n", quoted(&model_name(name)));
}

/// The data file's stem as a model name (letters, digits, `_` and `-`).
fn model_name(stem: &str) -> String {
    let s: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "mmm".into() } else { s }
}

fn data_section(t: &mut String, f: &Found) {
    t.push_str("[data]\n");
    let _ = writeln!(t, "date_column = {}", quoted(&f.date_column));
    let _ = writeln!(t, "target = {}", quoted(&f.target));
    if f.layout == Layout::Long {
        t.push_str(
            "layout = \"long\"   # Period, Geography, Campaign, VariableName, VariableValue\n",
        );
    }
    let (first, last) = (f.days.first(), f.days.last());
    let span = match (first, last) {
        (Some(a), Some(b)) => format!(
            "{} to {}, {} distinct dates",
            mmm_core::dates::iso(*a),
            mmm_core::dates::iso(*b),
            f.days.len()
        ),
        _ => "no dates".into(),
    };
    match f.step {
        Some(1) => {
            let _ = writeln!(
                t,
                "period_days = 7          # daily rows ({span}) aggregated to weeks\n\
                 input_period_days = 1\nweek_start = \"monday\""
            );
            aggregation(t, f);
        }
        Some(step) => {
            let _ = writeln!(t, "period_days = {step}          # {span}");
        }
        None => {}
    }
    if let (Some(g), Layout::Wide) = (&f.geo, f.layout) {
        let _ = writeln!(
            t,
            "geo_column = {}   # {} geos; summed to national totals unless [geo] model = \"hierarchical\"",
            quoted(&g.column),
            g.count
        );
    } else if let Some(g) = &f.geo {
        let _ = writeln!(t, "# {} geos in column {}", g.count, g.column);
    }
    t.push('\n');
}

/// Daily rows: indicator controls (promotion days) are counted over the week, the rest averaged.
fn aggregation(t: &mut String, f: &Found) {
    let sums: Vec<String> = f
        .controls
        .iter()
        .filter(|c| c.is_indicator())
        .map(|c| format!("{} = \"sum\"", quoted(&c.name)))
        .collect();
    if !sums.is_empty() {
        let _ = writeln!(
            t,
            "control_aggregation = {{ {} }}   # indicators count days per week; others: mean",
            sums.join(", ")
        );
    }
}

/// Yearly seasonality once the data cover two years (two cycles to tell it from trend).
fn seasonality(t: &mut String, f: &Found) {
    let span = match (f.days.first(), f.days.last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0,
    };
    if span >= 2 * 364 {
        t.push_str("[seasonality]\nfourier_order = 2   # yearly, coefficients ~ Laplace(0, 1)\n\n");
    } else {
        t.push_str(
            "# [seasonality] fourier_order = 2 adds yearly seasonality; the data cover less than\n\
             # two years, too little to tell it from trend.\n\n",
        );
    }
}

/// A control whose coefficient of variation is below this is nearly collinear with the
/// intercept (a price that moves by a few percent): the spec says so in a comment.
const LOW_VARIATION: f64 = 0.1;

/// The one setting `mmm init` writes beyond roles: at the 0.8 default, the default model
/// diverged on the long national export in 3 of 3 seeds (4 to 7 divergences) and on the daily
/// geo panel in 1 of 3; at 0.95 none did (docs/spec.md).
const SAMPLER: &str = "\
[sampler]
# Smaller steps than the 0.8 default: the ridge between a channel's coefficient and its
# saturation (and a control near the intercept) makes divergences at 0.8 (docs/spec.md).
target_accept = 0.95

";

const FOOTER: &str = "\
# Defaults not written: normal likelihood (sigma ~ HalfNormal(2)), intercept ~ Normal(0, 2),
# no holdout; gates R-hat <= 1.01, bulk ESS >= 400, no divergences; 4 chains x 1000 draws
# after 1000 warm-up iterations, seed 0. Add keys to [sampler], or a [holdout] or [gates]
# section, to change them (docs/spec.md).
";

fn summary(f: &Found, out: &Path) -> String {
    let controls: Vec<&str> = f.controls.iter().map(|c| c.name.as_str()).collect();
    format!(
        "wrote {}: target {}, channels {}, controls {}{}",
        out.display(),
        f.target,
        f.channels.join(", "),
        if controls.is_empty() {
            "none".to_string()
        } else {
            controls.join(", ")
        },
        f.geo
            .as_ref()
            .map(|g| format!(", {} geos in {}", g.count, g.column))
            .unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, values: &[f64]) -> Variable {
        Variable {
            name: name.into(),
            values: values.to_vec(),
        }
    }

    #[test]
    fn channels_by_name_win_over_statistics() {
        let numeric = [
            var("tv_spend", &[0.0, 3.0, 1.0]),
            var("price", &[2.0, 2.5, 2.1]),
            var("x1", &[0.5, 0.2, 0.9]),
        ];
        assert_eq!(infer_channels(&numeric), ["tv_spend"]);
    }

    #[test]
    fn without_names_indicators_and_time_indices_are_not_channels() {
        let numeric = [
            var("x1", &[0.5, 0.0, 0.9, 0.3]),
            var("event_1", &[0.0, 1.0, 0.0, 0.0]),
            var("t", &[0.0, 1.0, 2.0, 3.0]),
            var("dayofyear", &[92.0, 99.0, 106.0, 113.0]),
            var("z", &[-1.0, 0.5, 0.2, 0.1]),
        ];
        assert_eq!(infer_channels(&numeric), ["x1"]);
    }

    #[test]
    fn the_step_is_the_most_common_gap() {
        assert_eq!(step_days(&[0, 7, 14, 28, 35]), Some(7));
        assert_eq!(step_days(&[0, 1, 2, 3]), Some(1));
        assert_eq!(step_days(&[5]), None);
    }

    #[test]
    fn names_split_into_parts() {
        assert_eq!(parts("TV_Spend (EUR)"), ["tv", "spend", "eur"]);
        assert!(named_like("Meta-Ads", MEDIA_PARTS));
        assert!(!named_like("target", CONTROL_PARTS));
    }
}
