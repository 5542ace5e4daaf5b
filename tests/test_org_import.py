"""Org import: formats, validation, versioned imports, effective-dated memberships, CLI.

Bad-input cases start from the documented example files (examples/org), import them once
(import #1), break one thing and import again: the import must be rejected with a message
naming file, line and fix, and import #1 must stay the current org, row for row.
"""
from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingestion.org.formats import is_formula, read_csv, safe_csv_cell, write_safe_csv
from ingestion.org.store import SNAPSHOT_TABLES, connect, import_org, latest_import, memberships_at, render_tree, snapshot
from ingestion.org.validate import OrgFiles, load_org

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "org"
SEI = [sys.executable, "-m", "sei.cli"]
D = dt.date


# --------------------------------------------------------------------------- helpers
@pytest.fixture()
def org(tmp_path) -> Path:
    d = tmp_path / "org"
    shutil.copytree(EXAMPLES, d)
    return d


def files(d: Path, **kw) -> OrgFiles:
    return OrgFiles.from_dir(d, **kw)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(line + "\n")


def state(wh: Path) -> tuple[int, dict[str, list[tuple]]]:
    con = connect(wh, read_only=True)
    try:
        cur = int(latest_import(con)["import_id"])
        snap = snapshot(con, cur)
        return cur, {t: sorted(tuple(str(v) for v in r) for r in df.itertuples(index=False)) for t, df in snap.items()}
    finally:
        con.close()


def rows(wh: Path, sql: str, params=()) -> list[tuple]:
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, list(params)).fetchall()
    finally:
        con.close()


# --------------------------------------------------------------------------- the example files
def test_examples_are_valid_and_import(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    r = import_org(files(org), warehouse=wh)
    assert r.status == "accepted" and r.import_id == 1, [str(i) for i in r.issues]
    assert r.warnings == []
    assert r.changes["developers"] == 7 and r.changes["trees"] == 2 and r.changes["teams"] == 6
    assert r.changes["memberships"] == 16 and r.changes["services"] == 2 and r.changes["overrides"] == 4
    got = dict(rows(wh, "SELECT developer_id, full_name FROM raw_org.current_developers"))
    assert got["E007"] == "Sofia López"
    assert rows(wh, "SELECT email, is_primary FROM raw_org.current_developer_emails WHERE developer_id = 'E003' "
                    "ORDER BY email") == [("aiko.tanaka@example.com", True), ("aiko@old-example.com", False)]
    assert sorted(rows(wh, "SELECT service, repository FROM raw_org.current_service_repositories")) == [
        ("payments-api", "example/payments-api"), ("payments-api", "example/payments-lib"),
        ("search-web", "example/search-web")]
    assert rows(wh, "SELECT team_id, depth, path FROM raw_org.current_teams WHERE tree = 'reporting' ORDER BY path") == [
        ("ENG", 0, "ENG"), ("PAY", 1, "ENG/PAY"), ("SRCH", 1, "ENG/SRCH")]
    assert sorted(rows(wh, "SELECT tool, account, developer_id, is_bot FROM raw_org.current_identity_overrides")) == [
        ("git", "aiko@laptop.local", "E003", False), ("github", "aiko-weekend", "E003", False),
        ("github", "deploy-robot", None, True), ("github", "jane-contractor", None, False)]
    imp = rows(wh, "SELECT status, effective_date, checksum FROM raw_org.imports")
    assert imp[0][0] == "accepted" and imp[0][1] is None and len(imp[0][2]) == 64


def test_first_import_is_valid_from_start_of_history_and_dated_rows_as_given(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    import_org(files(org), warehouse=wh)
    got = rows(wh, "SELECT team_id, valid_from, valid_to, source FROM raw_org.current_memberships "
                   "WHERE developer_id = 'E004' AND tree = 'reporting' ORDER BY valid_from")
    assert got == [("PAY", D(2023, 6, 12), D(2025, 1, 6), "dated"), ("SRCH", D(2025, 1, 6), None, "dated")]
    assert rows(wh, "SELECT valid_from, valid_to, source FROM raw_org.current_memberships "
                    "WHERE developer_id = 'E002' AND tree = 'reporting'") == [(None, None, "file")]


def test_first_import_with_effective_date_starts_then(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    import_org(files(org), warehouse=wh, effective_date=D(2024, 1, 1))
    assert rows(wh, "SELECT valid_from FROM raw_org.current_memberships WHERE developer_id = 'E002' "
                    "AND tree = 'reporting'") == [(D(2024, 1, 1),)]


def test_person_in_two_teams_counts_in_each(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    import_org(files(org), warehouse=wh)
    con = connect(wh, read_only=True)
    try:
        m = memberships_at(con, D(2025, 6, 1))
        text = render_tree(con, "reporting", D(2025, 6, 1))
    finally:
        con.close()
    assert sorted(m[(m.developer_id == "E006") & (m.tree == "reporting")].team_id) == ["PAY", "SRCH"]
    assert "Payments [PAY]  manager tom.becker@example.com  3 members" in text
    assert "Search [SRCH]  manager lena.park@example.com  4 members" in text
    assert "Engineering [ENG]  manager maria.rossi@example.com  1 member (7 with sub-teams)" in text


def test_undated_membership_ends_with_employment(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    edit(org / "memberships.csv", "E007,business_units,BU-CONSUMER,2022-11-14,2025-08-29",
         "E007,business_units,BU-CONSUMER,,")
    import_org(files(org), warehouse=wh)
    assert rows(wh, "SELECT valid_from, valid_to FROM raw_org.current_memberships WHERE developer_id = 'E007' "
                    "AND tree = 'business_units'") == [(None, D(2025, 8, 29))]


# --------------------------------------------------------------------------- successive imports
def test_move_between_imports_closes_and_opens_at_the_effective_date(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    assert import_org(files(org), warehouse=wh).import_id == 1
    first = state(wh)[1]
    edit(org / "memberships.csv", "E003,reporting,PAY,,", "E003,reporting,SRCH,,")
    r = import_org(files(org), warehouse=wh, effective_date=D(2026, 3, 1))
    assert r.status == "accepted" and r.import_id == 2
    assert (r.changes["memberships_opened"], r.changes["memberships_closed"], r.changes["moves"]) == (1, 1, 1)
    assert rows(wh, "SELECT team_id, valid_from, valid_to FROM raw_org.current_memberships "
                    "WHERE developer_id = 'E003' AND tree = 'reporting' ORDER BY valid_from NULLS FIRST") == [
        ("PAY", None, D(2026, 3, 1)), ("SRCH", D(2026, 3, 1), None)]
    # people who did not move keep their open membership from the start of history
    assert rows(wh, "SELECT valid_from, valid_to FROM raw_org.current_memberships WHERE developer_id = 'E002' "
                    "AND tree = 'reporting'") == [(None, None)]
    # import #1 is kept as it was
    con = connect(wh, read_only=True)
    try:
        again = snapshot(con, 1)
    finally:
        con.close()
    assert {t: sorted(tuple(str(v) for v in r) for r in df.itertuples(index=False)) for t, df in again.items()} == first
    # a third import a month later that moves E003 back: three intervals
    edit(org / "memberships.csv", "E003,reporting,SRCH,,", "E003,reporting,PAY,,")
    import_org(files(org), warehouse=wh, effective_date=D(2026, 4, 1))
    assert rows(wh, "SELECT team_id, valid_from, valid_to FROM raw_org.current_memberships "
                    "WHERE developer_id = 'E003' AND tree = 'reporting' ORDER BY valid_from NULLS FIRST") == [
        ("PAY", None, D(2026, 3, 1)), ("SRCH", D(2026, 3, 1), D(2026, 4, 1)), ("PAY", D(2026, 4, 1), None)]


def test_person_missing_from_a_later_file_is_kept_as_departed(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    import_org(files(org), warehouse=wh)
    dev = (org / "developers.csv").read_text(encoding="utf-8").splitlines()
    (org / "developers.csv").write_text("\n".join(x for x in dev if not x.startswith("E006,")) + "\n", encoding="utf-8")
    mem = (org / "memberships.csv").read_text(encoding="utf-8").splitlines()
    (org / "memberships.csv").write_text("\n".join(x for x in mem if not x.startswith("E006,")) + "\n", encoding="utf-8")
    r = import_org(files(org), warehouse=wh, effective_date=D(2026, 3, 1))
    assert r.status == "accepted", [str(i) for i in r.errors]
    assert (r.changes["developers"], r.changes["departed_kept"], r.changes["developers_removed"]) == (6, 1, 1)
    assert rows(wh, "SELECT in_file, end_date FROM raw_org.current_developers WHERE developer_id = 'E006'") == [
        (False, D(2026, 3, 1))]
    assert rows(wh, "SELECT email FROM raw_org.current_developer_emails WHERE developer_id = 'E006'") == [
        ("omar.haddad@example.com",)]
    assert rows(wh, "SELECT tree, team_id, valid_from, valid_to FROM raw_org.current_memberships "
                    "WHERE developer_id = 'E006' ORDER BY tree, team_id") == [
        ("business_units", "BU-CONSUMER", None, D(2026, 3, 1)), ("reporting", "PAY", D(2025, 3, 1), D(2026, 3, 1)),
        ("reporting", "SRCH", None, D(2026, 3, 1))]


def test_effective_date_before_the_current_import_is_rejected(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    import_org(files(org), warehouse=wh, effective_date=D(2026, 3, 1))
    before = state(wh)
    r = import_org(files(org), warehouse=wh, effective_date=D(2026, 2, 1))
    assert r.status == "rejected"
    assert str(r.errors[0]) == ("--effective-date: 2026-02-01 is before 2026-03-01, the effective date of the current "
                                "import #1. Fix: imports move forward in time: give a date on or after it. To correct "
                                "past team history, give valid_from/valid_to in the memberships file.")
    assert state(wh) == before


def test_simulator_export_imports_and_matches_the_truth(tmp_path, tiny_world):
    from simulator.export import export_org
    from simulator.truth import truth_frame
    export_org(tiny_world, tmp_path / "org")
    wh = tmp_path / "sei.duckdb"
    r = import_org(files(tmp_path / "org"), warehouse=wh)
    assert r.status == "accepted" and r.issues == [], [str(i) for i in r.issues]  # exactly the documented formats
    got = sorted((d, t, str(f), "" if to is None else str(to)) for d, t, f, to in rows(
        wh, "SELECT developer_id, team_id, valid_from, valid_to FROM raw_org.current_memberships "
            "WHERE tree = 'reporting'"))
    truth = truth_frame(tiny_world, "memberships")
    want = sorted((m.dev_id, m.team_id, m.valid_from[:10], m.valid_to[:10] if isinstance(m.valid_to, str) else "")
                  for m in truth.itertuples())
    assert got == want and len(got) >= 15
    print(f"\nsimulator export: {len(got)} reporting memberships equal the truth")


def test_successive_undated_snapshots_rebuild_the_moves(tmp_path):
    """Undated membership files exported on two days, imported with those effective dates:
    each person's team on the second day is right, and each person who moved in between
    has the old team closed and the new one opened at the second import."""
    from simulator import generate
    from simulator.export import export_org
    from simulator.truth import truth_frame
    w = generate("small", seed=11)
    export_org(w, tmp_path / "org")
    truth = truth_frame(w, "memberships")
    d1, d2 = D(2026, 3, 2), D(2026, 7, 6)

    def snapshot_on(day: D) -> list[str]:
        s = day.isoformat()
        act = truth[(truth.valid_from.str[:10] <= s) & (truth.valid_to.isna() | (truth.valid_to.str[:10] > s))]
        return ["developer_id,tree,team_id"] + [f"{m.dev_id},reporting,{m.team_id}" for m in act.itertuples()]

    mem = tmp_path / "org" / "memberships.csv"
    wh = tmp_path / "sei.duckdb"
    for i, day in enumerate((d1, d2)):
        mem.write_text("\n".join(snapshot_on(day)) + "\n", encoding="utf-8")
        r = import_org(files(tmp_path / "org", trees=[tmp_path / "org" / "org_tree_reporting.csv"]),
                       warehouse=wh, effective_date=day if i else None)
        assert r.status == "accepted", [str(e) for e in r.errors]
    on1 = {tuple(x.split(",")[:3:2]) for x in snapshot_on(d1)[1:]}
    on2 = {tuple(x.split(",")[:3:2]) for x in snapshot_on(d2)[1:]}
    movers = {d for d, _ in on2 - on1} & {d for d, _ in on1 - on2}
    assert len(movers) >= 2
    con = connect(wh, read_only=True)
    try:
        now = memberships_at(con, d2)
        tl = con.execute("SELECT developer_id, team_id, valid_from, valid_to FROM raw_org.current_memberships").df()
    finally:
        con.close()
    assert {(m.developer_id, m.team_id) for m in now.itertuples()} == on2
    for dev in movers:
        mine = tl[tl.developer_id == dev]
        old = mine[mine.valid_to.notna()]
        new = mine[mine.valid_from.notna()]
        assert [pd.Timestamp(v).date() for v in old.valid_to] == [d2]
        assert [pd.Timestamp(v).date() for v in new.valid_from] == [d2]
    print(f"\n{len(movers)} people moved between {d1} and {d2}; each has two memberships split at {d2}")


def test_tree_from_manager_emails_follows_reporting_lines(tmp_path):
    from simulator import generate
    from simulator.export import export_org
    w = generate("small", seed=5)
    export_org(w, tmp_path / "org")
    r = import_org(files(tmp_path / "org", trees_from_managers=["managers"]), warehouse=tmp_path / "w.duckdb")
    assert r.status == "accepted", [str(e) for e in r.errors]
    devs = w["developers"]
    devs = devs[devs.start_at <= w.now]
    managers = set(devs.manager_dev_id.dropna())
    got = dict(rows(tmp_path / "w.duckdb", "SELECT developer_id, team_id FROM raw_org.current_memberships "
                                           "WHERE tree = 'managers'"))
    assert len(got) == len(devs)
    for d in devs.itertuples():
        want = f"M-{d.dev_id}" if d.dev_id in managers else f"M-{d.manager_dev_id}"
        assert got[d.dev_id] == want
    roots = rows(tmp_path / "w.duckdb", "SELECT team_id FROM raw_org.current_teams WHERE tree = 'managers' "
                                        "AND parent_team_id IS NULL")
    assert roots == [("M-D00001",)]


def test_tree_without_membership_rows_is_placed_by_manager_emails(org, tmp_path):
    mem = (org / "memberships.csv").read_text(encoding="utf-8").splitlines()
    (org / "memberships.csv").write_text("\n".join(x for x in mem if ",reporting," not in x) + "\n", encoding="utf-8")
    r = import_org(files(org), warehouse=tmp_path / "w.duckdb")
    assert r.status == "accepted"
    assert any("tree 'reporting' has no rows in the memberships file: 7 of 7 developers placed by manager emails"
               in str(w) for w in r.warnings)
    got = dict(rows(tmp_path / "w.duckdb", "SELECT developer_id, team_id FROM raw_org.current_memberships "
                                           "WHERE tree = 'reporting'"))
    assert got == {"E001": "ENG", "E002": "PAY", "E003": "PAY", "E004": "PAY", "E005": "SRCH", "E006": "SRCH",
                   "E007": "SRCH"}


def test_bom_is_accepted(org, tmp_path):
    p = org / "developers.csv"
    p.write_bytes(b"\xef\xbb\xbf" + p.read_bytes())
    r = import_org(files(org), warehouse=tmp_path / "w.duckdb")
    assert r.status == "accepted", [str(e) for e in r.errors]
    assert rows(tmp_path / "w.duckdb", "SELECT count(*) FROM raw_org.current_developers") == [(7,)]


def test_formula_cells_kept_as_text_when_allowed_and_escaped_on_export(org, tmp_path):
    edit(org / "org_tree_reporting.csv", "reporting,SRCH,Search,", "reporting,SRCH,=HYPERLINK(\"http://x\"),")
    wh = tmp_path / "w.duckdb"
    r = import_org(files(org), warehouse=wh, allow_formulas=True)
    assert r.status == "accepted"
    assert [str(w) for w in r.warnings] == [
        f"{org / 'org_tree_reporting.csv'}:4: team_name '=HYPERLINK(\"http://x\")' starts with '='; kept as text "
        "(--allow-formula-cells). Fix: none needed: exports prefix such cells with ' so spreadsheets never evaluate "
        "them."]
    name = rows(wh, "SELECT name FROM raw_org.current_teams WHERE team_id = 'SRCH'")[0][0]
    assert name == '=HYPERLINK("http://x")'
    out = write_safe_csv(tmp_path / "teams.csv", ["team_id", "name"], [("SRCH", name), ("-1", "+x"), ("@a", "ok")])
    assert out.read_text(encoding="utf-8").splitlines() == [
        "team_id,name", "SRCH,\"'=HYPERLINK(\"\"http://x\"\")\"", "'-1,'+x", "'@a,ok"]


def test_safe_csv_cell():
    assert [safe_csv_cell(v) for v in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx", "ok", "a=b", "", 5, None)] == [
        "'=1+1", "'+1", "'-2", "'@SUM(A1)", "'\tx", "'\rx", "ok", "a=b", "", 5, None]
    assert is_formula("=x") and not is_formula("x=")


def test_read_csv_keeps_physical_line_numbers_across_quoted_newlines(tmp_path):
    p = tmp_path / "org_tree_x.csv"
    p.write_text('team_id,team_name,parent_team_id\nA,"Two\nlines",\n\nB,Bee,A\n', encoding="utf-8")
    f = read_csv(p, "tree")
    assert [(line, r["team_id"]) for line, r in f.rows] == [(2, "A"), (5, "B")]


# --------------------------------------------------------------------------- rejected input, one test per case
def _tree(org):
    return org / "org_tree_reporting.csv"


CASES = {
    # name: (mutation, file, line, message fragment, fix fragment)
    "team_cycle": (lambda o: (edit(_tree(o), "reporting,ENG,Engineering,,", "reporting,ENG,Engineering,SRCH,")),
                   "org_tree_reporting.csv", 2, "cycle in tree 'reporting': parent chain ENG (line 2) -> SRCH (line 4) "
                   "-> ENG.", "a team cannot be its own ancestor"),
    "manager_cycle": (lambda o: edit(o / "developers.csv", "E001,Maria Rossi,maria.rossi@example.com,,",
                                     "E001,Maria Rossi,maria.rossi@example.com,lena.park@example.com,"),
                      "developers.csv", 2, "manager cycle: maria.rossi@example.com (line 2) -> lena.park@example.com "
                      "(line 6) -> maria.rossi@example.com.", "must report to a person outside it"),
    "duplicate_developer_id": (lambda o: append(o / "developers.csv", "E003,Ann Other,ann.other@example.com,,,,,,,,"),
                               "developers.csv", 9, "duplicate developer_id 'E003' (first on line 4).",
                               "keep one row per person"),
    "duplicate_email": (lambda o: append(o / "developers.csv", "E008,Ann Other,aiko@old-example.com,,,,,,,,"),
                        "developers.csv", 9, "email 'aiko@old-example.com' is also given for 'E003' (line 4).",
                        "an address belongs to one person"),
    "duplicate_team_id": (lambda o: append(_tree(o), "reporting,PAY,Payments 2,ENG,"), "org_tree_reporting.csv", 5,
                          "duplicate team_id 'PAY' in tree 'reporting' (first on line 3).", "give each team its own id"),
    "duplicate_account": (lambda o: edit(o / "developers.csv", "2024-02-05,,ohaddad,", "2024-02-05,,aiko-t,"),
                          "developers.csv", 7, "github account 'aiko-t' is also listed for 'E003' (line 4).",
                          "an account belongs to one person"),
    "unknown_parent": (lambda o: append(_tree(o), "reporting,MOB,Mobile,APPS,"), "org_tree_reporting.csv", 5,
                       "parent_team_id 'APPS' of team 'MOB' is not a team of tree 'reporting'.",
                       "add the parent team as a row of this tree"),
    "unknown_manager": (lambda o: edit(o / "developers.csv", "noah.smith@example.com,tom.becker@example.com",
                                       "noah.smith@example.com,ghost@example.com"),
                        "developers.csv", 5, "manager_email 'ghost@example.com' of 'E004' is not the email of any "
                        "developer in this file.", "add the manager as a row"),
    "unknown_team_manager": (lambda o: edit(_tree(o), "SRCH,Search,ENG,lena.park@example.com",
                                            "SRCH,Search,ENG,lena.p@example.com"),
                             "org_tree_reporting.csv", 4, "manager_email 'lena.p@example.com' of team 'SRCH' is not "
                             "the email of any developer.", "correct the address"),
    "more_than_one_root": (lambda o: append(_tree(o), "reporting,OPS,Operations,,"), "org_tree_reporting.csv", 5,
                           "tree 'reporting' has 2 root teams (no parent_team_id): ENG (line 2), OPS (line 5).",
                           "a tree has one top team"),
    "managers_tree_two_tops": (lambda o: edit(o / "developers.csv", "lena.park@example.com,maria.rossi@example.com",
                                              "lena.park@example.com,"),
                               "developers.csv", 6, "tree 'managers' from manager emails has 2 tops: "
                               "maria.rossi@example.com (line 2), lena.park@example.com (line 6)",
                               "so there is one top"),
    "empty_full_name": (lambda o: edit(o / "developers.csv", "E004,Noah Smith,", "E004,,"), "developers.csv", 5,
                        "full_name is empty for 'E004'.", "give the person's name"),
    "empty_team_name": (lambda o: edit(_tree(o), "reporting,PAY,Payments,", "reporting,PAY,,"),
                        "org_tree_reporting.csv", 3, "team_name of 'PAY' is empty.", "give the team a name"),
    "manages_themselves": (lambda o: edit(o / "developers.csv", "tom.becker@example.com,maria.rossi@example.com",
                                          "tom.becker@example.com,tom.becker@example.com"),
                           "developers.csv", 3, "'E002' is given as their own manager (tom.becker@example.com).",
                           "give the person's manager's email"),
    "invalid_start_date": (lambda o: edit(o / "developers.csv", "2023-06-12", "2023-02-30"), "developers.csv", 5,
                           "start_date '2023-02-30' is not a valid date.", "write dates as YYYY-MM-DD"),
    "invalid_valid_from": (lambda o: edit(o / "memberships.csv", "E006,reporting,PAY,2025-03-01,",
                                          "E006,reporting,PAY,01/03/2025,"),
                           "memberships.csv", 9, "valid_from '01/03/2025' is not a valid date.",
                           "write dates as YYYY-MM-DD"),
    "valid_to_before_valid_from": (lambda o: edit(o / "memberships.csv", "2022-11-14,2025-08-29",
                                                  "2025-08-29,2022-11-14"),
                                   "memberships.csv", 10, "valid_to 2022-11-14 is not after valid_from 2025-08-29.",
                                   "valid_to is the first day the person is no longer in the team"),
    "end_before_start": (lambda o: edit(o / "developers.csv", "2022-11-14,2025-08-29", "2022-11-14,2021-08-29"),
                         "developers.csv", 8, "end_date 2021-08-29 is before start_date 2022-11-14.",
                         "swap the dates"),
    "overlapping_membership": (lambda o: append(o / "memberships.csv", "E004,reporting,SRCH,2025-06-01,"),
                               "memberships.csv", 18, "'E004' is in team 'SRCH' of tree 'reporting' twice over the "
                               "same days (also line 6).", "remove the repeated row"),
    "unknown_member": (lambda o: append(o / "memberships.csv", "E999,reporting,PAY,,"), "memberships.csv", 18,
                       "developer_id 'E999' is not in", "list the person in the developers file"),
    "unknown_member_team": (lambda o: append(o / "memberships.csv", "E001,reporting,HR,,"), "memberships.csv", 18,
                            "team_id 'HR' is not a team of tree 'reporting'.", "add the team to the tree file"),
    "unknown_service_team": (lambda o: append(o / "services.csv", "ledger,LEDGER,,,example/ledger,"),
                             "services.csv", 4, "owning_team_id 'LEDGER' of service 'ledger' is not a team of any "
                             "imported tree.", "correct the team id"),
    "unknown_override_developer": (lambda o: append(o / "identity_overrides.csv", "github,someone,E404,"),
                                   "identity_overrides.csv", 6, "developer_id 'E404' is not in",
                                   "use 'bot' / 'none'"),
    "missing_column": (lambda o: (o / "memberships.csv").write_text("developer_id,team_id\nE001,ENG\n", encoding="utf-8"),
                       "memberships.csv", 1, "header lacks the column(s) tree", "use the header `developer_id,tree,"
                       "team_id,valid_from,valid_to`"),
    "too_many_cells": (lambda o: append(o / "services.csv", "ledger,PAY,,ledger,example/a, example/b,x,y"),
                       "services.csv", 4, "has 8 cells but the header has 6.", "quote cells that contain commas"),
    "not_utf8": (lambda o: (o / "developers.csv").write_bytes((o / "developers.csv").read_text(encoding="utf-8")
                                                              .encode("latin-1")),
                 "developers.csv", 8, "is not valid UTF-8: byte 0xF3 at column 13", "save the file as UTF-8"),
    "utf16": (lambda o: (o / "developers.csv").write_bytes((o / "developers.csv").read_text(encoding="utf-8")
                                                           .encode("utf-16")),
              "developers.csv", 1, "is UTF-16 encoded, not UTF-8.", "save it as UTF-8"),
    "formula_cell": (lambda o: edit(o / "developers.csv", "E004,Noah Smith,", "E004,=cmd|' /C calc'!A0,"),
                     "developers.csv", 5, "full_name \"=cmd|' /C calc'!A0\" starts with '=', which a spreadsheet "
                     "runs as a formula (CSV injection).", "--allow-formula-cells"),
    "formula_in_multi_value": (lambda o: edit(o / "developers.csv", "aiko@old-example.com", "aiko@old-example.com;@x"),
                               "developers.csv", 4, "emails value '@x' starts with '@', which a spreadsheet runs as a "
                               "formula (CSV injection).", "--allow-formula-cells"),
    "file_too_big": (None, "services.csv", None, "over the 0.0001 MB limit for an org file.", "--max-file-mb"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_and_the_previous_import_stays(case, org, tmp_path):
    mutate, fname, line, message, fix = CASES[case]
    wh = tmp_path / "sei.duckdb"
    extra = {"trees_from_managers": ["managers"]} if case == "managers_tree_two_tops" else {}
    assert import_org(files(org), warehouse=wh).status == "accepted"
    before = state(wh)
    kw = {}
    if mutate is None:
        big = org / "services.csv"
        kw["max_file_mb"] = 0.0001
        assert big.stat().st_size > 0.0001 * 2**20
    else:
        mutate(org)
    r = import_org(files(org, **extra), warehouse=wh, **kw)
    assert r.status == "rejected"
    where = f"{org / fname}:{line}" if line else str(org / fname)
    msgs = [str(e) for e in r.errors]
    hit = [m for m in msgs if m.startswith(where + ": ") and message in m and fix in m.split(" Fix: ")[1]]
    assert hit, f"no error at {where} with {message!r} / {fix!r} in:\n" + "\n".join(msgs)
    print(f"\n{case}: {hit[0]}")
    # nothing changed: same current import, same rows; only an imports row with the message
    assert state(wh) == before
    rej = rows(wh, "SELECT import_id, status, message FROM raw_org.imports ORDER BY import_id")
    assert [(i, s) for i, s, _ in rej] == [(1, "accepted"), (2, "rejected")]
    assert hit[0] in rej[1][2]
    for t in SNAPSHOT_TABLES:
        assert rows(wh, f"SELECT count(*) FROM raw_org.{t} WHERE import_id = 2") == [(0,)]


def test_many_errors_are_all_reported_at_once(org, tmp_path):
    append(org / "developers.csv", "E003,,bad-email,,,,2020-13-01,,,,")
    append(_tree(org), "reporting,OPS,Operations,NOPE,")
    o = load_org(files(org))
    where = sorted({(Path(i.file).name, i.line) for i in o.errors})
    assert where == [("developers.csv", 9), ("org_tree_reporting.csv", 5)]
    assert len(o.errors) == 5  # duplicate id, empty name, bad email, bad date, unknown parent


def test_validate_writes_nothing(org, tmp_path):
    wh = tmp_path / "sei.duckdb"
    r = import_org(files(org), warehouse=wh, dry_run=True)
    assert r.status == "valid" and r.import_id is None and not wh.exists()
    import_org(files(org), warehouse=wh)
    before = state(wh)
    edit(org / "memberships.csv", "E003,reporting,PAY,,", "E003,reporting,SRCH,,")
    r = import_org(files(org), warehouse=wh, dry_run=True, effective_date=D(2026, 3, 1))
    assert r.status == "valid" and r.changes["moves"] == 1
    assert state(wh) == before
    assert rows(wh, "SELECT count(*) FROM raw_org.imports") == [(1,)]


# --------------------------------------------------------------------------- the command line
def run(*args, env=None):
    import os
    e = dict(os.environ, **(env or {}))
    return subprocess.run([*SEI, "org", *args], capture_output=True, text=True, env=e, cwd=ROOT)


@pytest.mark.parametrize("cmd", [[], ["import"], ["validate"], ["show"], ["identities"], ["history"]])
def test_every_org_command_has_help(cmd):
    r = run(*cmd, "--help")
    assert r.returncode == 0, r.stderr
    assert "Usage" in r.stdout


def test_docs_describe_every_option():
    from typer.main import get_command

    from ingestion.org.cli import org_app
    doc = (ROOT / "docs" / "org-files.md").read_text(encoding="utf-8")
    group = get_command(org_app)
    missing = []
    for name, cmd in group.commands.items():
        assert f"sei org {name}" in doc, name
        for p in cmd.params:
            for opt in p.opts + p.secondary_opts:
                if opt.startswith("--") and opt != "--help" and f"`{opt}" not in doc:
                    missing.append(f"{name} {opt}")
    assert not missing, missing


def test_cli_import_reject_show_history(org, tmp_path):
    env = {"SEI_WAREHOUSE": str(tmp_path / "sei.duckdb")}
    r = run("import", "--developers", str(org / "developers.csv"), "--tree", str(org / "org_tree_reporting.csv"),
            "--tree", str(org / "org_tree_business_units.csv"), "--memberships", str(org / "memberships.csv"),
            "--services", str(org / "services.csv"), "--overrides", str(org / "identity_overrides.csv"), env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("import #1 accepted in ")
    append(_tree(org), "reporting,OPS,Operations,,")
    r = run("import", "--dir", str(org), "--effective-date", "2026-03-01", env=env)
    assert r.returncode == 1
    assert f"error: {org / 'org_tree_reporting.csv'}:5: tree 'reporting' has 2 root teams" in r.stderr
    assert "import #2 rejected: 1 error(s); nothing changed, the current org stays in force." in r.stdout
    r = run("validate", "--dir", str(org), env=env)
    assert r.returncode == 1 and "invalid: 1 error(s)" in r.stdout
    r = run("import", "--dir", str(org), "--effective-date", "03/01/2026", env=env)
    assert r.returncode == 2 and "not a date" in r.stderr
    r = run("show", "--tree", "reporting", "--members", "--as-of", "2025-06-01", env=env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[:4] == [
        "reporting (file; import #1, effective start of history; 3 teams, 7 people on 2025-06-01)",
        "Engineering [ENG]  manager maria.rossi@example.com  1 member (7 with sub-teams)",
        "│   · Maria Rossi (E001)",
        "├── Payments [PAY]  manager tom.becker@example.com  3 members"]
    r = run("show", "--tree", "nope", env=env)
    assert r.returncode == 1 and "no tree 'nope' in import #1 (trees: business_units, reporting)" in r.stderr
    r = run("history", env=env)
    lines = r.stdout.splitlines()
    assert lines[0].startswith("*#1") and "accepted" in lines[0]
    assert lines[1].startswith(" #2") and "rejected" in lines[1]
