"""Identity resolution: tool accounts -> developers, with provenance, scored against the
simulator's ground truth (`truth_frame(world, "identities")`).

Most tests build the raw tables straight from a generated world, in the columns the
connectors write (fast, and large enough for meaningful figures); one slow test loads
GitHub, Jira and Harness over HTTP from the simulator with the real connectors.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ingestion.org.identities import (Directory, accounts_from_rows, activity_share, gather_accounts, login_loose,
                                      match_account, norm_name, resolve, resolve_warehouse, unmatched)
from ingestion.org.store import import_org
from ingestion.org.validate import OrgFiles, account_key, load_org
from simulator import generate
from simulator.export import export_org
from simulator.truth import truth_frame

ROOT = Path(__file__).resolve().parent.parent
SEI = [sys.executable, "-m", "sei.cli"]
pytestmark = pytest.mark.xdist_group("identities")   # the medium world is generated once, on one worker


# --------------------------------------------------------------------------- raw tables from a world
def load_raw(w, con) -> None:
    """raw_github / raw_jira / raw_harness tables as ingestion writes them (GitHub columns
    of ingestion/github.py; Jira and Harness in the column shapes dlt gives their JSON)."""
    acc = w["tool_accounts"]
    full = w["repos"].set_index("repo_id").full_name
    for s in ("raw_github", "raw_jira", "raw_harness"):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {s}")

    def table(name: str, df: pd.DataFrame) -> None:
        con.register("_t", df)
        con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * FROM _t")
        con.unregister("_t")

    prs = w["prs"][w["prs"].created_at <= w.now]
    table("raw_github.pull_requests", pd.DataFrame({
        "_dlt_id": [f"pr{i}" for i in prs.index], "repository": prs.repo_id.map(full).to_numpy(),
        "author_login": prs.author_login.to_numpy(),
        "author_type": np.where(prs.author_login.str.endswith("[bot]"), "Bot", "User")}))
    rv = w["reviews"][w["reviews"].submitted_at <= w.now]
    rv = rv[rv.pr_ix.isin(prs.index)]
    table("raw_github.pull_requests__reviews", pd.DataFrame({
        "_dlt_root_id": [f"pr{i}" for i in rv.pr_ix], "author_login": rv.reviewer_login.to_numpy(),
        "author_type": "User"}))
    mc = w["main_commits"][w["main_commits"].authored_at <= w.now]
    table("raw_github.commits", pd.DataFrame({
        "repository": mc.repo_id.map(full).to_numpy(), "author_login": mc.author_login.to_numpy(),
        "author_email": mc.author_email.to_numpy(), "author_name": mc.author_name.to_numpy()}))
    ja = acc[acc.tool == "jira"]
    human = ja[ja.dev_id.notna()].set_index("dev_id")
    iss = w["issues"][w["issues"].created_at <= w.now]
    table("raw_jira.issues", pd.DataFrame({  # ingestion/jira.py's columns, with the SEI scope ones
        "key": iss.key.to_numpy(), "account_id": "acme", "project_id": iss.project_id.to_numpy(),
        "assignee_account_id": iss.assignee_dev.map(human.account_id).to_numpy(),
        "reporter_account_id": iss.reporter_dev.map(human.account_id).to_numpy()}))
    bot = ja[ja.is_bot.astype(bool)].iloc[0]
    table("raw_jira.issue_changelogs", pd.DataFrame({  # people move their issues, automation a few
        "issue_key": list(iss.key) + ["X-1"] * 5, "account_id": "acme",
        "author_account_id": list(iss.assignee_dev.map(human.account_id)) + [bot.account_id] * 5,
        "from_account_id": None, "to_account_id": None}))
    users = ja[ja.account_id.isin(set(iss.assignee_dev.map(human.account_id)) | {bot.account_id})]
    table("raw_jira.users", pd.DataFrame({
        "jira_account_id": users.account_id.to_numpy(), "display_name": users.display_name.to_numpy(),
        "email_address": users.email.to_numpy(), "account_type": np.where(users.is_bot.astype(bool), "app", "atlassian"),
        "account_id": "acme"}))
    ha = acc[acc.tool == "harness"].set_index("dev_id")
    dep = w["deployments"][(w["deployments"].tool == "harness") & (w["deployments"].started_at <= w.now)]
    mgr = dep.team_id.map(w["teams"].set_index("team_id").manager_dev_id)
    manual = dep.trigger != "scheduled"
    table("raw_harness.pipeline_executions", pd.DataFrame({
        "plan_execution_id": dep.plan_execution_id.to_numpy(),
        "trigger_type": np.where(manual, "MANUAL", "WEBHOOK"),
        "triggered_by": np.where(manual, mgr.map(ha.login), "on_push_main"),
        "triggered_by_email": np.where(manual, mgr.map(ha.email), None)}))


def score(matches: pd.DataFrame, w) -> dict:
    """Precision and recall of the matches made for accounts with activity, against the
    generator's truth; bots counted apart."""
    tr = truth_frame(w, "identities")
    key = [(t, account_key(t, lg) if t == "github" else (lg if t == "harness" else a))
           for t, a, lg in zip(tr.tool, tr.account_id, tr.login)]
    owner = dict(zip(key, [d if isinstance(d, str) else None for d in tr.dev_id]))
    bots = {k for k, b in zip(key, tr.is_bot) if b}
    seen = matches[matches.activity > 0]
    tp = fp = fn = 0
    wrong, missed = [], []
    for r in seen.itertuples():
        k = (r.tool, r.account_id)
        assert k in owner, f"account {k} is not in the truth"
        true = owner[k]
        got = r.developer_id if isinstance(r.developer_id, str) else None
        if got is not None:
            if got == true:
                tp += 1
            else:
                fp += 1
                wrong.append((k, r.rule, got, true))
        elif true is not None:
            fn += 1
            missed.append((k, r.candidates, true))
    flagged = {(r.tool, r.account_id) for r in seen.itertuples() if r.is_bot}
    seen_bots = {(r.tool, r.account_id) for r in seen.itertuples()} & bots
    human = seen[~seen.is_bot.astype(bool)]
    truly_human = seen[[(t, a) not in bots for t, a in zip(seen.tool, seen.account_id)]]
    attributed = truly_human[truly_human.developer_id.notna()].activity.sum() / truly_human.activity.sum()
    correct = sum(r.activity for r in truly_human.itertuples()
                  if isinstance(r.developer_id, str) and r.developer_id == owner[(r.tool, r.account_id)])
    return {"accounts": len(seen), "tp": tp, "fp": fp, "fn": fn, "precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / (tp + fn) if tp + fn else 1.0, "bots_flagged": len(flagged & seen_bots),
            "bots_seen": len(seen_bots), "bots_false": len(flagged - bots), "human_accounts": len(human),
            "activity_attributed": float(attributed), "activity_correct": float(correct / truly_human.activity.sum()),
            "by_rule": seen.rule.fillna("unmatched").value_counts().to_dict(), "wrong": wrong, "missed": missed}


def show(label: str, s: dict) -> None:
    print(f"\n{label}: {s['accounts']} accounts with activity; precision {s['precision']:.4f} "
          f"({s['tp']} right, {s['fp']} wrong), recall {s['recall']:.4f} ({s['fn']} missed); "
          f"bots flagged {s['bots_flagged']}/{s['bots_seen']} (false {s['bots_false']}); human activity attributed "
          f"{s['activity_attributed']:.3%} (to the right person {s['activity_correct']:.3%}); rules {s['by_rule']}")


@pytest.fixture(scope="module")
def medium(tmp_path_factory):
    w = generate("medium", seed=3)
    d = tmp_path_factory.mktemp("medium")
    export_org(w, d / "org")
    con = duckdb.connect()
    load_raw(w, con)
    accounts = gather_accounts(con)
    con.close()
    return w, load_org(OrgFiles.from_dir(d / "org")), accounts


# --------------------------------------------------------------------------- unit rules
def test_normalisation():
    assert norm_name("  Müller, Anna-Lena ") == "anna lena muller"
    assert norm_name("José  O'Neil") == "jose o neil"
    assert login_loose("Anna-Bauer-ACME12", {"acme"}) == "annabauer"
    assert login_loose("annab-dev42", {"acme"}) == "annab"
    assert login_loose("dependabot[bot]", set()) == "dependabot"


def _dir():
    people = [("D1", "Anna Bauer", ["anna.bauer@acme.example"], {"github": ["anna-b"]}),
              ("D2", "Anna Bauer", ["anna.bauer2@acme.example"], {}),
              ("D3", "Kenji Sato", ["kenji.sato@acme.example"], {}),
              ("D4", "Lea Novak", ["lea.novak@acme.example", "lea@old.example"], {"jira": ["5fLEA"]})]
    return Directory.build(people, [("github", "Kenji-Weekend", "D3", False), ("github", "ci-runner", None, True),
                                    ("github", "anna-b", "D2", False)],
                           [("D1", "acme/payments"), ("D2", "acme/search")])


@pytest.mark.parametrize("account,want", [
    # override beats the developers file (anna-b is declared for D1, overridden to D2)
    (("github", "anna-b", "anna-b", ["anna.bauer@acme.example"], [], []), ("D2", "override", 1.0, False)),
    (("github", "kenji-weekend", "Kenji-Weekend", [], ["Kenji"], []), ("D3", "override", 1.0, False)),
    (("github", "ci-runner", "ci-runner", [], [], []), (None, "override", 1.0, True)),
    (("jira", "5fLEA", None, [], ["Someone Else"], []), ("D4", "declared", 1.0, False)),
    (("github", "renovate[bot]", "renovate[bot]", [], [], ["Bot"]), (None, "bot", None, True)),
    (("github", "acme-release-bot", "acme-release-bot", [], ["Acme Release Bot"], []), (None, "bot", None, True)),
    (("jira", "5fAUTO", None, [], ["Automation for Jira"], ["app"]), (None, "bot", None, True)),
    (("github", "lnovak", "lnovak", ["lea@old.example"], [], []), ("D4", "email", 0.95, False)),
    (("github", "kenjisato", "kenjisato", ["1+kenjisato@users.noreply.github.com"], [], []),
     ("D3", "login", 0.9, False)),
    (("github", "sato-kenji-acme", "Sato-Kenji-ACME", [], [], []), ("D3", "login", 0.85, False)),
    (("github", "ksato", "ksato", [], [], []), ("D3", "login", 0.8, False)),
    (("github", "anna-bauer2", "anna-bauer2", [], [], []), ("D2", "login", 0.9, False)),
    (("github", "lean-dev7", "lean-dev7", [], [], []), ("D4", "login", 0.6, False)),
    (("github", "kxs", "kxs", [], ["Kenji Sato"], []), ("D3", "name", 0.75, False)),
    (("harness", "lea.novak", "lea.novak", ["lea.novak@acme.example"], [], []), ("D4", "email", 0.95, False)),
])
def test_rules_in_order_with_provenance(account, want):
    tool, acc, login, emails, names, types = account
    m = match_account(tool, acc, login, emails, names, types, _dir())
    assert (m["developer_id"], m["rule"], m["confidence"], m["is_bot"]) == want


def test_namesakes_stay_unmatched_with_candidates_unless_context_tells_them_apart():
    d = _dir()
    m = match_account("github", "annabauer7", "annabauer7", [], ["Anna Bauer"], [], d)
    assert (m["developer_id"], m["rule"], m["candidates"]) == (None, None, "D1,D2")
    m = match_account("github", "annabauer7", "annabauer7", [], ["Anna Bauer"], [], d, {"acme/search": 9})
    assert (m["developer_id"], m["rule"], m["confidence"]) == ("D2", "context", 0.5)
    # both candidates' teams own repositories it works in: still ambiguous
    m = match_account("github", "annabauer7", "annabauer7", [], [], [], d, {"acme/search": 5, "acme/payments": 5})
    assert m["developer_id"] is None


def test_accounts_merge_across_tables_and_noreply_gives_the_login():
    acc = accounts_from_rows([
        ("github", "Kenji-S", None, None, "User", "acme/a", "pull_requests", 1, 3),
        ("github", "kenji-s", "kenji.sato@acme.example", "Kenji Sato", None, "acme/a", "commits", 1, 2),
        ("github", None, "99+kenji-s@users.noreply.github.com", "Kenji", None, "acme/b", "commits", 1, 1),
        ("github", None, "dev@laptop.local", "Kenji Sato", None, "acme/b", "commits", 1, 4),
        ("jira", "5fX", "x@acme.example", "X Y", "atlassian", None, "users.account_id", 0, 1),
    ])
    rows = {(r.tool, r.account_id): r for r in acc.itertuples()}
    k = rows[("github", "kenji-s")]
    assert (k.login, k.activity, k.email, k.repos) == ("Kenji-S", 6, "kenji.sato@acme.example", {"acme/a": 5, "acme/b": 1})
    assert rows[("git", "dev@laptop.local")].activity == 4
    assert rows[("jira", "5fX")].activity == 0  # a users table describes people, it is not activity


# --------------------------------------------------------------------------- against the simulator's truth
def test_precision_and_recall_against_truth(medium):
    w, org, accounts = medium
    m = resolve(accounts, Directory.from_org(org))
    s = score(m, w)
    show("medium org, developers file as the simulator exports it", s)
    assert s["accounts"] > 1000 and {"github", "jira", "harness"} <= set(m.tool)
    assert s["precision"] >= 0.99, s["wrong"][:5]
    assert s["recall"] >= 0.98, s["missed"][:5]
    assert s["activity_attributed"] >= 0.99
    assert s["bots_flagged"] == s["bots_seen"] == 4 and s["bots_false"] == 0


def test_precision_and_recall_with_no_declared_ids(medium):
    """The automatic rules alone: a developers file with names and emails only."""
    w, org, accounts = medium
    full = Directory.from_org(org)
    d = Directory.build([(x.developer_id, x.full_name, x.emails, {}) for x in org.developers],
                        team_repos=[(k, r) for k, v in full.dev_repos.items() for r in v])
    s = score(resolve(accounts, d), w)
    show("medium org, automatic rules only", s)
    assert s["precision"] >= 0.99, s["wrong"][:5]
    assert s["recall"] >= 0.97, s["missed"][:5]
    assert s["activity_attributed"] >= 0.99


def test_bots_are_excluded_from_per_person_activity(medium):
    w, org, accounts = medium
    m = resolve(accounts, Directory.from_org(org))
    bots = m[m.is_bot]
    assert set(bots.account_id) >= {"dependabot", "renovate", "acme-release-bot"}
    assert bots.developer_id.isna().all()
    assert activity_share(m) == pytest.approx(
        m[m.developer_id.notna()].activity.sum() / m[~m.is_bot].activity.sum())


# --------------------------------------------------------------------------- the warehouse and the CLI
def test_resolution_is_stored_and_unmatched_report_is_most_active_first(tmp_path):
    w = generate("small", seed=3)
    export_org(w, tmp_path / "org")
    wh = tmp_path / "sei.duckdb"
    con = duckdb.connect(str(wh))
    load_raw(w, con)
    # accounts nobody knows, one with a name a spreadsheet would run
    con.execute("INSERT INTO raw_github.commits (repository, author_login, author_email, author_name) "
                "SELECT 'acme-payments/x', 'stranger', 'stranger@else.example', '=HYPERLINK(\"http://evil\")' "
                "FROM range(7)")
    con.execute("INSERT INTO raw_github.pull_requests (_dlt_id, repository, author_login, author_type) "
                "SELECT 'x' || i, 'acme-payments/x', 'drive-by', 'User' FROM range(3) t(i)")
    con.close()
    r = import_org(OrgFiles.from_dir(tmp_path / "org"), warehouse=wh)
    assert r.status == "accepted"
    res = resolve_warehouse(wh)
    u = unmatched(res.matches)
    assert list(u.account_id[:2]) == ["stranger", "drive-by"] and list(u.activity[:2]) == [7, 3]
    stored = duckdb.connect(str(wh), read_only=True).execute(
        "SELECT tool, account_id, developer_id, rule, confidence, is_bot FROM raw_org.identity_matches "
        "WHERE account_id IN ('dependabot', 'acme-release-bot', 'stranger')").fetchall()
    assert sorted(stored) == [("github", "acme-release-bot", None, "override", 1.0, True),
                              ("github", "dependabot", None, "bot", None, True),
                              ("github", "stranger", None, None, None, False)]
    out = subprocess.run([*SEI, "org", "identities", "--unmatched", "--csv", str(tmp_path / "u.csv"),
                          "--warehouse", str(wh)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("identities: ") and "of human activity attributed" in lines[0]
    assert lines[1] == f"{len(u)} unmatched account(s), most active first:"
    assert lines[3].split()[:2] == ["github", "stranger"]
    csv_text = (tmp_path / "u.csv").read_text(encoding="utf-8")
    assert "'=HYPERLINK" in csv_text and ",=HYPERLINK" not in csv_text
    # an override settles it, after a re-import
    with (tmp_path / "org" / "identity_overrides.csv").open("a", encoding="utf-8") as f:
        f.write("github,stranger,D00002,contractor laptop\ngithub,drive-by,none,external contributor\n")
    assert import_org(OrgFiles.from_dir(tmp_path / "org"), warehouse=wh).status == "accepted"
    m = resolve_warehouse(wh).matches.set_index("account_id")
    assert (m.at["stranger", "developer_id"], m.at["stranger", "rule"]) == ("D00002", "override")
    assert m.at["drive-by", "rule"] == "override" and pd.isna(m.at["drive-by", "developer_id"])


@pytest.mark.slow
def test_identities_after_a_real_sync_of_github_jira_and_harness(sim, tiny_world, tmp_path):
    """GitHub, Jira and Harness loaded over HTTP from the simulator by the real connectors
    (the sources file `sei demo` writes), the tiny org imported, accounts resolved:
    figures against the truth, printed."""
    from test_ingest_github import environ

    from ingestion import pipeline
    from simulator.export import export_sources
    from simulator.http import GITHUB_TOKEN, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    wh = tmp_path / "sei.duckdb"
    src = export_sources(tiny_world, tmp_path / "sources.yml", sim.url)
    with environ(SEI_WAREHOUSE=str(wh), SEI_SOURCES=str(src), SEI_WAIT_SCALE="0.001",
                 SOURCES__GITHUB__ACCESS_TOKEN=GITHUB_TOKEN, SOURCES__JIRA__EMAIL=JIRA_EMAIL,
                 SOURCES__JIRA__API_TOKEN=JIRA_TOKEN, SOURCES__HARNESS__API_KEY=HARNESS_API_KEY,
                 SOURCES__GITHUB__BASE_URL=None, SOURCES__GITHUB__GRAPHQL_URL=None, SOURCES__JIRA__BASE_URL=None,
                 SOURCES__HARNESS__BASE_URL=None):
        r = pipeline.run(["github", "jira", "harness"], progress=False)
    assert r.status == "success", [(x.source, x.error_message) for x in r.sources]
    export_org(tiny_world, tmp_path / "org")
    assert import_org(OrgFiles.from_dir(tmp_path / "org"), warehouse=wh).status == "accepted"
    res = resolve_warehouse(wh)
    s = score(res.matches, tiny_world)
    show("tiny org after a sync of GitHub, Jira and Harness over HTTP", s)
    assert {"github", "jira", "harness"} <= set(res.matches[res.matches.activity > 0].tool)
    assert s["accounts"] >= 30
    assert s["precision"] >= 0.99 and s["recall"] >= 0.95
    assert s["activity_attributed"] >= 0.99
    assert s["bots_flagged"] == s["bots_seen"] >= 2
    assert res.figures["human_activity_attributed"] >= 0.99
