"""Which rows of a mart a principal may see, decided from the mart's columns.

Publishing picks up whatever marts exist; each is classified by its columns, in order:

1. the policy's `marts:` section, else DEFAULT_RULES below: `public` (every principal sees
   every row: reference data such as performance bands), `exclude` (never published),
   `{team_column: C}`, `{bridge: B, key: K}` (a fact that reaches teams through a bridge
   mart B joined on K: a row is visible when any of its bridge rows is in a visible team,
   or its project is visible whole);
2. `team_id` (or the policy's team column): team grain. A row is visible when its team is
   in a visible subtree (matching `tree` (else `owning_tree`) and `project_id` when the mart
   has them), or its project is visible whole;
3. `developer_id`: per-person rows, visible for people currently in a visible team, or
   when the project is visible whole;
4. `service`: rows of a service, visible when a visible team owns the service, or when the
   project is visible whole;
5. `project_id` only: project grain, visible only to principals that see the whole
   project (a team-scoped principal would otherwise see its siblings' data in aggregates);
6. anything else is refused: publishing stops and names the mart, rather than leak it.

A mart without `project_id` is matched on its team / person / service alone, and its rows
are visible to a principal that sees any project whole. Rows whose key is NULL are
visible to whole-project principals only.
"""
from __future__ import annotations

from dataclasses import dataclass


class UnclassifiedMart(ValueError):
    pass


# The project's own marts whose columns do not say whose rows they are; a policy's
# `marts:` section overrides these.
DEFAULT_RULES: dict[str, dict] = {
    "dim_team_closure": {"team_column": "descendant_team_id"},   # a pair belongs to the descendant's viewers
    "integration_health": {"exclude": True},                     # operations data: Dagster UI / `sei doctor`
    "dora_performance_bands": {"public": True},                  # DORA's published cut-offs: reference data
    # facts of people, attributed to their teams at the event's time through the bridges
    "fct_pull_requests": {"bridge": "bridge_pull_request_team", "key": "pull_request_id"},
    "fct_sprint_issues": {"bridge": "bridge_issue_team", "key": "issue_id"},
}


@dataclass(frozen=True)
class MartShape:
    name: str
    shape: str                 # public | team | developer | service | project | bridged
    key: str | None = None     # the team / developer / service column; the join key (bridged)
    tree_col: str | None = None   # `tree`, else `owning_tree` (team shape only)
    has_project: bool = False
    bridge: str | None = None  # the bridge mart (bridged shape only)


def classify(name: str, columns: list[str], rules: dict[str, dict],
             all_columns: dict[str, list[str]] | None = None) -> MartShape | None:
    """The mart's shape; None when the policy excludes it; UnclassifiedMart when unknown.
    `all_columns` (every mart's columns) lets a bridged mart's bridge be checked."""
    cols = {c.lower() for c in columns}
    rule = rules.get(name, DEFAULT_RULES.get(name, {}))
    tree_col = "tree" if "tree" in cols else "owning_tree" if "owning_tree" in cols else None
    has_project = "project_id" in cols
    if rule.get("exclude"):
        return None
    if rule.get("public"):
        return MartShape(name, "public")
    if rule.get("team_column"):
        if rule["team_column"].lower() not in cols:
            raise UnclassifiedMart(f"mart {name!r} has no column {rule['team_column']!r} (the policy's team_column). "
                                   f"Fix: name one of its columns: {', '.join(columns)}")
        return MartShape(name, "team", rule["team_column"].lower(), tree_col, has_project)
    if rule.get("bridge"):
        bridge, key = rule["bridge"], rule["key"].lower()
        bcols = {c.lower() for c in (all_columns or {}).get(bridge, [])}
        missing = sorted(({key} - cols) | ({key, "tree", "team_id"} - bcols))
        if missing:
            raise UnclassifiedMart(
                f"mart {name!r} is scoped through the bridge {bridge!r} on {key!r}, but "
                + (f"{bridge!r} is not built" if not bcols else f"columns are missing: {', '.join(missing)}")
                + ". Fix: build the bridge mart (dbt build --select +" + bridge + "), or give the mart "
                f"another rule in the policy's `marts:` section")
        return MartShape(name, "bridged", key, None, has_project, bridge)
    if "team_id" in cols:
        return MartShape(name, "team", "team_id", tree_col, has_project)
    if "developer_id" in cols:
        return MartShape(name, "developer", "developer_id", None, has_project)
    if "service" in cols:
        return MartShape(name, "service", "service", None, has_project)
    if has_project:
        return MartShape(name, "project", None, None, True)
    raise UnclassifiedMart(
        f"mart {name!r} has none of team_id, developer_id, service, project_id, so its rows cannot be scoped "
        f"and it is not published. Fix: add one of those columns to the model, or list it in the policy's "
        f"`marts:` section as `public`, `exclude` or `{{team_column: COLUMN}}`")


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def row_filter(m: MartShape, alias: str, principal: str, rbac: str, marts: str) -> str:
    """A boolean SQL expression (DuckDB and PostgreSQL) true for the rows of `alias` the
    principal sees. `principal` is an SQL expression (current_user, a variable, a quoted
    literal); `rbac` the schema holding the compiled tables; `marts` the (qualified) schema
    holding the marts, for the bridges."""
    if m.shape == "public":
        return "true"
    a = _q(alias)
    proj = f" and v.project_id is not distinct from {a}.project_id" if m.has_project else ""
    whole = f"exists (select 1 from {rbac}.visible_projects v where v.principal = {principal}{proj})"
    if m.shape == "project":
        return whole
    key = f"{a}.{_q(m.key)}"
    if m.shape == "team":
        tree = f" and v.tree = {a}.{_q(m.tree_col)}" if m.tree_col else ""
        part = (f"exists (select 1 from {rbac}.visible_teams v where v.principal = {principal} "
                f"and v.team_id = {key}{tree}{proj})")
    elif m.shape == "bridged":
        part = (f"exists (select 1 from {marts}.{_q(m.bridge)} b join {rbac}.visible_teams v "
                f"on v.tree = b.tree and v.team_id = b.team_id where v.principal = {principal} "
                f"and b.{_q(m.key)} = {key}{proj})")
    elif m.shape == "developer":
        part = (f"exists (select 1 from {rbac}.visible_developers v where v.principal = {principal} "
                f"and v.developer_id = {key}{proj})")
    else:
        part = (f"exists (select 1 from {rbac}.visible_services v where v.principal = {principal} "
                f"and v.service = {key}{proj})")
    return f"({whole} or {part})"


def classify_all(columns: dict[str, list[str]], rules: dict[str, dict]) -> list[MartShape]:
    """Every mart's shape; one UnclassifiedMart naming all the marts that have none."""
    shapes, problems = [], []
    for name in sorted(columns):
        try:
            s = classify(name, columns[name], rules, columns)
        except UnclassifiedMart as e:
            problems.append(str(e))
            continue
        if s is not None:
            shapes.append(s)
    published = {s.name for s in shapes}
    for s in shapes:
        if s.bridge and s.bridge not in published:
            problems.append(f"mart {s.name!r} is scoped through {s.bridge!r}, which the policy excludes from "
                            f"publishing. Fix: publish {s.bridge!r}, or exclude {s.name!r} too")
    if problems:
        raise UnclassifiedMart("\n".join(problems))
    return shapes
