"""Knobs of the webhook receiver (every one is listed in docs/realtime.md).

Secrets come the dlt way, like the API credentials: `.dlt/secrets.toml` (`[sources.github]
webhook_secret = "..."`) or the environment (`SOURCES__GITHUB__WEBHOOK_SECRET`)."""
from __future__ import annotations

import os
from pathlib import Path

SOURCES = ("github", "jira", "harness", "events")

# The secret of each source: (dlt key, what the sender calls it)
SECRET_KEYS = {
    "github": "sources.github.webhook_secret",    # GitHub: the webhook's "Secret" (X-Hub-Signature-256)
    "jira": "sources.jira.webhook_secret",        # Jira Cloud admin webhook "Secret" (X-Hub-Signature)
    "harness": "sources.harness.webhook_token",   # Harness notification webhook: a header we ask it to send
    "events": "sources.events.webhook_secret",    # other tools: HMAC like GitHub's, or a bearer token
}

DEFAULT_MAX_BODY_BYTES = 1_048_576  # GitHub caps payloads at 25 MB but drops larger ones; ours are a few kB


def secret(source: str) -> str | None:
    from ingestion.config import _secret
    v = _secret(SECRET_KEYS[source])
    return str(v) if v else None


def env_name(source: str) -> str:
    return SECRET_KEYS[source].upper().replace(".", "__")


def spool_path() -> Path:
    """The spool (`SEI_WEBHOOK_SPOOL`, default `webhooks.sqlite` beside the warehouse): a
    SQLite file of its own, never the DuckDB warehouse (one writer, which a run may hold)."""
    env = os.environ.get("SEI_WEBHOOK_SPOOL")
    if env:
        return Path(env)
    from core.settings import warehouse_path
    return warehouse_path().parent / "webhooks.sqlite"


def max_body_bytes() -> int:
    """Largest body accepted (`SEI_WEBHOOK_MAX_BODY_BYTES`, default 1 MiB); larger is 413."""
    v = os.environ.get("SEI_WEBHOOK_MAX_BODY_BYTES", "").strip()
    try:
        return int(v) if v else DEFAULT_MAX_BODY_BYTES
    except ValueError:
        raise ValueError(f"SEI_WEBHOOK_MAX_BODY_BYTES={v!r} is not a number of bytes. Fix: set it to e.g. "
                         f"1048576, or unset it.") from None


def batch_max_events() -> int:
    """Most spooled events one `sei_fresh` run applies (`SEI_FRESH_BATCH_MAX`, default 5000)."""
    return int(os.environ.get("SEI_FRESH_BATCH_MAX", "5000"))


def sensor_interval_s() -> int:
    """How often the spool sensor looks for new events (`SEI_FRESH_SENSOR_INTERVAL_S`, default 10)."""
    return int(os.environ.get("SEI_FRESH_SENSOR_INTERVAL_S", "10"))
