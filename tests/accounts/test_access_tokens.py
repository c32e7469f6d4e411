"""Access tokens: asymmetric, by kid, issuer and audience checked, short-lived, revocable."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import jwt as pyjwt
from flask import Flask
from flask.testing import FlaskClient

from nrm_api.crypto.jose import generate_private_jwk
from nrm_api.extensions import keyring
from tests.conftest import BASE_URL, bearer, client_token, create_client, create_user, last_event, login_token

AGENCIES = "/api/v1/agencies"


def _forge(claims: dict[str, Any], *, key: Any = None, headers: dict[str, Any] | None = None) -> str:
    ring_key = keyring().token_key
    now = int(time.time())
    body = {"sub": "user:someone", "agency": "moi", "role": "caseworker", "iss": BASE_URL, "aud": BASE_URL,
            "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex, "type": "access", "fresh": False,
            **claims}
    head = {"kid": ring_key.kid, "typ": "at+jwt", **(headers or {})}
    return pyjwt.encode(body, key or ring_key.private_pem(), algorithm="EdDSA", headers=head)


def _refused(client: FlaskClient, token: str, reason: str) -> None:
    response = client.get(AGENCIES, headers=bearer(token))
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    event = last_event()
    assert (event.action, event.outcome, event.reason) == ("request:authenticate", "denied", reason)


def test_a_token_carries_the_principal_and_lives_at_most_ten_minutes(client: FlaskClient) -> None:
    client_id, private = create_client()
    token = client_token(client, client_id, private)
    header = pyjwt.get_unverified_header(token)
    claims = pyjwt.decode(token, options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["typ"] == "at+jwt"
    assert header["kid"] in {key["kid"] for key in client.get("/.well-known/jwks.json").get_json()["keys"]}
    assert claims["sub"] == f"client:{client_id}" and claims["role"] == "system"
    assert claims["iss"] == BASE_URL and claims["aud"] == BASE_URL
    assert claims["exp"] - claims["iat"] <= 600


def test_the_jwks_verifies_tokens_and_holds_no_private_member(client: FlaskClient) -> None:
    user = create_user()
    token = login_token(client, user)
    keys = client.get("/.well-known/jwks.json").get_json()["keys"]
    assert all(set(key) == {"kty", "crv", "x", "kid", "use"} for key in keys)
    kid = pyjwt.get_unverified_header(token)["kid"]
    jwk = next(key for key in keys if key["kid"] == kid)
    public = pyjwt.PyJWK(jwk, algorithm="EdDSA")
    claims = pyjwt.decode(token, public.key, algorithms=["EdDSA"], audience=BASE_URL, issuer=BASE_URL)
    assert claims["sub"] == f"user:{user['username']}"


def test_no_token_is_401_with_a_challenge(client: FlaskClient) -> None:
    response = client.get(AGENCIES)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert last_event().reason == "missing_token"


def test_expired_token_is_refused(app: Flask, client: FlaskClient) -> None:
    now = int(time.time())
    _refused(client, _forge({"iat": now - 900, "nbf": now - 900, "exp": now - 300}), "expired_token")


def test_wrong_audience_or_issuer_is_refused(client: FlaskClient) -> None:
    _refused(client, _forge({"aud": "https://other.example"}), "invalid_token")
    _refused(client, _forge({"iss": "https://other.example"}), "invalid_token")


def test_a_token_signed_by_a_key_not_in_the_keyring_is_refused(client: FlaskClient) -> None:
    stranger = generate_private_jwk()
    key = pyjwt.PyJWK(stranger, algorithm="EdDSA").key
    _refused(client, _forge({}, key=key, headers={"kid": stranger["kid"]}), "invalid_token")
    _refused(client, _forge({}, key=key), "invalid_token")


def test_alg_none_and_a_client_assertion_are_not_access_tokens(client: FlaskClient) -> None:
    head = base64.urlsafe_b64encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode()).rstrip(b"=").decode()
    body = base64.urlsafe_b64encode(json.dumps({"sub": "user:x"}).encode()).rstrip(b"=").decode()
    _refused(client, f"{head}.{body}.", "invalid_token")
    _refused(client, _forge({}, headers={"typ": "JWT"}), "invalid_token")


def test_a_revoked_token_is_refused(client: FlaskClient) -> None:
    token = login_token(client, create_user())
    assert client.post("/api/v1/auth/revoke", headers=bearer(token)).status_code == 204
    assert last_event().action == "token:revoke"
    _refused(client, token, "revoked_token")
