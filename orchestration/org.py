"""The org import, identity resolution and the customer profiles, as assets before dbt."""

import hashlib

import dagster as dg

from core.settings import warehouse_path
from orchestration import settings
from orchestration.ingest import INGEST_ASSETS, WAREHOUSE_POOL, WAREHOUSE_RETRY, step_lock


def _mirror(schema: str) -> None:
    """SEI_DESTINATION=postgres: dbt builds there, so the org and profiles written to the
    local DuckDB file are mirrored to it, as the `sei org` and `sei profile` commands do."""
    from ingestion.destination import mirror_if_postgres
    mirror_if_postgres(warehouse_path(), (schema,))


def _files_digest(files) -> str:
    h = hashlib.sha256()
    for p in [files.developers, *files.trees, files.memberships, files.services, files.overrides]:
        if p is not None and p.exists():
            h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@dg.asset(group_name="org", kinds={"duckdb"}, pool=WAREHOUSE_POOL, retry_policy=WAREHOUSE_RETRY,
          description="Org files (developers, org trees, memberships, services, identity overrides) from "
                      "SEI_ORG_DIR, validated and imported into raw_org as an effective-dated version. "
                      "Unchanged files are not re-imported; a rejected import keeps the last good org.")
def org_import(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    with step_lock("org import"):
        return _org_import(context)


def _org_import(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from ingestion.org.store import connect, has_schema, import_org, latest_import
    from ingestion.org.validate import OrgFiles
    folder = settings.org_dir()
    files = OrgFiles.from_dir(folder)
    if not files.developers.exists():
        raise dg.Failure(f"{files.developers}: no developers file. Fix: put the org files (developers.csv, "
                         f"org_tree_*.csv, ...) in that folder or set SEI_ORG_DIR to theirs (docs/org-files.md).",
                         allow_retries=False)
    digest = _files_digest(files)
    wh = warehouse_path()
    current = None
    if wh.exists():
        con = connect(wh, read_only=True)
        try:
            current = latest_import(con) if has_schema(con) else None
        finally:
            con.close()
    last = context.instance.get_latest_materialization_event(context.asset_key)
    last_digest = last.asset_materialization.metadata.get("files_sha256") if last and last.asset_materialization else None
    if current is not None and last_digest is not None and last_digest.value == digest:
        return dg.MaterializeResult(metadata={"status": "unchanged", "import_id": int(current["import_id"]),
                                              "files_sha256": digest, "folder": str(folder)})
    result = import_org(files, warehouse=wh)
    if not result.ok:
        raise dg.Failure(description=f"org import rejected ({len(result.errors)} errors); the last good org stays:\n"
                                     + "\n".join(str(i) for i in result.errors[:20]),
                         metadata={"errors": len(result.errors)}, allow_retries=False)
    for w in result.warnings:
        context.log.warning(str(w))
    _mirror("raw_org")
    return dg.MaterializeResult(metadata={"status": result.status, "import_id": result.import_id,
                                          "summary": result.summary(), "files_sha256": digest,
                                          "folder": str(folder), "warnings": len(result.warnings)})


@dg.asset(group_name="org", kinds={"duckdb"}, pool=WAREHOUSE_POOL, retry_policy=WAREHOUSE_RETRY,
          deps=[org_import, *[k for a in INGEST_ASSETS for k in a.keys]],
          description="Every tool account seen in the raw data matched to a developer (email, then login/name; "
                      "overrides win), with the rule kept as provenance, in raw_org.identity_matches.")
def identity_resolution() -> dg.MaterializeResult:
    from ingestion.org.identities import resolve_warehouse
    res = resolve_warehouse(warehouse_path())
    _mirror("raw_org")
    meta = {k: v for k, v in res.figures.items() if isinstance(v, (int, float, str))}
    return dg.MaterializeResult(metadata={"import_id": res.import_id, "accounts": len(res.matches), **meta})


@dg.asset(group_name="org", kinds={"duckdb"}, pool=WAREHOUSE_POOL, retry_policy=WAREHOUSE_RETRY,
          description="Customer-tunable profiles (YAML in SEI_PROFILES_DIR, else the shipped profiles/), validated "
                      "together and written to raw_config in one transaction; an invalid profile changes nothing.")
def profiles() -> dg.MaterializeResult:
    from core.profiles.base import ProfileError, ProfileErrors, apply_profiles, profiles_dir
    try:
        loaded = apply_profiles(warehouse_path(), profiles_dir())
    except (ProfileErrors, ProfileError) as e:
        raise dg.Failure(description=f"profiles refused, nothing changed:\n{e}", allow_retries=False) from None
    _mirror("raw_config")
    return dg.MaterializeResult(metadata={"folder": str(profiles_dir()),
                                          "profiles": ", ".join(f"{x.kind} ({x.path.name})" for x in loaded),
                                          "tables": ", ".join(sorted(t for x in loaded for t in x.tables))})


ORG_ASSETS = [org_import, identity_resolution, profiles]
