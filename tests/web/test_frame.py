"""What every page shares, over real HTTP: headers, CSRF, languages, the root, refusals as pages."""

from __future__ import annotations

import re

import pytest

from tests.web.support import Http, WebServer

PAGES = ["/login", "/does-not-exist"]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_a_strict_csp_and_the_api_security_headers(http: Http, path: str) -> None:
    answer = http.get(path)
    csp = answer.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "form-action 'self'",
                      "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert directive in csp
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Request-Id"]
    assert answer.headers["Content-Type"].startswith("text/html")


def test_pages_hold_no_inline_script_or_style(http: Http) -> None:
    text = http.get("/login").text
    assert "<style" not in text and " style=" not in text
    assert re.findall(r"<script[^>]*>", text) == ['<script src="/static/web.js" defer>']


def test_the_root_is_a_page_now_not_a_json_404(http: Http) -> None:
    answer = http.get("/")
    assert answer.status == 303 and answer.location == "/login"


def test_an_unknown_page_is_a_404_page_and_audited(web: WebServer, http: Http) -> None:
    answer = http.get("/no-such-page-here")
    assert answer.status == 404 and "<h1>" in answer.text and "<!doctype html>" in answer.text
    # anonymous refusals from one address are logged once a window, then counted (audit.refusals)
    assert any(e["resource"].startswith("path:/") and e["outcome"] == "denied"
               for e in web.events(action="request:refuse", reason="not_found"))


def test_the_api_still_answers_problems(http: Http) -> None:
    answer = http.get("/api/v1/nothing-here")
    assert answer.status == 404 and answer.headers["Content-Type"] == "application/problem+json"


def test_a_post_without_its_csrf_token_is_refused_audited_and_changes_nothing(web: WebServer, http: Http) -> None:
    user = web.add_user()
    http.get("/login")  # a session cookie with a CSRF secret, but the form's token is left out
    answer = http.post("/login", {"username": user["username"], "password": user["password"]})
    assert answer.status == 400
    refusals = web.events(reason="csrf_token_missing")
    assert refusals and refusals[-1]["resource"] == "path:/login"
    assert not web.events(actor=f"user:{user['username']}", action="auth:login")  # no sign-in was even tried
    assert http.get("/account").status == 303  # still signed out


def test_a_post_with_a_forged_csrf_token_is_refused(web: WebServer, http: Http) -> None:
    user = web.add_user()
    http.get("/login")
    answer = http.post("/login", {"username": user["username"], "password": user["password"],
                                  "csrf_token": "forged.token.value"})
    assert answer.status == 400
    assert web.events(reason="csrf_token_invalid")


def test_lang_switches_and_is_remembered(web: WebServer) -> None:
    http = Http(web.base, accept_language="en")
    answer = http.get("/login?lang=be")
    assert '<html lang="be">' in answer.text and "Уваход" in answer.text
    assert http.cookie("nrm_lang") == "be"
    again = http.get("/login")
    assert '<html lang="be">' in again.text
    assert '<html lang="ru">' in http.get("/login?lang=ru").text
    assert '<html lang="ru">' in http.get("/login").text


@pytest.mark.parametrize(("header", "lang"), [("be-BY,be;q=0.9,ru;q=0.8", "be"), ("ru-RU,ru;q=0.9", "ru"),
                                              ("en-GB,en;q=0.9", "en"), ("de-DE", "ru")])
def test_accept_language_picks_the_first_time(web: WebServer, header: str, lang: str) -> None:
    answer = Http(web.base, accept_language=header).get("/login")
    assert f'<html lang="{lang}">' in answer.text


def test_an_unknown_lang_is_ignored(web: WebServer) -> None:
    http = Http(web.base, accept_language="en")
    assert '<html lang="en">' in http.get("/login?lang=xx").text
    assert http.cookie("nrm_lang") is None


def test_static_files_are_served_from_the_app_itself(http: Http) -> None:
    for name, kind in (("web.css", "text/css"), ("web.js", "text/javascript"), ("favicon.svg", "image/svg+xml")):
        answer = http.get(f"/static/{name}")
        assert answer.status == 200 and answer.headers["Content-Type"].startswith(kind), name
