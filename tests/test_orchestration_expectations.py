"""great-expectations suites over a newly loaded raw batch: failing rows are flagged in
quarantine.flagged_rows and stay in the raw table; rows of earlier loads are not re-checked."""
import datetime as dt

import duckdb

from orchestration.expectations import validate_new_batches

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def _warehouse(path):
    con = duckdb.connect(str(path))
    con.execute("create schema raw_github")
    con.execute("""create table raw_github._dlt_loads (load_id varchar, schema_name varchar, status bigint,
                   inserted_at timestamptz, schema_version_hash varchar)""")
    con.execute("insert into raw_github._dlt_loads values ('100.0', 'github', 0, ?, 'h'), ('200.0', 'github', 0, ?, 'h')",
                [T0, T0 + dt.timedelta(hours=1)])
    con.execute("""create table raw_github.pull_requests (id varchar, repository varchar, state varchar,
                   created_at timestamptz, merged_at timestamptz, closed_at timestamptz, created_at__v_text varchar,
                   _dlt_load_id varchar, _dlt_id varchar)""")
    rows = [
        # an old load, bad but not part of this batch: not re-flagged
        ("PR_old", "acme/api", "MERGED", T0, T0 - dt.timedelta(days=1), None, None, "100.0", "d0"),
        # this batch: one good row, then one fault each
        ("PR_1", "acme/api", "MERGED", T0, T0 + dt.timedelta(hours=5), T0 + dt.timedelta(hours=5), None, "200.0", "d1"),
        ("PR_2", "acme/api", "MERGED", T0, T0 - dt.timedelta(hours=2), None, None, "200.0", "d2"),  # merged < created
        (None, "acme/api", "OPEN", T0, None, None, None, "200.0", "d3"),                              # null key
        ("PR_4", "acme/api", "REOPENED", T0, None, None, None, "200.0", "d4"),                       # not in the set
        ("PR_5", "acme/api", "OPEN", None, None, None, "31/02/2026 25:00", "200.0", "d5"),           # did not parse
    ]
    con.executemany("insert into raw_github.pull_requests values (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    con.close()


def test_failing_rows_are_flagged_not_dropped(tmp_path):
    db = tmp_path / "sei.duckdb"
    _warehouse(db)
    [batch] = validate_new_batches(db, "github", since=T0 + dt.timedelta(minutes=30))
    assert batch.table == "pull_requests" and batch.rows == 5 and not batch.success
    failing = {r.rule: r.unexpected for r in batch.results if not r.success}
    assert failing == {"merged_at >= created_at": 1, "id is not null": 1, "created_at is not null": 1,
                       "state in ['OPEN', 'CLOSED', 'MERGED']": 1, "created_at parses as a timestamp": 1}
    con = duckdb.connect(str(db), read_only=True)
    flagged = con.execute("select dlt_id, expectation, load_id from quarantine.flagged_rows order by 1, 2").fetchall()
    kept = con.execute("select count(*) from raw_github.pull_requests").fetchone()[0]
    con.close()
    assert flagged == [("d2", "merged_at >= created_at", "200.0"), ("d3", "id is not null", "200.0"),
                       ("d4", "state in ['OPEN', 'CLOSED', 'MERGED']", "200.0"),
                       ("d5", "created_at is not null", "200.0"), ("d5", "created_at parses as a timestamp", "200.0")]
    assert kept == 6  # nothing dropped
    assert batch.flagged == 5


def test_a_clean_batch_passes_and_flags_nothing(tmp_path):
    db = tmp_path / "sei.duckdb"
    _warehouse(db)
    con = duckdb.connect(str(db))
    con.execute("delete from raw_github.pull_requests where _dlt_id <> 'd1' and _dlt_load_id = '200.0'")
    con.close()
    [batch] = validate_new_batches(db, "github", since=T0 + dt.timedelta(minutes=30))
    assert batch.success and batch.rows == 1 and batch.flagged == 0
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select count(*) from information_schema.tables where table_schema = 'quarantine'"
                       ).fetchone()[0] == 0
    con.close()
