"""`sei ingest --plan` for Jira, Harness and event files (GitHub's is in github_plan.py).

Each estimate asks the API for what it can count cheaply, then prices a first sync in
requests and time. Jira Cloud and Harness publish no fixed hourly budget (Jira Cloud
charges points per request and answers 429 with Retry-After; Harness answers a bare 429),
so their time is a latency bound at the observed request time, not a rate-limit bound.
"""
from __future__ import annotations

import math
import time
from pathlib import Path

from ingestion import config as cfgmod
from ingestion.http import HttpStats

JIRA_IDS_PAGE = 5000  # search/jql returns up to 5,000 ids per page when no fields are asked for


def _timed(stats: HttpStats, source: str):
    t0, r0 = time.monotonic(), stats.totals(source).requests
    return lambda: (time.monotonic() - t0) / max(1, stats.totals(source).requests - r0)


def jira_plan(cfg: cfgmod.SourcesConfig, stats: HttpStats) -> dict:
    """Issues updated since start_date per project (ids-only searches), and the requests a
    first sync makes: search pages, one board listing per project, sprint listings."""
    from ingestion.jira import search_page_size
    from ingestion.jira_api import CLOUD, make_api, normalise_flavor
    j = cfg.integrations["jira"]
    flavor = normalise_flavor(j.options.get("flavor"))
    api = make_api(j.base_url, flavor, cfg.runtime, stats, cfgmod._secret("sources.jira.email"),
                   cfgmod._secret("sources.jira.api_token"), j.options.get("auth"))
    since = cfg.start_date.strftime("%Y-%m-%d %H:%M")
    per_request = _timed(stats, "jira")
    rows = []
    for s in (s for s in cfg.scopes if s.integration == "jira"):
        jql = f'({s.value[4:]}) AND updated >= "{since}"' if s.value.startswith("jql:") else \
            f'project = "{s.value}" AND updated >= "{since}"'
        try:
            n = _jira_count(api, flavor == CLOUD, jql)
            rows.append({"scope": s.value, "issues": n})
        except Exception as e:  # noqa: BLE001 - report per scope
            rows.append({"scope": s.value, "error": str(e)})
    ok = [r for r in rows if "error" not in r]
    _, per_page = search_page_size(flavor, j.page_size)
    requests = sum(math.ceil(r["issues"] / per_page) + 2 for r in ok) + 2
    secs = per_request() * requests
    return {"start_date": cfg.start_date.isoformat(), "scopes": rows, "requests": requests, "hours": secs / 3600,
            "lines": [f"  {r['scope']:<40} " + (f"{r['issues']:>9,} issues" if "error" not in r else r["error"])
                      for r in rows] + [
                f"  requests: about {requests:,} (search pages of {per_page}, boards, sprints; changelogs over "
                f"Jira's 40-history embed add bulk requests of 1,000 issues)",
                f"  time:     about {secs / 3600:.2f} h at {per_request():.2f} s per request (Jira Cloud has no fixed "
                f"hourly budget: it answers 429 with Retry-After, which the client honours)"]}


def _jira_count(api, cloud: bool, jql: str) -> int:
    if cloud:
        body: dict = {"jql": jql, "maxResults": JIRA_IDS_PAGE}
        n = 0
        while True:
            d = api.request("plan", "POST", "rest/api/3/search/jql", json=body).json()
            n += len(d.get("issues") or [])
            if not d.get("nextPageToken") or d.get("isLast") is True:
                return n
            body["nextPageToken"] = d["nextPageToken"]
    d = api.request("plan", "GET", "rest/api/2/search", params={"jql": jql, "maxResults": 0}).json()
    return int(d.get("total") or 0)


def harness_plan(cfg: cfgmod.SourcesConfig, stats: HttpStats) -> dict:
    """Executions since start_date per (org, project), from a one-item page's totalElements."""
    from ingestion.harness import SAAS_URL, make_api
    h = cfg.integrations["harness"]
    account = str(h.options.get("account_id") or cfgmod._secret("sources.harness.account_id") or "")
    api = make_api(h.base_url or SAAS_URL, account, cfgmod._secret("sources.harness.api_key"), cfg.runtime, stats)
    start_ms = int(cfg.start_date.timestamp() * 1000)
    end_ms = int((time.time() + 86400) * 1000)
    per_request = _timed(stats, "harness")
    rows = []
    for p in cfg.projects:
        for sc in p.harness:
            key = f"{sc['org']}/{sc['project']}"
            try:
                d = api.request("plan", "POST", "/pipeline/api/pipelines/execution/summary",
                                params={"accountIdentifier": account, "orgIdentifier": sc["org"],
                                        "projectIdentifier": sc["project"], "page": 0, "size": 1},
                                json={"filterType": "PipelineExecution",
                                      "timeRange": {"startTime": start_ms, "endTime": end_ms}}).json()
                rows.append({"scope": key, "executions": int((d.get("data") or {}).get("totalElements") or 0)})
            except Exception as e:  # noqa: BLE001 - report per scope
                rows.append({"scope": key, "error": str(e)})
    ok = [r for r in rows if "error" not in r]
    requests = sum(math.ceil(r["executions"] / h.page_size) + 2 for r in ok)
    secs = per_request() * requests
    return {"start_date": cfg.start_date.isoformat(), "scopes": rows, "requests": requests, "hours": secs / 3600,
            "lines": [f"  {r['scope']:<40} " + (f"{r['executions']:>9,} executions" if "error" not in r else r["error"])
                      for r in rows] + [
                f"  requests: about {requests:,} (execution pages of {h.page_size}, services, environments)",
                f"  time:     about {secs / 3600:.2f} h at {per_request():.2f} s per request (Harness answers 429 "
                f"without Retry-After when throttling; the client backs off)"]}


def events_plan(cfg: cfgmod.SourcesConfig, stats: HttpStats) -> dict:
    """Local files: how many and how large; no API cost."""
    base = Path(cfg.path).parent if cfg.path else Path(".")
    files = []
    for s in (s for s in cfg.scopes if s.integration == "events"):
        p = Path(s.value)
        p = p if p.is_absolute() else base / p
        matches = sorted(p.parent.glob(p.name)) if any(ch in p.name for ch in "*?[") else \
            (sorted(x for x in p.iterdir() if x.suffix in (".csv", ".json", ".jsonl", ".ndjson")) if p.is_dir() else [p])
        files += [m for m in matches if m.is_file()]
    size = sum(f.stat().st_size for f in files)
    return {"start_date": cfg.start_date.isoformat(), "files": len(files), "bytes": size, "requests": 0, "hours": 0.0,
            "lines": [f"  {len(files)} file(s), {size / 1e6:.1f} MB, no API requests"]}


PLANNERS = {"jira": jira_plan, "harness": harness_plan, "events": events_plan}
