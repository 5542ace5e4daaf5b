"""The `sei` command line, run as a user would run it."""
from __future__ import annotations

import csv
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

SEI = [sys.executable, "-m", "sei.cli"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("cmd", [[], ["sim"], ["sim", "serve"], ["sim", "truth"], ["sim", "export-org"], ["ingest"], ["demo"],
                                 ["dagster"]])
def test_every_command_has_help(cmd):
    r = subprocess.run([*SEI, *cmd, "--help"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout


def test_sim_serve_answers_and_stops_on_sigterm():
    port = _free_port()
    p = subprocess.Popen([*SEI, "sim", "serve", "--size", "tiny", "--seed", "3", "--port", str(port)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                h = requests.get(f"http://127.0.0.1:{port}/_sim/health", timeout=1).json()
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        else:
            pytest.fail("simulator did not start: " + p.stderr.read())
        assert h["size"] == "tiny" and h["seed"] == 3
    finally:
        p.send_signal(signal.SIGTERM)
        out, _ = p.communicate(timeout=20)
    assert p.returncode == 0
    assert "ghp_simulator_token" in out


def test_bad_size_is_a_clear_error():
    r = subprocess.run([*SEI, "sim", "truth", "--out", "/nonexistent-dir-x", "--size", "huge"], capture_output=True, text=True)
    assert r.returncode == 2
    assert "'huge' is not one of 'tiny', 'small', 'medium', 'large'" in r.stderr


def test_export_org_writes_the_documented_files(tmp_path, tiny_world):
    r = subprocess.run([*SEI, "sim", "export-org", str(tmp_path), "--size", "tiny", "--seed", "7"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    devs = list(csv.DictReader(open(tmp_path / "developers.csv", encoding="utf-8")))
    world_devs = tiny_world["developers"]
    assert len(devs) == (world_devs.start_at <= tiny_world.now).sum()
    assert {d["developer_id"] for d in devs} <= set(world_devs.dev_id)
    assert all("nan" not in d.values() for d in devs)
    tree = list(csv.DictReader(open(tmp_path / "org_tree_reporting.csv", encoding="utf-8")))
    assert sum(1 for t in tree if not t["parent_team_id"]) == 1
    assert {t["team_id"] for t in tree} == set(tiny_world["teams"].team_id)
    mem = list(csv.DictReader(open(tmp_path / "memberships.csv", encoding="utf-8")))
    moved = [m for m in mem if m["tree"] == "reporting" and m["valid_to"]]
    assert moved, "team moves are exported as dated memberships"
    svc = list(csv.DictReader(open(tmp_path / "services.csv", encoding="utf-8")))
    assert len(svc) == len(tiny_world["services"])
