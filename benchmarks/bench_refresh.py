"""The whole refresh as a user runs it: `sei_refresh`, full and then hourly, step by step.

    python -m benchmarks.bench_refresh --size medium [--seed 1] [--hours 1] [--repeat 1] [--keep DIR]
        [--executor multiprocess|in_process]
    python -m benchmarks.bench_refresh --size large --keep DIR --continue-after 1   (hourly runs only)

Runs the real `sei_refresh` job (the schedule's run config) into a fresh warehouse, by
default as the daemon runs it: Dagster's multiprocess executor, each step in its own
process, at most as many at once as the machine has cores, the instance's pools as in the
project's dagster.yaml (`--executor in_process` runs the steps one after the other in this
process, as `sei demo` does), against the simulator serving from its own
process (which also writes the org, events and sources files a customer would provide).
Then the simulator's clock moves on by `--hours` of activity (its events files are written
again, as a customer's export job would) and the job runs a second time: the hourly run.

Reported per run: wall time; per step of the job (each source's ingest with dlt's extract /
normalize / load and its wait for the warehouse's writer lock, org import, identities,
profiles, the dbt build with its tests, checks, publish) wall time and rows; CPU seconds of
the client (this process and every process under it: the steps' processes and their fork
server, dbt, dlt's workers, with what they reaped) and of the simulator; peak RSS of the
client and of its largest subprocess (a step, dbt, a normalize worker); API requests per source and GitHub GraphQL points (`/_sim/stats`); the
cores used by client and simulator per tenth of the run.

Rate limits run on the simulator's clock (1,000x fast, the client's waits scaled the same),
so the figures are the warehouse's work, not GitHub's hourly budget.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import requests

from benchmarks.bench_ingest import TICK, _free_port, _proc_cpu, _proc_rss_mb, _Sampler
from benchmarks.common import environ
from orchestration.demo import _output_to

# The simulator's process: generates the org, writes the customer's files, serves the APIs,
# and on a line "advance H" on stdin moves its clock and writes the events files again; on
# "scale X" its clock runs at X real seconds per simulated second from then on.
SERVER_SNIPPET = r"""
import json, sys, time
from pathlib import Path
from simulator import generate
from simulator.export import export_org, export_sources
from simulator.export_events import export_events
from simulator.server import SimServer
t = time.perf_counter()
w = generate({size!r}, seed={seed})
base = Path({base!r})
s = SimServer(w, port={port}, time_scale={time_scale})
export_org(w, base / "org")
export_sources(w, base / "sources.yml", s.url, export_events(w, base / "events"))
s.start()
print(json.dumps({{"url": s.url, "summary": {{k: int(v) for k, v in w.summary().items()}},
                  "generate_s": time.perf_counter() - t}}), flush=True)
for line in sys.stdin:
    cmd = line.split()
    if cmd and cmd[0] == "advance":
        w.advance(float(cmd[1]))
        export_events(w, base / "events")
        print(json.dumps({{"now": w.now}}), flush=True)
    elif cmd and cmd[0] == "scale":
        s.set_time_scale(float(cmd[1]))
        print(json.dumps({{"time_scale": s.time_scale}}), flush=True)
s.stop()
"""

TIME_SCALE = 0.001
SOURCES = ("github", "jira", "harness", "events")
PHASES = ("lock_wait", "extract", "normalize", "load")
EXECUTORS = ("multiprocess", "in_process")


@contextlib.contextmanager
def simulator(size: str, seed: int, base: Path):
    port = _free_port()
    code = SERVER_SNIPPET.format(size=size, seed=seed, port=port, time_scale=TIME_SCALE, base=str(base))
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator did not start (exit code {proc.wait()})")
        info = json.loads(line)

        def advance(hours: float) -> dict:
            proc.stdin.write(f"advance {hours}\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        def scale(time_scale: float) -> dict:
            proc.stdin.write(f"scale {time_scale}\n")
            proc.stdin.flush()
            return json.loads(proc.stdout.readline())

        info.update(pid=proc.pid, advance=advance, scale=scale)
        yield info
    finally:
        with contextlib.suppress(OSError):
            proc.stdin.close()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _environment(base: Path, url: str) -> dict[str, str]:
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    return {"SEI_WAREHOUSE": str(base / "warehouse" / "sei.duckdb"), "SEI_SOURCES": str(base / "sources.yml"),
            "SEI_ORG_DIR": str(base / "org"), "SEI_WAIT_SCALE": str(TIME_SCALE), "SEI_DESTINATION": "duckdb",
            "SEI_INGEST_RETRY_DELAY_S": "2", "DAGSTER_HOME": str(base / "dagster_home"),
            "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SOURCES__HARNESS__API_KEY": HARNESS_API_KEY,
            "SOURCES__JIRA__EMAIL": JIRA_EMAIL, "SOURCES__JIRA__API_TOKEN": JIRA_TOKEN}


def _steps(result, instance) -> dict[str, dict]:
    """Wall seconds, rows and dlt phases per step of the run, from its Dagster events: the
    ingest steps report extract, normalize and load seconds, and the seconds they queued for
    the warehouse's writer lock (`lock_wait`)."""
    started, out = {}, {}
    for entry in instance.all_logs(result.run_id):
        ev = entry.dagster_event
        if ev is None or not ev.step_key:
            continue
        kind, key = ev.event_type_value, ev.step_key
        if kind == "STEP_START":
            started[key] = entry.timestamp
        elif kind in ("STEP_SUCCESS", "STEP_FAILURE"):
            out.setdefault(key, {})["seconds"] = round(entry.timestamp - started.get(key, entry.timestamp), 2)
            out[key]["ok"] = kind == "STEP_SUCCESS"
    for ev in result.get_asset_materialization_events():
        md = ev.materialization.metadata
        step = out.setdefault(ev.step_key, {})
        if "rows" in md and isinstance(md["rows"].value, int):
            step["rows"] = step.get("rows", 0) + int(md["rows"].value)
        for phase in PHASES:
            if f"{phase}_seconds" in md:
                step[f"{phase}_s"] = round(float(md[f"{phase}_seconds"].value), 1)
    checks = [e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    out["_checks"] = {"passed": sum(c.passed for c in checks), "total": len(checks)}
    return out


def _dbt_figures(run_id: str) -> dict:
    """The build's plan (orchestration/incremental.py: full or a window, why, changed raw rows)
    and dbt's own node times: models, tests, the slowest nodes."""
    import duckdb

    from core.settings import warehouse_path
    from orchestration import settings
    out: dict = {}
    try:
        with duckdb.connect(str(warehouse_path()), read_only=True) as con:
            row = con.execute("select mode, window_start, changed_rows, reason from sei_builds.dbt_builds "
                              "order by planned_at desc limit 1").fetchone()
        if row:
            out["plan"] = {"mode": row[0], "window_start": str(row[1]) if row[1] else None,
                           "changed_rows": row[2], "reason": row[3]}
    except duckdb.Error:
        pass
    results = settings.dbt_target_dir() / "runs" / run_id[:8] / "run_results.json"
    if results.exists():
        nodes = json.loads(results.read_text())["results"]
        kind = lambda r: r["unique_id"].split(".")[0]  # noqa: E731
        for k in ("model", "test", "unit_test", "seed"):
            out[f"{k}_node_s"] = round(sum(r["execution_time"] for r in nodes if kind(r) == k), 1)
        out["slowest"] = [(r["unique_id"].split(".")[-1], round(r["execution_time"], 1))
                          for r in sorted(nodes, key=lambda r: -r["execution_time"])[:8]]
    return out


def _requests(url: str) -> dict:
    stats = requests.get(f"{url}/_sim/stats", timeout=60).json()
    per_source = defaultdict(int)
    for endpoint, counts in stats["by_endpoint"].items():
        per_source[endpoint.split(".", 1)[0]] += sum(counts.values())
    return {"total": stats["requests"], "per_source": dict(per_source), "graphql_points": stats["graphql_points"]}


def _tree(root: int, leave_out: int | None = None) -> tuple[float, list[int]]:
    """CPU seconds of a process and its live descendants (dbt, dlt's workers, the fork
    server, the steps' processes), each with the children it has reaped (the fork server
    reaps the steps' processes): what the client costs while its subprocesses still run;
    and the descendants' PIDs. `leave_out`: a child not to count, with its own tree (the
    simulator, which this benchmark starts)."""
    stats = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(d)] = (int(fields[1]), sum(int(x) for x in fields[11:13]), sum(int(x) for x in fields[13:15]))
    total, todo, seen = 0, [root], []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        total += sum(stats.get(pid, (0, 0, 0))[1:])
        todo.extend(c for c, (ppid, _, _) in stats.items() if ppid == pid and c != leave_out)
    return total / TICK, seen[1:]


class _TreeSampler(_Sampler):
    """Cores used by the client with its subprocesses, and by the simulator; the largest
    peak RSS among the client's subprocesses (a step's process, dbt, a normalize worker)."""
    peak_child_rss_mb = 0.0

    def run(self):
        t0, c0, s0 = time.perf_counter(), _tree(os.getpid(), self.sim_pid)[0], _proc_cpu(self.sim_pid)
        while not self._stop_event.wait(self.every):
            t, (c, pids), s = time.perf_counter(), _tree(os.getpid(), self.sim_pid), _proc_cpu(self.sim_pid)
            self.samples.append((round(t - t0, 1), round((c - c0) / (t - t0), 2), round((s - s0) / (t - t0), 2)))
            t0, c0, s0 = t, c, s
            for pid in pids:
                with contextlib.suppress(OSError):
                    self.peak_child_rss_mb = max(self.peak_child_rss_mb, _proc_rss_mb(pid))


def _execute(defs, executor: str, instance):
    import dagster as dg

    from orchestration.definitions import MAIN_JOB, main_job, run_config
    config = run_config().to_config_dict()
    if executor == "in_process":
        return defs.resolve_job_def(MAIN_JOB).execute_in_process(run_config=config, instance=instance,
                                                                  raise_on_error=False)
    return dg.execute_job(dg.reconstructable(main_job), instance=instance, run_config=config, raise_on_error=False)


def run_once(defs, sim: dict, label: str, log: Path, executor: str = "multiprocess") -> dict:
    import dagster as dg

    requests.post(f"{sim['url']}/_sim/stats/reset", timeout=60)
    sampler = _TreeSampler(sim["pid"])
    cpu0, sim_cpu0, t0 = _tree(os.getpid(), sim["pid"])[0], _proc_cpu(sim["pid"]), time.perf_counter()
    sampler.start()
    instance = dg.DagsterInstance.get()
    with open(log, "a", encoding="utf-8") as f, _output_to(f):  # Dagster's and dbt's logs
        result = _execute(defs, executor, instance)
    seconds = time.perf_counter() - t0
    samples = sampler.stop()
    out = {"run": label, "executor": executor, "success": result.success, "seconds": round(seconds, 1),
           "client_cpu_s": round(_tree(os.getpid(), sim["pid"])[0] - cpu0, 1), "sim_cpu_s": round(_proc_cpu(sim["pid"]) - sim_cpu0, 1),
           "client_peak_rss_mb": round(_proc_rss_mb(os.getpid())),
           "child_peak_rss_mb": round(sampler.peak_child_rss_mb),
           "load_average": [round(x, 1) for x in os.getloadavg()],
           "requests": _requests(sim["url"]), "steps": _steps(result, instance), "dbt": _dbt_figures(result.run_id),
           "cores_per_tenth": _Sampler.summary(samples)}
    print(format_run(out), flush=True)
    return out


def run(size: str = "medium", seed: int = 1, hours: float = 1.0, keep: Path | None = None,
        continue_after: float | None = None, repeat: int = 1, executor: str = "multiprocess") -> dict:
    """The full run and `repeat` runs after `hours` of activity each. With `continue_after` H
    (a folder kept by an earlier run, `keep`), no full run: the simulator moves to H hours
    after its start (where the kept warehouse stands), one run records the build as it is
    now (a catch-up, e.g. after a code change), then the hourly runs."""
    if continue_after is not None and not (keep and (keep / "warehouse" / "sei.duckdb").exists()):
        raise SystemExit("--continue-after needs --keep DIR naming the folder of an earlier run (its warehouse)")
    base = keep or Path(tempfile.mkdtemp(prefix=f"sei-bench-refresh-{size}-"))
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with simulator(size, seed, base) as sim, environ(_environment(base, sim["url"])) as env:
        print(f"simulator: {size} org generated in {sim['generate_s']:.1f} s, {sim['summary']}", flush=True)
        home = Path(env["DAGSTER_HOME"])
        home.mkdir(exist_ok=True)
        # the project's instance settings: the warehouse pool of one, as the daemon has it
        (home / "dagster.yaml").write_text((Path(__file__).resolve().parents[1] / "dagster.yaml").read_text())
        log = base / "refresh.log"
        print(f"Dagster's and dbt's log: {log}", flush=True)
        from orchestration.definitions import build_definitions
        t = time.perf_counter()
        with open(log, "a", encoding="utf-8") as f, _output_to(f):
            defs = build_definitions()
        result = {"size": size, "seed": seed, "summary": sim["summary"], "generate_s": round(sim["generate_s"], 1),
                  "definitions_s": round(time.perf_counter() - t, 1), "runs": []}
        if continue_after is None:
            result["runs"].append(run_once(defs, sim, "full", log, executor))
        else:
            if continue_after:
                sim["advance"](continue_after)
            result["runs"].append(run_once(defs, sim, f"catch-up at {continue_after:g} h", log, executor))
        # the hourly runs on a real-time clock: between two of them the API's clock (its Date
        # header, by which the GitHub connector's rolling sweep measures time) moves by the
        # hour of activity and the seconds a run takes, as on a schedule; the fast clock that
        # lets a full load's rate-limit waits pass quickly would make it days
        sim["scale"](1.0)
        for _ in range(repeat):
            sim["advance"](hours)
            result["runs"].append(run_once(defs, sim, f"after {hours:g} h of activity", log, executor))
    result["total_s"] = round(time.perf_counter() - t0, 1)
    result["warehouse"] = str(base / "warehouse" / "sei.duckdb") if keep else None
    return result


def _phase(step: str) -> str:
    for source in SOURCES:
        if step.startswith(f"ingest_{source}") or step.startswith(f"dlt_{source}"):
            return source
    return step


def format_run(r: dict) -> str:
    lines = [f"{r['run']}: {'ok' if r['success'] else 'FAILED'} in {r['seconds']} s; client CPU {r['client_cpu_s']} s, "
             f"simulator CPU {r['sim_cpu_s']} s, client peak RSS {r['client_peak_rss_mb']} MB (largest child "
             f"{r['child_peak_rss_mb']} MB); load average at the end {r['load_average']}; {r['requests']['total']:,} requests {r['requests']['per_source']}, "
             f"{r['requests']['graphql_points']:,} GraphQL points; checks {r['steps']['_checks']}"]
    for step, s in sorted(((k, v) for k, v in r["steps"].items() if not k.startswith("_")),
                          key=lambda kv: -kv[1].get("seconds", 0)):
        extra = " ".join(f"{k} {s[f'{k}_s']}s" for k in PHASES if f"{k}_s" in s)
        lines.append(f"   {step:<56s} {s.get('seconds', 0):8.1f} s  {s.get('rows', ''):>10}  {extra}")
    if r.get("dbt"):
        lines.append(f"   dbt: {r['dbt']}")
    lines.append(f"   cores (client, simulator) per tenth: {r['cores_per_tenth']}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", default="medium", choices=("tiny", "small", "medium", "large"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hours", type=float, default=1.0, help="activity between the full and the second run")
    ap.add_argument("--keep", type=Path, default=None, help="work in this folder and keep it (warehouse, files)")
    ap.add_argument("--continue-after", type=float, default=None, metavar="H",
                    help="with --keep DIR of an earlier run: no full run; move the simulator H hours on (where "
                         "that warehouse stands), run once to catch up, then the hourly runs")
    ap.add_argument("--repeat", type=int, default=1, help="hourly runs after the first one")
    ap.add_argument("--executor", default="multiprocess", choices=EXECUTORS,
                    help="multiprocess (default): as the daemon runs the job, steps side by side in their own "
                         "processes; in_process: one step after the other in this process, as `sei demo`")
    args = ap.parse_args(argv)
    r = run(args.size, args.seed, args.hours, args.keep, args.continue_after, args.repeat, args.executor)
    print(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
