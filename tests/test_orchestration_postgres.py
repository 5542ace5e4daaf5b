"""PostgreSQL as the warehouse, under Dagster: the main job (`sei_refresh`) in-process with
SEI_DESTINATION=postgres, against the simulator (tiny org) and a PostgreSQL server the test
starts. dlt loads there; identities are matched from the raw tables there; dbt builds
there (its target follows SEI_DESTINATION); the expectations validate the new batches
there; integration_health is built there from the mirrored run figures; `sei doctor` reads
it there; the serving step publishes no DuckDB file. Every asset and check must pass, and
the team figures must equal the DuckDB build of the same org (tests/dora_reference.py)."""
import datetime as dt
import shutil
import time

import dagster as dg
import pandas as pd
import pytest

import dora_reference as ref
from helpers import environ, job_environment
from pg import postgres_server
from test_dbt_staging import query

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    from simulator.server import SimServer

    tmp = tmp_path_factory.mktemp("orchestration_pg")
    world = generate("tiny", seed=7)
    with postgres_server() as server, SimServer(world, time_scale=0.001) as sim:
        events = export_events(world, tmp / "events")
        sources = export_sources(world, tmp / "sources.yml", sim.url, events)
        export_org(world, tmp / "org")
        vars_ = {**job_environment(tmp, sources), "SEI_DESTINATION": "postgres", **server.env(), "SEI_DBT_TARGET": None}
        with environ(**vars_):
            from orchestration.definitions import build_definitions
            defs = build_definitions()
            t = time.monotonic()
            result = defs.resolve_job_def("sei_refresh").execute_in_process(
                instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
            print(f"\nsei_refresh on PostgreSQL: {'success' if result.success else 'FAILED'} "
                  f"in {time.monotonic() - t:.1f}s")
            from core.health import read_health
            health, where = read_health()
            yield {"result": result, "defs": defs, "server": server, "tmp": tmp, "health": health, "where": where,
                   "world": world}


def _pg(run, sql: str) -> pd.DataFrame:
    con = run["server"].connect()
    try:
        return pd.read_sql(sql, con)
    finally:
        con.close()


def test_every_asset_and_check_succeeds_on_postgres(run):
    result, graph = run["result"], run["defs"].resolve_asset_graph()
    assert result.success, [e.message for e in result.all_events if e.is_failure][:5]
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in
              (ev.event_specific_data for ev in result.all_events if ev.event_type_value == "ASSET_CHECK_EVALUATION")}
    assert set(checks) == {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    failed = {k: c.description for k, c in checks.items() if not c.passed}
    assert not failed, failed
    # the expectations read the batches PostgreSQL received (a check with no rows would pass vacuously)
    pr = checks[("dlt_github_pull_requests", "new_rows_meet_expectations")]
    assert pr.metadata["rows"].value > 0
    mat = {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}
    assert mat["serving_publish"].metadata["served_from"].value == "postgresql"
    assert not (run["tmp"] / "serving" / "sei.duckdb").exists()


def test_everything_is_built_in_postgres_and_doctor_reads_it_there(run):
    loads = _pg(run, "select count(*) as n from raw_github.pull_requests").n[0]
    assert loads > 0
    matched = _pg(run, "select count(*) as n from raw_org.identity_matches where developer_id is not null").n[0]
    assert matched > 0
    assert _pg(run, "select count(*) as n from ops.ingest_runs").n[0] == 4
    health = _pg(run, "select source_name, status from marts.integration_health")
    assert set(health.source_name) == {"github", "jira", "harness", "events"} and (health.status == "healthy").all()
    assert run["where"].startswith("postgresql://") and len(run["health"]) == len(health)
    # nothing of the warehouse went to the local file but the org, profiles and run figures
    import duckdb
    con = duckdb.connect(str(run["tmp"] / "sei.duckdb"), read_only=True)
    try:
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
    finally:
        con.close()
    assert schemas <= {"raw_org", "raw_config", "ops"}, schemas


def test_team_figures_equal_the_duckdb_build(run):
    """Attribution needs the identity matches of the PostgreSQL raw tables: the team rows
    must be those of the same org built on DuckDB."""
    cols = ["tree", "team_id", "includes_subteams", "period_start", "deployments", "changes", "failed_deployments"]
    got = _pg(run, f"select {', '.join(cols)} from marts.dora_team_monthly")
    want = query(ref.dora_warehouse()["db"], f"select {', '.join(cols)} from marts.dora_team_monthly")
    norm = lambda df: df.assign(period_start=pd.to_datetime(df.period_start).astype("datetime64[us]")) \
        .sort_values(cols).reset_index(drop=True)  # noqa: E731
    assert int(got.changes.sum()) > 0 and int(got.deployments.sum()) > 0
    pd.testing.assert_frame_equal(norm(got), norm(want), check_dtype=False)
    prs = _pg(run, "select count(*) as n from marts.bridge_pull_request_team").n[0]
    assert prs == query(ref.dora_warehouse()["db"], "select count(*) as n from marts.bridge_pull_request_team").n[0]


def _pg_occurrences(server, dbname: str, needles: list[str]) -> list[tuple[str, str, int]]:
    """Every (table or view, column) of the database whose text contains a needle, case-insensitively."""
    con = server.connect(dbname=dbname)
    try:
        with con.cursor() as cur:
            cur.execute("""select table_schema, table_name, column_name from information_schema.columns
                           where table_schema not in ('information_schema', 'pg_catalog')
                             and data_type in ('text', 'character varying', 'json', 'jsonb')""")
            hits = []
            for s, t, c in cur.fetchall():
                cond = " or ".join(f'strpos(lower(cast("{c}" as text)), %s) > 0' for _ in needles)
                cur.execute(f'select count(*) from "{s}"."{t}" where {cond}', [x.lower() for x in needles])
                n = cur.fetchone()[0]
                if n:
                    hits.append((f"{s}.{t}", c, n))
            return hits
    finally:
        con.close()


def test_forget_and_retention_rewrite_postgres(run, tmp_path):
    """With PostgreSQL as the engine the raw tables, the marts and the serving schemas are the
    server's, and the DuckDB file holds only the org history: `sei org forget` must leave no
    trace in either, and retention must delete where the raw rows are. On a copy of the
    built database (CREATE DATABASE ... TEMPLATE), so the other tests read the original."""
    from helpers import environ
    from ingestion.org.forget import forget_developer
    from ingestion.org.retention import apply_retention, cutoff_for
    from test_privacy_forget import occurrences, personal_needles
    server = run["server"]
    server.execute("select pg_terminate_backend(pid) from pg_stat_activity where datname = %s "
                   "and pid <> pg_backend_pid()", [server.dbname])
    server.execute("drop database if exists privacy_copy")
    server.execute(f"create database privacy_copy template {server.dbname}")
    local = tmp_path / "sei.duckdb"
    shutil.copy(run["tmp"] / "sei.duckdb", local)
    dev = _pg(run, """select developer_id from marts.bridge_pull_request_team where tree = 'reporting'
                      group by 1 order by count(*) desc, 1 limit 1""").developer_id[0]
    needles = personal_needles(run["world"], dev)
    assert len(needles) >= 3
    before = _pg_occurrences(server, "privacy_copy", needles)
    assert {t.split(".")[0] for t, _, _ in before} >= {"raw_github", "marts"}, before
    with environ(SEI_PG_DATABASE="privacy_copy", SEI_WAREHOUSE=str(local)):
        result = forget_developer(dev)
        assert result.remaining == 0
        assert any(t.startswith("postgres:raw_github.") for t in result.tables), result.tables
        left = _pg_occurrences(server, "privacy_copy", needles)
        assert not left, left
        assert occurrences(local, needles).empty       # the org history in the DuckDB file
        # the next build is a full one, asked for where dbt builds
        con = server.connect(dbname="privacy_copy")
        try:
            assert {r[0] for r in _rows(con, "select reason from sei_builds.full_build_requests")} == {"sei org forget"}
            [(newest,)] = _rows(con, "select max(coalesce(merged_at, closed_at)) from raw_github.pull_requests")
            now = newest.astimezone(dt.timezone.utc)
            cutoff = cutoff_for(2, now)
            old = "select count(*) from raw_github.pull_requests where coalesce(merged_at, closed_at) < %s"
            [(old_prs,)] = _rows(con, old, cutoff)
            assert old_prs > 0
            r = apply_retention(months=2, now=now)
            assert r.deleted["raw_github.pull_requests"] == old_prs
            assert _rows(con, old, cutoff) == [(0,)]
            assert _rows(con, "select count(*) from raw_github.pull_requests__reviews where _dlt_root_id not in "
                              "(select _dlt_id from raw_github.pull_requests)") == [(0,)]
            [(named, commits)] = _rows(con, "select count(author_email), count(*) from raw_github.commits "
                                            "where authored_at < %s", cutoff)
            assert named == 0 and commits > 0      # the history chain stays, without who made it
            assert _rows(con, "select count(*) from sei_builds.full_build_requests "
                              "where reason = 'sei org retention'") == [(1,)]
        finally:
            con.close()


def _rows(con, sql: str, *params) -> list[tuple]:
    with con.cursor() as cur:
        cur.execute(sql, list(params) or None)
        return cur.fetchall()
