"""A throwaway PostgreSQL server for tests: initdb in a temporary folder, a free port, a
Unix socket in the same folder, stopped and removed afterwards. Tests that need a real
server (dbt's postgres target, row-level security) use `postgres_server()`; they are
skipped with a clear reason when no PostgreSQL binaries are installed."""
from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's bin folder (Debian layout), or one on PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _as_server_user(tmp: Path) -> list[str]:
    """PostgreSQL refuses to run as root: when the tests do, run the server as an unprivileged
    system user (postgres, else nobody) that owns the temporary folder."""
    if os.geteuid() != 0:
        return []
    import pwd
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        for p in (tmp, *tmp.rglob("*")):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        return ["setpriv", f"--reuid={pw.pw_uid}", f"--regid={pw.pw_gid}", "--clear-groups", "--"]
    pytest.skip("running as root with no unprivileged user to run PostgreSQL as")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    host: str
    port: int
    user: str
    password: str
    dbname: str
    bin: Path

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.dbname}"

    def connect(self, user: str | None = None, password: str | None = None, dbname: str | None = None):
        import psycopg2
        con = psycopg2.connect(host=self.host, port=self.port, user=user or self.user,
                               password=self.password if password is None else password, dbname=dbname or self.dbname)
        con.autocommit = True
        return con

    def execute(self, sql: str, params=None) -> list[tuple]:
        """Run one statement as the superuser; rows when it returns any."""
        con = self.connect()
        try:
            with con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            con.close()

    def env(self) -> dict[str, str]:
        """Settings for dbt's `postgres` target (dbt_project/profiles.yml) and dlt's destination."""
        return {"SEI_PG_HOST": self.host, "SEI_PG_PORT": str(self.port), "SEI_PG_USER": self.user,
                "SEI_PG_PASSWORD": self.password, "SEI_PG_DATABASE": self.dbname, "SEI_DBT_TARGET": "postgres"}


@contextlib.contextmanager
def postgres_server(user: str = "sei", password: str = "sei-test-password", dbname: str = "sei") -> Iterator[PgServer]:
    bindir = pg_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    tmp = Path(tempfile.mkdtemp(prefix="sei-pg-"))
    data, port = tmp / "data", _free_port()
    pwfile = tmp / "pw"
    pwfile.write_text(password)
    env = {**os.environ, "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    as_user = _as_server_user(tmp)
    try:
        subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", user, "--pwfile", str(pwfile),
                        "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8"],
                       check=True, capture_output=True, env=env)
        # Small shared memory and no fsync: a throwaway test cluster on a 2-core machine.
        opts = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
                f"-c full_page_writes=off -c shared_buffers=64MB -c max_connections=50")
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(tmp / "server.log"), "-w",
                        "-t", "60", "start"], check=True, capture_output=True, env=env)
        server = PgServer("127.0.0.1", port, user, password, "postgres", bindir)
        server.execute(f'create database "{dbname}"')
        server.dbname = dbname
        yield server
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], capture_output=True,
                       env=env)
        shutil.rmtree(tmp, ignore_errors=True)
