//! Escaping of user-supplied text (channel, model, target and file names, descriptions) in
//! the Markdown the report writes (model_card.md).
//!
//! report.html needs nothing here: minijinja escapes HTML in templates named `*.html`, and the
//! inline SVG charts escape their text (plotters and `charts::xml_escape`). Markdown has no
//! such escaping, so a channel named `a|b` split the model card's channel table and one named
//! `<script>` put raw HTML into a document that renderers display.

use minijinja::{AutoEscape, Output, State, Value};

/// The auto-escape mode of Markdown templates (see [`auto_escape`] and [`formatter`]).
pub const MARKDOWN: &str = "markdown";

/// Escape `text` for Markdown inline text and table cells: punctuation that starts emphasis,
/// code, links, headings, tables or strikethrough gets a backslash, `<`, `>` and `&` become
/// entities (no raw HTML, no entity injection), line breaks become spaces, and a leading list,
/// rule or underline marker ([`block_marker`]) is escaped, so a name cannot start a new block.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 4);
    let marker = block_marker(text);
    for (i, c) in text.char_indices() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' => out.push(' '),
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c if Some(i) == marker => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Byte index of the character that would open a block if `text` started a line: a list item
/// (`- x`, `+ x`, `1. x`, `1) x`), a thematic break or a setext underline (`---`, `===`).
/// Numbers such as `-5` or `1.25` open nothing and stay as they are.
fn block_marker(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    let at = match bytes.get(digits)? {
        b'.' | b')' if digits > 0 => digits,
        b'-' | b'+' | b'=' if digits == 0 => 0,
        _ => return None,
    };
    let rest = &bytes[at + 1..];
    let repeated = at == 0 && rest.iter().all(|&b| b == bytes[0] || b == b' ');
    (rest.is_empty() || rest[0] == b' ' || rest[0] == b'\t' || repeated).then_some(at)
}

/// `text` as a Markdown code span: fenced by one more backtick than its longest backtick run
/// (padded with spaces when it starts or ends with one), line breaks as spaces. Inside a code
/// span nothing else is interpreted, so file names keep their underscores (for inline text,
/// not table cells).
pub fn code_span(text: &str) -> String {
    let flat: String = text
        .chars()
        .map(|c| if matches!(c, '\n' | '\r') { ' ' } else { c })
        .collect();
    let longest = flat.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// Auto-escape callback: [`MARKDOWN`] for templates named `*.md`, minijinja's default (HTML
/// for `*.html`) otherwise.
pub fn auto_escape(name: &str) -> AutoEscape {
    if name.ends_with(".md") {
        AutoEscape::Custom(MARKDOWN.into())
    } else {
        minijinja::default_auto_escape_callback(name)
    }
}

/// Output formatter: every value printed into a Markdown template is escaped with [`escape`]
/// unless marked safe (the `code` filter's output); other templates use minijinja's own.
pub fn formatter(
    out: &mut Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    match state.auto_escape() {
        AutoEscape::Custom(name) if name == MARKDOWN && !value.is_safe() => {
            out.write_str(&escape(&value.to_string()))?;
            Ok(())
        }
        AutoEscape::Custom(name) if name == MARKDOWN => {
            out.write_str(&value.to_string())?;
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// The `code` filter: [`code_span`] of the value as text, marked safe so the formatter keeps
/// it as is.
pub fn code_filter(value: Value) -> Value {
    Value::from_safe_string(code_span(&value.to_string()))
}
