"""The simulated org's deployments and incidents from tools without an API connector, as
the event files a customer would export (format: docs/events.md).

- Jenkins: every deployment of a service whose `deploy_tool` is "jenkins", one CSV per
  project (`<project_id>.jenkins_deployments.csv`). A Jenkins deploy job per service
  (`deploy-<service>`), `deployment_id` = `deploy-<service>#<build number>`, timestamps in
  the Jenkins server's local time with their offset (Europe/Berlin, so both +01:00 and
  +02:00 occur), status success / failure / in_progress, the deployed commit, rollbacks
  flagged.
- PagerDuty: every incident of a service whose `incident_tool` is "pagerduty", one JSON
  array per project (`<project_id>.pagerduty_incidents.json`), `incident_id` =
  `PD-<incident id>`, timestamps in UTC (`Z`), open incidents without `resolved_at`.

Everything is cut at the world's clock (`world.now`), like the APIs and the truth tables.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd

from simulator import views
from simulator.world import World

JENKINS_TZ = ZoneInfo("Europe/Berlin")
DEPLOYMENT_COLUMNS = ["deployment_id", "service", "environment", "environment_type", "status", "started_at",
                      "finished_at", "commit_sha", "source_tool", "is_rollback", "repository", "url"]


def _local(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).astimezone(JENKINS_TZ).isoformat()


def _utc(ts: int) -> str:
    return dt.datetime.fromtimestamp(int(ts), dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def jenkins_deployment_id(service_name: str, build_number: int) -> str:
    return f"deploy-{service_name}#{int(build_number)}"


def pagerduty_incident_id(incident_id: int) -> str:
    return f"PD-{int(incident_id)}"


def deployment_rows(w: World) -> pd.DataFrame:
    """Jenkins deployments as of now, one row per deployment, in the events format."""
    svc = w["services"].set_index("service_id")
    repos = w["repos"].set_index("repo_id")
    d = views.deployments(w)
    d = d[d.service_id.map(svc.deploy_tool) == "jenkins"].sort_values(["started_at", "deployment_id"])
    rows = []
    for r in d.itertuples():
        name = svc["name"][r.service_id]
        job = f"deploy-{name}"
        done = r.finished_at_now >= 0
        rows.append({
            "deployment_id": jenkins_deployment_id(name, r.build_number), "service": name,
            "environment": r.environment,
            "environment_type": "production" if r.environment == "production" else "staging",
            "status": r.status_now, "started_at": _local(r.started_at),
            "finished_at": _local(r.finished_at_now) if done else "",
            "commit_sha": r.sha, "source_tool": "jenkins", "is_rollback": "true" if r.is_rollback else "false",
            "repository": repos.full_name[svc.repo_id[r.service_id]],
            "url": f"https://jenkins.acme.example/job/{job}/{int(r.build_number)}/",
            "project_id": r.project_id})
    return pd.DataFrame(rows, columns=DEPLOYMENT_COLUMNS + ["project_id"])


def incident_rows(w: World) -> pd.DataFrame:
    """PagerDuty incidents as of now, in the events format."""
    svc = w["services"].set_index("service_id")
    i = views.incidents(w)
    i = i[i.service_id.map(svc.incident_tool) == "pagerduty"].sort_values(["opened_at", "incident_id"])
    rows = []
    for r in i.itertuples():
        name = svc["name"][r.service_id]
        iid = pagerduty_incident_id(r.incident_id)
        rec = {"incident_id": iid, "service": name, "severity": r.severity,
               "title": f"[{r.severity}] {name}: error rate above threshold", "opened_at": _utc(r.opened_at)}
        if r.resolved_at_now >= 0:
            rec["resolved_at"] = _utc(r.resolved_at_now)
        rec.update({"source_tool": "pagerduty", "environment": "production",
                    "url": f"https://acme.pagerduty.com/incidents/{iid}", "project_id": svc.project_id[r.service_id]})
        rows.append(rec)
    return pd.DataFrame(rows)


def export_events(w: World, out: Path) -> list[dict]:
    """Write the files; returns one {"kind", "project_id", "path", "rows"} per file written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    deps = deployment_rows(w)
    for pid, g in deps.groupby("project_id", sort=True):
        path = out / f"{pid}.jenkins_deployments.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            wr = csv.DictWriter(f, fieldnames=DEPLOYMENT_COLUMNS)
            wr.writeheader()
            wr.writerows(g[DEPLOYMENT_COLUMNS].to_dict("records"))
        written.append({"kind": "deployments", "project_id": pid, "path": path, "rows": len(g)})
    incs = incident_rows(w)
    if len(incs):
        for pid, g in incs.groupby("project_id", sort=True):
            path = out / f"{pid}.pagerduty_incidents.json"
            recs = [{k: v for k, v in r.items() if k != "project_id" and not (isinstance(v, float) and v != v)}
                    for r in g.to_dict("records")]
            path.write_text(json.dumps(recs, indent=2) + "\n", encoding="utf-8")
            written.append({"kind": "incidents", "project_id": pid, "path": path, "rows": len(g)})
    return written
