"""``/inbox`` and ``/sent``: the agency's referrals, most urgent first; ``/referrals/<id>``: one referral.

A referral's page shows what the agency may see of the form (withheld fields named, never shown),
its history with each event's signer and a check mark only where the stored signature verifies
now, and one button per move the state machine allows this agency now. A move is signed for the
person with the agency's hosted key and made by the same service function as the API's; a third
agency's visit is the service's 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import request, url_for
from flask.wrappers import Response
from flask_babel import format_datetime, format_timedelta, gettext, lazy_gettext

from ... import boundary
from ...audit.actor import Actor
from ...database import utcnow
from ...errors import DomainError, InvalidError
from ...forms import service as forms
from ...permissions import Permission
from ...preconditions import revision_of
from ...referrals import queries, rules
from .. import form_pages, i18n, referral_writes
from ..blueprint import bp
from ..form_definition import STEPS, step_control
from ..guard import current_actor, page
from ..replies import refused_form, render, see_other

CASEWORK = ("caseworker", "supervisor")
PRIORITY_LABELS = {"emergency": lazy_gettext("Emergency"), "urgent": lazy_gettext("Urgent"),
                   "normal": lazy_gettext("Normal")}
#: What each move's button says.
MOVE_LABELS = {"received": lazy_gettext("Mark as received"), "accepted": lazy_gettext("Accept"),
               "rejected": lazy_gettext("Reject"), "in-progress": lazy_gettext("Start work"),
               "on-hold": lazy_gettext("Put on hold"), "completed": lazy_gettext("Mark as completed"),
               "failed": lazy_gettext("Mark as failed"), "cancelled": lazy_gettext("Cancel the referral")}
#: What ``?status=`` may filter by.
STATUSES = rules.STATUSES


def helpers() -> dict[str, Any]:
    """What the referral pages' templates use: the form pages' helpers (labels in the reader's language)."""
    return form_pages.helpers()


def agency_name(agency_id: str) -> str:
    """An agency's name in the reader's language."""
    return form_pages.agency_name(agency_id, i18n.selected())


def when(moment: str | datetime) -> str:
    """A moment as the reader's language writes it."""
    value = datetime.fromisoformat(moment) if isinstance(moment, str) else moment
    return str(format_datetime(value, "short"))


def services_shown(codes: list[str]) -> str:
    """The services asked for, by their labels in the reader's language."""
    label = helpers()["code_label"]
    return ", ".join(label("service", code) for code in codes)


def time_left(item: dict[str, Any]) -> str:
    """How long the recipient has left (open referrals), or how long it is overdue."""
    if item["final"]:
        return ""
    left = datetime.fromisoformat(item["due_at"]) - utcnow()
    if item["overdue"]:
        return str(gettext("Overdue by %(time)s", time=format_timedelta(-left, threshold=1.5)))
    return str(gettext("%(time)s left", time=format_timedelta(left, threshold=1.5)))


def _box(direction: str) -> Response:
    status = request.args.get("status")
    status = status if status in STATUSES else None
    items = queries.box(current_actor(), direction, status)
    other = "to_agency" if direction == "outgoing" else "from_agency"
    shown = helpers()
    rows = [{**item, "other": agency_name(item[other]), "time_left": time_left(item),
             "services_shown": services_shown(item["services"]), "priority_shown": PRIORITY_LABELS[item["priority"]]}
            for item in items]
    template = "referrals/inbox.html" if direction == "incoming" else "referrals/sent.html"
    options = [(code, shown["code_label"]("referral_status", code)) for code in STATUSES]
    return render(template, rows=rows, chosen_status=status, status_options=options, **shown)


@bp.route("/inbox")
@page(Permission.REFERRAL_READ, roles=CASEWORK)
def inbox() -> Response:
    """Referrals to this agency: open ones first, the overdue leading and marked; ``?status=`` filters."""
    return _box("incoming")


@bp.route("/sent")
@page(Permission.REFERRAL_READ, roles=CASEWORK)
def sent() -> Response:
    """Referrals this agency sent, and where each stands; ``?status=`` filters."""
    return _box("outgoing")


@bp.route("/referrals/<referral_id>", methods=["GET", "POST"])
@page(Permission.REFERRAL_READ, roles=CASEWORK)
def referral_page(referral_id: str) -> Response:
    """One referral: the form as disclosed, the checked history, the moves allowed now (POST makes one)."""
    actor = current_actor()
    if request.method == "GET":
        return render("referrals/referral.html", errors={}, reason="", **_context(actor, referral_id))
    target, reason = request.form.get("status", ""), request.form.get("reason", "").strip()
    change = {"status": target, **({"reason": reason} if reason else {})}
    try:
        referral_writes.move(actor, referral_id, _revision(), change)
    except InvalidError as error:
        message = (gettext("Give a reason for this change of status") if _names(error) & {"reason"}
                   else gettext("Choose one of the changes shown"))
        field = "reason" if _names(error) & {"reason"} else "actions"
        return refused_form("referrals/referral.html", {field: message}, error=error, reason=reason,
                            **_context(actor, referral_id))
    return see_other(url_for("web.referral_page", referral_id=referral_id))


def _names(error: DomainError) -> set[str]:
    """The fields a service's refusal names."""
    errors = error.errors.get("json", error.errors) if isinstance(error.errors, dict) else {}
    return set(errors) if isinstance(errors, dict) else set()


def _revision() -> int:
    """The revision the page was drawn from (its If-Match); a garbled one matches none."""
    value = request.form.get("revision", "")
    return int(value) if value.isdigit() and len(value) < 10 else 0


def _context(actor: Actor, referral_id: str) -> dict[str, Any]:
    referral, etag = queries.read(actor, referral_id)
    history = queries.checked_history(actor, referral_id)["events"]
    side = rules.SENDER if actor.agency == referral["from_agency"] else rules.RECIPIENT
    now = utcnow()
    referral["overdue"] = rules.overdue(referral["status"], datetime.fromisoformat(referral["due_at"]), now)
    form = None if "note" in referral["withheld"] else _disclosed(actor, referral["form_id"])
    return {"referral": referral, "revision": revision_of(etag),
            "from_name": agency_name(referral["from_agency"]), "to_name": agency_name(referral["to_agency"]),
            "time_left": time_left(referral), "history": [_shown(event) for event in history],
            "moves": [(move.target, MOVE_LABELS[move.target], move.reason_required)
                      for move in rules.allowed(referral["status"], side)],
            "reason_asked": any(move.reason_required for move in rules.allowed(referral["status"], side)),
            "services_shown": services_shown(referral["services"]),
            "priority_shown": PRIORITY_LABELS[referral["priority"]], "form": form,
            "steps": STEPS, "controls": [step_control(step) for step in STEPS],
            "when": when, **helpers()}


def _shown(event: dict[str, Any]) -> dict[str, Any]:
    """An event of the history as the page shows it: who signed it, for which agency, when."""
    body = event["body"] or {}
    return {**event, "agency_name": agency_name(event["agency"]), "signer": event["actor"].removeprefix("user:")
            .removeprefix("client:"), "reason": body.get("reason"), "note": body.get("note")}


def _disclosed(actor: Actor, form_id: str) -> dict[str, Any] | None:
    """The form as the agency may see it, or ``None`` (the referral says whether it may: ``withheld``)."""
    try:
        body, _ = forms.read(actor, form_id)
    except DomainError as error:  # it changed between the two reads: refused, and audited as such
        boundary.audit_refusal(error.reason, resource=error.resource, action=error.action, outcome=error.outcome)
        return None
    return body
