"""The organisation: account, divisions, projects, team tree, people, tool accounts,
repositories and services. Small tables (thousands of rows), so plain pandas."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd

from simulator import names
from simulator.sizes import BANDS, SizeSpec

ACCOUNT_ID = "acme"
EMAIL_DOMAIN = "acme.example"
DAY = 86400


def _hex(rng: np.random.Generator, n: int, width: int) -> np.ndarray:
    """n random lowercase hex strings of `width` characters (ids, SHAs)."""
    raw = rng.bytes(n * width // 2 + 1).hex()[: n * width]
    return np.frombuffer(raw.encode(), dtype=f"S{width}").astype(str)


def build_org(spec: SizeSpec, rng: np.random.Generator, start: int, end: int) -> dict[str, pd.DataFrame]:
    n_leaf = max(4 if spec.name == "tiny" else 2, math.ceil(spec.developers / spec.team_size))
    divisions, projects, teams = [], [], []
    root = dict(team_id="T000", name="Engineering", parent_team_id=None, level=0, org_id=None,
                project_id=None, profile=None)
    teams.append(root)
    domains = list(names.DOMAINS)
    leaf_i = 0
    leaf_per_div = [n_leaf // spec.divisions + (1 if i < n_leaf % spec.divisions else 0) for i in range(spec.divisions)]
    band_order = [BANDS[i] for i in rng.permutation(len(BANDS))]
    for d in range(spec.divisions):
        dom = domains[d % len(domains)] + ("" if d < len(domains) else str(d // len(domains)))
        org_id = f"org-{dom}"
        divisions.append(dict(org_id=org_id, name=dom.title(), github_org=f"acme-{dom}", harness_org=dom))
        div_team = dict(team_id=f"T{len(teams):03d}", name=f"{dom.title()} Division", parent_team_id="T000",
                        level=1, org_id=org_id, project_id=None, profile=None)
        teams.append(div_team)
        groups = max(1, spec.groups_per_division)
        per_group = [leaf_per_div[d] // groups + (1 if g < leaf_per_div[d] % groups else 0) for g in range(groups)]
        for g in range(groups):
            pkey = (dom[:3] + (chr(65 + g) if spec.groups_per_division else "")).upper()
            project_id = f"prj-{dom}" + (f"-{g + 1}" if spec.groups_per_division else "")
            projects.append(dict(project_id=project_id, org_id=org_id, name=f"{dom.title()} {g + 1}" if spec.groups_per_division else dom.title(),
                                 jira_key=pkey, harness_project=project_id.replace("-", "_")))
            parent = div_team["team_id"]
            if spec.groups_per_division:
                grp = dict(team_id=f"T{len(teams):03d}", name=f"{dom.title()} Group {g + 1}", parent_team_id=parent,
                           level=2, org_id=org_id, project_id=project_id, profile=None)
                teams.append(grp)
                parent = grp["team_id"]
            for _ in range(per_group[g]):
                word = names.TEAM_WORDS[leaf_i % len(names.TEAM_WORDS)]
                suffix = "" if leaf_i < len(names.TEAM_WORDS) else f"-{leaf_i // len(names.TEAM_WORDS) + 1}"
                teams.append(dict(team_id=f"T{len(teams):03d}", name=f"Team {word.title()}{suffix}", parent_team_id=parent,
                                  level=3 if spec.groups_per_division else 2, org_id=org_id, project_id=project_id,
                                  profile=band_order[leaf_i % len(BANDS)]))
                leaf_i += 1
    teams_df = pd.DataFrame(teams)
    # A team's project: leaf/group teams have one; division and root teams span several.
    leaf = teams_df[teams_df.profile.notna()].reset_index(drop=True)

    people = _people(spec, rng, teams_df, leaf, start, end)
    return dict(
        organisations=pd.DataFrame(divisions),
        projects=pd.DataFrame(projects),
        teams=teams_df,
        **people,
        **_repos_and_services(rng, teams_df, leaf, pd.DataFrame(divisions), pd.DataFrame(projects), start),
    )


def _people(spec, rng, teams_df, leaf, start, end):
    devs, members = [], []
    used_emails: dict[str, int] = {}

    def person(role: str, team_id: str, site: str) -> dict:
        first = names.FIRST[rng.integers(len(names.FIRST))]
        last = names.LAST[rng.integers(len(names.LAST))]
        base = f"{first}.{last}".lower()
        k = used_emails.get(base, 0)
        used_emails[base] = k + 1
        email = f"{base}{k + 1 if k else ''}@{EMAIL_DOMAIN}"
        d = dict(dev_id=f"D{len(devs) + 1:05d}", full_name=f"{first} {last}", first=first, last=last, email=email,
                 role=role, site=site, start_at=start, end_at=None, home_team=team_id)
        devs.append(d)
        return d

    # Managers: one per team (directors/VP for inner teams, engineering managers for leaves).
    manager_of = {}
    for t in teams_df.itertuples():
        role = {0: "vp", 1: "director"}.get(t.level, "manager" if t.profile is not None or spec.groups_per_division == 0 else "director")
        if t.profile is not None:
            role = "manager"
        m = person(role, t.team_id, names.SITES[rng.integers(len(names.SITES))])
        manager_of[t.team_id] = m["dev_id"]
        members.append(dict(dev_id=m["dev_id"], team_id=t.team_id, valid_from=start, valid_to=None, primary=True))
    # Engineers, round-robin over leaf teams; each team works mostly from one site.
    team_site = {tid: names.SITES[i % len(names.SITES)] for i, tid in enumerate(leaf.team_id)}
    for i in range(spec.developers):
        tid = leaf.team_id.iloc[i % len(leaf)]
        site = team_site[tid] if rng.random() < 0.85 else names.SITES[rng.integers(len(names.SITES))]
        d = person("engineer", tid, site)
        members.append(dict(dev_id=d["dev_id"], team_id=tid, valid_from=start, valid_to=None, primary=True))
    dev_df = pd.DataFrame(devs)
    teams_df["manager_dev_id"] = teams_df.team_id.map(manager_of)

    # Joiners, leavers and moves between leaf teams (effective-dated membership).
    eng = dev_df.index[dev_df.role == "engineer"].to_numpy()
    span = end - start
    mem = pd.DataFrame(members)
    n_move = max(2, int(round(len(eng) * 0.12 * span / (365 * DAY))))
    movers = rng.choice(eng, size=min(n_move, len(eng)), replace=False)
    joiners = rng.choice(np.setdiff1d(eng, movers), size=max(1, len(eng) // 12), replace=False)
    leavers = rng.choice(np.setdiff1d(eng, np.concatenate([movers, joiners])), size=max(1, len(eng) // 20), replace=False)
    new_rows = []
    for idx in movers:
        dev_id = dev_df.dev_id[idx]
        when = int(start + rng.uniform(0.2, 0.8) * span) // DAY * DAY
        row = mem.index[(mem.dev_id == dev_id)][0]
        old = mem.at[row, "team_id"]
        choices = leaf.team_id[leaf.team_id != old].to_numpy()
        new_team = choices[rng.integers(len(choices))]
        mem.at[row, "valid_to"] = when
        new_rows.append(dict(dev_id=dev_id, team_id=new_team, valid_from=when, valid_to=None, primary=True))
        dev_df.at[idx, "home_team"] = new_team
    for idx in joiners:
        when = int(start + rng.uniform(0.1, 0.7) * span) // DAY * DAY
        dev_df.at[idx, "start_at"] = when
        mem.loc[mem.dev_id == dev_df.dev_id[idx], "valid_from"] = when
    for idx in leavers:
        when = int(start + rng.uniform(0.5, 0.95) * span) // DAY * DAY
        dev_df.at[idx, "end_at"] = when
        mem.loc[mem.dev_id == dev_df.dev_id[idx], "valid_to"] = when
    # Some people belong to two teams at once (a platform rotation, a guild with a backlog).
    rest = np.setdiff1d(eng, np.concatenate([movers, joiners, leavers]))
    for idx in rng.choice(rest, size=max(1, len(eng) // 100), replace=False):
        own = dev_df.home_team[idx]
        choices = leaf.team_id[leaf.team_id != own].to_numpy()
        new_rows.append(dict(dev_id=dev_df.dev_id[idx], team_id=choices[rng.integers(len(choices))],
                             valid_from=start, valid_to=None, primary=False))
    mem = pd.concat([mem, pd.DataFrame(new_rows)], ignore_index=True)
    mem["valid_to"] = mem["valid_to"].astype("Int64")
    dev_df["end_at"] = dev_df["end_at"].astype("Int64")
    dev_df["manager_dev_id"] = dev_df.home_team.map(manager_of)
    # A team's manager reports to the parent team's manager.
    parent = teams_df.set_index("team_id").parent_team_id
    is_mgr = dev_df.dev_id.isin(manager_of.values())
    dev_df.loc[is_mgr, "manager_dev_id"] = dev_df.loc[is_mgr, "home_team"].map(parent).map(manager_of)
    email = dev_df.set_index("dev_id").email
    dev_df["manager_email"] = dev_df.manager_dev_id.map(email)
    return dict(developers=dev_df, memberships=mem, tool_accounts=_tool_accounts(rng, dev_df))


def _tool_accounts(rng, dev_df):
    rows = []
    n = len(dev_df)
    jira_ids = _hex(rng, n + 3, 24)
    harness_ids = _hex(rng, n, 22)
    gh_ids = 1_000_000 + rng.choice(98_000_000, size=n * 2 + 10, replace=False)
    used: set[str] = set()
    for i, d in enumerate(dev_df.itertuples()):
        style = rng.random()
        login = (f"{d.first}{d.last}".lower() if style < 0.4 else
                 f"{d.first[0]}{d.last}".lower() if style < 0.7 else
                 f"{d.first.lower()}-{d.last.lower()}-acme")
        login = f"{login}{i}" if rng.random() < 0.3 or login in used else login  # logins rarely equal names
        used.add(login)
        commit_email = d.email
        r = rng.random()
        if r < 0.08:  # commits with GitHub's noreply address
            commit_email = f"{gh_ids[i]}+{login}@users.noreply.github.com"
        elif r < 0.11:
            commit_email = f"{d.first.lower()}{d.last.lower()}{i}@gmail.example"
        rows.append(dict(tool="github", account_id=str(gh_ids[i]), login=login, display_name=d.full_name,
                         email=commit_email, dev_id=d.dev_id, is_bot=False, kind="primary"))
        if rng.random() < 0.05:  # a second, personal GitHub account used now and then
            plogin = f"{d.first.lower()}{d.last[0].lower()}-dev{i}"
            rows.append(dict(tool="github", account_id=str(gh_ids[n + i]), login=plogin,
                             display_name=d.first, email=f"{gh_ids[n + i]}+{plogin}@users.noreply.github.com",
                             dev_id=d.dev_id, is_bot=False, kind="secondary"))
        rows.append(dict(tool="jira", account_id=f"5f{jira_ids[i][:22]}", login=None, display_name=d.full_name,
                         email=d.email, dev_id=d.dev_id, is_bot=False, kind="primary"))
        rows.append(dict(tool="harness", account_id=harness_ids[i], login=d.email.split("@")[0],
                         display_name=d.full_name, email=d.email, dev_id=d.dev_id, is_bot=False, kind="primary"))
    for j, (login, name) in enumerate([("dependabot[bot]", "dependabot[bot]"), ("renovate[bot]", "renovate[bot]"),
                                       ("acme-release-bot", "Acme Release Bot")]):
        rows.append(dict(tool="github", account_id=str(49699333 + j), login=login, display_name=name,
                         email=f"{login}@users.noreply.github.com", dev_id=None, is_bot=True, kind="bot"))
    rows.append(dict(tool="jira", account_id=f"5f{jira_ids[n][:22]}", login=None, display_name="Automation for Jira",
                     email=None, dev_id=None, is_bot=True, kind="bot"))
    return pd.DataFrame(rows)


def _repos_and_services(rng, teams_df, leaf, orgs, projects, start):
    gh_org = orgs.set_index("org_id").github_org
    repos, services = [], []
    for t in leaf.itertuples():
        word = t.name.split()[-1].lower()
        n_repos = 1 + int(rng.random() < 0.35)
        for k in range(n_repos):
            name = f"{word}-{['api', 'worker', 'web'][k]}"
            rid = len(repos) + 1
            tool = ["harness", "github", "harness", "jenkins"][rid % 4]
            repos.append(dict(repo_id=rid, github_org=gh_org[t.org_id], name=name, full_name=f"{gh_org[t.org_id]}/{name}",
                              default_branch="main" if rng.random() < 0.85 else "master",
                              merge_method="squash" if rng.random() < 0.6 else "merge",
                              project_id=t.project_id, team_id=t.team_id, service_id=f"svc-{name}",
                              created_at=start - int(rng.integers(30, 900)) * DAY))
            services.append(dict(service_id=f"svc-{name}", name=name, team_id=t.team_id, project_id=t.project_id,
                                 org_id=t.org_id, repo_id=rid, deploy_tool=tool,
                                 incident_tool="pagerduty" if rid % 5 == 4 else "jira",
                                 harness_service_id=name.replace("-", "_"), profile=t.profile))
    # One shared library per division: code but no deployments.
    for o in orgs.itertuples():
        p = projects[projects.org_id == o.org_id].project_id.iloc[0]
        owner = leaf[leaf.org_id == o.org_id].team_id.iloc[0]
        repos.append(dict(repo_id=len(repos) + 1, github_org=o.github_org, name="shared-libs",
                          full_name=f"{o.github_org}/shared-libs", default_branch="main", merge_method="merge",
                          project_id=p, team_id=owner, service_id=None, created_at=start - 1000 * DAY))
    return dict(repos=pd.DataFrame(repos), services=pd.DataFrame(services))
