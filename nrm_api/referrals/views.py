"""Referrals, transfers of lead and the changes feed over HTTP: thin views over the services."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import request
from flask_smorest import Blueprint

from ..accounts.auth import current_actor, requires
from ..permissions import Permission
from ..replies import IDEMPOTENCY_KEY, IF_MATCH, NOT_FOUND, SIGNED, answer, body_of, request_facts, signed
from ..webhooks import outbox
from . import queries, service, transfers
from .rules import status_table_markdown
from .schemas import (
    STATUS_MACHINE,
    ChangesQuerySchema,
    ChangesSchema,
    HistorySchema,
    ReferralDetailSchema,
    ReferralPageSchema,
    ReferralQuerySchema,
    ReferralWrittenSchema,
    TransferSchema,
)

blp = Blueprint("referrals", __name__, url_prefix="/api/v1/referrals",
                description="Referrals between agencies. Status values follow HL7 FHIR Task; transitions:\n\n"
                + status_table_markdown())
transfers_blp = Blueprint("transfers", __name__, url_prefix="/api/v1/transfers",
                          description="Transfer of a case's lead to another agency, which accepts")
changes_blp = Blueprint("changes", __name__, url_prefix="/api/v1/changes",
                        description="Your agency's changes feed: what webhooks carry, to poll with a cursor")

def _headers() -> tuple[str | None, str | None]:
    return request.headers.get("X-JWS-Signature"), request.headers.get("If-Match")


@blp.route("", methods=["POST"])
@requires(Permission.REFERRAL_CREATE)
@blp.doc(requestBody=body_of("ReferralCreate"), parameters=[*SIGNED["parameters"], IDEMPOTENCY_KEY], **NOT_FOUND)
@blp.response(201, ReferralWrittenSchema)
def create() -> Any:
    """Refer a form to another agency (signed). 403 `consent-required` when consent does not cover it."""
    return answer(service.create(current_actor(), request.get_json(), request.headers.get("X-JWS-Signature"),
                                 request_facts()))


@blp.route("", methods=["GET"])
@requires(Permission.REFERRAL_READ)
@blp.arguments(ReferralQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, ReferralPageSchema)
def list_referrals(query: dict[str, Any]) -> Any:
    """Referrals your agency sent (outgoing) or received (incoming), by last change, a page at a time."""
    return queries.listing(current_actor(), query)


@blp.route("/<referral_id>", methods=["GET"])
@requires(Permission.REFERRAL_READ)
@signed
@blp.response(200, ReferralDetailSchema)
def read(referral_id: str) -> Any:
    """One referral (its sender and recipient), with `ETag`; signed by the service, never cached.

    The note is opened only while your agency may read the form; `withheld` says when it is not.
    """
    body, etag = queries.read(current_actor(), referral_id)
    return body, {"ETag": etag}


@blp.route("/<referral_id>/status", methods=["POST"])
@requires(Permission.REFERRAL_UPDATE)
@blp.doc(requestBody=body_of("StatusChange"), parameters=[*SIGNED["parameters"], IF_MATCH], **STATUS_MACHINE)
@blp.response(200, ReferralWrittenSchema)
def change_status(referral_id: str) -> Any:
    """Move a referral on (signed, `If-Match`): 409 for a move the state machine lacks, 412 stale, 428 none."""
    signature, if_match = _headers()
    return answer(service.change_status(current_actor(), referral_id, request.get_json(), signature, if_match,
                                        request_facts()))


@blp.route("/<referral_id>/history", methods=["GET"])
@requires(Permission.REFERRAL_READ)
@signed
@blp.response(200, HistorySchema)
def history(referral_id: str) -> Any:
    """Every status event with actor and agency; its signed body and signature while you may read the form."""
    return queries.history(current_actor(), referral_id)


@transfers_blp.route("", methods=["POST"])
@requires(Permission.FORM_TRANSFER)
@transfers_blp.doc(requestBody=body_of("TransferCreate"), **SIGNED, **NOT_FOUND)
@transfers_blp.response(201, TransferSchema)
def request_transfer() -> Any:
    """Offer the lead of a case to another agency (signed, the agency leading it)."""
    written = transfers.request(current_actor(), request.get_json(), request.headers.get("X-JWS-Signature"),
                                request_facts())
    return answer(written)


@transfers_blp.route("", methods=["GET"])
@requires(Permission.FORM_TRANSFER)
@transfers_blp.arguments(ma.Schema.from_dict({"status": ma.fields.String(validate=ma.validate.OneOf(
    ("requested", "accepted", "declined", "cancelled")))})(), location="query", unknown=ma.RAISE)
@transfers_blp.response(200, TransferSchema(many=True))
def list_transfers(query: dict[str, Any]) -> Any:
    """Transfers your agency offered or was offered."""
    return transfers.listing(current_actor(), query.get("status"))


@transfers_blp.route("/<transfer_id>", methods=["GET"])
@requires(Permission.FORM_TRANSFER)
@signed
@transfers_blp.response(200, TransferSchema)
def read_transfer(transfer_id: str) -> Any:
    """One transfer, with `ETag`."""
    body, etag = transfers.read(current_actor(), transfer_id)
    return body, {"ETag": etag}


@transfers_blp.route("/<transfer_id>/status", methods=["POST"])
@requires(Permission.FORM_TRANSFER)
@transfers_blp.doc(requestBody=body_of("TransferDecision"), parameters=[*SIGNED["parameters"], IF_MATCH])
@transfers_blp.response(200, TransferSchema)
def decide_transfer(transfer_id: str) -> Any:
    """Accept or decline (the recipient) or cancel (the sender) a requested transfer (signed, `If-Match`)."""
    signature, if_match = _headers()
    written = transfers.decide(current_actor(), transfer_id, request.get_json(), signature, if_match, request_facts())
    return answer(written, located=True)  # a transfer's answers have always named where it is read


@changes_blp.route("", methods=["GET"])
@requires(Permission.REFERRAL_READ)
@changes_blp.arguments(ChangesQuerySchema, location="query", unknown=ma.RAISE)
@changes_blp.response(200, ChangesSchema)
def changes(query: dict[str, Any]) -> Any:
    """Events for your agency after `cursor`, oldest first: poll with `next_cursor`, never miss or repeat one."""
    return outbox.changes(current_actor(), query.get("cursor"), query["limit"])
