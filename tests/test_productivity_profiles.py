"""The productivity, alignment and goals profiles: the shipped files are valid and become
the tables dbt reads; every kind of mistake is refused with file, line and fix."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from core.profiles import alignment, base, goals, productivity

SHIPPED = Path(__file__).resolve().parent.parent / "profiles"


def load(module, tmp_path, text):
    p = tmp_path / "p.yml"
    p.write_text(textwrap.dedent(text))
    data, lines = base.load_yaml(p)
    return p, module.validate(data, lines, p)


def refused(module, tmp_path, text) -> list[base.ProfileError]:
    with pytest.raises(base.ProfileErrors) as e:
        load(module, tmp_path, text)
    for err in e.value.errors:
        assert str(err).startswith(f"{tmp_path / 'p.yml'}:{err.line}: ") and "Fix: " in str(err)
    return e.value.errors


def test_shipped_profiles_are_valid_and_become_tables():
    by_kind = {x.kind: x for x in base.load_all(SHIPPED)}
    t = by_kind["productivity"].tables
    b = t["productivity_pr_size_buckets"]
    assert list(b.bucket_name) == ["XS", "S", "M", "L", "XL"]
    assert list(b.min_lines) == [0, 10, 100, 400, 1000] and b.max_lines.isna().tolist() == [False] * 4 + [True]
    assert dict(zip(t["productivity_status_categories"].status_name, t["productivity_status_categories"].category))[
        "in review"] == "in_progress"
    assert t["productivity_sprint_settings"].grace_period_hours.tolist() == [24.0]
    assert t["privacy_settings"].per_person_metrics.tolist() == [True]
    a = by_kind["alignment"].tables
    assert a["alignment_categories"].category.tolist() == ["Security", "Keeping the Lights On", "Quality",
                                                           "New Capability"]
    assert a["alignment_settings"].effort.tolist() == ["story_points"]
    g = by_kind["goals"].tables["goals"]
    assert len(g) >= 5 and set(g.metric) <= set(goals.METRICS)


def test_productivity_project_override_and_privacy(tmp_path):
    _, prof = load(productivity, tmp_path, """
        defaults:
          pr_size_buckets: [{name: small, max_lines: 50}, {name: big}]
          status_categories: {Doing: in_progress, Shipped: done}
          sprints: {grace_period_hours: 12, predictability_sprints: 4}
        projects:
          prj-a:
            sprints: {grace_period_hours: 0}
        privacy: {per_person_metrics: false, hidden_developers: [dev-2, dev-1], retention_months: 24}
    """)
    t = productivity._to_tables(prof)
    s = t["productivity_sprint_settings"]
    assert s.project_id.isna().tolist() == [True, False] and s.grace_period_hours.tolist() == [12.0, 0.0]
    assert t["productivity_status_categories"].status_name.tolist() == ["doing", "shipped"]
    assert t["privacy_hidden_developers"].developer_id.tolist() == ["dev-1", "dev-2"]
    assert t["privacy_settings"].retention_months.tolist() == [24]


@pytest.mark.parametrize("text, line, words", [
    ("defaults:\n  pr_size_buckets: [{name: a, max_lines: 50}, {name: b, max_lines: 40}, {name: c}]\n"
     "  status_categories: {Done: done}\n  sprints: {}\n", 2, "above the previous bucket"),
    ("defaults:\n  pr_size_buckets: [{name: a, max_lines: 50}, {name: b, max_lines: 90}]\n"
     "  status_categories: {Done: done}\n  sprints: {}\n", 2, "open-ended"),
    ("defaults:\n  pr_size_buckets: [{name: a, max_lines: 5}, {name: b}]\n  status_categories:\n"
     "    Done: finished\n  sprints: {}\n", 4, "unknown category 'finished'"),
    ("defaults:\n  pr_size_buckets: [{name: a, max_lines: 5}, {name: b}]\n  status_categories: {Done: done}\n"
     "  sprints:\n    grace_period_hours: -3\n", 5, "grace_period_hours"),
    ("defaults:\n  pr_size_buckets: [{name: a, max_lines: 5}, {name: b}]\n  status_categories: {Done: done}\n"
     "  sprints: {}\nprivacy:\n  retention_months: 0\n", 6, "retention_months"),
    ("defaults:\n  pr_size_buckets: [{name: a, max_lines: 5}, {name: b}]\n  status_categories: {Done: done}\n"
     "  sprint: {}\n", 4, "unknown key 'sprint'"),
])
def test_productivity_mistakes_are_refused(tmp_path, text, line, words):
    errs = refused(productivity, tmp_path, text)
    assert any(e.line == line and words in e.message for e in errs), [str(e) for e in errs]


def test_alignment_rules_and_mistakes(tmp_path):
    _, prof = load(alignment, tmp_path, """
        effort: time_in_progress
        categories:
          - name: Security
            match: [{labels: [Security], projects: [prj-a]}]
          - name: KTLO
            match: [{issue_types: Incident}]
        projects:
          prj-b: {effort: issue_count}
    """)
    t = alignment._to_tables(prof)
    r = t["alignment_category_rules"]
    assert sorted(zip(r.category, r.rule_index, r.criterion, r.value)) == [
        ("KTLO", 0, "issue_type", "incident"), ("Security", 0, "label", "security"), ("Security", 0, "project", "prj-a")]
    assert t["alignment_settings"].effort.tolist() == ["time_in_progress", "issue_count"]
    errs = refused(alignment, tmp_path, """
        effort: hours
        categories:
          - name: A
            match: [{labels: [x]}]
          - name: a
            match: [{label: [x]}]
          - name: B
    """)
    got = {(e.line, e.message.split(" ")[0]) for e in errs}
    assert (2, "unknown") in got                                              # effort
    assert any(e.line == 6 and "listed twice" in e.message for e in errs)     # A / a
    assert any(e.line == 7 and "unknown key 'label'" in e.message for e in errs)
    assert any(e.line == 8 and "needs a non-empty match" in e.message for e in errs)


def test_goals_mistakes_are_refused(tmp_path):
    _, ok = load(goals, tmp_path, """
        goals:
          - {id: g1, team: T002, metric: merged_prs, direction: higher_is_better, target: 8, warning: 5, critical: 2}
    """)
    assert ok[0]["tree"] == "reporting" and ok[0]["period"] == "month" and ok[0]["include_subteams"] is False
    errs = refused(goals, tmp_path, """
        goals:
          - id: g1
            team: T002
            metric: cycle_time
            direction: lower_is_better
            target: 24
            warning: 48
            critical: 96
          - id: g1
            team: T003
            metric: merged_prs
            direction: lower_is_better
            target: 10
            warning: 5
            critical: 1
          - id: g3
            team: T003
            metric: merged_prs
            period: quarter
            direction: up
            target: ten
            warning: 5
            critical: 1
    """)
    msgs = {(e.line, e.message) for e in errs}
    assert any(l == 5 and "unknown metric 'cycle_time'" in m for l, m in msgs)
    assert any(l == 10 and "used twice" in m for l, m in msgs)
    assert any(l == 15 and "out of order" in m for l, m in msgs)
    assert any(l == 20 and "unknown period" in m for l, m in msgs)
    assert any(l == 21 and "direction" in m for l, m in msgs)
    assert any(l == 22 and "target must be a number" in m for l, m in msgs)
