"""Signing in and out through the pages, over real HTTP: the API's limits and audit, real revocation."""

from __future__ import annotations

import re
import time
from datetime import timedelta

from sqlalchemy import update

from nrm_api.accounts.models import WebSession
from nrm_api.crypto.passwords import totp_now
from nrm_api.database import utcnow
from nrm_api.extensions import db
from tests.web.support import Http, WebServer


def _age_sessions(web: WebServer, *, idle: timedelta = timedelta(0), age: timedelta = timedelta(0)) -> None:
    """Move every session's clock back, as if the person had left it that long."""
    with web.with_app():
        db.session.execute(update(WebSession).values(last_seen_at=utcnow() - idle, created_at=utcnow() - age))
        db.session.commit()


def test_sign_in_with_password_then_code_opens_the_role_home(web: WebServer, http: Http) -> None:
    user = web.add_user("caseworker")
    first = http.submit("/login", {"username": user["username"], "password": user["password"]})
    assert first.status == 303 and first.location == "/login"
    step = http.get("/login")
    assert 'name="otp"' in step.text and 'name="password"' not in step.text
    second = http.post("/login", {"otp": totp_now(user["secret"]), "csrf_token": step.csrf()})
    assert second.status == 303 and second.location in ("/inbox", "/account")
    account = http.get("/account")
    assert account.status == 200 and user["username"] in account.text
    logins = web.events(actor=f"user:{user['username']}", action="auth:login")
    assert [e["outcome"] for e in logins] == ["allowed"]


def test_the_session_cookie_is_httponly_samesite_and_changes_at_sign_in(web: WebServer, http: Http) -> None:
    user = web.add_user()
    before = http.get("/login")
    assert "HttpOnly" in before.headers["Set-Cookie"] and "SameSite=Lax" in before.headers["Set-Cookie"]
    cookie_before = http.cookie("nrm_session")
    http.sign_in(user)
    assert http.cookie("nrm_session") != cookie_before


def test_next_is_followed_only_when_it_is_a_path_of_this_site(web: WebServer) -> None:
    for asked, expected in (("/account/password", "/account/password"), ("//evil.example/x", None),
                            ("https://evil.example/", None), ("/\\evil.example", None)):
        user, http = web.add_user(), Http(web.base)  # a code is good once: one account each
        answer = http.submit("/login", {"username": user["username"], "password": user["password"], "next": asked},
                             page="/login")
        step = http.get(answer.location or "/login")
        done = http.post("/login", {"otp": totp_now(user["secret"]), "csrf_token": step.csrf(),
                                    "next": asked})
        assert done.status == 303
        if expected:
            assert done.location == expected
        else:
            assert done.location in ("/inbox", "/account"), done.location


def test_signed_out_visits_go_to_login_with_next(http: Http) -> None:
    answer = http.get("/account?x=1")
    assert answer.status == 303 and answer.location == "/login?next=/account?x%3D1"


def test_a_wrong_password_is_refused_counted_and_audited(web: WebServer, http: Http) -> None:
    user = web.add_user()
    answer = http.submit("/login", {"username": user["username"], "password": "wrong-" + user["password"]})
    assert answer.status == 422
    assert 'id="error-summary" role="alert"' in answer.text and 'href="#username"' in answer.text
    assert user["password"] not in answer.text
    refused = web.events(actor=f"user:{user['username']}", action="auth:login")
    assert [(e["outcome"], e["reason"]) for e in refused] == [("denied", "bad_password")]


def test_a_wrong_code_is_refused_and_audited(web: WebServer, http: Http) -> None:
    user = web.add_user()
    http.submit("/login", {"username": user["username"], "password": user["password"]})
    wrong = "000000" if totp_now(user["secret"]) != "000000" else "111111"
    answer = http.submit("/login", {"otp": wrong})
    assert answer.status == 422 and 'href="#otp"' in answer.text
    assert web.events(actor=f"user:{user['username']}", action="auth:login", reason="bad_otp")
    assert http.get("/account").status == 303


def test_an_unknown_user_gets_the_same_answer(web: WebServer, http: Http) -> None:
    answer = http.submit("/login", {"username": "nobody-here", "password": "whatever-it-is"})
    assert answer.status == 422 and "Wrong username or password" in answer.text


def test_sign_out_ends_the_session_for_every_copy_of_its_cookie(web: WebServer, http: Http) -> None:
    user = web.add_user()
    http.sign_in(user)
    stolen = http.cookie("nrm_session")
    assert http.get("/account").status == 200
    out = http.submit("/logout", {}, page="/account")
    assert out.status == 303 and out.location == "/login"
    assert web.events(actor=f"user:{user['username']}", action="auth:logout")
    replay = Http(web.base)
    replay.jar.set_cookie(_cookie("nrm_session", stolen or ""))
    assert replay.get("/account").status == 303


def test_logout_is_post_only(http: Http) -> None:
    assert http.get("/logout").status == 405


def test_an_idle_session_is_refused_and_asks_to_sign_in_again(web: WebServer, http: Http) -> None:
    user = web.add_user()
    http.sign_in(user)
    _age_sessions(web, idle=timedelta(minutes=16))
    answer = http.get("/account")
    assert answer.status == 303 and answer.location == "/login?next=/account"
    notice = http.get("/login")
    assert "15 minutes" in notice.text
    assert web.events(actor=f"user:{user['username']}", reason="session_idle")
    http.get("/login")
    assert http.get("/account").status == 303  # ended for good: no second chance for the old cookie


def test_a_session_past_eight_hours_is_refused_even_if_used(web: WebServer, http: Http) -> None:
    user = web.add_user()
    http.sign_in(user)
    _age_sessions(web, age=timedelta(hours=8, minutes=1))
    assert http.get("/account").status == 303
    assert web.events(actor=f"user:{user['username']}", reason="session_expired")


def test_enrolment_on_first_sign_in_shows_a_qr_code_and_the_secret(web: WebServer, http: Http) -> None:
    user = web.add_user(totp=False)
    answer = http.submit("/login", {"username": user["username"], "password": user["password"]})
    assert answer.status == 303 and answer.location.startswith("/account/totp")
    assert http.get("/account").location.startswith("/account/totp")  # nothing else before enrolment
    page = http.get("/account/totp")
    assert page.status == 200 and "<svg" in page.text
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page.text)
    assert secret
    refused = http.post("/account/totp", {"otp": "12345", "csrf_token": page.csrf()})
    assert refused.status == 422 and 'href="#otp"' in refused.text
    done = http.post("/account/totp", {"otp": totp_now(secret.group(1)), "csrf_token": page.csrf()})
    assert done.status == 303
    assert http.get("/account").status == 200
    assert web.events(actor=f"user:{user['username']}", action="user:totp-enrol", outcome="allowed")
    http.submit("/logout", {}, page="/account")
    again = Http(web.base)
    step = again.submit("/login", {"username": user["username"], "password": user["password"]})
    assert step.location == "/login"  # the code is asked for now


def _cookie(name: str, value: str) -> object:
    import http.cookiejar

    return http.cookiejar.Cookie(0, name, value, None, False, "127.0.0.1", False, False, "/", True, False, None,
                                 False, None, None, {})


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(web: WebServer) -> None:
    user = web.add_user()
    here, elsewhere = Http(web.base), Http(web.base)
    here.sign_in(user)
    elsewhere.sign_in(user, at=time.time() + 30)  # the next step's code: this step's is used up
    assert elsewhere.get("/account").status == 200
    short = here.submit("/account/password", {"current_password": user["password"], "new_password": "short",
                                               "new_password_again": "short"})
    assert short.status == 422 and 'href="#new_password"' in short.text
    wrong = here.submit("/account/password", {"current_password": "not-it", "new_password": "a-new-long-password",
                                               "new_password_again": "a-new-long-password"})
    assert wrong.status == 422 and 'href="#current_password"' in wrong.text
    assert web.events(actor=f"user:{user['username']}", action="user:password-change", reason="bad_password")
    done = here.submit("/account/password", {"current_password": user["password"],
                                              "new_password": "a-new-long-password",
                                              "new_password_again": "a-new-long-password"})
    assert done.status == 303 and here.get("/account").status == 200
    assert elsewhere.get("/account").status == 303
    assert web.events(actor=f"user:{user['username']}", action="user:password-change", outcome="allowed")
    old = Http(web.base).submit("/login", {"username": user["username"], "password": user["password"]})
    assert old.status == 422
