"""What each record looks like at the simulated clock's `now`.

The generator stores the full timeline; these functions cut it at `world.now` (cached
per clock position) so every API answers from the same consistent state: a record
exists once created, a PR is MERGED only once its merge time has passed, an issue's
status and sprints are those of its last change so far, and `updated_at` moves with
every visible change. The API modules only shape these frames into JSON.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from simulator.world import World

NEG = -1


def _last_before(now: int, *cols: np.ndarray) -> np.ndarray:
    """Latest of the given event times that have happened (<= now); -1 if none."""
    out = np.full(len(cols[0]), NEG, dtype=np.int64)
    for c in cols:
        c = np.asarray(c, dtype=np.int64)
        out = np.where((c >= 0) & (c <= now) & (c > out), c, out)
    return out


def pull_requests(w: World) -> pd.DataFrame:
    def build():
        now = w.now
        p = w["prs"]
        vis = p[p.created_at <= now].copy()
        merged = (vis.merged_at >= 0) & (vis.merged_at <= now)
        closed = (vis.closed_at >= 0) & (vis.closed_at <= now)
        vis["state"] = np.where(merged, "MERGED", np.where(closed, "CLOSED", "OPEN"))
        ready_seen = (vis.ready_at >= 0) & (vis.ready_at <= now)
        vis["is_draft"] = vis.is_draft_start & ~ready_seen & ~closed
        vis["merged_at_now"] = np.where(merged, vis.merged_at, NEG)
        vis["closed_at_now"] = np.where(closed, vis.closed_at, NEG)
        # A draft that became ready shows the ready_for_review time; others never had one.
        vis["ready_at_now"] = np.where(vis.is_draft_start & ready_seen, vis.ready_at, NEG)
        rv = reviews(w)
        last_rev = rv.groupby("pr_ix").submitted_at.max()
        cm = pr_commits(w)
        last_commit = cm.groupby("pr_ix").authored_at.max()
        vis["commit_count_now"] = cm.groupby("pr_ix").size().reindex(vis.index, fill_value=0).to_numpy()
        vis["updated_at"] = _last_before(now, vis.created_at.to_numpy(), vis.ready_at_now.to_numpy(),
                                         vis.merged_at_now.to_numpy(), vis.closed_at_now.to_numpy(),
                                         last_rev.reindex(vis.index, fill_value=NEG).to_numpy(),
                                         last_commit.reindex(vis.index, fill_value=NEG).to_numpy())
        return vis
    return w.cached("pull_requests", build)


def reviews(w: World) -> pd.DataFrame:
    return w.cached("reviews", lambda: w["reviews"][w["reviews"].submitted_at <= w.now])


def pr_commits(w: World) -> pd.DataFrame:
    return w.cached("pr_commits", lambda: w["pr_commits"][w["pr_commits"].authored_at <= w.now])


def main_commits(w: World) -> pd.DataFrame:
    return w.cached("main_commits", lambda: w["main_commits"][w["main_commits"].authored_at <= w.now])


def deployments(w: World) -> pd.DataFrame:
    """Deployments that have started, with their status as of now (GitHub: in_progress
    until finished, then success/failure, then inactive once a later successful
    deployment to the same environment finished; Harness: Running/Success/Failed)."""
    def build():
        now = w.now
        d = w["deployments"]
        d = d[d.started_at <= now].copy()
        done = d.finished_at <= now
        d["status_now"] = np.where(done, d.status, "in_progress")
        d["finished_at_now"] = np.where(done, d.finished_at, NEG)
        ok = d[done & (d.status == "success")].sort_values("finished_at")
        # The next successful deployment of the same service and environment supersedes this one.
        nxt = ok.groupby(["service_id", "environment"]).finished_at.shift(-1)
        d["inactive_at"] = nxt.reindex(d.index).fillna(NEG).astype(np.int64)
        d.loc[d.inactive_at > now, "inactive_at"] = NEG
        d["updated_at"] = np.maximum(np.maximum(d.started_at, d.finished_at_now), d.inactive_at)
        return d
    return w.cached("deployments", build)


def workflow_runs(w: World) -> pd.DataFrame:
    def build():
        r = w["workflow_runs"]
        r = r[r.created_at <= w.now].copy()
        done = r.created_at + r.duration <= w.now
        r["status_now"] = np.where(done, "completed", "in_progress")
        r["conclusion_now"] = np.where(done, r.conclusion, None)
        r["updated_at"] = np.where(done, r.created_at + r.duration, r.created_at + 5)
        return r
    return w.cached("workflow_runs", build)


def releases(w: World) -> pd.DataFrame:
    return w.cached("releases", lambda: w["releases"][w["releases"].created_at <= w.now])


def issues(w: World) -> pd.DataFrame:
    """Jira issues as of now: status, sprint membership (ids), story points, resolution."""
    def build():
        now = w.now
        iss = w["issues"]
        vis = iss[(iss.created_at <= now) & ~iss.key.isin(w.deleted_issues)].copy()
        log = changelog(w)
        st = log[log.field == "status"].groupby("issue_ix")["to_string"].last()
        vis["status"] = st.reindex(vis.index).fillna("To Do").to_numpy()
        sp = log[log.field == "Sprint"].groupby("issue_ix").to_ids.last()
        vis["sprint_ids"] = sp.reindex(vis.index).to_numpy()
        vis["sprint_ids"] = [x if isinstance(x, list) else [] for x in vis.sprint_ids]
        pts = log[log.field == "Story Points"].groupby("issue_ix")["to_string"].last()
        vis["points_now"] = np.where(pts.reindex(vis.index).notna(), pd.to_numeric(pts.reindex(vis.index)),
                                     vis.points_initial)
        done = vis.status.isin(["Done", "Won't Do"])
        last_done = log[(log.field == "status") & log["to_string"].isin(["Done", "Won't Do"])].groupby("issue_ix").ts.last()
        vis["resolved_at_now"] = np.where(done, last_done.reindex(vis.index).fillna(NEG), NEG).astype(np.int64)
        last_change = log.groupby("issue_ix").ts.max()
        vis["updated_at"] = np.maximum(vis.created_at, last_change.reindex(vis.index).fillna(NEG)).astype(np.int64)
        return vis
    return w.cached("issues", build)


def changelog(w: World) -> pd.DataFrame:
    return w.cached("changelog", lambda: w["changelog"][w["changelog"].ts <= w.now])


def sprints(w: World) -> pd.DataFrame:
    def build():
        s = w["sprints"]
        s = s[s.created_at <= w.now].copy()
        s["state"] = np.where(s.end_at <= w.now, "closed", np.where(s.start_at <= w.now, "active", "future"))
        s["complete_at_now"] = np.where(s.state == "closed", s.end_at, NEG)
        return s
    return w.cached("sprints", build)


def incidents(w: World) -> pd.DataFrame:
    def build():
        i = w["incidents"]
        i = i[i.opened_at <= w.now].copy()
        i["resolved_at_now"] = np.where(i.resolved_at <= w.now, i.resolved_at, NEG)
        return i
    return w.cached("incidents", build)
