"""Transfer of responsibility: the agency leading a case hands the lead to another, which accepts.

Distinct from a referral (which asks for one thing and leaves the lead where it is), as in
Primero: once accepted, the new lead reads the whole form and may amend it; the author keeps its
own access; a lead that was not the author loses it.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import or_, select

from ..accounts.signing import verify_write
from ..agencies.models import Agency
from ..audit import events as audit
from ..audit.actor import Actor
from ..database import utcnow
from ..errors import ConflictError, ConsentRequired, Forbidden, InvalidError
from ..extensions import db
from ..forms.access import Consent
from ..forms.models import Form, FormVersion
from ..forms.service import owned
from ..permissions import Permission
from ..preconditions import check_if_match, etag
from ..webhooks import outbox
from ..writes import RequestFacts, Written, canonical_body, receipt
from .models import Transfer
from .schemas import TransferCreateSchema, TransferDecisionSchema
from .service import between, load, refuse

ACTION = Permission.FORM_TRANSFER
#: Who may make each decision on a requested transfer.
DECIDERS = {"accepted": "to", "declined": "to", "cancelled": "from"}


def shape(transfer: Transfer) -> dict[str, Any]:
    """A transfer as both agencies see it, with the form's non-identifying summary."""
    form = db.session.get(Form, transfer.form_id)
    return {"id": transfer.id, "form_id": transfer.form_id, "from_agency": transfer.from_agency,
            "to_agency": transfer.to_agency, "status": transfer.status, "reason": transfer.reason,
            "created_at": transfer.created_at.isoformat(), "updated_at": transfer.updated_at.isoformat(),
            "statistics": form.summary if form is not None else {}}


def request(actor: Actor, raw: Any, signature: str | None, facts: RequestFacts) -> Written:
    """Offer the lead of a case to another agency (signed, by the agency leading it).

    ``signature`` is bound to ``facts``: ``POST /api/v1/transfers``.
    """
    payload = canonical_body(raw)
    resource = f"transfer:{uuid.uuid4()}"
    signed = verify_write(actor, signature, payload, facts, ACTION, resource)
    data = load(TransferCreateSchema(), raw, resource)
    form = owned(actor, data["form_id"], ACTION)
    if form.lead_agency_id != actor.agency:
        refuse(ACTION, resource, "not_lead_agency", Forbidden("only the agency leading the case transfers it"))
    recipient = db.session.get(Agency, data["to_agency"])
    if recipient is None or recipient.id == actor.agency:
        refuse(ACTION, resource, "invalid_recipient", InvalidError(
            "transfer to another agency of the directory", errors={"json": {"to_agency": ["no such agency"]}}))
    version = db.session.get(FormVersion, (form.id, form.version))
    if form.status != "active" or version is None or not Consent(form, version).covers(
            "data_sharing", recipient, utcnow().date()):
        refuse(ACTION, resource, "consent_required",
               ConsentRequired("the person's consent does not cover sharing the case with that agency"))
    pending = db.session.scalar(select(Transfer.id).where(Transfer.form_id == form.id,
                                                          Transfer.status == "requested").limit(1))
    if pending is not None:
        refuse(ACTION, resource, "transfer_pending",
               ConflictError(f"transfer {pending} of this case is still awaiting an answer"))
    now = utcnow()
    transfer = Transfer(id=resource.split(":", 1)[1], form_id=form.id, from_agency=str(actor.agency),
                        to_agency=recipient.id, status="requested", revision=1, reason=data["reason"],
                        requested_by=actor.subject, request_signature=signed.value, created_at=now, updated_at=now)
    db.session.add(transfer)
    return _written(actor, transfer, payload, True, "transfer.requested")


def _written(actor: Actor, transfer: Transfer, payload: bytes, created: bool, kind: str) -> Written:
    event = audit.record(actor, ACTION, "allowed", resource=f"transfer:{transfer.id}", reason=transfer.status)
    outbox.emit([transfer.from_agency, transfer.to_agency], kind, f"transfer:{transfer.id}", transfer.status)
    audit.write_now(db.session)
    body = {**shape(transfer), "receipt": receipt(transfer.id, transfer.revision, payload, event.sha256)}
    written = Written("transfer", transfer.id, transfer.revision, created, body)
    db.session.commit()
    return written


def visible(actor: Actor, transfer_id: str, *, lock: bool = False) -> Transfer:
    """A transfer the caller's agency offered or was offered; 404 otherwise."""
    return between(Transfer, transfer_id, actor, ACTION, lock=lock)


def decide(actor: Actor, transfer_id: str, raw: Any, signature: str | None, if_match: str | None,
           facts: RequestFacts) -> Written:
    """Accept or decline a transfer offered to the caller's agency, or cancel one it offered.

    ``signature`` is bound to ``facts``: ``POST /api/v1/transfers/ID/status``.
    """
    payload = canonical_body(raw)
    transfer = visible(actor, transfer_id, lock=True)
    resource = f"transfer:{transfer.id}"
    check_if_match(etag(transfer.revision), if_match, resource)
    signed = verify_write(actor, signature, payload, facts, ACTION, resource)
    status = load(TransferDecisionSchema(), raw, resource)["status"]
    side = "to" if actor.agency == transfer.to_agency else "from"
    if transfer.status != "requested":
        refuse(ACTION, resource, "illegal_transition", ConflictError(f"the transfer is {transfer.status}"))
    if DECIDERS[status] != side:
        refuse(ACTION, resource, "wrong_side",
               Forbidden("the recipient accepts or declines; the sender cancels"))
    form = db.session.get(Form, transfer.form_id, with_for_update=True)
    assert form is not None  # noqa: S101 - a foreign key
    if status == "accepted":
        if form.lead_agency_id != transfer.from_agency or form.status != "active":
            refuse(ACTION, resource, "lead_changed", ConflictError("the case's lead or state changed"))
        form.lead_agency_id, form.revision, form.updated_at = transfer.to_agency, form.revision + 1, utcnow()
    transfer.status, transfer.revision, transfer.updated_at = status, transfer.revision + 1, utcnow()
    transfer.decided_by, transfer.decision_signature = actor.subject, signed.value
    return _written(actor, transfer, payload, False, f"transfer.{status}")


def read(actor: Actor, transfer_id: str) -> tuple[dict[str, Any], str]:
    """One transfer."""
    transfer = visible(actor, transfer_id)
    audit.record(actor, ACTION, "allowed", resource=f"transfer:{transfer.id}", fields=["statistics.*"])
    db.session.commit()
    return shape(transfer), etag(transfer.revision)


def listing(actor: Actor, status: str | None) -> list[dict[str, Any]]:
    """Transfers the caller's agency offered or was offered, newest first."""
    query = select(Transfer).where(or_(Transfer.from_agency == actor.agency, Transfer.to_agency == actor.agency))
    if status:
        query = query.where(Transfer.status == status)
    rows = list(db.session.scalars(query.order_by(Transfer.updated_at.desc()).limit(500)))
    audit.record(actor, ACTION, "allowed", resource="transfer:*", fields=["statistics.*"])
    db.session.commit()
    return [shape(row) for row in rows]
