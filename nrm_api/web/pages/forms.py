"""``/forms``, ``/forms/new``, ``/drafts/<id>/<step>``, ``/drafts/<id>/check``: a new form step by step.

Each step is one section of the form document, saved as the agency's encrypted draft through the
drafts service ("Save and continue"); a refused step comes back 422 with the service's own field
errors and what was typed; the check page submits the draft, signed with the agency's hosted key.
A session that went idle on a step keeps what was typed: ``rescue`` saves it into the draft.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request, url_for
from flask.wrappers import Response
from werkzeug.datastructures import MultiDict

from ...audit.actor import Actor
from ...errors import InvalidError
from ...forms import drafts, service
from ...permissions import Permission
from .. import form_writes
from ..blueprint import bp
from ..form_definition import STEPS, step_control
from ..form_pages import field_errors, page_of, refused
from ..form_values import parse_step, with_section, without
from ..guard import current_actor, page
from ..replies import see_other

#: A flashed message's category: the possible duplicates a submission found.
DUPLICATES = "possible-duplicates"
#: Forms listed on one page.
PAGE_SIZE = 50
CASEWORK = ("caseworker", "supervisor")


@bp.get("/forms")
@page(Permission.FORM_READ, roles=CASEWORK)
def forms_index() -> Response:
    """The agency's forms (non-identifying summaries) and its drafts."""
    actor = current_actor()
    listed = service.summaries(actor, request.args.get("cursor") or None, PAGE_SIZE, {})
    return page_of("forms/list.html", summaries=listed["items"], next_cursor=listed["next_cursor"],
                   drafts=drafts.listing(actor))


@bp.get("/forms/new")
@page(Permission.FORM_CREATE, roles=CASEWORK)
def form_new() -> Response:
    """Start a form: a new, empty draft, and its first step."""
    created = drafts.create(current_actor(), {"schema_version": form_writes.SCHEMA_VERSION})
    return see_other(url_for("web.draft_step", draft_id=created["id"], step=STEPS[0]))


def _save_step(actor: Actor, posted: MultiDict[str, str], draft_id: str, step: str) -> dict[str, Any]:
    """Put the step's posted section into the draft; refused (``InvalidError``) when the schema refuses it."""
    document = drafts.read(actor, draft_id)["document"]
    changed = with_section(document, step, parse_step(step_control(step), posted))
    changed["schema_version"] = form_writes.SCHEMA_VERSION
    drafts.replace(actor, draft_id, changed)
    return changed


def rescue_step(actor: Actor, posted: MultiDict[str, str], draft_id: str, step: str) -> None:
    """An idle session's step: saved as typed, or without the values the schema refuses — never lost whole."""
    if step not in STEPS:
        return
    try:
        _save_step(actor, posted, draft_id, step)
    except InvalidError as error:
        refused_names = set(field_errors(error))
        _save_step(actor, without(posted, refused_names), draft_id, step)


@bp.route("/drafts/<draft_id>/<step>", methods=["GET", "POST"])
@page(Permission.FORM_UPDATE, roles=CASEWORK, rescue=rescue_step)
def draft_step(draft_id: str, step: str) -> Response:
    """One step of the form, with what the draft holds; "Save and continue" saves it and goes on."""
    if step not in STEPS:
        abort(404)
    actor = current_actor()
    if request.method == "GET":
        return _step_page(draft_id, step, drafts.read(actor, draft_id)["document"])
    try:
        _save_step(actor, request.form, draft_id, step)
    except InvalidError as error:
        typed = with_section({}, step, parse_step(step_control(step), request.form))
        return refused("forms/step.html", error, **_step_context(draft_id, step, typed))
    if request.form.get("action") == "add":  # saved, and one more item of a list to fill in
        return see_other(url_for("web.draft_step", draft_id=draft_id, step=step))
    following = STEPS.index(step) + 1
    if following < len(STEPS):
        return see_other(url_for("web.draft_step", draft_id=draft_id, step=STEPS[following]))
    return see_other(url_for("web.draft_check", draft_id=draft_id))


def _step_page(draft_id: str, step: str, document: dict[str, Any]) -> Response:
    return page_of("forms/step.html", errors={}, **_step_context(draft_id, step, document))


def _step_context(draft_id: str, step: str, document: dict[str, Any]) -> dict[str, Any]:
    position = STEPS.index(step)
    return {"draft_id": draft_id, "step": step, "steps": STEPS, "position": position,
            "section": step_control(step), "document": document,
            "previous": STEPS[position - 1] if position else None}


@bp.route("/drafts/<draft_id>/check", methods=["GET", "POST"])
@page(Permission.FORM_CREATE, roles=CASEWORK)
def draft_check(draft_id: str) -> Response:
    """Check your answers, a link to change each; "Submit" signs the form with the agency's hosted key."""
    actor = current_actor()
    draft = drafts.read(actor, draft_id)
    context = {"draft_id": draft_id, "steps": STEPS, "controls": [step_control(s) for s in STEPS],
               "document": draft["document"], "amends": draft["amends"]}
    if request.method == "GET" or request.form.get("action") != "submit":
        return page_of("forms/check.html", errors={}, **context)
    try:
        if draft["amends"]:
            written = form_writes.amend(actor, draft["amends"], draft["amends_revision"], draft["document"])
        else:
            written = form_writes.submit(actor, draft_id, draft["document"])
    except InvalidError as error:
        return refused("forms/check.html", error, **context)
    drafts.discard(actor, draft_id)
    duplicates = [item["form_id"] for item in written.body.get("possible_duplicates") or []]
    if duplicates:
        flash(" ".join(duplicates), DUPLICATES)
    return see_other(url_for("web.form_page", form_id=written.id))
