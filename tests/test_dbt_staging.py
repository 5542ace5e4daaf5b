"""dbt staging on a real warehouse: the tiny simulated org loaded through the ingestion
pipeline (GitHub, and Harness / events / Jira when their connectors exist), one
repository deleted upstream and reconciled, then `dbt build` and `dbt source freshness`
as a user runs them (subprocess, the project's profiles.yml, SEI_WAREHOUSE).

Checks real values: staging row counts against the simulator's truth, timestamps as UTC,
durations from the duration_hours macro against Python, the soft delete, deduplication of
a stale duplicate planted in a raw table, every dbt test passing, and that a warehouse
without some sources (or tables) still builds, with the same typed columns.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

import duckdb
import pandas as pd
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt_staging")]

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"
DELETED_REPO = "acme-payments/shared-libs"   # no service deploys from it: deployments stay untouched
DELETED_ISSUE = "PAY-20"
STALE_TITLE = "STALE VERSION (planted by the test)"


def connector(name: str) -> bool:
    return importlib.util.find_spec(f"ingestion.{name}") is not None


HAS = {name: connector(name) for name in ("github", "jira", "harness", "events")}
HAS["events"] = HAS["events"] and importlib.util.find_spec("simulator.export_events") is not None
JIRA_MODELS = ("issues", "issue_changelogs", "issue_sprints", "issue_labels", "issue_components", "users", "boards",
               "sprints")


# --------------------------------------------------------------------------- helpers
from tests.helpers import environ  # noqa: E402  (re-exported for other test modules)


PARSE_CACHE = Path(tempfile.gettempdir()) / f"sei-tests-dbt-parse-{os.getuid()}"


@functools.cache
def _project_hash() -> str:
    """The dbt project's files, hashed: a saved parse is shared only by builds of the same project."""
    h = hashlib.sha256()
    for f in sorted(p for p in PROJECT.rglob("*") if p.is_file() and not {"target", "logs", "dbt_packages"}
                    & set(p.relative_to(PROJECT).parts)):
        h.update(str(f.relative_to(PROJECT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


def dbt(args: list[str], warehouse: Path, target: Path) -> subprocess.CompletedProcess:
    """dbt as a user runs it, on `warehouse`. It runs in a folder of its own where a link of the
    warehouse's name points at it, with SEI_WAREHOUSE set to that name: dbt keys its saved parse
    (partial_parse.msgpack) on the profile, path included, and a relative path lets every
    build of the session start from one saved parse per file name and set of vars instead of
    parsing the whole project again (about 7 s of CPU a build, dozens of builds in `make
    test`). The name stays the file's own: DuckDB names the catalog after the file it opens,
    and the models' relations after the profile's path. dbt itself checks the saved parse
    against the project and parses afresh what changed."""
    target.mkdir(parents=True, exist_ok=True)
    cwd = target / "cwd"
    cwd.mkdir(exist_ok=True)
    link = cwd / Path(warehouse).name
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(warehouse).resolve())
    vars_ = args[args.index("--vars") + 1] if "--vars" in args else ""
    key = hashlib.sha256(f"{link.name}\0{vars_}".encode()).hexdigest()[:12]
    cached = PARSE_CACHE / f"{_project_hash()}-{key}.msgpack"
    saved = target / "partial_parse.msgpack"
    if cached.exists() and not saved.exists():
        shutil.copy(cached, saved)
    env = {"SEI_WAREHOUSE": link.name, "PATH": f"{DBT.parent}:/usr/bin:/bin", "HOME": str(target),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "SEI_DBT_TARGET": "duckdb"}
    proc = subprocess.run([str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                           "--target-path", str(target), "--log-path", str(target / "logs")],
                          capture_output=True, text=True, env=env, timeout=600, cwd=cwd)
    if proc.returncode == 0 and saved.exists() and not cached.exists():
        PARSE_CACHE.mkdir(exist_ok=True)
        part = cached.with_suffix(f".{os.getpid()}.part")   # two xdist workers may save at once
        shutil.copy(saved, part)
        os.replace(part, cached)
    return proc


def query(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def truth(url: str, table: str) -> pd.DataFrame:
    with urllib.request.urlopen(f"{url}/_sim/truth/{table}") as r:
        body = r.read().decode()
    return pd.read_json(io.StringIO(body), lines=True, dtype=False) if body.strip() else pd.DataFrame()


def run_pull_requests(url: str, repos, token: str) -> dict[int, str | None]:
    """Run id -> the numbers in GitHub's own `pull_requests` array of the run (the listing
    without `exclude_pull_requests`), comma-separated, ascending; None when empty."""
    out = {}
    for repo in repos:
        page = 1
        while True:
            req = urllib.request.Request(f"{url}/repos/{repo}/actions/runs?per_page=100&page={page}",
                                         headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(req) as r:
                runs = json.loads(r.read())["workflow_runs"]
            for run in runs:
                nums = sorted(p["number"] for p in run["pull_requests"])
                out[run["id"]] = ",".join(map(str, nums)) or None
            if len(runs) < 100:
                break
            page += 1
    return out


def utc(iso: str | None) -> dt.datetime | None:
    """Truth's ISO timestamp -> naive UTC datetime (what staging holds)."""
    if iso is None or (isinstance(iso, float) and pd.isna(iso)):
        return None
    return dt.datetime.fromisoformat(str(iso).replace("Z", "+00:00")).astimezone(dt.timezone.utc).replace(tzinfo=None)


def from_epoch(seconds) -> dt.datetime:
    """The simulator's epoch seconds -> naive UTC datetime."""
    return dt.datetime(1970, 1, 1) + dt.timedelta(seconds=int(seconds))


def naive(ts) -> dt.datetime | None:
    return None if ts is None or pd.isna(ts) else pd.Timestamp(ts).to_pydatetime()


def columns(db: Path, schema: str) -> dict[str, list[tuple[str, str]]]:
    df = query(db, f"select table_name, column_name, data_type from information_schema.columns "
                   f"where table_schema = '{schema}' order by table_name, ordinal_position")
    return {t: list(zip(g.column_name, g.data_type)) for t, g in df.groupby("table_name", sort=True)}


def run_results(target: Path) -> pd.DataFrame:
    res = json.loads((target / "run_results.json").read_text())["results"]
    return pd.DataFrame([{"id": r["unique_id"], "status": r["status"], "failures": r.get("failures")} for r in res])


# --------------------------------------------------------------------------- the warehouse, built once
@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from ingestion import pipeline
    from ingestion.reconcile import reconcile
    from simulator import generate
    from simulator.export import export_sources
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    from simulator.server import SimServer

    tmp = tmp_path_factory.mktemp("dbt_staging")
    db = tmp / "sei.duckdb"
    world = generate("tiny", seed=7)  # its own world: the test deletes a repository upstream
    with SimServer(world, time_scale=0.001) as sim:
        events = None
        if HAS["events"]:
            from simulator.export_events import export_events
            events = export_events(world, tmp / "events")
        src = export_sources(world, tmp / "sources.yml", sim.url, events)
        sources = [s for s in ("github", "jira", "harness", "events") if HAS[s]]
        env = dict(SEI_WAREHOUSE=db, SEI_SOURCES=src, SEI_WAIT_SCALE="0.001",
                   SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__HARNESS__API_KEY=HARNESS_API_KEY,
                   SOURCES__JIRA__EMAIL=JIRA_EMAIL, SOURCES__JIRA__API_TOKEN=JIRA_TOKEN,
                   SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None)
        with environ(**env):
            result = pipeline.run(sources, progress=False)
            assert result.ok, [(s.source, s.status, s.error_message) for s in result.sources]
            t = {name: truth(sim.url, name) for name in ("pull_requests", "repositories", "services", "deployments",
                                                         "incidents")}
            t["run_pull_requests"] = run_pull_requests(sim.url, t["repositories"].full_name, GITHUB_TOKEN)
            if HAS["jira"]:
                from simulator import views
                t["issues"], t["sprints"] = views.issues(world).copy(), views.sprints(world).copy()
                t["changelog"] = views.changelog(world).copy()
            # deleted upstream, found by the nightly pass -> `_sei_deleted_at` in raw
            urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/delete?repository={DELETED_REPO}",
                                                          method="POST")).read()
            if HAS["jira"]:
                urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/delete?issue={DELETED_ISSUE}",
                                                              method="POST")).read()
            rec = reconcile([s for s in ("github", "jira") if HAS[s]])
            assert all(r.error is None for r in rec), rec
            assert rec[0].deleted == [DELETED_REPO]

    # A stale older version of one PR next to its current row: staging must keep the current one.
    con = duckdb.connect(str(db))
    planted = con.execute("select id, title from raw_github.pull_requests where repository = 'acme-payments/atlas-api' "
                          "and merged_at is not null order by number limit 1").fetchone()
    con.execute(f"""insert into raw_github.pull_requests by name
        select * replace ('{STALE_TITLE}' as title, updated_at - interval 3 day as updated_at,
                          'STALE' || _dlt_id as _dlt_id, '1000000000.0' as _dlt_load_id)
        from raw_github.pull_requests where id = ?""", [planted[0]])
    con.close()

    target = tmp / "target"
    build = dbt(["build"], db, target)
    results = run_results(target) if (target / "run_results.json").exists() else pd.DataFrame()
    fresh = dbt(["source", "freshness"], db, tmp / "target_freshness")
    return {"db": db, "tmp": tmp, "truth": t, "build": build, "results": results, "freshness": fresh,
            "freshness_results": tmp / "target_freshness" / "sources.json", "planted": planted}


# --------------------------------------------------------------------------- dbt itself
def test_dbt_build_succeeds_and_every_test_passes(built):
    b = built["build"]
    assert b.returncode == 0, b.stdout[-5000:] + b.stderr[-2000:]
    r = built["results"]
    models = r[r.id.str.startswith("model.")]
    tests = r[r.id.str.startswith("test.")]
    assert set(models.status) == {"success"}
    assert len(tests) > 200 and set(tests.status) == {"pass"}, tests[tests.status != "pass"].to_string()
    # the macro tests with hand-computed values are among them
    for name in ("assert_duration_hours_is_exact", "assert_epoch_ms_to_timestamp", "assert_jira_timestamp",
                 "assert_utc_timestamps", "assert_deduplicate_keeps_latest", "assert_staging_source_column_kinds"):
        assert (tests.id == f"test.sei.{name}").sum() == 1, name
    print(f"\ndbt build: {len(models)} models, {len(tests)} tests, all pass")


def test_source_freshness_runs(built):
    f = built["freshness"]
    assert f.returncode == 0, f.stdout[-4000:] + f.stderr[-2000:]
    res = json.loads(built["freshness_results"].read_text())["results"]
    status = {r["unique_id"].split(".", 2)[2]: r["status"] for r in res}
    # just loaded: every checked table passes; nested dlt tables are not checked
    assert set(status.values()) == {"pass"}, status
    assert "github.pull_requests" in status and "github.repositories" in status and "ops.ingest_runs" in status
    assert "github.pull_requests__reviews" not in status
    if HAS["harness"]:
        assert "harness.pipeline_executions" in status


# --------------------------------------------------------------------------- GitHub against the truth
def test_pull_requests_equal_the_truth(built):
    db, t = built["db"], built["truth"]["pull_requests"]
    stg = query(db, "select * from staging.stg_github__pull_requests")
    # per repository: exactly the simulator's PRs (the planted stale duplicate is gone)
    want = t.groupby("repository").size().sort_index()
    have = stg.groupby("repository_full_name").size().sort_index()
    assert have.to_dict() == want.to_dict() and len(stg) == len(t) > 500
    assert stg.pull_request_id.is_unique
    # state, timestamps (UTC, no time zone) and merge commits row by row
    m = stg.merge(t, left_on=["repository_full_name", "pull_request_number"], right_on=["repository", "number"],
                  suffixes=("", "_truth"), validate="one_to_one")
    assert (m.state == m.state_truth.str.lower()).all()
    assert [naive(x) for x in m.created_at] == [utc(x) for x in m.created_at_truth]
    assert [naive(x) for x in m.merged_at] == [utc(x) for x in m.merged_at_truth]
    merged = m[m.state == "merged"]
    assert (merged.merge_commit_sha == merged.merge_commit_sha_truth).all()
    # the planted older version lost to the current one
    row = stg[stg.pull_request_id == built["planted"][0]]
    assert len(row) == 1 and row.title.iloc[0] == built["planted"][1] != STALE_TITLE
    assert query(db, f"select count(*) n from raw_github.pull_requests where id = '{built['planted'][0]}'").n[0] == 2


def test_durations_equal_python(built):
    """duration_hours on real rows: exact (end - start) seconds / 3600, as Python computes it."""
    db, t = built["db"], built["truth"]["pull_requests"]
    stg = query(db, "select repository_full_name, pull_request_number, open_to_merge_hours "
                    "from staging.stg_github__pull_requests where is_merged")
    m = stg.merge(t, left_on=["repository_full_name", "pull_request_number"], right_on=["repository", "number"])
    py = [(utc(e) - utc(s)).total_seconds() / 3600 for s, e in zip(m.created_at, m.merged_at)]
    assert len(m) > 300
    assert max(abs(a - b) for a, b in zip(m.open_to_merge_hours, py)) < 1e-9
    # fractional hours survive (datediff would have rounded them to whole hours)
    assert (m.open_to_merge_hours % 1 != 0).mean() > 0.9
    runs = query(db, "select r.run_started_at, r.updated_at, s.run_duration_hours, s.status "
                     "from raw_github.workflow_runs r join staging.stg_github__workflow_runs s on s.workflow_run_id = r.id")
    done = runs[runs.status == "completed"].head(200)
    py = [(b - a).total_seconds() / 3600 for a, b in zip(done.run_started_at, done.updated_at)]
    assert max(abs(a - b) for a, b in zip(done.run_duration_hours, py)) < 1e-9


def test_workflow_runs_link_to_the_pull_requests_github_lists(built):
    """Runs are read with `exclude_pull_requests=true`; int_github__workflow_runs links them
    to PRs by head branch and commit. The result equals GitHub's own `pull_requests` arrays, read from
    the listing without the parameter."""
    want = built["truth"]["run_pull_requests"]
    stg = query(built["db"], "select workflow_run_id, trigger_event, pull_request_numbers "
                             "from intermediate.int_github__workflow_runs")
    assert query(built["db"], "select count(*) n from raw_github.workflow_runs").n[0] == len(stg) > 1000
    have = {int(i): (None if pd.isna(n) else n) for i, n in zip(stg.workflow_run_id, stg.pull_request_numbers)}
    # the listing also has runs created before the sources file's start_date, which are not loaded
    assert set(have) <= set(want)
    assert have == {i: want[i] for i in have}
    linked = stg[stg.pull_request_numbers.notna()]
    assert len(linked) > 300 and set(linked.trigger_event) == {"pull_request"}


def test_soft_deleted_repository_is_flagged_not_dropped(built):
    db, t = built["db"], built["truth"]["pull_requests"]
    repos = query(db, "select * from staging.stg_github__repositories")
    assert set(repos.repository_full_name) == set(built["truth"]["repositories"].full_name)
    assert repos.set_index("repository_full_name").is_deleted.to_dict() == \
        {r: r == DELETED_REPO for r in repos.repository_full_name}
    assert repos[repos.is_deleted].deleted_at.notna().all()
    for model in ("stg_github__pull_requests", "stg_github__commits", "stg_github__workflow_runs",
                  "stg_github__pull_request_reviews", "stg_github__commit_parents"):
        df = query(db, f"select repository_full_name, is_deleted from staging.{model}")
        gone = df[df.repository_full_name == DELETED_REPO]
        assert len(gone) > 0 and gone.is_deleted.all(), model
        assert not df[df.repository_full_name != DELETED_REPO].is_deleted.any(), model
    assert (query(db, "select count(*) n from staging.stg_github__pull_requests where is_deleted").n[0]
            == (t.repository == DELETED_REPO).sum())


def test_github_children_and_deployments(built):
    db, t = built["db"], built["truth"]
    # every PR the simulator linked to a Jira issue carries that key
    keys = query(db, "select repository_full_name, pull_request_number, jira_issue_key "
                     "from staging.stg_github__pull_request_jira_keys")
    found = set(zip(keys.repository_full_name, keys.pull_request_number, keys.jira_issue_key))
    pr = t["pull_requests"]
    linked = {(r, int(n), k) for r, n, k in zip(pr.repository, pr.number, pr.jira_key) if isinstance(k, str)}
    assert linked and linked <= found
    # reviews and labels point at real PRs and keep raw's counts
    for model, raw in (("stg_github__pull_request_reviews", "pull_requests__reviews"),
                       ("stg_github__pull_request_labels", "pull_requests__labels"),
                       ("stg_github__commit_parents", "commits__parents")):
        assert query(db, f"select count(*) n from staging.{model}").n[0] == \
            query(db, f"select count(*) n from raw_github.{raw}").n[0], model
    # first parents agree with the commits' own first_parent_sha
    bad = query(db, """select count(*) n from staging.stg_github__commits c
                       join staging.stg_github__commit_parents p
                         on p.repository_full_name = c.repository_full_name and p.commit_sha = c.commit_sha
                       where p.is_first_parent and p.parent_sha <> c.first_parent_sha""").n[0]
    assert bad == 0
    # GitHub deployments: exactly the simulator's, with their commits
    dep = query(db, "select deployment_id, commit_sha, environment_name from staging.stg_github__deployments")
    td = t["deployments"][t["deployments"].tool == "github"]
    assert dict(zip(dep.deployment_id, dep.commit_sha)) == dict(zip(td.gh_deployment_id.astype(int), td.sha))
    assert dict(zip(dep.deployment_id, dep.environment_name)) == dict(zip(td.gh_deployment_id.astype(int), td.environment))


def test_timestamps_are_utc_without_time_zone_and_scope_is_carried(built):
    db = built["db"]
    cols = columns(db, "staging")
    ts_cols = [(m, c, ty) for m, cs in cols.items() for c, ty in cs if c.endswith("_at")]
    assert len(ts_cols) > 60
    assert {ty for _, _, ty in ts_cols} == {"TIMESTAMP"}, [x for x in ts_cols if x[2] != "TIMESTAMP"]
    # every fact carries its project (ops tables, the org import and the profiles are not project-scoped)
    for model, cs in cols.items():
        names = [c for c, _ in cs]
        if model.startswith(("stg_ops__", "stg_org__", "stg_config__")):
            continue
        assert {"project_id", "organisation_id", "account_id", "is_deleted"} <= set(names), model
        n_null = query(db, f"select count(*) n from staging.{model} where project_id is null").n[0]
        assert n_null == 0, model


# --------------------------------------------------------------------------- Harness, events, Jira, ops
def test_harness_executions_equal_the_truth(built):
    if not HAS["harness"]:
        pytest.skip("ingestion/harness.py does not exist yet: nothing loads raw_harness")
    db, t = built["db"], built["truth"]
    th = t["deployments"][t["deployments"].tool == "harness"]
    ex = query(db, "select * from staging.stg_harness__pipeline_executions")
    assert ex.pipeline_execution_id.is_unique
    dep = ex[ex.is_deployment]
    assert set(dep.pipeline_execution_id) == set(th.plan_execution_id) and len(dep) == len(th) > 100
    m = dep.merge(th, left_on="pipeline_execution_id", right_on="plan_execution_id", suffixes=("", "_truth"))
    assert (m.status == m.status_truth).all()
    assert (m.environment_type.map({"Production": "production", "PreProduction": "staging"}) == m.environment).all()
    known = m[m.deployed_commit_sha.notna()]
    assert len(known) > len(m) / 2 and (known.deployed_commit_sha == known.sha.str.lower()).all()
    # durations: the macro against Python on the raw timestamps
    raw = query(db, "select plan_execution_id, start_ts, end_ts from raw_harness.pipeline_executions")
    j = ex.merge(raw, left_on="pipeline_execution_id", right_on="plan_execution_id")
    py = [(b - a).total_seconds() / 3600 for a, b in zip(j.start_ts, j.end_ts)]
    assert max(abs(a - b) for a, b in zip(j.execution_duration_hours, py)) < 1e-9
    stages = query(db, "select count(*) n from staging.stg_harness__pipeline_execution_stages").n[0]
    assert stages == query(db, "select count(*) n from raw_harness.pipeline_executions__stages").n[0] > len(ex)
    svc = query(db, "select service_identifier from staging.stg_harness__services")
    ts = t["services"]
    assert set(svc.service_identifier) == set(ts[ts.deploy_tool == "harness"].harness_service_id)


def test_events_equal_the_truth(built):
    if not HAS["events"]:
        pytest.skip("ingestion/events.py (or simulator/export_events.py) does not exist yet: nothing loads raw_events")
    from simulator.export_events import jenkins_deployment_id, pagerduty_incident_id
    db, t = built["db"], built["truth"]
    name = t["services"].set_index("service_id")["name"]
    tool = t["services"].set_index("service_id")["incident_tool"]
    dep = query(db, "select * from staging.stg_events__deployments").set_index("deployment_id")
    tj = t["deployments"][t["deployments"].tool == "jenkins"].copy()
    tj.index = [jenkins_deployment_id(name[s], int(b)) for s, b in zip(tj.service_id, tj.build_number)]
    assert sorted(dep.index) == sorted(tj.index) and len(dep) > 50
    tj = tj.loc[dep.index]
    assert (dep.status == tj.status).all() and (dep.commit_sha == tj.sha.str.lower()).all()
    assert [naive(x) for x in dep.started_at] == [utc(x) for x in tj.started_at]
    assert [naive(x) for x in dep.finished_at] == [utc(x) for x in tj.finished_at]
    py = [(utc(b) - utc(a)).total_seconds() / 3600 for a, b in zip(tj.started_at, tj.finished_at)]
    assert max(abs(x - y) for x, y in zip(py, dep.deployment_duration_hours)) < 1e-9
    inc = query(db, "select * from staging.stg_events__incidents").set_index("incident_id")
    ti = t["incidents"][t["incidents"].service_id.map(tool) == "pagerduty"].copy()
    ti.index = [pagerduty_incident_id(int(i)) for i in ti.incident_id]
    assert sorted(inc.index) == sorted(ti.index) and len(inc) > 0
    ti = ti.loc[inc.index]
    assert [naive(x) for x in inc.opened_at] == [utc(x) for x in ti.opened_at]
    py = [(utc(b) - utc(a)).total_seconds() / 3600 if utc(b) else None for a, b in zip(ti.opened_at, ti.resolved_at)]
    assert all((x is None and pd.isna(y)) or abs(x - y) < 1e-9 for x, y in zip(py, inc.time_to_resolve_hours))


def test_jira_issues_equal_the_simulator(built):
    if not HAS["jira"]:
        pytest.skip("ingestion/jira.py does not exist yet: nothing loads raw_jira")
    db, t = built["db"], built["truth"]
    ti = t["issues"].set_index("key")
    iss = query(db, "select * from staging.stg_jira__issues").set_index("issue_key")
    assert sorted(iss.index) == sorted(ti.index) and len(iss) > 500 and iss.issue_id.is_unique
    ti = ti.loc[iss.index]
    assert (iss.status == ti.status).all() and (iss.issue_type == ti.type).all()
    assert iss.story_points.fillna(-1).tolist() == ti.points_now.fillna(-1).tolist()
    assert [naive(x) for x in iss.created_at] == [from_epoch(v) for v in ti.created_at]
    done = ti.resolved_at_now >= 0
    assert (iss.resolved_at.notna() == done).all() and done.sum() > 300
    py = [(int(r) - int(c)) / 3600 for c, r in zip(ti.created_at[done], ti.resolved_at_now[done])]
    assert max(abs(a - b) for a, b in zip(iss.created_to_resolved_hours[done], py)) < 1e-9
    # the issue deleted upstream is flagged, with its changelog, not dropped
    assert iss.is_deleted.to_dict() == {k: k == DELETED_ISSUE for k in iss.index}
    cl = query(db, "select issue_key, is_deleted from staging.stg_jira__issue_changelogs")
    assert len(cl) == len(t["changelog"])
    assert cl[cl.issue_key == DELETED_ISSUE].is_deleted.all() and not cl[cl.issue_key != DELETED_ISSUE].is_deleted.any()
    assert (cl.issue_key == DELETED_ISSUE).sum() > 0
    # sprints: the simulator's, with their states; issue sprint memberships as the issues say
    sp = query(db, "select sprint_id, state from staging.stg_jira__sprints")
    ts = t["sprints"]
    assert dict(zip(sp.sprint_id, sp.state)) == dict(zip(ts.sprint_id.astype(int), ts.state))
    isp = query(db, "select issue_key, sprint_id from staging.stg_jira__issue_sprints")
    want = {(k, int(s)) for k, ids in zip(t["issues"].key, t["issues"].sprint_ids) for s in ids}
    assert set(zip(isp.issue_key, isp.sprint_id)) == want and len(isp) == len(want)
    lab = query(db, "select issue_key, label_name from staging.stg_jira__issue_labels")
    want = {(k, x) for k, ls in zip(t["issues"].key, t["issues"].labels) if isinstance(ls, str) for x in ls.split(";") if x}
    assert set(zip(lab.issue_key, lab.label_name)) == want


def test_ops_runs_are_staged(built):
    db = built["db"]
    runs = query(db, "select * from staging.stg_ops__ingest_runs")
    raw = query(db, "select * from ops.ingest_runs")
    assert len(runs) == len(raw) >= 1 and set(runs.status) <= {"success", "partial", "failed", "skipped"}
    res = query(db, "select * from staging.stg_ops__ingest_resources where source_name = 'github' "
                    "and resource_name = 'pull_requests'")
    assert res.rows_loaded.iloc[0] == len(built["truth"]["pull_requests"])
    assert all(abs(h - s / 3600) < 1e-6 for h, s in zip(runs.duration_hours, runs.duration_seconds))


# --------------------------------------------------------------------------- sources that are not there
def test_missing_sources_and_tables_still_build_with_the_same_columns(built):
    """A warehouse with GitHub only (Jira, Harness and events not configured), a nested table dlt
    has not created yet and a column dlt has not added yet: `dbt build` still succeeds,
    those models are empty, and every staging model has the same columns and types."""
    tmp = built["tmp"]
    db = tmp / "github_only" / "sei.duckdb"
    db.parent.mkdir()
    shutil.copy(built["db"], db)
    con = duckdb.connect(str(db))
    for schema in ("raw_harness", "raw_harness_staging", "raw_events", "raw_events_staging", "raw_jira",
                   "raw_jira_staging", "staging"):
        con.execute(f"drop schema if exists {schema} cascade")
    con.execute("drop table raw_github.pull_requests__labels")
    con.execute("alter table raw_github.releases drop column body")
    con.execute("alter table raw_github.commits drop column _sei_deleted_at")
    con.close()
    b = dbt(["build"], db, tmp / "target_github_only")
    assert b.returncode == 0, b.stdout[-5000:] + b.stderr[-2000:]
    for model in ("stg_harness__pipeline_executions", "stg_harness__pipeline_execution_stages",
                  "stg_harness__services", "stg_harness__environments", "stg_events__deployments",
                  "stg_events__incidents", "stg_github__pull_request_labels", *(f"stg_jira__{m}" for m in JIRA_MODELS)):
        assert query(db, f"select count(*) n from staging.{model}").n[0] == 0, model
    assert query(db, "select count(body) n from staging.stg_github__releases").n[0] == 0
    c = query(db, "select count(*) n, count(*) filter (where is_deleted) d from staging.stg_github__commits")
    assert c.n[0] > 0
    assert columns(db, "staging") == columns(built["db"], "staging")
