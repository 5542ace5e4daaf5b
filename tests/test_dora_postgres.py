"""PostgreSQL as the warehouse: the tiny org loaded by dlt into a PostgreSQL server the test
starts itself (SEI_DESTINATION=postgres), the org import, identity matches and profiles
mirrored to it, `dbt build` of the DORA marts with the postgres target (contracts, data tests
and unit tests included), and the same figures as the DuckDB warehouse built from the same
simulated org (tests/dora_reference.py: dora_warehouse)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import dora_reference as ref
from pg import postgres_server
from test_dbt_staging import PROJECT, query, run_results

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]

DBT = Path(sys.executable).parent / "dbt"
# mart -> the columns that identify a row
KEYS = {
    "fct_deployments": ["deployment_id"],
    "fct_deployment_changes": ["deployment_id", "commit_sha"],
    "fct_changes": ["pull_request_id"],
    "fct_incidents": ["incident_id"],
    "bridge_deployment_team": ["deployment_id", "tree", "team_id"],
    "bridge_incident_team": ["incident_id", "tree", "team_id"],
    "dora_service_weekly": ["service", "period_start"],
    "dora_service_monthly": ["service", "period_start"],
    "dora_team_weekly": ["tree", "team_id", "includes_subteams", "period_start"],
    "dora_team_monthly": ["tree", "team_id", "includes_subteams", "period_start"],
}


def dbt_pg(args: list[str], server, target: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{DBT.parent}:/usr/bin:/bin", "HOME": str(target), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           **server.env()}
    return subprocess.run([str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                           "--target-path", str(target), "--log-path", str(target / "logs")],
                          capture_output=True, text=True, env=env, timeout=900)


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    from ingestion.destination import copy_to_postgres
    from tests.helpers import environ
    duck = ref.dora_warehouse()
    tmp = tmp_path_factory.mktemp("dora_pg")
    with postgres_server() as server:
        with environ(SEI_DESTINATION="postgres", **server.env()):
            ref.load_world(duck["world"], tmp / "local.duckdb", tmp)
            copied = copy_to_postgres(duck["db"])  # org import, identity matches, profiles
        target = tmp / "target"
        build = dbt_pg(["build", "--select", *ref.SELECT, "--indirect-selection", "cautious"], server, target)
        marts = {}
        if build.returncode == 0:
            con = server.connect()
            try:
                for m in KEYS:
                    marts[m] = pd.read_sql(f"select * from marts.{m}", con)
            finally:
                con.close()
        yield {"duck": duck, "build": build, "marts": marts, "copied": copied,
               "results": run_results(target) if (target / "run_results.json").exists() else pd.DataFrame()}


def normalise(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c]) or c.endswith("_at") or c == "period_start":
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
        elif c.endswith("_url"):   # each engine's world was served by its own simulator: same path, other port
            out[c] = out[c].str.replace(r"^http://127\.0\.0\.1:\d+", "", regex=True)
    return out.sort_values(keys).reset_index(drop=True)


def test_build_on_postgres_passes(both):
    b = both["build"]
    assert b.returncode == 0, b.stdout[-5000:]
    r = both["results"]
    assert (r.status.isin(["success", "pass"])).all(), r[~r.status.isin(["success", "pass"])]
    assert len(r[r.id.str.startswith("unit_test.sei.")]) >= 9
    assert both["copied"]["raw_org.services"] > 0 and both["copied"]["raw_config.efficiency_scopes"] == 1


@pytest.mark.parametrize("mart", list(KEYS))
def test_same_figures_as_duckdb(both, mart):
    if not both["marts"]:
        pytest.fail("the PostgreSQL build failed: see test_build_on_postgres_passes")
    keys = KEYS[mart]
    pg = normalise(both["marts"][mart], keys)
    duck = normalise(query(both["duck"]["db"], f"select * from marts.{mart}"), keys)
    assert list(pg.columns) == list(duck.columns)
    assert len(pg) == len(duck) > 0, (len(pg), len(duck))
    for c in pg.columns:
        a, b = pg[c], duck[c]
        if pd.api.types.is_float_dtype(b) or pd.api.types.is_float_dtype(a):
            a, b = pd.to_numeric(a).to_numpy(float), pd.to_numeric(b).to_numpy(float)
            same = np.isclose(a, b, rtol=1e-9, atol=1e-9, equal_nan=True)
        else:
            same = (a.astype(object).where(a.notna(), None).to_numpy() == b.astype(object).where(b.notna(), None).to_numpy())
            same |= a.isna().to_numpy() & b.isna().to_numpy()
        assert same.all(), (c, pd.DataFrame({"postgres": pg[c], "duckdb": duck[c]})[~same].head())
