"""`sei ingest --plan` for every source counts what a first sync reads, before loading."""
from __future__ import annotations

import pytest

from simulator import views
from simulator.export import export_sources
from simulator.export_events import export_events
from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
from tests.test_ingest_github import environ, sim_stats

pytestmark = pytest.mark.xdist_group("ingest_github")


def test_plan_counts_each_source_and_loads_nothing(sim, tiny_world, tmp_path):
    from ingestion import pipeline
    events = export_events(tiny_world, tmp_path / "events")
    sources = export_sources(tiny_world, tmp_path / "sources.yml", sim.url, events)
    before = sim_stats(sim)
    with environ(SEI_WAREHOUSE=str(tmp_path / "sei.duckdb"), SEI_SOURCES=str(sources), SEI_START_DATE="2024-01-01",
                 SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__JIRA__EMAIL=JIRA_EMAIL,
                 SOURCES__JIRA__API_TOKEN=JIRA_TOKEN, SOURCES__HARNESS__API_KEY=HARNESS_API_KEY):
        p = pipeline.plan(["github", "jira", "harness", "events"])
    assert not any("error" in v for v in p.values()), p
    assert sum(r["issues"] for r in p["jira"]["scopes"]) == len(views.issues(tiny_world))
    d = views.deployments(tiny_world)
    assert sum(r["executions"] for r in p["harness"]["scopes"]) == int((d.tool == "harness").sum())
    assert p["events"]["files"] == len(events)
    assert p["jira"]["requests"] > 0 and p["harness"]["requests"] > 0
    used = sim_stats(sim)["requests"] - before["requests"]
    assert used < 60, "planning is cheap"
    assert not (tmp_path / "sei.duckdb").exists(), "a plan loads nothing"
    text = pipeline.format_plan(p)
    for name in ("github:", "jira:", "harness:", "events:"):
        assert name in text
