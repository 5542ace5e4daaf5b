"""GitHub answers as table rows: column types, timestamps, Jira keys found in a pull request,
the REST id inside a node id, and one builder per table.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from typing import Iterable


JIRA_KEY_RX = re.compile(r"[A-Z][A-Z0-9]+-\d+")
JIRA_KEY_RX_ANYCASE = re.compile(r"(?<![A-Za-z0-9])([A-Za-z][A-Za-z0-9]+-\d+)")


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


def split_timeline(n: dict) -> dict:
    """A pull request node whose `timelineItems` (every one, pages joined) holds its reviews
    and ready-for-review events, reshaped as `reviews` (nodes, totalCount) and
    `timelineItems` (the first ready-for-review event), the shape `pr_row` reads."""
    items = (n.get("timelineItems") or {}).get("nodes") or []
    reviews = [x for x in items if x and x.get("__typename") == "PullRequestReview"]
    ready = [x for x in items if x and x.get("__typename") == "ReadyForReviewEvent"]
    n["reviews"] = {"totalCount": len(reviews), "nodes": reviews}
    n["timelineItems"] = {"nodes": ready[:1]}
    return n


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
