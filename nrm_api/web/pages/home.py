"""``/``: to sign-in when signed out, else to the home page of the role."""

from __future__ import annotations

from flask.wrappers import Response

from ..blueprint import bp
from ..frame import routed
from ..guard import login_url, open_page, signed_in_user
from ..replies import see_other

#: Each role's home page (web.md); ``/account`` while that page is not there.
HOMES = {"caseworker": "/inbox", "supervisor": "/inbox", "agency_admin": "/admin/users", "auditor": "/audit",
         "network_admin": "/directory"}


def home_of(role: str) -> str:
    """The home page of ``role``."""
    path = HOMES.get(role, "/account")
    return path if routed(path) else "/account"


@bp.route("/")
@open_page
def home() -> Response:
    """Where a visit to the site's root goes."""
    user = signed_in_user()
    return see_other(home_of(user.role) if user is not None else login_url())
