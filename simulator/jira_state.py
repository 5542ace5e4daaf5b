"""What the simulated Jira knows before it answers: its catalogue (statuses, issue types,
resolutions, priorities, fields and their JQL names), Jira's timestamp and error formats, the
per-clock index over the as-of views, and the context of one request.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from simulator import views
from simulator.http import Request, Response


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
    col: dict = field(default_factory=dict)     # issue column -> Python list, by position (rendering reads these)
    json_cache: dict = field(default_factory=dict)  # sprint id / (base, ver, project id) -> its JSON


ISSUE_COLUMNS = ("issue_id", "key", "summary", "type", "project_id", "status", "resolved_at_now", "component",
                 "parent_ix", "created_at", "updated_at", "points_now", "sprint_ids", "severity")


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
            # a pandas `.iat` per field and issue was most of a search page's cost
            col={k: iss[k].tolist() for k in ISSUE_COLUMNS} | {"ix": iss.index.tolist()},
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
