"""The spool: every accepted delivery, durable before the receiver answers 2xx.

A SQLite file in WAL mode with `synchronous=FULL`: a commit returns once the WAL is fsynced,
so an event acknowledged is on disk whatever happens to the receiver afterwards (SIGKILL,
power loss). It is never the DuckDB warehouse, which has one writer that a run may hold:
the receiver keeps accepting while the warehouse is busy or down.

- `events`: one row per accepted delivery, unique on (source, delivery_id), so a replayed
  delivery is answered 200 and stored once; `seq` orders them for the apply sensor's cursor;
  `applied_at` / `applied_run` are set by the `sei_fresh` run that merged it.
- `counters`: deliveries per (source, outcome), for `sei webhooks status`, `sei doctor`
  and the Dagster health metadata.

Group commit (`GroupWriter`): the receiver hands rows to one writer thread that commits
everything queued in one transaction (one fsync for many deliveries) and then releases the
waiting requests. One fsync per request would cap the receiver at the disk's fsync rate.
SQLite and Python's queue are the libraries; only the batching loop is ours.
"""
from __future__ import annotations

import concurrent.futures
import datetime as dt
import queue
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

DDL = [
    """create table if not exists events (
        seq integer primary key autoincrement,
        source text not null, event text not null, delivery_id text not null, scope text,
        received_at text not null, body blob not null,
        applied_at text, applied_run text,
        unique (source, delivery_id))""",
    "create index if not exists events_pending on events (applied_at, seq)",
    """create table if not exists counters (
        source text not null, outcome text not null, n integer not null default 0,
        primary key (source, outcome))""",
    """create table if not exists batches (
        run_id text primary key, last_seq integer, events integer, touched text, status text,
        started_at text, finished_at text, message text)""",
]

OUTCOMES = ("accepted", "duplicate", "ignored", "unauthorized", "malformed", "too_large", "unsupported_media_type",
            "ping")


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds")


def connect(path: Path | str) -> sqlite3.Connection:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
    con.execute("pragma journal_mode=wal")
    con.execute("pragma synchronous=full")  # the WAL is fsynced at every commit
    con.execute("pragma busy_timeout=30000")
    for stmt in DDL:
        con.execute(stmt)
    return con


@dataclass
class Spooled:
    seq: int
    source: str
    event: str
    delivery_id: str
    scope: str | None
    received_at: str
    body: bytes


def _insert(con: sqlite3.Connection, row: dict) -> str:
    cur = con.execute("insert or ignore into events (source, event, delivery_id, scope, received_at, body) "
                      "values (:source, :event, :delivery_id, :scope, :received_at, :body)", row)
    return "accepted" if cur.rowcount == 1 else "duplicate"


def _count(con: sqlite3.Connection, source: str, outcome: str, n: int = 1) -> None:
    con.execute("insert into counters (source, outcome, n) values (?, ?, ?) "
                "on conflict (source, outcome) do update set n = n + excluded.n", [source, outcome, n])


def append(path: Path | str, source: str, event: str, delivery_id: str, body: bytes, scope: str | None = None) -> str:
    """One delivery, committed on its own (tests, tools): 'accepted' or 'duplicate'."""
    con = connect(path)
    try:
        con.execute("begin immediate")
        outcome = _insert(con, dict(source=source, event=event, delivery_id=delivery_id, scope=scope,
                                    received_at=now_iso(), body=body))
        _count(con, source, outcome)
        con.execute("commit")
        return outcome
    finally:
        con.close()


class GroupWriter:
    """The receiver's single writer: `submit(...)` returns a Future resolved with
    'accepted' / 'duplicate' once the row is committed (fsynced)."""

    def __init__(self, path: Path | str, max_batch: int = 500):
        self.path = Path(path)
        self.con = connect(self.path)
        self.max_batch = max_batch
        self.q: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._loop, name="spool-writer", daemon=True)
        self._thread.start()

    def submit(self, source: str, event: str, delivery_id: str, body: bytes, scope: str | None = None):
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self.q.put(("event", dict(source=source, event=event, delivery_id=delivery_id, scope=scope,
                                  received_at=now_iso(), body=body), fut))
        return fut

    def count(self, source: str, outcome: str):
        """Counted in the next commit (no one waits for it)."""
        self.q.put(("count", (source, outcome), None))

    def close(self) -> None:
        self.q.put(None)
        self._thread.join(timeout=30)
        self.con.close()

    def _loop(self) -> None:
        while True:
            item = self.q.get()
            if item is None:
                return
            items = [item]
            while len(items) < self.max_batch:
                try:
                    nxt = self.q.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self.q.put(None)  # finish this batch, then stop
                    break
                items.append(nxt)
            results = []
            try:
                self.con.execute("begin immediate")
                counts: dict[tuple[str, str], int] = {}
                for kind, payload, fut in items:
                    if kind == "event":
                        outcome = _insert(self.con, payload)
                        results.append((fut, outcome))
                        key = (payload["source"], outcome)
                    else:
                        key = payload
                    counts[key] = counts.get(key, 0) + 1
                for (source, outcome), n in counts.items():
                    _count(self.con, source, outcome, n)
                self.con.execute("commit")
            except Exception as e:  # noqa: BLE001 - every waiting request gets the error (a 503)
                try:
                    self.con.execute("rollback")
                except sqlite3.Error:
                    pass
                for _, _, fut in items:
                    if fut is not None and not fut.done():
                        fut.set_exception(e)
                continue
            for fut, outcome in results:
                fut.set_result(outcome)


# --------------------------------------------------------------------------- reading (apply, status)
def last_seq(path: Path | str) -> int:
    con = connect(path)
    try:
        return con.execute("select coalesce(max(seq), 0) from events").fetchone()[0]
    finally:
        con.close()


def pending(path: Path | str, through: int | None = None, limit: int | None = None) -> list[Spooled]:
    """Events not applied yet, in arrival order (up to `through` when given)."""
    con = connect(path)
    try:
        sql = "select seq, source, event, delivery_id, scope, received_at, body from events where applied_at is null"
        args: list = []
        if through is not None:
            sql += " and seq <= ?"
            args.append(through)
        sql += " order by seq"
        if limit:
            sql += f" limit {int(limit)}"
        return [Spooled(*r) for r in con.execute(sql, args).fetchall()]
    finally:
        con.close()


def mark_applied(path: Path | str, seqs: list[int], run_id: str) -> int:
    """Set applied_at on events not yet applied; returns how many were newly marked."""
    con = connect(path)
    try:
        con.execute("begin immediate")
        n = 0
        for i in range(0, len(seqs), 500):
            chunk = seqs[i:i + 500]
            cur = con.execute(f"update events set applied_at = ?, applied_run = ? where applied_at is null and seq in "
                              f"({','.join('?' * len(chunk))})", [now_iso(), run_id, *chunk])
            n += cur.rowcount
        con.execute("commit")
        return n
    finally:
        con.close()


def record_batch(path: Path | str, run_id: str, **fields) -> None:
    con = connect(path)
    try:
        cols = ["run_id", *fields]
        con.execute(f"insert into batches ({', '.join(cols)}) values ({', '.join('?' * len(cols))}) "
                    f"on conflict (run_id) do update set " + ", ".join(f"{c} = excluded.{c}" for c in fields),
                    [run_id, *fields.values()])
    finally:
        con.close()


def status(path: Path | str) -> dict:
    """Counters per source and outcome, the backlog, and the last applied batch."""
    path = Path(path)
    if not path.exists():
        return {"exists": False, "counters": {}, "pending": 0, "last_batch": None}
    con = connect(path)
    try:
        counters: dict[str, dict[str, int]] = {}
        for source, outcome, n in con.execute("select source, outcome, n from counters order by 1, 2"):
            counters.setdefault(source, {})[outcome] = n
        pend, oldest = con.execute("select count(*), min(received_at) from events where applied_at is null").fetchone()
        last = con.execute("select run_id, last_seq, events, status, finished_at, message from batches "
                           "order by started_at desc limit 1").fetchone()
        return {"exists": True, "counters": counters, "pending": pend, "oldest_pending": oldest,
                "last_batch": dict(zip(("run_id", "last_seq", "events", "status", "finished_at", "message"), last))
                if last else None}
    finally:
        con.close()
