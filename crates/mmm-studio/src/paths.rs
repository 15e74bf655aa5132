//! What the studio may touch: run names, files under the runs directory (no `..`, no
//! absolute paths, no symlink that leaves the directory), and absolute paths kept out of
//! responses.

use std::path::{Component, Path, PathBuf};

use crate::error::ApiError;

/// A run's name: one directory under the runs directory, of letters, digits, `.`, `_`, `-`,
/// not starting with `.` (so never `..`).
pub fn check_run_name(name: &str) -> Result<(), ApiError> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "a run name is one directory name of letters, digits, '.', '_' and '-'",
        ))
    }
}

/// The file `segments` (already percent-decoded) name under `root` (canonical), refusing
/// (400) empty, `.`, `..`, absolute or otherwise odd components, and (403) a path that
/// resolves outside `root` through a symlink; 404 when there is no regular file there.
pub fn resolve_under(root: &Path, segments: &[String]) -> Result<PathBuf, ApiError> {
    if segments.is_empty() {
        return Err(ApiError::bad_request("no file named"));
    }
    let mut rel = PathBuf::new();
    for s in segments {
        let bad = s.is_empty()
            || s.contains(['/', '\\', '\0'])
            || Path::new(s).is_absolute()
            || !matches!(
                Path::new(s).components().collect::<Vec<_>>().as_slice(),
                [Component::Normal(_)]
            );
        if bad {
            return Err(ApiError::bad_request(
                "a file path is relative, without '.', '..' or empty parts",
            ));
        }
        rel.push(s);
    }
    let path = root.join(&rel);
    let real = path
        .canonicalize()
        .map_err(|_| ApiError::not_found("no such file"))?;
    if !real.starts_with(root) {
        return Err(ApiError::new(
            403,
            "the path leaves the runs directory (a symlink out of it); refused",
        ));
    }
    if !real.is_file() {
        return Err(ApiError::not_found("no such file"));
    }
    Ok(real)
}

/// `text` with every absolute path shortened to its last component (`…/name`): responses
/// never show where files are on this machine.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('/') {
        let starts_path = i == 0
            || rest[..i]
                .chars()
                .last()
                .is_some_and(|c| c.is_whitespace() || matches!(c, '(' | '"' | '\'' | '=' | '`'));
        let tail = &rest[i..];
        let token_end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, ')' | '"' | '\'' | ',' | '`'))
            .unwrap_or(tail.len());
        let looks_like_path = tail[1..]
            .starts_with(|c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '~' | '-'))
            && tail[..token_end].matches('/').count() >= 2;
        if !starts_path || !looks_like_path {
            out.push_str(&rest[..=i]);
            rest = &rest[i + 1..];
            continue;
        }
        out.push_str(&rest[..i]);
        let path = tail[..token_end].trim_end_matches([':', '.', ';']);
        let name = path.rsplit('/').find(|p| !p.is_empty()).unwrap_or("");
        out.push('…');
        out.push('/');
        out.push_str(name);
        rest = &tail[path.len()..];
    }
    out.push_str(rest);
    out
}

/// Every string in `v` through [`redact`].
pub fn redact_value(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::String(s) if s.contains('/') => *s = redact(s),
        serde_json::Value::Array(a) => a.iter_mut().for_each(redact_value),
        serde_json::Value::Object(o) => o.values_mut().for_each(redact_value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_paths_are_shortened_and_other_slashes_kept() {
        assert_eq!(
            redact("/tmp/x/runs/a/fit: output draws.parquet is Changed"),
            "…/fit: output draws.parquet is Changed"
        );
        assert_eq!(
            redact("ROAS 3/4 (at /a/b/c.json)"),
            "ROAS 3/4 (at …/c.json)"
        );
        assert_eq!(redact("no path here"), "no path here");
        assert_eq!(redact("units / currency"), "units / currency");
    }

    #[test]
    fn run_names_refuse_traversal() {
        for bad in ["..", ".", "", "a/b", ".hidden", "a\\b", "%2e%2e"] {
            assert!(check_run_name(bad).is_err(), "{bad}");
        }
        check_run_name("run-2024.q1_a").expect("a plain name");
    }
}
