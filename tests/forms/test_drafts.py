"""Drafts: the author's agency only, unsigned, sealed, never shared."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import bearer, last_event
from tests.forms.helpers import adult, agency


def test_a_draft_is_saved_read_replaced_and_discarded_by_its_agency(client: FlaskClient) -> None:
    ngo = agency(client)
    headers = bearer(ngo.sdk.token())
    partial = {"schema_version": "1", "person": {"first_name": "Olga"}}
    created = client.post("/api/v1/drafts", json=partial, headers=headers)
    assert created.status_code == 201, created.get_json()
    draft_id = created.get_json()["id"]
    assert "Olga" not in str(last_event().body)
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=headers).get_json()["document"] == partial
    replaced = client.put(f"/api/v1/drafts/{draft_id}", json=adult(), headers=headers)
    assert replaced.get_json()["revision"] == 2
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=headers).get_json()["document"] == adult()
    assert [d["id"] for d in client.get("/api/v1/drafts", headers=headers).get_json()] == [draft_id]
    assert client.delete(f"/api/v1/drafts/{draft_id}", headers=headers).status_code == 204
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=headers).status_code == 404


def test_drafts_are_never_shared(client: FlaskClient) -> None:
    author, other = agency(client), agency(client)
    draft_id = client.post("/api/v1/drafts", json={"schema_version": "1"},
                           headers=bearer(author.sdk.token())).get_json()["id"]
    stranger = bearer(other.sdk.token())
    assert client.get(f"/api/v1/drafts/{draft_id}", headers=stranger).status_code == 404
    assert (last_event().outcome, last_event().reason) == ("denied", "not_found")
    assert client.put(f"/api/v1/drafts/{draft_id}", json={"schema_version": "1"}, headers=stranger).status_code == 404
    assert client.delete(f"/api/v1/drafts/{draft_id}", headers=stranger).status_code == 404
    assert client.get("/api/v1/drafts", headers=stranger).get_json() == []


def test_what_a_draft_holds_must_validate(client: FlaskClient) -> None:
    headers = bearer(agency(client).sdk.token())
    assert client.post("/api/v1/drafts", json={"person": {"nickname": "x"}}, headers=headers).status_code == 422
    assert client.post("/api/v1/drafts", json={"statistics": {"sex": "F"}}, headers=headers).status_code == 422
    assert client.post("/api/v1/drafts", json=[1, 2], headers=headers).status_code == 422
