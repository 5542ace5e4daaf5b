"""DuckDB vs Spark: the full `dbt build` (every model, seed, snapshot, unit and data test)
of one loaded warehouse on DuckDB and on Spark `local[2]`, each in its own process.

    python -m benchmarks.bench_spark --warehouse FILE       # a warehouse loaded by the job
    python -m benchmarks.bench_spark --size small [--seed 1] # load the simulated org first
    python -m benchmarks.run spark --spark-warehouse FILE | --spark-sizes small

The warehouse is copied first (the DuckDB build writes its marts into the copy; the file you
pass is only read). Reported per engine: wall time of the build, peak memory (resident set
of the whole process tree, sampled every 0.2 s: dbt's Python process, and for Spark its
JVM), nodes and failures, and the 15 slowest nodes (dbt's own execution time per node).
Spark's figure includes starting its JVM and declaring the lake's tables (the on-run-start
hook); the export of the raw datasets to the Parquet lake is timed apart. The ratio is
Spark's build time over DuckDB's.

Settings read: SEI_SPARK_MASTER (default local[2]), SEI_SPARK_SHUFFLE_PARTITIONS (default 2),
SEI_DUCKDB_MEMORY_LIMIT (default 4GB), as the engines use them (docs/engines.md).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _tree_rss(pid: int) -> int:
    """Resident bytes of `pid` and every descendant (from /proc)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(d))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/status") as f:
                total += next((int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def run_measured(cmd: list[str], env: dict, log: Path) -> tuple[int, float, int]:
    """(exit status, wall seconds, peak tree RSS bytes) of a command."""
    peak = [0]
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)

        def sample():
            while proc.poll() is None:
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.2)
        th = threading.Thread(target=sample, daemon=True)
        th.start()
        status = proc.wait()
        seconds = time.perf_counter() - t0
        th.join()
    return status, seconds, peak[0]


def _dbt_cmd(target_name: str, target: Path, *extra: str) -> list[str]:
    dbt = Path(sys.executable).parent / "dbt"
    return [str(dbt), "build", "--target", target_name, "--project-dir", str(ROOT / "dbt_project"),
            "--profiles-dir", str(ROOT / "dbt_project"), "--target-path", str(target),
            "--log-path", str(target / "logs"), *extra]


def _results(target: Path) -> dict:
    res = json.loads((target / "run_results.json").read_text())["results"]
    kinds: dict[str, int] = {}
    for r in res:
        k = r["unique_id"].split(".")[0]
        kinds[k] = kinds.get(k, 0) + 1
    slowest = sorted(((r["unique_id"].split(".", 2)[-1], r["execution_time"]) for r in res), key=lambda x: -x[1])
    total = sum(r["execution_time"] for r in res)
    by_layer: dict[str, float] = {}
    for r in res:
        uid = r["unique_id"]
        layer = ("test" if uid.startswith(("test.", "unit_test.")) else
                 "marts" if ".marts." in uid or "/marts/" in r.get("relative_path", "") else uid.split(".")[0])
        by_layer[layer] = by_layer.get(layer, 0.0) + r["execution_time"]
    return {"nodes": len(res), "by_kind": kinds, "failed": [r["unique_id"] for r in res
                                                            if r["status"] not in ("success", "pass")],
            "node_seconds": round(total, 1),
            "top15": [(n, round(s, 1), round(100 * s / total, 1) if total else 0) for n, s in slowest[:15]]}


def build_duckdb(db: Path, work: Path) -> dict:
    target = work / "duck_target"
    env = {**os.environ, "SEI_WAREHOUSE": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "SEI_ENGINE": "duckdb", "SEI_DESTINATION": "", "SEI_DBT_TARGET": ""}
    status, seconds, peak = run_measured(_dbt_cmd("duckdb", target), env, work / "duck_build.log")
    return {"engine": "duckdb", "status": status, "seconds": round(seconds, 1), "peak_rss_gib": round(peak / 2**30, 2),
            **(_results(target) if (target / "run_results.json").exists() else {})}


def build_spark(db: Path, work: Path) -> dict:
    from ingestion.lake import check_java, export_to_lake, lake_tables
    check_java()
    lake = (work / "lake").resolve()
    t0 = time.perf_counter()
    exported = export_to_lake(db, lake)
    export_s = time.perf_counter() - t0
    target = work / "spark_target"
    dbt_vars = json.dumps({"sei_lake": str(lake), "sei_lake_tables": lake_tables(lake)})
    env = {**os.environ, "SEI_WAREHOUSE": str(db), "SEI_LAKE": str(lake), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "SEI_ENGINE": "spark", "SEI_DESTINATION": "", "SEI_DBT_TARGET": ""}
    status, seconds, peak = run_measured(_dbt_cmd("spark", target, "--vars", dbt_vars), env, work / "spark_build.log")
    return {"engine": "spark", "master": os.environ.get("SEI_SPARK_MASTER", "local[2]"), "status": status,
            "seconds": round(seconds, 1), "peak_rss_gib": round(peak / 2**30, 2),
            "lake_export_s": round(export_s, 1), "lake_tables": len(exported), "lake_rows": sum(exported.values()),
            **(_results(target) if (target / "run_results.json").exists() else {})}


def run(warehouse: Path | None = None, size: str | None = None, seed: int = 1, engines=("duckdb", "spark"),
        keep: bool = False) -> dict:
    work = Path(tempfile.mkdtemp(prefix="sei-bench-spark-"))
    setup = {}
    if warehouse is None:
        from benchmarks.bench_dora import load
        warehouse, setup = load(size or "small", seed, work / "load")
    warehouse = Path(warehouse)
    if not warehouse.exists():
        raise SystemExit(f"{warehouse}: no such warehouse. Fix: pass a file the main job loaded (--warehouse), "
                         "or --size to load the simulated org first.")
    db = work / "sei.duckdb"
    shutil.copy(warehouse, db)  # the builds write marts: never into the file given
    result = {"warehouse": str(warehouse), "size": size, "warehouse_gib": round(db.stat().st_size / 2**30, 2),
              "setup": setup}
    try:
        if "duckdb" in engines:
            result["duckdb"] = build_duckdb(db, work)
        if "spark" in engines:
            result["spark"] = build_spark(db, work)
        if "duckdb" in result and "spark" in result and result["duckdb"]["seconds"]:
            result["ratio_spark_over_duckdb"] = round(result["spark"]["seconds"] / result["duckdb"]["seconds"], 1)
    finally:
        if keep:
            result["work"] = str(work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return result


def format_result(r: dict) -> str:
    lines = [f"dbt build of {r['warehouse']} ({r['warehouse_gib']} GiB)"]
    for e in ("duckdb", "spark"):
        if e not in r:
            continue
        x = r[e]
        extra = f", lake export {x['lake_export_s']} s ({x['lake_tables']} tables)" if e == "spark" else ""
        lines.append(f"  {e:6s}: {x['seconds']} s wall, peak {x['peak_rss_gib']} GiB, {x.get('nodes')} nodes "
                     f"{x.get('by_kind')}, failed {len(x.get('failed', []))}, exit {x['status']}{extra}")
        for n, s, pct in x.get("top15", []):
            lines.append(f"      {s:7.1f} s {pct:5.1f}%  {n}")
    if "ratio_spark_over_duckdb" in r:
        lines.append(f"  Spark / DuckDB: {r['ratio_spark_over_duckdb']}x")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--warehouse", type=Path, help="a loaded warehouse (DuckDB file); only read")
    src.add_argument("--size", help="load the simulated org of this size first (tiny, small, medium, large)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (builds, logs, lake)")
    args = ap.parse_args()
    r = run(args.warehouse, args.size, args.seed, tuple(args.engines.split(",")), args.keep)
    print(format_result(r))
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
