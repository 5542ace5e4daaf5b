"""Jira as a dlt source: issues (JQL search with their changelog), boards and sprints
(agile 1.0), and the users seen on them.

Same code for Jira Cloud (`https://<site>.atlassian.net`, `integrations.jira.flavor:
cloud`), Jira Data Center / Server (`flavor: data_center`) and the simulator.

| | Jira Cloud | Jira Data Center |
|---|---|---|
| auth | basic: `SOURCES__JIRA__EMAIL` + `SOURCES__JIRA__API_TOKEN` | `SOURCES__JIRA__API_TOKEN` (a personal access token) as `Authorization: Bearer`; `integrations.jira.auth: basic` for user name + password |
| search | `POST /rest/api/3/search/jql`, `nextPageToken` paging, only ids unless `fields` are listed; asks `maxResults` 5,000, gets 100 a page with fields | `GET /rest/api/2/search`, `startAt` / `maxResults` / `total`; pages of 1,000 (`jira.search.views.default.max`) |
| changelog | embedded (`expand=changelog`) truncated to the latest 40 histories; only issues whose `total` exceeds what was embedded are completed, many pages' worth in one `POST /rest/api/3/changelog/bulkfetch` (fallback `GET /rest/api/3/issue/{key}/changelog`, `startAt` / `isLast`) | embedded whole; when not, `GET /rest/api/2/issue/{key}?expand=changelog` |
| users | `accountId` | no `accountId`: the user `key` (`JIRAUSER10100`, stable across renames) takes its place, `name` is kept as `user_name` |

Resources (dagster-dlt names them `dlt_jira_<resource>`), all `merge`:

| resource | API | primary key | incremental |
|---|---|---|---|
| issues (+ nested `__sprints`, `__labels`, `__components`) | JQL search | id | `updated` cursor per scope |
| issue_changelogs | the changelog of each loaded issue (one row per history item) | history_id, item_index | (its parent's) |
| users | assignees, reporters and changelog authors of the loaded issues; `scope_rank`: see Throughput | jira_account_id | (its parent's) |
| boards | `GET /rest/agile/1.0/board?projectKeyOrId=KEY` | id | listing per project, where due (below) |
| sprints | `GET /rest/agile/1.0/board/{id}/sprint` (paged on `isLast`: Jira Cloud leaves `total` out) | id | listing per board, where due (below) |

No `sprint_issues` resource (`/rest/agile/1.0/sprint/{id}/issue`): it would cost a listing
per sprint on every run and only says which issues are in a sprint *now*. The issues carry
the Sprint field (every sprint the issue has been in, `issues__sprints`) and their changelog
carries every Sprint change with sprint ids (`from_value` / `to_value`, "11, 12"), which is
what committed / added / removed scope needs (replay the Sprint items against the sprint's
start and complete dates from `sprints`).

Boards and sprints (jira_sprints.py). Jira has no "changed since" filter for them, so the
first sync lists them all and a later run lists a board's sprints only where something can
have changed: a changed issue's Sprint field names a sprint the warehouse does not hold as
it is now (new, or another name, state or dates), a stored sprint is due to change state
by the server's clock (an active sprint past its end, a future one whose start is due), the
board is new or its last listing failed, or the rolling sweep reaches it
(`integrations.jira.sprint_sweep_hours`, default 24: every board at least once in that
time, oldest listing first, spread over the runs); projects' board listings the same way
(`board_sweep_hours`, default the same), and at once for a board an issue names that no
listing has shown. Each run prints how many it listed and why.

Incremental cursors. One cursor per scope (a project key, or a JQL from the sources file)
in dlt resource state, so a project added to the sources file later is read from
`start_date`, and a scope that failed keeps its cursor while the others move. JQL's
`updated` has minute precision and is read in the *user's* time zone (`GET /myself`
says which): each run asks for `updated >= "<cursor - overlap, in that zone, yyyy-MM-dd
HH:mm>"` (overlap `integrations.jira.cursor_overlap_minutes`, default 5, which also
absorbs issues indexed a little late), `ORDER BY updated ASC, key ASC`. The issues of the
overlap that were already loaded with the same `updated` are remembered (id -> updated) and
not emitted again, so a run with no change upstream loads nothing and costs one search
request per scope. A scope's cursor moves only when all its pages were read.

Data Center's offset paging over a result ordered by `updated` shifts when an issue is
updated while the pages are read (the issue moves to the end, the others move up one): the
next page starts a few issues early (`DC_PAGE_OVERLAP`) and duplicates are dropped.

Custom fields are per site: story points ("Story point estimate",
`com.pyxis.greenhopper.jira:jsw-story-points`, or "Story Points"), Sprint
(`com.pyxis.greenhopper.jira:gh-sprint`), Epic Link (company-managed / Data Center) and
Severity are found by type, then by name, in `GET /rest/api/{2,3}/field` once per run
(`integrations.jira.story_points_field` / `sprint_field` / `severity_field` override).
Their values are flattened into typed columns; the raw values of the custom fields read
are kept as one JSON text column, `custom_fields`.

Epic: the parent when the parent is an epic (hierarchy level 1 or type "Epic", team- and
company-managed projects on current Cloud), else the Epic Link field. A sub-task's epic is
its parent's epic: staging resolves it by joining on `parent_id`.

Errors: 401 stops the source with what to set (SOURCES__JIRA__EMAIL and
SOURCES__JIRA__API_TOKEN); a base URL of the other flavour (Cloud answering 410 to the old
search or 403 to a bearer token, Data Center answering 404 to REST v3) stops it with the
flavour to set. A scope Jira refuses (invalid JQL: 400 with Jira's `errorMessages`; an
unknown project: 400 "does not exist for the field 'project'" from search, 400/404 from
agile) is recorded in ops with the scope and its line in the sources file, and the other
scopes still load.

Every row carries the SEI `project_id`, `organisation_id`, `account_id` of its scope (users:
the first scope of the sources file that ever named them; boards: the first scope that
listed them) and `scope` (the project key or `jql:...`).

Throughput. A full sync costs its search pages (Cloud answers at most 100 issues a page when
fields are asked for, whatever `maxResults` says; Data Center 1,000), the agile listings (a
board page per project, a sprint page per board; an hourly run only those due), two setup requests, and changelog
follow-ups only for issues whose embedded changelog is truncated: pages holding such issues
wait, as rows (up to `HELD_ISSUES` issues; only the truncated issues are kept whole), so one
bulk request completes up to 1,000 issues of many pages instead of one request per page.
`integrations.jira.concurrency` (default 4) scopes are searched at once, each wholly in one
thread (its pages in order, its cursor committed after its last page), and board sprint
listings likewise; at most that many requests are in flight (`ingestion.http.RequestGate`).
Users named in several scopes keep the first scope in the sources file's order that ever
named them (`scope_rank`, kept in resource state; dlt's `dedup_sort`), whatever order the
threads met them in and whichever issues a run read. `page_size` (default: the
largest the flavour allows) caps `maxResults`. Figures: docs/benchmarks.md, Ingestion.

This module is the source and its JQL; the client is jira_api.py, fields, timestamps and rows
jira_rows.py, per-scope cursors jira_state.py, boards and sprints jira_sprints.py.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import threading
import zoneinfo
from typing import Any, Iterator

import dlt

from ingestion.config import Runtime
from ingestion.github_state import fan_out
from ingestion.http import ApiError, AuthError, HttpStats, NotFound, response_json, server_time
from ingestion.jira_api import CLOUD, INTEGRATION, error_messages, make_api, normalise_flavor
from ingestion.jira_rows import (BOARD_COLUMNS, CHANGELOG_COLUMNS, FieldMap, ISSUE_COLUMNS, SPRINT_COLUMNS,
                                 USER_COLUMNS, canon, changelog_rows, issue_row, jira_ts, user_id, user_row)
from ingestion.jira_sprints import SWEEP_HOURS, Agile, Mentions
from ingestion.jira_state import ScopeCursors, _Stash

SCOPE_KEYS = ("project_id", "organisation_id", "account_id", "scope", "scope_rank")


DEFAULT_OVERLAP_MINUTES = 5
UNKNOWN_TZ_OVERLAP_MINUTES = 26 * 60  # no user time zone known: cover every UTC offset
DC_PAGE_OVERLAP = 5
CHANGELOG_PAGE = 100
BULK_CHANGELOG_ISSUES = 1000  # issues per changelog/bulkfetch request (Jira's maximum)
HELD_ISSUES = 5000            # issues held back at most while their truncated changelogs wait for one bulk fetch
CONCURRENCY = 4               # scopes (projects, JQLs) searched at once; requests in flight
# Issues asked for per search page when `page_size` is not set: Cloud's search/jql takes
# maxResults up to 5,000 and answers fewer when fields are asked for (100 today), Data Center
# answers up to `jira.search.views.default.max` (1,000 by default).
MAX_PAGE = {CLOUD: 5000, "data_center": 1000}
EXPECTED_PAGE = {CLOUD: 100, "data_center": 1000}  # what a page with fields holds (for `sei ingest --plan`)


def search_page_size(flavor: str, page_size: int | None) -> tuple[int, int]:
    """(maxResults to ask for, issues a page is expected to hold) for a flavour and the
    configured `page_size` (0 / None: the largest the API allows)."""
    flavor = normalise_flavor(flavor)
    asked = MAX_PAGE[flavor] if not page_size else max(1, min(int(page_size), MAX_PAGE[flavor]))
    return asked, min(asked, EXPECTED_PAGE[flavor])


def jql_time(d: dt.datetime, tz: dt.tzinfo) -> str:
    """JQL's date-time literal (minute precision) in the searching user's zone."""
    return d.astimezone(tz).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- JQL
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def strip_order_by(jql: str) -> str:
    """The JQL without its ORDER BY clause (one outside quoted strings)."""
    quote, cut = None, None
    i = 0
    while i < len(jql):
        ch = jql[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        else:
            m = _ORDER_BY.match(jql, i)
            if m and (i == 0 or not (jql[i - 1].isalnum() or jql[i - 1] == "_")):
                cut = i
                break
        i += 1
    return (jql[:cut] if cut is not None else jql).strip()


def _jql_quote(v: str) -> str:
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def scope_jql(scope: str, since: str) -> str:
    """The search for one scope: a project key or `jql:<JQL>`, from `since` (a JQL time)."""
    bound = f'updated >= "{since}" ORDER BY updated ASC, key ASC'
    if scope.startswith("jql:"):
        return f"({strip_order_by(scope[4:])}) AND {bound}"
    return f"project = {_jql_quote(scope)} AND {bound}"


# --------------------------------------------------------------------------- the source
@dlt.source(name="jira", section="jira", max_table_nesting=2)
def jira_source(projects: list[str] = dlt.config.value,
                start_date: str | dt.datetime = "2025-01-01",
                base_url: str = dlt.config.value,
                email: str | None = dlt.secrets.value,
                api_token: str | None = dlt.secrets.value,
                flavor: str = CLOUD,
                auth: str | None = None,
                page_size: int | None = None,
                cursor_overlap_minutes: int = DEFAULT_OVERLAP_MINUTES,
                field_overrides: dict | None = None,
                changelog_bulkfetch: bool = True,
                sprint_sweep_hours: float = SWEEP_HOURS,
                board_sweep_hours: float | None = None,
                scopes: dict[str, dict] | None = None,
                runtime: Runtime | None = None,
                stats: HttpStats | None = None,
                concurrency: int = CONCURRENCY):
    """Jira scopes: project keys (`PAY`) and/or JQLs written `jql:<JQL>`.

    `email` / `api_token` come from `SOURCES__JIRA__EMAIL` / `SOURCES__JIRA__API_TOKEN` (or
    `[sources.jira]` in `.dlt/secrets.toml`) when not passed. `flavor` is `cloud` or
    `data_center`. `changelog_bulkfetch=False` completes truncated Cloud changelogs one
    issue at a time (`/issue/{key}/changelog`) instead of in bulk. `scopes` maps a scope
    (as written in `projects`) to {"project_id", "organisation_id", "account_id", "where"}
    (where: `file:line`, for messages). `runtime` (waits, attempts) and `stats` (ops
    counters) are shared with the pipeline. `page_size`: issues asked for per search page
    (None: the most the flavour allows). `concurrency`: scopes searched at once (and boards
    whose sprints are listed at once), and requests in flight (1: one at a time, in the
    extract thread).
    """
    runtime = runtime or Runtime()
    stats = stats or HttpStats()
    flavor = normalise_flavor(flavor)
    base = str(base_url).rstrip("/")
    start = start_date if isinstance(start_date, dt.datetime) else dt.datetime.fromisoformat(
        str(start_date).replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    page_size, _ = search_page_size(flavor, page_size)
    concurrency = max(1, int(concurrency))
    api = make_api(base, flavor, runtime, stats, email, api_token, auth,
                   max_in_flight=concurrency if concurrency > 1 else None)
    rest = "/rest/api/3" if flavor == CLOUD else "/rest/api/2"
    scopes = scopes or {}
    overlap_minutes = int(cursor_overlap_minutes)
    cl_stash, user_stash = _Stash(), _Stash()
    mentions = Mentions()  # sprints named by the issues read (they decide which boards are listed)
    run = {"issues": "not started"}
    scope_rank = {scope: i for i, scope in reversed(list(enumerate(projects)))}  # first position of each scope

    def rank_of(scope: str) -> int:
        return scope_rank.get(scope, len(projects))  # a scope no longer in the sources file: last
    setup_lock = threading.Lock()
    ctx: dict[str, Any] = {}

    def scope_cols(scope: str) -> dict:
        s = scopes.get(scope) or {}
        return {"project_id": s.get("project_id"), "organisation_id": s.get("organisation_id"),
                "account_id": s.get("account_id"), "scope": scope}

    def where(scope: str) -> str:
        w = (scopes.get(scope) or {}).get("where")
        return f" (sources file {w})" if w else ""

    def describe_scope(scope: str) -> str:
        return f"JQL {scope[4:]!r}" if scope.startswith("jql:") else f"project {scope}"

    def setup() -> dict:
        """Once per run: who we are (time zone for JQL dates; a clear 401 before any
        search, which Jira may answer with an empty page for bad credentials) and the
        site's custom field ids."""
        with setup_lock:
            if ctx:
                return ctx
            resp = api.request("myself", "GET", f"{rest}/myself")
            me = response_json(resp)
            tz_name = me.get("timeZone")
            try:
                tz = zoneinfo.ZoneInfo(tz_name) if tz_name else None
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                tz = None
            overlap = dt.timedelta(minutes=overlap_minutes)
            if tz is None:
                stats.say(f"  jira: the user's time zone ({tz_name!r}) is unknown: searching with a "
                          f"{UNKNOWN_TZ_OVERLAP_MINUTES // 60} h overlap")
                tz, overlap = dt.timezone.utc, dt.timedelta(minutes=max(overlap_minutes, UNKNOWN_TZ_OVERLAP_MINUTES))
            try:
                fm = FieldMap.discover(response_json(api.request("fields", "GET", f"{rest}/field")), field_overrides)
            except AuthError:
                raise
            except ApiError as e:
                stats.error(INTEGRATION, "fields", f"custom fields unknown, story points / sprints not loaded: {e}")
                fm = FieldMap.discover([], field_overrides)
            ctx.update(tz=tz, overlap=overlap, fields=fm, bulk_changelog=flavor == CLOUD and changelog_bulkfetch,
                       now=server_time(resp))
            return ctx

    def scope_error(resource: str, scope: str, e: ApiError) -> None:
        msgs = error_messages(e.response)
        said = ("; ".join(m.rstrip(".") for m in msgs) or str(e)).rstrip(".")
        if e.status in (400, 404) and any("does not exist for the field 'project'" in m or
                                          "no project could be found" in m.lower() for m in msgs):
            key = scope if not scope.startswith("jql:") else "in the JQL"
            msg = (f"Jira project {key} not found, or these credentials cannot see it{where(scope)} "
                   f"(Jira said: {said}). What to do: check the project key in the sources file and that the "
                   f"account can browse the project.")
        elif e.status == 400 and resource == "issues":
            msg = (f"Jira rejected the search for {describe_scope(scope)}{where(scope)}: {said}. What to do: fix "
                   f"the {'JQL' if scope.startswith('jql:') else 'project key'} in the sources file "
                   f"(the search sent was: {getattr(e, 'jql', '')}).")
        elif isinstance(e, NotFound) and resource == "boards":
            msg = (f"Jira project {scope} not found by the agile API, or these credentials cannot see it"
                   f"{where(scope)} ({said}).")
        else:
            msg = f"{describe_scope(scope)}{where(scope)}: {e}"
        stats.error(INTEGRATION, resource, msg)
        stats.say(f"  jira.{resource} {scope}: ERROR {msg}")

    # ---------------------------------------------------------------- issues
    def search_pages(jql: str, fields: list[str]) -> Iterator[list[dict]]:
        if flavor == CLOUD:
            body: dict[str, Any] = {"jql": jql, "fields": fields, "expand": "changelog", "maxResults": page_size}
            tokens = set()
            while True:
                d = response_json(api.request("issues", "POST", f"{rest}/search/jql", json=body))
                yield d.get("issues") or []
                token = d.get("nextPageToken")
                if not token or d.get("isLast") is True or token in tokens:
                    return
                tokens.add(token)
                body["nextPageToken"] = token
        else:
            start_at, step_back = 0, min(DC_PAGE_OVERLAP, page_size // 4)
            while True:
                d = response_json(api.request("issues", "GET", f"{rest}/search",
                                              params={"jql": jql, "startAt": start_at, "maxResults": page_size,
                                                      "fields": ",".join(fields), "expand": "changelog"}))
                issues = d.get("issues") or []
                yield issues
                total = d.get("total")
                if not issues or (total is not None and start_at + len(issues) >= total):
                    return
                start_at += max(1, len(issues) - step_back)

    @dlt.resource(name="issues", write_disposition="merge", primary_key="id", columns=ISSUE_COLUMNS)
    def issues():
        run["issues"] = "reading"
        try:
            yield from _issues()
        finally:
            run["issues"] = "read"

    def _issues():
        c = setup()
        cursors = ScopeCursors("issues", start, c["overlap"])

        def one_scope(scope: str) -> Iterator[list[dict]]:
            try:
                yield from _scope_issues(scope, cursors, c)
            except AuthError:
                raise
            except ApiError as e:
                if e.status in (401, 410) or (e.status == 403 and "bearer token" in str(e)):
                    raise  # the whole source is misconfigured
                scope_error("issues", scope, e)

        # `concurrency` scopes searched at once, each wholly in one thread (its pages in order,
        # its cursor committed after its last page); a failing scope is recorded, not raised.
        yield from fan_out(projects, one_scope, concurrency)
        dlt.current.resource_state("issues")["summary"] = cursors.summary()

    def _scope_issues(scope: str, cursors: ScopeCursors, c: dict) -> Iterator[list[dict]]:
        fm: FieldMap = c["fields"]
        jql = scope_jql(scope, jql_time(cursors.since(scope), c["tz"]))
        cols = scope_cols(scope)
        n_rows = n_pages = 0
        # Pages with truncated changelogs wait (up to HELD_ISSUES issues, as rows except the
        # truncated issues themselves) so that one bulk fetch completes the changelogs of many
        # pages (Cloud's search embeds an issue's latest 40 histories: long-lived issues have
        # more, a few per page, and a bulk request per page would double the requests).
        held: list[list] = []       # pages: (row, changelog rows, user rows), or [issue] awaiting its changelog
        pending: list[dict] = []    # the truncated issues of the held pages
        n_held = 0

        def release() -> Iterator[list[dict]]:
            nonlocal n_rows, n_held
            _complete_changelogs(pending, c)
            for pg in held:
                built = [_built(x[0], fm, cols) if isinstance(x, list) else x for x in pg]
                for row, cl_rows, user_rows in built:
                    cl_stash.put(row["id"], cl_rows)
                    user_stash.put(row["id"], user_rows)
                n_rows += len(built)
                stats.add_rows(INTEGRATION, "issues", len(built))
                yield [b[0] for b in built]
            held.clear()
            pending.clear()
            n_held = 0

        try:
            for page in search_pages(jql, fm.request_fields()):
                n_pages += 1
                fresh = []
                for it in page:
                    f = it.get("fields") or {}
                    if fm.sprint:
                        mentions.add((f.get("project") or {}).get("key") or str(it.get("key", "")).rsplit("-", 1)[0],
                                      f.get(fm.sprint))
                    upd = jira_ts(f.get("updated"))
                    u = canon(upd) if upd else None
                    if cursors.fresh(scope, str(it["id"]), u):
                        fresh.append(it)
                        cursors.seen(scope, str(it["id"]), u)
                if not fresh:
                    continue
                short = [it for it in fresh if _truncated(it)]
                if held and len(pending) + len(short) > BULK_CHANGELOG_ISSUES:
                    yield from release()  # one bulk request holds at most BULK_CHANGELOG_ISSUES issues
                held.append([[it] if _truncated(it) else _built(it, fm, cols) for it in fresh])
                pending.extend(short)
                n_held += len(fresh)
                if not pending or not c.get("bulk_changelog") or n_held >= HELD_ISSUES:
                    yield from release()
            yield from release()
        except ApiError as e:
            e.jql = jql  # type: ignore[attr-defined]
            raise
        cursors.commit(scope)
        if n_rows:
            stats.say(f"  jira.issues {scope}: {n_rows} changed in {n_pages} page(s)")

    def _built(it: dict, fm: FieldMap, cols: dict) -> tuple[dict, list[dict], list[dict]]:
        """The issue's row, its changelog rows and its user rows (for the transformers)."""
        row = issue_row(it, fm, cols, base)
        hist = (it.get("changelog") or {}).get("histories") or []
        f = it.get("fields") or {}
        users = [u for u in [f.get("assignee"), f.get("reporter")] + [h.get("author") for h in hist]
                 if isinstance(u, dict) and user_id(u)]
        return row, changelog_rows(row["id"], row["key"], hist, cols), [user_row(u, cols) for u in users]

    def _truncated(it: dict) -> bool:
        """Whether the embedded changelog holds fewer histories than its `total` (Cloud's
        search embeds the latest 40): only such issues cost a changelog request."""
        cl = it.get("changelog") or {}
        return (cl.get("total") or 0) > len(cl.get("histories") or [])

    def _complete_changelogs(page: list[dict], c: dict) -> None:
        """Replace truncated embedded changelogs (total > histories shown) by the whole history."""
        short = [it for it in page if _truncated(it)]
        if not short:
            return
        full: dict[str, list[dict]] = {}
        if c.get("bulk_changelog"):
            try:
                full = _bulk_changelogs([str(it["id"]) for it in short])
            except AuthError:
                raise
            except ApiError as e:
                if e.status not in (400, 403, 404, 405, 501):
                    raise
                c["bulk_changelog"] = False  # not on this site: one issue at a time from now on
                stats.say(f"  jira: changelog bulk fetch unavailable ({e.status}), paging per issue")
        for it in short:
            cl = it["changelog"]
            hist = full.get(str(it["id"]))
            if hist is None or len(hist) < cl["total"]:
                hist = _issue_changelog(it)
            by_id = {str(h["id"]): h for h in hist}
            for h in cl.get("histories") or []:  # never lose an embedded history
                by_id.setdefault(str(h["id"]), h)
            it["changelog"] = {"startAt": 0, "maxResults": len(by_id), "total": max(cl["total"], len(by_id)),
                               "histories": sorted(by_id.values(), key=lambda h: (h.get("created") or "", str(h["id"])))}

    def _bulk_changelogs(ids: list[str]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for i in range(0, len(ids), BULK_CHANGELOG_ISSUES):
            body: dict[str, Any] = {"issueIdsOrKeys": ids[i:i + BULK_CHANGELOG_ISSUES], "maxResults": 1000}
            tokens = set()
            while True:
                d = response_json(api.request("issue_changelogs", "POST", f"{rest}/changelog/bulkfetch", json=body))
                for log in d.get("issueChangeLogs") or []:
                    out.setdefault(str(log.get("issueId")), []).extend(log.get("changeHistories") or [])
                token = d.get("nextPageToken")
                if not token or token in tokens:
                    break
                tokens.add(token)
                body["nextPageToken"] = token
        return out

    def _issue_changelog(it: dict) -> list[dict]:
        key = it.get("key") or it["id"]
        if flavor != CLOUD:
            d = response_json(api.request("issue_changelogs", "GET", f"{rest}/issue/{key}",
                                          params={"fields": "summary", "expand": "changelog"}))
            return (d.get("changelog") or {}).get("histories") or []
        out, start_at = [], 0
        while True:
            d = response_json(api.request("issue_changelogs", "GET", f"{rest}/issue/{key}/changelog",
                                          params={"startAt": start_at, "maxResults": CHANGELOG_PAGE}))
            vals = d.get("values") or []
            out += vals
            start_at += len(vals)
            if not vals or d.get("isLast") is True or (d.get("total") is not None and start_at >= d["total"]):
                return out

    @dlt.transformer(name="issue_changelogs", data_from=issues, write_disposition="merge",
                     primary_key=("history_id", "item_index"), columns=CHANGELOG_COLUMNS)
    def issue_changelogs(rows):
        out = []
        for r in rows if isinstance(rows, list) else [rows]:
            out += cl_stash.pop(r["id"])
        if out:
            stats.add_rows(INTEGRATION, "issue_changelogs", len(out))
            yield out

    @dlt.transformer(name="users", data_from=issues, write_disposition="merge", primary_key="jira_account_id",
                     columns={**USER_COLUMNS, "scope_rank": {"data_type": "bigint", "dedup_sort": "asc"}})
    def users(rows):
        # A user belongs to the first scope, in the sources file's order, whose issues ever
        # named them (`scope_rank`: that scope's position), kept in resource state across
        # runs: so neither the threads' timing (scopes are read at once) nor which issues an
        # incremental run happens to read changes it. A row is emitted for a user not seen
        # before, seen now in a scope ranked before theirs, or whose details changed (then with
        # the scope they keep); when one load holds several rows of a user, the `dedup_sort`
        # hint keeps the lowest rank's.
        owners = dlt.current.resource_state("users").setdefault("owners", {})  # id -> [scope, details hash]
        out = []
        for r in rows if isinstance(rows, list) else [rows]:
            for u in user_stash.pop(r["id"]):
                acc, rank = u["jira_account_id"], rank_of(u["scope"])
                details = {k: v for k, v in u.items() if k not in SCOPE_KEYS}
                dsig = hashlib.sha1(json.dumps(details, sort_keys=True, default=str).encode()).hexdigest()[:16]
                had = owners.get(acc)
                if had is None or rank < rank_of(had[0]):
                    owners[acc] = [u["scope"], dsig]
                    out.append({**u, "scope_rank": rank})
                elif dsig != had[1]:
                    had[1] = dsig
                    out.append({**details, **scope_cols(had[0]), "scope_rank": rank_of(had[0])})
        if out:
            stats.add_rows(INTEGRATION, "users", len(out))
            yield out

    # ---------------------------------------------------------------- boards and sprints
    # Planned from what this run's search read (jira_sprints.py): both resources wait for the
    # issues. dlt advances the resources of a source in turn, the issues first, and skips a
    # None: yielding None lets the search go on. An issues resource not selected never starts.
    agile = Agile(api, stats, INTEGRATION, projects, scope_cols, scope_error, concurrency,
                  lambda: setup()["now"], mentions, sprint_sweep_hours, board_sweep_hours)

    def after_search() -> Iterator[None]:
        while run["issues"] == "reading":
            yield None

    @dlt.resource(name="boards", write_disposition="merge", primary_key="id", columns=BOARD_COLUMNS)
    def boards():
        yield from after_search()
        rows = agile.board_rows()
        if rows:
            stats.add_rows(INTEGRATION, "boards", len(rows))
            yield rows

    @dlt.resource(name="sprints", write_disposition="merge", primary_key="id", columns=SPRINT_COLUMNS)
    def sprints():
        yield from after_search()
        yield from agile.sprint_rows()

    return issues, issue_changelogs, users, boards, sprints


RESOURCES = ["issues", "issue_changelogs", "users", "boards", "sprints"]


def build_source(cfg, stats):
    """The Jira source as `sources.yml` and the dlt secrets configure it."""
    from ingestion import config as cfgmod
    scopes = [s for s in cfg.scopes if s.integration == "jira"]
    where = cfgmod.sources_path(cfg.path)
    if not scopes:
        raise cfgmod.ConfigError(f"{where}: no Jira projects configured. Fix: list them under a project's "
                                 f"`jira: projects: [KEY]` or give a `jira: jql:` (see sources.example.yml).")
    j = cfg.integrations["jira"]
    if not j.base_url:
        raise cfgmod.ConfigError(f"{where}: integrations.jira.base_url is not set. Fix: set it to the Jira site "
                                 f"(https://<site>.atlassian.net, or the Data Center URL) or SOURCES__JIRA__BASE_URL.")
    opts = dict(j.options)
    try:
        flavor = normalise_flavor(opts.get("flavor"))
    except ValueError:
        raise cfgmod.ConfigError(f"{where}: integrations.jira.flavor {opts.get('flavor')!r} is not known. "
                                 f"Fix: use cloud (Jira Cloud) or data_center (Jira Data Center / Server).") from None
    info = {s.value: {"project_id": s.project, "organisation_id": s.organisation, "account_id": s.account,
                      "where": f"{where}:{s.line}" if s.line else str(where)} for s in scopes}
    overrides = {k: opts[k] for k in ("story_points_field", "sprint_field", "epic_link_field", "severity_field")
                 if opts.get(k)}
    return jira_source(projects=[s.value for s in scopes], start_date=cfg.start_date, base_url=j.base_url,
                       email=cfgmod._secret("sources.jira.email"), api_token=cfgmod._secret("sources.jira.api_token"),
                       flavor=flavor, auth=opts.get("auth"), page_size=j.page_size or None,
                       concurrency=int(opts.get("concurrency", CONCURRENCY)),
                       cursor_overlap_minutes=int(opts.get("cursor_overlap_minutes", DEFAULT_OVERLAP_MINUTES)),
                       field_overrides=overrides, scopes=info,
                       changelog_bulkfetch=str(opts.get("changelog_bulkfetch", True)).lower() not in ("false", "0", "no"),
                       sprint_sweep_hours=_hours(opts, "sprint_sweep_hours", SWEEP_HOURS, where),
                       board_sweep_hours=_hours(opts, "board_sweep_hours", None, where),
                       runtime=cfg.runtime, stats=stats)


def _hours(opts: dict, name: str, default: float | None, where) -> float | None:
    from ingestion import config as cfgmod
    v = opts.get(name)
    if v is None:
        return default
    try:
        h = float(v)
    except (TypeError, ValueError):
        h = -1.0
    if not h >= 0:
        raise cfgmod.ConfigError(f"{where}: integrations.jira.{name} {v!r} is not a number of hours. Fix: set it "
                                 f"to hours (24: every board listed at least once a day; 0: every run).")
    return h
