"""Access policy files and the control plane, without dbt: validation messages with file,
line and fix; the compiled model on a hand-made org; `sei org import` and `sei profile
apply` run as the OS user mapped to an admin, a team manager and a viewer, with every
decision in the audit log."""
from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rbac_policies.context import OrgContext, OrgCycle
from rbac_policies.control import os_user
from rbac_policies.policy import PolicyErrors, load_policy

ROOT = Path(__file__).resolve().parent.parent


def ctx() -> OrgContext:
    c = OrgContext("acme", {"org-a": ["p1", "p2"], "org-b": ["p3"]})
    c.trees = {"reporting": {"T0": None, "T1": "T0", "T2": "T1", "T3": "T1", "T4": "T0"}}
    c.memberships = [("D1", "reporting", "T2"), ("D2", "reporting", "T3"), ("D3", "reporting", "T4")]
    c.services = [("svc2", "p1", "reporting", "T2"), ("svc4", "p3", "reporting", "T4")]
    c.managers = {("reporting", "T1"): "D9", ("reporting", "T4"): "D8"}
    return c


def write(tmp_path, text: str) -> Path:
    p = tmp_path / "policy.yml"
    p.write_text(textwrap.dedent(text))
    return p


def errors_of(path, c=None) -> list[str]:
    with pytest.raises(PolicyErrors) as e:
        load_policy(path, c or ctx())
    return [str(x) for x in e.value.errors]


def test_every_problem_named_with_its_line_and_fix(tmp_path):
    p = write(tmp_path, """\
        version: 1
        principals:
          users:
            - name: alice
            - name: bob
            - name: alice
            - name: pg_monitor
            - name: {long}
          groups:
            - name: leads
              members: [alice, nobody]
        bindings:
          - principal: alice
            role: SEI Admin
            scope: account
          - principal: carol
            role: SEI Viewer
            scope: account
          - principal: bob
            role: SEI Boss
            scope: account
          - principal: bob
            role: SEI Viewer
            scope: {{tree: reporting, team: T9}}
          - principal: bob
            role: SEI Viewer
            scope: {{project: nope}}
          - principal: bob
            role: SEI Viewer
            scope: {{organisation: org-z}}
          - principal: alice
            role: SEI Admin
            scope: account
          - principal: bob
            role: SEI Viewer
            scope: {{tree: regions, team: T1}}
        colour: blue
        """.format(long="x" * 64))
    errs = errors_of(p)
    want = [(6, "principal 'alice' is declared twice"), (7, "reserved prefix"), (8, "longer than 63 bytes"),
            (16, "unknown principal 'carol'"), (20, "unknown role 'SEI Boss'"), (24, "unknown team 'T9'"),
            (27, "unknown project 'nope'"), (30, "unknown organisation 'org-z'"),
            (31, "duplicate binding: 'alice' already has 'SEI Admin' at account (line 13)"),
            (36, "unknown org tree 'regions'"), (37, "unknown key 'colour'"), (None, "unknown user 'nobody'")]
    for line, text in want:
        hit = [e for e in errs if text in e]
        assert hit, (text, errs)
        assert "Fix: " in hit[0]
        if line:
            assert hit[0].startswith(f"{p}:{line}: "), (line, hit[0])
    assert len(errs) == len(want), errs


def test_a_binding_wider_than_its_granter_may_grant_is_refused(tmp_path):
    p = write(tmp_path, """\
        principals:
          users: [root, mgr, sub, peer, viewer, x]
        bindings:
          - {principal: root, role: SEI Admin, scope: account}
          - {principal: mgr, role: SEI Team Manager, scope: {tree: reporting, team: T1}, granted_by: root}
          - {principal: sub, role: SEI Viewer, scope: {tree: reporting, team: T2}, granted_by: mgr}
          - {principal: sub, role: SEI Team Manager, scope: {tree: reporting, team: T3}, granted_by: mgr}
          - {principal: peer, role: SEI Viewer, scope: {tree: reporting, team: T4}, granted_by: mgr}
          - {principal: peer, role: SEI Admin, scope: {tree: reporting, team: T2}, granted_by: mgr}
          - {principal: x, role: SEI Viewer, scope: {project: p1}, granted_by: mgr}
          - {principal: x, role: SEI Team Manager, scope: {tree: reporting, team: T2}, granted_by: viewer}
          - {principal: viewer, role: SEI Viewer, scope: account, granted_by: root}
        """)
    errs = errors_of(p)
    assert len(errs) == 4, errs
    for line, who in ((8, "peer"), (9, "peer"), (10, "x"), (11, "x")):
        assert any(e.startswith(f"{p}:{line}: ") and f"to {who!r} is wider than" in e for e in errs), (line, errs)


def test_example_policy_is_valid_against_the_simulated_org():
    c = OrgContext("acme", {"org-payments": ["prj-payments"]})
    c.trees = {"reporting": {"T000": None, "T001": "T000", "T002": "T001", "T003": "T001", "T004": "T001",
                             "T005": "T001"}}
    pol = load_policy(ROOT / "rbac_policies" / "examples" / "policy.yml", c)
    assert {"leo", "elena", "payments-viewers"} <= set(pol.principals)


def test_compiled_model_follows_the_current_tree(tmp_path):
    from rbac_policies.compile import compile_policy
    p = write(tmp_path, """\
        principals:
          users:
            - name: m
              developer_id: D9
            - name: t
          groups:
            - {name: g, members: [t]}
        bindings:
          - {principal: m, role: SEI Team Manager, scope: {tree: reporting, managed_teams: true}}
          - {principal: t, role: SEI Viewer, scope: {tree: reporting, team: T3, project: p1}}
          - {group: g, role: SEI Viewer, scope: {organisation: org-b}}
        """)
    c = ctx()
    comp = compile_policy(load_policy(p, c), c)
    m = comp.for_principal("m")
    assert {(r.project_id, r.team_id) for r in m["visible_teams"].itertuples()} == \
        {(pr, t) for pr in ("p1", "p2", "p3") for t in ("T1", "T2", "T3")}
    assert set(m["visible_developers"].developer_id) == {"D1", "D2"} and m["visible_projects"].empty
    assert {(r.project_id, r.service) for r in m["visible_services"].itertuples()} == {("p1", "svc2")}
    t = comp.for_principal("t")
    assert {(r.project_id, r.team_id) for r in t["visible_teams"].itertuples()} == {("p1", "T3")}
    assert set(t["visible_projects"].project_id) == {"p3"}            # through its group
    assert set(comp.for_principal("g")["visible_projects"].project_id) == {"p3"}
    # D9 now manages T4 instead of T1: the old subtree is gone at the next compile
    c.managers = {("reporting", "T4"): "D9"}
    m = compile_policy(load_policy(p, c), c).for_principal("m")
    assert set(m["visible_teams"].team_id) == {"T4"} and set(m["visible_developers"].developer_id) == {"D3"}
    # a looping tree compiles to nothing
    pol = load_policy(p, c)
    c.trees["reporting"]["T0"] = "T2"
    with pytest.raises(OrgCycle, match="cycle"):
        compile_policy(pol, c)


# --------------------------------------------------------------------------- control plane
@pytest.fixture()
def org_wh(tmp_path, monkeypatch):
    """A warehouse with the tiny org imported (no dbt needed) and a policy mapping this
    process's OS user to whichever principal the test picks."""
    from ingestion.org.store import import_org
    from ingestion.org.validate import OrgFiles
    from simulator import generate
    from simulator.export import export_org
    export_org(generate("tiny", seed=7), tmp_path / "org")
    db = tmp_path / "sei.duckdb"
    assert import_org(OrgFiles.from_dir(tmp_path / "org"), warehouse=db).status == "accepted"
    (tmp_path / "sources.yml").write_text("account: acme\norganisations:\n  - id: org-payments\n    projects:\n"
                                          "      - id: prj-payments\n        github: {repos: [acme-payments/atlas-api]}\n")
    monkeypatch.setenv("SEI_WAREHOUSE", str(db))
    monkeypatch.setenv("SEI_SOURCES", str(tmp_path / "sources.yml"))
    monkeypatch.setenv("SEI_AUDIT_LOG", str(tmp_path / "audit.log"))
    shutil.copytree(ROOT / "profiles", tmp_path / "profiles")
    monkeypatch.setenv("SEI_PROFILES_DIR", str(tmp_path / "profiles"))
    me = os_user()

    def act_as(principal: str | None):
        if principal is None:
            monkeypatch.delenv("SEI_RBAC_POLICY", raising=False)
            return
        users = {"leo": "SEI Admin", "elena": "SEI Team Manager", "ada": "SEI Viewer"}
        text = "principals:\n  users:\n" + "".join(
            f"    - name: {u}\n" + (f"      os_users: [{me}]\n" if u == principal else "") for u in users)
        text += "bindings:\n  - {principal: leo, role: SEI Admin, scope: account}\n" \
                "  - {principal: elena, role: SEI Team Manager, scope: {tree: reporting, team: T002}}\n" \
                "  - {principal: ada, role: SEI Viewer, scope: {tree: reporting, team: T003}}\n"
        (tmp_path / "policy.yml").write_text(text)
        monkeypatch.setenv("SEI_RBAC_POLICY", str(tmp_path / "policy.yml"))

    return {"tmp": tmp_path, "db": db, "org": tmp_path / "org", "act_as": act_as}


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new))


def _imports(db) -> int:
    import duckdb
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select count(*) from raw_org.imports").fetchone()[0]
    finally:
        con.close()


def _sei(*args):
    from sei.cli import app
    return CliRunner().invoke(app, list(args))


def _audit(w) -> list[dict]:
    p = w["tmp"] / "audit.log"
    return [json.loads(x) for x in p.read_text().splitlines()] if p.exists() else []


def test_team_manager_changing_another_team_is_refused_and_audited(org_wh, monkeypatch):
    w = org_wh
    w["act_as"]("elena")
    monkeypatch.setenv("USER", "leo")          # the environment does not choose the principal
    monkeypatch.setenv("LOGNAME", "leo")
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon,", "T003,Team Beacon Renamed,")
    n = _imports(w["db"])
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 1, r.output
    assert "elena may not edit teams at team reporting/T003" in r.output
    assert _imports(w["db"]) == n
    last = _audit(w)[-1]
    assert (last["principal"], last["action"], last["resource"], last["scope"], last["allowed"], last["os_user"]) == \
        ("elena", "edit", "teams", "team reporting/T003", False, os_user())
    # her own team: allowed, imported, audited
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon Renamed,", "T003,Team Beacon,")
    _edit(w["org"] / "org_tree_reporting.csv", "T002,Team Atlas,", "T002,Team Atlas Renamed,")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 0, r.output
    assert _imports(w["db"]) == n + 1
    assert _audit(w)[-1]["allowed"] and _audit(w)[-1]["scope"] == "team reporting/T002"


def test_team_manager_edits_identities_of_its_own_people_only(org_wh):
    w = org_wh
    w["act_as"]("elena")
    dev = w["org"] / "developers.csv"
    lines = dev.read_text().splitlines()
    # D00007 is in T002 (Elena's), D00008 in T003
    for i, line in enumerate(lines):
        if line.startswith("D00007,"):
            lines[i] = line.replace(",,", ",,", 1)
            cells = line.split(",")
            cells[8] = cells[8] + ";d7-second-account" if cells[8] else "d7-second-account"
            lines[i] = ",".join(cells)
    dev.write_text("\n".join(lines) + "\n")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 0, r.output
    assert _audit(w)[-1]["resource"] == "data_settings.developer_identities" and _audit(w)[-1]["allowed"]
    cells = [x for x in dev.read_text().splitlines() if x.startswith("D00008,")][0].split(",")
    _edit(dev, ",".join(cells), ",".join(cells[:8] + [cells[8] + ";d8-other"] + cells[9:]))
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 1 and "developer_identities" in r.output, r.output


def test_viewer_can_change_nothing(org_wh):
    w = org_wh
    w["act_as"]("ada")
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon,", "T003,Team Beacon Renamed,")
    n = _imports(w["db"])
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 1 and _imports(w["db"]) == n, r.output       # not even her own team
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon Renamed,", "T003,Team Beacon,")
    _edit(w["tmp"] / "profiles" / "goals.yml", "    team: T003\n", "    team: T003\n    # moved\n")
    goals = w["tmp"] / "profiles" / "goals.yml"
    _edit(goals, "target: 8\n", "target: 9\n")
    r = _sei("profile", "apply")
    assert r.exit_code == 1 and "ada may not" in r.output, r.output
    refused = [a for a in _audit(w) if not a["allowed"]]
    assert {a["principal"] for a in refused} == {"ada"} and len(refused) >= 2
    assert {a["resource"] for a in refused} >= {"teams", "profiles"}


def test_admin_may_and_single_admin_mode_is_audited(org_wh):
    w = org_wh
    w["act_as"]("leo")
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon,", "T003,Team Beacon Renamed,")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 0, r.output
    r = _sei("profile", "apply")
    assert r.exit_code == 0, r.output
    assert all(a["allowed"] and a["principal"] == "leo" for a in _audit(w))
    w["act_as"](None)
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon Renamed,", "T003,Team Beacon,")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 0, r.output
    last = _audit(w)[-1]
    assert last["mode"] == "single-admin" and last["allowed"] and last["os_user"] == os_user()


def test_unmapped_os_user_and_invalid_policy_change_nothing(org_wh):
    w = org_wh
    w["act_as"]("leo")
    pol = w["tmp"] / "policy.yml"
    _edit(pol, f"os_users: [{os_user()}]", "os_users: [someone-else]")
    _edit(w["org"] / "org_tree_reporting.csv", "T003,Team Beacon,", "T003,Team Beacon Renamed,")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 1 and "not mapped to any principal" in r.output, r.output
    pol.write_text(pol.read_text() + "  - {principal: ghost, role: SEI Admin, scope: account}\n")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 1 and "policy is invalid" in r.output, r.output


def test_moving_a_person_needs_both_teams(org_wh):
    """Elena manages T002: taking D00008 from T003 into her team needs T003 as well; a new
    member for her own team from nowhere is hers to add."""
    w = org_wh
    w["act_as"]("elena")
    mem = w["org"] / "memberships.csv"
    original = mem.read_text()
    _edit(mem, "D00008,reporting,T003,2025-11-02,\n", "D00008,reporting,T002,2025-11-02,\n")
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 1, r.output
    refused = [a for a in _audit(w) if not a["allowed"]]
    assert [a["scope"] for a in refused] == ["team reporting/T003"], refused
    mem.write_text(original + "D00008,reporting,T002,2025-11-02,\n")      # D00008 also joins T002
    r = _sei("org", "import", "--dir", str(w["org"]), "--no-resolve-identities")
    assert r.exit_code == 0, r.output
    assert _audit(w)[-1]["what"] == "membership of D00008 in reporting/T002" and _audit(w)[-1]["allowed"]


def _project_mart_columns() -> dict[str, list[str]]:
    """Every mart's columns as its YAML declares them (the contracts)."""
    import yaml
    out = {}
    for f in (ROOT / "dbt_project" / "models" / "marts").rglob("*.yml"):
        for m in (yaml.safe_load(f.read_text()) or {}).get("models", []):
            out[m["name"]] = [c["name"] for c in m.get("columns", [])]
    return out


def test_every_mart_of_the_project_has_a_scope_and_people_facts_go_through_bridges():
    from rbac_policies.marts import UnclassifiedMart, classify_all
    cols = _project_mart_columns()
    shapes = {s.name: s for s in classify_all(cols, {})}
    assert set(shapes) == set(cols)     # integration_health too: account-wide principals only
    assert (shapes["fct_pull_requests"].shape, shapes["fct_pull_requests"].bridge,
            shapes["fct_pull_requests"].key) == ("bridged", "bridge_pull_request_team", "pull_request_id")
    assert (shapes["fct_sprint_issues"].shape, shapes["fct_sprint_issues"].bridge) == ("bridged", "bridge_issue_team")
    assert shapes["dora_team_monthly"].shape == "team" and shapes["fct_deployments"].shape == "team"
    # without its bridge built, or with the bridge excluded, the fact is refused, not leaked
    with pytest.raises(UnclassifiedMart, match="'bridge_pull_request_team' is not built.*Fix: build the bridge"):
        classify_all({k: v for k, v in cols.items() if k != "bridge_pull_request_team"}, {})
    with pytest.raises(UnclassifiedMart, match="which the policy excludes.*Fix: publish 'bridge_issue_team'"):
        classify_all(cols, {"bridge_issue_team": {"exclude": True}})


def test_policy_accepts_a_bridge_rule_and_names_every_form_on_a_bad_one(tmp_path):
    p = tmp_path / "policy.yml"
    p.write_text(textwrap.dedent("""\
        version: 1
        principals:
          users:
            - name: alice
        bindings:
          - principal: alice
            role: SEI Viewer
            scope: account
        marts:
          t_facts: {bridge: t_bridge, key: fact_id}
          t_other: {bridge: t_bridge}
        """))
    with pytest.raises(PolicyErrors) as e:
        load_policy(p)
    msg = str(e.value)
    assert "policy.yml:11" in msg and "t_other" in msg and "{bridge: BRIDGE_MART, key: COLUMN}" in msg
    assert "t_facts" not in msg


def test_no_sources_file_is_named_not_an_empty_list(tmp_path, monkeypatch):
    """After `sei demo` elsewhere, or before any sources file exists: the policy's
    organisations cannot be checked, and the error says why and where it looked."""
    from rbac_policies.context import hierarchy_from_sources
    from rbac_policies.policy import PolicyErrors, load_policy
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SEI_SOURCES", raising=False)
    monkeypatch.setenv("SEI_WAREHOUSE", str(tmp_path / "wh" / "sei.duckdb"))
    account, orgs, missing = hierarchy_from_sources()
    assert orgs == {} and "no sources file found (looked for" in missing
    ctx = OrgContext(account, orgs, sources_missing=missing)
    p = tmp_path / "policy.yml"
    p.write_text("version: 1\nprincipals:\n  users:\n    - name: ann\nbindings:\n  - principal: ann\n"
                 "    role: SEI Viewer\n    scope: {organisation: org-payments}\n")
    with pytest.raises(PolicyErrors) as e:
        load_policy(p, ctx)
    msg = str(e.value)
    assert f"{p}:8: unknown organisation 'org-payments': no sources file found (looked for " in msg
    assert str(tmp_path / "sources.yml") in msg and "set SEI_SOURCES" in msg and "organisations: ." not in msg
