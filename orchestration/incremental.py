"""What the next dbt build must recompute: everything, or the incremental marts from a window start.

The large facts and the DORA period marts are incremental by time window
(dbt_project/macros/incremental/sei_window.sql): a build with SEI_DBT_WINDOW_START set
recomputes their rows from that time on and keeps the rest. This module decides the start
from what changed since the last successful build, so an hourly run rebuilds what the hour
touched and an org or profile change rebuilds everything (docs/incremental.md):

- **Raw rows that changed**: rows of the raw tables upstream of an incremental mart that a
  dlt load wrote since the last build (`_dlt_load_id` above the recorded watermark), or that
  the deletion pass stamped since (`_sei_deleted_at`). Each such table has an *anchor*
  (ANCHORS): the earliest time its rows can show in a mart (a pull request's creation, a
  deployment's creation, an incident's opening). The window starts at the earliest anchor
  among the changed rows, minus a lookback (`SEI_INCREMENTAL_LOOKBACK_DAYS`, default 30)
  for what a row changes later in time than itself (a deployment's recovery by the next
  one; a Jira issue moved to in progress after its PR shipped). A late-arriving event is an
  old anchor: the window reaches back to it.
- **Everything else upstream** (the org, identities, profiles, repositories and services):
  a fingerprint of what the staging models show of them (their rows, without load and
  import bookkeeping), with the dbt project's files and vars. Any difference (a team move,
  a new profile, changed code) makes the build a full one, as does no recorded build, a
  requested full refresh (the weekly job), or a build on Spark (no incremental marts).

dlt's own incremental state is per source and per resource; this is the same question one
level up (what changed in the warehouse since the marts were built), which neither dbt nor
Dagster answers for a warehouse another tool writes, so it is written here.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATE_SCHEMA = "sei_builds"   # not `ops`: PostgreSQL mirrors ops from the DuckDB file, dropping what it lacks
STATE_TABLE = "dbt_builds"
WINDOW_ENV = "SEI_DBT_WINDOW_START"   # read by dbt_project/macros/incremental/sei_window.sql
REQUESTS_TABLE = "full_build_requests"   # commands that change raw rows behind dlt's back
DEFAULT_LOOKBACK_DAYS = 30.0

# raw table -> SQL over its columns: the earliest time its rows can appear at in a mart
ANCHORS: dict[tuple[str, str], str] = {
    ("raw_github", "pull_requests"): "created_at",
    ("raw_github", "commits"): "least(authored_at, committed_at)",
    ("raw_github", "deployments"): "created_at",
    ("raw_github", "deployment_statuses"): "created_at",
    ("raw_github", "workflow_runs"): "least(created_at, run_started_at)",
    ("raw_github", "releases"): "least(created_at, published_at)",
    ("raw_harness", "pipeline_executions"): "least(created_at, start_ts)",
    ("raw_events", "deployments"): "least(started_at, finished_at)",
    ("raw_events", "incidents"): "opened_at",
    ("raw_jira", "issues"): "created_at",
    ("raw_jira", "issue_changelogs"): "created_at",
    ("raw_jira", "sprints"): "least(created_at, start_at)",
}
# written only together with a row of the table named (dlt nested tables, derived rows)
COVERED_BY: dict[tuple[str, str], tuple[str, str]] = {
    ("raw_github", "pull_request_jira_keys"): ("raw_github", "pull_requests"),
}
# tables whose loads rewrite unchanged rows (an events file is loaded whole when it changed;
# GitHub deployments are listed again back to the oldest that can still change): their
# changed rows are those whose content differs from what the last build saw, by key
CONTENT_COMPARED: dict[tuple[str, str], tuple[str, ...]] = {
    ("raw_events", "deployments"): ("source_tool", "deployment_id"),
    ("raw_events", "incidents"): ("source_tool", "incident_id"),
    ("raw_github", "deployments"): ("id",),
}
# bookkeeping columns of staging models that change on every load or import, not the data
FINGERPRINT_IGNORED = {"loaded_at", "resolved_at", "import_id", "_dlt_load_id", "_dlt_id"}
# columns that grow with activity rather than describe the org (how much an account did):
# a change of who an account is shows in its developer_id
FINGERPRINT_IGNORED_BY_MODEL = {"stg_org__identity_matches": {"activity"}}
PROJECT_PARTS = ("models", "macros", "seeds", "dbt_project.yml")
EPOCH = dt.datetime(1900, 1, 1)


@dataclass
class BuildPlan:
    full: bool
    reason: str
    window_start: dt.datetime | None = None    # naive UTC; None with full
    watermark: str = ""                         # the newest dlt load id the build sees
    planned_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.timezone.utc).replace(tzinfo=None))
    fingerprint: str = ""
    parts: dict[str, str] = field(default_factory=dict)      # what the fingerprint covers, each hashed
    changed: dict[str, int] = field(default_factory=dict)  # raw table -> changed rows
    earliest: dict[str, dt.datetime] = field(default_factory=dict)  # raw table -> its changed rows' first anchor

    def dbt_env(self) -> dict[str, str]:
        """What dbt's process gets: the window start, or empty for every row. Not a var: a
        var that changes defeats dbt's partial parse (the window moves every day)."""
        start = "" if self.full or self.window_start is None else \
            self.window_start.isoformat(sep="T", timespec="seconds")
        return {WINDOW_ENV: start}

    def describe(self) -> str:
        if self.full:
            return f"full build: {self.reason}"
        rows = sum(self.changed.values())
        # the table whose oldest changed row starts the window: what to look at when it is wide
        first = min(self.earliest.items(), key=lambda kv: kv[1], default=None)
        since = f"; the earliest, {first[0]}, from {first[1]:%Y-%m-%d}" if first else ""
        return (f"incremental build from {self.window_start:%Y-%m-%d %H:%M} UTC: {rows:,} changed raw rows "
                f"in {len(self.changed)} tables ({self.reason}{since})")


def lookback_days() -> float:
    raw = os.environ.get("SEI_INCREMENTAL_LOOKBACK_DAYS", "").strip()
    if not raw:
        return DEFAULT_LOOKBACK_DAYS
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"SEI_INCREMENTAL_LOOKBACK_DAYS={raw!r} is not a number of days >= 0: set it to "
                         f"e.g. 30 (the default), or unset it")
    return value


def upstream(manifest: dict) -> tuple[list[str], list[tuple[str, str]], list[tuple[str, str, list[str]]]]:
    """From dbt's manifest: the incremental models, the raw tables upstream of them, and the
    staging models over the tables without an anchor, (schema, relation, columns)."""
    nodes, parents = manifest["nodes"], manifest["parent_map"]
    # the window's models; the staging tables kept by load (strategy sei_loads) follow their
    # own loads, and a fingerprinted change rebuilds them with everything else
    incremental = sorted(k for k, n in nodes.items()
                         if n.get("resource_type") == "model" and n.get("config", {}).get("materialized") == "incremental"
                         and n.get("config", {}).get("incremental_strategy") == "sei_window")
    seen: set[str] = set()
    stack = list(incremental)
    while stack:
        for p in parents.get(stack.pop(), []):
            if p not in seen:
                seen.add(p)
                stack.append(p)
    sources = manifest["sources"]
    raw = sorted({(sources[s]["schema"], sources[s]["identifier"]) for s in seen if s.startswith("source.")})
    unanchored = {s for s in seen if s.startswith("source.") and _anchor_of((sources[s]["schema"], sources[s]["identifier"])) is None}
    fingerprinted = []
    for k in sorted(seen):
        node = nodes.get(k)
        if node and node["resource_type"] == "model" and any(p in unanchored for p in parents.get(k, [])):
            relation = node.get("alias") or node["name"]
            ignored = FINGERPRINT_IGNORED | FINGERPRINT_IGNORED_BY_MODEL.get(relation, set())
            cols = [c for c in node.get("columns", {}) if c not in ignored]
            fingerprinted.append((node["schema"], relation, cols))
    return incremental, raw, fingerprinted


def _anchor_of(table: tuple[str, str]) -> tuple[tuple[str, str], str] | None:
    """(table whose rows carry the anchor, anchor SQL) or None (fingerprinted instead)."""
    schema, name = table
    if "__" in name:  # a dlt nested table is rewritten with its root row
        table = (schema, name.split("__")[0])
    table = COVERED_BY.get(table, table)
    return (table, ANCHORS[table]) if table in ANCHORS else None


def project_digest(project_dir: Path, dbt_vars: dict[str, Any], target: str) -> str:
    h = hashlib.sha256(f"{target}\n{json.dumps(dbt_vars, sort_keys=True, default=str)}\n".encode())
    for part in PROJECT_PARTS:
        base = project_dir / part
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for f in files:
            h.update(str(f.relative_to(project_dir)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def _columns(con, schema: str, table: str) -> list[str]:
    return [r[0] for r in con.execute(
        "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
        "order by ordinal_position", [schema, table]).fetchall()]


def _row_hash(cols: list[str]) -> str:
    """md5 of a row's values as text, on DuckDB and PostgreSQL alike"""
    return "md5(" + " || '|' || ".join(f"coalesce(cast(\"{c}\" as varchar), '<null>')" for c in cols) + ")"


def _fingerprint_rows(con, schema: str, relation: str, declared: list[str]) -> str:
    ignored = FINGERPRINT_IGNORED | FINGERPRINT_IGNORED_BY_MODEL.get(relation, set())
    cols = [c for c in _columns(con, schema, relation) if c not in ignored]
    if not cols:
        return "absent"
    if declared:
        cols = [c for c in cols if c in declared] or cols
    got = con.execute(f"select md5(coalesce(string_agg(h, '' order by h), '')) "
                      f"from (select {_row_hash(cols)} as h from \"{schema}\".\"{relation}\") as t").fetchone()[0]
    return f"{relation}:{got}"


def fingerprint_parts(con, manifest: dict, project_dir: Path, dbt_vars: dict[str, Any], target: str) -> dict[str, str]:
    """What a full build depends on beyond the anchored raw rows, each hashed: the project and
    the rows of the staging models over sources without an anchor."""
    parts = {"dbt project": project_digest(project_dir, dbt_vars, target)}
    parts.update({r: _fingerprint_rows(con, s, r, cols) for s, r, cols in upstream(manifest)[2]})
    return parts


def _digest(parts: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _state(con) -> dict | None:
    from ingestion.destination import has_table
    if not has_table(con, STATE_SCHEMA, STATE_TABLE):
        return None
    row = con.execute(f"select planned_at, watermark, fingerprint, parts from {STATE_SCHEMA}.{STATE_TABLE} "
                      f"order by planned_at desc limit 1").fetchone()
    return None if row is None else {"planned_at": row[0], "watermark": row[1] or "", "fingerprint": row[2],
                                     "parts": json.loads(row[3] or "{}")}


def _naive(ts) -> dt.datetime | None:
    if ts is None:
        return None
    if isinstance(ts, dt.date) and not isinstance(ts, dt.datetime):
        ts = dt.datetime.combine(ts, dt.time())
    return ts.astimezone(dt.timezone.utc).replace(tzinfo=None) if ts.tzinfo else ts


def plan_build(con, manifest: dict, project_dir: Path, dbt_vars: dict[str, Any], target: str,
               full_refresh: bool = False, now: dt.datetime | None = None) -> BuildPlan:
    """The plan for the build about to run on `con` (the warehouse's connection: DuckDB or a
    PgConnection), from the manifest of the project it runs."""
    from ingestion.destination import has_table
    plan = BuildPlan(full=True, reason="")
    if now is not None:
        plan.planned_at = now
    incremental, raw, _ = upstream(manifest)
    loads = []
    for schema in sorted({s for s, _ in raw}):
        if has_table(con, schema, "_dlt_loads"):
            # dlt's load ids are epoch seconds as text: the same number of integer digits
            # until 2286, so comparing the text compares the numbers (on every engine)
            loads.append(con.execute(f"select max(load_id) from {schema}._dlt_loads where status = 0").fetchone()[0] or "")
    plan.watermark = max(loads, default="")
    plan.parts = fingerprint_parts(con, manifest, project_dir, dbt_vars, target)
    plan.fingerprint = _digest(plan.parts)
    if target == "spark" or not incremental:
        plan.reason = "no incremental models on this engine"
        return plan
    if full_refresh:
        plan.reason = "a full refresh was asked for"
        return plan
    prev = _state(con)
    if prev is None:
        plan.reason = "no earlier build recorded"
        return plan
    asked = _requests(con)
    if asked:
        plan.reason = f"asked for by {', '.join(asked)}"
        return plan
    if prev["fingerprint"] != plan.fingerprint:
        before = prev["parts"]
        which = [k for k in plan.parts if before.get(k) != plan.parts[k]] or ["(an earlier version's fingerprint)"]
        plan.reason = f"changed since the last build: {', '.join(which)}"
        return plan
    since = _naive(prev["planned_at"])
    earliest: dt.datetime | None = None
    for table in raw:
        anchored = _anchor_of(table)
        if anchored is None or anchored[0] != table or not has_table(con, *table):
            continue
        cols = _columns(con, *table)
        cond, params = [], []
        if "_dlt_load_id" in cols:
            cond.append("_dlt_load_id > ?")
            params.append(prev["watermark"])
        if "_sei_deleted_at" in cols:
            cond.append("_sei_deleted_at > ?")
            params.append(since)
        if not cond:
            continue
        # the changed rows with their anchor; for a table loads rewrite unchanged, only those
        # whose content differs from what the last build saw (by key)
        compared = table in CONTENT_COMPARED and has_table(con, STATE_SCHEMA, _seen_table(table))
        keys = CONTENT_COMPARED.get(table, ()) if compared else ()
        extra = "".join(f', "{k}"' for k in keys)
        if compared:
            extra += f", {_row_hash([c for c in cols if c not in FINGERPRINT_IGNORED])} as row_hash_now"
        rows = f"select {anchored[1]} as anchor_at{extra} from {table[0]}.{table[1]} where {' or '.join(cond)}"
        sql = f"select count(*), min(coalesce(c.anchor_at, cast('1900-01-01' as timestamp))) from ({rows}) as c"
        if compared:
            join = " and ".join(f's."{k}" = c."{k}"' for k in keys)
            sql += (f" left join {STATE_SCHEMA}.{_seen_table(table)} as s on {join} "
                    f"where s.row_hash is null or s.row_hash <> c.row_hash_now")
        n, lo = con.execute(sql, params).fetchone()
        if n:
            plan.changed[f"{table[0]}.{table[1]}"] = int(n)
            lo = _naive(lo)
            plan.earliest[f"{table[0]}.{table[1]}"] = lo
            earliest = lo if earliest is None or lo < earliest else earliest
    start = min(earliest or plan.planned_at, plan.planned_at) - dt.timedelta(days=lookback_days())
    # from the start of its UTC day: the push path's frequent small builds all day long
    # recompute the same window, whatever hour their changes came in
    plan.full, plan.window_start = False, max(dt.datetime.combine(start.date(), dt.time()), EPOCH)
    plan.reason = "changes since the last build" if plan.changed else "nothing changed since the last build"
    return plan


def request_full_build(con, reason: str) -> None:
    """Make the next planned build a full one. For commands that delete or rewrite raw rows
    without a load id or a deletion stamp (retention, a forgotten developer): the planner
    cannot see those changes, and the incremental marts keep what is outside the window
    until they are rebuilt. Call it inside the command's transaction, so both land or neither."""
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    con.execute(f"create table if not exists {STATE_SCHEMA}.{REQUESTS_TABLE} (requested_at timestamp, reason varchar)")
    con.execute(f"insert into {STATE_SCHEMA}.{REQUESTS_TABLE} values (?, ?)",
                [dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), reason])


def _requests(con) -> list[str]:
    """Requests no full build has answered yet (record_build removes those it answered)."""
    from ingestion.destination import has_table
    if not has_table(con, STATE_SCHEMA, REQUESTS_TABLE):
        return []
    return [r[0] for r in con.execute(f"select distinct reason from {STATE_SCHEMA}.{REQUESTS_TABLE} "
                                      f"order by 1").fetchall()]


def _seen_table(table: tuple[str, str]) -> str:
    return f"dbt_builds_seen__{table[0]}__{table[1]}"


def record_build(con, plan: BuildPlan, manifest: dict, project_dir: Path, dbt_vars: dict[str, Any],
                 target: str) -> None:
    """After a successful build: what the next plan compares with. The fingerprint is taken
    again: the staging views are the build's now (before a first build they do not exist)."""
    from ingestion.destination import has_table
    plan.parts = fingerprint_parts(con, manifest, project_dir, dbt_vars, target)
    plan.fingerprint = _digest(plan.parts)
    con.execute(f"create schema if not exists {STATE_SCHEMA}")
    for table, keys in CONTENT_COMPARED.items():
        seen = f"{STATE_SCHEMA}.{_seen_table(table)}"
        con.execute(f"drop table if exists {seen}")
        if has_table(con, *table):
            data = [c for c in _columns(con, *table) if c not in FINGERPRINT_IGNORED]
            cols = ", ".join(f'"{k}"' for k in keys)
            con.execute(f"create table {seen} as select {cols}, {_row_hash(data)} as row_hash "
                        f"from {table[0]}.{table[1]}")
    con.execute(f"create table if not exists {STATE_SCHEMA}.{STATE_TABLE} (planned_at timestamp, mode varchar, "
                f"window_start timestamp, watermark varchar, fingerprint varchar, changed_rows bigint, reason varchar, "
                f"parts varchar)")
    if plan.full and has_table(con, STATE_SCHEMA, REQUESTS_TABLE):
        # answered: those made before this build was planned (a later one waits for the next)
        con.execute(f"delete from {STATE_SCHEMA}.{REQUESTS_TABLE} where requested_at <= ?", [plan.planned_at])
    con.execute(f"insert into {STATE_SCHEMA}.{STATE_TABLE} values (?, ?, ?, ?, ?, ?, ?, ?)",
                [plan.planned_at, "full" if plan.full else "window", plan.window_start, plan.watermark,
                 plan.fingerprint, sum(plan.changed.values()), plan.reason, json.dumps(plan.parts, sort_keys=True)])
