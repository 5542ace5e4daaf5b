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

Incremental runs cost what changed, not the number of repositories (issue 17): a
repository is read per repository once, and from then on it is *covered* by its owner's
searches: one GraphQL `search` finds the changed pull requests of several owners at once,
one listing of every owner's repositories by `pushedAt` finds the default branches that
moved. An hourly run with nothing changed costs 2 points whatever the number of
repositories. How, and the watermarks they keep: github_changes.py. The REST listings
(deployments, releases, workflow runs) ask only the repositories new or failed last time,
pushed since their last listing (from that same listing by push), with a deployment or
workflow run still open, or due in a rolling sweep that lists every repository at least
once per `integrations.github.rest_sweep_hours` (default 24): github_listings.py.

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

GraphQL cost (GitHub's formula; the page sizes it picks, the points a first sync costs,
why per-review comment counts are off by default) and `sei ingest --plan`: github_plan.py.

This module is the source; what changed since the last run (searches, repositories by
push) is github_changes.py, the repositories of the scopes and the plan github_plan.py, the
client (errors, App auth, the GraphQL call) github_api.py, the GraphQL documents
github_queries.py, rows and column types github_rows.py, per-repository cursors and the
fan-out github_state.py.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterator

import dlt

from ingestion.config import GITHUB_COM_API, Runtime, default_graphql_url
from ingestion.github_api import INTEGRATION, graphql, make_api
from ingestion.github_changes import moved_heads, owner_groups, search_batch, search_batches
from ingestion.github_listings import REST_RESOURCES, REST_SWEEP_HOURS, PushListings, RestListings, rest_floors
from ingestion.github_plan import resolve_repos
from ingestion.github_queries import (DEPLOYMENT_STATUSES_PAGE_QUERY, DEPLOYMENT_STATUSES_QUERY,
                                      HISTORY_NESTED_CONNECTIONS, HISTORY_QUERY, PRS_QUERY, PR_FIRST_COMMIT_QUERY,
                                      PR_LABELS_QUERY, PR_TIMELINE_QUERY, REVIEW_COMMENTS_QUERY, STATUS_BATCH,
                                      batch_size, cheapest_page, history_batch_query)
from ingestion.github_rows import (COMMIT_COLUMNS, DEPLOYMENT_COLUMNS, PR_COLUMNS, RELEASE_COLUMNS, REPO_COLUMNS,
                                   RUN_COLUMNS, STATUS_COLUMNS, _iso, _ts, commit_row, deployment_row,
                                   deployment_status_gql_row, deployment_status_row, jira_keys, pr_row, release_row,
                                   split_repo, split_timeline, workflow_run_row)
from ingestion.github_state import RepoCursors, _guard, fan_out
from ingestion.http import ApiError, AuthError, HttpStats, _server_now, response_json


HISTORY_BATCH_FIRST = 20     # commits per repository when several repositories' new history share a query
HISTORY_REWRITE_DAYS = 30    # a force-pushed branch is re-read this far back
RUNS_CAP = 1000              # GitHub serves at most 1,000 runs per filtered listing
CONCURRENCY = 4              # repositories fetched at once per resource; requests in flight per token
PARALLELIZE = True           # dlt pulls each resource's pages from its own thread (see "Throughput")


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
                  concurrency: int = CONCURRENCY,
                  rest_sweep_hours: float = REST_SWEEP_HOURS):
    """GitHub repositories (`owner/name`, or `owner/*` for all of an owner's repositories).

    `access_token` comes from `SOURCES__GITHUB__ACCESS_TOKEN` / `.dlt/secrets.toml` when not
    passed; a GitHub App (`app_id`, `private_key`, `installation_id`) is used instead when
    all three are given. `projects` maps a scope (as written in the sources file) to
    {"project_id", "organisation_id", "account_id"} for the `repositories` table.
    `runtime` (waits, attempts) and `stats` (counters for ops) are shared with the pipeline.
    `concurrency`: repositories each resource reads at once, and requests in flight for the
    token across all resources (1: one request at a time, in the extract thread).
    `rest_sweep_hours`: an incremental run lists deployments, releases and workflow runs only
    where something can have changed, and every repository at least once in this many hours
    (0: every repository every run); see github_listings.py.
    """
    runtime = runtime or Runtime()
    stats = stats or HttpStats()
    start = start_date if isinstance(start_date, dt.datetime) else dt.datetime.fromisoformat(
        str(start_date).replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    gql_url = graphql_url or default_graphql_url(base_url)
    page_size = max(1, min(int(page_size), 100))
    pr_page = cheapest_page(page_size)  # 49: 1 point a page, where 50 cost 2
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

    pushes = PushListings(api, gql_url, stats, fan_out, concurrency)

    def pushes_now(groups: dict) -> dict:
        """This run's listing of repositories by push (read once, by whichever resource asks
        first), reaching back to the oldest watermark of the resources that use it."""
        states = {name: dlt.current.resource_state(name) for name in REST_RESOURCES}
        commits_pushed = dlt.current.resource_state("commits").get("pushed") or {}
        return pushes.get(groups, rest_floors(states, commits_pushed, groups))

    def each_repo(resource: str, fetch: Callable[[str], Iterator[list[dict]]],
                  open_repos: Callable[[], set[str]] = set) -> Iterator[list[dict]]:
        """Row batches of the repositories this run lists (github_listings.RestListings: new,
        failed last time, pushed, something open, the sweep), `concurrency` at a time."""
        repos = [r for r, _ in repo_list()]
        listings = RestListings(resource, dlt.current.resource_state(resource), rest_sweep_hours)
        todo = listings.choose(repos, pushes_now(owner_groups(repo_list())), open_repos())
        listings.forget(repos)
        stats.say(listings.summary(len(repos)))
        yield from fan_out(todo, lambda repo: _guard(stats, resource, repo,
                                                     lambda: listings.wrap(repo, lambda: fetch(repo))), concurrency)

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
        batches = search_batches(api, gql_url, stats, groups, searches, covered, retry)
        yield from fan_out(batches, lambda b: _guard(
            stats, "pull_requests", "search of " + ", ".join(groups[o]["login"] for o in b[1]),
            lambda: search_batch(api, gql_url, stats, b, groups, searches, covered, cursors, retry, start, pr_page,
                                 _pr_rows)), concurrency)
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

    def _repo_prs(repo: str, cursors: RepoCursors) -> Iterator[list[dict]]:
        owner, name = split_repo(repo)
        since = cursors.start(repo)
        after, n_rows, n_pages = None, 0, 0
        while True:
            data = graphql(api, gql_url, "pull_requests", PRS_QUERY,
                           {"owner": owner, "name": name, "first": pr_page, "after": after}, repo)
            n_pages += 1
            conn = data["repository"]["pullRequests"]
            nodes = conn["nodes"] or []
            fresh = [n for n in nodes if cursors.fresh(repo, n["updatedAt"], n["id"])]
            rows = _pr_rows(repo, fresh)
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

    def _pr_rows(repo: str, nodes: list[dict]) -> list[dict]:
        """The rows of a repository's pull-request nodes, their timelines and follow-ups read."""
        rows = [pr_row(repo, n) for n in _timelines(repo, nodes)]
        _follow_ups(repo, nodes, rows)
        return rows

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
        #    first page of every owner comes in one query (1 point); the REST listings read
        #    the same answer. An owner whose listing failed (recorded) is tried next run.
        for o, listing in pushes_now(groups)["owners"].items():
            if listing is not None:
                moved += moved_heads(listing, groups[o], pushed.setdefault(o, {}), covered[o], heads, start)
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
        # only a deployment not finished yet can change without a new one being created (the
        # latest successful one turns inactive when a later one succeeds: a new deployment)
        yield from each_repo("deployments", lambda repo: _repo_deployments(repo, cursors, watch),
                             lambda: {r for r, w in watch.items() if w.get("pending")})
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
        yield from each_repo("workflow_runs", lambda repo: _repo_runs(repo, cursors, open_since),
                             lambda: set(open_since))
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
            end = hi or _iso(dt.datetime.fromtimestamp(_server_now(first.response), dt.timezone.utc))
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
                         rest_sweep_hours=float(gh.options.get("rest_sweep_hours", REST_SWEEP_HOURS)),
                         runtime=cfg.runtime, stats=stats)
