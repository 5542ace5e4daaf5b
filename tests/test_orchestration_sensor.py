"""The run-failure sensor records a failed run in the operations database (not the
warehouse) and posts it to the configured webhook, here a local HTTP server."""
import http.server
import json
import sqlite3
import threading

import dagster as dg
import pytest

from helpers import environ


@pytest.fixture()
def webhook():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/sei", received
    server.shutdown()


def test_failed_run_is_recorded_and_posted(tmp_path, webhook):
    from orchestration.org import org_import
    from orchestration.sensors import record_run_failures, recent_failures
    url, received = webhook
    empty = tmp_path / "no_org_files"
    empty.mkdir()
    with environ(SEI_WAREHOUSE=tmp_path / "sei.duckdb", SEI_ORG_DIR=empty, SEI_OPS_DB=tmp_path / "ops.sqlite",
                 SEI_ALERT_WEBHOOK_URL=url):
        instance = dg.DagsterInstance.ephemeral()
        # a real failure of one of our assets: the org import finds no developers file
        result = dg.materialize([org_import], instance=instance, raise_on_error=False)
        assert not result.success
        ctx = dg.build_run_status_sensor_context(
            sensor_name="record_run_failures", dagster_instance=instance, dagster_run=result.dagster_run,
            dagster_event=result.get_run_failure_event()).for_run_failure()
        record_run_failures(ctx)
        rows = recent_failures()
    assert len(rows) == 1
    row = rows[0]
    assert row["run_id"] == result.run_id and row["failed_steps"] == "org_import"
    assert row["webhook_status"] == "204"
    with sqlite3.connect(tmp_path / "ops.sqlite") as con:  # the ops database, beside the warehouse, not in it
        assert con.execute("select count(*) from run_failures").fetchone()[0] == 1
    assert not (tmp_path / "sei.duckdb").exists()
    assert len(received) == 1
    path, ctype, payload = received[0]
    assert path == "/hooks/sei" and ctype == "application/json"
    assert payload["run_id"] == result.run_id and payload["failed_steps"] == "org_import"
    assert "org_import" in payload["text"] and result.run_id[:8] in payload["text"]


def test_unreachable_webhook_still_records(tmp_path):
    from orchestration.sensors import post_webhook, record_failure, recent_failures
    status = post_webhook("http://127.0.0.1:9/nothing-listens", {"text": "x"}, timeout=2)
    assert status.startswith("error:")
    record_failure(tmp_path / "ops.sqlite", {"run_id": "r1", "job_name": "sei_refresh", "failed_at": "2026-01-01",
                                             "failed_steps": "dbt_build", "message": "boom", "webhook_status": status})
    assert [r["run_id"] for r in recent_failures(tmp_path / "ops.sqlite")] == ["r1"]


def test_doctor_lists_recorded_failures(tmp_path):
    from typer.testing import CliRunner

    from orchestration.sensors import record_failure
    from sei.cli import app
    record_failure(tmp_path / "ops.sqlite", {"run_id": "abcdef0123456789", "job_name": "sei_refresh",
                                             "failed_at": "2026-11-23T10:00:00+00:00", "failed_steps": "dbt_build",
                                             "message": "boom", "webhook_status": None})
    with environ(SEI_WAREHOUSE=tmp_path / "none.duckdb", SEI_SERVING=tmp_path / "none2.duckdb",
                 SEI_OPS_DB=tmp_path / "ops.sqlite"):
        out = CliRunner().invoke(app, ["doctor"])
    assert "recent failed runs:" in out.output
    assert "2026-11-23T10:00  sei_refresh  abcdef01  dbt_build" in out.output
