"""Engineering activity over the whole history (and a future horizon the clock can move
into): pull requests with commits and reviews, the default branches' first-parent
history, deployments, incidents, Jira work items and sprints, CI runs and releases.

Volume scales to millions of rows for the large org, so the per-PR work is vectorised
with numpy; only per-service deployment sequences (thousands of events each) loop.
All times are int64 epoch seconds, UTC.
"""
from __future__ import annotations

import heapq
import itertools

import numpy as np
import pandas as pd

from simulator import names
from simulator.org import DAY, _hex
from simulator.sizes import PROFILES

HOUR = 3600
INCIDENT_WINDOW_H = 24  # documented default window of the causation rule; some incidents land outside it


def _ln(rng, median_h, n, sigma=0.8):
    """Lognormal durations in seconds with the given median in hours."""
    return (np.asarray(median_h, dtype=float) * HOUR * rng.lognormal(0.0, sigma, n)).astype(np.int64)


def _workday_time(rng, t):
    """Move most weekend times to Monday, and times of day towards working hours."""
    t = np.asarray(t, dtype=np.int64)
    day = t // DAY
    wd = (day + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    weekend = (wd >= 5) & (rng.random(len(t)) < 0.85)
    day = np.where(weekend, day + (7 - wd), day)
    hour = np.clip(rng.normal(14, 2.5, len(t)), 7, 21)
    return day * DAY + (hour * HOUR).astype(np.int64)


def _team_at(mem: pd.DataFrame, dev_ids: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Primary team of each (developer, time): effective-dated lookup."""
    m = mem[mem.primary].sort_values("valid_from")
    q = pd.DataFrame({"dev_id": dev_ids, "ts": ts, "_i": np.arange(len(ts))}).sort_values("ts")
    j = pd.merge_asof(q, m[["dev_id", "team_id", "valid_from"]], left_on="ts", right_on="valid_from",
                      by="dev_id", direction="backward")
    # Before the first membership starts (a joiner's first days): their first team.
    first = m.drop_duplicates("dev_id").set_index("dev_id").team_id
    j["team_id"] = j.team_id.fillna(j.dev_id.map(first))
    return j.sort_values("_i").team_id.to_numpy()


def build_activity(org: dict, rng: np.random.Generator, start: int, end: int) -> dict[str, pd.DataFrame]:
    a = _pull_requests(org, rng, start, end)
    a.update(_deployments(org, rng, a, start, end))
    prs = a.pop("prs_base")
    a["prs"], a["pr_commits"], a["reviews"] = _finish_prs(org, rng, prs)
    a.update(_jira(org, rng, a, start, end))
    a["main_commits"] = _main_history(org, rng, a)
    a["workflow_runs"] = _workflow_runs(org, rng, a)
    a["releases"] = _releases(org, rng, a)
    return a


# --------------------------------------------------------------------------- pull requests
def _pull_requests(org, rng, start, end):
    devs, teams, repos, mem = org["developers"], org["teams"], org["repos"], org["memberships"]
    profile = teams.set_index("team_id").profile
    rate = devs.role.map({"engineer": 1.0, "manager": 0.35, "director": 0.05, "vp": 0.02}).to_numpy()
    prof = devs.home_team.map(profile).fillna("medium")
    rate = rate * prof.map(lambda p: PROFILES[p]["prs_per_week"]).to_numpy()
    d_from = devs.start_at.to_numpy(np.int64)
    d_to = devs.end_at.fillna(end).to_numpy(np.int64)
    weeks = np.maximum(d_to - d_from, 0) / (7 * DAY)
    counts = rng.poisson(rate * weeks)
    dev_idx = np.repeat(np.arange(len(devs)), counts)
    created = d_from[dev_idx] + (rng.random(len(dev_idx)) * (d_to - d_from)[dev_idx]).astype(np.int64)
    created = _workday_time(rng, created)
    keep = created < np.minimum(d_to[dev_idx], end)
    dev_idx, created = dev_idx[keep], created[keep]
    author_dev = devs.dev_id.to_numpy()[dev_idx]
    team = _team_at(mem, author_dev, created)
    # Mostly the team's own repositories, sometimes another team's in the same division.
    team_repos = repos[repos.service_id.notna()].groupby("team_id").repo_id.apply(np.array).to_dict()
    org_repos = repos.groupby(repos.project_id.map(org["projects"].set_index("project_id").org_id)).repo_id.apply(np.array).to_dict()
    team_org = teams.set_index("team_id").org_id
    n = len(created)
    u = rng.random(n)
    repo = np.empty(n, dtype=np.int64)
    for t, idx in pd.Series(team).groupby(team).indices.items():  # one pass, not one scan per team
        own = team_repos.get(t)
        other = org_repos.get(team_org[t], repos.repo_id.to_numpy())
        pick_own = rng.integers(0, 1 << 30, len(idx)) % (len(own) if own is not None else 1)
        pick_other = rng.integers(0, 1 << 30, len(idx)) % len(other)
        repo[idx] = np.where((u[idx] < 0.88) & (own is not None), own[pick_own] if own is not None else 0,
                             other[pick_other])
    prs = pd.DataFrame({"repo_id": repo, "author_dev": author_dev, "team_id": team, "created_at": created,
                        "kind": "feature"})
    # Bots: dependency bumps, roughly every other week per repository.
    bot_rows = []
    for r in repos.itertuples():
        k = rng.poisson((end - start) / (14 * DAY))
        ts = _workday_time(rng, start + (rng.random(k) * (end - start)).astype(np.int64))
        bot_rows.append(pd.DataFrame({"repo_id": r.repo_id, "author_dev": None, "team_id": r.team_id,
                                      "created_at": ts, "kind": "bot"}))
    prs = pd.concat([prs, *bot_rows], ignore_index=True)
    prs = _pr_timeline(org, rng, prs)
    return {"prs_base": _reverts(rng, prs)}


def _pr_timeline(org, rng, prs):
    """Draft -> ready -> first review -> merged/closed, with each team's phase medians."""
    coding, pickup, review = _phase_params(org, prs.team_id.to_numpy())
    n = len(prs)
    is_bot = (prs.kind == "bot").to_numpy()
    draft = (rng.random(n) < 0.15) & ~is_bot
    ready = prs.created_at.to_numpy() + np.where(draft, _ln(rng, 8, n), 0)
    outcome = rng.random(n)
    merged_flag = outcome < 0.87
    closed_flag = (outcome >= 0.87) & (outcome < 0.96)
    never_ready = draft & (rng.random(n) < 0.08)
    merged_flag &= ~never_ready
    closed_flag |= never_ready & (rng.random(n) < 0.5)
    reviewed = merged_flag & (rng.random(n) < 0.94) | closed_flag & (rng.random(n) < 0.5)
    first_review = ready + _ln(rng, pickup, n)
    merged_at = np.where(reviewed, first_review, ready + _ln(rng, pickup, n)) + _ln(rng, review, n)
    prs["is_draft_start"] = draft
    prs["ready_at"] = np.where(never_ready, -1, ready)
    prs["first_commit_at"] = ready - np.where(is_bot, 0, _ln(rng, coding, n))
    prs["first_review_at"] = np.where(reviewed, first_review, -1)
    prs["merged_at"] = np.where(merged_flag, merged_at, -1)
    prs["closed_at"] = np.where(merged_flag, merged_at, np.where(closed_flag, prs.created_at + _ln(rng, 72, n), -1))
    prs["kind"] = np.where(is_bot, "bot", "feature")

    return prs


def _reverts(rng, prs):
    """About 1.5% of merged feature PRs are reverted by a later PR in the same repository."""
    cand = prs.index[(prs.merged_at >= 0) & (prs.kind == "feature")].to_numpy()
    pick = cand[rng.random(len(cand)) < 0.015]
    src = prs.loc[pick]
    n = len(src)
    created = src.merged_at.to_numpy() + _ln(rng, 20, n, 1.0) + 600
    merged = created + _ln(rng, 1.5, n) + 300
    rev = pd.DataFrame({"repo_id": src.repo_id.to_numpy(), "author_dev": src.author_dev.to_numpy(),
                        "team_id": src.team_id.to_numpy(), "created_at": created, "kind": "revert",
                        "is_draft_start": False, "ready_at": created, "first_commit_at": created - 120,
                        "first_review_at": created + _ln(rng, 0.5, n) + 60, "merged_at": merged,
                        "closed_at": merged, "reverts_ix": pick})
    rev["first_review_at"] = np.minimum(rev.first_review_at, merged - 60)
    return pd.concat([prs, rev], ignore_index=True)


def _phase_params(org, team_ids):
    profile = org["teams"].set_index("team_id").profile.reindex(team_ids).fillna("medium").to_numpy()
    get = lambda k: np.array([PROFILES[p][k] for p in profile])  # noqa: E731
    return get("coding_h"), get("pickup_h"), get("review_h")


# --------------------------------------------------------------------------- deployments
def _deployments(org, rng, a, start, end):
    """Per service: a production cadence, staging before production, failures, rollbacks,
    incidents caused by deployments (and unrelated ones), hotfix PRs and their deployments."""
    prs = a["prs_base"]
    services, repos, devs, mem = org["services"], org["repos"], org["developers"], org["memberships"]
    # Per repository: merged PRs and direct pushes in merge order, as base commits.
    m = prs[prs.merged_at >= 0]
    repo_commits = {rid: np.sort(g.merged_at.to_numpy()) for rid, g in m.groupby("repo_id")}
    repo_pr_ix = {rid: g.sort_values("merged_at").index.to_numpy() for rid, g in m.groupby("repo_id")}

    team_members = mem[mem.primary].groupby("team_id").dev_id.apply(np.array).to_dict()
    dep_rows, inc_rows, hotfix_rows, rollback_of = [], [], [], {}
    dep_id = 0
    inc_id = 0
    svc = services.merge(repos[["repo_id", "team_id"]].rename(columns={"team_id": "repo_team"}), on="repo_id")
    for s in svc.itertuples():
        p = PROFILES[s.profile]
        base_t = repo_commits.get(s.repo_id, np.array([], dtype=np.int64))
        base_ix = repo_pr_ix.get(s.repo_id, np.array([], dtype=np.int64))
        hot_t: list[int] = []
        hot_ix: list[int] = []
        days = np.arange(start // DAY, end // DAY)
        days = days[((days + 3) % 7) < 5]
        k = rng.poisson(p["deploys_per_day"], len(days))
        times = np.repeat(days, k) * DAY + (rng.uniform(9, 18, k.sum()) * HOUR).astype(np.int64)
        tick = itertools.count()  # unique tie-breaker: payloads are not comparable
        events = [(int(t), next(tick), "scheduled", None) for t in np.sort(times)]
        heapq.heapify(events)
        live = None        # (commit key) currently in production
        prev_live = None

        def head(t):
            i = np.searchsorted(base_t, t, side="right") - 1
            b = (int(base_t[i]), ("pr", int(base_ix[i]))) if i >= 0 else None
            j = np.searchsorted(hot_t, t, side="right") - 1 if hot_t else -1
            h = (hot_t[j], ("hot", hot_ix[j])) if j >= 0 else None
            if b and h:
                return b[1] if b[0] >= h[0] else h[1]
            return (b or h or (None, None))[1]

        while events:
            t, _, kind, payload = heapq.heappop(events)
            if t >= end:
                break
            if kind == "rollback":
                target = payload
                if target is None or target == live:
                    continue
                commit, is_rb, is_hot = target, True, False
            else:
                commit = head(t) if kind != "hotfix" else payload
                if commit is None:
                    continue
                if commit == live and kind == "scheduled" and rng.random() > 0.04:
                    continue  # nothing new to ship; a few services re-deploy the same version anyway
                is_rb, is_hot = False, kind == "hotfix"
            st = t - int(rng.lognormal(0, 0.6) * HOUR)
            dur = int(rng.lognormal(0, 0.5) * 12 * 60)
            dep_rows.append(dict(deployment_id=dep_id, service_id=s.service_id, environment="staging", commit=commit,
                                 started_at=st, finished_at=st + dur, status="success", is_rollback=is_rb,
                                 is_hotfix=is_hot, trigger=kind, cause=None))
            dep_id += 1
            dur = int(rng.lognormal(0, 0.5) * 15 * 60)
            fin = t + dur
            r = rng.random()
            redeploy = commit == live
            status, cause = "success", None
            if not is_rb and not redeploy and r < p["p_fail"]:
                status, cause = "failure", "failed"
            elif not is_rb and not redeploy and r < p["p_fail"] + p["p_rollback"]:
                cause = "rolled_back"
            elif not is_rb and not redeploy and r < p["p_fail"] + p["p_rollback"] + p["p_incident"]:
                cause = "incident"
            dep_rows.append(dict(deployment_id=dep_id, service_id=s.service_id, environment="production",
                                 commit=commit, started_at=t, finished_at=fin, status=status, is_rollback=is_rb,
                                 is_hotfix=is_hot, trigger=kind, cause=cause))
            this_dep = dep_id
            dep_id += 1
            if status == "failure":
                heapq.heappush(events, (fin + int(_ln(rng, p["recovery_h"], 1)[0]) + 60, next(tick), "retry", None))
                continue
            prev_live, live = live, commit
            if cause == "rolled_back":
                heapq.heappush(events, (fin + int(_ln(rng, p["recovery_h"], 1)[0]) + 60, next(tick), "rollback", prev_live))
                rollback_of[this_dep] = prev_live
            elif cause == "incident":
                late = rng.random() < 0.06
                opened = fin + (int(rng.uniform(30, 96) * HOUR) if late else int(_ln(rng, 1.5, 1, 1.0)[0]) + 300)
                opened = min(opened, fin + 200 * HOUR)
                resolved = opened + int(_ln(rng, p["recovery_h"], 1)[0]) + 600
                inc_rows.append(dict(incident_id=inc_id, service_id=s.service_id, opened_at=opened,
                                     resolved_at=resolved, caused_by=this_dep,
                                     severity=rng.choice(["SEV-1", "SEV-2", "SEV-3"], p=[0.15, 0.45, 0.4])))
                inc_id += 1
                # A hotfix PR, reviewed fast, then deployed as a hotfix before the incident is closed.
                members = team_members.get(s.team_id, np.array([]))
                author = members[rng.integers(len(members))] if len(members) else None
                created = opened + int(_ln(rng, 0.4, 1)[0]) + 60
                merged = created + int(_ln(rng, 0.6, 1)[0]) + 60
                merged = min(merged, max(created + 120, resolved - 300))
                hotfix_rows.append(dict(repo_id=s.repo_id, author_dev=author, team_id=s.team_id, created_at=created,
                                        kind="hotfix", is_draft_start=False, ready_at=created,
                                        first_commit_at=created - int(_ln(rng, 0.5, 1)[0]),
                                        first_review_at=created + 120 + int(rng.integers(0, 600)),
                                        merged_at=merged, closed_at=merged))
                hot_t.append(merged)
                hot_ix.append(len(hotfix_rows) - 1)
                heapq.heappush(events, (merged + int(rng.integers(300, 1800)), next(tick), "hotfix", ("hot", len(hotfix_rows) - 1)))
        # Incidents nobody's deployment caused: infrastructure, upstream outages.
        k = rng.poisson((end - start) / (120 * DAY))
        for t in np.sort(start + (rng.random(k) * (end - start)).astype(np.int64)):
            inc_rows.append(dict(incident_id=inc_id, service_id=s.service_id, opened_at=int(t),
                                 resolved_at=int(t) + int(_ln(rng, p["recovery_h"], 1)[0]) + 600, caused_by=None,
                                 severity=rng.choice(["SEV-2", "SEV-3"])))
            inc_id += 1
    deps = pd.DataFrame(dep_rows)
    incs = pd.DataFrame(inc_rows).sort_values("opened_at", kind="stable").reset_index(drop=True)
    hot = pd.DataFrame(hotfix_rows)
    # Hotfix PRs join the PR table; commit keys become PR row indexes.
    base_n = len(prs)
    prs = pd.concat([prs, hot], ignore_index=True)
    deps["pr_ix"] = deps.commit.map(lambda c: c[1] + (base_n if c[0] == "hot" else 0)).astype(np.int64)
    deps = deps.drop(columns="commit")
    return {"prs_base": prs, "deployments_base": deps, "incidents_base": incs}


# --------------------------------------------------------------------------- PR details
def _finish_prs(org, rng, prs):
    """Numbers, authors' accounts, sizes, commits on the PR branch and reviews."""
    prs = prs.reset_index(drop=True)
    n = len(prs)
    # Hotfix and revert rows copied a team (the service's, the reverted PR's); the truth is
    # the author's team when the PR was opened.
    human = prs.author_dev.notna().to_numpy()
    prs.loc[human, "team_id"] = _team_at(org["memberships"], prs.author_dev.to_numpy()[human],
                                         prs.created_at.to_numpy()[human])
    accts = org["tool_accounts"]
    gh = accts[accts.tool == "github"]
    primary = gh[gh.kind == "primary"].set_index("dev_id").login
    secondary = gh[gh.kind == "secondary"].set_index("dev_id").login
    login = prs.author_dev.map(primary)
    sec = prs.author_dev.map(secondary)
    use_sec = sec.notna() & (rng.random(n) < 0.3)
    login = login.where(~use_sec, sec)
    bots = np.where(rng.random(n) < 0.6, "dependabot[bot]", "renovate[bot]")
    prs["author_login"] = np.where(prs.kind == "bot", bots, login.fillna("acme-release-bot"))
    prs["number"] = prs.groupby("repo_id").created_at.rank(method="first").astype(np.int64) + (prs.repo_id * 37 % 400)
    prs["additions"] = np.where(prs.kind == "bot", rng.integers(1, 40, n), rng.lognormal(np.log(80), 1.2, n).astype(np.int64) + 1)
    prs["deletions"] = np.where(prs.kind == "bot", rng.integers(1, 40, n), rng.lognormal(np.log(25), 1.3, n).astype(np.int64))
    prs["changed_files"] = np.where(prs.kind == "bot", rng.integers(1, 3, n), 1 + rng.lognormal(np.log(3), 0.9, n).astype(np.int64))
    hot = (prs.kind == "hotfix").to_numpy()
    prs.loc[hot, ["additions", "deletions", "changed_files"]] = [12, 4, 1]

    # Commits: some before the PR is ready, and on a third of reviewed PRs rework after review.
    reviewed = (prs.first_review_at >= 0).to_numpy()
    ready = np.where(prs.ready_at >= 0, prs.ready_at, prs.closed_at.where(prs.closed_at >= 0, prs.created_at)).astype(np.int64)
    n_pre = np.where(prs.kind.isin(["bot", "revert"]), 1, 1 + rng.poisson(1.5, n))
    rework = reviewed & (prs.kind == "feature").to_numpy() & (rng.random(n) < 0.3) & (prs.merged_at >= 0).to_numpy()
    n_post = np.where(rework, 1 + rng.poisson(0.8, n), 0)
    pr_ix = np.repeat(np.arange(n), n_pre)
    first = prs.first_commit_at.to_numpy()[pr_ix]
    lo, hi = first, np.maximum(ready[pr_ix], first)
    pos = np.arange(len(pr_ix)) - np.repeat(np.cumsum(n_pre) - n_pre, n_pre)
    t_pre = np.where(pos == 0, lo, lo + (rng.random(len(pr_ix)) * (hi - lo)).astype(np.int64))
    post_ix = np.repeat(np.arange(n), n_post)
    fr = prs.first_review_at.to_numpy()[post_ix]
    mg = prs.merged_at.to_numpy()[post_ix]
    t_post = fr + 60 + (rng.random(len(post_ix)) * np.maximum(mg - fr - 120, 1)).astype(np.int64)
    commits = pd.DataFrame({"pr_ix": np.concatenate([pr_ix, post_ix]), "authored_at": np.concatenate([t_pre, t_post]),
                            "after_review": np.concatenate([np.zeros(len(pr_ix), bool), np.ones(len(post_ix), bool)])})
    commits = commits.sort_values(["pr_ix", "authored_at"], kind="stable").reset_index(drop=True)
    commits["sha"] = _hex(rng, len(commits), 40)
    commits["seq"] = commits.groupby("pr_ix").cumcount()
    verbs = np.array(["Add", "Fix", "Refactor", "Update", "Remove", "Handle", "Improve", "Test"])
    commits["message"] = np.char.add(verbs[rng.integers(0, len(verbs), len(commits))], " changes")
    prs["commit_count"] = commits.groupby("pr_ix").size().reindex(range(n), fill_value=0).to_numpy()
    prs["head_sha"] = commits.groupby("pr_ix").sha.last().reindex(range(n)).to_numpy()

    # Reviews by teammates; the last review of a merged PR approves it.
    members = org["memberships"].groupby("team_id").dev_id.apply(np.array).to_dict()
    all_devs = org["developers"][org["developers"].role == "engineer"].dev_id.to_numpy()
    n_rev = np.where(reviewed, np.minimum(1 + rng.poisson(0.7, n), 4), 0)
    r_ix = np.repeat(np.arange(n), n_rev)
    r_pos = np.arange(len(r_ix)) - np.repeat(np.cumsum(n_rev) - n_rev, n_rev)
    r_n = n_rev[r_ix]
    reviewer = np.empty(len(r_ix), dtype=object)
    team_arr = prs.team_id.to_numpy()[r_ix]
    author_arr = prs.author_dev.to_numpy()[r_ix]
    for t, idx in pd.Series(team_arr).groupby(team_arr).indices.items():
        pool = members.get(t, all_devs)
        pick = pool[rng.integers(0, len(pool), len(idx))]
        clash = pick == author_arr[idx]
        pick[clash] = all_devs[rng.integers(0, len(all_devs), clash.sum())]
        reviewer[idx] = pick
    fr = prs.first_review_at.to_numpy()[r_ix]
    end_t = np.where(prs.merged_at.to_numpy()[r_ix] >= 0, prs.merged_at.to_numpy()[r_ix], prs.closed_at.to_numpy()[r_ix])
    end_t = np.where(end_t >= 0, end_t, fr + 3 * DAY)
    last = r_pos == r_n - 1
    span = np.maximum(end_t - fr - 120, 1)
    t_rev = np.where(r_pos == 0, fr, np.where(last, end_t - 60 - (rng.random(len(r_ix)) * np.minimum(span, 1800)).astype(np.int64),
                                              fr + (rng.random(len(r_ix)) * span).astype(np.int64)))
    t_rev = np.maximum(t_rev, fr)
    merged_r = prs.merged_at.to_numpy()[r_ix] >= 0
    state = np.where(last & merged_r, "APPROVED", np.where(rng.random(len(r_ix)) < 0.6, "COMMENTED", "APPROVED"))
    state = np.where((r_pos == 0) & rework[r_ix] & ~(last & merged_r), "CHANGES_REQUESTED", state)
    comments = np.where(state == "CHANGES_REQUESTED", 1 + rng.poisson(2.5, len(r_ix)), rng.poisson(0.8, len(r_ix)))
    reviews = pd.DataFrame({"pr_ix": r_ix, "reviewer_dev": reviewer, "submitted_at": t_rev, "state": state,
                            "comments": comments})
    # A few authors comment on their own PR first: not a review for pickup time.
    own = np.flatnonzero(reviewed & (rng.random(n) < 0.01) & (prs.kind == "feature").to_numpy())
    reviews = pd.concat([reviews, pd.DataFrame({
        "pr_ix": own, "reviewer_dev": prs.author_dev.to_numpy()[own],
        "submitted_at": np.maximum(ready[own], prs.first_review_at.to_numpy()[own] - 1800),
        "state": "COMMENTED", "comments": 1})], ignore_index=True)
    dev_login = gh[gh.kind == "primary"].set_index("dev_id").login
    reviews["reviewer_login"] = reviews.reviewer_dev.map(dev_login)
    reviews.loc[reviews.pr_ix.isin(own) & (reviews.reviewer_dev == prs.author_dev.to_numpy()[reviews.pr_ix]), "reviewer_login"] = \
        prs.author_login.to_numpy()[reviews.pr_ix[reviews.pr_ix.isin(own) & (reviews.reviewer_dev == prs.author_dev.to_numpy()[reviews.pr_ix])]]
    reviews = reviews.sort_values(["pr_ix", "submitted_at"], kind="stable").reset_index(drop=True)
    reviews["review_id"] = 2_000_000_000 + np.arange(len(reviews))
    prs["pr_id"] = 1_500_000_000 + np.arange(n)
    return prs, commits, reviews


# --------------------------------------------------------------------------- Jira
STATUS_NEW, STATUS_PROGRESS, STATUS_REVIEW, STATUS_DONE, STATUS_WONT = "To Do", "In Progress", "In Review", "Done", "Won't Do"
SPRINT_DAYS = 14
SPRINT_GAP = 15 * HOUR  # a sprint is completed on Sunday 18:00, the next starts on Monday 09:00
VERBS = ["Add", "Support", "Fix", "Improve", "Migrate", "Refactor", "Remove", "Validate", "Cache", "Expose"]
NOUNS = ["retry policy", "audit log", "rate limiter", "export job", "search index", "webhook", "settings page",
         "token refresh", "batch import", "metrics endpoint", "error handling", "feature flag", "schema",
         "pagination", "health check", "onboarding flow", "invoice PDF", "currency rounding"]


def _summaries(rng, n):
    v = np.array(VERBS)[rng.integers(0, len(VERBS), n)]
    o = np.array(NOUNS)[rng.integers(0, len(NOUNS), n)]
    return np.char.add(np.char.add(v.astype(str), " "), o.astype(str))


def _jira(org, rng, a, start, end):
    prs, incs = a["prs"], a["incidents_base"]
    teams, repos, services, projects = org["teams"], org["repos"], org["services"], org["projects"]
    members = org["memberships"][org["memberships"].primary].groupby("team_id").dev_id.apply(np.array).to_dict()
    leaf = teams[teams.profile.notna()].reset_index(drop=True)
    repo_proj = repos.set_index("repo_id").project_id
    team_svc = services.groupby("team_id").name.apply(np.array).to_dict()
    coding, _, review = _phase_params(org, leaf.team_id.to_numpy())

    # 1. Work items behind feature PRs: one issue per PR, sometimes two PRs per issue.
    feat = prs.index[(prs.kind == "feature").to_numpy() & (rng.random(len(prs)) < 0.7)]
    L = prs.loc[feat].sort_values(["author_dev", "created_at"], kind="stable")
    proj = L.repo_id.map(repo_proj)
    new = (L.author_dev != L.author_dev.shift()) | (proj != proj.shift()) | (rng.random(len(L)) >= 0.25)
    grp = (new.cumsum() - 1).to_numpy()
    g = pd.DataFrame({"grp": grp, "fc": L.first_commit_at.to_numpy(), "ready": L.ready_at.where(L.ready_at >= 0).to_numpy(),
                      "merged": L.merged_at.where(L.merged_at >= 0).to_numpy(),
                      "closed": L.closed_at.where(L.closed_at >= 0).to_numpy(), "team": L.team_id.to_numpy(),
                      "dev": L.author_dev.to_numpy(), "proj": proj.to_numpy(), "repo": L.repo_id.to_numpy()}).groupby("grp")
    w = g.agg(fc=("fc", "min"), ready=("ready", "min"), merged=("merged", "max"), n_merged=("merged", "count"),
              closed=("closed", "max"), n_closed=("closed", "count"), n=("fc", "size"), team=("team", "first"),
              dev=("dev", "first"), proj=("proj", "first"), repo=("repo", "first"))
    k = len(w)
    created = (w.fc.to_numpy() - _ln(rng, 72, k, 1.0) - HOUR).astype(np.int64)
    started = (w.fc.to_numpy() - _ln(rng, 1, k)).astype(np.int64)
    in_review = w.ready.fillna(-1).to_numpy(np.int64)
    done = np.where(w.n_merged > 0, w.merged.fillna(0) + _ln(rng, 2, k), -1).astype(np.int64)
    wont = (w.n_merged == 0) & (w.n_closed == w.n) & (rng.random(k) < 0.6)
    done = np.where(wont, w.closed.fillna(0) + HOUR, done).astype(np.int64)
    svc_name = repos.set_index("repo_id").service_id.str.removeprefix("svc-")
    work = pd.DataFrame({"project_id": w.proj.to_numpy(), "team_id": w.team.to_numpy(), "assignee_dev": w.dev.to_numpy(),
                         "created_at": created, "start_at": started, "review_at": in_review, "done_at": done,
                         "won_t": wont.to_numpy(), "component": w.repo.map(svc_name).to_numpy(),
                         "type": rng.choice(["Story", "Task", "Bug"], k, p=[0.55, 0.25, 0.2])})
    issue_of_pr = pd.Series(-1, index=prs.index, dtype=np.int64)
    issue_of_pr[L.index] = grp

    # 2. Work nobody opened a PR for; 3. epics per team and quarter; 4. sub-tasks; 5. incidents.
    rows = []
    quarters = np.arange(start, end, 91 * DAY)
    epics = []
    for i, t in enumerate(leaf.itertuples()):
        n_t = int((work.team_id == t.team_id).sum() * 0.4) + 2
        c = _workday_time(rng, start + (rng.random(n_t) * (end - start)).astype(np.int64))
        st = c + _ln(rng, 48, n_t)
        started_mask = rng.random(n_t) < 0.9
        dn = st + _ln(rng, coding[i] + review[i], n_t)
        wt = rng.random(n_t) < 0.06
        pool = members.get(t.team_id, np.array([t.manager_dev_id]))
        comp = team_svc.get(t.team_id, np.array([None]))
        rows.append(pd.DataFrame({"project_id": t.project_id, "team_id": t.team_id,
                                  "assignee_dev": pool[rng.integers(0, len(pool), n_t)], "created_at": c,
                                  "start_at": np.where(started_mask, st, -1), "review_at": -1,
                                  "done_at": np.where(started_mask | wt, np.where(wt & ~started_mask, c + _ln(rng, 100, n_t), dn), -1),
                                  "won_t": wt, "component": comp[rng.integers(0, len(comp), n_t)],
                                  "type": rng.choice(["Story", "Task", "Bug"], n_t, p=[0.4, 0.4, 0.2])}))
        for q, qs in enumerate(quarters):
            for _ in range(2):
                epics.append(dict(project_id=t.project_id, team_id=t.team_id, assignee_dev=t.manager_dev_id,
                                  created_at=int(qs - 7 * DAY), start_at=int(qs + DAY), review_at=-1,
                                  done_at=int(qs + 91 * DAY), won_t=False, component=comp[0], type="Epic", quarter=q))
    issues = pd.concat([work, *rows], ignore_index=True)
    issues["parent_ix"] = -1
    issues["source"] = np.where(np.arange(len(issues)) < k, "pr", "backlog")
    ep = pd.DataFrame(epics)
    ep["parent_ix"] = -1
    ep["source"] = "epic"
    base = len(issues)
    issues = pd.concat([issues, ep.drop(columns="quarter")], ignore_index=True)
    # Link most items to an epic of their team in the quarter they were created.
    ep_key = {(r.team_id, r.quarter): base + i for i, r in enumerate(ep.itertuples())}
    q_of = np.clip((issues.created_at.to_numpy() - start) // (91 * DAY), 0, len(quarters) - 1)
    want = (issues.type.isin(["Story", "Task", "Bug"]).to_numpy()) & (rng.random(len(issues)) < 0.6)
    second = rng.random(len(issues)) < 0.5
    issues["parent_ix"] = [ep_key.get((t, q), -1) + (1 if s and ep_key.get((t, q), -1) >= 0 else 0) if wnt else -1
                           for t, q, wnt, s in zip(issues.team_id, q_of, want, second)]
    stories = issues.index[(issues.type == "Story") & (issues.source != "epic") & (rng.random(len(issues)) < 0.08)]
    sp = issues.loc[stories]
    m = len(sp)
    start_lag, work, create_lag = _ln(rng, 4, m), _ln(rng, 12, m), _ln(rng, 4, m)
    sub_created = sp.created_at.to_numpy() + create_lag
    # a sub-task is created before it starts, and resolved after that
    sub_start = np.where(sp.start_at >= 0, np.maximum(sp.start_at + start_lag, sub_created + 60), -1)
    sub_done = np.where((sp.done_at >= 0) & (sub_start >= 0), np.minimum(sp.done_at - 60, sub_start + work), -1)
    subs = pd.DataFrame({"project_id": sp.project_id.to_numpy(), "team_id": sp.team_id.to_numpy(),
                         "assignee_dev": sp.assignee_dev.to_numpy(), "created_at": sub_created,
                         "start_at": sub_start, "review_at": -1, "done_at": np.maximum(sub_done, np.where(sub_done >= 0, sub_start, -1)),
                         "won_t": False, "component": sp.component.to_numpy(), "type": "Sub-task",
                         "parent_ix": stories.to_numpy(), "source": "subtask"})
    svc = services.set_index("service_id")
    ji = incs[incs.service_id.map(svc.incident_tool) == "jira"]
    inc_rows = pd.DataFrame({"project_id": ji.service_id.map(svc.project_id).to_numpy(),
                             "team_id": ji.service_id.map(svc.team_id).to_numpy(),
                             "assignee_dev": ji.service_id.map(svc.team_id).map(org["teams"].set_index("team_id").manager_dev_id).to_numpy(),
                             "created_at": ji.opened_at.to_numpy(),
                             "start_at": np.minimum(ji.opened_at.to_numpy() + 300, ji.resolved_at.to_numpy() - 60),
                             "review_at": -1, "done_at": ji.resolved_at.to_numpy(), "won_t": False,
                             "component": ji.service_id.map(svc.name).to_numpy(), "type": "Incident",
                             "parent_ix": -1, "source": "incident", "incident_id": ji.incident_id.to_numpy()})
    issues = pd.concat([issues, subs, inc_rows], ignore_index=True)
    n = len(issues)
    issues["incident_id"] = issues.incident_id.astype("Int64") if "incident_id" in issues else pd.NA
    issues["summary"] = _summaries(rng, n)
    issues.loc[issues.type == "Epic", "summary"] = np.char.add("Epic: ", _summaries(rng, int((issues.type == "Epic").sum())))
    issues.loc[issues.type == "Incident", "summary"] = np.char.add("Outage: ", issues.loc[issues.type == "Incident", "component"].astype(str).to_numpy())
    pointed = issues.type.isin(["Story", "Bug"]).to_numpy() & (rng.random(n) < 0.9) | (issues.type == "Task").to_numpy() & (rng.random(n) < 0.4)
    pts = rng.choice([1, 2, 3, 5, 8, 13], n, p=[0.1, 0.25, 0.25, 0.22, 0.13, 0.05]).astype(float)
    issues["points"] = np.where(pointed, pts, np.nan)
    re_est = pointed & (rng.random(n) < 0.1)
    issues["points_initial"] = np.where(re_est, rng.choice([1, 2, 3, 5, 8], n), issues.points)
    issues["points_change_at"] = np.where(re_est, issues.created_at + 600, -1)
    lab = np.array(names.LABELS)
    l1 = np.where(rng.random(n) < 0.45, lab[rng.integers(0, len(lab), n)], "")
    l2 = np.where(rng.random(n) < 0.15, lab[rng.integers(0, len(lab), n)], "")
    issues["labels"] = [";".join(sorted({x for x in (p, q) if x})) for p, q in zip(l1, l2)]
    issues.loc[issues.type == "Incident", "labels"] = "incident"
    sev = incs.set_index("incident_id").severity
    issues["severity"] = issues.incident_id.map(sev)
    # Keys and ids in creation order, per Jira project.
    order = np.argsort(issues.created_at.to_numpy(), kind="stable")
    rank = np.empty(n, np.int64)
    rank[order] = np.arange(n)
    issues["issue_id"] = 10_000 + rank
    jkey = projects.set_index("project_id").jira_key
    issues["key_num"] = issues.assign(_r=rank).groupby("project_id")._r.rank(method="first").astype(np.int64)
    issues["key"] = issues.project_id.map(jkey) + "-" + issues.key_num.astype(str)
    issues["reporter_dev"] = issues.team_id.map(org["teams"].set_index("team_id").manager_dev_id)

    boards, sprints, sprint_log = _sprints(rng, leaf, issues, start, end)
    changelog = _changelog(issues, sprint_log)
    prs = _pr_texts(rng, prs, issues, issue_of_pr, org)
    incidents = incs.merge(issues.loc[issues.incident_id.notna(), ["incident_id", "key"]].astype({"incident_id": np.int64}),
                           on="incident_id", how="left").rename(columns={"key": "jira_key"})
    return {"prs": prs, "issues": issues, "boards": boards, "sprints": sprints, "changelog": changelog,
            "incidents": incidents}


def _sprints(rng, leaf, issues, start, end):
    s0 = (start // DAY - (start // DAY + 3) % 7) * DAY + 9 * HOUR  # Monday 09:00 of the first week
    n_s = int((end - s0) // (SPRINT_DAYS * DAY)) + 1
    boards = pd.DataFrame({"board_id": np.arange(1, len(leaf) + 1), "team_id": leaf.team_id,
                           "name": leaf.name + " board", "project_id": leaf.project_id})
    sp = []
    for b in boards.itertuples():
        for k in range(n_s):
            st = s0 + k * SPRINT_DAYS * DAY
            sp.append(dict(sprint_id=len(sp) + 1, board_id=b.board_id, team_id=b.team_id, seq=k,
                           name=f"{b.name.removesuffix(' board')} Sprint {k + 1}", start_at=st,
                           end_at=st + SPRINT_DAYS * DAY - SPRINT_GAP, created_at=st - 7 * DAY))
    sprints = pd.DataFrame(sp)
    sid = {(r.team_id, r.seq): r.sprint_id for r in sprints.itertuples()}
    log = []  # (issue_ix, ts, from ids, to ids)
    cand = issues.index[issues.type.isin(["Story", "Task", "Bug"]) & issues.team_id.isin(boards.team_id) & (issues.start_at >= 0)]
    sub = issues.loc[cand]
    removed = rng.random(len(sub)) < 0.04
    jitter = _ln(rng, 18, len(sub))
    period = SPRINT_DAYS * DAY
    for ix, team, c, st, dn, rem, jt in zip(cand, sub.team_id, sub.created_at, sub.start_at, sub.done_at, removed, jitter):
        # sprint k runs from s0 + k * period to its completion SPRINT_GAP before the next
        # starts: work started or finished in that gap belongs to the next sprint
        f = int(max(0, (st - s0 + SPRINT_GAP) // period))
        if f >= n_s:
            continue  # starts beyond the generated horizon
        last = int((dn - s0 + SPRINT_GAP) // period) if dn >= 0 else f + 1
        cur: list[int] = []
        if rem and f >= 1:
            plan = s0 + (f - 1) * period
            t_add = max(int(c) + 60, plan - int(jt))
            if t_add < plan + 2 * DAY:
                log.append((ix, t_add, [], [sid[(team, f - 1)]]))
                log.append((ix, plan + int(2 + (jt % 7)) * DAY, [sid[(team, f - 1)]], []))
        sstart = s0 + f * period
        t_add = max(int(c) + 60, sstart - int(jt)) if c < sstart else int(c) + 30
        if log and log[-1][0] == ix:
            t_add = max(t_add, log[-1][1] + 60)
        log.append((ix, t_add, [], [sid[(team, f)]]))
        cur = [sid[(team, f)]]
        # Completing a sprint moves its incomplete issues, a moment after its completion date,
        # to the next sprint (or the backlog), which updates them; its completed issues are
        # not touched.
        for s in range(f + 1, min(last, n_s - 1) + 1):
            nxt = cur + [sid[(team, s)]]
            log.append((ix, max(s0 + s * period - SPRINT_GAP + 1, log[-1][1] + 60), cur, nxt))
            cur = nxt
        if dn < 0 and last + 1 < n_s:  # never finished: back to the backlog after two sprints
            log.append((ix, max(s0 + (last + 1) * period - SPRINT_GAP + 1, log[-1][1] + 60), cur, []))
    slog = pd.DataFrame(log, columns=["issue_ix", "ts", "from_ids", "to_ids"])
    return boards, sprints, slog


def _changelog(issues, sprint_log):
    """One row per changed field: status transitions, sprint membership, re-estimates."""
    parts = []
    ix = issues.index.to_numpy()

    def status(mask, ts, frm, to):
        parts.append(pd.DataFrame({"issue_ix": ix[mask], "ts": ts[mask], "field": "status",
                                   "from_string": frm if np.isscalar(frm) else frm[mask],
                                   "to_string": to if np.isscalar(to) else to[mask]}))

    st, rv, dn = issues.start_at.to_numpy(), issues.review_at.to_numpy(), issues.done_at.to_numpy()
    wont = issues.won_t.to_numpy(bool)
    status(st >= 0, st, STATUS_NEW, STATUS_PROGRESS)
    status(rv >= 0, np.maximum(rv, st + 60), STATUS_PROGRESS, STATUS_REVIEW)
    before_done = np.where(rv >= 0, STATUS_REVIEW, np.where(st >= 0, STATUS_PROGRESS, STATUS_NEW))
    status(dn >= 0, np.maximum(dn, np.maximum(st, rv) + 120), before_done, np.where(wont, STATUS_WONT, STATUS_DONE))
    pc = issues.points_change_at.to_numpy()
    m = pc >= 0
    parts.append(pd.DataFrame({"issue_ix": ix[m], "ts": pc[m], "field": "Story Points",
                               "from_string": issues.points_initial.to_numpy()[m].astype(int).astype(str),
                               "to_string": issues.points.to_numpy()[m].astype(int).astype(str)}))
    sl = sprint_log.rename(columns={"from_ids": "from_ids", "to_ids": "to_ids"}).assign(field="Sprint")
    sl["from_string"] = None
    sl["to_string"] = None
    parts.append(sl)
    log = pd.concat(parts, ignore_index=True)
    log = log.sort_values(["issue_ix", "ts"], kind="stable").reset_index(drop=True)
    log["history_id"] = 100_000 + np.arange(len(log))
    return log


def _pr_texts(rng, prs, issues, issue_of_pr, org):
    """Titles, branches, bodies and labels; Jira keys where a PR is linked to an issue."""
    n = len(prs)
    key = issue_of_pr.map(lambda i: None if i < 0 else i)
    keys = np.where(issue_of_pr.to_numpy() >= 0, issues.key.to_numpy()[np.maximum(issue_of_pr.to_numpy(), 0)], None)
    summary = np.where(issue_of_pr.to_numpy() >= 0, issues.summary.to_numpy()[np.maximum(issue_of_pr.to_numpy(), 0)],
                       _summaries(rng, n))
    slug = pd.Series(summary).str.lower().str.replace(r"[^a-z0-9]+", "-", regex=True).to_numpy()
    style = rng.random(n)
    linked = keys != None  # noqa: E711
    k = pd.Series(keys).fillna("").to_numpy()
    login = prs.author_login.to_numpy()
    title = np.where(linked & (style < 0.7), pd.Series(k) + ": " + pd.Series(summary), summary)
    branch = np.where(linked & (style < 0.85), "feature/" + pd.Series(k).str.lower() + "-" + pd.Series(slug),
                      pd.Series(login).str.replace("[bot]", "", regex=False) + "/" + pd.Series(slug))
    body = np.where(linked & (style >= 0.85), "Closes " + pd.Series(k) + ".", "")
    kind = prs.kind.to_numpy()
    pkg = np.array(["lodash", "requests", "urllib3", "react", "jackson-databind", "pyyaml", "axios", "netty"])
    p = pkg[rng.integers(0, len(pkg), n)]
    v = rng.integers(1, 30, n).astype(str)
    bot = kind == "bot"
    title = np.where(bot, "Bump " + pd.Series(p) + " from 1." + pd.Series(v) + ".0 to 1." + pd.Series(v) + ".1", title)
    branch = np.where(bot, "dependabot/npm_and_yarn/" + pd.Series(p) + "-1." + pd.Series(v) + ".1", branch)
    hot = kind == "hotfix"
    title = np.where(hot, "Hotfix: " + pd.Series(summary), title)
    branch = np.where(hot, "hotfix/" + pd.Series(slug), branch)
    prs["title"], prs["head_ref"], prs["body"] = title, branch, body
    rv = np.flatnonzero(kind == "revert")
    src = prs.reverts_ix.to_numpy()[rv].astype(np.int64)
    prs.loc[rv, "title"] = 'Revert "' + prs.title.to_numpy()[src] + '"'
    prs.loc[rv, "head_ref"] = "revert-" + prs.number.to_numpy()[src].astype(str) + "-" + prs.head_ref.to_numpy()[src]
    lab = np.array(names.LABELS)
    labels = np.where(rng.random(n) < 0.3, lab[rng.integers(0, len(lab), n)], "")
    labels = np.where(bot, "dependencies", np.where(hot, "hotfix", labels))
    prs["labels"] = labels
    prs["issue_ix"] = issue_of_pr.to_numpy()
    del key
    return prs


# --------------------------------------------------------------------------- git history, CI, releases
def _main_history(org, rng, a):
    """Each repository's default branch, first-parent order: an initial commit, then one
    commit per merged PR (a squash commit, or a merge commit whose second parent is the
    PR's head). Sets the PRs' merge commit SHAs and the deployments' SHAs."""
    prs, repos, deps = a["prs"], org["repos"], a["deployments_base"]
    gh = org["tool_accounts"][org["tool_accounts"].tool == "github"].set_index("login")
    m = prs[prs.merged_at >= 0]
    init = pd.DataFrame({"repo_id": repos.repo_id, "merged_at": repos.created_at, "pr_ix": -1})
    mc = pd.concat([init, pd.DataFrame({"repo_id": m.repo_id, "merged_at": m.merged_at, "pr_ix": m.index})], ignore_index=True)
    mc = mc.sort_values(["repo_id", "merged_at", "pr_ix"], kind="stable").reset_index(drop=True)
    mc["sha"] = _hex(rng, len(mc), 40)
    mc["seq"] = mc.groupby("repo_id").cumcount()
    mc["parent_sha"] = mc.groupby("repo_id").sha.shift()
    method = mc.repo_id.map(repos.set_index("repo_id").merge_method)
    has_pr = mc.pr_ix >= 0
    pri = mc.pr_ix.clip(lower=0).to_numpy()
    mc["second_parent_sha"] = np.where(has_pr & (method == "merge"), prs.head_sha.to_numpy()[pri], None)
    title = prs.title.to_numpy()[pri]
    number = prs.number.to_numpy()[pri].astype(str)
    full = mc.repo_id.map(repos.set_index("repo_id").full_name)
    squash_msg = pd.Series(title) + " (#" + pd.Series(number) + ")"
    merge_msg = "Merge pull request #" + pd.Series(number) + " from " + full.str.split("/").str[0] + "/" + \
        pd.Series(prs.head_ref.to_numpy()[pri]) + "\n\n" + pd.Series(title)
    mc["message"] = np.where(~has_pr, "Initial commit", np.where(method == "merge", merge_msg, squash_msg))
    login = np.where(has_pr, prs.author_login.to_numpy()[pri], "acme-release-bot")
    mc["author_login"] = login
    mc["author_email"] = pd.Series(login).map(gh.email).to_numpy()
    mc["author_name"] = pd.Series(login).map(gh.display_name).to_numpy()
    mc["authored_at"] = mc.merged_at
    mc = mc.drop(columns="merged_at")
    sha_of_pr = pd.Series(mc.sha.to_numpy()[has_pr], index=mc.pr_ix[has_pr])
    prs["merge_commit_sha"] = sha_of_pr.reindex(prs.index).to_numpy()
    rv = np.flatnonzero(prs.kind.to_numpy() == "revert")
    src = prs.reverts_ix.to_numpy()[rv].astype(np.int64)
    full_of = repos.set_index("repo_id").full_name
    prs.loc[rv, "body"] = [f"Reverts {full_of[r]}#{num}\n\nThis reverts commit {sha}." for r, num, sha in zip(
        prs.repo_id.to_numpy()[rv], prs.number.to_numpy()[src], prs.merge_commit_sha.to_numpy()[src])]
    deps["sha"] = prs.merge_commit_sha.to_numpy()[deps.pr_ix.to_numpy()]
    return mc


def _workflow_runs(org, rng, a):
    prs, mc = a["prs"], a["main_commits"]
    last_commit = a["pr_commits"].groupby("pr_ix").authored_at.max()
    p = pd.DataFrame({"repo_id": prs.repo_id, "created_at": last_commit.reindex(prs.index).to_numpy() + 90,
                      "head_sha": prs.head_sha, "head_branch": prs.head_ref, "event": "pull_request"})
    branch = mc.repo_id.map(org["repos"].set_index("repo_id").default_branch)
    q = pd.DataFrame({"repo_id": mc.repo_id, "created_at": mc.authored_at + 30, "head_sha": mc.sha,
                      "head_branch": branch, "event": "push"})
    runs = pd.concat([p, q], ignore_index=True).sort_values("created_at", kind="stable").reset_index(drop=True)
    n = len(runs)
    runs["run_id"] = 9_000_000_000 + np.arange(n)
    runs["duration"] = (rng.lognormal(np.log(480), 0.5, n)).astype(np.int64)
    runs["conclusion"] = rng.choice(["success", "failure", "cancelled"], n, p=[0.9, 0.08, 0.02])
    runs["run_number"] = runs.groupby("repo_id").cumcount() + 1
    return runs


def _releases(org, rng, a):
    deps, services = a["deployments_base"], org["services"]
    gh = services[services.deploy_tool == "github"].service_id
    d = deps[(deps.environment == "production") & (deps.status == "success") & ~deps.is_rollback & deps.service_id.isin(gh)]
    d = d[rng.random(len(d)) < 0.3]
    rel = pd.DataFrame({"service_id": d.service_id, "sha": d.sha, "created_at": d.started_at - 600})
    rel["repo_id"] = rel.service_id.map(services.set_index("service_id").repo_id)
    rel = rel.sort_values(["repo_id", "created_at"], kind="stable").reset_index(drop=True)
    rel["tag"] = "v1." + (rel.groupby("repo_id").cumcount() + 1).astype(str) + ".0"
    rel["release_id"] = 150_000_000 + np.arange(len(rel))
    return rel
