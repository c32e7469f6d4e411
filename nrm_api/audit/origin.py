"""The log's origin: fixed when the log is created, stored with it, never taken from later configuration.

Checkpoints and position signatures name the origin; were it to follow ``NRM_BASE_URL``, a new
address would make every earlier signature fail. The first sequencer run stores the configured
origin; from then on the stored one signs and verifies.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditLog

LOG_ID = 1
log = logging.getLogger(__name__)
_warned: set[tuple[str, str]] = set()


def stored(session: Session) -> str | None:
    """The origin stored with the log, if the log has been created."""
    return session.scalar(select(AuditLog.origin).where(AuditLog.id == LOG_ID))


def current(session: Session, configured: str) -> str:
    """The origin to verify with: the stored one, or the configured one while the log is empty."""
    return stored(session) or configured


def fix(session: Session, configured: str) -> str:
    """The origin to sign with, storing ``configured`` on the log's first run (under the sequencer's lock)."""
    origin = stored(session)
    if origin is None:
        session.add(AuditLog(id=LOG_ID, origin=configured))
        session.flush()
        return configured
    if origin != configured and (origin, configured) not in _warned:
        _warned.add((origin, configured))
        log.warning("the audit log keeps its origin %r; the configured %r is not used for it", origin, configured)
    return origin
