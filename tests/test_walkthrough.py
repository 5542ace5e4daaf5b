"""The README's newcomer walkthrough ("After `make run`"), run line by line as written, on the
tiny organisation, in a folder of its own: `make run`'s command, `sei doctor`, the example
policy, `sei rbac show`, `sei publish --scopes`, opening one principal's extract, and
`make dagster`'s command in demo mode answering on its port. So the README cannot drift from
what works. Through the UI's GraphQL API it also checks what the UI shows: the run `make run`
recorded (materialisations, check results), a schedule that would run rather than skip, and
a run launched from the UI that reads the simulator demo mode serves."""
from __future__ import annotations

import csv
import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from dashboards.process import answers, running

# one worker builds the module's world once (under --dist loadgroup a module's tests
# would otherwise spread over both workers, each building it)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("walkthrough")]

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def readme_walkthrough() -> list[str]:
    text = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## After `make run`", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if shlex.split(line, comments=True)]  # commands, not comments


def make_recipe(target: str) -> list[str]:
    """The command a Makefile target runs, with $(BIN)/ dropped (it is the venv's bin)."""
    lines = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"{target}:"))
    recipe = [line.strip() for line in lines[start + 1:] if line.startswith("\t")][:1]
    assert recipe, f"make {target} has no recipe"
    return shlex.split(recipe[0].replace("$(BIN)/", ""))


def _graphql(url: str, query: str, variables: dict | None = None) -> dict:
    req = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": query, "variables": variables or {}}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        data = json.loads(r.read())
    assert "errors" not in data, data
    return data["data"]


class Walk:
    def __init__(self, tmp: Path):
        self.tmp, self.ui, self.results = tmp, None, []
        (tmp / "rbac_policies").symlink_to(PROJECT_ROOT / "rbac_policies")  # the README's relative paths
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("SEI_", "SOURCES__", "DAGSTER_HOME"))}
        self.env.update(SEI_WAREHOUSE=str(tmp / "warehouse" / "sei.duckdb"), DAGSTER_HOME=str(tmp / "dagster_home"),
                        DAGSTER_DISABLE_TELEMETRY="1", RUNTIME__DLTHUB_TELEMETRY="false",
                        DBT_SEND_ANONYMOUS_USAGE_STATS="false")

    def argv(self, words: list[str]) -> list[str]:
        if words[0] == "sei":
            return [str(BIN / "sei"), *words[1:]]
        if words[0] == "python":
            return [sys.executable, *words[1:]]
        raise AssertionError(f"the walkthrough runs {words[0]!r}: teach this test what it is")

    def run(self, line: str) -> None:
        words = shlex.split(line, comments=True)
        if words[0] == "export":
            key, _, value = words[1].partition("=")
            self.env[key] = value
            return
        if words[:2] == ["make", "run"]:
            words = [*make_recipe("run"), "--size", "tiny", "--seed", "7"]
        if words[:2] == ["make", "dashboards"]:
            self.results.append((line, self.dashboards_answer(words)))
            return
        if words[:2] == ["make", "dagster"]:
            self.port = _free_port()
            argv = self.argv([*make_recipe("dagster"), "--port", str(self.port)])
            self.ui_log = open(self.tmp / "ui.log", "w")
            self.ui = subprocess.Popen(argv, cwd=self.tmp, env=self.env, stdout=self.ui_log, stderr=subprocess.STDOUT)
            self.results.append((line, None))
            return
        r = subprocess.run(self.argv(words), cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=900)
        assert r.returncode == 0, f"{line}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
        self.results.append((line, r))

    def dashboards_answer(self, words: list[str]) -> str:
        """`make dashboards PRINCIPAL=P`: the server starts for that principal's scope file and
        answers on its port; then it is stopped (the walkthrough goes on)."""
        principal = next(w.split("=", 1)[1] for w in words[2:] if w.startswith("PRINCIPAL="))
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        argv = self.argv(["sei", "dashboards", "--principal", principal, "--port", str(port)])
        with running(argv, ready=lambda: answers(f"{url}/_stcore/health", expect="ok", timeout=10), env=self.env,
                     cwd=self.tmp, log=self.tmp / "dashboards.log", timeout=180, poll=1, stop_timeout=60):
            with urllib.request.urlopen(f"{url}/", timeout=30) as r:
                return f"{r.status}"

    def output(self, prefix: str) -> str:
        return next(r.stdout for line, r in self.results if line.startswith(prefix))

    def stop_ui(self) -> int | None:
        if self.ui is None:
            return None
        self.ui.send_signal(signal.SIGTERM)
        try:
            return self.ui.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.ui.kill()
            self.ui.wait()
            return None
        finally:
            self.ui_log.close()


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    w = Walk(tmp_path_factory.mktemp("walkthrough"))
    try:
        for line in readme_walkthrough():
            w.run(line)
        assert w.ui is not None, "the walkthrough ends with the UI"
        w.url = f"http://127.0.0.1:{w.port}"
        deadline = time.monotonic() + 300
        while True:
            assert w.ui.poll() is None, (w.tmp / "ui.log").read_text()[-3000:]
            try:
                entries = _graphql(w.url, "{ workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } } }")
                if entries["workspaceOrError"]["locationEntries"][0]["loadStatus"] == "LOADED":
                    break
            except (OSError, KeyError, IndexError, TypeError):
                pass
            assert time.monotonic() < deadline, (w.tmp / "ui.log").read_text()[-3000:]
            time.sleep(1)
        yield w
    finally:
        w.exit_code = w.stop_ui()


def test_the_walkthrough_is_the_documented_one():
    lines = [shlex.split(line, comments=True) for line in readme_walkthrough()]
    assert lines[0][:2] == ["make", "run"] and lines[-1][:2] == ["make", "dagster"]
    assert make_recipe("run") == ["sei", "demo"] and make_recipe("dagster") == ["sei", "dagster"]
    assert ["sei", "publish", "--scopes"] in lines
    assert ["make", "dashboards", "PRINCIPAL=elena"] in lines
    recipe = next(ln for ln in (PROJECT_ROOT / "Makefile").read_text().splitlines() if ln.startswith("\t$(BIN)/sei dashboards"))
    assert "--principal $(PRINCIPAL)" in recipe, recipe


def test_the_dashboards_answer_for_elena(walk):
    assert next(r for line, r in walk.results if line.startswith("make dashboards")) == "200"


def test_doctor_reads_the_demos_health(walk):
    out = walk.output("sei doctor")
    for integration in ("github", "jira", "harness", "events"):
        assert re.search(rf"^{integration}\s+\S+\s+healthy", out, re.M), out
    assert "all integrations healthy" in out


def test_rbac_show_and_the_extract_hold_elenas_subtree_only(walk):
    out = walk.output("sei rbac show")
    assert out.splitlines()[0] == "elena (user)"
    assert "team subtrees: reporting/T002" in out
    published = walk.output("sei publish --scopes")
    assert re.search(r"scopes: \d+ principals published to .*warehouse/scopes", published), published
    # the extract's teams: T002 and its descendants in the demo's reporting tree, no other
    tree = list(csv.DictReader(open(walk.tmp / "warehouse" / "org" / "org_tree_reporting.csv", encoding="utf-8")))
    subtree, grew = {"T002"}, True
    while grew:
        new = {t["team_id"] for t in tree if t["parent_team_id"] in subtree} - subtree
        subtree |= new
        grew = bool(new)
    teams = set(re.findall(r"'(T\d+)'", walk.output("python -c")))
    assert teams and teams <= subtree, (teams, subtree)
    assert len(tree) > len(subtree)  # the org has teams elena must not see


def test_the_ui_shows_make_runs_run_with_its_checks(walk):
    runs = _graphql(walk.url, "{ runsOrError { ... on Runs { results { runId jobName status } } } }")
    demo = [r for r in runs["runsOrError"]["results"] if r["jobName"] == "sei_refresh"]
    assert demo and demo[-1]["status"] == "SUCCESS", runs
    q = """query($id: ID!) { runOrError(runId: $id) { ... on Run {
             stats { ... on RunStatsSnapshot { materializations } }
             assetCheckSelection { name } } } }"""
    run = _graphql(walk.url, q, {"id": demo[-1]["runId"]})["runOrError"]
    assert run["stats"]["materializations"] > 50
    health = _graphql(walk.url, """{ assetNodeOrError(assetKey: {path: ["marts", "integration_health"]}) {
        ... on AssetNode { assetChecksOrError { ... on AssetChecks { checks { name
            executionForLatestMaterialization { status runId } } } } } } }""")
    checks = {c["name"]: c["executionForLatestMaterialization"]
              for c in health["assetNodeOrError"]["assetChecksOrError"]["checks"]}
    assert checks["all_integrations_healthy"]["status"] == "SUCCEEDED"
    assert checks["all_integrations_healthy"]["runId"] == demo[-1]["runId"]


def test_demo_mode_schedule_runs_and_a_ui_run_reads_the_simulator(walk):
    location = {"repositoryLocationName": "sei", "repositoryName": "__repository__"}
    tick = _graphql(walk.url, """mutation($s: ScheduleSelector!, $t: Float) { scheduleDryRun(selectorData: $s, timestamp: $t) {
        ... on DryRunInstigationTick { evaluationResult { skipReason runRequests { jobName } error { message } } } } }""",
                    {"s": {**location, "scheduleName": "hourly_refresh"}, "t": time.time()})
    result = tick["scheduleDryRun"]["evaluationResult"]
    assert result["skipReason"] is None and result["error"] is None, result
    assert len(result["runRequests"]) == 1
    # Materialize from the UI: GitHub's assets (the cheapest source that needs the simulator)
    keys = [n["assetKey"]["path"] for n in _graphql(walk.url, "{ assetNodes { assetKey { path } } }")["assetNodes"]
            if n["assetKey"]["path"][0].startswith("dlt_github_")]
    launched = _graphql(walk.url, """mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
        ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }""",
                        {"p": {"selector": {**location, "jobName": "sei_refresh",
                                            "assetSelection": [{"path": k} for k in keys]}, "runConfigData": {}}})
    assert launched["launchRun"]["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["launchRun"]["run"]["runId"]
    deadline = time.monotonic() + 600
    while True:
        status = _graphql(walk.url, "query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }",
                          {"id": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        assert time.monotonic() < deadline, (walk.tmp / "ui.log").read_text()[-3000:]
        time.sleep(2)
    assert status == "SUCCESS", (walk.tmp / "ui.log").read_text()[-5000:]
    ops = subprocess.run([sys.executable, "-c", "import duckdb, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
                          "print(con.execute(\"select count(*) from ops.ingest_runs where status = 'success' and "
                          "source = 'github'\").fetchone()[0])", walk.env["SEI_WAREHOUSE"]],
                         capture_output=True, text=True)
    assert ops.stdout.strip() == "2", ops.stderr  # make run's sync and the UI's


def test_make_run_ends_with_its_summary_and_keeps_dbts_log_in_a_file(walk):
    """`make run`'s terminal output: a line per phase and step, no dbt log, nothing on stderr
    (no `nanobind: leaked` report at exit), and the summary last, naming the log file that
    holds dbt's and Dagster's full log."""
    run = next(r for line, r in walk.results if line.startswith("make run"))
    assert "nanobind" not in run.stderr and not run.stderr.strip(), run.stderr[-3000:]
    out = run.stdout.splitlines()
    assert not [ln for ln in out if re.search(r"\d+ of \d+ (START|PASS|OK)\b|Running with dbt=", ln)], run.stdout
    for step in ("ingest_github", "ingest_jira", "ingest_harness", "ingest_events", "org_import", "dbt_build",
                 "serving_publish"):
        assert any(re.fullmatch(rf"   {step}\s+done in\s+\d+\.\ds", ln) for ln in out), (step, run.stdout)
    summary = out[out.index("== summary"):]
    assert all(ln.startswith("   ") for ln in summary[1:]), summary
    assert summary[-1] == f"   warehouse: {walk.tmp / 'warehouse' / 'sei.duckdb'}", summary
    log = walk.tmp / "warehouse" / "logs" / "demo.log"
    assert f"   full log of the run (Dagster, dbt): {log}" in summary
    text = log.read_text(encoding="utf-8")
    assert "Running with dbt=" in text and re.search(r"\d+ of \d+ OK created sql table model marts\.", text)
    assert "dbt_build" in text and "ingest_github" in text  # Dagster's console log of the same run
