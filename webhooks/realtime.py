"""The push path shown live: what `sei demo --realtime` and the freshness benchmark
(benchmarks/bench_webhooks.py) share.

- `ReceiverProcess`: `sei webhooks serve` as a child process on a free port, with the
  secrets the simulator signs with.
- `expectations(sender, since)`: what the serving file must show for the deliveries the
  simulator's sender posted (a pull request opened or merged, a GitHub or Harness
  deployment finished), each with the moment it was sent.
- `visible(serving, expectations)`: which of them a reader of the serving file sees now
  (read-only, as a dashboard or BI tool opens it; the file is swapped in atomically).
- `apply_once(instance, defs, cursor)`: one evaluation of `webhook_spool_sensor` and the
  `sei_fresh` run it requests, in-process: what the Dagster daemon does every
  `SEI_FRESH_SENSOR_INTERVAL_S`.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SECRET_ENV = ("SOURCES__GITHUB__WEBHOOK_SECRET", "SOURCES__JIRA__WEBHOOK_SECRET", "SOURCES__HARNESS__WEBHOOK_TOKEN",
              "SOURCES__EVENTS__WEBHOOK_SECRET")


def new_secret() -> str:
    return secrets.token_urlsafe(24)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, within_s: float) -> bool:
    """Whether the receiver at `url` answers its health check before `proc` exits or
    `within_s` seconds pass."""
    import httpx
    deadline = time.monotonic() + within_s
    while True:
        try:
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return True
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(0.1)


class ReceiverProcess:
    """`sei webhooks serve` in a child process, every sender's secret set to `secret`."""

    def __init__(self, spool: Path, secret: str, port: int | None = None, log: Path | None = None,
                 cpus: set[int] | None = None, startup_s: float = 60.0):
        self.spool, self.port = Path(spool), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks"
        env = {**os.environ, **{k: secret for k in SECRET_ENV}, "SEI_WEBHOOK_SPOOL": str(self.spool)}
        out = open(log, "a", encoding="utf-8") if log else subprocess.DEVNULL  # noqa: SIM115 - closed in stop()
        self._out = out
        self.proc = subprocess.Popen([sys.executable, "-m", "sei.cli", "webhooks", "serve", "--port", str(self.port),
                                      "--spool", str(self.spool)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                     preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        if not wait_healthy(self.url, self.proc, startup_s):
            self.stop()
            raise RuntimeError(f"the webhook receiver did not start (exit status {self.proc.returncode})"
                               + (f"; its log: {log}" if log else ""))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # uvicorn drains: every acknowledged delivery is committed already
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self._out is not subprocess.DEVNULL:
            self._out.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@dataclass
class Expectation:
    key: str           # "pr:acme/api#12:merged", "deployment:github:123"
    what: str          # for people: 'PR acme/api#12 "Fix retries" merged'
    sql: str           # a count(*) over the serving file's marts; > 0 when visible
    params: list
    sent_at: float     # time.time() when the sender posted it


def expectation(source: str, event: str, payload, when: float) -> Expectation | None:
    """What the serving file must show once a delivery is applied: a PR opened or merged, a
    finished GitHub or Harness deployment (None for other deliveries). `event` as the sender
    names it (`pull_request`) or as the spool stores it (`pull_request.closed`)."""
    event = event.split(".", 1)[0]
    if source == "github" and event == "pull_request":
        pr, repo = payload["pull_request"], payload["repository"]["full_name"]
        merged = payload.get("action") == "closed" and pr.get("merged")
        if payload.get("action") == "opened" or merged:
            state = "merged" if merged else "opened"
            return Expectation(f"pr:{repo}#{pr['number']}:{state}", f'PR {repo}#{pr["number"]} "{pr.get("title")}" '
                               f"{state}", "select count(*) from marts.fct_pull_requests where repository_full_name"
                               " = ? and pull_request_number = ?" + (" and merged_at is not null" if merged else ""),
                               [repo, int(pr["number"])], when)
    elif source == "github" and event == "deployment_status":
        d, repo = payload["deployment"], payload["repository"]["full_name"]
        return Expectation(f"deployment:github:{d['id']}", f"GitHub deployment {d['id']} of {repo} to "
                           f"{d['environment']} ({payload['deployment_status']['state']})",
                           "select count(*) from marts.fct_deployments where deployment_id = ? and is_finished",
                           [f"github:{d['id']}"], when)
    elif source == "harness":
        e = payload["eventData"]
        return Expectation(f"deployment:harness:{e['planExecutionId']}", f"Harness execution "
                           f"{e['planExecutionId']} of {e.get('pipelineIdentifier')} ({e.get('nodeStatus')})",
                           "select count(*) from marts.fct_deployments where deployment_id = ? and is_finished",
                           [f"harness:{e['planExecutionId']}"], when)
    return None


def expectations(sender, known: set[str] | None = None) -> list[Expectation]:
    """What the serving file must show for the deliveries the simulator's sender posted
    (`sender.first_sent`: delivery id -> when). One per entity and state, the earliest
    send; keys in `known` left out."""
    out: dict[str, Expectation] = {}
    for delivery, when in list(sender.first_sent.items()):
        if delivery not in sender.deliveries:
            continue
        exp = expectation(*sender.deliveries[delivery], when)
        if exp is not None and exp.key not in (known or ()) and (exp.key not in out or when < out[exp.key].sent_at):
            out[exp.key] = exp
    return sorted(out.values(), key=lambda e: e.sent_at)


def visible(serving: Path, pending: list[Expectation]) -> list[Expectation]:
    """The expectations a reader of the serving file sees now (none while it cannot be opened)."""
    import duckdb
    if not pending or not Path(serving).exists():
        return []
    try:
        con = duckdb.connect(str(serving), read_only=True)
    except duckdb.Error:
        return []
    try:
        return [e for e in pending if con.execute(e.sql, e.params).fetchone()[0] > 0]
    except duckdb.Error:
        return []
    finally:
        con.close()


def apply_once(defs, instance, cursor: str | None, run_config_extra: dict | None = None):
    """Evaluate webhook_spool_sensor once and run the `sei_fresh` it requests, in-process.
    Returns (new cursor, the run's result or None when the spool had nothing new)."""
    import dagster as dg

    from orchestration.fresh import webhook_spool_sensor
    ctx = dg.build_sensor_context(instance=instance, cursor=cursor)
    req = webhook_spool_sensor(ctx)
    if not isinstance(req, dg.RunRequest):
        return cursor, None
    config = {**req.run_config, **(run_config_extra or {})}
    result = defs.resolve_job_def("sei_fresh").execute_in_process(run_config=config, instance=instance,
                                                                  raise_on_error=False, tags=req.tags)
    return ctx.cursor, result


# --------------------------------------------------------------------------- sei demo --realtime
@dataclass
class Arrival:
    expectation: Expectation
    seconds: float     # from the sender's POST to the first read of the serving file that shows it


def show_change_arriving(world, defs, instance, echo, log=None, max_hours: int = 48,
                         timeout_s: float = 600.0, quiet=None) -> list[Arrival]:
    """`sei demo --realtime`: start the receiver and the simulator's webhook sender, move the
    simulator's clock an hour at a time until a PR is merged or a deployment finishes, apply
    the spooled deliveries the way the daemon does (sensor, then `sei_fresh`), and report
    when each change became visible in the serving file. Stops the receiver before
    returning. `log`: a file for the receiver's output (and the runs' when `quiet` is not
    given); `quiet()`: a context manager that sends what a run prints elsewhere."""
    from core.publish import serving_path
    from simulator.webhooks import WebhookSender
    from webhooks import report, settings
    spool = settings.spool_path()
    secret = new_secret()
    serving = serving_path()
    with ReceiverProcess(spool, secret, log=log) as receiver:
        echo(f"   receiver: `sei webhooks serve` on {receiver.url} (spool {spool})")
        sender = WebhookSender(world, receiver.url, secret)  # listens to the clock from now on
        try:
            wanted: list[Expectation] = []
            hours = 0
            while hours < max_hours:
                before = len(sender.sent)
                hours += 1
                world.advance(1)
                wanted = [e for e in expectations(sender) if not e.key.endswith(":opened")]
                sent = sender.sent[before:]
                echo(f"   simulator clock +1 h: {len(sent)} webhooks sent, "
                     f"{sum(s in (200, 202) for _, s in sent)} acknowledged")
                if wanted:
                    break
            if not wanted:
                echo(f"   no PR merged and no deployment finished in {max_hours} simulated hours; nothing to show")
                return []
            cursor = None
            arrivals: list[Arrival] = []
            deadline = time.monotonic() + timeout_s
            while wanted and time.monotonic() < deadline:
                t0 = time.monotonic()
                with (quiet or (lambda: _to_file(log)))():
                    cursor, result = apply_once(defs, instance, cursor)
                if result is not None:
                    meta = _run_metadata(result)
                    echo(f"   sei_fresh run {result.run_id[:8]}: {'success' if result.success else 'FAILED'} in "
                         f"{time.monotonic() - t0:.1f}s, {meta.get('events', '?')} deliveries; "
                         + ", ".join(f"{k} {v:.1f}s" for k, v in (meta.get('seconds') or {}).items()))
                    if not result.success:
                        break
                now = time.time()
                for e in visible(serving, wanted):
                    arrivals.append(Arrival(e, now - e.sent_at))
                    echo(f"   arrived: {e.what}: in the serving file {now - e.sent_at:.1f}s after the simulator "
                         f"sent it")
                wanted = [e for e in wanted if e.key not in {a.expectation.key for a in arrivals}]
                if wanted and result is None:
                    time.sleep(0.5)
            for e in wanted:
                echo(f"   not visible yet: {e.what}")
            counters = report.receiver_counters(spool)
            if counters:
                echo("   receiver counters (`sei doctor`, `sei webhooks status`):")
                for line in report.render(counters).splitlines():
                    echo(f"     {line}")
            return arrivals
        finally:
            with contextlib.suppress(ValueError):
                world.listeners.remove(sender.on_advance)
            echo("   receiver stopped")


@contextlib.contextmanager
def _to_file(log):
    with open(log or os.devnull, "a", encoding="utf-8") as out, contextlib.redirect_stdout(out), \
            contextlib.redirect_stderr(out):
        yield


def _run_metadata(result) -> dict:
    for ev in result.all_events:
        if ev.event_type_value == "STEP_OUTPUT":
            md = ev.event_specific_data.metadata
            return {"events": md["events"].value if "events" in md else None,
                    "seconds": md["seconds"].value if "seconds" in md else {}}
    return {}
