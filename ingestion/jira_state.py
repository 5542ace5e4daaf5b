"""Per-scope state of the Jira source: the cursors kept in dlt resource state (one per project
key or JQL), the content hashes that let full listings emit only what changed, and the
stash that hands rows from the issues to the transformers that follow them.
"""
from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import threading

import dlt

from ingestion.jira_rows import canon, jira_ts


RECENT_CAP = 20_000  # issue ids remembered at the end of a cursor's overlap


def scope_key(scope: str) -> str:
    """Cursor key of a scope in resource state: the project key, or a hash of the JQL (a
    changed JQL is a new scope and is read from start_date)."""
    if scope.startswith("jql:"):
        return "jql:" + hashlib.sha1(scope[4:].strip().encode()).hexdigest()[:12]
    return scope.upper()


# --------------------------------------------------------------------------- cursors
class ScopeCursors:
    """Per-scope `updated` cursors in dlt resource state:
    {scope key: {"value": canon ts, "recent": {issue id: canon updated}, "scope": ...}}.

    `since(scope)` is where the next search starts (cursor - overlap, else start_date);
    `fresh(scope, id, updated)` is false for an issue loaded before with that same
    `updated` (the overlap re-lists it) or already emitted in this run; `commit(scope)`
    stores the run's maximum and the ids inside the new overlap once the scope was read."""

    def __init__(self, resource: str, start_date: dt.datetime, overlap: dt.timedelta):
        self.state: dict = dlt.current.resource_state(resource).setdefault("cursors", {})
        self.start_date, self.overlap = start_date, overlap
        self._run: dict[str, dict] = {}

    def since(self, scope: str) -> dt.datetime:
        c = self.state.get(scope_key(scope))
        if not c:
            return self.start_date
        return max(jira_ts(c["value"]) - self.overlap, self.start_date)

    def known(self, scope: str) -> bool:
        return scope_key(scope) in self.state

    def fresh(self, scope: str, issue_id: str, updated: str | None) -> bool:
        run = self._run.setdefault(scope_key(scope), {"max": None, "recent": {}})
        if updated is None:
            return issue_id not in run["recent"]
        if run["recent"].get(issue_id) == updated:
            return False
        c = self.state.get(scope_key(scope)) or {}
        return (c.get("recent") or {}).get(issue_id) != updated

    def seen(self, scope: str, issue_id: str, updated: str | None) -> None:
        run = self._run.setdefault(scope_key(scope), {"max": None, "recent": {}})
        if updated is None:
            return
        run["recent"][issue_id] = updated
        if run["max"] is None or updated > run["max"]:
            run["max"] = updated

    def commit(self, scope: str) -> None:
        k = scope_key(scope)
        run = self._run.pop(k, None) or {"max": None, "recent": {}}
        old = self.state.get(k) or {}
        value = max(filter(None, [old.get("value"), run["max"]]), default=None)
        if value is None:
            value = canon(self.start_date)  # read and empty: later runs start from start_date anyway
        floor = canon(jira_ts(value) - self.overlap - dt.timedelta(minutes=2))
        recent = {**(old.get("recent") or {}), **run["recent"]}
        recent = dict(sorted(((i, u) for i, u in recent.items() if u >= floor), key=lambda x: x[1])[-RECENT_CAP:])
        self.state[k] = {"value": value, "recent": recent, "scope": scope[:200]}

    def summary(self) -> str | None:
        vals = [c["value"] for c in self.state.values()]
        if not vals:
            return None
        return max(vals) if len(set(vals)) == 1 else f"{min(vals)}..{max(vals)} ({len(vals)} scopes)"


class Signatures:
    """Content hashes of the rows last emitted, by id, in dlt resource state: full listings
    emit only what changed (committed with the load, so a failed load re-emits)."""

    def __init__(self, resource: str):
        self.state: dict = dlt.current.resource_state(resource).setdefault("signatures", {})

    def changed(self, key, row: dict) -> bool:
        sig = hashlib.sha1(json.dumps(row, sort_keys=True, default=str).encode()).hexdigest()[:16]
        if self.state.get(str(key)) == sig:
            return False
        self.state[str(key)] = sig
        return True


class _Stash:
    """Rows for the transformers, by issue id, in the order the issues were yielded (dlt
    runs a transformer a few items behind its parent)."""

    def __init__(self, cap_issues: int = 200_000):
        self._d: dict[str, collections.deque] = {}
        self._n, self._cap = 0, cap_issues
        self._lock = threading.Lock()

    def put(self, issue_id: str, rows: list[dict]) -> None:
        with self._lock:
            if self._n >= self._cap:  # the transformer is not running (resource not selected)
                self._d.clear()
                self._n = 0
            self._d.setdefault(issue_id, collections.deque()).append(rows)
            self._n += 1

    def pop(self, issue_id: str) -> list[dict]:
        with self._lock:
            q = self._d.get(issue_id)
            if not q:
                return []
            rows = q.popleft()
            self._n -= 1
            if not q:
                del self._d[issue_id]
            return rows
