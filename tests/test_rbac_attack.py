"""Access-control attack suite on a real demo org: the small simulated org (two
organisations, synced over HTTP by the connectors, every mart built by dbt), the example
policy (`rbac_policies/examples/policy.yml`: an account admin, a BI tool bound to an
organisation through a group, a Goal Setter on a project, team managers and a team viewer),
published as DuckDB and Parquet scope files and onto a PostgreSQL server the test starts.

For every principal and every published mart, the rows it gets equal the rows the
documented rules give (docs/access-control.md, "Which rows of a mart"), computed here
independently in pandas from the unfiltered marts: who works in which project is counted
again from the bridges, subtrees are walked from dim_team's parents, memberships read from
bridge_team_membership. Then the findings of the attack run are replayed as named cases."""
from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

import rbac_world as W
from test_dbt_staging import dbt

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("rbac-attack")]

ROOT = Path(__file__).resolve().parent.parent
POLICY = ROOT / "rbac_policies" / "examples" / "policy.yml"
MIN_SHARE = 0.25        # dbt var sei_team_project_min_share (its default)
PRINCIPALS = ["leo", "dario", "elena", "ada", "metabase", "payments-viewers"]

# mart -> (shape, key, tree column, has project, person column): the documented rules, restated
SHAPES = {
    "dora_performance_bands": ("public", None, None, False, None),
    "integration_health": ("account", None, None, False, None),
    "dim_team": ("team", "team_id", "tree", False, None),
    "dim_team_closure": ("team", "descendant_team_id", "tree", False, None),
    "bridge_team_membership": ("team", "team_id", "tree", False, "developer_id"),
    "productivity_developer_monthly": ("team", "team_id", "tree", False, "developer_id"),
    "dim_developer": ("developer", "developer_id", None, False, None),
    "dim_identity": ("developer", "developer_id", None, False, None),
    "bridge_developer_project": ("developer", "developer_id", None, True, None),
    "dim_service": ("service", "service", None, True, None),
    "fct_changes": ("service", "service", None, True, None),
    "fct_deployment_changes": ("service", "service", None, True, None),
    "fct_pull_requests": ("bridged", "pull_request_id", None, True, None),
    "fct_sprint_issues": ("bridged", "issue_id", None, True, None),
    "fct_alignment_issues": ("bridged", "issue_id", None, True, None),
}
TEAM_NO_PROJECT = ["dora_team_weekly", "dora_team_monthly", "productivity_team_weekly", "productivity_team_monthly",
                   "productivity_team_pr_sizes", "alignment_team_monthly", "goal_status"]
TEAM_PROJECT = {"dora_service_weekly": "owning_tree", "dora_service_monthly": "owning_tree",
                "fct_deployments": "owning_tree", "fct_incidents": "owning_tree", "sprint_metrics": "tree",
                "bridge_team_project": "tree", **{f"bridge_{b}_team": "tree" for b in (
                    "pull_request", "review", "commit", "issue", "deployment", "incident")}}
SHAPES.update({m: ("team", "team_id", "tree", False, None) for m in TEAM_NO_PROJECT})
SHAPES.update({m: ("team", "team_id", c, True, None) for m, c in TEAM_PROJECT.items()})
BRIDGES = {"fct_pull_requests": "bridge_pull_request_team", "fct_sprint_issues": "bridge_issue_team",
           "fct_alignment_issues": "bridge_issue_team"}
MASKED = {"fct_changes": ["pull_request_id", "pull_request_number", "author_login", "author_developer_id",
                          "lead_time_started_at", "first_commit_at", "opened_at", "ready_at", "first_review_at",
                          "merged_at", "coding_hours", "pickup_hours", "review_hours", "cycle_time_hours",
                          "deploy_hours"],
          "fct_deployment_changes": ["pull_request_id", "commit_sha"]}


# --------------------------------------------------------------------------- the world
@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from tiny_org import loaded
    org = loaded("small")
    tmp = tmp_path_factory.mktemp("attack")
    db = tmp / "sei.duckdb"
    shutil.copy(org["raw"], db)
    for args in (["seed"], ["run"]):
        p = dbt(args, db, tmp / "target")
        assert p.returncode == 0, p.stdout[-3000:]
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()]
        frames = {n: con.execute(f'select * from marts."{n}"').df() for n in names}
    finally:
        con.close()
    sources = org["dir"] / "sources.yml"
    today = dt.date.today()     # fixed once: the publishes and the expectation use the same day
    return {"db": db, "tmp": tmp, "sources": sources, "frames": frames, "today": today,
            "projects": _projects(sources)}


def _projects(sources: Path) -> dict[str, list[str]]:
    doc = yaml.safe_load(sources.read_text())
    return {o["id"]: [p["id"] for p in o["projects"]] for o in doc["organisations"]}


# --------------------------------------------------------------------------- the rules, restated
class Scope:
    """What one principal may see, from the example policy and the unfiltered marts."""

    def __init__(self, world, principal: str):
        f, pol = world["frames"], yaml.safe_load(POLICY.read_text())
        groups = {g["name"]: g.get("members", []) for g in pol["principals"].get("groups", [])}
        mine = {principal} | {g for g, ms in groups.items() if principal in ms}
        self.account, self.whole, self.teams = False, set(), set()
        for b in pol["bindings"]:
            if b.get("principal", b.get("group")) not in mine:
                continue
            s = b["scope"]
            if s == "account":
                self.account = True
            elif "organisation" in s:
                self.whole |= set(world["projects"][s["organisation"]])
            elif "project" in s and "team" not in s:
                self.whole.add(s["project"])
            else:
                self.teams |= {(s["tree"], t) for t in _subtree(f["dim_team"], s["tree"], s["team"])}
        m = f["bridge_team_membership"]
        day = pd.Timestamp(world["today"])
        cur = m[(pd.to_datetime(m.valid_from) <= day) & (m.valid_to.isna() | (pd.to_datetime(m.valid_to) > day))]
        self.members = {d for d, tr, t in zip(cur.developer_id, cur.tree, cur.team_id) if (tr, t) in self.teams}
        self.work_teams = {(tr, t) for p in self.whole for tr, t in _teams_working_in(f, p)}
        self.work_devs = {d for p in self.whole for d in _devs_working_in(f, p)}
        svc = f["dim_service"].drop_duplicates("service")
        self.owned = {(s, p) for s, tr, t, p in zip(svc.service, svc.owning_tree, svc.owning_team_id, svc.project_id)
                      if (tr, t) in self.teams}
        self.project_services = {s for s, p in zip(svc.service, svc.project_id) if p in self.whole}
        self.visible_prs = {pr for pr, tr, t in zip(f["bridge_pull_request_team"].pull_request_id,
                                                    f["bridge_pull_request_team"].tree,
                                                    f["bridge_pull_request_team"].team_id) if (tr, t) in self.teams}
        self.visible_issues = {i for i, tr, t in zip(f["bridge_issue_team"].issue_id, f["bridge_issue_team"].tree,
                                                     f["bridge_issue_team"].team_id) if (tr, t) in self.teams}

    def sees(self, mart: str, r: dict) -> bool:
        shape, key, tree_col, has_project, person = SHAPES[mart]
        if shape == "public" or self.account:
            return True
        if shape == "account":
            return False
        p = r.get("project_id") if has_project else None
        if has_project and p in self.whole:
            return True
        if has_project and p is None:
            return False
        if shape == "team":
            team = (r[tree_col], r[key])
            ok = team in self.teams or (not has_project and team in self.work_teams)
            devs = self.members | (self.work_devs if not has_project else set())
            return ok and (person is None or r[person] in devs)
        if shape == "developer":
            return r[key] in (self.members | (self.work_devs if not has_project else set()))
        if shape == "bridged":
            return r[key] in (self.visible_prs if mart == "fct_pull_requests" else self.visible_issues)
        # service facts: a visible team owns the service in the row's project, or the author's PR is visible
        return (r[key], p) in self.owned or (mart in MASKED and r.get("pull_request_id") in self.visible_prs)

    def shown(self, mart: str, r: dict) -> dict:
        """The row as published: a service fact's person columns NULL outside the visible PRs."""
        if mart not in MASKED or self.account or r.get("project_id") in self.whole \
                or r.get("pull_request_id") in self.visible_prs:
            return r
        return {k: (None if k in MASKED[mart] else v) for k, v in r.items()}

    def expected(self, frames) -> dict[str, set]:
        out = {}
        for mart, df in frames.items():
            recs = df.astype(object).where(df.notna(), None).to_dict("records")
            out[mart] = W.row_set(tuple(self.shown(mart, r).values()) for r in recs if self.sees(mart, r))
        return out


def _subtree(dim_team: pd.DataFrame, tree: str, team: str) -> set[str]:
    parents = {t: p for tr, t, p in zip(dim_team.tree, dim_team.team_id, dim_team.parent_team_id) if tr == tree}
    out, grew = {team}, True
    while grew:
        new = {t for t, p in parents.items() if p in out} - out
        out |= new
        grew = bool(new)
    return out


def _teams_working_in(f, project: str) -> set[tuple[str, str]]:
    """A team works in a project when it or a sub-team owns one of its services, or when at
    least MIN_SHARE of the events attributed to it and its sub-teams belong to it."""
    events = pd.concat([f[b][["tree", "team_id", "project_id"]] for b in (
        "bridge_pull_request_team", "bridge_review_team", "bridge_commit_team", "bridge_issue_team",
        "bridge_deployment_team", "bridge_incident_team")]).dropna(subset=["project_id"])
    svc = f["dim_service"].dropna(subset=["owning_team_id", "project_id"])
    out = set()
    for tree in f["dim_team"].tree.unique():
        for team in f["dim_team"][f["dim_team"].tree == tree].team_id:
            sub = _subtree(f["dim_team"], tree, team)
            mine = events[(events.tree == tree) & events.team_id.isin(sub)]
            share = (mine.project_id == project).sum() / len(mine) if len(mine) else 0.0
            owns = ((svc.owning_tree == tree) & svc.owning_team_id.isin(sub) & (svc.project_id == project)).any()
            if owns or share >= MIN_SHARE:
                out.add((tree, team))
    return out


def _devs_working_in(f, project: str) -> set[str]:
    facts = pd.concat([
        f["bridge_pull_request_team"].assign(k=f["bridge_pull_request_team"].pull_request_id, kind="pr"),
        f["bridge_review_team"].assign(k=f["bridge_review_team"].review_id, kind="review"),
        f["bridge_commit_team"].assign(k=f["bridge_commit_team"].repository_full_name + "@"
                                       + f["bridge_commit_team"].commit_sha, kind="commit"),
        f["bridge_issue_team"].assign(k=f["bridge_issue_team"].issue_id, kind="issue"),
    ])[["developer_id", "project_id", "k", "kind"]].dropna(subset=["project_id"]).drop_duplicates()
    share = facts.assign(here=facts.project_id == project).groupby("developer_id").here.mean()
    return set(share[share >= MIN_SHARE].index)


# --------------------------------------------------------------------------- publishes
@pytest.fixture(scope="module")
def scopes(world):
    from rbac_policies.duck import publish_scopes
    out = world["tmp"] / "scopes"
    publish_scopes(POLICY, out, world["db"], world["sources"], formats=("duckdb", "parquet"), today=world["today"])
    return out


@pytest.fixture(scope="module")
def pg(world):
    from pg import postgres_server
    from psycopg2 import sql
    from rbac_policies.postgres import publish_postgres
    with postgres_server() as srv:
        admin = srv.connect()
        publish_postgres(POLICY, admin, world["db"], world["sources"], today=world["today"])
        for n in PRINCIPALS:
            if n != "payments-viewers":
                srv.execute(sql.SQL("alter role {} password 'pw'").format(sql.Identifier(n)).as_string(admin))
        yield srv


_EXPECTED: dict[str, dict[str, set]] = {}


def expected(world, principal: str) -> dict[str, set]:
    """The principal's rows by the restated rules, computed once per principal."""
    if principal not in _EXPECTED:
        _EXPECTED[principal] = Scope(world, principal).expected(world["frames"])
    return _EXPECTED[principal]


def _duck_rows(out: Path, principal: str) -> dict[str, set]:
    from rbac_policies.duck import scope_file
    return W.extract_rows(scope_file(out, principal))


def _parquet_rows(out: Path, principal: str) -> dict[str, set]:
    from rbac_policies.duck import scope_file
    folder = out / scope_file(out, principal).stem
    con = duckdb.connect()
    try:
        return {f.stem: W.row_set(con.execute(f"select * from read_parquet('{f}')").fetchall())
                for f in folder.glob("*.parquet")}
    finally:
        con.close()


def _pg_rows(srv, user: str) -> dict[str, set]:
    con = srv.connect(user=user, password="pw")
    try:
        out = {}
        with con.cursor() as cur:
            cur.execute("select table_name from information_schema.tables where table_schema = current_schema()")
            for (m,) in cur.fetchall():
                cur.execute(f'select * from "{m}"')
                out[m] = W.row_set(cur.fetchall())
        return out
    finally:
        con.close()


def _compare(got: dict[str, set], want: dict[str, set], where: str) -> None:
    assert set(got) == set(want), (where, sorted(set(got) ^ set(want)))
    for mart in sorted(want):
        extra, missing = got[mart] - want[mart], want[mart] - got[mart]
        assert not extra and not missing, (where, mart, f"{len(extra)} rows outside the scope, e.g.",
                                           sorted(extra)[:2], f"{len(missing)} missing, e.g.", sorted(missing)[:2])


def test_every_mart_is_classified_here(world):
    """The restated rules cover every mart the project builds: a new mart needs its rule here."""
    assert set(world["frames"]) == set(SHAPES)


@pytest.mark.parametrize("principal", ["leo", "dario", "elena", "ada", "metabase"])
def test_duckdb_and_parquet_extracts_hold_exactly_the_scope(world, scopes, principal):
    want = expected(world, principal)
    _compare(_duck_rows(scopes, principal), want, f"{principal} duckdb")
    _compare(_parquet_rows(scopes, principal), want, f"{principal} parquet")


@pytest.mark.parametrize("principal", ["leo", "dario", "elena", "ada", "metabase"])
def test_postgres_reader_sees_exactly_the_scope(world, pg, principal):
    _compare(_pg_rows(pg, principal), expected(world, principal), f"{principal} postgres")


# --------------------------------------------------------------------------- the findings, by name
def _all_readers(world, scopes, pg, principal):
    return {"duckdb": _duck_rows(scopes, principal), "postgres": _pg_rows(pg, principal)}


def test_finding_1_organisation_viewer_sees_only_its_organisation(world, scopes, pg):
    """metabase (Viewer on org-payments through a group) saw acme-checkout's commits, PR
    bridge rows of PRs outside its fct_pull_requests, all 60 people and Checkout's teams."""
    f = world["frames"]
    checkout = set(world["projects"]["org-checkout"])
    checkout_repos = set(f["fct_pull_requests"][f["fct_pull_requests"].project_id.isin(checkout)]
                         .repository_full_name.str.split("/").str[0])
    checkout_teams = _subtree(f["dim_team"], "reporting", "T006")
    people_everywhere = f["dim_developer"].developer_id.nunique()
    for engine, rows in _all_readers(world, scopes, pg, "metabase").items():
        orgs = {r[0].split("/")[0] for r in _raw(world, scopes, pg, engine, "metabase",
                                                 "select repository_full_name from {s}bridge_commit_team")}
        assert orgs and not orgs & checkout_repos, (engine, orgs)
        prs = {r[0] for r in _raw(world, scopes, pg, engine, "metabase", "select pull_request_id from {s}fct_pull_requests")}
        bridged = {r[0] for r in _raw(world, scopes, pg, engine, "metabase",
                                      "select pull_request_id from {s}bridge_pull_request_team")}
        assert bridged <= prs, (engine, len(bridged - prs))
        assert 0 < len(rows["dim_developer"]) < people_everywhere, engine
        teams = {r[0] for r in _raw(world, scopes, pg, engine, "metabase",
                                    "select team_id from {s}dora_team_monthly where tree = 'reporting'")}
        assert teams and not teams & checkout_teams, (engine, teams & checkout_teams)
        per_person = {r[0] for r in _raw(world, scopes, pg, engine, "metabase",
                                         "select team_id from {s}productivity_developer_monthly where tree = 'reporting'")}
        assert not per_person & checkout_teams, engine


def test_finding_1_project_binding_does_not_widen_a_team_viewer_to_the_account(world, scopes, pg):
    """ada: Viewer of T003 and Goal Setter on prj-payments; she saw the account's rows."""
    leo = _duck_rows(scopes, "leo")
    for engine, rows in _all_readers(world, scopes, pg, "ada").items():
        assert len(rows["bridge_commit_team"]) < len(leo["bridge_commit_team"]), engine
        assert len(rows["dim_developer"]) < len(leo["dim_developer"]), engine


def test_finding_2_team_manager_sees_no_outsider_by_name_in_service_facts(world, scopes, pg):
    """elena (Team Manager of T002, which owns atlas-api) saw authors outside T002 in
    fct_changes; now their person columns are NULL, the service-level rows stay."""
    f = world["frames"]
    b = f["bridge_pull_request_team"]
    t002 = _subtree(f["dim_team"], "reporting", "T002")
    mine = set(b[(b.tree == "reporting") & b.team_id.isin(t002)].pull_request_id)
    atlas = f["fct_changes"][f["fct_changes"].service == "atlas-api"]
    outsiders = atlas[~atlas.pull_request_id.isin(mine)]
    assert len(outsiders) > 0, "the world must have changes to atlas-api by people outside T002"
    for engine in ("duckdb", "postgres"):
        rows = _raw(world, scopes, pg, engine, "elena",
                    "select pull_request_id, author_login, author_developer_id, lead_time_hours "
                    "from {s}fct_changes where service = 'atlas-api'")
        assert len(rows) == len(atlas), engine                      # every change of the service, counted
        named = [r for r in rows if r[1] is not None or r[2] is not None or r[0] is not None]
        assert {r[0] for r in named} <= mine, engine                # nobody outside her team by name
        assert len(named) == atlas.pull_request_id.isin(mine).sum(), engine
        assert sorted(r[3] for r in rows if r[3] is not None) == \
            sorted(atlas.lead_time_hours.dropna()), engine          # the lead-time distribution stays


def test_finding_3_the_catalog_tells_a_reader_nothing_of_rows_it_cannot_see(world, pg):
    """pg_class.reltuples, pg_stat_all_tables and EXPLAIN estimates gave every reader the
    account-wide counts and which hidden team ids exist. A reader now plans only over its
    own schema, and the catalog's counts and sizes are revoked."""
    import psycopg2
    from rbac_policies.postgres import scope_schema
    key = bytes.fromhex(pg.execute("select key from sei_rbac.scope_key")[0][0])
    mine, other = scope_schema(key, "elena"), scope_schema(key, "leo")
    pg.execute(f'analyze "{mine}".fct_pull_requests')       # statistics exist: they must tell only her rows
    con = pg.connect(user="elena", password="pw")
    con.autocommit = True
    with con.cursor() as cur:
        cur.execute("select current_schema()")
        assert cur.fetchone()[0] == mine
        for q in ["select reltuples from pg_class", "select relpages from pg_class where relname = 'fct_pull_requests'",
                  "select n_live_tup from pg_stat_all_tables", "select * from pg_stat_user_tables",
                  "select * from pg_statio_all_tables",
                  "select pg_stat_get_live_tuples(oid) from pg_class where relname = 'fct_pull_requests'",
                  "select pg_relation_size(oid) from pg_class where relname = 'fct_pull_requests'",
                  "select pg_total_relation_size(oid) from pg_class where relname = 'fct_pull_requests'",
                  "explain select * from sei_marts.fct_pull_requests",
                  f'explain select * from "{other}".fct_pull_requests', f'select * from "{other}".fct_pull_requests',
                  "select * from sei_rbac.visible_teams", "select * from sei_rbac.scope_key"]:
            with pytest.raises(psycopg2.Error):
                cur.execute(q)
        cur.execute("select relname from pg_class where relname = 'fct_pull_requests'")   # names stay readable
        assert cur.fetchall()
        cur.execute("select count(*) from fct_pull_requests")
        n = cur.fetchone()[0]
        cur.execute("explain (format json) select * from fct_pull_requests")
        assert 0 < cur.fetchone()[0][0]["Plan"]["Plan Rows"] <= n      # planned from her rows alone
        estimates = []
        for team in ("T008", "NOPE"):
            cur.execute(f"explain (format json) select * from fct_pull_requests where author_team_id = '{team}'")
            estimates.append(cur.fetchone()[0][0]["Plan"]["Plan Rows"])
        assert estimates[0] == estimates[1], estimates   # a hidden team is as absent as a team that is not
    con.close()
    assert 0 < n < len(world["frames"]["fct_pull_requests"])


def _raw(world, scopes, pg, engine: str, principal: str, q: str) -> list[tuple]:
    if engine == "postgres":
        con = pg.connect(user=principal, password="pw")
        try:
            with con.cursor() as cur:
                cur.execute(q.format(s=""))
                return cur.fetchall()
        finally:
            con.close()
    from rbac_policies.duck import open_scope, scope_file
    con = open_scope(scope_file(scopes, principal))
    try:
        return con.execute(q.format(s="marts.")).fetchall()
    finally:
        con.close()


@pytest.mark.parametrize("name,reason", [("public", "reserved by PostgreSQL"), ("current_user", "reserved"),
                                         ("Leo", "only by case")])
def test_finding_4_reserved_and_case_colliding_names_are_refused(world, tmp_path, name, reason):
    from rbac_policies.policy import PolicyErrors, load_policy
    text = POLICY.read_text().replace("    - name: dario\n", f"    - name: {name!r}\n    - name: dario\n", 1)
    p = tmp_path / "policy.yml"
    p.write_text(text)
    with pytest.raises(PolicyErrors) as e:
        load_policy(p)
    line = text.splitlines().index(f"    - name: {name!r}") + 1
    assert f"{p}:{line}:" in str(e.value) and reason in str(e.value), str(e.value)


def test_finding_4_publishes_are_audited(world, tmp_path, monkeypatch):
    """Scope files and PostgreSQL roles created or dropped leave who, what and when."""
    from pg import postgres_server
    from rbac_policies.control import read_audit
    from rbac_policies.duck import publish_scopes
    from rbac_policies.postgres import publish_postgres
    log = tmp_path / "audit.log"
    monkeypatch.setenv("SEI_AUDIT_LOG", str(log))
    publish_scopes(POLICY, tmp_path / "scopes", world["db"], world["sources"], today=world["today"])
    with postgres_server() as srv:
        publish_postgres(POLICY, srv.connect(), world["db"], world["sources"], today=world["today"])
    entries = [e for e in read_audit(log) if e["action"] == "publish"]
    assert len(entries) == 2, entries
    scopes_entry, pg_entry = entries
    assert "scope files" in scopes_entry["what"] and "metabase" in scopes_entry["detail"]["principals"]
    assert "postgres" in pg_entry["what"] and set(pg_entry["detail"]["roles_created"]) >= {"leo", "elena", "metabase"}
    for e in entries:
        assert e["os_user"] and dt.datetime.fromisoformat(e["at"]).tzinfo is not None
