//! Carry-in history (`data.start`): rows before the first modeling period whose spend still
//! acts inside the window through adstock (Meridian's "lag history periods").
//!
//! Every input row passes the row rules (dates, the period grid, spend that parses and is not
//! negative), so history must be on the grid and contiguous with the window. The target and
//! controls of history rows are not used, so they may be empty or anything: findings on those
//! cells are dropped. Of the history, only the last `l_max - 1` periods of the longest adstock
//! can reach the window; those are kept (per geo), and fewer is a `short_history` warning:
//! earlier spend then counts as zero, as without `data.start`.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::panel::{At, Findings, Panel};
use crate::parse_date;

/// The history section of contract.json.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct HistoryReport {
    /// `data.start`: the first period of the modeling window (ISO).
    pub start: String,
    /// Distinct periods before `start` in the input.
    pub periods_before_start: usize,
    /// Periods the longest adstock reaches back (its l_max - 1).
    pub periods_needed: usize,
    /// Periods kept in history.parquet: the last `periods_needed` before `start`, or fewer when
    /// the input has fewer.
    pub periods_kept: usize,
    /// First kept period (ISO).
    pub first_kept: Option<String>,
    /// Last kept period (ISO), the one right before `start`.
    pub last_kept: Option<String>,
    /// What the history is used for.
    pub method: String,
}

/// Split `panel` at day `start`: the rows from `start` on stay in `panel` (the modeling
/// window), the kept history rows (channel columns only) are returned with their report.
/// `needed` is the longest l_max - 1; `target_and_controls` are the columns whose findings
/// on history rows are dropped.
pub fn split(
    panel: &mut Panel,
    start: i32,
    needed: usize,
    target_and_controls: &BTreeSet<String>,
    f: &mut Findings,
) -> (Panel, HistoryReport) {
    // History rows' target and controls are not used: their cells may be empty or invalid.
    f.0.retain(|x| {
        let before = x
            .period
            .as_deref()
            .and_then(parse_date)
            .is_some_and(|d| mmm_core::dates::day_number(d) < start);
        !(before
            && x.file.is_none()
            && x.column
                .as_ref()
                .is_some_and(|c| target_and_controls.contains(c)))
    });
    let is_history = |i: usize| panel.dates[i].is_some_and(|d| d < start);
    let before: BTreeSet<i32> = (0..panel.len())
        .filter(|&i| is_history(i))
        .filter_map(|i| panel.dates[i])
        .collect();
    let start_text = mmm_core::dates::iso(start);
    if !(0..panel.len()).any(|i| panel.dates[i].is_some_and(|d| d >= start)) {
        f.error(
            "start_after_data",
            At::default(),
            format!("data.start {start_text} is after the last period of the data: no period is left to model"),
        );
    } else if !before.is_empty() && !panel.dates.contains(&Some(start)) {
        f.error(
            "start_not_a_period",
            At::default(),
            format!(
                "data.start {start_text} is not the first day of a period of the data; the \
                 window must start on one (the last period before it starts on {})",
                before
                    .last()
                    .map_or_else(String::new, |d| mmm_core::dates::iso(*d))
            ),
        );
    }
    // The last `needed` history periods of each geo.
    let mut keep = Vec::new();
    let mut short = Vec::new();
    for (geo, rows) in panel.by_geo() {
        let hist: Vec<usize> = rows.into_iter().filter(|&i| is_history(i)).collect();
        if hist.len() < needed {
            short.push((geo, hist.len()));
        }
        keep.extend_from_slice(&hist[hist.len().saturating_sub(needed)..]);
    }
    if needed > 0 {
        for (geo, have) in &short {
            let geo = (geo != crate::panel::NATIONAL).then(|| geo.clone());
            f.warn(
                "short_history",
                At {
                    geo,
                    ..At::default()
                },
                format!(
                    "{have} of the {needed} periods before data.start {start_text} that the \
                     longest adstock reaches are in the data; spend before them counts as zero"
                ),
            );
        }
    }
    keep.sort_by_key(|&i| (panel.dates[i], panel.geos[i].clone()));
    let history = Panel {
        dates: keep.iter().map(|&i| panel.dates[i]).collect(),
        geos: keep.iter().map(|&i| panel.geos[i].clone()).collect(),
        source_rows: None,
        columns: panel
            .columns
            .iter()
            .filter(|(_, role, _)| *role == "channel")
            .map(|(n, r, c)| (n.clone(), *r, keep.iter().map(|&i| c[i]).collect()))
            .collect(),
    };
    let kept: BTreeSet<i32> = history.dates.iter().flatten().copied().collect();
    let report = HistoryReport {
        start: start_text,
        periods_before_start: before.len(),
        periods_needed: needed,
        periods_kept: kept.len(),
        first_kept: kept.first().map(|d| mmm_core::dates::iso(*d)),
        last_kept: kept.last().map(|d| mmm_core::dates::iso(*d)),
        method: "rows before data.start are carry-in history: only their channel spend is used, \
                 so it carries into the first periods through adstock; the target and controls \
                 of those rows are not checked or used"
            .into(),
    };
    // The window: every row from `start` on (and rows whose date did not parse, already errors).
    let window: Vec<usize> = (0..panel.len()).filter(|&i| !is_history(i)).collect();
    panel.dates = window.iter().map(|&i| panel.dates[i]).collect();
    panel.geos = window.iter().map(|&i| panel.geos[i].clone()).collect();
    if let Some(rows) = &panel.source_rows {
        panel.source_rows = Some(window.iter().map(|&i| rows[i]).collect());
    }
    for (_, _, c) in &mut panel.columns {
        *c = window.iter().map(|&i| c[i]).collect();
    }
    (history, report)
}
