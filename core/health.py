"""Integration health as `sei doctor` shows it.

Health comes from the `integration_health` mart (built by every run). The working
warehouse is read when no run holds it; otherwise the published serving file, which has
the same mart as of the last complete run. When the ops tables hold an ingest newer than
the mart's build (`sei ingest` without dbt since), or the mart is not built yet, health is
computed from the ops tables with the mart's rules, and the headline says which was read.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import duckdb
import pandas as pd

from core.settings import warehouse_path

COLUMNS = ["source_name", "resource_name", "status", "last_run_at", "last_success_at", "lag_hours", "max_lag_hours",
           "rows_last_run", "requests_last_run", "retries_last_run", "min_ratelimit_remaining", "last_error_message"]
HEADERS = ["integration", "resource", "status", "last run (UTC)", "last success (UTC)", "lag h", "max h", "rows",
           "requests", "retries", "min rate left", "last error"]


class NoHealthData(RuntimeError):
    pass


def read_health(warehouse: Path | None = None, serving: Path | None = None) -> tuple[pd.DataFrame, Path | str]:
    from core.publish import serving_path
    from ingestion.destination import kind, postgres_settings, read_frame
    if kind() == "postgres":    # dbt builds the mart there; PostgreSQL has no single-writer lock
        df = read_frame(warehouse or warehouse_path(),
                        "select * from marts.integration_health order by source_name, resource_name")
        s = postgres_settings()
        where = f"postgresql://{s['host']}:{s['port']}/{s['dbname']}"
        if df is None:
            raise NoHealthData(f"{where}: no marts.integration_health. Fix: run the main job (the Dagster job "
                               "sei_refresh, or `sei ingest` then `dbt build`) so the integration_health model is built.")
        return df, where
    candidates = [Path(warehouse or warehouse_path()), Path(serving or serving_path())]
    problems = []
    for path in candidates:
        if not path.exists():
            problems.append(f"{path}: no such file")
            continue
        try:
            con = duckdb.connect(str(path), read_only=True)
        except duckdb.Error as e:  # a run holds the warehouse: fall back to the serving copy
            problems.append(f"{path}: {str(e).splitlines()[0]}")
            continue
        try:
            return con.execute("select * from marts.integration_health order by source_name, resource_name").df(), path
        except duckdb.CatalogException:
            problems.append(f"{path}: no marts.integration_health")
        finally:
            con.close()
    raise NoHealthData("no integration health to show (" + "; ".join(problems) + "). Fix: run the main job "
                       "(`sei demo`, or the Dagster job sei_refresh) so the integration_health model is built.")


# The integration_health mart's rules (dbt_project/models/marts/ops/integration_health.sql),
# applied to the ops tables directly for the time between an ingest and the next dbt build.
# tests/test_orchestration_health.py checks both give the same rows from the same run log.
OPS_HEALTH_SQL = """
with resources as (
    select run_id, source as source_name, resource as resource_name, status, "rows" as rows_last_run,
           requests as requests_last_run, retries as retries_last_run, wait_seconds as wait_seconds_last_run,
           min_ratelimit_remaining, error_message, timezone('UTC', finished_at) as finished_at
    from ops.ingest_resources
    qualify row_number() over (partition by run_id, source, resource order by finished_at desc) = 1
), last_run as (
    select * from resources
    qualify row_number() over (partition by source_name, resource_name order by finished_at desc, run_id desc) = 1
), last_success as (
    select source_name, resource_name, max(finished_at) as last_success_at from resources
    where status in ('success', 'partial') group by all
), last_error as (
    select source_name, resource_name, finished_at as last_error_at, error_message as last_error_message
    from resources where error_message is not null
    qualify row_number() over (partition by source_name, resource_name order by finished_at desc, run_id desc) = 1
)
select r.source_name, r.resource_name, r.status as last_status, r.run_id as last_run_id,
       r.finished_at as last_run_at, s.last_success_at, r.rows_last_run, r.requests_last_run, r.retries_last_run,
       r.wait_seconds_last_run, r.min_ratelimit_remaining, e.last_error_at, e.last_error_message
from last_run r
left join last_success s using (source_name, resource_name)
left join last_error e using (source_name, resource_name)
order by r.source_name, r.resource_name"""
DEFAULT_MAX_LAG_HOURS = 25.0  # the mart's var sei_health_default_max_lag_hours: a source with no lag of its own


def health_from_ops(con: duckdb.DuckDBPyConnection, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """integration_health's rows computed from ops.ingest_resources on `con`, lag measured to
    `now` (naive UTC; default: the clock)."""
    from core.settings import freshness_lag_hours
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None)
    df = con.execute(OPS_HEALTH_SQL).df()
    lags = freshness_lag_hours()  # the knob the Dagster job passes to the mart
    df["max_lag_hours"] = [float(lags.get(s, DEFAULT_MAX_LAG_HOURS)) for s in df.source_name]
    df["checked_at"] = now
    df["lag_hours"] = (now - pd.to_datetime(df.last_success_at)).dt.total_seconds() / 3600
    # The mart's status rules; later lines win, as the earlier branches of its `case` do.
    df["status"] = "healthy"
    df.loc[df.last_status == "partial", "status"] = "degraded"
    df.loc[(df.last_status == "failed") | df.last_success_at.isna() | (df.lag_hours > df.max_lag_hours),
           "status"] = "unhealthy"
    df.loc[(df.last_status == "skipped") & df.last_success_at.isna(), "status"] = "not_configured"
    return df


def _ops_health(warehouse: Path) -> tuple[pd.DataFrame, pd.Timestamp] | None:
    """(health from the ops tables, finish of the last ingest), or None when they cannot be
    read: no file, no ops tables yet, or a run holds the file for writing."""
    if not warehouse.exists():
        return None
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
    except duckdb.Error:
        return None
    try:
        last = con.execute("select max(timezone('UTC', finished_at)) from ops.ingest_resources").fetchone()[0]
        return (health_from_ops(con), pd.Timestamp(last)) if last is not None else None
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


@dataclasses.dataclass
class Health:
    frame: pd.DataFrame
    headline: str  # what was read, and why that


def current_health(warehouse: Path | None = None, serving: Path | None = None) -> Health:
    """The integration_health mart, unless the ops tables hold a newer ingest than its last
    build (or it is missing): then health computed from the ops tables, saying so."""
    warehouse = Path(warehouse or warehouse_path())  # the ops run figures are in this file whatever the destination
    try:
        mart, where = read_health(warehouse, serving)
        missing = None
    except NoHealthData as e:
        mart, where, missing = None, None, e
    ops = _ops_health(warehouse)
    if mart is not None:
        built = pd.to_datetime(mart.checked_at).max() if "checked_at" in mart.columns and len(mart) else None
        if ops is None or (built is not None and not pd.isna(built) and built >= ops[1]):
            return Health(mart, f"{where}, built {_cell(built)} UTC, lag measured to now")
        why = f"marts.integration_health in {where} was built {_cell(built)} UTC, before the last ingest"
    elif ops is None:
        raise missing
    else:
        why = "marts.integration_health is not built yet"
    return Health(ops[0], f"from the ops tables in {warehouse}, last ingest {_cell(ops[1])} UTC: {why}; "
                          f"lag measured to now")


def as_of_now(df: pd.DataFrame, now: pd.Timestamp | None = None) -> pd.DataFrame:
    """Lag measured to now, not to when the mart was built: if runs stop, the mart is not
    rebuilt, and a lag frozen at build time would say healthy forever."""
    now = now or pd.Timestamp.now(tz="UTC").tz_localize(None)
    df = df.copy()
    success = pd.to_datetime(df.last_success_at, utc=True).dt.tz_localize(None)  # naive UTC on both engines
    df["lag_hours"] = (now - success).dt.total_seconds() / 3600
    stale = df.status.isin(["healthy", "degraded"]) & (df.lag_hours > df.max_lag_hours)
    df.loc[stale, "status"] = "unhealthy"
    return df


def _cell(v, width: int = 60) -> str:
    if v is None or (isinstance(v, float) and pd.isna(v)) or v is pd.NaT:
        return ""
    if isinstance(v, pd.Timestamp):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, float):
        return f"{v:.2f}"
    s = " ".join(str(v).split())
    return s if len(s) <= width else s[:width - 1] + "…"


def render(df: pd.DataFrame) -> str:
    rows = [[_cell(r[c]) for c in COLUMNS if c in df.columns] for _, r in df.iterrows()]
    heads = [h for h, c in zip(HEADERS, COLUMNS) if c in df.columns]
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(heads)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(heads), line(["-" * w for w in widths]), *map(line, rows)])


def unhealthy(df: pd.DataFrame) -> dict[str, str]:
    """integration -> why, for every integration with an unhealthy resource."""
    out: dict[str, str] = {}
    for r in df[df.status == "unhealthy"].itertuples():
        if isinstance(r.last_error_message, str) and r.last_status == "failed":
            why = r.last_error_message
        elif r.last_success_at is None or pd.isna(r.last_success_at):
            why = "never loaded successfully"
        else:
            why = f"last success {r.lag_hours:.1f} h ago (allowed {r.max_lag_hours:g} h)"
        out.setdefault(r.source_name, why)
    return out
