//! The readable terminal summary of a contract report.

use std::fmt::Write;

use std::collections::BTreeMap;

use crate::{ContractReport, Finding, RuleCount, Severity, omitted_lines, thousands};

/// Errors listed before the rest is left to contract.json.
const SHOWN: usize = 15;

/// Places (periods or rows) named on a warning line before the rest are counted.
const PLACES: usize = 3;

/// Warning lines (rule and column pairs) shown before the rest is left to contract.json.
const WARNING_LINES: usize = 30;

/// A short human-readable summary: the table's shape, each column's range, and the findings.
pub fn summary_text(r: &ContractReport) -> String {
    let mut s = String::new();
    // Counts come from `rules`: `findings` lists only the first few of each rule.
    let total = |severity: Severity| -> usize {
        r.rules
            .iter()
            .filter(|c| c.severity == severity)
            .map(|c| c.count)
            .sum()
    };
    let (errors, warnings) = (total(Severity::Error), total(Severity::Warning));
    let _ = writeln!(
        s,
        "{}: {} ({} layout, {} rows read)",
        if r.passed { "PASSED" } else { "REJECTED" },
        r.source,
        r.layout,
        r.rows
    );
    if r.passed {
        let _ = writeln!(
            s,
            "table: {} rows, {} geo(s) [{}], periods {} .. {} every {} days",
            r.table_rows,
            r.geos.len(),
            r.geos.join(", "),
            r.first_period.as_deref().unwrap_or("-"),
            r.last_period.as_deref().unwrap_or("-"),
            r.period_days
        );
    }
    if let Some(h) = &r.history {
        let _ = writeln!(
            s,
            "carry-in history: {} of the {} periods before {} that adstock reaches ({} .. {})",
            h.periods_kept,
            h.periods_needed,
            h.start,
            h.first_kept.as_deref().unwrap_or("-"),
            h.last_kept.as_deref().unwrap_or("-"),
        );
    }
    if let Some(c) = &r.calendar {
        let _ = writeln!(
            s,
            "calendar: {}, {} rows, {} event(s){}",
            c.source,
            c.rows,
            c.events.len(),
            if c.undeclared_events.is_empty() {
                String::new()
            } else {
                format!(
                    "; not declared in the spec, not modeled: {}",
                    c.undeclared_events.join(", ")
                )
            }
        );
    }
    if !r.columns.is_empty() {
        let _ = writeln!(
            s,
            "  {:<24} {:<8} {:>14} {:>14} {:>14} {:>16} {:>6}",
            "column", "role", "min", "mean", "max", "sum", "zeros"
        );
        for c in &r.columns {
            let _ = writeln!(
                s,
                "  {:<24} {:<8} {:>14.4} {:>14.4} {:>14.4} {:>16.2} {:>6}",
                c.name, c.role, c.min, c.mean, c.max, c.sum, c.zeros
            );
        }
    }
    let _ = writeln!(
        s,
        "{} error(s), {} warning(s)",
        thousands(errors),
        thousands(warnings)
    );
    for line in finding_lines(&r.findings, &r.rules) {
        let _ = writeln!(s, "  {line}");
    }
    for d in r
        .drift
        .iter()
        .filter(|d| d.psi > 0.2 || d.changed_periods > 0)
    {
        let _ = writeln!(
            s,
            "  drift {}: PSI {:.3}, {} changed period(s)",
            d.column, d.psi, d.changed_periods
        );
    }
    s
}

/// The findings for the terminal: the errors one by one (the first [`SHOWN`], each with its
/// rule, column, row and period) with a count per rule, then the warnings summarised by
/// [`warning_lines`]. Each finding is shown once.
pub(crate) fn finding_lines(findings: &[Finding], rules: &[RuleCount]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for c in rules.iter().filter(|c| c.severity == Severity::Error) {
        *per_rule.entry(c.rule).or_insert(0) += c.count;
    }
    for (rule, n) in per_rule {
        lines.push(format!("{rule}: {}", thousands(n)));
    }
    let errors: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    for f in errors.iter().take(SHOWN) {
        lines.push(format!("- {f}"));
    }
    if errors.len() > SHOWN {
        lines.push(format!(
            "... {} more error(s) in contract.json",
            errors.len() - SHOWN
        ));
    }
    let error_rules: Vec<RuleCount> = rules
        .iter()
        .filter(|c| c.severity == Severity::Error)
        .cloned()
        .collect();
    lines.extend(omitted_lines(&error_rules));
    lines.extend(warning_lines(findings, rules));
    lines
}

/// The warnings, one line per rule and column (in rule order, then column order of first
/// appearance): a lone warning in full; several as their count, the first few places
/// (geo, period or row) and the first message. contract.json keeps every listed finding.
///
/// ```text
/// warning[spike] column 'tv': 4 findings at 2022-12-19, 2024-05-13, 2024-09-16 and 1 more; first: spend 7404.02 is ...
/// warning[few_rows_per_parameter]: 104 periods for 14 parameters ...
/// ```
pub fn warning_lines(findings: &[Finding], rules: &[RuleCount]) -> Vec<String> {
    let mut lines = Vec::new();
    for r in rules.iter().filter(|r| r.severity == Severity::Warning) {
        for c in &r.columns {
            let listed: Vec<&Finding> = findings
                .iter()
                .filter(|f| {
                    f.severity == Severity::Warning && f.rule == r.rule && f.column == c.column
                })
                .collect();
            if c.count == 1
                && let [only] = listed.as_slice()
            {
                lines.push(only.to_string());
                continue;
            }
            let column = c
                .column
                .as_ref()
                .map(|c| format!(" column '{c}'"))
                .unwrap_or_default();
            let places: Vec<String> = listed.iter().take(PLACES).map(|f| place(f)).collect();
            let more = c.count.saturating_sub(places.len());
            let at = match (places.is_empty(), more) {
                (true, _) => String::new(),
                (false, 0) => format!(" at {}", places.join(", ")),
                (false, _) => format!(" at {} and {} more", places.join(", "), thousands(more)),
            };
            let first = listed
                .first()
                .map(|f| format!("; first: {}", f.message))
                .unwrap_or_else(|| "; listed in contract.json".to_owned());
            lines.push(format!(
                "warning[{}]{column}: {} findings{at}{first}",
                r.rule,
                thousands(c.count)
            ));
        }
    }
    if lines.len() > WARNING_LINES {
        let rest = lines.len() - WARNING_LINES;
        lines.truncate(WARNING_LINES);
        lines.push(format!(
            "... {rest} more rule and column pair(s) with warnings in contract.json"
        ));
    }
    lines
}

/// Where a finding points, briefly: `east 2022-01-03`, `row 7`, `calendar.csv row 3`.
fn place(f: &Finding) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(file) = &f.file {
        parts.push(file.clone());
    }
    if let Some(g) = &f.geo {
        parts.push(g.clone());
    }
    match (&f.period, f.row) {
        (Some(p), _) => parts.push(p.clone()),
        (None, Some(r)) => parts.push(format!("row {r}")),
        (None, None) => {}
    }
    if parts.is_empty() {
        "-".to_owned()
    } else {
        parts.join(" ")
    }
}
