"""Dagster definitions: `dagster dev -w workspace.yaml` loads this module."""
from __future__ import annotations

import dagster as dg


@dg.asset(group_name="simulator", description="The simulated organisation's upload files (developers, trees, services).")
def simulator_org_files() -> dg.MaterializeResult:
    from sei.settings import warehouse_path
    from simulator import generate
    from simulator.export import export_org
    w = generate("small", seed=42)
    files = export_org(w, warehouse_path().parent / "org")
    return dg.MaterializeResult(metadata={name: dg.MetadataValue.path(str(p)) for name, p in files.items()})


defs = dg.Definitions(assets=[simulator_org_files])
