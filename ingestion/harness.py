"""Harness NextGen as a dlt source: pipeline executions (CI and CD stages), services and
environments, with the commit each deployment shipped.

Same code for Harness SaaS (`https://app.harness.io`, or `.../gateway`), self-managed
Harness (`https://harness.acme.example/gateway`) and the simulator: `base_url` is whatever
comes before `/ng/api/...` and `/pipeline/api/...`.

Authentication: the `x-api-key` header with a personal access token or service-account
token (`pat.<account>.<token id>.<secret>` / `sat.…`) from `SOURCES__HARNESS__API_KEY` (or
`api_key` under `[sources.harness]` in `.dlt/secrets.toml`); the account from
`integrations.harness.account_id` goes in `accountIdentifier` (and the `Harness-Account`
routing header). Read-only permissions needed: Pipelines View, Services View,
Environments View on each project.

Resources (dagster-dlt names them `dlt_harness_<resource>`), all `merge`:

| resource | API | primary key | incremental |
|---|---|---|---|
| services | `GET /ng/api/servicesV2` (PageResponse: pageIndex / totalPages / totalItems) | harness_account_id, org_identifier, project_identifier, identifier | full listing (one page per project) |
| environments | `GET /ng/api/environmentsV2` (same paging) | harness_account_id, org_identifier, project_identifier, identifier | full listing |
| pipeline_executions (+ nested `__stages`) | `POST /pipeline/api/pipelines/execution/summary` (Spring Page: number / totalPages) | plan_execution_id | startTs window per (org, project), see below |

Executions, incremental. Harness filters the execution listing on the pipeline's start
time only (`timeRange {startTime, endTime}`, both required, on `startTs`), and an
execution's status and end time change after it started. One cursor per (org, project) in
dlt resource state holds the latest `startTs` seen, the executions not finished yet, and
a signature (status, end) of the executions inside the lookback window. A run lists
`startTs >= cursor - lookback` (default 60 minutes, `integrations.harness.lookback_minutes`;
it absorbs clock skew and executions indexed late), sorted `startTs,ASC` so executions
that start while paging land on later pages instead of shifting earlier ones, and emits
the executions that are new or changed. Executions still running that started before that
window are re-read one by one with a point query (`timeRange [startTs, startTs]` and their
`pipelineIdentifier`) until Harness reports a final status (Success, Failed, Errored,
IgnoreFailed, Expired, Aborted, AbortedByFreeze, ApprovalRejected, Suspended, Skipped). The
cursor moves page by page (rows are in start order), so an interrupted run resumes.
A second run with nothing new costs one request per (resource, project) plus one per
execution still running from before the window.

Throughput: `integrations.harness.concurrency` (default 4) Harness projects are read at
once per resource, each wholly in one thread (its cursor moves page by page as above); at
most that many requests are in flight. Pages hold `page_size` items (default 100).

Per execution, flattened: pipeline, status (raw CamelCase and normalised), start / end
(epoch ms -> UTC timestamps), trigger, CI info (`moduleInfo.ci`: branch, repository,
commit), and the CD stage that deployed: Harness keeps `serviceInfo` (service, artifact
image and tag) and `infraExecutionSummary` (environment identifier, name and type) per
stage in `layoutNodeMap[*].moduleInfo.cd`; the execution-level `moduleInfo.cd` only lists
identifiers. Every stage is also a row of `pipeline_executions__stages`. The top-level
deployment fields come from the last CD stage that targets a Production environment (else
the last CD stage).

The deployed commit (`deployed_commit_sha`, `deployed_commit_source`):
- `ci_stage`: the pipeline built it: the CI codebase commit,
  `moduleInfo.ci.ciExecutionInfoDTO.branch.commits[0].id` (the built head; pull-request
  builds: `pullRequest.commits[0].id`);
- `artifact_tag`: the primary artifact's tag is a full 40-hex commit SHA (also as the
  suffix of a tag such as `main-<sha>`);
- `artifact_tag_prefix`: the tag is 7-39 hex characters: a short SHA that downstream
  models match against the service repository's commits (`deployed_commit_sha` is null,
  `deployed_commit_sha_prefix` holds it);
- `unknown` (`deployed_commit_unknown` = true): a version tag such as `1.4.37` and no CI
  stage. Such executions are kept and flagged, never dropped.

Scopes: the sources file lists `harness: [{org, project, services: [...]}]` per SEI
project. Executions are listed once per Harness (org, project); with services listed,
only executions that deploy one of them are kept (and belong to the SEI project that lists
that service); without, every execution of the Harness project belongs to the SEI project.
Rows carry `project_id`, `organisation_id` and `account_id` (the SEI ones) and
`harness_account_id`, `org_identifier`, `project_identifier` (Harness's).

Errors: 401 (bad or expired key, or a key of another account) stops the source with a
message naming SOURCES__HARNESS__API_KEY and the account; a key of another account (real
Harness: 400 "Invalid account token access") likewise. Anything else failing for one
project (403, 404, retries exhausted) is recorded in ops and the other projects still load.
429s carry no Retry-After: the client backs off exponentially (ingestion/http.py).
"""
from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Iterator

import dlt
import requests
from requests.auth import AuthBase

from ingestion.config import Runtime
from ingestion.github_state import fan_out
from ingestion.http import Api, ApiError, AuthError, HttpStats, Integration, response_json

INTEGRATION = "harness"
SAAS_URL = "https://app.harness.io"
DEFAULT_LOOKBACK_MINUTES = 60
CONCURRENCY = 4  # Harness projects read at once per resource; requests in flight
FAR_END = dt.timedelta(days=366)  # the window's end: Harness needs both ends; this only guards clock skew
KEY_HINT = ("set SOURCES__HARNESS__API_KEY (or api_key under [sources.harness] in .dlt/secrets.toml) to a valid "
            "Harness API key token (pat.… or sat.…) of account")

# ExecutionStatus values Harness reports once an execution is over (StatusUtils' final statuses).
FINAL_STATUSES = {"Success", "Failed", "Errored", "IgnoreFailed", "Expired", "Aborted", "AbortedByFreeze",
                  "ApprovalRejected", "Suspended", "Skipped"}
RUNNING_STATUSES = {"Running", "AsyncWaiting", "TaskWaiting", "TimedWaiting", "NotStarted", "Discontinuing", "Queued",
            "Paused", "ResourceWaiting", "InterventionWaiting", "ApprovalWaiting", "WaitStepRunning",
            "QueuedLicenseLimitReached", "QueuedExecutionConcurrencyReached", "Pausing", "InputWaiting",
            "QueuedStepLimitReached"}
NORMALISED = {"Success": "success", "IgnoreFailed": "success", "Failed": "failure", "Errored": "failure",
              "Expired": "failure", "ApprovalRejected": "cancelled", "Aborted": "cancelled",
              "AbortedByFreeze": "cancelled", "Suspended": "cancelled", "Skipped": "skipped"}
SHA_RX = re.compile(r"^[0-9a-fA-F]{40}$")
SHA_SUFFIX_RX = re.compile(r"[-_.]([0-9a-fA-F]{40})$")
SHORT_SHA_RX = re.compile(r"^[0-9a-fA-F]{7,39}$")


# --------------------------------------------------------------------------- errors in Harness's words
def _said(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return (resp.text or "")[:200].strip()
    if isinstance(body, dict):
        return str(body.get("message") or body.get("code") or body)[:300]
    return str(body)[:200]


def _key_account(api_key: str | None) -> str | None:
    """The account a new-format key names: pat.<account>.<token id>.<secret>."""
    parts = (api_key or "").split(".")
    return parts[1] if len(parts) == 4 and parts[0] in ("pat", "sat") else None


def is_account_error(resp: requests.Response | None) -> bool:
    """Real Harness answers a key of another account with 400 INVALID_REQUEST
    'Invalid account token access' (or 'Invalid accountId in token')."""
    if resp is None or resp.status_code not in (400, 403):
        return False
    said = _said(resp).lower()
    return "account token access" in said or "accountid in token" in said or "account detail" in said


def make_integration(account_id: str, api_key: str | None) -> Integration:
    def describe(resp: requests.Response, endpoint: str) -> str | None:
        said = _said(resp)
        code = resp.status_code
        key_acct = _key_account(api_key)
        other = (f" The key's prefix names account {key_acct!r}, not {account_id!r}."
                 if key_acct and key_acct != account_id else "")
        if code == 401 or is_account_error(resp):
            return (f"Harness rejected the API key for account {account_id!r} (HTTP {code}, Harness said: "
                    f"{said}).{other} "
                    f"What to do: {KEY_HINT} {account_id!r}, and check integrations.harness.account_id in the sources "
                    f"file (a key only works in the account it was created in).")
        if code == 403:
            return (f"Harness: {endpoint} is forbidden for this API key (Harness said: {said}). What to do: give the "
                    f"key's user or service account the Pipelines View, Services View and Environments View "
                    f"permissions on the project.")
        if code == 404:
            return (f"Harness: {endpoint} not found (Harness said: {said}). What to do: check the org and project "
                    f"identifiers under `harness:` in the sources file and integrations.harness.base_url.")
        return None

    return Integration("harness", "Harness", f"{KEY_HINT} {account_id!r}", describe)


class ApiKey(AuthBase):
    def __init__(self, key: str):
        self.key = key

    def __call__(self, r):
        r.headers["x-api-key"] = self.key
        return r


class _MissingKey(AuthBase):
    """Fails the first request, not the source's construction (Dagster builds assets without secrets)."""

    def __init__(self, account_id: str):
        self.account_id = account_id

    def __call__(self, r):
        raise AuthError(INTEGRATION, "-", f"Harness API key missing: {KEY_HINT} {self.account_id!r}.")


def make_api(base_url: str, account_id: str, api_key: str | None, runtime: Runtime, stats: HttpStats,
             max_in_flight: int | None = None) -> Api:
    """The Harness `Api` (x-api-key); `max_in_flight`: requests in flight at most across the
    source's threads (None: no limit)."""
    api = Api(make_integration(account_id, api_key), base_url, runtime, stats,
              headers={"Accept": "application/json", "Harness-Account": account_id}, max_in_flight=max_in_flight)
    api.auth = ApiKey(api_key) if api_key else _MissingKey(account_id)
    return api


# --------------------------------------------------------------------------- helpers
def _ts(ms) -> dt.datetime | None:
    """Harness epoch milliseconds -> tz-aware UTC datetime (0 / absent / negative -> None)."""
    try:
        v = int(ms)
    except (TypeError, ValueError):
        return None
    if v <= 0:
        return None
    return dt.datetime.fromtimestamp(v / 1000, dt.timezone.utc)


def _ms(d: dt.datetime) -> int:
    return int(d.timestamp() * 1000)


def _ms_delta(d: dt.timedelta) -> int:
    return int(d.total_seconds() * 1000)


def is_final(status: str | None, end_ms=None) -> bool:
    """Over for good: a final ExecutionStatus, or an unknown (newer) status with an end time."""
    if status in FINAL_STATUSES:
        return True
    return status not in RUNNING_STATUSES and bool(end_ms)


def _iso_ms(ms: int | None) -> str | None:
    d = _ts(ms)
    return d.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z" if d else None


def _csv(values) -> str | None:
    vals = [str(v) for v in values or [] if v not in (None, "")]
    return ",".join(vals) if vals else None


def _dig(d: Any, *path, default=None):
    for p in path:
        if not isinstance(d, dict):
            return default
        d = d.get(p)
    return default if d is None else d


def deployed_commit(ci_commit: str | None, tag: str | None) -> tuple[str | None, str | None, str]:
    """(full sha or None, short-sha prefix or None, source) per the rules in the module doc."""
    if ci_commit and SHA_RX.match(ci_commit):
        return ci_commit.lower(), None, "ci_stage"
    if ci_commit and SHORT_SHA_RX.match(ci_commit):
        return None, ci_commit.lower(), "ci_stage"
    t = (tag or "").strip()
    if SHA_RX.match(t):
        return t.lower(), None, "artifact_tag"
    m = SHA_SUFFIX_RX.search(t)
    if m:
        return m.group(1).lower(), None, "artifact_tag"
    if SHORT_SHA_RX.match(t):
        return None, t.lower(), "artifact_tag_prefix"
    return None, None, "unknown"


def _stage_order(e: dict) -> list[str]:
    """layoutNodeMap keys in pipeline order: from startingNodeId along nextIds, parallel
    children in place; anything unreached after."""
    nodes = e.get("layoutNodeMap") or {}
    order, seen = [], set()
    queue = [e.get("startingNodeId")] if e.get("startingNodeId") else []
    while queue:
        k = queue.pop(0)
        if k in seen or k not in nodes:
            continue
        seen.add(k)
        order.append(k)
        edges = nodes[k].get("edgeLayoutList") or {}
        queue = list(edges.get("currentNodeChildren") or []) + queue + list(edges.get("nextIds") or [])
    order += [k for k in nodes if k not in seen]
    return order


def stage_rows(e: dict) -> list[dict]:
    nodes = e.get("layoutNodeMap") or {}
    out = []
    for k in _stage_order(e):
        n = nodes[k]
        if (n.get("nodeGroup") or "STAGE").upper() != "STAGE":
            continue
        cd = _dig(n, "moduleInfo", "cd", default={})
        svc = cd.get("serviceInfo") or {}
        infra = cd.get("infraExecutionSummary") or {}
        prim = _dig(svc, "artifacts", "primary", default={})
        out.append({
            "node_uuid": n.get("nodeUuid") or k, "stage_index": len(out),
            "stage_identifier": n.get("nodeIdentifier"), "name": n.get("name"), "node_type": n.get("nodeType"),
            "module": n.get("module"), "status": n.get("status"),
            "start_ts": _ts(n.get("startTs")), "end_ts": _ts(n.get("endTs")),
            "is_cd": bool(svc) or n.get("module") == "cd",
            "service_identifier": svc.get("identifier"), "service_name": svc.get("displayName"),
            "deployment_type": svc.get("deploymentType"),
            "environment_identifier": infra.get("identifier"), "environment_name": infra.get("name"),
            "environment_type": infra.get("type"),
            "infrastructure_identifier": infra.get("infrastructureIdentifier"),
            "infrastructure_name": infra.get("infrastructureName"),
            "artifact_image": prim.get("imagePath"),
            "artifact_tag": None if prim.get("tag") is None else str(prim["tag"]),
            "artifact_display_name": _dig(svc, "artifacts", "artifactDisplayName") or prim.get("displayName"),
            "failure_message": _dig(n, "failureInfo", "message") or None,
        })
    return out


def _ci_commit(ci: dict) -> dict:
    info = ci.get("ciExecutionInfoDTO") or {}
    for hook in ("branch", "pullRequest"):
        commits = _dig(info, hook, "commits", default=[])
        if commits:
            return commits[0] or {}
    return {}


def execution_row(e: dict, harness_account: str, scope: dict, base_url: str) -> dict:
    """One execution, flattened (see the module doc). `scope` carries the SEI ids."""
    ci = _dig(e, "moduleInfo", "ci", default={})
    cd = _dig(e, "moduleInfo", "cd", default={})
    stages = stage_rows(e)
    cd_stages = [s for s in stages if s["is_cd"]]
    env_types = dict(zip(cd.get("envIdentifiers") or [], cd.get("environmentTypes") or []))
    if len(cd.get("environmentTypes") or []) == 1:
        env_types.setdefault(None, cd["environmentTypes"][0])
    for s in cd_stages:  # older Harness: InfraExecutionSummary has no type; take it from moduleInfo.cd
        if s["environment_type"] is None:
            s["environment_type"] = env_types.get(s["environment_identifier"]) or (
                env_types.get(None) if len(cd_stages) == 1 else None)
    prod = [s for s in cd_stages if s["environment_type"] == "Production"]
    main = (prod or cd_stages or [None])[-1]
    commit = _ci_commit(ci) if ci else {}
    tag = main["artifact_tag"] if main else None
    sha, prefix, source = deployed_commit(commit.get("id"), tag)
    status = e.get("status")
    start, end = _ts(e.get("startTs")), _ts(e.get("endTs"))
    finished = is_final(status, e.get("endTs"))
    trig = e.get("executionTriggerInfo") or {}
    by = trig.get("triggeredBy") or {}
    org, proj, pipe, pid = e.get("orgIdentifier"), e.get("projectIdentifier"), e.get("pipelineIdentifier"), \
        e.get("planExecutionId")
    mode = e.get("executionMode")
    return {
        "plan_execution_id": pid, "harness_account_id": harness_account, "org_identifier": org,
        "project_identifier": proj, "project_id": scope.get("project_id"),
        "organisation_id": scope.get("organisation_id"), "account_id": scope.get("account_id"),
        "pipeline_identifier": pipe, "name": e.get("name"), "run_sequence": e.get("runSequence"),
        "status": status, "status_normalized": NORMALISED.get(status, "in_progress" if not finished else "other"),
        "is_finished": finished, "start_ts": start, "end_ts": end, "created_at": _ts(e.get("createdAt")),
        "duration_seconds": round((end - start).total_seconds(), 3) if start and end else None,
        "trigger_type": trig.get("triggerType"), "triggered_by": by.get("identifier"),
        "triggered_by_email": _dig(by, "extraInfo", "email"), "is_rerun": trig.get("isRerun"),
        "execution_mode": mode, "is_rollback_execution": bool(mode and "ROLLBACK" in str(mode).upper()),
        "modules": _csv(e.get("modules")),
        "failure_message": _dig(e, "executionErrorInfo", "message") or _dig(e, "failureInfo", "message") or None,
        "is_deployment": bool(cd_stages), "cd_stage_count": len(cd_stages),
        "service_identifier": main["service_identifier"] if main else None,
        "service_name": main["service_name"] if main else None,
        "deployment_type": main["deployment_type"] if main else None,
        "environment_identifier": main["environment_identifier"] if main else None,
        "environment_name": main["environment_name"] if main else None,
        "environment_type": main["environment_type"] if main else None,
        "is_production": (main["environment_type"] == "Production") if main else None,
        "infrastructure_identifier": main["infrastructure_identifier"] if main else None,
        "deployment_stage_status": main["status"] if main else None,
        "deployment_started_at": main["start_ts"] if main else None,
        "deployment_finished_at": main["end_ts"] if main else None,
        "artifact_image": main["artifact_image"] if main else None, "artifact_tag": tag,
        "artifact_display_name": main["artifact_display_name"] if main else None,
        "service_identifiers": _csv(cd.get("serviceIdentifiers")), "env_identifiers": _csv(cd.get("envIdentifiers")),
        "environment_types": _csv(cd.get("environmentTypes")),
        "ci_branch": ci.get("branch") or _dig(ci, "ciExecutionInfoDTO", "branch", "name"),
        "ci_repo_name": ci.get("repoName"), "ci_build_type": ci.get("buildType"),
        "ci_commit_sha": commit.get("id"), "ci_commit_message": commit.get("message"),
        "ci_commit_author": commit.get("ownerId") or commit.get("ownerName"),
        "ci_commit_author_email": commit.get("ownerEmail"), "ci_commit_timestamp": _ts(commit.get("timeStamp")),
        "deployed_commit_sha": sha, "deployed_commit_sha_prefix": prefix, "deployed_commit_source": source,
        "deployed_commit_unknown": source == "unknown",
        "url": (f"{re.sub(r'/gateway$', '', base_url)}/ng/account/{harness_account}/all/orgs/{org}/projects/{proj}"
                f"/pipelines/{pipe}/executions/{pid}/pipeline"),
        "stages": stages,
    }


def execution_services(e: dict) -> list[str]:
    """Services an execution deploys: per CD stage, else the execution-level list."""
    svcs = [s["service_identifier"] for s in stage_rows(e) if s["service_identifier"]]
    return svcs or list(_dig(e, "moduleInfo", "cd", "serviceIdentifiers", default=[]))


# Column types for fields that can be null on a first load.
_T, _TS, _I, _B, _D = "text", "timestamp", "bigint", "bool", "double"


def _cols(**types: str) -> dict:
    """Fresh column hints (dlt writes into the dicts it is given, so none may be shared)."""
    return {name: {"name": name, "data_type": t} for name, t in types.items()}


EXECUTION_TYPES = dict(
    project_id=_T, organisation_id=_T, account_id=_T, name=_T, run_sequence=_I, end_ts=_TS, created_at=_TS,
    duration_seconds=_D, trigger_type=_T, triggered_by=_T, triggered_by_email=_T, is_rerun=_B, execution_mode=_T,
    modules=_T, failure_message=_T, service_identifier=_T, service_name=_T, deployment_type=_T,
    environment_identifier=_T, environment_name=_T, environment_type=_T, is_production=_B,
    infrastructure_identifier=_T, deployment_stage_status=_T, deployment_started_at=_TS,
    deployment_finished_at=_TS, artifact_image=_T, artifact_tag=_T, artifact_display_name=_T,
    service_identifiers=_T, env_identifiers=_T, environment_types=_T, ci_branch=_T, ci_repo_name=_T,
    ci_build_type=_T, ci_commit_sha=_T, ci_commit_message=_T, ci_commit_author=_T, ci_commit_author_email=_T,
    ci_commit_timestamp=_TS, deployed_commit_sha=_T, deployed_commit_sha_prefix=_T, url=_T)
STAGE_TYPES = dict(
    stage_identifier=_T, name=_T, node_type=_T, module=_T, status=_T, start_ts=_TS, end_ts=_TS,
    service_identifier=_T, service_name=_T, deployment_type=_T, environment_identifier=_T, environment_name=_T,
    environment_type=_T, infrastructure_identifier=_T, infrastructure_name=_T, artifact_image=_T, artifact_tag=_T,
    artifact_display_name=_T, failure_message=_T)
SERVICE_TYPES = dict(project_id=_T, organisation_id=_T, account_id=_T, description=_T, tags=_T,
                        created_at=_TS, last_modified_at=_TS)
ENVIRONMENT_TYPES = dict(project_id=_T, organisation_id=_T, account_id=_T, description=_T, tags=_T, type=_T,
                            color=_T, created_at=_TS, last_modified_at=_TS)


# --------------------------------------------------------------------------- scopes
def group_scopes(scopes: list[dict]) -> dict[tuple[str, str], dict]:
    """Sources-file entries -> one Harness project each: {"whole": SEI ids or None,
    "services": {service identifier: SEI ids}}."""
    out: dict[tuple[str, str], dict] = {}
    for s in scopes:
        key = (str(s.get("org") or "default"), str(s["project"]))
        g = out.setdefault(key, {"whole": None, "services": {}})
        ids = {k: s.get(k) for k in ("project_id", "organisation_id", "account_id")}
        if s.get("services"):
            for svc in s["services"]:
                g["services"][str(svc)] = ids
        else:
            g["whole"] = ids
    return out


def _owner(group: dict, services: list[str]) -> dict | None:
    """The SEI project an execution of these services belongs to (None: not configured)."""
    for svc in services:
        if svc in group["services"]:
            return group["services"][svc]
    return group["whole"]


# --------------------------------------------------------------------------- the source
@dlt.source(name="harness", section="harness", max_table_nesting=1)
def harness_source(scopes: list[dict] = dlt.config.value,
                   account_id: str = dlt.config.value,
                   api_key: str | None = dlt.secrets.value,
                   base_url: str = SAAS_URL,
                   start_date: str | dt.datetime = "2025-01-01",
                   page_size: int = 100,
                   lookback_minutes: float = DEFAULT_LOOKBACK_MINUTES,
                   runtime: Runtime | None = None,
                   stats: HttpStats | None = None,
                   concurrency: int = CONCURRENCY):
    """Harness projects: `scopes` is a list of {"org", "project", "services": [...],
    "project_id", "organisation_id", "account_id"} (the last three: the SEI project the
    scope belongs to). `api_key` comes from `SOURCES__HARNESS__API_KEY` when not passed.
    `runtime` (waits, attempts) and `stats` (counters for ops) are shared with the pipeline.
    `concurrency`: Harness projects each resource reads at once (each project wholly in one
    thread, so its cursor moves page by page as before), and requests in flight."""
    runtime = runtime or Runtime()
    stats = stats or HttpStats()
    start = start_date if isinstance(start_date, dt.datetime) else dt.datetime.fromisoformat(
        str(start_date).replace("Z", "+00:00"))
    if start.tzinfo is None:
        start = start.replace(tzinfo=dt.timezone.utc)
    start_ms = _ms(start)
    base_url = base_url.rstrip("/")
    page_size = max(1, min(int(page_size), 1000))
    lookback_ms = int(float(lookback_minutes) * 60_000)
    concurrency = max(1, int(concurrency))
    api = make_api(base_url, account_id, api_key, runtime, stats,
                   max_in_flight=concurrency if concurrency > 1 else None)
    groups = group_scopes(scopes)

    def each_project(resource: str, fetch) -> Iterator[list[dict]]:
        """Row batches of every Harness project, `concurrency` projects at a time; a failing
        project is recorded and the others go on (`_guard`)."""
        def one(item):
            (org, project), g = item
            return _guard(resource, org, project, lambda: fetch(org, project, g))
        return fan_out(list(groups.items()), one, concurrency)

    def _q(org: str, project: str, **extra) -> dict:
        return {"accountIdentifier": account_id, "orgIdentifier": org, "projectIdentifier": project, **extra}

    def _data(resp: requests.Response, endpoint: str) -> dict:
        try:
            body = response_json(resp)
        except ValueError:
            raise ApiError(INTEGRATION, endpoint, f"Harness: {endpoint} answered something that is not JSON: "
                           f"{resp.text[:200]!r}", resp.status_code, resp) from None
        if not isinstance(body, dict) or body.get("status") not in (None, "SUCCESS"):
            raise ApiError(INTEGRATION, endpoint, f"Harness: {endpoint} answered {str(body)[:300]}",
                           resp.status_code, resp)
        return body.get("data") or {}

    def _guard(resource: str, org: str, project: str, fn):
        """One Harness project's fetch; its failure is recorded and the others go on. A
        rejected key (or one of another account) stops the source."""
        try:
            yield from fn()
        except AuthError:
            raise
        except ApiError as e:
            if e.status == 401 or is_account_error(e.response):
                raise AuthError(INTEGRATION, e.endpoint, str(e), e.status, e.response) from None
            stats.error(INTEGRATION, resource, f"{org}/{project}: {e}")
            stats.say(f"  harness.{resource} {org}/{project}: ERROR {e}")

    def _ng_pages(resource: str, path: str, org: str, project: str) -> Iterator[list[dict]]:
        """A `/ng/api` listing: PageResponse with pageIndex / totalPages / totalItems."""
        page = 0
        while True:
            resp = api.request(resource, "GET", path, params=_q(org, project, page=page, size=page_size))
            data = _data(resp, f"GET {path}")
            content = data.get("content") or []
            if content:
                yield content
            total_pages = data.get("totalPages")
            page += 1
            if not content or (total_pages is not None and page >= int(total_pages)) or \
                    (total_pages is None and len(content) < page_size):
                break

    # ---------------------------------------------------------------- services
    @dlt.resource(name="services", write_disposition="merge",
                  primary_key=("harness_account_id", "org_identifier", "project_identifier", "identifier"),
                  columns=_cols(**SERVICE_TYPES))
    def services():
        yield from each_project("services", _services)

    def _services(org: str, project: str, g: dict) -> Iterator[list[dict]]:
        found = set()
        for page in _ng_pages("services", "/ng/api/servicesV2", org, project):
            rows = []
            for item in page:
                s = item.get("service") or item
                ident = s.get("identifier")
                owner = _owner(g, [ident])
                if owner is None:
                    continue  # a service of the Harness project the sources file does not list
                found.add(ident)
                rows.append({"identifier": ident, "harness_account_id": account_id,
                             "org_identifier": s.get("orgIdentifier") or org,
                             "project_identifier": s.get("projectIdentifier") or project,
                             **owner, "name": s.get("name"), "description": s.get("description"),
                             "deleted": bool(s.get("deleted")), "tags": json.dumps(s.get("tags") or {}, sort_keys=True),
                             "created_at": _ts(item.get("createdAt")),
                             "last_modified_at": _ts(item.get("lastModifiedAt"))})
            if rows:
                stats.add_rows(INTEGRATION, "services", len(rows))
                yield rows
        missing = sorted(set(g["services"]) - found)
        if missing:
            stats.error(INTEGRATION, "services",
                        f"{org}/{project}: service(s) {', '.join(missing)} listed in the sources file not found in "
                        f"Harness. Fix: check the service identifiers (not names) under `harness: services:`.")

    # ---------------------------------------------------------------- environments
    @dlt.resource(name="environments", write_disposition="merge",
                  primary_key=("harness_account_id", "org_identifier", "project_identifier", "identifier"),
                  columns=_cols(**ENVIRONMENT_TYPES))
    def environments():
        yield from each_project("environments", _environments)

    def _environments(org: str, project: str, g: dict) -> Iterator[list[dict]]:
        owners = {json.dumps(v, sort_keys=True) for v in g["services"].values()}
        if g["whole"] is not None:
            owners.add(json.dumps(g["whole"], sort_keys=True))
        # Environments are shared by the project's services: with one SEI project they are
        # its; split between several SEI projects they carry no project_id.
        owner = json.loads(owners.pop()) if len(owners) == 1 else {"project_id": None, "organisation_id": None,
                                                                   "account_id": None}
        for page in _ng_pages("environments", "/ng/api/environmentsV2", org, project):
            rows = []
            for item in page:
                e = item.get("environment") or item
                rows.append({"identifier": e.get("identifier"), "harness_account_id": account_id,
                             "org_identifier": e.get("orgIdentifier") or org,
                             "project_identifier": e.get("projectIdentifier") or project, **owner,
                             "name": e.get("name"), "type": e.get("type"),
                             "is_production": e.get("type") == "Production", "description": e.get("description"),
                             "color": e.get("color"), "deleted": bool(e.get("deleted")),
                             "tags": json.dumps(e.get("tags") or {}, sort_keys=True),
                             "created_at": _ts(item.get("createdAt")),
                             "last_modified_at": _ts(item.get("lastModifiedAt"))})
            if rows:
                stats.add_rows(INTEGRATION, "environments", len(rows))
                yield rows

    # ---------------------------------------------------------------- executions
    @dlt.resource(name="pipeline_executions", write_disposition="merge", primary_key="plan_execution_id",
                  columns=_cols(**EXECUTION_TYPES), nested_hints={"stages": {"columns": _cols(**STAGE_TYPES)}})
    def pipeline_executions():
        state = dlt.current.resource_state("pipeline_executions")
        cursors = state.setdefault("cursors", {})
        yield from each_project("pipeline_executions",
                                lambda org, project, g: _executions(org, project, g, cursors))
        state["summary"] = _summary(cursors)

    def _list(org: str, project: str, t0: int, t1: int, **params) -> Iterator[list[dict]]:
        path = "/pipeline/api/pipelines/execution/summary"
        body = {"filterType": "PipelineExecution", "timeRange": {"startTime": t0, "endTime": t1}}
        page = 0
        while True:
            resp = api.request("pipeline_executions", "POST", path,
                               params=_q(org, project, page=page, size=page_size, sort="startTs,ASC", **params),
                               json=body)
            data = _data(resp, f"POST {path}")
            content = data.get("content") or []
            yield content
            page += 1
            total_pages = data.get("totalPages")
            if not content or data.get("last") is True or (total_pages is not None and page >= int(total_pages)):
                break

    def _executions(org: str, project: str, g: dict, cursors: dict) -> Iterator[list[dict]]:
        key = f"{org}/{project}"
        cur = cursors.get(key)
        scope = ["*"] if g["whole"] is not None else sorted(g["services"])
        if cur is not None and not ("*" in cur.get("scope", ["*"]) or set(scope) <= set(cur.get("scope", []))):
            # A service (or the whole project) was added to the sources file: its history is
            # not behind the cursor, so the project is read again from start_date (merge keeps
            # the rows already loaded).
            stats.say(f"  harness.pipeline_executions {key}: services added to the sources file; re-reading "
                      f"since the start date")
            cur = None
        known = cur is not None
        cur = cur or {"high_ms": None, "unfinished": {}, "recent": {}}
        cur["scope"] = scope
        window_start = start_ms if cur["high_ms"] is None else max(start_ms, cur["high_ms"] - lookback_ms)
        # Harness needs both ends of the range; the far end only guards against clock skew.
        window_end = max(_ms(dt.datetime.now(dt.timezone.utc)), cur["high_ms"] or 0) + _ms_delta(FAR_END)
        seen: set[str] = set()
        n_rows = 0

        def handle(e: dict) -> dict | None:
            pid = e.get("planExecutionId")
            if not pid or pid in seen:
                return None
            seen.add(pid)
            st_ms = int(e.get("startTs") or 0)
            status = e.get("status")
            done = is_final(status, e.get("endTs"))
            sig = f"{status}|{e.get('endTs') or ''}"
            if done:
                cur["unfinished"].pop(pid, None)
            else:
                cur["unfinished"][pid] = [st_ms, e.get("pipelineIdentifier")]
            if st_ms >= window_start:
                unchanged = cur["recent"].get(pid) == sig and done
                cur["recent"][pid] = sig
            else:
                unchanged = False
            if cur["high_ms"] is None or st_ms > cur["high_ms"]:
                cur["high_ms"] = st_ms
            if unchanged:
                return None
            owner = _owner(g, execution_services(e))
            if owner is None:
                return None  # deploys no service the sources file lists for this project
            return execution_row(e, account_id, owner, base_url)

        stale = {pid: v for pid, v in cur["unfinished"].items() if v[0] < window_start}
        for content in _list(org, project, window_start, window_end):
            rows = [r for r in (handle(e) for e in content) if r is not None]
            cursors[key] = cur  # page by page: rows come in start order
            if rows:
                n_rows += len(rows)
                stats.add_rows(INTEGRATION, "pipeline_executions", len(rows))
                yield rows
        # Still running from before the window: one point query each.
        for pid, (st_ms, pipe) in sorted(stale.items(), key=lambda kv: kv[1][0]):
            if pid in seen:
                continue
            found = False
            extra = {"pipelineIdentifier": pipe} if pipe else {}
            for content in _list(org, project, st_ms, st_ms, **extra):
                for e in content:
                    if e.get("planExecutionId") == pid:
                        found = True
                        row = handle(e)
                        if row is not None:
                            n_rows += 1
                            stats.add_rows(INTEGRATION, "pipeline_executions", 1)
                            yield [row]
            if not found:  # deleted upstream (or its pipeline was): stop watching it
                cur["unfinished"].pop(pid, None)
                stats.say(f"  harness.pipeline_executions {key}: execution {pid} is gone; no longer watched")
        if cur["high_ms"] is not None:
            floor = cur["high_ms"] - lookback_ms
            cur["recent"] = {p: s for p, s in cur["recent"].items() if p in seen or p in cur["unfinished"]}
            cur["window_start"] = _iso_ms(max(start_ms, floor))
        cur["high"] = _iso_ms(cur["high_ms"])
        cursors[key] = cur
        if n_rows or not known:
            stats.say(f"  harness.pipeline_executions {key}: {n_rows} new or changed, "
                      f"{len(cur['unfinished'])} still running")

    return services, environments, pipeline_executions


def _summary(cursors: dict) -> str | None:
    vals = [c.get("high") for c in cursors.values() if c.get("high")]
    if not vals:
        return None
    running = sum(len(c.get("unfinished") or {}) for c in cursors.values())
    head = max(vals) if len(cursors) == 1 else f"{min(vals)}..{max(vals)} ({len(cursors)} projects)"
    return head + (f"; {running} running" if running else "")


RESOURCES = ["services", "environments", "pipeline_executions"]


def build_source(cfg, stats):
    """The Harness source as `sources.yml` and the dlt secrets configure it."""
    from ingestion import config as cfgmod
    where = cfgmod.sources_path(cfg.path)
    scopes = []
    for p in cfg.projects:
        for h in p.harness:
            scopes.append({**h, "project_id": p.id, "organisation_id": p.organisation, "account_id": cfg.account})
    if not scopes:
        raise cfgmod.ConfigError(f"{where}: no Harness projects configured. Fix: list them under a project's "
                                 f"`harness: [{{org: ..., project: ..., services: [...]}}]` (see sources.example.yml).")
    h = cfg.integrations["harness"]
    account_id = h.options.get("account_id") or cfgmod._secret("sources.harness.account_id")
    if not account_id:
        raise cfgmod.ConfigError(f"{where}: integrations.harness.account_id is not set. Fix: add `account_id: <your "
                                 f"Harness account identifier>` under integrations.harness (Harness shows it in "
                                 f"Account Settings > Overview).")
    return harness_source(scopes=scopes, account_id=str(account_id), api_key=cfgmod._secret("sources.harness.api_key"),
                          base_url=h.base_url or SAAS_URL, start_date=cfg.start_date, page_size=h.page_size,
                          lookback_minutes=float(h.options.get("lookback_minutes", DEFAULT_LOOKBACK_MINUTES)),
                          concurrency=int(h.options.get("concurrency", CONCURRENCY)), runtime=cfg.runtime, stats=stats)


def configured(cfg) -> bool:
    """Whether the sources file lists any Harness project (a run skips the source otherwise)."""
    return any(p.harness for p in cfg.projects)
