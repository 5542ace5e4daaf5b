"""The sources file: what to read, grouped account -> organisations -> projects.

One YAML file (the path in `SEI_SOURCES`, else `sources.yml` in the working directory,
else the demo's `sources.simulator.yml` beside the warehouse when `sei demo` wrote one)
says which repositories, Jira projects and Harness projects/services the warehouse reads,
which project each belongs to, where each integration's API lives and how far back the
first sync goes. `sources.example.yml` documents every key.

Credentials never go in this file. They come the dlt way: `.dlt/secrets.toml`
(`[sources.github] access_token = "..."`) or environment variables
(`SOURCES__GITHUB__ACCESS_TOKEN`, `SOURCES__JIRA__API_TOKEN`, `SOURCES__HARNESS__API_KEY`).
See `github_credentials()` for GitHub App authentication.

Rules checked on load (each error names the file, the line and the fix):
- every source scope (a repository, a Jira project key, a Harness service) belongs to
  exactly one project; an `owner/*` wildcard takes the owner's repositories that no
  project lists by name, and one owner can have only one wildcard;
- ids of organisations and projects are unique;
- `start_date` is a date (`2025-01-01`) or an ISO timestamp.

Environment overrides (handy for tests and containers): `SOURCES__GITHUB__BASE_URL`,
`SOURCES__GITHUB__GRAPHQL_URL`, `SEI_START_DATE`, `SEI_WAIT_SCALE`, and the `runtime`
keys below as `SEI_MAX_ATTEMPTS`, `SEI_MIN_RATELIMIT_REMAINING`.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

GITHUB_COM_API = "https://api.github.com"
DEFAULT_SOURCES_FILE = "sources.yml"
DEMO_SOURCES_FILE = "sources.simulator.yml"
DEFAULT_HISTORY_DAYS = 365
REPO_RX = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})/(?:\*|[A-Za-z0-9._-]{1,100})$")
JIRA_KEY_RX = re.compile(r"^[A-Z][A-Z0-9_]+$")


class ConfigError(ValueError):
    """A sources file problem, worded as file:line: what is wrong. Fix: what to do."""


# --------------------------------------------------------------------------- model
@dataclass(frozen=True)
class Scope:
    """One source scope and the project it belongs to."""

    integration: str  # github | jira | harness
    value: str        # "owner/name", "owner/*", "PAY", "jql:...", "org/project[/service]"
    account: str
    organisation: str
    project: str
    line: int | None = None


@dataclass
class Project:
    id: str
    name: str
    organisation: str
    github_repos: list[str] = field(default_factory=list)
    jira_projects: list[str] = field(default_factory=list)
    jira_jql: str | None = None
    harness: list[dict] = field(default_factory=list)  # {org, project, services: [...]}
    events: list[dict] = field(default_factory=list)   # {path, source_tool?, timezone?, kind?, line} (docs/events.md)


@dataclass
class Runtime:
    """Knobs shared by every integration's HTTP client (see ingestion/http.py)."""

    wait_scale: float = 1.0              # multiplies every wait (Retry-After, rate-limit resets, backoff)
    max_attempts: int = 8                # attempts per request, including the first
    backoff_seconds: float = 1.0         # first exponential backoff step (5xx, resets, 429 without Retry-After)
    max_backoff_seconds: float = 120.0   # cap of one exponential backoff step (rate-limit resets are not capped)
    min_ratelimit_remaining: int = 50    # below this, wait for the window's reset before the next request
    request_timeout: float = 60.0
    duckdb_memory_limit: str | None = "2GB"
    normalize_workers: int = 2           # dlt normalize processes of a first or full sync (after the extract, APIs idle)


@dataclass
class IntegrationSettings:
    base_url: str
    graphql_url: str | None = None
    page_size: int = 50
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourcesConfig:
    path: Path | None
    account: str
    start_date: dt.datetime
    runtime: Runtime
    integrations: dict[str, IntegrationSettings]
    projects: list[Project]
    scopes: list[Scope]
    # set on the empty configuration `load(required=False)` returns when no file exists
    missing: str | None = None

    # ---- lookups
    def github_repos(self) -> list[str]:
        """Repositories and `owner/*` wildcards, in file order."""
        return [s.value for s in self.scopes if s.integration == "github"]

    def jira_project_keys(self) -> list[str]:
        return [s.value for s in self.scopes if s.integration == "jira" and not s.value.startswith("jql:")]

    def project_of(self, integration: str, value: str) -> Scope | None:
        """The project a concrete scope belongs to (a repository falls back to its owner's wildcard)."""
        low = value.lower()
        for s in self.scopes:
            if s.integration == integration and s.value.lower() == low:
                return s
        if integration == "github" and "/" in value:
            wild = value.split("/", 1)[0].lower() + "/*"
            for s in self.scopes:
                if s.integration == "github" and s.value.lower() == wild:
                    return s
        return None

    def github(self) -> IntegrationSettings:
        return self.integrations["github"]


# --------------------------------------------------------------------------- YAML with line numbers
def _compose(text: str, path: str):
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else path
        raise ConfigError(f"{where}: not valid YAML ({getattr(e, 'problem', e)}). "
                          f"Fix: correct the YAML syntax (see sources.example.yml).") from None
    return node


def _py(node):
    """YAML node -> Python value; mappings and lists keep the line of each key / item."""
    if node is None:
        return None
    if isinstance(node, yaml.MappingNode):
        out, key_lines = {}, {}
        for k, v in node.value:
            key = _py(k)
            out[key] = _py(v)
            key_lines[key] = k.start_mark.line + 1
        return _Lined(out, node.start_mark.line + 1, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return _LinedList([_py(v) for v in node.value], node.start_mark.line + 1,
                          [v.start_mark.line + 1 for v in node.value])
    return _scalar(node)


def _scalar(node):
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()


class _Lined(dict):
    def __init__(self, d, line, key_lines):
        super().__init__(d)
        self.line, self.key_lines = line, key_lines


class _LinedList(list):
    def __init__(self, items, line, item_lines):
        super().__init__(items)
        self.line, self.item_lines = line, item_lines


def _line(obj, key=None) -> int | None:
    if key is not None and isinstance(obj, _Lined):
        return obj.key_lines.get(key, obj.line)
    return getattr(obj, "line", None)


# --------------------------------------------------------------------------- loading
def demo_sources_path() -> Path:
    """The sources file `sei demo` writes beside the warehouse (it reads the simulated org)."""
    from core.settings import warehouse_path
    return warehouse_path().parent / DEMO_SOURCES_FILE


def sources_candidates(path: str | Path | None = None) -> list[Path]:
    """Where the sources file is looked for, in order: the path given, else `SEI_SOURCES`,
    else `sources.yml` in the working directory, else the demo's file, so that every command
    after `sei demo` reads the demo's organisation until you write a sources file of your own."""
    given = path or os.environ.get("SEI_SOURCES")
    return [Path(given)] if given else [Path(DEFAULT_SOURCES_FILE), demo_sources_path()]


def sources_path(path: str | Path | None = None) -> Path:
    """The first candidate that exists (else the first one: the file the user should write)."""
    candidates = sources_candidates(path)
    return next((p for p in candidates if p.is_file()), candidates[0])


def not_found_message(path: str | Path | None = None) -> str:
    """One line: no sources file, where it was looked for, and what to do."""
    looked = ", ".join(str(p.absolute()) for p in sources_candidates(path))
    first = sources_candidates(path)[0]
    return (f"no sources file found (looked for {looked}). Fix: copy sources.example.yml to {first} (or set "
            f"SEI_SOURCES to its path) and list the repositories to read, or run `sei demo` for the simulated org.")


def load(path: str | Path | None = None, *, required: bool = True) -> SourcesConfig:
    """Read and validate the sources file. Without a file (and `required=False`), an empty
    configuration with defaults is returned so env-only setups still work; its `missing`
    says where the file was looked for."""
    p = sources_path(path)
    if not p.is_file():
        if required:
            raise ConfigError(not_found_message(path))
        empty = parse({}, None)
        empty.missing = not_found_message(path)
        return empty
    return parse_text(p.read_text(encoding="utf-8"), p)


def parse_text(text: str, path: Path | str | None = None) -> SourcesConfig:
    node = _compose(text, str(path or "<sources>"))
    data = _py(node) if node is not None else {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: the sources file must be a mapping with `account`, `organisations`... "
                          f"Fix: start from sources.example.yml.")
    return parse(data, Path(path) if path else None)


def _err(path, line, what, fix) -> ConfigError:
    where = f"{path or '<sources>'}" + (f":{line}" if line else "")
    return ConfigError(f"{where}: {what}. Fix: {fix}.")


def _parse_start(value, path, line) -> dt.datetime:
    if value is None:
        d = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=DEFAULT_HISTORY_DAYS)
        return d.replace(hour=0, minute=0, second=0, microsecond=0)
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    try:
        d = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise _err(path, line, f"start_date {value!r} is not a date",
                   "write it as YYYY-MM-DD (e.g. 2025-01-01) or an ISO timestamp") from None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


def default_graphql_url(base_url: str) -> str:
    """github.com: https://api.github.com/graphql; GHES: https://host/api/v3 -> https://host/api/graphql."""
    b = base_url.rstrip("/")
    if b.endswith("/api/v3"):
        return b[: -len("/v3")] + "/graphql"
    return b + "/graphql"


def _integrations(data: dict, path) -> dict[str, IntegrationSettings]:
    raw = data.get("integrations") or {}
    gh = dict(raw.get("github") or {})
    base = os.environ.get("SOURCES__GITHUB__BASE_URL") or gh.pop("base_url", None) or GITHUB_COM_API
    gh.pop("base_url", None)
    gql = os.environ.get("SOURCES__GITHUB__GRAPHQL_URL") or gh.pop("graphql_url", None) or default_graphql_url(base)
    gh.pop("graphql_url", None)
    page = int(gh.pop("page_size", 50))
    if not 1 <= page <= 100:
        raise _err(path, _line(raw.get("github"), "page_size"), f"integrations.github.page_size {page} is out of range",
                   "use 1..100 (GitHub's limit per page)")
    if "rest_sweep_hours" in gh:
        sweep = gh["rest_sweep_hours"]
        if isinstance(sweep, bool) or not isinstance(sweep, (int, float)) or sweep < 0:
            raise _err(path, _line(raw.get("github"), "rest_sweep_hours"),
                       f"integrations.github.rest_sweep_hours {sweep!r} is not a number of hours >= 0",
                       "use e.g. 24 (every repository's deployments, releases and workflow runs listed at least "
                       "once a day), or 0 to list every repository every run")
    out = {"github": IntegrationSettings(base.rstrip("/"), gql, page, gh)}
    jira = dict(raw.get("jira") or {})
    out["jira"] = IntegrationSettings((os.environ.get("SOURCES__JIRA__BASE_URL") or jira.pop("base_url", "") or "").rstrip("/"),
                                      None, int(jira.pop("page_size", 0) or 0), jira)  # 0: the API's largest
    harness = dict(raw.get("harness") or {})
    out["harness"] = IntegrationSettings(
        (os.environ.get("SOURCES__HARNESS__BASE_URL") or harness.pop("base_url", "https://app.harness.io")).rstrip("/"),
        None, int(harness.pop("page_size", 100)), harness)
    for name, s in raw.items():
        if name not in out:
            out[name] = IntegrationSettings(str((s or {}).get("base_url", "")), None, 100, dict(s or {}))
    return out


def _runtime(data: dict, path) -> Runtime:
    raw = data.get("runtime") or {}
    rt = Runtime()
    for k, v in raw.items():
        if not hasattr(rt, k):
            raise _err(path, _line(raw, k), f"unknown runtime key {k!r}",
                       f"use one of {', '.join(Runtime.__dataclass_fields__)}")
        setattr(rt, k, type(getattr(rt, k))(v) if getattr(rt, k) is not None and v is not None else v)
    env = {"SEI_WAIT_SCALE": ("wait_scale", float), "SEI_MAX_ATTEMPTS": ("max_attempts", int),
           "SEI_MIN_RATELIMIT_REMAINING": ("min_ratelimit_remaining", int),
           "SEI_DUCKDB_MEMORY_LIMIT": ("duckdb_memory_limit", str),
           "SEI_NORMALIZE_WORKERS": ("normalize_workers", int)}
    for var, (attr, typ) in env.items():
        if os.environ.get(var):
            setattr(rt, attr, typ(os.environ[var]))
    if rt.wait_scale < 0:
        raise _err(path, _line(raw, "wait_scale"), "runtime.wait_scale is negative", "use 1.0 (real time) or a small positive factor for simulators")
    if rt.max_attempts < 1:
        raise _err(path, _line(raw, "max_attempts"), "runtime.max_attempts must be at least 1", "use e.g. 8")
    if rt.normalize_workers < 1:
        raise _err(path, _line(raw, "normalize_workers"), "runtime.normalize_workers must be at least 1",
                   "use 1 (in-process) or the number of cores")
    return rt


def parse(data: dict, path: Path | None) -> SourcesConfig:
    start = _parse_start(os.environ.get("SEI_START_DATE") or data.get("start_date"), path, _line(data, "start_date"))
    account = str(data.get("account") or "default")
    orgs = data.get("organisations") or data.get("organizations") or []
    if not isinstance(orgs, list):
        raise _err(path, _line(data, "organisations"), "`organisations` must be a list",
                   "write `organisations:` followed by `- id: ...` items")
    projects: list[Project] = []
    scopes: list[Scope] = []
    seen_org: dict[str, int | None] = {}
    seen_proj: dict[str, int | None] = {}
    for o in orgs:
        oid = str(o.get("id") or o.get("name") or "")
        if not oid:
            raise _err(path, _line(o), "an organisation has no `id`", "give every organisation an `id`")
        if oid in seen_org:
            raise _err(path, _line(o), f"organisation id {oid!r} is used twice (first on line {seen_org[oid]})",
                       "give each organisation its own id")
        seen_org[oid] = _line(o)
        for pr in o.get("projects") or []:
            pid = str(pr.get("id") or pr.get("name") or "")
            if not pid:
                raise _err(path, _line(pr), f"a project of organisation {oid!r} has no `id`", "give every project an `id`")
            if pid in seen_proj:
                raise _err(path, _line(pr), f"project id {pid!r} is used twice (first on line {seen_proj[pid]})",
                           "project ids are unique across the account; rename one")
            seen_proj[pid] = _line(pr)
            proj = Project(pid, str(pr.get("name") or pid), oid)
            gh = pr.get("github") or {}
            repos = gh.get("repos") if isinstance(gh, dict) else gh
            for i, r in enumerate(repos or []):
                line = repos.item_lines[i] if isinstance(repos, _LinedList) else None
                r = str(r).strip()
                if not REPO_RX.match(r):
                    raise _err(path, line, f"{r!r} is not a GitHub repository",
                               "write owner/name (e.g. acme/payments-api) or owner/* for all of an owner's repositories")
                proj.github_repos.append(r)
                scopes.append(Scope("github", r, account, oid, pid, line))
            jira = pr.get("jira") or {}
            keys = jira.get("projects") if isinstance(jira, dict) else jira
            for i, k in enumerate(keys or []):
                line = keys.item_lines[i] if isinstance(keys, _LinedList) else None
                k = str(k).strip()
                if not JIRA_KEY_RX.match(k):
                    raise _err(path, line, f"{k!r} is not a Jira project key", "write the key in capitals, e.g. PAY")
                proj.jira_projects.append(k)
                scopes.append(Scope("jira", k, account, oid, pid, line))
            if isinstance(jira, dict) and jira.get("jql"):
                proj.jira_jql = str(jira["jql"])
                scopes.append(Scope("jira", "jql:" + proj.jira_jql, account, oid, pid, _line(jira, "jql")))
            harness = pr.get("harness") or []
            if isinstance(harness, dict):
                harness = [harness]
            for h in harness:
                horg, hproj = str(h.get("org") or "default"), str(h.get("project") or "")
                if not hproj:
                    raise _err(path, _line(h), "a harness scope has no `project`",
                               "write `harness: {org: <org identifier>, project: <project identifier>, services: [...]}`")
                services = [str(s) for s in (h.get("services") or [])]
                proj.harness.append({"org": horg, "project": hproj, "services": services})
                if services:
                    lines = h.get("services").item_lines if isinstance(h.get("services"), _LinedList) else [None] * len(services)
                    for s, line in zip(services, lines):
                        scopes.append(Scope("harness", f"{horg}/{hproj}/{s}", account, oid, pid, line))
                else:
                    scopes.append(Scope("harness", f"{horg}/{hproj}", account, oid, pid, _line(h)))
            _project_events(pr.get("events"), proj, scopes, account, oid, pid, path)
            projects.append(proj)
    _check_unique(scopes, path)
    return SourcesConfig(path=path, account=account, start_date=start, runtime=_runtime(data, path),
                         integrations=_integrations(data, path), projects=projects, scopes=scopes)


def _project_events(ev, proj: Project, scopes: list[Scope], account: str, oid: str, pid: str, path) -> None:
    """A project's event files (docs/events.md): `events: {paths: [...], source_tool: .., timezone: ..}`
    or `events: [...]`; each entry a path / glob or a mapping with `path` and per-file settings."""
    if not ev:
        return
    entries = ev.get("paths") if isinstance(ev, dict) else ev
    if isinstance(entries, str):
        entries = [entries]
    if not isinstance(entries, list):
        raise _err(path, _line(ev), f"project {pid!r}: `events` must list files",
                   "write `events: {paths: [exports/deployments.csv]}` (see docs/events.md)")
    defaults = {k: v for k, v in (ev.items() if isinstance(ev, dict) else []) if k != "paths"}
    for i, e in enumerate(entries):
        line = entries.item_lines[i] if isinstance(entries, _LinedList) else _line(ev)
        item = {**defaults, **(dict(e) if isinstance(e, dict) else {"path": e})}
        if not item.get("path"):
            raise _err(path, line, f"project {pid!r}: an events entry has no `path`",
                       "give each entry a file path or glob, e.g. `- exports/jenkins/*.csv`")
        item["path"] = str(item["path"])
        item["line"] = line
        proj.events.append(item)
        scopes.append(Scope("events", item["path"], account, oid, pid, line))


def _check_unique(scopes: list[Scope], path) -> None:
    seen: dict[tuple[str, str], Scope] = {}
    for s in scopes:
        key = (s.integration, s.value.lower())
        if key in seen:
            first = seen[key]
            where = f"project {first.project!r}" + (f" (line {first.line})" if first.line else "")
            raise _err(path, s.line,
                       f"{s.integration} scope {s.value!r} is listed in project {s.project!r} and already in {where}",
                       "a source scope belongs to exactly one project: remove it from one of them")
        seen[key] = s
    # Harness: a whole project and one of its services in two different projects overlap.
    whole = {s.value.lower(): s for s in scopes if s.integration == "harness" and s.value.count("/") == 1}
    for s in scopes:
        if s.integration == "harness" and s.value.count("/") == 2:
            parent = whole.get(s.value.rsplit("/", 1)[0].lower())
            if parent is not None and parent.project != s.project:
                raise _err(path, s.line, f"harness service {s.value!r} (project {s.project!r}) is also covered by "
                           f"{parent.value!r} in project {parent.project!r}",
                           "list the services of that Harness project explicitly in each SEI project")


# --------------------------------------------------------------------------- credentials
@dataclass
class GitHubCredentials:
    """Either a token, or a GitHub App (app id, private key PEM, installation id)."""

    access_token: str | None = None
    app_id: str | None = None
    private_key: str | None = None
    installation_id: str | None = None

    @property
    def is_app(self) -> bool:
        return bool(self.app_id and self.private_key and self.installation_id)


def _secret(key: str) -> Any:
    import dlt
    try:
        return dlt.secrets.get(key)
    except Exception:  # noqa: BLE001 - an unreadable secrets file reads as "not set"
        return None


def github_credentials() -> GitHubCredentials:
    """From `.dlt/secrets.toml` `[sources.github]` or env `SOURCES__GITHUB__ACCESS_TOKEN`
    (a token), or `SOURCES__GITHUB__APP_ID`, `SOURCES__GITHUB__PRIVATE_KEY` (PEM text;
    or `..._PRIVATE_KEY_PATH`), `SOURCES__GITHUB__INSTALLATION_ID` (a GitHub App)."""
    c = GitHubCredentials(access_token=_secret("sources.github.access_token"),
                          app_id=_secret("sources.github.app_id"),
                          private_key=_secret("sources.github.private_key"),
                          installation_id=_secret("sources.github.installation_id"))
    key_path = _secret("sources.github.private_key_path")
    if not c.private_key and key_path:
        c.private_key = Path(str(key_path)).expanduser().read_text()
    for attr in ("app_id", "installation_id"):
        v = getattr(c, attr)
        if v is not None:
            setattr(c, attr, str(v))
    return c
