"""``/login`` (password, then the TOTP code when enrolled) and ``/logout`` (POST only).

Both steps call the API's own sign-in service (``accounts.login``): the same limits, the same
audit, the same one answer for every wrong credential. Between the steps the signed cookie holds
only which account passed its password, and when (five minutes to send the code); a session
record is opened once the sign-in is done, under a new cookie (no session fixation).
"""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, g, request, session, url_for
from flask.wrappers import Response
from flask_babel import gettext

from ...accounts import devices, sessions
from ...accounts.auth import request_actor
from ...accounts.limits import Throttled
from ...accounts.login import CodeNeeded, LoginRefused, authenticate_code, authenticate_password
from ...accounts.models import User
from ..blueprint import bp
from ..guard import N_, SECRET, actor_of, login_url, notify, open_page, safe_next, signed_in_user
from ..replies import refused_form, render, see_other
from .home import home_of

PENDING = "pending"
PENDING_SECONDS = 300
DEVICE_COOKIE = "nrm_device"
DEVICE_SECONDS = 365 * 24 * 3600


def _pending() -> CodeNeeded | None:
    held = session.get(PENDING)
    if not isinstance(held, dict) or time.time() - float(held.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    return CodeNeeded(str(held["username"]), int(held["version"]))


def _next() -> str | None:
    return safe_next(request.values.get("next"))


def _form(step: str, status: int = 200, errors: dict[str, str] | None = None, **context: Any) -> Response:
    if errors:
        return refused_form("login.html", errors, step=step, next=_next(), **context)
    return render("login.html", status=status, step=step, next=_next(), errors={}, **context)


@bp.route("/login", methods=["GET", "POST"])
@open_page
def login() -> Response:
    """Sign in: username and password, then the code of an enrolled account."""
    user = signed_in_user()
    if user is not None:
        return see_other(_next() or home_of(user.role))
    pending = _pending()
    if request.method == "GET":
        return _form("otp" if pending else "password")
    if pending is not None and "otp" in request.form:
        return _code_step(pending)
    return _password_step()


def _password_step() -> Response:
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    errors = {}
    if not username:
        errors["username"] = gettext("Enter your username")
    if not password:
        errors["password"] = gettext("Enter your password")
    if errors:
        return _form("password", errors=errors, username=username)
    try:
        result, _ = authenticate_password(username, password, request.cookies.get(DEVICE_COOKIE), request_actor())
    except Throttled as refused:
        return _throttled(refused, "password", username=username)
    except LoginRefused:
        return _form("password", errors={"username": gettext("Wrong username or password")}, username=username)
    if isinstance(result, CodeNeeded):
        session[PENDING] = {"username": result.username, "version": result.token_version, "at": time.time()}
        return see_other(login_url(_next()))
    return _signed_in(result)


def _code_step(pending: CodeNeeded) -> Response:
    code = request.form.get("otp", "").strip()
    if not code:
        return _form("otp", errors={"otp": gettext("Enter the 6-digit code from your authenticator app")})
    try:
        user, _ = authenticate_code(pending, code, request.cookies.get(DEVICE_COOKIE), request_actor())
    except Throttled as refused:
        return _throttled(refused, "otp")
    except LoginRefused:
        return _form("otp", errors={"otp": gettext("Wrong or already used code")})
    return _signed_in(user)


def _throttled(refused: Throttled, step: str, **context: Any) -> Response:
    response = _form(step, status=429, throttled=True, **context)
    response.headers.extend(refused.headers)
    return response


def _signed_in(user: User) -> Response:
    """Open the session under a fresh cookie and go on: to ``next``, or enrolment, or the role's home."""
    session.clear()
    session[SECRET] = sessions.open_session(user)
    target = _next() or home_of(user.role)
    response = see_other(url_for("web.account_totp", next=target) if user.totp_sealed is None else target)
    if devices.verify(user, request.cookies.get(DEVICE_COOKIE)) is None:
        response.set_cookie(DEVICE_COOKIE, devices.issue(user), max_age=DEVICE_SECONDS, path="/login",
                            httponly=True, samesite="Strict", secure=bool(current_app.config.get("WEB_COOKIE_SECURE")))
    return response


@bp.route("/logout", methods=["POST"])
@open_page
def logout() -> Response:
    """Sign out: the session ends for good, whichever copies of its cookie exist."""
    found: sessions.Found | None = g.get("web_session")
    if found is not None:
        sessions.end(session.get(SECRET), actor_of(found.user))
    session.clear()
    if found is not None:
        notify(N_("You have signed out."))
    return see_other(login_url())
