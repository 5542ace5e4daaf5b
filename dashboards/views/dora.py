"""DORA: the five keys for the selected org-tree node, as tiles with their band for a chosen
DORA report year and as a trend; the child teams and services behind them; the deployments,
changes and incidents behind every figure."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui

METRICS = {   # tile: (column of the dora_* marts, band column, label, how to show it)
    "deployments_per_week": ("deployment_frequency_band", "Deployment frequency (per week)", lambda v: ui.fmt_num(v, 2)),
    "lead_time": ("lead_time_band", "Lead time for changes", ui.fmt_hours),
    "change_failure_rate": ("change_failure_rate_band", "Change failure rate", ui.fmt_pct),
    "recovery_time_p50_hours": ("recovery_time_band", "Failed deployment recovery time (median)", ui.fmt_hours),
    "rework_rate": ("rework_rate_band", "Deployment rework rate", ui.fmt_pct),
}
STATISTICS = {"median": "lead_time_p50_hours", "p90": "lead_time_p90_hours"}   # what the marts hold
PHASES = ["coding_p50_hours", "pickup_p50_hours", "review_p50_hours", "deploy_p50_hours"]


d = ui.data()
ui.header(d, "DORA", ["dora_team_weekly", "dora_team_monthly", "dora_service_weekly", "dora_service_monthly",
                      "fct_deployments", "fct_changes", "fct_incidents", "dora_performance_bands"])
node = ui.org_controls(d)
if node is None:
    st.stop()
grain = ui.select("Granularity", ["month", "week"], "grain", default="month")
team_mart, service_mart = (f"dora_team_{grain}ly", f"dora_service_{grain}ly")
if not d.has(team_mart):
    ui.empty(f"No DORA data in your scope (marts.{team_mart} is not published). Fix: build the DORA marts "
             f"(the main job) and publish again.")
    st.stop()
bounds = d.sql(f"select min(period_start) lo, max(period_start) hi from marts.{team_mart}")
if bounds.lo.isna().iloc[0]:
    ui.empty("No DORA periods yet: the date spine is empty because nothing was loaded. Fix: run an ingest.")
    st.stop()
start, end = ui.date_range(bounds.lo.iloc[0], ui.period_end(bounds.hi.iloc[0], grain))
statistic = ui.select("Lead-time statistic", list(STATISTICS), "stat", default="median",
                      help="The marts hold the median and the 90th percentile of change lead time")
bands = d.sql("select * from marts.dora_performance_bands") if d.has("dora_performance_bands") else pd.DataFrame()
years = sorted(bands.report_year.unique().tolist()) if not bands.empty else []
rows = d.sql(f"select * from marts.{team_mart} where tree = ? and team_id = ? and includes_subteams = ? "
             f"and period_start between ? and ? order by period_start",
             [node.tree, node.team_id, node.subteams, start, end])
built_year = int(rows.dora_report_year.dropna().iloc[0]) if not rows.empty and rows.dora_report_year.notna().any() else None
year = ui.select("DORA report year", years, "year", default=built_year) if years else built_year

st.subheader(node.label)
if rows.empty:
    ui.empty(f"No {grain}s between {start} and {end} for {node.label}. Widen the date range.")
    st.stop()
if rows.production_deployments.sum() == 0 and rows.changes.sum() == 0:
    ui.empty(f"No production deployments and no shipped changes between {start} and {end} for {node.label}: "
             f"the team owns no deployed service and its people shipped nothing to production in this range "
             f"(or the deployment integration is not configured).")
    st.stop()

# -- tiles: the latest period in range, beside the one before it
last = rows.iloc[-1]
prev = rows.iloc[-2] if len(rows) > 1 else None
st.caption(f"Tiles: the {grain} starting {last.period_start:%Y-%m-%d} (the last in range), change vs the {grain} "
           f"before; bands from DORA {year} (marts.{team_mart}, marts.dora_performance_bands)")
cols = st.columns(len(METRICS))
for col, (key, (band_col, label, fmt)) in zip(cols, METRICS.items()):
    column = STATISTICS[statistic] if key == "lead_time" else key
    value = last[column]
    band_metric = "lead_time_p50_hours" if key == "lead_time" else column
    if key == "lead_time" and statistic != "median":
        band = None            # DORA's bands classify the median lead time only
    elif year == built_year:
        band = last[band_col]  # as the mart classified it
    else:
        band = ui.band_for(bands, year, band_metric, value)
    delta = None
    if prev is not None and pd.notna(value) and pd.notna(prev[column]):
        delta = fmt(value - prev[column]) if key != "deployments_per_week" else f"{value - prev[column]:+.2f}"
    with col:
        st.metric(label if key != "lead_time" else f"{label} ({statistic})", fmt(value), delta=delta,
                  delta_color="off", help=f"marts.{team_mart}.{column}")
        st.caption(f"band: **{band}**" if band is not None and not pd.isna(band) else "band: none")

# -- trend
st.subheader("Trend")
trend_metric = ui.select("Trend of", list(METRICS), "trend", default="deployments_per_week", sidebar=False,
                         fmt=lambda k: METRICS[k][1])
tcol = STATISTICS[statistic] if trend_metric == "lead_time" else trend_metric
chart = alt.Chart(rows[["period_start", tcol]].dropna()).mark_line(point=True).encode(
    x=alt.X("period_start:T", title=grain), y=alt.Y(f"{tcol}:Q", title=METRICS[trend_metric][1]),
    tooltip=["period_start:T", f"{tcol}:Q"])
st.altair_chart(chart, width="stretch")
phases = rows.melt(id_vars="period_start", value_vars=PHASES, var_name="phase", value_name="hours").dropna()
if phases.empty:
    ui.empty("No shipped changes in range: no lead-time phases to show.")
else:
    phases["phase"] = phases.phase.str.replace("_p50_hours", "")
    st.altair_chart(alt.Chart(phases).mark_bar().encode(
        x=alt.X("period_start:T", title=grain), y=alt.Y("hours:Q", stack=True, title="median hours"),
        color=alt.Color("phase:N", sort=["coding", "pickup", "review", "deploy"]),
        tooltip=["period_start:T", "phase:N", "hours:Q"]), width="stretch")
ui.source(team_mart)

# -- breakdowns for the tile period
st.subheader(f"Breakdown, {grain} starting {last.period_start:%Y-%m-%d}")
show = ["team_id", "team_name", "includes_subteams", "deployments", "deployments_per_week", "changes",
        "lead_time_p50_hours", "lead_time_p90_hours", "change_failure_rate", "recovery_time_p50_hours", "rework_rate",
        "deployment_frequency_band", "lead_time_band", "change_failure_rate_band", "recovery_time_band"]
if node.children.empty:
    ui.empty(f"{node.name} has no child team in your scope.")
else:
    kids = d.sql(f"select {', '.join(show)} from marts.{team_mart} where tree = ? and period_start = ? "
                 f"and team_id in (select unnest(?::varchar[])) order by team_id, includes_subteams",
                 [node.tree, last.period_start, list(node.children.team_id)])
    ui.table(kids, "dora_child_teams", f"Child teams, alone and with sub-teams (marts.{team_mart})")
svc_show = ["service", "team_id", "project_id", "deployments", "deployments_per_week", "changes", "lead_time_p50_hours",
            "lead_time_p90_hours", "change_failure_rate", "recovery_time_p50_hours", "rework_rate",
            "deployment_frequency_band", "lead_time_band", "change_failure_rate_band", "recovery_time_band"]
services = d.sql(f"select {', '.join(svc_show)} from marts.{service_mart} where period_start = ? "
                 f"and team_id in (select unnest(?::varchar[])) order by service",
                 [last.period_start, node.teams]) if d.has(service_mart) else pd.DataFrame()
if services.empty:
    ui.empty(f"{node.label} owns no service in your scope: deployments and incidents follow the service's owner.")
else:
    ui.table(services, "dora_services", f"Services owned (marts.{service_mart})")

# -- drill-down: the rows behind the figures, in the date range
st.subheader(f"Behind the figures, {start} to {end}")
tab_dep, tab_chg, tab_inc = st.tabs(["Deployments", "Changes and their lead time", "Incidents"])
end_excl = pd.Timestamp(end) + pd.Timedelta(days=1)
with tab_dep:
    deps = d.sql("select deployment_id, source, source_deployment_id, service, team_id, environment_name, status, "
                 "started_at, finished_at, commit_sha, is_baseline, is_redeploy, is_rollback, is_hotfix, is_rework, "
                 "is_failure, failure_reason, caused_incident_count, restored_at, recovery_hours "
                 "from marts.fct_deployments where is_production and team_id in (select unnest(?::varchar[])) "
                 "and coalesce(finished_at, started_at) >= ? and coalesce(finished_at, started_at) < ? "
                 "order by coalesce(finished_at, started_at) desc",
                 [node.teams, pd.Timestamp(start), end_excl]) if d.has("fct_deployments") else pd.DataFrame()
    if deps.empty:
        ui.empty("No production deployments of this team's services in range.")
    else:
        ui.table(deps, "dora_deployments", "Production deployments of the services owned (marts.fct_deployments); "
                 "source_deployment_id is the Harness execution, GitHub deployment or event id")
with tab_chg:
    chg = d.sql("select c.deployment_id, c.service, c.repository_full_name, c.pull_request_number, c.author_login, "
                "c.author_developer_id, c.pull_request_id, c.lead_time_started_at, c.deployed_at, c.coding_hours, "
                "c.pickup_hours, c.review_hours, c.deploy_hours, c.lead_time_hours "
                "from marts.fct_changes c join marts.fct_deployments p using (deployment_id) "
                "where p.team_id in (select unnest(?::varchar[])) and c.deployed_at >= ? and c.deployed_at < ? "
                "order by c.deployed_at desc", [node.teams, pd.Timestamp(start), end_excl]) \
        if d.has("fct_changes") and d.has("fct_deployments") else pd.DataFrame()
    if chg.empty:
        ui.empty("No changes shipped to production by this team's services in range.")
    else:
        masked = chg.pull_request_id.isna() & chg.author_login.isna()
        chg.insert(3, "pull_request_url", [ui.pr_link(r, n) for r, n in zip(chg.repository_full_name,
                                                                              chg.pull_request_number)])
        chg = ui.mask_outside(chg, ["author_login", "author_developer_id", "pull_request_id"], masked)
        ui.table(chg, "dora_changes", "Changes shipped, with their lead time (marts.fct_changes). Authors who were "
                 f"in no team of your scope at the time show as {ui.OUTSIDE}: their PR is counted, not named.",
                 links={"pull_request_url": r"pull/(\d+)$"})
with tab_inc:
    inc = d.sql("select incident_id, source, source_incident_id, service, team_id, severity, title, opened_at, "
                "resolved_at, time_to_resolve_hours, caused_by_deployment_id, hours_after_last_deployment "
                "from marts.fct_incidents where team_id in (select unnest(?::varchar[])) "
                "and opened_at >= ? and opened_at < ? order by opened_at desc",
                [node.teams, pd.Timestamp(start), end_excl]) if d.has("fct_incidents") else pd.DataFrame()
    if inc.empty:
        ui.empty("No incidents on this team's services in range.")
    else:
        ui.table(inc, "dora_incidents", "Incidents and the deployment each is blamed on (marts.fct_incidents)")
