"""The GitHub pieces REST and GraphQL share: ids and node ids, URL roots, accounts and
organisations, repositories, the as-of-now per-repository frames (deployments, releases,
default-branch commits, workflow runs) and the primary rate-limit windows with their headers.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from simulator import views
from simulator.http import Request
from simulator.world import World, iso


DOCS = "https://docs.github.com/rest"
VIEWER_LOGIN, VIEWER_ID, VIEWER_NAME = "acme-sei-reader", 88_012_345, "SEI Reader"
WEB_FLOW_LOGIN, WEB_FLOW_ID = "web-flow", 19_864_447
ORG_ID_BASE = 120_000_000
STATUS_ID_BASE = 4_000_000_000


# --------------------------------------------------------------------------- ids and URLs
_FIXINT = [bytes([i]) for i in range(128)]


def _pack(v) -> bytes:
    """The msgpack subset GitHub's node ids and cursors use (ints and short strings)."""
    if type(v) is str:
        b = v.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    v = int(v)
    if 0 <= v < 128:
        return _FIXINT[v]
    if 0 <= v <= 0xFFFFFFFF:
        return b"\xce" + v.to_bytes(4, "big")
    if v >= 0:
        return b"\xcf" + v.to_bytes(8, "big")
    return b"\xd3" + v.to_bytes(8, "big", signed=True)


def msgpack_array(values) -> bytes:
    return bytes([0x90 | len(values)]) + b"".join([_pack(v) for v in values])


def node_id(prefix: str, *parts) -> str:
    """GitHub's next-generation global ids: `PR_kwDO...` = prefix + base64url(msgpack([0, ...]))."""
    return prefix + "_" + base64.urlsafe_b64encode(msgpack_array((0, *parts))).decode().rstrip("=")


@dataclass(frozen=True)
class Roots:
    web: str  # http://host             (html_url, GraphQL url fields)
    api: str  # http://host[/api/v3]    (REST url fields, Link headers)


def roots(req: Request, sim) -> Roots:
    host = next((v for k, v in req.headers.items() if k.lower() == "host"), None)
    web = f"http://{host}" if host else sim.url
    # The server strips GHES's /api/v3 before routing; it may record it as req.prefix.
    return Roots(web, web + (getattr(req, "prefix", "") or ""))


def isos(ts) -> list:
    """iso() over an array of epoch seconds (-1 -> None), vectorised."""
    a = np.asarray(ts, dtype=np.int64)
    text = np.char.add(np.datetime_as_string(np.maximum(a, 0).astype("datetime64[s]"), unit="s"), "Z").tolist()
    return [t if v >= 0 else None for t, v in zip(text, a.tolist())]


def tree_sha(sha: str) -> str:
    return hashlib.sha1(f"tree {sha}".encode()).hexdigest()


# --------------------------------------------------------------------------- accounts
def accounts(w: World) -> dict[str, tuple[int, str, str | None]]:
    """GitHub login -> (database id, display name, commit email)."""
    def build():
        gh = w["tool_accounts"]
        gh = gh[gh.tool == "github"]
        out = {lg: (int(a), n, e) for lg, a, n, e in zip(gh.login, gh.account_id, gh.display_name, gh.email)}
        out[VIEWER_LOGIN] = (VIEWER_ID, VIEWER_NAME, None)
        out[WEB_FLOW_LOGIN] = (WEB_FLOW_ID, "GitHub", "noreply@github.com")
        return out
    return w.cached("gh.accounts", build)


def is_bot(login: str) -> bool:
    return login.endswith("[bot]")


def user_json(w: World, login: str | None, r: Roots) -> dict | None:
    if login is None:
        return None
    uid = accounts(w).get(login, (0,))[0]
    bot = is_bot(login)
    u = f"{r.api}/users/{login}"
    return {"login": login, "id": uid, "node_id": node_id("BOT" if bot else "U", uid),
            "avatar_url": f"https://avatars.githubusercontent.com/{'in' if bot else 'u'}/{uid}?v=4", "gravatar_id": "",
            "url": u, "html_url": f"{r.web}/apps/{login[:-5]}" if bot else f"{r.web}/{login}",
            "followers_url": f"{u}/followers", "following_url": f"{u}/following{{/other_user}}",
            "gists_url": f"{u}/gists{{/gist_id}}", "starred_url": f"{u}/starred{{/owner}}{{/repo}}",
            "subscriptions_url": f"{u}/subscriptions", "organizations_url": f"{u}/orgs", "repos_url": f"{u}/repos",
            "events_url": f"{u}/events{{/privacy}}", "received_events_url": f"{u}/received_events",
            "type": "Bot" if bot else "User", "user_view_type": "public", "site_admin": False}


def org_ids(w: World) -> dict[str, int]:
    return w.cached("gh.org_ids", lambda: {o: ORG_ID_BASE + i for i, o in enumerate(w["organisations"].github_org)})


def org_json(w: World, login: str, r: Roots) -> dict:
    oid = org_ids(w)[login]
    u = f"{r.api}/users/{login}"
    return {"login": login, "id": oid, "node_id": node_id("O", oid),
            "avatar_url": f"https://avatars.githubusercontent.com/u/{oid}?v=4", "gravatar_id": "", "url": u,
            "html_url": f"{r.web}/{login}", "followers_url": f"{u}/followers",
            "following_url": f"{u}/following{{/other_user}}", "gists_url": f"{u}/gists{{/gist_id}}",
            "starred_url": f"{u}/starred{{/owner}}{{/repo}}", "subscriptions_url": f"{u}/subscriptions",
            "organizations_url": f"{u}/orgs", "repos_url": f"{r.api}/orgs/{login}/repos",
            "events_url": f"{u}/events{{/privacy}}", "received_events_url": f"{u}/received_events",
            "type": "Organization", "user_view_type": "public", "site_admin": False}


# --------------------------------------------------------------------------- repositories
def repos_now(w: World) -> pd.DataFrame:
    """Repositories that exist now, with pushed_at (last commit on any branch so far)."""
    def build():
        rp = w["repos"]
        rp = rp[(rp.created_at <= w.now) & ~rp.repo_id.isin(w.deleted_repos)].copy()
        mc = views.main_commits(w)
        pc = views.pr_commits(w)
        pc_repo = w["prs"].repo_id.to_numpy()[pc.pr_ix.to_numpy()]
        last_main = mc.groupby("repo_id").authored_at.max()
        last_pr = pd.Series(pc.authored_at.to_numpy()).groupby(pc_repo).max()
        pushed = np.maximum(last_main.reindex(rp.repo_id, fill_value=-1).to_numpy(),
                            last_pr.reindex(rp.repo_id, fill_value=-1).to_numpy())
        rp["pushed_at"] = np.maximum(pushed, rp.created_at.to_numpy())
        return rp
    return w.cached("gh.repos_now", build)


def find_repo(w: World, owner: str, name: str):
    """The repository row (a namedtuple) for owner/name, case-insensitively; None if unknown."""
    def build():
        return {fn.lower(): row for fn, row in zip(repos_now(w).full_name, repos_now(w).itertuples(index=False))}
    return w.cached("gh.repo_index", build).get(f"{owner}/{name}".lower())


def org_exists(w: World, login: str) -> str | None:
    low = {o.lower(): o for o in w["organisations"].github_org}
    return low.get(login.lower())


def repo_min_json(w: World, rp, r: Roots) -> dict:
    full = rp.full_name
    a = f"{r.api}/repos/{full}"
    return {"id": int(rp.repo_id), "node_id": node_id("R", int(rp.repo_id)), "name": rp.name, "full_name": full,
            "private": True, "owner": org_json(w, rp.github_org, r), "html_url": f"{r.web}/{full}",
            "description": f"{rp.name} service" if rp.service_id else "Shared libraries", "fork": False, "url": a,
            "forks_url": f"{a}/forks", "keys_url": f"{a}/keys{{/key_id}}",
            "collaborators_url": f"{a}/collaborators{{/collaborator}}", "teams_url": f"{a}/teams",
            "hooks_url": f"{a}/hooks", "issue_events_url": f"{a}/issues/events{{/number}}",
            "events_url": f"{a}/events", "assignees_url": f"{a}/assignees{{/user}}",
            "branches_url": f"{a}/branches{{/branch}}", "tags_url": f"{a}/tags", "blobs_url": f"{a}/git/blobs{{/sha}}",
            "git_tags_url": f"{a}/git/tags{{/sha}}", "git_refs_url": f"{a}/git/refs{{/sha}}",
            "trees_url": f"{a}/git/trees{{/sha}}", "statuses_url": f"{a}/statuses/{{sha}}",
            "languages_url": f"{a}/languages", "stargazers_url": f"{a}/stargazers",
            "contributors_url": f"{a}/contributors", "subscribers_url": f"{a}/subscribers",
            "subscription_url": f"{a}/subscription", "commits_url": f"{a}/commits{{/sha}}",
            "git_commits_url": f"{a}/git/commits{{/sha}}", "comments_url": f"{a}/comments{{/number}}",
            "issue_comment_url": f"{a}/issues/comments{{/number}}", "contents_url": f"{a}/contents/{{+path}}",
            "compare_url": f"{a}/compare/{{base}}...{{head}}", "merges_url": f"{a}/merges",
            "archive_url": f"{a}/{{archive_format}}{{/ref}}", "downloads_url": f"{a}/downloads",
            "issues_url": f"{a}/issues{{/number}}", "pulls_url": f"{a}/pulls{{/number}}",
            "milestones_url": f"{a}/milestones{{/number}}",
            "notifications_url": f"{a}/notifications{{?since,all,participating}}",
            "labels_url": f"{a}/labels{{/name}}", "releases_url": f"{a}/releases{{/id}}",
            "deployments_url": f"{a}/deployments"}


def repo_json(w: World, rp, r: Roots, full: bool = False) -> dict:
    host = r.web.split("://", 1)[1]
    out = repo_min_json(w, rp, r)
    out.update({
        "created_at": iso(rp.created_at), "updated_at": iso(rp.pushed_at), "pushed_at": iso(rp.pushed_at),
        "git_url": f"git://{host}/{rp.full_name}.git", "ssh_url": f"git@{host}:{rp.full_name}.git",
        "clone_url": f"{r.web}/{rp.full_name}.git", "svn_url": f"{r.web}/{rp.full_name}", "homepage": None,
        "size": 2048 + int(rp.repo_id) * 97, "stargazers_count": 0, "watchers_count": 0,
        "language": "Python" if rp.repo_id % 3 else "Go", "has_issues": True, "has_projects": True,
        "has_downloads": True, "has_wiki": False, "has_pages": False, "has_discussions": False, "forks_count": 0,
        "mirror_url": None, "archived": False, "disabled": False, "open_issues_count": 0, "license": None,
        "allow_forking": False, "is_template": False, "web_commit_signoff_required": False, "topics": [],
        "visibility": "private", "forks": 0, "open_issues": 0, "watchers": 0, "default_branch": rp.default_branch,
        "permissions": {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True},
    })
    if full:
        squash = rp.merge_method == "squash"
        out.update({"allow_squash_merge": True, "allow_merge_commit": not squash, "allow_rebase_merge": False,
                    "allow_auto_merge": False, "delete_branch_on_merge": True, "allow_update_branch": False,
                    "use_squash_pr_title_as_default": squash, "squash_merge_commit_message": "COMMIT_MESSAGES",
                    "squash_merge_commit_title": "COMMIT_OR_PR_TITLE", "merge_commit_message": "PR_TITLE",
                    "merge_commit_title": "MERGE_MESSAGE", "organization": org_json(w, rp.github_org, r),
                    "network_count": 0, "subscribers_count": 0})
    return out


# --------------------------------------------------------------------------- per-repository frames (as of now)
def repo_deployments(w: World, repo_id: int) -> pd.DataFrame:
    """GitHub deployments of a repository, newest first (services deployed with GitHub)."""
    def build():
        d = views.deployments(w)
        d = d[(d.repo_id == repo_id) & (d.tool == "github")]
        return d.sort_values(["started_at", "gh_deployment_id"], ascending=False, kind="stable")
    return w.cached(("gh.deployments", repo_id), build)


def deployment_ref(row, default_branch: str) -> str:
    # A CD pipeline deploys the branch head; a rollback redeploys an older commit by SHA.
    return row.sha if row.is_rollback else default_branch


# What GitHub Actions-style deployers write as a status description (REST and GraphQL alike).
STATUS_DESCRIPTIONS = {"in_progress": "Deployment started", "success": "Deployment finished successfully.",
                       "failure": "Deployment failed.", "inactive": "Superseded by a later deployment."}


def deployment_statuses(row) -> list[tuple[int, str, int]]:
    """(status id, state, created_at) newest first: in_progress, then success/failure, then inactive."""
    base = STATUS_ID_BASE + int(row.deployment_id) * 3
    out = [(base, "in_progress", int(row.started_at))]
    if row.finished_at_now >= 0:
        out.append((base + 1, str(row.status_now), int(row.finished_at_now)))
    if row.inactive_at >= 0:
        out.append((base + 2, "inactive", int(row.inactive_at)))
    return out[::-1]


def repo_releases(w: World, repo_id: int) -> pd.DataFrame:
    def build():
        rl = views.releases(w)
        return rl[rl.repo_id == repo_id].sort_values(["created_at", "release_id"], ascending=False, kind="stable")
    return w.cached(("gh.releases", repo_id), build)


def repo_main_commits(w: World, repo_id: int) -> pd.DataFrame:
    """The default branch's first-parent chain, newest first."""
    def build():
        mc = views.main_commits(w)
        return mc[mc.repo_id == repo_id].sort_values("seq", ascending=False, kind="stable")
    return w.cached(("gh.main_commits", repo_id), build)


def _repo_rows(w: World, name: str, frame, repo_of, repo_id: int) -> pd.DataFrame:
    """One repository's rows of `frame()`, in the frame's order. The frame is ordered by
    repository once per clock position (a stable sort) and sliced, where a mask per
    repository would scan (and copy through) the whole organisation's rows each time."""
    def build():
        f = frame()
        repo = np.asarray(repo_of(f))
        order = np.argsort(repo, kind="stable")
        return f.iloc[order], repo[order]
    f, repo = w.cached(("gh.by_repo", name), build)
    return f.iloc[int(np.searchsorted(repo, repo_id, "left")):int(np.searchsorted(repo, repo_id, "right"))]


def repo_runs(w: World, repo_id: int) -> pd.DataFrame:
    """Workflow runs newest first, with what their JSON needs from commits and PRs."""
    def build():
        r = _repo_rows(w, "workflow_runs", lambda: views.workflow_runs(w), lambda f: f.repo_id.to_numpy(), repo_id)
        r = r.sort_values(["created_at", "run_id"], ascending=False, kind="stable").copy()
        info = _commit_info(w, repo_id)
        r["actor"] = [info.get(s, (None,))[0] for s in r.head_sha.tolist()]
        return r
    return w.cached(("gh.runs", repo_id), build)


def _commit_info(w: World, repo_id: int) -> dict[str, tuple]:
    """sha -> (author login, message, authored_at, PR row or None, committed via the web UI)."""
    def build():
        prs = w["prs"]
        login = w.cached("gh.pr_author_logins", lambda: prs.author_login.tolist())  # by PR row
        pc = _repo_rows(w, "pr_commits", lambda: w["pr_commits"],
                        lambda f: prs.repo_id.to_numpy()[f.pr_ix.to_numpy()], repo_id)
        # .tolist() first: iterating pandas' Arrow-backed strings goes element by element
        out = {sha: (login[ix], msg, ts, ix, False) for sha, msg, ts, ix in zip(
            pc.sha.tolist(), pc.message.tolist(), pc.authored_at.tolist(), pc.pr_ix.tolist())}
        mc = _repo_rows(w, "main_commits", lambda: w["main_commits"], lambda f: f.repo_id.to_numpy(), repo_id)
        out.update({sha: (lg, msg, ts, None, ix >= 0) for sha, lg, msg, ts, ix in zip(
            mc.sha.tolist(), mc.author_login.tolist(), mc.message.tolist(), mc.authored_at.tolist(),
            mc.pr_ix.tolist())})
        return out
    return w.cached(("gh.commit_info", repo_id), build)


# --------------------------------------------------------------------------- rate limits
def rate_headers(sim, kind: str, resource: str, used: int, remaining: int) -> dict[str, str]:
    return {"x-ratelimit-limit": str(sim.windows[kind].limit), "x-ratelimit-remaining": str(max(0, remaining)),
            "x-ratelimit-reset": str(sim.window_reset(kind)), "x-ratelimit-used": str(used),
            "x-ratelimit-resource": resource}


def window_state(sim, kind: str, token: str) -> tuple[int, int]:
    with sim.lock:
        _, used, remaining = sim.windows[kind].state(("github", token), sim.sim_elapsed())
    return used, remaining


def charge(sim, kind: str, token: str, units: int) -> tuple[bool, int, int]:
    """Spend `units` if the window still holds them: (charged?, used, remaining) afterwards."""
    win = sim.windows[kind]
    with sim.lock:
        elapsed = sim.sim_elapsed()
        _, used, remaining = win.state(("github", token), elapsed)
        if remaining < units:
            return False, used, remaining
        if units:
            win.charge(("github", token), elapsed, units)
        return True, used + units, remaining - units


def exceeded_message(sim) -> str:
    stamp = dt.datetime.fromtimestamp(sim.sim_epoch(), dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return (f"API rate limit exceeded for user ID {VIEWER_ID}. If you reach out to GitHub Support for help, "
            f"please include the request ID 5F3A:1B2C:3D4E:5F60:{sim.sim_epoch() & 0xFFFFFFFF:08X} "
            f"and timestamp {stamp} UTC.")


def find_repo_by_id(w: World, repo_id: int):
    rows = w.cached("gh.repo_ids", lambda: {row.repo_id: row for row in repos_now(w).itertuples(index=False)})
    return rows.get(repo_id)
