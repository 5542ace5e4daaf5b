"""Harness NextGen over the generated organisation: pipeline executions, services,
environments, projects and organisations.

One pipeline execution per deployment whose service deploys with Harness
(`views.deployments`, tool "harness"), in the Harness org of the service's division and
the Harness project of its Jira/engineering project. How the deployed commit can be
known follows the deployment's `harness_commit_via`:
- "ci": a `build_and_deploy_<svc>` pipeline with a CI stage; `moduleInfo.ci` carries the
  codebase branch and commit (`ciExecutionInfoDTO.branch.commits[0].id`), the artifact
  tag is the build number;
- "tag_sha": a `deploy_<svc>` pipeline whose primary artifact tag is the full commit SHA;
- "tag_semver": a `deploy_<svc>` pipeline whose tag is a version such as `1.4.37`: the
  commit is not known from Harness at all.
Rollbacks run `rollback_<svc>`. As in Harness, the stage-level `moduleInfo.cd` (in
`layoutNodeMap`) carries `serviceInfo.artifacts.primary {imagePath, tag}` and
`infraExecutionSummary`; the execution-level `moduleInfo.cd` lists service and
environment identifiers, environment types and `artifactDisplayNames`.

Authentication is the `x-api-key` header with an `accountIdentifier`; each request costs
one unit of the `harness` window and a spent window answers 429 without Retry-After.
"""
from __future__ import annotations

import hashlib
import math
import uuid

import numpy as np
import pandas as pd

from simulator import views
from simulator.http import HARNESS_ACCOUNT, HARNESS_API_KEY, Request, Response, Router, too_many

STATUS = {"in_progress": "Running", "success": "Success", "failure": "Failed"}
# Harness's ExecutionStatus values (the filter accepts these, PascalCase)
EXECUTION_STATUSES = {"Running", "AsyncWaiting", "TaskWaiting", "TimedWaiting", "Failed", "Errored", "IgnoreFailed",
                      "NotStarted", "Expired", "Aborted", "Discontinuing", "Queued", "Paused", "ResourceWaiting",
                      "InterventionWaiting", "ApprovalWaiting", "WaitStepRunning", "QueuedLicenseLimitReached",
                      "QueuedExecutionConcurrencyReached", "Success", "Suspended", "Skipped", "Pausing",
                      "ApprovalRejected", "InputWaiting", "AbortedByFreeze", "QueuedStepLimitReached"}
SORTABLE = {"startTs": "startTs", "endTs": "endTs", "createdAt": "startTs", "runSequence": "run_seq",
            "name": "pipeline", "status": "status_now", "pipelineIdentifier": "pipeline"}
TIME_RANGES = {"LAST_7_DAYS": 7, "LAST_30_DAYS": 30, "LAST_3_MONTHS": 91, "LAST_6_MONTHS": 182,
               "LAST_12_MONTHS": 365}
PARTIAL_RANGE = ("startTime or endTime is not provided in TimeRange filter. Either add the missing field or "
                 "remove the timeRange filter.")
ENVIRONMENTS = (("staging", "PreProduction"), ("production", "Production"))


def _cid() -> str:
    return str(uuid.uuid4())


def ok(data) -> Response:
    return Response.json(200, {"status": "SUCCESS", "data": data, "metaData": None, "correlationId": _cid()})


def error(status: int, code: str, message: str) -> Response:
    """Harness's ErrorDTO."""
    return Response.json(status, {"status": "ERROR", "code": code, "message": message, "correlationId": _cid(),
                                  "detailedMessage": None,
                                  "responseMessages": [{"code": code, "level": "ERROR", "message": message,
                                                        "exception": None, "failureTypes": []}],
                                  "metadata": None})


def failure(field: str, problem: str) -> Response:
    """Harness's FailureDTO for request validation (a missing required parameter)."""
    return Response.json(400, {"status": "FAILURE", "code": "INVALID_REQUEST", "message": f"{field}: {problem}",
                               "correlationId": _cid(), "errors": [{"fieldId": field, "error": problem}]})


def _uid(*parts) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).digest().hex()[:22]


def _ms(ts) -> int:
    return int(ts) * 1000


# --------------------------------------------------------------------------- per-clock index
def _index(w):
    def build():
        full = w["deployments"]
        full = full[full.tool == "harness"]
        svc = w["services"].set_index("service_id")
        org = w["organisations"].set_index("org_id")
        prj = w["projects"].set_index("project_id")
        hsvc = full.service_id.map(svc.harness_service_id)
        kind = np.where(full.is_rollback, "rollback_",
                        np.where(full.harness_commit_via == "ci", "build_and_deploy_", "deploy_"))
        pipe = pd.Series(kind, index=full.index) + hsvc
        seq = (full.assign(_p=pipe).sort_values(["started_at", "deployment_id"], kind="stable")
               .groupby("_p").cumcount() + 1)
        d = views.deployments(w)
        d = d[d.tool == "harness"].copy()
        d["pipeline"] = pipe.reindex(d.index)
        d["run_seq"] = seq.reindex(d.index).astype(np.int64)
        d["org"] = d.service_id.map(svc.org_id).map(org.harness_org)
        d["project"] = d.project_id.map(prj.harness_project)
        d["svc"] = d.service_id.map(svc.harness_service_id)
        d["svc_name"] = d.service_id.map(svc["name"])
        d["startTs"] = d.started_at * 1000
        d["endTs"] = np.where(d.finished_at_now >= 0, d.finished_at_now * 1000, -1)
        mc = w["main_commits"].drop_duplicates("sha").set_index("sha")
        repos = w["repos"].set_index("repo_id")
        teams = w["teams"].set_index("team_id")
        accts = w["tool_accounts"]
        hacc = accts[accts.tool == "harness"].set_index("dev_id")
        return {"d": d, "commits": mc, "repos": repos, "teams": teams, "harness_accounts": hacc}
    return w.cached("harness.index", build)


# --------------------------------------------------------------------------- execution JSON
def _trigger(e, ix) -> dict:
    if e.trigger == "scheduled":
        if e.harness_commit_via == "ci":
            return {"triggerType": "WEBHOOK", "triggeredBy": {"uuid": "", "identifier": "on_push_main",
                                                              "extraInfo": {}}, "isRerun": False}
        return {"triggerType": "ARTIFACT", "triggeredBy": {"uuid": "", "identifier": "on_new_artifact",
                                                           "extraInfo": {}}, "isRerun": False}
    mgr = ix["teams"].manager_dev_id.get(e.team_id)
    acc = ix["harness_accounts"].loc[mgr] if mgr in ix["harness_accounts"].index else None
    by = ({"uuid": acc.account_id, "identifier": acc.login, "extraInfo": {"email": acc.email}}
          if acc is not None else {"uuid": "", "identifier": "acme-release-bot", "extraInfo": {}})
    return {"triggerType": "MANUAL", "triggeredBy": by, "isRerun": False}


def _tag(e) -> str:
    if e.harness_commit_via == "tag_sha":
        return e.sha
    if e.harness_commit_via == "tag_semver":
        return f"1.4.{e.build_number}"
    return str(e.build_number)


COMMIT_FIELDS = ("message", "author_name", "author_login", "author_email", "authored_at")


def _lookups(ix) -> dict:
    """Row lookups for execution JSON without a pandas `.loc` per execution (most of a page's
    cost): repositories as plain records, commits by position in the index's columns."""
    lk = ix.get("lookups")
    if lk is None:
        repos = ix["repos"]
        lk = {"repos": {rid: {"full_name": fn, "default_branch": db, "name": nm} for rid, fn, db, nm in
                        zip(repos.index, repos.full_name, repos.default_branch, repos["name"])},
              "commit_cols": {f: ix["commits"][f].to_numpy() for f in COMMIT_FIELDS}}
        ix["lookups"] = lk  # the same content whichever thread builds it first
    return lk


def _ci_module(e, ix) -> dict:
    lk = _lookups(ix)
    repo = lk["repos"][e.repo_id]
    try:
        at = ix["commits"].index.get_loc(e.sha)  # unique: the index's commits are deduplicated by sha
    except KeyError:
        at = None
    c = {f: lk["commit_cols"][f][at] for f in COMMIT_FIELDS} if at is not None else None
    commit = {"__recast": "io.harness.ci.pipeline.executions.beans.CIBuildCommit", "id": e.sha,
              "link": f"https://github.com/{repo['full_name']}/commit/{e.sha}",
              "message": c["message"] if c is not None else "",
              "ownerName": c["author_name"] if c is not None else "",
              "ownerId": c["author_login"] if c is not None else "",
              "ownerEmail": c["author_email"] if c is not None else "",
              "timeStamp": _ms(c["authored_at"]) if c is not None else _ms(e.started_at)}
    return {"__recast": "io.harness.ci.pipeline.executions.beans.CIPipelineModuleInfo",
            "branch": repo["default_branch"], "buildType": "branch", "repoName": repo["name"], "isPrivateRepo": True,
            "ciExecutionInfoDTO": {
                "__recast": "io.harness.ci.pipeline.executions.beans.CIWebhookInfoDTO", "event": "branch",
                "author": {"__recast": "io.harness.ci.pipeline.executions.beans.CIBuildAuthor",
                           "id": commit["ownerId"], "name": commit["ownerName"], "email": commit["ownerEmail"],
                           "avatar": ""},
                "branch": {"__recast": "io.harness.ci.pipeline.executions.beans.CIBuildBranchHook",
                           "name": repo['default_branch'], "link": f"https://github.com/{repo['full_name']}",
                           "state": "", "commits": [commit]}},
            "scmDetailsList": [{"scmUrl": f"https://github.com/{repo['full_name']}", "scmProvider": "Github"}],
            "imageDetailsList": [], "infraDetailsList": [{"infraType": "KubernetesDirect", "infraOSType": "Linux",
                                                          "infraHostType": "Self Hosted"}],
            "tiBuildDetailsList": []}


def execution_json(e, ix, now: int) -> dict:
    status = STATUS[e.status_now]
    env = e.environment
    env_type = "Production" if env == "production" else "PreProduction"
    ci = e.harness_commit_via == "ci"
    tag = _tag(e)
    image = f"registry.acme.example/{e.org}/{e.svc_name}"
    finished = int(e.finished_at_now)
    # Stages: a CI build (when the pipeline builds) then the deployment.
    start = int(e.started_at)
    planned_end = int(e.finished_at)
    split = min(start + max(60, (planned_end - start) * 2 // 5), planned_end) if ci else start
    nodes, order = {}, []
    if ci:  # the build always succeeds; the deployment stage may fail
        b_status, b_end = ("Success", _ms(split)) if now >= split else ("Running", None)
        uid = _uid(e.plan_execution_id, "build")
        nodes[uid] = {"nodeType": "CI", "nodeGroup": "STAGE", "nodeIdentifier": "build", "name": "Build",
                      "nodeUuid": uid, "status": b_status, "module": "ci",
                      "moduleInfo": {"ci": {"__recast": "io.harness.ci.plan.creator.execution.CIStageModuleInfo",
                                            "stageExecutionId": _uid(e.plan_execution_id, "build", "x"),
                                            "stageBuildTime": (b_end - _ms(start)) if b_end else 0}},
                      "startTs": _ms(start), **({"endTs": b_end} if b_end else {}),
                      "edgeLayoutList": {"currentNodeChildren": [], "nextIds": []},
                      "nodeRunInfo": {"whenCondition": "<+OnPipelineSuccess>", "evaluatedCondition": True,
                                      "expressions": []},
                      "failureInfo": {"message": ""}, "nodeExecutionId": _uid(e.plan_execution_id, "build", "n"),
                      "executionInputConfigured": False, "isBarrierNode": False}
        order.append(uid)
    d_uid = _uid(e.plan_execution_id, "deploy")
    if now < split:
        d_status, d_end, d_start = "NotStarted", None, None
    elif finished < 0:
        d_status, d_end, d_start = "Running", None, _ms(split)
    else:
        d_status, d_end, d_start = status, _ms(finished), _ms(split)
    nodes[d_uid] = {
        "nodeType": "Deployment", "nodeGroup": "STAGE", "nodeIdentifier": f"deploy_{env}",
        "name": f"Deploy to {env}", "nodeUuid": d_uid, "status": d_status, "module": "cd",
        "moduleInfo": {"cd": {
            "__recast": "io.harness.cdng.pipeline.executions.beans.CDStageModuleInfo",
            "serviceInfo": {"__recast": "io.harness.cdng.pipeline.executions.beans.ServiceExecutionSummary",
                            "identifier": e.svc, "displayName": e.svc_name, "deploymentType": "Kubernetes",
                            "gitOpsEnabled": False,
                            "artifacts": {"__recast": "io.harness.cdng.pipeline.executions.beans."
                                                      "ServiceExecutionSummary$ArtifactsSummary",
                                          "primary": {"__recast": "io.harness.cdng.artifact.DockerArtifactSummary",
                                                      "imagePath": image, "tag": tag},
                                          "artifactDisplayName": f"{image}:{tag}", "sidecars": []}},
            "infraExecutionSummary": {"__recast": "io.harness.cdng.pipeline.executions.beans.InfraExecutionSummary",
                                      "identifier": env, "name": env, "type": env_type,
                                      "infrastructureIdentifier": f"k8s_{env}",
                                      "infrastructureName": f"k8s-{env}"}}},
        **({"startTs": d_start} if d_start else {}), **({"endTs": d_end} if d_end else {}),
        "edgeLayoutList": {"currentNodeChildren": [], "nextIds": []},
        "nodeRunInfo": {"whenCondition": "<+OnPipelineSuccess>", "evaluatedCondition": True, "expressions": []},
        "failureInfo": {"message": "Deployment failed: rollout did not become healthy" if d_status == "Failed" else ""},
        "nodeExecutionId": _uid(e.plan_execution_id, "deploy", "n"), "executionInputConfigured": False,
        "isBarrierNode": False}
    if ci:
        nodes[order[0]]["edgeLayoutList"]["nextIds"] = [d_uid]
    order.append(d_uid)
    stage_status = [n["status"] for n in nodes.values()]
    cd = {"__recast": "io.harness.cdng.pipeline.executions.beans.CDPipelineModuleInfo",
          "serviceIdentifiers": [e.svc], "envIdentifiers": [env], "envGroupIdentifiers": [],
          "serviceDefinitionTypes": ["Kubernetes"], "environmentTypes": [env_type],
          "infrastructureTypes": ["KubernetesDirect"], "infrastructureIdentifiers": [f"k8s_{env}"],
          "infrastructureNames": [f"k8s-{env}"], "artifactDisplayNames": [f"{image}:{tag}"],
          "freezeIdentifiers": [], "gitOpsAppIdentifiers": []}
    module_info = {"cd": cd}
    if ci:
        module_info = {"ci": _ci_module(e, ix), "cd": cd}
    kind = "Rollback" if e.is_rollback else ("Build and Deploy" if ci else "Deploy")
    out = {"pipelineIdentifier": e.pipeline, "orgIdentifier": e.org, "projectIdentifier": e.project,
           "planExecutionId": e.plan_execution_id, "name": f"{kind} {e.svc_name}", "yamlVersion": "0",
           "status": status, "tags": [], "labels": [], "executionTriggerInfo": _trigger(e, ix)}
    if status == "Failed":
        out["executionErrorInfo"] = {"message": "Deployment failed: rollout did not become healthy"}
    out.update({"governanceMetadata": {"id": "0", "deny": False, "details": [], "message": "", "timestamp": "0",
                                       "status": "pass", "accountId": HARNESS_ACCOUNT, "orgId": e.org,
                                       "projectId": e.project, "entity": "", "type": "", "action": "",
                                       "created": "0"},
                "moduleInfo": module_info, "layoutNodeMap": nodes, "modules": list(module_info),
                "startingNodeId": order[0], "startTs": _ms(start)})
    if finished >= 0:
        out["endTs"] = _ms(finished)
    out.update({"createdAt": _ms(start), "canRetry": True, "canReExecute": True, "showRetryHistory": False,
                "runSequence": int(e.run_seq),
                "successfulStagesCount": stage_status.count("Success"),
                "runningStagesCount": stage_status.count("Running"),
                "failedStagesCount": stage_status.count("Failed"), "totalStagesCount": len(nodes),
                "storeType": "INLINE", "executionInputConfigured": False, "allowStageExecutions": False,
                "stagesExecution": False, "executionMode": "NORMAL", "notesExistForPlanExecutionId": False,
                "shouldUseSimplifiedKey": False})
    return out


# --------------------------------------------------------------------------- handlers
def _int_arg(req: Request, name: str, default: int) -> int | None:
    v = req.arg(name)
    if v is None or v == "":
        return default
    try:
        return int(v)
    except ValueError:
        return None


def _spring_page(content: list, page: int, size: int, total: int, sort_props: list) -> dict:
    pages = math.ceil(total / size) if size else 0
    sort = {"sorted": bool(sort_props), "unsorted": not sort_props, "empty": not sort_props}
    return {"content": content,
            "pageable": {"sort": sort, "pageNumber": page, "pageSize": size, "offset": page * size, "paged": True,
                         "unpaged": False},
            "totalElements": total, "totalPages": pages, "last": page >= pages - 1, "numberOfElements": len(content),
            "size": size, "number": page, "first": page == 0, "sort": sort, "empty": not content}


def executions(req: Request, sim) -> Response:
    for p in ("orgIdentifier", "projectIdentifier"):
        if not req.arg(p):
            return failure(p, "must not be null")
    page, size = _int_arg(req, "page", 0), _int_arg(req, "size", 10)
    if page is None or size is None or page < 0 or size < 1:
        return error(400, "INVALID_REQUEST", "Invalid request: page must be >= 0 and size must be >= 1")
    body = req.json() if req.body else {}
    if body is None or not isinstance(body, dict):
        return error(400, "INVALID_REQUEST", "Invalid request: Unable to process JSON")
    if body:
        ft = body.get("filterType")
        if ft is None:
            return error(400, "INVALID_REQUEST", "Invalid request: Missing type id when trying to resolve subtype of "
                         "[simple type, class io.harness.filter.dto.FilterPropertiesDTO]: missing type id property "
                         "'filterType'")
        if ft != "PipelineExecution":
            return error(400, "INVALID_REQUEST", f"Invalid request: Could not resolve type id '{ft}' as a subtype of "
                         "[simple type, class io.harness.filter.dto.FilterPropertiesDTO]")
    w = sim.world
    ix = _index(w)
    d = ix["d"]
    d = d[(d.org == req.arg("orgIdentifier")) & (d.project == req.arg("projectIdentifier"))]
    statuses = [s for v in req.query.get("status", []) for s in v.split(",") if s] + list(body.get("status") or [])
    bad = [s for s in statuses if s not in EXECUTION_STATUSES]
    if bad:
        return error(400, "INVALID_REQUEST", f"Invalid request: Cannot deserialize value of type "
                     f"`io.harness.pms.execution.ExecutionStatus` from String \"{bad[0]}\": not one of the values "
                     f"accepted for Enum class")
    if statuses:
        d = d[d.status_now.map(STATUS).isin(statuses)]
    pipes = [p for p in [req.arg("pipelineIdentifier")] if p] + list(body.get("pipelineIdentifiers") or [])
    if pipes:
        d = d[d.pipeline.isin(pipes)]
    if body.get("pipelineName"):
        d = d[d.pipeline.str.contains(str(body["pipelineName"]), regex=False)]
    if body.get("planExecutionIds"):
        d = d[d.plan_execution_id.isin(body["planExecutionIds"])]
    term = req.arg("searchTerm")
    if term:
        d = d[d.pipeline.str.contains(term, case=False, regex=False) | d.svc_name.str.contains(term, case=False,
                                                                                               regex=False)]
    module = req.arg("module")
    if module == "ci":
        d = d[d.harness_commit_via == "ci"]
    tr = body.get("timeRange")
    if tr:
        start_ms, end_ms = tr.get("startTime"), tr.get("endTime")
        if (start_ms is None) != (end_ms is None):
            return error(400, "INVALID_REQUEST", f"Invalid request: {PARTIAL_RANGE}")
        if start_ms is None:
            now_ms = _ms(w.now)
            rel = tr.get("relativeTime")
            days = None
            if rel:
                try:
                    n, unit = int(rel[1:-1]), rel[-1].lower()
                    days = n * {"d": 1, "m": 30, "y": 365}[unit] if rel.startswith("-") else None
                except (ValueError, KeyError):
                    days = None
                if days is None:
                    return error(400, "INVALID_REQUEST", "Invalid request: unable to update the time range for "
                                 "TimeRange Filter")
            elif tr.get("timeRangeFilterType") in TIME_RANGES:
                days = TIME_RANGES[tr["timeRangeFilterType"]]
            if days is not None:
                start_ms, end_ms = now_ms - days * 86400_000, now_ms
        if start_ms is not None:
            d = d[(d.startTs >= int(start_ms)) & (d.startTs <= int(end_ms))]
    sorts = [s for s in req.query.get("sort", []) if s] or ["startTs,DESC"]
    cols, asc = [], []
    for s in sorts:
        prop, _, direction = s.partition(",")
        col = SORTABLE.get(prop.strip())
        if col:
            cols.append(col)
            asc.append(direction.strip().upper() != "DESC")
    cols.append("deployment_id")
    asc.append(asc[0] if len(asc) > 0 else False)
    d = d.sort_values(cols, ascending=asc, kind="stable")
    total = len(d)
    rows = d.iloc[page * size:(page + 1) * size]
    content = [execution_json(e, ix, w.now) for e in rows.itertuples()]
    return ok(_spring_page(content, page, size, total, sorts))


def _ng_page(content: list, page: int, size: int, total: int) -> dict:
    return {"totalPages": math.ceil(total / size) if size else 0, "totalItems": total, "pageItemCount": len(content),
            "pageSize": size, "content": content, "pageIndex": page, "empty": not content, "pageToken": None}


def _page_args(req: Request, page_name: str, size_name: str, default: int):
    page, size = _int_arg(req, page_name, 0), _int_arg(req, size_name, default)
    if page is None or size is None or page < 0 or size < 1:
        return None
    return page, size


def _scope(w, org: str | None, project: str | None):
    """(organisation row, project row) for the Harness identifiers, None when absent."""
    orgs = w["organisations"]
    o = orgs[orgs.harness_org == org] if org else orgs.iloc[0:0]
    prj = w["projects"]
    p = prj[(prj.harness_project == project) & prj.org_id.isin(o.org_id)] if project else prj.iloc[0:0]
    return o, p


def services(req: Request, sim) -> Response:
    pa = _page_args(req, "page", "size", 100)
    if pa is None:
        return error(400, "INVALID_REQUEST", "Invalid request: page must be >= 0 and size must be >= 1")
    page, size = pa
    w = sim.world
    org, project = req.arg("orgIdentifier"), req.arg("projectIdentifier")
    _, p = _scope(w, org, project)
    s = w["services"]
    s = s[(s.deploy_tool == "harness") & s.project_id.isin(p.project_id)].sort_values("harness_service_id")
    wanted = [x for v in req.query.get("serviceIdentifiers", []) for x in v.split(",") if x]
    if wanted:
        s = s[s.harness_service_id.isin(wanted)]
    term = req.arg("searchTerm")
    if term:
        s = s[s["name"].str.contains(term, case=False, regex=False)]
    created = s.repo_id.map(w["repos"].set_index("repo_id").created_at)
    content = []
    for r, c in list(zip(s.itertuples(), created))[page * size:(page + 1) * size]:
        yaml = (f"service:\n  name: {r.name}\n  identifier: {r.harness_service_id}\n  orgIdentifier: {org}\n"
                f"  projectIdentifier: {project}\n  serviceDefinition:\n    type: Kubernetes\n")
        content.append({"service": {"accountId": HARNESS_ACCOUNT, "identifier": r.harness_service_id,
                                    "orgIdentifier": org, "projectIdentifier": project, "name": r.name,
                                    "description": None, "deleted": False, "tags": {}, "yaml": yaml,
                                    "v2Service": True},
                        "createdAt": _ms(c), "lastModifiedAt": _ms(c), "entityValidityDetails": None,
                        "governanceMetadata": None})
    return ok(_ng_page(content, page, size, len(s)))


def environments(req: Request, sim) -> Response:
    pa = _page_args(req, "page", "size", 100)
    if pa is None:
        return error(400, "INVALID_REQUEST", "Invalid request: page must be >= 0 and size must be >= 1")
    page, size = pa
    w = sim.world
    org, project = req.arg("orgIdentifier"), req.arg("projectIdentifier")
    _, p = _scope(w, org, project)
    envs = list(ENVIRONMENTS) if len(p) else []
    wanted = [x for v in req.query.get("envIdentifiers", []) for x in v.split(",") if x]
    if wanted:
        envs = [e for e in envs if e[0] in wanted]
    created = _ms(w.start)
    content = [{"environment": {"accountId": HARNESS_ACCOUNT, "orgIdentifier": org, "projectIdentifier": project,
                                "identifier": ident, "name": ident, "description": None,
                                "color": "#0063F7", "type": typ, "deleted": False, "tags": {},
                                "yaml": (f"environment:\n  name: {ident}\n  identifier: {ident}\n  type: {typ}\n"
                                         f"  orgIdentifier: {org}\n  projectIdentifier: {project}\n")},
                "createdAt": created, "lastModifiedAt": created, "entityValidityDetails": None,
                "governanceMetadata": None}
               for ident, typ in envs[page * size:(page + 1) * size]]
    return ok(_ng_page(content, page, size, len(envs)))


def projects(req: Request, sim) -> Response:
    pa = _page_args(req, "pageIndex", "pageSize", 50)
    if pa is None:
        return error(400, "INVALID_REQUEST", "Invalid request: pageIndex must be >= 0 and pageSize must be >= 1")
    page, size = pa
    w = sim.world
    org = req.arg("orgIdentifier")
    prj = w["projects"].merge(w["organisations"][["org_id", "harness_org"]], on="org_id")
    if org:
        prj = prj[prj.harness_org == org]
    prj = prj.sort_values(["harness_org", "harness_project"])
    created = _ms(w.start)
    content = [{"project": {"orgIdentifier": r.harness_org, "identifier": r.harness_project, "name": r.name,
                            "color": "#0063f7", "modules": ["CD", "CI"], "description": "", "tags": {}},
                "createdAt": created, "lastModifiedAt": created, "isFavorite": False}
               for r in prj.iloc[page * size:(page + 1) * size].itertuples()]
    return ok(_ng_page(content, page, size, len(prj)))


def organizations(req: Request, sim) -> Response:
    pa = _page_args(req, "pageIndex", "pageSize", 50)
    if pa is None:
        return error(400, "INVALID_REQUEST", "Invalid request: pageIndex must be >= 0 and pageSize must be >= 1")
    page, size = pa
    w = sim.world
    created = _ms(w.start)
    orgs = [("default", "default")] + sorted((o.harness_org, o.name) for o in w["organisations"].itertuples())
    content = [{"organization": {"accountIdentifier": HARNESS_ACCOUNT, "identifier": ident, "name": name,
                                 "description": "", "tags": {}},
                "createdAt": created, "lastModifiedAt": created, "harnessManaged": ident == "default"}
               for ident, name in orgs[page * size:(page + 1) * size]]
    return ok(_ng_page(content, page, size, len(orgs)))


# --------------------------------------------------------------------------- auth and registration
def check_auth(req: Request, headers: dict, sim):
    """`x-api-key` with the account in `accountIdentifier` (query) or the
    `Harness-Account` header; a wrong key, or a key for another account, is INVALID_TOKEN
    (401). Then one unit of the `harness` window; a spent window is a 429 without
    Retry-After."""
    key = headers.get("x-api-key", "")
    if not key:
        return error(401, "INVALID_TOKEN", "Token is not valid.")
    account = headers.get("harness-account") or req.arg("accountIdentifier") or req.arg("routingId")
    if not account:
        return error(400, "INVALID_REQUEST", "Invalid request: Account detail is not present in the request")
    if key != HARNESS_API_KEY or account != HARNESS_ACCOUNT:
        return error(401, "INVALID_TOKEN", "Token is not valid.")
    req.token = key
    win = sim.windows["harness"]
    wkey = ("harness", key)
    with sim.lock:
        elapsed = sim.sim_elapsed()
        _, _, remaining = win.state(wkey, elapsed)
        if remaining > 0:
            win.charge(wkey, elapsed, 1)
            return None
    return too_many(req, sim, 0)


def register(r: Router) -> None:
    r.add("POST", r"/pipeline/api/pipelines/execution/summary", "harness.executions", executions)
    r.add("GET", r"/ng/api/servicesV2", "harness.services", services)
    r.add("GET", r"/ng/api/environmentsV2", "harness.environments", environments)
    r.add("GET", r"/ng/api/projects", "harness.projects", projects)
    r.add("GET", r"/ng/api/organizations", "harness.organizations", organizations)
