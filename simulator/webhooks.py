"""The simulator as a webhook sender: `sei sim serve --webhook-url URL --webhook-secret S`.

When the clock moves (POST /_sim/advance, or demo mode's clock), every change that became
visible in (old now, new now] is posted, signed, in its tool's payload shape, to
`URL/github`, `URL/jira`, `URL/harness` and `URL/events/<project>` (the receiver's routes,
docs/realtime.md), in time order:

- GitHub (X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256): `pull_request`
  opened / ready_for_review / closed, `pull_request_review` submitted, `push` to the default
  branch, `deployment` created and `deployment_status`, `workflow_run` completed, `release`.
- Jira (X-Hub-Signature, X-Atlassian-Webhook-Identifier): `jira:issue_created`,
  `jira:issue_updated`, `sprint_started`, `sprint_closed`.
- Harness (X-Harness-Webhook-Token): `PIPELINE_END` of a finished execution.
- Jenkins deployments and PagerDuty incidents that appeared or changed, in the events format.

`faults=True` also sends every 7th delivery twice, swaps neighbours in every batch of 5, and
sends every 11th once with a bad signature first (the receiver must refuse it; the
correctly signed one follows, as a sender's retry would).
"""
from __future__ import annotations

import hashlib
import json
import threading
import time
import urllib.error
import urllib.request
import uuid

from simulator.world import World, iso


def _sig(secret: str, body: bytes) -> str:
    import hmac
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookSender:
    def __init__(self, world: World, url: str, secret: str, faults: bool = False):
        self.world, self.url, self.secret, self.faults = world, url.rstrip("/"), secret, faults
        self.sent: list[tuple[str, int]] = []  # (delivery id, status), every POST in order
        self.deliveries: dict[str, tuple[str, str, object]] = {}  # delivery id -> (source, event, payload)
        self.acknowledged: set[str] = set()  # delivery ids answered 200/202
        self.first_sent: dict[str, float] = {}  # delivery id -> time.time() of its first POST (freshness)
        self.lock = threading.Lock()
        self._events_snapshot = self._generic_rows()
        world.listeners.append(self.on_advance)

    # ---------------------------------------------------------------- what changed
    def on_advance(self, old: int, new: int) -> None:
        deliveries = sorted(self._changes(old, new), key=lambda d: (d[0], d[1]))
        with self.lock:
            self._send_all([d[2:] for d in deliveries])

    def _changes(self, lo: int, hi: int):
        w = self.world
        t = w.t
        within = lambda s: (s > lo) & (s <= hi)  # noqa: E731
        repos = t["repos"].set_index("repo_id")
        repo_of = lambda rid: {"id": int(rid), "full_name": repos.full_name[rid], "default_branch":  # noqa: E731
                               repos.default_branch[rid], "name": repos.name[rid]}
        prs = t["prs"]
        for ix, p in prs[within(prs.created_at) | within(prs.ready_at) | within(prs.merged_at.fillna(-1))
                         | within(prs.closed_at.fillna(-1))].iterrows():
            for action, ts in (("opened", p.created_at), ("ready_for_review", p.ready_at),
                               ("closed", p.merged_at if p.merged_at == p.merged_at and p.merged_at >= 0 else p.closed_at)):
                if ts == ts and ts is not None and lo < ts <= hi and not (action == "ready_for_review" and ts == p.created_at):
                    merged = action == "closed" and p.merged_at == p.merged_at and p.merged_at >= 0
                    pr = {"id": int(p.pr_id) if "pr_id" in p else int(ix), "number": int(p.number), "title": p.title,
                          "state": "closed" if action == "closed" else "open", "merged": bool(merged),
                          "merged_at": iso(p.merged_at) if merged else None, "updated_at": iso(ts),
                          "head": {"ref": p.head_ref, "sha": p.head_sha}, "base": {"ref": repos.default_branch[p.repo_id]},
                          "user": {"login": p.author_login}, "merge_commit_sha": p.merge_commit_sha if merged else None}
                    yield int(ts), 0, "github", "pull_request", {"action": action, "number": int(p.number),
                                                                  "pull_request": pr, "repository": repo_of(p.repo_id)}
        rv = t["reviews"]
        for _, r in rv[within(rv.submitted_at)].iterrows():
            p = prs.iloc[int(r.pr_ix)]
            yield int(r.submitted_at), 1, "github", "pull_request_review", {
                "action": "submitted", "review": {"id": int(r.review_id), "state": str(r.state).lower(),
                                                  "submitted_at": iso(r.submitted_at), "user": {"login": r.reviewer_login}},
                "pull_request": {"number": int(p.number)}, "repository": repo_of(p.repo_id)}
        mc = t["main_commits"]
        for (rid,), g in mc[within(mc.authored_at)].groupby(["repo_id"]):
            g = g.sort_values("seq")
            repo = repo_of(rid)
            yield int(g.authored_at.max()), 2, "github", "push", {
                "ref": f"refs/heads/{repo['default_branch']}", "after": g.sha.iloc[-1],
                "commits": [{"id": s, "message": m} for s, m in zip(g.sha, g.message)], "repository": repo}
        d = t["deployments"]
        gh = d[d.tool == "github"]
        for _, x in gh[within(gh.started_at)].iterrows():
            yield int(x.started_at), 3, "github", "deployment", {
                "action": "created", "deployment": {"id": int(x.gh_deployment_id), "sha": x.sha,
                                                    "environment": x.environment, "created_at": iso(x.started_at)},
                "repository": repo_of(x.repo_id)}
        for _, x in gh[within(gh.finished_at.fillna(-1))].iterrows():
            yield int(x.finished_at), 4, "github", "deployment_status", {
                "action": "created", "deployment_status": {"state": x.status, "created_at": iso(x.finished_at)},
                "deployment": {"id": int(x.gh_deployment_id), "sha": x.sha, "environment": x.environment},
                "repository": repo_of(x.repo_id)}
        runs = t["workflow_runs"]
        done = runs.created_at + runs.duration
        for _, x in runs[within(done)].iterrows():
            yield int(x.created_at + x.duration), 5, "github", "workflow_run", {
                "action": "completed", "workflow_run": {"id": int(x.run_id), "head_sha": x.head_sha,
                                                        "conclusion": x.conclusion, "updated_at": iso(x.created_at + x.duration)},
                "repository": repo_of(x.repo_id)}
        rel = t["releases"]
        for _, x in rel[within(rel.created_at)].iterrows():
            yield int(x.created_at), 6, "github", "release", {
                "action": "published", "release": {"id": int(x.release_id), "tag_name": x.tag,
                                                   "created_at": iso(x.created_at)}, "repository": repo_of(x.repo_id)}
        issues, projects = t["issues"], t["projects"].set_index("project_id")
        cl = t["changelog"]
        touched = {(int(i), int(issues.created_at.iloc[int(i)]), "jira:issue_created")
                   for i in issues.index[within(issues.created_at)]}
        touched |= {(int(c.issue_ix), int(c.ts), "jira:issue_updated") for c in cl[within(cl.ts)].itertuples()}
        for ix, ts, ev in sorted(touched, key=lambda x: x[1]):
            i = issues.iloc[ix]
            if i.key in w.deleted_issues:
                continue
            yield ts, 7, "jira", ev, {"webhookEvent": ev, "timestamp": ts * 1000, "issue": {
                "id": str(i.issue_id), "key": i.key, "fields": {"project": {"key": projects.jira_key[i.project_id]},
                                                                "updated": iso(ts)}}}
        sp, boards = t["sprints"], t["boards"].set_index("board_id")
        for ev, col in (("sprint_started", "start_at"), ("sprint_closed", "end_at")):
            for _, s in sp[within(sp[col])].iterrows():
                yield int(s[col]), 8, "jira", ev, {"webhookEvent": ev, "timestamp": int(s[col]) * 1000, "sprint": {
                    "id": int(s.sprint_id), "name": s["name"], "state": "active" if ev == "sprint_started" else "closed",
                    "originBoardId": int(s.board_id)}}
        hz = d[d.tool == "harness"]
        svc = t["services"].set_index("service_id")
        orgs = t["organisations"].set_index("org_id")
        for _, x in hz[within(hz.finished_at.fillna(-1))].iterrows():
            yield int(x.finished_at), 9, "harness", "PIPELINE_END", {"eventData": {
                "eventType": "PIPELINE_END", "accountIdentifier": "acmeAccount",
                "orgIdentifier": orgs.harness_org[svc.org_id[x.service_id]],
                "projectIdentifier": projects.harness_project[x.project_id], "planExecutionId": x.plan_execution_id,
                "pipelineIdentifier": f"deploy_{svc['name'][x.service_id].replace('-', '_')}",
                "nodeStatus": x.status, "startTs": int(x.started_at) * 1000, "endTs": int(x.finished_at) * 1000}}
        now_rows = self._generic_rows()
        for key, (project, row) in now_rows.items():
            if self._events_snapshot.get(key) != (project, row):
                yield hi, 10, "events", project, row
        self._events_snapshot = now_rows

    def _generic_rows(self) -> dict:
        from simulator.export_events import deployment_rows, incident_rows
        out = {}
        for df, idc in ((deployment_rows(self.world), "deployment_id"), (incident_rows(self.world), "incident_id")):
            for rec in df.to_dict("records"):
                project = rec.pop("project_id")
                rec = {k: v for k, v in rec.items() if v not in ("", None) and v == v}
                out[(idc, rec[idc])] = (project, json.dumps(rec, sort_keys=True))
        return out

    # ---------------------------------------------------------------- sending
    def _send_all(self, deliveries: list[tuple]) -> None:
        if self.faults:
            out = []
            for i, d in enumerate(deliveries):
                out.append(d)
                if i % 7 == 3:
                    out.append(d)  # a duplicate (the same delivery id: a redelivery)
            for i in range(0, len(out) - 1, 5):
                out[i], out[i + 1] = out[i + 1], out[i]
            deliveries = out
        ids: dict[int, str] = {}
        for n, (source, event, payload) in enumerate(deliveries):
            key = id(payload)
            delivery = ids.setdefault(key, str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.world.seed}:{self.world.now}:"
                                                                          f"{json.dumps(payload, sort_keys=True)}")))
            if self.faults and n % 11 == 5:
                self._post(source, event, payload, delivery, forged=True)
            self._post(source, event, payload, delivery)

    def redeliver(self, everything: bool = False) -> list[tuple[str, int]]:
        """Send again every delivery not acknowledged yet (with `everything`, every delivery),
        as GitHub's "Redeliver" does, with the same delivery ids; [(delivery id, status)]."""
        with self.lock:
            todo = [(d, v) for d, v in self.deliveries.items() if everything or d not in self.acknowledged]
            return [(d, self._post(*v, d)) for d, v in todo]

    def _post(self, source: str, event: str, payload, delivery: str, forged: bool = False) -> int:
        body = (payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))).encode()
        secret = self.secret + ("-forged" if forged else "")
        headers = {"Content-Type": "application/json", "User-Agent": "sei-simulator"}
        url = f"{self.url}/{source}"
        if source == "github":
            headers.update({"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "X-Hub-Signature-256": _sig(secret, body)})
        elif source == "jira":
            headers.update({"X-Atlassian-Webhook-Identifier": delivery, "X-Hub-Signature": _sig(secret, body)})
        elif source == "harness":
            headers["X-Harness-Webhook-Token"] = secret
        else:
            url = f"{self.url}/events/{event}"
            headers["X-Hub-Signature-256"] = _sig(secret, body)
        req = urllib.request.Request(url, data=body, headers=headers, method="POST")
        if not forged:
            self.first_sent.setdefault(delivery, time.time())
        for attempt in range(5):  # a sender retries what was not acknowledged, as GitHub's redelivery would
            try:
                with urllib.request.urlopen(req, timeout=30) as resp:
                    status = resp.status
            except urllib.error.HTTPError as e:
                status = e.code
            except OSError:
                status = 0
            if forged or status in (200, 202):
                break
        self.sent.append((delivery, status))
        if not forged:
            self.deliveries.setdefault(delivery, (source, event, payload))
            if status in (200, 202):
                self.acknowledged.add(delivery)
        return status
