"""The project loads as a user runs it: Dagster definitions, the dbt project."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dagster_definitions_load_and_materialise(tmp_path, monkeypatch):
    monkeypatch.setenv("SEI_WAREHOUSE", str(tmp_path / "sei.duckdb"))
    import dagster as dg

    from orchestration.definitions import defs
    result = dg.materialize(list(defs.assets), instance=dg.DagsterInstance.ephemeral())
    assert result.success
    assert (tmp_path / "org" / "developers.csv").stat().st_size > 1000


def test_dbt_project_parses(tmp_path):
    r = subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir", str(ROOT / "dbt_project"),
                        "--profiles-dir", str(ROOT / "dbt_project"), "--target-path", str(tmp_path / "target")],
                       capture_output=True, text=True, env={"SEI_WAREHOUSE": str(tmp_path / "w.duckdb"), "PATH": "/usr/bin:/bin",
                                                            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
