"""Run the dlt pipelines that load the configured sources into the warehouse.

One dlt pipeline per source (`sei_github`, ...), destination DuckDB at
`core.settings.warehouse_path()` (or PostgreSQL with SEI_DESTINATION=postgres, see
ingestion/destination.py), dataset `raw_<source>`. Pipeline working folders (dlt
state, pending load packages) live next to the warehouse (`<warehouse dir>/.dlt_pipelines`)
so the cursors travel with the warehouse file; dlt also keeps its state inside the
warehouse (`raw_<source>._dlt_pipeline_state`) and restores it from there when the folder
is missing.

After dlt has finished with the file, the run's figures go to `ops.ingest_runs` and
`ops.ingest_resources` (see ingestion/ops.py).

`run(["github"], full_refresh=True)` drops the source's tables and cursors first
(dlt `refresh="drop_sources"`) and reloads everything since `start_date`.
`plan(["github"])` estimates a first sync's cost without loading anything.
"""
from __future__ import annotations

import datetime as dt
import importlib
import os
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import dlt

from ingestion import config as cfgmod
from ingestion import ops
from ingestion.destination import use_load_file_format
from ingestion.http import ApiError, AuthError, HttpStats

KNOWN_SOURCES = ("github", "jira", "harness", "events")
# Each source module exposes RESOURCES (its dlt resource names, in load order) and
# build_source(cfg, stats) -> a dlt source, raising ConfigError when nothing is configured;
# optionally configured(cfg) -> bool: False makes a run skip the source instead.
SOURCE_MODULES = {"github": "ingestion.github", "jira": "ingestion.jira", "harness": "ingestion.harness",
                  "events": "ingestion.events"}


def _module(name: str):
    try:
        return importlib.import_module(SOURCE_MODULES[name])
    except ModuleNotFoundError:
        return None


BUILT_SOURCES = tuple(n for n in SOURCE_MODULES if _module(n) is not None)


@dataclass
class RunResult:
    run_id: str
    sources: list[ops.SourceResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        st = {s.status for s in self.sources}
        if "failed" in st:
            return "failed"
        if "partial" in st:
            return "partial"
        return "success"

    @property
    def ok(self) -> bool:
        return self.status == "success"

    def source(self, name: str) -> ops.SourceResult:
        return next(s for s in self.sources if s.source == name)


def _echo(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def warehouse_path() -> Path:
    from core.settings import warehouse_path as wp
    return Path(wp())


def pipelines_dir(warehouse: Path | None = None) -> Path:
    return (warehouse or warehouse_path()).resolve().parent / ".dlt_pipelines"


def make_pipeline(source: str, warehouse: Path | None = None, memory_limit: str | None = "2GB",
                  normalize_workers: int = 1) -> dlt.Pipeline:
    from ingestion.destination import dlt_destination
    wh = warehouse or warehouse_path()
    wh.parent.mkdir(parents=True, exist_ok=True)
    # dlt's normalize step runs after the extract, when the APIs' side is idle: more than one
    # worker process uses the other cores. Scoped to this pipeline's name, so it beats a
    # global NORMALIZE__WORKERS and leaves other pipelines of the process alone.
    dlt.config[f"sei_{source}.normalize.workers"] = max(1, int(normalize_workers))
    # SEI_DESTINATION=postgres loads into PostgreSQL instead (ingestion/destination.py)
    return dlt.pipeline(pipeline_name=f"sei_{source}", destination=dlt_destination(wh, memory_limit),
                        dataset_name=f"raw_{source}", pipelines_dir=str(pipelines_dir(wh)))


def normalize_workers_for(pipeline: dlt.Pipeline, source: str, configured: int, full_refresh: bool) -> int:
    """The configured worker processes for a first or full sync; one, in-process, for an
    incremental sync from saved cursors. Each worker process imports dlt afresh (8 to 12 s a
    source on a busy 2-core machine), which costs an hourly run far more than normalizing
    its few rows in-process does."""
    if full_refresh or not (pipeline.state.get("sources") or {}).get(source):
        return max(1, int(configured))
    return 1


def _root_error(e: BaseException) -> BaseException:
    """The innermost ApiError in dlt's wrapping (PipelineStepFailed -> ResourceExtractionError -> ...)."""
    seen, stack = set(), [e]
    found: BaseException | None = None
    while stack:
        x = stack.pop()
        if x is None or id(x) in seen:
            continue
        seen.add(id(x))
        if isinstance(x, ApiError):
            found = x
        stack += [getattr(x, "exception", None), x.__cause__, x.__context__]
    return found or e


def _cursor(state: dict, resource: str, source: str = "github") -> str | None:
    r = (((state.get("sources") or {}).get(source) or {}).get("resources") or {}).get(resource) or {}
    if r.get("summary"):
        return str(r["summary"])
    heads = r.get("heads")
    if heads:
        return "; ".join(f"{repo}@{h['oid'][:12]}" for repo, h in sorted(heads.items()))[:2000]
    curs = r.get("cursors")
    if curs:
        vals = [c["value"] for c in curs.values()]
        return max(vals) if len(set(vals)) == 1 else f"{min(vals)}..{max(vals)} ({len(vals)} repositories)"
    return None


def dlt_source(name: str, cfg: cfgmod.SourcesConfig, stats: HttpStats):
    """The configured dlt source of one integration (used by `run` and by the Dagster assets)."""
    return _module(name).build_source(cfg, stats)


def run(sources: list[str] | tuple[str, ...] = ("github",), full_refresh: bool = False, progress: bool = True,
        config_path: str | Path | None = None, echo: Callable[[str], None] | None = None,
        wait: bool = True, command: str | None = None) -> RunResult:
    """Load each source; write ops rows; return the figures (never raises for a source
    that failed: its status and message are in the result).

    Each source takes the warehouse's writer lock (ingestion/lock.py) to read its state and
    to load, and only its dlt pipeline's lock while it extracts and normalizes, so sources
    run by separate processes (the Dagster steps) read their APIs side by side. Another
    writer makes it wait (`wait`, saying for whom) or raise `WarehouseLocked` naming the
    holder (`wait=False`); the sources not loaded by then are recorded as refused."""
    say = (echo or _echo) if progress else (lambda _line: None)
    run_id = uuid.uuid4().hex[:16]
    result = RunResult(run_id)
    try:
        cfg = cfgmod.load(config_path)
    except cfgmod.ConfigError as e:
        now = dt.datetime.now(dt.timezone.utc)
        for name in sources:  # nothing is written: there is no run to record
            result.sources.append(ops.SourceResult(name, now, now, "failed", str(e)))
        return result
    wh = warehouse_path()
    from ingestion.lock import WarehouseLocked
    locks = _Locks(wh, command, wait, echo or _echo)
    try:
        _run_locked(sources, cfg, wh, full_refresh, say, result, locks)
    except WarehouseLocked as e:
        if not getattr(e, "recorded", False):
            record_refused(sources, e, wh, run_id)
        raise
    return result


def record_refused(sources, error: Exception, warehouse: Path | None = None, run_id: str | None = None) -> str:
    """Record a run refused because another process writes the warehouse (`--no-wait`, or
    SEI_LOCK_TIMEOUT ran out) as a failed run of each source, like any run that loaded
    nothing. The file is the other writer's meanwhile, so the rows wait beside it and the
    next run that records its own (that writer's, usually) adds them. Returns the run id."""
    run_id = run_id or uuid.uuid4().hex[:16]
    now = dt.datetime.now(dt.timezone.utc)
    ops.keep_for_next_run(warehouse or warehouse_path(), run_id,
                          [ops.SourceResult(name, now, now, "failed", f"refused: {error}") for name in sources])
    error.recorded = True   # an outer caller that catches it too must not record it again
    return run_id


@dataclass
class _Locks:
    """The locks a run takes (ingestion/lock.py), all with the run's command, wait and say."""
    warehouse_file: Path
    command: str | None
    wait: bool
    say: Callable[[str], None]

    def warehouse(self, pipelines: list[str]):
        """The warehouse's writer lock and the named dlt pipelines' locks."""
        from ingestion.lock import writer_lock
        return writer_lock(self.warehouse_file, self.command, wait=self.wait, say=self.say,
                           pipelines_dir=pipelines_dir(self.warehouse_file), pipelines=pipelines)

    def pipeline(self, name: str):
        """One dlt pipeline's lock only."""
        from ingestion.lock import pipeline_lock
        return pipeline_lock(pipelines_dir(self.warehouse_file), name, self.command, wait=self.wait, say=self.say)


def _run_locked(sources, cfg, wh: Path, full_refresh: bool, say: Callable[[str], None], result: RunResult,
                locks: _Locks) -> None:
    from ingestion.lock import WarehouseLocked
    run_id = result.run_id
    try:
        _load_sources(sources, cfg, wh, full_refresh, say, result, locks)
    finally:
        # Every run is recorded, a failed or interrupted one too (what was finished by then).
        now = dt.datetime.now(dt.timezone.utc)
        for s in result.sources:
            if s.finished_at is None:
                s.finished_at, s.status = now, "failed"
                s.error_message = s.error_message or "interrupted before this source finished"
        try:
            with locks.warehouse(pipelines=[]):
                ops.write(wh, run_id, result.sources, say=say)
                # PostgreSQL as the warehouse: dbt builds integration_health there, from these figures
                from ingestion.destination import mirror_if_postgres
                mirror_if_postgres(wh, ("ops",))
        except WarehouseLocked as e:  # --no-wait: the next writer records these rows
            if result.sources:
                ops.keep_for_next_run(wh, run_id, result.sources)
                e.recorded = True
            raise


def _load_sources(sources, cfg, wh: Path, full_refresh: bool, say: Callable[[str], None], result: RunResult,
                  locks: _Locks) -> None:
    """Each source in three steps: its state from the warehouse (under the warehouse lock),
    extract and normalize (under its pipeline's lock only), load (under the warehouse lock)."""
    for name in sources:
        started = dt.datetime.now(dt.timezone.utc)
        res = ops.SourceResult(name, started)
        result.sources.append(res)
        if name not in BUILT_SOURCES:
            res.status, res.error_message = "skipped", f"the {name} connector is not built yet"
            res.finished_at = dt.datetime.now(dt.timezone.utc)
            say(f"{name}: skipped ({res.error_message})")
            continue
        configured = getattr(_module(name), "configured", None)  # optional: sources that may be unused
        if configured is not None and not configured(cfg):
            res.status, res.error_message = "skipped", f"nothing configured for {name} in the sources file"
            res.finished_at = dt.datetime.now(dt.timezone.utc)
            say(f"{name}: skipped ({res.error_message})")
            continue
        stats = HttpStats(progress=say)
        t0 = time.monotonic()
        say(f"{name}: loading into {wh} (dataset raw_{name}{', full refresh' if full_refresh else ''})")
        row_counts: dict[str, int] = {}
        journal = None
        pipeline = None
        try:
            pipeline, journal = _prepare(name, cfg, wh, full_refresh, stats, res, locks)
            src = dlt_source(name, cfg, stats)
            use_load_file_format(src)   # INSERT statements cost a medium org's Jira load 10 GB
            row_counts = _extract_and_normalize(pipeline, src, full_refresh, res, locks)
            _load(pipeline, name, full_refresh, journal, say, res, locks)
        except Exception as e:  # noqa: BLE001 - a failed source is a result, not a crash
            from ingestion.lock import WarehouseLocked
            if journal is not None:
                journal.close()  # kept: the next run from the same state resumes from it
            if isinstance(e, WarehouseLocked):  # --no-wait or SEI_LOCK_TIMEOUT: the run stops here
                now = dt.datetime.now(dt.timezone.utc)
                res.status, res.error_message, res.finished_at = "failed", f"refused: {e}", now
                result.sources += [ops.SourceResult(n, now, now, "failed", f"refused: {e}")
                                   for n in sources[sources.index(name) + 1:]]
                e.recorded = True  # _run_locked records these rows (or keeps them for the next run)
                raise
            root = _root_error(e)
            res.status = "failed"
            res.error_message = str(root) if isinstance(root, (ApiError, cfgmod.ConfigError)) else \
                f"{type(root).__name__}: {root}"
            say(f"{name}: FAILED: {res.error_message}")
        res.finished_at = dt.datetime.now(dt.timezone.utc)
        state = pipeline.state if pipeline is not None and res.status != "failed" else {}
        resource_names = [r for r in _resource_names(name)]
        for rname in resource_names:
            c = stats.get(name, rname)
            rr = ops.ResourceResult(rname, rows=int(row_counts.get(rname, 0)), requests=c.requests,
                                    retries=c.retries, wait_seconds=c.wait_seconds, ratelimit_waits=c.ratelimit_waits,
                                    min_ratelimit_remaining=c.min_ratelimit_remaining,
                                    cursor_value=_cursor(state, rname, name) if state else None)
            if res.status == "failed":
                rr.status, rr.error_message = "failed", res.error_message
            elif c.errors:
                rr.status, rr.error_message = "partial", " | ".join(c.errors)[:4000]
            res.resources.append(rr)
        extra = [k for k, _ in stats.items() if k[0] == name and k[1] not in resource_names]
        for _, rname in extra:  # helper requests (plan, app token, ...)
            c = stats.get(name, rname)
            res.resources.append(ops.ResourceResult(rname, requests=c.requests, retries=c.retries,
                                                    wait_seconds=c.wait_seconds, ratelimit_waits=c.ratelimit_waits,
                                                    min_ratelimit_remaining=c.min_ratelimit_remaining,
                                                    status="partial" if c.errors else "success",
                                                    error_message=" | ".join(c.errors)[:4000] or None))
        if res.status != "failed" and any(r.status == "partial" for r in res.resources):
            res.status = "partial"
            res.error_message = "; ".join(f"{r.resource}: {r.error_message}" for r in res.resources
                                          if r.error_message)[:4000]
        for r in res.resources:
            say(f"  {name}.{r.resource:<24} {r.status:<8} rows {r.rows:>7}  requests {r.requests:>5}  "
                f"retries {r.retries:>3}  waited {r.wait_seconds:6.1f}s"
                + (f"  cursor {r.cursor_value}" if r.cursor_value else ""))
        phases = ", ".join(f"{k} {v:.1f}s" for k, v in res.phases.items())
        say(f"{name}: {res.status} in {time.monotonic() - t0:.1f}s, {res.rows} rows, {res.requests} requests"
            + (f" ({phases})" if phases else ""))


def _prepare(name: str, cfg, wh: Path, full_refresh: bool, stats: HttpStats, res: ops.SourceResult,
             locks: _Locks):
    """Under the warehouse lock: the pipeline with its state as the warehouse has it (dlt's
    `sync_destination`, which `pipeline.run` would do), and any packages an interrupted run
    left, loaded first (as `pipeline.run` would, though it would then stop)."""
    t = time.monotonic()
    pipe_name = f"sei_{name}"
    with locks.warehouse(pipelines=[pipe_name]):
        res.phases["lock_wait"] = time.monotonic() - t
        pipeline = make_pipeline(name, wh, cfg.runtime.duckdb_memory_limit, cfg.runtime.normalize_workers)
        dlt.config[f"{pipe_name}.normalize.workers"] = normalize_workers_for(
            pipeline, name, cfg.runtime.normalize_workers, full_refresh)
        pipeline.sync_destination()
        if pipeline.has_pending_data:
            locks.say(f"{name}: loading what an interrupted run had extracted")
            if pipeline.list_extracted_load_packages():
                pipeline.normalize()
            if pipeline.list_normalized_load_packages():
                pipeline.load().raise_on_failed_jobs()
        journal = None
        if getattr(_module(name), "JOURNALED", False):
            # pages read before a kill are replayed, not asked again (ingestion/journal.py);
            # a journal made on another state than this run's is discarded
            from ingestion.journal import Journal, state_digest
            journal = stats.journal = Journal(
                pipelines_dir(wh) / f"sei_{name}.journal",
                state_digest((pipeline.state.get("sources") or {}).get(name), full_refresh))
    return pipeline, journal


def _extract_and_normalize(pipeline: dlt.Pipeline, src, full_refresh: bool, res: ops.SourceResult,
                           locks: _Locks) -> dict[str, int]:
    """The API's side, holding only the pipeline's lock: another source's load, or a dbt build,
    goes on meanwhile (ingestion/lock.py)."""
    with locks.pipeline(pipeline.pipeline_name):
        t = time.monotonic()
        pipeline.extract(src, refresh="drop_sources" if full_refresh else None)
        res.phases["extract"] = time.monotonic() - t
        t = time.monotonic()
        norm = pipeline.normalize()
        res.phases["normalize"] = time.monotonic() - t
    return dict(norm.row_counts) if norm else {}


def _load(pipeline: dlt.Pipeline, name: str, full_refresh: bool, journal, say, res: ops.SourceResult,
          locks: _Locks) -> None:
    t = time.monotonic()
    with locks.warehouse(pipelines=[pipeline.pipeline_name]):
        res.phases["lock_wait"] += time.monotonic() - t
        t = time.monotonic()
        # what this run normalized, unless a writer that held the pipeline meanwhile loaded it
        if pipeline.list_normalized_load_packages():
            pipeline.load().raise_on_failed_jobs()
        res.phases["load"] = time.monotonic() - t
        if journal is not None:
            if journal.replayed:
                say(f"{name}: resumed an interrupted run: {journal.replayed} answers it had read came from "
                    f"its journal, not the API")
            journal.clear()  # the rows and cursors are committed now
        if full_refresh:
            # the source's tables were dropped and reloaded: rows that did not come back are
            # gone without a deletion stamp, which only a full dbt build notices
            from ingestion.destination import connect_warehouse
            from orchestration.incremental import request_full_build
            with connect_warehouse(locks.warehouse_file, read_only=False) as con:
                request_full_build(con, f"a full refresh of {name}")


def _resource_names(source: str) -> list[str]:
    mod = _module(source)
    return list(getattr(mod, "RESOURCES", [])) if mod else []


# --------------------------------------------------------------------------- plan
def plan(sources: list[str] | tuple[str, ...] = ("github",), config_path: str | Path | None = None) -> dict:
    """First-sync estimate per source (GitHub: counts from GraphQL totalCount fields and the
    workflow-run listing, and the current rate limits)."""
    try:
        cfg = cfgmod.load(config_path)
    except cfgmod.ConfigError as e:
        return {name: {"error": str(e)} for name in sources}
    out: dict = {}
    from ingestion.plan import PLANNERS
    for name in sources:
        if name != "github":
            mod = _module(name)
            if mod is None or name not in PLANNERS:
                out[name] = {"error": f"the {name} connector is not built yet"}
            elif hasattr(mod, "configured") and not mod.configured(cfg):
                out[name] = {"skipped": f"no {name} scopes in the sources file"}
            else:
                try:
                    out[name] = PLANNERS[name](cfg, HttpStats())
                except (ApiError, cfgmod.ConfigError) as e:
                    out[name] = {"error": str(e)}
            continue
        from ingestion.github_plan import plan as gh_plan
        gh = cfg.github()
        creds = cfgmod.github_credentials()
        stats = HttpStats()
        try:
            out[name] = gh_plan(cfg.github_repos(), cfg.start_date, gh.base_url, gh.graphql_url, cfg.runtime,
                                creds.access_token, {"app_id": creds.app_id, "private_key": creds.private_key,
                                                     "installation_id": creds.installation_id},
                                gh.page_size, bool(gh.options.get("review_comment_counts", False)), stats)
            out[name]["start_date"] = cfg.start_date.isoformat()
            out[name]["plan_requests"] = stats.totals().requests
        except (ApiError, AuthError) as e:
            out[name] = {"error": str(e)}
    return out


def format_plan(p: dict) -> str:
    lines = []
    for name, est in p.items():
        if "error" in est:
            lines.append(f"{name}: cannot plan: {est['error']}")
            continue
        if "skipped" in est:
            lines.append(f"{name}: skipped ({est['skipped']})")
            continue
        if "lines" in est:
            lines.append(f"{name}: first sync since {est['start_date'][:10]}")
            lines += est["lines"]
            continue
        lines.append(f"{name}: first sync since {est['start_date'][:10]}")
        hdr = f"  {'repository':<40} {'PRs':>8} {'commits':>8} {'deploys':>8} {'releases':>8} {'runs':>8}"
        lines.append(hdr)
        for r in est["repositories"]:
            if "error" in r:
                lines.append(f"  {r['repository']:<40} {r['error']}")
                continue
            lines.append(f"  {r['repository']:<40} {r['pull_requests']:>8,} {r['commits']:>8,} {r['deployments']:>8,} "
                         f"{r['releases']:>8,} {r.get('workflow_runs', 0):>8,}")
        t = est["totals"]
        lines.append(f"  {'total':<40} {t['pull_requests']:>8,} {t['commits']:>8,} {t['deployments']:>8,} "
                     f"{t['releases']:>8,} {t['workflow_runs']:>8,}")
        lines.append("  (pull requests, deployments and releases are all-time counts, since GitHub's totalCount "
                     "cannot filter by date: an upper bound for a later start_date)")
        lines.append(f"  GraphQL: {est['graphql_points']:,} points in {est['graphql_requests']:,} requests "
                     f"(limit {est['graphql_points_per_hour']:,}/h, {est['graphql_remaining']} left now)")
        if est.get("points_per_1000_prs") is not None:
            lines.append(f"  GraphQL cost: {est['points_per_1000_prs']} points per 1,000 PRs (pages of "
                         f"{est['pr_page_size']} PRs); on github.com a first sync needs "
                         f"{est['hours_github_com_points']:.2f} h of one token's 5,000 points an hour")
        lines.append(f"  REST:    {est['rest_requests']:,} requests (limit {est['rest_requests_per_hour']:,}/h, "
                     f"{est['rest_remaining']} left now)")
        lines.append(f"  time:    about {est['hours']:.2f} h (rate limits alone {est['hours_rate_limit']:.2f} h, "
                     f"request latency alone {est['hours_latency']:.2f} h); the plan itself used "
                     f"{est['plan_requests']} requests")
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    r = run(os.environ.get("SEI_SOURCES_TO_RUN", "github").split(","))
    sys.exit(0 if r.ok else 1)
