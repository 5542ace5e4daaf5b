"""PostgreSQL as the warehouse, under Dagster: the main job (`sei_refresh`) in-process with
SEI_DESTINATION=postgres, against the simulator (tiny org) and a PostgreSQL server the test
starts. dlt loads there; identities are matched from the raw tables there; dbt builds
there (its target follows SEI_DESTINATION); the expectations validate the new batches
there; integration_health is built there from the mirrored run figures; `sei doctor` reads
it there; the serving step publishes no DuckDB file. Every asset and check must pass, and
the team figures must equal the DuckDB build of the same org (tests/dora_reference.py)."""
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
            yield {"result": result, "defs": defs, "server": server, "tmp": tmp, "health": health, "where": where}


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
