"""The referrals' reads: one referral, its signed history, the list. Every read is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from .. import paging
from ..accounts.permissions import Permission
from ..audit import service as audit
from ..audit.actor import Actor
from ..extensions import db
from ..forms import store
from ..forms.models import Form, FormKey
from .models import Referral, ReferralEvent
from .rules import FINAL
from .service import etag, event_place, visible


def summary(referral: Referral) -> dict[str, Any]:
    """A referral without its note: what lists show."""
    return {"id": referral.id, "form_id": referral.form_id, "from_agency": referral.from_agency,
            "to_agency": referral.to_agency, "purpose": referral.purpose, "services": list(referral.services),
            "priority": referral.priority, "due_at": referral.due_at.isoformat(), "status": referral.status,
            "final": referral.status in FINAL, "consent_override": referral.consent_override,
            "created_at": referral.created_at.isoformat(), "updated_at": referral.updated_at.isoformat()}


def _opened(referral: Referral) -> list[tuple[ReferralEvent, dict[str, Any] | None]]:
    """Every event of a referral with its signed body opened (``None`` once the form is shredded)."""
    form = db.session.get(Form, referral.form_id)
    events = list(db.session.scalars(select(ReferralEvent).where(ReferralEvent.referral_id == referral.id)
                                     .order_by(ReferralEvent.sequence)))
    try:
        dek = store.open_key(db.session.get(FormKey, referral.form_id))
    except store.ShreddedError:
        return [(event, None) for event in events]
    assert form is not None  # noqa: S101 - a foreign key
    return [(event, store.open_value(dek, event_place(referral, form, event.sequence), event.body_sealed))
            for event in events]


def read(actor: Actor, referral_id: str) -> tuple[dict[str, Any], str]:
    """One referral, with its note, for its sender or recipient."""
    referral = visible(actor, referral_id, Permission.REFERRAL_READ)
    body = summary(referral)
    opened = _opened(referral)
    note = opened[0][1].get("note") if opened and opened[0][1] else None
    if note:
        body["note"] = note
    audit.record(actor, Permission.REFERRAL_READ, "allowed", resource=f"referral:{referral.id}",
                 fields=["referral.*", *(["note"] if note else [])])
    db.session.commit()
    return body, etag(referral)


def history(actor: Actor, referral_id: str) -> dict[str, Any]:
    """Every event of a referral, oldest first, each with the signature over its body."""
    referral = visible(actor, referral_id, Permission.REFERRAL_READ)
    events = [{"sequence": event.sequence, "status": event.status, "actor": event.actor, "agency": event.agency_id,
               "at": event.created_at.isoformat(), "body": body, "signature": event.signature,
               "kid": event.signed_kid, "sha256": event.sha256, "audit_seq": event.audit_event_id}
              for event, body in _opened(referral)]
    audit.record(actor, Permission.REFERRAL_READ, "allowed", resource=f"referral:{referral.id}",
                 fields=["referral.history"])
    db.session.commit()
    return {"referral_id": referral.id, "events": events}


def listing(actor: Actor, query: dict[str, Any]) -> dict[str, Any]:
    """The referrals the caller's agency sent or received, newest change last, a page at a time."""
    agency, limit = actor.agency, query["limit"]
    direction = query.get("direction")
    sides = {"incoming": Referral.to_agency == agency, "outgoing": Referral.from_agency == agency}
    select_from = sides[direction] if direction else or_(*sides.values())
    statement = select(Referral).where(select_from).order_by(Referral.updated_at, Referral.id).limit(limit + 1)
    if query.get("status"):
        statement = statement.where(Referral.status == query["status"])
    if query.get("updated_after"):
        statement = statement.where(Referral.updated_at > query["updated_after"])
    if query.get("cursor"):
        updated, last_id = paging.decode(query["cursor"])
        statement = statement.where(or_(Referral.updated_at > updated,
                                        (Referral.updated_at == updated) & (Referral.id > last_id)))
    rows = list(db.session.scalars(statement))
    more, rows = len(rows) > limit, rows[:limit]
    audit.record(actor, Permission.REFERRAL_READ, "allowed", resource="referral:*", fields=["referral.*"])
    db.session.commit()
    cursor = paging.encode(rows[-1].updated_at, rows[-1].id) if more else None
    return {"items": [summary(row) for row in rows], "next_cursor": cursor}
