"""Which deliveries the warehouse uses, and what each one touches.

`classify(source, headers, payload, path_params)` -> Kind(event, scope, used, delivery_id):
`used` False means the receiver answers 202 and does not store it. The scope is what the
apply step refreshes: a repository, a Jira project (or board for sprints), a Harness
org/project, or the events project.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

GITHUB_EVENTS = ("pull_request", "pull_request_review", "push", "deployment", "deployment_status", "workflow_run",
                 "release")
JIRA_EVENTS = ("jira:issue_created", "jira:issue_updated", "jira:issue_deleted", "sprint_started", "sprint_closed")
# Harness NextGen notification rules: "Pipeline End" / "Pipeline Success" / "Pipeline Failed"
HARNESS_EVENTS = ("PIPELINE_END", "PIPELINE_SUCCESS", "PIPELINE_FAILED")


@dataclass
class Kind:
    event: str
    scope: str | None
    used: bool
    delivery_id: str
    ping: bool = False


def body_id(body: bytes) -> str:
    """A delivery id for senders that send none: the body's hash (a resend is the same body)."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def classify(source: str, headers, payload, body: bytes, project: str | None = None) -> Kind:
    if source == "github":
        event = headers.get("x-github-event") or ""
        delivery = headers.get("x-github-delivery") or body_id(body)
        if event == "ping":
            return Kind("ping", None, False, delivery, ping=True)
        repo = ((payload.get("repository") or {}).get("full_name")) if isinstance(payload, dict) else None
        used = event in GITHUB_EVENTS and bool(repo)
        if used and event == "push":  # only the default branch's history feeds change sets
            default = (payload.get("repository") or {}).get("default_branch")
            used = bool(default) and payload.get("ref") == f"refs/heads/{default}"
        action = payload.get("action") if isinstance(payload, dict) else None
        return Kind(f"{event}.{action}" if action else event, repo, used, delivery)
    if source == "jira":
        event = (payload.get("webhookEvent") if isinstance(payload, dict) else None) or ""
        delivery = headers.get("x-atlassian-webhook-identifier") or body_id(body)
        scope = None
        if event.startswith("jira:issue_"):
            scope = (((payload.get("issue") or {}).get("fields") or {}).get("project") or {}).get("key")
        elif event.startswith("sprint_"):
            b = (payload.get("sprint") or {}).get("originBoardId")
            scope = f"board:{b}" if b is not None else None
        return Kind(event, scope, event in JIRA_EVENTS and scope is not None, delivery)
    if source == "harness":
        data = (payload.get("eventData") or {}) if isinstance(payload, dict) else {}
        event = data.get("eventType") or ""
        scope = f"{data.get('orgIdentifier')}/{data.get('projectIdentifier')}" \
            if data.get("orgIdentifier") and data.get("projectIdentifier") else None
        delivery = f"{data.get('planExecutionId')}:{event}" if data.get("planExecutionId") else body_id(body)
        return Kind(event, scope, event in HARNESS_EVENTS and scope is not None, delivery)
    # events: one object or an array of objects in the events-file shape (docs/events.md)
    records = payload if isinstance(payload, list) else [payload]
    ok = bool(records) and all(isinstance(r, dict) for r in records)
    kinds = {"deployments" if any(str(k).lower() == "deployment_id" for k in r) else
             "incidents" if any(str(k).lower() == "incident_id" for k in r) else "" for r in records} if ok else {""}
    kind = kinds.pop() if len(kinds) == 1 else ""
    return Kind(kind or "unknown", project, bool(kind), headers.get("x-request-id") or body_id(body))
