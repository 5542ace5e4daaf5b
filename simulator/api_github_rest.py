"""Placeholder: routes are being written."""
from __future__ import annotations

from simulator.server import Router


def register(r: Router) -> None:
    pass


def check_auth(req, headers, sim):
    from simulator.server import GITHUB_TOKEN, Response
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    if not auth:
        return Response.json(401, {"message": "Requires authentication",
                                   "documentation_url": "https://docs.github.com/rest", "status": "401"})
    if scheme.lower() not in ("bearer", "token") or token != GITHUB_TOKEN:
        return Response.json(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                   "status": "401"})
    req.token = token
    return None
