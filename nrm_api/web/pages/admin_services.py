"""``/admin/services``: the services the agency publishes, their capacity and vacancies (``agencies``)."""

from __future__ import annotations

from typing import Any

from flask import g, request, url_for
from flask.wrappers import Response
from flask_babel import gettext

from ...agencies import directory
from ...agencies import service as agencies
from ...errors import InvalidError
from ...permissions import Permission
from ...vocabulary import code_lists
from ..blueprint import bp
from ..guard import N_, current_actor, notify, page
from ..replies import refused_form, render, see_other

TEMPLATE = "admin/services.html"


def _context(service: str | None = None, typed: dict[str, str] | None = None) -> dict[str, Any]:
    actor = current_actor()
    entry = agencies.get_agency(actor, str(actor.agency))
    names = code_lists()["service"]
    lang = str(g.get("lang") or "en")
    return {"entry": entry, "labels": {code: names[code][lang] for code in names}, "typed_service": service,
            "typed": typed or {}}


@bp.route("/admin/services", methods=["GET"])
@page(Permission.AGENCY_MANAGE)
def admin_services() -> Response:
    """The agency's entry in the directory: each service with its places."""
    return render(TEMPLATE, **_context())


def _places(raw: str) -> int | None:
    """A count of places as typed: empty is "not counted"; anything but a whole number is refused."""
    text = raw.strip()
    if not text:
        return None
    if not text.isdigit() or not text.isascii():
        raise ValueError(text)
    return int(text)


@bp.route("/admin/services", methods=["POST"])
@page(Permission.AGENCY_MANAGE)
def admin_services_places() -> Response:
    """Change the places of ``service``: ``<service>.capacity`` and ``<service>.vacancies`` (empty: not counted)."""
    service_code = request.form.get("service", "")[:64]
    prefix = f"{service_code}."
    typed = {name: request.form.get(prefix + name, "") for name in ("capacity", "vacancies")}
    errors, counts = {}, {}
    for name, raw in typed.items():
        try:
            counts[name] = _places(raw)
        except ValueError:
            errors[prefix + name] = gettext("Enter a whole number of places, or leave it empty")
    if errors:
        return refused_form(TEMPLATE, errors, **_context(service_code, typed))
    actor = current_actor()
    try:
        directory.set_places(actor, str(actor.agency), service_code, counts["capacity"], counts["vacancies"])
    except InvalidError as error:
        message = gettext("Places are 0 to 100000, and no more vacancies than capacity")
        return refused_form(TEMPLATE, {prefix + "vacancies": message}, error=error, **_context(service_code, typed))
    notify(N_("The places are saved; the directory shows them now."))
    return see_other(url_for("web.admin_services"))
