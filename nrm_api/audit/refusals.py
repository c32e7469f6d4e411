"""Unauthenticated refusals: limited per address, and aggregated so a flood is a count, not a flood.

The first refusal of an address for a reason is logged at once. Its repeats within the window are
only counted (``audit_refusal_tallies``); the count becomes one event carrying ``count`` — in its
hashed bytes like every field — when the next refusal comes after the window, or when any later
refusal sweeps the closed windows. Nothing is lost: a count not yet logged is a row, not memory.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta
from enum import StrEnum

from flask import current_app
from limits import parse
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from ..database import utcnow
from ..extensions import db, limiter
from . import service
from .actor import Actor
from .models import AuditRefusalTally

#: Closed windows one refusal logs on its way (the rest wait for the next).
SWEEP = 20


def window() -> timedelta:
    """How long repeats are counted before their count is logged."""
    return timedelta(seconds=float(current_app.config["AUDIT_REFUSAL_WINDOW"]))


def retry_after() -> int | None:
    """Record one unauthenticated refusal against its address's limit; seconds to wait once it is exceeded."""
    item = parse(current_app.config["UNAUTHENTICATED_LIMIT"])
    address = _address_of()
    if limiter.limiter.hit(item, "unauthenticated", address):
        return None
    reset = limiter.limiter.get_window_stats(item, "unauthenticated", address).reset_time
    return max(1, math.ceil(reset - time.time()))


def _address_of(actor: Actor | None = None) -> str:
    from ..extensions import client_address

    return ((actor.address if actor else None) or client_address())[:64]


def record(actor: Actor, action: StrEnum | str, *, reason: str, resource: str | None) -> bool:
    """Discard the request's work and log or count one refusal; say whether an event was written for it."""
    session = db.session
    session.rollback()
    now, key = utcnow(), (_address_of(actor), str(action), reason)
    tally = _tally(session, key, now)
    logged = tally is None or now - tally.window_started_at >= window()
    if tally is None:
        pass  # the first of its window: the row was just made
    elif logged:
        _log_count(session, tally)
        tally.window_started_at, tally.count = now, 0
    else:
        tally.count += 1
    if logged:
        service.record(actor, action, "denied", resource=resource, reason=reason, session=session)
    _sweep(session, now, key)
    session.commit()
    return logged


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
        service.record(Actor("anonymous", address=tally.address), tally.action, "denied", reason=tally.reason,
                       count=tally.count, session=session)


def _sweep(session: Session, now: datetime, current: tuple[str, str, str]) -> None:
    """Log the counts of other windows that have closed, a few at a time, skipping any another request holds."""
    closed = list(session.scalars(select(AuditRefusalTally)
                                  .where(AuditRefusalTally.window_started_at <= now - window())
                                  .order_by(AuditRefusalTally.window_started_at).limit(SWEEP)
                                  .with_for_update(skip_locked=True)))
    for tally in closed:
        if (tally.address, tally.action, tally.reason) == current:
            continue
        _log_count(session, tally)
        session.delete(tally)
