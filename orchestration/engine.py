"""The engine that builds the marts, as a Dagster resource (docs/engines.md).

`SEI_ENGINE` (duckdb | postgres | spark; the older `SEI_DESTINATION` is still honoured)
picks it once, when the definitions load: the `engine` resource says which one, and the
`dbt` resource runs dbt with that engine's output of dbt_project/profiles.yml
(`SEI_DBT_TARGET` may name another, e.g. `spark_thrift`). Every asset, check, schedule
and the health views are the same on all three.

On Spark the `dbt_build` asset brackets dbt with two steps of this resource:
- before: check what Spark needs (a writable lake root; Java 17 for the local session, or
  a thrift server that answers), then export the raw datasets of the DuckDB working file
  to the Parquet lake (ingestion/lake.py); dbt's on-run-start hook declares them in
  Spark's catalog (macros/spark/register_lake.sql). A failed check stops the step before
  dbt starts, with one line naming the setting and the fix, so nothing downstream runs and
  the last published serving data stays as it was.
- after: copy the marts Spark built (Parquet under the lake) into the working file's
  `marts` schema, which the expectations, integration health and the serving publish
  read as they do on DuckDB. Spark has no row-level security: access control stays in
  the serving layer (docs/access-control.md).
"""
from __future__ import annotations

import os
import socket
from pathlib import Path

import dagster as dg

from core.settings import warehouse_path
from orchestration import settings


class SeiEngine(dg.ConfigurableResource):
    """Which engine builds the marts, and for Spark where its lake is."""

    name: str = "duckdb"        # duckdb | postgres | spark
    dbt_target: str = "duckdb"  # the profiles.yml output dbt builds with
    lake: str = ""              # Spark only: the lake root (SEI_LAKE)

    @property
    def is_spark(self) -> bool:
        return self.name == "spark"

    def profile_output(self) -> dict:
        """The dbt output this engine builds with, rendered (env_var filled in)."""
        import yaml
        from dbt.config.renderer import ProfileRenderer
        from dbt_common.context import set_invocation_context
        set_invocation_context(os.environ)
        raw = yaml.safe_load((settings.DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
        outputs = raw["sei"]["outputs"]
        if self.dbt_target not in outputs:
            raise dg.Failure(description=f"SEI_DBT_TARGET={self.dbt_target}: dbt_project/profiles.yml has no such "
                                         f"output. Fix: use one of {', '.join(outputs)}, or unset it.",
                             allow_retries=False)
        return ProfileRenderer({}).render_data(outputs[self.dbt_target])

    def preflight(self) -> dict:
        """Spark's prerequisites, cheapest first; a dg.Failure naming the setting and the fix."""
        from ingestion.lake import LakeError, check_java, check_lake_writable
        out = self.profile_output()
        try:
            check_lake_writable(self.lake)
            if out.get("method") in ("thrift", "http"):
                check_answers(str(out.get("host")), int(out.get("port") or (443 if out["method"] == "http" else 10000)),
                              self.dbt_target)
            else:
                check_java()
        except (LakeError, EngineError) as e:
            raise dg.Failure(description=str(e), allow_retries=False) from None
        return out

    def before_dbt(self, warehouse: Path) -> dict:
        """Spark: preflight, export the raw datasets, and the vars that register them."""
        if not self.is_spark:
            return {}
        from ingestion.lake import export_to_lake, lake_tables
        self.preflight()
        export_to_lake(warehouse, self.lake)
        return {"sei_lake": self.lake, "sei_lake_tables": lake_tables(self.lake)}

    def after_dbt(self, warehouse: Path) -> dict[str, int]:
        """Spark: the built marts copied into the working file (rows per mart)."""
        if not self.is_spark:
            return {}
        from ingestion.lake import import_spark_marts
        return import_spark_marts(self.lake, warehouse)


class EngineError(RuntimeError):
    pass


def check_answers(host: str, port: int, target: str, timeout_s: float = 5.0) -> None:
    """A thrift (or http) Spark endpoint must accept a connection within `timeout_s`."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as e:
        raise EngineError(f"the Spark server {host}:{port} (dbt output {target}: SEI_SPARK_HOST, SEI_SPARK_PORT) does "
                          f"not answer ({e.strerror or type(e).__name__}). Fix: start the Spark Thrift Server or point "
                          "SEI_SPARK_HOST and SEI_SPARK_PORT at it.") from None


def engine_resource() -> SeiEngine:
    """The resource for the configured engine (SEI_ENGINE, ingestion/destination.py). For
    Spark, SEI_LAKE is made absolute for dbt's process: dbt runs inside the project folder,
    where the profile's relative default would name another lake."""
    from ingestion.destination import dbt_target, engine
    name = engine()
    lake = ""
    if name == "spark":
        from ingestion.lake import lake_root
        lake = str(lake_root(warehouse_path()).resolve())
        os.environ["SEI_LAKE"] = lake
    return SeiEngine(name=name, dbt_target=dbt_target(), lake=lake)
