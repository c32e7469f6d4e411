"""``Idempotency-Key``: claim a key, do the work, store the first answer with the work, replay it."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..audit.actor import Actor
from ..database import utcnow
from ..errors import ConflictError, DomainError, InvalidError
from ..extensions import db
from .models import IdempotencyRecord

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,200}$")
KEEP = timedelta(hours=48)
#: A claim older than this whose work never committed may be taken over: the work rolled back.
ABANDONED = timedelta(minutes=5)


class MissingKey(DomainError):
    """The request needs an ``Idempotency-Key``."""

    status, slug, title = 400, "idempotency-key-required", "Idempotency-Key required"


@dataclass(frozen=True)
class Reply:
    """A response to send, and to send again on a retry."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str]


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What identifies a request: method, path and body."""
    return hashlib.sha256(f"{method} {path}\n".encode() + body).hexdigest()


def claim(actor: Actor, key: str | None, request_fingerprint: str) -> Reply | None:
    """Claim ``key`` for this request, committed at once; or return the first answer given for it."""
    if not key:
        raise MissingKey("send an Idempotency-Key header (e.g. a UUID) with this POST")
    if not KEY_PATTERN.match(key):
        raise InvalidError("an Idempotency-Key is 1-200 printable ASCII characters",
                           errors={"headers": {"Idempotency-Key": ["invalid"]}})
    session = db.session
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - KEEP))
    record = session.get(IdempotencyRecord, (actor.subject, key))
    if record is None:
        session.add(IdempotencyRecord(principal=actor.subject, key=key, fingerprint=request_fingerprint))
        try:
            session.commit()
            return None
        except IntegrityError:
            session.rollback()
            record = session.get(IdempotencyRecord, (actor.subject, key))
            if record is None:
                raise ConflictError("a request with this Idempotency-Key is still running") from None
    return _existing(record, request_fingerprint)


def _existing(record: IdempotencyRecord, request_fingerprint: str) -> Reply | None:
    if record.fingerprint != request_fingerprint:
        raise InvalidError("this Idempotency-Key was used with another request",
                           errors={"headers": {"Idempotency-Key": ["reused with another body"]}})
    if record.state == "done":
        return Reply(int(record.status_code or 200), dict(record.response or {}), dict(record.headers or {}))
    if utcnow() - record.created_at > ABANDONED:
        record.created_at = utcnow()
        db.session.commit()
        return None
    raise ConflictError("the first request with this Idempotency-Key is still running; retry shortly")


def complete(actor: Actor, key: str, reply: Reply) -> None:
    """Store the first answer, in the same transaction as the work it answers."""
    record = db.session.get(IdempotencyRecord, (actor.subject, key))
    if record is not None:
        record.state, record.status_code = "done", reply.status
        record.response, record.headers = reply.body, reply.headers


def release(actor: Actor, key: str | None) -> None:
    """Give the key up after a request that changed nothing, so a corrected retry may use it."""
    if not key:
        return
    session = db.session
    session.rollback()
    session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.principal == actor.subject,
                                                    IdempotencyRecord.key == key,
                                                    IdempotencyRecord.state == "running"))
    session.commit()
