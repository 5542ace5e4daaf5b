"""`sei`: the warehouse's command line. Every command has --help."""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Literal

import typer
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.exceptions import Abort

from core.cli_options import listen_host
from ingestion.cli import ingest
from ingestion.org.cli import org_app
from rbac_policies.cli import publish, rbac_app
from sei.doctor import doctor
from sei.profile import profile_app
from webhooks.cli import webhooks_app



class _Cli(typer.Typer):
    """A bad argument is one line on stderr and exit status 2: `sei demo: Invalid value for
    '--size': 'huge' is not one of 'tiny', ... (sei demo --help)`, not a usage block in a box."""

    def __call__(self, *args, **kwargs):
        if kwargs.get("standalone_mode", True) is False:
            return super().__call__(*args, **kwargs)
        try:
            code = super().__call__(*args, standalone_mode=False, **kwargs)
        except NoArgsIsHelpError as e:  # a bare group: its help, as before
            e.show()
            sys.exit(e.exit_code)
        except UsageError as e:
            sys.exit(usage_error(e))
        except Abort:
            typer.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def usage_error(e: UsageError) -> int:
    """Print a usage error as one line; return its exit status (2)."""
    where = e.ctx.command_path if e.ctx is not None else "sei"
    msg = " ".join(e.format_message().replace("Value error, ", "").split())
    typer.echo(f"{where}: {msg} (see `{where} --help`)", err=True)
    return e.exit_code


app = _Cli(help="Self-hosted Software Engineering Insights warehouse.", no_args_is_help=True,
           pretty_exceptions_enable=False, add_completion=False)
sim_app = typer.Typer(help="The built-in simulator of GitHub, Jira and Harness.", no_args_is_help=True)
app.add_typer(sim_app, name="sim")
app.command("ingest")(ingest)
app.add_typer(org_app, name="org")
app.add_typer(profile_app, name="profile")
app.command("publish")(publish)
app.add_typer(rbac_app, name="rbac")
app.command("doctor")(doctor)
app.add_typer(webhooks_app, name="webhooks")

SIZE_HELP = "Organisation size: tiny (~10 devs), small (~50), medium (~500), large (~5,000)."
Size = Literal["tiny", "small", "medium", "large"]  # simulator/sizes.py; the CLI refuses anything else
Engine = Literal["duckdb", "spark"]  # `sei demo --engine`; PostgreSQL needs a server: SEI_ENGINE=postgres


def _faults(spec: str) -> str:
    """Parsed before the organisation is generated, which takes minutes for the large one."""
    from simulator.faults import FaultSpec
    try:
        FaultSpec.parse(spec)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    return spec


def _world(size: str, seed: int, history_days: int | None, advance_hours: float = 0.0):
    from simulator import generate
    t = time.monotonic()
    typer.echo(f"generating the {size} organisation (seed {seed})...", err=True)
    try:
        w = generate(size, seed=seed, history_days=history_days)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--size") from None
    if advance_hours:
        w.advance(advance_hours)
    counts = w.summary()
    typer.echo(f"generated in {time.monotonic() - t:.1f}s: {counts['developers']} people, {counts['teams']} teams, "
               f"{counts['repos']} repositories, {counts['prs']:,} pull requests, {counts['issues']:,} issues, "
               f"{counts['deployments']:,} deployments", err=True)
    return w


@sim_app.command("serve")
def sim_serve(
    size: Size = typer.Option("small", help=SIZE_HELP),
    seed: int = typer.Option(42, help="Same seed, same organisation, byte-identical answers."),
    port: int = typer.Option(8765, min=0, max=65535, help="TCP port (0 picks a free one)."),
    host: str = typer.Option("127.0.0.1", callback=listen_host, help="Address to listen on."),
    faults: str = typer.Option("", callback=_faults, help="Fault injection, e.g. 429:0.05,500:0.02,reset:0.01,slow:0.05,secondary:0.01; "
                                        "scope one API with a prefix: jira.500:1.0"),
    history_days: int = typer.Option(None, min=1, help="Days of history (default: 365; large: 730)."),
    time_scale: float = typer.Option(1.0, min=0.0001, help="Real seconds per simulated second for rate-limit windows and "
                                               "Retry-After (0.01: an hourly reset takes 36 s)."),
    data_center: bool = typer.Option(False, "--data-center", help="Answer like Jira Data Center (v2 search only)."),
    verbose: bool = typer.Option(False, "--verbose", help="Log every request."),
    webhook_url: str = typer.Option(None, help="Send signed webhooks of what changes as the clock advances to this "
                                               "receiver base URL, e.g. http://127.0.0.1:8766/webhooks "
                                               "(docs/realtime.md)."),
    webhook_secret: str = typer.Option("simulator-webhook-secret", help="Secret the webhooks are signed with."),
    webhook_faults: bool = typer.Option(False, "--webhook-faults", help="Also send duplicates, reordered deliveries "
                                                                        "and forged signatures."),
) -> None:
    """Serve the simulated GitHub, Jira and Harness APIs until interrupted."""
    from simulator.http import GITHUB_TOKEN, HARNESS_ACCOUNT, HARNESS_API_KEY, JIRA_EMAIL, JIRA_TOKEN
    from simulator.server import SimServer
    w = _world(size, seed, history_days)
    try:
        s = SimServer(w, host=host, port=port, faults=faults, time_scale=time_scale, data_center=data_center,
                      quiet=not verbose)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--faults") from None
    except OSError as e:  # the port is taken, or the address is not this machine's
        raise typer.BadParameter(f"cannot listen on {host}:{port}: {e.strerror or e}. Fix: pick another --port "
                                 f"(0: a free one) or --host", param_hint="--port") from None
    typer.echo(f"simulator listening on {s.url}\n"
               f"  GitHub  token {GITHUB_TOKEN}  (GraphQL {s.url}/graphql, REST {s.url})\n"
               f"  Jira    {JIRA_EMAIL} / {JIRA_TOKEN}  ({s.url}/rest/api/3/search/jql)\n"
               f"  Harness x-api-key {HARNESS_API_KEY}, account {HARNESS_ACCOUNT}\n"
               f"  control {s.url}/_sim/health, /_sim/stats, POST /_sim/advance?hours=N, /_sim/truth")
    if webhook_url:
        from simulator.webhooks import WebhookSender
        WebhookSender(w, webhook_url, webhook_secret, faults=webhook_faults)
        typer.echo(f"  webhooks to {webhook_url} (signed with --webhook-secret) whenever the clock advances")
    s.start()
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    try:
        while not stop:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    s.stop()


@sim_app.command("truth")
def sim_truth(
    out: Path = typer.Option(..., help="Folder to write one CSV per truth table into."),
    size: Size = typer.Option("small", help=SIZE_HELP),
    seed: int = typer.Option(42, help="Seed of the organisation."),
    history_days: int = typer.Option(None, min=1, help="Days of history."),
    advance_hours: float = typer.Option(0.0, min=0.0, help="Move the clock forward first (as POST /_sim/advance did)."),
) -> None:
    """Export the ground truth the generator used (who was in which team when, what each
    deployment shipped, which deployment caused which incident, whose accounts are whose)."""
    from simulator.truth import export
    w = _world(size, seed, history_days, advance_hours)
    for p in export(w, out):
        typer.echo(p)


@sim_app.command("export-org")
def sim_export_org(
    out: Path = typer.Argument(..., help="Folder for developers.csv, org_tree_*.csv, memberships.csv, services.csv."),
    size: Size = typer.Option("small", help=SIZE_HELP),
    seed: int = typer.Option(42, help="Seed of the organisation."),
    history_days: int = typer.Option(None, min=1, help="Days of history."),
) -> None:
    """Write the developer, org-tree, membership and service files a customer would upload."""
    from simulator.export import export_org
    w = _world(size, seed, history_days)
    for name, p in export_org(w, out).items():
        typer.echo(f"{name:20s} {p}")


@app.command("demo")
def demo(
    size: Size = typer.Option("small", help=SIZE_HELP),
    seed: int = typer.Option(42, help="Seed of the simulated organisation."),
    realtime: bool = typer.Option(False, "--realtime", help="Then show the push path: start the webhook receiver "
                                                          "and the simulator's sender, move the clock, and print a "
                                                          "change arriving in the serving file (docs/realtime.md)."),
    engine: Engine = typer.Option(None, show_default=False,
                                  help="Engine that builds the marts: duckdb (default), spark (a local Spark session "
                                       "over a Parquet lake; needs Java 17). Sets SEI_ENGINE for the run."),
) -> None:
    """The main job end to end on the embedded default: simulator -> warehouse -> marts -> checks."""
    if engine:
        os.environ["SEI_ENGINE"] = engine   # docs/engines.md
    from orchestration.demo import exit_quietly, run_demo
    exit_quietly(run_demo(size=size, seed=seed, realtime=realtime))  # the summary stays the last thing printed


@app.command("dagster")
def dagster_ui(
    demo: bool = typer.Option(None, "--demo/--no-demo", show_default=False,
                              help="Serve the demo's organisation (the simulator of the last `sei demo`) while the UI "
                                   "runs, so its jobs and schedules succeed. Default: on when `sei demo` ran here and "
                                   "there is no sources file of your own (SEI_SOURCES or ./sources.yml)."),
    port: int = typer.Option(3000, min=1, max=65535, help="Port of the UI."),
    host: str = typer.Option("127.0.0.1", callback=listen_host, help="Address the UI listens on."),
) -> None:
    """The Dagster UI and daemon (`dagster dev`) on the instance `make run` records into
    (DAGSTER_HOME, default .dagster_home/): `make dagster` runs this."""
    from orchestration.ui import serve
    sys.exit(serve(demo, host, port, echo=lambda line: typer.echo(line, err=True)))


@app.command("dashboards")
def dashboards(
    port: int = typer.Option(8501, min=1, max=65535, help="Port of the dashboards."),
    host: str = typer.Option("127.0.0.1", callback=listen_host, help="Address the dashboards listen on."),
    principal: str = typer.Option(None, "--principal", show_default=False,
                                  help="Serve this principal's published scope file to every visitor (default: "
                                       "SEI_DASHBOARD_PRINCIPAL; else the OIDC login of .streamlit/secrets.toml). "
                                       "With SEI_DASHBOARD_PG set, read PostgreSQL as the principal's role instead."),
    demo: bool = typer.Option(False, "--demo", help="After `make run` only: the whole simulated account, no access "
                                                    "control."),
) -> None:
    """The Insights dashboards (Streamlit) on the viewer's published scope: `make dashboards` runs this
    (docs/dashboards.md)."""
    import socket

    from dashboards.data import AccessError
    from dashboards.server import serve
    with socket.socket() as s:   # a taken port is a usage error, before anything starts
        try:
            s.bind((host, port))
        except OSError as e:
            raise typer.BadParameter(f"cannot listen on {host}:{port}: {e.strerror or e}. Fix: pick another --port",
                                     param_hint="--port") from None
    try:
        serve(port, host, principal, demo, echo=lambda line: typer.echo(line, err=True))   # execs streamlit
    except AccessError as e:
        typer.echo(f"sei dashboards: {e}", err=True)
        sys.exit(1)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()

