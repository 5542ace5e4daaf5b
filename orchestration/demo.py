"""`make run` / `sei demo`: the main job on the embedded default.

Starts the simulator on a free port, points the connectors at it, runs every step that
exists, stops the simulator and prints where the warehouse is and what was built.
"""
from __future__ import annotations

import os
import time

from sei.settings import warehouse_path


def _step(name: str):
    print(f"\n== {name}", flush=True)
    return time.monotonic()


def run_demo(size: str = "small", seed: int = 42) -> int:
    from simulator import generate
    from simulator.export import export_org
    from simulator.server import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN, SimServer

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
    status = 0
    with SimServer(world, time_scale=0.01) as sim:
        print(f"   serving GitHub, Jira and Harness APIs on {sim.url}")
        env = {
            "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SOURCES__GITHUB__BASE_URL": sim.url,
            "SOURCES__JIRA__EMAIL": JIRA_EMAIL, "SOURCES__JIRA__API_TOKEN": JIRA_TOKEN, "SOURCES__JIRA__BASE_URL": sim.url,
            "SOURCES__HARNESS__API_KEY": HARNESS_API_KEY, "SOURCES__HARNESS__BASE_URL": sim.url,
            "SEI_WAIT_SCALE": "0.01",
        }
        os.environ.update({k: v for k, v in env.items() if k not in os.environ})
        status = _run_steps(world, sim)
    print(f"\nwarehouse: {wh}")
    return status


def _run_steps(world, sim) -> int:
    """Every stage that exists so far; each later stage plugs in here."""
    from ingestion import pipeline
    from simulator.export import export_sources
    from simulator.export_events import export_events

    base = warehouse_path().parent
    events = export_events(world, base / "events")
    sources = export_sources(world, base / "sources.simulator.yml", sim.url, events)
    os.environ["SEI_SOURCES"] = str(sources)
    t = _step(f"ingest: simulator -> raw_* datasets (sources file {sources})")
    result = pipeline.run(["github", "jira", "harness", "events"])
    stats = sim.stats
    requests = sum(sum(v.values()) for k, v in stats.items() if not k.startswith("sim."))
    print(f"   {sum(s.rows for s in result.sources):,} rows in {time.monotonic() - t:.1f}s, "
          f"{requests:,} API requests, {sim.graphql_points} GraphQL points")
    for s in result.sources:
        print(f"   {s.source:8s} {s.status:8s} {s.rows:>9,} rows {s.requests:>6,} requests {s.duration_s:6.1f}s")
    print("   (org import, marts and checks land with the next issues)")
    return 0 if all(s.status in ("success", "partial") for s in result.sources) else 1
