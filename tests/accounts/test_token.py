"""POST /api/v1/auth/token: client credentials with private_key_jwt, and every refusal audited."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from nrm_api import create_app
from nrm_api.accounts import admin
from nrm_api.crypto.jose import generate_private_jwk
from nrm_api.crypto.keyring import unb64u
from tests.conftest import (
    BASE_URL,
    OPERATOR,
    assertion,
    audit_events,
    bearer,
    create_client,
    dispose,
    last_event,
    settings,
    token_form,
)

TOKEN = "/api/v1/auth/token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    head = _b64(json.dumps(header).encode())
    body = _b64(json.dumps(claims).encode())
    return f"{head}.{body}.{_b64(signature)}"


def _signed_raw(header: dict[str, Any], claims: dict[str, Any], private: dict[str, str]) -> str:
    """Sign with the raw key, bypassing any JOSE library's own header checks (an attacker's view)."""
    key = Ed25519PrivateKey.from_private_bytes(unb64u(private["d"]))
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{_b64(key.sign(signing_input.encode()))}"


def _claims(client_id: str, **extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iss": client_id, "sub": client_id, "aud": BASE_URL, "jti": uuid.uuid4().hex, "iat": now,
            "exp": now + 120, **extra}


def _refused(client: FlaskClient, value: str, reason: str, error: str = "invalid_client",
             status: int = 401, **form: str) -> None:
    before = len(audit_events(action="auth:token", outcome="allowed"))
    response = client.post(TOKEN, data=token_form(value, **form))
    assert response.status_code == status
    body = response.get_json()
    assert body["error"] == error
    assert "access_token" not in body
    assert response.headers["Cache-Control"] == "no-store"
    event = last_event()
    assert (event.action, event.outcome, event.reason) == ("auth:token", "denied", reason)
    assert len(audit_events(action="auth:token", outcome="allowed")) == before


def test_a_registered_system_gets_a_short_lived_token_that_opens_the_api(client: FlaskClient) -> None:
    client_id, private = create_client()
    response = client.post(TOKEN, data=token_form(assertion(client_id, private), client_id=client_id))
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert 0 < body["expires_in"] <= 600
    assert response.headers["Cache-Control"] == "no-store"
    event = last_event()
    assert (event.action, event.outcome, event.actor) == ("auth:token", "allowed", f"client:{client_id}")
    assert client.get("/api/v1/agencies", headers=bearer(body["access_token"])).status_code == 200


def test_plain_jwt_typ_and_eddsa_name_are_accepted(client: FlaskClient) -> None:
    client_id, private = create_client()
    value = assertion(client_id, private, header={"typ": "JWT", "alg": "EdDSA"})
    assert client.post(TOKEN, data=token_form(value)).status_code == 200


def test_unknown_client_is_refused(client: FlaskClient) -> None:
    _, private = create_client()
    _refused(client, assertion("nobody", private), "unknown_client")


def test_key_not_registered_is_refused(client: FlaskClient) -> None:
    client_id, _ = create_client()
    stranger = generate_private_jwk()
    _refused(client, assertion(client_id, stranger), "unknown_key")


def test_bad_signature_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    forged = generate_private_jwk(kid=private["kid"])  # claims the registered kid, signs with another key
    _refused(client, assertion(client_id, forged), "bad_signature")


def test_tampered_claims_are_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    head, _, signature = assertion(client_id, private).split(".")
    other = _b64(json.dumps(_claims(client_id, exp=int(time.time()) + 299)).encode())
    _refused(client, f"{head}.{other}.{signature}", "bad_signature")


def test_alg_none_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    _refused(client, _unsigned({"alg": "none", "kid": private["kid"]}, _claims(client_id)), "unsupported_algorithm")


def test_hmac_with_the_public_key_as_secret_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    header = {"alg": "HS256", "typ": "JWT", "kid": private["kid"]}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(_claims(client_id)).encode())}"
    for secret in (private["x"].encode(), json.dumps({"kty": "OKP", "crv": "Ed25519", "x": private["x"]}).encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        _refused(client, f"{signing_input}.{_b64(mac)}", "unsupported_algorithm")


@pytest.mark.parametrize(("header", "reason"), [
    ({"crit": ["nrm-ext"], "nrm-ext": True}, "forbidden_header"),
    ({"jku": "https://attacker.example/jwks.json"}, "forbidden_header"),
    ({"x5u": "https://attacker.example/cert.pem"}, "forbidden_header"),
    ({"x5c": ["MIIB"]}, "forbidden_header"),
    ({"typ": "at+jwt"}, "wrong_type"),
])
def test_headers_that_pick_keys_or_rules_are_refused(client: FlaskClient, header: dict[str, Any],
                                                     reason: str) -> None:
    client_id, private = create_client()
    full = {"alg": "Ed25519", "typ": "client-authentication+jwt", "kid": private["kid"], **header}
    _refused(client, _signed_raw(full, _claims(client_id), private), reason)


def test_embedded_jwk_header_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    attacker = generate_private_jwk()
    embedded = {"kty": "OKP", "crv": "Ed25519", "x": attacker["x"]}
    header = {"alg": "Ed25519", "kid": private["kid"], "jwk": embedded}
    _refused(client, _signed_raw(header, _claims(client_id), attacker), "forbidden_header")


def test_jwe_where_a_jws_belongs_is_refused(client: FlaskClient) -> None:
    _refused(client, "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..bm9uY2U.Y2lwaGVy.dGFn", "malformed")


def test_oversized_header_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    header = {"alg": "Ed25519", "kid": private["kid"], "pad": "x" * 2000}
    _refused(client, _signed_raw(header, _claims(client_id), private), "header_too_large")


#: Times as offsets from the moment the test runs (not when it is collected: a long suite outlives them).
@pytest.mark.parametrize(("claims", "reason"), [
    ({"exp": -120, "iat": -240}, "expired"),
    ({"iat": 120, "exp": 200}, "iat_in_future"),
    ({"iat": -900}, "iat_too_old"),
    ({"exp": 3600}, "exp_too_far"),
    ({"aud": "https://elsewhere.example"}, "wrong_audience"),
    ({"aud": BASE_URL + "/api/v1/auth/token/"}, "wrong_audience"),
    ({"aud": "https://elsewhere.example/api/v1/auth/token"}, "wrong_audience"),
    ({"aud": BASE_URL + "/.well-known/jwks.json"}, "wrong_audience"),
    ({"aud": BASE_URL + "/"}, "wrong_audience"),
    ({"aud": [{"url": BASE_URL}]}, "wrong_audience"),
    ({"sub": "someone-else"}, "bad_subject"),
    ({"jti": None}, "missing_jti"),
    ({"exp": None}, "missing_exp"),
    ({"iat": None}, "missing_iat"),
])
def test_claims_outside_the_rules_are_refused(client: FlaskClient, claims: dict[str, Any], reason: str) -> None:
    client_id, private = create_client()
    now = int(time.time())
    timed = {name: now + value if name in ("exp", "iat") and value is not None else value
             for name, value in claims.items()}
    _refused(client, assertion(client_id, private, **timed), reason)


@pytest.mark.parametrize("audience", [BASE_URL + TOKEN, [BASE_URL + TOKEN], ["https://other.example", BASE_URL]])
def test_the_token_endpoint_is_an_audience_beside_the_issuer(client: FlaskClient, audience: Any) -> None:
    client_id, private = create_client()
    response = client.post(TOKEN, data=token_form(assertion(client_id, private, aud=audience)))
    assert response.status_code == 200, response.json
    assert last_event().outcome == "allowed"


def test_a_reused_jti_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    value = assertion(client_id, private)
    assert client.post(TOKEN, data=token_form(value)).status_code == 200
    _refused(client, value, "replayed_jti")


def test_a_revoked_key_is_refused(client: FlaskClient) -> None:
    client_id, private = create_client()
    admin.revoke_client_key(OPERATOR, client_id, private["kid"])
    _refused(client, assertion(client_id, private), "revoked_key")


def test_client_id_must_match_the_assertion(client: FlaskClient) -> None:
    client_id, private = create_client()
    _refused(client, assertion(client_id, private), "client_id_mismatch", client_id="another")


def test_wrong_grant_and_missing_assertion_are_request_errors(client: FlaskClient) -> None:
    client_id, private = create_client()
    _refused(client, assertion(client_id, private), "unsupported_grant_type", error="unsupported_grant_type",
             status=400, grant_type="password")
    _refused(client, "", "missing_assertion", error="invalid_request", status=400)


def test_a_json_body_gets_an_oauth_error_not_a_token(client: FlaskClient) -> None:
    response = client.post(TOKEN, json={"grant_type": "client_credentials"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_request"


def test_the_replay_cache_survives_a_restart(session_app: Flask, keyring_path: Any, database_url: str) -> None:
    """A jti used through one app instance is refused by a new one on the same database."""
    with session_app.app_context():
        client_id, private = create_client()
    value = assertion(client_id, private)
    assert session_app.test_client().post(TOKEN, data=token_form(value)).status_code == 200
    restarted = create_app(settings(database_url, keyring_path))
    response = restarted.test_client().post(TOKEN, data=token_form(value))
    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    dispose(restarted)
