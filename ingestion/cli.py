"""`sei ingest`: load the configured sources into the warehouse's raw_* datasets.

    sei ingest                      # every built source, incrementally
    sei ingest --source github      # one source
    sei ingest --full-refresh       # drop the source's tables and cursors, reload since start_date
    sei ingest --plan               # estimate a first sync's API cost and duration, load nothing
    sei ingest --reconcile-deletes  # also run the deletion pass (soft deletes; see ingestion/reconcile.py)

What to read comes from the sources file (`sources.yml`, or `SEI_SOURCES`; see
sources.example.yml), credentials from `.dlt/secrets.toml` or `SOURCES__<SOURCE>__...`
environment variables, the warehouse from `SEI_WAREHOUSE`.

Exit status: 0 all loaded, 1 a source failed (nothing loaded for it: bad credentials,
bad configuration, ..., or another process is writing the warehouse and --no-wait was
given: the message names it, and ops.ingest_runs keeps the refused run as failed), 2 partial (some repositories/scopes failed, the rest loaded; the
messages are printed and kept in ops.ingest_resources).
"""
from __future__ import annotations

import typer

from ingestion.config import ConfigError
from ingestion.lock import WarehouseLocked, wait_option

KNOWN = ("github", "jira", "harness", "events")


def _sources(source: str) -> list[str]:
    if source == "all":
        return list(KNOWN)
    names = [s.strip() for s in source.split(",") if s.strip()]
    bad = [n for n in names if n not in KNOWN]
    if bad:
        raise typer.BadParameter(f"unknown source {', '.join(bad)}: use {', '.join(KNOWN)} or all",
                                 param_hint="--source")
    return names


def ingest(source: str = typer.Option("all", help="github, jira, harness, events or all"),
           full_refresh: bool = typer.Option(False, "--full-refresh", help="drop cursors and reload everything"),
           plan: bool = typer.Option(False, "--plan", help="estimate the first sync's API cost and duration only"),
           reconcile_deletes: bool = typer.Option(False, "--reconcile-deletes",
                                                  help="after loading, mark records deleted upstream as soft deletes "
                                                       "(the nightly pass)"),
           wait: bool = wait_option()) -> None:
    """Load the configured sources into the warehouse's raw_* datasets."""
    from ingestion import pipeline

    names = _sources(source)
    from ingestion.config import demo_sources_path, sources_path
    if sources_path() == demo_sources_path():  # no sources file of one's own: say whose this is
        typer.echo(f"reading the demo's sources file {demo_sources_path()}: its simulator runs only during `sei demo` "
                   f"and `sei dagster --demo`; for your own sources copy sources.example.yml to sources.yml",
                   err=True)
    built = [n for n in names if n in pipeline.BUILT_SOURCES]
    not_built = [n for n in names if n not in pipeline.BUILT_SOURCES]
    if not_built:
        typer.echo(f"not built yet, skipped: {', '.join(not_built)}", err=True)
    if not built:
        raise typer.Exit(1)
    try:
        if plan:
            p = pipeline.plan(built)
            typer.echo(pipeline.format_plan(p))
            raise typer.Exit(1 if any("error" in v for v in p.values()) else 0)
        from ingestion.lock import writer_lock
        # one lock for the load and the deletion pass after it (pipeline.run takes it again)
        with writer_lock(None, wait=wait, say=lambda line: typer.echo(line, err=True)):
            result = _run(pipeline, built, full_refresh, reconcile_deletes, wait)
    except ConfigError as e:
        typer.echo(f"configuration error: {e}", err=True)
        raise typer.Exit(1) from None
    except WarehouseLocked as e:
        if not getattr(e, "recorded", False):   # refused before pipeline.run, which records its own
            pipeline.record_refused(built, e)
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    if result.status == "failed":
        raise typer.Exit(1)
    if result.status == "partial":
        raise typer.Exit(2)


def _run(pipeline, built: list[str], full_refresh: bool, reconcile_deletes: bool, wait: bool):
    result = pipeline.run(built, full_refresh=full_refresh, progress=True, wait=wait,
                          echo=lambda line: typer.echo(line, err=True))
    for s in result.sources:
        line = f"{s.source}: {s.status}, {s.rows:,} rows, {s.requests:,} requests in {s.duration_s:.1f}s (run {result.run_id})"
        typer.echo(line)
        if s.error_message:
            typer.echo(f"  {s.error_message}", err=True)
    if reconcile_deletes:
        from ingestion.reconcile import reconcile
        for r in reconcile([n for n in built if n in ("github", "jira")]):
            typer.echo(f"{r.source}: reconciled {r.checked:,} scopes/records, {len(r.deleted)} deleted upstream"
                       + (f": {', '.join(r.deleted[:10])}" if r.deleted else "") + (f"  ERROR {r.error}" if r.error else ""))
    return result
