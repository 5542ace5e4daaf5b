"""Publish of the marts to the serving file (core.publish): atomic for readers, and
incremental (only the tables whose content changed are written again) with the same file
as a full publish."""
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
    con.execute("create or replace table marts.dim as select 1 as team")
    con.close()


def test_reader_keeps_answering_during_publish_and_sees_new_data_after_reconnect(tmp_path):
    wh, serving, stop = tmp_path / "work.duckdb", tmp_path / "serve" / "serving.duckdb", tmp_path / "stop"
    _build(wh, 1, 200_000)
    first = publish_serving(wh, serving)
    assert first.tables == {"marts.dim": 1, "marts.fact": 200_000, "marts.fact_count": 1}
    assert not (serving.parent / f"{serving.name}.wal").exists()

    reader = subprocess.Popen([sys.executable, "-c", READER, str(serving), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = reader.stdout.readline()
        assert line.startswith("held"), reader.stderr.read()
        _build(wh, 2, 300_000)  # the next refresh, built in the working warehouse
        second = publish_serving(wh, serving)  # the reader holds the old file meanwhile
        assert second.tables["marts.fact"] == 300_000
        # built on a copy of the file the reader holds: the copy is what changes, never the held file
        assert not second.full and second.rewritten == ["marts.fact", "marts.fact_count"], second.reason
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
            [("marts.dim", 1), ("marts.fact", 300_000), ("marts.fact_count", 1)]
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


# --------------------------------------------------------------------------- incremental publishes
def _world(path, fact_rows: int = 100_000) -> None:
    """A warehouse of several marts: a large fact, a dimension with awkward types, a view."""
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists marts")
    # md5 labels: incompressible, so the fact's size on disk follows its rows
    con.execute(f"create or replace table marts.fact as select range as id, range % 17 as team, md5(range::varchar) "
                f"as label from range({fact_rows})")
    con.execute("create or replace table marts.dim as select range as team, 'team ' || range as name, "
                "[range, range + 1] as ids, {'a': range, 'b': 'x'} as attrs, "
                "timestamptz '2026-01-01 00:00:00+00' + to_days(range::int) as since, "
                "case when range % 3 = 0 then null else range / 7 end as ratio from range(17)")
    con.execute("create or replace view marts.fact_per_team as select team, count(*) as n from marts.fact group by team")
    con.close()


def _sql(path, sql: str):
    con = duckdb.connect(str(path))
    try:
        con.execute(sql)
    finally:
        con.close()


def _content(path) -> dict:
    """Every table of the file: its column names and types, and its rows in a fixed order;
    publish times stripped (they differ between any two publishes)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        out = {}
        for schema, name in con.execute("select table_schema, table_name from information_schema.tables "
                                        "order by 1, 2").fetchall():
            cols = con.execute("select column_name, data_type from information_schema.columns where table_schema = ? "
                               "and table_name = ? order by ordinal_position", [schema, name]).fetchall()
            keep = ", ".join(f'"{c}"' for c, _ in cols if c != "published_at")
            rows = con.execute(f'select {keep} from "{schema}"."{name}" order by all').fetchall()
            out[f"{schema}.{name}"] = (cols, rows)
        views = con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0]
        return {"tables": out, "views": views}
    finally:
        con.close()


def _growth(path) -> float:
    con = duckdb.connect(str(path), read_only=True)
    try:
        block, used = con.execute("select block_size, used_blocks from pragma_database_size()").fetchone()
    finally:
        con.close()
    return path.stat().st_size / (block * used)


def test_incremental_publish_rewrites_only_the_changed_mart_and_equals_a_full_publish(tmp_path, monkeypatch):
    monkeypatch.delenv("SEI_PUBLISH_FULL", raising=False)
    monkeypatch.delenv("SEI_RBAC_POLICY", raising=False)
    wh, serving, reference = tmp_path / "work.duckdb", tmp_path / "serving.duckdb", tmp_path / "reference.duckdb"
    _world(wh)
    first = publish_serving(wh, serving)
    assert first.full and first.reason == "no previous serving file"

    # dbt rebuilds every mart as a table each run: same rows, new table, another order
    _sql(wh, "create or replace table marts.fact as select * from marts.fact order by random()")
    again = publish_serving(wh, serving)
    assert not again.full and again.rewritten == [] and len(again.kept) == 3

    _sql(wh, "update marts.dim set name = 'renamed' where team = 3")
    second = publish_serving(wh, serving)
    assert (second.full, second.rewritten, second.kept) == (False, ["marts.dim"], ["marts.fact", "marts.fact_per_team"])
    publish_serving(wh, reference, full=True)
    assert _content(serving) == _content(reference)
    con = duckdb.connect(str(serving), read_only=True)
    try:
        assert con.execute("select name from marts.dim where team = 3").fetchone() == ("renamed",)
        # the "data as of" the dashboards show is this publish's, for every table
        assert {r[0] for r in con.execute("select published_at from serving_meta.published_tables").fetchall()} == \
            {second.published_at}
    finally:
        con.close()

    # a row swapped for a duplicate of another keeps the count: the content hash still moves
    _sql(wh, "update marts.fact set label = md5('1') where id = 2")
    third = publish_serving(wh, serving)
    assert third.rewritten == ["marts.fact"] and third.tables["marts.fact"] == 100_000, third.reason
    _sql(wh, "insert into marts.fact values (100000, 5, 'new')")
    fourth = publish_serving(wh, serving)
    assert fourth.rewritten == ["marts.fact", "marts.fact_per_team"]
    publish_serving(wh, reference, full=True)
    assert _content(serving) == _content(reference)


def test_a_new_shape_policy_or_request_rewrites_in_full(tmp_path, monkeypatch):
    monkeypatch.delenv("SEI_PUBLISH_FULL", raising=False)
    monkeypatch.delenv("SEI_RBAC_POLICY", raising=False)
    wh, serving = tmp_path / "work.duckdb", tmp_path / "serving.duckdb"
    _world(wh, 1_000)
    publish_serving(wh, serving)

    _sql(wh, "alter table marts.dim add column region varchar")
    r = publish_serving(wh, serving)
    assert r.full and r.reason == "the columns of marts.dim changed" and len(r.rewritten) == 3
    _sql(wh, "create table marts.extra as select 1 as team")
    r = publish_serving(wh, serving)
    assert r.full and "the set of tables changed; new: marts.extra" in r.reason
    _sql(wh, "drop table marts.extra")
    assert "gone: marts.extra" in publish_serving(wh, serving).reason

    policy = tmp_path / "policy.yml"
    policy.write_text("version: 1\n")
    monkeypatch.setenv("SEI_RBAC_POLICY", str(policy))
    r = publish_serving(wh, serving)
    assert r.full and r.reason == "access policy changed since the last publish"
    assert not publish_serving(wh, serving).full
    policy.write_text("version: 1\n# a binding changed\n")
    assert publish_serving(wh, serving).reason == "access policy changed since the last publish"

    assert publish_serving(wh, serving, storage_version="v1.2.0").reason == \
        "storage version changed since the last publish"
    assert publish_serving(wh, serving, storage_version="v1.2.0").full is False
    monkeypatch.setenv("SEI_PUBLISH_FULL", "1")
    r = publish_serving(wh, serving, storage_version="v1.2.0")
    assert r.full and "SEI_PUBLISH_FULL" in r.reason
    assert publish_serving(wh, serving, storage_version="v1.2.0", full=False).full is False

    # a previous file that is not a DuckDB file (or one written before fingerprints) is replaced in full
    serving.write_bytes(b"not a database")
    r = publish_serving(wh, serving, full=False)
    assert r.full and r.reason.startswith("the previous serving file could not be opened")
    _sql(serving, "drop table serving_meta.table_fingerprints")
    r = publish_serving(wh, serving, full=False)
    assert r.full and "has no fingerprints" in r.reason
    assert _content(serving)["tables"]["marts.dim"][0][-1] == ("region", "VARCHAR")

    _sql(wh, "update marts.dim set name = name || '!'")
    _sql(wh, "insert into marts.fact values (-1, 0, 'one more')")
    r = publish_serving(wh, serving, full=False)
    assert r.full and r.reason == "every table changed"


def test_a_file_grown_past_its_live_data_is_rewritten_in_full(tmp_path, monkeypatch):
    monkeypatch.delenv("SEI_PUBLISH_FULL", raising=False)
    monkeypatch.delenv("SEI_RBAC_POLICY", raising=False)
    wh, serving = tmp_path / "work.duckdb", tmp_path / "serving.duckdb"
    _world(wh, 1_000_000)
    publish_serving(wh, serving)
    assert _growth(serving) < 1.2
    # the large table changes: its old blocks stay behind in the copy as free space
    _sql(wh, "update marts.fact set label = md5(label)")
    r = publish_serving(wh, serving)
    assert not r.full and r.rewritten == ["marts.fact"] and _growth(serving) > 1.5

    monkeypatch.setenv("SEI_PUBLISH_MAX_GROWTH", "3")
    _sql(wh, "update marts.dim set name = name || '!'")
    assert not publish_serving(wh, serving).full
    monkeypatch.delenv("SEI_PUBLISH_MAX_GROWTH")
    _sql(wh, "update marts.dim set name = name || '!'")
    r = publish_serving(wh, serving)
    assert r.full and r.reason.startswith("the serving file is") and "SEI_PUBLISH_MAX_GROWTH" in r.reason
    assert _growth(serving) < 1.2
    wh_copy = tmp_path / "reference.duckdb"
    publish_serving(wh, wh_copy, full=True)
    assert _content(serving) == _content(wh_copy)

    monkeypatch.setenv("SEI_PUBLISH_MAX_GROWTH", "lots")
    with pytest.raises(ValueError, match="SEI_PUBLISH_MAX_GROWTH='lots'"):
        publish_serving(wh, serving)
