"""`sei publish` and `sei rbac validate|show|audit` (docs/access-control.md).

    sei publish                                   # serving file for BI (all marts, no scoping)
    sei publish --scopes                          # + one DuckDB file per principal, only its rows
    sei publish --scopes --format parquet         # Parquet folders instead (or both)
    sei publish --target postgres                 # roles + row-level security on PostgreSQL
    sei publish --target postgres --in-place      # PostgreSQL is the warehouse (after dbt build)
    sei rbac validate                             # the policy, against the current org
    sei rbac show --principal elena               # what a principal may see
"""
from __future__ import annotations

from pathlib import Path
from enum import Enum
from typing import Literal

import typer

from ingestion.lock import locked_command, wait_option

rbac_app = typer.Typer(help="Access policy: validate it, show what a principal sees, read the audit log "
                            "(docs/access-control.md).", no_args_is_help=True)

H_POLICY = "Policy file (default: SEI_RBAC_POLICY)."
H_WH = "Warehouse DuckDB file (default: SEI_WAREHOUSE, else warehouse/sei.duckdb)."
H_SOURCES = "Sources file with the account's organisations and projects (default: SEI_SOURCES, else sources.yml)."


def _policy(policy: Path | None) -> Path:
    from rbac_policies.policy import policy_path
    p = policy_path(policy)
    if p is None:
        typer.echo("error: no policy: pass --policy or set SEI_RBAC_POLICY (start from "
                   "rbac_policies/examples/policy.yml). Without one the warehouse is in single-administrator mode "
                   "and has no scopes to publish.", err=True)
        raise typer.Exit(2)
    return p


def _fail(e: Exception) -> None:
    for line in str(e).splitlines():
        typer.echo(f"error: {line}", err=True)
    raise typer.Exit(1)


class ScopeFormat(str, Enum):
    """Formats of the scope extracts (typer checks the values: exit 2 naming the valid ones)."""
    duckdb = "duckdb"
    parquet = "parquet"


@locked_command  # one writer at a time (ingestion/lock.py)
def publish(
    scopes: bool = typer.Option(False, "--scopes", help="Also write one file per principal and group holding only "
                                                        "the rows it may see (opaque names, owner-only permissions); "
                                                        "files of revoked principals are removed."),
    out_dir: Path = typer.Option(None, "--out-dir", help="Folder of the scope files (default: SEI_SCOPES_DIR, else "
                                                        "scopes/ beside the warehouse)."),
    fmt: list[ScopeFormat] = typer.Option([ScopeFormat.duckdb], "--format", help="duckdb (DuckDB 1.x-readable files) and/or parquet "
                                                              "(a folder of one Parquet file per mart). Repeatable."),
    target: Literal["duckdb", "postgres"] = typer.Option("duckdb", "--target", help="duckdb: the serving file (and --scopes); postgres: "
                                                          "roles and row-level security on PostgreSQL (SEI_PG_* or "
                                                          "--pg-dsn)."),
    in_place: bool = typer.Option(False, "--in-place", help="With --target postgres: PostgreSQL is the warehouse; "
                                                            "protect the marts dbt built there instead of copying."),
    pg_dsn: str = typer.Option(None, "--pg-dsn", envvar="SEI_PG_DSN", help="PostgreSQL connection string of an "
                                                                           "administrator (default: SEI_PG_* variables)."),
    policy: Path = typer.Option(None, "--policy", help=H_POLICY),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
    sources: Path = typer.Option(None, "--sources", help=H_SOURCES),
    views: bool = typer.Option(False, "--views", help="Also write policy.<mart> views into the warehouse, filtered "
                                                      "on the sei_principal variable (a filter for trusted analysts, "
                                                      "not a boundary)."),
    full: bool = typer.Option(False, "--full", help="Write the serving file (and with --scopes, the scope files) in "
                                                    "full instead of only the tables whose content changed since "
                                                    "the last publish (also SEI_PUBLISH_FULL=1)."),
    wait: bool = wait_option(),
) -> None:
    """Publish the marts: the serving file, per-principal scope files, or PostgreSQL with RLS."""
    import os

    from rbac_policies.context import OrgCycle
    from rbac_policies.marts import UnclassifiedMart
    from rbac_policies.policy import PolicyErrors
    from core.settings import warehouse_path
    wh = warehouse or warehouse_path()
    import duckdb
    errors = (PolicyErrors, UnclassifiedMart, OrgCycle, FileNotFoundError, ValueError, duckdb.Error)
    if target not in ("duckdb", "postgres"):
        raise typer.BadParameter("use duckdb or postgres", param_hint="--target")
    if target == "postgres":
        from rbac_policies import postgres
        p = _policy(policy)
        try:
            con = postgres.connect(pg_dsn)
        except Exception as e:  # noqa: BLE001 - psycopg2's errors carry the reason
            _fail(RuntimeError(f"cannot connect to PostgreSQL: {e}".strip()))
        try:
            r = (postgres.apply_in_place(p, con, sources=sources) if in_place
                 else postgres.publish_postgres(p, con, wh, sources=sources, full=full or None))
        except errors as e:
            _fail(e)
        finally:
            con.close()
        copied = "" if in_place else (f" ({len(r.copied)} copied, {len(r.kept)} unchanged"
                                      f"{'; in full: ' + r.full_reason if r.full_reason else ''})")
        typer.echo(f"postgres: {len(r.tables)} marts{copied} protected by row-level security, {len(r.roles)} principal "
                   f"roles{', dropped ' + ', '.join(r.dropped_roles) if r.dropped_roles else ''} in {r.seconds:.1f}s; "
                   f"each reader queries its own schema (its search_path):")
        for principal, schema in sorted(r.schemas.items()):
            typer.echo(f"  {principal}: {schema}")
        for w in r.warnings:
            typer.echo(f"warning: {w}", err=True)
        return
    try:
        from core.publish import publish_serving
        r = publish_serving(wh, full=full or None)
        typer.echo(r.summary())
    except (FileNotFoundError, ValueError) as e:
        _fail(e)
    if views:
        from rbac_policies.duck import write_policy_views
        try:
            names = write_policy_views(_policy(policy), wh, sources)
        except errors as e:
            _fail(e)
        typer.echo(f"policy views: {len(names)} in schema policy (SET VARIABLE sei_principal = '...'; a filter, "
                   f"not a boundary)")
    if scopes:
        from rbac_policies.duck import publish_scopes
        out = out_dir or Path(os.environ.get("SEI_SCOPES_DIR") or Path(wh).parent / "scopes")
        try:
            s = publish_scopes(_policy(policy), out, wh, sources, formats=tuple(ScopeFormat(f).value for f in fmt),
                               full=full or None)
        except errors as e:
            _fail(e)
        typer.echo(f"scopes: {len(s.files)} principals published to {out} in {s.seconds:.1f}s "
                   f"({len(s.full_files)} files in full, {s.rewritten} marts rewritten, {s.kept} kept)"
                   f"{'; removed ' + str(len(s.removed)) + ' revoked' if s.removed else ''} (names in manifest.json)")


@rbac_app.command("validate")
def validate(policy: Path = typer.Option(None, "--policy", help=H_POLICY),
             warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
             sources: Path = typer.Option(None, "--sources", help=H_SOURCES)) -> None:
    """Check the policy against the current org and sources file; every problem with file:line and fix."""
    from rbac_policies.control import _context
    from rbac_policies.policy import PolicyErrors, load_policy
    p = _policy(policy)
    ctx = _context(warehouse, sources)
    try:
        pol = load_policy(p, ctx)
    except PolicyErrors as e:
        for err in e.errors:
            typer.echo(f"error: {err}", err=True)
        typer.echo(f"{len(e.errors)} problem(s).", err=True)
        raise typer.Exit(1) from None
    note = "" if ctx else " (no warehouse yet: teams and projects were not checked)"
    typer.echo(f"valid: {len(pol.principals)} principals, {len(pol.roles)} roles, {len(pol.bindings)} bindings{note}")


@rbac_app.command("show")
def show(principal: str = typer.Option(None, "--principal", help="Only this principal."),
         policy: Path = typer.Option(None, "--policy", help=H_POLICY),
         warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
         sources: Path = typer.Option(None, "--sources", help=H_SOURCES)) -> None:
    """Print the compiled model: per principal, its bindings and the projects, teams, people
    and services it may see."""
    from rbac_policies.compile import compile_policy
    from rbac_policies.control import _context
    from rbac_policies.policy import PolicyErrors, load_policy
    ctx = _context(warehouse, sources)
    if ctx is None:
        _fail(FileNotFoundError("no warehouse: the compiled model needs the current org (run the main job first)"))
    try:
        pol = load_policy(_policy(policy), ctx)
        c = compile_policy(pol, ctx)
    except (PolicyErrors, ValueError) as e:
        _fail(e)
    if principal and principal not in pol.principals:
        raise typer.BadParameter(f"{principal!r} is not a principal of the policy; it has: "
                                 f"{', '.join(sorted(pol.principals))}", param_hint="'--principal'")
    for name in sorted(pol.principals):
        if principal and name != principal:
            continue
        t = c.for_principal(name)
        typer.echo(f"{name} ({pol.principals[name].kind})")
        for b in pol.bindings_of(name, with_groups=pol.principals[name].kind == "user"):
            typer.echo(f"  {b.role} at {b.scope}" + (f" via group {b.principal}" if b.principal != name else ""))
        whole = sorted(p for p in t["visible_projects"].project_id if p is not None)
        typer.echo(f"  whole projects: {', '.join(whole) or '-'}")
        teams = sorted({f"{r.tree}/{r.team_id}" for r in t["visible_teams"].itertuples()})
        typer.echo(f"  team subtrees: {', '.join(teams) or '-'}")
        typer.echo(f"  people: {t['visible_developers'].developer_id.nunique()}, services: "
                   f"{', '.join(sorted(set(t['visible_services'].service))) or '-'}")


@rbac_app.command("audit")
def audit(limit: int = typer.Option(20, "--limit", min=0, help="Last N decisions (0: all)."),
          refused: bool = typer.Option(False, "--refused", help="Only refusals.")) -> None:
    """Print the control-plane audit log (SEI_AUDIT_LOG, default audit.log beside the warehouse)."""
    from rbac_policies.control import read_audit
    rows = [r for r in read_audit() if not refused or not r["allowed"]]
    for r in rows[-limit:] if limit else rows:
        typer.echo(f"{r['at'][:19]}  {'allowed' if r['allowed'] else 'REFUSED'}  {r['os_user']}"
                   f"{'/' + r['principal'] if r['principal'] else ''}  {r['action']} {r['resource']} at {r['scope']}"
                   f"  {r['what']}  ({r['reason']})")
