"""Spark's raw data: a lake of Parquet tables, one folder per raw table, registered in
Spark's catalog as external tables so dbt's sources (`raw_github.pull_requests`, ...)
resolve on Spark exactly as they do on DuckDB and PostgreSQL.

First step (docs/engines.md): the connectors still load the DuckDB working file
(`SEI_WAREHOUSE`); `export_to_lake` then copies every raw dataset (`raw_*`, `ops`;
dlt's `*_staging` datasets are its own scratch space) to `SEI_LAKE/<schema>/<table>/`
as Parquet, and `register_lake` declares them in Spark's catalog. Writing the lake
directly through dlt's `filesystem` destination is the next step of issue 18.

Parquet, not Delta: the pyspark wheel ships Parquet support but not Delta Lake's jars,
and nothing may be downloaded at run time (a Maven fetch on every SparkSession start).

Settings:
  SEI_LAKE            the lake root (default: `lake/` beside the warehouse file). A local
                      folder here; on a cluster, any path Spark reads (`s3a://...`).
  SEI_SPARK_MASTER    Spark master for the local session (default `local[2]`).
  SEI_SPARK_SHUFFLE_PARTITIONS   spark.sql.shuffle.partitions (default 2: small data;
                      raise it on a cluster).
  SEI_SPARK_DRIVER_MEMORY        heap of the local session's JVM (default 4g).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

SKIP_SUFFIX = "_staging"         # dlt's staging datasets: not raw data
SCHEMAS_PREFIX = ("raw_",)
EXTRA_SCHEMAS = ("ops",)


class LakeError(RuntimeError):
    pass


def lake_root(warehouse: Path | str | None = None) -> Path:
    """SEI_LAKE, else `lake/` beside the warehouse file (SEI_WAREHOUSE)."""
    if os.environ.get("SEI_LAKE", "").strip():
        return Path(os.environ["SEI_LAKE"].strip())
    wh = Path(warehouse or os.environ.get("SEI_WAREHOUSE", "warehouse/sei.duckdb"))
    return wh.resolve().parent / "lake"


def _raw_tables(con) -> list[tuple[str, str]]:
    # views too: the org import's current version is a view (raw_org.current_teams, ...);
    # the lake holds what it shows at export time
    rows = con.execute("select table_schema, table_name from information_schema.tables order by 1, 2").fetchall()
    return [(s, t) for s, t in rows
            if (s.startswith(SCHEMAS_PREFIX) or s in EXTRA_SCHEMAS) and not s.endswith(SKIP_SUFFIX)]


def check_lake_writable(lake: Path | str) -> None:
    """The lake root exists (or can be made) and this user can write it: one error naming
    SEI_LAKE otherwise."""
    lake = Path(lake)
    try:
        lake.mkdir(parents=True, exist_ok=True)
        probe = lake / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise LakeError(f"the lake root {lake} is not writable ({e.strerror}). Fix: set SEI_LAKE to a folder "
                        "this user can write.") from e


def export_to_lake(warehouse: Path | str, lake: Path | str | None = None) -> dict[str, int]:
    """Every raw table of the DuckDB file -> `<lake>/<schema>/<table>/data.parquet`, replacing
    what was there. Returns {"schema.table": rows}. Timestamps with time zone are written
    as UTC instants; all-null columns (DuckDB type NULL) as strings, which Parquet can hold."""
    lake = Path(lake) if lake else lake_root(warehouse)
    check_lake_writable(lake)
    con = duckdb.connect(str(warehouse), read_only=True)
    counts = {}
    try:
        for schema, table in _raw_tables(con):
            cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                               "and table_name = ? order by ordinal_position", [schema, table]).fetchall()
            select = ", ".join(f'cast("{c}" as varchar) as "{c}"' if t == '"NULL"' else f'"{c}"' for c, t in cols)
            out = lake / schema / table
            if out.exists():
                shutil.rmtree(out)
            out.mkdir(parents=True)
            con.execute(f"copy (select {select} from \"{schema}\".\"{table}\") to '{out / 'data.parquet'}' "
                        "(format parquet)")
            counts[f"{schema}.{table}"] = con.execute(f'select count(*) from "{schema}"."{table}"').fetchone()[0]
    finally:
        con.close()
    return counts


def spark_conf(lake: Path | str) -> dict[str, str]:
    """The settings of the local SparkSession (dbt's `spark` target sets the same ones):
    UTC everywhere (every staging timestamp is UTC without time zone), Parquet timestamps
    read as plain TIMESTAMP, a Derby metastore and warehouse kept under the lake so
    tables survive between runs, few shuffle partitions for small data."""
    lake = Path(lake).resolve()
    return {
        "spark.master": os.environ.get("SEI_SPARK_MASTER", "local[2]"),
        "spark.sql.shuffle.partitions": os.environ.get("SEI_SPARK_SHUFFLE_PARTITIONS", "2"),
        "spark.sql.session.timeZone": "UTC",
        # Derby (the local metastore) logs to ./derby.log unless told otherwise
        "spark.driver.extraJavaOptions": f"-Duser.timezone=UTC -Dderby.stream.error.file={lake / '_derby.log'}",
        "spark.sql.parquet.inferTimestampNTZ.enabled": "false",
        "spark.sql.warehouse.dir": str(lake / "_spark_warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={lake / '_metastore'};create=true",
        "spark.sql.ansi.enabled": "false",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        # heap of the local driver, where local[N] also runs the executors (Spark's default, 1g,
        # is short for a small org's first-parent walk); only read when the JVM starts
        "spark.driver.memory": os.environ.get("SEI_SPARK_DRIVER_MEMORY", "4g"),
    }


def spark_session(lake: Path | str):
    """The process's SparkSession (created on first use, shared after: dbt's session method
    calls getOrCreate with Hive support, and gets this one)."""
    check_java()
    from pyspark.sql import SparkSession
    b = SparkSession.builder.appName("sei").enableHiveSupport()
    for k, v in spark_conf(lake).items():
        b = b.config(k, v)
    try:
        return b.getOrCreate()
    except Exception as e:  # the JVM did not start
        raise LakeError(f"Spark could not start ({str(e).splitlines()[0] if str(e) else type(e).__name__}). Fix: "
                        "check SEI_SPARK_MASTER and that Java 17 is installed (`make setup` installs it).") from e


def check_java() -> None:
    """Spark 4 needs Java 17 or newer: one clear error naming the fix otherwise."""
    import re
    import subprocess
    java = shutil.which("java", path=(os.environ["JAVA_HOME"] + "/bin") if os.environ.get("JAVA_HOME") else None)
    fix = "Fix: install Java 17 (Debian: apt-get install openjdk-17-jre-headless; `make setup` does it) or set JAVA_HOME."
    if not java and os.environ.get("JAVA_HOME"):
        raise LakeError(f"JAVA_HOME={os.environ['JAVA_HOME']} has no bin/java, so Spark cannot start. Fix: point "
                        "JAVA_HOME at a Java 17 installation, or unset it to use the `java` on PATH (`make setup` "
                        "installs openjdk-17-jre-headless).")
    if not java:
        raise LakeError(f"Spark needs Java 17, and no `java` was found. {fix}")
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    m = re.search(r'version "(\d+)', out)
    if not m or int(m.group(1)) < 17:
        raise LakeError(f"Spark needs Java 17 or newer; {java} is {m.group(1) if m else 'unknown'}. {fix}")


def lake_tables(lake: Path | str) -> dict[str, list[str]]:
    """{schema: [table, ...]} of the lake's raw tables (the folders export_to_lake wrote)."""
    lake = Path(lake)
    return {s.name: sorted(t.name for t in s.iterdir() if t.is_dir())
            for s in sorted(p for p in lake.iterdir() if p.is_dir() and not p.name.startswith("_"))}


def spark_schema_dir(lake: Path | str, schema: str = "marts") -> Path:
    """Where the local session keeps a schema's managed tables (`spark.sql.warehouse.dir` is
    `<lake>/_spark_warehouse`, spark_conf and profiles.yml): one Parquet folder per table."""
    return Path(lake) / "_spark_warehouse" / f"{schema}.db"


def import_spark_marts(lake: Path | str, warehouse: Path | str, schema: str = "marts") -> dict[str, int]:
    """Copy the marts Spark built (Parquet under spark_schema_dir) into the DuckDB working
    file's `schema`, one transaction, so the existing publish step, health, checks and
    dashboards read them as they read DuckDB's own. Spark's instants come back as UTC
    timestamps without time zone, the type the other engines' marts hold. Returns rows per
    table; raises LakeError when Spark built none."""
    src = spark_schema_dir(lake, schema)
    tables = sorted(p for p in src.iterdir() if p.is_dir() and any(p.glob("*.parquet"))) if src.is_dir() else []
    if not tables:
        raise LakeError(f"no marts under {src}: the Spark build wrote none. Fix: see dbt's log of the run; "
                        "SEI_LAKE must be the lake the spark target wrote.")
    con = duckdb.connect(str(warehouse))
    counts = {}
    try:
        con.execute("begin")
        con.execute(f'create schema if not exists "{schema}"')
        existing = dict(con.execute("select table_name, table_type from information_schema.tables "
                                    "where table_schema = ?", [schema]).fetchall())
        for t in tables:
            files = "[" + ", ".join("'" + str(f).replace("'", "''") + "'" for f in sorted(t.glob("*.parquet"))) + "]"
            cols = con.execute(f"describe select * from read_parquet({files})").fetchall()
            select = ", ".join(f'timezone(\'UTC\', "{c[0]}") as "{c[0]}"' if c[1].upper().startswith("TIMESTAMP WITH")
                               else f'"{c[0]}"' for c in cols)
            if existing.get(t.name) == "VIEW":
                con.execute(f'drop view "{schema}"."{t.name}"')
            con.execute(f'create or replace table "{schema}"."{t.name}" as select {select} from read_parquet({files})')
            counts[t.name] = con.execute(f'select count(*) from "{schema}"."{t.name}"').fetchone()[0]
        con.execute("commit")
    finally:
        con.close()
    return counts


def register_lake(spark, lake: Path | str) -> list[str]:
    """Every `<lake>/<schema>/<table>/` folder becomes the external Parquet table
    `<schema>.<table>` (dropped and re-declared, so a changed schema is re-read)."""
    lake = Path(lake).resolve()
    done = []
    for sdir in sorted(p for p in lake.iterdir() if p.is_dir() and not p.name.startswith("_")):
        spark.sql(f"create database if not exists `{sdir.name}`")
        for tdir in sorted(p for p in sdir.iterdir() if p.is_dir()):
            name = f"`{sdir.name}`.`{tdir.name}`"
            spark.sql(f"drop table if exists {name}")
            spark.sql(f"create table {name} using parquet location '{tdir}'")
            done.append(f"{sdir.name}.{tdir.name}")
    return done
