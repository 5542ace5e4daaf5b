"""The integration_health mart's rules, built by dbt from the same hand-written ops rows on
DuckDB and on PostgreSQL: healthy, a failed last run (unhealthy, with its error, last success
kept), a partial run (degraded), a stale source (unhealthy), a skipped source
(not_configured)."""
import datetime as dt
import json

import duckdb
import pandas as pd
import pytest

from pg import pg_bin, postgres_server
from test_dbt_staging import DBT, PROJECT, dbt

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

# "Now" is pinned through the model's var, not read from the clock: the build runs minutes
# after this module is collected on a busy machine, and the lags must be exact whatever the delay.
NOW = dt.datetime(2026, 11, 2, 6, 30, tzinfo=dt.timezone.utc)
H = dt.timedelta(hours=1)
AS_OF = json.dumps({"sei_health_as_of": NOW.strftime("%Y-%m-%d %H:%M:%S")})
# run_id, source, resource, status, rows, requests, retries, min remaining, error, finished
RESOURCES = [
    ("r1", "github", "pull_requests", "success", 120, 14, 1, 4990, None, NOW - 1 * H),
    ("r1", "jira", "issues", "success", 80, 9, 0, None, None, NOW - 2 * H),
    ("r2", "jira", "issues", "failed", 0, 8, 7, None, "Jira answered HTTP 500 on search/jql", NOW - H / 6),
    ("r1", "harness", "pipeline_executions", "partial", 40, 6, 0, None, "prj_x: 404 project not found", NOW - H / 2),
    ("r1", "events", "deployments", "success", 10, 0, 0, None, None, NOW - 30 * H),
    ("r1", "events", "incidents", "skipped", 0, 0, 0, None, None, NOW - 30 * H),
]
EXPECTED = {  # (source, resource) -> status, last error, last success, lag hours (hand-computed)
    ("github", "pull_requests"): ("healthy", None, NOW - H, 1.0),
    ("jira", "issues"): ("unhealthy", "Jira answered HTTP 500 on search/jql", NOW - 2 * H, 2.0),
    ("harness", "pipeline_executions"): ("degraded", "prj_x: 404 project not found", NOW - H / 2, 0.5),
    ("events", "deployments"): ("unhealthy", None, NOW - 30 * H, 30.0),
    ("events", "incidents"): ("not_configured", None, None, None),
}
RUNS_DDL = """create table ops.ingest_runs (run_id varchar, source varchar, started_at timestamptz,
    finished_at timestamptz, status varchar, duration_s double precision, error_message varchar)"""
RESOURCES_DDL = """create table ops.ingest_resources (run_id varchar, source varchar, resource varchar,
    status varchar, rows bigint, requests bigint, retries bigint, wait_seconds double precision,
    ratelimit_waits bigint, min_ratelimit_remaining bigint, error_message varchar, cursor_value varchar,
    started_at timestamptz, finished_at timestamptz)"""


def _rows():
    return [(r, s, res, st, n, q, t, 0.0, 0, m, e, None, f - H / 60, f) for r, s, res, st, n, q, t, m, e, f in RESOURCES]


def _check(df: pd.DataFrame) -> None:
    got = {(r.source_name, r.resource_name): r for r in df.itertuples()}
    assert set(got) == set(EXPECTED)
    for key, (status, error, success, lag) in EXPECTED.items():
        r = got[key]
        assert r.status == status, key
        assert (r.last_error_message if isinstance(r.last_error_message, str) else None) == error, key
        if success is None:
            assert pd.isna(r.last_success_at) and pd.isna(r.lag_hours), key
        else:
            assert pd.Timestamp(r.last_success_at) == pd.Timestamp(success.replace(tzinfo=None)), key
            assert r.lag_hours == pytest.approx(lag, abs=1e-9), (key, r.lag_hours)  # measured to the pinned instant
    jira = got[("jira", "issues")]
    assert jira.last_status == "failed" and jira.requests_last_run == 8 and jira.retries_last_run == 7
    assert got[("github", "pull_requests")].min_ratelimit_remaining == 4990
    assert got[("events", "deployments")].max_lag_hours == 26.0 and got[("jira", "issues")].max_lag_hours == 3.0
    assert {pd.Timestamp(t) for t in df.checked_at} == {pd.Timestamp(NOW.replace(tzinfo=None))}


SELECT = ["build", "--select", "stg_ops__ingest_resources", "integration_health", "--vars", AS_OF]


def test_integration_health_on_duckdb(tmp_path):
    db = tmp_path / "sei.duckdb"
    con = duckdb.connect(str(db))
    con.execute("create schema ops")
    con.execute(RUNS_DDL)
    con.execute(RESOURCES_DDL)
    con.executemany("insert into ops.ingest_resources values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", _rows())
    con.close()
    build = dbt(SELECT, db, tmp_path / "target")
    assert build.returncode == 0, build.stdout[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        mart = con.execute("select * from marts.integration_health order by source_name, resource_name").df()
        _check(mart)
        # `sei doctor` between an ingest and the next build applies the same rules to the ops tables
        from core.health import health_from_ops
        ops = health_from_ops(con, now=pd.Timestamp(NOW.replace(tzinfo=None)))
    finally:
        con.close()
    _check(ops)
    same = ["source_name", "resource_name", "status", "last_status", "last_run_id", "last_run_at", "last_success_at",
            "lag_hours", "max_lag_hours", "rows_last_run", "requests_last_run", "retries_last_run",
            "wait_seconds_last_run", "min_ratelimit_remaining", "last_error_at", "last_error_message"]
    pd.testing.assert_frame_equal(ops[same].reset_index(drop=True), mart[same], check_dtype=False,
                                  check_datetimelike_compat=True)
    bad = dbt(["build", "--select", "integration_health", "--vars", '{"sei_health_as_of": "yesterday"}'], db,
              tmp_path / "target")
    assert bad.returncode != 0 and "sei_health_as_of = 'yesterday' is not a UTC timestamp" in bad.stdout, \
        bad.stdout[-3000:]


@pytest.mark.skipif(pg_bin() is None, reason="PostgreSQL server binaries not installed")
def test_integration_health_on_postgres(tmp_path):
    import subprocess
    with postgres_server() as server:
        server.execute("create schema ops")
        server.execute(RUNS_DDL)
        server.execute(RESOURCES_DDL)
        with server.connect() as con, con.cursor() as cur:
            cur.executemany("insert into ops.ingest_resources values "
                            "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)", _rows())
            con.commit()
        env = {"PATH": f"{DBT.parent}:/usr/bin:/bin", "HOME": str(tmp_path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
               **server.env()}
        build = subprocess.run([str(DBT), *SELECT, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                                "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
                               capture_output=True, text=True, env=env, timeout=600)
        assert build.returncode == 0, build.stdout[-3000:]
        with server.connect() as con:
            df = pd.read_sql("select * from marts.integration_health", con)
    _check(df)
