"""The graph a GraphQL query walks: the root (viewer, organisations, nodes by id) and each
repository's pull requests, reviews, history, deployments and releases as plain dict nodes
whose connections are callables paging by cursor. A repository's records are cut into
lists once per clock position, and nodes are made only for the records a query reaches.
"""
from __future__ import annotations

import base64
from functools import partial

import numpy as np

from simulator import views
from simulator.github_common import (STATUS_DESCRIPTIONS, VIEWER_LOGIN, VIEWER_NAME, WEB_FLOW_LOGIN, accounts,
                                    deployment_ref, deployment_statuses, find_repo, find_repo_by_id, is_bot, isos,
                                    node_id, org_exists, org_ids, repo_deployments, repo_main_commits, repo_releases,
                                    repos_now)
from simulator.github_graphql_cursors import EMPTY, Listing, _ts, _unpack
from simulator.github_graphql_schema import GitHubError
from simulator.world import World, iso


LABEL_COLORS = {"security": "d73a4a", "tech-debt": "fbca04", "customer": "0e8a16", "performance": "5319e7",
                "infra": "1d76db", "ux": "c5def5", "compliance": "b60205", "feature": "a2eeef",
                "dependencies": "0366d6", "hotfix": "e11d21"}
TIMELINE_TYPES = {"READY_FOR_REVIEW_EVENT": "ReadyForReviewEvent", "MERGED_EVENT": "MergedEvent",
                  "CLOSED_EVENT": "ClosedEvent", "PULL_REQUEST_REVIEW": "PullRequestReview"}


# --------------------------------------------------------------------------- the graph
class Lazy:
    """A sequence whose elements are made when read: a crawler that reads one page of a
    repository's pull requests builds those hundred nodes, not the repository's history."""
    __slots__ = ("make", "idx")

    def __init__(self, make, idx):
        self.make, self.idx = make, idx

    def __len__(self) -> int:
        return len(self.idx)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self.make(j) for j in self.idx[i]]
        return self.make(self.idx[i])

    def __iter__(self):
        return (self.make(j) for j in self.idx)


class _Id:
    """A node id worked out only if a query asks for it."""
    __slots__ = ("parts",)

    def __init__(self, *parts):
        self.parts = parts

    def __call__(self, info=None, **_):
        return node_id(*self.parts)


class Ctx:
    """One request's view: the world at its clock and the URL root nodes link to.
    Everything heavy is cached in the world per clock position and root."""

    def __init__(self, w: World, web: str):
        self.w, self.web = w, web
        self.actors = self.cached("gql.actors", dict)

    def cached(self, key, build):
        return self.w.cached((key, self.web), build)

    # ---- root
    def root(self, rate: dict) -> dict:
        from simulator.github_graphql_search import search
        return {"repository": self.repository, "organization": self.organization, "user": self.user,
                "repositoryOwner": self.repository_owner, "search": partial(search, self),
                "viewer": self.viewer(), "rateLimit": lambda info, **_: rate,
                "node": lambda info, id, **_: self.node(id),  # noqa: A002 - GitHub's argument name
                "nodes": lambda info, ids, **_: [self.node(i, error=True) for i in ids]}

    def repository(self, info, owner, name, **_):
        rp = find_repo(self.w, owner, name)
        if rp is None:
            raise GitHubError(f"Could not resolve to a Repository with the name '{owner}/{name}'.", "NOT_FOUND")
        return self.graph(rp.repo_id).node

    def organization(self, info, login, **_):
        org = org_exists(self.w, login)
        if org is None:
            raise GitHubError(f"Could not resolve to an Organization with the login of '{login}'.", "NOT_FOUND")
        return self.org_node(org)

    def repository_owner(self, info, login, **_):
        """An organisation or a user by login (null if neither, as GitHub answers); the
        simulated users own no repositories."""
        org = org_exists(self.w, login)
        if org is not None:
            return self.org_node(org)
        if login not in accounts(self.w) or is_bot(login):
            return None
        return {**self.actor(login), "repositories": lambda info=None, **args: EMPTY.page(**args)}

    def user(self, info, login, **_):
        if login not in accounts(self.w) or is_bot(login):
            raise GitHubError(f"Could not resolve to a User with the login of '{login}'.", "NOT_FOUND")
        return self.actor(login)

    def viewer(self) -> dict:
        v = dict(self.actor(VIEWER_LOGIN))
        v.update(name=VIEWER_NAME, company="Acme", createdAt=iso(self.w.start - 400 * 86400))
        return v

    def rows(self, name: str, view, order: list[str], repo_id: int):
        """One repository's rows of a view, sorted by `order`; the view is sorted by
        repository once per clock position rather than scanned once per repository."""
        def build():
            frame = view(self.w)
            repo = frame.repo_id.to_numpy() if "repo_id" in frame else \
                self.w["prs"].repo_id.to_numpy()[frame.pr_ix.to_numpy()]
            frame = frame.assign(_repo=repo).sort_values(["_repo", *order], kind="stable")
            r = frame._repo.to_numpy()
            starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]]) if len(r) else np.array([], dtype=np.int64)
            ends = np.r_[starts[1:], len(r)] if len(r) else starts
            return frame, {int(r[a]): (int(a), int(b)) for a, b in zip(starts, ends)}
        frame, bounds = self.w.cached(("gql.rows", name), build)
        a, b = bounds.get(repo_id, (0, 0))
        return frame.iloc[a:b]

    def graph(self, repo_id: int) -> "RepoGraph":
        return self.cached(("gql.repo", int(repo_id)), partial(RepoGraph, self, int(repo_id)))

    # ---- global ids
    def node(self, global_id: str, error: bool = False):
        """A node by its global id; null (or, inside `nodes`, a NOT_FOUND entry) if unknown."""
        try:
            found = self._node(*_decode_node_id(global_id))
        except (ValueError, KeyError, IndexError, TypeError):
            found = None
        if found is None:
            e = GitHubError(f"Could not resolve to a node with the global id of '{global_id}'", "NOT_FOUND")
            if error:
                return e
            raise e
        return found

    def _node(self, prefix: str, parts: tuple):
        w = self.w
        if prefix == "O":
            org = {v: k for k, v in org_ids(w).items()}.get(parts[0])
            return self.org_node(org) if org else None
        if prefix in ("U", "BOT"):
            login = {v[0]: k for k, v in accounts(w).items()}.get(parts[0])
            return self.actor(login) if login and is_bot(login) == (prefix == "BOT") else None
        if prefix in ("R", "C"):
            if find_repo_by_id(w, parts[0]) is None:
                return None
            g = self.graph(parts[0])
            return g.node if prefix == "R" else g.commit(parts[1])
        repo_id, record = self.cached("gql.node_ids", self._node_ids)[prefix][parts[0]]
        g = self.graph(repo_id)
        if prefix == "PR":
            j = g.pr_pos.get(record)
            return g.pr_node(j) if j is not None else None
        if prefix == "PRR":
            return next((r for r in g.reviews_of(record) if r["databaseId"] == parts[0]), None)
        if prefix == "DE":
            return next((d for d in g.deployment_listing(None, False).items if d["databaseId"] == parts[0]), None)
        if prefix == "RE":
            return next((r for r in g.release_nodes() if r["databaseId"] == parts[0]), None)
        return None

    def _node_ids(self) -> dict:
        w = self.w
        prs, rv, d, rl = w["prs"], w["reviews"], w["deployments"], w["releases"]
        repo_of = prs.repo_id.to_numpy()
        return {"PR": {p: (r, i) for i, (p, r) in enumerate(zip(prs.pr_id.tolist(), repo_of.tolist()))},
                "PRR": {r: (int(repo_of[ix]), ix) for r, ix in zip(rv.review_id.tolist(), rv.pr_ix.tolist())},
                "DE": {i: (r, i) for i, r in zip(d.gh_deployment_id.tolist(), d.repo_id.tolist())},
                "RE": {i: (r, i) for i, r in zip(rl.release_id.tolist(), rl.repo_id.tolist())}}

    # ---- actors
    def actor(self, login: str | None) -> dict | None:
        if login is None:
            return None
        a = self.actors.get(login)
        if a is None:
            a = self.actors[login] = self._make_actor(login)
        return a

    def _make_actor(self, login: str) -> dict:
        uid, name, email = accounts(self.w).get(login, (0, login, None))
        if is_bot(login):
            short = login[:-5]  # GraphQL names a Bot without REST's "[bot]" suffix
            return {"__typename": "Bot", "login": short, "id": node_id("BOT", uid), "databaseId": uid,
                    "url": f"{self.web}/apps/{short}", "resourcePath": f"/apps/{short}",
                    "avatarUrl": f"https://avatars.githubusercontent.com/in/{uid}?v=4", "createdAt": iso(self.w.start)}
        return {"__typename": "User", "login": login, "id": node_id("U", uid), "databaseId": uid, "name": name,
                "email": "", "url": f"{self.web}/{login}", "resourcePath": f"/{login}",
                "avatarUrl": f"https://avatars.githubusercontent.com/u/{uid}?v=4", "createdAt": iso(self.w.start),
                "company": None}

    def git_actor(self, login: str, date: str) -> dict:
        _, name, email = accounts(self.w).get(login, (0, login, None))
        user = None if is_bot(login) else self.actor(login)
        return {"name": name, "email": email, "date": date, "user": user,
                "avatarUrl": user["avatarUrl"] if user else "https://avatars.githubusercontent.com/u/0?v=4"}

    # ---- organizations
    def org_node(self, login: str) -> dict:
        def build():
            oid = org_ids(self.w)[login]
            return {"__typename": "Organization", "login": login, "id": node_id("O", oid), "databaseId": oid,
                    "name": login.removeprefix("acme-").title(), "url": f"{self.web}/{login}",
                    "resourcePath": f"/{login}", "repositories": partial(self.org_repositories, login),
                    "repository": lambda info, name, **_: self._org_repo(login, name)}
        return self.cached(("gql.org", login), build)

    def _org_repo(self, login: str, name: str):
        rp = find_repo(self.w, login, name)
        return self.graph(rp.repo_id).node if rp is not None else None

    def org_repositories(self, login, info=None, orderBy=None, isArchived=None, isFork=None, **args):
        if isArchived or isFork:
            return EMPTY.page(**args)
        field = (orderBy or {}).get("field", "CREATED_AT")
        desc = (orderBy or {}).get("direction", "ASC") == "DESC"

        def build():
            rp = repos_now(self.w)
            rp = rp[rp.github_org == login]
            col = {"NAME": "name", "UPDATED_AT": "pushed_at", "PUSHED_AT": "pushed_at",
                   "STARGAZERS": "stars"}.get(field, "created_at")
            rp = rp.assign(stars=0).sort_values([col, "repo_id"], ascending=not desc, kind="stable")
            keys = list(zip(rp[col].tolist(), rp.repo_id.tolist()))
            return Listing(Lazy(lambda i: self.graph(i).node, rp.repo_id.tolist()), keys, desc)
        return self.cached(("gql.org_repos", login, field, desc), build).page(**args)


class RepoGraph:
    """One repository as of the clock: its records cut into plain lists once per clock
    position; nodes (dicts whose connections are callables) are made when a query
    reaches them and dropped with the response. Keeping them would save little (the page
    cache already answers repeated queries) and would grow the heap the cyclic garbage
    collector walks: that cost more than building them."""

    def __init__(self, ctx: Ctx, repo_id: int):
        w = ctx.w
        self.ctx, self.w, self.web, self.repo_id = ctx, w, ctx.web, repo_id
        rp = repos_now(w).set_index("repo_id").loc[repo_id]
        self.rp, self.full, self.branch = rp, rp.full_name, rp.default_branch
        self._cut_main()
        self._cut_prs()
        self._cut_reviews()
        self._cut_pr_commits()
        prs = w["prs"]
        self.sizes = (prs.additions.to_numpy(), prs.deletions.to_numpy(), prs.changed_files.to_numpy())
        self.node = self._repo_node()

    # ---- cutting the world's frames into per-repository lists
    def _cut_main(self) -> None:
        mc = repo_main_commits(self.w, self.repo_id)  # newest first
        self.mc = {c: mc[c].tolist() for c in ("sha", "parent_sha", "second_parent_sha", "message", "author_login",
                                                "authored_at", "seq", "pr_ix")}
        self.mc["date"] = isos(mc.authored_at)
        self.main_pos = {sha: k for k, sha in enumerate(self.mc["sha"])}
        self.main_keys = list(zip(self.mc["authored_at"], self.mc["seq"]))

    def _cut_prs(self) -> None:
        sub = self.ctx.rows("prs", views.pull_requests, ["created_at", "pr_id"], self.repo_id)
        self.pr = {c: sub[c].to_numpy() for c in ("pr_id", "created_at", "updated_at", "state", "labels", "head_ref")}
        self.pr_list = {c: sub[c].tolist() for c in (
            "pr_id", "number", "title", "body", "state", "is_draft", "ready_at_now", "merged_at_now", "closed_at_now",
            "additions", "deletions", "changed_files", "head_ref", "author_login", "merge_commit_sha", "labels",
            "created_at", "updated_at")}
        self.pr_list["ix"] = sub.index.tolist()
        for c in ("created_at", "updated_at", "merged_at_now", "closed_at_now"):
            self.pr_list[c + "_iso"] = isos(sub[c])
        self.pr_pos = {ix: j for j, ix in enumerate(self.pr_list["ix"])}
        self.pr_by_number = {n: j for j, n in enumerate(self.pr_list["number"])}
        # the default branch's head when each PR was opened (its base)
        ts = np.asarray(self.mc["authored_at"][::-1], dtype=np.int64)
        self.pr_base = (len(ts) - np.searchsorted(ts, sub.created_at.to_numpy(), side="right")).tolist()

    def _group(self, frame, cols: list[str]) -> tuple[dict, dict]:
        """This repository's rows (sorted by pr_ix first) as column lists, and
        pr_ix -> (start, end) bounds."""
        data = {c: frame[c].tolist() for c in cols}
        ix = frame.pr_ix.to_numpy()
        starts = np.flatnonzero(np.r_[True, ix[1:] != ix[:-1]]) if len(ix) else np.array([], dtype=np.int64)
        ends = np.r_[starts[1:], len(ix)] if len(ix) else starts
        return data, {int(ix[a]): (int(a), int(b)) for a, b in zip(starts, ends)}

    def _cut_reviews(self) -> None:
        rv = self.ctx.rows("reviews", views.reviews, ["pr_ix", "submitted_at", "review_id"], self.repo_id)
        self.rv, self.rv_bounds = self._group(rv, ["review_id", "reviewer_login", "state", "submitted_at", "comments"])
        self.rv["date"] = isos(self.rv["submitted_at"])

    def _cut_pr_commits(self) -> None:
        pc = self.ctx.rows("pr_commits", views.pr_commits, ["pr_ix", "seq"], self.repo_id)
        self.pc, self.pc_bounds = self._group(pc, ["sha", "message", "authored_at", "pr_ix"])
        self.pc["date"] = isos(self.pc["authored_at"])
        self.pc_pos = {sha: k for k, sha in enumerate(self.pc["sha"])}

    # ---- the repository
    def _repo_node(self) -> dict:
        rp, full, rid = self.rp, self.full, self.repo_id
        return {"__typename": "Repository", "id": node_id("R", rid), "databaseId": rid, "name": rp["name"],
                "nameWithOwner": full, "owner": self.ctx.org_node(rp.github_org), "isArchived": False,
                "isPrivate": True, "isFork": False, "isDisabled": False, "isEmpty": False, "isLocked": False,
                "isTemplate": False, "isMirror": False, "archivedAt": None, "createdAt": iso(rp.created_at),
                "updatedAt": iso(rp.pushed_at), "pushedAt": iso(rp.pushed_at), "url": f"{self.web}/{full}",
                "resourcePath": f"/{full}", "sshUrl": f"git@{self.web.split('://', 1)[1]}:{full}.git",
                "description": f"{rp['name']} service" if rp.service_id else "Shared libraries",
                "visibility": "PRIVATE", "viewerPermission": "READ", "diskUsage": 2048 + rid * 97,
                "stargazerCount": 0, "forkCount": 0,
                "defaultBranchRef": lambda info, **_: self.default_ref(),
                "pullRequests": self.pull_requests, "pullRequest": self.pull_request,
                "deployments": self.deployments, "releases": self.releases,
                "latestRelease": lambda info, **_: (self.release_nodes() or [None])[-1],
                "ref": self.ref, "object": self.object}

    def default_ref(self) -> dict:
        return {"__typename": "Ref", "id": node_id("REF", self.repo_id, f"refs/heads/{self.branch}"),
                "name": self.branch, "prefix": "refs/heads/",
                "target": self.main_node(0) if self.mc["sha"] else None}

    def ref(self, info, qualifiedName, **_):
        return self.default_ref() if qualifiedName in (self.branch, f"refs/heads/{self.branch}") else None

    def object(self, info, oid=None, expression=None, **_):
        if expression in (self.branch, f"refs/heads/{self.branch}", "HEAD"):
            return self.default_ref()["target"]
        return self.commit(oid or expression) if (oid or expression) else None

    # ---- commits
    def commit(self, sha: str | None) -> dict | None:
        if sha in self.main_pos:
            return self.main_node(self.main_pos[sha])
        k = self.pc_pos.get(sha)
        if k is None:
            return None
        return self.pr_commit(k)["commit"]

    def _commit_stub(self, sha: str) -> dict:
        return self.commit(sha) or {"__typename": "Commit", "oid": sha, "abbreviatedOid": sha[:7]}

    def main_node(self, k: int) -> dict:
        return self._make_main(k)

    def _make_main(self, k: int) -> dict:
        c, full = self.mc, self.full
        sha, msg, login, date, pr_ix = c["sha"][k], c["message"][k], c["author_login"][k], c["date"][k], c["pr_ix"][k]
        via_web = pr_ix >= 0
        head, _, rest = msg.partition("\n")
        adds, dels, files = self.sizes
        return {"__typename": "Commit", "id": _Id("C", self.repo_id, sha), "oid": sha, "abbreviatedOid": sha[:7],
                "message": msg, "messageHeadline": head, "messageBody": rest.lstrip("\n"),
                "committedDate": date, "authoredDate": date, "pushedDate": date,
                "author": self.ctx.git_actor(login, date),
                "committer": self.ctx.git_actor(WEB_FLOW_LOGIN if via_web else login, date),
                "committedViaWeb": via_web, "authoredByCommitter": not via_web,
                "url": f"{self.web}/{full}/commit/{sha}", "resourcePath": f"/{full}/commit/{sha}",
                # a squash or merge commit carries its pull request's size
                "additions": int(adds[pr_ix]) if via_web else 0,
                "deletions": int(dels[pr_ix]) if via_web else 0,
                "changedFilesIfAvailable": int(files[pr_ix]) if via_web else 0,
                "signature": None, "status": None,
                "parents": partial(self._parents, [p for p in (c["parent_sha"][k], c["second_parent_sha"][k])
                                                   if isinstance(p, str)]),
                "history": partial(self.history, k),
                "associatedPullRequests": partial(self._associated, pr_ix)}

    def _parents(self, shas: list, info=None, **args):
        return Listing([self._commit_stub(s) for s in shas], [(i, i) for i in range(len(shas))]).page(**args)

    def _associated(self, pr_ix: int, info=None, **args):
        j = self.pr_pos.get(pr_ix)
        if j is None:
            return EMPTY.page(**args)
        return Listing([self.pr_node(j)], [(self.pr_list["created_at"][j], self.pr_list["pr_id"][j])]).page(**args)

    def history(self, k: int, info=None, since=None, until=None, author=None, path=None, **args):
        """First-parent history from the k-th newest commit of the default branch."""
        keys = self.main_keys
        lo_t = _ts(since, "since") if since is not None else None
        hi_t = _ts(until, "until") if until is not None else None
        emails = set(author.get("emails") or ()) if author else set()
        pick = [j for j in range(k, len(keys))
                if (lo_t is None or keys[j][0] >= lo_t) and (hi_t is None or keys[j][0] <= hi_t)
                and (not emails or accounts(self.w).get(self.mc["author_login"][j], (0, "", None))[2] in emails)]
        return Listing(Lazy(self.main_node, pick), [keys[j] for j in pick], desc=True).page(**args)

    def pr_commits_of(self, ix: int) -> list[dict]:
        """A pull request's PullRequestCommit nodes, oldest first."""
        a, b = self.pc_bounds.get(ix, (0, 0))
        return [self.pr_commit(k) for k in range(a, b)]

    def pr_commit(self, k: int) -> dict:
        return self._make_pr_commit(k)

    def _make_pr_commit(self, k: int) -> dict:
        c, full = self.pc, self.full
        ix = c["pr_ix"][k]
        a = self.pc_bounds[ix][0]
        j = self.pr_pos[ix]
        login, number, pr_id = self.pr_list["author_login"][j], self.pr_list["number"][j], self.pr_list["pr_id"][j]
        sha, msg, date = c["sha"][k], c["message"][k], c["date"][k]
        who = self.ctx.git_actor(login, date)
        base = self.mc["sha"][self.pr_base[j]] if self.pr_base[j] < len(self.mc["sha"]) else None
        parent = [c["sha"][k - 1]] if k > a else ([base] if base else [])
        commit = {"__typename": "Commit", "id": _Id("C", self.repo_id, sha), "oid": sha,
                  "abbreviatedOid": sha[:7], "message": msg, "messageHeadline": msg, "messageBody": "",
                  "committedDate": date, "authoredDate": date, "pushedDate": date, "author": who, "committer": who,
                  "committedViaWeb": False, "authoredByCommitter": True,
                  "url": f"{self.web}/{full}/commit/{sha}", "resourcePath": f"/{full}/commit/{sha}",
                  "additions": 0, "deletions": 0, "changedFilesIfAvailable": None, "signature": None,
                  "status": None, "parents": partial(self._parents, parent),
                  "history": partial(self._branch_history, ix, k - a),
                  "associatedPullRequests": partial(self._associated, ix)}
        return {"__typename": "PullRequestCommit", "id": _Id("PURC", pr_id, sha), "commit": commit,
                "url": f"{self.web}/{full}/pull/{number}/commits/{sha}",
                "resourcePath": f"/{full}/pull/{number}/commits/{sha}"}

    def _branch_history(self, ix: int, pos: int, info=None, **args):
        """A PR commit's first-parent history: its branch back to the first commit, then
        the default branch from where the branch started."""
        branch = [n["commit"] for n in self.pr_commits_of(ix)[:pos + 1][::-1]]
        base = list(range(self.pr_base[self.pr_pos[ix]], len(self.main_keys)))
        items = branch + [self.main_node(k) for k in base]
        n = len(items)
        return Listing(items, [(n - j, n - j) for j in range(n)], desc=True).page(**args)

    # ---- pull requests
    def pr_node(self, j: int) -> dict:
        return self._make_pr(j)

    def _make_pr(self, j: int) -> dict:
        p, full = self.pr_list, self.full
        ix, pr_id, number, state, login = p["ix"][j], p["pr_id"][j], p["number"][j], p["state"][j], p["author_login"][j]
        url = f"{self.web}/{full}/pull/{number}"
        a, b = self.pc_bounds.get(ix, (0, 0))
        ra, rb = self.rv_bounds.get(ix, (0, 0))
        verdicts = [s for s in self.rv["state"][ra:rb] if s in ("APPROVED", "CHANGES_REQUESTED")]
        base = self.mc["sha"][self.pr_base[j]] if self.pr_base[j] < len(self.mc["sha"]) else None
        author = self.ctx.actor(login)
        merged = state == "MERGED"
        node = {"__typename": "PullRequest", "id": node_id("PR", pr_id), "databaseId": pr_id,
                "fullDatabaseId": str(pr_id), "number": number, "title": p["title"][j], "body": p["body"][j],
                "bodyText": p["body"][j], "url": url, "permalink": url, "resourcePath": f"/{full}/pull/{number}",
                "state": state, "isDraft": p["is_draft"][j], "closed": state != "OPEN", "merged": merged,
                "locked": False, "createdAt": p["created_at_iso"][j], "updatedAt": p["updated_at_iso"][j],
                "publishedAt": p["created_at_iso"][j], "lastEditedAt": None, "mergedAt": p["merged_at_now_iso"][j],
                "closedAt": p["closed_at_now_iso"][j], "additions": p["additions"][j], "deletions": p["deletions"][j],
                "changedFiles": p["changed_files"][j], "baseRefName": self.branch, "headRefName": p["head_ref"][j],
                "headRefOid": self.pc["sha"][b - 1] if b > a else base, "baseRefOid": base,
                "isCrossRepository": False, "maintainerCanModify": False,
                "authorAssociation": "NONE" if is_bot(login) else "MEMBER",
                "mergeable": "MERGEABLE" if state == "OPEN" else "UNKNOWN",
                "author": author, "mergedBy": author if merged else None,
                "mergeCommit": (lambda info, **_: self.commit(p["merge_commit_sha"][j])) if merged else None,
                "repository": self.node,
                "reviewDecision": verdicts[-1] if verdicts else ("REVIEW_REQUIRED" if state == "OPEN" else None),
                "totalCommentsCount": sum(self.rv["comments"][ra:rb]),
                "labels": _labels(self.repo_id, p["labels"][j], f"{self.web}/{full}"),
                "reviews": partial(self._reviews_page, ix), "commits": partial(self._commits_page, ix),
                "timelineItems": partial(self._timeline, j), "reviewThreads": partial(self._threads, ix),
                "comments": EMPTY, "assignees": EMPTY, "participants": EMPTY}
        return node

    def pull_request(self, info, number, **_):
        j = self.pr_by_number.get(number)
        if j is None:
            raise GitHubError(f"Could not resolve to a PullRequest with the number of {number}.", "NOT_FOUND")
        return self.pr_node(j)

    def pull_requests(self, info=None, states=None, orderBy=None, labels=None, headRefName=None, baseRefName=None,
                      **args):
        field = (orderBy or {}).get("field", "CREATED_AT")
        desc = (orderBy or {}).get("direction", "ASC") == "DESC"
        key = (tuple(sorted(states or ())), field, desc, tuple(sorted(labels or ())), headRefName, baseRefName)
        return self.ctx.cached(("gql.pr_listing", self.repo_id, key), partial(self._pr_listing, *key)).page(**args)

    def _pr_listing(self, states, field, desc, labels, head, base) -> Listing:
        p = self.pr
        keep = np.ones(len(p["pr_id"]), dtype=bool)
        if states:
            keep &= np.isin(p["state"], states)
        if labels:
            keep &= np.isin(p["labels"], labels)
        if head:
            keep &= p["head_ref"] == head
        if base and base != self.branch:
            keep[:] = False
        sort = {"UPDATED_AT": p["updated_at"], "COMMENTS": np.array(
            [sum(self.rv["comments"][a:b]) for a, b in (self.rv_bounds.get(ix, (0, 0)) for ix in self.pr_list["ix"])],
            dtype=np.int64)}.get(field, p["created_at"])
        pos = np.flatnonzero(keep)
        pos = pos[np.lexsort((p["pr_id"][pos], sort[pos]))]
        if desc:
            pos = pos[::-1]
        keys = list(zip(sort[pos].tolist(), p["pr_id"][pos].tolist()))
        return Listing(Lazy(self.pr_node, pos.tolist()), keys, desc)

    # ---- reviews, commits, timeline of one pull request
    def reviews_of(self, ix: int) -> list[dict]:
        return self._make_reviews(ix)

    def _make_reviews(self, ix: int) -> list[dict]:
        a, b = self.rv_bounds.get(ix, (0, 0))
        r = self.rv
        pr_url = f"{self.web}/{self.full}/pull/{self.pr_list['number'][self.pr_pos[ix]]}"
        out = []
        for k in range(a, b):
            rid, date, n = r["review_id"][k], r["date"][k], r["comments"][k]
            url = f"{pr_url}#pullrequestreview-{rid}"
            author = self.ctx.actor(r["reviewer_login"][k])
            out.append({"__typename": "PullRequestReview", "id": node_id("PRR", rid), "databaseId": rid,
                        "fullDatabaseId": str(rid), "author": author, "authorAssociation": "MEMBER", "body": "",
                        "bodyText": "", "state": r["state"][k], "submittedAt": date, "createdAt": date,
                        "updatedAt": date, "publishedAt": date, "url": url, "resourcePath": url.split(self.web, 1)[1],
                        "comments": partial(_review_comments, rid, n, author, r["submitted_at"][k], url),
                        "_comments": n, "_key": (r["submitted_at"][k], rid)})
        return out

    def _reviews_page(self, ix: int, info=None, states=None, author=None, **args):
        reviews = self.reviews_of(ix)
        if states or author:
            reviews = [r for r in reviews if (not states or r["state"] in states)
                       and (not author or r["author"] and r["author"]["login"] == author)]
        return Listing(reviews, [r["_key"] for r in reviews]).page(**args)

    def _commits_page(self, ix: int, info=None, **args):
        a, b = self.pc_bounds.get(ix, (0, 0))
        return Listing(Lazy(self.pr_commit, range(a, b)), [(k, k) for k in range(b - a)]).page(**args)

    def _threads(self, ix: int, info=None, **args):
        """One resolved thread per inline review comment."""
        nodes, keys = [], []
        for r in self.reviews_of(ix):
            rid, n, ts = r["databaseId"], r["_comments"], r["_key"][0]
            for k in range(n):
                nodes.append({"__typename": "PullRequestReviewThread", "id": node_id("PRRT", rid, k),
                              "isResolved": True, "isOutdated": False, "isCollapsed": True,
                              "path": f"src/module_{k}.py", "line": 10 + k,
                              "resolvedBy": r["author"] if r["author"] and r["author"]["__typename"] == "User" else None,
                              "comments": partial(_review_comments, rid, 1, r["author"], ts, r["url"])})
                keys.append((ts, rid * 10 + k))
        return Listing(nodes, keys).page(**args)

    def _timeline(self, j: int, info=None, itemTypes=None, since=None, skip=None, **args):
        p = self.pr_list
        ix, pr_id = p["ix"][j], p["pr_id"][j]
        ready, merged, closed = p["ready_at_now"][j], p["merged_at_now"][j], p["closed_at_now"][j]
        a, b = self.rv_bounds.get(ix, (0, 0))
        total = (b - a) + (ready >= 0) + (merged >= 0) + (closed >= 0)
        wanted = {TIMELINE_TYPES[t] for t in itemTypes if t in TIMELINE_TYPES} if itemTypes else set(TIMELINE_TYPES.values())
        actor = self.ctx.actor(p["author_login"][j])
        path = f"/{self.full}/pull/{p['number'][j]}"
        url, node = self.web + path, (lambda info, **_: self.pr_node(j))
        events = []
        if "PullRequestReview" in wanted:
            events += [(r["_key"][0], 2, r) for r in self.reviews_of(ix)]
        if ready >= 0 and "ReadyForReviewEvent" in wanted:
            events.append((ready, 1, {"__typename": "ReadyForReviewEvent", "id": _Id("RFRE", pr_id),
                                      "createdAt": iso(ready), "actor": actor, "pullRequest": node, "url": url,
                                      "resourcePath": path}))
        if merged >= 0 and "MergedEvent" in wanted:
            events.append((merged, 3, {"__typename": "MergedEvent", "id": _Id("ME", pr_id),
                                    "createdAt": iso(merged), "actor": actor, "pullRequest": node,
                                    "commit": self.commit(p["merge_commit_sha"][j]), "mergeRefName": self.branch,
                                    "url": url, "resourcePath": path}))
        if closed >= 0 and "ClosedEvent" in wanted:
            events.append((closed, 4, {"__typename": "ClosedEvent", "id": _Id("CE", pr_id),
                                    "createdAt": iso(closed), "actor": actor, "closer": None,
                                    "stateReason": None, "url": url, "resourcePath": path}))
        events.sort(key=lambda e: (e[0], e[1]))
        if since is not None:
            t0 = _ts(since, "since", "timelineItems")
            events = [e for e in events if e[0] >= t0]
        events = events[skip or 0:]
        page = Listing([e[2] for e in events], [(e[0], e[1]) for e in events]).page(**args)
        page.update(filteredCount=len(events), pageCount=len(page["nodes"]), totalCount=total,
                    updatedAt=p["updated_at_iso"][j])
        return page

    # ---- deployments and releases
    def deployments(self, info=None, environments=None, orderBy=None, **args):
        desc = (orderBy or {}).get("direction", "ASC") == "DESC"
        return self.deployment_listing(tuple(sorted(environments)) if environments else None, desc).page(**args)

    def deployment_listing(self, envs, desc) -> Listing:
        return self.ctx.cached(("gql.deployments", self.repo_id, envs, desc),
                               partial(self._deployment_listing, envs, desc))

    def _deployment_listing(self, envs, desc) -> Listing:
        d = repo_deployments(self.w, self.repo_id)
        if envs:
            d = d[d.environment.isin(envs)]
        d = d.sort_values(["started_at", "gh_deployment_id"], ascending=not desc, kind="stable")
        creator = self.ctx.actor("acme-release-bot")
        items, keys = [], []
        for row in d.itertuples(index=False):
            did = int(row.gh_deployment_id)
            statuses = [{"__typename": "DeploymentStatus", "id": node_id("DES", sid), "state": state.upper(),
                         "createdAt": iso(ts), "updatedAt": iso(ts), "creator": creator,
                         "description": STATUS_DESCRIPTIONS.get(state, ""),
                         # GraphQL answers null where REST answers "" for an unset URL
                         "environmentUrl": None, "logUrl": None, "environment": row.environment}
                        for sid, state, ts in deployment_statuses(row)]
            node = {"__typename": "Deployment", "id": node_id("DE", did), "databaseId": did,
                    "createdAt": iso(row.started_at), "updatedAt": iso(row.updated_at),
                    "environment": row.environment, "originalEnvironment": row.environment,
                    "latestEnvironment": row.environment, "task": "deploy", "description": None, "payload": "{}",
                    "state": _deployment_state(row), "commitOid": row.sha, "commit": self._commit_stub(row.sha),
                    "ref": self.default_ref() if deployment_ref(row, self.branch) == self.branch else None,
                    "creator": creator, "repository": self.node, "latestStatus": statuses[0],
                    "statuses": Listing(statuses, [(int(ts), sid) for sid, _, ts in deployment_statuses(row)],
                                        desc=True)}
            for st in statuses:
                st["deployment"] = node
            items.append(node)
            keys.append((int(row.started_at), did))
        return Listing(items, keys, desc)

    def releases(self, info=None, orderBy=None, **args):
        field = (orderBy or {}).get("field", "CREATED_AT")
        desc = (orderBy or {}).get("direction", "ASC") == "DESC"
        return self.ctx.cached(("gql.releases", self.repo_id, field, desc),
                               partial(self._release_listing, field, desc)).page(**args)

    def release_nodes(self) -> list[dict]:
        """Releases oldest first."""
        return self.ctx.cached(("gql.release_nodes", self.repo_id), self._make_releases)

    def _make_releases(self) -> list[dict]:
        rl = repo_releases(self.w, self.repo_id).iloc[::-1]
        author = self.ctx.actor("acme-release-bot")
        latest = int(rl.release_id.iloc[-1]) if len(rl) else None
        out = []
        for rid, tag, sha, ts in zip(rl.release_id.tolist(), rl.tag, rl.sha, rl.created_at.tolist()):
            url = f"{self.web}/{self.full}/releases/tag/{tag}"
            out.append({"__typename": "Release", "id": node_id("RE", rid), "databaseId": rid, "name": tag,
                        "tagName": tag, "createdAt": iso(ts), "publishedAt": iso(ts), "updatedAt": iso(ts),
                        "isDraft": False, "isPrerelease": False, "isLatest": rid == latest, "url": url,
                        "resourcePath": url.split(self.web, 1)[1], "description": f"Release {tag} of {self.rp['name']}.",
                        "author": author, "repository": self.node, "tagCommit": self._commit_stub(sha),
                        "tag": {"__typename": "Ref", "id": node_id("REF", self.repo_id, f"refs/tags/{tag}"),
                                "name": tag, "prefix": "refs/tags/", "target": self._commit_stub(sha)},
                        "releaseAssets": EMPTY, "mentions": EMPTY, "_ts": ts})
        return out

    def _release_listing(self, field, desc) -> Listing:
        keyed = [((n["tagName"] if field == "NAME" else n["_ts"]), n["databaseId"], n) for n in self.release_nodes()]
        keyed.sort(key=lambda t: (t[0], t[1]), reverse=desc)
        return Listing([t[2] for t in keyed], [(t[0], t[1]) for t in keyed], desc)


# --------------------------------------------------------------------------- small builders
def _decode_node_id(global_id: str) -> tuple[str, tuple]:
    prefix, _, payload = str(global_id).partition("_")
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if not 0x91 <= raw[0] <= 0x9F:
        raise ValueError(global_id)
    i, out = 1, []
    for _ in range(raw[0] & 0x0F):
        v, i = _unpack(raw, i)
        out.append(v)
    if i != len(raw) or out[0] != 0:
        raise ValueError(global_id)
    return prefix, tuple(out[1:])


def _deployment_state(row) -> str:
    if row.status_now == "in_progress":
        return "IN_PROGRESS"
    if row.status_now == "failure":
        return "FAILURE"
    return "INACTIVE" if row.inactive_at >= 0 else "ACTIVE"


_LABEL_CACHE: dict = {}


def _labels(repo_id: int, label: str, repo_url: str) -> Listing:
    if not label:
        return EMPTY
    key = (repo_id, label, repo_url)
    lab = _LABEL_CACHE.get(key)
    if lab is None:
        lab = _LABEL_CACHE[key] = {
            "__typename": "Label", "id": node_id("LA", repo_id, label), "name": label,
            "color": LABEL_COLORS.get(label, "ededed"), "description": None, "isDefault": False,
            "createdAt": None, "url": f"{repo_url}/labels/{label}"}
    return Listing([lab], [(0, 0)])


def _review_comments(review_id, n, author, ts, url, info=None, **args):
    nodes = [{"__typename": "PullRequestReviewComment", "id": node_id("PRRC", review_id, k),
              "databaseId": review_id * 10 + k, "body": "Could this be simpler?", "bodyText": "Could this be simpler?",
              "author": author, "createdAt": iso(ts), "updatedAt": iso(ts), "publishedAt": iso(ts),
              "path": f"src/module_{k}.py", "url": f"{url}#discussion_r{review_id * 10 + k}",
              "state": "SUBMITTED", "outdated": False} for k in range(n)]
    return Listing(nodes, [(ts, review_id * 10 + k) for k in range(n)]).page(**args)
