"""Need-to-know beyond the form itself: notes and history bodies, the shelter's address, consent's recipients, age."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmClient, NrmError
from nrm_api.extensions import db
from nrm_api.forms import access
from nrm_api.forms.models import Form
from tests.conftest import BASE_URL, audit_events, bearer, create_user, login_token
from tests.forms.helpers import Agency, adult, child, flask_transport
from tests.referrals.helpers import network, signatures_verify

NOTE = "Arrives tonight by train; the brother must not know."
WITHHELD_EVENT = ["body", "signature", "sha256"]


def _refused(call: Any, status: int, slug: str) -> None:
    with pytest.raises(NrmError) as caught:
        call()
    assert (caught.value.status, caught.value.problem.get("type")) == (status, f"urn:nrm:problem:{slug}"), \
        caught.value.problem


def _person(http: FlaskClient, of: Agency, role: str) -> NrmClient:
    """The SDK signed in as a person of ``of`` with ``role`` (signing with the agency's system key)."""
    person = NrmClient(BASE_URL, of.client_id, of.private_jwk, flask_transport(http))
    person._token, person._token_expires = login_token(http, create_user(role, of.id)), 1e12
    return person


def _withheld_from(sdk: NrmClient, referral_id: str, status: str) -> None:
    """The caller still sees where the referral stands, but nothing sealed under the form's key."""
    seen = sdk.referral(referral_id)
    assert (seen["status"], seen["withheld"]) == (status, ["note"]) and "note" not in seen
    for event in sdk.history(referral_id)["events"]:
        assert (event["body"], event["signature"], event["sha256"]) == (None, None, None)
        assert event["withheld"] == WITHHELD_EVENT and event["status"] and event["at"] and event["agency"]


def _opened_for(sdk: NrmClient, referral_id: str, signers: list[Agency]) -> list[dict[str, Any]]:
    seen = sdk.referral(referral_id)
    assert (seen["note"], seen["withheld"]) == (NOTE, [])
    events = sdk.history(referral_id)["events"]
    assert events[0]["body"]["note"] == NOTE and all(event["withheld"] == [] for event in events)
    assert signatures_verify(events, signers, sdk.jwks())
    return events


# --- item 5: the note and the signed bodies follow the form's access rule -----------------------

def test_after_withdrawal_the_recipient_keeps_the_status_but_not_the_note_or_the_bodies(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    referral_id = net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"], note=NOTE)["id"]
    net.shelter.sdk.set_status(referral_id, "accepted")
    _opened_for(net.shelter.sdk, referral_id, [net.ngo, net.shelter])
    net.ngo.sdk.signed_write("POST", f"/api/v1/forms/{form_id}/consent-withdrawal",
                             {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"})
    _withheld_from(net.shelter.sdk, referral_id, "cancelled")
    # the form's author keeps its case: the note, every body, every signature
    events = _opened_for(net.ngo.sdk, referral_id, [net.ngo, net.shelter])
    assert events[-1]["body"] == {"status": "cancelled", "reason": "consent_withdrawn"}
    reads = audit_events(resource=f"referral:{referral_id}", action="referral:read", agency=net.shelter.id)
    assert [sorted(event.fields) for event in reads[-2:]] == [["referral.*"], ["referral.history"]]
    assert "note" in audit_events(resource=f"referral:{referral_id}", action="referral:read",
                                  agency=net.ngo.id)[-2].fields


def test_a_final_referral_ends_the_recipients_view_of_its_note(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    referral_id = net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"], note=NOTE)["id"]
    for status in ("accepted", "in-progress", "completed"):
        net.shelter.sdk.set_status(referral_id, status)
    _withheld_from(net.shelter.sdk, referral_id, "completed")
    _opened_for(net.ngo.sdk, referral_id, [net.ngo, net.shelter])


def test_an_onward_sender_sees_its_referrals_bodies_only_while_it_may_read_the_form(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    to_iom = net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["accommodation"])["id"]
    onward = net.iom.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"], note=NOTE)["id"]
    _opened_for(net.iom.sdk, onward, [net.iom])
    net.ngo.sdk.set_status(to_iom, "cancelled", reason="placed elsewhere")
    # IOM's own access ended with its referral: the shelter's is still live, and so is its note
    _withheld_from(net.iom.sdk, onward, "requested")
    _opened_for(net.shelter.sdk, onward, [net.iom])


# --- item 6: a shelter's confidential address -------------------------------------------------

ADDRESS = "Gomel, Zxq street 9"


def _address(http: FlaskClient, shelter_id: str, token: str) -> str | None:
    response = http.get(f"/api/v1/agencies/{shelter_id}", headers=bearer(token))
    assert response.status_code == 200
    address: str | None = response.get_json().get("address")
    return address


def test_the_address_shows_only_for_a_referral_the_shelter_accepted_to_casework_roles(client: FlaskClient) -> None:
    net = network(client)
    assert client.put(f"/api/v1/agencies/{net.shelter.id}/address", json={"address": ADDRESS},
                      headers=bearer(net.shelter.sdk.token())).status_code == 204
    # a throwaway form of its own, referred: the shelter never took it on, so no address
    form_id = net.stranger.sdk.submit_form(adult())["id"]
    referral_id = net.stranger.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"])["id"]
    assert _address(client, net.shelter.id, net.stranger.sdk.token()) is None
    net.shelter.sdk.set_status(referral_id, "received")
    assert _address(client, net.shelter.id, net.stranger.sdk.token()) is None
    net.shelter.sdk.set_status(referral_id, "accepted")
    assert _address(client, net.shelter.id, net.stranger.sdk.token()) == ADDRESS
    caseworker = _person(client, net.stranger, "caseworker").token()
    assert _address(client, net.shelter.id, caseworker) == ADDRESS
    for role in ("agency_admin", "auditor"):  # no casework: no address, though their agency's referral is live
        assert _address(client, net.shelter.id, _person(client, net.stranger, role).token()) is None
    shown = audit_events(resource=f"agency:{net.shelter.id}", action="agency:read", agency=net.stranger.id)
    disclosed = [(event.fields, event.reason) for event in shown if event.fields]
    assert disclosed == [(["address"], f"referral:{referral_id}")] * 2
    assert _address(client, net.shelter.id, net.shelter.sdk.token()) == ADDRESS  # its own
    net.shelter.sdk.set_status(referral_id, "in-progress")
    net.shelter.sdk.set_status(referral_id, "on-hold", reason="waiting for a bed")
    assert _address(client, net.shelter.id, net.stranger.sdk.token()) == ADDRESS
    net.shelter.sdk.set_status(referral_id, "failed", reason="no bed")
    assert _address(client, net.shelter.id, net.stranger.sdk.token()) is None


def test_a_rejected_referral_never_shows_the_address(client: FlaskClient) -> None:
    net = network(client)
    client.put(f"/api/v1/agencies/{net.shelter.id}/address", json={"address": ADDRESS},
               headers=bearer(net.shelter.sdk.token()))
    form_id = net.stranger.sdk.submit_form(adult())["id"]
    referral_id = net.stranger.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"])["id"]
    net.shelter.sdk.set_status(referral_id, "rejected", reason="not for us")
    assert _address(client, net.shelter.id, net.stranger.sdk.token()) is None


# --- item 7: consent that names no recipient covers nobody ------------------------------------

@pytest.mark.parametrize("recipients", [[], None], ids=["empty", "missing"])
def test_consent_naming_no_recipient_covers_nobody(client: FlaskClient, recipients: list[str] | None) -> None:
    net = network(client)
    document = adult()
    if recipients is None:
        del document["consent"]["recipients"]
    else:
        document["consent"]["recipients"] = recipients
    form_id = net.ngo.sdk.submit_form(document)["id"]
    _refused(lambda: net.ngo.sdk.refer(form_id, net.moi.id, "identification"), 403, "consent-required")
    _refused(lambda: net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["escort"]), 403,
             "consent-required")
    assert [e.reason for e in audit_events(action="referral:create", outcome="denied")] == ["consent_required"] * 2
    # a child is still exempt from the gate, recipients or none
    young = child()
    young["consent"]["recipients"] = []
    young_id = net.ngo.sdk.submit_form(young)["id"]
    assert net.ngo.sdk.refer(young_id, net.shelter.id, "assistance", services=["escort"])["status"] == "requested"


# --- item 10: a child's exemption follows the birthdate at each referral ----------------------

def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _turning_18_in_three_days() -> dict[str, Any]:
    document = child()
    today = datetime.now(UTC).date()
    document["person"]["birthdate"] = _years_before(today + timedelta(days=3), 18).isoformat()
    return document


def test_a_child_who_turns_18_loses_the_exemption_on_the_day(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(_turning_18_in_three_days())["id"]
    net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"])
    form = db.session.get(Form, form_id)
    assert form is not None and form.is_child
    today = datetime.now(UTC).date()
    assert access.of(form, net.shelter.id, today).classes  # a child: no consent needed
    # ten days on, an adult who never consented: the referral no longer lets the shelter read
    assert not access.of(form, net.shelter.id, today + timedelta(days=10)).classes


def test_the_gate_takes_the_age_from_the_birthdate_not_a_flag_stored_at_submit(client: FlaskClient) -> None:
    net = network(client)
    no_assistance = adult()
    no_assistance["consent"]["purposes"]["assistance"] = False
    form_id = net.ngo.sdk.submit_form(no_assistance)["id"]
    form = db.session.get(Form, form_id)
    assert form is not None
    form.is_child = True  # as a form written years ago, when the person was a child, says
    db.session.commit()
    _refused(lambda: net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["escort"]), 403,
             "consent-required")
    # and the other way: the birthdate of a child exempts, whatever the stored flag says
    young_id = net.ngo.sdk.submit_form(child())["id"]
    young = db.session.get(Form, young_id)
    assert young is not None
    young.is_child = False
    db.session.commit()
    assert net.ngo.sdk.refer(young_id, net.shelter.id, "assistance", services=["escort"])["status"] == "requested"


def test_is_minor_must_agree_with_the_birthdate_unless_the_age_is_disputed(client: FlaskClient) -> None:
    net = network(client)
    claimed = child()
    claimed["person"]["birthdate"] = "1990-01-01"
    with pytest.raises(NrmError) as refused:
        net.ngo.sdk.submit_form(claimed)
    assert refused.value.status == 422 and "is_minor" in str(refused.value.problem["errors"])
    claimed["child"]["age_disputed"] = True  # presumed a child while the age is disputed
    form_id = net.ngo.sdk.submit_form(claimed)["id"]
    assert net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["escort"])["status"] == "requested"
