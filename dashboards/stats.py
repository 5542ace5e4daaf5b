"""Figures the marts do not hold as such, computed only where they can be exact.

The team marts hold, per week and month, counts (additive) and the median / p90 of each
duration. A quarter's counts and rates are sums and ratios of sums of its months. A
quarter's median, any mean, p95, or a median the mart does not hold (recovery p90, ...) can
not be derived from those: they are computed here from the row-level facts in the viewer's
data, with the marts' own attribution (the PR author's team for changes and pull requests,
the service's owning team for deployments) and continuous percentiles (`percentile_cont`,
as the marts use).

A viewer's data may hold only part of a team's rows (a change of the team's author shipped
by a service outside the scope is not in it). So every row-level figure is checked: the
number of rows it is computed from must equal the mart's count for the same team and
period (rows in scope are a subset of the team's rows, so equal counts mean the same rows).
Where they differ the figure is withheld and the reason given; a wrong number is never shown.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd

STATISTICS = ["median", "mean", "p90", "p95"]
QUANTILE = {"median": 0.5, "p90": 0.9, "p95": 0.95}
SUFFIX = {"median": "p50", "p90": "p90"}          # what the marts hold, column suffix


def aggregate(statistic: str, column: str) -> str:
    """The SQL aggregate of `statistic` over `column` (DuckDB and PostgreSQL)."""
    if statistic == "mean":
        return f"avg({column})"
    return f"percentile_cont({QUANTILE[statistic]}) within group (order by {column})"


def trunc(grain: str, column: str) -> str:
    assert grain in ("week", "month", "quarter"), grain
    return f"cast(date_trunc('{grain}', {column}) as date)"


# kind -> (row-level select of distinct rows: (at, values...), count column of the team marts, values)
KINDS = {
    "changes": (
        "select c.pull_request_id, c.deployed_at as at, c.lead_time_hours, c.coding_hours, c.pickup_hours, "
        "c.review_hours, c.deploy_hours from marts.fct_changes c where exists (select 1 from "
        "marts.bridge_pull_request_team b where b.pull_request_id = c.pull_request_id and b.tree = ? and b.team_id in "
        "(select unnest(?::varchar[]))) and c.deployed_at >= ? and c.deployed_at < ?",
        "changes", ["lead_time_hours", "coding_hours", "pickup_hours", "review_hours", "deploy_hours"]),
    "deployments": (
        "select deployment_id, finished_at as at, case when is_failure then recovery_hours end as recovery_hours "
        "from marts.fct_deployments where is_production and is_finished and service is not null and owning_tree = ? "
        "and team_id in (select unnest(?::varchar[])) and finished_at >= ? and finished_at < ?",
        "production_deployments", ["recovery_hours"]),
    "pull_requests": (
        "select p.pull_request_id, p.merged_at as at, p.cycle_time_hours, p.coding_hours, p.pickup_hours, "
        "p.review_hours, p.time_to_first_review_hours, p.size_lines from marts.fct_pull_requests p "
        "where p.is_merged and not p.is_bot_author and exists (select 1 from marts.bridge_pull_request_team b "
        "where b.pull_request_id = p.pull_request_id and b.tree = ? and b.team_id in (select unnest(?::varchar[]))) "
        "and p.merged_at >= ? and p.merged_at < ?",
        "merged_prs", ["cycle_time_hours", "coding_hours", "pickup_hours", "review_hours",
                       "time_to_first_review_hours", "size_lines"]),
}
MART_TABLES = {"changes": ["fct_changes", "bridge_pull_request_team"], "deployments": ["fct_deployments"],
               "pull_requests": ["fct_pull_requests", "bridge_pull_request_team"]}


def row_level_sql(kind: str, grain: str, statistic: str) -> str:
    rows, _, values = KINDS[kind]
    aggs = ", ".join(f"{aggregate(statistic, v)} as {v}" for v in values)
    return (f"select {trunc(grain, 'x.at')} as period_start, count(*) as n, {aggs} from ({rows}) x "
            f"group by 1 order by 1")


@dataclass
class Exact:
    """Row-level figures per period, only where they are exact."""
    values: pd.DataFrame                          # period_start + one column per value (NaN: withheld or no rows)
    withheld: dict = field(default_factory=dict)  # period_start -> reason

    def reason(self) -> str | None:
        if not self.withheld:
            return None
        (p, why), more = next(iter(self.withheld.items())), len(self.withheld) - 1
        return f"{pd.Timestamp(p):%Y-%m-%d}: {why}" + (f" (and {more} other period{'s' * (more > 1)})" if more else "")


def exact(d, kind: str, grain: str, statistic: str, tree: str, teams: list[str], start: dt.date, end: dt.date,
          expected: pd.Series) -> Exact:
    """`statistic` of each value of `kind` per `grain` period in [start, end] for the rows of
    `teams` (the node: the team, or its subtree), kept only where the row count equals
    `expected` (the mart's count per period_start, summed over the period's mart rows)."""
    _, count_col, values = KINDS[kind]
    if not all(d.has(t) for t in MART_TABLES[kind]):
        empty = pd.DataFrame({"period_start": list(expected.index)})
        for v in values:
            empty[v] = float("nan")
        return Exact(empty, {p: f"marts.{MART_TABLES[kind][0]} is not in your scope" for p in expected.index})
    got = d.sql(row_level_sql(kind, grain, statistic),
                [tree, list(teams), pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)])
    got["period_start"] = pd.to_datetime(got.period_start)
    got = got.set_index("period_start")
    out = pd.DataFrame(index=pd.to_datetime(pd.Index(expected.index, name="period_start")))
    withheld = {}
    for p, want in zip(out.index, expected.values):
        n = int(got.n.get(p, 0)) if p in got.index else 0
        if n != int(want):
            withheld[p] = (f"{int(want) - n} of the team's {int(want)} {count_col.replace('_', ' ')} are outside your "
                           f"scope, and the {statistic} needs every one")
    for v in values:
        col = got[v] if v in got else pd.Series(dtype=float)
        out[v] = [float(col.get(p)) if p in col.index and p not in withheld and pd.notna(col.get(p)) else float("nan")
                  for p in out.index]
    return Exact(out.reset_index(), withheld)


# --------------------------------------------------------------------------- quarters from months
DORA_COUNTS = ["period_days", "deployments", "deployment_days", "production_deployments", "failed_deployments",
               "rework_deployments", "changes"]


def roll_up(rows: pd.DataFrame, period: str, grain: str, sums: list[str]) -> pd.DataFrame:
    """Rows of a monthly (or weekly) mart summed into `grain` periods: only additive columns."""
    if rows.empty:
        return pd.DataFrame(columns=["period_start", *sums])
    key = pd.to_datetime(rows[period]).map(lambda t: pd.Timestamp(_start(t, grain)))
    out = rows.assign(period_start=key).groupby("period_start", as_index=False)[sums].sum(min_count=1)
    return out


def _start(t, grain: str) -> dt.date:
    from dashboards.ui import period_start
    return period_start(t, grain)


def dora_rates(q: pd.DataFrame) -> pd.DataFrame:
    """The DORA formulas (macros/dora/dora_metrics.sql) on summed counts."""
    q = q.copy()
    prod = q.production_deployments.where(q.production_deployments > 0)
    q["deployments_per_week"] = q.deployments * 7.0 / q.period_days
    q["change_failure_rate"] = q.failed_deployments / prod
    q["rework_rate"] = q.rework_deployments / prod
    return q
