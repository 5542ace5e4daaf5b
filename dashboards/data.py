"""Who is looking, and the only data they may see.

The dashboards read published serving data, never the working warehouse (DESIGN.md §7):

- a **principal's scope file** (`sei publish --scopes`): one DuckDB file per principal holding
  only its rows, found through the manifest (`rbac_policies.duck.scope_file`) and opened with
  `rbac_policies.duck.open_scope` (read-only, external access off, configuration locked), so
  no query of the app can reach another file;
- or, with `SEI_DASHBOARD_PG` set (a libpq connection string), the **PostgreSQL serving
  database** as the principal's own role: `sei publish --target postgres` gave the role a
  schema `sei_bi_<opaque>` holding only its rows (row-level security admits only that role)
  and made it the role's search_path; the app connects read-only as that role and never
  names a schema;
- in **demo mode** only (`sei dashboards --demo`, allowed when `sei demo` built this warehouse:
  simulated people, no secrets), the serving file of the whole account, opened the same way.

The viewer is fixed for the whole server (`--principal` / `SEI_DASHBOARD_PRINCIPAL`) or comes
from Streamlit's OIDC login (`st.login`), the email mapped to a principal in
`.streamlit/secrets.toml` (`[sei.principals]`). Without any of these the app refuses to run.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

PRINCIPAL_ENV = "SEI_DASHBOARD_PRINCIPAL"
DEMO_ENV = "SEI_DASHBOARD_DEMO"
PG_ENV = "SEI_DASHBOARD_PG"
CACHE_ENV = "SEI_DASHBOARD_CACHE_TTL"       # seconds a query's result is kept per viewer; 0: no cache
POLICY_HINT = "SEI_RBAC_POLICY=<policy file> sei publish --scopes"


class AccessError(RuntimeError):
    """The viewer cannot be given any data: the message says why and how to fix it."""


def scopes_dir() -> Path:
    """Where `sei publish --scopes` writes (SEI_SCOPES_DIR, default `scopes/` beside the warehouse)."""
    from core.settings import warehouse_path
    env = os.environ.get("SEI_SCOPES_DIR")
    return Path(env) if env else warehouse_path().parent / "scopes"


def demo_allowed() -> bool:
    """Demo mode only over a warehouse `sei demo` built (its demo.json beside it)."""
    from orchestration.demo import read_demo_state
    return read_demo_state() is not None


@dataclass(frozen=True)
class Viewer:
    """Whose data the app shows: a principal's scope file, or the whole account in demo mode."""
    principal: str | None           # None only in demo mode
    path: Path | None               # the file opened (read-only, locked); None through PostgreSQL
    as_of: dt.datetime | None       # when that file was published: the last complete refresh it holds
    demo: bool = False
    dsn: str | None = None          # PostgreSQL: the connection string, its user the principal's role

    @property
    def label(self) -> str:
        if self.demo:
            return "demo: whole account, no access control"
        return f"principal {self.principal}" + (" (PostgreSQL, row-level security)" if self.dsn else "")


def principal_for_email(email: str | None, mapping: dict | None) -> str | None:
    """The principal an OIDC-authenticated email maps to (`[sei.principals]` in
    .streamlit/secrets.toml: `"elena@acme.example" = "elena"`), compared case-insensitively;
    a `"*@domain"` key maps every address of that domain. None when unmapped: no data."""
    if not email or not mapping:
        return None
    e = email.strip().lower()
    table = {str(k).strip().lower(): str(v) for k, v in dict(mapping).items()}
    if e in table:
        return table[e]
    domain = e.rpartition("@")[2]
    return table.get(f"*@{domain}") if domain else None


def scope_viewer(principal: str, out_dir: Path | None = None) -> Viewer:
    """The principal's published scope file (or its PostgreSQL role when SEI_DASHBOARD_PG is
    set), or an AccessError naming the fix."""
    if os.environ.get(PG_ENV, "").strip() and out_dir is None:
        return pg_viewer(principal, os.environ[PG_ENV].strip())
    from rbac_policies.duck import MANIFEST, scope_file
    out = Path(out_dir) if out_dir else scopes_dir()
    manifest = out / MANIFEST
    if not manifest.is_file():
        raise AccessError(f"no scope files in {out} ({MANIFEST} is missing). Fix: publish them with "
                          f"`{POLICY_HINT}` (or set SEI_SCOPES_DIR to where they are)")
    try:
        path = scope_file(out, principal)
    except (OSError, ValueError, KeyError) as e:
        raise AccessError(f"{manifest}: unreadable ({e}). Fix: re-run `{POLICY_HINT}`") from None
    if path is None or not path.is_file():
        raise AccessError(f"principal {principal!r} has no scope file in {out}: it is not in the access policy, or "
                          f"has no binding that grants data. Fix: add a binding for it to the policy and run "
                          f"`{POLICY_HINT}`")
    try:
        as_of = dt.datetime.fromisoformat(json.loads(manifest.read_text())["published_at"])
    except (OSError, ValueError, KeyError):
        as_of = None
    return Viewer(principal, path, as_of)


PG_HINT = "SEI_RBAC_POLICY=<policy file> sei publish --target postgres"


def pg_dsn(dsn: str, principal: str) -> str:
    """`dsn` (libpq keywords or a URL) connecting as `principal`'s role: the user is added when
    the string names none, and must be the principal when it does. The password comes from the
    string, PGPASSWORD or ~/.pgpass (one line per role), or the server trusts a certificate."""
    from psycopg2.extensions import make_dsn, parse_dsn
    try:
        parts = parse_dsn(dsn)
    except Exception as e:  # noqa: BLE001 - psycopg2.ProgrammingError names the bad part
        raise AccessError(f"{PG_ENV}: not a PostgreSQL connection string ({str(e).strip()}). Fix: "
                          f"'host=db.example port=5432 dbname=sei' or postgresql://db.example/sei") from None
    if parts.get("user") not in (None, principal):
        raise AccessError(f"{PG_ENV} connects as {parts['user']!r}, not as principal {principal!r}: the dashboards "
                          f"read through the viewer's own role so that row-level security applies. Fix: drop the "
                          f"user from {PG_ENV} (the principal is used)")
    return make_dsn(dsn, user=principal, application_name="sei-dashboards")


def pg_viewer(principal: str, dsn: str) -> Viewer:
    """The principal's role on the PostgreSQL serving database: checked to be that role (no
    superuser, no BYPASSRLS) with its published scope schema as search_path."""
    full = pg_dsn(dsn, principal)
    try:
        con = _pg_connect(full)
    except Exception as e:  # noqa: BLE001 - psycopg2.OperationalError: the server's own words
        raise AccessError(f"PostgreSQL as {principal!r}: {str(e).strip().splitlines()[0] if str(e).strip() else e}. "
                          f"Fix: the role exists after `{PG_HINT}`; an administrator sets its password "
                          f"(ALTER ROLE ... PASSWORD, given through ~/.pgpass or PGPASSWORD) or pg_hba") from None
    try:
        with con.cursor() as cur:
            cur.execute("select current_user, current_schema(), r.rolsuper or r.rolbypassrls, "
                        "obj_description(n.oid, 'pg_namespace') from pg_roles r "
                        "left join pg_namespace n on n.nspname = current_schema() where r.rolname = current_user")
            user, schema, privileged, comment = cur.fetchone()
    finally:
        con.close()
    if user != principal or privileged:
        raise AccessError(f"PostgreSQL: connected as {user!r}, which is not principal {principal!r} or bypasses "
                          f"row-level security. Fix: connect as the principal's own role")
    if not schema or not schema.startswith("sei_bi_"):
        raise AccessError(f"PostgreSQL role {principal!r} has no published scope (its search_path reaches no "
                          f"sei_bi_ schema): it is not in the access policy or has no binding that grants data, or "
                          f"is a group. Fix: add a binding for it and run `{PG_HINT}`")
    as_of = None
    m = re.search(r"published_at=(\S+)", comment or "")
    if m:
        try:
            as_of = dt.datetime.fromisoformat(m.group(1))
        except ValueError:
            as_of = None
    return Viewer(principal, None, as_of, dsn=full)


def _pg_connect(dsn: str):
    import psycopg2
    con = psycopg2.connect(dsn)
    con.autocommit = True
    with con.cursor() as cur:   # the dashboards only read: every transaction of this session is read-only
        cur.execute("set default_transaction_read_only = on")
    return con


def demo_viewer() -> Viewer:
    """The whole serving file, for `sei demo`'s simulated organisation only."""
    from core.publish import serving_path
    if not demo_allowed():
        raise AccessError("demo mode shows the whole account without access control, so it only runs over a "
                          "warehouse `sei demo` built (no demo.json beside SEI_WAREHOUSE). Fix: pass --principal P "
                          f"(or set {PRINCIPAL_ENV}), or run `make run` first for the demo")
    path = serving_path()
    if not path.is_file():
        raise AccessError(f"{path}: no serving file. Fix: run `make run` (or `sei publish`), or set SEI_SERVING")
    return Viewer(None, path, None, demo=True)


def fixed_viewer() -> Viewer | None:
    """The viewer the server was started for (principal or demo), None when it was not."""
    principal = os.environ.get(PRINCIPAL_ENV, "").strip()
    if principal:
        return scope_viewer(principal)
    if os.environ.get(DEMO_ENV, "").strip() in ("1", "true", "yes"):
        return demo_viewer()
    return None


# --------------------------------------------------------------------------- the connection
_LOCK = threading.Lock()
_OPEN: dict[str, tuple[int, object]] = {}     # path -> (mtime_ns, connection)


def connection(path: Path):
    """One read-only, locked connection per published file, reopened when a publish has swapped
    a new file in (its mtime changes): the old inode stays readable until we let it go, so a
    refresh never shows half. Only `open_scope` opens it."""
    from rbac_policies.duck import open_scope
    key = str(path)
    mtime = path.stat().st_mtime_ns
    with _LOCK:
        held = _OPEN.get(key)
        if held and held[0] == mtime:
            return held[1]
        con = open_scope(path)
        _OPEN[key] = (mtime, con)
        if held:
            try:
                held[1].close()
            except Exception:  # noqa: BLE001 - a cursor of another session may still hold it
                pass
        return con


_PG_LOCK = threading.Lock()
_PG: dict[str, object] = {}                    # dsn -> connection


def pg_connection(dsn: str):
    """One read-only connection per principal's role, reopened when it was lost."""
    with _PG_LOCK:
        con = _PG.get(dsn)
        if con is None or con.closed:
            con = _PG[dsn] = _pg_connect(dsn)
        return con


_MARTS = re.compile(r"(?<![\w.])marts\.")


def pg_query(query: str) -> str:
    """The app's SQL (DuckDB's `?` parameters, `marts.` names) for psycopg2 on the principal's
    schema: `%s` parameters, names resolved by the role's search_path."""
    return _MARTS.sub("", query.replace("%", "%%").replace("?", "%s"))


def _plain(v):
    """numpy scalars as Python values (psycopg2 adapts only those)."""
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v.item() if hasattr(v, "item") and not isinstance(v, (dt.date, dt.datetime)) else v


def _cache_ttl() -> int:
    try:
        return int(os.environ.get(CACHE_ENV, "600"))
    except ValueError:
        return 600


_CACHE = None


def _cached(key: tuple, data: "Data", query: str, params: list) -> pd.DataFrame:
    """st.cache_data per (viewer's data, query, parameters); `data` is not hashed (the key says
    whose data it is)."""
    global _CACHE
    if _CACHE is None:
        import streamlit as st

        @st.cache_data(ttl=_cache_ttl(), max_entries=5000, show_spinner=False)
        def run(key: tuple, _data: "Data", query: str, params: list) -> pd.DataFrame:
            return _data.query(query, params)
        _CACHE = run
    return _CACHE(key, data, query, params)


_FLOAT_OIDS = {700, 701, 1700}                 # real, double precision, numeric
_INT_OIDS = {20, 21, 23}                       # bigint, smallint, integer
_TIME_OIDS = {1082, 1114, 1184}                # date, timestamp, timestamptz


def _frame(rows: list, description) -> pd.DataFrame:
    """psycopg2 rows in the dtypes DuckDB's .df() gives: numerics as floats (NULL as NaN),
    dates and times as datetime64, integers with NULLs as floats."""
    df = pd.DataFrame.from_records(rows, columns=[c.name for c in description])
    for c in description:
        if c.type_code in _FLOAT_OIDS or (c.type_code in _INT_OIDS and df[c.name].isna().any()):
            df[c.name] = pd.to_numeric(df[c.name], errors="coerce").astype(float)
        elif c.type_code in _TIME_OIDS:
            df[c.name] = pd.to_datetime(df[c.name])
    return df


@dataclass
class Data:
    """Queries on the viewer's file (or PostgreSQL role). Each query runs on its own cursor
    (sessions are threads)."""
    viewer: Viewer
    _tables: set[str] | None = field(default=None, repr=False)

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        """The query's result, from the cache of this viewer's data when it is on: keyed on
        the file and its mtime (a publish swaps a new file in) or the role and its publish
        time, then the query and its parameters (the page's filters), so no result is ever
        shared between principals or outlives the publish it came from."""
        if _cache_ttl() > 0:
            key = (self.viewer.dsn, str(self.viewer.as_of)) if self.viewer.dsn else \
                (str(self.viewer.path), self.viewer.path.stat().st_mtime_ns)
            return _cached(key, self, query, _plain(list(params or [])))
        return self.query(query, params)

    def query(self, query: str, params: list | None = None) -> pd.DataFrame:
        if self.viewer.dsn:
            con = pg_connection(self.viewer.dsn)
            with con.cursor() as cur:
                cur.execute(pg_query(query), _plain(list(params or [])))
                return _frame(cur.fetchall(), cur.description)
        cur = connection(self.viewer.path).cursor()
        try:
            return cur.execute(query, params or []).df()
        finally:
            cur.close()

    @property
    def tables(self) -> set[str]:
        if self._tables is None:
            where = "current_schema()" if self.viewer.dsn else "'marts'"
            self._tables = set(self.sql(f"select table_name from information_schema.tables "
                                        f"where table_schema = {where}").table_name)
        return self._tables

    def has(self, mart: str) -> bool:
        return mart in self.tables

    def as_of(self) -> dt.datetime | None:
        """When the data shown was published: the manifest for a scope file, the serving
        file's own record in demo mode."""
        if self.viewer.as_of is not None:
            return self.viewer.as_of
        try:
            v = self.sql("select max(published_at) as t from serving_meta.published_tables").t.iloc[0]
            return None if pd.isna(v) else pd.Timestamp(v).to_pydatetime()
        except Exception:  # noqa: BLE001 - an older serving file without serving_meta
            return None
