"""Publish the marts from the working warehouse to the serving file BI tools read.

DuckDB allows one writer or many readers, never both (DESIGN.md §1, "Serving"). Runs write
the working warehouse (`SEI_WAREHOUSE`); BI tools open only the serving file (`SEI_SERVING`,
default `serving.duckdb` beside the warehouse), read-only. A publish copies the marts into a
new file beside the serving one and swaps it into place with `os.replace`, which is atomic on
one filesystem: a reader that already holds the old file keeps reading it (its inode lives
until it closes) and sees the new data once it reconnects; no reader ever waits, nor sees
half a refresh.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
from pathlib import Path
from typing import Iterable

import duckdb

from ingestion.lock import writes_warehouse
from core.settings import warehouse_path

# DuckDB 2.x writes files that 1.x cannot open unless told otherwise; many BI drivers still
# embed DuckDB 1.x. `SEI_SERVING_STORAGE_VERSION` overrides it (e.g. "latest").
DEFAULT_STORAGE_VERSION = "v1.0.0"
META_SCHEMA = "serving_meta"


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

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


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


@writes_warehouse()  # one writer at a time (ingestion/lock.py): the serving file too
def publish_serving(warehouse: str | os.PathLike | None = None, serving: str | os.PathLike | None = None,
                    schemas: Iterable[str] = ("marts",), storage_version: str | None = None) -> PublishResult:
    """Copy every table and view of `schemas` in the working warehouse into a new DuckDB file
    (views become tables, so the file stands alone) and atomically swap it in as `serving`.

    The working warehouse must not be held by another writer process while this runs
    (the orchestrator serialises warehouse writes). Raises FileNotFoundError when the
    warehouse is missing and ValueError when it holds none of the schemas: publishing an
    empty file over a good one would blank every dashboard.
    """
    t0 = dt.datetime.now(dt.timezone.utc)
    wh = Path(warehouse) if warehouse else warehouse_path()
    target = Path(serving) if serving else serving_path()
    version = storage_version or os.environ.get("SEI_SERVING_STORAGE_VERSION", DEFAULT_STORAGE_VERSION)
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
    tables: dict[str, int] = {}
    try:
        con = duckdb.connect()
        try:
            src = "src"
            con.execute(f"attach {_literal(wh)} as src (read_only)")
            relations = _relations(con, src, schemas)
            if not relations:
                raise ValueError(f"{wh}: none of the schemas {', '.join(schemas)} exists in the warehouse. "
                                 f"Fix: run `dbt build` (the main job) before publishing.")
            con.execute(f"attach {_literal(tmp)} as pub (storage_version {_literal(version)})")
            for schema in sorted({s for s, _ in relations}):
                con.execute(f"create schema pub.{_quote(schema)}")
            for schema, name in relations:
                rel = f"{_quote(schema)}.{_quote(name)}"
                con.execute(f"create table pub.{rel} as select * from {_quote(src)}.{rel}")
                tables[f"{schema}.{name}"] = con.execute(f"select count(*) from pub.{rel}").fetchone()[0]
            con.execute(f"create schema pub.{META_SCHEMA}")
            con.execute(f"create table pub.{META_SCHEMA}.published_tables "
                        f"(table_name varchar, row_count bigint, published_at timestamptz)")
            con.executemany(f"insert into pub.{META_SCHEMA}.published_tables values (?, ?, ?)",
                            [(k, v, t0) for k, v in tables.items()])
            con.execute("detach pub")  # checkpoints: the file is complete, with no WAL beside it
        finally:
            con.close()
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
    return PublishResult(path=target, tables=tables, published_at=t0,
                         duration_s=(dt.datetime.now(dt.timezone.utc) - t0).total_seconds())
