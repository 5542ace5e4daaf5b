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


def test_deleted_jira_issue_is_soft_deleted_and_nothing_else(fresh_sim, tmp_path):
    from ingestion.reconcile import reconcile
    from tests import test_ingest_jira as tj
    sim = fresh_sim()
    sources = tj.sources_for(sim.world, tmp_path, sim.url)
    assert tj.sync(tmp_path, sources).ok
    db = tmp_path / "sei.duckdb"
    issues = query(db, "select id, key from raw_jira.issues order by id")
    victims = issues.key.iloc[[3, 10]].tolist()
    for key in victims:
        urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/delete?issue={key}", method="POST"))
    with environ(SEI_WAREHOUSE=str(db), SEI_SOURCES=str(sources), SOURCES__JIRA__EMAIL=tj.JIRA_EMAIL,
                 SOURCES__JIRA__API_TOKEN=tj.JIRA_TOKEN):
        [res] = reconcile(["jira"])
    assert res.error is None and res.checked == len(issues)
    assert sorted(res.deleted) == sorted(issues[issues.key.isin(victims)].id.astype(str))
    now = query(db, "select key, _sei_deleted_at is not null as deleted from raw_jira.issues")
    assert sorted(now[now.deleted].key) == sorted(victims)
    log = query(db, "select issue_key, _sei_deleted_at is not null as deleted from raw_jira.issue_changelogs")
    assert log[log.deleted].issue_key.isin(victims).all() and not log[~log.issue_key.isin(victims)].deleted.any()
    # A second pass finds nothing new and the next sync still works.
    with environ(SEI_WAREHOUSE=str(db), SEI_SOURCES=str(sources), SOURCES__JIRA__EMAIL=tj.JIRA_EMAIL,
                 SOURCES__JIRA__API_TOKEN=tj.JIRA_TOKEN):
        [res2] = reconcile(["jira"])
    assert res2.deleted == [] and res2.checked == len(issues) - 2
    assert tj.sync(tmp_path, sources).status in ("success", "partial")
