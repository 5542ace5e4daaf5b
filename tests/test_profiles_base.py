"""The shared profile machinery: YAML with line numbers, errors naming file/line/fix, and
apply_profiles writing every kind's tables in one transaction (an invalid profile changes
nothing)."""
from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from core.profiles import base


def test_load_yaml_keeps_the_line_of_every_key(tmp_path):
    p = tmp_path / "x.yml"
    p.write_text("# comment\nname: demo\nrules:\n  - label: a\n    hours: 3\n  - label: b\n")
    data, lines = base.load_yaml(p)
    assert data == {"name": "demo", "rules": [{"label": "a", "hours": 3}, {"label": "b"}]}
    assert (lines["name"], lines["rules"], lines["rules.0.hours"], lines["rules.1.label"]) == (2, 3, 5, 6)
    assert lines.at("rules.1.missing") == 6


@pytest.mark.parametrize("raw, line, words", [
    (b"a: 1\nb: [unclosed\nc: 2\n", 3, "not valid YAML"),
    (b"a: 1\nb: caf\xe9\n", 2, "not UTF-8"),
])
def test_bad_files_name_the_line(tmp_path, raw, line, words):
    p = tmp_path / "bad.yml"
    p.write_bytes(raw)
    with pytest.raises(base.ProfileError) as e:
        base.load_yaml(p)
    assert e.value.line == line and words in str(e.value) and str(e.value).startswith(f"{p}:{line}: ")
    assert "Fix:" in str(e.value)


@pytest.fixture
def toy_kind():
    def to_tables(profile):
        return {"toy_rules": pd.DataFrame({"label": [r["label"] for r in profile["rules"]],
                                           "hours": [float(r["hours"]) for r in profile["rules"]]})}

    @base.register_profile("toy", "toy.yml", to_tables=to_tables)
    def validate(data, lines, path):
        errors = []
        for i, r in enumerate(data.get("rules", [])):
            base.require(isinstance(r.get("hours"), (int, float)) and r["hours"] > 0, errors, path, lines,
                         f"rules.{i}.hours", "hours must be a positive number", "write e.g. `hours: 24`")
        if errors:
            raise base.ProfileErrors(errors)
        return data
    yield
    base.REGISTRY.pop("toy")


def test_apply_is_all_or_nothing(tmp_path, toy_kind, monkeypatch):
    monkeypatch.setattr(base, "KIND_MODULES", ())        # only the toy kind
    monkeypatch.setattr(base, "REGISTRY", {"toy": base.REGISTRY["toy"]})
    db, d = tmp_path / "w.duckdb", tmp_path / "profiles"
    d.mkdir()
    (d / "toy.yml").write_text("rules:\n  - label: a\n    hours: 24\n")
    base.apply_profiles(db, d)
    (d / "toy.yml").write_text("rules:\n  - label: a\n    hours: 12\n  - label: b\n    hours: -1\n")
    with pytest.raises(base.ProfileErrors) as e:
        base.apply_profiles(db, d)
    assert [(err.line, err.message) for err in e.value.errors] == [(5, "hours must be a positive number")]
    con = duckdb.connect(str(db), read_only=True)
    assert con.execute("select label, hours from raw_config.toy_rules").fetchall() == [("a", 24.0)]
    assert con.execute("select count(*) from raw_config.profile_versions").fetchone()[0] == 1
    con.close()
