"""GitHub's GraphQL `search(query:, type: ISSUE)` over the simulated pull requests, with the
search syntax the GitHub docs give ("Searching issues and pull requests", "Understanding
the search syntax", "Sorting search results"):

- scope: `org:LOGIN`, `user:LOGIN`, `repo:OWNER/NAME` (several are alternatives: a result
  matches any of them);
- `is:pr` / `type:pr`, `is:issue` / `type:issue` (the simulated organisation keeps its
  issues in Jira: an issue search finds nothing), `is:open`, `is:closed`, `is:merged`,
  `state:open|closed`, `archived:true|false`;
- `updated:` and `created:` with `>`, `>=`, `<`, `<=`, `A..B`, `A..*`, `*..B` or a single
  value; each value a date (`2026-12-07`, the whole UTC day) or a time to the second
  (`2026-12-07T10:00:00Z`, `...+00:00`, or another offset);
- `sort:updated-asc|updated-desc|created-asc|created-desc` (`sort:updated` is descending);
  without one, newest first (GitHub's "best match" has no meaning without search terms).

As on GitHub: a query longer than 256 characters is refused, and so is one whose `org:`,
`user:` or `repo:` names nothing the token can see ("The listed users and repositories
cannot be searched..."); at most 1,000 results are
served (`issueCount` still says how many matched, `hasNextPage` turns false at the
1,000th); cursors are offsets (`cursor:N`, base64), so a result that stops matching while
a client pages shifts the later ones. Free-text terms are not implemented: the simulator
refuses them rather than answer something GitHub would not.
"""
from __future__ import annotations

import base64
import datetime as dt
import re

import numpy as np

from simulator import views
from simulator.github_common import repos_now
from simulator.github_graphql_schema import GitHubError

SEARCH_CAP = 1000
MAX_QUERY_CHARS = 256
_SORTS = {"updated": ("updated_at", True), "updated-desc": ("updated_at", True), "updated-asc": ("updated_at", False),
          "created": ("created_at", True), "created-desc": ("created_at", True), "created-asc": ("created_at", False)}


def _when(text: str, upper: bool) -> int:
    """A date or time qualifier value as epoch seconds: a date is its UTC day's first second
    (or, for an upper bound, the next day's first second, exclusive)."""
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        d = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        return int((d + dt.timedelta(days=1 if upper else 0)).timestamp())
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    t = t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp()) + (1 if upper else 0)


def _range(value: str, field: str) -> tuple[int | None, int | None]:
    """[lo, hi) in epoch seconds for a date qualifier."""
    try:
        for op in (">=", "<=", ">", "<"):
            if value.startswith(op):
                v = value[len(op):]
                return {">=": (_when(v, False), None), ">": (_when(v, True), None),
                        "<=": (None, _when(v, True)), "<": (None, _when(v, False))}[op]
        if ".." in value:
            a, b = value.split("..", 1)
            return (None if a == "*" else _when(a, False)), (None if b == "*" else _when(b, True))
        return _when(value, False), _when(value, True)
    except ValueError:
        raise GitHubError(f"Invalid {field} qualifier value: {value!r}.", None) from None


def parse(query: str) -> dict:
    if len(query) > MAX_QUERY_CHARS:
        raise GitHubError(f"The search is longer than {MAX_QUERY_CHARS} characters.", None)
    out = {"scope": [], "kind": None, "state": None, "merged": None, "archived": None, "updated": [], "created": [],
           "sort": None}
    for tok in query.split():
        key, sep, val = tok.partition(":")
        key = key.lower()
        if not sep or not val:
            raise GitHubError(f"The simulator does not search free text ({tok!r}); use qualifiers.", None)
        low = val.lower()
        if key in ("org", "user", "repo"):
            out["scope"].append((key, low))
        elif key in ("is", "type") and low in ("pr", "pull-request", "issue"):
            out["kind"] = "issue" if low == "issue" else "pr"
        elif key == "is" and low in ("open", "closed"):
            out["state"] = low
        elif key == "is" and low in ("merged", "unmerged"):
            out["merged"] = low == "merged"
        elif key == "state" and low in ("open", "closed"):
            out["state"] = low
        elif key == "archived" and low in ("true", "false"):
            out["archived"] = low == "true"
        elif key in ("updated", "created"):
            out[key].append(_range(val, key))
        elif key == "sort" and low in _SORTS:
            out["sort"] = _SORTS[low]
        else:
            raise GitHubError(f"The simulator does not support the search qualifier {tok!r}.", None)
    return out


def _frame(w):
    """The pull requests as of the clock with their repository's full name and owner
    (lower case), built once per clock position."""
    def build():
        prs = views.pull_requests(w)
        rp = repos_now(w)
        full = dict(zip(rp.repo_id.tolist(), rp.full_name.str.lower().tolist()))
        org = dict(zip(rp.repo_id.tolist(), rp.github_org.str.lower().tolist()))
        repo = prs.repo_id.to_numpy()
        keep = np.isin(repo, rp.repo_id.to_numpy())
        prs = prs[keep]
        return {"ix": prs.index.to_numpy(), "repo_id": prs.repo_id.to_numpy(),
                "full": np.array([full[r] for r in prs.repo_id.tolist()], dtype=object),
                "org": np.array([org[r] for r in prs.repo_id.tolist()], dtype=object),
                "updated_at": prs.updated_at.to_numpy(), "created_at": prs.created_at.to_numpy(),
                "state": prs.state.to_numpy(), "pr_id": prs.pr_id.to_numpy()}
    return w.cached("gql.search_frame", build)


def _check_scope(w, scope: list[tuple[str, str]]) -> None:
    from simulator.github_common import accounts, is_bot
    rp = repos_now(w)
    repos = set(rp.full_name.str.lower())
    orgs = set(rp.github_org.str.lower()) | {o.lower() for o in w["organisations"].github_org}
    users = {u.lower() for u in accounts(w) if not is_bot(u)}
    for kind, val in scope:
        if (kind == "repo" and val not in repos) or (kind == "org" and val not in orgs) or \
                (kind == "user" and val not in users | orgs):
            raise GitHubError("The listed users and repositories cannot be searched either because the resources do "
                              "not exist or you do not have permission to view them.", "INVALID")


def _cursor(n: int) -> str:
    return base64.b64encode(f"cursor:{n}".encode()).decode()


def _offset(text, arg: str) -> int:
    try:
        raw = base64.b64decode(str(text), validate=True).decode()
        if not raw.startswith("cursor:"):
            raise ValueError(raw)
        return int(raw[len("cursor:"):])
    except (ValueError, UnicodeDecodeError):
        raise GitHubError(f"`{arg}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS") from None


def search(ctx, info=None, query="", type=None, first=None, after=None, last=None, before=None, **_):  # noqa: A002
    counts = {"issueCount": 0, "codeCount": 0, "discussionCount": 0, "repositoryCount": 0, "userCount": 0,
              "wikiCount": 0}
    q = parse(query or "")
    picked = np.array([], dtype=np.int64)
    f = None
    _check_scope(ctx.w, q["scope"])
    if type == "ISSUE" and q["kind"] != "issue":
        f = _frame(ctx.w)
        keep = np.ones(len(f["ix"]), dtype=bool)
        if q["scope"]:
            scope = np.zeros(len(keep), dtype=bool)
            for kind, val in q["scope"]:
                scope |= (f["full"] == val) if kind == "repo" else (f["org"] == val)
            keep &= scope
        if q["state"] == "open":
            keep &= f["state"] == "OPEN"
        elif q["state"] == "closed":
            keep &= f["state"] != "OPEN"
        if q["merged"] is not None:
            keep &= (f["state"] == "MERGED") == q["merged"]
        if q["archived"]:  # no simulated repository is archived
            keep[:] = False
        for col in ("updated", "created"):
            for lo, hi in q[col]:
                if lo is not None:
                    keep &= f[col + "_at"] >= lo
                if hi is not None:
                    keep &= f[col + "_at"] < hi
        col, desc = q["sort"] or ("created_at", True)
        picked = np.flatnonzero(keep)
        order = np.lexsort((f["pr_id"][picked], f[col][picked]))
        picked = picked[order[::-1] if desc else order]
        counts["issueCount"] = len(picked)
    served = picked[:SEARCH_CAP]
    n = len(served)
    lo = _offset(after, "after") if after is not None else 0
    hi = _offset(before, "before") - 1 if before is not None else n
    lo, hi = max(0, min(lo, n)), max(0, min(hi, n))
    hi = max(lo, hi)
    if first is not None:
        hi = min(hi, lo + max(first, 0))
    if last is not None:
        lo = max(lo, hi - max(last, 0))

    def node(k):
        i = served[k]
        g = ctx.graph(int(f["repo_id"][i]))
        return g.pr_node(g.pr_pos[int(f["ix"][i])])
    nodes = [node(k) for k in range(lo, hi)]
    return {**counts, "nodes": nodes,
            "edges": lambda info=None, **_: [{"cursor": _cursor(k + 1), "node": v}
                                             for k, v in zip(range(lo, hi), nodes)],
            "pageInfo": {"hasNextPage": hi < n, "hasPreviousPage": lo > 0,
                         "startCursor": _cursor(lo + 1) if hi > lo else None,
                         "endCursor": _cursor(hi) if hi > lo else None}}
