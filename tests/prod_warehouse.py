"""One warehouse for the productivity, sprint, alignment, goals and privacy tests: the tiny
simulated org (seed 7) as tests/tiny_org.py loads it (connectors over HTTP, org imported,
identities resolved, shipped profiles applied), then `dbt build` of those marts and
everything they need. Built once per test process
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
    from tiny_org import loaded

    org = loaded()
    root.mkdir(parents=True, exist_ok=True)
    raw, world = org["raw"], org["world"]   # read-only: tests that change it work on a copy
    db = root / "sei.duckdb"
    shutil.copy(raw, db)
    target = root / "target"
    proc = dbt(["build", "--select", *SELECT, "--indirect-selection", "cautious"], db, target)
    _BUILT.update(world=world, root=root, raw=raw, db=db, build=proc,
                  results=run_results(target) if (target / "run_results.json").exists() else None)
    return _BUILT
