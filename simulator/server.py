"""HTTP server for the simulator: routing, authentication, rate limits, fault injection,
request counting and the `/_sim/*` control endpoints.

The standard library's threading HTTP server is enough here: the work per request is
CPU-bound Python (one core under the GIL either way), and it lets a fault close the
socket without an answer, which is what a dropped connection looks like to a client.
API shapes live in the `api_*` modules; each registers routes on a `Router`.
"""
from __future__ import annotations

import email.utils
import gc
import hashlib
import json
import re
import socket
import struct
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from simulator.faults import FaultSpec
from simulator.world import World, iso

# Credentials the simulator accepts (documented in the README's simulator section).
GITHUB_TOKEN = "ghp_simulator_token"
JIRA_EMAIL, JIRA_TOKEN = "sei@acme.example", "jira-simulator-token"
HARNESS_API_KEY = "pat.acmeAccount.SimToken01.simulatorsecret"
HARNESS_ACCOUNT = "acmeAccount"


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    api: str = ""
    token: str = ""
    params: dict[str, str] = field(default_factory=dict)  # named groups of the route pattern
    prefix: str = ""  # "/api/v3" when GitHub Enterprise Server's REST prefix was stripped

    def arg(self, name: str, default=None):
        v = self.query.get(name)
        return v[0] if v else default

    def json(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return None


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, obj, headers: dict | None = None) -> "Response":
        return cls(status, json.dumps(obj, separators=(",", ":")).encode(),
                   {"Content-Type": "application/json; charset=utf-8", **(headers or {})})


Handler = Callable[[Request, "SimServer"], Response]


class Router:
    def __init__(self):
        self.routes: list[tuple[str, re.Pattern, str, Handler]] = []

    def add(self, method: str, pattern: str, name: str, handler: Handler):
        self.routes.append((method, re.compile(pattern + r"\Z"), name, handler))

    def match(self, method: str, path: str):
        allowed = False
        for m, rx, name, h in self.routes:
            mt = rx.match(path)
            if mt:
                if m == method:
                    return name, h, mt.groupdict()
                allowed = True
        return ("method_not_allowed" if allowed else None), None, {}


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
        self.fault_counts: Counter = Counter()
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

    def window_reset(self, kind: str) -> int:
        w = self.windows[kind]
        idx = int(self.sim_elapsed() // w.seconds)
        return self.world.now + (idx + 1) * w.seconds

    def reset_stats(self) -> None:
        with self.lock:
            self.stats.clear()
            self.fault_counts.clear()
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
        resp = handler(req, self)
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
            return _too_many(req, self, int((until - time.monotonic()) / self.time_scale) + 1,
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
            return _too_many(req, self, 60 if kind == "secondary" else 5, secondary=kind == "secondary")
        return _server_error(req, int(kind))


def _canonical_query(q: dict[str, list[str]]) -> str:
    return "&".join(f"{k}={v}" for k in sorted(q) if not k.startswith("_") for v in q[k])


def _too_many(req: Request, sim: SimServer, retry_after: int, secondary: bool = False, repeat: bool = False) -> Response:
    """The throttling answer each service really gives: GitHub's secondary limit is a 403
    (or 429) with Retry-After; Jira's 429 has Retry-After; Harness's 429 has none."""
    if not repeat and req.api != "harness":
        with sim.lock:
            sim.blocked_until[(req.api, req.token)] = (time.monotonic() + retry_after * sim.time_scale, secondary)
    if req.api == "github":
        body = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                           "If you reach out to GitHub Support for help, please include the request ID ABCD:1234:5678.",
                "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                "status": "403" if secondary else "429"}
        return Response.json(403 if secondary else 429, body, {"Retry-After": str(retry_after)})
    if req.api == "jira":
        return Response.json(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                             {"Retry-After": str(retry_after), "X-RateLimit-Limit": "100",
                              "X-RateLimit-Remaining": "0", "RateLimit-Reason": "jira-burst-based"})
    if req.api == "harness":
        # Harness gives no Retry-After: clients must back off on their own.
        return Response.json(429, {"status": "ERROR", "code": "TOO_MANY_REQUESTS",
                                   "message": "Too many requests received, please try again later",
                                   "correlationId": "sim", "detailedMessage": None, "responseMessages": []})
    return Response.json(429, {"message": "Too Many Requests"}, {"Retry-After": str(retry_after)})


def _server_error(req: Request, status: int) -> Response:
    if req.api == "jira":
        return Response.json(status, {"errorMessages": ["Internal server error"], "errors": {}})
    if req.api == "harness":
        return Response.json(status, {"status": "ERROR", "code": "UNEXPECTED", "message": "Oops, something went wrong on our end."})
    if req.api == "github" and status in (502, 503):
        return Response(status, b"<html><body><h1>Server Error</h1></body></html>", {"Content-Type": "text/html"})
    return Response.json(status, {"message": "Server Error"})


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
