"""A sync killed with SIGKILL mid-way and run again equals a clean sync."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from simulator.server import GITHUB_TOKEN
from tests.test_ingest_github import assert_same, sim_stats, snapshot, sync, write_sources

pytestmark = [pytest.mark.xdist_group("ingest_github"), pytest.mark.slow]


def _ingest(tmp, sources) -> subprocess.Popen:
    env = {**os.environ, "SEI_WAREHOUSE": str(tmp / "sei.duckdb"), "SEI_SOURCES": str(sources),
           "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SEI_WAIT_SCALE": "0.001"}
    return subprocess.Popen([sys.executable, "-m", "sei.cli", "ingest", "--source", "github"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_killed_sync_resumes_to_the_same_warehouse(fresh_sim, tmp_path):
    # Slow answers stretch the run so the kill lands in the middle of it.
    sim = fresh_sim(faults="slow:0.5", slow_seconds=0.03)
    killed = tmp_path / "killed"
    killed.mkdir()
    sources = write_sources(killed / "sources.yml", sim.url, ["acme-payments/*"])
    p = _ingest(killed, sources)
    deadline = time.time() + 120
    # A full sync of the tiny org is ~95 requests (deployment statuses come 100 per GraphQL
    # query): kill it after 40.
    while sim_stats(sim)["requests"] < 40 and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert p.poll() is None, "the sync finished before it could be killed:\n" + p.stdout.read()
    p.send_signal(signal.SIGKILL)
    p.wait(30)
    total_at_kill = sim_stats(sim)["requests"]
    again = _ingest(killed, sources)
    out, _ = again.communicate(timeout=300)
    assert again.returncode == 0, out
    clean = sync(tmp_path / "clean", sim.url)
    assert clean.ok
    assert_same(snapshot(killed / "sei.duckdb"), snapshot(tmp_path / "clean" / "sei.duckdb"))
    assert total_at_kill >= 40
