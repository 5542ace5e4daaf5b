"""The push path's apply side (docs/realtime.md): a sensor over the webhook spool launches
`sei_fresh` runs, each applying the deliveries spooled up to a sequence number.

- The sensor's cursor is the last spool `seq` it launched a run for; the `run_key` is that
  seq, so a batch is launched once even if the sensor ticks again before the cursor is saved.
- A run applies every *not yet applied* delivery up to its seq (webhooks/apply.py), so the
  deliveries of a failed run are applied by the next one; applying is a merge on the API
  sync's primary keys, so applying twice changes nothing.
- Runs carry the `sei/writes: warehouse` tag (one warehouse writer at a time, dagster.yaml)
  and take the writer lock like every writer.
"""

import dagster as dg

from orchestration.ingest import WAREHOUSE_POOL
from webhooks import settings as wsettings
from webhooks import spool

FRESH_JOB = "sei_fresh"


class FreshConfig(dg.Config):
    through_seq: int  # apply the spool's pending deliveries up to this seq


@dg.op(pool=WAREHOUSE_POOL, description="Merge the spooled webhook deliveries into raw_* (refetching the touched "
                                        "entities through the connectors), dbt build what is downstream, publish.")
def apply_webhook_batch(context: dg.OpExecutionContext, config: FreshConfig) -> dg.Output:
    from webhooks.apply import apply_pending
    res = apply_pending(through=config.through_seq, run_id=context.run_id, say=context.log.info,
                        command=f"dagster run {context.run_id[:8]}: sei_fresh")
    for problem in res.problems:
        context.log.warning(problem)
    if res.published:
        context.log_event(dg.AssetMaterialization(
            asset_key="serving_publish", description="republished by sei_fresh",
            metadata={"spool_through_seq": res.last_seq, "events": res.events}))
    return dg.Output(res.newly_applied, metadata={
        "events": res.events, "newly_applied": res.newly_applied, "through_seq": res.last_seq,
        "tables": dg.MetadataValue.json(sorted(set(res.touched_tables))),
        "rows": dg.MetadataValue.json(res.rows), "dbt_select": " ".join(res.dbt_selected),
        "seconds": dg.MetadataValue.json({k: round(v, 2) for k, v in res.seconds.items()}),
        "problems": "; ".join(res.problems) or "none",
        "receiver": dg.MetadataValue.json(spool.status(wsettings.spool_path())["counters"])})


@dg.job(name=FRESH_JOB, tags={"sei/writes": "warehouse"},
        description="Near-real-time: apply a batch of webhook deliveries from the spool (launched by "
                    "webhook_spool_sensor).")
def sei_fresh():
    apply_webhook_batch()


def run_request_for(cursor: int, last: int) -> dg.RunRequest | None:
    if last <= cursor:
        return None
    through = min(last, cursor + wsettings.batch_max_events())
    return dg.RunRequest(run_key=f"spool-through-{through}",
                         run_config={"ops": {"apply_webhook_batch": {"config": {"through_seq": through}}}},
                         tags={"sei/spool_through_seq": str(through)})


@dg.sensor(name="webhook_spool_sensor", job=sei_fresh, minimum_interval_seconds=wsettings.sensor_interval_s(),
           default_status=dg.DefaultSensorStatus.RUNNING,
           description="Starts sei_fresh when the webhook receiver has spooled new deliveries (SEI_WEBHOOK_SPOOL).")
def webhook_spool_sensor(context: dg.SensorEvaluationContext):
    path = wsettings.spool_path()
    if not path.exists():
        return dg.SkipReason(f"no webhook spool at {path}: start `sei webhooks serve` (docs/realtime.md)")
    cursor = int(context.cursor or 0)
    req = run_request_for(cursor, spool.last_seq(path))
    if req is None:
        return dg.SkipReason(f"no new deliveries since seq {cursor}")
    context.update_cursor(req.tags["sei/spool_through_seq"])
    return req
