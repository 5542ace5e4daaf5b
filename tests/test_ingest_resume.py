"""A sync killed with SIGKILL mid-way and run again equals a clean sync, and the restart
asks the API only for what the killed run had not read (ingestion/journal.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from ingestion.github import CONCURRENCY
from simulator.http import GITHUB_TOKEN
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


def _requests(sim) -> int:
    return sim_stats(sim)["requests"]


def _reset(sim) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/stats/reset", method="POST")).read()


def test_restart_after_a_kill_asks_only_for_what_is_left(fresh_sim, tmp_path):
    """Killed at several points of a full sync, the restart asks only for the work left:
    pages read before the kill come from the run's journal (ingestion/journal.py). The
    only repeats allowed are the requests on the wire at the kill (at most CONCURRENCY),
    or 10 % of the work left, whichever is more; and the warehouse equals a clean sync's."""
    sim = fresh_sim(size="small", faults="slow:0.5", slow_seconds=0.02)
    _reset(sim)
    clean = sync(tmp_path / "clean", sim.url)
    assert clean.ok
    full = _requests(sim)
    assert full > 100  # the small org: several pages per repository and resource
    for frac in (0.25, 0.5, 0.75):
        wh_dir = tmp_path / f"killed_{int(frac * 100)}"
        wh_dir.mkdir()
        sources = write_sources(wh_dir / "sources.yml", sim.url, ["acme-payments/*"])
        _reset(sim)
        p = _ingest(wh_dir, sources)
        deadline = time.monotonic() + 300
        while _requests(sim) < frac * full and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert p.poll() is None, "the sync finished before it could be killed:\n" + p.stdout.read()
        p.send_signal(signal.SIGKILL)
        p.wait(30)
        before = _requests(sim)
        _reset(sim)
        again = _ingest(wh_dir, sources)
        out, _ = again.communicate(timeout=300)
        assert again.returncode == 0, out
        left, restart = full - before, _requests(sim)
        print(f"killed after {before} of {full} requests: the restart made {restart} for {left} left")
        assert "came from its journal" in out, out
        assert restart - left <= max(0.1 * left, CONCURRENCY), (frac, full, before, restart)
        assert_same(snapshot(wh_dir / "sei.duckdb"), snapshot(tmp_path / "clean" / "sei.duckdb"))
