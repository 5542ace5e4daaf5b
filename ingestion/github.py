"""GitHub as a dlt source: pull requests (GraphQL), the default branch's history
(GraphQL), deployments (REST) and their statuses (GraphQL), releases and workflow runs (REST).

Same code for github.com (`https://api.github.com`), GitHub Enterprise Server
(`https://host/api/v3`, GraphQL at `https://host/api/graphql`) and the simulator.

Resources (dagster-dlt names them `dlt_github_<resource>`), all `merge` on a primary key:

| resource | API | primary key | cursor (per repository) |
|---|---|---|---|
| repositories | sources file (+ `GET /orgs/{owner}/repos` for `owner/*`) | repository | - |
| pull_requests (+ nested `__reviews`, `__labels`) | GraphQL `pullRequests(orderBy: UPDATED_AT DESC)` the first time; then `search(type: ISSUE, query: "org:O is:pr updated:>=T sort:updated-asc")` across owners | id | updated_at; per owner, the newest update a search saw |
| pull_request_jira_keys | derived from pull_requests (no requests) | pull_request_id, jira_key | (its parent's) |
| commits (+ nested `__parents`, in parent order) | GraphQL `defaultBranchRef.target.history`, only where `repositoryOwner.repositories(orderBy: PUSHED_AT DESC)` shows the head moved | repository, sha | the branch head seen last; per owner, the newest push seen |
| deployments | REST `/repos/{o}/{r}/deployments` (newest first) | id | updated_at; re-lists back to the oldest deployment that can still change |
| deployment_statuses | GraphQL `nodes(ids:)` of changed deployments, 100 per query | id | (its parent's) |
| releases | REST `/repos/{o}/{r}/releases` | id | created_at (no updated field) |
| workflow_runs | REST `/repos/{o}/{r}/actions/runs?created=...&exclude_pull_requests=true` | id | updated_at |

Incremental cursors. Each resource keeps its cursor *per repository* in dlt resource
state (`dlt.current.resource_state()`, committed atomically with the load, reset by
`--full-refresh`). A single `dlt.sources.incremental` cursor per resource would be wrong
for a multi-repository source in three ways: a repository added to the sources file later
would only get records newer than the other repositories' cursor (not its history since
`start_date`); a repository that failed mid-run would have its unfetched changes skipped
once the other repositories moved the shared cursor; and on a live org, records updated
in an already-visited repository while later repositories are read would be skipped. A
repository's cursor only moves when all its pages were read, so an interrupted run resumes
where each repository stands, and `merge` makes the overlap harmless. The records at a
cursor's exact timestamp are remembered by id so a re-run does not re-emit them.

Incremental runs cost what changed, not the number of repositories (issue 17). A
repository is read per repository once (the first sync, a repository new in the sources
file, one whose last read failed); from then on it is *covered* by its owner's searches:
- pull requests: one GraphQL `search` for the changed pull requests of several owners at
  once (`org:`/`user:` qualifiers, or `repo:` ones for a short list of named repositories,
  packed within GitHub's 256-character query), `updated:>=` the newest update the previous
  searches saw less SEARCH_LAG (the search index lags), oldest first. Each page is a new
  search from the last update read (keyset paging): no search goes near GitHub's 1,000-result
  cap (a capped one, seen by `issueCount`, is continued the same way), and a pull request
  updated meanwhile cannot shift another out of the pages as offset cursors would. Results
  outside the sources file are skipped; the per-repository cursors drop what was read before.
  The first time, a 1-point search for the owner's newest update sets the watermark, before
  the repositories are read one by one (so nothing updated during that read is missed);
- history: one query lists every owner's repositories by `pushedAt` (any branch), newest
  first, down to PUSHED_LAG before the newest push the previous run saw; only covered
  repositories whose default-branch head is not the one read last are read, their first
  HISTORY_BATCH_FIRST commits seven repositories a 1-point query, then on per repository;
- a repository whose incremental read fails is no longer covered and is read per repository
  next run, from its own cursor; a search that fails (GitHub Enterprise Server without a
  search index, say) makes this run read its repositories one by one.
So an hourly run with nothing changed costs 2 points whatever the number of repositories
(one search, one listing of repositories by push; a few more for many owners), and one with
activity about 1 point per 49 changed pull requests plus a point per 7 repositories whose
default branch moved. The REST listings (deployments, releases, workflow runs) cost no
points and still ask each repository once a run. Deployment statuses are asked only for
deployments that changed.

Default-branch history: `history()` lists every commit reachable from the head (merged
branches' commits too), newest first; it is not the first-parent chain. Each commit keeps
its parents in order (`first_parent_sha`, nested `commits__parents` with
`_dlt_list_idx`), and deployments' change sets walk first parents downstream. A run reads
from the head back to the head it saw last time (every new first-parent commit comes
before it in that order); a force-pushed branch is re-read at most 30 days back.

Deployments: REST lists them newest first with no `since` filter, and a status change
(in_progress -> success, success -> inactive when a later one succeeds) moves the
deployment's `updated_at`. Each run lists back to the oldest deployment that can still
change (the latest successful one per environment, unfinished ones) and fetches the
statuses of those whose `updated_at` moved: 100 deployments per GraphQL query
(`nodes(ids:) { ... on Deployment { statuses(first: 100) } }`, 1 point), where REST needs a
request per deployment (that was 70% of a first sync's requests). The listing itself stays
on REST: it has `production_environment` / `transient_environment`, which GraphQL's
`Deployment` lacks, and an unchanged repository costs one REST request, not a GraphQL one.
GraphQL's `DeploymentStatus` has no `databaseId`: the REST id is read from its node id
(`node_database_id`), and `target_url` (REST's older name of `log_url`) takes `log_url`.

Throughput. Each resource reads `concurrency` repositories at once (default 4,
`integrations.github.concurrency`), and at most that many requests are in flight for the
token across all resources; a rate-limit wait one thread runs into holds the others back
too (`ingestion.http.RequestGate`). dlt asks each resource for its next page from its own
thread pool (`parallelize()`), so one slow listing does not hold up the others. Rows go to
DuckDB as parquet (when pyarrow is installed): dlt's default INSERT statements took 60% of
a medium org's sync and 11 GB of memory. Figures: docs/benchmarks.md, Ingestion.

GraphQL cost (GitHub's formula: one request per connection per possible parent node,
summed, /100, rounded to the nearest whole number, at least 1): the pull-request page (per
repository or from a search) selects three nested connections under each PR (labels(first:10),
commits(last:100), and timelineItems(first:100, itemTypes: [READY_FOR_REVIEW_EVENT,
PULL_REQUEST_REVIEW]), which brings the reviews and the ready-for-review event in one
connection), so a page of N pull requests costs (1 + 3N)/100 rounded: `page_size` is the
upper bound and the connector takes the size that reads the most PRs per point
(`github_queries.cheapest_page`): 49 PRs for 1 point (148 requests), where 50 cost 2 and
100 cost 3. That is 20.4 points per 1,000 PRs; with the history (1 point per 100 commits)
and the statuses (1 point per 100 deployments) a first sync is about 34 points per 1,000 PRs
on the simulated orgs (was 52-55 with four connections and pages of 50). A PR with more than
100 timeline items pages on with a follow-up. First and last commit both come from
`commits(last:100)` (with its totalCount); only a PR with more than 100 commits needs a
follow-up for its first commit. Per-review comment counts would need
`comments(first:...)` under every review: 5,000 requests (50 points) per 100 PRs by the
formula, so they are off by default; the PR's `totalCommentsCount` is always loaded, and
`integrations.github.review_comment_counts: true` fetches per-review counts in follow-up
`nodes(ids:)` queries (about 1 point per 100 reviews).

This module is the source and its plan; the client (errors, App auth, the GraphQL call) is
github_api.py, the GraphQL documents github_queries.py, rows and column types github_rows.py,
per-repository cursors and the fan-out github_state.py.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterable, Iterator

import dlt
import requests

from ingestion.config import GITHUB_COM_API, Runtime, default_graphql_url
from ingestion.github_api import INTEGRATION, graphql, make_api
from ingestion.github_queries import (DEPLOYMENT_STATUSES_PAGE_QUERY, DEPLOYMENT_STATUSES_QUERY,
                                      HISTORY_NESTED_CONNECTIONS, HISTORY_QUERY, PLAN_REPO_FIELDS,
                                      PRS_QUERY, PR_FIRST_COMMIT_QUERY, PR_LABELS_QUERY, PR_NESTED_CONNECTIONS,
                                      PR_TIMELINE_QUERY, PUSHED_REPOS_QUERY, REVIEW_COMMENTS_QUERY, SEARCH_NEWEST_QUERY,
                                      SEARCH_PRS_QUERY, batch_size, cheapest_page, history_batch_query, owner_types_query,
                                      page_cost, pushed_repos_batch_query)
from ingestion.github_rows import (COMMIT_COLUMNS, DEPLOYMENT_COLUMNS, PR_COLUMNS, RELEASE_COLUMNS, REPO_COLUMNS,
                                   RUN_COLUMNS, STATUS_COLUMNS, _iso, _ts, commit_row, deployment_row,
                                   deployment_status_gql_row, deployment_status_row, jira_keys, pr_row, release_row,
                                   split_repo, split_timeline, workflow_run_row)
from ingestion.github_state import RepoCursors, _guard, fan_out
from ingestion.http import Api, ApiError, AuthError, HttpStats, NotFound, response_json


SEARCH_LAG = 600             # seconds a search reaches back before the newest update seen (index delay)
SEARCH_MAX_CHARS = 256       # GitHub refuses longer search queries
SEARCH_FIXED_CHARS = len(" is:pr archived:false updated:>=2026-01-01T00:00:00+00:00 sort:updated-asc")
PUSHED_LAG = 600             # seconds a repository listing reaches back before the newest push seen
HISTORY_BATCH_FIRST = 20     # commits per repository when several repositories' new history share a query
HISTORY_REWRITE_DAYS = 30    # a force-pushed branch is re-read this far back
RUNS_CAP = 1000              # GitHub serves at most 1,000 runs per filtered listing
CONCURRENCY = 4              # repositories fetched at once per resource; requests in flight per token
PARALLELIZE = True           # dlt pulls each resource's pages from its own thread (see "Throughput")
GITHUB_COM_POINTS_PER_HOUR = 5000  # GraphQL points an hour per user token on github.com
STATUS_BATCH = 100           # deployments per GraphQL `nodes(ids:)` statuses query (GitHub's maximum)


# --------------------------------------------------------------------------- the source
@dlt.source(name="github", section="github", max_table_nesting=2)
def github_source(repos: list[str] = dlt.config.value,
                  start_date: str | dt.datetime = "2025-01-01",
                  base_url: str = GITHUB_COM_API,
                  graphql_url: str | None = None,
                  access_token: str | None = dlt.secrets.value,
                  page_size: int = 50,
                  app_id: str | None = None,
                  private_key: str | None = None,
                  installation_id: str | None = None,
                  projects: dict[str, dict] | None = None,
                  jira_projects: list[str] | None = None,
                  review_comment_counts: bool = False,
                  runtime: Runtime | None = None,
                  stats: HttpStats | None = None,
                  concurrency: int = CONCURRENCY):
    """GitHub repositories (`owner/name`, or `owner/*` for all of an owner's repositories).

    `access_token` comes from `SOURCES__GITHUB__ACCESS_TOKEN` / `.dlt/secrets.toml` when not
    passed; a GitHub App (`app_id`, `private_key`, `installation_id`) is used instead when
    all three are given. `projects` maps a scope (as written in the sources file) to
    {"project_id", "organisation_id", "account_id"} for the `repositories` table.
    `runtime` (waits, attempts) and `stats` (counters for ops) are shared with the pipeline.
    `concurrency`: repositories each resource reads at once, and requests in flight for the
    token across all resources (1: one request at a time, in the extract thread).
    """
    runtime = runtime or Runtime()
    stats = stats or HttpStats()
    start = start_date if isinstance(start_date, dt.datetime) else dt.datetime.fromisoformat(
        str(start_date).replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    gql_url = graphql_url or default_graphql_url(base_url)
    page_size = max(1, min(int(page_size), 100))
    concurrency = max(1, int(concurrency))
    api = make_api(base_url, runtime, stats, access_token,
                   {"app_id": app_id, "private_key": private_key, "installation_id": installation_id},
                   max_in_flight=concurrency if concurrency > 1 else None)
    projects = projects or {}
    resolved: list[tuple[str, str]] = []  # (repo, scope it came from), filled lazily once

    def repo_list() -> list[tuple[str, str]]:
        if not resolved:
            resolved.extend(resolve_repos(api, repos, stats))
        return resolved

    def each_repo(resource: str, fetch: Callable[[str], Iterator[list[dict]]]) -> Iterator[list[dict]]:
        """Row batches of every repository, `concurrency` repositories at a time."""
        return fan_out([r for r, _ in repo_list()],
                       lambda repo: _guard(stats, resource, repo, lambda: fetch(repo)), concurrency)

    # ---------------------------------------------------------------- repositories
    @dlt.resource(name="repositories", write_disposition="merge", primary_key="repository", columns=REPO_COLUMNS)
    def repositories():
        for repo, scope in repo_list():
            p = projects.get(scope) or projects.get(scope.lower()) or {}
            yield {"repository": repo, "scope": scope, "project_id": p.get("project_id"),
                   "organisation_id": p.get("organisation_id"), "account_id": p.get("account_id"),
                   "base_url": base_url}

    # ---------------------------------------------------------------- pull requests
    @dlt.resource(name="pull_requests", write_disposition="merge", primary_key="id", columns=PR_COLUMNS)
    def pull_requests():
        cursors = RepoCursors("pull_requests", start)
        searches = dlt.current.resource_state("pull_requests").setdefault("search", {})
        groups = owner_groups(repo_list())
        covered = {o: set(searches.setdefault(o, {}).get("repos", [])) for o in groups}
        for o in groups:
            if not searches[o].get("since"):
                covered[o].clear()  # no watermark: every repository is read per repository
        retry: set[str] = set()
        # 1. searches, several owners each: the pull requests of already-read repositories that
        #    changed since the last run, or (an owner with none) the watermark later runs start at
        batches = _search_batches(groups, searches, covered, retry)
        yield from fan_out(batches, lambda b: _guard(
            stats, "pull_requests", "search of " + ", ".join(groups[o]["login"] for o in b[1]),
            lambda: _search_batch(b, groups, searches, covered, cursors, retry)), concurrency)
        # 2. repositories no search covers yet (new in the sources file, never read completely,
        #    or whose search failed): read one by one, after the search that set the watermark
        todo = [r for o, g in groups.items() for r in g["repos"] if r.lower() not in covered[o] or r.lower() in retry]

        def read(repo: str) -> Iterator[list[dict]]:
            mine = covered[split_repo(repo)[0].lower()]
            mine.discard(repo.lower())  # covered again once read completely
            yield from _repo_prs(repo, cursors)
            mine.add(repo.lower())
        yield from fan_out(todo, lambda repo: _guard(stats, "pull_requests", repo, lambda: read(repo)), concurrency)
        for o, g in groups.items():
            searches[o]["repos"] = sorted(covered[o] & {r.lower() for r in g["repos"]})
        dlt.current.resource_state("pull_requests")["summary"] = cursors.summary()

    def _search_batches(groups: dict, searches: dict, covered: dict, retry: set) -> list[tuple[str, list[str], str]]:
        """(kind, owners, qualifiers) per search query: "search" for owners with covered
        repositories and a watermark, "probe" (`org:`/`user:`) for the others; a search's
        qualifiers for an owner are `repo:` ones when its repositories were listed by name and
        take at most half of the query, else `org:`/`user:` (results outside the sources file
        are skipped); owners are packed while the query stays within GitHub's 256 characters."""
        quals: dict[str, dict[str, str]] = {"search": {}, "probe": {}}
        need_type = []
        for o, g in groups.items():
            kind = "search" if searches[o].get("since") and covered[o] else "probe"
            # `repo:` only for repositories read before: GitHub refuses a search naming one
            # that does not exist (a typo in the sources file would block the owner's search)
            q = " ".join(f"repo:{r}" for r in sorted(r for r in g["repos"] if r.lower() in covered[o]))
            if kind == "probe" or g["wildcard"] or len(q) > (SEARCH_MAX_CHARS - SEARCH_FIXED_CHARS) // 2:
                q = None
                if "owner_type" not in searches[o]:
                    need_type.append(o)
            quals[kind][o] = q
        if need_type:
            try:
                d = graphql(api, gql_url, "pull_requests", owner_types_query([groups[o]["login"] for o in need_type]),
                            {}, None, partial=True)
                for i, o in enumerate(need_type):
                    ro = d.get(f"o{i}")
                    if ro:
                        searches[o]["owner_type"] = "org" if ro.get("__typename") == "Organization" else "user"
            except AuthError:
                raise
            except ApiError as e:
                stats.say(f"  github.pull_requests owner types: {e}")
        out = []
        for kind, by_owner in quals.items():
            cur, cur_len = [], 0
            for o, q in by_owner.items():
                if q is None:
                    t = searches[o].get("owner_type")
                    if t is None:  # unknown owner: its repositories are read one by one
                        retry.update(covered[o])
                        continue
                    q = f"{t}:{groups[o]['login']}"
                if cur and cur_len + 1 + len(q) + SEARCH_FIXED_CHARS > SEARCH_MAX_CHARS:
                    out.append((kind, [x for x, _ in cur], " ".join(y for _, y in cur)))
                    cur, cur_len = [], 0
                cur.append((o, q))
                cur_len += len(q) + (1 if cur_len else 0)
            if cur:
                out.append((kind, [x for x, _ in cur], " ".join(y for _, y in cur)))
        return out

    def _search_batch(batch: tuple, groups: dict, searches: dict, covered: dict, cursors: RepoCursors,
                      retry: set) -> Iterator[list[dict]]:
        kind, owners, qual = batch
        label = ", ".join(groups[o]["login"] for o in owners)
        mine = {r.lower(): r for o in owners for r in groups[o]["repos"] if r.lower() in covered[o]}
        try:
            if kind == "probe":
                d = graphql(api, gql_url, "pull_requests", SEARCH_NEWEST_QUERY,
                            {"q": f"{qual} is:pr sort:updated-desc"}, label)
                newest = [n["updatedAt"] for n in d["search"]["nodes"] or [] if n and n.get("updatedAt")]
                for o in owners:
                    searches[o]["since"] = max(newest + [_iso(start)])
                return
            yield from _search_changed(label, qual, [searches[o] for o in owners], mine, cursors)
        except AuthError:
            raise
        except ApiError as e:  # e.g. search unavailable: this run reads those repositories one by one
            stats.say(f"  github.pull_requests search of {label} failed, reading per repository: {e}")
            retry.update(mine)

    def _search_changed(login: str, qual: str, states: list[dict], mine: dict[str, str],
                        cursors: RepoCursors) -> Iterator[list[dict]]:
        """The changed pull requests of the covered repositories, by GitHub search: `updated:>=`
        the newest update the previous searches saw (less SEARCH_LAG, for the search index's
        delay), oldest first. Each page is a new search from the last update read (keyset
        paging), so no search goes near GitHub's 1,000-result cap and a pull request updated
        meanwhile cannot shift another out of the pages."""
        lo = min(_epoch(st["since"]) for st in states) - SEARCH_LAG
        done: set[str] = set()
        touched: set[str] = set()
        after, n_rows, n_pages, served = None, 0, 0, 0
        page = cheapest_page(page_size)
        try:
            while True:
                q = f"{qual} is:pr archived:false updated:>={_search_time(lo)} sort:updated-asc"
                data = graphql(api, gql_url, "pull_requests", SEARCH_PRS_QUERY, {"q": q, "first": page, "after": after},
                               login)
                n_pages += 1
                conn = data["search"]
                nodes = [n for n in conn["nodes"] or [] if n and n.get("id")]
                by_repo: dict[str, list[dict]] = {}
                for n in nodes:
                    if n["id"] in done:
                        continue
                    done.add(n["id"])
                    repo = mine.get(((n.get("repository") or {}).get("nameWithOwner") or "").lower())
                    if repo is not None and cursors.fresh(repo, n["updatedAt"], n["id"]):
                        by_repo.setdefault(repo, []).append(n)
                for repo, fresh in by_repo.items():
                    rows = [pr_row(repo, n) for n in _timelines(repo, fresh)]
                    _follow_ups(repo, fresh, rows)
                    for n in fresh:
                        cursors.seen(repo, n["updatedAt"], n["id"])
                    touched.add(repo)
                    n_rows += len(rows)
                    stats.add_rows(INTEGRATION, "pull_requests", len(rows))
                    yield rows
                if nodes:  # oldest first: every update before the last one read is read
                    for st in states:
                        st["since"] = max(st["since"], nodes[-1]["updatedAt"])
                served += len(conn["nodes"] or [])
                # GitHub serves 1,000 results of a search at most (`hasNextPage` turns false there,
                # `issueCount` still counts them all): a capped search is continued by a new one
                if not nodes or not (conn["pageInfo"]["hasNextPage"] or conn.get("issueCount", 0) > served):
                    break
                last = _epoch(nodes[-1]["updatedAt"])
                if last > lo:
                    lo, after, served = last, None, 0  # a new search from the last update read
                elif conn["pageInfo"]["hasNextPage"]:  # a whole page updated in the same second: page on
                    after = conn["pageInfo"]["endCursor"]
                else:
                    stats.error(INTEGRATION, "pull_requests", f"search of {login}: more than {served} pull requests "
                                f"updated at {nodes[-1]['updatedAt']}; GitHub serves {served} of them")
                    break
        finally:
            for repo in touched:
                cursors.commit(repo)
        if n_rows:
            stats.say(f"  github.pull_requests search of {login}: {n_rows} changed in {n_pages} page(s)")

    def _repo_prs(repo: str, cursors: RepoCursors) -> Iterator[list[dict]]:
        owner, name = split_repo(repo)
        since = cursors.start(repo)
        after, n_rows, n_pages = None, 0, 0
        page = cheapest_page(page_size)  # 49: 1 point a page, where 50 cost 2
        while True:
            data = graphql(api, gql_url, "pull_requests", PRS_QUERY,
                           {"owner": owner, "name": name, "first": page, "after": after}, repo)
            n_pages += 1
            conn = data["repository"]["pullRequests"]
            nodes = conn["nodes"] or []
            fresh = [n for n in nodes if cursors.fresh(repo, n["updatedAt"], n["id"])]
            rows = [pr_row(repo, n) for n in _timelines(repo, fresh)]
            _follow_ups(repo, fresh, rows)
            for n in fresh:
                cursors.seen(repo, n["updatedAt"], n["id"])
            if rows:
                n_rows += len(rows)
                stats.add_rows(INTEGRATION, "pull_requests", len(rows))
                yield rows
            older = nodes and nodes[-1]["updatedAt"] < since
            if older or not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        cursors.commit(repo)
        if n_rows:
            stats.say(f"  github.pull_requests {repo}: {n_rows} changed in {n_pages} page(s)")

    def _timelines(repo: str, nodes: list[dict]) -> list[dict]:
        """Each node with its whole timeline (reviews, ready-for-review events; a PR with more
        than 100 pages on), reshaped for `pr_row` (github_rows.split_timeline)."""
        owner, name = split_repo(repo)
        for n in nodes:
            conn = n["timelineItems"]
            items = list(conn["nodes"] or [])
            while conn["pageInfo"]["hasNextPage"]:
                d = graphql(api, gql_url, "pull_requests", PR_TIMELINE_QUERY,
                            {"owner": owner, "name": name, "number": n["number"],
                             "after": conn["pageInfo"]["endCursor"]}, repo)
                conn = d["repository"]["pullRequest"]["timelineItems"]
                items += conn["nodes"] or []
            n["timelineItems"] = {"nodes": items}
            split_timeline(n)
        return nodes

    def _follow_ups(repo: str, nodes: list[dict], rows: list[dict]) -> None:
        owner, name = split_repo(repo)
        for n, row in zip(nodes, rows):
            if n["labels"]["totalCount"] > len(n["labels"]["nodes"]):
                d = graphql(api, gql_url, "pull_requests", PR_LABELS_QUERY,
                            {"owner": owner, "name": name, "number": n["number"]}, repo)
                row["labels"] = [{"name": x["name"]} for x in d["repository"]["pullRequest"]["labels"]["nodes"]]
            if n["commits"]["totalCount"] > len(n["commits"]["nodes"]):
                d = graphql(api, gql_url, "pull_requests", PR_FIRST_COMMIT_QUERY,
                            {"owner": owner, "name": name, "number": n["number"]}, repo)
                first = (d["repository"]["pullRequest"]["commits"]["nodes"] or [None])[0]
                if first:
                    c = first["commit"]
                    row.update(first_commit_sha=c["oid"], first_commit_authored_at=_ts(c["authoredDate"]),
                               first_commit_committed_at=_ts(c["committedDate"]))
        if review_comment_counts:
            by_id = {r["id"]: r for row in rows for r in row["reviews"]}
            ids = list(by_id)
            for i in range(0, len(ids), 100):
                d = graphql(api, gql_url, "pull_requests", REVIEW_COMMENTS_QUERY, {"ids": ids[i:i + 100]}, repo)
                for node in d.get("nodes") or []:
                    if node and node.get("id") in by_id:
                        by_id[node["id"]]["comments_count"] = node["comments"]["totalCount"]

    @dlt.transformer(name="pull_request_jira_keys", data_from=pull_requests, write_disposition="merge",
                     primary_key=("pull_request_id", "jira_key"), merge_key="pull_request_id")
    def pull_request_jira_keys(prs):
        out = []
        for pr in prs if isinstance(prs, list) else [prs]:
            for key, where in jira_keys(pr.get("title"), pr.get("body"), pr.get("head_ref_name"), jira_projects).items():
                out.append({"pull_request_id": pr["id"], "repository": pr["repository"], "number": pr["number"],
                            "jira_key": key, "found_in": ",".join(where), "updated_at": pr["updated_at"]})
        if out:
            stats.add_rows(INTEGRATION, "pull_request_jira_keys", len(out))
            yield out

    # ---------------------------------------------------------------- commits
    @dlt.resource(name="commits", write_disposition="merge", primary_key=("repository", "sha"), columns=COMMIT_COLUMNS)
    def commits():
        rstate = dlt.current.resource_state("commits")
        heads = rstate.setdefault("heads", {})
        pushed = rstate.setdefault("pushed", {})
        groups = owner_groups(repo_list())
        covered = {o: set(pushed.get(o, {}).get("repos", [])) for o in groups}
        moved: list[str] = []
        # 1. per owner, its repositories by last push, newest first, down to the newest push
        #    the previous run saw: the covered ones whose default branch head changed. The
        #    first page of every owner comes in one query (1 point).
        firsts: dict[str, dict | None] = {}
        owners = list(groups)
        for i in range(0, len(owners), 100):
            chunk = owners[i:i + 100]
            try:
                d = graphql(api, gql_url, "commits", pushed_repos_batch_query([groups[o]["login"] for o in chunk]),
                            {}, None, partial=True)
                firsts.update({o: d.get(f"o{j}") for j, o in enumerate(chunk)})
            except AuthError:
                raise
            except ApiError as e:  # each owner asks on its own
                stats.say(f"  github.commits repositories by push: {e}")
        yield from fan_out(owners, lambda o: _guard(
            stats, "commits", f"repositories of {groups[o]['login']}",
            lambda: _pushed_repos(groups[o], pushed.setdefault(o, {}), covered[o], heads, moved,
                                  firsts.get(o, False))), concurrency)
        # 2. history only there (their new commits, several repositories a query), and in full
        #    for repositories not covered yet
        for r in moved:
            covered[split_repo(r)[0].lower()].discard(r.lower())
        n = batch_size(HISTORY_BATCH_FIRST, HISTORY_NESTED_CONNECTIONS)
        tasks = [("batch", moved[i:i + n]) for i in range(0, len(moved), n)]
        tasks += [("repo", [r]) for o, g in groups.items() for r in g["repos"]
                  if r.lower() not in covered[o] and r not in moved]

        def read(task) -> Iterator[list[dict]]:
            kind, repos = task
            for r in repos:
                covered[split_repo(r)[0].lower()].discard(r.lower())
            first = _history_batch(repos, heads) if kind == "batch" else {}

            def one(r: str) -> Iterator[list[dict]]:
                yield from _repo_commits(r, heads, first.get(r))
                covered[split_repo(r)[0].lower()].add(r.lower())  # read completely: covered again
            for r in repos:
                if kind == "batch" and first.get(r) is None:
                    continue  # the error is recorded; read in full next run
                yield from _guard(stats, "commits", r, lambda r=r: one(r))
        yield from fan_out(tasks, lambda t: _guard(stats, "commits", ", ".join(t[1]), lambda: read(t)), concurrency)
        for o, g in groups.items():
            pushed.setdefault(o, {})["repos"] = sorted(covered[o] & {r.lower() for r in g["repos"]})

    def _pushed_repos(group: dict, st: dict, covered: set, heads: dict, moved: list,
                      first: dict | None | bool = False) -> Iterator[list[dict]]:
        """Lists the owner's repositories by `pushedAt` (any branch), newest first, 100 a page
        (1 point), down to PUSHED_LAG before the newest push seen last run; a covered
        repository listed there whose default-branch head is not the one read last goes to
        `moved`. The first time, one page sets that watermark and every repository is read."""
        mine = {r.lower(): r for r in group["repos"]}
        since = st.get("since")
        if not since:
            covered.clear()
        floor = _iso(dt.datetime.fromtimestamp(_epoch(since) - PUSHED_LAG, dt.timezone.utc)) if since else None
        after, newest = None, None
        while True:
            if after is None and first is not False:  # the first page came with the other owners'
                owner = first
            else:
                d = graphql(api, gql_url, "commits", PUSHED_REPOS_QUERY, {"login": group["login"], "after": after},
                            group["login"])
                owner = d.get("repositoryOwner")
            if owner is None:
                raise NotFound(INTEGRATION, "POST /graphql", f"GitHub owner {group['login']} not found, or the token "
                                                              f"cannot see it.", 200, None)
            conn = owner["repositories"]
            stop = False
            for n in conn["nodes"] or []:
                at = n.get("pushedAt")
                if at and (newest is None or at > newest):
                    newest = at
                if floor and (at is None or at < floor):
                    stop = True
                    break
                r = n["nameWithOwner"].lower()
                if r in covered and r in mine:
                    ref = n.get("defaultBranchRef") or {}
                    oid = (ref.get("target") or {}).get("oid")
                    head = heads.get(r) or {}
                    if oid != head.get("oid") or (oid and ref.get("name") != head.get("branch")):
                        moved.append(mine[r])
            if stop or not floor or not conn["pageInfo"]["hasNextPage"]:
                break
            after = conn["pageInfo"]["endCursor"]
        if newest:
            st["since"] = max(since or newest, newest)
        elif not since:
            st["since"] = _iso(start)
        return
        yield  # a generator, for _guard and fan_out

    def _history_since(prev: dict | None) -> str:
        since = _iso(start)
        if prev:  # stop at the previous head; a rewritten branch is re-read a month back at most
            back = _ts(prev["committed_at"]) - dt.timedelta(days=HISTORY_REWRITE_DAYS)
            since = max(since, _iso(back))
        return since

    def _history_batch(repos: list[str], heads: dict) -> dict[str, dict | None]:
        """The first history page (HISTORY_BATCH_FIRST commits) of several repositories in one
        query (1 point for up to 7): {repo: that page as `{"repository": ...}`, None if not found}."""
        items = [(*split_repo(r), _history_since(heads.get(r.lower()))) for r in repos]
        d = graphql(api, gql_url, "commits", history_batch_query(items, HISTORY_BATCH_FIRST), {}, repos[0],
                    partial=True)
        out = {}
        for i, r in enumerate(repos):
            node = d.get(f"r{i}")
            if node is None:
                stats.error(INTEGRATION, "commits", f"{r}: not found, or the token cannot see it")
            out[r] = {"repository": node} if node is not None else None
        return out

    def _repo_commits(repo: str, heads: dict, data: dict | None = None) -> Iterator[list[dict]]:
        """New default-branch history of a repository, newest first, down to the head read
        last time; `data` is its first page when a batch query read it already."""
        owner, name = split_repo(repo)
        prev = heads.get(repo.lower())
        since = _history_since(prev)
        after, n_rows, n_pages, new_head = None, 0, 0, None
        while True:
            if data is None:
                data = graphql(api, gql_url, "commits", HISTORY_QUERY,
                               {"owner": owner, "name": name, "first": 100, "after": after, "since": since}, repo)
            n_pages += 1
            ref = data["repository"]["defaultBranchRef"]
            data = None
            if ref is None or ref.get("target") is None:
                break  # an empty repository
            target = ref["target"]
            hist = target["history"]
            if new_head is None:
                new_head = {"oid": target["oid"], "committed_at": None, "branch": ref["name"]}
            rows, stop = [], False
            for c in hist["nodes"]:
                if prev and c["oid"] == prev["oid"]:
                    stop = True
                    break
                if new_head["committed_at"] is None and c["oid"] == new_head["oid"]:
                    new_head["committed_at"] = c["committedDate"]
                rows.append(commit_row(repo, ref["name"], c))
            if rows:
                n_rows += len(rows)
                stats.add_rows(INTEGRATION, "commits", len(rows))
                yield rows
            if stop or not hist["pageInfo"]["hasNextPage"]:
                break
            after = hist["pageInfo"]["endCursor"]
        if new_head is not None:
            if new_head["committed_at"] is None:  # head unchanged (or not in the window): keep the old date
                new_head["committed_at"] = prev["committed_at"] if prev else _iso(start)
            heads[repo.lower()] = new_head
        if n_rows:
            stats.say(f"  github.commits {repo}: {n_rows} new in {n_pages} page(s)")

    # ---------------------------------------------------------------- deployments
    @dlt.resource(name="deployments", write_disposition="merge", primary_key="id", columns=DEPLOYMENT_COLUMNS)
    def deployments():
        cursors = RepoCursors("deployments", start)
        watch = dlt.current.source_state().setdefault("deployment_watch", {})
        yield from each_repo("deployments", lambda repo: _repo_deployments(repo, cursors, watch))
        dlt.current.resource_state("deployments")["summary"] = cursors.summary()

    def _deployment_watch(repo: str, w: dict | None = None) -> dict:
        """Deployments of a repository that can still change: the latest successful one per
        environment (it turns `inactive` when a later one succeeds) and those not finished
        yet. Kept in source state by the statuses transformer; the listing reaches back to
        the oldest of them, however old, so their status changes are seen."""
        if w is None:
            w = dlt.current.source_state().setdefault("deployment_watch", {})
        return w.setdefault(repo.lower(), {"active": {}, "pending": {}})

    def _repo_deployments(repo: str, cursors: RepoCursors, watches: dict) -> Iterator[list[dict]]:
        floor = cursors.start(repo)
        if cursors.known(repo):
            watch = _deployment_watch(repo, watches)
            floor = min([floor] + [v[1] for v in watch["active"].values()] + list(watch["pending"].values()))
        n = 0
        for page in api.paginate("deployments", f"/repos/{repo}/deployments", {"per_page": 100}):
            rows = []
            for d in page:
                if d["created_at"] >= _iso(start) and cursors.fresh(repo, d["updated_at"], d["id"]):
                    rows.append(deployment_row(repo, d))
                    cursors.seen(repo, d["updated_at"], d["id"])
            if rows:
                n += len(rows)
                stats.add_rows(INTEGRATION, "deployments", len(rows))
                yield rows
            if not page or page[-1]["created_at"] < floor:
                break
        cursors.commit(repo)
        if n:
            stats.say(f"  github.deployments {repo}: {n} changed")

    @dlt.transformer(name="deployment_statuses", data_from=deployments, write_disposition="merge", primary_key="id",
                     columns=STATUS_COLUMNS)
    def deployment_statuses(deps):
        """Statuses of the deployments that changed, 100 deployments per GraphQL `nodes(ids:)`
        query (1 point by GitHub's formula) instead of one REST request per deployment."""
        deps = deps if isinstance(deps, list) else [deps]
        for i in range(0, len(deps), STATUS_BATCH):
            chunk = deps[i:i + STATUS_BATCH]
            found = _statuses_graphql([d for d in chunk if d.get("node_id")])
            for d in chunk:
                repo = d["repository"]
                rows = found.get(d["id"]) if d.get("node_id") else _statuses_rest(d)
                if rows is None:
                    continue  # the error is recorded
                _watch_update(repo, d, rows)
                if rows:
                    stats.add_rows(INTEGRATION, "deployment_statuses", len(rows))
                    yield rows

    def _statuses_graphql(deps: list[dict]) -> dict[int, list[dict] | None]:
        """{deployment id: its status rows, or None when they could not be read}."""
        if not deps:
            return {}
        repo = deps[0]["repository"]
        by_node = {d["node_id"]: d for d in deps}
        try:
            data = graphql(api, gql_url, "deployment_statuses", DEPLOYMENT_STATUSES_QUERY,
                           {"ids": list(by_node)}, repo, partial=True)
        except AuthError:
            raise
        except ApiError as e:
            stats.error(INTEGRATION, "deployment_statuses", f"{repo}: statuses of {len(deps)} deployments: {e}")
            return {d["id"]: None for d in deps}
        out: dict[int, list[dict] | None] = {}
        for d, node in zip(deps, data.get("nodes") or [None] * len(deps)):
            if not node:
                stats.error(INTEGRATION, "deployment_statuses",
                            f"{d['repository']} deployment {d['id']}: not found (deleted meanwhile?)")
                out[d["id"]] = None
                continue
            conn = node["statuses"]
            nodes = list(conn["nodes"] or [])
            try:
                while conn["pageInfo"]["hasNextPage"]:  # more than 100 statuses: rare
                    page = graphql(api, gql_url, "deployment_statuses", DEPLOYMENT_STATUSES_PAGE_QUERY,
                                   {"id": node["id"], "after": conn["pageInfo"]["endCursor"]}, d["repository"])
                    conn = page["node"]["statuses"]
                    nodes += conn["nodes"] or []
            except AuthError:
                raise
            except ApiError as e:
                stats.error(INTEGRATION, "deployment_statuses", f"{d['repository']} deployment {d['id']}: {e}")
                out[d["id"]] = None
                continue
            out[d["id"]] = [deployment_status_gql_row(d["repository"], d["id"], st) for st in nodes]
        return out

    def _statuses_rest(d: dict) -> list[dict] | None:
        """A deployment listed without a node id (very old GitHub Enterprise Server): REST."""
        repo = d["repository"]
        try:
            rows = []
            for page in api.paginate("deployment_statuses", f"/repos/{repo}/deployments/{d['id']}/statuses",
                                     {"per_page": 100}):
                rows += [deployment_status_row(repo, d["id"], st) for st in page]
            return rows
        except AuthError:
            raise
        except ApiError as e:
            stats.error(INTEGRATION, "deployment_statuses", f"{repo} deployment {d['id']}: {e}")
            return None

    def _watch_update(repo: str, d: dict, statuses: list[dict]) -> None:
        watch = _deployment_watch(repo)
        created, did, env = _iso(d["created_at"]), str(d["id"]), d.get("environment") or ""
        latest = max(statuses, key=lambda s: (s["created_at"], s["id"]))["state"] if statuses else "pending"
        if latest in ("queued", "pending", "in_progress"):
            watch["pending"][did] = created
        else:
            watch["pending"].pop(did, None)
        act = watch["active"].get(env)
        if latest == "success" and (act is None or created >= act[1]):
            watch["active"][env] = [did, created]
        elif latest == "inactive" and act is not None and act[0] == did:
            watch["active"].pop(env, None)

    # ---------------------------------------------------------------- releases
    @dlt.resource(name="releases", write_disposition="merge", primary_key="id", columns=RELEASE_COLUMNS)
    def releases():
        cursors = RepoCursors("releases", start)
        yield from each_repo("releases", lambda repo: _repo_releases(repo, cursors))
        dlt.current.resource_state("releases")["summary"] = cursors.summary()

    def _repo_releases(repo: str, cursors: RepoCursors) -> Iterator[list[dict]]:
        since, n = cursors.start(repo), 0
        for page in api.paginate("releases", f"/repos/{repo}/releases", {"per_page": 100}):
            rows = []
            for r in page:
                if cursors.fresh(repo, r["created_at"], r["id"]):
                    rows.append(release_row(repo, r))
                    cursors.seen(repo, r["created_at"], r["id"])
            if rows:
                n += len(rows)
                stats.add_rows(INTEGRATION, "releases", len(rows))
                yield rows
            if not page or page[-1]["created_at"] < since:
                break
        cursors.commit(repo)
        if n:
            stats.say(f"  github.releases {repo}: {n} new")

    # ---------------------------------------------------------------- workflow runs
    @dlt.resource(name="workflow_runs", write_disposition="merge", primary_key="id", columns=RUN_COLUMNS)
    def workflow_runs():
        cursors = RepoCursors("workflow_runs", start)
        open_since = dlt.current.resource_state("workflow_runs").setdefault("open_since", {})
        yield from each_repo("workflow_runs", lambda repo: _repo_runs(repo, cursors, open_since))
        dlt.current.resource_state("workflow_runs")["summary"] = cursors.summary()

    def _repo_runs(repo: str, cursors: RepoCursors, open_since: dict) -> Iterator[list[dict]]:
        lo = cursors.start(repo)
        if open_since.get(repo.lower()):  # runs still in progress last time: re-list from the oldest
            lo = min(lo, open_since[repo.lower()])
        n, still_open = 0, []
        for window_rows in _runs_windows(repo, lo, None):
            rows = []
            for r in window_rows:
                if r.get("status") != "completed":
                    still_open.append(r["created_at"])
                if cursors.fresh(repo, r["updated_at"], r["id"]):
                    rows.append(workflow_run_row(repo, r))
                    cursors.seen(repo, r["updated_at"], r["id"])
            if rows:
                n += len(rows)
                stats.add_rows(INTEGRATION, "workflow_runs", len(rows))
                yield rows
        cursors.commit(repo)
        if still_open:
            open_since[repo.lower()] = min(still_open)
        else:
            open_since.pop(repo.lower(), None)
        if n:
            stats.say(f"  github.workflow_runs {repo}: {n} changed")

    def _runs_windows(repo: str, lo: str, hi: str | None) -> Iterator[list[dict]]:
        """List runs created in [lo, hi] (hi None: open-ended). GitHub serves at most 1,000
        runs per filtered listing, so a window with more is split, by its `total_count`, into
        as many equal spans as should hold about 750 runs each (a span that still has too
        many splits again): one discarded first page per oversized window, where halving
        discarded one per level."""
        def q(t: str) -> str:
            return _ts(t).strftime("%Y-%m-%dT%H:%M:%S+00:00")
        created = f">={q(lo)}" if hi is None else f"{q(lo)}..{q(hi)}"
        # exclude_pull_requests: GitHub then leaves each run's `pull_requests` array empty, a
        # large share of the page to build and send (staging links runs to PRs by head commit
        # and branch instead; the array is empty for pull requests from forks anyway).
        pages = api.paginate("workflow_runs", f"/repos/{repo}/actions/runs",
                             {"per_page": 100, "created": created, "exclude_pull_requests": "true"},
                             data_selector="workflow_runs")
        first = next(pages, None)
        if first is None:
            return
        total = response_json(first.response).get("total_count", 0)
        if total > RUNS_CAP:
            end = hi or _iso(_server_time(first.response))
            a, b = int(_ts(lo).timestamp()), int(_ts(end).timestamp())
            if b - a > 120:
                k = max(2, min(-(-total * 4 // (RUNS_CAP * 3)), (b - a) // 60))
                cuts = [a + (b - a) * i // k for i in range(k)] + [None]
                for i in range(k):
                    w_lo = lo if i == 0 else _iso(dt.datetime.fromtimestamp(cuts[i], dt.timezone.utc))
                    w_hi = hi if i == k - 1 else _iso(dt.datetime.fromtimestamp(cuts[i + 1] - 1, dt.timezone.utc))
                    yield from _runs_windows(repo, w_lo, w_hi)
                return
            stats.error(INTEGRATION, "workflow_runs", f"{repo}: more than {RUNS_CAP} runs created in {created}; "
                                                      f"GitHub serves only {RUNS_CAP} of them")
        yield list(first)
        for page in pages:
            yield list(page)

    resources = (repositories, pull_requests, pull_request_jira_keys, commits, deployments, deployment_statuses,
                 releases, workflow_runs)
    if concurrency > 1 and PARALLELIZE:
        # dlt then asks each resource for its next page from its own thread pool: a resource
        # waiting for an answer does not hold up the others (round robin would).
        for r in (pull_requests, commits, deployments, deployment_statuses, releases, workflow_runs):
            r.parallelize()
    return resources


def _server_time(resp: requests.Response) -> dt.datetime:
    import email.utils
    d = resp.headers.get("Date")
    if d:
        try:
            return email.utils.parsedate_to_datetime(d)
        except (TypeError, ValueError):
            pass
    return dt.datetime.now(dt.timezone.utc)


def _epoch(iso: str) -> int:
    return int(_ts(iso).timestamp())


def _search_time(epoch: int) -> str:
    """A search qualifier's time, to the second, as GitHub's search syntax writes it."""
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def owner_groups(resolved: list[tuple[str, str]]) -> dict[str, dict]:
    """The repositories by owner (lower case): {"login", "repos", "wildcard": listed by `owner/*`}.
    An owner's changes are found for all its repositories at once (search, pushed repositories)."""
    out: dict[str, dict] = {}
    for repo, scope in resolved:
        owner = split_repo(repo)[0]
        g = out.setdefault(owner.lower(), {"login": owner, "repos": [], "wildcard": False})
        g["repos"].append(repo)
        g["wildcard"] = g["wildcard"] or scope.endswith("/*")
    return out


# --------------------------------------------------------------------------- repositories from scopes
def resolve_repos(api: Api, scopes: Iterable[str], stats: HttpStats) -> list[tuple[str, str]]:
    """(repository, scope) for explicit `owner/name` scopes and every repository of each
    `owner/*` (organisation, else user); a repository listed by name wins over a wildcard."""
    explicit = [s for s in scopes if not s.endswith("/*")]
    out: dict[str, tuple[str, str]] = {s.lower(): (s, s) for s in explicit}
    for s in scopes:
        if not s.endswith("/*"):
            continue
        owner = s[:-2]
        names: list[str] = []
        try:
            try:
                for page in api.paginate("repositories", f"/orgs/{owner}/repos", {"per_page": 100, "type": "all"}):
                    names += [r["full_name"] for r in page if not r.get("archived")]
            except NotFound:
                for page in api.paginate("repositories", f"/users/{owner}/repos", {"per_page": 100, "type": "owner"}):
                    names += [r["full_name"] for r in page if not r.get("archived")]
        except AuthError:
            raise
        except ApiError as e:
            stats.error(INTEGRATION, "repositories", f"{s}: {e}")
            continue
        for full in names:
            out.setdefault(full.lower(), (full, s))
    return list(out.values())


# --------------------------------------------------------------------------- plan
def plan(repos: list[str], start_date: dt.datetime, base_url: str, graphql_url: str | None, runtime: Runtime,
         access_token: str | None = None, app: dict | None = None, page_size: int = 50,
         review_comment_counts: bool = False, stats: HttpStats | None = None) -> dict:
    """Ask GitHub how much there is to read since `start_date` and what a first sync
    costs: GraphQL points and REST requests against the rate limits, and the time."""
    stats = stats or HttpStats()
    api = make_api(base_url, runtime, stats, access_token, app)
    gql = graphql_url or default_graphql_url(base_url)
    resolved = resolve_repos(api, repos, stats)
    rows, errors = [], []
    since = _iso(start_date)
    batch = 20
    limit = {"graphql": None, "core": None}
    for i in range(0, len(resolved), batch):
        chunk = resolved[i:i + batch]
        fields = "".join(PLAN_REPO_FIELDS % {"alias": f"r{j}", "owner": split_repo(r)[0], "name": split_repo(r)[1]}
                         for j, (r, _) in enumerate(chunk))
        q = "query Plan($since: GitTimestamp) { rateLimit { limit cost remaining resetAt } %s }" % fields
        resp = api.request("plan", "POST", gql, json={"query": q, "variables": {"since": since}})
        body = resp.json()
        data = body.get("data") or {}
        for e in body.get("errors") or []:
            errors.append(e.get("message"))
        for j, (r, _) in enumerate(chunk):
            d = data.get(f"r{j}")
            if not d:
                rows.append({"repository": r, "error": "not found or not visible"})
                continue
            hist = (((d.get("defaultBranchRef") or {}).get("target") or {}).get("history") or {}).get("totalCount", 0)
            rows.append({"repository": r, "pull_requests": d["pullRequests"]["totalCount"], "commits": hist,
                         "deployments": d["deployments"]["totalCount"], "releases": d["releases"]["totalCount"]})
        if data.get("rateLimit"):
            limit["graphql"] = data["rateLimit"]
    runs_total = 0
    for row in rows:
        if "error" in row:
            continue
        resp = api.request("plan", "GET", f"/repos/{row['repository']}/actions/runs",
                           params={"per_page": 1, "created": f">={start_date.strftime('%Y-%m-%dT%H:%M:%S+00:00')}",
                                   "exclude_pull_requests": "true"})
        row["workflow_runs"] = resp.json().get("total_count", 0) if resp.ok else 0
        runs_total += row["workflow_runs"]
    resp = api.request("plan", "GET", "/rate_limit")
    if resp.ok:
        res = resp.json().get("resources", {})
        limit["core"] = res.get("core")
        limit["graphql"] = limit["graphql"] or res.get("graphql")
    return estimate(rows, page_size, limit, review_comment_counts, errors)


def estimate(rows: list[dict], page_size: int, limit: dict, review_comment_counts: bool = False,
             errors: list | None = None) -> dict:
    """Points / requests / hours of a first sync from per-repository counts.

    PR pages of `cheapest_page(page_size)` (37) pull requests: 1 point each by GitHub's
    formula ((1 + 4 x 37) / 100 rounds to 1); history pages: 1 point per 100 commits;
    statuses: 1 point per 100 deployments (`nodes(ids:)`); per owner up to 3 points (the
    search watermark, the owner's type, the pushed-repositories listing); REST: deployments/100 +
    releases/100 + runs/100, at least one request per repository and resource. Time: the larger of the
    rate-limit bound (points / points-per-hour; requests / requests-per-hour) and the
    latency bound (about 1.5 s per PR page, 0.5 s per other request)."""
    import math
    ok = [r for r in rows if "error" not in r]
    page = cheapest_page(page_size)
    pr_pages = sum(max(1, math.ceil(r["pull_requests"] / page)) for r in ok)
    pr_page_cost = page_cost(page, PR_NESTED_CONNECTIONS)
    reviews_est = sum(r["pull_requests"] for r in ok) * 1.6 if review_comment_counts else 0
    history_pages = sum(max(1, math.ceil(r["commits"] / 100)) for r in ok)
    status_queries = sum(math.ceil(r["deployments"] / STATUS_BATCH) for r in ok)
    setup = 3 * len({r["repository"].split("/")[0].lower() for r in ok})
    gql_points = pr_pages * pr_page_cost + math.ceil(reviews_est / 100) + history_pages + status_queries + setup
    gql_requests = pr_pages + math.ceil(reviews_est / 100) + history_pages + status_queries + setup
    prs = sum(r["pull_requests"] for r in ok)
    rest = sum(max(1, math.ceil(r["deployments"] / 100)) + max(1, math.ceil(r["releases"] / 100))
               + max(1, math.ceil(r.get("workflow_runs", 0) / 100)) for r in ok)
    g = limit.get("graphql") or {}
    c = limit.get("core") or {}
    gql_per_h = (g.get("limit") or 5000)
    rest_per_h = (c.get("limit") or 5000)
    hours_rate = max(gql_points / gql_per_h, rest / rest_per_h)
    hours_latency = (pr_pages * 1.5 + (gql_requests - pr_pages) * 0.5 + rest * 0.5) / 3600
    return {"repositories": rows, "errors": errors or [],
            "totals": {k: sum(r.get(k, 0) for r in ok) for k in
                       ("pull_requests", "commits", "deployments", "releases", "workflow_runs")},
            "graphql_points": gql_points, "graphql_requests": gql_requests, "rest_requests": rest,
            "graphql_points_per_hour": gql_per_h, "rest_requests_per_hour": rest_per_h,
            "graphql_remaining": g.get("remaining"), "rest_remaining": c.get("remaining"),
            "hours": max(hours_rate, hours_latency), "hours_rate_limit": hours_rate, "hours_latency": hours_latency,
            "pr_page_size": page, "points_per_1000_prs": round(gql_points / prs * 1000, 1) if prs else None,
            # github.com gives a user token (or an App installation, at least) 5,000 points an hour
            "hours_github_com_points": gql_points / GITHUB_COM_POINTS_PER_HOUR}


JOURNALED = True  # pipeline.run keeps a response journal for this source (ingestion/journal.py)

RESOURCES = ["repositories", "pull_requests", "pull_request_jira_keys", "commits", "deployments",
             "deployment_statuses", "releases", "workflow_runs"]


def build_source(cfg, stats):
    """The GitHub source as `sources.yml` and the dlt secrets configure it."""
    from ingestion import config as cfgmod
    if not cfg.github_repos():
        raise cfgmod.ConfigError(f"{cfgmod.sources_path(cfg.path)}: no GitHub repositories configured. "
                                 f"Fix: list them under a project's `github: repos:` (see sources.example.yml).")
    gh = cfg.github()
    creds = cfgmod.github_credentials()
    projects = {s.value: {"project_id": s.project, "organisation_id": s.organisation, "account_id": s.account}
                for s in cfg.scopes if s.integration == "github"}
    return github_source(repos=cfg.github_repos(), start_date=cfg.start_date, base_url=gh.base_url,
                         graphql_url=gh.graphql_url, access_token=creds.access_token, page_size=gh.page_size,
                         app_id=creds.app_id, private_key=creds.private_key, installation_id=creds.installation_id,
                         projects=projects, jira_projects=cfg.jira_project_keys(),
                         review_comment_counts=bool(gh.options.get("review_comment_counts", False)),
                         concurrency=int(gh.options.get("concurrency", CONCURRENCY)),
                         runtime=cfg.runtime, stats=stats)
