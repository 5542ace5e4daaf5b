"""The receiver: `sei webhooks serve` (Starlette on uvicorn).

POST /webhooks/github | /webhooks/jira | /webhooks/harness | /webhooks/events[/{project}]
GET  /webhooks/health (counters per source and outcome, the spool backlog)

For every delivery, in this order: JSON content type (else 415), body size (413), the
sender's signature or token (401 and a log line; a source without a configured secret
refuses everything), JSON (400), event type (202 and not stored when unused), then the spool
(committed and fsynced) and only then 200. A replayed delivery id is 200, stored once. Every
outcome is counted per source. The receiver never opens the warehouse.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from webhooks import settings, spool, verify
from webhooks.kinds import classify

log = logging.getLogger("sei.webhooks")


class TooLarge(Exception):
    pass


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():  # a sender may lie about Content-Length, or stream
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(spool_file=None, secrets: dict[str, str | None] | None = None,
               max_body: int | None = None) -> Starlette:
    """`secrets` {source: secret} overrides the dlt secrets (tests, the benchmark)."""
    path = spool_file or settings.spool_path()
    limit = max_body or settings.max_body_bytes()
    keys = {s: (secrets[s] if secrets and s in secrets else settings.secret(s)) for s in settings.SOURCES}
    state: dict = {}

    def writer() -> spool.GroupWriter:
        if "w" not in state:
            state["w"] = spool.GroupWriter(path)
        return state["w"]

    def refuse(source: str, outcome: str, status: int, message: str, peer: str, detail: str | None = None):
        writer().count(source, outcome)
        if outcome == "unauthorized":
            log.warning("webhook refused: %s from %s: %s", source, peer, detail or message)
        return JSONResponse({"status": outcome, "message": message}, status_code=status)

    async def receive(request: Request):
        source = request.path_params["source"]
        if source not in settings.SOURCES:
            return JSONResponse({"status": "not_found", "message": f"no endpoint {source!r}: use one of "
                                                                  f"{', '.join(settings.SOURCES)}"}, status_code=404)
        peer = request.client.host if request.client else "?"
        ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            return refuse(source, "unsupported_media_type", 415,
                          "send JSON (GitHub: set the webhook's Content type to application/json)", peer)
        try:
            body = await _body(request, limit)
        except TooLarge:
            return refuse(source, "too_large", 413, f"body over {limit} bytes (SEI_WEBHOOK_MAX_BODY_BYTES)", peer)
        secret = keys.get(source)
        if not secret:
            return refuse(source, "unauthorized", 401, "signature not accepted", peer,
                          f"no secret configured for {source}: set {settings.env_name(source)} (or "
                          f"{settings.SECRET_KEYS[source].split('.')[-1]} under [sources.{source}] in "
                          f".dlt/secrets.toml) to the secret the sender signs with")
        why = verify.check(source, secret, request.headers, body)
        if why:
            return refuse(source, "unauthorized", 401, "signature not accepted", peer, why)
        try:
            payload = json.loads(body)
        except ValueError as e:
            return refuse(source, "malformed", 400, f"not valid JSON ({e})", peer)
        kind = classify(source, request.headers, payload, body, request.path_params.get("project"))
        if kind.ping:
            writer().count(source, "ping")
            return JSONResponse({"status": "pong"})
        if not kind.used:
            writer().count(source, "ignored")
            return JSONResponse({"status": "ignored", "event": kind.event}, status_code=202)
        try:
            outcome = await asyncio.wrap_future(writer().submit(source, kind.event, kind.delivery_id, body, kind.scope))
        except Exception as e:  # noqa: BLE001 - not stored: the sender must retry
            log.error("spool %s: %s", path, e)
            return JSONResponse({"status": "unavailable", "message": "could not store the delivery; retry"},
                                status_code=503)
        return JSONResponse({"status": outcome, "event": kind.event}, status_code=200)

    async def health(request: Request):
        await asyncio.wrap_future(writer().flush())  # counts of every answered request are committed
        return JSONResponse(spool.status(path))

    @contextlib.asynccontextmanager
    async def lifespan(app):
        writer()  # opened at start: an unwritable spool stops the receiver before it answers anything
        yield
        if "w" in state:
            state.pop("w").close()  # drains the queue: every acknowledged row is committed already

    routes = [Route("/webhooks/health", health, methods=["GET"]),
              Route("/webhooks/{source}", receive, methods=["POST"]),
              Route("/webhooks/{source}/{project}", receive, methods=["POST"])]
    # The size limit is ours, not Starlette's `max_body_size`, so a 413 is counted per source.
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.spool_path = path
    return app


def serve(host: str = "127.0.0.1", port: int = 8766, spool_file=None, log_level: str = "info") -> None:
    import uvicorn
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    missing = [s for s in settings.SOURCES if not settings.secret(s)]
    for s in missing:
        log.warning("no webhook secret for %s: its endpoint refuses every delivery (401). Fix: set %s", s,
                    settings.env_name(s))
    app = create_app(spool_file)
    log.info("spooling to %s", app.state.spool_path)
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
