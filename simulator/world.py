"""The generated organisation and its history, with "as of now" views for the API layer.

The whole timeline (history plus a future horizon) is generated up front; the simulated
clock decides what the APIs show. Advancing the clock therefore reveals new records and
updates old ones (a PR gets merged, an issue moves to Done) exactly as a live system
would, and the same seed always gives the same organisation.
"""
from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator.activity import build_activity
from simulator.org import DAY, _hex, build_org
from simulator.sizes import SIZES

DEFAULT_NOW = int(dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc).timestamp())  # a Monday, frozen
HORIZON_DAYS = 60  # how far /_sim/advance may move the clock


def iso(ts) -> str | None:
    """GitHub-style UTC timestamp."""
    if ts is None or ts < 0 or ts != ts:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class World:
    size: str
    seed: int
    start: int
    now: int
    end: int
    t: dict[str, pd.DataFrame]
    deleted_repos: set = field(default_factory=set)   # repo_id deleted upstream (GitHub answers 404)
    deleted_issues: set = field(default_factory=set)  # Jira keys deleted upstream
    _cache: dict = field(default_factory=dict, repr=False)
    listeners: list = field(default_factory=list, repr=False)  # called (old now, new now) after each advance
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ---- clock
    def advance(self, hours: float) -> int:
        new = self.now + int(hours * 3600)
        if new > self.end:
            raise ValueError(f"the simulator generated activity up to {iso(self.end)}; "
                             f"cannot advance past it (now {iso(self.now)})")
        with self._lock:
            old, self.now = self.now, new
            self._cache.clear()
        for listener in list(self.listeners):  # e.g. the webhook sender (simulator/webhooks.py)
            listener(old, new)
        return self.now

    def delete(self, repository: str | None = None, issue: str | None = None) -> None:
        """Delete a repository or a Jira issue upstream, as an admin would: from now on the
        APIs no longer list it (nightly reconciliation must notice)."""
        with self._lock:
            if repository:
                ids = self.t["repos"].repo_id[self.t["repos"].full_name.str.lower() == repository.lower()]
                if ids.empty:
                    raise ValueError(f"unknown repository {repository!r}")
                self.deleted_repos.update(int(i) for i in ids)
            if issue:
                if not (self.t["issues"].key == issue).any():
                    raise ValueError(f"unknown issue {issue!r}")
                self.deleted_issues.add(issue)
            self._cache.clear()

    def cached(self, key, build):
        """Per-clock cache of derived views (cleared when the clock moves)."""
        k = (key, self.now)
        v = self._cache.get(k)
        if v is None:
            v = build()
            with self._lock:
                self._cache[k] = v
        return v

    def __getitem__(self, name: str) -> pd.DataFrame:
        return self.t[name]

    def summary(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.t.items()}


def generate(size: str = "small", seed: int = 42, now: int | None = None, history_days: int | None = None) -> World:
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}: choose one of {', '.join(SIZES)}")
    spec = SIZES[size]
    now = DEFAULT_NOW if now is None else now
    start = now - (history_days or spec.history_days) * DAY
    end = now + HORIZON_DAYS * DAY
    rng = np.random.default_rng(seed)
    org = build_org(spec, rng, start, end)
    act = build_activity(org, rng, start, end)
    t = {**org, **act}
    t["deployments"] = _deployment_sources(rng, t)
    t["incidents"] = t.pop("incidents")
    for k in ("deployments_base", "incidents_base"):
        t.pop(k, None)
    return World(size=size, seed=seed, start=start, now=now, end=end, t=t)


def _deployment_sources(rng, t) -> pd.DataFrame:
    """Give each deployment the identity its tool would report: GitHub deployment ids,
    Harness plan execution ids (with the commit from a CI stage, an artifact tag that is
    the SHA, or neither), Jenkins build numbers for the generic events file."""
    d = t["deployments_base"].copy()
    svc = t["services"].set_index("service_id")
    d["tool"] = d.service_id.map(svc.deploy_tool)
    d["repo_id"] = d.service_id.map(svc.repo_id)
    d["team_id"] = d.service_id.map(svc.team_id)
    d["project_id"] = d.service_id.map(svc.project_id)
    n = len(d)
    d["gh_deployment_id"] = 1_900_000_000 + np.arange(n)  # GitHub's Deployment.databaseId is a 32-bit Int
    d["plan_execution_id"] = _hex(rng, n, 22)
    r = rng.random(n)
    d["harness_commit_via"] = np.where(r < 0.6, "ci", np.where(r < 0.95, "tag_sha", "tag_semver"))
    d["build_number"] = d.groupby("service_id").cumcount() + 1
    d["creator_login"] = "acme-release-bot"
    return d
