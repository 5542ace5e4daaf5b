"""A connection test per integration: one call with the configured URL and credentials,
saying what is wrong (`sei doctor --check-credentials`)."""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path


@dataclasses.dataclass
class CredentialCheck:
    integration: str
    ok: bool
    detail: str


def _quick_runtime(cfg):
    # One attempt, short timeout: a credentials test must answer in seconds, not back off.
    return dataclasses.replace(cfg.runtime, max_attempts=1, request_timeout=15.0)


def _github(cfg, stats) -> str:
    from ingestion import config as cfgmod
    from ingestion.github_api import make_api
    creds = cfgmod.github_credentials()
    api = make_api(cfg.github().base_url, _quick_runtime(cfg), stats, creds.access_token,
                   {"app_id": creds.app_id, "private_key": creds.private_key, "installation_id": creds.installation_id})
    r = api.request("doctor", "GET", "rate_limit")
    core = (r.json().get("resources") or {}).get("core") or {}
    return (f"{'GitHub App' if creds.is_app else 'token'} accepted by {cfg.github().base_url}; "
            f"REST rate limit {core.get('remaining', '?')}/{core.get('limit', '?')} left")


def _jira(cfg, stats) -> str:
    from ingestion import config as cfgmod
    from ingestion.jira_api import CLOUD, make_api, normalise_flavor
    j = cfg.integrations["jira"]
    flavor = normalise_flavor(j.options.get("flavor"))
    api = make_api(j.base_url, flavor, _quick_runtime(cfg), stats, email=cfgmod._secret("sources.jira.email"),
                   api_token=cfgmod._secret("sources.jira.api_token"), auth=j.options.get("auth"))
    me = api.request("doctor", "GET", f"rest/api/{3 if flavor == CLOUD else 2}/myself").json()
    return f"signed in to {j.base_url} as {me.get('displayName') or me.get('emailAddress') or me.get('name') or '?'}"


def _harness(cfg, stats) -> str:
    from ingestion import config as cfgmod
    from ingestion.harness import SAAS_URL, make_api
    h = cfg.integrations["harness"]
    account = h.options.get("account_id") or cfgmod._secret("sources.harness.account_id")
    if not account:
        raise ValueError("integrations.harness.account_id is not set. Fix: add it under integrations.harness.")
    base = h.base_url or SAAS_URL
    api = make_api(base, str(account), cfgmod._secret("sources.harness.api_key"), _quick_runtime(cfg), stats)
    d = api.request("doctor", "GET", "ng/api/organizations", params={"accountIdentifier": account}).json()
    n = ((d.get("data") or {}).get("totalItems")) if isinstance(d, dict) else None
    return f"API key accepted by {base} for account {account}" + (f"; {n} organisations visible" if n is not None else "")


def _events(cfg, stats) -> str:
    paths = [Path(e["path"]) for p in cfg.projects for e in p.events]
    missing = [str(p) for p in paths if not p.exists() or not os.access(p, os.R_OK)]
    if missing:
        raise FileNotFoundError(f"events files not readable: {', '.join(missing)}. Fix: correct their paths in the "
                                f"sources file or the files' permissions.")
    return f"{len(paths)} events files readable"


CHECKS = {"github": _github, "jira": _jira, "harness": _harness, "events": _events}


def _configured(cfg, name: str) -> bool:
    if name == "github":
        return bool(cfg.github_repos())
    if name == "jira":
        return any(s.integration == "jira" for s in cfg.scopes)
    if name == "harness":
        return any(p.harness for p in cfg.projects)
    return any(p.events for p in cfg.projects)


def check_credentials(config_path: str | Path | None = None) -> list[CredentialCheck]:
    from ingestion import config as cfgmod
    from ingestion.http import HttpStats
    cfg = cfgmod.load(config_path)
    out = []
    for name, fn in CHECKS.items():
        if not _configured(cfg, name):
            continue
        try:
            out.append(CredentialCheck(name, True, fn(cfg, HttpStats())))
        except Exception as e:  # noqa: BLE001 - report every integration, whatever went wrong
            out.append(CredentialCheck(name, False, str(e).strip() or type(e).__name__))
    return out
