"""The productivity profile (profiles/productivity.yml): PR size buckets, Jira status
categories, sprint rules and the privacy switches. A `defaults` block applies to every
project; `projects.<project_id>` replaces whole sections for one project.

Tables (raw_config, read by dbt through stg_config__*):
  productivity_pr_size_buckets   project_id (null = default), bucket_name, bucket_order, min_lines, max_lines
  productivity_status_categories project_id, status_name (lower case), category
  productivity_sprint_settings   project_id, grace_period_hours, predictability_sprints
  privacy_settings               per_person_metrics, retention_months (one row)
  privacy_hidden_developers      developer_id
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from core.profiles.base import (ProfileError, ProfileErrors, Lines, check_keys, check_top, project_overrides,
                               register_profile, require)

CATEGORIES = ("to_do", "in_progress", "done", "wont_do")
SECTIONS = {"pr_size_buckets", "status_categories", "sprints"}
TABLES = ("productivity_pr_size_buckets", "productivity_status_categories", "productivity_sprint_settings",
          "privacy_settings", "privacy_hidden_developers")


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _buckets(data: Any, errors: list, path: Path, lines: Lines, key: str) -> list[dict]:
    if not require(isinstance(data, list) and len(data) >= 2, errors, path, lines, key,
                   "pr_size_buckets must be a list of at least two buckets",
                   "list buckets smallest first, e.g. - {name: S, max_lines: 50}, ending with one without max_lines"):
        return []
    out, low, names = [], 0, set()
    for i, b in enumerate(data):
        k = f"{key}.{i}"
        if not require(isinstance(b, dict), errors, path, lines, k, "a bucket must be a mapping",
                       "write {name: S, max_lines: 50}"):
            continue
        check_keys(b, {"name", "max_lines"}, errors, path, lines, k)
        name = b.get("name")
        require(isinstance(name, str) and name.strip() != "", errors, path, lines, k,
                "a bucket needs a name", "add name: S")
        require(name not in names, errors, path, lines, f"{k}.name", f"bucket name {name!r} is used twice",
                "give every bucket its own name")
        names.add(name)
        last = i == len(data) - 1
        hi = b.get("max_lines")
        if last:
            require(hi is None, errors, path, lines, f"{k}.max_lines",
                    "the last bucket must be open-ended (no max_lines)", "remove max_lines from the last bucket")
            hi = None
        elif require(isinstance(hi, int) and not isinstance(hi, bool) and hi > low, errors, path, lines,
                     f"{k}.max_lines" if "max_lines" in b else k,
                     f"max_lines must be a whole number above the previous bucket's ({low})",
                     "list buckets smallest first with increasing max_lines (lines changed = additions + deletions; "
                     "max_lines is exclusive)"):
            pass
        else:
            hi = low + 1
        out.append({"bucket_name": name, "bucket_order": i + 1, "min_lines": low, "max_lines": hi})
        low = hi if hi is not None else low
    return out


def _statuses(data: Any, errors: list, path: Path, lines: Lines, key: str) -> dict[str, str]:
    if not require(isinstance(data, dict) and data, errors, path, lines, key,
                   "status_categories must map Jira status names to a category",
                   f"write e.g. In Review: in_progress (categories: {', '.join(CATEGORIES)})"):
        return {}
    out = {}
    for name, cat in data.items():
        k = f"{key}.{name}"
        if require(cat in CATEGORIES, errors, path, lines, k, f"status {name!r} has unknown category {cat!r}",
                   f"use one of: {', '.join(CATEGORIES)}"):
            require(str(name).strip().lower() not in out, errors, path, lines, k,
                    f"status {name!r} is listed twice (names are case-insensitive)", "keep one entry")
            out[str(name).strip().lower()] = cat
    return out


def _sprints(data: Any, errors: list, path: Path, lines: Lines, key: str) -> dict:
    if not require(isinstance(data, dict), errors, path, lines, key, "sprints must be a mapping",
                   "write grace_period_hours: 24 and predictability_sprints: 6"):
        return {}
    check_keys(data, {"grace_period_hours", "predictability_sprints"}, errors, path, lines, key)
    g, n = data.get("grace_period_hours", 24), data.get("predictability_sprints", 6)
    require(_number(g) and 0 <= g <= 24 * 14, errors, path, lines, f"{key}.grace_period_hours",
            f"grace_period_hours must be a number of hours from 0 to 336, not {g!r}",
            "issues added within this many hours after the sprint starts count as committed; 24 is usual")
    require(isinstance(n, int) and not isinstance(n, bool) and 2 <= n <= 52, errors, path, lines,
            f"{key}.predictability_sprints", f"predictability_sprints must be a whole number from 2 to 52, not {n!r}",
            "use the number of past sprints the spread of delivery is measured over, e.g. 6")
    return {"grace_period_hours": float(g) if _number(g) else 24.0, "predictability_sprints": n}


def _sections(block: Any, errors: list, path: Path, lines: Lines, key: str, required: bool) -> dict:
    out: dict = {}
    if not require(isinstance(block, dict), errors, path, lines, key or "", f"{key or 'the file'} must be a mapping",
                   "see the shipped profiles/productivity.yml"):
        return out
    check_keys(block, SECTIONS, errors, path, lines, key)
    for name, fn in (("pr_size_buckets", _buckets), ("status_categories", _statuses), ("sprints", _sprints)):
        k = f"{key}.{name}"
        if name in block:
            out[name] = fn(block[name], errors, path, lines, k)
        elif required:
            errors.append(ProfileError(path, lines.at(key), f"defaults.{name} is missing",
                                       f"add a {name} section (copy it from the shipped profiles/productivity.yml)"))
    return out


def _privacy(data: Any, errors: list, path: Path, lines: Lines) -> dict:
    out = {"per_person_metrics": True, "hidden_developers": [], "retention_months": None}
    if data is None:
        return out
    if not require(isinstance(data, dict), errors, path, lines, "privacy", "privacy must be a mapping",
                   "write per_person_metrics: true, hidden_developers: [], retention_months: null"):
        return out
    check_keys(data, {"per_person_metrics", "hidden_developers", "retention_months"}, errors, path, lines, "privacy")
    p = data.get("per_person_metrics", True)
    require(isinstance(p, bool), errors, path, lines, "privacy.per_person_metrics",
            f"per_person_metrics must be true or false, not {p!r}",
            "false removes every per-developer figure (productivity_developer_monthly is empty)")
    h = data.get("hidden_developers") or []
    if require(isinstance(h, list) and all(isinstance(x, str) and x for x in h), errors, path, lines,
               "privacy.hidden_developers", "hidden_developers must be a list of developer ids",
               "write hidden_developers: [dev-0001] (ids from the developers file)"):
        out["hidden_developers"] = sorted(set(h))
    r = data.get("retention_months")
    require(r is None or (isinstance(r, int) and not isinstance(r, bool) and r >= 1), errors, path, lines,
            "privacy.retention_months", f"retention_months must be a whole number of months (1 or more) or null, not {r!r}",
            "null keeps raw personal data forever; 24 drops raw rows older than two years at `sei org retention`")
    out["per_person_metrics"] = p if isinstance(p, bool) else True
    out["retention_months"] = r if isinstance(r, int) and not isinstance(r, bool) else None
    return out


def _to_tables(profile: dict) -> dict[str, pd.DataFrame]:
    buckets, statuses, sprints = [], [], []
    for project, sec in [(None, profile["defaults"]), *profile["projects"].items()]:
        buckets += [{"project_id": project, **b} for b in sec.get("pr_size_buckets", [])]
        statuses += [{"project_id": project, "status_name": s, "category": c}
                     for s, c in sec.get("status_categories", {}).items()]
        if sec.get("sprints"):
            sprints.append({"project_id": project, **sec["sprints"]})
    pv = profile["privacy"]
    return {
        "productivity_pr_size_buckets": pd.DataFrame(buckets, columns=["project_id", "bucket_name", "bucket_order",
                                                                       "min_lines", "max_lines"]).astype(
            {"project_id": "string", "bucket_name": "string", "bucket_order": "int64", "min_lines": "int64",
             "max_lines": "Int64"}),
        "productivity_status_categories": pd.DataFrame(statuses, columns=["project_id", "status_name", "category"],
                                                       dtype="string"),
        "productivity_sprint_settings": pd.DataFrame(sprints, columns=["project_id", "grace_period_hours",
                                                                       "predictability_sprints"]).astype(
            {"project_id": "string", "grace_period_hours": "float64", "predictability_sprints": "int64"}),
        "privacy_settings": pd.DataFrame([{"per_person_metrics": pv["per_person_metrics"],
                                           "retention_months": pv["retention_months"]}]).astype(
            {"per_person_metrics": "bool", "retention_months": "Int64"}),
        "privacy_hidden_developers": pd.DataFrame({"developer_id": pd.Series(pv["hidden_developers"], dtype="string")}),
    }


@register_profile("productivity", "productivity.yml", to_tables=_to_tables, tables=TABLES,
                  description="PR size buckets, Jira status categories, sprint rules, privacy switches")
def validate(data: Any, lines: Lines, path: Path) -> dict:
    errors = check_top(data, "productivity", {"version", "defaults", "projects", "privacy"}, path, lines)
    defaults = _sections(data.get("defaults"), errors, path, lines, "defaults", required=True)
    projects = project_overrides(data, _sections, errors, path, lines,
                                 "{prj-payments: {sprints: {grace_period_hours: 48}}}")
    privacy = _privacy(data.get("privacy"), errors, path, lines)
    if errors:
        raise ProfileErrors(errors)
    return {"defaults": defaults, "projects": projects, "privacy": privacy}
