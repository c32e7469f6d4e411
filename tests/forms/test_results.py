"""The forms' writes need no web request: given an actor and plain facts, they hand back a ``Written`` result.

Each test runs in an app context (for the database) and never in a request context: what a
signature is bound to comes in as ``RequestFacts``, and the status, ``Location`` and ``ETag`` are
the API door's business.
"""

from __future__ import annotations

import uuid

import pytest
from flask import Flask, has_request_context

from nrm_api.accounts import hosted
from nrm_api.audit.actor import Actor
from nrm_api.errors import BadSignature
from nrm_api.forms import decisions, service
from nrm_api.writes import RequestFacts, Written
from tests.conftest import create_user, last_event
from tests.forms.helpers import FORMS, adult, receipt_claims, signed_write, submitted, system


def test_submit_needs_no_request_and_says_what_it_wrote(app: Flask) -> None:
    assert not has_request_context()
    actor, private = system()
    written = submitted(actor, private)
    assert isinstance(written, Written)
    assert (written.kind, written.created, written.revision, written.status) == ("form", True, 1, "active")
    assert written.resource == f"form:{written.id}" and written.body["id"] == written.id
    assert receipt_claims(written.receipt)["record"] == written.id
    assert receipt_claims(written.receipt)["version"] == 1
    assert (last_event().action, last_event().resource) == ("form:create", written.resource)


def test_a_retry_under_the_same_key_gets_the_first_result(app: Flask) -> None:
    actor, private = system()
    key = str(uuid.uuid4())
    first = submitted(actor, private, key)
    again = submitted(actor, private, key)  # signed afresh: a new jti, the same request
    assert again == first
    assert (last_event().reason, last_event().resource) == ("idempotent_replay", first.resource)


def test_a_person_signs_with_the_hosted_key_for_the_api_operation_as_the_web_form_does(app: Flask) -> None:
    user = create_user("caseworker")
    person = Actor(f"user:{user['username']}", user["agency"], "caseworker")
    document = adult()
    signature = hosted.sign_for_user(person, "POST", FORMS, document)
    written = service.submit(person, document, signature, RequestFacts("POST", FORMS, str(uuid.uuid4())))
    assert (written.kind, written.created, written.status) == ("form", True, "active")
    assert (last_event().actor, last_event().resource) == (person.subject, written.resource)


def test_the_facts_are_what_the_signature_is_checked_against(app: Flask) -> None:
    actor, private = system()
    body, signature, _ = signed_write(private, adult(), "POST", FORMS)
    with pytest.raises(BadSignature) as refused:
        service.submit(actor, body, signature, RequestFacts("POST", "/api/v1/referrals", str(uuid.uuid4())))
    assert refused.value.reason == "signature_htu_mismatch"


def test_an_amendment_and_a_withdrawal_are_changes_not_creations(app: Flask) -> None:
    actor, private = system()
    form_id = submitted(actor, private).id
    path = f"{FORMS}/{form_id}"
    body, signature, facts = signed_write(private, adult(), "PUT", path)
    amended = service.update(actor, form_id, body, signature, '"1"', facts)
    assert (amended.kind, amended.id, amended.created, amended.revision) == ("form", form_id, False, 2)
    assert amended.body["version"] == 2 and receipt_claims(amended.receipt)["version"] == 2
    withdrawal = {"withdrawn_at": "2026-11-25T10:00:00+03:00", "recorded_by": "caseworker"}
    body, signature, facts = signed_write(private, withdrawal, "POST", f"{path}/consent-withdrawal")
    withdrawn = decisions.withdraw_consent(actor, form_id, body, signature, facts)
    assert (withdrawn.created, withdrawn.revision, withdrawn.status) == (False, 3, "consent_withdrawn")
