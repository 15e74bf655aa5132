//! Markdown escaping of user-supplied names in model_card.md (a channel named `a|b` split the
//! channel table; one named `<script>` put raw HTML into the card).

use mmm_report::markdown::{code_span, escape};
use mmm_report::stage::render_model_card;

#[test]
fn escape_neutralizes_markdown_and_html() {
    assert_eq!(escape("tv"), "tv");
    assert_eq!(escape("a|b"), "a\\|b");
    assert_eq!(
        escape("*b* _i_ `c` [l](u) #h ~s~ \\"),
        "\\*b\\* \\_i\\_ \\`c\\` \\[l\\](u) \\#h \\~s\\~ \\\\"
    );
    assert_eq!(
        escape("<script>alert(1)</script> & co"),
        "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
    );
    assert_eq!(escape("one\ntwo\r\n# three"), "one two  \\# three");
    // A name cannot open a list, a rule or a heading at the start of a line.
    assert_eq!(escape("- x"), "\\- x");
    assert_eq!(escape("==="), "\\===");
    assert_eq!(escape("1. x"), "1\\. x");
    assert_eq!(escape("tv-1.5"), "tv-1.5");
    // Numbers stay readable.
    assert_eq!(escape("-5"), "-5");
    assert_eq!(escape("1.0010"), "1.0010");
    assert_eq!(escape("12,345"), "12,345");
}

#[test]
fn code_spans_are_fenced_longer_than_any_backtick_run() {
    assert_eq!(code_span("data_2024.csv"), "`data_2024.csv`");
    assert_eq!(code_span("a`b"), "``a`b``");
    assert_eq!(code_span("`x``"), "``` `x`` ```");
    assert_eq!(code_span("a\nb"), "`a b`");
}

/// The context the card template reads, with `channel` as the only channel's name.
fn context(channel: &str) -> serde_json::Value {
    let triple = serde_json::json!([1.0, 0.5, 1.5]);
    serde_json::json!({
        "model_name": "brand_[x]",
        "description": "# not a heading\n- nor a list",
        "target": "sales|units",
        "spec_sha": "ab12",
        "data_source": "my_data`s.csv",
        "data_sha": "cd34",
        "first_period": "2024-01-01",
        "last_period": "2024-12-30",
        "rows": 52,
        "diag": {
            "passed": true,
            "max_rhat": 1.001,
            "min_ess_bulk": 900.0,
            "sampler": {"divergences": 0},
            "train": {"r2": 0.9, "mape": 5.0, "coverage": 0.94},
        },
        "interval_pct": "94",
        "channels": [{
            "channel": channel,
            "spend": 100.0,
            "contribution": triple,
            "share": [0.5, 0.4, 0.6],
            "roas": triple,
        }],
        "sampler": {"chains": 4, "tune": 100, "draws": 100},
        "seed": 1,
    })
}

#[test]
fn the_rendered_card_keeps_its_table_and_holds_no_raw_html() {
    let name = "tv|<script>alert(1)</script>\n## *owned* [x](javascript:y)";
    let card = render_model_card(&context(name)).expect("card renders");
    assert!(!card.contains("<script>"), "{card}");
    assert!(
        !card.contains("## \\*owned") && !card.contains("\n## *owned"),
        "{card}"
    );
    let row = card
        .lines()
        .find(|l| l.contains("alert(1)"))
        .expect("the channel's row");
    assert!(row.starts_with("| tv\\|&lt;script&gt;alert(1)&lt;/script&gt; \\#\\# \\*owned\\* \\[x\\](javascript:y) | "), "{row}");
    // Exactly the table's 6 cell separators are unescaped pipes.
    let separators = row
        .char_indices()
        .filter(|&(i, c)| c == '|' && !row[..i].ends_with('\\'))
        .count();
    assert_eq!(separators, 6, "{row}");
    // Other user-supplied text: escaped, or fenced as code.
    assert!(
        card.starts_with("# Model card: brand\\_\\[x\\]\n"),
        "{card}"
    );
    assert!(
        card.contains("\n\\# not a heading - nor a list\n"),
        "{card}"
    );
    assert!(
        card.contains("- Data: ``my_data`s.csv`` (sha256 `cd34`)"),
        "{card}"
    );
    assert!(
        card.contains("- Target: sales\\|units; spec sha256 `ab12`"),
        "{card}"
    );
    assert!(
        card.contains("max R-hat 1.0010, min bulk ESS 900"),
        "{card}"
    );
}
