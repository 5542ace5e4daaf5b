"""DORA: the five keys for the selected org-tree node, as tiles with their band for a chosen
DORA report year and as a trend by week, month or quarter; the child teams and services
behind them; the deployments, changes and incidents behind every figure, with their links.

Week and month figures are the marts' own. A quarter sums its months' counts and takes the
rates of the sums; a statistic the marts do not hold (a quarter's median, any mean or p95)
comes from the row-level facts and is shown only where the viewer's data holds every row of
it (dashboards/stats.py)."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import stats, ui

METRICS = {   # tile: (column, band column, label, how to show it)
    "deployments_per_week": ("deployment_frequency_band", "Deployment frequency (per week)", lambda v: ui.fmt_num(v, 2)),
    "lead_time": ("lead_time_band", "Lead time for changes", ui.fmt_hours),
    "change_failure_rate": ("change_failure_rate_band", "Change failure rate", ui.fmt_pct),
    "recovery_time": ("recovery_time_band", "Failed deployment recovery time", ui.fmt_hours),
    "rework_rate": ("rework_rate_band", "Deployment rework rate", ui.fmt_pct),
}
BAND_METRIC = {"deployments_per_week": "deployments_per_week", "lead_time": "lead_time_p50_hours",
               "change_failure_rate": "change_failure_rate", "recovery_time": "recovery_time_p50_hours",
               "rework_rate": "rework_rate"}
PHASES = ["coding", "pickup", "review", "deploy"]
# figure -> (row-level kind, its value column, the mart column per statistic it holds)
HELD = {"lead_time": ("changes", "lead_time_hours", {"median": "lead_time_p50_hours", "p90": "lead_time_p90_hours"}),
        "recovery_time": ("deployments", "recovery_hours", {"median": "recovery_time_p50_hours"}),
        **{p: ("changes", f"{p}_hours", {"median": f"{p}_p50_hours"}) for p in PHASES}}


def figures(d, rows: pd.DataFrame, grain: str, statistic: str, node: ui.Node, start, end) -> tuple[pd.DataFrame, list]:
    """One row per period: counts and rates (the mart's, or summed for a quarter) and each
    duration at `statistic` (the mart's column where it holds it, else exact from the rows).
    Returns the frame and the reasons a figure was withheld."""
    if grain == "quarter":
        f = stats.dora_rates(stats.roll_up(rows, "period_start", grain, stats.DORA_COUNTS))
    else:
        f = rows.copy()
        f["period_start"] = pd.to_datetime(f.period_start)
    notes = []
    needed = {}
    for name, (kind, value, held) in HELD.items():
        if grain != "quarter" and statistic in held:
            f[name] = f[held[statistic]].values
        else:
            needed.setdefault(kind, []).append((name, value))
    for kind, cols in needed.items():
        count = stats.KINDS[kind][1]
        got = stats.exact(d, kind, grain, statistic, node.tree, node.teams, start, end,
                          f.set_index("period_start")[count])
        for name, value in cols:
            f[name] = got.values[value].values
        if got.reason():
            notes.append(f"{', '.join(n.replace('_', ' ') for n, _ in cols)} ({statistic}) withheld for "
                         f"{got.reason()}")
    return f, notes


def band(year: int, built_year, key: str, value, period_row) -> str | None:
    if key in ("lead_time", "recovery_time") and statistic != "median":
        return None            # DORA's bands classify the median
    if year == built_year and grain != "quarter" and METRICS[key][0] in period_row:
        return period_row[METRICS[key][0]]   # as the mart classified it
    return ui.band_for(bands, year, BAND_METRIC[key], value)


def drill(name: str, query: str, params: list, needs: list[str], empty: str, caption: str, prepare=None) -> None:
    """The rows behind a figure (in its own tab), the latest first, with their source links
    and CSV; at most ui.max_rows() of them, saying so when there are more."""
    limit = ui.max_rows()
    df = d.sql(f"{query} limit {limit + 1}", params) if all(d.has(m) for m in needs) else pd.DataFrame()
    if df.empty:
        ui.empty(empty)
        return
    if len(df) > limit:
        df = df.head(limit)
        caption += (f". Showing the latest {limit:,} rows (and the CSV holds them): narrow the date range or pick a "
                    f"smaller team for the others ({ui.MAX_ROWS_ENV})")
    ui.table(prepare(df) if prepare else df, name, caption)


d, node = ui.start("DORA", ["dora_team_weekly", "dora_team_monthly", "dora_service_weekly", "dora_service_monthly",
                            "fct_deployments", "fct_changes", "fct_incidents", "dora_performance_bands"])
grain = ui.select("Granularity", ui.GRAINS, "grain", default="month")
base = "week" if grain == "week" else "month"           # the mart a quarter is summed from
team_mart, service_mart = (f"dora_team_{base}ly", f"dora_service_{base}ly")
if not d.has(team_mart):
    ui.empty(f"No DORA data in your scope (marts.{team_mart} is not published). Fix: build the DORA marts "
             f"(the main job) and publish again.")
    st.stop()
partial, start, end = ui.period_window(
    d, team_mart, "period_start", grain,
    nothing="No DORA periods yet: the date spine is empty because nothing was loaded. Fix: run an ingest.")
statistic = ui.select("Statistic", stats.STATISTICS, "stat", default="median",
                      help="Of lead time, its phases and recovery time. The marts hold the median and p90 of lead "
                           "time and the median of the others per week and month; the rest is computed from the "
                           "rows behind them, only where your scope holds every one")
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
fig, notes = figures(d, rows, grain, statistic, node, start, end)
fig["partial"] = fig.period_start.dt.date >= partial.start

# -- tiles: the latest period in range, beside the one before it
last = fig.iloc[-1]
prev = fig.iloc[-2] if len(fig) > 1 else None
state = f" ({partial.label(grain)})" if last.partial else " (complete)"
st.caption(f"Tiles: the {grain} starting {last.period_start:%Y-%m-%d}{state}, change vs the {grain} before; "
           f"bands from DORA {year} (marts.{team_mart}" + (", summed by quarter" if grain == "quarter" else "") +
           ", marts.dora_performance_bands)")
cols = st.columns(len(METRICS))
for col, (key, (band_col, label, fmt)) in zip(cols, METRICS.items()):
    value = last[key]
    b = band(year, built_year, key, value, last)
    delta = None
    if prev is not None and pd.notna(value) and pd.notna(prev[key]):
        delta = fmt(value - prev[key]) if key != "deployments_per_week" else f"{value - prev[key]:+.2f}"
    with col:
        shown = f"{label} ({statistic})" if key in ("lead_time", "recovery_time") else label
        st.metric(shown, fmt(value), delta=delta, delta_color="off", help=f"marts.{team_mart}")
        st.caption(f"band: **{b}**" if b is not None and not pd.isna(b) else "band: none")
for n in notes:
    st.warning(n)

# -- trend
st.subheader("Trend")
trend_metric = ui.select("Trend of", list(METRICS), "trend", default="deployments_per_week", sidebar=False,
                         fmt=lambda k: METRICS[k][1])
trend = fig[["period_start", trend_metric, "partial"]].dropna(subset=[trend_metric])
st.altair_chart(alt.Chart(trend).mark_line(point=True).encode(
    x=alt.X("period_start:T", title=grain), y=alt.Y(f"{trend_metric}:Q", title=METRICS[trend_metric][1]),
    shape=alt.Shape("partial:N", title="partial period"),
    tooltip=["period_start:T", f"{trend_metric}:Q", "partial:N"]), width="stretch")
phases = fig.melt(id_vars="period_start", value_vars=PHASES, var_name="phase", value_name="hours").dropna()
if phases.empty:
    ui.empty("No shipped changes in range: no lead-time phases to show.")
else:
    st.altair_chart(alt.Chart(phases).mark_bar().encode(
        x=alt.X("period_start:T", title=grain), y=alt.Y("hours:Q", stack=True, title=f"{statistic} hours"),
        color=alt.Color("phase:N", sort=PHASES), tooltip=["period_start:T", "phase:N", "hours:Q"]), width="stretch")
ui.table(fig[["period_start", "partial", "deployments", "production_deployments", "failed_deployments", "changes",
              *METRICS, *PHASES]], "dora_periods", f"Per {grain} ({statistic} of the durations; "
         f"marts.{team_mart}" + (", summed by quarter" if grain == "quarter" else "") + ")")

# -- breakdowns for the tile period
st.subheader(f"Breakdown, {grain} starting {last.period_start:%Y-%m-%d}")
counts = ["deployments", "production_deployments", "failed_deployments", "rework_deployments", "changes"]
held = ["lead_time_p50_hours", "lead_time_p90_hours", "recovery_time_p50_hours", "deployment_frequency_band",
        "lead_time_band", "change_failure_rate_band", "recovery_time_band"]
p_lo, p_hi = last.period_start.date(), ui.period_end(last.period_start, grain)
if grain == "quarter":
    st.caption("By quarter the breakdowns sum their months' counts and give the rates of the sums; their medians "
               "would need each team's and service's rows: pick week or month for them.")


def breakdown(mart: str, keys: list[str], where: str, params: list) -> pd.DataFrame:
    cols = [*keys, "period_days", *counts] + ([] if grain == "quarter" else
                                              ["deployments_per_week", "change_failure_rate", "rework_rate", *held])
    df = d.sql(f"select {', '.join(cols)} from marts.{mart} where {where} and period_start between ? and ? "
               f"order by {', '.join(keys)}", [*params, p_lo, p_hi])
    if grain == "quarter" and not df.empty:
        df = stats.dora_rates(df.groupby(keys, as_index=False, dropna=False)[["period_days", *counts]].sum())
    return df.drop(columns=["period_days"])


if node.children.empty:
    ui.empty(f"{node.name} has no child team in your scope.")
else:
    kids = breakdown(team_mart, ["team_id", "team_name", "includes_subteams"],
                     "tree = ? and team_id in (select unnest(?::varchar[]))", [node.tree, list(node.children.team_id)])
    ui.table(kids, "dora_child_teams", f"Child teams, alone and with sub-teams (marts.{team_mart})")
services = breakdown(service_mart, ["service", "team_id", "project_id"], "team_id in (select unnest(?::varchar[]))",
                     [node.teams]) if d.has(service_mart) else pd.DataFrame()
if services.empty:
    ui.empty(f"{node.label} owns no service in your scope: deployments and incidents follow the service's owner.")
else:
    ui.table(services, "dora_services", f"Services owned (marts.{service_mart})")

# -- drill-down: the rows behind the figures, in the date range
st.subheader(f"Behind the figures, {start} to {end}")
if not ui.toggle("List the rows behind the figures", "rows", len(node.teams) <= ui.ROWS_DEFAULT_TEAMS,
                 help=f"On by default for up to {ui.ROWS_DEFAULT_TEAMS} teams: above that, listing every deployment "
                      f"and change of the half year is what makes the page slow"):
    ui.empty(f"The deployments, changes and incidents behind these figures are listed with 'List the rows behind "
             f"the figures' (off by default for {len(node.teams)} teams), or pick a smaller team.")
    st.stop()
tab_dep, tab_lead, tab_chg, tab_inc = st.tabs(["Deployments", "Changes behind the lead time",
                                               "Changes shipped by the services", "Incidents"])
window = [node.teams, pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)]


def changes_shown(chg: pd.DataFrame) -> pd.DataFrame:
    masked = chg.pull_request_id.isna() & chg.author_login.isna()
    chg.insert(3, "pull_request_url", [ui.pr_link(r, n) for r, n in zip(chg.repository_full_name,
                                                                          chg.pull_request_number)])
    return ui.mask_outside(chg, ["author_login", "author_developer_id", "pull_request_id"], masked)


with tab_dep:
    drill("dora_deployments",
          "select deployment_id, source, source_deployment_id, source_url, service, team_id, environment_name, status, "
          "started_at, finished_at, commit_sha, is_baseline, is_redeploy, is_rollback, is_hotfix, is_rework, "
          "is_failure, failure_reason, caused_incident_count, restored_at, recovery_hours "
          "from marts.fct_deployments where is_production and team_id in (select unnest(?::varchar[])) "
          "and coalesce(finished_at, started_at) >= ? and coalesce(finished_at, started_at) < ? "
          "order by coalesce(finished_at, started_at) desc, deployment_id", window, ["fct_deployments"],
          "No production deployments of this team's services in range.",
          "Production deployments of the services owned (marts.fct_deployments); source_url opens the Harness "
          "execution, the GitHub deployment's log or the tool's page")
with tab_lead:
    drill("dora_lead_time_changes",
          "select c.pull_request_id, c.repository_full_name, c.pull_request_number, c.author_login, "
          "c.service, c.deployment_id, p.source_url as deployment_url, c.lead_time_started_at, c.deployed_at, "
          "c.coding_hours, c.pickup_hours, c.review_hours, c.deploy_hours, c.lead_time_hours "
          "from marts.fct_changes c left join marts.fct_deployments p on p.deployment_id = c.deployment_id "
          "where exists (select 1 from marts.bridge_pull_request_team b where b.pull_request_id = c.pull_request_id "
          "and b.tree = ? and b.team_id in (select unnest(?::varchar[]))) and c.deployed_at >= ? and c.deployed_at < ? "
          "order by c.deployed_at desc, c.pull_request_id", [node.tree, *window], ["fct_changes",
                                                                                 "bridge_pull_request_team"],
          "No change of this team's authors reached production in range.",
          "The changes the lead-time figures are computed from: PRs of the team's authors at the time "
          "(marts.fct_changes through marts.bridge_pull_request_team), wherever they shipped",
          prepare=lambda df: df.assign(pull_request_url=[ui.pr_link(r, n) for r, n in
                                                         zip(df.repository_full_name, df.pull_request_number)]))
with tab_chg:
    drill("dora_changes",
          "select c.deployment_id, c.service, c.repository_full_name, c.pull_request_number, c.author_login, "
          "c.author_developer_id, c.pull_request_id, p.source_url as deployment_url, c.lead_time_started_at, "
          "c.deployed_at, c.coding_hours, c.pickup_hours, c.review_hours, c.deploy_hours, c.lead_time_hours "
          "from marts.fct_changes c join marts.fct_deployments p on p.deployment_id = c.deployment_id "
          "where p.team_id in (select unnest(?::varchar[])) and c.deployed_at >= ? and c.deployed_at < ? "
          "order by c.deployed_at desc, c.deployment_id, c.repository_full_name, c.pull_request_number, "
          "c.lead_time_hours", window, ["fct_changes", "fct_deployments"],
          "No changes shipped to production by this team's services in range.",
          "Changes shipped by the services owned, with their lead time (marts.fct_changes), the PR and the "
          f"deployment that shipped it. Authors who were in no team of your scope at the time show as {ui.OUTSIDE}: "
          "their PR is counted, not named. The lead-time figures count the changes of the team's authors "
          "(previous tab), so the two sets differ where authors and services belong to different teams.",
          prepare=changes_shown)
with tab_inc:
    drill("dora_incidents",
          "select i.incident_id, i.source, i.source_incident_id, i.source_url, i.service, i.team_id, i.severity, "
          "i.title, i.opened_at, i.resolved_at, i.time_to_resolve_hours, i.caused_by_deployment_id, "
          "p.source_url as deployment_url, i.hours_after_last_deployment "
          "from marts.fct_incidents i left join marts.fct_deployments p on p.deployment_id = i.caused_by_deployment_id "
          "where i.team_id in (select unnest(?::varchar[])) and i.opened_at >= ? and i.opened_at < ? "
          "order by i.opened_at desc, i.incident_id", window, ["fct_incidents", "fct_deployments"],
          "No incidents on this team's services in range.",
          "Incidents (source_url: the Jira issue or the tool's page) and the deployment each is blamed on "
          "(marts.fct_incidents)")
