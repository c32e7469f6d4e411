"""Wire shapes of referrals, transfers and the changes feed."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from ..crypto.jws import RECEIPT_DESCRIPTION
from ..fields import PUBLIC, SPECIAL, Strict, StrictBoolean, meta, text
from ..paging import PageQuerySchema
from .rules import FINAL, OVERRIDE_REASONS, PRIORITIES, PURPOSES, SERVICES, STATUSES, status_table

TRANSFER_REASONS = ("better_placed", "relocation", "capacity", "other")
TRANSFER_DECISIONS = ("accepted", "declined", "cancelled")


def _one_of(values: tuple[str, ...] | list[str], description: str, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.OneOf(values), metadata=meta(PUBLIC, description), **kwargs)


class ReferralCreateSchema(Strict):
    """A referral of a form to another agency (signed)."""

    form_id = ma.fields.String(required=True, validate=ma.validate.Length(1, 36),
                               metadata=meta(PUBLIC, "The form referred."))
    to_agency = ma.fields.String(required=True, validate=ma.validate.Length(1, 64),
                                 metadata=meta(PUBLIC, "The recipient agency's id."))
    purpose = _one_of(PURPOSES, "identification: only to an authority; assistance: with services.", required=True)
    services = ma.fields.List(ma.fields.String(validate=ma.validate.OneOf(SERVICES)), load_default=list,
                              validate=ma.validate.Length(max=len(SERVICES)),
                              metadata=meta(PUBLIC, "Assistance asked for: non-empty for assistance, "
                                                    "empty or absent for identification."))
    priority = _one_of(list(PRIORITIES), "emergency: within 24 h; urgent: 72 h; normal: 2 weeks.",
                       load_default="normal")
    note = text(SPECIAL, "For the recipient: sealed under the form's key.", 5000)
    consent_override_reason = _one_of(
        OVERRIDE_REASONS, "Send although consent does not cover it (supervisors only; audited).")


class StatusChangeSchema(Strict):
    """A status change (signed)."""

    status = _one_of([s for s in STATUSES if s != "requested"], "The new status.", required=True)
    reason = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 1000),
                              metadata=meta(SPECIAL, "Required for rejected, on-hold, failed and cancelled."))
    outcome = ma.fields.String(allow_none=True, validate=ma.validate.Length(1, 2000),
                               metadata=meta(SPECIAL, "What was done (completed only)."))


class ReferralSchema(ma.Schema):
    """A referral as its sender and recipient see it."""

    id = ma.fields.String(required=True)
    form_id = ma.fields.String(required=True)
    from_agency = ma.fields.String(required=True)
    to_agency = ma.fields.String(required=True)
    purpose = ma.fields.String(required=True)
    services = ma.fields.List(ma.fields.String(), required=True)
    priority = ma.fields.String(required=True)
    due_at = ma.fields.String(required=True)
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(STATUSES))
    final = StrictBoolean(required=True, metadata={"description": f"One of {', '.join(sorted(FINAL))}."})
    consent_override = ma.fields.String(allow_none=True)
    created_at = ma.fields.String(required=True)
    updated_at = ma.fields.String(required=True)


class ReferralDetailSchema(ReferralSchema):
    """One referral: its note only while the caller's agency may read the form."""

    note = ma.fields.String(metadata={"x-sensitivity": SPECIAL, "description": (
        "For the recipient, sealed under the form's key: opened only while your agency may read the form.")})
    withheld = ma.fields.List(ma.fields.String(), required=True, metadata={"description": (
        "`[\"note\"]` when your agency may no longer read the form (its referral is over, consent was "
        "withdrawn) or the form was shredded: any note is not opened. Status and dates stay visible.")})


class ReferralWrittenSchema(ma.Schema):
    """The answer to an accepted referral write."""

    id = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    receipt = ma.fields.String(required=True, metadata={"description": RECEIPT_DESCRIPTION})


class ReferralPageSchema(ma.Schema):
    """A page of referrals."""

    items = ma.fields.List(ma.fields.Nested(ReferralSchema))
    next_cursor = ma.fields.String(allow_none=True)


class ReferralQuerySchema(PageQuerySchema):
    """Filters of the referral list."""

    direction = ma.fields.String(validate=ma.validate.OneOf(("incoming", "outgoing")))
    status = ma.fields.String(validate=ma.validate.OneOf(STATUSES))
    updated_after = ma.fields.AwareDateTime()


class HistoryEventSchema(ma.Schema):
    """One signed event of a referral."""

    sequence = ma.fields.Integer(required=True)
    status = ma.fields.String(required=True)
    actor = ma.fields.String(required=True)
    agency = ma.fields.String(required=True)
    at = ma.fields.String(required=True)
    body = ma.fields.Dict(required=True, allow_none=True, metadata={
        "description": "The signed body; verify `signature` over its RFC 8785 form. Null when withheld."})
    signature = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "Detached JWS (header..signature) over the body; null when the body is withheld."})
    kid = ma.fields.String(required=True)
    sha256 = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "Hex SHA-256 of the canonical body; null when the body is withheld."})
    audit_seq = ma.fields.Integer(required=True, allow_none=True, metadata={
        "description": "The audit event's position in the log; null until sequenced."})
    withheld = ma.fields.List(ma.fields.String(), required=True, metadata={"description": (
        "`[\"body\", \"signature\", \"sha256\"]` when your agency may no longer read the form (its "
        "referral is over, consent was withdrawn) or the form was shredded: the body is not opened, and "
        "the signature and hash, which would confirm a guess of it, go with it. Else empty.")})


class HistorySchema(ma.Schema):
    """A referral's history, oldest first."""

    referral_id = ma.fields.String(required=True)
    events = ma.fields.List(ma.fields.Nested(HistoryEventSchema), required=True)


class ChangeSchema(ma.Schema):
    """A feed entry: ids, type and status, never case data."""

    id = ma.fields.String(required=True)
    type = ma.fields.String(required=True)
    timestamp = ma.fields.String(required=True)
    data = ma.fields.Dict(required=True)


class ChangesSchema(ma.Schema):
    """A page of the changes feed."""

    items = ma.fields.List(ma.fields.Nested(ChangeSchema), required=True)
    next_cursor = ma.fields.String(required=True, metadata={
        "description": "Poll again with this; it stays put when there is nothing new."})


class ChangesQuerySchema(ma.Schema):
    """Where to resume the feed."""

    cursor = ma.fields.String()
    limit = ma.fields.Integer(load_default=100, validate=ma.validate.Range(1, 1000))


class TransferCreateSchema(Strict):
    """Hand the lead of a case to another agency (signed, by the agency leading it)."""

    form_id = ma.fields.String(required=True, validate=ma.validate.Length(1, 36))
    to_agency = ma.fields.String(required=True, validate=ma.validate.Length(1, 64))
    reason = _one_of(TRANSFER_REASONS, "Why the lead moves.", required=True)


class TransferDecisionSchema(Strict):
    """The recipient accepts or declines; the sender may cancel while it is requested (signed)."""

    status = _one_of(TRANSFER_DECISIONS, "The decision.", required=True)


class TransferSchema(ma.Schema):
    """A transfer of lead."""

    id = ma.fields.String(required=True)
    form_id = ma.fields.String(required=True)
    from_agency = ma.fields.String(required=True)
    to_agency = ma.fields.String(required=True)
    status = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    created_at = ma.fields.String(required=True)
    updated_at = ma.fields.String(required=True)
    statistics = ma.fields.Dict(metadata={"description": "The form's non-identifying summary."})
    receipt = ma.fields.String()


STATUS_MACHINE = {"x-referral-status-machine": status_table()}
