"""The GraphQL documents the GitHub source sends: pull requests with their reviews, labels
and commits (per repository, and found across an owner with `search`), the default
branch's history, the repositories an owner pushed to, deployment statuses and the plan's
counts (their point costs are in github_plan.py's module docstring), and GitHub's cost formula
that picks the page sizes.
"""
from __future__ import annotations


COMMIT_WINDOW = 100          # commits(last: N) per PR
TIMELINE_PAGE = 100          # reviews and ready-for-review events per PR (the cost does not depend on it)
LABELS_PAGE = 10
PR_NESTED_CONNECTIONS = 3    # labels, commits, timelineItems (reviews + ready event) under every pull request
HISTORY_NESTED_CONNECTIONS = 1  # parents under every commit
STATUS_BATCH = 100           # deployments per GraphQL `nodes(ids:)` statuses query (GitHub's maximum)


def page_cost(first: int, nested: int, pages: int = 1) -> int:
    """GitHub's points for a query of `pages` connections of `first` nodes with `nested`
    connections under each node: one request per connection and per possible parent node,
    summed, divided by 100 and rounded to the nearest whole number (halves up), at least 1."""
    requests = pages * (1 + nested * first)
    return max(1, (requests + 50) // 100)


def cheapest_page(limit: int, nested: int = PR_NESTED_CONNECTIONS) -> int:
    """The page size up to `limit` that reads the most nodes per point (the larger one on a
    tie). With three nested connections: 49 (1 + 3 x 49 = 148 requests, 1 point), where 50
    costs 2 points and 100 costs 3; with four, 37."""
    limit = max(1, min(int(limit), 100))
    return max(range(1, limit + 1), key=lambda n: (n / page_cost(n, nested), n))


def batch_size(first: int, nested: int) -> int:
    """How many connections of `first` nodes fit in a 1-point query."""
    n = 1
    while n < 100 and page_cost(first, nested, n + 1) == 1:
        n += 1
    return n


TIMELINE_FIELDS = """
    pageInfo { hasNextPage endCursor }
    nodes {
      __typename
      ... on ReadyForReviewEvent { createdAt }
      ... on PullRequestReview { id databaseId state submittedAt createdAt author { __typename login } }
    }
"""

# Reviews and the ready-for-review event come in one timeline connection (three nested
# connections, not four: 49 pull requests a point instead of 37).
PR_FIELDS = """
  id databaseId number title body url state isDraft createdAt updatedAt mergedAt closedAt
  additions deletions changedFiles baseRefName headRefName totalCommentsCount
  author { __typename login }
  mergeCommit { oid }
  labels(first: %(labels)d) { totalCount nodes { name } }
  commits(last: %(commits)d) { totalCount nodes { commit { oid authoredDate committedDate } } }
  timelineItems(first: %(timeline)d, itemTypes: [READY_FOR_REVIEW_EVENT, PULL_REQUEST_REVIEW]) { %(tl)s }
""" % {"labels": LABELS_PAGE, "commits": COMMIT_WINDOW, "timeline": TIMELINE_PAGE, "tl": TIMELINE_FIELDS}

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

SEARCH_PRS_QUERY = """
query SearchPullRequests($q: String!, $first: Int!, $after: String) {
  rateLimit { cost remaining resetAt }
  search(query: $q, type: ISSUE, first: $first, after: $after) {
    issueCount
    pageInfo { hasNextPage endCursor }
    nodes { ... on PullRequest { repository { nameWithOwner } %s } }
  }
}
""" % PR_FIELDS

SEARCH_NEWEST_QUERY = """
query SearchNewest($q: String!) {
  rateLimit { cost remaining resetAt }
  search(query: $q, type: ISSUE, first: 1) { issueCount nodes { ... on PullRequest { updatedAt } } }
}
"""

PUSHED_REPOS_QUERY = """
query PushedRepositories($login: String!, $after: String) {
  rateLimit { cost remaining resetAt }
  repositoryOwner(login: $login) {
    __typename
    repositories(first: 100, after: $after, ownerAffiliations: [OWNER],
                 orderBy: {field: PUSHED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { nameWithOwner pushedAt defaultBranchRef { name target { oid } } }
    }
  }
}
"""

PUSHED_REPOS_FIELDS = """
    repositories(first: 100, after: %s, ownerAffiliations: [OWNER], orderBy: {field: PUSHED_AT, direction: DESC}) {
      pageInfo { hasNextPage endCursor }
      nodes { nameWithOwner pushedAt defaultBranchRef { name target { oid } } }
    }
"""


def pushed_repos_batch_query(logins: list[str]) -> str:
    """The first page of several owners' repositories by last push, aliases `o0`, `o1`, ...
    (one request each: a query for up to 149 owners costs 1 point)."""
    import json
    parts = ["  o%d: repositoryOwner(login: %s) { __typename %s }" % (i, json.dumps(login), PUSHED_REPOS_FIELDS % "null")
             for i, login in enumerate(logins)]
    return "query PushedRepositoriesOfOwners {\n  rateLimit { cost remaining resetAt }\n%s\n}\n" % "\n".join(parts)


def owner_types_query(logins: list[str]) -> str:
    """Whether each login is an organisation or a user (`__typename`), aliases `o0`, `o1`, ..."""
    import json
    parts = ["  o%d: repositoryOwner(login: %s) { __typename }" % (i, json.dumps(login)) for i, login in enumerate(logins)]
    return "query OwnerTypes {\n%s\n}\n" % "\n".join(parts)

PR_TIMELINE_QUERY = """
query PullRequestTimeline($owner: String!, $name: String!, $number: Int!, $after: String) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      timelineItems(first: 100, after: $after, itemTypes: [READY_FOR_REVIEW_EVENT, PULL_REQUEST_REVIEW]) { %s }
    }
  }
}
""" % TIMELINE_FIELDS

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

HISTORY_NODE_FIELDS = """
  oid authoredDate committedDate message
  author { name email user { login } }
  committer { name email user { login } }
  parents(first: 3) { nodes { oid } }
"""


def history_batch_query(repos: list[tuple[str, str, str]], first: int) -> str:
    """The first history page of several repositories in one query: aliases `r0`, `r1`, ...
    for (owner, name, since) each, the same fields as HISTORY_QUERY."""
    import json
    parts = []
    for i, (owner, name, since) in enumerate(repos):
        parts.append("  r%d: repository(owner: %s, name: %s) { defaultBranchRef { name target { ... on Commit { oid "
                     "history(first: %d, since: %s) { pageInfo { hasNextPage endCursor } nodes { ...HistoryNode } } "
                     "} } } }" % (i, json.dumps(owner), json.dumps(name), first, json.dumps(since)))
    return ("query HistoryBatch {\n  rateLimit { cost remaining resetAt }\n%s\n}\n"
            "fragment HistoryNode on Commit { %s }\n" % ("\n".join(parts), HISTORY_NODE_FIELDS))


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
