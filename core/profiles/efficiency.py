"""The efficiency profile (profiles/efficiency.yml): what the DORA marts count as a
production deployment, a failure, an incident, where lead time starts, which authors are
bots. A `defaults` block applies everywhere; `projects.<project_id>` and
`trees.<tree>.<team_id>` replace whole sections for the services of that project, or of
that team and the teams below it (nearest team, then project, then defaults).

Every scope is written fully resolved, so dbt only picks a scope per service:
  efficiency_scopes  scope_key, scope_type (default|project|team), project_id, tree, team_id,
                     use_tool_production_flag, count_rollbacks, incident_window_hours,
                     lead_time_start
  efficiency_values  scope_key, list_name, value: one row per list item. Names are lower
                     case; glob patterns (release_branch, hotfix_branch, bot) become SQL LIKE
                     patterns (`*` -> `%`, `?` -> `_`); every other character, `[` and `]`
                     included, matches itself (`*[bot]`: logins ending in `[bot]`, not a
                     shell-glob character class).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from core.profiles.base import (ProfileError, ProfileErrors, Lines, check_keys, check_top, project_overrides,
                               register_profile, require)

SOURCES = ("harness", "github", "events", "release_branches")
LEAD_TIME_STARTS = ("first_commit", "pr_opened", "issue_in_progress")
TABLES = ("efficiency_scopes", "efficiency_values")
# section -> key -> (kind, list_name or None). Kinds: names (lower-cased strings), globs, bool, hours, choice.
SECTIONS: dict[str, dict[str, tuple[str, str | None]]] = {
    "deployments": {"sources": ("sources", "source"), "production_environments": ("names", "production_environment"),
                    "use_tool_production_flag": ("bool", None), "release_branches": ("globs", "release_branch")},
    "failures": {"failed_statuses": ("names", "failed_status"), "rollbacks": ("bool", None),
                 "hotfix_labels": ("names", "hotfix_label"), "hotfix_branches": ("globs", "hotfix_branch"),
                 "incident_window_hours": ("hours", None)},
    "incidents": {"jira_issue_types": ("names", "jira_issue_type")},
    "lead_time": {"start": ("choice", None), "in_progress_statuses": ("names", "in_progress_status")},
    "bots": ("globs", "bot"),  # a list, not a mapping
}
REQUIRED = {"deployments": {"sources", "production_environments", "use_tool_production_flag"},
            "failures": {"failed_statuses", "rollbacks", "incident_window_hours"},
            "incidents": {"jira_issue_types"}, "lead_time": {"start"}, "bots": set()}


def glob_to_like(pattern: str) -> str:
    """`hotfix/*` -> `hotfix/%`; LIKE's own wildcards in the pattern are matched literally
    by escaping them with a backslash (dbt models use `like ... escape '\\'`)."""
    out = pattern.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return out.replace("*", "%").replace("?", "_")


def _strings(v: Any, errors: list, path: Path, lines: Lines, key: str, what: str, example: str) -> list[str]:
    if not require(isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v), errors, path, lines,
                   key, f"{key.rsplit('.', 1)[-1]} must be a list of {what}", f"write e.g. {example}"):
        return []
    return [x.strip() for x in v]


def _value(kind: str, v: Any, errors: list, path: Path, lines: Lines, key: str) -> Any:
    name = key.rsplit(".", 1)[-1]
    if kind == "sources":
        vals = _strings(v, errors, path, lines, key, "deployment sources", "[harness, github, events]")
        for x in vals:
            require(x in SOURCES, errors, path, lines, key, f"unknown deployment source {x!r}",
                    f"use some of: {', '.join(SOURCES)}")
        require(bool(vals) or not isinstance(v, list), errors, path, lines, key, "no deployment source is listed",
                "list at least one of: " + ", ".join(SOURCES))
        return [x for x in vals if x in SOURCES]
    if kind == "names":
        return sorted({x.lower() for x in _strings(v, errors, path, lines, key, "names", "[production, prod]")})
    if kind == "globs":
        return sorted({glob_to_like(x) for x in _strings(v, errors, path, lines, key, "glob patterns",
                                                         '["release/*"]')})
    if kind == "bool":
        require(isinstance(v, bool), errors, path, lines, key, f"{name} must be true or false, not {v!r}",
                f"write {name}: true")
        return bool(v) if isinstance(v, bool) else True
    if kind == "hours":
        ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 < v <= 24 * 90
        require(ok, errors, path, lines, key, f"{name} must be a number of hours above 0 and at most 2160, not {v!r}",
                "write incident_window_hours: 24 (an incident opened later than this after a deployment is not "
                "blamed on it)")
        return float(v) if ok else 24.0
    if kind == "choice":
        require(v in LEAD_TIME_STARTS, errors, path, lines, key, f"unknown lead-time start {v!r}",
                f"use one of: {', '.join(LEAD_TIME_STARTS)}")
        return v if v in LEAD_TIME_STARTS else "first_commit"
    raise AssertionError(kind)


def _sections(block: Any, errors: list, path: Path, lines: Lines, key: str, required: bool) -> dict:
    out: dict = {}
    label = key or "the file"
    if not require(isinstance(block, dict), errors, path, lines, key, f"{label} must be a mapping of sections",
                   f"use the sections {', '.join(SECTIONS)} as in the shipped profiles/efficiency.yml"):
        return out
    check_keys(block, set(SECTIONS), errors, path, lines, key)
    for section, spec in SECTIONS.items():
        k = f"{key}.{section}"
        if section not in block:
            if required:
                errors.append(ProfileError(path, lines.at(key), f"{key}.{section} is missing",
                                           f"add a {section} section (copy it from the shipped profiles/efficiency.yml)"))
            continue
        if isinstance(spec, tuple):  # bots: a plain list
            out[section] = _value(spec[0], block[section], errors, path, lines, k)
            continue
        sec = block[section]
        if not require(isinstance(sec, dict), errors, path, lines, k, f"{section} must be a mapping",
                       f"see the {section} section of the shipped profiles/efficiency.yml"):
            continue
        check_keys(sec, set(spec), errors, path, lines, k)
        if required:
            for miss in sorted(REQUIRED[section] - set(sec)):
                errors.append(ProfileError(path, lines.at(k), f"{k}.{miss} is missing",
                                           f"add {miss} (see the shipped profiles/efficiency.yml)"))
        out[section] = {name: _value(kind, sec[name], errors, path, lines, f"{k}.{name}")
                        for name, (kind, _) in spec.items() if name in sec}
    return out


def _merge(base: dict, override: dict) -> dict:
    """Sections given in `override` replace the base's whole section (missing keys of a
    mapping section fall back to the base's values, so a one-key override is enough)."""
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in base.items()}
    for section, v in override.items():
        out[section] = {**out.get(section, {}), **v} if isinstance(v, dict) else v
    return out


def _rows(scope_key: str, scope_type: str, project: str | None, tree: str | None, team: str | None,
          p: dict) -> tuple[dict, list[dict]]:
    d, f, lt = p["deployments"], p["failures"], p["lead_time"]
    scope = {"scope_key": scope_key, "scope_type": scope_type, "project_id": project, "tree": tree, "team_id": team,
             "use_tool_production_flag": d["use_tool_production_flag"], "count_rollbacks": f["rollbacks"],
             "incident_window_hours": float(f["incident_window_hours"]), "lead_time_start": lt["start"]}
    values = []
    for section, spec in SECTIONS.items():
        if isinstance(spec, tuple):
            values += [{"scope_key": scope_key, "list_name": spec[1], "value": v} for v in p.get(section, [])]
            continue
        for name, (_, list_name) in spec.items():
            if list_name:
                values += [{"scope_key": scope_key, "list_name": list_name, "value": v}
                           for v in p[section].get(name, [])]
    return scope, values


def _to_tables(profile: dict) -> dict[str, pd.DataFrame]:
    scopes, values = [], []
    base = profile["defaults"]
    for key, typ, project, tree, team, over in [("default", "default", None, None, None, {}),
                                                *[(f"project:{pid}", "project", pid, None, None, sec)
                                                  for pid, sec in profile["projects"].items()],
                                                *[(f"team:{tree}/{tid}", "team", None, tree, tid, sec)
                                                  for tree, teams in profile["trees"].items()
                                                  for tid, sec in teams.items()]]:
        s, v = _rows(key, typ, project, tree, team, _merge(base, over))
        scopes.append(s)
        values += v
    return {
        "efficiency_scopes": pd.DataFrame(scopes, columns=["scope_key", "scope_type", "project_id", "tree", "team_id",
                                                           "use_tool_production_flag", "count_rollbacks",
                                                           "incident_window_hours", "lead_time_start"]).astype(
            {"scope_key": "object", "scope_type": "object", "project_id": "object", "tree": "object",
             "team_id": "object", "use_tool_production_flag": "bool", "count_rollbacks": "bool",
             "incident_window_hours": "float64", "lead_time_start": "object"}),
        "efficiency_values": pd.DataFrame(values, columns=["scope_key", "list_name", "value"], dtype="object"),
    }


@register_profile("efficiency", "efficiency.yml", to_tables=_to_tables, tables=TABLES,
                  description="DORA: production environments, deployment sources, failure rules, incident window, "
                              "lead-time start, bots")
def validate(data: Any, lines: Lines, path: Path) -> dict:
    errors = check_top(data, "efficiency", {"version", "defaults", "projects", "trees"}, path, lines)
    defaults = _sections(data.get("defaults"), errors, path, lines, "defaults", required=True)
    projects = project_overrides(data, _sections, errors, path, lines,
                                 "{prj-payments: {failures: {incident_window_hours: 48}}}")
    trees: dict = {}
    raw = data.get("trees") or {}
    if require(isinstance(raw, dict), errors, path, lines, "trees",
               "trees must map tree names to {team_id: sections}",
               "write trees: {reporting: {T004: {failures: {incident_window_hours: 48}}}}"):
        for tree, teams in raw.items():
            if require(isinstance(teams, dict), errors, path, lines, f"trees.{tree}",
                       f"trees.{tree} must map team ids to sections", f"write trees: {{{tree}: {{T004: {{...}}}}}}"):
                trees[str(tree)] = {str(tid): _sections(block, errors, path, lines, f"trees.{tree}.{tid}",
                                                        required=False) for tid, block in teams.items()}
    if errors:
        raise ProfileErrors(errors)
    return {"defaults": defaults, "projects": projects, "trees": trees}
