"""Ingestion assets: one multi-asset per source, one asset per dlt resource.

Why not dagster-dlt's `@dlt_assets`: it would call `pipeline.run` on the source itself and
yield one materialisation per resource, which is the asset shape we keep (same keys,
`dlt_<source>_<resource>`, so the dbt sources' `meta.dagster.asset_key` connect), but it
would bypass `ingestion.pipeline.run`: the per-resource request, retry, rate-limit and error
figures in ops.ingest_*, the partial status when some repositories fail, the
full-refresh and cursor handling, and the rule that one failing source never stops the
others. `sei ingest` and the schedules must load the same way, so the assets call it.
`@dlt_assets(dlt_source=..., dlt_pipeline=...)` also needs the built DltSource when the code
location loads, and ours is built from the sources file and secrets, which the webserver
must not need to show the graph.

A source that failed still reports its resources (status `failed`, the error, 0 rows) and
its `ingest_succeeded` checks fail: Dagster would otherwise skip every downstream step, and
the marts, the integration health model and the serving publish must still run for the
integrations that did load. A failed source is first retried (`SEI_INGEST_RETRIES`).
"""

import datetime as dt

import dagster as dg

from core.settings import warehouse_path
from ingestion import pipeline
from ingestion.lock import writer_lock
from orchestration import expectations, settings

WAREHOUSE_POOL = "warehouse"  # the steps that write the warehouse throughout; dagster.yaml limits it to 1
# Quick warehouse steps retry when something outside Dagster (a `sei` command) holds the file.
WAREHOUSE_RETRY = dg.RetryPolicy(max_retries=3, delay=15, backoff=dg.Backoff.EXPONENTIAL)


PRIORITY = {"github": 3, "jira": 2, "harness": 1}  # longest first: the large org's syncs took 22, 13, 4 min


def step_lock(what: str):
    """The warehouse's writer lock for a step of the pool that opens the DuckDB file, even to
    read it: the ingest steps are not in the pool and load meanwhile, and DuckDB refuses
    a reader while another process writes the file."""
    return writer_lock(warehouse_path(), f"dagster: {what}")


class IngestConfig(dg.Config):
    full_refresh: bool = False          # weekly: drop the dlt state and reload from start_date
    reconcile_deletions: bool = False   # nightly: soft-delete records deleted upstream


def resource_key(source: str, resource: str) -> dg.AssetKey:
    return dg.AssetKey(f"dlt_{source}_{resource}")


def _resources(source: str) -> list[str]:
    return pipeline._resource_names(source)


def _ops_metadata(r) -> dict:
    return {"status": r.status, "rows": dg.MetadataValue.int(r.rows), "requests": dg.MetadataValue.int(r.requests),
            "retries": dg.MetadataValue.int(r.retries), "wait_seconds": dg.MetadataValue.float(float(r.wait_seconds)),
            "min_ratelimit_remaining": r.min_ratelimit_remaining if r.min_ratelimit_remaining is not None else "n/a",
            "error": r.error_message or "", "cursor": r.cursor_value or ""}


def _suite_tables(source: str) -> dict[str, str]:
    """raw table -> the resource that writes it, for the tables with an expectation suite."""
    return {table: table for (src, table) in expectations.SUITES if src == source and table in _resources(source)}


def build_ingest_asset(source: str) -> dg.AssetsDefinition:
    resources = _resources(source)
    suites = _suite_tables(source)
    specs = [dg.AssetSpec(resource_key(source, r), group_name="ingest", kinds={"dlt", "duckdb"},
                          description=f"raw_{source}.{r} (and its nested tables), loaded by ingestion/{source}.py "
                                      f"with incremental cursors and merge on the primary key.",
                          metadata={"dataset": f"raw_{source}", "resource": r})
             for r in resources]
    checks = [dg.AssetCheckSpec("ingest_succeeded", asset=resource_key(source, r),
                                description=f"The last {source} sync loaded {r} without errors.") for r in resources]
    checks += [dg.AssetCheckSpec("new_rows_meet_expectations", asset=resource_key(source, res),
                                 description=f"great-expectations suite on the rows of raw_{source}.{table} this sync "
                                             f"loaded; failing rows are flagged in quarantine.flagged_rows.")
               for table, res in suites.items()]

    # Not in the warehouse pool: the sources' steps read their APIs side by side and take the
    # warehouse's writer lock only to read their state and to load (ingestion/lock.py); a
    # pool slot held for the whole step would make the four extracts wait for each other.
    @dg.multi_asset(name=f"ingest_{source}", specs=specs, check_specs=checks,
                    # the longest syncs start first when the executor has fewer slots than sources
                    op_tags={"dagster/priority": str(PRIORITY.get(source, 0))},
                    description=f"Sync {source} into raw_{source} through ingestion.pipeline.run: extract and "
                                f"normalize beside the other sources, load under the warehouse's writer lock.",
                    )
    def _ingest(context: dg.AssetExecutionContext, config: IngestConfig):
        since = dt.datetime.now(dt.timezone.utc)
        # pipeline.run takes the warehouse's writer lock to load (ingestion/lock.py): another
        # writer makes this step wait for it, with a log line naming it
        result = pipeline.run([source], full_refresh=config.full_refresh, progress=True, echo=context.log.info,
                              command=f"dagster run {context.run_id[:8]}: ingest {source}")
        s = result.source(source)
        retries = settings.ingest_retries()
        if s.status == "failed" and context.retry_number < retries:
            context.log.warning(f"{source} failed ({s.error_message}); attempt {context.retry_number + 1} of "
                                f"{retries + 1}, retrying in {settings.ingest_retry_delay_s():.0f}s")
            raise dg.RetryRequested(max_retries=retries, seconds_to_wait=settings.ingest_retry_delay_s())
        reconciled = {}
        if config.reconcile_deletions and s.status != "failed" and source in ("github", "jira"):
            from ingestion.reconcile import reconcile
            for rr in reconcile([source]):
                reconciled = {"deletion_pass_checked": rr.checked, "deletion_pass_deleted": len(rr.deleted),
                              "deletion_pass_error": rr.error or ""}
                if rr.error:
                    context.log.warning(f"{source} deletion pass failed: {rr.error}")
        by_name = {r.resource: r for r in s.resources}
        for r in resources:
            rr = by_name.get(r)
            meta = {"status": s.status, "error": s.error_message or ""} if rr is None else _ops_metadata(rr)
            meta.update(run_id=result.run_id, source_status=s.status, **(reconciled if r == resources[0] else {}),
                        **({f"{k}_seconds": dg.MetadataValue.float(round(v, 2)) for k, v in s.phases.items()}
                           if r == resources[0] else {}))
            yield dg.MaterializeResult(asset_key=resource_key(source, r), metadata=meta)
            status = rr.status if rr else s.status
            error = (rr.error_message if rr and rr.error_message else s.error_message) or ""
            ok = status in ("success", "skipped")
            yield dg.AssetCheckResult(
                asset_key=resource_key(source, r), check_name="ingest_succeeded", passed=ok,
                severity=dg.AssetCheckSeverity.ERROR if status == "failed" else dg.AssetCheckSeverity.WARN,
                description=f"{source}.{r}: {status}" + ("" if ok else f": {error}"),
                metadata={"status": status, "error": error})
        with writer_lock(warehouse_path(), f"dagster run {context.run_id[:8]}: expectations {source}"):
            batches = {b.table: b for b in expectations.validate_new_batches(warehouse_path(), source, since)} \
                if s.status != "failed" and warehouse_path().exists() else {}
        for table, res in suites.items():
            b = batches.get(table)
            if b is None:
                yield dg.AssetCheckResult(asset_key=resource_key(source, res), check_name="new_rows_meet_expectations",
                                          passed=True, description="no new rows in this sync", metadata={"rows": 0})
                continue
            failing = [r for r in b.results if not r.success]
            yield dg.AssetCheckResult(
                asset_key=resource_key(source, res), check_name="new_rows_meet_expectations", passed=not failing,
                severity=dg.AssetCheckSeverity.WARN,
                description=("all expectations met" if not failing else
                             "; ".join(f"{r.rule}: {r.unexpected} rows" for r in failing)
                             + f" (flagged in quarantine.flagged_rows, {b.flagged} rows)"),
                metadata={"rows": b.rows, "flagged_rows": b.flagged,
                          "expectations": dg.MetadataValue.md(
                              expectations.summary_frame([b]).to_markdown(index=False))})

    return _ingest


INGEST_ASSETS = [build_ingest_asset(s) for s in pipeline.BUILT_SOURCES]
