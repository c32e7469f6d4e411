"""``/admin/users``: an agency administrator's people — add, reset TOTP, disable (``accounts.staff``).

A new person's initial password is shown once: after the add, the browser is sent back to this
page (303) carrying it sealed by the keyring in the session (bound to the administrator), and the
page takes it out as it shows it. It is never logged, audited or kept but as its hash.
"""

from __future__ import annotations

from typing import Any

from flask import request, session, url_for
from flask.wrappers import Response
from flask_babel import gettext

from ...accounts import staff
from ...crypto import CryptoError
from ...errors import ConflictError, InvalidError
from ...extensions import keyring
from ...permissions import Permission
from ..blueprint import bp
from ..frame import ROLE_LABELS
from ..guard import N_, current_actor, notify, page
from ..replies import refused_form, render, see_other

#: The session key of the sealed one-time password of the person just added.
ONCE = "admin_new_user"
TEMPLATE = "admin/users.html"


def _role_options() -> list[tuple[str, str]]:
    return [(role, str(ROLE_LABELS[role])) for role in staff.AGENCY_ROLES]


def _context(form: dict[str, str] | None = None, created: dict[str, str] | None = None) -> dict[str, Any]:
    actor = current_actor()
    return {"people": staff.agency_users(actor), "roles": _role_options(), "role_labels": ROLE_LABELS,
            "form": form or {"username": "", "role": "caseworker"}, "created": created,
            "me": actor.subject.removeprefix("user:")}


def _seal_context() -> str:
    return f"web:new-user-password:{current_actor().subject}"


def _take_created() -> dict[str, str] | None:
    """The person just added and their password, once: removed from the session as it is read."""
    held = session.pop(ONCE, None)
    if not isinstance(held, dict):
        return None
    try:
        password = keyring().unseal(bytes.fromhex(str(held.get("sealed"))), _seal_context()).decode()
    except (CryptoError, ValueError):
        return None
    return {"username": str(held.get("username")), "password": password}


@bp.route("/admin/users", methods=["GET"])
@page(Permission.USER_MANAGE)
def admin_users() -> Response:
    """The agency's people, a form to add one, and the one-time password of the one just added."""
    return render(TEMPLATE, **_context(created=_take_created()))


@bp.route("/admin/users", methods=["POST"])
@page(Permission.USER_MANAGE)
def admin_users_add() -> Response:
    """Add a person with a fresh password (shown once); they enrol TOTP at their first sign-in."""
    form = {"username": request.form.get("username", "").strip(), "role": request.form.get("role", "")}
    errors = {}
    if not form["username"]:
        errors["username"] = gettext("Enter a username")
    if form["role"] not in staff.AGENCY_ROLES:
        errors["role"] = gettext("Choose a role")
    if errors:
        return refused_form(TEMPLATE, errors, **_context(form))
    try:
        person, password = staff.invite(current_actor(), form["username"], form["role"])
    except (InvalidError, ConflictError) as error:
        message = gettext("This username is taken: choose another") if isinstance(error, ConflictError) else \
            gettext("A username is 2 to 64 letters, digits, dots, dashes or underscores")
        return refused_form(TEMPLATE, {"username": message}, error=error, **_context(form))
    sealed = keyring().seal(password.encode(), _seal_context())
    session[ONCE] = {"username": person.username, "sealed": sealed.hex()}
    return see_other(url_for("web.admin_users"))


@bp.route("/admin/users/<username>/totp-reset", methods=["POST"])
@page(Permission.USER_MANAGE)
def admin_users_reset_totp(username: str) -> Response:
    """Forget a person's TOTP (a lost phone): they enrol again at their next sign-in."""
    staff.reset_totp(current_actor(), username)
    notify(N_("They will set up an authenticator app again at their next sign-in."))
    return see_other(url_for("web.admin_users"))


@bp.route("/admin/users/<username>/disable", methods=["POST"])
@page(Permission.USER_MANAGE)
def admin_users_disable(username: str) -> Response:
    """Stop a person signing in; their sessions and tokens end at once."""
    staff.disable(current_actor(), username)
    notify(N_("The user is disabled: they can no longer sign in."))
    return see_other(url_for("web.admin_users"))
