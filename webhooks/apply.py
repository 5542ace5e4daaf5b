"""Apply spooled deliveries to the warehouse: what a `sei_fresh` run does.

Webhook payloads are partial (a `pull_request` delivery has no reviews list and no first
commit; a `deployment_status` has no change set; a Jira `issue_updated` has no full
changelog), so the payload is used to know *what* changed and the existing connectors
refetch it: the same dlt source, narrowed to the touched repositories / Jira projects /
Harness projects and to the touched resources, run incrementally from its cursors. Rows
therefore come out exactly as a full sync writes them and merge on the same primary keys;
duplicate and out-of-order deliveries converge because the API answers with the entity's
latest state (last writer by its `updatedAt`). The cost is a few requests per touched
scope, independent of how much history the warehouse holds.

Deliveries that are the data themselves (the generic deployments / incidents format of
docs/events.md) are validated by the events-file parser and merged into raw_events on
(source_tool, id); among several versions of one record the finished one wins, then the
later delivery. A Jira `issue_deleted` soft-deletes the issue as the nightly pass would.

Then dbt builds only the models downstream of the raw tables the batch wrote
(`source:<src>.<table>+`), and the serving file is republished. All of it holds the
warehouse's writer lock (ingestion/lock.py), like every other writer.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from webhooks import settings, spool

# GitHub event -> the resources of ingestion/github.py that hold what it changes
GITHUB_RESOURCES = {
    "pull_request": ("pull_requests", "pull_request_jira_keys"),
    "pull_request_review": ("pull_requests", "pull_request_jira_keys"),
    "push": ("commits",),
    "deployment": ("deployments", "deployment_statuses"),
    "deployment_status": ("deployments", "deployment_statuses"),
    "workflow_run": ("workflow_runs",),
    "release": ("releases",),
}
JIRA_ISSUE_RESOURCES = ("issues", "issue_changelogs", "users")
JIRA_SPRINT_RESOURCES = ("boards", "sprints")
HARNESS_RESOURCES = ("pipeline_executions",)
# nested tables dlt writes for a resource (dbt declares them as sources of their own)
NESTED = {"pull_requests": ("pull_requests__reviews", "pull_requests__labels"), "commits": ("commits__parents",),
          "issues": ("issues__sprints", "issues__labels", "issues__components"),
          "pipeline_executions": ("pipeline_executions__stages",)}


@dataclass
class Plan:
    """What one batch touches."""
    github: dict[str, set[str]] = field(default_factory=dict)       # repository -> resources
    jira: dict[str, set[str]] = field(default_factory=dict)         # project key -> resources
    jira_boards: set[int] = field(default_factory=set)
    jira_deleted: set[str] = field(default_factory=set)             # issue ids
    harness: set[tuple[str, str]] = field(default_factory=set)      # (org, project)
    events: list[spool.Spooled] = field(default_factory=list)

    def summary(self) -> dict:
        return {"github": {k: sorted(v) for k, v in sorted(self.github.items())},
                "jira": {k: sorted(v) for k, v in sorted(self.jira.items())},
                "jira_boards": sorted(self.jira_boards), "jira_deleted": sorted(self.jira_deleted),
                "harness": sorted("/".join(x) for x in self.harness), "events": len(self.events)}


def plan(batch: list[spool.Spooled]) -> Plan:
    p = Plan()
    for e in batch:
        if e.source == "github":
            base = e.event.split(".", 1)[0]
            p.github.setdefault(e.scope, set()).update(GITHUB_RESOURCES.get(base, ()))
        elif e.source == "jira":
            if e.event == "jira:issue_deleted":
                issue = json.loads(e.body).get("issue") or {}
                if issue.get("id"):
                    p.jira_deleted.add(str(issue["id"]))
            elif e.event.startswith("jira:issue_"):
                p.jira.setdefault(e.scope, set()).update(JIRA_ISSUE_RESOURCES)
            elif e.scope and e.scope.startswith("board:"):
                p.jira_boards.add(int(e.scope.split(":", 1)[1]))
        elif e.source == "harness":
            org, _, proj = (e.scope or "").partition("/")
            p.harness.add((org, proj))
        elif e.source == "events":
            p.events.append(e)
    return p


@dataclass
class ApplyResult:
    run_id: str
    events: int = 0
    last_seq: int = 0
    touched_tables: list[str] = field(default_factory=list)   # "github.pull_requests"
    rows: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    dbt_selected: list[str] = field(default_factory=list)
    published: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    newly_applied: int = 0


# --------------------------------------------------------------------------- narrowing the sources
def _narrow(cfg, source: str, p: Plan, board_projects: dict[int, str], say) -> tuple[object, list[str]] | None:
    """(a copy of the sources config holding only the touched scopes, the resources to run)."""
    from ingestion.config import Scope
    if source == "github":
        scopes, resources = [], set()
        for repo, res in sorted(p.github.items()):
            s = cfg.project_of("github", repo)
            if s is None:
                say(f"github: {repo} is not in the sources file; its deliveries are ignored")
                continue
            scopes.append(dataclasses.replace(s, value=repo) if s.value.endswith("/*") else s)
            resources |= res
        if not scopes:
            return None
        # a wildcard scope narrowed to one repository would rewrite repositories.scope:
        # that table is left to the API sync
        cfg = _list_every_scope(cfg, "github", ("rest_sweep_hours",))
        return dataclasses.replace(cfg, scopes=[*scopes, *(s for s in cfg.scopes if s.integration != "github")]), \
            sorted(resources)
    if source == "jira":
        keys = {k.upper(): set(v) for k, v in p.jira.items()}
        for board in p.jira_boards:
            key = board_projects.get(board)
            if key is None:  # a board we have not read yet: every project's sprints
                for s in cfg.scopes:
                    if s.integration == "jira":
                        keys.setdefault(s.value.upper(), set()).update(JIRA_SPRINT_RESOURCES)
            else:
                keys.setdefault(key.upper(), set()).update(JIRA_SPRINT_RESOURCES)
        scopes = [s for s in cfg.scopes if s.integration == "jira" and s.value.upper() in keys]
        unknown = set(keys) - {s.value.upper() for s in scopes}
        if unknown:
            # a project only reached through a `jql:` scope: refresh those scopes
            scopes += [s for s in cfg.scopes if s.integration == "jira" and s.value.startswith("jql:")]
        if not scopes:
            return None
        resources = set().union(*keys.values())
        cfg = _list_every_scope(cfg, "jira", ("sprint_sweep_hours", "board_sweep_hours"))
        return dataclasses.replace(cfg, scopes=[*scopes, *(s for s in cfg.scopes if s.integration != "jira")]), \
            sorted(resources)
    if source == "harness":
        projects = []
        for proj in cfg.projects:
            hs = [h for h in proj.harness if (str(h.get("org")), str(h.get("project"))) in p.harness]
            if hs:
                projects.append(dataclasses.replace(proj, harness=hs))
        if not projects:
            return None
        return dataclasses.replace(cfg, projects=projects), list(HARNESS_RESOURCES)
    return None


def _list_every_scope(cfg, source: str, sweeps: tuple[str, ...]):
    """The config with the source's rolling sweeps off (0: every scope every run). The hourly
    sync lists a repository's deployments or a board's sprints only where something says they
    may have changed, and sweeps the rest; here a delivery is what says so, and the scopes are
    already narrowed to the ones the deliveries name (a deployment made without a push was
    otherwise skipped until the sweep reached its repository)."""
    settings = cfg.integrations.get(source)
    if settings is None:
        return cfg
    return dataclasses.replace(cfg, integrations={**cfg.integrations, source: dataclasses.replace(
        settings, options={**settings.options, **{k: 0 for k in sweeps}})})


def _board_projects(wh: Path) -> dict[int, str]:
    import duckdb
    try:
        with duckdb.connect(str(wh), read_only=True) as con:
            return {int(b): k for b, k in con.execute("select id, project_key from raw_jira.boards").fetchall()}
    except duckdb.Error:
        return {}


def _sync(name: str, narrowed, resources: list[str], wh: Path, result: ApplyResult, say) -> None:
    from ingestion import pipeline as pl
    from ingestion.destination import use_load_file_format
    from ingestion.http import HttpStats
    stats = HttpStats(progress=say)
    pipe = pl.make_pipeline(name, wh, narrowed.runtime.duckdb_memory_limit, 1)
    src = pl.dlt_source(name, narrowed, stats).with_resources(*resources)
    use_load_file_format(src)
    info = pipe.run(src)
    info.raise_on_failed_jobs()
    norm = pipe.last_trace.last_normalize_info if pipe.last_trace else None
    counts = dict(norm.row_counts) if norm else {}
    for table, n in counts.items():
        if not table.startswith("_dlt"):
            result.rows[f"{name}.{table}"] = result.rows.get(f"{name}.{table}", 0) + int(n)
    for r in resources:
        result.touched_tables += [f"{name}.{t}" for t in (r, *NESTED.get(r, ()))]
    errors = [f"{name}.{k[1]}: {e}" for k, c in stats.items() if k[0] == name for e in c.errors]
    result.problems += errors
    say(f"{name}: refreshed {', '.join(resources)} of {len([s for s in narrowed.scopes if s.integration == name]) or 'its'}"
        f" scope(s): {sum(counts.get(r, 0) for r in resources)} rows, {stats.totals().requests} requests")


# --------------------------------------------------------------------------- generic events
def _version(row: dict, seq: int) -> tuple:
    """Last writer wins: a finished record beats an unfinished one, then the later delivery."""
    done = row.get("finished_at") if "deployment_id" in row else row.get("resolved_at")
    return (done is not None, seq)


def _merge_events(cfg, batch: list[spool.Spooled], wh: Path, result: ApplyResult, say) -> None:
    import dlt

    from ingestion import pipeline as pl
    from ingestion.events import DEPLOYMENT_TYPES, ID, INCIDENT_TYPES, EventsFileError, FileEntry, _cols, parse_file
    by_id = {p.id: p for p in cfg.projects}
    latest: dict[tuple, tuple[tuple, str, dict]] = {}
    for e in batch:
        project = by_id.get(e.scope) if e.scope else (cfg.projects[0] if len(cfg.projects) == 1 else None)
        if project is None:
            result.problems.append(f"events delivery {e.delivery_id}: project {e.scope!r} is not in the sources file. "
                                   f"Fix: POST to /webhooks/events/<project id> with a project of the sources file")
            continue
        entry = FileEntry(path="webhook", project_id=project.id, organisation_id=project.organisation,
                          account_id=cfg.account)
        try:
            parsed = parse_file(e.body, f"webhook delivery {e.seq}.json", entry)
        except EventsFileError as x:
            result.problems.append(f"events delivery {e.delivery_id}: {x}")
            continue
        for row in parsed.rows:
            row["source_file"] = f"webhook:{e.delivery_id}"
            key = (parsed.kind, row["source_tool"], row[ID[parsed.kind]])
            v = _version(row, e.seq)
            if key not in latest or v >= latest[key][0]:
                latest[key] = (v, parsed.kind, row)
    if not latest:
        return
    done_in_wh = _finished_in_warehouse(wh)
    rows: dict[str, list[dict]] = {"deployments": [], "incidents": []}
    for (kind, tool, rid), (v, _, row) in latest.items():
        if not v[0] and (kind, tool, rid) in done_in_wh:
            continue  # an older, unfinished version arriving late: the finished one stays
        rows[kind].append(row)
    pipe = pl.make_pipeline("events", wh, cfg.runtime.duckdb_memory_limit, 1)
    resources = []
    for kind, types in (("deployments", DEPLOYMENT_TYPES), ("incidents", INCIDENT_TYPES)):
        if rows[kind]:
            resources.append(dlt.resource(rows[kind], name=kind, write_disposition="merge",
                                          primary_key=("source_tool", ID[kind]), columns=_cols(**types)))
            result.rows[f"events.{kind}"] = len(rows[kind])
            result.touched_tables.append(f"events.{kind}")
    if resources:
        pipe.run(resources).raise_on_failed_jobs()
        say(f"events: merged {', '.join(f'{len(v)} {k}' for k, v in rows.items() if v)}")


def _finished_in_warehouse(wh: Path) -> set[tuple]:
    import duckdb
    out: set[tuple] = set()
    try:
        with duckdb.connect(str(wh), read_only=True) as con:
            for kind, idc, done in (("deployments", "deployment_id", "finished_at"),
                                    ("incidents", "incident_id", "resolved_at")):
                try:
                    out |= {(kind, t, i) for t, i in con.execute(
                        f"select source_tool, {idc} from raw_events.{kind} where {done} is not null").fetchall()}
                except duckdb.Error:
                    pass
    except duckdb.Error:
        pass
    return out


def _delete_issues(ids: set[str], wh: Path, result: ApplyResult, say) -> None:
    import duckdb

    from ingestion.reconcile import _mark, _tables_with
    now = dt.datetime.now(dt.timezone.utc)
    with duckdb.connect(str(wh)) as con:
        if "issues" not in _tables_with(con, "raw_jira", "id"):
            return
        n = _mark(con, "raw_jira", "issues", "id", sorted(ids), now)
        if "issue_changelogs" in _tables_with(con, "raw_jira", "issue_id"):
            _mark(con, "raw_jira", "issue_changelogs", "issue_id", sorted(ids), now)
    result.touched_tables += ["jira.issues", "jira.issue_changelogs"]
    say(f"jira: {n} deleted issue(s) soft-deleted")


# --------------------------------------------------------------------------- dbt and publish
def dbt_selectors(tables: list[str]) -> list[str]:
    return sorted({f"source:{t}+" for t in tables})


def _window(manifest: Path, dbt_vars: dict) -> dict:
    """The incremental marts' window for this batch (orchestration/incremental.py), as dbt's
    environment; none before the first fresh build (no manifest yet: the marts recompute every row).
    Not recorded: the hourly refresh plans from its own last build, so it covers this batch too."""
    if not manifest.exists():
        return {}
    from core.settings import warehouse_path
    from ingestion.destination import connect_warehouse, dbt_target
    from orchestration import settings as osettings
    from orchestration.dbt import engine_type
    from orchestration.incremental import plan_build
    with connect_warehouse(warehouse_path(), read_only=True) as con:
        plan = plan_build(con, json.loads(manifest.read_text()), osettings.DBT_PROJECT_DIR, dbt_vars,
                          engine_type(dbt_target()))
    return plan.dbt_env()


def _dbt_build(selectors: list[str], run_id: str, say) -> None:
    from core.settings import freshness_lag_hours, warehouse_path
    from orchestration import settings as osettings
    from orchestration.dbt import dbt_executable
    # One target folder for every fresh run, so dbt's partial parse is reused (a new folder per
    # run parsed the whole project each time); the log of each run in a folder of its own.
    target = osettings.dbt_target_dir() / "fresh"
    logs = target / "logs" / run_id[:8]
    logs.mkdir(parents=True, exist_ok=True)
    lags = {"sei_health_max_lag_hours": freshness_lag_hours()}
    from orchestration.incremental import WINDOW_ENV
    env = {**os.environ, "SEI_WAREHOUSE": str(warehouse_path().resolve()), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           WINDOW_ENV: "", **_window(target / "manifest.json", lags)}
    # Data tests run on what this batch changed; unit tests check the models' SQL against
    # fixed inputs, not the data, so the hourly run's build covers them.
    cmd = [dbt_executable(), "build", "--project-dir", str(osettings.DBT_PROJECT_DIR), "--profiles-dir",
           str(osettings.DBT_PROJECT_DIR), "--target-path", str(target), "--log-path", str(logs),
           "--vars", json.dumps(lags), "--exclude-resource-type", "unit_test", "--select", *selectors]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        tail = "\n".join(line for line in proc.stdout.splitlines() if "ERROR" in line or "FAIL" in line)[-3000:]
        raise RuntimeError(f"dbt build of the models downstream of this batch failed (logs in {logs}):\n"
                           f"{tail or proc.stdout[-3000:]}{proc.stderr[-1000:]}")
    say(f"dbt: built {len(selectors)} selector(s) downstream of the batch")


def apply_pending(through: int | None = None, run_id: str | None = None, config_path=None,
                  spool_file=None, say: Callable[[str], None] | None = None, publish: bool = True,
                  command: str | None = None, build: bool = True) -> ApplyResult:
    """Apply every not yet applied delivery up to `through` (all when None). Events of an
    earlier batch whose run failed are picked up again here: a batch is never skipped.
    `build=False` merges into the raw tables only (the next build covers them)."""
    import uuid

    from ingestion import config as cfgmod
    from ingestion.lock import writer_lock
    from ingestion.pipeline import pipelines_dir
    from core.settings import warehouse_path
    say = say or (lambda line: print(line, flush=True))
    run_id = run_id or uuid.uuid4().hex[:16]
    path = spool_file or settings.spool_path()
    batch = spool.pending(path, through, settings.batch_max_events())
    result = ApplyResult(run_id, events=len(batch), last_seq=batch[-1].seq if batch else (through or 0))
    if not batch:
        say("nothing to apply: the spool has no pending deliveries")
        return result
    started = spool.now_iso()
    p = plan(batch)
    spool.record_batch(path, run_id, last_seq=result.last_seq, events=len(batch), touched=json.dumps(p.summary()),
                       status="running", started_at=started)
    wh = warehouse_path()
    cfg = cfgmod.load(config_path)
    try:
        with writer_lock(wh, command or f"sei_fresh {run_id[:8]}", say=say, pipelines_dir=pipelines_dir(wh)):
            t0 = time.monotonic()
            boards = _board_projects(wh) if p.jira_boards else {}
            for name in ("github", "jira", "harness"):
                narrowed = _narrow(cfg, name, p, boards, say)
                if narrowed is not None:
                    _sync(name, narrowed[0], narrowed[1], wh, result, say)
            if p.events:
                _merge_events(cfg, p.events, wh, result, say)
            if p.jira_deleted:
                _delete_issues(p.jira_deleted, wh, result, say)
            result.seconds["merge"] = time.monotonic() - t0
            if result.touched_tables and build:
                t0 = time.monotonic()
                result.dbt_selected = dbt_selectors(result.touched_tables)
                _dbt_build(result.dbt_selected, run_id, say)
                result.seconds["dbt"] = time.monotonic() - t0
                if publish:
                    t0 = time.monotonic()
                    from core.publish import publish_serving
                    say(publish_serving().summary())
                    from rbac_policies.publish import publish_policies
                    publish_policies()  # scoped files re-cut (a no-op without SEI_RBAC_POLICY)
                    result.published = True
                    result.seconds["publish"] = time.monotonic() - t0
            # marked only now: a run killed before this point leaves them pending for the next
            result.newly_applied = spool.mark_applied(path, [e.seq for e in batch], run_id)
    except Exception as e:
        spool.record_batch(path, run_id, status="failed", finished_at=spool.now_iso(), message=str(e)[:4000])
        raise
    spool.record_batch(path, run_id, status="partial" if result.problems else "success",
                       finished_at=spool.now_iso(), message="; ".join(result.problems)[:4000] or None)
    return result
