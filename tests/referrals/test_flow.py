"""The Belarus flow end to end through HTTP: detect, identify, assist — every step signed and audited."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmError
from tests.conftest import audit_events
from tests.forms.helpers import adult
from tests.referrals.helpers import network, signatures_verify

PERPETRATORS = "perpetrators"


def test_a_person_moves_from_detection_to_a_shelter(client: FlaskClient) -> None:
    net = network(client)
    ngo, moi, iom, shelter = net.ngo, net.moi, net.iom, net.shelter
    # 1. an NGO detects the person and submits the signed form
    form_id = ngo.sdk.submit_form(adult())["id"]
    # 2. it refers the form to the Ministry for identification
    to_moi = ngo.sdk.refer(form_id, moi.id, "identification", priority="urgent")["id"]
    incoming = moi.sdk.referrals(direction="incoming")["items"]
    assert [item["id"] for item in incoming] == [to_moi]
    for status in ("received", "accepted", "in-progress"):
        moi.sdk.set_status(to_moi, status)
    # 3. the Ministry reads the whole form and records its decision
    seen = moi.sdk.read_form(form_id)
    assert seen["withheld"] == [] and seen["document"]["person"]["first_name"] == "Olga"
    moi.sdk.signed_write("POST", f"/api/v1/forms/{form_id}/decision",
                         {"trafficking_status": "ActualVictimOfTrafficking"}, {"If-Match": seen["etag"]})
    # 4. it refers the person to IOM for assistance, and closes its own referral
    to_iom = moi.sdk.refer(form_id, iom.id, "assistance", services=["accommodation", "healthcare"])["id"]
    moi.sdk.set_status(to_moi, "completed")
    assert ngo.sdk.referral(to_moi)["status"] == "completed"
    for status in ("received", "accepted", "in-progress"):
        iom.sdk.set_status(to_iom, status)
    by_iom = iom.sdk.read_form(form_id)
    assert PERPETRATORS in {path.split(".")[0] for path in by_iom["withheld"]}
    assert by_iom["document"]["person"]["first_name"] == "Olga"
    assert by_iom["decision"]["trafficking_status"] == "ActualVictimOfTrafficking"
    # 5. IOM refers the person to a shelter, which takes them in
    to_shelter = iom.sdk.refer(form_id, shelter.id, "assistance", services=["accommodation"], priority="emergency",
                               note="Arrives tonight by train from Moscow.")["id"]
    assert shelter.sdk.referral(to_shelter)["note"] == "Arrives tonight by train from Moscow."
    by_shelter = shelter.sdk.read_form(form_id)
    assert by_shelter["withheld"] and all(path.startswith(PERPETRATORS) for path in by_shelter["withheld"])
    assert PERPETRATORS not in by_shelter["document"] and by_shelter["document"]["account"]["needs"]
    for status in ("received", "accepted", "in-progress", "completed"):
        shelter.sdk.set_status(to_shelter, status)
    # each sender sees where its referral stands
    assert iom.sdk.referral(to_shelter)["status"] == "completed"
    assert iom.sdk.referrals(direction="outgoing", status="completed")["items"][0]["id"] == to_shelter
    # the history holds every step, each signed by the agency that made it
    history = iom.sdk.history(to_shelter)["events"]
    assert [event["status"] for event in history] == ["requested", "received", "accepted", "in-progress",
                                                      "completed"]
    assert [event["agency"] for event in history] == [iom.id] + [shelter.id] * 4
    assert signatures_verify(history, [iom, shelter], iom.sdk.jwks())
    # the shelter's work is done: so is its access to the form
    with pytest.raises(NrmError) as ended:
        shelter.sdk.read_form(form_id)
    assert ended.value.status == 403 and ended.value.problem["type"].endswith("access-ended")
    # every access is audited, reads naming the fields they disclosed
    reads = [event for event in audit_events(resource=f"form:{form_id}", action="form:read")
             if event.outcome == "allowed"]
    assert {event.agency for event in reads} == {moi.id, iom.id, shelter.id}
    shelter_read = next(event for event in reads if event.agency == shelter.id)
    assert "person.first_name" in shelter_read.fields and not any(f.startswith(PERPETRATORS)
                                                                   for f in shelter_read.fields)
    statuses = audit_events(resource=f"referral:{to_shelter}", action="referral:update")
    assert [event.reason for event in statuses] == ["status:received", "status:accepted", "status:in-progress",
                                                    "status:completed"]
