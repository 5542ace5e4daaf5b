"""Jira's resources as JSON, the way Cloud and Data Center write them: users, statuses,
projects, sprints, field values, changelog histories and issues.
"""
from __future__ import annotations

import numpy as np

from simulator.http import JIRA_EMAIL
from simulator.jira_state import (AVATAR, CATEGORIES, Ctx, FIELDS, ISSUE_TYPES, PRIORITIES, RESOLUTIONS,
                                  SERVICE_ACCOUNT_ID, SEVERITY_FIELD, SEVERITY_OPTIONS, SEVERITY_PRIORITY, SPRINT_FIELD,
                                  SP_FIELD, SP_NAME, STATUSES, agile_ts, jts)


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
    cache = c.idx.json_cache
    if sid in cache:
        return cache[sid]
    s = c.idx.sprints_now
    if sid not in s.index:
        cache[sid] = None
        return None
    r = s.loc[sid]
    d = {"id": int(sid), "name": r["name"], "state": r.state, "boardId": int(r.board_id), "goal": ""}
    if r.state != "future":
        d["startDate"], d["endDate"] = agile_ts(r.start_at), agile_ts(r.end_at)
    if r.state == "closed":
        d["completeDate"] = agile_ts(r.complete_at_now)
    cache[sid] = d  # the same for every issue in that sprint (json.dumps only reads it)
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
    col = c.idx.col
    return {"id": str(col["issue_id"][p]), "key": col["key"][p],
            "self": f"{c.base}/rest/api/{c.ver}/issue/{col['issue_id'][p]}",
            "fields": {"summary": col["summary"][p], "status": status_json(c, col["status"][p]),
                       "priority": priority_json(c, _priority(c, p)),
                       "issuetype": issuetype_json(c, col["type"][p])}}


def _priority(c: Ctx, p: int) -> str:
    col = c.idx.col
    sev = col["severity"][p]
    if isinstance(sev, str):
        return SEVERITY_PRIORITY.get(sev, "Medium")
    return "High" if col["type"][p] == "Bug" else "Medium"


def field_value(c: Ctx, f: str, p: int):
    idx, col = c.idx, c.idx.col
    if f == "summary":
        return col["summary"][p]
    if f == "issuetype":
        return issuetype_json(c, col["type"][p])
    if f == "project":
        key = (c.base, c.ver, col["project_id"][p])
        if key not in idx.json_cache:
            idx.json_cache[key] = project_json(c, idx.project_rows[key[2]])
        return idx.json_cache[key]
    if f == "status":
        return status_json(c, col["status"][p])
    if f == "statuscategorychangedate":
        return jts(_category_changed_at(c, p))
    if f == "resolution":
        st = col["status"][p]
        if st not in RESOLUTIONS:
            return None
        rid, desc = RESOLUTIONS[st]
        return {"self": f"{c.base}/rest/api/{c.ver}/resolution/{rid}", "id": rid, "description": desc, "name": st}
    if f == "resolutiondate":
        return jts(col["resolved_at_now"][p])
    if f == "priority":
        return priority_json(c, _priority(c, p))
    if f == "labels":
        return sorted(idx.labels[p])
    if f == "components":
        comp = col["component"][p]
        if not isinstance(comp, str) or not comp:
            return []
        cid = idx.components[(col["project_id"][p], comp)]
        return [{"self": f"{c.base}/rest/api/{c.ver}/component/{cid}", "id": cid, "name": comp}]
    if f == "assignee":
        return user_json(c, idx.assignee_acc[p])
    if f in ("reporter", "creator"):
        return user_json(c, idx.reporter_acc[p])
    if f == "parent":
        par = col["parent_ix"][p]
        pp = idx.pos_of_ix.get(int(par)) if par >= 0 else None
        return None if pp is None else issue_ref(c, pp)
    if f == "subtasks":
        return [issue_ref(c, q) for q in idx.subtasks.get(p, [])]
    if f == "description":
        return None
    if f == "created":
        return jts(col["created_at"][p])
    if f == "updated":
        return jts(col["updated_at"][p])
    if f == SP_FIELD:
        v = col["points_now"][p]
        return None if v is None or v != v else float(v)
    if f == SPRINT_FIELD:
        out = [s for s in (sprint_field_json(c, sid) for sid in col["sprint_ids"][p]) if s]
        return out or None
    if f == SEVERITY_FIELD:
        sev = col["severity"][p]
        if not isinstance(sev, str):
            return None
        oid = SEVERITY_OPTIONS[sev]
        return {"self": f"{c.base}/rest/api/{c.ver}/customFieldOption/{oid}", "value": sev, "id": oid}
    raise KeyError(f)


# --------------------------------------------------------------------------- changelog
def _cl_slice(c: Ctx, p: int) -> tuple[int, int]:
    ix = int(c.idx.col["ix"][p])
    return int(np.searchsorted(c.idx.cl_ix, ix, "left")), int(np.searchsorted(c.idx.cl_ix, ix, "right"))


def _category_changed_at(c: Ctx, p: int) -> int:
    lo, hi = _cl_slice(c, p)
    cl = c.idx.cl
    for k in range(hi - 1, lo - 1, -1):
        if cl["field"][k] == "status" and STATUSES[cl["from_string"][k]][1] != STATUSES[cl["to_string"][k]][1]:
            return int(cl["ts"][k])
    return int(c.idx.col["created_at"][p])


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
    col = c.idx.col
    iid = str(col["issue_id"][p])
    if fields is None:
        d = {"id": iid}
    else:
        d = {"expand": EXPAND_ATTR, "id": iid, "self": f"{c.base}/rest/api/{c.ver}/issue/{iid}",
             "key": col["key"][p], "fields": {f: field_value(c, f, p) for f in fields}}
    if changelog:
        d["changelog"] = embedded_changelog(c, p, limit)
    return d


def _names(fields: list[str] | None) -> dict:
    return {f: FIELDS[f][0] for f in fields or []}
