"""A server started as a child process for as long as a block runs: started, polled until it
answers, then terminated (killed if it does not stop). `sei dashboards` for the screenshots
and the benchmark, the Dagster webserver and the README walkthrough's dashboards in the
tests all go through `running`."""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, expect: str | None = None, timeout: float = 5) -> bool:
    """True when `url` answers 200 (and its body is `expect`, when given)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status == 200 and (expect is None or r.read().decode().strip() == expect)
    except OSError:
        return False


@contextmanager
def running(argv: list[str], ready: Callable[[], bool], env: dict | None = None, cwd: Path | None = None,
            log: Path | None = None, timeout: float = 120, poll: float = 0.5,
            stop_timeout: float = 30) -> Iterator[subprocess.Popen]:
    """Start `argv`, call `ready()` every `poll` seconds until it is true, yield the process,
    and stop it when the block ends (SIGTERM, SIGKILL after `stop_timeout` s). Raises
    RuntimeError, with the end of `log`, when the process exits or is not ready in time."""
    out = open(log, "w") if log else subprocess.DEVNULL
    proc = subprocess.Popen(argv, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)

    def tail() -> str:
        return f": {Path(log).read_text()[-3000:]}" if log else ""
    try:
        deadline = time.monotonic() + timeout
        while not ready():
            if proc.poll() is not None:
                raise RuntimeError(f"{Path(argv[0]).name} exited with {proc.returncode}{tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{Path(argv[0]).name} was not ready within {timeout:.0f}s{tail()}")
            time.sleep(poll)
        yield proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if log:
            out.close()
