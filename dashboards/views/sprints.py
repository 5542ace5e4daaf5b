"""Sprint Insights: per team and sprint, committed, completed, added mid-sprint (creep),
removed, carried over, predictability and velocity, in points or issues; the trend over
sprints; the issues added or removed in a sprint."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import ui

d, node = ui.start("Sprint Insights", ["sprint_metrics", "fct_sprint_issues", "bridge_issue_team"],
                   needs="sprint_metrics", missing="No sprint data in your scope (marts.sprint_metrics is not "
                   "published). Fix: configure the Jira integration with its boards, build and publish.")
unit = ui.select("Measure", ["points", "issues"], "unit", default="points")
teams = [t for t in node.teams if t in node.names]
team = ui.select("Sprint team", teams, "steam", default=node.team_id, fmt=lambda i: f"{node.names.get(i, i)} ({i})",
                 help="Sprints are per team: its members' issues in each sprint")
bounds = d.sql("select min(sprint_started_at)::date lo, max(sprint_started_at)::date hi from marts.sprint_metrics")
if bounds.lo.isna().iloc[0]:
    ui.empty("No started sprint in your scope: the Jira integration is not configured, or no board has a sprint yet.")
    st.stop()
include_open = ui.toggle("Include the partial period", "partial", False,
                         help="Sprints still open: their completed work is partial and reads as a drop. Off: "
                              "closed sprints only")
start, end = ui.date_range(bounds.lo.iloc[0], bounds.hi.iloc[0])
s = "points" if unit == "points" else "issues"
cols = ["sprint_id", "sprint_name", "project_id", "sprint_started_at", "sprint_ended_at", "is_sprint_closed",
        f"committed_{s}", f"added_{s}", f"removed_{s}", f"delivered_{s}", "carried_over_issues",
        "scope_creep_pct", "churn_pct", "say_do_ratio" if s == "issues" else "say_do_points_ratio", "velocity_points",
        "say_do_ratio_stddev", "say_do_ratio_mean", "predictability_sprints"]
rows = d.sql(f"select {', '.join(cols)} from marts.sprint_metrics where tree = ? and team_id = ? "
             f"and sprint_started_at::date between ? and ? " + ("" if include_open else "and is_sprint_closed ")
             + "order by sprint_started_at, sprint_id", [node.tree, team, start, end])
st.subheader(f"{node.names.get(team, team)} ({team})")
if rows.empty:
    ui.empty(f"No {'' if include_open else 'closed '}sprint started between {start} and {end} with issues assigned "
             f"to members of {node.names.get(team, team)}: the team has no members with sprint issues in range"
             + ("." if include_open else " (sprints still open are left out: include the partial period)."))
    st.stop()
last = rows.iloc[-1]
ratio = "say_do_ratio" if s == "issues" else "say_do_points_ratio"
c = st.columns(6)
c[0].metric(f"Committed ({s})", ui.fmt_num(last[f"committed_{s}"], 0), help="marts.sprint_metrics")
c[1].metric(f"Completed ({s})", ui.fmt_num(last[f"delivered_{s}"], 0))
c[2].metric(f"Added mid-sprint ({s})", ui.fmt_num(last[f"added_{s}"], 0))
c[3].metric(f"Removed ({s})", ui.fmt_num(last[f"removed_{s}"], 0))
c[4].metric("Say/do", ui.fmt_pct(last[ratio]))
c[5].metric("Predictability (stddev of say/do)", ui.fmt_num(last.say_do_ratio_stddev, 2),
            help="Sample standard deviation of say/do over the last closed sprints; lower is steadier")
st.caption(f"Tiles: the latest {'' if include_open else 'closed '}sprint in range, {last.sprint_name}"
           + ("" if last.is_sprint_closed else " (still open: partial)"))

long = rows.melt(id_vars=["sprint_name", "sprint_started_at"],
                 value_vars=[f"committed_{s}", f"delivered_{s}", f"added_{s}", f"removed_{s}"],
                 var_name="measure", value_name=unit)
st.altair_chart(alt.Chart(long).mark_line(point=True).encode(
    x=alt.X("sprint_started_at:T", title="sprint start"), y=alt.Y(f"{unit}:Q"), color="measure:N",
    tooltip=["sprint_name:N", "measure:N", f"{unit}:Q"]), width="stretch")
ui.table(rows, "sprints", "Per sprint (marts.sprint_metrics)")

st.subheader("Issues added or removed in a sprint")
sprint = ui.select("Sprint", list(rows.sprint_id), "sprint", default=int(last.sprint_id), sidebar=False,
                   fmt=lambda i: rows.set_index("sprint_id").sprint_name.get(i, str(i)))
if d.has("fct_sprint_issues") and d.has("bridge_issue_team"):
    issues = d.sql("select i.issue_key, i.issue_type, i.story_points, i.first_added_at, i.is_committed, "
                   "i.is_added_after_start, i.is_removed, i.removed_at, i.is_completed, i.work_category_at_end "
                   "from marts.fct_sprint_issues i where i.sprint_id = ? and (i.is_added_after_start or i.is_removed) "
                   "and exists (select 1 from marts.bridge_issue_team b where b.issue_id = i.issue_id "
                   "and b.tree = ? and b.team_id = ?) order by i.first_added_at", [sprint, node.tree, team])
    if issues.empty:
        ui.empty("Nothing was added or removed mid-sprint for this team.")
    else:
        ui.table(issues, "sprint_scope_changes", "Added after the start or removed (marts.fct_sprint_issues, "
                 "the team's through marts.bridge_issue_team)")
