"""The productivity, sprint, alignment and goal models on PostgreSQL: every model from raw
to these marts builds with the postgres target on a server the test starts (an empty
warehouse: staging reads missing raw tables as empty typed relations), contracts
included, and the marts' dbt unit tests (hand-computed values) pass there too."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pg import postgres_server
from test_dbt_staging import PROJECT

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dbt")]
DBT = Path(sys.executable).parent / "dbt"
MARTS = ["path:models/marts/productivity", "path:models/marts/sprints", "path:models/marts/alignment",
         "path:models/marts/goals"]


def test_models_and_unit_tests_pass_on_postgres(tmp_path):
    with postgres_server() as pg:
        env = {**os.environ, **pg.env(), "SEI_DBT_TARGET": "postgres", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}

        def dbt(*args):
            return subprocess.run([str(DBT), *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT),
                                   "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
                                  env=env, capture_output=True, text=True, timeout=900)

        assert dbt("seed").returncode == 0                 # DORA's performance bands (goals read DORA marts)
        run = dbt("run", "--select", *[f"+{m}" for m in MARTS])
        assert run.returncode == 0, run.stdout[-4000:]
        built = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
        units = dbt("test", "--select", *[f"{m},test_type:unit" for m in MARTS],
                    *[f"{m},test_type:unit" for m in ("path:models/intermediate/productivity",
                                                      "path:models/intermediate/sprints",
                                                      "path:models/intermediate/alignment")])
        assert units.returncode == 0, units.stdout[-4000:]
        res = json.loads((tmp_path / "target" / "run_results.json").read_text())["results"]
    assert {r["status"] for r in built} == {"success"}
    for m in ("fct_pull_requests", "productivity_team_monthly", "sprint_metrics", "alignment_team_monthly",
              "goal_status"):
        assert f"model.sei.{m}" in {r["unique_id"] for r in built}
    res = [r for r in res if r["unique_id"].startswith("unit_test.")]   # not the on-run-start hook
    assert len(res) >= 10 and {r["status"] for r in res} == {"pass"}
    print(f"\npostgres: {len(built)} models built, {len(res)} unit tests pass")
