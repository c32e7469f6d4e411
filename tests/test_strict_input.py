"""Patterns match whole values and booleans are JSON true/false only (issue 9, item 23)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import marshmallow as ma
import pytest
from flask.testing import FlaskClient

from nrm_api.accounts import admin
from nrm_api.agencies import service as agencies
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from nrm_api.errors import InvalidError
from nrm_api.fields import FullMatch, StrictBoolean
from nrm_api.forms.service import DOCUMENT_SCHEMA
from tests.conftest import OPERATOR, bearer, create_agency, create_user, login_token
from tests.forms.helpers import adult, agency

NEW = {"id": "shelter-gomel", "kind": "ngo", "regions": ["Gomel"], "name": {"en": "Gomel shelter"}}


def test_a_full_match_refuses_a_trailing_newline() -> None:
    check = FullMatch(r"^[a-z]{2}$")
    assert check("ru") == "ru"
    for value in ("ru\n", "ru\r\n", "\nru", "rus", 7):
        with pytest.raises(ma.ValidationError):
            check(value)


def test_a_strict_boolean_takes_json_true_and_false_only() -> None:
    field = StrictBoolean()
    assert field.deserialize(True) is True and field.deserialize(False) is False
    for value in (1, 0, 1.0, "true", "1", "yes", "on", None, [], {}):
        with pytest.raises(ma.ValidationError):
            field.deserialize(value)


def test_a_query_flag_is_true_or_false_only(client: FlaskClient) -> None:
    ngo = agency(client)
    for value in ("true", "false"):
        assert client.get(f"/api/v1/forms?is_child={value}", headers=bearer(ngo.sdk.token())).status_code == 200
    for value in ("1", "0", "yes", "on", "True"):
        assert client.get(f"/api/v1/forms?is_child={value}", headers=bearer(ngo.sdk.token())).status_code == 422


def test_an_agency_id_with_a_trailing_newline_is_not_created(client: FlaskClient) -> None:
    token = login_token(client, create_user("network_admin"))
    response = client.post("/api/v1/agencies", json={**NEW, "id": "evil\n"}, headers=bearer(token))
    assert response.status_code == 422, response.get_json()
    listed = client.get("/api/v1/agencies", headers=bearer(token)).get_json()
    assert all(not item["id"].startswith("evil") for item in listed)
    with pytest.raises(InvalidError):
        agencies.add_agency(OPERATOR, "evil\n", kind="ngo", name_en="Evil")


def test_client_and_user_names_with_a_trailing_newline_are_refused(client: FlaskClient) -> None:
    agency_id = create_agency()
    with pytest.raises(InvalidError):
        admin.add_client(OPERATOR, agency_id, "system\n", {"kty": "OKP", "crv": "Ed25519", "x": "x"})
    with pytest.raises(InvalidError):
        admin.add_user(OPERATOR, "alice\n", agency_id=agency_id, role="caseworker", password="p" * 16)


def test_an_otp_with_a_trailing_newline_is_refused(client: FlaskClient) -> None:
    user = create_user()
    body = {"username": user["username"], "password": user["password"], "otp": "123456\n"}
    assert client.post("/api/v1/auth/login", json=body).status_code == 422


def _errors(document: dict[str, Any]) -> str:
    return json.dumps(DOCUMENT_SCHEMA.validate(document))


@pytest.mark.parametrize(("section", "field", "value"), [
    ("consent", "recipients", ["kind:ngo\n"]),
    ("consent", "recipients", ["shelter-minsk\n"]),
    ("consent", "language", "ru\n"),
    ("screening", "language", "ru\n"),
    ("statistics", "citizenship", "BY\n"),
])
def test_form_codes_with_a_trailing_newline_are_refused(section: str, field: str, value: Any) -> None:
    document = adult()
    document[section][field] = value
    assert field in _errors(document)


@pytest.mark.parametrize("value", [1, 0, "true", 1.0])
def test_form_flags_take_json_booleans_only(client: FlaskClient, value: Any) -> None:
    document = adult()
    document["consent"]["purposes"]["identification"] = value
    document["screening"]["interpreter_used"] = value
    errors = _errors(document)
    assert "identification" in errors and "interpreter_used" in errors
    ngo = agency(client)
    payload = canonical(document)
    signature = sign_detached(payload, ngo.private_jwk, "POST", "/api/v1/forms")
    response = client.post("/api/v1/forms", data=payload, content_type="application/json",
                           headers={**bearer(ngo.sdk.token()), "Idempotency-Key": str(uuid.uuid4()),
                                    "X-JWS-Signature": signature})
    assert response.status_code == 422, response.get_json()
