"""`sei webhooks serve | status | apply` (docs/realtime.md)."""
from __future__ import annotations

import json

import typer

from core.cli_options import listen_host

webhooks_app = typer.Typer(help="Near-real-time: the signed-webhook receiver and its spool (docs/realtime.md).",
                           no_args_is_help=True)


@webhooks_app.command("serve")
def serve(host: str = typer.Option("127.0.0.1", callback=listen_host,
                                   help="Address to listen on (0.0.0.0: every interface)."),
          port: int = typer.Option(8766, min=0, max=65535, help="TCP port."),
          spool: str = typer.Option(None, help="Spool file (default SEI_WEBHOOK_SPOOL, else webhooks.sqlite beside "
                                               "the warehouse).")) -> None:
    """Receive GitHub, Jira, Harness and generic deployment/incident webhooks into the spool."""
    import socket

    from webhooks.app import serve as run
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:  # a usage error, before starting
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: a closing socket is no obstacle
        try:
            s.bind((host, port))
        except OSError as e:
            raise typer.BadParameter(f"cannot listen on {host}:{port}: {e.strerror or e}. Fix: pick another --port "
                                     f"or --host", param_hint="--port") from None
    run(host, port, spool)


@webhooks_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Deliveries per source and outcome, the backlog not yet applied, the last sei_fresh batch."""
    from webhooks import settings, spool
    st = spool.status(settings.spool_path())
    if as_json:
        typer.echo(json.dumps(st, indent=2))
        return
    if not st["exists"]:
        typer.echo(f"no spool at {settings.spool_path()}: no webhook received yet (`sei webhooks serve`)")
        return
    typer.echo(f"{'source':<9} " + " ".join(f"{o:>12}" for o in spool.OUTCOMES))
    for source, c in st["counters"].items():
        typer.echo(f"{source:<9} " + " ".join(f"{c.get(o, 0):>12}" for o in spool.OUTCOMES))
    typer.echo(f"pending (not applied yet): {st['pending']}" + (f", oldest received {st['oldest_pending']}"
                                                                 if st["pending"] else ""))
    if st["last_batch"]:
        b = st["last_batch"]
        typer.echo(f"last batch: run {b['run_id'][:8]} through seq {b['last_seq']}, {b['events']} events, "
                   f"{b['status']}" + (f" at {b['finished_at']}" if b["finished_at"] else "")
                   + (f": {b['message']}" if b["message"] else ""))


@webhooks_app.command("apply")
def apply(no_publish: bool = typer.Option(False, "--no-publish", help="Do not republish the serving file.")) -> None:
    """Apply the pending deliveries now, without Dagster (what a sei_fresh run does)."""
    from ingestion.lock import WarehouseLocked
    from webhooks.apply import apply_pending
    try:
        res = apply_pending(publish=not no_publish, say=lambda line: typer.echo(line, err=True))
    except WarehouseLocked as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"applied {res.newly_applied} of {res.events} deliveries through seq {res.last_seq}"
               + (f"; problems: {'; '.join(res.problems)}" if res.problems else ""))
