"""`sei sim export-org DIR`: the files a customer would upload for the simulated org.

Formats are documented in docs/org-files.md; `sei org import --dir DIR` reads them. Like a
real HR export, the developer file is incomplete on purpose: some people's GitHub logins
or Jira ids are missing and nobody lists personal second accounts, so identity resolution
has real work to do.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from simulator.world import World, iso

REGIONS = {"Berlin": "EMEA", "Lisbon": "EMEA", "Toronto": "AMER", "Austin": "AMER", "Bangalore": "APAC",
           "Singapore": "APAC"}


def _s(v) -> str:
    return "" if v is None or (isinstance(v, float) and v != v) else str(v)


def _date(ts) -> str:
    return "" if ts is None or pd.isna(ts) else iso(int(ts))[:10]


def export_org(w: World, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(w.seed + 1)
    devs = w["developers"]
    devs = devs[devs.start_at <= w.now]
    acc = w["tool_accounts"]
    prim = acc[acc.kind == "primary"]
    gh = prim[prim.tool == "github"].set_index("dev_id").login
    jira = prim[prim.tool == "jira"].set_index("dev_id").account_id
    harness = prim[prim.tool == "harness"].set_index("dev_id").account_id
    files = {}

    rows = []
    for d in devs.itertuples():
        rows.append({
            "developer_id": d.dev_id, "full_name": d.full_name, "emails": d.email,
            "manager_email": _s(d.manager_email), "role": d.role, "site": d.site,
            "start_date": _date(d.start_at), "end_date": _date(d.end_at),
            "github_logins": gh.get(d.dev_id, "") if rng.random() < 0.9 else "",
            "jira_account_ids": jira.get(d.dev_id, "") if rng.random() < 0.8 else "",
            "harness_user_ids": harness.get(d.dev_id, "") if rng.random() < 0.5 else "",
        })
    files["developers"] = _write(out / "developers.csv", rows)

    teams = w["teams"]
    email = w["developers"].set_index("dev_id").email
    files["tree_reporting"] = _write(out / "org_tree_reporting.csv", [
        {"tree": "reporting", "team_id": t.team_id, "team_name": t.name, "parent_team_id": _s(t.parent_team_id),
         "manager_email": _s(email.get(t.manager_dev_id))} for t in teams.itertuples()])
    region_rows = [{"tree": "regions", "team_id": "R-GLOBAL", "team_name": "Global", "parent_team_id": "", "manager_email": ""}]
    for reg in sorted(set(REGIONS.values())):
        region_rows.append({"tree": "regions", "team_id": f"R-{reg}", "team_name": reg, "parent_team_id": "R-GLOBAL",
                            "manager_email": ""})
    for site, reg in REGIONS.items():
        region_rows.append({"tree": "regions", "team_id": f"R-{site.upper()}", "team_name": site,
                            "parent_team_id": f"R-{reg}", "manager_email": ""})
    files["tree_regions"] = _write(out / "org_tree_regions.csv", region_rows)

    mem = w["memberships"]
    mem = mem[mem.valid_from <= w.now]
    mrows = [{"developer_id": m.dev_id, "tree": "reporting", "team_id": m.team_id, "valid_from": _date(m.valid_from),
              "valid_to": "" if pd.isna(m.valid_to) or m.valid_to > w.now else _date(m.valid_to)}
             for m in mem.itertuples()]
    mrows += [{"developer_id": d.dev_id, "tree": "regions", "team_id": f"R-{d.site.upper()}",
               "valid_from": _date(d.start_at), "valid_to": _date(d.end_at)} for d in devs.itertuples()]
    files["memberships"] = _write(out / "memberships.csv", mrows)

    repos = w["repos"].set_index("repo_id")
    files["services"] = _write(out / "services.csv", [
        {"service": s.name, "owning_team_id": s.team_id, "project_id": s.project_id,
         "repositories": repos.full_name[s.repo_id], "harness_service_ids": s.harness_service_id}
        for s in w["services"].itertuples()])
    # What an admin adds after a first `sei org identities --unmatched`: the release service
    # account is automation (its login has no [bot] suffix).
    files["identity_overrides"] = _write(out / "identity_overrides.csv", [
        {"tool": "github", "account": "acme-release-bot", "developer_id": "bot",
         "note": "release pipeline service account"}], header=["tool", "account", "developer_id", "note"])
    return files


def _write(path: Path, rows: list[dict], header: list[str] | None = None) -> Path:
    header = header or list(rows[0])
    with path.open("w", newline="", encoding="utf-8") as f:
        wr = csv.DictWriter(f, fieldnames=header)
        wr.writeheader()
        wr.writerows(rows)
    return path


def export_sources(w: World, path: Path, base_url: str, events: list[dict] | None = None) -> Path:
    """A sources file (see sources.example.yml) that reads the whole simulated org from a
    simulator at `base_url`; `events` (from `simulator.export_events.export_events`) adds
    each project's generic event files."""
    import yaml
    repos, services = w["repos"], w["services"]
    orgs = []
    for o in w["organisations"].itertuples():
        projects = []
        for p in w["projects"][w["projects"].org_id == o.org_id].itertuples():
            svc = services[services.project_id == p.project_id]
            projects.append({"id": p.project_id, "name": p.name,
                             "github": {"repos": sorted(repos[repos.project_id == p.project_id].full_name)},
                             "jira": {"projects": [p.jira_key]},
                             "harness": [{"org": o.harness_org, "project": p.harness_project,
                                          "services": sorted(svc[svc.deploy_tool == "harness"].harness_service_id)}]})
            files = [str(e["path"]) for e in events or [] if e["project_id"] == p.project_id]
            if files:
                projects[-1]["events"] = {"paths": files}
        orgs.append({"id": o.org_id, "name": o.name, "projects": projects})
    doc = {"account": "acme", "start_date": iso(w.start)[:10],
           "integrations": {"github": {"base_url": base_url, "graphql_url": f"{base_url}/graphql"},
                            "jira": {"base_url": base_url, "flavor": "cloud"},
                            "harness": {"base_url": base_url, "account_id": "acmeAccount"}},
           "organisations": orgs}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("# Written by the simulator for `sei demo`.\n" + yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path
