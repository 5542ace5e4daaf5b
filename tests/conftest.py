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
