"""The simulator's Jira (Cloud v3, agile, Data Center v2) and Harness APIs, checked over
HTTP against the generated world's own tables."""
from __future__ import annotations

import datetime as dt
import json
import re

import numpy as np
import pytest
import requests

from simulator import views
from simulator.http import HARNESS_ACCOUNT, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN

AUTH = (JIRA_EMAIL, JIRA_TOKEN)
HKEY = {"x-api-key": HARNESS_API_KEY}
JIRA_TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000\+0000$")


@pytest.fixture(scope="module")
def http():
    """Plain `requests` calls: a fresh connection per request, as most of these tests
    need no session state."""
    return requests


def jql_minute(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M")


def parse_jira_ts(s: str) -> int:
    return int(dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.000%z").timestamp())


def search_all(http, url, jql, max_results, fields=("key", "updated"), method="GET", **extra):
    """Every page of /rest/api/3/search/jql, following nextPageToken."""
    pages, token = [], None
    while True:
        if method == "GET":
            params = {"jql": jql, "maxResults": max_results, "fields": ",".join(fields), **extra}
            if token:
                params["nextPageToken"] = token
            r = http.get(url + "/rest/api/3/search/jql", params=params, auth=AUTH)
        else:
            body = {"jql": jql, "maxResults": max_results, "fields": list(fields), **extra}
            if token:
                body["nextPageToken"] = token
            r = http.post(url + "/rest/api/3/search/jql", json=body, auth=AUTH)
        assert r.status_code == 200, r.text
        page = r.json()
        pages.append(page)
        token = page.get("nextPageToken")
        if page["isLast"]:
            assert token is None
            return pages
        assert token and len(page["issues"]) == max_results


def issues_of(pages):
    return [i for p in pages for i in p["issues"]]


# --------------------------------------------------------------------------- Jira Cloud search
@pytest.mark.parametrize("max_results,method", [(1, "GET"), (7, "POST"), (100, "GET")])
def test_search_jql_pages_visit_every_issue_once(sim, tiny_world, http, max_results, method):
    want = views.issues(tiny_world)
    pages = search_all(http, sim.url, "project = PAY ORDER BY created ASC", max_results, method=method,
                       **({"expand": "names"} if method == "GET" else {}))
    got = issues_of(pages)
    ids = [int(i["id"]) for i in got]
    assert len(ids) == len(set(ids)) == len(want)
    assert set(ids) == set(want.issue_id)
    created = want.set_index("issue_id").created_at
    order = [created[i] for i in ids]
    assert order == sorted(order)
    assert {i["key"] for i in got} == set(want.key)
    assert all(JIRA_TS.match(i["fields"]["updated"]) for i in got)
    if method == "GET":
        assert pages[0]["names"] == {"updated": "Updated"}


def test_search_jql_returns_ids_only_by_default_and_caps_page_sizes(sim, tiny_world, http):
    n = len(views.issues(tiny_world))
    r = http.get(sim.url + "/rest/api/3/search/jql", params={"jql": "project = PAY", "maxResults": 5000}, auth=AUTH)
    body = r.json()
    assert r.status_code == 200 and body["isLast"] and "nextPageToken" not in body
    assert len(body["issues"]) == n and all(set(i) == {"id"} for i in body["issues"])
    r = http.post(sim.url + "/rest/api/3/search/jql", json={"jql": "project = PAY", "maxResults": 500,
                                                             "fields": ["summary"]}, auth=AUTH)
    assert len(r.json()["issues"]) == 100 and r.json()["isLast"] is False
    r = http.get(sim.url + "/rest/api/3/search/jql", params={"jql": "project = PAY"}, auth=AUTH)
    assert len(r.json()["issues"]) == 50


def test_removed_search_endpoint_is_gone(sim, http):
    for method in ("GET", "POST"):
        r = http.request(method, sim.url + "/rest/api/3/search", params={"jql": "project = PAY"}, auth=AUTH)
        assert r.status_code == 410
        assert "Please migrate to the /rest/api/3/search/jql API" in r.json()["errorMessages"][0]
    r = http.get(sim.url + "/rest/api/2/search", params={"jql": "project = PAY"}, auth=AUTH)
    assert r.status_code == 410 and "enhanced search-based API" in r.json()["errorMessages"][0]


def test_search_jql_request_validation(sim, http):
    url = sim.url + "/rest/api/3/search/jql"
    for n in (0, 5001):
        r = http.get(url, params={"jql": "project = PAY", "maxResults": n}, auth=AUTH)
        assert r.status_code == 400 and r.json()["errorMessages"]
    r = http.get(url, params={"jql": "project = PAY", "nextPageToken": "garbage"}, auth=AUTH)
    assert r.status_code == 400
    r = http.post(url, data='{"jql": "project = PAY"}', auth=AUTH)  # no Content-Type
    assert r.status_code == 415 and r.json()["title"] == "Unsupported Media Type"


def test_updated_jql_returns_exactly_the_issues_updated_since(sim, tiny_world, http):
    iss = views.issues(tiny_world)
    cutoff = int(np.quantile(iss.updated_at, 0.8)) // 60 * 60
    for op, cmp in ((">=", np.greater_equal), (">", np.greater)):
        jql = f'project = PAY AND updated {op} "{jql_minute(cutoff)}" ORDER BY updated ASC, key ASC'
        pages = search_all(http, sim.url, jql, 100, method="POST")
        got = issues_of(pages)
        assert {i["key"] for i in got} == set(iss.key[cmp(iss.updated_at, cutoff)])
        ts = [parse_jira_ts(i["fields"]["updated"]) for i in got]
        assert ts == sorted(ts) and min(ts) >= cutoff
    # relative dates count back from the simulated clock
    pages = search_all(http, sim.url, "updated >= -10d AND project = PAY", 100)
    assert {i["key"] for i in issues_of(pages)} == set(iss.key[iss.updated_at >= tiny_world.now - 10 * 86400])
    pages = search_all(http, sim.url, "project = PAY AND created >= startOfDay(-30d)", 100)
    day = tiny_world.now // 86400 * 86400 - 30 * 86400
    assert {i["key"] for i in issues_of(pages)} == set(iss.key[iss.created_at >= day])
    # AND / OR / NOT / parentheses / IN / !=
    jql = ("project in (PAY) AND (issuetype = Bug OR type in (Incident, 'Sub-task')) AND status != Done "
           "AND NOT status = \"Won't Do\"")
    want = iss[iss.type.isin(["Bug", "Incident", "Sub-task"]) & ~iss.status.isin(["Done", "Won't Do"])]
    assert {i["key"] for i in issues_of(search_all(http, sim.url, jql, 100))} == set(want.key)
    jql = "project = PAY AND statusCategory = 'In Progress' AND resolution is EMPTY"
    want = iss[iss.status.isin(["In Progress", "In Review"])]
    assert {i["key"] for i in issues_of(search_all(http, sim.url, jql, 100))} == set(want.key)


@pytest.mark.parametrize("jql,message", [
    ("project = PAY AND", "Error in the JQL Query: Expecting a field name before the end of the query."),
    ("project PAY", "Error in the JQL Query: Expecting operator but got 'PAY'."),
    ("project = PAY AND (status = Done", "Error in the JQL Query: Expecting ')' before the end of the query."),
    ("project = PAY status = Done", "Error in the JQL Query: Expecting either 'OR' or 'AND' but got 'status'."),
    ('project = "PAY', "has not been completed"),
    ("project = XYZ", "The value 'XYZ' does not exist for the field 'project'."),
    ("project = PAY AND status = Shipped", "The value 'Shipped' does not exist for the field 'status'."),
    ("storypoints = 3", "Field 'storypoints' does not exist or you do not have permission to view it."),
    ("project = PAY AND updated >= yesterday", "Date value 'yesterday' for field 'updated' is invalid."),
    ("project = PAY ORDER BY velocity", "Not able to sort using field 'velocity'."),
    ("project > PAY", "The operator '>' is not supported by the 'project' field."),
    ("", "Unbounded JQL queries are not allowed here."),
    ("ORDER BY updated", "Unbounded JQL queries are not allowed here."),
])
def test_invalid_jql_is_a_400_naming_the_problem(sim, http, jql, message):
    r = http.post(sim.url + "/rest/api/3/search/jql", json={"jql": jql, "fields": ["key"]}, auth=AUTH)
    assert r.status_code == 400
    body = r.json()
    assert body["errors"] == {}
    assert any(message in m for m in body["errorMessages"]), body


def test_issue_fields_match_the_world(sim, tiny_world, http):
    iss = views.issues(tiny_world)
    accounts = tiny_world["tool_accounts"]
    jira_acc = accounts[accounts.tool == "jira"].set_index("dev_id").account_id
    picks = [iss[iss.type == "Incident"].index[0], iss[iss.sprint_ids.map(len) > 1].index[0],
             iss[(iss.parent_ix >= 0) & (iss.type == "Sub-task")].index[0], iss[iss.points_now.notna()].index[0],
             iss[iss.status == "In Review"].index[0]]
    keys = [iss.key[i] for i in picks]
    r = http.post(sim.url + "/rest/api/3/search/jql",
                  json={"jql": f"key in ({', '.join(keys)}) ORDER BY key ASC", "fields": ["*all"]}, auth=AUTH)
    assert r.status_code == 200, r.text
    got = {i["key"]: i for i in r.json()["issues"]}
    assert set(got) == set(keys)
    sprints = tiny_world["sprints"].set_index("sprint_id")
    for ix, key in zip(picks, keys):
        row, f = iss.loc[ix], got[key]["fields"]
        assert f["summary"] == row.summary
        assert f["issuetype"]["name"] == row.type and f["issuetype"]["subtask"] == (row.type == "Sub-task")
        assert f["status"]["name"] == row.status
        assert f["status"]["statusCategory"]["key"] == {"To Do": "new", "In Progress": "indeterminate",
                                                        "In Review": "indeterminate", "Done": "done",
                                                        "Won't Do": "done"}[row.status]
        assert parse_jira_ts(f["created"]) == row.created_at and parse_jira_ts(f["updated"]) == row.updated_at
        assert f["assignee"]["accountId"] == jira_acc[row.assignee_dev]
        assert f["assignee"]["accountType"] == "atlassian" and "emailAddress" in f["assignee"]
        assert f["reporter"]["accountId"] == jira_acc[row.reporter_dev]
        assert f["project"]["key"] == "PAY"
        assert (f["resolution"] is not None) == (row.status in ("Done", "Won't Do"))
        assert (f["resolutiondate"] is None) == (row.resolved_at_now < 0)
        assert f["customfield_10016"] == (None if row.points_now != row.points_now else row.points_now)
        assert [s["id"] for s in f["customfield_10020"] or []] == list(row.sprint_ids)
        for s in f["customfield_10020"] or []:
            assert s["name"] == sprints.name[s["id"]] and s["boardId"] == sprints.board_id[s["id"]]
        if row.type == "Incident":
            assert f["customfield_10050"]["value"] == row.severity
        else:
            assert f["customfield_10050"] is None
        if row.parent_ix >= 0:
            assert f["parent"]["key"] == tiny_world["issues"].key[row.parent_ix]
        labels = sorted(x for x in row.labels.split(";") if x)
        assert f["labels"] == labels
        assert [c["name"] for c in f["components"]] == [row.component]


# --------------------------------------------------------------------------- changelog
def test_embedded_changelog_is_truncated_and_the_changelog_endpoints_page_all(fresh_sim, http):
    s = fresh_sim()
    s.jira_changelog_embed_limit = 3  # the tiny org's issues have fewer than Jira's 40 histories
    w = s.world
    log = views.changelog(w)
    groups = log.groupby(["issue_ix", "ts"]).size().groupby("issue_ix").size()
    ix = int(groups.idxmax())
    n = int(groups.max())
    assert n > 3
    key = w["issues"].key[ix]
    r = http.get(s.url + "/rest/api/3/search/jql", params={"jql": f"key = {key}", "fields": "summary",
                                                          "expand": "changelog"}, auth=AUTH)
    cl = r.json()["issues"][0]["changelog"]
    assert cl["total"] == n and cl["maxResults"] == 3 and len(cl["histories"]) == 3
    embedded = [parse_jira_ts(h["created"]) for h in cl["histories"]]
    assert embedded == sorted(embedded, reverse=True)  # the most recent first

    values, start = [], 0
    while True:
        r = http.get(s.url + f"/rest/api/3/issue/{key}/changelog", params={"startAt": start, "maxResults": 2},
                     auth=AUTH)
        page = r.json()
        assert r.status_code == 200 and page["total"] == n
        values += page["values"]
        start += len(page["values"])
        if page["isLast"]:
            assert "nextPage" not in page
            break
        assert page["nextPage"].endswith(f"startAt={start}")
    assert len(values) == n and len({h["id"] for h in values}) == n
    times = [parse_jira_ts(h["created"]) for h in values]
    assert times == sorted(times)  # oldest first
    assert [h["id"] for h in values[-3:]] == [h["id"] for h in reversed(cl["histories"])]
    # every field change in the world appears once, with Jira's item shapes
    items = [it for h in values for it in h["items"]]
    rows = log[log.issue_ix == ix]
    assert len(items) == len(rows)
    status = [it for it in items if it["field"] == "status"]
    assert [(it["fromString"], it["toString"]) for it in status] == \
        list(rows[rows.field == "status"][["from_string", "to_string"]].itertuples(index=False, name=None))
    assert all(it["fieldtype"] == "jira" and it["from"].isdigit() and it["to"].isdigit() for it in status)
    sprint_items = [it for it in items if it["field"] == "Sprint"]
    assert len(sprint_items) == (rows.field == "Sprint").sum()
    for it, row in zip(sprint_items, rows[rows.field == "Sprint"].itertuples()):
        assert it["fieldtype"] == "custom" and it["fieldId"] == "customfield_10020"
        assert it["to"] == (", ".join(map(str, row.to_ids)) or None)
        assert it["from"] == (", ".join(map(str, row.from_ids)) or None)

    # bulk fetch: two issues, small pages, every history of both exactly once
    other = w["issues"].key[int(groups.index[0])]
    seen, token = {}, None
    while True:
        body = {"issueIdsOrKeys": [key, other], "maxResults": 3}
        if token:
            body["nextPageToken"] = token
        r = http.post(s.url + "/rest/api/3/changelog/bulkfetch", json=body, auth=AUTH)
        assert r.status_code == 200, r.text
        for log_ in r.json()["issueChangeLogs"]:
            for h in log_["changeHistories"]:
                assert h["id"] not in seen
                seen[h["id"]] = log_["issueId"]
        token = r.json().get("nextPageToken")
        if not token:
            break
    assert len(seen) == n + int(groups.iloc[0])
    r = http.post(s.url + "/rest/api/3/changelog/bulkfetch",
                  json={"issueIdsOrKeys": [key], "fieldIds": ["status"]}, auth=AUTH)
    only = [it for lg in r.json()["issueChangeLogs"] for h in lg["changeHistories"] for it in h["items"]]
    assert only and all(it["fieldId"] == "status" for it in only)


# --------------------------------------------------------------------------- metadata and agile
def test_fields_myself_and_projects(sim, http):
    fields = {f["id"]: f for f in http.get(sim.url + "/rest/api/3/field", auth=AUTH).json()}
    assert fields["customfield_10016"]["name"] == "Story point estimate" and fields["customfield_10016"]["custom"]
    assert fields["customfield_10020"]["name"] == "Sprint" and fields["customfield_10050"]["name"] == "Severity"
    assert "sprint" in fields["customfield_10020"]["clauseNames"]
    me = http.get(sim.url + "/rest/api/3/myself", auth=AUTH).json()
    assert me["emailAddress"] == JIRA_EMAIL and me["accountType"] == "atlassian"
    page = http.get(sim.url + "/rest/api/3/project/search", auth=AUTH).json()
    assert page["total"] == 1 and page["isLast"] and page["values"][0]["key"] == "PAY"


def test_agile_boards_sprints_and_sprint_issues(sim, tiny_world, http):
    boards = tiny_world["boards"]
    r = http.get(sim.url + "/rest/agile/1.0/board", params={"maxResults": 3}, auth=AUTH).json()
    assert r["total"] == len(boards) and r["isLast"] is (len(boards) <= 3) and len(r["values"]) == min(3, len(boards))
    assert all(b["type"] == "scrum" and b["location"]["projectKey"] == "PAY" for b in r["values"])
    sp = views.sprints(tiny_world)
    iss = views.issues(tiny_world)
    bid = int(boards.board_id.iloc[0])
    got, start = [], 0
    while True:
        page = http.get(sim.url + f"/rest/agile/1.0/board/{bid}/sprint", params={"startAt": start, "maxResults": 10},
                        auth=AUTH).json()
        got += page["values"]
        start += len(page["values"])
        if page["isLast"]:
            break
    mine = sp[sp.board_id == bid]
    assert [s["id"] for s in got] == list(mine.sort_values("start_at").sprint_id)
    assert all(s["originBoardId"] == bid for s in got)
    closed = [s for s in got if s["state"] == "closed"]
    assert closed and all("completeDate" in s for s in closed)
    active = http.get(sim.url + f"/rest/agile/1.0/board/{bid}/sprint", params={"state": "active"}, auth=AUTH).json()
    assert [s["id"] for s in active["values"]] == list(mine[mine.state == "active"].sprint_id)
    # issues in a sprint: the active one and a closed one
    for sprint in (active["values"][0], closed[-1]):
        sid = sprint["id"]
        want = set(iss.key[iss.sprint_ids.map(lambda x, sid=sid: sid in x)])
        keys, start = [], 0
        while True:
            page = http.get(sim.url + f"/rest/agile/1.0/sprint/{sid}/issue",
                            params={"startAt": start, "maxResults": 4}, auth=AUTH).json()
            assert page["total"] == len(want)
            keys += [i["key"] for i in page["issues"]]
            start += len(page["issues"])
            if start >= page["total"]:
                break
        assert len(keys) == len(set(keys)) and set(keys) == want
        assert all(sid in [s["id"] for s in i["fields"]["customfield_10020"]] for i in page["issues"])
    assert http.get(sim.url + "/rest/agile/1.0/board/999", auth=AUTH).status_code == 404


# --------------------------------------------------------------------------- Data Center
def test_data_center_search_pages_with_start_at(fresh_sim, http):
    s = fresh_sim(data_center=True)
    want = views.issues(s.world)
    seen, start = [], 0
    while True:
        r = http.get(s.url + "/rest/api/2/search", params={"jql": "project = PAY ORDER BY key ASC", "startAt": start,
                                                           "maxResults": 7, "fields": "assignee,updated"},
                     headers={"Authorization": f"Bearer {JIRA_TOKEN}"})
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["total"] == len(want) and page["startAt"] == start and page["maxResults"] == 7
        seen += page["issues"]
        start += len(page["issues"])
        if start >= page["total"]:
            break
    ids = [int(i["id"]) for i in seen]
    assert len(ids) == len(set(ids)) and set(ids) == set(want.issue_id)
    user = next(i["fields"]["assignee"] for i in seen if i["fields"]["assignee"])
    assert {"name", "key", "displayName", "emailAddress"} <= set(user) and "accountId" not in user
    # DC embeds the whole changelog and has no REST v3
    r = http.get(s.url + "/rest/api/2/search", params={"jql": "project = PAY", "maxResults": 20,
                                                       "expand": "changelog"}, auth=AUTH).json()
    assert all(i["changelog"]["total"] == len(i["changelog"]["histories"]) for i in r["issues"])
    r = http.get(s.url + "/rest/api/3/search/jql", params={"jql": "project = PAY"}, auth=AUTH)
    assert r.status_code == 404 and "null for uri" in r.json()["message"]
    r = http.get(s.url + "/rest/api/2/search", params={"jql": "project = NOPE"}, auth=AUTH)
    assert r.status_code == 400
    assert "The value 'NOPE' does not exist for the field 'project'." in r.json()["errorMessages"]


# --------------------------------------------------------------------------- Harness
def executions_page(http, url, page, size, body=None, **params):
    return http.post(url + "/pipeline/api/pipelines/execution/summary",
                     params={"accountIdentifier": HARNESS_ACCOUNT, "orgIdentifier": "payments",
                             "projectIdentifier": "prj_payments", "page": page, "size": size, **params},
                     json=body if body is not None else {"filterType": "PipelineExecution"}, headers=HKEY)


def all_executions(http, url, size, body=None, **params):
    out, page = [], 0
    while True:
        r = executions_page(http, url, page, size, body, **params)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        assert r.json()["status"] == "SUCCESS" and data["number"] == page and data["size"] == size
        out += data["content"]
        if data["last"]:
            assert data["totalElements"] == len(out) and data["totalPages"] == page + 1
            return out
        page += 1


def harness_deployments(w):
    d = views.deployments(w)
    return d[d.tool == "harness"]


@pytest.mark.parametrize("size", [1, 7, 100])
def test_harness_executions_paginate_exactly_once(sim, tiny_world, http, size):
    want = harness_deployments(tiny_world)
    got = all_executions(http, sim.url, size)
    ids = [e["planExecutionId"] for e in got]
    assert len(ids) == len(set(ids)) == len(want) and set(ids) == set(want.plan_execution_id)
    starts = [e["startTs"] for e in got]
    assert starts == sorted(starts, reverse=True)  # Harness's default: startTs DESC


def test_harness_executions_carry_the_commit_their_pipeline_reports(sim, tiny_world, http):
    want = harness_deployments(tiny_world).set_index("plan_execution_id")
    svc = tiny_world["services"].set_index("service_id")
    got = all_executions(http, sim.url, 100, sort="startTs,ASC")
    assert [e["startTs"] for e in got] == sorted(e["startTs"] for e in got)
    seen = set()
    for e in got:
        row = want.loc[e["planExecutionId"]]
        name = svc.harness_service_id[row.service_id]
        via = row.harness_commit_via
        seen.add(via)
        prefix = "rollback_" if row.is_rollback else ("build_and_deploy_" if via == "ci" else "deploy_")
        assert e["pipelineIdentifier"] == prefix + name
        assert e["status"] == {"success": "Success", "failure": "Failed", "in_progress": "Running"}[row.status_now]
        assert e["startTs"] == row.started_at * 1000
        assert e.get("endTs") == (row.finished_at_now * 1000 if row.finished_at_now >= 0 else None)
        cd = e["moduleInfo"]["cd"]
        assert cd["serviceIdentifiers"] == [name] and cd["envIdentifiers"] == [row.environment]
        assert cd["environmentTypes"] == ["Production" if row.environment == "production" else "PreProduction"]
        stage = next(n for n in e["layoutNodeMap"].values() if n["module"] == "cd")
        info = stage["moduleInfo"]["cd"]
        assert info["serviceInfo"]["identifier"] == name
        assert info["infraExecutionSummary"]["identifier"] == row.environment
        tag = info["serviceInfo"]["artifacts"]["primary"]["tag"]
        if via == "ci":
            commits = e["moduleInfo"]["ci"]["ciExecutionInfoDTO"]["branch"]["commits"]
            assert commits[0]["id"] == row.sha and e["modules"] == ["ci", "cd"]
        elif via == "tag_sha":
            assert tag == row.sha and "ci" not in e["moduleInfo"]
        else:
            assert re.fullmatch(r"1\.4\.\d+", tag) and "ci" not in e["moduleInfo"]
            assert row.sha not in json.dumps(e)  # Harness does not know the commit
    assert seen == {"ci", "tag_sha", "tag_semver"}
    rollbacks = [e for e in got if e["pipelineIdentifier"].startswith("rollback_")]
    assert len(rollbacks) == int(want.is_rollback.sum())


def test_harness_filters(sim, tiny_world, http):
    want = harness_deployments(tiny_world)
    lo, hi = int(np.quantile(want.started_at, 0.5)) * 1000, int(want.started_at.max()) * 1000
    body = {"filterType": "PipelineExecution", "timeRange": {"startTime": lo, "endTime": hi}}
    got = all_executions(http, sim.url, 50, body)
    assert {e["planExecutionId"] for e in got} == \
        set(want.plan_execution_id[(want.started_at * 1000 >= lo) & (want.started_at * 1000 <= hi)])
    got = all_executions(http, sim.url, 50, {"filterType": "PipelineExecution", "status": ["Failed"]})
    assert {e["planExecutionId"] for e in got} == set(want.plan_execution_id[want.status_now == "failure"])
    r = executions_page(http, sim.url, 0, 5, {"filterType": "PipelineExecution", "timeRange": {"startTime": lo}})
    assert r.status_code == 400 and r.json()["code"] == "INVALID_REQUEST"
    assert "startTime or endTime is not provided" in r.json()["message"]
    r = http.post(sim.url + "/pipeline/api/pipelines/execution/summary",
                  params={"accountIdentifier": HARNESS_ACCOUNT, "orgIdentifier": "payments"},
                  json={"filterType": "PipelineExecution"}, headers=HKEY)
    assert r.status_code == 400 and r.json()["status"] == "FAILURE"


def test_harness_services_and_environments(sim, tiny_world, http):
    params = {"accountIdentifier": HARNESS_ACCOUNT, "orgIdentifier": "payments", "projectIdentifier": "prj_payments"}
    svc = tiny_world["services"]
    want = set(svc.harness_service_id[svc.deploy_tool == "harness"])
    r = http.get(sim.url + "/ng/api/servicesV2", params={**params, "page": 0, "size": 1}, headers=HKEY).json()
    assert r["status"] == "SUCCESS" and r["data"]["totalItems"] == len(want) and r["data"]["pageIndex"] == 0
    got = set()
    for page in range(r["data"]["totalPages"]):
        d = http.get(sim.url + "/ng/api/servicesV2", params={**params, "page": page, "size": 1}, headers=HKEY).json()
        got |= {c["service"]["identifier"] for c in d["data"]["content"]}
    assert got == want
    envs = http.get(sim.url + "/ng/api/environmentsV2", params=params, headers=HKEY).json()["data"]["content"]
    assert {(e["environment"]["identifier"], e["environment"]["type"]) for e in envs} == \
        {("staging", "PreProduction"), ("production", "Production")}
    projects = http.get(sim.url + "/ng/api/projects", params={"accountIdentifier": HARNESS_ACCOUNT}, headers=HKEY)
    assert [p["project"]["identifier"] for p in projects.json()["data"]["content"]] == ["prj_payments"]


# --------------------------------------------------------------------------- auth and limits
def test_jira_authentication_failures(sim, fresh_sim, http):
    url = sim.url + "/rest/api/3/myself"
    r = http.get(url)
    assert r.status_code == 401 and r.text == "Client must be authenticated to access this resource."
    assert "X-Seraph-LoginReason" not in r.headers
    r = http.get(url, auth=(JIRA_EMAIL, "wrong"))
    assert r.status_code == 401 and r.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"
    r = http.get(url, headers={"Accept": "application/json"})
    assert r.status_code == 401 and r.json() == "Client must be authenticated to access this resource."
    # Cloud takes no personal access tokens (a bearer token must be a Connect JWT); Data Center does
    r = http.get(url, headers={"Authorization": f"Bearer {JIRA_TOKEN}"})
    assert r.status_code == 403 and r.json() == {"error": "Failed to parse Connect Session Auth Token"}
    dc = fresh_sim(data_center=True)
    r = http.get(dc.url + "/rest/api/2/myself", headers={"Authorization": f"Bearer {JIRA_TOKEN}"})
    assert r.status_code == 200 and r.json()["name"] == "sei"
    r = http.get(dc.url + "/rest/api/2/myself", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and r.json()["errorMessages"]


def test_harness_authentication_failures(sim, http):
    url = sim.url + "/ng/api/environmentsV2"
    params = {"accountIdentifier": HARNESS_ACCOUNT, "orgIdentifier": "payments", "projectIdentifier": "prj_payments"}
    r = http.get(url, params=params)
    assert r.status_code == 401 and r.json()["status"] == "ERROR" and r.json()["code"] == "INVALID_TOKEN"
    r = http.get(url, params=params, headers={"x-api-key": "pat.acmeAccount.nope.nope"})
    assert r.status_code == 401 and r.json()["code"] == "INVALID_TOKEN"
    r = http.get(url, params={k: v for k, v in params.items() if k != "accountIdentifier"}, headers=HKEY)
    assert r.status_code == 400 and "Account detail is not present" in r.json()["message"]
    r = http.get(url, params={**params, "accountIdentifier": "otherAccount"}, headers=HKEY)
    assert r.status_code == 401
    assert http.get(url, params=params, headers=HKEY).status_code == 200


def test_rate_limits(fresh_sim, http):
    s = fresh_sim(jira_per_minute=3, harness_per_minute=2, time_scale=1.0)
    for _ in range(3):
        assert http.get(s.url + "/rest/api/3/myself", auth=AUTH).status_code == 200
    r = http.get(s.url + "/rest/api/3/myself", auth=AUTH)
    assert r.status_code == 429 and r.json()["errorMessages"] and r.json()["status"] == 429
    assert 0 < int(r.headers["Retry-After"]) <= 60
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\dZ", r.headers["X-RateLimit-Reset"])
    assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "0"
    params = {"accountIdentifier": HARNESS_ACCOUNT}
    for _ in range(2):
        assert http.get(s.url + "/ng/api/projects", params=params, headers=HKEY).status_code == 200
    r = http.get(s.url + "/ng/api/projects", params=params, headers=HKEY)
    assert r.status_code == 429 and "Retry-After" not in r.headers
    assert r.json()["code"] == "TOO_MANY_REQUESTS"


# --------------------------------------------------------------------------- the clock
def test_advancing_the_clock_updates_issues(fresh_sim, http):
    s = fresh_sim()
    before = {i["key"]: i["fields"] for i in issues_of(search_all(http, s.url, "project = PAY", 100,
                                                                  fields=("status", "updated")))}
    old_now = s.world.now
    assert http.post(s.url + "/_sim/advance", params={"hours": 48}).status_code == 200
    pages = search_all(http, s.url, f'project = PAY AND updated >= "{jql_minute(old_now)}" ORDER BY updated ASC', 100,
                       fields=("status", "updated"))
    after = {i["key"]: i["fields"] for i in issues_of(pages)}
    iss = views.issues(s.world)
    assert set(after) == set(iss.key[iss.updated_at >= old_now // 60 * 60])
    changed = [k for k in after if k in before and after[k]["status"]["name"] != before[k]["status"]["name"]]
    assert changed and all(parse_jira_ts(after[k]["updated"]) > parse_jira_ts(before[k]["updated"]) for k in changed)
    assert all(parse_jira_ts(f["updated"]) >= old_now // 60 * 60 for f in after.values())
    assert set(after) - set(before)  # and new issues were created
    # move the clock into a Harness deployment: its execution is Running, without endTs
    w = s.world
    d = w["deployments"]
    d = d[(d.tool == "harness") & (d.started_at > w.now) & (d.finished_at > d.started_at + 5)].iloc[0]
    delta = int(d.started_at) - w.now + 2
    assert http.post(s.url + "/_sim/advance", params={"hours": (delta + 0.5) / 3600}).status_code == 200
    assert d.started_at < w.now < d.finished_at
    org = w["organisations"].harness_org.iloc[0]
    r = http.post(s.url + "/pipeline/api/pipelines/execution/summary",
                  params={"accountIdentifier": HARNESS_ACCOUNT, "orgIdentifier": org,
                          "projectIdentifier": w["projects"].harness_project.iloc[0]},
                  json={"filterType": "PipelineExecution", "planExecutionIds": [d.plan_execution_id]}, headers=HKEY)
    (e,) = r.json()["data"]["content"]
    assert e["status"] == "Running" and "endTs" not in e and e["runningStagesCount"] == 1
