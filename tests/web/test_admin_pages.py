"""The agency administrator's pages in a real browser and over real HTTP: people, webhook, services."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, update

from nrm_api.agencies import directory
from nrm_api.agencies import service as agencies
from nrm_api.audit.actor import Actor
from nrm_api.crypto.passwords import totp_now
from nrm_api.extensions import db
from nrm_api.webhooks import deliver, outbox
from nrm_api.webhooks.models import WebhookDelivery
from tests.web.support import Http, WebServer, sign_in

Shot = Callable[[Any, str], Any]
Axe = Callable[[Any], list[dict[str, Any]]]


def _fresh(browser: Any, web: WebServer, javascript: bool) -> Any:
    context = browser.new_context(java_script_enabled=javascript, locale="en-GB", base_url=web.base)
    page = context.new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_an_admin_adds_a_person_who_signs_in_and_enrols_then_disables_them(
        web: WebServer, browser: Any, axe: Axe, shot: Shot, javascript: bool) -> None:
    admin = web.add_user("agency_admin")
    page = _fresh(browser, web, javascript)
    sign_in(page, admin, "/admin/users")
    assert page.url.endswith("/admin/users")
    if javascript:  # axe-core needs scripts: the JS run checks the same pages
        axe(page)
    username = f"new-{admin['username'][-8:]}-{'js' if javascript else 'nojs'}"
    page.fill("#username", username)
    page.select_option("#role", "caseworker")
    page.click("text=Add user")
    page.wait_for_selector("#new-user-password")
    assert page.url.endswith("/admin/users")
    password = page.inner_text("#new-user-password").strip()
    assert len(password) >= 20
    shot(page, "password-shown-once")
    if javascript:  # axe-core needs scripts: the JS run checks the same pages
        axe(page)
    page.reload()
    assert page.locator("#new-user-password").count() == 0 and password not in page.content()  # shown once
    assert page.locator(f"#user-{username}").count() == 1

    person = _fresh(browser, web, javascript)
    sign_in(person, {"username": username, "password": password})
    assert "/account/totp" in person.url  # a new person enrols first
    secret = person.inner_text("#totp-secret").strip().replace(" ", "")
    person.fill("#otp", totp_now(secret))
    person.click("button[type=submit]:not(.button-secondary)")
    person.wait_for_load_state("load")
    assert "/account/totp" not in person.url
    person.context.close()

    page.click(f"#user-{username} button[value=disable]")
    page.wait_for_load_state("load")
    assert "disabled" in page.inner_text(f"#user-{username}")
    again = _fresh(browser, web, javascript)
    again.goto("/login")
    again.fill("#username", username)
    again.fill("#password", password)
    again.click("button[type=submit]:not(.button-secondary)")
    again.wait_for_load_state("load")
    assert "/login" in again.url and again.locator("#error-summary").count() == 1
    again.context.close()
    created = web.events(action="user:create", resource=f"user:{username}")
    assert [e["actor"] for e in created] == [f"user:{admin['username']}"]
    assert web.events(action="user:disable", resource=f"user:{username}")
    assert password not in web.server.stderr.read_text()  # never logged
    page.context.close()


def test_reset_totp_sends_the_person_to_enrol_again(web: WebServer) -> None:
    admin = web.add_user("agency_admin")
    person = web.add_user("caseworker", agency=admin["agency"])
    http = Http(web.base)
    assert http.sign_in(admin).status == 303
    reset = http.submit(f"/admin/users/{person['username']}/totp-reset", {}, page="/admin/users")
    assert reset.status == 303 and reset.location == "/admin/users"
    again = Http(web.base)
    signed = again.sign_in({**person, "secret": None})  # the password alone now
    assert signed.status == 303 and (signed.location or "").startswith("/account/totp")
    assert web.events(action="user:totp-reset", resource=f"user:{person['username']}")


def test_an_admin_cannot_touch_another_agencys_people(web: WebServer) -> None:
    admin = web.add_user("agency_admin")
    other = web.add_user("caseworker")
    http = Http(web.base)
    http.sign_in(admin)
    token = http.get("/admin/users").csrf()
    for action in ("disable", "totp-reset"):
        answer = http.post(f"/admin/users/{other['username']}/{action}", {"csrf_token": token})
        assert answer.status == 404, action
    assert other["username"] not in http.get("/admin/users").text
    assert Http(web.base).sign_in(other).status == 303  # untouched: still signs in with their code
    listed = http.get("/admin/users")
    assert listed.status == 200 and listed.headers["Cache-Control"] == "no-store"


def test_a_refused_add_comes_back_422_with_its_error_summary(web: WebServer) -> None:
    admin = web.add_user("agency_admin")
    http = Http(web.base)
    http.sign_in(admin)
    taken = http.submit("/admin/users", {"username": admin["username"], "role": "caseworker"})
    assert taken.status == 422 and 'id="error-summary"' in taken.text and 'href="#username"' in taken.text
    assert f'value="{admin["username"]}"' in taken.text  # what was typed is kept
    auditor = http.submit("/admin/users", {"username": "would-be-auditor", "role": "auditor"})
    assert auditor.status == 422 and 'href="#role"' in auditor.text


def test_an_admin_retries_a_dead_delivery(web: WebServer, browser: Any, axe: Axe, shot: Shot) -> None:
    admin = web.add_user("agency_admin")
    page = _fresh(browser, web, True)
    sign_in(page, admin, "/admin/webhook")
    page.fill("#url", "https://hooks.example.org/nrm")
    page.click("text=Save address")
    page.wait_for_load_state("load")
    assert page.inner_text("#webhook-url") == "https://hooks.example.org/nrm"
    with web.with_app():
        entry = outbox.emit([admin["agency"]], "referral.requested", "referral:web-test", "requested")[0]
        db.session.commit()
        db.session.execute(update(WebhookDelivery).where(WebhookDelivery.event_id == entry.id)
                           .values(state="dead", attempts=len(deliver.BACKOFF) + 1))
        db.session.commit()
        delivery = db.session.scalar(select(WebhookDelivery.id).where(WebhookDelivery.event_id == entry.id))
    page.goto("/admin/webhook?state=dead")
    axe(page)
    shot(page, "dead-delivery")
    page.click(f"#delivery-{delivery} button")
    page.wait_for_load_state("load")
    with web.with_app():
        row = db.session.get(WebhookDelivery, delivery)
        assert row is not None and row.state != "dead"
    assert web.events(action="webhook:manage", resource=f"webhook-delivery:{delivery}", reason="retry")
    other = web.add_user("agency_admin")
    http = Http(web.base)
    http.sign_in(other)
    token = http.get("/admin/webhook").csrf()
    assert http.post(f"/admin/webhook/deliveries/{delivery}/retry", {"csrf_token": token}).status == 404
    page.context.close()


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "nojs"])
def test_changed_vacancies_show_in_the_directory(web: WebServer, browser: Any, axe: Axe, shot: Shot,
                                                 javascript: bool) -> None:
    admin = web.add_user("agency_admin")
    with web.with_app():
        directory.set_services(Actor("cli:test", role="operator"), admin["agency"], [
            {"service": "accommodation", "regions": [], "age_bands": [], "sexes": [], "capacity": 10, "vacancies": 2}])
    page = _fresh(browser, web, javascript)
    sign_in(page, admin, "/admin/services")
    if javascript:  # axe-core needs scripts: the JS run checks the same pages
        axe(page)
    page.fill("#accommodation-vacancies", "11")
    page.click("#service-accommodation button")
    page.wait_for_load_state("load")
    assert page.locator("#error-summary").count() == 1 and page.input_value("#accommodation-vacancies") == "11"
    page.fill("#accommodation-vacancies", "7")
    page.click("#service-accommodation button")
    page.wait_for_load_state("load")
    assert page.input_value("#accommodation-vacancies") == "7"
    shot(page, "services")
    with web.with_app():  # what the directory answers every agency now
        listed = agencies.list_agencies(Actor("user:reader", admin["agency"], "caseworker"), service="accommodation")
        offered = next(entry for entry in listed if entry["id"] == admin["agency"])["services"][0]
        assert (offered["capacity"], offered["vacancies"]) == (10, 7)
    assert web.events(action="agency:manage", resource=f"agency:{admin['agency']}", reason="places")
    page.context.close()
