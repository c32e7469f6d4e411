"""Writing audit events: in the caller's transaction, or alone for a refusal."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from sqlalchemy.orm import Session

from ..crypto.canonical import canonical, sha256_hex
from ..database import utcnow
from ..extensions import db
from .actor import Actor
from .models import OUTCOMES, AuditEvent


def record(
    actor: Actor,
    action: StrEnum | str,
    outcome: str,
    *,
    resource: str | None = None,
    fields: Iterable[str] = (),
    reason: str | None = None,
    session: Session | None = None,
) -> AuditEvent:
    """Add an event to the current transaction: it commits, or fails, with what it records."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    now = utcnow()
    content = {
        "occurred_at": now.isoformat(timespec="microseconds"),
        "actor": actor.subject,
        "agency": actor.agency,
        "action": str(action),
        "resource": resource,
        "fields": sorted(set(fields)),
        "outcome": outcome,
        "reason": reason,
        "request_id": actor.request_id,
        "client_address": actor.address,
    }
    body = canonical(content)
    event = AuditEvent(
        occurred_at=now,
        actor=actor.subject,
        agency=actor.agency,
        action=str(action),
        resource=resource,
        fields=content["fields"],
        outcome=outcome,
        reason=reason,
        request_id=actor.request_id,
        client_address=actor.address,
        body=body,
        sha256=sha256_hex(body),
    )
    (session or db.session).add(event)
    return event


def record_refusal(
    actor: Actor, action: StrEnum | str, *, reason: str, resource: str | None = None, outcome: str = "denied"
) -> AuditEvent:
    """Discard the request's uncommitted work and commit the refusal on its own.

    A refused request changes nothing but the log: if even this write fails, the error
    propagates and the caller answers 5xx.
    """
    session = db.session
    session.rollback()
    event = record(actor, action, outcome, resource=resource, reason=reason, session=session)
    session.commit()
    return event
