"""Where the raw data lands: the embedded DuckDB file (default) or a PostgreSQL server.

`SEI_DESTINATION=postgres` sends every dlt pipeline to PostgreSQL, using the same
`SEI_PG_HOST`, `SEI_PG_PORT`, `SEI_PG_USER`, `SEI_PG_PASSWORD` and `SEI_PG_DATABASE` that
dbt's `postgres` target reads (dbt_project/profiles.yml), so dlt loads and dbt builds in
one database. Datasets keep their names (`raw_github`, ...).

The org import, identity resolution and profiles are validated and versioned in the local
DuckDB file (`SEI_WAREHOUSE`) as always; `copy_to_postgres` then mirrors their schemas
(`raw_org`, `raw_config`) to PostgreSQL in one transaction, so dbt on PostgreSQL sees the
same org and profiles. `sei org import`, `sei org identities` and `sei profile apply` call it
when the destination is postgres, and every ingest mirrors `ops` (its run figures).

Code that reads the raw tables or the marts (identity matching, the expectations, the
health check, `sei doctor`) opens `connect_warehouse` / `read_frame`: the DuckDB file, or
PostgreSQL through `PgConnection`, a DuckDB-like wrapper written here because psycopg2's
cursor API differs and the queries are plain SQL that both engines run.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import duckdb

KINDS = ("duckdb", "postgres")
MIRRORED_SCHEMAS = ("raw_org", "raw_config")
# DuckDB column type -> PostgreSQL column type for the mirrored tables
PG_TYPES = {"VARCHAR": "text", "INTEGER": "integer", "BIGINT": "bigint", "DOUBLE": "double precision",
            "FLOAT": "real", "BOOLEAN": "boolean", "DATE": "date", "TIMESTAMP": "timestamp",
            "TIMESTAMP WITH TIME ZONE": "timestamptz", "HUGEINT": "numeric", "SMALLINT": "smallint"}


class DestinationError(ValueError):
    pass


ENGINES = ("duckdb", "postgres", "spark")


def engine() -> str:
    """The engine that builds the marts (docs/engines.md): `SEI_ENGINE` = duckdb (default),
    postgres or spark. The older settings are still honoured when SEI_ENGINE is unset:
    `SEI_DESTINATION` (duckdb | postgres) and `SEI_DBT_TARGET=spark...`. A SEI_DESTINATION
    that contradicts SEI_ENGINE is refused rather than guessed."""
    raw = os.environ.get("SEI_ENGINE", "").strip().lower()
    dest = os.environ.get("SEI_DESTINATION", "").strip().lower()
    if raw:
        if raw not in ENGINES:
            raise DestinationError(f"SEI_ENGINE={raw!r} is not a known engine. Fix: set it to duckdb (the embedded "
                                   "file, the default), postgres or spark.")
        if dest and dest != ("postgres" if raw == "postgres" else "duckdb"):
            raise DestinationError(f"SEI_ENGINE={raw} and SEI_DESTINATION={dest} disagree. Fix: unset "
                                   "SEI_DESTINATION (SEI_ENGINE replaces it).")
        return raw
    if dest:
        if dest not in KINDS:
            raise DestinationError(f"SEI_DESTINATION={dest!r} is not a known destination. Fix: set SEI_ENGINE to "
                                   "duckdb (the embedded file, the default), postgres (with SEI_PG_HOST, SEI_PG_PORT, "
                                   "SEI_PG_USER, SEI_PG_PASSWORD, SEI_PG_DATABASE) or spark.")
        return dest
    if os.environ.get("SEI_DBT_TARGET", "").strip().lower().startswith("spark"):
        return "spark"
    return "duckdb"


def dbt_target() -> str:
    """The output of dbt_project/profiles.yml dbt builds with: `SEI_DBT_TARGET` when set (e.g.
    a thrift output of yours), else the engine's own (`duckdb`, `postgres`, `spark`)."""
    return os.environ.get("SEI_DBT_TARGET", "").strip() or engine()


def kind() -> str:
    """Where dlt loads the raw data: PostgreSQL for the postgres engine; the DuckDB file for
    duckdb and for spark (whose lake is exported from it, ingestion/lake.py)."""
    return "postgres" if engine() == "postgres" else "duckdb"


def postgres_settings() -> dict:
    env = os.environ
    return {"host": env.get("SEI_PG_HOST", "localhost"), "port": int(env.get("SEI_PG_PORT", "5432")),
            "user": env.get("SEI_PG_USER", "sei"), "password": env.get("SEI_PG_PASSWORD", ""),
            "dbname": env.get("SEI_PG_DATABASE", "sei")}


def postgres_dsn() -> str:
    s = postgres_settings()
    return (f"postgresql://{quote(s['user'], safe='')}:{quote(s['password'], safe='')}@{s['host']}:{s['port']}/"
            f"{quote(s['dbname'], safe='')}")


def load_file_format() -> str | None:
    """Parquet when pyarrow is there: DuckDB loaded a medium org's GitHub data in 5 s instead
    of 161 s with dlt's default INSERT statements, and peak memory fell from 11 GB to 0.6 GB;
    a medium org's Jira load peaked at 10.3 GB with INSERTs (docs/benchmarks.md, Ingestion).
    Every source's resources load this way (ingestion/pipeline.py)."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return None
    return "parquet"


def use_load_file_format(source) -> None:
    """Every resource of a dlt source (transformers included) written as load_file_format()."""
    fmt = load_file_format()
    if fmt:
        for r in source.resources.values():
            r.apply_hints(file_format=fmt)


def dlt_destination(warehouse: Path, memory_limit: str | None = None):
    """The dlt destination of the configured kind."""
    import dlt
    if kind() == "postgres":
        return dlt.destinations.postgres(credentials=postgres_dsn())
    creds: dict = {"database": str(warehouse)}
    if memory_limit:
        creds["global_config"] = {"memory_limit": memory_limit}
    return dlt.destinations.duckdb(credentials=creds)


def copy_to_postgres(warehouse: Path | str, schemas: tuple[str, ...] = MIRRORED_SCHEMAS) -> dict[str, int]:
    """Replace `schemas` on PostgreSQL with the DuckDB file's tables (and raw_org's current_*
    views), all in one transaction: readers see the old copy or the new one, never half.
    Returns rows copied per table."""
    import psycopg2
    from psycopg2.extras import execute_values

    src = duckdb.connect(str(warehouse), read_only=True)
    counts: dict[str, int] = {}
    con = psycopg2.connect(**postgres_settings())
    try:
        with con, con.cursor() as cur:
            for schema in schemas:
                tables = src.execute("select table_name, table_type from information_schema.tables "
                                     "where table_schema = ? order by table_name", [schema]).fetchall()
                if not tables:
                    continue
                # a table whose columns are unchanged is emptied and refilled, not dropped: the
                # views dbt built over it (staging) stay, and so does what the incremental
                # planner fingerprints through them (orchestration/incremental.py)
                cur.execute(f'create schema if not exists "{schema}"')
                cur.execute("select table_name, string_agg(column_name || ' ' || udt_name, ', ' order by ordinal_position) "
                            "from information_schema.columns where table_schema = %s group by table_name", [schema])
                held = dict(cur.fetchall())
                cur.execute("select table_name from information_schema.views where table_schema = %s", [schema])
                pg_views = {r[0] for r in cur.fetchall()}
                keep = {name for name, ttype in tables if ttype != "VIEW"}
                for name in sorted(set(held) - keep - pg_views):
                    cur.execute(f'drop table if exists "{schema}"."{name}" cascade')
                for name, ttype in tables:
                    if ttype == "VIEW":
                        continue
                    cols = src.execute("select column_name, data_type from information_schema.columns "
                                       "where table_schema = ? and table_name = ? order by ordinal_position",
                                       [schema, name]).fetchall()
                    ddl = ", ".join(f'"{c}" {PG_TYPES.get(t.upper(), "text")}' for c, t in cols)
                    cur.execute(f'create temporary table sei_mirror_probe ({ddl}) on commit drop')
                    cur.execute("select string_agg(column_name || ' ' || udt_name, ', ' order by ordinal_position) "
                                "from information_schema.columns where table_name = 'sei_mirror_probe' "
                                "and table_schema like 'pg_temp%%'")
                    wanted = cur.fetchone()[0]
                    cur.execute("drop table sei_mirror_probe")
                    if held.get(name) == wanted:
                        cur.execute(f'truncate "{schema}"."{name}"')
                    else:
                        cur.execute(f'drop table if exists "{schema}"."{name}" cascade')
                        cur.execute(f'create table "{schema}"."{name}" ({ddl})')
                    rows = src.execute(f'select * from "{schema}"."{name}"').fetchall()
                    if rows:
                        execute_values(cur, f'insert into "{schema}"."{name}" values %s', rows, page_size=1000)
                    counts[f"{schema}.{name}"] = len(rows)
                if schema == "raw_org":
                    from ingestion.org.store import CURRENT, SNAPSHOT_TABLES
                    for t in SNAPSHOT_TABLES:
                        cur.execute(f"create or replace view raw_org.current_{t} as select * from raw_org.{t} "
                                    f"where import_id = {CURRENT}")
    finally:
        con.close()
        src.close()
    return counts


def _pg_params(sql: str) -> str:
    """DuckDB's `?` placeholders as psycopg2's `%s`; a literal `%` (a LIKE pattern) doubled."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """Just enough of DuckDB's connection API (`execute(sql, params).fetchall()`, `.df()`,
    `executemany`) over psycopg2, in autocommit, so the plain SQL that runs on both engines
    (catalog reads, raw-table reads, small appends) is written once. `?` marks parameters."""

    def __init__(self, pg):
        self.pg = pg
        self.rows: list = []
        self.columns: list[str] = []

    def execute(self, sql: str, params=None):
        with self.pg.cursor() as cur:
            if params is None:
                cur.execute(sql)
            else:
                cur.execute(_pg_params(sql), list(params))
            self.columns = [d.name for d in cur.description] if cur.description else []
            self.rows = cur.fetchall() if cur.description else []
        return self

    def executemany(self, sql: str, rows) -> None:
        with self.pg.cursor() as cur:
            cur.executemany(_pg_params(sql), list(rows))

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None

    def df(self):
        import pandas as pd
        return pd.DataFrame(self.rows, columns=self.columns)

    def close(self) -> None:
        self.pg.close()


def has_table(con, schema: str, table: str) -> bool:
    return con.execute("select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
                       [schema, table]).fetchone()[0] > 0


@contextmanager
def connect_warehouse(warehouse: Path | str, read_only: bool = True):
    """The database the raw data and the marts live in: the DuckDB file (`warehouse`), or
    PostgreSQL with SEI_DESTINATION=postgres (a PgConnection). Org history, profiles and
    the ops run figures stay in the DuckDB file either way (they are mirrored)."""
    if kind() == "postgres":
        import psycopg2
        pg = psycopg2.connect(**postgres_settings())
        pg.autocommit = True
        con = PgConnection(pg)
    else:
        con = duckdb.connect(str(warehouse), read_only=read_only)
    try:
        yield con
    finally:
        con.close()


def read_frame(warehouse: Path | str, sql: str, params=None):
    """A query's rows (pandas) from the warehouse, DuckDB file or PostgreSQL; None when the
    file, or a table the query names, is not there (yet)."""
    if kind() != "postgres" and not Path(warehouse).exists():
        return None
    missing: tuple = (duckdb.Error,)
    if kind() == "postgres":
        from psycopg2 import errors
        missing = (errors.UndefinedTable, errors.InvalidSchemaName)
    try:
        with connect_warehouse(warehouse) as con:
            return con.execute(sql, params).df()
    except missing:
        return None


def mirror_if_postgres(warehouse: Path | str, schemas: tuple[str, ...] = MIRRORED_SCHEMAS) -> dict[str, int] | None:
    """copy_to_postgres when SEI_DESTINATION=postgres; None otherwise."""
    return copy_to_postgres(warehouse, schemas) if kind() == "postgres" else None
