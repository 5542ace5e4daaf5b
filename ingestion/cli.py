"""`sei ingest`: placeholder until the connectors land."""
from __future__ import annotations

import typer


def ingest(source: str = typer.Option("all", help="github, jira, harness, events or all"),
           full_refresh: bool = typer.Option(False, "--full-refresh", help="drop cursors and reload everything"),
           plan: bool = typer.Option(False, "--plan", help="estimate the first sync's API cost and duration only")) -> None:
    """Load the configured sources into the warehouse's raw_* datasets."""
    raise typer.Exit(f"ingestion is not built yet (source={source})")
