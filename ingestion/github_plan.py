"""What there is to read on GitHub and what reading it costs: the repositories the sources
file's scopes name (`resolve_repos`, which the source uses too) and `sei ingest --plan`'s
estimate of a first sync (`plan`, `estimate`).

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
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from ingestion.config import Runtime, default_graphql_url
from ingestion.github_api import INTEGRATION, make_api
from ingestion.github_queries import PLAN_REPO_FIELDS, PR_NESTED_CONNECTIONS, STATUS_BATCH, cheapest_page, page_cost
from ingestion.github_rows import _iso, split_repo
from ingestion.http import Api, ApiError, AuthError, HttpStats, NotFound


GITHUB_COM_POINTS_PER_HOUR = 5000  # GraphQL points an hour per user token on github.com


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
