"""Writing audit events: in the caller's transaction, or alone for a refusal.

``record`` holds an event until its transaction commits; the session's ``before_commit`` hook then
inserts it (with its queue entry for the sequencer) in the same transaction, before the ORM flushes
the work's own rows. If the insert fails, the commit fails with it: no access is committed without
its event (fail closed). Positions are not row ids: the sequencer gives them, in commit order.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any, cast

from blinker import Namespace
from sqlalchemy import Table, bindparam, event, insert, select
from sqlalchemy.orm import Session

from ..crypto.canonical import canonical, sha256_hex
from ..database import utcnow
from ..extensions import db
from .actor import Actor
from .models import OUTCOMES, AuditEvent, AuditQueue

PENDING = "nrm_audit_pending"
WROTE = "nrm_audit_wrote"
#: The request id whose refusal is logged: the door's boundary then logs nothing more.
REFUSED = "nrm_audit_refused"

#: Sent with the session as sender after a commit that wrote events: ``create_app`` connects the
#: wake-up of its sequencer, so this module knows nothing of who sequences.
events_committed = Namespace().signal("audit-events-committed")


def record(
    actor: Actor,
    action: StrEnum | str,
    outcome: str,
    *,
    resource: str | None = None,
    fields: Iterable[str] = (),
    reason: str | None = None,
    session: Session | None = None,
    count: int | None = None,
) -> AuditEvent:
    """Add an event to the current transaction: it commits, or fails, with what it records.

    ``count`` makes it stand for that many like refusals (aggregated); it is hashed with the rest.
    """
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    now = utcnow()
    content: dict[str, object] = {
        "occurred_at": now.isoformat(timespec="microseconds"),
        "actor": actor.subject,
        "agency": actor.agency,
        "action": str(action),
        "resource": resource,
        "fields": sorted(set(fields)),
        "outcome": outcome,
        "reason": reason,
        "request_id": actor.request_id,
        "client_request_id": actor.client_request_id,
        "client_address": actor.address,
    }
    if count is not None:  # only aggregates carry it: every other event keeps its bytes
        content["count"] = count
    body = canonical(content)
    audit_event = AuditEvent(
        occurred_at=now, actor=actor.subject, agency=actor.agency, action=str(action), resource=resource,
        fields=content["fields"], outcome=outcome, reason=reason, request_id=actor.request_id,
        client_request_id=actor.client_request_id, client_address=actor.address, body=body, sha256=sha256_hex(body),
        count=count,
    )
    (session or db.session).info.setdefault(PENDING, []).append(audit_event)
    return audit_event


def record_refusal(
    actor: Actor, action: StrEnum | str, *, reason: str, resource: str | None = None, outcome: str = "denied"
) -> AuditEvent:
    """Discard the request's uncommitted work and commit the refusal on its own.

    A refused request changes nothing but the log: if even this write fails, the error
    propagates and the caller answers 5xx.
    """
    session = db.session
    session.rollback()
    audit_event = record(actor, action, outcome, resource=resource, reason=reason, session=session)
    session.commit()
    mark_refused(session, actor.request_id)
    return audit_event


def mark_refused(session: Session, request_id: str | None) -> None:
    """Note that this request's refusal is in the log, so the door's boundary does not log it again."""
    if request_id:
        session.info[REFUSED] = request_id


def refusal_recorded(session: Session, request_id: str | None) -> bool:
    """Whether this request's refusal was logged already (by a path that answers it itself)."""
    return bool(request_id) and session.info.get(REFUSED) == request_id


def write_now(session: Session) -> None:
    """Insert the pending events now, so their row ids can go into records committed with them."""
    _write_pending(session)


#: An event's columns but its id, which the database draws.
_VALUES = {column.name: bindparam(column.name, type_=column.type)
           for column in AuditEvent.__table__.columns if column.name != "id"}
_EVENTS, _QUEUE = cast(Table, AuditEvent.__table__), cast(Table, AuditQueue.__table__)
_INSERT_EVENT = insert(_EVENTS).values(_VALUES).returning(_EVENTS.c.id)
_QUEUE_EVENT = insert(_QUEUE).values(event_id=bindparam("event_id"))
#: PostgreSQL: the event and its queue entry in one statement, one round trip.
_written = _INSERT_EVENT.cte("written")
_INSERT_BOTH = insert(_QUEUE).from_select(["event_id"], select(_written.c.id)).returning(_QUEUE.c.event_id) \
    .add_cte(_written)


def _write_pending(session: Session) -> None:
    """Insert the pending events with their queue entries: Core statements, for rows the ORM need not track."""
    pending: list[AuditEvent] = session.info.pop(PENDING, [])
    if not pending:
        return
    together = session.get_bind().dialect.name == "postgresql"
    for audit_event in pending:
        values = {name: getattr(audit_event, name) for name in _VALUES}
        if together:
            audit_event.id = session.execute(_INSERT_BOTH, values).scalar_one()
        else:
            audit_event.id = session.execute(_INSERT_EVENT, values).scalar_one()
            session.execute(_QUEUE_EVENT, {"event_id": audit_event.id})
    session.info[WROTE] = True


def _forget_pending(session: Session, previous: Any) -> None:
    if not previous.nested:  # a savepoint rolled back keeps the outer transaction's events
        session.info.pop(PENDING, None)


def _after_commit(session: Session) -> None:
    if session.info.pop(WROTE, False):
        events_committed.send(session)


def install() -> None:
    """Hook every session: write pending events at commit, drop them at rollback, tell of the commit.

    On the ``Session`` class, not one factory, so no session can record an event that is then lost.
    """
    if event.contains(Session, "before_commit", _write_pending):
        return
    event.listen(Session, "before_commit", _write_pending)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _forget_pending)
