"""`sei doctor`: the credentials test against the simulator, and reading health from the
serving copy while a run holds the warehouse."""
import subprocess
import sys
import textwrap
import time

import duckdb
from typer.testing import CliRunner

from helpers import environ
from sei.cli import app


def _creds(sim, **override):
    from simulator.server import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    env = dict(SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__GITHUB__BASE_URL=None,
               SOURCES__GITHUB__GRAPHQL_URL=None, SOURCES__JIRA__EMAIL=JIRA_EMAIL, SOURCES__JIRA__API_TOKEN=JIRA_TOKEN,
               SOURCES__JIRA__BASE_URL=None, SOURCES__HARNESS__API_KEY=HARNESS_API_KEY,
               SOURCES__HARNESS__BASE_URL=None, SEI_WAIT_SCALE="0.001")
    env.update(override)
    return env


def test_check_credentials_says_which_integration_is_wrong(tmp_path, tiny_world, sim):
    from simulator.export import export_sources
    from simulator.export_events import export_events
    events = export_events(tiny_world, tmp_path / "events")
    sources = export_sources(tiny_world, tmp_path / "sources.yml", sim.url, events)
    runner = CliRunner()
    with environ(SEI_WAREHOUSE=tmp_path / "none.duckdb", SEI_SERVING=tmp_path / "none_serving.duckdb",
                 SEI_SOURCES=sources, **_creds(sim)):
        good = runner.invoke(app, ["doctor", "--check-credentials"])
    lines = {ln.split()[0]: ln for ln in good.output.splitlines() if ln.startswith("  ") and len(ln.split()) > 1}
    for name in ("github", "jira", "harness", "events"):
        assert lines[name].split()[1] == "ok", good.output
    assert "Credential tests failed" not in good.output
    assert good.exit_code == 1 and "no integration health" in good.output  # nothing built yet: says so
    with environ(SEI_WAREHOUSE=tmp_path / "none.duckdb", SEI_SERVING=tmp_path / "none_serving.duckdb",
                 SEI_SOURCES=sources, **_creds(sim, SOURCES__JIRA__API_TOKEN="wrong-token")):
        bad = runner.invoke(app, ["doctor", "--check-credentials"])
    assert bad.exit_code == 1
    jira = next(ln for ln in bad.output.splitlines() if ln.strip().startswith("jira"))
    assert "FAIL" in jira and "credentials" in jira.lower(), bad.output
    assert "Credential tests failed: jira" in bad.output
    assert next(ln for ln in bad.output.splitlines() if ln.strip().startswith("github")).split()[1] == "ok"


# As the mart was built an hour ago: GitHub fine, Jira failing, Harness fine then but its
# last success is now 10 h old (runs stopped), over its 3 h limit.
HEALTH = """create schema marts;
create table marts.integration_health as
with now as (select (now() at time zone 'UTC') as t)
select v.*, now.t - interval 1 hour as checked_at from now, (values
  ('github', 'pull_requests', 'healthy', 'success', 0.5, 0.5, 3.0, 120, 14, 0, 4990, null, null),
  ('jira', 'issues', 'unhealthy', 'failed', 1.2, 1.5, 3.0, 0, 8, 7, null, 1.2, 'Jira answered 500 on search/jql'),
  ('harness', 'pipeline_executions', 'healthy', 'success', 10, 10, 3.0, 5, 2, 0, null, null, null)
) v(source_name, resource_name, status, last_status, last_run_h, last_success_h, max_lag_hours, rows_last_run,
    requests_last_run, retries_last_run, min_ratelimit_remaining, last_error_h, last_error_message)"""
HEALTH_TIMES = """create or replace table marts.integration_health as
select source_name, resource_name, status, last_status, t - to_microseconds(cast(last_run_h * 3600e6 as bigint))
       as last_run_at, t - to_microseconds(cast(last_success_h * 3600e6 as bigint)) as last_success_at,
       max_lag_hours, rows_last_run, requests_last_run, retries_last_run, min_ratelimit_remaining,
       t - to_microseconds(cast(last_error_h * 3600e6 as bigint)) as last_error_at, last_error_message, checked_at
from marts.integration_health, (select (now() at time zone 'UTC') as t)"""

HOLD = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])  # a run holding the warehouse for writing
    print("held", flush=True)
    time.sleep(60)
""")


def test_doctor_reads_the_serving_copy_while_a_run_holds_the_warehouse(tmp_path):
    from sei.publish import publish_serving
    wh, serving = tmp_path / "sei.duckdb", tmp_path / "serving.duckdb"
    con = duckdb.connect(str(wh))
    con.execute(HEALTH)
    con.execute(HEALTH_TIMES)
    con.close()
    publish_serving(wh, serving)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(wh)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        t = time.monotonic()
        with environ(SEI_WAREHOUSE=wh, SEI_SERVING=serving):
            out = CliRunner().invoke(app, ["doctor"])
        assert time.monotonic() - t < 20  # answered from the copy, did not wait for the lock
    finally:
        holder.kill()
        holder.wait()
    assert out.exit_code == 1
    assert f"integration health ({serving}, built" in out.output
    assert "Unhealthy integrations: harness, jira" in out.output
    assert "jira: Jira answered 500 on search/jql" in out.output
    assert "harness: last success 10.0 h ago (allowed 3 h)" in out.output
    assert "github" in out.output and "4990" in out.output
