"""What dbt's parse costs the orchestrated runs, and what reusing it saves.

    python -m benchmarks.bench_parse [--repeat 3]

Three figures, each the median of `--repeat` runs, in a temporary folder with an empty
warehouse (parsing reads no data, so the org's size does not matter):

- loading the definitions: `prepare_manifest()` with nothing saved (a `dbt parse` of the
  whole project) and again with nothing changed (the saved manifest reused). Every process
  that loads the code location pays it: the code server, the daemon, and each step of a run
  under the multiprocess executor;
- a dbt invocation's parse: `dbt parse` in a new target folder (what every Dagster run's
  dbt step did, each run having a folder of its own), then in a folder holding the last
  run's saved parse with the same vars, and with a window that moved (the window reaches
  dbt in its environment, read only while executing, so it costs no parse).
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.common import environ

PROJECT = Path(__file__).resolve().parent.parent / "dbt_project"


def _timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _dbt_parse(target: Path, env: dict) -> None:
    from orchestration.dbt import dbt_executable
    proc = subprocess.run([dbt_executable(), "parse", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                           "--target-path", str(target), "--log-path", str(target / "logs"), "--quiet"],
                          capture_output=True, text=True, env={**os.environ, **env})
    if proc.returncode != 0:
        raise RuntimeError(proc.stdout[-2000:] + proc.stderr[-2000:])


def run(repeat: int = 3) -> dict[str, float]:
    from orchestration.dbt import prepare_manifest
    tmp = Path(tempfile.mkdtemp(prefix="sei-bench-parse-"))
    out: dict[str, list[float]] = {k: [] for k in ("definitions_cold", "definitions_reused", "dbt_parse_cold",
                                                  "dbt_parse_saved", "dbt_parse_saved_window_moved")}
    try:
        with environ({"SEI_WAREHOUSE": str(tmp / "sei.duckdb"), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                      "SEI_DBT_TARGET_PATH": None}):
            for i in range(repeat):
                shutil.rmtree(tmp / ".dbt_target", ignore_errors=True)
                out["definitions_cold"].append(_timed(prepare_manifest))
                out["definitions_reused"].append(_timed(prepare_manifest))
                cold, saved = tmp / f"cold{i}", tmp / f"saved{i}"
                out["dbt_parse_cold"].append(_timed(lambda: _dbt_parse(cold, {})))
                saved.mkdir()
                shutil.copy(cold / "partial_parse.msgpack", saved / "partial_parse.msgpack")
                out["dbt_parse_saved"].append(_timed(lambda: _dbt_parse(saved, {})))
                out["dbt_parse_saved_window_moved"].append(_timed(
                    lambda: _dbt_parse(saved, {"SEI_DBT_WINDOW_START": f"2026-11-0{i + 1}T00:00:00"})))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {k: statistics.median(v) for k, v in out.items()}


def main() -> None:
    from benchmarks.run import machine
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    print("machine:", machine())
    for k, v in run(args.repeat).items():
        print(f"{k:32s} {v:6.2f} s")


if __name__ == "__main__":
    main()
