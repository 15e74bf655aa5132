//! The report's "Causal structure" section, from `diagnose/causal_checks.json` (written by the
//! diagnose stage since issue 25; older runs have none and show no section). The JSON is read
//! generically, as the report reads every artifact, and its numbers are formatted for people.

use serde::Serialize;
use serde_json::Value;

/// One control's role and what it means.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoleRow {
    /// The control.
    pub control: String,
    /// `confounder`, `precision` or `unspecified`.
    pub role: String,
    /// What the role means for the channel effects.
    pub meaning: String,
}

/// One control's two spend tests, formatted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestRow {
    /// The control.
    pub control: String,
    /// Its role.
    pub role: String,
    /// Lagged test: partial R^2 and p-value, e.g. `0.41 (p = 0.005)`; empty when not tested.
    pub lagged: String,
    /// Contemporaneous test, as `lagged`.
    pub same_period: String,
    /// Flight test (the control against the flighted channels' on/off schedule), as `lagged`;
    /// empty when no channel is flighted.
    pub flight: String,
    /// Channels named by the test that counts, comma-separated.
    pub channels: String,
    /// What the tests found, in words.
    pub finding: String,
    /// True for a post-treatment flag.
    pub flagged: bool,
}

/// One channel's spend against the target's seasonality.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SeasonalRow {
    /// The channel.
    pub channel: String,
    /// Pearson r, two decimals, or why it is not defined.
    pub r: String,
    /// |r| at or above the note's threshold.
    pub follows: bool,
}

/// The section's template context.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CausalSection {
    /// Controls with their roles.
    pub roles: Vec<RoleRow>,
    /// What each role present means, once per role, in order of first appearance.
    pub role_meanings: Vec<String>,
    /// Declared mediators (modelled, not tested).
    pub mediators: Vec<String>,
    /// Each control's tests.
    pub tests: Vec<TestRow>,
    /// Post-treatment warnings.
    pub warnings: Vec<String>,
    /// Role and missing-confounder notes.
    pub notes: Vec<String>,
    /// Each channel against the target's seasonality.
    pub seasonal: Vec<SeasonalRow>,
    /// The |r| threshold of the seasonal note, two decimals.
    pub seasonal_threshold: String,
    /// Whether a control is declared a confounder.
    pub confounder_declared: bool,
    /// How the numbers were computed.
    pub method: String,
}

fn text(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or("").to_owned()
}

fn texts(v: &Value, key: &str) -> Vec<String> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = &'a Value> {
    v.get(key).and_then(Value::as_array).into_iter().flatten()
}

fn flag(v: &Value, key: &str) -> bool {
    v.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// A p-value for people: two decimals, or two significant digits below 0.01.
pub fn fmt_p(p: f64) -> String {
    if !p.is_finite() {
        "not computed".into()
    } else if p >= 0.01 {
        format!("{p:.2}")
    } else {
        let digits = ((-p.log10()).floor() as usize + 2).min(12);
        format!("{p:.digits$}").trim_end_matches('0').to_owned()
    }
}

/// `0.41 (p = 0.005)` of a spend test; empty without one.
fn test_text(t: Option<&Value>) -> String {
    let Some(t) = t.filter(|t| t.is_object()) else {
        return String::new();
    };
    let num = |k: &str| t.get(k).and_then(Value::as_f64).unwrap_or(f64::NAN);
    format!("{:.2} (p = {})", num("partial_r2"), fmt_p(num("p_value")))
}

/// The named channels of a spend test.
fn named(t: Option<&Value>) -> Vec<String> {
    t.map(|t| {
        items(t, "channels")
            .filter(|c| flag(c, "named"))
            .map(|c| text(c, "channel"))
            .collect()
    })
    .unwrap_or_default()
}

/// One control's row.
fn test_row(p: &Value) -> TestRow {
    let (lagged, same, flight) = (p.get("lagged"), p.get("contemporaneous"), p.get("flight"));
    let significant = |t: Option<&Value>| t.is_some_and(|t| flag(t, "significant"));
    let role = text(p, "role");
    let (flagged, moves) = (flag(p, "flagged"), flag(p, "moves_with_spend"));
    let finding = if !flag(p, "tested") {
        format!("not tested: {}", text(p, "skipped"))
    } else if flagged && significant(flight) {
        "moves with the flight schedule: may be a mediator".into()
    } else if flagged {
        "earlier spend predicts it: may be a mediator".into()
    } else if moves && role == "confounder" {
        "moves with spend, as a confounder does".into()
    } else if moves {
        "moves with spend: declare its role".into()
    } else {
        "no sign that spend moves it".into()
    };
    let channels = if flagged && significant(flight) {
        named(flight)
    } else if significant(same) {
        named(same)
    } else if significant(lagged) {
        named(lagged)
    } else {
        Vec::new()
    };
    TestRow {
        control: text(p, "control"),
        role,
        lagged: test_text(lagged),
        same_period: test_text(same),
        flight: match flight.filter(|t| t.is_object()) {
            Some(_) => test_text(flight),
            None if flag(p, "tested") => "not run: no channel is flighted".into(),
            None => String::new(),
        },
        channels: channels.join(", "),
        finding,
        flagged,
    }
}

/// The section from causal_checks.json.
pub fn section(v: &Value) -> CausalSection {
    let roles: Vec<RoleRow> = items(v, "roles")
        .map(|r| RoleRow {
            control: text(r, "control"),
            role: text(r, "role"),
            meaning: text(r, "meaning"),
        })
        .collect();
    let mut role_meanings: Vec<String> = Vec::new();
    for r in &roles {
        if !role_meanings.contains(&r.meaning) {
            role_meanings.push(r.meaning.clone());
        }
    }
    let threshold = v
        .get("settings")
        .and_then(|s| s.get("seasonal_correlation"))
        .and_then(Value::as_f64)
        .unwrap_or(f64::NAN);
    CausalSection {
        roles,
        role_meanings,
        mediators: texts(v, "mediators"),
        tests: items(v, "post_treatment").map(test_row).collect(),
        warnings: texts(v, "warnings"),
        notes: texts(v, "notes"),
        seasonal: items(v, "seasonal_spend")
            .map(|s| SeasonalRow {
                channel: text(s, "channel"),
                r: s.get("correlation").and_then(Value::as_f64).map_or_else(
                    || "not defined: the spend or the seasonal shape does not vary".into(),
                    |r| format!("{r:.2}"),
                ),
                follows: flag(s, "follows_seasonality"),
            })
            .collect(),
        seasonal_threshold: format!("{threshold:.2}"),
        confounder_declared: flag(v, "confounder_declared"),
        method: text(v, "method"),
    }
}
