//! Reading and checking never panic: seeded byte mutations of the fixture files (flips,
//! truncations, splices) go through the CSV and Parquet readers and every contract rule.
//! `MMM_MUTATION_SECS=N` runs it for N seconds instead of a fixed number of cases.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{bad_spec, repo};

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut b = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(5) {
            0 if !b.is_empty() => {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
            1 => b.truncate(rng.below(b.len() + 1)),
            2 => {
                let i = rng.below(b.len() + 1);
                let tokens: [&[u8]; 8] = [
                    b",",
                    b"\n",
                    b"\"",
                    b"NaN",
                    b"-1e308",
                    b"2021-02-30",
                    b"",
                    b"\xff\xfe",
                ];
                let t = tokens[rng.below(tokens.len())];
                b.splice(i..i, t.iter().copied());
            }
            3 if b.len() > 2 => {
                let (i, j) = (rng.below(b.len()), rng.below(b.len()));
                let (lo, hi) = (i.min(j), i.max(j));
                b.drain(lo..hi);
            }
            _ => {
                let i = rng.below(b.len() + 1);
                let j = rng.below(b.len() + 1);
                let copy: Vec<u8> = b[i.min(j)..i.max(j)].to_vec();
                b.extend(copy);
            }
        }
    }
    b
}

/// A small Parquet file written by the validate stage, as a seed for the Parquet reader.
fn parquet_seed() -> Vec<u8> {
    let raw = mmm_contracts::read_table(&repo().join("fixtures/bad/good.csv")).expect("good.csv");
    let mut b = mmm_core::BatchBuilder::new();
    for (name, cells) in raw.names.iter().zip(&raw.cells) {
        b = b.string(
            name,
            cells
                .iter()
                .map(|c| c.unwrap_or_default().to_string())
                .collect(),
        );
    }
    let batch = b.build().expect("batch");
    mmm_core::artifact::parquet_bytes(&batch, Path::new("seed.parquet")).expect("parquet")
}

#[test]
fn mutated_inputs_never_panic() {
    let mut seeds: Vec<(Vec<u8>, &str)> = Vec::new();
    for entry in std::fs::read_dir(repo().join("fixtures/bad")).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "csv") {
            seeds.push((std::fs::read(&path).expect("read"), "csv"));
        }
    }
    seeds.push((parquet_seed(), "parquet"));
    let specs = [
        bad_spec("spec.toml"),
        bad_spec("spec_long.toml"),
        bad_spec("spec_poisson.toml"),
    ];
    let mut mapping = mmm_contracts::CampaignMap::new();
    mapping.insert("C1".into(), "x1".into());
    let budget = std::env::var("MMM_MUTATION_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    let start = Instant::now();
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut cases = 0u64;
    loop {
        match budget {
            Some(secs) if start.elapsed() >= Duration::from_secs(secs) => break,
            None if cases >= 3000 => break,
            _ => {}
        }
        let (seed, ext) = &seeds[rng.below(seeds.len())];
        let bytes = mutate(&mut rng, seed);
        let path = Path::new("mutated").with_extension(ext);
        match mmm_contracts::read_table_bytes(bytes, &path) {
            Ok(raw) => {
                let spec = &specs[rng.below(specs.len())];
                let _ = mmm_contracts::check_table(&raw, spec, Some(&mapping), 18_700);
            }
            Err(e) => assert!(
                e.to_string().contains("mutated."),
                "error names the file: {e}"
            ),
        }
        cases += 1;
    }
    eprintln!(
        "{cases} mutated inputs in {:.1} s",
        start.elapsed().as_secs_f64()
    );
}
