#!/usr/bin/env bash
# Run examples/orchestration/airflow_dag.py in a real Airflow (3.3, `airflow dags test`: every
# task in order, in this process, against a throwaway SQLite metadata database) on the fixture,
# then check the run it produced with `mmm inspect` (every stage present, every hash verified).
# Usage: scripts/airflow_dag_test.sh MMM_BINARY WORK_DIR. Airflow is installed once into a
# virtual environment under ~/.cache (from PyPI); `cargo xtask test` runs this script.
set -euo pipefail
mmm="$(realpath "${1:?usage: airflow_dag_test.sh MMM_BINARY WORK_DIR}")"
work="${2:?usage: airflow_dag_test.sh MMM_BINARY WORK_DIR}"
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/mmm-airflow-3.3.2"
if ! "$venv/bin/airflow" version >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "apache-airflow==3.3.2" apache-airflow-providers-standard
fi
rm -rf "$work"
mkdir -p "$work/home/dags" "$work/runs"
cp "$root/examples/orchestration/airflow_dag.py" "$work/home/dags/"
export AIRFLOW_HOME="$work/home"
export AIRFLOW__CORE__DAGS_FOLDER="$work/home/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW_VAR_MMM_SPEC="$root/fixtures/pymc_example/spec.toml"
export AIRFLOW_VAR_MMM_DATA="$root/fixtures/pymc_example/data.csv"
export AIRFLOW_VAR_MMM_RUNS="$work/runs"
export MMM="$mmm"
export MMM_STAGE_SCRIPT="$root/examples/orchestration/stage.sh"
"$venv/bin/airflow" db migrate >"$work/migrate.log" 2>&1
"$venv/bin/airflow" dags test mmm_weekly_refresh 2026-01-05 >"$work/dag.log" 2>&1 || {
  tail -n 40 "$work/dag.log" >&2
  exit 1
}
if ! grep -q "DagRun Finished: dag_id=mmm_weekly_refresh.*state=success" "$work/dag.log"; then
  grep -E "state=|ERROR|Error" "$work/dag.log" | tail -n 20 >&2
  echo "error: the DAG run did not succeed (log: $work/dag.log)" >&2
  exit 1
fi
run="$work/runs/2026-01-05"
"$mmm" inspect "$run" >"$work/inspect.txt"
for stage in validate features fit diagnose decide report; do
  test -s "$run/$stage/manifest.json" || { echo "error: $run/$stage has no manifest" >&2; exit 1; }
done
echo "airflow: DAG mmm_weekly_refresh succeeded; $run verified by mmm inspect"
