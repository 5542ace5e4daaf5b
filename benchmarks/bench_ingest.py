"""Ingestion benchmark: a full sync of one source of a simulated organisation into a fresh DuckDB.

    python -m benchmarks.bench_ingest --size medium [--page-size 100] [--concurrency 4] [--incremental]
    python -m benchmarks.bench_ingest --source jira --size small   (or --source harness)
    python -m benchmarks.bench_ingest --source jira --size medium --incremental --time-scale 1 \
        --start-hours 9 --runs 3   (hourly runs from 10:00 on a working Monday)

The simulator runs in its own process (generated there, sources file written there), so
this process holds only the client: its peak RSS (`resource.getrusage`) is the connector's
and dlt's own. The run is `ingestion.pipeline.run(["github"])`, as `sei ingest` does it.

Figures: wall time; dlt's extract / normalize / load steps (`pipeline.last_trace`); CPU
seconds of the client (this process and its normalize worker processes) and of the
simulator (`/proc/<pid>/stat`); per resource rows (dlt's normalize counts), requests, time
spent waiting on HTTP (summed over threads) and GraphQL points (`rateLimit.cost` of each
answer); the simulator's request counts per endpoint and total GraphQL points
(`/_sim/stats`), and points per 1,000 PRs by GitHub's formula. Jira and Harness
(`--source`): requests per 1,000 issues / executions, and the simulator's handler CPU per
endpoint (`handler_cpu_s` in `/_sim/stats`) beside the client's HTTP seconds per resource,
so each kind of page (search, changelog, boards, sprints; executions) shows where its time
went.

Rate limits: the simulator's clock runs 1,000x fast (`time_scale=0.001`) and the client
scales its waits the same way, so GitHub's hourly windows cost milliseconds: the figure is
the connector's and the API's throughput. On github.com a first sync of this size is
bounded by the rate limits instead (5,000 points an hour per token): `rate_limit_hours`
says how long by points and by REST requests.

`--incremental` then runs the hourly sync on the same warehouse: once with nothing changed
upstream, then `--runs` times (default 1) after the simulator's clock moved `--hours`
(default 1, `/_sim/advance`), and reports each run's GraphQL points, requests by endpoint,
seconds and changed rows (pull requests, issues, executions). `--start-hours` first moves
the clock that far after the full sync, with one untimed run, so that the hourly runs
measured start from another time of day. `--time-scale 1` runs the simulator's server
clock (its `Date` header) at the simulated clock's pace: Jira's board and sprint listings
follow the server's clock, which at the default 0.001 races 1,000 times ahead of the data.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

import requests

from benchmarks.common import environ

SERVER_SNIPPET = r"""
import json, signal, sys, time
from pathlib import Path
from simulator import generate
from simulator.export import export_sources
from simulator.server import SimServer
t = time.perf_counter()
w = generate({size!r}, seed={seed})
s = SimServer(w, port={port}, time_scale={time_scale}, **{server_kwargs!r})
for k, v in {sim_attrs!r}.items():
    setattr(s, k, v)
export_sources(w, Path({sources!r}), s.url)
s.start()
print(json.dumps({{"url": s.url, "summary": {{k: int(v) for k, v in w.summary().items()}},
                  "generate_s": time.perf_counter() - t}}), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while not stop:
    time.sleep(0.2)
s.stop()
"""

TICK = os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (its threads included)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def _proc_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _self_cpu() -> float:
    """CPU seconds of this process and of its finished children: dlt's normalize worker
    processes (the simulator, still running, is not counted until it exits)."""
    r, c = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


@contextlib.contextmanager
def simulator(size: str, seed: int, sources: Path, time_scale: float = 0.001, server_kwargs: dict | None = None,
              sim_attrs: dict | None = None):
    """The simulator in its own process; `server_kwargs` go to `SimServer` (`data_center=True`
    for Jira Data Center), `sim_attrs` are set on it (`jira_changelog_embed_limit`)."""
    port = _free_port()
    code = SERVER_SNIPPET.format(size=size, seed=seed, port=port, time_scale=time_scale, sources=str(sources),
                                 server_kwargs=dict(server_kwargs or {}), sim_attrs=dict(sim_attrs or {}))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator did not start (exit code {proc.wait()})")
        info = json.loads(line)
        info["pid"] = proc.pid
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class _Probe:
    """Per-resource HTTP seconds and GraphQL points, measured from outside the connector:
    the HTTP client's `send` and the GraphQL helper are wrapped for the run."""

    def __init__(self):
        self.http_s: dict[str, float] = defaultdict(float)
        self.points: dict[str, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.pipeline = None
        self._undo: list = []

    def __enter__(self):
        from ingestion import github, github_changes, http, pipeline
        probe = self

        orig_session = http.RateLimitedClient._make_session

        def make_session(client):
            s = orig_session(client)
            send = s.send

            def timed_send(request, **kw):
                t = time.perf_counter()
                try:
                    return send(request, **kw)
                finally:
                    with probe.lock:
                        probe.http_s[client.resource] += time.perf_counter() - t
            s.send = timed_send
            return s

        orig_graphql = github.graphql

        def graphql(api, url, resource, query, variables, repo=None, **kw):
            data = orig_graphql(api, url, resource, query, variables, repo, **kw)
            cost = (data.get("rateLimit") or {}).get("cost") if isinstance(data, dict) else None
            with probe.lock:
                probe.points[resource] += int(cost) if cost is not None else 0
            return data

        orig_make = pipeline.make_pipeline

        def make_pipeline(*a, **kw):
            probe.pipeline = orig_make(*a, **kw)
            return probe.pipeline

        # every module of the source that sends GraphQL queries
        for obj, name, new in ((http.RateLimitedClient, "_make_session", make_session), (github, "graphql", graphql),
                               (github_changes, "graphql", graphql), (pipeline, "make_pipeline", make_pipeline)):
            self._undo.append((obj, name, getattr(obj, name)))
            setattr(obj, name, new)
        return self

    def __exit__(self, *exc):
        for obj, name, old in reversed(self._undo):
            setattr(obj, name, old)


def _steps(pipeline) -> dict[str, float]:
    out = {}
    trace = pipeline.last_trace if pipeline is not None else None
    for step in (trace.steps if trace else []):
        if step.step in ("extract", "normalize", "load"):
            out[step.step] = round((step.finished_at - step.started_at).total_seconds(), 2)
    return out


class _Sampler(threading.Thread):
    """CPU use of the client and the simulator, sampled every `every` seconds."""

    def __init__(self, sim_pid: int, every: float = 1.0):
        super().__init__(daemon=True)
        self.sim_pid, self.every, self.samples = sim_pid, every, []
        self._stop_event = threading.Event()

    def run(self):
        t0, c0, s0 = time.perf_counter(), _proc_cpu(os.getpid()), _proc_cpu(self.sim_pid)
        while not self._stop_event.wait(self.every):
            t, c, s = time.perf_counter(), _proc_cpu(os.getpid()), _proc_cpu(self.sim_pid)
            self.samples.append((round(t - t0, 1), round((c - c0) / (t - t0), 2), round((s - s0) / (t - t0), 2)))
            t0, c0, s0 = t, c, s

    def stop(self) -> list:
        self._stop_event.set()
        self.join()
        return self.samples

    @staticmethod
    def summary(samples: list, parts: int = 10) -> list:
        """Average cores used by (client, simulator) in `parts` equal slices of the run."""
        if not samples:
            return []
        n = max(1, len(samples) // parts)
        out = []
        for i in range(0, len(samples), n):
            chunk = samples[i:i + n]
            out.append((round(sum(x[1] for x in chunk) / len(chunk), 2), round(sum(x[2] for x in chunk) / len(chunk), 2)))
        return out


def table_rows(warehouse: Path, dataset: str = "raw_github") -> dict[str, int]:
    """Rows per loaded table, nested tables (`pull_requests__reviews`, ...) included."""
    import duckdb
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ? AND table_name NOT LIKE '\\_dlt%' "
            "ESCAPE '\\' ORDER BY 1", [dataset]).fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM {dataset}."{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


def _sim_stats(url: str) -> dict:
    return requests.get(f"{url}/_sim/stats", timeout=30).json()


def _incremental_run(url: str, label: str, quiet: bool, source: str = "github") -> dict:
    """One more `pipeline.run([source])` on the same warehouse: its points and requests."""
    from ingestion import pipeline
    before = _sim_stats(url)
    t0 = time.perf_counter()
    result = pipeline.run([source], progress=not quiet, echo=(lambda line: None) if quiet else None)
    after = _sim_stats(url)
    src = result.source(source)
    by_ep = {ep: sum(c.values()) - sum(before["by_endpoint"].get(ep, {}).values())
             for ep, c in after["by_endpoint"].items()}
    rows = {r.resource: r.rows for r in src.resources}
    prs = rows.get("pull_requests", 0)
    points = after["graphql_points"] - before["graphql_points"]
    return {"run": label, "status": src.status, "seconds": round(time.perf_counter() - t0, 1),
            "graphql_points": points, "requests": sum(by_ep.values()),
            "requests_by_endpoint": {k: v for k, v in sorted(by_ep.items()) if v}, "rows": rows,
            "changed": rows.get(MAIN_RESOURCE[source], 0), "unit": UNIT[source],
            "changed_prs": prs, "points_per_changed_pr": round(points / prs, 2) if prs else None}


SOURCES = ("github", "jira", "harness")
# the resource a page kind is counted under when the simulator's endpoint names it
UNIT = {"github": "PRs", "jira": "issues", "harness": "executions"}
MAIN_RESOURCE = {"github": "pull_requests", "jira": "issues", "harness": "pipeline_executions"}


def _credentials(source: str) -> dict:
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    return {"github": {"SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN},
            "jira": {"SOURCES__JIRA__EMAIL": JIRA_EMAIL, "SOURCES__JIRA__API_TOKEN": JIRA_TOKEN},
            "harness": {"SOURCES__HARNESS__API_KEY": HARNESS_API_KEY}}[source]


def full_sync(size: str = "medium", seed: int = 1, page_size: int | None = None, concurrency: int | None = None,
              extra_env: dict | None = None, keep: Path | None = None, quiet: bool = False,
              source: str = "github", options: dict | None = None, server_kwargs: dict | None = None,
              sim_attrs: dict | None = None, incremental: bool = False, runs: int = 1, hours: float = 1.0,
              start_hours: float = 0.0, time_scale: float = 0.001) -> dict:
    """One full sync of one source (github, jira or harness) of a freshly generated
    organisation; returns the figures. `options` are written under the source's
    `integrations:` entry (`flavor: data_center`, ...); `server_kwargs` / `sim_attrs` shape
    the simulator (see `simulator`); `incremental` adds incremental runs: one with nothing
    changed, then `runs` after the clock moved `hours` each (after `start_hours` and one
    untimed run, when given)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
    work = Path(keep) if keep else Path(tempfile.mkdtemp(prefix=f"bench_ingest_{source}_{size}_"))
    work.mkdir(parents=True, exist_ok=True)
    sources = work / "sources.yml"
    wh = work / "sei.duckdb"
    for p in work.glob("sei.duckdb*"):
        p.unlink()
    with simulator(size, seed, sources, time_scale=time_scale, server_kwargs=server_kwargs, sim_attrs=sim_attrs) as sim:
        text = sources.read_text()
        opts = ""
        for k, v in (options or {}).items():
            if k == "flavor":
                text = text.replace("flavor: cloud", f"flavor: {v}", 1)
            else:
                opts += f"\n    {k}: {v}"
        if page_size:
            opts += f"\n    page_size: {page_size}"
        if concurrency:
            opts += f"\n    concurrency: {concurrency}"
        if opts:
            text = text.replace(f"\n  {source}:\n", f"\n  {source}:" + opts + "\n", 1)
        text += f"\nruntime:\n  wait_scale: {time_scale}\n"
        sources.write_text(text)
        env = {"SEI_WAREHOUSE": str(wh), "SEI_SOURCES": str(sources), **_credentials(source),
               "SEI_WAIT_SCALE": str(time_scale), "RUNTIME__DLTHUB_TELEMETRY": "false", **(extra_env or {})}
        from ingestion import pipeline
        before = _sim_stats(sim["url"])
        sim_cpu0, cpu0 = _proc_cpu(sim["pid"]), _self_cpu()
        t0 = time.perf_counter()
        sampler = _Sampler(sim["pid"])
        sampler.start()
        with environ(env), _Probe() as probe:
            result = pipeline.run([source], progress=not quiet, echo=(lambda line: None) if quiet else None)
        wall = time.perf_counter() - t0
        samples = sampler.stop()
        cpu, sim_cpu = _self_cpu() - cpu0, _proc_cpu(sim["pid"]) - sim_cpu0
        sim_peak = _proc_rss_mb(sim["pid"])
        after = _sim_stats(sim["url"])
        increments = []
        if incremental and result.source(source).status != "failed":
            def advance(h: float) -> str:
                r = requests.post(f"{sim['url']}/_sim/advance", params={"hours": h}, timeout=600)
                r.raise_for_status()
                return str(r.json().get("now_iso") or r.json().get("now") or "")
            with environ(env):
                increments.append(_incremental_run(sim["url"], "no change", quiet, source))
                if start_hours:
                    advance(start_hours)
                    _incremental_run(sim["url"], "untimed", quiet, source)
                for i in range(max(1, int(runs))):
                    now = advance(hours)
                    increments.append(_incremental_run(sim["url"], f"run {i + 1} after {hours:g} h of activity"
                                                       + (f" (clock {now})" if now else ""), quiet, source))
    src = result.source(source)
    by_ep = {ep: sum(c.values()) - sum(before["by_endpoint"].get(ep, {}).values())
             for ep, c in after["by_endpoint"].items()}
    by_ep = {ep: n for ep, n in by_ep.items() if n}
    ep_cpu = {ep: round(v - before.get("handler_cpu_s", {}).get(ep, 0.0), 2)
              for ep, v in after.get("handler_cpu_s", {}).items() if ep in by_ep}
    points = after["graphql_points"] - before["graphql_points"]
    resources = {}
    for r in src.resources:
        resources[r.resource] = {"rows": r.rows, "requests": r.requests, "http_s": round(probe.http_s.get(r.resource, 0.0), 1),
                                 "points": probe.points.get(r.resource, 0), "retries": r.retries, "status": r.status}
    prs = resources.get("pull_requests", {}).get("rows", 0)
    units = resources.get(MAIN_RESOURCE[source], {}).get("rows", 0)
    tables = table_rows(wh, f"raw_{source}") if src.status != "failed" else {}
    rows = sum(tables.values())
    rest = sum(v for k, v in by_ep.items() if k.startswith("github.rest"))
    out = {
        "source": source, "size": size, "seed": seed, "status": src.status, "error": src.error_message,
        "options": dict(options or {}), "simulator_options": {**(server_kwargs or {}), **(sim_attrs or {})},
        "seconds": round(wall, 1), "rows": rows, "rows_per_s": round(rows / wall), "prs": prs, "tables": tables,
        "steps_s": _steps(probe.pipeline),
        "client_cpu_s": round(cpu, 1), "simulator_cpu_s": round(sim_cpu, 1),
        "client_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "simulator_peak_rss_mb": round(sim_peak), "simulator_generate_s": round(sim["generate_s"], 1),
        "requests": sum(by_ep.values()), "requests_by_endpoint": dict(sorted(by_ep.items())),
        "units": units, "unit": UNIT[source],
        "requests_per_1000_units": round(sum(by_ep.values()) / units * 1000, 1) if units else None,
        "simulator_handler_cpu_s_by_endpoint": ep_cpu,
        "simulator_ms_per_request_by_endpoint": {ep: round(ep_cpu[ep] / by_ep[ep] * 1000, 1)
                                                 for ep in ep_cpu if by_ep.get(ep)},
        "graphql_points": points,
        "points_per_1000_prs": round(points / prs * 1000, 1) if prs else None,
        "pr_points_per_1000_prs": round(resources.get("pull_requests", {}).get("points", 0) / prs * 1000, 1) if prs else None,
        "rate_limit_hours": {"graphql_points": round(points / 5000, 2), "rest_requests": round(rest / 5000, 2)},
        "resources": resources, "warehouse": str(wh),
        "loadavg_after": [round(x, 1) for x in os.getloadavg()],
        "cores_used_client_sim": _Sampler.summary(samples),
        "org": sim["summary"],
        "incremental": increments,
    }
    if not keep:  # a large org's warehouse is gigabytes: keep it only when asked (--keep)
        import shutil
        shutil.rmtree(work, ignore_errors=True)
        out["warehouse"] = None
    return out


def page_costs(size: str = "medium", seed: int = 1, repos: int = 40) -> dict[str, float]:
    """Simulator CPU milliseconds per page, by kind of page, on `repos` repositories whose
    per-repository frames the simulator has built already (a smaller page of the same kind is
    asked for first, unmeasured; GraphQL pages are never asked for twice, the simulator
    caches rendered pages)."""
    import yaml

    from ingestion.github_queries import HISTORY_QUERY, PRS_QUERY
    from simulator.http import GITHUB_TOKEN
    work = Path(tempfile.mkdtemp(prefix="bench_pages_"))
    out = {}
    with simulator(size, seed, work / "sources.yml") as sim:
        url = sim["url"]
        doc = yaml.safe_load((work / "sources.yml").read_text())
        names = [r for o in doc["organisations"] for p in o["projects"] for r in p["github"]["repos"]][:repos]
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {GITHUB_TOKEN}"

        def runs(repo, page, exclude=False):
            return s.get(f"{url}/repos/{repo}/actions/runs", params={
                "per_page": 100, "page": page, "created": ">=2000-01-01T00:00:00+00:00",
                **({"exclude_pull_requests": "true"} if exclude else {})})

        def gql(repo, query, **v):
            o, n = repo.split("/")
            return s.post(f"{url}/graphql", json={"query": query, "variables": {"owner": o, "name": n, **v}})

        since = "2000-01-01T00:00:00Z"
        kinds = [  # (kind, warm-up, measured)
            ("workflow_runs page (100 runs)", lambda r: runs(r, 1), lambda r: runs(r, 2)),
            ("workflow_runs page, exclude_pull_requests", lambda r: None, lambda r: runs(r, 3, True)),
            ("workflow_runs page, again with pull_requests", lambda r: None, lambda r: runs(r, 4)),
            ("pull_requests page (50 PRs)", lambda r: gql(r, PRS_QUERY, first=10, after=None),
             lambda r: gql(r, PRS_QUERY, first=50, after=None)),
            ("history page (100 commits)", lambda r: gql(r, HISTORY_QUERY, first=10, after=None, since=since),
             lambda r: gql(r, HISTORY_QUERY, first=100, after=None, since=since)),
            ("deployments page (REST, 100)", lambda r: None,
             lambda r: s.get(f"{url}/repos/{r}/deployments", params={"per_page": 100})),
        ]
        for kind, warm, call in kinds:
            for repo in names:
                warm(repo)
            c0 = _proc_cpu(sim["pid"])
            for repo in names:
                call(repo).raise_for_status()
            out[kind] = round((_proc_cpu(sim["pid"]) - c0) / len(names) * 1000, 1)
            print(f"  simulator CPU per {kind}: {out[kind]} ms", flush=True)
    import shutil
    shutil.rmtree(work, ignore_errors=True)
    return out


def format_result(r: dict) -> str:
    source = r.get("source", "github")
    if source != "github":
        return _format_other(r)
    lines = [f"{r['size']} org full GitHub sync: {r['status']} in {r['seconds']:.1f} s, {r['rows']:,} rows in all tables "
             f"({r['rows_per_s']:,} rows/s), {r['prs']:,} PRs",
             f"  dlt steps: {r['steps_s']}",
             f"  CPU: client {r['client_cpu_s']} s, simulator {r['simulator_cpu_s']} s; peak RSS client "
             f"{r['client_peak_rss_mb']} MB, simulator {r['simulator_peak_rss_mb']} MB",
             f"  requests {r['requests']:,}; GraphQL points {r['graphql_points']:,} = {r['points_per_1000_prs']} per "
             f"1,000 PRs (pull-request query alone {r['pr_points_per_1000_prs']})",
             f"  on github.com the rate limits alone would take {r['rate_limit_hours']}",
             f"  {'resource':<24} {'rows':>9} {'requests':>9} {'http s':>8} {'points':>7}"]
    for name, x in r["resources"].items():
        lines.append(f"  {name:<24} {x['rows']:>9,} {x['requests']:>9,} {x['http_s']:>8.1f} {x['points']:>7,}")
    lines.append(f"  by endpoint: {r['requests_by_endpoint']}")
    lines.append(f"  cores used (client, simulator) per tenth of the run: {r['cores_used_client_sim']}")
    lines.append(f"  load average after the run: {r['loadavg_after']}")
    if r.get("error"):
        lines.append(f"  error: {r['error']}")
    for inc in r.get("incremental") or []:
        lines.append(f"  incremental run, {inc['run']}: {inc['status']} in {inc['seconds']} s, "
                     f"{inc['graphql_points']} GraphQL points, {inc['requests']} requests, {inc['changed_prs']} changed PRs"
                     f" ({inc['points_per_changed_pr']} points per changed PR); {inc['requests_by_endpoint']}")
    return "\n".join(lines)


def _format_other(r: dict) -> str:
    """Jira and Harness: requests per 1,000 issues / executions, and where the time went per
    kind of page (client: seconds waiting on HTTP per resource; simulator: handler CPU per
    endpoint)."""
    lines = [f"{r['size']} org full {r['source']} sync: {r['status']} in {r['seconds']:.1f} s, {r['rows']:,} rows "
             f"in all tables ({r['rows_per_s']:,} rows/s), {r['units']:,} {r['unit']}",
             f"  dlt steps: {r['steps_s']}",
             f"  CPU: client {r['client_cpu_s']} s, simulator {r['simulator_cpu_s']} s; peak RSS client "
             f"{r['client_peak_rss_mb']} MB, simulator {r['simulator_peak_rss_mb']} MB",
             f"  requests {r['requests']:,} = {r['requests_per_1000_units']} per 1,000 {r['unit']}",
             f"  {'resource':<24} {'rows':>9} {'requests':>9} {'http s':>8}"]
    for name, x in r["resources"].items():
        lines.append(f"  {name:<24} {x['rows']:>9,} {x['requests']:>9,} {x['http_s']:>8.1f}")
    lines.append(f"  {'simulator endpoint':<28} {'requests':>9} {'handler CPU s':>14} {'ms/request':>11}")
    for ep, n in r["requests_by_endpoint"].items():
        cpu = r["simulator_handler_cpu_s_by_endpoint"].get(ep, 0.0)
        ms = r["simulator_ms_per_request_by_endpoint"].get(ep, 0.0)
        lines.append(f"  {ep:<28} {n:>9,} {cpu:>14.2f} {ms:>11.1f}")
    lines.append(f"  cores used (client, simulator) per tenth of the run: {r['cores_used_client_sim']}")
    lines.append(f"  load average after the run: {r['loadavg_after']}")
    if r.get("error"):
        lines.append(f"  error: {r['error']}")
    for inc in r.get("incremental") or []:
        lines.append(f"  incremental run, {inc['run']}: {inc['status']} in {inc['seconds']} s, {inc['requests']} "
                     f"requests, {inc['changed']} changed {inc['unit']}; {inc['requests_by_endpoint']}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--source", default="github", choices=SOURCES)
    ap.add_argument("--size", default="medium")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--page-size", type=int, default=None)
    ap.add_argument("--concurrency", type=int, default=None)
    ap.add_argument("--keep", default=None, help="work directory to keep (warehouse, sources file)")
    ap.add_argument("--json", default=None, help="write the figures to this file")
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--env", action="append", default=[], help="KEY=VALUE for the run (dlt settings, ...)")
    ap.add_argument("--option", action="append", default=[],
                    help="KEY=VALUE under the source's integrations entry (flavor=data_center, page_size=..., ...)")
    ap.add_argument("--data-center", action="store_true", help="Jira: the simulator serves Jira Data Center")
    ap.add_argument("--changelog-embed-limit", type=int, default=None,
                    help="Jira: histories the simulator embeds in a search page (Cloud: 40), lower to make "
                         "changelog follow-ups happen on a small org")
    ap.add_argument("--page-costs", action="store_true", help="only measure the simulator's CPU per kind of page")
    ap.add_argument("--incremental", action="store_true",
                    help="then incremental runs: nothing changed, and after the clock moved --hours (--runs times)")
    ap.add_argument("--runs", type=int, default=1, help="--incremental: runs after activity (default 1)")
    ap.add_argument("--hours", type=float, default=1.0, help="--incremental: clock move before each run (default 1)")
    ap.add_argument("--time-scale", type=float, default=0.001,
                    help="the simulator's time scale (0.001: its server clock and rate-limit windows run 1,000x "
                         "fast); 1 for Jira's hourly runs, whose sprint listings follow the server's clock")
    ap.add_argument("--start-hours", type=float, default=0.0,
                    help="--incremental: move the clock this far first (one untimed run), e.g. to a working hour")
    args = ap.parse_args(argv)
    if args.page_costs:
        page_costs(args.size, args.seed)
        return
    env = dict(kv.split("=", 1) for kv in args.env)
    options = dict(kv.split("=", 1) for kv in args.option)
    server_kwargs, sim_attrs = {}, {}
    if args.data_center:
        server_kwargs["data_center"] = True
        options["flavor"] = "data_center"
    if args.changelog_embed_limit is not None:
        sim_attrs["jira_changelog_embed_limit"] = args.changelog_embed_limit
    r = full_sync(args.size, args.seed, args.page_size, args.concurrency, extra_env=env, keep=args.keep,
                  quiet=args.quiet, source=args.source, options=options, server_kwargs=server_kwargs,
                  sim_attrs=sim_attrs, incremental=args.incremental, runs=args.runs, hours=args.hours,
                  start_hours=args.start_hours, time_scale=args.time_scale)
    print(format_result(r), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1, default=str))


if __name__ == "__main__":
    main()
