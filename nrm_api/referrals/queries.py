"""The referrals' reads: one referral, its signed history, the list. Every read is audited."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select

from .. import paging
from ..accounts.signing import stored_verifies
from ..audit import events as audit
from ..audit.actor import Actor
from ..audit.queries import position
from ..crypto.canonical import canonical
from ..database import utcnow
from ..extensions import db
from ..forms import access, sealing
from ..forms.models import Form, FormKey
from ..forms.service import load as load_form
from ..permissions import Permission
from ..preconditions import etag
from .models import Referral, ReferralEvent
from .rules import FINAL, OPEN, overdue
from .service import event_place, visible

#: How many referrals a box shows (the API's list pages through all of them).
BOX_LIMIT = 500
#: What an event shows only with its body.
WITHHELD_EVENT = ("body", "signature", "sha256")


def summary(referral: Referral) -> dict[str, Any]:
    """A referral without its note: what lists show."""
    return {"id": referral.id, "form_id": referral.form_id, "from_agency": referral.from_agency,
            "to_agency": referral.to_agency, "purpose": referral.purpose, "services": list(referral.services),
            "priority": referral.priority, "due_at": referral.due_at.isoformat(), "status": referral.status,
            "final": referral.status in FINAL, "consent_override": referral.consent_override,
            "created_at": referral.created_at.isoformat(), "updated_at": referral.updated_at.isoformat()}


def _may_open(actor: Actor, referral: Referral) -> Form | None:
    """The form, when the caller's agency may read it now: only then is anything sealed under its key opened.

    The same rule as reading the form itself (``access.of``): its author and lead always; a
    recipient only while a live referral that consent covers lets it read the form. A referral
    that is over, or consent withdrawn, ends it.
    """
    form = load_form(referral.form_id)  # with its version and key, which access and the bodies need: one query
    if form is None or not access.of(form, actor.agency, utcnow().date()).classes:
        return None
    return form


def _events(referral: Referral, upto: int | None = None) -> list[ReferralEvent]:
    query = select(ReferralEvent).where(ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.sequence)
    if upto is not None:
        query = query.where(ReferralEvent.sequence <= upto)
    return list(db.session.scalars(query))


def _bodies(referral: Referral, form: Form | None, events: list[ReferralEvent]) -> dict[int, dict[str, Any]]:
    """The events' signed bodies by sequence, opened for a caller who may (none once the form is shredded)."""
    if form is None:
        return {}
    try:
        dek = sealing.open_key(db.session.get(FormKey, referral.form_id))
    except sealing.ShreddedError:
        return {}
    return {event.sequence: sealing.open_value(dek, event_place(referral, form, event.sequence), event.body_sealed)
            for event in events}


def read(actor: Actor, referral_id: str) -> tuple[dict[str, Any], str]:
    """One referral, with its note while the caller may read the form; ``withheld`` names what is not opened."""
    referral = visible(actor, referral_id, Permission.REFERRAL_READ)
    body = summary(referral)
    form = _may_open(actor, referral)
    created = _bodies(referral, form, _events(referral, upto=1)).get(1)
    note = created.get("note") if created else None
    if note:
        body["note"] = note
    body["withheld"] = [] if created is not None else ["note"]
    audit.record(actor, Permission.REFERRAL_READ, "allowed", resource=f"referral:{referral.id}",
                 fields=["referral.*", *(["note"] if note else [])])
    db.session.commit()
    return body, etag(referral.revision)


def history(actor: Actor, referral_id: str) -> dict[str, Any]:
    """Every event of a referral, oldest first; its signed body and signature while the caller may read the form.

    Where the body is not opened, its signature and hash go with it (over a short body they would
    confirm a guess of it), and ``withheld`` names all three.
    """
    referral = visible(actor, referral_id, Permission.REFERRAL_READ)
    events = _events(referral)
    bodies = _bodies(referral, _may_open(actor, referral), events)
    shown = [_event(event, bodies.get(event.sequence)) for event in events]
    audit.record(actor, Permission.REFERRAL_READ, "allowed", resource=f"referral:{referral.id}",
                 fields=["referral.history", *(["referral.history.body"] if bodies else [])])
    db.session.commit()
    return {"referral_id": referral.id, "events": shown}


def checked_history(actor: Actor, referral_id: str) -> dict[str, Any]:
    """The history, each event marked ``verified`` when its stored signature verifies over its body now.

    An event whose body is withheld from the caller cannot be checked by it: it is never marked.
    """
    found = history(actor, referral_id)
    for event in found["events"]:
        event["verified"] = event["body"] is not None and stored_verifies(event["signature"], canonical(event["body"]))
    return found


def _event(event: ReferralEvent, body: dict[str, Any] | None) -> dict[str, Any]:
    shown: dict[str, Any] = {"sequence": event.sequence, "status": event.status, "actor": event.actor,
                             "agency": event.agency_id, "at": event.created_at.isoformat(), "kid": event.signed_kid,
                             "audit_seq": position(db.session, event.audit_event_id)}
    if body is None:
        return {**shown, "body": None, "signature": None, "sha256": None, "withheld": list(WITHHELD_EVENT)}
    return {**shown, "body": body, "signature": event.signature, "sha256": event.sha256, "withheld": []}


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


def box(actor: Actor, direction: str, status: str | None = None) -> list[dict[str, Any]]:
    """The referrals the caller's agency received (``incoming``) or sent (``outgoing``), most urgent first.

    Open ones come first, soonest due first (so the overdue ones lead, each marked ``overdue``),
    then the final ones, latest change first; at most ``BOX_LIMIT``.
    """
    side = Referral.to_agency if direction == "incoming" else Referral.from_agency
    statement = select(Referral).where(side == actor.agency)
    if status:
        statement = statement.where(Referral.status == status)
    rows = list(db.session.scalars(statement.where(Referral.status.in_(OPEN))
                                   .order_by(Referral.due_at, Referral.id).limit(BOX_LIMIT)))
    rows += db.session.scalars(statement.where(Referral.status.in_(FINAL))
                               .order_by(Referral.updated_at.desc(), Referral.id).limit(BOX_LIMIT - len(rows)))
    audit.record(actor, Permission.REFERRAL_READ, "allowed", resource="referral:*", fields=["referral.*"])
    db.session.commit()
    now = utcnow()
    return [{**summary(row), "overdue": overdue(row.status, row.due_at, now)} for row in rows]
