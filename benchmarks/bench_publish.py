"""Serving publish benchmark: a full publish against publishes that write only what changed.

    python -m benchmarks.bench_publish --warehouse FILE [--change MART] [--runs 3] [--policy P --sources S]

`--warehouse`: a working warehouse with its marts built (what `make run`, `sei demo` or
`python -m benchmarks.bench_refresh --keep DIR` leaves); it is copied first and never written.
On the copy, each of `--runs` rounds times:
  full          `publish_serving(full=True)`: every table written to a new file;
  unchanged     every mart rebuilt by dbt with the same rows (here: each table rewritten in
                another order), then an incremental publish: nothing but the metadata written;
  one changed   one row of `--change` (default: the mart with the most rows) deleted, then an
                incremental publish: that table (and any view over it) written;
  all changed   one row of every mart deleted: every table written, on a copy of the file;
  attach+CTAS   the other way of carrying unchanged tables over (the previous serving file
                attached and every unchanged table copied from it with CREATE TABLE AS), for
                the record: the file copy is what publish_serving does.
After each incremental publish the file is checked against a full publish of the same
warehouse, table by table (the fingerprints of every table, metadata included). With
`--policy` and `--sources`, the per-principal scope files (DuckDB) are timed the same way:
in full, unchanged, and after the one mart changed. Prints a table, then the figures as JSON.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import duckdb


def _sql(path: Path, *statements: str) -> None:
    con = duckdb.connect(str(path))
    try:
        for s in statements:
            con.execute(s)
    finally:
        con.close()


def _tables(path: Path) -> dict[str, tuple[str, str]]:
    """Every table's columns and content fingerprint; the publish times left out."""
    from core.publish import _relations, fingerprints
    con = duckdb.connect()
    try:
        con.execute(f"attach '{path}' as f (read_only)")
        if "published_at" in {r[0] for r in con.execute(
                "select column_name from information_schema.columns where table_catalog = 'f' "
                "and table_name = 'published_tables'").fetchall()}:
            con.execute("create temp table published as select table_name, row_count from f.serving_meta.published_tables")
        rels = _relations(con, "f", ["marts", "serving_meta"])
        fps = {k: (v.columns, v.content) for k, v in fingerprints(con, "f", rels).items()
               if k != "serving_meta.published_tables"}
        fps["published"] = con.execute("select count(*), sum(hash(table_name, row_count)::hugeint) "
                                       "from published").fetchone()
        return fps
    finally:
        con.close()


def _marts(path: Path) -> dict[str, int]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {n: con.execute(f'select count(*) from marts."{n}"').fetchone()[0] for n, in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_type = 'BASE TABLE' order by 1").fetchall()}
    finally:
        con.close()


def _attach_ctas(wh: Path, previous: Path, out: Path, changed: str) -> float:
    t0 = time.perf_counter()
    con = duckdb.connect()
    try:
        con.execute(f"attach '{wh}' as src (read_only)")
        con.execute(f"attach '{previous}' as old (read_only)")
        con.execute(f"attach '{out}' as pub (storage_version 'v1.0.0')")
        con.execute("create schema pub.marts")
        for (n,) in con.execute("select table_name from information_schema.tables where table_catalog = 'src' "
                                "and table_schema = 'marts'").fetchall():
            con.execute(f'create table pub.marts."{n}" as select * from {"src" if n == changed else "old"}.marts."{n}"')
        con.execute("detach pub")
    finally:
        con.close()
    return time.perf_counter() - t0


def _scopes(wh: Path, work: Path, policy: Path, sources: Path | None, change: str, runs: int) -> dict[str, list]:
    from rbac_policies.duck import publish_scopes
    out: dict[str, list] = {"scopes full": [], "scopes unchanged": [], "scopes one changed": []}
    for _ in range(runs):
        for label, full in (("scopes full", True), ("scopes unchanged", None)):
            r = publish_scopes(policy, work / "scopes", wh, sources, full=full)
            out[label].append({"s": r.seconds, "rewritten": r.rewritten, "kept": r.kept, "files": len(r.files)})
        _sql(wh, f'delete from marts."{change}" where rowid = (select min(rowid) from marts."{change}")')
        r = publish_scopes(policy, work / "scopes", wh, sources)
        out["scopes one changed"].append({"s": r.seconds, "rewritten": r.rewritten, "kept": r.kept, "files": len(r.files)})
    return out


def run(warehouse: Path, change: str | None = None, runs: int = 3, policy: Path | None = None,
        sources: Path | None = None) -> dict:
    from core.publish import publish_serving
    work = Path(tempfile.mkdtemp(prefix="sei-bench-publish-"))
    try:
        wh, serving, reference = work / "sei.duckdb", work / "serving.duckdb", work / "reference.duckdb"
        shutil.copyfile(warehouse, wh)
        marts = _marts(wh)
        change = change or max(marts, key=marts.get)
        rounds: dict[str, list] = {k: [] for k in ("full", "unchanged", "one changed", "all changed", "attach+CTAS")}

        def incremental(label: str) -> None:
            r = publish_serving(wh, serving)
            publish_serving(wh, reference, full=True)
            assert _tables(serving) == _tables(reference), f"{label}: the incremental file differs from a full publish"
            rounds[label].append({"s": r.duration_s, "fingerprints_s": r.fingerprint_s, "rewritten": len(r.rewritten),
                                  "kept": len(r.kept), "full": r.full, "bytes": r.size_bytes})

        for _ in range(runs):
            r = publish_serving(wh, serving, full=True)
            rounds["full"].append({"s": r.duration_s, "fingerprints_s": r.fingerprint_s, "rewritten": len(r.rewritten),
                                   "kept": 0, "full": True, "bytes": r.size_bytes})
            _sql(wh, *[f'create or replace table marts."{n}" as select * from marts."{n}" order by random()'
                       for n in marts])
            incremental("unchanged")
            _sql(wh, f'delete from marts."{change}" where rowid = (select min(rowid) from marts."{change}")')
            incremental("one changed")
            rounds["attach+CTAS"].append({"s": _attach_ctas(wh, reference, work / "ctas.duckdb", change)})
            (work / "ctas.duckdb").unlink()
            _sql(wh, *[f'delete from marts."{n}" where rowid = (select min(rowid) from marts."{n}")' for n in marts])
            incremental("all changed")
        if policy:
            rounds.update(_scopes(wh, work, policy, sources, change, runs))
        rows = sum(_marts(wh).values())
        return {"warehouse": str(warehouse), "marts": len(marts), "rows": rows, "changed_mart": change,
                "changed_mart_rows": marts[change], "runs": rounds,
                "median_s": {k: round(statistics.median(x["s"] for x in v), 2) for k, v in rounds.items()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def format_result(r: dict) -> str:
    lines = [f"{r['marts']} marts, {r['rows']:,} rows; one changed: {r['changed_mart']} ({r['changed_mart_rows']:,} rows)",
             "| publish | median s | fingerprints s | tables rewritten / kept | file MB |", "|---|---|---|---|---|"]
    for k, v in r["runs"].items():
        last = v[-1]
        fp = f"{statistics.median(x['fingerprints_s'] for x in v):.2f}" if "fingerprints_s" in last else "-"
        tk = f"{last['rewritten']} / {last['kept']}" if "rewritten" in last else "-"
        mb = f"{last['bytes'] / 1e6:.1f}" if "bytes" in last else "-"
        lines.append(f"| {k} | {r['median_s'][k]:.2f} | {fp} | {tk} | {mb} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a warehouse with its marts built (copied, not written)")
    ap.add_argument("--change", default=None, help="the mart changed in the 'one changed' round (default: the largest)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--policy", type=Path, default=None, help="also time the scope files of this policy")
    ap.add_argument("--sources", type=Path, default=None, help="the sources file the policy's projects are in")
    args = ap.parse_args(argv)
    r = run(args.warehouse, args.change, args.runs, args.policy, args.sources)
    print(format_result(r))
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
