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
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "no-java"))
    with pytest.raises(LakeError, match=r"Spark needs Java 17.*openjdk-17-jre-headless"):
        check_java()
