"""The identification form's pages over real HTTP: step by step into a draft, check, submit, read, decide, withdraw."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from nrm_api.accounts.hosted import sign_for_user
from nrm_api.accounts.models import WebSession
from nrm_api.audit.actor import Actor
from nrm_api.database import utcnow
from nrm_api.extensions import db
from nrm_api.referrals import service as referrals
from nrm_api.web.form_definition import STEPS
from nrm_api.writes import RequestFacts
from tests.web.support import Answer, Http, WebServer

SCRIPT = "<script>alert('nrm')</script>"
IMAGE = '"><img src=x onerror=alert(1)>'
DRAFT = re.compile(r"^/drafts/([0-9a-f-]{36})/consent$")
FORM = re.compile(r"^/forms/([0-9a-f-]{36})$")

#: What each step posts for an adult who consented to everything (one value per checked box).
STEP_DATA: dict[str, list[tuple[str, str]]] = {
    "consent": [("consent.purposes.identification", "true"), ("consent.purposes.assistance", "true"),
                ("consent.purposes.data_sharing", "true"), ("consent.purposes.statistics", "true"),
                ("consent.recipients", "kind:authority"), ("consent.recipients", "kind:international"),
                ("consent.recipients", "kind:ngo"), ("consent.obtained_at", "2026-11-20T10:00"),
                ("consent.obtained_by", "caseworker"), ("consent.method", "written"), ("consent.language", "ru"),
                ("consent.checklist.told_purpose", "true"), ("consent.checklist.told_withdrawal", "true")],
    "screening": [("screening.detected_by", "NGO"), ("screening.detected_on", "2026-11-20"),
                  ("screening.place", "Gomel")],
    "person": [("person.first_name", "Ivan"), ("person.second_name", "Petrov"),
               ("person.first_name_cyrillic", "Иван"), ("person.birthdate", "1998-07-14"),
               ("person.gender", "Masculine"), ("person.citizenship", "BY")],
    "child": [],
    "exploitation": [("exploitation.types_of_exploitation", "ForcedLabour"),
                     ("exploitation.types_of_exploitation", "ForcedCriminality"),
                     ("exploitation.locations.0.type", "Recruitment"), ("exploitation.locations.0.country", "BY"),
                     ("exploitation.locations.0.oblast", "Gomel")],
    "account": [("account.narrative", "Recruited through an online advert for construction work.")],
    "perpetrators": [("perpetrators.0.role", "RecruiterOrIntermediary"), ("perpetrators.0.approximate_age", "40")],
    "statistics": [("statistics.age_band", "27--29"), ("statistics.sex", "Masculine"),
                   ("statistics.citizenship", "BY"), ("statistics.year", "2026")],
}


def _post_step(http: Http, draft: str, step: str, data: list[tuple[str, str]], action: str = "continue") -> Answer:
    path = f"/drafts/{draft}/{step}"
    return http.post(path, [*data, ("action", action), ("csrf_token", http.get(path).csrf())])


def new_draft(http: Http) -> str:
    """Start a form through /forms/new; the new draft's id."""
    answer = http.get("/forms/new")
    assert answer.status == 303, answer.status
    match = DRAFT.match(answer.location or "")
    assert match, answer.location
    return match[1]


def fill_and_submit(http: Http, steps: dict[str, list[tuple[str, str]]] | None = None) -> str:
    """Fill every step of a new form and submit it; the form's id."""
    draft = new_draft(http)
    for step in STEPS:
        answer = _post_step(http, draft, step, (steps or STEP_DATA)[step])
        assert answer.status == 303, (step, answer.status, _summary(answer))
    check = http.get(f"/drafts/{draft}/check")
    submitted = http.post(f"/drafts/{draft}/check", {"action": "submit", "csrf_token": check.csrf()})
    assert submitted.status == 303, (submitted.status, _summary(submitted))
    match = FORM.match(submitted.location or "")
    assert match, submitted.location
    return match[1]


def _summary(answer: Answer) -> str:
    found = re.search(r'<div id="error-summary".*?</div>', answer.text, re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", found[0])) if found else ""


@pytest.fixture
def caseworker(web: WebServer, http: Http) -> dict[str, Any]:
    user = web.add_user("caseworker", kind="ngo")
    assert http.sign_in(user).status == 303
    return user


def test_each_step_is_saved_as_a_draft_and_a_step_left_and_come_back_to_shows_what_was_typed(
        web: WebServer, http: Http, caseworker: dict[str, Any]) -> None:
    draft = new_draft(http)
    first = http.get(f"/drafts/{draft}/consent")
    assert first.status == 200 and first.headers["Cache-Control"] == "no-store"
    assert 'name="consent.purposes.identification" value="true"' in first.text
    assert 'name="action" value="continue"' in first.text
    assert 'name="person.first_name"' not in first.text  # consent comes before anything identifying
    saved = _post_step(http, draft, "consent", STEP_DATA["consent"])
    assert saved.status == 303 and saved.location == f"/drafts/{draft}/screening"
    assert _post_step(http, draft, "person", STEP_DATA["person"]).status == 303
    again = http.get(f"/drafts/{draft}/person")
    assert 'value="Ivan"' in again.text and 'value="1998-07-14"' in again.text
    assert re.search(r'<option value="Masculine"\s+selected', again.text)
    back = http.get(f"/drafts/{draft}/consent")
    assert re.search(r'name="consent.purposes.identification" value="true"\s+checked', back.text)
    assert 'value="2026-11-20T10:00"' in back.text and 'value="kind:international"' in back.text
    forms = http.get("/forms")
    assert forms.status == 200 and f"/drafts/{draft}/consent" in forms.text
    assert "Ivan" not in forms.text  # a list shows no identifying field
    updates = web.events(actor=f"user:{caseworker['username']}", action="form:update", resource=f"draft:{draft}")
    assert len(updates) == 2


def test_a_refused_step_is_422_with_an_error_summary_linking_to_each_field_and_keeps_what_was_typed(
        web: WebServer, http: Http, caseworker: dict[str, Any]) -> None:
    draft = new_draft(http)
    answer = _post_step(http, draft, "person", [("person.first_name", "Ivan"), ("person.number_of_children", "two"),
                                                ("person.citizenship", "Belarus")])
    assert answer.status == 422
    assert '<div id="error-summary"' in answer.text and 'role="alert"' in answer.text
    assert 'href="#person-number_of_children"' in answer.text and 'id="person-number_of_children"' in answer.text
    assert 'href="#person-citizenship"' in answer.text and 'id="person-citizenship"' in answer.text
    assert "Enter a whole number." in answer.text
    assert 'value="two"' in answer.text and 'value="Ivan"' in answer.text
    kept = http.get(f"/drafts/{draft}/person")
    assert 'value="Ivan"' not in kept.text  # a refused step changes nothing in the draft
    refusals = web.events(actor=f"user:{caseworker['username']}", outcome="denied", action="form:update")
    assert len(refusals) == 1, refusals  # audited, through the door's one boundary


def test_submit_signs_with_the_agency_key_and_the_form_shows_every_field_to_its_author(
        web: WebServer, http: Http, caseworker: dict[str, Any]) -> None:
    form_id = fill_and_submit(http)
    page = http.get(f"/forms/{form_id}")
    assert page.status == 200 and page.headers["Cache-Control"] == "no-store"
    for shown in ("Ivan", "Petrov", "Иван", "Forced criminality", "Recruiter or intermediary", "Gomel region"):
        assert shown in page.text, shown
    assert "Withheld" not in page.text
    created = web.events(actor=f"user:{caseworker['username']}", action="form:create", resource=f"form:{form_id}")
    assert [e["outcome"] for e in created] == ["allowed"]
    assert http.get(f"/forms/{form_id}").status == 200
    assert http.get(f"/drafts/{form_id}/consent").status == 404  # a form's id is no draft's


def test_a_second_form_about_the_same_person_names_the_first_as_a_possible_duplicate(
        web: WebServer, http: Http, caseworker: dict[str, Any]) -> None:
    first = fill_and_submit(http)
    second = fill_and_submit(http)
    page = http.get(f"/forms/{second}")
    assert "Possible duplicates" in page.text and f"/forms/{first}" in page.text
    assert "Possible duplicates" not in http.get(f"/forms/{second}").text  # said once, after the submission


def _refer(web: WebServer, user: dict[str, Any], form_id: str, to: str, purpose: str, services: list[str]) -> None:
    body = {"form_id": form_id, "to_agency": to, "purpose": purpose, "services": services}
    actor = Actor(f"user:{user['username']}", agency=user["agency"], role="caseworker")
    facts = RequestFacts("POST", "/api/v1/referrals", f"test-{form_id}-{to}")
    with web.with_app():
        referrals.create(actor, body, sign_for_user(actor, facts.method, facts.path, body), facts)


def test_another_kind_of_agency_sees_the_withheld_fields_named_never_shown(
        web: WebServer, http: Http, caseworker: dict[str, Any]) -> None:
    form_id = fill_and_submit(http)
    iom = web.add_user("caseworker", kind="international")
    _refer(web, caseworker, form_id, iom["agency"], "assistance", ["airport_reception"])
    other = Http(web.base)
    other.sign_in(iom)
    page = other.get(f"/forms/{form_id}")
    assert page.status == 200
    assert "Withheld from your agency" in page.text
    assert "In their words" in page.text and "Perpetrators" in page.text  # named
    assert "online advert" not in page.text and "Recruiter or intermediary" not in page.text  # never shown
    assert "Ivan" in page.text  # what airport reception needs: who to meet
    assert 'value="new-version"' not in page.text and "consent-withdrawal" not in page.text
    # nor is the withdrawal's page offered by address: only the case's lead or an authority records one
    assert other.get(f"/forms/{form_id}/consent-withdrawal").status == 403
    stranger = Http(web.base)
    stranger.sign_in(web.add_user("caseworker", kind="ngo"))
    assert stranger.get(f"/forms/{form_id}").status == 404


def test_the_authority_records_its_decision_on_the_form_page(web: WebServer, http: Http,
                                                             caseworker: dict[str, Any]) -> None:
    form_id = fill_and_submit(http)
    moi = web.add_user("caseworker", kind="authority")
    _refer(web, caseworker, form_id, moi["agency"], "identification", [])
    ministry = Http(web.base)
    ministry.sign_in(moi)
    page = ministry.get(f"/forms/{form_id}")
    assert 'name="decision.trafficking_status"' in page.text and 'value="decide"' in page.text
    revision = re.search(r'name="revision" value="(\d+)"', page.text)
    assert revision
    refused = ministry.post(f"/forms/{form_id}", {"action": "decide", "revision": revision[1],
                                                  "csrf_token": page.csrf()})
    assert refused.status == 422 and 'href="#decision-trafficking_status"' in refused.text
    decided = ministry.post(f"/forms/{form_id}", {"action": "decide", "revision": revision[1],
                                                  "decision.trafficking_status": "ActualVictimOfTrafficking",
                                                  "decision.deciding_organisation_type": "Police",
                                                  "csrf_token": page.csrf()})
    assert decided.status == 303 and decided.location == f"/forms/{form_id}"
    assert "Victim of trafficking" in http.get(f"/forms/{form_id}").text  # the author sees it too
    assert 'value="decide"' not in http.get(f"/forms/{form_id}").text  # an NGO records no decision
    stale = ministry.post(f"/forms/{form_id}", {"action": "decide", "revision": revision[1],
                                                "decision.trafficking_status": "NotAVictimOfTrafficking",
                                                "csrf_token": page.csrf()})
    assert stale.status == 412


def test_consent_withdrawal_lists_what_it_ends_before_it_is_confirmed(web: WebServer, http: Http,
                                                                      caseworker: dict[str, Any]) -> None:
    form_id = fill_and_submit(http)
    iom = web.add_user("caseworker", kind="international")
    _refer(web, caseworker, form_id, iom["agency"], "assistance", ["airport_reception"])
    page = http.get(f"/forms/{form_id}/consent-withdrawal")
    assert page.status == 200 and "open referral of this form is cancelled" in page.text
    assert 'name="withdrawal.withdrawn_at"' in page.text and 'value="withdraw"' in page.text
    done = http.post(f"/forms/{form_id}/consent-withdrawal", {
        "action": "withdraw", "withdrawal.withdrawn_at": "2026-12-01T09:30", "withdrawal.recorded_by": "caseworker",
        "csrf_token": page.csrf()})
    assert done.status == 303 and done.location == f"/forms/{form_id}"
    assert "Consent withdrawn" in http.get(f"/forms/{form_id}").text
    other = Http(web.base)
    other.sign_in(iom)
    assert other.get(f"/forms/{form_id}").status == 403  # its referral ended with the consent


def test_a_new_version_starts_from_the_form_and_submits_as_its_version_2(web: WebServer, http: Http,
                                                                       caseworker: dict[str, Any]) -> None:
    form_id = fill_and_submit(http)
    page = http.get(f"/forms/{form_id}")
    started = http.post(f"/forms/{form_id}", {"action": "new-version", "csrf_token": page.csrf()})
    assert started.status == 303
    draft = DRAFT.match(started.location or "")
    assert draft
    assert 'value="Ivan"' in http.get(f"/drafts/{draft[1]}/person").text
    assert _post_step(http, draft[1], "person", [*STEP_DATA["person"][1:], ("person.first_name", "Iwan")]).status == 303
    check = http.get(f"/drafts/{draft[1]}/check")
    assert "Iwan" in check.text
    submitted = http.post(f"/drafts/{draft[1]}/check", {"action": "submit", "csrf_token": check.csrf()})
    assert submitted.status == 303 and submitted.location == f"/forms/{form_id}"
    shown = http.get(f"/forms/{form_id}").text
    assert "Iwan" in shown and re.search(r"<dt>Version</dt><dd>2</dd>", shown)


@pytest.mark.parametrize("step", ["person", "account"])
def test_canaries_typed_into_fields_come_back_escaped_on_every_page(web: WebServer, http: Http,
                                                                    caseworker: dict[str, Any], step: str) -> None:
    steps = dict(STEP_DATA)
    field = "person.mailing_address" if step == "person" else "account.needs"
    steps[step] = [*STEP_DATA[step], (field, SCRIPT + IMAGE)]
    draft = new_draft(http)
    for name in STEPS:
        assert _post_step(http, draft, name, steps[name]).status == 303
    pages = [http.get(f"/drafts/{draft}/{step}"), http.get(f"/drafts/{draft}/check")]
    wrong = ("person.number_of_children", "x") if step == "person" else ("account.health", "x" * 5001)
    refused = _post_step(http, draft, step, [*steps[step], wrong])
    assert refused.status == 422
    pages.append(refused)
    check = http.get(f"/drafts/{draft}/check")
    submitted = http.post(f"/drafts/{draft}/check", {"action": "submit", "csrf_token": check.csrf()})
    pages.append(http.get(submitted.location or "/"))
    for answer in pages:
        assert "<script>alert" not in answer.text and "<img src=x" not in answer.text
        assert "&lt;script&gt;alert" in answer.text and "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in answer.text


def test_a_step_posted_from_a_session_gone_idle_is_kept_in_the_draft(web: WebServer, http: Http,
                                                                     caseworker: dict[str, Any]) -> None:
    draft = new_draft(http)
    token = http.get(f"/drafts/{draft}/person").csrf()
    with web.with_app():  # the person left the step open for 20 minutes
        db.session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=20)))
        db.session.commit()
    typed = [("person.first_name", "Ivan"), ("person.number_of_children", "two"), ("action", "continue")]
    answer = http.post(f"/drafts/{draft}/person", [*typed, ("csrf_token", token)])
    assert answer.status == 303 and (answer.location or "").startswith("/login")
    assert http.get(f"/drafts/{draft}/person").status == 303  # signed out now
    colleague = web.add_user("caseworker", agency=caseworker["agency"])  # the person's code was used up this minute
    assert http.sign_in(colleague).status == 303
    again = http.get(f"/drafts/{draft}/person")
    assert 'value="Ivan"' in again.text  # kept; the one value the form refuses was left out
    assert 'value="two"' not in again.text


def test_submitting_an_incomplete_form_is_422_and_the_summary_links_to_the_answers_to_change(
        web: WebServer, http: Http, caseworker: dict[str, Any]) -> None:
    draft = new_draft(http)
    assert _post_step(http, draft, "consent", STEP_DATA["consent"]).status == 303
    check = http.get(f"/drafts/{draft}/check")
    refused = http.post(f"/drafts/{draft}/check", {"action": "submit", "csrf_token": check.csrf()})
    assert refused.status == 422 and '<div id="error-summary"' in refused.text
    for missing in ("exploitation", "screening", "statistics"):
        assert f'href="#{missing}"' in refused.text and f'id="{missing}"' in refused.text
        assert f'href="/drafts/{draft}/{missing}#{missing}"' in refused.text  # its change link
    assert http.get(f"/drafts/{draft}/check").status == 200  # the draft is still there
    assert web.events(actor=f"user:{caseworker['username']}", action="form:create", outcome="denied")
