"""`sei org`: import, check and show the org (developers, trees, memberships, services)
and resolve tool identities. File formats: docs/org-files.md.

    sei org validate --dir org/                        # dry run: every check, nothing written
    sei org import --developers developers.csv --tree org_tree_reporting.csv \\
        --tree org_tree_regions.csv --memberships memberships.csv --services services.csv
    sei org import --dir org/ --effective-date 2026-03-01
    sei org show --tree reporting --members
    sei org identities --unmatched
    sei org history

Exit status: 0 accepted / valid, 1 rejected / invalid (the messages name file, line and
fix; the current org stays in force), 2 bad usage.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

import typer

from ingestion.lock import locked_command, wait_option
from ingestion.org.formats import DEFAULT_MAX_FILE_MB, parse_date, write_safe_csv

org_app = typer.Typer(help="Developers, org trees, memberships, services and tool identities (docs/org-files.md).",
                      no_args_is_help=True)

H_DIR = ("Folder with the files under their standard names: developers.csv, org_tree_*.csv (one tree each), "
         "memberships.csv, services.csv, identity_overrides.csv (the last three optional). Explicit options win.")
H_DEV = "Developers CSV: developer_id, full_name, emails, manager_email, role, site, start_date, end_date, " \
        "github_logins, jira_account_ids, harness_user_ids."
H_TREE = "Org tree CSV: tree, team_id, team_name, parent_team_id, manager_email. Repeat for several trees."
H_MGR = "Also build a tree of this name from the developers' manager_email column (one team per manager)."
H_MEM = "Memberships CSV: developer_id, tree, team_id, valid_from, valid_to. Without it, members come from " \
        "manager emails."
H_SVC = "Services CSV: service, owning_team_id, owning_tree, project_id, repositories, harness_service_ids."
H_OVR = "Identity overrides CSV: tool, account, developer_id (or bot / none), note. Wins over automatic matching."
H_EFF = "Day (YYYY-MM-DD, UTC) the import takes effect: memberships it ends close and new ones open that day. " \
        "Default: start of history for the first import, today for later ones."
H_FORMULA = "Accept cells starting with = + - @ and store them as plain text (exports prefix them with '), " \
            "instead of rejecting the file."
H_MAX = "Refuse any file larger than this many MB (default from SEI_ORG_MAX_FILE_MB, else 50)."
H_WH = "Warehouse DuckDB file (default: SEI_WAREHOUSE, else warehouse/sei.duckdb)."


def _date_option(ctx: typer.Context, param: typer.CallbackParam, value: str | None) -> str | None:
    """Checked while the command line is parsed (exit 2), before any file is read."""
    _date(value, param.opts[0] if param.opts else param.name)
    return value


def _date(value: str | None, hint: str) -> dt.date | None:
    if not value:
        return None
    d = parse_date(value)
    if d is None:
        raise typer.BadParameter(f"{value!r} is not a date: write YYYY-MM-DD, e.g. 2026-03-01", param_hint=hint)
    return d


def _files(dir_: Path | None, developers, tree, tree_from_managers, memberships, services, overrides):
    from ingestion.org.validate import OrgFiles
    explicit = dict(developers=developers, trees=list(tree or []), memberships=memberships, services=services,
                    overrides=overrides)
    if dir_ is not None:
        if not dir_.is_dir():
            raise typer.BadParameter(f"{dir_} is not a folder", param_hint="--dir")
        f = OrgFiles.from_dir(dir_, **explicit)
    else:
        f = OrgFiles(**explicit)
    f.trees_from_managers = list(tree_from_managers or [])
    return f


def _report(result) -> None:
    for w in result.warnings:
        typer.echo(f"warning: {w}", err=True)
    for e in result.errors[:200]:
        typer.echo(f"error: {e}", err=True)
    if len(result.errors) > 200:
        typer.echo(f"error: ... and {len(result.errors) - 200} more", err=True)


def _run(dir_, developers, tree, tree_from_managers, memberships, services, overrides, effective_date,
         allow_formula_cells, max_file_mb, warehouse, dry_run: bool):
    from ingestion.org.store import WarehouseBusy, import_org
    files = _files(dir_, developers, tree, tree_from_managers, memberships, services, overrides)
    try:
        return import_org(files, effective_date=_date(effective_date, "--effective-date"), warehouse=warehouse,
                          dry_run=dry_run, max_file_mb=max_file_mb, allow_formulas=allow_formula_cells)
    except WarehouseBusy as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None


@org_app.command("import")
@locked_command  # one writer at a time (ingestion/lock.py)
def import_cmd(
    dir_: Path = typer.Option(None, "--dir", exists=True, file_okay=False, help=H_DIR),
    developers: Path = typer.Option(None, "--developers", help=H_DEV),
    tree: list[Path] = typer.Option(None, "--tree", help=H_TREE),
    tree_from_managers: list[str] = typer.Option(None, "--tree-from-managers", help=H_MGR),
    memberships: Path = typer.Option(None, "--memberships", help=H_MEM),
    services: Path = typer.Option(None, "--services", help=H_SVC),
    overrides: Path = typer.Option(None, "--overrides", help=H_OVR),
    effective_date: str = typer.Option(None, "--effective-date", callback=_date_option, help=H_EFF),
    allow_formula_cells: bool = typer.Option(False, "--allow-formula-cells", help=H_FORMULA),
    max_file_mb: float = typer.Option(DEFAULT_MAX_FILE_MB, "--max-file-mb", min=0.01, help=H_MAX),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
    resolve: bool = typer.Option(True, "--resolve-identities/--no-resolve-identities",
                                 help="After a good import, match the tool accounts already in the warehouse "
                                      "(as `sei org identities` does)."),
    wait: bool = wait_option(),
) -> None:
    """Validate the org files and record them as a new import.

    A rejected import changes nothing: the latest accepted import stays the current org.
    """
    from rbac_policies.control import enforce
    from rbac_policies.org_changes import org_import_requests

    def changes():  # access control (docs/access-control.md): what this import would change, by scope
        dry = _run(dir_, developers, tree, tree_from_managers, memberships, services, overrides, effective_date,
                   allow_formula_cells, max_file_mb, warehouse, dry_run=True)
        return org_import_requests(dry.org, warehouse) if dry.ok else []
    enforce(changes, "org import", warehouse=warehouse)
    r = _run(dir_, developers, tree, tree_from_managers, memberships, services, overrides, effective_date,
             allow_formula_cells, max_file_mb, warehouse, dry_run=False)
    _report(r)
    if not r.ok:
        typer.echo(f"import #{r.import_id} rejected: {len(r.errors)} error(s); nothing changed, the current org "
                   f"stays in force.")
        raise typer.Exit(1)
    typer.echo(f"import #{r.import_id} accepted in {r.seconds:.2f}s: {r.summary()}")
    if resolve:
        from ingestion.org.identities import resolve_warehouse
        try:
            res = resolve_warehouse(warehouse)
        except Exception as e:  # the import stands; resolution can be re-run on its own
            typer.echo(f"warning: identity resolution failed ({e}); run `sei org identities` again later.", err=True)
            _mirror(warehouse)
            return
        if res.figures["accounts"]:
            typer.echo(_figures_line(res.figures))
    _mirror(warehouse)


def _mirror(warehouse) -> None:
    """SEI_DESTINATION=postgres: copy raw_org to PostgreSQL, where dbt builds (ingestion/destination.py)."""
    from ingestion.destination import mirror_if_postgres
    from core.settings import warehouse_path
    copied = mirror_if_postgres(warehouse or warehouse_path(), ("raw_org",))
    if copied is not None:
        typer.echo(f"raw_org copied to PostgreSQL: {sum(copied.values())} rows in {len(copied)} tables")


@org_app.command("validate")
def validate_cmd(
    dir_: Path = typer.Option(None, "--dir", exists=True, file_okay=False, help=H_DIR),
    developers: Path = typer.Option(None, "--developers", help=H_DEV),
    tree: list[Path] = typer.Option(None, "--tree", help=H_TREE),
    tree_from_managers: list[str] = typer.Option(None, "--tree-from-managers", help=H_MGR),
    memberships: Path = typer.Option(None, "--memberships", help=H_MEM),
    services: Path = typer.Option(None, "--services", help=H_SVC),
    overrides: Path = typer.Option(None, "--overrides", help=H_OVR),
    effective_date: str = typer.Option(None, "--effective-date", callback=_date_option, help=H_EFF),
    allow_formula_cells: bool = typer.Option(False, "--allow-formula-cells", help=H_FORMULA),
    max_file_mb: float = typer.Option(DEFAULT_MAX_FILE_MB, "--max-file-mb", min=0.01, help=H_MAX),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH + " Read only, to compare with the current org."),
) -> None:
    """Dry run of `sei org import`: every check and what would change; nothing is written."""
    r = _run(dir_, developers, tree, tree_from_managers, memberships, services, overrides, effective_date,
             allow_formula_cells, max_file_mb, warehouse, dry_run=True)
    _report(r)
    if not r.ok:
        typer.echo(f"invalid: {len(r.errors)} error(s), {len(r.warnings)} warning(s); nothing written.")
        raise typer.Exit(1)
    typer.echo(f"valid ({len(r.warnings)} warning(s); nothing written): {r.summary()}")


@org_app.command("show")
def show_cmd(
    tree: str = typer.Option(None, "--tree", help="Only this tree (default: every tree)."),
    as_of: str = typer.Option(None, "--as-of", callback=_date_option, help="Count members on this day (YYYY-MM-DD; default today)."),
    import_id: int = typer.Option(None, "--import-id", min=1, help="Show an earlier import (see `sei org history`)."),
    members: bool = typer.Option(False, "--members", help="List each team's members by name."),
    depth: int = typer.Option(None, "--depth", min=0, help="Stop this many levels below the top team."),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
) -> None:
    """Print the current org tree(s): teams, managers and member counts."""
    from ingestion.org.store import WarehouseBusy, connect, render_tree
    try:
        con = connect(warehouse, read_only=True)
    except WarehouseBusy as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    try:
        typer.echo(render_tree(con, tree, _date(as_of, "--as-of"), import_id, members, depth), nl=False)
    except KeyError as e:
        typer.echo(f"error: {e.args[0]}", err=True)
        raise typer.Exit(1) from None
    finally:
        con.close()


def _figures_line(f: dict) -> str:
    rules = ", ".join(f"{k} {v}" for k, v in sorted(f["by_rule"].items(), key=lambda kv: -kv[1]))
    return (f"identities: {f['accounts']:,} accounts with activity ({rules}); {f['bots']} bots; "
            f"{f['unmatched']} unmatched; {f['human_activity_attributed']:.2%} of human activity attributed")


@org_app.command("identities")
def identities_cmd(
    unmatched: bool = typer.Option(False, "--unmatched", help="List human accounts no developer matched, most "
                                                              "active first, with candidate developers."),
    tool: Literal["github", "git", "jira", "harness"] = typer.Option(None, "--tool", help="Only this tool."),
    limit: int = typer.Option(50, "--limit", min=0, help="Rows to print (0: all)."),
    csv_out: Path = typer.Option(None, "--csv", help="Also write the listed rows (or every match without "
                                                     "--unmatched) to this CSV; risky cells are prefixed with '."),
    store: bool = typer.Option(True, "--store/--no-store", help="Save the matches in raw_org.identity_matches "
                                                                "(--no-store: read-only dry run)."),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
) -> None:
    """Match tool accounts in the warehouse to developers and print the figures.

    Rules in order: override file, declared ids, bots, then email, login, name, context.
    """
    from ingestion.org.identities import MATCH_COLUMNS, resolve_warehouse
    from ingestion.org.identities import unmatched as unmatched_rows
    from ingestion.org.store import WarehouseBusy
    try:
        res = resolve_warehouse(warehouse, store=store)
    except (LookupError, WarehouseBusy) as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(_figures_line(res.figures))
    if store:
        _mirror(warehouse)
    m = res.matches
    rows = unmatched_rows(m, tool) if unmatched else (m[m.tool == tool] if tool else m)
    if unmatched:
        shown = rows if not limit else rows.head(limit)
        typer.echo(f"{len(rows)} unmatched account(s), most active first:")
        typer.echo(f"{'tool':8s} {'account':28s} {'name':24s} {'email':34s} {'activity':>8s}  candidates")
        for r in shown.itertuples():
            typer.echo(f"{r.tool:8s} {str(r.account_id)[:28]:28s} {_c(r.display_name)[:24]:24s} {_c(r.email)[:34]:34s} "
                       f"{int(r.activity):8,d}  {_c(r.candidates)}")
        if len(rows) > len(shown):
            typer.echo(f"... {len(rows) - len(shown)} more (--limit 0 shows all)")
        if len(rows):
            typer.echo("Fix: add a row per account to identity_overrides.csv (tool, account, developer_id or bot/none, "
                       "note) and import again.")
    if csv_out is not None:
        write_safe_csv(csv_out, MATCH_COLUMNS, rows[MATCH_COLUMNS].itertuples(index=False))
        typer.echo(f"wrote {len(rows)} rows to {csv_out}")


def _c(v) -> str:
    return v if isinstance(v, str) else ""


@org_app.command("history")
def history_cmd(warehouse: Path = typer.Option(None, "--warehouse", help=H_WH)) -> None:
    """List every import (accepted and rejected) with its first message line."""
    from ingestion.org.store import WarehouseBusy, connect, imports
    try:
        con = connect(warehouse, read_only=True)
    except WarehouseBusy as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    try:
        df = imports(con)
    finally:
        con.close()
    if df.empty:
        typer.echo("no imports yet")
    current = df[df.status == "accepted"].import_id.max() if (df.status == "accepted").any() else None
    for r in df.itertuples():
        eff = r.effective_date.date() if hasattr(r.effective_date, "date") and r.effective_date == r.effective_date \
            else "start of history"
        first = (r.message or "").splitlines()[0] if isinstance(r.message, str) else ""
        mark = "*" if r.import_id == current else " "
        typer.echo(f"{mark}#{r.import_id:<4d} {str(r.imported_at)[:19]}  effective {eff}  {r.status:9s} {first}")


@org_app.command("forget")
@locked_command  # one writer at a time (ingestion/lock.py)
def forget_cmd(
    developer: str = typer.Argument(..., help="The developer_id (developers file) of the person to forget."),
    republish: bool = typer.Option(True, "--republish/--no-republish",
                                   help="Publish the serving file again afterwards when one exists (sei publish)."),
    also: list[Path] = typer.Option(None, "--also", help="Another DuckDB file (a published copy, a scoped "
                                                         "extract) to scrub the same way. Repeatable."),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
    wait: bool = wait_option(),
) -> None:
    """Replace a person's name, emails and tool accounts with a stable pseudonym in every table
    (raw data, org history, identity resolution, marts). Team figures stay the same. Re-importing
    an org file that still names the person brings the name back into raw_org: update the files
    too (and list the developer in privacy.hidden_developers to drop their per-person rows)."""
    from ingestion.org.forget import ForgetError, forget_developer
    from rbac_policies.control import enforce
    from rbac_policies.model import ACCOUNT
    enforce(lambda: [("delete", "data_settings.developers", ACCOUNT, f"forget developer {developer}")],
            f"forget developer {developer}", warehouse=warehouse)
    try:
        r = forget_developer(developer, warehouse, also=list(also or []))
    except ForgetError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"{developer} is now {r.pseudonym}: {r.values} values replaced in {sum(r.tables.values()):,} rows "
               f"of {len(r.tables)} tables")
    if r.remaining:
        typer.echo(f"error: {r.remaining} rows still match; run the command again", err=True)
        raise typer.Exit(1)
    if republish:
        from core.publish import publish_serving, serving_path
        if serving_path().exists():
            publish_serving(warehouse)
            typer.echo(f"republished {serving_path()}")
        _republish_scopes(warehouse)


def _republish_scopes(warehouse: Path | None) -> None:
    """Scoped extracts (`sei publish --scopes`) are copies too: publish them again from the
    scrubbed warehouse, in the formats already there."""
    import os

    from rbac_policies.policy import policy_path
    from core.settings import warehouse_path
    wh = Path(warehouse or warehouse_path())
    scopes = Path(os.environ.get("SEI_SCOPES_DIR") or wh.parent / "scopes")
    policy = policy_path(None)
    if policy is None or not scopes.is_dir() or not any(scopes.iterdir()):
        return
    from rbac_policies.duck import publish_scopes
    formats = ("duckdb",) + (("parquet",) if any(scopes.rglob("*.parquet")) else ())
    s = publish_scopes(policy, scopes, wh, formats=formats)
    typer.echo(f"republished {len(s.files)} scoped extracts in {scopes}")


@org_app.command("retention")
def retention_cmd(
    months: int = typer.Option(None, "--months", min=1, help="Keep this many months (default: the productivity profile's "
                                                      "privacy.retention_months; nothing happens when it is null)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Count what would go, change nothing."),
    warehouse: Path = typer.Option(None, "--warehouse", help=H_WH),
) -> None:
    """Delete raw personal data older than the retention period: finished PRs with their
    reviews, resolved Jira issues with their changelogs; old commits and CI runs lose their
    author fields. Marts follow at the next dbt build."""
    from ingestion.org.retention import apply_retention
    if not dry_run:
        from rbac_policies.control import enforce
        from rbac_policies.model import ACCOUNT
        enforce(lambda: [("delete", "data_settings.integrations", ACCOUNT, "retention: delete old raw data")],
                "retention", warehouse=warehouse)
    r = apply_retention(warehouse, months, dry_run=dry_run)
    if r.months is None:
        typer.echo("no retention period set (privacy.retention_months in profiles/productivity.yml): nothing to do")
        return
    verb = "would go" if dry_run else "deleted"
    typer.echo(f"retention {r.months} months: data finished before {r.cutoff:%Y-%m-%d %H:%M} UTC")
    for table, n in sorted(r.deleted.items()):
        typer.echo(f"  {table}: {n:,} rows {verb}")
