"""Org marts on a real warehouse: the tiny simulated org's GitHub synced over HTTP by the
real connector, the simulator's org files imported (`import_org`) and identities resolved
(`resolve_warehouse`), then `dbt build` of the org marts and what they need. Checked
against the simulator's ground truth: the team closure is exactly the ancestor pairs of
the tree, every human PR is attributed to its author's team at creation (agreement
printed), and a developer who moved teams has PRs before the move on the old team and
after it on the new one."""
from __future__ import annotations

import pandas as pd
import pytest

from test_dbt_staging import dbt, environ, query, run_results

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

MARTS = ("dim_developer", "dim_identity", "dim_team", "dim_team_closure", "bridge_team_membership", "dim_service",
         "bridge_pull_request_team", "bridge_commit_team", "bridge_review_team", "bridge_issue_team")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from ingestion import pipeline
    from ingestion.org.identities import resolve_warehouse
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.http import GITHUB_TOKEN, JIRA_EMAIL, JIRA_TOKEN
    from simulator.server import SimServer

    tmp = tmp_path_factory.mktemp("org_marts")
    db = tmp / "sei.duckdb"
    world = generate("tiny", seed=7)
    with SimServer(world, time_scale=0.001) as sim:
        src = export_sources(world, tmp / "sources.yml", sim.url)
        with environ(SEI_WAREHOUSE=db, SEI_SOURCES=src, SEI_WAIT_SCALE="0.001",
                     SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__GITHUB__BASE_URL=None,
                     SOURCES__GITHUB__GRAPHQL_URL=None, SOURCES__JIRA__EMAIL=JIRA_EMAIL,
                     SOURCES__JIRA__API_TOKEN=JIRA_TOKEN, SOURCES__JIRA__BASE_URL=sim.url):
            result = pipeline.run(["github", "jira"], progress=False)
        assert result.ok, [(s.source, s.status, s.error_message) for s in result.sources]
    export_org(world, tmp / "org")
    assert import_org(OrgFiles.from_dir(tmp / "org"), warehouse=db).status == "accepted"
    resolve_warehouse(db)
    target = tmp / "target"
    build = dbt(["build", "--select", "+path:models/marts/org", "+int_pull_requests__timeline",
                 "--indirect-selection", "cautious"], db, target)
    return {"world": world, "db": db, "build": build,
            "results": run_results(target) if (target / "run_results.json").exists() else pd.DataFrame()}


def marts(built, sql: str) -> pd.DataFrame:
    return query(built["db"], sql)


def test_build_passes_with_contracts_and_tests(built):
    b = built["build"]
    assert b.returncode == 0, b.stdout[-4000:]
    r = built["results"]
    assert (r.status.isin(["success", "pass"])).all(), r[~r.status.isin(["success", "pass"])]
    for m in MARTS:
        assert f"model.sei.{m}" in set(r.id), m
    n = marts(built, "select count(*) as n from marts.bridge_pull_request_team").n[0]
    print(f"\norg marts: {len(r)} nodes pass; bridge_pull_request_team {n} rows")
    assert n > 0


def test_closure_is_exactly_the_ancestor_pairs(built):
    from simulator.truth import truth_frame
    teams = built["world"]["teams"]
    parent = dict(zip(teams.team_id, teams.parent_team_id))
    want = set()
    for t in teams.team_id:
        a, d = t, 0
        while isinstance(a, str) and a:
            want.add((a, t, d))
            a, d = parent.get(a), d + 1
    got = marts(built, "select ancestor_team_id, descendant_team_id, depth from marts.dim_team_closure "
                       "where tree = 'reporting'")
    assert set(zip(got.ancestor_team_id, got.descendant_team_id, got.depth)) == want
    assert len(got) == len(want)
    # every tree: a team's depth in dim_team equals its depth under its root in the closure
    bad = marts(built, """select t.tree, t.team_id from marts.dim_team t
        join marts.dim_team_closure c on c.tree = t.tree and c.descendant_team_id = t.team_id
        join marts.dim_team r on r.tree = c.tree and r.team_id = c.ancestor_team_id and r.parent_team_id is null
        where c.depth <> t.depth""")
    assert bad.empty, bad
    assert set(truth_frame(built["world"], "memberships").team_id) <= set(teams.team_id)


def attributed(built) -> pd.DataFrame:
    """Truth PRs by human authors, with the warehouse's reporting-tree teams at creation."""
    from simulator.truth import truth_frame
    t = truth_frame(built["world"], "pull_requests")
    t = t[t.author_dev_id.notna()].copy()
    b = marts(built, """select p.repository_full_name as repository, p.pull_request_number as number,
                               string_agg(b.team_id, ',' order by b.team_id) as teams
                        from staging.stg_github__pull_requests p
                        left join marts.bridge_pull_request_team b
                          on b.pull_request_id = p.pull_request_id and b.tree = 'reporting'
                        group by 1, 2""")
    b["number"] = b.number.astype(int)
    t["number"] = t.number.astype(int)
    out = t.merge(b, on=["repository", "number"], how="inner")
    out["teams"] = out.teams.fillna("").str.split(",").map(lambda x: {v for v in x if v})
    out["agrees"] = [want in got for want, got in zip(out.team_id_at_creation, out.teams)]
    return out


def test_every_human_pr_is_attributed_to_its_authors_team(built):
    a = attributed(built)
    assert len(a) >= 50
    share = a.agrees.mean()
    print(f"\nPR attribution: {a.agrees.sum()}/{len(a)} human PRs ({share:.2%}) on the author's team at creation")
    off = a[~a.agrees]
    if len(off):
        print(off[["repository", "number", "author_login", "author_dev_id", "team_id_at_creation", "created_at",
                   "teams"]].head(10).to_string())
    assert share >= 0.99, off.head(10)
    bots = marts(built, """select count(*) as n from marts.bridge_pull_request_team b
                           join staging.stg_github__pull_requests p using (pull_request_id) where p.is_bot_author""")
    assert bots.n[0] == 0


def test_developer_who_moved_teams_follows_the_move(built):
    from simulator.truth import truth_frame
    m = truth_frame(built["world"], "memberships")
    moved = m[m.valid_to.notna()]
    assert not moved.empty
    a = attributed(built)
    checked = 0
    for row in moved.itertuples():
        end = pd.Timestamp(row.valid_to)
        new = m[(m.dev_id == row.dev_id) & (m.valid_from == row.valid_to)]
        mine = a[a.author_dev_id == row.dev_id]
        created = pd.to_datetime(mine.created_at, utc=True)
        before, after = mine[created < end], mine[created >= end]
        assert before.teams.map(lambda s: row.team_id in s).all()
        if not new.empty:
            assert not after.teams.map(lambda s: row.team_id in s).any()
            assert after.teams.map(lambda s: set(new.team_id) <= s).all()
            if len(before) and len(after):
                checked += 1
                print(f"\n{row.dev_id}: {len(before)} PRs on {row.team_id} before {row.valid_to[:10]}, "
                      f"{len(after)} on {sorted(new.team_id)} after")
    assert checked >= 1


# Each person-made fact, its account and attribution time, from staging; the expected teams
# come from the simulator's own identities and membership timeline (not the warehouse's).
PERSON_FACTS = {
    "bridge_commit_team": ("""select repository_full_name || '@' || commit_sha as fact,
            case when author_login is not null then 'github' else 'git' end as tool,
            lower(coalesce(author_login, author_email)) as account, authored_at as at
        from staging.stg_github__commits where not is_deleted""", "repository_full_name || '@' || commit_sha"),
    "bridge_review_team": ("""select review_id as fact, 'github' as tool, lower(reviewer_login) as account,
            submitted_at as at from staging.stg_github__pull_request_reviews
        where not is_deleted and state <> 'pending' and not is_bot_reviewer""", "review_id"),
    "bridge_issue_team": ("""select issue_id as fact, 'jira' as tool, assignee_account_id as account,
            coalesce(resolved_at, created_at) as at from staging.stg_jira__issues
        where not is_deleted and assignee_account_id is not null""", "issue_id"),
}


@pytest.mark.parametrize("bridge", sorted(PERSON_FACTS))
def test_person_facts_follow_the_person_at_the_events_time(built, bridge):
    from simulator.truth import truth_frame
    facts_sql, key = PERSON_FACTS[bridge]
    ids = truth_frame(built["world"], "identities")
    ids = ids[ids.dev_id.notna() & ~ids.is_bot.astype(bool)]
    who = {("github", str(r.login).lower()): r.dev_id for r in ids[ids.tool == "github"].itertuples()}
    who |= {("git", str(r.email).lower()): r.dev_id for r in ids.itertuples() if isinstance(r.email, str)}
    who |= {("jira", str(r.account_id)): r.dev_id for r in ids[ids.tool == "jira"].itertuples()}
    m = truth_frame(built["world"], "memberships")
    vf = pd.to_datetime(m.valid_from, utc=True).dt.tz_localize(None)
    vt = pd.to_datetime(m.valid_to, utc=True).dt.tz_localize(None)
    facts = marts(built, facts_sql)
    got = marts(built, f"select {key} as fact, string_agg(team_id, ',' order by team_id) as teams from marts.{bridge} "
                       f"where tree = 'reporting' group by 1")
    got = dict(zip(got.fact, got.teams))
    agree = total = 0
    for f in facts.itertuples():
        dev = who.get((f.tool, f.account))
        if dev is None:
            continue
        at = pd.Timestamp(f.at)
        want = sorted(m.team_id[(m.dev_id == dev) & (vf <= at) & (vt.isna() | (at < vt))])
        total += 1
        agree += ",".join(want) == (got.get(f.fact) or "")
    print(f"\n{bridge}: {agree}/{total} human facts on the person's teams at the event's time")
    assert total >= 20 and agree / total >= 0.99


def test_builds_without_an_org_import(built, tmp_path):
    """No `sei org import` yet (schema raw_org absent): the org marts still build, empty,
    with the same columns."""
    import shutil

    import duckdb
    db = tmp_path / "no_org.duckdb"
    shutil.copy(built["db"], db)
    con = duckdb.connect(str(db))
    con.execute("DROP SCHEMA raw_org CASCADE")
    con.close()
    b = dbt(["build", "--select", "+path:models/marts/org", "--indirect-selection", "cautious"], db,
            tmp_path / "target")
    assert b.returncode == 0, b.stdout[-4000:]
    for m in MARTS:
        assert query(db, f"select count(*) as n from marts.{m}").n[0] == 0, m
    cols = "select table_name, column_name, data_type from information_schema.columns where table_schema = 'marts' " \
           "order by 1, ordinal_position"
    assert query(db, cols).equals(query(built["db"], cols))
