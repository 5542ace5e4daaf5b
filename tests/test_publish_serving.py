"""Atomic publish of the marts to the serving file (core.publish)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import duckdb
import pytest

from core.publish import publish_serving

READER = textwrap.dedent("""
    import sys, time, duckdb, pathlib
    path, stop = sys.argv[1], pathlib.Path(sys.argv[2])
    con = duckdb.connect(path, read_only=True)
    while True:  # query, then look for the stop file: the last answer comes after the publish, however slow
        v = con.execute("select min(v), max(v), count(*) from marts.fact").fetchone()
        print("held", *v, flush=True)
        if stop.exists():
            break
        time.sleep(0.005)
    con.close()
    con = duckdb.connect(path, read_only=True)
    print("fresh", *con.execute("select min(v), max(v), count(*) from marts.fact").fetchone(), flush=True)
    print("view", *con.execute("select n from marts.fact_count").fetchone(), flush=True)
""")


def _build(path, version: int, rows: int) -> None:
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    con.execute("create schema if not exists staging")
    con.execute(f"create or replace table marts.fact as select range as id, {version} as v from range({rows})")
    con.execute("create or replace view marts.fact_count as select count(*) as n from marts.fact")
    con.execute("create or replace table staging.private as select 1 as x")
    con.close()


def test_reader_keeps_answering_during_publish_and_sees_new_data_after_reconnect(tmp_path):
    wh, serving, stop = tmp_path / "work.duckdb", tmp_path / "serve" / "serving.duckdb", tmp_path / "stop"
    _build(wh, 1, 200_000)
    first = publish_serving(wh, serving)
    assert first.tables == {"marts.fact": 200_000, "marts.fact_count": 1}
    assert not (serving.parent / f"{serving.name}.wal").exists()

    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = reader.stdout.readline()
        assert line.startswith("held"), reader.stderr.read()
        _build(wh, 2, 300_000)  # the next refresh, built in the working warehouse
        second = publish_serving(wh, serving)  # the reader holds the old file meanwhile
        assert second.tables["marts.fact"] == 300_000
        stop.touch()
        out, err = reader.communicate(timeout=300)  # a guard against a hung reader, not a speed limit
    finally:
        if reader.poll() is None:
            reader.kill()
    assert reader.returncode == 0, err
    lines = [line.split()] + [ln.split() for ln in out.splitlines()]
    held = [ln[1:] for ln in lines if ln[0] == "held"]
    # Every answer while holding the connection is the complete old refresh, never a mix:
    # the first before the next refresh was built, the last after it was published.
    assert len(held) >= 2 and set(map(tuple, held)) == {("1", "1", "200000")}
    assert ["fresh", "2", "2", "300000"] in lines
    assert ["view", "300000"] in lines  # views are published as tables: the file stands alone
    con = duckdb.connect(str(serving), read_only=True)
    try:
        schemas = {r[0] for r in con.execute("select distinct table_schema from information_schema.tables").fetchall()}
        assert schemas == {"marts", "serving_meta"}  # staging is not published
        assert con.execute("select table_name, row_count from serving_meta.published_tables order by 1").fetchall() == \
            [("marts.fact", 300_000), ("marts.fact_count", 1)]
    finally:
        con.close()
    assert sorted(p.name for p in serving.parent.iterdir()) == ["serving.duckdb"]  # no temp file left


def test_publish_refuses_a_warehouse_without_marts_and_keeps_the_last_good_file(tmp_path):
    wh, serving = tmp_path / "work.duckdb", tmp_path / "serving.duckdb"
    _build(wh, 1, 10)
    publish_serving(wh, serving)
    empty = tmp_path / "empty.duckdb"
    duckdb.connect(str(empty)).close()
    with pytest.raises(ValueError, match="none of the schemas marts"):
        publish_serving(empty, serving)
    with pytest.raises(FileNotFoundError, match="no warehouse to publish"):
        publish_serving(tmp_path / "missing.duckdb", serving)
    con = duckdb.connect(str(serving), read_only=True)
    assert con.execute("select count(*) from marts.fact").fetchone()[0] == 10
    con.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
