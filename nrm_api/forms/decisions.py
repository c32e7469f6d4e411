"""What happens to a form after it is submitted.

The authority's decision, consent withdrawn and crypto-shredding.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from sqlalchemy import delete

from ..accounts.signing import verify_write
from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..crypto.canonical import sha256_hex
from ..database import utcnow
from ..errors import ConflictError, Forbidden, InvalidError
from ..extensions import db
from ..fields import SPECIAL, Strict, code, meta, text
from ..permissions import Permission
from ..writes import RequestFacts, Written, canonical_body, receipt
from . import access, sealing
from .models import Form, FormBlindIndex, FormDecision, FormKey
from .service import accessible, amended, check_if_match, readable
from .signals import consent_withdrawn

SHRED_REASONS = ("retention_expired", "erasure_request", "consent_withdrawn", "court_order")


class DecisionSchema(Strict):
    """An authority's identification decision on a form."""

    trafficking_status = code("trafficking_status", "public", "The decision.", required=True)
    deciding_organisation_type = code("deciding_organisation_type", "public", "Who decided (HTCDS).")
    note = text(SPECIAL, "Reasons, as far as they may be shared.", 5000)


class ConsentWithdrawalSchema(Strict):
    """The person withdrew consent."""

    withdrawn_at = ma.fields.AwareDateTime(required=True, metadata=meta("public", "When the person withdrew it."))
    recorded_by = text("public", "Who recorded it (staff role or name).", 200, required=True)


def _load(schema: ma.Schema, raw: Any, resource: str) -> None:
    try:
        schema.load(raw)
    except ma.ValidationError as error:
        raise InvalidError("the body does not validate", errors={"json": error.messages}, reason="invalid_document",
                           resource=resource) from None


def decide(actor: Actor, form_id: str, raw: Any, signature: str | None, if_match: str | None,
           facts: RequestFacts) -> Written:
    """Record an authority's signed identification decision (bound to ``POST /api/v1/forms/ID/decision``)."""
    payload = canonical_body(raw)
    form = readable(actor, form_id, Permission.FORM_DECIDE)
    resource = f"form:{form.id}"
    if not _is_authority(actor):
        raise Forbidden("only an authority (the Ministry of the Interior) records identification decisions",
                        reason="not_an_authority", resource=resource)
    check_if_match(form, if_match)
    signed = verify_write(actor, signature, payload, facts, Permission.FORM_DECIDE, resource)
    _load(DecisionSchema(), raw, resource)
    note = None
    if raw.get("note"):
        dek = sealing.open_key(db.session.get(FormKey, form.id))
        note = sealing.seal_value(dek, sealing.place(form, 0, "decision.note"), raw["note"])
    db.session.add(FormDecision(form_id=form.id, trafficking_status=raw["trafficking_status"], note_sealed=note,
                                agency_id=str(actor.agency), decided_by=actor.subject, signature=signed.value,
                                signed_kid=signed.kid, sha256=sha256_hex(payload)))
    return _changed(actor, form, Permission.FORM_DECIDE, payload, ["decision.trafficking_status"])


def withdraw_consent(actor: Actor, form_id: str, raw: Any, signature: str | None, facts: RequestFacts) -> Written:
    """Record that the person withdrew consent; listeners (the referrals) end what it covered, in the same commit.

    ``signature`` is bound to ``facts``: ``POST /api/v1/forms/ID/consent-withdrawal``.
    """
    payload = canonical_body(raw)
    found = withdrawer(actor, form_id)
    form, resource = found.form, f"form:{form_id}"
    signed = verify_write(actor, signature, payload, facts, Permission.FORM_WITHDRAW_CONSENT, resource)
    _load(ConsentWithdrawalSchema(), raw, resource)
    if form.status != "active":
        raise ConflictError(f"the form is {form.status.replace('_', ' ')}", reason=f"form_{form.status}",
                            resource=resource)
    form.status, form.consent_withdrawn_at = "consent_withdrawn", utcnow()
    form.consent_withdrawal = {"body": raw, "signature": signed.value, "kid": signed.kid}
    consent_withdrawn.send(form, actor=actor)
    return _changed(actor, form, Permission.FORM_WITHDRAW_CONSENT, payload, [])


def withdrawer(actor: Actor, form_id: str) -> access.Access:
    """The form, when ``actor``'s agency records consent withdrawals on it: the case's lead, or an authority.

    Every door asks this before it offers the withdrawal (``Forbidden`` otherwise, 403; 404 as ``accessible``).
    """
    found = accessible(actor, form_id, Permission.FORM_WITHDRAW_CONSENT)
    if not found.owner and not _is_authority(actor):
        raise Forbidden("consent withdrawal is recorded by the agency leading the case or by an authority",
                        reason="not_lead_or_authority", resource=f"form:{form_id}")
    return found


def _is_authority(actor: Actor) -> bool:
    agency = db.session.get(Agency, actor.agency) if actor.agency else None
    return agency is not None and agency.kind == "authority"


def _changed(actor: Actor, form: Form, action: Permission, payload: bytes, fields: list[str]) -> Written:
    form.revision += 1
    form.updated_at = utcnow()
    event = audit.record(actor, action, "allowed", resource=f"form:{form.id}", fields=fields)
    audit.write_now(db.session)
    written = amended(form, receipt(form.id, form.version, payload, event.sha256))
    db.session.commit()
    return written


def shred(actor: Actor, form_id: str, reason: str) -> None:
    """Destroy a form's data key: its sealed fields are unrecoverable, its public summary stays."""
    if reason not in SHRED_REASONS:
        raise InvalidError(f"reason must be one of {', '.join(SHRED_REASONS)}")
    form = db.session.get(Form, form_id)
    key = db.session.get(FormKey, form_id)
    if form is None or key is None:
        raise InvalidError(f"no form {form_id}")
    key.wrapped_dek = None  # the only change to stored key material: the signed versions are immutable
    # the blind indexes are keyed hashes of the person's name: they go with the key
    db.session.execute(delete(FormBlindIndex).where(FormBlindIndex.form_id == form_id))
    form.status, form.shredded_at = "shredded", utcnow()
    form.revision += 1
    audit.record(actor, AuditAction.FORM_SHRED, "allowed", resource=f"form:{form_id}", reason=reason)
    db.session.commit()
