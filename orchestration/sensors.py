"""The run-failure sensor: records every failed run in the operations database (SQLite,
`SEI_OPS_DB`; never the warehouse, which the failed run may still hold) and, when
`SEI_ALERT_WEBHOOK_URL` is set, posts a JSON alert to it."""

import datetime as dt
import json
import sqlite3
import urllib.request
from pathlib import Path

import dagster as dg

from orchestration import settings

FAILURES_DDL = """create table if not exists run_failures (
    run_id text primary key, job_name text, failed_at text, failed_steps text, message text,
    webhook_status text)"""


def record_failure(db: Path, row: dict) -> None:
    db.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(db) as con:
        con.execute(FAILURES_DDL)
        con.execute("insert or replace into run_failures values (:run_id, :job_name, :failed_at, :failed_steps, "
                    ":message, :webhook_status)", row)


def recent_failures(db: Path | None = None, limit: int = 10) -> list[dict]:
    db = db or settings.ops_db_path()
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        con.row_factory = sqlite3.Row
        con.execute(FAILURES_DDL)
        return [dict(r) for r in con.execute("select * from run_failures order by failed_at desc limit ?", [limit])]


def post_webhook(url: str, payload: dict, timeout: float = 10.0) -> str:
    req = urllib.request.Request(url, data=json.dumps(payload).encode(), method="POST",
                                 headers={"Content-Type": "application/json", "User-Agent": "sei-warehouse"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return f"{resp.status}"
    except Exception as e:  # noqa: BLE001 - an unreachable webhook must not lose the record
        return f"error: {type(e).__name__}: {e}"


@dg.run_failure_sensor(name="record_run_failures", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Records failed runs in SEI_OPS_DB and posts them to SEI_ALERT_WEBHOOK_URL.")
def record_run_failures(context: dg.RunFailureSensorContext) -> None:
    run = context.dagster_run
    steps = [e.step_key for e in context.get_step_failure_events()]
    message = context.failure_event.message or ""
    row = {"run_id": run.run_id, "job_name": run.job_name, "failed_at": dt.datetime.now(dt.timezone.utc).isoformat(),
           "failed_steps": ", ".join(s for s in steps if s), "message": message[:4000], "webhook_status": None}
    url = settings.alert_webhook_url()
    if url:
        row["webhook_status"] = post_webhook(url, {"text": f"SEI run {run.run_id[:8]} of {run.job_name} failed: "
                                                           f"{row['failed_steps'] or message[:200]}", **row})
    record_failure(settings.ops_db_path(), row)
    context.log.info(f"recorded failed run {run.run_id} ({row['failed_steps']}); webhook {row['webhook_status']}")
