"""Airflow: the weekly A/B report, two ways. Copy into your DAGs folder and adapt paths.

Prefer the first task: `impact run` adds what a bare PapermillOperator lacks (parameter checks
before the kernel starts, atomic publishing, the run ledger, the index). The second is the
plain papermill call, for teams that standardise on PapermillOperator.
"""

from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator
from airflow.providers.papermill.operators.papermill import PapermillOperator

PROJECT = "/opt/impact"  # the project checkout, with `make demo` (or `make setup`) done once

with DAG(
    dag_id="impact_ab_report",
    schedule="0 6 * * MON",
    start_date=pendulum.datetime(2026, 3, 2, tz="UTC"),
    catchup=True,  # Airflow replays missed weeks, like `impact run-due`
    max_active_runs=1,
) as dag:
    BashOperator(
        task_id="impact_run",
        bash_command=(
            f"cd {PROJECT} && .venv/bin/impact run ab_report "
            "--period-end {{ macros.ds_add(ds, -1) }}"
        ),
    )
    PapermillOperator(
        task_id="papermill_run",
        input_nb=f"{PROJECT}/notebooks/ab_report.ipynb",
        output_nb=f"{PROJECT}/reports/airflow/ab_report_{{{{ ds }}}}.ipynb",
        parameters={"period_end": "{{ macros.ds_add(ds, -1) }}"},
        kernel_name="impact",
    )
