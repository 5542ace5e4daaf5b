"""`sei doctor`: integration health as a table (core/health.py), the webhook receiver's
counters per source (webhooks/report.py), and a connection test per integration
(ingestion/credentials.py). Exit status 1 names the unhealthy integrations."""
from __future__ import annotations

from pathlib import Path

import typer

from core.health import NoHealthData, as_of_now, current_health, render, unhealthy


def _receiver() -> None:
    """The webhook receiver's counters per source, when a receiver has spooled anything
    (docs/realtime.md); shown, not counted in the exit status."""
    from webhooks import report, settings
    path = settings.spool_path()
    counters = report.receiver_counters(path)
    if counters is not None:
        typer.echo(f"\nwebhook receiver ({report.headline(path, counters)}):\n")
        typer.echo(report.render(counters))


def doctor(
    check_credentials_: bool = typer.Option(False, "--check-credentials",
                                            help="Also call each configured integration once to test its URL and "
                                                 "credentials, and say what is wrong."),
    sources: Path = typer.Option(None, "--sources", exists=True, dir_okay=False,
                                 help="Sources file (default: SEI_SOURCES, else sources.yml, else the demo's)."),
) -> None:
    """Integration health (last success, lag, rows, requests, retries, rate-limit headroom, last error) as a
    table; exit status 1 when an integration is unhealthy or a credentials test fails, naming it."""
    status = 0
    try:
        health = current_health()
        df = as_of_now(health.frame)
        typer.echo(f"integration health ({health.headline}):\n")
        typer.echo(render(df))
        bad = unhealthy(df)
        if bad:
            status = 1
            typer.echo("\nUnhealthy integrations: " + ", ".join(sorted(bad)))
            for name, why in sorted(bad.items()):
                typer.echo(f"  {name}: {why}")
        else:
            typer.echo("\nall integrations healthy")
    except NoHealthData as e:
        typer.echo(str(e), err=True)
        status = 1
    from orchestration.sensors import recent_failures
    failures = recent_failures(limit=5)
    if failures:  # recorded by the Dagster failure sensor; shown, not counted in the exit status
        typer.echo("\nrecent failed runs:")
        for f in failures:
            typer.echo(f"  {f['failed_at'][:16]}  {f['job_name']}  {f['run_id'][:8]}  {f['failed_steps'] or '-'}")
    _receiver()
    if check_credentials_:
        from ingestion.config import ConfigError
        from ingestion.credentials import check_credentials
        typer.echo("\ncredentials:")
        try:
            results = check_credentials(sources)
        except ConfigError as e:
            typer.echo(f"  {e}", err=True)
            raise typer.Exit(1) from None
        for c in results:
            typer.echo(f"  {c.integration:8s} {'ok  ' if c.ok else 'FAIL'}  {c.detail}")
        failed = [c.integration for c in results if not c.ok]
        if failed:
            status = 1
            typer.echo("Credential tests failed: " + ", ".join(failed))
    raise typer.Exit(status)
