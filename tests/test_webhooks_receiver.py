"""The webhook receiver as a real process: authenticity, replays, bad input, counters, and
durability under SIGKILL. Nothing refused may reach the spool (the only thing the receiver
writes; it never opens the warehouse)."""
from __future__ import annotations

import concurrent.futures
import json
import sqlite3

import httpx
import pytest

from webhook_receiver import SECRET, Receiver, github_delivery
from webhooks.verify import sign

PR = {"action": "closed", "number": 7, "pull_request": {"number": 7, "merged": True, "updated_at": "2026-11-02T10:00:00Z"},
      "repository": {"full_name": "acme/api", "default_branch": "main"}}


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    r = Receiver(tmp_path_factory.mktemp("wh") / "spool.sqlite", extra_env={"SEI_WEBHOOK_MAX_BODY_BYTES": "65536"})
    yield r
    r.stop()


def rows(spool) -> list[tuple]:
    with sqlite3.connect(spool) as con:
        return con.execute("select source, event, delivery_id, scope from events order by seq").fetchall()


def counters(url) -> dict:
    return httpx.get(f"{url}/health").json()["counters"]


def test_security_refusals_never_reach_the_spool(receiver):
    url, before = receiver.url, rows(receiver.spool)
    body, headers = github_delivery("pull_request", PR, "sec-1")
    # forged: signed with another secret; tampered: the body changed after signing; missing header
    forged = {**headers, "X-Hub-Signature-256": sign("not-the-secret", body)}
    assert httpx.post(f"{url}/github", content=body, headers=forged).status_code == 401
    assert httpx.post(f"{url}/github", content=body + b" ", headers=headers).status_code == 401
    no_sig = {k: v for k, v in headers.items() if k != "X-Hub-Signature-256"}
    assert httpx.post(f"{url}/github", content=body, headers=no_sig).status_code == 401
    # Jira signs in X-Hub-Signature; GitHub's header name is not accepted for Jira
    jira = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"id": "1", "fields": {"project": {"key": "PAY"}}}}).encode()
    assert httpx.post(f"{url}/jira", content=jira, headers={"Content-Type": "application/json",
                                                           "X-Hub-Signature-256": sign(SECRET, jira)}).status_code == 401
    # Harness: a wrong token
    h = json.dumps({"eventData": {"eventType": "PIPELINE_END", "orgIdentifier": "o", "projectIdentifier": "p",
                                  "planExecutionId": "x1"}}).encode()
    assert httpx.post(f"{url}/harness", content=h, headers={"Content-Type": "application/json",
                                                           "X-Harness-Webhook-Token": SECRET + "x"}).status_code == 401
    # wrong content type (GitHub's form encoding), oversize, malformed JSON (correctly signed)
    assert httpx.post(f"{url}/github", content=body, headers={**headers, "Content-Type": "application/x-www-form-urlencoded"}
                      ).status_code == 415
    big = json.dumps({**PR, "pad": "x" * 70_000}).encode()
    assert httpx.post(f"{url}/github", content=big, headers={**headers, "X-Hub-Signature-256": sign(SECRET, big)}
                      ).status_code == 413
    bad = b'{"action": "closed", '
    r = httpx.post(f"{url}/github", content=bad, headers={**headers, "X-Hub-Signature-256": sign(SECRET, bad)})
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
    # an event type we do not use: 202, counted, not stored
    issue = json.dumps({"action": "opened", "repository": {"full_name": "acme/api"}}).encode()
    r = httpx.post(f"{url}/github", content=issue, headers={**headers, "X-GitHub-Event": "issues",
                                                           "X-Hub-Signature-256": sign(SECRET, issue)})
    assert r.status_code == 202 and r.json()["status"] == "ignored"
    assert rows(receiver.spool) == before
    c = counters(url)
    assert c["github"]["unauthorized"] == 3 and c["jira"]["unauthorized"] == 1 and c["harness"]["unauthorized"] == 1
    assert (c["github"]["unsupported_media_type"], c["github"]["too_large"], c["github"]["malformed"],
            c["github"]["ignored"]) == (1, 1, 1, 1)
    assert "accepted" not in c["github"]


def test_accept_and_replay_are_stored_once(receiver):
    url = receiver.url
    body, headers = github_delivery("pull_request", PR, "replay-1")
    first = httpx.post(f"{url}/github", content=body, headers=headers)
    again = httpx.post(f"{url}/github", content=body, headers=headers)
    assert (first.status_code, first.json()["status"]) == (200, "accepted")
    assert (again.status_code, again.json()["status"]) == (200, "duplicate")
    stored = [r for r in rows(receiver.spool) if r[2] == "replay-1"]
    assert stored == [("github", "pull_request.closed", "replay-1", "acme/api")]
    # a sender without delivery ids (Harness): the body hash is the id
    h = json.dumps({"eventData": {"eventType": "PIPELINE_END", "orgIdentifier": "acme", "projectIdentifier": "pay",
                                  "planExecutionId": "exec-9"}}).encode()
    hh = {"Content-Type": "application/json", "X-Harness-Webhook-Token": SECRET}
    assert [httpx.post(f"{url}/harness", content=h, headers=hh).json()["status"] for _ in range(2)] == \
        ["accepted", "duplicate"]
    assert [r for r in rows(receiver.spool) if r[0] == "harness"] == \
        [("harness", "PIPELINE_END", "exec-9:PIPELINE_END", "acme/pay")]
    c = counters(url)
    assert c["github"]["accepted"] >= 1 and c["github"]["duplicate"] >= 1 and c["harness"]["duplicate"] == 1


def test_killed_receiver_loses_no_acknowledged_delivery(tmp_path):
    """SIGKILL while 16 clients are sending: every delivery answered 200 is in the spool
    after a restart, exactly once; a resend of any of them (the sender's retry of an
    unanswered one) is stored at most once."""
    spool = tmp_path / "spool.sqlite"
    r = Receiver(spool)
    acked, sent = set(), []

    def send(i: int):
        body, headers = github_delivery("pull_request", {**PR, "number": i}, f"kill-{i}")
        sent.append((body, headers))
        try:
            resp = httpx.post(f"{r.url}/github", content=body, headers=headers, timeout=10)
            if resp.status_code == 200:
                acked.add(f"kill-{i}")
        except httpx.HTTPError:
            pass  # not answered: the sender retries later

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        futs = [pool.submit(send, i) for i in range(400)]
        # kill once a fair share was acknowledged (a count, not a time)
        while len(acked) < 100:
            concurrent.futures.wait(futs, timeout=0.01, return_when=concurrent.futures.FIRST_COMPLETED)
        r.kill()
    assert 100 <= len(acked) < 400
    stored = {d for _, _, d, _ in rows(spool)}
    assert acked <= stored
    r2 = Receiver(spool)
    try:
        for body, headers in sent:  # every sender retries what it sent
            assert httpx.post(f"{r2.url}/github", content=body, headers=headers).status_code == 200
        ids = [d for _, _, d, _ in rows(spool)]
        assert sorted(ids) == sorted(f"kill-{i}" for i in range(400))  # each once
    finally:
        r2.stop()
