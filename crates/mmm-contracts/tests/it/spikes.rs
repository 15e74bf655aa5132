//! The `spike` rule on spend: heavy-tailed, flighted spend (the normal shape of media plans)
//! does not fire; a data-entry spike (one week 100 times the usual) does. Warnings reach the
//! terminal once, one line per rule and column.

use std::path::Path;

use mmm_contracts::{Finding, Inputs, Severity, cap_findings, spend_spikes, warning_lines};
use mmm_core::spec::LoadedSpec;

/// splitmix64: a small deterministic generator for test series.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
}

/// 104 weeks of log-normal spend (median `median`, log-sd `sigma`); with `flighting`, flights
/// of 3-6 weeks on air alternate with 2-5 weeks off (zero spend).
fn spend(seed: u64, median: f64, sigma: f64, flighting: bool) -> Vec<f64> {
    let mut rng = Rng(seed);
    let mut on = Vec::new();
    let mut state = true;
    while on.len() < 104 {
        let k = if state {
            rng.range(3, 6)
        } else {
            rng.range(2, 5)
        };
        on.extend(std::iter::repeat_n(state || !flighting, k));
        state = !state;
    }
    on.truncate(104);
    on.into_iter()
        .map(|on| {
            let v = median * (sigma * rng.normal()).exp();
            if on { (100.0 * v).round() / 100.0 } else { 0.0 }
        })
        .collect()
}

/// The rule this replaces: |x - median| / (1.4826 MAD) > 5 on the raw values.
fn raw_mad_spikes(v: &[f64]) -> usize {
    let med = |mut x: Vec<f64>| {
        x.sort_by(f64::total_cmp);
        let n = x.len();
        if n % 2 == 1 {
            x[n / 2]
        } else {
            0.5 * (x[n / 2 - 1] + x[n / 2])
        }
    };
    let m = med(v.to_vec());
    let mad = med(v.iter().map(|x| (x - m).abs()).collect());
    if mad <= 0.0 {
        return 0;
    }
    v.iter()
        .filter(|x| ((*x - m) / (1.4826 * mad)).abs() > 5.0)
        .count()
}

#[test]
fn clean_heavy_tailed_flighted_spend_almost_never_has_spikes() {
    let (mut series, mut fired, mut raw) = (0, 0, 0);
    for seed in 1..=500 {
        for (k, sigma) in [0.5, 0.8, 1.1, 1.4].into_iter().enumerate() {
            let s = spend(10 * seed + k as u64, 5000.0, sigma, seed % 2 == 0);
            fired += usize::from(!spend_spikes(&s).is_empty());
            raw += raw_mad_spikes(&s);
            series += 1;
        }
    }
    assert_eq!(series, 2000);
    // About 1 in 1,000 clean series fires (a t tail beyond 4.5 sd, over 104 weeks).
    assert!(fired <= 6, "{fired} of {series} clean series fired");
    // The raw-scale rule it replaces fired on these clean series over and over.
    assert!(raw > 5000, "the raw rule fired {raw} times");
}

#[test]
fn one_week_of_100_times_the_usual_spend_is_a_spike() {
    for (sigma, at_least) in [(0.4, 398), (0.6, 396)] {
        let mut found = 0;
        for seed in 1..=400u64 {
            let mut s = spend(seed, 5000.0, sigma, seed % 2 == 0);
            let on: Vec<usize> = (0..104).filter(|&i| s[i] > 0.0).collect();
            let week = on[(seed as usize * 37) % on.len()];
            s[week] *= 100.0;
            let spikes = spend_spikes(&s);
            if spikes.iter().map(|f| f.index).eq([week]) {
                assert!(spikes[0].ratio >= 3.0 && spikes[0].z > 4.5, "{spikes:?}");
                found += 1;
            }
        }
        assert!(found >= at_least, "log-sd {sigma}: {found} of 400 found");
    }
    // A decimal point three places off shows even in very heavy-tailed spend.
    let mut s = spend(7, 5000.0, 1.1, true);
    let week = s.iter().position(|v| *v > 0.0).expect("on air");
    s[week] *= 1000.0;
    assert_eq!(
        spend_spikes(&s).iter().map(|f| f.index).collect::<Vec<_>>(),
        vec![week]
    );
}

#[test]
fn pulsing_bursts_and_constant_budgets_are_not_spikes_but_a_lone_10x_week_is() {
    // Always on at ~1,000 a week, with bursts of ~10,000 in 20% of the weeks.
    let mut rng = Rng(3);
    let pulsing: Vec<f64> = (0..104)
        .map(|i| {
            let base = if i % 5 == 0 { 10_000.0 } else { 1_000.0 };
            base * (0.2 * rng.normal()).exp()
        })
        .collect();
    assert_eq!(spend_spikes(&pulsing), vec![]);
    // A fixed weekly budget: a doubled week is a campaign push, not a spike.
    let mut fixed = vec![1_000.0; 52];
    fixed[20] = 2_000.0;
    assert_eq!(spend_spikes(&fixed), vec![]);
    // Ten times the fixed budget in one week is.
    fixed[30] = 10_000.0;
    let found = spend_spikes(&fixed);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].index, found[0].ratio), (30, 10.0));
    // Too few weeks with spend to judge: nothing.
    let mut sparse = vec![0.0; 104];
    for (i, v) in [(3, 100.0), (9, 120.0), (40, 90.0), (80, 50_000.0)] {
        sparse[i] = v;
    }
    assert_eq!(spend_spikes(&sparse), vec![]);
}

fn finding(rule: &'static str, column: Option<&str>, period: &str) -> Finding {
    Finding {
        rule,
        severity: Severity::Warning,
        file: None,
        column: column.map(str::to_owned),
        geo: None,
        row: None,
        period: Some(period.into()),
        message: format!("message at {period}"),
    }
}

#[test]
fn warnings_are_summarised_once_per_rule_and_column() {
    let mut all: Vec<Finding> = (1..=25)
        .map(|d| finding("spike", Some("tv"), &format!("2021-01-{d:02}")))
        .collect();
    all.push(finding("spike", Some("radio"), "2021-03-01"));
    all.push(finding("few_rows_per_parameter", None, "2021-01-01"));
    let (kept, rules) = cap_findings(all);
    // The first 20 spike findings (all tv), radio's first (the first of its column), and
    // few_rows_per_parameter.
    assert_eq!(kept.len(), 22);
    let spike = rules.iter().find(|r| r.rule == "spike").expect("spike");
    assert_eq!((spike.count, spike.omitted), (26, 5));
    let per_column: Vec<(Option<&str>, usize)> = spike
        .columns
        .iter()
        .map(|c| (c.column.as_deref(), c.count))
        .collect();
    assert_eq!(per_column, vec![(Some("tv"), 25), (Some("radio"), 1)]);
    assert_eq!(
        warning_lines(&kept, &rules),
        vec![
            "warning[few_rows_per_parameter] period 2021-01-01: message at 2021-01-01".to_owned(),
            "warning[spike] column 'tv': 25 findings at 2021-01-01, 2021-01-02, 2021-01-03 and 22 more; first: message at 2021-01-01".to_owned(),
            "warning[spike] column 'radio' period 2021-03-01: message at 2021-03-01".to_owned(),
        ]
    );
}

/// A spec for `x1`..`x4` (spend) and `event_1`, target `y`, in `dir`.
fn spec(dir: &Path) -> LoadedSpec {
    let mut text = String::from(
        "[model]\nname = \"spikes\"\n[data]\ndate_column = \"date_week\"\ntarget = \"y\"\nas_of = \"2030-01-01\"\n",
    );
    for c in 1..=4 {
        text.push_str(&format!(
            "[[channels]]\nname = \"x{c}\"\nadstock = {{ kind = \"geometric\", l_max = 4, alpha_prior = {{ family = \"beta\", alpha = 1.0, beta = 3.0 }} }}\nsaturation = {{ kind = \"logistic\", lam_prior = {{ family = \"gamma\", shape = 3.0, rate = 1.0 }}, beta_prior = {{ family = \"half_normal\", sigma = 2.0 }} }}\n"
        ));
    }
    text.push_str(
        "[[controls]]\nname = \"event_1\"\nprior = { family = \"normal\", mu = 0.0, sigma = 2.0 }\n",
    );
    let path = dir.join("spec.toml");
    std::fs::write(&path, text).expect("write spec");
    LoadedSpec::load(&path).expect("spec")
}

/// A clean national export: 104 weeks, two flighted and two always-on heavy-tailed channels.
/// `spike` multiplies one cell (row index, channel 1..=4) by 100.
fn export(dir: &Path, spike: Option<(usize, usize)>) -> std::path::PathBuf {
    let mut x = [
        spend(11, 20_000.0, 0.6, true),
        spend(12, 5_000.0, 0.9, true),
        spend(13, 8_000.0, 0.8, false),
        spend(14, 3_000.0, 1.1, false),
    ];
    if let Some((row, c)) = spike {
        x[c - 1][row] *= 100.0;
    }
    let mut csv = String::from("date_week,y,x1,x2,x3,x4,event_1\n");
    let start = chrono::NaiveDate::from_ymd_opt(2021, 1, 4).expect("date");
    for t in 0..104 {
        // Sales respond to spend up to a cap, so a mistyped spend week leaves the target as is.
        let response: f64 = x.iter().map(|c| c[t].min(60_000.0)).sum();
        let y = 100_000.0 + 0.6 * response + 1_000.0 * ((t * 7919) % 11) as f64;
        csv.push_str(&format!(
            "{},{y:.2},{},{},{},{},{}\n",
            start + chrono::Duration::weeks(t as i64),
            x[0][t],
            x[1][t],
            x[2][t],
            x[3][t],
            u8::from(t % 26 == 0)
        ));
    }
    let path = dir.join(if spike.is_some() {
        "spiked.csv"
    } else {
        "clean.csv"
    });
    std::fs::write(&path, csv).expect("write data");
    path
}

fn validate(dir: &Path, data: &Path) -> mmm_contracts::ContractReport {
    let inputs = Inputs {
        data: data.to_path_buf(),
        ..Inputs::default()
    };
    let out = dir.join(data.file_stem().expect("stem"));
    mmm_contracts::run_with(&spec(dir), &inputs, &out, true)
        .expect("passes")
        .expect("written")
        .1
}

#[test]
fn a_clean_heavy_tailed_export_passes_without_spike_warnings_and_a_100x_week_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = validate(dir.path(), &export(dir.path(), None));
    assert!(clean.passed);
    let spikes: Vec<&Finding> = clean
        .findings
        .iter()
        .filter(|f| f.rule == "spike")
        .collect();
    assert_eq!(spikes, Vec::<&Finding>::new());
    assert_eq!(
        clean
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Warning)
            .count(),
        1
    );
    // The clean export does fire the raw-scale rule this replaced.
    let raw: usize = (11..=14)
        .zip([
            (20_000.0, 0.6, true),
            (5_000.0, 0.9, true),
            (8_000.0, 0.8, false),
            (3_000.0, 1.1, false),
        ])
        .map(|(seed, (m, s, f))| raw_mad_spikes(&spend(seed, m, s, f)))
        .sum();
    assert!(raw >= 5, "raw rule: {raw}");

    // x3 (always on) in week 41 (data row 41 = index 40) entered 100 times too large.
    let spiked = validate(dir.path(), &export(dir.path(), Some((40, 3))));
    assert!(spiked.passed, "a warning does not reject");
    let spikes: Vec<&Finding> = spiked
        .findings
        .iter()
        .filter(|f| f.rule == "spike")
        .collect();
    assert_eq!(spikes.len(), 1, "{spikes:#?}");
    let s = spikes[0];
    assert_eq!(
        (s.column.as_deref(), s.row, s.period.as_deref(), s.severity),
        (Some("x3"), Some(41), Some("2021-10-11"), Severity::Warning)
    );
    assert!(
        s.message.contains("times the median week with spend"),
        "{}",
        s.message
    );
    // The terminal shows it once, in full.
    let text = mmm_contracts::summary_text(&spiked);
    let line = "warning[spike] column 'x3' row 41 period 2021-10-11: spend ";
    assert_eq!(text.matches(line).count(), 1, "{text}");
    assert_eq!(text.matches("[spike]").count(), 1, "{text}");
}
