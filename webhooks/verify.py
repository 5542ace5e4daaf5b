"""Is a delivery authentic? One check per sender, each a constant-time compare
(`hmac.compare_digest`) against the configured secret.

- GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body>`.
- Jira Cloud (admin webhooks registered with a secret) signs the same way, WebSub style, in
  `X-Hub-Signature: sha256=<hex>`.
- Harness notification webhooks cannot sign; they send the custom headers you configure on
  the channel: `X-Harness-Webhook-Token: <token>` (or `Authorization: Bearer <token>`).
- Other tools (events): GitHub's scheme in `X-Hub-Signature-256`, or `Authorization: Bearer`.

Hand-written because it is four lines per sender and no locked library does it.
"""
from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADERS = {"github": "x-hub-signature-256", "jira": "x-hub-signature", "events": "x-hub-signature-256"}
TOKEN_HEADER = "x-harness-webhook-token"


def sign(secret: str, body: bytes) -> str:
    """The `sha256=<hex>` value GitHub and Jira put in their signature header."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _bearer(headers) -> str | None:
    auth = headers.get("authorization") or ""
    return auth[7:].strip() if auth[:7].lower() == "bearer " else None


def check(source: str, secret: str, headers, body: bytes) -> str | None:
    """None when authentic, else why not (for the log line; never sent back)."""
    if source in SIGNATURE_HEADERS:
        given = headers.get(SIGNATURE_HEADERS[source])
        if given:
            return None if hmac.compare_digest(given.strip().encode(), sign(secret, body).encode()) else \
                f"{SIGNATURE_HEADERS[source]} does not match the body signed with the configured secret"
        if source == "events" and _bearer(headers) is not None:
            return None if hmac.compare_digest(_bearer(headers).encode(), secret.encode()) else "wrong bearer token"
        return f"no {SIGNATURE_HEADERS[source]} header"
    token = headers.get(TOKEN_HEADER) or _bearer(headers)
    if token is None:
        return f"no {TOKEN_HEADER} (or Authorization: Bearer) header"
    return None if hmac.compare_digest(token.strip().encode(), secret.encode()) else "wrong token"
