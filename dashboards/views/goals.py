"""Goals: each goal's status (on track / at risk / off track / no data) and trend per team,
with the target beside the actual."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui

d, node = ui.start("Goals", ["goal_status"], needs="goal_status",
                   missing="No goals in your scope (marts.goal_status is not published).")
# The data ends inside the latest period of the marts' date spine (the productivity marts'
# weeks and months run to the last activity): a goal's status there, or in a period after it,
# judges part of a period. By default each goal shows its last complete period.
SPINE = {"month": ("productivity_team_monthly", "month_start"), "week": ("productivity_team_weekly", "week_start")}
horizon = {g: d.sql(f"select max({c}) as p from marts.{m}").p.iloc[0] for g, (m, c) in SPINE.items() if d.has(m)}
include = ui.toggle("Include the partial period", "partial", False,
                    help="Off: each goal's last complete period (the data ends inside the latest one, or before it)")
rows = d.sql("select goal_id, goal_name, team_id, include_subteams, metric, period, period_start, direction, target, "
             "warning, critical, actual, status, gap_to_target, previous_actual, trend, is_latest_period "
             "from marts.goal_status where tree = ? and team_id in (select unnest(?::varchar[])) "
             "order by team_id, goal_id, period_start", [node.tree, node.teams])
st.subheader(node.label)
if rows.empty:
    ui.empty(f"No goal is set for {node.label} (or its sub-teams): goals live in profiles/goals.yml "
             f"(`sei profile apply`).")
    st.stop()
rows["partial"] = [pd.isna(horizon.get(g)) or pd.Timestamp(s) >= pd.Timestamp(horizon[g])
                   for g, s in zip(rows.period, rows.period_start)]
if include:
    latest = rows[rows.is_latest_period]
else:
    done = rows[~rows.partial.astype(bool)]
    latest = done.loc[done.groupby(["goal_id", "team_id", "include_subteams"]).period_start.idxmax()] \
        if not done.empty else done
latest = latest.drop(columns=["is_latest_period"]).sort_values(["team_id", "goal_id"]).reset_index(drop=True)
if latest.empty:
    ui.empty(f"No goal of {node.label} has a complete period yet: include the partial period to see where they "
             f"stand.")
    st.stop()
counts = latest.status.value_counts()
c = st.columns(4)
for col, s in zip(c, ["on_track", "at_risk", "off_track", "no_data"]):
    col.metric(s.replace("_", " "), int(counts.get(s, 0)),
              help="Goals in this status in their latest period" + ("" if include else " that is complete"))
ui.table(latest, "goals", ("Each goal's latest period" if include else "Each goal's last complete period") +
         ": target beside actual, status and trend (marts.goal_status)")

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
