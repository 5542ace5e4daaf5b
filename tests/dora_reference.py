"""An independent pandas computation of the DORA marts (docs/metrics.md, # DORA) from the
raw tables the connectors loaded (raw_github, raw_harness, raw_events, raw_jira), the org
files the import read (services.csv, memberships.csv) and the simulator's identities, with
the shipped efficiency profile's defaults. It shares no code or SQL with the dbt models:
tests/test_dora_marts.py checks that both give the same figures.
"""
from __future__ import annotations

import fnmatch
import functools
import tempfile
from pathlib import Path

import duckdb
import pandas as pd

PRODUCTION_NAMES = {"production", "prod"}
FAILED_STATUSES = {"failure", "failed", "error", "aborted", "expired"}
HOTFIX_LABELS = {"hotfix"}
HOTFIX_BRANCHES = ("hotfix/*", "hotfix-*")
INCIDENT_TYPES = {"incident"}
BOTS = ("*[bot]", "acme-release-bot")
WINDOW_H = 24.0


def _naive(s: pd.Series) -> pd.Series:
    s = pd.to_datetime(s, utc=True)
    return s.dt.tz_convert("UTC").dt.tz_localize(None)


def _hours(a: pd.Series, b: pd.Series) -> pd.Series:
    return (b - a).dt.total_seconds() / 3600.0


def load_raw(db: Path) -> dict[str, pd.DataFrame]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        q = lambda sql: con.execute(sql).df()  # noqa: E731
        return {
            "commits": q("select repository, sha, first_parent_sha, committed_at from raw_github.commits"),
            "prs": q("select id, repository, number, author_login, is_bot_author, head_ref_name, merge_commit_sha, "
                     "created_at, first_commit_authored_at, merged_at from raw_github.pull_requests"),
            "labels": q("select p.id, l.name from raw_github.pull_requests__labels l "
                        "join raw_github.pull_requests p on l._dlt_root_id = p._dlt_id"),
            "gh_deployments": q("select id, repository, sha, environment, production_environment, created_at "
                                "from raw_github.deployments"),
            "gh_statuses": q("select id, deployment_id, state, created_at from raw_github.deployment_statuses"),
            "harness": q("select * from raw_harness.pipeline_executions where is_deployment"),
            "ev_deployments": q("select * from raw_events.deployments"),
            "ev_incidents": q("select * from raw_events.incidents"),
            "jira": q("select i.key, i.issue_type, i.created_at, i.resolved_at, c.name as component "
                      "from raw_jira.issues i left join raw_jira.issues__components c on c._dlt_root_id = i._dlt_id"),
        }
    finally:
        con.close()


def first_parent_positions(commits: pd.DataFrame) -> dict[str, dict[str, int]]:
    """repository -> {sha: position on the first-parent chain from the head, 1 = oldest}."""
    out = {}
    for repo, g in commits.groupby("repository"):
        parent = dict(zip(g.sha, g.first_parent_sha))
        heads = g[~g.sha.isin(set(g.first_parent_sha.dropna()))].sort_values(["committed_at", "sha"],
                                                                              ascending=[False, True])
        chain, sha = [], heads.sha.iloc[0]
        while isinstance(sha, str) and sha in parent:
            chain.append(sha)
            sha = parent[sha]
        out[repo.lower()] = {s: len(chain) - i for i, s in enumerate(chain)}
    return out


def deployments(raw: dict, services: pd.DataFrame) -> pd.DataFrame:
    by_harness = {h: s for s, hs in zip(services.service, services.harness_service_ids.fillna(""))
                  for h in hs.split(";") if h}
    repo_of = {s: sorted(r.split(";"))[0] for s, r in zip(services.service, services.repositories.fillna("")) if r}
    service_of_repo = {}
    for s, r in zip(services.service, services.repositories.fillna("")):
        for repo in r.split(";"):
            if repo and (repo.lower() not in service_of_repo or s < service_of_repo[repo.lower()]):
                service_of_repo[repo.lower()] = s
    known = set(services.service)
    h = raw["harness"]
    hd = pd.DataFrame({
        "deployment_id": "harness:" + h.plan_execution_id,
        "service": [by_harness.get(i, n if n in known else (i if i in known else None))
                    for i, n in zip(h.service_identifier, h.service_name)],
        "environment": h.environment_name.fillna(h.environment_identifier),
        "tool_production": h.is_production.fillna(h.environment_type.str.lower() == "production").astype(bool),
        "status": h.status_normalized.str.lower(),
        "finished_at": _naive(h.deployment_finished_at.fillna(h.end_ts)).where(h.is_finished.fillna(True).astype(bool)),
        "sha": h.deployed_commit_sha.str.lower(),
        "tool_rollback": h.is_rollback_execution.fillna(False).astype(bool),
        "repository": None,
    })
    st = raw["gh_statuses"]
    st = st[st.state.str.lower().isin(["success", "failure", "error"])].sort_values(["created_at", "id"])
    first = st.drop_duplicates("deployment_id")
    g = raw["gh_deployments"].merge(first[["deployment_id", "state", "created_at"]].rename(
        columns={"deployment_id": "id", "created_at": "done_at"}), on="id", how="left")
    gd = pd.DataFrame({
        "deployment_id": "github:" + g.id.astype(str),
        "service": g.repository.str.lower().map(service_of_repo),
        "environment": g.environment,
        "tool_production": g.production_environment.fillna(False).astype(bool),
        "status": g.state.str.lower().fillna("in_progress"),
        "finished_at": _naive(g.done_at),
        "sha": g.sha.str.lower(),
        "tool_rollback": False,
        "repository": g.repository,
    })
    e = raw["ev_deployments"]
    ed = pd.DataFrame({
        "deployment_id": "events:" + e.source_tool + ":" + e.deployment_id,
        "service": e.service.where(e.service.isin(known)),
        "environment": e.environment,
        "tool_production": e.get("is_production", pd.Series([None] * len(e))).fillna(
            e.environment_type == "production").astype(bool),
        "status": e.status.str.lower(),
        "finished_at": _naive(e.finished_at),
        "sha": e.commit_sha.str.lower(),
        "tool_rollback": e.is_rollback.fillna(False).astype(bool),
        "repository": e.repository,
    })
    d = pd.concat([hd, gd, ed], ignore_index=True)
    d["repository"] = d.repository.fillna(d.service.map(repo_of))
    d["is_production"] = d.service.notna() & (d.environment.str.lower().isin(PRODUCTION_NAMES) | d.tool_production)
    d["is_success"] = d.finished_at.notna() & (d.status == "success")
    d["is_finished"] = d.finished_at.notna() & (d.is_success | d.status.isin(FAILED_STATUSES))
    return d


def sequence(d: pd.DataFrame, positions: dict) -> pd.DataFrame:
    """Walk each service's finished production deployments in order of finish."""
    p = d[d.is_production & d.is_finished].copy()
    p["position"] = [positions.get(str(r).lower(), {}).get(s) if isinstance(s, str) else None
                     for r, s in zip(p.repository, p.sha)]
    p = p.sort_values(["service", "finished_at", "deployment_id"])
    rows = []
    for _, g in p.groupby("service", sort=False):
        live_pos, live_id = None, None
        recs = list(g.itertuples())
        for i, r in enumerate(recs):
            pos = None if pd.isna(r.position) else int(r.position)
            nxt = next((x.finished_at for x in recs[i + 1:] if x.is_success), None)
            rec = dict(deployment_id=r.deployment_id, service=r.service, repository=r.repository, position=pos,
                       finished_at=r.finished_at, is_success=r.is_success, failed_status=r.status in FAILED_STATUSES,
                       live_position=live_pos, live_id=live_id, next_success=nxt,
                       baseline=bool(r.is_success and pos is not None and live_pos is None),
                       redeploy=bool(r.is_success and pos is not None and pos == live_pos),
                       rollback=bool(r.tool_rollback or (pos is not None and live_pos is not None and pos < live_pos)))
            rows.append(rec)
            if r.is_success and pos is not None and pos != live_pos:
                live_pos, live_id = pos, r.deployment_id
    return pd.DataFrame(rows)


def compute(db: Path, org_dir: Path, identities: pd.DataFrame) -> dict[str, pd.DataFrame]:
    raw = load_raw(db)
    services = pd.read_csv(org_dir / "services.csv", dtype=str)
    if "owning_tree" not in services:
        services["owning_tree"] = "reporting"
    positions = first_parent_positions(raw["commits"])
    d = deployments(raw, services)
    seq = sequence(d, positions)

    # change sets and the PRs in them
    prs = raw["prs"].copy()
    prs["merge_commit_sha"] = prs.merge_commit_sha.str.lower()
    pr_of = {(r.lower(), s): i for r, s, i in zip(prs.repository, prs.merge_commit_sha, prs.id) if isinstance(s, str)}
    chain_of = {repo: {pos: sha for sha, pos in m.items()} for repo, m in positions.items()}
    ships = []
    for r in seq[seq.is_success & ~seq.baseline & seq.position.notna() & seq.live_position.notna()].itertuples():
        if r.position > r.live_position:
            repo = r.repository.lower()
            for pos in range(int(r.live_position) + 1, int(r.position) + 1):
                sha = chain_of[repo][pos]
                ships.append(dict(deployment_id=r.deployment_id, service=r.service, deployed_at=r.finished_at,
                                  pull_request_id=pr_of.get((repo, sha))))
    ships = pd.DataFrame(ships, columns=["deployment_id", "service", "deployed_at", "pull_request_id"])

    # hotfixes: a shipped PR with a hotfix label or branch
    hot_prs = set(raw["labels"][raw["labels"].name.str.lower().isin(HOTFIX_LABELS)].id)
    hot_prs |= {i for i, b in zip(prs.id, prs.head_ref_name.fillna(""))
                if any(fnmatch.fnmatchcase(b.lower(), g) for g in HOTFIX_BRANCHES)}
    hotfix_deps = set(ships[ships.pull_request_id.isin(hot_prs)].deployment_id)
    seq["hotfix"] = seq.deployment_id.isin(hotfix_deps)

    # incidents and the window rule
    j = raw["jira"]
    j = j[j.issue_type.str.lower().isin(INCIDENT_TYPES)]
    j = j[j.component.isin(set(services.service)) | j.component.isna()]
    j = j.sort_values("component").drop_duplicates("key")
    ev = raw["ev_incidents"]
    inc = pd.concat([
        pd.DataFrame({"incident_id": "jira:" + j.key, "service": j.component, "opened_at": _naive(j.created_at),
                      "resolved_at": _naive(j.resolved_at)}),
        pd.DataFrame({"incident_id": "events:" + ev.source_tool + ":" + ev.incident_id,
                      "service": ev.service.where(ev.service.isin(set(services.service))),
                      "opened_at": _naive(ev.opened_at), "resolved_at": _naive(ev.resolved_at)}),
    ], ignore_index=True)
    cand = seq[seq.is_success & ~seq.redeploy]
    caused = []
    for r in inc.itertuples():
        c = cand[(cand.service == r.service) & (cand.finished_at <= r.opened_at)]
        if len(c):
            last = c.sort_values(["finished_at", "deployment_id"]).iloc[-1]
            h = (r.opened_at - last.finished_at).total_seconds() / 3600
            caused.append(last.deployment_id if h <= WINDOW_H else None)
        else:
            caused.append(None)
    inc["caused_by"] = caused

    # failures and recovery
    rolled = set(seq[seq.is_success & seq.rollback].live_id.dropna())
    fixed = set(seq[seq.is_success & seq.hotfix].live_id.dropna())
    by_dep = inc[inc.caused_by.notna()].groupby("caused_by")
    reasons, restored = [], []
    for r in seq.itertuples():
        if r.failed_status:
            reason = "failed_status"
        elif r.redeploy:
            reason = None
        elif r.deployment_id in by_dep.groups:
            reason = "incident"
        elif r.deployment_id in rolled:
            reason = "rolled_back"
        elif r.deployment_id in fixed:
            reason = "hotfix"
        else:
            reason = None
        reasons.append(reason)
        if r.deployment_id in by_dep.groups:
            g = by_dep.get_group(r.deployment_id)
            restored.append(g.resolved_at.max() if g.resolved_at.notna().all() else pd.NaT)
        else:
            restored.append(r.next_success)
    seq["failure_reason"] = reasons
    seq["is_failure"] = seq.failure_reason.notna()
    seq["restored_at"] = pd.to_datetime(pd.Series(restored, index=seq.index, dtype="object"))
    rec = _hours(seq.finished_at, seq.restored_at)
    seq["recovery_hours"] = rec.where(seq.is_failure & (rec >= 0))
    seq["is_rework"] = seq.rollback | seq.hotfix

    # changes: each PR at its first production deployment, bots excluded
    sh = ships.dropna(subset=["pull_request_id"]).sort_values(["deployed_at", "deployment_id"])
    sh = sh.drop_duplicates("pull_request_id")
    ch = sh.merge(prs.rename(columns={"id": "pull_request_id"}), on="pull_request_id")
    bot = ch.is_bot_author.fillna(False).astype(bool) | ch.author_login.fillna("").str.lower().map(
        lambda s: any(fnmatch.fnmatchcase(s, b) for b in BOTS))
    bot_accounts = set(identities[identities.is_bot.astype(bool)].login.str.lower().str.replace(r"\[bot\]$", "",
                                                                                                  regex=True))
    bot |= ch.author_login.fillna("").str.lower().str.replace(r"\[bot\]$", "", regex=True).isin(bot_accounts)
    ch = ch[~bot].copy()
    ch["first_commit_at"] = _naive(ch.first_commit_authored_at)
    lt = _hours(ch.first_commit_at, ch.deployed_at)
    ch["lead_time_hours"] = lt.where(lt >= 0)
    ch["created_at"] = _naive(ch.created_at)
    return {"deployments": seq, "incidents": inc, "changes": ch, "services": services}


def period(ts: pd.Series, kind: str) -> pd.Series:
    if kind == "month":
        return ts.dt.to_period("M").dt.start_time.dt.date
    return (ts.dt.normalize() - pd.to_timedelta(ts.dt.weekday, unit="D")).dt.date


def metrics(deps: pd.DataFrame, changes: pd.DataFrame, keys: list[str], kind: str) -> pd.DataFrame:
    """Per keys and period: the figures the marts publish (only periods with data)."""
    d = deps.assign(period_start=period(deps.finished_at, kind))
    gd = d.groupby(keys + ["period_start"])
    if d.empty:
        df = pd.DataFrame(columns=["deployments", "deployment_days", "production_deployments", "failed_deployments",
                                   "rework", "recovery_time_p50_hours"],
                          index=pd.MultiIndex.from_tuples([], names=keys + ["period_start"]))
    else:
        df = pd.DataFrame({
            "deployments": gd.is_success.sum(),
            "deployment_days": gd.apply(lambda g: g[g.is_success].finished_at.dt.date.nunique(), include_groups=False),
            "production_deployments": gd.size(),
            "failed_deployments": gd.is_failure.sum(),
            "rework": gd.is_rework.sum(),
            "recovery_time_p50_hours": gd.apply(lambda g: g[g.is_failure].recovery_hours.median(),
                                                include_groups=False),
        })
    df["change_failure_rate"] = df.failed_deployments.astype(float) / df.production_deployments.astype(float)
    df["rework_rate"] = df.rework.astype(float) / df.production_deployments.astype(float)
    c = changes.assign(period_start=period(changes.deployed_at, kind))
    gc = c.groupby(keys + ["period_start"]).lead_time_hours
    cf = pd.DataFrame({"changes": gc.size(), "lead_time_p50_hours": gc.quantile(0.5),
                       "lead_time_p90_hours": gc.quantile(0.9)})
    out = df.join(cf, how="outer").reset_index()
    for k in ("deployments", "deployment_days", "production_deployments", "failed_deployments", "changes"):
        out[k] = out[k].fillna(0).astype(int)
    return out.drop(columns="rework")


def team_of(memberships: pd.DataFrame, dev: pd.Series, at: pd.Series, tree: str) -> pd.DataFrame:
    """(index, team_id) for every team each developer was in at `at` (valid_to exclusive)."""
    m = memberships[memberships.tree == tree].copy()
    m["valid_from"] = pd.to_datetime(m.valid_from).fillna(pd.Timestamp("1900-01-01"))
    m["valid_to"] = pd.to_datetime(m.valid_to).fillna(pd.Timestamp("2999-01-01"))
    q = pd.DataFrame({"developer_id": dev.to_numpy(), "at": at.to_numpy(), "ix": dev.index})
    j = q.merge(m, on="developer_id")
    j = j[(j["at"] >= j.valid_from) & (j["at"] < j.valid_to)]
    return j[["ix", "team_id"]]


def subtree_teams(teams: pd.DataFrame) -> dict[str, set[str]]:
    parent = dict(zip(teams.team_id, teams.parent_team_id))
    out: dict[str, set[str]] = {t: set() for t in teams.team_id}
    for t in teams.team_id:
        a = t
        while isinstance(a, str) and a:
            out.setdefault(a, set()).add(t)
            a = parent.get(a)
    return out


# --------------------------------------------------------------------------- the test warehouse
from tiny_org import load_world  # noqa: E402,F401  (test_dora_postgres syncs with it)

SELECT = ["+path:models/marts/dora", "+bridge_deployment_team", "+bridge_incident_team"]


@functools.cache
def dora_warehouse() -> dict:
    """The tiny org synced into DuckDB, org imported, identities resolved, profiles applied,
    DORA marts built: once per test process (test_dora_marts and test_dora_postgres share it)."""
    import shutil

    from simulator.truth import truth_frame
    from test_dbt_staging import dbt, run_results
    from tiny_org import loaded

    org = loaded()
    tmp = Path(tempfile.mkdtemp(prefix="sei-dora-"))
    db = tmp / "sei.duckdb"
    shutil.copy(org["raw"], db)
    shutil.copytree(org["dir"] / "org", tmp / "org")
    world = org["world"]
    target = tmp / "target"
    build = dbt(["build", "--select", *SELECT, "--indirect-selection", "cautious"], db, target)
    truth = {t: truth_frame(world, t) for t in ("deployments", "incidents", "identities", "teams")}
    return {"world": world, "db": db, "tmp": tmp, "build": build, "truth": truth, "target": target,
            "results": run_results(target) if (target / "run_results.json").exists() else pd.DataFrame()}
