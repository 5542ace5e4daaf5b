"""A real receiver process (`sei webhooks serve`) on a free port, for the webhook tests."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

SECRET = "test-webhook-secret"
ENV = {"SOURCES__GITHUB__WEBHOOK_SECRET": SECRET, "SOURCES__JIRA__WEBHOOK_SECRET": SECRET,
       "SOURCES__HARNESS__WEBHOOK_TOKEN": SECRET, "SOURCES__EVENTS__WEBHOOK_SECRET": SECRET}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    def __init__(self, spool: Path, port: int | None = None, extra_env: dict | None = None):
        self.spool, self.port = Path(spool), port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/webhooks"
        env = {**os.environ, **ENV, "SEI_WEBHOOK_SPOOL": str(self.spool), **(extra_env or {})}
        self.proc = subprocess.Popen([sys.executable, "-m", "sei.cli", "webhooks", "serve", "--port", str(self.port)],
                                     env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"receiver exited: {self.proc.stdout.read()}")
                time.sleep(0.1)
        raise RuntimeError("receiver did not start within 60 s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> str:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.stdout.read() if self.proc.stdout else ""


def github_delivery(event: str, payload: dict, delivery: str, secret: str = SECRET) -> tuple[bytes, dict]:
    from webhooks.verify import sign
    body = json.dumps(payload).encode()
    return body, {"Content-Type": "application/json", "X-GitHub-Event": event, "X-GitHub-Delivery": delivery,
                  "X-Hub-Signature-256": sign(secret, body)}
