"""Harness ingestion end to end: dlt over HTTP against the simulator, into a real DuckDB.

Every sync gets its own warehouse (SEI_WAREHOUSE) and sources file (SEI_SOURCES). The
simulator answers like Harness NextGen (ErrorDTO errors, 429 without Retry-After, stage
details in layoutNodeMap); waits run at wait_scale 0.001 against simulators whose clock
runs 1,000x fast. Expected values come from `/_sim/truth/deployments` (tool == harness).
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import re
import urllib.request
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.harness import deployed_commit, execution_row
from simulator.export import export_sources
from simulator.http import HARNESS_ACCOUNT, HARNESS_API_KEY, Response

pytestmark = pytest.mark.xdist_group("ingest_harness")

START = "2024-01-01"  # before the tiny world's history: a full sync loads everything
STATUS = {"success": "Success", "failure": "Failed", "in_progress": "Running"}
URL_COLUMNS = {"url"}


# --------------------------------------------------------------------------- helpers
from tests.helpers import environ  # noqa: E402  (re-exported for other test modules)


def write_sources(path: Path, sim, harness_extra: str = "", projects: str | None = None) -> Path:
    """The simulator's own sources file (export_sources), or a hand-written project list."""
    if projects is None:
        export_sources(sim.world, path, sim.url)
        text = path.read_text()
        if harness_extra:
            text = text.replace("account_id: acmeAccount", "account_id: acmeAccount\n" + harness_extra)
        path.write_text(text)
        return path
    path.write_text(f"""
account: acme
integrations:
  harness:
    base_url: {sim.url}
    account_id: {HARNESS_ACCOUNT}
{harness_extra}
organisations:
  - id: org-payments
    projects:
{projects}
""")
    return path


def sync(tmp: Path, sim, key=HARNESS_API_KEY, full_refresh=False, harness_extra="", projects=None, **env):
    from ingestion import pipeline
    tmp.mkdir(parents=True, exist_ok=True)
    src = write_sources(tmp / "sources.yml", sim, harness_extra, projects)
    with environ(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SOURCES=str(src), SOURCES__HARNESS__API_KEY=key,
                 SEI_WAIT_SCALE="0.001", SEI_START_DATE=START, SOURCES__HARNESS__BASE_URL=None, **env):
        return pipeline.run(["harness"], full_refresh=full_refresh, progress=False)


def sim_get(sim, path: str):
    with urllib.request.urlopen(sim.url + path) as r:
        body = r.read()
    if path.startswith("/_sim/truth/"):
        return pd.read_json(io.StringIO(body.decode()), lines=True, dtype=False) if body.strip() else pd.DataFrame()
    return json.loads(body)


def sim_post(sim, path: str):
    req = urllib.request.Request(sim.url + path, data=b"", method="POST")
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def endpoint_counts(sim) -> dict[str, int]:
    return {ep: sum(codes.values()) for ep, codes in sim_get(sim, "/_sim/stats")["by_endpoint"].items()}


def harness_truth(sim) -> pd.DataFrame:
    t = sim_get(sim, "/_sim/truth/deployments")
    return t[t.tool == "harness"].set_index("plan_execution_id")


def query(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def executions(tmp: Path) -> pd.DataFrame:
    return query(tmp / "sei.duckdb", "SELECT * FROM raw_harness.pipeline_executions").set_index("plan_execution_id")


SNAPSHOT = {
    "pipeline_executions": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_harness.pipeline_executions",
    "stages": "SELECT e.plan_execution_id, s.* EXCLUDE (_dlt_root_id, _dlt_parent_id, _dlt_id) "
              "FROM raw_harness.pipeline_executions__stages s "
              "JOIN raw_harness.pipeline_executions e ON s._dlt_root_id = e._dlt_id",
    "services": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_harness.services",
    "environments": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_harness.environments",
}


def snapshot(db: Path) -> dict:
    """Every table as sorted rows (columns by name; URLs that embed the simulator's port left out)."""
    out = {}
    for name, sql in SNAPSHOT.items():
        df = query(db, sql)
        cols = sorted(c for c in df.columns if c not in URL_COLUMNS)
        out[name] = (cols, sorted(tuple("" if pd.isna(v) else str(v) for v in r)
                                  for r in df[cols].itertuples(index=False)))
    return out


def assert_same(a: dict, b: dict) -> None:
    for name in SNAPSHOT:
        assert a[name][0] == b[name][0], f"{name}: columns differ: {set(a[name][0]) ^ set(b[name][0])}"
        ra, rb = set(a[name][1]), set(b[name][1])
        assert ra == rb, f"{name}: {len(ra - rb)} rows only in the first, {len(rb - ra)} only in the second"
        assert len(a[name][1]) == len(b[name][1]), f"{name}: duplicate rows"


def resource(result, name: str):
    return next(r for r in result.source("harness").resources if r.resource == name)


def check_against_truth(got: pd.DataFrame, truth: pd.DataFrame) -> None:
    """Exactly the truth's Harness deployments, each with its status, times, environment
    and the commit its pipeline reveals (per harness_commit_via)."""
    assert len(got) == len(truth)
    assert set(got.index) == set(truth.index)
    g = got.loc[truth.index]
    assert list(g.status) == [STATUS[s] for s in truth.status]
    assert list(g.start_ts.dt.strftime("%Y-%m-%dT%H:%M:%SZ")) == list(truth.started_at)
    fin = [None if pd.isna(v) else v.strftime("%Y-%m-%dT%H:%M:%SZ") for v in g.end_ts]
    assert fin == [None if pd.isna(v) else v for v in truth.finished_at]
    assert list(g.environment_identifier) == list(truth.environment)
    assert list(g.environment_type) == ["Production" if e == "production" else "PreProduction"
                                        for e in truth.environment]
    assert list(g.is_finished) == [s != "in_progress" for s in truth.status]
    via = truth.harness_commit_via
    known = via.isin(["ci", "tag_sha"])
    assert list(g.deployed_commit_sha[known]) == list(truth.sha[known])
    assert set(g.deployed_commit_source[via == "ci"]) <= {"ci_stage"}
    assert set(g.deployed_commit_source[via == "tag_sha"]) <= {"artifact_tag"}
    semver = g[via == "tag_semver"]
    assert len(semver) and semver.deployed_commit_sha.isna().all()
    assert (semver.deployed_commit_source == "unknown").all() and semver.deployed_commit_unknown.all()
    assert not g.deployed_commit_unknown[known].any()
    assert set(g.project_id) == {"prj-payments"} and set(g.organisation_id) == {"org-payments"}
    assert set(g.account_id) == {"acme"} and set(g.harness_account_id) == {HARNESS_ACCOUNT}


# --------------------------------------------------------------------------- a shared clean full sync
@pytest.fixture(scope="module")
def baseline(tmp_path_factory):
    """A full sync of an untouched tiny world: (warehouse dir, snapshot, truth, result, requests)."""
    from simulator import generate
    from simulator.server import SimServer
    tmp = tmp_path_factory.mktemp("harness_baseline")
    with SimServer(generate("tiny", seed=7), time_scale=0.001) as s:
        r = sync(tmp, s)
        return tmp, snapshot(tmp / "sei.duckdb"), harness_truth(s), r, endpoint_counts(s)


# --------------------------------------------------------------------------- unit: commit rules
@pytest.mark.parametrize("ci, tag, want", [
    ("A" * 40, "17", ("a" * 40, None, "ci_stage")),
    (None, "b" * 40, ("b" * 40, None, "artifact_tag")),
    (None, "main-" + "c" * 40, ("c" * 40, None, "artifact_tag")),
    (None, "abc1234", (None, "abc1234", "artifact_tag_prefix")),
    (None, "1.4.37", (None, None, "unknown")),
    (None, None, (None, None, "unknown")),
])
def test_deployed_commit_rules(ci, tag, want):
    assert deployed_commit(ci, tag) == want


def test_stage_details_come_from_layout_node_map():
    """Real Harness puts serviceInfo / infraExecutionSummary per stage; with two CD stages
    the production one is the deployment; an older InfraExecutionSummary without `type`
    takes the type from the execution-level moduleInfo.cd."""
    def stage(uid, env, nxt, typ=True):
        infra = {"identifier": env, "name": env, **({"type": "Production" if env == "prod" else "PreProduction"}
                                                    if typ else {})}
        return {"nodeType": "Deployment", "nodeGroup": "STAGE", "nodeIdentifier": f"deploy_{env}", "nodeUuid": uid,
                "status": "Success", "module": "cd", "startTs": 1000, "endTs": 2000,
                "moduleInfo": {"cd": {"serviceInfo": {"identifier": "api", "displayName": "api", "artifacts": {
                                          "primary": {"imagePath": "r/api", "tag": f"t-{env}"}}},
                                      "infraExecutionSummary": infra}},
                "edgeLayoutList": {"currentNodeChildren": [], "nextIds": nxt}}
    e = {"planExecutionId": "x1", "pipelineIdentifier": "p", "orgIdentifier": "o", "projectIdentifier": "pr",
         "status": "Success", "startTs": 1000, "endTs": 2000, "startingNodeId": "s1",
         "layoutNodeMap": {"s2": stage("s2", "prod", [], typ=False), "s1": stage("s1", "qa", ["s2"])},
         "moduleInfo": {"cd": {"serviceIdentifiers": ["api"], "envIdentifiers": ["qa", "prod"],
                               "environmentTypes": ["PreProduction", "Production"]}}}
    row = execution_row(e, "acct", {"project_id": "p1"}, "https://h")
    assert [s["stage_identifier"] for s in row["stages"]] == ["deploy_qa", "deploy_prod"]
    assert row["environment_identifier"] == "prod" and row["environment_type"] == "Production"
    assert row["artifact_tag"] == "t-prod" and row["deployed_commit_source"] == "unknown"
    assert row["cd_stage_count"] == 2 and row["project_id"] == "p1"


def test_a_key_of_another_account_is_recognised():
    """Real Harness answers a key of another account with 400 'Invalid account token access'
    (TokenValidationHelper); the simulator answers 401. Both name the account."""
    import requests
    from ingestion.harness import is_account_error, make_integration
    resp = requests.Response()
    resp.status_code = 400
    resp._content = json.dumps({"status": "ERROR", "code": "INVALID_REQUEST",
                                "message": "Invalid request: Invalid account token access tok1"}).encode()
    assert is_account_error(resp)
    msg = make_integration("acmeAccount", "pat.otherAcct.tok1.secret").describe(resp, "POST /x")
    assert "'otherAcct', not 'acmeAccount'" in msg and "SOURCES__HARNESS__API_KEY" in msg
    resp._content = b'{"status":"ERROR","code":"INVALID_REQUEST","message":"Invalid request: page must be >= 0"}'
    assert not is_account_error(resp)


# --------------------------------------------------------------------------- full sync
def test_full_sync_loads_exactly_the_harness_deployments(baseline):
    tmp, _, truth, r, requests = baseline
    assert r.ok, r.source("harness").error_message
    got = executions(tmp)
    check_against_truth(got, truth)
    # the flagged ones are kept: a version tag and no CI stage
    assert got.deployed_commit_unknown.sum() == (truth.harness_commit_via == "tag_semver").sum()
    ex = resource(r, "pipeline_executions")
    assert ex.rows == len(truth) and ex.requests == requests["harness.executions"] == math.ceil(len(truth) / 100)
    stages = query(tmp / "sei.duckdb", "SELECT count(*) AS n FROM raw_harness.pipeline_executions__stages").n[0]
    assert stages == len(truth) + (truth.harness_commit_via == "ci").sum()  # CI pipelines have a build stage
    svc = query(tmp / "sei.duckdb", "SELECT * FROM raw_harness.services")
    assert set(svc.identifier) == {"beacon_api", "comet_worker", "delta_worker"}
    env = query(tmp / "sei.duckdb", "SELECT identifier, type FROM raw_harness.environments")
    assert dict(zip(env.identifier, env.type)) == {"production": "Production", "staging": "PreProduction"}
    runs = query(tmp / "sei.duckdb", "SELECT * FROM ops.ingest_resources WHERE source = 'harness'")
    assert set(runs.resource) >= {"services", "environments", "pipeline_executions"}
    assert runs.set_index("resource").cursor_value["pipeline_executions"]


def test_second_sync_costs_one_request_per_resource_and_project(fresh_sim, tmp_path):
    s = fresh_sim()
    assert sync(tmp_path, s).ok
    before = endpoint_counts(s)
    r = sync(tmp_path, s)
    assert r.ok
    after = endpoint_counts(s)
    used = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}
    running = (harness_truth(s).status == "in_progress").sum()
    assert used["harness.services"] == 1 and used["harness.environments"] == 1
    assert 1 <= used["harness.executions"] <= 1 + running
    assert resource(r, "pipeline_executions").rows == 0  # nothing changed: nothing re-loaded


def test_clock_advance_fetches_only_new_and_changed_and_equals_a_fresh_sync(fresh_sim, tmp_path, baseline):
    s = fresh_sim()
    inc = tmp_path / "incremental"
    assert sync(inc, s).ok
    assert_same(snapshot(inc / "sei.duckdb"), baseline[1])
    before = harness_truth(s)
    sim_post(s, "/_sim/advance?hours=72")
    after = harness_truth(s)
    new = set(after.index) - set(before.index)
    changed = {p for p in before.index if before.status[p] != after.status[p]}
    assert new  # three days bring new executions
    c0 = endpoint_counts(s)
    r = sync(inc, s)
    assert r.ok
    used = endpoint_counts(s)["harness.executions"] - c0["harness.executions"]
    assert resource(r, "pipeline_executions").rows == len(new | changed)
    assert used <= 1 + (before.status == "in_progress").sum()  # one page of new ones, plus running re-reads
    fresh = tmp_path / "fresh"
    assert sync(fresh, s).ok
    assert_same(snapshot(inc / "sei.duckdb"), snapshot(fresh / "sei.duckdb"))
    check_against_truth(executions(inc), after)


def test_running_execution_is_reread_until_finished(fresh_sim, tmp_path):
    """An execution still running when read is read again (by itself, once it is older
    than the listing window) until Harness reports a final status."""
    s = fresh_sim()
    w = s.world
    d = w["deployments"]
    d = d[(d.tool == "harness") & (d.started_at > w.now)].sort_values("started_at")
    rows = list(d.itertuples())
    x, y = next((a, b) for a, b in zip(rows, rows[1:]) if b.started_at < a.finished_at)
    sim_post(s, f"/_sim/advance?hours={(y.started_at - w.now + 1) / 3600}")
    extra = "    lookback_minutes: 0"
    assert sync(tmp_path, s, harness_extra=extra).ok
    got = executions(tmp_path)
    assert got.status[x.plan_execution_id] == "Running" and not got.is_finished[x.plan_execution_id]
    assert pd.isna(got.end_ts[x.plan_execution_id])
    # later: both finished, and newer executions started after them
    nxt = d[d.started_at > max(x.finished_at, y.finished_at)].started_at.iloc[0]
    sim_post(s, f"/_sim/advance?hours={(nxt - w.now + 60) / 3600}")
    c0 = endpoint_counts(s)
    assert sync(tmp_path, s, harness_extra=extra).ok
    assert endpoint_counts(s)["harness.executions"] - c0["harness.executions"] == 2  # the window + x alone
    got = executions(tmp_path)
    truth = harness_truth(s)
    for e in (x, y):
        assert got.status[e.plan_execution_id] == STATUS[truth.status[e.plan_execution_id]]
        assert got.is_finished[e.plan_execution_id]
    check_against_truth(got, truth)


# --------------------------------------------------------------------------- faults and errors
def test_faults_give_the_same_warehouse_with_retries_in_ops(fresh_sim, tmp_path, baseline):
    s = fresh_sim(faults="429:0.1,500:0.05,reset:0.02")
    r = sync(tmp_path, s, harness_extra="    page_size: 2")  # ~130 requests: about 13 429s, 6 500s, 3 resets
    assert r.ok, r.source("harness").error_message
    assert_same(snapshot(tmp_path / "sei.duckdb"), baseline[1])
    faults = sim_get(s, "/_sim/stats")["faults"]
    assert faults.get("429", 0) >= 3 and sum(faults.values()) >= 6, faults
    ops = query(tmp_path / "sei.duckdb", "SELECT * FROM ops.ingest_resources WHERE source = 'harness'")
    assert ops.retries.sum() >= sum(faults.values())
    assert ops.ratelimit_waits.sum() >= faults["429"]  # Harness 429s: no Retry-After, backed off anyway
    assert (ops.status == "success").all()


def test_bad_key_and_wrong_account_say_what_to_do(sim, tmp_path):
    r = sync(tmp_path / "key", sim, key="pat.acmeAccount.token.wrong")
    res = r.source("harness")
    assert res.status == "failed"
    assert "SOURCES__HARNESS__API_KEY" in res.error_message and "acmeAccount" in res.error_message
    assert "Token is not valid" in res.error_message
    # a valid key, but integrations.harness.account_id names another account
    (tmp_path / "acct").mkdir()
    src = write_sources(tmp_path / "acct" / "sources.yml", sim)
    src.write_text(src.read_text().replace("account_id: acmeAccount", "account_id: otherAccount"))
    from ingestion import pipeline
    with environ(SEI_WAREHOUSE=str(tmp_path / "acct" / "sei.duckdb"), SEI_SOURCES=str(src),
                 SOURCES__HARNESS__API_KEY=HARNESS_API_KEY, SEI_WAIT_SCALE="0.001", SEI_START_DATE=START):
        res = pipeline.run(["harness"], progress=False).source("harness")
    assert res.status == "failed"
    assert "otherAccount" in res.error_message and "integrations.harness.account_id" in res.error_message
    r = sync(tmp_path / "none", sim, key=None)
    assert r.source("harness").status == "failed"
    assert "SOURCES__HARNESS__API_KEY" in r.source("harness").error_message


def test_one_failing_project_does_not_stop_the_others(fresh_sim, tmp_path):
    s = fresh_sim()
    real = next(h for m, rx, name, h in s.router.routes if name == "harness.executions")

    def flaky(req, sim):  # a project the key may not read
        if req.arg("projectIdentifier") == "locked":
            return Response.json(403, {"status": "ERROR", "code": "NG_ACCESS_DENIED",
                                       "message": "Missing permission core_pipeline_view on pipeline",
                                       "correlationId": "x", "detailedMessage": None, "responseMessages": []})
        return real(req, sim)
    s.router.routes.insert(0, ("POST", re.compile(r"/pipeline/api/pipelines/execution/summary\Z"),
                               "harness.executions", flaky))
    projects = """      - id: prj-payments
        harness: [{org: payments, project: prj_payments}]
      - id: prj-locked
        harness: [{org: payments, project: locked}]"""
    r = sync(tmp_path, s, projects=projects)
    res = r.source("harness")
    assert res.status == "partial"
    ex = resource(r, "pipeline_executions")
    assert ex.status == "partial" and "payments/locked" in ex.error_message
    assert "Missing permission core_pipeline_view" in ex.error_message and "Pipelines View" in ex.error_message
    check_against_truth(executions(tmp_path), harness_truth(s))


def test_configured_services_filter_executions(sim, tmp_path):
    projects = """      - id: prj-payments
        harness: [{org: payments, project: prj_payments, services: [beacon_api, no_such_service]}]"""
    r = sync(tmp_path, sim, projects=projects)
    res = r.source("harness")
    assert res.status == "partial" and "no_such_service" in res.error_message  # a listed service Harness lacks
    got = executions(tmp_path)
    truth = harness_truth(sim)
    svc = sim_get(sim, "/_sim/truth/services").set_index("service_id")
    want = truth[truth.service_id.map(svc.harness_service_id) == "beacon_api"]
    assert set(got.index) == set(want.index) and len(want)
    assert set(got.service_identifier) == {"beacon_api"}
    assert set(query(tmp_path / "sei.duckdb", "SELECT identifier FROM raw_harness.services").identifier) == \
        {"beacon_api"}
    # services added to the sources file later: their history is read too, not only what is newer
    r = sync(tmp_path, sim)
    assert r.ok, r.source("harness").error_message
    check_against_truth(executions(tmp_path), truth)


@pytest.mark.slow
def test_projects_read_at_once_load_what_one_at_a_time_loads(fresh_sim, tmp_path):
    """The small org has two Harness projects: read at once (the default, 4 at a time) they
    load exactly the truth's deployments, and the same rows as one at a time."""
    s = fresh_sim("small", seed=1)
    r = sync(tmp_path / "at_once", s)
    assert r.ok, r.source("harness").error_message
    truth = harness_truth(s)
    got = executions(tmp_path / "at_once")
    assert set(got.index) == set(truth.index) and len(got) == len(truth) > 1000
    assert got.project_id.nunique() == 2
    g = got.loc[truth.index]
    assert list(g.status) == [STATUS[x] for x in truth.status]
    known = truth.harness_commit_via.isin(["ci", "tag_sha"])
    assert list(g.deployed_commit_sha[known]) == list(truth.sha[known])
    r1 = sync(tmp_path / "one", s, harness_extra="    concurrency: 1")
    assert r1.ok, r1.source("harness").error_message
    assert_same(snapshot(tmp_path / "at_once" / "sei.duckdb"), snapshot(tmp_path / "one" / "sei.duckdb"))
