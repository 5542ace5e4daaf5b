"""`make bench`: run the benchmarks and print figures for docs/benchmarks.md.

    python -m benchmarks.run [simulator|ingest|dora|refresh|webhooks|dashboards|parse|all] [--sizes tiny,small,medium,large]
                             [--ingest-sizes medium] [--dora-sizes medium] [--refresh-sizes medium]
                             [--webhook-sizes small]
                             [--dashboards-serving FILE | --dashboards-scopes DIR --dashboards-principal P]

`dashboards` measures every dashboard page on published data (benchmarks/bench_dashboards.py);
it needs the serving file or a scopes folder and principal, and is skipped without them.
`ingest` runs a full GitHub sync of each of `--ingest-sizes` (default medium; `large`
needs ~4 GB for the simulator and takes about 20 minutes on 2 cores). `spark` (not part of
`all`: it takes tens of minutes per org) builds a warehouse on DuckDB and on Spark
local[2] (benchmarks/bench_spark.py). `parse` times dbt's parse as the orchestrated runs pay
it, and what reusing a saved parse saves (benchmarks/bench_parse.py).
"""
from __future__ import annotations

import argparse
import json
import os
import platform


def machine() -> str:
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", nargs="?", default="all")
    ap.add_argument("--sizes", default="tiny,small,medium,large")
    ap.add_argument("--ingest-sizes", default="medium")
    ap.add_argument("--dora-sizes", default="medium", help="orgs to build the DORA marts for (bench_dora)")
    ap.add_argument("--spark-sizes", default="small", help="orgs to load and build on DuckDB and Spark (bench_spark)")
    ap.add_argument("--spark-warehouse", default=None, help="a loaded warehouse to build instead (bench_spark)")
    ap.add_argument("--dashboards-serving", default=None, help="serving file the dashboards read (bench_dashboards)")
    ap.add_argument("--dashboards-scopes", default=None, help="scopes folder (with --dashboards-principal)")
    ap.add_argument("--dashboards-principal", default=None, help="whose scope file the dashboards read")
    ap.add_argument("--dashboards-runs", type=int, default=3, help="renders per page (bench_dashboards)")
    ap.add_argument("--webhook-sizes", default="small", help="orgs to measure webhook freshness on (bench_webhooks)")
    ap.add_argument("--refresh-sizes", default="medium",
                    help="orgs to run the whole sei_refresh job for, full then hourly (bench_refresh)")
    args = ap.parse_args()
    print("machine:", machine())
    results = {}
    if args.what in ("simulator", "all"):
        from benchmarks import bench_simulator
        results["generation"] = bench_simulator.generation(args.sizes.split(","))
        results["graphql"] = bench_simulator.graphql_pages()
    if args.what in ("ingest", "all"):
        from benchmarks import bench_ingest
        results["ingest"] = []
        for size in args.ingest_sizes.split(","):
            r = bench_ingest.full_sync(size, quiet=True)
            print(bench_ingest.format_result(r), flush=True)
            results["ingest"].append(r)
    if args.what in ("dora", "all"):
        from benchmarks import bench_dora
        results["dora"] = []
        for size in args.dora_sizes.split(","):
            r = bench_dora.run(size)
            print(bench_dora.format_result(r), flush=True)
            results["dora"].append(r)
    if args.what in ("refresh", "all"):
        from benchmarks import bench_refresh
        results["refresh"] = [bench_refresh.run(size) for size in args.refresh_sizes.split(",")]
    if args.what in ("webhooks", "all"):
        from benchmarks import bench_webhooks
        r = bench_webhooks.receiver()
        print(bench_webhooks.format_receiver(r), flush=True)
        results["webhooks"] = {"receiver": r, "freshness": []}
        for size in args.webhook_sizes.split(","):
            f = bench_webhooks.freshness(size)
            print(bench_webhooks.format_freshness(f), flush=True)
            results["webhooks"]["freshness"].append(f)
    if args.what in ("dashboards", "all"):
        from pathlib import Path

        from benchmarks import bench_dashboards
        if args.dashboards_serving or args.dashboards_scopes:
            r = bench_dashboards.run(Path(args.dashboards_serving) if args.dashboards_serving else None,
                                     Path(args.dashboards_scopes) if args.dashboards_scopes else None,
                                     args.dashboards_principal, args.dashboards_runs)
            print(bench_dashboards.table(r), flush=True)
            results["dashboards"] = r
        else:
            print("dashboards: skipped (give --dashboards-serving FILE, or --dashboards-scopes DIR "
                  "--dashboards-principal P)", flush=True)
    if args.what in ("parse", "all"):
        from benchmarks import bench_parse
        results["parse"] = bench_parse.run()
        for k, v in results["parse"].items():
            print(f"parse: {k} {v:.2f} s", flush=True)
    if args.what == "spark":
        from benchmarks import bench_spark
        runs = [dict(warehouse=args.spark_warehouse)] if args.spark_warehouse else \
            [dict(size=size) for size in args.spark_sizes.split(",")]
        results["spark"] = []
        for kw in runs:
            r = bench_spark.run(**kw)
            print(bench_spark.format_result(r), flush=True)
            results["spark"].append(r)
    print(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
