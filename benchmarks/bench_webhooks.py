"""Webhook benchmarks (issue 16): the receiver's rate and latency, and freshness.

    python -m benchmarks.bench_webhooks receiver [--requests 6000] [--concurrency 16]
    python -m benchmarks.bench_webhooks freshness [--size small] [--events 60] [--warehouse DIR]
    python -m benchmarks.bench_webhooks freshness --size large --seed 1 --warehouse NEW_DIR \
        --from-refresh KEPT_DIR --refresh-hours H     (a warehouse bench_refresh --keep left)
    python -m benchmarks.run webhooks [--webhook-sizes small,medium]

**Receiver.** `sei webhooks serve` runs as its own process pinned to one core (CPU 0); the
load generator runs in this process on the other core(s): `--concurrency` keep-alive
connections, each sending its next signed GitHub `pull_request` delivery (a distinct
delivery id, ~1.3 kB, the simulator's payload shape) as soon as the previous one is
answered. Latency is measured per request, from the first byte written to the last byte of
the answer read; the first `--warmup` requests are not counted. Every answer must be
`200 accepted`, and the spool must hold every delivery afterwards. Also reported: the
receiver's CPU seconds over the timed requests (accepted per CPU-second is its one-core
capacity, whatever else runs on the machine), the 1-minute load average, and the disk's own
fdatasync latency measured in the spool's folder right after (no durable receiver answers
faster than its disk syncs). `--spool-dir` on a tmpfs separates the disk from the rest.
Target: >= 500 accepted/s with p99 <= 50 ms.

**Freshness.** A warehouse of the simulated org of `--size` is loaded by `sei_refresh` (the
hourly job) into `--warehouse` (reused when it already holds one: pass the same folder to
measure again without the setup). Then the simulator's clock advances by `--step-hours`
every `--period` seconds, its webhook sender posting each change to a real receiver; the
apply loop does what the Dagster daemon does with `webhook_spool_sensor` (evaluated every
`SEI_FRESH_SENSOR_INTERVAL_S`, here `--sensor-interval`) and runs the `sei_fresh` job it
requests, and a reader polls the serving file (read-only, as a dashboard does) every
0.2 s. An event's freshness is the time from the sender's POST to the first poll that sees
it: a pull request opened or merged in `marts.fct_pull_requests` (with that state), a
finished GitHub or Harness deployment in `marts.fct_deployments` (finished). p50 and p95
over at least `--events` such events. Target: p95 <= 60 s (small org), <= 120 s (large).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from webhooks import realtime
from webhooks.realtime import free_port, wait_healthy

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"
SECRET_ENV = {k: SECRET for k in realtime.SECRET_ENV}


def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))]


class ReceiverProcess:
    """The receiver (`sei webhooks serve`) in its own process (optionally pinned to a set of CPUs)."""

    def __init__(self, spool: Path, cpus: set[int] | None = None, env: dict | None = None, source: Path | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks"
        full_env = {**os.environ, **SECRET_ENV, "SEI_WEBHOOK_SPOOL": str(spool), **(env or {})}
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None
        # what `sei webhooks serve --port PORT` runs, without loading the rest of the CLI
        code = f"from webhooks.app import serve; serve('127.0.0.1', {self.port})"
        if source:  # another checkout's receiver (A/B comparisons); the rest of the code from this one
            full_env["PYTHONPATH"] = os.pathsep.join([str(ROOT), full_env.get("PYTHONPATH", "")])
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=source or ROOT,
                                     env=full_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     preexec_fn=pin)
        if not wait_healthy(self.url, self.proc, 60):
            raise RuntimeError("the receiver did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU of the receiver process (all its threads) so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# --------------------------------------------------------------------------- receiver
def _deliveries(n: int, port: int) -> list[bytes]:
    """n signed GitHub pull_request deliveries as raw HTTP/1.1 requests."""
    from webhooks.verify import sign
    out = []
    for i in range(n):
        payload = {"action": "opened", "number": i, "pull_request": {
            "id": 10_000_000 + i, "number": i, "title": f"Change {i}: tidy the payment retries", "state": "open",
            "merged": False, "merged_at": None, "updated_at": "2026-11-02T10:00:00Z",
            "head": {"ref": f"feature/change-{i}", "sha": f"{i:040x}"}, "base": {"ref": "main"},
            "user": {"login": "dev-42"}, "merge_commit_sha": None, "body": "x" * 600},
            "repository": {"id": 7, "full_name": "acme/payments-api", "default_branch": "main",
                           "name": "payments-api"}}
        body = json.dumps(payload, separators=(",", ":")).encode()
        head = (f"POST /webhooks/github HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
                f"User-Agent: GitHub-Hookshot/bench\r\nX-GitHub-Event: pull_request\r\n"
                f"X-GitHub-Delivery: bench-{i}\r\nX-Hub-Signature-256: {sign(SECRET, body)}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        out.append(head + body)
    return out


def fsync_probe(folder: Path, n: int = 300) -> dict:
    """The disk's own floor: fdatasync of 8 KiB written in place, as the spool's WAL commits
    are, n times in `folder`; percentiles in ms. No durable receiver answers faster than this."""
    path = Path(folder) / ".fsync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, b"\0" * (n * 8192))
        os.fsync(fd)
        ms = []
        for i in range(n):
            os.pwrite(fd, b"x" * 8192, i * 8192)
            t = time.perf_counter()
            os.fdatasync(fd)
            ms.append((time.perf_counter() - t) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"fdatasync_p50_ms": round(_pct(ms, 50), 2), "fdatasync_p99_ms": round(_pct(ms, 99), 2),
            "fdatasync_max_ms": round(max(ms), 2)}


async def _client(port: int, requests: list[bytes], latencies: list, statuses: dict) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for raw in requests:
            t0 = time.perf_counter()
            writer.write(raw)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            key = (int(head[9:12]), json.loads(body).get("status"))
            statuses[key] = statuses.get(key, 0) + 1
    finally:
        writer.close()


def receiver(requests: int = 6000, concurrency: int = 16, warmup: int = 500, spool_dir: Path | None = None,
             env: dict | None = None, source: Path | None = None) -> dict:
    tmp = Path(spool_dir or tempfile.mkdtemp(prefix="bench-webhooks-"))
    spool = tmp / "spool.sqlite"
    if spool.exists():
        for f in tmp.glob("spool.sqlite*"):
            f.unlink()
    cpus = sorted(os.sched_getaffinity(0))
    server_cpus = {cpus[0]}
    if len(cpus) > 1:
        os.sched_setaffinity(0, set(cpus[1:]))  # the load generator off the receiver's core
    r = ReceiverProcess(spool, server_cpus, env, source)
    try:
        reqs = _deliveries(warmup + requests, r.port)
        warm, timed = reqs[:warmup], reqs[warmup:]

        async def run(batch: list[bytes]) -> tuple[list[float], dict, float]:
            lat: list[float] = []
            st: dict = {}
            t0 = time.perf_counter()
            await asyncio.gather(*(_client(r.port, batch[i::concurrency], lat, st) for i in range(concurrency)))
            return lat, st, time.perf_counter() - t0

        asyncio.run(run(warm))
        load, cpu0 = os.getloadavg()[0], r.cpu_seconds()
        lat, st, seconds = asyncio.run(run(timed))
        cpu = r.cpu_seconds() - cpu0
    finally:
        r.stop()
        os.sched_setaffinity(0, set(cpus))
    import sqlite3
    with sqlite3.connect(spool) as con:
        stored = con.execute("select count(*) from events").fetchone()[0]
    disk = fsync_probe(tmp)
    accepted = st.get((200, "accepted"), 0)
    ms = [x * 1000 for x in lat]
    return {"requests": requests, "concurrency": concurrency, "accepted": accepted, "stored": stored,
            "other_answers": {f"{k[0]} {k[1]}": v for k, v in st.items() if k != (200, "accepted")},
            "seconds": round(seconds, 2), "accepted_per_s": round(accepted / seconds, 1),
            "receiver_cpu_s": round(cpu, 2), "accepted_per_cpu_s": round(accepted / cpu, 1) if cpu else None,
            "load_average_1m": round(load, 2), **disk,
            "p50_ms": round(_pct(ms, 50), 1), "p95_ms": round(_pct(ms, 95), 1), "p99_ms": round(_pct(ms, 99), 1),
            "max_ms": round(max(ms), 1), "body_bytes": len(timed[0].split(b"\r\n\r\n", 1)[1])}


def format_receiver(r: dict) -> str:
    return (f"receiver: {r['accepted']}/{r['requests']} accepted in {r['seconds']} s = {r['accepted_per_s']}/s at "
            f"concurrency {r['concurrency']}; latency p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} "
            f"ms, max {r['max_ms']} ms; receiver CPU {r['receiver_cpu_s']} s ({r['accepted_per_cpu_s']} accepted per "
            f"CPU-second); load average {r['load_average_1m']}; the disk's fdatasync p50 {r['fdatasync_p50_ms']} ms, "
            f"p99 {r['fdatasync_p99_ms']} ms; spool holds {r['stored']}"
            + (f"; other answers {r['other_answers']}" if r["other_answers"] else ""))


# --------------------------------------------------------------------------- freshness
SIM_SNIPPET = r"""
import json, signal, sys, time
from simulator import generate
from simulator.server import SimServer
from simulator.webhooks import WebhookSender
w = generate({size!r}, seed={seed})
if {offset}:
    w.advance({offset})  # where an earlier run of this benchmark left the clock (no webhooks for it)
s = SimServer(w, port={port}, time_scale=0.001)
WebhookSender(w, {url!r}, {secret!r})
s.start()
print(json.dumps({{"url": s.url, "now": w.now}}), flush=True)
stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
while not stop:
    time.sleep(0.2)
s.stop()
"""


def _environment(folder: Path, sources: Path) -> dict:
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    return {"SEI_WAREHOUSE": str(folder / "sei.duckdb"), "SEI_SERVING": str(folder / "serving" / "sei.duckdb"),
            "SEI_SOURCES": str(sources), "SEI_ORG_DIR": str(folder / "org"), "SEI_OPS_DB": str(folder / "ops.sqlite"),
            "SEI_WAIT_SCALE": "0.001", "SEI_DBT_TARGET_PATH": str(folder / "dbt_target"),
            "SEI_WEBHOOK_SPOOL": str(folder / "webhooks.sqlite"), "SEI_DESTINATION": "duckdb",
            "SOURCES__GITHUB__ACCESS_TOKEN": GITHUB_TOKEN, "SOURCES__JIRA__EMAIL": JIRA_EMAIL,
            "SOURCES__JIRA__API_TOKEN": JIRA_TOKEN, "SOURCES__HARNESS__API_KEY": HARNESS_API_KEY,
            "RUNTIME__DLTHUB_TELEMETRY": "false", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


class _Simulator:
    """The simulator in its own process (like github.com, it does not share our GIL), sending
    signed webhooks to `url` whenever POST /_sim/advance moves its clock."""

    def __init__(self, size: str, seed: int, offset_hours: int, url: str, secret: str):
        self.port = free_port()
        code = SIM_SNIPPET.format(size=size, seed=seed, offset=offset_hours, port=self.port, url=url, secret=secret)
        self.proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator did not start (exit status {self.proc.wait()})")
        self.url = json.loads(line)["url"]

    def advance(self, hours: float) -> None:
        import httpx
        httpx.post(f"{self.url}/_sim/advance", params={"hours": hours}, timeout=600).raise_for_status()

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _load(folder: Path, size: str, seed: int, sim_url: str) -> dict:
    """The warehouse of the org at its starting clock, built by `sei_refresh` (the hourly job)."""
    import dagster as dg

    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    world = generate(size, seed=seed)
    export_org(world, folder / "org")
    events = export_events(world, folder / "events")
    sources = export_sources(world, folder / "sources.yml", sim_url, events)
    os.environ.update(_environment(folder, sources))
    from orchestration.definitions import build_definitions
    t0 = time.perf_counter()
    res = build_definitions().resolve_job_def("sei_refresh").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    if not res.success:
        raise RuntimeError("sei_refresh failed: " + "; ".join(e.message or "" for e in res.all_events if e.is_failure))
    return {"load_s": round(time.perf_counter() - t0, 1)}


def adopt_refresh(kept: Path, hours: float, folder: Path, size: str, seed: int) -> None:
    """Start `folder` from a warehouse `benchmarks.bench_refresh --keep` left at `hours` after
    the simulator's start (the large org's load takes the better part of an hour): its
    warehouse copied, its org, events and sources files taken over."""
    if (folder / "bench_webhooks.json").exists():
        raise SystemExit(f"{folder} already holds a warehouse of this benchmark; --from-refresh needs a new folder")
    db = kept / "warehouse" / "sei.duckdb"
    if not db.exists():
        raise SystemExit(f"--from-refresh {kept}: no warehouse/sei.duckdb there (a folder `bench_refresh --keep` wrote)")
    shutil.copy(db, folder / "sei.duckdb")
    for part in ("org", "events"):
        shutil.copytree(kept / part, folder / part, dirs_exist_ok=True)
    (folder / "sources.yml").write_text((kept / "sources.yml").read_text().replace(str(kept.resolve()), str(folder)))
    (folder / "bench_webhooks.json").write_text(json.dumps({"size": size, "seed": seed, "hours": hours}))


def freshness(size: str = "small", events: int = 60, folder: Path | None = None, seed: int = 42,
              step_hours: float = 1.0, period_s: float = 5.0, sensor_interval_s: float = 10.0,
              timeout_s: float = 1800.0, quiet: bool = False) -> dict:
    """See the module's docstring. `folder` keeps the warehouse between runs (a later run
    continues the simulator's clock where the previous one stopped)."""
    import contextlib
    import datetime as dt
    import sqlite3

    import dagster as dg

    from webhooks.realtime import ReceiverProcess, apply_once, expectation, new_secret, visible
    folder = Path(folder or tempfile.mkdtemp(prefix=f"bench-fresh-{size}-")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    state_file = folder / "bench_webhooks.json"
    state = json.loads(state_file.read_text()) if state_file.exists() else None
    if state and (state["size"], state["seed"]) != (size, seed):
        raise SystemExit(f"{folder} holds the {state['size']} org (seed {state['seed']}); use another --warehouse")
    say = (lambda *_: None) if quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    secret, spool = new_secret(), folder / "webhooks.sqlite"
    log = folder / "bench_webhooks.log"
    setup: dict = {}
    receiver = ReceiverProcess(spool, secret, log=log)
    sim = _Simulator(size, seed, int(state["hours"]) if state else 0, receiver.url, secret)
    try:
        if state is None:
            say(f"loading the {size} org into {folder} (sei_refresh)...")
            with open(log, "a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                setup = _load(folder, size, seed, sim.url)
            state = {"size": size, "seed": seed, "hours": 0}
            state_file.write_text(json.dumps(state))
            say(f"loaded in {setup['load_s']} s")
        else:
            os.environ.update(_environment(folder, folder / "sources.yml"))
            # the sources file names the simulator's URL of the run that loaded it
            import re
            text = (folder / "sources.yml").read_text()
            (folder / "sources.yml").write_text(re.sub(r"http://127\.0\.0\.1:\d+", sim.url, text))
        os.environ["SEI_WEBHOOK_SPOOL"] = str(spool)
        with sqlite3.connect(spool) as con:
            first_seq = con.execute("select coalesce(max(seq), 0) from events").fetchone()[0]
        from core.publish import serving_path
        from orchestration.definitions import build_definitions
        with open(log, "a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            defs = build_definitions()
        instance = dg.DagsterInstance.ephemeral()
        serving = serving_path()

        stop = threading.Event()
        clock_done = threading.Event()
        lock = threading.Lock()
        pending: dict[str, object] = {}
        arrived: dict[str, tuple[object, float]] = {}
        hours = [0.0]
        polls = [0]   # the watcher's completed looks at the serving file

        def clock():
            try:
                while not stop.is_set() and len(pending) + len(arrived) < events:
                    sim.advance(step_hours)
                    hours[0] += step_hours
                    stop.wait(period_s)
            finally:
                clock_done.set()

        def watch():
            seen = first_seq
            while not stop.is_set():
                with sqlite3.connect(f"file:{spool}?mode=ro", uri=True) as con:
                    rows = con.execute("select seq, source, event, received_at, body from events where seq > ? "
                                       "order by seq", [seen]).fetchall()
                for seq, source, event, received_at, body in rows:
                    seen = seq
                    when = dt.datetime.fromisoformat(received_at).timestamp()
                    e = expectation(source, event, json.loads(body), when)
                    with lock:
                        if e is not None and e.key not in arrived and e.key not in pending:
                            pending[e.key] = e
                with lock:
                    todo = list(pending.values())
                now = time.time()
                for e in visible(serving, todo):
                    with lock:
                        arrived[e.key] = (e, now - e.sent_at)
                        pending.pop(e.key, None)
                polls[0] += 1
                stop.wait(0.2)

        threads = [threading.Thread(target=clock, daemon=True), threading.Thread(target=watch, daemon=True)]
        for t in threads:
            t.start()
        cursor, runs, deadline = None, [], time.monotonic() + timeout_s
        settled = 0  # runs finished after the clock stopped; two of them apply everything it sent
        say(f"advancing the clock {step_hours} h every {period_s} s; sensor every {sensor_interval_s} s")
        while time.monotonic() < deadline:
            tick = time.monotonic()
            with open(log, "a") as out, contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                cursor, result = apply_once(defs, instance, cursor)
            if result is not None:
                md = next((ev.event_specific_data.metadata for ev in result.all_events
                           if ev.event_type_value == "STEP_OUTPUT"), {})
                runs.append({"success": result.success, "seconds": round(time.monotonic() - tick, 1),
                             "events": md["events"].value if "events" in md else None,
                             "phases": md["seconds"].value if "seconds" in md else {}})
                say(f"sei_fresh: {runs[-1]}; {len(arrived)} visible, {len(pending)} waiting")
            if clock_done.is_set():
                settled += result is not None or settled > 0
                # the watcher's look at the serving file as this run left it: one look that
                # began after the run (a look at a large file with many changes pending takes
                # seconds; stopping before it would count seen changes as never visible)
                seen_polls, waited = polls[0], time.monotonic()
                while polls[0] < seen_polls + 2 and time.monotonic() - waited < 300:
                    time.sleep(0.2)
                if not pending or settled >= 2:
                    break
            stop.wait(max(0.0, sensor_interval_s - (time.monotonic() - tick)))
        stop.set()
        for t in threads:
            t.join(10)
    finally:
        stop_hours = hours[0] if "hours" in locals() else 0
        sim.stop()
        receiver.stop()
        if state is not None:
            state["hours"] = state.get("hours", 0) + stop_hours
            state_file.write_text(json.dumps(state))
    seconds = [s for _, s in arrived.values()]
    ok = [r for r in runs if r["success"]]
    phases = {k: round(statistics.mean(r["phases"].get(k, 0.0) for r in ok), 1)
              for k in ("merge", "dbt", "publish")} if ok else {}
    return {"size": size, "events": len(seconds), "not_visible": sorted(pending)[:20],
            "p50_s": round(_pct(seconds, 50), 1) if seconds else None,
            "p95_s": round(_pct(seconds, 95), 1) if seconds else None,
            "max_s": round(max(seconds), 1) if seconds else None,
            "simulated_hours": stop_hours, "step_hours": step_hours, "period_s": period_s,
            "sensor_interval_s": sensor_interval_s, "runs": len(runs), "failed_runs": len(runs) - len(ok),
            "run_s_mean": round(statistics.mean(r["seconds"] for r in ok), 1) if ok else None,
            "run_phases_mean_s": phases, "warehouse": str(folder), **setup}


def format_freshness(r: dict) -> str:
    return (f"freshness ({r['size']}): {r['events']} events, p50 {r['p50_s']} s, p95 {r['p95_s']} s, max {r['max_s']} s; "
            f"{r['runs']} sei_fresh runs ({r['failed_runs']} failed), {r['run_s_mean']} s each on average "
            f"({', '.join(f'{k} {v} s' for k, v in r['run_phases_mean_s'].items())}); clock +{r['step_hours']} h every "
            f"{r['period_s']} s, sensor every {r['sensor_interval_s']} s"
            + (f"; never visible: {r['not_visible']}" if r["not_visible"] else ""))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    rc = sub.add_parser("receiver")
    rc.add_argument("--requests", type=int, default=6000)
    rc.add_argument("--concurrency", type=int, default=16)
    rc.add_argument("--warmup", type=int, default=500)
    rc.add_argument("--repeat", type=int, default=1)
    rc.add_argument("--spool-dir", type=Path, help="folder of the spool (default: a new temporary folder); a tmpfs "
                                                   "folder separates the disk's fsync time from the rest")
    rc.add_argument("--source", type=Path, help="run the receiver of another checkout (A/B comparisons)")
    fr = sub.add_parser("freshness")
    fr.add_argument("--size", default="small", choices=("tiny", "small", "medium", "large"))
    fr.add_argument("--seed", type=int, default=42)
    fr.add_argument("--events", type=int, default=60, help="at least this many changes measured")
    fr.add_argument("--warehouse", type=Path, help="folder of the warehouse (kept; a later run continues there)")
    fr.add_argument("--step-hours", type=float, default=1.0)
    fr.add_argument("--period", type=float, default=5.0, help="real seconds between clock steps")
    fr.add_argument("--sensor-interval", type=float, default=10.0)
    fr.add_argument("--from-refresh", type=Path, metavar="DIR",
                    help="start --warehouse (a new folder) from the warehouse `bench_refresh --keep DIR` left, "
                         "with --refresh-hours")
    fr.add_argument("--refresh-hours", type=float, default=0.0,
                    help="hours after the simulator's start at which that warehouse stands (its full run is at "
                         "0; each --continue-after H run ends at H plus --hours times --repeat)")
    args = ap.parse_args()
    if args.what == "freshness" and args.from_refresh:
        if not args.warehouse:
            raise SystemExit("--from-refresh needs --warehouse naming a new folder")
        args.warehouse.mkdir(parents=True, exist_ok=True)
        adopt_refresh(args.from_refresh.resolve(), args.refresh_hours, args.warehouse.resolve(), args.size, args.seed)
    if args.what == "freshness":
        res = freshness(args.size, args.events, args.warehouse, args.seed, args.step_hours, args.period,
                        args.sensor_interval)
        print(format_freshness(res), flush=True)
        print(json.dumps(res))
    if args.what == "receiver":
        for _ in range(args.repeat):
            res = receiver(args.requests, args.concurrency, args.warmup, args.spool_dir, source=args.source)
            print(format_receiver(res), flush=True)
        print(json.dumps(res))


if __name__ == "__main__":
    main()
