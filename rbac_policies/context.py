"""The facts a policy is checked and compiled against: the account's organisations and
projects (the sources file) and the current org (teams, memberships and services as the
last dbt build left them in the warehouse's org marts)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


class OrgCycle(ValueError):
    """An org tree whose parent links loop: nothing is compiled from it."""


@dataclass
class OrgContext:
    account: str
    organisations: dict[str, list[str]]                       # organisation -> its project ids
    trees: dict[str, dict[str, str | None]] = field(default_factory=dict)   # tree -> team -> parent
    memberships: list[tuple[str, str, str]] = field(default_factory=list)   # current (developer, tree, team)
    services: list[tuple[str, str | None, str | None, str | None]] = field(default_factory=list)
    # (service, project_id, owning_tree, owning_team_id)
    managers: dict[tuple[str, str], str] = field(default_factory=dict)      # (tree, team) -> manager developer_id
    team_projects: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    # project -> the (tree, team)s working in it (marts.bridge_team_project)
    developer_projects: dict[str, set[str]] = field(default_factory=dict)
    sources_missing: str | None = None     # why no sources file was read (where it looked), if none was
    # project -> the developers working in it (marts.bridge_developer_project)

    def managed_teams(self, tree: str, developer_id: str) -> list[str]:
        """Teams of `tree` this person manages today (dim_team.manager_developer_id)."""
        return sorted(t for (tr, t), d in self.managers.items() if tr == tree and d == developer_id)

    @property
    def projects(self) -> dict[str, str | None]:
        """project id -> its organisation (None for projects only seen in the data)."""
        return {p: o for o, ps in self.organisations.items() for p in ps}

    def add_projects(self, project_ids) -> None:
        """Projects found in the marts but not in the sources file belong to the account only
        (organisation "" ): account-wide bindings see them, narrower ones do not."""
        known = self.projects
        extra = sorted({str(p) for p in project_ids if p is not None and str(p) not in known})
        if extra:
            self.organisations.setdefault("", []).extend(extra)

    def subtree(self, tree: str, team: str) -> set[str]:
        """`team` and every team below it in `tree` (current parents). Raises OrgCycle when
        the parent links loop, rather than compile an arbitrary answer."""
        parents = self.trees.get(tree, {})
        children: dict[str, list[str]] = {}
        for t, p in parents.items():
            if p is not None:
                children.setdefault(p, []).append(t)
        self.check_acyclic(tree)
        out, stack = set(), [team]
        while stack:
            t = stack.pop()
            if t in out:
                continue
            out.add(t)
            stack.extend(children.get(t, ()))
        return out

    def check_acyclic(self, tree: str) -> None:
        parents = self.trees.get(tree, {})
        for start in parents:
            seen, t = [], start
            while t is not None and t in parents:
                if t in seen:
                    loop = " -> ".join(seen[seen.index(t):] + [t])
                    raise OrgCycle(f"org tree {tree!r} has a cycle ({loop}): nothing is published from a tree "
                                   f"whose parent links loop. Fix: correct the parent_team_id of one of these teams "
                                   f"and import the org again (`sei org import`)")
                seen.append(t)
                t = parents[t]

    def ancestors_or_self(self, tree: str, team: str) -> list[str]:
        self.check_acyclic(tree)
        parents, out, t = self.trees.get(tree, {}), [], team
        while t is not None and t in parents:
            out.append(t)
            t = parents[t]
        return out


def hierarchy_from_sources(path: str | Path | None = None) -> tuple[str, dict[str, list[str]], str | None]:
    """(account, organisation -> projects, why none was read) from the sources file; empty
    when there is none, with the places it looked."""
    from ingestion import config
    cfg = config.load(path, required=False)
    orgs: dict[str, list[str]] = {}
    for p in cfg.projects:
        orgs.setdefault(p.organisation, []).append(p.id)
    return cfg.account, orgs, getattr(cfg, "missing", None)


def _rows(con, sql: str) -> list[tuple]:
    try:
        return con.execute(sql).fetchall()
    except Exception:  # noqa: BLE001 - a missing org mart means "no org yet", not an error
        return []


def load_context(con, sources: str | Path | None = None, catalog: str | None = None,
                 today: dt.date | None = None) -> OrgContext:
    """Read the current org from the org marts over a DuckDB connection (`catalog` when the
    warehouse is attached under a name)."""
    account, orgs, missing = hierarchy_from_sources(sources)
    q = f"{catalog}.marts" if catalog else "marts"
    ctx = OrgContext(account, orgs, sources_missing=missing)
    raw = f"{catalog}.raw_org" if catalog else "raw_org"
    teams = _rows(con, f"select tree, team_id, parent_team_id, manager_developer_id from {q}.dim_team")
    if not teams:   # org imported but no dbt build yet: the current import is the org
        teams = _rows(con, f"select tree, team_id, parent_team_id, manager_developer_id from {raw}.current_teams")
    for tree, team, parent, manager in teams:
        ctx.trees.setdefault(tree, {})[team] = parent
        if manager is not None:
            ctx.managers[(tree, team)] = manager
    day = (today or dt.datetime.now(dt.timezone.utc).date()).isoformat()
    during = f"where valid_from <= date '{day}' and (valid_to is null or valid_to > date '{day}')"
    ctx.memberships = [tuple(r) for r in _rows(
        con, f"select developer_id, tree, team_id from {q}.bridge_team_membership {during}")] or \
        [tuple(r) for r in _rows(con, f"select developer_id, tree, team_id from {raw}.current_memberships {during}")]
    ctx.services = [tuple(r) for r in _rows(
        con, f"select service, project_id, owning_tree, owning_team_id from {q}.dim_service")]
    works = _rows(con, f"select project_id, tree, team_id from {q}.bridge_team_project")
    if not works:    # no build of the relation yet: the services file alone, rolled up the tree
        works = [(p, tree, t) for _, p, tree, team in ctx.services if p and tree and team and tree in ctx.trees
                 for t in ctx.ancestors_or_self(tree, team)]
    for project, tree, team in works:
        ctx.team_projects.setdefault(project, set()).add((tree, team))
    for project, dev in _rows(con, f"select project_id, developer_id from {q}.bridge_developer_project"):
        ctx.developer_projects.setdefault(project, set()).add(dev)
    return ctx
