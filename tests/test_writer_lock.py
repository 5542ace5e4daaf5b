"""One writer at a time (ingestion/lock.py): two `sei ingest` on one warehouse do not
interleave; the second waits saying for whom, or with --no-wait exits 1 naming the holder;
a lock left by a killed process is taken over; every run that ran is in ops.ingest_runs;
Dagster's steps take the same lock."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

from ingestion.lock import WarehouseLocked, holder, lock_path, writer_lock
from simulator.http import GITHUB_TOKEN
from tests.helpers import environ
from tests.test_ingest_github import assert_same, snapshot, sync, write_sources

pytestmark = [pytest.mark.xdist_group("ingest_github"), pytest.mark.slow]

DEADLINE = 300  # seconds: a safety net against a hung test, never a measured duration


def _env(wh: Path, sources: Path, **extra) -> dict:
    return {**os.environ, "SEI_WAREHOUSE": str(wh), "SEI_SOURCES": str(sources),
            "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SEI_WAIT_SCALE": "0.001", **extra}


def _ingest(wh: Path, sources: Path, log: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sei.cli", "ingest", "--source", "github", *args],
                            env=_env(wh, sources), stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def _until(cond, what: str, proc: subprocess.Popen | None = None, log: Path | None = None) -> None:
    end = time.monotonic() + DEADLINE
    while not cond():
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"exited before {what}:\n{log.read_text() if log else ''}")
        if time.monotonic() > end:
            raise AssertionError(f"never saw {what}:\n{log.read_text() if log else ''}")
        time.sleep(0.05)


def _holds(wh: Path, proc: subprocess.Popen) -> bool:
    rec = holder(lock_path(wh))
    return bool(rec) and rec.get("pid") == proc.pid


def _set_faults(sim, spec: str) -> None:
    urllib.request.urlopen(urllib.request.Request(f"{sim.url}/_sim/faults?spec={spec}", method="POST")).read()


def _runs(wh: Path) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute("select r.run_id, r.status, sum(x.rows) from ops.ingest_runs r join ops.ingest_resources x "
                           "using (run_id, source) group by all order by min(r.started_at)").fetchall()
    finally:
        con.close()


def test_second_ingest_waits_or_refuses_and_a_dead_holder_is_taken_over(fresh_sim, tmp_path):
    # Every answer is slow until the faults are cleared: the first run holds the lock meanwhile.
    sim = fresh_sim(faults="slow:1.0", slow_seconds=0.2)
    wh = tmp_path / "wh" / "sei.duckdb"
    wh.parent.mkdir()
    sources = write_sources(tmp_path / "sources.yml", sim.url, ["acme-payments/*"])

    first_log = tmp_path / "first.log"
    first = _ingest(wh, sources, first_log)
    _until(lambda: _holds(wh, first), "the first run holding the lock", first, first_log)

    # --no-wait: exit 1 at once, naming the holder (PID, command, start time); no traceback
    refused = subprocess.run([sys.executable, "-m", "sei.cli", "ingest", "--source", "github", "--no-wait"],
                             env=_env(wh, sources), capture_output=True, text=True, timeout=DEADLINE)
    out = refused.stdout + refused.stderr
    assert refused.returncode == 1, out
    assert f"PID {first.pid}" in out and "sei ingest --source github" in out and "started 20" in out, out
    assert "Traceback" not in out and "IOException" not in out, out

    # --wait (the default): says for whom it waits, then runs after the first
    second_log = tmp_path / "second.log"
    second = _ingest(wh, sources, second_log)
    _until(lambda: f"waiting for the warehouse {wh}" in second_log.read_text(), "the waiting message",
           second, second_log)
    assert f"PID {first.pid}" in second_log.read_text()
    _set_faults(sim, "")
    assert first.wait(DEADLINE) == 0, first_log.read_text()
    assert second.wait(DEADLINE) == 0, second_log.read_text()
    assert "Traceback" not in first_log.read_text() + second_log.read_text()

    clean = sync(tmp_path / "clean", sim.url)
    assert clean.ok
    runs = _runs(wh)
    assert [r[1] for r in runs] == ["success", "success"]
    # the first run counted its own rows only (interleaved, one counted the other's package too)
    assert runs[0][2] == clean.source("github").rows
    assert runs[1][2] < runs[0][2]
    assert_same(snapshot(wh), snapshot(tmp_path / "clean" / "sei.duckdb"))

    # a holder killed with SIGKILL: the kernel drops its lock, the next run takes over
    _set_faults(sim, "slow:1.0")
    killed_log = tmp_path / "killed.log"
    killed = _ingest(wh, sources, killed_log, "--full-refresh")
    _until(lambda: _holds(wh, killed), "the third run holding the lock", killed, killed_log)
    killed.send_signal(signal.SIGKILL)
    killed.wait(DEADLINE)
    _set_faults(sim, "")
    after = subprocess.run([sys.executable, "-m", "sei.cli", "ingest", "--source", "github", "--no-wait"],
                           env=_env(wh, sources), capture_output=True, text=True, timeout=DEADLINE)
    assert after.returncode == 0, after.stdout + after.stderr
    assert len(_runs(wh)) == 3
    assert_same(snapshot(wh), snapshot(tmp_path / "clean" / "sei.duckdb"))


def _hold_in_other_process(wh: Path) -> subprocess.Popen:
    code = ("import sys, time\nfrom ingestion.lock import writer_lock\n"
            f"with writer_lock({str(wh)!r}, 'sei org import --dir org'):\n"
            "    print('held', flush=True)\n    sys.stdin.read()\n")
    p = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "held"
    return p


def test_dagster_ingest_step_takes_the_same_lock(sim, tmp_path):
    import dagster as dg

    from orchestration.ingest import INGEST_ASSETS
    wh = tmp_path / "sei.duckdb"
    sources = write_sources(tmp_path / "sources.yml", sim.url, ["acme-payments/*"])
    asset = next(a for a in INGEST_ASSETS if a.node_def.name == "ingest_github")
    other = _hold_in_other_process(wh)
    try:
        with environ(SEI_WAREHOUSE=wh, SEI_SOURCES=sources, SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN,
                     SEI_WAIT_SCALE="0.001", SEI_INGEST_RETRIES="0", SEI_LOCK_TIMEOUT="0.5",
                     SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None):
            res = dg.materialize([asset], raise_on_error=False)
            assert not res.success
            failure = next(e for e in res.all_events if e.is_step_failure)
            msg = failure.step_failure_data.error.to_string()
            assert "WarehouseLocked" in msg and f"PID {other.pid}" in msg and "sei org import --dir org" in msg, msg
            assert not wh.exists()  # nothing was written while the other process held it
            other.stdin.close()
            other.wait(DEADLINE)
            res = dg.materialize([asset], raise_on_error=False)
            assert res.success
    finally:
        if other.poll() is None:
            other.kill()
    con = duckdb.connect(str(wh), read_only=True)
    try:
        # the refused step is a failed run (recorded by the next), then the one that ran
        assert con.execute("select status from ops.ingest_runs order by started_at").fetchall() == [("failed",),
                                                                                                   ("success",)]
    finally:
        con.close()


def test_lock_is_reentrant_in_a_thread_and_refuses_another_process(tmp_path):
    wh = tmp_path / "sei.duckdb"
    with writer_lock(wh, "outer"):
        with writer_lock(wh, "inner", wait=False):  # the same thread: re-entered, not refused
            assert holder(lock_path(wh))["command"] == "outer"
        code = (f"from ingestion.lock import writer_lock\nwith writer_lock({str(wh)!r}, 'x', wait=False):\n"
                "    pass\n")
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=DEADLINE)
        assert p.returncode != 0 and f"PID {os.getpid()}" in p.stderr and "outer" in p.stderr, p.stderr
    with writer_lock(wh, "again", wait=False):  # released after the outer block
        pass
    with pytest.raises(WarehouseLocked) as e:
        other = _hold_in_other_process(wh)
        try:
            with writer_lock(wh, "x", wait=False):
                pass
        finally:
            other.stdin.close()
            other.wait(DEADLINE)
    assert f"PID {other.pid}" in str(e.value)


def test_a_refused_run_is_a_failed_run_in_ops(sim, tmp_path):
    """`sei ingest --no-wait` refused by another writer is in ops.ingest_runs as a failed run
    naming the holder, like any run that loaded nothing; it cannot open the file the other
    writer has, so the next run that records its own adds it."""
    wh = tmp_path / "wh" / "sei.duckdb"
    wh.parent.mkdir()
    sources = write_sources(tmp_path / "sources.yml", sim.url, ["acme-payments/atlas-api"])
    other = _hold_in_other_process(wh)
    try:
        refused = subprocess.run([sys.executable, "-m", "sei.cli", "ingest", "--source", "github", "--no-wait"],
                                 env=_env(wh, sources), capture_output=True, text=True, timeout=DEADLINE)
    finally:
        other.stdin.close()
        other.wait(DEADLINE)
    assert refused.returncode == 1 and f"PID {other.pid}" in refused.stderr, refused.stdout + refused.stderr
    assert not wh.exists()   # the file stayed the holder's: nothing was opened
    ran = subprocess.run([sys.executable, "-m", "sei.cli", "ingest", "--source", "github", "--no-wait"],
                         env=_env(wh, sources), capture_output=True, text=True, timeout=DEADLINE)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    con = duckdb.connect(str(wh), read_only=True)
    try:
        runs = con.execute("select source, status, error_message from ops.ingest_runs order by started_at").fetchall()
        refused_resources = con.execute("select count(*) from ops.ingest_resources where run_id = "
                                        "(select min_by(run_id, started_at) from ops.ingest_runs)").fetchone()[0]
    finally:
        con.close()
    assert [(s, st) for s, st, _ in runs] == [("github", "failed"), ("github", "success")], runs
    assert f"PID {other.pid}" in runs[0][2] and "sei org import --dir org" in runs[0][2], runs[0][2]
    assert refused_resources == 0   # nothing was attempted: no resource figures to show in health


def _has_table(wh: Path, schema: str, table: str) -> bool:
    if not wh.exists():
        return False
    with duckdb.connect(str(wh), read_only=True) as con:
        return bool(con.execute("select count(*) from information_schema.tables where table_schema = ? "
                                "and table_name = ?", [schema, table]).fetchone()[0])


def test_a_source_extracts_while_another_writer_holds_the_warehouse_and_waits_only_to_load(fresh_sim, tmp_path):
    """The ingest steps of a Dagster run read their APIs side by side (ingestion/pipeline.py):
    a source holds the warehouse's writer lock to read its state and to load, and only its
    pipeline's lock while it extracts and normalizes."""
    import threading

    from ingestion import pipeline
    sim = fresh_sim(faults="slow:1.0", slow_seconds=0.2)  # every answer slow: the extract takes a while
    wh = tmp_path / "wh" / "sei.duckdb"
    wh.parent.mkdir()
    sources = write_sources(tmp_path / "sources.yml", sim.url, ["acme-payments/*"])
    lines: list[str] = []
    out: dict = {}

    def served() -> int:
        with urllib.request.urlopen(f"{sim.url}/_sim/stats") as resp:
            return int(json.load(resp)["requests"])

    with environ(SEI_WAREHOUSE=wh, SEI_SOURCES=sources, SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN,
                 SEI_WAIT_SCALE="0.001", SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None):
        before = served()
        t = threading.Thread(target=lambda: out.update(r=pipeline.run(["github"], echo=lines.append,
                                                                        command="ingest github")))
        t.start()
        try:
            _until(lambda: served() > before, "the first API request")
            # another writer takes the warehouse while the source extracts: it is free (another
            # thread of this process is refused like another process would be)
            with writer_lock(wh, "sei org import --dir org", wait=False):
                _set_faults(sim, "")
                _until(lambda: any("waiting for the warehouse" in line for line in lines), "the load waiting")
                waited_at = served()
                assert not any(line.startswith("github: success") for line in lines), lines
                assert not _has_table(wh, "raw_github", "pull_requests")  # nothing loaded yet
        finally:
            t.join(DEADLINE)
    r = out["r"].source("github")
    assert r.status == "success", lines
    assert served() == waited_at  # every request was made before the load waited
    assert r.phases["lock_wait"] > 0 and r.phases["extract"] > 0 and r.phases["load"] > 0
    assert sync(tmp_path / "clean", sim.url).ok
    assert_same(snapshot(wh), snapshot(tmp_path / "clean" / "sei.duckdb"))


def test_pipeline_locks_are_per_pipeline_and_the_warehouse_lock_can_take_them_all(tmp_path):
    from ingestion.lock import pipeline_lock
    wh, pipes = tmp_path / "sei.duckdb", tmp_path / ".dlt_pipelines"
    code = ("import sys\nfrom ingestion.lock import pipeline_lock, WarehouseLocked\n"
            f"try:\n    with pipeline_lock({str(pipes)!r}, sys.argv[1], 'x', wait=False):\n        print('free')\n"
            "except WarehouseLocked as e:\n    print('held:', e)\n")
    probe = lambda name: subprocess.run([sys.executable, "-c", code, name], capture_output=True, text=True,  # noqa: E731
                                        timeout=DEADLINE).stdout
    with pipeline_lock(pipes, "sei_github", "extract github"):
        assert probe("sei_jira").startswith("free")
        held = probe("sei_github")
        assert held.startswith("held:") and "the dlt pipeline sei_github" in held and "extract github" in held, held
    with writer_lock(wh, "sei_fresh", pipelines_dir=pipes):  # every pipeline of the project
        assert all(probe(f"sei_{s}").startswith("held:") for s in ("github", "jira", "harness", "events"))
    with writer_lock(wh, "load jira", pipelines_dir=pipes, pipelines=["sei_jira"]):
        assert probe("sei_github").startswith("free") and probe("sei_jira").startswith("held:")
