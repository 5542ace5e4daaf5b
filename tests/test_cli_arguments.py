"""Every command of `sei --help` checks its own arguments: a bad value exits 2 with one line
on stderr that names the command, the option and the valid values (no traceback, no usage
block). The walk covers every command, so a new one without a case here fails the test."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer

from sei.cli import app

MISSING = "/nonexistent-sei-cli-test/x"

# command -> (a bad argument list, text the one line must contain: the valid values or the fix)
BAD = {
    "ingest": (["--source", "svn"], "use github, jira, harness, events or all"),
    "publish": (["--target", "oracle"], "'oracle' is not one of 'duckdb', 'postgres'"),
    "doctor": (["--sources", MISSING], f"'{MISSING}' does not exist"),
    "demo": (["--size", "huge"], "'huge' is not one of 'tiny', 'small', 'medium', 'large'"),
    "dagster": (["--port", "70000"], "less than or equal to 65535"),
    "dashboards": (["--port", "0"], "greater than or equal to 1"),
    "sim serve": (["--faults", "418:0.5"], "unknown kind '418' (one of 429, 500"),
    "sim truth": (["--out", MISSING, "--size", "xl"], "'xl' is not one of 'tiny', 'small', 'medium', 'large'"),
    "sim export-org": ([MISSING, "--history-days", "0"], "greater than or equal to 1"),
    "org import": (["--effective-date", "2026-02-30"], "write YYYY-MM-DD"),
    "org validate": (["--dir", MISSING], f"'{MISSING}' does not exist"),
    "org show": (["--as-of", "yesterday"], "write YYYY-MM-DD"),
    "org identities": (["--tool", "svn"], "'svn' is not one of 'github', 'git', 'jira', 'harness'"),
    "org history": (["--bogus"], "No such option: --bogus"),
    "org forget": ([], "Missing argument 'developer'"),
    "org retention": (["--months", "0"], "greater than or equal to 1"),
    "profile validate": (["--dir", MISSING], f"'{MISSING}' does not exist"),
    "profile apply": (["--dir", MISSING], f"'{MISSING}' does not exist"),
    "profile show": (["sprints"], "'sprints' is not one of alignment, efficiency, goals, productivity"),
    "rbac validate": (["--bogus"], "No such option: --bogus"),
    "rbac show": (["--bogus"], "No such option: --bogus"),
    "rbac audit": (["--limit", "many"], "'--limit'"),
    "webhooks serve": (["--port", "70000"], "less than or equal to 65535"),
    "webhooks status": (["--bogus"], "No such option: --bogus"),
    "webhooks apply": (["--bogus"], "No such option: --bogus"),
}


# more bad values where a command has several kinds of them
MORE = [
    ("sim serve", ["--size", "huge"], "'huge' is not one of 'tiny', 'small', 'medium', 'large'"),
    ("sim serve", ["--port", "-1"], "greater than or equal to 0"),
    ("sim serve", ["--host", "no-such-host.invalid"], "is not an address of this machine"),
    ("dagster", ["--host", "no-such-host.invalid"], "is not an address of this machine"),
    ("webhooks serve", ["--host", "no-such-host.invalid"], "is not an address of this machine"),
    ("sim truth", ["--out", MISSING, "--advance-hours", "-2"], "greater than or equal to 0"),
    ("org show", ["--depth", "-1"], "greater than or equal to 0"),
    ("org identities", ["--limit", "-5"], "greater than or equal to 0"),
    ("org import", ["--max-file-mb", "0"], "greater than or equal to 0.01"),
    ("publish", ["--scopes", "--format", "xml"], "'xml' is not one of 'duckdb', 'parquet'"),
    ("rbac audit", ["--limit", "-1"], "greater than or equal to 0"),
]


def _commands(cmd=None, path=()):
    cmd = cmd or typer.main.get_command(app)
    if hasattr(cmd, "commands"):
        for name, sub in cmd.commands.items():
            yield from _commands(sub, (*path, name))
    else:
        yield " ".join(path)


def test_every_command_has_a_bad_value_case():
    assert set(_commands()) == set(BAD)


@pytest.mark.parametrize("command, args, valid", [(c, *BAD[c]) for c in sorted(BAD)] + MORE)
def test_bad_value_is_one_line_and_exit_2(command, args, valid, capsys):
    with pytest.raises(SystemExit) as exit_:
        app([*command.split(), *args], prog_name="sei")
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip() and "Warning" not in line and "warnings.warn" not in line]
    assert exit_.value.code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"sei {command}: "), lines[0]
    assert valid in lines[0], lines[0]
    assert lines[0].endswith(f"(see `sei {command} --help`)")


def test_console_script_answers_the_same_way():
    """Through the installed entry point, as a user types it (the issue's example)."""
    sei = Path(sys.executable).parent / "sei"
    r = subprocess.run([str(sei), "demo", "--size", "huge"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1] == ("sei demo: Invalid value for '--size': 'huge' is not one of 'tiny', "
                                                 "'small', 'medium', 'large'. (see `sei demo --help`)")
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize("command", [["sim", "serve", "--size", "tiny"], ["webhooks", "serve"]])
def test_a_taken_port_is_a_usage_error(command, capsys):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SystemExit) as exit_:
            app([*command, "--port", str(port)], prog_name="sei")
    assert exit_.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    where = " ".join(c for c in command if not c.startswith("-") and c != "tiny")
    assert last.startswith(f"sei {where}: Invalid value for --port: cannot listen on 127.0.0.1:{port}: "), last
