"""Deployments and incidents from any other tool (Jenkins, Argo CD, GitLab, PagerDuty,
ServiceNow, Opsgenie…) as CSV or JSON files, as a dlt source.

The file format (every column, types, required/optional, timezone rules, examples) is
documented in docs/events.md; `examples/events/` has one file of each kind. In short:

- deployments: deployment_id, service, environment, status, started_at (required),
  environment_type, finished_at (required once finished), commit_sha, source_tool,
  is_rollback, repository, version, url (optional);
- incidents: incident_id, service, opened_at (required), resolved_at, severity,
  source_tool, title, url, environment, caused_by_deployment_id (optional).

A file is CSV (header row; `,` or `;`), a JSON array of objects, or JSON lines
(`.jsonl` / `.ndjson`, or any `.json` file that is not an array). Its kind comes from its
columns (`deployment_id` or `incident_id`) unless the sources file says `kind:`.

Configuration (the sources file): per project, `events: {paths: [...]}`, or for the
whole account `integrations: events: paths: [{path, project}]`; an entry is a path, a
glob or a directory (its *.csv, *.json, *.jsonl, *.ndjson), relative to the sources file,
and may set `source_tool` (for rows without one), `timezone` (for timestamps without an
offset; default UTC) and `kind`. Each file belongs to one project: its rows carry that
project's `project_id`, `organisation_id` and `account_id`.

Loading: `merge` on (source_tool, deployment_id) / (source_tool, incident_id), so a
re-exported file updates the rows it repeats (an in-progress deployment becomes a
success) and never duplicates them. Each file's SHA-256 is kept in dlt resource state:
an unchanged file is not even parsed again, so re-loading it adds nothing. When two
files of one run carry the same id, the one later in the configured order (globs in
name order) wins.

Bad input: a file with a bad timestamp, a missing required column or value, an unknown
status, a duplicate id, a non-UTF-8 byte, … is refused as a whole with a message naming
the file, the line and the fix (recorded in ops; the run is `partial`); the other files
still load, and the refused file is checked again next run.
"""
from __future__ import annotations

import csv
import datetime as dt
import difflib
import glob
import hashlib
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import dlt

from ingestion.http import HttpStats

INTEGRATION = "events"
KINDS = ("deployments", "incidents")
SUFFIXES = (".csv", ".json", ".jsonl", ".ndjson")
MAX_REPORTED = 5  # problems listed per refused file

DEPLOYMENT_STATUSES = ("success", "failure", "in_progress", "cancelled")
STATUS_ALIASES = {
    "success": "success", "succeeded": "success", "successful": "success", "ok": "success", "passed": "success",
    "deployed": "success", "synced": "success", "healthy": "success",
    "failure": "failure", "failed": "failure", "fail": "failure", "error": "failure", "errored": "failure",
    "degraded": "failure",
    "in_progress": "in_progress", "inprogress": "in_progress", "running": "in_progress", "started": "in_progress",
    "pending": "in_progress", "queued": "in_progress", "progressing": "in_progress",
    "cancelled": "cancelled", "canceled": "cancelled", "aborted": "cancelled",
}
ENVIRONMENT_TYPES = ("production", "staging", "testing", "development", "other")
ENV_TYPE_ALIASES = {
    "production": "production", "prod": "production", "prd": "production", "live": "production",
    "staging": "staging", "stage": "staging", "stg": "staging", "preprod": "staging", "pre_prod": "staging",
    "preproduction": "staging", "pre_production": "staging", "uat": "staging",
    "testing": "testing", "test": "testing", "qa": "testing",
    "development": "development", "dev": "development",
    "other": "other",
}
TRUE = {"true", "yes", "y", "1", "t"}
FALSE = {"false", "no", "n", "0", "f", ""}
HEX_RX = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class Column:
    name: str
    required: bool
    kind: str  # text | timestamp | status | env_type | bool | sha


SCHEMAS: dict[str, tuple[Column, ...]] = {
    "deployments": (
        Column("deployment_id", True, "text"), Column("service", True, "text"), Column("environment", True, "text"),
        Column("environment_type", False, "env_type"), Column("status", True, "status"),
        Column("started_at", True, "timestamp"), Column("finished_at", False, "timestamp"),
        Column("commit_sha", False, "sha"), Column("source_tool", False, "text"),
        Column("is_rollback", False, "bool"), Column("repository", False, "text"), Column("version", False, "text"),
        Column("url", False, "text")),
    "incidents": (
        Column("incident_id", True, "text"), Column("service", True, "text"), Column("opened_at", True, "timestamp"),
        Column("resolved_at", False, "timestamp"), Column("severity", False, "text"),
        Column("source_tool", False, "text"), Column("title", False, "text"), Column("url", False, "text"),
        Column("environment", False, "text"), Column("caused_by_deployment_id", False, "text")),
}
ID = {"deployments": "deployment_id", "incidents": "incident_id"}


class EventsFileError(ValueError):
    """A refused file: `file:line: what is wrong. Fix: what to do.` (several when several)."""


@dataclass
class FileEntry:
    """One configured path (file, glob or directory) and the project its files belong to."""

    path: str
    project_id: str | None = None
    organisation_id: str | None = None
    account_id: str | None = None
    source_tool: str | None = None
    timezone: str = "UTC"
    kind: str | None = None
    line: int | None = None  # in the sources file


@dataclass
class Parsed:
    kind: str | None
    rows: list[dict] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- values
def _norm_key(k: Any) -> str:
    return re.sub(r"[\s\-]+", "_", str(k).strip().lower())


def _fix_ts() -> str:
    return ("write an ISO 8601 timestamp with its offset, e.g. 2025-03-04T10:15:00Z or 2025-03-04T11:15:00+01:00 "
            "(without an offset it is read in the file's timezone, UTC unless configured), or epoch seconds / "
            "milliseconds")


def parse_timestamp(v: Any, tz: dt.tzinfo) -> dt.datetime:
    """A timestamp cell -> tz-aware UTC datetime; raises ValueError(what is wrong)."""
    if isinstance(v, bool):
        raise ValueError(f"{v!r} is not a timestamp")
    if isinstance(v, (int, float)):
        secs = v / 1000 if abs(v) >= 1e11 else v
        d = dt.datetime.fromtimestamp(secs, dt.timezone.utc)
    else:
        s = str(v).strip()
        if re.fullmatch(r"\d{10}(\.\d+)?|\d{13}", s):
            n = float(s)
            d = dt.datetime.fromtimestamp(n / 1000 if len(s) == 13 else n, dt.timezone.utc)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            raise ValueError(f"{s!r} is a date without a time of day")
        else:
            try:
                d = dt.datetime.fromisoformat(s.replace("Z", "+00:00").replace("z", "+00:00"))
            except ValueError:
                raise ValueError(f"{s!r} is not a timestamp") from None
            if d.tzinfo is None:
                d = d.replace(tzinfo=tz)
    d = d.astimezone(dt.timezone.utc)
    if not 2000 <= d.year <= 2100:
        raise ValueError(f"{v!r} is in the year {d.year}")
    return d


def derive_environment_type(environment: str) -> str:
    """environment_type from an environment name: the whole name as an alias (prod, stg,
    uat, ...), else its parts (`prod-eu` -> production, `eu-staging-2` -> staging); names
    saying non-prod are `other`."""
    key = _norm_key(environment)
    if key in ENV_TYPE_ALIASES:
        return ENV_TYPE_ALIASES[key]
    parts = [t for t in re.split(r"[^a-z0-9]+", environment.lower()) if t]
    if "non" in parts or any(t.startswith("nonprod") for t in parts):
        return "other"
    for typ in ("production", "staging", "testing", "development"):
        if any(ENV_TYPE_ALIASES.get(t) == typ for t in parts):
            return typ
    return "other"


# --------------------------------------------------------------------------- reading files
def _decode(data: bytes, name: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        col = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise EventsFileError(
            f"{name}:{line}: not UTF-8 (byte 0x{data[e.start]:02X} at column {col}). Fix: save the file as UTF-8 "
            f"(Excel: 'CSV UTF-8'; iconv -f latin1 -t utf-8)") from None


def _csv_records(text: str, name: str) -> tuple[list[str], list[tuple[int, dict]]]:
    first = text.split("\n", 1)[0]
    delim = ";" if first.count(";") > first.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        header = next(reader)
    except StopIteration:
        raise EventsFileError(f"{name}:1: the file is empty. Fix: write a header row (see docs/events.md)") from None
    except csv.Error as e:
        raise EventsFileError(f"{name}:1: not valid CSV ({e}). Fix: check the quoting of the header row") from None
    cols = [_norm_key(h) for h in header]
    dup = sorted({c for c in cols if c and cols.count(c) > 1})
    if dup:
        raise EventsFileError(f"{name}:1: column {dup[0]!r} appears twice in the header. Fix: keep one of them")
    out, prev = [], reader.line_num
    try:
        for cells in reader:
            line, prev = prev + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(cols):
                raise EventsFileError(f"{name}:{line}: {len(cells)} cells but the header has {len(cols)} columns. "
                                      f"Fix: quote values that contain '{delim}' (\"a{delim} b\")")
            out.append((line, {c: v for c, v in zip(cols, cells) if c}))
    except csv.Error as e:
        raise EventsFileError(f"{name}:{reader.line_num}: not valid CSV ({e}). Fix: close the quoted value") from None
    return cols, out


def _json_records(text: str, name: str, jsonl: bool) -> list[tuple[int, dict]]:
    stripped = text.lstrip()
    if not stripped:
        return []
    dec = json.JSONDecoder()

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def bad(e: json.JSONDecodeError, base_line: int = 0):
        return EventsFileError(f"{name}:{base_line + e.lineno}: not valid JSON ({e.msg}, column {e.colno}). "
                               f"Fix: correct the JSON syntax there")

    out: list[tuple[int, Any]] = []
    if stripped.startswith("[") and not jsonl:
        pos = text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text):
                raise EventsFileError(f"{name}:{line_of(pos)}: the JSON array is not closed. Fix: end it with ]")
            if text[pos] == "]":
                break
            try:
                obj, end = dec.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                raise bad(e) from None
            out.append((line_of(pos), obj))
            pos = end
    else:
        for i, raw in enumerate(text.splitlines(), start=1):
            if not raw.strip():
                continue
            try:
                out.append((i, json.loads(raw)))
            except json.JSONDecodeError as e:
                raise bad(e, i - 1) from None
    for line, obj in out:
        if not isinstance(obj, dict):
            raise EventsFileError(f"{name}:{line}: expected an object {{...}}, found {type(obj).__name__}. Fix: write "
                                  f"one object per deployment or incident (see docs/events.md)")
    return [(line, {_norm_key(k): v for k, v in obj.items()}) for line, obj in out]


def detect_kind(columns: set[str], name: str, configured: str | None) -> str:
    if configured:
        return configured
    has = [k for k in KINDS if ID[k] in columns]
    if len(has) == 1:
        return has[0]
    if not has:
        raise EventsFileError(f"{name}:1: neither a deployment_id nor an incident_id column. Fix: name the id column "
                              f"deployment_id (deployments) or incident_id (incidents), or set `kind:` for this file "
                              f"in the sources file")
    raise EventsFileError(f"{name}:1: both deployment_id and incident_id columns. Fix: put deployments and incidents "
                          f"in separate files")


def parse_file(data: bytes, name: str, entry: FileEntry) -> Parsed:
    """Validate a file's bytes and turn them into rows (raises EventsFileError when refused)."""
    text = _decode(data, name)
    suffix = Path(name).suffix.lower()
    if suffix == ".csv":
        header, records = _csv_records(text, name)
        columns = set(header)
    else:
        records = _json_records(text, name, jsonl=suffix in (".jsonl", ".ndjson"))
        columns = set().union(*(r.keys() for _, r in records)) if records else set()
        header = None
    if not records and not columns:
        return Parsed(entry.kind, [])
    kind = detect_kind(columns, name, entry.kind)
    schema = SCHEMAS[kind]
    known = {c.name for c in schema}
    problems: list[str] = []
    # Header-level checks (CSV): required columns, and likely typos of optional ones.
    if header is not None:
        for c in schema:
            if c.required and c.name not in columns:
                problems.append(f"{name}:1: missing required column {c.name!r}. Fix: add a {c.name} column "
                                f"(docs/events.md lists every column)")
        if "source_tool" not in columns and not entry.source_tool:
            problems.append(f"{name}:1: no source_tool column and no source_tool set for this file. Fix: add a "
                            f"source_tool column (e.g. jenkins) or `source_tool:` for this file in the sources file")
    for col in sorted(columns - known):
        close = difflib.get_close_matches(col, sorted(known - columns), n=1, cutoff=0.8)
        if close:
            problems.append(f"{name}:1: unknown column {col!r}. Fix: rename it to {close[0]!r} (or remove it)")
    if problems:
        raise EventsFileError("; ".join(problems[:MAX_REPORTED]))
    try:
        tz = ZoneInfo(entry.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise EventsFileError(f"{name}: timezone {entry.timezone!r} in the sources file is not a time zone. "
                              f"Fix: use an IANA name such as UTC or Europe/Berlin") from None
    rows, first_line = [], {}
    for line, rec in records:
        if len(problems) > MAX_REPORTED:
            break
        row, errs = _row(kind, rec, line, name, entry, tz, header is None)
        problems += errs
        if errs:
            continue
        key = (row["source_tool"], row[ID[kind]])
        if key in first_line:
            problems.append(f"{name}:{line}: {ID[kind]} {key[1]!r} (source_tool {key[0]!r}) appears twice, first on "
                            f"line {first_line[key]}. Fix: keep one row per {ID[kind][:-3]} (the latest state)")
            continue
        first_line[key] = line
        rows.append(row)
    if problems:
        more = f" (and {len(problems) - MAX_REPORTED} more)" if len(problems) > MAX_REPORTED else ""
        raise EventsFileError("; ".join(problems[:MAX_REPORTED]) + more)
    return Parsed(kind, rows)


def _row(kind: str, rec: dict, line: int, name: str, entry: FileEntry, tz: dt.tzinfo,
         per_record_required: bool) -> tuple[dict, list[str]]:
    errs: list[str] = []
    out: dict[str, Any] = {}
    where = f"{name}:{line}"
    for c in SCHEMAS[kind]:
        v = rec.get(c.name)
        if isinstance(v, (dict, list)):
            errs.append(f"{where}: {c.name} is a nested {type(v).__name__}. Fix: give a plain value")
            continue
        empty = v is None or (isinstance(v, str) and not v.strip())
        if empty:
            if c.required:
                what = "missing" if per_record_required and c.name not in rec else "empty"
                errs.append(f"{where}: {c.name} is {what}. Fix: every {kind[:-1]} needs a {c.name}")
            out[c.name] = None
            continue
        try:
            out[c.name] = _value(c, v, tz)
        except ValueError as e:
            errs.append(f"{where}: {c.name}: {e}. Fix: {_fix(c)}")
    if errs:
        return out, errs
    tool = out.get("source_tool") or entry.source_tool
    if not tool:
        errs.append(f"{where}: source_tool is empty and no source_tool is set for this file. Fix: fill it in "
                    f"(e.g. jenkins) or set `source_tool:` for this file in the sources file")
        return out, errs
    out["source_tool"] = str(tool).strip().lower()
    out[ID[kind]] = str(out[ID[kind]]).strip()
    if kind == "deployments":
        errs += _check_deployment(out, where)
    else:
        errs += _check_incident(out, where)
    out.update(project_id=entry.project_id, organisation_id=entry.organisation_id, account_id=entry.account_id,
               source_file=name, source_line=line)
    return out, errs


def _value(c: Column, v: Any, tz: dt.tzinfo):
    if c.kind == "timestamp":
        return parse_timestamp(v, tz)
    s = str(v).strip()
    if c.kind == "status":
        st = STATUS_ALIASES.get(_norm_key(s))
        if st is None:
            raise ValueError(f"unknown status {s!r}")
        return st
    if c.kind == "env_type":
        et = ENV_TYPE_ALIASES.get(_norm_key(s))
        if et is None:
            raise ValueError(f"unknown environment_type {s!r}")
        return et
    if c.kind == "bool":
        if isinstance(v, bool):
            return v
        low = s.lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise ValueError(f"{s!r} is not true or false")
    if c.kind == "sha":
        low = s.lower()
        if not HEX_RX.match(low):
            raise ValueError(f"{s!r} is not a git commit SHA")
        return low
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return s


def _fix(c: Column) -> str:
    return {
        "timestamp": _fix_ts(),
        "status": f"use one of {', '.join(DEPLOYMENT_STATUSES)} (aliases such as succeeded, failed, running, "
                  f"aborted are accepted; docs/events.md lists them)",
        "env_type": f"use one of {', '.join(ENVIRONMENT_TYPES)} (or leave it empty to derive it from environment)",
        "bool": "write true or false (also yes/no, 1/0)",
        "sha": "write the full 40-character commit SHA (or a 7+ character prefix) in hex",
    }.get(c.kind, "correct the value")


def _check_deployment(d: dict, where: str) -> list[str]:
    errs = []
    if d.get("environment_type") is None:
        d["environment_type"] = derive_environment_type(d["environment"])
    d["is_production"] = d["environment_type"] == "production"
    d["is_rollback"] = bool(d.get("is_rollback"))
    st, start, end = d["status"], d["started_at"], d.get("finished_at")
    if st == "in_progress" and end is not None:
        errs.append(f"{where}: status is in_progress but finished_at is {end.isoformat()}. Fix: give the final "
                    f"status (success, failure, cancelled) or empty finished_at")
    if st != "in_progress" and end is None:
        errs.append(f"{where}: status is {st} but finished_at is empty. Fix: give the time the deployment finished "
                    f"(or status in_progress while it runs)")
    if end is not None and end < start:
        errs.append(f"{where}: finished_at {end.isoformat()} is before started_at {start.isoformat()}. Fix: check "
                    f"both timestamps and their offsets")
    sha = d.pop("commit_sha", None)
    d["commit_sha"] = sha if sha and len(sha) == 40 else None
    d["commit_sha_prefix"] = sha if sha and len(sha) < 40 else None
    d["duration_seconds"] = (end - start).total_seconds() if end else None
    return errs


def _check_incident(i: dict, where: str) -> list[str]:
    errs = []
    if i.get("environment") is None:
        i["environment"] = "production"
    start, end = i["opened_at"], i.get("resolved_at")
    if end is not None and end < start:
        errs.append(f"{where}: resolved_at {end.isoformat()} is before opened_at {start.isoformat()}. Fix: check both "
                    f"timestamps and their offsets")
    i["status"] = "resolved" if end is not None else "open"
    i["duration_seconds"] = (end - start).total_seconds() if end else None
    return errs


# --------------------------------------------------------------------------- files of an entry
def expand(entry: FileEntry, base_dir: Path) -> list[Path]:
    """The files a configured path names: a file, a directory (its event files) or a glob."""
    p = Path(os.path.expanduser(entry.path))
    if not p.is_absolute():
        p = base_dir / p
    if any(ch in entry.path for ch in "*?["):
        return sorted(Path(x) for x in glob.glob(str(p), recursive=True)
                      if Path(x).is_file() and Path(x).suffix.lower() in SUFFIXES)
    if p.is_dir():
        return sorted(x for x in p.iterdir() if x.is_file() and x.suffix.lower() in SUFFIXES)
    return [p] if p.exists() else []


_T, _TS, _B, _D, _I = "text", "timestamp", "bool", "double", "bigint"


def _cols(**types: str) -> dict:
    return {name: {"name": name, "data_type": t} for name, t in types.items()}


DEPLOYMENT_TYPES = dict(deployment_id=_T, source_tool=_T, service=_T, environment=_T, environment_type=_T,
                        is_production=_B, status=_T, started_at=_TS, finished_at=_TS, duration_seconds=_D,
                        commit_sha=_T, commit_sha_prefix=_T, is_rollback=_B, repository=_T, version=_T, url=_T,
                        project_id=_T, organisation_id=_T, account_id=_T, source_file=_T, source_line=_I)
INCIDENT_TYPES = dict(incident_id=_T, source_tool=_T, service=_T, environment=_T, severity=_T, title=_T,
                      status=_T, opened_at=_TS, resolved_at=_TS, duration_seconds=_D, caused_by_deployment_id=_T,
                      url=_T, project_id=_T, organisation_id=_T, account_id=_T, source_file=_T, source_line=_I)


# --------------------------------------------------------------------------- the source
@dlt.source(name="events", section="events", max_table_nesting=0)
def events_source(paths: list = dlt.config.value,
                  base_dir: str | None = None,
                  timezone: str = "UTC",
                  stats: HttpStats | None = None):
    """Event files: `paths` lists paths / globs / directories (strings), or mappings
    {"path", "project_id", "organisation_id", "account_id", "source_tool", "timezone",
    "kind"}; relative paths are read from `base_dir` (default: the working directory).
    `timezone` is the default for timestamps without an offset."""
    stats = stats or HttpStats()
    base = Path(base_dir or os.getcwd())
    entries = [FileEntry(**({"path": p} if isinstance(p, (str, os.PathLike)) else
                            {k: v for k, v in p.items() if k in FileEntry.__dataclass_fields__}))
               for p in paths]
    for e in entries:
        e.path = str(e.path)
        e.timezone = e.timezone or timezone
    cache: dict[str, tuple[FileEntry, bytes | None, str | None, str | None]] = {}

    def files() -> list[tuple[str, FileEntry, bytes | None, str | None]]:
        """(name, entry, bytes or None, read error) for every configured file, read once per run."""
        if not cache:
            for e in entries:
                found = expand(e, base)
                if not found:
                    cache[f"?{e.path}"] = (e, None, None, f"{e.path}: no file matches this path (read from {base}). "
                                                         f"Fix: check the path under `events:` in the sources file")
                for f in found:
                    name = str(f)
                    try:
                        cache[name] = (e, f.read_bytes(), None, None)
                    except OSError as x:
                        cache[name] = (e, None, None, f"{name}: cannot be read ({x.strerror or x}). Fix: check the "
                                                      f"path and the file's permissions")
        return [(n, e, data, err) for n, (e, data, _, err) in cache.items()]

    parsed_cache: dict[tuple[str, str], Parsed | EventsFileError] = {}

    def owner_kind(name: str, e: FileEntry, data: bytes | None) -> str:
        """The resource a file's problems are reported under (so each is reported once)."""
        return e.kind or (_sniff_kind(data) if data else None) or (
            "incidents" if "incident" in Path(name).name.lower() else "deployments")

    def parse(name: str, e: FileEntry, data: bytes, digest: str) -> Parsed | EventsFileError:
        key = (name, digest)
        if key not in parsed_cache:
            try:
                parsed_cache[key] = parse_file(data, name, e)
            except EventsFileError as x:
                parsed_cache[key] = x
        return parsed_cache[key]

    def load(kind: str) -> Iterator[list[dict]]:
        rstate = dlt.current.resource_state(kind)
        state = rstate.setdefault("files", {})
        merged: dict[tuple, dict] = {}
        loaded: list[tuple[str, str, int]] = []
        for name, e, data, err in files():
            mine = owner_kind(name, e, data) == kind
            if err is not None:
                if mine:
                    stats.error(INTEGRATION, kind, err)
                    stats.say(f"  events.{kind}: ERROR {err}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if state.get(name, {}).get("sha256") == digest:
                continue  # unchanged since it was loaded
            parsed = parse(name, e, data, digest)
            if isinstance(parsed, EventsFileError):
                if mine:
                    msg = f"{parsed} (file refused: nothing from it was loaded)"
                    stats.error(INTEGRATION, kind, msg)
                    stats.say(f"  events.{kind}: {msg}")
                continue
            if parsed.kind != kind and not (parsed.kind is None and mine):
                continue
            for r in parsed.rows:
                merged[(r["source_tool"], r[ID[kind]])] = r
            loaded.append((name, digest, len(parsed.rows)))
        rows = list(merged.values())
        if rows:
            stats.add_rows(INTEGRATION, kind, len(rows))
            yield rows
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        for name, digest, n in loaded:
            state[name] = {"sha256": digest, "rows": n, "loaded_at": now}
            stats.say(f"  events.{kind}: {name}: {n} rows")
        rstate["summary"] = f"{len(state)} file(s) loaded" if state else None

    @dlt.resource(name="deployments", write_disposition="merge", primary_key=("source_tool", "deployment_id"),
                  columns=_cols(**DEPLOYMENT_TYPES))
    def deployments():
        yield from load("deployments")

    @dlt.resource(name="incidents", write_disposition="merge", primary_key=("source_tool", "incident_id"),
                  columns=_cols(**INCIDENT_TYPES))
    def incidents():
        yield from load("incidents")

    return deployments, incidents


def _sniff_kind(data: bytes) -> str | None:
    head = data[:4096].lower()
    d, i = b"deployment_id" in head, b"incident_id" in head
    return "deployments" if d and not i else "incidents" if i and not d else None


RESOURCES = ["deployments", "incidents"]


def build_source(cfg, stats):
    """The events source from the sources file: per project `events: {paths: [...]}` and
    account-wide `integrations: events: paths: [{path, project}]` (docs/events.md)."""
    from ingestion import config as cfgmod
    where = cfgmod.sources_path(cfg.path)
    ev = cfg.integrations.get("events")
    opts = dict(ev.options) if ev else {}
    default_tz = str(opts.get("timezone") or "UTC")
    try:
        ZoneInfo(default_tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise cfgmod.ConfigError(f"{where}: integrations.events.timezone {default_tz!r} is not a time zone. Fix: use "
                                 f"an IANA name such as UTC or Europe/Berlin") from None
    by_id = {p.id: p for p in cfg.projects}
    paths: list[dict] = []

    def entry(item: dict, project, line) -> dict:
        tz = str(item.get("timezone") or default_tz)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            raise cfgmod.ConfigError(f"{where}:{line or ''}: timezone {tz!r} of events path {item['path']!r} is not a "
                                     f"time zone. Fix: use an IANA name such as UTC or Europe/Berlin") from None
        kind = item.get("kind")
        if kind is not None and kind not in KINDS:
            raise cfgmod.ConfigError(f"{where}:{line or ''}: kind {kind!r} of events path {item['path']!r}. Fix: use "
                                     f"deployments or incidents (or leave it out: the columns tell)")
        return {"path": str(item["path"]), "project_id": project.id, "organisation_id": project.organisation,
                "account_id": cfg.account, "source_tool": item.get("source_tool") or opts.get("source_tool"),
                "timezone": tz, "kind": kind, "line": line}

    for p in cfg.projects:
        for item in p.events:
            paths.append(entry(item, p, item.get("line")))
    raw = opts.get("paths") or []
    item_lines = getattr(raw, "item_lines", [None] * len(raw))
    for item, line in zip(raw, item_lines):
        item = dict(item) if isinstance(item, dict) else {"path": item}
        pid = item.get("project") or opts.get("project")
        if pid is None and len(cfg.projects) == 1:
            pid = cfg.projects[0].id
        if pid not in by_id:
            what = f"project {pid!r} is not in the sources file" if pid else "has no project"
            raise cfgmod.ConfigError(f"{where}:{line or ''}: events path {item.get('path')!r} {what}. Fix: give it "
                                     f"`project: <a project id>` (each file belongs to one project), or list it "
                                     f"under that project's `events: paths:`")
        if not item.get("path"):
            raise cfgmod.ConfigError(f"{where}:{line or ''}: an integrations.events.paths entry has no `path`. Fix: "
                                     f"write `- {{path: exports/deployments.csv, project: <id>}}`")
        paths.append(entry(item, by_id[pid], line))
    seen: dict[str, dict] = {}
    for p in paths:
        first = seen.get(p["path"].lower())
        if first and first["project_id"] != p["project_id"]:
            raise cfgmod.ConfigError(f"{where}:{p['line'] or ''}: events path {p['path']!r} is listed for project "
                                     f"{p['project_id']!r} and already for {first['project_id']!r}. Fix: a file "
                                     f"belongs to exactly one project: remove it from one of them")
        seen[p["path"].lower()] = p
    if not paths:
        raise cfgmod.ConfigError(f"{where}: no event files configured. Fix: list them under a project's "
                                 f"`events: paths: [...]` or under `integrations: events: paths:` (docs/events.md).")
    base_dir = str(Path(cfg.path).resolve().parent) if cfg.path else os.getcwd()
    return events_source(paths=[{k: v for k, v in p.items() if k != "line"} for p in paths], base_dir=base_dir,
                         timezone=default_tz, stats=stats)


def configured(cfg) -> bool:
    """Whether the sources file lists any event file (a run skips the source otherwise)."""
    ev = cfg.integrations.get("events")
    return any(p.events for p in cfg.projects) or bool(ev and ev.options.get("paths"))
