"""`sei org retention`: delete raw personal data older than N months (the productivity
profile's `privacy.retention_months`, or --months).

What goes (by the time the work finished, UTC):
  raw_github.pull_requests  closed or merged before the cutoff (open PRs stay), with their
                            nested rows (reviews, labels, ...) and their Jira-key links
  raw_jira.issues           resolved before the cutoff, with their nested rows and changelogs
Commits and workflow runs older than the cutoff stay, because DORA change sets walk the
default branch's history through them, but lose who made them (author and committer
names, emails, logins; commit messages; run actors and titles).
The same rows go from dlt's `<schema>_staging` copies. Deployments, incidents, services
and the org import are kept: they name no one beyond what the org files say, and DORA
history needs them. Marts follow at the next dbt build (the command asks the planner for a
full one); the sources' incremental cursors are past these rows, so they are not loaded again.

The raw tables are where dlt loaded them: the DuckDB file, or PostgreSQL with
SEI_ENGINE=postgres (`connect_warehouse`); the SQL below runs on both.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from ingestion.lock import writes_warehouse

# table -> SQL condition (over its columns) for "finished before ?"
RULES = {
    "raw_github.pull_requests": "coalesce(merged_at, closed_at) < ?",
    "raw_jira.issues": "resolved_at < ?",
}
# table -> (condition, personal columns blanked)
BLANKED = {
    "raw_github.commits": ("authored_at < ?", ("author_name", "author_email", "author_login", "committer_name",
                                               "committer_email", "committer_login", "message")),
    "raw_github.workflow_runs": ("created_at < ?", ("actor_login", "triggering_actor_login", "display_title")),
}
# child table -> (key column, parent table, parent key): rows whose parent went
LINKED = {
    "raw_github.pull_request_jira_keys": ("pull_request_id", "raw_github.pull_requests", "id"),
    "raw_jira.issue_changelogs": ("issue_id", "raw_jira.issues", "id"),
}


@dataclasses.dataclass
class RetentionResult:
    months: int | None
    cutoff: dt.datetime | None
    deleted: dict[str, int]


def cutoff_for(months: int, now: dt.datetime | None = None) -> dt.datetime:
    """The same day and time `months` calendar months before now (UTC), clamped to the
    month's last day (31 March minus one month is 28/29 February)."""
    now = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    y, m = divmod(now.year * 12 + now.month - 1 - months, 12)
    import calendar
    day = min(now.day, calendar.monthrange(y, m + 1)[1])
    return now.replace(year=y, month=m + 1, day=day)


def configured_months(profiles_dir: Path | str | None = None) -> int | None:
    from core.profiles.base import load_all
    loaded = load_all(profiles_dir, only="productivity")
    return loaded[0].profile["privacy"]["retention_months"] if loaded else None


@writes_warehouse(unless=lambda a: a["dry_run"])  # one writer at a time (ingestion/lock.py)
def apply_retention(warehouse: Path | str | None = None, months: int | None = None, now: dt.datetime | None = None,
                    profiles_dir: Path | str | None = None, dry_run: bool = False) -> RetentionResult:
    from core.settings import warehouse_path
    if months is None:
        months = configured_months(profiles_dir)
    if months is None:
        return RetentionResult(None, None, {})
    if months < 1:
        raise ValueError(f"retention of {months} months: give 1 or more")
    cutoff = cutoff_for(months, now)
    from ingestion.destination import connect_warehouse
    with connect_warehouse(Path(warehouse or warehouse_path()), read_only=False) as con:
        deleted = _apply(con, cutoff, dry_run)
    return RetentionResult(months, cutoff.replace(tzinfo=None), deleted)


def _apply(con, cutoff: dt.datetime, dry_run: bool) -> dict[str, int]:
    """Delete and blank in one transaction; what went (or would go), per table."""
    deleted: dict[str, int] = {}
    try:
        tables = {f"{s}.{t}" for s, t in con.execute(
            "select table_schema, table_name from information_schema.tables where table_type = 'BASE TABLE'").fetchall()}
        con.execute("begin")
        for base in ("", "_staging"):
            for table, cond in RULES.items():
                schema, name = table.split(".")
                t = f"{schema}{base}.{name}"
                if t not in tables:
                    continue
                ids = [r[0] for r in con.execute(f"select _dlt_id from {t} where {cond}", [cutoff]).fetchall()]
                if not ids:
                    continue
                con.execute("drop table if exists _gone")
                con.execute("create temp table _gone as select unnest(?::varchar[]) as _dlt_id", [ids])
                deleted[t] = len(ids)
                # dlt's nested tables point at the root row through _dlt_root_id
                for child in sorted(x for x in tables if x.startswith(f"{schema}{base}.{name}__")):
                    n = con.execute(f"select count(*) from {child} where _dlt_root_id in (select _dlt_id from _gone)"
                                    ).fetchone()[0]
                    if n:
                        deleted[child] = n
                        if not dry_run:
                            con.execute(f"delete from {child} where _dlt_root_id in (select _dlt_id from _gone)")
                for child, (key, parent, pkey) in LINKED.items():
                    cs, cn = child.split(".")
                    ct = f"{cs}{base}.{cn}"
                    if parent != table or ct not in tables:
                        continue
                    cond_sql = f"{key} in (select {pkey} from {t} where _dlt_id in (select _dlt_id from _gone))"
                    n = con.execute(f"select count(*) from {ct} where {cond_sql}").fetchone()[0]
                    if n:
                        deleted[ct] = n
                        if not dry_run:
                            con.execute(f"delete from {ct} where {cond_sql}")
                if not dry_run:
                    con.execute(f"delete from {t} where _dlt_id in (select _dlt_id from _gone)")
            for table, (cond, personal) in BLANKED.items():
                schema, name = table.split(".")
                t = f"{schema}{base}.{name}"
                if t not in tables:
                    continue
                cols = [r[0] for r in con.execute("select column_name from information_schema.columns where "
                                                  "table_schema = ? and table_name = ?", [f"{schema}{base}", name]).fetchall()]
                blank = [c for c in personal if c in cols]
                if not blank:
                    continue
                where = f"{cond} and ({' or '.join(f'{c} is not null' for c in blank)})"
                n = con.execute(f"select count(*) from {t} where {where}", [cutoff]).fetchone()[0]
                if n:
                    deleted[f"{t} (personal columns blanked)"] = n
                    if not dry_run:
                        con.execute(f"update {t} set {', '.join(f'{c} = null' for c in blank)} where {where}", [cutoff])
        if deleted and not dry_run:
            # the planner sees loads and deletion stamps, not these deletes: the incremental
            # marts would keep the rows outside their window (orchestration/incremental.py)
            from orchestration.incremental import request_full_build
            request_full_build(con, "sei org retention")
        con.execute("rollback" if dry_run else "commit")
    except Exception:
        con.execute("rollback")
        raise
    return deleted
