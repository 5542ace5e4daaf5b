"""One rate-limit gate per token (ingestion/http.py, RequestGate): with 4 requests in flight,
a rate-limit answer closes the token for every thread and resource until its wait is over,
so the simulator's injected limit answers are not multiplied by the other threads; and the
run paces itself on `x-ratelimit-remaining` instead of running into the limit.

The GitHub source is extracted with dlt (no load: the figures are the point) against
simulators whose clock runs 1,000x fast, with waits scaled the same way."""
from __future__ import annotations

import dlt
import pytest

from ingestion.config import Runtime
from ingestion.github import github_source
from ingestion.http import HttpStats
from simulator.http import GITHUB_TOKEN
from tests.test_ingest_github import START, sim_stats

pytestmark = pytest.mark.xdist_group("ingest_github")

CONCURRENCY = 4


def _extract(sim, tmp_path, **runtime) -> HttpStats:
    stats = HttpStats()
    src = github_source(repos=["acme-payments/*"], start_date=START, base_url=sim.url, access_token=GITHUB_TOKEN,
                        runtime=Runtime(wait_scale=0.001, **runtime), stats=stats, concurrency=CONCURRENCY)
    p = dlt.pipeline("gate_test", destination=dlt.destinations.duckdb(str(tmp_path / "x.duckdb")),
                     pipelines_dir=str(tmp_path / "pipelines"), dataset_name="raw_github")
    p.extract(src)
    assert not [e for _, c in stats.items() for e in c.errors], [e for _, c in stats.items() for e in c.errors]
    return stats


def _limit_answers(st: dict) -> int:
    return sum(n for codes in st["by_endpoint"].values() for code, n in codes.items() if code in ("403", "429"))


def test_rate_limit_answers_are_not_multiplied_by_the_other_threads(fresh_sim, tmp_path):
    sim = fresh_sim(faults="429:0.08,secondary:0.04")
    stats = _extract(sim, tmp_path)
    st = sim_stats(sim)
    injected = st["faults"].get("429", 0) + st["faults"].get("secondary", 0)
    answered = _limit_answers(st)
    t = stats.totals("github")
    assert injected >= 3, st["faults"]  # the test means something only with faults
    assert t.ratelimit_answers == answered  # the client saw every limit answer the simulator gave
    # Every answer beyond the injected ones went to a request that was already on the wire
    # when the gate closed (nothing is sent while it is closed; a retry comes after the
    # wait), and at most CONCURRENCY - 1 requests can be on the wire besides the refused one.
    assert answered <= injected + t.ratelimit_crossed, (answered, injected, t.ratelimit_crossed)
    # (before the gate: 44 limit answers for 6 injected, threads queued for a slot went out
    # while the token was refused)
    assert t.ratelimit_crossed <= (CONCURRENCY - 1) * injected, (t.ratelimit_crossed, injected)


def test_paces_on_remaining_instead_of_running_into_the_limit(fresh_sim, tmp_path):
    # Small hourly windows (an hour is 3.6 s here): the sync needs several of them. A page
    # costs at most 2 points and 4 are in flight, so 12 units of headroom never reach zero.
    sim = fresh_sim(github_points_per_hour=60, github_rest_per_hour=60)
    stats = _extract(sim, tmp_path, min_ratelimit_remaining=12)
    st = sim_stats(sim)
    assert _limit_answers(st) == 0, st["by_endpoint"]
    assert stats.totals("github").ratelimit_waits >= 1
