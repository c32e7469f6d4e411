"""An agency's webhook endpoint and its delivery log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ..audit import events as audit
from ..audit.actor import Actor
from ..database import utcnow
from ..errors import ConflictError, InvalidError, NotFoundError
from ..extensions import db, keyring, settings
from ..permissions import Permission
from . import outbox
from .addresses import RefusedAddress, check_url
from .deliver import public_key
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

ACTION = Permission.WEBHOOK_MANAGE


def _shape(endpoint: WebhookEndpoint | None) -> dict[str, Any]:
    return {"url": endpoint.url if endpoint else None,
            "updated_at": endpoint.updated_at.isoformat() if endpoint else None,
            "signature_scheme": "Standard Webhooks v1a (Ed25519)",
            "public_key": public_key(keyring().signing_key), "kid": keyring().signing_key.kid}


def show(actor: Actor) -> dict[str, Any]:
    """The caller's agency's endpoint and the key its webhooks are signed with."""
    endpoint = db.session.get(WebhookEndpoint, actor.agency)
    audit.record(actor, ACTION, "allowed", resource=f"webhook:{actor.agency}")
    db.session.commit()
    return _shape(endpoint)


def register(actor: Actor, agency_id: str, url: str) -> dict[str, Any]:
    """Set the one URL the agency receives webhooks at (it replaces any earlier one)."""
    try:
        check_url(url, settings().webhook_allow_private)
    except RefusedAddress as refused:
        raise InvalidError(str(refused), errors={"json": {"url": [refused.code]}}, reason=refused.code,
                           resource=f"webhook:{agency_id}", action=ACTION) from None
    endpoint = db.session.get(WebhookEndpoint, agency_id)
    if endpoint is None:
        endpoint = WebhookEndpoint(agency_id=agency_id, url=url, updated_by=actor.subject)
        db.session.add(endpoint)
    endpoint.url, endpoint.updated_by, endpoint.updated_at = url, actor.subject, utcnow()
    audit.record(actor, ACTION, "allowed", resource=f"webhook:{agency_id}", reason="registered")
    db.session.commit()
    return _shape(endpoint)


def remove(actor: Actor) -> None:
    """Stop webhooks for the caller's agency (the changes feed goes on)."""
    endpoint = db.session.get(WebhookEndpoint, actor.agency)
    if endpoint is None:
        raise NotFoundError("your agency has no webhook endpoint", resource=f"webhook:{actor.agency}", action=ACTION)
    db.session.delete(endpoint)
    audit.record(actor, ACTION, "allowed", resource=f"webhook:{actor.agency}", reason="removed")
    db.session.commit()


def retry(actor: Actor, delivery_id: str) -> dict[str, Any]:
    """Send a dead webhook again, with a fresh round of back-off (once the endpoint is fixed)."""
    row = db.session.get(WebhookDelivery, delivery_id) if len(delivery_id) <= 40 else None
    if row is None or row.agency_id != actor.agency:
        raise NotFoundError("no such delivery of your agency's", resource=f"webhook-delivery:{delivery_id}",
                            action=ACTION)
    if row.state != "dead":
        raise ConflictError(f"the delivery is {row.state}: only a dead one is retried", reason=f"delivery_{row.state}",
                            resource=f"webhook-delivery:{row.id}", action=ACTION)
    revive(row)
    outbox.wake(db.session)
    audit.record(actor, ACTION, "allowed", resource=f"webhook-delivery:{row.id}", reason="retry")
    db.session.commit()
    return {"id": row.id, "state": row.state}


def revive(row: WebhookDelivery) -> None:
    """Make a dead delivery due now, with its tries counted afresh (the log keeps the old ones)."""
    row.state, row.attempts, row.next_attempt_at, row.leased_until = "pending", 0, utcnow(), None


def retry_dead(actor: Actor, agency_id: str) -> int:
    """Operators: retry every dead webhook of an agency; how many."""
    rows = list(db.session.scalars(select(WebhookDelivery).where(WebhookDelivery.agency_id == agency_id,
                                                                 WebhookDelivery.state == "dead")))
    for row in rows:
        revive(row)
    if rows:
        outbox.wake(db.session)
    audit.record(actor, ACTION, "allowed", resource=f"webhook:{agency_id}", reason=f"retry_dead:{len(rows)}")
    db.session.commit()
    return len(rows)


def deliveries(actor: Actor, state: str | None, limit: int) -> list[dict[str, Any]]:
    """The agency's delivery log, newest first, each with its tries."""
    query = select(WebhookDelivery).where(WebhookDelivery.agency_id == actor.agency)
    if state:
        query = query.where(WebhookDelivery.state == state)
    rows = list(db.session.scalars(query.order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
                                   .limit(limit)))
    tries: dict[str, list[WebhookAttempt]] = {}
    if rows:
        for attempt in db.session.scalars(select(WebhookAttempt).where(
                WebhookAttempt.delivery_id.in_([row.id for row in rows])).order_by(WebhookAttempt.id)):
            tries.setdefault(attempt.delivery_id, []).append(attempt)
    audit.record(actor, ACTION, "allowed", resource=f"webhook:{actor.agency}", reason="delivery_log")
    db.session.commit()
    return [{"id": row.id, "event_id": str(row.event_id), "state": row.state, "attempts": row.attempts,
             "next_attempt_at": row.next_attempt_at.isoformat() if row.state == "pending" else None,
             "delivered_at": row.delivered_at.isoformat() if row.delivered_at else None,
             "created_at": row.created_at.isoformat(),
             "tries": [{"at": t.attempted_at.isoformat(), "status_code": t.status_code, "error": t.error,
                        "duration_ms": t.duration_ms} for t in tries.get(row.id, [])]} for row in rows]
