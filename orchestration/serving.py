"""The serving publish: the marts copied to the file BI tools read, swapped in atomically."""

import dagster as dg

from orchestration.ingest import WAREHOUSE_POOL, WAREHOUSE_RETRY, step_lock


def build_serving_publish(dbt_assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    @dg.asset(group_name="serving", kinds={"duckdb"}, pool=WAREHOUSE_POOL, deps=list(dbt_assets_def.keys),
              retry_policy=WAREHOUSE_RETRY,
              description="Every table of schema marts, copied from the working warehouse (SEI_WAREHOUSE) to a new "
                          "DuckDB file swapped in as SEI_SERVING with os.replace: BI readers never wait for a "
                          "refresh nor see half of one. Only tables whose content changed are written again; "
                          "the rest come from the previous file (core/publish.py).")
    def serving_publish(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        with step_lock("serving publish"):
            return _publish(context)

    return serving_publish


def _publish(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    from ingestion.destination import kind
    from rbac_policies.publish import publish_policies
    from core.publish import publish_serving
    if kind() == "postgres":
        # the marts are in PostgreSQL, where BI tools read them (row-level security with
        # SEI_RBAC_POSTGRES=in_place); there is no DuckDB copy to publish
        access = publish_policies()
        context.log.info("SEI_DESTINATION=postgres: the marts are served from PostgreSQL; no serving file")
        return dg.MaterializeResult(metadata={"served_from": "postgresql",
                                              "access_control": dg.MetadataValue.json(access)})
    res = publish_serving()
    context.log.info(res.summary())
    # per-scope files / PostgreSQL row-level security re-applied after every build
    # (docs/access-control.md); a no-op without SEI_RBAC_POLICY
    access = publish_policies()
    return dg.MaterializeResult(metadata={
        "path": dg.MetadataValue.path(str(res.path)), "tables": len(res.tables),
        "rows": res.rows, "duration_s": round(res.duration_s, 2),
        "publish": "full" if res.full else "incremental", "full_reason": res.reason,
        "tables_rewritten": len(res.rewritten), "tables_kept": len(res.kept), "size_bytes": res.size_bytes,
        "access_control": dg.MetadataValue.json(access)})
