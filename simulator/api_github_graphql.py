"""GitHub's GraphQL API (`POST /graphql`, GHES `POST /api/graphql`).

`simulator.github_graphql_schema` parses, validates and prices each query on GitHub's own
schema; this module charges the points, answers GitHub's rate-limit errors and supplies the
data as plain dict nodes whose connections are callables that page by cursor. Each
repository's records are cut into lists once per clock position; nodes are made only for
the records a query reaches; and a rendered page is kept per clock position, so a crawler
that pages again through unchanged state costs a lookup.

Cursors carry the sort key and the record id (`cursor:v2:` + msgpack, base64, the way
GitHub's look), so a page boundary stays put when records are added or re-sorted.

This module is the endpoint and its page cache; the nodes are github_graphql_nodes.py, the
cursors and listings github_graphql_cursors.py.
"""
from __future__ import annotations

import json
import threading
from collections import OrderedDict

from graphql import FieldNode

from simulator.github_common import VIEWER_ID, charge, rate_headers, roots, window_state
from simulator.github_graphql_nodes import Ctx
from simulator.github_graphql_schema import execute, prepare
from simulator.http import Request, Response, Router
from simulator.world import iso


def register(r: Router) -> None:
    r.add("POST", r"/graphql", "github.graphql", handle)
    r.add("POST", r"/api/graphql", "github.graphql", handle)


# --------------------------------------------------------------------------- HTTP
def handle(req: Request, sim) -> Response:
    body = req.json()
    if not isinstance(body, dict):
        return Response.json(400, {"message": "Problems parsing JSON", "documentation_url": "https://docs.github.com/graphql"},
                             _headers(sim, req))
    variables = body.get("variables")
    if isinstance(variables, str):
        try:
            variables = json.loads(variables or "{}")
        except ValueError:
            variables = None
    prepared = prepare(body.get("query"), variables if isinstance(variables, dict) else None, body.get("operationName"))
    if prepared.errors:  # rejected before execution: GitHub charges nothing
        return Response.json(200, {"errors": prepared.errors}, _headers(sim, req))
    cost = 0 if prepared.dry_run else prepared.cost
    ok, used, remaining = charge(sim, "github.graphql", req.token, cost)
    if not ok:
        headers = rate_headers(sim, "github.graphql", "graphql", used, 0)
        return Response.json(200, {"errors": [{"type": "RATE_LIMITED",
                                               "message": f"API rate limit exceeded for user ID {VIEWER_ID}."}]}, headers)
    with sim.lock:
        sim.graphql_points += cost
    rate = {"limit": sim.windows["github.graphql"].limit, "cost": prepared.cost, "remaining": remaining,
            "used": used, "resetAt": iso(sim.window_reset("github.graphql")), "nodeCount": prepared.node_count}
    headers = {"Content-Type": "application/json; charset=utf-8",
               **rate_headers(sim, "github.graphql", "graphql", used, remaining)}
    if prepared.dry_run:
        return Response.json(200, execute(prepared, _dry_root(rate)), headers)
    ctx = Ctx(sim.world, roots(req, sim).web)
    return Response(200, _render(ctx, prepared, body, rate).encode(), headers)


PAGE_CACHE_BYTES = 256 << 20  # per clock position; a medium org's PR crawl is ~60 MB
_page_lock = threading.Lock()


def _render(ctx: "Ctx", prepared, body: dict, rate: dict) -> str:
    """The response text, from a cache of rendered pages per clock position: a crawler
    that pages again through the same state costs a lookup. `rateLimit` is the one part
    that changes between identical requests, so it is spliced in per request."""
    spots = _rate_spots(prepared.operation)
    key = (body.get("query"), json.dumps(prepared.variables, sort_keys=True), body.get("operationName"))
    pages = ctx.cached("gql.pages", _PageCache)
    with _page_lock:
        text = pages.get(key) if spots is not None else None
        if text is not None:
            pages.move_to_end(key)
    if text is None:
        result = execute(prepared, ctx.root(rate))
        if spots is None:
            return json.dumps(result, separators=(",", ":"))
        data = result.get("data")
        if isinstance(data, dict):
            result["data"] = {k: (_SENTINEL + k if k in spots else v) for k, v in data.items()}
        text = json.dumps(result, separators=(",", ":"))
        with _page_lock:
            pages.put(key, text)
    for k, fields in spots.items():
        value = {name: ("RateLimit" if field == "__typename" else rate[field]) for name, field in fields}
        text = text.replace(json.dumps(_SENTINEL + k), json.dumps(value, separators=(",", ":")), 1)
    return text


class _PageCache(OrderedDict):
    """Rendered pages, least recently used evicted first once over PAGE_CACHE_BYTES."""

    def __init__(self):
        super().__init__()
        self.size = 0

    def put(self, key, text: str) -> None:
        if key in self:
            self.size -= len(self.pop(key))
        self[key] = text
        self.size += len(text)
        while self.size > PAGE_CACHE_BYTES:
            self.size -= len(self.popitem(last=False)[1])


_SENTINEL = "\u0000rateLimit:"


def _rate_spots(operation) -> dict | None:
    """Top-level `rateLimit` response keys -> [(response key, field)], or None when the
    selection is not plain fields (then the page is not cached)."""
    spots = {}
    for sel in operation.selection_set.selections:
        if not isinstance(sel, FieldNode):
            return None
        if sel.name.value != "rateLimit":
            continue
        if sel.directives or any(not isinstance(f, FieldNode) or f.directives for f in sel.selection_set.selections):
            return None
        spots[(sel.alias or sel.name).value] = [((f.alias or f.name).value, f.name.value)
                                               for f in sel.selection_set.selections]
    return spots


def _headers(sim, req: Request) -> dict:
    used, remaining = window_state(sim, "github.graphql", req.token)
    return rate_headers(sim, "github.graphql", "graphql", used, remaining)


def _dry_root(rate: dict) -> dict:
    return {"rateLimit": lambda info, **_: rate}
