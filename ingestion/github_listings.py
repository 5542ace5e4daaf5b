"""Which repositories an incremental run's REST listings ask (issue 17): deployments, releases
and workflow runs have no organisation-wide search, so listing them costs a request per
repository and listing; a run lists only the repositories where something can have changed.

A repository is listed when
- new: never listed by this resource (the first sync, a repository new in the sources file);
- retry: its previous listing failed;
- unknown: its owner's listing by push failed this run (nothing says it was not pushed);
- pushed: its `pushedAt` (any branch) moved since its last listing, read from the one listing
  of repositories by push that the history needs anyway (github_changes.pushed_listing, no
  request of its own); or its last listing came less than PUSH_SETTLE after its last push
  (the workflow runs a push starts are created a little after it): then it is listed once
  more. "After" is measured by the newest push seen anywhere in the sources' owners, so in an
  org where nothing else is pushed the last-pushed repositories are listed each run until
  something else is (a few repositories; an active org's newest push is minutes old);
- open: something in it can still change: a deployment not finished (the deployments
  resource's watch) or a workflow run not completed (`open_since`);
- sweep: what a push does not announce (a deployment or release created through the API on
  an old commit or more than PUSH_SETTLE after the push, a scheduled or manually dispatched
  workflow run) is found by a rolling sweep: each run also lists the repositories whose last
  listing is oldest, n x (time since
  the last run) / `rest_sweep_hours` of them (the fraction carried over to the next run), and
  every repository not listed for `rest_sweep_hours`, so each repository is listed at least
  once in that time (`integrations.github.rest_sweep_hours`, default 24; 0 lists every
  repository every run).

Time. The sweep measures time by the API's clock (the `Date` of its answers), which is the
one GitHub's own timestamps use; `pushedAt` values are only compared with each other (the
newest push seen anywhere stands for "when" a listing happened): a simulator whose Date runs
ahead of its data cannot make a push look older than the listing that missed its records.

State, per resource, in its dlt resource state (committed with the load, like the cursors):
`listed` {repo (lower case): {"at": the run's API time (epoch s), "pushed": the repository's
pushedAt then, "seen": the newest push seen then, "failed": true after a failed listing}},
`sweep` {"at": the last run's API time, "credit": repositories owed to the sweep},
`pushed` {owner (lower case): the newest push seen} (where the next listing by push may stop).
The per-repository cursors (github_state.RepoCursors) keep their meaning: a listing reads
from its repository's cursor, however long ago it was listed last.
"""
from __future__ import annotations

import math
import threading
import time
from collections import Counter
from typing import Callable, Iterator

from ingestion.github_api import INTEGRATION
from ingestion.github_changes import push_floor, pushed_first_pages, pushed_listing
from ingestion.github_rows import _ts, split_repo
from ingestion.http import Api, AuthError, HttpStats


REST_SWEEP_HOURS = 24.0   # default of integrations.github.rest_sweep_hours
PUSH_SETTLE = 600         # seconds after a push during which the records it starts may still appear
REST_RESOURCES = ("deployments", "releases", "workflow_runs")
REASONS = ("new", "retry", "unknown", "pushed", "open", "sweep")


def _epoch(iso: str) -> float:
    return _ts(iso).timestamp()


class PushListings:
    """The listing of every owner's repositories by push, once per run, for every resource
    that asks (the commits resource and the REST listings run in parallel threads; the first
    to ask lists, the others wait for it). Each stops at the oldest watermark among the
    resources that keep one (`floors`), so none misses a push it has not seen yet."""

    def __init__(self, api: Api, gql_url: str, stats: HttpStats, fan_out: Callable, concurrency: int):
        self.api, self.gql_url, self.stats, self.fan_out, self.concurrency = api, gql_url, stats, fan_out, concurrency
        self._lock = threading.Lock()
        self._result: dict | None = None

    def get(self, groups: dict, floors: dict[str, str | None]) -> dict:
        """{"owners": {owner: its `pushed_listing`, or None when it failed}, "now": the API's
        time when it was read (epoch s), "newest": the newest push of all owners or None}.
        `floors`: per owner, the oldest watermark (None: one page)."""
        with self._lock:
            if self._result is None:
                self._result = self._list(groups, floors)
            return self._result

    def _list(self, groups: dict, floors: dict[str, str | None]) -> dict:
        firsts = pushed_first_pages(self.api, self.gql_url, self.stats, groups)
        owners: dict[str, dict | None] = {}

        def one(o: str) -> Iterator[None]:
            try:
                owners[o] = pushed_listing(self.api, self.gql_url, groups[o], push_floor(floors.get(o)),
                                           firsts.get(o, False))
            except AuthError:
                raise
            except Exception as e:  # noqa: BLE001 - recorded; that owner's repositories count as pushed
                owners[o] = None
                self.stats.error(INTEGRATION, "commits", f"repositories of {groups[o]['login']} by push: {e}")
                self.stats.say(f"  github.commits repositories of {groups[o]['login']} by push: ERROR {e}")
            return
            yield
        for _ in self.fan_out(list(groups), one, self.concurrency):
            pass
        newest = max((v["newest"] for v in owners.values() if v and v["newest"]), default=None)
        return {"owners": owners, "now": self.api.server_now or time.time(), "newest": newest}


def rest_floors(states: dict[str, dict], commits_pushed: dict, groups: dict) -> dict[str, str | None]:
    """Per owner, the oldest watermark of the resources that read the listing by push: the
    commits resource's `pushed[owner]["since"]` and each REST resource's `pushed[owner]`."""
    out: dict[str, str | None] = {}
    for o in groups:
        marks = [(commits_pushed.get(o) or {}).get("since")] + [(st.get("pushed") or {}).get(o)
                                                                for st in states.values()]
        marks = [m for m in marks if m]
        out[o] = min(marks, key=_epoch) if marks else None
    return out


class RestListings:
    """One REST resource's choice of repositories for this run, and its state (see the module
    docstring). `choose()` once, then `done(repo)` / `failed(repo)` per listed repository and
    `finish()` at the end of the resource."""

    def __init__(self, resource: str, state: dict, sweep_hours: float):
        self.resource, self.sweep_hours = resource, float(sweep_hours)
        self.listed: dict = state.setdefault("listed", {})
        self.sweep: dict = state.setdefault("sweep", {})
        self.marks: dict = state.setdefault("pushed", {})
        self.reasons: dict[str, str] = {}
        self._lock = threading.Lock()
        self._now = 0.0
        self._newest: str | None = None
        self._pushes: dict[str, str | None] = {}

    def choose(self, repos: list[str], pushes: dict, open_repos: set[str]) -> list[str]:
        """The repositories to list this run (in `repos`' order); `pushes` is PushListings.get's
        answer, `open_repos` the repositories (lower case) with something still open."""
        now = float(pushes["now"])
        self._now, self._newest = now, pushes["newest"]
        owners = pushes["owners"]
        reasons: dict[str, str] = {}
        rest: list[str] = []
        for repo in repos:
            r, o = repo.lower(), split_repo(repo)[0].lower()
            st = self.listed.get(r)
            listing = owners.get(o)
            node = (listing or {}).get("pushed", {}).get(r) if listing else None
            pushed_at = (node or {}).get("pushedAt")
            self._pushes[r] = pushed_at or (st or {}).get("pushed")
            if st is None:
                reasons[r] = "new"
            elif st.get("failed"):
                reasons[r] = "retry"
            elif listing is None:
                reasons[r] = "unknown"
            elif (pushed_at and (not st.get("pushed") or _epoch(pushed_at) > _epoch(st["pushed"]))) or (
                    st.get("pushed") and st.get("seen") and _epoch(st["seen"]) - _epoch(st["pushed"]) < PUSH_SETTLE):
                reasons[r] = "pushed"
            elif r in open_repos:
                reasons[r] = "open"
            else:
                rest.append(repo)
        for repo in self._swept(rest, len(repos), now):
            reasons[repo.lower()] = "sweep"
        for o, listing in owners.items():
            if listing and listing["newest"]:
                old = self.marks.get(o)
                self.marks[o] = listing["newest"] if not old or listing["newest"] > old else old
        self.reasons = reasons
        return [r for r in repos if r.lower() in reasons]

    def _swept(self, rest: list[str], n: int, now: float) -> list[str]:
        """The oldest-listed of `rest`: those not listed for `sweep_hours`, and at least the
        sweep's share of the time since the last run (n x elapsed / sweep_hours, the fraction
        carried over). With sweep_hours 0, all of them."""
        if self.sweep_hours <= 0:
            return rest
        period = self.sweep_hours * 3600
        last = self.sweep.get("at")
        credit = float(self.sweep.get("credit", 0.0)) + (n * max(0.0, now - last) / period if last else 0.0)
        credit = min(credit, float(n))
        order = sorted(rest, key=lambda repo: (float(self.listed[repo.lower()].get("at", 0)), repo.lower()))
        due = sum(1 for repo in order if now - float(self.listed[repo.lower()].get("at", 0)) >= period)
        k = min(len(order), max(due, math.floor(credit)))
        self.sweep["credit"] = max(0.0, credit - k)
        self.sweep["at"] = now
        return order[:k]

    def done(self, repo: str) -> None:
        with self._lock:
            self.listed[repo.lower()] = {"at": int(self._now), "pushed": self._pushes.get(repo.lower()),
                                         "seen": self._newest}

    def failed(self, repo: str) -> None:
        with self._lock:
            self.listed.setdefault(repo.lower(), {})["failed"] = True

    def wrap(self, repo: str, fetch: Callable[[], Iterator[list[dict]]]) -> Iterator[list[dict]]:
        """`fetch` for one repository, its listing recorded as done when it completes, as
        failed when it raises (the error goes on to the guard that records it)."""
        try:
            yield from fetch()
        except BaseException:
            self.failed(repo)
            raise
        self.done(repo)

    def forget(self, repos: list[str]) -> None:
        """Drop the state of repositories no longer in the sources file."""
        keep = {r.lower() for r in repos}
        for r in [r for r in self.listed if r not in keep]:
            del self.listed[r]

    def summary(self, total: int) -> str:
        c = Counter(self.reasons.values())
        why = ", ".join(f"{k} {c[k]}" for k in REASONS if c[k])
        return (f"  github.{self.resource}: {len(self.reasons)} of {total} repositories listed"
                + (f" ({why})" if why else ""))

    def counts(self) -> dict[str, int]:
        c = Counter(self.reasons.values())
        return {k: c[k] for k in REASONS}
