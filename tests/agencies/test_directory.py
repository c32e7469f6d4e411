"""The directory's services and the confidential address, shown only to agencies it was referred by."""

from __future__ import annotations

from flask.testing import FlaskClient

from tests.conftest import bearer, create_user, login_token
from tests.forms.helpers import adult
from tests.referrals.helpers import network


def test_agencies_publish_services_and_the_address_goes_only_to_referring_agencies(client: FlaskClient) -> None:
    net = network(client)
    shelter = bearer(net.shelter.sdk.token())
    services = {"services": [{"service": "accommodation", "regions": ["Gomel"], "age_bands": ["18--20", "21--23"],
                              "sexes": ["Feminine"], "capacity": 12, "vacancies": 3},
                             {"service": "psychological_counselling"}]}
    assert client.put(f"/api/v1/agencies/{net.shelter.id}/services", json=services, headers=shelter).status_code == 200
    assert client.put(f"/api/v1/agencies/{net.shelter.id}/address", json={"address": "Gomel, Zxq street 9"},
                      headers=shelter).status_code == 204
    patched = client.patch(f"/api/v1/agencies/{net.shelter.id}/services/accommodation", json={"vacancies": 2},
                           headers=shelter)
    assert patched.get_json()["vacancies"] == 2
    too_many = client.patch(f"/api/v1/agencies/{net.shelter.id}/services/accommodation", json={"vacancies": 13},
                            headers=shelter)
    assert too_many.status_code == 422
    others = client.put(f"/api/v1/agencies/{net.shelter.id}/services", json={"services": []},
                        headers=bearer(net.iom.sdk.token()))
    assert others.status_code == 403
    iom = bearer(net.iom.sdk.token())
    found = client.get("/api/v1/agencies?service=accommodation&region=Gomel", headers=iom).get_json()
    assert [entry["id"] for entry in found] == [net.shelter.id]
    assert client.get("/api/v1/agencies?service=accommodation&region=Brest", headers=iom).get_json() == []
    entry = client.get(f"/api/v1/agencies/{net.shelter.id}", headers=iom).get_json()
    assert "address" not in entry and entry["services"][0]["capacity"] == 12
    form_id = net.iom.sdk.submit_form(adult())["id"]
    referral_id = net.iom.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"])["id"]
    net.shelter.sdk.set_status(referral_id, "accepted")  # shown once the shelter takes the referral on
    assert client.get(f"/api/v1/agencies/{net.shelter.id}", headers=iom).get_json()["address"] == "Gomel, Zxq street 9"
    assert "address" not in client.get(f"/api/v1/agencies/{net.shelter.id}",
                                       headers=bearer(net.ngo.sdk.token())).get_json()
    admin = login_token(client, create_user("network_admin", net.moi.id))
    assert client.patch(f"/api/v1/agencies/{net.shelter.id}/services/accommodation", json={"vacancies": 0},
                        headers=bearer(admin)).status_code == 200


def test_places_change_at_once_within_bounds_and_only_for_the_own_agency(client: FlaskClient) -> None:
    import pytest
    from sqlalchemy import select

    from nrm_api.agencies import directory
    from nrm_api.agencies import service as agencies
    from nrm_api.audit.actor import Actor
    from nrm_api.audit.models import AuditEvent
    from nrm_api.errors import InvalidError, NotFoundError
    from nrm_api.extensions import db
    from tests.conftest import create_agency

    shelter, other = create_agency(), create_agency()
    admin = Actor("user:places-admin", shelter, "agency_admin")
    directory.set_services(admin, shelter, [{"service": "accommodation", "regions": [], "age_bands": [], "sexes": [],
                                             "capacity": 4, "vacancies": 1}])
    row = directory.set_places(admin, shelter, "accommodation", 10, 7)
    assert (row.capacity, row.vacancies) == (10, 7)
    shown = agencies.get_agency(Actor("user:reader", other, "caseworker"), shelter)["services"][0]
    assert (shown["capacity"], shown["vacancies"]) == (10, 7)
    for capacity, vacancies in ((3, 4), (-1, 0), (10, 100001)):
        with pytest.raises(InvalidError):
            directory.set_places(admin, shelter, "accommodation", capacity, vacancies)
    assert directory.set_places(admin, shelter, "accommodation", None, 50).vacancies == 50  # capacity not counted
    with pytest.raises(NotFoundError):
        directory.set_places(admin, shelter, "legal_assistance", 1, 1)
    with pytest.raises(directory.NotYourAgency):
        directory.set_places(Actor("user:other-admin", other, "agency_admin"), shelter, "accommodation", 1, 1)
    audited = db.session.scalars(select(AuditEvent.reason).where(AuditEvent.actor == admin.subject,
                                                                AuditEvent.resource == f"agency:{shelter}"))
    assert list(audited).count("places") == 2
