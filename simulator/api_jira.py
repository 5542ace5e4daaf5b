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
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator import views
from simulator.http import JIRA_EMAIL, JIRA_TOKEN, Request, Response, Router

# --------------------------------------------------------------------------- Jira's catalogue
# Status name -> (id, status category key)
STATUSES = {"To Do": ("10000", "new"), "In Progress": ("3", "indeterminate"), "In Review": ("10002", "indeterminate"),
            "Done": ("10001", "done"), "Won't Do": ("10003", "done")}
STATUS_BY_ID = {v[0]: k for k, v in STATUSES.items()}
# Category key -> (id, name, colour)
CATEGORIES = {"new": (2, "To Do", "blue-gray"), "indeterminate": (4, "In Progress", "yellow"),
              "done": (3, "Done", "green")}
# Issue type -> (id, hierarchy level, subtask)
ISSUE_TYPES = {"Epic": ("10000", 1, False), "Story": ("10001", 0, False), "Task": ("10002", 0, False),
               "Sub-task": ("10003", -1, True), "Bug": ("10004", 0, False), "Incident": ("10005", 0, False)}
RESOLUTIONS = {"Done": ("10000", "Work has been completed on this issue."),
               "Won't Do": ("10001", "This issue won't be actioned.")}
PRIORITIES = {"Highest": "1", "High": "2", "Medium": "3", "Low": "4", "Lowest": "5"}
SEVERITY_PRIORITY = {"SEV-1": "Highest", "SEV-2": "High", "SEV-3": "Medium"}
SEVERITY_OPTIONS = {"SEV-1": "10100", "SEV-2": "10101", "SEV-3": "10102"}

SP_FIELD, SPRINT_FIELD, SEVERITY_FIELD = "customfield_10016", "customfield_10020", "customfield_10050"
SP_NAME = "Story point estimate"

# Histories embedded by `expand=changelog`: search/jql keeps the latest 40, GET issue 100.
# A simulator may lower the first (attribute `jira_changelog_embed_limit`) so small worlds
# show the truncation.
SEARCH_CHANGELOG_LIMIT = 40
ISSUE_CHANGELOG_LIMIT = 100
MAX_RESULTS_IDS_ONLY, MAX_RESULTS_FIELDS, MAX_RESULTS_DC, MAX_RESULTS_AGILE = 5000, 100, 1000, 100

REMOVED_SEARCH = ("The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
                  "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046")
UNAUTHENTICATED = "Client must be authenticated to access this resource."
DC_UNAUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."
SERVICE_ACCOUNT_ID = "5f0000000000000000sei001"
AVATAR = "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/default-avatar.png"

# Field id -> (name, schema); the order is the order fields appear in an issue.
FIELDS: dict[str, tuple[str, dict]] = {
    "summary": ("Summary", {"type": "string", "system": "summary"}),
    "issuetype": ("Issue Type", {"type": "issuetype", "system": "issuetype"}),
    "project": ("Project", {"type": "project", "system": "project"}),
    "status": ("Status", {"type": "status", "system": "status"}),
    "statuscategorychangedate": ("Status Category Changed", {"type": "datetime", "system": "statuscategorychangedate"}),
    "resolution": ("Resolution", {"type": "resolution", "system": "resolution"}),
    "resolutiondate": ("Resolved", {"type": "datetime", "system": "resolutiondate"}),
    "priority": ("Priority", {"type": "priority", "system": "priority"}),
    "labels": ("Labels", {"type": "array", "items": "string", "system": "labels"}),
    "components": ("Components", {"type": "array", "items": "component", "system": "components"}),
    "assignee": ("Assignee", {"type": "user", "system": "assignee"}),
    "reporter": ("Reporter", {"type": "user", "system": "reporter"}),
    "creator": ("Creator", {"type": "user", "system": "creator"}),
    "parent": ("Parent", {"type": "issuelink", "system": "parent"}),
    "subtasks": ("Sub-tasks", {"type": "array", "items": "issuelinks", "system": "subtasks"}),
    "description": ("Description", {"type": "string", "system": "description"}),
    "created": ("Created", {"type": "datetime", "system": "created"}),
    "updated": ("Updated", {"type": "datetime", "system": "updated"}),
    SP_FIELD: (SP_NAME, {"type": "number", "custom": "com.pyxis.greenhopper.jira:jsw-story-points", "customId": 10016}),
    SPRINT_FIELD: ("Sprint", {"type": "array", "items": "json", "custom": "com.pyxis.greenhopper.jira:gh-sprint",
                              "customId": 10020}),
    SEVERITY_FIELD: ("Severity", {"type": "option",
                                  "custom": "com.atlassian.jira.plugin.system.customfieldtypes:select",
                                  "customId": 10050}),
}
CLAUSE_NAMES = {"summary": ["summary"], "issuetype": ["issuetype", "type"], "project": ["project"],
                "status": ["status"], "resolution": ["resolution"], "resolutiondate": ["resolutiondate", "resolved"],
                "priority": ["priority"], "labels": ["labels"], "components": ["component"],
                "assignee": ["assignee"], "reporter": ["reporter"], "creator": ["creator"], "parent": ["parent"],
                "created": ["created", "createdDate"], "updated": ["updated", "updatedDate"],
                "description": ["description"], SP_FIELD: ["cf[10016]", SP_NAME],
                SPRINT_FIELD: ["cf[10020]", "sprint"], SEVERITY_FIELD: ["cf[10050]", "Severity"]}


def jts(ts) -> str | None:
    """Jira's timestamp format (the user's zone, UTC here): 2024-01-02T10:11:12.000+0000."""
    if ts is None or ts != ts or ts < 0:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def agile_ts(ts) -> str | None:
    if ts is None or ts != ts or ts < 0:
        return None
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def jerr(status: int, *messages: str, **extra) -> Response:
    return Response.json(status, {"errorMessages": list(messages), "errors": {}, **extra})


# --------------------------------------------------------------------------- per-clock index
@dataclass
class Index:
    """Everything the handlers need, derived once per clock position."""
    iss: pd.DataFrame
    pos_of_ix: dict
    pos_of_key: dict
    pos_of_id: dict
    project_key: np.ndarray        # per issue
    status_cat: np.ndarray
    assignee_acc: np.ndarray       # jira account ids ('' if none)
    reporter_acc: np.ndarray
    labels: list
    subtasks: dict                 # parent pos -> [child pos]
    projects: pd.DataFrame         # + numeric jira id
    components: dict               # (project_id, name) -> component id
    users: dict                    # account id -> user record
    acc_of_dev: dict
    sprints_now: pd.DataFrame      # indexed by sprint_id
    sprint_names: dict
    boards: pd.DataFrame
    cl_ix: np.ndarray              # changelog, sorted by issue then time
    cl: dict = field(default_factory=dict)
    project_rows: dict = field(default_factory=dict)


def _index(w) -> Index:
    def build():
        iss = views.issues(w)
        projects = w["projects"].reset_index(drop=True).copy()
        projects["jira_id"] = 10000 + np.arange(len(projects))
        pkey = projects.set_index("project_id").jira_key
        accts = w["tool_accounts"]
        ja = accts[accts.tool == "jira"].reset_index(drop=True)
        devs = w["developers"].set_index("dev_id")
        users, acc_of_dev = {}, {}
        for i, a in enumerate(ja.itertuples()):
            email = a.email if isinstance(a.email, str) else None
            active = True
            if isinstance(a.dev_id, str) and a.dev_id in devs.index:
                end = devs.at[a.dev_id, "end_at"]
                active = bool(pd.isna(end) or end > w.now)
                acc_of_dev[a.dev_id] = a.account_id
            name = email.split("@")[0] if email else "automation"
            users[a.account_id] = dict(account_id=a.account_id, display=a.display_name, email=email, active=active,
                                       bot=bool(a.is_bot), name=name, key=f"JIRAUSER{10100 + i}")
        n = len(iss)
        pos = np.arange(n)
        parent = iss.parent_ix.to_numpy()
        ix = iss.index.to_numpy()
        pos_of_ix = dict(zip(ix.tolist(), pos.tolist()))
        subtasks: dict[int, list[int]] = {}
        for p, par in zip(pos.tolist(), parent.tolist()):
            if par >= 0 and iss.type.iat[p] == "Sub-task" and par in pos_of_ix:
                subtasks.setdefault(pos_of_ix[par], []).append(p)
        comps = {}
        for (proj, name) in sorted(set(zip(w["issues"].project_id, w["issues"].component.fillna("")))):
            if name:
                comps[(proj, name)] = str(10000 + len(comps))
        cl = views.changelog(w)
        sprints_all = w["sprints"]
        return Index(
            iss=iss, pos_of_ix=pos_of_ix,
            pos_of_key=dict(zip(iss.key.tolist(), pos.tolist())),
            pos_of_id=dict(zip(iss.issue_id.astype(str).tolist(), pos.tolist())),
            project_key=iss.project_id.map(pkey).to_numpy(dtype=object),
            status_cat=np.array([STATUSES[s][1] for s in iss.status], dtype=object),
            assignee_acc=iss.assignee_dev.map(acc_of_dev).fillna("").to_numpy(dtype=object),
            reporter_acc=iss.reporter_dev.map(acc_of_dev).fillna("").to_numpy(dtype=object),
            labels=[set(x.split(";")) - {""} if isinstance(x, str) else set() for x in iss.labels],
            subtasks=subtasks, projects=projects, components=comps, users=users, acc_of_dev=acc_of_dev,
            sprints_now=views.sprints(w).set_index("sprint_id"),
            sprint_names=dict(zip(sprints_all.sprint_id.tolist(), sprints_all.name.tolist())),
            boards=w["boards"],
            cl_ix=cl.issue_ix.to_numpy(),
            cl={c: cl[c].to_numpy() for c in ("ts", "field", "from_string", "to_string", "from_ids", "to_ids",
                                              "history_id")},
            project_rows={r.project_id: r for _, r in projects.iterrows()},
        )
    return w.cached("jira.index", build)


# --------------------------------------------------------------------------- request context
@dataclass
class Ctx:
    req: Request
    sim: object
    idx: Index
    base: str
    dc: bool          # Data Center shapes (users by name/key, no accountId)
    ver: str          # REST version for self links: the request's, or 2 on Data Center


    @property
    def now(self) -> int:
        return self.sim.world.now


def _ctx(req: Request, sim) -> Ctx:
    host = next((v for k, v in req.headers.items() if k.lower() == "host"), None)
    dc = bool(sim.data_center)
    ver = "2" if dc or req.path.startswith("/rest/api/2/") else "3"
    return Ctx(req, sim, _index(sim.world), f"http://{host}" if host else sim.url, dc, ver)


# --------------------------------------------------------------------------- JSON shapes
def user_json(c: Ctx, acc: str):
    u = c.idx.users.get(acc)
    if u is None:
        return None
    avatars = {s: f"{AVATAR}?s={s.split('x')[0]}" for s in ("48x48", "24x24", "16x16", "32x32")}
    if c.dc:
        d = {"self": f"{c.base}/rest/api/2/user?username={u['name']}", "name": u["name"], "key": u["key"]}
        if u["email"]:
            d["emailAddress"] = u["email"]
        d.update(avatarUrls=avatars, displayName=u["display"], active=u["active"], timeZone="Etc/UTC")
        return d
    d = {"self": f"{c.base}/rest/api/{c.ver}/user?accountId={u['account_id']}", "accountId": u["account_id"]}
    if u["email"]:
        d["emailAddress"] = u["email"]
    d.update(avatarUrls=avatars, displayName=u["display"], active=u["active"], timeZone="Etc/UTC",
             accountType="app" if u["bot"] else "atlassian")
    return d


def myself_json(c: Ctx) -> dict:
    if c.dc:
        return {"self": f"{c.base}/rest/api/2/user?username=sei", "key": "JIRAUSER10000", "name": "sei",
                "emailAddress": JIRA_EMAIL, "displayName": "SEI Integration", "active": True, "deleted": False,
                "timeZone": "Etc/UTC", "locale": "en_US", "groups": {"size": 1, "items": []},
                "applicationRoles": {"size": 1, "items": []}, "expand": "groups,applicationRoles"}
    return {"self": f"{c.base}/rest/api/3/user?accountId={SERVICE_ACCOUNT_ID}", "accountId": SERVICE_ACCOUNT_ID,
            "accountType": "atlassian", "emailAddress": JIRA_EMAIL,
            "avatarUrls": {s: AVATAR for s in ("48x48", "24x24", "16x16", "32x32")},
            "displayName": "SEI Integration", "active": True, "timeZone": "Etc/UTC", "locale": "en_US",
            "groups": {"size": 1, "items": []}, "applicationRoles": {"size": 1, "items": []},
            "expand": "groups,applicationRoles"}


def status_json(c: Ctx, name: str) -> dict:
    sid, cat = STATUSES[name]
    cid, cname, colour = CATEGORIES[cat]
    return {"self": f"{c.base}/rest/api/{c.ver}/status/{sid}", "description": "",
            "iconUrl": f"{c.base}/images/icons/statuses/generic.png", "name": name, "id": sid,
            "statusCategory": {"self": f"{c.base}/rest/api/{c.ver}/statuscategory/{cid}", "id": cid, "key": cat,
                               "colorName": colour, "name": cname}}


def issuetype_json(c: Ctx, name: str) -> dict:
    tid, level, sub = ISSUE_TYPES[name]
    return {"self": f"{c.base}/rest/api/{c.ver}/issuetype/{tid}", "id": tid, "description": "",
            "iconUrl": f"{c.base}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{tid}?size=medium",
            "name": name, "subtask": sub, "avatarId": 10300 + int(tid) % 100, "hierarchyLevel": level}


def priority_json(c: Ctx, name: str) -> dict:
    pid = PRIORITIES[name]
    return {"self": f"{c.base}/rest/api/{c.ver}/priority/{pid}",
            "iconUrl": f"{c.base}/images/icons/priorities/{name.lower()}.svg", "name": name, "id": pid}


def project_json(c: Ctx, row) -> dict:
    return {"self": f"{c.base}/rest/api/{c.ver}/project/{row.jira_id}", "id": str(row.jira_id), "key": row.jira_key,
            "name": row["name"],
            "projectTypeKey": "software", "simplified": False,
            "avatarUrls": {s: f"{c.base}/rest/api/2/universal_avatar/view/type/project/avatar/10400?size={s}"
                           for s in ("48x48", "24x24", "16x16", "32x32")}}


def sprint_field_json(c: Ctx, sid: int) -> dict | None:
    s = c.idx.sprints_now
    if sid not in s.index:
        return None
    r = s.loc[sid]
    d = {"id": int(sid), "name": r["name"], "state": r.state, "boardId": int(r.board_id), "goal": ""}
    if r.state != "future":
        d["startDate"], d["endDate"] = agile_ts(r.start_at), agile_ts(r.end_at)
    if r.state == "closed":
        d["completeDate"] = agile_ts(r.complete_at_now)
    return d


def sprint_json(c: Ctx, sid: int) -> dict:
    r = c.idx.sprints_now.loc[sid]
    d = {"id": int(sid), "self": f"{c.base}/rest/agile/1.0/sprint/{sid}", "state": r.state, "name": r["name"]}
    if r.state != "future":
        d["startDate"], d["endDate"] = agile_ts(r.start_at), agile_ts(r.end_at)
    if r.state == "closed":
        d["completeDate"] = agile_ts(r.complete_at_now)
    d.update(createdDate=agile_ts(r.created_at), originBoardId=int(r.board_id), goal="")
    return d


def issue_ref(c: Ctx, p: int) -> dict:
    """The short form Jira uses for parents and sub-tasks."""
    iss = c.idx.iss
    return {"id": str(iss.issue_id.iat[p]), "key": iss.key.iat[p],
            "self": f"{c.base}/rest/api/{c.ver}/issue/{iss.issue_id.iat[p]}",
            "fields": {"summary": iss.summary.iat[p], "status": status_json(c, iss.status.iat[p]),
                       "priority": priority_json(c, _priority(c, p)),
                       "issuetype": issuetype_json(c, iss.type.iat[p])}}


def _priority(c: Ctx, p: int) -> str:
    iss = c.idx.iss
    sev = iss.severity.iat[p]
    if isinstance(sev, str):
        return SEVERITY_PRIORITY.get(sev, "Medium")
    return "High" if iss.type.iat[p] == "Bug" else "Medium"


def field_value(c: Ctx, f: str, p: int):
    idx, iss = c.idx, c.idx.iss
    if f == "summary":
        return iss.summary.iat[p]
    if f == "issuetype":
        return issuetype_json(c, iss.type.iat[p])
    if f == "project":
        return project_json(c, idx.project_rows[iss.project_id.iat[p]])
    if f == "status":
        return status_json(c, iss.status.iat[p])
    if f == "statuscategorychangedate":
        return jts(_category_changed_at(c, p))
    if f == "resolution":
        st = iss.status.iat[p]
        if st not in RESOLUTIONS:
            return None
        rid, desc = RESOLUTIONS[st]
        return {"self": f"{c.base}/rest/api/{c.ver}/resolution/{rid}", "id": rid, "description": desc, "name": st}
    if f == "resolutiondate":
        return jts(iss.resolved_at_now.iat[p])
    if f == "priority":
        return priority_json(c, _priority(c, p))
    if f == "labels":
        return sorted(idx.labels[p])
    if f == "components":
        comp = iss.component.iat[p]
        if not isinstance(comp, str) or not comp:
            return []
        cid = idx.components[(iss.project_id.iat[p], comp)]
        return [{"self": f"{c.base}/rest/api/{c.ver}/component/{cid}", "id": cid, "name": comp}]
    if f == "assignee":
        return user_json(c, idx.assignee_acc[p])
    if f in ("reporter", "creator"):
        return user_json(c, idx.reporter_acc[p])
    if f == "parent":
        par = iss.parent_ix.iat[p]
        pp = idx.pos_of_ix.get(int(par)) if par >= 0 else None
        return None if pp is None else issue_ref(c, pp)
    if f == "subtasks":
        return [issue_ref(c, q) for q in idx.subtasks.get(p, [])]
    if f == "description":
        return None
    if f == "created":
        return jts(iss.created_at.iat[p])
    if f == "updated":
        return jts(iss.updated_at.iat[p])
    if f == SP_FIELD:
        v = iss.points_now.iat[p]
        return None if v != v else float(v)
    if f == SPRINT_FIELD:
        out = [s for s in (sprint_field_json(c, sid) for sid in iss.sprint_ids.iat[p]) if s]
        return out or None
    if f == SEVERITY_FIELD:
        sev = iss.severity.iat[p]
        if not isinstance(sev, str):
            return None
        oid = SEVERITY_OPTIONS[sev]
        return {"self": f"{c.base}/rest/api/{c.ver}/customFieldOption/{oid}", "value": sev, "id": oid}
    raise KeyError(f)


# --------------------------------------------------------------------------- changelog
def _cl_slice(c: Ctx, p: int) -> tuple[int, int]:
    ix = int(c.idx.iss.index[p])
    return int(np.searchsorted(c.idx.cl_ix, ix, "left")), int(np.searchsorted(c.idx.cl_ix, ix, "right"))


def _category_changed_at(c: Ctx, p: int) -> int:
    lo, hi = _cl_slice(c, p)
    cl = c.idx.cl
    for k in range(hi - 1, lo - 1, -1):
        if cl["field"][k] == "status" and STATUSES[cl["from_string"][k]][1] != STATUSES[cl["to_string"][k]][1]:
            return int(cl["ts"][k])
    return int(c.idx.iss.created_at.iat[p])


def _ids(x) -> list:
    return list(x) if isinstance(x, (list, tuple, np.ndarray)) else []


def _item(c: Ctx, k: int) -> dict:
    cl = c.idx.cl
    f = cl["field"][k]
    if f == "status":
        fr, to = cl["from_string"][k], cl["to_string"][k]
        return {"field": "status", "fieldtype": "jira", "fieldId": "status", "from": STATUSES[fr][0],
                "fromString": fr, "to": STATUSES[to][0], "toString": to}
    if f == "Sprint":
        fr, to = _ids(cl["from_ids"][k]), _ids(cl["to_ids"][k])
        names = c.idx.sprint_names
        return {"field": "Sprint", "fieldtype": "custom", "fieldId": SPRINT_FIELD,
                "from": ", ".join(str(i) for i in fr) or None,
                "fromString": ", ".join(names.get(i, str(i)) for i in fr) or None,
                "to": ", ".join(str(i) for i in to) or None,
                "toString": ", ".join(names.get(i, str(i)) for i in to) or None}
    if f == "Story Points":
        return {"field": SP_NAME, "fieldtype": "custom", "fieldId": SP_FIELD, "from": None,
                "fromString": cl["from_string"][k], "to": None, "toString": cl["to_string"][k]}
    return {"field": f, "fieldtype": "jira", "fieldId": f, "from": None, "fromString": cl["from_string"][k],
            "to": None, "toString": cl["to_string"][k]}


def histories(c: Ctx, p: int, field_ids: set | None = None) -> list[dict]:
    """The issue's change histories, oldest first: one per (issue, time), its items the
    fields that changed together. Status changes are the assignee's; sprint moves and
    re-estimates the reporter's."""
    lo, hi = _cl_slice(c, p)
    cl, out, k = c.idx.cl, [], lo
    while k < hi:
        ts = cl["ts"][k]
        j = k
        while j < hi and cl["ts"][j] == ts:
            j += 1
        items = [_item(c, m) for m in range(k, j)]
        if field_ids:
            items = [it for it in items if it["fieldId"] in field_ids or it["field"] in field_ids]
        if items:
            status_change = any(cl["field"][m] == "status" for m in range(k, j))
            acc = c.idx.assignee_acc[p] if status_change else c.idx.reporter_acc[p]
            out.append({"id": str(int(cl["history_id"][k])), "author": user_json(c, acc),
                        "created": jts(ts), "items": items})
        k = j
    return out


def embedded_changelog(c: Ctx, p: int, limit: int | None) -> dict:
    h = histories(c, p)
    total = len(h)
    if limit is None:  # Data Center: the whole history, oldest first
        return {"startAt": 0, "maxResults": total, "total": total, "histories": h}
    shown = list(reversed(h))[:limit]  # Cloud: the most recent first, truncated
    return {"startAt": 0, "maxResults": len(shown), "total": total, "histories": shown}


# --------------------------------------------------------------------------- issues
EXPAND_ATTR = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"


def select_fields(specs: list[str] | None, default: str | None) -> list[str] | None:
    """Jira's `fields` parameter: ids, `*all`, `*navigable`, `-id` to drop one. None means
    only the issue id (search/jql's default)."""
    items = [x.strip() for s in (specs or []) for x in str(s).split(",") if x.strip()]
    if not items:
        if default is None:
            return None
        items = [default]
    include, exclude = set(), set()
    for it in items:
        if it in ("*all", "*navigable", "navigable"):
            include |= set(FIELDS)
        elif it.startswith("-"):
            exclude.add(it[1:])
        elif it in FIELDS:
            include.add(it)
    if exclude and all(x.startswith("-") for x in items):
        include = set(FIELDS)
    return [f for f in FIELDS if f in include and f not in exclude]


def issue_json(c: Ctx, p: int, fields: list[str] | None, changelog: bool, limit: int | None) -> dict:
    iss = c.idx.iss
    iid = str(iss.issue_id.iat[p])
    if fields is None:
        d = {"id": iid}
    else:
        d = {"expand": EXPAND_ATTR, "id": iid, "self": f"{c.base}/rest/api/{c.ver}/issue/{iid}",
             "key": iss.key.iat[p], "fields": {f: field_value(c, f, p) for f in fields}}
    if changelog:
        d["changelog"] = embedded_changelog(c, p, limit)
    return d


def _names(fields: list[str] | None) -> dict:
    return {f: FIELDS[f][0] for f in fields or []}


# --------------------------------------------------------------------------- JQL
class JqlError(Exception):
    def __init__(self, *messages: str):
        super().__init__(messages[0])
        self.messages = list(messages)


OPERATORS = "The valid operators are '=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'."
KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC", "WAS", "CHANGED"}
STOP = set("()=,!<>~\"'")


@dataclass
class Tok:
    kind: str   # word, str, op, lp, rp, comma, eof
    text: str
    pos: int    # 1-based character

    def show(self) -> str:
        return self.text

    def kw(self, *words: str) -> bool:
        return self.kind == "word" and self.text.upper() in words


def tokenize(s: str) -> list[Tok]:
    toks, i, n = [], 0, len(s)
    while i < n:
        ch = s[i]
        if ch.isspace():
            i += 1
            continue
        start = i + 1
        if ch in "()":
            toks.append(Tok("lp" if ch == "(" else "rp", ch, start))
            i += 1
        elif ch == ",":
            toks.append(Tok("comma", ch, start))
            i += 1
        elif ch in "\"'":
            buf, i = [], i + 1
            while i < n and s[i] != ch:
                if s[i] == "\\" and i + 1 < n:
                    buf.append(s[i + 1])
                    i += 2
                else:
                    buf.append(s[i])
                    i += 1
            if i >= n:
                raise JqlError(f"Error in the JQL Query: The quoted string '{''.join(buf)}' has not been completed. "
                               f"(line 1, character {start})")
            toks.append(Tok("str", "".join(buf), start))
            i += 1
        elif s.startswith(("!=", "<=", ">=", "!~"), i):
            toks.append(Tok("op", s[i:i + 2], start))
            i += 2
        elif s.startswith(("&&", "||"), i):
            toks.append(Tok("word", "AND" if ch == "&" else "OR", start))
            i += 2
        elif ch in "=<>~":
            toks.append(Tok("op", ch, start))
            i += 1
        elif ch == "!":
            toks.append(Tok("word", "NOT", start))
            i += 1
        else:
            j = i
            while j < n and not s[j].isspace() and s[j] not in STOP:
                j += 1
            toks.append(Tok("word", s[i:j], start))
            i = j
    toks.append(Tok("eof", "", len(s) + 1))
    return toks


# AST: ("and", [nodes]) ("or", [nodes]) ("not", node) ("clause", field, op, operand, pos)
# operand: ("value", text, pos) ("list", [operands]) ("func", name, [args], pos) ("empty",)
class Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    @property
    def t(self) -> Tok:
        return self.toks[self.i]

    def next(self) -> Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def parse(self):
        where = None
        if not (self.t.kind == "eof" or self.t.kw("ORDER")):
            where = self.or_expr()
        order = []
        if self.t.kw("ORDER"):
            self.next()
            if not self.t.kw("BY"):
                raise self._expect("'by'")
            self.next()
            order = self.sort_list()
        if self.t.kind != "eof":
            raise self._expect("either 'OR' or 'AND'")
        return where, order

    def _expect(self, what: str, extra: str = "") -> JqlError:
        t = self.t
        tail = f" {extra}" if extra else ""
        if t.kind == "eof":
            return JqlError(f"Error in the JQL Query: Expecting {what} before the end of the query.{tail}")
        return JqlError(f"Error in the JQL Query: Expecting {what} but got '{t.show()}'.{tail} "
                        f"(line 1, character {t.pos})")

    def or_expr(self):
        nodes = [self.and_expr()]
        while self.t.kw("OR"):
            self.next()
            nodes.append(self.and_expr())
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def and_expr(self):
        nodes = [self.not_expr()]
        while self.t.kw("AND"):
            self.next()
            nodes.append(self.not_expr())
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def not_expr(self):
        if self.t.kw("NOT"):
            self.next()
            return ("not", self.not_expr())
        if self.t.kind == "lp":
            self.next()
            node = self.or_expr()
            if self.t.kind != "rp":
                raise self._expect("')'")
            self.next()
            return node
        return self.clause()

    def clause(self):
        t = self.t
        if t.kind not in ("word", "str") or (t.kind == "word" and t.text.upper() in KEYWORDS):
            raise self._expect("a field name")
        self.next()
        fld, fpos = t.text, t.pos
        op = self.operator()
        operand = self.operand(op)
        return ("clause", fld, op, operand, fpos)

    def operator(self) -> str:
        t = self.t
        if t.kind == "op":
            self.next()
            return t.text
        if t.kw("IN"):
            self.next()
            return "IN"
        if t.kw("NOT"):
            self.next()
            if self.t.kw("IN"):
                self.next()
                return "NOT IN"
            raise self._expect("'IN'")
        if t.kw("IS"):
            self.next()
            if self.t.kw("NOT"):
                self.next()
                return "IS NOT"
            return "IS"
        if t.kw("WAS", "CHANGED"):
            raise JqlError(f"The operator '{t.text.upper()}' is not supported by this simulator's JQL.")
        raise self._expect("operator", OPERATORS)

    def operand(self, op: str):
        t = self.t
        if op in ("IS", "IS NOT"):
            if t.kw("EMPTY", "NULL"):
                self.next()
                return ("empty",)
            raise self._expect("'EMPTY'")
        if t.kind == "lp":
            self.next()
            items = [self.operand("=")]
            while self.t.kind == "comma":
                self.next()
                items.append(self.operand("="))
            if self.t.kind != "rp":
                raise self._expect("')'")
            self.next()
            return ("list", items)
        if t.kw("EMPTY", "NULL"):
            self.next()
            return ("empty",)
        if t.kind == "str":
            self.next()
            return ("value", t.text, t.pos)
        if t.kind == "word" and t.text.upper() not in KEYWORDS:
            self.next()
            if self.t.kind == "lp":  # a function call
                self.next()
                args = []
                while self.t.kind != "rp":
                    a = self.next()
                    if a.kind not in ("word", "str"):
                        self.i -= 1
                        raise self._expect("')'")
                    args.append(a.text)
                    if self.t.kind == "comma":
                        self.next()
                self.next()
                return ("func", t.text, args, t.pos)
            return ("value", t.text, t.pos)
        raise self._expect("either a value, list or function")

    def sort_list(self):
        out = []
        while True:
            t = self.t
            if t.kind not in ("word", "str") or (t.kind == "word" and t.text.upper() in KEYWORDS):
                raise self._expect("a field name")
            self.next()
            direction = None
            if self.t.kw("ASC", "DESC"):
                direction = self.next().text.upper()
            out.append((t.text, direction, t.pos))
            if self.t.kind != "comma":
                return out
            self.next()


# Clause names -> canonical field; value kinds
CLAUSES = {
    "project": "project", "key": "issuekey", "issuekey": "issuekey", "id": "issuekey", "issue": "issuekey",
    "updated": "updated", "updateddate": "updated", "created": "created", "createddate": "created",
    "resolved": "resolved", "resolutiondate": "resolved", "issuetype": "issuetype", "type": "issuetype",
    "status": "status", "statuscategory": "statuscategory", "resolution": "resolution", "labels": "labels",
    "component": "component", "sprint": "sprint", "cf[10020]": "sprint", "assignee": "assignee",
    "reporter": "reporter", "creator": "reporter", "parent": "parent", "summary": "summary", "text": "text",
    "priority": "priority", "cf[10016]": "points", "story point estimate": "points", "story points": "points",
    "cf[10050]": "severity", "severity": "severity",
}
DATE_FIELDS = {"updated", "created", "resolved"}
LIST_OPS = {"=", "!=", "IN", "NOT IN", "IS", "IS NOT"}
SUPPORTED_OPS = {
    "project": LIST_OPS, "issuekey": LIST_OPS | {"<", ">", "<=", ">="},
    "updated": {"=", "!=", "<", ">", "<=", ">=", "IN", "NOT IN", "IS", "IS NOT"},
    "issuetype": LIST_OPS, "status": LIST_OPS, "statuscategory": LIST_OPS, "resolution": LIST_OPS,
    "labels": LIST_OPS, "component": LIST_OPS, "sprint": LIST_OPS, "assignee": LIST_OPS, "reporter": LIST_OPS,
    "parent": LIST_OPS, "summary": {"~", "!~", "IS", "IS NOT"}, "text": {"~"},
    "priority": LIST_OPS | {"<", ">", "<=", ">="}, "points": LIST_OPS | {"<", ">", "<=", ">="},
    "severity": LIST_OPS,
}
SUPPORTED_OPS["created"] = SUPPORTED_OPS["resolved"] = SUPPORTED_OPS["updated"]
SORTS = {"updated": "updated", "updateddate": "updated", "created": "created", "createddate": "created",
         "resolved": "resolved", "resolutiondate": "resolved", "key": "key", "issuekey": "key", "id": "key",
         "project": "project", "status": "status", "issuetype": "type", "type": "type", "priority": "priority",
         "summary": "summary", "rank": "rank"}
DATE_HELP = ("Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
             "or a period format e.g. '-5d', '4w 2d'.")
PERIOD = re.compile(r"^\s*([+-])?\s*((?:\d+\s*[yMwdhm]\s*)+)$")
UNIT_S = {"y": 365 * 86400, "M": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}


class Evaluator:
    """Evaluates a parsed JQL tree to a boolean mask over the issues as of now; semantic
    problems (unknown fields, values, operators) are collected like Jira does."""

    def __init__(self, c: Ctx):
        self.c, self.idx, self.errors = c, c.idx, []
        self.n = len(c.idx.iss)

    def mask(self, node) -> np.ndarray:
        kind = node[0]
        if kind == "and":
            m = np.ones(self.n, bool)
            for sub in node[1]:
                m &= self.mask(sub)
            return m
        if kind == "or":
            m = np.zeros(self.n, bool)
            for sub in node[1]:
                m |= self.mask(sub)
            return m
        if kind == "not":
            return ~self.mask(node[1])
        return self.clause(*node[1:])

    def none(self) -> np.ndarray:
        return np.zeros(self.n, bool)

    # ---- one clause
    def clause(self, name: str, op: str, operand, pos: int) -> np.ndarray:
        f = CLAUSES.get(name.lower())
        if f is None:
            self.errors.append(f"Field '{name}' does not exist or you do not have permission to view it.")
            return self.none()
        if op not in SUPPORTED_OPS[f]:
            self.errors.append(f"The operator '{op}' is not supported by the '{name}' field.")
            return self.none()
        if operand[0] == "list" and op not in ("IN", "NOT IN"):
            self.errors.append(f"The operator '{op}' does not support the list of values.")
            return self.none()
        if op in ("IN", "NOT IN") and operand[0] != "list":
            operand = ("list", [operand])
        if f in DATE_FIELDS:
            return self.date_clause(f, name, op, operand)
        if f in ("summary", "text"):
            return self.text_clause(name, op, operand)
        values, has_empty = self.values(f, name, operand)
        present = self.present(f)
        if op in ("<", ">", "<=", ">="):
            return self.range_clause(f, name, op, values)
        if op in ("=", "IN", "IS"):
            m = self.match_any(f, values)
            return m | ~present if has_empty else m
        # !=, NOT IN, IS NOT: an empty field never matches a negative comparison
        return present & ~self.match_any(f, values)

    def operands(self, operand) -> list:
        return operand[1] if operand[0] == "list" else [operand]

    def values(self, f: str, name: str, operand) -> tuple[list, bool]:
        """Resolve each operand to the values stored for field f."""
        out, empty = [], False
        for o in self.operands(operand):
            if o[0] == "empty":
                empty = True
                continue
            if o[0] == "func":
                out.extend(self.func_values(f, name, o))
                continue
            v = self.resolve(f, name, o[1])
            if v is not None:
                out.append(v)
        return out, empty

    def func_values(self, f: str, name: str, o) -> list:
        fn = o[1].lower()
        idx = self.idx
        if f == "sprint" and fn in ("opensprints", "closedsprints", "futuresprints"):
            state = {"opensprints": "active", "closedsprints": "closed", "futuresprints": "future"}[fn]
            return [int(s) for s in idx.sprints_now.index[idx.sprints_now.state == state]]
        if f in ("assignee", "reporter") and fn == "currentuser":
            return [SERVICE_ACCOUNT_ID]
        if f == "issuetype" and fn == "standardissuetypes":
            return [t for t, v in ISSUE_TYPES.items() if not v[2]]
        if f == "issuetype" and fn == "subtaskissuetypes":
            return [t for t, v in ISSUE_TYPES.items() if v[2]]
        self.errors.append(f"Unable to find JQL function '{o[1]}({', '.join(o[2])})'.")
        return []

    def _missing(self, name: str, v: str):
        self.errors.append(f"The value '{v}' does not exist for the field '{name}'.")

    def resolve(self, f: str, name: str, v: str):
        idx, lv = self.idx, v.lower()
        if f == "project":
            p = idx.projects
            hit = p[(p.jira_key.str.lower() == lv) | (p.jira_id.astype(str) == v) | (p["name"].str.lower() == lv)]
            if hit.empty:
                return self._missing(name, v)
            return hit.jira_key.iloc[0]
        if f == "issuekey" or f == "parent":
            p = idx.pos_of_key.get(v.upper(), idx.pos_of_id.get(v))
            if p is None:
                if f == "issuekey" and not re.match(r"^[A-Za-z][A-Za-z0-9_]*-\d+$|^\d+$", v):
                    self.errors.append(f"The issue key '{v}' for field '{name}' is invalid.")
                elif f == "issuekey":
                    self.errors.append(f"An issue with key '{v}' does not exist for field '{name}'.")
                else:
                    self._missing(name, v)
                return None
            return p
        if f == "issuetype":
            for t, (tid, _, _) in ISSUE_TYPES.items():
                if lv == t.lower() or v == tid or (lv in ("subtask", "sub task") and t == "Sub-task"):
                    return t
            return self._missing(name, v)
        if f == "status":
            for s, (sid, _) in STATUSES.items():
                if lv == s.lower() or v == sid:
                    return s
            return self._missing(name, v)
        if f == "statuscategory":
            for k, (cid, cname, _) in CATEGORIES.items():
                if lv in (k, cname.lower()) or v == str(cid):
                    return k
            return self._missing(name, v)
        if f == "resolution":
            if lv == "unresolved":
                return "__unresolved__"
            for r, (rid, _) in RESOLUTIONS.items():
                if lv == r.lower() or v == rid:
                    return r
            return self._missing(name, v)
        if f == "labels":
            return v
        if f == "component":
            names = {n.lower(): n for (_, n) in idx.components}
            ids = {cid: n for (_, n), cid in idx.components.items()}
            if lv in names:
                return names[lv]
            if v in ids:
                return ids[v]
            return self._missing(name, v)
        if f == "sprint":
            if v.isdigit() and int(v) in idx.sprints_now.index:
                return int(v)
            hit = idx.sprints_now.index[idx.sprints_now["name"].str.lower() == lv]
            if len(hit):
                return int(hit[0])
            return self._missing(name, v)
        if f in ("assignee", "reporter"):
            for acc, u in idx.users.items():
                if v == acc or lv in ((u["email"] or "").lower(), u["name"].lower(), u["key"].lower(),
                                      u["display"].lower()):
                    return acc
            if v == SERVICE_ACCOUNT_ID or lv in (JIRA_EMAIL, "sei"):
                return SERVICE_ACCOUNT_ID
            return self._missing(name, v)
        if f == "priority":
            for pname, pid in PRIORITIES.items():
                if lv == pname.lower() or v == pid:
                    return pname
            return self._missing(name, v)
        if f == "points":
            try:
                return float(v)
            except ValueError:
                self.errors.append(f"The value '{v}' is not a valid number for the field '{name}'.")
                return None
        if f == "severity":
            for s, oid in SEVERITY_OPTIONS.items():
                if lv == s.lower() or v == oid:
                    return s
            return self._missing(name, v)
        raise AssertionError(f)

    def present(self, f: str) -> np.ndarray:
        iss, idx = self.idx.iss, self.idx
        if f == "resolution":
            return iss.status.isin(list(RESOLUTIONS)).to_numpy()
        if f == "labels":
            return np.array([bool(x) for x in idx.labels])
        if f == "component":
            return iss.component.fillna("").astype(str).str.len().to_numpy() > 0
        if f == "sprint":
            return np.array([len(x) > 0 for x in iss.sprint_ids])
        if f in ("assignee", "reporter"):
            return (idx.assignee_acc if f == "assignee" else idx.reporter_acc) != ""
        if f == "parent":
            return iss.parent_ix.to_numpy() >= 0
        if f == "points":
            return iss.points_now.notna().to_numpy()
        if f == "severity":
            return iss.severity.notna().to_numpy()
        return np.ones(self.n, bool)

    def match_any(self, f: str, values: list) -> np.ndarray:
        iss, idx = self.idx.iss, self.idx
        if not values:
            return self.none()
        if f == "project":
            return np.isin(idx.project_key, values)
        if f == "issuekey":
            m = self.none()
            m[values] = True
            return m
        if f == "parent":
            par_ix = [int(iss.index[p]) for p in values]
            return np.isin(iss.parent_ix.to_numpy(), par_ix)
        if f == "issuetype":
            return iss.type.isin(values).to_numpy()
        if f == "status":
            return iss.status.isin(values).to_numpy()
        if f == "statuscategory":
            return np.isin(idx.status_cat, values)
        if f == "resolution":
            m = iss.status.isin([v for v in values if v != "__unresolved__"]).to_numpy()
            if "__unresolved__" in values:
                m = m | ~iss.status.isin(list(RESOLUTIONS)).to_numpy()
            return m
        if f == "labels":
            want = {v.lower() for v in values}
            return np.array([bool({x.lower() for x in s} & want) for s in idx.labels])
        if f == "component":
            return iss.component.isin(values).to_numpy()
        if f == "sprint":
            want = set(values)
            return np.array([bool(want.intersection(x)) for x in iss.sprint_ids])
        if f in ("assignee", "reporter"):
            return np.isin(idx.assignee_acc if f == "assignee" else idx.reporter_acc, values)
        if f == "priority":
            pr = np.array([_priority(self.c, p) for p in range(self.n)], dtype=object)
            return np.isin(pr, values)
        if f == "points":
            return iss.points_now.isin(values).to_numpy()
        if f == "severity":
            return iss.severity.isin(values).to_numpy()
        raise AssertionError(f)

    def range_clause(self, f: str, name: str, op: str, values: list) -> np.ndarray:
        if len(values) != 1:
            return self.none()
        v = values[0]
        cmp = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}[op]
        iss = self.idx.iss
        if f == "issuekey":
            same = self.idx.project_key == self.idx.project_key[v]
            return same & cmp(iss.key_num.to_numpy(), iss.key_num.iat[v])
        if f == "points":
            pts = iss.points_now.to_numpy()
            return ~np.isnan(pts) & cmp(np.nan_to_num(pts, nan=-1.0), v)
        if f == "priority":
            rank = {n: i for i, n in enumerate(PRIORITIES)}  # Highest first
            pr = np.array([rank[_priority(self.c, p)] for p in range(self.n)])
            return cmp(-pr, -rank[v])
        return self.none()

    # ---- dates
    def date_value(self, name: str, o) -> int | None:
        now = self.c.now
        if o[0] == "func":
            fn, args = o[1].lower(), o[2]
            day = now // 86400 * 86400
            wd = (now // 86400 + 4) % 7  # days since Sunday (1970-01-01 was a Thursday)
            d = dt.datetime.fromtimestamp(now, dt.timezone.utc)
            starts = {"now": now, "startofday": day, "endofday": day + 86399,
                      "startofweek": day - wd * 86400, "endofweek": day + (6 - wd) * 86400 + 86399,
                      "startofmonth": int(dt.datetime(d.year, d.month, 1, tzinfo=dt.timezone.utc).timestamp()),
                      "startofyear": int(dt.datetime(d.year, 1, 1, tzinfo=dt.timezone.utc).timestamp())}
            if fn == "endofmonth":
                nm = dt.datetime(d.year + d.month // 12, d.month % 12 + 1, 1, tzinfo=dt.timezone.utc)
                starts[fn] = int(nm.timestamp()) - 1
            if fn == "endofyear":
                starts[fn] = int(dt.datetime(d.year + 1, 1, 1, tzinfo=dt.timezone.utc).timestamp()) - 1
            if fn not in starts:
                self.errors.append(f"Unable to find JQL function '{o[1]}({', '.join(args)})'.")
                return None
            t = starts[fn]
            if args and fn != "now":
                off = self.period(args[0])
                if off is None:
                    self.errors.append(f"Invalid increment '{args[0]}' for function '{o[1]}'.")
                    return None
                t += off
            return t
        v = o[1].strip()
        for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
            try:
                return int(dt.datetime.strptime(v, fmt).replace(tzinfo=dt.timezone.utc).timestamp())
            except ValueError:
                pass
        off = self.period(v)
        if off is not None:
            return now + off
        self.errors.append(f"Date value '{o[1]}' for field '{name}' is invalid. {DATE_HELP}")
        return None

    @staticmethod
    def period(v: str) -> int | None:
        m = PERIOD.match(v)
        if not m:
            return None
        total = sum(int(n) * UNIT_S[u] for n, u in re.findall(r"(\d+)\s*([yMwdhm])", m.group(2)))
        return -total if m.group(1) == "-" else total

    def date_clause(self, f: str, name: str, op: str, operand) -> np.ndarray:
        iss = self.idx.iss
        col = {"updated": iss.updated_at, "created": iss.created_at, "resolved": iss.resolved_at_now}[f].to_numpy()
        present = col >= 0
        if op in ("IS", "IS NOT"):
            return ~present if op == "IS" else present
        ts = []
        empty = False
        for o in self.operands(operand):
            if o[0] == "empty":
                empty = True
                continue
            t = self.date_value(name, o)
            if t is not None:
                ts.append(t)
        if op in ("=", "!=", "IN", "NOT IN"):
            m = np.isin(col, ts) & present
            if empty:
                m |= ~present
            return m if op in ("=", "IN") else (present & ~m)
        if not ts:
            return self.none()
        cmp = {"<": np.less, ">": np.greater, "<=": np.less_equal, ">=": np.greater_equal}[op]
        return present & cmp(col, ts[0])

    def text_clause(self, name: str, op: str, operand) -> np.ndarray:
        iss = self.idx.iss
        if op in ("IS", "IS NOT"):
            return self.none() if op == "IS" else np.ones(self.n, bool)
        words = [o[1] for o in self.operands(operand) if o[0] == "value"]
        text = iss.summary.str.lower()
        m = np.ones(self.n, bool)
        for wd in words:
            for part in wd.lower().replace("*", "").split():
                m &= text.str.contains(part, regex=False).to_numpy()
        return m if op == "~" else ~m

    # ---- order
    def order(self, order: list, m: np.ndarray) -> np.ndarray:
        """Positions of the matching issues in the requested order (default: key DESC)."""
        iss, idx = self.idx.iss, self.idx
        pos = np.flatnonzero(m)
        if not order:
            order = [("key", "DESC", 0)]
        keys = []
        for name, direction, _ in order:
            s = SORTS.get(name.lower())
            if s is None:
                self.errors.append(f"Not able to sort using field '{name}'.")
                continue
            desc = direction == "DESC" if direction else s in ("updated", "created", "resolved")
            if s in ("updated", "created", "resolved"):
                col = {"updated": "updated_at", "created": "created_at", "resolved": "resolved_at_now"}[s]
                cols = [iss[col].to_numpy()[pos]]
            elif s in ("key", "project"):
                pk = pd.Series(idx.project_key[pos]).rank(method="dense").to_numpy()
                cols = [pk] if s == "project" else [pk, iss.key_num.to_numpy()[pos]]
            elif s == "rank":
                cols = [iss.issue_id.to_numpy()[pos]]
            elif s == "status":
                cols = [np.array([list(STATUSES).index(x) for x in iss.status.to_numpy()[pos]])]
            elif s == "type":
                cols = [pd.Series(iss.type.to_numpy()[pos]).rank(method="dense").to_numpy()]
            elif s == "priority":
                rank = {n: i for i, n in enumerate(PRIORITIES)}
                cols = [np.array([-rank[_priority(self.c, p)] for p in pos])]
            else:
                cols = [pd.Series(iss.summary.to_numpy()[pos]).rank(method="dense").to_numpy()]
            keys.extend((np.asarray(c_, dtype=float), desc) for c_ in cols)
        keys.append((iss.issue_id.to_numpy()[pos].astype(float), False))
        # np.lexsort sorts by the last key first
        arrs = [(-k if desc else k) for k, desc in reversed(keys)]
        return pos[np.lexsort(arrs)]


def run_jql(c: Ctx, jql: str, *, require_bound: bool) -> np.ndarray:
    """Matching issue positions in JQL order; raises JqlError with Jira's messages."""
    where, order = Parser(jql or "").parse()
    if require_bound and where is None:
        raise JqlError("Unbounded JQL queries are not allowed here. Please add a search restriction to your query.")
    ev = Evaluator(c)
    m = ev.mask(where) if where is not None else np.ones(ev.n, bool)
    out = ev.order(order, m)
    if ev.errors:
        raise JqlError(*ev.errors)
    return out


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
    rows = []  # (created, issue id, history id, history)
    for k in dict.fromkeys(map(str, keys)):
        p = _find_issue(c, k)
        if p is None:
            continue
        iid = int(c.idx.iss.issue_id.iat[p])
        for h in histories(c, p, set(field_ids) or None):
            rows.append((h["created"], iid, int(h["id"]), h))
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
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
