"""docs/metrics.md states the rules the code applies: the name-pattern examples it gives are
checked against the profile's pattern conversion and the models' `like ... escape` match on
DuckDB; the hotfix and unknown-commit rows say what the sequencing does (dbt unit tests
deployment_sequence_baseline_redeploy_rollback_failure and
change_set_squash_and_merge_commits_baseline_ships_nothing pin that behaviour)."""
import fnmatch
import re
from pathlib import Path

import duckdb

from core.profiles.efficiency import glob_to_like

DOC = (Path(__file__).resolve().parent.parent / "docs" / "metrics.md").read_text(encoding="utf-8")


def _row(rule: str) -> str:
    return next(ln for ln in DOC.splitlines() if ln.startswith(f"| {rule} |"))


def _matches(login: str, pattern: str) -> bool:
    con = duckdb.connect()
    try:  # as fct_changes matches a PR author against the profile's bots
        return con.execute("select lower(?) like ? escape '\\'", [login, glob_to_like(pattern)]).fetchone()[0]
    finally:
        con.close()


def test_documented_name_pattern_examples_hold():
    examples = re.findall(r"`([^`]+)` matches `([^`]+)`, not `([^`]+)`", _row("name patterns (`bots`, "
                                                                                "`release_branches`, `hotfix_branches`)"))
    assert ("*[bot]", "dependabot[bot]", "dependabot") in examples, examples
    for pattern, yes, no in examples:
        assert _matches(yes, pattern), (pattern, yes)
        assert not _matches(no, pattern), (pattern, no)
    # and why the docs warn: a shell glob reads `[bot]` as one letter of b, o, t
    assert fnmatch.fnmatchcase("dependabot", "*[bot]") and not _matches("dependabot", "*[bot]")
    assert _matches("Renovate[BOT]", "*[bot]")  # case-insensitive


def test_hotfix_and_unknown_commit_rules_are_stated():
    hotfix = _row("hotfix")
    assert "made the replaced version live" in hotfix and "re-deploys of that version in between are skipped" in hotfix
    unknown = _row("unknown commit")
    for said in ("ships nothing", "does not move the live commit", "next successful production deployment with a "
                 "known commit", "overstated", "later one"):
        assert said in unknown, said
