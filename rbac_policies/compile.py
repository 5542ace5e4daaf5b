"""The compiled model: principal -> what it may see, from the bindings and the CURRENT org.

One compilation, four small tables, the single source of truth every engine enforces:

- `visible_projects (principal, project_id)`: whole projects (account, organisation or
  project bindings). An account binding also holds project_id NULL, so rows with no
  project are visible to account-wide principals only.
- `visible_teams (principal, project_id, tree, team_id)`: team-subtree and managed-teams
  bindings, expanded over the current tree (a team moved elsewhere leaves the subtree; a
  manager who moved to another team loses the old subtree at the next publish); and, for
  whole-project bindings, the teams that work in the project (`bridge_team_project`), so
  team-grain rows, which carry no project, reach exactly the teams of the principal's
  projects.
- `visible_developers (principal, project_id, developer_id)`: people currently in a
  visible subtree (per-person rows without a period follow today's membership), and for
  whole-project bindings the people who work in the project (`bridge_developer_project`).
- `visible_services (principal, project_id, service)`: services owned by a visible team,
  and the services of a whole project.

Only bindings whose role may `view` `insights` grant data. A user sees the union of its
own bindings and its groups'; a group sees its own.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from rbac_policies.context import OrgContext
from rbac_policies.model import Policy, Scope

TABLES = {
    "visible_projects": ["principal", "project_id"],
    "visible_teams": ["principal", "project_id", "tree", "team_id"],
    "visible_developers": ["principal", "project_id", "developer_id"],
    "visible_services": ["principal", "project_id", "service"],
}


@dataclass
class Compiled:
    principals: pd.DataFrame          # principal, kind
    tables: dict[str, pd.DataFrame]   # TABLES

    def for_principal(self, name: str) -> dict[str, pd.DataFrame]:
        return {t: f[f.principal == name].reset_index(drop=True) for t, f in self.tables.items()}


def _whole_projects(scope: Scope, ctx: OrgContext) -> list[str | None]:
    if scope.kind == "account":
        return [None, *ctx.projects]
    if scope.kind == "organisation":
        return list(ctx.organisations.get(scope.id, []))
    if scope.kind == "project":
        return [scope.id]
    return []


def compile_policy(policy: Policy, ctx: OrgContext) -> Compiled:
    for tree in ctx.trees:
        ctx.check_acyclic(tree)        # refuse the whole compilation on a looping tree
    rows = {t: set() for t in TABLES}
    members_of: dict[tuple[str, str], set[str]] = {}
    for dev, tree, team in ctx.memberships:
        members_of.setdefault((tree, team), set()).add(dev)
    all_projects = list(ctx.projects)
    principals = []
    for p in sorted(policy.principals.values(), key=lambda p: p.name):
        principals.append((p.name, p.kind))
        for b in policy.bindings_of(p.name, with_groups=p.kind == "user"):
            if "view" not in policy.roles[b.role].get("insights", frozenset()):
                continue
            for pid in _whole_projects(b.scope, ctx):
                rows["visible_projects"].add((p.name, pid))
                for tree, t in ctx.team_projects.get(pid, ()):
                    rows["visible_teams"].add((p.name, pid, tree, t))
                for dev in ctx.developer_projects.get(pid, ()):
                    rows["visible_developers"].add((p.name, pid, dev))
                for svc, svc_project, _, _ in ctx.services:
                    if pid is not None and svc_project == pid:
                        rows["visible_services"].add((p.name, pid, svc))
            if b.scope.kind == "team":
                teams = ctx.subtree(b.scope.tree, b.scope.id)
            elif b.scope.kind == "managed":     # whatever this person manages today, nothing it used to
                teams = set().union(*[ctx.subtree(b.scope.tree, t) for t in ctx.managed_teams(b.scope.tree, b.scope.id)])
            else:
                continue
            projects = [b.scope.project] if b.scope.project else all_projects
            for pid in projects:
                for t in teams:
                    rows["visible_teams"].add((p.name, pid, b.scope.tree, t))
                    for dev in members_of.get((b.scope.tree, t), ()):
                        rows["visible_developers"].add((p.name, pid, dev))
                for svc, svc_project, owning_tree, owning_team in ctx.services:
                    if owning_tree == b.scope.tree and owning_team in teams and svc_project in (pid, None):
                        rows["visible_services"].add((p.name, pid, svc))
    tables = {t: pd.DataFrame(sorted(rows[t], key=lambda r: tuple("" if v is None else v for v in r)), columns=cols,
                              dtype=object)
              for t, cols in TABLES.items()}
    return Compiled(pd.DataFrame(principals, columns=["principal", "kind"]), tables)
