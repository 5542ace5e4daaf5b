"""`sei dagster` / `make dagster`: the Dagster UI and daemon (`dagster dev`) on the instance
`make run` records into, in one of two modes.

- Demo mode (`--demo`; the default when `sei demo` left `demo.json` beside the warehouse and
  you have no sources file of your own): the simulator serves the demo's organisation again
  (same size and seed) on a free local port for as long as the UI runs, its clock following
  real time (each hour brings that hour's new activity), the demo's sources file is
  rewritten to point at it, and the runs get the simulator's credentials. Pressing
  Materialize, or the hourly schedule, then runs against it and succeeds.
- Otherwise the UI runs with your own configuration; while no source is configured or
  reachable the schedules skip with the reason (orchestration/schedules.py).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from core.settings import PROJECT_ROOT


# Path settings a relative value of which would be read against the project folder, where
# dagster dev's processes run, instead of the folder `sei dagster` was started in.
PATH_SETTINGS = ("SEI_WAREHOUSE", "SEI_SOURCES", "SEI_SERVING", "SEI_ORG_DIR", "SEI_OPS_DB", "SEI_DBT_TARGET_PATH",
                 "SEI_PROFILES_DIR", "SEI_RBAC_POLICY", "SEI_SCOPES_DIR", "SEI_AUDIT_LOG", "DAGSTER_HOME")


def absolute_paths(env: dict[str, str]) -> dict[str, str]:
    """`env` with every relative path setting made absolute against the current folder, and a
    ./sources.yml there passed on as SEI_SOURCES."""
    out = dict(env)
    for key in PATH_SETTINGS:
        if out.get(key) and not Path(out[key]).is_absolute():
            out[key] = str(Path(out[key]).absolute())
    from ingestion.config import DEFAULT_SOURCES_FILE
    if not out.get("SEI_SOURCES") and Path(DEFAULT_SOURCES_FILE).is_file():
        out["SEI_SOURCES"] = str(Path(DEFAULT_SOURCES_FILE).absolute())
    return out


def own_sources_configured() -> bool:
    """A sources file of the user's: SEI_SOURCES set, or sources.yml in the working directory."""
    from ingestion.config import DEFAULT_SOURCES_FILE
    return bool(os.environ.get("SEI_SOURCES")) or Path(DEFAULT_SOURCES_FILE).is_file()


def _start_demo_simulator(state: dict, echo):
    """The demo's organisation served again, its sources file pointing at it; returns the
    server and the environment the UI's processes need."""
    from ingestion.config import demo_sources_path
    from orchestration.demo import demo_environment
    from orchestration.settings import org_dir
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    from simulator.server import SimServer

    echo(f"demo mode: generating the {state['size']} organisation of the last `sei demo` (seed {state['seed']})...")
    world = generate(state["size"], seed=state["seed"])
    sim = SimServer(world, time_scale=0.01).start()
    sim.clock_stop = threading.Event()  # set when the UI stops
    threading.Thread(target=_follow_real_time, args=(world, sim.clock_stop), daemon=True, name="demo-clock").start()
    sources = demo_sources_path()
    orgs = org_dir()
    export_org(world, orgs)  # unchanged files: the import recognises them and skips (one per content)
    events = export_events(world, sources.parent / "events")
    export_sources(world, sources, sim.url, events)
    echo(f"demo mode: the {state['size']} organisation (seed {state['seed']}) served on {sim.url}, "
         f"sources file {sources}")
    return sim, {**demo_environment(sim.url, orgs), "SEI_SOURCES": str(sources)}


CLOCK_STEP_S = 60.0


def catch_up(world, start_now: int, elapsed_s: float) -> int:
    """Move the simulated organisation's clock to `start_now` plus the real time elapsed
    (never back, never past the generated horizon): every scheduled run then finds the new
    pull requests, issues and deployments of the hour, as it would on real APIs."""
    target = min(start_now + int(elapsed_s), world.end)
    if target > world.now:
        world.advance((target - world.now) / 3600)
    return world.now


def _follow_real_time(world, stop: threading.Event) -> None:
    import time
    start_now, t0 = world.now, time.monotonic()
    while not stop.wait(CLOCK_STEP_S):
        catch_up(world, start_now, time.monotonic() - t0)


def serve(demo: bool | None, host: str, port: int, echo=print) -> int:
    """Run `dagster dev` until interrupted; returns its exit status."""
    from orchestration.demo import read_demo_state
    from orchestration.settings import prepare_dagster_home

    state = read_demo_state()
    if demo is None:
        demo = state is not None and not own_sources_configured()
    env = absolute_paths({**os.environ, "DAGSTER_HOME": str(prepare_dagster_home())})
    sim = None
    if demo:
        if state is None:
            from orchestration.demo import demo_state_path
            echo(f"error: no demo to serve: {demo_state_path()} does not exist. Fix: run `make run` (sei demo) "
                 f"first, or start without --demo.")
            return 1
        sim, extra = _start_demo_simulator(state, echo)
        env.update(extra)
    else:
        echo("your own configuration: schedules skip, saying why, while no source is configured or reachable "
             "(`sei dagster --demo` serves the demo's organisation instead)")
    echo(f"Dagster UI on http://{host}:{port} (instance {env['DAGSTER_HOME']}); Ctrl-C stops it")
    dagster = Path(sys.executable).parent / "dagster"
    # A process started in the background inherits SIGINT ignored, and dagster dev maps SIGTERM
    # to its SIGINT handler: restore the default so both stop it (and its webserver and daemon).
    proc = subprocess.Popen([str(dagster), "dev", "-w", "workspace.yaml", "-h", host, "-p", str(port)],
                            cwd=PROJECT_ROOT, env=env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # dagster dev stops its webserver, daemon and code servers on SIGINT; pass SIGTERM on as that
    old = signal.signal(signal.SIGTERM, lambda *_: proc.send_signal(signal.SIGINT))
    try:
        while True:
            try:
                return proc.wait()
            except KeyboardInterrupt:  # the terminal sent SIGINT to the child as well: wait for it
                continue
    finally:
        signal.signal(signal.SIGTERM, old)
        if proc.poll() is None:
            proc.kill()
        if sim is not None:
            sim.clock_stop.set()
            sim.stop()
