"""DORA marts build benchmark: how long `dbt run` takes to build the DORA marts and
everything under them (staging views, org marts, the PR timeline, the DORA intermediate
models, the facts and the weekly/monthly service and team metrics) on a loaded warehouse.

    python -m benchmarks.bench_dora [--size medium] [--seed 1] [--warehouse FILE] [--keep] [--resume DIR]

Without --warehouse it first loads the simulated org of --size through the real connectors
(GitHub, Jira, Harness, events files), imports the org, resolves identities and applies the
profiles: that setup is timed separately and is not part of the figure (the large org's
GitHub sync alone takes about 20 minutes; pass --warehouse to reuse a loaded file, or
--resume with the folder of an interrupted setup: sources already loaded there are kept).
Target (issue 5): the marts of the large org in under 2 minutes on 2 cores.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SELECT = ["+path:models/marts/dora", "+bridge_deployment_team", "+bridge_incident_team"]


SOURCES = ("github", "jira", "harness", "events")


def _loaded_sources(db: Path) -> set[str]:
    """Sources whose raw dataset holds a completed dlt load."""
    import duckdb

    from ingestion.destination import has_table
    if not db.exists():
        return set()
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {s for s in SOURCES if has_table(con, f"raw_{s}", "_dlt_loads") and
                con.execute(f"select count(*) from raw_{s}._dlt_loads where status = 0").fetchone()[0]}
    finally:
        con.close()


def load(size: str, seed: int, tmp: Path) -> tuple[Path, dict]:
    """A warehouse with the simulated org of `size` loaded; returns it and the setup timings."""
    from ingestion import pipeline
    from ingestion.org.identities import resolve_warehouse
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from core.profiles import apply_profiles
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    from benchmarks.bench_ingest import simulator
    from benchmarks.common import environ
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN

    db, t = tmp / "sei.duckdb", {}
    t0 = time.perf_counter()
    world = generate(size, seed=seed)
    t["generate_s"] = time.perf_counter() - t0
    env = {"SEI_WAREHOUSE": str(db), "SEI_WAIT_SCALE": "0.001", "SEI_DESTINATION": "duckdb",
           "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SOURCES__HARNESS__API_KEY": HARNESS_API_KEY,
           "SOURCES__JIRA__EMAIL": JIRA_EMAIL, "SOURCES__JIRA__API_TOKEN": JIRA_TOKEN}
    t0 = time.perf_counter()
    # The simulator serves from its own process (as in bench_ingest): in this one it would
    # share the GIL with the connector and the large org's load would take twice as long.
    with simulator(size, seed, tmp / "simulator_sources.yml") as sim:
        events = export_events(world, tmp / "events")
        env["SEI_SOURCES"] = str(export_sources(world, tmp / "sources.yml", sim["url"], events))
        with environ(env):
            todo = [s for s in SOURCES if s not in _loaded_sources(db)]
            t["sources_loaded"] = todo
            result = pipeline.run(todo, progress=False)
            if not result.ok:
                raise RuntimeError([(s.source, s.status, s.error_message) for s in result.sources])
    t["ingest_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    export_org(world, tmp / "org")
    import_org(OrgFiles.from_dir(tmp / "org"), warehouse=db)
    resolve_warehouse(db)
    apply_profiles(db)
    t["org_and_profiles_s"] = time.perf_counter() - t0
    return db, t


def _dbt(db: Path, target: Path, *args: str) -> subprocess.CompletedProcess:
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "SEI_WAREHOUSE": str(db), "SEI_DBT_TARGET": "duckdb", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    return subprocess.run([str(dbt), *args, "--project-dir", str(ROOT / "dbt_project"),
                           "--profiles-dir", str(ROOT / "dbt_project"), "--target-path", str(target),
                           "--log-path", str(target / "logs")], capture_output=True, text=True, env=env)


def build(db: Path, target: Path, command: str = "run") -> dict:
    seed = _dbt(db, target, "seed", "--select", "dora_performance_bands")  # the bands (not timed)
    if seed.returncode != 0:
        raise RuntimeError(seed.stdout[-3000:])
    t0 = time.perf_counter()
    out = _dbt(db, target, command, "--select", *SELECT)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stdout[-3000:])
    res = json.loads((target / "run_results.json").read_text())["results"]
    slowest = sorted(((r["unique_id"].split(".")[-1], r["execution_time"]) for r in res), key=lambda x: -x[1])[:6]
    return {"command": command, "seconds": round(seconds, 1), "nodes": len(res),
            "slowest": [(n, round(s, 1)) for n, s in slowest]}


def rows(db: Path) -> dict:
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"select count(*) from marts.{t}").fetchone()[0]
                for t in ("fct_deployments", "fct_changes", "fct_incidents", "dora_team_weekly", "dora_service_weekly")}
    finally:
        con.close()


def run(size: str = "medium", seed: int = 1, warehouse: Path | None = None, keep: bool = False,
        resume: Path | None = None) -> dict:
    tmp = resume or Path(tempfile.mkdtemp(prefix=f"sei-bench-dora-{size}-"))
    setup = {}
    if warehouse is None:
        warehouse, setup = load(size, seed, tmp)
    result = {"size": size, "warehouse": str(warehouse) if keep else None, "setup": setup,
              "run": build(warehouse, tmp / "target_run", "run")}
    result["rows"] = rows(warehouse)
    result["second_run"] = build(warehouse, tmp / "target_run2", "run")  # warm file cache, same work
    return result


def format_result(r: dict) -> str:
    return (f"DORA marts, {r['size']} org: dbt run of {r['run']['nodes']} models in {r['run']['seconds']} s "
            f"(again: {r['second_run']['seconds']} s); rows {r['rows']}; slowest {r['run']['slowest']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="medium")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--warehouse", type=Path, default=None, help="a loaded warehouse to build on (skips the setup)")
    ap.add_argument("--keep", action="store_true", help="print where the loaded warehouse is, to reuse it")
    ap.add_argument("--resume", type=Path, default=None,
                    help="the folder of an interrupted setup (same size and seed): sources loaded there are kept")
    args = ap.parse_args()
    r = run(args.size, args.seed, args.warehouse, args.keep, args.resume)
    print(format_result(r))
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
