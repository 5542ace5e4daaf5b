"""`sei dashboards` / `make dashboards`: check who the viewer is and that their published data
exists, then run the Streamlit app (dashboards/app.py) until interrupted."""
from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

from dashboards.data import DEMO_ENV, PRINCIPAL_ENV, AccessError, demo_viewer, scope_viewer

APP = Path(__file__).resolve().parent / "app.py"


def oidc_configured(cwd: Path | None = None) -> Path | None:
    """The secrets file that configures `st.login` (an `[auth]` table), where Streamlit looks:
    .streamlit/secrets.toml in the working directory, else in the home folder."""
    for p in ((cwd or Path.cwd()) / ".streamlit" / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml"):
        try:
            if "auth" in tomllib.loads(p.read_text(encoding="utf-8")):
                return p
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return None


def command(port: int, host: str) -> list[str]:
    """`streamlit run` with telemetry off and nothing opened or watched."""
    return [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port), "--server.address", host,
            "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--global.developmentMode", "false", "--client.toolbarMode", "viewer"]


def resolve(principal: str | None, demo: bool) -> tuple[dict, str]:
    """The environment the app runs with and a line saying what it serves; AccessError when no
    viewer can be served (the message names the fix)."""
    principal = (principal or os.environ.get(PRINCIPAL_ENV, "")).strip() or None
    if principal and demo:
        raise AccessError("--principal and --demo exclude each other: the demo shows the whole account. "
                          "Fix: drop one of them")
    if principal:
        v = scope_viewer(principal)
        where = f"scope file {v.path.name}" if v.path else "PostgreSQL as its own role, row-level security"
        return {PRINCIPAL_ENV: principal, DEMO_ENV: ""}, f"principal {principal} ({where})"
    if demo:
        v = demo_viewer()
        return {PRINCIPAL_ENV: "", DEMO_ENV: "1"}, f"demo mode: the whole simulated account from {v.path}"
    secrets = oidc_configured()
    if secrets:
        return {PRINCIPAL_ENV: "", DEMO_ENV: ""}, f"OIDC login ({secrets}), each email mapped by [sei.principals]"
    raise AccessError(f"no viewer: the dashboards show only what one principal of the access policy may see. Fix: "
                      f"`sei dashboards --principal P` (or {PRINCIPAL_ENV}=P), the OIDC login in "
                      f".streamlit/secrets.toml (docs/dashboards.md), or `sei dashboards --demo` after `make run`")


def serve(port: int, host: str, principal: str | None, demo: bool, echo=print) -> None:
    env_add, what = resolve(principal, demo)
    env = {**os.environ, **env_add, "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false"}
    echo(f"dashboards: {what}")
    echo(f"dashboards: http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}  (Ctrl-C stops)")
    sys.stdout.flush()
    sys.stderr.flush()
    # Streamlit replaces this process, so a service manager's (or a test's) SIGTERM and Ctrl-C reach
    # the server itself and no orphan is left behind.
    os.execve(sys.executable, command(port, host), env)
