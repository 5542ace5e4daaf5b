"""Boards and sprints of the Jira source (agile 1.0), and which of them a run lists.

Jira has no "changed since" filter for boards or sprints, and a sprint changes state without
touching its issues (closing it updates only the issues it moves: the incomplete ones, to
the next sprint or the backlog). So the first sync lists every project's boards
(`GET /rest/agile/1.0/board?projectKeyOrId=KEY`) and every board's sprints
(`GET /rest/agile/1.0/board/{id}/sprint`), and later runs list a project's boards, or a
board's sprints, only where something can have changed. The reasons, counted in the
progress line of each run (`jira.sprints: listed 3 of 63 boards (1 issue, 2 sweep)`):

- first: a project (scope) or a board never listed, or whose last listing failed (failed);
- issue: an issue this run's search read names in its Sprint field (every sprint the issue
  has been in, rendered by Jira as the sprint is now: id, board, name, state, dates) a
  sprint no listing has shown, or one whose name, state or dates differ from its stored
  row: that sprint's board is listed. When the board itself is unknown, the issue's
  project's boards are listed first (a new board); a board that listing does not find (a
  board of a project outside the sources file) is not asked for again before the sweep;
- clock: a stored sprint due to change state by the clock: an active sprint whose end date
  has passed (it stays active until the team completes it: listed every run until then), a
  future sprint whose start date has passed or falls within the run interval (the time
  since the previous run: a team may start a sprint a little before its planned date); and
  a board between sprints (none active, a sprint completed less than a sweep period ago, a
  future one planned without dates, as Jira leaves them until they start): starting a
  sprint touches no issue, and the next one usually starts within hours, so such a board is
  listed again once half the time since the completion has passed since its last listing
  (1, 2, 4, 8, 16 hours after the completion), unless an issue of the started sprint shows
  it first;
- sweep: a change no issue shows (a sprint renamed, created or re-dated with no issue
  touched; a board created or renamed) is seen within `integrations.jira.sprint_sweep_hours`
  (default 24; projects' board listings: `board_sweep_hours`, default the same). Each run
  also lists the boards (projects) whose last listing is oldest, as many as list every one
  once a period at the current run interval, and every one whose listing would be older
  than the period by the next run.

Times are the server's (the `Date` header of the run's first request), so a skewed local
clock, or a simulator with a clock of its own, decides the same way as the site.

Rows are owned as a full listing owns them, whichever boards this run listed: a board by
the first scope, in the sources file's order, whose last listing holds it; a sprint by the
first board (projects in that order, boards in listing order) whose last listing holds it
(its scope columns, and `board_id` when Jira gives no `originBoardId`). A row is emitted
only when its content changed (jira_state.Signatures).

State, in dlt resource state (committed with the load, so a failed load plans again):
boards: `projects` {scope key: {at, boards: [[id, type]], failed}}, `foreign` {board id:
at}, `last_run`, `sweep_credit`; sprints: `boards` {board id: {at, sprints: [ids], closed: latest completion, failed}},
`known` {sprint id: view key, or [view key, state, start, end] for a sprint not closed},
`sweep_credit`.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
from typing import Callable, Iterator

import dlt

from ingestion.github_state import fan_out
from ingestion.http import ApiError, AuthError, HttpStats, response_json
from ingestion.jira_rows import board_row, canon, jira_ts, sprint_row
from ingestion.jira_state import Signatures, scope_key

AGILE_PAGE = 50
SWEEP_HOURS = 24.0
REASONS = ("first", "failed", "issue", "clock", "sweep")
BETWEEN_SLACK = dt.timedelta(minutes=5)

_DC_SPRINT = re.compile(r"\[(.*)\]\s*$", re.S)
_DC_PAIR = re.compile(r",(?=\w+=)")


# --------------------------------------------------------------------------- what issues say
def _int(v) -> int | None:
    try:
        return int(v) if v not in (None, "", "<null>") else None
    except (TypeError, ValueError):
        return None


def view_key(name, state, start, end, complete) -> str:
    """What an issue's Sprint field and a sprint listing both show of a sprint, hashed."""
    parts = [str(name or ""), str(state or "").lower()] + [canon(x) if x else "" for x in (start, end, complete)]
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()[:12]


def sprint_view(v) -> dict | None:
    """{id, board, key} of a Sprint field value: an object (Cloud, recent Data Center) or Data
    Center's `com.atlassian.greenhopper.service.sprint.Sprint@1f[id=48,rapidViewId=58,
    state=CLOSED,name=...,startDate=...,endDate=...,completeDate=<null>,...]`."""
    if isinstance(v, dict):
        d = {"id": v.get("id"), "board": v.get("boardId") or v.get("rapidViewId"), "name": v.get("name"),
             "state": v.get("state"), "start": v.get("startDate"), "end": v.get("endDate"),
             "complete": v.get("completeDate")}
    elif isinstance(v, str):
        m = _DC_SPRINT.search(v)
        if not m:
            return None
        kv = {k: (None if x in ("", "<null>") else x)
              for k, _, x in (p.partition("=") for p in _DC_PAIR.split(m.group(1)))}
        d = {"id": kv.get("id"), "board": kv.get("rapidViewId"), "name": kv.get("name"), "state": kv.get("state"),
             "start": kv.get("startDate"), "end": kv.get("endDate"), "complete": kv.get("completeDate")}
    else:
        return None
    sid = _int(d["id"])
    if sid is None:
        return None
    return {"id": sid, "board": _int(d["board"]),
            "key": view_key(d["name"], d["state"], jira_ts(d["start"]), jira_ts(d["end"]), jira_ts(d["complete"]))}


class Mentions:
    """The sprints named by the issues this run's search read, and by which projects (scopes
    are searched in threads at once)."""

    def __init__(self):
        self._lock = threading.Lock()
        self.views: dict[int, dict] = {}
        self.board_projects: dict[int, set[str]] = {}

    def add(self, project: str | None, values) -> None:
        if not isinstance(values, list):
            return
        with self._lock:
            for v in values:
                s = sprint_view(v)
                if s is None:
                    continue
                self.views[s["id"]] = s
                if s["board"] is not None and project:
                    self.board_projects.setdefault(s["board"], set()).add(scope_key(project))


def sweep_pick(last: dict, now: dt.datetime, period: dt.timedelta, interval: dt.timedelta, n_all: int,
               credit: float = 0.0) -> tuple[list, float]:
    """(the keys the sweep lists this run, the credit left), of those not listed for another
    reason (`last`: key -> when last listed): every one whose last listing will be older than
    `period` by the next run (`interval` from now), and the oldest as long as the credit
    lasts. The credit grows by `n_all` x interval / period a run, so that all are listed once
    a period at an even pace (a fraction carries over: two projects and a 24 h period list
    one project every 12 hourly runs, not one every run)."""
    oldest = sorted(last, key=lambda k: (last[k] or "", str(k)))
    if period <= dt.timedelta(0):
        return oldest, 0.0
    credit = min(credit + n_all * min(interval / period, 1.0), float(n_all))
    due = {k for k in last if not last[k] or now + interval - jira_ts(last[k]) >= period}
    pick = [k for i, k in enumerate(oldest) if i < int(credit + 1e-9) or k in due]
    # the keys listed for another reason this run were refreshed too: they pay the credit
    return pick, max(0.0, credit - len(pick) - (n_all - len(last)))


def _reasons(why: dict) -> str:
    n = {r: sum(1 for x in why.values() if x == r) for r in REASONS}
    return ", ".join(f"{v} {r}" for r, v in n.items() if v) or "nothing due"


# --------------------------------------------------------------------------- listings
class Agile:
    """Plans and makes one run's board and sprint listings (shared by the `boards` and
    `sprints` resources: the board listing is made once, by whichever asks first)."""

    def __init__(self, api, stats: HttpStats, integration: str, projects: list[str],
                 scope_cols: Callable[[str], dict], scope_error: Callable[[str, str, ApiError], None],
                 concurrency: int, now: Callable[[], dt.datetime], mentions: Mentions,
                 sprint_sweep_hours: float = SWEEP_HOURS, board_sweep_hours: float | None = None):
        self.api, self.stats, self.integration = api, stats, integration
        # boards are listed by project; a JQL scope has its sprint ids on its issues
        self.projects = [s for s in projects if not s.startswith("jql:")]
        self.by_key = {}
        for s in self.projects:
            self.by_key.setdefault(scope_key(s), s)
        self.scope_cols, self.scope_error, self.concurrency = scope_cols, scope_error, concurrency
        self.now, self.mentions = now, mentions
        self.sprint_period = dt.timedelta(hours=float(sprint_sweep_hours))
        self.board_period = dt.timedelta(hours=float(sprint_sweep_hours if board_sweep_hours is None
                                                     else board_sweep_hours))
        self._lock = threading.Lock()
        self._boards: dict | None = None

    # ---------------------------------------------------------------- boards
    def boards(self) -> dict:
        """This run's board listing: {rows (listed now, as their owners have them), order
        (every known board), owner (board -> scope), type, at, interval}."""
        with self._lock:
            if self._boards is None:
                self._boards = self._list_boards()
            return self._boards

    def _list_boards(self) -> dict:
        st = dlt.current.resource_state("boards")
        projects: dict = st.setdefault("projects", {})
        foreign: dict = st.setdefault("foreign", {})
        now = self.now()
        last_run = jira_ts(st.get("last_run"))
        interval = max(now - last_run, dt.timedelta(0)) if last_run else dt.timedelta(0)
        st["last_run"] = canon(now)
        known = {b for s in self.projects for b, _ in (projects.get(scope_key(s)) or {}).get("boards", [])}
        why: dict[str, str] = {}
        for s in self.projects:
            p = projects.get(scope_key(s))
            if p is None or p.get("failed"):
                why[s] = "failed" if p else "first"
        for board, keys in sorted(self.mentions.board_projects.items()):
            seen = jira_ts(foreign.get(str(board)))
            if board in known or (seen and now - seen < self.board_period):
                continue
            for k in sorted(keys):
                if k in self.by_key:
                    why.setdefault(self.by_key[k], "issue")
        last = {s: (projects.get(scope_key(s)) or {}).get("at") for s in self.projects if s not in why}
        picked, st["sweep_credit"] = sweep_pick(last, now, self.board_period, interval, len(self.projects),
                                                st.get("sweep_credit", 0.0))
        for s in picked:
            why[s] = "sweep"

        def one_scope(s: str) -> Iterator[tuple[str, list[dict]]]:
            try:
                yield s, self._scope_boards(s)
            except AuthError:
                raise
            except ApiError as e:
                self.scope_error("boards", s, e)

        todo = [s for s in self.projects if s in why]
        listed = dict(fan_out(todo, one_scope, self.concurrency))
        for s in todo:
            k = scope_key(s)
            if s in listed:
                projects[k] = {"at": canon(now), "boards": [[int(b["id"]), b.get("type")] for b in listed[s]]}
            else:
                projects[k] = {**(projects.get(k) or {"at": None, "boards": []}), "failed": True}
        order, owner, btype = [], {}, {}
        for s in self.projects:  # the sources file's order: the first scope listing a board owns it
            for b, t in (projects.get(scope_key(s)) or {}).get("boards", []):
                if b not in owner:
                    owner[b], btype[b] = s, t
                    order.append(b)
        for board in self.mentions.board_projects:
            if board not in owner and str(board) not in foreign:
                foreign[str(board)] = canon(now)
        for b in [b for b in foreign if int(b) in owner or now - jira_ts(foreign[b]) >= self.board_period]:
            del foreign[b]
        rows, seen = [], set()
        for s in todo:
            for b in listed.get(s, []):
                if int(b["id"]) not in seen:  # a board whose filter spans projects is listed for each
                    seen.add(int(b["id"]))
                    rows.append(board_row(b, self.scope_cols(owner[int(b["id"])])))
        self.stats.say(f"  jira.boards: listed the boards of {len(todo)} of {len(self.projects)} project(s) "
                       f"({_reasons(why)})")
        return {"rows": rows, "order": order, "owner": owner, "type": btype, "at": now, "interval": interval}

    def _scope_boards(self, scope: str) -> list[dict]:
        start_at, out = 0, []
        while True:
            d = response_json(self.api.request("boards", "GET", "/rest/agile/1.0/board",
                                               params={"projectKeyOrId": scope, "startAt": start_at,
                                                       "maxResults": AGILE_PAGE}))
            vals = d.get("values") or []
            out += vals
            start_at += len(vals)
            if not vals or d.get("isLast") is True or (d.get("total") is not None and start_at >= d["total"]):
                return out

    def board_rows(self) -> list[dict]:
        """The rows of the boards listed this run that changed since they were loaded."""
        sigs = Signatures("boards")
        return [r for r in self.boards()["rows"] if sigs.changed(r["id"], r)]

    # ---------------------------------------------------------------- sprints
    def sprint_rows(self) -> Iterator[list[dict]]:
        """The changed rows of the sprints of the boards due for a listing, board by board."""
        b = self.boards()
        now, interval = b["at"], b["interval"]
        st = dlt.current.resource_state("sprints")
        boards_st: dict = st.setdefault("boards", {})
        known: dict = st.setdefault("known", {})
        sigs = Signatures("sprints")
        # kanban boards have no sprints (Jira answers 400)
        scrum = [x for x in b["order"] if (b["type"].get(x) or "").lower() != "kanban"]
        in_scrum = set(scrum)
        for k in [k for k in boards_st if int(k) not in in_scrum]:
            del boards_st[k]  # a board no project lists any more: its sprints are no one's
        listed_on: dict[int, int] = {}
        for x in scrum:
            for sid in (boards_st.get(str(x)) or {}).get("sprints", []):
                listed_on.setdefault(sid, x)

        why: dict[int, str] = {}
        for x in scrum:
            s = boards_st.get(str(x))
            if s is None or s.get("failed"):
                why[x] = "failed" if s else "first"
        for sid, v in sorted(self.mentions.views.items()):
            board = v["board"] if v["board"] in in_scrum else listed_on.get(sid)
            if board is None or board in why:
                continue
            k = known.get(str(sid))
            if k is None or (k[0] if isinstance(k, list) else k) != v["key"]:
                why[board] = "issue"
        for sid, k in known.items():
            board = listed_on.get(int(sid))
            if not isinstance(k, list) or board is None or board in why:
                continue
            _, state, start, end = k
            if (state == "active" and end and jira_ts(end) <= now) or \
                    (state == "future" and start and jira_ts(start) <= now + interval):
                why[board] = "clock"
        for x in scrum:  # between sprints: the next one, planned without dates, is about to start
            bs = boards_st.get(str(x)) or {}
            closed, at = jira_ts(bs.get("closed")), jira_ts(bs.get("at"))
            # listed again once half the time since the completion has passed since the last
            # listing (hourly runs: 1, 2, 4, 8, 16 hours after it; the slack keeps a run that
            # starts a little early on that plan): a start is seen at most that late
            if x in why or not closed or not at or now - closed >= self.sprint_period or \
                    now - at + BETWEEN_SLACK < (now - closed) / 2:
                continue
            held = [k for k in (known.get(str(sid)) for sid in bs.get("sprints", [])) if isinstance(k, list)]
            if any(k[1] == "future" and not k[2] for k in held) and not any(k[1] == "active" for k in held):
                why[x] = "clock"
        last = {x: boards_st[str(x)].get("at") for x in scrum if x not in why}
        picked, st["sweep_credit"] = sweep_pick(last, now, self.sprint_period, interval, len(scrum),
                                                st.get("sweep_credit", 0.0))
        for x in picked:
            why[x] = "sweep"

        def one_board(x: int) -> Iterator[tuple[int, list[dict]]]:
            try:
                yield x, list(self._board_sprints(x))
            except AuthError:
                raise
            except ApiError as e:
                if e.status == 400:  # "The board does not support sprints": none to list
                    yield x, []
                else:
                    self.scope_error("sprints", b["owner"][x], e)

        todo = [x for x in scrum if x in why]
        # boards listed `concurrency` at a time, their sprints taken in board order
        listings = dict(fan_out(todo, one_board, self.concurrency))
        for x in todo:
            if x in listings:
                done = [d for d in (jira_ts(s.get("completeDate")) for s in listings[x]) if d]
                boards_st[str(x)] = {"at": canon(now), "sprints": [int(s["id"]) for s in listings[x]],
                                     "closed": canon(max(done)) if done else None}
            else:
                boards_st[str(x)] = {**(boards_st.get(str(x)) or {"at": None, "sprints": []}), "failed": True}
        owner: dict[int, int] = {}  # sprint -> the first board whose last listing holds it
        for x in scrum:
            for sid in (boards_st.get(str(x)) or {}).get("sprints", []):
                owner.setdefault(sid, x)
        for k in [k for k in known if int(k) not in owner]:
            del known[k]  # deleted, or on no listed board any more
        emitted: set[int] = set()
        n_rows = 0
        for x in todo:
            rows = []
            for s in listings.get(x) or []:
                sid = int(s["id"])
                if sid in emitted:
                    continue
                emitted.add(sid)
                o = owner.get(sid, x)
                r = sprint_row(s, o, self.scope_cols(b["owner"][o]))
                key = view_key(r["name"], r["state"], r["start_at"], r["end_at"], r["complete_at"])
                known[str(sid)] = key if r["state"] == "closed" else \
                    [key, r["state"], canon(r["start_at"]) if r["start_at"] else None,
                     canon(r["end_at"]) if r["end_at"] else None]
                if sigs.changed(sid, r):
                    rows.append(r)
            if rows:
                n_rows += len(rows)
                self.stats.add_rows(self.integration, "sprints", len(rows))
                yield rows
        self.stats.say(f"  jira.sprints: listed the sprints of {len(todo)} of {len(scrum)} board(s) "
                       f"({_reasons(why)}); {n_rows} sprint row(s) changed")

    def _board_sprints(self, board_id: int) -> Iterator[dict]:
        start_at = 0
        while True:
            d = response_json(self.api.request("sprints", "GET", f"/rest/agile/1.0/board/{board_id}/sprint",
                                               params={"startAt": start_at, "maxResults": AGILE_PAGE}))
            vals = d.get("values") or []
            yield from vals
            start_at += len(vals)
            # sprint lists usually carry no `total`: isLast (or an empty page) ends it
            if not vals or d.get("isLast") is True or (d.get("isLast") is None and d.get("total") is not None
                                                       and start_at >= d["total"]):
                return
