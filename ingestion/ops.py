"""Run figures in the warehouse: `ops.ingest_runs` and `ops.ingest_resources`.

Append-only, one row per (run, source) and per (run, source, resource); written after dlt
has finished with the file (DuckDB has one writer), in the same DuckDB file. The health
views and Dagster metadata read them.

ops.ingest_runs:      run_id, source, started_at, finished_at, status, duration_s, error_message
ops.ingest_resources: run_id, source, resource, status, rows, requests, retries, wait_seconds,
                      ratelimit_waits, min_ratelimit_remaining, error_message, cursor_value,
                      started_at, finished_at

status: `success`, `partial` (some repositories/scopes failed, the rest loaded), `failed`
(nothing loaded for the source), `skipped`.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import duckdb

RUNS_DDL = """
CREATE TABLE IF NOT EXISTS ops.ingest_runs (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ,
    status VARCHAR,
    duration_s DOUBLE,
    error_message VARCHAR
)"""

RESOURCES_DDL = """
CREATE TABLE IF NOT EXISTS ops.ingest_resources (
    run_id VARCHAR NOT NULL,
    source VARCHAR NOT NULL,
    resource VARCHAR NOT NULL,
    status VARCHAR,
    rows BIGINT,
    requests BIGINT,
    retries BIGINT,
    wait_seconds DOUBLE,
    ratelimit_waits BIGINT,
    min_ratelimit_remaining BIGINT,
    error_message VARCHAR,
    cursor_value VARCHAR,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
)"""


@dataclass
class ResourceResult:
    resource: str
    status: str = "success"
    rows: int = 0
    requests: int = 0
    retries: int = 0
    wait_seconds: float = 0.0
    ratelimit_waits: int = 0
    min_ratelimit_remaining: int | None = None
    error_message: str | None = None
    cursor_value: str | None = None


@dataclass
class SourceResult:
    source: str
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    status: str = "success"
    error_message: str | None = None
    resources: list[ResourceResult] = field(default_factory=list)
    # seconds of each phase (extract, normalize, load, and lock_wait: queued for the
    # warehouse), for the Dagster step's metadata and the benchmarks; not stored in ops
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def duration_s(self) -> float:
        end = self.finished_at or dt.datetime.now(dt.timezone.utc)
        return (end - self.started_at).total_seconds()

    @property
    def rows(self) -> int:
        return sum(r.rows for r in self.resources)

    @property
    def requests(self) -> int:
        return sum(r.requests for r in self.resources)


def pending_dir(db_path: Path | str) -> Path:
    p = Path(db_path).resolve()
    return p.with_name(p.name + ".ops_pending")


def write(db_path: Path | str, run_id: str, results: list[SourceResult],
          say: Callable[[str], None] | None = None) -> None:
    """Append the run's rows (and those of earlier runs that could not be written).

    Writers hold the warehouse lock (ingestion/lock.py), so only a process outside the
    project (a DuckDB shell or BI tool that opened the working file for writing) can hold
    the file here. Then the rows go to `<warehouse>.ops_pending/<run_id>.json` and the next
    run's write adds them: a run is never lost from ops.ingest_runs."""
    pend = pending_dir(db_path)
    try:
        con = duckdb.connect(str(db_path))
    except duckdb.IOException as e:
        spool = keep_for_next_run(db_path, run_id, results)
        if say:
            say(f"could not record this run in ops.ingest_runs ({e}); kept in {spool}, the next run records it. "
                f"What to do: close the program that holds {db_path} open for writing.")
        return
    try:
        earlier = []
        for f in sorted(pend.glob("*.json")) if pend.is_dir() else []:
            try:
                d = json.loads(f.read_text())
                earlier.append((f, d["run_id"], [_from_dict(x) for x in d["sources"]]))
            except (OSError, ValueError, KeyError, TypeError):
                continue
        _insert(con, [(rid, rs) for _, rid, rs in earlier] + [(run_id, results)])
        for f, _, _ in earlier:
            f.unlink(missing_ok=True)
    finally:
        con.close()


def keep_for_next_run(db_path: Path | str, run_id: str, results: list[SourceResult]) -> Path:
    """Keep a run's rows beside the warehouse, for the next `write` to record: for a run that
    cannot open the file (another program holds it, or another writer has the lock)."""
    pend = pending_dir(db_path)
    pend.mkdir(parents=True, exist_ok=True)
    spool = pend / f"{run_id}.json"
    tmp = spool.with_suffix(".tmp")   # a `write` reading the folder meanwhile sees whole files only
    tmp.write_text(json.dumps({"run_id": run_id, "sources": [as_dict(s) for s in results]}, default=str))
    tmp.replace(spool)
    return spool


def _from_dict(d: dict) -> SourceResult:
    ts = lambda v: dt.datetime.fromisoformat(v) if isinstance(v, str) else v  # noqa: E731
    return SourceResult(d["source"], ts(d["started_at"]), ts(d.get("finished_at")), d.get("status", "failed"),
                        d.get("error_message"), [ResourceResult(**r) for r in d.get("resources") or []])


def _insert(con: duckdb.DuckDBPyConnection, runs: list[tuple[str, list[SourceResult]]]) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS ops")
    con.execute(RUNS_DDL)
    con.execute(RESOURCES_DDL)
    con.execute("BEGIN")
    for run_id, results in runs:
        for s in results:
            con.execute("INSERT INTO ops.ingest_runs VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [run_id, s.source, s.started_at, s.finished_at, s.status, round(s.duration_s, 3),
                         s.error_message])
            for r in s.resources:
                con.execute("INSERT INTO ops.ingest_resources VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [run_id, s.source, r.resource, r.status, r.rows, r.requests, r.retries,
                             round(r.wait_seconds, 3), r.ratelimit_waits, r.min_ratelimit_remaining,
                             r.error_message, r.cursor_value, s.started_at, s.finished_at])
    con.execute("COMMIT")


def as_dict(s: SourceResult) -> dict:
    d = asdict(s)
    d["duration_s"] = s.duration_s
    return d
