//! The "Causal structure" section: diagnose/causal_checks.json formatted for people, in the
//! model card and report.html, and absent for runs without the file.

use mmm_report::causal::{fmt_p, section};
use mmm_report::stage::{render_model_card, render_report};

/// A causal_checks.json as the diagnose stage writes it (trimmed to the fields read).
fn checks() -> serde_json::Value {
    let test = |r2: f64, p: f64, significant: bool, named: &[&str]| {
        let channels: Vec<serde_json::Value> = ["tv", "video", "search"]
            .iter()
            .map(|c| serde_json::json!({"channel": c, "named": named.contains(c)}))
            .collect();
        serde_json::json!({
            "partial_r2": r2,
            "p_value": p,
            "significant": significant,
            "channels": channels,
        })
    };
    serde_json::json!({
        "method": "How: permutations.",
        "settings": {"seasonal_correlation": 0.5},
        "roles": [
            {"control": "awareness", "role": "unspecified", "meaning": "unspecified: declare it."},
            {"control": "demand", "role": "confounder", "meaning": "confounder: must stay."},
            {"control": "short", "role": "precision", "meaning": "precision: narrows intervals."},
        ],
        "mediators": ["visits"],
        "post_treatment": [
            {"control": "awareness", "role": "unspecified", "tested": true, "flagged": true,
             "moves_with_spend": true, "lagged": test(0.412, 0.0049, true, &["tv"]),
             "contemporaneous": test(0.55, 0.00056, true, &["tv", "video"])},
            {"control": "demand", "role": "confounder", "tested": true, "flagged": false,
             "moves_with_spend": true, "lagged": test(0.05, 0.6, false, &[]),
             "contemporaneous": test(0.7, 0.001, true, &["search"])},
            {"control": "short", "role": "precision", "tested": false,
             "skipped": "too few periods", "flagged": false, "moves_with_spend": false,
             "lagged": null, "contemporaneous": null},
        ],
        "seasonal_spend": [
            {"channel": "tv", "correlation": 0.123, "follows_seasonality": false},
            {"channel": "search", "correlation": 0.7249, "follows_seasonality": true},
            {"channel": "video", "correlation": null, "follows_seasonality": false},
        ],
        "confounder_declared": true,
        "warnings": ["control 'awareness' is predicted by earlier spend on tv, video: declare it under [[mediators]] with channels = [\"tv\", \"video\"] <b>"],
        "notes": [],
    })
}

#[test]
fn causal_section_formats_numbers_for_people() {
    assert_eq!(fmt_p(0.5), "0.50");
    assert_eq!(fmt_p(0.0049), "0.0049");
    assert_eq!(fmt_p(0.00056), "0.00056");
    assert_eq!(fmt_p(0.005), "0.005");
    assert_eq!(fmt_p(f64::NAN), "not computed");
    let s = section(&checks());
    assert_eq!(s.roles.len(), 3);
    assert_eq!(s.role_meanings.len(), 3);
    assert_eq!(s.mediators, ["visits"]);
    let [a, d, short] = &s.tests[..] else {
        panic!("{:?}", s.tests)
    };
    assert_eq!(a.lagged, "0.41 (p = 0.0049)");
    assert_eq!(a.same_period, "0.55 (p = 0.00056)");
    assert_eq!(a.channels, "tv, video");
    assert!(a.flagged && a.finding.contains("may be a mediator"));
    assert_eq!(d.channels, "search");
    assert_eq!(d.finding, "moves with spend, as a confounder does");
    assert_eq!(short.lagged, "");
    assert_eq!(short.finding, "not tested: too few periods");
    assert_eq!(s.seasonal[1].r, "0.72");
    assert!(s.seasonal[1].follows);
    assert!(
        s.seasonal[2].r.starts_with("not defined"),
        "{}",
        s.seasonal[2].r
    );
    assert_eq!(s.seasonal_threshold, "0.50");
}

/// The smallest context the templates render with, plus `causal` when given.
fn context(causal: Option<serde_json::Value>) -> serde_json::Value {
    serde_json::json!({
        "model_name": "m",
        "target": "sales",
        "diag": {"passed": true, "max_rhat": 1.0, "min_ess_bulk": 900.0,
                 "sampler": {"divergences": 0, "chains": 4, "draws_per_chain": 10, "ebfmi": []},
                 "train": {"r2": 0.9, "mape": 5.0, "coverage": 0.9},
                 "gates": [], "parameters": []},
        "interval_pct": "94",
        "channels": [],
        "sampler": {"chains": 4, "tune": 10, "draws": 10},
        "seed": 1,
        "stages": [],
        "summary_text": [],
        "status": {"class": "ok", "text": "All diagnostic gates passed", "warnings": []},
        "decisions": null,
        "scales": {"target": 1.0},
        "causal": causal.map(|c| serde_json::to_value(section(&c)).expect("section")),
    })
}

#[test]
fn causal_section_in_the_model_card() {
    let card = render_model_card(&context(Some(checks()))).expect("card");
    assert!(
        card.contains(
            "\n## Causal structure\n\n- Controls and their roles: awareness (unspecified), demand \
             (confounder), short (precision)\n- unspecified: declare it.\n- confounder: must stay.\n"
        ),
        "{card}"
    );
    assert!(
        card.contains("- Mediators modelled with the target: visits\n"),
        "{card}"
    );
    // Messages are escaped as Markdown: no raw HTML, brackets kept literal.
    assert!(card.contains("- **Warning:** control 'awareness' is predicted by earlier spend on tv, video: declare it under \\[\\[mediators\\]\\]"), "{card}");
    assert!(!card.contains("<b>"), "{card}");
    let old = render_model_card(&context(None)).expect("card");
    assert!(!old.contains("Causal structure"), "{old}");
    assert!(old.contains("## Assumptions and limitations"));
}

#[test]
fn causal_section_in_the_report() {
    let html = render_report(&context(Some(checks()))).expect("report");
    for needle in [
        "<h2 id=\"causal\">Causal structure</h2>",
        "id=\"causal-status\"",
        "1 control(s) may be mediators",
        "<li>confounder: must stay.</li>",
        "<td style=\"text-align: left\">unspecified</td><td>0.41 (p = 0.0049)</td><td>0.55 (p = 0.00056)</td><td>not run: no channel is flighted</td><td style=\"text-align: left\">tv, video</td>",
        "<b>awareness</b>",
        "earlier spend predicts it: may be a mediator",
        "not tested: too few periods",
        "<td>search</td><td><b>0.72</b></td>",
        "(not tested as controls): visits.",
        "channels = [&quot;tv&quot;, &quot;video&quot;] &lt;b&gt;",
    ] {
        assert!(html.contains(needle), "report lacks {needle}");
    }
    let old = render_report(&context(None)).expect("report");
    assert!(!old.contains("Causal structure"));
}
