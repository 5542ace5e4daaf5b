"""Goals: each goal's status (on track / at risk / off track / no data) and trend per team,
with the target beside the actual."""
from __future__ import annotations

import altair as alt
import streamlit as st

from dashboards import ui

d, node = ui.start("Goals", ["goal_status"], needs="goal_status",
                   missing="No goals in your scope (marts.goal_status is not published).")
latest = d.sql("select goal_id, goal_name, team_id, include_subteams, metric, period, period_start, direction, target, "
               "warning, critical, actual, status, gap_to_target, previous_actual, trend from marts.goal_status "
               "where is_latest_period and tree = ? and team_id in (select unnest(?::varchar[])) "
               "order by team_id, goal_id", [node.tree, node.teams])
st.subheader(node.label)
if latest.empty:
    ui.empty(f"No goal is set for {node.label} (or its sub-teams): goals live in profiles/goals.yml "
             f"(`sei profile apply`).")
    st.stop()
counts = latest.status.value_counts()
c = st.columns(4)
for col, s in zip(c, ["on_track", "at_risk", "off_track", "no_data"]):
    col.metric(s.replace("_", " "), int(counts.get(s, 0)), help="Goals in this status in their latest period")
ui.table(latest, "goals", "Each goal's latest period: target beside actual, status and trend (marts.goal_status)")

st.subheader("Trend")
goal = ui.select("Goal", list(latest.goal_id.unique()), "goal", sidebar=False,
                 fmt=lambda g: latest.set_index("goal_id").goal_name.get(g, g))
hist = d.sql("select team_id, period_start, actual, target, warning, critical, status from marts.goal_status "
             "where goal_id = ? and tree = ? and team_id in (select unnest(?::varchar[])) order by period_start",
             [goal, node.tree, node.teams])
if hist.actual.notna().sum() == 0:
    ui.empty("This goal's metric has no value in any period yet (no data).")
else:
    base = alt.Chart(hist).encode(x=alt.X("period_start:T", title="period"))
    st.altair_chart(base.mark_line(point=True).encode(y=alt.Y("actual:Q"), color="team_id:N",
                                                      tooltip=["period_start:T", "actual:Q", "status:N"])
                    + base.mark_line(strokeDash=[4, 4], color="gray").encode(y="target:Q"),
                    width="stretch")
    ui.source("goal_status")
