//! Audit tools: `mmm inspect RUN` (lineage of every stage, every hash verified) and
//! `mmm diff RUN_A RUN_B` (spec, data and result changes between two runs).

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use mmm_core::verify::{Lineage, short, verify_run};
use serde::Serialize;

/// `mmm inspect RUN`: print the lineage and verify the whole chain. Exit code 4 on any gap:
/// a required stage missing, a manifest missing or unreadable, an output changed, missing or
/// unlisted, an upstream link broken, an input that differs from its upstream output or
/// changed since, a stage made from another spec, an incomplete stage.
pub fn inspect(run: &Path, json: bool) -> Result<u8> {
    let l = verify_run(run);
    if json {
        println!("{}", serde_json::to_string_pretty(&l)?);
    } else {
        print_lineage(&l);
    }
    Ok(if l.verified { 0 } else { 4 })
}

fn print_lineage(l: &Lineage) {
    println!(
        "run {}  spec sha256 {}",
        l.run,
        l.spec_sha256.as_deref().unwrap_or("(missing)")
    );
    for s in &l.stages {
        println!(
            "{:<9} {} {} ({}), {}, finished {}, {:.3} s{}{}",
            s.stage,
            s.crate_name,
            s.crate_version,
            s.directory,
            s.status,
            s.finished_at,
            s.wall_seconds,
            s.seed.map(|v| format!(", seed {v}")).unwrap_or_default(),
            if s.spec_matches { "" } else { ", OTHER SPEC" }
        );
        for u in &s.upstream {
            let state = if u.linked { "Linked" } else { "BROKEN" };
            println!("  up  {state}  {}  {}", short(&u.manifest_sha256), u.stage);
        }
        for i in &s.inputs {
            println!("  in  {:?}  {}  {}", i.state, short(&i.sha256), i.path);
        }
        for o in &s.outputs {
            println!("  out {:?}  {}  {}", o.state, short(&o.sha256), o.path);
        }
    }
    if l.verified {
        println!(
            "verified: every stage present, chained to its upstream stages and made from the \
             run's spec; every output and input hash verified"
        );
    } else {
        for p in &l.problems {
            println!("PROBLEM: {p}");
        }
        println!("NOT verified: {} problem(s)", l.problems.len());
    }
}

fn spec_keys(run: &Path) -> Result<BTreeMap<String, String>> {
    let path = run.join("spec.toml");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    mmm_core::lineage::spec_keys(&text).with_context(|| format!("{}: not TOML", path.display()))
}

#[derive(Debug, Serialize)]
struct SpecChange {
    key: String,
    a: Option<String>,
    b: Option<String>,
}

#[derive(Debug, Serialize)]
struct RunDiff {
    run_a: String,
    run_b: String,
    spec_changes: Vec<SpecChange>,
    data: mmm_contracts::drift::TableDiff,
    results: Option<mmm_diagnostics::compare::Refresh>,
    results_note: Option<String>,
}

/// `mmm diff RUN_A RUN_B`: spec changes, data changes (rows added or removed, history changed,
/// drift) and result changes per channel (as `mmm compare`).
pub fn diff(a: &Path, b: &Path, json: bool) -> Result<u8> {
    let (ka, kb) = (spec_keys(a)?, spec_keys(b)?);
    let mut keys: Vec<&String> = ka.keys().chain(kb.keys()).collect();
    keys.sort();
    keys.dedup();
    let spec_changes: Vec<SpecChange> = keys
        .into_iter()
        .filter(|k| ka.get(*k) != kb.get(*k))
        .map(|k| SpecChange {
            key: k.clone(),
            a: ka.get(k).cloned(),
            b: kb.get(k).cloned(),
        })
        .collect();
    // Each table is checked against its validate manifest before it is decoded.
    for run in [a, b] {
        mmm_core::Upstream::open(&run.join("validate"), "validate")?
            .read_verified("table.parquet")?;
    }
    let table = |r: &Path| r.join("validate").join("table.parquet");
    let data = mmm_contracts::drift::diff_tables(&table(a), &table(b))?;
    let (results, results_note) =
        match mmm_diagnostics::compare::compare_runs(&[a.to_path_buf(), b.to_path_buf()]) {
            Ok(mut c) => (c.refreshes.pop(), None),
            Err(e) => (None, Some(e.to_string())),
        };
    let d = RunDiff {
        run_a: a.display().to_string(),
        run_b: b.display().to_string(),
        spec_changes,
        data,
        results,
        results_note,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&d)?);
        return Ok(0);
    }
    println!("{} -> {}", d.run_a, d.run_b);
    println!("spec: {} change(s)", d.spec_changes.len());
    for c in &d.spec_changes {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".into());
        println!("  {}: {} -> {}", c.key, show(&c.a), show(&c.b));
    }
    println!(
        "data: {} row(s) added{}, {} removed",
        d.data.rows_added,
        d.data
            .added_span
            .as_ref()
            .map(|(f, l)| format!(" ({f} .. {l})"))
            .unwrap_or_default(),
        d.data.rows_removed
    );
    for c in &d.data.columns {
        if c.changed_periods > 0 || c.psi > 0.2 {
            println!(
                "  {}: {} past period(s) changed, PSI {:.3}",
                c.column, c.changed_periods, c.psi
            );
        }
    }
    for f in &d.data.findings {
        println!("  {f}");
    }
    match (&d.results, &d.results_note) {
        (Some(r), _) => {
            println!("results per channel (ROAS mean [interval], media share):");
            for ch in &r.channels {
                println!("  {ch}");
            }
            for p in r.parameters.iter().filter(|p| p.sign_flip) {
                println!("  parameter {} flipped sign", p.parameter);
            }
        }
        (None, Some(note)) => println!("results: not compared ({note})"),
        (None, None) => {}
    }
    Ok(0)
}
