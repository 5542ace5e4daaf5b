"""`make run` / `sei demo`: the main job on the embedded default, through Dagster.

Starts the simulator on a free port, writes the files a customer would provide (org files,
events files, a sources file pointing at the simulator), then executes the `sei_refresh`
job in-process: the same job, assets and checks the hourly schedule runs (ingest every
source, org import, identity resolution, profiles, dbt build with its tests, freshness and
expectation checks, integration health, serving publish). Prints a summary.

The run is recorded in the Dagster instance `make dagster` opens (`DAGSTER_HOME`, default
`.dagster_home/`), and `demo.json` beside the warehouse remembers the organisation's size and
seed, so `sei dagster` can serve the same organisation again (its demo mode).
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

from sei.settings import warehouse_path

DEMO_STATE_FILE = "demo.json"


def _step(name: str):
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def run_demo(size: str = "small", seed: int = 42) -> int:
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
        status = _run_job(world, sim)
    print(f"\nwarehouse: {wh}")
    return status


def demo_environment(sim_url: str, org_dir: Path) -> dict[str, str]:
    """What the demo's runs need: the simulator's URL and credentials, its fast clock, the
    exported org files (shared by `sei demo` and `sei dagster`'s demo mode)."""
    from simulator.server import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
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


def _run_job(world, sim) -> int:
    from ingestion.config import demo_sources_path
    from simulator.export import export_sources
    from simulator.export_events import export_events

    base = warehouse_path().parent
    events = export_events(world, base / "events")
    # where every later command looks when there is no sources file of your own (ingestion/config.py)
    sources = export_sources(world, demo_sources_path(), sim.url, events)
    os.environ["SEI_SOURCES"] = str(sources)
    t = _step("dagster: loading the definitions (dbt parse)")
    from orchestration.definitions import MAIN_JOB, build_definitions, run_config
    defs = build_definitions()
    print(f"   {time.monotonic() - t:.1f}s")
    t = _step(f"dagster: job {MAIN_JOB} in-process (sources file {sources})")
    config = run_config().to_config_dict()  # the schedule's config; the console shows INFO, not every event
    config["loggers"] = {"console": {"config": {"log_level": "INFO"}}}
    result = defs.resolve_job_def(MAIN_JOB).execute_in_process(run_config=config, instance=_instance(),
                                                               raise_on_error=False,
                                                               tags={PID_TAG: str(os.getpid())})
    print(summary(result, sim, time.monotonic() - t))
    from sei.insights_summary import insights_summary
    print(insights_summary())  # goal statuses and alignment shares
    from sei.dora_summary import dora_summary
    print(dora_summary())  # which DORA bands the teams reach
    failed_checks = [e for e in _check_evaluations(result) if not e.passed and e.severity.value == "ERROR"]
    return 0 if result.success and not failed_checks else 1


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
            msg = " ".join(ev.event_specific_data.error.message.split())[:500]
            lines.append(f"   step failed: {ev.step_key}: {msg}")
    lines.append("   integration health: `sei doctor`; this run in the UI: `make dagster` (or `sei dagster`), "
                 "which serves this organisation again so its schedules can run")
    return "\n".join(lines)
