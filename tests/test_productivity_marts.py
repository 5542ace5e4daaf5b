"""Productivity, sprint, alignment and goal marts on a real warehouse (tests/prod_warehouse.py:
the tiny simulated org through the real connectors, org import, shipped profiles, dbt build),
checked per team and month against an independent pandas computation of the same rules on
the simulator's ground truth (its PRs, issues, sprint log and memberships)."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
import yaml

from prod_warehouse import build
from test_dbt_staging import PROJECT, dbt, query

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

MINE = ["fct_pull_requests", "productivity_team_weekly", "productivity_team_monthly", "productivity_developer_monthly",
        "productivity_team_pr_sizes",
        "fct_sprint_issues", "sprint_metrics", "alignment_team_monthly", "goal_status"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    return build(tmp_path_factory.getbasetemp() / "prod_warehouse")


def marts(built, sql):
    return query(built["db"], sql)


# ------------------------------------------------------------------ the truth, computed independently
def _utc(s) -> pd.Series:
    return pd.to_datetime(s, utc=True).dt.tz_localize(None)


def memberships(world) -> pd.DataFrame:
    from simulator.truth import truth_frame
    m = truth_frame(world, "memberships").copy()
    m["vf"] = _utc(m.valid_from).fillna(pd.Timestamp("1900-01-01"))
    m["vt"] = _utc(m.valid_to).fillna(pd.Timestamp("2200-01-01"))
    return m


def teams_at(frame: pd.DataFrame, dev_col: str, at_col: str, world) -> pd.DataFrame:
    """One row per fact and team its person belonged to at `at_col` (a person in two teams
    counts in both)."""
    x = frame.merge(memberships(world)[["dev_id", "team_id", "vf", "vt"]].rename(columns={"team_id": "team"}),
                    left_on=dev_col, right_on="dev_id")
    return x[(x[at_col] >= x.vf) & (x[at_col] < x.vt)]


def month_of(ts: pd.Series) -> pd.Series:
    return ts.dt.to_period("M").dt.start_time


def truth_prs(world) -> pd.DataFrame:
    from simulator import views
    p = views.pull_requests(world)
    p = p[(p.state == "MERGED") & (p.kind != "bot") & p.author_dev.notna()].copy()
    p["created"] = pd.to_datetime(p.created_at, unit="s")
    p["month"] = month_of(pd.to_datetime(p.merged_at_now, unit="s"))
    cycle = (p.merged_at_now - p.first_commit_at) / 3600.0
    p["cycle"] = cycle.where(cycle >= 0)
    return teams_at(p, "author_dev", "created", world)


def truth_issues(world) -> pd.DataFrame:
    """Issues with their completion (last change into Done while done now) and status log."""
    from simulator import views
    i = views.issues(world).copy()            # index = the issue's position in the world (the log's issue_ix)
    log = views.changelog(world)
    st = log[log.field == "status"].sort_values(["issue_ix", "ts"])
    last = st.groupby("issue_ix").tail(1).set_index("issue_ix")
    i["completed"] = pd.to_datetime(last["ts"].where(last["to_string"] == "Done").reindex(i.index), unit="s")
    i["resolved"] = pd.to_datetime(i.resolved_at_now.where(i.resolved_at_now >= 0), unit="s")
    i["created"] = pd.to_datetime(i.created_at, unit="s")
    i["attributed_at"] = i.resolved.fillna(i.created)
    return i


# ------------------------------------------------------------------ dbt itself
def test_build_passes_with_unit_tests_and_contracts(built):
    b = built["build"]
    assert b.returncode == 0, b.stdout[-5000:]
    r = built["results"]
    assert set(r.status) <= {"success", "pass"}, r[~r.status.isin(["success", "pass"])]
    for m in MINE:
        assert f"model.sei.{m}" in set(r.id), m
    units = r[r.id.str.startswith("unit_test.sei.")]
    mine = units[units.id.str.contains("sprint|alignment|goal_status|fct_pull_requests|productivity|int_jira__issue")]
    assert len(mine) >= 10 and set(mine.status) == {"pass"}, mine
    print(f"\n{len(r)} nodes pass, {len(mine)} of them unit tests of these marts")


# ------------------------------------------------------------------ productivity
def test_merged_prs_and_cycle_time_p50_per_team_and_month_equal_the_truth(built):
    t = truth_prs(built["world"]).groupby(["team", "month"]).agg(merged=("pr_id", "size"), p50=("cycle", "median"))
    m = marts(built, """select team_id as team, month_start, merged_prs, pr_cycle_time_p50_hours
                        from marts.productivity_team_monthly where tree = 'reporting' and not includes_subteams""")
    m["month"] = pd.to_datetime(m.month_start)
    j = m.merge(t.reset_index(), on=["team", "month"], how="left")
    j["merged"] = j.merged.fillna(0).astype(int)
    assert (j.merged == j.merged_prs).all(), j[j.merged != j.merged_prs]
    assert j.merged.sum() == len(truth_prs(built["world"]).drop_duplicates(["pr_id", "team"])) > 300
    has = j.merged > 0
    assert np.allclose(j.p50[has], j.pr_cycle_time_p50_hours[has], rtol=0, atol=1e-6)
    # a month without merged PRs: count 0 and no median
    assert (j.pr_cycle_time_p50_hours[~has].isna()).all() and (~has).sum() > 0
    print(f"\n{has.sum()} team-months with merged PRs agree with the truth (count and p50); {(~has).sum()} empty")


def test_spine_sub_teams_and_weeks(built):
    monthly = marts(built, "select * from marts.productivity_team_monthly where tree = 'reporting'")
    teams = marts(built, "select team_id from marts.dim_team where tree = 'reporting'")
    months = monthly.month_start.nunique()
    assert len(monthly) == len(teams) * months * 2        # every team, every month, alone and with sub-teams
    # the root with sub-teams counts every human PR once, however many teams its author was in
    t = truth_prs(built["world"]).drop_duplicates("pr_id").groupby("month").size()
    root = monthly[(monthly.team_id == "T000") & monthly.includes_subteams].set_index("month_start").merged_prs
    root.index = pd.to_datetime(root.index)
    assert root.reindex(t.index).tolist() == t.tolist()
    weekly = marts(built, "select * from marts.productivity_team_weekly where tree = 'reporting'")
    assert set(pd.to_datetime(weekly.week_start).dt.dayofweek) == {0}
    w = weekly[~weekly.includes_subteams].groupby("team_id").merged_prs.sum()
    mo = monthly[~monthly.includes_subteams].groupby("team_id").merged_prs.sum()
    assert w.to_dict() == mo.to_dict()
    # the size buckets split each team-month's merged PRs
    sizes = marts(built, """select s.tree, s.team_id, s.includes_subteams, s.period_start, sum(s.merged_prs) as n
                            from marts.productivity_team_pr_sizes s where s.period_grain = 'month'
                            group by 1, 2, 3, 4""")
    sizes["month_start"] = sizes.period_start
    j = monthly.merge(sizes, on=["tree", "team_id", "includes_subteams", "month_start"])
    assert len(j) == len(monthly) and (j.n == j.merged_prs).all()
    # phases add up for a PR with all of them
    f = marts(built, "select * from marts.fct_pull_requests where coding_hours is not null and pickup_hours is not null "
                     "and review_hours is not null")
    assert len(f) > 300 and np.allclose(f.coding_hours + f.pickup_hours + f.review_hours, f.cycle_time_hours, atol=1e-6)


def test_pr_facts_buckets_reverts_and_categories(built):
    from simulator import views
    f = marts(built, "select * from marts.fct_pull_requests")
    p = views.pull_requests(built["world"])
    assert len(f) == len(p)
    assert f.is_revert.sum() == (p.kind == "revert").sum() > 0
    assert f.is_bot_author.sum() == (p.kind == "bot").sum()
    assert f.author_team_id[f.is_bot_author].isna().all()
    sizes = f.size_lines
    want = np.select([sizes < 10, sizes < 100, sizes < 400, sizes < 1000], ["XS", "S", "M", "L"], "XL")
    assert (f.size_bucket == want).all()
    linked = f[f.linked_issue_count > 0]
    assert len(linked) > 100 and linked.alignment_category.notna().all()


# ------------------------------------------------------------------ sprints
def test_sprint_delivery_per_team_equals_the_truth(built):
    from simulator import views
    w = built["world"]
    i = truth_issues(w)
    sprints = views.sprints(w)
    sprints = sprints[sprints.complete_at_now >= 0]
    log = views.changelog(w)
    slog = log[log.field == "Sprint"].sort_values(["issue_ix", "ts", "history_id"])
    st = log[log.field == "status"].sort_values(["issue_ix", "ts"])
    rows = []
    for s in sprints.itertuples():
        end = s.complete_at_now
        before = slog[slog.ts <= end].groupby("issue_ix").tail(1)
        inside = before[[s.sprint_id in list(ids) for ids in before.to_ids]].issue_ix
        status = st[st.ts <= end].groupby("issue_ix").tail(1).set_index("issue_ix")["to_string"]
        done = [ix for ix in inside if status.get(ix) == "Done"]
        for ix in done:
            rows.append({"sprint_id": s.sprint_id, "issue_ix": ix})
    d = pd.DataFrame(rows).merge(i[["assignee_dev", "attributed_at"]], left_on="issue_ix", right_index=True)
    d = teams_at(d, "assignee_dev", "attributed_at", w)
    truth = d.groupby(["sprint_id", "team"]).size()
    m = marts(built, "select sprint_id, team_id as team, delivered_issues from marts.sprint_metrics "
                     "where tree = 'reporting' and is_sprint_closed and delivered_issues > 0")
    got = m.set_index(["sprint_id", "team"]).delivered_issues
    assert got.sort_index().to_dict() == truth.sort_index().to_dict()
    print(f"\nsprint delivery: {len(got)} (sprint, team) slices, {got.sum()} issues delivered, equal to the truth")
    sm = marts(built, "select * from marts.sprint_metrics where committed_issues > 0")
    assert np.allclose(sm.say_do_ratio, sm.delivered_committed_issues / sm.committed_issues)
    assert (sm.added_issues > 0).any() and (marts(built, "select count(*) n from marts.fct_sprint_issues "
                                                         "where is_removed").n[0] > 0)


# ------------------------------------------------------------------ alignment
def _txt(v) -> set[str]:
    return {v.lower()} if isinstance(v, str) and v else set()


def own_category(issue, cats) -> str | None:
    """The first category (profile order = rank) one of whose rules the issue satisfies."""
    attrs = {"issue_types": _txt(issue["type"]),
             "labels": {x.lower() for x in (issue["labels"] if isinstance(issue["labels"], str) else "").split(";") if x},
             "components": _txt(issue["component"]), "epics": _txt(issue["epic_key"]),
             "parents": _txt(issue["parent_key"]), "projects": _txt(issue["project_id"])}
    for c in cats:
        for rule in c["match"]:
            if all(attrs[k] & {str(v).lower() for v in (vals if isinstance(vals, list) else [vals])}
                   for k, vals in rule.items()):
                return c["name"]
    return None


def test_alignment_shares_per_team_and_month_equal_the_truth(built):
    w = built["world"]
    prof = yaml.safe_load((PROJECT.parent / "profiles" / "alignment.yml").read_text())
    assert prof["effort"] == "story_points"
    i = truth_issues(w)
    everything = w["issues"]
    parent_key = i.parent_ix.map(lambda p: everything.key.iat[p] if p >= 0 else None)
    parent_type = i.parent_ix.map(lambda p: everything.type.iat[p] if p >= 0 else None)
    i["parent_key"] = parent_key
    epic = np.where(parent_type == "Epic", parent_key, None)
    # a sub-task's epic is its parent's
    epic_of = pd.Series(epic, index=i.index)
    epic_by_pos = dict(zip(i.index, epic_of))
    i["epic_key"] = [epic_by_pos.get(p) if t == "Sub-task" and p >= 0 else e
                     for t, p, e in zip(i.type, i.parent_ix, epic_of)]
    own = [own_category(r, prof["categories"]) for r in i.to_dict("records")]   # plain list: None stays None
    own_by_key = dict(zip(i.key, own))
    cat = []
    for pos, (ix, r) in enumerate(i.iterrows()):
        e = own_by_key.get(r.epic_key) if isinstance(r.epic_key, str) and r.epic_key != r.key else None
        p = own_by_key.get(r.parent_key) if r.type == "Sub-task" and isinstance(r.parent_key, str) else None
        cat.append(e or p or own[pos] or prof["uncategorized"])
    i["category"] = cat
    done = i[i.completed.notna() & (i.type != "Epic")].copy()
    done["month"] = month_of(done.completed)
    done["effort"] = done.points_now.fillna(0)
    d = teams_at(done, "assignee_dev", "attributed_at", w)
    eff = d.groupby(["team", "month", "category"]).effort.sum()
    share = (eff / eff.groupby(level=[0, 1]).transform("sum")).dropna()
    m = marts(built, """select team_id as team, month_start, category, effort, effort_share from marts.alignment_team_monthly
                        where tree = 'reporting' and not includes_subteams and effort_share is not null""")
    m["month"] = pd.to_datetime(m.month_start)
    got = m.set_index(["team", "month", "category"]).effort_share
    got = got[got > 0]
    want = share[share > 0]
    assert sorted(got.index) == sorted(want.index)
    assert np.allclose(got.sort_index().values, want.sort_index().values, atol=1e-9)
    # children inherit their epic's category; every category of the profile occurs
    cats = marts(built, "select category, count(*) n from intermediate.int_alignment__issue_categories group by 1")
    assert set(cats.category) == {c["name"] for c in prof["categories"]} | {prof["uncategorized"]}
    print(f"\nalignment: {len(got)} (team, month, category) shares equal to the truth")


# ------------------------------------------------------------------ goals
def test_goal_status_follows_the_thresholds(built):
    g = marts(built, "select * from marts.goal_status")
    goals = yaml.safe_load((PROJECT.parent / "profiles" / "goals.yml").read_text())["goals"]
    assert set(g.goal_id) == {x["id"] for x in goals}
    assert set(g.status) == {"on_track", "at_risk", "off_track", "no_data"}
    productivity_columns = set(marts(built, "select * from marts.productivity_team_monthly limit 0").columns)
    for x in goals:
        rows = g[g.goal_id == x["id"]].sort_values("period_start")
        grain = "monthly" if x.get("period", "month") == "month" else "weekly"
        col = "month_start" if grain == "monthly" else "week_start"
        table = f"productivity_team_{grain}" if x["metric"] in productivity_columns else f"dora_team_{grain}"
        flag = "includes_subteams" if table.startswith("productivity") else "includes_subteams"
        start = col if table.startswith("productivity") else "period_start"
        src = marts(built, f"""select cast({start} as date) as period_start, {x['metric']} as v from marts.{table}
            where tree = 'reporting' and team_id = '{x['team']}' and {flag} = {x.get('include_subteams', False)}""") \
            if not x["metric"].startswith("sprint_") else None
        if src is not None:
            src["period_start"] = pd.to_datetime(src.period_start)
            rows = rows.assign(period_start=pd.to_datetime(rows.period_start))
            v = rows.merge(src, on="period_start", how="left")
            assert np.allclose(v.actual.astype(float), v.v.astype(float), equal_nan=True)
        lower = x["direction"] == "lower_is_better"
        a = rows.actual
        want = np.where(a.isna(), "no_data",
                        np.where((a <= x["warning"]) if lower else (a >= x["warning"]), "on_track",
                                 np.where((a <= x["critical"]) if lower else (a >= x["critical"]), "at_risk", "off_track")))
        assert (rows.status.values == want).all(), x["id"]


def test_changing_a_profile_changes_the_figures(built, tmp_path):
    from core.profiles.base import apply_profiles
    db = tmp_path / "sei.duckdb"
    shutil.copy(built["db"], db)
    prof = tmp_path / "profiles"
    prof.mkdir()
    text = (PROJECT.parent / "profiles" / "productivity.yml").read_text()
    (prof / "productivity.yml").write_text(text.replace("{name: S, max_lines: 100}", "{name: S, max_lines: 200}"))
    apply_profiles(db, prof)
    r = dbt(["run", "--select", "stg_config__productivity_pr_size_buckets", "fct_pull_requests"], db, tmp_path / "t")
    assert r.returncode == 0, r.stdout[-3000:]
    before = marts(built, "select size_bucket, count(*) n from marts.fct_pull_requests group by 1").set_index(
        "size_bucket").n
    after = query(db, "select size_bucket, count(*) n from marts.fct_pull_requests group by 1").set_index("size_bucket").n
    moved = query(db, "select count(*) n from marts.fct_pull_requests where size_lines >= 100 and size_lines < 200").n[0]
    assert moved > 0 and after["S"] == before["S"] + moved and after["M"] == before["M"] - moved


def test_every_goal_metric_has_values(built):
    """core/profiles/goals.py METRICS (what a goal may name) and int_goals__metric_values
    (what goal_status can read) stay in step."""
    from core.profiles.goals import METRICS
    have = marts(built, "select metric, count(metric_value) n from intermediate.int_goals__metric_values group by 1")
    assert set(have.metric) == set(METRICS)
    assert (have.n > 0).all(), have[have.n == 0]
