"""Data health: when each integration last succeeded, its lag and last error (what `sei
doctor` shows), and a link to the Dagster UI."""
from __future__ import annotations

import os

import streamlit as st

from dashboards import ui

d = ui.data()
ui.header(d, "Data health", ["integration_health"])
dagster = os.environ.get(ui.DAGSTER_URL_ENV, "http://127.0.0.1:3000")
st.markdown(f"Runs, checks and freshness in the [Dagster UI]({dagster}) (`{ui.DAGSTER_URL_ENV}`).")
if not d.has("integration_health") or not d.sql("select count(*) as n from marts.integration_health").n.iloc[0]:
    ui.empty("Integration health is not part of your published scope: it is operations data of every source, "
             "published to account-wide principals only (docs/access-control.md). An administrator sees it here, "
             "with `sei doctor` or in the Dagster UI; `marts: {integration_health: public}` in the policy publishes "
             "it to everyone.")
    st.stop()
h = d.sql("select source_name, resource_name, status, last_status, last_success_at, lag_hours, max_lag_hours, "
          "rows_last_run, requests_last_run, retries_last_run, wait_seconds_last_run, min_ratelimit_remaining, "
          "last_error_at, last_error_message, checked_at from marts.integration_health order by source_name, resource_name")
if h.empty:
    ui.empty("No ingest has run yet: no integration is configured or none has been synced. Fix: `sei ingest`.")
    st.stop()
for r in h[h.status == "unhealthy"].itertuples():   # what needs attention first, as `sei doctor` exits 1 on it
    st.error(f"{r.source_name} / {r.resource_name}: unhealthy (last success {r.last_success_at or 'never'}, "
             f"lag {ui.fmt_hours(r.lag_hours)}){': ' + r.last_error_message if r.last_error_message else ''}")
ui.table(h, "integration_health", "Per integration and resource (marts.integration_health; the same as `sei doctor`)")
