"""GitHub ingestion end to end: dlt over HTTP against the simulator, into a real DuckDB.

Every test gets its own warehouse (SEI_WAREHOUSE in a temp dir) and sources file
(SEI_SOURCES), and talks to a simulator through the base URL in that file. Waits run at
`wait_scale` 0.001 against simulators whose clock runs 1,000x fast.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import os
import urllib.request
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from simulator.http import GITHUB_TOKEN

pytestmark = pytest.mark.xdist_group("ingest_github")

START = "2024-01-01"  # before the tiny world's history: a full sync loads everything
RESOURCES = ("pull_requests", "commits", "deployments", "releases", "workflow_runs")
# An incremental run with nothing changed upstream: one search for every owner's changed pull
# requests and one query for every owner's repositories by push (1 point each), whatever the
# number of repositories; the third is slack for a second search query.
NO_CHANGE_POINTS = 3
URL_COLUMNS = {"url", "base_url", "target_url", "log_url", "environment_url"}


# --------------------------------------------------------------------------- helpers
from tests.helpers import environ  # noqa: E402  (re-exported for other test modules)


def write_sources(path: Path, base_url: str, repos: list[str], start: str = START, extra: str = "") -> Path:
    repos_yaml = "\n".join(f"            - {r}" for r in repos)
    path.write_text(f"""
account: acme
start_date: {start}
integrations:
  github:
    base_url: {base_url}
    page_size: 50
runtime:
  wait_scale: 0.001
  backoff_seconds: 1
{extra}
organisations:
  - id: payments
    projects:
      - id: prj-payments
        github:
          repos:
{repos_yaml}
        jira:
          projects: [PAY]
""")
    return path


def sync(tmp: Path, base_url: str, repos=("acme-payments/*",), token=GITHUB_TOKEN, full_refresh=False,
         start=START, extra="", **env):
    """One `pipeline.run(["github"])` with its own warehouse under `tmp`."""
    from ingestion import pipeline
    tmp.mkdir(parents=True, exist_ok=True)
    src = write_sources(tmp / "sources.yml", base_url, list(repos), start, extra)
    with environ(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SOURCES=str(src), SOURCES__GITHUB__ACCESS_TOKEN=token,
                 SEI_WAIT_SCALE="0.001", SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None, **env):
        return pipeline.run(["github"], full_refresh=full_refresh, progress=False)


def sim_get(sim, path: str):
    with urllib.request.urlopen(sim.url + path) as r:
        body = r.read()
    if path.startswith("/_sim/truth/"):
        return pd.read_json(io.StringIO(body.decode()), lines=True) if body.strip() else pd.DataFrame()
    return json.loads(body)


def sim_stats(sim) -> dict:
    return sim_get(sim, "/_sim/stats")


def delta(after: dict, before: dict) -> dict[str, int]:
    out = {}
    for ep, codes in after["by_endpoint"].items():
        n = sum(codes.values()) - sum(before["by_endpoint"].get(ep, {}).values())
        if n:
            out[ep] = n
    return out


def query(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


SNAPSHOT = {
    "pull_requests": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.pull_requests",
    "reviews": "SELECT p.id AS pr, r.* EXCLUDE (_dlt_root_id, _dlt_parent_id, _dlt_list_idx, _dlt_id) "
               "FROM raw_github.pull_requests__reviews r JOIN raw_github.pull_requests p ON r._dlt_root_id = p._dlt_id",
    "labels": "SELECT p.id AS pr, l.name FROM raw_github.pull_requests__labels l "
              "JOIN raw_github.pull_requests p ON l._dlt_root_id = p._dlt_id",
    "jira_keys": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.pull_request_jira_keys",
    "commits": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.commits",
    "parents": "SELECT c.repository, c.sha, p.value, p._dlt_list_idx AS idx FROM raw_github.commits__parents p "
               "JOIN raw_github.commits c ON p._dlt_root_id = c._dlt_id",
    "deployments": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.deployments",
    "deployment_statuses": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.deployment_statuses",
    "releases": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.releases",
    "workflow_runs": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.workflow_runs",
    "repositories": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_github.repositories",
}


def snapshot(db: Path) -> dict[str, list[tuple]]:
    """Every loaded table as a sorted list of rows (columns by name; dlt ids and URLs that
    embed the simulator's port left out), so two warehouses compare by content."""
    out = {}
    for name, sql in SNAPSHOT.items():
        df = query(db, sql)
        cols = sorted(c for c in df.columns if c not in URL_COLUMNS)
        rows = [tuple("" if pd.isna(v) else str(v) for v in r) for r in df[cols].itertuples(index=False)]
        out[name] = (cols, sorted(rows))
    return out


def assert_same(a: dict, b: dict) -> None:
    for name in SNAPSHOT:
        ca, ra = a[name]
        cb, rb = b[name]
        assert ca == cb, f"{name}: columns differ: {set(ca) ^ set(cb)}"
        if ra != rb:
            sa, sb = set(ra), set(rb)
            raise AssertionError(f"{name}: {len(ra)} vs {len(rb)} rows; only left {sorted(sa - sb)[:3]}, "
                                 f"only right {sorted(sb - sa)[:3]}")


def pr_checksum(rows) -> str:
    h = hashlib.sha256()
    for r in sorted(rows):
        h.update("|".join("" if v is None else str(v) for v in r).encode() + b"\n")
    return h.hexdigest()


def iso_or_none(v) -> str | None:
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, str):
        return v
    return pd.Timestamp(v).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def ops_resources(db: Path, run_id: str) -> pd.DataFrame:
    return query(db, f"SELECT * FROM ops.ingest_resources WHERE run_id = '{run_id}'").set_index("resource")


# --------------------------------------------------------------------------- a baseline full sync
@pytest.fixture(scope="module")
def baseline(sim, tmp_path_factory):
    """A full sync of the tiny organisation (session simulator, clock never moved)."""
    tmp = tmp_path_factory.mktemp("baseline")
    before = sim_stats(sim)
    result = sync(tmp, sim.url)
    after = sim_stats(sim)
    return {"db": tmp / "sei.duckdb", "tmp": tmp, "result": result, "requests": delta(after, before),
            "points": after["graphql_points"] - before["graphql_points"]}


@pytest.mark.slow
def test_full_sync_loads_exactly_the_truth(sim, baseline):
    r = baseline["result"]
    assert r.status == "success", r.source("github").error_message
    truth = sim_get(sim, "/_sim/truth/pull_requests")
    got = query(baseline["db"], "SELECT repository, number, state, merged_at, merge_commit_sha, author_login "
                                "FROM raw_github.pull_requests")
    assert len(got) == len(truth) > 500
    want = [(t.repository, int(t.number), t.state, iso_or_none(t.merged_at)) for t in truth.itertuples()]
    have = [(g.repository, int(g.number), g.state, iso_or_none(g.merged_at)) for g in got.itertuples()]
    assert pr_checksum(have) == pr_checksum(want)
    # merge commit SHAs, and every merged PR's merge commit is on the loaded default branch
    t_sha = {(t.repository, int(t.number)): t.merge_commit_sha for t in truth.itertuples() if t.state == "MERGED"}
    g_sha = {(g.repository, int(g.number)): g.merge_commit_sha for g in got.itertuples() if g.state == "MERGED"}
    assert g_sha == t_sha
    on_branch = set(query(baseline["db"], "SELECT sha FROM raw_github.commits").sha)
    assert set(t_sha.values()) <= on_branch
    # parents keep their order (first parent first): the chain links up per repository
    chain = query(baseline["db"], "SELECT repository, sha, first_parent_sha, parent_count FROM raw_github.commits")
    assert (chain.parent_count >= 1).mean() > 0.95
    # Jira keys: every PR the simulator linked to an issue yields its key
    keys = query(baseline["db"], "SELECT repository, number, jira_key FROM raw_github.pull_request_jira_keys")
    found = set(zip(keys.repository, keys.number.astype(int), keys.jira_key))
    linked = {(t.repository, int(t.number), t.jira_key) for t in truth.itertuples() if isinstance(t.jira_key, str)}
    assert linked <= found
    assert keys.jira_key.str.startswith("PAY-").all()
    # deployments: GitHub-deployed production/staging deployments, each with its statuses
    tdep = sim_get(sim, "/_sim/truth/deployments")
    tdep = tdep[tdep.tool == "github"]
    dep = query(baseline["db"], "SELECT id, sha FROM raw_github.deployments")
    assert set(dep.id) == set(tdep.gh_deployment_id)
    assert dict(zip(dep.id, dep.sha)) == dict(zip(tdep.gh_deployment_id, tdep.sha))
    st = query(baseline["db"], "SELECT deployment_id, state FROM raw_github.deployment_statuses")
    assert set(st.deployment_id) == set(dep.id)
    # the run's figures are in ops, per resource
    ops = ops_resources(baseline["db"], r.run_id)
    for res in RESOURCES:
        assert ops.loc[res, "status"] == "success"
        assert ops.loc[res, "requests"] > 0 and ops.loc[res, "rows"] > 0
        assert ops.loc[res, "min_ratelimit_remaining"] > 0
        assert ops.loc[res, "cursor_value"]
    assert ops.loc["pull_requests", "rows"] == len(truth)
    runs = query(baseline["db"], f"SELECT * FROM ops.ingest_runs WHERE run_id = '{r.run_id}'")
    assert runs.status.tolist() == ["success"] and runs.duration_s.iloc[0] > 0


@pytest.mark.slow
def test_graphql_cost_per_thousand_prs(sim, baseline, tmp_path):
    """The pull-request query alone, by GitHub's formula as the simulator charges it."""
    import dlt
    from ingestion.github import github_source
    from ingestion.http import HttpStats
    before = sim_stats(sim)
    src = github_source(repos=["acme-payments/*"], start_date=START, base_url=sim.url, access_token=GITHUB_TOKEN,
                        page_size=50, stats=HttpStats()).with_resources("pull_requests")
    p = dlt.pipeline(pipeline_name="cost_probe", destination=dlt.destinations.duckdb(str(tmp_path / "c.duckdb")),
                     dataset_name="raw_github", pipelines_dir=str(tmp_path / "p"))
    p.run(src)
    points = sim_stats(sim)["graphql_points"] - before["graphql_points"]
    prs = int(query(tmp_path / "c.duckdb", "SELECT count(*) n FROM raw_github.pull_requests").n.iloc[0])
    per_1000 = points / prs * 1000
    print(f"\nGraphQL: {points} points for {prs} PRs = {per_1000:.1f} per 1,000 PRs; "
          f"full sync (PRs + history): {baseline['points']} points")
    assert per_1000 <= 30  # pages of 49 PRs, 1 point each
    # the whole GitHub sync (pull requests, default-branch history, statuses) stays cheap too;
    # the tiny org has more commits per PR than the others (small org: see below)
    assert baseline["points"] / prs * 1000 <= 45


@pytest.mark.slow
def test_second_sync_adds_nothing_and_costs_a_few_points_whatever_the_repositories(sim, baseline):
    db = baseline["db"]
    counts = {t: len(query(db, sql)) for t, sql in SNAPSHOT.items()}
    before = sim_stats(sim)
    r = sync(baseline["tmp"], sim.url)
    d = delta(sim_stats(sim), before)
    assert r.status == "success"
    assert {t: len(query(db, sql)) for t, sql in SNAPSHOT.items()} == counts
    repos = len(sim_get(sim, "/_sim/truth/repositories"))
    # GraphQL: no request per repository, a fixed few for the organisation
    points = sim_stats(sim)["graphql_points"] - before["graphql_points"]
    assert d.get("github.graphql", 0) <= NO_CHANGE_POINTS and points <= NO_CHANGE_POINTS
    # REST listings (free of points) ask each repository at most once; which ones is
    # tests/test_ingest_github_rest.py (this simulator's clock runs 1,000x fast, so the
    # sweep sees hours pass between two runs)
    for ep in ("github.rest.deployments", "github.rest.releases", "github.rest.workflow_runs"):
        assert d.get(ep, 0) <= repos, (ep, d)
    assert d.get("github.rest.deployment_statuses", 0) == 0
    assert d.get("github.rest.org_repos", 0) <= 1
    ops = ops_resources(db, r.run_id)
    assert ops.loc["pull_requests", "rows"] == 0 and ops.loc["commits", "rows"] == 0
    print(f"\nsecond sync: {sum(d.values())} requests, {points} GraphQL points for {repos} repositories: {d}")


@pytest.mark.slow
def test_incremental_after_72_hours_equals_a_fresh_full_sync(fresh_sim, tmp_path):
    s = fresh_sim()
    r1 = sync(tmp_path / "inc", s.url)
    assert r1.status == "success"
    db = tmp_path / "inc" / "sei.duckdb"
    prs_before = query(db, "SELECT id, updated_at FROM raw_github.pull_requests")
    req = urllib.request.Request(s.url + "/_sim/advance?hours=72", method="POST")
    urllib.request.urlopen(req).read()
    before = sim_stats(s)
    r2 = sync(tmp_path / "inc", s.url)
    inc_requests = delta(sim_stats(s), before)
    assert r2.status == "success"
    # only what changed was fetched: new PRs and PRs whose updated_at moved
    prs_after = query(db, "SELECT id, updated_at FROM raw_github.pull_requests")
    old = dict(zip(prs_before.id, prs_before.updated_at))
    changed = sum(1 for i, u in zip(prs_after.id, prs_after.updated_at) if old.get(i) != u)
    ops = ops_resources(db, r2.run_id)
    assert 0 < changed == ops.loc["pull_requests", "rows"]
    assert ops.loc["commits", "rows"] > 0 and ops.loc["workflow_runs", "rows"] > 0
    points = sim_stats(s)["graphql_points"] - before["graphql_points"]
    assert points <= 2 * changed, (points, changed)
    # and the result equals a fresh full sync of the same state
    r3 = sync(tmp_path / "full", s.url)
    assert r3.status == "success"
    assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))
    full = ops_resources(tmp_path / "full" / "sei.duckdb", r3.run_id)
    print(f"\nincremental after 72 h: {points} GraphQL points for {changed} changed PRs, "
          f"{int(ops.requests.sum())} requests ({inc_requests}), "
          f"{int(ops.rows.sum())} rows; a fresh full sync: {int(full.requests.sum())} requests")


@pytest.mark.slow
def test_small_org_full_sync_costs_at_most_40_points_per_1000_prs_and_hourly_runs_what_changed(fresh_sim, tmp_path):
    """Issue 17: the small org (two GitHub organisations) by GitHub's formula as the simulator
    charges it: a full sync at most 40 points per 1,000 PRs; an hourly run with nothing changed
    a fixed few points; one after an hour of activity at most 2 points per changed PR, and
    then the warehouse equals a fresh full sync's."""
    s = fresh_sim(size="small")
    owners = sorted({r.split("/")[0] for r in sim_get(s, "/_sim/truth/repositories").full_name})
    repos = tuple(f"{o}/*" for o in owners)
    assert len(owners) == 2
    before = sim_stats(s)
    r1 = sync(tmp_path / "inc", s.url, repos=repos)
    assert r1.status == "success", r1.source("github").error_message
    db = tmp_path / "inc" / "sei.duckdb"
    full_points = sim_stats(s)["graphql_points"] - before["graphql_points"]
    prs = int(ops_resources(db, r1.run_id).loc["pull_requests", "rows"])
    assert prs > 3000 and full_points / prs * 1000 <= 40, (full_points, prs)
    before = sim_stats(s)
    r2 = sync(tmp_path / "inc", s.url, repos=repos)
    idle = sim_stats(s)["graphql_points"] - before["graphql_points"]
    assert r2.status == "success" and idle <= NO_CHANGE_POINTS
    assert ops_resources(db, r2.run_id).loc["pull_requests", "rows"] == 0
    # the world's clock stands at midnight: move to 09:00, sync, then measure the working hour after
    urllib.request.urlopen(urllib.request.Request(s.url + "/_sim/advance?hours=9", method="POST")).read()
    assert sync(tmp_path / "inc", s.url, repos=repos).status == "success"
    urllib.request.urlopen(urllib.request.Request(s.url + "/_sim/advance?hours=1", method="POST")).read()
    before = sim_stats(s)
    r3 = sync(tmp_path / "inc", s.url, repos=repos)
    active = sim_stats(s)["graphql_points"] - before["graphql_points"]
    changed = int(ops_resources(db, r3.run_id).loc["pull_requests", "rows"])
    assert r3.status == "success" and 0 < changed and active <= 2 * changed, (active, changed)
    r4 = sync(tmp_path / "full", s.url, repos=repos)
    assert r4.status == "success"
    assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))
    print(f"\nsmall org: full sync {full_points} points for {prs} PRs = {full_points / prs * 1000:.1f} per 1,000; "
          f"hourly run with no change {idle} points; 09:00-10:00 {active} points for {changed} changed PRs")


@pytest.mark.slow
def test_incremental_search_reads_past_1000_changed_pull_requests(tmp_path):
    """A first sync early in the tiny world's history, then the clock moves to its end: more
    than 1,000 pull requests changed, more than one search serves (GitHub's cap), and the
    incremental run still loads exactly what a fresh full sync loads."""
    from simulator import generate
    from simulator.server import SimServer
    w = generate("tiny", seed=7)
    end_now = w.now
    w.now, _ = w.start + 30 * 86400, w._cache.clear()
    with SimServer(w, time_scale=0.001) as s:
        r1 = sync(tmp_path / "inc", s.url)
        assert r1.status == "success"
        db = tmp_path / "inc" / "sei.duckdb"
        first = int(ops_resources(db, r1.run_id).loc["pull_requests", "rows"])
        hours = (end_now - w.now) / 3600
        urllib.request.urlopen(urllib.request.Request(f"{s.url}/_sim/advance?hours={hours}", method="POST")).read()
        before = sim_stats(s)
        r2 = sync(tmp_path / "inc", s.url)
        assert r2.status == "success"
        changed = int(ops_resources(db, r2.run_id).loc["pull_requests", "rows"])
        points = sim_stats(s)["graphql_points"] - before["graphql_points"]
        assert changed > 1000 > first
        assert points <= 2 * changed
        r3 = sync(tmp_path / "full", s.url)
        assert r3.status == "success"
        assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))
    print(f"\n{changed} changed PRs after the first sync's {first}: {points} GraphQL points")


@pytest.mark.slow
def test_repository_added_to_the_sources_file_gets_its_history(sim, baseline, tmp_path):
    """Incremental runs find changes per owner, but a repository new in the sources file is
    read in full (pull requests since start_date, its whole default-branch history)."""
    a, b = "acme-payments/atlas-api", "acme-payments/beacon-api"
    assert sync(tmp_path, sim.url, repos=(a,)).status == "success"
    r = sync(tmp_path, sim.url, repos=(a, b))
    assert r.status == "success"
    db = tmp_path / "sei.duckdb"
    for table in ("pull_requests", "commits"):
        got = query(db, f"SELECT count(*) n FROM raw_github.{table} WHERE repository = '{b}'").n.iloc[0]
        want = query(baseline["db"], f"SELECT count(*) n FROM raw_github.{table} WHERE repository = '{b}'").n.iloc[0]
        assert got == want > 0, table
    assert r.source("github").status == "success"


@pytest.mark.slow
def test_github_enterprise_server_urls_incremental_included(sim, baseline, tmp_path):
    """GitHub Enterprise Server: REST under /api/v3, GraphQL (search included) at /api/graphql."""
    base = sim.url + "/api/v3"
    before = sim_stats(sim)
    assert sync(tmp_path, base).status == "success"
    r = sync(tmp_path, base)
    assert r.status == "success"
    assert ops_resources(tmp_path / "sei.duckdb", r.run_id).loc["pull_requests", "rows"] == 0
    assert_same(snapshot(tmp_path / "sei.duckdb"), snapshot(baseline["db"]))
    assert sim_stats(sim)["graphql_points"] - before["graphql_points"] <= baseline["points"] + NO_CHANGE_POINTS


@pytest.mark.slow
def test_faults_and_retries_give_the_same_warehouse(fresh_sim, baseline, tmp_path):
    s = fresh_sim(faults="429:0.1,500:0.05,reset:0.02,secondary:0.02")
    r = sync(tmp_path, s.url)
    assert r.status == "success", r.source("github").error_message
    stats = sim_stats(s)
    assert stats["faults"].get("429", 0) > 0 and stats["faults"].get("secondary", 0) > 0
    assert_same(snapshot(tmp_path / "sei.duckdb"), snapshot(baseline["db"]))
    ops = ops_resources(tmp_path / "sei.duckdb", r.run_id)
    assert ops.retries.sum() > 0 and ops.wait_seconds.sum() > 0 and ops.ratelimit_waits.sum() > 0
    # every injected fault was retried, and nothing else was
    injected = sum(v for k, v in stats["faults"].items() if k != "slow")
    repeats = sum(c for ep in stats["by_endpoint"].values() for code, c in ep.items() if code in ("403", "429"))
    assert ops.retries.sum() >= injected
    print(f"\nfaults injected {stats['faults']}, throttled answers {repeats}, retries {int(ops.retries.sum())}, "
          f"waited {ops.wait_seconds.sum():.2f}s (scaled)")


@pytest.mark.slow
def test_primary_rate_limit_waits_for_the_reset(fresh_sim, tmp_path):
    """A GraphQL budget of 12 points an hour: the run spends it, waits for the window to
    reset (by the server's Date and x-ratelimit-reset, scaled) and completes."""
    s = fresh_sim(github_points_per_hour=12)
    r = sync(tmp_path, s.url, repos=("acme-payments/atlas-api", "acme-payments/beacon-api"),
             SEI_MIN_RATELIMIT_REMAINING="0")
    assert r.status == "success", r.source("github").error_message
    ops = ops_resources(tmp_path / "sei.duckdb", r.run_id)
    assert ops.loc["pull_requests", "ratelimit_waits"] + ops.loc["commits", "ratelimit_waits"] > 0
    truth = sim_get(s, "/_sim/truth/pull_requests")
    want = truth[truth.repository.isin(["acme-payments/atlas-api", "acme-payments/beacon-api"])]
    assert ops.loc["pull_requests", "rows"] == len(want)


@pytest.mark.slow
def test_workflow_runs_windows_split_when_a_listing_hits_the_cap(sim, baseline, tmp_path, monkeypatch):
    """GitHub serves at most 1,000 runs per filtered listing; the connector splits the
    `created` window until each fits. With the cap set to 40 the tiny world must split."""
    import ingestion.github as gh
    monkeypatch.setattr(gh, "RUNS_CAP", 40)
    before = sim_stats(sim)
    r = sync(tmp_path, sim.url, repos=("acme-payments/atlas-api",))
    assert r.status == "success"
    d = delta(sim_stats(sim), before)
    got = query(tmp_path / "sei.duckdb", "SELECT id, status, updated_at FROM raw_github.workflow_runs ORDER BY id")
    want = query(baseline["db"], "SELECT id, status, updated_at FROM raw_github.workflow_runs "
                                 "WHERE repository = 'acme-payments/atlas-api' ORDER BY id")
    assert len(got) == len(want) > 40 and got.equals(want)
    assert d["github.rest.workflow_runs"] > len(want) / 40


def test_bad_token_says_how_to_fix_it(sim, tmp_path):
    from typer.testing import CliRunner
    from sei.cli import app
    src = write_sources(tmp_path / "sources.yml", sim.url, ["acme-payments/atlas-api"])
    with environ(SEI_WAREHOUSE=str(tmp_path / "sei.duckdb"), SEI_SOURCES=str(src),
                 SOURCES__GITHUB__ACCESS_TOKEN="ghp_wrong", SEI_WAIT_SCALE="0.001"):
        res = CliRunner().invoke(app, ["ingest", "--source", "github"])
    assert res.exit_code == 1
    out = res.output + (res.stderr if hasattr(res, "stderr") else "")
    assert "GitHub token invalid" in out and "SOURCES__GITHUB__ACCESS_TOKEN" in out
    runs = query(tmp_path / "sei.duckdb", "SELECT status, error_message FROM ops.ingest_runs")
    assert runs.status.tolist() == ["failed"] and "GitHub token invalid" in runs.error_message.iloc[0]


def test_unknown_repository_is_reported_and_the_others_load(sim, tmp_path):
    r = sync(tmp_path, sim.url, repos=("acme-payments/atlas-api", "acme-payments/no-such-repo"))
    assert r.status == "partial"
    ops = ops_resources(tmp_path / "sei.duckdb", r.run_id)
    for res in RESOURCES:
        assert ops.loc[res, "status"] == "partial"
        assert "acme-payments/no-such-repo" in ops.loc[res, "error_message"]
        assert "not found" in ops.loc[res, "error_message"]
    truth = sim_get(sim, "/_sim/truth/pull_requests")
    assert ops.loc["pull_requests", "rows"] == (truth.repository == "acme-payments/atlas-api").sum() > 0
    assert ops.loc["commits", "rows"] > 0
    assert r.source("github").error_message and "no-such-repo" in r.source("github").error_message
    # the next run searches for the known repository's changes (GitHub would refuse a search
    # naming the missing one) and asks for the missing one alone again
    before = sim_stats(sim)
    r2 = sync(tmp_path, sim.url, repos=("acme-payments/atlas-api", "acme-payments/no-such-repo"))
    assert r2.status == "partial" and "no-such-repo" in r2.source("github").error_message
    assert ops_resources(tmp_path / "sei.duckdb", r2.run_id).loc["pull_requests", "rows"] == 0
    assert sim_stats(sim)["graphql_points"] - before["graphql_points"] <= NO_CHANGE_POINTS + 2


def test_plan_counts_what_a_first_sync_reads(sim, tmp_path):
    from ingestion import pipeline
    src = write_sources(tmp_path / "sources.yml", sim.url, ["acme-payments/*"])
    with environ(SEI_SOURCES=str(src), SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SEI_WAIT_SCALE="0.001"):
        p = pipeline.plan(["github"])
    est = p["github"]
    truth = sim_get(sim, "/_sim/truth/pull_requests")
    assert est["totals"]["pull_requests"] == len(truth)
    ok = [r for r in est["repositories"] if "error" not in r]
    pages = lambda n: max(1, -(-n // 100))  # noqa: E731
    # statuses come with GraphQL (100 deployments a query), not one REST request per deployment
    assert est["rest_requests"] == sum(pages(r["deployments"]) + pages(r["releases"]) + pages(r["workflow_runs"])
                                       for r in ok)
    # pages of 49 PRs (1 point each), history pages of 100 commits, statuses 100 deployments a
    # query, and up to 3 points per owner for the searches' and listings' watermarks
    assert est["pr_page_size"] == 49
    assert est["graphql_points"] == sum(-(-r["pull_requests"] // 49) if r["pull_requests"] else 1 for r in ok) \
        + sum(pages(r["commits"]) for r in ok) + sum(-(-r["deployments"] // 100) for r in ok) + 3
    assert est["graphql_points_per_hour"] == 5000
    assert est["points_per_1000_prs"] <= 45
    text = pipeline.format_plan(p)
    assert "GraphQL:" in text and "acme-payments/atlas-api" in text
    assert f"{est['points_per_1000_prs']} points per 1,000 PRs" in text and "5,000 points an hour" in text


# --------------------------------------------------------------------------- configuration and helpers
def test_sources_file_rejects_a_scope_in_two_projects(tmp_path):
    from ingestion.config import ConfigError, load
    f = tmp_path / "sources.yml"
    f.write_text("""account: acme
organisations:
  - id: o1
    projects:
      - id: a
        github: {repos: [acme/api, acme/web]}
      - id: b
        github:
          repos:
            - acme/tools
            - ACME/api
""")
    with pytest.raises(ConfigError) as e:
        load(f)
    msg = str(e.value)
    assert f"{f}:11" in msg and "'a'" in msg and "line 6" in msg and "Fix:" in msg
    f.write_text(f.read_text().replace("ACME/api", "acme/*"))
    cfg = load(f)  # a wildcard does not clash with named repositories
    assert cfg.project_of("github", "acme/api").project == "a"
    assert cfg.project_of("github", "acme/other").project == "b"
    f.write_text(f.read_text().replace("acme/tools", "acme/*"))
    with pytest.raises(ConfigError, match="acme/\\*"):
        load(f)


def test_start_date_and_runtime_from_file_and_env(tmp_path, monkeypatch):
    from ingestion.config import load
    f = tmp_path / "s.yml"
    f.write_text("start_date: 2025-03-01\nruntime: {wait_scale: 0.5}\nintegrations: {github: {base_url: "
                 "'https://ghe.acme.example/api/v3'}}\n")
    cfg = load(f)
    assert cfg.start_date == dt.datetime(2025, 3, 1, tzinfo=dt.timezone.utc)
    assert cfg.runtime.wait_scale == 0.5
    assert cfg.github().graphql_url == "https://ghe.acme.example/api/graphql"
    monkeypatch.setenv("SEI_WAIT_SCALE", "0.001")
    monkeypatch.setenv("SOURCES__GITHUB__BASE_URL", "http://127.0.0.1:9")
    cfg = load(f)
    assert cfg.runtime.wait_scale == 0.001 and cfg.github().graphql_url == "http://127.0.0.1:9/graphql"


def test_normalize_workers_from_file_and_env_and_used_by_dlt(tmp_path, monkeypatch):
    import importlib

    from ingestion.config import ConfigError, load
    from ingestion.pipeline import make_pipeline
    f = tmp_path / "s.yml"
    f.write_text("runtime:\n  normalize_workers: 3\n")
    assert load(f).runtime.normalize_workers == 3
    monkeypatch.setenv("SEI_NORMALIZE_WORKERS", "1")
    assert load(f).runtime.normalize_workers == 1
    monkeypatch.delenv("SEI_NORMALIZE_WORKERS")
    f.write_text("runtime:\n  wait_scale: 1\n  normalize_workers: 0\n")
    with pytest.raises(ConfigError, match=r"s\.yml:3: runtime\.normalize_workers must be at least 1\. Fix: "):
        load(f)
    # The pipeline's normalize step gets that many worker processes (a global
    # NORMALIZE__WORKERS does not override the pipeline's own setting).
    steps = importlib.import_module("dlt.pipeline.pipeline")
    seen, run_pool = [], steps.runner.run_pool

    def spy(config, step):
        seen.append((type(step).__name__, config.workers, config.pool_type))
        return run_pool(config, step)
    monkeypatch.setattr(steps.runner, "run_pool", spy)
    monkeypatch.setenv("NORMALIZE__WORKERS", "1")
    p = make_pipeline("normalize_workers_test", tmp_path / "w.duckdb", None, normalize_workers=2)
    p.run([{"a": i} for i in range(5)], table_name="t")
    assert ("Normalize", 2, "process") in seen
    assert query(tmp_path / "w.duckdb", "select count(*) n from raw_normalize_workers_test.t").n[0] == 5


def test_incremental_syncs_normalize_in_process(tmp_path):
    """Worker processes for a first or full sync; one in-process worker once the source has
    saved cursors (an hourly sync's few rows are not worth starting a pool)."""
    import dlt

    from ingestion.pipeline import make_pipeline, normalize_workers_for

    @dlt.source(name="cursor_test")
    def source():
        @dlt.resource(name="t", write_disposition="merge", primary_key="id")
        def t(updated=dlt.sources.incremental("updated", initial_value=0)):
            yield [{"id": i, "updated": i} for i in range(5)]
        return t

    p = make_pipeline("cursor_test", tmp_path / "w.duckdb", None, normalize_workers=3)
    assert normalize_workers_for(p, "cursor_test", 3, full_refresh=False) == 3   # first sync
    p.run(source())
    assert normalize_workers_for(p, "cursor_test", 3, full_refresh=False) == 1   # cursors saved
    assert normalize_workers_for(p, "cursor_test", 3, full_refresh=True) == 3
    assert normalize_workers_for(p, "another_source", 3, full_refresh=False) == 3


def test_response_json_parses_once_and_falls_back_for_what_orjson_refuses():
    import requests

    from ingestion.http import response_json
    r = requests.Response()
    r._content, r.encoding = b'{"total_count": 2, "workflow_runs": [{"id": 1}, {"id": 2}]}', "utf-8"
    assert response_json(r) == {"total_count": 2, "workflow_runs": [{"id": 1}, {"id": 2}]}
    assert response_json(r) is response_json(r)
    lone = requests.Response()
    lone._content, lone.encoding = b'{"body": "half an emoji \\ud83d"}', "utf-8"
    assert response_json(lone) == {"body": "half an emoji \ud83d"}


def test_github_app_jwt_is_rs256_signed_by_the_app_key():
    import base64
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from ingestion.github_api import app_jwt
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    token = app_jwt("12345", pem, now=1_700_000_000)
    h, p, sig = token.split(".")
    pad = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
    assert json.loads(pad(h)) == {"alg": "RS256", "typ": "JWT"}
    assert json.loads(pad(p)) == {"iat": 1_700_000_000 - 60, "exp": 1_700_000_000 + 540, "iss": "12345"}
    key.public_key().verify(pad(sig), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())


def test_jira_keys_from_title_body_and_branch():
    from ingestion.github_rows import jira_keys
    assert jira_keys("PAY-12: fix", "Closes PAY-13.", "feature/pay-14-thing", ["PAY"]) == \
        {"PAY-12": ["title"], "PAY-13": ["body"], "PAY-14": ["branch"]}
    # without known projects: upper-case keys only; lower-case branch words are not keys
    assert jira_keys("Bump lodash", "", "dependabot/npm_and_yarn/lodash-4.17.21", None) == {}
    assert jira_keys("UTF-8 handling for OPS-7", "", "x", ["OPS"]) == {"OPS-7": ["title"]}


def test_forbidden_names_the_missing_permission():
    """GitHub's 403 (not a rate limit) names the permission, from its header or the endpoint."""
    import requests
    from ingestion.github_api import GITHUB, describe_error
    r = requests.Response()
    r.status_code = 403
    r._content = b'{"message": "Resource not accessible by personal access token"}'
    r.headers["X-Accepted-GitHub-Permissions"] = "actions=read"
    assert not GITHUB.is_rate_limited(r)
    assert "actions: read" in describe_error(r, "GET /repos/a/b/actions/runs")
    del r.headers["X-Accepted-GitHub-Permissions"]
    assert "deployments: read" in describe_error(r, "GET /repos/a/b/deployments")
    r._content = b'{"message": "You have exceeded a secondary rate limit."}'
    assert GITHUB.is_rate_limited(r)
