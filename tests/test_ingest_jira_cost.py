"""What a Jira full sync costs and loads on the small organisation (two Jira projects, so
scopes are searched concurrently): dlt over HTTP against the simulator, into real DuckDB
files, checked against the simulator's own world data.

The simulator embeds only an issue's latest 6 histories in a search page here (Jira Cloud
embeds 40; the small org's issues have at most 12), so about 50 of its 3,293 issues need
their changelog completed, as long-lived issues do on a real site.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from simulator import views
from tests.test_ingest_jira import assert_same, delta, query, sim_stats, snapshot, sources_for, sync

pytestmark = [pytest.mark.xdist_group("ingest_jira_cost"), pytest.mark.slow]

EMBED = 6


@pytest.fixture(scope="module")
def small_sim():
    from simulator import generate
    from simulator.server import SimServer
    with SimServer(generate("small", seed=1), time_scale=0.001) as s:
        s.jira_changelog_embed_limit = EMBED
        yield s


def histories_per_issue(world) -> pd.Series:
    """Histories (changes at one time) per issue key, from the world's changelog."""
    iss = views.issues(world)
    key_of_ix = dict(zip(iss.index, iss.key))
    cl = views.changelog(world)
    return cl.groupby(["issue_ix", "ts"]).size().groupby("issue_ix").size().rename(index=key_of_ix)


def project_order(src) -> list[str]:
    """The Jira project keys in the sources file's order."""
    import yaml
    doc = yaml.safe_load(src.read_text())
    return [k for o in doc["organisations"] for p in o["projects"] for k in (p.get("jira") or {}).get("projects", [])]


@pytest.fixture(scope="module")
def full(small_sim, tmp_path_factory):
    """One full sync with the product defaults (scopes searched at once, bulk changelogs)."""
    tmp = tmp_path_factory.mktemp("jira_small")
    src = sources_for(small_sim.world, tmp, small_sim.url)
    before = sim_stats(small_sim)
    r = sync(tmp, src)
    return {"result": r, "db": tmp / "sei.duckdb", "src": src, "requests": delta(sim_stats(small_sim), before)}


def test_concurrent_full_sync_loads_what_the_simulator_holds(small_sim, full):
    r, db, w = full["result"], full["db"], small_sim.world
    assert r.status == "success", r.source("jira").error_message
    truth = views.issues(w)
    pkey = w["projects"].set_index("project_id").jira_key
    got = query(db, "SELECT id, key, status, epoch(updated_at)::BIGINT AS updated, scope, changelog_total "
                    "FROM raw_jira.issues")
    assert got.id.is_unique and len(got) == len(truth) > 3000
    assert sorted(zip(got.key, got.status, got.updated, got.scope)) == \
        sorted(zip(truth.key, truth.status, truth.updated_at.astype(int), truth.project_id.map(pkey)))
    # every history item of every issue, the truncated ones completed
    hist = histories_per_issue(w)
    assert (hist > EMBED).sum() > 20
    assert dict(zip(got.key, got.changelog_total)) == {k: int(hist.get(k, 0)) for k in truth.key}
    cl = views.changelog(w)
    items = query(db, "SELECT issue_key, history_id, item_index FROM raw_jira.issue_changelogs")
    assert len(items) == len(cl) and not items.duplicated(["history_id", "item_index"]).any()
    key_of_ix = dict(zip(truth.index, truth.key))
    assert items.groupby("issue_key").size().to_dict() == cl.groupby("issue_ix").size().rename(index=key_of_ix).to_dict()
    # sprint membership, boards and sprints as the world has them
    sp = query(db, "SELECT i.key, s.sprint_id FROM raw_jira.issues__sprints s "
                   "JOIN raw_jira.issues i ON s._dlt_root_id = i._dlt_id")
    assert set(zip(sp.key, sp.sprint_id.astype(int))) == {(k, int(s)) for k, ids in zip(truth.key, truth.sprint_ids)
                                                         for s in ids}
    assert set(query(db, "SELECT id FROM raw_jira.boards").id) == set(w["boards"].board_id)
    sprints = query(db, "SELECT id, state FROM raw_jira.sprints")
    vs = views.sprints(w)
    assert dict(zip(sprints.id, sprints.state)) == dict(zip(vs.sprint_id, vs.state))
    # users: once each, with the first scope of the sources file whose issues name them,
    # however the scopes' threads interleaved
    users = query(db, "SELECT jira_account_id, scope, scope_rank FROM raw_jira.users")
    assert users.jira_account_id.is_unique
    named = query(db, "SELECT assignee_account_id AS u, scope FROM raw_jira.issues UNION "
                      "SELECT reporter_account_id, scope FROM raw_jira.issues UNION "
                      "SELECT author_account_id, scope FROM raw_jira.issue_changelogs").dropna()
    order = project_order(full["src"])
    first = named.assign(rank=named.scope.map(order.index)).sort_values("rank").groupby("u").scope.first()
    assert dict(zip(users.jira_account_id, users.scope)) == first.to_dict()
    assert len(set(first)) == 2  # users of both projects
    assert (users.scope_rank == users.scope.map(order.index)).all()


def test_a_sequential_sync_loads_the_same_rows(small_sim, full, tmp_path):
    """`concurrency: 1` reads the scopes one after the other, as the connector did before
    scopes were searched at once: the same warehouse, row for row."""
    r = sync(tmp_path, sources_for(small_sim.world, tmp_path, small_sim.url, jira_extra="\n    concurrency: 1"))
    assert r.status == "success", r.source("jira").error_message
    assert_same(snapshot(tmp_path / "sei.duckdb"), snapshot(full["db"]))


def test_changelogs_are_fetched_only_for_truncated_issues(small_sim, full, tmp_path):
    w = small_sim.world
    hist = histories_per_issue(w)
    truncated = hist[hist > EMBED]
    pkey = w["projects"].set_index("project_id").jira_key
    scopes_with_truncated = {k.split("-")[0] for k in truncated.index}
    assert set(pkey) >= scopes_with_truncated and len(scopes_with_truncated) == 2
    # in bulk: one request per scope, each for that scope's truncated issues of many pages
    d = full["requests"]
    assert d["jira.changelog_bulkfetch"] == len(scopes_with_truncated)
    assert d.get("jira.issue_changelog", 0) == 0
    # one issue at a time: exactly one request per truncated issue (each has <= 100
    # histories, one page), none for the others; the same rows
    before = sim_stats(small_sim)
    r = sync(tmp_path, sources_for(w, tmp_path, small_sim.url, jira_extra="\n    changelog_bulkfetch: false"))
    d2 = delta(sim_stats(small_sim), before)
    assert r.status == "success", r.source("jira").error_message
    assert d2["jira.issue_changelog"] == len(truncated) and d2.get("jira.changelog_bulkfetch", 0) == 0
    assert_same(snapshot(tmp_path / "sei.duckdb", ("issues", "issue_changelogs", "users")),
                snapshot(full["db"], ("issues", "issue_changelogs", "users")))


def test_cloud_requests_are_the_search_pages_and_listings(small_sim, full):
    """Cloud's search answers at most 100 issues a page when fields are asked for: a full
    sync is its search pages, one bulk changelog request per scope with truncated issues,
    and the agile listings (one board page per project, one sprint page per board)."""
    w = small_sim.world
    truth = views.issues(w)
    pages = sum(-(-n // 100) for n in truth.groupby("project_id").size())
    d = full["requests"]
    assert d["jira.search_jql"] == pages
    assert d["jira.boards"] == w["projects"].jira_key.nunique()
    assert d["jira.board_sprints"] == len(w["boards"])
    n = sum(d.values())
    assert n == pages + 2 + d["jira.boards"] + d["jira.board_sprints"] + d["jira.changelog_bulkfetch"]
    # the connector before: one bulk request per search page holding a truncated issue
    hist = histories_per_issue(w)
    before_bulk = 0
    for _, g in truth.sort_values(["updated_at", "key"]).groupby("project_id"):
        keys = list(g.key)
        before_bulk += sum(any(hist.get(k, 0) > EMBED for k in keys[i:i + 100]) for i in range(0, len(keys), 100))
    before = n - d["jira.changelog_bulkfetch"] + before_bulk
    print(f"\njira cloud full sync, small org: {n} requests = {n / len(truth) * 1000:.1f} per 1,000 issues "
          f"(the connector before: {before} = {before / len(truth) * 1000:.1f})")
    assert n < before


def test_data_center_pages_of_1000_halve_the_requests(fresh_sim, tmp_path):
    """Data Center answers up to 1,000 issues a page (`jira.search.views.default.max`): the
    default page size is that, where it was 100. Same rows, requests per 1,000 issues at most
    half of the old default's."""
    s = fresh_sim("small", seed=1, data_center=True)
    runs = {}
    for name, extra in (("before", "\n    page_size: 100"), ("after", "")):
        before = sim_stats(s)
        r = sync(tmp_path / name, sources_for(s.world, tmp_path / name, s.url, flavor="data_center", jira_extra=extra))
        assert r.status == "success", r.source("jira").error_message
        runs[name] = sum(delta(sim_stats(s), before).values())
    issues = len(views.issues(s.world))
    per = {k: v / issues * 1000 for k, v in runs.items()}
    print(f"\njira data center full sync, small org: requests per 1,000 issues {per['before']:.1f} with pages of "
          f"100, {per['after']:.1f} with the default")
    assert per["after"] <= per["before"] / 2
    assert_same(snapshot(tmp_path / "before" / "sei.duckdb"), snapshot(tmp_path / "after" / "sei.duckdb"))


def test_incremental_with_scopes_at_once_equals_a_fresh_full_sync(fresh_sim, tmp_path):
    """Each scope's `updated >=` cursor moves on its own thread: after 72 hours of activity an
    incremental run fetches only what changed in each project and ends where a fresh full
    sync does."""
    from tests.test_ingest_jira import advance, ops_resources
    s = fresh_sim("small", seed=1)
    src = sources_for(s.world, tmp_path / "inc", s.url)
    assert sync(tmp_path / "inc", src).status == "success"
    old = dict(zip(views.issues(s.world).key, views.issues(s.world).updated_at))
    advance(s, 72)
    now = views.issues(s.world)
    changed = now[[old.get(k) != u for k, u in zip(now.key, now.updated_at)]]
    assert changed.project_id.nunique() == 2
    before = sim_stats(s)
    r = sync(tmp_path / "inc", src)
    d = delta(sim_stats(s), before)
    assert r.status == "success", r.source("jira").error_message
    db = tmp_path / "inc" / "sei.duckdb"
    assert ops_resources(db, r.run_id).loc["issues", "rows"] == len(changed)
    assert d["jira.search_jql"] == sum(-(-n // 100) for n in changed.groupby("project_id").size())
    full = sync(tmp_path / "full", sources_for(s.world, tmp_path / "full", s.url))
    assert full.status == "success"
    assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))


# --------------------------------------------------------------------------- hourly runs: which boards are listed
def listings(sim) -> tuple[list[int], list[str]]:
    """(boards whose sprints were listed, projects whose boards were listed) in the simulator's
    request log since it was last cleared."""
    log = list(sim.request_log)
    return (sorted(int(path.split("/")[-2]) for ep, _, path, _ in log if ep == "jira.board_sprints"),
            sorted(q.get("projectKeyOrId", "") for ep, _, _, q in log if ep == "jira.boards"))


def run_at(sim, tmp, src, when: str):
    """Move the simulator's clock to `when` (UTC) and run the hourly sync: what it listed."""
    from tests.test_ingest_jira import advance
    hours = (pd.Timestamp(when, tz="UTC").timestamp() - sim.world.now) / 3600
    if hours:
        advance(sim, hours)
    sim.request_log.clear()
    r = sync(tmp, src)
    assert r.status == "success", r.source("jira").error_message
    return listings(sim)


def stored_sprints(db) -> pd.DataFrame:
    return query(db, "SELECT id, board_id, state FROM raw_jira.sprints").set_index("id")


def boards_named_by_changed_issues(world, db, cursors: dict) -> set[int]:
    """The boards of the sprints that the issues an incremental search reads (updated since
    each project's cursor minus the 5-minute overlap, at JQL's minute precision) name and the
    warehouse does not hold as they are now."""
    truth, vs = views.issues(world), views.sprints(world).set_index("sprint_id")
    stored = stored_sprints(db)
    out = set()
    for p, g in truth.groupby("project_id"):
        since = (cursors[p] - 300) // 60 * 60
        for ids in g[g.updated_at >= since].sprint_ids:
            for s in ids:
                if s not in stored.index or stored.state[s] != vs.state[s]:
                    out.add(int(vs.board_id[s]))
    return out


def test_hourly_runs_list_the_boards_that_issues_or_the_clock_name(fresh_sim, tmp_path):
    """With the sweep out of the way (10,000 hours), an hourly run lists a board's sprints
    only where a changed issue names a sprint the warehouse does not hold as it is now, or a
    stored sprint is due to change state by the clock (a sprint past its end, a board between
    sprints); and across a sprint boundary the warehouse ends as a fresh full sync's. The
    server's clock (the simulator's Date header) decides; it stands still between the test's
    advances (time_scale 1e6), so what is due does not depend on the machine's load."""
    from tests.test_ingest_jira import advance
    s = fresh_sim("small", seed=1, time_scale=1e6)
    w = s.world
    all_boards = sorted(int(b) for b in w["boards"].board_id)
    inc = tmp_path / "inc"
    src = sources_for(w, inc, s.url, jira_extra="\n    sprint_sweep_hours: 10000")
    db = inc / "sei.duckdb"
    # Monday 08:00: the first sync lists everything
    assert run_at(s, inc, src, "2026-11-02 08:00") == (all_boards, sorted(w["projects"].jira_key))
    # Saturday 16:00: the next sprints were created on Monday 09:00 and no issue names them
    # yet: nothing to list (the sweep would find them), and they are missing
    assert run_at(s, inc, src, "2026-11-07 16:00") == ([], [])
    future = set(views.sprints(w).query("state == 'future'").sprint_id)
    assert len(future) == len(all_boards) and not future & set(stored_sprints(db).index)
    # 17:00: issues planned into two of them name them: those boards, and only those
    cursors = views.issues(w).groupby("project_id").updated_at.max().to_dict()
    advance(s, 1)
    expected = boards_named_by_changed_issues(w, db, cursors)  # from the world, before the run
    got, projects = run_at(s, inc, src, "2026-11-07 17:00")
    assert got == sorted(expected) and 0 < len(got) < len(all_boards) and projects == []
    # Sunday 18:00: the active sprints end: every board, by the clock
    assert run_at(s, inc, src, "2026-11-08 18:00")[0] == all_boards
    assert set(stored_sprints(db).query("state == 'active'").index) == set()
    # until the next sprints start (Monday 09:00; planned without dates, so no start is due
    # by the clock, and starting them touches no issue) a board between sprints is listed
    # once half the time since the completion has passed since its last listing: 19:00 and
    # 20:00, not 21:00 (1, 2, 4, 8, 16 hours after the completion)
    assert run_at(s, inc, src, "2026-11-08 19:00") == (all_boards, [])
    # completing the sprints updated the issues it moved to the next sprint (a second after
    # the completion date), not the completed ones
    done_at = int(pd.Timestamp("2026-11-08 18:00", tz="UTC").timestamp())
    moved = views.issues(w).query("updated_at == @done_at + 1")
    assert len(moved) > 0 and not moved.status.isin(["Done", "Won't Do"]).any()
    assert set(query(db, "SELECT epoch(updated_at)::BIGINT AS u FROM raw_jira.issues WHERE "
                         "epoch(updated_at)::BIGINT = %d" % (done_at + 1)).u) == {done_at + 1}
    assert run_at(s, inc, src, "2026-11-08 20:00") == (all_boards, [])
    assert run_at(s, inc, src, "2026-11-08 21:00") == ([], [])
    # Monday 10:00, 16 hours after the completion: listed, and the sprints started at 09:00
    # are active
    assert run_at(s, inc, src, "2026-11-09 10:00")[0] == all_boards
    assert len(stored_sprints(db).query("state == 'active'")) == len(all_boards)
    # and then only where issues say a sprint changed: none
    assert run_at(s, inc, src, "2026-11-09 11:00") == ([], [])
    full = sync(tmp_path / "full", sources_for(w, tmp_path / "full", s.url))
    assert full.status == "success"
    assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))


def test_the_sweep_finds_a_sprint_no_issue_names(fresh_sim, tmp_path):
    """A sprint created with no issue in it (the simulator creates each next sprint a week
    before it starts) shows in no search: it appears when the sweep reaches its board.
    `sprint_sweep_hours: 6` over 7 boards: one board an hour, the oldest listing first, and
    every board whose listing would be 6 hours old by the next run; board listings (2
    projects) likewise."""
    s = fresh_sim("small", seed=1, time_scale=1e6)
    w = s.world
    inc = tmp_path / "inc"
    src = sources_for(w, inc, s.url, jira_extra="\n    sprint_sweep_hours: 6")
    db = inc / "sei.duckdb"
    projects = sorted(w["projects"].jira_key)
    run_at(s, inc, src, "2026-11-02 08:00")
    new = views.sprints(w).query("created_at > @w.now").set_index("sprint_id").board_id  # created at 09:00
    seen, by_run = set(), []
    for hour in (9, 10, 11, 12, 13):
        boards, listed_projects = run_at(s, inc, src, f"2026-11-02 {hour:02d}:00")
        by_run.append((boards, listed_projects))
        seen |= set(boards)
        # a new sprint is in the warehouse once its board was listed, not before
        held = set(stored_sprints(db).index)
        assert {sid for sid, b in new.items() if sid in held} == {sid for sid, b in new.items() if b in seen}
    assert by_run == [([1], []), ([2], []), ([3], [projects[0]]), ([4], []), ([5, 6, 7], [projects[1]])]
    full = sync(tmp_path / "full", sources_for(w, tmp_path / "full", s.url))
    assert full.status == "success"
    assert_same(snapshot(db), snapshot(tmp_path / "full" / "sei.duckdb"))


def test_a_sprint_start_delivery_lists_its_board_whatever_the_sweep(fresh_sim, tmp_path, monkeypatch):
    """The push path (webhooks/apply.py) narrows the Jira sync to the projects and boards its
    deliveries name, and lists those boards' sprints whatever the rolling sweep says: a
    sprint started on Monday 09:00 changes no issue, so an hourly run an hour after a full
    sync lists none of the boards (none is due) and the sprints stay `future` until the sweep
    reaches them. The same deliveries applied with the sweep left on show that."""
    import shutil

    from simulator.webhooks import WebhookSender
    from tests.helpers import environ, job_environment
    from tests.test_ingest_jira import advance
    from tests.webhook_receiver import ENV, SECRET, Receiver
    from webhooks import apply as apply_mod
    s = fresh_sim("small", seed=1, time_scale=1e6)
    w = s.world
    inc = tmp_path / "inc"
    src = sources_for(w, inc, s.url, jira_extra="\n    sprint_sweep_hours: 6")
    run_at(s, inc, src, "2026-11-09 08:00")          # a full sync an hour before the sprints start
    receiver = Receiver(tmp_path / "webhooks.sqlite")
    try:
        sender = WebhookSender(w, receiver.url, SECRET)
        advance(s, 1.5)
        started = {p["sprint"]["id"] for _, ev, p in sender.deliveries.values() if ev == "sprint_started"}
        assert len(started) == 7, sender.deliveries    # one a board
    finally:
        receiver.stop()
    assert set(stored_sprints(inc / "sei.duckdb").state[sorted(started)]) == {"future"}
    swept = tmp_path / "swept"
    shutil.copytree(inc, swept)
    shutil.copy(tmp_path / "webhooks.sqlite", tmp_path / "swept.sqlite")

    def apply(wh: Path, spool: Path) -> None:
        # the simulator sends every source's deliveries: the others sync their named scopes too
        with environ(**job_environment(wh, src), **ENV):
            res = apply_mod.apply_pending(config_path=src, spool_file=spool, say=lambda line: None, publish=False,
                                          build=False)
        assert res.newly_applied > 0

    apply(inc, tmp_path / "webhooks.sqlite")
    assert set(stored_sprints(inc / "sei.duckdb").state[sorted(started)]) == {"active"}
    with monkeypatch.context() as m:   # the sweep left on: what the push path did before
        m.setattr(apply_mod, "_list_every_scope", lambda cfg, source, sweeps: cfg)
        apply(swept, tmp_path / "swept.sqlite")
    assert "future" in set(stored_sprints(swept / "sei.duckdb").state[sorted(started)])
