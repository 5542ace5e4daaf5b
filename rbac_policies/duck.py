"""DuckDB: per-scope extract files (the boundary), policy views (a filter), the reader.

DuckDB has no users: a view filtered on a session variable stops nobody who can type
`SET VARIABLE` or read the base table. So people who must be isolated get a file holding
only their rows; the operating system's file permissions and what the file contains are
the boundary. See docs/access-control.md.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from rbac_policies.compile import TABLES, Compiled, compile_policy
from rbac_policies.context import OrgContext, load_context
from rbac_policies.marts import MartShape, classify_all, row_filter, select
from rbac_policies.model import Policy
from rbac_policies.policy import load_policy

DEFAULT_STORAGE_VERSION = "v1.0.0"     # DuckDB 1.x drivers (most BI tools) open it
MANIFEST = "manifest.json"
KEY_FILE = ".scope-key"
RBAC_SCHEMA = "rbac"
MARTS_SCHEMA = "marts"


def _lit(v) -> str:
    return "'" + str(v).replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def mart_columns(con, catalog: str | None, schema: str = MARTS_SCHEMA) -> dict[str, list[str]]:
    """mart -> its columns in order (`catalog` None: the connection's current database)."""
    out: dict[str, list[str]] = {}
    where = "table_catalog = ?" if catalog else "table_catalog = current_database()"
    for table, column in con.execute(
            f"select table_name, column_name from information_schema.columns where {where} "
            f"and table_schema = ? order by table_name, ordinal_position",
            [catalog, schema] if catalog else [schema]).fetchall():
        out.setdefault(table, []).append(column)
    return out


@dataclass
class Prepared:
    """Everything a publish needs, read once from the warehouse."""
    policy: Policy
    ctx: OrgContext
    shapes: list[MartShape]
    compiled: Compiled
    columns: dict[str, list[str]] = field(default_factory=dict)   # mart -> its columns in order

    def select(self, m: MartShape, source: str, principal: str, rbac: str, marts: str) -> str:
        """The rows and columns of mart `m` (read from `source`.m) the principal may see."""
        return select(m, self.columns[m.name], source, principal, rbac, marts)


def prepare(con, policy_path: str | Path, catalog: str | None, sources=None, today: dt.date | None = None) -> Prepared:
    """Classify the marts (refusing unknown shapes), load the current org, check the policy
    against it and compile. `con` has the warehouse attached as `catalog`."""
    ctx = load_context(con, sources, catalog=catalog, today=today)
    columns = mart_columns(con, catalog)
    for name, cols in columns.items():
        if "project_id" in cols:
            ctx.add_projects(r[0] for r in con.execute(
                f"select distinct project_id from {catalog + '.' if catalog else ''}{MARTS_SCHEMA}.{_q(name)}").fetchall())
    policy = load_policy(policy_path, ctx)
    shapes = classify_all(columns, policy.mart_rules)
    return Prepared(policy, ctx, shapes, compile_policy(policy, ctx), columns)


def load_compiled(con, compiled: Compiled, schema: str = RBAC_SCHEMA) -> None:
    """Write the compiled tables into `schema` of the connection's current database."""
    con.execute(f"create schema if not exists {schema}")
    for t, cols in TABLES.items():
        con.execute(f"create or replace table {schema}.{t} ({', '.join(f'{c} varchar' for c in cols)})")
        frame = compiled.tables[t]
        if len(frame):
            con.register("_rbac_frame", frame.astype(object))
            con.execute(f"insert into {schema}.{t} select * from _rbac_frame")
            con.unregister("_rbac_frame")


# --------------------------------------------------------------------------- extracts
@dataclass
class ScopesResult:
    out_dir: Path
    files: dict[str, dict] = field(default_factory=dict)    # principal -> {"file", "kind", "rows": {mart: n}}
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rewritten: int = 0         # marts written from the warehouse, over all files written this run
    kept: int = 0              # marts carried over from a principal's previous file
    full_files: dict[str, str] = field(default_factory=dict)   # principal -> why its file was written in full

    def summary(self) -> str:
        return (f"scope files: {len(self.files)} principals, {len(self.full_files)} written in full, "
                f"{self.rewritten} marts rewritten, {self.kept} kept, {len(self.removed)} removed, {self.seconds:.2f} s")


def _secret(out_dir: Path) -> bytes:
    """The key that turns principal names into opaque file names: stable across publishes (a
    BI connection keeps working), unguessable without read access to the folder."""
    p = out_dir / KEY_FILE
    if not p.exists():
        fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return bytes.fromhex(p.read_text().strip())


def opaque_name(key: bytes, principal: str) -> str:
    return "scope-" + hmac.new(key, principal.encode(), hashlib.sha256).hexdigest()[:32]


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def publish_scopes(policy_path: str | Path, out_dir: str | Path, warehouse: str | Path | None = None,
                   sources=None, formats: tuple[str, ...] = ("duckdb",), storage_version: str | None = None,
                   today: dt.date | None = None, full: bool | None = None) -> ScopesResult:
    """Write one file (or Parquet folder) per principal holding only its rows, under opaque
    names with owner-only permissions, and remove the files of principals that lost access.
    A policy, org or mart problem raises before any file changes.

    Like the serving file (core/publish.py), a principal's file is built on a copy of its
    previous one and only the marts whose rows it may see could have changed are written
    again: those whose content, or whose bridge's, moved since the last publish (fingerprints
    kept in STATE_FILE beside the files, never in a principal's file: a content hash of the
    full mart would tell its reader when rows it cannot see changed). It is written in full
    when what it may see, the policy, the set of marts or their columns, the code, DuckDB or
    the storage version changed, when it grew past SEI_PUBLISH_MAX_GROWTH, or when `full` /
    SEI_PUBLISH_FULL=1 asks."""
    from core.publish import fingerprints, full_requested, max_growth
    from core.settings import warehouse_path
    t0 = dt.datetime.now(dt.timezone.utc)
    wh = Path(warehouse) if warehouse else warehouse_path()
    if not wh.exists():
        raise FileNotFoundError(f"{wh}: no warehouse to publish from. Fix: run the main job first, or set SEI_WAREHOUSE")
    out = Path(out_dir)
    bad = set(formats) - {"duckdb", "parquet"}
    if bad:
        raise ValueError(f"unknown format(s) {', '.join(sorted(bad))}. Fix: use duckdb and/or parquet")
    version = storage_version or os.environ.get("SEI_SERVING_STORAGE_VERSION", DEFAULT_STORAGE_VERSION)
    limit = max_growth()
    full = full_requested() if full is None else full
    con = duckdb.connect()
    try:
        con.execute(f"attach {_lit(wh)} as wh (read_only)")
        prep = prepare(con, policy_path, "wh", sources, today)
        load_compiled(con, prep.compiled)
        _private_dir(out)
        key = _secret(out)
        result = ScopesResult(out)
        fps = fingerprints(con, "wh", [(MARTS_SCHEMA, m.name) for m in prep.shapes])
        state = {"key": _state_key(policy_path, version, formats), "files": {},
                 "inputs": {m.name: _inputs(m, fps) for m in prep.shapes}}
        previous = _read_state(out)
        # gone before the first file changes: a run that fails half-way leaves files the
        # state does not describe, and the next run must not build on them
        (out / STATE_FILE).unlink(missing_ok=True)
        granted = set(prep.compiled.tables["visible_projects"].principal) | \
            set(prep.compiled.tables["visible_teams"].principal)
        written: dict[str, tuple[str, dict]] = {}    # visibility signature -> (first principal's name, rows)
        for principal, kind in prep.compiled.principals.itertuples(index=False):
            if principal not in granted:
                continue          # no data binding: no file (and an old one is removed below)
            name = opaque_name(key, principal)
            sig = _signature(prep.compiled, principal)
            if sig in written:    # same rows as a file written this run (e.g. users seeing only through one group)
                _copy_scope(out, written[sig][0], name, formats)
                rows = written[sig][1]
            else:
                changed, why = _changed_marts(previous, state, name, sig, full, out, formats, con, limit)
                if changed is None:
                    result.full_files[principal] = why
                result.rewritten += len(prep.shapes) if changed is None else len(changed)
                result.kept += 0 if changed is None else len(prep.shapes) - len(changed)
                rows = {}
                if "duckdb" in formats:
                    rows = _write_duckdb(con, prep, principal, out / f"{name}.duckdb", version, changed)
                if "parquet" in formats:
                    rows = _write_parquet(con, prep, principal, out / name, changed)
                written[sig] = (name, rows)
            state["files"][name] = sig
            result.files[principal] = {"file": name + (".duckdb" if "duckdb" in formats else ""),
                                       "parquet": name if "parquet" in formats else None, "kind": kind, "rows": rows}
    finally:
        con.close()
    keep = {f["file"] for f in result.files.values()} | {f["parquet"] for f in result.files.values() if f["parquet"]}
    for p in out.iterdir():
        if p.name.startswith("scope-") and p.name not in keep:
            result.removed.append(p.name)
            if p.is_dir():
                for child in p.iterdir():
                    child.unlink()
                p.rmdir()
            else:
                p.unlink()
    manifest = {"published_at": t0.isoformat(), "policy": str(policy_path), "scopes": result.files}
    tmp = out / f".{MANIFEST}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(manifest, f, indent=1, sort_keys=True)
    os.replace(tmp, out / MANIFEST)
    _write_state(out, state)
    result.seconds = (dt.datetime.now(dt.timezone.utc) - t0).total_seconds()
    import logging
    logging.getLogger("sei.publish").info(result.summary())
    from rbac_policies.control import audit_publish
    audit_publish(f"scope files in {out}", {"principals": sorted(result.files), "removed_files": result.removed,
                                            "formats": list(formats)}, warehouse=wh, policy=prep.policy)
    return result


STATE_FILE = ".publish-state.json"


def _state_key(policy_path, version: str, formats) -> dict[str, str]:
    """What every scope file's content depends on beyond its marts' rows and its principal's
    visibility: a change rewrites every file in full."""
    code = hashlib.sha256()
    for module in ("duck.py", "marts.py", "compile.py", "context.py"):
        code.update((Path(__file__).parent / module).read_bytes())
    return {"code": code.hexdigest()[:16], "duckdb": duckdb.__version__, "storage version": version,
            "formats": ",".join(sorted(formats)), "policy": hashlib.sha256(Path(policy_path).read_bytes()).hexdigest()}


def _inputs(m: MartShape, fps: dict) -> str:
    """A digest of what mart `m`'s extract is cut from: its shape, its own rows and those of
    the bridges its filter reads."""
    h = hashlib.sha256(repr(m).encode())
    for mart in sorted({m.name, m.bridge, m.people[0] if m.people else None} - {None}):
        fp = fps[f"{MARTS_SCHEMA}.{mart}"]
        h.update(f"{mart}|{fp.columns}|{fp.content}".encode())
    return h.hexdigest()


def _read_state(out: Path) -> dict | None:
    try:
        return json.loads((out / STATE_FILE).read_text())
    except (OSError, ValueError):
        return None


def _write_state(out: Path, state: dict) -> None:
    tmp = out / f".{STATE_FILE}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(tmp, out / STATE_FILE)


def _changed_marts(previous: dict | None, state: dict, name: str, sig: str, full: bool, out: Path, formats,
                   con, limit: float) -> tuple[set[str] | None, str]:
    """The marts of file `name` to write again on a copy of its previous file, or None (and
    why) when it is written in full."""
    from core.publish import FULL_ENV, file_growth, grown
    if full:
        return None, f"a full publish was asked for ({FULL_ENV}=1 or --full)"
    if previous is None:
        return None, "no state of an earlier publish"
    if previous.get("key") != state["key"]:
        return None, "the policy, the publish code, DuckDB, the storage version or the formats changed"
    if previous.get("files", {}).get(name) != sig:
        return None, "what the principal may see changed"
    old = previous.get("inputs", {})
    if set(old) != set(state["inputs"]):
        return None, "the set of marts changed"
    if any(not (out / p).exists() for p in ([f"{name}.duckdb"] if "duckdb" in formats else []) +
           ([name] if "parquet" in formats else [])):
        return None, "no previous file"
    if "duckdb" in formats:
        path = out / f"{name}.duckdb"
        con.execute(f"attach {_lit(path)} as old_scope (read_only)")
        try:
            if grown(*file_growth(con, "old_scope", path), limit):
                return None, "the file grew past its live data"
        finally:
            con.execute("detach old_scope")
    return {m for m, digest in state["inputs"].items() if old[m] != digest}, ""


def _signature(compiled: Compiled, principal: str) -> str:
    """A digest of everything the principal may see: equal digests, equal files."""
    h = hashlib.sha256()
    for t, frame in sorted(compiled.for_principal(principal).items()):
        h.update(t.encode())
        for r in sorted(tuple("" if v is None else str(v) for v in row[1:]) for row in frame.itertuples(index=False)):
            h.update(repr(r).encode())
    return h.hexdigest()


def _copy_scope(out: Path, source: str, name: str, formats) -> None:
    """Copy an already written scope (file and/or Parquet folder) under another opaque name,
    owner-only, swapped in like a fresh one."""
    import shutil
    if "duckdb" in formats:
        tmp = out / f".{name}.duckdb.tmp"
        shutil.copyfile(out / f"{source}.duckdb", tmp)
        os.chmod(tmp, 0o600)
        os.replace(tmp, out / f"{name}.duckdb")
    if "parquet" in formats:
        tmp = out / f".{name}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        shutil.copytree(out / source, tmp)
        os.chmod(tmp, 0o700)
        for f in tmp.iterdir():
            os.chmod(f, 0o600)
        if (out / name).exists():
            shutil.rmtree(out / name)
        os.replace(tmp, out / name)


def _select(prep: Prepared, m: MartShape, principal: str) -> str:
    return prep.select(m, f"wh.{MARTS_SCHEMA}", _lit(principal), RBAC_SCHEMA, f"wh.{MARTS_SCHEMA}")


def _write_duckdb(con, prep: Prepared, principal: str, target: Path, version: str,
                  changed: set[str] | None = None) -> dict[str, int]:
    """The principal's file, in full (`changed` None) or as a copy of its previous file with
    only the `changed` marts written again."""
    import shutil
    tmp = target.with_name(f".{target.name}.tmp")
    for stale in (tmp, Path(f"{tmp}.wal")):
        stale.unlink(missing_ok=True)
    old = os.umask(0o077)   # DuckDB creates the file (and its WAL) owner-only from the first byte
    rows = {}
    try:
        if changed is None:
            con.execute(f"attach {_lit(tmp)} as pub (storage_version {_lit(version)})")
        else:
            shutil.copyfile(target, tmp)
            con.execute(f"attach {_lit(tmp)} as pub")
        try:
            con.execute(f"create schema if not exists pub.{MARTS_SCHEMA}")
            for m in prep.shapes:
                if changed is None or m.name in changed:
                    con.execute(f"drop table if exists pub.{MARTS_SCHEMA}.{_q(m.name)}")
                    con.execute(f"create table pub.{MARTS_SCHEMA}.{_q(m.name)} as {_select(prep, m, principal)}")
                rows[m.name] = con.execute(f"select count(*) from pub.{MARTS_SCHEMA}.{_q(m.name)}").fetchone()[0]
        finally:
            con.execute("detach pub")
    finally:
        os.umask(old)
    os.chmod(tmp, 0o600)
    os.replace(tmp, target)
    return rows


def _write_parquet(con, prep: Prepared, principal: str, folder: Path, changed: set[str] | None = None) -> dict[str, int]:
    tmp = folder.with_name(f".{folder.name}.tmp")
    if tmp.exists():
        for c in tmp.iterdir():
            c.unlink()
        tmp.rmdir()
    old = os.umask(0o077)
    rows = {}
    try:
        _private_dir(tmp)
        for m in prep.shapes:
            f = tmp / f"{m.name}.parquet"
            if changed is None or m.name in changed:
                con.execute(f"copy ({_select(prep, m, principal)}) to {_lit(f)} (format parquet)")
            else:
                import shutil
                shutil.copyfile(folder / f.name, f)
            os.chmod(f, 0o600)
            rows[m.name] = con.execute(f"select count(*) from read_parquet({_lit(f)})").fetchone()[0]
    finally:
        os.umask(old)
    if folder.exists():
        for c in folder.iterdir():
            c.unlink()
        folder.rmdir()
    os.replace(tmp, folder)
    return rows


# --------------------------------------------------------------------------- the reader
READER_CONFIG = {
    "enable_external_access": False,       # no ATTACH, no read_csv/read_parquet/read_text of other files
    "autoload_known_extensions": False,    # no extension slips in on demand
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
    "lock_configuration": True,            # and none of the above can be SET back
}


def open_scope(path: str | Path) -> duckdb.DuckDBPyConnection:
    """Open a published scope file the way the project's own readers do: read-only, with
    external access off, extension autoloading off and the configuration locked, so a query
    cannot reach another file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such scope file. Fix: run `sei publish --scopes` (or check the manifest)")
    return duckdb.connect(str(p), read_only=True, config=dict(READER_CONFIG))


def scope_file(out_dir: str | Path, principal: str) -> Path | None:
    """The file published for `principal` (from the manifest), or None when it has none."""
    m = json.loads((Path(out_dir) / MANIFEST).read_text())
    entry = m["scopes"].get(principal)
    return Path(out_dir) / entry["file"] if entry and entry["file"] else None


# --------------------------------------------------------------------------- policy views
POLICY_VIEW_SCHEMA = "policy"
PRINCIPAL_VARIABLE = "sei_principal"


def write_policy_views(policy_path: str | Path, warehouse: str | Path | None = None, sources=None,
                       today: dt.date | None = None) -> list[str]:
    """Compile into `rbac.*` of the warehouse and create `policy.<mart>` views filtered on
    `getvariable('sei_principal')`. A convenience for trusted analysts, NOT a boundary:
    anyone who can type SQL can `SET VARIABLE sei_principal` or read `marts.*` directly."""
    from core.settings import warehouse_path
    wh = Path(warehouse) if warehouse else warehouse_path()
    con = duckdb.connect(str(wh))
    try:
        cat = con.execute("select current_database()").fetchone()[0]
        prep = prepare(con, policy_path, cat, sources, today)
        con.execute("begin")
        load_compiled(con, prep.compiled)
        con.execute(f"drop schema if exists {POLICY_VIEW_SCHEMA} cascade")
        con.execute(f"create schema {POLICY_VIEW_SCHEMA}")
        principal = f"getvariable('{PRINCIPAL_VARIABLE}')"
        for m in prep.shapes:
            con.execute(f"create view {POLICY_VIEW_SCHEMA}.{_q(m.name)} as "
                        f"{prep.select(m, MARTS_SCHEMA, principal, RBAC_SCHEMA, MARTS_SCHEMA)}")
        con.execute("commit")
        return [m.name for m in prep.shapes]
    finally:
        con.close()

