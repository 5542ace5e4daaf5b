"""Org import benchmark: validate and import the simulator's large organisation (5,000
engineers plus ~700 managers, two trees, ~11,000 membership rows) into a fresh DuckDB.

    python -m benchmarks.bench_org [--size large] [--seed 1]

Target (the org-tree issue): importing and validating 5,000 developers in under 10 s.
Only the organisation is generated (no activity history), so the run takes seconds.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def org_world(size: str = "large", seed: int = 1):
    """A World holding only the organisation tables (what export_org reads)."""
    from simulator.org import DAY, build_org
    from simulator.sizes import SIZES
    from simulator.world import DEFAULT_NOW, HORIZON_DAYS, World
    spec = SIZES[size]
    start = DEFAULT_NOW - spec.history_days * DAY
    org = build_org(spec, np.random.default_rng(seed), start, DEFAULT_NOW + HORIZON_DAYS * DAY)
    return World(size=size, seed=seed, start=start, now=DEFAULT_NOW, end=DEFAULT_NOW + HORIZON_DAYS * DAY, t=org)


def run(size: str = "large", seed: int = 1) -> dict:
    from ingestion.org.store import connect, import_org, render_tree
    from ingestion.org.validate import OrgFiles
    from simulator.export import export_org
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        w = org_world(size, seed)
        export_org(w, tmp / "org")
        files = OrgFiles.from_dir(tmp / "org")
        rows = {p.name: sum(1 for _ in p.open(encoding="utf-8")) - 1 for p in sorted((tmp / "org").glob("*.csv"))}
        wh = tmp / "sei.duckdb"
        out: dict = {"size": size, "rows": rows}
        t = time.perf_counter()
        r = import_org(files, warehouse=wh, dry_run=True)
        out["validate_s"] = time.perf_counter() - t
        assert r.ok, r.org.error_message()
        t = time.perf_counter()
        r = import_org(files, warehouse=wh)
        out["first_import_s"] = time.perf_counter() - t
        assert r.status == "accepted", r.org.error_message()
        t = time.perf_counter()
        r = import_org(files, warehouse=wh, effective_date=dt.date(2026, 11, 2))
        out["second_import_s"] = time.perf_counter() - t
        out["developers"], out["memberships"] = r.changes["developers"], r.changes["memberships"]
        con = connect(wh, read_only=True)
        t = time.perf_counter()
        render_tree(con, "reporting")
        out["show_s"] = time.perf_counter() - t
        con.close()
        out["warehouse_mb"] = wh.stat().st_size / 2**20
    print(f"org import {size}: {out['developers']:,} developers, {out['memberships']:,} memberships; "
          f"validate {out['validate_s']:.2f}s, first import {out['first_import_s']:.2f}s, "
          f"second import {out['second_import_s']:.2f}s, show {out['show_s']:.2f}s (target < 10 s)", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="large")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    from benchmarks.run import machine
    print("machine:", machine())
    print(json.dumps(run(a.size, a.seed), indent=1, default=str))


if __name__ == "__main__":
    main()
