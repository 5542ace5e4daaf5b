"""SEI_ENGINE=spark under Dagster when Spark cannot run: a lake root that is not writable, a
Java that is not there (JAVA_HOME pointing at nothing), a thrift server that does not
answer. Each stops the `dbt_build` step before dbt starts with one line naming the setting
and the fix; the serving publish does not run, so the last published serving file keeps
its bytes and its modification time. No Spark is started: these fail fast."""
from __future__ import annotations

import os
import socket

import dagster as dg
import duckdb
import pytest

from helpers import environ

# one worker builds the module's world once (under --dist loadgroup a module's tests
# would otherwise spread over both workers, each building it)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("engine_errors")]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("engine_errors")
    wh = tmp / "sei.duckdb"
    con = duckdb.connect(str(wh))
    con.execute("create schema raw_github; create schema marts")
    con.execute("create table raw_github.pull_requests as select 1 as id")
    con.execute("create table marts.fct_pull_requests as select 1 as id, 'p1' as project_id")
    con.close()
    env = dict(SEI_WAREHOUSE=wh, SEI_SERVING=tmp / "serving" / "sei.duckdb", SEI_DBT_TARGET_PATH=tmp / "dbt_target",
               SEI_ENGINE="spark", SEI_DESTINATION=None, SEI_DBT_TARGET=None, SEI_LAKE=tmp / "lake",
               SEI_RBAC_POLICY=None, SEI_SCOPES_DIR=None, SEI_RBAC_POSTGRES=None, SEI_OPS_DB=tmp / "ops.sqlite")
    with environ(**env):
        from core.publish import publish_serving
        from orchestration.definitions import build_definitions
        published = publish_serving()   # the last good serving file
        defs = build_definitions()
        yield {"tmp": tmp, "defs": defs, "serving": published.path}


def _free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()   # nothing listens on it now
    return port


def _run_dbt_and_publish(world, engine) -> tuple[dg.ExecuteInProcessResult, str]:
    defs = world["defs"]
    assets = list(defs.assets)
    dbt_build = next(a for a in assets if isinstance(a, dg.AssetsDefinition) and a.op.name == "dbt_build")
    selection = [*dbt_build.keys, dg.AssetKey("serving_publish")]
    resources = {"dbt": defs.resources["dbt"], "engine": engine}
    result = dg.materialize(assets, selection=selection, resources=resources, raise_on_error=False,
                            instance=dg.DagsterInstance.ephemeral())
    failures = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert [e.step_key for e in failures] == ["dbt_build"]
    data = failures[0].event_specific_data   # a dg.Failure: its description is the message shown
    return result, data.user_failure_data.description


def _unchanged(path, before):
    st = path.stat()
    assert (path.read_bytes(), st.st_mtime_ns) == before


def _snapshot(path):
    return path.read_bytes(), path.stat().st_mtime_ns


def test_the_engine_resource_follows_sei_engine(world):
    engine = world["defs"].resources["engine"]
    assert (engine.name, engine.dbt_target, engine.lake) == ("spark", "spark", str((world["tmp"] / "lake").resolve()))
    assert world["defs"].resources["dbt"].target == "spark"


def test_unwritable_lake(world):
    from orchestration.engine import SeiEngine
    before = _snapshot(world["serving"])
    (world["tmp"] / "a_file").write_text("")
    engine = SeiEngine(name="spark", dbt_target="spark", lake=str(world["tmp"] / "a_file" / "lake"))
    result, message = _run_dbt_and_publish(world, engine)
    assert "\n" not in message
    assert message.startswith(f"the lake root {world['tmp'] / 'a_file' / 'lake'} is not writable")
    assert message.endswith("Fix: set SEI_LAKE to a folder this user can write.")
    assert "serving_publish" not in {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    _unchanged(world["serving"], before)


def test_spark_that_cannot_start(world, tmp_path):
    from orchestration.engine import SeiEngine
    before = _snapshot(world["serving"])
    engine = SeiEngine(name="spark", dbt_target="spark", lake=str(tmp_path / "lake"))
    with environ(JAVA_HOME=tmp_path / "nothing"):
        _, message = _run_dbt_and_publish(world, engine)
    assert "\n" not in message
    assert message.startswith(f"JAVA_HOME={tmp_path / 'nothing'} has no bin/java, so Spark cannot start. Fix: ")
    _unchanged(world["serving"], before)


def test_thrift_host_that_does_not_answer(world, tmp_path):
    from orchestration.engine import SeiEngine
    before = _snapshot(world["serving"])
    port = _free_port()
    engine = SeiEngine(name="spark", dbt_target="spark_thrift", lake=str(tmp_path / "lake"))
    with environ(SEI_SPARK_HOST="127.0.0.1", SEI_SPARK_PORT=port):
        _, message = _run_dbt_and_publish(world, engine)
    assert "\n" not in message
    assert message.startswith(f"the Spark server 127.0.0.1:{port} (dbt output spark_thrift: SEI_SPARK_HOST, "
                              "SEI_SPARK_PORT) does not answer")
    assert message.endswith("Fix: start the Spark Thrift Server or point SEI_SPARK_HOST and SEI_SPARK_PORT at it.")
    _unchanged(world["serving"], before)
    assert not os.path.exists(tmp_path / "lake" / "raw_github")   # nothing exported either
