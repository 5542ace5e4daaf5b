"""Event files (docs/events.md) end to end: files written by simulator/export_events.py
(Jenkins deployments as CSV, PagerDuty incidents as JSON) loaded by `pipeline.run(["events"])`
into a real DuckDB and compared with the simulator's truth tables; bad files refused with
their file, line and fix while the other files load."""
from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pandas as pd
import pytest

from ingestion import config as cfgmod
from ingestion.events import (EventsFileError, FileEntry, derive_environment_type, parse_file, parse_timestamp)
from simulator import generate
from simulator.export_events import export_events, jenkins_deployment_id, pagerduty_incident_id
from simulator.truth import truth_frame

from helpers import environ

pytestmark = pytest.mark.xdist_group("ingest_events")
ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc


# --------------------------------------------------------------------------- helpers
def write_sources(tmp: Path, paths: list[str], extra: str = "") -> Path:
    items = "\n".join(f"            - {p}" for p in paths)
    src = tmp / "sources.yml"
    src.write_text(f"""
account: acme
{extra}
organisations:
  - id: org-payments
    projects:
      - id: prj-payments
        events:
          paths:
{items}
""")
    return src


def run(tmp: Path, src: Path | None = None, full_refresh: bool = False):
    from ingestion import pipeline
    with environ(SEI_WAREHOUSE=str(tmp / "sei.duckdb"), SEI_SOURCES=str(src or tmp / "sources.yml")):
        return pipeline.run(["events"], full_refresh=full_refresh, progress=False)


def query(tmp: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(tmp / "sei.duckdb"), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def table(tmp: Path, name: str) -> pd.DataFrame:
    return query(tmp, f"SELECT * FROM raw_events.{name}")


def resource(result, name: str):
    return next(r for r in result.source("events").resources if r.resource == name)


def iso(v) -> str | None:
    return None if pd.isna(v) else pd.Timestamp(v).tz_convert("UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def expected_deployments(w) -> pd.DataFrame:
    t = truth_frame(w, "deployments")
    t = t[t.tool == "jenkins"].copy()
    svc = truth_frame(w, "services").set_index("service_id")
    t["id"] = [jenkins_deployment_id(svc["name"][s], b) for s, b in zip(t.service_id, t.build_number)]
    return t.set_index("id")


def expected_incidents(w) -> pd.DataFrame:
    t = truth_frame(w, "incidents")
    svc = truth_frame(w, "services").set_index("service_id")
    t = t[t.service_id.map(svc.incident_tool) == "pagerduty"].copy()
    t["id"] = [pagerduty_incident_id(i) for i in t.incident_id]
    return t.set_index("id")


def check_deployments(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.set_index("deployment_id")
    assert len(got) == len(want) and set(got.index) == set(want.index)
    g = got.loc[want.index]
    assert list(g.status) == list(want.status)
    assert [iso(v) for v in g.started_at] == list(want.started_at)
    assert [iso(v) for v in g.finished_at] == [None if pd.isna(v) else v for v in want.finished_at]
    assert list(g.commit_sha) == list(want.sha)
    assert list(g.environment) == list(want.environment)
    assert list(g.is_production) == [e == "production" for e in want.environment]
    assert list(g.is_rollback) == [bool(x) for x in want.is_rollback]
    assert set(g.source_tool) == {"jenkins"} and set(g.project_id) == {"prj-payments"}
    assert set(g.organisation_id) == {"org-payments"} and set(g.account_id) == {"acme"}


def check_incidents(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.set_index("incident_id")
    assert len(got) == len(want) and set(got.index) == set(want.index)
    g = got.loc[want.index]
    assert [iso(v) for v in g.opened_at] == list(want.opened_at)
    assert [iso(v) for v in g.resolved_at] == [None if pd.isna(v) else v for v in want.resolved_at]
    assert list(g.severity) == list(want.severity)
    assert list(g.status) == ["open" if pd.isna(v) else "resolved" for v in want.resolved_at]
    assert set(g.source_tool) == {"pagerduty"} and set(g.project_id) == {"prj-payments"}


@pytest.fixture(scope="module")
def world():
    return generate("tiny", seed=7)


@pytest.fixture()
def exported(world, tmp_path):
    files = export_events(world, tmp_path / "exports")
    return {f["kind"]: f["path"] for f in files}


# --------------------------------------------------------------------------- the simulator's files
def test_simulator_files_load_exactly_the_truth(world, exported, tmp_path):
    r = run(tmp_path, write_sources(tmp_path, ["exports/"]))
    assert r.ok, r.source("events").error_message
    check_deployments(table(tmp_path, "deployments"), expected_deployments(world))
    check_incidents(table(tmp_path, "incidents"), expected_incidents(world))
    assert resource(r, "deployments").rows == len(expected_deployments(world))
    # Jenkins wrote local times with their offsets (+01:00 in winter, +02:00 in summer)
    text = exported["deployments"].read_text()
    assert "+01:00," in text and "+02:00," in text
    # again: the same files add nothing
    r = run(tmp_path)
    assert r.ok and resource(r, "deployments").rows == 0 and resource(r, "incidents").rows == 0
    assert len(table(tmp_path, "deployments")) == len(expected_deployments(world))
    ops = query(tmp_path, "SELECT * FROM ops.ingest_resources WHERE source = 'events'")
    assert set(ops.resource) == {"deployments", "incidents"} and ops.cursor_value.notna().all()


def test_a_re_export_updates_rows_without_duplicates(tmp_path):
    w = generate("tiny", seed=7)
    # stop inside a Jenkins deployment so the first export has it in progress
    d = w["deployments"]
    d = d[(d.tool == "jenkins") & (d.started_at > w.now)].sort_values("started_at").iloc[0]
    w.advance((int(d.started_at) - w.now + 30) / 3600)
    export_events(w, tmp_path / "exports")
    src = write_sources(tmp_path, ["exports/*.csv", "exports/*.json"])
    assert run(tmp_path, src).ok
    dep_id = expected_deployments(w).index[expected_deployments(w).deployment_id == d.deployment_id][0]
    got = table(tmp_path, "deployments").set_index("deployment_id")
    assert got.status[dep_id] == "in_progress" and pd.isna(got.finished_at[dep_id])
    w.advance(72)
    export_events(w, tmp_path / "exports")
    r = run(tmp_path, src)
    assert r.ok
    want = expected_deployments(w)
    new = len(want) - len(got)
    assert new > 0 and resource(r, "deployments").rows == len(want)  # the changed file, re-read whole
    check_deployments(table(tmp_path, "deployments"), want)
    check_incidents(table(tmp_path, "incidents"), expected_incidents(w))
    assert table(tmp_path, "deployments").set_index("deployment_id").status[dep_id] == want.status[dep_id]


# --------------------------------------------------------------------------- bad input
def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def _set_cell(line: str, col: int, value: str) -> str:
    cells = line.rstrip("\n").split(",")
    cells[col] = value
    return ",".join(cells) + "\n"


def _bad_timestamp(lines):
    lines[4] = _set_cell(lines[4], 5, "yesterday 10:00")
    return "".join(lines).encode(), 5, ["started_at", "'yesterday 10:00' is not a timestamp", "ISO 8601"]


def _missing_column(lines):
    out = []
    for ln in lines:
        cells = ln.rstrip("\n").split(",")
        del cells[4]
        out.append(",".join(cells) + "\n")
    return "".join(out).encode(), 1, ["missing required column 'status'", "add a status column"]


def _unknown_status(lines):
    lines[2] = _set_cell(lines[2], 4, "green")
    return "".join(lines).encode(), 3, ["unknown status 'green'", "success, failure, in_progress, cancelled"]


def _duplicate_id(lines):
    first = lines[1].split(",")[0]
    lines[6] = _set_cell(lines[6], 0, first)
    return "".join(lines).encode(), 7, [f"{first!r}", "appears twice, first on line 2", "keep one row"]


def _not_utf8(lines):
    data = "".join(lines).encode()
    at = data.index(b"\n", data.index(b"\n", data.index(b"\n") + 1) + 1) + 5  # line 4, column 5
    return data[:at] + b"\xe9" + data[at + 1:], 4, ["not UTF-8", "byte 0xE9", "save the file as UTF-8"]


def _finished_before_started(lines):
    cells = lines[3].rstrip("\n").split(",")
    cells[5], cells[6] = cells[6], cells[5]
    lines[3] = ",".join(cells) + "\n"
    return "".join(lines).encode(), 4, ["is before started_at", "offsets"]


@pytest.mark.parametrize("make", [_bad_timestamp, _missing_column, _unknown_status, _duplicate_id, _not_utf8,
                                  _finished_before_started])
def test_a_bad_file_is_refused_with_its_line_and_fix_and_the_others_load(world, exported, tmp_path, make):
    lines = _lines(exported["deployments"])
    head, rows = lines[0], lines[1:]
    half = len(rows) // 2
    good, bad = tmp_path / "exports" / "a_good.csv", tmp_path / "exports" / "b_bad.csv"
    good.write_text(head + "".join(rows[:half]), encoding="utf-8")
    data, line, words = make([head] + rows[half:])
    bad.write_bytes(data)
    exported["deployments"].unlink()
    r = run(tmp_path, write_sources(tmp_path, ["exports/"]))
    res = r.source("events")
    assert res.status == "partial"
    msg = resource(r, "deployments").error_message
    assert f"{bad}:{line}:" in msg and "Fix:" in msg, msg
    for w in words:
        assert w in msg, msg
    got = table(tmp_path, "deployments")
    assert set(got.deployment_id) == {ln.split(",")[0] for ln in rows[:half]}  # nothing from the bad file
    check_incidents(table(tmp_path, "incidents"), expected_incidents(world))  # the other kind loads too
    # once fixed, the next run loads it (a refused file is not remembered as loaded)
    bad.write_text(head + "".join(rows[half:]), encoding="utf-8")
    r = run(tmp_path)
    assert r.ok, r.source("events").error_message
    check_deployments(table(tmp_path, "deployments"), expected_deployments(world))


def test_a_bad_json_object_is_refused_with_its_line(world, exported, tmp_path):
    recs = json.loads(exported["incidents"].read_text())
    del recs[1]["opened_at"]
    exported["incidents"].write_text(json.dumps(recs, indent=2))
    line = json.dumps(recs, indent=2).splitlines().index("  {", 2) + 1  # the second object's first line
    r = run(tmp_path, write_sources(tmp_path, ["exports/"]))
    msg = resource(r, "incidents").error_message
    assert r.source("events").status == "partial"
    assert f"{exported['incidents']}:{line}: opened_at is missing" in msg and "Fix:" in msg, msg
    assert resource(r, "deployments").status == "success"
    check_deployments(table(tmp_path, "deployments"), expected_deployments(world))


def test_missing_paths_and_sources_file_problems(tmp_path):
    r = run(tmp_path, write_sources(tmp_path, ["nowhere/*.csv"]))
    assert r.source("events").status == "partial"
    assert "nowhere/*.csv: no file matches" in resource(r, "deployments").error_message
    src = tmp_path / "two.yml"
    src.write_text("""
organisations:
  - id: o
    projects:
      - {id: a}
      - {id: b}
integrations:
  events:
    paths: [exports/x.csv]
""")
    res = run(tmp_path, src).source("events")
    assert res.status == "failed" and "exports/x.csv" in res.error_message and "project" in res.error_message
    src.write_text(src.read_text().replace("[exports/x.csv]",
                                           "[{path: exports/x.csv, project: a, timezone: Mars/Base}]"))
    res = run(tmp_path, src).source("events")
    assert res.status == "failed" and "'Mars/Base' of events path" in res.error_message
    with pytest.raises(cfgmod.ConfigError, match="already in project 'a'"):
        cfgmod.parse_text("""
organisations:
  - id: o
    projects:
      - {id: a, events: {paths: [x.csv]}}
      - {id: b, events: [x.csv]}
""", "s.yml")


def test_nothing_configured_is_skipped(tmp_path):
    src = tmp_path / "s.yml"
    src.write_text("organisations:\n  - id: o\n    projects:\n      - {id: a}\n")
    assert run(tmp_path, src).source("events").status == "skipped"


def test_account_wide_paths_with_their_project(world, exported, tmp_path):
    src = tmp_path / "s.yml"
    src.write_text(f"""
account: acme
integrations:
  events:
    paths:
      - {{path: exports/{exported['deployments'].name}, project: prj-payments}}
      - {{path: exports/{exported['incidents'].name}, project: prj-payments}}
organisations:
  - id: org-payments
    projects:
      - {{id: prj-payments}}
      - {{id: other}}
""")
    assert run(tmp_path, src).ok
    check_deployments(table(tmp_path, "deployments"), expected_deployments(world))
    check_incidents(table(tmp_path, "incidents"), expected_incidents(world))


# --------------------------------------------------------------------------- format rules
def test_timestamp_rules():
    berlin = ZoneInfo("Europe/Berlin")
    want = dt.datetime(2025, 3, 4, 10, 15, tzinfo=UTC)
    for v in ("2025-03-04T10:15:00Z", "2025-03-04T11:15:00+01:00", "2025-03-04 10:15:00", 1741083300,
              "1741083300", "1741083300000", 1741083300000):
        assert parse_timestamp(v, UTC) == want, v
    assert parse_timestamp("2025-03-04 11:15:00", berlin) == want          # naive: the file's timezone
    assert parse_timestamp("2025-07-04 12:15:00", berlin) == dt.datetime(2025, 7, 4, 10, 15, tzinfo=UTC)  # DST
    for bad in ("2025-03-04", "yesterday", "174108330", True, "1970-01-02T00:00:00Z"):
        with pytest.raises(ValueError):
            parse_timestamp(bad, UTC)


def test_environment_types_and_format_variants(tmp_path):
    assert [derive_environment_type(e) for e in ("prod-eu", "eu-staging-2", "non-prod", "UAT", "sandbox")] == \
        ["production", "staging", "other", "staging", "other"]
    semi = b"deployment_id;service;environment;status;started_at;finished_at;source_tool\n" \
           b"d1;api;prod;Succeeded;2025-01-01T10:00:00Z;2025-01-01T10:05:00Z;gitlab\n"
    (row,) = parse_file(semi, "x.csv", FileEntry("x.csv")).rows
    assert row["status"] == "success" and row["environment_type"] == "production" and row["source_tool"] == "gitlab"
    jsonl = b'{"incident_id": "I1", "service": "api", "opened_at": 1735725600}\n\n' \
            b'{"incident_id": "I2", "service": "api", "opened_at": "2025-01-01T11:00:00Z", "resolved_at": null}\n'
    rows = parse_file(jsonl, "i.jsonl", FileEntry("i.jsonl", source_tool="opsgenie")).rows
    assert [r["source_line"] for r in rows] == [1, 3] and {r["source_tool"] for r in rows} == {"opsgenie"}
    typo = b"deployment_id,service,environment,status,started_at,finished_at,comit_sha,source_tool\n"
    with pytest.raises(EventsFileError, match="unknown column 'comit_sha'. Fix: rename it to 'commit_sha'"):
        parse_file(typo, "t.csv", FileEntry("t.csv"))
    with pytest.raises(EventsFileError, match="no source_tool column"):
        parse_file(b"incident_id,service,opened_at\nI1,api,2025-01-01T10:00:00Z\n", "n.csv", FileEntry("n.csv"))


def test_the_documented_examples_load(tmp_path):
    shutil.copytree(ROOT / "examples" / "events", tmp_path / "examples")
    r = run(tmp_path, write_sources(tmp_path, ["examples/"]))
    assert r.ok, r.source("events").error_message
    d = table(tmp_path, "deployments").set_index("deployment_id")
    assert len(d) == 6 and d.status["payments-web-prod-a41f0c9"] == "in_progress"
    assert d.commit_sha_prefix["payments-web-prod-8c1d2e3"] == "8c1d2e3"
    assert d.is_production["payments-web-prod-8c1d2e3"]
    assert iso(d.started_at["deploy-checkout-api#413"]) == "2025-03-04T09:15:00Z"
    i = table(tmp_path, "incidents").set_index("incident_id")
    assert set(i.source_tool) == {"pagerduty", "servicenow"} and i.status["INC0012345"] == "open"
