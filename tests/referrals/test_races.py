"""Races through the real app and database: one key, one referral; one ETag, one transition."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import func, select

from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from nrm_api.extensions import db
from nrm_api.referrals.models import Referral, ReferralEvent
from tests.conftest import bearer, client_token, create_agency, create_client
from tests.forms.helpers import adult

PARALLEL_POSTS = 100


def _together(count: int, call: Callable[[], tuple[int, str | None]]) -> list[tuple[int, str | None]]:
    """Run ``call`` on ``count`` threads released at once; their answers."""
    answers: list[tuple[int, str | None]] = []
    start = threading.Barrier(count)

    def run() -> None:
        start.wait()
        answers.append(call())

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


@dataclass
class Parties:
    """An NGO's system with a submitted form, and the Ministry's system."""

    ngo_headers: dict[str, str]
    ngo_key: dict[str, str]
    form_id: str
    moi: str
    moi_headers: dict[str, str]
    moi_key: dict[str, str]


def _setup(app: Flask) -> Parties:
    with app.app_context():
        ngo, moi = create_agency(), create_agency(kind="authority")
        ngo_client, ngo_key = create_client(ngo)
        moi_client, moi_key = create_client(moi)
    http = app.test_client()
    ngo_headers = bearer(client_token(http, ngo_client, ngo_key))
    payload = canonical(adult())
    form = http.post("/api/v1/forms", data=payload, content_type="application/json",
                     headers={**ngo_headers,
                              "X-JWS-Signature": sign_detached(payload, ngo_key, "POST", "/api/v1/forms"),
                              "Idempotency-Key": str(uuid.uuid4())}).get_json()
    return Parties(ngo_headers, ngo_key, form["id"], moi, bearer(client_token(http, moi_client, moi_key)), moi_key)


def test_a_hundred_parallel_posts_with_one_key_make_one_referral(session_app: Flask) -> None:
    parties = _setup(session_app)
    form_id = parties.form_id
    payload = canonical({"form_id": form_id, "to_agency": parties.moi, "purpose": "identification"})
    headers = {**parties.ngo_headers,
               "X-JWS-Signature": sign_detached(payload, parties.ngo_key, "POST", "/api/v1/referrals"),
               "Idempotency-Key": str(uuid.uuid4())}

    def post() -> tuple[int, str | None]:
        response = session_app.test_client().post("/api/v1/referrals", data=payload,
                                                  content_type="application/json", headers=headers)
        return response.status_code, (response.get_json() or {}).get("id")

    answers = _together(PARALLEL_POSTS, post)
    with session_app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Referral).where(Referral.form_id == form_id))
        db.session.close()
    assert count == 1
    assert len({referral_id for status, referral_id in answers if status == 201}) == 1
    assert all(status in (201, 409) for status, _ in answers), sorted({status for status, _ in answers})


def test_two_transitions_with_one_etag_exactly_one_wins(session_app: Flask) -> None:
    parties = _setup(session_app)
    payload = canonical({"form_id": parties.form_id, "to_agency": parties.moi, "purpose": "identification"})
    created = session_app.test_client().post(
        "/api/v1/referrals", data=payload, content_type="application/json",
        headers={**parties.ngo_headers,
                 "X-JWS-Signature": sign_detached(payload, parties.ngo_key, "POST", "/api/v1/referrals"),
                 "Idempotency-Key": str(uuid.uuid4())})
    referral_id, etag = created.get_json()["id"], created.headers["ETag"]
    bodies = [canonical({"status": "accepted"}), canonical({"status": "rejected", "reason": "no capacity"})]
    path = f"/api/v1/referrals/{referral_id}/status"

    def move(body: bytes) -> Callable[[], tuple[int, str | None]]:
        def call() -> tuple[int, str | None]:
            response = session_app.test_client().post(
                path, data=body, content_type="application/json",
                headers={**parties.moi_headers,
                         "X-JWS-Signature": sign_detached(body, parties.moi_key, "POST", path),
                         "If-Match": etag})
            return response.status_code, (response.get_json() or {}).get("status")
        return call

    calls = iter([move(body) for body in bodies])
    lock = threading.Lock()

    def next_call() -> tuple[int, str | None]:
        with lock:
            call = next(calls)
        return call()

    answers = _together(2, next_call)
    assert sorted(status for status, _ in answers) == [200, 412]
    with session_app.app_context():
        events = db.session.scalars(select(ReferralEvent.status).where(ReferralEvent.referral_id == referral_id)
                                    .order_by(ReferralEvent.sequence)).all()
        final = db.session.get(Referral, referral_id)
        assert final is not None and final.revision == 2
        db.session.close()
    winner = next(status for code, status in answers if code == 200)
    assert list(events) == ["requested", winner]

