"""Customer-tunable profiles (YAML): loading with line numbers, the registry of profile
kinds, and applying them to the warehouse.

Each kind (efficiency, productivity, alignment, goals, ...) lives in its own module of this
package and registers itself with `register_profile`. A profile is validated as a whole
(every error reported with file, line and fix) and turned into small tables; `apply_profiles`
writes all kinds' tables to the warehouse's `raw_config` schema in one transaction, so an
invalid profile changes nothing and dbt always sees one consistent set. dbt reads them
through `stg_config__*` models.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import importlib.util
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import yaml

from ingestion.lock import writes_warehouse

SCHEMA = "raw_config"
# The shipped defaults: the repository's top-level profiles/ folder.
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "profiles"
# Modules that define profile kinds; each is imported if present.
KIND_MODULES = ("efficiency", "productivity", "alignment", "goals")


class ProfileError(ValueError):
    """One problem in one profile file, with where it is and how to fix it."""

    def __init__(self, path: Path | str, line: int | None, message: str, fix: str):
        self.path, self.line, self.message, self.fix = str(path), line, message, fix
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}. Fix: {self.fix}"


class ProfileErrors(ValueError):
    """Every problem found in a set of profiles (nothing was applied)."""

    def __init__(self, errors: list[ProfileError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


class Lines(dict):
    """Dotted key path ("rules.0.labels") -> 1-based line number. `at(path)` falls back to
    the nearest enclosing key, so an error always names a line."""

    def at(self, path: str) -> int | None:
        while path:
            if path in self:
                return self[path]
            path = path.rpartition(".")[0]
        return self.get("", 1)


def _walk(node: yaml.Node, prefix: str, lines: Lines) -> Any:
    lines.setdefault(prefix, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for k, v in node.value:
            key = str(yaml.safe_load(yaml.serialize(k)))
            path = f"{prefix}.{key}" if prefix else key
            lines[path] = k.start_mark.line + 1
            out[key] = _walk(v, path, lines)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(v, f"{prefix}.{i}" if prefix else str(i), lines) for i, v in enumerate(node.value)]
    return yaml.safe_load(yaml.serialize(node))


def load_yaml(path: Path | str) -> tuple[Any, Lines]:
    """Parse a YAML file into plain Python data plus the line of every key path.
    Raises ProfileError for unreadable, non-UTF-8 or malformed files."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        raise ProfileError(path, None, "file not found", "create it, or copy the shipped default from profiles/") from None
    except UnicodeDecodeError as e:
        line = path.read_bytes()[: e.start].count(b"\n") + 1
        raise ProfileError(path, line, "not UTF-8 text", "save the file as UTF-8") from None
    lines = Lines()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ProfileError(path, mark.line + 1 if mark else None, f"not valid YAML ({getattr(e, 'problem', e)})",
                           "check the indentation and quoting on that line") from None
    return (_walk(node, "", lines) if node is not None else None), lines


@dataclass
class ProfileKind:
    kind: str
    filename: str
    validate: Callable[[Any, Lines, Path], Any]          # raises ProfileError / ProfileErrors
    to_tables: Callable[[Any], dict[str, pd.DataFrame]]  # table name (in raw_config) -> rows
    description: str = ""
    tables: tuple[str, ...] = field(default_factory=tuple)


REGISTRY: dict[str, ProfileKind] = {}


def register_profile(kind: str, filename: str, *, to_tables: Callable[[Any], dict[str, pd.DataFrame]],
                     description: str = "", tables: tuple[str, ...] = ()):
    """Decorator for a profile module's `validate(data, lines, path)` function."""
    def wrap(validate):
        REGISTRY[kind] = ProfileKind(kind, filename, validate, to_tables, description, tables)
        return validate
    return wrap


def kinds() -> dict[str, ProfileKind]:
    for name in KIND_MODULES:
        if importlib.util.find_spec(f"core.profiles.{name}") is not None:
            importlib.import_module(f"core.profiles.{name}")
    return dict(sorted(REGISTRY.items()))


def profiles_dir(explicit: Path | str | None = None) -> Path:
    return Path(explicit or os.environ.get("SEI_PROFILES_DIR") or DEFAULT_DIR)


def profile_path(kind: ProfileKind, directory: Path) -> Path:
    """The user's file when it exists, else the shipped default."""
    own = directory / kind.filename
    return own if own.exists() else DEFAULT_DIR / kind.filename


@dataclass
class Loaded:
    kind: str
    path: Path
    profile: Any
    tables: dict[str, pd.DataFrame]
    sha256: str


def load_all(directory: Path | str | None = None, only: str | None = None) -> list[Loaded]:
    """Validate every registered profile; raise ProfileErrors listing all problems."""
    directory, out, errors = profiles_dir(directory), [], []
    for kind in kinds().values():
        if only and kind.kind != only:
            continue
        path = profile_path(kind, directory)
        try:
            data, lines = load_yaml(path)
            profile = kind.validate(data, lines, path)
            tables = kind.to_tables(profile)
        except ProfileErrors as e:
            errors.extend(e.errors)
            continue
        except ProfileError as e:
            errors.append(e)
            continue
        out.append(Loaded(kind.kind, path, profile, tables, hashlib.sha256(path.read_bytes()).hexdigest()))
    if errors:
        raise ProfileErrors(errors)
    return out


@writes_warehouse()  # one writer at a time (ingestion/lock.py)
def apply_profiles(warehouse: Path | str | None = None, directory: Path | str | None = None) -> list[Loaded]:
    """Validate all profiles, then replace their raw_config tables in one transaction."""
    import duckdb

    from core.settings import warehouse_path
    loaded = load_all(directory)
    db = Path(warehouse or warehouse_path())
    db.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(db))
    try:
        con.execute("begin")
        con.execute(f"create schema if not exists {SCHEMA}")
        con.execute(f"""create table if not exists {SCHEMA}.profile_versions (
            kind varchar, path varchar, sha256 varchar, applied_at timestamp)""")
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        for item in loaded:
            for table, frame in item.tables.items():
                con.register("_profile_rows", frame)
                con.execute(f'create or replace table {SCHEMA}."{table}" as select * from _profile_rows')
                con.unregister("_profile_rows")
            con.execute(f"insert into {SCHEMA}.profile_versions values (?, ?, ?, ?)",
                        [item.kind, str(item.path), item.sha256, now])
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    finally:
        con.close()
    return loaded


# ---------------------------------------------------------------- helpers for kind modules
def require(cond: bool, errors: list[ProfileError], path: Path, lines: Lines, key: str, message: str, fix: str) -> bool:
    """Record an error at `key`'s line unless `cond`; returns cond."""
    if not cond:
        errors.append(ProfileError(path, lines.at(key), message, fix))
    return cond


def check_keys(data: dict, allowed: set[str], errors: list[ProfileError], path: Path, lines: Lines,
               prefix: str = "") -> None:
    """Unknown keys are errors (a typo must not silently fall back to a default)."""
    for k in data:
        if k not in allowed:
            key = f"{prefix}.{k}" if prefix else k
            errors.append(ProfileError(path, lines.at(key), f"unknown key {k!r}",
                                       f"use one of: {', '.join(sorted(allowed))}"))


def check_top(data: Any, kind: str, allowed: set[str], path: Path, lines: Lines,
              what: str = "a mapping") -> list[ProfileError]:
    """The checks every profile opens with: a mapping, known top-level keys, version 1.
    Returns the error list the kind module goes on filling."""
    if not isinstance(data, dict):
        raise ProfileError(path, 1, f"the {kind} profile must be {what}", f"start from the shipped profiles/{kind}.yml")
    errors: list[ProfileError] = []
    check_keys(data, allowed, errors, path, lines)
    require(data.get("version", 1) == 1, errors, path, lines, "version", "unsupported version", "write version: 1")
    return errors


def project_overrides(data: dict, section: Callable[..., dict], errors: list[ProfileError], path: Path,
                      lines: Lines, example: str) -> dict[str, dict]:
    """The `projects:` map, project id -> `section(block, errors, path, lines, key, required=False)`
    of its override block (each error at its own projects.<id> line)."""
    raw = data.get("projects") or {}
    if not require(isinstance(raw, dict), errors, path, lines, "projects", "projects must map project ids to overrides",
                   f"write projects: {example}"):
        return {}
    return {str(pid): section(block, errors, path, lines, f"projects.{pid}", required=False)
            for pid, block in raw.items()}
