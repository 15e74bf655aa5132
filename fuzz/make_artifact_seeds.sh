#!/usr/bin/env bash
# Rebuild the artifact fixtures (fuzz/fixtures/artifacts/) and the seeds of the `artifacts` and
# `stages` fuzz targets (fuzz/seeds/{artifacts,stages}/) from a short run of the pymc_example
# fixture (fuzz/fixtures/artifacts/spec.toml: tune = 50, draws = 20) and the features stage of
# the geo fixture. Each seed is one selector byte (see the table atop each target) followed by
# a real artifact. Run from the repository root: fuzz/make_artifact_seeds.sh
# (MMM=path/to/mmm uses that binary instead of building target/release/mmm).
set -euo pipefail

cd "$(dirname "$0")/.."
if [ -z "${MMM:-}" ]; then
  cargo build --release -p mmm-cli
fi
mmm=${MMM:-target/release/mmm}
fx=fuzz/fixtures/artifacts
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The national run (refit checks skipped: they do not change what the fuzz targets read).
# A run whose gates fail (a short chain) still writes every stage; exit code 3 is expected.
"$mmm" run --spec "$fx/spec.toml" --data fixtures/pymc_example/data.csv --out "$tmp/run" \
  --no-refits --threads 2 || [ $? -eq 3 ]
# A backtest plan (its weeks inside the data), so that the record has a total to review.
"$mmm" optimize --spec "$tmp/run/spec.toml" --features "$tmp/run/features" --fit "$tmp/run/fit" \
  --out "$tmp/optimize" --record --start 2021-06-07 --weeks 8

# carry_in.parquet: the features stage of the same spec with data.start set.
sed 's/^\[data\]$/[data]\nstart = "2018-06-04"/' "$fx/spec.toml" > "$tmp/spec_start.toml"
"$mmm" validate --spec "$tmp/spec_start.toml" --data fixtures/pymc_example/data.csv \
  --out "$tmp/start/validate"
"$mmm" features --spec "$tmp/spec_start.toml" --validate "$tmp/start/validate" \
  --out "$tmp/start/features"

# The geo hierarchy's features stage.
"$mmm" validate --spec "$fx/geo/spec.toml" --data fixtures/geo/panel.csv --out "$tmp/geo/validate"
"$mmm" features --spec "$fx/geo/spec.toml" --validate "$tmp/geo/validate" \
  --out "$tmp/geo/features"

mkdir -p "$fx/features" "$fx/fit" "$fx/diagnose" "$fx/geo/features"
cp "$tmp/run/features/"{manifest.json,design.parquet,scales.json} "$fx/features/"
cp "$tmp/start/features/carry_in.parquet" "$fx/features/"
cp "$tmp/run/fit/"{manifest.json,draws.parquet,sample_stats.parquet} "$fx/fit/"
cp "$tmp/run/diagnose/"{manifest.json,diagnostics.json} "$fx/diagnose/"
cp "$tmp/optimize/decision_record.json" "$fx/"
cp "$tmp/geo/features/"{manifest.json,geo_design.parquet,geo_scales.json} "$fx/geo/features/"

# seed TARGET NAME SELECTOR FILE: the selector byte, then the file.
seed() {
  mkdir -p "fuzz/seeds/$1"
  { printf "\\x$(printf %02x "$3")"; cat "$4"; } > "fuzz/seeds/$1/$2"
}
seed artifacts features_manifest 0 "$fx/features/manifest.json"
seed artifacts design 1 "$fx/features/design.parquet"
seed artifacts scales 2 "$fx/features/scales.json"
seed artifacts carry_in 3 "$fx/features/carry_in.parquet"
seed artifacts draws 4 "$fx/fit/draws.parquet"
seed artifacts diagnostics 5 "$fx/diagnose/diagnostics.json"
seed artifacts decision_record 6 "$fx/decision_record.json"
seed artifacts any_parquet_sample_stats 7 "$fx/fit/sample_stats.parquet"
seed artifacts geo_design 8 "$fx/geo/features/geo_design.parquet"
seed artifacts geo_scales 9 "$fx/geo/features/geo_scales.json"
seed stages diagnose_draws 0 "$fx/fit/draws.parquet"
seed stages diagnose_sample_stats 1 "$fx/fit/sample_stats.parquet"
seed stages diagnose_design 2 "$fx/features/design.parquet"
seed stages decide_draws 3 "$fx/fit/draws.parquet"
seed stages decide_diagnostics 4 "$fx/diagnose/diagnostics.json"
seed stages decide_scales 5 "$fx/features/scales.json"
du -ch "$fx" fuzz/seeds/artifacts fuzz/seeds/stages | tail -1
