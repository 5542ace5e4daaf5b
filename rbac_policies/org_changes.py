"""What an org import or a profile change would change, as (action, resource, scope, what)
requests for `control.authorize_all` (a tuple of scopes: any one of them suffices). A Team Manager may import org files that only change
teams and memberships inside its subtree; anything else needs a wider role."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from rbac_policies.model import ACCOUNT, Scope


def _s(v) -> str | None:
    return None if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT else str(v)


def _team(tree: str, team: str | None) -> Scope:
    return Scope("team", team, tree) if team else ACCOUNT


def org_import_requests(org, warehouse: str | Path | None = None) -> list[tuple[str, str, Scope, str]]:
    """Compare a validated Org (from a dry run) with the current import in the warehouse."""
    import duckdb

    from ingestion.org.store import has_schema, snapshot
    from core.settings import warehouse_path
    wh = Path(warehouse) if warehouse else warehouse_path()
    snap = {}
    if wh.exists():
        con = duckdb.connect(str(wh), read_only=True)
        try:
            snap = snapshot(con) if has_schema(con) else {}
        finally:
            con.close()
    if not snap:
        return [("create", "profiles", ACCOUNT, "first org import")]
    req: list[tuple[str, str, Scope, str]] = []

    old_trees = set(snap["trees"].tree)
    new_trees = set(org.trees)
    for t in sorted(new_trees ^ old_trees):
        req.append(("create" if t in new_trees else "delete", "profiles", ACCOUNT, f"org tree {t}"))

    old_teams = {(r.tree, r.team_id): (_s(r.name), _s(r.parent_team_id), _s(r.manager_email))
                 for r in snap["teams"].itertuples()}
    new_teams = {(t.tree, t.team_id): (t.name, t.parent_team_id, t.manager_email) for t in org.teams}
    for key in sorted(set(old_teams) | set(new_teams)):
        tree, team = key
        if tree not in old_trees or tree not in new_trees:
            continue                      # a whole tree added or removed: covered above
        old, new = old_teams.get(key), new_teams.get(key)
        if old == new:
            continue
        if old is None:                   # a new team: created under its parent
            req.append(("create", "teams", _team(tree, new[1]), f"team {tree}/{team}"))
        elif new is None:
            req.append(("delete", "teams", _team(tree, team), f"team {tree}/{team}"))
        else:
            req.append(("edit", "teams", _team(tree, team), f"team {tree}/{team}"))
            if old[1] != new[1]:          # moved: it lands under another parent too
                req.append(("edit", "teams", _team(tree, new[1]), f"team {tree}/{team} moved under {new[1]}"))

    m = snap["memberships"]
    old_open = {(r.developer_id, r.tree, r.team_id) for r in m[m.valid_to.isna()].itertuples()}
    new_open = {(x.developer_id, x.tree, x.team_id) for x in org.memberships if x.valid_to is None}
    for dev, tree, team in sorted(old_open ^ new_open):
        if tree in old_trees and tree in new_trees:
            req.append(("edit", "teams", _team(tree, team), f"membership of {dev} in {tree}/{team}"))

    cur = snap["developers"]
    cur = cur[cur.in_file] if "in_file" in cur else cur
    old_devs = {r.developer_id: (_s(r.full_name), _s(r.manager_email), _s(r.role), _s(r.site))
                for r in cur.itertuples()}
    new_devs = {d.developer_id: (d.full_name, d.manager_email, d.role, d.site) for d in org.developers}
    for dev in sorted(set(old_devs) ^ set(new_devs)):
        req.append(("create" if dev in new_devs else "delete", "data_settings.developers", ACCOUNT, f"developer {dev}"))
    for dev in sorted(set(old_devs) & set(new_devs)):
        if old_devs[dev] != new_devs[dev]:
            req.append(("edit", "data_settings.developers", ACCOUNT, f"developer {dev}"))

    # identities: a person's tool accounts may be edited where that person is managed
    teams_of: dict[str, list[tuple[str, str]]] = {}
    for dev, tree, team in old_open | new_open:
        teams_of.setdefault(dev, []).append((tree, team))
    old_ids = {(r.developer_id, r.tool, r.account) for r in snap["developer_identities"].itertuples()}
    new_ids = {(d.developer_id, tool, acc) for d in org.developers for tool, accs in d.identities.items() for acc in accs}
    for dev in sorted({d for d, _, _ in old_ids ^ new_ids}):
        if dev not in old_devs or dev not in new_devs:
            continue                      # the developer itself is created / deleted: covered above
        # one team the person is in suffices (a manager of any of its teams may fix its accounts)
        scopes = [_team(t, tm) for t, tm in sorted(teams_of.get(dev, []))] or [ACCOUNT]
        req.append(("edit", "data_settings.developer_identities", tuple(scopes), f"tool accounts of {dev}"))

    old_ovr = {(r.tool, r.account): (_s(r.developer_id), bool(r.is_bot)) for r in snap["identity_overrides"].itertuples()}
    new_ovr = {(o.tool, o.account): (o.developer_id, o.is_bot) for o in org.overrides}
    for key in sorted(set(old_ovr) | set(new_ovr)):
        if old_ovr.get(key) != new_ovr.get(key):
            dev = (new_ovr.get(key) or old_ovr.get(key))[0]
            scopes = [_team(t, tm) for t, tm in sorted(teams_of.get(dev, []))] if dev else []
            req.append(("edit", "data_settings.developer_identities", tuple(scopes or [ACCOUNT]),
                        f"identity override {key[0]}:{key[1]}"))

    old_svc = {r.service: (_s(r.owning_tree), _s(r.owning_team_id), _s(r.project_id)) for r in snap["services"].itertuples()}
    new_svc = {s.service: (s.owning_tree, s.owning_team_id, s.project_id) for s in org.services}
    for svc in sorted(set(old_svc) | set(new_svc)):
        if old_svc.get(svc) != new_svc.get(svc):
            proj = (new_svc.get(svc) or old_svc.get(svc))[2]
            req.append(("edit", "data_settings.integrations", Scope("project", proj) if proj else ACCOUNT,
                        f"service {svc}"))
    return req


def profile_requests(loaded, warehouse: str | Path | None = None) -> list[tuple[str, str, Scope, str]]:
    """Profiles about to be applied vs what the warehouse holds: goals are per team (their
    resource), every other kind is account configuration (`profiles`)."""
    import duckdb

    from core.settings import warehouse_path
    wh = Path(warehouse) if warehouse else warehouse_path()
    applied: dict[str, str] = {}
    old_goals = pd.DataFrame()
    if wh.exists():
        con = duckdb.connect(str(wh), read_only=True)
        try:
            try:
                applied = dict(con.execute("select kind, arg_max(sha256, applied_at) from raw_config.profile_versions "
                                           "group by kind").fetchall())
                old_goals = con.execute("select * from raw_config.goals").df()
            except duckdb.Error:
                pass
        finally:
            con.close()
    req = []
    for item in loaded:
        if applied.get(item.kind) == item.sha256:
            continue
        if item.kind != "goals":
            req.append(("edit", "profiles", ACCOUNT, f"{item.kind} profile"))
            continue
        new = item.tables["goals"]
        key = "id" if "id" in new.columns else new.columns[0]
        old_rows = {r[key]: r for r in old_goals.to_dict("records")} if len(old_goals) else {}
        new_rows = {r[key]: r for r in new.to_dict("records")}
        for gid in sorted(set(old_rows) | set(new_rows), key=str):
            o, n = old_rows.get(gid), new_rows.get(gid)
            if o is not None and n is not None and {k: _s(v) for k, v in o.items()} == {k: _s(v) for k, v in n.items()}:
                continue
            row = n or o
            scope = _team(_s(row.get("tree")) or "reporting", _s(row.get("team")))
            action = "create" if o is None else "delete" if n is None else "edit"
            req.append((action, "goals", scope, f"goal {gid}"))
            if o is not None and n is not None and (_s(o.get("team")), _s(o.get("tree"))) != (_s(n.get("team")), _s(n.get("tree"))):
                req.append(("edit", "goals", _team(_s(o.get("tree")) or "reporting", _s(o.get("team"))), f"goal {gid}"))
    return req
