"""The Spark engine's set-up errors (ingestion/lake.py), without starting Spark: a lake root
that cannot be written and a missing Java each give one error naming the setting and the
fix; the lake export writes every raw table and view of a DuckDB file and nothing else."""
from __future__ import annotations

import duckdb
import pyarrow.parquet as pq
import pytest

from ingestion.lake import LakeError, check_java, export_to_lake, lake_root


def _warehouse(path):
    con = duckdb.connect(str(path))
    con.execute("create schema raw_github; create schema raw_github_staging; create schema marts")
    con.execute("create table raw_github.pull_requests as select 1 as id, "
                "timestamptz '2024-01-02 12:00:00+02' as created_at, null as empty_column")
    con.execute("create table raw_github_staging.pull_requests as select 1 as id")
    con.execute("create table marts.fct as select 1 as id")
    con.execute("create view raw_github.current_pull_requests as select id from raw_github.pull_requests")
    con.close()


def test_export_writes_raw_tables_only(tmp_path):
    _warehouse(tmp_path / "w.duckdb")
    counts = export_to_lake(tmp_path / "w.duckdb", tmp_path / "lake")
    assert counts == {"raw_github.current_pull_requests": 1, "raw_github.pull_requests": 1}
    t = pq.read_table(tmp_path / "lake" / "raw_github" / "pull_requests" / "data.parquet")
    assert t.column("created_at").to_pylist()[0].isoformat() == "2024-01-02T10:00:00+00:00"
    assert str(t.schema.field("empty_column").type) == "string"


def test_unwritable_lake_names_the_setting(tmp_path):
    _warehouse(tmp_path / "w.duckdb")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(LakeError, match=r"is not writable .*Fix: set SEI_LAKE"):
        export_to_lake(tmp_path / "w.duckdb", tmp_path / "a_file" / "lake")


def test_lake_defaults_beside_the_warehouse(tmp_path, monkeypatch):
    monkeypatch.delenv("SEI_LAKE", raising=False)
    assert lake_root(tmp_path / "w" / "sei.duckdb") == (tmp_path / "w" / "lake").resolve()
    monkeypatch.setenv("SEI_LAKE", str(tmp_path / "elsewhere"))
    assert lake_root(tmp_path / "w" / "sei.duckdb") == tmp_path / "elsewhere"


def test_missing_java_names_the_fix(tmp_path, monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))   # no java on it
    with pytest.raises(LakeError, match=r"Spark needs Java 17.*openjdk-17-jre-headless"):
        check_java()


@pytest.mark.parametrize("env, engine, target, kind", [
    ({}, "duckdb", "duckdb", "duckdb"),
    ({"SEI_ENGINE": "spark"}, "spark", "spark", "duckdb"),          # raw data staged in the DuckDB file
    ({"SEI_ENGINE": "Postgres"}, "postgres", "postgres", "postgres"),
    ({"SEI_DESTINATION": "postgres"}, "postgres", "postgres", "postgres"),   # the older knob still works
    ({"SEI_DBT_TARGET": "spark"}, "spark", "spark", "duckdb"),
    ({"SEI_ENGINE": "spark", "SEI_DBT_TARGET": "spark_thrift"}, "spark", "spark_thrift", "duckdb"),
    ({"SEI_ENGINE": "spark", "SEI_DESTINATION": "duckdb"}, "spark", "spark", "duckdb"),
])
def test_one_engine_knob(monkeypatch, env, engine, target, kind):
    from ingestion import destination
    for k in ("SEI_ENGINE", "SEI_DESTINATION", "SEI_DBT_TARGET"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    assert (destination.engine(), destination.dbt_target(), destination.kind()) == (engine, target, kind)


@pytest.mark.parametrize("env, message", [
    ({"SEI_ENGINE": "oracle"}, r"^SEI_ENGINE='oracle' is not a known engine\. Fix: .*spark\.$"),
    ({"SEI_ENGINE": "spark", "SEI_DESTINATION": "postgres"},
     r"^SEI_ENGINE=spark and SEI_DESTINATION=postgres disagree\. Fix: unset SEI_DESTINATION"),
    ({"SEI_DESTINATION": "mysql"}, r"^SEI_DESTINATION='mysql' is not a known destination\. Fix: set SEI_ENGINE"),
])
def test_bad_engine_settings_are_one_line(monkeypatch, env, message):
    from ingestion import destination
    for k in ("SEI_ENGINE", "SEI_DESTINATION", "SEI_DBT_TARGET"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(destination.DestinationError, match=message) as e:
        destination.kind()
    assert "\n" not in str(e.value)


def test_java_home_pointing_at_nothing_names_it(tmp_path, monkeypatch):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(LakeError, match=r"^JAVA_HOME=.*no-java has no bin/java.*Fix: point JAVA_HOME") as e:
        check_java()
    assert "\n" not in str(e.value)


def test_spark_marts_import_as_utc_timestamps(tmp_path):
    """Parquet as Spark writes a managed table (part files, instants adjusted to UTC) becomes a
    table of the working file's marts with UTC timestamps without time zone; a view of the
    same name (an older build) is replaced."""
    import pyarrow as pa

    from ingestion.lake import import_spark_marts, spark_schema_dir
    d = spark_schema_dir(tmp_path / "lake") / "fct_x"
    d.mkdir(parents=True)
    t = pa.table({"id": [1, 2], "at": pa.array([1704196800000000, None], pa.timestamp("us", tz="UTC"))})
    pq.write_table(t.slice(0, 1), d / "part-00000.snappy.parquet")
    pq.write_table(t.slice(1, 1), d / "part-00001.snappy.parquet")
    (d / "_SUCCESS").write_text("")
    wh = tmp_path / "w.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema marts; create view marts.fct_x as select 1 as id")
    con.close()
    assert import_spark_marts(tmp_path / "lake", wh) == {"fct_x": 2}
    con = duckdb.connect(str(wh), read_only=True)
    assert con.execute("select data_type from information_schema.columns where table_name = 'fct_x' "
                       "and column_name = 'at'").fetchone()[0] == "TIMESTAMP"
    assert con.execute("select table_type from information_schema.tables where table_name = 'fct_x'").fetchone()[0] \
        == "BASE TABLE"
    assert [str(r[0]) for r in con.execute('select "at" from marts.fct_x order by id').fetchall()] == \
        ["2024-01-02 12:00:00", "None"]
    con.close()


def test_no_spark_marts_is_an_error(tmp_path):
    from ingestion.lake import import_spark_marts
    with pytest.raises(LakeError, match=r"no marts under .*SEI_LAKE must be the lake"):
        import_spark_marts(tmp_path / "lake", tmp_path / "w.duckdb")
