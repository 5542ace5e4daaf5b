"""What changed on GitHub since the last run: the organisation-wide searches for changed pull
requests and the listings of repositories by push, with the watermarks they keep.

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
  first, down to PUSHED_LAG before the newest push the previous run saw (the oldest such
  watermark of the resources that read the listing); only covered
  repositories whose default-branch head is not the one read last are read, their first
  HISTORY_BATCH_FIRST (github.py) commits seven repositories a 1-point query, then on per
  repository;
- a repository whose incremental read fails is no longer covered and is read per repository
  next run, from its own cursor; a search that fails (GitHub Enterprise Server without a
  search index, say) makes this run read its repositories one by one.
So an hourly run with nothing changed costs 2 points whatever the number of repositories
(one search, one listing of repositories by push; a few more for many owners), and one with
activity about 1 point per 49 changed pull requests plus a point per 7 repositories whose
default branch moved. The REST listings (deployments, releases, workflow runs) cost no
points; they ask only the repositories where something can have changed, read from the same
listing by push (github_listings.py). Deployment statuses are asked only for deployments
that changed.

State, per owner (lower case): the pull_requests resource's `search` {owner: {"since": the
newest update a search saw, "repos": the covered repositories, "owner_type": "org"|"user"}},
the commits resource's `pushed` {owner: {"since": the newest push seen, "repos": ...}}. The
resources in github.py keep these in dlt resource state and read the repositories these
functions leave uncovered one by one.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable, Iterator

from ingestion.github_api import INTEGRATION, graphql
from ingestion.github_queries import (PUSHED_REPOS_QUERY, SEARCH_NEWEST_QUERY, SEARCH_PRS_QUERY, owner_types_query,
                                      pushed_repos_batch_query)
from ingestion.github_rows import _iso, _ts, split_repo
from ingestion.github_state import RepoCursors
from ingestion.http import Api, ApiError, AuthError, HttpStats, NotFound


SEARCH_LAG = 600             # seconds a search reaches back before the newest update seen (index delay)
SEARCH_MAX_CHARS = 256       # GitHub refuses longer search queries
SEARCH_FIXED_CHARS = len(" is:pr archived:false updated:>=2026-01-01T00:00:00+00:00 sort:updated-asc")
PUSHED_LAG = 600             # seconds a repository listing reaches back before the newest push seen

# the rows of a repository's pull-request nodes (timelines and follow-ups read): github.py's
PrRows = Callable[[str, list[dict]], list[dict]]


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


# --------------------------------------------------------------------------- pull requests: search
def search_batches(api: Api, gql_url: str, stats: HttpStats, groups: dict, searches: dict, covered: dict,
                   retry: set) -> list[tuple[str, list[str], str]]:
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


def search_batch(api: Api, gql_url: str, stats: HttpStats, batch: tuple, groups: dict, searches: dict,
                 covered: dict, cursors: RepoCursors, retry: set, start: dt.datetime, page: int,
                 pr_rows: PrRows) -> Iterator[list[dict]]:
    """One query of `search_batches`: a probe sets its owners' watermark (the newest update,
    or the start date); a search yields the changed pull requests' rows. A failed search puts
    its repositories in `retry`: this run reads them one by one."""
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
        yield from search_changed(api, gql_url, stats, label, qual, [searches[o] for o in owners], mine, cursors,
                                  page, pr_rows)
    except AuthError:
        raise
    except ApiError as e:  # e.g. search unavailable: this run reads those repositories one by one
        stats.say(f"  github.pull_requests search of {label} failed, reading per repository: {e}")
        retry.update(mine)


def search_changed(api: Api, gql_url: str, stats: HttpStats, login: str, qual: str, states: list[dict],
                   mine: dict[str, str], cursors: RepoCursors, page: int, pr_rows: PrRows) -> Iterator[list[dict]]:
    """The changed pull requests of the covered repositories, by GitHub search: `updated:>=`
    the newest update the previous searches saw (less SEARCH_LAG, for the search index's
    delay), oldest first. Each page is a new search from the last update read (keyset
    paging), so no search goes near GitHub's 1,000-result cap and a pull request updated
    meanwhile cannot shift another out of the pages."""
    lo = min(_epoch(st["since"]) for st in states) - SEARCH_LAG
    done: set[str] = set()
    touched: set[str] = set()
    after, n_rows, n_pages, served = None, 0, 0, 0
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
                rows = pr_rows(repo, fresh)
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


# --------------------------------------------------------------------------- history: repositories by push
def pushed_first_pages(api: Api, gql_url: str, stats: HttpStats, groups: dict) -> dict[str, dict | None]:
    """The first page of every owner's repositories by push, 100 owners a query (1 point):
    {owner: its `repositoryOwner`, None if not found}; an owner missing (the query failed)
    asks on its own in `pushed_repos`."""
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
    return firsts


def pushed_listing(api: Api, gql_url: str, group: dict, floor: str | None,
                   first: dict | None | bool = False) -> dict:
    """The owner's repositories by `pushedAt` (any branch), newest first, 100 a page (1
    point), down to `floor` (None: the first page only, which sets the watermarks the first
    time): {"pushed": {repo (lower case): {"pushedAt", "defaultBranchRef"}} of the sources
    file's repositories listed, "newest": the newest push listed (of any repository) or None}.
    One listing a run serves the history (github.py's commits) and the REST listings
    (github_listings.py). `first`: the first page when `pushed_first_pages` read it (False:
    ask for it)."""
    mine = {r.lower() for r in group["repos"]}
    out: dict[str, dict] = {}
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
            if n["nameWithOwner"].lower() in mine:
                out[n["nameWithOwner"].lower()] = n
        if stop or not floor or not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    return {"pushed": out, "newest": newest}


def push_floor(since: str | None) -> str | None:
    """Where a listing by push stops for a watermark (the newest push seen last time)."""
    return _iso(dt.datetime.fromtimestamp(_epoch(since) - PUSHED_LAG, dt.timezone.utc)) if since else None


def moved_heads(listing: dict, group: dict, st: dict, covered: set, heads: dict, start: dt.datetime) -> list[str]:
    """The commits resource's reading of a `pushed_listing`: the covered repositories whose
    default-branch head is not the one read last (their new history is read); the owner's
    watermark `st["since"]` moves to the newest push listed. With no watermark yet, every
    repository is read in full (`covered` is emptied)."""
    mine = {r.lower(): r for r in group["repos"]}
    since = st.get("since")
    if not since:
        covered.clear()
    moved = []
    for r, n in listing["pushed"].items():
        if r in covered:
            ref = n.get("defaultBranchRef") or {}
            oid = (ref.get("target") or {}).get("oid")
            head = heads.get(r) or {}
            if oid != head.get("oid") or (oid and ref.get("name") != head.get("branch")):
                moved.append(mine[r])
    newest = listing["newest"]
    if newest:
        st["since"] = max(since or newest, newest)
    elif not since:
        st["since"] = _iso(start)
    return moved
