"""The goals profile (profiles/goals.yml): per-team targets on metrics, with the
thresholds that make a goal on track, at risk or off track.

A goal: id, team (and tree, default `reporting`), include_subteams, metric (one of
METRICS), period (week | month), direction (lower_is_better | higher_is_better), target,
warning, critical. Status per period: on_track while the actual is no worse than
`warning`, at_risk while no worse than `critical`, off_track beyond it, no_data without a
value. `target` is the aim (is_target_met, gap_to_target); it must be on the good side of
`warning`, which must be on the good side of `critical`.

Table (raw_config): goals, one row per goal.
"""
from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pandas as pd

from core.profiles.base import ProfileErrors, Lines, check_keys, check_top, register_profile, require

# metric -> (where its value comes from, what it is). The dbt model int_goal_metric_values
# publishes exactly these names; tests check the two stay in step.
METRICS = {
    "merged_prs": "productivity: pull requests merged in the period",
    "merged_prs_per_developer": "productivity: merged PRs per active developer",
    "active_developers": "productivity: developers with a PR, review or commit in the period",
    "pr_cycle_time_p50_hours": "productivity: median PR cycle time (first commit to merge), hours",
    "pr_cycle_time_p90_hours": "productivity: 90th percentile PR cycle time, hours",
    "coding_time_p50_hours": "productivity: median coding phase, hours",
    "pickup_time_p50_hours": "productivity: median pickup phase (ready to first review), hours",
    "review_time_p50_hours": "productivity: median review phase (first review to merge), hours",
    "pr_size_p50_lines": "productivity: median lines changed per merged PR",
    "review_depth": "productivity: review comments per reviewed merged PR",
    "pr_rework_rate": "productivity: share of merged PRs with commits pushed after the first review",
    "coding_days_per_developer": "productivity: distinct days with commits per active developer",
    "issues_completed_per_developer": "productivity: Jira issues completed per active developer",
    "story_points_completed_per_developer": "productivity: story points completed per active developer",
    "sprint_say_do_ratio": "sprints: delivered / committed over the sprints ending in the period",
    "sprint_scope_creep_pct": "sprints: issues added after the grace period / committed, percent",
    "sprint_velocity_points": "sprints: story points delivered per sprint ending in the period (mean)",
    "deployments_per_week": "DORA: successful production deployments per week (dora_team_*)",
    "lead_time_p50_hours": "DORA: median change lead time, hours",
    "change_failure_rate": "DORA: failed production deployments / production deployments",
    "recovery_time_p50_hours": "DORA: median failed deployment recovery time, hours",
    "rework_rate": "DORA: deployment rework rate",
}
DIRECTIONS = ("lower_is_better", "higher_is_better")
PERIODS = ("week", "month")
ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
COLUMNS = ["goal_id", "goal_name", "tree", "team_id", "include_subteams", "metric", "period", "direction",
           "target", "warning", "critical"]


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _goal(g: Any, i: int, errors: list, path: Path, lines: Lines, seen: set) -> dict | None:
    k = f"goals.{i}"
    if not require(isinstance(g, dict), errors, path, lines, k, "a goal must be a mapping",
                   "write - {id: ..., team: ..., metric: ..., target: ..., warning: ..., critical: ...}"):
        return None
    check_keys(g, {"id", "name", "tree", "team", "include_subteams", "metric", "period", "direction", "target",
                   "warning", "critical"}, errors, path, lines, k)
    n = len(errors)
    gid = g.get("id")
    if require(isinstance(gid, str) and ID.match(gid) is not None, errors, path, lines, f"{k}.id" if "id" in g else k,
               f"goal id {gid!r} is missing or not a simple name", "use letters, digits, '-', '_' or '.'"):
        require(gid not in seen, errors, path, lines, f"{k}.id", f"goal id {gid!r} is used twice",
                "give every goal its own id")
        seen.add(gid)
    team = g.get("team")
    require(isinstance(team, str) and team.strip() != "", errors, path, lines, f"{k}.team" if "team" in g else k,
            "a goal needs a team", "write team: <team_id from the org tree file>")
    tree = g.get("tree", "reporting")
    require(isinstance(tree, str) and tree.strip() != "", errors, path, lines, f"{k}.tree", "tree must be a name",
            "write tree: reporting")
    sub = g.get("include_subteams", False)
    require(isinstance(sub, bool), errors, path, lines, f"{k}.include_subteams",
            "include_subteams must be true or false", "true measures the team with its sub-teams")
    metric = g.get("metric")
    require(metric in METRICS, errors, path, lines, f"{k}.metric" if "metric" in g else k,
            f"unknown metric {metric!r}", f"use one of: {', '.join(METRICS)}")
    period = g.get("period", "month")
    require(period in PERIODS, errors, path, lines, f"{k}.period", f"unknown period {period!r}",
            "use week or month")
    direction = g.get("direction")
    require(direction in DIRECTIONS, errors, path, lines, f"{k}.direction" if "direction" in g else k,
            f"direction must be one of {', '.join(DIRECTIONS)}, not {direction!r}",
            "lower_is_better for times and rates of trouble, higher_is_better for throughput")
    vals = {}
    for name in ("target", "warning", "critical"):
        v = g.get(name)
        if require(_num(v), errors, path, lines, f"{k}.{name}" if name in g else k,
                   f"{name} must be a number, not {v!r}", f"add {name}: <number in the metric's unit>"):
            vals[name] = float(v)
    if len(vals) == 3 and direction in DIRECTIONS:
        t, w, c = vals["target"], vals["warning"], vals["critical"]
        ok = t <= w <= c if direction == "lower_is_better" else t >= w >= c
        word = "target <= warning <= critical" if direction == "lower_is_better" else "target >= warning >= critical"
        require(ok, errors, path, lines, f"{k}.warning",
                f"thresholds out of order for {direction}: target {t:g}, warning {w:g}, critical {c:g}",
                f"order them {word}: warning is where the goal becomes at risk, critical where it is off track")
    if len(errors) > n:
        return None
    return {"goal_id": gid, "goal_name": g.get("name") or gid, "tree": tree, "team_id": team, "include_subteams": sub,
            "metric": metric, "period": period, "direction": direction, **vals}


def _to_tables(profile: list[dict]) -> dict[str, pd.DataFrame]:
    return {"goals": pd.DataFrame(profile, columns=COLUMNS).astype(
        {c: "string" for c in COLUMNS if c not in ("include_subteams", "target", "warning", "critical")}
        | {"include_subteams": "bool", "target": "float64", "warning": "float64", "critical": "float64"})}


@register_profile("goals", "goals.yml", to_tables=_to_tables, tables=("goals",),
                  description="Per-team targets and thresholds on productivity, sprint and DORA metrics")
def validate(data: Any, lines: Lines, path: Path) -> list[dict]:
    errors = check_top(data, "goals", {"version", "goals"}, path, lines, what="a mapping with a goals list")
    goals = data.get("goals") or []
    out, seen = [], set()
    if require(isinstance(goals, list), errors, path, lines, "goals", "goals must be a list", "write goals: [...]"):
        for i, g in enumerate(goals):
            got = _goal(g, i, errors, path, lines, seen)
            if got:
                out.append(got)
    if errors:
        raise ProfileErrors(errors)
    return out
