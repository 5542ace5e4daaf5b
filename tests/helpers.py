"""Helpers shared by the ingestion and dbt tests."""
from __future__ import annotations

from core.settings import environ  # noqa: F401  the tests configure the project by environment, as users do
from webhooks.realtime import free_port  # noqa: F401  one free-port helper for the tests too


def job_environment(tmp, sources) -> dict:
    """The settings of an in-process Dagster run on the simulator: files under `tmp`, the
    simulator's credentials, URLs from the sources file, no retries, no alerts, no policy."""
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    return dict(SEI_WAREHOUSE=tmp / "sei.duckdb", SEI_SERVING=tmp / "serving" / "sei.duckdb",
                SEI_SOURCES=sources, SEI_ORG_DIR=tmp / "org", SEI_OPS_DB=tmp / "ops.sqlite",
                SEI_WAIT_SCALE="0.001", SEI_INGEST_RETRIES="0", SEI_FRESHNESS_LAG_HOURS=None,
                SEI_DBT_TARGET_PATH=tmp / "dbt_target", SEI_PROFILES_DIR=None, SEI_ALERT_WEBHOOK_URL=None,
                SEI_RBAC_POLICY=None, SEI_SCOPES_DIR=None, SEI_RBAC_POSTGRES=None,
                SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__GITHUB__BASE_URL=None,
                SOURCES__GITHUB__GRAPHQL_URL=None, SOURCES__JIRA__EMAIL=JIRA_EMAIL,
                SOURCES__JIRA__API_TOKEN=JIRA_TOKEN, SOURCES__JIRA__BASE_URL=None,
                SOURCES__HARNESS__API_KEY=HARNESS_API_KEY, SOURCES__HARNESS__BASE_URL=None)
