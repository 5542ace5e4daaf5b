"""Jira ingestion end to end: dlt over HTTP against the simulator (Cloud and Data Center),
into a real DuckDB.

Every test gets its own warehouse (SEI_WAREHOUSE in a temp dir) and sources file
(SEI_SOURCES), written for the simulated organisation by `simulator.export.export_sources`
or by hand for the error cases. Waits run at `wait_scale` 0.001 against simulators whose
clock runs 1,000x fast.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import urllib.request
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from simulator import views
from simulator.export import export_sources
from simulator.http import JIRA_EMAIL, JIRA_TOKEN

pytestmark = pytest.mark.xdist_group("ingest_jira")

URL_COLUMNS = {"url"}
ADMIN_ENDPOINTS = ("jira.myself", "jira.field")


# --------------------------------------------------------------------------- helpers
from tests.helpers import environ  # noqa: E402  (re-exported for other test modules)


def sources_for(world, tmp: Path, base_url: str, flavor: str = "cloud", jira_extra: str = "") -> Path:
    """The simulated org's sources file (`export_sources`), Jira flavour and options adjusted."""
    p = export_sources(world, tmp / "sources.yml", base_url)
    text = p.read_text().replace("flavor: cloud", f"flavor: {flavor}" + jira_extra)
    p.write_text(text + "runtime:\n  wait_scale: 0.001\n  backoff_seconds: 1\n")
    return p


def write_sources(path: Path, base_url: str, projects_yaml: str, flavor: str = "cloud", start: str = "2024-01-01",
                  jira_extra: str = "") -> Path:
    path.write_text(f"""account: acme
start_date: {start}
integrations:
  jira:
    base_url: {base_url}
    flavor: {flavor}{jira_extra}
runtime:
  wait_scale: 0.001
  backoff_seconds: 1
organisations:
  - id: payments
    projects:
{projects_yaml}
""")
    return path


def sync(tmp: Path, sources: Path, email=JIRA_EMAIL, token=JIRA_TOKEN, full_refresh=False, **env):
    """One `pipeline.run(["jira"])` with its own warehouse under `tmp`."""
    from ingestion import pipeline
    tmp.mkdir(parents=True, exist_ok=True)
    with environ(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SOURCES=str(sources), SOURCES__JIRA__EMAIL=email,
                 SOURCES__JIRA__API_TOKEN=token, SEI_WAIT_SCALE="0.001", SOURCES__JIRA__BASE_URL=None, **env):
        return pipeline.run(["jira"], full_refresh=full_refresh, progress=False)


def sim_get(sim, path: str):
    with urllib.request.urlopen(sim.url + path) as r:
        return json.loads(r.read())


def sim_stats(sim) -> dict:
    return sim_get(sim, "/_sim/stats")


def advance(sim, hours: float) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/advance?hours={hours}", method="POST")).read()


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


def ops_resources(db: Path, run_id: str) -> pd.DataFrame:
    return query(db, f"SELECT * FROM ops.ingest_resources WHERE run_id = '{run_id}'").set_index("resource")


SNAPSHOT = {
    "issues": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_jira.issues",
    "issues__sprints": "SELECT i.id, s.sprint_id, s.board_id, s._dlt_list_idx FROM raw_jira.issues__sprints s "
                       "JOIN raw_jira.issues i ON s._dlt_root_id = i._dlt_id",
    "issues__labels": "SELECT i.id, l.value FROM raw_jira.issues__labels l JOIN raw_jira.issues i "
                      "ON l._dlt_root_id = i._dlt_id",
    "issues__components": "SELECT i.id, c.id AS component_id, c.name FROM raw_jira.issues__components c "
                          "JOIN raw_jira.issues i ON c._dlt_root_id = i._dlt_id",
    "issue_changelogs": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_jira.issue_changelogs",
    "users": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_jira.users",
    "boards": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_jira.boards",
    "sprints": "SELECT * EXCLUDE (_dlt_load_id, _dlt_id) FROM raw_jira.sprints",
}


def snapshot(db: Path, tables=tuple(SNAPSHOT)) -> dict[str, tuple[list, list]]:
    """Loaded tables as sorted rows (columns by name; dlt ids and the URLs that embed the
    simulator's port left out), so two warehouses compare by content."""
    out = {}
    for name in tables:
        df = query(db, SNAPSHOT[name])
        cols = sorted(c for c in df.columns if c not in URL_COLUMNS)
        rows = [tuple("" if v is None or (not isinstance(v, (list, np.ndarray)) and pd.isna(v)) else str(v)
                      for v in r) for r in df[cols].itertuples(index=False)]
        out[name] = (cols, sorted(rows))
    return out


def assert_same(a: dict, b: dict) -> None:
    for name in a:
        ca, ra = a[name]
        cb, rb = b[name]
        assert ca == cb, f"{name}: columns differ: {set(ca) ^ set(cb)}"
        if ra != rb:
            sa, sb = set(ra), set(rb)
            raise AssertionError(f"{name}: {len(ra)} vs {len(rb)} rows; only left {sorted(sa - sb)[:3]}, "
                                 f"only right {sorted(sb - sa)[:3]}")


def checksum(rows) -> str:
    h = hashlib.sha256()
    for r in sorted(rows):
        h.update("|".join("" if v is None else str(v) for v in r).encode() + b"\n")
    return h.hexdigest()


def epoch(v) -> int:
    return int(pd.Timestamp(v).timestamp())


def truth_issues(world) -> pd.DataFrame:
    return views.issues(world)


# --------------------------------------------------------------------------- a baseline full sync
@pytest.fixture(scope="module")
def baseline(sim, tiny_world, tmp_path_factory):
    """A full sync of the tiny organisation's Jira (session simulator, clock never moved)."""
    tmp = tmp_path_factory.mktemp("jira_baseline")
    src = sources_for(tiny_world, tmp, sim.url)
    before = sim_stats(sim)
    t0 = dt.datetime.now()
    result = sync(tmp, src)
    seconds = (dt.datetime.now() - t0).total_seconds()
    return {"db": tmp / "sei.duckdb", "tmp": tmp, "src": src, "result": result, "seconds": seconds,
            "requests": delta(sim_stats(sim), before)}


@pytest.mark.slow
def test_full_sync_loads_exactly_the_issues_the_simulator_holds(sim, tiny_world, baseline):
    r = baseline["result"]
    assert r.status == "success", r.source("jira").error_message
    db = baseline["db"]
    truth = truth_issues(tiny_world)
    got = query(db, "SELECT * FROM raw_jira.issues")
    assert len(got) == len(truth) == got.id.nunique() > 500
    want = [(t.key, t.status, int(t.updated_at)) for t in truth.itertuples()]
    have = [(g.key, g.status, epoch(g.updated_at)) for g in got.itertuples()]
    assert checksum(have) == checksum(want)
    # typed columns the marts need
    t = truth.set_index("key")
    g = got.set_index("key")
    pts = t.points_now.reindex(g.index)
    assert np.allclose(g.story_points.fillna(-1).to_numpy(), pts.fillna(-1).to_numpy())
    assert (g.issue_type == t.type.reindex(g.index)).all()
    assert (g.is_subtask == (g.issue_type == "Sub-task")).all()
    assert set(g.status_category) <= {"new", "indeterminate", "done"}
    assert (g.loc[g.status == "Done", "status_category"] == "done").all()
    assert (g.resolved_at.notna() == g.status.isin(["Done", "Won't Do"])).all()
    key_of_ix = dict(zip(truth.index, truth.key))
    parent = {k: key_of_ix.get(int(p)) for k, p in zip(truth.key, truth.parent_ix) if p >= 0}
    assert {k: v for k, v in g.parent_key.items() if isinstance(v, str)} == parent
    epics = set(truth.key[truth.type == "Epic"])
    want_epic = {k: p for k, p in parent.items() if p in epics}
    assert {k: v for k, v in g.epic_key.items() if isinstance(v, str)} == want_epic and want_epic
    assert g.severity.notna().sum() == truth.severity.notna().sum() > 0
    assert (g.project_id == "prj-payments").all() and (g.organisation_id == "org-payments").all()
    assert (g.account_id == "acme").all() and (g.scope == "PAY").all()
    # sprint ids per issue, labels
    sp = query(db, SNAPSHOT["issues__sprints"]).merge(got[["id", "key"]], on="id")
    have_sp = {(k, int(s)) for k, s in zip(sp.key, sp.sprint_id)}
    want_sp = {(k, int(s)) for k, ids in zip(truth.key, truth.sprint_ids) for s in ids}
    assert have_sp == want_sp and want_sp
    lab = query(db, SNAPSHOT["issues__labels"]).merge(got[["id", "key"]], on="id")
    want_lab = {(k, x) for k, ls in zip(truth.key, truth.labels) if isinstance(ls, str) for x in ls.split(";") if x}
    assert set(zip(lab.key, lab.value)) == want_lab
    # the changelog: every item, and per issue for a sample
    cl = views.changelog(tiny_world)
    items = query(db, "SELECT issue_key, field, to_string, history_id, item_index, author_account_id "
                      "FROM raw_jira.issue_changelogs")
    assert len(items) == len(cl)
    per_issue = items.groupby("issue_key").size()
    want_per = cl.groupby("issue_ix").size().rename(index=key_of_ix)
    sample = truth.key.sample(80, random_state=1)
    assert all(per_issue.get(k, 0) == want_per.get(k, 0) for k in sample)
    assert (items.groupby(["history_id", "item_index"]).size() == 1).all()
    # replaying status items gives each issue's status
    st = items[items.field == "status"].merge(
        query(db, "SELECT issue_key, history_id, created_at FROM raw_jira.issue_changelogs"), how="left")
    last = st.sort_values("created_at").groupby("issue_key").to_string.last()
    assert all(g.status[k] == s for k, s in last.items())
    # users: every assignee, reporter and changelog author, once
    users = query(db, "SELECT * FROM raw_jira.users")
    assert users.jira_account_id.is_unique
    seen = set(got.assignee_account_id.dropna()) | set(got.reporter_account_id.dropna()) | \
        set(items.author_account_id.dropna())
    assert seen == set(users.jira_account_id)
    assert users.email_address.notna().any() and set(users.account_type) <= {"atlassian", "app", "customer"}
    # boards and sprints (agile API) match the world
    boards = query(db, "SELECT * FROM raw_jira.boards")
    assert set(boards.id) == set(tiny_world["boards"].board_id)
    sprints = query(db, "SELECT * FROM raw_jira.sprints")
    vs = views.sprints(tiny_world)
    assert set(sprints.id) == set(vs.sprint_id)
    assert dict(zip(sprints.id, sprints.state)) == dict(zip(vs.sprint_id, vs.state))
    assert sprints.loc[sprints.state == "closed", "complete_at"].notna().all()
    # figures in ops
    ops = ops_resources(db, r.run_id)
    for res in ("issues", "issue_changelogs", "users", "boards", "sprints"):
        assert ops.loc[res, "status"] == "success"
        assert ops.loc[res, "rows"] > 0
    assert ops.loc["issues", "rows"] == len(truth) and ops.loc["issue_changelogs", "rows"] == len(cl)
    assert ops.loc["issues", "cursor_value"].startswith(tiny_world_now_date(tiny_world))
    d = baseline["requests"]
    pages = -(-len(truth) // 100)
    assert d["jira.search_jql"] == pages
    assert d.get("jira.changelog_bulkfetch", 0) == 0 and d.get("jira.issue_changelog", 0) == 0  # none truncated
    rows = int(ops.rows.sum())
    print(f"\njira full sync: {len(truth)} issues, {rows} rows in {baseline['seconds']:.1f}s "
          f"({rows / baseline['seconds']:.0f} rows/s), {sum(d.values())} requests: {d}")


def tiny_world_now_date(world) -> str:
    return str(pd.Timestamp(int(truth_issues(world).updated_at.max()), unit="s"))[:10]


@pytest.mark.slow
def test_second_sync_adds_nothing_and_costs_one_request_per_cursor(sim, baseline):
    db = baseline["db"]
    counts = {t: len(query(db, sql)) for t, sql in SNAPSHOT.items()}
    before = sim_stats(sim)
    r = sync(baseline["tmp"], baseline["src"])
    d = delta(sim_stats(sim), before)
    assert r.status == "success", r.source("jira").error_message
    assert {t: len(query(db, sql)) for t, sql in SNAPSHOT.items()} == counts
    ops = ops_resources(db, r.run_id)
    assert ops.loc[["issues", "issue_changelogs", "users", "boards", "sprints"], "rows"].sum() == 0
    projects, boards = 1, int(counts["boards"])
    # one search per project cursor, one board listing per project, one sprint listing per
    # board (each fits a page); plus who-am-I and the field list once per run
    assert d.get("jira.search_jql", 0) <= projects
    assert d.get("jira.boards", 0) <= projects
    assert d.get("jira.board_sprints", 0) <= boards
    assert all(d.get(ep, 0) <= 1 for ep in ADMIN_ENDPOINTS)
    assert set(d) <= {"jira.search_jql", "jira.boards", "jira.board_sprints", *ADMIN_ENDPOINTS}, d
    print(f"\njira second sync: {sum(d.values())} requests, 0 rows: {d}")


@pytest.mark.slow
def test_truncated_changelogs_are_completed(fresh_sim, tmp_path):
    """search/jql embeds only the latest histories (40 on Jira Cloud; 3 here): the rest
    comes from the bulk changelog endpoint, or per issue when bulk fetching is off."""
    s = fresh_sim()
    s.jira_changelog_embed_limit = 3
    cl = views.changelog(s.world)
    before = sim_stats(s)
    r = sync(tmp_path / "bulk", sources_for(s.world, tmp_path / "bulk", s.url))
    d = delta(sim_stats(s), before)
    assert r.status == "success", r.source("jira").error_message
    db = tmp_path / "bulk" / "sei.duckdb"
    assert len(query(db, "SELECT 1 FROM raw_jira.issue_changelogs")) == len(cl)
    truncated = int((query(db, "SELECT changelog_total FROM raw_jira.issues").changelog_total > 3).sum())
    assert truncated > 50
    # the truncated issues of many search pages go in one bulk request (paged by 1,000 histories)
    assert 0 < d["jira.changelog_bulkfetch"] <= -(-len(cl) // 1000) and d.get("jira.issue_changelog", 0) == 0
    # one issue at a time (`changelog_bulkfetch: false`): the same rows
    before = sim_stats(s)
    src = sources_for(s.world, tmp_path / "single", s.url, jira_extra="\n    changelog_bulkfetch: false")
    r2 = sync(tmp_path / "single", src)
    d2 = delta(sim_stats(s), before)
    assert r2.status == "success", r2.source("jira").error_message
    assert d2["jira.issue_changelog"] == truncated and d2.get("jira.changelog_bulkfetch", 0) == 0
    assert_same(snapshot(tmp_path / "single" / "sei.duckdb", ("issue_changelogs", "issues")),
                snapshot(db, ("issue_changelogs", "issues")))
    print(f"\ntruncated changelogs: {truncated} issues completed with {d['jira.changelog_bulkfetch']} bulk "
          f"requests, or {d2['jira.issue_changelog']} per-issue requests")


@pytest.mark.slow
def test_incremental_after_72_hours_equals_a_fresh_full_sync(fresh_sim, tmp_path):
    s = fresh_sim()
    src = sources_for(s.world, tmp_path / "inc", s.url)
    r1 = sync(tmp_path / "inc", src)
    assert r1.status == "success", r1.source("jira").error_message
    old = dict(zip(views.issues(s.world).key, views.issues(s.world).updated_at))
    advance(s, 72)
    now = views.issues(s.world)
    changed = sum(1 for k, u in zip(now.key, now.updated_at) if old.get(k) != u)
    before = sim_stats(s)
    r2 = sync(tmp_path / "inc", src)
    d = delta(sim_stats(s), before)
    assert r2.status == "success", r2.source("jira").error_message
    db = tmp_path / "inc" / "sei.duckdb"
    ops = ops_resources(db, r2.run_id)
    # only what changed was fetched: new issues and issues whose `updated` moved
    assert 0 < changed == ops.loc["issues", "rows"]
    assert d["jira.search_jql"] == -(-changed // 100)
    assert ops.loc["issue_changelogs", "rows"] > 0 and ops.loc["sprints", "rows"] > 0
    # and the result equals a fresh full sync of the same state
    r3 = sync(tmp_path / "full", sources_for(s.world, tmp_path / "full", s.url))
    assert r3.status == "success"
    assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))
    full = ops_resources(tmp_path / "full" / "sei.duckdb", r3.run_id)
    print(f"\njira incremental after 72 h: {changed} issues changed, {int(ops.requests.sum())} requests "
          f"({d}), {int(ops.rows.sum())} rows; a fresh full sync: {int(full.requests.sum())} requests, "
          f"{int(full.rows.sum())} rows")


@pytest.mark.slow
def test_data_center_loads_the_same_issues(fresh_sim, baseline, tmp_path):
    s = fresh_sim(data_center=True)
    before = sim_stats(s)
    r = sync(tmp_path, sources_for(s.world, tmp_path, s.url, flavor="data_center"), email=None)
    d = delta(sim_stats(s), before)
    assert r.status == "success", r.source("jira").error_message
    assert d["jira.search"] > 0 and "jira.search_jql" not in d
    db = tmp_path / "sei.duckdb"
    cols = ("key, status, status_category, issue_type, updated_at, resolved_at, story_points, parent_key, epic_key, "
            "severity, priority, labels_n")
    sql = ("SELECT i.*, (SELECT count(*) FROM raw_jira.issues__labels l WHERE l._dlt_root_id = i._dlt_id) AS labels_n "
           "FROM raw_jira.issues i")
    dc = query(db, f"SELECT {cols} FROM ({sql})").sort_values("key").reset_index(drop=True)
    cloud = query(baseline["db"], f"SELECT {cols} FROM ({sql})").sort_values("key").reset_index(drop=True)
    pd.testing.assert_frame_equal(dc, cloud)
    assert_same(snapshot(db, ("issues__sprints", "boards", "sprints")),
                snapshot(baseline["db"], ("issues__sprints", "boards", "sprints")))
    q = "SELECT history_id, item_index, issue_key, field, from_value, to_value, created_at FROM raw_jira.issue_changelogs"
    assert_same({"cl": (["x"], sorted(map(tuple, query(db, q).astype(str).values.tolist())))},
                {"cl": (["x"], sorted(map(tuple, query(baseline["db"], q).astype(str).values.tolist())))})
    # Data Center users have no accountId: the user key stands in for it
    users = query(db, "SELECT * FROM raw_jira.users")
    assert users.jira_account_id.str.startswith("JIRAUSER").all() and users.user_name.notna().all()


@pytest.mark.slow
def test_faults_and_retries_give_the_same_warehouse(fresh_sim, baseline, tmp_path):
    s = fresh_sim(faults="429:0.1,500:0.05,reset:0.02")
    # pages of 25 issues: more requests for the faults to hit (and a page size that must not matter)
    r = sync(tmp_path, sources_for(s.world, tmp_path, s.url, jira_extra="\n    page_size: 25"))
    assert r.status == "success", r.source("jira").error_message
    stats = sim_stats(s)
    assert all(stats["faults"].get(k, 0) > 0 for k in ("429", "500", "reset")), stats["faults"]
    assert_same(snapshot(tmp_path / "sei.duckdb"), snapshot(baseline["db"]))
    ops = ops_resources(tmp_path / "sei.duckdb", r.run_id)
    injected = sum(stats["faults"].values())
    assert ops.retries.sum() >= injected > 0
    assert ops.ratelimit_waits.sum() > 0 and ops.wait_seconds.sum() > 0
    print(f"\njira faults injected {stats['faults']}, retries {int(ops.retries.sum())}, "
          f"waited {ops.wait_seconds.sum():.2f}s (scaled)")


# --------------------------------------------------------------------------- errors
def test_bad_credentials_say_what_to_set(sim, tmp_path):
    src = write_sources(tmp_path / "sources.yml", sim.url, "      - id: p\n        jira: {projects: [PAY]}")
    r = sync(tmp_path, src, token="wrong-token")
    assert r.status == "failed"
    msg = r.source("jira").error_message
    assert "Jira credentials invalid" in msg and "SOURCES__JIRA__EMAIL" in msg and "SOURCES__JIRA__API_TOKEN" in msg
    runs = query(tmp_path / "sei.duckdb", "SELECT status, error_message FROM ops.ingest_runs")
    assert runs.status.tolist() == ["failed"] and "Jira credentials invalid" in runs.error_message.iloc[0]
    r = sync(tmp_path, src, email=None, token=None)
    assert r.status == "failed" and "Jira credentials missing" in r.source("jira").error_message


def test_invalid_jql_and_unknown_project_are_reported_while_others_load(sim, tiny_world, tmp_path):
    src = write_sources(tmp_path / "sources.yml", sim.url, """      - id: good
        jira: {projects: [PAY]}
      - id: broken-jql
        jira:
          jql: project = PAY AND statuz = Done
      - id: unknown
        jira:
          projects:
            - NOPE
""")
    r = sync(tmp_path, src)
    assert r.status == "partial"
    db = tmp_path / "sei.duckdb"
    ops = ops_resources(db, r.run_id)
    err = ops.loc["issues", "error_message"]
    assert ops.loc["issues", "status"] == "partial"
    # the JQL, where it is in the sources file and Jira's own message
    lines = src.read_text().splitlines()
    jql_line = next(i for i, t in enumerate(lines, 1) if "statuz" in t)
    nope_line = next(i for i, t in enumerate(lines, 1) if "NOPE" in t)
    assert "project = PAY AND statuz = Done" in err and f"{src}:{jql_line}" in err
    assert "Field 'statuz' does not exist" in err
    assert "Jira project NOPE not found" in err and f"{src}:{nope_line}" in err
    assert "Jira project NOPE not found" in ops.loc["boards", "error_message"]
    # the good project loaded completely
    got = query(db, "SELECT project_id, count(*) n FROM raw_jira.issues GROUP BY 1")
    assert got.set_index("project_id").n.to_dict() == {"good": len(truth_issues(tiny_world))}
    assert ops.loc["boards", "rows"] > 0 and ops.loc["sprints", "rows"] > 0


def test_a_jql_scope_loads_the_issues_it_selects(sim, tiny_world, tmp_path):
    src = write_sources(tmp_path / "sources.yml", sim.url, """      - id: bugs
        jira:
          jql: project = PAY AND issuetype = Bug ORDER BY created DESC
""")
    r = sync(tmp_path, src)
    assert r.status == "success", r.source("jira").error_message
    got = query(tmp_path / "sei.duckdb", "SELECT key, issue_type, scope, project_id FROM raw_jira.issues")
    truth = truth_issues(tiny_world)
    assert set(got.key) == set(truth.key[truth.type == "Bug"])
    assert (got.scope == "jql:project = PAY AND issuetype = Bug ORDER BY created DESC").all()
    assert (got.project_id == "bugs").all()


def test_wrong_flavor_is_named(sim, fresh_sim, tmp_path):
    proj = "      - id: p\n        jira: {projects: [PAY]}"
    # a Cloud site configured as Data Center: a PAT (bearer) is refused like Cloud does it
    r = sync(tmp_path / "a", write_sources(tmp_path / "a.yml", sim.url, proj, flavor="data_center"))
    assert r.status == "failed" and "flavor: cloud" in r.source("jira").error_message
    # ... and with user/password auth, the old search is 410 Gone on Cloud
    r = sync(tmp_path / "b", write_sources(tmp_path / "b.yml", sim.url, proj, flavor="data_center",
                                          jira_extra="\n    auth: basic"))
    msg = r.source("jira").error_message
    assert r.status == "failed" and "410" in msg and "flavor: cloud" in msg
    # a Data Center server configured as Cloud: no REST v3 there
    dc = fresh_sim(data_center=True)
    r = sync(tmp_path / "c", write_sources(tmp_path / "c.yml", dc.url, proj, flavor="cloud"))
    assert r.status == "failed" and "flavor: data_center" in r.source("jira").error_message


# --------------------------------------------------------------------------- units
def test_jql_building():
    from ingestion.jira import jql_time, scope_jql, strip_order_by
    from ingestion.jira_state import scope_key
    assert scope_jql("PAY", "2025-01-02 03:04") == \
        'project = "PAY" AND updated >= "2025-01-02 03:04" ORDER BY updated ASC, key ASC'
    assert strip_order_by('project = A AND summary ~ "order by x" ORDER BY created DESC') == \
        'project = A AND summary ~ "order by x"'
    assert strip_order_by("reorder = 1") == "reorder = 1"
    assert scope_jql("jql:project = A order by rank", "2025-01-02 03:04").startswith('(project = A) AND updated >= ')
    assert scope_key("jql:project = A") == scope_key("jql:project = A ") != scope_key("jql:project = B")
    # JQL dates are read in the searching user's zone, to the minute
    import zoneinfo
    t = dt.datetime(2025, 1, 1, 23, 59, 59, tzinfo=dt.timezone.utc)
    assert jql_time(t, zoneinfo.ZoneInfo("Australia/Sydney")) == "2025-01-02 10:59"
    assert jql_time(t, zoneinfo.ZoneInfo("America/New_York")) == "2025-01-01 18:59"


def test_custom_fields_are_found_by_type_then_name():
    from ingestion.jira_rows import FieldMap, issue_row, parse_sprint
    fields = [
        {"id": "summary", "name": "Summary", "custom": False, "schema": {"type": "string", "system": "summary"}},
        {"id": "customfield_10028", "name": "Story Points", "custom": True, "schema": {
            "type": "number", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:float"}},
        {"id": "customfield_10016", "name": "Story point estimate", "custom": True, "schema": {
            "type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points"}},
        {"id": "customfield_10020", "name": "Sprint", "custom": True, "schema": {
            "type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint"}},
        {"id": "customfield_10014", "name": "Epic Link", "custom": True, "schema": {
            "type": "any", "custom": "com.pyxis.greenhopper.jira:gh-epic-link"}},
        {"id": "customfield_10300", "name": "Severity", "custom": True, "schema": {"type": "option"}},
    ]
    fm = FieldMap.discover(fields)
    assert fm.story_points == ["customfield_10016", "customfield_10028"]
    assert (fm.sprint, fm.epic_link, fm.severity) == ("customfield_10020", "customfield_10014", "customfield_10300")
    assert FieldMap.discover(fields, {"story_points_field": "customfield_1"}).story_points == ["customfield_1"]
    # Data Center's old Sprint strings
    old = ("com.atlassian.greenhopper.service.sprint.Sprint@3fd7dd59[id=48,rapidViewId=58,state=CLOSED,"
           "name=Sprint, with a comma,startDate=2016-02-09T14:24:02.654Z,endDate=<null>,sequence=48,goal=<null>]")
    assert parse_sprint(old) == {"sprint_id": 48, "board_id": 58}
    issue = {"id": "1", "key": "A-1", "fields": {
        "issuetype": {"name": "Story", "subtask": False, "hierarchyLevel": 0},
        "customfield_10016": None, "customfield_10028": 3, "customfield_10020": [old, {"id": 49, "boardId": 58}],
        "customfield_10014": "A-0", "customfield_10300": {"value": "SEV-2", "id": "1"},
        "updated": "2024-01-02T10:11:12.345+0100"}}
    row = issue_row(issue, fm, {"project_id": "p"}, "https://x")
    assert row["story_points"] == 3.0 and row["epic_key"] == "A-0" and row["severity"] == "SEV-2"
    assert row["sprints"] == [{"sprint_id": 48, "board_id": 58}, {"sprint_id": 49, "board_id": 58}]
    assert row["updated_at"] == dt.datetime(2024, 1, 2, 9, 11, 12, 345000, tzinfo=dt.timezone.utc)
    assert "customfield_10020" not in json.loads(row["custom_fields"])
    # team-managed (and current company-managed): the epic is the parent when it is an epic
    issue["fields"]["parent"] = {"id": "9", "key": "A-9", "fields": {"issuetype": {"name": "Epic", "hierarchyLevel": 1}}}
    row = issue_row(issue, fm, {}, "https://x")
    assert (row["epic_key"], row["epic_id"], row["parent_key"]) == ("A-9", "9", "A-9")


def test_sprint_field_views_and_the_sweep_share():
    """What an issue's Sprint field says of a sprint compares with the agile API's sprint
    (Cloud objects and Data Center's strings alike), and the sweep lists every key once a
    period at an even pace, overdue keys at once."""
    from ingestion.jira_rows import jira_ts
    from ingestion.jira_sprints import sprint_view, sweep_pick, view_key
    agile = view_key("Sprint, with a comma", "closed", jira_ts("2016-02-09T14:24:02.654Z"),
                     jira_ts("2016-02-23T14:24:02.000Z"), jira_ts("2016-02-23T15:00:00.000Z"))
    cloud = {"id": 48, "name": "Sprint, with a comma", "state": "closed", "boardId": 58, "goal": "",
             "startDate": "2016-02-09T14:24:02.654Z", "endDate": "2016-02-23T14:24:02.000Z",
             "completeDate": "2016-02-23T15:00:00.000Z"}
    dc = ("com.atlassian.greenhopper.service.sprint.Sprint@3fd7dd59[id=48,rapidViewId=58,state=CLOSED,"
          "name=Sprint, with a comma,startDate=2016-02-09T14:24:02.654Z,endDate=2016-02-23T14:24:02.000Z,"
          "completeDate=2016-02-23T15:00:00.000Z,sequence=48,goal=<null>]")
    assert sprint_view(cloud) == sprint_view(dc) == {"id": 48, "board": 58, "key": agile}
    assert sprint_view({**cloud, "state": "active"})["key"] != agile
    assert sprint_view({"name": "no id"}) is None and sprint_view("junk") is None
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    hour, day = dt.timedelta(hours=1), dt.timedelta(hours=24)
    at = {k: "2026-01-01T00:00:00.000Z" for k in range(1, 49)}  # 48 boards listed at midnight
    picks, credit = sweep_pick(at, t0 + hour, day, hour, 48)
    assert picks == [1, 10] and credit == 0.0  # two an hour, the oldest first (ties by id as text)
    picks, credit = sweep_pick({"A": "2026-01-01T00:00:00.000Z", "B": "2026-01-01T00:00:00.000Z"}, t0 + hour,
                               day, hour, 2)
    assert picks == [] and abs(credit - 2 / 24) < 1e-9  # two projects: one every 12 hourly runs
    picks, _ = sweep_pick(at, t0 + 23 * hour, day, hour, 48)
    assert len(picks) == 48  # 24 h old by the next run: all due
    # boards listed for other reasons (here 46 of 48, after a day without a run) pay the
    # credit: it does not pile up into a sweep of everything later
    picks, credit = sweep_pick({1: at[1], 2: at[2]}, t0 + hour, day, 30 * hour, 48)
    assert picks == [1, 2] and credit == 0.0
    assert sweep_pick(at, t0 + hour, dt.timedelta(0), hour, 48)[0] == sorted(at, key=str)


@pytest.mark.slow
def test_a_failed_board_listing_is_asked_again_and_the_rest_is_not(fresh_sim, tmp_path):
    """A project whose board listing failed is listed again on the next run, as on every run
    before; the project and boards that were listed are not, with nothing due (the
    simulator's clock stands still between advances, whatever the machine's load)."""
    s = fresh_sim(time_scale=1e6)
    src = write_sources(tmp_path / "sources.yml", s.url, """      - id: good
        jira: {projects: [PAY]}
      - id: unknown
        jira: {projects: [NOPE]}
""")
    assert sync(tmp_path, src).status == "partial"
    s.request_log.clear()
    r = sync(tmp_path, src)
    assert r.status == "partial" and "Jira project NOPE not found" in r.source("jira").error_message
    asked = [(ep, q.get("projectKeyOrId")) for ep, _, _, q in s.request_log if ep.startswith("jira.board")]
    assert asked == [("jira.boards", "NOPE")]
