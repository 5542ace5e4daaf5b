"""The ground truth the generator used, as tables (`/_sim/truth/<table>`, `sei sim truth`).

Tests compare the warehouse with these: who was in which team when, which accounts
belong to whom, which commits and PRs each production deployment shipped, which
deployment caused which incident. Everything is cut at the simulated clock's `now`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simulator import views
from simulator.world import World, iso

TRUTH_TABLES = ("developers", "teams", "memberships", "identities", "repositories", "services",
                "pull_requests", "deployments", "deployment_changes", "incidents")


def _iso_cols(df: pd.DataFrame, cols) -> pd.DataFrame:
    df = df.copy()
    for c in cols:
        df[c] = [iso(v) if v is not None and not pd.isna(v) else None for v in df[c]]
    return df


def truth_frame(w: World, table: str) -> pd.DataFrame:
    if table not in TRUTH_TABLES:
        raise KeyError(f"unknown truth table {table!r}; one of {', '.join(TRUTH_TABLES)}")
    return w.cached(("truth", table), lambda: globals()[f"_{table}"](w))


def export(w: World, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for t in TRUTH_TABLES:
        p = out / f"{t}.csv"
        truth_frame(w, t).to_csv(p, index=False)
        paths.append(p)
    return paths


def _developers(w):
    d = w["developers"]
    d = d[d.start_at <= w.now]
    return _iso_cols(d[["dev_id", "full_name", "email", "role", "site", "manager_email", "start_at", "end_at"]],
                     ["start_at", "end_at"])


def _teams(w):
    return w["teams"][["team_id", "name", "parent_team_id", "level", "org_id", "project_id", "profile", "manager_dev_id"]]


def _memberships(w):
    m = w["memberships"]
    m = m[m.valid_from <= w.now].copy()
    m["valid_to"] = [None if pd.isna(v) or v > w.now else v for v in m.valid_to]
    return _iso_cols(m, ["valid_from", "valid_to"])


def _identities(w):
    return w["tool_accounts"][["tool", "account_id", "login", "display_name", "email", "dev_id", "is_bot", "kind"]]


def _repositories(w):
    return w["repos"][["repo_id", "full_name", "default_branch", "merge_method", "project_id", "team_id", "service_id"]]


def _services(w):
    return w["services"][["service_id", "name", "team_id", "project_id", "org_id", "repo_id", "deploy_tool",
                          "incident_tool", "harness_service_id", "profile"]]


def _pull_requests(w):
    p = views.pull_requests(w)
    p = p[~p.repo_id.isin(w.deleted_repos)]
    full = p.repo_id.map(w["repos"].set_index("repo_id").full_name)
    out = pd.DataFrame({"repository": full, "number": p.number, "author_login": p.author_login,
                        "author_dev_id": p.author_dev, "team_id_at_creation": p.team_id, "kind": p.kind,
                        "state": p.state, "created_at": p.created_at, "merged_at": p.merged_at_now,
                        "merge_commit_sha": np.where(p.state == "MERGED", p.merge_commit_sha, None),
                        "jira_key": p.issue_ix.map(lambda i: w["issues"].key.iat[i] if i >= 0 else None)})
    return _iso_cols(out, ["created_at", "merged_at"])


def _deployments(w):
    d = views.deployments(w)
    out = d[["deployment_id", "service_id", "environment", "tool", "status_now", "cause", "is_rollback", "is_hotfix",
             "sha", "started_at", "finished_at_now", "gh_deployment_id", "plan_execution_id", "harness_commit_via",
             "build_number", "team_id", "project_id"]].rename(columns={"status_now": "status", "finished_at_now": "finished_at"})
    return _iso_cols(out, ["started_at", "finished_at"])


def _deployment_changes(w):
    """Per finished production deployment: the default branch's first-parent commits after
    the commit live in production before it, up to the one it deployed, and their PRs. The
    first successful deployment of a service is the baseline and ships nothing countable."""
    d = views.deployments(w)
    d = d[(d.environment == "production") & (d.finished_at_now >= 0)].sort_values(["service_id", "finished_at"])
    mc = w["main_commits"]
    seq = pd.Series(mc.seq.to_numpy(), index=mc.sha.to_numpy())
    rows = []
    for svc, g in d.groupby("service_id", sort=False):
        repo = int(g.repo_id.iat[0])
        chain = mc[mc.repo_id == repo].sort_values("seq")
        shas, prix = chain.sha.to_numpy(), chain.pr_ix.to_numpy()
        live = None
        for r in g.itertuples():
            s = int(seq[r.sha])
            if r.status_now != "success":
                continue
            if live is None:
                rows.append(dict(deployment_id=r.deployment_id, service_id=svc, is_baseline=True, sha=None, pr_ix=-1))
            elif s > live:
                for k in range(live + 1, s + 1):
                    rows.append(dict(deployment_id=r.deployment_id, service_id=svc, is_baseline=False,
                                     sha=shas[k], pr_ix=int(prix[k])))
            live = s  # a rollback moves the live commit back; its change set is empty
    out = pd.DataFrame(rows, columns=["deployment_id", "service_id", "is_baseline", "sha", "pr_ix"])
    prs = w["prs"]
    full = w["repos"].set_index("repo_id").full_name
    ok = out.pr_ix >= 0
    out["repository"] = None
    out["pr_number"] = pd.array([None] * len(out), dtype="Int64")
    out.loc[ok, "repository"] = prs.repo_id.to_numpy()[out.pr_ix[ok]].astype(object)
    out.loc[ok, "repository"] = out.loc[ok, "repository"].map(full)
    out.loc[ok, "pr_number"] = prs.number.to_numpy()[out.pr_ix[ok]]
    return out.drop(columns="pr_ix")


def _incidents(w):
    i = views.incidents(w)
    out = i[["incident_id", "jira_key", "service_id", "severity", "opened_at", "resolved_at_now", "caused_by"]].rename(
        columns={"resolved_at_now": "resolved_at", "caused_by": "caused_by_deployment_id"})
    out["caused_by_deployment_id"] = out.caused_by_deployment_id.astype("Int64")
    return _iso_cols(out, ["opened_at", "resolved_at"])
