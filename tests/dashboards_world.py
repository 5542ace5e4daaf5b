"""One published tiny organisation for every dashboard test (AppTest and the browser), built
once per test process (the modules share the xdist group "dashboards"): the tiny org as
tests/tiny_org.py loads it, every mart built by dbt, the serving file published, and one
scope file per principal of the example policy (rbac_policies/examples/policy.yml: leo the
account admin, elena the manager of T002's subtree, ...)."""
from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

from core.settings import PROJECT_ROOT

POLICY = PROJECT_ROOT / "rbac_policies" / "examples" / "policy.yml"


@functools.cache
def built() -> dict:
    from rbac_policies.duck import publish_scopes
    from core.publish import publish_serving
    from test_dbt_staging import dbt
    from tests.helpers import environ
    from tiny_org import loaded

    org = loaded()
    root = Path(tempfile.mkdtemp(prefix="sei-dashboards-"))
    db = root / "sei.duckdb"
    shutil.copy(org["raw"], db)
    for args in (["seed"], ["run", "--select", "+path:models/marts"]):   # the marts' tests are other modules' job
        proc = dbt(args, db, root / "target")
        assert proc.returncode == 0, proc.stdout[-4000:]
    serving = root / "serving.duckdb"
    scopes = root / "scopes"
    with environ(SEI_WAREHOUSE=db):
        publish_serving(db, serving)
        publish_scopes(POLICY, scopes, db, org["dir"] / "sources.yml")
    # independent queries read a copy: the app under test holds the serving file open with its locked configuration
    shutil.copy(serving, root / "reference.duckdb")
    (root / "demo.json").write_text('{"size": "tiny", "seed": 7}')   # what `sei demo` leaves: demo mode allowed
    return {"root": root, "db": db, "serving": serving, "scopes": scopes, "world": org["world"],
            "sources": org["dir"] / "sources.yml"}


def env(w: dict) -> dict:
    """The settings a dashboards process needs to find the published data."""
    return {"SEI_WAREHOUSE": str(w["db"]), "SEI_SERVING": str(w["serving"]), "SEI_SCOPES_DIR": str(w["scopes"])}


def full(w: dict, sql: str, params: list | None = None) -> pd.DataFrame:
    """An independent query on the whole account's serving file (what an administrator sees)."""
    con = duckdb.connect(str(w["root"] / "reference.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    finally:
        con.close()


def subtree(w: dict, tree: str, team: str) -> set[str]:
    """The team and every team below it, from the org tree's parent links (not the closure mart)."""
    teams = full(w, "select team_id, parent_team_id from marts.dim_team where tree = ?", [tree])
    kids: dict[str, list[str]] = {}
    for t, p in zip(teams.team_id, teams.parent_team_id):
        kids.setdefault(p, []).append(t)
    out, todo = set(), [team]
    while todo:
        t = todo.pop()
        out.add(t)
        todo.extend(kids.get(t, []))
    return out
