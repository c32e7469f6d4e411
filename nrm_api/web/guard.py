"""Who is signed in, and ``page``: the one way a page declares who may open it.

The browser's signed cookie (Flask's session) holds the secret of a server-side session record
(``accounts.sessions``) and Flask-WTF's CSRF secret; the record decides. ``page`` answers a
signed-out visit with 303 to ``/login?next=…``, a session past its idle or absolute limit likewise
(after saving what a POST carried through the page's ``rescue``), an account not yet enrolled in
TOTP with 303 to ``/account/totp``, and a role the page is not for with 403 (the boundary audits
and renders it). A page then calls services with ``current_actor()``; a record the caller may not
see is the service's ``NotFoundError``: 404, as the API answers.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from functools import wraps
from typing import Any, TypeVar

from flask import g, request, session, url_for
from flask.wrappers import Response
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import MultiDict

from .. import boundary
from ..accounts import sessions
from ..accounts.auth import PUBLIC, request_actor
from ..accounts.models import User
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..errors import DomainError, Forbidden
from ..permissions import Permission, role_allows
from .extensions import csrf
from .replies import see_other

View = TypeVar("View", bound=Callable[..., Any])
#: ``rescue(actor, form, **view_args)``: keep what an expired session's POST carried (a draft step).
Rescue = Callable[..., None]
SECRET = "sid"  # noqa: S105 - the session key naming the secret, not one
NOTICES = "notices"
#: The longest ``next`` kept; a longer one is no address of ours.
MAX_NEXT = 2000


class CsrfRefused(DomainError):
    """A POST without its CSRF token, or with a wrong one: changes nothing."""

    status, slug, title = 400, "csrf-refused", "Bad Request"


def N_(message: str) -> str:  # noqa: N802 - gettext's name for a string marked, translated later
    """Mark ``message`` for the catalogs (``make messages`` extracts ``N_``); ``notify`` translates it when shown."""
    return message


def notify(*messages: str) -> None:
    """One-time notices for the next page (after a 303), each an ``N_``-marked msgid, shown in its language."""
    session[NOTICES] = [*session.get(NOTICES, []), *messages]


def load_session() -> None:
    """Before each page: find the session the cookie names; note the use of a live one."""
    found = sessions.find(session.get(SECRET))
    g.web_session = found
    if found is not None and found.live:
        sessions.touch(found)


def check_csrf() -> None:
    """Before each page: a POST must carry the session's CSRF token (400, audited, otherwise)."""
    if request.method != "POST":
        return
    try:
        csrf.protect()
    except CSRFError as error:
        reason = "csrf_token_missing" if "missing" in str(error.description).lower() else "csrf_token_invalid"
        raise CsrfRefused("the form's CSRF token is missing or wrong: reload the page and try again",
                          reason=reason, resource=f"path:{request.path[:190]}") from None


def signed_in_user() -> User | None:
    """The person this request signs in, if its session is live."""
    found: sessions.Found | None = g.get("web_session")
    return found.user if found is not None and found.live else None


def actor_of(user: User) -> Actor:
    """The actor of ``user`` in this request: its id and address as the API builds them."""
    return request_actor(f"user:{user.username}", user.agency_id, user.role)


def current_actor() -> Actor:
    """The signed-in person acting in this page (set by ``page``)."""
    actor: Actor | None = g.get("actor")
    if actor is None:
        raise RuntimeError("current_actor() outside a page: decorate the view with @page")
    return actor


def safe_next(value: str | None) -> str | None:
    """``value`` if it is an address on this site (one ``/`` then a path), else None."""
    if not value or len(value) > MAX_NEXT or not value.startswith("/") or value.startswith(("//", "/\\")):
        return None
    if any(ord(c) < 0x21 or ord(c) == 0x7F or c == "\\" for c in value):
        return None
    return value


def login_url(next_url: str | None = None) -> str:
    """``/login``, naming where to go after sign-in."""
    target = safe_next(next_url)
    return url_for("web.login", next=target) if target and target != "/" else url_for("web.login")


def here() -> str:
    """The address of this page, to come back to after sign-in (a POST comes back to its page)."""
    if request.method == "GET" and request.query_string:
        return f"{request.path}?{request.query_string.decode(errors='replace')}"
    return request.path


def page(*permissions: Permission, roles: Collection[str] | None = None, rescue: Rescue | None = None,
         enrolled: bool = True) -> Callable[[View], View]:
    """Declare who may open a page: signed in, in one of ``roles`` (if given), holding every permission.

    ``rescue`` is called instead of the view for a POST from a session past its limits, with the
    actor of the session's user, the posted form and the view's arguments, before the person is
    sent to sign in again (web README: "an idle session keeps what was typed"). ``enrolled=False``
    lets a person not yet enrolled in TOTP open the page (enrolment, sign-out).
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            refused = _refusal(rescue, kwargs, enrolled)
            if refused is not None:
                return refused
            user = signed_in_user()
            assert user is not None  # noqa: S101 - _refusal answered for every other case
            g.actor = actor_of(user)
            if (roles is not None and user.role not in roles) or not all(
                    role_allows(user.role, permission) for permission in permissions):
                raise Forbidden(f"the role {user.role!r} may not open this page", reason="role_forbidden",
                                resource=f"path:{request.path[:190]}")
            return view(*args, **kwargs)

        wrapper.__permission__ = permissions[0] if permissions else PUBLIC  # type: ignore[attr-defined]
        wrapper.__page__ = {"permissions": permissions, "roles": roles}  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate


def open_page(view: View) -> View:
    """Declare a page anyone may open (sign-in, sign-out, the root): it checks what it needs itself."""
    view.__permission__ = PUBLIC  # type: ignore[attr-defined]
    view.__page__ = {"public": True}  # type: ignore[attr-defined]
    return view


def _refusal(rescue: Rescue | None, view_args: dict[str, Any], enrolled: bool) -> Response | None:
    """The answer for a visit that may not reach the page yet, or None."""
    found: sessions.Found | None = g.get("web_session")
    if found is None:
        wait = boundary.audit_refusal("signed_out", resource=f"path:{request.path[:190]}",
                                      action=AuditAction.REQUEST_AUTHENTICATE)
        if wait is not None:
            raise _TooMany(wait)
        return see_other(login_url(here()))
    if not found.live:
        return _expired(found, rescue, view_args)
    if enrolled and found.user.totp_sealed is None:
        return see_other(url_for("web.account_totp"))
    return None


class _TooMany(DomainError):
    status, slug, title = 429, "rate-limited", "Too Many Requests"

    def __init__(self, wait: int) -> None:
        super().__init__("too many refused requests from here", headers={"Retry-After": str(wait)})


def _expired(found: sessions.Found, rescue: Rescue | None, view_args: dict[str, Any]) -> Response:
    """End a session past its limits; keep what its POST carried; ask the person to sign in again."""
    actor = actor_of(found.user)
    notices = [N_("Your session ended after 15 minutes without activity. Sign in again to go on.")]
    if found.state == sessions.EXPIRED:
        notices = [N_("Your session ended after 8 hours. Sign in again to go on.")]
    if request.method == "POST" and rescue is not None:
        form = MultiDict(request.form)
        form.pop("csrf_token", None)
        try:
            rescue(actor, form, **view_args)
            notices.append(N_("What you typed was saved as a draft."))
        except DomainError as error:
            g.actor = actor
            boundary.audit_refusal(error.reason, resource=error.resource, action=error.action, outcome=error.outcome)
            notices.append(N_("What you typed could not be saved."))
    sessions.end_idle(found)
    g.actor = actor
    boundary.audit_refusal(f"session_{found.state}", resource=f"path:{request.path[:190]}",
                           action=AuditAction.REQUEST_AUTHENTICATE)
    session.clear()
    notify(*notices)
    return see_other(login_url(here()))
