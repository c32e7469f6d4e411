"""The referrals' writes: refer a form, move a referral through its statuses, cancel on withdrawn consent.

Each write is signed by the agency that makes it, kept as an immutable event, told to both sides
through the changes feed and the webhook outbox, audited, and committed once. A refusal is audited
on its own and changes nothing else.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import marshmallow as ma
from sqlalchemy import select

from .. import preconditions
from ..accounts.signing import WriteSignature, verify_write
from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actor import Actor
from ..crypto.canonical import canonical, sha256_hex
from ..crypto.envelope import FieldPlace
from ..crypto.jws import sign_service
from ..database import utcnow
from ..errors import ConflictError, ConsentRequired, DomainError, Forbidden, InvalidError, NotFoundError
from ..extensions import db, keyring
from ..forms import sealing
from ..forms.access import Consent
from ..forms.models import Form, FormKey, FormVersion
from ..forms.service import accessible
from ..forms.service import load as load_form
from ..forms.signals import consent_withdrawn
from ..idempotency import service as idempotency
from ..permissions import Permission, role_allows
from ..webhooks import outbox
from ..writes import RequestFacts, Written, canonical_body, receipt
from . import rules
from .models import Referral, ReferralEvent, Transfer
from .schemas import ReferralCreateSchema, StatusChangeSchema

CREATE_SCHEMA, STATUS_SCHEMA = ReferralCreateSchema(), StatusChangeSchema()
Between = TypeVar("Between", Referral, Transfer)


def load(schema: ma.Schema, raw: Any, resource: str) -> dict[str, Any]:
    """The body, validated; a 422 naming each field."""
    if not isinstance(raw, dict):
        raise InvalidError("the body must be a JSON object", reason="invalid_document", resource=resource)
    try:
        loaded: dict[str, Any] = schema.load(raw)
    except ma.ValidationError as error:
        raise InvalidError("the body does not validate", errors={"json": error.messages}, reason="invalid_document",
                           resource=resource) from None
    return loaded


def refuse(action: Permission, resource: str, reason: str, error: DomainError) -> NoReturn:
    """Raise ``error``, naming for the door's boundary what it audits: the action, resource and reason."""
    error.action, error.resource, error.reason = action, resource, reason
    raise error


def create(actor: Actor, raw: Any, signature: str | None, facts: RequestFacts) -> Written:
    """Refer a form to another agency: signed, idempotent, gated by consent.

    ``signature`` is bound to ``facts``: ``POST /api/v1/referrals`` and its ``Idempotency-Key`` (required).
    """
    payload = canonical_body(raw)
    action, resource = Permission.REFERRAL_CREATE, f"referral:{uuid.uuid4()}"
    attempt = idempotency.begin(actor, facts, payload, action, "referral")
    if attempt.first is not None:  # a retry: its own signature first, then the first result
        verify_write(actor, signature, payload, facts, action, attempt.first.resource)
        return idempotency.replayed(actor, attempt, attempt.first)
    signed = verify_write(actor, signature, payload, facts, action, resource)
    data = load(CREATE_SCHEMA, raw, resource)
    found = accessible(actor, data["form_id"], action)
    form = found.form
    recipient = _recipient(actor, form, data, resource)
    override = _consent_gate(actor, form, recipient, data, resource)
    now = utcnow()
    referral = Referral(id=resource.split(":", 1)[1], form_id=form.id, from_agency=str(actor.agency),
                        to_agency=recipient.id, purpose=data["purpose"], services=sorted(set(data["services"])),
                        priority=data["priority"], due_at=now + rules.PRIORITIES[data["priority"]],
                        status="requested", revision=1, consent_override=override,
                        disclosure_cap=None if found.owner else sorted(found.classes), created_by=actor.subject,
                        created_at=now, updated_at=now)
    db.session.add(referral)
    db.session.flush()
    event = audit.record(actor, action, "allowed", resource=resource, fields=["referral.*"],
                         reason=f"consent_override:{override}" if override else None)
    outbox.emit([referral.from_agency, referral.to_agency], "referral.requested", resource, "requested")
    audit.write_now(db.session)
    _event(referral, form, "requested", actor, raw, signed, event.id)
    written = _written(referral, True, receipt(referral.id, 1, payload, event.sha256))
    return idempotency.commit_with(actor, attempt, written)


def _written(referral: Referral, created: bool, signed_receipt: str) -> Written:
    """What a write of a referral tells its writer: the referral's id, status and receipt."""
    return Written("referral", referral.id, referral.revision, created,
                   {"id": referral.id, "status": referral.status, "receipt": signed_receipt})


def _recipient(actor: Actor, form: Form, data: dict[str, Any], resource: str) -> Agency:
    action = Permission.REFERRAL_CREATE
    if form.status != "active":
        refuse(action, resource, f"form_{form.status}",
               ConflictError(f"the form is {form.status.replace('_', ' ')}: it cannot be referred"))
    recipient = db.session.get(Agency, data["to_agency"])
    if recipient is None or recipient.id == actor.agency:
        refuse(action, resource, "invalid_recipient", InvalidError(
            "refer to another agency of the directory", errors={"json": {"to_agency": ["no such agency"]}}))
    errors = rules.purpose_errors(data["purpose"], data["services"], recipient.kind)
    if errors:
        refuse(action, resource, "invalid_purpose",
               InvalidError("the purpose does not fit the recipient or services", errors={"json": errors}))
    open_one = db.session.scalar(select(Referral.id).where(
        Referral.form_id == form.id, Referral.to_agency == recipient.id, Referral.purpose == data["purpose"],
        Referral.status.in_(rules.OPEN)).limit(1))
    if open_one is not None:
        refuse(action, resource, "duplicate_referral", ConflictError(
            f"referral {open_one} of this form to {recipient.id} for {data['purpose']} is still open"))
    return recipient


def _consent_gate(actor: Actor, form: Form, recipient: Agency, data: dict[str, Any], resource: str) -> str | None:
    """``None`` when consent covers the referral; the override reason when a supervisor overrides; else 403."""
    version = db.session.get(FormVersion, (form.id, form.version))
    if version is not None and Consent(form, version).covers(data["purpose"], recipient, utcnow().date()):
        return None
    reason = data.get("consent_override_reason")
    if reason and role_allows(actor.role, Permission.REFERRAL_OVERRIDE_CONSENT):
        return str(reason)
    detail = ("the person's consent does not cover this recipient and purpose" if not reason else
              "your role may not override consent: ask a supervisor")
    refuse(Permission.REFERRAL_CREATE, resource, "consent_required", ConsentRequired(detail))


def _event(referral: Referral, form: Form, status: str, actor: Actor, body: dict[str, Any],
           signed: WriteSignature, audit_event_id: int) -> ReferralEvent:
    """Keep a signed event, its body sealed under the form's key."""
    sequence = referral.revision
    sealed = sealing.seal_value(_form_key(form), event_place(referral, form, sequence), body)
    row = ReferralEvent(referral_id=referral.id, sequence=sequence, status=status, actor=actor.subject,
                        agency_id=str(actor.agency), body_sealed=sealed, signature=signed.value,
                        signed_kid=signed.kid, sha256=sha256_hex(canonical(body)), audit_event_id=audit_event_id,
                        created_at=referral.updated_at)
    db.session.add(row)
    return row


def event_place(referral: Referral, form: Form, sequence: int) -> FieldPlace:
    """What an event's sealed body is bound to."""
    return FieldPlace("referral", f"{referral.id}/e{sequence}", "body", "1", form.id)


def _form_key(form: Form) -> bytes:
    try:
        return sealing.open_key(db.session.get(FormKey, form.id))
    except sealing.ShreddedError:
        raise ConflictError("the form has been shredded") from None


def between(model: type[Between], ident: str, actor: Actor, action: Permission, *, lock: bool = False) -> Between:
    """A referral or transfer the caller's agency sent or received; 404 otherwise (it may not know it exists)."""
    kind = model.__tablename__.removesuffix("s")
    query = select(model).where(model.id == ident)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    found = db.session.scalar(query) if len(ident) <= 36 else None
    if found is None or actor.agency not in (found.from_agency, found.to_agency):
        raise NotFoundError(f"no such {kind}, or none you may see", resource=f"{kind}:{ident}", action=action)
    return found


def visible(actor: Actor, referral_id: str, action: Permission, *, lock: bool = False) -> Referral:
    """A referral the caller's agency sent or received; 404 otherwise."""
    return between(Referral, referral_id, actor, action, lock=lock)


def change_status(actor: Actor, referral_id: str, raw: Any, signature: str | None, if_match: str | None,
                  facts: RequestFacts) -> Written:
    """Move a referral to a new status: the recipient forward, the sender only to cancelled.

    ``signature`` is bound to ``facts``: ``POST /api/v1/referrals/ID/status``.
    """
    payload = canonical_body(raw)
    action = Permission.REFERRAL_UPDATE
    referral = visible(actor, referral_id, action, lock=True)
    resource = f"referral:{referral.id}"
    preconditions.check_if_match(preconditions.etag(referral.revision), if_match, resource)
    signed = verify_write(actor, signature, payload, facts, action, resource)
    data = load(STATUS_SCHEMA, raw, resource)
    side = rules.SENDER if actor.agency == referral.from_agency else rules.RECIPIENT
    _check_transition(actor, referral, data, side, resource)
    form = load_form(referral.form_id)  # with its key, for the event's sealed body: one query
    assert form is not None  # noqa: S101 - a foreign key
    event = _apply(referral, data["status"], actor, action, f"status:{data['status']}")
    _event(referral, form, data["status"], actor, raw, signed, event.id)
    written = _written(referral, False, receipt(referral.id, referral.revision, payload, event.sha256))
    db.session.commit()
    return written


def _check_transition(actor: Actor, referral: Referral, data: dict[str, Any], side: str, resource: str) -> None:
    action = Permission.REFERRAL_UPDATE
    try:
        rules.transition(referral.status, data["status"], side, data.get("reason"))
    except rules.IllegalTransition as error:
        refuse(action, resource, "illegal_transition", ConflictError(str(error)))
    except rules.WrongSide as error:
        refuse(action, resource, "wrong_side", Forbidden(str(error)))
    except rules.ReasonRequired as error:
        refuse(action, resource, "reason_required",
               InvalidError(str(error), errors={"json": {"reason": ["required for this status"]}}))
    if data.get("outcome") and data["status"] != "completed":
        refuse(action, resource, "invalid_document",
               InvalidError("only a completed referral has an outcome", errors={"json": {"outcome": ["unexpected"]}}))


def _apply(referral: Referral, status: str, actor: Actor, action: Permission, reason: str,
           when: datetime | None = None) -> Any:
    referral.status = status
    referral.revision += 1
    referral.updated_at = when or utcnow()
    event = audit.record(actor, action, "allowed", resource=f"referral:{referral.id}", reason=reason)
    outbox.emit([referral.from_agency, referral.to_agency], "referral.status-changed", f"referral:{referral.id}",
                status)
    audit.write_now(db.session)
    return event


@consent_withdrawn.connect
def cancel_for_withdrawal(form: Form, *, actor: Actor) -> int:
    """Cancel every open referral of a form whose consent was withdrawn, in the caller's transaction.

    The service signs each cancellation itself (the withdrawal that caused it is the agency's own
    signed write); each recipient is told through its feed and webhook, and its access ends with
    the commit.
    """
    referrals = list(db.session.scalars(select(Referral).where(
        Referral.form_id == form.id, Referral.status.in_(rules.OPEN)).with_for_update()))
    for referral in referrals:
        body = {"status": "cancelled", "reason": "consent_withdrawn"}
        payload = canonical(body)
        signature = sign_service(payload, keyring().signing_key, "nrm+jws", detached=True)
        event = _apply(referral, "cancelled", actor, Permission.REFERRAL_UPDATE, "consent_withdrawn")
        _event(referral, form, "cancelled", actor, body,
               WriteSignature(signature, keyring().signing_key.kid), event.id)
    return len(referrals)
