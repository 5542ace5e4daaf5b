"""The Dagster definitions run end to end in-process against the simulator (tiny org).

1. The main job (`sei_refresh`, the hourly schedule's job) on a healthy simulator: every
   asset materialises, every check (dbt tests, expectations, freshness, ingest status,
   integration health) passes, the serving file holds the marts.
2. Jira then answers 500 to everything: the next run still loads GitHub, Harness and the
   events files, builds the marts and publishes; integration_health marks Jira unhealthy
   with its error; `sei doctor` exits non-zero naming Jira.
3. Freshness: with an allowed lag shorter than the data's age the check fails.
"""
import datetime as dt
import subprocess
import sys
import time

import dagster as dg
import duckdb
import pytest

from helpers import environ, job_environment

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    from simulator.server import SimServer

    tmp = tmp_path_factory.mktemp("orchestration")
    world = generate("tiny", seed=7)
    with SimServer(world, time_scale=0.001) as sim:
        events = export_events(world, tmp / "events")
        sources = export_sources(world, tmp / "sources.yml", sim.url, events)
        export_org(world, tmp / "org")
        vars_ = job_environment(tmp, sources)
        with environ(**vars_):
            from orchestration.definitions import build_definitions
            t = time.monotonic()
            defs = build_definitions()
            print(f"\ndefinitions loaded in {time.monotonic() - t:.1f}s")
            yield {"defs": defs, "sim": sim, "tmp": tmp, "vars": vars_, "instance": dg.DagsterInstance.ephemeral()}


def _run(env, job="sei_refresh", selection=None):
    t = time.monotonic()
    result = env["defs"].resolve_job_def(job).execute_in_process(instance=env["instance"], raise_on_error=False,
                                                                 asset_selection=selection)
    print(f"{job}: {'success' if result.success else 'FAILED'} in {time.monotonic() - t:.1f}s")
    return result


def _checks(result) -> dict[tuple[str, str], object]:
    return {(e.asset_key.to_user_string(), e.check_name): e
            for e in (ev.event_specific_data for ev in result.all_events if ev.event_type_value == "ASSET_CHECK_EVALUATION")}


def _materialized(result) -> set[str]:
    return {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}


def _warehouse(env, sql):
    con = duckdb.connect(str(env["tmp"] / "sei.duckdb"), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


@pytest.fixture(scope="module")
def healthy_run(env):
    return _run(env)


@pytest.fixture(scope="module")
def jira_down_run(env, healthy_run):
    import urllib.request
    sim = env["sim"]
    # Jira goes down after a healthy hour: the simulator answers 500 to every Jira request.
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/faults?spec=jira.500:1.0", method="POST")).read()
    # The same job, restricted to what the outage concerns (every source, the run log, the
    # health mart and what it reads, the publish): a second full dbt build would only cost time.
    graph = env["defs"].resolve_asset_graph()
    health = dg.AssetKey(["marts", "integration_health"])
    selection = [k for k in graph.get_all_asset_keys() if k.path[0].startswith("dlt_")] + \
        [dg.AssetKey("ingest_run_log"), health, dg.AssetKey("serving_publish"),
         *[k for k in graph.get(health).parent_keys if graph.get(k).is_materializable]]
    try:
        result = _run(env, selection=selection)
    finally:
        urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/faults?spec=", method="POST")).read()
    return result


def test_every_asset_and_check_succeeds(env, healthy_run):
    result = healthy_run
    assert result.success, [e.message for e in result.all_events if e.is_failure][:5]
    graph = env["defs"].resolve_asset_graph()
    expected = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    assert _materialized(result) == expected
    checks = _checks(result)
    planned = {(c.asset_key.to_user_string(), c.name) for c in graph.asset_check_keys}
    assert set(checks) == planned, planned ^ set(checks)
    failed = {k: (c.description, c.metadata) for k, c in checks.items() if not c.passed}
    assert not failed, failed
    # the kinds of checks the issue names are all there and passed
    names = {name for _, name in checks}
    assert {"ingest_succeeded", "new_rows_meet_expectations", "freshness"} <= names
    assert ("marts/integration_health", "all_integrations_healthy") in checks
    dbt_tests = [k for k in checks if k[1].startswith(("not_null", "unique", "accepted_values", "relationships"))]
    assert len(dbt_tests) > 50
    print(f"{len(expected)} assets, {len(checks)} checks ({len(dbt_tests)} from dbt tests) passed")
    # what the run wrote: the serving file holds every mart, read-only
    health = _warehouse(env, "select source_name, resource_name, status, rows_last_run from marts.integration_health")
    assert set(health.source_name) == {"github", "jira", "harness", "events"}
    assert (health.status == "healthy").all(), health
    con = duckdb.connect(str(env["tmp"] / "serving" / "sei.duckdb"), read_only=True)
    try:
        published = {r[0] for r in con.execute("select table_name from information_schema.tables "
                                               "where table_schema = 'marts'").fetchall()}
        n_prs = con.execute("select count(*) from marts.bridge_pull_request_team").fetchone()[0]
    finally:
        con.close()
    marts = set(_warehouse(env, "select table_name from information_schema.tables where table_schema = 'marts'")
                .table_name)
    assert published == marts and "integration_health" in published and n_prs > 0
    # ingest metadata carries the ops figures
    mat = {e.asset_key.to_user_string(): e.materialization for e in result.get_asset_materialization_events()}
    pr = mat["dlt_github_pull_requests"].metadata
    ops = _warehouse(env, "select rows, requests from ops.ingest_resources where source = 'github' "
                          "and resource = 'pull_requests'")
    assert pr["rows"].value == int(ops.rows.iloc[-1]) > 0 and pr["requests"].value == int(ops.requests.iloc[-1])
    assert "integrations" in mat["marts/integration_health"].metadata


def _subprocess_env(env):
    import os
    out = {k: v for k, v in os.environ.items()}
    out.update({k: str(v) for k, v in env["vars"].items() if v is not None})
    return out


def test_doctor_exits_zero_when_healthy(env, healthy_run):
    cli = subprocess.run([sys.executable, "-m", "sei.cli", "doctor"], capture_output=True, text=True,
                         env=_subprocess_env(env))
    # healthy_run left every integration healthy (this test runs before the Jira outage)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    assert "unhealthy" not in cli.stdout


def test_unchanged_org_files_are_not_imported_again(env, healthy_run):
    before = _warehouse(env, "select count(*) as n from raw_org.imports").n[0]
    result = _run(env, selection=[dg.AssetKey("org_import")])
    meta = result.get_asset_materialization_events()[0].materialization.metadata
    assert meta["status"].value == "unchanged"
    assert _warehouse(env, "select count(*) as n from raw_org.imports").n[0] == before == 1


def test_freshness_check_fails_when_data_is_older_than_its_lag(env, healthy_run):
    from orchestration.health import evaluate_freshness, last_success
    ok_at, status = last_success("github")
    assert status == "success" and ok_at is not None
    # independent: the same instant straight from the run log
    want = _warehouse(env, "select max(finished_at) as t from ops.ingest_runs where source = 'github' "
                           "and status in ('success', 'partial')").t[0]
    assert abs((ok_at - want.to_pydatetime()).total_seconds()) < 1e-3
    now = dt.datetime.now(dt.timezone.utc)  # one instant for both calls: no margin that a slow machine could eat
    age_h = (now - ok_at).total_seconds() / 3600
    assert evaluate_freshness("github", lag_hours=age_h, now=now).passed  # exactly at the limit is still fresh
    stale = evaluate_freshness("github", lag_hours=age_h / 2, now=now)
    assert not stale.passed and "allowed" in stale.description
    # and through Dagster: the freshness job with a lag below the data's age for Jira only
    with environ(SEI_FRESHNESS_LAG_HOURS=f"jira={age_h / 2}"):
        result = _run(env, "sei_freshness")
    checks = _checks(result)
    assert {k for k in checks} == {(f"dlt_{s}_{r}", "freshness") for s, r in
                                   [("github", "repositories"), ("jira", "issues"), ("harness", "services"),
                                    ("events", "deployments")]}
    assert not checks[("dlt_jira_issues", "freshness")].passed
    assert all(c.passed for k, c in checks.items() if k[0] != "dlt_jira_issues")
    lag = checks[("dlt_jira_issues", "freshness")].metadata["lag_hours"].value
    assert lag > age_h / 2


def test_jira_down_other_integrations_load_and_doctor_names_jira(env, jira_down_run):
    result = jira_down_run
    runs = _warehouse(env, "select source, status, error_message from ops.ingest_runs "
                           "qualify row_number() over (partition by source order by finished_at desc) = 1")
    last = dict(zip(runs.source, runs.status))
    assert last == {"github": "success", "jira": "failed", "harness": "success", "events": "success"}, runs
    jira_error = runs[runs.source == "jira"].error_message.iloc[0]
    assert "500" in jira_error
    mats = _materialized(result)
    assert "serving_publish" in mats and "marts/integration_health" in mats  # the marts still built and published
    checks = _checks(result)
    assert not checks[("dlt_jira_issues", "ingest_succeeded")].passed
    assert checks[("dlt_github_pull_requests", "ingest_succeeded")].passed
    health_check = checks[("marts/integration_health", "all_integrations_healthy")]
    assert not health_check.passed and "jira" in health_check.description
    health = _warehouse(env, "select source_name, status, last_error_message, last_success_at from "
                             "marts.integration_health where resource_name in ('issues', 'pull_requests', "
                             "'pipeline_executions', 'deployments')")
    by = {r.source_name: r for r in health.itertuples()}
    assert by["jira"].status == "unhealthy" and "500" in by["jira"].last_error_message
    assert by["jira"].last_success_at is not None  # it did load an hour ago; the failure is the last run
    assert {by[s].status for s in ("github", "harness", "events")} == {"healthy"}
    # sei doctor: a table, exit 1, Jira named with its error
    cli = subprocess.run([sys.executable, "-m", "sei.cli", "doctor"], capture_output=True, text=True,
                         env=_subprocess_env(env))
    assert cli.returncode == 1, cli.stdout + cli.stderr
    assert "jira" in cli.stdout and "unhealthy" in cli.stdout and "500" in cli.stdout
    assert "github" in cli.stdout and "Unhealthy integrations: jira" in cli.stdout + cli.stderr
    print(cli.stdout[-1500:])


def test_nightly_job_reconciles_deletions(env, jira_down_run):
    import urllib.request
    sim = env["sim"]
    key = _warehouse(env, "select key from raw_jira.issues where _sei_deleted_at is null order by key limit 1") \
        .key[0] if "_sei_deleted_at" in set(_warehouse(env, "select * from raw_jira.issues limit 0").columns) else \
        _warehouse(env, "select key from raw_jira.issues order by key limit 1").key[0]
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/delete?issue={key}", method="POST")).read()
    jira = [k for k in env["defs"].resolve_asset_graph().get_all_asset_keys() if k.path[0].startswith("dlt_jira_")]
    result = _run(env, "sei_nightly", selection=jira)
    assert result.success
    meta = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    assert meta["dlt_jira_issues"]["deletion_pass_deleted"].value == 1
    gone = _warehouse(env, "select key from raw_jira.issues where _sei_deleted_at is not null")
    assert list(gone.key) == [key]


def test_dbt_under_dagster_opens_the_warehouse_python_uses(tmp_path, monkeypatch):
    """`make run` sets no SEI_WAREHOUSE; dagster-dbt runs dbt inside the project folder,
    where profiles.yml's relative default would name dbt_project/warehouse/sei.duckdb."""
    import os
    from orchestration import dbt as odbt
    from orchestration import settings
    from core.settings import warehouse_path
    monkeypatch.setenv("SEI_WAREHOUSE", "recorded")   # so that the undo removes what dbt_resource() sets
    monkeypatch.delenv("SEI_WAREHOUSE")
    odbt.dbt_resource()
    assert os.environ["SEI_WAREHOUSE"] == str(warehouse_path().resolve())
    out = subprocess.run([odbt.dbt_executable(), "debug", "--project-dir", str(settings.DBT_PROJECT_DIR),
                          "--profiles-dir", str(settings.DBT_PROJECT_DIR), "--target", "duckdb"],
                         cwd=settings.DBT_PROJECT_DIR, capture_output=True, text=True,
                         env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "SEI_DBT_TARGET": "duckdb"})
    assert f"path: {warehouse_path().resolve()}" in out.stdout, out.stdout[-2000:]


def test_under_the_daemons_executor_the_sources_ingest_side_by_side(env, healthy_run, tmp_path, monkeypatch):
    """The daemon runs a job with the definitions' executor: each step its own process, forked
    from a server holding the definitions, up to SEI_PARALLEL_STEPS at once. The ingest steps
    are not in the warehouse pool, so the four sources' steps all start before any ends; the
    pool's steps (here the freshness checks, one step) still run, under the writer lock."""
    import orchestration.definitions as definitions
    graph = env["defs"].resolve_asset_graph()
    ingest = [k for k in graph.get_all_asset_keys() if k.path[0].startswith("dlt_")]
    before = _warehouse(env, "select count(*) as n from ops.ingest_runs").n[0]
    # the fork server starts once per process with this environment (the module's), as a
    # run worker of the daemon starts one per run; the job's definitions are built with it
    with environ(SEI_PARALLEL_STEPS="4"), dg.instance_for_test(
            temp_dir=str(tmp_path), overrides={"concurrency": {"pools": {"default_limit": 1}}}) as instance:
        monkeypatch.setattr(definitions, "defs", definitions.build_definitions(), raising=False)
        with dg.execute_job(dg.reconstructable(definitions.main_job), instance=instance, asset_selection=ingest,
                            raise_on_error=False) as result:
            assert result.success, [e.message for e in result.all_events if e.is_failure][:5]
            events = [(e.event_type_value, e.step_key) for e in result.all_events]
            checks = _checks(result)
            phases = {e.asset_key.to_user_string(): e.materialization.metadata
                      for e in result.get_asset_materialization_events()}
    steps = [f"ingest_{s}" for s in ("github", "jira", "harness", "events")]
    starts = [events.index(("STEP_START", s)) for s in steps]
    ends = [events.index(("STEP_SUCCESS", s)) for s in steps]
    assert max(starts) < min(ends), events  # all four running at once
    assert {k for k, c in checks.items() if k[1] == "freshness" and c.passed} == {
        (f"dlt_{s}_{r}", "freshness") for s, r in [("github", "repositories"), ("jira", "issues"),
                                                   ("harness", "services"), ("events", "deployments")]}
    for key in ("dlt_github_repositories", "dlt_jira_issues"):
        assert {"lock_wait_seconds", "extract_seconds", "normalize_seconds", "load_seconds"} <= set(phases[key]), key
    assert _warehouse(env, "select count(*) as n from ops.ingest_runs").n[0] == before + 4
