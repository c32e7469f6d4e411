"""``/admin/services``: the services the agency publishes, their capacity and vacancies (``agencies``).

Adding and removing a service is ``directory.add_service`` / ``remove_service`` (one row, under a lock
on the agency, so two admins at once both land and the other services keep their times), the new one
judged first by the API's own ``ServiceSchema``; changing places is ``directory.set_places``. A
refusal changes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import request, url_for
from flask.wrappers import Response
from flask_babel import gettext

from ...agencies import directory
from ...agencies import service as agencies
from ...agencies.models import REGIONS
from ...agencies.schemas import SERVICES, ServiceSchema
from ...errors import InvalidError
from ...permissions import Permission
from ...vocabulary import code_lists
from .. import i18n
from ..blueprint import bp
from ..guard import N_, current_actor, notify, page
from ..replies import refused_form, render, see_other
from .referrals import when

TEMPLATE = "admin/services.html"
COUNTS = ("capacity", "vacancies")
#: What a new service's form holds before anything is typed.
BLANK = {"service": "", "regions": [], "capacity": "", "vacancies": ""}


def _options(name: str, codes: tuple[str, ...], lang: str) -> list[tuple[str, str]]:
    labels = code_lists()[name]
    return [(code, labels[code][lang]) for code in codes]


def _context(service: str | None = None, typed: dict[str, str] | None = None,
             adding: dict[str, Any] | None = None) -> dict[str, Any]:
    actor = current_actor()
    entry = agencies.get_agency(actor, str(actor.agency))
    lang = i18n.selected()
    offered = {row["service"] for row in entry["services"]}
    services, regions = _options("service", SERVICES, lang), _options("oblast", REGIONS, lang)
    region_labels = dict(regions)
    return {"entry": entry, "labels": dict(services), "region_options": regions,
            "when": when,
            "regions_shown": lambda codes: ", ".join(region_labels.get(code, code) for code in codes),
            "service_options": [(code, label) for code, label in services if code not in offered],
            "typed_service": service, "typed": typed or {}, "adding": adding or BLANK}


@bp.route("/admin/services", methods=["GET"])
@page(Permission.AGENCY_MANAGE)
def admin_services() -> Response:
    """The agency's entry in the directory: each service with its places, and a form to add one."""
    return render(TEMPLATE, **_context())


def _places(raw: str) -> int | None:
    """A count of places as typed (empty: not counted); not a whole number is refused, the service bounds it."""
    text = raw.strip()
    if not text:
        return None
    if not text.removeprefix("-").isdigit() or not text.isascii():
        raise ValueError(text)
    return int(text)


def _counts(typed: Mapping[str, Any], prefix: str = "") -> tuple[dict[str, int | None], dict[str, str]]:
    """The places typed as numbers, and a message for each field that is not one."""
    counts, errors = {}, {}
    for name in COUNTS:
        try:
            counts[name] = _places(str(typed[name]))
        except ValueError:
            errors[prefix + name] = gettext("Enter a whole number of places, or leave it empty")
    return counts, errors


def _messages(refused: set[str], prefix: str = "") -> dict[str, str]:
    """The page's message by field for what was refused: a field's name, ``listed`` (twice) or ``exceeds``."""
    places = gettext("Enter a number of places from 0 to 100000")
    known = {"service": ("service", gettext("Choose a service from the list")),
             "listed": ("service", gettext("Your agency offers this service already: change its places above")),
             "regions": ("regions", gettext("Choose regions from the list")),
             "capacity": ("capacity", places), "vacancies": ("vacancies", places),
             "exceeds": ("vacancies", gettext("There cannot be more vacancies than capacity"))}
    return {prefix + field: message for key, (field, message) in known.items() if key in refused}


@bp.route("/admin/services", methods=["POST"])
@page(Permission.AGENCY_MANAGE)
def admin_services_places() -> Response:
    """Change the places of ``service``: ``<service>.capacity`` and ``<service>.vacancies`` (empty: not counted)."""
    service_code = request.form.get("service", "")[:64]
    prefix = f"{service_code}."
    typed = {name: request.form.get(prefix + name, "") for name in COUNTS}
    counts, errors = _counts(typed, prefix)
    if errors:
        return refused_form(TEMPLATE, errors, **_context(service_code, typed))
    actor = current_actor()
    try:
        directory.set_places(actor, str(actor.agency), service_code, counts["capacity"], counts["vacancies"])
    except InvalidError as error:
        refused = (error.errors or {}).get("form", {})
        fields = {"exceeds" if "exceeds capacity" in messages else name for name, messages in refused.items()}
        return refused_form(TEMPLATE, _messages(fields, prefix), error=error, **_context(service_code, typed))
    notify(N_("The places are saved; the directory shows them now."))
    return see_other(url_for("web.admin_services"))


@bp.route("/admin/services/add", methods=["POST"])
@page(Permission.AGENCY_MANAGE)
def admin_services_add() -> Response:
    """Publish one more service: ``service``, ``regions`` (one per checked box), ``capacity``, ``vacancies``."""
    adding = {"service": request.form.get("service", "")[:64], "regions": request.form.getlist("regions")[:20],
              **{name: request.form.get(name, "") for name in COUNTS}}
    counts, errors = _counts(adding)
    if errors:
        return refused_form(TEMPLATE, errors, **_context(adding=adding))
    try:
        offered = ServiceSchema().load({"service": adding["service"], "regions": adding["regions"], **counts})
    except ma.ValidationError as error:
        return refused_form(TEMPLATE, _messages(set(error.messages_dict)), **_context(adding=adding))
    actor = current_actor()
    try:
        directory.add_service(actor, str(actor.agency), offered)
    except InvalidError as error:
        fields = {"listed"} if "services" in (error.errors or {}).get("json", {}) else {"exceeds"}
        return refused_form(TEMPLATE, _messages(fields), error=error, **_context(adding=adding))
    notify(N_("The service is added; the directory shows it now."))
    return see_other(url_for("web.admin_services"))


@bp.route("/admin/services/remove", methods=["POST"])
@page(Permission.AGENCY_MANAGE)
def admin_services_remove() -> Response:
    """Stop publishing ``service``: the directory no longer offers it to the network."""
    actor = current_actor()
    directory.remove_service(actor, str(actor.agency), request.form.get("service", "")[:64])
    notify(N_("The service is removed; the directory no longer offers it."))
    return see_other(url_for("web.admin_services"))
