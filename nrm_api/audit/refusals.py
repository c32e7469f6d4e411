"""Unauthenticated refusals: limited per address, and aggregated so a flood is a count, not a flood.

The first refusal of an address for an action and reason is logged at once. Its repeats within the
window are only counted (``audit_refusal_tallies``); the count becomes one event carrying ``count``
— in its hashed bytes like every field — when the next refusal comes after the window, or when a
later refusal or an auditor's read sweeps the closed windows. The same row is the limit: past
``NRM_UNAUTHENTICATED_LIMIT`` refusals in a window the answer is 429, counted all the same. It is
in the database, so every worker and node shares it; nothing is held in memory.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..database import utcnow
from ..extensions import db, settings
from . import events
from .actor import Actor
from .models import AuditRefusalTally

#: Closed windows one refusal logs on its way (the rest wait for the next); an auditor's read logs more.
SWEEP = 20
AUDITOR_SWEEP = 1000


def window() -> timedelta:
    """How long repeats are counted before their count is logged."""
    return settings().audit_refusal_window


def record(actor: Actor, action: StrEnum | str, *, reason: str, resource: str | None) -> int | None:
    """Discard the request's work and log or count one refusal; the seconds to wait, once over the limit."""
    session = db.session
    session.rollback()
    now = utcnow()
    key = ((actor.address or "unknown")[:64], str(action), reason)
    tally = _tally(session, key, now)
    if tally is None:
        tally_start, total = now, 1  # the first of its window: the row was just made
    elif now - tally.window_started_at >= window():
        _log_count(session, tally)
        tally.window_started_at, tally.count = now, 0
        tally_start, total = now, 1
    else:
        tally.count += 1
        tally_start, total = tally.window_started_at, tally.count + 1
    if total == 1:
        events.record(actor, action, "denied", resource=resource, reason=reason, session=session)
    _sweep(session, now, key)
    session.commit()
    events.mark_refused(session, actor.request_id)
    if total <= settings().unauthenticated_limit:
        return None
    return max(1, math.ceil((tally_start + window() - now).total_seconds()))


def flush_closed() -> None:
    """Log the counts of closed windows now (before an auditor reads the log)."""
    _sweep(db.session, utcnow(), None, AUDITOR_SWEEP)
    db.session.commit()
def _tally(session: Session, key: tuple[str, str, str], now: datetime) -> AuditRefusalTally | None:
    """Lock the tally of (address, action, reason); ``None`` when this refusal just opened it."""
    address, action, reason = key
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    made = session.execute(insert(AuditRefusalTally).values(address=address, action=action, reason=reason,
                                                            window_started_at=now, count=0)
                           .on_conflict_do_nothing().returning(AuditRefusalTally.count))
    if made.first() is not None:
        return None
    return session.scalars(select(AuditRefusalTally).where(
        AuditRefusalTally.address == address, AuditRefusalTally.action == action, AuditRefusalTally.reason == reason)
        .with_for_update().execution_options(populate_existing=True)).one()


def _log_count(session: Session, tally: AuditRefusalTally) -> None:
    """Log a window's repeats as one event with their count (none if there were none)."""
    if tally.count:
        events.record(Actor("anonymous", address=tally.address), tally.action, "denied", reason=tally.reason,
                       count=tally.count, session=session)


def _sweep(session: Session, now: datetime, current: tuple[str, str, str] | None, limit: int = SWEEP) -> None:
    """Log the counts of other windows that have closed, a few at a time, skipping any another request holds."""
    closed = list(session.scalars(select(AuditRefusalTally)
                                  .where(AuditRefusalTally.window_started_at <= now - window())
                                  .order_by(AuditRefusalTally.window_started_at).limit(limit)
                                  .with_for_update(skip_locked=True)))
    for tally in closed:
        if (tally.address, tally.action, tally.reason) == current:
            continue
        _log_count(session, tally)
        session.delete(tally)
