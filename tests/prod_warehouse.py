"""One warehouse for the productivity, sprint, alignment, goals and privacy tests: the tiny
simulated org (seed 7) synced over HTTP by the real connectors (GitHub, Jira, Harness,
events), its org files imported and identities resolved, the shipped profiles applied,
then `dbt build` of those marts and everything they need. Built once per test process
(the modules share the xdist group "dbt"); tests that change it work on a copy."""
from __future__ import annotations

import shutil
from pathlib import Path

from test_dbt_staging import dbt, run_results

SELECT = ["+path:models/marts/productivity", "+path:models/marts/sprints", "+path:models/marts/alignment",
          "+path:models/marts/goals"]
_BUILT: dict = {}


def build(root: Path) -> dict:
    if _BUILT:
        return _BUILT
    from ingestion import pipeline
    from ingestion.org.identities import resolve_warehouse
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from sei.profiles.base import apply_profiles
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    from simulator.server import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN, SimServer
    from tests.helpers import environ

    root.mkdir(parents=True, exist_ok=True)
    raw = root / "raw.duckdb"
    world = generate("tiny", seed=7)
    with SimServer(world, time_scale=0.001) as sim:
        events = export_events(world, root / "events")
        src = export_sources(world, root / "sources.yml", sim.url, events)
        with environ(SEI_WAREHOUSE=raw, SEI_SOURCES=src, SEI_WAIT_SCALE="0.001",
                     SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__HARNESS__API_KEY=HARNESS_API_KEY,
                     SOURCES__JIRA__EMAIL=JIRA_EMAIL, SOURCES__JIRA__API_TOKEN=JIRA_TOKEN,
                     SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None):
            result = pipeline.run(["github", "jira", "harness", "events"], progress=False)
    assert result.ok, [(s.source, s.status, s.error_message) for s in result.sources]
    export_org(world, root / "org")
    assert import_org(OrgFiles.from_dir(root / "org"), warehouse=raw).status == "accepted"
    resolve_warehouse(raw)
    apply_profiles(raw, Path(__file__).resolve().parent.parent / "profiles")
    db = root / "sei.duckdb"
    shutil.copy(raw, db)
    target = root / "target"
    proc = dbt(["build", "--select", *SELECT, "--indirect-selection", "cautious"], db, target)
    _BUILT.update(world=world, root=root, raw=raw, db=db, build=proc,
                  results=run_results(target) if (target / "run_results.json").exists() else None)
    return _BUILT
