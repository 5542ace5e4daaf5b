"""Dagster definitions: `dagster dev -w workspace.yaml` loads this module.

Lineage: dlt resources (one asset each) -> ingest run log, org import -> identity
resolution, profiles -> every dbt model (dbt tests as asset checks) -> serving publish.
Jobs differ only in their run config: hourly incremental, nightly with the deletion pass,
weekly full refresh; `sei demo` runs `sei_refresh` in-process, the schedules' own job.
"""
from __future__ import annotations

import sys

import dagster as dg

from ingestion import pipeline
from orchestration import settings
from orchestration.dbt import DbtBuildConfig, build_dbt_assets, dbt_resource, prepare_manifest
from orchestration.engine import engine_resource
from orchestration.fresh import sei_fresh, webhook_spool_sensor
from orchestration.health import FRESHNESS_CHECKS, all_integrations_healthy, ingest_run_log
from orchestration.ingest import INGEST_ASSETS, IngestConfig
from orchestration.org import ORG_ASSETS
from orchestration.schedules import gated_schedule
from orchestration.sensors import record_run_failures
from orchestration.serving import build_serving_publish

MAIN_JOB = "sei_refresh"


def executor() -> dg.ExecutorDefinition:
    """Every job's steps run in processes of their own, at most SEI_PARALLEL_STEPS at once,
    forked from a server that has imported the libraries and built these definitions once
    (orchestration/preload.py). `execute_in_process` (`sei demo`) runs them in one process."""
    return dg.multiprocess_executor.configured(
        {"max_concurrent": settings.parallel_steps(),
         "start_method": {"forkserver": {"preload_modules": ["orchestration.preload"]}}}, name="sei_multiprocess")


def run_config(full_refresh: bool = False, reconcile_deletions: bool = False) -> dg.RunConfig:
    ops = {f"ingest_{s}": IngestConfig(full_refresh=full_refresh, reconcile_deletions=reconcile_deletions)
           for s in pipeline.BUILT_SOURCES}
    ops["dbt_build"] = DbtBuildConfig(full_refresh=full_refresh)
    return dg.RunConfig(ops=ops)


def build_definitions() -> dg.Definitions:
    dbt_build = build_dbt_assets(prepare_manifest())
    serving_publish = build_serving_publish(dbt_build)
    assets = [*INGEST_ASSETS, ingest_run_log, *ORG_ASSETS, dbt_build, serving_publish]
    everything = dg.AssetSelection.all()
    tags = {"sei/writes": "warehouse"}  # dagster.yaml: one run with this tag at a time
    jobs = [
        dg.define_asset_job(MAIN_JOB, selection=everything, config=run_config(), tags=tags,
                            description="Incremental: every source since its cursor, org, profiles, dbt build, "
                                        "checks, serving publish."),
        dg.define_asset_job("sei_nightly", selection=everything, config=run_config(reconcile_deletions=True),
                            tags=tags, description="The refresh plus the deletion pass (records deleted upstream "
                                                   "become soft deletes)."),
        dg.define_asset_job("sei_weekly_full_refresh", selection=everything, config=run_config(full_refresh=True),
                            tags=tags, description="Reload every source from start_date and rebuild every model."),
        dg.define_asset_job("sei_freshness", selection=dg.AssetSelection.checks(*FRESHNESS_CHECKS), tags=tags,
                            description="Only the per-integration freshness checks (cheap, every 30 minutes)."),
    ]
    # Each skips with a reason (shown on the tick) while nothing is configured or reachable,
    # instead of failing every hour; freshness only needs the sources file.
    schedules = [
        gated_schedule("hourly_refresh", MAIN_JOB, "15 * * * *"),
        gated_schedule("nightly_refresh_with_deletions", "sei_nightly", "45 2 * * *"),
        gated_schedule("weekly_full_refresh", "sei_weekly_full_refresh", "45 3 * * 0"),
        gated_schedule("freshness_checks", "sei_freshness", "*/30 * * * *", reachable=False),
    ]
    return dg.Definitions(assets=assets, asset_checks=[*FRESHNESS_CHECKS, all_integrations_healthy],
                          jobs=[*jobs, sei_fresh], schedules=schedules,
                          sensors=[record_run_failures, webhook_spool_sensor],  # the push path: orchestration/fresh.py
                          resources={"dbt": dbt_resource(), "engine": engine_resource()},  # SEI_ENGINE
                          executor=executor())


def main_job() -> dg.JobDefinition:
    """`sei_refresh` with its resources, for `dg.reconstructable`: the multiprocess executor
    loads it again in each step's process, as the daemon's run worker does."""
    return sys.modules[__name__].defs.resolve_job_def(MAIN_JOB)  # built once per process


def __getattr__(name: str):
    # Built on first access (workspace.yaml names the attribute): importing this module
    # must not parse the dbt project with whatever environment the importer has.
    if name == "defs":
        globals()["defs"] = build_definitions()
        return globals()["defs"]
    raise AttributeError(name)
