"""Business Alignment: investment allocation by category over time for the selected team, by
the alignment profile's effort measure, with the uncategorised share shown; the pull requests
linked to a category's issues."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui

d = ui.data()
ui.header(d, "Business Alignment", ["alignment_team_monthly", "fct_pull_requests"])
node = ui.org_controls(d)
if node is None:
    st.stop()
if not d.has("alignment_team_monthly"):
    ui.empty("No alignment data in your scope (marts.alignment_team_monthly is not published).")
    st.stop()
bounds = d.sql("select min(month_start) lo, max(month_start) hi from marts.alignment_team_monthly")
if bounds.lo.isna().iloc[0]:
    ui.empty("No months yet: nothing was loaded. Fix: run an ingest with the Jira integration configured.")
    st.stop()
start, end = ui.date_range(bounds.lo.iloc[0], ui.period_end(bounds.hi.iloc[0], "month"), default_days=365)
rows = d.sql("select month_start, category, completed_issues, story_points, in_progress_hours, effort_measure, effort, "
             "effort_share from marts.alignment_team_monthly where tree = ? and team_id = ? and includes_subteams = ? "
             "and month_start between ? and ? order by month_start, category",
             [node.tree, node.team_id, node.subteams, pd.Timestamp(start).replace(day=1).date(), end])
st.subheader(node.label)
if rows.empty or rows.effort.fillna(0).sum() == 0:
    ui.empty(f"No completed Jira work for {node.label} between {start} and {end}: the team's members completed no "
             f"issue in range (or the Jira integration is not configured).")
    st.stop()
measure = ", ".join(sorted(rows.effort_measure.dropna().unique()))
shares = rows[rows.effort_share.notna()]
st.altair_chart(alt.Chart(shares).mark_bar().encode(
    x=alt.X("month_start:T", title="month"), y=alt.Y("effort_share:Q", stack="normalize", title="share of effort"),
    color="category:N", tooltip=["month_start:T", "category:N", alt.Tooltip("effort_share:Q", format=".1%"),
                                 "effort:Q"]), width="stretch")
st.caption(f"Effort measure: {measure} (alignment profile). Source: `marts.alignment_team_monthly`")
last = rows[rows.month_start == rows.month_start.max()]
unc = last[last.category.str.lower().str.startswith("uncategori")]
if not unc.empty:
    st.metric(f"Uncategorised share, {last.month_start.iloc[0]:%Y-%m}", ui.fmt_pct(unc.effort_share.iloc[0]),
              help="Completed work no alignment rule matched: tune profiles/alignment.yml to shrink it")
ui.table(rows, "alignment", "Effort per category and month (marts.alignment_team_monthly)")

st.subheader("Pull requests linked to a category")
cats = sorted(rows.category.dropna().unique())
cat = ui.select("Category", cats, "cat", sidebar=False)
if d.has("fct_pull_requests") and cat is not None:
    prs = d.sql("select repository_full_name, pull_request_number, title, author_login, merged_at, jira_issue_keys, "
                "alignment_category from marts.fct_pull_requests where alignment_category = ? and author_team_id in "
                "(select unnest(?::varchar[])) and merged_at >= ? and merged_at < ? order by merged_at desc",
                [cat, node.teams, pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)])
    if prs.empty:
        ui.empty(f"No merged pull request of this team is linked to an issue in {cat} in range.")
    else:
        prs.insert(2, "pull_request_url", [ui.pr_link(r, n) for r, n in zip(prs.repository_full_name,
                                                                            prs.pull_request_number)])
        ui.table(prs, "alignment_prs", "Merged PRs whose linked issues fall in the category (marts.fct_pull_requests; "
                 "the issues themselves: see their keys)", links={"pull_request_url": r"pull/(\d+)$"})
