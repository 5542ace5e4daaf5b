"""The tiny simulated org (seed 7) loaded once per test process, for the suites that build
marts on it (tests/dora_reference.py, tests/prod_warehouse.py; the modules share the xdist
group "dbt", so they run in one process): synced over HTTP by the real connectors (GitHub,
Jira, Harness, events), its org files imported, identities resolved and the shipped
profiles applied. Callers copy the file and build on their copy."""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

PROFILES = Path(__file__).resolve().parent.parent / "profiles"


def load_world(world, db: Path, tmp: Path, sources=("github", "jira", "harness", "events"), port: int = 0,
               extra_events: tuple[dict, ...] = ()):
    """Sync the simulated world over HTTP into the configured destination (SEI_DESTINATION).
    `port`: the simulator's (0: any free one); a warehouse synced again keeps the same URLs
    when it is given the same port. `extra_events`: more events files for the sources file
    ({kind, project_id, path}), beside the ones exported from the world."""
    from ingestion import pipeline
    from simulator.export import export_sources
    from simulator.export_events import export_events
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    from simulator.server import SimServer
    from tests.helpers import environ
    with SimServer(world, port=port, time_scale=0.001) as sim:
        events = export_events(world, tmp / "events") + list(extra_events)
        src = export_sources(world, tmp / "sources.yml", sim.url, events)
        with environ(SEI_WAREHOUSE=db, SEI_SOURCES=src, SEI_WAIT_SCALE="0.001",
                     SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__HARNESS__API_KEY=HARNESS_API_KEY,
                     SOURCES__JIRA__EMAIL=JIRA_EMAIL, SOURCES__JIRA__API_TOKEN=JIRA_TOKEN,
                     SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None):
            result = pipeline.run(list(sources), progress=False)
    assert result.ok, [(s.source, s.status, s.error_message) for s in result.sources]


@functools.cache
def loaded(size: str = "tiny") -> dict:
    """{world, raw: the loaded DuckDB file (do not write to it), dir: its folder, with org/,
    events/ and sources.yml}. `size` "small" gives two organisations (the access-control
    attack suite needs principals of one organisation to look at another's)."""
    from ingestion.org.identities import resolve_warehouse
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from core.profiles import apply_profiles
    from simulator import generate
    from simulator.export import export_org
    from tests.helpers import environ

    tmp = Path(tempfile.mkdtemp(prefix=f"sei-{size}-org-"))
    raw = tmp / "raw.duckdb"
    world = generate(size, seed=7)
    with environ(SEI_DESTINATION="duckdb"):
        load_world(world, raw, tmp)
    export_org(world, tmp / "org")
    assert import_org(OrgFiles.from_dir(tmp / "org"), warehouse=raw).status == "accepted"
    resolve_warehouse(raw)
    apply_profiles(raw, PROFILES)
    return {"world": world, "raw": raw, "dir": tmp}
