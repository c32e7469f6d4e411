"""Hosted signing keys: an agency's key in the keyring signs its people's writes, naming the person.

What the web door does is done here by hand: sign with ``sign_for_user`` for a signed-in person,
then send the write as that person (a real login, the real API and service). Replays by another
person or an agency system are refused and audited; rotation keeps old signatures verifiable.
"""

from __future__ import annotations

import base64
import json
import logging
import uuid
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from nrm_api.accounts import hosted
from nrm_api.accounts.models import Client, ClientKey
from nrm_api.accounts.signing import key_of
from nrm_api.audit.actor import Actor
from nrm_api.cli import main
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import verify_stored
from nrm_api.crypto.keyring import Keyring
from nrm_api.database import Base
from nrm_api.errors import Forbidden
from nrm_api.extensions import db
from nrm_api.forms.models import FormVersion
from tests.conftest import audit_events, bearer, create_agency, create_user, last_event, login_token
from tests.forms.helpers import adult, agency

FORMS = "/api/v1/forms"


def _person(http: FlaskClient, agency_id: str | None = None) -> tuple[Actor, str]:
    """A caseworker signed in through the API: the actor the web door would have, and a token."""
    user = create_user("caseworker", agency_id, totp=True)
    return Actor(f"user:{user['username']}", user["agency"], "caseworker"), login_token(http, user)


def _post(http: FlaskClient, token: str, document: dict[str, Any], signature: str, path: str = FORMS) -> Any:
    return http.post(path, data=canonical(document), content_type="application/json",
                     headers={**bearer(token), "X-JWS-Signature": signature, "Idempotency-Key": str(uuid.uuid4())})


def _header(signature: str) -> dict[str, Any]:
    head = signature.split(".")[0]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    return decoded


def test_a_hosted_signature_is_what_an_agency_system_sends_plus_the_user(client: FlaskClient) -> None:
    actor, _ = _person(client)
    signature = hosted.sign_for_user(actor, "POST", FORMS, adult())
    header = _header(signature)
    assert set(header) == {"alg", "kid", "typ", "iat", "htm", "htu", "jti", "nrm_user"}
    assert (header["alg"], header["typ"], header["htm"], header["htu"]) == ("Ed25519", "nrm+jws", "POST", FORMS)
    assert header["nrm_user"] == actor.subject
    assert header["kid"].startswith(f"hosted:{actor.agency}:")
    assert hosted.sign_for_user(actor, "POST", FORMS, adult()) != signature  # a fresh jti each time
    created = [event for event in audit_events(action="hosted-key:rotate") if event.agency == actor.agency]
    assert [(event.actor, event.resource) for event in created] == [(actor.subject, f"client-key:{header['kid']}")]


def test_a_write_signed_by_the_hosted_key_is_accepted_and_names_the_user(client: FlaskClient) -> None:
    actor, token = _person(client)
    document = adult()
    response = _post(client, token, document, hosted.sign_for_user(actor, "POST", FORMS, document))
    assert response.status_code == 201, response.get_json()
    form_id = response.get_json()["id"]
    row = db.session.get(FormVersion, (form_id, 1))
    assert row is not None
    assert row.submitted_by == actor.subject and row.signed_kid.startswith(f"hosted:{actor.agency}:")
    assert _header(row.signature)["nrm_user"] == actor.subject
    event = audit_events(action="form:create", resource=f"form:{form_id}")[-1]
    assert (event.actor, event.agency, event.outcome) == (actor.subject, actor.agency, "allowed")

    old_kid = row.signed_kid
    result = client.application.test_cli_runner().invoke(main, ["keys", "hosted", "rotate", "--agency",
                                                                str(actor.agency)])
    assert result.exit_code == 0, result.output
    assert hosted.current_kid(str(actor.agency)) not in (None, old_kid)
    old = db.session.scalar(select(ClientKey).where(ClientKey.kid == old_kid))
    assert old is not None and old.revoked_at is not None
    ring: Keyring = client.application.extensions["nrm_keyring"]
    assert old_kid not in ring.hosted.held(str(actor.agency))
    verify_stored(row.signature, canonical(document), key_of)  # what the old key signed still verifies
    (revoked,) = audit_events(action="client:key-revoke", resource=f"client-key:{old_kid}")
    assert revoked.actor.startswith("cli:") and last_event().action == "hosted-key:rotate"

    again = adult()
    assert _post(client, token, again, hosted.sign_for_user(actor, "POST", FORMS, again)).status_code == 201


def test_a_hosted_signature_is_refused_from_anyone_but_its_user(client: FlaskClient) -> None:
    alice, _ = _person(client)
    bob, bob_token = _person(client, str(alice.agency))
    document = adult()
    signature = hosted.sign_for_user(alice, "POST", FORMS, document)
    refused = _post(client, bob_token, document, signature)
    assert refused.status_code == 401, refused.get_json()
    assert refused.get_json()["type"] == "urn:nrm:problem:signature-hosted-user-mismatch"
    event = last_event()
    assert (event.actor, event.outcome, event.reason) == (bob.subject, "denied", "signature_hosted_user_mismatch")

    system = agency(client)
    other = create_user("caseworker", system.id, totp=True)
    carol = Actor(f"user:{other['username']}", system.id, "caseworker")
    theirs = hosted.sign_for_user(carol, "POST", FORMS, document)
    by_system = client.post(FORMS, data=canonical(document), content_type="application/json",
                            headers={**bearer(system.sdk.token()), "X-JWS-Signature": theirs,
                                     "Idempotency-Key": str(uuid.uuid4())})
    assert by_system.status_code == 401, by_system.get_json()
    assert (last_event().actor, last_event().reason) == (f"client:{system.client_id}",
                                                          "signature_hosted_user_mismatch")
    assert not audit_events(action="form:create", outcome="allowed", agency=system.id)


def test_only_a_person_of_an_agency_gets_a_hosted_signature(app: Flask) -> None:
    agency_id = create_agency()
    for actor in (Actor(f"client:{agency_id}-system", agency_id, "system"), Actor("user:nobody")):
        with pytest.raises(Forbidden):
            hosted.sign_for_user(actor, "POST", FORMS, adult())


def test_an_agency_system_cannot_register_a_hosted_kid(client: FlaskClient) -> None:
    from nrm_api.accounts import admin
    from nrm_api.crypto.jose import generate_private_jwk, public_half
    from nrm_api.errors import InvalidError
    from tests.conftest import OPERATOR

    private = generate_private_jwk(kid=f"hosted:{create_agency()}:mine")
    with pytest.raises(InvalidError, match="hosted key"):
        admin.add_client(OPERATOR, create_agency(), "sneaky-system", public_half(private))


def test_a_disabled_hosted_client_stops_hosted_signing(client: FlaskClient) -> None:
    from nrm_api.accounts import admin
    from tests.conftest import OPERATOR

    actor, _ = _person(client)
    hosted.sign_for_user(actor, "POST", FORMS, adult())
    admin.disable_client(OPERATOR, hosted.client_id_of(str(actor.agency)))
    with pytest.raises(Forbidden, match="disabled"):
        hosted.sign_for_user(actor, "POST", FORMS, adult())


def test_rotation_of_an_unknown_agency_is_refused_and_audited(client: FlaskClient) -> None:
    result = client.application.test_cli_runner().invoke(main, ["keys", "hosted", "rotate", "--agency", "no-such"])
    assert result.exit_code == 1 and "no agency 'no-such'" in result.output
    assert (last_event().action, last_event().outcome) == ("hosted-key:rotate", "denied")


def test_the_private_key_is_in_no_table_and_no_log(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    http = app.test_client()
    actor, token = _person(http)
    result = app.test_cli_runner().invoke(main, ["keys", "hosted", "rotate", "--agency", str(actor.agency)])
    assert result.exit_code == 0, result.output
    document = adult()
    assert _post(http, token, document, hosted.sign_for_user(actor, "POST", FORMS, document)).status_code == 201
    listed = app.test_cli_runner().invoke(main, ["keys", "hosted", "list", "--agency", str(actor.agency)])
    assert "private key held" in listed.output
    ring: Keyring = app.extensions["nrm_keyring"]
    kid = str(hosted.current_kid(str(actor.agency)))
    (seed,) = [entry["seed"] for entry in ring.file.current().data["hosted"] if entry["kid"] == kid]
    raw = base64.urlsafe_b64decode(seed + "=")
    rows = repr([db.session.execute(select(table)).all() for table in Base.metadata.sorted_tables])
    assert kid in rows  # the scan sees the key's public record
    assert db.session.get(Client, hosted.client_id_of(str(actor.agency))) is not None
    for text in (rows, caplog.text, result.output, listed.output):
        assert seed not in text and raw.hex() not in text and repr(raw)[2:-1] not in text


def test_an_agency_system_may_not_name_a_user_in_its_signature(client: FlaskClient) -> None:
    from tests.test_signature_binding import _unbound

    system = agency(client)
    body = canonical(adult())
    signature = _unbound(body, system.private_jwk, htm="POST", htu=FORMS, jti=str(uuid.uuid4()),
                         nrm_user="user:someone")
    response = client.post(FORMS, data=body, content_type="application/json",
                           headers={**bearer(system.sdk.token()), "X-JWS-Signature": signature,
                                    "Idempotency-Key": str(uuid.uuid4())})
    assert response.status_code == 401
    assert response.get_json()["type"] == "urn:nrm:problem:signature-user-header-not-hosted"
    assert last_event().reason == "signature_user_header_not_hosted"


def test_a_hosted_referral_history_verifies_before_and_after_a_rotation(client: FlaskClient) -> None:
    from nrm_api.referrals.queries import checked_history

    actor, token = _person(client)
    document = adult()
    form = _post(client, token, document, hosted.sign_for_user(actor, "POST", FORMS, document)).get_json()
    ministry = agency(client, kind="authority")
    body = {"form_id": form["id"], "to_agency": ministry.id, "purpose": "identification", "services": [],
            "priority": "urgent"}
    sent = _post(client, token, body, hosted.sign_for_user(actor, "POST", "/api/v1/referrals", body),
                 "/api/v1/referrals")
    assert sent.status_code == 201, sent.get_json()
    (first,) = checked_history(actor, sent.get_json()["id"])["events"]
    assert first["verified"] and first["actor"] == actor.subject and first["kid"].startswith("hosted:")
    hosted.rotate(Actor("cli:test", role="operator"), str(actor.agency))
    (again,) = checked_history(actor, sent.get_json()["id"])["events"]
    assert again["verified"] and again["kid"] == first["kid"] != hosted.current_kid(str(actor.agency))
