"""GitHub as a dlt source: pull requests (GraphQL), the default branch's history
(GraphQL), deployments (REST) and their statuses (GraphQL), releases and workflow runs (REST).

Same code for github.com (`https://api.github.com`), GitHub Enterprise Server
(`https://host/api/v3`, GraphQL at `https://host/api/graphql`) and the simulator.

Resources (dagster-dlt names them `dlt_github_<resource>`), all `merge` on a primary key:

| resource | API | primary key | cursor (per repository) |
|---|---|---|---|
| repositories | sources file (+ `GET /orgs/{owner}/repos` for `owner/*`) | repository | - |
| pull_requests (+ nested `__reviews`, `__labels`) | GraphQL `pullRequests(orderBy: UPDATED_AT DESC)` | id | updated_at |
| pull_request_jira_keys | derived from pull_requests (no requests) | pull_request_id, jira_key | (its parent's) |
| commits (+ nested `__parents`, in parent order) | GraphQL `defaultBranchRef.target.history` | repository, sha | the branch head seen last |
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

A second run with no upstream change costs one request per (resource, repository):
the first page of each listing shows nothing newer than the cursor and paging stops (the
first pull-request page of a known repository asks for 20 PRs, which costs 1 point).

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
/100, rounded): the pull-request page selects four nested connections (reviews(first:50),
labels(first:10), commits(last:100), timelineItems(READY_FOR_REVIEW_EVENT, first:1)), so
a page of N pull requests costs (1 + 4N)/100: 2 points per 50, 4 per 100. First and last
commit both come from `commits(last:100)` (with its totalCount); only a PR with more than
100 commits needs a follow-up for its first commit. Per-review comment counts would need
`comments(first:...)` under every review: 5,000 requests (50 points) per 100 PRs by the
formula, so they are off by default; the PR's `totalCommentsCount` is always loaded, and
`integrations.github.review_comment_counts: true` fetches per-review counts in follow-up
`nodes(ids:)` queries (about 1 point per 100 reviews).
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import queue
import re
import threading
import time
from typing import Any, Callable, Iterable, Iterator

import dlt
import requests
from requests.auth import AuthBase

from ingestion.config import GITHUB_COM_API, Runtime, default_graphql_url
from ingestion.http import (Api, ApiError, AuthError, BearerToken, HttpStats, Integration, NotFound,
                            PermissionDenied, RetriesExhausted, _server_now, response_json)

INTEGRATION = "github"
JIRA_KEY_RX = re.compile(r"[A-Z][A-Z0-9]+-\d+")
JIRA_KEY_RX_ANYCASE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z][A-Za-z0-9]+-\d+)")
COMMIT_WINDOW = 100          # commits(last: N) per PR
REVIEWS_PAGE = 50
INCREMENTAL_FIRST_PAGE = 20  # PRs on the first page of an incremental run (1 point)
LABELS_PAGE = 10
HISTORY_REWRITE_DAYS = 30    # a force-pushed branch is re-read this far back
RUNS_CAP = 1000              # GitHub serves at most 1,000 runs per filtered listing
CONCURRENCY = 4              # repositories fetched at once per resource; requests in flight per token
PARALLELIZE = True           # dlt pulls each resource's pages from its own thread (see "Throughput")
STATUS_BATCH = 100           # deployments per GraphQL `nodes(ids:)` statuses query (GitHub's maximum)


TOKEN_HINT = ("set SOURCES__GITHUB__ACCESS_TOKEN (or access_token under [sources.github] in .dlt/secrets.toml) "
              "to a valid token that can read the repositories, or configure a GitHub App "
              "(SOURCES__GITHUB__APP_ID, SOURCES__GITHUB__PRIVATE_KEY, SOURCES__GITHUB__INSTALLATION_ID)")

# The permission each endpoint needs: fine-grained tokens / GitHub Apps, then classic tokens.
PERMISSIONS = [
    ("/graphql", "pull_requests: read and contents: read (classic token: repo)"),
    ("/actions/", "actions: read (classic token: repo)"),
    ("/deployments", "deployments: read (classic token: repo or repo_deployment)"),
    ("/releases", "contents: read (classic token: repo)"),
    ("/commits", "contents: read (classic token: repo)"),
    ("/orgs/", "metadata: read and organization members: read (classic token: read:org)"),
    ("/app/installations", "a GitHub App private key of that app (the installation id must belong to it)"),
]


# --------------------------------------------------------------------------- errors in GitHub's words
def _repo_in(endpoint: str) -> str | None:
    m = re.search(r"/repos/([^/]+/[^/]+)", endpoint)
    return m.group(1) if m else None


def describe_error(resp: requests.Response, endpoint: str) -> str | None:
    try:
        said = resp.json().get("message", "")
    except (ValueError, AttributeError):
        said = resp.text[:200]
    code = resp.status_code
    if code == 401:
        return f"GitHub token invalid: {TOKEN_HINT} (GitHub said: {said or 'Bad credentials'})"
    if code == 403:
        need = resp.headers.get("X-Accepted-GitHub-Permissions")
        need = need.replace("=", ": ") if need else next((p for frag, p in PERMISSIONS if frag in endpoint),
                                                          "read access to it")
        has = resp.headers.get("X-OAuth-Scopes")
        scopes = f"; the token's scopes are: {has}" if has is not None else ""
        return (f"GitHub: {endpoint} is forbidden: the token lacks the permission {need}{scopes} "
                f"(GitHub said: {said}). What to do: grant that permission to the token or the GitHub App "
                f"installation, or remove the resource from the run.")
    if code == 404:
        repo = _repo_in(endpoint)
        if repo:
            return (f"GitHub repository {repo} not found, or the token cannot see it ({endpoint}). What to do: check "
                    f"the name in the sources file, and that the token or GitHub App installation has access to it.")
        return f"GitHub: {endpoint} not found (GitHub said: {said})."
    return None


GITHUB = Integration("github", "GitHub", TOKEN_HINT, describe_error)


# --------------------------------------------------------------------------- GitHub App auth
def _b64url(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def app_jwt(app_id: str, private_key_pem: str, now: float | None = None) -> str:
    """The RS256 JWT a GitHub App signs to ask for installation tokens (valid 9 minutes,
    issued 60 s in the past to allow for clock drift, as GitHub recommends)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    now = int(now if now is not None else time.time())
    header = _b64url(json.dumps({"alg": "RS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64url(json.dumps({"iat": now - 60, "exp": now + 540, "iss": str(app_id)}, separators=(",", ":")).encode())
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    sig = key.sign(f"{header}.{payload}".encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{header}.{payload}.{_b64url(sig)}"


class GitHubAppAuth(AuthBase):
    """Installation-token auth: POST /app/installations/{id}/access_tokens with the app's
    JWT, cache the token, renew it 5 minutes before it expires (tokens last an hour)."""

    def __init__(self, api_base: str, app_id: str, private_key: str, installation_id: str, api: Api):
        self.api_base, self.app_id, self.private_key, self.installation_id, self.api = \
            api_base.rstrip("/"), app_id, private_key, installation_id, api
        self._token: str | None = None
        self._expires = 0.0

    def token(self) -> str:
        if self._token is None or time.time() > self._expires - 300:
            url = f"{self.api_base}/app/installations/{self.installation_id}/access_tokens"
            resp = self.api.client("github_app_token").session.post(
                url, headers={"Authorization": f"Bearer {app_jwt(self.app_id, self.private_key)}"})
            body = resp.json()
            self._token = body["token"]
            try:
                # Lifetime measured on the server's clock (its Date header), so a skewed local
                # clock neither renews on every request nor uses an expired token.
                expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00")).timestamp()
                self._expires = time.time() + (expires - _server_now(resp))
            except (KeyError, ValueError):
                self._expires = time.time() + 3000
        return self._token

    def __call__(self, r):
        r.headers["Authorization"] = f"Bearer {self.token()}"
        return r


def make_api(base_url: str, runtime: Runtime, stats: HttpStats, access_token: str | None = None,
             app: dict | None = None, max_in_flight: int | None = None) -> Api:
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
    api = Api(GITHUB, base_url, runtime, stats, headers=headers, max_in_flight=max_in_flight)
    if app and app.get("app_id") and app.get("private_key") and app.get("installation_id"):
        api.auth = GitHubAppAuth(base_url, str(app["app_id"]), app["private_key"], str(app["installation_id"]), api)
    elif access_token:
        api.auth = BearerToken(access_token)
    else:
        api.auth = _MissingCredentials()
    return api


class _MissingCredentials(AuthBase):
    """Fails the first request, not the source's construction (Dagster builds the assets
    from the source without secrets)."""

    def __call__(self, r):
        raise AuthError(INTEGRATION, "-", f"GitHub credentials missing: {TOKEN_HINT}.")


# --------------------------------------------------------------------------- GraphQL
TRANSIENT_GRAPHQL = ("something went wrong", "timeout", "timedout", "try again")


def graphql(api: Api, url: str, resource: str, query: str, variables: dict, repo: str | None = None,
            partial: bool = False) -> dict:
    """POST a query; HTTP-level retries are the client's. GitHub also answers 200 with an
    error when a query timed out on its side ("Something went wrong while executing your
    query..."): such answers are retried here with the same backoff, a few times.
    `partial`: an answer with data whose errors are all NOT_FOUND (a `nodes(ids:)` entry
    deleted meanwhile) returns the data, with null where a node was not found."""
    for attempt in range(1, 4):
        resp = api.request(resource, "POST", url, json={"query": query, "variables": variables})
        try:
            body = response_json(resp)
        except ValueError:
            raise ApiError(INTEGRATION, "POST /graphql", f"GitHub GraphQL answered something that is not JSON: "
                           f"{resp.text[:200]!r}", resp.status_code, resp) from None
        errors = body.get("errors") or []
        transient = errors and body.get("data") is None and all(
            not e.get("type") and any(t in str(e.get("message", "")).lower() for t in TRANSIENT_GRAPHQL)
            for e in errors)
        if not transient or attempt == 3:
            break
        secs = api.runtime.backoff_seconds * 2 ** attempt * api.runtime.wait_scale
        time.sleep(secs)

        def upd(c, secs=secs):
            c.retries += 1
            c.wait_seconds += secs
        api.stats.update(INTEGRATION, resource, upd)
    data = body.get("data")
    if errors and partial and data is not None and all(e.get("type") == "NOT_FOUND" for e in errors):
        return data
    if errors:
        types = {e.get("type") for e in errors}
        msg = "; ".join(str(e.get("message")) for e in errors)[:500]
        if "NOT_FOUND" in types and repo:
            raise NotFound(INTEGRATION, "POST /graphql",
                           f"GitHub repository {repo} not found, or the token cannot see it (GitHub said: {msg}). "
                           f"What to do: check the name in the sources file, and that the token or GitHub App "
                           f"installation has access to it.", 200, resp)
        if types & {"FORBIDDEN", "INSUFFICIENT_SCOPES"}:
            raise PermissionDenied(INTEGRATION, "POST /graphql",
                                   f"GitHub GraphQL: the token lacks a permission for {repo or 'this query'}: {msg}. "
                                   f"What to do: grant pull_requests: read and contents: read (classic token: repo).",
                                   200, resp)
        raise ApiError(INTEGRATION, "POST /graphql", f"GitHub GraphQL error for {repo or 'a query'}: {msg}", 200, resp)
    if data is None:
        raise ApiError(INTEGRATION, "POST /graphql", f"GitHub GraphQL answered without data: {str(body)[:300]}", 200, resp)
    return data


PR_FIELDS = """
  id databaseId number title body url state isDraft createdAt updatedAt mergedAt closedAt
  additions deletions changedFiles baseRefName headRefName totalCommentsCount
  author { __typename login }
  mergeCommit { oid }
  labels(first: %(labels)d) { totalCount nodes { name } }
  reviews(first: %(reviews)d) {
    totalCount pageInfo { hasNextPage endCursor }
    nodes { id databaseId state submittedAt createdAt author { __typename login } }
  }
  commits(last: %(commits)d) { totalCount nodes { commit { oid authoredDate committedDate } } }
  timelineItems(first: 1, itemTypes: [READY_FOR_REVIEW_EVENT]) { nodes { ... on ReadyForReviewEvent { createdAt } } }
""" % {"labels": LABELS_PAGE, "reviews": REVIEWS_PAGE, "commits": COMMIT_WINDOW}

PRS_QUERY = """
query PullRequests($owner: String!, $name: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    nameWithOwner
    pullRequests(first: $first, after: $after, orderBy: {field: UPDATED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { %s }
    }
  }
}
""" % PR_FIELDS

PR_REVIEWS_QUERY = """
query PullRequestReviews($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      reviews(first: 100, after: $after) {
        pageInfo { hasNextPage endCursor }
        nodes { id databaseId state submittedAt createdAt author { __typename login } }
      }
    }
  }
}
"""

PR_LABELS_QUERY = """
query PullRequestLabels($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) { pullRequest(number: $number) { labels(first: 100) { nodes { name } } } }
}
"""

PR_FIRST_COMMIT_QUERY = """
query PullRequestFirstCommit($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) { commits(first: 1) { nodes { commit { oid authoredDate committedDate } } } }
  }
}
"""

REVIEW_COMMENTS_QUERY = """
query ReviewCommentCounts($ids: [ID!]!) {
  nodes(ids: $ids) { ... on PullRequestReview { id comments(first: 1) { totalCount } } }
}
"""

HISTORY_QUERY = """
query History($owner: String!, $name: String!, $first: Int!, $after: String, $since: GitTimestamp) {
  rateLimit { cost remaining resetAt }
  repository(owner: $owner, name: $name) {
    defaultBranchRef {
      name
      target {
        ... on Commit {
          oid
          history(first: $first, after: $after, since: $since) {
            pageInfo { hasNextPage endCursor }
            nodes {
              oid authoredDate committedDate message
              author { name email user { login } }
              committer { name email user { login } }
              parents(first: 3) { nodes { oid } }
            }
          }
        }
      }
    }
  }
}
"""

STATUS_FIELDS = "id state description environment environmentUrl logUrl createdAt updatedAt creator { login }"

DEPLOYMENT_STATUSES_QUERY = """
query DeploymentStatuses($ids: [ID!]!) {
  rateLimit { cost remaining resetAt }
  nodes(ids: $ids) {
    ... on Deployment {
      id databaseId
      statuses(first: 100) { pageInfo { hasNextPage endCursor } nodes { %s } }
    }
  }
}
""" % STATUS_FIELDS

DEPLOYMENT_STATUSES_PAGE_QUERY = """
query DeploymentStatusesPage($id: ID!, $after: String) {
  node(id: $id) {
    ... on Deployment { statuses(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { %s } } }
  }
}
""" % STATUS_FIELDS

PLAN_REPO_FIELDS = """
  %(alias)s: repository(owner: "%(owner)s", name: "%(name)s") {
    nameWithOwner
    pullRequests(first: 1) { totalCount }
    deployments(first: 1) { totalCount }
    releases(first: 1) { totalCount }
    defaultBranchRef { target { ... on Commit { history(first: 1, since: $since) { totalCount } } } }
  }
"""



# Column types for fields that can be null on a first load (dlt would otherwise leave
# them out until a value shows up, and the staging models need them to exist).
_T, _TS, _I, _B = "text", "timestamp", "bigint", "bool"


def _cols(**types: str) -> dict:
    """Fresh column hints (dlt writes into the dicts it is given, so none may be shared)."""
    return {name: {"data_type": t} for name, t in types.items()}


PR_COLUMNS = _cols(body=_T, url=_T, author_login=_T, author_type=_T, merged_at=_TS, closed_at=_TS,
                   merge_commit_sha=_T, database_id=_I, total_comments_count=_I, first_commit_sha=_T,
                   first_commit_authored_at=_TS, first_commit_committed_at=_TS, last_commit_sha=_T,
                   last_commit_authored_at=_TS, last_commit_committed_at=_TS, ready_for_review_at=_TS,
                   first_review_at=_TS, commits_after_first_review=_I, commits_after_first_review_exact=_B)
COMMIT_COLUMNS = _cols(first_parent_sha=_T, author_login=_T, committer_login=_T, author_email=_T, author_name=_T,
                       committer_email=_T, committer_name=_T, message=_T)
DEPLOYMENT_COLUMNS = _cols(description=_T, sha=_T, ref=_T, creator_login=_T, node_id=_T)
STATUS_COLUMNS = _cols(description=_T, target_url=_T, log_url=_T, environment_url=_T, creator_login=_T,
                       environment=_T)
RELEASE_COLUMNS = _cols(name=_T, body=_T, published_at=_TS, author_login=_T, target_commitish=_T)
RUN_COLUMNS = _cols(conclusion=_T, run_started_at=_TS, actor_login=_T,
                    triggering_actor_login=_T, display_title=_T)
REPO_COLUMNS = _cols(project_id=_T, organisation_id=_T, account_id=_T)

# --------------------------------------------------------------------------- helpers
def _ts(s: str | None):
    """GitHub ISO timestamp -> tz-aware datetime (dlt types the column as timestamp)."""
    if not s:
        return None
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))


def _iso(d: dt.datetime) -> str:
    return d.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _norm_iso(s: str) -> str:
    """Any ISO timestamp -> GitHub's `YYYY-MM-DDTHH:MM:SSZ` (so strings compare in time order)."""
    return _iso(dt.datetime.fromisoformat(s.replace("Z", "+00:00")))


def split_repo(full: str) -> tuple[str, str]:
    owner, name = full.split("/", 1)
    return owner, name


def jira_keys(title: str | None, body: str | None, branch: str | None,
              known_projects: Iterable[str] | None = None) -> dict[str, list[str]]:
    """Jira issue keys in a PR's title, body and head branch: {key: [where found]}.

    Title and body: the regex `[A-Z][A-Z0-9]+-\\d+` as written. Branch names are often
    lower case (`feature/pay-123-fix`), so a branch is matched case-insensitively and
    upper-cased, but only for configured Jira project keys (otherwise `lodash-4` would be
    a key). With `known_projects`, keys of other projects are dropped everywhere (`UTF-8`)."""
    known = {k.upper() for k in (known_projects or [])}
    out: dict[str, list[str]] = {}
    for where, text in (("title", title), ("body", body)):
        for k in JIRA_KEY_RX.findall(text or ""):
            if known and k.split("-", 1)[0] not in known:
                continue
            out.setdefault(k, [])
            if where not in out[k]:
                out[k].append(where)
    for m in JIRA_KEY_RX_ANYCASE.findall(branch or ""):
        k = m.upper()
        if JIRA_KEY_RX.fullmatch(k) is None:
            continue
        if (known and k.split("-", 1)[0] in known) or (not known and m == k):
            out.setdefault(k, [])
            if "branch" not in out[k]:
                out[k].append("branch")
    return out


class RepoCursors:
    """Per-repository cursors in dlt resource state: {repo: {"value": iso, "ids": [...]}}.

    `start(repo)` is where this run starts (the start date for a repository never read);
    `fresh(repo, ts, id)` says whether a record is new (newer than the cursor, or at the
    cursor's exact second but not seen there); `seen()` tracks the run's maximum and
    `commit(repo)` stores it once the repository was read completely."""

    def __init__(self, resource: str, start_date: dt.datetime):
        state = dlt.current.resource_state(resource)
        self.state: dict = state.setdefault("cursors", {})
        self.start_date = _iso(start_date)
        self._run: dict[str, tuple[str, set]] = {}

    def start(self, repo: str) -> str:
        c = self.state.get(repo.lower())
        return max(c["value"], self.start_date) if c else self.start_date

    def known(self, repo: str) -> bool:
        return repo.lower() in self.state

    def fresh(self, repo: str, ts: str | None, rid: Any) -> bool:
        if ts is None:
            return True
        c = self.state.get(repo.lower())
        if c is None:
            return ts >= self.start_date
        if ts > c["value"]:
            return True
        return ts == c["value"] and str(rid) not in set(c.get("ids", []))

    def seen(self, repo: str, ts: str | None, rid: Any) -> None:
        if ts is None:
            return
        cur = self._run.get(repo.lower())
        if cur is None or ts > cur[0]:
            self._run[repo.lower()] = (ts, {str(rid)})
        elif ts == cur[0]:
            cur[1].add(str(rid))

    def commit(self, repo: str) -> None:
        run = self._run.pop(repo.lower(), None)
        if run is None:
            return
        old = self.state.get(repo.lower())
        if old and old["value"] > run[0]:
            return
        ids = set(run[1]) | (set(old.get("ids", [])) if old and old["value"] == run[0] else set())
        self.state[repo.lower()] = {"value": run[0], "ids": sorted(ids)[-500:]}

    def summary(self) -> str | None:
        vals = [c["value"] for c in self.state.values()]
        if not vals:
            return None
        return max(vals) if len(set(vals)) == 1 else f"{min(vals)}..{max(vals)} ({len(vals)} repositories)"


def _guard(stats: HttpStats, resource: str, repo: str, fn):
    """Run one repository's fetch; a missing repo, a missing permission or a request that
    kept failing is recorded (ops) and the other repositories go on. Bad credentials stop the source."""
    try:
        yield from fn()
    except AuthError:
        raise
    except (NotFound, PermissionDenied, RetriesExhausted, ApiError) as e:
        stats.error(INTEGRATION, resource, f"{repo}: {e}")
        stats.say(f"  github.{resource} {repo}: ERROR {e}")


_DONE = object()


def fan_out(items: Iterable[Any], fetch: Callable[[Any], Iterator[Any]], workers: int) -> Iterator[Any]:
    """What `fetch(item)` yields for every item, with up to `workers` items fetched at once
    in threads (each item wholly in one thread, so its pages keep their order and its
    cursor commits after its last page). Pages come out as they arrive; a bounded queue
    keeps the fetchers at most a few pages ahead of the consumer. An exception in a fetch
    stops the others and is raised here; closing this generator stops them too.
    `workers <= 1` runs the items one after the other in the caller's thread."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield from fetch(item)
        return
    n = min(workers, len(items))
    out: queue.Queue = queue.Queue(maxsize=2 * n)
    stop = threading.Event()
    todo = iter(items)
    todo_lock = threading.Lock()

    def put(msg) -> bool:
        while not stop.is_set():
            try:
                out.put(msg, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                with todo_lock:
                    item = next(todo, _DONE)
                if item is _DONE:
                    break
                for page in fetch(item):
                    if not put(("page", page)):
                        return
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            put(("error", e))
        finally:
            put(("done", None))

    threads = [threading.Thread(target=work, name=f"github-fetch-{i}", daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    running = n
    try:
        while running:
            kind, value = out.get()
            if kind == "page":
                yield value
            elif kind == "error":
                raise value
            else:
                running -= 1
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=30)


def node_database_id(node_id: str | None) -> int | None:
    """The REST (database) id inside a GitHub global node id, for objects whose GraphQL type
    has no `databaseId` (deployment statuses): the current format is `PREFIX_` + base64url
    of a MessagePack array whose last element is the id (`DES_kwDO...`), the legacy one is
    base64 of `NNN:TypeName<id>`. None when neither."""
    if not node_id:
        return None
    prefix, sep, payload = node_id.partition("_")
    if sep and prefix.isalnum():
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
            if raw and 0x91 <= raw[0] <= 0x9F:
                last, i = None, 1
                for _ in range(raw[0] & 0x0F):
                    b = raw[i]
                    if b <= 0x7F:
                        last, i = b, i + 1
                    elif b in (0xCC, 0xCD, 0xCE, 0xCF):
                        size = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}[b]
                        last, i = int.from_bytes(raw[i + 1:i + 1 + size], "big"), i + 1 + size
                    elif b in (0xD0, 0xD1, 0xD2, 0xD3):
                        size = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}[b]
                        last, i = int.from_bytes(raw[i + 1:i + 1 + size], "big", signed=True), i + 1 + size
                    else:
                        raise ValueError(node_id)
                if i == len(raw) and isinstance(last, int):
                    return last
        except (ValueError, IndexError):
            pass
    try:
        text = base64.b64decode(node_id + "=" * (-len(node_id) % 4), validate=True).decode("ascii")
        m = re.fullmatch(r"\d+:[A-Za-z]+?(\d+)", text)
        if m:
            return int(m.group(1))
    except (ValueError, UnicodeDecodeError):
        pass
    return None


def status_id(node_id: str) -> int:
    """A deployment status's `id` column: its REST id where the node id carries it, else a
    stable negative number derived from the node id (never equal to a REST id)."""
    rid = node_database_id(node_id)
    if rid is not None:
        return rid
    return -int.from_bytes(hashlib.sha256(node_id.encode()).digest()[:7], "big")


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
        yield from each_repo("pull_requests", lambda repo: _repo_prs(repo, cursors))
        dlt.current.resource_state("pull_requests")["summary"] = cursors.summary()

    def _repo_prs(repo: str, cursors: RepoCursors) -> Iterator[list[dict]]:
        owner, name = split_repo(repo)
        since = cursors.start(repo)
        after, n_rows, n_pages = None, 0, 0
        # An incremental run usually finds a few changes: its first page asks for at most
        # 20 PRs, which GitHub prices at 1 point ((1 + 4 x 20) / 100 rounds to 1) instead of 2.
        first_page = min(page_size, INCREMENTAL_FIRST_PAGE) if cursors.known(repo) else page_size
        while True:
            data = graphql(api, gql_url, "pull_requests", PRS_QUERY,
                           {"owner": owner, "name": name, "first": first_page if n_pages == 0 else page_size,
                            "after": after}, repo)
            n_pages += 1
            conn = data["repository"]["pullRequests"]
            nodes = conn["nodes"] or []
            fresh = [n for n in nodes if cursors.fresh(repo, n["updatedAt"], n["id"])]
            rows = [pr_row(repo, n) for n in fresh]
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

    def _follow_ups(repo: str, nodes: list[dict], rows: list[dict]) -> None:
        owner, name = split_repo(repo)
        for n, row in zip(nodes, rows):
            if n["reviews"]["pageInfo"]["hasNextPage"]:
                after, reviews = n["reviews"]["pageInfo"]["endCursor"], list(n["reviews"]["nodes"])
                while after:
                    d = graphql(api, gql_url, "pull_requests", PR_REVIEWS_QUERY,
                                {"owner": owner, "name": name, "number": n["number"], "after": after}, repo)
                    c = d["repository"]["pullRequest"]["reviews"]
                    reviews += c["nodes"]
                    after = c["pageInfo"]["endCursor"] if c["pageInfo"]["hasNextPage"] else None
                n["reviews"]["nodes"] = reviews
                row.update(_review_fields(n))
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
        state = dlt.current.resource_state("commits").setdefault("heads", {})
        yield from each_repo("commits", lambda repo: _repo_commits(repo, state))

    def _repo_commits(repo: str, heads: dict) -> Iterator[list[dict]]:
        owner, name = split_repo(repo)
        prev = heads.get(repo.lower())
        since = _iso(start)
        if prev:  # stop at the previous head; a rewritten branch is re-read a month back at most
            back = _ts(prev["committed_at"]) - dt.timedelta(days=HISTORY_REWRITE_DAYS)
            since = max(since, _iso(back))
        after, n_rows, n_pages, new_head = None, 0, 0, None
        while True:
            data = graphql(api, gql_url, "commits", HISTORY_QUERY,
                           {"owner": owner, "name": name, "first": 100, "after": after, "since": since}, repo)
            n_pages += 1
            ref = data["repository"]["defaultBranchRef"]
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


# --------------------------------------------------------------------------- rows
def _review_fields(n: dict) -> dict:
    author = (n.get("author") or {}).get("login")
    reviews = [{"id": r["id"], "database_id": _int(r.get("databaseId")), "pull_request_id": n["id"],
                "author_login": (r.get("author") or {}).get("login"),
                "author_type": (r.get("author") or {}).get("__typename"), "state": r["state"],
                "submitted_at": _ts(r.get("submittedAt")), "created_at": _ts(r.get("createdAt"))}
               for r in n["reviews"]["nodes"]]
    submitted = sorted(r["submitted_at"] for r in reviews
                       if r["submitted_at"] is not None and r["author_login"] != author and r["state"] != "PENDING")
    first_review = submitted[0] if submitted else None
    commits = [c["commit"] for c in n["commits"]["nodes"]]
    window_complete = n["commits"]["totalCount"] <= len(commits)
    after = None
    if first_review is not None:
        after = sum(1 for c in commits if _ts(c["authoredDate"]) > first_review)
    return {"reviews": reviews, "reviews_count": n["reviews"]["totalCount"], "first_review_at": first_review,
            "commits_after_first_review": after,
            "commits_after_first_review_exact": window_complete or (
                first_review is not None and bool(commits) and _ts(commits[0]["authoredDate"]) > first_review)}


def _int(v) -> int | None:
    try:
        return int(v) if v is not None else None
    except (TypeError, ValueError):
        return None


def pr_row(repo: str, n: dict) -> dict:
    author = n.get("author") or {}
    commits = [c["commit"] for c in n["commits"]["nodes"]]
    first = commits[0] if commits and n["commits"]["totalCount"] <= len(commits) else None
    last = commits[-1] if commits else None
    ready = (n.get("timelineItems") or {}).get("nodes") or []
    row = {
        "id": n["id"], "database_id": _int(n.get("databaseId")), "repository": repo, "number": n["number"],
        "title": n["title"], "body": n.get("body"), "url": n.get("url"), "state": n["state"], "is_draft": n["isDraft"],
        "created_at": _ts(n["createdAt"]), "updated_at": _ts(n["updatedAt"]), "merged_at": _ts(n.get("mergedAt")),
        "closed_at": _ts(n.get("closedAt")), "author_login": author.get("login"), "author_type": author.get("__typename"),
        "is_bot_author": author.get("__typename") == "Bot", "base_ref_name": n.get("baseRefName"),
        "head_ref_name": n.get("headRefName"), "merge_commit_sha": (n.get("mergeCommit") or {}).get("oid"),
        "additions": n.get("additions"), "deletions": n.get("deletions"), "changed_files": n.get("changedFiles"),
        "total_comments_count": n.get("totalCommentsCount"),
        "labels": [{"name": x["name"]} for x in n["labels"]["nodes"]], "labels_count": n["labels"]["totalCount"],
        "commits_count": n["commits"]["totalCount"],
        "first_commit_sha": first["oid"] if first else None,
        "first_commit_authored_at": _ts(first["authoredDate"]) if first else None,
        "first_commit_committed_at": _ts(first["committedDate"]) if first else None,
        "last_commit_sha": last["oid"] if last else None,
        "last_commit_authored_at": _ts(last["authoredDate"]) if last else None,
        "last_commit_committed_at": _ts(last["committedDate"]) if last else None,
        "ready_for_review_at": _ts(ready[0].get("createdAt")) if ready and ready[0] else None,
    }
    row.update(_review_fields(n))
    return row


def commit_row(repo: str, branch: str, c: dict) -> dict:
    a, m = c.get("author") or {}, c.get("committer") or {}
    parents = [p["oid"] for p in (c.get("parents") or {}).get("nodes") or []]
    return {"repository": repo, "branch": branch, "sha": c["oid"], "parents": parents,
            "first_parent_sha": parents[0] if parents else None, "parent_count": len(parents),
            "authored_at": _ts(c.get("authoredDate")), "committed_at": _ts(c.get("committedDate")),
            "author_name": a.get("name"), "author_email": a.get("email"),
            "author_login": (a.get("user") or {}).get("login"),
            "committer_name": m.get("name"), "committer_email": m.get("email"),
            "committer_login": (m.get("user") or {}).get("login"), "message": c.get("message")}


def deployment_row(repo: str, d: dict) -> dict:
    return {"id": d["id"], "node_id": d.get("node_id"), "repository": repo, "sha": d.get("sha"), "ref": d.get("ref"),
            "task": d.get("task"), "environment": d.get("environment"),
            "original_environment": d.get("original_environment"),
            "production_environment": d.get("production_environment"),
            "transient_environment": d.get("transient_environment"), "description": d.get("description"),
            "creator_login": (d.get("creator") or {}).get("login"), "created_at": _ts(d["created_at"]),
            "updated_at": _ts(d["updated_at"]), "payload": json.dumps(d.get("payload") or {}, sort_keys=True)}


def deployment_status_row(repo: str, deployment_id: int, s: dict) -> dict:
    return {"id": s["id"], "deployment_id": deployment_id, "repository": repo, "state": s.get("state"),
            "environment": s.get("environment"), "description": s.get("description"),
            "creator_login": (s.get("creator") or {}).get("login"), "target_url": s.get("target_url"),
            "log_url": s.get("log_url"), "environment_url": s.get("environment_url"),
            "created_at": _ts(s.get("created_at")), "updated_at": _ts(s.get("updated_at"))}


def deployment_status_gql_row(repo: str, deployment_id: int, s: dict) -> dict:
    """The same row as `deployment_status_row`, from GraphQL: the REST id is read from the
    node id, the state lower-cased (`IN_PROGRESS` -> `in_progress`); GraphQL has no
    `target_url`, REST's older name for `log_url`, so it takes `log_url`."""
    return {"id": status_id(s["id"]), "deployment_id": deployment_id, "repository": repo,
            "state": (s.get("state") or "").lower() or None, "environment": s.get("environment"),
            "description": s.get("description"), "creator_login": (s.get("creator") or {}).get("login"),
            "target_url": s.get("logUrl"), "log_url": s.get("logUrl"), "environment_url": s.get("environmentUrl"),
            "created_at": _ts(s.get("createdAt")), "updated_at": _ts(s.get("updatedAt"))}


def release_row(repo: str, r: dict) -> dict:
    return {"id": r["id"], "repository": repo, "tag_name": r.get("tag_name"), "name": r.get("name"),
            "target_commitish": r.get("target_commitish"), "draft": r.get("draft"), "prerelease": r.get("prerelease"),
            "author_login": (r.get("author") or {}).get("login"), "created_at": _ts(r.get("created_at")),
            "published_at": _ts(r.get("published_at")), "url": r.get("html_url"), "body": r.get("body")}


def workflow_run_row(repo: str, r: dict) -> dict:
    return {"id": r["id"], "repository": repo, "name": r.get("name"), "workflow_id": r.get("workflow_id"),
            "path": r.get("path"), "run_number": r.get("run_number"), "run_attempt": r.get("run_attempt"),
            "event": r.get("event"), "status": r.get("status"), "conclusion": r.get("conclusion"),
            "head_branch": r.get("head_branch"), "head_sha": r.get("head_sha"),
            "display_title": r.get("display_title"), "actor_login": (r.get("actor") or {}).get("login"),
            "triggering_actor_login": (r.get("triggering_actor") or {}).get("login"),
            "created_at": _ts(r.get("created_at")), "updated_at": _ts(r.get("updated_at")),
            "run_started_at": _ts(r.get("run_started_at")), "url": r.get("html_url")}


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

    PR pages: (1 + 4 x page) / 100 points each, rounded; history pages: 1 point per 100
    commits; statuses: 1 point per 100 deployments (`nodes(ids:)`); REST: deployments/100 +
    releases/100 + runs/100, at least one request per repository and resource. Time: the larger of the
    rate-limit bound (points / points-per-hour; requests / requests-per-hour) and the
    latency bound (about 1.5 s per PR page, 0.5 s per other request)."""
    import math
    ok = [r for r in rows if "error" not in r]
    pr_pages = sum(max(1, math.ceil(r["pull_requests"] / page_size)) for r in ok)
    page_cost = max(1, round((1 + 4 * page_size) / 100))
    reviews_est = sum(r["pull_requests"] for r in ok) * 1.6 if review_comment_counts else 0
    history_pages = sum(max(1, math.ceil(r["commits"] / 100)) for r in ok)
    status_queries = sum(math.ceil(r["deployments"] / STATUS_BATCH) for r in ok)
    gql_points = pr_pages * page_cost + math.ceil(reviews_est / 100) + history_pages + status_queries
    gql_requests = pr_pages + math.ceil(reviews_est / 100) + history_pages + status_queries
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
            "hours": max(hours_rate, hours_latency), "hours_rate_limit": hours_rate, "hours_latency": hours_latency}


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
