//! The report of the fixture run (fixtures/pymc_example) with an optimizer and a scenario run,
//! made by the workspace's `mmm` binary: every section and chart is there, and every table
//! cell is written for people.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The `mmm` binary of the same build as this test (`target/release/mmm` next to `deps/`).
fn mmm() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("mmm"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} is missing: build the workspace first (cargo build --release --workspace)",
        bin.display()
    );
    bin
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/pymc_example")
        .join(name)
}

/// `mmm ARGS`, which must exit with 0 (or 3: a gate failed, the run still completes).
fn mmm_ok(args: &[&std::ffi::OsStr]) {
    let o = Command::new(mmm()).args(args).output().expect("run mmm");
    assert!(
        matches!(o.status.code(), Some(0) | Some(3)),
        "mmm {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// The fixture pipeline with `spec` into `run`, then optimize, scenario and the report again.
fn full_run(spec: &Path, run: &Path, extra: &[&str]) {
    let os = std::ffi::OsStr::new;
    let data = fixture("data.csv");
    let mut args = vec![
        os("run"),
        os("--quiet"),
        os("--spec"),
        spec.as_os_str(),
        os("--data"),
        data.as_os_str(),
        os("--out"),
        run.as_os_str(),
    ];
    args.extend(extra.iter().map(|a| os(a)));
    mmm_ok(&args);
    let (frozen, features, fit) = (run.join("spec.toml"), run.join("features"), run.join("fit"));
    let common = |stage: &'static str, out: &Path| -> Vec<std::ffi::OsString> {
        [
            os(stage),
            os("--quiet"),
            os("--spec"),
            frozen.as_os_str(),
            os("--features"),
            features.as_os_str(),
            os("--fit"),
            fit.as_os_str(),
            os("--out"),
            out.as_os_str(),
        ]
        .iter()
        .map(|s| s.to_os_string())
        .collect()
    };
    let optimize = common("optimize", &run.join("optimize"));
    mmm_ok(&optimize.iter().map(|s| s.as_os_str()).collect::<Vec<_>>());
    let plans = run.join("plans.csv");
    let mut csv = String::from("scenario,week,x1,x2\n");
    for (name, a, b) in [("more_x1", 0.25, 0.1), ("even", 0.17, 0.17)] {
        for w in 1..=12 {
            csv.push_str(&format!("{name},{w},{a},{b}\n"));
        }
    }
    std::fs::write(&plans, csv).expect("plans");
    let mut scenario = common("scenario", &run.join("scenario"));
    scenario.extend([os("--plans").to_os_string(), plans.into_os_string()]);
    mmm_ok(&scenario.iter().map(|s| s.as_os_str()).collect::<Vec<_>>());
    mmm_ok(&[
        os("report"),
        os("--quiet"),
        os("--force"),
        os("--run"),
        run.as_os_str(),
    ]);
}

/// The text of every `<td>` (tags stripped), leaving out cells that hold `<code>` (hashes).
fn cells(html: &str) -> Vec<String> {
    html.split("<td")
        .skip(1)
        .filter_map(|c| c.find('>').map(|at| &c[at + 1..]))
        .filter_map(|c| c.find("</td>").map(|end| &c[..end]))
        .filter(|c| !c.contains("<code>"))
        .map(|c| {
            let mut text = String::new();
            let mut in_tag = false;
            for ch in c.chars() {
                match ch {
                    '<' => in_tag = true,
                    '>' => in_tag = false,
                    c if !in_tag => text.push(c),
                    _ => {}
                }
            }
            text.trim().to_owned()
        })
        .collect()
}

/// Significant digits of the longest number in `text` (`278,027` → 6, `0.000199` → 3).
fn max_significant_digits(text: &str) -> usize {
    let mut best = 0;
    for token in text.split(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',')) {
        let digits: String = token.chars().filter(char::is_ascii_digit).collect();
        best = best.max(digits.trim_start_matches('0').len());
    }
    best
}

fn assert_cells_for_people(html: &str) {
    let cells = cells(html);
    assert!(cells.len() > 100, "{} cells", cells.len());
    for c in &cells {
        let lower = c.to_lowercase();
        for bad in ["n/a", "nan", "inf"] {
            let hit = lower.match_indices(bad).any(|(i, _)| {
                !lower[i + bad.len()..].starts_with(|ch: char| ch.is_alphabetic())
                    && !lower[..i].ends_with(|ch: char| ch.is_alphabetic())
            });
            assert!(!hit, "cell shows {bad:?}: {c:?}");
        }
        assert_ne!(c, "—", "a cell without a value or a reason");
        assert!(
            max_significant_digits(c) <= 6,
            "more than 6 significant digits: {c:?}"
        );
    }
}

fn assert_sections_and_charts(html: &str) {
    for id in [
        "s-overview",
        "s-fit",
        "s-contributions",
        "s-channels",
        "s-curves",
        "s-optimizer",
        "s-scenarios",
        "s-refresh",
        "s-priors",
        "s-diagnostics",
        "s-provenance",
    ] {
        assert!(
            html.contains(&format!("<section class=\"sec\" id=\"{id}\">")),
            "section {id} missing"
        );
    }
    let figures: Vec<&str> = html.split("<figure id=\"fig-").skip(1).collect();
    let ids: Vec<&str> = figures
        .iter()
        .map(|f| &f[..f.find('"').expect("id")])
        .collect();
    assert!(ids.len() >= 12, "{} charts: {ids:?}", ids.len());
    for want in [
        "fit",
        "residuals",
        "residual-acf",
        "decomposition",
        "waterfall",
        "share",
        "roas",
        "marginal-roas",
        "response-curves",
        "adstock",
        "allocation-chart",
        "outcome-chart",
        "scenario-outcomes",
        "prior-posterior-chart",
        "convergence",
        "ranks",
        "pareto-k",
    ] {
        assert!(ids.contains(&want), "chart {want} missing from {ids:?}");
    }
    for f in &figures {
        assert!(f.contains("viewBox=\"0 0 "), "an SVG without viewBox");
        let caption = &f[f.find("<figcaption>").expect("caption") + 12
            ..f.find("</figcaption>").expect("caption end")];
        assert!(
            caption.len() > 40,
            "a chart without a reading guide: {caption:?}"
        );
    }
}

#[test]
fn fixture_report_has_every_section_chart_and_readable_cells() {
    let dir = tempfile::tempdir().expect("tmp");
    let run = dir.path().join("run");
    full_run(&fixture("spec.toml"), &run, &[]);
    let html = std::fs::read_to_string(run.join("report/report.html")).expect("report");
    assert_sections_and_charts(&html);
    assert_cells_for_people(&html);
    // The fixture's PSIS-LOO has Pareto k above 0.7: the banner is amber, not green.
    let loo_warns = html.contains("max Pareto k 1.07");
    if loo_warns {
        assert!(
            html.contains("<div class=\"banner warn\" id=\"status\">"),
            "LOO warning under a green banner"
        );
        assert!(!html.contains("no check raised a warning"));
    }
    // Unconstrained controls are checked against the full fit's sign, and say so.
    assert!(!html.contains("Expected sign"));
    assert!(html.contains("sign; the spec leaves it free)"));
    // Both definitions of the current plan are on the page.
    assert!(
        html.contains("id=\"current-plan-optimizer\"")
            && html.contains("id=\"current-plan-scenarios\"")
    );
    // Self-contained: no script, no external resource.
    for bad in ["<script", "<link ", "src=\"http", "href=\"http", "@import"] {
        assert!(!html.contains(bad), "{bad}");
    }
}

/// `mmm run --no-refits` of `spec` on the fixture data into `run`; its report.html.
fn report_of(spec: &std::path::Path, run: &std::path::Path) -> String {
    let os = std::ffi::OsStr::new;
    let data = fixture("data.csv");
    mmm_ok(&[
        os("run"),
        os("--quiet"),
        os("--no-refits"),
        os("--spec"),
        spec.as_os_str(),
        os("--data"),
        data.as_os_str(),
        os("--out"),
        run.as_os_str(),
    ]);
    std::fs::read_to_string(run.join("report/report.html")).expect("report")
}

#[test]
fn roi_table_is_shown_without_a_decisions_table() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(fixture("spec.toml")).expect("spec");
    let cut = text.find("[decisions]").expect("fixture has [decisions]");
    let spec = dir.path().join("spec.toml");
    std::fs::write(&spec, &text[..cut]).expect("write spec");
    let html = report_of(&spec, &dir.path().join("run"));
    assert!(html.contains("<table id=\"roi-table\">"));
    assert!(html.contains("not set: the default 1 treats one unit of y as one unit of money"));
    // Without optimizer and scenario runs, their sections say why they are empty.
    assert!(html.contains("Not applicable: no optimizer run for this fit"));
    assert!(html.contains("Not applicable: no scenario run for this fit"));
    assert_cells_for_people(&html);
}

#[test]
fn money_is_written_in_the_spec_currency() {
    let dir = tempfile::tempdir().expect("tmp");
    let text = std::fs::read_to_string(fixture("spec.toml")).expect("spec");
    let spec = dir.path().join("spec.toml");
    std::fs::write(
        &spec,
        text.replace("[decisions]\n", "[decisions]\ncurrency = \"$\"\n"),
    )
    .expect("write spec");
    let run = dir.path().join("run");
    let html = report_of(&spec, &run);
    assert!(
        html.contains("<th>Spend ($)</th>"),
        "spend header names the currency"
    );
    assert!(
        html.contains("<tr><td>x1</td><td>$55.3</td>"),
        "spend cells carry it"
    );
    assert!(!html.contains("the spec names no currency"));
    assert!(
        std::fs::read_to_string(run.join("report/model_card.md"))
            .expect("card")
            .contains("| x1 | $55.3 |")
    );
}
