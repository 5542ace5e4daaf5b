"""GitHub App authentication: `POST /app/installations/{id}/access_tokens` with the app's
RS256 JWT answers an installation token (`ghs_...`, one hour) that the other GitHub
endpoints then accept like a personal token.

The simulator checks what GitHub checks that does not depend on wall-clock agreement: the
signature against the app's public key, `alg` RS256, `iss` = the app id, a lifetime
(`exp - iat`) of at most 10 minutes, and the installation id. It does not compare `iat`
with its own clock, because that clock is frozen in simulated time.
"""
from __future__ import annotations

import base64
import hashlib
import json

from simulator.http import Request, Response, Router
from simulator.world import iso

DOCS = "https://docs.github.com/rest/apps/apps#create-an-installation-access-token-for-an-app"


def register(r: Router) -> None:
    r.add("POST", r"/app/installations/(?P<installation>\d+)/access_tokens", "github.app.access_tokens", access_tokens)


def _b64d(s: str) -> bytes:
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def verify_jwt(token: str, app: dict) -> str | None:
    """None when the JWT is acceptable, else GitHub's complaint."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    try:
        h, p, s = token.split(".")
        header, payload = json.loads(_b64d(h)), json.loads(_b64d(p))
    except ValueError:
        return "A JSON web token could not be decoded"
    if header.get("alg") != "RS256":
        return "'alg' must be RS256"
    key = serialization.load_pem_public_key(app["public_key_pem"].encode())
    try:
        key.verify(_b64d(s), f"{h}.{p}".encode(), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return "A JSON web token could not be decoded"
    if str(payload.get("iss")) != str(app["app_id"]):
        return "'Issuer' claim ('iss') must be an Integer"
    iat, exp = payload.get("iat"), payload.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or not 0 < exp - iat <= 600:
        return "'Expiration time' claim ('exp') is too far in the future"
    return None


def access_tokens(req: Request, sim) -> Response:
    app = sim.github_app
    scheme, _, jwt = req.headers.get("Authorization", req.headers.get("authorization", "")).partition(" ")
    if app is None or scheme.lower() != "bearer":
        return Response.json(401, {"message": "A JSON web token could not be decoded", "documentation_url": DOCS,
                                   "status": "401"})
    problem = verify_jwt(jwt, app)
    if problem:
        return Response.json(401, {"message": problem, "documentation_url": DOCS, "status": "401"})
    if req.params["installation"] != str(app["installation_id"]):
        return Response.json(404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"})
    with sim.lock:
        n = len(sim.github_installation_tokens)
        token = "ghs_" + hashlib.sha256(f"{app['app_id']}:{n}:{sim.world.seed}".encode()).hexdigest()[:36]
        sim.github_installation_tokens.add(token)
    return Response.json(201, {"token": token, "expires_at": iso(sim.sim_epoch() + 3600),
                               "permissions": {"contents": "read", "pull_requests": "read", "deployments": "read",
                                               "actions": "read", "metadata": "read"},
                               "repository_selection": "all"})
