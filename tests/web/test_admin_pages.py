"""The agency administrator's pages in a real browser and over real HTTP: people, webhook, services."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
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
    page.click("#service-accommodation button:not(.button-danger)")
    page.wait_for_load_state("load")
    assert page.locator("#error-summary").count() == 1 and page.input_value("#accommodation-vacancies") == "11"
    page.fill("#accommodation-vacancies", "7")
    page.click("#service-accommodation button:not(.button-danger)")
    page.wait_for_load_state("load")
    assert page.input_value("#accommodation-vacancies") == "7"
    shot(page, "services")
    with web.with_app():  # what the directory answers every agency now
        listed = agencies.list_agencies(Actor("user:reader", admin["agency"], "caseworker"), service="accommodation")
        offered = next(entry for entry in listed if entry["id"] == admin["agency"])["services"][0]
        assert (offered["capacity"], offered["vacancies"]) == (10, 7)
    assert web.events(action="agency:manage", resource=f"agency:{admin['agency']}", reason="places")
    page.context.close()


def _services(web: WebServer, agency: str) -> list[dict[str, Any]]:
    """The agency's services as the directory answers every agency."""
    with web.with_app():
        return list(agencies.get_agency(Actor("user:reader", agency, "caseworker"), agency)["services"])


def _offer(web: WebServer, agency: str, *services: dict[str, Any]) -> None:
    with web.with_app():
        directory.set_services(Actor("cli:test", role="operator"), agency, [
            {"regions": [], "age_bands": [], "sexes": [], **service} for service in services])


def test_an_admin_adds_a_service_changes_its_places_and_removes_it(web: WebServer, http: Http) -> None:
    admin = web.add_user("agency_admin")
    _offer(web, admin["agency"], {"service": "legal_aid", "age_bands": ["18--20"], "capacity": None, "vacancies": 3})
    http.sign_in(admin)
    before = {row["service"]: row for row in _services(web, admin["agency"])}["legal_aid"]
    added = http.submit("/admin/services/add", {"service": "accommodation", "regions": ["Minsk", "MinskCity"],
                                                "capacity": "10", "vacancies": "4"}, page="/admin/services")
    assert added.status == 303 and added.location == "/admin/services"
    offered = {row["service"]: row for row in _services(web, admin["agency"])}
    assert (offered["accommodation"]["regions"], offered["accommodation"]["capacity"],
            offered["accommodation"]["vacancies"]) == (["Minsk", "MinskCity"], 10, 4)
    assert (offered["legal_aid"]["age_bands"], offered["legal_aid"]["vacancies"]) == (["18--20"], 3)  # kept as it was
    shown = http.get("/admin/services")
    assert 'id="service-accommodation"' in shown.text and "The service is added" in shown.text
    assert '<option value="accommodation"' not in shown.text  # offered already: not offered again to add

    changed = http.submit("/admin/services", {"service": "accommodation", "accommodation.capacity": "12",
                                              "accommodation.vacancies": "0"})
    assert changed.status == 303
    assert {row["service"]: row["vacancies"] for row in _services(web, admin["agency"])}["accommodation"] == 0

    removed = http.submit("/admin/services/remove", {"service": "accommodation"}, page="/admin/services")
    assert removed.status == 303 and removed.location == "/admin/services"
    assert [row["service"] for row in _services(web, admin["agency"])] == ["legal_aid"]
    assert _services(web, admin["agency"])[0] == before  # adding and removing another left it untouched
    assert 'id="service-accommodation"' not in http.get("/admin/services").text
    changes = web.events(action="agency:manage", resource=f"agency:{admin['agency']}", reason="services")
    assert [event["actor"] for event in changes] == ["cli:test"] + [f"user:{admin['username']}"] * 2


def test_two_admins_adding_at_once_both_land(web: WebServer) -> None:
    first = web.add_user("agency_admin")
    second = web.add_user("agency_admin", agency=first["agency"])
    admins = [Http(web.base), Http(web.base)]
    for client, admin in zip(admins, (first, second), strict=True):
        client.sign_in(admin)
    tokens = [client.get("/admin/services").csrf() for client in admins]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda job: job[0].post("/admin/services/add", {
            "service": job[1], "capacity": "", "vacancies": "", "csrf_token": job[2]}),
            zip(admins, ("legal_aid", "healthcare"), tokens, strict=True)))
    assert [answer.status for answer in answers] == [303, 303]
    assert sorted(row["service"] for row in _services(web, first["agency"])) == ["healthcare", "legal_aid"]


@pytest.mark.parametrize(("typed", "field"), [
    ({"service": "accommodation", "capacity": "3", "vacancies": "5"}, "vacancies"),
    ({"service": "accommodation", "capacity": "-1", "vacancies": ""}, "capacity"),
    ({"service": "accommodation", "capacity": "100001", "vacancies": ""}, "capacity"),
    ({"service": "accommodation", "capacity": "ten", "vacancies": ""}, "capacity"),
    ({"service": "teleportation", "capacity": "", "vacancies": ""}, "service"),
    ({"service": "", "capacity": "", "vacancies": ""}, "service"),
    ({"service": "accommodation", "regions": ["Atlantis"], "capacity": "", "vacancies": ""}, "regions"),
    ({"service": "legal_aid", "capacity": "", "vacancies": ""}, "service"),  # offered already
], ids=["vacancies-over-capacity", "negative", "too-many", "not-a-number", "unknown-service", "no-service",
        "unknown-region", "listed-twice"])
def test_a_refused_service_changes_nothing_and_says_why(web: WebServer, http: Http, typed: dict[str, Any],
                                                        field: str) -> None:
    admin = web.add_user("agency_admin")
    _offer(web, admin["agency"], {"service": "legal_aid", "capacity": 5, "vacancies": 1})
    before = _services(web, admin["agency"])
    http.sign_in(admin)
    refused = http.submit("/admin/services/add", typed, page="/admin/services")
    assert refused.status == 422 and 'id="error-summary"' in refused.text and f'href="#{field}"' in refused.text
    assert f'id="{field}-error"' in refused.text
    if typed["capacity"]:
        assert f'value="{typed["capacity"]}"' in refused.text  # what was typed is kept
    assert _services(web, admin["agency"]) == before
    assert web.events(action="agency:manage", resource=f"agency:{admin['agency']}", reason="services")[1:] == []


def test_refused_places_name_the_field_and_change_nothing(web: WebServer, http: Http) -> None:
    admin = web.add_user("agency_admin")
    _offer(web, admin["agency"], {"service": "accommodation", "capacity": 10, "vacancies": 2})
    http.sign_in(admin)
    for typed, field in (({"capacity": "-3", "vacancies": "1"}, "capacity"),
                         ({"capacity": "4", "vacancies": "6"}, "vacancies")):
        refused = http.submit("/admin/services", {"service": "accommodation",
                                                  **{f"accommodation.{k}": v for k, v in typed.items()}})
        assert refused.status == 422 and f'href="#accommodation-{field}"' in refused.text, typed
    assert [(row["capacity"], row["vacancies"]) for row in _services(web, admin["agency"])] == [(10, 2)]


def test_without_its_csrf_token_an_add_or_remove_changes_nothing(web: WebServer, http: Http) -> None:
    admin = web.add_user("agency_admin")
    _offer(web, admin["agency"], {"service": "accommodation", "capacity": 10, "vacancies": 2})
    http.sign_in(admin)
    before = _services(web, admin["agency"])
    assert http.post("/admin/services/add", {"service": "legal_aid", "capacity": "", "vacancies": ""}).status == 400
    assert http.post("/admin/services/remove", {"service": "accommodation"}).status == 400
    assert _services(web, admin["agency"]) == before
    # a service the agency does not publish: nothing to remove
    assert http.submit("/admin/services/remove", {"service": "legal_aid"}, page="/admin/services").status == 404
    assert _services(web, admin["agency"]) == before


@pytest.mark.parametrize(("lang", "words"), [
    ("ru", ("Добавить услугу", "Временное жильё", "Минская область", "Всего мест")),
    ("be", ("Дадаць паслугу", "Часовае жыллё", "Мінская вобласць", "Усяго месцаў")),
])
def test_the_services_page_speaks_the_readers_language(web: WebServer, lang: str, words: tuple[str, ...]) -> None:
    admin = web.add_user("agency_admin")
    _offer(web, admin["agency"], {"service": "accommodation", "regions": ["Minsk"], "capacity": 10, "vacancies": 2})
    http = Http(web.base, accept_language=lang)
    http.sign_in(admin)
    shown = http.get("/admin/services")
    assert f'lang="{lang}"' in shown.text
    for word in words:
        assert word in shown.text, word
    refused = http.submit("/admin/services/add", {"service": "legal_aid", "capacity": "2", "vacancies": "3"},
                          page="/admin/services")
    assert refused.status == 422 and "There cannot be more vacancies" not in refused.text  # the message translated


def test_with_javascript_off_an_admin_adds_and_removes_a_service(web: WebServer, page_nojs: Any, axe: Axe,
                                                                 shot: Shot) -> None:
    admin = web.add_user("agency_admin")
    page = page_nojs
    sign_in(page, admin, "/admin/services")
    axe(page)  # in a JavaScript context of the same browser, on the same page and session
    page.select_option("#service", "psychological_counselling")
    page.check("#regions")  # the first region's box
    page.fill("#capacity", "5")
    page.fill("#vacancies", "9")
    page.click("#add-service button[type=submit]")
    page.wait_for_load_state("load")
    assert page.locator("#error-summary").count() == 1 and page.input_value("#vacancies") == "9"
    axe(page)
    shot(page, "refused")
    page.click("#error-summary a[href='#vacancies']")
    page.fill("#vacancies", "5")
    page.click("#add-service button[type=submit]")
    page.wait_for_load_state("load")
    assert page.locator("#service-psychological_counselling").count() == 1
    assert page.input_value("#psychological_counselling-vacancies") == "5"
    axe(page)
    shot(page, "added")
    page.click("#service-psychological_counselling button.button-danger")
    page.wait_for_load_state("load")
    assert page.locator("#service-psychological_counselling").count() == 0
    assert _services(web, admin["agency"]) == []
