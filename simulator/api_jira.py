"""Jira over the generated organisation: Cloud REST v3 and agile 1.0, Data Center REST v2.

Every answer is cut from the "as of now" views (`simulator.views`), so the search, the
changelog endpoints and the agile API agree with each other and move with the clock.

What follows Jira's own behaviour (and what a client must therefore cope with):
- Cloud search is `GET|POST /rest/api/3/search/jql`: opaque `nextPageToken` paging (absent
  on the last page, `isLast` true), only issue ids unless `fields` is given, unbounded JQL
  refused, at most 5,000 issues a page when only ids are asked for and 100 otherwise. The
  old `/rest/api/3/search` answers 410 with Atlassian's migration message.
- `expand=changelog` on search/jql embeds only the latest 40 histories (newest first, with
  the real `total`); the full history is paged from `/rest/api/3/issue/{key}/changelog`
  (oldest first) or `POST /rest/api/3/changelog/bulkfetch`.
- JQL is parsed (a tokenizer and a recursive-descent parser, not patterns), with Jira's
  error wording for syntax errors, unknown fields and unknown values (HTTP 400).
- Data Center (`SimServer(data_center=True)`) speaks REST v2 only (`/rest/api/3` is a
  404): it searches with `GET|POST /rest/api/2/search` and `startAt`/`maxResults`/`total`,
  embeds the whole changelog and shows users as `name`/`key` (no `accountId`). On Cloud,
  `/rest/api/2/...` mirrors v3 (its old search is 410 as well).
- Authentication: Cloud takes basic auth with the account e-mail and API token (a 401 is
  Jira's bare sentence; a bearer token is a 403, Cloud wanting a Connect JWT there); Data
  Center takes basic auth or a personal access token (`Authorization: Bearer`). Every
  authenticated request costs one unit of the `jira` rate window; a spent window answers
  429 with `Retry-After` and `X-RateLimit-*` (the reset as ISO 8601, as Jira writes it).
- Histories: one per (issue, time), status items with status ids, Sprint items with
  comma-separated sprint ids (null when empty), story points as "Story point estimate"
  (`customfield_10016`). Custom fields: Sprint `customfield_10020`, Severity
  `customfield_10050` (incidents).

This module is the endpoints; the catalogue, the per-clock index and the request context are
jira_state.py, the JSON shapes jira_resources.py, JQL jira_jql.py.
"""
from __future__ import annotations

import base64
import collections
import datetime as dt
import hashlib
import json

import numpy as np

from simulator.http import JIRA_EMAIL, JIRA_TOKEN, Request, Response, Router
from simulator.jira_jql import JqlError, run_jql
from simulator.jira_resources import (_names, histories, issue_json, myself_json, project_json, select_fields,
                                      sprint_json)
from simulator.jira_state import (CLAUSE_NAMES, Ctx, DC_UNAUTHENTICATED, FIELDS, ISSUE_CHANGELOG_LIMIT,
                                  MAX_RESULTS_AGILE, MAX_RESULTS_DC, MAX_RESULTS_FIELDS, MAX_RESULTS_IDS_ONLY,
                                  REMOVED_SEARCH, SEARCH_CHANGELOG_LIMIT, UNAUTHENTICATED, _ctx, jerr)


# --------------------------------------------------------------------------- request helpers
def _list_arg(req: Request, name: str) -> list[str]:
    return [x for v in req.query.get(name, []) for x in v.split(",") if x.strip()] if name in req.query else []


def _int(v, default: int, name: str) -> int:
    if v is None or v == "":
        return default
    try:
        return int(v)
    except (TypeError, ValueError):
        raise JqlError(f"The {name} parameter must be a number.") from None


def _body(req: Request) -> dict | None:
    if not req.body:
        return {}
    b = req.json()
    return b if isinstance(b, dict) else None


def _params(req: Request) -> dict | None:
    """Search parameters from the query string (GET) or the JSON body (POST)."""
    if req.method == "POST":
        b = _body(req)
        if b is None:
            return None
        exp = b.get("expand", "")
        if isinstance(exp, list):
            exp = ",".join(exp)
        fields = b.get("fields")
        return {"jql": b.get("jql", ""), "nextPageToken": b.get("nextPageToken"), "maxResults": b.get("maxResults"),
                "startAt": b.get("startAt"), "fields": fields if isinstance(fields, list) else
                ([fields] if isinstance(fields, str) else None), "expand": exp or ""}
    return {"jql": req.arg("jql", ""), "nextPageToken": req.arg("nextPageToken"), "maxResults": req.arg("maxResults"),
            "startAt": req.arg("startAt"), "fields": req.query.get("fields"),
            "expand": ",".join(req.query.get("expand", []))}


def _expands(p: dict) -> set[str]:
    return {x.strip() for x in (p.get("expand") or "").split(",") if x.strip()}


def _token(jql: str, offset: int) -> str:
    h = hashlib.sha256(jql.encode()).hexdigest()[:12]
    return base64.urlsafe_b64encode(json.dumps({"o": offset, "h": h}).encode()).decode().rstrip("=")


def _untoken(jql: str, tok: str) -> int | None:
    try:
        d = json.loads(base64.urlsafe_b64decode(tok + "=" * (-len(tok) % 4)))
        if d["h"] == hashlib.sha256(jql.encode()).hexdigest()[:12] and int(d["o"]) >= 0:
            return int(d["o"])
    except (ValueError, KeyError, TypeError):
        pass
    return None


def _dc_not_found(req: Request, sim) -> Response:
    host = next((v for k, v in req.headers.items() if k.lower() == "host"), None)
    base = f"http://{host}" if host else sim.url
    return Response.json(404, {"message": f"null for uri: {base}{req.path}", "status-code": 404})


def cloud_only(handler):
    """Endpoints Jira Data Center does not have (REST v3, enhanced search, changelog paging)."""
    def wrapped(req: Request, sim) -> Response:
        if sim.data_center:
            return _dc_not_found(req, sim)
        return handler(req, sim)
    wrapped.__name__ = handler.__name__
    return wrapped


def both(handler):
    """Endpoints of both flavours; Data Center serves them under /rest/api/2 only."""
    def wrapped(req: Request, sim) -> Response:
        if sim.data_center and req.path.startswith("/rest/api/3/"):
            return _dc_not_found(req, sim)
        return handler(req, sim)
    wrapped.__name__ = handler.__name__
    return wrapped


def _json_body_required(req: Request) -> Response | None:
    """A POST whose body is not declared JSON: 415 as Atlassian's gateway answers it."""
    ctype = next((v for k, v in req.headers.items() if k.lower() == "content-type"), None)
    if ctype and "json" in ctype.lower():
        return None
    return Response(415, json.dumps({"type": "about:blank", "title": "Unsupported Media Type", "status": 415,
                                     "detail": f"Content-Type '{ctype}' is not supported.",
                                     "instance": req.path}).encode(),
                    {"Content-Type": "application/problem+json;charset=UTF-8"})


INVALID_PAYLOAD = "Invalid request payload. Refer to the REST API documentation and try again."
BULKFETCH_CACHE = 8  # bulk changelog requests whose sorted histories are kept for their next pages


# --------------------------------------------------------------------------- handlers: search
@cloud_only
def search_jql(req: Request, sim) -> Response:
    """Cloud's enhanced search: nextPageToken paging, ids only unless fields are asked for."""
    if req.method == "POST" and (bad := _json_body_required(req)):
        return bad
    c = _ctx(req, sim)
    p = _params(req)
    if p is None:
        return jerr(400, INVALID_PAYLOAD)
    jql = p["jql"] or ""
    try:
        fields = select_fields(p["fields"], None)
        max_results = _int(p["maxResults"], 50, "maxResults")
        if not 1 <= max_results <= MAX_RESULTS_IDS_ONLY:
            raise JqlError(f"The maxResults parameter must be between 1 and {MAX_RESULTS_IDS_ONLY}.")
        if fields:  # Jira returns fewer issues a page when it has to load fields
            max_results = min(max_results, MAX_RESULTS_FIELDS)
        offset = 0
        if p["nextPageToken"]:
            offset = _untoken(jql, str(p["nextPageToken"]))
            if offset is None:
                raise JqlError("The provided next page token is invalid or expired.")
        order = run_jql(c, jql, require_bound=True)
    except JqlError as e:
        return jerr(400, *e.messages)
    exp = _expands(p)
    limit = getattr(sim, "jira_changelog_embed_limit", SEARCH_CHANGELOG_LIMIT)
    page = order[offset:offset + max_results]
    out = {"issues": [issue_json(c, int(q), fields, "changelog" in exp, limit) for q in page]}
    if offset + len(page) < len(order):
        out["nextPageToken"] = _token(jql, offset + len(page))
        out["isLast"] = False
    else:
        out["isLast"] = True
    if "names" in exp:
        out["names"] = _names(fields)
    if "schema" in exp:
        out["schema"] = {f: FIELDS[f][1] for f in fields or []}
    return Response.json(200, out)


REMOVED_SEARCH_V2 = ("The requested API has been removed. Please use the newer, enhanced search-based API instead. "
                     "Deprecation details are available at https://developer.atlassian.com/changelog/#CHANGE-2046.")


def search_old(req: Request, sim) -> Response:
    """`/rest/api/{2,3}/search`: removed on Cloud (410); Data Center's search under v2."""
    if sim.data_center:
        if req.path.startswith("/rest/api/3/"):
            return _dc_not_found(req, sim)
        return search_dc(req, sim)
    return jerr(410, REMOVED_SEARCH if req.path.startswith("/rest/api/3/") else REMOVED_SEARCH_V2)


def search_dc(req: Request, sim) -> Response:
    """Data Center's search: startAt/maxResults/total, navigable fields by default, the
    whole changelog embedded."""
    if req.method == "POST" and (bad := _json_body_required(req)):
        return bad
    c = _ctx(req, sim)
    p = _params(req)
    if p is None:
        return Response.json(400, {"errorMessages": [INVALID_PAYLOAD], "warningMessages": []})
    try:
        fields = select_fields(p["fields"], "*navigable")
        start = max(0, _int(p["startAt"], 0, "startAt"))
        max_results = min(max(_int(p["maxResults"], 50, "maxResults"), 0), MAX_RESULTS_DC)
        order = run_jql(c, p["jql"] or "", require_bound=False)
    except JqlError as e:
        return Response.json(400, {"errorMessages": e.messages, "warningMessages": []})
    exp = _expands(p)
    page = order[start:start + max_results]
    out = {"expand": "schema,names", "startAt": start, "maxResults": max_results, "total": int(len(order)),
           "issues": [issue_json(c, int(q), fields, "changelog" in exp, None) for q in page]}
    if "names" in exp:
        out["names"] = _names(fields)
    if "schema" in exp:
        out["schema"] = {f: FIELDS[f][1] for f in fields or []}
    return Response.json(200, out)


def _find_issue(c: Ctx, key: str) -> int | None:
    return c.idx.pos_of_key.get(key.upper(), c.idx.pos_of_id.get(key))


NO_ISSUE = "Issue does not exist or you do not have permission to see it."


@both
def get_issue(req: Request, sim) -> Response:
    c = _ctx(req, sim)
    p = _find_issue(c, req.params["key"])
    if p is None:
        return jerr(404, NO_ISSUE)
    fields = select_fields(req.query.get("fields"), "*all")
    exp = {x.strip() for v in req.query.get("expand", []) for x in v.split(",")}
    d = issue_json(c, p, fields, "changelog" in exp, None if c.dc else ISSUE_CHANGELOG_LIMIT)
    if "names" in exp:
        d["names"] = _names(fields)
    return Response.json(200, d)


# --------------------------------------------------------------------------- handlers: changelog
@cloud_only
def issue_changelog(req: Request, sim) -> Response:
    """All of an issue's histories, oldest first, offset-paged (at most 100 a page)."""
    c = _ctx(req, sim)
    key = req.params["key"]
    p = _find_issue(c, key)
    if p is None:
        return jerr(404, NO_ISSUE)
    try:
        start = max(0, _int(req.arg("startAt"), 0, "startAt"))
        max_results = min(max(_int(req.arg("maxResults"), 100, "maxResults"), 1), 100)
    except JqlError as e:
        return jerr(400, *e.messages)
    h = histories(c, p)
    page = h[start:start + max_results]
    last = start + len(page) >= len(h)
    url = f"{c.base}/rest/api/{c.ver}/issue/{key}/changelog"
    out = {"self": f"{url}?maxResults={max_results}&startAt={start}"}
    if not last:
        out["nextPage"] = f"{url}?maxResults={max_results}&startAt={start + len(page)}"
    out.update(maxResults=max_results, startAt=start, total=len(h), isLast=last, values=page)
    return Response.json(200, out)


@cloud_only
def changelog_bulkfetch(req: Request, sim) -> Response:
    """Histories of up to 1,000 issues, oldest first (then by issue id), token-paged."""
    if bad := _json_body_required(req):
        return bad
    c = _ctx(req, sim)
    b = _body(req)
    if b is None:
        return jerr(400, INVALID_PAYLOAD)
    keys = b.get("issueIdsOrKeys")
    if not isinstance(keys, list) or not keys:
        return jerr(400, "issueIdsOrKeys must not be empty.")
    if len(keys) > 1000:
        return jerr(400, "The maximum number of issues per request is 1000.")
    field_ids = b.get("fieldIds") or []
    if not isinstance(field_ids, list) or len(field_ids) > 10:
        return jerr(400, "The maximum number of fieldIds per request is 10.")
    try:
        max_results = min(max(_int(b.get("maxResults"), 1000, "maxResults"), 1), 10000)
    except JqlError as e:
        return jerr(400, *e.messages)
    sig = json.dumps([sorted(map(str, keys)), sorted(map(str, field_ids))])
    offset = 0
    if b.get("nextPageToken"):
        offset = _untoken(sig, str(b["nextPageToken"]))
        if offset is None:
            return jerr(400, "The provided next page token is invalid or expired.")
    # A client pages one request's histories with the same body: they are rendered and sorted
    # once, kept for the last few requests (per clock position, as everything in the index).
    cache = c.idx.json_cache.setdefault("bulkfetch", collections.OrderedDict())
    ck = (sig, c.base, c.ver)
    rows = cache.get(ck)
    if rows is None:
        rows = []  # (created, issue id, history id, history)
        for k in dict.fromkeys(map(str, keys)):
            p = _find_issue(c, k)
            if p is None:
                continue
            iid = int(c.idx.col["issue_id"][p])
            for h in histories(c, p, set(field_ids) or None):
                rows.append((h["created"], iid, int(h["id"]), h))
        rows.sort(key=lambda r: (r[0], r[1], r[2]))
        with c.sim.lock:
            cache[ck] = rows
            while len(cache) > BULKFETCH_CACHE:
                cache.popitem(last=False)
    page = rows[offset:offset + max_results]
    logs: list[dict] = []
    for _, iid, _, h in page:
        if logs and logs[-1]["issueId"] == str(iid):
            logs[-1]["changeHistories"].append(h)
        else:
            logs.append({"issueId": str(iid), "changeHistories": [h]})
    out = {"issueChangeLogs": logs}
    if offset + len(page) < len(rows):
        out["nextPageToken"] = _token(sig, offset + len(page))
    return Response.json(200, out)


# --------------------------------------------------------------------------- handlers: metadata
@both
def fields_list(req: Request, sim) -> Response:
    out = []
    for fid, (name, schema) in FIELDS.items():
        custom = fid.startswith("customfield_")
        d = {"id": fid, "key": fid, "name": name, "custom": custom, "orderable": fid not in ("created", "updated"),
             "navigable": True, "searchable": True, "clauseNames": CLAUSE_NAMES.get(fid, [fid]), "schema": schema}
        if custom:
            d["untranslatedName"] = name
        out.append(d)
    return Response.json(200, out)


@both
def myself(req: Request, sim) -> Response:
    return Response.json(200, myself_json(_ctx(req, sim)))


def _project_full(c: Ctx, row) -> dict:
    d = {"expand": "description,lead,issueTypes,url,projectKeys,permissions,insight"}
    d.update(project_json(c, row))
    d.update(isPrivate=False, properties={}, style="classic")
    return d


@cloud_only
def project_search(req: Request, sim) -> Response:
    c = _ctx(req, sim)
    try:
        start = max(0, _int(req.arg("startAt"), 0, "startAt"))
        max_results = min(max(_int(req.arg("maxResults"), 50, "maxResults"), 1), 100)
    except JqlError as e:
        return jerr(400, *e.messages)
    p = c.idx.projects
    keys = {k.upper() for k in _list_arg(req, "keys")}
    if keys:
        p = p[p.jira_key.isin(keys)]
    q = (req.arg("query") or "").lower()
    if q:
        p = p[p.jira_key.str.lower().str.contains(q, regex=False) | p["name"].str.lower().str.contains(q, regex=False)]
    p = p.sort_values("jira_key")
    page = p.iloc[start:start + max_results]
    last = start + len(page) >= len(p)
    url = f"{c.base}/rest/api/{c.ver}/project/search"
    out = {"self": f"{url}?maxResults={max_results}&startAt={start}"}
    if not last:
        out["nextPage"] = f"{url}?maxResults={max_results}&startAt={start + len(page)}"
    out.update(maxResults=max_results, startAt=start, total=len(p), isLast=last,
               values=[_project_full(c, r) for _, r in page.iterrows()])
    return Response.json(200, out)


@both
def projects_list(req: Request, sim) -> Response:
    c = _ctx(req, sim)
    p = c.idx.projects.sort_values("jira_key")
    return Response.json(200, [_project_full(c, r) for _, r in p.iterrows()])


# --------------------------------------------------------------------------- handlers: agile
def _agile_page(req: Request, default: int = 50, cap: int = 50) -> tuple[int, int]:
    return (max(0, _int(req.arg("startAt"), 0, "startAt")),
            min(max(_int(req.arg("maxResults"), default, "maxResults"), 1), cap))


def _board_json(c: Ctx, b) -> dict:
    pr = c.idx.project_rows[b.project_id]
    return {"id": int(b.board_id), "self": f"{c.base}/rest/agile/1.0/board/{b.board_id}", "name": b["name"],
            "type": "scrum",
            "location": {"projectId": int(pr.jira_id), "displayName": f"{pr['name']} ({pr.jira_key})",
                         "projectName": pr["name"], "projectKey": pr.jira_key, "projectTypeKey": "software",
                         "avatarURI": f"{c.base}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size=small",
                         "name": f"{pr['name']} ({pr.jira_key})"}}


NO_BOARD = "Board does not exist or you do not have permission to see it."
NO_SPRINT = "Sprint does not exist or you do not have permission to see it."


def boards(req: Request, sim) -> Response:
    c = _ctx(req, sim)
    try:
        start, max_results = _agile_page(req)
    except JqlError as e:
        return jerr(400, *e.messages)
    b = c.idx.boards.sort_values("board_id")
    t = req.arg("type")
    if t:
        wanted = {x.strip().lower() for x in t.split(",")}
        if not wanted <= {"scrum", "kanban", "simple"}:
            return jerr(400, f"The board type '{t}' is not valid.")
        b = b if "scrum" in wanted else b.iloc[0:0]
    pk = req.arg("projectKeyOrId")
    if pk:
        pr = c.idx.projects[(c.idx.projects.jira_key == pk.upper()) | (c.idx.projects.jira_id.astype(str) == pk)]
        if pr.empty:
            return jerr(400, f"No project could be found with key or id '{pk}'.")
        b = b[b.project_id == pr.project_id.iloc[0]]
    name = (req.arg("name") or "").lower()
    if name:
        b = b[b["name"].str.lower().str.contains(name, regex=False)]
    page = b.iloc[start:start + max_results]
    return Response.json(200, {"maxResults": max_results, "startAt": start, "total": len(b),
                               "isLast": start + len(page) >= len(b),
                               "values": [_board_json(c, r) for _, r in page.iterrows()]})


def _board(c: Ctx, bid: str):
    b = c.idx.boards
    hit = b[b.board_id.astype(str) == bid]
    return None if hit.empty else hit.iloc[0]


def board(req: Request, sim) -> Response:
    c = _ctx(req, sim)
    b = _board(c, req.params["id"])
    if b is None:
        return jerr(404, NO_BOARD)
    return Response.json(200, _board_json(c, b))


SPRINT_STATES = ("future", "active", "closed")


def board_sprints(req: Request, sim) -> Response:
    """A board's sprints (no `total`, as Jira Cloud answers): page by isLast."""
    c = _ctx(req, sim)
    b = _board(c, req.params["id"])
    if b is None:
        return jerr(404, NO_BOARD)
    try:
        start, max_results = _agile_page(req)
    except JqlError as e:
        return jerr(400, *e.messages)
    states = set(_list_arg(req, "state")) or set(SPRINT_STATES)
    bad = states - set(SPRINT_STATES)
    if bad:
        return jerr(400, f"The sprint state '{sorted(bad)[0]}' is not valid. Valid states are: future, active, closed.")
    s = c.idx.sprints_now
    s = s[(s.board_id == b.board_id) & s.state.isin(states)].sort_values("start_at")
    ids = [int(i) for i in s.index[start:start + max_results]]
    return Response.json(200, {"maxResults": max_results, "startAt": start, "isLast": start + len(ids) >= len(s),
                               "values": [sprint_json(c, i) for i in ids]})


def _sprint_id(c: Ctx, sid: str) -> int | None:
    return int(sid) if sid.isdigit() and int(sid) in c.idx.sprints_now.index else None


def sprint(req: Request, sim) -> Response:
    c = _ctx(req, sim)
    sid = _sprint_id(c, req.params["id"])
    if sid is None:
        return jerr(404, NO_SPRINT)
    return Response.json(200, sprint_json(c, sid))


def sprint_issues(req: Request, sim) -> Response:
    """Issues in the sprint as of now (completed ones included; carried-over issues stay
    in the sprints they passed through, as Jira keeps them)."""
    c = _ctx(req, sim)
    sid = _sprint_id(c, req.params["id"])
    if sid is None:
        return jerr(404, NO_SPRINT)
    try:
        start, max_results = _agile_page(req, 50, MAX_RESULTS_AGILE)
        jql = req.arg("jql")
        member = np.array([sid in x for x in c.idx.iss.sprint_ids], dtype=bool)
        if jql:
            allowed = np.zeros(len(member), bool)
            allowed[run_jql(c, jql, require_bound=False)] = True
            member &= allowed
    except JqlError as e:
        return jerr(400, *e.messages)
    pos = np.flatnonzero(member)
    pos = pos[np.argsort(c.idx.iss.issue_id.to_numpy()[pos], kind="stable")]  # rank order
    fields = select_fields(req.query.get("fields"), "*navigable")
    exp = {x.strip() for v in req.query.get("expand", []) for x in v.split(",")}
    limit = None if c.dc else ISSUE_CHANGELOG_LIMIT
    page = pos[start:start + max_results]
    return Response.json(200, {"expand": "schema,names", "startAt": start, "maxResults": max_results,
                               "total": int(len(pos)),
                               "issues": [issue_json(c, int(q), fields, "changelog" in exp, limit) for q in page]})


# --------------------------------------------------------------------------- auth and registration
def check_auth(req: Request, headers: dict, sim):
    """Cloud: basic auth with the account e-mail and an API token (a bearer token that is
    not a Connect JWT is refused with 403). Data Center: basic auth or a personal access
    token as a bearer token. Then one unit of the `jira` window."""
    auth = headers.get("authorization", "")
    scheme, _, cred = auth.partition(" ")
    ok = False
    if scheme.lower() == "basic":
        try:
            user, _, secret = base64.b64decode(cred.strip()).decode().partition(":")
            ok = secret == JIRA_TOKEN and user in ((JIRA_EMAIL, "sei") if sim.data_center else (JIRA_EMAIL,))
        except (ValueError, UnicodeDecodeError):
            ok = False
    elif scheme.lower() == "bearer":
        if not sim.data_center:
            return Response.json(403, {"error": "Failed to parse Connect Session Auth Token"})
        ok = cred.strip() == JIRA_TOKEN
    if not ok:
        return _unauthorized(req, sim, headers, bool(auth))
    req.token = JIRA_TOKEN
    return _charge(req, sim)


def _unauthorized(req: Request, sim, headers: dict, attempted: bool) -> Response:
    if sim.data_center:
        h = {"WWW-Authenticate": 'Basic realm="protected-by-jira"'}
        if attempted:
            h["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
        return Response.json(401, {"errorMessages": [DC_UNAUTHENTICATED], "errors": {}}, h)
    host = headers.get("host", "acme.atlassian.net")
    h = {"WWW-Authenticate": f'OAuth realm="https%3A%2F%2F{host}"'}
    if attempted:
        h["X-Seraph-LoginReason"] = "AUTHENTICATED_FAILED"
    # Jira Cloud answers with the bare sentence; its media type follows Accept.
    if "application/json" in headers.get("accept", ""):
        return Response(401, json.dumps(UNAUTHENTICATED).encode(),
                        {"Content-Type": "application/json;charset=UTF-8", **h})
    return Response(401, UNAUTHENTICATED.encode(), {"Content-Type": "text/html;charset=UTF-8", **h})


def _charge(req: Request, sim):
    """One unit per request from the `jira` window; a spent window is a 429 carrying
    Retry-After (simulated seconds to the window's end) and X-RateLimit-* headers (the
    reset as Jira writes it, ISO 8601 to the minute)."""
    win = sim.windows["jira"]
    key = ("jira", req.token)
    with sim.lock:
        elapsed = sim.sim_elapsed()
        _, _, remaining = win.state(key, elapsed)
        if remaining > 0:
            win.charge(key, elapsed, 1)
            return None
    reset = sim.window_reset("jira")
    retry = max(1, reset - sim.sim_epoch())
    reset_iso = dt.datetime.fromtimestamp(reset, dt.timezone.utc).strftime("%Y-%m-%dT%H:%MZ")
    headers = {"Retry-After": str(retry), "X-RateLimit-Limit": str(win.limit), "X-RateLimit-Remaining": "0",
               "X-RateLimit-Reset": reset_iso}
    if sim.data_center:
        headers.update({"X-RateLimit-Interval-Seconds": str(win.seconds), "X-RateLimit-FillRate": str(win.limit)})
    else:
        headers.update({"X-RateLimit-NearLimit": "true", "RateLimit-Reason": "jira-burst-based"})
    return Response.json(429, {"errorMessages": ["The request has been rate-limited. Please try again later."],
                               "errors": {}, "status": 429}, headers)


def register(r: Router) -> None:
    api = r"/rest/api/(?:2|3)"
    r.add("GET", api + r"/search/jql", "jira.search_jql", search_jql)
    r.add("POST", api + r"/search/jql", "jira.search_jql", search_jql)
    r.add("GET", api + r"/search", "jira.search", search_old)
    r.add("POST", api + r"/search", "jira.search", search_old)
    r.add("GET", api + r"/issue/(?P<key>[^/]+)/changelog", "jira.issue_changelog", issue_changelog)
    r.add("POST", api + r"/changelog/bulkfetch", "jira.changelog_bulkfetch", changelog_bulkfetch)
    r.add("GET", api + r"/issue/(?P<key>[^/]+)", "jira.issue", get_issue)
    r.add("GET", api + r"/field", "jira.field", fields_list)
    r.add("GET", api + r"/myself", "jira.myself", myself)
    r.add("GET", api + r"/project/search", "jira.project_search", project_search)
    r.add("GET", api + r"/project", "jira.project", projects_list)
    ag = "/rest/agile/1.0"
    r.add("GET", ag + r"/board", "jira.boards", boards)
    r.add("GET", ag + r"/board/(?P<id>[^/]+)", "jira.board", board)
    r.add("GET", ag + r"/board/(?P<id>[^/]+)/sprint", "jira.board_sprints", board_sprints)
    r.add("GET", ag + r"/sprint/(?P<id>[^/]+)", "jira.sprint", sprint)
    r.add("GET", ag + r"/sprint/(?P<id>[^/]+)/issue", "jira.sprint_issues", sprint_issues)
