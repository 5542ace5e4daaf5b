"""Schedules that skip, with the reason the UI shows on the tick, when there is nothing to run
against: no sources file, an invalid one, or no configured integration answering. A fresh
`make dagster` on an unconfigured deployment then shows "skipped: no sources file found
(looked for ...)" every hour instead of a failed run with retries.
"""
from __future__ import annotations

import socket
from urllib.parse import urlsplit

import dagster as dg

CONNECT_TIMEOUT_S = 3.0


def _unreachable(url: str) -> str | None:
    """Why nothing accepts a TCP connection at the URL's host and port (None: something does).
    A connection, not a request: it costs no rate-limit budget and needs no credentials."""
    parts = urlsplit(url)
    if not parts.hostname:
        return "not a URL"
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=CONNECT_TIMEOUT_S):
            return None
    except OSError as e:
        return e.strerror or str(e) or type(e).__name__


def skip_reason(reachable: bool = True) -> str | None:
    """None when a run has something to read; else why a scheduled run would only fail.
    `reachable`: also require one configured API (GitHub, Jira, Harness) to accept connections."""
    from ingestion import config, events, harness
    try:
        cfg = config.load(required=False)
    except config.ConfigError as e:
        return f"the sources file is invalid: {e}"
    if cfg.missing:
        return cfg.missing
    apis = {}
    if cfg.github_repos():
        apis["github"] = cfg.integrations["github"].base_url
    if any(s.integration == "jira" for s in cfg.scopes):
        apis["jira"] = cfg.integrations["jira"].base_url
    if harness.configured(cfg):
        apis["harness"] = cfg.integrations["harness"].base_url
    if not apis:
        if events.configured(cfg):  # event files only: local, nothing to reach
            return None
        return (f"{cfg.path}: no repository, Jira project, Harness project or events file is configured. "
                f"Fix: list them under a project (sources.example.yml).")
    if not reachable:
        return None
    # One answering API is enough: a run loads it (and the event files) and reports the others
    # as failed sources; only when every API is down would the run be nothing but failures.
    down = []
    for name, url in apis.items():
        why = _unreachable(url)
        if why is None:
            return None
        down.append(f"{name} at {url or '(no base_url)'}: {why}")
    return (f"no configured integration answers ({'; '.join(down)}; sources file {cfg.path}). Fix: check the "
            f"base URLs and the network; for the demo's simulated org run `sei dagster --demo`, which serves it.")


def gated_schedule(name: str, job_name: str, cron: str, reachable: bool = True) -> dg.ScheduleDefinition:
    """A schedule of `job_name` (its run config comes from the job) that skips with a reason
    when `skip_reason` finds nothing to run against."""
    @dg.schedule(name=name, job_name=job_name, cron_schedule=cron, execution_timezone="UTC",
                 default_status=dg.DefaultScheduleStatus.RUNNING,
                 description=f"{cron} UTC; skips, saying why, while no configured source is "
                             f"{'reachable' if reachable else 'set up'}.")
    def _schedule(context: dg.ScheduleEvaluationContext):
        why = skip_reason(reachable)
        if why is not None:
            context.log.info(f"skipped: {why}")
            return dg.SkipReason(why)
        return dg.RunRequest()
    return _schedule
