"""GitHub REST v3 in GitHub's shapes: repositories, deployments and their statuses,
releases, workflow runs, commits, `/rate_limit` and `/user`, with `Link` pagination,
primary rate limits (`x-ratelimit-*`, 403 when spent) and GitHub's error bodies.

The GitHub pieces shared with GraphQL (accounts, node ids, URL roots, the rate-limit
headers and the as-of-now per-repository frames) are in github_common.py. Every answer is
cut at `world.now` through `simulator.views`.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from simulator.github_common import (DOCS, Roots, STATUS_DESCRIPTIONS, VIEWER_LOGIN, VIEWER_NAME, WEB_FLOW_LOGIN,
                                     _commit_info, accounts, charge, deployment_ref, deployment_statuses,
                                     exceeded_message, find_repo, find_repo_by_id, node_id, org_exists, org_ids,
                                     rate_headers, repo_deployments, repo_json, repo_main_commits, repo_min_json,
                                     repo_releases, repo_runs, repos_now, roots, tree_sha, user_json, window_state)
from simulator.http import GITHUB_TOKEN, Request, Response, Router
from simulator.world import World, iso


WORKFLOW_ID_BASE = 160_000_000
CHECK_SUITE_BASE = 20_000_000_000
RUN_ID_BASE = 9_000_000_000  # the world's first workflow run id
RUNS_RESULT_CAP = 1000
# The listing filters after which GitHub serves at most 1,000 workflow runs.
RUNS_CAPPED_BY = ("actor", "branch", "check_suite_id", "created", "event", "head_sha", "status")
GRAPHQL_AUTH_DOCS = "https://docs.github.com/graphql/guides/forming-calls-with-graphql#authenticating-with-graphql"
RUNS_DOCS = "https://docs.github.com/rest/actions/workflow-runs#list-workflow-runs-for-a-repository"
RUN_STATUSES = {"completed", "in_progress", "queued", "requested", "waiting", "pending", "action_required"}


# --------------------------------------------------------------------------- auth
def check_auth(req, headers, sim):
    auth = headers.get("authorization", "")
    scheme, _, token = auth.partition(" ")
    graphql = req.path in ("/graphql", "/api/graphql")
    if req.path.startswith("/app/"):
        return None  # the app's JWT is checked by the endpoint itself (simulator.api_github_app)
    denied = _denied_headers(sim) if not graphql else {}
    if not auth:
        if graphql:
            return Response.json(401, {"message": "This endpoint requires you to be authenticated.",
                                       "documentation_url": GRAPHQL_AUTH_DOCS})
        return Response.json(401, {"message": "Requires authentication",
                                   "documentation_url": "https://docs.github.com/rest", "status": "401"}, denied)
    if scheme.lower() not in ("bearer", "token") or (token != GITHUB_TOKEN and token not in sim.github_installation_tokens):
        if graphql:
            return Response.json(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/graphql"})
        return Response.json(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                   "status": "401"}, denied)
    req.token = token
    return None


def _denied_headers(sim) -> dict[str, str]:
    # GitHub's 401s carry a zero limit (clients must not read them as a spent limit).
    return {"x-ratelimit-limit": "0", "x-ratelimit-remaining": "0", "x-ratelimit-used": "0",
            "x-ratelimit-reset": str(sim.sim_epoch() + 3600), "x-ratelimit-resource": "core"}


# --------------------------------------------------------------------------- request helpers
class ApiError(Exception):
    def __init__(self, status: int, message: str, doc: str = "", **extra):
        super().__init__(message)
        self.status, self.message, self.doc, self.extra = status, message, doc, extra

    def response(self) -> Response:
        return Response.json(self.status, {"message": self.message, **self.extra,
                                           "documentation_url": self.doc or DOCS, "status": str(self.status)})


def not_found(doc: str) -> ApiError:
    return ApiError(404, "Not Found", doc)


def _int_arg(req: Request, name: str, default: int) -> int:
    try:
        return int(req.arg(name, default))
    except (TypeError, ValueError):
        return default


def page_args(req: Request) -> tuple[int, int]:
    per_page = _int_arg(req, "per_page", 30)
    per_page = 30 if per_page < 1 else min(per_page, 100)
    return per_page, max(1, _int_arg(req, "page", 1))


def link_header(req: Request, r: Roots, page: int, last: int, path: str | None = None) -> str | None:
    """GitHub's Link: prev, next, last, first (only those that apply), other params kept.
    Like GitHub, repository listings link to `/repositories/{id}/...` (`path`)."""
    if last <= 1 and page <= 1:
        return None

    def url(p: int) -> str:
        params = [(k, v) for k, vs in req.query.items() if k != "page" for v in vs] + [("page", str(p))]
        return f"{r.api}{path or req.path}?{urlencode(params)}"

    rels = []
    if page > 1:
        rels.append((url(page - 1), "prev"))
    if page < last:
        rels += [(url(page + 1), "next"), (url(last), "last")]
    if page > 1:
        rels.append((url(1), "first"))
    return ", ".join(f'<{u}>; rel="{rel}"' for u, rel in rels)


def paged(req: Request, r: Roots, frame: pd.DataFrame, render, reachable: int | None = None,
          wrap=None, path: str | None = None) -> Response:
    """One page of `frame` rendered row by row, with GitHub's Link header. `reachable`
    caps how many rows the listing serves (the 1,000-run search cap)."""
    lo, hi, link = page_window(req, r, len(frame), reachable, path)
    items = [render(row) for row in frame.iloc[lo:hi].itertuples(index=False)]
    body = items if wrap is None else wrap(items)
    return Response.json(200, body, {"Link": link} if link else {})


def page_window(req: Request, r: Roots, rows: int, reachable: int | None = None,
                path: str | None = None) -> tuple[int, int, str | None]:
    """The requested page of a listing of `rows` rows: [lo, hi) and its Link header."""
    per_page, page = page_args(req)
    n = rows if reachable is None else min(rows, reachable)
    lo, hi = min((page - 1) * per_page, n), min(page * per_page, n)
    return lo, hi, link_header(req, r, page, max(1, math.ceil(n / per_page)), path)


def parse_time(value: str, name: str) -> int:
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(422, f"Invalid value for parameter '{name}': {value}",
                       "https://docs.github.com/rest/commits/commits#list-commits") from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp())


def _interval(text: str) -> tuple[int, int]:
    """A date (the whole day) or a datetime (that second) as [start, end) epoch seconds."""
    text = text.strip()
    if len(text) == 10:
        d = dt.datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=dt.timezone.utc)
        return int(d.timestamp()), int(d.timestamp()) + 86400
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.timezone.utc)
    return int(t.timestamp()), int(t.timestamp()) + 1


def created_window(q: str) -> tuple[int, int]:
    """GitHub's search date syntax (`a..b`, `>=a`, `<=a`, `>a`, `<a`, `a`, `*` open ends)
    as a half-open [lo, hi) epoch window."""
    lo, hi = -(2**62), 2**62
    try:
        if ".." in q:
            a, b = q.split("..", 1)
            if a.strip() != "*":
                lo = _interval(a)[0]
            if b.strip() != "*":
                hi = _interval(b)[1]
        elif q.startswith(">="):
            lo = _interval(q[2:])[0]
        elif q.startswith("<="):
            hi = _interval(q[2:])[1]
        elif q.startswith(">"):
            lo = _interval(q[1:])[1]
        elif q.startswith("<"):
            hi = _interval(q[1:])[0]
        else:
            lo, hi = _interval(q)
    except ValueError:
        raise ApiError(422, "Validation Failed", RUNS_DOCS,
                       errors=[{"resource": "WorkflowRun", "field": "created", "code": "invalid",
                                "message": f"Invalid created filter: {q}"}]) from None
    return lo, hi


# --------------------------------------------------------------------------- endpoints
def _repo_or_404(w: World, req: Request, doc: str):
    if req.params.get("repo_id"):
        rp = find_repo_by_id(w, int(req.params["repo_id"]))
    else:
        rp = find_repo(w, req.params["owner"], req.params["repo"])
    if rp is None:
        raise not_found(doc)
    return rp


def repo_path(req: Request, rp) -> str:
    """The request path in GitHub's id form, for Link headers."""
    rest = req.path.split("/", 4)[4] if req.path.startswith("/repos/") else req.path.split("/", 3)[3]
    return f"/repositories/{rp.repo_id}/{rest}"


def get_repo(req: Request, sim, r: Roots) -> Response:
    rp = _repo_or_404(sim.world, req, "https://docs.github.com/rest/repos/repos#get-a-repository")
    return Response.json(200, repo_json(sim.world, rp, r, full=True))


def org_repos(req: Request, sim, r: Roots) -> Response:
    w = sim.world
    org = org_exists(w, req.params["org"]) if req.params.get("org") else \
        {v: k for k, v in org_ids(w).items()}.get(int(req.params["org_id"]))
    if org is None:
        raise not_found("https://docs.github.com/rest/repos/repos#list-organization-repositories")
    rp = repos_now(w)
    rp = rp[rp.github_org == org]
    sort = req.arg("sort", "created")
    col = {"created": "created_at", "updated": "pushed_at", "pushed": "pushed_at", "full_name": "full_name"}.get(sort, "created_at")
    asc = req.arg("direction", "asc" if sort == "full_name" else "desc") == "asc"
    rp = rp.sort_values([col, "repo_id"], ascending=asc, kind="stable")
    return paged(req, r, rp, lambda row: repo_json(w, row, r), path=f"/organizations/{org_ids(w)[org]}/repos")


def deployment_json(w: World, row, rp, r: Roots) -> dict:
    a = f"{r.api}/repos/{rp.full_name}"
    did = int(row.gh_deployment_id)
    return {"url": f"{a}/deployments/{did}", "id": did, "node_id": node_id("DE", did), "task": "deploy",
            "original_environment": row.environment, "environment": row.environment, "description": None,
            "created_at": iso(row.started_at), "updated_at": iso(row.updated_at),
            "statuses_url": f"{a}/deployments/{did}/statuses", "repository_url": a,
            "creator": user_json(w, row.creator_login, r), "sha": row.sha,
            "ref": deployment_ref(row, rp.default_branch), "payload": {}, "transient_environment": False,
            "production_environment": row.environment == "production", "performed_via_github_app": None}


def list_deployments(req: Request, sim, r: Roots) -> Response:
    w = sim.world
    rp = _repo_or_404(w, req, "https://docs.github.com/rest/deployments/deployments#list-deployments")
    d = repo_deployments(w, rp.repo_id)
    if req.arg("sha"):
        d = d[d.sha == req.arg("sha")]
    if req.arg("ref"):
        ref = req.arg("ref").removeprefix("refs/heads/")
        d = d[np.where(d.is_rollback, d.sha, rp.default_branch) == ref]
    if req.arg("task") and req.arg("task") != "deploy":
        d = d.iloc[:0]
    if req.arg("environment"):
        d = d[d.environment == req.arg("environment")]
    return paged(req, r, d, lambda row: deployment_json(w, row, rp, r), path=repo_path(req, rp))


def list_deployment_statuses(req: Request, sim, r: Roots) -> Response:
    w = sim.world
    doc = "https://docs.github.com/rest/deployments/statuses#list-deployment-statuses"
    rp = _repo_or_404(w, req, doc)
    d = repo_deployments(w, rp.repo_id)
    hit = d[d.gh_deployment_id == int(req.params["id"])]
    if hit.empty:
        raise not_found(doc)
    dep = next(hit.itertuples(index=False))
    a = f"{r.api}/repos/{rp.full_name}"
    creator = user_json(w, dep.creator_login, r)
    rows = pd.DataFrame(deployment_statuses(dep), columns=["id", "state", "ts"])

    def render(s):
        return {"url": f"{a}/deployments/{dep.gh_deployment_id}/statuses/{s.id}", "id": int(s.id),
                "node_id": node_id("DES", int(s.id)), "state": s.state, "creator": creator,
                "description": STATUS_DESCRIPTIONS.get(s.state, ""), "environment": dep.environment, "target_url": "",
                "created_at": iso(s.ts), "updated_at": iso(s.ts),
                "deployment_url": f"{a}/deployments/{dep.gh_deployment_id}", "repository_url": a,
                "environment_url": "", "log_url": "", "performed_via_github_app": None}
    return paged(req, r, rows, render, path=repo_path(req, rp))


def release_json(w: World, row, rp, r: Roots) -> dict:
    a = f"{r.api}/repos/{rp.full_name}"
    rid = int(row.release_id)
    return {"url": f"{a}/releases/{rid}", "assets_url": f"{a}/releases/{rid}/assets",
            "upload_url": f"{r.web.replace('://', '://uploads.', 1)}/repos/{rp.full_name}/releases/{rid}/assets{{?name,label}}",
            "html_url": f"{r.web}/{rp.full_name}/releases/tag/{row.tag}", "id": rid,
            "author": user_json(w, "acme-release-bot", r), "node_id": node_id("RE", rid), "tag_name": row.tag,
            "target_commitish": row.sha, "name": row.tag, "draft": False, "immutable": False, "prerelease": False,
            "created_at": iso(row.created_at), "updated_at": iso(row.created_at),
            "published_at": iso(row.created_at), "assets": [], "tarball_url": f"{a}/tarball/{row.tag}",
            "zipball_url": f"{a}/zipball/{row.tag}", "body": f"Release {row.tag} of {rp.name}."}


def list_releases(req: Request, sim, r: Roots) -> Response:
    w = sim.world
    rp = _repo_or_404(w, req, "https://docs.github.com/rest/releases/releases#list-releases")
    return paged(req, r, repo_releases(w, rp.repo_id), lambda row: release_json(w, row, rp, r), path=repo_path(req, rp))


def _matching_runs(req: Request, runs: pd.DataFrame) -> np.ndarray:
    """Positions (newest first) of the runs the listing's filters keep. A mask over the
    repository's frame, not a filtered copy of it: only the page's rows are read."""
    keep = np.ones(len(runs), dtype=bool)
    for arg, col in (("branch", "head_branch"), ("event", "event"), ("head_sha", "head_sha"), ("actor", "actor")):
        if req.arg(arg):
            keep &= (runs[col] == req.arg(arg)).to_numpy(dtype=bool, na_value=False)
    if req.arg("check_suite_id"):
        keep &= runs.run_id.to_numpy() == _int_arg(req, "check_suite_id", 0) - CHECK_SUITE_BASE + RUN_ID_BASE
    status = req.arg("status")
    if status:
        col = runs.status_now if status in RUN_STATUSES else runs.conclusion_now
        keep &= (col == status).to_numpy(dtype=bool, na_value=False)
    if req.arg("created"):
        lo, hi = created_window(req.arg("created"))
        created = runs.created_at.to_numpy()
        keep &= (created >= lo) & (created < hi)
    return np.flatnonzero(keep)


def _pr_titles(w: World, repo_id: int) -> dict[int, str]:
    """PR row -> title, for one repository's pull requests."""
    def build():
        prs = w["prs"]
        mine = prs[prs.repo_id == repo_id]
        return dict(zip(mine.index.tolist(), mine.title.tolist()))
    return w.cached(("gh.pr_titles", repo_id), build)


RUN_COLUMNS = ("run_id", "head_sha", "head_branch", "run_number", "event", "status_now", "conclusion_now",
               "created_at", "updated_at")


def runs_json(w: World, page: pd.DataFrame, rp, r: Roots, with_prs: bool = True) -> list[str]:
    """The page's runs as JSON text, one string per run, in GitHub's shape (byte for byte what
    json.dumps of one dict per run gives). Every run ends with the same `repository` and
    `head_repository` objects (9 of a run's 11 kB) and carries its actor twice: those are
    encoded once per page and spliced in, where a dict per run would encode them each time."""
    a = f"{r.api}/repos/{rp.full_name}"
    repo_min = json.dumps(repo_min_json(w, rp, r), separators=(",", ":"))
    tail = f',"repository":{repo_min},"head_repository":{repo_min}}}'
    info_of, accts, titles = _commit_info(w, rp.repo_id), accounts(w), _pr_titles(w, rp.repo_id)
    wid = WORKFLOW_ID_BASE + int(rp.repo_id)
    users: dict = {}
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    out = []
    for rid, sha, branch, number, event, status, conclusion, created, updated in zip(
            *(page[c].tolist() for c in RUN_COLUMNS)):
        login, message, ts, pr_ix, via_web = info_of.get(sha, (None, "", created, None, False))
        acct = accts.get(login, (0, login, None))
        actor = users.get(login)
        if actor is None:
            actor = users[login] = dumps(user_json(w, login, r))
        for_pr = event == "pull_request" and pr_ix is not None
        title = titles[pr_ix] if for_pr else message.split("\n", 1)[0]
        prs = _run_pull_requests(w, created, rp, a, pr_ix) if for_pr and with_prs else []
        committer = {"name": "GitHub", "email": "noreply@github.com"} if via_web else {"name": acct[1], "email": acct[2]}
        suite = CHECK_SUITE_BASE + rid - RUN_ID_BASE
        started = iso(created)
        # Three dicts around the two copies of the (pre-encoded) actor, keys in GitHub's order.
        head = {"id": rid, "name": "CI", "node_id": node_id("WFR", rid), "head_branch": branch,
                "head_sha": sha, "path": ".github/workflows/ci.yml", "display_title": title,
                "run_number": number, "event": event, "status": status,
                "conclusion": conclusion if status == "completed" else None, "workflow_id": wid,
                "check_suite_id": suite, "check_suite_node_id": node_id("CS", suite),
                "url": f"{a}/actions/runs/{rid}", "html_url": f"{r.web}/{rp.full_name}/actions/runs/{rid}",
                "pull_requests": prs, "created_at": started, "updated_at": iso(updated)}
        middle = {"run_attempt": 1, "referenced_workflows": [], "run_started_at": started}
        rest = {"jobs_url": f"{a}/actions/runs/{rid}/jobs", "logs_url": f"{a}/actions/runs/{rid}/logs",
                "check_suite_url": f"{a}/check-suites/{suite}",
                "artifacts_url": f"{a}/actions/runs/{rid}/artifacts", "cancel_url": f"{a}/actions/runs/{rid}/cancel",
                "rerun_url": f"{a}/actions/runs/{rid}/rerun", "previous_attempt_url": None,
                "workflow_url": f"{a}/actions/workflows/{wid}",
                "head_commit": {"id": sha, "tree_id": tree_sha(sha), "message": message,
                                "timestamp": iso(ts), "author": {"name": acct[1], "email": acct[2]},
                                "committer": committer}}
        out.append(f'{dumps(head)[:-1]},"actor":{actor},{dumps(middle)[1:-1]},"triggering_actor":{actor},'
                   f'{dumps(rest)[1:-1]}{tail}')
    return out


def _run_pull_requests(w: World, created: int, rp, a: str, pr_ix: int) -> list[dict]:
    p = w["prs"].loc[pr_ix]
    repo_ref = {"id": int(rp.repo_id), "url": a, "name": rp.name}
    return [{"url": f"{a}/pulls/{p.number}", "id": int(p.pr_id), "number": int(p.number),
             "head": {"ref": p.head_ref, "sha": p.head_sha, "repo": repo_ref},
             "base": {"ref": rp.default_branch, "sha": _main_head_at(w, rp.repo_id, created),
                      "repo": repo_ref}}]


def _main_head_at(w: World, repo_id: int, ts: int) -> str | None:
    mc = repo_main_commits(w, repo_id)
    t = mc.authored_at.to_numpy()[::-1]
    i = int(np.searchsorted(t, ts, side="right")) - 1
    return mc.sha.to_numpy()[::-1][i] if i >= 0 else None


def list_runs(req: Request, sim, r: Roots) -> Response:
    w = sim.world
    rp = _repo_or_404(w, req, RUNS_DOCS)
    runs = repo_runs(w, rp.repo_id)
    hits = _matching_runs(req, runs)
    capped = any(req.arg(k) for k in RUNS_CAPPED_BY)
    lo, hi, link = page_window(req, r, len(hits), RUNS_RESULT_CAP if capped else None, repo_path(req, rp))
    # GitHub: "exclude_pull_requests: If true pull requests are omitted from the response (empty array)."
    with_prs = req.arg("exclude_pull_requests", "false").lower() != "true"
    items = runs_json(w, runs.iloc[hits[lo:hi]], rp, r, with_prs)
    body = f'{{"total_count":{len(hits)},"workflow_runs":[{",".join(items)}]}}'.encode()
    return Response(200, body, {"Content-Type": "application/json; charset=utf-8", **({"Link": link} if link else {})})


def commit_json(w: World, row, rp, r: Roots) -> dict:
    a = f"{r.api}/repos/{rp.full_name}"
    date = iso(row.authored_at)
    via_web = row.pr_ix >= 0
    committer = WEB_FLOW_LOGIN if via_web else row.author_login
    parents = [p for p in (row.parent_sha, row.second_parent_sha) if isinstance(p, str)]
    return {"sha": row.sha, "node_id": node_id("C", int(rp.repo_id), row.sha),
            "commit": {"author": {"name": row.author_name, "email": row.author_email, "date": date},
                       "committer": ({"name": "GitHub", "email": "noreply@github.com", "date": date} if via_web else
                                     {"name": row.author_name, "email": row.author_email, "date": date}),
                       "message": row.message, "tree": {"sha": tree_sha(row.sha), "url": f"{a}/git/trees/{tree_sha(row.sha)}"},
                       "url": f"{a}/git/commits/{row.sha}", "comment_count": 0,
                       "verification": {"verified": bool(via_web), "reason": "valid" if via_web else "unsigned",
                                        "signature": None, "payload": None, "verified_at": date if via_web else None}},
            "url": f"{a}/commits/{row.sha}", "html_url": f"{r.web}/{rp.full_name}/commit/{row.sha}",
            "comments_url": f"{a}/commits/{row.sha}/comments", "author": user_json(w, row.author_login, r),
            "committer": user_json(w, committer, r),
            "parents": [{"sha": p, "url": f"{a}/commits/{p}", "html_url": f"{r.web}/{rp.full_name}/commit/{p}"}
                        for p in parents]}


def list_commits(req: Request, sim, r: Roots) -> Response:
    w = sim.world
    doc = "https://docs.github.com/rest/commits/commits#list-commits"
    rp = _repo_or_404(w, req, doc)
    mc = repo_main_commits(w, rp.repo_id)
    start = req.arg("sha")
    if start and start.removeprefix("refs/heads/") != rp.default_branch:
        hit = mc[mc.sha.str.startswith(start)] if len(start) >= 7 else mc.iloc[:0]
        if hit.empty:
            raise ApiError(404, f"No commit found for SHA: {start}", doc)
        mc = mc[mc.seq <= int(hit.seq.iloc[0])]
    if req.arg("since"):
        mc = mc[mc.authored_at >= parse_time(req.arg("since"), "since")]
    if req.arg("until"):
        mc = mc[mc.authored_at <= parse_time(req.arg("until"), "until")]
    if req.arg("author"):
        who = req.arg("author")
        mc = mc[(mc.author_login == who) | (mc.author_email == who)]
    return paged(req, r, mc, lambda row: commit_json(w, row, rp, r), path=repo_path(req, rp))


def get_user(req: Request, sim, r: Roots) -> Response:
    u = user_json(sim.world, VIEWER_LOGIN, r)
    created = iso(sim.world.start - 400 * 86400)
    u.update({"name": VIEWER_NAME, "company": "Acme", "blog": "", "location": None, "email": None,
              "hireable": None, "bio": "Reads engineering activity for the SEI warehouse.", "twitter_username": None,
              "notification_email": None, "public_repos": 0, "public_gists": 0, "followers": 0, "following": 0,
              "created_at": created, "updated_at": created})
    return Response.json(200, u)


def rate_limit(req: Request, sim, r: Roots) -> Response:
    def res(kind=None, limit=None):
        if kind is None:
            return {"limit": limit, "used": 0, "remaining": limit, "reset": sim.window_reset("github.rest")}
        used, remaining = window_state(sim, kind, req.token)
        return {"limit": sim.windows[kind].limit, "used": used, "remaining": max(0, remaining),
                "reset": sim.window_reset(kind)}
    core = res("github.rest")
    resources = {"core": core, "search": res(limit=30), "graphql": res("github.graphql"),
                 "integration_manifest": res(limit=5000), "source_import": res(limit=100),
                 "code_scanning_upload": res(limit=1000), "actions_runner_registration": res(limit=10000),
                 "scim": res(limit=15000), "dependency_snapshots": res(limit=100), "code_search": res(limit=10)}
    return Response.json(200, {"resources": resources, "rate": core})


# --------------------------------------------------------------------------- routing
COMMON_HEADERS = {"X-GitHub-Media-Type": "github.v3; format=json", "X-GitHub-Api-Version-Selected": "2022-11-28",
                  "X-OAuth-Scopes": "read:org, repo", "X-Accepted-OAuth-Scopes": "repo"}


def _endpoint(fn, charged: bool = True):
    def handle(req: Request, sim) -> Response:
        ok, used, remaining = charge(sim, "github.rest", req.token, 1 if charged else 0)
        headers = {**COMMON_HEADERS, **rate_headers(sim, "github.rest", "core", used, remaining)}
        if not ok:
            headers["x-ratelimit-remaining"] = "0"
            resp = Response.json(403, {"message": exceeded_message(sim),
                                       "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api",
                                       "status": "403"})
        else:
            try:
                resp = fn(req, sim, roots(req, sim))
            except ApiError as e:
                resp = e.response()
        resp.headers.update(headers)
        return resp
    return handle


REPO = r"(?:/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)|/repositories/(?P<repo_id>\d+))"


def register(r: Router) -> None:
    r.add("GET", REPO, "github.rest.repo", _endpoint(get_repo))
    r.add("GET", r"(?:/orgs/(?P<org>[^/]+)|/organizations/(?P<org_id>\d+))/repos", "github.rest.org_repos",
          _endpoint(org_repos))
    r.add("GET", REPO + r"/deployments", "github.rest.deployments", _endpoint(list_deployments))
    r.add("GET", REPO + r"/deployments/(?P<id>\d+)/statuses", "github.rest.deployment_statuses",
          _endpoint(list_deployment_statuses))
    r.add("GET", REPO + r"/releases", "github.rest.releases", _endpoint(list_releases))
    r.add("GET", REPO + r"/actions/runs", "github.rest.workflow_runs", _endpoint(list_runs))
    r.add("GET", REPO + r"/commits", "github.rest.commits", _endpoint(list_commits))
    r.add("GET", r"/user", "github.rest.user", _endpoint(get_user))
    # GitHub: "Accessing this endpoint does not count against your REST API rate limit."
    r.add("GET", r"/rate_limit", "github.rest.rate_limit", _endpoint(rate_limit, charged=False))
