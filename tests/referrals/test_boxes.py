"""What the pages of referrals read: the boxes (most urgent first), checked histories, moves allowed now."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update

from nrm_api.agencies import directory
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.database import utcnow
from nrm_api.extensions import db
from nrm_api.referrals import preview, queries, rules
from nrm_api.referrals.models import Referral, ReferralEvent
from tests.conftest import create_agency
from tests.forms.helpers import adult
from tests.referrals.helpers import network, referred


def caseworker(agency_id: str) -> Actor:
    return Actor(subject="user:someone", agency=agency_id, role="caseworker")


def test_moves_allowed_now_are_the_tables_rows_for_that_side() -> None:
    assert [row.target for row in rules.allowed("requested", rules.RECIPIENT)] == ["received", "accepted", "rejected"]
    assert [row.target for row in rules.allowed("requested", rules.SENDER)] == ["cancelled"]
    assert [row.target for row in rules.allowed("in-progress", rules.RECIPIENT)] == ["on-hold", "completed", "failed"]
    assert rules.allowed("completed", rules.RECIPIENT) == [] == rules.allowed("completed", rules.SENDER)
    moves = rules.allowed("in-progress", rules.RECIPIENT)
    assert all(row.reason_required for row in moves if row.target != "completed")


def test_the_inbox_puts_the_overdue_first_and_marks_them(client: FlaskClient) -> None:
    net = network(client)
    first = net.ngo.sdk.submit_form(adult())["id"]
    second = net.ngo.sdk.submit_form(adult())["id"]
    normal = net.ngo.sdk.refer(first, net.moi.id, "identification", priority="normal")["id"]
    urgent = net.ngo.sdk.refer(second, net.moi.id, "identification", priority="urgent")["id"]
    done = net.ngo.sdk.refer(first, net.iom.id, "assistance", services=["healthcare"], priority="emergency")["id"]
    for status in ("accepted", "in-progress", "completed"):
        net.iom.sdk.set_status(done, status)
    # the normal one was sent long ago: it is past its fortnight now
    db.session.execute(update(Referral).where(Referral.id == normal).values(due_at=utcnow() - timedelta(hours=1)))
    db.session.commit()
    inbox = queries.box(caseworker(net.moi.id), "incoming")
    assert [(item["id"], item["overdue"]) for item in inbox] == [(normal, True), (urgent, False)]
    sent = queries.box(caseworker(net.ngo.id), "outgoing")
    assert [item["id"] for item in sent] == [normal, urgent, done] and not sent[2]["overdue"]
    assert [item["id"] for item in queries.box(caseworker(net.ngo.id), "outgoing", "completed")] == [done]
    assert queries.box(caseworker(net.stranger.id), "incoming") == []


def test_a_checked_history_marks_only_the_signatures_that_verify(client: FlaskClient) -> None:
    net = network(client)
    _, referral_id = referred(net)
    net.moi.sdk.set_status(referral_id, "received")
    checked = queries.checked_history(caseworker(net.ngo.id), referral_id)["events"]
    assert [event["verified"] for event in checked] == [True, True]
    stored = db.session.scalar(select(ReferralEvent).where(ReferralEvent.referral_id == referral_id,
                                                           ReferralEvent.sequence == 2))
    assert stored is not None
    head, _, signature = stored.signature.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    db.session.execute(update(ReferralEvent).where(ReferralEvent.id == stored.id)
                       .values(signature=f"{head}..{flipped}"))
    db.session.commit()
    checked = queries.checked_history(caseworker(net.ngo.id), referral_id)["events"]
    assert [event["verified"] for event in checked] == [True, False]


def test_the_directory_keeps_agencies_with_a_place_free(client: FlaskClient) -> None:
    operator = Actor.operator()
    full, free, uncounted = (create_agency(regions=("Brest",)) for _ in range(3))
    for agency_id, vacancies in ((full, 0), (free, 2)):
        directory.set_services(operator, agency_id, [{"service": "accommodation", "regions": [], "age_bands": [],
                                                      "sexes": [], "capacity": 5, "vacancies": vacancies}])
    directory.set_services(operator, uncounted, [{"service": "legal_aid", "regions": [], "age_bands": [],
                                                  "sexes": []}])
    ids = {agency_id: [entry["id"] for entry in agencies.list_agencies(operator, region="Brest", **query)]
           for agency_id, query in (("all", {}), ("vacant", {"vacant": True}),
                                    ("beds", {"service": "accommodation", "vacant": True}))}
    assert {full, free, uncounted} <= set(ids["all"])
    assert free in ids["vacant"] and uncounted in ids["vacant"] and full not in ids["vacant"]
    assert free in ids["beds"] and full not in ids["beds"] and uncounted not in ids["beds"]


def test_a_preview_says_what_consent_covers_and_what_the_recipient_would_see(client: FlaskClient) -> None:
    net = network(client)
    document = adult()
    document["consent"]["recipients"] = ["kind:authority", "kind:international"]
    form_id = net.ngo.sdk.submit_form(document)["id"]
    ngo = caseworker(net.ngo.id)
    shown = preview.offers(ngo, form_id, "assistance", ["accommodation"], [net.iom.id, net.shelter.id, net.ngo.id])
    assert set(shown) == {net.iom.id, net.shelter.id}
    assert shown[net.iom.id].consented and not shown[net.shelter.id].consented
    assert "perpetrators" in {path.split(".")[0] for path in shown[net.shelter.id].withheld}
    identification = preview.offers(ngo, form_id, "identification", [], [net.moi.id])[net.moi.id]
    assert identification.consented and identification.withheld == ()
