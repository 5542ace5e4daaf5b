"""Jira answers as table rows: timestamps as Jira writes them, the site's custom fields found by
type or name, column types, and one builder per table (issues, changelog items, users,
boards, sprints).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Iterable


SP_TYPES = ("com.pyxis.greenhopper.jira:jsw-story-points",)
SP_NAMES = ("story points", "story point estimate")
SPRINT_TYPES = ("com.pyxis.greenhopper.jira:gh-sprint",)
EPIC_LINK_TYPES = ("com.pyxis.greenhopper.jira:gh-epic-link",)
SYSTEM_FIELDS = ["summary", "issuetype", "status", "resolution", "resolutiondate", "created", "updated", "labels",
                 "components", "assignee", "reporter", "parent", "priority", "project"]


# --------------------------------------------------------------------------- time
def jira_ts(s: str | None) -> dt.datetime | None:
    """Jira's `2024-01-02T10:11:12.345+0000` (and the agile API's `...+10:00` / `Z`) -> aware datetime."""
    if not s:
        return None
    try:
        d = dt.datetime.fromisoformat(str(s).replace("Z", "+00:00"))
    except ValueError:
        try:
            d = dt.datetime.strptime(str(s), "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def canon(d: dt.datetime) -> str:
    """UTC, millisecond ISO string: compares in time order."""
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- fields
class FieldMap:
    """Ids of the site's custom fields the marts need, found by type then name."""

    def __init__(self, story_points: list[str] | None = None, sprint: str | None = None,
                 epic_link: str | None = None, severity: str | None = None):
        self.story_points = story_points or []
        self.sprint, self.epic_link, self.severity = sprint, epic_link, severity

    @classmethod
    def discover(cls, fields: list[dict], overrides: dict | None = None) -> "FieldMap":
        overrides = overrides or {}
        custom = [f for f in fields if str(f.get("id", "")).startswith("customfield_") or f.get("custom")]

        def typ(f):
            return ((f.get("schema") or {}).get("custom") or "").lower()

        def name(f):
            return str(f.get("name") or f.get("untranslatedName") or "").strip().lower()

        sp = [f["id"] for f in custom if typ(f) in SP_TYPES]
        sp += [f["id"] for n in SP_NAMES for f in custom if name(f) == n and f["id"] not in sp]
        sprint = next((f["id"] for f in custom if typ(f) in SPRINT_TYPES), None) or \
            next((f["id"] for f in custom if name(f) == "sprint"), None)
        epic = next((f["id"] for f in custom if typ(f) in EPIC_LINK_TYPES), None) or \
            next((f["id"] for f in custom if name(f) == "epic link"), None)
        sev = next((f["id"] for f in custom if name(f) == "severity"), None)
        if overrides.get("story_points_field"):
            sp = [str(overrides["story_points_field"])]
        return cls(sp[:3], overrides.get("sprint_field") or sprint, overrides.get("epic_link_field") or epic,
                   overrides.get("severity_field") or sev)

    def custom_ids(self) -> list[str]:
        return list(dict.fromkeys([*self.story_points, *(x for x in (self.sprint, self.epic_link, self.severity) if x)]))

    def request_fields(self) -> list[str]:
        return SYSTEM_FIELDS + self.custom_ids()


# --------------------------------------------------------------------------- rows
_T, _TS, _I, _B, _D = "text", "timestamp", "bigint", "bool", "double"


def _cols(**types: str) -> dict:
    return {name: {"data_type": t} for name, t in types.items()}


SCOPE_COLS = dict(project_id=_T, organisation_id=_T, account_id=_T, scope=_T)
ISSUE_COLUMNS = _cols(id=_T, key=_T, project_key=_T, project_jira_id=_T, summary=_T, issue_type=_T,
                      issue_type_id=_T, is_subtask=_B, hierarchy_level=_I, status=_T, status_id=_T,
                      status_category=_T, status_category_name=_T, resolution=_T, resolved_at=_TS, created_at=_TS,
                      updated_at=_TS, priority=_T, assignee_account_id=_T, reporter_account_id=_T, parent_id=_T,
                      parent_key=_T, parent_issue_type=_T, epic_id=_T, epic_key=_T, story_points=_D, severity=_T,
                      changelog_total=_I, custom_fields=_T, url=_T, **SCOPE_COLS)
CHANGELOG_COLUMNS = _cols(history_id=_T, item_index=_I, issue_id=_T, issue_key=_T, author_account_id=_T,
                          created_at=_TS, field=_T, field_type=_T, field_id=_T, from_value=_T, from_string=_T,
                          to_value=_T, to_string=_T, from_account_id=_T, to_account_id=_T, **SCOPE_COLS)
USER_COLUMNS = _cols(jira_account_id=_T, display_name=_T, email_address=_T, account_type=_T, active=_B,
                     time_zone=_T, user_name=_T, **SCOPE_COLS)
BOARD_COLUMNS = _cols(id=_I, name=_T, type=_T, project_key=_T, project_jira_id=_T, location_name=_T, **SCOPE_COLS)
SPRINT_COLUMNS = _cols(id=_I, board_id=_I, origin_board_id=_I, name=_T, state=_T, goal=_T, start_at=_TS, end_at=_TS,
                       complete_at=_TS, created_at=_TS, **SCOPE_COLS)


def user_id(u: dict | None) -> str | None:
    """Cloud: accountId. Data Center: the user key (stable), else the name."""
    if not u:
        return None
    return u.get("accountId") or u.get("key") or u.get("name")


def user_row(u: dict, scope: dict) -> dict:
    return {"jira_account_id": user_id(u), "display_name": u.get("displayName"),
            "email_address": u.get("emailAddress") or None, "account_type": u.get("accountType"),
            "active": u.get("active"), "time_zone": u.get("timeZone"), "user_name": u.get("name"), **scope}


_DC_SPRINT = re.compile(r"\[(.*)\]\s*$", re.S)


def parse_sprint(v) -> dict | None:
    """A Sprint field value: an object (Cloud, recent Data Center) or Data Center's
    `com.atlassian.greenhopper.service.sprint.Sprint@1f[id=48,rapidViewId=58,state=CLOSED,name=...]`."""
    if isinstance(v, dict):
        sid = v.get("id")
        return {"sprint_id": int(sid), "board_id": _int(v.get("boardId") or v.get("rapidViewId"))} \
            if sid is not None else None
    if isinstance(v, str):
        m = _DC_SPRINT.search(v)
        if not m:
            return None
        kv = dict(re.findall(r"(\w+)=([^,]*)", m.group(1)))
        if not kv.get("id", "").isdigit():
            return None
        return {"sprint_id": int(kv["id"]), "board_id": _int(kv.get("rapidViewId"))}
    return None


def _int(v) -> int | None:
    try:
        return int(v) if v not in (None, "", "<null>") else None
    except (TypeError, ValueError):
        return None


def _float(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _option(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, dict):
        return v.get("value") or v.get("name")
    if isinstance(v, list):
        return ", ".join(filter(None, (_option(x) for x in v))) or None
    return str(v)


_NOISE = {"self", "iconUrl", "avatarUrls"}


def _lean(v):
    """A raw field value without its links (self URLs, icons)."""
    if isinstance(v, dict):
        return {k: _lean(x) for k, x in v.items() if k not in _NOISE}
    if isinstance(v, list):
        return [_lean(x) for x in v]
    return v


def issue_row(issue: dict, fm: FieldMap, scope: dict, base_url: str) -> dict:
    f = issue.get("fields") or {}
    itype = f.get("issuetype") or {}
    status = f.get("status") or {}
    cat = status.get("statusCategory") or {}
    parent = f.get("parent") or {}
    ptype = (parent.get("fields") or {}).get("issuetype") or {}
    project = f.get("project") or {}
    epic_id = epic_key = None
    if parent and (ptype.get("hierarchyLevel") == 1 or str(ptype.get("name", "")).lower() == "epic"):
        epic_id, epic_key = parent.get("id"), parent.get("key")
    elif fm.epic_link and isinstance(f.get(fm.epic_link), str):
        epic_key = f.get(fm.epic_link)
    points = next((p for p in (_float(f.get(x)) for x in fm.story_points) if p is not None), None)
    sprints = []
    if fm.sprint:
        seen = set()
        for v in f.get(fm.sprint) or []:
            s = parse_sprint(v)
            if s and s["sprint_id"] not in seen:
                seen.add(s["sprint_id"])
                sprints.append(s)
    comps = [{"id": c.get("id"), "name": c.get("name")} for c in f.get("components") or [] if isinstance(c, dict)]
    cl = issue.get("changelog") or {}
    # raw values of the custom fields read, minus Sprint: flattened into `sprints`, and its
    # embedded sprint state goes stale (closing a sprint does not update its issues)
    custom = {k: _lean(f.get(k)) for k in fm.custom_ids() if k in f and k != fm.sprint}
    key = issue.get("key")
    return {
        "id": str(issue["id"]), "key": key, "project_key": project.get("key") or (key or "").rsplit("-", 1)[0] or None,
        "project_jira_id": project.get("id"), "summary": f.get("summary"),
        "issue_type": itype.get("name"), "issue_type_id": itype.get("id"), "is_subtask": bool(itype.get("subtask")),
        "hierarchy_level": itype.get("hierarchyLevel"),
        "status": status.get("name"), "status_id": status.get("id"), "status_category": cat.get("key"),
        "status_category_name": cat.get("name"),
        "resolution": (f.get("resolution") or {}).get("name"), "resolved_at": jira_ts(f.get("resolutiondate")),
        "created_at": jira_ts(f.get("created")), "updated_at": jira_ts(f.get("updated")),
        "priority": (f.get("priority") or {}).get("name"),
        "assignee_account_id": user_id(f.get("assignee")), "reporter_account_id": user_id(f.get("reporter")),
        "parent_id": parent.get("id"), "parent_key": parent.get("key"), "parent_issue_type": ptype.get("name"),
        "epic_id": epic_id, "epic_key": epic_key, "story_points": points,
        "severity": _option(f.get(fm.severity)) if fm.severity else None,
        "sprints": sprints, "labels": [str(x) for x in f.get("labels") or []], "components": comps,
        "changelog_total": cl.get("total", len(cl.get("histories") or [])) if cl else None,
        "custom_fields": json.dumps(custom, sort_keys=True, separators=(",", ":")) if custom else None,
        "url": f"{base_url}/browse/{key}" if key else None,
        **scope,
    }


def changelog_rows(issue_id: str, issue_key: str | None, histories: Iterable[dict], scope: dict) -> list[dict]:
    rows = []
    for h in histories:
        author = user_id(h.get("author"))
        created = jira_ts(h.get("created"))
        for i, it in enumerate(h.get("items") or []):
            rows.append({"history_id": str(h["id"]), "item_index": i, "issue_id": issue_id, "issue_key": issue_key,
                         "author_account_id": author, "created_at": created, "field": it.get("field"),
                         "field_type": it.get("fieldtype"), "field_id": it.get("fieldId"),
                         "from_value": _str(it.get("from")), "from_string": _str(it.get("fromString")),
                         "to_value": _str(it.get("to")), "to_string": _str(it.get("toString")),
                         "from_account_id": it.get("tmpFromAccountId"), "to_account_id": it.get("tmpToAccountId"),
                         **scope})
    return rows


def _str(v) -> str | None:
    return None if v is None else str(v)


def board_row(b: dict, scope: dict) -> dict:
    loc = b.get("location") or {}
    return {"id": int(b["id"]), "name": b.get("name"), "type": b.get("type"), "project_key": loc.get("projectKey"),
            "project_jira_id": _str(loc.get("projectId")), "location_name": loc.get("displayName") or loc.get("name"),
            **scope}


def sprint_row(s: dict, listed_on: int, scope: dict) -> dict:
    """board_id: the sprint's own board (originBoardId), else the board that listed it."""
    origin = _int(s.get("originBoardId"))
    return {"id": int(s["id"]), "board_id": origin if origin is not None else listed_on, "origin_board_id": origin,
            "name": s.get("name"), "state": s.get("state"), "goal": s.get("goal") or None,
            "start_at": jira_ts(s.get("startDate")), "end_at": jira_ts(s.get("endDate")),
            "complete_at": jira_ts(s.get("completeDate")), "created_at": jira_ts(s.get("createdDate")), **scope}
