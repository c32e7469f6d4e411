"""The forms API: thin views over ``forms.service`` and ``forms.decisions``."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response, request
from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..audit import auditor
from ..audit.schemas import EventPageSchema
from ..paging import PageQuerySchema
from ..permissions import Permission
from ..replies import IDEMPOTENCY_KEY, IF_MATCH, SIGNED, answer, body_of, request_facts, signed
from ..vocabulary import code_lists
from . import decisions, drafts, exports, service
from .schemas import (
    DraftSchema,
    FormPageQuerySchema,
    FormPageSchema,
    FormSchema,
    FormWrittenSchema,
    HtcdsExportRequestSchema,
)

blp = Blueprint("forms", __name__, url_prefix="/api/v1/forms", description="Identification forms")
exports_blp = Blueprint("exports", __name__, url_prefix="/api/v1/exports",
                        description="The network's cases in HTCDS, encrypted to a recipient (authority and IOM)")
vocabulary_blp = Blueprint("vocabulary", __name__, url_prefix="/api/v1/vocabulary",
                           description="Code lists of the form, with ru/be/en labels")

WRITE_BODY = {"requestBody": body_of("FormDocument")}
_LABELS = {"type": "object", "required": ["en", "ru", "be"], "additionalProperties": False,
           "properties": {language: {"type": "string"} for language in ("en", "ru", "be")}}
VOCABULARY = {"type": "object", "additionalProperties": {"type": "object", "additionalProperties": _LABELS}}


@blp.route("", methods=["POST"])
@requires(Permission.FORM_CREATE)
@blp.doc(**WRITE_BODY, parameters=[*SIGNED["parameters"], IDEMPOTENCY_KEY])
@blp.response(201, FormWrittenSchema)
def submit() -> Any:
    """Submit a signed identification form."""
    return answer(service.submit(current_actor(), request.get_json(), request.headers.get("X-JWS-Signature"),
                                 request_facts()))


@blp.route("", methods=["GET"])
@requires(Permission.FORM_READ)
@blp.arguments(FormPageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, FormPageSchema)
def list_forms(query: dict[str, Any]) -> Any:
    """The forms your agency may see: non-identifying summaries, filtered, a page at a time."""
    cursor, limit = query.pop("cursor", None), query.pop("limit")
    return service.summaries(current_actor(), cursor, limit, query)


@blp.route("/<form_id>", methods=["GET"])
@requires(Permission.FORM_READ)
@signed
@blp.response(200, FormSchema)
def read(form_id: str) -> Any:
    """Read a form: only the fields you may see, the rest named in `withheld`; signed, never cached."""
    body, etag = service.read(current_actor(), form_id)
    return body, {"ETag": etag}


@blp.route("/<form_id>", methods=["PUT"])
@requires(Permission.FORM_UPDATE)
@blp.doc(**WRITE_BODY, parameters=[*SIGNED["parameters"], IF_MATCH])
@blp.response(200, FormWrittenSchema)
def update(form_id: str) -> Any:
    """A new signed version of a form (its author's agency)."""
    return answer(service.update(current_actor(), form_id, request.get_json(), request.headers.get("X-JWS-Signature"),
                                 request.headers.get("If-Match"), request_facts()))


@blp.route("/<form_id>/decision", methods=["POST"])
@requires(Permission.FORM_DECIDE)
@blp.doc(requestBody=body_of("Decision"), parameters=[*SIGNED["parameters"], IF_MATCH])
@blp.response(200, FormWrittenSchema)
def decide(form_id: str) -> Any:
    """Record the identification decision (authority agencies only)."""
    return answer(decisions.decide(current_actor(), form_id, request.get_json(), request.headers.get("X-JWS-Signature"),
                                   request.headers.get("If-Match"), request_facts()))


@blp.route("/<form_id>/consent-withdrawal", methods=["POST"])
@requires(Permission.FORM_WITHDRAW_CONSENT)
@blp.doc(requestBody=body_of("ConsentWithdrawal"), **SIGNED)
@blp.response(200, FormWrittenSchema)
def withdraw_consent(form_id: str) -> Any:
    """Record that the person withdrew consent."""
    return answer(decisions.withdraw_consent(current_actor(), form_id, request.get_json(),
                                             request.headers.get("X-JWS-Signature"), request_facts()))


@blp.route("/<form_id>/access-log", methods=["GET"])
@requires(Permission.AUDIT_READ)
@blp.arguments(PageQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, EventPageSchema)
def access_log(query: dict[str, Any], form_id: str) -> Any:
    """Every audited access to this form (auditors): who, when, which fields. Never a value."""
    return auditor.access_log(current_actor(), f"form:{form_id}", query.get("cursor"), query["limit"])


@vocabulary_blp.route("", methods=["GET"])
@requires(Permission.VOCABULARY_READ)
@vocabulary_blp.doc(responses={"200": {"description": "Every code list: {list: {code: {en, ru, be}}}", "content": {
    "application/json": {"schema": VOCABULARY}}}})
def vocabulary() -> Any:
    """Every code list of the form with its labels in English, Russian and Belarusian."""
    return code_lists()


drafts_blp = Blueprint("drafts", __name__, url_prefix="/api/v1/drafts",
                       description="Drafts of forms: your agency only, unsigned, never shared")


@drafts_blp.route("", methods=["POST"])
@requires(Permission.FORM_CREATE)
@drafts_blp.doc(requestBody=body_of("FormDraft"))
@drafts_blp.response(201, DraftSchema)
def create_draft() -> Any:
    """Save a draft: it may be incomplete, but what it holds must validate."""
    return drafts.create(current_actor(), request.get_json())


@drafts_blp.route("", methods=["GET"])
@requires(Permission.FORM_READ)
@drafts_blp.response(200, DraftSchema(many=True))
def list_drafts() -> Any:
    """Your agency's drafts, newest first."""
    return drafts.listing(current_actor())


@drafts_blp.route("/<draft_id>", methods=["GET"])
@requires(Permission.FORM_READ)
@drafts_blp.response(200, DraftSchema)
def read_draft(draft_id: str) -> Any:
    """A draft, whole."""
    return drafts.read(current_actor(), draft_id)


@drafts_blp.route("/<draft_id>", methods=["PUT"])
@requires(Permission.FORM_UPDATE)
@drafts_blp.doc(requestBody=body_of("FormDraft"))
@drafts_blp.response(200, DraftSchema)
def replace_draft(draft_id: str) -> Any:
    """Overwrite a draft."""
    return drafts.replace(current_actor(), draft_id, request.get_json())


@drafts_blp.route("/<draft_id>", methods=["DELETE"])
@requires(Permission.FORM_UPDATE)
@drafts_blp.response(204)
def discard_draft(draft_id: str) -> None:
    """Discard a draft."""
    drafts.discard(current_actor(), draft_id)


@exports_blp.route("/htcds", methods=["POST"])
@requires(Permission.FORM_EXPORT)
@exports_blp.arguments(HtcdsExportRequestSchema)
@exports_blp.response(200, content_type="application/jose",
                      description="One compact JWE (alg ECDH-ES, enc A256GCM, cty the format) to the recipient")
def export_htcds(query: dict[str, Any]) -> Response:
    """The cases your agency may see, only the fields it may see, in HTCDS columns, encrypted to the recipient.

    For the authority's and international organisations' systems and supervisors; every form read
    is audited as a read, and the export with its row count.
    """
    done = exports.export_for(current_actor(), query["recipient"], query["format"])
    response = Response(done.jwe, mimetype="application/jose")
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Row-Count"] = str(done.rows)
    return response
