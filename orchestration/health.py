"""Integration health in the UI: the ingest run log, a freshness check per integration (from
ops.ingest_runs, so a sync that runs but fails does not count as fresh) and the
all-integrations-healthy check on the integration_health mart."""

import datetime as dt

import dagster as dg
import duckdb
import pandas as pd

from core.settings import DEFAULT_FRESHNESS_LAG_HOURS, freshness_lag_hours, warehouse_path
from ingestion import pipeline
from ingestion.destination import read_frame
from orchestration.ingest import INGEST_ASSETS, WAREHOUSE_POOL, resource_key, step_lock


def _read(sql: str, params=None) -> pd.DataFrame | None:
    """From the local DuckDB file, where the ops run figures are written whatever the destination."""
    wh = warehouse_path()
    if not wh.exists():
        return None
    con = duckdb.connect(str(wh), read_only=True)
    try:
        return con.execute(sql, params or []).df()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


@dg.asset(group_name="ingest", kinds={"duckdb"}, pool=WAREHOUSE_POOL,
          deps=[k for a in INGEST_ASSETS for k in a.keys],
          description="ops.ingest_runs and ops.ingest_resources: per sync and resource, rows, requests, retries, "
                      "rate-limit waits and headroom, errors and cursors, appended by every ingest.")
def ingest_run_log() -> dg.MaterializeResult:
    with step_lock("ingest run log"):
        df = _read("""select source, status, finished_at, round(duration_s, 1) as duration_s, error_message
                  from ops.ingest_runs qualify row_number() over (partition by source order by finished_at desc) = 1
                  order by source""")
    if df is None or df.empty:
        return dg.MaterializeResult(metadata={"sources": 0})
    return dg.MaterializeResult(metadata={"sources": len(df), "failed": int((df.status == "failed").sum()),
                                          "last_runs": dg.MetadataValue.md(df.to_markdown(index=False))})


def last_success(source: str) -> tuple[dt.datetime | None, str | None]:
    """(finish of the last successful or partial sync, status of the last sync)."""
    df = _read("""select max(finished_at) filter (where status in ('success', 'partial')) as ok_at,
                         arg_max(status, finished_at) as last_status
                  from ops.ingest_runs where source = ?""", [source])
    if df is None or df.empty:
        return None, None
    ok_at, last_status = df.ok_at[0], df.last_status[0]
    ok_at = None if pd.isna(ok_at) else pd.Timestamp(ok_at).to_pydatetime()
    return ok_at, (None if pd.isna(last_status) else last_status)


def evaluate_freshness(source: str, lag_hours: float, now: dt.datetime | None = None) -> dg.AssetCheckResult:
    now = now or dt.datetime.now(dt.timezone.utc)
    ok_at, last_status = last_success(source)
    meta = {"allowed_lag_hours": lag_hours, "last_sync_status": last_status or "never"}
    if ok_at is None:
        if last_status == "skipped":
            return dg.AssetCheckResult(passed=True, metadata=meta,
                                       description=f"{source} is not configured in the sources file")
        return dg.AssetCheckResult(passed=False, metadata=meta, severity=dg.AssetCheckSeverity.ERROR,
                                   description=f"{source} has never synced successfully")
    lag = (now - ok_at).total_seconds() / 3600
    meta.update(last_success_at=ok_at.isoformat(), lag_hours=round(lag, 4))
    passed = lag <= lag_hours
    return dg.AssetCheckResult(
        passed=passed, metadata=meta, severity=dg.AssetCheckSeverity.ERROR,
        description=(f"{source}: last successful sync {lag:.2f} h ago (allowed {lag_hours:g} h)"
                     + ("" if passed else f"; the last sync {last_status}. Fix: see `sei doctor`")))


def build_freshness_checks() -> dg.AssetChecksDefinition:
    """One step for every source's freshness check: each step of a run is a process and a
    turn of the warehouse pool, and these four read one small table."""
    keys = {s: resource_key(s, pipeline._resource_names(s)[0]) for s in pipeline.BUILT_SOURCES}
    specs = [dg.AssetCheckSpec("freshness", asset=key,
                               description=f"The last successful {s} sync is within its allowed lag "
                                           f"(SEI_FRESHNESS_LAG_HOURS, default {DEFAULT_FRESHNESS_LAG_HOURS[s]:g} h).")
             for s, key in keys.items()]

    @dg.multi_asset_check(specs=specs, name="freshness_checks", pool=WAREHOUSE_POOL, can_subset=True)
    def _freshness(context: dg.AssetCheckExecutionContext):
        lags = freshness_lag_hours()
        selected = {k.asset_key for k in context.selected_asset_check_keys}
        with step_lock("freshness checks"):
            results = [(s, evaluate_freshness(s, lags[s])) for s, key in keys.items() if key in selected]
        for s, r in results:
            yield dg.AssetCheckResult(asset_key=keys[s], check_name="freshness", passed=r.passed,
                                      severity=r.severity, description=r.description, metadata=r.metadata)

    return _freshness


FRESHNESS_CHECKS = [build_freshness_checks()]


@dg.asset_check(asset=dg.AssetKey(["marts", "integration_health"]), name="all_integrations_healthy", pool=WAREHOUSE_POOL,
                description="Every integration's last sync succeeded and is within its lag (`sei doctor`).")
def all_integrations_healthy() -> dg.AssetCheckResult:
    with step_lock("integration health"):
        df = read_frame(warehouse_path(), "select * from marts.integration_health")  # where dbt built it
    if df is None:
        return dg.AssetCheckResult(passed=False, description="marts.integration_health is missing")
    bad = df[df.status == "unhealthy"]
    reasons = {}
    for row in bad.itertuples():
        reasons.setdefault(row.source_name, row.last_error_message if isinstance(row.last_error_message, str)
                           else f"last success {row.last_success_at}, lag over {row.max_lag_hours:g} h")
    return dg.AssetCheckResult(
        passed=not reasons, severity=dg.AssetCheckSeverity.ERROR,
        description=("all integrations healthy" if not reasons else
                     "unhealthy: " + "; ".join(f"{s}: {m}" for s, m in sorted(reasons.items()))[:2000]),
        metadata={"unhealthy": ", ".join(sorted(reasons)) or "none", "resources": len(df), **receiver_metadata()})


def receiver_metadata() -> dict:
    """The webhook receiver's counters per source (accepted, replays, rejected signatures,
    oversize, malformed, ignored event types), when a receiver has spooled anything."""
    from webhooks import report
    from webhooks import settings as wsettings
    path = wsettings.spool_path()
    counters = report.receiver_counters(path)
    if counters is None:
        return {}
    return {"webhook_receiver": dg.MetadataValue.md(report.markdown(counters)),
            "webhook_counters": dg.MetadataValue.json(counters["sources"]),
            "webhook_pending": counters["pending"]}
