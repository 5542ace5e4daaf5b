"""Control plane: may the person running this `sei` command change this configuration?

The acting principal is the operating-system user running the process (its effective uid,
looked up with `pwd`; environment variables such as USER or LOGNAME are not trusted),
mapped through `os_users` in the policy. There is no flag to act as someone else. Every
decision, allowed or refused, is appended to the audit log (JSON lines: when, OS user,
principal, action, resource, scope, what, allowed, reason).

Without a policy (SEI_RBAC_POLICY unset) the warehouse is in single-administrator mode:
whoever can run `sei` may change everything, and the decisions are still audited.

Anyone who can write the warehouse file, the configuration files or the policy itself
bypasses all of this: they are administrators (docs/access-control.md).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import pwd
from dataclasses import asdict, dataclass
from pathlib import Path

from rbac_policies.context import OrgContext, OrgCycle
from rbac_policies.model import ACCOUNT, ACTIONS, RESOURCES, Scope
from rbac_policies.policy import PolicyErrors, covers, load_policy, policy_path

AUDIT_ENV = "SEI_AUDIT_LOG"


class AccessDenied(PermissionError):
    pass


@dataclass
class Decision:
    at: str
    os_user: str
    principal: str | None
    action: str
    resource: str
    scope: str
    what: str
    allowed: bool
    reason: str
    mode: str                     # policy | single-admin
    detail: dict | None = None    # publishes: what changed (roles created / dropped, scopes written / removed)


def os_user() -> str:
    """The operating-system user of this process (effective uid), not $USER."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid:{os.geteuid()}"


def audit_path(warehouse: str | Path | None = None) -> Path:
    """SEI_AUDIT_LOG, else audit.log beside the warehouse the command works on."""
    from core.settings import warehouse_path
    env = os.environ.get(AUDIT_ENV)
    return Path(env) if env else Path(warehouse or warehouse_path()).parent / "audit.log"


def _append(d: Decision, warehouse=None) -> None:
    p = audit_path(warehouse)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(p, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (json.dumps(asdict(d), sort_keys=True) + "\n").encode())   # one write: lines never interleave
    finally:
        os.close(fd)


def audit_publish(what: str, detail: dict, *, warehouse=None, policy=None) -> None:
    """Record a publish (who, what, when, and what it changed: roles created and dropped,
    scope files written and removed) in the audit log: access changes as much as an edit.
    `policy` is the policy the publish compiled (already loaded), or None in single-admin mode."""
    principal = policy.principal_for_os_user(os_user()) if policy is not None else None
    _append(Decision(dt.datetime.now(dt.timezone.utc).isoformat(), os_user(), principal, "publish", "access",
                     "account", what, True, "published", "policy" if policy is not None else "single-admin",
                     detail), warehouse)


def read_audit(path: Path | None = None) -> list[dict]:
    p = path or audit_path()
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []


def _context(warehouse=None, sources=None) -> OrgContext | None:
    """The current org for scope checks; None when there is no warehouse yet."""
    import duckdb

    from rbac_policies.context import load_context
    from core.settings import warehouse_path
    wh = Path(warehouse) if warehouse else warehouse_path()
    if not wh.exists():
        return None
    try:
        con = duckdb.connect(str(wh), read_only=True)
    except duckdb.Error:
        return None
    try:
        return load_context(con, sources)
    finally:
        con.close()


def authorize(action: str, resource: str, scope: Scope = ACCOUNT, what: str = "", *, warehouse=None,
              sources=None, policy: str | Path | None = None, ctx: OrgContext | None = None) -> Decision:
    """Allow (return the Decision) or refuse (raise AccessDenied) one change, and audit it."""
    return authorize_all([(action, resource, scope, what)], warehouse=warehouse, sources=sources, policy=policy,
                         ctx=ctx)[0]


def authorize_all(requests: list[tuple[str, str, Scope, str]], *, warehouse=None, sources=None,
                  policy: str | Path | None = None, ctx: OrgContext | None = None) -> list[Decision]:
    """All-or-nothing: every request is decided and audited; AccessDenied if any is refused."""
    for action, resource, _, _ in requests:
        if action not in ACTIONS or resource not in RESOURCES:
            raise ValueError(f"unknown action/resource {action}/{resource}")
    who = os_user()
    now = dt.datetime.now(dt.timezone.utc).isoformat()
    path = policy_path(policy)
    decisions = []
    if path is None:
        for action, resource, scope, what in requests:
            decisions.append(Decision(now, who, None, action, resource, _str(scope), what, True,
                                      "no policy configured (SEI_RBAC_POLICY unset): single-administrator mode",
                                      "single-admin"))
    else:
        if ctx is None:
            ctx = _context(warehouse, sources)
        try:
            pol = load_policy(path, ctx)
            problem = None
        except (PolicyErrors, OrgCycle) as e:
            pol, problem = None, f"the policy is invalid, so nothing may change: {str(e).splitlines()[0]}"
        principal = pol.principal_for_os_user(who) if pol else None
        for action, resource, scope, what in requests:
            if pol is None:
                ok, reason = False, problem
            elif principal is None:
                ok, reason = False, (f"operating-system user {who!r} is not mapped to any principal "
                                     f"(add it to a user's os_users in {path})")
            else:
                ok, reason = _allowed(pol, principal, action, resource, scope, ctx)
            decisions.append(Decision(now, who, principal, action, resource, _str(scope), what, ok, reason, "policy"))
    for d in decisions:
        _append(d, warehouse)
    refused = [d for d in decisions if not d.allowed]
    if refused:
        lines = [f"refused: {d.principal or d.os_user} may not {d.action} {d.resource} at {d.scope}"
                 f"{' (' + d.what + ')' if d.what else ''}: {d.reason}" for d in refused]
        raise AccessDenied("\n".join(lines) + "\nNothing was changed; the refusal is in the audit log.")
    return decisions


def _str(scope) -> str:
    return " or ".join(map(str, scope)) if isinstance(scope, tuple) else str(scope)


def _allowed(pol, principal: str, action: str, resource: str, scope, ctx: OrgContext | None):
    """Whether a binding of the principal (or its groups) grants `action` on `resource` at a
    scope containing `scope` (a tuple of scopes: any one of them)."""
    ctx = ctx or OrgContext("", {})
    for b in pol.bindings_of(principal):
        if action not in pol.roles[b.role].get(resource, frozenset()):
            continue
        for s in scope if isinstance(scope, tuple) else (scope,):
            try:
                if covers(b.scope, s, ctx):
                    return True, f"{b.role} at {b.scope} (policy line {b.line})"
            except OrgCycle:
                continue
    return False, f"none of {principal!r}'s roles allows {action} on {resource} at {_str(scope)}"


def team_scope(tree: str, team: str) -> Scope:
    return Scope("team", team, tree)


def enforce(requests_fn, what: str, *, warehouse=None) -> None:
    """For `sei` commands: decide the changes `requests_fn()` lists (computed only when a
    policy is in force) and exit with status 1 on a refusal. In single-administrator mode
    the command is allowed and audited as one `what`."""
    import typer
    try:
        if policy_path() is None:
            authorize_all([("edit", "profiles", ACCOUNT, what)], warehouse=warehouse)
            return
        requests = requests_fn()
        if requests:
            authorize_all(requests, warehouse=warehouse)
    except AccessDenied as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
