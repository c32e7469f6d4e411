"""The consent gate, its override, withdrawal, and the reads that consent and referrals allow."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from nrm_api.client import NrmClient, NrmError
from tests.conftest import BASE_URL, audit_events, bearer, create_user, login_token
from tests.forms.helpers import adult, child, flask_transport
from tests.referrals.helpers import network, referred


def _refused(call: object, status: int, slug: str) -> NrmError:
    with pytest.raises(NrmError) as caught:
        call()  # type: ignore[operator]
    assert (caught.value.status, caught.value.problem.get("type")) == (status, f"urn:nrm:problem:{slug}"), \
        caught.value.problem
    return caught.value


def test_a_referral_consent_does_not_cover_is_403_consent_required(client: FlaskClient) -> None:
    net = network(client)
    only_authorities = adult()
    only_authorities["consent"]["recipients"] = ["kind:authority"]
    form_id = net.ngo.sdk.submit_form(only_authorities)["id"]
    _refused(lambda: net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["legal_aid"]), 403,
             "consent-required")
    no_assistance = adult()
    no_assistance["consent"]["purposes"]["assistance"] = False
    other_id = net.ngo.sdk.submit_form(no_assistance)["id"]
    _refused(lambda: net.ngo.sdk.refer(other_id, net.shelter.id, "assistance", services=["escort"]), 403,
             "consent-required")
    assert net.ngo.sdk.refer(form_id, net.moi.id, "identification")["status"] == "requested"
    assert net.ngo.sdk.referrals(direction="outgoing")["items"][0]["to_agency"] == net.moi.id
    assert [e.reason for e in audit_events(action="referral:create", outcome="denied")] == ["consent_required"] * 2


def test_a_child_is_referred_without_consent(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(child())["id"]
    referral = net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["accommodation"])
    assert referral["status"] == "requested"
    assert net.shelter.sdk.read_form(form_id)["document"]["child"]["legal_representative"]["name"] == "Anna Ivanova"




def test_only_a_supervisor_overrides_consent_with_a_reason_and_it_is_audited(client: FlaskClient) -> None:
    net = network(client)
    no_assistance = adult()
    no_assistance["consent"]["purposes"]["assistance"] = False
    form_id = net.ngo.sdk.submit_form(no_assistance)["id"]
    body = {"form_id": form_id, "to_agency": net.shelter.id, "purpose": "assistance", "services": ["accommodation"],
            "consent_override_reason": "vital_interest"}
    # the agency's system may not override: a person must take that decision
    _refused(lambda: net.ngo.sdk.signed_write("POST", "/api/v1/referrals", body, {"Idempotency-Key": "k1"}), 403,
             "consent-required")
    for role, allowed in (("caseworker", False), ("supervisor", True)):
        person = NrmClient(BASE_URL, net.ngo.client_id, net.ngo.private_jwk, flask_transport(client))
        person._token, person._token_expires = login_token(client, create_user(role, net.ngo.id)), 1e12
        call = lambda p=person, key=f"k-{role}": p.signed_write(  # noqa: E731
            "POST", "/api/v1/referrals", body, {"Idempotency-Key": key})
        if not allowed:
            _refused(call, 403, "consent-required")
            continue
        _, written = call()
        assert written["status"] == "requested"
        assert net.shelter.sdk.referral(written["id"])["consent_override"] == "vital_interest"
        event = audit_events(resource=f"referral:{written['id']}", action="referral:create")[0]
        assert event.reason == "consent_override:vital_interest" and event.actor.startswith("user:supervisor")


def test_withdrawal_cancels_open_referrals_tells_recipients_and_ends_their_read_at_once(client: FlaskClient) -> None:
    net = network(client)
    form_id, to_moi = referred(net)
    to_shelter = net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["escort"])["id"]
    assert net.moi.sdk.read_form(form_id)["id"] == form_id
    cursor = net.shelter.sdk.changes()["next_cursor"]
    net.ngo.sdk.signed_write("POST", f"/api/v1/forms/{form_id}/consent-withdrawal",
                             {"withdrawn_at": "2026-11-22T09:00:00+03:00", "recorded_by": "caseworker"})
    for recipient, referral_id in ((net.moi, to_moi), (net.shelter, to_shelter)):
        _refused(lambda r=recipient: r.sdk.read_form(form_id), 403, "access-ended")
        seen = recipient.sdk.referral(referral_id)
        assert (seen["status"], seen["final"]) == ("cancelled", True)
        assert recipient.sdk.history(referral_id)["events"][-1]["body"] is None  # its access ended
        history = net.ngo.sdk.history(referral_id)["events"]
        assert history[-1]["body"] == {"status": "cancelled", "reason": "consent_withdrawn"}
    told = net.shelter.sdk.changes(cursor)["items"]
    assert [(item["type"], item["data"]["status"]) for item in told] == [("referral.status-changed", "cancelled")]
    # the author still reads its own form; nobody may refer it on
    assert net.ngo.sdk.read_form(form_id)["status"] == "consent_withdrawn"
    _refused(lambda: net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["escort"]), 409, "conflict")
    assert client.get("/api/v1/forms", headers=bearer(net.moi.sdk.token())).get_json()["items"] == []


def test_a_recipient_sees_only_what_its_kind_purpose_and_services_need(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    net.ngo.sdk.refer(form_id, net.shelter.id, "assistance", services=["airport_reception"])
    seen = net.shelter.sdk.read_form(form_id)
    assert seen["document"]["person"]["first_name"] == "Olga"
    assert "account.narrative" in seen["withheld"] and "signature" not in seen
    net.ngo.sdk.refer(form_id, net.moi.id, "identification")
    assert net.moi.sdk.read_form(form_id)["withheld"] == []
    _refused(lambda: net.stranger.sdk.read_form(form_id), 404, "not-found")
    listed = client.get("/api/v1/forms", headers=bearer(net.shelter.sdk.token())).get_json()["items"]
    assert [item["id"] for item in listed] == [form_id]


def test_identification_goes_only_to_an_authority_and_assistance_names_services(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    _refused(lambda: net.ngo.sdk.refer(form_id, net.iom.id, "identification"), 422, "validation-failed")
    _refused(lambda: net.ngo.sdk.refer(form_id, net.iom.id, "assistance"), 422, "validation-failed")
    _refused(lambda: net.ngo.sdk.refer(form_id, net.moi.id, "identification", services=["escort"]), 422,
             "validation-failed")
    _refused(lambda: net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["massage"]), 422,
             "validation-failed")
    _refused(lambda: net.ngo.sdk.refer(form_id, "no-such-agency", "identification"), 422, "validation-failed")
    _refused(lambda: net.ngo.sdk.refer(form_id, net.ngo.id, "identification"), 422, "validation-failed")
    _refused(lambda: net.stranger.sdk.refer(form_id, net.moi.id, "identification"), 404, "not-found")
    net.ngo.sdk.refer(form_id, net.moi.id, "identification")
    _refused(lambda: net.ngo.sdk.refer(form_id, net.moi.id, "identification"), 409, "conflict")
    assert len(net.moi.sdk.referrals()["items"]) == 1


def test_an_onward_referral_discloses_no_more_than_its_sender_saw(client: FlaskClient) -> None:
    net = network(client)
    form_id = net.ngo.sdk.submit_form(adult())["id"]
    net.ngo.sdk.refer(form_id, net.iom.id, "assistance", services=["airport_reception"])
    by_iom = net.iom.sdk.read_form(form_id)
    assert "account.narrative" in by_iom["withheld"]
    # legal aid would show a shelter the person's account, but IOM never saw it: nor does the shelter
    net.iom.sdk.refer(form_id, net.shelter.id, "assistance", services=["legal_aid"])
    by_shelter = net.shelter.sdk.read_form(form_id)
    assert by_shelter["withheld"] == by_iom["withheld"]
    assert by_shelter["document"]["person"]["first_name"] == "Olga"
    # the same referral from the author shows it
    net.ngo.sdk.refer(form_id, net.stranger.id, "assistance", services=["legal_aid"])
    assert "account.narrative" not in net.stranger.sdk.read_form(form_id)["withheld"]
