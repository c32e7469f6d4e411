"""Transfer of a case's lead, the directory's services and confidential address, and the changes feed."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmError
from tests.conftest import audit_events, bearer, create_user, login_token
from tests.forms.helpers import adult
from tests.referrals.helpers import network


def _transfer(sdk: object, form_id: str, to_agency: str) -> dict[str, object]:
    return sdk.signed_write("POST", "/api/v1/transfers",  # type: ignore[attr-defined,no-any-return]
                            {"form_id": form_id, "to_agency": to_agency, "reason": "relocation"})[1]


def test_the_lead_moves_only_when_the_new_agency_accepts(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    offered = _transfer(net.ngo.sdk, form_id, net.shelter.id)
    assert offered["status"] == "requested" and offered["statistics"]["age_band"] == "27--29"
    # offered is not accepted: the shelter may not read the form yet, nor may another offer be made
    with pytest.raises(NrmError) as before:
        net.shelter.sdk.read_form(form_id)
    assert before.value.status == 403
    with pytest.raises(NrmError) as twice:
        _transfer(net.ngo.sdk, form_id, net.iom.id)
    assert twice.value.status == 409
    seen = net.shelter.sdk.signed_read(f"/api/v1/transfers/{offered['id']}")
    with pytest.raises(NrmError) as wrong_side:
        net.ngo.sdk.signed_write("POST", f"/api/v1/transfers/{offered['id']}/status", {"status": "accepted"},
                                 {"If-Match": seen["etag"]})
    assert wrong_side.value.status == 403
    net.shelter.sdk.signed_write("POST", f"/api/v1/transfers/{offered['id']}/status", {"status": "accepted"},
                                 {"If-Match": seen["etag"]})
    # the new lead reads the whole form, amends it, and may hand the case on; the author keeps reading
    whole = net.shelter.sdk.read_form(form_id)
    assert whole["withheld"] == [] and "signature" in whole
    net.shelter.sdk.signed_write("PUT", f"/api/v1/forms/{form_id}", adult(), {"If-Match": whole["etag"]})
    assert net.ngo.sdk.read_form(form_id)["version"] == 2
    with pytest.raises(NrmError) as not_lead:
        _transfer(net.ngo.sdk, form_id, net.iom.id)
    assert not_lead.value.status == 403
    onward = _transfer(net.shelter.sdk, form_id, net.iom.id)
    net.iom.sdk.signed_write("POST", f"/api/v1/transfers/{onward['id']}/status", {"status": "declined"},
                             {"If-Match": net.iom.sdk.signed_read(f"/api/v1/transfers/{onward['id']}")["etag"]})
    assert net.shelter.sdk.read_form(form_id)["withheld"] == []
    types = [item["type"] for item in net.shelter.sdk.changes()["items"]]
    assert types == ["transfer.requested", "transfer.accepted", "transfer.requested", "transfer.declined"]


def test_the_feed_pages_without_missing_or_repeating_an_event(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    referral_id = net.ngo.sdk.refer(form_id, net.moi.id, "identification")["id"]
    for status in ("received", "accepted", "in-progress", "on-hold", "in-progress", "completed"):
        net.moi.sdk.set_status(referral_id, status, reason="waiting for documents")
    seen: list[str] = []
    cursor = None
    while True:
        page = net.ngo.sdk.changes(cursor, limit=2)
        if not page["items"]:
            break
        seen += [item["data"]["status"] for item in page["items"]]
        cursor = page["next_cursor"]
    assert seen == ["requested", "received", "accepted", "in-progress", "on-hold", "in-progress", "completed"]
    assert net.ngo.sdk.changes(cursor)["next_cursor"] == cursor
    assert len(audit_events(resource=f"changes:{net.ngo.id}")) == 4  # pages with entries; empty polls are not
    assert net.stranger.sdk.changes()["items"] == []
    bad = client.get("/api/v1/changes?cursor=abc", headers=bearer(net.ngo.sdk.token()))
    assert bad.status_code == 422


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
