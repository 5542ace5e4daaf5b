"""Webhook benchmarks (issue 16): the receiver's rate and latency, and freshness.

    python -m benchmarks.bench_webhooks receiver [--requests 6000] [--concurrency 16]
    python -m benchmarks.bench_webhooks freshness [--size small] [--events 60] [--warehouse DIR]
    python -m benchmarks.run webhooks [--webhook-sizes small,medium]

**Receiver.** `sei webhooks serve` runs as its own process pinned to one core (CPU 0); the
load generator runs in this process on the other core(s): `--concurrency` keep-alive
connections, each sending its next signed GitHub `pull_request` delivery (a distinct
delivery id, ~1.3 kB, the simulator's payload shape) as soon as the previous one is
answered. Latency is measured per request, from the first byte written to the last byte of
the answer read; the first `--warmup` requests are not counted. Every answer must be
`200 accepted`, and the spool must hold every delivery afterwards. Target: >= 500 accepted/s
with p99 <= 50 ms.

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

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-webhook-secret"
SECRET_ENV = {"SOURCES__GITHUB__WEBHOOK_SECRET": SECRET, "SOURCES__JIRA__WEBHOOK_SECRET": SECRET,
              "SOURCES__HARNESS__WEBHOOK_TOKEN": SECRET, "SOURCES__EVENTS__WEBHOOK_SECRET": SECRET}


def _pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))]


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ReceiverProcess:
    """The receiver (`sei webhooks serve`) in its own process (optionally pinned to a set of CPUs)."""

    def __init__(self, spool: Path, cpus: set[int] | None = None, env: dict | None = None, source: Path | None = None):
        import httpx
        self.port = _free_port()
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
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the receiver did not start")
            time.sleep(0.1)

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
    accepted = st.get((200, "accepted"), 0)
    ms = [x * 1000 for x in lat]
    return {"requests": requests, "concurrency": concurrency, "accepted": accepted, "stored": stored,
            "other_answers": {f"{k[0]} {k[1]}": v for k, v in st.items() if k != (200, "accepted")},
            "seconds": round(seconds, 2), "accepted_per_s": round(accepted / seconds, 1),
            "receiver_cpu_s": round(cpu, 2), "accepted_per_cpu_s": round(accepted / cpu, 1) if cpu else None,
            "load_average_1m": round(load, 2),
            "p50_ms": round(_pct(ms, 50), 1), "p95_ms": round(_pct(ms, 95), 1), "p99_ms": round(_pct(ms, 99), 1),
            "max_ms": round(max(ms), 1), "body_bytes": len(timed[0].split(b"\r\n\r\n", 1)[1])}


def format_receiver(r: dict) -> str:
    return (f"receiver: {r['accepted']}/{r['requests']} accepted in {r['seconds']} s = {r['accepted_per_s']}/s at "
            f"concurrency {r['concurrency']}; latency p50 {r['p50_ms']} ms, p95 {r['p95_ms']} ms, p99 {r['p99_ms']} "
            f"ms, max {r['max_ms']} ms; receiver CPU {r['receiver_cpu_s']} s ({r['accepted_per_cpu_s']} accepted per "
            f"CPU-second); load average {r['load_average_1m']}; spool holds {r['stored']}"
            + (f"; other answers {r['other_answers']}" if r["other_answers"] else ""))


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
    args = ap.parse_args()
    if args.what == "receiver":
        for _ in range(args.repeat):
            res = receiver(args.requests, args.concurrency, args.warmup, args.spool_dir, source=args.source)
            print(format_receiver(res), flush=True)
        print(json.dumps(res))


if __name__ == "__main__":
    main()
