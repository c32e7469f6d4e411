"""Many simultaneous POSTs with one Idempotency-Key: exactly one form, and every caller gets its answer."""

from __future__ import annotations

import threading
import uuid

from flask import Flask
from sqlalchemy import func, select

from nrm_api.audit.models import AuditEvent
from nrm_api.crypto.canonical import canonical
from nrm_api.crypto.jws import sign_detached
from nrm_api.extensions import db
from nrm_api.forms.models import Form
from tests.conftest import bearer, create_agency, create_client
from tests.forms.helpers import adult

PARALLEL = 20


def test_parallel_posts_with_one_key_make_one_form(session_app: Flask) -> None:
    from tests.conftest import client_token

    with session_app.app_context():
        agency_id = create_agency()
        client_id, private = create_client(agency_id)
    token = client_token(session_app.test_client(), client_id, private)
    payload = canonical(adult())
    headers = {**bearer(token), "X-JWS-Signature": sign_detached(payload, private, "POST", "/api/v1/forms"),
               "Idempotency-Key": str(uuid.uuid4())}
    answers: list[tuple[int, str | None]] = []
    start = threading.Barrier(PARALLEL)

    def post() -> None:
        http = session_app.test_client()
        start.wait()
        response = http.post("/api/v1/forms", data=payload, content_type="application/json", headers=headers)
        answers.append((response.status_code, (response.get_json() or {}).get("id")))

    threads = [threading.Thread(target=post) for _ in range(PARALLEL)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with session_app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Form).where(Form.agency_id == agency_id))
        db.session.close()
    assert count == 1
    created = {form_id for status, form_id in answers if status == 201}
    assert len(created) == 1
    assert all(status in (201, 409) for status, _ in answers)
    # every request is in the log: one creation, each other 201 a verified replay, each 409 refused
    with session_app.app_context():
        reasons = list(db.session.scalars(select(AuditEvent.reason).where(
            AuditEvent.agency == agency_id, AuditEvent.action == "form:create")))
        db.session.close()
    assert sorted(reasons, key=str) == sorted(
        [None] + ["idempotent_replay"] * (len([s for s, _ in answers if s == 201]) - 1)
        + ["idempotency_key_in_use"] * len([s for s, _ in answers if s == 409]), key=str)
