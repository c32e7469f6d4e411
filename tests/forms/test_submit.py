"""Submitting and reading signed forms: the agency's signature, the service's receipt, need-to-know."""

from __future__ import annotations

import json
import uuid

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmError
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached, verify_detached
from tests.conftest import audit_events, bearer, last_event
from tests.forms.helpers import adult, agency, anonymous, child


def test_an_agency_submits_a_signed_form_and_reads_it_back(client: FlaskClient) -> None:
    ngo = agency(client)
    document = adult()
    written = ngo.sdk.submit_form(document)
    assert written["version"] == 1 and written["status"] == "active"
    assert written["etag"] == '"1"'
    claims = ngo.sdk.verify_receipt(written["receipt"])
    assert claims["record"] == written["id"] and claims["version"] == 1
    event = next(e for e in audit_events(resource=f"form:{written['id']}") if e.action == "form:create")
    assert claims["event"] == event.sha256 and "audit_seq" not in claims
    assert "person.first_name" in event.fields and b"Olga" not in event.body

    form = ngo.sdk.read_form(written["id"])
    assert form["document"] == document
    assert form["withheld"] == []
    key = {k: v for k, v in ngo.private_jwk.items() if k != "d"}
    verify_detached(form["signature"], canonical(form["document"]), lambda kid: key, "POST", "/api/v1/forms")
    read = last_event()
    assert (read.action, read.outcome) == ("form:read", "allowed")
    assert "account.narrative" in read.fields


def test_a_read_is_signed_and_never_cached(client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())
    response = client.get(f"/api/v1/forms/{written['id']}", headers=bearer(ngo.sdk.token()))
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["ETag"] == '"1"'
    assert response.headers["X-JWS-Signature"].split(".")[1] == ""
    assert response.get_data() == canonical(json.loads(response.get_data()))


def test_another_agency_gets_404_and_the_attempt_is_audited(client: FlaskClient) -> None:
    author, stranger = agency(client), agency(client)
    written = author.sdk.submit_form(adult())
    with pytest.raises(NrmError) as refused:
        stranger.sdk.read_form(written["id"])
    assert refused.value.status == 404
    event = last_event()
    assert (event.outcome, event.reason, event.agency) == ("denied", "not_found", stranger.id)
    assert client.get("/api/v1/forms/not-a-form", headers=bearer(author.sdk.token())).status_code == 404


def test_a_retry_with_the_same_idempotency_key_returns_the_first_answer(client: FlaskClient) -> None:
    ngo = agency(client)
    key = str(uuid.uuid4())
    first = ngo.sdk.submit_form(adult(), idempotency_key=key)
    again = ngo.sdk.submit_form(adult(), idempotency_key=key)
    assert again["id"] == first["id"]
    assert again["receipt"] == first["receipt"]
    # one form written; the retry is logged as what it is
    assert [e.reason for e in audit_events(agency=ngo.id) if e.action == "form:create"] == [None, "idempotent_replay"]
    with pytest.raises(NrmError) as other_body:
        ngo.sdk.submit_form(adult(statistics={"age_band": "30--38", "sex": "Feminine", "year": 2026}),
                            idempotency_key=key)
    assert other_body.value.status == 422


def test_posting_a_form_needs_an_idempotency_key(client: FlaskClient) -> None:
    ngo = agency(client)
    payload = canonical(adult())
    signed = {**bearer(ngo.sdk.token()),
              "X-JWS-Signature": sign_detached(payload, ngo.private_jwk, "POST", "/api/v1/forms")}
    response = client.post("/api/v1/forms", data=payload, content_type="application/json", headers=signed)
    assert response.status_code == 400
    assert response.get_json()["type"] == "urn:nrm:problem:idempotency-key-required"


def test_possible_duplicates_are_found_by_blind_index_alone(client: FlaskClient) -> None:
    ngo = agency(client)
    first = ngo.sdk.submit_form(adult())
    respelled = adult()
    respelled["person"]["first_name"], respelled["person"]["second_name"] = "OLGA", "ivanova"
    second = ngo.sdk.submit_form(respelled)
    assert {"form_id": first["id"], "agency": ngo.id} in second["possible_duplicates"]
    other = agency(client).sdk.submit_form(adult())
    assert other["possible_duplicates"] == []


def test_a_child_is_submitted_without_consent_but_with_a_representative(client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(child())
    assert ngo.sdk.read_form(written["id"])["document"]["child"]["legal_representative"]["relation"] == "mother"
    summary = client.get("/api/v1/forms", headers=bearer(ngo.sdk.token())).get_json()["items"]
    assert [item["is_child"] for item in summary] == [True]


def test_an_anonymous_notification_is_accepted_without_identifying_fields(client: FlaskClient) -> None:
    ngo = agency(client)
    written = ngo.sdk.submit_form(anonymous())
    assert "person" not in ngo.sdk.read_form(written["id"])["document"]


def test_lists_show_summaries_only_a_page_at_a_time(client: FlaskClient) -> None:
    ngo = agency(client)
    ids = [ngo.sdk.submit_form(adult())["id"] for _ in range(3)]
    seen, cursor = [], None
    while True:
        page = client.get("/api/v1/forms?limit=2" + (f"&cursor={cursor}" if cursor else ""),
                          headers=bearer(ngo.sdk.token())).get_json()
        seen += [item["id"] for item in page["items"]]
        assert all("document" not in item and "Olga" not in json.dumps(item) for item in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids)
    assert client.get("/api/v1/forms?cursor=garbage", headers=bearer(ngo.sdk.token())).status_code == 422


def test_auditors_see_every_access_to_a_form_and_never_its_content(client: FlaskClient) -> None:
    from tests.conftest import create_user, login_token

    ngo = agency(client)
    written = ngo.sdk.submit_form(adult())
    ngo.sdk.read_form(written["id"])
    auditor = bearer(login_token(client, create_user("auditor")))
    log = client.get(f"/api/v1/forms/{written['id']}/access-log", headers=auditor)
    assert log.status_code == 200
    actions = [item["action"] for item in log.get_json()["items"]]
    assert actions == ["form:create", "form:read"]
    assert "Olga" not in log.get_data(as_text=True)
    assert client.get(f"/api/v1/forms/{written['id']}", headers=auditor).status_code == 403


def test_the_list_filters_by_status_child_and_time(client: FlaskClient) -> None:
    ngo = agency(client)
    adult_id = ngo.sdk.submit_form(adult())["id"]
    child_id = ngo.sdk.submit_form(child())["id"]
    headers = bearer(ngo.sdk.token())

    def ids(query: str) -> list[str]:
        response = client.get(f"/api/v1/forms?{query}", headers=headers)
        assert response.status_code == 200, response.get_json()
        return [item["id"] for item in response.get_json()["items"]]

    assert ids("is_child=true") == [child_id]
    assert ids("is_child=false") == [adult_id]
    assert sorted(ids("status=active")) == sorted([adult_id, child_id])
    assert ids("status=shredded") == []
    assert ids("updated_after=2999-01-01T00:00:00Z") == []
    assert client.get("/api/v1/forms?status=lost", headers=headers).status_code == 422
