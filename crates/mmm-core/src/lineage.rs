//! The run's hash chain: each stage records the sha256 of every upstream manifest it consumed
//! and the spec it was made from; a stage refuses upstream stages that do not chain.

use std::collections::BTreeMap;
use std::path::Path;

use crate::artifact::Upstream;
use crate::error::CoreError;
use crate::spec::LoadedSpec;

/// The spec a stage runs with: its sha256 and its text (for naming the keys that differ).
#[derive(Debug, Clone, Copy)]
pub struct SpecRef<'a> {
    /// sha256 of the spec file's bytes.
    pub sha256: &'a str,
    /// The spec file's text.
    pub text: &'a str,
    /// Where it was read from (named in errors).
    pub path: &'a Path,
}

impl<'a> From<&'a LoadedSpec> for SpecRef<'a> {
    fn from(spec: &'a LoadedSpec) -> Self {
        Self {
            sha256: &spec.sha256,
            text: &spec.text,
            path: &spec.path,
        }
    }
}

/// Open the upstream stages `stages` (directory, stage name) and check that they chain with
/// each other and with `spec` ([`check_chain`]) before anything in them is parsed.
pub fn open_chain<const N: usize>(
    spec: SpecRef<'_>,
    stages: [(&Path, &str); N],
) -> Result<[Upstream; N], CoreError> {
    let mut opened = Vec::with_capacity(N);
    for (dir, stage) in stages {
        opened.push(Upstream::open(dir, stage)?);
    }
    let refs: Vec<&Upstream> = opened.iter().collect();
    check_chain(spec, &refs)?;
    opened.try_into().map_err(|_| CoreError::Manifest {
        path: spec.path.to_path_buf(),
        message: "internal: upstream count changed".into(),
    })
}

/// Every upstream was made from `spec`, and wherever one upstream consumed a stage of the same
/// name as another upstream, it consumed exactly that one (the same manifest sha256).
pub fn check_chain(spec: SpecRef<'_>, upstreams: &[&Upstream]) -> Result<(), CoreError> {
    for up in upstreams {
        check_same_spec(spec, up)?;
    }
    for consumer in upstreams {
        for link in &consumer.manifest().upstream {
            let Some(used) = upstreams.iter().find(|u| u.manifest().stage == link.stage) else {
                continue;
            };
            if used.manifest_sha256() != link.manifest_sha256 {
                return Err(CoreError::ChainBroken {
                    message: format!(
                        "{} was made from the {} stage at {} (manifest sha256 {}), not from {} \
                         (manifest sha256 {}): the two come from different runs or the {} \
                         stage was redone since; rerun {} from {}",
                        consumer.dir().display(),
                        link.stage,
                        link.dir,
                        short(&link.manifest_sha256),
                        used.dir().display(),
                        short(used.manifest_sha256()),
                        link.stage,
                        consumer.manifest().stage,
                        used.dir().display(),
                    ),
                });
            }
        }
    }
    Ok(())
}

/// `up` was made from the spec `spec`, or an error naming both specs and the keys that differ.
fn check_same_spec(spec: SpecRef<'_>, up: &Upstream) -> Result<(), CoreError> {
    let m = up.manifest();
    if m.spec_sha256 == spec.sha256 {
        return Ok(());
    }
    let keys = if m.spec_toml.is_empty() {
        "its manifest does not record the spec's text".to_string()
    } else {
        let changes = spec_key_changes(&m.spec_toml, spec.text);
        if changes.is_empty() {
            "the two differ only in comments or layout".to_string()
        } else {
            format!("keys that differ: {}", changes.join("; "))
        }
    };
    Err(CoreError::ChainBroken {
        message: format!(
            "{} (stage '{}') was made from another spec (sha256 {}) than {} (sha256 {}); {keys}. \
             Rerun the stages from the spec's first changed stage, or pass the spec they were \
             made from",
            up.dir().display(),
            m.stage,
            short(&m.spec_sha256),
            spec.path.display(),
            short(spec.sha256),
        ),
    })
}

/// Dotted spec keys whose values differ between two spec texts, as `key: old -> new`
/// (`(absent)` where a side lacks the key; a text that does not parse is one change).
pub fn spec_key_changes(old: &str, new: &str) -> Vec<String> {
    let (a, b) = match (spec_keys(old), spec_keys(new)) {
        (Some(a), Some(b)) => (a, b),
        _ => return vec!["(a spec does not parse as TOML)".into()],
    };
    let absent = "(absent)".to_string();
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            format!(
                "{k}: {} -> {}",
                a.get(k).unwrap_or(&absent),
                b.get(k).unwrap_or(&absent)
            )
        })
        .collect()
}

/// A spec text as dotted keys (`channels[0].l_max`) to their TOML values.
pub fn spec_keys(text: &str) -> Option<BTreeMap<String, String>> {
    let table: toml::Table = text.parse().ok()?;
    let mut out = BTreeMap::new();
    flatten("", &toml::Value::Table(table), &mut out);
    Some(out)
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        toml::Value::Array(items) if items.iter().any(toml::Value::is_table) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), v, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_key_changes_name_each_changed_key() {
        let old = "seed = 1\n[[channels]]\nname = \"tv\"\nl_max = 8\n";
        let new = "seed = 1\n[[channels]]\nname = \"tv\"\nl_max = 3\n[x]\ny = 2\n";
        assert_eq!(
            spec_key_changes(old, new),
            vec![
                "channels[0].l_max: 8 -> 3".to_string(),
                "x.y: (absent) -> 2".to_string()
            ]
        );
        assert!(spec_key_changes(old, old).is_empty());
        assert_eq!(spec_key_changes("=", old).len(), 1);
    }
}
