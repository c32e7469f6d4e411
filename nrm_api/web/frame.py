"""What every page shares: the hooks around it and what its layout (``base.html``) is given.

Before a page: its language, its session, the CSRF check of a POST. After it: the page headers
and the remembered language. The layout gets the signed-in person, their agency and the
navigation of their role (only the pages that exist), the language switch and one-time notices.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app, g, request, session
from flask.wrappers import Response
from flask_babel import LazyString, gettext, lazy_gettext, refresh

from ..agencies.service import require_agency
from . import headers, i18n
from .blueprint import bp
from .guard import NOTICES, check_csrf, load_session, signed_in_user


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation: a path of web.md, for the roles it is for."""

    path: str
    label: LazyString
    roles: frozenset[str]


_CASEWORK = frozenset({"caseworker", "supervisor"})
#: The navigation, in order; an item shows only when its page is registered (``web/pages``).
NAVIGATION = (
    NavItem("/inbox", lazy_gettext("Inbox"), _CASEWORK),
    NavItem("/sent", lazy_gettext("Sent"), _CASEWORK),
    NavItem("/forms", lazy_gettext("Forms"), _CASEWORK),
    NavItem("/forms/new", lazy_gettext("New form"), _CASEWORK),
    NavItem("/admin/users", lazy_gettext("Users"), frozenset({"agency_admin"})),
    NavItem("/admin/webhook", lazy_gettext("Webhook"), frozenset({"agency_admin"})),
    NavItem("/admin/services", lazy_gettext("Services"), frozenset({"agency_admin"})),
    NavItem("/audit", lazy_gettext("Audit log"), frozenset({"auditor"})),
    NavItem("/audit/verify", lazy_gettext("Verify the log"), frozenset({"auditor"})),
    NavItem("/statistics", lazy_gettext("Statistics"),
            frozenset({"caseworker", "supervisor", "agency_admin", "auditor"})),
    NavItem("/directory", lazy_gettext("Directory"),
            frozenset({"caseworker", "supervisor", "agency_admin", "auditor", "network_admin"})),
    NavItem("/account", lazy_gettext("Account"),
            frozenset({"caseworker", "supervisor", "agency_admin", "auditor", "network_admin"})),
)
ROLE_LABELS = {
    "caseworker": lazy_gettext("Caseworker"), "supervisor": lazy_gettext("Supervisor"),
    "agency_admin": lazy_gettext("Agency administrator"), "auditor": lazy_gettext("Auditor"),
    "network_admin": lazy_gettext("Network administrator"),
}


def routed(path: str) -> bool:
    """Whether a page answers GET at ``path``."""
    adapter = current_app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(path, method="GET")
    except Exception:  # noqa: BLE001 - no such page (404, 405, a redirect): not routed
        return False
    return str(endpoint).startswith("web.")


#: What one page keeps in ``g``; an app context held across requests (tests) must not lend it to the next.
_PER_REQUEST = ("csrf_token", "web_session", "lang", "lang_chosen", "actor")


@bp.before_request
def _before() -> None:
    for key in _PER_REQUEST:
        g.pop(key, None)
    refresh()  # Flask-Babel's locale cached in the context, likewise
    i18n.choose()
    if request.endpoint == "web.static":
        return
    load_session()
    check_csrf()


@bp.after_request
def _after(response: Response) -> Response:
    return i18n.remember(headers.apply(response))


@bp.app_template_filter("field_id")
def field_id(name: str) -> str:
    """The ``id`` of a form field from its ``name`` (a dotted document path): dots become dashes."""
    return name.replace(".", "-")


def _agency_name(agency_id: str) -> str:
    agency = require_agency(agency_id)
    return str({"ru": agency.name_ru, "be": agency.name_be}.get(str(g.get("lang")), agency.name_en) or agency.name_en)


@bp.app_context_processor
def _layout() -> dict[str, Any]:
    lang = i18n.selected()
    user = signed_in_user()
    nav = []
    if user is not None:
        nav = [{"url": item.path, "label": item.label, "current": request.path == item.path}
               for item in NAVIGATION if user.role in item.roles and routed(item.path)]
    notices = [gettext(msgid) for msgid in session.pop(NOTICES, [])] if request.method == "GET" else []
    return {
        "web_user": user,
        "web_agency": _agency_name(user.agency_id) if user is not None else None,
        "web_role": ROLE_LABELS.get(user.role) if user is not None else None,
        "nav": nav,
        "notices": notices,
        "current_lang": lang,
        "languages": [(code, i18n.NAMES[code], i18n.url_in(code)) for code in i18n.LANGUAGES],
    }
