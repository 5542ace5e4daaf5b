"""PostgreSQL: real roles, per-principal schemas and row-level security from the compiled policy.

Layout in the serving database (created and kept by `sei publish --target postgres`):

- `sei_marts.*`   the published marts (serving mode: copied from the DuckDB warehouse;
                  in-place mode: the `marts` schema dbt builds on PostgreSQL is used as is),
                  ROW LEVEL SECURITY enabled and forced, one SELECT policy each keyed on
                  `current_user` through the mapping tables; no reader has USAGE on it;
- `sei_rbac.*`    the compiled mapping tables and the key of the schema names; no reader
                  may read or write them;
- `sei_bi_<opaque>.*`  one schema per principal holding only the rows it may see (the same
                  rows and masked columns as its DuckDB scope file), ROW LEVEL SECURITY
                  enabled and forced with a policy that admits only members of the
                  principal's role. The principal's role has USAGE on that schema alone and
                  it is its `search_path`, so `select * from dora_team_monthly` works. A
                  reader can therefore plan, `EXPLAIN` and count only its own rows: the
                  planner's estimates and statistics of the full marts are out of reach;
- roles: one per principal (users LOGIN, groups NOLOGIN, a user is a member of its
  groups), all members of `sei_readers`. Roles this project created carry a comment; a
  principal removed from the policy has its role and schema dropped. Passwords are never
  set here: the database administrator sets them (ALTER ROLE ... PASSWORD) or uses
  pg_hba / certificates;
- when the publisher is a superuser, the catalog's row counts and sizes (`pg_class.reltuples`,
  `relpages`, the `pg_stat*` views and functions, `pg_relation_size` and friends) are
  revoked from PUBLIC in this database (SEI_PG_HIDE_STATISTICS=0 keeps them); otherwise a
  warning says they stay readable (docs/access-control.md).

Everything is done in one transaction, so a reader sees the previous publish or the new
one, never half of it; it is safe (and required) to run after every rebuild. In serving
mode only what changed is copied: a mart of `sei_marts` whose fingerprint (core/publish.py)
is the last publish's is left as it is, and a principal's table is cut again only when its
mart or the bridge it is cut through changed; the fingerprints, the principals' visibility
digests and the publish's key (code, policy) are kept in `sei_rbac`, which no reader may
read. A new policy or code, a principal whose visibility changed, or `full` /
SEI_PUBLISH_FULL=1 rewrites in full.
"""
from __future__ import annotations

import datetime as dt
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from ingestion.destination import PgConnection
from rbac_policies.compile import TABLES
from rbac_policies.duck import MARTS_SCHEMA, Prepared, _lit, load_compiled, prepare
from rbac_policies.marts import row_filter

READERS, RLS_OWNER = "sei_readers", "sei_rls_owner"
MART_SCHEMA, RBAC_SCHEMA, VIEW_SCHEMA = "sei_marts", "sei_rbac", "sei_bi"
SCOPE_PREFIX = VIEW_SCHEMA + "_"       # sei_bi_<opaque>: one schema per principal
HIDE_STATS_ENV = "SEI_PG_HIDE_STATISTICS"
MANAGED = "managed by sei rbac"
POLICY_NAME = "sei_scope"

PG_TYPES = {"VARCHAR": "text", "BOOLEAN": "boolean", "TINYINT": "smallint", "SMALLINT": "smallint",
            "INTEGER": "integer", "BIGINT": "bigint", "HUGEINT": "numeric", "UTINYINT": "smallint",
            "USMALLINT": "integer", "UINTEGER": "bigint", "UBIGINT": "numeric", "FLOAT": "real",
            "DOUBLE": "double precision", "DATE": "date", "TIMESTAMP": "timestamp",
            "TIMESTAMP WITH TIME ZONE": "timestamptz", "TIME": "time", "INTERVAL": "interval", "UUID": "uuid"}


def pg_type(duck_type: str) -> str:
    t = duck_type.upper()
    if t.startswith("DECIMAL"):
        return t.replace("DECIMAL", "numeric")
    return PG_TYPES.get(t, "text")     # lists, structs, JSON: text (as DuckDB writes them)


def connect(dsn: str | None = None):
    """psycopg2 connection from a DSN, else the SEI_PG_* variables dbt's postgres target uses."""
    import psycopg2
    if dsn:
        return psycopg2.connect(dsn)
    return psycopg2.connect(host=os.environ.get("SEI_PG_HOST", "localhost"), port=int(os.environ.get("SEI_PG_PORT", 5432)),
                            user=os.environ.get("SEI_PG_USER", "sei"), password=os.environ.get("SEI_PG_PASSWORD", ""),
                            dbname=os.environ.get("SEI_PG_DATABASE", "sei"))


@dataclass
class PgResult:
    tables: dict[str, int] = field(default_factory=dict)
    roles: list[str] = field(default_factory=list)
    created_roles: list[str] = field(default_factory=list)
    dropped_roles: list[str] = field(default_factory=list)
    schemas: dict[str, str] = field(default_factory=dict)       # principal -> its schema
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    copied: list[str] = field(default_factory=list)      # marts copied from the warehouse (serving mode)
    kept: list[str] = field(default_factory=list)        # marts left as the last publish wrote them
    scopes_in_full: int = 0            # principals' schemas cut again whole
    scope_tables_cut: int = 0          # principals' tables cut again, in all
    full_reason: str = ""


def _ident(name: str):
    from psycopg2 import sql
    return sql.Identifier(name)


@contextmanager
def _transaction(pg):
    """A cursor inside one transaction: committed when the block ends, rolled back when it
    raises (readers see the previous publish or the new one, never half); the connection
    is left in autocommit, as the catalog reads of `prepare` expect."""
    pg.autocommit = False
    try:
        with pg.cursor() as cur:
            yield cur
        pg.commit()
    except Exception:
        pg.rollback()
        raise
    finally:
        pg.autocommit = True


def publish_postgres(policy_path: str | Path, pg, warehouse: str | Path | None = None, sources=None,
                     today: dt.date | None = None, full: bool | None = None) -> PgResult:
    """Serving mode: copy the DuckDB warehouse's marts into `sei_marts` and apply the policy;
    only the marts (and principals' tables) whose content changed are copied again, unless
    `full` (or SEI_PUBLISH_FULL=1) asks for everything.
    `pg` is an open psycopg2 connection of an administrator (CREATEROLE, owner of the schemas)."""
    from core.settings import warehouse_path
    t0 = dt.datetime.now(dt.timezone.utc)
    wh = Path(warehouse) if warehouse else warehouse_path()
    if not wh.exists():
        raise FileNotFoundError(f"{wh}: no warehouse to publish from. Fix: run the main job first, or set SEI_WAREHOUSE")
    from core.publish import fingerprints, full_requested
    from rbac_policies.duck import _inputs, _signature
    full = full_requested() if full is None else full
    result = PgResult()
    con = duckdb.connect()
    try:
        con.execute(f"attach {_lit(wh)} as wh (read_only)")
        prep = prepare(con, policy_path, "wh", sources, today)
        load_compiled(con, prep.compiled)
        fps = fingerprints(con, "wh", [(MARTS_SCHEMA, m.name) for m in prep.shapes])
        state = {"key": _state_key(policy_path),
                 "marts": {m.name: (f"{fps[f'{MARTS_SCHEMA}.{m.name}'].columns}|"
                                    f"{fps[f'{MARTS_SCHEMA}.{m.name}'].content}", _inputs(m, fps)) for m in prep.shapes},
                 "scopes": {p: _signature(prep.compiled, p) for p in prep.compiled.principals.principal}}
        previous = None if full else _read_state(pg)
        result.full_reason = _why_full(previous, state, full)
        copy = [m.name for m in prep.shapes
                if result.full_reason or previous["marts"].get(m.name, ("", ""))[0] != state["marts"][m.name][0]]
        data = {}
        for name in copy:   # exported before the transaction: readers wait for its locks as briefly as possible
            cols = con.execute("select column_name, data_type from information_schema.columns where table_catalog = 'wh' "
                               "and table_schema = ? and table_name = ? order by ordinal_position",
                               [MARTS_SCHEMA, name]).fetchall()
            data[name] = (cols, _csv(con, f"select * from wh.{MARTS_SCHEMA}.\"{name}\""))
        mapping = {t: _csv(con, f"select * from rbac.{t}") for t in TABLES}
    finally:
        con.close()
    with _transaction(pg) as cur:
        if not full and _read_state(pg, cur) != previous:
            raise RuntimeError("another publish changed the PostgreSQL serving database while this one prepared. "
                               "Fix: run `sei publish --target postgres` again")
        _roles(cur, prep, result)
        _schemas(cur)
        _mapping(cur, mapping)
        _stale_relations(cur, {m.name for m in prep.shapes})
        cur.execute("select table_name from information_schema.tables where table_schema = %s", [MART_SCHEMA])
        held = {r[0] for r in cur.fetchall()}
        copy += [m.name for m in prep.shapes if m.name not in held and m.name not in copy]
        for name in copy:
            if name not in data:
                raise RuntimeError(f"{MART_SCHEMA}.{name} is missing from the PostgreSQL serving database. "
                                   f"Fix: run `sei publish --target postgres --full`")
            _copy_mart(cur, name, *data[name])
        result.copied, result.kept = copy, [m.name for m in prep.shapes if m.name not in copy]
        plan = {}
        for p, sig in state["scopes"].items():
            if result.full_reason or previous["scopes"].get(p) != sig:
                plan[p] = None
            else:
                plan[p] = {m for m, (_, inputs) in state["marts"].items() if previous["marts"][m][1] != inputs}
        _scopes(cur, prep, MART_SCHEMA, result, plan, analyze=set(copy))
        for m in prep.shapes:   # after every copy: a bridged mart's policy reads its bridge
            _protect(cur, MART_SCHEMA, m)
            cur.execute(f'select count(*) from {MART_SCHEMA}."{m.name}"')
            result.tables[m.name] = cur.fetchone()[0]
        _lock_down(cur, keep={MART_SCHEMA})
        _hide_statistics(cur, result)
        _write_state(cur, state)
    result.seconds = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
    _audit(pg, "postgres serving publish", result, warehouse=wh, policy=prep.policy)
    return result


def apply_in_place(policy_path: str | Path, pg, schema: str = "marts", sources=None,
                   today: dt.date | None = None) -> PgResult:
    """PostgreSQL as the warehouse: protect the marts dbt built in `schema` and cut each
    principal's schema from them (run after every `dbt build`)."""
    from psycopg2 import sql
    t0 = dt.datetime.now(dt.timezone.utc)
    pg.autocommit = True    # the catalog reads below may fail one by one (a missing org mart) harmlessly
    prep = prepare(PgConnection(pg), policy_path, None, sources, today)
    mem = duckdb.connect()
    try:
        load_compiled(mem, prep.compiled)
        mapping = {t: _csv(mem, f"select * from rbac.{t}") for t in TABLES}
    finally:
        mem.close()
    result = PgResult()
    with _transaction(pg) as cur:
        _roles(cur, prep, result)
        _schemas(cur, marts=schema)
        _mapping(cur, mapping)
        for m in prep.shapes:   # the owner reads every row while the scopes are cut
            cur.execute(sql.SQL("alter table {}.{} no force row level security").format(_ident(schema), _ident(m.name)))
        _scopes(cur, prep, schema, result)
        for m in prep.shapes:
            _protect(cur, schema, m)
            result.tables[m.name] = -1
        _lock_down(cur, keep={schema})
        _hide_statistics(cur, result)
    result.seconds = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
    _audit(pg, f"postgres in-place policy on schema {schema}", result, policy=prep.policy)
    return result


STATE_TABLE = "publish_state"    # in sei_rbac: (kind, name, value) rows of the last serving publish


def _state_key(policy_path) -> str:
    import hashlib
    h = hashlib.sha256(Path(policy_path).read_bytes())
    for module in ("postgres.py", "duck.py", "marts.py", "compile.py", "context.py"):
        h.update((Path(__file__).parent / module).read_bytes())
    return h.hexdigest()


def _read_state(pg, cur=None) -> dict | None:
    """The last serving publish's key, marts (fingerprint, inputs) and principals' signatures;
    None when there is none (a first publish, or one by an older version)."""
    def read(c):
        c.execute("select 1 from information_schema.tables where table_schema = %s and table_name = %s",
                  [RBAC_SCHEMA, STATE_TABLE])
        if not c.fetchone():
            return None
        c.execute(f'select kind, name, value, value2 from {RBAC_SCHEMA}."{STATE_TABLE}"')
        out: dict = {"key": None, "marts": {}, "scopes": {}}
        for kind, name, value, value2 in c.fetchall():
            if kind == "key":
                out["key"] = value
            elif kind == "mart":
                out["marts"][name] = (value, value2)
            else:
                out["scopes"][name] = value
        return out
    if cur is not None:
        return read(cur)
    with pg.cursor() as c:
        got = read(c)
    if not pg.autocommit:
        pg.rollback()
    return got


def _write_state(cur, state: dict) -> None:
    cur.execute(f'create table if not exists {RBAC_SCHEMA}."{STATE_TABLE}" '
                f'(kind text not null, name text, value text, value2 text)')
    cur.execute(f'delete from {RBAC_SCHEMA}."{STATE_TABLE}"')
    rows = [("key", None, state["key"], None)] + [("mart", m, f, i) for m, (f, i) in state["marts"].items()] + \
        [("scope", p, sig, None) for p, sig in state["scopes"].items()]
    from psycopg2.extras import execute_values
    execute_values(cur, f'insert into {RBAC_SCHEMA}."{STATE_TABLE}" values %s', rows)


def _why_full(previous: dict | None, state: dict, full: bool) -> str:
    from core.publish import FULL_ENV
    if full:
        return f"a full publish was asked for ({FULL_ENV}=1 or --full)"
    if previous is None:
        return "no earlier publish recorded"
    if previous["key"] != state["key"]:
        return "the policy or the publish code changed"
    if set(previous["marts"]) != set(state["marts"]):
        return "the set of marts changed"
    return ""


def _audit(pg, what: str, result: PgResult, **kw) -> None:
    from rbac_policies.control import audit_publish
    dsn = pg.get_dsn_parameters()
    audit_publish(f"{what} ({dsn.get('user')}@{dsn.get('host')}:{dsn.get('port')}/{dsn.get('dbname')})",
                  {"roles_created": result.created_roles, "roles_dropped": result.dropped_roles,
                   "roles": result.roles, "marts": sorted(result.tables), "warnings": result.warnings}, **kw)


def _csv(con, select: str) -> bytes:
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "t.csv"
        con.execute(f"copy ({select}) to {_lit(f)} (format csv, header true)")
        return f.read_bytes()


# --------------------------------------------------------------------------- steps
def _roles(cur, prep: Prepared, result: PgResult) -> None:
    from psycopg2 import sql
    for name, attrs in ((READERS, "NOLOGIN"), (RLS_OWNER, "NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT")):
        cur.execute("select 1 from pg_roles where rolname = %s", [name])
        if not cur.fetchone():
            cur.execute(sql.SQL(f"create role {{}} {attrs}").format(_ident(name)))
    cur.execute(sql.SQL("alter role {} nosuperuser nobypassrls").format(_ident(RLS_OWNER)))
    cur.execute("select r.rolname, coalesce(shobj_description(r.oid, 'pg_authid'), '') from pg_roles r")
    existing = dict(cur.fetchall())
    wanted = dict(prep.compiled.principals.itertuples(index=False))
    for name, kind in wanted.items():
        if name in existing and existing[name] != MANAGED:
            raise ValueError(f"PostgreSQL role {name!r} already exists and was not created by this project: refusing "
                             f"to grant it reader rights or to change it. Fix: rename the principal in the policy, or "
                             f"drop that role (or COMMENT ON ROLE ... IS '{MANAGED}' if it is meant to be managed)")
        if name not in existing:
            cur.execute(sql.SQL("create role {} " + ("LOGIN" if kind == "user" else "NOLOGIN")).format(_ident(name)))
            result.created_roles.append(name)
            cur.execute(sql.SQL("comment on role {} is {}").format(_ident(name), sql.Literal(MANAGED)))
        # whatever someone did to the role by hand, a reader never bypasses the policies
        cur.execute(sql.SQL("alter role {} nosuperuser nobypassrls nocreaterole nocreatedb noreplication")
                    .format(_ident(name)))
        cur.execute(sql.SQL("grant {} to {}").format(_ident(READERS), _ident(name)))
        result.roles.append(name)
    for g in prep.policy.principals.values():
        if g.kind == "group":
            for member in g.members:
                cur.execute(sql.SQL("grant {} to {}").format(_ident(g.name), _ident(member)))
    for name, comment in existing.items():
        if comment == MANAGED and name not in wanted:
            cur.execute(sql.SQL("drop owned by {}").format(_ident(name)))   # readers own nothing; be sure
            cur.execute(sql.SQL("drop role {}").format(_ident(name)))
            result.dropped_roles.append(name)


def _schemas(cur, marts: str = MART_SCHEMA) -> None:
    from psycopg2 import sql
    for s in (marts, RBAC_SCHEMA):
        cur.execute(sql.SQL("create schema if not exists {}").format(_ident(s)))
    # the shared view schema of earlier versions: its views planned over the full marts,
    # so EXPLAIN told a reader the account's statistics
    cur.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(VIEW_SCHEMA)))


def _mapping(cur, mapping: dict[str, bytes]) -> None:
    from psycopg2 import sql
    for t, cols in TABLES.items():
        # kept and refilled, not dropped: the policies depend on them; DELETE (not TRUNCATE)
        # so readers keep reading the previous mapping until the commit, without waiting
        cur.execute(sql.SQL("create table if not exists {}.{} ({})").format(
            _ident(RBAC_SCHEMA), _ident(t), sql.SQL(", ").join(sql.SQL("{} text").format(_ident(c)) for c in cols)))
        cur.execute(sql.SQL("delete from {}.{}").format(_ident(RBAC_SCHEMA), _ident(t)))
        cur.copy_expert(sql.SQL("copy {}.{} from stdin with (format csv, header true)")
                        .format(_ident(RBAC_SCHEMA), _ident(t)).as_string(cur), io.BytesIO(mapping[t]))
        cur.execute(sql.SQL("create index if not exists {} on {}.{} (principal)").format(
            _ident(f"{t}_principal"), _ident(RBAC_SCHEMA), _ident(t)))
        cur.execute(sql.SQL("grant select on {}.{} to {}").format(_ident(RBAC_SCHEMA), _ident(t), _ident(RLS_OWNER)))


def _stale_relations(cur, keep: set[str]) -> None:
    from psycopg2 import sql
    cur.execute("select table_schema, table_name, table_type from information_schema.tables "
                "where table_schema = %s", [MART_SCHEMA])
    for schema, name, kind in cur.fetchall():
        if name not in keep:
            what = "view" if kind == "VIEW" else "table"
            cur.execute(sql.SQL(f"drop {what} if exists {{}}.{{}} cascade").format(_ident(schema), _ident(name)))


def _copy_mart(cur, name: str, cols: list[tuple[str, str]], csv: bytes) -> None:
    from psycopg2 import sql
    cur.execute(sql.SQL("drop table if exists {}.{} cascade").format(_ident(MART_SCHEMA), _ident(name)))
    cur.execute(sql.SQL("create table {}.{} ({})").format(
        _ident(MART_SCHEMA), _ident(name),
        sql.SQL(", ").join(sql.SQL("{} " + pg_type(t)).format(_ident(c)) for c, t in cols)))
    cur.copy_expert(sql.SQL("copy {}.{} from stdin with (format csv, header true)")
                    .format(_ident(MART_SCHEMA), _ident(name)).as_string(cur), io.BytesIO(csv))


def _protect(cur, schema: str, m) -> None:
    """RLS on a full mart, keyed on current_user: no reader has USAGE on its schema, so this
    is a second wall, should a grant ever slip."""
    from psycopg2 import sql
    table = sql.SQL("{}.{}").format(_ident(schema), _ident(m.name))
    cur.execute(sql.SQL("alter table {} enable row level security").format(table))
    cur.execute(sql.SQL("alter table {} force row level security").format(table))
    cur.execute(sql.SQL("drop policy if exists {} on {}").format(_ident(POLICY_NAME), table))
    # current_user cannot be spoofed with SET / set_config; only SET ROLE to a role one is a
    # member of (a reader's own groups, which see a subset) or a superuser changes it.
    expr = row_filter(m, m.name, "current_user", RBAC_SCHEMA, sql.Identifier(schema).as_string(cur))
    cur.execute(sql.SQL("create policy {} on {} as permissive for select to public using (" + expr + ")")
                .format(_ident(POLICY_NAME), table))
    cur.execute(sql.SQL("revoke all on {} from public").format(table))


def _scope_key(cur) -> bytes:
    """The key that turns principal names into opaque schema names: kept in sei_rbac (no
    reader can read it), stable across publishes so a BI connection keeps its schema."""
    from psycopg2 import sql
    cur.execute(sql.SQL("create table if not exists {}.scope_key (key text not null)").format(_ident(RBAC_SCHEMA)))
    cur.execute(sql.SQL("select key from {}.scope_key").format(_ident(RBAC_SCHEMA)))
    row = cur.fetchone()
    if row is None:
        import secrets
        row = (secrets.token_hex(32),)
        cur.execute(sql.SQL("insert into {}.scope_key values (%s)").format(_ident(RBAC_SCHEMA)), row)
    return bytes.fromhex(row[0])


def scope_schema(key: bytes, principal: str) -> str:
    import hashlib
    import hmac
    return SCOPE_PREFIX + hmac.new(key, principal.encode(), hashlib.sha256).hexdigest()[:24]


def _scopes(cur, prep: Prepared, source: str, result: PgResult, plan: dict[str, set[str] | None] | None = None,
            analyze: set[str] | None = None) -> None:
    """One schema per principal with data access, holding only its rows (cut from the full
    marts in `source` by the same select as its DuckDB scope file), readable by its role
    alone; schemas of principals that lost access are dropped. `plan`: principal -> the
    marts to cut again in its existing schema, or None to cut the schema whole (no plan:
    everything whole); `analyze`: the marts whose statistics are stale (None: all)."""
    plan = plan or {}
    from psycopg2 import sql
    # JIT compiles each cut's many subplans for seconds to run them for milliseconds
    cur.execute("set local jit = off")
    key = _scope_key(cur)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    granted = set(prep.compiled.tables["visible_projects"].principal) | \
        set(prep.compiled.tables["visible_teams"].principal)
    kinds = dict(prep.compiled.principals.itertuples(index=False))
    marts = sql.Identifier(source).as_string(cur)
    # the cuts below look rows up in the bridges and the mapping: index the lookups and give
    # the planner statistics, or each row rescans a bridge
    for m in prep.shapes:
        for bridge, bkey in {(m.bridge, m.key)} | ({m.people[:2]} if m.people else set()):
            if bridge:
                cur.execute(sql.SQL("create index if not exists {} on {}.{} ({})").format(
                    _ident(f"{bridge}__{bkey}"[:63]), _ident(source), _ident(bridge), _ident(bkey)))
    for m in prep.shapes:
        if analyze is None or m.name in analyze:
            cur.execute(sql.SQL("analyze {}.{}").format(_ident(source), _ident(m.name)))
    for t in TABLES:
        cur.execute(sql.SQL("analyze {}.{}").format(_ident(RBAC_SCHEMA), _ident(t)))
    for principal in sorted(granted):
        schema = scope_schema(key, principal)
        todo = plan.get(principal)
        if todo is not None:
            cur.execute("select table_name from information_schema.tables where table_schema = %s", [schema])
            if {r[0] for r in cur.fetchall()} != {m.name for m in prep.shapes}:
                todo = None          # dropped or changed by hand: cut it whole
        if todo is None:
            result.scopes_in_full += 1
            cur.execute(sql.SQL("drop schema if exists {} cascade").format(_ident(schema)))
            cur.execute(sql.SQL("create schema {}").format(_ident(schema)))
        for m in prep.shapes:
            if todo is not None and m.name not in todo:
                continue
            result.scope_tables_cut += 1
            table = sql.SQL("{}.{}").format(_ident(schema), _ident(m.name))
            cur.execute(sql.SQL("drop table if exists {}").format(table))
            select = prep.select(m, marts, sql.Literal(principal).as_string(cur), RBAC_SCHEMA, marts)
            cur.execute(sql.SQL("create table {} as " + select).format(table))
            cur.execute(sql.SQL("alter table {} enable row level security").format(table))
            cur.execute(sql.SQL("alter table {} force row level security").format(table))
            # a second wall: whatever grant slips, only the principal's role (and its members) reads
            cur.execute(sql.SQL("create policy {} on {} as permissive for select to public "
                                "using (pg_has_role(current_user, {}, 'MEMBER'))")
                        .format(_ident(POLICY_NAME), table, sql.Literal(principal)))
            cur.execute(sql.SQL("revoke all on {} from public").format(table))
            cur.execute(sql.SQL("grant select on {} to {}").format(table, _ident(principal)))
        cur.execute(sql.SQL("revoke all on schema {} from public").format(_ident(schema)))
        cur.execute(sql.SQL("grant usage on schema {} to {}").format(_ident(schema), _ident(principal)))
        # when this publish was made (the dashboards' "data as of"); the same for every schema
        cur.execute(sql.SQL("comment on schema {} is {}").format(_ident(schema), sql.Literal(f"published_at={now}")))
        if kinds.get(principal) == "user":
            cur.execute(sql.SQL("alter role {} set search_path = {}").format(_ident(principal), _ident(schema)))
        result.schemas[principal] = schema
    keep = set(result.schemas.values())
    cur.execute("select nspname from pg_namespace where nspname like %s", [SCOPE_PREFIX.replace("_", "\\_") + "%"])
    for (schema,) in cur.fetchall():
        if schema not in keep:
            cur.execute(sql.SQL("drop schema {} cascade").format(_ident(schema)))


def _hide_statistics(cur, result: PgResult) -> None:
    """Revoke from PUBLIC what tells row counts and sizes of tables a reader cannot select:
    pg_class's reltuples / relpages / relallvisible (every other column stays, so clients and
    information_schema keep working), the pg_stat*/pg_statio* views and the functions under
    them, and the relation-size functions. Only a superuser may; otherwise say what stays."""
    if os.environ.get(HIDE_STATS_ENV, "1").strip() in ("0", "false", "no"):
        result.warnings.append(f"{HIDE_STATS_ENV}=0: catalog row counts and sizes stay readable by every role")
        return
    cur.execute("select rolsuper from pg_roles where rolname = current_user")
    if not cur.fetchone()[0]:
        result.warnings.append("the publisher is not a superuser, so catalog row counts and sizes of the full marts "
                               "(pg_class.reltuples, pg_stat_all_tables) stay readable by every role; publish as a "
                               "superuser once to revoke them (docs/access-control.md)")
        return
    cur.execute("select attname from pg_attribute where attrelid = 'pg_catalog.pg_class'::regclass and attnum > 0 "
                "and not attisdropped and attname not in ('reltuples', 'relpages', 'relallvisible') order by attnum")
    cols = ", ".join(f'"{c}"' for (c,) in cur.fetchall())
    cur.execute("revoke select on pg_catalog.pg_class from public")
    cur.execute(f"grant select ({cols}) on pg_catalog.pg_class to public")
    cur.execute("select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where n.nspname = 'pg_catalog' and c.relkind = 'v' and (c.relname like 'pg\\_stat%%' "
                "or c.relname like 'pg\\_statio%%') and c.relname not in ('pg_stats', 'pg_stats_ext', "
                "'pg_stats_ext_exprs', 'pg_stat_activity')")
    for (v,) in cur.fetchall():
        cur.execute(f'revoke select on pg_catalog."{v}" from public')
    cur.execute("select p.oid::regprocedure::text from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
                "where n.nspname = 'pg_catalog' and (p.proname like 'pg\\_stat\\_get\\_%%' and p.pronargs = 1 "
                "and p.proargtypes[0] = 'oid'::regtype or p.proname in ('pg_relation_size', 'pg_total_relation_size', "
                "'pg_table_size', 'pg_indexes_size'))")
    for (fn,) in cur.fetchall():
        cur.execute(f"revoke execute on function {fn} from public")


def _lock_down(cur, keep: set[str]) -> None:
    """Readers reach nothing but their own schema: no rights on any other (raw, staging,
    marts of a PostgreSQL warehouse), not even CREATE or USAGE on public."""
    from psycopg2 import sql
    cur.execute("select nspname from pg_namespace where nspname not like 'pg\\_%%' and nspname <> 'information_schema'")
    for (s,) in cur.fetchall():
        if s.startswith(SCOPE_PREFIX):
            continue
        cur.execute(sql.SQL("revoke all on schema {} from public, {}").format(_ident(s), _ident(READERS)))
        if s not in keep and s != RBAC_SCHEMA:
            cur.execute(sql.SQL("revoke all on all tables in schema {} from public, {}").format(_ident(s),
                                                                                             _ident(READERS)))
