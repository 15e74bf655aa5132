//! Arbitrary bytes as a CSV or Parquet file: reading and checking must return findings or an
//! error naming the file, never panic. The first byte picks the format and the spec layout.
//! Panics that the Parquet reader's guard catches are counted and printed (see `common`).
#![no_main]

mod common;

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

fn specs() -> &'static [mmm_core::Spec; 2] {
    static SPECS: OnceLock<[mmm_core::Spec; 2]> = OnceLock::new();
    SPECS.get_or_init(|| {
        let parse = |text: &str| toml::from_str::<mmm_core::Spec>(text).expect("fixture spec parses");
        [
            parse(include_str!("../../fixtures/bad/spec.toml")),
            parse(include_str!("../../fixtures/bad/spec_long.toml")),
        ]
    })
}

fuzz_target!(|data: &[u8]| {
    common::install();
    let before = common::panics();
    run(data);
    common::report_caught("readers", before, data);
});

fn run(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let path = if selector & 1 == 0 { Path::new("fuzz.csv") } else { Path::new("fuzz.parquet") };
    let Ok(raw) = mmm_contracts::read_table_bytes(bytes.to_vec(), path) else {
        return;
    };
    let spec = &specs()[usize::from(selector >> 1 & 1)];
    let mut mapping = mmm_contracts::CampaignMap::new();
    mapping.insert("C1".into(), "x1".into());
    let as_of = 18_700; // 2021-03-14
    let _ = mmm_contracts::check_table(&raw, spec, Some(&mapping), as_of);
}
