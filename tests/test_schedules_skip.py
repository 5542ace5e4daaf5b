"""An unconfigured deployment's schedules skip with a reason instead of failing every hour;
the sources file is looked for where the README says (SEI_SOURCES, ./sources.yml, the demo's
file beside the warehouse), and when there is none the message says where it looked."""
from __future__ import annotations

import socket

import dagster as dg
import pytest

from helpers import environ
from ingestion import config
from orchestration.schedules import gated_schedule
from simulator.export import export_sources


def _closed_port_url() -> str:
    with socket.socket() as s:  # bound, then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _tick(reachable: bool = True):
    schedule = gated_schedule("hourly_refresh", "sei_refresh", "15 * * * *", reachable=reachable)
    with dg.build_schedule_context() as context:
        return schedule.evaluate_tick(context)


@pytest.fixture()
def place(tmp_path, monkeypatch):
    """An empty working directory and warehouse folder, no SEI_SOURCES, no URL overrides."""
    monkeypatch.chdir(tmp_path)
    with environ(SEI_WAREHOUSE=tmp_path / "warehouse" / "sei.duckdb", SEI_SOURCES=None,
                 SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None, SOURCES__JIRA__BASE_URL=None,
                 SOURCES__HARNESS__BASE_URL=None):
        yield tmp_path


def test_no_sources_file_skips_naming_where_it_looked(place):
    result = _tick()
    assert result.run_requests == []
    reason = result.skip_message
    assert reason.startswith("no sources file found (looked for ")
    assert str(place / "sources.yml") in reason
    assert str(place / "warehouse" / "sources.simulator.yml") in reason
    assert "sei demo" in reason  # and what to do


def test_no_integration_answering_skips_naming_each(place, tiny_world):
    url = _closed_port_url()
    export_sources(tiny_world, place / "sources.yml", url)
    result = _tick()
    assert result.run_requests == []
    for integration in ("github", "jira", "harness"):
        assert f"{integration} at {url}" in result.skip_message
    # freshness only needs the sources file: it runs and reports the staleness
    assert len(_tick(reachable=False).run_requests) == 1


def test_one_answering_integration_is_enough(place, tiny_world, sim):
    export_sources(tiny_world, place / "sources.yml", sim.url)
    result = _tick()
    assert result.skip_message is None
    assert len(result.run_requests) == 1


def test_invalid_sources_file_skips_with_file_and_line(place):
    (place / "sources.yml").write_text("account: acme\norganisations: {not: a list}\n", encoding="utf-8")
    result = _tick()
    assert result.run_requests == []
    assert result.skip_message.startswith("the sources file is invalid: sources.yml:2: `organisations` must be a list")


def test_the_demos_sources_file_is_found_until_you_write_your_own(place, tiny_world):
    demo = config.demo_sources_path()
    assert demo == place / "warehouse" / "sources.simulator.yml"
    with pytest.raises(config.ConfigError, match="no sources file found"):
        config.load()
    missing = config.load(required=False)
    assert missing.projects == [] and "looked for" in missing.missing
    export_sources(tiny_world, demo, "http://127.0.0.1:1")
    assert config.sources_path() == demo
    assert {p.id for p in config.load().projects} == set(tiny_world["projects"].project_id)
    (place / "sources.yml").write_text("account: mine\n", encoding="utf-8")
    assert config.sources_path().resolve() == (place / "sources.yml").resolve()
    assert config.load().account == "mine"
    with environ(SEI_SOURCES=place / "elsewhere.yml"):  # an explicit path is the only candidate
        with pytest.raises(config.ConfigError, match=r"looked for .*elsewhere\.yml\)"):
            config.load()
