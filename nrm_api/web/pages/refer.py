"""``/forms/<id>/refer``: refer a form — purpose and services, then a recipient from the directory.

Two steps on one page, both working without JavaScript: a ``GET`` form chooses the purpose, the
services, the region and whether only agencies with a place free are shown; the page then lists
the recipients the directory has for them, each with what the person's consent allows (covered,
or only by a supervisor's override) and the fields that recipient would not see, before anything
is sent. The ``POST`` sends the referral, signed with the agency's hosted key, through the same
service function as the API's, which applies every rule.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import request, url_for
from flask.wrappers import Response
from flask_babel import gettext, lazy_gettext

from ...agencies import service as agencies
from ...agencies.models import REGIONS
from ...audit.actor import Actor
from ...errors import DomainError
from ...forms import service as forms
from ...permissions import Permission, role_allows
from ...referrals import preview, rules
from .. import referral_writes
from ..blueprint import bp
from ..guard import current_actor, page
from ..replies import refused_form, render, see_other
from .referrals import CASEWORK, agency_name, helpers

PRIORITY_LABELS = {"emergency": lazy_gettext("Emergency: within 24 hours"),
                   "urgent": lazy_gettext("Urgent: within 72 hours"),
                   "normal": lazy_gettext("Normal: within 2 weeks")}
PURPOSE_LABELS = {"identification": lazy_gettext("Identification by the authority"),
                  "assistance": lazy_gettext("Assistance")}
OVERRIDE_LABELS = {"vital_interest": lazy_gettext("The person's vital interest"),
                   "legal_obligation": lazy_gettext("A legal obligation"),
                   "court_order": lazy_gettext("A court order")}
#: The service's refusals, by reason, as the field each belongs to and what the page says of it.
REFUSALS = {
    "duplicate_referral": ("to_agency", lazy_gettext("A referral of this form to this agency for this purpose "
                                                     "is still open")),
    "invalid_recipient": ("to_agency", lazy_gettext("Choose a recipient from the list")),
    "consent_required": ("override_reason", lazy_gettext(
        "The person's consent does not cover this recipient and purpose. Only a supervisor may send it, "
        "with a reason")),
}
FIELD_MESSAGES = {
    "purpose": lazy_gettext("Choose the purpose of the referral"),
    "services": lazy_gettext("Choose the services asked for: at least one for assistance, none for identification"),
    "to_agency": lazy_gettext("Choose a recipient that fits the purpose: only an authority identifies"),
    "priority": lazy_gettext("Choose the priority"),
    "note": lazy_gettext("The note is too long: at most 5000 characters"),
    "consent_override_reason": lazy_gettext("Choose a reason from the list"),
}


@bp.route("/forms/<form_id>/refer", methods=["GET", "POST"])
@page(Permission.REFERRAL_CREATE, roles=CASEWORK)
def refer_page(form_id: str) -> Response:
    """Choose purpose and services, then a recipient; POST sends the referral (303 to it)."""
    actor = current_actor()
    if request.method == "GET":
        return render("referrals/refer.html", errors={}, **_context(actor, form_id, request.args))
    referral = _posted()
    try:
        written = referral_writes.refer(actor, referral, _key())
    except DomainError as error:
        if error.status not in (403, 409, 422) or not (error.reason in REFUSALS or _names(error)):
            raise
        return refused_form("referrals/refer.html", _errors(error), error=error,
                            **_context(actor, form_id, request.form))
    return see_other(url_for("web.referral_page", referral_id=written.id))


def _posted() -> dict[str, Any]:
    form = request.form
    referral: dict[str, Any] = {"form_id": request.view_args["form_id"] if request.view_args else "",
                                "to_agency": form.get("to_agency", ""), "purpose": form.get("purpose", ""),
                                "services": form.getlist("services"), "priority": form.get("priority", "normal")}
    if form.get("note", "").strip():
        referral["note"] = form["note"].strip()
    if form.get("override_reason"):
        referral["consent_override_reason"] = form["override_reason"]
    return referral


def _key() -> str:
    """The page's idempotency key: sending the same page twice makes one referral."""
    value = request.form.get("idempotency_key", "")
    return value if len(value) == 36 else str(uuid.uuid4())


def _names(error: DomainError) -> set[str]:
    errors = error.errors.get("json", error.errors) if isinstance(error.errors, dict) else {}
    return set(errors) if isinstance(errors, dict) else set()


def _errors(error: DomainError) -> dict[str, str]:
    if error.reason in REFUSALS:
        field, message = REFUSALS[error.reason]
        return {field: str(message)}
    errors = {}
    for name in sorted(_names(error)):
        field = "override_reason" if name == "consent_override_reason" else name
        errors[field] = str(FIELD_MESSAGES.get(name, gettext("Check this answer")))
    return errors


def _context(actor: Actor, form_id: str, chosen: Any) -> dict[str, Any]:
    """The two steps: the choices made so far, and the recipients that fit them (404 for a form not readable)."""
    forms.accessible(actor, form_id, Permission.REFERRAL_CREATE)
    purpose = chosen.get("purpose") if chosen.get("purpose") in rules.PURPOSES else None
    services = [code for code in chosen.getlist("services") if code in rules.SERVICES]
    region = chosen.get("region") if chosen.get("region") in REGIONS else None
    vacant = chosen.get("vacant") == "true"
    recipients = _recipients(actor, form_id, purpose, services, region, vacant) if purpose else []
    return {"form_id": form_id, "purpose": purpose, "services": services, "region": region, "vacant": vacant,
            "recipients": recipients, "to_agency": chosen.get("to_agency"),
            "priority": chosen.get("priority") or "normal", "note": chosen.get("note", ""),
            "override_reason": chosen.get("override_reason"),
            "may_override": role_allows(actor.role, Permission.REFERRAL_OVERRIDE_CONSENT),
            "idempotency_key": chosen.get("idempotency_key") or str(uuid.uuid4()),
            "purposes": list(PURPOSE_LABELS.items()), "priorities": list(PRIORITY_LABELS.items()),
            "override_reasons": [(code, OVERRIDE_LABELS[code]) for code in rules.OVERRIDE_REASONS],
            **_options()}


def _options() -> dict[str, Any]:
    """The code lists of the page, labelled in the reader's language."""
    shown = helpers()
    label, field = shown["code_label"], shown["field_label_or_name"]
    return {"service_options": [(code, label("service", code)) for code in rules.SERVICES],
            "region_options": [(code, label("oblast", code)) for code in REGIONS],
            "withheld_labels": lambda paths: ", ".join(field(path) for path in paths),
            "offered": lambda rows: ", ".join(_offer(label("service", row["service"]), row["vacancies"])
                                              for row in rows),
            **shown}


def _offer(service: str, vacancies: int | None) -> str:
    """A service a recipient offers, with its places free where it counts them."""
    if vacancies is None:
        return service
    return str(gettext("%(service)s (places free: %(count)s)", service=service, count=vacancies))


def _recipients(actor: Actor, form_id: str, purpose: str, services: list[str], region: str | None,
                vacant: bool) -> list[dict[str, Any]]:
    """The directory's agencies that fit the purpose and offer every service asked for, with what each would see.

    Only agencies in ``region``, and with a place free when ``vacant``, are kept.
    """
    found: dict[str, dict[str, Any]] | None = None
    wanted: list[str | None] = list(services) or [None]
    for service in wanted:
        entries = {entry["id"]: entry for entry in agencies.list_agencies(actor, region=region, service=service,
                                                                           vacant=vacant)}
        found = entries if found is None else {key: found[key] for key in found if key in entries}
    fitting = [entry for entry in (found or {}).values() if entry["id"] != actor.agency
               and "to_agency" not in rules.purpose_errors(purpose, services, entry["kind"])]
    offers = preview.offers(actor, form_id, purpose, services, [entry["id"] for entry in fitting])
    return [{**entry, "name_shown": agency_name(entry["id"]), "offer": offers[entry["id"]]} for entry in fitting
            if entry["id"] in offers]
