"""The changes feed and the webhook outbox, written in the transaction of the change they tell of.

``emit`` adds one feed entry per agency told and, where the agency registered an endpoint, an
outbox row. On PostgreSQL it first takes a per-agency advisory lock held until commit, so one
agency's entries commit in the order of their ids: a poller that resumes after an id never misses
an entry committed later with a smaller one. (SQLite runs one writer at a time anyway.)

A transaction that writes outbox rows also sends a NOTIFY on ``CHANNEL`` (PostgreSQL): it reaches
the deliverers that LISTEN when, and only if, the transaction commits. The rows are the truth; the
notification only wakes a deliverer sooner than its timer would.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from blinker import Namespace
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from ..audit import events as audit
from ..audit.actor import Actor
from ..database import utcnow
from ..errors import InvalidError
from ..extensions import db
from ..permissions import Permission
from .models import AgencyEvent, WebhookDelivery, WebhookEndpoint

WAKE = "nrm_webhooks_wake"
#: The PostgreSQL channel a commit with outbox rows notifies (no payload: the deliverer reads the outbox).
CHANNEL = "nrm_webhooks"
#: The advisory lock class of feed locks ('NRMF'); the second key is the agency's hash.
LOCK_CLASS = 0x4E524D46
#: Sent with the session as sender after a commit that wrote outbox rows: ``create_app`` connects
#: the wake-up of its deliverer.
outbox_committed = Namespace().signal("webhook-outbox-committed")


def emit(agency_ids: Iterable[str], kind: str, resource: str, status: str | None = None) -> list[AgencyEvent]:
    """Tell each agency of a change: a feed entry, and a webhook if it has an endpoint."""
    session = db.session
    agencies = sorted(set(agency_ids))
    endpoints = select(WebhookEndpoint.agency_id).where(WebhookEndpoint.agency_id.in_(agencies))
    if session.get_bind().dialect.name == "postgresql" and agencies:
        # sorted, and taken left to right in one statement: two writers never wait on each other in a cycle
        session.execute(select(*(func.pg_advisory_xact_lock(LOCK_CLASS, func.hashtext(agency_id))
                                 for agency_id in agencies)))
        # evaluated once per endpoint found, so only a transaction that writes outbox rows notifies
        # (PostgreSQL folds a transaction's repeats into one, and sends it at commit)
        endpoints = endpoints.add_columns(func.pg_notify(CHANNEL, ""))
    hooked = set(session.scalars(endpoints))
    now = utcnow()
    written = [AgencyEvent(agency_id=agency_id, type=kind, resource=resource, status=status, occurred_at=now)
               for agency_id in agencies]
    session.add_all(written)
    session.flush()  # their ids, for the outbox rows (one INSERT for them all)
    for entry in written:
        if entry.agency_id in hooked:
            session.add(WebhookDelivery(id=f"msg_{uuid.uuid4().hex}", agency_id=entry.agency_id, event_id=entry.id,
                                        next_attempt_at=now))
            session.info[WAKE] = True
    return written


def wake(session: Session) -> None:
    """Have the deliverers look at the outbox when this transaction commits (dead webhooks made due again)."""
    session.info[WAKE] = True
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.pg_notify(CHANNEL, "")))


def payload(entry: AgencyEvent) -> dict[str, Any]:
    """The thin body of a feed entry or webhook: ids, type and status, never case data."""
    kind, _, ident = entry.resource.partition(":")
    data: dict[str, Any] = {"event_id": entry.id, f"{kind}_id": ident}
    if entry.status is not None:
        data["status"] = entry.status
    return {"type": entry.type, "timestamp": entry.occurred_at.isoformat(timespec="seconds"), "data": data}


def changes(actor: Actor, cursor: str | None, limit: int) -> dict[str, Any]:
    """The caller's agency's feed after ``cursor``: poll with ``next_cursor`` and never miss or repeat one."""
    after = _position(cursor)
    rows = list(db.session.scalars(select(AgencyEvent).where(AgencyEvent.agency_id == actor.agency,
                                                             AgencyEvent.id > after)
                                   .order_by(AgencyEvent.id).limit(limit)))
    last = rows[-1].id if rows else after
    if rows:  # an empty poll discloses nothing; agency systems poll often
        audit.record(actor, Permission.REFERRAL_READ, "allowed", resource=f"changes:{actor.agency}",
                     reason=f"after:{after}")
        db.session.commit()
    return {"items": [{"id": str(row.id), **payload(row)} for row in rows], "next_cursor": str(last)}


def _position(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidError("the cursor is not one this service gave", errors={"query": {"cursor": ["invalid"]}})
    return int(cursor)


def _after_commit(session: Session) -> None:
    if session.info.pop(WAKE, False):
        outbox_committed.send(session)


def _forget(session: Session, previous: Any) -> None:
    if not previous.nested:
        session.info.pop(WAKE, None)


def install() -> None:
    """Tell of a commit that wrote outbox rows (``outbox_committed``)."""
    if event.contains(Session, "after_commit", _after_commit):
        return
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _forget)
