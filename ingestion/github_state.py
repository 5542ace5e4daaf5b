"""Per-repository state of the GitHub source: the cursors kept in dlt resource state, the
guard that records a repository's failure and lets the others go on, and the fan-out that
reads several repositories at once.
"""
from __future__ import annotations

import datetime as dt
import queue
import threading
from typing import Any, Callable, Iterable, Iterator

import dlt

from ingestion.github_api import INTEGRATION
from ingestion.github_rows import _iso
from ingestion.http import ApiError, AuthError, HttpStats, NotFound, PermissionDenied, RetriesExhausted


class RepoCursors:
    """Per-repository cursors in dlt resource state: {repo: {"value": iso, "ids": [...]}}.

    `start(repo)` is where this run starts (the start date for a repository never read);
    `fresh(repo, ts, id)` says whether a record is new (newer than the cursor, or at the
    cursor's exact second but not seen there); `seen()` tracks the run's maximum and
    `commit(repo)` stores it once the repository was read completely."""

    def __init__(self, resource: str, start_date: dt.datetime):
        state = dlt.current.resource_state(resource)
        self.state: dict = state.setdefault("cursors", {})
        self.start_date = _iso(start_date)
        self._run: dict[str, tuple[str, set]] = {}

    def start(self, repo: str) -> str:
        c = self.state.get(repo.lower())
        return max(c["value"], self.start_date) if c else self.start_date

    def known(self, repo: str) -> bool:
        return repo.lower() in self.state

    def fresh(self, repo: str, ts: str | None, rid: Any) -> bool:
        if ts is None:
            return True
        c = self.state.get(repo.lower())
        if c is None:
            return ts >= self.start_date
        if ts > c["value"]:
            return True
        return ts == c["value"] and str(rid) not in set(c.get("ids", []))

    def seen(self, repo: str, ts: str | None, rid: Any) -> None:
        if ts is None:
            return
        cur = self._run.get(repo.lower())
        if cur is None or ts > cur[0]:
            self._run[repo.lower()] = (ts, {str(rid)})
        elif ts == cur[0]:
            cur[1].add(str(rid))

    def commit(self, repo: str) -> None:
        run = self._run.pop(repo.lower(), None)
        if run is None:
            return
        old = self.state.get(repo.lower())
        if old and old["value"] > run[0]:
            return
        ids = set(run[1]) | (set(old.get("ids", [])) if old and old["value"] == run[0] else set())
        self.state[repo.lower()] = {"value": run[0], "ids": sorted(ids)[-500:]}

    def summary(self) -> str | None:
        vals = [c["value"] for c in self.state.values()]
        if not vals:
            return None
        return max(vals) if len(set(vals)) == 1 else f"{min(vals)}..{max(vals)} ({len(vals)} repositories)"


def _guard(stats: HttpStats, resource: str, repo: str, fn):
    """Run one repository's fetch; a missing repo, a missing permission or a request that
    kept failing is recorded (ops) and the other repositories go on. Bad credentials stop the source."""
    try:
        yield from fn()
    except AuthError:
        raise
    except (NotFound, PermissionDenied, RetriesExhausted, ApiError) as e:
        stats.error(INTEGRATION, resource, f"{repo}: {e}")
        stats.say(f"  github.{resource} {repo}: ERROR {e}")


_DONE = object()


def fan_out(items: Iterable[Any], fetch: Callable[[Any], Iterator[Any]], workers: int) -> Iterator[Any]:
    """What `fetch(item)` yields for every item, with up to `workers` items fetched at once
    in threads (each item wholly in one thread, so its pages keep their order and its
    cursor commits after its last page). Pages come out as they arrive; a bounded queue
    keeps the fetchers at most a few pages ahead of the consumer. An exception in a fetch
    stops the others and is raised here; closing this generator stops them too.
    `workers <= 1` runs the items one after the other in the caller's thread."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield from fetch(item)
        return
    n = min(workers, len(items))
    out: queue.Queue = queue.Queue(maxsize=2 * n)
    stop = threading.Event()
    todo = iter(items)
    todo_lock = threading.Lock()

    def put(msg) -> bool:
        while not stop.is_set():
            try:
                out.put(msg, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                with todo_lock:
                    item = next(todo, _DONE)
                if item is _DONE:
                    break
                for page in fetch(item):
                    if not put(("page", page)):
                        return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put(("error", e))
        finally:
            put(("done", None))

    threads = [threading.Thread(target=work, name=f"github-fetch-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    running = n
    try:
        while running:
            kind, value = out.get()
            if kind == "page":
                yield value
            elif kind == "error":
                raise value
            else:
                running -= 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)
