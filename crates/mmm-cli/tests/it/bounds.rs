//! Inputs beyond what the pipeline can hold, refused with a clear error and the right exit
//! code instead of NaN results, a hang, an abort or a clobbered output: huge cell values,
//! millions of findings, FIFOs and devices, malformed CSV, huge sizes in flags, plan files and
//! specs, and batch entity names that collide with the batch's outputs.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::{fixture, mmm_os, stderr};

/// `mmm validate --spec fixtures/bad/spec.toml --data DATA --out OUT EXTRA...` (not quiet:
/// the terminal output is part of what is checked).
fn validate(data: &Path, out: &Path, extra: &[&OsStr]) -> Output {
    let spec = fixture("bad/spec.toml");
    let mut args: Vec<&OsStr> = vec![
        "validate".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        data.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ];
    args.extend_from_slice(extra);
    mmm_os(args)
}

/// Runs `mmm ARGS`, killed and failed after 30 s: a read that blocks cannot hang the suite.
fn mmm_within_30s(args: &[&OsStr]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mmm"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mmm starts");
    let start = Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("mmm {args:?} still running after 30 s (blocked on its input?)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("output")
}

/// fixtures/bad/good.csv with its data rows repeated `times` times (each week `times` times).
fn repeated_weeks(path: &Path, times: usize) -> usize {
    let text = std::fs::read_to_string(fixture("bad/good.csv")).expect("good.csv");
    let mut lines = text.lines();
    let header = lines.next().expect("header");
    let rows: Vec<&str> = lines.collect();
    let mut out = format!("{header}\n");
    for _ in 0..times {
        for r in &rows {
            out.push_str(r);
            out.push('\n');
        }
    }
    std::fs::write(path, out).expect("write");
    rows.len()
}

fn contract(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("contract.json")).expect("contract.json"))
        .expect("json")
}

#[test]
fn values_beyond_1e15_are_rejected_by_the_contract_with_their_cell() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(fixture("bad/good.csv")).expect("good.csv");
    let data = dir.path().join("huge.csv");
    std::fs::write(&data, text.replace("2021-01-18,1020,", "2021-01-18,1e308,")).expect("write");
    let out = dir.path().join("v");
    let o = validate(&data, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("huge.csv")
            && err.contains("error[value_out_of_range] column 'y' row 3 period 2021-01-18"),
        "{err}"
    );
    let c = contract(&out);
    let hits: Vec<&serde_json::Value> = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "value_out_of_range")
        .collect();
    assert_eq!(hits.len(), 1, "{c}");
    assert_eq!(
        (&hits[0]["column"], &hits[0]["row"]),
        (&"y".into(), &3.into())
    );
    assert_eq!(c["source"], "huge.csv");
    assert!(!out.join("table.parquet").exists());
}

#[test]
fn findings_are_capped_per_rule_counted_and_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("repeated.csv");
    let weeks = repeated_weeks(&data, 300);
    let duplicates = weeks * 300 - weeks;
    let out = dir.path().join("v");
    let o = validate(&data, &out, &[]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));

    // contract.json lists the first 20 and counts the rest; its size stays bounded.
    let size = std::fs::metadata(out.join("contract.json"))
        .expect("contract")
        .len();
    assert!(size < 64 * 1024, "contract.json is {size} bytes");
    let c = contract(&out);
    let listed = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["rule"] == "duplicate_period")
        .count();
    assert_eq!(listed, 20);
    let rule = c["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .find(|r| r["rule"] == "duplicate_period")
        .expect("duplicate_period counted");
    assert_eq!(rule["count"], duplicates);
    assert_eq!(rule["omitted"], duplicates - 20);
    assert_eq!(rule["severity"], "error");

    // The terminal: the count with separators, the omitted ones summarized, each listed
    // finding once (it was logged and then repeated in the error).
    let err = stderr(&o);
    assert!(err.contains("(3,588 error(s))"), "{err}");
    assert!(
        err.contains("... and 3,568 more duplicate_period finding(s)"),
        "{err}"
    );
    let first = &c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "duplicate_period")
        .expect("listed")["row"];
    let line = format!("error[duplicate_period] column 'date_week' row {first} ");
    assert_eq!(err.matches(&line).count(), 1, "{line} in:\n{err}");
    assert!(err.lines().count() < 100, "{} lines", err.lines().count());
}

#[test]
fn warnings_of_a_passing_input_are_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("v");
    let o = validate(&fixture("bad/spike.csv"), &out, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let c = contract(&out);
    let spike = c["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["rule"] == "spike")
        .expect("a spike warning");
    let line = format!(
        "warning[spike] column '{}' row {} ",
        spike["column"].as_str().expect("column"),
        spike["row"]
    );
    assert_eq!(
        stderr(&o).matches(&line).count(),
        1,
        "{line} in:\n{}",
        stderr(&o)
    );
}

#[cfg(unix)]
fn mkfifo(path: &Path) -> PathBuf {
    let made = Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    path.to_path_buf()
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_as_inputs_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = mkfifo(&dir.path().join("pipe.csv"));
    let fifo_parquet = mkfifo(&dir.path().join("pipe.parquet"));
    let spec = fixture("bad/spec.toml");
    let good = fixture("bad/good.csv");
    let zero = PathBuf::from("/dev/zero");
    let cases: [(&str, &Path, &Path, &str); 5] = [
        (
            "--data",
            fifo.as_path(),
            fifo.as_path(),
            "a named pipe (FIFO)",
        ),
        (
            "--calendar",
            good.as_path(),
            fifo.as_path(),
            "a named pipe (FIFO)",
        ),
        (
            "--campaign-map",
            good.as_path(),
            fifo.as_path(),
            "a named pipe (FIFO)",
        ),
        (
            "--previous",
            good.as_path(),
            fifo_parquet.as_path(),
            "a named pipe (FIFO)",
        ),
        ("--previous", good.as_path(), zero.as_path(), "a device"),
    ];
    for (k, (flag, data, input, kind)) in cases.iter().enumerate() {
        let out = dir.path().join(format!("v{k}"));
        let mut args: Vec<&OsStr> = vec![
            "validate".as_ref(),
            "--spec".as_ref(),
            spec.as_os_str(),
            "--data".as_ref(),
            data.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--quiet".as_ref(),
        ];
        if *flag != "--data" {
            args.extend([OsStr::new(flag), input.as_os_str()]);
        }
        let o = mmm_within_30s(&args);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", stderr(&o));
        let err = stderr(&o);
        assert!(
            err.contains(&format!(
                "{}: is {kind}, not a regular file",
                input.display()
            )),
            "{flag}: {err}"
        );
    }
    // `mmm run` refuses it the same way.
    let run = dir.path().join("run");
    let o = mmm_within_30s(&[
        "run".as_ref(),
        "--spec".as_ref(),
        spec.as_os_str(),
        "--data".as_ref(),
        fifo.as_os_str(),
        "--out".as_ref(),
        run.as_os_str(),
        "--quiet".as_ref(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("pipe.csv: is a named pipe"),
        "{}",
        stderr(&o)
    );
}

#[cfg(unix)]
#[test]
fn a_fifo_spec_or_record_is_refused_without_reading_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fifo = mkfifo(&dir.path().join("pipe.toml"));
    let good = fixture("bad/good.csv");
    let out = dir.path().join("out");
    let refused = "not a regular file (a FIFO, device or directory cannot be read as an input)";
    let spec_cases: [&[&OsStr]; 2] = [
        &["spec".as_ref(), "check".as_ref(), fifo.as_os_str()],
        &[
            "validate".as_ref(),
            "--spec".as_ref(),
            fifo.as_os_str(),
            "--data".as_ref(),
            good.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
        ],
    ];
    for args in spec_cases {
        let o = mmm_within_30s(args);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(refused), "{args:?}: {}", stderr(&o));
    }
    let o = mmm_within_30s(&[
        "review".as_ref(),
        "--record".as_ref(),
        fifo.as_os_str(),
        "--actuals".as_ref(),
        good.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    // A decision record is not data under contract: like any unreadable record, exit 1.
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains(refused), "{}", stderr(&o));
    assert!(!out.exists(), "nothing is written for a refused input");
}

#[test]
fn malformed_csv_is_rejected_input_and_usage_errors_stay_1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header = "date_week,y,x1,event_1\n";
    let cases: [(&str, Vec<u8>); 3] = [
        (
            "ragged.csv",
            format!("{header}2021-01-04,1,2,0\n2021-01-11,1,2\n").into_bytes(),
        ),
        (
            "utf8.csv",
            [header.as_bytes(), b"2021-01-04,1,\xff\xfe,0\n".as_slice()].concat(),
        ),
        (
            "quote.csv",
            format!("{header}2021-01-04,1,\"2,0\n2021-01-11,1,2,0\n").into_bytes(),
        ),
    ];
    for (name, bytes) in cases {
        let data = dir.path().join(name);
        std::fs::write(&data, bytes).expect("write");
        let o = validate(&data, &dir.path().join(format!("v_{name}")), &[]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", stderr(&o));
        assert!(stderr(&o).contains(name), "{name}: {}", stderr(&o));
    }
    // Usage errors: an unknown flag, a flag that is not a number, a spec that does not exist.
    let good = fixture("bad/good.csv");
    let out = dir.path().join("usage");
    let o = validate(&good, &out, &["--no-such-flag".as_ref()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let o = mmm_os([
        "validate".as_ref(),
        "--spec".as_ref(),
        dir.path().join("missing.toml").as_os_str(),
        "--data".as_ref(),
        good.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ] as [&OsStr; 7]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(mmm_os(["--help"]).status.code(), Some(0));
}

#[test]
fn huge_weeks_are_refused_before_anything_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("missing");
    for (weeks, needle) in [
        (
            "18446744073709551615",
            "--weeks 18446744073709551615: a plan covers 1 to 520 weeks",
        ),
        ("521", "--weeks 521: a plan covers 1 to 520 weeks"),
        ("0", "--weeks 0: a plan covers 1 to 520 weeks"),
        ("99999999999999999999999", "--weeks"),
        ("1e12", "--weeks"),
    ] {
        let o = mmm_within_30s(&[
            "optimize".as_ref(),
            "--spec".as_ref(),
            fixture("pymc_example/spec.toml").as_os_str(),
            "--features".as_ref(),
            missing.as_os_str(),
            "--fit".as_ref(),
            missing.as_os_str(),
            "--weeks".as_ref(),
            weeks.as_ref(),
            "--out".as_ref(),
            dir.path().join("o").as_os_str(),
        ]);
        assert_eq!(o.status.code(), Some(1), "{weeks}: {}", stderr(&o));
        assert!(stderr(&o).contains(needle), "{weeks}: {}", stderr(&o));
    }
}

/// `mmm spec check` on the fixture spec with `from` replaced by `to` and `extra` appended;
/// returns (exit code, stdout).
fn spec_check(dir: &Path, edits: &[(&str, &str)], extra: &str) -> (Option<i32>, String) {
    let mut text = std::fs::read_to_string(fixture("pymc_example/spec.toml")).expect("spec");
    for (from, to) in edits {
        assert!(text.contains(from), "{from}");
        text = text.replace(from, to);
    }
    let path = dir.join("spec.toml");
    std::fs::write(&path, text + extra).expect("write");
    let o = mmm_within_30s(&["spec".as_ref(), "check".as_ref(), path.as_os_str()]);
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}

#[test]
fn spec_sizes_have_maximums_and_the_draws_a_memory_estimate() {
    let dir = tempfile::tempdir().expect("tempdir");
    // 10^10 draws passed `spec check` and then aborted on allocation.
    let (code, out) = spec_check(dir.path(), &[("draws = 1000", "draws = 10000000000")], "");
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("sampler.draws: must be 1..=1000000, got 10000000000"),
        "{out}"
    );
    assert!(
        out.contains("sampler.draws: the posterior draws would need about 4470.3 GiB (4 chains x 10000000000 draws x 15 parameters x 8 bytes); at most 8 GiB"),
        "{out}"
    );

    // Within the per-chain maximum, but 256 chains x 10^6 draws x 15 parameters x 8 bytes.
    let (code, out) = spec_check(
        dir.path(),
        &[
            ("draws = 1000", "draws = 1000000"),
            ("chains = 4", "chains = 256"),
        ],
        "",
    );
    assert_eq!(code, Some(1), "{out}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(
        out.contains("about 28.6 GiB (256 chains x 1000000 draws x 15 parameters"),
        "{out}"
    );

    let (code, out) = spec_check(
        dir.path(),
        &[("tune = 1000", "tune = 10000000000")],
        "\n[decisions.optimizer]\nhorizon_weeks = 100000\n",
    );
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("sampler.tune: must be 0..=1000000"), "{out}");
    assert!(
        out.contains("decisions.optimizer.horizon_weeks: must be 1..=520 (10 years), got 100000"),
        "{out}"
    );

    // The fixture's own sizes are fine.
    let (code, out) = spec_check(dir.path(), &[], "");
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn batch_entity_names_that_collide_with_its_outputs_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    std::fs::copy(fixture("pymc_example/spec.toml"), root.join("spec.toml")).expect("spec");
    std::fs::copy(fixture("pymc_example/data.csv"), root.join("data.csv")).expect("data");
    let entities = root.join("entities.csv");
    std::fs::write(
        &entities,
        "entity,data\nbatch_summary.parquet,data.csv\nBatch_Summary.JSON,data.csv\n..,data.csv\n.,data.csv\na/b,data.csv\nAcme,data.csv\nacme,data.csv\n",
    )
    .expect("entities");
    let out = root.join("out");
    let o = mmm_within_30s(&[
        "batch".as_ref(),
        "--entities".as_ref(),
        entities.as_os_str(),
        "--spec".as_ref(),
        root.join("spec.toml").as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    for needle in [
        "row 1, column entity: entity name 'batch_summary.parquet' is reserved",
        "row 2, column entity: entity name 'Batch_Summary.JSON' is reserved",
        "row 3, column entity: entity name '..' must not start with '.'",
        "row 4, column entity: entity name '.' must not start with '.'",
        "row 5, column entity: entity name 'a/b' character '/' is not allowed",
        "row 7, column entity: entity 'acme' appears twice",
    ] {
        assert!(err.contains(needle), "{needle} in:\n{err}");
    }
    // Refused before anything ran or was written.
    assert!(
        !out.exists(),
        "{:?}",
        std::fs::read_dir(&out).map(|d| d.count())
    );
}
