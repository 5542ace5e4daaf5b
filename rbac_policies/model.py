"""What a policy is made of: actions, resources, the three built-in roles, scopes.

The built-in roles follow the permission matrix of DESIGN.md §5 (docs/access-control.md
prints it). Resources are dotted names; a permission on `data_settings` covers every
`data_settings.*` resource.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = ("view", "edit", "create", "delete")
ALL = frozenset(ACTIONS)
VIEW = frozenset({"view"})

# resource -> the scope kind it lives at (what an `authorize` call names)
RESOURCES = {
    "data_settings.developers": "project",
    "data_settings.developer_identities": "project",
    "data_settings.integrations": "project",
    "teams": "team",
    "insights": "project",
    "profiles": "account",          # profiles and org trees
    "goals": "project",
}
# built-in resource groups; a policy may add its own under `resource_groups`
BUILTIN_RESOURCE_GROUPS = {
    "data_settings": ("data_settings.developers", "data_settings.developer_identities", "data_settings.integrations"),
    "all": tuple(RESOURCES),
}

SEI_ADMIN, SEI_TEAM_MANAGER, SEI_VIEWER = "SEI Admin", "SEI Team Manager", "SEI Viewer"


def _perm(**kw) -> dict[str, frozenset[str]]:
    return {r: frozenset(kw.get(r.replace(".", "__"), ())) for r in RESOURCES}


BUILTIN_ROLES: dict[str, dict[str, frozenset[str]]] = {
    SEI_ADMIN: {**{r: ALL for r in RESOURCES}, "insights": VIEW},
    SEI_TEAM_MANAGER: {**{r: VIEW for r in RESOURCES},
                       "data_settings.developer_identities": frozenset({"view", "edit"}),
                       "teams": ALL},
    SEI_VIEWER: {r: VIEW for r in RESOURCES},
}
# spelling accepted for the built-in roles in a policy file
ROLE_ALIASES = {"sei_admin": SEI_ADMIN, "admin": SEI_ADMIN, "sei_team_manager": SEI_TEAM_MANAGER,
                "team_manager": SEI_TEAM_MANAGER, "sei_viewer": SEI_VIEWER, "viewer": SEI_VIEWER}

SCOPE_KINDS = ("account", "organisation", "project", "team", "managed")


@dataclass(frozen=True)
class Scope:
    """Where a binding applies, or where an action happens.

    account; organisation `id`; project `id`; team: the subtree of `team` in org tree
    `tree`, in every project unless `project` narrows it; managed: the subtrees of the
    teams of `tree` the principal's `developer_id` manages today (id = that developer).
    """

    kind: str
    id: str | None = None
    tree: str | None = None
    project: str | None = None

    def __str__(self) -> str:
        if self.kind == "account":
            return "account"
        if self.kind == "managed":
            return f"teams {self.id} manages in {self.tree}" + (f" in project {self.project}" if self.project else "")
        if self.kind == "team":
            return f"team {self.tree}/{self.id}" + (f" in project {self.project}" if self.project else "")
        return f"{self.kind} {self.id}"


ACCOUNT = Scope("account")


@dataclass
class Binding:
    principal: str
    role: str
    scope: Scope
    granted_by: str | None
    line: int | None = None


@dataclass
class Principal:
    name: str
    kind: str                                   # user | group
    os_users: tuple[str, ...] = ()
    members: tuple[str, ...] = ()               # groups only
    developer_id: str | None = None             # users: the person in the org files (for `managed_teams` scopes)
    line: int | None = None


@dataclass
class Policy:
    path: str
    principals: dict[str, Principal]
    roles: dict[str, dict[str, frozenset[str]]]  # role -> resource -> actions
    bindings: list[Binding]
    mart_rules: dict[str, dict] = field(default_factory=dict)   # mart -> {"public": True} | {"exclude": True} | {"team_column": c}
    warnings: list[str] = field(default_factory=list)

    def groups_of(self, user: str) -> list[str]:
        return [g.name for g in self.principals.values() if g.kind == "group" and user in g.members]

    def bindings_of(self, principal: str, with_groups: bool = True) -> list[Binding]:
        names = {principal, *(self.groups_of(principal) if with_groups else ())}
        return [b for b in self.bindings if b.principal in names]

    def principal_for_os_user(self, os_user: str) -> str | None:
        for p in self.principals.values():
            if p.kind == "user" and os_user in p.os_users:
                return p.name
        return None
