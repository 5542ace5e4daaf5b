"""The push path end to end on the tiny org: the simulator sends signed webhooks (with
duplicates, reorders and forged signatures) as its clock moves -> the receiver (a real
process) spools them -> the spool sensor requests a run -> `sei_fresh` runs in-process ->
the serving file shows the new merged PRs and production deployments in fct_changes,
fct_deployments and dora_service_weekly, equal to what a full sync of the same clock
computes; and the push path plus one hourly sync equals that full sync too.

Then the kill test on the same warehouse: the receiver is SIGKILLed while the simulator is
sending, restarted, the sender redelivers; every acknowledged delivery is stored and applied
exactly once, and the warehouse ends equal to a copy that got each delivery once from a
receiver never killed."""
import shutil

import dagster as dg
import duckdb
import pytest

from helpers import environ, job_environment
from webhook_receiver import SECRET, Receiver

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("webhooks")]  # its own world: runs beside the dbt group

MARTS = ("fct_changes", "fct_deployments", "dora_service_weekly")
ADVANCE_HOURS = 48


def _mart(serving, table):
    con = duckdb.connect(str(serving), read_only=True)
    try:
        df = con.execute(f"select * from marts.{table}").df()
    finally:
        con.close()
    keep = [c for c in df.columns if not any(x in c for x in ("_dlt", "loaded_at", "built_at", "published_at"))]
    return df[keep].sort_values(keep).reset_index(drop=True)


def _run(defs, instance, job, run_config=None):
    res = defs.resolve_job_def(job).execute_in_process(instance=instance, run_config=run_config, raise_on_error=False)
    assert res.success, [e.message for e in res.all_events if e.is_failure]
    return res


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    from simulator import generate
    from simulator.export import export_org, export_sources
    from simulator.export_events import export_events
    from simulator.server import SimServer
    from simulator.webhooks import WebhookSender

    tmp = tmp_path_factory.mktemp("push")
    world = generate("tiny", seed=7)
    receiver = Receiver(tmp / "webhooks.sqlite")
    try:
        with SimServer(world, time_scale=0.001) as sim:
            events = export_events(world, tmp / "events")
            sources = export_sources(world, tmp / "sources.yml", sim.url, events)
            export_org(world, tmp / "org")
            with environ(**job_environment(tmp, sources), SEI_WEBHOOK_SPOOL=tmp / "webhooks.sqlite"):
                from orchestration.definitions import build_definitions
                from orchestration.fresh import webhook_spool_sensor
                defs, instance = build_definitions(), dg.DagsterInstance.ephemeral()
                _run(defs, instance, "sei_refresh")
                before = {t: _mart(tmp / "serving" / "sei.duckdb", t) for t in MARTS}
                t0 = world.now
                sender = WebhookSender(world, receiver.url, SECRET, faults=True)
                world.advance(ADVANCE_HOURS)  # the sender posts every change of these hours
                ctx = dg.build_sensor_context(instance=instance, cursor=None)
                req = webhook_spool_sensor(ctx)
                assert isinstance(req, dg.RunRequest), req
                fresh = _run(defs, instance, "sei_fresh", req.run_config)
                again = webhook_spool_sensor(dg.build_sensor_context(instance=instance, cursor=ctx.cursor))
                assert isinstance(again, dg.SkipReason)  # nothing new: no second run for the same batch
                after_push = {t: _mart(tmp / "serving" / "sei.duckdb", t) for t in MARTS}
                # the hourly sync after the push path
                _run(defs, instance, "sei_refresh")
                after_sync = {t: _mart(tmp / "serving" / "sei.duckdb", t) for t in MARTS}
            # a full sync of the same clock into a warehouse of its own
            full = tmp / "full"
            full.mkdir()
            shutil.copytree(tmp / "org", full / "org")
            events2 = export_events(world, full / "events")
            sources2 = export_sources(world, full / "sources.yml", sim.url, events2)
            with environ(**job_environment(full, sources2), SEI_WEBHOOK_SPOOL=full / "none.sqlite"):
                _run(build_definitions(), dg.DagsterInstance.ephemeral(), "sei_refresh")
                full_sync = {t: _mart(full / "serving" / "sei.duckdb", t) for t in MARTS}
            # the simulator keeps serving for the fixtures that build on this one
            yield dict(world=world, t0=t0, sender=sender, before=before, after_push=after_push,
                       after_sync=after_sync, full=full_sync, fresh=fresh, spool=tmp / "webhooks.sqlite",
                       log=receiver, tmp=tmp, sources=sources)
    finally:
        receiver.stop()


def test_simulator_sent_signed_faulty_deliveries(pushed):
    statuses = [s for _, s in pushed["sender"].sent]
    assert statuses.count(401) >= 1                 # the forged ones were refused
    assert set(statuses) <= {200, 202, 401}
    from webhooks import spool
    st = spool.status(pushed["spool"])
    assert st["counters"]["github"]["duplicate"] >= 1 and st["counters"]["github"]["unauthorized"] >= 1
    assert st["pending"] == 0                       # every accepted delivery applied
    assert st["last_batch"]["status"] == "success", st["last_batch"]


def test_new_merges_and_production_deployments_reach_the_serving_file(pushed):
    w, t0 = pushed["world"], pushed["t0"]
    prs, d = w.t["prs"], w.t["deployments"]
    merged = prs[(prs.merged_at > t0) & (prs.merged_at <= w.now)]
    prod = d[(d.environment == "production") & (d.finished_at > t0) & (d.finished_at <= w.now)]
    assert len(merged) >= 1 and len(prod) >= 1     # the window holds what the test is about
    for table in ("fct_changes", "fct_deployments"):
        assert len(pushed["after_push"][table]) > len(pushed["before"][table]), table


@pytest.mark.parametrize("table", MARTS)
def test_push_path_equals_a_full_sync(pushed, table):
    import pandas.testing as pdt
    pdt.assert_frame_equal(pushed["after_push"][table], pushed["full"][table], check_dtype=False)


@pytest.mark.parametrize("table", MARTS)
def test_push_path_plus_one_sync_equals_a_full_sync(pushed, table):
    import pandas.testing as pdt
    pdt.assert_frame_equal(pushed["after_sync"][table], pushed["full"][table], check_dtype=False)


# --------------------------------------------------------------------------- kill test
KILL_ADVANCE_HOURS = 72
KILL_AFTER_ACKS = 12
COMPARED = ("fct_changes", "fct_deployments", "fct_pull_requests", "dora_service_weekly")
RAW = ("raw_github.pull_requests", "raw_github.deployments", "raw_github.deployment_statuses",
       "raw_github.commits", "raw_jira.issues", "raw_harness.pipeline_executions", "raw_events.deployments")


def _rows(wh, table):
    """A table of the working warehouse without load bookkeeping (ids, load times), sorted."""
    con = duckdb.connect(str(wh), read_only=True)
    try:
        df = con.execute(f"select * from {table}").df()
    except duckdb.CatalogException:
        return None
    finally:
        con.close()
    keep = [c for c in df.columns if not any(x in c for x in ("_dlt", "loaded_at", "built_at", "published_at",
                                                               "synced_at", "source_file"))]
    df = df[keep].astype(str)
    return df.sort_values(keep).reset_index(drop=True)


def _spool_id(sender, delivery):
    """The id the receiver stores a sender's delivery under: GitHub's and Jira's delivery id;
    Harness sends none, so its execution and event; other tools without one, the body's hash."""
    import json

    from webhooks.kinds import body_id
    source, _, payload = sender.deliveries[delivery]
    if source == "harness":
        return f"{payload['eventData']['planExecutionId']}:{payload['eventData']['eventType']}"
    if source == "events":
        return body_id((payload if isinstance(payload, str) else json.dumps(payload, separators=(",", ":"))).encode())
    return delivery


def _spooled(spool):
    import sqlite3
    with sqlite3.connect(spool) as con:
        return con.execute("select delivery_id, applied_at is not null, applied_run from events order by seq").fetchall()


@pytest.fixture(scope="module")
def killed(pushed):
    import threading

    from simulator.webhooks import WebhookSender
    from webhooks.apply import apply_pending
    world, tmp = pushed["world"], pushed["tmp"]
    world.listeners.remove(pushed["sender"].on_advance)  # the first receiver is not part of this test
    spool, reference_spool = tmp / "kill.sqlite", tmp / "reference.sqlite"
    first = Receiver(spool)
    sender = WebhookSender(world, first.url, SECRET)
    mover = threading.Thread(target=world.advance, args=(KILL_ADVANCE_HOURS,))
    mover.start()
    while sum(status == 200 for _, status in list(sender.sent)) < KILL_AFTER_ACKS and mover.is_alive():
        mover.join(0.005)
    first.kill()  # between accept and apply: nothing of this spool has been applied
    mover.join()
    stored_answers = {d for d, status in sender.sent if status == 200}  # 202: an event type not stored
    stored_at_kill = [d for d, _, _ in _spooled(spool)]
    restarted = Receiver(spool)
    try:
        sender.url = restarted.url
        retried = sender.redeliver()                 # what got no answer
        replayed = sender.redeliver(everything=True)  # and a redelivery of everything: stored once
    finally:
        restarted.stop()
    reference = Receiver(reference_spool)  # each delivery once, to a receiver never killed
    try:
        sender.url = reference.url
        once = sender.redeliver(everything=True)
    finally:
        reference.stop()
    copy = tmp.parent / (tmp.name + "-reference")
    shutil.copytree(tmp, copy, ignore=shutil.ignore_patterns("webhooks.sqlite*", "kill.sqlite*", "reference.sqlite*", "realtime.sqlite*",
                                                             "full", "serving"))
    with environ(**job_environment(tmp, pushed["sources"]), SEI_WEBHOOK_SPOOL=spool):
        applied = apply_pending(publish=False, say=lambda line: None)
        again = apply_pending(publish=False, say=lambda line: None)
    with environ(**job_environment(copy, pushed["sources"]), SEI_WEBHOOK_SPOOL=reference_spool):
        reference_applied = apply_pending(publish=False, say=lambda line: None)
    return dict(sender=sender, acked_before_kill=stored_answers, stored_at_kill=stored_at_kill, retried=retried,
                replayed=replayed, once=once, applied=applied, again=again, reference_applied=reference_applied,
                spool=spool, reference_spool=reference_spool, wh=tmp / "sei.duckdb", reference_wh=copy / "sei.duckdb")


def test_killed_receiver_keeps_every_acknowledged_delivery_once(killed):
    sender = killed["sender"]
    assert KILL_AFTER_ACKS <= len(killed["acked_before_kill"]) < len(sender.deliveries)  # killed mid-way
    lost = {_spool_id(sender, d) for d in killed["acked_before_kill"]} - set(killed["stored_at_kill"])  # 200 = on disk
    assert not lost, lost
    assert all(status in (200, 202) for _, status in killed["retried"] + killed["replayed"] + killed["once"])
    ids = [d for d, _, _ in _spooled(killed["spool"])]
    assert len(ids) == len(set(ids))  # each once, whatever was redelivered
    assert set(ids) == {d for d, _, _ in _spooled(killed["reference_spool"])}


def test_killed_receiver_deliveries_are_applied_exactly_once(killed):
    rows = _spooled(killed["spool"])
    applied, again = killed["applied"], killed["again"]
    assert applied.events == applied.newly_applied == len(rows) and not applied.problems
    assert all(done and run == applied.run_id for _, done, run in rows)  # all by that one run
    assert again.events == 0 and again.newly_applied == 0  # nothing left to apply twice


@pytest.mark.parametrize("table", [*(f"marts.{t}" for t in COMPARED), *RAW])
def test_apply_after_the_kill_equals_one_apply_of_the_same_deliveries(killed, table):
    import pandas.testing as pdt
    assert killed["reference_applied"].events == killed["applied"].events
    got, want = _rows(killed["wh"], table), _rows(killed["reference_wh"], table)
    assert (got is None) == (want is None), table
    if got is not None:
        pdt.assert_frame_equal(got, want)


# --------------------------------------------------------------------------- sei demo --realtime
def test_realtime_demo_shows_a_merge_or_deployment_arriving(pushed):
    """What `sei demo --realtime` runs after the main job, on this module's warehouse: each
    change it reports as arrived is one the simulator made in the window, and the serving
    file has it."""
    import datetime as _dt

    from webhooks.realtime import show_change_arriving
    world, tmp = pushed["world"], pushed["tmp"]
    lines: list[str] = []
    start = world.now
    with environ(**job_environment(tmp, pushed["sources"]), SEI_WEBHOOK_SPOOL=tmp / "realtime.sqlite"):
        from orchestration.definitions import build_definitions
        arrivals = show_change_arriving(world, build_definitions(), dg.DagsterInstance.ephemeral(), lines.append,
                                        log=tmp / "realtime.log")
    assert arrivals, "\n".join(lines)
    assert lines[-1] == "   receiver stopped"
    assert any(ln.startswith("   arrived: ") for ln in lines)
    prs, deps = world.t["prs"], world.t["deployments"]
    repos = world.t["repos"].set_index("repo_id").full_name
    serving = duckdb.connect(str(tmp / "serving" / "sei.duckdb"), read_only=True)
    try:
        for a in arrivals:
            kind, _, rest = a.expectation.key.partition(":")
            if kind == "pr":
                repo, _, tail = rest.partition("#")
                number = int(tail.split(":")[0])
                truth = prs[(prs.repo_id.map(repos) == repo) & (prs.number == number)].iloc[0]
                assert start < truth.merged_at <= world.now  # merged in the window the demo moved through
                merged = serving.execute("select merged_at from marts.fct_pull_requests where repository_full_name = ? "
                                         "and pull_request_number = ?", [repo, number]).fetchone()[0]
                merged = merged if merged.tzinfo else merged.replace(tzinfo=_dt.timezone.utc)  # naive means UTC
                assert merged.timestamp() == truth.merged_at
            else:
                tool, ident = rest.split(":", 1)
                col = "gh_deployment_id" if tool == "github" else "plan_execution_id"
                truth = deps[deps[col].astype(str) == ident].iloc[0]
                assert start < truth.finished_at <= world.now
                status = serving.execute("select is_finished from marts.fct_deployments where deployment_id = ?",
                                         [f"{tool}:{ident}"]).fetchone()
                assert status == (True,)
    finally:
        serving.close()


def test_sei_demo_has_the_realtime_option():
    from typer.testing import CliRunner

    from sei.cli import app
    out = CliRunner().invoke(app, ["demo", "--help"])
    assert out.exit_code == 0 and "--realtime" in out.output
