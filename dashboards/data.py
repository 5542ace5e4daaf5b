"""Who is looking, and the only data they may see.

The dashboards read published serving data, never the working warehouse (DESIGN.md §7):

- a **principal's scope file** (`sei publish --scopes`): one DuckDB file per principal holding
  only its rows, found through the manifest (`rbac_policies.duck.scope_file`) and opened with
  `rbac_policies.duck.open_scope` (read-only, external access off, configuration locked), so
  no query of the app can reach another file;
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
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

PRINCIPAL_ENV = "SEI_DASHBOARD_PRINCIPAL"
DEMO_ENV = "SEI_DASHBOARD_DEMO"
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
    path: Path                      # the file opened (read-only, locked)
    as_of: dt.datetime | None       # when that file was published: the last complete refresh it holds
    demo: bool = False

    @property
    def label(self) -> str:
        return "demo: whole account, no access control" if self.demo else f"principal {self.principal}"


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
    """The principal's published scope file, or an AccessError naming the fix."""
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


@dataclass
class Data:
    """Queries on the viewer's file. Each query runs on its own cursor (sessions are threads)."""
    viewer: Viewer
    _tables: set[str] | None = field(default=None, repr=False)

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        cur = connection(self.viewer.path).cursor()
        try:
            return cur.execute(query, params or []).df()
        finally:
            cur.close()

    @property
    def tables(self) -> set[str]:
        if self._tables is None:
            self._tables = set(self.sql("select table_name from information_schema.tables "
                                        "where table_schema = 'marts'").table_name)
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
