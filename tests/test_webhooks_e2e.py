"""The push path end to end on the tiny org: the simulator sends signed webhooks (with
duplicates, reorders and forged signatures) as its clock moves -> the receiver (a real
process) spools them -> the spool sensor requests a run -> `sei_fresh` runs in-process ->
the serving file shows the new merged PRs and production deployments in fct_changes,
fct_deployments and dora_service_weekly, equal to what a full sync of the same clock
computes; and the push path plus one hourly sync equals that full sync too."""
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
        yield dict(world=world, t0=t0, sender=sender, before=before, after_push=after_push, after_sync=after_sync,
                   full=full_sync, fresh=fresh, spool=tmp / "webhooks.sqlite", log=receiver)
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
