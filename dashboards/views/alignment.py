"""Business Alignment: investment allocation by category over time for the selected team, by
the alignment profile's effort measure, with the uncategorised share shown; the issues behind
a category (and the pull requests linked to them). Months are the mart's; a quarter sums its
months' effort per category, and its shares are those of the sums."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import ui

d, node = ui.start("Business Alignment", ["alignment_team_monthly", "fct_alignment_issues", "fct_pull_requests"],
                   needs="alignment_team_monthly",
                   missing="No alignment data in your scope (marts.alignment_team_monthly is not published).")
grain = ui.select("Granularity", ["month", "quarter"], "grain", default="month",
                  help="The mart is monthly; a quarter sums its months")
partial, start, end = ui.period_window(
    d, "alignment_team_monthly", "month_start", grain, default_days=365,
    nothing="No months yet: nothing was loaded. Fix: run an ingest with the Jira integration configured.")
months = d.sql("select month_start, category, completed_issues, story_points, in_progress_hours, effort_measure, "
               "effort, effort_share from marts.alignment_team_monthly where tree = ? and team_id = ? and "
               "includes_subteams = ? and month_start between ? and ? order by month_start, category",
               [node.tree, node.team_id, node.subteams, start, end])
st.subheader(node.label)
if months.empty or months.effort.fillna(0).sum() == 0:
    ui.empty(f"No completed Jira work for {node.label} between {start} and {end}: the team's members completed no "
             f"issue in range (or the Jira integration is not configured).")
    st.stop()
measure = ", ".join(sorted(months.effort_measure.dropna().unique()))
if grain == "quarter":
    rows = months.assign(period_start=[pd.Timestamp(ui.period_start(m, grain)) for m in months.month_start]) \
        .groupby(["period_start", "category"], as_index=False)[["completed_issues", "story_points",
                                                                "in_progress_hours", "effort"]].sum()
    total = rows.groupby("period_start").effort.transform("sum")
    rows["effort_share"] = rows.effort / total.where(total > 0)
else:
    rows = months.rename(columns={"month_start": "period_start"})
    rows["period_start"] = pd.to_datetime(rows.period_start)
rows.insert(1, "partial", rows.period_start.dt.date >= partial.start)
shares = rows[rows.effort_share.notna()]
st.altair_chart(alt.Chart(shares).mark_bar().encode(
    x=alt.X("period_start:T", title=grain), y=alt.Y("effort_share:Q", stack="normalize", title="share of effort"),
    color="category:N", tooltip=["period_start:T", "category:N", alt.Tooltip("effort_share:Q", format=".1%"),
                                 "effort:Q", "partial:N"]), width="stretch")
st.caption(f"Effort measure: {measure} (alignment profile). Source: `marts.alignment_team_monthly`"
           + (", summed by quarter" if grain == "quarter" else ""))
last = rows[rows.period_start == rows.period_start.max()]
unc = last[last.category.str.lower().str.startswith("uncategori")]
if not unc.empty:
    when = f"{last.period_start.iloc[0]:%Y-%m}" + (" (partial)" if last.partial.iloc[0] else "")
    st.metric(f"Uncategorised share, {grain} starting {when}", ui.fmt_pct(unc.effort_share.iloc[0]),
              help="Completed work no alignment rule matched: tune profiles/alignment.yml to shrink it")
ui.table(rows, "alignment", f"Effort per category and {grain} (marts.alignment_team_monthly)")

st.subheader("The issues in a category")
cats = sorted(rows[rows.completed_issues > 0].category.dropna().unique())
cat = ui.select("Category", cats, "cat", sidebar=False)
window = [node.tree, node.teams, start, end]
if cat is None:
    ui.empty("No category has completed issues in range.")
elif not d.has("fct_alignment_issues"):
    ui.empty("The issues behind the figures are not in your scope (marts.fct_alignment_issues is not published).")
else:
    issues = d.sql("select i.month_start, i.issue_key, i.source_url, i.issue_type, i.summary, i.category_source, "
                   "i.completed_at, i.effort_measure, i.effort, i.story_points, i.in_progress_hours "
                   "from marts.fct_alignment_issues i where i.category = ? and exists (select 1 from "
                   "marts.bridge_issue_team b where b.issue_id = i.issue_id and b.tree = ? and b.team_id in "
                   "(select unnest(?::varchar[]))) and i.month_start between ? and ? "
                   "order by i.completed_at desc, i.issue_key", [cat, *window])
    if issues.empty:
        ui.empty(f"No completed issue of {node.label} in {cat} in range.")
    else:
        ui.table(issues, "alignment_issues", f"Completed issues in {cat}: the rows the effort above adds up "
                 "(marts.fct_alignment_issues, the team's through marts.bridge_issue_team)")
if cat is not None and d.has("fct_pull_requests"):
    prs = d.sql("select repository_full_name, pull_request_number, title, author_login, merged_at, jira_issue_keys, "
                "alignment_category from marts.fct_pull_requests where alignment_category = ? and author_team_id in "
                "(select unnest(?::varchar[])) and merged_at >= ? and merged_at < ? order by merged_at desc",
                [cat, node.teams, pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(days=1)])
    with st.expander(f"Merged pull requests linked to issues in {cat} ({len(prs)})"):
        if prs.empty:
            ui.empty(f"No merged pull request of this team is linked to an issue in {cat} in range.")
        else:
            prs.insert(2, "pull_request_url", [ui.pr_link(r, n) for r, n in zip(prs.repository_full_name,
                                                                                prs.pull_request_number)])
            ui.table(prs, "alignment_prs", "Merged PRs whose linked issues fall in the category "
                     "(marts.fct_pull_requests)")
