"""The project loads as a user runs it: Dagster definitions, the dbt project."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_dagster_definitions_load(tmp_path, monkeypatch):
    # What workspace.yaml loads; materialising everything is tests/test_orchestration.py.
    monkeypatch.setenv("SEI_WAREHOUSE", str(tmp_path / "sei.duckdb"))
    import orchestration.definitions as module
    defs = module.build_definitions()
    for job in ("sei_refresh", "sei_nightly", "sei_weekly_full_refresh", "sei_freshness"):
        assert defs.resolve_job_def(job).name == job
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"dlt_github_pull_requests", "org_import", "marts/integration_health", "serving_publish"} <= keys
    assert (tmp_path / ".dbt_target" / "manifest" / "manifest.json").exists()  # parsed privately


def test_dbt_project_parses(tmp_path):
    r = subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir", str(ROOT / "dbt_project"),
                        "--profiles-dir", str(ROOT / "dbt_project"), "--target-path", str(tmp_path / "target")],
                       capture_output=True, text=True, env={"SEI_WAREHOUSE": str(tmp_path / "w.duckdb"), "PATH": "/usr/bin:/bin",
                                                            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr
