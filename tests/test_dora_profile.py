"""The efficiency profile: the shipped file validates, its tables equal the defaults the dbt
models fall back to, and bad files are refused with the file, the line and the fix."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.profiles.base import ProfileError, ProfileErrors, load_all, load_yaml
from core.profiles.efficiency import glob_to_like, validate

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "profiles" / "efficiency.yml"


def tables(directory: Path | None = None) -> dict:
    return next(p for p in load_all(directory, only="efficiency")).tables


def test_shipped_profile_equals_the_dbt_fallback_defaults():
    t = tables()
    scope = t["efficiency_scopes"].iloc[0]
    macro = (ROOT / "dbt_project" / "macros" / "dora" / "efficiency_defaults.sql").read_text()
    pairs = set(re.findall(r"\('(\w+)', '([^']*)'\)", macro))
    assert pairs == set(zip(t["efficiency_values"].list_name, t["efficiency_values"].value))
    assert f"'incident_window_hours': {scope.incident_window_hours}" in macro
    assert f"'lead_time_start': '{scope.lead_time_start}'" in macro
    assert "'use_tool_production_flag': true" in macro and bool(scope.use_tool_production_flag)
    assert "'count_rollbacks': true" in macro and bool(scope.count_rollbacks)


def test_projects_and_team_subtrees_replace_sections(tmp_path):
    text = SHIPPED.read_text().replace("projects: {}", "projects:\n  prj-a:\n    failures: {incident_window_hours: 6}\n"
                                       "    lead_time: {start: pr_opened}")
    text = text.replace("trees: {}", "trees:\n  reporting:\n    T004:\n      bots: ['ci-*']")
    (tmp_path / "efficiency.yml").write_text(text)
    t = tables(tmp_path)
    s = t["efficiency_scopes"].set_index("scope_key")
    assert list(s.index) == ["default", "project:prj-a", "team:reporting/T004"]
    assert s.loc["project:prj-a"].incident_window_hours == 6.0
    assert s.loc["project:prj-a"].lead_time_start == "pr_opened"
    # a one-key override keeps the section's other keys from the defaults
    v = t["efficiency_values"]
    assert set(v[(v.scope_key == "project:prj-a") & (v.list_name == "failed_status")].value) == \
        set(v[(v.scope_key == "default") & (v.list_name == "failed_status")].value)
    assert set(v[(v.scope_key == "team:reporting/T004") & (v.list_name == "bot")].value) == {"ci-%"}
    assert s.loc["team:reporting/T004"].incident_window_hours == 24.0


@pytest.mark.parametrize("old,new,line_of,message", [
    ("incident_window_hours: 24", "incident_window_hours: -3", "incident_window_hours", "number of hours above 0"),
    ("start: first_commit", "start: first_review", "start: first_review", "unknown lead-time start 'first_review'"),
    ("sources: [harness, github, events]", "sources: [harness, jenkins]", "sources:", "unknown deployment source"),
    ("rollbacks: true", "rollbacks: yes please", "rollbacks:", "rollbacks must be true or false"),
    ("  incidents:", "  incident:", "  incident:", "unknown key 'incident'"),
])
def test_bad_profiles_name_the_file_line_and_fix(tmp_path, old, new, line_of, message):
    text = SHIPPED.read_text().replace(old, new)
    path = tmp_path / "efficiency.yml"
    path.write_text(text)
    line = next(i for i, l in enumerate(text.splitlines(), 1) if line_of in l and not l.lstrip().startswith("#"))
    data, lines = load_yaml(path)
    with pytest.raises((ProfileError, ProfileErrors)) as e:
        validate(data, lines, path)
    errs = e.value.errors if isinstance(e.value, ProfileErrors) else [e.value]
    hit = [x for x in errs if message in x.message]
    assert hit, [str(x) for x in errs]
    assert hit[0].line == line and hit[0].path == str(path) and hit[0].fix
    assert str(hit[0]).startswith(f"{path}:{line}: ")


def test_glob_patterns_become_like_patterns():
    assert glob_to_like("hotfix/*") == "hotfix/%"
    assert glob_to_like("*[bot]") == "%[bot]"
    assert glob_to_like("release_?.x") == "release\\_\\_.x".replace("\\_\\_", "\\__")
    assert glob_to_like("100%") == "100\\%"
