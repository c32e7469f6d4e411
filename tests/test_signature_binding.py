"""Contract v1.1 "Binding": a write signature names its method, path and a jti used once, on every node."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from flask.testing import FlaskClient

from nrm_api import create_app
from nrm_api.accounts import admin
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jose import generate_private_jwk, public_half
from nrm_api.crypto.jws import sign_detached
from nrm_api.crypto.keyring import unb64u
from tests.conftest import OPERATOR, audit_events, bearer, dispose, last_event, settings
from tests.forms.helpers import Agency, adult, agency
from tests.referrals.helpers import network

FORMS = "/api/v1/forms"


def _post(http: FlaskClient, who: Agency, path: str, body: bytes, signature: str, **headers: str) -> Any:
    return http.post(path, data=body, content_type="application/json",
                     headers={**bearer(who.sdk.token()), "X-JWS-Signature": signature, **headers})


def _problem(response: Any, status: int, slug: str) -> None:
    assert response.status_code == status, response.get_json()
    assert response.get_json()["type"] == f"urn:nrm:problem:{slug}"


def test_one_signature_does_not_cancel_two_referrals(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    first = net.ngo.sdk.refer(form_id, net.moi.id, "identification")
    second = net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["legal_aid"])
    body = canonical({"status": "cancelled", "reason": "referred in error"})
    path = f"/api/v1/referrals/{first['id']}/status"
    signature = sign_detached(body, net.ngo.private_jwk, "POST", path)
    done = _post(client, net.ngo, path, body, signature, **{"If-Match": first["etag"]})
    assert done.status_code == 200, done.get_json()
    other = f"/api/v1/referrals/{second['id']}/status"
    _problem(_post(client, net.ngo, other, body, signature, **{"If-Match": second["etag"]}), 401,
             "signature-htu-mismatch")
    assert net.ngo.sdk.referral(second["id"])["status"] == "requested"
    refused = next(e for e in audit_events(resource=f"referral:{second['id']}") if e.outcome == "denied")
    assert refused.reason == "signature_htu_mismatch"


def test_one_signed_body_does_not_create_two_forms(client: FlaskClient) -> None:
    ngo = agency(client)
    body = canonical(adult())
    signature = sign_detached(body, ngo.private_jwk, "POST", FORMS)
    key = str(uuid.uuid4())
    created = _post(client, ngo, FORMS, body, signature, **{"Idempotency-Key": key})
    assert created.status_code == 201
    _problem(_post(client, ngo, FORMS, body, signature, **{"Idempotency-Key": str(uuid.uuid4())}), 401,
             "signature-jti-reused")
    assert (last_event().outcome, last_event().reason) == ("denied", "signature_jti_reused")
    # The one exception: a retry of the same request (same key, body and signature) gets the first answer.
    retried = _post(client, ngo, FORMS, body, signature, **{"Idempotency-Key": key})
    assert (retried.status_code, retried.get_json()["id"]) == (201, created.get_json()["id"])


def test_a_fresh_signature_for_each_request_is_accepted(client: FlaskClient) -> None:
    ngo = agency(client)
    body = canonical(adult())
    for _ in range(2):
        signature = sign_detached(body, ngo.private_jwk, "POST", FORMS)
        assert _post(client, ngo, FORMS, body, signature, **{"Idempotency-Key": str(uuid.uuid4())}).status_code == 201


@pytest.mark.parametrize(("method", "path", "slug"), [
    ("PUT", FORMS, "signature-htm-mismatch"),
    ("POST", "/api/v1/referrals", "signature-htu-mismatch"),
    ("POST", "/api/v1/forms/", "signature-htu-mismatch"),
])
def test_a_signature_for_another_request_is_refused(client: FlaskClient, method: str, path: str, slug: str) -> None:
    ngo = agency(client)
    body = canonical(adult())
    response = _post(client, ngo, FORMS, body, sign_detached(body, ngo.private_jwk, method, path),
                     **{"Idempotency-Key": str(uuid.uuid4())})
    _problem(response, 401, slug)
    assert last_event().reason == slug.replace("-", "_")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unbound(body: bytes, key: dict[str, str], **header: Any) -> str:
    """A signature as a v1.0 client made it, with ``header`` added."""
    protected = {"alg": "Ed25519", "kid": key["kid"], "typ": "nrm+jws", "iat": int(time.time()), **header}
    head = _b64(json.dumps(protected).encode())
    private = Ed25519PrivateKey.from_private_bytes(unb64u(key["d"]))
    return f"{head}..{_b64(private.sign(f'{head}.{_b64(body)}'.encode()))}"


@pytest.mark.parametrize(("header", "slug"), [
    ({"htm": "POST", "htu": FORMS}, "signature-missing-jti"),
    ({"htm": "POST", "htu": FORMS, "jti": "j" * 65}, "signature-missing-jti"),
    ({"htu": FORMS, "jti": "j1"}, "signature-htm-mismatch"),
    ({"htm": "POST", "jti": "j1"}, "signature-htu-mismatch"),
])
def test_an_unbound_signature_is_refused(client: FlaskClient, header: dict[str, Any], slug: str) -> None:
    ngo = agency(client)
    body = canonical(adult())
    response = _post(client, ngo, FORMS, body, _unbound(body, ngo.private_jwk, **header),
                     **{"Idempotency-Key": str(uuid.uuid4())})
    _problem(response, 401, slug)


@pytest.fixture
def second_node(session_app: Flask, database_url: str, keyring_path: Path) -> Iterator[Flask]:
    """Another instance of the service on the same database, as a second node behind a balancer."""
    node = create_app(settings(database_url, keyring_path))
    yield node
    dispose(node)


def test_a_jti_used_on_one_node_is_refused_on_another(session_app: Flask, second_node: Flask) -> None:
    with session_app.app_context():
        ngo = agency(session_app.test_client())
    body = canonical(adult())
    signature = sign_detached(body, ngo.private_jwk, "POST", FORMS)
    created = _post(session_app.test_client(), ngo, FORMS, body, signature, **{"Idempotency-Key": str(uuid.uuid4())})
    assert created.status_code == 201
    elsewhere = second_node.test_client()
    _problem(_post(elsewhere, ngo, FORMS, body, signature, **{"Idempotency-Key": str(uuid.uuid4())}), 401,
             "signature-jti-reused")


def test_one_signature_sent_at_once_to_two_nodes_creates_one_form(session_app: Flask, second_node: Flask) -> None:
    with session_app.app_context():
        ngo = agency(session_app.test_client())
    token = ngo.sdk.token()
    body = canonical(adult())
    signature = sign_detached(body, ngo.private_jwk, "POST", FORMS)
    answers: list[tuple[int, str]] = []
    start = threading.Barrier(6)

    def post(node: Flask) -> None:
        start.wait()
        response = node.test_client().post(FORMS, data=body, content_type="application/json", headers={
            **bearer(token), "X-JWS-Signature": signature, "Idempotency-Key": str(uuid.uuid4())})
        answers.append((response.status_code, (response.get_json() or {}).get("type", "")))

    threads = [threading.Thread(target=post, args=(node,)) for node in (session_app, second_node) * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(status for status, _ in answers) == [201, 401, 401, 401, 401, 401]
    assert all(kind == "urn:nrm:problem:signature-jti-reused" for status, kind in answers if status == 401)


# --- the signing key is read with the token's standing, in the same query: nothing kept between requests ---

def _second_key(session_app: Flask, ngo: Agency) -> dict[str, str]:
    """A second key of the agency's system, to sign writes with (the token stays bound to the first)."""
    private = generate_private_jwk()
    with session_app.app_context():
        admin.add_client_key(OPERATOR, ngo.client_id, public_half(private))
    return private


def _submit(node: Flask, ngo: Agency, private: dict[str, str]) -> Any:
    body = canonical(adult())
    return _post(node.test_client(), ngo, FORMS, body, sign_detached(body, private, "POST", FORMS),
                 **{"Idempotency-Key": str(uuid.uuid4())})


def test_a_signed_write_reads_its_key_in_the_token_check(session_app: Flask) -> None:
    from sqlalchemy import event

    from nrm_api.extensions import db

    with session_app.app_context():
        ngo = agency(session_app.test_client())
        ngo.sdk.token()  # signed in before counting
        statements: list[str] = []
        event.listen(db.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
        assert _submit(session_app, ngo, ngo.private_jwk).status_code == 201
    assert len([sql for sql in statements if "client_keys" in sql]) == 1


def test_a_key_revoked_on_one_node_signs_nothing_on_another(session_app: Flask, second_node: Flask) -> None:
    with session_app.app_context():
        ngo = agency(session_app.test_client())
    signer = _second_key(session_app, ngo)
    assert _submit(second_node, ngo, signer).status_code == 201
    with session_app.app_context():
        admin.revoke_client_key(OPERATOR, ngo.client_id, signer["kid"])
    _problem(_submit(second_node, ngo, signer), 401, "signature-unknown-kid")
    assert _submit(second_node, ngo, ngo.private_jwk).status_code == 201  # the token's own key still signs


def test_a_key_added_on_one_node_signs_at_once_on_another(session_app: Flask, second_node: Flask) -> None:
    with session_app.app_context():
        ngo = agency(session_app.test_client())
    assert _submit(second_node, ngo, ngo.private_jwk).status_code == 201
    assert _submit(second_node, ngo, _second_key(session_app, ngo)).status_code == 201


def test_another_agencys_key_signs_nothing(session_app: Flask) -> None:
    with session_app.app_context():
        ngo, other = agency(session_app.test_client()), agency(session_app.test_client())
    _problem(_submit(session_app, ngo, other.private_jwk), 401, "signature-unknown-kid")


def test_a_client_disabled_on_one_node_is_refused_at_once_on_another(session_app: Flask, second_node: Flask) -> None:
    with session_app.app_context():
        ngo = agency(session_app.test_client())
    assert _submit(second_node, ngo, ngo.private_jwk).status_code == 201
    with session_app.app_context():
        admin.disable_client(OPERATOR, ngo.client_id)
    _problem(_submit(second_node, ngo, ngo.private_jwk), 401, "invalid-token")
