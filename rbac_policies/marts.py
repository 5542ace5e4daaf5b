"""Which rows of a mart a principal may see, decided by what the rows are about.

Publishing picks up whatever marts exist; each is classified by its columns, in order:

1. the policy's `marts:` section, else DEFAULT_RULES below: `public` (every principal sees
   every row: reference data such as performance bands), `account` (account-wide
   principals only: operations data such as integration health), `exclude` (never published),
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

A mart without `project_id` is matched on its team / person / service alone: an
organisation or project principal sees the teams that work in its projects
(`bridge_team_project`), the people currently in them and its projects' services. Rows of
such a mart that no team, person or service claims (a NULL key) go to account-wide
principals only, and so do rows whose `project_id` is NULL.

Service facts that name people (`people:` in a rule) are visible to the service's owners,
but their person columns are NULL unless the person's row is visible through the people
bridge (the author's team at the time): owners keep counts and the lead-time distribution
without seeing who, outside their scope, did the work.
"""
from __future__ import annotations

from dataclasses import dataclass, replace


class UnclassifiedMart(ValueError):
    pass


# The project's own marts whose columns do not say whose rows they are; a policy's
# `marts:` section overrides these.
DEFAULT_RULES: dict[str, dict] = {
    "dim_team_closure": {"team_column": "descendant_team_id"},   # a pair belongs to the descendant's viewers
    # a person's rows in a team: the team must be visible and so must the person (currently in
    # the principal's subtree, or working in its projects); a cross-cutting tree (regions)
    # would otherwise show every person of the account to every organisation
    "productivity_developer_monthly": {"team_column": "team_id", "person_column": "developer_id"},
    "bridge_team_membership": {"team_column": "team_id", "person_column": "developer_id"},
    "integration_health": {"account": True},     # operations data of every source: account-wide principals only
    "dora_performance_bands": {"public": True},                  # DORA's published cut-offs: reference data
    # facts of people, attributed to their teams at the event's time through the bridges
    "fct_pull_requests": {"bridge": "bridge_pull_request_team", "key": "pull_request_id"},
    "fct_sprint_issues": {"bridge": "bridge_issue_team", "key": "issue_id"},
    "fct_alignment_issues": {"bridge": "bridge_issue_team", "key": "issue_id"},
    # service facts (per change) that name the PR's author: the person columns show only where
    # the author's team at the PR's time is visible
    "fct_changes": {"people": {"bridge": "bridge_pull_request_team", "key": "pull_request_id", "columns": [
        "pull_request_id", "pull_request_number", "author_login", "author_developer_id", "lead_time_started_at",
        "first_commit_at", "opened_at", "ready_at", "first_review_at", "merged_at", "coding_hours",
        "pickup_hours", "review_hours", "cycle_time_hours", "deploy_hours"]}},
    "fct_deployment_changes": {"people": {"bridge": "bridge_pull_request_team", "key": "pull_request_id",
                                          "columns": ["pull_request_id", "commit_sha"]}},
}


@dataclass(frozen=True)
class MartShape:
    name: str
    shape: str                 # public | account | team | developer | service | project | bridged
    key: str | None = None     # the team / developer / service column; the join key (bridged)
    tree_col: str | None = None   # `tree`, else `owning_tree` (team shape only)
    has_project: bool = False
    bridge: str | None = None  # the bridge mart (bridged shape only)
    people: tuple[str, str, tuple[str, ...]] | None = None   # (bridge, key, masked columns)
    person: str | None = None  # team shape: the person column that must be visible too


def classify(name: str, columns: list[str], rules: dict[str, dict],
             all_columns: dict[str, list[str]] | None = None) -> MartShape | None:
    """The mart's shape; None when the policy excludes it; UnclassifiedMart when unknown.
    `all_columns` (every mart's columns) lets a bridged mart's bridge be checked."""
    rule = rules.get(name, DEFAULT_RULES.get(name, {}))
    if rule.get("people"):
        return _with_people(name, columns, rule["people"], rules, all_columns)
    cols = {c.lower() for c in columns}
    rule = rules.get(name, DEFAULT_RULES.get(name, {}))
    tree_col = "tree" if "tree" in cols else "owning_tree" if "owning_tree" in cols else None
    has_project = "project_id" in cols
    if rule.get("exclude"):
        return None
    if rule.get("public"):
        return MartShape(name, "public")
    if rule.get("account"):
        return MartShape(name, "account")
    if rule.get("team_column"):
        if rule["team_column"].lower() not in cols:
            raise UnclassifiedMart(f"mart {name!r} has no column {rule['team_column']!r} (the policy's team_column). "
                                   f"Fix: name one of its columns: {', '.join(columns)}")
        person = rule.get("person_column")
        if person and person.lower() not in cols:
            raise UnclassifiedMart(f"mart {name!r} has no column {person!r} (the rule's person_column). "
                                   f"Fix: name one of its columns: {', '.join(columns)}")
        return MartShape(name, "team", rule["team_column"].lower(), tree_col, has_project,
                         person=person.lower() if person else None)
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


def _with_people(name, columns, people: dict, rules, all_columns) -> MartShape:
    """The mart's shape by its columns, plus person columns masked outside the people bridge."""
    base = classify(name, columns, {**rules, name: {}}, all_columns)
    bridge, key = people["bridge"], people["key"].lower()
    cols = {c.lower() for c in columns}
    masked = tuple(c.lower() for c in people.get("columns", ()))
    bcols = {c.lower() for c in (all_columns or {}).get(bridge, [])}
    missing = sorted(({key, *masked} - cols) | ({key, "tree", "team_id"} - bcols))
    if missing:
        raise UnclassifiedMart(
            f"mart {name!r} masks its person columns through the bridge {bridge!r} on {key!r}, but "
            + (f"{bridge!r} is not built" if not bcols else f"columns are missing: {', '.join(missing)}")
            + f". Fix: build the bridge mart, or correct the `people` rule of {name!r}")
    return replace(base, people=(bridge, key, masked))


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _parts(m: MartShape, alias: str, principal: str, rbac: str, marts: str) -> tuple[str, str, str | None]:
    """(whole, own, people): the row's project is visible whole (account-wide principals only
    when the mart has no project); the row's own team / person / service is visible; its
    person is visible through the people bridge (None without a people rule)."""
    a = _q(alias)
    if m.has_project:
        whole = (f"exists (select 1 from {rbac}.visible_projects v where v.principal = {principal} "
                 f"and v.project_id is not distinct from {a}.project_id)")
    else:
        whole = f"exists (select 1 from {rbac}.visible_projects v where v.principal = {principal} and v.project_id is null)"
    proj = f" and v.project_id = {a}.project_id" if m.has_project else ""
    key = f"{a}.{_q(m.key)}" if m.key else None
    if m.shape in ("project", "public", "account"):
        own = "false"
    elif m.shape == "team":
        tree = f" and v.tree = {a}.{_q(m.tree_col)}" if m.tree_col else ""
        own = (f"exists (select 1 from {rbac}.visible_teams v where v.principal = {principal} "
               f"and v.team_id = {key}{tree}{proj})")
        if m.person:
            own += (f" and exists (select 1 from {rbac}.visible_developers v where v.principal = {principal} "
                    f"and v.developer_id = {a}.{_q(m.person)}{proj})")
    elif m.shape == "bridged":
        own = _through(m.bridge, m.key, key, principal, rbac, marts, proj)
    elif m.shape == "developer":
        own = (f"exists (select 1 from {rbac}.visible_developers v where v.principal = {principal} "
               f"and v.developer_id = {key}{proj})")
    else:
        own = (f"exists (select 1 from {rbac}.visible_services v where v.principal = {principal} "
               f"and v.service = {key}{proj})")
    people = None
    if m.people:
        bridge, pkey, _ = m.people
        people = _through(bridge, pkey, f"{a}.{_q(pkey)}", principal, rbac, marts, proj)
    return whole, own, people


def _through(bridge: str, bkey: str, key: str, principal: str, rbac: str, marts: str, proj: str) -> str:
    return (f"exists (select 1 from {marts}.{_q(bridge)} b join {rbac}.visible_teams v "
            f"on v.tree = b.tree and v.team_id = b.team_id where v.principal = {principal} "
            f"and b.{_q(bkey)} = {key}{proj})")


def row_filter(m: MartShape, alias: str, principal: str, rbac: str, marts: str) -> str:
    """A boolean SQL expression (DuckDB and PostgreSQL) true for the rows of `alias` the
    principal sees. `principal` is an SQL expression (current_user, a variable, a quoted
    literal); `rbac` the schema holding the compiled tables; `marts` the (qualified) schema
    holding the marts, for the bridges."""
    if m.shape == "public":
        return "true"
    whole, own, people = _parts(m, alias, principal, rbac, marts)
    return f"({' or '.join(x for x in (whole, own, people) if x)})"


PERSON_VISIBLE = "__sei_person_visible"


def select(m: MartShape, columns: list[str], source: str, principal: str, rbac: str, marts: str) -> str:
    """The rows of mart `m` (read from `source`.m) the principal sees, with a people rule's
    person columns NULL where the person is not visible. The person check runs once per row
    (in a subquery), not once per masked column."""
    a = _q(m.name)
    base = f"from {source}.{a} as {a} where {row_filter(m, m.name, principal, rbac, marts)}"
    if not m.people:
        return f"select {', '.join(f'{a}.{_q(c)}' for c in columns)} {base}"
    whole, _, people = _parts(m, m.name, principal, rbac, marts)
    masked = set(m.people[2])
    cols = ", ".join(f"case when {a}.{_q(PERSON_VISIBLE)} then {a}.{_q(c)} end as {_q(c)}" if c.lower() in masked
                     else f"{a}.{_q(c)}" for c in columns)
    return f"select {cols} from (select {a}.*, ({whole} or {people}) as {_q(PERSON_VISIBLE)} {base}) as {a}"


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
