"""The HTTP primitives the simulated APIs are written with: the request and response a
handler sees, the router each `api_*` module registers its routes on, the throttling and
server-error answers each service really gives, and the credentials each API accepts.

The server (server.py) imports the API modules to build its routes, so these live apart
from it: an API module needs them, never the server.
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Callable

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


Handler = Callable[[Request, Any], Response]  # (request, the SimServer answering it)


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


def too_many(req: Request, sim, retry_after: int, secondary: bool = False, repeat: bool = False) -> Response:
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


def server_error(req: Request, status: int) -> Response:
    if req.api == "jira":
        return Response.json(status, {"errorMessages": ["Internal server error"], "errors": {}})
    if req.api == "harness":
        return Response.json(status, {"status": "ERROR", "code": "UNEXPECTED", "message": "Oops, something went wrong on our end."})
    if req.api == "github" and status in (502, 503):
        return Response(status, b"<html><body><h1>Server Error</h1></body></html>", {"Content-Type": "text/html"})
    return Response.json(status, {"message": "Server Error"})
