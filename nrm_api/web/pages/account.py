"""``/account``: who is signed in; ``/account/totp``: enrol TOTP (first sign-in); ``/account/password``."""

from __future__ import annotations

from typing import Any

import segno
from flask import g, request, session
from flask.wrappers import Response
from flask_babel import gettext
from markupsafe import Markup

from ...accounts import credentials, sessions
from ...accounts.admin import MIN_PASSWORD_LENGTH
from ...accounts.login import LoginRefused
from ...errors import DomainError
from ..blueprint import bp
from ..guard import N_, SECRET, current_actor, notify, page, safe_next
from ..replies import refused_form, render, see_other
from .home import home_of


def _session() -> sessions.Found:
    found: sessions.Found = g.web_session
    return found


@bp.route("/account")
@page()
def account() -> Response:
    """The signed-in person's account: name, agency, role, and what they may change."""
    return render("account.html", user=_session().user)


def _qr(uri: str) -> Markup:
    """The enrolment URI as a QR code, drawn here as inline SVG (no outside service, no inline style)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, title=gettext("QR code for your authenticator app"),
                                                svgclass="qr-code", lineclass=None, light="#fff")
    return Markup(svg.replace("<svg ", '<svg role="img" ', 1))  # noqa: S704 - segno's own SVG of our URI


@bp.route("/account/totp", methods=["GET", "POST"])
@page(enrolled=False)
def account_totp() -> Response:
    """Enrol TOTP: scan the code (or type the secret) into an app, then send the code it shows."""
    found = _session()
    user = found.user
    next_url = safe_next(request.values.get("next")) or home_of(user.role)
    if user.totp_sealed is not None:
        return render("totp.html", enrolled=True, next=next_url, errors={})
    secret, uri = credentials.pending_secret(found.record, user)
    context: dict[str, Any] = {"enrolled": False, "secret": secret, "qr": _qr(uri), "next": next_url}
    if request.method == "GET":
        return render("totp.html", errors={}, **context)
    code = request.form.get("otp", "").strip()
    if not code:
        return refused_form("totp.html", {"otp": gettext("Enter the 6-digit code from your authenticator app")},
                            **context)
    try:
        credentials.confirm_enrolment(current_actor(), found.record, user, code)
    except DomainError as error:
        return refused_form("totp.html", {"otp": gettext("The code does not match. Enter the code the app shows now.")},
                            error=error, **context)
    notify(N_("Your authenticator app is set up. Use its code each time you sign in."))
    return see_other(next_url)


@bp.route("/account/password", methods=["GET", "POST"])
@page()
def account_password() -> Response:
    """Change the password: the current one, then the new one twice. Other sessions end."""
    if request.method == "GET":
        return render("password.html", errors={})
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    errors = {}
    if not current:
        errors["current_password"] = gettext("Enter your current password")
    if len(new) < MIN_PASSWORD_LENGTH:
        errors["new_password"] = gettext("Enter a new password of at least %(count)s characters",
                                         count=MIN_PASSWORD_LENGTH)
    elif new != request.form.get("new_password_again", ""):
        errors["new_password_again"] = gettext("Enter the same new password twice")
    if errors:
        return refused_form("password.html", errors)
    try:
        user = credentials.change_password(current_actor(), _session().user, current, new)
    except LoginRefused as error:
        return refused_form("password.html", {"current_password": gettext("The current password is wrong")},
                            error=error)
    session.clear()
    session[SECRET] = sessions.open_session(user)
    notify(N_("Your password is changed. Your other sessions have ended."))
    return see_other("/account")
