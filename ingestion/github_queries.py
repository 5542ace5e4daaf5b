"""The GraphQL documents the GitHub source sends: pull requests with their reviews, labels
and commits, the default branch's history, deployment statuses and the plan's counts
(their point costs are in github.py's module docstring).
"""
from __future__ import annotations


COMMIT_WINDOW = 100          # commits(last: N) per PR
REVIEWS_PAGE = 50
LABELS_PAGE = 10


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
