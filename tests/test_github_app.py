"""GitHub App authentication end to end: the connector signs a JWT, trades it for an
installation token, and loads with it; a wrong key is refused with a clear message."""
from __future__ import annotations

import json

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.test_ingest_github import sync

pytestmark = pytest.mark.xdist_group("ingest_github")


def _key():
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    public = k.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_app_installation_token_loads_like_a_token(fresh_sim, tmp_path):
    private, public = _key()
    sim = fresh_sim(github_app={"app_id": "4242", "installation_id": "77", "public_key_pem": public})
    r = sync(tmp_path, sim.url, token=None, SOURCES__GITHUB__APP_ID="4242", SOURCES__GITHUB__INSTALLATION_ID="77",
             SOURCES__GITHUB__PRIVATE_KEY=private)
    assert r.status == "success", r.source("github").error_message
    assert r.source("github").rows > 100
    by = requests.get(f"{sim.url}/_sim/stats").json()["by_endpoint"]
    assert by["github.app.access_tokens"] == {"201": 1}, "one installation token serves the whole run"


def test_wrong_app_key_is_refused_clearly(fresh_sim, tmp_path):
    _, public = _key()
    other_private, _ = _key()
    sim = fresh_sim(github_app={"app_id": "4242", "installation_id": "77", "public_key_pem": public})
    r = sync(tmp_path, sim.url, token=None, SOURCES__GITHUB__APP_ID="4242", SOURCES__GITHUB__INSTALLATION_ID="77",
             SOURCES__GITHUB__PRIVATE_KEY=other_private)
    assert r.status == "failed"
    assert "GitHub" in r.source("github").error_message


def test_simulator_checks_the_jwt_like_github(fresh_sim):
    from ingestion.github_api import _b64url, app_jwt
    private, public = _key()
    sim = fresh_sim(github_app={"app_id": "4242", "installation_id": "77", "public_key_pem": public})
    url = f"{sim.url}/app/installations/77/access_tokens"
    ok = requests.post(url, headers={"Authorization": f"Bearer {app_jwt('4242', private)}"})
    assert ok.status_code == 201 and ok.json()["token"].startswith("ghs_")
    token = ok.json()["token"]
    repo = sim.world["repos"].full_name.iat[0]
    assert requests.get(f"{sim.url}/repos/{repo}", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert requests.post(url, headers={"Authorization": f"Bearer {app_jwt('999', private)}"}).status_code == 401
    assert requests.post(f"{sim.url}/app/installations/78/access_tokens",
                         headers={"Authorization": f"Bearer {app_jwt('4242', private)}"}).status_code == 404
    h, p, s = app_jwt("4242", private).split(".")
    tampered = _b64url(json.dumps({"iat": 0, "exp": 3600, "iss": "4242"}).encode())
    assert requests.post(url, headers={"Authorization": f"Bearer {h}.{tampered}.{s}"}).status_code == 401
