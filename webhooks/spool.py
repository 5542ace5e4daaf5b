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
    'accepted' / 'duplicate' once the row is committed (fsynced).

    What keeps its latency flat (benchmarks/bench_webhooks.py, docs/benchmarks.md):
    - one transaction per batch of whatever is queued: one fsync for many deliveries;
    - a batch is a handful of SQLite calls whatever its size (one query for ids already
      stored, one multi-row INSERT, one counters upsert): Python's sqlite3 lets go of the
      GIL around every call, and taking it back from a busy event loop can cost a whole
      switch interval, so per-row statements made a batch of 50 wait for the GIL 100 times;
    - WAL checkpoints (copying the WAL into the database file, with its fsync) run in this
      thread after a batch's requests are answered, when no request is waiting (or, under
      sustained load, once the WAL is 4x the threshold), not inside the commit that
      acknowledges a batch as SQLite's autocheckpoint would. Between writes of the same
      connection the checkpoint completes, so the next commit restarts the WAL at its start
      and the file stays bounded (a checkpoint on another connection, racing the writes,
      never completed and the WAL grew without limit). The WAL is fsynced at every commit.
    """

    ROWS_PER_INSERT = 400   # 6 parameters a row, under SQLite's 32,766 per statement
    CHECKPOINT_FRAMES = 1000  # SQLite's own autocheckpoint threshold (pages of WAL)

    def __init__(self, path: Path | str, max_batch: int = 400):
        self.path = Path(path)
        self.con = connect(self.path)
        self.con.execute("pragma wal_autocheckpoint=0")
        self.max_batch = max_batch
        self.q: queue.Queue = queue.Queue()
        self._frames = 0
        self._thread = threading.Thread(target=self._loop, name="spool-writer", daemon=True)
        self._thread.start()

    def submit(self, source: str, event: str, delivery_id: str, body: bytes, scope: str | None = None):
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self.q.put(("event", (source, event, delivery_id, scope, now_iso(), body), fut))
        return fut

    def count(self, source: str, outcome: str):
        """Counted in the next commit (no one waits for it)."""
        self.q.put(("count", (source, outcome), None))

    def flush(self):
        """A Future resolved once everything queued before it (counts too) is committed."""
        fut: concurrent.futures.Future = concurrent.futures.Future()
        self.q.put(("flush", None, fut))
        return fut

    def close(self) -> None:
        self.q.put(None)
        self._thread.join(timeout=30)
        try:
            self.con.execute("pragma wal_checkpoint(truncate)")  # a small spool file for the next start
        except sqlite3.Error:
            pass  # the next start checkpoints; nothing acknowledged depends on it
        self.con.close()

    def _write(self, items: list) -> list[tuple]:
        """Insert the batch's deliveries and counts in the open transaction; (future, outcome) pairs."""
        events = [(payload, fut) for kind, payload, fut in items if kind == "event"]
        stored: set[tuple[str, str]] = set()
        by_source: dict[str, list[str]] = {}
        for (source, _, delivery, *_), _ in events:
            by_source.setdefault(source, []).append(delivery)
        for source, ids in by_source.items():
            for i in range(0, len(ids), 900):
                chunk = ids[i:i + 900]
                stored |= {(source, d) for (d,) in self.con.execute(
                    f"select delivery_id from events where source = ? and delivery_id in ({','.join('?' * len(chunk))})",
                    [source, *chunk])}
        rows, results, counts = [], [], {}
        for payload, fut in events:
            key = (payload[0], payload[2])
            outcome = "duplicate" if key in stored else "accepted"
            if outcome == "accepted":
                stored.add(key)  # a replay within the same batch is a duplicate too
                rows.append(payload)
            results.append((fut, outcome))
            counts[(payload[0], outcome)] = counts.get((payload[0], outcome), 0) + 1
        for kind, payload, fut in items:
            if kind == "count":
                counts[payload] = counts.get(payload, 0) + 1
            elif kind == "flush":
                results.append((fut, "flushed"))
        for i in range(0, len(rows), self.ROWS_PER_INSERT):
            chunk = rows[i:i + self.ROWS_PER_INSERT]
            self.con.execute("insert into events (source, event, delivery_id, scope, received_at, body) values "
                             + ",".join(["(?, ?, ?, ?, ?, ?)"] * len(chunk)), [v for r in chunk for v in r])
        if counts:
            self.con.execute("insert into counters (source, outcome, n) values "
                             + ",".join(["(?, ?, ?)"] * len(counts))
                             + " on conflict (source, outcome) do update set n = n + excluded.n",
                             [v for (source, outcome), n in counts.items() for v in (source, outcome, n)])
        # ~WAL pages this commit writes (measured: about two a row, for the table and its
        # unique index, plus the bodies), to pace the checkpoints
        self._frames += 4 + 2 * len(rows) + sum(len(r[5]) for r in rows) // 4096
        return results

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
            try:
                self.con.execute("begin immediate")
                results = self._write(items)
                self.con.execute("commit")  # the WAL is fsynced here (synchronous=full)
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
            if self._frames >= self.CHECKPOINT_FRAMES and (self.q.empty()
                                                            or self._frames >= 4 * self.CHECKPOINT_FRAMES):
                self._frames = 0
                try:
                    self.con.execute("pragma wal_checkpoint(passive)")  # readers are not waited for
                except sqlite3.Error:
                    pass  # retried after the next batches


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
