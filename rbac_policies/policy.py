"""Read and check a policy file (format: docs/access-control.md, example:
rbac_policies/examples/policy.yml).

Every problem is reported as `file:line: what is wrong. Fix: what to do`, all of them at
once; a policy with any error is not used at all (the last published scopes stay).
Checks: unknown keys, roles, resources, actions, principals, group members, organisations,
projects, trees and teams; duplicate principals, roles and bindings; names PostgreSQL
cannot hold as a role; a binding wider than its granter may grant (delegation).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from rbac_policies.context import OrgContext, OrgCycle
from rbac_policies.model import (ACCOUNT, ACTIONS, BUILTIN_RESOURCE_GROUPS, BUILTIN_ROLES, RESOURCES, ROLE_ALIASES,
                                 Binding, Policy, Principal, Scope)

POLICY_ENV = "SEI_RBAC_POLICY"
MAX_NAME_BYTES = 63          # PostgreSQL's identifier limit: a principal is a role there
RESERVED_PREFIXES = ("pg_", "sei_")
# names PostgreSQL refuses as a role (CREATE ROLE public fails with "role name is reserved")
RESERVED_NAMES = ("public", "none", "current_user", "current_role", "session_user", "user", "all")


class PolicyError(ValueError):
    def __init__(self, path, line, message, fix):
        self.path, self.line, self.message, self.fix = str(path), line, message, fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}. Fix: {self.fix}"


class PolicyErrors(ValueError):
    def __init__(self, errors: list[PolicyError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def policy_path(explicit: str | Path | None = None) -> Path | None:
    """The policy in force: an explicit path, else SEI_RBAC_POLICY; None = no policy
    (single-administrator mode, docs/access-control.md)."""
    p = explicit or os.environ.get(POLICY_ENV)
    return Path(p) if p else None


class _Checker:
    def __init__(self, path: Path, lines):
        self.path, self.lines, self.errors = path, lines, []

    def err(self, key: str, message: str, fix: str) -> None:
        self.errors.append(PolicyError(self.path, self.lines.at(key), message, fix))

    def keys(self, data: dict, allowed: set[str], key: str) -> None:
        for k in data:
            if k not in allowed:
                self.err(f"{key}.{k}" if key else k, f"unknown key {k!r}",
                         f"use one of: {', '.join(sorted(allowed))}")


def _name_ok(c: _Checker, name: Any, key: str, what: str) -> str | None:
    if not isinstance(name, str) or not name.strip():
        c.err(key, f"{what} needs a non-empty name", f"give the {what} a `name`")
        return None
    if len(name.encode()) > MAX_NAME_BYTES or "\x00" in name:
        c.err(key, f"{what} name {name!r} is longer than {MAX_NAME_BYTES} bytes or holds a NUL",
              "shorten it: the name becomes a PostgreSQL role")
        return None
    if name.lower() in RESERVED_NAMES:
        c.err(key, f"{what} name {name!r} is reserved by PostgreSQL and cannot be a role",
              f"rename it (reserved: {', '.join(RESERVED_NAMES)})")
        return None
    if name.lower().startswith(RESERVED_PREFIXES):
        c.err(key, f"{what} name {name!r} starts with a reserved prefix ({', '.join(RESERVED_PREFIXES)})",
              "rename it: those prefixes belong to PostgreSQL and to this project's own roles")
        return None
    return name


def _unknown(c: _Checker, key: str, what: str, name: str, known: list[str], ctx: OrgContext) -> None:
    """An organisation or project the sources file does not declare; when no sources file was
    read at all, say so and where it was looked for, rather than offer an empty list."""
    if known:
        c.err(key, f"unknown {what} {name!r}", f"use one of the sources file's {what}s: {', '.join(sorted(known))}")
        return
    why = (ctx.sources_missing or "no sources file was read").split(". Fix:")[0]
    c.err(key, f"unknown {what} {name!r}: {why}, so no {what} is known",
          f"pass --sources FILE or set SEI_SOURCES to the sources file that declares the {what}s")


def _actions(c: _Checker, v: Any, key: str) -> frozenset[str]:
    vals = [v] if isinstance(v, str) else v
    if not isinstance(vals, list) or not vals:
        c.err(key, "`actions` must be a list", f"write e.g. actions: [view, edit] (from {', '.join(ACTIONS)})")
        return frozenset()
    bad = [a for a in vals if a not in ACTIONS and a != "all"]
    if bad:
        c.err(key, f"unknown action(s) {', '.join(map(str, bad))}", f"use {', '.join(ACTIONS)} or all")
    return frozenset(ACTIONS) if "all" in vals else frozenset(a for a in vals if a in ACTIONS)


def _scope(c: _Checker, v: Any, key: str, ctx: OrgContext | None) -> Scope | None:
    fix = ("write `scope: account`, `scope: {organisation: ID}`, `scope: {project: ID}`, "
           "`scope: {tree: TREE, team: TEAM_ID}` or `scope: {tree: TREE, managed_teams: true}` "
           "(the last two optionally with `project: ID`)")
    if v == "account" or (isinstance(v, dict) and set(v) == {"account"}):
        if isinstance(v, dict) and ctx and str(v["account"]) != ctx.account:
            c.err(key, f"unknown account {v['account']!r} (this warehouse's account is {ctx.account!r})",
                  f"write `scope: account` or `account: {ctx.account}`")
        return ACCOUNT
    if not isinstance(v, dict):
        c.err(key, f"a binding's scope cannot be {v!r}", fix)
        return None
    if "organisation" in v or "organization" in v:
        oid = str(v.get("organisation", v.get("organization")))
        if ctx is not None and oid not in ctx.organisations:
            _unknown(c, key, "organisation", oid, [o for o in ctx.organisations if o], ctx)
        return Scope("organisation", oid)
    if "managed_teams" in v:
        c.keys(v, {"managed_teams", "tree", "project"}, key)
        if v.get("managed_teams") is not True or not v.get("tree"):
            c.err(key, "a managed-teams scope is `{tree: TREE, managed_teams: true}`",
                  "write e.g. `scope: {tree: reporting, managed_teams: true}`")
            return None
        if ctx is not None and str(v["tree"]) not in ctx.trees:
            c.err(key, f"unknown org tree {v['tree']!r}",
                  f"use one of the imported trees: {', '.join(sorted(ctx.trees)) or '(none imported yet)'}")
        # the developer is filled in from the principal by the caller
        return Scope("managed", None, str(v["tree"]), str(v["project"]) if v.get("project") is not None else None)
    if "team" in v:
        c.keys(v, {"team", "tree", "project"}, key)
        team, tree = str(v["team"]), v.get("tree")
        project = str(v["project"]) if v.get("project") is not None else None
        if not tree:
            c.err(key, f"team scope {team!r} names no org tree", "add `tree: reporting` (the tree the team is in)")
            return None
        tree = str(tree)
        if ctx is not None:
            if tree not in ctx.trees:
                c.err(key, f"unknown org tree {tree!r}",
                      f"use one of the imported trees: {', '.join(sorted(ctx.trees)) or '(none imported yet)'}")
            elif team not in ctx.trees[tree]:
                c.err(key, f"unknown team {team!r} in org tree {tree!r}",
                      "use a team_id of the current org (`sei org show --tree " + tree + "`)")
            if project is not None and project not in ctx.projects:
                _unknown(c, key, "project", project, list(ctx.projects), ctx)
        return Scope("team", team, tree, project)
    if "project" in v:
        c.keys(v, {"project"}, key)
        pid = str(v["project"])
        if ctx is not None and pid not in ctx.projects:
            _unknown(c, key, "project", pid, list(ctx.projects), ctx)
        return Scope("project", pid)
    c.err(key, f"unknown scope {v!r}", fix)
    return None


def parse_policy(data: Any, lines, path: Path, ctx: OrgContext | None = None) -> Policy:
    """Build and check a Policy; raises PolicyErrors listing every problem."""
    c = _Checker(path, lines)
    if not isinstance(data, dict):
        raise PolicyErrors([PolicyError(path, 1, "a policy is a YAML mapping",
                                        "start from rbac_policies/examples/policy.yml")])
    c.keys(data, {"version", "principals", "resource_groups", "roles", "bindings", "marts"}, "")
    if data.get("version", 1) != 1:
        c.err("version", f"unsupported policy version {data.get('version')!r}", "write `version: 1`")

    # ---- principals
    principals: dict[str, Principal] = {}
    pdata = data.get("principals") or {}
    if not isinstance(pdata, dict):
        c.err("principals", "`principals` must hold `users:` and `groups:` lists", "see the example policy")
        pdata = {}
    c.keys(pdata, {"users", "groups"}, "principals")
    os_owner: dict[str, str] = {}
    for kind in ("users", "groups"):
        items = pdata.get(kind) or []
        if not isinstance(items, list):
            c.err(f"principals.{kind}", f"`{kind}` must be a list", f"write `{kind}:` then `- name: ...` items")
            continue
        for i, item in enumerate(items):
            key = f"principals.{kind}.{i}"
            if isinstance(item, str):
                item = {"name": item}
            if not isinstance(item, dict):
                c.err(key, f"a {kind[:-1]} must be a name or a mapping", "write `- name: alice`")
                continue
            c.keys(item, {"name", "os_users", "members", "description"} if kind == "groups"
                   else {"name", "os_users", "developer_id", "description"}, key)
            name = _name_ok(c, item.get("name"), f"{key}.name", kind[:-1])
            if name is None:
                continue
            if name in principals:
                c.err(f"{key}.name", f"principal {name!r} is declared twice (first on line {principals[name].line})",
                      "keep one declaration; users and groups share one namespace")
                continue
            twin = next((p for p in principals.values() if p.name.lower() == name.lower()), None)
            if twin is not None:
                c.err(f"{key}.name", f"principal {name!r} differs from {twin.name!r} (line {twin.line}) only by case",
                      "give them names that differ by more than case: people and SQL clients confuse them, and "
                      "unquoted SQL folds both to one role")
                continue
            osu = item.get("os_users") or []
            osu = [osu] if isinstance(osu, str) else osu
            for u in osu:
                if u in os_owner:
                    c.err(f"{key}.os_users", f"operating-system user {u!r} is mapped to {os_owner[u]!r} and "
                                             f"{name!r}", "map each operating-system user to one principal")
                os_owner[str(u)] = name
            if kind == "groups" and osu:
                c.err(f"{key}.os_users", "a group cannot act: only users map to operating-system users",
                      "move `os_users` to a user and add the user to the group's `members`")
            members = tuple(str(m) for m in (item.get("members") or []))
            dev = str(item["developer_id"]) if item.get("developer_id") is not None else None
            principals[name] = Principal(name, kind[:-1], tuple(map(str, osu)), members, dev, lines.at(key))
    for g in principals.values():
        for m in g.members:
            if m not in principals or principals[m].kind != "user":
                c.err(f"principals.groups", f"group {g.name!r} lists unknown user {m!r}",
                      "declare the user under principals.users, or remove it from the group")

    # ---- resource groups and roles
    groups = dict(BUILTIN_RESOURCE_GROUPS)
    for i, g in enumerate(data.get("resource_groups") or []):
        key = f"resource_groups.{i}"
        if not isinstance(g, dict) or not g.get("name"):
            c.err(key, "a resource group needs `name` and `resources`", "write `- name: settings` / `resources: [...]`")
            continue
        c.keys(g, {"name", "resources", "description"}, key)
        res = [str(r) for r in (g.get("resources") or [])]
        bad = [r for r in res if r not in RESOURCES and r not in groups]
        if bad:
            c.err(f"{key}.resources", f"unknown resource(s) {', '.join(bad)}",
                  f"use resources {', '.join(RESOURCES)} or a group defined above")
        if g["name"] in groups or g["name"] in RESOURCES:
            c.err(f"{key}.name", f"resource group {g['name']!r} is already defined", "choose another name")
        groups[str(g["name"])] = tuple(x for r in res for x in (groups.get(r) or ((r,) if r in RESOURCES else ())))

    roles: dict[str, dict[str, frozenset[str]]] = {k: dict(v) for k, v in BUILTIN_ROLES.items()}
    for i, r in enumerate(data.get("roles") or []):
        key = f"roles.{i}"
        if not isinstance(r, dict) or not r.get("name"):
            c.err(key, "a role needs `name` and `permissions`", "see the example policy")
            continue
        c.keys(r, {"name", "permissions", "description"}, key)
        name = str(r["name"])
        if name in roles or name in ROLE_ALIASES:
            c.err(f"{key}.name", f"role {name!r} is already defined (built-in roles cannot be redefined)",
                  "give the custom role another name")
            continue
        perms = {res: frozenset() for res in RESOURCES}
        for j, p in enumerate(r.get("permissions") or []):
            pk = f"{key}.permissions.{j}"
            if not isinstance(p, dict) or "resource" not in p:
                c.err(pk, "a permission needs `resource` and `actions`", "write `- resource: goals` / `actions: [view]`")
                continue
            c.keys(p, {"resource", "actions"}, pk)
            targets = groups.get(str(p["resource"])) or ((str(p["resource"]),) if p["resource"] in RESOURCES else ())
            if not targets:
                c.err(f"{pk}.resource", f"unknown resource {p['resource']!r}",
                      f"use one of {', '.join(RESOURCES)} or a resource group ({', '.join(groups)})")
            acts = _actions(c, p.get("actions"), f"{pk}.actions")
            for t in targets:
                perms[t] = perms[t] | acts
        roles[name] = perms

    # ---- marts: how publishing treats marts it cannot classify by their columns
    mart_rules: dict[str, dict] = {}
    for name, rule in (data.get("marts") or {}).items():
        key = f"marts.{name}"
        if rule in ("public", "account", "exclude"):
            mart_rules[str(name)] = {rule: True}
        elif isinstance(rule, dict) and set(rule) in ({"team_column"}, {"team_column", "person_column"}):
            mart_rules[str(name)] = {k: str(v) for k, v in rule.items()}
        elif isinstance(rule, dict) and set(rule) == {"bridge", "key"}:
            mart_rules[str(name)] = {"bridge": str(rule["bridge"]), "key": str(rule["key"])}
        else:
            c.err(key, f"unknown rule {rule!r} for mart {name!r}",
                  "write `public` (everyone sees every row), `account` (account-wide principals only), "
                  "`exclude` (never published), "
                  "`{team_column: COLUMN}` (rows belong to the team in that column; add `person_column: COLUMN` "
                  "when the person must be visible too) or "
                  "`{bridge: BRIDGE_MART, key: COLUMN}` (rows reach teams through a bridge mart)")

    # ---- bindings
    bindings: list[Binding] = []
    seen: dict[tuple, int | None] = {}
    for i, b in enumerate(data.get("bindings") or []):
        key = f"bindings.{i}"
        if not isinstance(b, dict):
            c.err(key, "a binding is a mapping", "write `- principal: alice` / `role: SEI Viewer` / `scope: ...`")
            continue
        c.keys(b, {"principal", "group", "user", "role", "scope", "granted_by", "note"}, key)
        who = b.get("principal") or b.get("user") or b.get("group")
        who = str(who) if who is not None else None
        if who not in principals:
            c.err(key, f"unknown principal {who!r}", "declare it under principals.users or principals.groups")
        role = ROLE_ALIASES.get(str(b.get("role", "")).lower().replace(" ", "_"), b.get("role"))
        if role not in roles:
            c.err(f"{key}.role", f"unknown role {b.get('role')!r}",
                  f"use a built-in role ({', '.join(BUILTIN_ROLES)}) or one defined under roles")
        scope = _scope(c, b.get("scope", "account"), f"{key}.scope", ctx)
        if scope is not None and scope.kind == "managed" and who in principals:
            dev = principals[who].developer_id
            if principals[who].kind != "user" or dev is None:
                c.err(f"{key}.scope", f"{who!r} has no developer_id, so the teams it manages are unknown",
                      f"add `developer_id:` (its id in developers.csv) to user {who!r}; groups cannot manage teams")
                scope = None
            else:
                scope = Scope("managed", dev, scope.tree, scope.project)
        granter = b.get("granted_by")
        if granter is not None and str(granter) not in principals:
            c.err(f"{key}.granted_by", f"unknown granter {granter!r}", "name a declared principal (or omit "
                  "granted_by: the policy file's owner is an administrator)")
        if who in principals and role in roles and scope is not None:
            k = (who, role, scope)
            if k in seen:
                c.err(key, f"duplicate binding: {who!r} already has {role!r} at {scope} (line {seen[k]})",
                      "remove one of them")
                continue
            seen[k] = lines.at(key)
            bindings.append(Binding(who, role, scope, str(granter) if granter is not None else None, lines.at(key)))
    policy = Policy(str(path), principals, roles, bindings, mart_rules)
    if ctx is not None and not c.errors:
        _check_delegation(c, policy, ctx)
    if c.errors:
        raise PolicyErrors(c.errors)
    return policy


def covers(outer: Scope, inner: Scope, ctx: OrgContext) -> bool:
    """Whether scope `outer` contains scope `inner` (account > organisation > project > team subtree)."""
    projects = ctx.projects
    if outer.kind == "account":
        return True
    if outer.kind == "managed":
        return any(covers(Scope("team", t, outer.tree, outer.project), inner, ctx)
                   for t in ctx.managed_teams(outer.tree, outer.id))
    if inner.kind == "managed":
        teams = ctx.managed_teams(inner.tree, inner.id)
        return bool(teams) and all(covers(outer, Scope("team", t, inner.tree, inner.project), ctx) for t in teams)
    if outer.kind == "organisation":
        if inner.kind == "organisation":
            return inner.id == outer.id
        if inner.kind == "project":
            return projects.get(inner.id) == outer.id
        return inner.kind == "team" and inner.project is not None and projects.get(inner.project) == outer.id
    if outer.kind == "project":
        if inner.kind == "project":
            return inner.id == outer.id
        return inner.kind == "team" and inner.project == outer.id
    if outer.kind == "team":
        if inner.kind != "team" or inner.tree != outer.tree:
            return False
        if outer.project is not None and inner.project != outer.project:
            return False
        return outer.id in ctx.ancestors_or_self(inner.tree, inner.id)
    return False


def _check_delegation(c: _Checker, policy: Policy, ctx: OrgContext) -> None:
    """A binding with `granted_by: X` stands only if X holds, through bindings that stand,
    every permission it grants at a scope containing it (nobody grants more than they
    have). Bindings without granted_by come from the policy file's owner, an administrator."""
    standing = [b for b in policy.bindings if b.granted_by is None]
    pending = [b for b in policy.bindings if b.granted_by is not None]
    changed = True
    while changed:
        changed = False
        for b in list(pending):
            if _may_grant(policy, standing, b, ctx):
                standing.append(b)
                pending.remove(b)
                changed = True
    for b in pending:
        c.errors.append(PolicyError(
            policy.path, b.line, f"binding of {b.role!r} at {b.scope} to {b.principal!r} is wider than "
                                 f"{b.granted_by!r} may grant",
            f"narrow the scope or the role to what {b.granted_by!r} holds (a granter needs every permission it "
            f"grants, at a scope containing the binding), or have an administrator grant it"))


def _may_grant(policy: Policy, standing: list[Binding], b: Binding, ctx: OrgContext) -> bool:
    names = {b.granted_by, *policy.groups_of(b.granted_by)}
    held: dict[str, set[str]] = {}
    try:
        for g in standing:
            if g.principal in names and covers(g.scope, b.scope, ctx):
                for res, acts in policy.roles[g.role].items():
                    held.setdefault(res, set()).update(acts)
    except OrgCycle:
        return False
    # granting a role means being able to manage teams there: the granter needs `edit` on teams
    if "edit" not in held.get("teams", set()):
        return False
    return all(acts <= held.get(res, set()) for res, acts in policy.roles[b.role].items())


def load_policy(path: str | Path, ctx: OrgContext | None = None) -> Policy:
    from core.profiles.base import ProfileError, load_yaml
    path = Path(path)
    try:
        data, lines = load_yaml(path)
    except ProfileError as e:
        fix = "create it (start from rbac_policies/examples/policy.yml) or unset SEI_RBAC_POLICY" \
            if e.message == "file not found" else e.fix
        raise PolicyErrors([PolicyError(path, e.line, e.message, fix)]) from None
    return parse_policy(data, lines, path, ctx)


