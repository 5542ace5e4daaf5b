"""The GitHub client: errors in GitHub's words (which permission an endpoint needs), GitHub App
authentication, the HTTP client with its token or App credentials, and the GraphQL call with
GitHub's transient-error retries.
"""
from __future__ import annotations

import base64
import datetime as dt
import json
import re
import time

import requests
from requests.auth import AuthBase

from ingestion.config import Runtime
from ingestion.http import (Api, ApiError, AuthError, BearerToken, HttpStats, Integration, NotFound, PermissionDenied,
                            _server_now, response_json)


INTEGRATION = "github"


TOKEN_HINT = ("set SOURCES__GITHUB__ACCESS_TOKEN (or access_token under [sources.github] in .dlt/secrets.toml) "
              "to a valid token that can read the repositories, or configure a GitHub App "
              "(SOURCES__GITHUB__APP_ID, SOURCES__GITHUB__PRIVATE_KEY, SOURCES__GITHUB__INSTALLATION_ID)")

# The permission each endpoint needs: fine-grained tokens / GitHub Apps, then classic tokens.
PERMISSIONS = [
    ("/graphql", "pull_requests: read and contents: read (classic token: repo)"),
    ("/actions/", "actions: read (classic token: repo)"),
    ("/deployments", "deployments: read (classic token: repo or repo_deployment)"),
    ("/releases", "contents: read (classic token: repo)"),
    ("/commits", "contents: read (classic token: repo)"),
    ("/orgs/", "metadata: read and organization members: read (classic token: read:org)"),
    ("/app/installations", "a GitHub App private key of that app (the installation id must belong to it)"),
]


# --------------------------------------------------------------------------- errors in GitHub's words
def _repo_in(endpoint: str) -> str | None:
    m = re.search(r"/repos/([^/]+/[^/]+)", endpoint)
    return m.group(1) if m else None


def describe_error(resp: requests.Response, endpoint: str) -> str | None:
    try:
        said = resp.json().get("message", "")
    except (ValueError, AttributeError):
        said = resp.text[:200]
    code = resp.status_code
    if code == 401:
        return f"GitHub token invalid: {TOKEN_HINT} (GitHub said: {said or 'Bad credentials'})"
    if code == 403:
        need = resp.headers.get("X-Accepted-GitHub-Permissions")
        need = need.replace("=", ": ") if need else next((p for frag, p in PERMISSIONS if frag in endpoint),
                                                          "read access to it")
        has = resp.headers.get("X-OAuth-Scopes")
        scopes = f"; the token's scopes are: {has}" if has is not None else ""
        return (f"GitHub: {endpoint} is forbidden: the token lacks the permission {need}{scopes} "
                f"(GitHub said: {said}). What to do: grant that permission to the token or the GitHub App "
                f"installation, or remove the resource from the run.")
    if code == 404:
        repo = _repo_in(endpoint)
        if repo:
            return (f"GitHub repository {repo} not found, or the token cannot see it ({endpoint}). What to do: check "
                    f"the name in the sources file, and that the token or GitHub App installation has access to it.")
        return f"GitHub: {endpoint} not found (GitHub said: {said})."
    return None


GITHUB = Integration("github", "GitHub", TOKEN_HINT, describe_error)


# --------------------------------------------------------------------------- GitHub App auth
def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def app_jwt(app_id: str, private_key_pem: str, now: float | None = None) -> str:
    """The RS256 JWT a GitHub App signs to ask for installation tokens (valid 9 minutes,
    issued 60 s in the past to allow for clock drift, as GitHub recommends)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(now if now is not None else time.time())
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps({"iat": now - 60, "exp": now + 540, "iss": str(app_id)}, separators=(",", ":")).encode())
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    sig = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(sig)}"


class GitHubAppAuth(AuthBase):
    """Installation-token auth: POST /app/installations/{id}/access_tokens with the app's
    JWT, cache the token, renew it 5 minutes before it expires (tokens last an hour)."""

    def __init__(self, api_base: str, app_id: str, private_key: str, installation_id: str, api: Api):
        self.api_base, self.app_id, self.private_key, self.installation_id, self.api = \
            api_base.rstrip("/"), app_id, private_key, installation_id, api
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        if self._token is None or time.time() > self._expires - 300:
            url = f"{self.api_base}/app/installations/{self.installation_id}/access_tokens"
            resp = self.api.client("github_app_token").session.post(
                url, headers={"Authorization": f"Bearer {app_jwt(self.app_id, self.private_key)}"})
            body = resp.json()
            self._token = body["token"]
            try:
                # Lifetime measured on the server's clock (its Date header), so a skewed local
                # clock neither renews on every request nor uses an expired token.
                expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp()
                self._expires = time.time() + (expires - _server_now(resp))
            except (KeyError, ValueError):
                self._expires = time.time() + 3000
        return self._token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r


def make_api(base_url: str, runtime: Runtime, stats: HttpStats, access_token: str | None = None,
             app: dict | None = None, max_in_flight: int | None = None) -> Api:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    api = Api(GITHUB, base_url, runtime, stats, headers=headers, max_in_flight=max_in_flight)
    if app and app.get("app_id") and app.get("private_key") and app.get("installation_id"):
        api.auth = GitHubAppAuth(base_url, str(app["app_id"]), app["private_key"], str(app["installation_id"]), api)
    elif access_token:
        api.auth = BearerToken(access_token)
    else:
        api.auth = _MissingCredentials()
    return api


class _MissingCredentials(AuthBase):
    """Fails the first request, not the source's construction (Dagster builds the assets
    from the source without secrets)."""

    def __call__(self, r):
        raise AuthError(INTEGRATION, "-", f"GitHub credentials missing: {TOKEN_HINT}.")


# --------------------------------------------------------------------------- GraphQL
TRANSIENT_GRAPHQL = ("something went wrong", "timeout", "timedout", "try again")


def graphql(api: Api, url: str, resource: str, query: str, variables: dict, repo: str | None = None,
            partial: bool = False) -> dict:
    """POST a query; HTTP-level retries are the client's. GitHub also answers 200 with an
    error when a query timed out on its side ("Something went wrong while executing your
    query..."): such answers are retried here with the same backoff, a few times.
    `partial`: an answer with data whose errors are all NOT_FOUND (a `nodes(ids:)` entry
    deleted meanwhile) returns the data, with null where a node was not found."""
    for attempt in range(1, 4):
        resp = api.request(resource, "POST", url, json={"query": query, "variables": variables})
        try:
            body = response_json(resp)
        except ValueError:
            raise ApiError(INTEGRATION, "POST /graphql", f"GitHub GraphQL answered something that is not JSON: "
                           f"{resp.text[:200]!r}", resp.status_code, resp) from None
        errors = body.get("errors") or []
        transient = errors and body.get("data") is None and all(
            not e.get("type") and any(t in str(e.get("message", "")).lower() for t in TRANSIENT_GRAPHQL)
            for e in errors)
        if not transient or attempt == 3:
            break
        secs = api.runtime.backoff_seconds * 2 ** attempt * api.runtime.wait_scale
        time.sleep(secs)

        def upd(c, secs=secs):
            c.retries += 1
            c.wait_seconds += secs
        api.stats.update(INTEGRATION, resource, upd)
    data = body.get("data")
    if errors and partial and data is not None and all(e.get("type") == "NOT_FOUND" for e in errors):
        return data
    if errors:
        types = {e.get("type") for e in errors}
        msg = "; ".join(str(e.get("message")) for e in errors)[:500]
        if "NOT_FOUND" in types and repo:
            raise NotFound(INTEGRATION, "POST /graphql",
                           f"GitHub repository {repo} not found, or the token cannot see it (GitHub said: {msg}). "
                           f"What to do: check the name in the sources file, and that the token or GitHub App "
                           f"installation has access to it.", 200, resp)
        if types & {"FORBIDDEN", "INSUFFICIENT_SCOPES"}:
            raise PermissionDenied(INTEGRATION, "POST /graphql",
                                   f"GitHub GraphQL: the token lacks a permission for {repo or 'this query'}: {msg}. "
                                   f"What to do: grant pull_requests: read and contents: read (classic token: repo).",
                                   200, resp)
        raise ApiError(INTEGRATION, "POST /graphql", f"GitHub GraphQL error for {repo or 'a query'}: {msg}", 200, resp)
    if data is None:
        raise ApiError(INTEGRATION, "POST /graphql", f"GitHub GraphQL answered without data: {str(body)[:300]}", 200, resp)
    return data
