"""Airflow DAG: the mmm pipeline for one model, one task per stage, with retries.

Each task runs examples/orchestration/stage.sh, the same script the kill-and-retry test runs.
Put `mmm` on the workers' PATH (or set MMM), point MMM_STAGE_SCRIPT at stage.sh, and set the
Airflow Variables `mmm_spec`, `mmm_data` and `mmm_runs` (a directory on storage every worker
sees). The run directory is keyed by the logical date, so a backfill or a rerun of a date
resumes that date's run: fresh stages are skipped, a stage killed midway is redone.

Written for Airflow 2.x and 3.x (BashOperator from the standard provider in 3.x).
`cargo xtask test` runs this DAG in Airflow 3.3 on the fixture (scripts/airflow_dag_test.sh:
`airflow dags test`, then `mmm inspect` on the run it wrote).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from airflow import DAG
from airflow.models import Variable

try:  # Airflow 3
    from airflow.providers.standard.operators.bash import BashOperator
except ImportError:  # Airflow 2
    from airflow.operators.bash import BashOperator

STAGE_SCRIPT = os.environ.get("MMM_STAGE_SCRIPT", "/opt/mmm/examples/orchestration/stage.sh")
STAGES = ["prepare", "validate", "features", "fit", "diagnose", "decide", "report", "gate"]

with DAG(
    dag_id="mmm_weekly_refresh",
    description="Validate, fit, diagnose and decide one marketing-mix model",
    schedule="0 6 * * MON",
    start_date=datetime(2026, 1, 5),
    catchup=False,
    max_active_runs=1,
    default_args={
        # Retries cure transient failures (a lost worker, a killed pod). Exit codes 2 (data
        # contract) and 3 (gates) are deterministic: retrying them returns the same answer.
        "retries": 3,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": True,
    },
    tags=["mmm"],
) as dag:
    env = {
        "RUN": "{{ var.value.mmm_runs }}/{{ ds }}",
        "SPEC": "{{ var.value.mmm_spec }}",
        "DATA": "{{ var.value.mmm_data }}",
        "MMM": os.environ.get("MMM", "mmm"),
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
    }
    tasks = [
        BashOperator(
            task_id=stage,
            # A trailing space keeps Airflow from reading the command as a Jinja template file.
            bash_command=f"bash {STAGE_SCRIPT} {stage} ",
            env=env,
            # Fitting and the refit checks are the long stages.
            execution_timeout=timedelta(minutes=30 if stage in ("fit", "diagnose") else 10),
        )
        for stage in STAGES
    ]
    for upstream, downstream in zip(tasks, tasks[1:]):
        upstream >> downstream
