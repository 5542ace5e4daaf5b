"""The simulator's HTTP behaviour shared by every API: faults, throttling, counting,
the clock and determinism, over real HTTP."""
from __future__ import annotations

import time

import pytest
import requests

from simulator.http import GITHUB_TOKEN

AUTH = {"Authorization": f"Bearer {GITHUB_TOKEN}"}


def _repo_url(sim) -> str:
    full = sim.world["repos"].full_name.iat[0]
    return f"{sim.url}/repos/{full}"


def _stats(sim) -> dict:
    return requests.get(f"{sim.url}/_sim/stats").json()


def test_injected_faults_hit_their_rates_and_the_same_requests(fresh_sim):
    spec = "429:0.05,500:0.02,reset:0.01,slow:0.05,secondary:0.01"
    outcomes = []
    for _ in range(2):
        sim = fresh_sim(faults=spec, slow_seconds=0.0)
        base = _repo_url(sim)
        seen = []
        s = requests.Session()
        for i in range(1500):
            try:
                r = s.get(f"{base}?probe={i}", headers=AUTH, timeout=5)
                seen.append(r.status_code)
                if r.status_code in (403, 429):
                    assert r.headers.get("Retry-After") in ("5", "60")
                    time.sleep(int(r.headers["Retry-After"]) * sim.time_scale + 0.005)  # as a client must
            except requests.ConnectionError:
                seen.append("reset")
                s = requests.Session()
        outcomes.append(seen)
        faults = _stats(sim)["faults"]
        for kind, rate in [("429", 0.05), ("500", 0.02), ("reset", 0.01), ("slow", 0.05), ("secondary", 0.01)]:
            assert abs(faults.get(kind, 0) / 1500 - rate) < 0.4 * rate + 0.004, (kind, faults)
    assert outcomes[0] == outcomes[1], "the same requests fail on every run"
    assert outcomes[0].count("reset") == _stats(sim)["faults"].get("reset", 0)


def test_retrying_before_retry_after_is_refused_again(fresh_sim):
    # Real time for "too early" (a 60 s window no busy machine closes between two requests),
    # a scaled clock for "after": neither answer depends on how fast the machine is.
    for time_scale, wait in [(1.0, None), (0.01, 0.7)]:  # Retry-After 60 s = 0.6 s at 0.01
        sim = fresh_sim(faults="secondary:1.0", time_scale=time_scale)
        url = _repo_url(sim)
        r = requests.get(url, headers=AUTH)
        assert r.status_code == 403 and r.headers["Retry-After"] == "60"
        assert "secondary rate limit" in r.json()["message"]
        sim.faults = type(sim.faults).parse("")
        if wait is None:
            assert requests.get(url, headers=AUTH).status_code == 403, "too early"
        else:
            time.sleep(wait)  # at least the window: sleeping longer only makes it later
            assert requests.get(url, headers=AUTH).status_code == 200


def test_one_api_can_be_failed_while_the_others_answer(fresh_sim):
    sim = fresh_sim(faults="jira.500:1.0")
    r = requests.get(f"{sim.url}/rest/api/3/myself", auth=("sei@acme.example", "jira-simulator-token"))
    assert r.status_code == 500 and r.json()["errorMessages"]
    assert requests.get(_repo_url(sim), headers=AUTH).status_code == 200


def test_stats_count_requests_by_endpoint_and_status(fresh_sim):
    sim = fresh_sim()
    url = _repo_url(sim)
    for _ in range(3):
        requests.get(url, headers=AUTH)
    requests.get(url, headers={"Authorization": "Bearer wrong"})
    by = _stats(sim)["by_endpoint"]
    ep = next(k for k in by if k.startswith("github.rest"))
    assert by[ep] == {"200": 3, "401": 1}
    assert _stats(sim)["requests"] == 4
    requests.post(f"{sim.url}/_sim/stats/reset")
    assert _stats(sim)["requests"] == 0


def test_advance_moves_the_clock_and_refuses_the_impossible(fresh_sim):
    sim = fresh_sim()
    before = requests.get(f"{sim.url}/_sim/health").json()["now"]
    r = requests.post(f"{sim.url}/_sim/advance?hours=24")
    assert r.status_code == 200 and r.json()["now"] > before
    assert r.json()["now"] == "2026-11-03T00:00:00Z"
    bad = requests.post(f"{sim.url}/_sim/advance?hours=100000")
    assert bad.status_code == 400 and "cannot advance past" in bad.json()["error"]


def test_same_seed_gives_byte_identical_answers(fresh_sim):
    """Two simulators on the same address (answers carry URLs) answer byte for byte alike."""
    bodies, port = [], 0
    for _ in range(2):
        sim = fresh_sim(seed=11, port=port)
        port = sim.port
        bodies.append(requests.get(_repo_url(sim), headers=AUTH).content)
        sim.stop()
    assert bodies[0] == bodies[1] and len(bodies[0]) > 100


def test_truth_over_http_matches_the_world(sim):
    idx = requests.get(f"{sim.url}/_sim/truth").json()
    assert "deployment_changes" in idx["tables"]
    lines = requests.get(f"{sim.url}/_sim/truth/incidents").text.strip().splitlines()
    from simulator import views
    assert len(lines) == len(views.incidents(sim.world))
    assert requests.get(f"{sim.url}/_sim/truth/nope").status_code == 404


@pytest.mark.parametrize("path", ["/nope", "/repos"])
def test_unknown_paths_are_404(sim, path):
    assert requests.get(sim.url + path, headers=AUTH).status_code == 404
