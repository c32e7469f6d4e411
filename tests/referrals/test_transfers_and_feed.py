"""Transfer of a case's lead, and the changes feed."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmError
from tests.conftest import audit_events, bearer
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
