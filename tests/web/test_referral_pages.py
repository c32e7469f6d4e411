"""The referral pages over real HTTP: refer, accept, move on with a reason, the inbox's order, and more.

A third agency gets 404, the history's check marks follow the stored signatures, and canaries come
back escaped.

Each test signs people in through /login on a served instance (tests/web/conftest.py); the writes go
through the pages, signed with the agency's hosted key, to the service functions of the API.
"""

from __future__ import annotations

import re

from markupsafe import escape

from tests.web.referral_network import network
from tests.web.support import Answer, Http, WebServer

SCRIPT = "<script>alert('nrm')</script>"
IMG = '"><img src=x onerror=alert(1)>'
REFERRAL_LINK = re.compile(r'href="/referrals/([0-9a-f-]{36})"')
STATUS_BUTTON = re.compile(r'<button[^>]*name="status" value="([a-z-]+)"')


def signed_in(web: WebServer, user: dict[str, object]) -> Http:
    http = Http(web.base)
    assert http.sign_in(user).status == 303
    return http


def refer_through_the_page(http: Http, form_id: str, data: dict[str, object]) -> str:
    """Send the refer form as drawn for ``data``'s purpose and services; the referral's id."""
    query = "&".join([f"purpose={data['purpose']}", *(f"services={code}" for code in data.get("services", []))])
    page = http.get(f"/forms/{form_id}/refer?{query}")
    assert page.status == 200, page.text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page.text)
    assert key is not None
    answer = http.post(f"/forms/{form_id}/refer", [("csrf_token", page.csrf()), ("idempotency_key", key.group(1)),
                                                   *_pairs(data)])
    assert answer.status == 303, answer.text
    assert answer.location is not None
    return answer.location.rsplit("/", 1)[-1]


def _pairs(data: dict[str, object]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in data.items():
        pairs += [(name, str(item)) for item in value] if isinstance(value, list) else [(name, str(value))]
    return pairs


def move(http: Http, referral_id: str, status: str, reason: str = "") -> Answer:
    page = http.get(f"/referrals/{referral_id}")
    revision = re.search(r'name="revision" value="(\d+)"', page.text)
    assert revision is not None, page.text
    return http.post(f"/referrals/{referral_id}", {"csrf_token": page.csrf(), "revision": revision.group(1),
                                                   "status": status, "reason": reason})


def test_refer_accept_and_move_on_with_a_reason(web: WebServer) -> None:
    net = network(web)
    form_id = net.form()
    ngo = signed_in(web, net.ngo_caseworker)
    chooser = ngo.get(f"/forms/{form_id}/refer?purpose=identification")
    assert chooser.status == 200 and f'value="{net.moi}"' in chooser.text
    assert f'value="{net.shelter}"' not in chooser.text  # only an authority identifies
    assert "consent covers this referral" in chooser.text
    referral_id = refer_through_the_page(ngo, form_id, {"purpose": "identification", "to_agency": net.moi,
                                                        "priority": "urgent", "note": "Call before visiting."})
    moi = signed_in(web, net.moi_caseworker)
    inbox = moi.get("/inbox")
    assert inbox.status == 200 and REFERRAL_LINK.findall(inbox.text) == [referral_id]
    assert inbox.headers["Cache-Control"] == "no-store"
    page = moi.get(f"/referrals/{referral_id}")
    assert STATUS_BUTTON.findall(page.text) == ["received", "accepted", "rejected"]
    assert "Call before visiting." in page.text
    refused = move(moi, referral_id, "rejected")
    assert refused.status == 422
    assert 'id="error-summary"' in refused.text and 'href="#reason"' in refused.text
    accepted = move(moi, referral_id, "accepted")
    assert accepted.status == 303 and str(accepted.location).endswith(f"/referrals/{referral_id}")
    assert STATUS_BUTTON.findall(moi.get(f"/referrals/{referral_id}").text) == ["in-progress"]
    assert move(moi, referral_id, "in-progress").status == 303
    assert move(moi, referral_id, "on-hold", "Waiting for an interpreter").status == 303
    shown = ngo.get(f"/referrals/{referral_id}").text
    assert "Waiting for an interpreter" in shown and STATUS_BUTTON.findall(shown) == ["cancelled"]
    assert ngo.get("/sent?status=on-hold").text.count(f"/referrals/{referral_id}") == 1
    assert REFERRAL_LINK.findall(ngo.get("/sent?status=completed").text) == []
    # each write is an audit event naming the person who made it
    events = web.events(resource=f"referral:{referral_id}", action="referral:update", outcome="allowed")
    assert [event["reason"] for event in events] == ["status:accepted", "status:in-progress", "status:on-hold"]
    assert {event["actor"] for event in events} == {f"user:{net.moi_caseworker['username']}"}
    created = web.events(resource=f"referral:{referral_id}", action="referral:create", outcome="allowed")
    assert [event["actor"] for event in created] == [f"user:{net.ngo_caseworker['username']}"]


def test_the_inbox_lists_the_overdue_first_and_marks_them(web: WebServer) -> None:
    net = network(web)
    urgent = net.referral(net.form(), net.moi, priority="urgent")
    normal = net.referral(net.form(), net.moi, priority="normal")
    net.overdue(normal)
    moi = signed_in(web, net.moi_caseworker)
    page = moi.get("/inbox").text
    assert REFERRAL_LINK.findall(page) == [normal, urgent]
    rows = page.split("<tr")[2:]
    assert 'class="overdue"' in rows[0] and "Overdue" in rows[0] and "Overdue" not in rows[1]
    assert REFERRAL_LINK.findall(moi.get("/inbox?status=accepted").text) == []
    assert REFERRAL_LINK.findall(moi.get("/inbox?status=requested").text) == [normal, urgent]


def test_a_referral_is_not_found_by_a_third_agency(web: WebServer) -> None:
    net = network(web)
    form_id = net.form()
    referral_id = net.referral(form_id, net.moi)
    stranger = signed_in(web, net.stranger_caseworker)
    assert stranger.get(f"/referrals/{referral_id}").status == 404
    assert stranger.get(f"/forms/{form_id}/refer").status == 404
    token = stranger.get("/inbox").csrf()
    assert stranger.post(f"/referrals/{referral_id}", {"csrf_token": token, "status": "cancelled",
                                                        "reason": "x", "revision": "1"}).status == 404
    assert REFERRAL_LINK.findall(stranger.get("/inbox").text) == []
    with web.with_app():
        from nrm_api.extensions import db
        from nrm_api.referrals.models import Referral

        assert db.session.get(Referral, referral_id).status == "requested"  # type: ignore[union-attr]


def test_the_history_marks_only_the_signatures_that_verify(web: WebServer) -> None:
    net = network(web)
    form_id = net.form()
    ngo = signed_in(web, net.ngo_caseworker)
    referral_id = refer_through_the_page(ngo, form_id, {"purpose": "identification", "to_agency": net.moi})
    moi = signed_in(web, net.moi_caseworker)
    assert move(moi, referral_id, "received").status == 303
    page = ngo.get(f"/referrals/{referral_id}").text
    assert page.count('class="check"') == 2 and "does not verify" not in page
    for person in (net.ngo_caseworker, net.moi_caseworker):
        assert f"Signed by {person['username']}" in page
    net.tamper(referral_id, 2)
    page = ngo.get(f"/referrals/{referral_id}").text
    assert page.count('class="check"') == 1 and page.count("Signature does not verify") == 1


def test_canaries_in_a_note_and_a_reason_come_back_escaped(web: WebServer) -> None:
    net = network(web)
    ngo = signed_in(web, net.ngo_caseworker)
    referral_id = refer_through_the_page(ngo, net.form(), {"purpose": "identification", "to_agency": net.moi,
                                                           "note": SCRIPT + IMG})
    moi = signed_in(web, net.moi_caseworker)
    for page in (moi.get("/inbox").text, moi.get(f"/referrals/{referral_id}").text):
        assert SCRIPT not in page and IMG not in page
    assert str(escape(SCRIPT + IMG)) in moi.get(f"/referrals/{referral_id}").text
    assert move(moi, referral_id, "rejected", IMG + SCRIPT).status == 303
    page = ngo.get(f"/referrals/{referral_id}").text
    assert SCRIPT not in page and IMG not in page
    assert str(escape(SCRIPT + IMG)) in page and str(escape(IMG + SCRIPT)) in page


def test_the_directory_filters_by_service_and_region(web: WebServer) -> None:
    net = network(web)
    http = signed_in(web, net.ngo_caseworker)
    everyone = http.get("/directory")
    assert everyone.status == 200 and f"Agency {net.shelter}" in everyone.text and f"Agency {net.moi}" in everyone.text
    beds = http.get("/directory?service=accommodation&region=MinskCity").text
    assert "3 of 10" in beds
    assert "3 of 10" not in http.get("/directory?service=accommodation&region=Brest").text
