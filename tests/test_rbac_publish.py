"""Access control on a real warehouse: the tiny simulated org imported, its org marts built
by dbt, test marts of every shape added; the policy compiled and published as per-scope
DuckDB/Parquet files and onto a PostgreSQL server the test starts. For every built-in role
at every scope kind, the principal sees exactly the rows computed independently from the
org files (tests/rbac_world.py), in every published mart, on both engines; then every
known way around it is tried and must fail."""
from __future__ import annotations

import os
import re
import shutil
import stat

import duckdb
import pytest

import rbac_world as W
from test_dbt_staging import dbt

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

CASES = [(r, k) for r in W.ROLES for k in W.SCOPES]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rbac")
    w = W.build(tmp, dbt)
    w["tmp"] = tmp
    w["frames"] = W.marts(w["db"])
    return w


def expected(world, kind, scope):
    return W.expected_sets(world["facts"], world["frames"], kind, scope)


# --------------------------------------------------------------------------- DuckDB extracts
@pytest.fixture(scope="module")
def scopes(world):
    from rbac_policies.duck import publish_scopes
    out = world["tmp"] / "scopes"
    r = publish_scopes(world["policy"], out, world["db"], world["sources"], formats=("duckdb", "parquet"))
    return out, r


_extract_rows = W.extract_rows


@pytest.mark.parametrize("role,kind", CASES)
def test_extract_holds_exactly_the_principals_rows(world, scopes, role, kind):
    from rbac_policies.duck import scope_file
    out, _ = scopes
    got = _extract_rows(scope_file(out, W.principal(role, kind)))
    want = expected(world, kind, W.SCOPES[kind])
    assert set(got) == set(world["frames"]) and set(W.SHAPES) <= set(got), "every mart is published"
    for mart in got:
        assert got[mart] == want[mart], (mart, sorted(got[mart] - want[mart])[:3], sorted(want[mart] - got[mart])[:3])
    if kind == "team":   # not a vacuous check: the team scope sees some rows and not all of them
        assert 0 < len(got["t_team_weekly"]) < len(world["frames"]["t_team_weekly"])
        assert W.norm(W.CRAFTED_TEAM) not in {r[2] for r in got["t_team_weekly"]}


def test_parquet_matches_duckdb_and_files_are_private(world, scopes):
    out, r = scopes
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o700
    for name, entry in r.files.items():
        f = out / entry["file"]
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
        assert name not in entry["file"] and "/" not in entry["file"] and ".." not in entry["file"]
        folder = out / entry["parquet"]
        assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
        got = _extract_rows(f)
        con = duckdb.connect()
        for mart in got:
            pq = folder / f"{mart}.parquet"
            assert stat.S_IMODE(os.stat(pq).st_mode) == 0o600
            assert W.row_set(con.execute(f"select * from read_parquet('{pq}')").fetchall()) == got[mart], (name, mart)
        con.close()
    # crafted principal names: plain files inside the folder, exact rows
    for n in W.CRAFTED:
        got = _extract_rows(out / r.files[n]["file"])
        want = expected(world, "team", {"tree": "reporting", "team": "T003"})
        assert got == want, n
    assert sorted(p.name for p in out.iterdir() if p.name.startswith("scope-")) == \
        sorted([e["file"] for e in r.files.values()] + [e["parquet"] for e in r.files.values()])


def test_extract_is_readable_by_duckdb_1x_storage(scopes):
    from rbac_policies.duck import scope_file
    out, _ = scopes
    con = duckdb.connect()
    f = scope_file(out, "admin-account")
    con.execute(f"attach '{f}' as s (read_only)")
    version = con.execute("select tags['storage_version'] from duckdb_databases() where database_name = 's'").fetchone()
    con.close()
    assert version and version[0].startswith("v1."), version     # what DuckDB 1.x drivers open


@pytest.mark.parametrize("sql", [
    "ATTACH '{db}' AS wh (READ_ONLY)",
    "SELECT * FROM read_text('{db}')",
    "SELECT * FROM read_parquet('{other}')",
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY (SELECT 1) TO '{tmp}/out.csv'",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "SET autoload_known_extensions = true",
    "INSTALL httpfs",
    "CREATE TABLE marts.x AS SELECT 1",
])
def test_extract_reader_refuses_escapes(world, scopes, sql):
    from rbac_policies.duck import open_scope, scope_file
    out, r = scopes
    other = out / r.files["admin-account"]["parquet"] / "t_team_weekly.parquet"
    con = open_scope(scope_file(out, "viewer-team"))
    try:
        with pytest.raises(duckdb.Error):
            con.execute(sql.format(db=world["db"], other=other, tmp=world["tmp"])).fetchall()
    finally:
        con.close()


def test_revoked_principal_loses_its_file(world, scopes, tmp_path):
    from rbac_policies.duck import publish_scopes
    out = tmp_path / "scopes"
    first = publish_scopes(world["policy"], out, world["db"], world["sources"])
    gone = out / first.files["viewer-project"]["file"]
    assert gone.exists()
    text = world["policy"].read_text()
    pol = tmp_path / "policy.yml"
    pol.write_text(text.replace("  - principal: viewer-project\n    role: SEI Viewer\n    scope: {project: prj-platform}\n",
                                ""))
    second = publish_scopes(pol, out, world["db"], world["sources"])
    assert "viewer-project" not in second.files and not gone.exists()
    assert first.files["viewer-team"]["file"] == second.files["viewer-team"]["file"]   # stable names
    assert second.removed == [first.files["viewer-project"]["file"]]


def test_unclassifiable_mart_is_refused_not_published(world, tmp_path):
    from rbac_policies.duck import publish_scopes
    from rbac_policies.marts import UnclassifiedMart
    db = tmp_path / "wh.duckdb"
    shutil.copy(world["db"], db)
    con = duckdb.connect(str(db))
    con.execute("create table marts.t_mystery as select 'secret' as payload")
    con.close()
    with pytest.raises(UnclassifiedMart, match="t_mystery"):
        publish_scopes(world["policy"], tmp_path / "scopes", db, world["sources"])
    assert not any(p.name.startswith("scope-") for p in (tmp_path / "scopes").glob("*")) \
        if (tmp_path / "scopes").exists() else True


def test_policy_views_filter_on_the_variable(world, tmp_path):
    from rbac_policies.duck import write_policy_views
    db = tmp_path / "wh.duckdb"
    shutil.copy(world["db"], db)
    write_policy_views(world["policy"], db, world["sources"])
    con = duckdb.connect(str(db), read_only=True)
    con.execute("set variable sei_principal = 'viewer-team'")
    got = W.row_set(con.execute("select * from policy.t_team_weekly").fetchall())
    assert got == expected(world, "team", W.SCOPES["team"])["t_team_weekly"]
    con.close()


def _exact(path) -> dict[str, list]:
    """Every mart of a scope file (DuckDB file or Parquet folder): its columns and rows, duplicates kept."""
    con = duckdb.connect()
    try:
        if path.is_dir():
            return {f.stem: (con.execute(f"describe select * from read_parquet('{f}')").fetchall(),
                             con.execute(f"select * from read_parquet('{f}') order by all").fetchall())
                    for f in sorted(path.glob("*.parquet"))}
        con.execute(f"attach '{path}' as s (read_only)")
        return {n: (con.execute(f'describe s.marts."{n}"').fetchall(),
                    con.execute(f'select * from s.marts."{n}" order by all').fetchall())
                for (n,) in con.execute("select table_name from information_schema.tables where table_catalog = 's' "
                                        "order by 1").fetchall()}
    finally:
        con.close()


def test_scope_files_rewrite_only_what_changed_and_equal_a_full_publish(world, tmp_path, monkeypatch):
    from rbac_policies.duck import STATE_FILE, publish_scopes
    monkeypatch.delenv("SEI_PUBLISH_FULL", raising=False)
    db, out, ref, fmt = tmp_path / "wh.duckdb", tmp_path / "scopes", tmp_path / "reference", ("duckdb", "parquet")
    shutil.copy(world["db"], db)
    first = publish_scopes(world["policy"], out, db, world["sources"], formats=fmt)
    marts = len(next(iter(first.files.values()))["rows"])
    written = len(first.full_files)     # files cut from the warehouse; the others copy an identical one
    assert written and first.kept == 0 and first.rewritten == written * marts
    # the fingerprints of the full marts stay beside the files, private, never in a principal's file
    assert stat.S_IMODE(os.stat(out / STATE_FILE).st_mode) == 0o600
    assert all(set(_exact(out / e["file"])) == set(_exact(out / e["parquet"])) == set(e["rows"])
               for e in first.files.values())

    again = publish_scopes(world["policy"], out, db, world["sources"], formats=fmt)
    assert (again.full_files, again.rewritten, again.kept) == ({}, 0, written * marts)
    con = duckdb.connect(str(db))
    con.execute("update marts.t_team_weekly set n = n + 1 where team_id = 'T002'")
    con.execute("delete from marts.t_pr_team where pr_id = 'pr6'")      # the bridge t_prs is cut through
    con.close()
    third = publish_scopes(world["policy"], out, db, world["sources"], formats=fmt)
    assert third.full_files == {} and third.rewritten == written * 3, third.summary()
    full = publish_scopes(world["policy"], ref, db, world["sources"], formats=fmt, full=True)
    assert set(third.files) == set(full.files)
    for principal, e in third.files.items():
        f = full.files[principal]
        assert e["rows"] == f["rows"], principal
        assert _exact(out / e["file"]) == _exact(ref / f["file"]), principal
        assert _exact(out / e["parquet"]) == _exact(ref / f["parquet"]), principal

    pol = tmp_path / "policy.yml"        # any change of the policy file: every file in full
    pol.write_text(world["policy"].read_text() + "\n# reviewed\n")
    fourth = publish_scopes(pol, out, db, world["sources"], formats=fmt)
    assert set(fourth.full_files) == set(first.full_files) and fourth.kept == 0
    assert all("policy" in why for why in fourth.full_files.values())


# --------------------------------------------------------------------------- managed teams, cycles
def _moved_copy(world, tmp_path):
    """The warehouse after Elena (D00003) left Team Atlas (T002) to manage Beacon (T003)."""
    db = tmp_path / "moved.duckdb"
    shutil.copy(world["db"], db)
    con = duckdb.connect(str(db))
    con.execute("update marts.dim_team set manager_developer_id = 'D00004' where tree = 'reporting' and team_id = 'T002'")
    con.execute("update marts.dim_team set manager_developer_id = 'D00003' where tree = 'reporting' and team_id = 'T003'")
    con.close()
    return db


def test_manager_who_moved_loses_the_old_subtree(world, scopes, tmp_path):
    from rbac_policies.duck import publish_scopes
    out, r = scopes
    before = _extract_rows(out / r.files["mover"]["file"])
    assert {x[2] for x in before["t_team_weekly"]} == {"T002"}
    after = publish_scopes(world["policy"], tmp_path / "s", _moved_copy(world, tmp_path), world["sources"])
    got = _extract_rows(tmp_path / "s" / after.files["mover"]["file"])
    assert {x[2] for x in got["t_team_weekly"]} == {"T003"}
    assert got["t_team_weekly"] == expected(world, "team", {"tree": "reporting", "team": "T003"})["t_team_weekly"]


def _cycle_copy(world, tmp_path):
    db = tmp_path / "cycle.duckdb"
    shutil.copy(world["db"], db)
    con = duckdb.connect(str(db))
    con.execute("update marts.dim_team set parent_team_id = 'T002' where tree = 'reporting' and team_id = 'T001'")
    con.close()
    return db


def test_org_tree_with_a_cycle_publishes_nothing(world, tmp_path):
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from rbac_policies.context import OrgCycle
    from rbac_policies.duck import publish_scopes
    with pytest.raises(OrgCycle, match="cycle"):
        publish_scopes(world["policy"], tmp_path / "s", _cycle_copy(world, tmp_path), world["sources"])
    assert not any((tmp_path / "s").glob("scope-*")) if (tmp_path / "s").exists() else True
    # and the org import itself refuses a looping tree, keeping the last good one
    org = tmp_path / "org"
    shutil.copytree(world["org"], org)
    f = org / "org_tree_reporting.csv"
    f.write_text(f.read_text().replace("reporting,T001,Payments Division,T000,", "reporting,T001,Payments Division,T002,"))
    wh = tmp_path / "wh.duckdb"
    shutil.copy(world["db"], wh)
    assert import_org(OrgFiles.from_dir(org), warehouse=wh).status == "rejected"


# --------------------------------------------------------------------------- PostgreSQL
@pytest.fixture(scope="module")
def pg(world):
    from pg import postgres_server
    from rbac_policies.postgres import publish_postgres
    with postgres_server() as srv:
        admin = srv.connect()
        publish_postgres(world["policy"], admin, world["db"], world["sources"])
        from psycopg2 import sql
        names = [W.principal(r, k) for r, k in CASES] + W.CRAFTED + ["mover", "grouped"]
        for n in names:
            srv.execute(sql.SQL("alter role {} password 'pw'").format(sql.Identifier(n)).as_string(admin))
        yield srv, admin


def _pg_rows(srv, user, marts=None) -> dict[str, set]:
    con = srv.connect(user=user, password="pw")
    try:
        out = {}
        with con.cursor() as cur:
            if marts is None:
                # a reader's own schema is its search_path
                cur.execute("select table_name from information_schema.tables where table_schema = current_schema()")
                marts = [r[0] for r in cur.fetchall()]
            for m in marts:
                cur.execute(f'select * from "{m}"')
                out[m] = W.row_set(cur.fetchall())
        return out
    finally:
        con.close()


@pytest.mark.parametrize("role,kind", CASES)
def test_postgres_principal_sees_exactly_its_rows(world, pg, role, kind):
    srv, _ = pg
    got = _pg_rows(srv, W.principal(role, kind))
    want = expected(world, kind, W.SCOPES[kind])
    assert set(got) == set(want)
    for mart in want:
        assert got[mart] == want[mart], (mart, sorted(got[mart] - want[mart])[:3], sorted(want[mart] - got[mart])[:3])


def test_postgres_crafted_principal_names(world, pg):
    srv, _ = pg
    want = expected(world, "team", {"tree": "reporting", "team": "T003"})
    for n in W.CRAFTED:
        assert _pg_rows(srv, n) == want, n
    assert srv.execute("select count(*) from sei_marts.dim_team")[0][0] == len(world["frames"]["dim_team"])


def test_postgres_base_tables_mapping_and_catalog_are_closed(pg):
    import psycopg2
    srv, _ = pg
    con = srv.connect(user="viewer-team", password="pw")
    for q in ["select * from sei_marts.t_team_weekly", "select * from sei_rbac.visible_projects",
              "insert into sei_rbac.visible_projects values ('viewer-team', 'prj-growth')",
              "delete from sei_rbac.visible_teams", "alter table sei_marts.t_team_weekly disable row level security",
              "create view leak as select 1", "drop table t_team_weekly", "delete from t_team_weekly",
              "alter table t_team_weekly disable row level security", "alter table t_team_weekly no force row level security",
              "create table public.x (a int)"]:
        with con.cursor() as cur, pytest.raises(psycopg2.Error):
            cur.execute(q)
    con.close()


def test_postgres_set_and_set_config_cannot_spoof(world, pg):
    import psycopg2
    srv, _ = pg
    con = srv.connect(user="viewer-team", password="pw")
    want = expected(world, "team", W.SCOPES["team"])["t_team_weekly"]
    with con.cursor() as cur:
        for q in ['set role "admin-account"', 'set session authorization "admin-account"', "set role postgres",
                  f"set role {srv.user}", "set role sei_rls_owner", "reset session authorization; set role sei"]:
            with pytest.raises(psycopg2.Error):
                cur.execute(q)
        cur.execute("select set_config('sei.principal', 'admin-account', false)")
        cur.execute("set application_name = 'admin-account'")
        cur.execute('select * from t_team_weekly')
        assert W.row_set(cur.fetchall()) == want
        cur.execute("select current_user")
        assert cur.fetchone()[0] == "viewer-team"
    con.close()


def test_postgres_leaky_function_sees_only_visible_rows(world, pg):
    srv, _ = pg
    con = srv.connect(user="viewer-team", password="pw")
    visible = {r[2] for r in expected(world, "team", W.SCOPES["team"])["t_team_weekly"]}
    with con.cursor() as cur:
        cur.execute("""create function pg_temp.leak(t text) returns boolean language plpgsql cost 0.0000001 as
                       $$ begin raise notice 'LEAK %', t; return true; end $$""")
        cur.execute("select * from t_team_weekly where pg_temp.leak(team_id)")
        rows = cur.fetchall()
    leaked = {n.split("LEAK ", 1)[1].strip() for n in con.notices if "LEAK " in n}
    con.close()
    assert rows and leaked, "the function ran"
    assert leaked <= visible, sorted(leaked - visible)


def test_postgres_group_membership_sees_group_rows(world, pg):
    srv, _ = pg
    got = _pg_rows(srv, "grouped", ["t_project_weekly"])["t_project_weekly"]
    assert got == expected(world, "project", {"project": "prj-growth"})["t_project_weekly"] and got


def test_postgres_manager_moved_and_cycle(world, pg, tmp_path):
    from rbac_policies.context import OrgCycle
    from rbac_policies.postgres import publish_postgres
    srv, admin = pg
    try:
        publish_postgres(world["policy"], admin, _moved_copy(world, tmp_path), world["sources"])
        got = _pg_rows(srv, "mover", ["t_team_weekly"])["t_team_weekly"]
        assert got == expected(world, "team", {"tree": "reporting", "team": "T003"})["t_team_weekly"]
        # a looping tree: the publish is refused and the last good one stays in force
        with pytest.raises(OrgCycle):
            publish_postgres(world["policy"], admin, _cycle_copy(world, tmp_path), world["sources"])
        assert _pg_rows(srv, "mover", ["t_team_weekly"])["t_team_weekly"] == got
    finally:
        publish_postgres(world["policy"], admin, world["db"], world["sources"])
    assert _pg_rows(srv, "mover", ["t_team_weekly"])["t_team_weekly"] == \
        expected(world, "team", {"tree": "reporting", "team": "T002"})["t_team_weekly"]


def test_postgres_copies_only_what_changed(world, pg, tmp_path, monkeypatch):
    """A publish after one mart's rows changed copies that mart and cuts again only the
    principals' tables that depend on it, in the one transaction; readers then see exactly
    what a full publish gives them."""
    from rbac_policies.postgres import publish_postgres
    monkeypatch.delenv("SEI_PUBLISH_FULL", raising=False)
    srv, admin = pg
    db = tmp_path / "wh.duckdb"
    shutil.copy(world["db"], db)
    readers = ["viewer-team", "manager-organisation", "admin-account", "mover"]
    try:
        publish_postgres(world["policy"], admin, db, world["sources"])
        same = publish_postgres(world["policy"], admin, db, world["sources"])
        assert (same.full_reason, same.copied, same.scope_tables_cut) == ("", [], 0)
        con = duckdb.connect(str(db))
        con.execute("delete from marts.t_pr_team where pr_id = 'pr6'")     # the bridge t_prs is cut through
        con.close()
        r = publish_postgres(world["policy"], admin, db, world["sources"])
        assert r.full_reason == "" and r.copied == ["t_pr_team"] and r.scopes_in_full == 0
        assert r.scope_tables_cut == 2 * len(r.schemas)                     # t_pr_team and t_prs
        got = {u: _pg_rows(srv, u) for u in readers}
        full = publish_postgres(world["policy"], admin, db, world["sources"], full=True)
        assert full.full_reason.startswith("a full publish") and len(full.copied) == len(full.tables)
        assert {u: _pg_rows(srv, u) for u in readers} == got
        assert all(("pr6",) not in {r[:1] for r in got[u]["t_pr_team"]} for u in readers)
        pol = tmp_path / "policy.yml"
        pol.write_text(world["policy"].read_text() + "\n# reviewed\n")
        assert publish_postgres(pol, admin, db, world["sources"]).full_reason == "the policy or the publish code changed"
    finally:
        publish_postgres(world["policy"], admin, world["db"], world["sources"])


def test_postgres_policies_after_a_rebuild_in_place(world, pg):
    """PostgreSQL as the warehouse: dbt rebuilds marts.* (new table, swap, drop the old one
    with its dependants). Until the policy is re-applied readers keep their last published
    rows and the rebuilt table stays closed; after it, exactly their rows. Staging and raw
    stay closed."""
    import psycopg2
    from psycopg2 import sql

    from rbac_policies.postgres import MART_SCHEMA, _copy_mart, _csv, apply_in_place
    srv, admin = pg
    dbname = "sei_inplace"
    srv.execute(f"create database {dbname}")
    wh = srv.connect(dbname=dbname)
    try:
        with wh.cursor() as cur:
            cur.execute("create schema marts; create schema staging; create schema sei_marts")
            con = duckdb.connect()
            con.execute(f"attach '{world['db']}' as wh (read_only)")
            for m in world["frames"]:
                cols = con.execute("select column_name, data_type from information_schema.columns where "
                                   "table_catalog = 'wh' and table_schema = 'marts' and table_name = ? "
                                   "order by ordinal_position", [m]).fetchall()
                _copy_mart(cur, m, cols, _csv(con, f'select * from wh.marts."{m}"'))
                cur.execute(sql.SQL("alter table {}.{} set schema marts").format(sql.Identifier(MART_SCHEMA),
                                                                                 sql.Identifier(m)))
            con.close()
            cur.execute("drop schema sei_marts")
            cur.execute("create table staging.stg_secret as select 'raw' as payload")
            cur.execute("grant usage on schema staging to public; grant select on staging.stg_secret to public")
        apply_in_place(world["policy"], wh, sources=world["sources"])
        srv_db = _Db(srv, dbname)
        want = expected(world, "team", W.SCOPES["team"])
        assert _pg_rows(srv_db, "viewer-team") == want
        reader = srv.connect(user="viewer-team", password="pw", dbname=dbname)
        for q in ["select * from staging.stg_secret", "select * from marts.t_team_weekly"]:
            with reader.cursor() as cur, pytest.raises(psycopg2.Error):
                cur.execute(q)
        # the rebuild, as dbt-postgres does it
        with wh.cursor() as cur:
            cur.execute("create table marts.t_team_weekly__dbt_tmp as select * from marts.t_team_weekly")
            cur.execute("alter table marts.t_team_weekly rename to t_team_weekly__dbt_backup")
            cur.execute("alter table marts.t_team_weekly__dbt_tmp rename to t_team_weekly")
            cur.execute("drop table marts.t_team_weekly__dbt_backup cascade")
        with reader.cursor() as cur, pytest.raises(psycopg2.Error):
            cur.execute("select * from marts.t_team_weekly")
        reader.close()
        assert _pg_rows(srv_db, "viewer-team") == want
        apply_in_place(world["policy"], wh, sources=world["sources"])
        assert _pg_rows(srv_db, "admin-team") == expected(world, "team", W.SCOPES["team"])
        assert _pg_rows(srv_db, "viewer-project", ["t_team_weekly"])["t_team_weekly"] == \
            expected(world, "project", W.SCOPES["project"])["t_team_weekly"]
    finally:
        wh.close()


class _Db:
    """The test server, pointed at another database."""

    def __init__(self, srv, dbname):
        self.srv, self.dbname = srv, dbname

    def connect(self, user=None, password=None):
        return self.srv.connect(user=user, password=password, dbname=self.dbname)


def test_sei_publish_command(world, tmp_path, monkeypatch):
    """The command a user runs: serving file, policy views and scope files in one go;
    `sei rbac validate` and `show` on the same policy."""
    from typer.testing import CliRunner

    from rbac_policies.duck import scope_file
    from sei.cli import app
    db = tmp_path / "wh.duckdb"
    shutil.copy(world["db"], db)
    for k, v in {"SEI_WAREHOUSE": db, "SEI_SOURCES": world["sources"], "SEI_RBAC_POLICY": world["policy"],
                 "SEI_SERVING": tmp_path / "serving.duckdb", "SEI_SCOPES_DIR": tmp_path / "scopes"}.items():
        monkeypatch.setenv(k, str(v))
    r = CliRunner().invoke(app, ["publish", "--scopes", "--views"])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "serving.duckdb").exists()
    got = _extract_rows(scope_file(tmp_path / "scopes", "manager-team"))
    assert got["t_team_weekly"] == expected(world, "team", W.SCOPES["team"])["t_team_weekly"]
    monkeypatch.delenv("SEI_PUBLISH_FULL", raising=False)
    r = CliRunner().invoke(app, ["publish", "--scopes"])     # nothing changed: nothing written again
    assert r.exit_code == 0 and "incrementally: 0 tables rewritten" in r.output, r.output
    assert re.search(r"\(0 files in full, 0 marts rewritten, \d+ kept\)", r.output), r.output
    r = CliRunner().invoke(app, ["publish", "--scopes", "--full"])
    assert r.exit_code == 0 and "in full (a full publish was asked for" in r.output, r.output
    assert re.search(r"\((\d+) files in full, \d+ marts rewritten, 0 kept\)", r.output), r.output
    r = CliRunner().invoke(app, ["rbac", "validate"])
    assert r.exit_code == 0 and "valid:" in r.output, r.output
    r = CliRunner().invoke(app, ["rbac", "show", "--principal", "viewer-team"])
    assert r.exit_code == 0 and "reporting/T005" in r.output and "reporting/T000" not in r.output, r.output
    monkeypatch.delenv("SEI_RBAC_POLICY")
    r = CliRunner().invoke(app, ["publish", "--scopes"])
    assert r.exit_code == 2 and "single-administrator" in r.output, r.output


def test_scheduled_publish_step(world, pg, tmp_path, monkeypatch):
    """What the serving asset runs after each build: scope files and PostgreSQL, from the
    environment; without a policy, nothing."""
    from rbac_policies.publish import publish_policies
    srv, _ = pg
    monkeypatch.delenv("SEI_RBAC_POLICY", raising=False)
    assert publish_policies(world["db"], world["sources"]) == {"mode": "single-admin"}
    for k, v in {**srv.env(), "SEI_RBAC_POLICY": str(world["policy"]), "SEI_SCOPES_DIR": str(tmp_path / "s"),
                 "SEI_SCOPES_FORMATS": "duckdb,parquet", "SEI_RBAC_POSTGRES": "serving"}.items():
        monkeypatch.setenv(k, v)
    out = publish_policies(world["db"], world["sources"])
    assert out["scopes"]["principals"] == len(W.ROLES) * len(W.SCOPES) + len(W.CRAFTED) + 2 + 1   # + mover, grouped, group
    assert out["postgres"]["marts"] == len(world["frames"])
    assert _pg_rows(srv, "viewer-team", ["t_team_weekly"])["t_team_weekly"] == \
        expected(world, "team", W.SCOPES["team"])["t_team_weekly"]


def test_postgres_crafted_team_in_the_org_and_the_binding(world, pg, tmp_path):
    """A team whose id is an SQL fragment, in the org tree and in a binding's scope: its
    principal sees that team's rows and nothing else, on PostgreSQL and in its file."""
    from rbac_policies.duck import publish_scopes
    from rbac_policies.postgres import publish_postgres
    srv, admin = pg
    db = tmp_path / "crafted.duckdb"
    shutil.copy(world["db"], db)
    con = duckdb.connect(str(db))
    con.execute("insert into marts.dim_team (tree, team_id, name, parent_team_id, path, depth) "
                "values ('reporting', ?, 'Crafted', 'T003', 'x', 3)", [W.CRAFTED_TEAM])
    con.close()
    pol = tmp_path / "policy.yml"
    pol.write_text(world["policy"].read_text().replace(
        "\nmarts:", "\n  - principal: viewer-team\n    role: SEI Viewer\n    scope: {tree: reporting, team: \"' OR 1=1 --\"}\n"
                    "  - principal: mover\n    role: SEI Viewer\n    scope: {tree: reporting, team: \"' OR 1=1 --\"}\nmarts:", 1))
    try:
        publish_postgres(pol, admin, db, world["sources"])
        got = _pg_rows(srv, "mover", ["t_team_weekly"])["t_team_weekly"]
        want = {r for r in W.row_set(world["frames"]["t_team_weekly"].astype(object).itertuples(index=False))
                if r[2] in ("T002", W.CRAFTED_TEAM) and r[0] is not None}
        assert got == want and any(r[2] == W.CRAFTED_TEAM for r in got)
        files = publish_scopes(pol, tmp_path / "s", db, world["sources"])
        assert _extract_rows(tmp_path / "s" / files.files["mover"]["file"])["t_team_weekly"] == want
    finally:
        publish_postgres(world["policy"], admin, world["db"], world["sources"])
