"""The alignment profile (profiles/alignment.yml): ranked business categories and how
effort is measured. An issue falls in the first (highest-ranked) category one of whose
rules it matches; a rule lists criteria (issue_types, labels, components, epics, parents,
projects), all of which must hold, each satisfied by any of its values. Children take
their epic's category (sub-tasks their parent's); otherwise Uncategorized.

Tables (raw_config):
  alignment_categories       project_id (null = default), category, category_rank
  alignment_category_rules   project_id, category, category_rank, rule_index, criterion, value (lower case)
  alignment_settings         project_id, effort, uncategorized_name
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from core.profiles.base import (ProfileError, ProfileErrors, Lines, check_keys, check_top, project_overrides,
                               register_profile, require)

EFFORTS = ("issue_count", "story_points", "time_in_progress")
# profile key -> criterion name the dbt model matches on
CRITERIA = {"issue_types": "issue_type", "labels": "label", "components": "component", "epics": "epic",
            "parents": "parent", "projects": "project"}
TABLES = ("alignment_categories", "alignment_category_rules", "alignment_settings")


def _block(block: Any, errors: list, path: Path, lines: Lines, key: str, required: bool) -> dict:
    out: dict = {}
    if not require(isinstance(block, dict), errors, path, lines, key, f"{key} must be a mapping",
                   "see the shipped profiles/alignment.yml"):
        return out
    check_keys(block, {"effort", "uncategorized", "categories"}, errors, path, lines, key)
    pre = f"{key}." if key else ""
    eff = block.get("effort", "issue_count" if required else None)
    if eff is not None:
        if require(eff in EFFORTS, errors, path, lines, f"{pre}effort", f"unknown effort measure {eff!r}",
                   f"use one of: {', '.join(EFFORTS)}"):
            out["effort"] = eff
    unc = block.get("uncategorized", "Uncategorized" if required else None)
    if unc is not None:
        if require(isinstance(unc, str) and unc.strip(), errors, path, lines, f"{pre}uncategorized",
                   "uncategorized must be a name", "write uncategorized: Uncategorized"):
            out["uncategorized"] = unc.strip()
    if "categories" not in block:
        if required:
            errors.append(ProfileError(path, lines.at(key), "categories are missing",
                                       "list categories highest rank first, each with a name and match rules"))
        return out
    cats = block["categories"]
    if not require(isinstance(cats, list) and cats, errors, path, lines, f"{pre}categories",
                   "categories must be a non-empty list", "list categories highest rank first"):
        return out
    seen, parsed = set(), []
    for i, c in enumerate(cats):
        k = f"{pre}categories.{i}"
        if not require(isinstance(c, dict), errors, path, lines, k, "a category must be a mapping",
                       "write - name: Security\n    match: [{labels: [security]}]"):
            continue
        check_keys(c, {"name", "match"}, errors, path, lines, k)
        name = c.get("name")
        if not require(isinstance(name, str) and name.strip(), errors, path, lines, k, "a category needs a name",
                       "add name: ..."):
            continue
        name = name.strip()
        require(name.lower() not in seen, errors, path, lines, f"{k}.name", f"category {name!r} is listed twice",
                "merge its rules into one category")
        require(name.lower() != out.get("uncategorized", "Uncategorized").lower(), errors, path, lines, f"{k}.name",
                f"{name!r} is the name of the uncategorized bucket", "rename the category")
        seen.add(name.lower())
        rules = c.get("match")
        if not require(isinstance(rules, list) and rules, errors, path, lines, f"{k}.match" if "match" in c else k,
                       f"category {name!r} needs a non-empty match list",
                       "write match: [{labels: [security]}, {issue_types: [Incident]}]; any rule matching is enough"):
            continue
        prules = []
        for j, r in enumerate(rules):
            rk = f"{k}.match.{j}"
            if not require(isinstance(r, dict) and r, errors, path, lines, rk, "a rule must be a non-empty mapping",
                           f"use criteria among {', '.join(CRITERIA)}, e.g. {{labels: [security]}}"):
                continue
            check_keys(r, set(CRITERIA), errors, path, lines, rk)
            crit = {}
            for ck, vals in r.items():
                if ck not in CRITERIA:
                    continue
                vals = [vals] if isinstance(vals, str) else vals
                if require(isinstance(vals, list) and vals and all(isinstance(v, (str, int)) and str(v).strip()
                                                                   for v in vals),
                           errors, path, lines, f"{rk}.{ck}", f"{ck} must be a non-empty list of names",
                           f"write {ck}: [value, ...]"):
                    crit[CRITERIA[ck]] = sorted({str(v).strip().lower() for v in vals})
            prules.append(crit)
        parsed.append({"name": name, "rules": prules})
    out["categories"] = parsed
    return out


def _to_tables(profile: dict) -> dict[str, pd.DataFrame]:
    cats, rules, settings = [], [], []
    d = profile["defaults"]
    for project, blk in [(None, d), *profile["projects"].items()]:
        settings.append({"project_id": project, "effort": blk.get("effort", d["effort"]),
                         "uncategorized_name": blk.get("uncategorized", d["uncategorized"])})
        for rank, c in enumerate(blk.get("categories", d["categories"] if project is None else []), start=1):
            cats.append({"project_id": project, "category": c["name"], "category_rank": rank})
            for ri, r in enumerate(c["rules"]):
                for crit, vals in r.items():
                    rules += [{"project_id": project, "category": c["name"], "category_rank": rank, "rule_index": ri,
                               "criterion": crit, "value": v} for v in vals]
    return {
        "alignment_categories": pd.DataFrame(cats, columns=["project_id", "category", "category_rank"]).astype(
            {"project_id": "string", "category": "string", "category_rank": "int64"}),
        "alignment_category_rules": pd.DataFrame(rules, columns=["project_id", "category", "category_rank",
                                                                 "rule_index", "criterion", "value"]).astype(
            {"project_id": "string", "category": "string", "category_rank": "int64", "rule_index": "int64",
             "criterion": "string", "value": "string"}),
        "alignment_settings": pd.DataFrame(settings, columns=["project_id", "effort", "uncategorized_name"],
                                           dtype="string"),
    }


@register_profile("alignment", "alignment.yml", to_tables=_to_tables, tables=TABLES,
                  description="Ranked business-alignment categories and the effort measure")
def validate(data: Any, lines: Lines, path: Path) -> dict:
    errors = check_top(data, "alignment", {"version", "effort", "uncategorized", "categories", "projects"}, path, lines)
    defaults = _block({k: v for k, v in data.items() if k in ("effort", "uncategorized", "categories")},
                      errors, path, lines, "", required=True)
    projects = project_overrides(data, _block, errors, path, lines, "{prj-payments: {effort: story_points}}")
    if errors:
        raise ProfileErrors(errors)
    return {"defaults": defaults, "projects": projects}
