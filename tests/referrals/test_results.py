"""The referrals' and transfers' writes need no web request: plain facts in, a ``Written`` result out."""

from __future__ import annotations

import uuid

from flask import Flask, has_request_context

from nrm_api.referrals import service, transfers
from nrm_api.writes import Written
from tests.conftest import last_event
from tests.forms.helpers import receipt_claims, signed_write, submitted, system

REFERRALS, TRANSFERS = "/api/v1/referrals", "/api/v1/transfers"


def test_a_referral_is_created_then_moved_on_without_a_request(app: Flask) -> None:
    assert not has_request_context()
    (ngo, ngo_key), (moi, moi_key) = system("ngo"), system("authority")
    form_id = submitted(ngo, ngo_key).id
    key = str(uuid.uuid4())
    body, signature, facts = signed_write(ngo_key, {"form_id": form_id, "to_agency": moi.agency,
                                                         "purpose": "identification"}, "POST", REFERRALS, key)
    created = service.create(ngo, body, signature, facts)
    assert isinstance(created, Written)
    assert (created.kind, created.created, created.revision, created.status) == ("referral", True, 1, "requested")
    assert receipt_claims(created.receipt)["record"] == created.id
    _, again, _ = signed_write(ngo_key, body, "POST", REFERRALS, key)
    assert service.create(ngo, body, again, facts) == created  # a retry: the first result
    assert last_event().reason == "idempotent_replay"
    body, signature, facts = signed_write(moi_key, {"status": "accepted"}, "POST",
                                          f"{REFERRALS}/{created.id}/status")
    moved = service.change_status(moi, created.id, body, signature, '"1"', facts)
    assert (moved.id, moved.created, moved.revision, moved.status) == (created.id, False, 2, "accepted")
    assert receipt_claims(moved.receipt)["version"] == 2


def test_a_transfer_is_offered_then_accepted_without_a_request(app: Flask) -> None:
    (ngo, ngo_key), (shelter, shelter_key) = system("ngo"), system("ngo")
    form_id = submitted(ngo, ngo_key).id
    offer = {"form_id": form_id, "to_agency": shelter.agency, "reason": "relocation"}
    body, signature, facts = signed_write(ngo_key, offer, "POST", TRANSFERS)
    offered = transfers.request(ngo, body, signature, facts)
    assert (offered.kind, offered.created, offered.revision, offered.status) == ("transfer", True, 1, "requested")
    assert offered.body["form_id"] == form_id and "statistics" in offered.body
    body, signature, facts = signed_write(shelter_key, {"status": "accepted"}, "POST",
                                          f"{TRANSFERS}/{offered.id}/status")
    accepted = transfers.decide(shelter, offered.id, body, signature, '"1"', facts)
    assert (accepted.id, accepted.created, accepted.revision, accepted.status) == (offered.id, False, 2, "accepted")
