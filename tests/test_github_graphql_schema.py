"""GitHub GraphQL rules in the simulator: schema, GitHub's limits and cost, GitHub-shaped errors."""
import time

import pytest

from simulator.github_graphql_schema import GitHubError, execute, get_schema, prepare

FOUR_POINTS = """
query {
  repository(owner: "o", name: "r") {
    pullRequests(first: 100) {
      nodes {
        number
        reviews(first: 50) { nodes { state } }
        labels(first: 10) { nodes { name } }
        first: commits(first: 1) { nodes { commit { oid } } }
        last: commits(last: 1) { nodes { commit { oid } } }
      }
    }
  }
}
"""

FOUR_POINTS_WITH_FRAGMENTS = """
query Pulls {
  repo: repository(owner: "o", name: "r") {
    ...Prs
    prs: pullRequests(first: 100) {
      nodes { ...Pr ... on PullRequest { number reviews(first: 50) { totalCount } } }
    }
  }
}
fragment Prs on Repository {
  prs: pullRequests(first: 100) { totalCount nodes { reviews(first: 50) { totalCount } } }
}
fragment Pr on PullRequest {
  number
  reviews(first: 50) { nodes { state } }
  tags: labels(first: 10) { nodes { name } }
  earliest: commits(first: 1) { nodes { commit { oid } } }
  latest: commits(last: 1) { nodes { commit { oid } } }
}
"""


def test_schema_loads_githubs_types():
    schema = get_schema()
    assert get_schema() is schema  # parsed once
    assert str(schema.type_map["Repository"].fields["pullRequests"].type) == "PullRequestConnection!"
    assert set(schema.type_map["PullRequestState"].values) == {"OPEN", "CLOSED", "MERGED"}


def test_four_connections_under_100_prs_cost_4_points():
    p = prepare(FOUR_POINTS)
    assert p.errors == []
    # 1 request for pullRequests + 100 parents x 4 nested connections = 401 -> round(4.01)
    assert p.requests == 401
    assert p.cost == 4
    assert p.node_count == 100 + 100 * (50 + 10 + 1 + 1)
    assert p.field_errors == []


def test_named_fragments_and_aliases_cost_the_same_as_inline():
    inline, fragmented = prepare(FOUR_POINTS), prepare(FOUR_POINTS_WITH_FRAGMENTS, None, "Pulls")
    assert fragmented.errors == []
    # `prs` and `reviews` are each selected three ways; field merging makes each one connection
    assert (fragmented.requests, fragmented.cost, fragmented.node_count) == (401, 4, 6300)
    assert (inline.requests, inline.cost, inline.node_count) == (401, 4, 6300)


def test_github_docs_examples():
    # rate-limits-and-query-limits-for-the-graphql-api: 5,101 requests -> 51 points
    p = prepare("""query { viewer { login repositories(first: 100) { edges { node { id
        issues(first: 50) { edges { node { id labels(first: 60) { edges { node { id name } } } } } }
    } } } } }""")
    assert (p.requests, p.cost) == (5101, 51)
    simple = prepare("""query { viewer { repositories(first: 50) { edges { repository: node { name
        issues(first: 10) { totalCount edges { node { title bodyHTML } } } } } } } }""")
    assert simple.node_count == 550
    complex_ = prepare("""query { viewer {
      repositories(first: 50) { edges { repository: node { name
        pullRequests(first: 20) { edges { pullRequest: node { title
          comments(first: 10) { edges { comment: node { bodyHTML } } } } } }
        issues(first: 20) { totalCount edges { issue: node { title bodyHTML
          comments(first: 10) { edges { comment: node { bodyHTML } } } } } } } } }
      followers(first: 10) { edges { follower: node { login } } } } }""")
    assert complex_.node_count == 22060


def test_first_from_variables_drives_cost():
    q = """query($n: Int!, $m: Int!) { repository(owner: "o", name: "r") {
      pullRequests(first: $n) { nodes { reviews(first: $m) { totalCount } labels(first: $m) { totalCount } } } } }"""
    big, small = prepare(q, {"n": 100, "m": 10}), prepare(q, {"n": 50, "m": 10})
    assert (big.requests, big.cost, big.node_count) == (201, 2, 2100)
    assert (small.requests, small.cost, small.node_count) == (101, 1, 1050)
    over = prepare(q, {"n": 101, "m": 10})
    assert [e["message"] for e in over.field_errors] == [
        "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records."
    ]


def test_rate_limit_alone_costs_the_minimum_point_and_dry_run_is_flagged():
    p = prepare("{ rateLimit { cost remaining } }")
    assert (p.cost, p.node_count, p.dry_run) == (1, 0, False)
    assert prepare("query($d: Boolean) { rateLimit(dryRun: $d) { cost } }", {"d": True}).dry_run is True


def test_excessive_and_missing_pagination_fail_the_connection_like_github():
    root = {"repository": lambda info, owner, name, **_: {"name": name, "pullRequests": {"totalCount": 0}}}

    over = prepare('{ repository(owner: "o", name: "r") { pullRequests(first: 101) { totalCount } } }')
    assert over.errors == []  # GitHub raises these in the resolver, so the call runs
    assert execute(over, root) == {
        "data": {"repository": None},  # pullRequests is non-null: the null reaches repository
        "errors": [{
            "type": "EXCESSIVE_PAGINATION",
            "path": ["repository", "pullRequests"],
            "locations": [{"line": 1, "column": 39}],
            "message": "Requesting 101 records on the `pullRequests` connection exceeds the `first` limit of 100 records.",
        }],
    }

    missing = prepare('{ repository(owner: "o", name: "r") { name pullRequests { totalCount } } }')
    body = execute(missing, root)
    assert body["data"] == {"repository": None}
    assert body["errors"] == [{
        "type": "MISSING_PAGINATION_BOUNDARIES",
        "path": ["repository", "pullRequests"],
        "locations": [{"line": 1, "column": 44}],
        "message": "You must provide a `first` or `last` value to properly paginate the `pullRequests` connection.",
    }]


def test_nested_pagination_error_nulls_each_parents_connection():
    root = {"repository": lambda info, **_: {"pullRequests": {"nodes": [{"number": 1}, {"number": 2}]}}}
    p = prepare('{ repository(owner: "o", name: "r") { pullRequests(first: 2) { nodes { number reviews { totalCount } } } } }')
    body = execute(p, root)
    assert body["data"] == {"repository": {"pullRequests": {"nodes": [
        {"number": 1, "reviews": None}, {"number": 2, "reviews": None}]}}}
    assert [e["path"] for e in body["errors"]] == [
        ["repository", "pullRequests", "nodes", 0, "reviews"],
        ["repository", "pullRequests", "nodes", 1, "reviews"],
    ]
    assert {e["type"] for e in body["errors"]} == {"MISSING_PAGINATION_BOUNDARIES"}


def test_unknown_field_is_rejected_in_githubs_shape():
    p = prepare('query {\n  repository(owner: "o", name: "r") {\n    foo\n  }\n}')
    assert p.errors == [{
        "path": ["query", "repository", "foo"],
        "extensions": {"code": "undefinedField", "typeName": "Repository", "fieldName": "foo"},
        "locations": [{"line": 3, "column": 5}],
        "message": "Field 'foo' doesn't exist on type 'Repository'",
    }]
    assert execute(p, {}) == {"errors": p.errors}
    named = prepare("query Q { viewer { ...F } } fragment F on User { nope }")
    assert named.errors[0]["path"] == ["fragment F", "nope"]


def test_bad_variable_and_syntax_are_request_level_errors():
    p = prepare('query($n: Int) { repository(owner: "o", name: "r") { pullRequests(first: $n) { totalCount } } }', {"n": "x"})
    assert p.errors[0]["message"] == "Variable $n of type Int was provided invalid value"
    assert p.errors[0]["extensions"]["value"] == "x"
    syntax = prepare("{ repository(owner: \"o\", name: \"r\") { name ")
    assert syntax.errors == [{"message": "Expected NAME, actual: (none) (\"\") at [1, 44]",
                             "locations": [{"line": 1, "column": 44}]}]
    assert prepare("   ").errors == [{"message": "A query attribute must be specified and must be a string."}]


def test_node_limit_names_the_connection_that_crosses_it():
    p = prepare("""{ search(query: "is:pr", type: ISSUE, first: 100) { nodes { ... on PullRequest {
        commits(first: 100) { nodes { commit { authors(first: 100) { totalCount } } } } } } } }""")
    assert p.errors == [{
        "type": "MAX_NODE_LIMIT_EXCEEDED",
        "locations": [{"line": 2, "column": 48}],
        "message": "By the time this query traverses to the authors connection, it is requesting up to "
                   "1,000,000 possible nodes which exceeds the maximum limit of 500,000.",
    }]
    assert p.node_count == 100 + 10_000 + 1_000_000


def test_node_limit_over_the_whole_query():
    # no single connection passes 500,000 (50 x 100 x 100 is exactly the limit) but the sum does
    p = prepare("""{ repository(owner: "o", name: "r") { pullRequests(first: 50) { nodes {
        reviews(first: 100) { nodes { comments(first: 100) { totalCount } } } } } } }""")
    assert p.errors == [{
        "type": "MAX_NODE_LIMIT_EXCEEDED",
        "message": "This query requests up to 505,050 possible nodes which exceeds the maximum limit of 500,000.",
    }]


def test_execute_resolves_arguments_aliases_and_enums_from_plain_dicts():
    seen = []

    def pull_requests(info, first=None, after=None, states=None, **_):
        seen.append((first, after, states))
        return {
            "totalCount": 3,
            "pageInfo": {"hasNextPage": True, "endCursor": "Y3Vyc29yOjI="},
            "nodes": [{"number": 1, "title": "a", "state": "MERGED"}, {"number": 2, "title": "b", "state": "OPEN"}],
        }

    def repository(info, owner, name, **_):
        if name == "gone":
            raise GitHubError(f"Could not resolve to a Repository with the name '{owner}/{name}'.", "NOT_FOUND")
        return {"name": f"{owner}/{name}", "pullRequests": pull_requests}

    q = ('query{ repository(owner:"o", name:"r"){ name pullRequests(first:2){ totalCount '
         "pageInfo{hasNextPage endCursor} nodes{ number title state } } } }")
    assert execute(prepare(q), {"repository": repository}) == {"data": {"repository": {
        "name": "o/r",
        "pullRequests": {
            "totalCount": 3,
            "pageInfo": {"hasNextPage": True, "endCursor": "Y3Vyc29yOjI="},
            "nodes": [{"number": 1, "title": "a", "state": "MERGED"}, {"number": 2, "title": "b", "state": "OPEN"}],
        },
    }}}
    assert seen == [(2, None, None)]

    q2 = ('{ a: repository(owner:"o", name:"r") { n: name pullRequests(first: 1, states: [MERGED]) { totalCount } } '
          'b: repository(owner:"o", name:"gone") { name } }')
    body = execute(prepare(q2), {"repository": repository})
    assert body["data"] == {"a": {"n": "o/r", "pullRequests": {"totalCount": 3}}, "b": None}
    assert body["errors"] == [{"type": "NOT_FOUND", "path": ["b"], "locations": [{"line": 1, "column": q2.index("b:") + 1}],
                               "message": "Could not resolve to a Repository with the name 'o/gone'."}]
    assert seen[-1] == (1, None, ["MERGED"])


def test_custom_scalars_pass_strings_through():
    p = prepare('{ repository(owner:"o", name:"r") { createdAt url defaultBranchRef { target { oid } } } }')
    data = {"createdAt": "2024-05-01T12:00:00Z", "url": "https://github.com/o/r",
            "defaultBranchRef": {"target": {"__typename": "Commit", "oid": "a" * 40}}}
    assert execute(p, {"repository": lambda info, **_: data})["data"]["repository"] == data | {
        "defaultBranchRef": {"target": {"oid": "a" * 40}}}


def _pull_request_page():
    def pr(i):
        return {
            "number": i, "title": f"t{i}", "state": "MERGED", "createdAt": "2024-01-01T00:00:00Z",
            "author": {"__typename": "User", "login": "dev"},
            "reviews": {"nodes": [{"state": "APPROVED", "submittedAt": "2024-01-01T01:00:00Z",
                                   "author": {"__typename": "User", "login": "rev"}}] * 3},
            "labels": {"nodes": [{"name": "bug"}, {"name": "team-a"}]},
            "commits": {"nodes": [{"commit": {"oid": "a" * 40, "committedDate": "2024-01-01T00:00:00Z"}}]},
        }

    page = {"totalCount": 1000, "pageInfo": {"hasNextPage": True, "endCursor": "c"}, "nodes": [pr(i) for i in range(100)]}
    return {"repository": lambda info, **_: {"pullRequests": lambda info, **_: page}}


@pytest.mark.benchmark
def test_serves_at_least_40_pages_of_100_prs_per_second():
    q = """query($after: String) { repository(owner: "o", name: "r") {
      pullRequests(first: 100, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        nodes { number title state createdAt author { login }
          reviews(first: 50) { nodes { state submittedAt author { login } } }
          labels(first: 10) { nodes { name } }
          first: commits(first: 1) { nodes { commit { oid committedDate } } }
          last: commits(last: 1) { nodes { commit { oid committedDate } } } } } } }"""
    root = _pull_request_page()
    assert "errors" not in execute(prepare(q, {"after": None}), root)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(20):
            execute(prepare(q, {"after": "c"}), root)
        best = min(best, (time.perf_counter() - start) / 20)
    assert 1 / best >= 40, f"{1 / best:.0f} pages/s"


def test_every_connector_query_validates_and_costs_what_the_connector_assumes():
    """Each document ingestion/github_queries.py sends is valid on GitHub's schema, and the
    connector's cost formula (page sizes, batches) agrees with the simulator's pricing."""
    from graphql import parse, validate

    from ingestion import github_queries as q
    docs = [getattr(q, n) for n in dir(q) if n.endswith("_QUERY")]
    docs += [q.history_batch_query([("o", "r", "2024-01-01T00:00:00Z")] * 3, 20),
             q.pushed_repos_batch_query(["a", "b"]), q.owner_types_query(["a", "b"])]
    assert len(docs) > 10
    for text in docs:
        assert validate(get_schema(), parse(text)) == [], text
    page = q.cheapest_page(100)
    assert page == q.cheapest_page(50) == 49
    for first in (1, 20, 37, 49, 50, 66, 100):
        for query, v in ((q.PRS_QUERY, {"owner": "o", "name": "r", "first": first}),
                         (q.SEARCH_PRS_QUERY, {"q": "org:o is:pr", "first": first})):
            assert prepare(query, v).cost == q.page_cost(first, q.PR_NESTED_CONNECTIONS), (first, query[:30])
    n = q.batch_size(20, q.HISTORY_NESTED_CONNECTIONS)
    assert n == 7
    assert prepare(q.history_batch_query([("o", "r", "2024-01-01T00:00:00Z")] * n, 20)).cost == 1
    assert prepare(q.history_batch_query([("o", "r", "2024-01-01T00:00:00Z")] * (n + 1), 20)).cost == 2
    assert prepare(q.pushed_repos_batch_query([f"o{i}" for i in range(100)])).cost == 1
