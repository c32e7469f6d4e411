"""People's browser sessions (the web form): opened at sign-in, ended at sign-out, limited in time.

The browser keeps a random secret; the table keeps only its SHA-256, so neither a copy of the
database nor a log line can be replayed as a session. A session is *live* while it has not ended,
its user is enabled and still at the token version it was opened under (``tokens revoke``, a
disabled account or a changed password end it), has been used within the last 15 minutes and is
less than 8 hours old. Past either limit it is *idle* or *expired*: it signs nobody in, but the door
may still learn whose it was, so that what the person was typing is saved before they sign in again.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from ..audit import events as audit
from ..audit.actions import AuditAction
from ..audit.actor import Actor
from ..database import utcnow
from ..extensions import db
from .models import User, WebSession

IDLE_LIMIT = timedelta(minutes=15)
ABSOLUTE_LIMIT = timedelta(hours=8)
#: A live session's last use is written at most this often (one write a minute, not one a page).
TOUCH_EVERY = timedelta(seconds=30)

LIVE, IDLE, EXPIRED = "live", "idle", "expired"


@dataclass(frozen=True)
class Found:
    """The session a cookie names, its user, and whether it is live, idle or expired."""

    record: WebSession
    user: User
    state: str

    @property
    def live(self) -> bool:
        """Whether it signs its user in."""
        return self.state == LIVE


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def open_session(user: User, now: datetime | None = None) -> str:
    """Open a session for ``user`` (who has just signed in) and return the secret the browser keeps."""
    secret = secrets.token_urlsafe(32)
    moment = now or utcnow()
    db.session.add(WebSession(id=_digest(secret), user_id=user.id, token_version=user.token_version,
                              created_at=moment, last_seen_at=moment))
    db.session.commit()
    return secret


def find(secret: str | None, now: datetime | None = None) -> Found | None:
    """The session ``secret`` names, unless it never was, has ended, or its user may no longer sign in."""
    if not secret:
        return None
    record = db.session.get(WebSession, _digest(secret))
    if record is None or record.ended_at is not None:
        return None
    user = record.user
    if user.disabled_at is not None or user.token_version != record.token_version:
        return None
    moment = now or utcnow()
    if moment - record.created_at >= ABSOLUTE_LIMIT:
        return Found(record, user, EXPIRED)
    if moment - record.last_seen_at >= IDLE_LIMIT:
        return Found(record, user, IDLE)
    return Found(record, user, LIVE)


def touch(found: Found, now: datetime | None = None) -> None:
    """Note that a live session was used now (it stays live 15 more minutes); commits."""
    moment = now or utcnow()
    if found.live and moment - found.record.last_seen_at >= TOUCH_EVERY:
        db.session.execute(update(WebSession).where(WebSession.id == found.record.id)
                           .values(last_seen_at=moment).execution_options(synchronize_session=False))
        db.session.commit()


def end(secret: str | None, actor: Actor, now: datetime | None = None) -> None:
    """End the session ``secret`` names, for good (sign-out); audited. Nothing to end is no error."""
    if not secret:
        return
    ended = db.session.execute(update(WebSession)
                               .where(WebSession.id == _digest(secret), WebSession.ended_at.is_(None))
                               .values(ended_at=now or utcnow(), totp_pending=None)
                               .execution_options(synchronize_session=False))
    if ended.rowcount:  # type: ignore[attr-defined]
        audit.record(actor, AuditAction.AUTH_LOGOUT, "allowed", resource=actor.subject)
    db.session.commit()


def end_idle(found: Found, now: datetime | None = None) -> None:
    """End a session past its limits, so its cookie is worth nothing from now on; commits."""
    db.session.execute(update(WebSession).where(WebSession.id == found.record.id, WebSession.ended_at.is_(None))
                       .values(ended_at=now or utcnow(), totp_pending=None)
                       .execution_options(synchronize_session=False))
    db.session.commit()


def sessions_of(user: User) -> list[WebSession]:
    """The sessions of ``user`` that have not ended (newest first)."""
    return list(db.session.scalars(select(WebSession).where(WebSession.user_id == user.id,
                                                            WebSession.ended_at.is_(None))
                                   .order_by(WebSession.created_at.desc())))
