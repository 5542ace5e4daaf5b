"""One writer at a time: the warehouse lock every writing command and Dagster step takes.

DuckDB lets one process write a file, and two `sei ingest` runs on one warehouse also share
dlt's pipeline working folder (`<warehouse dir>/.dlt_pipelines`): started together they
load each other's packages and one dies on DuckDB's own "Conflicting lock". So every writer
(`sei ingest`, `sei org import`, `sei org forget`, `sei profile apply`, `sei publish`, and the
Dagster steps that write: ingest, org import, identities, profiles, dbt build, serving
publish) holds `writer_lock(warehouse)` while it works:

- the lock file is `<warehouse>.lock` beside the DuckDB file (`sei.duckdb.lock`);
- ingestion also locks the dlt pipelines it uses, one lock file per pipeline beside the
  pipeline folder (`.dlt_pipelines.sei_github.lock`), which every warehouse in that folder
  shares. A source's extract and normalize hold only its pipeline's lock (`pipeline_lock`):
  they read the API and write the pipeline folder, never the warehouse, so the sources of a
  Dagster run extract side by side and queue for the warehouse only to load;
- locks are always taken in one order, the warehouse first, then pipelines by name, and a
  holder of a pipeline lock waits for nothing else: no two writers can wait for each other;
- it is an OS advisory lock (`flock`, through the `filelock` library): the kernel drops it
  when the holder exits or is killed, so a lock left by a dead process is free to take
  over, with nothing to clean up;
- the holder writes who it is (PID, command, start time, host) into the lock file, so a
  second writer can say whom it waits for (`--wait`, the default) or exit 1 naming the
  holder (`--no-wait`). `SEI_LOCK_TIMEOUT` (seconds; unset: no limit) bounds a wait;
- re-entrant within a thread: a command that holds it can call library functions that take
  it again (the same `FileLock` object per path, its counter per thread). Another thread of
  the same process waits like another process would.

Hand-written here, on top of filelock: the holder record and the messages (filelock only
locks), and one lock object per path per process (filelock's `flock` on a second object
of the same file in the same process would wait for itself).

On PostgreSQL (SEI_DESTINATION=postgres) the lock still serialises the writers of this
machine, which share the local DuckDB file (org, profiles, ops) and the pipeline folder.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Callable, Iterable, Iterator

from filelock import FileLock, Timeout

ENV_TIMEOUT = "SEI_LOCK_TIMEOUT"


class WarehouseLocked(RuntimeError):
    """Another process holds the warehouse (and `--no-wait`, or SEI_LOCK_TIMEOUT ran out)."""


def lock_path(warehouse: Path | str) -> Path:
    p = Path(warehouse).resolve()
    return p.with_name(p.name + ".lock")


def pipeline_lock_path(pipelines_dir: Path | str, pipeline_name: str) -> Path:
    p = Path(pipelines_dir).resolve()
    return p.with_name(f"{p.name}.{pipeline_name}.lock")


def _pipeline_names(names: Iterable[str] | None) -> list[str]:
    if names is None:  # every pipeline of the project
        from ingestion.pipeline import BUILT_SOURCES
        names = [f"sei_{s}" for s in BUILT_SOURCES]
    return sorted(set(names))


def command_line() -> str:
    """What this process is, for the holder record: `sei ingest --source all`, or the script."""
    argv = list(sys.argv)
    if argv and (argv[0].endswith(("sei", "sei/cli.py")) or argv[0] == "-m"):
        argv[0] = "sei"
    elif argv and argv[0].endswith("__main__.py"):
        argv[0] = "sei"
    return " ".join(argv)[:300] or "python"


_LOCKS: dict[str, FileLock] = {}
_GUARD = threading.Lock()
_PENDING = threading.local()  # the holder record the on_acquired hook writes


def _stamp(fd: int) -> None:
    """filelock's on_acquired hook: write the holder record into the locked file (the
    waiters read it; filelock never truncates the file of a lock it did not win)."""
    rec = getattr(_PENDING, "record", None) or {}
    data = json.dumps(rec).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)
    os.fsync(fd)


def _file_lock(path: Path) -> FileLock:
    key = str(path)
    with _GUARD:
        fl = _LOCKS.get(key)
        if fl is None:
            path.parent.mkdir(parents=True, exist_ok=True)
            fl = _LOCKS[key] = FileLock(key, thread_local=True, on_acquired=_stamp)
        return fl


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def holder(path: Path | str) -> dict | None:
    """The record of the process that holds (or last held) the lock file, or None."""
    try:
        rec = json.loads(Path(path).read_text() or "null")
    except (OSError, ValueError):
        return None
    return rec if isinstance(rec, dict) else None


def describe(rec: dict | None) -> str:
    if not rec:
        return "another process (its details are not written yet)"
    where = "" if rec.get("host") in (None, socket.gethostname()) else f" on {rec['host']}"
    alive = "" if rec.get("host") not in (None, socket.gethostname()) or _alive(int(rec.get("pid", 0))) \
        else " (exiting)"
    return f"PID {rec.get('pid')}{where}{alive}: `{rec.get('command')}`, started {rec.get('started_at')}"


def _timeout() -> float:
    v = os.environ.get(ENV_TIMEOUT, "").strip()
    if not v:
        return -1.0
    try:
        return max(0.0, float(v))
    except ValueError:
        raise WarehouseLocked(f"{ENV_TIMEOUT}={v!r} is not a number of seconds. Fix: set it to e.g. 600, or unset it "
                              f"to wait without a limit.") from None


def _acquire(path: Path, what: str, command: str, wait: bool, say: Callable[[str], None]) -> FileLock:
    fl = _file_lock(path)
    if fl.is_locked:  # this thread holds it already: re-enter
        fl.acquire()
        return fl
    _PENDING.record = {"pid": os.getpid(), "command": command, "host": socket.gethostname(),
                       "started_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")}
    try:
        fl.acquire(blocking=False)
        return fl
    except Timeout:
        pass
    who = describe(holder(path))
    if not wait:
        raise WarehouseLocked(
            f"{what} is being written by {who}. Nothing was changed. What to do: wait for it to finish, or run again "
            f"with --wait to queue behind it (lock file {path}).")
    limit = _timeout()
    say(f"waiting for {what}: it is being written by {who} (lock file {path}; --no-wait exits instead"
        + (f", giving up after {limit:.0f}s ({ENV_TIMEOUT})" if limit >= 0 else "") + ")")
    try:
        fl.acquire(timeout=limit, poll_interval=0.2)
    except Timeout:
        raise WarehouseLocked(
            f"{what} was still being written by {describe(holder(path))} after {limit:.0f}s ({ENV_TIMEOUT}). "
            f"Nothing was changed. What to do: run again later, or raise {ENV_TIMEOUT}.") from None
    say(f"{what} is free: going on")
    return fl


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def writer_lock(warehouse: Path | str | None = None, command: str | None = None, wait: bool = True,
                say: Callable[[str], None] | None = None, pipelines_dir: Path | str | None = None,
                pipelines: Iterable[str] | None = None) -> Iterator[None]:
    """Hold the warehouse's writer lock for the block, and with `pipelines_dir` the locks of
    the dlt pipelines named in `pipelines` (None: all of the project's).

    `wait=False` raises `WarehouseLocked` at once when another process holds it; the message
    names the holder. Locks are taken in one order (warehouse, then pipelines by name)."""
    if warehouse is None:
        from core.settings import warehouse_path
        warehouse = warehouse_path()
    say = say or _stderr
    command = command or command_line()
    held: list[FileLock] = []
    try:
        held.append(_acquire(lock_path(warehouse), f"the warehouse {Path(warehouse)}", command, wait, say))
        if pipelines_dir is not None:
            for name in _pipeline_names(pipelines):
                held.append(_acquire(pipeline_lock_path(pipelines_dir, name), f"the dlt pipeline {name}",
                                     command, wait, say))
        yield
    finally:
        for fl in reversed(held):
            fl.release()


@contextlib.contextmanager
def pipeline_lock(pipelines_dir: Path | str, pipeline_name: str, command: str | None = None, wait: bool = True,
                  say: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold one dlt pipeline's lock, not the warehouse's: for a source's extract and normalize,
    which read the API and write only the pipeline folder. Waits for nothing while held."""
    fl = _acquire(pipeline_lock_path(pipelines_dir, pipeline_name), f"the dlt pipeline {pipeline_name}",
                  command or command_line(), wait, say or _stderr)
    try:
        yield
    finally:
        fl.release()


# --no-wait / --wait on every writing command (typer reads the default from here)
def wait_option():
    import typer
    return typer.Option(True, "--wait/--no-wait",
                        help="When another process is writing the warehouse: wait for it (default) or exit 1 "
                             "naming it. SEI_LOCK_TIMEOUT (seconds) bounds the wait.")


def locked_command(fn):
    """Decorator for a `sei` command that writes the warehouse: the whole command holds the
    writer lock of its `--warehouse` (default SEI_WAREHOUSE). Its `wait` parameter (the
    `--wait/--no-wait` option, `wait_option()`) says whether another writer is waited for
    (saying which) or makes it exit 1 naming it. Put it under `@app.command(...)`: typer
    reads the parameters through `functools.wraps`."""
    import functools
    import inspect

    sig = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        import typer
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        cm = writer_lock(bound.arguments.get("warehouse"), wait=bool(bound.arguments.get("wait", True)),
                         say=lambda line: typer.echo(line, err=True))
        try:
            cm.__enter__()
        except WarehouseLocked as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(1) from None
        try:
            return fn(*args, **kwargs)
        finally:
            cm.__exit__(None, None, None)
    return wrapper


def writes_warehouse(unless: Callable[[dict], bool] | None = None):
    """Decorator for library functions that write the warehouse named by their `warehouse`
    argument (None: SEI_WAREHOUSE): they take the writer lock (waiting for another writer),
    so a Dagster step or script calling them directly is serialised like the `sei` commands.
    `unless(arguments)` true: a read-only call (a dry run) that needs no lock."""
    import functools
    import inspect

    def deco(fn):
        sig = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            if unless is not None and unless(bound.arguments):
                return fn(*args, **kwargs)
            with writer_lock(bound.arguments.get("warehouse")):
                return fn(*args, **kwargs)
        return wrapper
    return deco
