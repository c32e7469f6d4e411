"""A retry under the same Idempotency-Key is a request like any other: its signature is verified and it is audited."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask.testing import FlaskClient

from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from nrm_api.extensions import db
from nrm_api.idempotency.models import IdempotencyRecord
from tests.conftest import bearer, last_event
from tests.forms.helpers import Agency, adult, agency
from tests.referrals.helpers import Network, network

FORMS, REFERRALS = "/api/v1/forms", "/api/v1/referrals"


def _post(http: FlaskClient, who: Agency, path: str, body: bytes, signature: str | None, key: str) -> Any:
    headers = {**bearer(who.sdk.token()), "Idempotency-Key": key}
    if signature is not None:
        headers["X-JWS-Signature"] = signature
    return http.post(path, data=body, content_type="application/json", headers=headers)


def _signed(who: Agency, path: str, body: bytes) -> str:
    """``who``'s signature of ``body`` for ``POST path``."""
    return sign_detached(body, who.private_jwk, "POST", path)


def _creating(http: FlaskClient, what: str) -> tuple[Network, str, bytes]:
    """A network, and the path and body of the NGO's request creating a ``form`` or a ``referral`` of its form."""
    net = network(http)
    if what == "form":
        return net, FORMS, canonical(adult())
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    return net, REFERRALS, canonical({"form_id": form_id, "to_agency": net.moi.id, "purpose": "identification"})


def _bad_retries(http: FlaskClient, who: Agency, path: str, body: bytes) -> list[tuple[str | None, str]]:
    """Retries whose signature is no good: each is refused, never given the first answer."""
    stranger = agency(http)
    other_body = canonical({"something": "else"})
    return [
        ("garbage", "signature-malformed-signature"),
        (None, "signature-missing-signature"),
        (_signed(who, path, other_body), "signature-bad-signature"),
        (_signed(stranger, path, body), "signature-unknown-kid"),
    ]


@pytest.mark.parametrize("what", ["form", "referral"])
def test_a_retry_with_a_bad_signature_is_refused_and_audited(client: FlaskClient, what: str) -> None:
    net, path, body = _creating(client, what)
    key = str(uuid.uuid4())
    first = _post(client, net.ngo, path, body, _signed(net.ngo, path, body), key)
    assert first.status_code == 201, first.get_json()
    resource = f"{what}:{first.get_json()['id']}"
    reasons = []
    for signature, slug in _bad_retries(client, net.ngo, path, body):
        retried = _post(client, net.ngo, path, body, signature, key)
        assert retried.status_code == 401, (signature, retried.get_json())
        assert retried.get_json()["type"] == f"urn:nrm:problem:{slug}" and "id" not in retried.get_json()
        refused = last_event()
        assert (refused.outcome, refused.resource, refused.action) == ("denied", resource, f"{what}:create")
        reasons.append(refused.reason)
    assert reasons == ["signature_malformed_signature", "signature_missing_signature", "signature_bad_signature",
                       "signature_unknown_kid"]
    # a good retry (signed afresh) gets the first answer, and the log says it was a retry
    again = _post(client, net.ngo, path, body, _signed(net.ngo, path, body), key)
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert (last_event().outcome, last_event().resource, last_event().reason) == (
        "allowed", resource, "idempotent_replay")


def test_the_identical_request_again_gets_the_first_answer_once_verified(client: FlaskClient) -> None:
    ngo = agency(client)
    body = canonical(adult())
    signature = _signed(ngo, FORMS, body)
    key = str(uuid.uuid4())
    first = _post(client, ngo, FORMS, body, signature, key)
    again = _post(client, ngo, FORMS, body, signature, key)  # same key, body and signature: a lost answer
    assert (again.status_code, again.get_json()) == (201, first.get_json())
    assert last_event().reason == "idempotent_replay" and last_event().resource == f"form:{first.get_json()['id']}"
    other = _post(client, ngo, FORMS, canonical(adult(statistics={"age_band": "30--38", "sex": "Feminine",
                                                                  "year": 2026})), signature, key)
    assert other.status_code == 422
    assert (last_event().outcome, last_event().reason) == ("denied", "idempotency_key_reused")


@pytest.mark.parametrize("what", ["form", "referral"])
def test_a_retry_gets_the_first_answer_byte_for_byte(client: FlaskClient, what: str) -> None:
    net, path, body = _creating(client, what)
    key = str(uuid.uuid4())
    first = _post(client, net.ngo, path, body, _signed(net.ngo, path, body), key)
    again = _post(client, net.ngo, path, body, _signed(net.ngo, path, body), key)
    assert first.status_code == again.status_code == 201
    assert first.headers["Location"] == again.headers["Location"] == f"{path}/{first.get_json()['id']}"
    assert first.headers["ETag"] == again.headers["ETag"] == '"1"'
    assert first.get_data() == again.get_data()


def test_a_row_stored_before_results_were_domain_values_still_replays(client: FlaskClient) -> None:
    ngo = agency(client)
    body, key = canonical(adult()), str(uuid.uuid4())
    first = _post(client, ngo, FORMS, body, _signed(ngo, FORMS, body), key)
    row = db.session.get(IdempotencyRecord, (f"client:{ngo.client_id}", key))
    assert row is not None and (row.status_code, row.headers) == (201, {"ETag": '"1"'})
    # what the table held before issue 10: the API's status, body and both headers
    row.headers = {"Location": first.headers["Location"], "ETag": first.headers["ETag"]}
    db.session.commit()
    again = _post(client, ngo, FORMS, body, _signed(ngo, FORMS, body), key)
    assert (again.status_code, again.get_data()) == (201, first.get_data())
    assert (again.headers["Location"], again.headers["ETag"]) == (first.headers["Location"], first.headers["ETag"])
