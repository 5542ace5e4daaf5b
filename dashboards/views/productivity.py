"""Developer Productivity: PR throughput, cycle-time phases, PR size distribution, review
load and responsiveness, coding days, work completed per team; per developer where the scope
holds per-person rows (the productivity profile's privacy settings and the access policy
decide: opted-out and forgotten people never appear by name)."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import stats, ui

PR_VALUES = {   # figure -> (fct_pull_requests value column, the mart column per statistic it holds)
    "pr_cycle_time": ("cycle_time_hours", {"median": "pr_cycle_time_p50_hours", "p90": "pr_cycle_time_p90_hours"}),
    "coding_time": ("coding_hours", {"median": "coding_time_p50_hours", "p90": "coding_time_p90_hours"}),
    "pickup_time": ("pickup_hours", {"median": "pickup_time_p50_hours", "p90": "pickup_time_p90_hours"}),
    "review_time": ("review_hours", {"median": "review_time_p50_hours", "p90": "review_time_p90_hours"}),
    "time_to_first_review": ("time_to_first_review_hours", {"median": "time_to_first_review_p50_hours"}),
    "pr_size_lines": ("size_lines", {"median": "pr_size_p50_lines"}),
}
ADDITIVE = ["merged_prs", "reviewed_prs", "coding_days", "completed_issues", "completed_story_points"]
PER_DEVELOPER = ["active_developers", "merged_prs_per_developer", "review_depth", "pr_rework_rate",
                 "coding_days_per_developer"]
NO_QUARTER = ("needs the quarter's distinct active developers, or counts the mart does not publish: pick month "
              "or week")

d, node = ui.start("Developer Productivity", ["productivity_team_weekly", "productivity_team_monthly",
                                              "productivity_team_pr_sizes", "productivity_developer_monthly",
                                              "dim_developer", "fct_pull_requests"])
grain = ui.select("Granularity", ui.GRAINS, "grain", default="month")
mart, period = ("productivity_team_weekly", "week_start") if grain == "week" else ("productivity_team_monthly",
                                                                                   "month_start")
if not d.has(mart):
    ui.empty(f"No productivity data in your scope (marts.{mart} is not published).")
    st.stop()
partial, start, end = ui.period_window(d, mart, period, grain,
                                       nothing="No periods yet: nothing was loaded. Fix: run an ingest.")
statistic = ui.select("Statistic", stats.STATISTICS, "stat", default="median",
                      help="Of cycle time, its phases, time to first review and PR size. The marts hold the median "
                           "(and p90 of the cycle-time phases) per week and month; the rest is computed from the "
                           "pull requests behind them, only where your scope holds every one")
mart_rows = d.sql(f"select * from marts.{mart} where tree = ? and team_id = ? and includes_subteams = ? "
                  f"and {period} between ? and ? order by {period}",
                  [node.tree, node.team_id, node.subteams, start, end])
st.subheader(node.label)
if mart_rows.empty or mart_rows.merged_prs.sum() + mart_rows.active_developers.sum() == 0:
    ui.empty(f"No activity for {node.label} between {start} and {end}: the team had no members with pull requests, "
             f"reviews or commits in range.")
    st.stop()
if grain == "quarter":
    rows = stats.roll_up(mart_rows, period, grain, ADDITIVE)
    for c in PER_DEVELOPER:
        rows[c] = float("nan")
else:
    rows = mart_rows.rename(columns={period: "period_start"})
    rows["period_start"] = pd.to_datetime(rows.period_start)
needed = [k for k, (_, held) in PR_VALUES.items() if grain == "quarter" or statistic not in held]
for k, (_, held) in PR_VALUES.items():
    if k not in needed:
        rows[k] = rows[held[statistic]].values
if needed:
    got = stats.exact(d, "pull_requests", grain, statistic, node.tree, node.teams, start, end,
                      rows.set_index("period_start").merged_prs)
    for k in needed:
        rows[k] = got.values[PR_VALUES[k][0]].values
    if got.reason():
        st.warning(f"{', '.join(k.replace('_', ' ') for k in needed)} ({statistic}) withheld for {got.reason()}")
rows["partial"] = rows.period_start.dt.date >= partial.start
last = rows.iloc[-1]
c = st.columns(6)
c[0].metric("Merged PRs", ui.fmt_num(last.merged_prs, 0), help=f"marts.{mart}.merged_prs")
c[1].metric("Merged PRs per developer", ui.fmt_num(last.merged_prs_per_developer, 2),
            help=f"By quarter: unavailable, it {NO_QUARTER}" if grain == "quarter" else None)
c[2].metric(f"PR cycle time ({statistic})", ui.fmt_hours(last.pr_cycle_time))
c[3].metric(f"Time to first review ({statistic})", ui.fmt_hours(last.time_to_first_review))
c[4].metric("Coding days per developer", ui.fmt_num(last.coding_days_per_developer, 1),
            help=f"By quarter: unavailable, it {NO_QUARTER}" if grain == "quarter" else None)
c[5].metric("Issues completed", ui.fmt_num(last.completed_issues, 0))
state = f" ({partial.label(grain)})" if last.partial else " (complete)"
st.caption(f"Tiles: the {grain} starting {last.period_start:%Y-%m-%d}{state}"
           + (f". Per-developer figures by quarter are not shown: each {NO_QUARTER}." if grain == "quarter" else ""))

st.subheader("Cycle-time phases")
ph = rows.melt(id_vars="period_start", value_vars=["coding_time", "pickup_time", "review_time"], var_name="phase",
               value_name="hours").dropna()
if ph.empty:
    ui.empty("No merged pull requests in range: no cycle time.")
else:
    ph["phase"] = ph.phase.str.replace("_time", "")
    st.altair_chart(alt.Chart(ph).mark_bar().encode(
        x=alt.X("period_start:T", title=grain), y=alt.Y("hours:Q", stack=True, title=f"{statistic} hours"),
        color=alt.Color("phase:N", sort=["coding", "pickup", "review"]), tooltip=["period_start:T", "phase:N", "hours:Q"]),
        width="stretch")

st.subheader("PR size distribution")
if d.has("productivity_team_pr_sizes"):
    sizes = d.sql("select period_start, size_bucket, size_bucket_order, merged_prs from marts.productivity_team_pr_sizes "
                  "where tree = ? and team_id = ? and includes_subteams = ? and period_grain = ? "
                  "and period_start between ? and ? order by period_start, size_bucket_order",
                  [node.tree, node.team_id, node.subteams, "week" if grain == "week" else "month", start, end])
    if grain == "quarter" and not sizes.empty:
        sizes = sizes.assign(period_start=[ui.period_start(p, grain) for p in sizes.period_start]) \
            .groupby(["period_start", "size_bucket", "size_bucket_order"], as_index=False).merged_prs.sum()
    if sizes.merged_prs.sum() == 0:
        ui.empty("No merged pull requests in range.")
    else:
        order = list(sizes.drop_duplicates("size_bucket").sort_values("size_bucket_order").size_bucket)
        st.altair_chart(alt.Chart(sizes).mark_bar().encode(
            x=alt.X("period_start:T", title=grain), y=alt.Y("merged_prs:Q", stack=True),
            color=alt.Color("size_bucket:N", sort=order), tooltip=["period_start:T", "size_bucket:N", "merged_prs:Q"]),
            width="stretch")
        ui.source("productivity_team_pr_sizes")

st.subheader("Per period")
show = ["period_start", "partial", "active_developers", "merged_prs", "merged_prs_per_developer", "pr_cycle_time",
        "coding_time", "pickup_time", "review_time", "time_to_first_review", "pr_size_lines", "reviewed_prs",
        "review_depth", "pr_rework_rate", "coding_days", "coding_days_per_developer", "completed_issues",
        "completed_story_points"]
ui.table(rows[show], "productivity", f"Throughput, review load and responsiveness, work completed ({statistic} of "
         f"the durations and sizes; marts.{mart}" + (", summed by quarter" if grain == "quarter" else "") + ")")

st.subheader("Per developer")
if not d.has("productivity_developer_monthly"):
    ui.empty("Per-developer figures are not published in your scope.")
else:
    dev = d.sql("select p.month_start, p.team_id, p.developer_id, dd.full_name, p.opened_prs, p.merged_prs, "
                "p.pr_cycle_time_p50_hours, p.reviews_submitted, p.coding_days, p.completed_issues, "
                "p.completed_story_points from marts.productivity_developer_monthly p "
                "left join marts.dim_developer dd using (developer_id) "
                "where p.tree = ? and p.team_id in (select unnest(?::varchar[])) and p.month_start between ? and ? "
                "order by p.month_start desc, p.team_id, dd.full_name",
                [node.tree, node.teams, pd.Timestamp(start).replace(day=1).date(), end])
    if dev.empty:
        ui.empty("No per-developer rows: per-person metrics are off in the productivity profile "
                 "(privacy.per_person_metrics), or the people of this team are not in your scope.")
    else:
        ui.table(dev, "productivity_developers", "Per developer and month, in the team they were in at the time "
                 "(marts.productivity_developer_monthly; people hidden by the privacy settings never appear)")
