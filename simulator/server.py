"""HTTP server for the simulator: dispatch, authentication, rate limits, fault injection,
request counting and the `/_sim/*` control endpoints.

The standard library's threading HTTP server is enough here: the work per request is
CPU-bound Python (one core under the GIL either way), and it lets a fault close the
socket without an answer, which is what a dropped connection looks like to a client.
API shapes live in the `api_*` modules; each registers routes on a `Router` (http.py).
"""
from __future__ import annotations

import email.utils
import gc
import hashlib
import re
import socket
import struct
import threading
import time
from collections import Counter, defaultdict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from simulator.faults import FaultSpec
from simulator.http import Request, Response, Router, server_error, too_many
from simulator.world import World, iso


class RateWindow:
    """A fixed window of `limit` units per `seconds` of simulated time, per (api, token)."""

    def __init__(self, limit: int, seconds: int):
        self.limit, self.seconds = limit, seconds
        self.used: dict[tuple, tuple[int, int]] = {}

    def state(self, key, sim_elapsed: float) -> tuple[int, int, int]:
        """(window index, used, remaining) for the window containing sim_elapsed."""
        idx = int(sim_elapsed // self.seconds)
        w, used = self.used.get(key, (idx, 0))
        if w != idx:
            used = 0
        return idx, used, self.limit - used

    def charge(self, key, sim_elapsed: float, units: int) -> None:
        idx, used, _ = self.state(key, sim_elapsed)
        self.used[key] = (idx, used + units)


class SimServer:
    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0, faults: str | FaultSpec = "",
                 time_scale: float = 1.0, github_points_per_hour: int = 5000, github_rest_per_hour: int = 5000,
                 jira_per_minute: int = 6000, harness_per_minute: int = 6000, slow_seconds: float = 0.25,
                 data_center: bool = False, quiet: bool = True, github_app: dict | None = None):
        self.world = world
        self.faults = faults if isinstance(faults, FaultSpec) else FaultSpec.parse(faults)
        self.time_scale = time_scale
        self.slow_seconds = slow_seconds
        self.data_center = data_center
        # {"app_id", "installation_id", "public_key_pem"}: a GitHub App the simulator trusts
        self.github_app = github_app
        self.github_installation_tokens: set[str] = set()
        self.jira_changelog_embed_limit = 40  # Jira Cloud's search/jql embeds at most 40 histories
        self.quiet = quiet
        self.windows = {
            "github.graphql": RateWindow(github_points_per_hour, 3600),
            "github.rest": RateWindow(github_rest_per_hour, 3600),
            "jira": RateWindow(jira_per_minute, 60),
            "harness": RateWindow(harness_per_minute, 60),
        }
        self.blocked_until: dict[tuple, float] = {}
        self.attempts: Counter = Counter()
        self.stats: dict[str, Counter] = defaultdict(Counter)
        self.handler_cpu: Counter = Counter()  # endpoint -> CPU seconds in its handler (this thread's)
        self.fault_counts: Counter = Counter()
        # (endpoint, method, path, query) of the latest API requests, oldest first: tests
        # assert on which resources a run asked for (the boards whose sprints were listed, the
        # repositories whose deployments were; `/_sim/requests` counts them by path)
        self.request_log: deque = deque(maxlen=50_000)
        self.graphql_points = 0
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.router = Router()
        from simulator import api_control, api_github_app, api_github_graphql, api_github_rest, api_harness, api_jira
        for mod in (api_control, api_github_app, api_github_graphql, api_github_rest, api_jira, api_harness):
            mod.register(self.router)
        from simulator.github_graphql_schema import get_schema
        get_schema()  # ~1 s: pay it at start, not on the first GraphQL request
        gc.set_threshold(50_000, 20, 20)  # a GraphQL page allocates ~50k short-lived objects
        # The generated world lives as long as the server: keep the collector from walking it
        # again on every full collection (a large org's world is millions of objects).
        gc.collect()
        gc.freeze()
        self.httpd = _HTTPServer((host, port), _Handler)
        self.httpd.sim = self
        self.thread: threading.Thread | None = None

    # ---- lifecycle
    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.httpd.server_address[0]}:{self.port}"

    def start(self) -> "SimServer":
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        if self.thread is not None:
            self.httpd.shutdown()
            self.thread = None
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- simulated time for rate limits: the frozen data clock plus scaled elapsed time
    def sim_elapsed(self) -> float:
        return (time.monotonic() - self.started) / self.time_scale

    def sim_epoch(self) -> int:
        return self.world.now + int(self.sim_elapsed())

    def set_time_scale(self, time_scale: float) -> None:
        """Change the clock's speed from now on without a jump: the simulated time elapsed so
        far (and with it the rate-limit windows and the Date header) carries on from where it
        is. A benchmark loads an org with a fast clock, then measures hourly runs on a real-time
        one, so a run sees the hour that passed between two runs, not days."""
        elapsed = self.sim_elapsed()
        self.time_scale = time_scale
        self.started = time.monotonic() - elapsed * time_scale

    def window_reset(self, kind: str) -> int:
        w = self.windows[kind]
        idx = int(self.sim_elapsed() // w.seconds)
        return self.world.now + (idx + 1) * w.seconds

    def reset_stats(self) -> None:
        with self.lock:
            self.stats.clear()
            self.handler_cpu.clear()
            self.fault_counts.clear()
            self.request_log.clear()
            self.graphql_points = 0
            self.attempts.clear()
            self.blocked_until.clear()
            for w in self.windows.values():
                w.used.clear()

    # ---- dispatch
    def handle(self, req: Request) -> Response | None:
        name, handler, params = self.router.match(req.method, req.path)
        if name is None or name == "method_not_allowed":
            status = 404 if name is None else 405
            self._count("unknown" if name is None else "method_not_allowed", status)
            return Response.json(status, {"message": "Not Found" if status == 404 else "Method Not Allowed"})
        req.api = name.split(".")[0]
        if req.api != "sim":
            self.request_log.append((name, req.method, req.path, {k: v[0] for k, v in req.query.items() if v}))
            denied = _auth(req, self)
            if denied is not None:
                self._count(name, denied.status)
                return denied
            fault = self._fault(req, name)
            if fault == "reset":
                self._count(name, "reset")
                return None
            if isinstance(fault, Response):
                self._count(name, fault.status)
                return fault
        req.params = params
        t = time.thread_time()
        resp = handler(req, self)
        cpu = time.thread_time() - t
        with self.lock:
            self.handler_cpu[name] += cpu
        self._count(name, resp.status)
        return resp

    def _count(self, name: str, status) -> None:
        with self.lock:
            self.stats[name][str(status)] += 1

    def _fault(self, req: Request, name: str):
        key = (req.api, req.token)
        with self.lock:
            until, secondary = self.blocked_until.get(key, (0.0, False))
        if time.monotonic() < until:
            # Retried before the Retry-After we gave has passed: the limit still holds.
            return too_many(req, self, int((until - time.monotonic()) / self.time_scale) + 1,
                             secondary=secondary, repeat=True)
        digest = hashlib.sha256(b"\0".join([req.method.encode(), req.path.encode(),
                                            _canonical_query(req.query).encode(), req.body])).digest()
        with self.lock:
            attempt = self.attempts[digest]
            self.attempts[digest] += 1
        kind = self.faults.pick(req.api, digest, attempt)
        if kind is None:
            return None
        with self.lock:
            self.fault_counts[kind] += 1
        if kind == "slow":
            time.sleep(self.slow_seconds)
            return None
        if kind == "reset":
            return "reset"
        if kind in ("429", "secondary"):
            return too_many(req, self, 60 if kind == "secondary" else 5, secondary=kind == "secondary")
        return server_error(req, int(kind))


def _canonical_query(q: dict[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k in sorted(q) if not k.startswith("_") for v in q[k])


def _auth(req: Request, sim: SimServer) -> Response | None:
    h = {k.lower(): v for k, v in req.headers.items()}
    if req.api == "github":
        from simulator.api_github_rest import check_auth
        return check_auth(req, h, sim)
    if req.api == "jira":
        from simulator.api_jira import check_auth
        return check_auth(req, h, sim)
    if req.api == "harness":
        from simulator.api_harness import check_auth
        return check_auth(req, h, sim)
    return None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "sei-simulator/1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *args):  # noqa: D401 - quiet unless asked
        if not self.server.sim.quiet:
            super().log_message(fmt, *args)

    def date_time_string(self, timestamp=None):
        # The simulated clock, so clients that compute waits from Date and reset headers agree.
        return email.utils.formatdate(self.server.sim.sim_epoch(), usegmt=True)

    def _serve(self):
        sim: SimServer = self.server.sim
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = parts.path
        prefix = ""
        if path.startswith("/api/v3/"):  # GitHub Enterprise Server's REST prefix
            path, prefix = path[len("/api/v3"):], "/api/v3"
        req = Request(self.command, path, parse_qs(parts.query, keep_blank_values=True), dict(self.headers.items()), body,
                      prefix=prefix)
        try:
            resp = sim.handle(req)
        except Exception as e:  # a simulator bug must not look like a network fault
            resp = Response.json(500, {"message": f"simulator error: {type(e).__name__}: {e}"})
            if not sim.quiet:
                raise
        if resp is None:  # injected connection reset: RST without an answer
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            return
        self.send_response(resp.status)
        for k, v in resp.headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(resp.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve


def iso_now(sim: SimServer) -> str:
    return iso(sim.sim_epoch())
