"""Knobs of the Dagster deployment, read from environment variables (README, "Orchestration")."""
from __future__ import annotations

import os
from pathlib import Path

from core.settings import PROJECT_ROOT, warehouse_path

DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


def org_dir() -> Path:
    """The org files the import reads (`SEI_ORG_DIR`, default `org/` beside the warehouse)."""
    return Path(os.environ.get("SEI_ORG_DIR") or warehouse_path().parent / "org")


def dbt_target_dir() -> Path:
    """dbt's manifest, run results and logs for Dagster runs (`SEI_DBT_TARGET_PATH`, default
    `.dbt_target/` beside the warehouse): never the shared dbt_project/target."""
    return Path(os.environ.get("SEI_DBT_TARGET_PATH") or warehouse_path().parent / ".dbt_target")


def ops_db_path() -> Path:
    """SQLite file where the failure sensor records failed runs (`SEI_OPS_DB`, default
    `ops.sqlite` beside the warehouse): not the warehouse, which a failed run may hold."""
    return Path(os.environ.get("SEI_OPS_DB") or warehouse_path().parent / "ops.sqlite")


def alert_webhook_url() -> str | None:
    """Where the failure sensor POSTs a JSON alert (`SEI_ALERT_WEBHOOK_URL`; unset: no post)."""
    return os.environ.get("SEI_ALERT_WEBHOOK_URL") or None


def ingest_retries() -> int:
    """Extra attempts of a source whose sync failed (`SEI_INGEST_RETRIES`, default 2), on top of
    the HTTP client's own retries of single requests."""
    return int(os.environ.get("SEI_INGEST_RETRIES", "2"))


def parallel_steps() -> int:
    """SEI_PARALLEL_STEPS: how many steps of a run may run at once (default: the machine's
    cores, at least 2). More lets all four sources' ingest steps wait on their APIs side by
    side, which pays where the APIs, not this machine's CPU, are the bound."""
    v = os.environ.get("SEI_PARALLEL_STEPS", "").strip()
    if not v:
        return max(2, os.cpu_count() or 2)
    if not v.isdigit() or int(v) < 1:
        raise ValueError(f"SEI_PARALLEL_STEPS={v!r} is not a whole number of steps. Fix: set it to e.g. 4, or unset "
                         f"it for one per core.")
    return int(v)


def ingest_retry_delay_s() -> float:
    """Seconds before such a retry (`SEI_INGEST_RETRY_DELAY_S`, default 60)."""
    return float(os.environ.get("SEI_INGEST_RETRY_DELAY_S", "60"))


def dagster_home() -> Path:
    """The Dagster instance that `make run` records into and `make dagster` opens
    (`DAGSTER_HOME`, default `.dagster_home/` in the project folder)."""
    return Path(os.environ.get("DAGSTER_HOME") or PROJECT_ROOT / ".dagster_home")


def prepare_dagster_home() -> Path:
    """Create the instance folder with the shipped `dagster.yaml`. The project's own
    `.dagster_home` always gets the current copy; a DAGSTER_HOME of yours keeps its own file."""
    home = dagster_home()
    home.mkdir(parents=True, exist_ok=True)
    own_default = home.resolve() == (PROJECT_ROOT / ".dagster_home").resolve()
    if own_default or not (home / "dagster.yaml").exists():
        (home / "dagster.yaml").write_bytes((PROJECT_ROOT / "dagster.yaml").read_bytes())
    return home
