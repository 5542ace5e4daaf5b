"""The nightly deletion pass: what was deleted upstream becomes a soft delete, nothing
else changes, and later syncs still work."""
from __future__ import annotations

import urllib.request

import pytest

from tests.test_ingest_github import environ, query, sim_stats, sync

pytestmark = pytest.mark.xdist_group("ingest_github")


def test_deleted_repository_is_soft_deleted_and_nothing_else(fresh_sim, tmp_path):
    from ingestion.reconcile import reconcile
    sim = fresh_sim()
    first = sync(tmp_path, sim.url)
    assert first.ok
    db = tmp_path / "sei.duckdb"
    repos = query(db, "select distinct repository from raw_github.repositories order by 1").repository.tolist()
    gone = repos[1]
    before = query(db, f"select count(*) n from raw_github.pull_requests where repository = '{gone}'").n[0]
    assert before > 0
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/delete?repository={gone}", method="POST"))
    stats0 = sim_stats(sim)
    with environ(SEI_WAREHOUSE=str(db), SEI_SOURCES=str(tmp_path / "sources.yml"),
                 SOURCES__GITHUB__ACCESS_TOKEN="ghp_simulator_token"):
        [res] = reconcile(["github"])
    assert res.error is None and res.deleted == [gone] and res.checked == len(repos)
    # One GraphQL query checks up to 50 repositories.
    assert sim_stats(sim)["requests"] - stats0["requests"] == 1
    pr = query(db, "select repository, _sei_deleted_at is not null as deleted from raw_github.pull_requests")
    assert pr[pr.repository == gone].deleted.all() and pr[pr.repository == gone].shape[0] == before
    assert not pr[pr.repository != gone].deleted.any()
    for table in ("commits", "workflow_runs"):
        t = query(db, f"select repository, _sei_deleted_at is not null as deleted from raw_github.{table}")
        assert t[t.repository == gone].deleted.all() and not t[t.repository != gone].deleted.any(), table
    # The next sync still loads (the stamp column does not upset dlt's merge) and keeps the stamps.
    again = sync(tmp_path, sim.url)
    assert again.status in ("success", "partial")
    pr2 = query(db, "select repository, _sei_deleted_at is not null as deleted from raw_github.pull_requests")
    assert pr2[pr2.repository == gone].deleted.all() and len(pr2) == len(pr)
