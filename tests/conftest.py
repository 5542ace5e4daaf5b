"""Shared fixtures: generated worlds and running simulators (real HTTP on loopback)."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")

from simulator import generate  # noqa: E402
from simulator.server import SimServer  # noqa: E402


@pytest.fixture(scope="session")
def tiny_world():
    """The tiny organisation, generated once per test session. Do not advance its clock:
    tests that move time build their own world (see `fresh_sim`)."""
    return generate("tiny", seed=7)


@pytest.fixture(scope="session")
def sim(tiny_world):
    """A simulator over the tiny world, no faults, fast simulated time."""
    with SimServer(tiny_world, time_scale=0.001) as s:
        yield s


@pytest.fixture()
def fresh_sim():
    """Factory for simulators with their own world (for clock moves, faults, limits)."""
    started = []

    def make(size="tiny", seed=7, **kw):
        kw.setdefault("time_scale", 0.001)
        s = SimServer(generate(size, seed=seed), **kw).start()
        started.append(s)
        return s

    yield make
    for s in started:
        try:
            s.stop()
        except OSError:
            pass  # stopped by the test already


# The longest groups first (seconds of one worker each, measured in `make test`): under
# `--dist loadgroup --no-loadscope-reorder` pytest-xdist hands out work units in collection
# order, one at a time to whichever worker is nearly idle, so starting the long ones first
# keeps a Spark build from running alone at the end while the other worker has nothing left
# to do. (Its default order, by the number of tests in a group, started Spark's six long
# tests after every bigger group.)
LONGEST_FIRST = ("spark", "dbt", "webhooks", "walkthrough", "incremental_pg", "incremental", "ingest_github",
                 "dashboards", "dbt_staging", "ingest_jira_cost", "rbac-attack", "webserver")


def _group(item) -> str | None:
    mark = item.get_closest_marker("xdist_group")
    return (mark.args[0] if mark.args else mark.kwargs.get("name")) if mark else None


def pytest_collection_modifyitems(config, items):
    rank = {g: i for i, g in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_group(item), len(rank)))   # stable: file order otherwise
