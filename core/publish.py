"""Publish the marts from the working warehouse to the serving file BI tools read.

DuckDB allows one writer or many readers, never both (DESIGN.md §1, "Serving"). Runs write
the working warehouse (`SEI_WAREHOUSE`); BI tools open only the serving file (`SEI_SERVING`,
default `serving.duckdb` beside the warehouse), read-only. A publish writes a new file beside
the serving one and swaps it into place with `os.replace`, which is atomic on one filesystem:
a reader that already holds the old file keeps reading it (its inode lives until it closes)
and sees the new data once it reconnects; no reader ever waits, nor sees half a refresh.

Only what changed is copied. dbt rebuilds most marts every run with the same rows, so
"changed" is decided by content: each table's fingerprint (its columns and types, its row
count and the sum of its rows' hashes, an order-independent aggregate DuckDB computes on the
warehouse far faster than it writes a table) is kept in the serving file's `serving_meta`
schema. When the previous file's fingerprints, tables and columns still fit, the new file
starts as a byte copy of the previous one (a file copy is a fraction of the cost of writing
compressed tables again) and only the tables whose fingerprint moved are dropped and
written again; the copy is then swapped in exactly like a full publish. It is written in full
when there is no usable previous file, the set of tables or a table's columns changed, the
publish code, DuckDB, the storage version or the access policy changed, every table changed
(nothing to carry over), the previous file has grown past `SEI_PUBLISH_MAX_GROWTH` times its live data (dropped tables leave free blocks
behind), or `SEI_PUBLISH_FULL=1` / `sei publish --full` asks for it (docs/orchestration.md).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import logging
import os
import shutil
from pathlib import Path
from typing import Iterable

import duckdb

from ingestion.lock import writes_warehouse
from core.settings import warehouse_path

# DuckDB 2.x writes files that 1.x cannot open unless told otherwise; many BI drivers still
# embed DuckDB 1.x. `SEI_SERVING_STORAGE_VERSION` overrides it (e.g. "latest").
DEFAULT_STORAGE_VERSION = "v1.0.0"
META_SCHEMA = "serving_meta"
FULL_ENV = "SEI_PUBLISH_FULL"
GROWTH_ENV = "SEI_PUBLISH_MAX_GROWTH"
DEFAULT_MAX_GROWTH = 1.5
# free space below this is left alone whatever the ratio: the meta tables and a few small marts
# rewritten each run would otherwise push a small file past the ratio every other publish
MIN_FREE_BYTES = 16 * 2**20
# serving_meta tables: published_tables is what readers use ("data as of"); the other two are
# the publisher's own memory of what the file holds
FINGERPRINTS, PUBLISH_KEY = "table_fingerprints", "publish_key"

log = logging.getLogger("sei.publish")


def serving_path() -> Path:
    """The file BI tools open read-only (`SEI_SERVING`, default `serving.duckdb` beside the warehouse)."""
    env = os.environ.get("SEI_SERVING")
    return Path(env) if env else warehouse_path().parent / "serving.duckdb"


@dataclasses.dataclass
class PublishResult:
    path: Path
    tables: dict[str, int]          # "schema.table" -> rows published
    published_at: dt.datetime
    duration_s: float
    full: bool = True               # written in full, or as a copy of the previous file
    reason: str = ""                # why in full (empty when incremental)
    rewritten: list[str] = dataclasses.field(default_factory=list)   # tables written from the warehouse
    kept: list[str] = dataclasses.field(default_factory=list)        # tables carried over from the previous file
    size_bytes: int = 0
    fingerprint_s: float = 0.0      # of duration_s: the fingerprints of the warehouse's tables

    @property
    def rows(self) -> int:
        return sum(self.tables.values())

    def summary(self) -> str:
        how = f"in full ({self.reason})" if self.full else "incrementally"
        return (f"published {self.path} {how}: {len(self.rewritten)} tables rewritten"
                f"{' (' + ', '.join(self.rewritten) + ')' if self.rewritten and not self.full else ''}, "
                f"{len(self.kept)} kept, {self.rows:,} rows, {self.size_bytes / 1e6:.1f} MB, {self.duration_s:.2f} s "
                f"(fingerprints {self.fingerprint_s:.2f} s)")


@dataclasses.dataclass(frozen=True)
class Fingerprint:
    columns: str        # "name type, ..." in order: a change means a full rewrite
    rows: int
    content: str        # row count and the sum of the rows' hashes


def _relations(con: duckdb.DuckDBPyConnection, catalog: str, schemas: Iterable[str]) -> list[tuple[str, str]]:
    schemas = list(schemas)
    marks = ", ".join("?" for _ in schemas)
    return [tuple(r) for r in con.execute(
        f"select table_schema, table_name from information_schema.tables "
        f"where table_catalog = ? and table_schema in ({marks}) order by 1, 2", [catalog, *schemas]).fetchall()]


def _literal(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def fingerprints(con, catalog: str, relations: list[tuple[str, str]]) -> dict[str, Fingerprint]:
    """"schema.table" -> its fingerprint, read from `catalog` (the working warehouse)."""
    cols: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for s, n, c, t in con.execute("select table_schema, table_name, column_name, data_type from information_schema.columns "
                                  "where table_catalog = ? order by table_schema, table_name, ordinal_position",
                                  [catalog]).fetchall():
        cols.setdefault((s, n), []).append((c, t))
    out = {}
    for schema, name in relations:
        cs = cols[(schema, name)]
        # a sum, not a xor: two equal rows must not cancel out; hugeint so it cannot overflow
        rows, total = con.execute(
            f"select count(*), coalesce(sum(hash({', '.join(_quote(c) for c, _ in cs)})::hugeint), 0) "
            f"from {_quote(catalog)}.{_quote(schema)}.{_quote(name)}").fetchone()
        out[f"{schema}.{name}"] = Fingerprint(", ".join(f"{c} {t}" for c, t in cs), rows, f"{rows}:{total}")
    return out


def publish_key(version: str, schemas: Iterable[str]) -> dict[str, str]:
    """What every table's content in the file depends on beyond its rows: when any part
    differs from the previous publish's, the file is written in full."""
    from rbac_policies.policy import policy_path
    policy = policy_path()
    return {"publish code": hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16],
            "duckdb": duckdb.__version__, "storage version": version, "schemas": ",".join(schemas),
            "access policy": ("none" if policy is None else hashlib.sha256(policy.read_bytes()).hexdigest()[:16]
                              if policy.is_file() else f"missing {policy}")}


def max_growth() -> float:
    raw = os.environ.get(GROWTH_ENV, "").strip()
    try:
        value = float(raw) if raw else DEFAULT_MAX_GROWTH
    except ValueError:
        value = 0.0
    if value < 1.0:
        raise ValueError(f"{GROWTH_ENV}={raw!r}: not a number of at least 1. Fix: unset it (default "
                         f"{DEFAULT_MAX_GROWTH}) or set how many times its live data the serving file may grow to, "
                         f"e.g. 1.5.")
    return value


def file_growth(con, catalog: str, path: Path) -> tuple[float, int]:
    """(file size / its live blocks, bytes not in live blocks) of the DuckDB file attached as `catalog`."""
    block, used = con.execute("select block_size, used_blocks from pragma_database_size() where database_name = ?",
                              [catalog]).fetchone()
    size = path.stat().st_size
    return size / max(block * used, 1), size - block * used


def grown(growth: float, free: int, limit: float) -> bool:
    return growth > limit and free > MIN_FREE_BYTES


def full_requested() -> bool:
    return os.environ.get(FULL_ENV, "").strip().lower() in ("1", "true", "yes", "on")


@dataclasses.dataclass
class _Previous:
    key: dict[str, str]
    fingerprints: dict[str, Fingerprint]
    growth: float       # file size / its live blocks
    free: int           # bytes of the file not in live blocks


def _previous(con, target: Path, schemas: Iterable[str]) -> tuple[_Previous | None, str]:
    """The previous serving file's publish state, or None and why it cannot be built upon."""
    if not target.exists():
        return None, "no previous serving file"
    try:
        con.execute(f"attach {_literal(target)} as old (read_only)")
    except duckdb.Error as e:
        return None, f"the previous serving file could not be opened ({str(e).splitlines()[0]})"
    try:
        meta = {name for _, name in _relations(con, "old", [META_SCHEMA])}
        if not {FINGERPRINTS, PUBLISH_KEY} <= meta:
            return None, "the previous serving file has no fingerprints (written by an older version)"
        key = dict(con.execute(f"select part, value from old.{META_SCHEMA}.{PUBLISH_KEY}").fetchall())
        fps = {t: Fingerprint(c, n, h) for t, c, n, h in con.execute(
            f"select table_name, columns, row_count, content_hash from old.{META_SCHEMA}.{FINGERPRINTS}").fetchall()}
        held = {f"{s}.{n}" for s, n in _relations(con, "old", schemas)}
        if held != set(fps):
            return None, "the previous serving file's tables differ from its fingerprints"
        growth, free = file_growth(con, "old", target)
    finally:
        con.execute("detach old")
    return _Previous(key, fps, growth, free), ""


def _why_full(prev: _Previous | None, why: str, key: dict[str, str], fps: dict[str, Fingerprint],
              requested: bool, limit: float) -> str:
    """Why this publish must write the file in full; empty when the previous file can be built upon."""
    if requested:
        return f"a full publish was asked for ({FULL_ENV}=1 or --full)"
    if prev is None:
        return why
    moved = sorted(p for p in set(key) | set(prev.key) if key.get(p) != prev.key.get(p))
    if moved:
        return f"{', '.join(moved)} changed since the last publish"
    if set(fps) != set(prev.fingerprints):
        added, gone = sorted(set(fps) - set(prev.fingerprints)), sorted(set(prev.fingerprints) - set(fps))
        return "the set of tables changed" + (f"; new: {', '.join(added)}" if added else "") + \
            (f"; gone: {', '.join(gone)}" if gone else "")
    reshaped = sorted(t for t in fps if fps[t].columns != prev.fingerprints[t].columns)
    if reshaped:
        return f"the columns of {', '.join(reshaped)} changed"
    if all(fps[t].content != prev.fingerprints[t].content for t in fps):
        return "every table changed"     # nothing to carry over; a fresh file leaves no free space behind
    if grown(prev.growth, prev.free, limit):
        return (f"the serving file is {prev.growth:.2f} times its live data (limit {limit}, {GROWTH_ENV}), "
                f"{prev.free / 2**20:.0f} MiB free")
    return ""


def _write_meta(con, fps: dict[str, Fingerprint], key: dict[str, str], t0: dt.datetime) -> None:
    con.execute(f"create schema if not exists pub.{META_SCHEMA}")
    con.execute(f"create or replace table pub.{META_SCHEMA}.published_tables "
                f"(table_name varchar, row_count bigint, published_at timestamptz)")
    con.executemany(f"insert into pub.{META_SCHEMA}.published_tables values (?, ?, ?)",
                    [(k, f.rows, t0) for k, f in fps.items()])
    con.execute(f"create or replace table pub.{META_SCHEMA}.{FINGERPRINTS} "
                f"(table_name varchar, columns varchar, row_count bigint, content_hash varchar)")
    con.executemany(f"insert into pub.{META_SCHEMA}.{FINGERPRINTS} values (?, ?, ?, ?)",
                    [(k, f.columns, f.rows, f.content) for k, f in fps.items()])
    con.execute(f"create or replace table pub.{META_SCHEMA}.{PUBLISH_KEY} (part varchar, value varchar)")
    con.executemany(f"insert into pub.{META_SCHEMA}.{PUBLISH_KEY} values (?, ?)", sorted(key.items()))


@writes_warehouse()  # one writer at a time (ingestion/lock.py): the serving file too
def publish_serving(warehouse: str | os.PathLike | None = None, serving: str | os.PathLike | None = None,
                    schemas: Iterable[str] = ("marts",), storage_version: str | None = None,
                    full: bool | None = None) -> PublishResult:
    """Copy every table and view of `schemas` in the working warehouse into a new DuckDB file
    (views become tables, so the file stands alone) and atomically swap it in as `serving`;
    only the tables whose content changed since the last publish are written again (see the
    module's docstring), unless `full` (or `SEI_PUBLISH_FULL=1`) asks for a full rewrite.

    The working warehouse must not be held by another writer process while this runs
    (the orchestrator serialises warehouse writes). Raises FileNotFoundError when the
    warehouse is missing and ValueError when it holds none of the schemas: publishing an
    empty file over a good one would blank every dashboard. Whatever fails, the last good
    serving file stays in place.
    """
    t0 = dt.datetime.now(dt.timezone.utc)
    wh = Path(warehouse) if warehouse else warehouse_path()
    target = Path(serving) if serving else serving_path()
    schemas = tuple(schemas)
    version = storage_version or os.environ.get("SEI_SERVING_STORAGE_VERSION", DEFAULT_STORAGE_VERSION)
    limit = max_growth()
    if not wh.exists():
        raise FileNotFoundError(f"{wh}: no warehouse to publish. Fix: run the main job (`sei demo` or the "
                                f"Dagster job) first, or set SEI_WAREHOUSE to the working warehouse.")
    if wh.resolve() == target.resolve():
        raise ValueError(f"{target}: the serving file must differ from the working warehouse. "
                         f"Fix: point SEI_SERVING elsewhere.")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Same directory as the target, so os.replace is a rename on one filesystem.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    for stale in (tmp, Path(f"{tmp}.wal")):
        stale.unlink(missing_ok=True)
    result = PublishResult(path=target, tables={}, published_at=t0, duration_s=0.0)
    try:
        con = duckdb.connect()
        try:
            src = "src"
            con.execute(f"attach {_literal(wh)} as src (read_only)")
            relations = _relations(con, src, schemas)
            if not relations:
                raise ValueError(f"{wh}: none of the schemas {', '.join(schemas)} exists in the warehouse. "
                                 f"Fix: run `dbt build` (the main job) before publishing.")
            fps = fingerprints(con, src, relations)
            result.fingerprint_s = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
            key = publish_key(version, schemas)
            prev, why = _previous(con, target, schemas)
            result.reason = _why_full(prev, why, key, fps, full_requested() if full is None else full, limit)
            result.full = bool(result.reason)
            if result.full:
                con.execute(f"attach {_literal(tmp)} as pub (storage_version {_literal(version)})")
                for schema in sorted({s for s, _ in relations}):
                    con.execute(f"create schema pub.{_quote(schema)}")
                result.rewritten = list(fps)
            else:
                # a byte copy of a file nobody writes (readers open it read-only, publishes
                # are serialised): the unchanged tables come across at the cost of a file copy
                shutil.copyfile(target, tmp)
                con.execute(f"attach {_literal(tmp)} as pub")
                result.rewritten = [t for t in fps if fps[t].content != prev.fingerprints[t].content]
                result.kept = [t for t in fps if t not in result.rewritten]
            for schema, name in relations:
                if f"{schema}.{name}" in result.rewritten:
                    rel = f"{_quote(schema)}.{_quote(name)}"
                    con.execute(f"drop table if exists pub.{rel}")
                    con.execute(f"create table pub.{rel} as select * from {_quote(src)}.{rel}")
            _write_meta(con, fps, key, t0)
            con.execute("detach pub")  # checkpoints: the file is complete, with no WAL beside it
        finally:
            con.close()
        result.tables = {t: f.rows for t, f in fps.items()}
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        Path(f"{target}.wal").unlink(missing_ok=True)  # a stale WAL would be replayed into the new file
        os.replace(tmp, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        for leftover in (tmp, Path(f"{tmp}.wal")):
            leftover.unlink(missing_ok=True)
    result.size_bytes = target.stat().st_size
    result.duration_s = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
    log.info(result.summary())
    return result
