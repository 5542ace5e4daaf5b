"""dbt assets: every model, seed and snapshot in the manifest (whatever models exist), dbt
tests as asset checks, lineage from the dlt assets, the org import and the profiles."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Mapping

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from core.settings import environ, freshness_lag_hours, warehouse_path
from orchestration import settings
from orchestration.engine import SeiEngine
from orchestration.incremental import BuildPlan, plan_build, record_build
from ingestion.lock import writer_lock
from orchestration.ingest import WAREHOUSE_POOL

PARTIAL_PARSE = "partial_parse.msgpack"   # dbt's saved parse (dagster-dbt names it the same)

HEALTH_MODEL = "integration_health"


def dbt_executable() -> str:
    """dbt from the same environment as this interpreter (a venv is not always on PATH)."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def _parse_inputs() -> dict:
    """What the manifest depends on: every project file's size and modification time, the
    dbt version and the environment the profile and models read (SEI_*, DBT_*)."""
    from dbt.version import __version__ as dbt_version
    project = settings.DBT_PROJECT_DIR
    files = sorted(f"{p.relative_to(project)}:{st.st_size}:{st.st_mtime_ns}"
                   for p in project.rglob("*") if p.is_file()
                   and not {"target", "logs", "dbt_packages"} & set(p.relative_to(project).parts)
                   for st in (p.stat(),))
    env = {k: v for k, v in sorted(os.environ.items()) if k.startswith(("SEI_", "DBT_"))}
    return {"dbt": dbt_version, "files": hashlib.sha256("\n".join(files).encode()).hexdigest(), "env": env}


def prepare_manifest() -> Path:
    """`dbt parse` into the private target folder, so the assets always reflect the models on
    disk (others add models; a stale manifest would hide them). Skipped when nothing it
    depends on changed since the last parse (`_parse_inputs`): every process that loads the
    definitions calls this (the code server, the daemon, each step of a run under the
    multiprocess executor), and a parse is seconds of CPU each time."""
    target = settings.dbt_target_dir() / "manifest"
    target.mkdir(parents=True, exist_ok=True)
    manifest, stamp = target / "manifest.json", target / "sei_parse_inputs.json"
    inputs = _parse_inputs()
    try:
        if manifest.exists() and json.loads(stamp.read_text()) == inputs:
            return manifest
    except (OSError, ValueError):
        pass
    stamp.unlink(missing_ok=True)
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    proc = subprocess.run([dbt_executable(), "parse", "--project-dir", str(settings.DBT_PROJECT_DIR),
                           "--profiles-dir", str(settings.DBT_PROJECT_DIR), "--target-path", str(target),
                           "--log-path", str(target), "--quiet"], capture_output=True, text=True, env=env)
    if proc.returncode != 0 or not manifest.exists():
        raise RuntimeError(f"dbt parse failed in {settings.DBT_PROJECT_DIR}:\n{proc.stdout[-3000:]}{proc.stderr[-2000:]}")
    part = stamp.with_suffix(f".{os.getpid()}.part")   # processes loading at once: whole files only
    part.write_text(json.dumps(inputs))
    os.replace(part, stamp)
    return manifest


class SeiDbtTranslator(DagsterDbtTranslator):
    """Sources without `meta.dagster.asset_key` map to the asset that writes them: the org
    files to `org_import`, identity matches to `identity_resolution`, raw_config to
    `profiles`, ops.* to the ingest run log."""

    SOURCE_KEYS = {"org": "org_import", "config": "profiles", "ops": "ingest_run_log"}

    def get_asset_key(self, props: Mapping[str, Any]) -> dg.AssetKey:
        if props.get("resource_type") == "source" and not (props.get("meta") or {}).get("dagster", {}).get("asset_key"):
            if props.get("source_name") == "org" and props.get("name") == "identity_matches":
                return dg.AssetKey("identity_resolution")
            if props.get("source_name") in self.SOURCE_KEYS:
                return dg.AssetKey(self.SOURCE_KEYS[props["source_name"]])
        return super().get_asset_key(props)

    def get_group_name(self, props: Mapping[str, Any]) -> str | None:
        if props.get("resource_type") in ("seed", "snapshot"):
            return f"{props['resource_type']}s"
        parts = props.get("fqn") or []
        return parts[1] if len(parts) > 2 and parts[1] in ("staging", "intermediate", "marts") else "dbt"


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False  # weekly: rebuild incremental models from scratch


def _health_table(warehouse: Path) -> dg.MetadataValue | None:
    from ingestion.destination import read_frame
    df = read_frame(warehouse, f"select * from marts.{HEALTH_MODEL} order by source_name, resource_name")
    if df is None:
        return None
    cols = [c for c in ("source_name", "resource_name", "status", "last_success_at", "lag_hours", "rows_last_run",
                        "requests_last_run", "retries_last_run", "min_ratelimit_remaining", "last_error_message")
            if c in df.columns]
    return dg.MetadataValue.md(df[cols].to_markdown(index=False))


def _reuse_parse(target: Path) -> None:
    """Start a run's target folder with the last run's `partial_parse.msgpack`: each run has a
    folder of its own (its artifacts and logs), and without the file dbt parses the whole
    project again (about 7 s of CPU on two cores, every hourly run). dbt checks the file
    against the project, vars and profile itself and parses afresh when they differ."""
    runs = target.parent
    earlier = sorted((p / PARTIAL_PARSE for p in runs.iterdir() if p != target and (p / PARTIAL_PARSE).exists()),
                     key=lambda p: p.stat().st_mtime) if runs.is_dir() else []
    if earlier and not (target / PARTIAL_PARSE).exists():
        target.mkdir(parents=True, exist_ok=True)
        shutil.copy2(earlier[-1], target / PARTIAL_PARSE)


def _prune(runs: Path, keep: int) -> None:
    """Keep the dbt artifacts and logs of the last `keep` runs only."""
    dirs = sorted((p for p in runs.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    for old in dirs[:-keep]:
        shutil.rmtree(old, ignore_errors=True)


def _asset_events(context, invocation):
    """dagster-dbt's event stream, except that a node missing from the manifest the code
    location loaded (a model added since: dbt re-reads the project when it runs) is logged
    and skipped instead of failing the step. Reloading the code location picks it up."""
    unknown = []
    for raw in invocation.stream_raw_events():  # raises at the end if dbt failed
        try:
            yield from raw.to_default_asset_events(manifest=invocation.manifest,
                                                   dagster_dbt_translator=invocation.dagster_dbt_translator,
                                                   context=context, target_path=invocation.target_path,
                                                   project=invocation.project)
        except KeyError as e:
            unknown.append(str(e).strip("'"))
    if unknown:
        context.log.warning(f"{len(unknown)} dbt nodes are newer than the loaded definitions (reload the code "
                            f"location to see them as assets): {', '.join(unknown[:10])}")


def engine_type(target: str | None) -> str:
    """dbt's target name (duckdb, postgres, spark, spark_thrift) as the engine it runs on."""
    return "spark" if (target or "").startswith("spark") else (target or "duckdb")


def plan_incremental(manifest: dict, dbt_vars: dict, target: str, full_refresh: bool) -> BuildPlan:
    """The build's plan, from the warehouse the build writes (orchestration/incremental.py)."""
    from ingestion.destination import connect_warehouse
    if target == "spark":
        return BuildPlan(full=True, reason="no incremental models on Spark")
    with connect_warehouse(warehouse_path(), read_only=True) as con:
        return plan_build(con, manifest, settings.DBT_PROJECT_DIR, dbt_vars, target, full_refresh=full_refresh)


def record_incremental(plan: BuildPlan, manifest: dict, dbt_vars: dict, target: str) -> None:
    from ingestion.destination import connect_warehouse
    if target != "spark":
        with connect_warehouse(warehouse_path(), read_only=False) as con:
            record_build(con, plan, manifest, settings.DBT_PROJECT_DIR, dbt_vars, target)


def build_dbt_assets(manifest: Path) -> dg.AssetsDefinition:
    # Nested dlt tables (pull_requests__reviews) share their parent resource's key.
    translator = SeiDbtTranslator(settings=DagsterDbtTranslatorSettings(
        enable_asset_checks=True, enable_duplicate_source_asset_keys=True))

    manifest_data = json.loads(Path(manifest).read_text())

    @dbt_assets(manifest=manifest, dagster_dbt_translator=translator, pool=WAREHOUSE_POOL, name="dbt_build")
    def dbt_build(context: dg.AssetExecutionContext, dbt: DbtCliResource, engine: SeiEngine,
                  config: DbtBuildConfig):
        # One knob for the allowed lag: the freshness checks and integration_health agree.
        dbt_vars = {"sei_health_max_lag_hours": freshness_lag_hours()}
        target = settings.dbt_target_dir() / "runs" / context.run_id[:8]
        held = []
        # the warehouse's writer lock (ingestion/lock.py) while dbt writes: a `sei` command
        # started meanwhile waits for this step, as this step waits for one already running
        with writer_lock(warehouse_path(), f"dagster run {context.run_id[:8]}: dbt build"):
            # Spark (orchestration/engine.py): checks, raw datasets exported to the lake
            dbt_vars.update(engine.before_dbt(warehouse_path()))
            # incremental marts: the window this build recomputes, or a full build
            # (orchestration/incremental.py)
            engine_kind = engine_type(dbt.target)
            plan = plan_incremental(manifest_data, dbt_vars, engine_kind, config.full_refresh)
            context.log.info(plan.describe())
            args = ["build", "--vars", json.dumps(dbt_vars),
                    # unit tests check the code, which a window build has not changed since the
                    # last build ran them (a code change makes the build full)
                    *(["--full-refresh"] if plan.full else ["--exclude", "resource_type:unit_test"])]
            _reuse_parse(target)
            with environ(**plan.dbt_env()):   # dagster-dbt passes this process's environment to dbt
                invocation = dbt.cli(args, context=context, target_path=target)
            for event in _asset_events(context, invocation):
                name = event.output_name if isinstance(event, dg.Output) else \
                    event.asset_key.path[-1] if isinstance(event, dg.AssetMaterialization) else ""
                if name.endswith(HEALTH_MODEL):
                    held.append(event)  # dbt holds the file until it exits: read the model after
                    continue
                yield event
            record_incremental(plan, manifest_data, dbt_vars, engine_kind)
            imported = engine.after_dbt(warehouse_path())  # Spark: its marts into the working file
            if imported:
                context.log.info(f"{len(imported)} marts built on Spark copied into the working warehouse "
                                 f"({sum(imported.values()):,} rows)")
            table = _health_table(warehouse_path())  # under the lock: an ingest step may load meanwhile
        _prune(target.parent, keep=5)
        for event in held:
            yield event.with_metadata({**event.metadata, "integrations": table}) if table else event

    return dbt_build


def dbt_resource() -> DbtCliResource:
    # dagster-dbt runs dbt inside the project folder, where profiles.yml's relative default
    # (warehouse/sei.duckdb) would name another file: dbt gets the warehouse Python uses.
    # The output follows the engine (SEI_ENGINE, or SEI_DBT_TARGET: orchestration/engine.py).
    from ingestion.destination import dbt_target
    os.environ.setdefault("SEI_WAREHOUSE", str(warehouse_path().resolve()))
    return DbtCliResource(project_dir=str(settings.DBT_PROJECT_DIR), profiles_dir=str(settings.DBT_PROJECT_DIR),
                          dbt_executable=dbt_executable(), target=dbt_target())
