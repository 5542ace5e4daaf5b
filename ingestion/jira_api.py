"""The Jira client: Cloud or Data Center, errors in Jira's words (which flavour or credential
to set), and the HTTP client with basic or bearer authentication.
"""
from __future__ import annotations

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from ingestion.config import Runtime
from ingestion.http import Api, AuthError, BearerToken, HttpStats, Integration


INTEGRATION = "jira"
CLOUD, DATA_CENTER = "cloud", "data_center"
FLAVORS = {"cloud": CLOUD, "data_center": DATA_CENTER, "datacenter": DATA_CENTER, "server": DATA_CENTER,
           "dc": DATA_CENTER}

CLOUD_HINT = ("set SOURCES__JIRA__EMAIL and SOURCES__JIRA__API_TOKEN (or email / api_token under [sources.jira] in "
              ".dlt/secrets.toml) to the Atlassian account's e-mail and an API token "
              "(https://id.atlassian.com/manage-profile/security/api-tokens); a scoped API token only works with "
              "base_url https://api.atlassian.com/ex/jira/<cloudId>")
DC_HINT = ("set SOURCES__JIRA__API_TOKEN (or api_token under [sources.jira] in .dlt/secrets.toml) to a personal "
           "access token of a Jira Data Center user who can browse the projects (Profile > Personal Access Tokens)")
DC_BASIC_HINT = ("set SOURCES__JIRA__EMAIL (the Jira user name) and SOURCES__JIRA__API_TOKEN (its password), or "
                 "drop `auth: basic` to use a personal access token")


# --------------------------------------------------------------------------- errors in Jira's words
def _said(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or resp.reason or "").strip()[:300]
    if isinstance(body, dict):
        msgs = list(body.get("errorMessages") or [])
        errs = body.get("errors")
        if isinstance(errs, dict):
            msgs += [f"{k}: {v}" for k, v in errs.items()]
        for k in ("message", "error", "detail"):
            if not msgs and body.get(k):
                msgs.append(str(body[k]))
        return "; ".join(map(str, msgs))[:500] or str(body)[:300]
    return str(body)[:300]


def error_messages(resp: requests.Response | None) -> list[str]:
    """Jira's `errorMessages` (plus `errors` values) of an error answer."""
    if resp is None:
        return []
    try:
        body = resp.json()
    except ValueError:
        return [resp.text.strip()[:300]] if resp.text else []
    if not isinstance(body, dict):
        return [str(body)[:300]]
    out = [str(m) for m in body.get("errorMessages") or []]
    if isinstance(body.get("errors"), dict):
        out += [f"{k}: {v}" for k, v in body["errors"].items()]
    return out


def make_integration(base_url: str, flavor: str, basic_on_dc: bool = False) -> Integration:
    hint = CLOUD_HINT if flavor == CLOUD else (DC_BASIC_HINT if basic_on_dc else DC_HINT)

    def describe(resp: requests.Response, endpoint: str) -> str | None:
        code, said = resp.status_code, _said(resp)
        if code == 401:
            return f"Jira credentials invalid: {hint} (Jira said: {said or 'unauthorized'})"
        if code == 403 and "connect session auth token" in said.lower():
            return (f"Jira at {base_url} refused the bearer token the way Jira Cloud does, but "
                    f"integrations.jira.flavor is data_center. What to do: set flavor: cloud and "
                    f"{CLOUD_HINT} (Jira said: {said})")
        if code == 403:
            return (f"Jira: {endpoint} is forbidden for this account (Jira said: {said}). What to do: give the "
                    f"account the Browse projects permission (and Jira Software access for boards and sprints).")
        if code == 410:
            return (f"Jira: {endpoint} answered 410 Gone: Atlassian removed it from Jira Cloud, so {base_url} is a "
                    f"Jira Cloud site but integrations.jira.flavor is data_center. What to do: set flavor: cloud "
                    f"(Cloud searches with /rest/api/3/search/jql) (Jira said: {said})")
        if code == 404 and flavor == CLOUD and "/rest/api/3/" in endpoint and (
                endpoint.endswith(("/myself", "/field", "/search/jql"))):
            return (f"Jira: {endpoint} not found: {base_url} does not serve Jira Cloud's REST API v3 (Jira Data "
                    f"Center and Server answer like this). What to do: set integrations.jira.flavor: data_center "
                    f"for a Data Center / Server base URL, or correct base_url (Jira said: {said})")
        if code == 404:
            return f"Jira: {endpoint} not found (Jira said: {said})."
        return None

    return Integration(INTEGRATION, "Jira", hint, describe)


class _MissingCredentials(AuthBase):
    """Fails the first request, not the source's construction (Dagster builds the assets
    from the source without secrets)."""

    def __init__(self, hint: str):
        self.hint = hint

    def __call__(self, r):
        raise AuthError(INTEGRATION, "-", f"Jira credentials missing: {self.hint}.")


def make_api(base_url: str, flavor: str, runtime: Runtime, stats: HttpStats, email: str | None = None,
             api_token: str | None = None, auth: str | None = None, max_in_flight: int | None = None) -> Api:
    """The Jira `Api`: basic auth (Cloud: e-mail + API token), or a Data Center personal
    access token as a bearer token (`auth="basic"` for Data Center user name + password).
    `max_in_flight`: requests in flight at most, across the source's threads (None: no limit)."""
    flavor = normalise_flavor(flavor)
    basic_on_dc = flavor == DATA_CENTER and (auth or "").lower() == "basic"
    api = Api(make_integration(base_url.rstrip("/"), flavor, basic_on_dc), base_url, runtime, stats,
              headers={"Accept": "application/json"}, max_in_flight=max_in_flight)
    if flavor == CLOUD or basic_on_dc:
        api.auth = HTTPBasicAuth(str(email), str(api_token)) if email and api_token else \
            _MissingCredentials(api.integration.credentials_hint)
    else:
        api.auth = BearerToken(str(api_token)) if api_token else _MissingCredentials(api.integration.credentials_hint)
    return api


def normalise_flavor(flavor: str | None) -> str:
    f = FLAVORS.get(str(flavor or CLOUD).strip().lower().replace("-", "_"))
    if f is None:
        raise ValueError(f"unknown Jira flavor {flavor!r}: use cloud or data_center")
    return f
