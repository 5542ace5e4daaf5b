"""`make run` records into the persistent instance `make dagster` opens; a demo killed
mid-run must not leave its run holding the warehouse pool's only slot for the next one."""
from __future__ import annotations

import os
import shutil
import subprocess

import dagster as dg

from helpers import environ
from core.settings import PROJECT_ROOT
from orchestration.demo import PID_TAG, _end_orphaned_demo_runs


@dg.op
def _step():
    pass


@dg.job
def _job():
    _step()


def test_a_killed_demos_run_is_ended_and_its_slot_freed(tmp_path):
    shutil.copy(PROJECT_ROOT / "dagster.yaml", tmp_path / "dagster.yaml")
    with environ(DAGSTER_HOME=tmp_path):
        instance = dg.DagsterInstance.get()
        gone = subprocess.Popen(["true"])
        gone.wait()  # a pid that no longer exists
        orphan = instance.create_run_for_job(_job, tags={PID_TAG: str(gone.pid)}, status=dg.DagsterRunStatus.STARTED)
        live = instance.create_run_for_job(_job, tags={PID_TAG: str(os.getpid())}, status=dg.DagsterRunStatus.STARTED)
        other = instance.create_run_for_job(_job, status=dg.DagsterRunStatus.STARTED)  # not a demo's: not ours
        storage = instance.event_log_storage
        storage.set_concurrency_slots("warehouse", 1)
        claim = storage.claim_concurrency_slot("warehouse", orphan.run_id, "_step")
        assert claim.is_claimed
        assert storage.get_concurrency_info("warehouse").active_slot_count == 1

        _end_orphaned_demo_runs(instance)

        assert instance.get_run_by_id(orphan.run_id).status == dg.DagsterRunStatus.FAILURE
        assert instance.get_run_by_id(live.run_id).status == dg.DagsterRunStatus.STARTED
        assert instance.get_run_by_id(other.run_id).status == dg.DagsterRunStatus.STARTED
        assert storage.get_concurrency_info("warehouse").active_slot_count == 0


def test_demo_modes_clock_follows_real_time_forward_only_and_within_the_horizon():
    from orchestration.ui import catch_up
    from simulator import generate
    world = generate("tiny", seed=7)
    start = world.now
    assert catch_up(world, start, 0) == start
    assert catch_up(world, start, 5400) == start + 5400  # 1.5 h of real time: 1.5 h of activity
    assert catch_up(world, start, 3600) == start + 5400  # never back
    assert catch_up(world, start, 10 ** 9) == world.end  # never past what was generated


def test_sei_dagster_passes_paths_that_mean_the_same_in_the_project_folder(tmp_path, monkeypatch):
    from orchestration.ui import absolute_paths
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sources.yml").write_text("account: mine\n", encoding="utf-8")
    env = absolute_paths({"SEI_WAREHOUSE": "wh/sei.duckdb", "SEI_SERVING": "/srv/serving.duckdb", "PATH": "bin"})
    assert env["SEI_WAREHOUSE"] == str(tmp_path / "wh" / "sei.duckdb")
    assert env["SEI_SERVING"] == "/srv/serving.duckdb"
    assert env["SEI_SOURCES"] == str(tmp_path / "sources.yml")  # dagster dev runs in the project folder
    assert env["PATH"] == "bin"  # not a path setting of ours
    assert absolute_paths({"SEI_SOURCES": "/etc/sei/sources.yml"})["SEI_SOURCES"] == "/etc/sei/sources.yml"
