"""`make run` / `sei demo`: the main job on the embedded default, through Dagster.

Starts the simulator on a free port, writes the files a customer would provide (org files,
events files, a sources file pointing at the simulator), then executes the `sei_refresh`
job in-process: the same job, assets and checks the hourly schedule runs (ingest every
source, org import, identity resolution, profiles, dbt build with its tests, freshness and
expectation checks, integration health, serving publish). The terminal gets one line per
phase and step, then the summary, last; the job's full log (Dagster's events, dbt's log,
warnings) goes to `logs/demo.log` beside the warehouse, named in the summary.

The run is recorded in the Dagster instance `make dagster` opens (`DAGSTER_HOME`, default
`.dagster_home/`), and `demo.json` beside the warehouse remembers the organisation's size and
seed, so `sei dagster` can serve the same organisation again (its demo mode).
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import time
from pathlib import Path

from core.settings import warehouse_path

DEMO_STATE_FILE = "demo.json"
DEMO_LOG = Path("logs") / "demo.log"  # beside the warehouse; replaced by each `sei demo`


def _step(name: str):
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def run_demo(size: str = "small", seed: int = 42, realtime: bool = False) -> int:
    from simulator import generate
    from simulator.export import export_org
    from simulator.server import SimServer

    wh = warehouse_path()
    wh.parent.mkdir(parents=True, exist_ok=True)
    t0 = _step(f"simulator: generating the {size} organisation (seed {seed})")
    world = generate(size, seed=seed)
    c = world.summary()
    print(f"   {c['developers']} people in {c['teams']} teams, {c['repos']} repositories, {c['prs']:,} PRs, "
          f"{c['issues']:,} Jira issues, {c['deployments']:,} deployments, {c['incidents']:,} incidents "
          f"({time.monotonic() - t0:.1f}s)")
    org_dir = wh.parent / "org"
    export_org(world, org_dir)
    print(f"   org files a customer would upload: {org_dir}")
    with SimServer(world, time_scale=0.01) as sim:
        print(f"   serving GitHub, Jira and Harness APIs on {sim.url}")
        os.environ.update({k: v for k, v in demo_environment(sim.url, org_dir).items() if k not in os.environ})
        write_demo_state(size, seed)
        kept: dict = {}
        status, report = _run_job(world, sim, kept)
        if realtime:
            status = _realtime(world, kept, status)
    from core.dora_summary import dora_summary
    from core.insights_summary import insights_summary
    with open(demo_log_path(), "a", encoding="utf-8") as log, _output_to(log):  # their imports warn
        insights, bands = insights_summary(), dora_summary()
    print("\n== insights")
    print(insights)  # goal statuses and alignment shares
    print(bands)  # which DORA bands the teams reach
    print(f"\n== summary\n{report}\n   warehouse: {wh}", flush=True)  # the last thing a user sees
    return status


def demo_log_path() -> Path:
    return warehouse_path().parent / DEMO_LOG


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # a test runner's in-memory capture
        return None


def _terminal():
    """Where progress lines go while the output is redirected: a copy of the real stdout."""
    fd = _fileno(sys.stdout)
    return os.fdopen(os.dup(fd), "w", buffering=1) if fd is not None else sys.stdout


@contextlib.contextmanager
def _output_to(log):
    """Everything printed meanwhile into `log`: dbt's log and Dagster's console log (Python's
    streams), and what child processes and C code write (file descriptors 1 and 2, e.g. the
    warnings of dlt's worker processes)."""
    sys.stdout.flush()
    sys.stderr.flush()
    fds = [fd for fd in (_fileno(sys.stdout), _fileno(sys.stderr)) if fd is not None]
    saved = [(fd, os.dup(fd)) for fd in fds]
    try:
        for fd in fds:
            os.dup2(log.fileno(), fd)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield
    finally:
        log.flush()
        for fd, copy in saved:
            os.dup2(copy, fd)
            os.close(copy)


def exit_quietly(status: int) -> None:
    """End `sei demo` without DuckDB's `nanobind: leaked ...` report. Every connection is closed
    by then, but DuckDB 2.0's bindings count the type objects other modules still reference
    while the interpreter tears its modules down, and print ~150 lines after the summary. So:
    run the exit handlers (logging, Dagster, dlt) as a normal exit would, then leave without
    the teardown. Inside a test runner (stdout captured) this is a plain exit."""
    if sys.stdout is not sys.__stdout__ or sys.stderr is not sys.__stderr__:
        sys.exit(status)
    import atexit
    sys.stdout.flush()
    sys.stderr.flush()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


class _StepLines(logging.Handler):
    """One terminal line per finished step of the run, from Dagster's structured events."""

    def __init__(self, out):
        super().__init__(logging.DEBUG)
        self.out, self.started = out, {}

    def emit(self, record: logging.LogRecord) -> None:
        event = getattr(record, "dagster_event", None)
        if event is None or not event.step_key:
            return
        kind, step = event.event_type_value, event.step_key
        if kind == "STEP_START":
            self.started[step] = time.monotonic()
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            took = time.monotonic() - self.started.get(step, time.monotonic())
            print(f"   {step:<40s} {'done' if kind == 'STEP_SUCCESS' else 'FAILED'} in {took:5.1f}s",
                  file=self.out, flush=True)


def _progress_logger(out):
    import dagster as dg

    @dg.logger(description="One line per finished step on the terminal (sei demo).")
    def progress(_init) -> logging.Logger:
        log = logging.Logger("sei_demo_progress", level=logging.DEBUG)
        log.addHandler(_StepLines(out))
        return log

    return progress


def demo_environment(sim_url: str, org_dir: Path) -> dict[str, str]:
    """What the demo's runs need: the simulator's URL and credentials, its fast clock, the
    exported org files (shared by `sei demo` and `sei dagster`'s demo mode)."""
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    return {
        "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SOURCES__GITHUB__BASE_URL": sim_url,
        "SOURCES__JIRA__EMAIL": JIRA_EMAIL, "SOURCES__JIRA__API_TOKEN": JIRA_TOKEN, "SOURCES__JIRA__BASE_URL": sim_url,
        "SOURCES__HARNESS__API_KEY": HARNESS_API_KEY, "SOURCES__HARNESS__BASE_URL": sim_url,
        "SEI_WAIT_SCALE": "0.01", "SEI_ORG_DIR": str(org_dir), "SEI_INGEST_RETRY_DELAY_S": "2",
    }


def demo_state_path() -> Path:
    return warehouse_path().parent / DEMO_STATE_FILE


def write_demo_state(size: str, seed: int) -> None:
    demo_state_path().write_text(json.dumps({"size": size, "seed": seed}) + "\n", encoding="utf-8")


def read_demo_state() -> dict | None:
    """{size, seed} of the last `sei demo` into this warehouse's folder, or None."""
    try:
        state = json.loads(demo_state_path().read_text(encoding="utf-8"))
        return {"size": str(state["size"]), "seed": int(state["seed"])}
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _instance():
    """The persistent instance `make dagster` opens (DAGSTER_HOME, default .dagster_home), so
    the UI shows this run, its materialisations, check results and health metadata."""
    import dagster as dg

    from orchestration.settings import prepare_dagster_home
    os.environ["DAGSTER_HOME"] = str(prepare_dagster_home())
    instance = dg.DagsterInstance.get()
    _end_orphaned_demo_runs(instance)
    return instance


PID_TAG = "sei/demo_pid"


def _end_orphaned_demo_runs(instance) -> None:
    """A demo killed mid-run (kill -9, a closed terminal) leaves its run STARTED holding the
    warehouse pool's only slot, and the next `make run` would wait for it forever: mark such
    runs failed and free their slots. Only runs of a demo process that no longer exists."""
    import dagster as dg
    for record in instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED,
                                                                    dg.DagsterRunStatus.STARTING])):
        run = record.dagster_run
        pid = run.tags.get(PID_TAG)
        if not pid or not pid.isdigit() or _alive(int(pid)):
            continue
        instance.report_run_failed(run, message=f"the demo process {pid} that ran it no longer exists")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _realtime(world, kept: dict, status: int) -> int:
    """`sei demo --realtime`: a change arriving through the push path (webhooks/realtime.py)."""
    _step("realtime: simulator webhooks -> receiver -> spool sensor -> sei_fresh -> serving file")
    if status != 0:
        print("   skipped: the main job did not succeed")
        return status
    from webhooks.realtime import show_change_arriving
    with open(demo_log_path(), "a", encoding="utf-8") as log:
        arrivals = show_change_arriving(world, kept["defs"], _instance(), echo=lambda line: print(line, flush=True),
                                        log=demo_log_path(), quiet=lambda: _output_to(log))
    return 0 if arrivals else 1


def _run_job(world, sim, kept: dict | None = None) -> tuple[int, str]:
    from ingestion.config import demo_sources_path
    from simulator.export import export_sources
    from simulator.export_events import export_events

    base = warehouse_path().parent
    events = export_events(world, base / "events")
    # where every later command looks when there is no sources file of your own (ingestion/config.py)
    sources = export_sources(world, demo_sources_path(), sim.url, events)
    os.environ["SEI_SOURCES"] = str(sources)
    import dagster as dg
    log_path = demo_log_path()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    # Left open: a logging handler created during the run may hold it until exit.
    log = open(log_path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    t = _step("dagster: loading the definitions (dbt parse)")
    with _output_to(log):  # importing dlt warns (sqlglot), dbt parse prints its log
        from orchestration.definitions import MAIN_JOB, build_definitions, run_config
        defs = build_definitions()
    if kept is not None:
        kept["defs"] = defs  # sei demo --realtime runs sei_fresh from the same definitions
    print(f"   {time.monotonic() - t:.1f}s")
    t = _step(f"dagster: job {MAIN_JOB} in-process (sources file {sources}; full log {log_path})")
    config = run_config().to_config_dict()  # the schedule's config
    terminal = _terminal()
    config["loggers"] = {"console": {"config": {"log_level": "INFO"}}, "progress": {}}
    with _output_to(log):  # progress lines go to `terminal`, a copy of stdout taken before
        job = defs.resolve_job_def(MAIN_JOB).with_logger_defs(
            {"console": dg.colored_console_logger, "progress": _progress_logger(terminal)})
        result = job.execute_in_process(run_config=config, instance=_instance(), raise_on_error=False,
                                        tags={PID_TAG: str(os.getpid())})
    report = summary(result, sim, time.monotonic() - t) + f"\n   full log of the run (Dagster, dbt): {log_path}"
    failed_checks = [e for e in _check_evaluations(result) if not e.passed and e.severity.value == "ERROR"]
    return (0 if result.success and not failed_checks else 1), report


def _check_evaluations(result):
    return [ev.event_specific_data for ev in result.all_events if ev.event_type_value == "ASSET_CHECK_EVALUATION"]


def summary(result, sim, seconds: float) -> str:
    mats = {e.asset_key.to_user_string(): e.materialization.metadata for e in result.get_asset_materialization_events()}
    checks = _check_evaluations(result)
    requests = sum(sum(v.values()) for k, v in sim.stats.items() if not k.startswith("sim."))
    lines = [f"   run {result.run_id[:8]}: {'success' if result.success else 'FAILED'} in {seconds:.1f}s, "
             f"{len(mats)} assets materialised, {sum(c.passed for c in checks)}/{len(checks)} checks passed, "
             f"{requests:,} API requests"]
    for source in ("github", "jira", "harness", "events"):
        own = {k: m for k, m in mats.items() if k.startswith(f"dlt_{source}_")}
        if own:
            rows = sum(m["rows"].value for m in own.values() if "rows" in m)
            status = next(iter(own.values())).get("source_status")
            lines.append(f"   {source:8s} {status.value if status else '?':8s} {rows:>9,} rows")
    if "serving_publish" in mats:
        m = mats["serving_publish"]
        lines.append(f"   serving file {m['path'].value}: {m['tables'].value} tables, {m['rows'].value:,} rows")
    failed_sources = set()
    for c in checks:
        if c.passed:
            continue
        key = c.asset_key.to_user_string()
        why = " ".join((c.description or "").split())[:300]
        if c.check_name == "ingest_succeeded":  # one line per source, not one per resource
            source = key.split("_")[1]
            if source in failed_sources:
                continue
            failed_sources.add(source)
            lines.append(f"   {source} did not load: {why}")
        else:
            lines.append(f"   check failed: {key} {c.check_name}: {why}")
    for ev in result.all_events:
        if ev.event_type_value == "STEP_FAILURE":
            data = ev.event_specific_data   # a dg.Failure's description is already the one line to show
            why = data.user_failure_data.description if data.user_failure_data and \
                data.user_failure_data.description else data.error.message
            msg = " ".join(why.split())[:500]
            lines.append(f"   step failed: {ev.step_key}: {msg}")
    lines.append("   integration health: `sei doctor`; this run in the UI: `make dagster` (or `sei dagster`), "
                 "which serves this organisation again so its schedules can run")
    lines.append("   dashboards: `make dashboards` (or `sei dashboards --demo`: the whole account); one principal's "
                 "view: `SEI_RBAC_POLICY=rbac_policies/examples/policy.yml sei publish --scopes`, then "
                 "`sei dashboards --principal elena`")
    return "\n".join(lines)
