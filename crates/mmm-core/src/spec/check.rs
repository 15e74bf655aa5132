//! Structural check of a spec file: every unknown key (with a "did you mean"), missing
//! required key and wrongly typed value, found in one pass.
//!
//! serde stops at the first error, so a file with three typos needed three runs of
//! `mmm spec check`. This walks the parsed TOML (with its spans, for line numbers) against the
//! spec's own JSON Schema, the one `mmm schemas` writes, so the keys it knows are exactly the
//! keys serde accepts. serde stays the authority: the walk only runs when serde refused the
//! file, and when it finds nothing the serde error is reported instead.

use serde_json::Value as Json;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::SpecProblem;

/// Smallest Jaro-Winkler similarity for a "did you mean" (clap's threshold is 0.7; 0.8 keeps
/// suggestions for short keys like `mu` from pointing at unrelated keys).
const SUGGEST_SIMILARITY: f64 = 0.8;

/// What the walk found.
#[derive(Debug, Default)]
pub struct Found {
    /// Problems with the byte offset they sit at (for sorting into file order).
    pub problems: Vec<(usize, SpecProblem)>,
    /// True when every problem is an unknown key (the walk removed them from the table, so
    /// the rest may still parse and get its semantic checks).
    pub only_unknown_keys: bool,
}

/// Walk `table` (parsed from `text`) against the spec's JSON Schema; unknown keys are removed
/// from it as they are reported.
pub fn walk(text: &str, table: &mut Spanned<DeTable<'_>>) -> Found {
    let schema = schemars::schema_for!(super::Spec);
    let root = schema.as_value();
    let mut w = Walker {
        root,
        text,
        found: Found {
            only_unknown_keys: true,
            ..Found::default()
        },
    };
    let span = table.span();
    w.object(root, table.get_mut(), span.start, "");
    w.found.problems.sort_by_key(|(at, _)| *at);
    w.found
}

struct Walker<'s, 't> {
    root: &'s Json,
    text: &'t str,
    found: Found,
}

/// `parent.key`, or `key` at the top.
fn join(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_string()
    } else {
        format!("{parent}.{key}")
    }
}

/// The most similar of `candidates` to `word`, if similar enough.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= SUGGEST_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// " did you mean `x`?" or the list of what is allowed.
fn hint(word: &str, allowed: &[&str]) -> String {
    match suggest(word, allowed.iter().copied()) {
        Some(s) => format!("; did you mean `{s}`?"),
        None if allowed.is_empty() => String::new(),
        None => format!("; expected one of: {}", allowed.join(", ")),
    }
}

/// TOML's name for a value's type, as a user reads it.
fn type_name(v: &DeValue<'_>) -> &'static str {
    match v {
        DeValue::Table(_) => "table",
        other => other.type_str(),
    }
}

impl<'s> Walker<'s, '_> {
    fn line(&self, at: usize) -> usize {
        self.text[..at.min(self.text.len())].matches('\n').count() + 1
    }

    fn push(&mut self, at: usize, path: &str, message: String, unknown_key: bool) {
        self.found.only_unknown_keys &= unknown_key;
        let message = format!("{message} (line {})", self.line(at));
        self.found.problems.push((
            at,
            SpecProblem {
                path: path.to_string(),
                message,
            },
        ));
    }

    /// Follow `$ref`s to the schema that says something.
    fn resolve(&self, mut s: &'s Json) -> &'s Json {
        for _ in 0..32 {
            let Some(r) = s.get("$ref").and_then(Json::as_str) else {
                break;
            };
            let name = r.trim_start_matches("#/$defs/");
            match self.root.get("$defs").and_then(|d| d.get(name)) {
                Some(next) => s = next,
                None => break,
            }
        }
        s
    }

    /// Check one value against its schema.
    fn value(&mut self, s: &'s Json, v: &mut Spanned<DeValue<'_>>, path: &str) {
        let s = self.resolve(s);
        let at = v.span().start;
        if let Some(branches) = s.get("anyOf").and_then(Json::as_array) {
            // Option<T>: TOML has no null, so the value must be the T.
            if let Some(b) = branches
                .iter()
                .find(|b| b.get("type") != Some(&"null".into()))
            {
                self.value(b, v, path);
            }
            return;
        }
        if let Some(branches) = s.get("oneOf").and_then(Json::as_array) {
            return self.one_of(branches, v, path);
        }
        if let Some(values) = s.get("enum").and_then(Json::as_array) {
            let allowed: Vec<&str> = values.iter().filter_map(Json::as_str).collect();
            return self.choice(&allowed, v, path);
        }
        if let Some(c) = s.get("const").and_then(Json::as_str) {
            return self.choice(&[c], v, path);
        }
        let Some(kind) = expected_type(s) else {
            return;
        };
        match (kind, v.get_mut()) {
            ("object", DeValue::Table(t)) => self.object(s, t, at, path),
            ("array", DeValue::Array(items)) => {
                let item = s.get("items").unwrap_or(&Json::Bool(true));
                for (i, x) in items.iter_mut().enumerate() {
                    self.value(item, x, &format!("{path}[{i}]"));
                }
            }
            ("integer", DeValue::Integer(i)) => {
                let n = i128::from_str_radix(i.as_str(), i.radix()).ok();
                if let Some(msg) = integer_range(s, n) {
                    self.push(at, path, msg, false);
                }
            }
            ("string", DeValue::String(_))
            | ("boolean", DeValue::Boolean(_))
            | ("number", DeValue::Integer(_) | DeValue::Float(_)) => {}
            (want, got) => {
                let quote = if matches!(got, DeValue::Datetime(_)) && want == "string" {
                    "; quote it: \"YYYY-MM-DD\""
                } else {
                    ""
                };
                let msg = format!(
                    "expected {}, found {}{quote}",
                    article(want),
                    type_name(got)
                );
                self.push(at, path, msg, false);
            }
        }
    }

    /// A string that must be one of `allowed`.
    fn choice(&mut self, allowed: &[&str], v: &Spanned<DeValue<'_>>, path: &str) {
        let at = v.span().start;
        match v.get_ref() {
            DeValue::String(x) if allowed.contains(&x.as_ref()) => {}
            DeValue::String(x) => {
                let msg = format!("unknown value \"{x}\"{}", hint(x, allowed));
                self.push(at, path, msg, false);
            }
            other => {
                let msg = format!(
                    "expected a string (one of: {}), found {}",
                    allowed.join(", "),
                    type_name(other)
                );
                self.push(at, path, msg, false);
            }
        }
    }

    /// An enum: plain strings (every branch a `const`) or tables tagged by a key such as
    /// `kind` or `family` (every branch an object with that key `const`).
    fn one_of(&mut self, branches: &'s [Json], v: &mut Spanned<DeValue<'_>>, path: &str) {
        let consts: Vec<&str> = branches
            .iter()
            .filter_map(|b| b.get("const").and_then(Json::as_str))
            .collect();
        if consts.len() == branches.len() {
            return self.choice(&consts, v, path);
        }
        let Some(tag) = tag_key(branches) else {
            return;
        };
        let tags: Vec<&str> = branches.iter().filter_map(|b| tag_value(b, tag)).collect();
        let at = v.span().start;
        if !matches!(v.get_ref(), DeValue::Table(_)) {
            let msg = format!("expected a table, found {}", type_name(v.get_ref()));
            return self.push(at, path, msg, false);
        }
        let DeValue::Table(t) = v.get_mut() else {
            return;
        };
        let key = join(path, tag);
        let chosen = match t.get(tag).map(|x| (x.span().start, x.get_ref())) {
            None => {
                let msg = format!("missing key `{tag}` (one of: {})", tags.join(", "));
                return self.push(at, &key, msg, false);
            }
            Some((tag_at, DeValue::String(x))) => {
                match tags.iter().position(|k| *k == x.as_ref()) {
                    Some(i) => i,
                    None => {
                        let msg = format!("unknown {tag} \"{x}\"{}", hint(x, &tags));
                        return self.push(tag_at, &key, msg, false);
                    }
                }
            }
            Some((tag_at, other)) => {
                let msg = format!("expected a string, found {}", type_name(other));
                return self.push(tag_at, &key, msg, false);
            }
        };
        let branch = branches
            .iter()
            .find(|b| tag_value(b, tag) == Some(tags[chosen]));
        if let Some(b) = branch {
            self.object(self.resolve(b), t, at, path);
        }
    }

    /// A table: unknown keys (removed after reporting), missing required keys, then each
    /// known key's value.
    fn object(&mut self, s: &'s Json, t: &mut DeTable<'_>, at: usize, path: &str) {
        let props = s.get("properties").and_then(Json::as_object);
        let extra = s.get("additionalProperties");
        let known: Vec<&str> = props
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let mut unknown = Vec::new();
        for (k, v) in t.iter_mut() {
            let key: &str = k.get_ref();
            let here = join(path, key);
            match props.and_then(|p| p.get(key)) {
                Some(sub) => self.value(sub, v, &here),
                None => match extra {
                    Some(Json::Bool(false)) => unknown.push((k.span().start, key.to_string())),
                    Some(sub @ Json::Object(_)) => self.value(sub, v, &here),
                    _ => {}
                },
            }
        }
        for (key_at, key) in unknown {
            let msg = format!("unknown key{}", hint(&key, &known));
            self.push(key_at, &join(path, &key), msg, true);
            t.remove(key.as_str());
        }
        let required = s.get("required").and_then(Json::as_array);
        for r in required.into_iter().flatten().filter_map(Json::as_str) {
            if !t.contains_key(r) {
                let table = if path.is_empty() {
                    "the file"
                } else {
                    "this table"
                };
                let msg = format!("missing required key (in {table})");
                self.push(at, &join(path, r), msg, false);
            }
        }
    }
}

/// The JSON type a schema wants, ignoring `null` (TOML has none).
fn expected_type(s: &Json) -> Option<&str> {
    match s.get("type")? {
        Json::String(t) => Some(t.as_str()),
        Json::Array(ts) => ts.iter().filter_map(Json::as_str).find(|t| *t != "null"),
        _ => None,
    }
}

fn article(kind: &str) -> &'static str {
    match kind {
        "object" => "a table",
        "array" => "an array",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "a boolean (true or false)",
        _ => "a string",
    }
}

/// Out-of-range message of an integer for the schema's `minimum` and integer `format`.
fn integer_range(s: &Json, n: Option<i128>) -> Option<String> {
    let Some(n) = n else {
        return Some("integer out of range".into());
    };
    let min = s.get("minimum").and_then(Json::as_i64).map(i128::from);
    let max = match s.get("format").and_then(Json::as_str) {
        Some("uint8") => Some(i128::from(u8::MAX)),
        Some("uint16") => Some(i128::from(u16::MAX)),
        Some("uint32") => Some(i128::from(u32::MAX)),
        Some("uint" | "uint64") => Some(i128::from(u64::MAX)),
        Some("int32") => Some(i128::from(i32::MAX)),
        Some("int" | "int64") => Some(i128::from(i64::MAX)),
        _ => None,
    };
    match (min, max) {
        (Some(lo), _) if n < lo => Some(format!("must be >= {lo}, got {n}")),
        (_, Some(hi)) if n > hi => Some(format!("must be <= {hi}, got {n}")),
        _ => None,
    }
}

/// The key whose `const` tells the branches of a tagged enum apart (`kind`, `family`).
fn tag_key(branches: &[Json]) -> Option<&str> {
    let first = branches.first()?.get("properties")?.as_object()?;
    first
        .iter()
        .filter(|(_, p)| p.get("const").is_some())
        .map(|(k, _)| k.as_str())
        .find(|k| branches.iter().all(|b| tag_value(b, k).is_some()))
}

fn tag_value<'a>(branch: &'a Json, tag: &str) -> Option<&'a str> {
    branch.get("properties")?.get(tag)?.get("const")?.as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        let mut table = DeTable::parse(text).expect("toml");
        walk(text, &mut table)
            .problems
            .into_iter()
            .map(|(_, p)| p.to_string())
            .collect()
    }

    #[test]
    fn every_structural_problem_is_listed_in_one_pass() {
        let text = "[data]\ndate_column = \"d\"\n\n[[channels]]\nname = \"tv\"\n\
                    adstock = { kind = \"geometrc\" }\n\n[[channels]]\nnam = \"x\"\n\n\
                    [sampler]\nchains = \"4\"\nmax_treedepth = 10\nstart = 2024-01-01\n";
        let p = problems(text);
        let want = [
            "data.target: missing required key (in this table) (line 1)",
            "channels[0].adstock.kind: unknown kind \"geometrc\"; did you mean `geometric`? (line 6)",
            "channels[1].nam: unknown key; did you mean `name`? (line 9)",
            "channels[1].name: missing required key (in this table) (line 8)",
            "sampler.chains: expected an integer, found string (line 12)",
            "sampler.max_treedepth: unknown key; did you mean `max_tree_depth`? (line 13)",
        ];
        for w in want {
            assert!(p.iter().any(|x| x == w), "missing {w:?} in {p:#?}");
        }
        assert!(
            p.iter()
                .any(|x| x.starts_with("sampler.start: unknown key")),
            "{p:#?}"
        );
    }

    #[test]
    fn a_spec_serde_accepts_has_no_structural_problem() {
        let text = include_str!("../../../../fixtures/pymc_example/spec.toml");
        assert!(problems(text).is_empty(), "{:#?}", problems(text));
    }

    #[test]
    fn negative_counts_and_wrong_enum_values_are_located() {
        let text = "[data]\ndate_column = \"d\"\ntarget = \"y\"\nlayout = \"wdie\"\n\
                    period_days = -7\nas_of = 2030-01-01\n\n[[channels]]\nname = \"tv\"\n\
                    adstock = { kind = \"geometric\", alpha_prior = { family = \"beta\", alpha = 1 } }\n";
        let p = problems(text);
        for w in [
            "data.layout: unknown value \"wdie\"; did you mean `wide`? (line 4)",
            "data.period_days: must be >= 0, got -7 (line 5)",
            "data.as_of: expected a string, found datetime; quote it: \"YYYY-MM-DD\" (line 6)",
            "channels[0].adstock.alpha_prior.beta: missing required key (in this table) (line 10)",
        ] {
            assert!(p.iter().any(|x| x == w), "missing {w:?} in {p:#?}");
        }
    }
}
