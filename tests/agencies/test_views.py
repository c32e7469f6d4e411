"""The directory over HTTP: read by any signed-in principal, written by network administrators."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import audit_events, bearer, create_agency, create_user, last_event, login_token

NEW = {"id": "shelter-gomel", "kind": "ngo", "regions": ["Gomel"],
       "name": {"en": "Gomel shelter", "ru": "Приют в Гомеле", "be": "Прытулак у Гомелі"}}


def test_any_principal_reads_the_directory_in_three_languages(client: FlaskClient) -> None:
    agency = create_agency(kind="authority", regions=("Brest", "Minsk"))
    token = login_token(client, create_user("auditor"))
    listing = client.get("/api/v1/agencies?kind=authority&region=Brest", headers=bearer(token)).get_json()
    assert agency in [item["id"] for item in listing]
    one = client.get(f"/api/v1/agencies/{agency}", headers=bearer(token)).get_json()
    assert one["kind"] == "authority" and set(one["name"]) == {"en", "ru", "be"}
    assert one["regions"] == ["Brest", "Minsk"]
    assert last_event().resource == f"agency:{agency}"


def test_an_unknown_agency_is_404(client: FlaskClient) -> None:
    token = login_token(client, create_user())
    response = client.get("/api/v1/agencies/no-such-agency", headers=bearer(token))
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert (last_event().outcome, last_event().reason) == ("denied", "not_found")


def test_bad_filters_are_422(client: FlaskClient) -> None:
    token = login_token(client, create_user())
    assert client.get("/api/v1/agencies?region=Atlantis", headers=bearer(token)).status_code == 422
    assert client.get("/api/v1/agencies?colour=red", headers=bearer(token)).status_code == 422


def test_a_network_admin_registers_an_agency(client: FlaskClient) -> None:
    token = login_token(client, create_user("network_admin"))
    response = client.post("/api/v1/agencies", json=NEW, headers=bearer(token))
    assert response.status_code == 201
    assert response.get_json()["name"]["ru"] == "Приют в Гомеле"
    assert (last_event().action, last_event().resource) == ("agency:create", "agency:shelter-gomel")
    again = client.post("/api/v1/agencies", json=NEW, headers=bearer(token))
    assert again.status_code == 409


def test_a_caseworker_may_not_register_agencies_and_the_refusal_is_audited(client: FlaskClient) -> None:
    user = create_user("caseworker")
    token = login_token(client, user)
    response = client.post("/api/v1/agencies", json=NEW, headers=bearer(token))
    assert response.status_code == 403 and response.mimetype == "application/problem+json"
    event = last_event()
    assert (event.action, event.outcome, event.reason, event.actor) == (
        "agency:create", "denied", "role_forbidden", f"user:{user['username']}")
    assert not audit_events(resource="agency:shelter-gomel")


def test_bad_agency_input_is_422_and_writes_nothing(client: FlaskClient) -> None:
    token = login_token(client, create_user("network_admin"))
    for body in ({**NEW, "kind": "church"}, {**NEW, "regions": ["Atlantis"]}, {**NEW, "id": "Bad Id"},
                 {**NEW, "name": {"en": "x"}}, {**NEW, "extra": True}):
        assert client.post("/api/v1/agencies", json=body, headers=bearer(token)).status_code == 422
    assert client.get("/api/v1/agencies/shelter-gomel", headers=bearer(token)).status_code == 404
