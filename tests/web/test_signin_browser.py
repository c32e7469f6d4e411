"""Signing in, enrolling and signing out in Debian's chromium, with JavaScript on and off; axe-clean."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from nrm_api.crypto.passwords import totp_now
from tests.web.support import WebServer, sign_in

#: In the browser on SQLite alone: the same pages over HTTP run on both backends, and the Belarus flow
#: (tests/web/test_belarus_flow.py) drives the browser on PostgreSQL too.
pytestmark = pytest.mark.parametrize("web", ["sqlite"], indirect=True, scope="module")


def test_sign_in_with_totp_and_out_again(web: WebServer, page: Any, axe: Callable[[Any], Any],
                                         shot: Callable[[Any, str], Any]) -> None:
    user = web.add_user("caseworker")
    page.goto("/login")
    axe(page)
    shot(page, "login")
    page.fill("#username", user["username"])
    page.fill("#password", user["password"])
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("#otp")
    axe(page)
    shot(page, "code")
    page.fill("#otp", totp_now(user["secret"]))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector(".who-name")
    assert page.inner_text(".who-name") == user["username"]
    axe(page)
    shot(page, "home")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_selector("#username")
    assert "You have signed out." in page.inner_text("main")


def test_a_refused_sign_in_shows_the_error_summary_and_focuses_it(web: WebServer, page: Any,
                                                                   axe: Callable[[Any], Any]) -> None:
    user = web.add_user()
    page.goto("/login")
    page.fill("#username", user["username"])
    page.fill("#password", "not-the-password")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_selector("#error-summary")
    assert page.evaluate("document.activeElement.id") == "error-summary"
    page.click("#error-summary a")
    assert page.evaluate("document.activeElement.id") == "username"
    axe(page)


def test_enrolment_in_the_browser(web: WebServer, page: Any, axe: Callable[[Any], Any],
                                  shot: Callable[[Any, str], Any]) -> None:
    user = web.add_user(totp=False)
    sign_in(page, user)
    page.wait_for_selector("#totp-secret")
    assert page.locator(".qr svg").count() == 1
    axe(page)
    shot(page, "enrol")
    page.fill("#otp", totp_now(page.inner_text("#totp-secret")))
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_selector(".who-name")
    assert "authenticator app is set up" in page.inner_text("main")


def test_everything_works_with_javascript_off(web: WebServer, page_nojs: Any, axe: Callable[[Any], Any],
                                              shot: Callable[[Any, str], Any]) -> None:
    user = web.add_user(totp=False)
    sign_in(page_nojs, user)
    page_nojs.wait_for_selector("#totp-secret")
    page_nojs.fill("#otp", totp_now(page_nojs.inner_text("#totp-secret")))
    page_nojs.get_by_role("button", name="Confirm").click()
    page_nojs.wait_for_selector(".who-name")
    axe(page_nojs)
    shot(page_nojs, "account-nojs")
    page_nojs.get_by_role("button", name="Sign out").click()
    page_nojs.wait_for_selector("#username")
    page_nojs.goto("/account")
    assert "/login?next=/account" in page_nojs.url


def test_the_language_switch_in_the_browser(web: WebServer, page: Any, axe: Callable[[Any], Any]) -> None:
    page.goto("/login")
    page.get_by_role("link", name="Беларуская").click()
    page.wait_for_selector("html[lang=be]")
    assert page.inner_text("h1") == "Уваход"
    page.goto("/login")
    assert page.get_attribute("html", "lang") == "be"
    axe(page)
