"""A response journal, so a killed sync resumes where it stopped instead of asking again.

dlt commits a run's rows and its cursors together, when the load finishes: a sync killed
(SIGKILL, out of memory, a reboot) during the extract keeps nothing, and the restart
repays every request made before the kill, which on github.com is rate-limit budget. dlt
has no checkpoint inside an extract (a `pipeline.run` per page would cost a normalize and
a merge per page), so this part is hand-written, at the HTTP layer (ingestion/http.py):

- while a source extracts, every good answer (HTTP 200, not a rate-limit or transient
  GraphQL error) is appended to the journal, keyed by its request (method, URL with its
  query, body; not the credentials);
- a restart from the same dlt state (the interrupted run committed nothing, so its
  requests start the same way) is answered from the journal for every request the killed
  run had completed: finished repositories and, within one, finished pages cost no request;
  the first request the journal does not hold goes to the API, and from there on the run
  is live. Each listing follows the `endCursor` / `Link` of the journaled pages, so it
  continues exactly where it stopped;
- the journal is removed once the run's load has committed. One made on another state (the
  run did commit; a full refresh against an incremental run) is discarded unread.

Replayed answers are the upstream as the killed run saw it; anything changed since is
newer than the cursors this run commits, so the next incremental run reads it, as it would
after an uninterrupted run.

Files: `<pipelines dir>/sei_<source>.journal/` with `BASE` (the state the journal belongs
to) and `responses.jsonl`, one JSON line per answer, flushed as it is written (a killed
process loses no flushed line; a half-written last line is ignored). While a run lasts the
journal takes about as much disk as the answers it read (a first sync of a large org:
gigabytes, mostly workflow-run pages); it is gone when the run has loaded.

Only sources whose module sets `JOURNALED = True` keep one (GitHub): their requests are
determined by the dlt state and the answers before them. Jira's `nextPageToken` is issued
per search and may expire, so its paging would not resume from a journal of another process.
"""
from __future__ import annotations

import base64
import hashlib
import json
import shutil
import threading
from pathlib import Path
from typing import Any

import requests

KEEP_HEADERS = ("Content-Type", "Link", "Date")  # what the sources read; rate-limit headers are stale


def state_digest(state: Any, full_refresh: bool) -> str:
    """Which run a journal belongs to: the source's dlt state when the run started, and its mode."""
    return hashlib.sha256((("full:" if full_refresh else "incremental:")
                           + json.dumps(state, sort_keys=True, default=str)).encode()).hexdigest()


def request_key(request: requests.PreparedRequest) -> str:
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    return hashlib.sha256(b"\0".join([request.method.encode(), request.url.encode(), body])).hexdigest()


class Journal:
    """The answers of one source's run (see the module doc). Thread-safe."""

    def __init__(self, folder: Path, digest: str):
        self.folder = folder
        self.path = folder / "responses.jsonl"
        self._lock = threading.Lock()
        self._index: dict[str, tuple[int, int]] = {}  # request key -> (offset, length) in the file
        self._fh = None
        self.replayed = 0
        marker = folder / "BASE"
        if folder.exists() and (not marker.exists() or marker.read_text().strip() != digest):
            shutil.rmtree(folder, ignore_errors=True)  # made on another state: of no use
        folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(digest)
        if self.path.exists():
            with self.path.open("rb") as f:
                offset = 0
                for line in f:
                    if not line.endswith(b"\n"):
                        break  # the line the kill cut short
                    try:
                        self._index[json.loads(line)["k"]] = (offset, len(line))
                    except (ValueError, KeyError):
                        break
                    offset += len(line)
            with self.path.open("r+b") as f:
                f.truncate(offset)  # drop a torn tail before appending after it

    @property
    def size(self) -> int:
        return len(self._index)

    def get(self, request: requests.PreparedRequest) -> requests.Response | None:
        """The journaled answer to this request, or None."""
        key = request_key(request)
        with self._lock:
            where = self._index.get(key)
            if where is None:
                return None
            with self.path.open("rb") as f:
                f.seek(where[0])
                rec = json.loads(f.read(where[1]))
            self.replayed += 1
        resp = requests.Response()
        resp.status_code = rec["s"]
        resp.headers.update(rec["h"])
        resp._content = rec["t"].encode() if "t" in rec else base64.b64decode(rec["b"])
        resp.url, resp.request, resp.reason, resp.encoding = request.url, request, "OK", "utf-8"
        return resp

    def put(self, request: requests.PreparedRequest, resp: requests.Response) -> None:
        """Keep a good answer (200; a GraphQL answer without data is a transient error: not kept)."""
        if resp.status_code != 200:
            return
        body = resp.content
        if request.method == "POST" and body[:2000].find(b'"errors"') >= 0:
            try:
                if json.loads(body).get("data") is None:
                    return
            except ValueError:
                return
        rec: dict[str, Any] = {"k": request_key(request), "s": resp.status_code,
                               "h": {h: resp.headers[h] for h in KEEP_HEADERS if h in resp.headers}}
        try:
            rec["t"] = body.decode("utf-8")
        except UnicodeDecodeError:
            rec["b"] = base64.b64encode(body).decode()
        line = (json.dumps(rec) + "\n").encode()
        with self._lock:
            if self._fh is None:
                self._fh = self.path.open("ab")
            offset = self._fh.tell()
            self._fh.write(line)
            self._fh.flush()
            self._index[rec["k"]] = (offset, len(line))

    def close(self) -> None:
        with self._lock:
            if self._fh is not None:
                self._fh.close()
                self._fh = None

    def clear(self) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
