"""The simulator's GitHub APIs (GraphQL and REST) against the generated world's own tables.

Expected values come from the world tables directly (rows created by `world.now`), not
from `simulator.views`, so a mistake in the as-of logic shows up here.
"""
from __future__ import annotations

import http.client
import json
import re
from urllib.parse import urlsplit

import numpy as np
import pytest

from simulator.api_github_rest import GRAPHQL_AUTH_DOCS
from simulator.http import GITHUB_TOKEN

HOST = "github.sim.test"  # a fixed Host header: URLs in bodies do not depend on the port

PRS_QUERY = """
query Prs($owner: String!, $name: String!, $first: Int!, $after: String, $order: IssueOrder) {
  repository(owner: $owner, name: $name) {
    pullRequests(first: $first, after: $after, orderBy: $order) {
      totalCount
      pageInfo { hasNextPage endCursor }
      edges { cursor }
      nodes { databaseId number state isDraft createdAt updatedAt mergedAt author { __typename login } }
    }
  }
}"""

FOUR_CONNECTIONS = """
query Four($owner: String!, $name: String!, $after: String) {
  rateLimit { limit cost remaining used resetAt nodeCount }
  repository(owner: $owner, name: $name) {
    pullRequests(first: 100, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes {
        databaseId
        reviews(first: 50) { totalCount nodes { databaseId state submittedAt author { login } } }
        labels(first: 10) { nodes { name } }
        first: commits(first: 1) { nodes { commit { oid authoredDate } } }
        last: commits(last: 1) { totalCount nodes { commit { oid authoredDate } } }
      }
    }
  }
}"""


# --------------------------------------------------------------------------- HTTP helpers
def call(sim, method: str, path: str, body=None, token: str | None = GITHUB_TOKEN, scheme: str = "bearer"):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=60)
    headers = {"Host": HOST}
    if token is not None:
        headers["Authorization"] = f"{scheme} {token}"
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    raw = resp.read()
    conn.close()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, raw


def gql(sim, query: str, variables: dict | None = None, **kw):
    status, headers, raw = call(sim, "POST", "/graphql", {"query": query, "variables": variables or {}}, **kw)
    return status, headers, json.loads(raw)


def rest(sim, path: str, **kw):
    status, headers, raw = call(sim, "GET", path, **kw)
    return status, headers, json.loads(raw)


def links(header: str | None) -> dict[str, str]:
    """rel -> path?query of a Link header."""
    out = {}
    for url, rel in re.findall(r'<([^>]+)>; rel="(\w+)"', header or ""):
        parts = urlsplit(url)
        assert parts.netloc == HOST
        out[rel] = f"{parts.path}?{parts.query}"
    return out


def follow(sim, path: str) -> tuple[list, list[dict]]:
    """Every item of a REST listing, following rel="next"; also each page's headers."""
    items, pages = [], []
    while path:
        status, headers, body = rest(sim, path)
        assert status == 200, body
        items += body["workflow_runs"] if isinstance(body, dict) else body
        pages.append(headers)
        path = links(headers.get("link")).get("next")
    return items, pages


def crawl_prs(sim, full: str, first: int, order: dict | None = None) -> list[dict]:
    owner, name = full.split("/")
    nodes, after = [], None
    while True:
        status, _, body = gql(sim, PRS_QUERY, {"owner": owner, "name": name, "first": first, "after": after,
                                              "order": order})
        assert status == 200 and "errors" not in body, body
        conn = body["data"]["repository"]["pullRequests"]
        assert len(conn["nodes"]) <= first
        assert [e["cursor"] for e in conn["edges"]][-1:] == ([conn["pageInfo"]["endCursor"]] if conn["nodes"] else [])
        nodes += conn["nodes"]
        if not conn["pageInfo"]["hasNextPage"]:
            return nodes
        after = conn["pageInfo"]["endCursor"]


# --------------------------------------------------------------------------- world helpers
def repo_full(world, repo_id: int) -> str:
    return world["repos"].set_index("repo_id").full_name[repo_id]


def prs_now(world, repo_id: int):
    p = world["prs"]
    return p[(p.repo_id == repo_id) & (p.created_at <= world.now)]


def busiest_repo(world) -> int:
    p = world["prs"]
    return int(p[p.created_at <= world.now].repo_id.value_counts().idxmax())


def quietest_repo(world) -> int:
    p = world["prs"]
    return int(p[p.created_at <= world.now].repo_id.value_counts().idxmin())


def github_deploy_repo(world) -> int:
    d = world["deployments"]
    return int(d[(d.tool == "github") & (d.started_at <= world.now)].repo_id.value_counts().idxmax())


# --------------------------------------------------------------------------- GraphQL
@pytest.mark.parametrize("first", [1, 7, 100])
def test_pr_pages_visit_every_pull_request_once(sim, tiny_world, first):
    rid = quietest_repo(tiny_world) if first == 1 else busiest_repo(tiny_world)
    expected = prs_now(tiny_world, rid)
    got = crawl_prs(sim, repo_full(tiny_world, rid), first)
    ids = [n["databaseId"] for n in got]
    assert len(ids) == len(set(ids)) == len(expected)
    assert set(ids) == set(expected.pr_id.tolist())
    created = [n["createdAt"] for n in got]
    assert created == sorted(created)


@pytest.mark.parametrize("direction", ["ASC", "DESC"])
def test_pr_pages_ordered_by_updated_at_visit_every_pull_request_once(sim, tiny_world, direction):
    rid = busiest_repo(tiny_world)
    got = crawl_prs(sim, repo_full(tiny_world, rid), 7, {"field": "UPDATED_AT", "direction": direction})
    ids = [n["databaseId"] for n in got]
    assert len(ids) == len(set(ids)) == len(prs_now(tiny_world, rid))
    updated = [n["updatedAt"] for n in got]
    assert updated == sorted(updated, reverse=direction == "DESC")


def test_pr_fields_match_the_world(sim, tiny_world):
    rid = busiest_repo(tiny_world)
    nodes = {n["databaseId"]: n for n in crawl_prs(sim, repo_full(tiny_world, rid), 100)}
    now = tiny_world.now
    for row in prs_now(tiny_world, rid).itertuples():
        n = nodes[row.pr_id]
        merged = 0 <= row.merged_at <= now
        closed = 0 <= row.closed_at <= now
        assert n["state"] == ("MERGED" if merged else "CLOSED" if closed else "OPEN")
        assert (n["mergedAt"] is not None) == merged
        assert n["number"] == row.number
        assert n["updatedAt"] >= n["createdAt"]
        if row.author_login.endswith("[bot]"):  # GraphQL names bots without REST's suffix
            assert n["author"] == {"__typename": "Bot", "login": row.author_login[:-5]}
        else:
            assert n["author"] == {"__typename": "User", "login": row.author_login}
    assert any(n["author"]["__typename"] == "Bot" for n in nodes.values())


def test_nested_reviews_commits_and_ready_for_review(sim, tiny_world):
    w = tiny_world
    rid = busiest_repo(w)
    owner, name = repo_full(w, rid).split("/")
    p = prs_now(w, rid)
    drafted = p[p.is_draft_start & (p.ready_at >= 0) & (p.ready_at <= w.now)].iloc[0]
    q = """query($o: String!, $n: String!, $num: Int!) { repository(owner: $o, name: $n) { pullRequest(number: $num) {
      databaseId reviews(first: 50) { totalCount nodes { databaseId } }
      commits(first: 100) { totalCount nodes { commit { oid } } }
      timelineItems(itemTypes: [READY_FOR_REVIEW_EVENT], first: 5) { nodes { ... on ReadyForReviewEvent { createdAt } } } } } }"""
    status, _, body = gql(sim, q, {"o": owner, "n": name, "num": int(drafted.number)})
    pr = body["data"]["repository"]["pullRequest"]
    rv = w["reviews"]
    reviews = rv[(rv.pr_ix == drafted.name) & (rv.submitted_at <= w.now)]
    assert [r["databaseId"] for r in pr["reviews"]["nodes"]] == reviews.sort_values("submitted_at").review_id.tolist()
    pc = w["pr_commits"]
    commits = pc[(pc.pr_ix == drafted.name) & (pc.authored_at <= w.now)].sort_values("seq")
    assert [c["commit"]["oid"] for c in pr["commits"]["nodes"]] == commits.sha.tolist()
    ready = pr["timelineItems"]["nodes"]
    assert len(ready) == 1 and ready[0]["createdAt"] == _iso(drafted.ready_at)


def test_history_is_the_first_parent_chain_newest_first(sim, tiny_world):
    w = tiny_world
    rp = w["repos"][w["repos"].merge_method == "merge"].iloc[0]
    owner, name = rp.full_name.split("/")
    q = """query($o: String!, $n: String!, $after: String) { repository(owner: $o, name: $n) { defaultBranchRef { name
      target { ... on Commit { history(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { oid parents(first: 2) { nodes { oid } } } } } } } } }"""
    nodes, after = [], None
    while True:
        _, _, body = gql(sim, q, {"o": owner, "n": name, "after": after})
        ref = body["data"]["repository"]["defaultBranchRef"]
        h = ref["target"]["history"]
        nodes += h["nodes"]
        if not h["pageInfo"]["hasNextPage"]:
            break
        after = h["pageInfo"]["endCursor"]
    mc = w["main_commits"]
    chain = mc[(mc.repo_id == rp.repo_id) & (mc.authored_at <= w.now)].sort_values("seq", ascending=False)
    assert ref["name"] == rp.default_branch
    assert h["totalCount"] == len(chain)
    assert [n["oid"] for n in nodes] == chain.sha.tolist()
    for n, row in zip(nodes, chain.itertuples()):
        expected = [s for s in (row.parent_sha, row.second_parent_sha) if isinstance(s, str)]
        assert [p["oid"] for p in n["parents"]["nodes"]] == expected
    assert any(len(n["parents"]["nodes"]) == 2 for n in nodes)


def test_deployments_and_releases_over_graphql(sim, tiny_world):
    w = tiny_world
    rid = github_deploy_repo(w)
    owner, name = repo_full(w, rid).split("/")
    q = """query($o: String!, $n: String!) { repository(owner: $o, name: $n) {
      deployments(first: 100, environments: ["production"], orderBy: {field: CREATED_AT, direction: DESC}) {
        totalCount nodes { createdAt environment state commitOid latestStatus { state } statuses(first: 5) { nodes { state } } } }
      releases(first: 5) { totalCount nodes { tagName tagCommit { oid } } } } }"""
    _, _, body = gql(sim, q, {"o": owner, "n": name})
    repo = body["data"]["repository"]
    d = w["deployments"]
    prod = d[(d.repo_id == rid) & (d.tool == "github") & (d.environment == "production") & (d.started_at <= w.now)]
    assert repo["deployments"]["totalCount"] == len(prod)
    newest = prod.sort_values(["started_at", "gh_deployment_id"]).iloc[-1]
    first = repo["deployments"]["nodes"][0]
    # (the world's deployment ids pass 2^31, which GraphQL's Int `databaseId` cannot carry)
    assert first["createdAt"] == _iso(newest.started_at) and first["commitOid"] == newest.sha
    assert first["latestStatus"]["state"] == first["statuses"]["nodes"][0]["state"]
    assert {n["state"] for n in repo["deployments"]["nodes"]} <= {"ACTIVE", "INACTIVE", "FAILURE", "IN_PROGRESS"}
    rl = w["releases"]
    assert repo["releases"]["totalCount"] == int(((rl.repo_id == rid) & (rl.created_at <= w.now)).sum())


def test_nested_four_connections_cost_four_points_per_page(fresh_sim, tiny_world):
    s = fresh_sim(time_scale=1.0)  # real time: the hourly window does not roll during the test
    rid = busiest_repo(tiny_world)
    owner, name = repo_full(tiny_world, rid).split("/")
    after, remaining, pages = None, None, 0
    while True:
        status, headers, body = gql(s, FOUR_CONNECTIONS, {"owner": owner, "name": name, "after": after})
        assert status == 200 and "errors" not in body, body
        rate = body["data"]["rateLimit"]
        assert rate["cost"] == 4 and rate["limit"] == 5000
        assert rate["nodeCount"] == 100 + 100 * (50 + 10 + 1 + 1)
        if remaining is not None:
            assert rate["remaining"] == remaining - 4
        remaining = rate["remaining"]
        pages += 1
        assert rate["used"] == 4 * pages
        assert headers["x-ratelimit-remaining"] == str(remaining)
        assert headers["x-ratelimit-used"] == str(rate["used"])
        assert headers["x-ratelimit-resource"] == "graphql"
        assert int(headers["x-ratelimit-reset"]) > tiny_world.now
        conn = body["data"]["repository"]["pullRequests"]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert pages == -(-len(prs_now(tiny_world, rid)) // 100)
    assert s.graphql_points == 4 * pages
    # The same query again (served from the page cache) still charges and reports fresh numbers.
    _, headers, body = gql(s, FOUR_CONNECTIONS, {"owner": owner, "name": name, "after": None})
    assert body["data"]["rateLimit"]["remaining"] == remaining - 4 == int(headers["x-ratelimit-remaining"])


def test_graphql_budget_exhausted_answers_rate_limited(fresh_sim, tiny_world):
    s = fresh_sim(time_scale=1.0, github_points_per_hour=6)
    rid = busiest_repo(tiny_world)
    owner, name = repo_full(tiny_world, rid).split("/")
    status, headers, body = gql(s, FOUR_CONNECTIONS, {"owner": owner, "name": name})
    assert status == 200 and body["data"]["rateLimit"]["remaining"] == 2
    status, headers, body = gql(s, FOUR_CONNECTIONS, {"owner": owner, "name": name})
    assert status == 200
    assert body == {"errors": [{"type": "RATE_LIMITED", "message": body["errors"][0]["message"]}]}
    assert body["errors"][0]["message"].startswith("API rate limit exceeded for user ID ")
    assert headers["x-ratelimit-remaining"] == "0" and int(headers["x-ratelimit-reset"]) > tiny_world.now
    assert s.graphql_points == 4


def test_unknown_repository_is_200_with_not_found(sim):
    status, _, body = gql(sim, '{ repository(owner: "acme-nowhere", name: "nothing") { name } }')
    assert status == 200
    assert body["data"] == {"repository": None}
    assert body["errors"] == [{"type": "NOT_FOUND", "path": ["repository"], "locations": [{"line": 1, "column": 3}],
                               "message": "Could not resolve to a Repository with the name 'acme-nowhere/nothing'."}]


def test_first_over_100_is_refused(sim, tiny_world):
    owner, name = repo_full(tiny_world, busiest_repo(tiny_world)).split("/")
    status, _, body = gql(sim, PRS_QUERY, {"owner": owner, "name": name, "first": 101})
    assert status == 200
    assert body["data"] == {"repository": None} or body["data"]["repository"]["pullRequests"] is None
    err = body["errors"][0]
    assert err["type"] == "EXCESSIVE_PAGINATION"
    assert "101" in err["message"] and "`pullRequests`" in err["message"]


def test_bad_cursor_is_a_field_error(sim, tiny_world):
    owner, name = repo_full(tiny_world, busiest_repo(tiny_world)).split("/")
    _, _, body = gql(sim, PRS_QUERY, {"owner": owner, "name": name, "first": 5, "after": "bm90LWEtY3Vyc29y"})
    assert body["errors"][0]["type"] == "INVALID_CURSOR_ARGUMENTS"
    assert body["errors"][0]["message"] == "`after` does not appear to be a valid cursor."


def test_viewer_organization_and_nodes(sim, tiny_world):
    org = tiny_world["organisations"].github_org.iloc[0]
    q = """query($org: String!) { viewer { login } organization(login: $org) {
      repositories(first: 3) { totalCount pageInfo { hasNextPage endCursor } nodes { id nameWithOwner } } } }"""
    _, _, body = gql(sim, q, {"org": org})
    data = body["data"]
    assert data["viewer"]["login"]
    repos = data["organization"]["repositories"]
    assert repos["totalCount"] == int((tiny_world["repos"].github_org == org).sum())
    rest_ = crawl_org_repos(sim, org, repos["pageInfo"]["endCursor"])
    assert len({n["nameWithOwner"] for n in repos["nodes"] + rest_}) == repos["totalCount"]
    ids = [n["id"] for n in repos["nodes"]] + ["R_bogus"]
    _, _, body = gql(sim, "query($ids: [ID!]!) { nodes(ids: $ids) { ... on Repository { nameWithOwner } } }", {"ids": ids})
    assert [n and n["nameWithOwner"] for n in body["data"]["nodes"]] == [n["nameWithOwner"] for n in repos["nodes"]] + [None]
    assert body["errors"][0]["type"] == "NOT_FOUND" and body["errors"][0]["path"] == ["nodes", 3]


def crawl_org_repos(sim, org: str, after: str) -> list[dict]:
    q = """query($org: String!, $after: String) { organization(login: $org) {
      repositories(first: 2, after: $after) { pageInfo { hasNextPage endCursor } nodes { nameWithOwner } } } }"""
    out = []
    while after:
        _, _, body = gql(sim, q, {"org": org, "after": after})
        conn = body["data"]["organization"]["repositories"]
        out += conn["nodes"]
        after = conn["pageInfo"]["endCursor"] if conn["pageInfo"]["hasNextPage"] else None
    return out


@pytest.mark.parametrize("path", ["/graphql", "/repos/acme-payments/x"])
def test_missing_or_wrong_token_is_401(sim, path):
    method, body = ("POST", {"query": "{ viewer { login } }"}) if path == "/graphql" else ("GET", None)
    status, headers, raw = call(sim, method, path, body, token=None)
    assert status == 401
    missing = json.loads(raw)
    status, _, raw = call(sim, method, path, body, token="ghp_wrong")
    assert status == 401
    wrong = json.loads(raw)
    if path == "/graphql":
        assert missing == {"message": "This endpoint requires you to be authenticated.",
                           "documentation_url": GRAPHQL_AUTH_DOCS}
        assert GRAPHQL_AUTH_DOCS.endswith("forming-calls-with-graphql#authenticating-with-graphql")
        assert wrong == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql"}
    else:
        assert missing == {"message": "Requires authentication", "documentation_url": "https://docs.github.com/rest",
                           "status": "401"}
        assert wrong == {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest", "status": "401"}
        assert headers["x-ratelimit-limit"] == "0"


def test_ghes_graphql_path_and_token_scheme(sim):
    status, _, raw = call(sim, "POST", "/api/graphql", {"query": "{ viewer { login } }"}, scheme="token")
    assert status == 200 and json.loads(raw)["data"]["viewer"]["login"]


def test_same_seed_gives_byte_identical_graphql_bodies(sim, fresh_sim, tiny_world):
    other = fresh_sim()
    owner, name = repo_full(tiny_world, busiest_repo(tiny_world)).split("/")
    q = FOUR_CONNECTIONS.replace("rateLimit { limit cost remaining used resetAt nodeCount }", "")
    bodies = [call(s, "POST", "/graphql", {"query": q, "variables": {"owner": owner, "name": name}})[2]
              for s in (sim, other)]
    assert bodies[0] == bodies[1]
    assert len(bodies[0]) > 10_000


def test_advancing_the_clock_updates_and_adds_pull_requests(fresh_sim):
    s = fresh_sim()
    w = s.world
    t0, t1 = w.now, w.now + 48 * 3600
    p = w["prs"]
    settled = p[(p.created_at <= t0) & (((p.merged_at > t0) & (p.merged_at <= t1)) |
                                        ((p.closed_at > t0) & (p.closed_at <= t1)))]
    rid = int(settled.repo_id.value_counts().idxmax())
    full = repo_full(w, rid)
    before = {n["databaseId"]: n for n in crawl_prs(s, full, 100)}
    status, _, _ = call(s, "POST", "/_sim/advance?hours=48", token=None)
    assert status == 200 and w.now == t1
    after = {n["databaseId"]: n for n in crawl_prs(s, full, 100)}
    assert len(after) == int(((p.repo_id == rid) & (p.created_at <= t1)).sum())
    assert set(before) <= set(after)
    assert set(after) - set(before) == set(p[(p.repo_id == rid) & (p.created_at > t0) & (p.created_at <= t1)].pr_id)
    for pr in settled[settled.repo_id == rid].itertuples():
        old, new = before[pr.pr_id], after[pr.pr_id]
        assert old["state"] == "OPEN" and new["state"] in ("MERGED", "CLOSED")
        assert new["updatedAt"] > old["updatedAt"]
    assert len(set(p[(p.created_at > t0) & (p.created_at <= t1)].pr_id)) > 0


def test_cursor_stays_put_when_new_pull_requests_appear(fresh_sim):
    s = fresh_sim()
    w = s.world
    rid = busiest_repo(w)
    owner, name = repo_full(w, rid).split("/")
    order = {"field": "CREATED_AT", "direction": "ASC"}
    _, _, body = gql(s, PRS_QUERY, {"owner": owner, "name": name, "first": 50, "order": order})
    page1 = body["data"]["repository"]["pullRequests"]
    call(s, "POST", "/_sim/advance?hours=72", token=None)
    _, _, body = gql(s, PRS_QUERY, {"owner": owner, "name": name, "first": 50, "order": order,
                                    "after": page1["pageInfo"]["endCursor"]})
    page2 = body["data"]["repository"]["pullRequests"]["nodes"]
    last = page1["nodes"][-1]
    assert page2[0]["createdAt"] >= last["createdAt"]
    assert not {n["databaseId"] for n in page1["nodes"]} & {n["databaseId"] for n in page2}


# --------------------------------------------------------------------------- REST
@pytest.mark.parametrize("per_page", [1, 7, 100])
def test_deployments_paginate_with_link_headers(sim, tiny_world, per_page):
    w = tiny_world
    rid = github_deploy_repo(w)
    d = w["deployments"]
    mine = d[(d.repo_id == rid) & (d.tool == "github") & (d.started_at <= w.now)]
    # per_page=1 over a long history would be slow: window by environment and take a slice
    path = f"/repos/{repo_full(w, rid)}/deployments?per_page={per_page}"
    if per_page == 1:
        mine = mine[mine.environment == "staging"]
        path += "&environment=staging"
    items, pages = follow(sim, path)
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == len(mine)
    assert set(ids) == set(mine.gh_deployment_id.tolist())
    created = [i["created_at"] for i in items]
    assert created == sorted(created, reverse=True)
    assert len(pages) == -(-len(mine) // per_page)
    first = links(pages[0].get("link"))
    if len(pages) > 1:
        assert set(first) == {"next", "last"}
        assert f"per_page={per_page}" in first["next"] and first["next"].endswith("page=2")
        assert set(links(pages[-1]["link"])) == {"prev", "first"}
    assert all(h["x-ratelimit-resource"] == "core" for h in pages)


def test_deployment_fields_and_filters(sim, tiny_world):
    w = tiny_world
    rid = github_deploy_repo(w)
    full = repo_full(w, rid)
    status, headers, body = rest(sim, f"/repos/{full}/deployments?per_page=3&environment=production")
    dep = body[0]
    assert set(dep) >= {"url", "id", "node_id", "sha", "ref", "task", "payload", "original_environment", "environment",
                        "description", "creator", "created_at", "updated_at", "statuses_url", "repository_url",
                        "transient_environment", "production_environment"}
    assert dep["url"] == f"http://{HOST}/repos/{full}/deployments/{dep['id']}"
    assert dep["creator"]["login"] == "acme-release-bot" and dep["production_environment"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", dep["created_at"])
    _, _, by_sha = rest(sim, f"/repos/{full}/deployments?sha={dep['sha']}")
    assert dep["id"] in {d["id"] for d in by_sha} and {d["sha"] for d in by_sha} == {dep["sha"]}


def test_deployment_statuses_newest_first(sim, tiny_world):
    w = tiny_world
    rid = github_deploy_repo(w)
    full = repo_full(w, rid)
    d = w["deployments"]
    mine = d[(d.repo_id == rid) & (d.tool == "github") & (d.started_at <= w.now) & (d.finished_at <= w.now)]
    ok = mine[mine.status == "success"].sort_values("finished_at")
    superseded = ok.iloc[0]  # a later success in the same environment made it inactive
    for per_page in (1, 100):
        items, _ = follow(sim, f"/repos/{full}/deployments/{superseded.gh_deployment_id}/statuses?per_page={per_page}")
        assert [s["state"] for s in items] == ["inactive", "success", "in_progress"]
        assert items[-1]["created_at"] == _iso(superseded.started_at)
        assert items[1]["created_at"] == _iso(superseded.finished_at)
        assert len({s["id"] for s in items}) == 3
    status, _, body = rest(sim, f"/repos/{full}/deployments/1/statuses")
    assert status == 404 and body["message"] == "Not Found"


@pytest.mark.parametrize("per_page", [1, 7, 100])
def test_releases_paginate_once_each(sim, tiny_world, per_page):
    w = tiny_world
    rl = w["releases"]
    rid = int(rl[rl.created_at <= w.now].repo_id.value_counts().idxmin() if per_page == 1 else
              rl[rl.created_at <= w.now].repo_id.value_counts().idxmax())
    mine = rl[(rl.repo_id == rid) & (rl.created_at <= w.now)]
    items, _ = follow(sim, f"/repos/{repo_full(w, rid)}/releases?per_page={per_page}")
    assert sorted(i["id"] for i in items) == sorted(mine.release_id.tolist())
    assert [i["tag_name"] for i in items][:1] == [mine.sort_values("created_at").tag.iloc[-1]]


@pytest.mark.parametrize("per_page", [1, 7, 100])
def test_workflow_runs_paginate_once_each(sim, tiny_world, per_page):
    w = tiny_world
    rid = busiest_repo(w)
    r = w["workflow_runs"]
    lo, hi = w.now - 20 * 86400, w.now
    mine = r[(r.repo_id == rid) & (r.created_at >= lo) & (r.created_at <= hi)]
    created = f"{_iso(lo)}..{_iso(hi)}"
    items, pages = follow(sim, f"/repos/{repo_full(w, rid)}/actions/runs?created={created}&per_page={per_page}")
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)) == len(mine) > 0
    assert set(ids) == set(mine.run_id.tolist())
    assert [i["created_at"] for i in items] == sorted((i["created_at"] for i in items), reverse=True)
    assert "created=" in pages[0].get("link", "created=")


def test_workflow_runs_created_windows_partition_the_runs(sim, tiny_world):
    w = tiny_world
    rid = busiest_repo(w)
    full = repo_full(w, rid)
    r = w["workflow_runs"]
    mine = r[(r.repo_id == rid) & (r.created_at <= w.now)]
    _, _, body = rest(sim, f"/repos/{full}/actions/runs?per_page=1")
    assert body["total_count"] == len(mine)
    days = np.datetime_as_string(np.array([w.now - 90 * 86400, w.now - 30 * 86400], dtype="datetime64[s]"), unit="D")
    windows = [f"<{days[0]}", f"{days[0]}..{days[1]}", f">{days[1]}"]
    counts = [rest(sim, f"/repos/{full}/actions/runs?per_page=1&created={q}")[2]["total_count"] for q in windows]
    assert sum(counts) == len(mine) and all(counts)
    assert counts[1] == int(((mine.created_at >= _day(days[0])) & (mine.created_at < _day(days[1]) + 86400)).sum())
    _, _, done = rest(sim, f"/repos/{full}/actions/runs?per_page=1&status=completed")
    assert done["total_count"] == int((mine.created_at + mine.duration <= w.now).sum())


def test_workflow_runs_exclude_pull_requests_empties_only_that_array(sim, tiny_world):
    """GitHub: `exclude_pull_requests=true` omits the runs' pull requests (empty array);
    every other byte of the page is the same. Without it a `pull_request` run lists the PR
    whose head commit it ran on."""
    w = tiny_world
    rid = busiest_repo(w)
    full = repo_full(w, rid)
    _, h_with, raw_with = call(sim, "GET", f"/repos/{full}/actions/runs?per_page=100&page=2")
    _, h_without, raw_without = call(sim, "GET", f"/repos/{full}/actions/runs?per_page=100&page=2"
                                                 "&exclude_pull_requests=true")
    with_prs, without = json.loads(raw_with), json.loads(raw_without)
    assert len(without["workflow_runs"]) == 100 and without["total_count"] == with_prs["total_count"]
    assert all(run["pull_requests"] == [] for run in without["workflow_runs"])
    # compact JSON, as json.dumps writes it (the page is assembled from pre-encoded parts)
    assert raw_without == json.dumps(without, separators=(",", ":")).encode()
    assert raw_with == json.dumps(with_prs, separators=(",", ":")).encode()
    for run in with_prs["workflow_runs"]:
        run["pull_requests"] = []
    assert with_prs == without
    assert links(h_without.get("link"))["next"] == \
        links(h_with.get("link"))["next"].replace("&page=3", "&exclude_pull_requests=true&page=3")
    prs = w["prs"]
    linked = [r for r in json.loads(raw_with)["workflow_runs"] if r["pull_requests"]]
    assert linked and all(r["event"] == "pull_request" for r in linked)
    for r in linked:
        (p,) = r["pull_requests"]
        pr = prs[(prs.repo_id == rid) & (prs.number == p["number"])].iloc[0]
        assert p["head"] == {"ref": r["head_branch"], "sha": r["head_sha"], "repo": p["head"]["repo"]}
        assert (pr.head_ref, pr.head_sha) == (r["head_branch"], r["head_sha"])


def test_workflow_runs_stop_at_1000_results_per_filtered_query(fresh_sim):
    s = fresh_sim(size="medium", seed=1)
    w = s.world
    r = w["workflow_runs"]
    counts = r[r.created_at <= w.now].repo_id.value_counts()
    rid = int(counts.idxmax())
    assert counts.max() > 1000
    full = repo_full(w, rid)
    _, headers, body = rest(s, f"/repos/{full}/actions/runs?status=completed&per_page=100&page=10")
    assert len(body["workflow_runs"]) == 100 and body["total_count"] > 1000
    assert "next" not in links(headers.get("link"))
    _, _, body = rest(s, f"/repos/{full}/actions/runs?status=completed&per_page=100&page=11")
    assert body["workflow_runs"] == [] and body["total_count"] > 1000
    _, _, body = rest(s, f"/repos/{full}/actions/runs?per_page=100&page=11")  # no filter: no cap
    assert len(body["workflow_runs"]) == min(100, int(counts.max()) - 1000)


def test_commits_follow_the_default_branch(sim, tiny_world):
    w = tiny_world
    rid = busiest_repo(w)
    full = repo_full(w, rid)
    mc = w["main_commits"]
    chain = mc[(mc.repo_id == rid) & (mc.authored_at <= w.now)].sort_values("seq", ascending=False)
    since = _iso(w.now - 30 * 86400)
    items, _ = follow(sim, f"/repos/{full}/commits?per_page=7&since={since}")
    recent = chain[chain.authored_at >= w.now - 30 * 86400]
    assert [c["sha"] for c in items] == recent.sha.tolist()
    top = items[0]
    assert top["commit"]["author"]["date"] == _iso(recent.authored_at.iloc[0])
    assert top["parents"][0]["sha"] == recent.parent_sha.iloc[0]
    mid = chain.iloc[5]
    _, _, older = rest(sim, f"/repos/{full}/commits?sha={mid.sha}&per_page=2")
    assert [c["sha"] for c in older] == chain.sha.tolist()[5:7]


def test_repository_and_org_listing(sim, tiny_world):
    w = tiny_world
    org = w["organisations"].github_org.iloc[0]
    items, _ = follow(sim, f"/orgs/{org}/repos?per_page=2")
    assert sorted(r["full_name"] for r in items) == sorted(w["repos"][w["repos"].github_org == org].full_name)
    status, _, repo = rest(sim, f"/repos/{items[0]['full_name']}")
    assert status == 200 and repo["id"] == items[0]["id"] and repo["owner"]["type"] == "Organization"
    status, _, same = rest(sim, f"/api/v3/repos/{items[0]['full_name']}")  # GitHub Enterprise Server's prefix
    # Enterprise Server answers the same repository, with its URLs under the /api/v3 prefix.
    assert status == 200 and same["id"] == repo["id"]
    assert same["deployments_url"].replace("/api/v3/", "/") == repo["deployments_url"] != same["deployments_url"]
    status, _, body = rest(sim, f"/repos/{org}/no-such-repo")
    assert status == 404
    assert body == {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/repos/repos#get-a-repository",
                    "status": "404"}


def test_rate_limit_and_user(sim):
    status, headers, body = rest(sim, "/rate_limit")
    assert status == 200 and set(body["resources"]) >= {"core", "graphql", "search"}
    assert body["rate"] == body["resources"]["core"]
    status, _, user = rest(sim, "/user")
    assert status == 200 and user["type"] == "User" and user["login"]


def test_exhausted_rest_budget_is_403_with_remaining_zero(fresh_sim, tiny_world):
    s = fresh_sim(github_rest_per_hour=5, time_scale=1.0)
    full = repo_full(tiny_world, busiest_repo(tiny_world))
    seen = []
    for _ in range(5):
        status, headers, _ = rest(s, f"/repos/{full}")
        seen.append((status, headers["x-ratelimit-remaining"]))
    assert seen == [(200, "4"), (200, "3"), (200, "2"), (200, "1"), (200, "0")]
    status, headers, body = rest(s, f"/repos/{full}/releases")
    assert status == 403
    assert headers["x-ratelimit-remaining"] == "0" and headers["x-ratelimit-used"] == "5"
    assert int(headers["x-ratelimit-reset"]) > tiny_world.now
    assert body["message"].startswith("API rate limit exceeded for user ID ")
    assert body["documentation_url"] == "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"
    assert body["status"] == "403"
    status, _, limits = rest(s, "/rate_limit")  # free, and tells the truth
    assert status == 200 and limits["resources"]["core"]["remaining"] == 0


# --------------------------------------------------------------------------- small helpers
def _iso(ts) -> str:
    return np.datetime_as_string(np.datetime64(int(ts), "s"), unit="s") + "Z"


def _day(text: str) -> int:
    return int(np.datetime64(text, "s").astype(np.int64))


# --------------------------------------------------------------------------- search (issue 17)
SEARCH_QUERY = """
query Search($q: String!, $first: Int!, $after: String) {
  rateLimit { cost }
  search(query: $q, type: ISSUE, first: $first, after: $after) {
    issueCount
    pageInfo { hasNextPage endCursor }
    nodes { ... on PullRequest { id number updatedAt repository { nameWithOwner } } }
  }
}
"""


def _search_all(sim, q: str, first: int = 100) -> tuple[list[dict], int, int]:
    """Every result a search serves, by its cursors: (nodes, issueCount, pages)."""
    after, out, pages = None, [], 0
    while True:
        status, _, body = gql(sim, SEARCH_QUERY, {"q": q, "first": first, "after": after})
        assert status == 200 and "errors" not in body, body
        conn = body["data"]["search"]
        out += conn["nodes"]
        pages += 1
        if not conn["pageInfo"]["hasNextPage"]:
            return out, conn["issueCount"], pages
        after = conn["pageInfo"]["endCursor"]


def test_search_finds_pull_requests_by_owner_repository_and_update_time(sim, tiny_world):
    from simulator import views
    prs = views.pull_requests(tiny_world)
    full = tiny_world["repos"].set_index("repo_id").full_name
    since = int(np.quantile(prs.updated_at, 0.8))
    want = prs[prs.updated_at >= since].sort_values(["updated_at", "pr_id"])
    org = full[int(want.repo_id.iloc[0])].split("/")[0]
    got, count, _ = _search_all(sim, f"org:{org} is:pr updated:>={_iso(since)} sort:updated-asc")
    assert count == len(want) == len(got) > 0
    assert [(n["repository"]["nameWithOwner"], n["number"]) for n in got] == \
        [(full[r], n) for r, n in zip(want.repo_id.tolist(), want.number.tolist())]
    assert [n["updatedAt"] for n in got] == sorted(n["updatedAt"] for n in got)
    assert all(n["updatedAt"] >= _iso(since) for n in got)
    # `repo:` qualifiers are alternatives; `user:` of an organisation's login matches nothing here
    a, b = full[int(want.repo_id.iloc[0])], full[int(want.repo_id.iloc[-1])]
    got, count, _ = _search_all(sim, f"repo:{a} repo:{b} is:pr updated:>={_iso(since)}")
    assert {n["repository"]["nameWithOwner"] for n in got} <= {a, b}
    assert count == int(want.repo_id.isin([int(want.repo_id.iloc[0]), int(want.repo_id.iloc[-1])]).sum())
    # a date range to the second, both ends included
    lo, hi = _iso(want.updated_at.iloc[0]), _iso(want.updated_at.iloc[-1])
    got, count, _ = _search_all(sim, f"org:{org} is:pr updated:{lo}..{hi}")
    assert count == len(want)
    _, count, _ = _search_all(sim, f"org:{org} is:issue")  # the simulated issues live in Jira
    assert count == 0


def test_search_serves_1000_results_and_counts_them_all(sim, tiny_world):
    """GitHub serves at most 1,000 results of a search; `issueCount` says how many matched."""
    from simulator import views
    total = len(views.pull_requests(tiny_world))
    assert total > 1000
    got, count, pages = _search_all(sim, "org:acme-payments is:pr sort:updated-desc")
    assert count == total and len(got) == 1000 and pages == 10
    assert len({n["id"] for n in got}) == 1000


def test_search_costs_by_the_formula_and_refuses_long_queries(sim):
    status, _, body = gql(sim, SEARCH_QUERY, {"q": "org:acme-payments is:pr", "first": 100})
    assert body["data"]["rateLimit"]["cost"] == 1  # one connection, nothing nested
    q = "org:acme-payments is:pr " + " ".join(["repo:acme-payments/atlas-api"] * 9)
    assert len(q) > 256
    status, _, body = gql(sim, SEARCH_QUERY, {"q": q, "first": 10})
    assert "longer than 256 characters" in body["errors"][0]["message"]
    # the connector's page: 49 pull requests with three nested connections, 1 point
    from ingestion.github_queries import SEARCH_PRS_QUERY, cheapest_page
    status, _, body = gql(sim, SEARCH_PRS_QUERY, {"q": "org:acme-payments is:pr", "first": cheapest_page(100)})
    assert "errors" not in body and body["data"]["rateLimit"]["cost"] == 1
    assert len(body["data"]["search"]["nodes"]) == 49


def test_repository_owner_lists_repositories_by_push(sim, tiny_world):
    q = """query($login: String!) { repositoryOwner(login: $login) { __typename
             repositories(first: 100, orderBy: {field: PUSHED_AT, direction: DESC}) {
               nodes { nameWithOwner pushedAt defaultBranchRef { target { oid } } } } } }"""
    status, _, body = gql(sim, q, {"login": "acme-payments"})
    owner = body["data"]["repositoryOwner"]
    assert owner["__typename"] == "Organization"
    pushed = [n["pushedAt"] for n in owner["repositories"]["nodes"]]
    assert pushed == sorted(pushed, reverse=True) and len(pushed) == len(tiny_world["repos"])
    status, _, body = gql(sim, q, {"login": "no-such-owner"})
    assert body["data"]["repositoryOwner"] is None


def test_search_naming_an_unknown_repository_or_owner_is_refused(sim):
    for q in ("repo:acme-payments/no-such-repo is:pr", "org:no-such-org is:pr"):
        status, _, body = gql(sim, SEARCH_QUERY, {"q": q, "first": 10})
        assert status == 200 and body["errors"][0]["type"] == "INVALID"
        assert "cannot be searched" in body["errors"][0]["message"]
