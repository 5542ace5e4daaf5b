"""`sei doctor`: the credentials test against the simulator, and reading health from the
serving copy while a run holds the warehouse."""
import re
import subprocess
import sys
import textwrap
import time

import duckdb
from typer.testing import CliRunner

from helpers import environ
from sei.cli import app


def _creds(sim, **override):
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
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
    time.sleep(600)  # killed by the test once doctor has answered
""")


def test_doctor_reads_the_serving_copy_while_a_run_holds_the_warehouse(tmp_path):
    from core.publish import publish_serving
    wh, serving = tmp_path / "sei.duckdb", tmp_path / "serving.duckdb"
    before = time.monotonic()  # the rows below are timed from now(): doctor's lag grows by what passes until it reads
    con = duckdb.connect(str(wh))
    con.execute(HEALTH)
    con.execute(HEALTH_TIMES)
    con.close()
    publish_serving(wh, serving)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(wh)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with environ(SEI_WAREHOUSE=wh, SEI_SERVING=serving):
            out = CliRunner().invoke(app, ["doctor"])
        elapsed_h = (time.monotonic() - before) / 3600
    finally:
        holder.kill()
        holder.wait()
    assert out.exit_code == 1
    # Read from the copy while the holder still held the lock (it only lets go when killed).
    assert f"integration health ({serving}, built" in out.output
    assert "Unhealthy integrations: harness, jira" in out.output
    assert "jira: Jira answered 500 on search/jql" in out.output
    lag = float(re.search(r"harness: last success (\d+\.\d) h ago \(allowed 3 h\)", out.output).group(1))
    assert 10.0 <= lag <= round(10.0 + elapsed_h, 1) + 0.05, (lag, elapsed_h)  # 10 h at creation, plus the wait
    assert "github" in out.output and "4990" in out.output


def _ops_rows(wh, source):
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return dict(con.execute("select resource, rows from ops.ingest_resources where source = ?",
                                [source]).fetchall())
    finally:
        con.close()


def _doctor_rows(output: str) -> dict[tuple[str, str], list[str]]:
    """(integration, resource) -> the table's cells, split on the two-space column gaps."""
    import re as _re
    return {tuple(cells[:2]): cells for cells in (_re.split(r"\s{2,}", ln.strip()) for ln in output.splitlines())
            if len(cells) > 3 and cells[0] in ("github", "jira", "harness", "events")}


def test_doctor_shows_health_from_the_ops_tables_until_dbt_has_built_it(tmp_path, tiny_world, sim):
    """Right after `sei ingest` (no dbt build yet), and after an ingest newer than the mart's
    build, doctor reads the run log itself and says so; once the mart is current, the mart."""
    from simulator.export import export_sources
    from simulator.export_events import export_events
    from test_dbt_staging import dbt
    wh = tmp_path / "sei.duckdb"
    events = export_events(tiny_world, tmp_path / "events")
    sources = export_sources(tiny_world, tmp_path / "sources.yml", sim.url, events)
    runner = CliRunner()
    with environ(SEI_WAREHOUSE=wh, SEI_SERVING=tmp_path / "serving.duckdb", SEI_SOURCES=sources,
                 SEI_FRESHNESS_LAG_HOURS=None, **_creds(sim)):
        ingest = runner.invoke(app, ["ingest", "--source", "harness"])
        assert ingest.exit_code == 0, ingest.output
        first = runner.invoke(app, ["doctor"])
        assert f"integration health (from the ops tables in {wh}, last ingest" in first.output, first.output
        assert "marts.integration_health is not built yet" in first.output
        assert first.exit_code == 0 and "all integrations healthy" in first.output, first.output
        loaded = _ops_rows(wh, "harness")
        shown = _doctor_rows(first.output)
        assert set(shown) == {("harness", r) for r in loaded} and len(loaded) >= 3
        for resource, rows in loaded.items():  # the status column, and the rows column (after the lag columns)
            cells = shown[("harness", resource)]
            assert cells[2] == "healthy" and str(rows) in cells[7:], cells

        build = dbt(["build", "--select", "stg_ops__ingest_resources", "integration_health"], wh, tmp_path / "target")
        assert build.returncode == 0, build.stdout[-3000:]
        current = runner.invoke(app, ["doctor"])
        assert f"integration health ({wh}, built" in current.output and "ops tables" not in current.output
        assert current.exit_code == 0 and set(_doctor_rows(current.output)) == set(shown)

        again = runner.invoke(app, ["ingest", "--source", "events"])
        assert again.exit_code == 0, again.output
        newer = runner.invoke(app, ["doctor"])
    assert f"integration health (from the ops tables in {wh}, last ingest" in newer.output, newer.output
    assert f"marts.integration_health in {wh} was built" in newer.output and "before the last ingest" in newer.output
    assert {k[0] for k in _doctor_rows(newer.output)} == {"harness", "events"}  # the mart has no events yet


def test_doctor_and_dagster_health_show_the_receiver_counters_per_source(tmp_path):
    """The receiver's own app answers a known mix of deliveries; `sei doctor` and the
    all_integrations_healthy check's metadata show exactly that mix per source, read from
    the spool's records."""
    import json as _json

    from starlette.testclient import TestClient

    from webhook_receiver import SECRET, github_delivery
    from webhooks.app import create_app
    from webhooks.verify import sign
    spool = tmp_path / "webhooks.sqlite"
    secrets = {s: SECRET for s in ("github", "jira", "harness", "events")}
    pr = {"action": "opened", "number": 1, "pull_request": {"number": 1}, "repository": {"full_name": "acme/api"}}
    with TestClient(create_app(spool, secrets, max_body=4096)) as client:
        post = lambda source, body, headers: client.post(f"/webhooks/{source}", content=body,  # noqa: E731
                                                         headers=headers).status_code
        statuses = []
        for i in range(3):                                    # github: 3 accepted, then a replay of the first
            statuses.append(post("github", *github_delivery("pull_request", {**pr, "number": i}, f"d-{i}")))
        statuses.append(post("github", *github_delivery("pull_request", {**pr, "number": 0}, "d-0")))
        body, headers = github_delivery("pull_request", pr, "d-forged")
        statuses.append(post("github", body, {**headers, "X-Hub-Signature-256": sign("wrong", body)}))
        big = _json.dumps({**pr, "pad": "x" * 5000}).encode()
        statuses.append(post("github", big, {**headers, "X-Hub-Signature-256": sign(SECRET, big)}))
        bad = b'{"action": '
        statuses.append(post("github", bad, {**headers, "X-Hub-Signature-256": sign(SECRET, bad)}))
        statuses.append(post("github", *github_delivery("issues", pr, "d-issue")))
        statuses.append(post("github", *github_delivery("issues", pr, "d-issue-2")))
        jira = _json.dumps({"webhookEvent": "jira:issue_updated",
                            "issue": {"id": "1", "fields": {"project": {"key": "PAY"}}}}).encode()
        statuses.append(post("jira", jira, {"Content-Type": "application/json", "X-Hub-Signature": sign(SECRET, jira)}))
        statuses.append(post("jira", jira, {"Content-Type": "text/plain", "X-Hub-Signature": sign(SECRET, jira)}))
        h = _json.dumps({"eventData": {"eventType": "PIPELINE_END", "orgIdentifier": "o", "projectIdentifier": "p",
                                       "planExecutionId": "x"}}).encode()
        statuses.append(post("harness", h, {"Content-Type": "application/json", "X-Harness-Webhook-Token": "nope"}))
    assert statuses == [200, 200, 200, 200, 401, 413, 400, 202, 202, 200, 415, 401]
    expected = {  # accepted, duplicate, rejected signature, oversize, malformed, ignored event, not JSON
        "github": ["3", "1", "1", "1", "1", "2", "0"], "jira": ["1", "0", "0", "0", "0", "0", "1"],
        "harness": ["0", "0", "1", "0", "0", "0", "0"]}
    with environ(SEI_WAREHOUSE=tmp_path / "none.duckdb", SEI_SERVING=tmp_path / "none_serving.duckdb",
                 SEI_WEBHOOK_SPOOL=spool):
        out = CliRunner().invoke(app, ["doctor"])
        from orchestration.health import receiver_metadata
        meta = receiver_metadata()
    lines = out.output.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("webhook receiver ("))
    assert f"spool {spool}; 4 pending" in lines[start] and "no sei_fresh batch yet" in lines[start], lines[start]
    heads = lines[start + 2]
    assert re.split(r"\s{2,}", heads.strip()) == ["source", "accepted", "duplicate (replay)", "rejected signature",
                                                  "oversize", "malformed", "ignored event", "not JSON"]
    table = {cells[0]: cells[1:] for cells in (ln.split() for ln in lines[start + 4:start + 7])}
    assert table == expected, out.output
    assert {s: [str(v) for v in c.values()] for s, c in meta["webhook_counters"].value.items()} == expected
    assert meta["webhook_pending"] == 4
