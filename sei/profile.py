"""`sei profile validate|apply|show`."""
from __future__ import annotations

from pathlib import Path

import typer

from ingestion.lock import locked_command, wait_option

profile_app = typer.Typer(help="Customer-tunable profiles: what counts as a deployment, a failure, a category...",
                          no_args_is_help=True)

DIR_HELP = "Folder of profile files (default: SEI_PROFILES_DIR, else the shipped profiles/); a kind whose file " \
           "is missing there uses the shipped default."


def _load(directory: Path | None, only: str | None = None):
    from core.profiles.base import ProfileErrors, load_all
    try:
        return load_all(directory, only)
    except ProfileErrors as e:
        for err in e.errors:
            typer.echo(f"error: {err}", err=True)
        typer.echo(f"{len(e.errors)} problem(s); nothing was applied.", err=True)
        raise typer.Exit(1) from None


@profile_app.command("validate")
def validate(directory: Path = typer.Option(None, "--dir", exists=True, file_okay=False, help=DIR_HELP)) -> None:
    """Check every profile and report all problems with file, line and fix (changes nothing)."""
    for item in _load(directory):
        typer.echo(f"ok  {item.kind:<13} {item.path}  ({', '.join(f'{t}: {len(f)} rows' for t, f in item.tables.items())})")


@profile_app.command("apply")
@locked_command  # one writer at a time (ingestion/lock.py)
def apply(directory: Path = typer.Option(None, "--dir", exists=True, file_okay=False, help=DIR_HELP),
          warehouse: Path = typer.Option(None, help="Warehouse file (default: SEI_WAREHOUSE)."),
          wait: bool = wait_option()) -> None:
    """Validate every profile, then write them to the warehouse (raw_config) in one transaction.
    The next dbt build uses them; an invalid profile changes nothing."""
    from rbac_policies.control import enforce
    from rbac_policies.org_changes import profile_requests
    from core.profiles.base import ProfileErrors, apply_profiles
    # access control (docs/access-control.md): goals per team, every other kind account-wide
    enforce(lambda: profile_requests(_load(directory), warehouse), "profile apply", warehouse=warehouse)
    try:
        loaded = apply_profiles(warehouse, directory)
    except ProfileErrors as e:
        for err in e.errors:
            typer.echo(f"error: {err}", err=True)
        typer.echo(f"{len(e.errors)} problem(s); nothing was applied.", err=True)
        raise typer.Exit(1) from None
    for item in loaded:
        typer.echo(f"applied {item.kind:<13} {item.path}")
    from ingestion.destination import mirror_if_postgres  # SEI_DESTINATION=postgres: dbt reads them there
    from core.settings import warehouse_path
    if mirror_if_postgres(warehouse or warehouse_path(), ("raw_config",)) is not None:
        typer.echo("raw_config copied to PostgreSQL")


def _kind(value: str | None) -> str | None:
    """An unknown kind is a usage error (exit 2), not an empty listing."""
    from core.profiles.base import kinds
    if value is not None and value not in kinds():
        raise typer.BadParameter(f"{value!r} is not one of {', '.join(kinds())}")
    return value


@profile_app.command("show")
def show(kind: str = typer.Argument(None, callback=_kind, help="One kind (efficiency, productivity, alignment, goals)."),
         directory: Path = typer.Option(None, "--dir", exists=True, file_okay=False, help=DIR_HELP)) -> None:
    """Print the validated profiles as the tables dbt reads."""
    for item in _load(directory, kind):
        typer.echo(f"# {item.kind} ({item.path})")
        for table, frame in item.tables.items():
            typer.echo(f"## raw_config.{table}")
            typer.echo(frame.to_string(index=False) if len(frame) else "(no rows)")
