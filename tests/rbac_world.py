"""A warehouse for the access-control tests: the tiny simulated org imported and its org
marts built by dbt, plus small test marts of every shape (team, person, service, project,
public), and the expected rows of each principal computed independently: from the org
CSV files (parents, open memberships, service owners) and the test's own frames, never
from the warehouse's closure or the compiled policy."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

PROJECTS = {"org-payments": ["prj-payments", "prj-platform"], "org-growth": ["prj-growth"]}
ALL_PROJECTS = [p for ps in PROJECTS.values() for p in ps]
ROLES = {"admin": "SEI Admin", "manager": "SEI Team Manager", "viewer": "SEI Viewer"}
SCOPES = {"account": "account", "organisation": {"organisation": "org-payments"},
          "project": {"project": "prj-platform"}, "team": {"tree": "reporting", "team": "T001"}}
CRAFTED = ["' OR 1=1 --", "../../etc/passwd", 'x"; DROP TABLE sei_marts.dim_team; --']
CRAFTED_TEAM = "' OR 1=1 --"

# mart -> (shape, key column, has tree, has project): the documented rules, restated here
SHAPES = {
    "dim_team": ("team", "team_id", True, False),
    "dim_team_closure": ("team", "descendant_team_id", True, False),
    "bridge_team_membership": ("person_in_team", "team_id", True, False),
    "bridge_pull_request_team": ("team", "team_id", True, False),
    "dim_developer": ("developer", "developer_id", False, False),
    "dim_identity": ("developer", "developer_id", False, False),
    "dim_service": ("service", "service", False, True),
    "t_team_weekly": ("team", "team_id", True, True),
    "t_person_monthly": ("developer", "developer_id", False, True),
    "t_service_daily": ("service", "service", False, True),
    "t_project_weekly": ("project", None, False, True),
    "t_bands": ("public", None, False, False),
    "t_owned": ("team", "team_id", True, True),          # tree in `owning_tree`
    "t_prs": ("bridged", "pr_id", False, True),          # through t_pr_team, like fct_pull_requests
    "t_pr_team": ("team", "team_id", True, False),
}
# the bridge of t_prs: a fact reaches a team when one of its bridge rows is in that team
PR_TEAMS = [("pr1", "reporting", "T001"), ("pr2", "reporting", "T002"), ("pr2", "reporting", "T004"),
            ("pr3", "regions", "T001"), ("pr5", "reporting", "T001"), ("pr6", "reporting", "T002")]
PRS = [("pr1", "prj-payments"), ("pr2", "prj-growth"), ("pr3", "prj-platform"), ("pr4", "prj-platform"),
       ("pr5", None), ("pr6", "prj-platform")]

SOURCES = """account: acme
organisations:
  - id: org-payments
    projects:
      - id: prj-payments
        github: {repos: [acme-payments/atlas-api]}
      - id: prj-platform
        github: {repos: [acme-payments/platform]}
  - id: org-growth
    projects:
      - id: prj-growth
        github: {repos: [acme-growth/web]}
"""


def shape_of(mart: str, columns: list[str]) -> tuple:
    """The shape of a mart: the test's own marts as declared above, any other (the org
    marts other engineers add) by the documented column rules, restated."""
    if mart in SHAPES:
        return SHAPES[mart]
    cols = set(columns)
    for key, shape in (("team_id", "team"), ("developer_id", "developer"), ("service", "service")):
        if key in cols:
            return (shape, key, shape == "team" and bool({"tree", "owning_tree"} & cols), "project_id" in cols)
    assert "project_id" in cols, f"{mart}: no scoping column; the publish must refuse it"
    return ("project", None, False, True)


def principal(role: str, kind: str) -> str:
    return f"{role}-{kind}"


def policy_yaml(extra_users: str = "", extra_bindings: str = "", mover_dev: str = "D00003") -> str:
    users = [f"    - name: {principal(r, k)}" for r in ROLES for k in SCOPES]
    users += [f"    - name: {_yq(n)}" for n in CRAFTED]
    users += [f"    - name: mover\n      developer_id: {mover_dev}", "    - name: grouped"]
    binds = []
    for r, role in ROLES.items():
        for k, scope in SCOPES.items():
            binds.append(f"  - principal: {principal(r, k)}\n    role: {role}\n    scope: {_scope(scope)}")
    for n in CRAFTED:
        binds.append(f"  - principal: {_yq(n)}\n    role: SEI Viewer\n    scope: {{tree: reporting, team: T003}}")
    binds.append("  - principal: mover\n    role: SEI Team Manager\n    scope: {tree: reporting, managed_teams: true}")
    binds.append("  - group: growth-viewers\n    role: SEI Viewer\n    scope: {project: prj-growth}")
    return ("version: 1\nprincipals:\n  users:\n" + "\n".join(users) + extra_users +
            "\n  groups:\n    - name: growth-viewers\n      members: [grouped]\n"
            "bindings:\n" + "\n".join(binds) + extra_bindings +
            "\nmarts:\n  dim_team_closure: {team_column: descendant_team_id}\n  t_bands: public\n"
            "  t_prs: {bridge: t_pr_team, key: pr_id}\n")


def _yq(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _scope(s) -> str:
    if isinstance(s, str):
        return s
    return "{" + ", ".join(f"{k}: {v}" for k, v in s.items()) + "}"


# --------------------------------------------------------------------------- the org, from its files
@dataclass
class OrgFacts:
    parents: dict[str, dict[str, str | None]]
    open_members: dict[tuple[str, str], set[str]]
    service_project: dict[str, str]
    service_owner: dict[str, tuple[str, str]]
    managers: dict[tuple[str, str], str] = field(default_factory=dict)

    def subtree(self, tree: str, team: str) -> set[str]:
        out = {team}
        grew = True
        while grew:
            new = {t for t, p in self.parents[tree].items() if p in out} - out
            out |= new
            grew = bool(new)
        return out


def org_facts(org_dir: Path, developers_emails: dict[str, str] | None = None) -> OrgFacts:
    parents: dict[str, dict] = {}
    managers = {}
    emails = {}
    devs = pd.read_csv(org_dir / "developers.csv", dtype=str, keep_default_na=False)
    for r in devs.itertuples():
        for e in r.emails.split(";"):
            emails[e.strip()] = r.developer_id
    for f in sorted(org_dir.glob("org_tree_*.csv")):
        t = pd.read_csv(f, dtype=str, keep_default_na=False)
        for r in t.itertuples():
            parents.setdefault(r.tree, {})[r.team_id] = r.parent_team_id or None
            if r.manager_email:
                managers[(r.tree, r.team_id)] = emails.get(r.manager_email)
    m = pd.read_csv(org_dir / "memberships.csv", dtype=str, keep_default_na=False)
    today = dt.date.today().isoformat()
    members: dict[tuple[str, str], set[str]] = {}
    for r in m.itertuples():
        if r.valid_from <= today and (not r.valid_to or r.valid_to > today):
            members.setdefault((r.tree, r.team_id), set()).add(r.developer_id)
    s = pd.read_csv(org_dir / "services.csv", dtype=str, keep_default_na=False)
    return OrgFacts(parents, members, dict(zip(s.service, s.project_id)),
                    {r.service: ("reporting", r.owning_team_id) for r in s.itertuples()}, managers)


def works_in(facts: OrgFacts, projects: set) -> set[tuple[str, str]]:
    """(tree, team)s working in any of `projects`: this world has no activity, so a team works
    where it or one of its sub-teams owns a service (docs/access-control.md)."""
    out = set()
    for tree, parents in facts.parents.items():
        for t in parents:
            sub = facts.subtree(tree, t)
            if any(owner == (tree, o) and facts.service_project.get(svc) in projects
                   for svc, owner in facts.service_owner.items() for o in sub):
                out.add((tree, t))
    return out


def visible(facts: OrgFacts, kind: str, scope, mart: str, row: dict) -> bool:
    """Whether a principal bound at (kind, scope) sees `row` of `mart` (docs/access-control.md)."""
    shape, key, has_tree, has_project = shape_of(mart, list(row))
    if shape == "public":
        return True
    whole = {"account": set(ALL_PROJECTS) | {None}, "organisation": set(PROJECTS[scope.get("organisation", "")])
             if isinstance(scope, dict) and "organisation" in scope else set(),
             "project": {scope["project"]} if isinstance(scope, dict) and "project" in scope else set()}.get(kind, set())
    p = row.get("project_id") if has_project else None
    if kind == "account" or (whole and has_project and p in whole):
        return True
    if shape == "project":
        return False
    if whole:       # organisation / project principals, on a row their projects do not cover whole
        if has_project:
            return False
        if shape in ("team", "person_in_team"):
            row_tree = row.get("tree", row.get("owning_tree"))
            # no activity in this world: nobody works in a project as a person
            return shape == "team" and (row_tree, row.get(key)) in works_in(facts, whole)
        if shape == "service":
            return facts.service_project.get(row.get(key)) in whole
        return False    # people: none works in a project here; bridged: only marts with a project
    if kind not in ("team", "managed"):
        return False
    if has_project and p not in ALL_PROJECTS:
        return False
    tree = scope["tree"]
    if kind == "managed":
        teams = set().union(*[facts.subtree(tree, t) for (tr, t), d in facts.managers.items()
                              if tr == tree and d == scope["developer_id"]])
    else:
        teams = facts.subtree(tree, scope["team"])
    devs = set().union(*[facts.open_members.get((tree, t), set()) for t in teams])
    if shape == "bridged":
        return any(pr == row[key] and tr == tree and t in teams for pr, tr, t in PR_TEAMS)
    if shape in ("team", "person_in_team"):
        row_tree = row.get("tree", row.get("owning_tree"))
        ok = (not has_tree or row_tree == tree) and row.get(key) in teams
        return ok and (shape == "team" or row.get("developer_id") in devs)
    if shape == "developer":
        return row.get(key) in devs
    owner = facts.service_owner.get(row.get(key))
    return owner is not None and owner[0] == tree and owner[1] in teams and \
        (not has_project or facts.service_project.get(row.get(key)) == p)


# --------------------------------------------------------------------------- building it
def add_test_marts(db: Path, facts: OrgFacts) -> None:
    con = duckdb.connect(str(db))
    try:
        teams = [(tree, t) for tree, ts in facts.parents.items() for t in ts]
        rows = [(p, tree, t, dt.date(2026, 1, 5), i) for i, ((tree, t), p) in
                enumerate((x, p) for x in teams for p in ALL_PROJECTS)]
        rows += [("prj-payments", "reporting", CRAFTED_TEAM, dt.date(2026, 1, 5), -1),
                 ("prj-growth", "reporting", None, dt.date(2026, 1, 5), -2),
                 (None, "reporting", "T002", dt.date(2026, 1, 5), -3)]
        _create(con, "t_team_weekly", ["project_id", "tree", "team_id", "week", "n"], rows)
        devs = [r[0] for r in con.execute("select developer_id from marts.dim_developer order by 1").fetchall()]
        rows = [(p, d, dt.date(2026, 2, 1), float(i)) for i, (d, p) in
                enumerate((d, p) for d in devs for p in ("prj-payments", "prj-growth"))]
        rows += [("prj-payments", "../../etc", dt.date(2026, 2, 1), 0.5)]
        _create(con, "t_person_monthly", ["project_id", "developer_id", "month", "hours"], rows)
        rows = [(facts.service_project[s], s, dt.date(2026, 3, 1), 1) for s in sorted(facts.service_project)]
        rows += [("prj-growth", "growth-web", dt.date(2026, 3, 1), 2),
                 ("prj-platform", "atlas-api", dt.date(2026, 3, 1), 3)]
        _create(con, "t_service_daily", ["project_id", "service", "day", "deployments"], rows)
        rows = [(p, dt.date(2026, 1, w), w) for p in ALL_PROJECTS for w in (5, 12)] + [(None, dt.date(2026, 1, 5), 0)]
        _create(con, "t_project_weekly", ["project_id", "week", "prs"], rows)
        _create(con, "t_bands", ["band", "max_hours"], [("elite", 24.0), ("high", 168.0)])
        _create(con, "t_owned", ["project_id", "service", "owning_tree", "team_id", "n"],
                [("prj-payments", "atlas-api", "reporting", "T002", 1), ("prj-payments", "x", "regions", "T002", 2),
                 ("prj-growth", "y", "reporting", "T004", 3), ("prj-growth", "z", "reporting", "T000", 4)])
        _create(con, "t_prs", ["pr_id", "project_id"], PRS)
        _create(con, "t_pr_team", ["pr_id", "tree", "team_id"], PR_TEAMS)
    finally:
        con.close()


def _create(con, name: str, cols: list[str], rows: list[tuple]) -> None:
    df = pd.DataFrame(rows, columns=cols)
    con.register("_rows", df)
    con.execute(f"create or replace table marts.{name} as select * from _rows")
    con.unregister("_rows")


def build(tmp: Path, dbt) -> dict:
    """Import the tiny org, build the org marts with dbt, add the test marts."""
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from simulator import generate
    from simulator.export import export_org
    db = tmp / "sei.duckdb"
    world = generate("tiny", seed=7)
    export_org(world, tmp / "org")
    assert import_org(OrgFiles.from_dir(tmp / "org"), warehouse=db).status == "accepted"
    b = dbt(["build", "--select", "+path:models/marts/org", "--indirect-selection", "cautious"], db, tmp / "target")
    assert b.returncode == 0, b.stdout[-3000:]
    facts = org_facts(tmp / "org")
    add_test_marts(db, facts)
    (tmp / "sources.yml").write_text(SOURCES)
    (tmp / "policy.yml").write_text(policy_yaml())
    return {"db": db, "sources": tmp / "sources.yml", "policy": tmp / "policy.yml", "facts": facts, "org": tmp / "org"}


def marts(db: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()]
        return {n: con.execute(f'select * from marts."{n}"').df() for n in names}
    finally:
        con.close()


def extract_rows(path) -> dict[str, set[tuple]]:
    """Every mart of a published scope file, opened as the project's readers open it."""
    from rbac_policies.duck import open_scope
    con = open_scope(path)
    try:
        names = [r[0] for r in con.execute("select table_name from information_schema.tables "
                                           "where table_schema = 'marts'").fetchall()]
        return {n: row_set(con.execute(f'select * from marts."{n}"').fetchall()) for n in names}
    finally:
        con.close()


def norm(v):
    """One comparable form for a value read through DuckDB, pandas or psycopg2."""
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    if isinstance(v, pd.Timestamp):
        v = v.to_pydatetime()
    if isinstance(v, dt.datetime):
        if v.tzinfo is not None:
            v = v.astimezone(dt.timezone.utc).replace(tzinfo=None)
        if v.time() == dt.time(0):
            return v.date().isoformat()
        return v.isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, (int, float)) or hasattr(v, "as_integer_ratio"):
        return str(float(v))
    return str(v)


def row_set(records) -> set[tuple]:
    return {tuple(norm(v) for v in r) for r in records}


def expected_sets(facts: OrgFacts, frames: dict[str, pd.DataFrame], kind: str, scope) -> dict[str, set[tuple]]:
    out = {}
    for mart, df in frames.items():
        recs = df.astype(object).where(df.notna(), None).to_dict("records")
        out[mart] = row_set(tuple(r.values()) for r in recs if visible(facts, kind, scope, mart, r))
    return out
