"""The project loads as a user runs it: Dagster definitions, the dbt project."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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
    manifest = tmp_path / ".dbt_target" / "manifest" / "manifest.json"
    assert manifest.exists()  # parsed privately
    # every process that loads the definitions (each step of a multiprocess run) reuses the
    # parse while nothing it depends on changed, and parses again when something did
    from orchestration.dbt import prepare_manifest
    parsed = manifest.stat().st_mtime_ns
    assert prepare_manifest() == manifest and manifest.stat().st_mtime_ns == parsed
    monkeypatch.setenv("SEI_INCREMENTAL_LOOKBACK_DAYS", "31")   # the environment the models may read
    prepare_manifest()
    assert manifest.stat().st_mtime_ns > parsed
    parsed = manifest.stat().st_mtime_ns
    model = ROOT / "dbt_project" / "models" / "marts" / "ops" / "integration_health.sql"
    before = model.stat()
    try:
        os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))   # an edited model
        prepare_manifest()
        assert manifest.stat().st_mtime_ns > parsed
    finally:
        os.utime(model, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_dbt_project_parses(tmp_path):
    r = subprocess.run([str(Path(sys.executable).parent / "dbt"), "parse", "--project-dir", str(ROOT / "dbt_project"),
                        "--profiles-dir", str(ROOT / "dbt_project"), "--target-path", str(tmp_path / "target")],
                       capture_output=True, text=True, env={"SEI_WAREHOUSE": str(tmp_path / "w.duckdb"), "PATH": "/usr/bin:/bin",
                                                            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stdout + r.stderr


# --------------------------------------------------------------------------- the import graph
# Imports go down the way the data flows: `sei/` (the command line) is the top and calls
# everything; `core/` (settings, profiles, the serving publish, health) is what every part
# may import. A lower package importing `sei` would make the command line a dependency of
# the things it drives.
MAX_LINES = 800   # past this a reader scrolls instead of finding: split along queries, resources, state
PRUNE = {"__pycache__", "node_modules", "target", "logs", "dbt_packages", "warehouse"}


def _packages() -> list[str]:
    import tomllib
    include = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]["include"]
    return sorted({name.rstrip("*").rstrip(".") for name in include})


def _python_files(top: Path):
    for path in sorted(top.rglob("*.py")):
        parts = path.relative_to(ROOT).parts
        if not any(p.startswith(".") or p in PRUNE or p.endswith(".egg-info") for p in parts):
            yield path


def _imports(path: Path):
    """(line, dotted module) for every absolute import in the file, `from a import b` also as
    `a.b` (b may be a module), and importlib.import_module("...") of a constant."""
    import ast
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.lineno, node.module
            for a in node.names:
                yield node.lineno, f"{node.module}.{a.name}"
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node.lineno, node.args[0].value


def _under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_only_the_command_line_imports_sei():
    # Tests drive the command line through `sei.cli`; nothing else may reach into it.
    bad = {}
    for path in _python_files(ROOT):
        rel = path.relative_to(ROOT)
        if rel.parts[0] == "sei":
            continue
        for line, name in _imports(path):
            if _under(name, "sei") and not (rel.parts[0] == "tests" and _under(name, "sei.cli")):
                bad.setdefault(f"{rel}:{line}", f"{rel}:{line} imports {name}")
    assert not bad, "only sei/ (the command line) may import sei; move what is shared to core/:\n" + "\n".join(bad.values())


def test_simulator_apis_build_on_http_not_on_the_server():
    # server.py imports every api_*.py (and they their helpers) to build its routes: any of
    # them importing the server is a cycle.
    bad = {f"{p.relative_to(ROOT)}:{line}": f"{p.relative_to(ROOT)}:{line} imports {name}"
           for p in sorted((ROOT / "simulator").glob("*.py")) if p.name != "server.py"
           for line, name in _imports(p) if _under(name, "simulator.server")}
    http = ROOT / "simulator" / "http.py"
    if http.exists():   # the primitives themselves import no simulator module
        bad |= {f"simulator/http.py:{line}": f"simulator/http.py:{line} imports {name}" for line, name in _imports(http)
                if _under(name, "simulator") and name != "simulator.http"}
    assert not bad, "the API modules take Request, Response and Router from simulator/http.py:\n" + "\n".join(bad.values())


def test_no_module_is_too_long_to_read():
    long = [f"{p.relative_to(ROOT)}: {n} lines" for pkg in _packages() for p in _python_files(ROOT / pkg)
            if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines; split them along what a reader looks for:\n" + "\n".join(long)


@pytest.mark.xdist_group("layout")
def test_xdist_groups_hold_together(request):
    """Under `--dist loadgroup` (make test) a group's tests share one worker, so a module's
    expensive world is built once; with pytest 9.2 and pytest-xdist 3.8 the group tag was
    silently lost and every world was built on both workers."""
    if not getattr(request.config.option, "loadgroup", False):
        pytest.skip("not run under pytest-xdist's --dist loadgroup")
    assert request.node.nodeid.endswith("@layout"), request.node.nodeid
