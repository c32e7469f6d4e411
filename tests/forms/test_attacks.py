"""Bad input and attacks on signed writes: each refused with a clear problem, audited, changing nothing."""

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
from flask.testing import FlaskClient
from sqlalchemy import func, select

from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from nrm_api.crypto.keyring import unb64u
from nrm_api.extensions import db
from nrm_api.forms.models import Form
from tests.conftest import bearer, last_event
from tests.forms.helpers import Agency, adult, agency, anonymous, child


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _post(client: FlaskClient, ngo: Agency, body: bytes, signature: str | None) -> Any:
    headers = {**bearer(ngo.sdk.token()), "Idempotency-Key": str(uuid.uuid4())}
    if signature is not None:
        headers["X-JWS-Signature"] = signature
    return client.post("/api/v1/forms", data=body, content_type="application/json", headers=headers)


def _forms() -> int:
    return db.session.scalar(select(func.count()).select_from(Form)) or 0


def _refused(client: FlaskClient, ngo: Agency, body: bytes, signature: str | None, status: int, slug: str) -> None:
    before = _forms()
    response = _post(client, ngo, body, signature)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["type"] == f"urn:nrm:problem:{slug}"
    assert _forms() == before
    assert last_event().outcome == "denied"


def _raw(header: dict[str, Any], payload: bytes, key: dict[str, str]) -> str:
    private = Ed25519PrivateKey.from_private_bytes(unb64u(key["d"]))
    head = _b64(json.dumps(header).encode())
    return f"{head}..{_b64(private.sign(f'{head}.{_b64(payload)}'.encode()))}"


def _sign(payload: bytes, key: dict[str, str]) -> str:
    return sign_detached(payload, key, "POST", "/api/v1/forms")


@pytest.fixture
def ngo(client: FlaskClient) -> Agency:
    return agency(client)


def test_a_body_altered_after_signing_is_refused(client: FlaskClient, ngo: Agency) -> None:
    signed = canonical(adult())
    altered = signed.replace(b"Olga", b"Olha")
    _refused(client, ngo, altered, _sign(signed, ngo.private_jwk), 401, "signature-bad-signature")


def test_the_same_document_in_another_byte_form_still_verifies(client: FlaskClient, ngo: Agency) -> None:
    document = adult()
    pretty = json.dumps(document, indent=3, ensure_ascii=True).encode()
    assert _post(client, ngo, pretty, _sign(canonical(document), ngo.private_jwk)).status_code == 201


def test_a_signature_by_another_agencys_key_is_refused(client: FlaskClient, ngo: Agency) -> None:
    other = agency(client)
    payload = canonical(adult())
    _refused(client, ngo, payload, _sign(payload, other.private_jwk), 401, "signature-unknown-kid")


def test_a_missing_signature_is_refused(client: FlaskClient, ngo: Agency) -> None:
    _refused(client, ngo, canonical(adult()), None, 401, "signature-missing-signature")


@pytest.mark.parametrize(("header", "slug"), [
    ({"alg": "none"}, "signature-unsupported-algorithm"),
    ({"crit": ["nrm-x"], "nrm-x": 1}, "signature-forbidden-header"),
    ({"jku": "https://attacker.example/keys"}, "signature-forbidden-header"),
    ({"pad": "x" * 3000}, "signature-header-too-large"),
    ({"iat": 1}, "signature-stale-iat"),
    ({"typ": "JWT"}, "signature-wrong-type"),
])
def test_jose_attacks_are_refused(client: FlaskClient, ngo: Agency, header: dict[str, Any], slug: str) -> None:
    payload = canonical(adult())
    full = {"alg": "Ed25519", "kid": ngo.private_jwk["kid"], "typ": "nrm+jws", "iat": int(time.time()),
            "htm": "POST", "htu": "/api/v1/forms", "jti": str(uuid.uuid4()), **header}
    _refused(client, ngo, payload, _raw(full, payload, ngo.private_jwk), 401, slug)


def test_hmac_with_the_public_key_as_secret_is_refused(client: FlaskClient, ngo: Agency) -> None:
    payload = canonical(adult())
    head = _b64(json.dumps({"alg": "HS256", "kid": ngo.private_jwk["kid"], "typ": "nrm+jws",
                            "iat": int(time.time())}).encode())
    mac = hmac.new(ngo.private_jwk["x"].encode(), f"{head}.{_b64(payload)}".encode(), hashlib.sha256).digest()
    _refused(client, ngo, payload, f"{head}..{_b64(mac)}", 401, "signature-unsupported-algorithm")


def test_a_jwe_where_a_jws_belongs_is_refused(client: FlaskClient, ngo: Agency) -> None:
    jwe = "eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..bm9uY2U.Y2lwaGVy.dGFn"
    _refused(client, ngo, canonical(adult()), jwe, 401, "signature-malformed-signature")


def _signed_invalid(client: FlaskClient, ngo: Agency, document: Any, where: str) -> None:
    payload = canonical(document)
    before = _forms()
    response = _post(client, ngo, payload, _sign(payload, ngo.private_jwk))
    assert response.status_code == 422, response.get_json()
    assert where in json.dumps(response.get_json()["errors"])
    assert _forms() == before
    assert (last_event().outcome, last_event().reason) == ("denied", "invalid_document")


def test_unknown_fields_are_refused(client: FlaskClient, ngo: Agency) -> None:
    _signed_invalid(client, ngo, adult(favourite_colour="blue"), "favourite_colour")
    document = adult()
    document["person"]["nickname"] = "Olya"
    _signed_invalid(client, ngo, document, "nickname")


def test_a_code_outside_its_list_is_refused(client: FlaskClient, ngo: Agency) -> None:
    document = adult()
    document["exploitation"]["types_of_exploitation"] = ["ForcedLabour", "Pickpocketing"]
    _signed_invalid(client, ngo, document, "types_of_exploitation")
    document = adult()
    document["statistics"]["sex"] = "F"
    _signed_invalid(client, ngo, document, "sex")


def test_an_anonymous_notification_carrying_a_name_is_refused(client: FlaskClient, ngo: Agency) -> None:
    document = anonymous()
    document["person"] = {"first_name": "Olga"}
    _signed_invalid(client, ngo, document, "person.first_name")


def test_a_child_without_a_representative_is_refused(client: FlaskClient, ngo: Agency) -> None:
    document = child()
    del document["child"]["legal_representative"]
    _signed_invalid(client, ngo, document, "legal_representative")
    document = adult(child={"is_minor": False, "age_disputed": True})
    _signed_invalid(client, ngo, document, "legal_representative")


def test_numbers_without_a_canonical_form_are_refused(client: FlaskClient, ngo: Agency) -> None:
    body = canonical(adult())[:-1] + b',"x":12345678901234567890}'
    response = _post(client, ngo, body, "e30..AAAA")
    assert response.status_code == 400
    assert response.get_json()["type"] == "urn:nrm:problem:not-canonicalizable"
