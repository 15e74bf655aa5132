//! The readable terminal summary of a contract report.

use std::fmt::Write;

use std::collections::BTreeMap;

use crate::{ContractReport, Severity, omitted_lines, thousands};

/// Lines shown per severity before the rest is left to contract.json.
const SHOWN: usize = 15;

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
    let mut per_rule: BTreeMap<&str, usize> = BTreeMap::new();
    for c in &r.rules {
        *per_rule.entry(c.rule).or_insert(0) += c.count;
    }
    for (rule, n) in per_rule {
        let _ = writeln!(s, "  {rule}: {}", thousands(n));
    }
    for severity in [Severity::Error, Severity::Warning] {
        let list: Vec<_> = r
            .findings
            .iter()
            .filter(|f| f.severity == severity)
            .collect();
        for f in list.iter().take(SHOWN) {
            let _ = writeln!(s, "  - {f}");
        }
        if list.len() > SHOWN {
            let _ = writeln!(s, "  ... {} more in contract.json", list.len() - SHOWN);
        }
    }
    for line in omitted_lines(&r.rules) {
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
