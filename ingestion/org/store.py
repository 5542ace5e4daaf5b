"""Versioned org imports in the warehouse (schema `raw_org`).

Every import attempt gets a row in `raw_org.imports`. An accepted import writes a full
snapshot of the org under its `import_id` (developers, emails, tool identities, trees,
teams, services, overrides) plus the membership timeline as of that import; earlier
imports stay as they were. The *current* org is the latest accepted import, which the
`raw_org.current_*` views select. A rejected import writes only its `imports` row (status
`rejected`, the messages in `message`) and never touches the data of any other import.
Each import is one short DuckDB transaction (DuckDB has one writer).

Membership timeline (DESIGN.md §3), valid_to exclusive, dates in UTC:
- The first import is valid from the start of history (valid_from NULL) unless it has an
  --effective-date or the file gives dates.
- A later import takes effect at its effective date E (default: today, UTC). For each
  (developer, tree) whose rows in the memberships file carry no dates: memberships active
  at E that the file still lists continue unchanged (same valid_from); those it no longer
  lists are closed at E; teams that are new for the person open at E. History before E
  is kept.
- For a (developer, tree) whose rows carry valid_from/valid_to, the file is the full
  history of that person in that tree and is taken as given (undated rows among them
  continue or open at E as above).
- An undated membership ends at the person's end_date (exclusive, like valid_to).
- People missing from a later developers file have left: they are carried forward
  (`in_file` false, end_date set to E unless given) so their past activity still
  resolves, and their open memberships close at E.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pandas as pd

from ingestion.lock import writes_warehouse
from ingestion.org.formats import DEFAULT_MAX_FILE_MB, Issue
from ingestion.org.validate import Developer, Membership, Org, OrgFiles, load_org

SCHEMA = "raw_org"

TABLES: dict[str, str] = {
    "imports": "import_id INTEGER PRIMARY KEY, imported_at TIMESTAMPTZ, effective_date DATE, status VARCHAR, "
               "files VARCHAR, checksum VARCHAR, message VARCHAR",
    "developers": "import_id INTEGER, developer_id VARCHAR, full_name VARCHAR, primary_email VARCHAR, "
                  "manager_email VARCHAR, manager_developer_id VARCHAR, role VARCHAR, site VARCHAR, start_date DATE, "
                  "end_date DATE, in_file BOOLEAN, line INTEGER",
    "developer_emails": "import_id INTEGER, developer_id VARCHAR, email VARCHAR, is_primary BOOLEAN",
    "developer_identities": "import_id INTEGER, developer_id VARCHAR, tool VARCHAR, account VARCHAR",
    "trees": "import_id INTEGER, tree VARCHAR, source VARCHAR, file VARCHAR, root_team_id VARCHAR",
    "teams": "import_id INTEGER, tree VARCHAR, team_id VARCHAR, name VARCHAR, parent_team_id VARCHAR, "
             "manager_email VARCHAR, manager_developer_id VARCHAR, depth INTEGER, path VARCHAR",
    "memberships": "developer_id VARCHAR, tree VARCHAR, team_id VARCHAR, valid_from DATE, valid_to DATE, "
                   "import_id INTEGER, source VARCHAR",
    "services": "import_id INTEGER, service VARCHAR, owning_tree VARCHAR, owning_team_id VARCHAR, project_id VARCHAR",
    "service_repositories": "import_id INTEGER, service VARCHAR, repository VARCHAR",
    "service_harness_ids": "import_id INTEGER, service VARCHAR, harness_service_id VARCHAR",
    "identity_overrides": "import_id INTEGER, tool VARCHAR, account VARCHAR, developer_id VARCHAR, is_bot BOOLEAN, "
                          "note VARCHAR",
    # written by identities.resolve_warehouse: the latest resolution, not versioned
    "identity_matches": "resolved_at TIMESTAMPTZ, import_id INTEGER, tool VARCHAR, account_id VARCHAR, login VARCHAR, "
                        "display_name VARCHAR, email VARCHAR, developer_id VARCHAR, rule VARCHAR, confidence DOUBLE, "
                        "is_bot BOOLEAN, activity BIGINT, candidates VARCHAR, sources VARCHAR",
}
SNAPSHOT_TABLES = ("developers", "developer_emails", "developer_identities", "trees", "teams", "memberships",
                   "services", "service_repositories", "service_harness_ids", "identity_overrides")
CURRENT = f"(SELECT max(import_id) FROM {SCHEMA}.imports WHERE status = 'accepted')"


class WarehouseBusy(RuntimeError):
    """The warehouse cannot be opened (missing, or locked by another writer)."""


# --------------------------------------------------------------------------- connection and schema
def connect(path: Path | str | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    from core.settings import warehouse_path
    path = Path(path or warehouse_path())
    if not read_only:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.exists():
        raise WarehouseBusy(f"no warehouse at {path}: run `sei org import` first (or pass --warehouse / set "
                            "SEI_WAREHOUSE).")
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as e:
        raise WarehouseBusy(f"cannot open the warehouse {path}: {e}. Another process (an ingestion or dbt run?) "
                            "may be writing it; try again when it has finished.") from None


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name, cols in TABLES.items():
        con.execute(f"CREATE TABLE IF NOT EXISTS {SCHEMA}.{name} ({cols})")
    for name in SNAPSHOT_TABLES:
        con.execute(f"CREATE OR REPLACE VIEW {SCHEMA}.current_{name} AS "
                    f"SELECT * FROM {SCHEMA}.{name} WHERE import_id = {CURRENT}")


def has_schema(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = ? "
                            "AND table_name = 'imports'", [SCHEMA]).fetchone()[0])


def latest_import(con: duckdb.DuckDBPyConnection) -> dict | None:
    """The current org's import row (the latest accepted), or None."""
    if not has_schema(con):
        return None
    cur = con.execute(f"SELECT * FROM {SCHEMA}.imports WHERE status = 'accepted' ORDER BY import_id DESC LIMIT 1")
    row = cur.fetchone()
    return None if row is None else dict(zip([c[0] for c in cur.description], row))


def imports(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    if not has_schema(con):
        return pd.DataFrame(columns=[c.split()[0] for c in TABLES["imports"].split(", ")])
    return con.execute(f"SELECT * FROM {SCHEMA}.imports ORDER BY import_id").df()


def snapshot(con: duckdb.DuckDBPyConnection, import_id: int | None = None) -> dict[str, pd.DataFrame]:
    """Every table of one import (default: the current one), import_id column dropped."""
    if import_id is None:
        cur = latest_import(con)
        if cur is None:
            return {}
        import_id = int(cur["import_id"])
    return {t: con.execute(f"SELECT * EXCLUDE (import_id) FROM {SCHEMA}.{t} WHERE import_id = ?", [import_id]).df()
            for t in SNAPSHOT_TABLES}


# --------------------------------------------------------------------------- import
@dataclass
class ImportResult:
    status: str                     # accepted | rejected (written) ; valid | invalid (dry run)
    import_id: int | None
    effective_date: dt.date | None
    org: Org
    issues: list[Issue]
    changes: dict = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status in ("accepted", "valid")

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity != "error"]

    def summary(self) -> str:
        c = self.changes
        if not c:
            return f"{len(self.errors)} error(s), {len(self.warnings)} warning(s)"
        eff = self.effective_date.isoformat() if self.effective_date else "start of history"
        parts = [f"{c['developers']:,} developers ({c['departed_kept']:,} departed kept)", f"{c['trees']} trees",
                 f"{c['teams']:,} teams", f"{c['memberships']:,} memberships", f"{c['services']:,} services",
                 f"{c['overrides']:,} identity overrides"]
        delta = (f"vs the current import: +{c['developers_added']} / -{c['developers_removed']} developers, "
                 f"{c['memberships_opened']} memberships opened, {c['memberships_closed']} closed, "
                 f"{c['moves']} people moved team") if c.get("previous_import") else "first import"
        return f"effective {eff}: " + ", ".join(parts) + f"; {delta}"


@writes_warehouse(unless=lambda a: a["dry_run"])  # one writer at a time (ingestion/lock.py)
def import_org(files: OrgFiles, *, effective_date: dt.date | None = None, warehouse: Path | str | None = None,
               dry_run: bool = False, max_file_mb: float = DEFAULT_MAX_FILE_MB, allow_formulas: bool = False,
               today: dt.date | None = None) -> ImportResult:
    """Validate the files and, unless `dry_run`, record the import (see the module doc).
    Never raises for bad input: the result's status and issues say what happened."""
    t0 = time.perf_counter()
    org = load_org(files, max_file_mb=max_file_mb, allow_formulas=allow_formulas)
    today = today or dt.datetime.now(dt.timezone.utc).date()
    from core.settings import warehouse_path
    wpath = Path(warehouse or warehouse_path())
    con = None
    if not dry_run:
        con = connect(wpath)
        ensure_schema(con)
    elif wpath.exists():
        con = connect(wpath, read_only=True)
    try:
        prev = latest_import(con) if con is not None else None
        eff = effective_date or (today if prev else None)
        prev_eff = _date(prev["effective_date"]) if prev else None
        if prev and eff is not None and prev_eff is not None and eff < prev_eff:
            org.issues.append(Issue("--effective-date", None,
                                    f"{eff} is before {prev_eff}, the effective date of the current import "
                                    f"#{prev['import_id']}.",
                                    "imports move forward in time: give a date on or after it. To correct past team "
                                    "history, give valid_from/valid_to in the memberships file."))
        changes: dict = {}
        memberships: list[Membership] = []
        if org.ok:
            prev_state = _previous(con, int(prev["import_id"])) if prev else None
            _carry_departed(org, prev_state, eff)
            memberships, changes = build_timeline(org, prev_state["memberships"] if prev_state else [], eff)
            changes.update(previous_import=int(prev["import_id"]) if prev else None,
                           developers=sum(d.in_file for d in org.developers),
                           departed_kept=sum(not d.in_file for d in org.developers), trees=len(org.trees),
                           teams=len(org.teams), memberships=len(memberships), services=len(org.services),
                           overrides=len(org.overrides))
            if prev_state:
                old = set(prev_state["in_file"])
                new = {d.developer_id for d in org.developers if d.in_file}
                changes.update(developers_added=len(new - old), developers_removed=len(old - new))
        status = ("valid" if org.ok else "invalid") if dry_run else ("accepted" if org.ok else "rejected")
        import_id = None
        if not dry_run:
            import_id = _write(con, org, memberships, eff, status, changes)
        return ImportResult(status, import_id, eff, org, org.issues, changes, time.perf_counter() - t0)
    finally:
        if con is not None:
            con.close()


def _previous(con, import_id: int) -> dict:
    devs = con.execute(f"SELECT * FROM {SCHEMA}.developers WHERE import_id = ?", [import_id]).df()
    emails = con.execute(f"SELECT developer_id, email FROM {SCHEMA}.developer_emails WHERE import_id = ? "
                         "ORDER BY developer_id, NOT is_primary", [import_id]).fetchall()
    idents = con.execute(f"SELECT developer_id, tool, account FROM {SCHEMA}.developer_identities WHERE import_id = ?",
                         [import_id]).fetchall()
    mem = con.execute(f"SELECT developer_id, tree, team_id, valid_from, valid_to, source FROM {SCHEMA}.memberships "
                      "WHERE import_id = ?", [import_id]).fetchall()
    by_dev: dict[str, list[str]] = {}
    for did, e in emails:
        by_dev.setdefault(did, []).append(e)
    ids: dict[str, dict[str, list[str]]] = {}
    for did, tool, acc in idents:
        ids.setdefault(did, {}).setdefault(tool, []).append(acc)
    developers = []
    for r in devs.itertuples():
        developers.append(Developer(
            developer_id=r.developer_id, full_name=r.full_name, emails=by_dev.get(r.developer_id, []),
            manager_email=_none(r.manager_email), role=_none(r.role), site=_none(r.site),
            start_date=_date(r.start_date), end_date=_date(r.end_date), identities=ids.get(r.developer_id, {}),
            line=0, in_file=False))
    return {"developers": developers, "in_file": list(devs.developer_id[devs.in_file]),
            "memberships": [Membership(d, t, team, _date(f), _date(to), dated=s == "dated",
                                       source="file" if s == "dated" else s) for d, t, team, f, to, s in mem]}


def _none(v):
    return None if v is None or (not isinstance(v, str) and pd.isna(v)) else v


def _date(v) -> dt.date | None:
    v = _none(v)
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        return v.date()
    if isinstance(v, dt.date):
        return v
    return pd.Timestamp(v).date()


def _carry_departed(org: Org, prev: dict | None, eff: dt.date | None) -> None:
    """People of the current import who are not in the new developers file: keep them
    (departed), minus any email or account the new file now gives to someone else."""
    if not prev:
        return
    present = {d.developer_id for d in org.developers}
    taken = {e for d in org.developers for e in d.emails}
    taken_ids = {(t, a.lower()) for d in org.developers for t, accs in d.identities.items() for a in accs}
    for d in prev["developers"]:
        if d.developer_id in present:
            continue
        d.emails = [e for e in d.emails if e not in taken]
        if not d.emails:
            continue  # nothing left to recognise them by (their address now belongs to someone else)
        d.identities = {t: [a for a in accs if (t, a.lower()) not in taken_ids] for t, accs in d.identities.items()}
        d.in_file = False
        if d.end_date is None and eff is not None:
            d.end_date = eff
        org.developers.append(d)


def _active(m: Membership, at: dt.date) -> bool:
    return (m.valid_from is None or m.valid_from <= at) and (m.valid_to is None or m.valid_to > at)


def build_timeline(org: Org, prev: list[Membership], eff: dt.date | None) -> tuple[list[Membership], dict]:
    """The membership timeline after this import (see the module doc), and counts of what
    changed: memberships opened and closed at the effective date, people who moved."""
    new: dict[tuple[str, str], list[Membership]] = {}
    for m in org.memberships:
        new.setdefault((m.developer_id, m.tree), []).append(m)
    old: dict[tuple[str, str], list[Membership]] = {}
    for m in prev:
        if m.tree in org.trees:  # a tree no longer imported is dropped from the current org
            old.setdefault((m.developer_id, m.tree), []).append(m)
    out: list[Membership] = []
    opened = closed = 0
    moved: set[str] = set()
    for key in new.keys() | old.keys():
        n, p = new.get(key, []), old.get(key, [])
        active = [m for m in p if eff is not None and _active(m, eff)]

        def continuing(team: str) -> Membership | None:
            return next((m for m in active if m.team_id == team), None)

        if any(m.dated for m in n):
            rows = [m for m in n if m.dated]
            for m in n:
                if not m.dated:
                    c = continuing(m.team_id)
                    rows.append(Membership(m.developer_id, m.tree, m.team_id, c.valid_from if c else eff,
                                           c.valid_to if c else None, False, m.source))
            out += rows
            continue
        keep = [m for m in p if not any(m is a for a in active)]
        teams = {m.team_id: m for m in n}
        n_closed = n_opened = 0
        for m in active:
            if m.team_id in teams:
                keep.append(m)
            else:
                n_closed += 1
                if m.valid_from is None or m.valid_from < eff:
                    keep.append(Membership(m.developer_id, m.tree, m.team_id, m.valid_from, eff, m.dated, m.source))
        for team, m in teams.items():
            if continuing(team) is None:
                n_opened += 1
                keep.append(Membership(m.developer_id, m.tree, team, eff, None, False, m.source))
        opened, closed = opened + n_opened, closed + n_closed
        if n_opened and n_closed:
            moved.add(key[0])
        out += keep
    # An undated membership ends when the person's employment does (end_date, exclusive).
    ended = {d.developer_id: d.end_date for d in org.developers if d.end_date is not None}
    capped = []
    for m in out:
        end = ended.get(m.developer_id)
        if end is not None and not m.dated and (m.valid_to is None or m.valid_to > end):
            if m.valid_from is not None and m.valid_from >= end:
                continue
            m = Membership(m.developer_id, m.tree, m.team_id, m.valid_from, end, m.dated, m.source)
        capped.append(m)
    out = capped
    out.sort(key=lambda m: (m.developer_id, m.tree, m.valid_from or dt.date.min, m.team_id))
    return out, {"memberships_opened": opened if prev else 0, "memberships_closed": closed, "moves": len(moved)}


def _frames(org: Org, memberships: list[Membership], import_id: int) -> dict[str, pd.DataFrame]:
    by_email = {e: d.developer_id for d in org.developers for e in d.emails}
    f: dict[str, list] = {t: [] for t in SNAPSHOT_TABLES}
    for d in org.developers:
        f["developers"].append((import_id, d.developer_id, d.full_name, d.primary_email, d.manager_email,
                                by_email.get(d.manager_email or ""), d.role, d.site, d.start_date, d.end_date,
                                d.in_file, d.line or None))
        for i, e in enumerate(d.emails):
            f["developer_emails"].append((import_id, d.developer_id, e, i == 0))
        for tool, accs in d.identities.items():
            for a in accs:
                f["developer_identities"].append((import_id, d.developer_id, tool, a))
    for t in org.trees.values():
        f["trees"].append((import_id, t.name, t.source, t.file, t.root_team_id))
    for t in org.teams:
        f["teams"].append((import_id, t.tree, t.team_id, t.name, t.parent_team_id, t.manager_email,
                           by_email.get(t.manager_email or ""), t.depth, t.path))
    for m in memberships:
        f["memberships"].append((m.developer_id, m.tree, m.team_id, m.valid_from, m.valid_to, import_id,
                                 "dated" if m.dated else m.source))
    for s in org.services:
        f["services"].append((import_id, s.service, s.owning_tree, s.owning_team_id, s.project_id))
        f["service_repositories"] += [(import_id, s.service, r) for r in s.repositories]
        f["service_harness_ids"] += [(import_id, s.service, h) for h in s.harness_service_ids]
    for o in org.overrides:
        f["identity_overrides"].append((import_id, o.tool, o.account, o.developer_id, o.is_bot, o.note))
    out = {}
    for t, rows in f.items():
        cols = [c.split()[0] for c in TABLES[t].split(", ")]
        out[t] = pd.DataFrame(rows, columns=cols, dtype=object)
    return out


def _write(con, org: Org, memberships: list[Membership], eff: dt.date | None, status: str, changes: dict) -> int:
    now = dt.datetime.now(dt.timezone.utc)
    if status == "accepted":
        msg = "\n".join([_summary_line(changes, eff)] + [str(w) for w in org.warnings[:100]])
    else:
        msg = org.error_message()
    con.execute("BEGIN TRANSACTION")
    try:
        import_id = int(con.execute(f"SELECT coalesce(max(import_id), 0) + 1 FROM {SCHEMA}.imports").fetchone()[0])
        con.execute(f"INSERT INTO {SCHEMA}.imports VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [import_id, now, eff, status, json.dumps(org.files), org.checksum, msg])
        if status == "accepted":
            for table, df in _frames(org, memberships, import_id).items():
                if len(df):
                    con.register("_org_rows", df)
                    con.execute(f"INSERT INTO {SCHEMA}.{table} BY NAME SELECT * FROM _org_rows")
                    con.unregister("_org_rows")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return import_id


def _summary_line(changes: dict, eff) -> str:
    r = ImportResult("accepted", None, eff, Org(), [], changes)
    return r.summary()


# --------------------------------------------------------------------------- reading the org back
def memberships_at(con, at: dt.date, import_id: int | None = None) -> pd.DataFrame:
    """Memberships active on day `at` in an import (default: the current one)."""
    iid = import_id if import_id is not None else int(latest_import(con)["import_id"])
    return con.execute(f"SELECT * FROM {SCHEMA}.memberships WHERE import_id = ? AND (valid_from IS NULL OR "
                       "valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)", [iid, at, at]).df()


def render_tree(con, tree: str | None = None, at: dt.date | None = None, import_id: int | None = None,
                members: bool = False, max_depth: int | None = None) -> str:
    """The tree(s) as indented text: team name [id], manager, members on day `at` (own,
    and with sub-teams)."""
    cur = latest_import(con)
    if cur is None:
        return "no org imported yet: run `sei org import` first."
    iid = int(import_id if import_id is not None else cur["import_id"])
    at = at or dt.datetime.now(dt.timezone.utc).date()
    trees = con.execute(f"SELECT tree, source, root_team_id FROM {SCHEMA}.trees WHERE import_id = ? ORDER BY tree",
                        [iid]).fetchall()
    if tree is not None:
        trees = [t for t in trees if t[0] == tree]
        if not trees:
            known = ", ".join(r[0] for r in con.execute(f"SELECT tree FROM {SCHEMA}.trees WHERE import_id = ? "
                                                        "ORDER BY tree", [iid]).fetchall())
            raise KeyError(f"no tree {tree!r} in import #{iid} (trees: {known})")
    teams = con.execute(f"SELECT * FROM {SCHEMA}.teams WHERE import_id = ?", [iid]).df()
    mem = memberships_at(con, at, iid)
    names = dict(con.execute(f"SELECT developer_id, full_name FROM {SCHEMA}.developers WHERE import_id = ?",
                             [iid]).fetchall())
    eff = con.execute(f"SELECT effective_date FROM {SCHEMA}.imports WHERE import_id = ?", [iid]).fetchone()[0]
    out = []
    for name, source, root in trees:
        tt = teams[teams.tree == name]
        tm = mem[mem.tree == name]
        own = tm.groupby("team_id").developer_id.apply(lambda s: sorted(set(s))).to_dict()
        kids: dict = {}
        for t in tt.itertuples():
            kids.setdefault(t.parent_team_id if isinstance(t.parent_team_id, str) else None, []).append(t)
        for v in kids.values():
            v.sort(key=lambda t: (t.name, t.team_id))

        def everyone(tid: str) -> set:
            s = set(own.get(tid, []))
            for c in kids.get(tid, []):
                s |= everyone(c.team_id)
            return s

        total = len(set(tm.developer_id))
        out.append(f"{name} ({'from manager emails' if source == 'managers' else 'file'}; import #{iid}, effective "
                   f"{eff or 'start of history'}; {len(tt)} teams, {total} people on {at})")

        def walk(t, prefix: str, last: bool, depth: int, top: bool):
            mine, allp = own.get(t.team_id, []), everyone(t.team_id)
            mgr = f"  manager {t.manager_email}" if isinstance(t.manager_email, str) else ""
            branch = "" if top else ("└── " if last else "├── ")
            out.append(f"{prefix}{branch}{t.name} [{t.team_id}]{mgr}  {len(mine)} member{'s' * (len(mine) != 1)}"
                       + (f" ({len(allp)} with sub-teams)" if kids.get(t.team_id) else ""))
            child_prefix = prefix + ("" if top else ("    " if last else "│   "))
            if members and mine:
                bar = "│   " if kids.get(t.team_id) else "    "
                for did in mine:
                    out.append(f"{child_prefix}{bar}· {names.get(did, did)} ({did})")
            if max_depth is not None and depth >= max_depth:
                return
            cs = kids.get(t.team_id, [])
            for i, c in enumerate(cs):
                walk(c, child_prefix, i == len(cs) - 1, depth + 1, False)

        roots = tt[tt.team_id == root] if isinstance(root, str) else tt.iloc[0:0]
        for r in roots.itertuples():
            walk(r, "", True, 0, True)
        out.append("")
    return "\n".join(out).rstrip() + "\n"
