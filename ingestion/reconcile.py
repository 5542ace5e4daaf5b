"""The nightly deletion pass: records deleted upstream become soft deletes.

Incremental syncs only see what changed, so a deleted Jira issue or a deleted repository
would otherwise stay in the warehouse forever. This pass asks each API which of the
records the warehouse holds still exist, as cheaply as the API allows, and stamps the
missing ones with `_sei_deleted_at` in the raw tables (staging turns that into
`is_deleted`; nothing is physically removed, so history stays explainable):

- GitHub: one GraphQL query per 50 repositories (`r0: repository(owner:, name:) { id }`,
  1 point each); a repository GitHub no longer resolves marks its rows in every raw
  table with a `repository` column. Pull requests themselves cannot be deleted on GitHub.
- Jira: per project, the ids of every issue that still exists, through `search/jql`
  without fields (ids only, up to 5,000 per page); issues the warehouse holds that are
  not listed are marked. A record that comes back later is simply loaded again by the
  next sync (dlt's merge rewrites the row, clearing the stamp).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path


from ingestion import config as cfgmod
from ingestion.http import HttpStats
from ingestion.destination import connect_warehouse
from ingestion.lock import writes_warehouse

DELETED_COL = "_sei_deleted_at"
GITHUB_BATCH = 50


@dataclass
class ReconcileResult:
    source: str
    checked: int = 0
    deleted: list[str] = field(default_factory=list)
    requests: int = 0
    error: str | None = None


def _tables_with(con, schema: str, column: str) -> list[str]:
    return [t for (t,) in con.execute(
        "select table_name from information_schema.columns where table_schema = ? and column_name = ? "
        "and table_name not like '\\_dlt%' escape '\\' order by 1", [schema, column]).fetchall()]


def _mark(con, schema: str, table: str, column: str, values: list, now: dt.datetime) -> int:
    cols = {c for (c,) in con.execute("select column_name from information_schema.columns where table_schema = ? "
                                      "and table_name = ?", [schema, table]).fetchall()}
    if DELETED_COL not in cols:
        con.execute(f'alter table "{schema}"."{table}" add column {DELETED_COL} timestamptz')
    before = con.execute(f'select count(*) from "{schema}"."{table}" where {DELETED_COL} is not null').fetchone()[0]
    # compared as text: Jira ids are numbers in one engine's raw table and text in the other's
    con.execute(f'update "{schema}"."{table}" set {DELETED_COL} = ? where cast("{column}" as varchar) in '
                f'(select unnest(?)) and {DELETED_COL} is null', [now, [str(v) for v in values]])
    return con.execute(f'select count(*) from "{schema}"."{table}" where {DELETED_COL} is not null').fetchone()[0] - before


def github_missing_repositories(cfg: cfgmod.SourcesConfig, repos: list[str], stats: HttpStats) -> list[str]:
    """The repositories among `repos` that GitHub no longer resolves."""
    from ingestion.github_api import make_api
    gh = cfg.github()
    creds = cfgmod.github_credentials()
    api = make_api(gh.base_url, cfg.runtime, stats, creds.access_token,
                   {"app_id": creds.app_id, "private_key": creds.private_key, "installation_id": creds.installation_id})
    missing = []
    for i in range(0, len(repos), GITHUB_BATCH):
        batch = repos[i:i + GITHUB_BATCH]
        parts = [f'r{k}: repository(owner: "{r.split("/")[0]}", name: "{r.split("/")[1]}") {{ id }}'
                 for k, r in enumerate(batch)]
        body = api.request("reconcile", "POST", gh.graphql_url, json={"query": "{ " + " ".join(parts) + " }"}).json()
        data = body.get("data") or {}
        errors = body.get("errors") or []
        unexpected = [e for e in errors if e.get("type") != "NOT_FOUND"]
        if unexpected:
            raise RuntimeError(f"GitHub GraphQL error while checking repositories: {unexpected[0].get('message')}")
        missing += [r for k, r in enumerate(batch) if data.get(f"r{k}") is None]
    return missing


def jira_existing_ids(cfg: cfgmod.SourcesConfig, project_key: str, stats: HttpStats) -> set[str]:
    """Ids of every issue of a project that exists now: ids-only search pages (Cloud
    returns only ids when no fields are asked for, up to 5,000 per page)."""
    from ingestion.jira_api import CLOUD, make_api, normalise_flavor
    j = cfg.integrations["jira"]
    flavor = normalise_flavor(j.options.get("flavor"))
    api = make_api(j.base_url, flavor, cfg.runtime, stats, cfgmod._secret("sources.jira.email"),
                   cfgmod._secret("sources.jira.api_token"), j.options.get("auth"))
    jql = f'project = "{project_key}"'
    ids: set[str] = set()
    if flavor == CLOUD:
        body: dict = {"jql": jql, "maxResults": 5000}
        while True:
            d = api.request("reconcile", "POST", "rest/api/3/search/jql", json=body).json()
            ids.update(str(i["id"]) for i in d.get("issues") or [])
            if not d.get("nextPageToken") or d.get("isLast") is True:
                return ids
            body["nextPageToken"] = d["nextPageToken"]
    start_at = 0
    while True:
        d = api.request("reconcile", "GET", "rest/api/2/search",
                        params={"jql": jql, "fields": "id", "startAt": start_at, "maxResults": 1000}).json()
        page = d.get("issues") or []
        ids.update(str(i["id"]) for i in page)
        start_at += len(page)
        if not page or start_at >= (d.get("total") or 0):
            return ids


@writes_warehouse()  # one writer at a time (ingestion/lock.py)
def reconcile(sources=("github",), config_path: str | Path | None = None, warehouse: Path | None = None,
              stats: HttpStats | None = None) -> list[ReconcileResult]:
    from core.settings import warehouse_path
    cfg = cfgmod.load(config_path)
    wh = warehouse or warehouse_path()
    stats = stats or HttpStats()
    now = dt.datetime.now(dt.timezone.utc)
    results = []
    for source in sources:
        res = ReconcileResult(source)
        results.append(res)
        try:
            with connect_warehouse(wh, read_only=True) as con:
                known = _known_scopes(con, source)
            if source == "github":
                res.checked = len(known)
                gone = github_missing_repositories(cfg, known, stats) if known else []
                if gone:
                    with connect_warehouse(wh, read_only=False) as con:
                        for table in _tables_with(con, "raw_github", "repository"):
                            _mark(con, "raw_github", table, "repository", gone, now)
                res.deleted = gone
            elif source == "jira":
                gone = []
                for key, held in known.items():
                    res.checked += len(held)
                    gone += sorted(set(held) - jira_existing_ids(cfg, key, stats))
                if gone:
                    with connect_warehouse(wh, read_only=False) as con:
                        _mark(con, "raw_jira", "issues", "id", gone, now)
                        if "issue_changelogs" in _tables_with(con, "raw_jira", "issue_id"):
                            _mark(con, "raw_jira", "issue_changelogs", "issue_id", gone, now)
                res.deleted = gone
            res.requests = stats.totals(source).requests
        except Exception as e:  # noqa: BLE001 - one source's failure must not stop the others
            res.error = f"{type(e).__name__}: {e}"
    return results


def _known_scopes(con, source: str):
    """What the warehouse holds and the API can confirm: repositories (GitHub), issue ids
    per project that are not yet marked deleted (Jira)."""
    from ingestion.destination import has_table
    if not has_table(con, "raw_github" if source == "github" else "raw_jira",
                     "repositories" if source == "github" else "issues"):
        return [] if source == "github" else {}
    if source == "github":
        return [r for (r,) in con.execute("select distinct repository from raw_github.repositories order by 1").fetchall()]
    if source == "jira":
        cols = {c for (c,) in con.execute("select column_name from information_schema.columns where "
                                          "table_schema = 'raw_jira' and table_name = 'issues'").fetchall()}
        alive = f"where {DELETED_COL} is null" if DELETED_COL in cols else ""
        out: dict[str, list[str]] = {}
        for key, i in con.execute(f"select project_key, id from raw_jira.issues {alive}").fetchall():
            out.setdefault(key, []).append(str(i))
        return out
    return [] if source == "github" else {}
