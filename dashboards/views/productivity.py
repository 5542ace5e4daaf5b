"""Developer Productivity: PR throughput, cycle-time phases, PR size distribution, review
load and responsiveness, coding days, work completed per team; per developer where the scope
holds per-person rows (the productivity profile's privacy settings and the access policy
decide: opted-out and forgotten people never appear by name)."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui

d = ui.data()
ui.header(d, "Developer Productivity", ["productivity_team_weekly", "productivity_team_monthly",
                                        "productivity_team_pr_sizes", "productivity_developer_monthly", "dim_developer"])
node = ui.org_controls(d)
if node is None:
    st.stop()
grain = ui.select("Granularity", ["month", "week"], "grain", default="month")
mart, period = ("productivity_team_monthly", "month_start") if grain == "month" else ("productivity_team_weekly",
                                                                                       "week_start")
if not d.has(mart):
    ui.empty(f"No productivity data in your scope (marts.{mart} is not published).")
    st.stop()
bounds = d.sql(f"select min({period}) lo, max({period}) hi from marts.{mart}")
if bounds.lo.isna().iloc[0]:
    ui.empty("No periods yet: nothing was loaded. Fix: run an ingest.")
    st.stop()
start, end = ui.date_range(bounds.lo.iloc[0], ui.period_end(bounds.hi.iloc[0], grain))
statistic = ui.select("Statistic", ["median", "p90"], "stat", default="median",
                      help="The marts hold the median and the 90th percentile of each phase")
sfx = "p50" if statistic == "median" else "p90"
rows = d.sql(f"select * from marts.{mart} where tree = ? and team_id = ? and includes_subteams = ? "
             f"and {period} between ? and ? order by {period}", [node.tree, node.team_id, node.subteams, start, end])
st.subheader(node.label)
if rows.empty or rows.active_developers.sum() == 0:
    ui.empty(f"No activity for {node.label} between {start} and {end}: the team had no members with pull requests, "
             f"reviews or commits in range.")
    st.stop()
last = rows.iloc[-1]
c = st.columns(6)
c[0].metric("Merged PRs", ui.fmt_num(last.merged_prs, 0), help=f"marts.{mart}.merged_prs")
c[1].metric("Merged PRs per developer", ui.fmt_num(last.merged_prs_per_developer, 2))
c[2].metric(f"PR cycle time ({statistic})", ui.fmt_hours(last[f"pr_cycle_time_{sfx}_hours"]))
c[3].metric("Time to first review (median)", ui.fmt_hours(last.time_to_first_review_p50_hours))
c[4].metric("Coding days per developer", ui.fmt_num(last.coding_days_per_developer, 1))
c[5].metric("Issues completed", ui.fmt_num(last.completed_issues, 0))
st.caption(f"Tiles: the {grain} starting {last[period]:%Y-%m-%d} (the last in range)")

st.subheader("Cycle-time phases")
ph = rows.melt(id_vars=period, value_vars=[f"coding_time_{sfx}_hours", f"pickup_time_{sfx}_hours",
                                           f"review_time_{sfx}_hours"], var_name="phase", value_name="hours").dropna()
if ph.empty:
    ui.empty("No merged pull requests in range: no cycle time.")
else:
    ph["phase"] = ph.phase.str.replace(f"_time_{sfx}_hours", "")
    st.altair_chart(alt.Chart(ph).mark_bar().encode(
        x=alt.X(f"{period}:T", title=grain), y=alt.Y("hours:Q", stack=True, title=f"{statistic} hours"),
        color=alt.Color("phase:N", sort=["coding", "pickup", "review"]), tooltip=[f"{period}:T", "phase:N", "hours:Q"]),
        width="stretch")

st.subheader("PR size distribution")
if d.has("productivity_team_pr_sizes"):
    sizes = d.sql("select period_start, size_bucket, size_bucket_order, merged_prs from marts.productivity_team_pr_sizes "
                  "where tree = ? and team_id = ? and includes_subteams = ? and period_grain = ? "
                  "and period_start between ? and ? order by period_start, size_bucket_order",
                  [node.tree, node.team_id, node.subteams, grain, start, end])
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
show = [period, "active_developers", "merged_prs", "merged_prs_per_developer", f"pr_cycle_time_{sfx}_hours",
        f"coding_time_{sfx}_hours", f"pickup_time_{sfx}_hours", f"review_time_{sfx}_hours",
        "time_to_first_review_p50_hours", "pr_size_p50_lines", "reviewed_prs", "review_depth", "pr_rework_rate",
        "coding_days", "coding_days_per_developer", "completed_issues", "completed_story_points"]
ui.table(rows[show], "productivity", f"Throughput, review load and responsiveness, work completed (marts.{mart})")

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
