"""``/forms/<id>`` and ``/forms/<id>/consent-withdrawal``: a submitted form and what is done with it.

The first shows the form as disclosed to this agency — what it may not see is named, never shown:
the service gives the document without it and the paths it withheld — and takes the authority's
decision and the start of a new version; the second lists what withdrawing consent ends, then
records it. Every write is signed for the person with the agency's hosted key.
"""

from __future__ import annotations

from typing import Any

from flask import get_flashed_messages, request, url_for
from flask.wrappers import Response

from ...agencies.service import require_agency
from ...audit.actor import Actor
from ...errors import InvalidError
from ...forms import decisions, drafts, service
from ...permissions import Permission
from .. import form_writes
from ..blueprint import bp
from ..form_definition import STEPS, Control, decision_control, step_control, withdrawal_control
from ..form_pages import page_of, refused
from ..form_values import MISSING, parse_step
from ..frame import routed
from ..guard import current_actor, page
from ..replies import see_other
from .forms import CASEWORK, DUPLICATES
from .subject_access import ROLES as SUBJECT_ACCESS_ROLES


@bp.route("/forms/<form_id>", methods=["GET", "POST"])
@page(Permission.FORM_READ, roles=CASEWORK)
def form_page(form_id: str) -> Response:
    """The form as disclosed to this agency; the authority records its decision here; a new version starts here."""
    actor = current_actor()
    action = request.form.get("action") if request.method == "POST" else None
    if action == "new-version":
        draft = drafts.of_new_version(actor, form_id)
        return see_other(url_for("web.draft_step", draft_id=draft["id"], step=STEPS[0]))
    if action == "decide":
        decision = _posted(decision_control())
        try:
            form_writes.decide(actor, form_id, _revision(), decision)
        except InvalidError as error:
            return refused("forms/form.html", error, "decision", **_form_context(actor, form_id, decision))
        return see_other(url_for("web.form_page", form_id=form_id))
    return page_of("forms/form.html", errors={}, **_form_context(actor, form_id, {}))


def _form_context(actor: Actor, form_id: str, decision: dict[str, Any]) -> dict[str, Any]:
    found = service.accessible(actor, form_id, Permission.FORM_READ)
    body, _ = service.read(actor, form_id)
    authority = require_agency(str(actor.agency)).kind == "authority"
    duplicates = [ident for text in get_flashed_messages(category_filter=[DUPLICATES]) for ident in str(text).split()]
    return {"form": body, "revision": found.form.revision, "owner": found.owner,
            "authority": authority, "steps": STEPS,
            "subject_access": authority and actor.role in SUBJECT_ACCESS_ROLES,
            "controls": [step_control(s) for s in STEPS], "decision_control": decision_control(),
            "decision": {"decision": decision}, "duplicates": duplicates,
            "refer_url": refer if routed(refer := f"/forms/{form_id}/refer") else None}


@bp.route("/forms/<form_id>/consent-withdrawal", methods=["GET", "POST"])
@page(Permission.FORM_WITHDRAW_CONSENT, roles=CASEWORK)
def form_consent_withdrawal(form_id: str) -> Response:
    """Consent withdrawn: what it ends is listed first; confirming records the person's withdrawal."""
    actor = current_actor()
    if request.method == "GET" or request.form.get("action") != "withdraw":
        return page_of("forms/withdraw.html", errors={}, **_withdraw_context(actor, form_id, {}))
    withdrawal = _posted(withdrawal_control())
    try:
        form_writes.withdraw_consent(actor, form_id, withdrawal)
    except InvalidError as error:
        return refused("forms/withdraw.html", error, "withdrawal", **_withdraw_context(actor, form_id, withdrawal))
    return see_other(url_for("web.form_page", form_id=form_id))


def _withdraw_context(actor: Actor, form_id: str, withdrawal: dict[str, Any]) -> dict[str, Any]:
    found = decisions.withdrawer(actor, form_id)  # the page is offered only to who may confirm it
    return {"form_id": form_id, "form_status": found.form.status, "section": withdrawal_control(),
            "document": {"withdrawal": withdrawal}}


def _posted(control: Control) -> dict[str, Any]:
    parsed = parse_step(control, request.form)
    return {} if parsed is MISSING else dict(parsed)


def _revision() -> int:
    """The revision of the form the page was made from (its If-Match); a garbled one matches none."""
    value = request.form.get("revision", "")
    return int(value) if value.isdigit() and len(value) < 10 else 0
