//! The intermediate panel every input layout becomes: one row per input period and geo, one
//! f64 column per modeled variable (NaN where a cell was invalid or missing).

use crate::Finding;

/// Geo name used when the input has no geography.
pub const NATIONAL: &str = "national";

/// Role of a modeled column.
pub type Role = &'static str;

/// Rows of the input in a common shape.
#[derive(Debug, Clone, Default)]
pub struct Panel {
    /// Period start (days since 1970-01-01) per row; `None` where the date did not parse.
    pub dates: Vec<Option<i32>>,
    /// Geography per row.
    pub geos: Vec<String>,
    /// 1-based source row per panel row, when rows map one to one onto the input file.
    pub source_rows: Option<Vec<usize>>,
    /// Modeled columns: name, role, values.
    pub columns: Vec<(String, Role, Vec<f64>)>,
}

impl Panel {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.dates.len()
    }

    /// Source row of panel row `i`, if known.
    pub fn row(&self, i: usize) -> Option<usize> {
        self.source_rows.as_ref().map(|r| r[i])
    }

    /// Geo of row `i`, or `None` for a national table (so findings stay uncluttered).
    pub fn geo(&self, i: usize) -> Option<String> {
        (self.geos[i] != NATIONAL).then(|| self.geos[i].clone())
    }

    /// Row indices grouped by geo (geos in sorted order), each group sorted by date.
    pub fn by_geo(&self) -> Vec<(String, Vec<usize>)> {
        let mut groups: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
        for (i, g) in self.geos.iter().enumerate() {
            if self.dates[i].is_some() {
                groups.entry(g.as_str()).or_default().push(i);
            }
        }
        groups
            .into_iter()
            .map(|(g, mut rows)| {
                rows.sort_by_key(|&i| (self.dates[i], i));
                (g.to_string(), rows)
            })
            .collect()
    }
}

/// Collects findings with locations.
#[derive(Debug, Default)]
pub struct Findings(pub Vec<Finding>);

/// Where a finding points.
#[derive(Debug, Default, Clone)]
pub struct At {
    /// Input file, when not the data file.
    pub file: Option<String>,
    /// Column.
    pub column: Option<String>,
    /// Geo.
    pub geo: Option<String>,
    /// Source row.
    pub row: Option<usize>,
    /// Period (days).
    pub period: Option<i32>,
}

impl At {
    /// A column.
    pub fn column(c: &str) -> Self {
        Self {
            column: Some(c.to_string()),
            ..Self::default()
        }
    }

    /// A cell of panel row `i`.
    pub fn cell(p: &Panel, c: &str, i: usize) -> Self {
        Self {
            file: None,
            column: Some(c.to_string()),
            geo: p.geo(i),
            row: p.row(i),
            period: p.dates[i],
        }
    }
}

impl Findings {
    /// Record a finding.
    pub fn push(&mut self, severity: crate::Severity, rule: &'static str, at: At, message: String) {
        self.0.push(Finding {
            rule,
            severity,
            file: at.file,
            column: at.column,
            geo: at.geo,
            row: at.row,
            period: at.period.map(mmm_core::dates::iso),
            message,
        });
    }

    /// Record an error.
    pub fn error(&mut self, rule: &'static str, at: At, message: String) {
        self.push(crate::Severity::Error, rule, at, message);
    }

    /// Record a warning.
    pub fn warn(&mut self, rule: &'static str, at: At, message: String) {
        self.push(crate::Severity::Warning, rule, at, message);
    }

    /// True when any error was recorded.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|f| f.severity == crate::Severity::Error)
    }
}
