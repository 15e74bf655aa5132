#!/usr/bin/env bash
# One pipeline stage as an orchestrator task runs it: `bash stage.sh STAGE`.
#
# The Airflow DAG and the Argo Workflow next to this file call it once per task, and the test
# `a_chain_of_stage_tasks_killed_midway_and_retried_ends_byte_identical` (crates/mmm-cli/tests/it/
# pipeline.rs) runs it the same way, killing a task midway and retrying it.
#
# Environment:
#   RUN        run directory (required); every stage writes RUN/<stage>/
#   SPEC       model spec (TOML), frozen into RUN/spec.toml by the `prepare` task
#   DATA       raw data file (CSV or Parquet)
#   MMM        the mmm binary (default: mmm on PATH)
#   NO_REFITS  set to 1 to skip the diagnose stage's refit checks
#
# Every task is idempotent: a stage whose outputs are fresh (same spec, same input hashes) is
# skipped, and a stage killed midway leaves no manifest, so a retry redoes it from the start.
# Exit codes: 0 ok; 2 the data contract rejected the input; 3 a diagnostic gate failed (the
# diagnose task reports it only at the `gate` task, so decide and report still run and mark
# their results "not for decisions"); 4 `mmm inspect` found a changed artifact; other codes are
# failures a retry may cure.
set -euo pipefail

stage="${1:?usage: stage.sh prepare|validate|features|fit|diagnose|decide|report|gate}"
mmm="${MMM:-mmm}"
run="${RUN:?set RUN to the run directory}"

case "$stage" in
  prepare)
    # Freeze the spec once; a different spec in an existing run is refused (one run = one
    # pre-registered model).
    mkdir -p "$run"
    if [ -e "$run/spec.toml" ]; then
      cmp -s "${SPEC:?set SPEC}" "$run/spec.toml" || {
        echo "error: $run/spec.toml holds a different spec; use a new RUN" >&2
        exit 1
      }
    else
      cp "${SPEC:?set SPEC}" "$run/.spec.toml.tmp" && mv "$run/.spec.toml.tmp" "$run/spec.toml"
    fi
    ;;
  validate)
    "$mmm" validate --spec "$run/spec.toml" --data "${DATA:?set DATA}" --out "$run/validate"
    ;;
  features)
    "$mmm" features --spec "$run/spec.toml" --validate "$run/validate" --out "$run/features"
    ;;
  fit)
    "$mmm" fit --spec "$run/spec.toml" --features "$run/features" --out "$run/fit"
    ;;
  diagnose)
    refits=()
    [ "${NO_REFITS:-0}" = 1 ] && refits=(--no-refits)
    rc=0
    "$mmm" diagnose --spec "$run/spec.toml" --features "$run/features" --fit "$run/fit" \
      --out "$run/diagnose" "${refits[@]}" || rc=$?
    # A failed gate is a result, not a crash: later stages still run and carry the mark.
    [ "$rc" -eq 0 ] || [ "$rc" -eq 3 ] || exit "$rc"
    ;;
  decide)
    "$mmm" decide --spec "$run/spec.toml" --features "$run/features" --fit "$run/fit" \
      --diagnose "$run/diagnose" --out "$run/decide"
    ;;
  report)
    "$mmm" report --run "$run"
    ;;
  gate)
    # Verify every hash of the run, then fail the workflow when a diagnostic gate failed.
    "$mmm" inspect "$run" > /dev/null
    if ! grep -q '"passed": true' "$run/diagnose/diagnostics.json"; then
      echo "a diagnostic gate failed: $run/report/report.html says why" >&2
      exit 3
    fi
    ;;
  *)
    echo "unknown stage '$stage'" >&2
    exit 64
    ;;
esac
