"""``@page`` on pages of its own: roles and permissions, refusals as audited pages, and the idle rescue.

The pages here are a test Blueprint's, with the web Blueprint's own hooks, on an app of this module
(a Blueprint cannot join an app that has served a request), inside a rolled-back transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Blueprint, Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.datastructures import MultiDict

from nrm_api import create_app
from nrm_api.accounts.models import WebSession
from nrm_api.audit.actor import Actor
from nrm_api.database import utcnow
from nrm_api.errors import InvalidError, NotFoundError
from nrm_api.extensions import db
from nrm_api.permissions import Permission
from nrm_api.web import frame
from nrm_api.web.guard import current_actor, page
from nrm_api.web.replies import render, see_other
from tests.conftest import audit_events, create_user, dispose, rolled_back, settings
from tests.web.test_bola import _csrf, sign_in

RESCUED: list[tuple[str, dict[str, list[str]], dict[str, Any]]] = []
probe = Blueprint("probe", __name__)
probe.before_request(frame._before)
probe.after_request(frame._after)


def _rescue(actor: Actor, form: MultiDict[str, str], **view_args: Any) -> None:
    if form.get("fail"):
        raise InvalidError("cannot keep this", reason="draft_unsaved", resource=f"draft:{view_args['item']}")
    RESCUED.append((actor.subject, form.to_dict(flat=False), view_args))


@probe.route("/probe/casework/<item>", methods=["GET", "POST"])
@page(Permission.FORM_READ, roles={"caseworker", "supervisor"}, rescue=_rescue)
def casework(item: str) -> Any:
    if item == "hidden":
        raise NotFoundError("no such item", resource=f"item:{item}")
    if item == "whoami":
        return current_actor().subject
    return see_other("/account")


@probe.route("/probe/audit")
@page(Permission.AUDIT_READ)
def auditing() -> Any:
    return render("error.html", title="t", text="x", status_code=200)


@pytest.fixture(scope="module")
def probe_app(database_url: str, keyring_path: Path) -> Iterator[Flask]:
    app = create_app(settings(database_url, keyring_path))
    app.register_blueprint(probe)
    app.extensions["nrm_page_blueprints"].add("probe")
    yield app
    dispose(app)


@pytest.fixture
def papp(probe_app: Flask) -> Iterator[Flask]:
    with rolled_back(probe_app) as bound:
        yield bound


def _browser(app: Flask, role: str) -> tuple[FlaskClient, dict[str, Any]]:
    user = create_user(role, totp=True)
    return sign_in(app, user), user


def _idle(minutes: int = 16) -> None:
    db.session.execute(update(WebSession).values(last_seen_at=utcnow() - timedelta(minutes=minutes)))
    db.session.commit()


def test_a_page_for_caseworkers_is_403_for_an_auditor_audited(papp: Flask) -> None:
    browser, user = _browser(papp, "auditor")
    answer = browser.get("/probe/casework/one")
    assert answer.status_code == 403 and "<h1>" in answer.get_data(as_text=True)
    assert "unsafe-inline" not in answer.headers["Content-Security-Policy"]
    refused = audit_events(actor=f"user:{user['username']}", outcome="denied")
    assert [(e.action, e.reason, e.resource) for e in refused] == [
        ("form:read", "role_forbidden", "path:/probe/casework/one")]


def test_a_permission_the_role_lacks_is_403(papp: Flask) -> None:
    browser, _ = _browser(papp, "caseworker")
    assert browser.get("/probe/audit").status_code == 403
    auditor, _ = _browser(papp, "auditor")
    assert auditor.get("/probe/audit").status_code == 200


def test_a_record_the_caller_may_not_see_is_a_404_page_audited(papp: Flask) -> None:
    browser, user = _browser(papp, "caseworker")
    answer = browser.get("/probe/casework/hidden")
    assert answer.status_code == 404 and "<!doctype html>" in answer.get_data(as_text=True)
    assert [(e.reason, e.resource) for e in audit_events(actor=f"user:{user['username']}", outcome="denied")] == [
        ("not_found", "item:hidden")]


def test_current_actor_is_the_signed_in_person_with_the_request_id(papp: Flask) -> None:
    browser, user = _browser(papp, "supervisor")
    answer = browser.get("/probe/casework/whoami")
    assert answer.get_data(as_text=True) == f"user:{user['username']}"


def test_a_signed_out_visit_goes_to_login_and_is_audited(papp: Flask) -> None:
    answer = papp.test_client().get("/probe/casework/one?tab=2")
    assert answer.status_code == 303 and answer.headers["Location"] == "/login?next=/probe/casework/one?tab%3D2"
    assert [e.reason for e in audit_events(action="request:authenticate")] == ["signed_out"]


def test_a_post_after_the_idle_limit_is_rescued_then_sign_in_is_asked(papp: Flask) -> None:
    RESCUED.clear()
    browser, user = _browser(papp, "caseworker")
    token = _csrf(browser.get("/account"))
    _idle()
    answer = browser.post("/probe/casework/d-1", data={"person.first_name": "Ann", "exploitation.types": ["a", "b"],
                                                        "csrf_token": token})
    assert answer.status_code == 303 and answer.headers["Location"] == "/login?next=/probe/casework/d-1"
    assert [(f"user:{user['username']}", {"person.first_name": ["Ann"], "exploitation.types": ["a", "b"]},
                        {"item": "d-1"})] == RESCUED
    notice = browser.get("/login?lang=en").get_data(as_text=True)
    assert "saved as a draft" in notice
    assert browser.get("/account").status_code == 303  # the session ended for good
    assert audit_events(actor=f"user:{user['username']}", reason="session_idle")


def test_a_rescue_that_fails_is_audited_and_said(papp: Flask) -> None:
    browser, user = _browser(papp, "caseworker")
    token = _csrf(browser.get("/account"))
    _idle()
    answer = browser.post("/probe/casework/d-2", data={"fail": "1", "csrf_token": token})
    assert answer.status_code == 303
    assert "could not be saved" in browser.get("/login?lang=en").get_data(as_text=True)
    assert audit_events(actor=f"user:{user['username']}", reason="draft_unsaved")


def test_an_idle_post_without_its_csrf_token_rescues_nothing(papp: Flask) -> None:
    RESCUED.clear()
    browser, _ = _browser(papp, "caseworker")
    _idle()
    assert browser.post("/probe/casework/d-3", data={"person.first_name": "Ann"}).status_code == 400
    assert RESCUED == []
