//! `mmm batch`: many entities, failures isolated, resumable, paths kept inside the roots.

use std::path::Path;

use crate::{fixture, mmm_os, stderr};

/// A shared table with a `brand` column: the fixture data once per brand.
fn write_shared_table(path: &Path, brands: &[&str]) {
    let text = std::fs::read_to_string(fixture("pymc_example/data.csv")).expect("fixture");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    let mut out = format!("brand,{header}\n");
    for b in brands {
        for r in &rows {
            out.push_str(&format!("{b},{r}\n"));
        }
    }
    std::fs::write(path, out).expect("write shared table");
}

/// The fixture data with one spend made negative.
fn write_broken_data(path: &Path) {
    let text = std::fs::read_to_string(fixture("pymc_example/data.csv")).expect("fixture");
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let col = lines[0].split(',').position(|c| c == "x1").expect("x1");
    let mut cells: Vec<String> = lines[5].split(',').map(str::to_string).collect();
    cells[col] = "-3".into();
    lines[5] = cells.join(",");
    std::fs::write(path, lines.join("\n") + "\n").expect("write broken data");
}

fn batch(entities: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let root = entities.parent().expect("dir");
    let mut args: Vec<std::ffi::OsString> = vec![
        "batch".into(),
        "--entities".into(),
        entities.into(),
        "--spec".into(),
        root.join("spec.toml").into(),
        "--table".into(),
        root.join("shared.csv").into(),
        "--out".into(),
        out.into(),
        "--no-refits".into(),
        "--workers".into(),
        "2".into(),
    ];
    args.extend(extra.iter().map(Into::into));
    mmm_os(args)
}

fn summary(out: &Path) -> arrow::record_batch::RecordBatch {
    let path = out.join("batch_summary.parquet");
    mmm_core::read_parquet_bytes(std::fs::read(&path).expect("summary"), &path).expect("parquet")
}

fn strings(b: &arrow::record_batch::RecordBatch, name: &str) -> Vec<String> {
    mmm_core::columns::string_column(b, name, Path::new("summary")).expect(name)
}

fn floats(b: &arrow::record_batch::RecordBatch, name: &str) -> Vec<f64> {
    mmm_core::columns::f64_column(b, name, Path::new("summary")).expect(name)
}

#[test]
fn batch_runs_every_entity_isolates_failures_refuses_escapes_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("in");
    std::fs::create_dir_all(&root).expect("mkdir");
    std::fs::copy(fixture("pymc_example/spec.toml"), root.join("spec.toml")).expect("spec");
    std::fs::copy(fixture("pymc_example/data.csv"), root.join("alpha.csv")).expect("data");
    write_shared_table(&root.join("shared.csv"), &["acme", "zeta"]);
    write_broken_data(&root.join("broken.csv"));
    // A file outside the input root, reachable only through a link inside it.
    let outside = dir.path().join("secret.csv");
    std::fs::copy(fixture("pymc_example/data.csv"), &outside).expect("outside");
    std::os::unix::fs::symlink(&outside, root.join("link.csv")).expect("symlink");
    let entities = root.join("entities.csv");
    std::fs::write(
        &entities,
        "entity,data,filter,spec,overrides\n\
         alpha,alpha.csv,,,\n\
         zeta,,brand=zeta,,\n\
         gamma,alpha.csv,,spec.toml,sampler.seed=7; channels.0.adstock.l_max=6\n\
         broken,broken.csv,,,\n\
         climber,../secret.csv,,,\n\
         absolute,/etc/hostname,,,\n\
         linked,link.csv,,,\n\
         spec_escape,alpha.csv,,../secret.csv,\n",
    )
    .expect("entities");
    let out = dir.path().join("out");

    let first = batch(&entities, &out, &[]);
    assert_eq!(first.status.code(), Some(5), "{}", stderr(&first));
    let s = summary(&out);
    let names = strings(&s, "entity");
    let status = strings(&s, "status");
    let message = strings(&s, "message");
    let by_name = |n: &str| names.iter().position(|x| x == n).expect(n);
    assert_eq!(names.len(), 8, "every row is in the summary, in file order");
    for ok in ["alpha", "zeta", "gamma"] {
        let i = by_name(ok);
        assert_eq!(status[i], "ok", "{ok}: {}", message[i]);
        assert_eq!(strings(&s, "gates")[i], "pass");
        assert!(out.join(ok).join("report").join("manifest.json").is_file());
    }
    let i = by_name("broken");
    assert_eq!(status[i], "rejected");
    assert!(message[i].contains("negative_spend"), "{}", message[i]);
    for (name, needle) in [
        ("climber", "climbs out"),
        ("absolute", "is absolute"),
        ("linked", "outside the input root"),
        ("spec_escape", "climbs out"),
    ] {
        let i = by_name(name);
        assert_eq!(status[i], "refused", "{name}");
        assert!(message[i].contains(needle), "{name}: {}", message[i]);
        assert!(!out.join(name).exists(), "{name} wrote a run directory");
    }
    // Nothing but entity runs and the batch's own files under the output root.
    let mut written: Vec<String> = std::fs::read_dir(&out)
        .expect("out")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(
        written,
        [
            "_batch",
            "alpha",
            "batch_summary.json",
            "batch_summary.parquet",
            "broken",
            "gamma",
            "zeta"
        ]
    );

    // The filter selects exactly alpha's rows: same data, same seed, same draws and ROAS.
    let roas = floats(&s, "roas_mean[x1]");
    let (a, z, g) = (by_name("alpha"), by_name("zeta"), by_name("gamma"));
    assert_eq!(roas[a].to_bits(), roas[z].to_bits());
    assert_eq!(
        std::fs::read(out.join("alpha/fit/draws.parquet")).expect("a"),
        std::fs::read(out.join("zeta/fit/draws.parquet")).expect("z"),
    );
    // The overrides reached gamma's frozen spec and changed its fit.
    assert_ne!(roas[a].to_bits(), roas[g].to_bits());
    let frozen: toml::Table =
        toml::from_str(&std::fs::read_to_string(out.join("gamma/spec.toml")).expect("spec"))
            .expect("toml");
    assert_eq!(frozen["sampler"]["seed"].as_integer(), Some(7));
    assert_eq!(
        frozen["channels"][0]["adstock"]["l_max"].as_integer(),
        Some(6)
    );
    assert_eq!(
        frozen["channels"][1]["adstock"]["l_max"].as_integer(),
        Some(8)
    );
    assert!(
        roas.iter()
            .enumerate()
            .all(|(i, r)| r.is_finite() == [a, z, g].contains(&i))
    );

    // Rerun: every finished stage is fresh and skipped, nothing is rewritten.
    let manifest = std::fs::read(out.join("alpha/fit/manifest.json")).expect("manifest");
    let second = batch(&entities, &out, &[]);
    assert_eq!(second.status.code(), Some(5), "{}", stderr(&second));
    assert_eq!(
        std::fs::read(out.join("alpha/fit/manifest.json")).expect("manifest"),
        manifest
    );
    let log = std::fs::read_to_string(out.join("_batch/logs/alpha.log")).expect("log");
    for stage in [
        "validate", "features", "fit", "diagnose", "decide", "report",
    ] {
        assert!(
            log.lines()
                .any(|l| l.contains(stage) && l.contains("fresh, skipped")),
            "{stage} not skipped on rerun:\n{log}"
        );
    }
}

#[test]
fn an_entities_file_with_bad_names_is_refused_before_anything_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::copy(fixture("pymc_example/spec.toml"), root.join("spec.toml")).expect("spec");
    write_shared_table(&root.join("shared.csv"), &["acme"]);
    let entities = root.join("entities.csv");
    std::fs::write(
        &entities,
        "entity,filter\n../evil,brand=acme\nok,brand=acme\nok,brand=acme\n_batch,brand=acme\n",
    )
    .expect("entities");
    let out = root.join("out");
    let o = batch(&entities, &out, &[]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("row 1, column entity: entity name '../evil'"),
        "{err}"
    );
    assert!(
        err.contains("row 3, column entity: entity 'ok' appears twice"),
        "{err}"
    );
    assert!(
        err.contains("row 4, column entity: entity name '_batch'"),
        "{err}"
    );
    assert!(!out.exists(), "nothing may be written for a refused batch");
}

#[test]
fn entity_rows_may_name_a_calendar_inside_the_root() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("in");
    std::fs::create_dir_all(&root).expect("mkdir");
    // A spec whose event takes its dates from the calendar only.
    let spec = std::fs::read_to_string(fixture("pymc_example/spec.toml")).expect("spec")
        + "\n[[events]]\nname = \"promo\"\nlag = 1\n";
    std::fs::write(root.join("spec.toml"), spec).expect("spec");
    write_shared_table(&root.join("shared.csv"), &["acme"]);
    std::fs::write(
        root.join("holidays.csv"),
        "event,date\npromo,2018-11-23\npromo,2019-11-29\n",
    )
    .expect("calendar");
    std::fs::write(dir.path().join("outside.csv"), "event,date\n").expect("outside");
    let entities = root.join("entities.csv");
    std::fs::write(
        &entities,
        "entity,filter,calendar\n\
         with,brand=acme,holidays.csv\n\
         without,brand=acme,\n\
         escape,brand=acme,../outside.csv\n",
    )
    .expect("entities");
    let out = dir.path().join("out");
    let o = batch(&entities, &out, &[]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    let s = summary(&out);
    let (names, status, message) = (
        strings(&s, "entity"),
        strings(&s, "status"),
        strings(&s, "message"),
    );
    assert_eq!(names, ["with", "without", "escape"]);
    assert_eq!(status[0], "ok", "{}", message[0]);
    let contract: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("with/validate/contract.json")).expect("contract"),
    )
    .expect("json");
    assert_eq!(contract["calendar"]["source"], "holidays.csv");
    assert_eq!(status[1], "rejected");
    assert!(message[1].contains("event_without_dates"), "{}", message[1]);
    assert_eq!(status[2], "refused");
    assert!(message[2].contains("climbs out"), "{}", message[2]);
}
